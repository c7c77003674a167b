"""Isolation modes: detection (with the one-time warning), the bubblewrap command line, each mode actually works."""

import logging
import os

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.execution import isolation
from lm_eval_tts.execution.pool import SandboxError, SandboxPool
from lm_eval_tts.grading.code import AssertCase, StdioCase, grade_programs


@pytest.fixture
def fresh_detection():
    isolation.detect_mode.cache_clear()
    isolation._probe.cache_clear()
    yield
    isolation.detect_mode.cache_clear()
    isolation._probe.cache_clear()


def test_rlimits_mode_is_always_available():
    assert isolation.available_modes()[-1] == "rlimits"


def test_without_bwrap_the_weaker_mode_is_said_once(fresh_detection, monkeypatch, caplog):
    real_which = isolation.shutil.which
    monkeypatch.setattr(isolation.shutil, "which", lambda name: None if name == "bwrap" else real_which(name))
    with caplog.at_level(logging.WARNING, logger=isolation.__name__):
        first, second = isolation.detect_mode(), isolation.detect_mode()
    assert first == second != "bwrap"
    warnings = [r for r in caplog.records if "weaker" in r.getMessage()]
    assert len(warnings) == 1 and "bubblewrap" in warnings[0].getMessage()


def test_mode_can_be_forced_and_bad_values_are_one_clear_error(fresh_detection, monkeypatch, caplog):
    monkeypatch.setenv(isolation.MODE_ENV, "rlimits")
    with caplog.at_level(logging.WARNING, logger=isolation.__name__):
        assert isolation.detect_mode() == "rlimits"
    assert "LM_EVAL_TTS_SANDBOX" in caplog.text
    isolation.detect_mode.cache_clear()
    monkeypatch.setenv(isolation.MODE_ENV, "docker")
    with pytest.raises(UserError, match="LM_EVAL_TTS_SANDBOX='docker' is not a sandbox mode"):
        isolation.detect_mode()


def test_with_bwrap_nothing_is_logged(fresh_detection, caplog):
    if "bwrap" not in isolation.available_modes():
        pytest.skip("bubblewrap not installed (CI installs it)")
    with caplog.at_level(logging.WARNING, logger=isolation.__name__):
        assert isolation.detect_mode() == "bwrap"
    assert not caplog.records


def test_bwrap_command_shows_the_system_and_python_but_not_the_project():
    argv = isolation.worker_argv("bwrap", "/usr/bin/python3", ["-c", "pass"])
    tmpfs = {argv[i + 1] for i, a in enumerate(argv) if a == "--tmpfs"}
    binds = {argv[i + 1] for i, a in enumerate(argv) if a == "--ro-bind"}
    assert "/tmp" in tmpfs and "/" not in binds and "/usr" in binds
    assert not any(b == os.getcwd() or os.getcwd().startswith(b + "/") for b in binds if b != "/")
    assert any(isolation.sys.base_prefix.startswith(p) or p.startswith(isolation.sys.base_prefix) for p in binds)
    assert "--unshare-net" in argv or "--unshare-all" in argv
    assert argv[-3:] == ["-B", "-c", "pass"]


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="unknown sandbox mode"):
        isolation.worker_argv("docker", "python", [])
    with pytest.raises(SandboxError):
        SandboxPool(1, mode="docker")


@pytest.mark.parametrize("mode", isolation.MODES)
def test_every_available_mode_grades_and_reports_itself(mode):
    if mode not in isolation.available_modes():
        pytest.skip(f"{mode} not available here")
    pool = SandboxPool(1, mode=mode)
    try:
        assert pool.mode == mode
        good, bad, stdio = grade_programs(
            [AssertCase("def f(x):\n    return x * 2\n", ("assert f(2) == 4",)),
             AssertCase("def f(x):\n    return x\n", ("assert f(2) == 4",)),
             StdioCase("print(sum(map(int, input().split())))", (("1 2\n", "3\n"),))],
            pool=pool, progress=False,
        )
        assert good.passed and not bad.passed and stdio.passed
    finally:
        pool.close()


@pytest.mark.parametrize("mode", ["bwrap", "unshare"])
def test_namespace_modes_have_no_network_and_own_pids(mode):
    if mode not in isolation.available_modes():
        pytest.skip(f"{mode} not available here")
    program = (
        "import os, socket\n"
        "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit())[0])\n"
        "print([n for _, n in socket.if_nameindex()])\n"
    )
    pool = SandboxPool(1, mode=mode)
    try:
        (v,) = grade_programs([StdioCase(program, (("", "1\n['lo']\n"),), setup="")], pool=pool, progress=False)
    finally:
        pool.close()
    assert v.passed, v  # PID 1 is the fork server; the only network interface is the namespace's loopback
