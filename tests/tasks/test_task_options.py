"""Task options from lm-eval metadata: defaults, parsing, and one-line errors."""

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.tasks.task_options import TaskOptions, check_ks, parse_options


def test_defaults_and_model_args_pass_through():
    # lm-eval merges --model_args into metadata: those keys are not ours and are left alone
    options = parse_options({"pretrained": "/m", "backend": "hf", "fire": True, "version": 1.0, "config_source": "x"})
    assert options == TaskOptions()


def test_values():
    options = parse_options({"repeats": 8, "ks": [8, 1, 4, 4], "reward_model": "/orm", "reward_batch_size": 2,
                             "grading_timeout": 2, "dataset": "openai/gsm8k:main", "dataset_split": "test"})
    assert options.repeats == 8 and options.ks == (1, 4, 8) and options.grading_timeout == 2.0
    assert options.reward_model == "/orm" and options.reward_batch_size == 2 and options.dataset == "openai/gsm8k:main"


@pytest.mark.parametrize("value, ks", [(4, (4,)), ("1,2,4", (1, 2, 4)), ("[1, 16]", (1, 16)), ((2, 1), (1, 2))])
def test_ks_spellings(value, ks):
    assert parse_options({"ks": value}).ks == ks


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"repeat": 4}, "did you mean 'repeats'"),
        ({"grading_timout": 4}, "did you mean 'grading_timeout'"),
        ({"ks": [0, 1]}, "ks=[0, 1]: must be positive integers"),
        ({"ks": "a,b"}, "must be positive integers"),
        ({"ks": [1.5]}, "must be positive integers"),
        ({"repeats": True}, "repeats=True: must be a positive integer"),
        ({"grading_timeout": 0}, "grading_timeout=0: must be a positive number"),
        ({"reward_model": ""}, "reward_model='': must be a non-empty string"),
    ],
)
def test_bad_values(metadata, message):
    with pytest.raises(UserError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_options(metadata)


def test_check_ks():
    check_ks((1, 4), 4)
    with pytest.raises(UserError, match=r"k=8 needs at least 8 .* repeats=4; lower ks or raise repeats"):
        check_ks((1, 8), 4)
