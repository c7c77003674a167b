"""Regenerate data/humaneval_plus_expected.jsonl.gz: HumanEval+ test arguments and the canonical solution's outputs.

    python task_configs/humaneval/make_humaneval_plus_expected.py [--data FILE.jsonl] [--out EXPECTED.jsonl.gz]

(defaults: data/humaneval_plus.jsonl and data/humaneval_plus_expected.jsonl.gz beside this script). EvalPlus calls
HumanEval+ functions with the JSON values as stored; prompt + canonical_solution runs on every base_input and
plus_input call in the lm_eval_tts sandbox (see lm_eval_tts.tasks.code_values for the file format). Run it again
whenever humaneval_plus.jsonl changes.
"""

import argparse
import sys
from pathlib import Path

from lm_eval_tts.tasks import code_data, code_values

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "data" / "humaneval_plus.jsonl")
    parser.add_argument("--out", type=Path, default=HERE / "data" / "humaneval_plus_expected.jsonl.gz")
    args = parser.parse_args(argv)
    records = code_data.read_jsonl(args.data)
    code_values.write_expected_file(code_values.expected_rows(records, code_values.json_typed_inputs(records)), args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
