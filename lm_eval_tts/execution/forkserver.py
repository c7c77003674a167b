"""The fork server that runs inside the sandbox (bubblewrap, or a weaker mode). Stdlib only.

The evaluator starts one per core (``pool.py``) and sends jobs as frames (``wire``). The fork server itself never
runs untrusted code: for every program it forks a fresh process that confines itself (``confine``) and only then
compiles and runs the program (``program``). Results leave that process only as plain data (``codec``) or raw
stdout bytes, and every verdict is computed outside it:

* ``stdio``  - one program process per test, stdin from the test, stdout returned to the evaluator, which compares.
* ``call``   - one program process serves calls; the fork server sends each test's arguments and returns the
               encoded results to the evaluator, which compares them with the expected values.
* ``assert`` - one program process serves calls while the fork server runs the dataset's assert statements
               (``checker``), the program's names being proxies that only ever return plain data.

The fork server makes itself non-dumpable (processes of the same uid cannot ptrace it or open ``/proc/<pid>/fd``)
and, in the namespace modes, is PID 1 of its own PID namespace: programs cannot signal it, and ``kill(-1,
SIGKILL)`` removes every process a job left behind.
"""

import gc
import os
import select
import signal
import socket
import sys
import tempfile
import time
import traceback

from lm_eval_tts.execution.checker import Channel, RemoteError, RemoteTimeout, check_asserts
from lm_eval_tts.execution.confine import (
    PR_SET_CHILD_SUBREAPER,
    PR_SET_DUMPABLE,
    PR_SET_PDEATHSIG,
    enter_limits,
    prctl,
)
from lm_eval_tts.execution.program import describe, run_script, serve_calls
from lm_eval_tts.execution.wire import read_frame, write_frame

_STDERR_TAIL = 2000
# Imported once here so forked programs get them for free (and, when the fork server dropped to an unprivileged
# uid in a weak mode, even if the interpreter's stdlib directory is not readable for that uid).
_PREIMPORT = (
    "array bisect collections copy datetime decimal fractions functools heapq itertools math operator random re "
    "statistics string typing cmath numbers textwrap unicodedata dataclasses enum queue"
).split()


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
        # "eof" once the program closed its stdout (normally: it exited)
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
        """Fork a program process serving calls, its output going to a size-capped file.
        Returns (pid, Channel, output file)."""
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
        if over:  # the program process was killed by SIGXFSZ: that's why it "died"
            fatal = {"kind": "output_limit", "detail": "program output exceeded the file-size limit"}
            for r in results:
                if r.get("error") == "runtime_error" or r.get("kind") == "runtime_error":
                    r.update(error="output_limit", kind="output_limit")
        return {"results": results, "fatal": fatal, "output": tail}

    def run_call(self, job):
        """Functional tests: send each test's arguments, return the encoded results for the evaluator to compare."""
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
            if fatal:  # the program process is stuck or gone: the remaining tests cannot run
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
                result = {"worker_error": describe(e) + "\n" + traceback.format_exc()[-1500:]}
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
    """Entry point inside the sandbox: protocol fds, privilege drop, then serve jobs until EOF."""
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
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the launcher (bwrap/unshare); a uid change cleared it
    prctl(PR_SET_DUMPABLE, 0)
    if os.getpid() != 1:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    os.makedirs(cfg["scratch_root"], exist_ok=True)
    os.chmod(cfg["scratch_root"], 0o700)
    os.chdir(cfg["scratch_root"])
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    write_frame(wfd, {"hello": os.getpid(), "uid": os.getuid()})
    gc.freeze()  # keep the start-up heap out of every child's garbage collections (fewer copy-on-write faults)
    Worker(cfg, rfd, wfd).serve()

