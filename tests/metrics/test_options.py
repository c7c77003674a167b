"""Metric task options: defaults, values, and one-line errors for bad values and near-miss names."""

from __future__ import annotations

from fractions import Fraction

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.metrics.options import MetricOptions, parse_metric_options


def test_defaults_and_values():
    assert parse_metric_options(None, repeats=16) == MetricOptions(Fraction(1, 8), None, 1.0)
    options = parse_metric_options({"bom_threshold": 0.1, "bom_samples": 8, "fp_cost": 4, "repeats": 16,
                                    "pretrained": "/m"}, repeats=16)  # others' keys are left alone
    assert options == MetricOptions(Fraction(1, 10), 8, 4.0)  # 0.1 is exactly 1/10
    assert parse_metric_options({"bom_threshold": "1/4"}, repeats=4).bom_threshold == Fraction(1, 4)


@pytest.mark.parametrize("metadata,message", [
    ({"bom_treshold": 0.2}, "unknown task option 'bom_treshold' (did you mean 'bom_threshold'?)"),
    ({"fp_cots": 1}, "did you mean 'fp_cost'?"),
    ({"bom_threshold": 0}, "bom_threshold=0: must be a fraction of the samples in (0, 1]"),
    ({"bom_threshold": 2}, "bom_threshold=2"),
    ({"bom_samples": 32}, "bom_samples=32 exceeds the samples per problem n=16: lower bom_samples or raise repeats"),
    ({"bom_samples": 0}, "bom_samples=0: must be a positive integer"),
    ({"fp_cost": -1}, "fp_cost=-1: must be a number >= 0"),
    ({"fp_cost": "high"}, "fp_cost='high'"),
    ({"fp_cost": float("inf")}, "fp_cost=inf"),
])
def test_bad_options_are_one_line_user_errors(metadata, message):
    with pytest.raises(UserError) as info:
        parse_metric_options(metadata, repeats=16)
    assert message in str(info.value) and "\n" not in str(info.value)
