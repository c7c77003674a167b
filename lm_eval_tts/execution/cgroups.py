"""Per-sandbox memory and process limits with cgroups, where this machine lets us create them.

Each worker's program sandbox gets its own cgroup below the evaluator's own (so limits stay nested in whatever
contains the evaluator): ``memory`` caps all of the sandbox's memory together (the programs' processes, their
tmpfs files, their shared memory), where RLIMIT_AS alone caps each process; ``pids`` caps its process count, so
one sandbox's fork bomb cannot take process slots from another. cgroup v1 hierarchies are used where the memory
and pids controllers are mounted there (they then cannot be in v2), else cgroup v2, which works only where the
evaluator's cgroup lets a child enable the controllers (delegated, or the root). Where neither is writable
(typically an unprivileged user), ``create`` returns None and ``unavailable_reason`` says why, once, in the log.
"""

from __future__ import annotations

import errno
import functools
import itertools
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

_PREFIX = "lm-eval-tts-"
_names = itertools.count()


@dataclass(frozen=True)
class Hierarchies:
    """Where the evaluator's own cgroups are: per controller ("memory", "pids") the directory new cgroups go in,
    and whether it is v2 (one directory for both)."""

    parents: dict[str, str]
    v2: bool


def _mounts(mountinfo: str) -> list[tuple[str, str, set[str]]]:
    """(mount point, fstype, super options) of the cgroup mounts in a /proc/<pid>/mountinfo text."""
    out = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 5 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            out.append((fields[4], tail[0], set(tail[2].split(","))))
    return out


def find_hierarchies(mountinfo: str, self_cgroup: str) -> Hierarchies | None:
    """The evaluator's cgroup directories for memory and pids, from /proc/self/mountinfo and /proc/self/cgroup."""
    paths = {}
    for line in self_cgroup.splitlines():
        hid, controllers, path = line.split(":", 2)
        for c in controllers.split(",") if controllers else [""]:
            paths[c] = path
    mounts = _mounts(mountinfo)
    v1 = {}
    for point, fstype, options in mounts:
        for controller in ("memory", "pids"):
            if fstype == "cgroup" and controller in options and controller in paths:
                v1[controller] = os.path.join(point, paths[controller].lstrip("/"))
    if v1:
        return Hierarchies(v1, v2=False)
    for point, fstype, _ in mounts:
        if fstype == "cgroup2" and "" in paths:
            parent = os.path.join(point, paths[""].lstrip("/"))
            return Hierarchies({"memory": parent, "pids": parent}, v2=True)
    return None


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


@dataclass
class SandboxCgroup:
    """One sandbox's cgroup directories (one per v1 hierarchy, or one v2 directory)."""

    dirs: tuple[str, ...]
    v2: bool

    def add(self, pids) -> None:
        """Move these processes in (all processes of the sandbox, while it runs nothing else)."""
        for d in self.dirs:
            for pid in pids:
                try:
                    _write(os.path.join(d, "cgroup.procs"), str(pid))
                except ProcessLookupError:
                    pass

    def oom_kills(self) -> int:
        """Processes the kernel killed for going over the memory limit, so far."""
        name = "memory.events" if self.v2 else "memory.oom_control"
        for d in self.dirs:
            path = os.path.join(d, name)
            if os.path.exists(path):
                for line in _read(path).splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill":
                        return int(value)
        return 0

    def remove(self) -> None:
        """Remove the directories (after the sandbox's processes are gone; a dying process may hold it briefly)."""
        for d in self.dirs:
            for _ in range(100):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        break
                    time.sleep(0.01)


def _sweep(parent: str) -> None:
    """Remove cgroups left behind by evaluators that died without closing their pools."""
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        if name.startswith(_PREFIX):
            pid = name[len(_PREFIX):].split("-")[0]
            if pid.isdigit() and not os.path.exists(f"/proc/{pid}"):
                try:
                    os.rmdir(os.path.join(parent, name))
                except OSError:
                    pass


def _make(h: Hierarchies, memory_bytes: int, pids_max: int) -> SandboxCgroup:
    name = f"{_PREFIX}{os.getpid()}-{next(_names)}"
    if h.v2:
        d = os.path.join(h.parents["memory"], name)
        os.mkdir(d)
        group = SandboxCgroup((d,), v2=True)
        try:
            wanted = {"memory", "pids"}
            if not wanted <= set(_read(os.path.join(d, "cgroup.controllers")).split()):
                _write(os.path.join(h.parents["memory"], "cgroup.subtree_control"), "+memory +pids")
            _write(os.path.join(d, "memory.max"), str(memory_bytes))
            if os.path.exists(os.path.join(d, "memory.swap.max")):
                _write(os.path.join(d, "memory.swap.max"), "0")
            _write(os.path.join(d, "pids.max"), str(pids_max))
        except OSError:
            group.remove()
            raise
        return group
    made = []
    try:
        for controller, parent in sorted(h.parents.items()):
            d = os.path.join(parent, name)
            os.mkdir(d)
            made.append(d)
            if controller == "memory":
                _write(os.path.join(d, "memory.limit_in_bytes"), str(memory_bytes))
                if os.path.exists(os.path.join(d, "memory.memsw.limit_in_bytes")):
                    _write(os.path.join(d, "memory.memsw.limit_in_bytes"), str(memory_bytes))
            else:
                _write(os.path.join(d, "pids.max"), str(pids_max))
    except OSError:
        SandboxCgroup(tuple(made), v2=False).remove()
        raise
    return SandboxCgroup(tuple(made), v2=False)


@functools.lru_cache(maxsize=None)
def _hierarchies() -> Hierarchies | None:
    try:
        h = find_hierarchies(Path("/proc/self/mountinfo").read_text(), Path("/proc/self/cgroup").read_text())
    except OSError:
        return None
    if h is not None:
        for parent in set(h.parents.values()):
            _sweep(parent)
    return h


_unavailable: list[str] = []


def create(memory_bytes: int, pids_max: int) -> SandboxCgroup | None:
    """A new cgroup with these limits, or None (and ``unavailable_reason`` set) where none can be made here."""
    h = _hierarchies()
    if h is None or set(h.parents) != {"memory", "pids"}:
        _note("no cgroup hierarchy with both the memory and pids controllers is mounted")
        return None
    try:
        return _make(h, memory_bytes, pids_max)
    except OSError as e:
        _note(f"cannot create a cgroup in {h.parents['memory']} ({e.strerror or e})")
        return None


def _note(reason: str) -> None:
    if not _unavailable:
        _unavailable.append(reason)
        log.warning("memory is limited per program process (RLIMIT_AS), not per sandbox, and processes per program "
                    "only: %s", reason)


def unavailable_reason() -> str | None:
    return _unavailable[0] if _unavailable else None
