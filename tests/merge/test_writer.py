import json

import pytest
import torch

from lm_eval_tts.errors import UserError
from lm_eval_tts.merge.writer import TensorSlot, parse_size, shard_layout, write_shards
from tests.merge.checkpoints import load_dir, random_tensors


@pytest.mark.parametrize("text, size", [(123, 123), ("500MB", 500 * 10**6), ("5GB", 5 * 10**9), ("2GiB", 2 * 2**30),
                                        ("1.5kb", 1500), ("64", 64)])
def test_parse_size(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["big", "5 parsecs", "-3MB", 0])
def test_parse_size_rejects(text):
    with pytest.raises(UserError, match="max_shard_size"):
        parse_size(text)


def test_layout_is_greedy_and_gives_oversized_tensors_their_own_shard():
    slots = [TensorSlot(n, torch.float32, (b // 4,), b) for n, b in [("a", 40), ("b", 40), ("c", 100), ("d", 8)]]
    assert [[s.name for s in shard] for shard in shard_layout(slots, 80)] == [["a", "b"], ["c"], ["d"]]
    assert len(shard_layout(slots, 10**9)) == 1


@pytest.mark.parametrize("max_bytes, files", [(10**9, 1), (600, 4)])
def test_written_shards_read_back_with_safetensors(tmp_path, max_bytes, files):
    tensors = random_tensors(5, torch.bfloat16)
    tensors["flag"] = torch.tensor([True, False])
    slots = [TensorSlot(n, t.dtype, tuple(t.shape), t.numel() * t.element_size()) for n, t in tensors.items()]
    seen = []
    written = write_shards(tmp_path, slots, tensors.items(), max_bytes, on_bytes=seen.append)
    assert sum(seen) == sum(s.nbytes for s in slots)
    back = load_dir(tmp_path)
    assert back.keys() == tensors.keys() and all(torch.equal(back[n], t) for n, t in tensors.items())
    shards = sorted(tmp_path.glob("*.safetensors"))
    assert len(shards) == files
    if files > 1:
        index = json.loads((tmp_path / "model.safetensors.index.json").read_text())
        assert set(index["weight_map"]) == set(tensors)
        assert index["metadata"]["total_size"] == sum(s.nbytes for s in slots)
        assert (tmp_path / "model.safetensors.index.json") in written
    else:
        assert shards[0].name == "model.safetensors"
