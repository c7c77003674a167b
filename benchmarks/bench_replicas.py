"""Data parallelism on Ray: generated tokens/s with 2 replicas vs 1, and what a Ray actor call costs per request batch.

    python benchmarks/bench_replicas.py [--models smollm2|tiny] [--prompts 16] [--n 8] [--max-new-tokens 128]

Real GSM8K problems (task_configs/gsm8k/data) through the model's chat template, n samples each, temperature 0.7,
on a local Ray started here with all cores. Three engines in turn, each timed on the same requests (after one
warm-up call):
  direct      one VLLMEngine in this process (what data_parallel_size=1 runs), on all cores
  1 replica   the same engine inside one Ray actor given all cores (ReplicaEngine forced onto Ray with 1 replica)
  2 replicas  data_parallel_size=2: two actors, each pinned to its own half of the cores
Ray's cost per request batch = the driver's wall time of a `generate` minus the seconds the replicas spent inside
their engines (measured in the actor, around the very call), per actor call (one call per chunk of requests); it is
also shown for a batch of 8 one-token requests, where nothing hides it. The samples of all three must be identical
(same seeds), which is checked.

smollm2: SmolLM2-135M-Instruct (the bundled model), fp32. tiny: the 6.6M-parameter random test model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
ENGINE_ARGS = dict(dtype="float32", max_model_len=2048, enforce_eager=True, kv_cache_memory_bytes=2 * 2 ** 30)


def model_dir(which: str) -> Path:
    if which == "tiny":
        sys.path.insert(0, str(ROOT))
        from tests.model_builders import tiny_llama_dir

        return tiny_llama_dir(seed=0)
    from lm_eval_tts.models.embedded import embedded_model_dir

    return embedded_model_dir()


def gsm8k_requests(tokenizer, prompts: int, n: int, max_new_tokens: int):
    from lm_eval_tts.engines.base import GenRequest, SamplingSettings, derive_seed
    from lm_eval_tts.paths import task_configs_dir

    lines = (task_configs_dir() / "gsm8k" / "data" / "gsm8k_test.jsonl").read_text().splitlines()[:prompts]
    settings = SamplingSettings(max_new_tokens=max_new_tokens, temperature=0.7)
    requests = []
    for line in lines:
        question = json.loads(line)["question"] + "\nPlease reason step by step."
        text = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                             add_generation_prompt=True)
        ids = tuple(tokenizer(text, add_special_tokens=False)["input_ids"])
        requests.append(GenRequest(ids, n, settings, seed=derive_seed("bench", line)))
    return requests


def tokens(results) -> int:
    return sum(len(sample.token_ids) for group in results for sample in group)


def timed(engine, requests):
    started = time.perf_counter()
    results = engine.generate(requests, None)
    return results, time.perf_counter() - started


def ray_cost(engine, requests) -> tuple[float, float, int, list]:
    """(wall s, s inside the engines, actor calls, results) of one generate on a ReplicaEngine."""
    before = {s["index"]: (s["items"], s["busy_seconds"]) for s in engine.replicas.stats()}
    results, wall = timed(engine, requests)
    after = engine.replicas.stats()
    calls = sum(s["items"] - before[s["index"]][0] for s in after)
    busy = sum(s["busy_seconds"] - before[s["index"]][1] for s in after)
    return wall, busy, calls, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", choices=("smollm2", "tiny"), default="smollm2")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    args = parser.parse_args()

    import ray
    from transformers import AutoTokenizer

    from lm_eval_tts.engines.base import GenRequest, SamplingSettings
    from lm_eval_tts.engines.replicas import ReplicaEngine, ReplicaOptions, connect_ray
    from lm_eval_tts.engines.vllm import VLLMEngine

    path = model_dir(args.models)
    tokenizer = AutoTokenizer.from_pretrained(path)
    requests = gsm8k_requests(tokenizer, args.prompts, args.n, args.max_new_tokens)
    probe = [GenRequest(r.prompt_ids, 1, SamplingSettings(max_new_tokens=1, temperature=0.7), seed=r.seed)
             for r in requests[:8]]
    print(f"{path.name}: {len(requests)} GSM8K prompts x n={args.n} x up to {args.max_new_tokens} tokens; "
          f"{os.cpu_count()} cores", flush=True)
    connect_ray(None)
    rows, samples, cost = [], {}, {}
    try:
        started = time.perf_counter()
        direct = VLLMEngine(str(path), tokenizer, seed=0, engine_kwargs=dict(ENGINE_ARGS), progress=False)
        print(f"direct: engine start {time.perf_counter() - started:.1f} s", flush=True)
        timed(direct, requests[:2])
        samples["direct"], seconds = timed(direct, requests)
        rows.append(("direct", seconds, tokens(samples["direct"])))
        _, cost["direct probe"] = timed(direct, probe)
        direct.close()
        for replicas in (1, 2):
            started = time.perf_counter()
            options = ReplicaOptions(replicas, cpus=max(1, os.cpu_count() // replicas))
            engine = ReplicaEngine(path, path, options, seed=0, engine_kwargs=dict(ENGINE_ARGS), progress=False)
            print(f"{replicas} replica(s): start {time.perf_counter() - started:.1f} s", flush=True)
            timed(engine, requests[:2])
            wall, busy, calls, samples[replicas] = ray_cost(engine, requests)
            rows.append((f"{replicas} replica{'s' if replicas > 1 else ''}", wall, tokens(samples[replicas])))
            if replicas == 1:  # its calls run one after another, so wall - busy is what Ray adds
                cost["batch"] = (wall, busy, calls)
                cost["probe"] = ray_cost(engine, probe)[:3]
            engine.close()
    finally:
        ray.shutdown()

    base = rows[0][2] / rows[0][1]
    print(f"\n{'engine':<12}{'wall s':>9}{'tokens':>9}{'tok/s':>9}{'vs direct':>11}")
    for name, seconds, count in rows:
        print(f"{name:<12}{seconds:>9.1f}{count:>9}{count / seconds:>9.1f}{count / seconds / base:>10.2f}x")
    one, two = rows[1][2] / rows[1][1], rows[2][2] / rows[2][1]
    print(f"2 replicas / 1 replica: {two / one:.2f}x tokens/s")
    print("Ray's cost per actor call (1 replica: driver wall time - time inside the engine, per call):")
    for label, (wall, busy, calls) in (("full batch", cost["batch"]), ("8 one-token requests", cost["probe"])):
        print(f"  {label}: {(wall - busy) / calls * 1000:.1f} ms per call ({calls} calls; wall {wall:.3f} s, "
              f"in engine {busy:.3f} s)")
    print(f"  8 one-token requests, direct engine call: {cost['direct probe']:.3f} s")
    same = [[s.token_ids for s in g] for g in samples["direct"]]
    print("identical samples (direct, 1 replica, 2 replicas):",
          all([[s.token_ids for s in g] for g in samples[k]] == same for k in (1, 2)))


if __name__ == "__main__":
    main()
