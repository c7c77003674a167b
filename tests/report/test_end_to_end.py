"""The user's path: `lm_eval --model wise_fire ... --log_samples` runs that produce the selection, verifier and
compute keys on real tasks, then `lm-eval-tts report` tables and plots from them.

Tiny random model on the transformers backend (fast); the bundled SmolLM2 in one slow test on real GSM8K problems.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.report.test_plots import assert_readable_png

LM_EVAL = str(Path(sys.executable).parent / "lm_eval")  # the console script, as users run it
ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
SELECTION_KEYS = ("majtop@{k}", "bontop@{k}_logprob", "bom@{k}_logprob")


def lm_eval(model_dir, output: Path, task: str, fire: bool, *extra: str) -> Path:
    command = [LM_EVAL, "--model", "wise_fire", "--model_args",
               f"pretrained={model_dir},backend=hf,seed=1,fire={fire}", "--device", "cpu", "--tasks", task,
               "--log_samples", "--output_path", str(output), *extra]
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=output.parent, timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    (results,) = output.rglob("results_*.json")
    return results


def report(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "lm_eval_tts.cli", "report", *args], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_bad_metric_option_is_one_line_before_the_model_loads(tiny_model_dir, tmp_path):
    command = [LM_EVAL, "--model", "wise_fire", "--model_args", f"pretrained={tiny_model_dir},backend=hf",
               "--tasks", "gsm8k_tts", "--limit", "1", "--metadata", '{"repeats": 4, "bom_treshold": 0.2}',
               "--output_path", str(tmp_path / "out")]
    done = subprocess.run(command, capture_output=True, text=True, env=ENV, cwd=tmp_path, timeout=600)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().splitlines()[-1] == (
        "lm_eval: error: unknown task option 'bom_treshold' (did you mean 'bom_threshold'?); metric options: "
        "bom_threshold, bom_samples, fp_cost")
    assert "Initializing wise_fire model" not in done.stderr  # the tasks were checked first


@pytest.fixture(scope="module")
def gsm8k_runs(tiny_model_dir, tmp_path_factory):
    base = tmp_path_factory.mktemp("e2e_gsm8k")
    return [lm_eval(tiny_model_dir, base / f"fire_{fire}", "gsm8k_tts", fire, "--limit", "4", "--gen_kwargs",
                    "max_gen_toks=8", "--metadata", '{"repeats": 4, "bom_threshold": 0.25}')
            for fire in (False, True)]


@pytest.mark.slow
def test_reasoning_runs_record_selection_and_compute_keys(gsm8k_runs):
    for path in gsm8k_runs:
        results = json.loads(path.read_text())["results"]["gsm8k_tts"]
        for filter_name in ("strict-match", "flexible-extract"):
            for k in (1, 2, 4):
                for key in SELECTION_KEYS:
                    value = results[f"{key.format(k=k)},{filter_name}"]
                    assert 0.0 <= value <= 1.0
                    assert isinstance(results[f"{key.format(k=k)}_stderr,{filter_name}"], float)
            assert 1.0 <= results[f"tokens_per_sample,{filter_name}"] <= 8.0  # max_gen_toks=8
        (samples_file,) = path.parent.glob("samples_gsm8k_tts_*.jsonl")
        for line in samples_file.read_text().splitlines():
            entry = json.loads(line)
            records = [json.loads(r) for r in entry["filtered_resps"][0]]
            assert all(1 <= r["tokens"] <= 8 for r in records)
            assert entry["tokens_per_sample"] == sum(r["tokens"] for r in records) / 4


@pytest.mark.slow
def test_report_compares_fire_with_regular_and_draws_every_view(gsm8k_runs, tmp_path):
    done = report(*(str(p) for p in gsm8k_runs), "--plot", str(tmp_path))
    assert "bom@k by logprob (Best-of-Majority" in done.stdout
    for filter_name in ("strict-match", "flexible-extract"):
        assert (f"paired: gsm8k_tts [{filter_name}], fire=True [hf] minus fire=False [hf] on 4 shared problems"
                in done.stdout)
    names = sorted(p.name for p in tmp_path.iterdir())
    for filter_name in ("strict-match", "flexible-extract"):
        for kind in ("scaling", "paired", "compute", "pass1_hist"):
            assert f"gsm8k_tts_{filter_name}_{kind}.png" in names
    for name in names:
        assert_readable_png(tmp_path / name, min_width=500)


@pytest.mark.slow
def test_code_run_reports_weak_and_strong_tests_and_votes_over_behaviours(tiny_model_dir, tmp_path):
    path = lm_eval(tiny_model_dir, tmp_path / "out", "mbpp_plus_tts", False, "--limit", "2", "--gen_kwargs",
                   "max_gen_toks=16", "--confirm_run_unsafe_code", "--metadata", '{"repeats": 2, "fp_cost": 2}')
    results = json.loads(path.read_text())["results"]["mbpp_plus_tts"]
    for key in ("pass@2_weak", "utility@2", "resampling_limit", "maj@2", "majtop@1", "bom@1_logprob",
                "num_distinct_answers", "tokens_per_sample"):
        assert isinstance(results[f"{key},graded"], float), key
    assert "resampling_best_k,graded" in results and "false_positive_rate,graded" in results
    (samples_file,) = path.parent.glob("samples_mbpp_plus_tts_*.jsonl")
    for line in samples_file.read_text().splitlines():
        for record in map(json.loads, json.loads(line)["filtered_resps"][0]):
            assert isinstance(record["weak_passed"], bool) and "behaviour" in record
    done = report(str(path), "--plot", str(tmp_path / "plots"))
    assert "verifier false positives" in done.stdout
    assert "| mbpp_plus_tts [graded] |" in done.stdout.split("verifier false positives")[1]
    assert (tmp_path / "plots" / "mbpp_plus_tts_verifier.png").is_file()


@pytest.mark.slow
def test_smollm2_fire_vs_regular_on_real_gsm8k_problems(smollm2_dir, tmp_path):
    """The bundled model, two real runs, the whole report: paired differences and pool of the two settings."""
    runs = [lm_eval("smollm2-135m-instruct", tmp_path / f"fire_{fire}", "gsm8k_tts", fire, "--limit", "3",
                    "--apply_chat_template", "--gen_kwargs", "max_gen_toks=64", "--metadata", '{"repeats": 4}')
            for fire in (False, True)]
    done = report(*(str(p) for p in runs), "--pool", "--plot", str(tmp_path / "plots"))
    assert "paired: gsm8k_tts [flexible-extract], fire=True [hf] minus fire=False [hf] on 3 shared" in done.stdout
    assert "pool: gsm8k_tts [flexible-extract], 2 runs under one sample budget k on 3 shared problems" in done.stdout
    for path in runs:
        results = json.loads(path.read_text())["results"]["gsm8k_tts"]
        assert 1.0 <= results["num_distinct_first_tokens,flexible-extract"] <= 4.0
        assert 0.0 <= results["bom@1_logprob,flexible-extract"] <= 1.0
        assert 20 <= results["tokens_per_sample,flexible-extract"] <= 64
    assert (tmp_path / "plots" / "gsm8k_tts_flexible-extract_pool.png").is_file()
