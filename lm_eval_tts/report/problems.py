"""Per-problem data of runs for the report's analyses: their `--log_samples` files, the problems runs share.

The samples files are read by lm_eval_tts.report.view.samples (one Problem per doc: its per-doc metric values
and one grading record per sample). Runs are compared problem by problem: a problem is shared when every run
has its doc_id with the same doc, so two runs of the same task on the same data line up even when one used
--limit; runs that hold a different doc under the same id are different data, which is an error.
"""

from __future__ import annotations

from collections.abc import Sequence

from lm_eval_tts.errors import UserError
from lm_eval_tts.report.results import Run
from lm_eval_tts.report.view.samples import Problem, TaskSamples, read_samples_file, samples_files


def run_samples(run: Run) -> dict[str, TaskSamples]:
    """The run's logged samples by task display name (as TaskMetrics.name); {} without --log_samples files."""
    return {
        task.name: task
        for name, path in samples_files(run.path).items()
        for task in read_samples_file(name, path)
    }


def shared_problems(tasks: Sequence[TaskSamples], labels: Sequence[str]) -> list[tuple[Problem, ...]]:
    """Per doc_id present in every run (in the first run's order): the runs' Problems, one per run."""
    by_id = [{problem.doc_id: problem for problem in task.problems} for task in tasks]
    shared = []
    for problem in tasks[0].problems:
        group = tuple(ids.get(problem.doc_id) for ids in by_id)
        if any(p is None for p in group):
            continue
        for other, label in zip(group[1:], labels[1:]):
            if other.doc != problem.doc:
                raise UserError(
                    f"{tasks[0].name}: runs {labels[0]!r} and {label!r} hold different problems under doc_id "
                    f"{problem.doc_id}; compare runs of the same task on the same data"
                )
        shared.append(group)
    return shared


def correct_count(problem: Problem) -> tuple[int, int]:
    """(n, c): graded samples of the problem and how many were correct."""
    verdicts = [s.record.get("correct") for s in problem.samples]
    graded = [v for v in verdicts if isinstance(v, bool)]
    return len(graded), sum(graded)
