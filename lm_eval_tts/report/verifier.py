"""Verifier false positives in the report (metrics.verifier): a table per task with weak and strong tests, and
the resampling utility curve vs k with its best k (drawn by report.figures).

The curve is drawn for every k = 1..n when the run's samples are logged (each problem's curve from its records'
`weak_passed` and `correct`, at the run's `fp_cost`), else at the task's ks from the results.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence

from lm_eval_tts.metrics import keys
from lm_eval_tts.metrics.options import DEFAULT_FP_COST
from lm_eval_tts.metrics.verifier import WEAK_PASSED, utility_curve, verifier_counts
from lm_eval_tts.report.results import TaskMetrics
from lm_eval_tts.report.table import curve, markdown_table
from lm_eval_tts.report.view.samples import TaskSamples

def has_verifier_metrics(metrics: TaskMetrics) -> bool:
    return bool(curve(metrics, keys.UTILITY))


def fp_cost(metrics: TaskMetrics) -> float:
    return float(metrics.metadata.get("fp_cost", DEFAULT_FP_COST))


def format_verifier(rows: Sequence[tuple[str, str, TaskMetrics]]) -> str:
    """One table over the (task, run label, metrics) rows that have weak and strong tests."""
    rows = [row for row in rows if has_verifier_metrics(row[2])]
    if not rows:
        return ""
    body = []
    for name, label, m in rows:
        n = max(curve(m, keys.PASS), default=None)
        body.append([name, label, f"{fp_cost(m):g}", _value(m, keys.pass_key(1)), _value(m, keys.weak_pass_key(1)),
                     _value(m, keys.pass_key(n)) if n else "", _value(m, keys.weak_pass_key(n)) if n else "",
                     _value(m, keys.FALSE_POSITIVE_RATE), _value(m, keys.RESAMPLING_LIMIT),
                     _count(m.values.get(keys.RESAMPLING_BEST_K)),
                     _value(m, keys.utility_key(int(m.values[keys.RESAMPLING_BEST_K])))
                     if keys.RESAMPLING_BEST_K in m.values else ""])
    header = ["task", "run", "fp_cost", "pass@1", "pass@1 weak", "pass@n", "pass@n weak",
              "P(fails strong | passes weak)", "resampling limit", "best k", "utility at best k"]
    return ("verifier false positives (weak tests vs all tests; resampling submits the first sample that passes "
            "the weak tests: +1 right, -fp_cost wrong, 0 none)\n" + markdown_table(header, body))


def utility_points(metrics: TaskMetrics, samples: TaskSamples | None) -> dict[int, tuple[float, float | None]]:
    """k -> (mean utility, stderr): every k = 1..n from the samples' records when they have the weak verdicts,
    else the results' utility@k at the task's ks."""
    curves = []
    for problem in samples.problems if samples else ():
        records = [s.record for s in problem.samples]
        if not records or not all(WEAK_PASSED in r and isinstance(r.get("correct"), bool) for r in records):
            curves = []
            break
        counts = verifier_counts([r[WEAK_PASSED] for r in records], [r["correct"] for r in records])
        curves.append(utility_curve(counts, fp_cost(metrics)))
    if curves and len({len(c) for c in curves}) == 1:
        return {k: (statistics.fmean(values), statistics.stdev(values) / math.sqrt(len(values))
                    if len(values) > 1 else None) for k, values in enumerate(zip(*curves), start=1)}
    return curve(metrics, keys.UTILITY)


def _value(metrics: TaskMetrics, key: str) -> str:
    return f"{metrics.values[key]:.3f}" if key in metrics.values else ""


def _count(value: float | None) -> str:
    return "" if value is None else str(int(value))
