"""Lazy, one-tensor-at-a-time access to a Hugging Face safetensors checkpoint (a dir, or a hub id in the local cache).

Tensors are read with plain positioned reads into freshly allocated buffers, straight from the safetensors layout
(an 8-byte little-endian header length, a JSON header of name -> dtype/shape/byte range, then the raw bytes).
Compared with `safetensors.safe_open` this reads about 3x faster here and the buffer is ours to modify in place
(the merge scales it without another allocation). Memory stays at the tensors the caller holds.
"""

from __future__ import annotations

import json
import math
import os
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import torch

from lm_eval_tts.errors import UserError

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"

# safetensors dtype codes <-> torch dtypes.
ST_TO_TORCH = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U64": torch.uint64,
    "U32": torch.uint32,
    "U16": torch.uint16,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
TORCH_TO_ST = {v: k for k, v in ST_TO_TORCH.items()}

if sys.byteorder != "little":  # safetensors stores little-endian bytes; reinterpreting them needs a LE host
    raise ImportError("lm_eval_tts.merge reads safetensors bytes directly and needs a little-endian machine")


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives and what it is, from the safetensors header (no data read)."""

    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]
    file: Path
    start: int  # absolute byte offset in `file`
    nbytes: int


def resolve_checkpoint(ref: str) -> Path:
    """The checkpoint dir for `ref`: an existing dir, or a hub id already in the local HF cache (never the network)."""
    path = Path(ref).expanduser()
    if path.is_dir():
        return path.resolve()
    if path.exists():
        raise UserError(f"checkpoint {ref!r} is a file; pass the checkpoint directory that holds config.json")
    if str(ref).startswith(("/", ".", "~")) or str(ref).count("/") > 1:  # a path, not an "org/name" hub id
        raise UserError(f"checkpoint dir {ref!r} does not exist; pass an existing checkpoint dir or a cached hub id")
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(str(ref), local_files_only=True)).resolve()
    except ValueError:  # HFValidationError: not of the form "name" or "org/name"
        raise UserError(f"checkpoint {ref!r} is neither a dir nor a valid hub id; pass a checkpoint dir") from None
    except OSError:  # LocalEntryNotFoundError (a FileNotFoundError): not in the cache
        raise UserError(
            f"checkpoint {ref!r} is not a directory and not in the local Hugging Face cache; "
            f"pass a checkpoint dir or download it first (hf download {ref})"
        ) from None


def read_header(file: Path) -> dict[str, TensorInfo]:
    with open(file, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        raw_len = f.read(8)
        header_len = struct.unpack("<Q", raw_len)[0] if len(raw_len) == 8 else -1
        if not 0 < header_len <= size - 8:
            raise UserError(f"{file} is not a valid safetensors file (bad header length)")
        raw_header = f.read(header_len)
    try:
        entries = [
            (name, e["dtype"], tuple(map(int, e["shape"])), int(e["data_offsets"][0]), int(e["data_offsets"][1]))
            for name, e in json.loads(raw_header).items()
            if name != "__metadata__"
        ]
    except (ValueError, KeyError, TypeError, AttributeError):  # not JSON, or not the safetensors schema
        raise UserError(f"{file} is not a valid safetensors file (unreadable header)") from None
    data_start = 8 + header_len
    infos = {}
    for name, st_dtype, shape, begin, end in entries:
        dtype = ST_TO_TORCH.get(st_dtype)
        if dtype is None:
            raise UserError(f"tensor {name!r} in {file} has dtype {st_dtype}, which this merge does not support")
        if end - begin != math.prod(shape) * dtype.itemsize:
            raise UserError(f"{file} is corrupt: tensor {name!r} byte range does not match its shape and dtype")
        if data_start + end > size:
            raise UserError(f"{file} is truncated: tensor {name!r} ends past the end of the file")
        infos[name] = TensorInfo(name, dtype, shape, file, data_start + begin, end - begin)
    return infos


class Checkpoint:
    """One input checkpoint: its config and a name -> TensorInfo index over all of its safetensors files."""

    def __init__(self, ref: str):
        self.ref = ref
        self.path = resolve_checkpoint(ref)
        self.config = self._read_config()
        self.tensors = self._index_tensors()

    def _read_config(self) -> dict:
        config_file = self.path / "config.json"
        if not config_file.is_file():
            raise UserError(f"checkpoint {self.ref!r} has no config.json in {self.path}; pass a Hugging Face model dir")
        try:
            return json.loads(config_file.read_text())
        except json.JSONDecodeError as err:
            raise UserError(f"{config_file} is not valid JSON ({err})") from None

    def weight_files(self) -> list[Path]:
        index = self.path / INDEX_NAME
        if index.is_file():
            try:
                weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError):
                raise UserError(f"{index} is not a valid safetensors index (needs a weight_map)") from None
            files = [self.path / name for name in dict.fromkeys(weight_map.values())]
            missing = [f.name for f in files if not f.is_file()]
            if missing:
                raise UserError(f"checkpoint {self.ref!r}: shard {missing[0]} listed in {INDEX_NAME} is missing")
            return files
        if (self.path / SINGLE_NAME).is_file():
            return [self.path / SINGLE_NAME]
        found = sorted(self.path.glob("*.safetensors"))
        if found:
            return found
        raise UserError(
            f"checkpoint {self.ref!r} ({self.path}) has no safetensors weights; re-save it with "
            f"save_pretrained(..., safe_serialization=True)"
        )

    def _index_tensors(self) -> dict[str, TensorInfo]:
        tensors: dict[str, TensorInfo] = {}
        for file in self.weight_files():
            for name, info in read_header(file).items():
                if name in tensors:
                    raise UserError(f"checkpoint {self.ref!r}: tensor {name!r} appears in two shards")
                tensors[name] = info
        return tensors

    def read(self, name: str) -> torch.Tensor:
        """The tensor `name`, in a new buffer owned by the caller."""
        return read_tensor(self.tensors[name])


def read_tensor(info: TensorInfo) -> torch.Tensor:
    buffer = torch.empty(info.nbytes, dtype=torch.uint8)
    with open(info.file, "rb", buffering=0) as f:
        f.seek(info.start)
        view = memoryview(buffer.numpy())
        done = 0
        while done < info.nbytes:
            got = f.readinto(view[done:])
            if not got:
                raise UserError(f"{info.file} is truncated while reading tensor {info.name!r}")
            done += got
    return buffer.view(info.dtype).reshape(info.shape)
