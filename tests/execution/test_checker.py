"""Which assert tests may send their program calls ahead, and that doing so keeps sequential semantics."""

import ast

import pytest

from lm_eval_tts.execution.checker import _planned_calls
from lm_eval_tts.grading.code import AssertCase, grade_programs

REMOTE = {"f", "g"}


@pytest.mark.parametrize(
    "test, calls",
    [
        ("assert f(1, 2) == 3", [("f", [1, 2], {})]),
        ("assert math.isclose(f(2.5), g(x=(1, 2)), rel_tol=0.1)", [("f", [2.5], {}), ("g", [], {"x": (1, 2)})]),
        ("assert set(f([1, 2])) == set(g({'a': -1}))", [("f", [[1, 2]], {}), ("g", [{"a": -1}], {})]),
        ("assert not f('x')", [("f", ["x"], {})]),
        ("assert sorted([3, 1]) == [1, 3]", []),
    ],
)
def test_calls_in_evaluation_order(test, calls):
    assert _planned_calls(ast.parse(test), REMOTE) == calls


@pytest.mark.parametrize(
    "test",
    [
        "assert f(1) == 2 and f(3) == 4",  # short-circuit: the second call may not happen
        "assert f(1) if x else g(2)",
        "assert all(f(i) == i for i in range(3))",
        "assert f(g(1)) == 2",  # argument computed by the program
        "assert f(1).real == 1",  # operation on the result
        "assert f(*[1, 2]) == 3",
        "assert f(float('inf')) == 1",  # not a literal
        "assert h == f",
        "x = f(1)\nassert x == 1",
        "assert f(1) == 1, g(2)",
    ],
)
def test_tests_that_run_call_by_call(test):
    assert _planned_calls(ast.parse(test), REMOTE) is None


def test_state_and_order_are_those_of_sequential_runs():
    counter = "n = 0\ndef tick(step=1):\n    global n\n    n += step\n    return n\n"
    ahead = ("assert tick() == 1", "assert tick(step=2) == 3", "assert [tick()] == [4]")
    mixed = ahead + ("assert tick() == 5 and tick() == 6",)  # one conditional test: everything call by call
    wrong = ("assert tick() == 1", "assert tick() == 3", "assert tick() == 3")
    v_ahead, v_mixed, v_wrong = grade_programs(
        [AssertCase(counter, ahead), AssertCase(counter, mixed), AssertCase(counter, wrong)], progress=False
    )
    assert v_ahead.passed and v_mixed.passed
    assert v_wrong.tests_passed == (True, False, True)


def test_timeout_in_a_call_sent_ahead_stops_the_rest():
    program = "def f(x):\n    while x == 2:\n        pass\n    return x\n"
    (v,) = grade_programs([AssertCase(program, ("assert f(1) == 1", "assert f(2) == 2", "assert f(3) == 3"))],
                          timeout_per_test=1.0, progress=False)
    assert v.tests_passed == (True, False, False) and v.failure == "timeout"
