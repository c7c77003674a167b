"""`lm-eval-tts report RESULTS... [--plot DIR] [--vs PARAM]`: tts metrics across lm-eval runs as tables and PNGs."""

from __future__ import annotations

import argparse
from pathlib import Path

from lm_eval_tts.errors import UserError
from lm_eval_tts.report.results import load_runs, run_labels
from lm_eval_tts.report.table import format_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", metavar="RESULTS",
                        help="lm-eval results_*.json files, or output dirs to search for them")
    parser.add_argument("--plot", type=Path, metavar="DIR",
                        help="write PNGs here: pass@k / maj@k / best@k vs k per task, one line per run")
    parser.add_argument("--vs", metavar="PARAM",
                        help="with --plot, also plot each task's headline metrics against this model_args key "
                             "(e.g. alpha) across the runs")


def run(args: argparse.Namespace) -> int:
    if args.vs and not args.plot:
        raise UserError("--vs needs --plot DIR (where to write the plots)")
    if args.plot and args.plot.exists() and not args.plot.is_dir():
        raise UserError(f"--plot {args.plot}: exists and is not a directory; give a directory for the PNGs")
    runs = load_runs(args.results)
    labels = run_labels(runs)
    print(format_report(runs, labels), end="")
    if args.plot:
        from lm_eval_tts.report.plots import plot_scaling, plot_vs_param  # matplotlib only when plotting

        written = plot_scaling(runs, labels, args.plot)
        if args.vs:
            written += plot_vs_param(runs, args.vs, args.plot)
        for path in written:
            print(f"wrote {path}")
    return 0
