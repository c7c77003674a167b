import errno
import json
import os
import stat
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_tts.errors import UserError
from lm_eval_tts.merge import engine
from lm_eval_tts.merge.engine import iter_merged_tensors, merge_to_dir, merged_state_dict
from lm_eval_tts.merge.spec import MergeSpec
from tests.merge.checkpoints import CONFIG, load_dir, random_tensors

ALPHAS = [-1.25, -0.3, 0.0, 0.3, 1 / 3, 0.5, 0.9, 1.0, 1.7, 3.0]
FLOATS = [n for n in random_tensors(0) if n != "model.position_ids"]


def fp32_reference(weights, tensors):
    """sum_i w_i * x_i with each product and sum rounded to float32, in input order (numpy, by hand)."""
    total = None
    for w, x in zip(weights, tensors):
        term = np.float32(w) * x.float().numpy()
        total = term if total is None else total + term
    return np.asarray(total, dtype=np.float32)


def float64_truth(weights, tensors):
    return sum(w * x.double() for w, x in zip(weights, tensors))


@pytest.mark.parametrize("alpha", ALPHAS)
def test_float32_merge_equals_the_hand_computed_float32_sum(make_ckpt, alpha):
    late, early = make_ckpt("late", seed=1), make_ckpt("early", seed=2)
    a, b = load_dir(late), load_dir(early)
    merged = merged_state_dict(MergeSpec.from_alpha(str(late), str(early), alpha, "float32"))
    assert set(merged) == set(a) - {"lm_head.weight"} | {"lm_head.weight"}
    for name in FLOATS:
        assert merged[name].dtype == torch.float32
        np.testing.assert_array_equal(merged[name].numpy(), fp32_reference([alpha, 1 - alpha], [a[name], b[name]]))
        truth = float64_truth([alpha, 1 - alpha], [a[name], b[name]])
        scale = a[name].abs().double() * abs(alpha) + b[name].abs().double() * abs(1 - alpha)
        # rounding of the weight, of the product and of the sum: at most 3 half-ulps of the largest term
        assert ((merged[name].double() - truth).abs() <= 3 * 2**-24 * scale).all()
    assert torch.equal(merged["model.position_ids"], a["model.position_ids"])


@pytest.mark.parametrize("alpha", [-0.7, 0.25, 0.6, 1.3])
def test_bfloat16_inputs_are_accumulated_in_float32(make_ckpt, alpha):
    late, early = make_ckpt("late", seed=1, dtype=torch.bfloat16), make_ckpt("early", seed=2, dtype=torch.bfloat16)
    a, b = load_dir(late), load_dir(early)
    merged = merged_state_dict(MergeSpec.from_alpha(str(late), str(early), alpha, "float32"))
    for name in FLOATS:
        np.testing.assert_array_equal(merged[name].numpy(), fp32_reference([alpha, 1 - alpha], [a[name], b[name]]))
    in_bf16 = (a[FLOATS[1]] * alpha + b[FLOATS[1]] * (1 - alpha)).float()  # what bf16 arithmetic would give
    assert not torch.equal(merged[FLOATS[1]], in_bf16)


def bracketing(truth: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """The two adjacent `dtype` values around each float64 value (both are within 1 ulp of its correct rounding)."""
    near = truth.to(dtype)
    up = torch.nextafter(near, torch.full_like(near, float("inf")))
    down = torch.nextafter(near, torch.full_like(near, float("-inf")))
    below = near.double() <= truth
    return torch.where(below, near, down).double(), torch.where(below, up, near).double()


def assert_half_precision_merge(got, weights, inputs):
    """Equal to the float32 reference rounded once to `got.dtype`, and within 1 ulp of the correctly rounded exact
    value wherever the terms do not cancel to below 2^-12 of their size (there float32 accumulation itself, the
    method the issue asks for, is the limit: its absolute error 3 * 2^-24 * |terms| can exceed a half-ulp)."""
    assert torch.equal(got, torch.from_numpy(fp32_reference(weights, inputs)).to(got.dtype))
    truth = float64_truth(weights, inputs)
    scale = sum(abs(w) * x.double().abs() for w, x in zip(weights, inputs))
    lo, hi = bracketing(truth, got.dtype)
    conditioned = truth.abs() >= 2**-12 * scale
    assert conditioned.float().mean() > 0.99
    inside = (lo <= got.double()) & (got.double() <= hi)
    assert inside[conditioned].all()


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("alpha", [-0.4, 0.3, 0.77, 1.9])
def test_half_precision_outputs_are_within_one_ulp_of_correct_rounding(make_ckpt, dtype, alpha):
    late, early = make_ckpt("late", seed=3), make_ckpt("early", seed=4)
    a, b = load_dir(late), load_dir(early)
    merged = merged_state_dict(MergeSpec.from_alpha(str(late), str(early), alpha, str(dtype).split(".")[1]))
    for name in FLOATS:
        assert merged[name].dtype == dtype
        assert_half_precision_merge(merged[name], [alpha, 1 - alpha], [a[name], b[name]])
    assert merged["model.position_ids"].dtype == torch.int64


@pytest.mark.parametrize("weights", [(0.5, 0.3, 0.2), (1.5, -0.25, -0.25), (0.1, 0.0, 2.0)])
def test_n_way_weighted_sum(make_ckpt, weights):
    paths = [make_ckpt(f"c{i}", seed=10 + i) for i in range(3)]
    loaded = [load_dir(p) for p in paths]
    merged = merged_state_dict(MergeSpec(tuple(map(str, paths)), weights, "float32"))
    for name in FLOATS:
        used = [(w, t[name]) for w, t in zip(weights, loaded) if w != 0]  # zero weights contribute nothing
        expected = fp32_reference([w for w, _ in used], [x for _, x in used])
        np.testing.assert_array_equal(merged[name].numpy(), expected)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("alpha", ALPHAS)
def test_merging_a_model_with_itself_returns_it_unchanged(make_ckpt, dtype, alpha):
    model = make_ckpt("m", seed=7, dtype=dtype)
    copy = make_ckpt("copy", seed=7, dtype=dtype)  # same bytes, other dir
    expected = load_dir(model)
    for other in (model, copy):
        merged = merged_state_dict(MergeSpec.from_alpha(str(model), str(other), alpha, "auto"))
        for name, tensor in expected.items():
            assert merged[name].dtype == tensor.dtype and torch.equal(merged[name], tensor), (name, alpha)


@pytest.mark.parametrize("alpha, source", [(0.0, "early"), (1.0, "late")])
def test_alpha_zero_and_one_give_the_inputs(make_ckpt, alpha, source):
    paths = {"late": make_ckpt("late", seed=1), "early": make_ckpt("early", seed=2)}
    merged = merged_state_dict(MergeSpec.from_alpha(str(paths["late"]), str(paths["early"]), alpha, "float32"))
    expected = load_dir(paths[source])
    assert merged.keys() == expected.keys()
    assert all(torch.equal(merged[n], t) for n, t in expected.items())


def test_frozen_tensor_stays_bit_identical_under_extrapolation(make_ckpt):
    a = random_tensors(1)
    b = random_tensors(2)
    b["model.embed_tokens.weight"] = a["model.embed_tokens.weight"].clone()
    late, early = make_ckpt("late", tensors=a), make_ckpt("early", tensors=b)
    merged = merged_state_dict(MergeSpec.from_alpha(str(late), str(early), 1.37))
    assert torch.equal(merged["model.embed_tokens.weight"], a["model.embed_tokens.weight"])


def test_sharded_inputs_and_output_with_different_layouts(make_ckpt, tmp_path):
    names = sorted(random_tensors(0))
    late = make_ckpt("late", seed=1, shards=[names[:2], names[2:]])
    early = make_ckpt("early", seed=2, shards=[names[:1], names[1:4], names[4:]])
    single = make_ckpt("single", seed=2)
    spec = MergeSpec.from_alpha(str(late), str(early), 0.6, "bfloat16")
    in_memory = merged_state_dict(spec)
    assert all(torch.equal(in_memory[n], t) for n, t in merged_state_dict(
        MergeSpec.from_alpha(str(late), str(single), 0.6, "bfloat16")).items())
    out = merge_to_dir(spec, tmp_path / "out", max_shard_size=700)
    shards = sorted(out.glob("*.safetensors"))
    assert len(shards) > 2
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert set(index["weight_map"].values()) == {s.name for s in shards}
    written = load_dir(out)
    assert written.keys() == in_memory.keys() and all(torch.equal(written[n], t) for n, t in in_memory.items())


def test_tiny_models_merge_to_a_complete_checkpoint_dir(tiny_model_dir, tiny_model_dir_b, tmp_path):
    spec = MergeSpec.from_alpha(str(tiny_model_dir), str(tiny_model_dir_b), 0.4, "bfloat16")
    out = merge_to_dir(spec, tmp_path / "merged", progress=False)
    a, b, written = load_dir(tiny_model_dir), load_dir(tiny_model_dir_b), load_dir(out)
    assert written.keys() == a.keys()
    for name in a:
        assert_half_precision_merge(written[name], [0.4, 0.6], [a[name], b[name]])
    config = json.loads((out / "config.json").read_text())
    assert config["dtype"] == "bfloat16"
    assert {k: v for k, v in config.items() if k != "dtype"} == {
        k: v for k, v in json.loads((tiny_model_dir / "config.json").read_text()).items() if k != "dtype"}
    for side in ("tokenizer.json", "tokenizer_config.json", "generation_config.json"):
        assert (out / side).read_bytes() == (tiny_model_dir / side).read_bytes()
    manifest = json.loads((out / engine.MANIFEST_NAME).read_text())
    assert manifest["weights"] == [0.4, 0.6] and manifest["dtype"] == "bfloat16"
    assert [p.name for p in tmp_path.iterdir()] == ["merged"]


def test_streaming_yields_hf_names_one_at_a_time(make_ckpt):
    late, early = make_ckpt("late", seed=1), make_ckpt("early", seed=2)
    stream = iter_merged_tensors(MergeSpec.from_alpha(str(late), str(early), 0.5))
    name, tensor = next(stream)
    assert name in random_tensors(0) and isinstance(tensor, torch.Tensor)
    assert len(list(stream)) == len(random_tensors(0)) - 1


# ---- tied embeddings -------------------------------------------------------------------------------------------
def tied(seed, store_head=False):
    tensors = random_tensors(seed)
    if store_head:
        tensors["lm_head.weight"] = tensors["model.embed_tokens.weight"].clone()
    else:
        del tensors["lm_head.weight"]
    return tensors


def test_tied_inputs_give_a_tied_output_even_if_one_stores_lm_head(make_ckpt, tmp_path):
    config = dict(CONFIG, tie_word_embeddings=True)
    late = make_ckpt("late", tensors=tied(1), config=config)
    early = make_ckpt("early", tensors=tied(2, store_head=True), config=config)
    out = merge_to_dir(MergeSpec.from_alpha(str(late), str(early), 0.5), tmp_path / "out")
    written = load_dir(out)
    assert "lm_head.weight" not in written
    assert json.loads((out / "config.json").read_text())["tie_word_embeddings"] is True
    a, b = load_dir(late), load_dir(early)
    name = "model.embed_tokens.weight"
    np.testing.assert_array_equal(written[name].numpy(), fp32_reference([0.5, 0.5], [a[name], b[name]]))


def test_tied_and_untied_inputs_give_an_untied_output_with_the_embedding_standing_in(make_ckpt, tmp_path):
    late = make_ckpt("late", tensors=tied(1), config=dict(CONFIG, tie_word_embeddings=True))
    early = make_ckpt("early", seed=2)  # untied: its own lm_head.weight
    out = merge_to_dir(MergeSpec.from_alpha(str(late), str(early), 0.7), tmp_path / "out")
    written, a, b = load_dir(out), load_dir(late), load_dir(early)
    assert json.loads((out / "config.json").read_text())["tie_word_embeddings"] is False
    expected_head = fp32_reference([0.7, 0.3], [a["model.embed_tokens.weight"], b["lm_head.weight"]])
    np.testing.assert_array_equal(written["lm_head.weight"].numpy(), expected_head)


# ---- every mismatch is one clear error ------------------------------------------------------------------------
def _with(seed, **changes):
    tensors = random_tensors(seed)
    for name, value in changes.items():
        name = name.replace("__", ".")
        if value is None:
            del tensors[name]
        else:
            tensors[name] = value
    return tensors


@pytest.mark.parametrize(
    "tensors, config, message",
    [
        (_with(2, model__layers__1__mlp__weight=None), None,
         r"tensor 'model.layers.1.mlp.weight' is in .*late but missing from .*early"),
        (_with(2, model__extra=torch.zeros(2)), None, r"tensor 'model.extra' is in .*early but not in .*late"),
        (_with(2, model__layers__0__mlp__weight=torch.zeros(8, 25)), None,
         r"tensor 'model.layers.0.mlp.weight' has shape \[8, 24\] in .*late but \[8, 25\] in .*early"),
        (_with(2, model__position_ids=torch.arange(12, dtype=torch.int32)), None,
         r"tensor 'model.position_ids' is torch.int64 in .*late but torch.int32 in .*early"),
        (_with(2, model__scale=torch.tensor(1, dtype=torch.int64)), None, r"tensor 'model.scale' is torch.float32"),
        (_with(2, model__position_ids=torch.arange(12, dtype=torch.int64) + 1), None,
         r"non-float tensor 'model.position_ids' differs between .*late and .*early"),
        (None, dict(CONFIG, vocab_size=32), r"config field vocab_size differs: 16 in .*late but 32 in .*early"),
        (None, dict(CONFIG, architectures=["Qwen2ForCausalLM"]), r"config field architectures differs"),
        (None, dict(CONFIG, text_config={"hidden_size": 9}), None),
    ],
)
def test_mismatches_raise_one_clear_error(make_ckpt, tensors, config, message):
    late = make_ckpt("late", seed=1, config=dict(CONFIG, text_config={"hidden_size": 8}))
    early = make_ckpt("early", seed=2, tensors=tensors, config=config)
    spec = MergeSpec.from_alpha(str(late), str(early), 0.5)
    with pytest.raises(UserError, match=message or r"config field text_config.hidden_size differs: 8 .* but 9"):
        merged_state_dict(spec)


# ---- output dir safety -----------------------------------------------------------------------------------------
def test_existing_output_is_refused_unless_forced(make_ckpt, tmp_path):
    late, early = make_ckpt("late", seed=1), make_ckpt("early", seed=2)
    spec = MergeSpec.from_alpha(str(late), str(early), 0.5)
    out = tmp_path / "out"
    out.mkdir()
    (out / "old").write_text("x")
    with pytest.raises(UserError, match="already exists"):
        merge_to_dir(spec, out)
    merge_to_dir(spec, out, overwrite=True)
    assert not (out / "old").exists() and (out / "model.safetensors").is_file()
    with pytest.raises(UserError, match="is one of the inputs"):
        merge_to_dir(spec, early, overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["early", "late", "out"]


@pytest.mark.parametrize("umask, dir_mode, file_mode", [(0o022, 0o755, 0o644), (0o077, 0o700, 0o600),
                                                       (0o002, 0o775, 0o664)])
def test_output_gets_the_permissions_of_the_users_umask(make_ckpt, tmp_path, umask, dir_mode, file_mode):
    """The staging dir comes from tempfile.mkdtemp (0700); the published dir must look like a plain mkdir's."""
    late, early = make_ckpt("late", seed=1, side_files={"tokenizer.json": "{}"}), make_ckpt("early", seed=2)
    old = os.umask(umask)
    try:
        out = merge_to_dir(MergeSpec.from_alpha(str(late), str(early), 0.5), tmp_path / "out")
    finally:
        os.umask(old)
    assert stat.S_IMODE(out.stat().st_mode) == dir_mode
    assert {stat.S_IMODE(f.stat().st_mode) for f in out.iterdir()} == {file_mode}


def test_disk_full_mid_merge_is_reported_and_leaves_nothing(make_ckpt, tmp_path, monkeypatch):
    late, early = make_ckpt("late", seed=1), make_ckpt("early", seed=2)
    real_write = engine.write_shards

    def write_until_full(out_dir, slots, tensors, *args, **kwargs):
        def failing():
            for i, item in enumerate(tensors):
                if i == 3:
                    raise OSError(errno.ENOSPC, "No space left on device")
                yield item
        return real_write(out_dir, slots, failing(), *args, **kwargs)

    monkeypatch.setattr(engine, "write_shards", write_until_full)
    with pytest.raises(UserError, match="disk full while writing the merged checkpoint .*out"):
        merge_to_dir(MergeSpec.from_alpha(str(late), str(early), 0.5), tmp_path / "out", max_shard_size=500)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["early", "late"]


def test_too_little_free_space_is_refused_before_writing(make_ckpt, tmp_path, monkeypatch):
    late, early = make_ckpt("late", seed=1), make_ckpt("early", seed=2)
    monkeypatch.setattr(engine.shutil, "disk_usage", lambda p: type("U", (), {"free": 10})())
    with pytest.raises(UserError, match="not enough disk space"):
        merge_to_dir(MergeSpec.from_alpha(str(late), str(early), 0.5), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_output_under_a_file_is_a_clear_error(make_ckpt, tmp_path):
    late, early = make_ckpt("late", seed=1), make_ckpt("early", seed=2)
    (tmp_path / "blocker").write_text("")
    with pytest.raises(UserError, match="a file is in the way"):
        merge_to_dir(MergeSpec.from_alpha(str(late), str(early), 0.5), tmp_path / "blocker" / "out")


# ---- the core sum, property-tested against numpy ---------------------------------------------------------------
@settings(max_examples=150, deadline=None)
@given(
    weights=st.lists(st.floats(-4, 4, allow_nan=False, width=64), min_size=1, max_size=4),
    length=st.integers(0, 40),
    in_dtype=st.sampled_from([torch.float32, torch.bfloat16, torch.float16]),
    out_dtype=st.sampled_from([torch.float32, torch.bfloat16, torch.float16]),
    seed=st.integers(0, 2**16),
)
def test_weighted_sum_matches_float32_reference_across_chunk_boundaries(weights, length, in_dtype, out_dtype, seed):
    g = torch.Generator().manual_seed(seed)
    inputs = [(torch.randn(length, generator=g) * 4).to(in_dtype) for _ in weights]
    expected = torch.from_numpy(fp32_reference(weights, inputs)).to(out_dtype)
    with mock.patch.object(engine, "CHUNK_ELEMENTS", 7):
        got = engine.weighted_sum([(w, x.clone()) for w, x in zip(weights, inputs)], out_dtype)
    assert got.dtype == out_dtype and torch.equal(got, expected)


def test_non_float_mismatch_stops_the_stream_before_any_float_tensor(make_ckpt):
    a, b = random_tensors(1), random_tensors(2)
    a["z.mask"], b["z.mask"] = torch.tensor([True, False]), torch.tensor([True, True])  # stored last in the file
    late, early = make_ckpt("late", tensors=a), make_ckpt("early", tensors=b)
    stream = iter_merged_tensors(MergeSpec.from_alpha(str(late), str(early), 0.5))
    assert next(stream)[0] == "model.position_ids"
    with pytest.raises(UserError, match="non-float tensor 'z.mask' differs"):
        next(stream)
