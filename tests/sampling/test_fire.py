"""The pure FIRE math: parameter validation, fire_at parsing, the hot distribution and its draws."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_tts.errors import UserError
from lm_eval_tts.sampling.fire import FireParams, draw_hot_token, hot_distribution, parse_fire_at


@pytest.mark.parametrize(
    "value, line",
    [(None, 1), ("", 1), ("  ", 1), ("line:1", 1), ("line:2", 2), ("line:12", 12), (" line:3 ", 3)],
)
def test_parse_fire_at_accepts_line_n(value, line):
    assert parse_fire_at(value) == line


@pytest.mark.parametrize(
    "value", ["line:0", "line:", "line:-1", "line:1.5", "line:02", "first", "2", "Line:2", "line: 2"]
)
def test_parse_fire_at_rejects_malformed_values_naming_the_argument(value):
    with pytest.raises(UserError, match="fire_at") as error:
        parse_fire_at(value)
    assert "line:2" in str(error.value)  # the message shows a valid example


@pytest.mark.parametrize("temperature", [0, -1.0, math.nan, math.inf, "30", None])
def test_fire_params_rejects_bad_temperature(temperature):
    with pytest.raises(UserError, match="fire_temperature"):
        FireParams(temperature=temperature)


@pytest.mark.parametrize("top_k", [0, -3, 1.5, "16", None])
def test_fire_params_rejects_bad_top_k(top_k):
    with pytest.raises(UserError, match="fire_top_k"):
        FireParams(top_k=top_k)


@pytest.mark.parametrize("line", [0, -1, 2.0])
def test_fire_params_rejects_bad_line(line):
    with pytest.raises(UserError, match="fire_at"):
        FireParams(line=line)


def test_fire_params_defaults_follow_the_paper():
    assert FireParams() == FireParams(temperature=30.0, top_k=16, line=1)


def _softmax(x):
    e = np.exp(x - np.max(x))
    return e / e.sum()


def test_hot_distribution_is_softmax_over_the_top_k_of_logits_over_t():
    logits = np.array([2.0, 5.0, -1.0, 4.0, 3.0, 0.5])
    ids = np.array([10, 11, 12, 13, 14, 15])
    top_ids, probs = hot_distribution(ids, logits, temperature=2.0, top_k=3)
    assert top_ids.tolist() == [11, 13, 14]  # most likely first
    np.testing.assert_allclose(probs, _softmax(np.array([5.0, 4.0, 3.0]) / 2.0), rtol=1e-12)


# Logits on a 1/8 grid: shifting them by a float keeps their order (no near-ties that rounding could swap).
logit_vectors = st.lists(st.integers(-240, 240), min_size=1, max_size=40).map(lambda v: np.array(v) / 8.0)


@settings(max_examples=200, deadline=None)
@given(logits=logit_vectors, temperature=st.floats(0.05, 100), top_k=st.integers(1, 50), shift=st.floats(-50, 50))
def test_hot_distribution_is_invariant_to_a_logprob_shift(logits, temperature, top_k, shift):
    ids = np.arange(len(logits)) + 7
    ids_a, probs_a = hot_distribution(ids, logits, temperature, top_k)
    logprobs = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
    ids_b, probs_b = hot_distribution(ids, logprobs + shift, temperature, top_k)
    assert ids_a.tolist() == ids_b.tolist()
    np.testing.assert_allclose(probs_a, probs_b, rtol=1e-9, atol=1e-12)
    assert len(ids_a) == min(top_k, len(logits))
    assert math.isclose(probs_a.sum(), 1.0, rel_tol=1e-12)
    # every kept token is at least as likely as every dropped one
    dropped = np.setdiff1d(ids, ids_a) - 7
    if len(dropped):
        assert logits[ids_a - 7].min() >= logits[dropped].max()


def test_hot_distribution_flattens_with_temperature_and_sharpens_without():
    logits = np.array([8.0, 6.0, 5.0, 1.0])
    _, hot = hot_distribution(np.arange(4), logits, temperature=1e6, top_k=3)
    np.testing.assert_allclose(hot, [1 / 3] * 3, atol=1e-5)
    _, cold = hot_distribution(np.arange(4), logits, temperature=0.01, top_k=3)
    assert cold[0] > 1 - 1e-12


def _draws(token_ids, logits, params, n, rng):
    return [draw_hot_token(token_ids, logits, params, rng) for _ in range(n)]


def test_draw_hot_token_frequencies_match_the_hot_distribution():
    logits = np.array([3.0, 2.5, 2.0, 1.0, 0.0, -1.0, -5.0])
    params = FireParams(temperature=1.5, top_k=5)
    ids, probs = hot_distribution(np.arange(7), logits, params.temperature, params.top_k)
    n = 20_000
    draws = _draws(np.arange(7), logits, params, n, np.random.default_rng(123))
    counts = np.array([draws.count(int(i)) for i in ids])
    assert counts.sum() == n  # nothing outside the top-k
    expected = probs * n
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 20.5  # chi-square, 4 degrees of freedom: p < 0.0004 above this


def test_successive_draws_from_one_generator_are_independent():
    draws = _draws(np.arange(100, 116), np.zeros(16), FireParams(top_k=16), 64, np.random.default_rng(5))
    assert len(set(draws)) > 8
    # consecutive draws are not correlated: pairs (a, b) spread over many combinations
    assert len(set(zip(draws, draws[1:]))) > 40


def test_draw_hot_token_is_reproducible_from_the_generator_seed():
    logits = np.linspace(0, 3, 20)
    params = FireParams(temperature=2.0, top_k=10)
    first = _draws(np.arange(20), logits, params, 32, np.random.default_rng(9))
    assert first == _draws(np.arange(20), logits, params, 32, np.random.default_rng(9))
    assert first != _draws(np.arange(20), logits, params, 32, np.random.default_rng(10))
