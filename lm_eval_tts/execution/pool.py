"""A pool of warm sandbox workers (one per core), each a fork server inside its own sandbox.

Starting a sandboxed interpreter costs ~100 ms; forking a warm one costs ~1 ms. Each worker runs one job at a time,
so a program that kills or wedges its worker only loses its own job: the pool notices (EOF or a missed deadline),
kills the whole sandbox, reports that job as a ``sandbox_error`` and starts a fresh worker.
"""

from __future__ import annotations

import atexit
import collections
import json
import os
import queue
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lm_eval_tts.execution import isolation
from lm_eval_tts.execution.isolation import Limits
from lm_eval_tts.execution.wire import HEADER

_HERE = Path(__file__).parent
# How long past a job's own total timeout the pool waits before declaring the sandbox wedged.
_GRACE_SECONDS = 10.0
# A next job is queued at a busy fork server only if it is small: it then fits in the pipe (64 KiB) and writing it
# never blocks (while the server may be blocked writing a big result that this thread has not read yet).
_PIPELINE_MAX_BYTES = 16 * 1024


# Modules the sandbox needs, in dependency order. The package directory is hidden inside the sandbox, so their
# sources travel on the command line (one argument, ~45 KB of Linux's 128 KB per-argument limit) and are registered
# under their usual names before the fork server starts.
_SANDBOX_MODULES = ("codec", "wire", "confine", "program", "checker", "forkserver")


def _bootstrap_source() -> str:
    """Source passed to ``python -c`` inside the sandbox."""
    lines = [
        "import sys, types",
        "sys.path[:] = [p for p in sys.path if p not in ('', '.')]",  # never import from a writable cwd
        "for _n in ('lm_eval_tts', 'lm_eval_tts.execution'):",
        "    sys.modules[_n] = types.ModuleType(_n)",
        "def _load(name, source):",
        "    m = types.ModuleType('lm_eval_tts.execution.' + name)",
        "    sys.modules[m.__name__] = m",
        "    setattr(sys.modules['lm_eval_tts.execution'], name, m)",
        "    exec(compile(source, '<' + m.__name__ + '>', 'exec'), m.__dict__)",  # <...>: never read from disk
        "    return m",
    ]
    for name in _SANDBOX_MODULES:
        lines.append(f"_m = _load({name!r}, {(_HERE / (name + '.py')).read_text()!r})")
    lines.append("_m.main(__import__('json').loads(sys.argv[1]))")
    return "\n".join(lines) + "\n"


class SandboxError(RuntimeError):
    """The sandbox itself could not be started."""


class _WorkerProcess:
    """One sandboxed fork server and its pipes (evaluator side)."""

    def __init__(self, mode: str, limits: Limits, scratch: str, nproc: int):
        config = {
            "limits": {
                "memory_mb": limits.memory_mb,
                "file_size_mb": limits.file_size_mb,
                "open_files": limits.open_files,
                "output_bytes": limits.output_bytes,
            },
            "nproc_limit": nproc,
            "scratch_root": scratch,
            "wipe_dirs": ["/tmp", "/dev/shm"] if mode == "bwrap" else [],
            "drop_to_uid": isolation.drop_to_uid(mode),
            "extra_sys_path": [p for p in isolation.exposed_paths() if "-packages" in p],
        }
        argv = isolation.worker_argv(
            mode, os.path.realpath(sys.executable), ["-c", _bootstrap_source(), json.dumps(config)],
            scratch_mb=limits.scratch_mb,
        )
        self.stderr = tempfile.TemporaryFile()
        env = isolation.sandbox_env(scratch)
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr, start_new_session=True, env=env,
            cwd=scratch if mode != "bwrap" else "/",
        )
        self.buf = bytearray()
        hello = self.receive(time.monotonic() + 60)
        if hello is None or "hello" not in hello:
            self.kill()
            raise SandboxError(f"sandbox worker ({mode}) failed to start: {self.stderr_tail()}")

    def stderr_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-2000:].decode(errors="replace").strip()

    def send(self, data: bytes) -> bool:
        """Send one encoded job (``encode_job``); False if the fork server is gone."""
        try:
            self.proc.stdin.write(HEADER.pack(len(data)) + data)
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError):
            return False

    def receive(self, deadline: float) -> dict | None:
        """Next frame, or None on EOF / deadline / garbage."""
        fd = self.proc.stdout.fileno()
        while True:
            if len(self.buf) >= HEADER.size:
                size = HEADER.unpack_from(self.buf)[0]
                if len(self.buf) >= HEADER.size + size:
                    body = bytes(self.buf[HEADER.size : HEADER.size + size])
                    del self.buf[: HEADER.size + size]
                    try:
                        frame = json.loads(body)
                    except (ValueError, RecursionError):  # a corrupted fork server: treat it as lost
                        return None
                    return frame if isinstance(frame, dict) else None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    return None
                self.buf += chunk

    def kill(self) -> None:
        """Kill the launcher and everything below it. The fork server must be killed directly: as PID 1 of its
        namespace that dropped privileges it does not reliably die with bwrap."""
        for pid in [self.proc.pid, *_descendants(self.proc.pid)]:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        self.stderr.close()


def _descendants(root: int) -> list[int]:
    """Host pids of all live processes below `root` (from /proc parent links)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    stat = f.read().decode(errors="replace")
            except OSError:
                continue
            children.setdefault(int(stat[stat.rfind(")") + 2 :].split()[1]), []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class SandboxPool:
    """Warm fork servers running jobs (dicts understood by ``forkserver.py``) in parallel, one job per server."""

    def __init__(
        self, workers: int | None = None, limits: Limits = Limits(), mode: str | None = None,
        grace_seconds: float = _GRACE_SECONDS,
    ):
        self.mode = mode or isolation.detect_mode()
        if self.mode not in isolation.available_modes():
            raise SandboxError(f"sandbox mode {self.mode!r} is not available here ({isolation.available_modes()})")
        self.limits = limits
        self.grace_seconds = grace_seconds
        self.size = max(1, workers or os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._scratch = isolation.scratch_root(self.mode)
        self._own_scratch = self.mode != "bwrap"
        uid = isolation.drop_to_uid(self.mode)
        if self._own_scratch and uid is not None:
            os.chown(self._scratch, uid, uid)
        self._nproc = isolation.nproc_limit(self.mode, limits) + 4 * self.size
        self._idle: queue.Queue[_WorkerProcess] = queue.Queue()
        self._all: list[_WorkerProcess] = []
        for _ in range(self.size):
            self._add_worker()
        self.restarts = 0

    def _add_worker(self) -> None:
        w = _WorkerProcess(self.mode, self.limits, self._scratch, self._nproc)
        with self._lock:
            self._all.append(w)
        self._idle.put(w)

    def _replace(self, w: _WorkerProcess) -> None:
        w.kill()
        with self._lock:
            if w not in self._all:  # already replaced
                return
            self._all.remove(w)
            self.restarts += 1
        self._add_worker()

    def _take_worker(self) -> _WorkerProcess:
        w = self._idle.get()
        if w.proc.poll() is not None:  # died while idle (weak modes: e.g. a program's kill(-1) as the same uid)
            self._replace(w)
            w = self._idle.get()
        return w

    def run_one(self, job: dict) -> dict:
        """Run one job on an idle worker; never raises for anything the program does."""
        return self.run([job])[0]

    def run(self, jobs: Sequence[dict], on_done: Callable[[], None] | None = None) -> list[dict]:
        """Run jobs in parallel over the workers; results in the order of jobs. Never raises for anything a program
        does: a job whose fork server was lost gets ``{"worker_error": ...}``."""
        results: list[dict | None] = [None] * len(jobs)
        todo: queue.Queue[int] = queue.Queue()
        for i in range(len(jobs)):
            todo.put(i)
        errors: list[BaseException] = []

        def drain():
            try:
                self._stream(jobs, todo, results, on_done)
            except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
                errors.append(e)

        threads = [threading.Thread(target=drain, daemon=True) for _ in range(min(self.size, len(jobs)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        return results  # type: ignore[return-value]

    def _stream(self, jobs, todo, results, on_done) -> None:
        """Feed one worker from `todo` until it is empty. A small next job is queued at the fork server while the
        current one runs, so it never waits for this thread; if the server is lost, the running job fails and the
        queued (never started) one goes back to `todo`."""
        w = self._take_worker()
        inflight: collections.deque[int] = collections.deque()
        head_since = time.monotonic()
        try:
            while True:
                while len(inflight) < 2:  # the running job, and at most one small job waiting in the pipe
                    try:
                        i = todo.get_nowait()
                    except queue.Empty:
                        break
                    data = json.dumps(jobs[i]).encode()
                    if inflight and len(data) >= _PIPELINE_MAX_BYTES:  # could fill the pipe: send it later
                        todo.put(i)
                        break
                    if not inflight:
                        head_since = time.monotonic()
                    if not w.send(data) and inflight:  # server gone; the running job's fate tells the rest
                        todo.put(i)
                        break
                    inflight.append(i)
                if not inflight:
                    return
                i = inflight[0]
                result = w.receive(head_since + jobs[i]["total"] + self.grace_seconds)
                if result is not None and result.get("id") == jobs[i]["id"]:
                    inflight.popleft()
                    head_since = time.monotonic()
                    results[i] = result
                else:
                    results[i] = {"id": jobs[i]["id"], "worker_error":
                                  f"sandbox worker lost (stderr: {w.stderr_tail()[-300:]})"}
                    inflight.popleft()
                    while inflight:  # queued behind the lost job, never started: run them elsewhere
                        todo.put(inflight.popleft())
                    self._replace(w)
                    w = self._take_worker()
                if on_done:
                    on_done()
        except BaseException:
            self._replace(w)
            w = self._take_worker()
            raise
        finally:
            self._idle.put(w)

    def worker_pids(self) -> list[int]:
        """Host pids of the sandbox launchers (bwrap / unshare / the worker itself), e.g. to check for leftovers."""
        with self._lock:
            return [w.proc.pid for w in self._all]

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for w in workers:
            w.kill()
        if self._own_scratch:
            shutil.rmtree(self._scratch, ignore_errors=True)


_shared: dict[tuple, SandboxPool] = {}
_shared_lock = threading.Lock()


def shared_pool(workers: int | None, limits: Limits, mode: str | None = None) -> SandboxPool:
    """A process-wide pool per (workers, limits, mode), started on first use and closed at exit."""
    key = (workers or os.cpu_count() or 1, limits, mode or isolation.detect_mode())
    with _shared_lock:
        pool = _shared.get(key)
        if pool is None:
            pool = _shared[key] = SandboxPool(key[0], limits, key[2])
        return pool


@atexit.register
def _close_shared() -> None:
    for pool in list(_shared.values()):
        pool.close()
    _shared.clear()
