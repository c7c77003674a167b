"""Test-time-scaling estimators for ONE problem from its n samples: pass@k, maj@k, best@k, distinct answers.

Every @k estimator here is the exact expectation over a uniformly random k-subset of the n samples (all C(n, k)
subsets equally likely), computed in closed form or by a small exact count - never by Monte Carlo and never from
"the first k samples". Counting is done in Python integers and divided once at the end, so results are exact up to
the final float conversion. The pass@k bias-variance view works across problems (one value per problem in).
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from fractions import Fraction

from lm_eval_tts.errors import UserError


def check_k(k: int, n: int) -> None:
    """Raise for a k that cannot be estimated from n samples (k < 1, or k > n: a user setting, so UserError)."""
    if n < 1:
        raise ValueError(f"need at least one sample per problem, got n={n}")
    if k < 1:
        raise UserError(f"k={k} is not a sample count: every k in the task's ks must be >= 1")
    if k > n:
        raise UserError(
            f"k={k} is larger than the number of samples per problem n={n}: "
            f"drop k={k} from the task's ks or raise `repeats` to at least {k}"
        )


def _check_same_length(n: int, **sequences: Sequence) -> None:
    for name, seq in sequences.items():
        if len(seq) != n:
            raise ValueError(f"{name} has {len(seq)} entries but there are {n} samples")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Probability that at least one of k samples drawn without replacement from n (c of them correct) is correct.

    Unbiased estimator (Chen et al. 2021): pass@k = 1 - C(n-c, k) / C(n, k), evaluated as the product
    1 - prod_{i=n-c+1}^{n} (1 - k/i), which never forms the huge binomials. It is 1 when n - c < k.
    """
    check_k(k, n)
    if not 0 <= c <= n:
        raise ValueError(f"correct count c={c} must lie in [0, n={n}]")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def maj_at_k(answers: Sequence[Hashable | None], correct: Sequence[bool], k: int) -> float:
    """Expected correctness of a majority vote among a uniformly random k-subset of the n samples.

    Vote rule: each sample in the subset votes for its final answer; the answer(s) with the most votes win.
    - Ties: the winner is drawn uniformly among the tied answers, so a tie gives fractional credit
      (a 2-2 tie between a right and a wrong answer scores 1/2).
    - None (no answer extracted) never wins but still uses one of the k slots; an all-None subset scores 0.
    - The vote's answer is scored by one of its voters in the subset, drawn uniformly. When the grader is
      consistent (same answer -> same verdict) this is just "is the winning answer correct"; if not (e.g. one
      comparison timed out), the answer scores the fraction of its n samples that were graded correct.
    Answers are compared with ==: the caller must canonicalise equivalent spellings ("1/2", "0.5", "\\frac12")
    to one value first, or they split the vote.

    Estimator: with groups g of identical answers (sizes s_g, correct fraction q_g), None count z,
        maj@k = (1 / C(n,k)) * sum_{x>=1} sum_{subsets whose top vote count is x} (sum_{g at x} q_g) / #{g at x}.
    For each x, groups with s_g < x cannot reach x, so together with the None samples they form one pool from
    which any r samples can be taken in C(pool, r) ways (Vandermonde); the groups with s_g >= x (at most n/x of
    them) go through a dynamic programme over (samples taken, groups at exactly x), carrying both the number of
    ways and the summed q of the groups at x. Cost about n^3 log n integer operations in the worst case.
    """
    n = len(correct)
    check_k(k, n)
    _check_same_length(n, answers=answers)
    tallies: dict[Hashable, list[int]] = {}
    for answer, ok in zip(answers, correct):
        if answer is not None:
            tally = tallies.setdefault(answer, [0, 0])
            tally[0] += 1
            tally[1] += bool(ok)
    groups = [(size, n_correct) for size, n_correct in tallies.values()]
    # Integer weight of each group's correct fraction q_g = n_correct / size, scaled by a common denominator.
    scale = math.lcm(*(size for size, _ in groups)) if groups else 1

    total = Fraction(0)
    for x in range(1, k + 1):
        contenders = [(size, n_correct * (scale // size)) for size, n_correct in groups if size >= x]
        if not contenders:
            break
        pool = n - sum(size for size, _ in contenders)
        # ways[t][m]: ways to take m samples from the contenders so far, none above x, t of them exactly at x.
        # credit[t][m]: the same ways, each weighted by the scaled q summed over the groups at x.
        ways = [[0] * (k + 1) for _ in range(len(contenders) + 1)]
        credit = [[0] * (k + 1) for _ in range(len(contenders) + 1)]
        ways[0][0] = 1
        for seen, (size, weight) in enumerate(contenders):
            new_ways = [[0] * (k + 1) for _ in range(len(contenders) + 1)]
            new_credit = [[0] * (k + 1) for _ in range(len(contenders) + 1)]
            for t in range(seen + 1):
                for m in range(k + 1):
                    w, cr = ways[t][m], credit[t][m]
                    if not w:
                        continue
                    for y in range(min(size, x, k - m) + 1):
                        choose = math.comb(size, y)
                        if y == x:
                            new_ways[t + 1][m + y] += w * choose
                            new_credit[t + 1][m + y] += (cr + weight * w) * choose
                        else:
                            new_ways[t][m + y] += w * choose
                            new_credit[t][m + y] += cr * choose
            ways, credit = new_ways, new_credit
        for t in range(1, len(contenders) + 1):
            for m in range(max(0, k - pool), k + 1):
                if credit[t][m]:
                    total += Fraction(credit[t][m] * math.comb(pool, k - m), t)
    return float(total / (scale * math.comb(n, k)))


def best_at_k(scores: Sequence[float], correct: Sequence[bool], k: int) -> float:
    """Expected correctness of the highest-scoring sample among a uniformly random k-subset of the n samples.

    Ties in score are broken uniformly at random among the tied samples in the subset.
    Estimator: sort the distinct score levels; for a level v with E samples (e_c of them correct) and L samples
    scoring strictly lower, the subset's top level is v with probability (C(L+E, k) - C(L, k)) / C(n, k), and the
    sample picked from that level is uniform over its E samples by symmetry, so
        best@k = sum_v (e_c / E) * (C(L+E, k) - C(L, k)) / C(n, k).
    O(n log n) for the sort plus one pass over the levels.
    """
    n = len(correct)
    check_k(k, n)
    _check_same_length(n, scores=scores)
    if any(math.isnan(s) for s in scores):
        raise ValueError("scores contain NaN: a sample without a score cannot be ranked")
    levels: dict[float, list[int]] = {}
    for score, ok in zip(scores, correct):
        level = levels.setdefault(float(score), [0, 0])
        level[0] += 1
        level[1] += bool(ok)
    total = Fraction(0)
    lower = 0
    for score in sorted(levels):
        size, n_correct = levels[score]
        if n_correct:
            total += Fraction(n_correct * (math.comb(lower + size, k) - math.comb(lower, k)), size)
        lower += size
    return float(total / math.comb(n, k))


def distinct_count(items: Sequence[Hashable | None]) -> int:
    """Number of distinct non-None items: #EA (distinct final answers, FIRE paper) or distinct first tokens.

    None (no answer extracted) is not an answer and is not counted. Items are compared with ==, so canonicalise
    equivalent answers first.
    """
    return len({item for item in items if item is not None})


def pass_at_k_bias_variance(per_problem_pass1: Sequence[float], k: int) -> dict[str, float]:
    """The pass@k bias-variance view across problems (WiSE-FT paper, Dang et al. 2025).

    With p_i the pass@1 of problem i, the benchmark's pass@k is the mean of 1 - (1 - p_i)^k. The function
    f(p) = 1 - (1 - p)^k is concave, so by Jensen
        mean_i [1 - (1 - p_i)^k] <= 1 - (1 - mean_i p_i)^k  =: jensen_bound.
    The gap grows with the spread of p_i across problems (to second order it is about
    C(k, 2) (1 - mean)^(k-2) * variance): a model that is sure on some problems and hopeless on others has a
    low pass@k for its pass@1, and lowering that variance is what lifts pass@k. Compare `jensen_bound` with the
    observed pass@k of the same run. The inequality holds for the true rates p_i; with p_i estimated as c_i/n,
    the unbiased pass@k (drawing k of n without replacement) can exceed the plug-in bound when k is close to n.

    Returns mean, variance (population variance over the problems given: it describes this benchmark, not a
    sample of it; per-problem pass@1 estimated from n samples adds about mean p(1-p)/n of binomial noise to it)
    and jensen_bound.
    """
    values = [float(p) for p in per_problem_pass1]
    if not values:
        raise ValueError("no problems: the bias-variance view needs at least one per-problem pass@1")
    if any(not 0.0 <= p <= 1.0 for p in values):
        raise ValueError("per-problem pass@1 values must lie in [0, 1]")
    if k < 1:
        raise UserError(f"k={k} is not a sample count: k must be >= 1")
    mean = math.fsum(values) / len(values)
    variance = math.fsum((p - mean) ** 2 for p in values) / len(values)
    return {"mean": mean, "variance": variance, "jensen_bound": 1.0 - (1.0 - mean) ** k}


def default_ks(n: int) -> list[int]:
    """The k values to report for n samples: the powers of two up to n, plus n itself (16 -> 1 2 4 8 16)."""
    if n < 1:
        raise ValueError(f"need at least one sample per problem, got n={n}")
    ks = [1 << i for i in range(n.bit_length()) if 1 << i <= n]
    return ks if ks[-1] == n else [*ks, n]
