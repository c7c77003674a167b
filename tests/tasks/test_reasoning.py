"""The GSM8K / MATH task classes in-process: options, shipped data, grading of hand-written responses into
records, and the per-doc metrics built from them (no model: responses are given as the engine would return them)."""

import json

import pytest
from lm_eval.tasks._yaml_loader import load_yaml  # how lm-eval itself reads a task YAML

from lm_eval_tts.paths import task_configs_dir
from lm_eval_tts.engines.base import Generation
from lm_eval_tts.errors import UserError
from lm_eval_tts.tasks.common import GradedResponse
from tests.grading.reward_models import build_tiny_orm


def build_task(relative_yaml: str, **metadata):
    """A task object the way lm-eval's TaskFactory builds it (YAML + runtime metadata + config_source)."""
    path = task_configs_dir() / relative_yaml
    config = load_yaml(path, resolve_func=True)
    config["metadata"] = {**(config.get("metadata") or {}), **metadata, "config_source": str(path)}
    return config["class"](config=config)


@pytest.fixture(scope="module")
def gsm8k():
    return build_task("gsm8k/gsm8k_tts.yaml", repeats=4)


@pytest.fixture(scope="module")
def math500():
    return build_task("math/math500_tts.yaml", repeats=4, grading_timeout=1.0)


def test_yaml_defaults_and_shipped_data(gsm8k):
    default = build_task("gsm8k/gsm8k_tts.yaml")
    assert default.config.repeats == 16 and default.ks == (1, 2, 4, 8, 16)
    assert default.config.generation_kwargs["max_gen_toks"] == 512
    assert len(default.eval_docs) == 1319
    assert gsm8k.config.repeats == 4 and gsm8k.ks == (1, 2, 4)
    assert [spec["metric"] for spec in gsm8k.config.metric_list][:3] == ["pass@1", "pass@2", "pass@4"]


def test_full_math_subjects_partition_the_shipped_test_set():
    counts = {
        subject: len(build_task(f"math/math_tts_{subject}.yaml", repeats=1).eval_docs)
        for subject in ("algebra", "counting_and_probability", "geometry", "intermediate_algebra",
                        "number_theory", "prealgebra", "precalculus")
    }
    assert sum(counts.values()) == 5000
    assert counts == {"algebra": 1187, "counting_and_probability": 474, "geometry": 479, "intermediate_algebra": 903,
                      "number_theory": 540, "prealgebra": 871, "precalculus": 546}  # the official counts


def test_gsm8k_has_lm_evals_two_filters(gsm8k):
    assert [f.name for f in gsm8k._filters] == ["strict-match", "flexible-extract"]


def test_gsm8k_records_and_metrics(gsm8k):
    doc = gsm8k.eval_docs[0]  # Janet's ducks, 18
    responses = [
        Generation("16 - 3 - 4 = 9 eggs, 9 * 2 = 18.\n#### 18", token_ids=(11, 12), mean_logprob=-0.1),
        Generation("The answer is $18.00.", token_ids=(11,), mean_logprob=-0.5),
        Generation("She makes 20 dollars.", token_ids=(13,), mean_logprob=-0.2),
        Generation("I do not know.", token_ids=(14,), mean_logprob=-0.9),
    ]
    (records,) = gsm8k.grade_responses([responses], [doc], filter_name="strict-match")
    assert [(r["answer"], r["correct"], r["grade"]) for r in records] == [
        ("18", True, "identical"), ("18", True, "identical"), (None, False, "no_answer"), (None, False, "no_answer")]
    (flexible,) = gsm8k.grade_responses([responses], [doc], filter_name="flexible-extract")
    assert [(r["answer"], r["correct"], r["grade"]) for r in flexible] == [
        ("18", True, "identical"), ("18", True, "identical"), ("20", False, "different"), (None, False, "no_answer")]
    assert [r["logprob"] for r in flexible] == [-0.1, -0.5, -0.2, -0.9]
    assert json.loads(str(records[0])) == {"answer": "18", "correct": True, "grade": "identical",
                                           "logprob": -0.1, "first_token": 11, "tokens": 2}
    metrics = gsm8k.process_results(doc, [flexible])
    assert metrics["pass@1"] == 0.5 and metrics["pass@4"] == 1.0
    assert metrics["maj@4"] == 1.0  # 18 twice beats 20 once; no answer never wins
    assert metrics["num_distinct_answers"] == 2 and metrics["num_distinct_first_tokens"] == 3
    assert gsm8k.process_results(doc, [records])["num_distinct_answers"] == 1  # strict: "20" was not an answer
    assert metrics["best@4_logprob"] == 1.0  # the most confident sample (-0.1) is right
    assert metrics["best@1_logprob"] == 0.5
    assert metrics["tokens_per_sample"] == 1.25
    assert metrics["majtop@1"] == 1.0  # 18 is the most frequent answer
    assert metrics["bom@1_logprob"] == 0.0  # but "20" has the higher mean log-prob (-0.2 vs -0.3)
    assert set(gsm8k.aggregation()) >= set(metrics)


def test_gsm8k_final_statement_wins_in_both_filters(gsm8k):
    doc = gsm8k.eval_docs[0]  # gold 18
    responses = ["So the answer is 9 * 2 = 18 dollars. Oh wait, she sells 10: the final answer is 10 * 2 = 20.",
                 "She eats 3 and bakes 4, so 16 - 3 - 4 = 9 eggs are left, and 9 * 2 = 18"]
    (strict,) = gsm8k.grade_responses([responses], [doc], filter_name="strict-match")
    (flexible,) = gsm8k.grade_responses([responses], [doc], filter_name="flexible-extract")
    assert [(r["answer"], r["correct"]) for r in strict] == [("20", False), (None, False)]
    assert [(r["answer"], r["correct"]) for r in flexible] == [("20", False), ("18", True)]


def test_plain_string_responses_give_no_logprob_or_first_token_metrics(gsm8k):
    doc = gsm8k.eval_docs[0]
    (records,) = gsm8k.grade_responses([["#### 18", "#### 17", "#### 18", "x"]], [doc], filter_name="strict-match")
    metrics = gsm8k.process_results(doc, [records])
    assert "best@1_logprob" not in metrics and "num_distinct_first_tokens" not in metrics
    assert metrics["pass@1"] == 0.5



def test_fire_records_carry_the_hot_token_id_the_viewer_highlights(gsm8k):
    from lm_eval_tts.report.view.hot_token import hot_token_id

    doc = gsm8k.eval_docs[0]
    responses = [Generation("Eggs left: 9.\n#### 18", token_ids=(21, 22, 23), hot_token_id=23),  # fire_at=line:2
                 Generation("9 * 2", token_ids=(21, 24), hot_token_id=None)]  # ended before line 2
    for name in gsm8k.FILTERS:
        hot, ended = gsm8k.grade_responses([responses], [doc], filter_name=name)[0]
        assert hot["hot_token_id"] == 23 and hot["first_token"] == 21 and "hot_token_id" not in ended
        assert json.loads(str(hot))["hot_token_id"] == 23  # what --log_samples writes
        assert hot_token_id(json.loads(str(hot)), 2) == 23 and hot_token_id(json.loads(str(ended)), 2) is None

def test_math_records_equivalent_spellings_vote_together_and_a_hang_is_wrong(math500):
    doc = math500.eval_docs[3]  # divisors of 196: 9
    assert math500.doc_to_target(doc) == "9"
    responses = ["So there are $\\boxed{9}$ divisors.", "\\boxed{\\sqrt{81}}", "\\boxed{7^{7^{7^{7^{7^{7}}}}}}",
                 "\\boxed{8}"]
    (records,) = math500.grade_responses([responses], [doc])
    assert [r["correct"] for r in records] == [True, True, False, False]
    assert [r["grade"] for r in records] == ["identical", "verified", "timeout", "different"]
    metrics = math500.process_results(doc, [records])
    assert metrics["num_distinct_answers"] == 3  # 9 and \\sqrt{81} are one answer
    assert metrics["maj@4"] == 1.0 and metrics["pass@1"] == 0.5


def test_records_log_as_json_through_lm_eval_sanitizer():
    from lm_eval.utils import sanitize_list

    logged = sanitize_list([[GradedResponse(answer="\\frac{1}{2}", correct=True, grade="verified")]])
    assert json.loads(logged[0][0]) == {"answer": "\\frac{1}{2}", "correct": True, "grade": "verified"}


@pytest.mark.parametrize(
    "metadata, message",
    [
        ({"repeats": 4, "ks": [1, 8]}, "k=8 needs at least 8 samples per problem but repeats=4"),
        ({"reward_modle": "/x"}, "unknown task option 'reward_modle' (did you mean 'reward_model'?)"),
        ({"reward_model": "/does/not/exist"}, "reward_model=/does/not/exist: no such directory"),
        ({"repeats": 0}, "repeats=0: must be a positive integer"),
        ({"dataset": "/does/not/exist.jsonl"}, "dataset=/does/not/exist.jsonl: no such file"),
    ],
)
def test_bad_options_are_one_clear_error(metadata, message):
    with pytest.raises(UserError) as err:
        build_task("gsm8k/gsm8k_tts.yaml", **metadata)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_dataset_option_points_the_task_at_another_local_file(tmp_path):
    data = tmp_path / "mine.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is {i} + 1?", "answer": f"#### {i + 1}"}) + "\n"
                            for i in range(3)))
    task = build_task("gsm8k/gsm8k_tts.yaml", dataset=str(data), repeats=1)
    assert [task.doc_to_target(doc) for doc in task.eval_docs] == ["1", "2", "3"]


def test_fewshot_prompt_uses_cleaned_train_solutions():
    task = build_task("gsm8k/gsm8k_tts_fewshot.yaml", repeats=1)
    prompt = task.fewshot_context(task.eval_docs[0], num_fewshot=8)
    assert prompt.count("Question:") == 9 and prompt.count("The answer is") == 8
    assert "<<" not in prompt and "####" not in prompt and prompt.endswith("Answer:")


def test_reward_model_scores_every_response(tiny_model_dir, tmp_path):
    orm = build_tiny_orm(tiny_model_dir, tmp_path / "orm")
    task = build_task("gsm8k/gsm8k_tts.yaml", repeats=2, reward_model=str(orm), reward_batch_size=2)
    doc = task.eval_docs[0]
    (records,) = task.grade_responses([["#### 18", "#### 3"]], [doc])
    assert all(isinstance(r["orm"], float) for r in records) and records[0]["orm"] != records[1]["orm"]
    metrics = task.process_results(doc, [records])
    best = 1.0 if records[0]["orm"] > records[1]["orm"] else 0.0
    assert metrics["best@2_orm"] == best and metrics["best@1_orm"] == 0.5
