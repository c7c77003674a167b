"""PNG plots: metric@k vs k per task (one line per run), and any metric vs a run parameter such as alpha.

Figures are built with matplotlib's object API (Figure + Agg canvas), so importing this module never switches
the caller's pyplot backend. Every PNG is written to a temporary file and renamed into place.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lm_eval_tts.errors import UserError
from lm_eval_tts.metrics import keys
from lm_eval_tts.report.results import Run, TaskMetrics, differing_args, setting_label
from lm_eval_tts.report.table import curve, family_order, family_short, family_title, rows_by_task
from lm_eval_tts.staging import write_atomic

PANEL_WIDTH, PANEL_HEIGHT = 5.0, 4.0
MAX_COLUMNS = 4
DODGE = 0.04  # sideways offset between runs on the log2 k axis, in octaves


def plot_scaling(runs: Sequence[Run], labels: Sequence[str], out_dir: Path) -> list[Path]:
    """One PNG per task (`<task>_scaling.png`, `<task>_<filter>_scaling.png` when the task has several
    filters): metric@k vs k panels, one line per run. Returns the paths."""
    by_task: dict[str, list[tuple[str, TaskMetrics]]] = {}
    for name, label, metrics in rows_by_task(runs, labels):
        by_task.setdefault(name, []).append((label, metrics))
    stems = plot_stems(runs)
    colors = run_colors(labels)
    written = []
    for task, entries in by_task.items():
        fig = scaling_figure(task, entries, colors)
        if fig is not None:
            written.append(save_png(fig, out_dir / f"{stems[task]}_scaling.png"))
    return written


def plot_stems(runs: Sequence[Run]) -> dict[str, str]:
    """Task display name -> PNG file stem: the task name, plus the filter only when the task has several
    (gsm8k_tts_strict-match, gsm8k_tts_flexible-extract; mbpp_tts, not mbpp_tts_graded)."""
    filters: dict[str, set[str]] = {}
    for run in runs:
        for metrics in run.tasks:
            filters.setdefault(metrics.task, set()).add(metrics.filter)
    return {
        metrics.name: safe_filename(metrics.name if len(filters[metrics.task]) > 1 else metrics.task)
        for run in runs for metrics in run.tasks
    }


def run_colors(labels: Sequence[str]) -> dict[str, str]:
    return {label: f"C{i % 10}" for i, label in enumerate(labels)}


@dataclass(frozen=True)
class Panel:
    """One metric@k-vs-k panel: its title, and the families drawn in it with a line style and a legend note."""

    title: str
    ylabel: str
    lines: tuple[tuple[str, str, str], ...]  # (family, linestyle, note)
    xlabel: str = ""  # default: k (samples)


def scaling_panels(families: set[str]) -> list[Panel]:
    """pass@k (weak tests dotted), maj@k, best@k per score, and per score the pass@k-inference selection
    rules side by side: bom (solid), bontop (dashed), majtop (dotted)."""
    panels = []
    weak = f"{keys.PASS}_{keys.WEAK}"
    if keys.PASS in families or weak in families:
        panels.append(Panel(family_title(keys.PASS), "pass@k", ((keys.PASS, "-", "all tests"), (weak, ":", "weak tests"))))
    if keys.MAJ in families:
        panels.append(Panel(family_title(keys.MAJ), "maj@k", ((keys.MAJ, "-", ""),)))
    for family in family_order(families):
        if keys.family_base(family) == keys.BEST:
            panels.append(Panel(family_title(family), family_short(family), ((family, "-", ""),)))
    scores = sorted({f.split("_", 1)[1] for f in families if keys.family_base(f) in (keys.BOM, keys.BONTOP)})
    for score in scores:
        panels.append(Panel(
            f"k submissions from N samples, ranked by {score}", "success with k submissions",
            ((f"{keys.BOM}_{score}", "-", "bom (Best-of-Majority)"), (f"{keys.BONTOP}_{score}", "--", "bontop"),
             (keys.MAJTOP, ":", "majtop")), "k (submissions)"))
    if keys.MAJTOP in families and not scores:
        panels.append(Panel(family_title(keys.MAJTOP), "majtop@k", ((keys.MAJTOP, "-", ""),), "k (submissions)"))
    return panels


def scaling_figure(task: str, entries: Sequence[tuple[str, TaskMetrics]], colors: Mapping[str, str]) -> Figure | None:
    """Panels (scaling_panels) vs k on a log2 axis, one colour per (label, metrics) entry, up to 4 per row.

    The pass@k panel also shows each run's Jensen bound (dashed, same colour) when the results have it.
    None when the task has no @k metrics.
    """
    families = {p.family for _, m in entries for key in m.values if (p := keys.parse_at_k(key))}
    panels = scaling_panels(families)
    if not panels:
        return None
    fig, axes = new_figure(len(panels))
    jensen_drawn = False
    for ax, panel in zip(axes, panels):
        styles_drawn = []
        for i, (label, metrics) in enumerate(entries):
            for family, linestyle, note in panel.lines:
                points = curve(metrics, family)
                if not points:
                    continue
                # Nudge each run sideways a little so equal values and their error bars stay visible.
                dodge = 2 ** (DODGE * (i - (len(entries) - 1) / 2))
                errorbar_line(ax, {k * dodge: v for k, v in points.items()}, label=None, color=colors[label],
                               linestyle=linestyle)
                if family not in styles_drawn:
                    styles_drawn.append(family)
            bound = curve(metrics, keys.JENSEN) if panel.lines[0][0] == keys.PASS else {}
            if bound:
                ax.plot(list(bound), [v for v, _ in bound.values()], linestyle="--", linewidth=1, color=colors[label])
                jensen_drawn = True
        ks = sorted({k for _, m in entries for family, _, _ in panel.lines for k in curve(m, family)})
        log2_k_axis(ax, ks)
        if panel.xlabel:
            ax.set_xlabel(panel.xlabel)
        probability_ylim(ax)
        ax.set_title(panel.title, fontsize=9, wrap=True)
        ax.set_ylabel(panel.ylabel)
        ax.grid(True, alpha=0.3)
        notes = [(style, note) for family, style, note in panel.lines if family in styles_drawn and note]
        if len(notes) > 1:
            ax.legend([Line2D([], [], linestyle=style, color="gray") for style, _ in notes],
                      [note for _, note in notes], fontsize=7, loc="lower right")
    handles, names = [], []
    for label, _ in entries:
        handles.append(Line2D([], [], marker="o", color=colors[label]))
        names.append(label)
    if jensen_drawn:
        handles.append(Line2D([], [], linestyle="--", linewidth=1, color="gray"))
        names.append("dashed: Jensen bound 1-(1-pass@1)^k")
    fig.legend(handles, names, fontsize=8, loc="outside lower center", ncols=min(4, len(names)))
    fig.suptitle(task)
    return fig


def plot_metric_vs_param(
    rows: Sequence[Mapping[str, object]],
    param_name: str,
    metric_names: Sequence[str],
    path: Path,
    *,
    series_key: str | None = None,
    title: str | None = None,
) -> Path:
    """Write a PNG of metric_vs_param_figure(...) to path (e.g. pass@1 and pass@16 vs alpha); return path."""
    return save_png(metric_vs_param_figure(rows, param_name, metric_names, series_key=series_key, title=title), path)


def metric_vs_param_figure(
    rows: Sequence[Mapping[str, object]],
    param_name: str,
    metric_names: Sequence[str],
    *,
    series_key: str | None = None,
    title: str | None = None,
) -> Figure:
    """One panel per metric: metric vs rows[param_name] (e.g. alpha), one line per rows[series_key] value.

    rows: mappings with the parameter, metric values and optionally "<metric>_stderr" (drawn as error bars);
    rows missing a metric are skipped in that panel.
    """
    if not metric_names:
        raise ValueError("plot_metric_vs_param needs at least one metric name")
    fig, axes = new_figure(len(metric_names))
    for ax, metric in zip(axes, metric_names):
        series: dict[str, dict[float, tuple[float, float | None]]] = {}
        for row in rows:
            if row.get(metric) is None or row.get(param_name) is None:
                continue
            stderr = row.get(f"{metric}{keys.STDERR_SUFFIX}")
            name = str(row[series_key]) if series_key else metric
            series.setdefault(name, {})[float(row[param_name])] = (
                float(row[metric]), float(stderr) if stderr is not None else None)
        for i, (name, points) in enumerate(series.items()):
            errorbar_line(ax, dict(sorted(points.items())), label=name, color=f"C{i % 10}")
        ax.set_xlabel(param_name)
        ax.set_ylabel(metric)
        ax.set_title(f"{metric} vs {param_name}", fontsize=9)
        ax.grid(True, alpha=0.3)
        if series_key and series:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


def param_rows(runs: Sequence[Run], param_name: str) -> list[dict[str, object]]:
    """Rows for plot_metric_vs_param from runs: model_args[param_name], the task, its metrics (and stderrs),
    and "setting": the other model_args that differ between runs (e.g. "fire=True"), to draw one line each."""
    other_args = differing_args(runs, exclude=[param_name])
    rows = []
    for run in runs:
        raw = run.model_args.get(param_name)
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise UserError(
                f"{run.path}: model_args has no numeric {param_name!r} (got {raw!r}); "
                f"plot against a model_args key every run sets"
            ) from None
        for metrics in run.tasks:
            row: dict[str, object] = {param_name: value, "task": metrics.name,
                                      "setting": setting_label(run, other_args), **metrics.values}
            row.update({f"{key}{keys.STDERR_SUFFIX}": se for key, se in metrics.stderrs.items()})
            rows.append(row)
    return rows


def headline_metrics(rows: Sequence[Mapping[str, object]]) -> list[str]:
    """pass@1 and the largest-k key of every @k family present (e.g. pass@16, maj@16, best@16_logprob)."""
    largest: dict[str, tuple[int, str]] = {}
    for row in rows:
        for key in row:
            parsed = keys.parse_at_k(key)
            if parsed and parsed.family != keys.JENSEN and parsed.k > largest.get(parsed.family, (0, ""))[0]:
                largest[parsed.family] = (parsed.k, key)
    names = [keys.pass_key(1)] if any(keys.pass_key(1) in row for row in rows) else []
    return names + [largest[f][1] for f in family_order(set(largest)) if largest[f][1] not in names]


def plot_vs_param(runs: Sequence[Run], param_name: str, out_dir: Path) -> list[Path]:
    """One PNG per task: its headline metrics vs a model_args parameter across the runs, one line per setting
    of the other differing model_args (e.g. fire=False / fire=True)."""
    rows = param_rows(runs, param_name)
    stems = plot_stems(runs)
    series_key = "setting" if len({row["setting"] for row in rows}) > 1 else None
    written = []
    for task in dict.fromkeys(str(row["task"]) for row in rows):
        task_rows = [row for row in rows if row["task"] == task]
        path = out_dir / f"{stems[task]}_vs_{safe_filename(param_name)}.png"
        written.append(plot_metric_vs_param(task_rows, param_name, headline_metrics(task_rows), path,
                                            series_key=series_key, title=task))
    return written


def safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "plot"


def save_png(fig: Figure, path: Path) -> Path:
    """Write the figure as PNG, whole or not at all, with the user's umask (staging.write_atomic)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return write_atomic(path, buffer.getvalue())


def new_figure(panels: int, columns: int = MAX_COLUMNS):
    """A figure with `panels` axes, up to `columns` per row (unused grid cells removed)."""
    columns = min(columns, panels)
    rows = math.ceil(panels / columns)
    fig = Figure(figsize=(PANEL_WIDTH * columns, PANEL_HEIGHT * rows + 0.4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = list(fig.subplots(rows, columns, squeeze=False).flat)
    for ax in axes[panels:]:
        fig.delaxes(ax)
    return fig, axes[:panels]


def errorbar_line(ax, points: Mapping[float, tuple[float, float | None]], *, label: str | None, color: str,
                   linestyle: str = "-") -> None:
    xs = list(points)
    ys = [value for value, _ in points.values()]
    errors = [se if se is not None else math.nan for _, se in points.values()]
    has_errors = any(not math.isnan(e) for e in errors)
    ax.errorbar(xs, ys, yerr=errors if has_errors else None, marker="o", markersize=4, capsize=3,
                linewidth=1.5, color=color, label=label, linestyle=linestyle)


def probability_ylim(ax) -> None:
    """Keep autoscaling for detail, but never show below 0 or above 1 (all-zero curves get [0, 0.1])."""
    low, high = ax.get_ylim()
    ax.set_ylim(max(low, -0.02), min(max(high, 0.1), 1.02))


def log2_k_axis(ax, ks: Sequence[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("k (samples)")
