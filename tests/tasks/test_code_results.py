"""Grading glue on real problems: known-correct solutions pass their tests, known-wrong ones fail, per kind."""

import json

import pytest
from lm_eval.tasks._yaml_loader import load_yaml

from lm_eval_tts.paths import task_configs_dir
from lm_eval_tts.engines.base import Generation
from lm_eval_tts.errors import UserError
from lm_eval_tts.tasks.code_results import code_metrics, decode_private_tests, lcb_tests, mbpp_entry_point


def build_task(relative_yaml, **metadata):
    """A task object the way lm-eval's TaskFactory builds it (YAML + runtime metadata + config_source)."""
    path = task_configs_dir() / relative_yaml
    config = load_yaml(path, resolve_func=True)
    config["metadata"] = {**(config.get("metadata") or {}), **metadata, "config_source": str(path)}
    return config["class"](config=config)


def fenced(code):
    return f"Here is my solution.\n\n```python\n{code.strip()}\n```\n\nIt reads the input and prints the answer."


# Solutions written for this test and checked by hand against each problem's statement and public tests.
LCB_CORRECT = {
    # Codeforces 1873A Short Sort: "abc" is reachable with at most one swap iff at most 2 positions differ.
    "1873_A": """
t = int(input())
for _ in range(t):
    s = input().strip()
    wrong = sum(a != b for a, b in zip(s, "abc"))
    print("YES" if wrong <= 2 else "NO")
""",
    # Codeforces 1899A: Vanya wins at once unless n is already divisible by 3.
    "1899_A": """
import sys
data = sys.stdin.read().split()
print("\\n".join("Second" if int(x) % 3 == 0 else "First" for x in data[1:]))
""",
    # AtCoder abc301_a: more wins, or on a tie the one who reached the final count first (= not the last winner).
    "abc301_a": """
n = int(input())
s = input().strip()
t, a = s.count("T"), s.count("A")
if t != a:
    print("T" if t > a else "A")
else:
    print("A" if s[-1] == "T" else "T")
""",
    # AtCoder abc301_b: fill each gap with the integers strictly between neighbours.
    "abc301_b": """
def main():
    input()
    a = list(map(int, input().split()))
    out = [a[0]]
    for x in a[1:]:
        step = 1 if x > out[-1] else -1
        out.extend(range(out[-1] + step, x, step))
        out.append(x)
    print(*out)

if __name__ == "__main__":
    main()
""",
    # LeetCode 2727 countSeniors: age is characters 11-12.
    "2727": """
class Solution:
    def countSeniors(self, details: List[str]) -> int:
        return sum(int(d[11:13]) > 60 for d in details)
""",
    # LeetCode 2756 buyChoco: the two cheapest.
    "2756": """
class Solution:
    def buyChoco(self, prices: List[int], money: int) -> int:
        a, b = sorted(prices)[:2]
        return money - a - b if a + b <= money else money
""",
    # LeetCode 2777 distinctDifferenceArray.
    "2777": """
class Solution:
    def distinctDifferenceArray(self, nums: List[int]) -> List[int]:
        return [len(set(nums[: i + 1])) - len(set(nums[i + 1 :])) for i in range(len(nums))]
""",
    # LeetCode 2785 semiOrderedPermutation: move 1 left and n right; one fewer swap if they cross.
    "2785": """
class Solution:
    def semiOrderedPermutation(self, nums: List[int]) -> int:
        n = len(nums)
        i, j = nums.index(1), nums.index(n)
        return i + (n - 1 - j) - (1 if i > j else 0)
""",
}

LCB_WRONG = {
    "1873_A": ('t = int(input())\nfor _ in range(t):\n    print("YES")', "wrong_answer"),
    "1899_A": ("import sys\nprint(1 / 0)", "runtime_error"),
    "abc301_a": ("while True:\n    pass", "timeout"),
    "abc301_b": ("def main(:\n    pass", "syntax"),
    "2727": ("class Solution:\n    def countSeniors(self, details):\n        return len(details)", "wrong_answer"),
    "2756": ("class Solution:\n    def buyChoco(self, prices, money):\n        return prices[99]", "runtime_error"),
    "2777": ("class Solution:\n    def distinctDifferenceArray(self, nums):\n        return nums", "wrong_answer"),
    "2785": ("class Solution:\n    def semiOrderedPermutation(self, nums):\n        return 0", "wrong_answer"),
}


@pytest.fixture(scope="module")
def lcb():
    return build_task("livecodebench/livecodebench_tts.yaml", repeats=2)


@pytest.fixture(scope="module")
def lcb_docs(lcb):
    docs = {d["question_id"]: d for d in lcb.eval_docs}
    return [docs[qid] for qid in LCB_CORRECT]


def test_sample_covers_both_test_kinds(lcb_docs):
    kinds = [lcb_tests(d)[0]["testtype"] for d in lcb_docs]
    assert kinds.count("stdin") >= 3 and kinds.count("functional") >= 3


def test_livecodebench_correct_and_wrong_solutions(lcb, lcb_docs):
    resps = [[fenced(LCB_CORRECT[d["question_id"]]), fenced(LCB_WRONG[d["question_id"]][0])] for d in lcb_docs]
    graded = lcb.grade_responses(resps, lcb_docs)
    for doc, (good, bad) in zip(lcb_docs, graded):
        qid = doc["question_id"]
        assert good["correct"] and good["grade"] == "passed", (qid, good["grade"], good["detail"])
        assert all(good["tests_passed"]) and len(good["tests_passed"]) == len(lcb_tests(doc))
        assert not bad["correct"] and bad["grade"] == LCB_WRONG[qid][1], (qid, bad["grade"], bad["detail"])
        metrics = lcb.process_results(doc, [[good, bad]])
        assert metrics["pass@1"] == 0.5 and metrics["pass@2"] == 1.0
        assert json.loads(str(good))["program"].startswith(LCB_CORRECT[qid].strip()[:20])


def test_records_carry_token_data_of_generations(lcb, lcb_docs):
    doc = lcb_docs[0]
    resps = [[Generation(fenced(LCB_CORRECT[doc["question_id"]]), token_ids=(7, 8), mean_logprob=-0.3,
                         hot_token_id=7),  # FIRE: the hot token, which the viewer highlights
              Generation("no code", token_ids=(9,), mean_logprob=-1.5)]]
    (records,) = lcb.grade_responses(resps, [doc])
    assert [r["logprob"] for r in records] == [-0.3, -1.5] and [r["first_token"] for r in records] == [7, 9]
    assert json.loads(str(records[0]))["hot_token_id"] == 7 and "hot_token_id" not in records[1]
    assert [r["tokens"] for r in records] == [2, 1]
    metrics = lcb.process_results(doc, [records])
    assert metrics["best@2_logprob"] == 1.0 and metrics["num_distinct_first_tokens"] == 2


def test_mbpp_reference_and_broken_programs():
    task = build_task("mbpp/mbpp_tts.yaml", repeats=3)
    docs = list(task.eval_docs)[:3]
    resps = [[d["code"], "def nothing():\n    return None", fenced(d["code"])] for d in docs]
    for doc, (ref, wrong, ref_fenced) in zip(docs, task.grade_responses(resps, docs)):
        assert ref["correct"] and ref_fenced["correct"], (doc["task_id"], ref["detail"])
        assert not wrong["correct"] and wrong["grade"] in ("runtime_error", "wrong_answer")


def test_mbpp_sanitized_uses_test_imports():
    task = build_task("mbpp/mbpp_sanitized_tts.yaml", repeats=1)
    docs = [d for d in task.eval_docs if d["test_imports"]][:2]
    assert docs
    graded = task.grade_responses([[d["code"]] for d in docs], docs)
    assert all(records[0]["correct"] for records in graded), graded


def test_task_options_reach_the_data():
    task = build_task("livecodebench/livecodebench_tts.yaml", start_date="2023-10-01", end_date="2023-12-31",
                      difficulty="easy,hard", platform="leetcode,atcoder", repeats=4, ks="1,4")
    docs = task.eval_docs
    assert docs and all("2023-10-01" <= d["contest_date"][:10] <= "2023-12-31" for d in docs)
    assert {d["difficulty"] for d in docs} <= {"easy", "hard"} and "codeforces" not in {d["platform"] for d in docs}
    assert task.config.repeats == 4 and task.ks == (1, 4)
    assert [m["metric"] for m in task.config.metric_list][:2] == ["pass@1", "pass@4"]


@pytest.mark.parametrize(
    "yaml, metadata, message",
    [
        ("livecodebench/livecodebench_tts.yaml", {"start_date": "2031-01-01"}, "no problems"),
        ("livecodebench/livecodebench_tts.yaml", {"release_version": "release_v9"}, "release_version='release_v9'"),
        ("mbpp/mbpp_tts.yaml", {"dataset": "/nonexistent/mbpp.jsonl"}, "/nonexistent/mbpp.jsonl does not exist"),
        ("mbpp/mbpp_tts.yaml", {"ks": [1, 32]}, "k=32 needs at least 32"),
        ("mbpp/mbpp_plus_tts.yaml", {"expected_fil": "x"}, "did you mean 'expected_file'"),
    ],
)
def test_bad_task_options(yaml, metadata, message):
    with pytest.raises(UserError) as err:
        build_task(yaml, **metadata)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_dataset_override(tmp_path):
    path = task_configs_dir() / "mbpp" / "data" / "mbpp.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    mine = tmp_path / "mine.jsonl"
    mine.write_text("\n".join(json.dumps(r) for r in records if r["task_id"] in (11, 12, 600)) + "\n")
    task = build_task("mbpp/mbpp_tts.yaml", dataset=str(mine))
    assert [d["task_id"] for d in task.eval_docs] == [11, 12]


def test_code_metrics_from_records():
    records = [{"correct": c, "logprob": lp, "first_token": t} for c, lp, t in
               [(True, -0.1, 5), (False, -2.0, 5), (False, -1.0, 7), (True, -0.5, 9)]]
    m = code_metrics(records, (1, 2, 4))
    assert m["pass@1"] == 0.5 and m["pass@4"] == 1.0
    assert m["pass@2"] == pytest.approx(1 - 1 / 6)
    assert m["best@1_logprob"] == 0.5 and m["best@4_logprob"] == 1.0
    assert m["num_distinct_first_tokens"] == 3
    assert not any(key.startswith("maj@") for key in m) and "num_distinct_answers" not in m
    assert m["pass@1_variance"] == 0.5 and m["jensen_bound@2"]["k"] == 2


def test_code_metrics_without_token_data():
    m = code_metrics([{"correct": True}] * 2, (1, 2))
    assert m["pass@2"] == 1.0 and not any(k.startswith("best@") for k in m)
    assert "num_distinct_first_tokens" not in m
    assert not any(k.startswith(("pass@1_weak", "utility@")) for k in m)  # one set of tests: no verifier view


def test_records_tell_weak_from_strong_tests():
    from lm_eval_tts.grading.code import CodeVerdict
    from lm_eval_tts.metrics.options import MetricOptions
    from lm_eval_tts.tasks.code_results import sample_record, weak_test_count

    assert weak_test_count({"n_base": 3, "inputs": ["x"] * 10}) == 3  # MBPP+ / HumanEval+: base inputs first
    public = json.dumps([{"input": "1", "output": "1", "testtype": "stdin"}] * 2)
    assert weak_test_count({"public_test_cases": public, "private_test_cases": "[{}]"}) == 2  # LCB with hidden
    assert weak_test_count({"public_test_cases": public, "private_test_cases": ""}) is None
    assert weak_test_count({"test_list": ["assert f(1) == 1"]}) is None
    passes_base = CodeVerdict(False, (True, True, True, False), "wrong_answer")
    passes_all = CodeVerdict(True, (True,) * 4, None)
    fails_base = CodeVerdict(False, (True, False, True, True), "wrong_answer")
    records = [sample_record("r", "p", v, weak_tests=3) for v in (passes_base, passes_all, fails_base, passes_all)]
    assert [r["weak_passed"] for r in records] == [True, True, False, True]
    assert "weak_passed" not in sample_record("r", "p", passes_all)
    m = code_metrics(records, (1, 4), MetricOptions(fp_cost=2.0))
    assert m["pass@1"] == 0.5 and m["pass@1_weak"] == 0.75
    assert m["false_positive_rate"] == {"weak_passed": 3, "false_positives": 1}
    assert m["utility@4"] == pytest.approx((2 - 2.0 * 1) / 3)  # surely submits; 2 right, 1 false positive
    assert m["resampling_limit"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    "test, expected",
    [
        ({"test_list": ["assert remove_Occ('hello','l') == 'heo'"]}, "remove_Occ"),
        ({"test_list": ["assert set(similar_elements((3, 4), (5, 4))) == set((4,))"]}, "similar_elements"),
        ({"test_list": ["assert math.isclose(area(2), 12.56, rel_tol=0.001)"]}, "area"),
        ({"test_list": ["assert not is_prime(4)"]}, "is_prime"),
        ({"test_list": ["assert sum(10,15) == 6"]}, "sum"),
    ],
)
def test_mbpp_entry_point(test, expected):
    assert mbpp_entry_point(test) == expected


def test_private_tests_decode_without_running_pickled_code():
    import base64
    import pickle
    import zlib

    tests = [{"input": "1\n", "output": "2\n", "testtype": "stdin"}]
    blob = base64.b64encode(zlib.compress(pickle.dumps(json.dumps(tests)))).decode()
    assert decode_private_tests(blob) == tests
    assert decode_private_tests(json.dumps(tests)) == tests

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = base64.b64encode(zlib.compress(pickle.dumps(Evil()))).decode()
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        decode_private_tests(evil)


def test_behaviour_key_groups_identical_outputs():
    from lm_eval_tts.tasks.code_results import behaviour_key

    assert behaviour_key(['["l",2]', None]) == behaviour_key(['["l",2]', None]) != behaviour_key(['["l",3]', None])
    assert behaviour_key([None, None]) is None and behaviour_key([]) is None  # produced nothing: no vote


def overfit_program(doc, inputs, n_base):
    """The canonical solution, except that on any input longer (as repr) than every base input it returns None:
    it passes the base tests and fails the plus inputs that are larger - a false positive of the weak tests."""
    from lm_eval_tts.execution import codec

    longest = max(len(repr(tuple(codec.decode(text)))) for text in inputs[:n_base])
    return (f"{doc['canonical_solution']}\n_original = {doc['entry_point']}\n\n"
            f"def {doc['entry_point']}(*args):\n    if len(repr(args)) > {longest}:\n        return None\n"
            f"    return _original(*args)\n")


def test_mbpp_plus_false_positives_and_votes_by_behaviour_on_real_problems():
    from lm_eval_tts.execution import codec

    task = build_task("mbpp/mbpp_plus_tts.yaml", repeats=4, fp_cost=1)

    def has_larger_plus_input(doc):
        tests = task.evalplus_tests[doc["task_id"]]
        sizes = [len(repr(tuple(codec.decode(text)))) for text in tests.inputs]
        return max(sizes[tests.n_base:], default=0) > max(sizes[: tests.n_base])

    docs = [d for d in list(task.eval_docs)[:20] if has_larger_plus_input(d)][:2]
    assert len(docs) == 2
    overfit = [overfit_program(d, task.evalplus_tests[d["task_id"]].inputs, task.evalplus_tests[d["task_id"]].n_base)
               for d in docs]
    resps = [[d["canonical_solution"], wrong, wrong, "def nothing(:"] for d, wrong in zip(docs, overfit)]
    for doc, records in zip(docs, task.grade_responses(resps, docs)):
        right, overfit, overfit_again, broken = records
        assert (right["correct"], right["weak_passed"]) == (True, True), doc["task_id"]
        assert (overfit["correct"], overfit["weak_passed"]) == (False, True), doc["task_id"]  # a false positive
        assert overfit["behaviour"] == overfit_again["behaviour"] != right["behaviour"]
        assert broken["behaviour"] is None and not broken["weak_passed"]
        metrics = task.process_results(doc, [records])
        assert metrics["pass@1"] == 0.25 and metrics["pass@1_weak"] == 0.75
        assert metrics["false_positive_rate"] == {"weak_passed": 3, "false_positives": 2}
        assert metrics["utility@4"] == pytest.approx((1 - 2) / 3)  # submits surely: 1 right, 2 wrong of 3
        assert metrics["maj@4"] == 0.0  # the two identical overfit programs outvote the right one
        assert metrics["majtop@2"] == 1.0 and metrics["num_distinct_answers"] == 2


@pytest.mark.slow
def test_reward_model_scores_programs_for_best_and_bom(tiny_model_dir, tmp_path):
    from tests.grading.reward_models import build_tiny_orm

    orm = build_tiny_orm(tiny_model_dir, tmp_path / "orm")
    task = build_task("mbpp/mbpp_tts.yaml", repeats=3, reward_model=str(orm))
    assert "best@3_orm" in [spec["metric"] for spec in task.config.metric_list]
    doc = task.eval_docs[0]
    (records,) = task.grade_responses([[doc["code"], "def nothing():\n    return None", doc["code"] + "\n"]], [doc])
    assert all(isinstance(r["orm"], float) for r in records)
    assert records[0]["orm"] != records[1]["orm"]  # different (prompt, response) texts, different scores
    metrics = task.process_results(doc, [records])
    best = metrics["best@1_orm"]
    assert best == pytest.approx(sum(r["correct"] for r in records) / 3)  # best@1 is pass@1 for any score
    assert {"best@3_orm", "bom@1_orm", "bontop@1_orm"} <= set(metrics)
    with pytest.raises(UserError, match="reward_model=/nowhere: no such directory"):
        build_task("mbpp/mbpp_tts.yaml", reward_model="/nowhere")
