"""Reading lm-eval samples files into problems: records of every shape, flags, #EA, file naming, bad input."""

from __future__ import annotations

import json

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.report.view.samples import (
    HAS_NO_ANSWER,
    HAS_TIMEOUT,
    Problem,
    Sample,
    distinct_answers,
    flatten,
    parse_entry,
    parse_record,
    problem_title,
    prompt_text,
    read_samples_file,
    samples_files,
    summarize,
)


def entry(records, texts=None, filter_name="graded", doc_id=0, **extra):
    texts = texts or [f"response {i}" for i in range(len(records))]
    return {"doc_id": doc_id, "doc": {"question": "What is 2+2?"}, "target": "4",
            "arguments": {"gen_args_0": {"arg_0": "Q: What is 2+2?", "arg_1": {"until": []}}},
            "resps": [texts], "filtered_resps": [[json.dumps(r) for r in records]], "filter": filter_name,
            "metrics": ["pass@1"], "pass@1": 0.5, **extra}


def test_records_are_paired_with_their_responses():
    problem = parse_entry(entry([{"answer": "4", "correct": True}, {"answer": "5", "correct": False}]))
    assert [s.text for s in problem.samples] == ["response 0", "response 1"]
    assert [s.record["answer"] for s in problem.samples] == ["4", "5"]
    assert problem.prompt == "Q: What is 2+2?" and problem.target == "4" and problem.metrics == {"pass@1": 0.5}


@pytest.mark.parametrize("item, record", [
    ('{"answer": "4", "correct": true}', {"answer": "4", "correct": True}),
    ({"program": "x"}, {"program": "x"}),
    ("4", {"answer": "4"}),  # lm-eval's own filters give plain strings
    ("[1, 2]", {"answer": "[1, 2]"}),
    (None, {"answer": None}),
    (7, {"answer": "7"}),
])
def test_any_filtered_response_becomes_a_record(item, record):
    assert parse_record(item) == record


def test_flatten_one_level_of_request_nesting():
    assert flatten([["a", "b"], "c", ["d"]]) == ["a", "b", "c", "d"]


def test_missing_records_or_responses_still_give_samples():
    raw = entry([{"correct": True}], texts=["a", "b"])
    problem = parse_entry(raw)
    assert [(s.text, s.record) for s in problem.samples] == [("a", {"correct": True}), ("b", {})]
    assert summarize(problem)["n"] == 1


def test_prompt_from_either_argument_layout():
    assert prompt_text({"gen_args_0": {"arg_0": "P", "arg_1": {}}}) == "P"
    assert prompt_text([["P", {}]]) == "P"
    assert prompt_text(None) == ""


def problem(records, metrics=None):
    return Problem(0, "prompt", "4", {}, tuple(Sample("t", r) for r in records), metrics or {})


def test_summary_counts_and_flags():
    records = [{"answer": "4", "correct": True, "grade": "identical"},
               {"answer": None, "correct": False, "grade": "no_answer"},
               {"answer": "5", "correct": False, "grade": "timeout"},
               {"answer": "5", "correct": False, "grade": "different"}]
    assert summarize(problem(records)) == {"c": 1, "n": 4, "ea": 2, "f": HAS_NO_ANSWER | HAS_TIMEOUT}


def test_code_records_flag_empty_programs_and_timeouts():
    records = [{"program": "", "correct": False, "grade": "syntax"},
               {"program": "def f(): pass", "correct": False, "grade": "timeout"}]
    summary = summarize(problem(records))
    assert summary["f"] == HAS_NO_ANSWER | HAS_TIMEOUT and summary["ea"] is None


def test_ea_prefers_the_logged_metric():
    records = [{"answer": "4"}, {"answer": "4.0"}]
    assert distinct_answers(problem(records)) == 2
    assert distinct_answers(problem(records, {"num_distinct_answers": 1.0})) == 1


def test_title_from_doc_fields_else_prompt():
    assert problem_title(Problem(0, "the  prompt\n", "", {"question_title": "T", "question": "Q"}, (), {})) == "T"
    assert problem_title(Problem(0, "the  prompt\n", "", {}, (), {})) == "the prompt"


def test_samples_files_match_the_results_timestamp(tmp_path):
    stamp = "2026-12-01T09-01-56.900941"
    results = tmp_path / f"results_{stamp}.json"
    for name in (f"samples_gsm8k_tts_{stamp}.jsonl", f"samples_math_tts_algebra_{stamp}.jsonl",
                 "samples_gsm8k_tts_2025-01-01T00-00-00.000000.jsonl", f"results_{stamp}.json"):
        (tmp_path / name).write_text("")
    assert sorted(samples_files(results)) == ["gsm8k_tts", "math_tts_algebra"]


def test_one_task_per_filter(tmp_path):
    path = tmp_path / "samples.jsonl"
    lines = [entry([{"correct": True}], filter_name=f, doc_id=i) for f in ("strict-match", "flexible-extract")
             for i in range(3)]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    tasks = read_samples_file("gsm8k_tts", path)
    assert [(t.name, len(t.problems)) for t in tasks] == [
        ("gsm8k_tts [strict-match]", 3), ("gsm8k_tts [flexible-extract]", 3)]


def test_line_separators_inside_strings_do_not_split_lines(tmp_path):
    path = tmp_path / "samples.jsonl"
    text = "a\u2028b\x0cc\x85d\re"
    line = json.dumps(entry([{"correct": True}], texts=[text]), ensure_ascii=False)
    path.write_text(line + "\n" + line + "\n", encoding="utf-8")
    (task,) = read_samples_file("t", path)
    assert [p.samples[0].text for p in task.problems] == [text, text]


def test_bad_lines_name_the_file_and_line(tmp_path):
    path = tmp_path / "samples.jsonl"
    path.write_text(json.dumps(entry([])) + "\n{not json\n")
    with pytest.raises(UserError, match=r"samples.jsonl:2: not JSON"):
        read_samples_file("t", path)
    path.write_text('{"no": "doc id"}\n')
    with pytest.raises(UserError, match=r"samples.jsonl:1: not an lm-eval sample"):
        read_samples_file("t", path)
