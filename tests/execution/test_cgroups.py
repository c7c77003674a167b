"""Per-sandbox cgroups: finding the evaluator's own cgroups (v1, v2, hybrid), and making one with limits here."""

import os
import time

import pytest

from lm_eval_tts.execution import cgroups

V1_MOUNTS = """\
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
V1_SELF = "8:pids:/\n4:memory:/jobs/42\n1:cpu:/\n0::/\n"
V2_MOUNTS = "25 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
V2_SELF = "0::/user.slice/user-1000.slice/session-3.scope\n"


def test_v1_controllers_are_preferred_and_nested_in_our_own_cgroups():
    h = cgroups.find_hierarchies(V1_MOUNTS, V1_SELF)
    assert h == cgroups.Hierarchies({"memory": "/sys/fs/cgroup/memory/jobs/42", "pids": "/sys/fs/cgroup/pids/"},
                                    v2=False)


def test_v2_only():
    h = cgroups.find_hierarchies(V2_MOUNTS, V2_SELF)
    parent = "/sys/fs/cgroup/user.slice/user-1000.slice/session-3.scope"
    assert h == cgroups.Hierarchies({"memory": parent, "pids": parent}, v2=True)


def test_no_cgroups_mounted():
    assert cgroups.find_hierarchies("22 1 0:5 / /proc rw - proc proc rw\n", V2_SELF) is None


def test_v2_cgroup_is_written_as_the_kernel_expects(tmp_path, monkeypatch):
    """On a made-up v2 tree: limits in memory.max / pids.max, swap off, processes via cgroup.procs."""
    parent = tmp_path / "scope"
    parent.mkdir()
    (parent / "cgroup.subtree_control").write_text("")
    real_mkdir = os.mkdir

    def mkdir(path, *a):  # a real cgroupfs creates the interface files itself
        real_mkdir(path, *a)
        for name in ("cgroup.controllers", "memory.max", "memory.swap.max", "pids.max", "cgroup.procs",
                     "memory.events"):
            (tmp_path / path / name).write_text("memory pids\n" if name == "cgroup.controllers" else "")

    h = cgroups.Hierarchies({"memory": str(parent), "pids": str(parent)}, v2=True)
    monkeypatch.setattr(os, "mkdir", mkdir)
    group = cgroups._make(h, 1 << 30, 72)
    (d,) = group.dirs
    assert open(os.path.join(d, "memory.max")).read() == str(1 << 30)
    assert open(os.path.join(d, "memory.swap.max")).read() == "0"
    assert open(os.path.join(d, "pids.max")).read() == "72"
    group.add([12345])
    assert open(os.path.join(d, "cgroup.procs")).read() == "12345"
    open(os.path.join(d, "memory.events"), "w").write("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    assert group.oom_kills() == 2


def test_a_real_cgroup_here_limits_memory_and_processes():
    group = cgroups.create(256 << 20, 16)
    if group is None:
        pytest.skip(f"no writable cgroup here: {cgroups.unavailable_reason()}")
    try:
        pid = os.fork()
        if pid == 0:  # inside the cgroup: 20 processes are refused, and so is touching 512 MiB
            group.add([os.getpid()])
            children = []
            try:
                for _ in range(20):
                    child = os.fork()
                    if child == 0:
                        time.sleep(5)
                        os._exit(0)
                    children.append(child)
            except OSError:
                pass
            for child in children:
                os.kill(child, 9)
            os._exit(0 if len(children) < 16 else 1)
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        hog = os.fork()
        if hog == 0:
            group.add([os.getpid()])
            blocks = [bytearray(64 << 20) for _ in range(8)]
            os._exit(len(blocks))
        _, status = os.waitpid(hog, 0)
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 9
        assert group.oom_kills() >= 1
    finally:
        group.remove()
    assert not any(os.path.exists(d) for d in group.dirs)
