"""vllm_config: the CPU KV cache size (pure), the engine arguments it fills in, and one-line start-up errors."""

import subprocess
import sys

import pytest

from lm_eval_tts.engines.vllm_config import (
    BLOCK_TOKENS,
    ENGINE_OVERHEAD,
    GIB,
    KV_CACHE_CAP,
    ModelShape,
    kv_cache_bytes,
    start_failure_message,
    user_sized_kv_cache,
)
from lm_eval_tts.errors import UserError

SMOLLM2 = {"num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
           "hidden_size": 576, "max_position_embeddings": 8192, "dtype": "bfloat16"}


def test_kv_bytes_per_token_follow_layers_heads_and_dtype():
    assert ModelShape.from_config(SMOLLM2, {}).kv_bytes_per_token == 2 * 30 * 3 * 64 * 2
    assert ModelShape.from_config(SMOLLM2, {"dtype": "float32"}).kv_bytes_per_token == 2 * 30 * 3 * 64 * 4
    assert ModelShape.from_config(SMOLLM2, {"kv_cache_dtype": "fp8_e4m3"}).kv_bytes_per_token == 2 * 30 * 3 * 64
    # no head_dim / num_key_value_heads: hidden_size // heads, every head its own KV head; fp32 when unstated
    plain = {"num_hidden_layers": 2, "num_attention_heads": 4, "hidden_size": 256}
    assert ModelShape.from_config(plain, {}).kv_bytes_per_token == 2 * 2 * 4 * 64 * 4
    assert ModelShape.from_config(SMOLLM2, {}).max_model_len == 8192
    assert ModelShape.from_config(SMOLLM2, {"max_model_len": 1024}).max_model_len == 1024


@pytest.mark.parametrize("per_token, max_len, seqs, available, reserved, expected", [
    # what 256 sequences need (small model, short context), when that is small
    (1024, 512, 256, 16 * GIB, GIB, 1024 * 512 * 256),
    # a few GiB at most: SmolLM2 at 8192 tokens x 256 sequences would need 45 GiB
    (23040, 8192, 256, 64 * GIB, GIB, KV_CACHE_CAP),
    # at most half of what is free besides weights and engine: 9 GiB available, 1 GiB reserved -> 4 GiB
    (23040, 8192, 256, 9 * GIB, GIB, 4 * GIB),
    (23040, 8192, 256, 5 * GIB, GIB, 2 * GIB),
    # never less than one full-length sequence (rounded up to whole blocks)
    (23040, 8192, 256, GIB + 300 * 2**20, GIB, 23040 * 8192),
    (1000, 1000, 1, 16 * GIB, GIB, 1000 * 4 * BLOCK_TOKENS),
])
def test_kv_cache_size(per_token, max_len, seqs, available, reserved, expected):
    assert kv_cache_bytes(per_token, max_len, seqs, available, reserved) == expected


def test_kv_cache_that_cannot_hold_one_sequence_is_one_line_naming_max_model_len():
    with pytest.raises(UserError) as err:
        kv_cache_bytes(46080, 131072, 256, available=6 * GIB, reserved=ENGINE_OVERHEAD)
    message = str(err.value)
    assert "max_model_len=131072" in message and "lower max_model_len" in message and "\n" not in message


def test_user_choices_are_left_alone(monkeypatch):
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    assert not user_sized_kv_cache({"max_model_len": 512})
    assert user_sized_kv_cache({"gpu_memory_utilization": 0.5})
    assert user_sized_kv_cache({"kv_cache_memory_bytes": GIB})
    monkeypatch.setenv("VLLM_CPU_KVCACHE_SPACE", "3")
    assert user_sized_kv_cache({})


def test_cpu_defaults_size_the_kv_cache_and_leave_batched_tokens_to_vllm(tiny_model_dir, monkeypatch):
    from lm_eval_tts.engines import vllm_config

    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    monkeypatch.setattr(vllm_config, "available_memory", lambda: 16 * GIB)
    cpu_safe_defaults = vllm_config.cpu_safe_defaults
    kwargs = cpu_safe_defaults({"dtype": "float32"}, str(tiny_model_dir))
    # the tiny model: 2 layers x 1 KV head x 64 x fp32 x K,V = 1 KiB/token, 2048 tokens x 256 sequences
    assert kwargs == {"dtype": "float32", "enable_chunked_prefill": False, "kv_cache_memory_bytes": 512 * 2**20}
    assert cpu_safe_defaults({"gpu_memory_utilization": 0.3}, str(tiny_model_dir)) == {
        "gpu_memory_utilization": 0.3, "enable_chunked_prefill": False}


VLLM_OUTPUT = """\
(EngineCore pid=10010) INFO 12-01 09:15:30 [core.py:100] Initializing a V1 LLM engine
(VllmWorker-0 pid=10097) ERROR 12-01 09:15:38 [multiproc_executor.py:953]     raise ValueError(
(VllmWorker-0 pid=10097) ERROR 12-01 09:15:38 [multiproc_executor.py:953] ValueError: Available memory on node 0 \
(11.16/13.09 GiB) on startup is less than desired CPU memory utilization (0.99, 12.96 GiB).
(EngineCore pid=10010) ERROR 12-01 09:15:39 [core.py:1510] Exception: WorkerProc initialization failed due to an \
exception in a background process. See stack trace for root cause.
"""


def test_start_failure_names_vllms_first_reported_reason_and_a_fix():
    parent = RuntimeError("Engine core initialization failed. See root cause above. Failed core proc(s): {}")
    message = start_failure_message(parent, VLLM_OUTPUT)
    assert message.startswith("the vLLM engine could not start: ValueError: Available memory on node 0")
    assert "VLLM_CPU_KVCACHE_SPACE" in message and "\n" not in message
    # nothing reported by the engine processes: the error raised in this process, first line only
    message = start_failure_message(ValueError("max_num_batched_tokens (4096) is smaller than max_model_len\nmore"),
                                    "")
    assert message == ("the vLLM engine could not start: ValueError: max_num_batched_tokens (4096) is smaller than "
                       "max_model_len -- lower max_model_len (e.g. max_model_len=2048)")


HELD_SCRIPT = """
import subprocess, sys, time
from lm_eval_tts.engines.vllm_config import HeldOutput
held = HeldOutput()
try:
    with held:
        print("held by parent", flush=True)
        child = subprocess.Popen([sys.executable, "-c", "import sys, time; print('held by child', flush=True); "
            "time.sleep(1.5); print('child later', flush=True); print('child err later', file=sys.stderr)"])
        time.sleep(0.8)
        if sys.argv[1] == "fail":
            raise RuntimeError
except RuntimeError:
    pass
print("parent after", flush=True)
child.wait()
time.sleep(0.3)
print("kept:", sorted(held.text().split()), flush=True)
"""


def test_held_output_is_kept_while_starting_then_children_write_through():
    """Output of this process and of a child is held during the start; after it, the child's output flows."""
    proc = subprocess.run([sys.executable, "-c", HELD_SCRIPT, "ok"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["parent after", "child later", "kept: []"]  # a good start keeps nothing
    assert proc.stderr.strip() == "child err later"


def test_held_output_of_a_failed_start_is_collected_until_the_children_exit():
    proc = subprocess.run([sys.executable, "-c", HELD_SCRIPT, "fail"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0] == "parent after"
    everything = "held by parent held by child child later child err later".split()
    assert proc.stdout.splitlines() == ["parent after", f"kept: {sorted(everything)}"]  # stdout and stderr kept
    assert proc.stderr == ""
