"""A 5-alpha `lm-eval-tts sweep` (one engine, weights swapped in place) vs 5 separate `lm_eval --model wise_fire` runs.

Both sides are subprocesses with the same checkpoints, tasks, limit, sampling and seeds; wall time of each command
is measured from the outside. The separate runs use an empty merge cache (LM_EVAL_TTS_CACHE in a temp dir), as
a first evaluation of those alphas would: each merges its checkpoint to disk, then starts vLLM on it. Afterwards
the per-alpha metrics of both sides are printed next to each other, with how many of the sampled responses are
identical (same seeds and the same weights, so all of them should be: the swap is exact).

    python benchmarks/bench_sweep.py [--models smollm2|tiny] [--limit 2] [--repeats 4] [--max_gen_toks 64]

smollm2: SmolLM2-135M-Instruct (the embedded model) and the perturbed copy built by bench_merge.py.
tiny: the 6.6M-parameter random test models (tests/model_builders.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
TASK = "gsm8k_tts"
METRICS = ("pass@1", "pass@4")


def checkpoints(which: str) -> tuple[Path, Path]:
    """(late, early) checkpoint dirs."""
    if which == "tiny":
        sys.path.insert(0, str(ROOT))
        from tests.model_builders import tiny_llama_dir

        return tiny_llama_dir(seed=0), tiny_llama_dir(seed=1)
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_merge import perturbed_copy

    from lm_eval_tts.cache_dir import cache_root
    from lm_eval_tts.models.embedded import embedded_model_dir

    late = embedded_model_dir()
    return late, perturbed_copy(late, cache_root() / "bench-merge" / "smollm2-135m-instruct-perturbed")


def timed(cmd: list[str], env: dict, log: Path) -> float:
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=log.parent)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"failed ({proc.returncode}): {' '.join(cmd)}\n{log.read_text()[-3000:]}")
    return seconds


def pass_metrics(results_dir: Path) -> dict[str, float]:
    [path] = results_dir.rglob("results_*.json")
    metrics = json.loads(path.read_text())["results"][TASK]
    return {m: metrics[f"{m},strict-match"] for m in METRICS}


def responses(results_dir: Path) -> list[str]:
    """Every sampled response, in doc order."""
    [path] = results_dir.rglob(f"samples_{TASK}_*.jsonl")
    docs = sorted((json.loads(line) for line in path.read_text().splitlines()), key=lambda doc: doc["doc_id"])
    docs = [doc for doc in docs if doc["filter"] == "strict-match"]  # one logged sample per doc and filter
    return [response for doc in docs for response in doc["resps"][0]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", choices=("smollm2", "tiny"), default="smollm2")
    parser.add_argument("--limit", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--max_gen_toks", type=int, default=64)
    args = parser.parse_args()

    late, early = checkpoints(args.models)
    bin_dir = Path(sys.executable).parent
    engine_args = "dtype=float32,max_model_len=1024,enforce_eager=True,seed=1"
    common = ["--tasks", TASK, "--limit", str(args.limit), "--metadata", json.dumps({"repeats": args.repeats}),
              "--gen_kwargs", f"max_gen_toks={args.max_gen_toks}", "--log_samples"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    work = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    print(f"models: {args.models} (late {late}, early {early}); {len(ALPHAS)} alphas {ALPHAS}; {TASK} "
          f"limit {args.limit}, repeats {args.repeats}, max_gen_toks {args.max_gen_toks}; work dir {work}")

    separate_env = dict(env, LM_EVAL_TTS_CACHE=str(work / "merge-cache"))
    separate_seconds = 0.0
    for alpha in ALPHAS:
        out = work / f"separate-{alpha:g}"
        out.mkdir()
        seconds = timed([str(bin_dir / "lm_eval"), "--model", "wise_fire", "--model_args",
                         f"pretrained={late},base={early},alpha={alpha},backend=vllm,{engine_args}",
                         *common, "--output_path", str(out)], separate_env, out / "log.txt")
        print(f"  lm_eval alpha={alpha:g}: {seconds:.1f} s", flush=True)
        separate_seconds += seconds

    sweep_out = work / "sweep"
    sweep_out.mkdir()
    sweep_seconds = timed([str(bin_dir / "lm-eval-tts"), "sweep", "--pretrained", str(late), "--base", str(early),
                           "--alphas", ",".join(f"{a:g}" for a in ALPHAS), "--model_args", engine_args, *common,
                           "--output_path", str(sweep_out)], env, sweep_out / "log.txt")

    print(f"\n{'':24}{'wall time':>12}")
    print(f"{'5 x lm_eval (baseline)':24}{separate_seconds:>10.1f} s")
    print(f"{'lm-eval-tts sweep (ours)':24}{sweep_seconds:>10.1f} s")
    print(f"ratio baseline / sweep: {separate_seconds / sweep_seconds:.2f}x (goal >= 3x)\n")
    print(f"{'alpha':>6}  " + "  ".join(f"{m + ' lm_eval':>15}{m + ' sweep':>13}" for m in METRICS)
          + f"{'identical responses':>22}")
    for alpha in ALPHAS:
        separate, swept = work / f"separate-{alpha:g}", sweep_out / f"alpha_{alpha:g}"
        a, b = pass_metrics(separate), pass_metrics(swept)
        same = sum(x == y for x, y in zip(responses(separate), responses(swept)))
        print(f"{alpha:>6g}  " + "  ".join(f"{a[m]:>15.3f}{b[m]:>13.3f}" for m in METRICS)
              + f"{f'{same} of {len(responses(swept))}':>22}")


if __name__ == "__main__":
    main()
