"""MATH answer grading: lm-eval-tts's MathGrader vs lm-eval's own minerva_math equivalence check, in one run.

Data: 2,000 (reference, answer) pairs built from real MATH test answers (the shipped full test set): 1,000
reference answers each paired with a reformatted spelling of itself (spaces, \\dfrac, \\left/\\right, N.0, a/b)
and with another problem's reference answer. Both graders see the same pairs:
- baseline: lm_eval.tasks.minerva_math.utils (normalize_final_answer on both sides, then is_equiv: sympy
  parse_latex + simplify under a 5 s SIGALRM), sequential, in its own process;
- ours: MathGrader (math-verify in 2 forked workers, hard SIGKILL limit, string fast path, pair cache).
Then a few pathological answers (power towers) on both, the baseline capped at --cap seconds per answer by
killing its process (its own in-process alarm does not stop them).

minerva_math needs antlr4-python3-runtime 4.11 (the project's venv has 4.13 for math-verify). Put 4.11 in a
side directory once and point --baseline-path at it:
    pip install --target /work/venvs/antlr411 antlr4-python3-runtime==4.11.0
    python benchmarks/bench_math_grading.py --baseline-path /work/venvs/antlr411
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from lm_eval_tts.grading.answers import math_gold
from lm_eval_tts.grading.math import MathGrader, normalize_answer_text

DATA = Path(__file__).resolve().parents[1] / "task_configs" / "math" / "data" / "math_test_full.jsonl"
PATHOLOGICAL = ["2^{2^{2^{2^{2^{2}}}}}", "9^{9^{9^{9}}}", "10^{10^{10^{10}}}", "+".join(["1"] * 25_000)]

_BASELINE = """
import json, sys, time
from lm_eval.tasks.minerva_math.utils import is_equiv, normalize_final_answer
out = []
for gold, answer in json.load(sys.stdin):
    start = time.perf_counter()
    same = bool(is_equiv(normalize_final_answer(answer), normalize_final_answer(gold)))
    out.append([same, time.perf_counter() - start])
json.dump(out, sys.stdout)
"""


def reformat(answer: str, style: int) -> str:
    """An equivalent spelling of a reference answer (falls back to added spaces when a style does not apply)."""
    if style == 1 and "\\frac" in answer:
        return answer.replace("\\frac", "\\dfrac")
    if style == 2 and re.fullmatch(r"-?\d+", answer):
        return f"{answer}.0"
    if style == 3 and re.fullmatch(r"-?\\frac\{\d+\}\{\d+\}", answer):
        sign = "-" if answer.startswith("-") else ""
        numerator, denominator = re.findall(r"\d+", answer)
        return f"{sign}{numerator}/{denominator}"
    if style == 4 and answer.startswith("(") and answer.endswith(")"):
        return f"\\left({answer[1:-1]}\\right)"
    spaced = re.sub(r"\s*((?<!\\)[,+=]|(?<![\^\\])-)\s*", r" \1 ", answer).strip()  # not inside \, etc.
    return spaced if spaced != answer else f" {answer} "


def build_pairs(count: int, seed: int) -> tuple[list[tuple[str, str]], list[str]]:
    golds = [math_gold(json.loads(line)) for line in DATA.read_text().splitlines()]
    chosen = random.Random(seed).sample(golds, count // 2)
    pairs, kinds = [], []
    for i, gold in enumerate(chosen):
        pairs.append((gold, reformat(gold, i % 5)))
        kinds.append("reformatted")
        other = chosen[(i + 1) % len(chosen)]
        pairs.append((gold, other))
        kinds.append("same text" if normalize_answer_text(other) == normalize_answer_text(gold) else "other")
    return pairs, kinds


def run_baseline(pairs, baseline_path: str | None, cap: float | None) -> list[tuple[bool, float]] | None:
    """[(equivalent, seconds)] from minerva_math in a child process; None when it overran `cap`."""
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
    return [(bool(same), seconds) for same, seconds in json.loads(done.stdout)]


def summarize(name, verdicts, seconds, kinds, wall):
    by_kind = {}
    for same, kind in zip(verdicts, kinds):
        by_kind.setdefault(kind, []).append(same)
    rates = ", ".join(f"{kind} {sum(v)}/{len(v)}" for kind, v in sorted(by_kind.items()))
    return {"name": name, "per_second": len(verdicts) / wall, "wall": wall, "worst": max(seconds), "rates": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=5.0, help="our hard limit per comparison (s)")
    parser.add_argument("--cap", type=float, default=30.0, help="kill the baseline on a pathological answer (s)")
    parser.add_argument("--baseline-path", default="/work/venvs/antlr411",
                        help="directory with antlr4-python3-runtime 4.11 for minerva_math (PYTHONPATH)")
    args = parser.parse_args()

    pairs, kinds = build_pairs(args.pairs, args.seed)
    print(f"{len(pairs)} pairs from {DATA.name}; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    baseline = run_baseline(pairs, args.baseline_path, cap=None)
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
    print(f"throughput ratio ours/baseline: {ours['per_second'] / base['per_second']:.2f}x "
          f"(our pool start-up {startup:.2f} s not included; {timeouts} of our comparisons hit the limit)")

    print(f"\npathological answers vs reference '2' (ours: limit {args.timeout:g} s; baseline: killed at {args.cap:g} s)")
    print(f"{'answer':28s} {'baseline s':>12s} {'ours s':>8s}  ours status")
    for answer in PATHOLOGICAL:
        result = run_baseline([("2", answer)], args.baseline_path, cap=args.cap)
        baseline_time = f">{args.cap:g} (killed)" if result is None else f"{result[0][1]:.2f}"
        verdict = grader.grade("2", answer)
        label = answer if len(answer) <= 28 else f"1+1+...+1 ({len(answer)} chars)"
        print(f"{label:28s} {baseline_time:>12s} {verdict.seconds:8.2f}  {verdict.status}")
    grader.close()


if __name__ == "__main__":
    main()
