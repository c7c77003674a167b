"""Verifier false positives: resampling utility against enumeration of every ordered draw, limits, best k."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_tts.metrics.verifier import (
    VerifierCounts,
    best_k,
    resampling_limit,
    resampling_utility,
    utility_curve,
    verifier_counts,
)


def brute_utility(weak, strong, k, cost):
    """Every ordered draw of k distinct samples; submit the first that passes the weak tests."""
    total, draws = Fraction(0), 0
    for order in itertools.permutations(range(len(weak)), k):
        draws += 1
        first = next((i for i in order if weak[i]), None)
        if first is not None:
            total += 1 if strong[first] else -Fraction(cost)
    return total / draws


@st.composite
def verdicts(draw, max_n=6):
    n = draw(st.integers(1, max_n))
    weak = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    strong = [w and draw(st.booleans()) for w in weak]  # strong implies weak
    return weak, strong, draw(st.integers(1, n)), draw(st.sampled_from([0, 0.5, 1, 4]))


@settings(max_examples=200, deadline=None)
@given(verdicts())
def test_resampling_utility_matches_every_ordered_draw(case):
    weak, strong, k, cost = case
    counts = verifier_counts(weak, strong)
    assert resampling_utility(counts, k, cost) == pytest.approx(float(brute_utility(weak, strong, k, cost)), abs=1e-12)


def test_limit_and_curve_by_hand():
    # 8 samples: 2 correct, 2 false positives, 4 failing even the weak tests.
    counts = verifier_counts([True] * 4 + [False] * 4, [True, True, False, False] + [False] * 4)
    assert counts == VerifierCounts(8, 2, 2)
    assert resampling_limit(counts) == 0.5
    assert resampling_utility(counts, 8, 1.0) == 0.0  # precision 1/2 at cost 1: worth nothing
    curve = utility_curve(counts, 0.5)
    assert len(curve) == 8 and curve[-1] == pytest.approx(0.25)  # submits surely: 1/2 - 0.5 * 1/2
    assert curve[0] == pytest.approx(0.5 * 0.25)  # first sample passes weak with probability 1/2


def test_no_weak_pass_is_worth_nothing_and_inconsistent_verdicts_are_refused():
    assert resampling_utility(verifier_counts([False, False], [False, False]), 2, 1.0) == 0.0
    assert resampling_limit(VerifierCounts(2, 0, 0)) == 0.0
    with pytest.raises(ValueError, match="passed the strong tests but not the weak"):
        verifier_counts([False], [True])


def test_best_k_bends_down_with_false_positives():
    # Problem A: 2 correct of 4 (submits surely from k=3 on); problem B: 1 false positive of 4 (each extra
    # sample risks submitting it). At fp_cost 1 the mean utility is 1/8, 1/6, 1/8, 0: the best k is 2.
    curves = [utility_curve(verifier_counts(*case), 1.0) for case in (
        ([True, True, False, False], [True, True, False, False]),
        ([True, False, False, False], [False, False, False, False]),
    )]
    mean = [math.fsum(values) / 2 for values in zip(*curves)]
    assert mean == pytest.approx([1 / 8, 1 / 6, 1 / 8, 0.0])
    assert best_k(mean) == 2
    assert best_k([0.1, 0.3, 0.3, 0.2]) == 2  # ties: the smaller k
