"""FireSampler and its pieces on hand-made logits: warping, per-row draws, where the hot token lands."""

import numpy as np
import pytest
import torch
from transformers import (
    LogitsProcessorList,
    MinPLogitsWarper,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from lm_eval_tts.engines.base import SamplingSettings
from lm_eval_tts.sampling.fire import FireParams, hot_distribution
from lm_eval_tts.sampling.hf_processor import (
    NOT_HOT,
    FireSampler,
    draw_from_weights,
    draw_hot_token,
    regular_log_weights,
)

VOCAB = 50


def _generators(*seeds):
    return [torch.Generator().manual_seed(s) for s in seeds]


def _hf_warped(logits, s: SamplingSettings):
    warpers = [TemperatureLogitsWarper(s.temperature)]
    if s.top_k:
        warpers.append(TopKLogitsWarper(s.top_k))
    if s.top_p < 1:
        warpers.append(TopPLogitsWarper(s.top_p))
    if s.min_p:
        warpers.append(MinPLogitsWarper(s.min_p))
    return LogitsProcessorList(warpers)(torch.zeros((logits.shape[0], 1), dtype=torch.long), logits.clone())


@pytest.mark.parametrize(
    "s",
    [
        SamplingSettings(temperature=0.7),
        SamplingSettings(temperature=1.3, top_k=7),
        SamplingSettings(temperature=0.5, top_p=0.8),
        SamplingSettings(temperature=1.0, min_p=0.05),
        SamplingSettings(temperature=0.9, top_k=20, top_p=0.9),
        SamplingSettings(temperature=0.9, top_k=20, min_p=0.02),
    ],
)
def test_regular_warping_matches_transformers_warpers_where_their_order_does_not_matter(s):
    logits = torch.randn((6, 300), generator=torch.Generator().manual_seed(0)) * 3
    ours = regular_log_weights(logits, s)
    theirs = _hf_warped(logits, s)
    assert torch.equal(torch.isinf(ours), torch.isinf(theirs))
    torch.testing.assert_close(torch.softmax(ours, -1), torch.softmax(theirs, -1))


def test_min_p_runs_before_top_p_as_in_vllm():
    """By hand: p = [.35, .25, .2, .1, .1]. min_p 0.5 keeps p >= .175 -> [.35, .25, .2], renormalised
    [.4375, .3125, .25]; top_p 0.7 then keeps the two tokens with mass before them < 0.7 (0 and .4375).
    transformers' order (top_p first: mass before .35, .6, .8 keeps three, then min_p) would keep three."""
    probs = torch.tensor([[0.35, 0.25, 0.2, 0.1, 0.1]], dtype=torch.float64)
    ours = regular_log_weights(torch.log(probs), SamplingSettings(temperature=1.0, top_p=0.7, min_p=0.5))
    torch.testing.assert_close(torch.softmax(ours, -1), torch.tensor([[0.35 / 0.6, 0.25 / 0.6, 0, 0, 0]],
                                                                     dtype=torch.float64))


def test_temperature_scales_before_min_p():
    """By hand: logits log([.5, .3, .2]) at T=2 give p ∝ sqrt(p) -> [.4154, .3218, .2628]; min_p 0.6 keeps
    p >= .2493 (all three), where min_p on the untempered p (>= .3) would drop the last one."""
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.2]], dtype=torch.float64))
    ours = regular_log_weights(logits, SamplingSettings(temperature=2.0, min_p=0.6))
    expected = torch.sqrt(torch.tensor([[0.5, 0.3, 0.2]], dtype=torch.float64))
    torch.testing.assert_close(torch.softmax(ours, -1), expected / expected.sum())


def test_top_p_always_keeps_the_most_likely_token():
    logits = torch.tensor([[5.0, 1.0, 0.0]])
    kept = ~torch.isinf(regular_log_weights(logits, SamplingSettings(temperature=1.0, top_p=1e-9)))
    assert kept.tolist() == [[True, False, False]]


def test_draw_from_weights_follows_the_distribution_and_skips_removed_tokens():
    log_weights = torch.log(torch.tensor([0.5, 0.0, 0.3, 0.2]))
    uniforms = torch.rand(20_000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    draws = draw_from_weights(log_weights.expand(len(uniforms), -1), uniforms)
    counts = torch.bincount(draws, minlength=4).double()
    assert counts[1] == 0
    expected = torch.tensor([0.5, 0.3, 0.2], dtype=torch.float64) * len(uniforms)
    chi2 = ((counts[[0, 2, 3]] - expected) ** 2 / expected).sum()
    assert chi2 < 16.0  # 2 degrees of freedom: p < 0.0004 above this


def test_draw_hot_token_matches_hot_distribution_frequencies():
    logits = torch.randn(VOCAB, generator=torch.Generator().manual_seed(2)) * 4
    fire = FireParams(temperature=2.0, top_k=6)
    ids, probs = hot_distribution(np.arange(VOCAB), logits.numpy(), fire.temperature, fire.top_k)
    rng = torch.Generator().manual_seed(3)
    draws = [draw_hot_token(logits, fire, float(torch.rand((), generator=rng))) for _ in range(6000)]
    assert set(draws) <= set(ids.tolist())
    counts = np.array([draws.count(int(i)) for i in ids])
    chi2 = ((counts - probs * len(draws)) ** 2 / (probs * len(draws))).sum()
    assert chi2 < 20.5  # 5 degrees of freedom: p < 0.001 above this


def _step(sampler, prompt, generated, logits):
    """One generate() step: the processor sees prompt + generated so far and picks the next token per row."""
    input_ids = torch.tensor([prompt + row for row in generated])
    scores = sampler(input_ids, logits.clone())
    assert torch.equal(torch.isinf(scores).sum(-1), torch.full((len(generated),), logits.shape[-1] - 1))
    return scores.argmax(-1).tolist()


def test_greedy_rows_take_argmax_and_the_hot_first_token_is_drawn_from_the_top_k():
    logits = torch.randn((32, VOCAB), generator=torch.Generator().manual_seed(4)) * 3
    fire = FireParams(temperature=30.0, top_k=5)
    sampler = FireSampler(SamplingSettings(temperature=0.0), fire, _generators(*range(32)), prompt_length=2)
    first = _step(sampler, [1, 2], [[]] * 32, logits)
    top5 = torch.topk(logits, 5).indices
    assert all(t in top5[r].tolist() for r, t in enumerate(first))
    assert len(set(first)) > 1 and sampler.hot_steps.tolist() == [0] * 32
    second = _step(sampler, [1, 2], [[t] for t in first], logits)
    assert second == logits.argmax(-1).tolist()  # regular settings (greedy) after the hot token
    assert sampler.hot_steps.tolist() == [0] * 32  # one hot token per row
    expected = torch.log_softmax(logits, -1).gather(-1, torch.tensor([first, second]).T)
    torch.testing.assert_close(sampler.token_logprobs(), expected)


def test_hot_token_lands_on_the_first_token_boundary_of_line_n():
    table = [0] * VOCAB
    table[10] = 1  # "\n"
    table[11] = 2  # "\n\n"
    table[12] = 1  # "\n   " (line 2 starts inside the token)
    fire = FireParams(line=2)
    sampler = FireSampler(SamplingSettings(temperature=0.0), fire, _generators(0, 1, 2, 3), 1, newline_table=table)
    logits = torch.zeros((4, VOCAB))
    histories = [[3, 10, 4], [11, 4, 4], [5, 6, 12], [3, 4, 5]]
    hot_at = []
    for step in range(4):
        _step(sampler, [1], [h[:step] for h in histories], logits)
        hot_at.append(sampler.hot_steps.tolist())
    assert hot_at[-1] == [2, 1, 3, NOT_HOT]
    assert hot_at[1] == [NOT_HOT, 1, NOT_HOT, NOT_HOT]  # nothing fires before its line starts


def test_a_token_skipping_past_line_n_puts_the_hot_token_right_after_it():
    table = [0] * VOCAB
    table[11] = 2  # "\n\n": lines 2 and 3 start inside this token
    sampler = FireSampler(SamplingSettings(temperature=0.0), FireParams(line=2), _generators(0), 1, newline_table=table)
    for step, generated in enumerate([[], [4], [4, 11]]):
        _step(sampler, [1], [generated], torch.zeros((1, VOCAB)))
    assert sampler.hot_steps.tolist() == [2]


def test_fire_at_line_n_leaves_earlier_tokens_exactly_as_regular_sampling():
    table = [0] * VOCAB
    table[7] = 1
    logits = torch.randn((1, VOCAB), generator=torch.Generator().manual_seed(5))
    logits[0, 7] += 3.5  # make the newline likely
    settings = SamplingSettings(temperature=1.0)
    regular = FireSampler(settings, None, _generators(11), 1)
    fired = FireSampler(settings, FireParams(line=2), _generators(11), 1, newline_table=table)
    seq_regular, seq_fired = [], []
    for _ in range(12):
        seq_regular += _step(regular, [1], [seq_regular], logits)
        seq_fired += _step(fired, [1], [seq_fired], logits)
    hot = int(fired.hot_steps[0])
    assert 0 < hot < 12 and seq_regular[hot - 1] == 7 and 7 not in seq_regular[: hot - 1]
    assert seq_fired[:hot] == seq_regular[:hot]


def test_a_row_does_not_depend_on_the_other_rows_of_its_batch():
    logits = torch.randn((3, VOCAB), generator=torch.Generator().manual_seed(6))
    settings = SamplingSettings(temperature=0.8, top_p=0.9)
    together = FireSampler(settings, FireParams(temperature=5.0), _generators(21, 22, 23), 1)
    alone = FireSampler(settings, FireParams(temperature=5.0), _generators(22), 1)
    rows_together, row_alone = [[], [], []], [[]]
    for _ in range(6):
        for r, t in enumerate(_step(together, [1], rows_together, logits)):
            rows_together[r].append(t)
        row_alone[0] += _step(alone, [1], row_alone, logits[1:2])
    assert rows_together[1] == row_alone[0]


def test_line_n_needs_a_newline_table():
    with pytest.raises(ValueError, match="newline table"):
        FireSampler(SamplingSettings(), FireParams(line=3), _generators(0), 1)
