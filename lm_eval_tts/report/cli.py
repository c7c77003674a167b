"""`lm-eval-tts report RESULTS... [--plot DIR] [--vs PARAM] [--pool]`: tts metrics across lm-eval runs as tables
and PNGs.

From the results files: one table per metric family, a summary, and the verifier false-positive table. From the
`--log_samples` files beside them (when present): each run against the first on their shared problems (paired
bootstrap), and with --pool (automatic when the runs differ only in alpha, e.g. a sweep's output dir) the runs
pooled under one sample budget.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lm_eval_tts.errors import UserError
from lm_eval_tts.report.results import differing_args, load_runs, run_labels
from lm_eval_tts.report.table import format_report, rows_by_task


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", nargs="+", metavar="RESULTS",
                        help="lm-eval results_*.json files, or output dirs to search for them")
    parser.add_argument("--plot", type=Path, metavar="DIR",
                        help="write PNGs here: <task>_scaling.png (metric@k vs k, one line per run), and with "
                             "the data for them _paired, _pool, _verifier, _compute and _pass1_hist")
    parser.add_argument("--vs", metavar="PARAM",
                        help="with --plot, also plot each task's headline metrics against this model_args key "
                             "(e.g. alpha) across the runs")
    parser.add_argument("--pool", action="store_true",
                        help="pool the runs under one sample budget (best split of k samples across them); "
                             "automatic when the runs differ only in alpha")


def run(args: argparse.Namespace) -> int:
    if args.vs and not args.plot:
        raise UserError("--vs needs --plot DIR (where to write the plots)")
    if args.plot and args.plot.exists() and not args.plot.is_dir():
        raise UserError(f"--plot {args.plot}: exists and is not a directory; give a directory for the PNGs")
    runs = load_runs(args.results)
    labels = run_labels(runs)
    if args.pool and len(runs) < 2:
        raise UserError("--pool needs at least two runs of the same task (e.g. the alphas of a sweep)")
    from lm_eval_tts.report.compare import compare_runs, format_comparison
    from lm_eval_tts.report.pool import format_pool, pool_runs
    from lm_eval_tts.report.problems import run_samples
    from lm_eval_tts.report.verifier import format_verifier

    sections = [format_report(runs, labels).rstrip("\n"), format_verifier(rows_by_task(runs, labels))]
    samples = [run_samples(r) for r in runs] if len(runs) > 1 or args.plot else []
    comparisons = compare_runs(samples, labels) if len(runs) > 1 else []
    sections += [format_comparison(c) for c in comparisons]
    pooled = args.pool or (len(runs) > 1 and differing_args(runs) == ["alpha"])
    pools = pool_runs(samples, labels) if pooled else []
    if args.pool and not pools:
        raise UserError("--pool: the runs share no task with logged samples; evaluate them with --log_samples "
                        "on the same task and data")
    sections += [format_pool(p) for p in pools]
    print("\n\n".join(s for s in sections if s))
    if args.plot:
        from lm_eval_tts.report.figures import write_figures  # matplotlib only when plotting

        for path in write_figures(runs, labels, samples, comparisons, pools, args.plot, args.vs):
            print(f"wrote {path}")
    return 0
