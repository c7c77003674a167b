"""Regenerate data/mbpp_plus_expected.jsonl.gz: MBPP+ test arguments and the canonical solution's outputs.

    python task_configs/mbpp/make_mbpp_plus_expected.py --evalplus-python /work/venvs/evalplus/bin/python \
        [--data FILE.jsonl] [--out EXPECTED.jsonl.gz]

(defaults: data/mbpp_plus.jsonl and data/mbpp_plus_expected.jsonl.gz beside this script). `--evalplus-python` is
the interpreter of a virtual environment with `pip install evalplus==0.3.1` (only its input loader runs: MBPP+
arguments are typed per task by EvalPlus's own code). The canonical solutions then run in the lm_eval_tts sandbox,
whose fixed hash seed makes set orders, and so the outputs, reproducible: see lm_eval_tts.tasks.code_values for
the file format, dropped calls and excluded tasks. Run it again whenever mbpp_plus.jsonl changes (about 5 minutes
on 2 cores).
"""

import argparse
import sys
from pathlib import Path

from lm_eval_tts.tasks import code_data, code_values

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evalplus-python", required=True, help="python of a venv with evalplus installed")
    parser.add_argument("--data", type=Path, default=HERE / "data" / "mbpp_plus.jsonl")
    parser.add_argument("--out", type=Path, default=HERE / "data" / "mbpp_plus_expected.jsonl.gz")
    args = parser.parse_args(argv)
    records = code_data.read_jsonl(args.data)
    typed = code_values.evalplus_typed_inputs(args.data, args.evalplus_python)
    code_values.write_expected_file(code_values.expected_rows(records, typed), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
