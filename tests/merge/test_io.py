import json
import shutil

import pytest
import torch

from lm_eval_tts.errors import UserError
from lm_eval_tts.merge.io import Checkpoint, resolve_checkpoint
from tests.merge.checkpoints import load_dir, random_tensors


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_reads_every_tensor_of_single_and_sharded_checkpoints(make_ckpt, dtype):
    tensors = random_tensors(3, dtype)
    tensors["mask"] = torch.tensor([True, False, True])
    names = sorted(tensors)
    single = make_ckpt("single", tensors=tensors)
    sharded = make_ckpt("sharded", tensors=tensors, shards=[names[:2], names[2:5], names[5:]])
    for path in (single, sharded):
        checkpoint = Checkpoint(str(path))
        assert set(checkpoint.tensors) == set(tensors)
        for name, expected in tensors.items():
            got = checkpoint.read(name)
            assert got.dtype == expected.dtype and got.shape == expected.shape
            assert torch.equal(got, expected)


def test_hub_id_resolves_from_local_cache_only(make_ckpt, tmp_path, monkeypatch):
    from huggingface_hub import constants

    hub = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hub / "models--someorg--tiny"
    shutil.copytree(make_ckpt("src"), repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert resolve_checkpoint("someorg/tiny") == (repo / "snapshots" / commit).resolve()
    assert set(Checkpoint("someorg/tiny").tensors) == set(random_tensors(0))
    with pytest.raises(UserError, match="not in the local Hugging Face cache"):
        resolve_checkpoint("someorg/absent")


def test_checkpoint_errors_name_the_problem(make_ckpt, tmp_path):
    with pytest.raises(UserError, match="no config.json"):
        Checkpoint(str(tmp_path))
    path = make_ckpt("a")
    with pytest.raises(UserError, match="is a file"):
        Checkpoint(str(path / "config.json"))
    no_weights = tmp_path / "noweights"
    no_weights.mkdir()
    (no_weights / "config.json").write_text("{}")
    (no_weights / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(UserError, match="no safetensors weights"):
        Checkpoint(str(no_weights))
    data = (path / "model.safetensors").read_bytes()
    (path / "model.safetensors").write_bytes(data[: len(data) - 10])
    with pytest.raises(UserError, match="truncated"):
        Checkpoint(str(path))
    (path / "model.safetensors").write_bytes(b"\xff" * 20)
    with pytest.raises(UserError, match="not a valid safetensors"):
        Checkpoint(str(path))


def test_index_naming_a_missing_shard(make_ckpt):
    tensors = random_tensors(0)
    names = sorted(tensors)
    path = make_ckpt("a", tensors=tensors, shards=[names[:3], names[3:]])
    (path / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(UserError, match="model-00002-of-00002.safetensors listed in model.safetensors.index.json"):
        Checkpoint(str(path))


def test_read_returns_a_private_writable_buffer(make_ckpt):
    path = make_ckpt("a")
    checkpoint = Checkpoint(str(path))
    first = checkpoint.read("model.layers.0.mlp.weight")
    first.mul_(0)
    assert torch.equal(checkpoint.read("model.layers.0.mlp.weight"), load_dir(path)["model.layers.0.mlp.weight"])
    assert json.loads((path / "config.json").read_text())["model_type"] == "llama"
