"""Per-problem metric dict for a task's `process_results`, and the metric_list entries that aggregate it.

Results keys (each as `"<key>,<filter>"` in lm-eval's results JSON). Unless noted they are means over problems
aggregated with lm-eval's `mean`, which also writes `"<key>_stderr,<filter>"` (sample std / sqrt(#problems)):
    pass@k                      unbiased pass@k
    pass@k_weak                 pass@k when passing the weak tests counts (code tasks with weak and strong tests)
    maj@k                       majority vote over k-subsets
    best@k_<score>              one family per score name, e.g. best@4_logprob, best@4_orm
    majtop@k                    k submissions: the k most frequent answers among N samples (metrics.selection)
    bontop@k_<score>            k submissions: the k best-scored distinct answers among N samples
    bom@k_<score>               k submissions: Best-of-Majority (frequency filter, then the k best-scored)
    utility@k                   resampling utility with budget k under the weak tests (metrics.verifier)
    num_distinct_answers        #EA: distinct non-None final answers among the n samples
    num_distinct_first_tokens   distinct first generated tokens among the n samples (only with first_tokens)
    tokens_per_sample           mean generated tokens per sample (only with tokens)
    resampling_limit            t / w: accuracy of resampling against the weak tests with an unlimited budget
    false_positive_rate         P(fails strong | passes weak), pooled over samples (stderr "N/A")
    resampling_best_k           the k in 1..n with the highest mean utility (stderr "N/A")
    pass@1_variance             population variance over problems of per-problem pass@1 (stderr "N/A")
    jensen_bound@k              1 - (1 - mean pass@1)^k: pass@k at zero variance across problems (stderr "N/A")
Per-sample values (what `--log_samples` shows per doc) are the per-problem estimates; for pass@1_variance it is
the problem's pass@1, for the other "N/A" keys the record their aggregation takes (metrics.aggregations).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence

from lm_eval_tts.metrics import keys
from lm_eval_tts.metrics.aggregations import FalsePositiveItem, JensenItem, UtilityCurveItem
from lm_eval_tts.metrics.estimators import best_at_k, check_k, distinct_count, maj_at_k, pass_at_k
from lm_eval_tts.metrics.options import MetricOptions
from lm_eval_tts.metrics.selection import Selection, selection_values
from lm_eval_tts.metrics.verifier import (
    resampling_limit,
    resampling_utility,
    utility_curve,
    verifier_counts,
)

MEAN = "mean"
_AGGREGATIONS = "lm_eval_tts.metrics.aggregations"
PASS1_VARIANCE_AGGREGATION = f"{_AGGREGATIONS}.pass1_variance"
JENSEN_BOUND_AGGREGATION = f"{_AGGREGATIONS}.jensen_bound"
FALSE_POSITIVE_RATE_AGGREGATION = f"{_AGGREGATIONS}.false_positive_rate"
RESAMPLING_BEST_K_AGGREGATION = f"{_AGGREGATIONS}.resampling_best_k"


def doc_metrics(
    correct: Sequence[bool],
    answers: Sequence[Hashable | None] | None,
    scores: Mapping[str, Sequence[float]] | None,
    first_tokens: Sequence[Hashable] | None,
    ks: Sequence[int],
    *,
    tokens: Sequence[int] | None = None,
    weak_correct: Sequence[bool] | None = None,
    options: MetricOptions = MetricOptions(),
) -> dict[str, object]:
    """All tts metrics of one problem from its n samples (see the module docstring for the keys).

    correct[i]: sample i graded correct (by the strong tests, where there are two sets); answers[i]: its
    canonical final answer or None, or answers=None when samples have no comparable answer (no vote, no
    selection rules, no #EA); scores: name -> one score per sample (higher is better), e.g. {"logprob": mean
    token log-probs}; first_tokens[i]: the first generated token id; tokens[i]: generated tokens;
    weak_correct[i]: passed the weak tests. Raises UserError when some k exceeds n.
    """
    n = len(correct)
    for k in ks:
        check_k(k, n)
    for name, values in (("answers", answers), ("first_tokens", first_tokens), ("tokens", tokens),
                         ("weak_correct", weak_correct)):
        if values is not None and len(values) != n:
            raise ValueError(f"{name} has {len(values)} entries but correct has {n}")
    scores = dict(scores or {})
    for name in scores:
        _check_score_name(name)
    ks = sorted(set(ks))
    n_correct = sum(bool(ok) for ok in correct)
    pass1 = n_correct / n

    out: dict[str, object] = {keys.pass_key(k): pass_at_k(n, n_correct, k) for k in ks}
    counts = verifier_counts(weak_correct, correct) if weak_correct is not None else None
    if counts is not None:
        out.update({keys.weak_pass_key(k): pass_at_k(n, counts.weak_passed, k) for k in ks})
    if answers is not None:
        out.update({keys.maj_key(k): maj_at_k(answers, correct, k) for k in ks})
    for name, values in scores.items():
        out.update({keys.best_key(k, name): best_at_k(values, correct, k) for k in ks})
    if answers is not None:
        selections = _selections(ks, scores)
        values = selection_values(answers, correct, scores, selections, threshold=options.bom_threshold,
                                  n_drawn=options.bom_samples)
        out.update({_selection_key(s): value for s, value in zip(selections, values)})
    if counts is not None:
        out.update({keys.utility_key(k): resampling_utility(counts, k, options.fp_cost) for k in ks})
    if answers is not None:
        out[keys.NUM_DISTINCT_ANSWERS] = distinct_count(answers)
    if first_tokens is not None:
        out[keys.NUM_DISTINCT_FIRST_TOKENS] = distinct_count(first_tokens)
    if tokens is not None:
        out[keys.TOKENS_PER_SAMPLE] = math.fsum(tokens) / n
    if counts is not None:
        out[keys.RESAMPLING_LIMIT] = resampling_limit(counts)
        out[keys.FALSE_POSITIVE_RATE] = FalsePositiveItem(counts.weak_passed, counts.false_pos)
        out[keys.RESAMPLING_BEST_K] = UtilityCurveItem(utility_curve(counts, options.fp_cost))
    out[keys.PASS1_VARIANCE] = pass1
    for k in ks:
        out[keys.jensen_key(k)] = JensenItem(pass1, k)
    return out


def metric_specs(
    ks: Sequence[int],
    score_names: Sequence[str] = (),
    with_first_tokens: bool = False,
    *,
    with_answers: bool = True,
    with_tokens: bool = False,
    with_verifier: bool = False,
) -> list[dict[str, object]]:
    """The metric_list entries a task YAML needs for `doc_metrics` output with these ks and score names
    (with_answers: answers given; with_tokens: tokens given; with_verifier: weak_correct given).

    Each entry: {"metric": key, "aggregation": "mean" or a dotted path (write it as `!function PATH` in YAML),
    "higher_is_better": bool}, in the order doc_metrics returns the keys. A task test can compare its YAML's
    metric_list with this. An entry whose key a doc does not return is harmless to lm-eval (it aggregates the
    keys process_results returns).
    """
    for name in score_names:
        _check_score_name(name)
    ks = sorted(set(ks))
    specs = [_spec(keys.pass_key(k)) for k in ks]
    if with_verifier:
        specs += [_spec(keys.weak_pass_key(k)) for k in ks]
    if with_answers:
        specs += [_spec(keys.maj_key(k)) for k in ks]
    specs += [_spec(keys.best_key(k, name)) for name in score_names for k in ks]
    if with_answers:
        specs += [_spec(_selection_key(s)) for s in _selections(ks, score_names)]
    if with_verifier:
        specs += [_spec(keys.utility_key(k)) for k in ks]
    if with_answers:
        specs.append(_spec(keys.NUM_DISTINCT_ANSWERS))
    if with_first_tokens:
        specs.append(_spec(keys.NUM_DISTINCT_FIRST_TOKENS))
    if with_tokens:
        specs.append(_spec(keys.TOKENS_PER_SAMPLE, higher_is_better=False))
    if with_verifier:
        specs += [_spec(keys.RESAMPLING_LIMIT),
                  _spec(keys.FALSE_POSITIVE_RATE, FALSE_POSITIVE_RATE_AGGREGATION, higher_is_better=False),
                  _spec(keys.RESAMPLING_BEST_K, RESAMPLING_BEST_K_AGGREGATION)]
    specs.append(_spec(keys.PASS1_VARIANCE, PASS1_VARIANCE_AGGREGATION, higher_is_better=False))
    specs += [_spec(keys.jensen_key(k), JENSEN_BOUND_AGGREGATION) for k in ks]
    return specs


def _selections(ks: Sequence[int], score_names) -> list[Selection]:
    """majtop@k for every k, then bontop@k_<score> and bom@k_<score> for every score name."""
    return [Selection(keys.MAJTOP, k) for k in ks] + [
        Selection(rule, k, name) for rule in (keys.BONTOP, keys.BOM) for name in score_names for k in ks]


def _selection_key(selection: Selection) -> str:
    if selection.rule == keys.MAJTOP:
        return keys.majtop_key(selection.k)
    make = keys.bontop_key if selection.rule == keys.BONTOP else keys.bom_key
    return make(selection.k, selection.score)


def _spec(metric: str, aggregation: str = MEAN, higher_is_better: bool = True) -> dict[str, object]:
    return {"metric": metric, "aggregation": aggregation, "higher_is_better": higher_is_better}


def _check_score_name(name: str) -> None:
    if not name.replace("_", "").isalnum() or name.endswith(keys.STDERR_SUFFIX):
        raise ValueError(
            f"score name {name!r} must be an identifier such as 'logprob' or 'orm' "
            f"(not ending in {keys.STDERR_SUFFIX!r}, which lm-eval reserves for standard errors)"
        )
