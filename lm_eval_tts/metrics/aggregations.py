"""lm-eval aggregation functions for the metrics that are not a plain mean over problems.

Use them from a task YAML's metric_list with lm-eval's `!function` tag (a dotted import path works):

    - metric: "pass@1_variance"
      aggregation: !function lm_eval_tts.metrics.aggregations.pass1_variance
      higher_is_better: false
    - metric: "jensen_bound@8"
      aggregation: !function lm_eval_tts.metrics.aggregations.jensen_bound
      higher_is_better: true

lm-eval computes a standard error only for its own `mean` (and a few bootstrappable built-ins), so these are
reported with `"<key>_stderr,<filter>": "N/A"`; every other tts metric aggregates with `mean` and gets one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from lm_eval_tts.metrics import keys
from lm_eval_tts.metrics.estimators import pass_at_k_bias_variance
from lm_eval_tts.metrics.verifier import best_k


class AggregationItem(dict):
    """One problem's input to an aggregation below (a dict, so `--log_samples` shows it as such).

    It refuses to be summed: when its key is missing from a task's metric_list, lm-eval falls back to `mean`,
    and this turns that into an error naming the fix instead of a TypeError about dicts.
    """

    key: str
    aggregation: str

    def __radd__(self, other):
        raise TypeError(
            f"{self.key} is missing from the task's metric_list, so lm-eval tried to average it: "
            f"add it with `aggregation: !function {__name__}.{self.aggregation}`"
        )


class JensenItem(AggregationItem):
    """{"pass@1": p, "k": k} for `jensen_bound`."""

    aggregation = "jensen_bound"

    def __init__(self, pass1: float, k: int):
        super().__init__({"pass@1": pass1, "k": k})
        self.key = keys.jensen_key(k)


class FalsePositiveItem(AggregationItem):
    """{"weak_passed": w, "false_positives": f} of one problem, for `false_positive_rate`."""

    key = keys.FALSE_POSITIVE_RATE
    aggregation = "false_positive_rate"

    def __init__(self, weak_passed: int, false_positives: int):
        super().__init__({"weak_passed": weak_passed, "false_positives": false_positives})


class UtilityCurveItem(AggregationItem):
    """{"utility": [utility@1, ..., utility@n]} of one problem, for `resampling_best_k`."""

    key = keys.RESAMPLING_BEST_K
    aggregation = "resampling_best_k"

    def __init__(self, curve: Sequence[float]):
        super().__init__({"utility": list(curve)})


def pass1_variance(per_problem_pass1: Sequence[float]) -> float:
    """Population variance over problems of per-problem pass@1 (items: one pass@1 per problem)."""
    return pass_at_k_bias_variance(per_problem_pass1, k=1)["variance"]


def jensen_bound(items: Sequence[Mapping[str, float]]) -> float:
    """1 - (1 - mean pass@1)^k over problems (items: JensenItem / `{"pass@1": p, "k": k}`, one k throughout)."""
    ks = {int(item["k"]) for item in items}
    if len(ks) != 1:
        raise ValueError(f"jensen_bound items mix several k values {sorted(ks)}: give each k its own metric key")
    return pass_at_k_bias_variance([item["pass@1"] for item in items], k=ks.pop())["jensen_bound"]


def false_positive_rate(items: Sequence[Mapping[str, int]]) -> float:
    """P(fails the strong tests | passes the weak tests) over all samples of all problems: sum f / sum w
    (NaN when no sample passed the weak tests: the rate is undefined, not 0)."""
    weak = sum(int(item["weak_passed"]) for item in items)
    return sum(int(item["false_positives"]) for item in items) / weak if weak else math.nan


def resampling_best_k(items: Sequence[Mapping[str, Sequence[float]]]) -> int:
    """The k in 1..n with the highest mean resampling utility over problems (items: UtilityCurveItem)."""
    lengths = {len(item["utility"]) for item in items}
    if len(lengths) != 1:
        raise ValueError(f"utility curves of different lengths {sorted(lengths)}: every problem needs n samples")
    return best_k([math.fsum(values) / len(items) for values in zip(*(item["utility"] for item in items))])
