"""What a freshly forked program process does before running any untrusted code.

``Confinement.enter_namespaces``: its own user, mount and IPC namespaces, in which the whole filesystem is read-only except a
fresh, size-capped tmpfs on ``/tmp`` and on ``/dev/shm`` that no other program ever sees and that disappears with
it (so do its SysV and POSIX shared memory); the process count limit then counts only its own processes.
``place_fds`` leaves it only its own file descriptors; ``Confinement.enter_limits`` gives it its own process group and
session keyring, rlimits, no capabilities, no new privileges, death with its parent, a working directory it may
write.

Stdlib only: also loaded inside the sandbox.
"""

import ctypes
import fcntl
import os
import platform
import resource
import signal

_LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
_CLONE_NEWNS, _CLONE_NEWIPC, _CLONE_NEWUSER = 0x00020000, 0x08000000, 0x10000000
_MS_NOSUID, _MS_NODEV = 2, 4
_SYS_MOUNT_SETATTR = 442  # the same number on every architecture (added after the syscall tables were unified)
_AT_FDCWD, _AT_RECURSIVE = -100, 0x8000
_MOUNT_ATTR_RDONLY, _MOUNT_ATTR_NOSUID = 0x1, 0x2
_SYS_KEYCTL = {"x86_64": 250, "aarch64": 219, "arm64": 219, "ppc64le": 280, "s390x": 280}.get(platform.machine())
_KEYCTL_JOIN_SESSION_KEYRING, _KEYCTL_CLEAR = 1, 7
_KEY_SPEC_SESSION_KEYRING, _KEY_SPEC_USER_KEYRING = -3, -4


# Looked up once in the fork server, so program processes do not redo it (each lookup costs copy-on-write faults).
_prctl, _unshare, _mount, _syscall, _capset = (_LIBC.prctl, _LIBC.unshare, _LIBC.mount, _LIBC.syscall, _LIBC.capset)
_prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
_mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


def prctl(option, arg):
    _prctl(option, arg, 0, 0, 0)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64), ("propagation", ctypes.c_uint64),
                ("userns_fd", ctypes.c_uint64)]


_NO_CAPS = (_CapHeader(0x20080522, 0), (_CapData * 2)())  # _LINUX_CAPABILITY_VERSION_3, all sets empty
_READ_ONLY = _MountAttr(_MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID, 0, 0, 0)


def drop_capabilities():
    """Empty effective/permitted/inheritable sets (a new user namespace gives its creator all of them)."""
    _capset(ctypes.byref(_NO_CAPS[0]), _NO_CAPS[1])


def join_fresh_session_keyring():
    """Replace the inherited session keyring with a new empty one: keys someone (the evaluator, an earlier program)
    put in a session keyring are out of reach. Best effort: where keyctl is filtered (e.g. Docker's seccomp
    profile) programs cannot use keyrings either; where the key quota is exhausted the program keeps the fork
    server's session keyring, which the fork server empties after every program (``clear_keyrings``)."""
    if _SYS_KEYCTL is not None:
        _syscall(_SYS_KEYCTL, _KEYCTL_JOIN_SESSION_KEYRING, None)


def clear_keyrings(user_keyring):
    """Empty the fork server's session keyring (and, when programs share its user namespace, the uid's user
    keyring), so no key a program added reaches the next one."""
    if _SYS_KEYCTL is None:
        return
    _syscall(_SYS_KEYCTL, _KEYCTL_CLEAR, _KEY_SPEC_SESSION_KEYRING)
    if user_keyring:
        _syscall(_SYS_KEYCTL, _KEYCTL_CLEAR, _KEY_SPEC_USER_KEYRING)


def _write(path, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def place_fds(fds):
    """Make fds[i] file descriptor i (0: stdin, 1: stdout, 2: stderr, 3...: the rest) and close all others."""
    high = [fcntl.fcntl(fd, fcntl.F_DUPFD, 64 + len(fds)) for fd in fds]
    for target, fd in enumerate(high):
        os.dup2(fd, target)
    os.closerange(len(fds), 1 << 20)


class Confinement:
    """How the fork server's children confine themselves, prepared once in the fork server (so each forked child
    only makes the system calls, and copies fewer of the fork server's pages)."""

    def __init__(self, limits, nproc_limit, scratch_mb, shm_mb):
        uid, gid = os.geteuid(), os.getegid()
        self.uid_map, self.gid_map = f"{uid} {uid} 1".encode(), f"{gid} {gid} 1".encode()
        self.tmpfs = [(b"/tmp", f"size={scratch_mb}m,mode=1777".encode()),
                      (b"/dev/shm", f"size={shm_mb}m,mode=1777".encode())]
        mem = limits["memory_mb"] * 1024 * 1024
        self.rlimits = [
            (resource.RLIMIT_AS, (mem, mem)),
            (resource.RLIMIT_DATA, (mem, mem)),
            (resource.RLIMIT_FSIZE, (limits["file_size_mb"] * 1024 * 1024,) * 2),
            (resource.RLIMIT_NOFILE, (limits["open_files"],) * 2),
            (resource.RLIMIT_CORE, (0, 0)),
            (resource.RLIMIT_MEMLOCK, (0, 0)),
        ] + ([(resource.RLIMIT_NPROC, (nproc_limit, nproc_limit))] if nproc_limit is not None else [])

    def enter_namespaces(self):
        """New user + mount + IPC namespaces for this process alone; everything read-only but a fresh /tmp and
        /dev/shm. Raises OSError where the kernel or a security module refuses (the fork server then says so once
        and falls back to wiping a shared scratch dir between programs)."""
        prctl(PR_SET_DUMPABLE, 1)  # a uid change cleared it; without it /proc/self/* belongs to root
        _write("/proc/self/oom_score_adj", b"1000")  # the memory cgroup's OOM killer takes a program first
        _check(_unshare(_CLONE_NEWUSER | _CLONE_NEWNS | _CLONE_NEWIPC), "unshare")
        _write("/proc/self/setgroups", b"deny")
        _write("/proc/self/uid_map", self.uid_map)
        _write("/proc/self/gid_map", self.gid_map)
        _check(_syscall(_SYS_MOUNT_SETATTR, _AT_FDCWD, b"/", _AT_RECURSIVE, ctypes.byref(_READ_ONLY),
                        ctypes.sizeof(_READ_ONLY)), "mount_setattr")
        for target, options in self.tmpfs:
            _check(_mount(b"tmpfs", target, b"tmpfs", _MS_NOSUID | _MS_NODEV, options), "mount tmpfs")

    def enter_limits(self, cpu_seconds, cwd):
        """In a freshly forked child (after ``place_fds``): own process group and session keyring, rlimits, no
        privileges, a writable working directory."""
        os.setpgid(0, 0)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        join_fresh_session_keyring()
        prctl(PR_SET_NO_NEW_PRIVS, 1)
        drop_capabilities()
        cpu = int(cpu_seconds) + 1
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
        for res, value in self.rlimits:
            resource.setrlimit(res, value)
        os.chdir(cwd)
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a normal interpreter: KeyboardInterrupt
