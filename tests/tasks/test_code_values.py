"""EvalPlus test values: the shipped expected-output files, EvalPlus's oracles and tolerances, and the generator."""

import gzip
import json

import pytest

from lm_eval_tts.execution import codec
from lm_eval_tts.grading import outputs
from lm_eval_tts.tasks import code_data, code_values

SHIPPED = [("mbpp", "mbpp_plus.jsonl", "mbpp_plus_expected.jsonl.gz", 378),
           ("humaneval", "humaneval_plus.jsonl", "humaneval_plus_expected.jsonl.gz", 164)]


@pytest.mark.parametrize("bench, data, expected, count", SHIPPED)
def test_shipped_expected_files_cover_every_task_base_first(bench, data, expected, count):
    records = {r["task_id"]: r for r in code_data.read_jsonl(code_data.shipped_file(bench, data))}
    table = code_values.load_expected(code_data.shipped_file(bench, expected))
    assert set(table) == set(records) and len(table) == count
    for task_id, row in table.items():
        assert "excluded" not in row, task_id
        record = records[task_id]
        base = len(record["base_input"])
        assert row["n_base"] == base and len(row["inputs"]) == len(row["expected"])
        assert all(e is None or len(e) <= code_values.ELIDE_CHARS for e in row["expected"])
        assert len(row["inputs"]) + row["dropped"] == base + len(record["plus_input"] or [])


def test_humaneval_plus_inputs_are_the_json_values():
    """EvalPlus calls HumanEval+ functions with the stored JSON values; the file keeps them base then plus."""
    record = code_data.read_jsonl(code_data.shipped_file("humaneval", "humaneval_plus.jsonl"))[0]
    row = code_values.load_expected(code_data.shipped_file("humaneval", "humaneval_plus_expected.jsonl.gz"))[
        record["task_id"]]
    assert [codec.decode(t) for t in row["inputs"]] == record["base_input"] + record["plus_input"]


def test_mbpp_plus_inputs_carry_evalplus_types():
    """EvalPlus's loader turns Mbpp/2's argument lists into tuples (and leaves Mbpp/98's a list)."""
    table = code_values.load_expected(code_data.shipped_file("mbpp", "mbpp_plus_expected.jsonl.gz"))
    assert codec.decode(table["Mbpp/2"]["inputs"][0]) == [(3, 4, 5, 6), (5, 7, 4, 10)]
    assert codec.decode(table["Mbpp/98"]["inputs"][0]) == [[8, 2, 3, -1, 7]]
    # NOT_NONE tasks store "the canonical solution returned something" (it returns re.Match objects)
    assert {codec.decode(e) for e in table["Mbpp/737"]["expected"]} == {True, False}


def test_oracles():
    assert code_values.oracle_for("Mbpp/2") == outputs.SET_EQ
    assert code_values.oracle_for("HumanEval/32") == outputs.POLY_ROOT
    assert code_values.oracle_for("Mbpp/3") == "" and set(code_values.EVALPLUS_ORACLES.values()) == set(outputs.ORACLES)


def test_long_outputs_are_elided_and_recomputed_when_needed():
    """HumanEval/15's outputs (strings of up to 7 MB) are not shipped; they are recomputed in the sandbox the
    first time they are needed."""
    path = code_data.shipped_file("humaneval", "humaneval_plus_expected.jsonl.gz")
    records = [r for r in code_data.read_jsonl(code_data.shipped_file("humaneval", "humaneval_plus.jsonl"))
               if r["task_id"] == "HumanEval/15"]
    (doc,), tests = code_values.evalplus_problems(records, path)
    shipped = tests["HumanEval/15"]
    elided = [i for i, e in enumerate(shipped.expected) if e is None]
    assert elided and doc["n_base"] == shipped.n_base == 3 and "inputs" not in doc
    full = code_values.with_elided_outputs(doc, shipped)
    n = codec.decode(full.inputs[elided[0]])[0]
    assert codec.decode(full.expected[elided[0]]) == " ".join(str(i) for i in range(n + 1))
    assert None not in full.expected and full.atols == shipped.atols


def test_tolerances_follow_the_float_outputs():
    """HumanEval/2 (truncate_number) has float outputs and its own atol; HumanEval/0 has booleans and none."""
    path = code_data.shipped_file("humaneval", "humaneval_plus_expected.jsonl.gz")
    records = code_data.read_jsonl(code_data.shipped_file("humaneval", "humaneval_plus.jsonl"))[:3]
    _, tests = code_values.evalplus_problems(records, path)
    assert set(tests["HumanEval/0"].atols) == {0.0}
    assert set(tests["HumanEval/2"].atols) == {float(records[2]["atol"])} and records[2]["atol"]


def test_generator_reproduces_the_shipped_rows(tmp_path):
    """The canonical solutions of two HumanEval+ tasks, rerun in the sandbox, give the shipped rows exactly."""
    records = code_data.read_jsonl(code_data.shipped_file("humaneval", "humaneval_plus.jsonl"))[1:3]
    out = tmp_path / "expected.jsonl.gz"
    code_values.write_expected_file(code_values.expected_rows(records, code_values.json_typed_inputs(records)), out)
    rows = [json.loads(line) for line in gzip.decompress(out.read_bytes()).decode().splitlines()]
    shipped = code_values.load_expected(code_data.shipped_file("humaneval", "humaneval_plus_expected.jsonl.gz"))
    assert rows == [shipped[r["task_id"]] for r in records]
    assert oct(out.stat().st_mode & 0o777) == "0o644" and list(tmp_path.iterdir()) == [out]


def test_missing_expected_file_is_one_line(tmp_path):
    with pytest.raises(code_values.UserError, match="could not be read") as err:
        code_values.load_expected(tmp_path / "nope.jsonl.gz")
    assert "\n" not in str(err.value)
