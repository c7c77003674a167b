"""--alphas parsing: inclusive float ranges, lists, and one clear error per bad spec."""

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.sweep.alphas import MAX_ALPHAS, parse_alphas


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
