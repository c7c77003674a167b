"""Output comparison rules (pure): LiveCodeBench stdout and EvalPlus values."""

from lm_eval_tts.grading.outputs import same_json_value, stdout_matches, values_match


def test_stdout_comparison_rules():
    assert stdout_matches("1 2\n3\n\n", "1 2\n3")
    assert stdout_matches("1.50  2\n", "1.5 2\n")
    assert not stdout_matches("1 2\n", "1 3\n")
    assert not stdout_matches("1\n2\n", "1\n")
    assert not stdout_matches("nan\n", "NaN\n")


def test_values_match():
    assert values_match(1, 1.0)
    assert values_match([1.0, 2.0], [1.0 + 1e-9, 2.0])
    assert not values_match([1.0, 2.0 + 1e-9], (1.0, 2.0))  # near-equal floats: types must agree too
    assert not values_match([1.0], [1.0, 2.0])
    assert not values_match("1.0", 1.0)
    assert not values_match(1.1, 1.0, atol=0.01)


def test_same_json_value_tuples_as_lists():
    assert same_json_value((1, [2, (3,)]), [1, [2, [3]]])
    assert not same_json_value([1, 2], [2, 1])
