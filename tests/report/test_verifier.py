"""The report's verifier view: utility curves from logged records agree with lm-eval's aggregated utility@k."""

from __future__ import annotations

import dataclasses

import pytest

from lm_eval_tts.report.problems import run_samples
from lm_eval_tts.report.results import load_runs, run_labels
from lm_eval_tts.report.table import rows_by_task
from lm_eval_tts.report.verifier import fp_cost, format_verifier, has_verifier_metrics, utility_points

TASK = "tts_fixture [graded]"


@pytest.fixture(scope="module")
def runs(lm_eval_runs):
    return load_runs(lm_eval_runs)


def test_full_curve_from_records_agrees_with_results_at_the_ks(runs):
    for run in runs:
        (metrics,) = run.tasks
        points = utility_points(metrics, run_samples(run)[TASK])
        assert sorted(points) == [1, 2, 3, 4]  # every k, not only the task's ks
        for k in (1, 2, 4):
            assert points[k][0] == pytest.approx(metrics.values[f"utility@{k}"])
            assert points[k][1] == pytest.approx(metrics.stderrs[f"utility@{k}"])
        assert utility_points(metrics, None) == {k: (metrics.values[f"utility@{k}"], metrics.stderrs[f"utility@{k}"])
                                                 for k in (1, 2, 4)}


def test_fp_cost_comes_from_the_task_options(runs):
    (metrics,) = runs[0].tasks
    assert fp_cost(metrics) == 1.0
    costly = dataclasses.replace(metrics, metadata={"fp_cost": 4})
    assert fp_cost(costly) == 4.0
    (expensive,) = [utility_points(costly, run_samples(runs[0])[TASK])[4]]
    assert expensive[0] < utility_points(metrics, run_samples(runs[0])[TASK])[4][0]


def test_verifier_table(runs):
    text = format_verifier(rows_by_task(runs, run_labels(runs)))
    lines = text.splitlines()
    assert lines[0].startswith("verifier false positives")
    cells = [c.strip() for c in lines[3].split("|")[1:-1]]
    # alpha=0: 10 samples pass the weak tests, 4 of them fail the strong ones; resampling limit 0.542, best k 1.
    assert cells == [TASK, "alpha=0.0 [ConstantLM]", "1", "0.375", "0.625", "0.750", "1.000", "0.400", "0.542", "1",
                     "0.125"]
    assert not has_verifier_metrics(dataclasses.replace(runs[0].tasks[0], values={"pass@1": 0.5}))
