"""Exact maj@k / best@k (lm_eval_tts.metrics.estimators) vs brute-force enumeration of every k-subset.

Baseline: vote (or pick the top score) in each of the C(n, k) subsets and average - the definition itself.
Ours: the closed-form / dynamic-programming estimators. Both run on the same random problems in one process;
the script prints both times, their ratio and the largest difference between the two answers.

    python benchmarks/bench_tts_estimators.py [--n 16] [--problems 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import itertools
import math
import random
import time
from collections import Counter
from fractions import Fraction

from lm_eval_tts.metrics.estimators import best_at_k, default_ks, maj_at_k


def brute_maj(answers, correct, k):
    total = Fraction(0)
    for subset in itertools.combinations(range(len(answers)), k):
        votes = Counter(answers[i] for i in subset if answers[i] is not None)
        if votes:
            top = max(votes.values())
            winners = [a for a, v in votes.items() if v == top]
            total += Fraction(sum(correct[answers.index(w)] for w in winners), len(winners))
    return float(total / math.comb(len(answers), k))


def brute_best(scores, correct, k):
    total = Fraction(0)
    for subset in itertools.combinations(range(len(scores)), k):
        top = max(scores[i] for i in subset)
        tied = [i for i in subset if scores[i] == top]
        total += Fraction(sum(correct[i] for i in tied), len(tied))
    return float(total / math.comb(len(scores), k))


def random_problem(rng: random.Random, n: int):
    """A sampled-answers-like problem: a few popular answers, a tail of one-offs, some unparsed (None)."""
    answers = [rng.choice(["A", "A", "A", "B", "B", "C", None, f"x{rng.randrange(1000)}"]) for _ in range(n)]
    verdict = {a: a == "A" for a in answers}
    correct = [a is not None and verdict[a] for a in answers]
    scores = [round(rng.gauss(-0.8, 0.3), 2) for _ in range(n)]  # rounded: ties happen
    return answers, correct, scores


def timed(fn, problems, ks):
    start = time.perf_counter()
    values = [[fn(p, k) for k in ks] for p in problems]
    return time.perf_counter() - start, values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    problems = [random_problem(rng, args.n) for _ in range(args.problems)]
    ks = default_ks(args.n)
    subsets = sum(math.comb(args.n, k) for k in ks)
    print(f"{args.problems} problems, n={args.n}, ks={ks} ({subsets} subsets per problem for brute force)")
    print(f"{'estimator':<10}{'brute force s':>15}{'exact s':>12}{'speed-up':>11}{'max |diff|':>13}")
    for name, ours, brute in [
        ("maj@k", lambda p, k: maj_at_k(p[0], p[1], k), lambda p, k: brute_maj(p[0], p[1], k)),
        ("best@k", lambda p, k: best_at_k(p[2], p[1], k), lambda p, k: brute_best(p[2], p[1], k)),
    ]:
        brute_s, brute_values = timed(brute, problems, ks)
        ours_s, our_values = timed(ours, problems, ks)
        diff = max(abs(a - b) for row_a, row_b in zip(brute_values, our_values) for a, b in zip(row_a, row_b))
        print(f"{name:<10}{brute_s:>15.3f}{ours_s:>12.4f}{brute_s / ours_s:>10.0f}x{diff:>13.1e}")


if __name__ == "__main__":
    main()
