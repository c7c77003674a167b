"""model_args validation: every mistake is one UserError naming the argument, raised before any engine starts."""

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.models.args import parse_model_args
from lm_eval_tts.sampling.fire import FireParams


def test_defaults_and_fire(tiny_model_dir):
    args = parse_model_args({"pretrained": str(tiny_model_dir), "fire": True, "backend": "hf"})
    assert args.fire == FireParams(temperature=30.0, top_k=16, line=1)
    assert args.seed == 1234 and args.max_gen_toks == 256 and args.backend == "hf"
    args = parse_model_args({"pretrained": str(tiny_model_dir), "fire": "True", "fire_temperature": 12,
                             "fire_top_k": 8, "fire_at": "line:3", "backend": "hf"})
    assert args.fire == FireParams(temperature=12.0, top_k=8, line=3)
    assert parse_model_args({"pretrained": str(tiny_model_dir), "backend": "hf"}).fire is None


def test_vllm_engine_args_pass_through(tiny_model_dir):
    args = parse_model_args({"pretrained": str(tiny_model_dir), "backend": "vllm", "tensor_parallel_size": 2,
                             "gpu_memory_utilization": 0.8, "enforce_eager": True, "max_model_len": 512,
                             "batch_size": None, "device": None})
    assert args.engine_kwargs == {"tensor_parallel_size": 2, "gpu_memory_utilization": 0.8, "enforce_eager": True}
    assert args.max_model_len == 512


def test_merge_args(tiny_model_dir, tiny_model_dir_b):
    args = parse_model_args({"pretrained": str(tiny_model_dir), "base": str(tiny_model_dir_b), "alpha": 0.7,
                             "backend": "hf"})
    assert args.alpha == 0.7 and args.base == str(tiny_model_dir_b)
    args = parse_model_args({"pretrained": str(tiny_model_dir), "backend": "hf",
                             "checkpoints": f"[{tiny_model_dir},{tiny_model_dir_b}]", "weights": [0.25, 0.75]})
    assert args.checkpoints == (str(tiny_model_dir), str(tiny_model_dir_b)) and args.weights == (0.25, 0.75)
    args = parse_model_args({"pretrained": str(tiny_model_dir), "backend": "hf",
                             "checkpoints": f"[{tiny_model_dir_b},{tiny_model_dir}]", "weights": "[0.75,0.25]"})
    assert args.checkpoints == (str(tiny_model_dir), str(tiny_model_dir_b)) and args.weights == (0.25, 0.75)
    with pytest.raises(UserError, match="pretrained=.* must be one of checkpoints="):
        parse_model_args({"pretrained": str(tiny_model_dir), "backend": "hf",
                          "checkpoints": f"[{tiny_model_dir_b}]", "weights": [1.0]})


@pytest.mark.parametrize("extra, named", [
    ({"fire": True, "fire_temperature": 0}, "fire_temperature"),
    ({"fire": True, "fire_temperature": -3}, "fire_temperature"),
    ({"fire": True, "fire_top_k": 0}, "fire_top_k"),
    ({"fire": True, "fire_top_k": 2.5}, "fire_top_k"),
    ({"fire": True, "fire_at": "line:0"}, "fire_at"),
    ({"fire": True, "fire_at": "token:3"}, "fire_at"),
    ({"fire": True, "fire_at": "line"}, "fire_at"),
    ({"fire_top_k": 0}, "fire_top_k"),
    ({"fire": "maybe"}, "fire"),
    ({"temprature": 0.7}, "temprature"),
    ({"backend": "tgi"}, "backend"),
    ({"alpha": 0.5}, "alpha"),
    ({"base": "/nonexistent/early"}, "base"),
    ({"weights": [0.5, 0.5]}, "checkpoints"),
    ({"seed": "abc"}, "seed"),
])
def test_bad_input_names_the_argument(tiny_model_dir, extra, named):
    with pytest.raises(UserError) as err:
        parse_model_args({"pretrained": str(tiny_model_dir), "backend": "hf", **extra})
    message = str(err.value)
    assert named in message and "\n" not in message


def test_missing_checkpoint_dir(tmp_path):
    with pytest.raises(UserError, match="no such checkpoint directory"):
        parse_model_args({"pretrained": str(tmp_path / "nope"), "backend": "hf"})
    with pytest.raises(UserError, match="no config.json"):
        parse_model_args({"pretrained": str(tmp_path), "backend": "hf"})
    with pytest.raises(UserError, match="pretrained="):
        parse_model_args({"backend": "hf"})


def test_vllm_missing_is_reported(monkeypatch, tiny_model_dir):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real(name, *a))
    with pytest.raises(UserError, match="backend=vllm needs vLLM"):
        parse_model_args({"pretrained": str(tiny_model_dir), "backend": "vllm"})
    assert parse_model_args({"pretrained": str(tiny_model_dir)}).backend == "hf"


def test_vllm_only_args_rejected_on_hf(tiny_model_dir):
    with pytest.raises(UserError, match="tensor_parallel_size.*need backend=vllm"):
        parse_model_args({"pretrained": str(tiny_model_dir), "backend": "hf", "tensor_parallel_size": 2})
