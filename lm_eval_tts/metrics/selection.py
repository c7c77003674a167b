"""Selection rules for pass@k inference: from N samples, submit k distinct answers; success if any is correct.

Best-of-Majority (Di, Ji, Li, Zhao, Gu 2025, "Best-of-Majority: Minimax-Optimal Strategy for Pass@k Inference
Scaling", arXiv:2510.03199) and the two rules it is compared against, for ONE problem:
    majtop@k          the k most frequent answers among the N samples;
    bontop@k_<score>  the k distinct answers with the highest score (Best-of-N, extended to k submissions);
    bom@k_<score>     among the answers whose frequency among the N samples is at least `threshold`, the k with
                      the highest score; fewer than k when fewer pass the filter (nothing is padded in).
An answer's score is the mean score of its samples among the N (a reward model scores responses, and samples
that reach the same answer by different reasoning get different scores). None (no answer extracted) uses a
sample but is never submitted. Ties in count or score are broken uniformly at random, in expectation.

Credit: a submitted answer is judged by one of its samples drawn uniformly, so an answer whose samples the
grader judged inconsistently (e.g. one comparison timed out) counts with probability q = correct/count; with a
consistent grader q is 0 or 1. With S the submitted answers, success = 1 - prod_{a in S} (1 - q_a).
Exact tie-breaking: walk the candidates from the best rank value down; a level of t tied answers that does not
fit into the r free slots contributes E[prod (1 - q)] over a uniform r-subset of it, which is
e_r(1 - q_1, ..., 1 - q_t) / C(t, r) (e_r: elementary symmetric polynomial, a small dynamic programme).

The number of samples N defaults to all n; for N < n the value is the expectation over uniformly random
N-subsets of the n samples: exact (every subset) when C(n, N) <= EXACT_SUBSETS, otherwise a Monte Carlo mean
over MC_SUBSETS subsets drawn with random.Random(MC_SEED); each subset's value lies in [0, 1], so its standard
error is at most 0.5 / sqrt(MC_SUBSETS) = 0.008 per problem (the same bound holds for a benchmark mean).

Default threshold 1/8: a fixed *fraction* of N, as in the paper, so that the candidate set converges to the
answers the model gives at least 1/8 of the time as N grows and BoM does not degrade into Best-of-N the way a
count threshold would; 1/8 leaves room for up to 8 candidates (the k that selection is usually reported for), and
at the tasks' default N = 16 it means "sampled at least twice", dropping the one-off answers on which a reward
model's errors are unchecked by any agreement. At N <= 8 it keeps every answer (bom = bontop).
"""

from __future__ import annotations

import itertools
import math
import random
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

from lm_eval_tts.errors import UserError
from lm_eval_tts.metrics.keys import BOM, BONTOP, MAJTOP  # the rules are named as their metric families

DEFAULT_THRESHOLD = Fraction(1, 8)
EXACT_SUBSETS = 2000
MC_SUBSETS = 4000
MC_SEED = 0


@dataclass(frozen=True)
class Group:
    """One distinct answer among the drawn samples: how many drew it, q = the fraction of those graded correct
    (a Fraction, or a float on the Monte Carlo path), and its mean score per score name."""

    count: int
    q: Fraction | float
    mean_scores: Mapping[str, float]


def groups_of(
    indices: Sequence[int],
    answers: Sequence[Hashable | None],
    correct: Sequence[bool],
    scores: Mapping[str, Sequence[float]],
    exact: bool = True,
) -> list[Group]:
    """The distinct non-None answers among the samples at `indices`, in first-seen order (q exact or float)."""
    members: dict[Hashable, list[int]] = {}
    for i in indices:
        if answers[i] is not None:
            members.setdefault(answers[i], []).append(i)
    groups = []
    for idx in members.values():
        right = sum(bool(correct[i]) for i in idx)
        groups.append(Group(len(idx), Fraction(right, len(idx)) if exact else right / len(idx),
                            {name: math.fsum(values[i] for i in idx) / len(idx) for name, values in scores.items()}))
    return groups


def submit_top(candidates: Sequence[tuple[float, Fraction | float]], k: int) -> Fraction | float:
    """Expected success of submitting the k candidates with the highest rank value (ties uniformly at random).

    candidates: (rank value, q) per answer, q its probability of being judged correct. See the module docstring.
    """
    levels: dict[float, list[Fraction]] = {}
    for value, q in candidates:
        levels.setdefault(value, []).append(q)
    fail, slots = 1, k  # int, so the result keeps the type of the q values (Fraction or float)
    for value in sorted(levels, reverse=True):
        misses = [1 - q for q in levels[value]]
        if len(misses) <= slots:
            fail *= math.prod(misses)
            slots -= len(misses)
        else:
            fail *= _elementary_symmetric(misses, slots) / math.comb(len(misses), slots)
            slots = 0
        if slots == 0:
            break
    return 1 - fail


def _elementary_symmetric(values: Sequence[Fraction | float], r: int) -> Fraction | float:
    """e_r(values): the sum over all r-subsets of the product of their values."""
    e = [1] + [0] * r
    for x in values:
        for j in range(r, 0, -1):
            e[j] += e[j - 1] * x
    return e[r]


def rule_candidates(rule: str, groups: Sequence[Group], score: str | None = None,
                    min_count: int = 1) -> list[tuple[float, Fraction | float]]:
    """(rank value, q) of the answers a rule ranks: majtop by count, bontop by mean score, bom by mean score
    among the answers drawn at least min_count = ceil(threshold * N) times."""
    if rule == MAJTOP:
        return [(g.count, g.q) for g in groups]
    if rule == BONTOP:
        return [(g.mean_scores[score], g.q) for g in groups]
    if rule == BOM:
        return [(g.mean_scores[score], g.q) for g in groups if g.count >= min_count]
    raise ValueError(f"unknown selection rule {rule!r}")


@dataclass(frozen=True)
class Selection:
    """One selection metric: rule (majtop, bontop, bom), k submissions, and the score it ranks by (not majtop)."""

    rule: str
    k: int
    score: str | None = None


def selection_values(
    answers: Sequence[Hashable | None],
    correct: Sequence[bool],
    scores: Mapping[str, Sequence[float]] | None,
    selections: Sequence[Selection],
    *,
    threshold: float | Fraction = DEFAULT_THRESHOLD,
    n_drawn: int | None = None,
    exact_subsets: int = EXACT_SUBSETS,
    mc_subsets: int = MC_SUBSETS,
) -> list[float]:
    """The value of each selection for one problem, all from the same draws of N = n_drawn samples (default n).

    answers[i]: sample i's canonical answer or None; correct[i]: its verdict; scores: name -> one score per
    sample (higher is better). See the module docstring for the rules, the credit and the N < n expectation.
    """
    n = len(correct)
    if len(answers) != n:
        raise ValueError(f"answers has {len(answers)} entries but correct has {n}")
    scores = dict(scores or {})
    for name, values in scores.items():
        if len(values) != n:
            raise ValueError(f"scores[{name!r}] has {len(values)} entries but correct has {n}")
        if any(math.isnan(v) for v in values):
            raise ValueError(f"scores[{name!r}] contain NaN: a sample without a score cannot be ranked")
    for s in selections:
        if s.k < 1:
            raise UserError(f"k={s.k} is not a number of submissions: every k must be >= 1")
        if s.rule != MAJTOP and s.score not in scores:
            raise ValueError(f"{s.rule}@{s.k} ranks by score {s.score!r}, which the samples do not have")
    threshold = check_threshold(threshold)
    n_drawn = n if n_drawn is None else check_n_drawn(n_drawn, n)

    min_count = math.ceil(threshold * n_drawn)
    exact = math.comb(n, n_drawn) <= exact_subsets
    if exact:
        draws = list(itertools.combinations(range(n), n_drawn))
    else:
        rng = random.Random(MC_SEED)
        draws = [rng.sample(range(n), n_drawn) for _ in range(mc_subsets)]
    totals = [Fraction(0) if exact else 0.0] * len(selections)
    for indices in draws:
        groups = groups_of(indices, answers, correct, scores, exact)
        values = [submit_top(rule_candidates(s.rule, groups, s.score, min_count), s.k) for s in selections]
        totals = [t + v for t, v in zip(totals, values)]
    return [float(t / len(draws)) for t in totals]


def check_threshold(threshold: float | Fraction | str) -> Fraction:
    """The BoM frequency threshold as an exact fraction in (0, 1] (0.1 is 1/10, not the nearest float)."""
    try:
        value = Fraction(str(threshold)) if not isinstance(threshold, Fraction) else threshold
    except (ValueError, ZeroDivisionError):
        value = None
    if value is None or not 0 < value <= 1:
        raise UserError(f"task option bom_threshold={threshold!r}: must be a fraction of the samples in (0, 1], "
                        f"e.g. bom_threshold=0.125")
    return value


def check_n_drawn(n_drawn: int, n: int) -> int:
    if isinstance(n_drawn, bool) or not isinstance(n_drawn, int) or n_drawn < 1:
        raise UserError(f"task option bom_samples={n_drawn!r}: must be a positive integer (samples drawn, N)")
    if n_drawn > n:
        raise UserError(f"task option bom_samples={n_drawn} exceeds the samples per problem n={n}: "
                        f"lower bom_samples or raise repeats to at least {n_drawn}")
    return n_drawn
