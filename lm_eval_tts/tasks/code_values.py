"""EvalPlus test values (MBPP+, HumanEval+): the shipped expected outputs, how they are made, and the tasks
EvalPlus grades by a special oracle.

A program passes an EvalPlus task when its outputs on base_input + plus_input equal the canonical solution's. The
canonical outputs are computed once, in the sandbox, and shipped gzipped beside the data
(task_configs/{mbpp,humaneval}/make_*_expected.py). Each line of such a file is
{"task_id", "inputs": [codec text per call], "expected": [codec text per call, or null], "n_base": the first
n_base calls are base_input, "float_outputs": indices of float-valued outputs (EvalPlus's is_floats, which sets
its tolerance), "dropped": calls left out} or {"task_id", "excluded": reason}; values are in the sandbox's
lossless text form (lm_eval_tts.execution.codec: tuple/set/dict keys/complex/bytes/inf/nan survive).
An output longer than ELIDE_CHARS is stored as null and recomputed, in the sandbox, the first time a program of
that task is graded (HumanEval/15 alone has 147 MB of outputs); the tests live beside the docs, not in them, so
`--log_samples` stays small.

Arguments are typed as EvalPlus passes them: HumanEval+ calls with the JSON values as they are; MBPP+ turns some
JSON lists into tuples, sets or complex numbers per task (evalplus.data.mbpp.mbpp_deserialize_inputs), so its
expected file is made from the inputs that EvalPlus's own loader returns.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval_tts.errors import UserError
from lm_eval_tts.grading import outputs

# EvalPlus's special oracles (evalplus.eval._special_oracle and unsafe_execute), by task.
EVALPLUS_ORACLES = {
    "Mbpp/164": outputs.ANY_OUTPUT,
    "Mbpp/295": outputs.OR_ZERO,
    "Mbpp/581": outputs.SURFACE_AREA,
    "Mbpp/558": outputs.DIGIT_DISTANCE,
    **{f"Mbpp/{n}": outputs.SET_EQ for n in (2, 7, 111, 140, 232, 249, 579, 769)},
    **{f"Mbpp/{n}": outputs.NOT_NONE for n in (737, 787, 794)},
    "HumanEval/32": outputs.POLY_ROOT,
}
RETRIES = 3  # the reference is trusted: only a failure that repeats counts (a loaded machine can miss a deadline)
ELIDE_CHARS = 10_000


@dataclass(frozen=True)
class EvalPlusTests:
    """One task's tests: codec text of each call's arguments and expected output (base calls first), EvalPlus's
    tolerance at each test, the number of base calls and the task's special oracle ("" for plain comparison)."""

    inputs: tuple[str, ...]
    expected: tuple[str, ...]
    atols: tuple[float, ...]
    n_base: int
    oracle: str


def oracle_for(task_id: str) -> str:
    return EVALPLUS_ORACLES.get(str(task_id), "")


# ---------------------------------------------------------------- reading the shipped file


def load_expected(path: str | Path) -> dict[str, Mapping[str, Any]]:
    """task_id -> its row of an expected-outputs file (JSONL, gzipped when it ends in .gz)."""
    path = Path(path).expanduser()
    try:
        raw = path.read_bytes()
        lines = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8").splitlines()
    except OSError as err:
        raise UserError(f"expected_file {path} could not be read ({err}): run the make_*_expected.py script") from None
    table = {}
    for line in lines:
        if line.strip():
            row = json.loads(line)
            table[row["task_id"]] = row
    return table


# ---------------------------------------------------------------- making it (run by the make_*_expected.py scripts)


def json_typed_inputs(records: Iterable[Mapping[str, Any]]) -> dict[str, tuple[list[str], int]]:
    """HumanEval+: task_id -> (codec text of each call's arguments, base then plus; the number of base calls)."""
    from lm_eval_tts.execution import codec

    typed = {}
    for record in records:
        base, plus = record["base_input"], record["plus_input"] or []  # one MBPP+ task stores an empty plus as {}
        typed[record["task_id"]] = ([codec.encode(list(args)) for args in base + plus], len(base))
    return typed


_EVALPLUS_LOADER = """
import json, os, sys
sys.path.insert(0, sys.argv[1])
import codec
from evalplus.data import get_mbpp_plus
for task_id, task in get_mbpp_plus().items():
    base, plus = task["base_input"], task["plus_input"] or []
    calls = [codec.encode(list(args)) for args in list(base) + list(plus)]
    print(json.dumps({"task_id": task_id, "inputs": calls, "n_base": len(base)}))
"""


def evalplus_typed_inputs(data_file: Path, evalplus_python: str) -> dict[str, tuple[list[str], int]]:
    """MBPP+: the arguments exactly as EvalPlus's loader types them, read by running it on `data_file` with the
    interpreter of an environment where `evalplus` is installed (see benchmarks/bench_parity_code.py)."""
    codec_dir = Path(__file__).resolve().parent.parent / "execution"
    env = {**os.environ, "MBPP_OVERRIDE_PATH": str(Path(data_file).resolve())}
    try:
        done = subprocess.run(
            [evalplus_python, "-c", _EVALPLUS_LOADER, str(codec_dir)], env=env, capture_output=True, text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError) as err:
        tail = getattr(err, "stderr", "") or ""
        raise UserError(f"could not read MBPP+ inputs with evalplus ({evalplus_python}): {err} {tail[-300:]}") from None
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    return {row["task_id"]: (row["inputs"], row["n_base"]) for row in rows}


def reference_program(record: Mapping[str, Any]) -> str:
    """What EvalPlus runs as the reference: prompt + canonical_solution; for NOT_NONE tasks, whether it returned
    something (its canonical solutions return re.Match objects)."""
    program = record["prompt"] + record["canonical_solution"]
    if oracle_for(record["task_id"]) != outputs.NOT_NONE:
        return program
    name = record["entry_point"]
    return f"{program}\n\n_canonical_{name} = {name}\n\ndef {name}(*args):\n    return _canonical_{name}(*args) is not None\n"


def reference_outputs(record: Mapping[str, Any], inputs: Sequence[str]) -> list[str | None]:
    """Codec text of the reference's output on each call (None where it failed `RETRIES` times), in the sandbox."""
    from lm_eval_tts.grading import code

    program, entry_point = reference_program(record), record["entry_point"]
    found = code.reference_outputs(program, entry_point, inputs)
    for _ in range(RETRIES):  # a fatal input stops its job, so rerun each missing one alone
        for i in [i for i, o in enumerate(found) if o is None]:
            (found[i],) = code.reference_outputs(program, entry_point, [inputs[i]])
    return found


def expected_rows(
    records: Iterable[Mapping[str, Any]], typed: Mapping[str, tuple[list[str], int]]
) -> Iterator[dict[str, Any]]:
    """One expected-file row per task: the reference's output on every call. A call on which it fails is dropped;
    a failure on a base call excludes the task; long outputs are elided (ELIDE_CHARS)."""
    from lm_eval_tts.execution import codec

    for record in records:
        task_id = record["task_id"]
        inputs, n_base = typed[task_id]
        found = reference_outputs(record, inputs)
        failed_base = [i for i in range(n_base) if found[i] is None]
        if failed_base:
            yield {"task_id": task_id, "excluded": f"canonical solution fails on base input(s) {failed_base}"}
            continue
        kept = [(i, o) for i, o in zip(inputs, found) if o is not None]
        yield {
            "task_id": task_id,
            "inputs": [i for i, _ in kept],
            "expected": [o if len(o) <= ELIDE_CHARS else None for _, o in kept],
            "n_base": n_base,
            "float_outputs": [i for i, (_, o) in enumerate(kept) if outputs.is_floats(codec.decode(o))],
            "dropped": len(inputs) - len(kept),
        }


def evalplus_problems(
    records: Iterable[Mapping[str, Any]], expected_file: str | Path
) -> tuple[list[dict[str, Any]], dict[str, EvalPlusTests]]:
    """MBPP+ / HumanEval+ docs and their tests (task_id -> EvalPlusTests, elided outputs still None: see
    with_elided_outputs) from the records and an expected file.

    A doc carries the task (task_id, prompt, entry_point, canonical_solution, atol, oracle) and `n_base`: its
    first n_base tests are base_input, the rest plus_input. Tasks the generator excluded are left out.
    """
    table = load_expected(expected_file)
    docs, tests = [], {}
    for record in records:
        task_id = str(record["task_id"])
        if task_id not in table:
            raise UserError(
                f"expected_file {expected_file} has no outputs for {task_id}: run the make_*_expected.py script "
                f"beside the task's YAML with --data YOUR_FILE --out NEW_FILE, then pass expected_file=NEW_FILE"
            )
        row = table[task_id]
        if "excluded" in row:
            continue
        atol, n_base, oracle = float(record["atol"] or 0.0), row["n_base"], oracle_for(task_id)
        floats = set(row["float_outputs"])
        flags = [i in floats for i in range(len(row["expected"]))]
        atols = outputs.evalplus_tolerances(flags, atol, (n_base, len(flags) - n_base))
        tests[task_id] = EvalPlusTests(tuple(row["inputs"]), tuple(row["expected"]), atols, n_base, oracle)
        fields = ("task_id", "prompt", "entry_point", "canonical_solution")
        docs.append({**{k: record[k] for k in fields}, "atol": atol, "oracle": oracle, "n_base": n_base})
    return docs, tests


def with_elided_outputs(doc: Mapping[str, Any], tests: EvalPlusTests) -> EvalPlusTests:
    """`tests` with every elided expected output recomputed by the reference (`doc`: its task) in the sandbox."""
    expected = list(tests.expected)
    elided = [i for i, e in enumerate(expected) if e is None]
    for i, value in zip(elided, reference_outputs(doc, [tests.inputs[i] for i in elided])):
        if value is None:
            raise UserError(f"{doc['task_id']}: the canonical solution failed on test {i} while recomputing it; retry")
        expected[i] = value
    return dataclasses.replace(tests, expected=tuple(expected))


def write_expected_file(rows: Iterable[Mapping[str, Any]], out: Path) -> None:
    """Write rows as gzipped JSONL to a temporary name, then rename (an interrupted run keeps the old file);
    prints what was excluded or dropped, then a summary."""
    out = Path(out)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=out.name, suffix=".tmp")
    tasks = dropped = excluded = 0
    try:
        with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed:
            for row in rows:
                packed.write((json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8"))
                if "excluded" in row:
                    excluded += 1
                    print(f"{row['task_id']}: excluded, {row['excluded']}", file=sys.stderr)
                    continue
                tasks += 1
                dropped += row["dropped"]
                if row["dropped"]:
                    print(f"{row['task_id']}: canonical solution failed on {row['dropped']} input(s)", file=sys.stderr)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the file ships with the package
        os.replace(tmp, out)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"wrote {out}: {tasks} tasks, {excluded} excluded, {dropped} inputs dropped")
