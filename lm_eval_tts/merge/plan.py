"""Check that checkpoints can be merged and decide, from headers and configs only, what the output holds.

Everything a merge could trip over (architecture, vocab size, missing/extra tensors, shapes, dtypes, tied
embeddings) is found here, before any tensor data is read, and reported as one UserError naming the culprit.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import torch

from lm_eval_tts.errors import UserError
from lm_eval_tts.merge.io import Checkpoint, TensorInfo
from lm_eval_tts.merge.spec import MergeSpec

# Config fields that must agree for a weighted sum of the weights to mean anything (checked at the top level and
# in a nested text_config; a field absent from either side is not compared).
ARCHITECTURE_FIELDS = (
    "architectures",
    "model_type",
    "vocab_size",
    "hidden_size",
    "intermediate_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
)
OUTPUT_EMBEDDING = "lm_head.weight"


@dataclass(frozen=True)
class PlannedTensor:
    """One output tensor: its HF checkpoint name, and where to read it in each input (spec order)."""

    name: str
    shape: tuple[int, ...]
    out_dtype: torch.dtype
    sources: tuple[TensorInfo, ...]

    @property
    def is_float(self) -> bool:
        return self.out_dtype.is_floating_point

    @property
    def out_nbytes(self) -> int:
        return math.prod(self.shape) * self.out_dtype.itemsize


@dataclass(frozen=True)
class MergePlan:
    spec: MergeSpec
    checkpoints: tuple[Checkpoint, ...]
    tensors: tuple[PlannedTensor, ...]
    config: dict  # config.json of the output: the first checkpoint's, with dtype (and tying, if needed) updated

    @property
    def total_bytes(self) -> int:
        return sum(t.out_nbytes for t in self.tensors)


def plan_merge(spec: MergeSpec) -> MergePlan:
    checkpoints = tuple(Checkpoint(ref) for ref in spec.checkpoints)
    first = checkpoints[0]
    for other in checkpoints[1:]:
        _check_configs(first, other)
    sources, untie = _tensor_sources(checkpoints)
    for other, names in zip(checkpoints[1:], sources[1:]):
        _check_same_names(first, sources[0], other, names)
    tensors = []
    for name in sources[0]:
        infos = tuple(names[name] for names in sources)
        _check_compatible(name, infos, checkpoints)
        tensors.append(PlannedTensor(name, infos[0].shape, _output_dtype(infos[0].dtype, spec.dtype), infos))
    # Non-float tensors first: a mismatch among them (found only by reading them) then stops a stream before it
    # has produced any float tensor. The rest in file order, for sequential reads.
    tensors.sort(key=lambda t: (t.is_float, str(t.sources[0].file), t.sources[0].start))
    return MergePlan(spec, checkpoints, tuple(tensors), _output_config(first.config, spec.dtype, untie))


def _check_configs(first: Checkpoint, other: Checkpoint) -> None:
    for scope in (None, "text_config"):
        a = first.config if scope is None else first.config.get(scope)
        b = other.config if scope is None else other.config.get(scope)
        if not isinstance(a, dict) or not isinstance(b, dict):
            continue
        for field in ARCHITECTURE_FIELDS:
            if field in a and field in b and a[field] != b[field]:
                where = field if scope is None else f"{scope}.{field}"
                raise UserError(
                    f"config field {where} differs: {a[field]!r} in {first.ref} but {b[field]!r} in {other.ref}; "
                    f"only checkpoints of the same architecture can be merged"
                )


def _is_tied(checkpoint: Checkpoint) -> bool:
    """Tied when the output embedding is not stored, or the config says loaders ignore it and reuse the input one."""
    return OUTPUT_EMBEDDING not in checkpoint.tensors or checkpoint.config.get("tie_word_embeddings") is True


def _tensor_sources(checkpoints: tuple[Checkpoint, ...]) -> tuple[list[dict[str, TensorInfo]], bool]:
    """Per checkpoint, output name -> stored tensor, and whether the output must be untied.

    All tied: the output is tied too and any stored copy of lm_head.weight is dropped (loaders ignore it).
    Some untied: the output stores lm_head.weight; tied inputs contribute their input embedding in its place.
    """
    tied = [_is_tied(c) for c in checkpoints]
    has_head = any(OUTPUT_EMBEDDING in c.tensors for c in checkpoints)
    if all(tied) or not has_head:
        return [{n: t for n, t in c.tensors.items() if n != OUTPUT_EMBEDDING} for c in checkpoints], False
    head_shape = next(c.tensors[OUTPUT_EMBEDDING].shape for c, t in zip(checkpoints, tied) if not t)
    sources = []
    for checkpoint, is_tied in zip(checkpoints, tied):
        names = dict(checkpoint.tensors)
        if is_tied:
            names[OUTPUT_EMBEDDING] = names[_input_embedding(checkpoint, head_shape)]
        sources.append(names)
    return sources, True


def _input_embedding(checkpoint: Checkpoint, shape: tuple[int, ...]) -> str:
    candidates = [
        n for n, t in checkpoint.tensors.items() if "embed" in n and t.shape == shape and n != OUTPUT_EMBEDDING
    ]
    if len(candidates) != 1:
        raise UserError(
            f"checkpoint {checkpoint.ref} ties its word embeddings but others do not, and its input embedding "
            f"tensor cannot be identified (candidates: {candidates}); save it untied (tie_word_embeddings=false, "
            f"with lm_head.weight)"
        )
    return candidates[0]


def _check_same_names(first: Checkpoint, a: dict, other: Checkpoint, b: dict) -> None:
    missing = sorted(set(a) - set(b))
    extra = sorted(set(b) - set(a))
    if missing:
        raise UserError(
            f"tensor {missing[0]!r} is in {first.ref} but missing from {other.ref} ({len(missing)} missing in all); "
            f"only checkpoints of the same architecture can be merged"
        )
    if extra:
        raise UserError(
            f"tensor {extra[0]!r} is in {other.ref} but not in {first.ref} ({len(extra)} extra in all); "
            f"only checkpoints of the same architecture can be merged"
        )


def _check_compatible(name: str, infos: tuple[TensorInfo, ...], checkpoints: tuple[Checkpoint, ...]) -> None:
    ref = infos[0]
    for info, checkpoint in zip(infos[1:], checkpoints[1:]):
        if info.shape != ref.shape:
            raise UserError(
                f"tensor {name!r} has shape {list(ref.shape)} in {checkpoints[0].ref} but {list(info.shape)} in "
                f"{checkpoint.ref}; only checkpoints of the same architecture can be merged"
            )
        # Floats of different precisions are fine (the sum is taken in float32); anything else must match exactly.
        if info.dtype != ref.dtype and not (info.dtype.is_floating_point and ref.dtype.is_floating_point):
            raise UserError(
                f"tensor {name!r} is {ref.dtype} in {checkpoints[0].ref} but {info.dtype} in {checkpoint.ref}; "
                f"non-float tensors must have the same dtype in every checkpoint"
            )


def _output_dtype(stored: torch.dtype, requested: str) -> torch.dtype:
    if not stored.is_floating_point or requested == "auto":
        return stored
    return getattr(torch, requested)


def _output_config(config: dict, dtype: str, untie: bool) -> dict:
    out = copy.deepcopy(config)
    if dtype != "auto":
        keys = [k for k in ("dtype", "torch_dtype") if k in out] or ["dtype"]
        for key in keys:
            out[key] = dtype
    if untie:
        out["tie_word_embeddings"] = False
    return out
