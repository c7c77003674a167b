import datetime as dt
import json

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.tasks import code_data
from lm_eval_tts.tasks.code_data import filter_lcb, lcb_release_sources, parse_choices, task_options


def _lcb_records():
    return code_data.read_jsonl(code_data.shipped_file("livecodebench", "livecodebench.jsonl"))


def test_mbpp_loads_the_test_split_offline():
    docs = code_data.load_mbpp()["test"]
    ids = [d["task_id"] for d in docs]
    assert ids == sorted(ids) and ids[0] >= 11 and ids[-1] <= 510
    assert len(ids) == 441  # 500 test problems minus the project's held-out ones
    assert set(docs[0]) >= set(code_data.MBPP_FIELDS)


def test_mbpp_sanitized_loads_test_split():
    docs = code_data.load_mbpp_sanitized()["test"]
    assert all(11 <= d["task_id"] <= 510 for d in docs) and len(docs) > 200


def test_livecodebench_default_is_the_whole_shipped_release():
    docs = code_data.load_livecodebench()["test"]
    assert len(docs) == 360
    assert {d["platform"] for d in docs} == {"atcoder", "codeforces", "leetcode"}


def test_livecodebench_date_window_is_inclusive():
    records = _lcb_records()
    day = dt.date(2023, 9, 2)
    same_day = [r for r in records if r["contest_date"].startswith("2023-09-02")]
    assert same_day, "fixture date must have problems"
    kept = filter_lcb(records, start_date=day, end_date=day)
    assert [r["question_id"] for r in kept] == [r["question_id"] for r in same_day]
    later = filter_lcb(records, start_date=dt.date(2024, 1, 1))
    assert later and all(r["contest_date"] >= "2024-01-01" for r in later)
    assert len(later) + len(filter_lcb(records, end_date=dt.date(2023, 12, 31))) == len(records)


def test_livecodebench_options_through_metadata():
    options = {"livecodebench_tts": {"start_date": "2023-10-01", "end_date": "2023-12-31", "difficulty": "easy,hard"}}
    docs = code_data.load_livecodebench(**options, pretrained="model-arg-is-ignored")["test"]
    assert len(docs) > 0
    assert all("2023-10-01" <= d["contest_date"][:10] <= "2023-12-31" for d in docs)
    assert {d["difficulty"] for d in docs} == {"easy", "hard"}


def test_livecodebench_platform_and_list_valued_difficulty():
    docs = code_data.load_livecodebench(livecodebench_tts={"platform": "leetcode", "difficulty": ["Medium"]})["test"]
    assert docs and {(d["platform"], d["difficulty"]) for d in docs} == {("leetcode", "medium")}


@pytest.mark.parametrize(
    "options, words",
    [
        ({"difficulty": "impossible"}, ["difficulty", "impossible", "easy"]),
        ({"start_date": "yesterday"}, ["start_date", "YYYY-MM-DD"]),
        ({"start_date": "2024-01-01", "end_date": "2023-01-01"}, ["after", "swap"]),
        ({"release_version": "release_v9"}, ["release_v9", "release_v1"]),
        ({"relase_version": "release_v1"}, ["unknown option", "relase_version", "release_version"]),
        ({"start_date": "2030-01-01"}, ["select no problems"]),
        ({"data_file": "/nonexistent/lcb.jsonl"}, ["/nonexistent/lcb.jsonl", "does not exist"]),
    ],
)
def test_livecodebench_bad_options_are_one_clear_error(options, words):
    with pytest.raises(UserError) as err:
        code_data.load_livecodebench(livecodebench_tts=options)
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_options_may_be_a_json_string():
    assert task_options("t", {"t": '{"a": 2}'}, {"a": 1, "b": 3}) == {"a": 2, "b": 3}
    with pytest.raises(UserError, match="JSON object"):
        task_options("t", {"t": "not json"}, {"a": 1})


def test_release_sources():
    assert lcb_release_sources("release_v1") == [str(code_data.shipped_file("livecodebench", "livecodebench.jsonl"))]
    assert lcb_release_sources("release_v3") == [
        f"{code_data.LCB_HUB_BASE}/test.jsonl",
        f"{code_data.LCB_HUB_BASE}/test2.jsonl",
        f"{code_data.LCB_HUB_BASE}/test3.jsonl",
    ]


def test_parse_choices():
    assert parse_choices(None, "difficulty", code_data.LCB_DIFFICULTIES) is None
    assert parse_choices(" Easy , hard", "difficulty", code_data.LCB_DIFFICULTIES) == {"easy", "hard"}


def test_data_file_override(tmp_path):
    records = [json.loads(line) for line in code_data.shipped_file("mbpp", "mbpp.jsonl").read_text().splitlines()]
    subset = tmp_path / "mine.jsonl"
    subset.write_text("\n".join(json.dumps(r) for r in records if r["task_id"] in (11, 12, 600)) + "\n")
    docs = code_data.load_mbpp(mbpp_tts={"data_file": str(subset)})["test"]
    assert [d["task_id"] for d in docs] == [11, 12]


def test_data_file_missing_fields(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"task_id": 11, "text": "x"}) + "\n")
    with pytest.raises(UserError, match="lacks field"):
        code_data.load_mbpp(mbpp_tts={"data_file": str(bad)})
