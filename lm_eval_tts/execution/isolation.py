"""How a sandbox is launched: the isolation mode and its command line.

Modes, strongest first (``detect_mode`` picks the first that works here, or the one ``$LM_EVAL_TTS_SANDBOX`` names,
and says so once in the log when it is not bubblewrap):

* ``bwrap``   - bubblewrap: new user (unprivileged) / PID / network / IPC / UTS namespaces, a read-only root
                holding only the system directories and the interpreter, Python package dirs covered by empty
                tmpfs mounts (``exposure``), fresh /dev and /proc, a private /tmp, no capabilities, an empty
                environment. When the evaluator runs as root the sandbox drops to uid/gid 65534.
* ``unshare`` - util-linux ``unshare``: network / PID / IPC / UTS (+ user when unprivileged) namespaces with a
                private /proc. The filesystem is NOT hidden: the program can read whatever the sandbox uid can read.
                As root the sandbox drops to uid 65534 (so stdlib modules it did not pre-import may fail to
                import if Python lives in an unreadable dir).
* ``rlimits`` - no namespaces: only rlimits, process groups, privilege drop when root, and killing leftovers.
                The program can use the network and see other processes of its uid.
In every mode each program process then tries to enter its own user/mount/IPC namespaces (``confine``), which
make the whole filesystem read-only but a private /tmp and /dev/shm.
"""

from __future__ import annotations

import functools
import logging
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass

from lm_eval_tts.errors import UserError
from lm_eval_tts.execution import exposure

log = logging.getLogger(__name__)

MODES = ("bwrap", "unshare", "rlimits")
MODE_ENV = "LM_EVAL_TTS_SANDBOX"  # force a mode, e.g. where bubblewrap is installed but cannot work
SANDBOX_UID = 65534  # "nobody": used when the evaluator itself runs as root


@dataclass(frozen=True)
class Limits:
    """Resource limits of every program (CPU time follows the wall timeouts)."""

    memory_mb: int = 1024  # per process (RLIMIT_AS / RLIMIT_DATA), and per sandbox where a memory cgroup is writable
    max_processes: int = 64  # per program (RLIMIT_NPROC in its own user namespace; threads count too)
    file_size_mb: int = 16  # RLIMIT_FSIZE
    open_files: int = 256  # RLIMIT_NOFILE
    # Beyond either, "output_limit". Sized from the shipped data: the largest expected value is 11.4 MB (HumanEval/130,
    # tri(10**6)), the largest job 147 MB (HumanEval/15: string_sequence up to 10**6 on 137 tests); LiveCodeBench
    # stdouts and MBPP+ values are under 1.7 MB. Bounded, so a program printing or returning gigabytes is stopped.
    result_bytes: int = 32 * 1024 * 1024  # one value a program returns, or its stdout on one test
    output_bytes: int = 256 * 1024 * 1024  # all values a program returns, or all it prints, in one job
    scratch_mb: int = 256  # size of the program's private /tmp
    shm_mb: int = 64  # size of the program's private /dev/shm


def _uid() -> int:
    return os.geteuid()


@functools.lru_cache(maxsize=None)
def _probe(argv: tuple[str, ...]) -> bool:
    try:
        return subprocess.run(list(argv), capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def available_modes() -> list[str]:
    """Modes that actually start a process on this machine (probed once per process)."""
    modes = []
    if shutil.which("bwrap") and _probe(tuple(worker_argv("bwrap", _python(), ["-c", "pass"]))):
        modes.append("bwrap")
    if shutil.which("unshare") and _probe(tuple(worker_argv("unshare", _python(), ["-c", "pass"]))):
        modes.append("unshare")
    modes.append("rlimits")
    return modes


@functools.lru_cache(maxsize=None)
def detect_mode() -> str:
    """The strongest available mode, or the one named by $LM_EVAL_TTS_SANDBOX; logs one warning if that is not
    bubblewrap."""
    available = available_modes()
    forced = os.environ.get(MODE_ENV, "").strip()
    if forced and forced not in MODES:
        raise UserError(f"{MODE_ENV}={forced!r} is not a sandbox mode: use one of {', '.join(MODES)} (or unset it)")
    if forced and forced not in available:
        raise UserError(
            f"{MODE_ENV}={forced} but that sandbox mode does not work on this machine (available: "
            f"{', '.join(available)}): install bubblewrap or unset {MODE_ENV}"
        )
    mode = forced or available[0]
    if mode != "bwrap":
        log.warning(
            "running untrusted code in the weaker '%s' sandbox mode (%s)%s. Install bubblewrap for full isolation.",
            mode,
            "namespaces + rlimits, filesystem not hidden" if mode == "unshare" else "rlimits only, no namespaces",
            f", as {MODE_ENV} asks" if forced else ": bubblewrap (bwrap) is not usable here",
        )
    return mode


def _python() -> str:
    return os.path.realpath(sys.executable)


def _bwrap_prefix(scratch_mb: int) -> list[str]:
    argv = [shutil.which("bwrap") or "bwrap", "--die-with-parent", "--new-session", "--as-pid-1"]
    if _uid() == 0:  # no user namespace: keep the right to drop to SANDBOX_UID inside
        argv += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try",
                 "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-all"]
    argv += exposure.sandbox_view()
    argv += ["--dev", "/dev", "--proc", "/proc",
             "--perms", "1777", "--size", str(scratch_mb * 1024 * 1024), "--tmpfs", "/tmp",
             "--perms", "1777", "--size", str(64 * 1024 * 1024), "--tmpfs", "/dev/shm", "--remount-ro", "/"]
    argv += ["--clearenv"]
    for key, value in sandbox_env("/tmp").items():
        argv += ["--setenv", key, value]
    argv += ["--chdir", "/tmp", "--"]
    return argv


def _unshare_prefix() -> list[str]:
    argv = [shutil.which("unshare") or "unshare", "--net", "--pid", "--fork", "--mount", "--mount-proc", "--ipc",
            "--uts", "--kill-child"]
    if _uid() != 0:
        argv.insert(1, "--map-root-user")
    return argv


def worker_argv(mode: str, python: str, script_args: list[str], scratch_mb: int = 256) -> list[str]:
    """Full command line that starts `python script_args...` inside the given mode."""
    if mode not in MODES:
        raise ValueError(f"unknown sandbox mode {mode!r}; use one of {MODES}")
    prefix = {"bwrap": lambda: _bwrap_prefix(scratch_mb), "unshare": _unshare_prefix, "rlimits": list}[mode]()
    # Not -I: it would also ignore PYTHONHASHSEED. The environment is ours alone (sandbox_env), and the bootstrap
    # removes the current directory from sys.path, which is the other half of what -I does.
    return prefix + [python, "-s", "-S", "-B", *script_args]


def sandbox_env(home: str) -> dict[str, str]:
    """The whole environment of the sandbox (nothing of the evaluator's: no tokens or keys). A fixed hash seed
    makes set/dict-of-str iteration order the same in every run, so expected outputs computed by a reference
    solution in the sandbox are reproducible (MBPP+ ``tuple(set(...))`` answers)."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": home, "PYTHONHASHSEED": "0"}


def drop_to_uid(mode: str) -> int | None:
    """The uid the worker switches to after start (root only; the kernel exempts uid 0 from RLIMIT_NPROC)."""
    return SANDBOX_UID if _uid() == 0 else None


def tasks_of_uid(uid: int) -> int:
    """Number of tasks (threads count for RLIMIT_NPROC) the uid already runs on this machine."""
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as f:
                status = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if int(status.get("Uid", "-1 ").split()[0]) == uid:
            total += int(status.get("Threads", "1").strip())
    return total


def nproc_limit(mode: str, limits: Limits) -> int:
    """RLIMIT_NPROC for programs. With a fresh user namespace (unprivileged bwrap/unshare) the kernel counts only
    the namespace's tasks; otherwise it counts all tasks of the uid on the machine, so add those."""
    fresh_userns = _uid() != 0 and mode in ("bwrap", "unshare")
    if fresh_userns:
        return limits.max_processes
    uid = drop_to_uid(mode)
    return limits.max_processes + tasks_of_uid(_uid() if uid is None else uid)
