"""`lm-eval-tts` command line: one subcommand per module, each exposing `add_arguments(parser)` and `run(args)`.

Subcommand modules are imported only when chosen, so `lm-eval-tts report` never pays for torch or vLLM.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from lm_eval_tts import __version__
from lm_eval_tts.errors import UserError

SUBCOMMANDS = {
    "merge": ("lm_eval_tts.merge.cli", "write a weighted merge of checkpoints (WiSE-FT interpolation) to a dir"),
    "cache": ("lm_eval_tts.merge.cache_cli", "list or clear cached merged checkpoints"),
    "sweep": ("lm_eval_tts.sweep", "evaluate a list of alphas with one live vLLM engine"),
    "report": ("lm_eval_tts.report.cli", "tables and plots from lm_eval results files"),
    "view": ("lm_eval_tts.report.view.cli", "one self-contained HTML file to read the samples of lm_eval runs"),
}


DESCRIPTION = """\
Test-time-scaling evaluation for lm-evaluation-harness. Evaluations run in lm-eval itself, with the model
`wise_fire` (WiSE-FT merged weights, FIRE sampling) and the tasks `*_tts` (pass@k, maj@k, best@k, #EA); these
commands merge checkpoints, sweep merge weights and read the results."""

EXAMPLES = """\
examples:
  lm_eval --model wise_fire --model_args pretrained=smollm2-135m-instruct,fire=True \\
          --tasks gsm8k_tts --limit 4 --apply_chat_template --output_path out/
  lm-eval-tts report out/ --plot plots/
  lm-eval-tts merge --pretrained LATE --base EARLY --alpha 0.5 -o merged/
  lm-eval-tts sweep --pretrained LATE --base EARLY --alphas 0:1:0.25 --tasks gsm8k_tts --output_path sweep/

`lm-eval-tts COMMAND --help` lists a command's options; README.md documents every option."""


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="lm-eval-tts", description=DESCRIPTION, epilog=EXAMPLES,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"lm-eval-tts {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, help_text) in SUBCOMMANDS.items():
        subparsers.add_parser(name, help=help_text, add_help=False)
    if not argv or argv[0] not in SUBCOMMANDS:
        parser.parse_args(argv or ["--help"])
        return 2
    module = importlib.import_module(SUBCOMMANDS[argv[0]][0])
    sub = argparse.ArgumentParser(prog=f"lm-eval-tts {argv[0]}", description=SUBCOMMANDS[argv[0]][1])
    module.add_arguments(sub)
    args = sub.parse_args(argv[1:])
    try:
        return int(module.run(args) or 0)
    except UserError as err:
        print(f"lm-eval-tts {argv[0]}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
