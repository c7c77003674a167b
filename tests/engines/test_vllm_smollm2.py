"""FIRE on the real SmolLM2-135M-Instruct through vLLM: the mid-answer variant (fire_at=line:N) on real prompts."""

import pytest

from lm_eval_tts.engines.base import GenRequest, SamplingSettings
from lm_eval_tts.sampling.fire import FireParams
from lm_eval_tts.sampling.lines import hot_index, newlines_per_token

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


@pytest.fixture(scope="module")
def engine(smollm2_dir, start_vllm_engine):
    eng = start_vllm_engine(smollm2_dir, max_model_len=1024)
    yield eng
    eng.close()


def _chat(engine, text):
    prompt = engine.tokenizer.apply_chat_template([{"role": "user", "content": text}], tokenize=False,
                                                  add_generation_prompt=True)
    return tuple(engine.tokenizer(prompt, add_special_tokens=False)["input_ids"])


def test_fire_at_line_2_keeps_line_1_and_heats_the_first_token_of_line_2(engine):
    prompt = _chat(engine, "List three colors, one per line, nothing else.")
    greedy = SamplingSettings(max_new_tokens=40, temperature=0.0, stop=("<|im_end|>",))
    [[reference]] = engine.generate([GenRequest(prompt, 1, greedy, seed=1)], None)
    assert "\n" in reference, reference
    table = newlines_per_token(engine.tokenizer, engine.llm.llm_engine.model_config.get_vocab_size())
    start = hot_index(reference.token_ids, table, 2)
    [group] = engine.generate([GenRequest(prompt, 8, greedy, seed=1)], FireParams(line=2))
    for sample in group:
        assert sample.token_ids[:start] == reference.token_ids[:start]  # line 1 is the regular (greedy) line 1
        assert sample.hot_token_id == sample.token_ids[start]
        # everything after the hot token is regular (greedy)
        rest = SamplingSettings(max_new_tokens=40 - start - 1, temperature=0.0, stop=("<|im_end|>",))
        [[tail]] = engine.generate([GenRequest(prompt + sample.token_ids[:start + 1], 1, rest, seed=2)], None)
        assert sample.token_ids[start + 1:] == tail.token_ids
    assert len({s.hot_token_id for s in group}) >= 4


def test_sampled_fire_at_line_2_matches_regular_sampling_up_to_line_2(engine):
    """With temperature 0.7 and the same seed, each sample is the regular one up to the first token of line 2."""
    prompt = _chat(engine, "Write three short lines about the sea.")
    settings = SamplingSettings(max_new_tokens=32, temperature=0.7, stop=("<|im_end|>",))
    table = newlines_per_token(engine.tokenizer, engine.llm.llm_engine.model_config.get_vocab_size())
    [regular] = engine.generate([GenRequest(prompt, 8, settings, seed=5)], None)
    [fired] = engine.generate([GenRequest(prompt, 8, settings, seed=5)], FireParams(line=2))
    reached = 0
    for reg, hot in zip(regular, fired):
        start = hot_index(reg.token_ids, table, 2)
        if start is None:
            assert hot.token_ids == reg.token_ids
            continue
        reached += 1
        assert hot.token_ids[:start] == reg.token_ids[:start] and hot.hot_token_id == hot.token_ids[start]
    assert reached >= 4


def test_first_token_diversity_on_real_gsm8k_prompts(engine):
    questions = ["Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                 "How many clips did Natalia sell altogether in April and May?",
                 "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
                 "How much did she earn?"]
    settings = SamplingSettings(max_new_tokens=2, temperature=0.7)
    requests = [GenRequest(_chat(engine, q + "\nPlease reason step by step."), 16, settings, seed=i)
                for i, q in enumerate(questions)]
    regular = [len({g.token_ids[0] for g in group}) for group in engine.generate(requests, None)]
    fire = [len({g.token_ids[0] for g in group}) for group in engine.generate(requests, FireParams())]
    assert all(f >= 2 * r and f >= 8 for f, r in zip(fire, regular)), (regular, fire)
