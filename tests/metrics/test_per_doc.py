"""doc_metrics keys and values, metric_specs, and the two custom aggregations."""

from __future__ import annotations

import math

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.metrics import keys
from fractions import Fraction

from lm_eval_tts.metrics.aggregations import (
    FalsePositiveItem,
    JensenItem,
    UtilityCurveItem,
    false_positive_rate,
    jensen_bound,
    pass1_variance,
    resampling_best_k,
)
from lm_eval_tts.metrics.estimators import best_at_k
from lm_eval_tts.metrics.options import MetricOptions
from lm_eval_tts.metrics.per_doc import doc_metrics, metric_specs

CORRECT = [True, False, False, True]
ANSWERS = ["12", "7", None, "12"]
SCORES = {"logprob": [-0.5, -0.1, -2.0, -0.9]}
FIRST_TOKENS = [11, 11, 42, 7]


def test_doc_metrics_keys_and_values():
    out = doc_metrics(CORRECT, ANSWERS, SCORES, FIRST_TOKENS, ks=[4, 1, 2, 2])
    assert list(out) == [
        "pass@1", "pass@2", "pass@4", "maj@1", "maj@2", "maj@4",
        "best@1_logprob", "best@2_logprob", "best@4_logprob",
        "majtop@1", "majtop@2", "majtop@4", "bontop@1_logprob", "bontop@2_logprob", "bontop@4_logprob",
        "bom@1_logprob", "bom@2_logprob", "bom@4_logprob",
        "num_distinct_answers", "num_distinct_first_tokens", "pass@1_variance",
        "jensen_bound@1", "jensen_bound@2", "jensen_bound@4",
    ]
    assert out["pass@1"] == 0.5
    assert out["pass@2"] == pytest.approx(1 - 1 / 6)  # only the pair of wrong samples fails
    assert out["maj@4"] == 1.0  # "12" has two votes, "7" one, None none
    # pairs {0,1} 1/2 (tie), {0,2} 1, {0,3} 1, {1,2} 0, {1,3} 1/2 (tie), {2,3} 1
    assert out["maj@2"] == pytest.approx(4 / 6)
    assert out["best@4_logprob"] == 0.0  # the highest mean log-prob (-0.1) is the wrong "7"
    assert out["best@1_logprob"] == 0.5
    assert out["majtop@1"] == 1.0  # "12" (2 votes) before "7"
    assert out["bontop@1_logprob"] == 0.0  # "7" has the higher mean log-prob (-0.1 vs -0.7)
    assert out["bontop@2_logprob"] == 1.0
    assert out["bom@1_logprob"] == 0.0  # N = 4 < 8: the 1/8 threshold keeps every answer, so bom = bontop
    assert out["num_distinct_answers"] == 2
    assert out["num_distinct_first_tokens"] == 3
    assert out["pass@1_variance"] == 0.5
    assert out["jensen_bound@4"] == {"pass@1": 0.5, "k": 4}


def test_doc_metrics_without_scores_or_first_tokens():
    out = doc_metrics(CORRECT, ANSWERS, None, None, ks=[1])
    assert not any(key.startswith(("best@", "bom@", "bontop@")) for key in out)
    assert "majtop@1" in out
    assert "num_distinct_first_tokens" not in out and "tokens_per_sample" not in out


def test_doc_metrics_without_answers_has_no_vote():
    out = doc_metrics(CORRECT, None, SCORES, None, ks=[1, 2])
    assert not any(key.startswith(("maj@", "majtop@", "bom@", "bontop@")) for key in out)
    assert "num_distinct_answers" not in out and out["best@2_logprob"] == best_at_k(SCORES["logprob"], CORRECT, 2)


def test_bom_threshold_and_samples_options():
    answers = ["7", "7", "7", "12", "12", "5", None, None]
    correct = [a in ("12", "5") for a in answers]
    scores = {"orm": [0.2, 0.2, 0.2, 0.5, 0.5, 0.9, 0.0, 0.0]}
    plain = doc_metrics(correct, answers, scores, None, ks=[1])
    assert plain["bom@1_orm"] == 1.0  # N = 8: every answer is a candidate, "5" scores best
    strict = doc_metrics(correct, answers, scores, None, ks=[1], options=MetricOptions(bom_threshold=Fraction(1, 2)))
    assert strict["bom@1_orm"] == 0.0  # no answer reaches half of the 8 samples: nothing is submitted
    some = doc_metrics(correct, answers, scores, None, ks=[1], options=MetricOptions(bom_threshold=Fraction(3, 8)))
    assert some["bom@1_orm"] == 0.0 and some["bontop@1_orm"] == 1.0  # only "7" reaches 3/8
    drawn = doc_metrics(correct, answers, scores, None, ks=[1], options=MetricOptions(bom_samples=1))
    assert drawn["majtop@1"] == pytest.approx(3 / 8)  # one sample drawn: right iff it says 12 or 5


def test_tokens_and_verifier_keys():
    weak = [True, True, True, False]
    strong = [True, False, False, False]
    out = doc_metrics(strong, None, None, None, ks=[1, 4], tokens=[10, 20, 30, 40], weak_correct=weak,
                      options=MetricOptions(fp_cost=0.5))
    assert out["tokens_per_sample"] == 25.0
    assert out["pass@4_weak"] == 1.0 and out["pass@1_weak"] == 0.75
    assert out["utility@4"] == pytest.approx(1 / 3 - 0.5 * 2 / 3)  # surely submits; 1 of 3 weak passes is right
    assert out["resampling_limit"] == pytest.approx(1 / 3)
    assert out["false_positive_rate"] == {"weak_passed": 3, "false_positives": 2}
    assert len(out["resampling_best_k"]["utility"]) == 4
    specs = metric_specs([1, 4], with_first_tokens=False, with_answers=False, with_tokens=True, with_verifier=True)
    assert [spec["metric"] for spec in specs] == list(out)


def test_k_larger_than_n_is_one_clear_user_error():
    with pytest.raises(UserError, match=r"^k=8 is larger than the number of samples per problem n=4: .*repeats"):
        doc_metrics(CORRECT, ANSWERS, SCORES, None, ks=[1, 8])


def test_mismatched_lengths_and_bad_score_names():
    with pytest.raises(ValueError, match="answers has 3 entries"):
        doc_metrics(CORRECT, ANSWERS[:3], None, None, ks=[1])
    with pytest.raises(ValueError, match="first_tokens has 1 entries"):
        doc_metrics(CORRECT, ANSWERS, None, [1], ks=[1])
    for bad in ("a,b", "", "orm_stderr"):
        with pytest.raises(ValueError, match="score name"):
            doc_metrics(CORRECT, ANSWERS, {bad: [0.0] * 4}, None, ks=[1])


def test_metric_specs_cover_exactly_the_doc_metrics_keys():
    out = doc_metrics(CORRECT, ANSWERS, SCORES, FIRST_TOKENS, ks=[1, 2, 4])
    specs = metric_specs([1, 2, 4], ["logprob"], with_first_tokens=True)
    assert [spec["metric"] for spec in specs] == list(out)
    assert all(keys.is_tts_key(key) for key in out)
    aggregation = {spec["metric"]: spec["aggregation"] for spec in specs}
    assert aggregation["pass@4"] == "mean"
    assert aggregation["pass@1_variance"] == "lm_eval_tts.metrics.aggregations.pass1_variance"
    assert aggregation["jensen_bound@2"] == "lm_eval_tts.metrics.aggregations.jensen_bound"


def test_aggregations_by_hand():
    assert pass1_variance([0.0, 1.0, 0.5, 0.5]) == pytest.approx(0.125)
    items = [{"pass@1": p, "k": 2} for p in (0.0, 1.0, 0.5, 0.5)]
    assert jensen_bound(items) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="mix several k"):
        jensen_bound([{"pass@1": 0.5, "k": 2}, {"pass@1": 0.5, "k": 4}])
    assert false_positive_rate([FalsePositiveItem(3, 1), FalsePositiveItem(1, 1), FalsePositiveItem(0, 0)]) == 0.5
    assert math.isnan(false_positive_rate([FalsePositiveItem(0, 0)]))
    assert resampling_best_k([UtilityCurveItem([0.1, 0.2, 0.0]), UtilityCurveItem([0.3, 0.1, 0.0])]) == 1
    with pytest.raises(ValueError, match="different lengths"):
        resampling_best_k([UtilityCurveItem([0.1]), UtilityCurveItem([0.1, 0.2])])


@pytest.mark.parametrize("item,key,aggregation", [
    (FalsePositiveItem(1, 0), "false_positive_rate", "false_positive_rate"),
    (UtilityCurveItem([0.5]), "resampling_best_k", "resampling_best_k"),
])
def test_items_refuse_a_mean_fallback_with_the_fix_named(item, key, aggregation):
    with pytest.raises(TypeError, match=rf"{key} is missing from the task's metric_list.*aggregations\.{aggregation}"):
        sum([item, item])


def test_jensen_items_refuse_a_mean_fallback_with_the_fix_named():
    items = doc_metrics(CORRECT, ANSWERS, None, None, ks=[4])["jensen_bound@4"], JensenItem(1.0, 4)
    with pytest.raises(TypeError, match=r"jensen_bound@4 is missing from the task's metric_list.*aggregations\.jensen_bound"):
        sum(items) / len(items)  # what lm-eval's `mean` does
    assert jensen_bound(items) == pytest.approx(1 - 0.25**4)


@pytest.mark.parametrize("key,parsed", [
    ("pass@16", keys.AtK("pass", 16)), ("maj@2", keys.AtK("maj", 2)), ("best@4_orm", keys.AtK("best_orm", 4)),
    ("jensen_bound@8", keys.AtK("jensen_bound", 8)), ("pass@1_variance", None), ("acc", None), ("pass@x", None),
    ("best@4_orm_stderr", None), ("pass@4_stderr", None), ("majtop@2", keys.AtK("majtop", 2)),
    ("bom@8_logprob", keys.AtK("bom_logprob", 8)), ("bontop@1_orm", keys.AtK("bontop_orm", 1)),
    ("pass@4_weak", keys.AtK("pass_weak", 4)), ("utility@16", keys.AtK("utility", 16)), ("tokens_per_sample", None),
])
def test_parse_at_k(key, parsed):
    assert keys.parse_at_k(key) == parsed


@pytest.mark.parametrize("key,base", [("bom@8_logprob", "bom"), ("bontop@1_orm", "bontop"), ("majtop@2", "majtop"),
                                      ("maj@2", "maj"), ("pass@4_weak", "pass"), ("jensen_bound@2", "jensen_bound")])
def test_at_k_base_family(key, base):
    assert keys.parse_at_k(key).base == base
