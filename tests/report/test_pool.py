"""The report's pool of runs from their logged samples (real lm-eval files) and its table."""

from __future__ import annotations

import math

import pytest

from lm_eval_tts.metrics.estimators import pass_at_k
from lm_eval_tts.metrics.pooling import pool_at_k
from lm_eval_tts.report.pool import format_pool, pool_runs, pool_task
from lm_eval_tts.report.problems import run_samples
from lm_eval_tts.report.results import load_runs
from tests.report.lm_eval_fixture import GRADING_BY_ALPHA, QUESTIONS

TASK = "tts_fixture [graded]"


@pytest.fixture(scope="module")
def samples(lm_eval_runs):
    return [run_samples(run) for run in load_runs(lm_eval_runs)]


def test_pool_from_records_matches_the_estimator_on_the_counts(samples):
    report = pool_task([s[TASK] for s in samples], ["a", "b"])
    counts = [[(4, sum(GRADING_BY_ALPHA[alpha][q]["correct"])) for alpha in GRADING_BY_ALPHA] for q in QUESTIONS]
    assert report.problems == 4 and [r.k for r in report.results] == [1, 2, 4]
    for result in report.results:
        assert result == pool_at_k(counts, result.k)
    uniform_1 = math.fsum((pass_at_k(4, a, 1) + pass_at_k(4, b, 1)) / 2 for (_, a), (_, b) in counts) / 4
    assert math.fsum(report.results[0].uniform) / 4 == pytest.approx(uniform_1)
    gain = report.gains[2]  # k = 4: per-problem best split minus best single, held out
    assert gain.diff == pytest.approx(math.fsum(report.results[2].best_split) / 4
                                      - math.fsum(report.results[2].best_single) / 4)


def test_pool_table(samples):
    (report,) = pool_runs(samples, ["a", "b"])
    lines = format_pool(report).splitlines()
    assert lines[1] == "runs: 0: a; 1: b"
    assert [c.strip() for c in lines[2].split("|")[1:-1]] == [
        "k", "best single", "chosen", "uniform split", "best split", "split (samples per run)", "gain over best single"]
    assert lines[4].split("|")[1].strip() == "1" and len(lines) == 7
    assert pool_runs(samples[:1], ["a"]) == []
