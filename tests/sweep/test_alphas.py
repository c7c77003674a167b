"""--alphas parsing: inclusive float ranges, lists, and one clear error per bad spec; alphas written exactly."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lm_eval_tts.errors import UserError
from lm_eval_tts.sweep.alphas import MAX_ALPHAS, format_alpha, parse_alphas


@pytest.mark.parametrize("text, expected", [
    ("0:1.2:0.1", tuple(i / 10 for i in range(13))),  # 1.2 is included although 12 * 0.1 != 1.2 in floats
    ("0:1:0.25", (0.0, 0.25, 0.5, 0.75, 1.0)),
    ("1:0:-0.5", (1.0, 0.5, 0.0)),
    ("-0.4:0.2:0.2", (-0.4, -0.2, 0.0, 0.2)),
    ("0:1:0.3", (0.0, 0.3, 0.6, 0.9)),  # stop not on the grid: not included
    ("0.5:0.5:0.1", (0.5,)),
    ("0,0.5,1", (0.0, 0.5, 1.0)),
    (" 1.5, -0.5 ,1 ", (1.5, -0.5, 1.0)),  # order kept, extrapolation allowed
    ("0.7", (0.7,)),
])
def test_valid_specs(text, expected):
    assert parse_alphas(text) == expected


def test_range_values_print_cleanly():
    assert [f"{a:g}" for a in parse_alphas("0:1.2:0.1")] == ["0", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6", "0.7",
                                                             "0.8", "0.9", "1", "1.1", "1.2"]
    assert str(parse_alphas("-0.2:0:0.1")[-1]) == "0.0"  # not -0.0


@pytest.mark.parametrize("text, message", [
    ("0:1", "exactly start:stop:step"),
    ("0:1:0", "step is 0"),
    ("0:1:-0.1", "flip the step's sign"),
    ("0:x:0.1", "'x' is not a number"),
    ("0,,1", "'' is not a number"),
    ("0,nan", "'nan' is not a finite number"),
    ("0,0.5,0.5", "alpha 0.5 appears twice"),
    ("", "'' is not a number"),
    (f"0:1:{1 / (MAX_ALPHAS * 2)}", "use a larger step"),
])
def test_bad_specs_give_one_clear_line(text, message):
    with pytest.raises(UserError, match=message) as err:
        parse_alphas(text)
    assert "\n" not in str(err.value) and "--alphas" in str(err.value)


@pytest.mark.parametrize("alpha, text", [
    (0.0, "0"), (1.0, "1"), (0.5, "0.5"), (-0.25, "-0.25"), (100.0, "100"), (1e-07, "1e-07"),
    (0.1 + 0.2, "0.30000000000000004"), (0.1234567, "0.1234567"), (0.1234568, "0.1234568"),  # :g gives 0.123457 twice
])
def test_format_alpha_is_exact_and_short(alpha, text):
    assert format_alpha(alpha) == text


@given(st.floats(allow_nan=False, allow_infinity=False), st.floats(allow_nan=False, allow_infinity=False))
def test_format_alpha_reads_back_exactly_and_never_collides(a, b):
    assert float(format_alpha(a)) == a and parse_alphas(format_alpha(a)) == (a + 0.0,)
    if a != b:
        assert format_alpha(a) != format_alpha(b)
