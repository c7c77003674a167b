"""Synthetic safetensors checkpoints for merge tests, written with the safetensors library (not our writer)."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 16, "hidden_size": 8,
          "tie_word_embeddings": False, "dtype": "float32"}


def write_checkpoint(path: Path, tensors: dict[str, torch.Tensor], config: dict | None = None,
                     shards: list[list[str]] | None = None, side_files: dict[str, str] | None = None) -> Path:
    """A checkpoint dir; `shards` lists tensor names per shard (with an index), else one model.safetensors."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config or CONFIG))
    for name, text in (side_files or {}).items():
        (path / name).write_text(text)
    if shards is None:
        save_file(tensors, path / "model.safetensors", metadata={"format": "pt"})
        return path
    weight_map = {}
    for i, names in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file({n: tensors[n] for n in names}, path / file, metadata={"format": "pt"})
        weight_map.update({n: file for n in names})
    assert set(weight_map) == set(tensors)
    (path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return path


def load_dir(path: Path) -> dict[str, torch.Tensor]:
    """Every tensor of a checkpoint dir, read with the safetensors library."""
    out = {}
    for file in sorted(Path(path).glob("*.safetensors")):
        with safe_open(file, "pt") as f:
            for name in f.keys():
                assert name not in out
                out[name] = f.get_tensor(name)
    return out


def random_tensors(seed: int, dtype=torch.float32) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = {"model.embed_tokens.weight": (16, 8), "model.layers.0.mlp.weight": (8, 24),
              "model.layers.0.norm.weight": (8,), "model.layers.1.mlp.weight": (24, 8), "lm_head.weight": (16, 8),
              "model.scale": ()}
    tensors = {n: (torch.randn(s, generator=g) * 3).to(dtype) for n, s in shapes.items()}
    tensors["model.position_ids"] = torch.arange(12, dtype=torch.int64)
    return tensors
