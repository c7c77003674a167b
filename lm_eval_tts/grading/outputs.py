"""How a program's observed output is compared with the expected one, per benchmark (pure functions).

The sandbox (lm_eval_tts.execution) returns what a program printed or returned; these functions decide, outside
the program's process, whether that output is right: LiveCodeBench stdin (line and token comparison),
LiveCodeBench functional (JSON values), EvalPlus (MBPP+/HumanEval+: exact, floats within atol).
"""

from __future__ import annotations

import math
from decimal import Decimal, InvalidOperation


def _decimal(token: str) -> Decimal | None:
    try:
        value = Decimal(token)
    except (InvalidOperation, ValueError):
        return None
    return value if value.is_finite() else None


def _line_matches(actual: str, expected: str) -> bool:
    if actual.strip() == expected.strip():
        return True
    a, e = actual.split(), expected.split()
    if len(a) != len(e):
        return False
    for x, y in zip(a, e):
        if x != y:
            dx, dy = _decimal(x), _decimal(y)
            if dx is None or dy is None or dx != dy:
                return False
    return True


def stdout_matches(actual: str, expected: str) -> bool:
    """LiveCodeBench-style stdout comparison (see module docstring)."""
    a, e = actual.strip().split("\n"), expected.strip().split("\n")
    return len(a) == len(e) and all(_line_matches(x, y) for x, y in zip(a, e))


def _lists(value):
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    return value


def same_json_value(actual, expected) -> bool:
    """LiveCodeBench functional tests: the result equals the JSON-decoded expected value, tuples as lists."""
    return _lists(actual) == _lists(expected)


def _is_float_like(value) -> bool:
    if isinstance(value, float):
        return True
    return isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, float) for v in value)


def values_match(actual, expected, atol: float = 0.0) -> bool:
    """EvalPlus-style comparison of plain values: floats (or flat sequences of floats) within atol (1e-6 if 0)
    plus a 1e-7 relative tolerance, everything else exactly."""
    if actual == expected:
        return True
    if not _is_float_like(expected):
        return False
    tol = atol or 1e-6
    if isinstance(expected, float):
        pairs = [(actual, expected)]
    else:
        if type(actual) is not type(expected) or len(actual) != len(expected):
            return False
        pairs = list(zip(actual, expected))
    for a, e in pairs:
        if isinstance(a, bool) or not isinstance(a, (int, float)):
            return False
        if not (math.isclose(a, e, rel_tol=1e-7, abs_tol=tol) or (math.isnan(a) and math.isnan(e))):
            return False
    return True
