"""Paired comparison of runs from their logged samples (real lm-eval files), and its table."""

from __future__ import annotations

import dataclasses

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.report.compare import comparable_metrics, compare, compare_runs, format_comparison
from lm_eval_tts.report.problems import run_samples, shared_problems
from lm_eval_tts.report.results import load_runs

TASK = "tts_fixture [graded]"


@pytest.fixture(scope="module")
def samples(lm_eval_runs):
    return [run_samples(run) for run in load_runs(lm_eval_runs)]


def test_pass1_gain_is_the_same_on_every_problem(samples):
    comparison = compare(samples[0][TASK], samples[1][TASK], ["a", "b"])
    d = comparison.differences["pass@1"]
    # Every problem gains exactly one correct sample of four: the bootstrap interval collapses onto +0.25.
    assert (d.mean_a, d.mean_b, d.diff, d.low, d.high, d.problems) == (0.375, 0.625, 0.25, 0.25, 0.25, 4)
    assert d.p_value < 0.001
    assert comparison.differences["pass@4_weak"].diff == 0.0 and comparison.differences["pass@4_weak"].p_value == 1.0
    assert "pass@1_variance" not in comparison.differences  # its per-doc value is pass@1 again
    assert list(comparison.differences)[:3] == ["pass@1", "pass@2", "pass@4"]


def test_every_later_run_is_compared_with_the_first(samples):
    comparisons = compare_runs([samples[0], samples[1], samples[1]], ["base", "x", "y"])
    assert [(c.baseline, c.other) for c in comparisons] == [("base", "x"), ("base", "y")]
    assert compare_runs([samples[0]], ["base"]) == []


def test_format_comparison(samples):
    text = format_comparison(compare(samples[0][TASK], samples[1][TASK], ["a", "b"]))
    lines = text.splitlines()
    assert lines[0] == (f"paired: {TASK}, b minus a on 4 shared problems (95% paired bootstrap CI and two-sided p, "
                        "B=10000, seed 0)")
    assert "| pass@1 " in lines[3] and "| +0.250     | [+0.250, +0.250] | <0.001 |" in lines[3]


def test_problems_are_matched_by_doc_id_and_must_be_the_same(samples):
    base = samples[0][TASK]
    fewer = dataclasses.replace(samples[1][TASK], problems=samples[1][TASK].problems[1:])  # as with --limit
    assert [group[0].doc_id for group in shared_problems([base, fewer], ["a", "b"])] == [1, 2, 3]
    changed = dataclasses.replace(fewer.problems[0], doc={"question": "another"})
    other = dataclasses.replace(fewer, problems=(changed,))
    with pytest.raises(UserError, match="runs 'a' and 'b' hold different problems under doc_id 1"):
        shared_problems([base, other], ["a", "b"])


def test_comparable_metrics_order():
    present = {"maj@2", "pass@4", "pass@1", "bom@1_orm", "tokens_per_sample", "pass@1_variance", "acc"}
    assert comparable_metrics(present) == ["pass@1", "pass@4", "maj@2", "bom@1_orm", "tokens_per_sample"]
