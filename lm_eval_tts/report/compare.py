"""Paired comparison of runs in the report: per task, each run against the first one given (the baseline).

Per shared problem (report.problems) the per-doc values that lm-eval logged (pass@k, maj@k, bom@k, #EA, ...)
of both runs give one difference per metric; metrics.paired turns them into a mean difference with a paired
bootstrap CI and p-value (B and seed stated there). Printed as a table here; drawn as bands of the difference
vs k by report.figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lm_eval_tts.metrics import keys
from lm_eval_tts.metrics.paired import LEVEL, RESAMPLES, SEED, PairedDifference, paired_bootstrap
from lm_eval_tts.report.problems import shared_problems
from lm_eval_tts.report.table import family_order, markdown_table
from lm_eval_tts.report.view.samples import TaskSamples


@dataclass(frozen=True)
class Comparison:
    """One task: run `other` minus run `baseline` on their shared problems, per metric."""

    task: str
    baseline: str
    other: str
    differences: dict[str, PairedDifference]  # metric key -> difference, in report order


def comparable_metrics(keys_present: set[str]) -> list[str]:
    """The tts keys worth a paired difference, in report order: @k families by k, then per-problem counts
    (pass@1_variance is left out: its per-doc value is just pass@1)."""
    by_family: dict[str, list[tuple[int, str]]] = {}
    for key in keys_present:
        if parsed := keys.parse_at_k(key):
            by_family.setdefault(parsed.family, []).append((parsed.k, key))
    ordered = [key for family in family_order(set(by_family)) for _, key in sorted(by_family[family])]
    per_problem = [k for k in keys.PER_PROBLEM_KEYS if k in keys_present and k != keys.PASS1_VARIANCE]
    return ordered + per_problem


def compare(baseline: TaskSamples, other: TaskSamples, labels: Sequence[str]) -> Comparison | None:
    """The paired comparison of two runs' samples of one task; None when they share no problem or metric."""
    pairs = shared_problems([baseline, other], labels)
    if not pairs:
        return None
    present = set.intersection(*(set(p.metrics) for pair in pairs for p in pair))
    metrics = comparable_metrics(present)
    if not metrics:
        return None
    a = [[pair[0].metrics[m] for m in metrics] for pair in pairs]
    b = [[pair[1].metrics[m] for m in metrics] for pair in pairs]
    return Comparison(baseline.name, labels[0], labels[1], dict(zip(metrics, paired_bootstrap(a, b))))


def compare_runs(samples: Sequence[Mapping[str, TaskSamples]], labels: Sequence[str]) -> list[Comparison]:
    """Every later run against the first, for each task both logged samples of."""
    out = []
    for task in samples[0] if samples else {}:
        for other, label in zip(samples[1:], labels[1:]):
            if task in other:
                comparison = compare(samples[0][task], other[task], [labels[0], label])
                if comparison:
                    out.append(comparison)
    return out


def format_comparison(comparison: Comparison) -> str:
    first = next(iter(comparison.differences.values()))
    header = (f"paired: {comparison.task}, {comparison.other} minus {comparison.baseline} on {first.problems} "
              f"shared problems ({LEVEL:.0%} paired bootstrap CI and two-sided p, B={RESAMPLES}, seed {SEED})")
    rows = [[metric, f"{d.mean_a:.3f}", f"{d.mean_b:.3f}", f"{d.diff:+.3f}", f"[{d.low:+.3f}, {d.high:+.3f}]",
             _p(d.p_value)] for metric, d in comparison.differences.items()]
    table = markdown_table(["metric", comparison.baseline, comparison.other, "difference", "CI", "p"], rows)
    return f"{header}\n{table}"


def _p(value: float) -> str:
    return f"{value:.4f}" if value >= 1e-3 else f"<{1e-3:g}"
