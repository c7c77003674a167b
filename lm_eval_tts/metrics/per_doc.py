"""Per-problem metric dict for a task's `process_results`, and the metric_list entries that aggregate it.

Results keys (each as `"<key>,<filter>"` in lm-eval's results JSON). The first five are means over problems
aggregated with lm-eval's `mean`, which also writes `"<key>_stderr,<filter>"` (sample std / sqrt(#problems)):
    pass@k                      unbiased pass@k
    maj@k                       majority vote over k-subsets
    best@k_<score>              one family per score name, e.g. best@4_logprob, best@4_orm
    num_distinct_answers        #EA: distinct non-None final answers among the n samples
    num_distinct_first_tokens   distinct first generated tokens among the n samples (only with first_tokens)
    pass@1_variance             population variance over problems of per-problem pass@1 (stderr "N/A")
    jensen_bound@k              1 - (1 - mean pass@1)^k: pass@k at zero variance across problems (stderr "N/A")
Per-sample values (what `--log_samples` shows per doc) are the per-problem estimates; for pass@1_variance it is
the problem's pass@1, for jensen_bound@k a `{"pass@1": p, "k": k}` record.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence

from lm_eval_tts.metrics import keys
from lm_eval_tts.metrics.aggregations import JensenItem
from lm_eval_tts.metrics.estimators import best_at_k, check_k, distinct_count, maj_at_k, pass_at_k

MEAN = "mean"
PASS1_VARIANCE_AGGREGATION = "lm_eval_tts.metrics.aggregations.pass1_variance"
JENSEN_BOUND_AGGREGATION = "lm_eval_tts.metrics.aggregations.jensen_bound"


def doc_metrics(
    correct: Sequence[bool],
    answers: Sequence[Hashable | None],
    scores: Mapping[str, Sequence[float]] | None,
    first_tokens: Sequence[Hashable] | None,
    ks: Sequence[int],
) -> dict[str, object]:
    """All tts metrics of one problem from its n samples (see the module docstring for the keys).

    correct[i]: sample i graded correct; answers[i]: its canonical final answer or None; scores: name ->
    one score per sample (higher is better), e.g. {"logprob": mean token log-probs}; first_tokens[i]: the
    first generated token id. Raises UserError when some k exceeds n.
    """
    n = len(correct)
    for k in ks:
        check_k(k, n)
    if len(answers) != n:
        raise ValueError(f"answers has {len(answers)} entries but correct has {n}")
    ks = sorted(set(ks))
    n_correct = sum(bool(ok) for ok in correct)
    pass1 = n_correct / n

    out: dict[str, object] = {}
    for k in ks:
        out[keys.pass_key(k)] = pass_at_k(n, n_correct, k)
    for k in ks:
        out[keys.maj_key(k)] = maj_at_k(answers, correct, k)
    for name, values in (scores or {}).items():
        _check_score_name(name)
        for k in ks:
            out[keys.best_key(k, name)] = best_at_k(values, correct, k)
    out[keys.NUM_DISTINCT_ANSWERS] = distinct_count(answers)
    if first_tokens is not None:
        if len(first_tokens) != n:
            raise ValueError(f"first_tokens has {len(first_tokens)} entries but correct has {n}")
        out[keys.NUM_DISTINCT_FIRST_TOKENS] = distinct_count(first_tokens)
    out[keys.PASS1_VARIANCE] = pass1
    for k in ks:
        out[keys.jensen_key(k)] = JensenItem(pass1, k)
    return out


def metric_specs(
    ks: Sequence[int], score_names: Sequence[str] = (), with_first_tokens: bool = False
) -> list[dict[str, object]]:
    """The metric_list entries a task YAML needs for `doc_metrics` output with these ks and score names.

    Each entry: {"metric": key, "aggregation": "mean" or a dotted path (write it as `!function PATH` in YAML),
    "higher_is_better": bool}. A task test can compare its YAML's metric_list with this.
    """
    for name in score_names:
        _check_score_name(name)
    ks = sorted(set(ks))
    specs = [_spec(keys.pass_key(k)) for k in ks]
    specs += [_spec(keys.maj_key(k)) for k in ks]
    specs += [_spec(keys.best_key(k, name)) for name in score_names for k in ks]
    specs.append(_spec(keys.NUM_DISTINCT_ANSWERS))
    if with_first_tokens:
        specs.append(_spec(keys.NUM_DISTINCT_FIRST_TOKENS))
    specs.append(_spec(keys.PASS1_VARIANCE, PASS1_VARIANCE_AGGREGATION, higher_is_better=False))
    specs += [_spec(keys.jensen_key(k), JENSEN_BOUND_AGGREGATION) for k in ks]
    return specs


def _spec(metric: str, aggregation: str = MEAN, higher_is_better: bool = True) -> dict[str, object]:
    return {"metric": metric, "aggregation": aggregation, "higher_is_better": higher_is_better}


def _check_score_name(name: str) -> None:
    if not name.replace("_", "").isalnum() or name.endswith(keys.STDERR_SUFFIX):
        raise ValueError(
            f"score name {name!r} must be an identifier such as 'logprob' or 'orm' "
            f"(not ending in {keys.STDERR_SUFFIX!r}, which lm-eval reserves for standard errors)"
        )
