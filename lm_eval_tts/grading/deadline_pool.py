"""Run a pure function in worker processes under a hard wall-clock deadline per call.

Why processes and SIGKILL: checkers such as math-verify can hang inside C code (sympy evaluating a power tower,
a huge integer power) where in-process timeouts (signals, threads) never fire. Here each call runs in a separate
worker interpreter (`sys.executable`); when a call overruns its deadline the parent kills that worker with SIGKILL,
reports the call as timed out and starts a replacement, so one pathological input costs at most `deadline`
seconds of one worker and never stalls the caller.

Protocol (JSON lines over the worker's stdin/stdout): the worker prints `{"ready": true}` once its imports are
done, then answers each `{"id": i, "args": [...]}` with `{"id": i, "value": ...}` or `{"id": i, "error": "..."}`.
The deadline of a call starts when it is handed to a ready worker, so worker start-up is never charged to a call.
"""

from __future__ import annotations

import json
import os
import selectors
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


class _Worker:
    def __init__(self, target: str, memory_limit_bytes: int | None):
        args = [sys.executable, "-m", "lm_eval_tts.grading.deadline_pool", target]
        if memory_limit_bytes:
            args.append(str(memory_limit_bytes))
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, bufsize=0)
        self.buffer = b""
        self.ready = False
        self.job: tuple[int, float] | None = None  # (call index, start time)

    def send(self, index: int, args: Sequence[Any]) -> None:
        self.proc.stdin.write((json.dumps({"id": index, "args": list(args)}) + "\n").encode())
        self.job = (index, time.monotonic())

    def read_lines(self) -> list[dict] | None:
        """Complete messages available now; None when the worker has exited."""
        chunk = os.read(self.proc.stdout.fileno(), 1 << 16)
        if not chunk:
            return None
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()


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
        self._workers = [self._spawn() for _ in range(max(1, workers))]

    def _spawn(self) -> _Worker:
        return _Worker(self.target, self.memory_limit_bytes)

    def map(self, calls: Sequence[Sequence[Any]]) -> list[Outcome]:
        """Outcomes in the order of `calls`; every call finishes within `deadline` of being started."""
        results: list[Outcome | None] = [None] * len(calls)
        pending = deque(range(len(calls)))
        selector = selectors.DefaultSelector()
        for worker in self._workers:
            selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)
        try:
            while pending or any(w.job for w in self._workers):
                for worker in self._workers:
                    if worker.ready and worker.job is None and pending:
                        index = pending.popleft()
                        try:
                            worker.send(index, calls[index])
                        except BrokenPipeError:
                            results[index] = Outcome(ERROR, error="grading worker died")
                            self._replace(worker, selector)
                now = time.monotonic()
                deadlines = [start + self.deadline for _, start in (w.job for w in self._workers if w.job)]
                wait = max(0.0, min(deadlines) - now) if deadlines else None
                for key, _ in selector.select(wait):
                    worker = key.data
                    messages = worker.read_lines()
                    if messages is None:
                        if not worker.ready:
                            raise WorkerStartError(
                                f"grading worker for {self.target} exited during start-up "
                                f"(exit code {worker.proc.wait()}); its error is printed above"
                            )
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
        selector.unregister(worker.proc.stdout)
        worker.kill()
        fresh = self._spawn()
        self._workers[self._workers.index(worker)] = fresh
        selector.register(fresh.proc.stdout, selectors.EVENT_READ, fresh)
        self.restarts += 1

    def close(self) -> None:
        for worker in self._workers:
            if worker.proc.poll() is None:
                worker.kill()
        self._workers = []

    def __enter__(self) -> "DeadlinePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _serve(target: str, memory_limit_bytes: int | None) -> None:
    """Worker side: import the target once, then answer calls until stdin closes."""
    import importlib

    if memory_limit_bytes:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (memory_limit_bytes, memory_limit_bytes))
    module_name, _, function_name = target.partition(":")
    # Replies go to a private copy of stdout; anything the checked code prints (fd 1) goes to stderr instead.
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    function = getattr(importlib.import_module(module_name), function_name)
    out.write('{"ready": true}\n')
    out.flush()
    for line in sys.stdin:
        request = json.loads(line)
        try:
            reply = {"id": request["id"], "value": function(*request["args"])}
        except BaseException as exc:  # noqa: BLE001 - any failure of the checked function is a verdict
            reply = {"id": request["id"], "error": f"{type(exc).__name__}: {exc}"[:500]}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    _serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
