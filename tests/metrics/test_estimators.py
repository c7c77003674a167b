"""Estimators against brute-force enumeration of all k-subsets, plus hand-checked edge cases."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_tts.errors import UserError
from lm_eval_tts.metrics.estimators import (
    best_at_k,
    default_ks,
    distinct_count,
    maj_at_k,
    pass_at_k,
    pass_at_k_bias_variance,
)


def subsets(n, k):
    return list(itertools.combinations(range(n), k))


def brute_pass(correct, k):
    return Fraction(sum(any(correct[i] for i in s) for s in subsets(len(correct), k)), math.comb(len(correct), k))


def brute_maj(answers, correct, k):
    """Vote in every k-subset; tied winners share the credit; a winner is scored by a random voter of its own."""
    total = Fraction(0)
    for s in subsets(len(correct), k):
        votes = Counter(answers[i] for i in s if answers[i] is not None)
        if not votes:
            continue
        top = max(votes.values())
        winners = [a for a, v in votes.items() if v == top]
        for w in winners:
            voters = [i for i in s if answers[i] == w]
            total += Fraction(sum(correct[i] for i in voters), len(voters) * len(winners))
    return total / math.comb(len(correct), k)


def brute_best(scores, correct, k):
    total = Fraction(0)
    for s in subsets(len(correct), k):
        top = max(scores[i] for i in s)
        tied = [i for i in s if scores[i] == top]
        total += Fraction(sum(correct[i] for i in tied), len(tied))
    return total / math.comb(len(correct), k)


@st.composite
def samples(draw, max_n=9):
    n = draw(st.integers(1, max_n))
    correct = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    k = draw(st.integers(1, n))
    return n, correct, k


@st.composite
def consistent_votes(draw):
    """Answers from a small alphabet (many ties) and a grader that gives one verdict per answer."""
    n, _, k = draw(samples())
    answers = draw(st.lists(st.sampled_from(["a", "b", "c", "d", None]), min_size=n, max_size=n))
    verdict = {a: draw(st.booleans()) for a in "abcd"}
    correct = [a is not None and verdict[a] for a in answers]
    return answers, correct, k


@settings(max_examples=300, deadline=None)
@given(samples())
def test_pass_at_k_matches_brute_force(case):
    n, correct, k = case
    assert pass_at_k(n, sum(correct), k) == pytest.approx(float(brute_pass(correct, k)), abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(consistent_votes())
def test_maj_at_k_matches_brute_force(case):
    answers, correct, k = case
    assert maj_at_k(answers, correct, k) == pytest.approx(float(brute_maj(answers, correct, k)), abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(samples(), st.data())
def test_maj_at_k_with_inconsistent_grader_matches_brute_force(case, data):
    n, correct, k = case
    answers = data.draw(st.lists(st.sampled_from(["a", "b", None]), min_size=n, max_size=n))
    assert maj_at_k(answers, correct, k) == pytest.approx(float(brute_maj(answers, correct, k)), abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(samples(), st.data())
def test_best_at_k_matches_brute_force(case, data):
    n, correct, k = case
    # Few distinct values, so ties in score are common.
    scores = data.draw(st.lists(st.sampled_from([-2.0, -1.5, -1.0, 0.0, 0.25]), min_size=n, max_size=n))
    assert best_at_k(scores, correct, k) == pytest.approx(float(brute_best(scores, correct, k)), abs=1e-12)


def test_maj_at_k_on_64_samples_by_hand():
    answers = ["a"] * 20 + ["b"] * 20 + ["c"] * 14 + [None] * 10
    correct = [a == "a" for a in answers]
    assert maj_at_k(answers, correct, 64) == 0.5  # all vote: a 20-20 tie between a (right) and b
    assert maj_at_k(answers, correct, 1) == pytest.approx(20 / 64)  # one sample: right iff it says "a"


@pytest.mark.parametrize("n,c", [(5, 0), (5, 5), (5, 2), (1, 1), (1, 0)])
def test_pass_at_k_edges(n, c):
    assert pass_at_k(n, c, n) == (1.0 if c else 0.0)  # k = n: pass iff any sample is correct
    assert pass_at_k(n, c, 1) == pytest.approx(c / n)


def test_pass_at_k_large_n_is_stable():
    # C(2000, 1000) overflows a float; the product form does not.
    assert pass_at_k(2000, 1, 1000) == pytest.approx(0.5)
    assert pass_at_k(2000, 0, 1000) == 0.0


@pytest.mark.parametrize("call", [
    lambda: pass_at_k(4, 1, 5),
    lambda: maj_at_k(["a"] * 4, [True] * 4, 5),
    lambda: best_at_k([0.0] * 4, [True] * 4, 5),
])
def test_k_larger_than_n_is_a_user_error(call):
    with pytest.raises(UserError, match=r"k=5 is larger than the number of samples per problem n=4"):
        call()


def test_invalid_arguments():
    with pytest.raises(UserError, match="k=0"):
        pass_at_k(4, 1, 0)
    with pytest.raises(ValueError, match="c=5"):
        pass_at_k(4, 5, 2)
    with pytest.raises(ValueError, match="answers has 2 entries"):
        maj_at_k(["a", "b"], [True, True, False], 1)
    with pytest.raises(ValueError, match="NaN"):
        best_at_k([0.0, float("nan")], [True, False], 1)


def test_maj_at_k_tie_rule_and_none():
    # k = n = 4: a 2-2 tie between a right and a wrong answer is worth 1/2.
    assert maj_at_k(["x", "x", "y", "y"], [True, True, False, False], 4) == 0.5
    # None never wins, even when it is the most common "answer".
    assert maj_at_k([None, None, None, "y"], [False, False, False, True], 4) == 1.0
    assert maj_at_k([None, None], [False, False], 1) == 0.0
    # c = 0 and c = n
    assert maj_at_k(["a", "b", "a"], [False] * 3, 2) == 0.0
    assert maj_at_k(["a", "a", "a"], [True] * 3, 2) == 1.0


def test_best_at_k_ties_in_score_split_credit():
    assert best_at_k([1.0, 1.0], [True, False], 2) == 0.5
    assert best_at_k([0.0, 1.0, 2.0], [True, False, False], 3) == 0.0
    assert best_at_k([0.0, 1.0, 2.0], [False, False, True], 1) == pytest.approx(1 / 3)


def test_distinct_count():
    assert distinct_count(["1", "2", "1", None, None]) == 2
    assert distinct_count([None, None]) == 0
    assert distinct_count([]) == 0
    assert distinct_count([17, 17, 3]) == 2


def test_bias_variance_by_hand():
    view = pass_at_k_bias_variance([0.0, 1.0, 0.5, 0.5], k=2)
    assert view["mean"] == 0.5
    assert view["variance"] == pytest.approx((0.25 + 0.25 + 0 + 0) / 4)
    assert view["jensen_bound"] == pytest.approx(0.75)
    # The observed pass@2 (each p -> 1 - (1 - p)^2) is 0.625: below the bound, by about C(2,2) * variance.
    observed = sum(1 - (1 - p) ** 2 for p in [0.0, 1.0, 0.5, 0.5]) / 4
    assert observed == 0.625 and view["jensen_bound"] - observed == pytest.approx(view["variance"])


def test_bias_variance_rejects_bad_input():
    with pytest.raises(ValueError, match="no problems"):
        pass_at_k_bias_variance([], k=2)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        pass_at_k_bias_variance([1.5], k=2)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=20), st.integers(1, 32))
def test_jensen_bound_bounds_mean_pass_at_k(ps, k):
    view = pass_at_k_bias_variance(ps, k)
    observed = sum(1 - (1 - p) ** k for p in ps) / len(ps)
    assert observed <= view["jensen_bound"] + 1e-12


@pytest.mark.parametrize("n,expected", [(1, [1]), (2, [1, 2]), (6, [1, 2, 4, 6]), (16, [1, 2, 4, 8, 16]),
                                        (17, [1, 2, 4, 8, 16, 17])])
def test_default_ks(n, expected):
    assert default_ks(n) == expected
