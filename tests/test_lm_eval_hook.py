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
