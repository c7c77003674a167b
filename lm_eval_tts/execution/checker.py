"""The trusted side of assert-style tests: run the dataset's assert statements against a program in another process.

Names the program defines become proxies (``Remote``): calling one sends plain arguments to the program process and
gets plain data (or an opaque reference) back, so ``==``, ``isclose``, ``sorted``... all run here on builtin values
the program cannot forge.

Runs in the driver, a trusted process the program cannot see; the program process receives the arguments of one
call at a time, never the asserts or their expected values.

Stdlib only: also loaded inside the sandbox.
"""

import ast
import builtins
import functools
import importlib
import json
import socket
import sys
import time

from lm_eval_tts.execution import codec
from lm_eval_tts.execution.program import describe
from lm_eval_tts.execution.wire import sock_recv, sock_send


class RemoteError(Exception):
    """A failure in the program process (kind: runtime_error / memory / ...); fatal when it is gone or stuck."""

    def __init__(self, kind, detail, fatal=False):
        super().__init__(detail)
        self.kind, self.fatal = kind, fatal


class RemoteTimeout(Exception):
    pass


class NotComparable(TypeError):
    pass


class Channel:
    """The driver's end of the socket to the program process, with the current test's deadline (capped by the
    job's), caps on the bytes of one reply and of all replies in the job (``limits``: result_bytes, output_bytes),
    and the canonical text of every value it returned during the current test (``outputs``; None once a call of the
    test raised)."""

    def __init__(self, sock, limits, total_deadline):
        self.sock = sock
        self.reply_bytes = limits["result_bytes"]
        self.bytes_left = self.job_bytes = limits["output_bytes"]
        self.total_deadline = total_deadline
        self.deadline = total_deadline
        self.outputs = []
        self.answered = False  # the program process sent something (so it was running the program)

    def start_test(self, seconds):
        self.deadline = min(time.monotonic() + seconds, self.total_deadline)
        self.outputs = []

    def request(self, obj):
        """Send one request and wait for its reply."""
        self.send(obj)
        return self.receive()

    def send(self, obj):
        self._arm()
        try:
            sock_send(self.sock, obj)
        except socket.timeout:  # the program is busy and does not read (large arguments)
            raise RemoteTimeout() from None
        except OSError as e:
            raise RemoteError("runtime_error", f"program process died ({e})", fatal=True) from None

    def _arm(self):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise RemoteTimeout()
        self.sock.settimeout(remaining)

    def receive(self):
        self._arm()
        try:
            raw = sock_recv(self.sock, min(self.reply_bytes, self.bytes_left))
        except socket.timeout:
            raise RemoteTimeout() from None
        except OverflowError as e:
            raise RemoteError("output_limit", self._too_large(e.args[0]), fatal=True) from None
        except OSError as e:
            raise RemoteError("runtime_error", f"program process died ({e})", fatal=True) from None
        if raw is None:
            raise RemoteError("runtime_error", "program process died", fatal=True)
        self.answered = True
        self.bytes_left -= len(raw)
        try:
            reply = json.loads(raw)
        except (ValueError, RecursionError):
            raise RemoteError("runtime_error", "malformed reply", fatal=True) from None
        if not isinstance(reply, dict):
            raise RemoteError("runtime_error", "malformed reply", fatal=True)
        return reply

    def _too_large(self, size):
        if size > self.reply_bytes:
            return f"result of {size} bytes, more than the {_mib(self.reply_bytes)} allowed for one value"
        return f"results of this program exceed the {_mib(self.job_bytes)} allowed in one job"

    def value(self, reply):
        """The value of a reply, references as proxies; its canonical text is added to ``outputs``."""
        if "error" in reply:
            self.outputs = None
            raise RemoteError(reply["error"], reply.get("detail", ""))
        try:
            value = codec.from_tree(reply["v"], make_ref=lambda i: Remote(self, i))
            if self.outputs is not None:
                self.outputs.append(codec.canonical_reply(reply["v"]))
        except (codec.NotPlainData, KeyError) as e:  # a value built to be slow to decode ends the job
            self.outputs = None
            fatal = isinstance(e, codec.SlowToDecode)
            raise RemoteError("wrong_answer", f"program returned malformed data: {e}", fatal=fatal) from None
        return value

    def test_output(self):
        """Canonical text of the list of values the program returned during the current test, or None."""
        return None if self.outputs is None else '["l"' + "".join("," + text for text in self.outputs) + "]"


def _mib(n):
    return f"{n / (1 << 20):g} MiB"


class Remote:
    """Proxy for an object living in the program process. Calls, attribute reads and operand-free operations (bool,
    len, str, repr, iteration) are forwarded and their results come back as plain data. Comparisons refuse: an
    object asked "are you equal to X?" would see the expected answer X (``in`` falls back to iteration, compared
    here)."""

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
        try:
            value = self._unary("len")
        except RemoteError as e:
            if e.fatal:
                raise
            raise TypeError(str(e)) from None  # as len() would: list(generator) then falls back to iteration
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
    """Arguments may mix plain data with proxies of objects already in the program process (e.g. a program's class)."""
    if isinstance(value, Remote):
        return ["r", object.__getattribute__(value, "_ref")]
    if isinstance(value, (list, tuple)) and depth < codec.MAX_DEPTH:
        return ["l" if isinstance(value, list) else "t"] + [_tree_with_refs(v, depth + 1) for v in value]
    if isinstance(value, dict) and depth < codec.MAX_DEPTH:
        return ["d"] + [[codec.to_tree(k), _tree_with_refs(v, depth + 1)] for k, v in value.items()]
    return codec.to_tree(value)


def check_asserts(job, channel):
    """Run the setup code and then each test statement with the program's names as proxies; returns
    (per-test outcomes, fatal or None). Only dataset code executes here, and every value from the program arrives
    as plain data. Each outcome carries ``output``, the canonical text of the values the program returned during
    the test (``Channel.test_output``).

    Stdlib modules the tests name (``math.isclose``...) are the driver's own imports, never the program's (which
    could be a fake module); builtins and setup names cannot be redefined by the program either, except a
    builtin-named function under test (see ``_only_called_under_test``)."""
    results = []
    prepared = _prepare(job["setup"], tuple(job["tests"]))
    channel.start_test(job["per_test"])
    # The program process speaks first: its globals (plain values or references), or why loading the program failed.
    # Only the names the setup and tests mention are rebuilt: the rest cannot matter to them.
    try:
        hello = channel.receive()
        if "ready" not in hello:
            raise RemoteError(hello.get("error", "runtime_error"), hello.get("detail", ""), fatal=True)
        program = {n: codec.from_tree(v, make_ref=lambda i: Remote(channel, i))
                   for n, v in hello["ready"].items() if isinstance(n, str) and n in prepared.referenced}
    except RemoteTimeout:
        return results, {"kind": "timeout", "detail": "program did not finish loading"}
    except RemoteError as e:
        return results, {"kind": e.kind, "detail": str(e)}
    except (AttributeError, TypeError) as e:  # also codec.NotPlainData
        return results, {"kind": "runtime_error", "detail": f"malformed hello: {e}"}
    namespace = {"__name__": "checker", "__builtins__": builtins}
    for name in program.keys() & prepared.referenced:
        if name in sys.stdlib_module_names:
            try:
                namespace[name] = importlib.import_module(name)
            except ImportError:
                pass
    try:
        trusted = set(namespace) | _BUILTIN_NAMES | prepared.assigned
        namespace.update((n, v) for n, v in program.items() if n not in trusted)
        if isinstance(prepared.setup, Exception):
            raise prepared.setup
        exec(prepared.setup, namespace)
    except RemoteTimeout:
        return results, {"kind": "timeout", "detail": "test setup timed out"}
    except BaseException as e:  # noqa: BLE001 - setup needs something the program does not provide
        return results, {"kind": getattr(e, "kind", "runtime_error"), "detail": f"test setup failed: {describe(e)}"}
    shadowing = [n for n in program if n in trusted]
    for i, (test, compiled) in enumerate(zip(job["tests"], prepared.tests)):
        channel.start_test(job["per_test"])
        outcome = {"i": i, "ok": False}
        fatal = False
        try:
            if isinstance(compiled, Exception):
                raise compiled
            tree, code = compiled
            allowed = {n: program[n] for n in shadowing if _only_called_under_test(tree, n)}
            exec(code, {**namespace, **allowed})
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
        except Exception as e:  # noqa: BLE001 - a broken test, or a failure while evaluating the test expression
            outcome.update(kind="runtime_error", detail=describe(e))
        # what the program returned, unless it failed to answer (timed out, raised, died)
        outcome["output"] = None if outcome.get("kind") in ("timeout",) or fatal else channel.test_output()
        results.append(outcome)
        if fatal:  # the program process is stuck or gone: the remaining tests cannot run
            return results, {"kind": outcome["kind"], "detail": outcome["detail"]}
    return results, None


_BUILTIN_NAMES = frozenset(dir(builtins))


class _Prepared:
    """A problem's setup and tests, parsed and compiled once: the samples of one problem share them."""

    def __init__(self, setup, tests):
        self.referenced, self.assigned = set(), set()
        try:
            tree = ast.parse(setup, "<setup>")
            self.setup = compile(tree, "<setup>", "exec")
            self.referenced |= _names(tree)
            self.assigned = _assigned_names(tree)
        except (SyntaxError, ValueError) as e:
            self.setup = e
        self.tests = []  # per test: (tree, code), or the exception parsing it raised
        for i, test in enumerate(tests):
            try:
                tree = ast.parse(test, f"<test {i}>")
                self.tests.append((tree, compile(tree, f"<test {i}>", "exec")))
                self.referenced |= _names(tree)
            except (SyntaxError, ValueError) as e:
                self.tests.append(e)


@functools.lru_cache(maxsize=1024)  # every problem of a whole benchmark (MBPP: 500), whatever order samples come in
def _prepare(setup, tests):
    return _Prepared(setup, tests)


def referenced_names(job):
    """The identifiers an assert job's setup and tests mention: the only program names they can use."""
    return _prepare(job["setup"], tuple(job["tests"])).referenced


def _names(tree):
    """Every identifier a (trusted) syntax tree mentions."""
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}


def _assigned_names(tree):
    """Names the (trusted) setup code binds, by static inspection."""
    names = set()
    for node in ast.walk(tree):
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
