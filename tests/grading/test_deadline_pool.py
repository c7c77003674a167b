"""The hard-deadline worker pool, with stdlib functions standing in for a checker that answers, hangs, raises,
crashes or exhausts memory."""

import os
import time

import pytest

from lm_eval_tts.grading.deadline_pool import ERROR, OK, TIMEOUT, DeadlinePool


def test_results_in_input_order_and_calls_run_in_parallel():
    with DeadlinePool("time:sleep", workers=2, deadline=10) as pool:
        pool.map([[0]])  # both workers ready
        start = time.monotonic()
        outcomes = pool.map([[0.6]] * 4)
        elapsed = time.monotonic() - start
    assert [o.status for o in outcomes] == [OK] * 4
    assert elapsed < 4 * 0.6  # two at a time, not one after another


def test_values_come_back_in_order():
    with DeadlinePool("math:factorial", workers=2, deadline=10) as pool:
        assert [o.value for o in pool.map([[n] for n in range(8)])] == [1, 1, 2, 6, 24, 120, 720, 5040]


def test_a_hanging_call_is_killed_at_its_deadline_and_the_pool_goes_on():
    with DeadlinePool("time:sleep", workers=1, deadline=0.5) as pool:
        pool.map([[0]])
        hung_pid = pool._workers[0].pid
        start = time.monotonic()
        outcomes = pool.map([[60], [0], [60], [0]])
        elapsed = time.monotonic() - start
        assert [o.status for o in outcomes] == [TIMEOUT, OK, TIMEOUT, OK]
        assert all(o.seconds < 0.5 + 1.0 for o in outcomes)
        assert elapsed < 2 * 0.5 + 2.0
        assert pool.restarts == 2
        time.sleep(0.2)
        with pytest.raises(ProcessLookupError):
            os.kill(hung_pid, 0)  # SIGKILLed and reaped


def test_an_exception_is_an_error_outcome_with_its_message():
    with DeadlinePool("math:sqrt", workers=1, deadline=5) as pool:
        error, ok = pool.map([[-1], [4]])
    assert error.status == ERROR and "ValueError" in error.error
    assert ok.status == OK and ok.value == 2.0


def test_a_worker_that_dies_is_an_error_and_is_replaced():
    with DeadlinePool("os:_exit", workers=1, deadline=5) as pool:
        outcomes = pool.map([[3], [4]])
        assert [o.status for o in outcomes] == [ERROR, ERROR]
        assert pool.restarts == 2


def test_memory_limit_turns_a_huge_allocation_into_an_error():
    with DeadlinePool("operator:mul", workers=1, deadline=10, memory_limit_bytes=1 << 30) as pool:
        huge, small = pool.map([["x", 4 << 30], [2, 3]])
    assert huge.status == ERROR and "MemoryError" in huge.error
    assert small.status == OK and small.value == 6


def test_a_result_that_is_not_json_is_an_error_not_a_dead_worker():
    with DeadlinePool("builtins:bytearray", workers=1, deadline=10) as pool:
        outcome, again = pool.map([[3], [2]])
        assert outcome.status == again.status == ERROR and "JSON" in outcome.error
        assert pool.restarts == 0


def test_close_stops_the_zygote_and_its_workers():
    pool = DeadlinePool("time:sleep", workers=2, deadline=5)
    pool.map([[0], [0]])
    pids = [w.pid for w in pool._workers] + [pool._zygote.proc.pid]
    pool.close()
    time.sleep(0.3)
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_deadline_must_be_positive():
    with pytest.raises(ValueError, match="deadline"):
        DeadlinePool("time:sleep", workers=1, deadline=0)


def test_a_module_in_the_current_directory_cannot_shadow_what_workers_import(tmp_path, monkeypatch):
    (tmp_path / "colorsys.py").write_text("raise SystemExit('shadowed')\n")  # mpmath (sympy) imports colorsys
    (tmp_path / "fractions.py").write_text("raise SystemExit('shadowed')\n")
    monkeypatch.chdir(tmp_path)
    with DeadlinePool("lm_eval_tts.grading.math_verify_worker:equivalent", workers=1, deadline=30) as pool:
        (outcome,) = pool.map([["\\frac{1}{2}", "0.5"]])
    assert outcome.status == OK and outcome.value is True
