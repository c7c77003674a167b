import datetime as dt

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.tasks.code_options import CodeOptions, parse_code_options


def test_defaults_and_foreign_keys_pass_through():
    # model args, the reasoning tasks' options and lm-eval's own metadata keys are not ours
    metadata = {"pretrained": "/m", "backend": "hf", "repeats": 4, "ks": [1], "version": 1.0, "config_source": "x"}
    assert parse_code_options(metadata) == CodeOptions()


def test_values():
    options = parse_code_options(
        {"start_date": "2023-09-01", "end_date": "2023-12-31T00:00:00", "difficulty": "Easy, hard",
         "platform": ["leetcode"], "release_version": "release_v2", "expected_file": "/x.jsonl"}
    )
    assert options.start_date == dt.date(2023, 9, 1) and options.end_date == dt.date(2023, 12, 31)
    assert options.difficulties == {"easy", "hard"} and options.platforms == {"leetcode"}
    assert options.release_version == "release_v2" and options.expected_file == "/x.jsonl"


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"dificulty": "easy"}, "unknown task option 'dificulty' (did you mean 'difficulty'?)"),
        ({"start_dat": "2023-01-01"}, "did you mean 'start_date'"),
        ({"difficulty": "impossible"}, "difficulty='impossible': use any of easy, medium, hard"),
        ({"platform": ","}, "platform=',': use any of atcoder, codeforces, leetcode"),
        ({"start_date": "yesterday"}, "start_date='yesterday' is not a date: use YYYY-MM-DD"),
        ({"start_date": "2024-01-01", "end_date": "2023-01-01"}, "start_date=2024-01-01 is after end_date=2023-01-01"),
    ],
)
def test_bad_values_are_one_line(metadata, message):
    with pytest.raises(UserError) as err:
        parse_code_options(metadata)
    assert message in str(err.value) and "\n" not in str(err.value)
