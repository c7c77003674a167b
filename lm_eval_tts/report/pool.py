"""A pool of the given runs under one sample budget, per task (metrics.pooling), as a table and a plot.

`lm-eval-tts report --pool RUN RUN ...`, and automatically when the runs differ only in alpha (a sweep's
output dir): for each budget k, the held-out pass of the best split of k samples across the runs, of the
uniform split, and of the best single run, with the gain over the best single run as a paired bootstrap CI.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lm_eval_tts.metrics.estimators import default_ks
from lm_eval_tts.metrics.paired import LEVEL, RESAMPLES, SEED, PairedDifference, paired_bootstrap
from lm_eval_tts.metrics.pooling import PoolAtK, pool_at_k
from lm_eval_tts.report.problems import correct_count, shared_problems
from lm_eval_tts.report.table import markdown_table
from lm_eval_tts.report.view.samples import TaskSamples


@dataclass(frozen=True)
class PoolReport:
    task: str
    labels: tuple[str, ...]
    problems: int
    results: tuple[PoolAtK, ...]
    gains: tuple[PairedDifference, ...]  # best split minus best single policy, per k (held-out problems)


def pool_task(tasks: Sequence[TaskSamples], labels: Sequence[str]) -> PoolReport | None:
    """The pool of these runs' samples of one task; None with fewer than 2 shared problems."""
    shared = shared_problems(tasks, labels)
    if len(shared) < 2:
        return None
    problems = [[correct_count(p) for p in group] for group in shared]
    smallest = min(n for problem in problems for n, _ in problem)
    if smallest < 1:
        return None
    results = tuple(pool_at_k(problems, k) for k in default_ks(smallest))
    single = [[r.best_single[p] for r in results] for p in range(len(problems))]
    pooled = [[r.best_split[p] for r in results] for p in range(len(problems))]
    gains = tuple(paired_bootstrap(single, pooled))
    return PoolReport(tasks[0].name, tuple(labels), len(problems), results, gains)


def pool_runs(samples: Sequence[Mapping[str, TaskSamples]], labels: Sequence[str]) -> list[PoolReport]:
    """A PoolReport for every task that all runs logged samples of."""
    if len(samples) < 2:
        return []
    reports = []
    for task in samples[0]:
        if all(task in s for s in samples):
            report = pool_task([s[task] for s in samples], labels)
            if report:
                reports.append(report)
    return reports


def format_pool(report: PoolReport) -> str:
    header = (f"pool: {report.task}, {len(report.labels)} runs under one sample budget k on {report.problems} "
              f"shared problems; best split and best single run chosen on one half of the problems, scored on "
              f"the other ({LEVEL:.0%} paired bootstrap CI of the gain, B={RESAMPLES}, seed {SEED})")
    rows = []
    for result, gain in zip(report.results, report.gains):
        singles = " / ".join(dict.fromkeys(report.labels[i] for i in result.singles))
        splits = " / ".join(dict.fromkeys(_split_text(s) for s in result.splits))
        rows.append([str(result.k), f"{mean(result.best_single):.3f}", singles, f"{mean(result.uniform):.3f}",
                     f"{mean(result.best_split):.3f}", splits,
                     f"{gain.diff:+.3f} [{gain.low:+.3f}, {gain.high:+.3f}]"])
    runs = "; ".join(f"{i}: {label}" for i, label in enumerate(report.labels))
    table = markdown_table(["k", "best single", "chosen", "uniform split", "best split", "split (samples per run)",
                            "gain over best single"], rows)
    return f"{header}\nruns: {runs}\n{table}"


def _split_text(split: Sequence[int]) -> str:
    return "+".join(str(k) for k in split)


def mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values)
