"""The code tasks through the real `lm_eval` command: pass@k in the results, graded samples in --log_samples."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

def lm_eval(args, cwd):
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    command = [str(Path(sys.executable).with_name("lm_eval")), *args]  # the console script users run
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=1500)


def results_and_samples(out_dir: Path):
    (results_file,) = out_dir.rglob("results_*.json")
    results = json.loads(results_file.read_text())
    samples = {}
    for path in out_dir.rglob("samples_*.jsonl"):
        task = path.name[len("samples_") :].rsplit("_", 1)[0]
        samples[task] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return results, samples


def check_run(out_dir: Path, limit: int, n: int = 16):
    results, samples = results_and_samples(out_dir)
    for task in ("mbpp_tts", "livecodebench_tts"):
        row = results["results"][task]
        values = [row[f"pass@{k},graded"] for k in (1, 2, 4, 8, 16) if k <= n]
        assert all(0.0 <= v <= 1.0 for v in values), row
        assert values == sorted(values), f"pass@k must not decrease in k: {row}"
        assert "pass@1_stderr,graded" in row
        assert len(samples[task]) == limit
        for doc in samples[task]:
            (records,) = doc["filtered_resps"]
            records = [json.loads(record) for record in records]  # lm-eval str()s them; ours print as JSON
            assert len(records) == n
            for record in records:
                assert set(record) >= {"program", "correct", "grade", "tests_passed", "detail"}
                assert record["correct"] == (record["grade"] == "passed") == all(record["tests_passed"])
            assert doc["pass@1"] == pytest.approx(sum(r["correct"] for r in records) / n)
    return results, samples


def test_mbpp_and_livecodebench_end_to_end(tiny_model_dir, tmp_path):
    proc = lm_eval(
        [
            "--model", "wise_fire",
            "--model_args", f"pretrained={tiny_model_dir},backend=hf",
            "--device", "cpu",
            "--tasks", "mbpp_tts,livecodebench_tts",
            "--limit", "2",
            "--metadata", json.dumps({"repeats": 4}),
            "--gen_kwargs", "max_gen_toks=24",
            "--confirm_run_unsafe_code",
            "--log_samples",
            "--output_path", str(tmp_path / "out"),
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results, samples = check_run(tmp_path / "out", limit=2, n=4)
    # a random tiny model writes no working program: every sample must fail, each with a named failure kind
    grades = {json.loads(r)["grade"] for task in samples.values() for doc in task for r in doc["filtered_resps"][0]}
    assert grades <= {"syntax", "runtime_error", "wrong_answer", "timeout", "output_limit", "memory"}
    assert results["results"]["mbpp_tts"]["pass@4,graded"] == 0.0
    assert {"best@4_logprob,graded", "num_distinct_first_tokens,graded"} <= set(results["results"]["mbpp_tts"])


def test_missing_confirm_run_unsafe_code_is_refused(tiny_model_dir, tmp_path):
    proc = lm_eval(
        ["--model", "hf", "--model_args", f"pretrained={tiny_model_dir}", "--tasks", "mbpp_tts", "--limit", "1"],
        tmp_path,
    )
    assert proc.returncode != 0
    assert "mbpp_tts which is marked as unsafe" in proc.stderr and "confirm_run_unsafe_code" in proc.stderr


def test_unknown_task_option_is_one_line(tiny_model_dir, tmp_path):
    proc = lm_eval(
        [
            "--model", "hf", "--model_args", f"pretrained={tiny_model_dir}", "--tasks", "livecodebench_tts",
            "--limit", "1", "--confirm_run_unsafe_code",
            "--metadata", json.dumps({"difficulty": "easy", "dificulty": "hard"}),
        ],
        tmp_path,
    )
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lm_eval: error:") and "did you mean 'difficulty'" in last
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_smollm2_samples_with_pass_at_k(smollm2_dir, tmp_path):
    """The bundled SmolLM2-135M-Instruct on vLLM with its chat template, n samples per problem, easy problems."""
    proc = lm_eval(
        [
            "--model", "wise_fire",
            "--model_args",
            f"pretrained={smollm2_dir},backend=vllm,seed=1,max_model_len=2048,enforce_eager=True",
            "--tasks", "mbpp_tts,livecodebench_tts",
            "--limit", "2",
            "--apply_chat_template",
            "--gen_kwargs", "max_gen_toks=192",
            "--metadata", json.dumps({"difficulty": "easy", "platform": "leetcode", "repeats": 8}),
            "--confirm_run_unsafe_code",
            "--log_samples",
            "--output_path", str(tmp_path / "out"),
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results, samples = check_run(tmp_path / "out", limit=2, n=8)
    programs = [json.loads(r)["program"] for doc in samples["mbpp_tts"] for r in doc["filtered_resps"][0]]
    assert any("def " in p for p in programs), "an instruct model should write functions"
    print(json.dumps({t: {k: v for k, v in row.items() if k.startswith("pass@")} for t, row in results["results"].items()}))


def test_tts_suite_groups_the_five_benchmarks_with_shared_options():
    from lm_eval.tasks import TaskManager

    loaded = TaskManager(metadata={"repeats": 2}).load_task_or_group(["tts_suite"])
    ((group, tasks),) = loaded.items()
    assert group.group_name == "tts_suite"
    assert list(tasks) == ["gsm8k_tts", "math500_tts", "mbpp_tts", "humaneval_tts", "livecodebench_tts"]
    assert all(task.config.repeats == 2 for task in tasks.values())
    unsafe = {name for name, task in tasks.items() if getattr(task, "UNSAFE_CODE", False)}
    assert unsafe == {"mbpp_tts", "humaneval_tts", "livecodebench_tts"}


@pytest.mark.slow  # about 2 minutes on 2 cores: three tasks through lm_eval
def test_evalplus_tasks_end_to_end_with_a_chat_template(tiny_model_dir, tmp_path):
    """HumanEval, HumanEval+ and MBPP+ through `lm_eval --apply_chat_template`: EvalPlus's chat prompt ending in
    its response prefix, no completion stop strings, one test flag per base + plus input (base first)."""
    from lm_eval_tts.tasks.code_prompts import EVALPLUS_INSTRUCTION

    tasks = ("humaneval_tts", "humaneval_plus_tts", "mbpp_plus_tts")
    proc = lm_eval(
        [
            "--model", "wise_fire",
            "--model_args", f"pretrained={tiny_model_dir},backend=hf",
            "--device", "cpu",
            "--tasks", ",".join(tasks),
            "--limit", "2",
            "--metadata", json.dumps({"repeats": 2}),
            "--gen_kwargs", "max_gen_toks=16",
            "--apply_chat_template",
            "--confirm_run_unsafe_code",
            "--log_samples",
            "--output_path", str(tmp_path / "out"),
        ],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    results, samples = results_and_samples(tmp_path / "out")
    for task in tasks:
        assert 0.0 <= results["results"][task]["pass@2,graded"] <= 1.0 and len(samples[task]) == 2
        for doc in samples[task]:
            (request,) = doc["arguments"].values()
            assert EVALPLUS_INSTRUCTION in request["arg_0"] and request["arg_0"].rstrip().endswith("```python")
            assert request["arg_1"]["until"] == []
            records = [json.loads(r) for r in doc["filtered_resps"][0]]
            assert len(records) == 2 and all(r["program"].startswith(doc["doc"]["prompt"].rstrip()) for r in records)
            if task == "humaneval_tts":
                assert all(len(r["tests_passed"]) == 1 for r in records)  # the check() function
            else:
                assert doc["doc"]["n_base"] >= 1 and all(len(r["tests_passed"]) > doc["doc"]["n_base"] for r in records)
