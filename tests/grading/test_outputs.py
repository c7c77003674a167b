"""Output comparison rules (pure): LiveCodeBench stdout / functional values and EvalPlus values, as tables.

The expected verdicts are those of the official graders (LiveCodeBench's testing_util.grade_stdio /
grade_call_based, evalplus.eval.unsafe_execute); benchmarks/bench_parity_code.py checks them on real programs.
"""

import pytest

from lm_eval_tts.grading import outputs
from lm_eval_tts.grading.outputs import evalplus_match, evalplus_tolerances, same_json_value, stdout_matches

STDOUT_CASES = [
    # (actual, expected, passes)
    ("1 2\n3\n", "1 2\n3", True),
    ("1 2\n3\n\n\n", "1 2\n3", True),  # trailing blank lines are stripped
    ("  1 2  \r\n3\r\n", "1 2\n3\n", True),  # each line stripped, \r too
    ("1.50  2\n", "1.5 2\n", True),  # tokens equal as exact decimals
    ("1.5 2", "1.50 2.000", True),
    ("1e3", "1000", True),
    ("0.1", "0.10000001", False),  # no tolerance: exact decimals
    ("1 2\n", "1 3\n", False),
    ("1\n2\n", "1\n", False),  # line count differs
    ("1\n\n2", "1\n2", False),  # an inner blank line is a line
    ("1 2", "1  2", True),  # whitespace between tokens is free...
    ("Yes 1.5", "Yes 1.50", False),  # ...but a line with a word must be equal as text
    ("YES", "Yes", False),
    ("inf", "Infinity", True),  # Decimal('inf') == Decimal('Infinity')
    ("nan", "nan", True),  # equal as text
    ("nan", "NaN", False),  # Decimal NaN is never equal
    ("sNaN", "1", False),  # a signalling NaN refuses comparison
    ("1_000", "1000", True),  # Decimal reads underscores, as the official runner does
    ("", "", True),
    ("", "0", False),
]


@pytest.mark.parametrize("actual, expected, passes", STDOUT_CASES)
def test_livecodebench_stdout(actual, expected, passes):
    assert stdout_matches(actual, expected) is passes


JSON_CASES = [
    ((1, 2), [1, 2], True),  # a returned tuple counts as a list...
    ([(1, 2)], [[1, 2]], False),  # ...at the top level only
    ([1, 2], [2, 1], False),
    (1, 1.0, True),  # Python ==
    (True, 1, True),
    (0.1 + 0.2, 0.3, False),  # no float tolerance
    ({"a": [1]}, {"a": [1]}, True),
    ("1", 1, False),
]


@pytest.mark.parametrize("actual, expected, passes", JSON_CASES)
def test_livecodebench_functional(actual, expected, passes):
    assert same_json_value(actual, expected) is passes


EVALPLUS_CASES = [
    # (actual, expected, atol, oracle, args, passes)
    (1, 1.0, 0, "", (), True),  # == first
    ((1, 2), [1, 2], 0, "", (), False),  # tuple is not list
    (1.0 + 1e-7, 1.0, 0, "", (), True),  # float output: atol 1e-6 when the task's is 0
    (1.0 + 2e-6, 1.0, 0, "", (), False),
    (1e9 * (1 + 5e-8), 1e9, 0, "", (), True),  # numpy allclose: atol + rtol(1e-7) * |expected|
    (1e9 * (1 + 5e-7), 1e9, 0, "", (), False),
    (1, 1.0 + 1e-9, 0, "", (), False),  # near but of another type
    ([1.0, 2.0 + 1e-9], [1.0, 2.0], 0, "", (), True),
    ([1.0, 2.0 + 1e-9], (1.0, 2.0), 0, "", (), False),
    ([1.0], [1.0, 2.0], 0, "", (), False),
    ([[1.0 + 1e-9]], [[1.0]], 0, "", (), False),  # nested floats: not "floats", so no tolerance when atol 0...
    ([[1.0 + 1e-9]], [[1.0]], 1e-6, "", (), True),  # ...but allclose when a tolerance applies
    ([1, 3], [1, 2], 1e-4, "", (), False),
    ("1.0", 1.0, 0, "", (), False),
    (float("nan"), float("nan"), 0, "", (), False),  # nan never passes, as in EvalPlus
    (True, 1.0 + 1e-9, 1e-4, "", (), False),
    ([3, 1, 2], [1, 2, 3], 0, outputs.SET_EQ, (), True),
    ((3, 3, 1), [1, 3], 0, outputs.SET_EQ, (), True),
    ([1, 2], [1, 2, 4], 0, outputs.SET_EQ, (), False),
    ([[1]], [[1]], 0, outputs.SET_EQ, (), False),  # unhashable items: set() raises, the test fails
    (5, 7, 0, outputs.ANY_OUTPUT, (), True),
    (0, 7, 0, outputs.OR_ZERO, (), True),
    (1, 7, 0, outputs.OR_ZERO, (), False),
    (33, 33, 0, outputs.SURFACE_AREA, (3, 4), True),
    (round(9 + 6 * (2.25 + 16) ** 0.5), 33, 0, outputs.SURFACE_AREA, (3, 4), True),  # the slant-height reading
    (34, 33, 0, outputs.SURFACE_AREA, (3, 4), False),
    (6, 0, 0, outputs.DIGIT_DISTANCE, (123, 456), False),
    (9, 0, 0, outputs.DIGIT_DISTANCE, (123, 456), True),  # |1-4|+|2-5|+|3-6|
    (4, 0, 0, outputs.DIGIT_DISTANCE, (1, 23), True),  # "01" vs "23": |0-2| + |1-3|
    (True, True, 0, outputs.NOT_NONE, (), True),
    (False, True, 0, outputs.NOT_NONE, (), False),
    ("match", True, 0, outputs.NOT_NONE, (), True),  # anything but None counts as "returned a match"
    (None, False, 0, outputs.NOT_NONE, (), True),
    (-0.5, 0, 1e-4, outputs.POLY_ROOT, ([1, 2],), True),  # 1 + 2x = 0
    (-0.4, 0, 1e-4, outputs.POLY_ROOT, ([1, 2],), False),
    ("x", 0, 1e-4, outputs.POLY_ROOT, ([1, 2],), False),
]


@pytest.mark.parametrize("actual, expected, atol, oracle, args, passes", EVALPLUS_CASES)
def test_evalplus_match(actual, expected, atol, oracle, args, passes):
    assert evalplus_match(actual, expected, atol, oracle, args) is passes


def test_evalplus_tolerance_sticks_after_the_first_float_output_of_a_group():
    """EvalPlus sets atol to 1e-6 at the first float-valued expected output and keeps it for the rest of that
    group (base or plus); a task with its own atol keeps it everywhere."""
    expected = [1, 2.0, 3, [4], 5, 6.5, 7]
    floats = [outputs.is_floats(v) for v in expected]
    assert evalplus_tolerances(floats, 0, (3, 4)) == (0, 1e-6, 1e-6, 0, 0, 1e-6, 1e-6)
    assert evalplus_tolerances(floats, 1e-4, (3, 4)) == (1e-4,) * 7
    with pytest.raises(ValueError, match="do not add up"):
        evalplus_tolerances(floats, 0, (3,))
    # the carried tolerance lets an integer list pass with a float error, as in EvalPlus
    assert evalplus_match([1, 2.0000000001], [1, 2], 1e-6) and not evalplus_match([1, 2.0000000001], [1, 2], 0)


@pytest.mark.parametrize("value, floats", [(1.5, True), ([1.0, 2.0], True), ((1.0,), True), ([1.0, 2], False),
                                           ([], False), ([[1.0]], False), (1, False), (True, False)])
def test_is_floats(value, floats):
    assert outputs.is_floats(value) is floats


def test_unknown_oracle_fails_the_test():
    assert not evalplus_match(1, 1, 0, "no_such_oracle")
