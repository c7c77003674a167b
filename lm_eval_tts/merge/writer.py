"""Write a sharded safetensors checkpoint tensor by tensor, so memory holds one tensor, never a whole shard.

Names, dtypes and shapes are known before any data is computed, so each shard's header (and the index) is laid
out up front and the tensor bytes are appended as they arrive. Layout follows the Hugging Face convention:
`model.safetensors` alone, or `model-0000i-of-0000n.safetensors` plus `model.safetensors.index.json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from lm_eval_tts.errors import UserError
from lm_eval_tts.merge.io import INDEX_NAME, SINGLE_NAME, TORCH_TO_ST

_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "KIB": 2**10, "MIB": 2**20,
          "GIB": 2**30, "TIB": 2**40}


def parse_size(value: int | str) -> int:
    """Bytes from 5000000, "500MB", "5GB" or "2GiB"."""
    if isinstance(value, int):
        size = value
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
        if not match or match.group(2).upper() not in _UNITS:
            raise UserError(f"max_shard_size={value!r} is not a size; write it like 500MB, 5GB or 2GiB")
        size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size <= 0:
        raise UserError(f"max_shard_size={value!r} must be positive")
    return size


@dataclass(frozen=True)
class TensorSlot:
    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]
    nbytes: int


def shard_layout(slots: Sequence[TensorSlot], max_shard_size: int) -> list[list[TensorSlot]]:
    """Greedy split in the given order; a tensor larger than the limit gets a shard of its own."""
    shards: list[list[TensorSlot]] = [[]]
    size = 0
    for slot in slots:
        if shards[-1] and size + slot.nbytes > max_shard_size:
            shards.append([])
            size = 0
        shards[-1].append(slot)
        size += slot.nbytes
    return shards


def shard_file_names(count: int) -> list[str]:
    if count == 1:
        return [SINGLE_NAME]
    return [f"model-{i:05d}-of-{count:05d}.safetensors" for i in range(1, count + 1)]


def shard_header(slots: Sequence[TensorSlot]) -> bytes:
    header: dict = {"__metadata__": {"format": "pt"}}
    offset = 0
    for slot in slots:
        header[slot.name] = {
            "dtype": TORCH_TO_ST[slot.dtype],
            "shape": list(slot.shape),
            "data_offsets": [offset, offset + slot.nbytes],
        }
        offset += slot.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # keep tensor data 8-byte aligned, as the reference writer does
    return len(raw).to_bytes(8, "little") + raw


def write_shards(
    out_dir: Path,
    slots: Sequence[TensorSlot],
    tensors: Iterable[tuple[str, torch.Tensor]],
    max_shard_size: int,
    on_bytes: Callable[[int], None] = lambda n: None,
) -> list[Path]:
    """Stream `tensors` (in `slots` order) into shards under `out_dir`; returns the files written."""
    shards = shard_layout(slots, max_shard_size)
    names = shard_file_names(len(shards))
    stream = iter(tensors)
    written = []
    for shard, file_name in zip(shards, names):
        path = out_dir / file_name
        with open(path, "wb") as f:
            f.write(shard_header(shard))
            for slot in shard:
                name, tensor = next(stream)
                if name != slot.name or tensor.dtype != slot.dtype or tuple(tensor.shape) != slot.shape:
                    raise RuntimeError(f"writer expected {slot}, got {name} {tensor.dtype} {tuple(tensor.shape)}")
                f.write(tensor.contiguous().reshape(-1).view(torch.uint8).numpy())
                on_bytes(slot.nbytes)
        written.append(path)
    if len(shards) > 1:
        weight_map = {slot.name: file_name for shard, file_name in zip(shards, names) for slot in shard}
        index = {"metadata": {"total_size": sum(s.nbytes for s in slots)}, "weight_map": weight_map}
        (out_dir / INDEX_NAME).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
        written.append(out_dir / INDEX_NAME)
    return written
