"""Exact estimators (lm_eval_tts.metrics) vs brute-force enumeration of their definitions.

Baselines, the definitions themselves: maj@k / best@k vote (or pick the top score) in each of the C(n, k)
subsets; bom@k / majtop@k (N = n samples) enumerate every order of the tied answers and submit the first k;
utility@k enumerates every ordered draw of k samples (n!/(n-k)!, so only k <= 4 there) and submits the first one
that passes the weak tests. Ours: the closed forms / dynamic programmes. Both run on the same random problems in
one process; the script prints both times, their ratio and the largest difference between the two answers.

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
from lm_eval_tts.metrics.selection import BOM, MAJTOP, Selection, selection_values
from lm_eval_tts.metrics.verifier import resampling_utility, verifier_counts


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


def brute_selection(answers, correct, scores, rule, k, threshold):
    """Every order of the distinct answers consistent with the rule's ranking; submit the first k."""
    members = {}
    for i, answer in enumerate(answers):
        if answer is not None:
            members.setdefault(answer, []).append(i)
    ranked = []
    for idx in members.values():
        if rule == BOM and Fraction(len(idx), len(answers)) < threshold:
            continue
        value = len(idx) if rule == MAJTOP else math.fsum(scores[i] for i in idx) / len(idx)
        ranked.append((value, Fraction(sum(correct[i] for i in idx), len(idx))))
    ranked.sort(key=lambda item: -item[0])
    levels = [list(group) for _, group in itertools.groupby(ranked, key=lambda item: item[0])]
    orders = [[x for part in parts for x in part]
              for parts in itertools.product(*(list(itertools.permutations(level)) for level in levels))]
    if not orders:
        return 0.0
    return float(sum(1 - math.prod(1 - q for _, q in order[:k]) for order in orders) / len(orders))


def brute_utility(weak, strong, k, cost=1.0):
    total = draws = 0
    for order in itertools.permutations(range(len(weak)), k):
        draws += 1
        first = next((i for i in order if weak[i]), None)
        total += 0 if first is None else (1 if strong[first] else -cost)
    return total / draws


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
    print(f"{'estimator':<11}{'brute force s':>15}{'exact s':>12}{'speed-up':>11}{'max |diff|':>13}")
    threshold = Fraction(1, 8)

    def ours_selection(rule):
        def run(p, k):
            (value,) = selection_values(p[0], p[1], {"s": p[2]}, [Selection(rule, k, None if rule == MAJTOP else "s")],
                                        threshold=threshold)
            return value
        return run

    def weak_of(p):
        return [c or a == "B" for a, c in zip(p[0], p[1])]  # "B" passes the weak tests but is wrong

    for name, ours, brute, rule_ks in [
        ("maj@k", lambda p, k: maj_at_k(p[0], p[1], k), lambda p, k: brute_maj(p[0], p[1], k), ks),
        ("best@k", lambda p, k: best_at_k(p[2], p[1], k), lambda p, k: brute_best(p[2], p[1], k), ks),
        ("majtop@k", ours_selection(MAJTOP), lambda p, k: brute_selection(*p, MAJTOP, k, threshold), ks),
        ("bom@k", ours_selection(BOM), lambda p, k: brute_selection(*p, BOM, k, threshold), ks),
        ("utility@k", lambda p, k: resampling_utility(verifier_counts(weak_of(p), p[1]), k, 1.0),
         lambda p, k: brute_utility(weak_of(p), p[1], k), [k for k in ks if k <= 4]),
    ]:
        brute_s, brute_values = timed(brute, problems, rule_ks)
        ours_s, our_values = timed(ours, problems, rule_ks)
        diff = max(abs(a - b) for row_a, row_b in zip(brute_values, our_values) for a, b in zip(row_a, row_b))
        print(f"{name:<11}{brute_s:>15.3f}{ours_s:>12.4f}{brute_s / ours_s:>10.0f}x{diff:>13.1e}")


if __name__ == "__main__":
    main()
