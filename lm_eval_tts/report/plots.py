"""PNG plots: metric@k vs k per task (one line per run), and any metric vs a run parameter such as alpha.

Figures are built with matplotlib's object API (Figure + Agg canvas), so importing this module never switches
the caller's pyplot backend. Every PNG is written to a temporary file and renamed into place.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from lm_eval_tts.errors import UserError
from lm_eval_tts.metrics import keys
from lm_eval_tts.report.results import Run, TaskMetrics, differing_args, setting_label
from lm_eval_tts.report.table import curve, family_order, family_title, rows_by_task

PANEL_WIDTH, PANEL_HEIGHT = 5.0, 4.0
DODGE = 0.04  # sideways offset between runs on the log2 k axis, in octaves


def plot_scaling(runs: Sequence[Run], labels: Sequence[str], out_dir: Path) -> list[Path]:
    """One PNG per task (`<task>_scaling.png`): metric@k vs k panels, one line per run. Returns the paths."""
    by_task: dict[str, list[tuple[str, TaskMetrics]]] = {}
    for name, label, metrics in rows_by_task(runs, labels):
        by_task.setdefault(name, []).append((label, metrics))
    colors = {label: f"C{i % 10}" for i, label in enumerate(labels)}
    written = []
    for task, entries in by_task.items():
        fig = scaling_figure(task, entries, colors)
        if fig is not None:
            written.append(save_png(fig, out_dir / f"{safe_filename(task)}_scaling.png"))
    return written


def scaling_figure(task: str, entries: Sequence[tuple[str, TaskMetrics]], colors: Mapping[str, str]) -> Figure | None:
    """Panels pass@k | maj@k | best@k per score vs k (log2 axis), one line per (label, metrics) entry.

    The pass@k panel also shows each run's Jensen bound (dashed, same colour) when the results have it.
    None when the task has no @k metrics.
    """
    families = {p.family for _, m in entries for key in m.values if (p := keys.parse_at_k(key))}
    panels = [f for f in family_order(families) if f != keys.JENSEN]
    if not panels:
        return None
    fig, axes = _figure(len(panels))
    jensen_drawn = False
    for ax, family in zip(axes, panels):
        for i, (label, metrics) in enumerate(entries):
            points = curve(metrics, family)
            if points:
                # Nudge each run sideways a little so equal values and their error bars stay visible.
                dodge = 2 ** (DODGE * (i - (len(entries) - 1) / 2))
                _errorbar_line(ax, {k * dodge: v for k, v in points.items()}, label=label, color=colors[label])
            bound = curve(metrics, keys.JENSEN) if family == keys.PASS else {}
            if bound:
                ax.plot(list(bound), [v for v, _ in bound.values()], linestyle="--", linewidth=1,
                        color=colors[label])
                jensen_drawn = True
        _log2_k_axis(ax, sorted({k for _, m in entries for k in curve(m, family)}))
        _probability_ylim(ax)
        ax.set_title(family_title(family), fontsize=9)
        ax.set_ylabel(family_title(family).split(" (")[0])
        ax.grid(True, alpha=0.3)
    handles, names = axes[0].get_legend_handles_labels()
    if jensen_drawn:
        handles.append(Line2D([], [], linestyle="--", linewidth=1, color="gray"))
        names.append("dashed: Jensen bound 1-(1-pass@1)^k")
    axes[0].legend(handles, names, fontsize=8)
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
    fig, axes = _figure(len(metric_names))
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
            _errorbar_line(ax, dict(sorted(points.items())), label=name, color=f"C{i % 10}")
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
    series_key = "setting" if len({row["setting"] for row in rows}) > 1 else None
    written = []
    for task in dict.fromkeys(str(row["task"]) for row in rows):
        task_rows = [row for row in rows if row["task"] == task]
        path = out_dir / f"{safe_filename(task)}_vs_{safe_filename(param_name)}.png"
        written.append(plot_metric_vs_param(task_rows, param_name, headline_metrics(task_rows), path,
                                            series_key=series_key, title=task))
    return written


def safe_filename(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "plot"


def save_png(fig: Figure, path: Path) -> Path:
    """Write the figure as PNG via a temporary file in the same directory, then rename (never half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            fig.savefig(handle, format="png", dpi=110, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def _figure(panels: int):
    fig = Figure(figsize=(PANEL_WIDTH * panels, PANEL_HEIGHT), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(1, panels, squeeze=False)[0]


def _errorbar_line(ax, points: Mapping[float, tuple[float, float | None]], *, label: str, color: str) -> None:
    xs = list(points)
    ys = [value for value, _ in points.values()]
    errors = [se if se is not None else math.nan for _, se in points.values()]
    has_errors = any(not math.isnan(e) for e in errors)
    ax.errorbar(xs, ys, yerr=errors if has_errors else None, marker="o", markersize=4, capsize=3,
                linewidth=1.5, color=color, label=label)


def _probability_ylim(ax) -> None:
    """Keep autoscaling for detail, but never show below 0 or above 1 (all-zero curves get [0, 0.1])."""
    low, high = ax.get_ylim()
    ax.set_ylim(max(low, -0.02), min(max(high, 0.1), 1.02))


def _log2_k_axis(ax, ks: Sequence[int]) -> None:
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.minorticks_off()
    ax.set_xlabel("k (samples)")
