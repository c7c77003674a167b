"""Run a pure function in worker processes under a hard wall-clock deadline per call.

Why processes and SIGKILL: checkers such as math-verify can hang inside C code (sympy evaluating a power tower,
a huge integer power) where in-process timeouts (signals, threads) never fire. Here each call runs in a worker
process; when a call overruns its deadline the parent kills that worker with SIGKILL, reports the call as timed
out and puts a fresh worker in its place, so one pathological input costs at most `deadline` seconds of one
worker and never stalls the caller.

Workers are forked from a zygote: one `sys.executable` process that imported the target once (for math-verify,
sympy's start-up takes seconds on a loaded machine) and forks a warm worker per request, so replacing a killed
worker costs a fork. Workers die with the zygote, and the zygote exits when the pool's control socket closes.

Protocol (JSON lines over a socketpair per worker): the worker sends `{"ready": true}`, then answers each
`{"id": i, "args": [...]}` with `{"id": i, "value": ...}` or `{"id": i, "error": "..."}`. The deadline of a
call starts when it is handed to a ready worker, so worker start-up is never charged to a call.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

OK, TIMEOUT, ERROR = "ok", "timeout", "error"


@dataclass(frozen=True)
class Outcome:
    """One call's result: status is "ok" (value set), "timeout" (worker killed) or "error" (exception text)."""

    status: str
    value: Any = None
    error: str = ""
    seconds: float = 0.0


class WorkerStartError(RuntimeError):
    pass


# `-c` puts the current directory first on sys.path; drop it, so a stray file there (say /tmp/colorsys.py) cannot
# shadow a module that the checker imports.
_ZYGOTE_COMMAND = (
    "import sys; del sys.path[0]; from lm_eval_tts.grading.deadline_pool import _zygote_main; "
    "_zygote_main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None)"
)


class _Zygote:
    """A warm process (target imported) that forks workers on request, so a replacement costs a fork, not an
    interpreter start. Each request passes one end of a fresh socketpair; the forked worker serves calls on it."""

    def __init__(self, target: str, memory_limit_bytes: int | None):
        self.control, theirs = socket.socketpair()
        args = [sys.executable, "-c", _ZYGOTE_COMMAND, target, str(theirs.fileno())]
        if memory_limit_bytes:
            args.append(str(memory_limit_bytes))
        self.proc = subprocess.Popen(args, pass_fds=(theirs.fileno(),), stdin=subprocess.DEVNULL)
        theirs.close()
        if self.control.recv(1) != b"R":
            code = self.proc.wait()
            raise WorkerStartError(
                f"grading worker for {target} failed to start (exit code {code}); its error is printed above"
            )

    def fork_worker(self) -> "_Worker":
        ours, theirs = socket.socketpair()
        socket.send_fds(self.control, [b"F"], [theirs.fileno()])
        theirs.close()
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = self.control.recv(32)
            if not chunk:
                raise WorkerStartError(f"the grading zygote exited (exit code {self.proc.wait()})")
            reply += chunk
        return _Worker(ours, int(reply))

    def close(self) -> None:
        self.control.close()
        self.proc.wait()


class _Worker:
    def __init__(self, sock: socket.socket, pid: int):
        self.sock = sock
        self.pid = pid
        self.buffer = b""
        self.ready = False
        self.job: tuple[int, float] | None = None  # (call index, start time)

    def send(self, index: int, args: Sequence[Any]) -> None:
        self.sock.sendall((json.dumps({"id": index, "args": list(args)}) + "\n").encode())
        self.job = (index, time.monotonic())

    def read_lines(self) -> list[dict] | None:
        """Complete messages available now; None when the worker has exited."""
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.sock.close()


class DeadlinePool:
    """`workers` processes running `target` ("module:function", JSON-serialisable args and result).

    Use as a context manager or call close(); `map` is not thread-safe (one caller at a time).
    """

    def __init__(self, target: str, workers: int, deadline: float, memory_limit_bytes: int | None = None):
        if deadline <= 0:
            raise ValueError(f"deadline must be > 0 seconds, got {deadline}")
        self.target = target
        self.deadline = deadline
        self.memory_limit_bytes = memory_limit_bytes
        self.restarts = 0
        self._zygote = _Zygote(target, memory_limit_bytes)
        self._workers = [self._spawn() for _ in range(max(1, workers))]

    def _spawn(self) -> _Worker:
        return self._zygote.fork_worker()

    def map(self, calls: Sequence[Sequence[Any]]) -> list[Outcome]:
        """Outcomes in the order of `calls`; every call finishes within `deadline` of being started.

        Each worker takes the calls of its own contiguous share in order, then the last calls of the largest share
        left: neighbouring calls (a caller's sorted keys) go to one worker, where the checker's caches serve them."""
        results: list[Outcome | None] = [None] * len(calls)
        count = len(self._workers)
        shares = [deque(range(len(calls) * i // count, len(calls) * (i + 1) // count)) for i in range(count)]
        selector = selectors.DefaultSelector()
        for worker in self._workers:
            selector.register(worker.sock, selectors.EVENT_READ, worker)
        try:
            while any(shares) or any(w.job for w in self._workers):
                for position, worker in enumerate(self._workers):
                    if worker.ready and worker.job is None and any(shares):
                        index = shares[position].popleft() if shares[position] else max(shares, key=len).pop()
                        try:
                            worker.send(index, calls[index])
                        except OSError:
                            results[index] = Outcome(ERROR, error="grading worker died")
                            self._replace(worker, selector)
                now = time.monotonic()
                deadlines = [start + self.deadline for _, start in (w.job for w in self._workers if w.job)]
                wait = max(0.0, min(deadlines) - now) if deadlines else None
                for key, _ in selector.select(wait):
                    worker = key.data
                    messages = worker.read_lines()
                    if messages is None:
                        if worker.job:
                            index, start = worker.job
                            results[index] = Outcome(ERROR, error="worker exited", seconds=time.monotonic() - start)
                        self._replace(worker, selector)
                        continue
                    for message in messages:
                        if message.get("ready"):
                            worker.ready = True
                            continue
                        index, start = worker.job
                        elapsed = time.monotonic() - start
                        if "error" in message:
                            results[index] = Outcome(ERROR, error=message["error"], seconds=elapsed)
                        else:
                            results[index] = Outcome(OK, value=message["value"], seconds=elapsed)
                        worker.job = None
                now = time.monotonic()
                for worker in list(self._workers):
                    if worker.job and now - worker.job[1] >= self.deadline:
                        index, start = worker.job
                        results[index] = Outcome(TIMEOUT, seconds=now - start)
                        self._replace(worker, selector)
        finally:
            selector.close()
        return results  # type: ignore[return-value]

    def _replace(self, worker: _Worker, selector: selectors.BaseSelector) -> None:
        selector.unregister(worker.sock)
        worker.kill()
        fresh = self._spawn()
        self._workers[self._workers.index(worker)] = fresh
        selector.register(fresh.sock, selectors.EVENT_READ, fresh)
        self.restarts += 1

    def close(self) -> None:
        for worker in self._workers:
            worker.kill()
        self._workers = []
        self._zygote.close()

    def __enter__(self) -> "DeadlinePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _zygote_main(target: str, control_fd: int, memory_limit_bytes: int | None) -> None:
    """Zygote side: import the target once, then fork one worker per request until the control socket closes."""
    import importlib

    module_name, _, function_name = target.partition(":")
    function = getattr(importlib.import_module(module_name), function_name)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forked workers are reaped automatically
    control = socket.socket(fileno=control_fd)
    control.sendall(b"R")
    while True:
        message, fds, _, _ = socket.recv_fds(control, 1, 1)
        if not message:
            return
        pid = os.fork()
        if pid == 0:
            control.close()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _die_with_parent()
            _serve(function, socket.socket(fileno=fds[0]), memory_limit_bytes)
            os._exit(0)
        os.close(fds[0])
        control.sendall(f"{pid}\n".encode())


def _die_with_parent() -> None:
    """Linux: SIGKILL this worker when the zygote exits, so a hung worker never outlives its pool."""
    import ctypes

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def _serve(function, sock: socket.socket, memory_limit_bytes: int | None) -> None:
    """Worker side: answer calls on `sock` until it closes."""
    if memory_limit_bytes:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    os.dup2(2, 1)  # anything the checked code prints goes to stderr, never into the protocol
    sock.sendall(b'{"ready": true}\n')
    for line in sock.makefile("rb"):
        request = json.loads(line)
        try:
            reply = json.dumps({"id": request["id"], "value": function(*request["args"])})
        except BaseException as exc:  # noqa: BLE001 - any failure of the checked function is a verdict
            reply = json.dumps({"id": request["id"], "error": f"{type(exc).__name__}: {exc}"[:500]})
        sock.sendall((reply + "\n").encode())

