"""Fork server that runs inside the sandbox (bubblewrap, or the weaker modes). Stdlib only.

The evaluator starts one of these per core (see ``pool.py``) and sends jobs as length-prefixed JSON frames. The
worker itself never runs untrusted code: for every program it forks a fresh child ("U") that enters its limits
(own process group, rlimits, no capabilities, scratch cwd) and only then compiles and runs the program. Results
leave U solely as plain data (``codec``) or as raw stdout bytes; every verdict is computed outside U:

* ``stdio``  - one U per test, stdin from the test, stdout returned to the evaluator, which compares it.
* ``call``   - one U serves calls; the worker sends each test's arguments and returns U's encoded results to the
               evaluator, which compares them.
* ``assert`` - U serves calls while a second fresh child ("C", the checker, no untrusted code ever loaded) runs the
               dataset's assert statements. Names the program defines are proxies in C: calling one sends plain
               arguments to U and gets plain data (or an opaque reference) back, so ``==``, ``bool``, ``isclose``...
               all run on builtin values inside C. C reports each assert's outcome to the worker on a pipe U never
               holds.

The worker is made non-dumpable (other processes of the same uid cannot ptrace it or read ``/proc/<pid>/fd``) and,
in the namespace modes, it is PID 1 of its own PID namespace, so U cannot signal it, and ``kill(-1, SIGKILL)``
wipes every leftover process of a job.
"""

import ast
import builtins
import ctypes
import importlib
import json
import os
import resource
import select
import signal
import socket
import struct
import sys
import tempfile
import time
import traceback

from lm_eval_tts.execution import codec

_HEADER = struct.Struct(">I")
_LIBC = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_NO_NEW_PRIVS = 38
_STDERR_TAIL = 2000
_PREIMPORT = (
    "array bisect collections copy datetime decimal fractions functools heapq itertools math operator random re "
    "statistics string typing cmath numbers textwrap unicodedata dataclasses enum queue"
).split()


# ---------------------------------------------------------------------------------------------- framing helpers
def write_frame(fd, obj):
    data = json.dumps(obj, separators=(",", ":")).encode()
    data = _HEADER.pack(len(data)) + data
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd):
    """Blocking read of one frame from a trusted peer (the evaluator); None on EOF."""
    head = _read_exact(fd, _HEADER.size)
    if head is None:
        return None
    body = _read_exact(fd, _HEADER.unpack(head)[0])
    return None if body is None else json.loads(body)


class FrameBuffer:
    """Incremental frame parser for an untrusted or slow peer read inside a select loop."""

    def __init__(self, max_bytes):
        self.buf = bytearray()
        self.max_bytes = max_bytes

    def feed(self, data):
        self.buf += data

    def pop(self):
        """Next complete frame's raw bytes, None if incomplete; raises OverflowError if a frame is too big."""
        if len(self.buf) < _HEADER.size:
            return None
        size = _HEADER.unpack_from(self.buf)[0]
        if size > self.max_bytes:
            raise OverflowError(size)
        if len(self.buf) < _HEADER.size + size:
            return None
        body = bytes(self.buf[_HEADER.size : _HEADER.size + size])
        del self.buf[: _HEADER.size + size]
        return body


def sock_send(sock, obj):
    data = json.dumps(obj, separators=(",", ":")).encode()
    sock.sendall(_HEADER.pack(len(data)) + data)


def sock_recv(sock, max_bytes):
    """One frame from a socket (honours the socket timeout); None on EOF; OverflowError if too big."""
    head = _sock_exact(sock, _HEADER.size)
    if head is None:
        return None
    size = _HEADER.unpack(head)[0]
    if size > max_bytes:
        raise OverflowError(size)
    return _sock_exact(sock, size)


def _sock_exact(sock, n):
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


# ------------------------------------------------------------------------------------------- entering limits
def _prctl(option, arg):
    _LIBC.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities():
    """Empty effective/permitted/inheritable sets (matters in `unshare -r` mode, where we are root of a userns)."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _LIBC.capset(ctypes.byref(header), data)


def enter_limits(cfg, cpu_seconds, keep_fds, stdin_fd, out_fd, err_fd=None):
    """In a freshly forked child: own process group, fds, rlimits, no privileges. Must not return on error."""
    os.setpgid(0, 0)
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    _prctl(_PR_SET_NO_NEW_PRIVS, 1)
    drop_capabilities()
    os.dup2(stdin_fd, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd if err_fd is None else err_fd, 2)
    keep = sorted({0, 1, 2, *keep_fds})
    start = 3
    for fd in keep + [1 << 20]:
        if fd >= start:
            os.closerange(start, min(fd, 65536))
            start = fd + 1
    lim = cfg["limits"]
    mem = lim["memory_mb"] * 1024 * 1024
    cpu = int(cpu_seconds) + 1
    for res, value in (
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_AS, (mem, mem)),
        (resource.RLIMIT_DATA, (mem, mem)),
        (resource.RLIMIT_FSIZE, (lim["file_size_mb"] * 1024 * 1024,) * 2),
        (resource.RLIMIT_NOFILE, (lim["open_files"],) * 2),
        (resource.RLIMIT_NPROC, (cfg["nproc_limit"],) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_MEMLOCK, (0, 0)),
    ):
        resource.setrlimit(res, value)
    os.chdir(cfg["job_dir"])
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# --------------------------------------------------------------------------------- untrusted side (child U)
def _error_kind(exc):
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, (SyntaxError, IndentationError)):
        return "syntax"
    return "runtime_error"


def _describe(exc):
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def run_script(program):
    """U for stdio tests: run the program as __main__ with stdin/stdout already redirected."""
    try:
        code = compile(program, "<program>", "exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as e:
        sys.stderr.write(f"SyntaxError: {e}\n")
        sys.stderr.flush()
        os._exit(3)
    sys.argv = ["program"]
    try:
        exec(code, {"__name__": "__main__", "__builtins__": __builtins__})
    except SystemExit as e:
        code_ = e.code
        sys.stdout.flush()
        os._exit(code_ if isinstance(code_, int) and 0 <= code_ < 256 else (0 if code_ is None else 1))
    except BaseException as e:  # noqa: BLE001 - report any failure of untrusted code as a runtime error
        sys.stdout.flush()
        traceback.print_exc()
        sys.stderr.flush()
        os._exit(4 if isinstance(e, MemoryError) else 1)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _tail(path):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - _STDERR_TAIL))
            return f.read().decode("utf-8", errors="replace")
    except OSError:
        return ""


# Operations on an object the checker may ask U for: they take no operand from the tests, so the program learns
# nothing about the expected answer and could as well have returned the (plain) result directly.
_UNARY = {"bool": bool, "len": len, "str": str, "repr": repr}


class _Refs:
    """Objects U keeps for the checker, addressed by small integers."""

    def __init__(self):
        self.objects = []

    def tree(self, value):
        try:
            return codec.to_tree(value)
        except (codec.NotPlainData, RecursionError):
            self.objects.append(value)
            return ["r", len(self.objects) - 1]

    def get(self, ref_id):
        if not isinstance(ref_id, int) or not 0 <= ref_id < len(self.objects):
            raise LookupError("bad reference")
        return self.objects[ref_id]


def serve_calls(program, prelude, sock, max_bytes):
    """U for call/assert tests: exec prelude + program, announce the defined names, then answer requests."""
    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    try:
        exec(compile(prelude + "\n" + program, "<program>", "exec"), namespace)
    except BaseException as e:  # noqa: BLE001
        sock_send(sock, {"error": _error_kind(e), "detail": _describe(e)})
        os._exit(0)
    names = [n for n in list(namespace) if isinstance(n, str) and not n.startswith("__")]
    sock_send(sock, {"ready": names})
    refs = _Refs()
    while True:
        raw = sock_recv(sock, max_bytes)
        if raw is None:
            os._exit(0)
        try:
            reply = {"v": _answer(json.loads(raw), namespace, refs)}
        except BaseException as e:  # noqa: BLE001 - the program's exception, reported as plain text
            reply = {"error": _error_kind(e), "detail": _describe(e)}
        try:
            sock_send(sock, reply)
        except (TypeError, ValueError, RecursionError) as e:  # e.g. a too-large int for JSON
            sock_send(sock, {"error": "runtime_error", "detail": _describe(e)})


def _answer(req, namespace, refs):
    """One request from the checker/worker -> the encoded result tree."""
    op = req["op"]
    if op == "global":
        return refs.tree(namespace[req["name"]])
    target = refs.get(req["ref"])
    if op == "getattr":
        return refs.tree(getattr(target, req["name"]))
    if op == "setattr":
        setattr(target, req["name"], codec.from_tree(req["value"], make_ref=refs.get))
        return None
    if op == "call":
        args = codec.from_tree(req["args"], make_ref=refs.get)
        kwargs = codec.from_tree(req["kwargs"], make_ref=refs.get)
        return refs.tree(target(*args, **kwargs))
    if op == "iter":  # elementwise, so plain items stay plain
        return ["l"] + [refs.tree(item) for item in target]
    if op in _UNARY:
        return refs.tree(_UNARY[op](target))
    raise ValueError(f"unknown op {op!r}")


# ------------------------------------------------------------------------------------- trusted side (child C)
class RemoteError(Exception):
    """An exception raised by the program inside U (kind: runtime_error / memory / ...)."""

    def __init__(self, kind, detail):
        super().__init__(detail)
        self.kind = kind


class RemoteTimeout(Exception):
    pass


class NotComparable(TypeError):
    pass


class Channel:
    """The checker's end of the socket to U, with the current test's deadline."""

    def __init__(self, sock, max_bytes):
        self.sock = sock
        self.max_bytes = max_bytes
        self.deadline = None

    def request(self, obj):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise RemoteTimeout()
        self.sock.settimeout(remaining)
        try:
            sock_send(self.sock, obj)
            raw = sock_recv(self.sock, self.max_bytes)
        except socket.timeout:
            raise RemoteTimeout() from None
        except OverflowError:
            raise RemoteError("output_limit", "result too large") from None
        except OSError as e:
            raise RemoteError("runtime_error", f"program process died ({e})") from None
        if raw is None:
            raise RemoteError("runtime_error", "program process died")
        return json.loads(raw)

    def value(self, reply):
        if "error" in reply:
            raise RemoteError(reply["error"], reply.get("detail", ""))
        try:
            return codec.from_tree(reply["v"], make_ref=lambda i: Remote(self, i))
        except codec.NotPlainData as e:
            raise RemoteError("wrong_answer", f"program returned malformed data: {e}") from None


class Remote:
    """Proxy for an object living in U. Calls, attribute reads and operand-free operations (bool, len, str, repr,
    iteration) are forwarded and their results come back as plain data. Comparisons refuse: an object asked
    "are you equal to X?" would see the expected answer X (``in`` falls back to iteration, compared here)."""

    __slots__ = ("_channel", "_ref")

    def __init__(self, channel, ref):
        object.__setattr__(self, "_channel", channel)
        object.__setattr__(self, "_ref", ref)

    def __call__(self, *args, **kwargs):
        try:
            a, k = codec.to_tree(list(args), 0), codec.to_tree(dict(kwargs), 0)
        except codec.NotPlainData:
            a, k = _tree_with_refs(list(args)), _tree_with_refs(dict(kwargs))
        ch = self._channel
        return ch.value(ch.request({"op": "call", "ref": self._ref, "args": a, "kwargs": k}))

    def __getattr__(self, name):
        ch = self._channel
        return ch.value(ch.request({"op": "getattr", "ref": self._ref, "name": name}))

    def __setattr__(self, name, value):  # e.g. MBPP setup code building a tree: root.left = Node(2)
        ch = self._channel
        ch.value(ch.request({"op": "setattr", "ref": self._ref, "name": name, "value": _tree_with_refs(value)}))

    def _refuse(self, *_):
        raise NotComparable("the program returned an object that is not plain data")

    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __hash__ = None

    def _unary(self, op):
        ch = object.__getattribute__(self, "_channel")
        return ch.value(ch.request({"op": op, "ref": object.__getattribute__(self, "_ref")}))

    def __bool__(self):
        value = self._unary("bool")
        if type(value) is not bool:
            raise NotComparable("truth value is not a bool")
        return value

    def __len__(self):
        value = self._unary("len")
        if type(value) is not int or value < 0:
            raise NotComparable("length is not an int")
        return value

    def __str__(self):
        return _require_str(self._unary("str"))

    def __repr__(self):
        return _require_str(self._unary("repr"))

    def __iter__(self):
        return iter(self._unary("iter"))


def _require_str(value):
    if type(value) is not str:
        raise NotComparable("str()/repr() did not return a str")
    return value


def _tree_with_refs(value, depth=0):
    """Arguments may mix plain data with proxies of objects already living in U (e.g. a program's class)."""
    if isinstance(value, Remote):
        return ["r", object.__getattribute__(value, "_ref")]
    if isinstance(value, (list, tuple)) and depth < codec.MAX_DEPTH:
        return ["l" if isinstance(value, list) else "t"] + [_tree_with_refs(v, depth + 1) for v in value]
    if isinstance(value, dict) and depth < codec.MAX_DEPTH:
        return ["d"] + [[codec.to_tree(k), _tree_with_refs(v, depth + 1)] for k, v in value.items()]
    return codec.to_tree(value)


def run_checker(job, sock, report_fd, max_bytes):
    """C: run the setup code and then each test statement with the program's names as proxies.

    Stdlib modules the tests name (``math.isclose``...) are the checker's own imports, never the program's (which
    could be a fake module); builtins and setup names cannot be redefined by the program either, except a
    builtin-named function under test (see ``_only_called_under_test``)."""
    channel = Channel(sock, max_bytes)
    channel.deadline = time.monotonic() + job["per_test"]
    namespace = {"__name__": "checker", "__builtins__": __builtins__}
    try:  # U speaks first: its list of defined names, or why loading the program failed
        sock.settimeout(max(0.001, channel.deadline - time.monotonic()))
        raw = sock_recv(sock, max_bytes)
        hello = json.loads(raw) if raw is not None else {"error": "runtime_error", "detail": "program died"}
    except socket.timeout:
        hello = {"error": "timeout", "detail": "program did not finish loading"}
    except (OverflowError, OSError, ValueError) as e:
        hello = {"error": "runtime_error", "detail": str(e)}
    if "ready" not in hello:
        write_frame(report_fd, {"fatal": hello.get("error", "runtime_error"), "detail": hello.get("detail", "")})
        return
    program_names = [n for n in hello["ready"] if isinstance(n, str) and n.isidentifier()]
    for name in program_names:
        if name in sys.stdlib_module_names:
            try:
                namespace[name] = importlib.import_module(name)
            except ImportError:
                pass
    try:
        setup_names = _assigned_names(job["setup"])
        trusted = set(namespace) | set(dir(builtins)) | setup_names
        for name in program_names:
            if name not in trusted:
                namespace[name] = _GlobalRef(channel, name)
        _resolve_globals(namespace)
        exec(compile(job["setup"], "<setup>", "exec"), namespace)
    except RemoteTimeout:
        write_frame(report_fd, {"fatal": "timeout", "detail": "test setup timed out"})
        return
    except BaseException as e:  # noqa: BLE001 - setup needs something the program does not provide
        kind = e.kind if isinstance(e, RemoteError) else "runtime_error"
        write_frame(report_fd, {"fatal": kind, "detail": f"test setup failed: {_describe(e)}"})
        return
    shadowing = [n for n in program_names if n in trusted]
    for i, test in enumerate(job["tests"]):
        channel.deadline = time.monotonic() + job["per_test"]
        outcome = {"i": i, "ok": False}
        try:
            tree = ast.parse(test, f"<test {i}>")
            code = compile(tree, f"<test {i}>", "exec")
            scope = namespace
            allowed = [n for n in shadowing if _only_called_under_test(tree, n)]
            if allowed:
                scope = dict(namespace)
                for name in allowed:
                    scope[name] = _GlobalRef(channel, name)
            _resolve_globals(scope)
            exec(code, scope)
            outcome["ok"] = True
        except AssertionError:
            outcome.update(kind="wrong_answer", detail=f"assertion failed: {test[:200]}")
        except RemoteTimeout:
            outcome.update(kind="timeout", detail=f"test {i} exceeded {job['per_test']} s")
        except RemoteError as e:
            outcome.update(kind=e.kind, detail=str(e)[:300])
        except NotComparable as e:
            outcome.update(kind="wrong_answer", detail=str(e))
        except BaseException as e:  # noqa: BLE001 - a failure while evaluating the test expression
            outcome.update(kind="runtime_error", detail=_describe(e))
        write_frame(report_fd, outcome)
        if outcome.get("kind") in ("timeout", "output_limit") or (
            outcome.get("kind") == "runtime_error" and "program process died" in outcome.get("detail", "")
        ):
            write_frame(report_fd, {"fatal": outcome["kind"], "detail": outcome["detail"]})
            return
    write_frame(report_fd, {"done": True})


def _assigned_names(source):
    """Names the (trusted) setup code binds, by static inspection."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _only_called_under_test(tree, name):
    """True if every use of `name` in the test is the called function on the left of an assert's comparison,
    e.g. ``assert sum(10, 15) == 6``. Only then may a program-defined name shadow a builtin/setup name: anywhere
    else (``assert sorted(f(x)) == sorted(y)``) a redefinition could make both sides agree."""
    under_test = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and isinstance(node.test, ast.Compare):
            left = node.test.left
            if isinstance(left, ast.Call) and isinstance(left.func, ast.Name) and left.func.id == name:
                under_test.add(id(left.func))
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == name]
    return bool(uses) and all(id(n) in under_test for n in uses)


class _GlobalRef:
    """Placeholder for a program-defined global; resolved lazily (a value or a Remote) on first use."""

    def __init__(self, channel, name):
        self.channel, self.name = channel, name


def _resolve_globals(namespace):
    for name, value in list(namespace.items()):
        if isinstance(value, _GlobalRef):
            ch = value.channel
            namespace[name] = ch.value(ch.request({"op": "global", "name": name}))


# --------------------------------------------------------------------------------------- the worker process
class Worker:
    def __init__(self, cfg, rfd, wfd):
        self.cfg = cfg
        self.rfd, self.wfd = rfd, wfd
        self.max_bytes = cfg["limits"]["output_bytes"]
        self.is_init = os.getpid() == 1

    # -- process management
    def _fork(self, child_main):
        pid = os.fork()
        if pid == 0:
            try:
                child_main()
            except BaseException:  # noqa: BLE001 - a child must never return into the worker loop
                try:
                    traceback.print_exc()
                finally:
                    os._exit(70)
            os._exit(0)
        try:
            os.setpgid(pid, pid)
        except OSError:
            pass
        return pid

    def _cleanup(self, pids):
        """Kill every process this job left behind (also double-forked daemons) and reap them all."""
        for pid in pids:
            for kill in (os.killpg, os.kill):
                try:
                    kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        for _ in range(1000):
            if self.is_init:
                try:
                    os.kill(-1, signal.SIGKILL)  # everyone in our PID namespace except us
                except OSError:
                    pass
            else:
                for pid in self._children():
                    for kill in (os.killpg, os.kill):
                        try:
                            kill(pid, signal.SIGKILL)
                        except OSError:
                            pass
            if not self._reap():
                return
            time.sleep(0.001)

    def _reap(self):
        """Reap exited children; True while children remain."""
        while True:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True

    def _children(self):
        me = str(os.getpid())
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat", "rb") as f:
                        stat = f.read().decode(errors="replace")
                except OSError:
                    continue
                if stat[stat.rfind(")") + 2 :].split()[1] == me:
                    out.append(int(entry))
        return out

    def _wait_status(self, pid, deadline):
        """Exit status of pid, polling until deadline; None if still running."""
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return status
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.0005)

    def _new_job_dir(self):
        path = tempfile.mkdtemp(prefix="job-", dir=self.cfg["scratch_root"])
        os.chmod(path, 0o700)
        self.cfg["job_dir"] = path
        return path

    def _remove_job_dir(self, path):
        _rmtree(path)

    def _wipe_private_dirs(self):
        """Empty the sandbox's private writable dirs (bwrap's /tmp and /dev/shm) so nothing one program writes
        outside its job dir survives into the next program (or fills the tmpfs for it)."""
        keep = os.path.realpath(self.cfg["scratch_root"])
        for top in self.cfg.get("wipe_dirs", []):
            try:
                entries = os.listdir(top)
            except OSError:
                continue
            for name in entries:
                full = os.path.join(top, name)
                if os.path.realpath(full) != keep:
                    _rmtree(full)

    # -- pumping output of U while waiting for something
    def _pump(self, out_fd, out, until_fd, frames, deadline, stop_when):
        """Drain U's output into `out` (bytearray, capped) and frames from until_fd into `frames` (FrameBuffer)
        until stop_when() or deadline. Returns "ok", "timeout", "output_limit", "eof" or "frame_limit"."""
        fds = [fd for fd in (out_fd, until_fd) if fd is not None]
        while True:
            if stop_when():
                return "ok"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return "timeout"
            if not fds:
                return "eof"
            ready, _, _ = select.select(fds, [], [], remaining)
            for fd in ready:
                try:
                    data = os.read(fd, 1 << 16)
                except OSError:
                    data = b""
                if not data:
                    fds.remove(fd)
                    if fd == until_fd:
                        return "eof"
                    continue
                if fd == out_fd:
                    out += data
                    if len(out) > self.max_bytes:
                        return "output_limit"
                else:
                    frames.feed(data)
                    try:
                        frames.pop_all()
                    except OverflowError:
                        return "frame_limit"

    # -- job kinds
    def run_stdio(self, job):
        runs = []
        start = time.monotonic()
        for stdin_text in job["inputs"]:
            budget = min(job["per_test"], job["total"] - (time.monotonic() - start))
            if budget <= 0:
                break
            runs.append(self._run_script_once(job["program"], stdin_text, budget))
            if runs[-1]["status"] == "syntax":
                break
        return {"runs": runs}

    def _run_script_once(self, program, stdin_text, budget):
        job_dir = self._new_job_dir()
        with tempfile.TemporaryFile(dir=self.cfg["scratch_root"]) as f:
            f.write(stdin_text.encode())
            f.flush()
            f.seek(0)
            r, w = os.pipe()
            stdin_fd = f.fileno()
            err_path = os.path.join(job_dir, ".stderr")
            err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

            def child():
                os.close(r)
                enter_limits(self.cfg, budget, (), stdin_fd, w, err_fd)
                run_script(program)

            t0 = time.monotonic()
            pid = self._fork(child)
        os.close(w)
        os.close(err_fd)
        out = bytearray()
        # "eof" once U closed its output (normally: it exited)
        state = self._pump(r, out, None, None, t0 + budget, lambda: False)
        status = self._wait_status(pid, t0 + budget + 0.05) if state == "eof" else None
        seconds = time.monotonic() - t0
        os.close(r)
        self._cleanup([pid])
        err = _tail(err_path)
        self._remove_job_dir(job_dir)
        text = out[: self.max_bytes].decode("utf-8", errors="replace")
        result = {"stdout": text, "seconds": round(seconds, 4)}
        if state == "output_limit":
            result["status"] = "output_limit"
        elif status is None:
            result["status"] = "timeout"
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            result["status"] = "timeout" if sig == signal.SIGXCPU else "signal"
            result["signal"] = sig
        else:
            code = os.WEXITSTATUS(status)
            result["status"] = "syntax" if code == 3 and err.startswith("SyntaxError") else "exit"
            result["code"] = code
        result["stderr_tail"] = err
        if result["status"] != "exit" or result.get("code"):
            result["stdout"] = ""
        return result

    def _start_server(self, job, total):
        """Fork U serving calls; returns (pid, worker-side socket, output pipe read end)."""
        parent_sock, child_sock = socket.socketpair()
        r, w = os.pipe()
        devnull = os.open(os.devnull, os.O_RDONLY)

        def child():
            parent_sock.close()
            os.close(r)
            enter_limits(self.cfg, total, (child_sock.fileno(),), devnull, w)
            serve_calls(job["program"], job.get("prelude", ""), child_sock, self.max_bytes)

        pid = self._fork(child)
        child_sock.close()
        os.close(w)
        os.close(devnull)
        return pid, parent_sock, r

    def run_call(self, job):
        """Functional tests: the worker itself drives U, forwarding encoded results to the evaluator."""
        job_dir = self._new_job_dir()
        t0 = time.monotonic()
        deadline_total = t0 + job["total"]
        pid, sock, out_r = self._start_server(job, job["total"])
        out = bytearray()
        frames = _SockFrames(self.max_bytes)
        results, fatal = [], None

        def exchange(request, timeout):
            if request is not None:
                try:
                    sock_send(sock, request)
                except OSError:
                    return {"error": "runtime_error", "detail": "program process died"}
            deadline = min(time.monotonic() + timeout, deadline_total)
            state = self._pump(out_r, out, sock.fileno(), frames, deadline, lambda: bool(frames.ready))
            if state == "ok":
                return json.loads(frames.ready.pop(0))
            kinds = {"timeout": "timeout", "output_limit": "output_limit", "frame_limit": "output_limit"}
            return {"error": kinds.get(state, "runtime_error"), "detail": f"program process: {state}"}

        hello = exchange(None, job["per_test"])
        if "ready" not in hello:
            fatal = {"kind": hello.get("error", "runtime_error"), "detail": hello.get("detail", "")}
        else:
            for args in job["args"]:
                t_start = time.monotonic()
                reply = self._resolve_target(exchange, job, t_start)
                if "v" in reply:
                    remaining = job["per_test"] - (time.monotonic() - t_start)
                    reply = exchange({"op": "call", "ref": reply["v"][1], "args": args, "kwargs": ["d"]}, remaining)
                results.append(reply)
                if reply.get("error") in ("timeout", "output_limit") or "process" in reply.get("detail", ""):
                    fatal = {"kind": reply["error"], "detail": reply.get("detail", "")}
                    break
        sock.close()
        os.close(out_r)
        self._cleanup([pid])
        self._remove_job_dir(job_dir)
        return {"results": results, "fatal": fatal, "output": out[-_STDERR_TAIL:].decode(errors="replace")}

    @staticmethod
    def _resolve_target(exchange, job, t_start):
        """Fetch the callable named by job["target"]: [func] or [class, method] (a fresh instance per test)."""
        per_test = job["per_test"]

        def left():
            return per_test - (time.monotonic() - t_start)

        target = job["target"]
        reply = exchange({"op": "global", "name": target[0]}, left())
        if len(target) == 2 and "v" in reply:
            if reply["v"][:1] != ["r"]:
                return {"error": "runtime_error", "detail": f"{target[0]} is not a class"}
            reply = exchange({"op": "call", "ref": reply["v"][1], "args": ["l"], "kwargs": ["d"]}, left())
            if "v" in reply and reply["v"][:1] == ["r"]:
                reply = exchange({"op": "getattr", "ref": reply["v"][1], "name": target[1]}, left())
        if "v" in reply and reply["v"][:1] != ["r"]:
            return {"error": "runtime_error", "detail": f"{'.'.join(target)} is not callable"}
        return reply

    def run_assert(self, job):
        job_dir = self._new_job_dir()
        t0 = time.monotonic()
        u_pid, u_sock, out_r = self._start_server(job, job["total"])
        rep_r, rep_w = os.pipe()
        c_sock = u_sock

        def checker():
            os.close(rep_r)
            os.close(out_r)
            devnull = os.open(os.devnull, os.O_RDWR)
            enter_limits(self.cfg, job["total"], (c_sock.fileno(), rep_w), devnull, devnull)
            run_checker(job, c_sock, rep_w, self.max_bytes)

        c_pid = self._fork(checker)
        os.close(rep_w)
        u_sock.close()
        out = bytearray()
        frames = _PipeFrames(self.max_bytes)
        state = self._pump(out_r, out, rep_r, frames, t0 + job["total"], lambda: frames.finished)
        os.close(rep_r)
        os.close(out_r)
        self._cleanup([u_pid, c_pid])
        self._remove_job_dir(job_dir)
        fatal = frames.fatal
        if fatal is None and not frames.finished:
            kinds = {"timeout": "timeout", "output_limit": "output_limit"}
            fatal = {"kind": kinds.get(state, "sandbox_error"), "detail": f"checker: {state}"}
        return {"results": frames.results, "fatal": fatal, "output": out[-_STDERR_TAIL:].decode(errors="replace")}

    def serve(self):
        while True:
            job = read_frame(self.rfd)
            if job is None:
                return
            handler = {"stdio": self.run_stdio, "call": self.run_call, "assert": self.run_assert}[job["kind"]]
            try:
                result = handler(job)
            except Exception as e:  # noqa: BLE001 - report, never die on one job
                self._cleanup([])
                result = {"worker_error": _describe(e) + "\n" + traceback.format_exc()[-1500:]}
            self._wipe_private_dirs()
            result["id"] = job["id"]
            write_frame(self.wfd, result)


def _rmtree(path):
    """Remove a tree whatever modes the program left on it (same uid, so chmod is allowed)."""
    try:
        if os.path.islink(path) or not os.path.isdir(path):
            os.unlink(path)
            return
        os.chmod(path, 0o700)
        for name in os.listdir(path):
            _rmtree(os.path.join(path, name))
        os.rmdir(path)
    except (OSError, RecursionError):
        pass


class _SockFrames(FrameBuffer):
    def __init__(self, max_bytes):
        super().__init__(max_bytes)
        self.ready = []

    def pop_all(self):
        while True:
            body = self.pop()
            if body is None:
                return bool(self.ready)
            self.ready.append(body)


class _PipeFrames(_SockFrames):
    """Frames from the checker: per-test outcomes, then "done" or "fatal"."""

    def __init__(self, max_bytes):
        super().__init__(max_bytes)
        self.results, self.fatal, self.finished = [], None, False

    def pop_all(self):
        super().pop_all()
        for body in self.ready:
            msg = json.loads(body)
            if "fatal" in msg:
                self.fatal, self.finished = {"kind": msg["fatal"], "detail": msg.get("detail", "")}, True
            elif "done" in msg:
                self.finished = True
            else:
                self.results.append(msg)
        self.ready.clear()
        return self.finished


def main(cfg):
    rfd, wfd = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    for name in _PREIMPORT:
        try:
            __import__(name)
        except ImportError:
            pass
    sys.path.extend(cfg.get("extra_sys_path", []))
    if cfg.get("drop_to_uid") is not None:
        os.setgroups([])
        os.setgid(cfg["drop_to_uid"])
        os.setuid(cfg["drop_to_uid"])
    _prctl(_PR_SET_DUMPABLE, 0)
    if os.getpid() != 1:
        _prctl(_PR_SET_CHILD_SUBREAPER, 1)
    os.makedirs(cfg["scratch_root"], exist_ok=True)
    os.chmod(cfg["scratch_root"], 0o700)
    os.chdir(cfg["scratch_root"])
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    write_frame(wfd, {"hello": os.getpid(), "uid": os.getuid()})
    Worker(cfg, rfd, wfd).serve()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
