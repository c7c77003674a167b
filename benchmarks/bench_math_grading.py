"""MATH answer grading: lm-eval-tts's MathGrader vs lm-eval's own minerva_math equivalence check, in one run.

    flock /tmp/cpu.lock python benchmarks/bench_math_grading.py [--pairs 2000] [--seed 0] [--workers 2]
                                                               [--skip-pathological]

Data: the benchmark's real (reference, answer) pairs (benchmarks/math_pairs.py): SmolLM2's MATH-500 final answers
(from the cached responses), plus `--pairs` pairs from the full MATH test set: references against a reformatted
equivalent spelling of themselves and against another problem's reference. Both graders see the same pairs:
- baseline: lm_eval.tasks.minerva_math.utils (normalize_final_answer on both sides, then is_equiv: sympy
  parse_latex + simplify under a 5 s SIGALRM), sequential in one process, as lm-eval runs it; its time is the
  sum of its per-pair times (its imports and first call not counted);
- ours: MathGrader (fast paths for certain verdicts, then math-verify in --workers forked workers under a hard
  SIGKILL limit, one parse per distinct answer per worker, pair cache); its time is grade_many's wall time, from
  the first pair to the last verdict (pool start-up, which imports and warms math-verify, not counted).
Both start-up times are printed, with the ratio that counts them on both sides. On a shared machine the load
changes between the two measurements; the script prints the load average.
Recall: the fraction of reformatted (equivalent by construction) pairs judged equivalent. Then a few pathological
answers (power towers, a 50,000-character sum) on both, the baseline capped at --cap seconds per answer by killing
its process (its own in-process alarm does not stop them).

minerva_math needs antlr4-python3-runtime 4.11 (the project's venv has 4.13 for math-verify). Put 4.11 in a
side directory once and point --baseline-path at it:
    pip install --target /work/venvs/antlr411 antlr4-python3-runtime==4.11.0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from math_pairs import MODEL, REFORMATTED, model_pairs, synthetic_pairs
from parity_responses import CACHE, load

from lm_eval_tts.grading.math import MathGrader

PATHOLOGICAL = ["2^{2^{2^{2^{2^{2}}}}}", "9^{9^{9^{9}}}", "10^{10^{10^{10}}}", "+".join(["1"] * 25_000)]

_BASELINE = """
import json, sys, time
start = time.perf_counter()
from lm_eval.tasks.minerva_math.utils import is_equiv, normalize_final_answer
is_equiv(normalize_final_answer("\\\\frac{1}{2}"), normalize_final_answer("0.5"))  # sympy warm, as ours is
out = {"startup": time.perf_counter() - start, "pairs": []}
for gold, answer in json.load(sys.stdin):
    start = time.perf_counter()
    same = bool(is_equiv(normalize_final_answer(answer), normalize_final_answer(gold)))
    out["pairs"].append([same, time.perf_counter() - start])
json.dump(out, sys.stdout)
"""


def run_baseline(pairs, baseline_path: str | None, cap: float | None) -> tuple[float, list[tuple[bool, float]]] | None:
    """(start-up seconds, [(equivalent, seconds)]) from minerva_math in a child process; None when it overran
    `cap`."""
    env = dict(os.environ)
    if baseline_path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (baseline_path, env.get("PYTHONPATH")) if p)
    try:
        done = subprocess.run([sys.executable, "-c", _BASELINE], input=json.dumps(pairs), capture_output=True,
                              text=True, env=env, timeout=cap)
    except subprocess.TimeoutExpired:
        return None
    if done.returncode != 0:
        sys.exit(f"baseline failed (see --baseline-path in this script's docstring):\n{done.stderr[-2000:]}")
    result = json.loads(done.stdout)
    return result["startup"], [(bool(same), seconds) for same, seconds in result["pairs"]]


def summarize(name, verdicts, seconds, kinds, wall):
    by_kind = {}
    for same, kind in zip(verdicts, kinds):
        by_kind.setdefault(kind, []).append(same)
    rates = ", ".join(f"{kind} {sum(v)}/{len(v)}" for kind, v in sorted(by_kind.items()))
    return {"name": name, "per_second": len(verdicts) / wall, "wall": wall, "worst": max(seconds), "rates": rates}


def recall(equivalent: list[bool], kinds: list[str]) -> float:
    """The fraction of the reformatted pairs (equivalent by construction) judged equivalent."""
    judged = [same for same, kind in zip(equivalent, kinds) if kind == REFORMATTED]
    return sum(judged) / len(judged)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=5.0, help="our hard limit per comparison (s)")
    parser.add_argument("--cap", type=float, default=30.0, help="kill the baseline on a pathological answer (s)")
    parser.add_argument("--baseline-path", default="/work/venvs/antlr411",
                        help="directory with antlr4-python3-runtime 4.11 for minerva_math (PYTHONPATH)")
    parser.add_argument("--skip-pathological", action="store_true", help="only the throughput comparison")
    args = parser.parse_args()

    benchmark = (model_pairs(load()) if CACHE.exists() else []) + synthetic_pairs(args.pairs, args.seed)
    pairs, kinds = [(p.gold, p.answer) for p in benchmark], [p.kind for p in benchmark]
    print(f"{len(pairs)} pairs ({sum(k == MODEL for k in kinds)} model answers); {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")

    baseline_startup, baseline = run_baseline(pairs, args.baseline_path, cap=None)
    baseline_wall = sum(seconds for _, seconds in baseline)  # grading time only, not the child's imports
    base = summarize("lm-eval minerva_math is_equiv", [s for s, _ in baseline], [t for _, t in baseline], kinds,
                     baseline_wall)

    started = time.monotonic()
    grader = MathGrader(timeout=args.timeout, workers=args.workers)
    startup = time.monotonic() - started
    start = time.monotonic()
    verdicts = grader.grade_many(pairs)
    ours_wall = time.monotonic() - start
    ours = summarize(f"lm-eval-tts MathGrader ({args.workers} workers)", [v.equivalent for v in verdicts],
                     [v.seconds for v in verdicts], kinds, ours_wall)
    timeouts = sum(v.status == "timeout" for v in verdicts)

    print(f"\n{'grader':40s} {'answers/s':>10s} {'wall s':>8s} {'worst s':>8s}  judged equivalent")
    for row in (base, ours):
        print(f"{row['name']:40s} {row['per_second']:10.1f} {row['wall']:8.2f} {row['worst']:8.3f}  {row['rates']}")
    print(f"throughput ratio ours/baseline: {ours['per_second'] / base['per_second']:.2f}x; recall on reformatted "
          f"equivalents: ours {recall([v.equivalent for v in verdicts], kinds):.4f}, baseline "
          f"{recall([same for same, _ in baseline], kinds):.4f}; {timeouts} of our comparisons hit the limit")
    print(f"start-up, not in the ratio: baseline imports {baseline_startup:.2f} s, our pool {startup:.2f} s; "
          f"with start-up counted on both sides: {(baseline_startup + baseline_wall) / (startup + ours_wall):.2f}x")
    if args.workers > 1:  # how much of the ratio is parallelism: the same pairs on one worker, fresh cache
        with MathGrader(timeout=args.timeout, workers=1) as single:
            start = time.monotonic()
            single.grade_many(pairs)
            single_wall = time.monotonic() - start
        print(f"one worker instead of {args.workers}: {single_wall:.2f} s, "
              f"{baseline_wall / single_wall:.2f}x the baseline")

    if args.skip_pathological:
        grader.close()
        return
    print(f"\npathological answers vs reference '2' (ours: limit {args.timeout:g} s; baseline: killed at {args.cap:g} s)")
    print(f"{'answer':28s} {'baseline s':>12s} {'ours s':>8s}  ours status")
    for answer in PATHOLOGICAL:
        result = run_baseline([("2", answer)], args.baseline_path, cap=args.cap)
        baseline_time = f">{args.cap:g} (killed)" if result is None else f"{result[1][0][1]:.2f}"
        verdict = grader.grade("2", answer)
        label = answer if len(answer) <= 28 else f"1+1+...+1 ({len(answer)} chars)"
        print(f"{label:28s} {baseline_time:>12s} {verdict.seconds:8.2f}  {verdict.status}")
    grader.close()


if __name__ == "__main__":
    main()
