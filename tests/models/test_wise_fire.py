"""The wise_fire lm-eval model on the real vLLM engine: n-grouping, fan-out order, and end-to-end `lm_eval` runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lm_eval.api.instance import Instance

pytestmark = [pytest.mark.slow, pytest.mark.vllm]


@pytest.fixture(scope="module")
def lm(tiny_model_dir):
    from lm_eval_tts.models.wise_fire import WiseFireLM

    model = WiseFireLM(pretrained=str(tiny_model_dir), backend="vllm", dtype="float32", max_model_len=512,
                       enforce_eager=True, fire=True, seed=5)
    model.engine.progress = False
    yield model
    model.engine.close()


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


def test_repeats_become_one_request_with_n_samples(lm, vllm_calls):
    calls = vllm_calls
    gen_kwargs = {"until": ["\n\n"], "do_sample": True, "temperature": 0.8, "max_gen_toks": 12}
    order = ["Q: 1+1?\nA:", "Q: 2+2?\nA:"] * 8  # lm-eval's repeats, interleaved
    answers = lm.generate_until(_instances(order, gen_kwargs))
    # FIRE pass 1: one probe per doc (n=1 each); pass 2: per doc, one request per distinct hot token, n summing to 8
    assert calls[0] == [1, 1]
    assert sum(calls[1]) == 16 and len(calls) == 2
    per_doc = {c: [a for a, o in zip(answers, order) if o == c] for c in set(order)}
    for context, samples in per_doc.items():
        assert len(samples) == 8 and len(set(samples)) == 8
        assert len({s.hot_token_id for s in samples}) >= 4
    # fan-out keeps lm-eval's order: the same call again returns the same answers in the same slots
    assert [str(a) for a in lm.generate_until(_instances(order, gen_kwargs))] == [str(a) for a in answers]


def test_regular_sampling_one_request_per_doc(lm, vllm_calls, monkeypatch):
    calls = vllm_calls
    monkeypatch.setattr(lm, "args", __import__("dataclasses").replace(lm.args, fire=None))
    order = ["Tell me a story.", "Count to five:"] * 8
    answers = lm.generate_until(_instances(order, {"do_sample": True, "temperature": 1.0, "max_gen_toks": 10}))
    assert calls == [[8, 8]]
    assert all(len({a for a, o in zip(answers, order) if o == c}) == 8 for c in set(order))


def _lm_eval(args, tmp_path):
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", VLLM_CPU_KVCACHE_SPACE="1")
    lm_eval = str(Path(sys.executable).with_name("lm_eval"))
    return subprocess.run([lm_eval, *args], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=900)


def test_lm_eval_end_to_end_with_fire_on_vllm(tiny_model_dir, tmp_path):
    out = tmp_path / "out"
    proc = _lm_eval(["--model", "wise_fire", "--model_args",
                     f"pretrained={tiny_model_dir},backend=vllm,dtype=float32,max_model_len=1024,"
                     f"enforce_eager=True,fire=True,fire_top_k=16,seed=3",
                     "--tasks", "gsm8k_tts", "--limit", "2", "--metadata", '{"repeats": 8}',
                     "--gen_kwargs", "max_gen_toks=24", "--log_samples", "--output_path", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    [results_file] = out.rglob("results_*.json")
    results = json.loads(results_file.read_text())
    assert results["config"]["model"] == "wise_fire"
    metrics = results["results"]["gsm8k_tts"]
    assert {"pass@1,strict-match", "pass@8,flexible-extract", "maj@8,strict-match",
            "num_distinct_first_tokens,strict-match"} <= set(metrics)
    [samples_file] = out.rglob("samples_gsm8k_tts_*.jsonl")
    docs = [json.loads(line) for line in samples_file.read_text().splitlines()]
    docs = [doc for doc in docs if doc["filter"] == "strict-match"]  # one logged sample per doc and filter
    assert len(docs) == 2
    for doc in docs:
        [responses] = doc["resps"]  # one lm-eval Instance per doc, its `repeats` responses
        assert len(responses) == 8 and len(set(responses)) == 8


def test_lm_eval_bad_model_arg_is_one_line(tiny_model_dir, tmp_path):
    proc = _lm_eval(["--model", "wise_fire", "--model_args", f"pretrained={tiny_model_dir},fire=True,fire_top_k=0",
                     "--tasks", "gsm8k_tts", "--limit", "1"], tmp_path)
    assert proc.returncode == 2
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lm_eval: error: fire_top_k must be an integer >= 1")
    assert "Traceback" not in proc.stderr
