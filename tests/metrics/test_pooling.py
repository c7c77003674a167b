"""Pooled pass@k against enumeration of every draw from every policy; splits, uniform split, honest selection."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_tts.metrics import pooling
from lm_eval_tts.metrics.pooling import (
    best_split,
    count_splits,
    halves,
    miss_table,
    pool_at_k,
    split_pass,
    splits,
    uniform_split_pass,
)


def brute_pass(flags_per_policy, split):
    """Every choice of split[i] samples from each policy i: the fraction of choices with a correct sample."""
    choices = [list(itertools.combinations(flags, j)) for flags, j in zip(flags_per_policy, split)]
    hits = total = 0
    for combo in itertools.product(*choices):
        total += 1
        hits += any(flag for draw in combo for flag in draw)
    return Fraction(hits, total)


@st.composite
def policies(draw, max_policies=3, max_n=5):
    count = draw(st.integers(1, max_policies))
    flags = [draw(st.lists(st.booleans(), min_size=1, max_size=max_n)) for _ in range(count)]
    split = tuple(draw(st.integers(0, len(f))) for f in flags)
    return flags, split


def problem_of(flags_per_policy):
    return [(len(flags), sum(flags)) for flags in flags_per_policy]


@settings(max_examples=200, deadline=None)
@given(policies())
def test_split_pass_matches_enumeration(case):
    flags, split = case
    assert split_pass(miss_table(problem_of(flags)), split) == pytest.approx(float(brute_pass(flags, split)), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(policies(), st.data())
def test_uniform_split_is_the_mean_over_remainder_placements(case, data):
    flags, _ = case
    k = data.draw(st.integers(1, len(flags) * min(len(f) for f in flags)))
    base, extra = divmod(k, len(flags))
    placements = list(itertools.combinations(range(len(flags)), extra))
    expected = sum(brute_pass(flags, [base + (i in chosen) for i in range(len(flags))]) for chosen in placements)
    assert uniform_split_pass(miss_table(problem_of(flags)), k) == pytest.approx(float(expected / len(placements)))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=4), st.integers(0, 12))
def test_splits_are_every_bounded_composition(caps, k):
    expected = [s for s in itertools.product(*(range(c + 1) for c in caps)) if sum(s) == k]
    assert sorted(splits(k, caps)) == sorted(expected)
    assert count_splits(k, caps) == len(expected)


def test_best_split_by_enumeration_and_greedily(monkeypatch):
    # Policy 0 solves problem A only, policy 1 problem B only: one draw from each beats two from either.
    problems = [[(2, 2), (2, 0)], [(2, 0), (2, 2)]]
    misses = [miss_table(p) for p in problems]
    assert best_split(misses, 2, [2, 2]) == (1, 1)
    monkeypatch.setattr(pooling, "MAX_SPLITS", 0)  # the greedy path
    assert best_split(misses, 2, [2, 2]) == (1, 1)
    with pytest.raises(ValueError, match="exceeds the 4 samples"):
        best_split(misses, 5, [2, 2])


def test_pool_beats_single_policies_on_held_out_problems():
    # Two kinds of problem, alternating: each policy solves one kind surely and the other never.
    problems = [[(4, 4), (4, 0)] if i % 2 else [(4, 0), (4, 4)] for i in range(20)]
    result = pool_at_k(problems, 2)
    assert result.splits == ((1, 1), (1, 1))
    assert result.best_split == [1.0] * 20
    assert result.uniform == [1.0] * 20
    fold_a, fold_b = halves(20)
    for fold, single in zip((fold_b, fold_a), result.singles):  # fold 0's choice scores fold 1
        assert [result.best_single[p] for p in fold] == [float(problems[p][single][1] == 4) for p in fold]


def test_choice_is_made_without_the_problems_it_scores():
    # Policy 1 is better only on one fold's problems: its choice there must not score those problems.
    fold_a, fold_b = halves(10)
    problems = [[(4, 2), (4, 4)] if p in fold_a else [(4, 2), (4, 0)] for p in range(10)]
    result = pool_at_k(problems, 1)
    assert result.singles == (1, 0)
    assert [result.best_single[p] for p in fold_b] == [0.0] * len(fold_b)  # policy 1, chosen on fold a
    assert [result.best_single[p] for p in fold_a] == [0.5] * len(fold_a)  # policy 0, chosen on fold b
    assert math.fsum(result.uniform) / 10 == pytest.approx(0.5 * 0.75 + 0.5 * 0.25)


def test_bad_budgets():
    with pytest.raises(ValueError, match="at least 2 problems"):
        pool_at_k([[(2, 1)]], 1)
    with pytest.raises(ValueError, match="exceeds the 2 samples"):
        pool_at_k([[(2, 1), (4, 1)]] * 2, 3)
