"""model_args validation: every mistake is one UserError naming the argument, raised before any engine starts."""

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.merge.spec import MergeSpec
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
    late, early = str(tiny_model_dir), str(tiny_model_dir_b)
    args = parse_model_args({"pretrained": late, "base": early, "alpha": 0.7, "backend": "hf"})
    assert args.merge == MergeSpec.from_alpha(late, early, 0.7) and args.merge.weights == (0.7, 1 - 0.7)
    args = parse_model_args({"pretrained": late, "backend": "hf", "checkpoints": f"[{late},{early}]",
                             "weights": [0.25, 0.75]})
    assert args.merge == MergeSpec((late, early), (0.25, 0.75))
    args = parse_model_args({"pretrained": late, "backend": "hf", "checkpoints": f"[{early},{late}]",
                             "weights": "[0.75,0.25]"})
    assert args.merge == MergeSpec((late, early), (0.25, 0.75))  # pretrained first: config and tokenizer
    assert parse_model_args({"pretrained": late, "backend": "hf"}).merge.is_identity
    with pytest.raises(UserError, match="pretrained=.* must be one of checkpoints="):
        parse_model_args({"pretrained": late, "backend": "hf", "checkpoints": f"[{early}]", "weights": [1.0]})


def test_merge_rules_are_the_merge_commands_rules_in_model_args_spelling():
    """One rule (MergeSpec.requested) behind model_args and `lm-eval-tts merge`; only the spelling differs."""
    for style, base, alpha in (("model_args", "base=", "alpha="), ("cli", "--base", "--alpha")):
        with pytest.raises(UserError, match=f"^{base} needs {alpha}"):
            MergeSpec.requested("A", base="B", style=style)
        with pytest.raises(UserError, match=f"^{alpha} needs {base}"):
            MergeSpec.requested("A", alpha=0.5, style=style)
        with pytest.raises(UserError, match="not both"):
            MergeSpec.requested("A", base="B", alpha=0.5, checkpoints=("A", "B"), weights=(1, 0), style=style)


@pytest.mark.parametrize("spelling, canonical", [("bf16", "bfloat16"), ("BFloat16", "bfloat16"), ("fp32", "float32"),
                                                 ("half", "float16"), ("auto", "auto")])
def test_dtype_aliases_become_one_name_for_engine_and_merge(tiny_model_dir, tiny_model_dir_b, spelling, canonical):
    args = parse_model_args({"pretrained": str(tiny_model_dir), "base": str(tiny_model_dir_b), "alpha": 0.5,
                             "dtype": spelling, "backend": "hf"})
    assert args.dtype == canonical and args.merge.dtype == canonical


def test_bad_dtype_is_refused_before_any_merge_is_written(tiny_model_dir, tiny_model_dir_b, tmp_path, monkeypatch):
    from lm_eval_tts.models.wise_fire import WiseFireLM

    monkeypatch.setenv("LM_EVAL_TTS_CACHE", str(tmp_path))
    with pytest.raises(UserError, match=r"dtype='bfloat' is not supported; did you mean dtype=bfloat16\?"):
        WiseFireLM(pretrained=str(tiny_model_dir), base=str(tiny_model_dir_b), alpha=0.5, dtype="bfloat",
                   backend="hf")
    assert list(tmp_path.iterdir()) == []  # no merge cache, no merged checkpoint


def test_near_miss_model_arg_gets_a_suggestion(tiny_model_dir):
    with pytest.raises(UserError, match=r"unknown model_arg fire_temprature \(did you mean fire_temperature\?\)"):
        parse_model_args({"pretrained": str(tiny_model_dir), "backend": "hf", "fire_temprature": 3})
    with pytest.raises(UserError) as err:
        parse_model_args({"pretrained": str(tiny_model_dir), "backend": "hf", "zzz": 1})
    assert "did you mean" not in str(err.value) and "expected one of" in str(err.value)


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
    ({"dtype": "fp8"}, "dtype"),
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
