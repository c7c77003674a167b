"""A pool of policies under one sample budget: pass@k when k samples are split across several policies.

Policies are runs of several checkpoints or settings on the same problems (the alphas of a WiSE-FT sweep, FIRE
on/off): an interpolation/extrapolation ensemble spends its budget on several of them. Policy i has n_i samples
of a problem, c_i of them correct. Drawing k_i of them without replacement from each policy (a split
k = k_1 + ... + k_R, 0 <= k_i <= n_i), the problem is solved unless every draw misses:
    pass(split) = 1 - prod_i C(n_i - c_i, k_i) / C(n_i, k_i)
(each factor is 1 - pass@k_i of policy i, metrics.estimators.pass_at_k; k_i = 0 contributes 1).
- uniform split: k_i = k // R for all, and the k mod R remaining samples go to a uniformly random subset of the
  policies (the expectation over those subsets, exactly);
- best split for a budget k: the split with the highest mean pass over problems, found by enumerating every
  split when there are at most MAX_SPLITS of them, else greedily (each of the k samples to the policy with the
  largest gain in mean pass given the ones placed so far);
- honest selection: the best split and the best single policy are each chosen on one half of the problems and
  scored on the other half (two folds of a seeded random halving, so every problem is scored by a choice made
  without it); the gain over the best single policy is then a per-problem paired difference on held-out
  problems, so a lucky split cannot show up as a gain.
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from lm_eval_tts.metrics.estimators import pass_at_k

MAX_SPLITS = 20_000
SEED = 0

Problem = Sequence[tuple[int, int]]  # (n_i, c_i) per policy


def miss_table(problem: Problem) -> list[list[float]]:
    """miss[i][j] = C(n_i - c_i, j) / C(n_i, j): policy i misses with j draws (j = 0 .. n_i)."""
    return [[1.0] + [1.0 - pass_at_k(n, c, j) for j in range(1, n + 1)] for n, c in problem]


def split_pass(miss: Sequence[Sequence[float]], split: Sequence[int]) -> float:
    """pass of one problem (its miss_table) when policy i gets split[i] draws."""
    return 1.0 - math.prod(miss[i][j] for i, j in enumerate(split))


def splits(k: int, caps: Sequence[int]) -> Iterator[tuple[int, ...]]:
    """Every (k_1, ..., k_R) with sum k and 0 <= k_i <= caps[i]."""
    if not caps:
        if k == 0:
            yield ()
        return
    rest = sum(caps[1:])
    for first in range(max(0, k - rest), min(caps[0], k) + 1):
        for tail in splits(k - first, caps[1:]):
            yield (first, *tail)


def count_splits(k: int, caps: Sequence[int]) -> int:
    """How many splits `splits` yields (inclusion-exclusion over the caps)."""
    total = 0
    for over in range(len(caps) + 1):
        for chosen in itertools.combinations(caps, over):
            left = k - sum(c + 1 for c in chosen)
            if left >= 0:
                total += (-1) ** over * math.comb(left + len(caps) - 1, len(caps) - 1)
    return total


def mean_pass(misses: Sequence[Sequence[Sequence[float]]], split: Sequence[int]) -> float:
    return math.fsum(split_pass(miss, split) for miss in misses) / len(misses)


def best_split(misses: Sequence[Sequence[Sequence[float]]], k: int, caps: Sequence[int]) -> tuple[int, ...]:
    """The split of k with the highest mean pass over these problems (their miss tables); see the module."""
    if k > sum(caps):
        raise ValueError(f"budget k={k} exceeds the {sum(caps)} samples the policies have together")
    if count_splits(k, caps) <= MAX_SPLITS:
        return max(splits(k, caps), key=lambda split: mean_pass(misses, split))
    split = [0] * len(caps)
    for _ in range(k):
        options = [i for i in range(len(caps)) if split[i] < caps[i]]
        best = max(options, key=lambda i: mean_pass(misses, [*split[:i], split[i] + 1, *split[i + 1:]]))
        split[best] += 1
    return tuple(split)


def uniform_split_pass(miss: Sequence[Sequence[float]], k: int) -> float:
    """pass of one problem under the uniform split of k (remainder to a uniformly random subset of policies)."""
    policies = len(miss)
    base, extra = divmod(k, policies)
    if base + (1 if extra else 0) > min(len(row) - 1 for row in miss):
        raise ValueError(f"the uniform split of k={k} over {policies} policies needs more samples than some have")
    subsets = list(itertools.combinations(range(policies), extra))
    return math.fsum(split_pass(miss, [base + (i in subset) for i in range(policies)])
                     for subset in subsets) / len(subsets)


def halves(problems: int, seed: int = SEED) -> tuple[list[int], list[int]]:
    """A seeded random halving of problem indices 0..problems-1 (the two folds of the honest selection)."""
    order = list(range(problems))
    random.Random(seed).shuffle(order)
    return sorted(order[: problems // 2]), sorted(order[problems // 2:])


@dataclass(frozen=True)
class PoolAtK:
    """One budget k: held-out per-problem pass of the best split, the uniform split and the best single
    policy (each problem scored by choices made on the other fold), and the choices of each fold."""

    k: int
    best_split: list[float]
    uniform: list[float]
    best_single: list[float]
    splits: tuple[tuple[int, ...], tuple[int, ...]]  # best split chosen on fold 0, on fold 1
    singles: tuple[int, int]  # best single policy (index) chosen on fold 0, on fold 1


def pool_at_k(problems: Sequence[Problem], k: int, seed: int = SEED) -> PoolAtK:
    """Best split, uniform split and best single policy for budget k over problems (see the module).

    problems[p][i] = (n_i, c_i) of policy i on problem p; at least 2 problems; k <= every n_i (so that each
    policy alone can spend the budget).
    """
    if len(problems) < 2:
        raise ValueError("the honest split selection needs at least 2 problems (one per fold)")
    caps = [min(problem[i][0] for problem in problems) for i in range(len(problems[0]))]
    if k > min(caps):
        raise ValueError(f"budget k={k} exceeds the {min(caps)} samples of some policy")
    misses = [miss_table(problem) for problem in problems]
    folds = halves(len(problems), seed)
    held_out_split = [0.0] * len(problems)
    held_out_single = [0.0] * len(problems)
    chosen_splits, chosen_singles = [], []
    for choose, score in (folds, folds[::-1]):
        chosen = [misses[p] for p in choose]
        split = best_split(chosen, k, caps)
        single = max(range(len(caps)), key=lambda i: mean_pass(chosen, _alone(i, k, len(caps))))
        for p in score:
            held_out_split[p] = split_pass(misses[p], split)
            held_out_single[p] = split_pass(misses[p], _alone(single, k, len(caps)))
        chosen_splits.append(split)
        chosen_singles.append(single)
    return PoolAtK(
        k=k,
        best_split=held_out_split,
        uniform=[uniform_split_pass(miss, k) for miss in misses],
        best_single=held_out_single,
        splits=(chosen_splits[0], chosen_splits[1]),
        singles=(chosen_singles[0], chosen_singles[1]),
    )


def _alone(policy: int, k: int, policies: int) -> tuple[int, ...]:
    return tuple(k if i == policy else 0 for i in range(policies))
