"""FIRE on the real SmolLM2-135M-Instruct through vLLM: the mid-answer variant (fire_at=line:N) on real prompts."""

import pytest

from lm_eval_tts.engines.base import GenRequest, SamplingSettings
from lm_eval_tts.sampling.fire import FireParams

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
    first_line = reference.split("\n")[0]
    [group] = engine.generate([GenRequest(prompt, 8, greedy, seed=1)], FireParams(line=2))
    cut = len(engine.tokenizer(first_line + "\n", add_special_tokens=False)["input_ids"])
    for sample in group:
        assert sample.startswith(first_line + "\n")  # line 1 is the regular (greedy) line 1
        assert sample.hot_token_id is not None
        # the hot token is the first token after the first newline; everything after it is regular (greedy)
        position = sample.token_ids.index(sample.hot_token_id, cut - 1)
        assert engine.tokenizer.decode(sample.token_ids[:position]).count("\n") == 1
        rest = SamplingSettings(max_new_tokens=40 - position - 1, temperature=0.0, stop=("<|im_end|>",))
        [[tail]] = engine.generate([GenRequest(prompt + sample.token_ids[:position + 1], 1, rest, seed=2)], None)
        assert sample.token_ids[position + 1:] == tail.token_ids
    assert len({s.hot_token_id for s in group}) >= 4


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
