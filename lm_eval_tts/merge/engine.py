"""The merge itself: theta = sum_i w_i * theta_i, tensor by tensor, in float32, cast to the requested dtype.

`iter_merged_tensors` yields (HF checkpoint name, tensor) pairs, holding only the inputs of the current tensor,
so the same stream can fill a model in memory, a vLLM worker's `load_weights`, or shards on disk.

Exactness: inputs whose tensor is bit-identical are summed as one term with the exact sum of their weights (so a
model merged with itself, or a tensor frozen during fine-tuning, comes back unchanged when the weights sum to 1),
inputs with weight 0 are never read, and every product and sum is a separate IEEE float32 operation (no fused
multiply-add), so results equal a plain float32 reference computation bit for bit.
"""

from __future__ import annotations

import errno
import json
import math
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from lm_eval_tts.errors import UserError
from lm_eval_tts.merge.io import INDEX_NAME, read_tensor
from lm_eval_tts.merge.plan import MergePlan, PlannedTensor, plan_merge
from lm_eval_tts.merge.spec import MergeSpec
from lm_eval_tts.merge.writer import TensorSlot, parse_size, write_shards
from lm_eval_tts.staging import apply_umask, staging_dir

MANIFEST_NAME = "lm_eval_tts_merge.json"
# Written by us into every output dir, so never copied over from the first checkpoint.
_GENERATED = {"config.json", INDEX_NAME, MANIFEST_NAME}
_WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".gguf", ".onnx", ".index.json")


def iter_merged_tensors(spec: MergeSpec | MergePlan) -> Iterator[tuple[str, torch.Tensor]]:
    plan = spec if isinstance(spec, MergePlan) else plan_merge(spec)
    for planned in plan.tensors:
        yield planned.name, merge_tensor(planned, plan.spec.weights, plan.spec.checkpoints)


def merged_state_dict(spec: MergeSpec | MergePlan) -> dict[str, torch.Tensor]:
    """The whole merged model in memory (e.g. for a transformers model's load_state_dict)."""
    with single_torch_thread():
        return dict(iter_merged_tensors(spec))


@contextmanager
def single_torch_thread():
    """Run torch ops on one thread for the duration: the merge's elementwise ops are memory-bound, and on a busy
    machine torch's OpenMP workers waiting for each other made them ~10x slower (SmolLM2-135M multiply-add on
    2 loaded cores: 7.3 s with 2 threads, 0.6 s with 1)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def merge_tensor(planned: PlannedTensor, weights: tuple[float, ...], refs: tuple[str, ...]) -> torch.Tensor:
    if not planned.is_float:
        return _identical_tensor(planned, refs)
    groups: list[tuple[list[float], torch.Tensor]] = []
    for weight, info in zip(weights, planned.sources):
        if weight == 0.0:
            continue
        tensor = read_tensor(info)
        for group_weights, seen in groups:
            if _same_bits(seen, tensor):
                group_weights.append(weight)
                break
        else:
            groups.append(([weight], tensor))
    terms = [(math.fsum(group_weights), tensor) for group_weights, tensor in groups]
    if len(terms) == 1 and terms[0][0] == 1.0:
        return terms[0][1].to(planned.out_dtype)  # a single input, unchanged: no float32 round trip
    return weighted_sum(terms, planned.out_dtype)


CHUNK_ELEMENTS = 1 << 18  # 1 MiB of float32: the per-chunk temporaries stay in cache


def weighted_sum(terms: list[tuple[float, torch.Tensor]], out_dtype: torch.dtype) -> torch.Tensor:
    """sum_i w_i * x_i in float32, chunk by chunk, cast to `out_dtype`; consumes the `x_i` (our own buffers).

    Working in chunks keeps float32 temporaries small (a bf16 model never holds a float32 copy of a whole
    tensor) and lets the first input's buffer receive the result when its dtype matches the output.
    """
    first = terms[0][1]
    out = first if first.dtype == out_dtype else torch.empty(first.shape, dtype=out_dtype)
    flat_out = out.reshape(-1)
    flat_terms = [(weight, tensor.reshape(-1)) for weight, tensor in terms]
    for start in range(0, flat_out.numel(), CHUNK_ELEMENTS):
        chunk = slice(start, start + CHUNK_ELEMENTS)
        total = None
        for weight, flat in flat_terms:
            term = flat[chunk].to(torch.float32)  # a view when already float32: scaling it in place is fine
            if weight != 1.0:
                term.mul_(weight)
            total = term if total is None else total.add_(term)
        flat_out[chunk] = total
    return out


def _identical_tensor(planned: PlannedTensor, refs: tuple[str, ...]) -> torch.Tensor:
    first = read_tensor(planned.sources[0])
    for info, ref in zip(planned.sources[1:], refs[1:]):
        if not _same_bits(first, read_tensor(info)):
            raise UserError(
                f"non-float tensor {planned.name!r} differs between {refs[0]} and {ref}; integer/bool tensors "
                f"cannot be averaged, so they must be identical in every checkpoint"
            )
    return first


def _same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.dtype == b.dtype and a.shape == b.shape and torch.equal(_bytes(a), _bytes(b))


def _bytes(t: torch.Tensor) -> torch.Tensor:
    return t.contiguous().reshape(-1).view(torch.uint8)


def merge_to_dir(
    spec: MergeSpec,
    out_dir: str | os.PathLike,
    max_shard_size: int | str = "5GB",
    progress: bool | None = None,
    overwrite: bool = False,
    provenance: dict | None = None,
) -> Path:
    """Write the merged checkpoint (shards, index, config, tokenizer and generation files) to `out_dir`.

    Everything goes to a hidden sibling temp dir first and is renamed into place only when complete, so an
    interrupted merge never leaves a directory at `out_dir`. `progress=None` shows a bar only on a terminal.
    """
    out_dir = Path(out_dir).expanduser().absolute()
    shard_bytes = parse_size(max_shard_size)
    plan = plan_merge(spec)
    if out_dir.resolve() in {c.path for c in plan.checkpoints}:
        raise UserError(f"output {out_dir} is one of the inputs; write the merge to a new dir")
    if out_dir.exists() and not overwrite:
        raise UserError(f"output {out_dir} already exists; choose a new path or pass --force to replace it")
    _make_parent(out_dir.parent)
    _check_free_space(out_dir.parent, plan.total_bytes)
    tmp = None
    try:
        tmp = staging_dir(out_dir)
        with single_torch_thread():
            files = _write_checkpoint(plan, tmp, shard_bytes, progress)
        manifest = {
            "format_version": 1,
            "checkpoints": list(spec.checkpoints),
            "resolved": [str(c.path) for c in plan.checkpoints],
            "weights": list(spec.weights),
            "dtype": spec.dtype,
            "files": {p.name: p.stat().st_size for p in files},
            **(provenance or {}),
        }
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        apply_umask(tmp)
        _rename_into_place(tmp, out_dir, overwrite)
    except OSError as err:
        raise _io_error(err, out_dir, plan.total_bytes) from None
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _write_checkpoint(plan: MergePlan, tmp: Path, shard_bytes: int, progress: bool | None) -> list[Path]:
    from tqdm.auto import tqdm

    slots = [TensorSlot(t.name, t.out_dtype, t.shape, t.out_nbytes) for t in plan.tensors]
    disable = None if progress is None else not progress
    with tqdm(total=plan.total_bytes, unit="B", unit_scale=True, desc="merge", disable=disable) as bar:
        files = write_shards(tmp, slots, iter_merged_tensors(plan), shard_bytes, on_bytes=bar.update)
    source = plan.checkpoints[0].path
    for item in sorted(source.iterdir()):
        if item.is_file() and _is_side_file(item.name):
            shutil.copyfile(item, tmp / item.name)
            files.append(tmp / item.name)
    (tmp / "config.json").write_text(json.dumps(plan.config, indent=2, sort_keys=True) + "\n")
    files.append(tmp / "config.json")
    return files


def _is_side_file(name: str) -> bool:
    """Tokenizer, generation config, chat template, README...: everything top-level except weights and our files."""
    return not name.startswith(".") and name not in _GENERATED and not name.endswith(_WEIGHT_SUFFIXES)


def _make_parent(parent: Path) -> None:
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UserError(f"cannot create output dir under {parent}: a file is in the way; choose another path") from None
    except OSError as err:
        raise UserError(f"cannot create {parent} ({err.strerror}); choose a writable output path") from None


def _check_free_space(parent: Path, needed: int) -> None:
    free = shutil.disk_usage(parent).free
    if free < needed:
        raise UserError(
            f"not enough disk space in {parent}: the merge writes {_gb(needed)} but only {_gb(free)} is free; "
            f"free some space or write elsewhere (-o DIR, or LM_EVAL_TTS_CACHE for the merge cache)"
        )


def _rename_into_place(tmp: Path, out_dir: Path, overwrite: bool) -> None:
    if overwrite and out_dir.exists():
        trash = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.old-", dir=out_dir.parent))
        os.rename(out_dir, trash / out_dir.name)
        os.rename(tmp, out_dir)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.rename(tmp, out_dir)


def _io_error(err: OSError, out_dir: Path, needed: int) -> Exception:
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return UserError(
            f"disk full while writing the merged checkpoint {out_dir} (it needs {_gb(needed)}); nothing was kept; "
            f"free some space or write elsewhere (-o DIR, or LM_EVAL_TTS_CACHE for the merge cache)"
        )
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return UserError(f"cannot write {out_dir} ({err.strerror}); choose a writable output path")
    if isinstance(err, (FileExistsError, IsADirectoryError)) or err.errno == errno.ENOTEMPTY:
        return UserError(f"output {out_dir} appeared while merging; choose a new path or pass --force")
    return err


def _gb(nbytes: int) -> str:
    return f"{nbytes / 1e9:.2f} GB"
