"""One table over the sweep (alpha x metrics, markdown and CSV) and its plots, built with the report's readers.

The results documents come straight from the sweep (not re-read from the output dir), so results files of earlier
runs in the same dir never leak into this sweep's table.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path

from lm_eval_tts.metrics import keys
from lm_eval_tts.report.results import Run, parse_results, run_labels
from lm_eval_tts.report.table import family_order, markdown_table
from lm_eval_tts.staging import write_atomic
from lm_eval_tts.sweep.alphas import format_alpha
from lm_eval_tts.sweep.evaluate import AlphaResult

ALPHA = "alpha"
TABLE_MARKDOWN = "sweep.md"
TABLE_CSV = "sweep.csv"
PLOTS_DIR = "plots"
_PER_PROBLEM = (keys.PASS1_VARIANCE, keys.NUM_DISTINCT_ANSWERS, keys.NUM_DISTINCT_FIRST_TOKENS)


def sweep_runs(results: Sequence[AlphaResult]) -> list[Run]:
    return [parse_results(r.results, r.output_dir) for r in results]


def sweep_rows(runs: Sequence[Run]) -> list[dict[str, object]]:
    """One row per (alpha, task): alpha, task, every tts metric and its "<metric>_stderr" where lm-eval has one."""
    from lm_eval_tts.report.plots import param_rows

    return sorted(param_rows(runs, ALPHA), key=lambda row: (str(row["task"]), float(row[ALPHA])))


def metric_columns(rows: Sequence[Mapping[str, object]]) -> list[str]:
    """Every metric present, in report order: pass@k, maj@k, best@k..., jensen_bound@k by k, then per-problem stats."""
    present = {key for row in rows for key in row if keys.is_tts_key(key)}
    by_family: dict[str, list[tuple[int, str]]] = {}
    for key in present:
        if parsed := keys.parse_at_k(key):
            by_family.setdefault(parsed.family, []).append((parsed.k, key))
    ordered = [key for family in family_order(set(by_family)) for _, key in sorted(by_family[family])]
    return ordered + [key for key in _PER_PROBLEM if key in present]


def format_markdown(rows: Sequence[Mapping[str, object]]) -> str:
    """Headline columns only (pass@1, the largest k of each family, per-problem stats); the CSV has them all."""
    from lm_eval_tts.report.plots import headline_metrics

    columns = headline_metrics(rows) + [key for key in _PER_PROBLEM if any(key in row for row in rows)]
    body = [[format_alpha(float(row[ALPHA])), str(row["task"]), *(_value(row.get(c)) for c in columns)] for row in rows]
    return markdown_table([ALPHA, "task", *columns], body) + "\n"


def format_csv(rows: Sequence[Mapping[str, object]]) -> str:
    metrics = metric_columns(rows)
    header = [ALPHA, "task"] + [name for m in metrics for name in (m, f"{m}{keys.STDERR_SUFFIX}")]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([format_alpha(float(row[ALPHA])), row["task"], *("" if row.get(h) is None else row[h]
                                                                  for h in header[2:])])
    return out.getvalue()


def write_tables(rows: Sequence[Mapping[str, object]], output_dir: Path) -> list[Path]:
    return [write_atomic(Path(output_dir) / TABLE_MARKDOWN, format_markdown(rows).encode()),
            write_atomic(Path(output_dir) / TABLE_CSV, format_csv(rows).encode())]


def write_plots(runs: Sequence[Run], output_dir: Path) -> list[Path]:
    """Per task: headline metrics (pass@1, pass@k, ...) vs alpha, and metric@k vs k with one line per alpha."""
    from lm_eval_tts.report.plots import plot_scaling, plot_vs_param

    plots = Path(output_dir) / PLOTS_DIR
    return plot_vs_param(runs, ALPHA, plots) + plot_scaling(runs, run_labels(runs), plots)


def _value(value: object) -> str:
    return "" if value is None else f"{float(value):.3f}"

