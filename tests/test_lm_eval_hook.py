"""Plain `lm_eval` sees wise_fire and the *_tts tasks; lm-eval's own models still load; the hook is cheap."""

import re
import subprocess
import sys


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout


def test_hook_import_cost_under_20ms():
    """-X importtime reports what the .pth hook adds to every interpreter start (cumulative microseconds)."""
    best = min(_hook_import_us() for _ in range(5))
    assert 0 < best < 20_000, best


def _hook_import_us() -> int:
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "pass"], check=True, capture_output=True,
                         text=True).stderr
    match = re.search(r"import time:\s+\d+ \|\s+(\d+) \|\s+lm_eval_tts\._lm_eval_hook$", err, re.M)
    assert match, "the lm_eval_tts .pth hook did not run: is the package installed (pip install -e .)?"
    return int(match.group(1))  # cumulative: includes the lm_eval_tts package it imports


def test_builtin_and_plugin_models_are_registered():
    out = _run(
        "from lm_eval.api.registry import get_model\n"
        "print(get_model('wise_fire').__module__)\n"
        "print(get_model('hf').__name__, get_model('dummy').__name__)\n"
    )
    assert out.split() == ["lm_eval_tts.models.wise_fire", "HFLM", "DummyLM"]


def test_plugin_tasks_are_found_by_name_and_include_path_still_works(tmp_path):
    (tmp_path / "mine.yaml").write_text("task: my_extra_task\ndataset_path: json\noutput_type: generate_until\n"
                                        "doc_to_text: x\ndoc_to_target: y\n")
    out = _run(
        "from lm_eval.tasks import TaskManager\n"
        f"tm = TaskManager(include_path={str(tmp_path)!r})\n"
        "names = set(tm.all_tasks)\n"
        "print(all(t in names for t in ['gsm8k_tts', 'math500_tts', 'mbpp_tts', 'livecodebench_tts', "
        "'my_extra_task', 'gsm8k']))\n"
    )
    assert out.strip() == "True"


def test_entry_point_declared():
    out = _run(
        "from importlib.metadata import entry_points\n"
        "print([e.value for e in entry_points(group='lm_eval.models') if e.name == 'wise_fire'])\n"
    )
    assert "lm_eval_tts.models.wise_fire:WiseFireLM" in out


def _only_error(proc) -> str:
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lm_eval: error: "), proc.stderr[-3000:]
    return lines[0]


# An engine that would fail to start (vLLM's reservation of 99% of the memory): if lm-eval built the model first,
# as it does for other models, the error would be the engine's.
FAILING_ENGINE = "backend=vllm,enforce_eager=True,gpu_memory_utilization=0.99"


def test_task_options_are_checked_before_the_model_is_built(tiny_model_dir, tmp_path, lm_eval_cli):
    proc = lm_eval_cli(["--model", "wise_fire", "--model_args", f"pretrained={tiny_model_dir},{FAILING_ENGINE}",
                        "--tasks", "gsm8k_tts", "--limit", "1", "--metadata", '{"repeats": 2, "ks": [4]}'],
                       tmp_path, quiet=True)
    assert "task option ks=[4]: k=4 needs at least 4 samples per problem but repeats=2" in _only_error(proc)


def test_dataset_missing_offline_is_one_line_before_the_model_is_built(tiny_model_dir, tmp_path, lm_eval_cli,
                                                                       monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty-hf-home"))  # nothing cached: lm-eval's gsm8k needs the hub
    proc = lm_eval_cli(["--model", "wise_fire", "--model_args", f"pretrained={tiny_model_dir},{FAILING_ENGINE}",
                        "--tasks", "gsm8k", "--limit", "1"], tmp_path, quiet=True)
    error = _only_error(proc)
    assert "dataset is not available: Couldn't reach 'openai/gsm8k' on the Hub" in error
    assert "--tasks gsm8k_tts instead of gsm8k" in error


def test_code_task_without_confirmation_is_one_line_before_the_model_is_built(tiny_model_dir, tmp_path, lm_eval_cli):
    proc = lm_eval_cli(["--model", "wise_fire", "--model_args", f"pretrained={tiny_model_dir},{FAILING_ENGINE}",
                        "--tasks", "mbpp_plus_tts", "--limit", "1"], tmp_path, quiet=True)
    error = _only_error(proc)
    assert "mbpp_plus_tts runs model-written code" in error and "add --confirm_run_unsafe_code" in error
