"""How a program's observed output is compared with the expected one, per benchmark (pure functions).

The sandbox (lm_eval_tts.execution) returns what a program printed or returned; these functions decide, outside
the program's process, whether that output is right, each by the rule of the grader behind the benchmark's
published numbers (benchmarks/bench_parity_code.py measures the agreement):

- LiveCodeBench stdin (its runner's `grade_stdio`): both texts are stripped and split into lines, each line
  stripped; the line counts must agree, and each line must be equal as text or, token by token, as exact decimals
  (`1.50` = `1.5`, no tolerance); a line with any non-numeric token must be equal as text.
- LiveCodeBench functional (`grade_call_based`): the returned value equals the JSON-decoded expected value with
  Python's `==`; a returned tuple counts as a list (top level only).
- EvalPlus, MBPP+ and HumanEval+ (`evalplus.eval.unsafe_execute`): Python `==`, else, when a tolerance applies,
  same type, same length and numpy `allclose(rtol=1e-7, atol)`; plus the special oracles EvalPlus uses for a few
  tasks (set equality, "returned something", alternative reference formulas, a root of a polynomial).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

# ---------------------------------------------------------------- LiveCodeBench


def _stripped_lines(text: str) -> list[str]:
    return [line.strip() for line in text.strip().split("\n")]


def _decimals(line: str) -> list[Decimal] | None:
    try:
        return [Decimal(token) for token in line.split()]
    except (InvalidOperation, ValueError):
        return None


def _line_matches(actual: str, expected: str) -> bool:
    if actual == expected:
        return True
    a, e = _decimals(actual), _decimals(expected)
    if a is None or e is None:
        return False
    try:
        return a == e
    except InvalidOperation:  # a signalling NaN ("sNaN") refuses comparison; LiveCodeBench's runner fails the test
        return False


def stdout_matches(actual: str, expected: str) -> bool:
    """LiveCodeBench stdin tests: line by line, as text or as exact decimals (see module docstring)."""
    a, e = _stripped_lines(actual), _stripped_lines(expected)
    return len(a) == len(e) and all(_line_matches(x, y) for x, y in zip(a, e))


def same_json_value(actual: Any, expected: Any) -> bool:
    """LiveCodeBench functional tests: `actual == expected`, a returned tuple read as a list (top level only:
    its runner converts only the returned object, so `[(1, 2)]` is not `[[1, 2]]`)."""
    if isinstance(actual, tuple):
        actual = list(actual)
    try:
        return bool(actual == expected)
    except Exception:  # noqa: BLE001 - e.g. RecursionError on absurdly deep values: the runner fails the test too
        return False


# ---------------------------------------------------------------- EvalPlus (MBPP+, HumanEval+)

FLOAT_ATOL = 1e-6  # EvalPlus's tolerance for float outputs of a task whose atol is 0
FLOAT_RTOL = 1e-7  # numpy.testing.assert_allclose's default, which EvalPlus passes explicitly

# Special oracles: EvalPlus grades these tasks by another rule than equality with the canonical output
# (lm_eval_tts.tasks.code_values maps task ids to them).
ANY_OUTPUT = "any_output"  # any returned value passes (Mbpp/164: the reference answer is not unique)
OR_ZERO = "or_zero"  # equal, or 0 (Mbpp/295)
SURFACE_AREA = "surface_area"  # equal, or within atol of the rounded slant-height formula (Mbpp/581)
DIGIT_DISTANCE = "digit_distance"  # equal, or the digit distance of zero-padded numbers (Mbpp/558)
SET_EQ = "set_eq"  # set(output) == set(expected): the order of the elements is free
NOT_NONE = "not_none"  # expected is "returned something other than None" (tasks returning re.Match objects)
POLY_ROOT = "poly_root"  # |poly(xs, output)| <= atol (HumanEval/32 find_zero)
ORACLES = (ANY_OUTPUT, OR_ZERO, SURFACE_AREA, DIGIT_DISTANCE, SET_EQ, NOT_NONE, POLY_ROOT)
ORACLES_WITH_ARGS = (SURFACE_AREA, DIGIT_DISTANCE, POLY_ROOT)


def is_floats(value: Any) -> bool:
    """EvalPlus's test for a float-valued output: a float, or a non-empty list/tuple of floats only."""
    if isinstance(value, float):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, float) for v in value)


def evalplus_tolerances(float_outputs: Sequence[bool], atol: float, group_sizes: Sequence[int]) -> tuple[float, ...]:
    """The tolerance EvalPlus applies at each test of one task (`float_outputs`: is_floats of each expected output).

    EvalPlus checks each group of inputs (base, then plus) in one loop that sets atol to 1e-6 when it first meets
    a float-valued expected output (if the task's atol is 0) and keeps it for the rest of the group, so later
    non-float outputs of that group are compared with the tolerance too. A program passes a group only if every
    test passed, so for the verdict the tolerance at a test depends on the expected outputs alone.
    """
    tolerances: list[float] = []
    start = 0
    for size in group_sizes:
        current = float(atol)
        for is_float in float_outputs[start : start + size]:
            if current == 0 and is_float:
                current = FLOAT_ATOL
            tolerances.append(current)
        start += size
    if start != len(float_outputs):
        raise ValueError(f"group sizes {list(group_sizes)} do not add up to {len(float_outputs)} expected outputs")
    return tuple(tolerances)


def evalplus_match(actual: Any, expected: Any, atol: float = 0.0, oracle: str = "", args: Sequence[Any] = ()) -> bool:
    """One EvalPlus test: does `actual` (the program's output on `args`) pass against `expected`?

    `atol` is the tolerance at this test (see evalplus_tolerances); `oracle` one of ORACLES or "" for plain
    comparison; `args` the call's arguments (needed by ORACLES_WITH_ARGS). Any exception while comparing (e.g.
    set() of unhashable items) fails the test, as in EvalPlus.
    """
    try:
        return _evalplus_match(actual, expected, atol, oracle, args)
    except Exception:  # noqa: BLE001 - EvalPlus counts any exception in a test as a failed test
        return False


def _evalplus_match(out: Any, exp: Any, atol: float, oracle: str, args: Sequence[Any]) -> bool:
    if oracle == POLY_ROOT:
        return abs(_poly(*args, out)) <= atol
    exact = out == exp
    if oracle == ANY_OUTPUT:
        exact = True
    elif oracle == OR_ZERO:
        exact = exact or out == 0
    elif oracle == SURFACE_AREA:
        exact = exact or abs(out - _pyramid_surface(*args)) <= atol
    elif oracle == DIGIT_DISTANCE:
        exact = exact or out == _digit_distance(*args)
    elif oracle == SET_EQ:
        exact = set(out) == set(exp)
    elif oracle == NOT_NONE:
        exact = out == exp if isinstance(out, bool) else exp == (out is not None)
    elif oracle:
        raise ValueError(f"unknown EvalPlus oracle {oracle!r}")
    if exact:
        return True
    if atol == 0 and is_floats(exp):
        atol = FLOAT_ATOL
    if atol == 0 or type(out) is not type(exp):
        return False
    if isinstance(exp, (list, tuple)) and len(out) != len(exp):
        return False
    return bool(np.allclose(out, exp, rtol=FLOAT_RTOL, atol=atol))


def _poly(xs: Sequence[float], x: float) -> float:
    """sum of xs[i] * x**i, with math.pow as HumanEval/32's own `poly`."""
    return sum(coefficient * math.pow(x, power) for power, coefficient in enumerate(xs))


def _pyramid_surface(base_edge: float, height: float) -> int:
    """Square pyramid: base area plus four triangles on the slant height, rounded (Mbpp/581's second reading)."""
    slant = math.sqrt((base_edge / 2) ** 2 + height**2)
    return round(base_edge**2 + 4 * (base_edge * slant) / 2)


def _digit_distance(a: int, b: int) -> int:
    """Sum of per-digit differences after left-padding the shorter number with zeros (Mbpp/558's second reading)."""
    width = max(len(str(a)), len(str(b)))
    return sum(abs(int(x) - int(y)) for x, y in zip(str(a).zfill(width), str(b).zfill(width)))
