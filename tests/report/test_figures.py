"""The analyses' figures: what each draws (values read back from the artists), and the PNGs write_figures makes."""

from __future__ import annotations

import pytest

from lm_eval_tts.report.compare import compare_runs
from lm_eval_tts.report.figures import (
    comparison_figure,
    compute_figure,
    pass1_histogram,
    pool_figure,
    verifier_figure,
    write_figures,
)
from lm_eval_tts.report.plots import run_colors
from lm_eval_tts.report.pool import pool_runs
from lm_eval_tts.report.problems import run_samples
from lm_eval_tts.report.results import load_runs, run_labels
from tests.report.test_plots import assert_readable_png

TASK = "tts_fixture [graded]"


@pytest.fixture(scope="module")
def data(lm_eval_runs):
    runs = load_runs(lm_eval_runs)
    labels = run_labels(runs)
    return runs, labels, [run_samples(r) for r in runs], run_colors(labels)


def ys(line):
    return [round(y, 9) for y in line.get_ydata()]


def test_comparison_bands(data):
    runs, labels, samples, colors = data
    comparisons = compare_runs(samples, labels)
    fig = comparison_figure(TASK, comparisons, colors)
    pass_ax = fig.axes[0]
    assert pass_ax.get_title() == "pass@k"
    (line,) = [l for l in pass_ax.lines if len(l.get_xdata()) == 3]
    assert ys(line) == [round(comparisons[0].differences[f"pass@{k}"].diff, 9) for k in (1, 2, 4)]
    (band,) = pass_ax.collections
    lows = [comparisons[0].differences[f"pass@{k}"].low for k in (1, 2, 4)]
    assert min(band.get_paths()[0].vertices[:, 1]) == pytest.approx(min(lows))
    assert "k (submissions)" in [ax.get_xlabel() for ax in fig.axes]  # the selection-rule panels
    assert comparison_figure(TASK, [], colors) is None


def test_verifier_star_marks_the_best_k(data):
    runs, labels, samples, colors = data
    entries = [(label, run.tasks[0], s[TASK]) for label, run, s in zip(labels, runs, samples)]
    ax = verifier_figure(TASK, entries, colors).axes[0]
    stars = [l for l in ax.lines if l.get_marker() == "*"]
    assert [int(s.get_xdata()[0]) for s in stars] == [int(run.tasks[0].values["resampling_best_k"]) for run in runs]


def test_compute_axis_is_samples_times_tokens(data):
    runs, labels, _, colors = data
    fig = compute_figure(TASK, [(label, run.tasks[0]) for label, run in zip(labels, runs)], colors)
    pass_ax, answer_ax = fig.axes
    tokens = runs[0].tasks[0].values["tokens_per_sample"]
    assert list(pass_ax.lines[0].get_xdata()) == pytest.approx([tokens, 2 * tokens, 4 * tokens])
    selection = [l for l in answer_ax.lines if l.get_linestyle() == "None"]
    assert {round(l.get_xdata()[0], 6) for l in selection} >= {round(4 * tokens, 6)}  # N = 4 samples drawn
    bare = runs[0].tasks[0].__class__("t", "none", {"pass@1": 0.5}, {}, 1, 1)
    assert compute_figure("t", [("r", bare)], {"r": "C0"}) is None


def test_pass1_histogram_counts_problems(data):
    _, labels, samples, colors = data
    ax = pass1_histogram(TASK, [(label, s[TASK]) for label, s in zip(labels, samples)], colors).axes[0]
    heights = [round(p.get_height(), 9) for p in ax.patches]
    # alpha=0: pass@1 0.5, 0, 0.75, 0.25; alpha=0.5: 0.75, 0.25, 1, 0.5 -> five levels, a quarter each
    assert heights == [0.25, 0.25, 0.25, 0.25, 0.0] + [0.0, 0.25, 0.25, 0.25, 0.25]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1/4", "1/2", "3/4", "1"]


def test_pool_figure_lines(data):
    _, labels, samples, _ = data
    (report,) = pool_runs(samples, labels)
    ax = pool_figure(report).axes[0]
    assert [l.get_label() for l in ax.lines] == ["best split (held out)", "uniform split", "best single run (held out)"]
    assert ys(ax.lines[0]) == [round(sum(r.best_split) / 4, 9) for r in report.results]


def test_write_figures_pngs(data, tmp_path):
    runs, labels, samples, _ = data
    written = write_figures(runs, labels, samples, compare_runs(samples, labels), pool_runs(samples, labels),
                            tmp_path, vs="alpha")
    assert [p.name for p in written] == [f"tts_fixture_{kind}.png" for kind in (
        "scaling", "vs_alpha", "paired", "pool", "verifier", "compute", "pass1_hist")]
    for path in written:
        assert_readable_png(path, min_width=500)
