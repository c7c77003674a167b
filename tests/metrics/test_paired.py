"""Paired bootstrap against the exact bootstrap distribution (every resample of a small set), and by hand."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from lm_eval_tts.metrics.paired import RESAMPLES, paired_bootstrap, resampled_means


def exact_bootstrap_means(diffs):
    """Every ordered resample of the D problems (D^D of them, equally likely): its mean difference."""
    return [float(np.mean([diffs[i] for i in idx])) for idx in itertools.product(range(len(diffs)), repeat=len(diffs))]


@pytest.mark.parametrize("a,b", [
    ([0.0, 0.25, 1.0, 0.5, 0.0], [0.5, 0.25, 1.0, 1.0, 0.25]),
    ([1.0, 0.0, 0.5, 0.5, 0.0], [0.0, 0.25, 0.5, 0.25, 0.5]),
    ([0.0, 0.0, 0.0, 1.0, 1.0], [1.0, 1.0, 0.0, 0.0, 1.0]),
])
def test_matches_the_exact_bootstrap_distribution(a, b):
    diffs = [y - x for x, y in zip(a, b)]
    exact = np.array(exact_bootstrap_means(diffs))
    observed = float(np.mean(diffs))
    (result,) = paired_bootstrap([[x] for x in a], [[y] for y in b])
    assert result.diff == pytest.approx(observed) and result.problems == 5
    p_exact = float(np.mean(np.abs(exact - observed) >= abs(observed) - 1e-12))
    tolerance = 4 * math.sqrt(p_exact * (1 - p_exact) / RESAMPLES) + 2 / RESAMPLES
    assert abs(result.p_value - p_exact) <= tolerance
    # The interval's ends sit where the exact distribution has 2.5% / 97.5% of its mass (up to MC error).
    assert np.mean(exact < result.low - 1e-12) <= 0.025 + 0.01
    assert np.mean(exact > result.high + 1e-12) <= 0.025 + 0.01
    assert np.mean(exact <= result.low + 1e-12) >= 0.025 - 0.01
    assert np.mean(exact >= result.high - 1e-12) >= 0.025 - 0.01


def test_identical_runs_have_no_difference():
    values = [[0.5, 1.0], [0.25, 0.0], [1.0, 1.0]]
    for result in paired_bootstrap(values, values):
        assert (result.diff, result.low, result.high, result.p_value) == (0.0, 0.0, 0.0, 1.0)


def test_a_consistent_gain_is_significant_and_metrics_share_resamples():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 0.5, size=(200, 1))
    b = a + 0.1 + rng.normal(0, 0.05, size=(200, 1))
    two = np.hstack([a, a])
    (gain,) = paired_bootstrap(a, b)
    assert gain.low > 0.08 and gain.high < 0.12 and gain.p_value == pytest.approx(1 / (RESAMPLES + 1))
    first, second = paired_bootstrap(two, np.hstack([b, b]))
    assert first == second  # the same resamples for every metric
    assert paired_bootstrap(a, b) == [gain]  # seeded


def test_resampled_means_are_means_of_resamples():
    values = np.array([[1.0], [3.0]])
    means = resampled_means(values, 2000, seed=0)
    assert set(np.round(means[:, 0], 9)) <= {1.0, 2.0, 3.0}
    assert np.mean(means == 2.0) == pytest.approx(0.5, abs=0.05)


def test_bad_shapes():
    with pytest.raises(ValueError, match="one shape"):
        paired_bootstrap([[0.0]], [[0.0, 1.0]])
    with pytest.raises(ValueError, match="no shared problems"):
        paired_bootstrap(np.zeros((0, 1)), np.zeros((0, 1)))
