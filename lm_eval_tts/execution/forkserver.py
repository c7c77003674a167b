"""The fork server: a warm interpreter inside the sandbox that forks one fresh process per program. Stdlib only.

It is a pure spawner. Its only peer is the driver (``driver.py``), which sends two requests over a SOCK_SEQPACKET
socket: ``spawn`` (with the program process's descriptors attached: a sealed memory file holding the program
source, stdin, stdout, stderr and, for call tests, a socket to the driver) and ``finish`` (wait briefly for the
program to exit, then kill everything it started; the reply has its exit status). The fork server never reads
those descriptors, so no program text, test input or expected value of any job ever enters its memory: every
program process is forked from the same clean image, and what it can find in its own address space is only what
it was given.

Each program process confines itself (``confine``) before running any untrusted code: its own user, mount and IPC
namespaces (a read-only filesystem with a fresh private /tmp and /dev/shm that vanish with it), a fresh session
keyring, rlimits, no capabilities. Where the kernel refuses those namespaces (e.g. an AppArmor policy against
unprivileged user namespaces) the fork server says so in its hello and falls back to one scratch dir that it wipes
after every program and checks; a worker whose scratch space it cannot restore reports itself unhealthy and is
replaced by the pool before its next job.

In the namespace modes the fork server is PID 1 of the sandbox's PID namespace with no signal handlers, so the
kernel drops every signal a program sends it, and ``kill(-1, SIGKILL)`` removes every process a program left
behind. It is non-dumpable: programs (same uid) can neither ptrace it nor open its ``/proc/<pid>`` files.
"""

import ctypes
import gc
import json
import os
import select
import signal
import site
import socket
import stat
import sys
import time
import traceback

from lm_eval_tts.execution.confine import (
    PR_SET_CHILD_SUBREAPER,
    PR_SET_DUMPABLE,
    PR_SET_PDEATHSIG,
    Confinement,
    clear_keyrings,
    join_fresh_session_keyring,
    place_fds,
    prctl,
)
from lm_eval_tts.execution.program import read_source, run_script, serve_calls
from lm_eval_tts.execution.wire import recv_message, send_message

# Imported once here so forked programs get them for free (and, when the fork server drops to an unprivileged
# host uid in a weak mode, even if the interpreter's stdlib directory is not readable for that uid). Not modules
# that register an after-fork handler, which every program process would run: ``queue`` (it imports
# ``threading``, whose handler alone doubles the pages a program process copies), and ``random`` and ``statistics``
# (which imports it), whose reseeding at every fork made fork + exit 1.6x slower (460 vs 287 us) -- except where
# a program could not import them itself (``_UNREADABLE_STDLIB``). No MBPP/MBPP+ program imports either; one that
# does gets a fresh seed from its own import, as in a new interpreter.
_PREIMPORT = (
    "array bisect collections copy datetime decimal fractions functools heapq itertools math operator re "
    "string typing cmath numbers textwrap unicodedata dataclasses enum"
).split()
_UNREADABLE_STDLIB = ["random", "statistics"]
_SPAWN_FDS = 5  # program spec, stdin, stdout, stderr, [socket to the driver]
_SYSV = {"shm": 0, "sem": 1, "msg": 2}  # /proc/sysvipc files -> which *ctl(IPC_RMID) removes their entries
_IPC_RMID = 0
_MAX_DEPTH = 400  # directory levels the scratch wipe descends (one descriptor each)


class Spawner:
    def __init__(self, cfg, sock):
        self.cfg = cfg
        self.sock = sock
        self.is_init = os.getpid() == 1
        self.program = None  # pid of the current program process
        self.setup_pipe = None  # read end: "ok" once the program process is confined, else why it could not be
        self.spawn_error = None
        self.isolated, self.why_not = False, "not asked for"
        self.confinement = Confinement(cfg["limits"], cfg["nproc_limit"], cfg["scratch_mb"], cfg["shm_mb"])
        if cfg["per_program_namespaces"]:
            self.isolated, self.why_not = self._probe()
        if not self.isolated:  # the limit counts the uid's processes, where no pids cgroup does the job (None)
            self.confinement = Confinement(cfg["limits"], cfg["shared_nproc_limit"], cfg["scratch_mb"], cfg["shm_mb"])
            self._restore_scratch()

    # -- program processes
    def _probe(self):
        """Can a program process get its own namespaces here? Tried once, in a throwaway child."""
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            try:
                self.confinement.enter_namespaces()
            except BaseException as e:  # noqa: BLE001 - reported to the parent
                os.write(w, str(e)[:500].encode())
                os._exit(1)
            os._exit(0)
        os.close(w)
        why = os.read(r, 1000).decode(errors="replace")
        os.close(r)
        _, status = os.waitpid(pid, 0)
        ok = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        return ok, "" if ok else (why or f"probe process status {status}")

    def spawn(self, msg, fds):
        """Fork a program process with these descriptors; nothing is answered (the driver learns how it went from
        ``finish``: a program process that never started gives it EOF at once)."""
        if len(fds) < 4:
            _close(fds)
            self.spawn_error = "spawn needs 4 or 5 descriptors"
            return
        r, w = os.pipe()
        try:
            pid = os.fork()
        except OSError as e:  # e.g. out of processes: that program fails as a sandbox error
            _close(fds + [r, w])
            self.spawn_error = f"cannot fork a program process ({e})"
            return
        if pid == 0:
            os.close(r)
            self._child(msg, fds, w)  # never returns
        os.close(w)
        _close(fds)
        self.program, self.setup_pipe = pid, r

    def _child(self, msg, fds, report):
        """In the forked child: confine, report "ok" (or why not) on the setup pipe and close it, run the program.
        Never returns."""
        cfg = self.cfg
        try:
            source = read_source(fds[0])
            if self.isolated:
                self.confinement.enter_namespaces()
            program_fds = list(fds[1:])
            place_fds(program_fds + [report])
            report = len(program_fds)
            self.confinement.enter_limits(msg["cpu"], "/tmp" if self.isolated else cfg["job_dir"])
        except BaseException:  # noqa: BLE001 - a child must never return into the server loop
            try:
                os.write(report, traceback.format_exc()[-1000:].encode())
            finally:
                os._exit(70)
        os.write(report, b"ok")
        os.close(report)
        if msg["mode"] == "script":
            run_script(source)
        else:
            serve_calls(source, socket.socket(fileno=3), cfg["limits"]["result_bytes"])
        os._exit(0)

    def finish(self, msg):
        """Wait up to msg["wait"] s for the program process to exit (its status), kill all it started, make sure the
        next program starts from the same state."""
        status = self._wait(msg.get("wait", 0.0))
        setup, self.spawn_error = self.spawn_error or self._setup_report(), None
        if self.isolated:  # nothing to restore: the killing can wait until the reply is sent (``clean_up``)
            return {"status": status, "setup": setup, "unhealthy": None}
        self.clean_up()  # files of killed processes are freed when they are gone
        return {"status": status, "setup": setup, "unhealthy": self._restore_scratch()}

    def _setup_report(self):
        if self.setup_pipe is None:
            return "no program"
        os.set_blocking(self.setup_pipe, False)
        try:
            report = os.read(self.setup_pipe, 2000).decode(errors="replace")
        except BlockingIOError:
            report = "program process killed while it was being confined"
        os.close(self.setup_pipe)
        self.setup_pipe = None
        return report or "program process died while it was being confined"

    def _wait(self, seconds):
        """Exit status of the program process as {"exit": code} / {"signal": n}, or None if still running."""
        pid = self.program
        if pid is None:
            return None
        deadline = time.monotonic() + seconds
        pidfd = _pidfd(pid) if seconds > 0 else None
        try:
            while True:
                done, status = os.waitpid(pid, os.WNOHANG)
                if done:
                    self.program = None
                    if os.WIFSIGNALED(status):
                        return {"signal": os.WTERMSIG(status)}
                    return {"exit": os.WEXITSTATUS(status)}
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                if pidfd is not None:
                    select.select([pidfd], [], [], remaining)
                else:
                    time.sleep(min(remaining, 0.0002))
        finally:
            if pidfd is not None:
                os.close(pidfd)

    def _kill_everything(self):
        """Kill every process the program started (also double-forked daemons). As PID 1 one kill(-1) does it: a
        process with SIGKILL pending runs no more code, and none can fork any more."""
        if self.is_init:
            try:
                os.kill(-1, signal.SIGKILL)  # everyone in our PID namespace except us
            except OSError:
                pass
        else:
            if self.program is not None:
                _kill_group_and_process(self.program)
            while _reap(block=False):  # survivors were orphaned to us (a subreaper): kill until none is left
                for pid in _children():
                    _kill_group_and_process(pid)
                time.sleep(0.001)
        self.program = None

    def clean_up(self):
        """Kill everything the program started and wait until it is gone (before the next program is forked)."""
        self._kill_everything()
        clear_keyrings(user_keyring=not self.isolated)
        while _reap(block=True):
            pass

    # -- the fallback: one scratch dir shared by the worker's programs, wiped and checked after each
    def _restore_scratch(self):
        """Empty the private writable dirs and SysV IPC, recreate the job dir; None if all is as new, else why not."""
        cfg = self.cfg
        for top in cfg["wipe_dirs"]:
            try:
                os.chmod(top, 0o1777 if top in ("/tmp", "/dev/shm") else 0o700)
            except OSError:
                pass
            _empty_dir(top)
        if cfg["private_ipc"]:
            _remove_sysv_ipc()
        job = cfg["job_dir"]
        try:
            os.makedirs(job, mode=0o700, exist_ok=True)
            os.chmod(job, 0o700)
        except OSError as e:
            return f"cannot recreate the job dir: {e}"
        return _scratch_problem(cfg)


def _scratch_problem(cfg):
    try:
        return _find_scratch_problem(cfg)
    except OSError as e:
        return f"scratch space unreadable: {e}"


def _find_scratch_problem(cfg):
    """None if the wiped dirs hold nothing but the (empty, private) job dir and the dirs leading to it."""
    job = cfg["job_dir"]
    st = os.lstat(job)
    if not os.path.isdir(job) or os.path.islink(job) or st.st_uid != os.geteuid() or st.st_mode & 0o777 != 0o700:
        return f"job dir {job} is not a private directory"
    for top in cfg["wipe_dirs"]:
        path = top
        rest = os.path.relpath(job, top).split(os.sep) if job.startswith(top.rstrip("/") + "/") else []
        for expected in rest + [None]:  # each dir on the way down holds only the next one; the job dir nothing
            left = [n for n in os.listdir(path) if n != expected]
            if left:
                return f"{path} could not be emptied ({left[:3]})"
            if expected is not None:
                path = os.path.join(path, expected)
        vfs = os.statvfs(top)
        if cfg["check_free"] and vfs.f_bfree < 0.95 * vfs.f_blocks:
            return f"{top} is not free after wiping ({vfs.f_bfree} of {vfs.f_blocks} blocks)"
    if cfg["private_ipc"] and any(_sysv_ids(kind) for kind in _SYSV):
        return "SysV IPC objects could not be removed"
    return None


def _empty_dir(top):
    """Remove everything below `top` whatever modes a program left, following no links, through directory
    descriptors (no path length limit), down to _MAX_DEPTH levels: a deeper tree stays, the scratch check then
    fails and the pool replaces the worker."""
    try:
        fd = os.open(top, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        stack = [(fd, None, os.listdir(fd))]
    except OSError:
        return
    while stack:
        fd, name, pending = stack[-1]
        if not pending:
            stack.pop()
            os.close(fd)
            if stack:
                try:
                    os.rmdir(name, dir_fd=stack[-1][0])
                except OSError:
                    pass
            continue
        child = pending.pop()
        try:
            if stat.S_ISDIR(os.stat(child, dir_fd=fd, follow_symlinks=False).st_mode):
                if len(stack) < _MAX_DEPTH:
                    os.chmod(child, 0o700, dir_fd=fd)
                    child_fd = os.open(child, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
                    stack.append((child_fd, child, os.listdir(child_fd)))
            else:
                os.unlink(child, dir_fd=fd)
        except OSError:
            pass


def _sysv_ids(kind):
    try:
        with open(f"/proc/sysvipc/{kind}") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        return []
    return [int(line.split()[1]) for line in lines if line.strip()]


def _remove_sysv_ipc():
    libc = ctypes.CDLL(None, use_errno=True)
    calls = {0: libc.shmctl, 1: lambda i, cmd, arg: libc.semctl(i, 0, cmd, arg), 2: libc.msgctl}
    for kind, which in _SYSV.items():
        for ipc_id in _sysv_ids(kind):
            calls[which](ipc_id, _IPC_RMID, None)


def _pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _reap(block):
    """Reap exited children; True while children remain."""
    while True:
        try:
            pid, _ = os.waitpid(-1, 0 if block else os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True
        if block:
            return True


def _children():
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


def _kill_group_and_process(pid):
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass


def _close(fds):
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def _normal_builtins():
    """What ``site`` adds to builtins in a normal interpreter (exit, quit, help, copyright, credits, license),
    without site's sys.path changes (the interpreter runs with -S)."""
    site.setquit()
    site.setcopyright()
    site.sethelper()


def main(cfg):
    """Entry point inside the sandbox: cfg["fd"] is the socket to the driver; privilege drop, then serve requests."""
    sock = socket.socket(fileno=cfg["fd"])
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    for name in _PREIMPORT + (_UNREADABLE_STDLIB if cfg["stdlib_may_be_unreadable"] else []):
        try:
            __import__(name)
        except ImportError:
            pass
    _normal_builtins()
    sys.path.extend(cfg["package_paths"])
    if cfg.get("drop_to_uid") is not None:
        os.setgroups([])
        os.setgid(cfg["drop_to_uid"])
        os.setuid(cfg["drop_to_uid"])
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the launcher (bwrap/unshare); a uid change cleared it
    prctl(PR_SET_DUMPABLE, 0)
    if os.getpid() != 1:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    join_fresh_session_keyring()
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # no handlers at all: as PID 1 the kernel drops programs' signals
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    os.chdir("/")
    spawner = Spawner(cfg, sock)
    send_message(sock, {"hello": os.getpid(), "uid": os.getuid(), "isolated": spawner.isolated,
                        "why_not": spawner.why_not})
    gc.freeze()  # keep the start-up heap out of every child's garbage collections (fewer copy-on-write faults)
    while True:
        msg, fds = recv_message(sock, _SPAWN_FDS)
        if msg is None:  # the driver is gone
            return
        if msg.get("op") == "spawn":
            spawner.spawn(msg, fds)
        elif msg.get("op") == "finish":
            send_message(sock, spawner.finish(msg))
            if spawner.isolated:
                spawner.clean_up()
        else:
            _close(fds)
            send_message(sock, {"error": f"unknown request {json.dumps(msg)[:100]}"})
