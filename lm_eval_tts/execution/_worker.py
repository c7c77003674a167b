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
import gc
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
    write_frames(fd, [obj])


def write_frames(fd, objs):
    """Several frames in one write (one wake-up for the reader)."""
    data = b""
    for obj in objs:
        body = json.dumps(obj, separators=(",", ":")).encode()
        data += _HEADER.pack(len(body)) + body
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
    refs = _Refs()
    names = [n for n in list(namespace) if isinstance(n, str) and not n.startswith("__")]
    sock_send(sock, {"ready": {n: refs.tree(namespace[n]) for n in names}})
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
    if op == "invoke":  # functional tests: [function] or [class, method] on a fresh instance
        name, *method = req["target"]
        target = namespace[name]
        if method:
            target = getattr(target(), method[0])
        return refs.tree(target(*codec.from_tree(req["args"])))
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
    """A failure inside U (kind: runtime_error / memory / ...); fatal when U is gone or unusable."""

    def __init__(self, kind, detail, fatal=False):
        super().__init__(detail)
        self.kind, self.fatal = kind, fatal


class RemoteTimeout(Exception):
    pass


class NotComparable(TypeError):
    pass


class Channel:
    """The worker's end of the socket to U, with the current test's deadline (capped by the job's)."""

    def __init__(self, sock, max_bytes, total_deadline):
        self.sock = sock
        self.max_bytes = max_bytes
        self.total_deadline = total_deadline
        self.deadline = total_deadline

    def start_test(self, seconds):
        self.deadline = min(time.monotonic() + seconds, self.total_deadline)

    def request(self, obj):
        try:
            sock_send(self.sock, obj)
        except OSError as e:
            raise RemoteError("runtime_error", f"program process died ({e})", fatal=True) from None
        return self.receive()

    def receive(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise RemoteTimeout()
        self.sock.settimeout(remaining)
        try:
            raw = sock_recv(self.sock, self.max_bytes)
        except socket.timeout:
            raise RemoteTimeout() from None
        except OverflowError:
            raise RemoteError("output_limit", "result too large", fatal=True) from None
        except OSError as e:
            raise RemoteError("runtime_error", f"program process died ({e})", fatal=True) from None
        if raw is None:
            raise RemoteError("runtime_error", "program process died", fatal=True)
        try:
            reply = json.loads(raw)
        except (ValueError, RecursionError):
            raise RemoteError("runtime_error", "malformed reply", fatal=True) from None
        if not isinstance(reply, dict):
            raise RemoteError("runtime_error", "malformed reply", fatal=True)
        return reply

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


def check_asserts(job, channel):
    """Run the setup code and then each test statement with the program's names as proxies; returns
    (per-test outcomes, fatal or None). Runs in the worker: only dataset code executes here, and every value from
    the program arrives as plain data.

    Stdlib modules the tests name (``math.isclose``...) are the worker's own imports, never the program's (which
    could be a fake module); builtins and setup names cannot be redefined by the program either, except a
    builtin-named function under test (see ``_only_called_under_test``)."""
    results = []
    channel.start_test(job["per_test"])
    try:  # U speaks first: its globals (plain values or references), or why loading the program failed
        hello = channel.receive()
        if "ready" not in hello:
            raise RemoteError(hello.get("error", "runtime_error"), hello.get("detail", ""), fatal=True)
        program = {n: channel.value({"v": v}) for n, v in hello["ready"].items() if n.isidentifier()}
    except RemoteTimeout:
        return results, {"kind": "timeout", "detail": "program did not finish loading"}
    except RemoteError as e:
        return results, {"kind": e.kind, "detail": str(e)}
    except (AttributeError, TypeError) as e:
        return results, {"kind": "runtime_error", "detail": f"malformed hello: {e}"}
    namespace = {"__name__": "checker", "__builtins__": builtins}
    for name in program:
        if name in sys.stdlib_module_names:
            try:
                namespace[name] = importlib.import_module(name)
            except ImportError:
                pass
    try:
        trusted = set(namespace) | set(dir(builtins)) | _assigned_names(job["setup"])
        namespace.update((n, v) for n, v in program.items() if n not in trusted)
        exec(compile(job["setup"], "<setup>", "exec"), namespace)
    except RemoteTimeout:
        return results, {"kind": "timeout", "detail": "test setup timed out"}
    except BaseException as e:  # noqa: BLE001 - setup needs something the program does not provide
        return results, {"kind": getattr(e, "kind", "runtime_error"), "detail": f"test setup failed: {_describe(e)}"}
    shadowing = [n for n in program if n in trusted]
    for i, test in enumerate(job["tests"]):
        channel.start_test(job["per_test"])
        outcome = {"i": i, "ok": False}
        fatal = False
        try:
            tree = ast.parse(test, f"<test {i}>")
            code = compile(tree, f"<test {i}>", "exec")
            allowed = {n: program[n] for n in shadowing if _only_called_under_test(tree, n)}
            exec(code, {**namespace, **allowed} if allowed else namespace)
            outcome["ok"] = True
        except AssertionError:
            outcome.update(kind="wrong_answer", detail=f"assertion failed: {test[:200]}")
        except RemoteTimeout:
            outcome.update(kind="timeout", detail=f"test {i} exceeded {job['per_test']} s")
            fatal = True
        except RemoteError as e:
            outcome.update(kind=e.kind, detail=str(e)[:300])
            fatal = e.fatal
        except NotComparable as e:
            outcome.update(kind="wrong_answer", detail=str(e))
        except Exception as e:  # noqa: BLE001 - a failure while evaluating the test expression
            outcome.update(kind="runtime_error", detail=_describe(e))
        results.append(outcome)
        if fatal:  # the program process is stuck or gone: the remaining tests cannot run
            return results, {"kind": outcome["kind"], "detail": outcome["detail"]}
    return results, None


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


# --------------------------------------------------------------------------------------- the worker process
class Worker:
    def __init__(self, cfg, rfd, wfd):
        self.cfg = cfg
        self.rfd, self.wfd = rfd, wfd
        self.max_bytes = cfg["limits"]["output_bytes"]
        self.file_limit = cfg["limits"]["file_size_mb"] * 1024 * 1024
        self.is_init = os.getpid() == 1
        self.job_dir = os.path.join(cfg["scratch_root"], "job")
        os.makedirs(self.job_dir, mode=0o700, exist_ok=True)
        cfg["job_dir"] = self.job_dir

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
            _kill_group_and_process(pid)
        for pid in pids:
            try:
                os.waitpid(pid, 0)  # SIGKILLed above: returns promptly
            except ChildProcessError:
                pass
        # Survivors were orphaned to us (PID 1 of the namespace, or a subreaper): kill until none is left.
        while self._reap():
            if self.is_init:
                try:
                    os.kill(-1, signal.SIGKILL)  # everyone in our PID namespace except us
                except OSError:
                    pass
            else:
                for pid in self._children():
                    _kill_group_and_process(pid)
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
            time.sleep(0.0002)

    # -- the filesystem programs may write
    def _clear_job_dir(self):
        """Empty the job dir (programs run with it as cwd) whatever the last program left in it."""
        os.chmod(self.job_dir, 0o700)
        for name in os.listdir(self.job_dir):
            _rmtree(os.path.join(self.job_dir, name))

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

    def _output_file(self):
        """An unlinked file for a program's stderr/diagnostic output (the program cannot swap it for a FIFO)."""
        return tempfile.TemporaryFile(dir=self.cfg["scratch_root"])

    def _output_tail(self, f):
        """(last bytes of a program's output file, whether it hit the file-size limit)."""
        size = os.fstat(f.fileno()).st_size
        tail = os.pread(f.fileno(), _STDERR_TAIL, max(0, size - _STDERR_TAIL))
        f.close()
        return tail.decode("utf-8", errors="replace"), size >= self.file_limit

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
        self._clear_job_dir()
        with tempfile.TemporaryFile(dir=self.cfg["scratch_root"]) as f:
            f.write(stdin_text.encode())
            f.flush()
            f.seek(0)
            r, w = os.pipe()
            stdin_fd = f.fileno()
            err_file = self._output_file()
            err_fd = err_file.fileno()

            def child():
                os.close(r)
                enter_limits(self.cfg, budget, (), stdin_fd, w, err_fd)
                run_script(program)

            t0 = time.monotonic()
            pid = self._fork(child)
        os.close(w)
        out, state = self._read_capped(r, t0 + budget)
        # "eof" once U closed its stdout (normally: it exited)
        status = self._wait_status(pid, t0 + budget + 0.05) if state == "eof" else None
        seconds = time.monotonic() - t0
        os.close(r)
        self._cleanup([pid])
        err, _ = self._output_tail(err_file)
        result = {"stdout": out.decode("utf-8", errors="replace"), "seconds": round(seconds, 4), "stderr_tail": err}
        if state == "output_limit":
            result["status"] = "output_limit"
        elif status is None:
            result["status"] = "timeout"
        elif os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            result["status"] = {signal.SIGXCPU: "timeout", signal.SIGXFSZ: "output_limit"}.get(sig, "signal")
            result["signal"] = sig
        else:
            code = os.WEXITSTATUS(status)
            result["status"] = "syntax" if code == 3 and err.startswith("SyntaxError") else "exit"
            result["code"] = code
        if result["status"] != "exit" or result.get("code"):
            result["stdout"] = ""
        return result

    def _read_capped(self, fd, deadline):
        """Read a program's stdout until EOF, the deadline or the output cap: (bytes, "eof"|"timeout"|...)."""
        out = bytearray()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return bytes(out), "timeout"
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                data = os.read(fd, 1 << 16)
                if not data:
                    return bytes(out), "eof"
                out += data
                if len(out) > self.max_bytes:
                    return bytes(out[: self.max_bytes]), "output_limit"

    def _start_server(self, job, total):
        """Fork U serving calls, its output going to a size-capped file; returns (pid, Channel, output file)."""
        self._clear_job_dir()
        parent_sock, child_sock = socket.socketpair()
        out_file = self._output_file()
        devnull = os.open(os.devnull, os.O_RDONLY)

        def child():
            parent_sock.close()
            enter_limits(self.cfg, total, (child_sock.fileno(),), devnull, out_file.fileno())
            serve_calls(job["program"], job.get("prelude", ""), child_sock, self.max_bytes)

        pid = self._fork(child)
        child_sock.close()
        os.close(devnull)
        return pid, Channel(parent_sock, self.max_bytes, time.monotonic() + total), out_file

    def _finish_server(self, pid, channel, out_file, results, fatal):
        channel.sock.close()
        self._cleanup([pid])
        tail, over = self._output_tail(out_file)
        if over:  # U was killed by SIGXFSZ: that's why it "died"
            fatal = {"kind": "output_limit", "detail": "program output exceeded the file-size limit"}
            for r in results:
                if r.get("error") == "runtime_error" or r.get("kind") == "runtime_error":
                    r.update(error="output_limit", kind="output_limit")
        return {"results": results, "fatal": fatal, "output": tail}

    def run_call(self, job):
        """Functional tests: send each test's arguments, return U's encoded results for the evaluator to compare."""
        pid, channel, out_file = self._start_server(job, job["total"])
        results, fatal = [], None
        channel.start_test(job["per_test"])
        try:
            hello = channel.receive()
            if "ready" not in hello:
                fatal = {"kind": hello.get("error", "runtime_error"), "detail": hello.get("detail", "")}
        except RemoteTimeout:
            fatal = {"kind": "timeout", "detail": "program did not finish loading"}
        except RemoteError as e:
            fatal = {"kind": e.kind, "detail": str(e)}
        for args in job["args"] if fatal is None else ():
            channel.start_test(job["per_test"])
            try:
                reply = channel.request({"op": "invoke", "target": job["target"], "args": args})
                results.append({k: reply[k] for k in ("v", "error", "detail") if k in reply})
            except RemoteTimeout:
                fatal = {"kind": "timeout", "detail": f"test {len(results)} exceeded {job['per_test']} s"}
            except RemoteError as e:
                results.append({"error": e.kind, "detail": str(e)})
                if e.fatal:
                    fatal = {"kind": e.kind, "detail": str(e)}
            if fatal:  # U is stuck or gone: the remaining tests cannot run
                break
        return self._finish_server(pid, channel, out_file, results, fatal)

    def run_assert(self, job):
        pid, channel, out_file = self._start_server(job, job["total"])
        results, fatal = check_asserts(job, channel)
        return self._finish_server(pid, channel, out_file, results, fatal)

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


def _kill_group_and_process(pid):
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


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
    gc.freeze()  # keep the start-up heap out of every child's garbage collections (fewer copy-on-write faults)
    Worker(cfg, rfd, wfd).serve()


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
