"""A pool of warm sandbox workers (one per core) that run jobs in parallel.

A worker is two sandboxed processes started once: a fork server (``forkserver.py``) that forks a fresh, confined
process per program, and a driver (``driver.py``) in a sandbox of its own that runs the jobs: it receives each job
from here, has the fork server spawn program processes with descriptors it hands over, feeds them their inputs and
sends back what they returned. The fork server never sees a job's data; programs never see the driver.

Starting a sandboxed interpreter costs tens of milliseconds; forking a warm one about one. Each worker runs one job
at a time, so a program that wedges its worker only loses its own job: the pool notices (EOF or a missed
deadline), kills both sandboxes, reports that job as a ``sandbox_error`` and starts a fresh worker. A worker that
reports its scratch space damaged is replaced before its next job. Where a cgroup can be made, each worker's
program sandbox gets one (``cgroups``): memory and process limits for the whole sandbox.
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures
import json
import logging
import os
import queue
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from lm_eval_tts.execution import cgroups, exposure, isolation
from lm_eval_tts.execution.isolation import Limits
from lm_eval_tts.execution.wire import HEADER

log = logging.getLogger(__name__)
_HERE = Path(__file__).parent
# How long past a job's own total timeout the pool waits before declaring the sandbox wedged.
_GRACE_SECONDS = 10.0
# A next job is queued at a busy driver only if it is small: it then fits in the socket buffer and writing it never
# blocks (while the driver may be blocked writing a big result that this thread has not read yet).
_PIPELINE_MAX_BYTES = 16 * 1024
_MAX_RESULT_BYTES = 1 << 30
_CGROUP_SLACK_MB = 64  # the fork server's own pages and a program process's copies of them
_CGROUP_SLACK_PIDS = 8  # the launcher, the fork server and a program process's helpers

# Modules each sandbox needs, in dependency order. The package directory is hidden inside the sandbox, so their
# sources travel on the command line (one argument, well under Linux's 128 KB per-argument limit) and are
# registered under their usual names before the entry point runs.
_SANDBOX_MODULES = {
    "forkserver": ("codec", "wire", "confine", "program", "forkserver"),
    "driver": ("codec", "wire", "confine", "program", "checker", "driver"),
}


def _bootstrap_source(role: str) -> str:
    """Source passed to ``python -c`` inside the sandbox; its entry point gets the JSON config of argv[1]."""
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
    for name in _SANDBOX_MODULES[role]:
        lines.append(f"_m = _load({name!r}, {(_HERE / (name + '.py')).read_text()!r})")
    lines.append("_m.main(__import__('json').loads(sys.argv[1]))")
    return "\n".join(lines) + "\n"


class SandboxError(RuntimeError):
    """The sandbox itself could not be started."""


def _limits_config(limits: Limits) -> dict:
    return {"memory_mb": limits.memory_mb, "file_size_mb": limits.file_size_mb, "open_files": limits.open_files,
            "result_bytes": limits.result_bytes, "output_bytes": limits.output_bytes}


class _Worker:
    """One worker: the fork server's and the driver's sandboxes, and the socket to the driver (evaluator side)."""

    def __init__(self, mode: str, limits: Limits, scratch: str, program_namespaces: bool, shared_nproc: int | None,
                 cpu: int | None):
        self.cpu = cpu
        self.cgroup = cgroups.create((limits.memory_mb + _CGROUP_SLACK_MB) << 20,
                                     limits.max_processes + _CGROUP_SLACK_PIDS)
        self.stderr = tempfile.TemporaryFile()
        self.sock, driver_end = socket.socketpair()
        driver_spawner, spawner_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        uid = isolation.drop_to_uid(mode)
        private = mode == "bwrap"
        job_dir = os.path.join(scratch, "job")
        programs = {
            "fd": spawner_end.fileno(),
            "limits": _limits_config(limits),
            "per_program_namespaces": program_namespaces,
            "nproc_limit": limits.max_processes,
            "shared_nproc_limit": None if self.cgroup else shared_nproc,
            "scratch_mb": limits.scratch_mb,
            "shm_mb": limits.shm_mb,
            "job_dir": job_dir,
            "wipe_dirs": ["/tmp", "/dev/shm"] if private else [scratch],
            "check_free": private,
            "private_ipc": mode != "rlimits",
            "drop_to_uid": uid,
            # a lower uid may lack access to the stdlib (e.g. under a 0700 /root); bwrap binds it on dirs of its own
            "stdlib_may_be_unreadable": uid is not None and not private,
            "package_paths": exposure.import_paths(mode),
        }
        driver = {"evaluator_fd": driver_end.fileno(), "spawner_fd": driver_spawner.fileno(),
                  "limits": _limits_config(limits), "drop_to_uid": uid}
        python = os.path.realpath(sys.executable)
        cwd = "/" if private else scratch
        env = isolation.sandbox_env("/tmp" if private else scratch)
        self.processes = []
        try:
            for role, cfg, fds, scratch_mb in (("forkserver", programs, (spawner_end,), limits.scratch_mb),
                                               ("driver", driver, (driver_end, driver_spawner), 16)):
                argv = isolation.worker_argv(mode, python, ["-c", _bootstrap_source(role), json.dumps(cfg)],
                                             scratch_mb=scratch_mb)
                self.processes.append(subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self.stderr,
                    pass_fds=[f.fileno() for f in fds], start_new_session=True, env=env, cwd=cwd,
                ))
        except OSError as e:
            self.kill()
            raise SandboxError(f"cannot start the sandbox ({mode}): {e}") from e
        finally:
            for f in (driver_end, driver_spawner, spawner_end):
                f.close()
        self.buf = bytearray()
        hello = self.receive(time.monotonic() + 60)
        if hello is None or "hello" not in hello:
            self.kill()
            raise SandboxError(f"sandbox worker ({mode}) failed to start: {self.stderr_tail()}")
        self.hello = hello["hello"]
        if self.cgroup:  # nothing runs in the sandbox yet but the fork server: move the whole sandbox in
            self.cgroup.add([self.processes[0].pid, *_descendants(self.processes[0].pid)])
        if cpu is not None:
            self._pin(cpu)

    def _pin(self, cpu: int) -> None:
        """Keep both sandboxes (and so every program the fork server forks) on one CPU: the driver, the fork server
        and the program hand work to each other many times per program, and a hand-over to another CPU costs an
        inter-processor wake-up (bench_sandbox: 8% more programs/s pinned). Only a speed-up: a failure is ignored,
        and a program may move itself (it gets no more CPU time than its rlimit and timeouts allow anyway)."""
        for proc in self.processes:
            for pid in [proc.pid, *_descendants(proc.pid)]:
                try:
                    os.sched_setaffinity(pid, {cpu})
                except OSError:
                    pass

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.processes)

    def stderr_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read()[-2000:].decode(errors="replace").strip()

    def send(self, data: bytes) -> bool:
        """Send one encoded job; False if the driver is gone."""
        try:
            self.sock.sendall(HEADER.pack(len(data)) + data)
            return True
        except OSError:
            return False

    def receive(self, deadline: float) -> dict | None:
        """Next frame, or None on EOF / deadline / garbage."""
        while True:
            if len(self.buf) >= HEADER.size:
                size = HEADER.unpack_from(self.buf)[0]
                if size > _MAX_RESULT_BYTES:
                    return None
                if len(self.buf) >= HEADER.size + size:
                    body = bytes(self.buf[HEADER.size : HEADER.size + size])
                    del self.buf[: HEADER.size + size]
                    try:
                        frame = json.loads(body)
                    except (ValueError, RecursionError):  # a corrupted driver: treat it as lost
                        return None
                    return frame if isinstance(frame, dict) else None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self.sock], [], [], remaining)
            if ready:
                try:
                    chunk = self.sock.recv(1 << 20)
                except OSError:
                    return None
                if not chunk:
                    return None
                self.buf += chunk

    def kill(self) -> None:
        """Kill both launchers and everything below them. A fork server must be killed directly: as PID 1 of its
        namespace that dropped privileges it does not reliably die with bwrap."""
        for proc in self.processes:
            for pid in [proc.pid, *_descendants(proc.pid)]:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        for proc in self.processes:
            proc.wait()
        self.sock.close()
        self.stderr.close()
        if self.cgroup:
            self.cgroup.remove()

    def pids(self) -> list[int]:
        return [p.pid for p in self.processes]


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


_said_shared: list[bool] = []


class SandboxPool:
    """Warm workers running jobs (dicts understood by ``driver.py``) in parallel, one job per worker.

    ``program_namespaces=False`` runs programs without their own namespaces, as on a machine that refuses them
    (each worker then wipes and checks one shared scratch dir between programs); it exists to test that path."""

    def __init__(
        self, workers: int | None = None, limits: Limits = Limits(), mode: str | None = None,
        grace_seconds: float = _GRACE_SECONDS, program_namespaces: bool = True,
    ):
        self.mode = mode or isolation.detect_mode()
        if self.mode not in isolation.available_modes():
            raise SandboxError(f"sandbox mode {self.mode!r} is not available here ({isolation.available_modes()})")
        self.limits = limits
        self.grace_seconds = grace_seconds
        self.program_namespaces = program_namespaces
        self.size = max(1, workers or os.cpu_count() or 1)
        self._lock = threading.Lock()
        self._scratch = "/tmp/sandbox" if self.mode == "bwrap" else tempfile.mkdtemp(prefix="lm-eval-tts-sandbox-")
        self._own_scratch = self.mode != "bwrap"
        uid = isolation.drop_to_uid(self.mode)
        if self._own_scratch and uid is not None:
            os.chown(self._scratch, uid, uid)
        self._shared_nproc = isolation.nproc_limit(self.mode, limits) + 4 * self.size
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._launcher = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sandbox-launcher")
        self.restarts = 0
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        for k in range(self.size):  # worker k on the k-th CPU this process may use (round robin)
            self._add_worker(cpus[k % len(cpus)] if cpus else None)
        self.isolated = self._all[0].hello.get("isolated", False)
        if not self.isolated and program_namespaces and not _said_shared:
            _said_shared.append(True)
            log.warning("programs cannot get their own namespaces here (%s): each worker's programs share one "
                        "scratch dir and IPC namespace, wiped and checked after every program",
                        self._all[0].hello.get("why_not", "unknown"))

    def _add_worker(self, cpu: int | None) -> None:
        # Started from one long-lived thread: the sandboxes die with the thread that started them (bubblewrap's
        # --die-with-parent and PR_SET_PDEATHSIG follow the parent *thread*), and a job thread ends with its batch.
        w = self._launcher.submit(_Worker, self.mode, self.limits, self._scratch, self.program_namespaces,
                                  self._shared_nproc, cpu).result()
        with self._lock:
            self._all.append(w)
        self._idle.put(w)

    def _replace(self, w: _Worker) -> None:
        w.kill()
        with self._lock:
            if w not in self._all:  # already replaced
                return
            self._all.remove(w)
            self.restarts += 1
        self._add_worker(w.cpu)

    def _take_worker(self) -> _Worker:
        w = self._idle.get()
        if not w.alive():  # died while idle (weak modes: e.g. a program's kill(-1) as the same uid)
            self._replace(w)
            w = self._idle.get()
        return w

    def run_one(self, job: dict) -> dict:
        """Run one job on an idle worker; never raises for anything the program does."""
        return self.run([job])[0]

    def run(self, jobs: Sequence[dict], on_result: Callable[[int, dict], None] | None = None) -> list[dict]:
        """Run jobs in parallel over the workers; results in the order of jobs. Never raises for anything a program
        does: a job whose worker was lost gets ``{"worker_error": ...}``. Where the sandbox has a memory cgroup, a
        result also says how many of its processes the kernel killed for memory (``oom_kills``).

        ``on_result(i, result)`` is called once per job as its result arrives, in the thread that feeds that
        worker, once the worker has its next job: what it does (grading the result) overlaps the sandboxes' work
        instead of waiting for the whole batch."""
        results: list[dict | None] = [None] * len(jobs)
        todo: queue.Queue[int] = queue.Queue()
        for i in range(len(jobs)):
            todo.put(i)
        errors: list[BaseException] = []
        retried: set[int] = set()

        def drain():
            try:
                self._stream(jobs, todo, results, on_result, retried)
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

    def _stream(self, jobs, todo, results, on_result, retried) -> None:
        """Feed one worker from `todo` until it is empty. A small next job is queued at the driver while the
        current one runs, so it never waits for this thread; if the worker is lost, the running job fails and the
        queued (never started) one goes back to `todo`."""
        w = self._take_worker()
        inflight: collections.deque[int] = collections.deque()
        head_since = time.monotonic()
        oom_before = w.cgroup.oom_kills() if w.cgroup else 0
        arrived = None  # a job whose result goes to on_result once the worker has its next job
        try:
            while True:
                while len(inflight) < 2:  # the running job, and at most one small job waiting in the socket
                    try:
                        i = todo.get_nowait()
                    except queue.Empty:
                        break
                    data = json.dumps(jobs[i]).encode()
                    if inflight and len(data) >= _PIPELINE_MAX_BYTES:  # could fill the buffer: send it later
                        todo.put(i)
                        break
                    if not inflight:
                        head_since = time.monotonic()
                    if not w.send(data) and inflight:  # driver gone; the running job's fate tells the rest
                        todo.put(i)
                        break
                    inflight.append(i)
                if arrived is not None and on_result:
                    on_result(arrived, results[arrived])
                arrived = None
                if not inflight:
                    return
                i = inflight[0]
                result = w.receive(head_since + jobs[i]["total"] + self.grace_seconds)
                lost = result is None or result.get("id") != jobs[i]["id"]
                if lost:
                    result = {"id": jobs[i]["id"], "worker_error":
                              f"sandbox worker lost (stderr: {w.stderr_tail()[-300:]})"}
                if w.cgroup:
                    oom_now = w.cgroup.oom_kills()
                    result["oom_kills"], oom_before = oom_now - oom_before, oom_now
                inflight.popleft()
                head_since = time.monotonic()
                if result.get("not_started") and i not in retried:  # lost before it started: once more elsewhere
                    retried.add(i)
                    todo.put(i)
                else:
                    results[i] = result
                    arrived = i
                if lost or result.get("unhealthy"):
                    while inflight:  # queued behind, never started: run them elsewhere
                        todo.put(inflight.popleft())
                    self._replace(w)
                    w = self._take_worker()
                    oom_before = w.cgroup.oom_kills() if w.cgroup else 0
        except BaseException:
            self._replace(w)
            w = self._take_worker()
            raise
        finally:
            self._idle.put(w)

    def worker_pids(self) -> list[int]:
        """Host pids of the sandbox launchers (bwrap / unshare / the process itself), e.g. to check for leftovers."""
        with self._lock:
            return [pid for w in self._all for pid in w.pids()]

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for w in workers:
            w.kill()
        self._launcher.shutdown(wait=False)
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
