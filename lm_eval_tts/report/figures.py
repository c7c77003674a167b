"""The analyses' figures for `lm-eval-tts report --plot DIR`, and the one function that writes them all.

Each `*_figure` function returns a matplotlib Figure (None when its data is missing), so other modules (the HTML
viewer) can embed them; write_figures saves them as PNGs (report.plots.save_png: temp file, then rename):
    <task>_scaling.png      metric@k vs k per run (report.plots)          <task>_vs_<param>.png  with --vs
    <task>_paired.png       each run minus the first, with bootstrap bands (report.compare)
    <task>_pool.png         the runs pooled under one sample budget (report.pool)
    <task>_verifier.png     resampling utility vs k under the weak tests, best k starred (report.verifier)
    <task>_compute.png      pass@k and one-answer accuracy vs generated tokens
    <task>_pass1_hist.png   per-problem pass@1 histogram
Compute-normalised curves: a rule that draws k samples costs k x (mean generated tokens per sample) per problem,
so runs whose responses differ in length (FIRE vs regular, alphas) are compared at equal compute. pass@k, maj@k
and best@k draw k samples; the selection rules at one submission (bom/bontop/majtop@1) draw N (`bom_samples`,
default n) and are marked at N x tokens. In the pass@1 histogram, mass piling up at 0 and 1 is the
overconfidence of long fine-tuning (problems always or never solved), which caps pass@k however many samples
are drawn.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import ScalarFormatter

from lm_eval_tts.metrics import keys
from lm_eval_tts.metrics.paired import LEVEL
from lm_eval_tts.metrics.verifier import best_k
from lm_eval_tts.report.compare import Comparison
from lm_eval_tts.report.plots import (
    log2_k_axis,
    new_figure,
    plot_scaling,
    plot_stems,
    plot_vs_param,
    probability_ylim,
    run_colors,
    save_png,
)
from lm_eval_tts.report.pool import PoolReport, mean
from lm_eval_tts.report.results import Run, TaskMetrics
from lm_eval_tts.report.table import curve, family_order, family_short, rows_by_task
from lm_eval_tts.report.verifier import fp_cost, has_verifier_metrics, utility_points
from lm_eval_tts.report.view.samples import TaskSamples

SINGLE_ANSWER = (keys.MAJ, keys.BEST)  # families that submit one answer from k samples
LINESTYLES = ["-", "--", "-.", ":"]
MARKERS = ["*", "s", "^", "D", "v", "P"]


def write_figures(runs: Sequence[Run], labels: Sequence[str], samples: Sequence[Mapping[str, TaskSamples]],
                  comparisons: Sequence[Comparison], pools: Sequence[PoolReport], out_dir: Path,
                  vs: str | None = None) -> list[Path]:
    """Every figure the data allows, as PNGs in out_dir (file names in the module docstring); their paths."""
    written = plot_scaling(runs, labels, out_dir)
    if vs:
        written += plot_vs_param(runs, vs, out_dir)
    stems, colors = plot_stems(runs), run_colors(labels)
    by_task: dict[str, list[tuple[str, TaskMetrics, TaskSamples | None]]] = {}
    for name, label, metrics in rows_by_task(runs, labels):
        run_samples = samples[labels.index(label)] if samples else {}
        by_task.setdefault(name, []).append((label, metrics, run_samples.get(name)))
    for task, entries in by_task.items():
        figures = {
            "paired": comparison_figure(task, [c for c in comparisons if c.task == task], colors),
            "verifier": verifier_figure(task, entries, colors),
            "compute": compute_figure(task, [(label, m) for label, m, _ in entries], colors),
            "pass1_hist": pass1_histogram(task, [(label, s) for label, _, s in entries if s], colors),
        }
        figures.update({"pool": pool_figure(p) for p in pools if p.task == task})
        for kind in ("paired", "pool", "verifier", "compute", "pass1_hist"):
            if figures.get(kind) is not None:
                written.append(save_png(figures[kind], out_dir / f"{stems[task]}_{kind}.png"))
    return written


def comparison_figure(task: str, comparisons: Sequence[Comparison], colors: Mapping[str, str]) -> Figure | None:
    """One panel per @k family: the difference vs k of each compared run as a line in a band (its CI), with a
    zero line. None when the comparisons have no @k metric."""
    families = family_order({p.family for c in comparisons for m in c.differences if (p := keys.parse_at_k(m))})
    families = [f for f in families if f != keys.JENSEN]
    if not families:
        return None
    fig, axes = new_figure(len(families))
    for ax, family in zip(axes, families):
        ks = set()
        for comparison in comparisons:
            points = {p.k: d for m, d in comparison.differences.items()
                      if (p := keys.parse_at_k(m)) and p.family == family}
            if not points:
                continue
            ks |= set(points)
            xs = sorted(points)
            color = colors[comparison.other]
            ax.fill_between(xs, [points[k].low for k in xs], [points[k].high for k in xs], color=color, alpha=0.2,
                            linewidth=0)
            ax.plot(xs, [points[k].diff for k in xs], marker="o", markersize=4, color=color,
                    label=f"{comparison.other} - {comparison.baseline}")
        ax.axhline(0.0, color="black", linewidth=0.8)
        log2_k_axis(ax, sorted(ks))
        if keys.family_base(family) in keys.SUBMISSION_FAMILIES:
            ax.set_xlabel("k (submissions)")
        ax.set_title(family_short(family), fontsize=9)
        ax.set_ylabel("difference")
        ax.grid(True, alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    fig.legend(handles, names, fontsize=8, loc="outside lower center", ncols=min(3, len(names)))
    fig.suptitle(f"{task}: paired differences, {LEVEL:.0%} bootstrap bands")
    return fig


def pool_figure(report: PoolReport) -> Figure:
    """pass vs budget k: best split, uniform split, best single run (held-out means)."""
    fig, (ax,) = new_figure(1)
    ks = [r.k for r in report.results]
    for name, values, style in (("best split (held out)", [r.best_split for r in report.results], "-"),
                                ("uniform split", [r.uniform for r in report.results], "--"),
                                ("best single run (held out)", [r.best_single for r in report.results], ":")):
        ax.plot(ks, [mean(v) for v in values], marker="o", markersize=4, linestyle=style, label=name)
    log2_k_axis(ax, ks)
    ax.set_xlabel("k (samples, split across the runs)")
    probability_ylim(ax)
    ax.set_ylabel("pass with k samples")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"{report.task}: pool of {len(report.labels)} runs", fontsize=9)
    return fig


def verifier_figure(task: str, entries: Sequence[tuple[str, TaskMetrics, TaskSamples | None]],
                    colors: Mapping[str, str]) -> Figure | None:
    """Utility vs k per run (band: +-1 stderr), the best k starred; None without verifier metrics."""
    entries = [e for e in entries if has_verifier_metrics(e[1])]
    if not entries:
        return None
    fig, (ax,) = new_figure(1)
    ks: set[int] = set()
    for label, metrics, samples in entries:
        points = utility_points(metrics, samples)
        xs = sorted(points)
        ks |= set(xs)
        values = [points[k][0] for k in xs]
        color = colors[label]
        ax.plot(xs, values, marker="o", markersize=3, color=color, label=f"{label} (fp_cost {fp_cost(metrics):g})")
        errors = [points[k][1] for k in xs]
        if all(e is not None for e in errors):
            ax.fill_between(xs, [v - e for v, e in zip(values, errors)], [v + e for v, e in zip(values, errors)],
                            color=color, alpha=0.15, linewidth=0)
        best = xs[best_k(values) - 1]
        ax.plot([best], [points[best][0]], marker="*", markersize=14, color=color, linestyle="none")
    ax.axhline(0.0, color="black", linewidth=0.8)
    log2_k_axis(ax, sorted(k for k in ks if k & (k - 1) == 0 or k == max(ks)))
    ax.set_ylabel("expected utility per problem")
    ax.set_title(f"{task}: resampling against the weak tests (star: best k)", fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def compute_figure(task: str, entries: Sequence[tuple[str, TaskMetrics]], colors: Mapping[str, str]) -> Figure | None:
    """Two panels vs generated tokens per problem (log2): pass@k; and one submitted answer (maj@k, best@k per
    score, and the selection rules at k = 1 as markers at N x tokens). Colour: run; line style or marker: rule.
    None without tokens_per_sample."""
    entries = [(label, m) for label, m in entries if keys.TOKENS_PER_SAMPLE in m.values]
    if not entries:
        return None
    fig, (pass_ax, answer_ax) = new_figure(2)
    families = family_order({p.family for _, m in entries for key in m.values if (p := keys.parse_at_k(key))})
    lines = [f for f in families if keys.family_base(f) in SINGLE_ANSWER]
    markers = [f for f in families if keys.family_base(f) in keys.SUBMISSION_FAMILIES]
    line_style = dict(zip(lines, LINESTYLES * len(lines)))
    marker_style = dict(zip(markers, MARKERS * len(markers)))
    for label, metrics in entries:
        tokens = metrics.values[keys.TOKENS_PER_SAMPLE]
        drawn = int(metrics.metadata.get("bom_samples") or metrics.n_samples or 0)
        points = curve(metrics, keys.PASS)
        pass_ax.plot([k * tokens for k in points], [v for v, _ in points.values()], marker="o", markersize=4,
                     color=colors[label])
        for family in lines:
            points = curve(metrics, family)
            answer_ax.plot([k * tokens for k in points], [v for v, _ in points.values()], marker="o", markersize=3,
                           linestyle=line_style[family], color=colors[label])
        for family in markers:
            points = curve(metrics, family)
            if 1 in points and drawn:
                answer_ax.plot([drawn * tokens], [points[1][0]], marker=marker_style[family], markersize=9,
                               linestyle="none", color=colors[label])
    for ax, title in ((pass_ax, "pass@k vs compute"), (answer_ax, "one submitted answer vs compute")):
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.set_xlabel("generated tokens per problem")
        probability_ylim(ax)
        ax.grid(True, alpha=0.3)
        ax.set_title(title, fontsize=9)
    pass_ax.set_ylabel("pass@k")
    answer_ax.set_ylabel("accuracy of the submitted answer")
    rules = ([Line2D([], [], linestyle=line_style[f], color="gray") for f in lines]
             + [Line2D([], [], marker=marker_style[f], linestyle="none", color="gray") for f in markers])
    names = [f"{_key_of(f, 'k')} (k samples)" for f in lines] + [f"{_key_of(f, '1')} (N samples)" for f in markers]
    if rules:
        answer_ax.legend(rules, names, fontsize=7)
    fig.legend([Line2D([], [], marker="o", color=colors[label]) for label, _ in entries], [label for label, _ in entries],
               fontsize=8, loc="outside lower center", ncols=min(4, len(entries)))
    fig.suptitle(f"{task}: x = samples drawn x mean generated tokens per sample")
    return fig


def pass1_histogram(task: str, entries: Sequence[tuple[str, TaskSamples]], colors: Mapping[str, str]) -> Figure | None:
    """Grouped bars: for each level c/n of per-problem pass@1, the fraction of problems at it, one bar per run.
    None when no run logged per-doc pass@1."""
    levels: list[dict[float, int]] = []
    kept = []
    for label, samples in entries:
        values = [p.metrics[keys.pass_key(1)] for p in samples.problems if keys.pass_key(1) in p.metrics]
        if values:
            counts: dict[float, int] = {}
            for value in values:
                counts[round(value, 9)] = counts.get(round(value, 9), 0) + 1
            levels.append(counts)
            kept.append(label)
    if not kept:
        return None
    fig, (ax,) = new_figure(1)
    xs = sorted({x for counts in levels for x in counts})
    step = min((b - a for a, b in zip(xs, xs[1:])), default=1.0)
    width = 0.8 * step / len(kept)
    for i, (label, counts) in enumerate(zip(kept, levels)):
        total = sum(counts.values())
        offset = (i - (len(kept) - 1) / 2) * width
        ax.bar([x + offset for x in xs], [counts.get(x, 0) / total for x in xs], width=width, color=colors[label],
               label=f"{label} ({total} problems)")
    ax.set_xticks(xs, [str(Fraction(x).limit_denominator(1000)) for x in xs])  # c/n: 0, 1/8, 1/4, ...
    ax.set_xlabel("per-problem pass@1 (c / n)")
    ax.set_ylabel("fraction of problems")
    ax.set_title(f"{task}: per-problem pass@1\n(mass at 0 and 1: problems never or always solved)", fontsize=9)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def _key_of(family: str, k: str) -> str:
    """The metric key of a family at k: ("bom_logprob", "1") -> "bom@1_logprob", ("maj", "k") -> "maj@k"."""
    base = keys.family_base(family)
    return f"{base}@{k}{family[len(base):]}"
