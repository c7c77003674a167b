import math

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.merge.spec import MergeSpec


def test_from_alpha_puts_pretrained_first_with_weight_alpha():
    spec = MergeSpec.from_alpha("late", "early", 0.3, "bf16")
    assert spec.checkpoints == ("late", "early")
    assert spec.weights == (0.3, 0.7)
    assert spec.dtype == "bfloat16"
    assert not spec.is_identity


@pytest.mark.parametrize("alpha", [-0.5, 0.0, 1.5, 2])
def test_extrapolation_and_alpha_zero_are_real_merges(alpha):
    spec = MergeSpec.from_alpha("late", "early", alpha)
    assert spec.weights == (alpha, 1 - alpha)
    assert not spec.is_identity


def test_alpha_one_or_no_base_means_no_merge():
    assert MergeSpec.from_alpha("late", "early", 1.0).is_identity
    assert MergeSpec.from_alpha("late", None, 0.3).is_identity
    assert MergeSpec.from_alpha("late", "", 0.3).checkpoints == ("late",)
    assert MergeSpec(("a", "b"), (1, 0)).is_identity
    assert not MergeSpec(("a",), (2.0,)).is_identity


def test_n_way_weights_are_kept_as_given():
    spec = MergeSpec(["a", "b", "c"], [0.5, 0.3, 0.2], "float16")
    assert spec.checkpoints == ("a", "b", "c") and spec.weights == (0.5, 0.3, 0.2) and spec.dtype == "float16"
    assert hash(spec) == hash(MergeSpec(("a", "b", "c"), (0.5, 0.3, 0.2), "fp16"))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(checkpoints=("a", "b"), weights=(1.0,)), "1 weights for 2 checkpoints"),
        (dict(checkpoints=("a",), weights=(math.nan,)), "finite"),
        (dict(checkpoints=("a",), weights=(math.inf,)), "finite"),
        (dict(checkpoints=("a",), weights=("x",)), "must be numbers"),
        (dict(checkpoints=(), weights=()), "at least one"),
        (dict(checkpoints=("a", " "), weights=(1, 0)), "non-empty"),
        (dict(checkpoints=("a", "b"), weights=(0, 0)), "all weights are 0"),
        (dict(checkpoints=("a",), weights=(1,), dtype="int8"), "dtype='int8'"),
    ],
)
def test_bad_specs_raise_one_clear_user_error(kwargs, message):
    with pytest.raises(UserError, match=message):
        MergeSpec(**kwargs)


@pytest.mark.parametrize("alpha", ["abc", float("nan"), None])
def test_bad_alpha(alpha):
    with pytest.raises(UserError, match="alpha"):
        MergeSpec.from_alpha("late", "early", alpha)


def test_requested_takes_either_form_with_pretrained_first():
    assert MergeSpec.requested("late", base="early", alpha=0.25) == MergeSpec.from_alpha("late", "early", 0.25)
    assert MergeSpec.requested("late").is_identity
    n_way = MergeSpec.requested("b", checkpoints=("a", "b", "c"), weights=(0.2, 0.5, 0.3), dtype="fp16")
    assert n_way == MergeSpec(("b", "a", "c"), (0.5, 0.2, 0.3), "float16")  # config and tokenizer come from b
    assert MergeSpec.requested(None, checkpoints=("a", "b"), weights=(1, 2)).checkpoints == ("a", "b")


@pytest.mark.parametrize("kwargs, message", [
    ({}, "nothing to merge: give --pretrained LATE --base EARLY --alpha A"),
    ({"pretrained": "a", "checkpoints": ("a", "b")}, "--checkpoints needs --weights"),
    ({"pretrained": "a", "checkpoints": ("a", "b"), "weights": (1,)}, "1 weights for 2 checkpoints"),
    ({"pretrained": "a", "checkpoints": ("a",), "weights": (1,), "dtype": "fp4"}, "dtype='fp4' is not supported"),
])
def test_requested_errors_name_the_front_ends_arguments(kwargs, message):
    with pytest.raises(UserError, match=message):
        MergeSpec.requested(**kwargs, style="cli")
