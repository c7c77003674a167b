"""lm-eval aggregation functions for the metrics that are not a plain mean over problems.

Use them from a task YAML's metric_list with lm-eval's `!function` tag (a dotted import path works):

    - metric: "pass@1_variance"
      aggregation: !function lm_eval_tts.metrics.aggregations.pass1_variance
      higher_is_better: false
    - metric: "jensen_bound@8"
      aggregation: !function lm_eval_tts.metrics.aggregations.jensen_bound
      higher_is_better: true

lm-eval computes a standard error only for its own `mean` (and a few bootstrappable built-ins), so these two are
reported with `"<key>_stderr,<filter>": "N/A"`; every other tts metric aggregates with `mean` and gets one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from lm_eval_tts.metrics.estimators import pass_at_k_bias_variance


class JensenItem(dict):
    """One problem's input to `jensen_bound`: {"pass@1": p, "k": k} (a dict, so `--log_samples` shows it as such).

    It refuses to be summed: when a `jensen_bound@k` key is missing from a task's metric_list, lm-eval falls back
    to `mean`, and this turns that into an error naming the fix instead of a TypeError about dicts.
    """

    def __init__(self, pass1: float, k: int):
        super().__init__({"pass@1": pass1, "k": k})

    def __radd__(self, other):
        raise TypeError(
            f"jensen_bound@{self['k']} is missing from the task's metric_list, so lm-eval tried to average it: "
            f"add it with `aggregation: !function {__name__}.jensen_bound`"
        )


def pass1_variance(per_problem_pass1: Sequence[float]) -> float:
    """Population variance over problems of per-problem pass@1 (items: one pass@1 per problem)."""
    return pass_at_k_bias_variance(per_problem_pass1, k=1)["variance"]


def jensen_bound(items: Sequence[Mapping[str, float]]) -> float:
    """1 - (1 - mean pass@1)^k over problems (items: JensenItem / `{"pass@1": p, "k": k}`, one k throughout)."""
    ks = {int(item["k"]) for item in items}
    if len(ks) != 1:
        raise ValueError(f"jensen_bound items mix several k values {sorted(ks)}: give each k its own metric key")
    return pass_at_k_bias_variance([item["pass@1"] for item in items], k=ks.pop())["jensen_bound"]
