"""The untrusted side: how a program process runs the candidate program and answers requests about it.

Everything here runs after ``confine.enter_limits`` in a process the program fully controls, so nothing it sends is
trusted: the driver decodes replies strictly (``codec``) and compares values itself.

Stdlib only: also loaded inside the sandbox.
"""

import json
import os
import sys
import traceback

from lm_eval_tts.execution import codec
from lm_eval_tts.execution.wire import sock_recv, sock_send


def error_kind(exc):
    if isinstance(exc, MemoryError):
        return "memory"
    if isinstance(exc, (SyntaxError, IndentationError)):
        return "syntax"
    return "runtime_error"


def describe(exc):
    """One line for a failure report: exception type and (truncated) message."""
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def read_source(fd):
    """The source to run (the program, after its prelude) from the sealed memory file the driver wrote; then the
    descriptor is closed."""
    data = os.pread(fd, os.fstat(fd).st_size, 0)
    os.close(fd)
    return data.decode("utf-8", errors="surrogateescape")


def run_script(program):
    """Stdio tests: run the program as __main__ with stdin/stdout already redirected."""
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


# Operations on an object the checker may ask about: they take no operand from the tests, so the program learns
# nothing about the expected answer and could as well have returned the (plain) result directly.
_UNARY = {"bool": bool, "len": len, "str": str, "repr": repr}


class _Refs:
    """Objects the program process keeps for the checker, addressed by small integers."""

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


def serve_calls(source, sock, max_bytes):
    """Call/assert tests: exec the source (prelude + program), announce the names the driver asks about (those its
    tests mention), then answer requests, one at a time."""
    namespace = {"__name__": "solution", "__builtins__": __builtins__}
    try:
        exec(compile(source, "<program>", "exec"), namespace)
    except BaseException as e:  # noqa: BLE001
        sock_send(sock, {"error": error_kind(e), "detail": describe(e)})
        os._exit(0)
    refs = _Refs()
    raw = sock_recv(sock, max_bytes)
    if raw is None:
        os._exit(0)
    wanted = json.loads(raw).get("names", [])
    sock_send(sock, {"ready": {n: refs.tree(namespace[n]) for n in wanted if isinstance(n, str) and n in namespace}})
    while True:
        raw = sock_recv(sock, max_bytes)
        if raw is None:
            os._exit(0)
        try:
            reply = {"v": _answer(json.loads(raw), namespace, refs)}
        except BaseException as e:  # noqa: BLE001 - the program's exception, reported as plain text
            reply = {"error": error_kind(e), "detail": describe(e)}
        try:
            sock_send(sock, reply)
        except (TypeError, ValueError, RecursionError) as e:  # e.g. a too-large int for JSON
            sock_send(sock, {"error": "runtime_error", "detail": describe(e)})


def _answer(req, namespace, refs):
    """One request from the checker/driver -> the encoded result tree."""
    op = req["op"]
    if op == "invoke":  # functional tests: [function] or [class, method] on a fresh instance
        name, *method = req["target"]
        if name not in namespace:  # as calling it in the program would say
            raise NameError(f"name {name!r} is not defined")
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
