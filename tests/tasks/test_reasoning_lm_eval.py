"""End to end through the plain `lm_eval` command: `--model wise_fire` (transformers backend) on the tiny random
model and on SmolLM2-135M-Instruct, the gsm8k_tts and math500_tts tasks, results JSON and logged samples."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.grading.reward_models import build_tiny_orm

LM_EVAL = str(Path(sys.executable).parent / "lm_eval")  # the console script, as users run it
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
TASKS = ("gsm8k_tts", "math500_tts")
FILTERS = {"gsm8k_tts": ("strict-match", "flexible-extract"), "math500_tts": ("graded",)}  # as lm-eval's gsm8k


def run_lm_eval(model_dir, output: Path, *extra: str, tasks=TASKS) -> subprocess.CompletedProcess:
    command = [LM_EVAL, "--model", "wise_fire", "--model_args", f"pretrained={model_dir},backend=hf,seed=1",
               "--device", "cpu", "--tasks", ",".join(tasks), "--log_samples", "--output_path", str(output), *extra]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=output.parent, timeout=2300)


def read_outputs(output: Path) -> tuple[dict, dict[str, list[dict]]]:
    (results_file,) = output.rglob("results_*.json")
    samples = {task: [json.loads(line) for line in next(output.rglob(f"samples_{task}_*.jsonl")).open()]
               for task in TASKS}
    return json.loads(results_file.read_text()), samples


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("lm_eval_tiny")
    orm = build_tiny_orm(tiny_model_dir, base / "orm")
    done = run_lm_eval(tiny_model_dir, base / "out", "--limit", "3", "--gen_kwargs", "max_gen_toks=8",
                       "--metadata", "repeats=4", f"reward_model={orm}")
    assert done.returncode == 0, done.stderr[-3000:]
    return read_outputs(base / "out")


@pytest.mark.parametrize("task, name", [(task, name) for task in TASKS for name in FILTERS[task]])
def test_results_hold_every_metric_with_standard_errors(tiny_run, task, name):
    results = tiny_run[0]["results"][task]
    for k in (1, 2, 4):
        for key in (f"pass@{k}", f"maj@{k}", f"best@{k}_logprob", f"best@{k}_orm"):
            assert 0.0 <= results[f"{key},{name}"] <= 1.0
            assert isinstance(results[f"{key}_stderr,{name}"], float)
        assert 0.0 <= results[f"jensen_bound@{k},{name}"] <= 1.0
    assert 1.0 <= results[f"num_distinct_first_tokens,{name}"] <= 4.0
    assert 0.0 <= results[f"num_distinct_answers,{name}"] <= 4.0
    assert results[f"pass@1_variance,{name}"] >= 0.0
    assert f"pass@8,{name}" not in results  # k never exceeds repeats
    assert {key.split(",")[1] for key in results if "," in key} == set(FILTERS[task])
    assert tiny_run[0]["configs"][task]["repeats"] == 4


@pytest.mark.parametrize("task", TASKS)
def test_logged_samples_show_every_response_with_answer_correctness_and_scores(tiny_run, task):
    samples = tiny_run[1][task]
    assert sorted(sample["filter"] for sample in samples) == sorted(FILTERS[task] * 3)  # 3 docs, each filter
    for sample in samples:
        (responses,) = sample["resps"]
        (records,) = sample["filtered_resps"]
        assert len(responses) == len(records) == 4
        records = [json.loads(record) for record in records]
        assert all({"answer", "correct", "grade", "logprob", "orm", "first_token"} <= set(r) for r in records)
        assert sample["pass@1"] == pytest.approx(sum(r["correct"] for r in records) / 4)


def test_math_tts_group_metrics_follow_ks(tiny_model_dir, tmp_path):
    done = run_lm_eval(tiny_model_dir, tmp_path / "out", "--limit", "1", "--gen_kwargs", "max_gen_toks=8",
                       "--metadata", "repeats=3", "ks=[1,3]", tasks=("math_tts",))
    assert done.returncode == 0, done.stderr[-3000:]
    (results_file,) = (tmp_path / "out").rglob("results_*.json")
    results = json.loads(results_file.read_text())["results"]
    subjects = [name for name in results if name.startswith("math_tts_")]
    assert len(subjects) == 7
    group = results["math_tts"]
    for key in ("pass@1", "pass@3", "maj@3", "best@3_logprob", "num_distinct_answers"):
        # one problem per subject: the size-weighted group mean is the plain mean of the subjects
        expected = sum(results[name][f"{key},graded"] for name in subjects) / 7
        assert group[f"{key},graded"] == pytest.approx(expected)
    assert "pass@2,graded" not in group and "pass@4,graded" not in group


def test_k_above_repeats_is_one_error_line(tiny_model_dir, tmp_path):
    done = run_lm_eval(tiny_model_dir, tmp_path / "out", "--limit", "1", "--metadata", "repeats=2", "ks=[1,4]")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "lm_eval: error: task option ks=[1, 4]: k=4 needs at least 4 samples per problem but repeats=2; "
        "lower ks or raise repeats (e.g. --metadata repeats=4)")


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_smollm2_end_to_end_with_chat_template(smollm2_dir, tmp_path):
    # short budget: the transformers backend on a loaded 2-core machine managed about one sample per minute
    done = run_lm_eval(smollm2_dir, tmp_path / "out", "--limit", "2", "--apply_chat_template",
                       "--gen_kwargs", "max_gen_toks=48", "--metadata", "repeats=2")
    assert done.returncode == 0, done.stderr[-3000:]
    results, samples = read_outputs(tmp_path / "out")
    for task in TASKS:
        for name in FILTERS[task]:
            assert {f"pass@2,{name}", f"maj@2,{name}", f"best@2_logprob,{name}", f"num_distinct_answers,{name}"} <= set(
                results["results"][task])
        assert len(samples[task]) == 2 * len(FILTERS[task])
    # a real instruct model writes numbers: GSM8K answers are extracted from its (possibly cut-off) responses
    gsm8k_answers = [json.loads(r)["answer"] for s in samples["gsm8k_tts"] if s["filter"] == "flexible-extract"
                     for r in s["filtered_resps"][0]]
    assert sum(answer is not None for answer in gsm8k_answers) >= 2
