"""What a freshly forked program process does before running any untrusted code: own process group, only its own
file descriptors, rlimits, no capabilities, no new privileges, death with its parent, scratch cwd.

Stdlib only: also loaded inside the sandbox.
"""

import ctypes
import os
import resource
import signal

_LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38


def prctl(option, arg):
    _LIBC.prctl(ctypes.c_int(option), ctypes.c_ulong(arg), ctypes.c_ulong(0), ctypes.c_ulong(0), ctypes.c_ulong(0))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities():
    """Empty effective/permitted/inheritable sets (matters in `unshare -r` mode, where we are root of a userns)."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _LIBC.capset(ctypes.byref(header), data)


def enter_limits(cfg, cpu_seconds, keep_fds, stdin_fd, out_fd, err_fd=None):
    """In a freshly forked child: own process group, fds, rlimits, no privileges. Must not return on error."""
    os.setpgid(0, 0)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    prctl(PR_SET_NO_NEW_PRIVS, 1)
    drop_capabilities()
    os.dup2(stdin_fd, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd if err_fd is None else err_fd, 2)
    keep = sorted({0, 1, 2, *keep_fds})
    start = 3
    for fd in keep + [1 << 20]:
        if fd >= start:
            os.closerange(start, min(fd, 65536))
            start = fd + 1
    lim = cfg["limits"]
    mem = lim["memory_mb"] * 1024 * 1024
    cpu = int(cpu_seconds) + 1
    for res, value in (
        (resource.RLIMIT_CPU, (cpu, cpu + 1)),
        (resource.RLIMIT_AS, (mem, mem)),
        (resource.RLIMIT_DATA, (mem, mem)),
        (resource.RLIMIT_FSIZE, (lim["file_size_mb"] * 1024 * 1024,) * 2),
        (resource.RLIMIT_NOFILE, (lim["open_files"],) * 2),
        (resource.RLIMIT_NPROC, (cfg["nproc_limit"],) * 2),
        (resource.RLIMIT_CORE, (0, 0)),
        (resource.RLIMIT_MEMLOCK, (0, 0)),
    ):
        resource.setrlimit(res, value)
    os.chdir(cfg["job_dir"])
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_DFL)
