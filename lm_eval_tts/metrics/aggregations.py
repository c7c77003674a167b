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


def pass1_variance(per_problem_pass1: Sequence[float]) -> float:
    """Population variance over problems of per-problem pass@1 (items: one pass@1 per problem)."""
    return pass_at_k_bias_variance(per_problem_pass1, k=1)["variance"]


def jensen_bound(items: Sequence[Mapping[str, float]]) -> float:
    """1 - (1 - mean pass@1)^k over problems (items: `{"pass@1": p, "k": k}` per problem, one k throughout)."""
    ks = {int(item["k"]) for item in items}
    if len(ks) != 1:
        raise ValueError(f"jensen_bound items mix several k values {sorted(ks)}: give each k its own metric key")
    return pass_at_k_bias_variance([item["pass@1"] for item in items], k=ks.pop())["jensen_bound"]
