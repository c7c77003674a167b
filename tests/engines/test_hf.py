"""HFEngine end to end on real transformers models: FIRE statistics, reproducibility, stops, EOS, log-probs."""

import numpy as np
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from lm_eval_tts.engines.base import Generation, GenRequest, SamplingSettings
from lm_eval_tts.engines.hf import HFEngine
from lm_eval_tts.errors import UserError
from lm_eval_tts.sampling.fire import FireParams, hot_distribution

PROMPTS = ["Question: what is 2+2?\nAnswer:", "The capital of France is", "def f(x):\n    return", "1, 2, 3, 4,"]


@pytest.fixture(scope="module")
def engine(tiny_model_dir):
    return HFEngine(tiny_model_dir, dtype="float32", batch_size=16, progress=False)


@pytest.fixture(scope="module")
def wide_engine(engine):
    """Same model object, bigger batches: for tests that draw hundreds of one-token samples."""
    return HFEngine(engine.model, engine.tokenizer, batch_size=256, progress=False)


def _ids(engine, text):
    return tuple(engine.tokenizer(text).input_ids)


def _next_token_logits(engine, ids):
    with torch.no_grad():
        return engine.model(torch.tensor([ids])).logits[0, -1]


def _hf_greedy(engine, ids, max_new_tokens):
    """Plain transformers greedy decoding: the reference the engine must match."""
    out = engine.model.generate(
        torch.tensor([ids]),
        attention_mask=torch.ones((1, len(ids)), dtype=torch.long),
        do_sample=False,
        max_new_tokens=max_new_tokens,
        pad_token_id=engine.pad_id,
    )
    return out[0, len(ids) :].tolist()


def test_fire_first_tokens_are_far_more_diverse_and_inside_the_raw_top_k(engine):
    settings = SamplingSettings(max_new_tokens=3, temperature=0.2)
    fire = FireParams(temperature=30.0, top_k=16)
    distinct_regular, distinct_fire = [], []
    for seed, text in enumerate(PROMPTS):
        ids = _ids(engine, text)
        regular = engine.generate([GenRequest(ids, 32, settings, seed)], None)[0]
        fired = engine.generate([GenRequest(ids, 32, settings, seed)], fire)[0]
        top16 = set(torch.topk(_next_token_logits(engine, ids), 16).indices.tolist())
        assert all(g.hot_token_id == g.token_ids[0] and g.hot_token_id in top16 for g in fired)
        assert all(g.hot_token_id is None for g in regular)
        distinct_regular.append(len({g.token_ids[0] for g in regular}))
        distinct_fire.append(len({g.token_ids[0] for g in fired}))
    # 32 draws from a near-uniform top-16 hit ~14 distinct tokens; temperature 0.2 concentrates on a few.
    assert min(distinct_fire) >= 11
    assert sum(distinct_fire) >= 2 * sum(distinct_regular)


def test_tokens_after_the_hot_token_follow_the_regular_settings(engine):
    ids = _ids(engine, PROMPTS[0])
    greedy = SamplingSettings(max_new_tokens=10, temperature=0.0)
    samples = engine.generate([GenRequest(ids, 6, greedy, 1)], FireParams())[0]
    assert len({g.hot_token_id for g in samples}) > 1
    for g in samples:
        assert list(g.token_ids[1:]) == _hf_greedy(engine, ids + (g.hot_token_id,), 9)


def test_hot_token_frequencies_match_softmax_over_top_k_over_t(wide_engine):
    ids = _ids(wide_engine, PROMPTS[1])
    fire = FireParams(temperature=0.5, top_k=8)
    n = 800
    samples = wide_engine.generate([GenRequest(ids, n, SamplingSettings(max_new_tokens=1), 17)], fire)[0]
    logits = _next_token_logits(wide_engine, ids).double()
    top_ids, probs = hot_distribution(np.arange(len(logits)), logits.numpy(), fire.temperature, fire.top_k)
    drawn = [g.hot_token_id for g in samples]
    counts = np.array([drawn.count(int(t)) for t in top_ids])
    assert counts.sum() == n
    assert probs.max() < 0.6 and probs.min() > 0.02  # the test has a non-trivial shape to detect
    chi2 = ((counts - probs * n) ** 2 / (probs * n)).sum()
    assert chi2 < 24.3  # 7 degrees of freedom: p < 0.001 above this


@pytest.fixture(scope="module")
def newline_engine(tiny_model_dir):
    """The tiny model with a bias towards "\\n" (it writes many short lines), so line N arrives within a few tokens."""
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    head = torch.nn.Linear(model.config.hidden_size, model.config.vocab_size, bias=True)
    with torch.no_grad():
        head.weight.copy_(model.lm_head.weight)
        head.bias.zero_()
        head.bias[tokenizer.convert_tokens_to_ids("Ċ")] = 12.0
    model.lm_head = head
    return HFEngine(model, tokenizer, progress=False)


def test_fire_at_line_n_keeps_earlier_lines_and_puts_the_hot_token_where_line_n_starts(newline_engine):
    engine = newline_engine
    ids = _ids(engine, "1.\n2.\n3.\n")
    settings = SamplingSettings(max_new_tokens=10, temperature=1.0)
    regular = engine.generate([GenRequest(ids, 16, settings, 5)], None)[0]
    reached = 0
    for line in (2, 4):
        fired = engine.generate([GenRequest(ids, 16, settings, 5)], FireParams(line=line))[0]
        for reg, hot in zip(regular, fired):
            newlines = [engine.tokenizer.decode(reg.token_ids[: i + 1]).count("\n") for i in range(len(reg.token_ids))]
            line_end = next((i for i, count in enumerate(newlines) if count >= line - 1), None)
            if line_end is None or line_end + 1 == len(reg.token_ids):
                assert hot.hot_token_id is None and hot.token_ids == reg.token_ids  # never reached line N
                continue
            reached += 1
            start = line_end + 1
            assert hot.token_ids[:start] == reg.token_ids[:start]  # lines before N exactly as regular sampling
            assert hot.hot_token_id == hot.token_ids[start]
            assert engine.tokenizer.decode(hot.token_ids[:line_end]).count("\n") < line - 1
    assert 8 <= reached < 32  # both cases (line N reached or not) occur


def test_same_seed_same_samples_other_seed_other_samples_and_n_samples_distinct(engine):
    ids = _ids(engine, PROMPTS[2])
    settings = SamplingSettings(max_new_tokens=4, temperature=1.0)
    for fire in (None, FireParams()):
        a = engine.generate([GenRequest(ids, 8, settings, 42)], fire)[0]
        b = engine.generate([GenRequest(ids, 8, settings, 42)], fire)[0]
        c = engine.generate([GenRequest(ids, 8, settings, 43)], fire)[0]
        assert [g.token_ids for g in a] == [g.token_ids for g in b]
        assert [g.token_ids for g in a] != [g.token_ids for g in c]
        assert len({g.token_ids for g in a}) == 8


def test_samples_do_not_depend_on_batch_composition(engine, tiny_model_dir):
    settings = SamplingSettings(max_new_tokens=5, temperature=0.8, top_p=0.95)
    target = GenRequest(_ids(engine, PROMPTS[3]), 3, settings, 7)
    others = [GenRequest(_ids(engine, text * 3), 2, settings, i) for i, text in enumerate(PROMPTS)]
    small_batches = HFEngine(engine.model, engine.tokenizer, batch_size=2, progress=False)
    for fire in (None, FireParams()):
        alone = engine.generate([target], fire)[0]
        mixed = engine.generate(others[:2] + [target] + others[2:], fire)[2]
        split = small_batches.generate([others[0], target], fire)[1]
        assert [g.token_ids for g in alone] == [g.token_ids for g in mixed] == [g.token_ids for g in split]


def test_temperature_zero_is_greedy_for_every_sample(engine):
    ids = _ids(engine, PROMPTS[0])
    samples = engine.generate([GenRequest(ids, 3, SamplingSettings(max_new_tokens=12, temperature=0.0), 0)], None)[0]
    expected = _hf_greedy(engine, ids, 12)
    assert all(list(g.token_ids) == expected for g in samples)
    assert samples[0] == engine.tokenizer.decode(expected, skip_special_tokens=True)


def test_stop_string_ends_generation_and_is_cut_from_the_text(engine):
    ids = _ids(engine, PROMPTS[1])
    greedy = SamplingSettings(max_new_tokens=20, temperature=0.0)
    full = engine.generate([GenRequest(ids, 1, greedy, 0)], None)[0][0]
    stop = full[len(full) // 2 : len(full) // 2 + 4]
    stopped = engine.generate(
        [GenRequest(ids, 1, SamplingSettings(max_new_tokens=20, temperature=0.0, stop=("@@never@@", stop)), 0)], None
    )[0][0]
    assert stopped == full[: full.index(stop)]
    assert stopped.token_ids == full.token_ids[: len(stopped.token_ids)]
    assert stop in engine.tokenizer.decode(stopped.token_ids)  # up to and including the stopping token
    assert stop not in engine.tokenizer.decode(stopped.token_ids[:-1])


def test_eos_from_the_model_generation_config_ends_the_response(engine, tiny_model_dir):
    ids = _ids(engine, PROMPTS[0])
    greedy = _hf_greedy(engine, ids, 6)
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.generation_config.eos_token_id = [engine.tokenizer.eos_token_id, greedy[3]]
    eos_engine = HFEngine(model, tiny_model_dir, progress=False)
    out = eos_engine.generate([GenRequest(ids, 1, SamplingSettings(max_new_tokens=6, temperature=0.0), 0)], None)[0][0]
    assert list(out.token_ids) == greedy[: greedy.index(greedy[3]) + 1]


def test_a_hot_token_that_is_an_end_token_ends_the_sample(engine, tiny_model_dir):
    """top_k=1 makes the hot token the argmax; declare it an end token (generation_config): every sample is it."""
    ids = _ids(engine, PROMPTS[0])
    first = _hf_greedy(engine, ids, 1)[0]
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    model.generation_config.eos_token_id = [engine.tokenizer.eos_token_id, first]
    eos_engine = HFEngine(model, tiny_model_dir, progress=False)
    settings = SamplingSettings(max_new_tokens=8, temperature=1.0)
    samples = eos_engine.generate([GenRequest(ids, 4, settings, 0)], FireParams(top_k=1))[0]
    assert [g.token_ids for g in samples] == [(first,)] * 4 and all(g.hot_token_id == first for g in samples)


def test_a_prompt_longer_than_the_room_is_left_truncated_with_one_warning(engine, caplog):
    ids = _ids(engine, PROMPTS[1] * 12)
    short = HFEngine(engine.model, engine.tokenizer, max_model_len=24, progress=False)
    greedy = SamplingSettings(max_new_tokens=8, temperature=0.0)
    assert len(ids) > 16
    with caplog.at_level("WARNING", logger="lm_eval_tts.engines.base"):
        [[cut], [also_cut]] = short.generate([GenRequest(ids, 1, greedy, 0), GenRequest(ids[1:], 1, greedy, 0)],
                                             None)
    assert list(cut.token_ids) == list(also_cut.token_ids) == _hf_greedy(engine, ids[-16:], 8)
    [warning] = [r for r in caplog.records if "max_model_len=24" in r.getMessage()]
    assert "2 of 2 prompts" in warning.getMessage()
    assert engine.max_model_len == engine.model.config.max_position_embeddings


def test_max_gen_toks_that_leaves_no_room_for_a_prompt_is_a_user_error(engine):
    tight = HFEngine(engine.model, engine.tokenizer, max_model_len=8, progress=False)
    with pytest.raises(UserError, match="max_gen_toks=8 leaves no room"):
        tight.generate([GenRequest((1, 2), 1, SamplingSettings(max_new_tokens=8), 0)], None)


def test_max_new_tokens_and_per_request_settings_in_one_call(engine):
    ids = _ids(engine, PROMPTS[2])
    short_greedy = GenRequest(ids, 2, SamplingSettings(max_new_tokens=5, temperature=0.0), 0)
    long_sampled = GenRequest(ids, 2, SamplingSettings(max_new_tokens=9, temperature=1.0, top_k=50), 0)
    a, b = engine.generate([short_greedy, long_sampled], None)
    assert [len(g.token_ids) for g in a + b] == [5, 5, 9, 9]
    assert list(a[0].token_ids) == _hf_greedy(engine, ids, 5)
    assert all(isinstance(g, Generation) for g in a + b)


def test_mean_logprob_equals_a_forward_pass_recomputation(engine):
    ids = _ids(engine, PROMPTS[3])
    settings = SamplingSettings(max_new_tokens=6, temperature=0.7, top_k=40, top_p=0.9)
    for fire in (None, FireParams(temperature=30.0, top_k=16)):
        for g in engine.generate([GenRequest(ids, 3, settings, 11)], fire)[0]:
            full = torch.tensor([ids + g.token_ids])
            with torch.no_grad():
                logprobs = torch.log_softmax(engine.model(full).logits[0, len(ids) - 1 : -1].double(), -1)
            expected = logprobs.gather(-1, torch.tensor(g.token_ids).unsqueeze(-1)).mean().item()
            assert abs(g.mean_logprob - expected) < 1e-4


@pytest.mark.parametrize(
    "kwargs, argument",
    [({"batch_size": 0}, "batch_size"), ({"dtype": "fp8"}, "dtype")],
)
def test_bad_engine_options_are_user_errors(tiny_model_dir, kwargs, argument):
    with pytest.raises(UserError, match=argument):
        HFEngine(tiny_model_dir, progress=False, **kwargs)


def test_missing_checkpoint_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="pretrained"):
        HFEngine(tmp_path / "no-such-model", progress=False)


@pytest.mark.parametrize(
    "settings, argument",
    [
        (SamplingSettings(top_p=0.0), "top_p"),
        (SamplingSettings(temperature=-1.0), "temperature"),
        (SamplingSettings(max_new_tokens=0), "max_gen_toks"),
        (SamplingSettings(min_p=2.0), "min_p"),
    ],
)
def test_bad_sampling_settings_are_user_errors(engine, settings, argument):
    with pytest.raises(UserError, match=argument):
        engine.generate([GenRequest((1, 2, 3), 1, settings, 0)], None)


@pytest.mark.slow
def test_fire_on_smollm2_diversifies_the_first_token_and_fires_where_line_2_starts(smollm2_dir):
    engine = HFEngine(smollm2_dir, batch_size=16, progress=False)
    chat = [{"role": "user", "content": "List three fruits, one per line."}]
    text = engine.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    ids = tuple(engine.tokenizer(text, add_special_tokens=False).input_ids)
    first_token = SamplingSettings(max_new_tokens=1, temperature=0.5)
    regular = engine.generate([GenRequest(ids, 16, first_token, 3)], None)[0]
    fired = engine.generate([GenRequest(ids, 16, first_token, 3)], FireParams())[0]
    top16 = set(torch.topk(_next_token_logits(engine, ids), 16).indices.tolist())
    assert all(g.hot_token_id in top16 for g in fired)
    assert len({g.token_ids[0] for g in fired}) >= 2 * len({g.token_ids[0] for g in regular})

    settings = SamplingSettings(max_new_tokens=16, temperature=0.5)
    regular = engine.generate([GenRequest(ids, 8, settings, 3)], None)[0]
    line2 = engine.generate([GenRequest(ids, 8, settings, 3)], FireParams(line=2))[0]
    reached = 0
    for g, reg in zip(line2, regular):  # sample j has the same random stream in both calls
        decoded = [engine.tokenizer.decode(reg.token_ids[:i]) for i in range(len(reg.token_ids) + 1)]
        start = next((i for i, prefix in enumerate(decoded) if "\n" in prefix), None)
        if start is None or start == len(reg.token_ids):
            assert g.hot_token_id is None
            continue
        reached += 1
        assert g.token_ids[:start] == reg.token_ids[:start]
        assert g.hot_token_id == g.token_ids[start]
    assert reached >= 4
