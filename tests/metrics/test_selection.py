"""Selection rules (majtop, bontop, Best-of-Majority) against brute-force enumeration of subsets and tie orders."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_tts.errors import UserError
from lm_eval_tts.metrics.selection import BOM, BONTOP, MAJTOP, MC_SUBSETS, Selection, selection_values


def brute_selection(answers, correct, scores, selection, threshold, n_drawn):
    """Every N-subset; in it, every ordering of the distinct answers that ranks them by the rule (ties in any
    order, all equally likely); submit the first k; an answer is judged by one of its drawn samples at random."""
    n = len(correct)
    total = Fraction(0)
    subsets = list(itertools.combinations(range(n), n_drawn))
    for subset in subsets:
        drawn = {}
        for i in subset:
            if answers[i] is not None:
                drawn.setdefault(answers[i], []).append(i)
        ranked = []
        for members in drawn.values():
            q = Fraction(sum(correct[i] for i in members), len(members))
            mean = None if selection.score is None else math.fsum(scores[selection.score][i] for i in members) / len(members)
            if selection.rule == MAJTOP:
                ranked.append((len(members), q))
            elif selection.rule == BONTOP:
                ranked.append((mean, q))
            elif Fraction(len(members), n_drawn) >= threshold:
                ranked.append((mean, q))
        orders = [p for p in itertools.permutations(ranked) if all(a[0] >= b[0] for a, b in zip(p, p[1:]))]
        if not orders:  # nothing to submit
            continue
        for order in orders:
            total += Fraction(1 - math.prod(1 - q for _, q in order[: selection.k]), len(orders))
    return total / len(subsets)


@st.composite
def problems(draw, max_n=7):
    """Small alphabets so that counts and scores tie often; None answers; a grader that is sometimes
    inconsistent (the same answer judged both ways)."""
    n = draw(st.integers(1, max_n))
    answers = draw(st.lists(st.sampled_from(["a", "b", "c", "d", None]), min_size=n, max_size=n))
    consistent = draw(st.booleans())
    verdict = {a: draw(st.booleans()) for a in "abcd"}
    if consistent:
        correct = [a is not None and verdict[a] for a in answers]
    else:
        correct = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    logprob = draw(st.lists(st.sampled_from([-1.0, -0.5, 0.0]), min_size=n, max_size=n))
    orm = draw(st.lists(st.sampled_from([0.0, 1.0, 2.5]), min_size=n, max_size=n))
    n_drawn = draw(st.integers(1, n))
    threshold = draw(st.sampled_from([Fraction(1, 8), Fraction(1, 4), Fraction(1, 3), Fraction(1, 2), Fraction(1)]))
    return answers, correct, {"logprob": logprob, "orm": orm}, n_drawn, threshold


ALL = [Selection(MAJTOP, k) for k in (1, 2, 3)] + [
    Selection(rule, k, score) for rule in (BONTOP, BOM) for score in ("logprob", "orm") for k in (1, 2, 3)]


@settings(max_examples=250, deadline=None)
@given(problems())
def test_every_rule_matches_brute_force(problem):
    answers, correct, scores, n_drawn, threshold = problem
    values = selection_values(answers, correct, scores, ALL, threshold=threshold, n_drawn=n_drawn)
    for selection, value in zip(ALL, values):
        expected = brute_selection(answers, correct, scores, selection, threshold, n_drawn)
        assert value == pytest.approx(float(expected), abs=1e-12), selection


def test_by_hand():
    # "7" three times (wrong, confident), "12" twice (right), "5" once (right by luck, most confident).
    answers = ["7", "7", "7", "12", "12", "5", None, None]
    correct = [False, False, False, True, True, True, False, False]
    logprob = [-0.2, -0.2, -0.2, -0.5, -0.5, -0.1, -3.0, -3.0]
    scores = {"logprob": logprob}
    chosen = [Selection(MAJTOP, 1), Selection(MAJTOP, 2), Selection(BONTOP, 1, "logprob"),
              Selection(BOM, 1, "logprob"), Selection(BOM, 2, "logprob"), Selection(BOM, 4, "logprob")]
    values = selection_values(answers, correct, scores, chosen, threshold=Fraction(1, 4))
    # majtop@1 submits "7"; @2 adds "12". bontop@1 submits "5" (mean -0.1). BoM keeps "7" (3/8) and "12" (2/8)
    # but not "5" (1/8): @1 submits "7" (-0.2 > -0.5), @2 both; @4 cannot pad beyond the two candidates.
    assert values == [0.0, 1.0, 1.0, 0.0, 1.0, 1.0]


def test_ties_split_the_credit():
    # Two answers, one vote each, equal scores: one submission picks either with probability 1/2.
    values = selection_values(["x", "y"], [True, False], {"s": [0.0, 0.0]},
                              [Selection(MAJTOP, 1), Selection(BONTOP, 1, "s"), Selection(BONTOP, 2, "s")])
    assert values == [0.5, 0.5, 1.0]


def test_only_unanswered_samples_score_zero():
    assert selection_values([None, None], [False, False], None, [Selection(MAJTOP, 2)]) == [0.0]


def test_monte_carlo_for_many_subsets_is_within_its_stated_error():
    answers = list("aabbbccdde") + [None] * 2
    correct = [a == "b" for a in answers]
    scores = {"s": [0.3, 0.1, -0.2, -0.2, 0.0, 0.9, 0.8, 0.5, -1.0, 0.4, 0.0, 0.0]}
    chosen = [Selection(BOM, 1, "s"), Selection(MAJTOP, 2), Selection(BONTOP, 1, "s")]
    exact = selection_values(answers, correct, scores, chosen, threshold=Fraction(1, 4), n_drawn=6)
    assert math.comb(12, 6) == 924
    sampled = selection_values(answers, correct, scores, chosen, threshold=Fraction(1, 4), n_drawn=6,
                               exact_subsets=100)  # forces the Monte Carlo path
    for e, s in zip(exact, sampled):
        assert abs(e - s) <= 4 * 0.5 / math.sqrt(MC_SUBSETS)
    assert sampled == selection_values(answers, correct, scores, chosen, threshold=Fraction(1, 4), n_drawn=6,
                                       exact_subsets=100)  # seeded: the same estimate every time


@pytest.mark.parametrize("kwargs,message", [
    ({"threshold": 0}, "bom_threshold=0: must be a fraction"),
    ({"threshold": 1.5}, "bom_threshold=1.5"),
    ({"threshold": "abc"}, "bom_threshold='abc'"),
    ({"n_drawn": 5}, "bom_samples=5 exceeds the samples per problem n=4"),
    ({"n_drawn": 0}, "bom_samples=0: must be a positive integer"),
])
def test_bad_options_are_user_errors(kwargs, message):
    with pytest.raises(UserError, match=message):
        selection_values(["a"] * 4, [True] * 4, None, [Selection(MAJTOP, 1)], **kwargs)


def test_missing_or_bad_scores():
    with pytest.raises(ValueError, match="ranks by score 'orm'"):
        selection_values(["a"], [True], {"logprob": [0.0]}, [Selection(BOM, 1, "orm")])
    with pytest.raises(ValueError, match="NaN"):
        selection_values(["a"], [True], {"s": [math.nan]}, [Selection(BOM, 1, "s")])
