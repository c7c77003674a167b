"""`lm-eval-tts view OUT... -o report.html`: the samples of lm-eval runs in one self-contained HTML file."""

from __future__ import annotations

import argparse
from pathlib import Path

from lm_eval_tts.report.view.page import build_data, check_output, load_view_runs, render_html, write_page


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("outputs", nargs="+", metavar="OUT",
                        help="lm-eval --output_path dirs of runs made with --log_samples (e.g. FIRE and regular, "
                             "or a sweep's out/), or their results_*.json files")
    parser.add_argument("-o", "--output", type=Path, default=Path("report.html"), metavar="FILE",
                        help="the HTML file to write (default: report.html)")
    parser.add_argument("--tokenizer", metavar="DIR",
                        help="tokenizer to decode FIRE's hot tokens (default: each run's checkpoint, offline)")
    parser.add_argument("--title", help="page title (default: the run labels)")
    parser.add_argument("--no-plots", action="store_true", help="leave out the plots (faster, smaller file)")


def run(args: argparse.Namespace) -> int:
    check_output(args.output)
    views = load_view_runs(args.outputs)
    title = args.title or "lm-eval-tts: " + ", ".join(view.label for view in views)
    index, chunks = build_data(views, title, tokenizer=args.tokenizer, plots=not args.no_plots)
    path = write_page(render_html(index, chunks), args.output)
    problems = sum(len(group["ids"]) for group in index["groups"])
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB: {len(views)} runs, {len(index['groups'])} tasks, "
          f"{problems} problems); open it in a browser ({path.resolve().as_uri()})")
    return 0
