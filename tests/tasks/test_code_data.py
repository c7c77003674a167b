"""Readers and filters of the code tasks' problem sets (pure functions over the shipped files)."""

import datetime as dt
import json

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.tasks import code_data
from lm_eval_tts.tasks.code_data import filter_lcb, lcb_release_sources


@pytest.fixture(scope="module")
def lcb_records():
    return code_data.read_jsonl(code_data.shipped_file("livecodebench", "livecodebench.jsonl"))


@pytest.mark.parametrize(
    "bench, name, fields, keep, count",
    [
        ("mbpp", "mbpp.jsonl", code_data.MBPP_FIELDS, code_data.MBPP_TEST_IDS, 500),
        ("mbpp", "mbpp_sanitized.jsonl", code_data.MBPP_SANITIZED_FIELDS, None, 427),
        ("mbpp", "mbpp_plus.jsonl", code_data.EVALPLUS_FIELDS, None, 378),
        ("humaneval", "humaneval.jsonl", code_data.HUMANEVAL_FIELDS, None, 164),
        ("humaneval", "humaneval_plus.jsonl", code_data.EVALPLUS_FIELDS, None, 164),
    ],
)
def test_shipped_sets_are_complete_and_in_task_order(bench, name, fields, keep, count):
    path = code_data.shipped_file(bench, name)
    records = code_data.ordered_records(code_data.read_jsonl(path), fields, str(path), keep=keep)
    numbers = [code_data.task_number(r["task_id"]) for r in records]
    assert len(records) == count and numbers == sorted(numbers) and len(set(numbers)) == count
    if keep is not None:
        assert numbers[0] == 11 and numbers[-1] == 510


def test_task_numbers():
    assert [code_data.task_number(t) for t in (11, "11", "Mbpp/11", "HumanEval/11")] == [11] * 4


def test_date_window_is_inclusive(lcb_records):
    day = dt.date(2023, 9, 2)
    same_day = [r for r in lcb_records if r["contest_date"].startswith("2023-09-02")]
    assert same_day
    kept = filter_lcb(lcb_records, start_date=day, end_date=day)
    assert [r["question_id"] for r in kept] == [r["question_id"] for r in same_day]
    later = filter_lcb(lcb_records, start_date=dt.date(2024, 1, 1))
    assert later and all(r["contest_date"] >= "2024-01-01" for r in later)
    assert len(later) + len(filter_lcb(lcb_records, end_date=dt.date(2023, 12, 31))) == len(lcb_records)


def test_difficulty_and_platform_filters(lcb_records):
    kept = filter_lcb(lcb_records, difficulties=frozenset({"hard"}), platforms=frozenset({"leetcode", "codeforces"}))
    assert kept and {(r["difficulty"], r["platform"]) for r in kept} <= {("hard", "leetcode"), ("hard", "codeforces")}
    everything = filter_lcb(lcb_records)
    assert len(everything) == len(lcb_records) == 400


def test_release_sources():
    assert lcb_release_sources("release_v1") == [str(code_data.shipped_file("livecodebench", "livecodebench.jsonl"))]
    base = code_data.LCB_HUB_BASE
    assert lcb_release_sources("release_v3") == [f"{base}/test.jsonl", f"{base}/test2.jsonl", f"{base}/test3.jsonl"]
    with pytest.raises(UserError, match="release_version='v9' is unknown; use one of release_v1"):
        lcb_release_sources("v9")


def test_lcb_docs_are_all_text(lcb_records):
    (doc,) = code_data.lcb_docs(lcb_records[:1])
    assert all(isinstance(v, str) for v in doc.values()) and doc["private_test_cases"] == ""
    assert json.loads(doc["public_test_cases"])[0]["testtype"] in ("stdin", "functional")


def test_read_errors_name_the_file(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        code_data.read_jsonl(tmp_path / "missing.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": 11}\nnot json\n')
    with pytest.raises(UserError, match="line 2 is not JSON"):
        code_data.read_jsonl(bad)
    with pytest.raises(UserError, match="record 1 lacks field"):
        code_data.require_fields([{"task_id": 11}], code_data.MBPP_FIELDS, str(bad))
