"""Plots: figure contents (lines carry the metric values), real PNG files, atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from lm_eval_tts.errors import UserError
from lm_eval_tts.report.plots import (
    headline_metrics,
    metric_vs_param_figure,
    param_rows,
    plot_metric_vs_param,
    plot_scaling,
    plot_vs_param,
    safe_filename,
    save_png,
    scaling_figure,
)
from lm_eval_tts.report.results import Run, TaskMetrics, load_runs, run_labels

REGULAR = TaskMetrics("gsm8k_tts", "none", {"pass@1": 0.2, "pass@2": 0.3, "pass@4": 0.4, "maj@4": 0.25,
                                            "best@4_logprob": 0.22, "jensen_bound@4": 0.59},
                      {"pass@1": 0.01, "pass@4": 0.03, "best@4_logprob": 0.02}, 10, 4)
FIRE = TaskMetrics("gsm8k_tts", "none", {"pass@1": 0.2, "pass@4": 0.5, "maj@4": 0.3}, {}, 10, 4)


def xy(container) -> list[tuple[float, float]]:
    return [(round(x, 9), round(y, 9)) for x, y in container.lines[0].get_xydata()]


def nudged(points, octaves):
    """Points as drawn by a run nudged `octaves` sideways on the log2 k axis."""
    return [(round(k * 2**octaves, 9), value) for k, value in points]


def test_scaling_figure_panels_and_lines():
    fig = scaling_figure("gsm8k_tts", [("regular", REGULAR), ("FIRE", FIRE)], {"regular": "C0", "FIRE": "C1"})
    pass_ax, maj_ax, best_ax = fig.axes
    assert [ax.get_ylabel() for ax in fig.axes] == ["pass@k", "maj@k", "best@k by logprob"]
    assert pass_ax.get_xscale() == "log"
    assert [t.get_text() for t in pass_ax.get_xticklabels()] == ["1", "2", "4"]
    # The two runs are nudged apart on the k axis (2^-0.02 and 2^+0.02) so equal values stay visible.
    assert xy(pass_ax.containers[0]) == nudged([(1, 0.2), (2, 0.3), (4, 0.4)], -0.02)
    assert xy(pass_ax.containers[1]) == nudged([(1, 0.2), (4, 0.5)], 0.02)
    assert pass_ax.containers[0].has_yerr and not pass_ax.containers[1].has_yerr
    dashed = [line for line in pass_ax.lines if line.get_linestyle() == "--"]
    assert [tuple(p) for p in dashed[0].get_xydata()] == [(4, 0.59)]
    (legend,) = fig.legends  # one legend for the figure: the runs' colours
    assert [t.get_text() for t in legend.get_texts()] == ["regular", "FIRE", "dashed: Jensen bound 1-(1-pass@1)^k"]
    assert xy(maj_ax.containers[1]) == nudged([(4, 0.3)], 0.02)
    assert len(best_ax.containers) == 1  # only the regular run has best@k


def test_scaling_figure_selection_and_weak_test_panels():
    metrics = TaskMetrics("mbpp_plus_tts", "graded", {
        "pass@1": 0.2, "pass@4": 0.4, "pass@1_weak": 0.3, "pass@4_weak": 0.6, "maj@4": 0.3, "majtop@1": 0.3,
        "majtop@4": 0.5, "bontop@1_logprob": 0.25, "bontop@4_logprob": 0.45, "bom@1_logprob": 0.35,
        "bom@4_logprob": 0.5, "utility@4": 0.1}, {}, 10, 4)
    fig = scaling_figure("t", [("r", metrics)], {"r": "C0"})
    pass_ax, maj_ax, selection_ax = fig.axes
    assert [line.get_linestyle() for line in pass_ax.lines] == ["-", ":"]  # all tests, weak tests
    assert selection_ax.get_title() == "k submissions from N samples, ranked by logprob"
    drawn = {line.get_linestyle(): [round(y, 9) for y in line.get_ydata()] for line in selection_ax.lines
             if len(line.get_ydata()) == 2}
    assert drawn == {"-": [0.35, 0.5], "--": [0.25, 0.45], ":": [0.3, 0.5]}  # bom, bontop, majtop
    assert [t.get_text() for t in selection_ax.get_legend().get_texts()] == [
        "bom (Best-of-Majority)", "bontop", "majtop"]


def test_many_panels_wrap_into_rows():
    values = {f"{family}@{k}": 0.5 for family in ("pass", "maj") for k in (1, 2)}
    values.update({f"best@{k}_{s}": 0.5 for k in (1, 2) for s in ("logprob", "orm", "other")})
    fig = scaling_figure("t", [("r", TaskMetrics("t", "none", values, {}, 4, 2))], {"r": "C0"})
    assert len(fig.axes) == 5
    assert fig.get_size_inches()[0] == pytest.approx(4 * 5.0)  # four per row, then a second row


def test_scaling_figure_y_axis_stays_within_probabilities():
    zeros = TaskMetrics("t", "none", {"pass@1": 0.0, "pass@4": 0.0}, {"pass@1": 0.0}, 4, 4)
    high = TaskMetrics("t", "none", {"pass@1": 0.9, "pass@4": 1.0}, {"pass@1": 0.2}, 4, 4)
    assert scaling_figure("t", [("r", zeros)], {"r": "C0"}).axes[0].get_ylim() == (-0.02, 0.1)
    assert scaling_figure("t", [("r", high)], {"r": "C0"}).axes[0].get_ylim()[1] == 1.02


def test_scaling_figure_without_at_k_metrics_is_none():
    bare = TaskMetrics("t", "none", {"num_distinct_answers": 2.0}, {}, 1, 4)
    assert scaling_figure("t", [("r", bare)], {"r": "C0"}) is None


def test_metric_vs_param_figure_series_and_skips():
    rows = [{"alpha": 0.5, "task": "gsm8k", "pass@1": 0.3, "pass@1_stderr": 0.02},
            {"alpha": 0.0, "task": "gsm8k", "pass@1": 0.2, "pass@8": 0.5},
            {"alpha": 0.0, "task": "math", "pass@1": 0.1}]
    fig = metric_vs_param_figure(rows, "alpha", ["pass@1", "pass@8"], series_key="task", title="sweep")
    pass1_ax, pass8_ax = fig.axes
    assert xy(pass1_ax.containers[0]) == [(0.0, 0.2), (0.5, 0.3)]  # sorted by alpha
    assert xy(pass1_ax.containers[1]) == [(0.0, 0.1)]
    assert [t.get_text() for t in pass1_ax.get_legend().get_texts()] == ["gsm8k", "math"]
    assert len(pass8_ax.containers) == 1 and pass1_ax.get_xlabel() == "alpha"
    with pytest.raises(ValueError, match="at least one metric"):
        metric_vs_param_figure(rows, "alpha", [])


def test_param_rows_and_headline_metrics():
    runs = [Run(Path("a.json"), "m", {"alpha": "0.25"}, (REGULAR,))]
    (row,) = param_rows(runs, "alpha")
    assert row["alpha"] == 0.25 and row["task"] == "gsm8k_tts" and row["pass@4_stderr"] == 0.03
    assert row["setting"] == ""
    assert headline_metrics([row]) == ["pass@1", "pass@4", "maj@4", "best@4_logprob"]
    with pytest.raises(UserError, match=r"a\.json: model_args has no numeric 'beta' \(got None\)"):
        param_rows(runs, "beta")


def test_vs_param_draws_one_line_per_other_setting(tmp_path):
    runs = [Run(Path(f"{a}{f}.json"), "m", {"alpha": a, "fire": f, "seed": "1"}, (REGULAR,))
            for a in ("0.0", "0.5", "1.0") for f in ("False", "True")]
    rows = param_rows(runs, "alpha")
    assert [row["setting"] for row in rows[:2]] == ["fire=False", "fire=True"]
    fig = metric_vs_param_figure(rows, "alpha", ["pass@1"], series_key="setting")
    assert [xy(c) for c in fig.axes[0].containers] == [[(0.0, 0.2), (0.5, 0.2), (1.0, 0.2)]] * 2
    (path,) = plot_vs_param(runs, "alpha", tmp_path)
    assert_readable_png(path, min_width=1000)


def assert_readable_png(path: Path, min_width: int) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = imread(path)
    assert image.shape[1] >= min_width and image.shape[0] >= 300
    assert np.std(image[..., :3]) > 0.05  # not blank: lines, text and grid drawn


def test_plot_scaling_from_real_lm_eval_runs(lm_eval_runs, tmp_path):
    runs = load_runs(lm_eval_runs)
    written = plot_scaling(runs, run_labels(runs), tmp_path / "plots")
    assert written == [tmp_path / "plots" / "tts_fixture_scaling.png"]
    assert_readable_png(written[0], min_width=1200)  # three panels side by side
    (vs_alpha,) = plot_vs_param(runs, "alpha", tmp_path / "plots")
    assert vs_alpha.name == "tts_fixture_vs_alpha.png"
    assert_readable_png(vs_alpha, min_width=1200)
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["tts_fixture_scaling.png",
                                                                      "tts_fixture_vs_alpha.png"]


def test_plot_metric_vs_param_writes_png(tmp_path):
    rows = [{"alpha": a, "pass@1": 0.1 + a / 4} for a in (0.0, 0.25, 0.5, 0.75, 1.0)]
    path = plot_metric_vs_param(rows, "alpha", ["pass@1"], tmp_path / "sub" / "vs.png")
    assert_readable_png(path, min_width=400)


def test_save_png_is_atomic(tmp_path):
    target = tmp_path / "x.png"
    target.write_bytes(b"old")

    class Broken:
        def savefig(self, handle, **kwargs):
            handle.write(b"partial")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        save_png(Broken(), target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]  # no temp file left behind


def test_png_gets_the_users_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        path = save_png(scaling_figure("t", [("r", FIRE)], {"r": "C0"}), tmp_path / "t.png")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_safe_filename():
    assert safe_filename("gsm8k_tts [strict-match]") == "gsm8k_tts_strict-match"
    assert safe_filename("a/b") == "a_b"
    assert safe_filename("///") == "plot"
