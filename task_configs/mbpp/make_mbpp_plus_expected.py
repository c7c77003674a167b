"""Regenerate data/mbpp_plus_expected.jsonl.gz: MBPP+ test arguments and the canonical solution's outputs.

    python task_configs/mbpp/make_mbpp_plus_expected.py [--data FILE.jsonl] [--out EXPECTED.jsonl.gz]

(defaults: data/mbpp_plus.jsonl and data/mbpp_plus_expected.jsonl.gz beside this script)

For each MBPP+ task, the arguments (base_input then plus_input, typed like the task's example assert: see
lm_eval_tts.tasks.code_values) run through `canonical_solution` in the sandbox, once; the sandbox's fixed hash
seed makes set orders, and so these outputs, reproducible. Each gzipped JSON line is
{"task_id", "inputs": [codec text per call], "expected": [codec text per call], "dropped": n}. A call on which the
canonical solution itself fails (e.g. runs out of memory building a 30-million-tuple answer), times out or returns
more than the sandbox's output limit is dropped from both lists (and counted in "dropped"): it has no reference.
A task whose canonical solution fails on one of its base inputs (the prompt's own examples) is written as
{"task_id", "excluded": reason} and left out of the task (e.g. Mbpp/737 returns re.Match objects, not values).

Run it again whenever mbpp_plus.jsonl or the argument typing changes. The file is written to a temporary name
and renamed, so an interrupted run leaves the old file intact.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
RETRIES = 3  # the reference is trusted: only a failure that repeats counts (a loaded machine can miss a deadline)


def expected_rows(data_file: Path):
    from lm_eval_tts.grading.code import encode_args, reference_outputs
    from lm_eval_tts.tasks.code_data import MBPP_PLUS_FIELDS, mbpp_records, read_jsonl
    from lm_eval_tts.tasks.code_values import shape_inputs

    for record in mbpp_records(read_jsonl(data_file), MBPP_PLUS_FIELDS, str(data_file), test_split=False):
        base, plus = record["base_input"], record["plus_input"] or []  # one task stores an empty plus_input as {}
        calls = shape_inputs(base + plus, record["assertion"], record["entry_point"])
        inputs = [encode_args(args) for args in calls]
        outputs = reference_outputs(record["canonical_solution"], record["entry_point"], inputs)
        for _ in range(RETRIES):  # a fatal input stops its job, so rerun each missing one alone
            for i in [i for i, o in enumerate(outputs) if o is None]:
                (outputs[i],) = reference_outputs(record["canonical_solution"], record["entry_point"], [inputs[i]])
        failed_base = [i for i in range(len(base)) if outputs[i] is None]
        if failed_base:
            yield {"task_id": record["task_id"], "excluded": f"canonical solution fails on base input(s) {failed_base}"}
            continue
        kept = [(i, o) for i, o in zip(inputs, outputs) if o is not None]
        yield {
            "task_id": record["task_id"],
            "inputs": [i for i, _ in kept],
            "expected": [o for _, o in kept],
            "dropped": len(inputs) - len(kept),
        }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=HERE / "data" / "mbpp_plus.jsonl")
    parser.add_argument("--out", type=Path, default=HERE / "data" / "mbpp_plus_expected.jsonl.gz")
    args = parser.parse_args(argv)
    fd, tmp = tempfile.mkstemp(dir=args.out.parent, prefix=args.out.name, suffix=".tmp")
    tasks = dropped = excluded = 0
    try:
        with os.fdopen(fd, "wb") as raw, gzip.open(raw, "wt", encoding="utf-8") as out:
            for row in expected_rows(args.data):
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                if "excluded" in row:
                    excluded += 1
                    print(f"{row['task_id']}: excluded, {row['excluded']}", file=sys.stderr)
                    continue
                tasks += 1
                dropped += row["dropped"]
                if row["dropped"]:
                    print(f"{row['task_id']}: canonical solution failed on {row['dropped']} input(s)", file=sys.stderr)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the file ships with the package
        os.replace(tmp, args.out)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"wrote {args.out}: {tasks} tasks, {excluded} excluded, {dropped} inputs dropped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
