"""The driver: the trusted process that runs jobs for one worker. Stdlib only.

It lives in a sandbox of its own (bubblewrap, or the weaker mode in use), so programs cannot see it: it is in
another PID namespace than they are, holds no descriptor they hold, and is non-dumpable. The evaluator sends it
whole jobs (program, test inputs, assert statements); it asks the fork server for one fresh program process per
program (per test for stdin tests), handing over a sealed memory file with the program text and the other
descriptors, and then feeds the program process only the input of the call it is making, one call at a time:

* ``stdio``  - one program process per test, stdin a sealed memory file with that test's input; stdout is returned.
* ``call``   - one program process; each test's arguments are sent after the previous test's value came back;
               values are returned as canonical codec text (the evaluator, which alone holds the expected
               outputs, decodes and compares them).
* ``assert`` - one program process; the dataset's asserts run here (``checker``), the program's names being
               proxies that only ever return plain data.

Every value is validated and rebuilt here (``codec``: linear time, no hash flooding), values (and stdout) are capped
at ``result_bytes`` each and ``output_bytes`` per job, and each test has a deadline, so a job ends within its time
limit and its memory whatever the program returns. After each program the driver asks the fork server to kill
everything the program started before the next one starts.
"""

import fcntl
import json
import os
import select
import signal
import socket
import time

from lm_eval_tts.execution import codec
from lm_eval_tts.execution.checker import Channel, RemoteError, RemoteTimeout, check_asserts, referenced_names
from lm_eval_tts.execution.confine import PR_SET_DUMPABLE, PR_SET_PDEATHSIG, join_fresh_session_keyring, prctl
from lm_eval_tts.execution.wire import recv_message, send_message, sock_recv, sock_send

_STDERR_TAIL = 2000
_SEALS = fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE
_EXIT_GRACE = 0.05  # after a program closed its stdout, how long its exit status may take to arrive
_SPAWNER_TIMEOUT = 30.0  # a fork server that does not answer a request within this (plus the wait) is lost


class SandboxFault(Exception):
    """The sandbox, not the program, failed (fork server lost, a program process could not be confined)."""


def _sealed(name, data):
    """A read-only memory file holding `data` (the program process reads it; nobody can change it)."""
    fd = os.memfd_create(name, os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
    fcntl.fcntl(fd, fcntl.F_ADD_SEALS, _SEALS)
    os.lseek(fd, 0, os.SEEK_SET)  # the program process reads it (as stdin) from the start
    return fd


def _output_file():
    """A memory file for a program's diagnostic output (capped by its file-size limit)."""
    return os.memfd_create("output", os.MFD_CLOEXEC)


def _tail(fd, file_limit):
    """(last bytes of a program's output file, whether it reached the file-size limit); closes the file."""
    size = os.fstat(fd).st_size
    tail = os.pread(fd, _STDERR_TAIL, max(0, size - _STDERR_TAIL))
    os.close(fd)
    return tail.decode("utf-8", errors="replace"), size >= file_limit


class Driver:
    """Runs one job at a time (``run``) with the fork server at the other end of `spawner`."""

    def __init__(self, cfg, spawner, isolated):
        self.spawner = spawner
        self.isolated = isolated  # programs have their own namespaces: nothing to check after each one
        self.deferred = False  # a finish request whose reply is still to be read
        self.spawned = False  # whether the current job has started a program
        self.limits = cfg["limits"]
        self.file_limit = cfg["limits"]["file_size_mb"] * 1024 * 1024
        self.unhealthy = None
        self.devnull = os.open(os.devnull, os.O_RDONLY)

    # -- talking to the fork server
    def _spawn(self, mode, spec_fd, cpu, stdin_fd, out_fd, err_fd, ctl_fd=None):
        self._collect()
        fds = [spec_fd, stdin_fd, out_fd, err_fd] + ([ctl_fd] if ctl_fd is not None else [])
        try:
            send_message(self.spawner, {"op": "spawn", "mode": mode, "cpu": cpu}, fds)
        except OSError as e:
            raise SandboxFault(f"fork server lost ({e})") from None
        self.spawned = True

    def _finish(self, wait):
        """Let the fork server end the current program: its exit status (None if it had to be killed)."""
        self._request_finish(wait)
        return self._finish_reply(wait)

    def _finish_later(self):
        """End the current program without waiting: its result can go out while the fork server cleans up. Only
        where there is nothing to learn from the reply: programs have their own namespaces (no scratch to check)
        and this one answered (so it was confined)."""
        self._request_finish(0.0)
        self.deferred = True

    def _collect(self):
        if self.deferred:
            self.deferred = False
            self._finish_reply(0.0)

    def _request_finish(self, wait):
        self._collect()
        try:
            send_message(self.spawner, {"op": "finish", "wait": wait})
        except OSError as e:
            raise SandboxFault(f"fork server lost ({e})") from None

    def _finish_reply(self, wait):
        self.spawner.settimeout(wait + _SPAWNER_TIMEOUT)
        try:
            finished, _ = recv_message(self.spawner)
        except (OSError, ValueError) as e:
            raise SandboxFault(f"fork server lost ({e})") from None
        if finished is None or "status" not in finished:
            raise SandboxFault(f"fork server lost ({finished})")
        if finished.get("setup") != "ok":
            self.unhealthy = "a program process could not be confined"
            raise SandboxFault(f"program process could not be confined: {finished.get('setup', '')[-400:]}")
        if finished.get("unhealthy"):
            self.unhealthy = finished["unhealthy"]
        return finished.get("status")

    # -- stdin tests
    def run_stdio(self, job):
        spec = _sealed("program", job["program"].encode("utf-8", errors="surrogatepass"))
        runs = []
        start = time.monotonic()
        bytes_left = self.limits["output_bytes"]
        try:
            for stdin_text in job["inputs"]:
                budget = min(job["per_test"], job["total"] - (time.monotonic() - start))
                if budget <= 0:
                    break
                cap = min(self.limits["result_bytes"], bytes_left)
                run, printed = self._run_script_once(spec, stdin_text, budget, cap)
                runs.append(run)
                bytes_left -= printed
                if run["status"] == "syntax" or (run["status"] == "output_limit" and bytes_left <= 0):
                    break  # the job's output budget is spent: the remaining tests cannot print anything
        finally:
            os.close(spec)
        return {"runs": runs}

    def _run_script_once(self, spec, stdin_text, budget, max_bytes):
        """One run of a script on one input: (its result, the number of bytes it printed)."""
        stdin = _sealed("stdin", stdin_text.encode("utf-8", errors="surrogatepass"))
        r, w = os.pipe()
        err = _output_file()
        t0 = time.monotonic()
        try:
            self._spawn("script", spec, budget, stdin, w, err)
        finally:
            os.close(stdin)
            os.close(w)
        out, state = self._read_capped(r, t0 + budget, max_bytes)
        os.close(r)
        seconds = time.monotonic() - t0
        # "eof" once the program closed its stdout (normally: it exited)
        status = self._finish(_EXIT_GRACE if state == "eof" else 0.0)
        tail, _ = _tail(err, self.file_limit)
        result = {"stdout": out.decode("utf-8", errors="replace"), "seconds": round(seconds, 4), "stderr_tail": tail}
        if state == "output_limit":
            result["status"] = "output_limit"
        elif status is None:
            result["status"] = "timeout"
        elif "signal" in status:
            sig = status["signal"]
            result["status"] = {signal.SIGXCPU: "timeout", signal.SIGXFSZ: "output_limit"}.get(sig, "signal")
            result["signal"] = sig
        else:
            code = status["exit"]
            result["status"] = "syntax" if code == 3 and tail.startswith("SyntaxError") else "exit"
            result["code"] = code
        if result["status"] != "exit" or result.get("code"):
            result["stdout"] = ""
        return result, len(out)

    @staticmethod
    def _read_capped(fd, deadline, max_bytes):
        """Read a program's stdout until EOF, the deadline or `max_bytes`: (bytes, "eof"|"timeout"|...)."""
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
                if len(out) > max_bytes:
                    return bytes(out[:max_bytes]), "output_limit"

    # -- call and assert tests: one program process serving requests
    def _start_server(self, job, names):
        """A program process serving requests; it will announce which of `names` it defines (and their values)."""
        source = job.get("prelude", "") + "\n" + job["program"]
        spec = _sealed("program", source.encode("utf-8", errors="surrogatepass"))
        mine, theirs = socket.socketpair()
        out = _output_file()
        try:
            self._spawn("serve", spec, job["total"], self.devnull, out, out, theirs.fileno())
        finally:
            os.close(spec)
            theirs.close()
        try:
            sock_send(mine, {"names": sorted(names)})  # waits in the socket until the program is loaded
        except (BrokenPipeError, ConnectionResetError):
            pass  # the program already ended (e.g. its source did not compile): what it sent first is still readable
        return Channel(mine, self.limits, time.monotonic() + job["total"]), out

    def _finish_server(self, channel, out, results, fatal):
        channel.sock.close()
        if self.isolated and channel.answered:
            self._finish_later()
        else:
            self._finish(0.0)
        tail, over = _tail(out, self.file_limit)
        if over:  # the program process was killed by SIGXFSZ: that's why it "died"
            fatal = {"kind": "output_limit", "detail": "program output exceeded the file-size limit"}
            for r in results:
                if r.get("error") == "runtime_error" or r.get("kind") == "runtime_error":
                    r.update(error="output_limit", kind="output_limit")
        return {"results": results, "fatal": fatal, "output": tail}

    def run_call(self, job):
        """Functional tests: each test's arguments in turn; the values go back as canonical text, compared by the
        evaluator."""
        channel, out = self._start_server(job, ())
        calls = [{"op": "invoke", "target": job["target"], "args": args} for args in job["args"]]
        results, fatal = [], None
        channel.start_test(job["per_test"])
        try:
            if calls:  # the first call waits in the socket while the program loads
                channel.send(calls[0])
            hello = channel.receive()
            if "ready" not in hello:
                fatal = {"kind": hello.get("error", "runtime_error"), "detail": hello.get("detail", "")}
        except RemoteTimeout:
            fatal = {"kind": "timeout", "detail": "program did not finish loading"}
        except RemoteError as e:
            fatal = {"kind": e.kind, "detail": str(e)}
        for i, call in enumerate(calls if fatal is None else ()):
            channel.start_test(job["per_test"])
            try:
                reply = channel.receive() if i == 0 else channel.request(call)
                results.append(_call_result(reply))
            except RemoteTimeout:
                fatal = {"kind": "timeout", "detail": f"test {i} exceeded {job['per_test']} s"}
            except RemoteError as e:
                results.append({"error": e.kind, "detail": str(e)})
                if e.fatal:
                    fatal = {"kind": e.kind, "detail": str(e)}
            if fatal:  # the program process is stuck or gone: the remaining tests cannot run
                break
        return self._finish_server(channel, out, results, fatal)

    def run_assert(self, job):
        channel, out = self._start_server(job, referenced_names(job))
        results, fatal = check_asserts(job, channel)
        return self._finish_server(channel, out, results, fatal)

    def run(self, job):
        handler = {"stdio": self.run_stdio, "call": self.run_call, "assert": self.run_assert}[job["kind"]]
        self.spawned = False
        try:
            result = handler(job)
        except SandboxFault as e:
            self.unhealthy = self.unhealthy or str(e)
            # e.g. the fork server was lost cleaning up after the previous job: this one never ran, run it again
            result = {"worker_error": str(e), "not_started": not self.spawned}
        if self.unhealthy:
            result["unhealthy"] = self.unhealthy
        result["id"] = job["id"]
        return result


def _call_result(reply):
    """A program's reply to one call: {"v": canonical text} or {"error", "detail"}. A value built to be slow to
    decode ends the job (fatal): each further one would cost the same."""
    if "v" not in reply:
        return {"error": str(reply.get("error", "runtime_error")), "detail": str(reply.get("detail", ""))[:500]}
    try:
        return {"v": codec.canonical_reply(reply["v"])}
    except codec.SlowToDecode as e:
        raise RemoteError("wrong_answer", f"result is not plain data ({e})", fatal=True) from None
    except codec.NotPlainData as e:
        return {"error": "wrong_answer", "detail": f"result is not plain data ({e})"}


def main(cfg):
    """Entry point inside the driver's sandbox: fds from the config are the evaluator's and the fork server's
    sockets; relay the fork server's hello, then run jobs until the evaluator hangs up."""
    evaluator = socket.socket(fileno=cfg["evaluator_fd"])
    spawner = socket.socket(fileno=cfg["spawner_fd"])
    if cfg.get("drop_to_uid") is not None:
        os.setgroups([])
        os.setgid(cfg["drop_to_uid"])
        os.setuid(cfg["drop_to_uid"])
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_DUMPABLE, 0)
    join_fresh_session_keyring()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    spawner.settimeout(60)
    try:
        hello, _ = recv_message(spawner)
    except (OSError, ValueError):
        hello = None
    if not hello:
        return
    spawner.settimeout(None)
    sock_send(evaluator, {"hello": hello})
    driver = Driver(cfg, spawner, hello.get("isolated", False))
    while True:
        raw = sock_recv(evaluator, 1 << 40)
        if raw is None:
            return
        sock_send(evaluator, driver.run(json.loads(raw)))
