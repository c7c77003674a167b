"""The trusted side of assert-style tests: run the dataset's assert statements against a program in another process.

Names the program defines become proxies (``Remote``): calling one sends plain arguments to the program process and
gets plain data (or an opaque reference) back, so ``==``, ``isclose``, ``sorted``... all run here on builtin values
the program cannot forge.

Stdlib only: also loaded inside the sandbox.
"""

import ast
import builtins
import collections
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
    """The fork server's end of the socket to the program process, with the current test's deadline (capped by
    the job's)."""

    def __init__(self, sock, max_bytes, total_deadline):
        self.sock = sock
        self.max_bytes = max_bytes
        self.total_deadline = total_deadline
        self.deadline = total_deadline
        self.in_flight = 0  # replies still to come for requests sent ahead (``send_ahead``)
        self.early = collections.deque()  # such replies read early to make room for a live request

    def start_test(self, seconds):
        self.deadline = min(time.monotonic() + seconds, self.total_deadline)

    def request(self, obj):
        """Send one request and wait for its reply (after collecting replies to requests sent ahead)."""
        while self.in_flight:
            self.early.append(self.receive())
            self.in_flight -= 1
        self._send([obj])
        return self.receive()

    def send_ahead(self, objs):
        """Send several requests at once; their replies are then taken in order with ``next_reply``."""
        self._send(objs)
        self.in_flight += len(objs)

    def next_reply(self):
        if self.early:
            return self.early.popleft()
        self.in_flight -= 1
        return self.receive()

    def _send(self, objs):
        self._arm()
        try:
            for obj in objs:
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
    (per-test outcomes, fatal or None). Runs in the fork server: only dataset code executes here, and every value from
    the program arrives as plain data.

    Stdlib modules the tests name (``math.isclose``...) are the fork server's own imports, never the program's (which
    could be a fake module); builtins and setup names cannot be redefined by the program either, except a
    builtin-named function under test (see ``_only_called_under_test``)."""
    results = []
    channel.start_test(job["per_test"])
    # The program process speaks first: its globals (plain values or references), or why loading the program failed.
    try:
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
    for name in program.keys() & _referenced_names([job["setup"], *job["tests"]]):
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
        return results, {"kind": getattr(e, "kind", "runtime_error"), "detail": f"test setup failed: {describe(e)}"}
    shadowing = [n for n in program if n in trusted]
    compiled = []  # per test: (code, scope) or the exception compiling it raised
    for i, test in enumerate(job["tests"]):
        try:
            tree = ast.parse(test, f"<test {i}>")
            allowed = {n: program[n] for n in shadowing if _only_called_under_test(tree, n)}
            compiled.append((tree, compile(tree, f"<test {i}>", "exec"), {**namespace, **allowed}))
        except Exception as e:  # noqa: BLE001 - a broken test in the data
            compiled.append(e)
    _send_calls_ahead(compiled, channel)
    for i, (test, entry) in enumerate(zip(job["tests"], compiled)):
        channel.start_test(job["per_test"])
        outcome = {"i": i, "ok": False}
        fatal = False
        try:
            if isinstance(entry, Exception):
                raise entry
            exec(entry[1], entry[2])
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
            outcome.update(kind="runtime_error", detail=describe(e))
        results.append(outcome)
        if fatal:  # the program process is stuck or gone: the remaining tests cannot run
            return results, {"kind": outcome["kind"], "detail": outcome["detail"]}
    return results, None


# ------------------------------------------------------------------------------ sending the calls ahead
# Most asserts are ``assert f(<literals>) == <expected>``: the program calls they make, and their order, are known
# before any runs. Sending them all at once lets the program process answer them back to back, instead of one
# round trip (two process wake-ups) per call. Only calls that sequential evaluation makes unconditionally, with
# literal arguments and results not operated on remotely, qualify; otherwise everything runs call by call.
_SEND_AHEAD_MAX_BYTES = 64 * 1024  # well under a socket buffer: sending never waits for the program to read
_CONDITIONAL = (ast.BoolOp, ast.IfExp, ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp,
                ast.Dict, ast.NamedExpr, ast.Starred)


def _send_calls_ahead(compiled, channel):
    """If every test qualifies, send all their program calls now and make the tests take the replies in order."""
    plans = []
    for entry in compiled:
        if isinstance(entry, Exception):
            return
        tree, _, scope = entry
        remote = {n for n, v in scope.items() if isinstance(v, Remote)}
        calls = _planned_calls(tree, remote)
        if calls is None:
            return
        plans.append(calls)
    requests = [
        {"op": "call", "ref": object.__getattribute__(scope_entry[2][name], "_ref"), "args": codec.to_tree(args),
         "kwargs": codec.to_tree(kwargs)}
        for scope_entry, calls in zip(compiled, plans) for name, args, kwargs in calls
    ]
    if not requests or sum(len(json.dumps(r)) for r in requests) > _SEND_AHEAD_MAX_BYTES:
        return
    channel.send_ahead(requests)
    for (_, _, scope), calls in zip(compiled, plans):
        for name in {name for name, _, _ in calls}:
            scope[name] = _Answered(channel, name)


def _planned_calls(tree, remote):
    """The program calls of a one-assert test in evaluation order, [(name, args, kwargs)], or None if the test
    does not qualify for sending its calls ahead."""
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Assert):
        return None
    node = tree.body[0]
    if node.msg is not None and _mentions(node.msg, remote):
        return None
    calls = []
    return calls if _collect_calls(node.test, remote, calls) else None


def _collect_calls(node, remote, calls):
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in remote:
        if any(isinstance(a, ast.Starred) for a in node.args) or any(k.arg is None for k in node.keywords):
            return False
        try:
            args = [ast.literal_eval(a) for a in node.args]
            kwargs = {k.arg: ast.literal_eval(k.value) for k in node.keywords}
            codec.to_tree([args, kwargs])
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError, codec.NotPlainData):
            return False
        calls.append((node.func.id, args, kwargs))
        return True
    if isinstance(node, ast.Name):
        return node.id not in remote  # a program name used other than by calling it
    if isinstance(node, _CONDITIONAL):
        return not _mentions(node, remote)
    if isinstance(node, (ast.Attribute, ast.Subscript)) and _mentions(node.value, remote):
        return False  # an operation on a program call's result would be a live request
    if isinstance(node, ast.Call) and _mentions(node.func, remote):
        return False
    return all(_collect_calls(child, remote, calls) for child in ast.iter_child_nodes(node))


def _mentions(node, names):
    return any(isinstance(n, ast.Name) and n.id in names for n in ast.walk(node))


class _Answered:
    """Stands for a program function whose calls were sent ahead: each call takes the next reply."""

    def __init__(self, channel, name):
        self.channel, self.name = channel, name

    def __call__(self, *args, **kwargs):
        return self.channel.value(self.channel.next_reply())


def _referenced_names(sources):
    """Every identifier the (trusted) setup and tests mention."""
    names = set()
    for source in sources:
        try:
            names.update(n.id for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Name))
        except SyntaxError:
            pass
    return names


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
