"""Reading lm-eval results: real files written by lm-eval, and constructed documents for the odd shapes."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from lm_eval_tts.errors import UserError
from lm_eval_tts.metrics.estimators import maj_at_k, pass_at_k
from lm_eval_tts.report.results import (
    Run,
    find_results_files,
    load_runs,
    parse_model_args,
    parse_results,
    read_run,
    run_labels,
)
from tests.report.lm_eval_fixture import GRADING_BY_ALPHA


def test_real_lm_eval_results_round_trip(lm_eval_runs):
    runs = load_runs([path.parent.parent for path in lm_eval_runs])  # the --output_path dirs
    assert [run.path for run in runs] == sorted(lm_eval_runs)
    assert run_labels(runs) == ["alpha=0.0 [ConstantLM]", "alpha=0.5 [ConstantLM]"]  # the model object's class
    for run, grading in zip(runs, GRADING_BY_ALPHA.values()):
        docs = list(grading.values())
        (task,) = run.tasks
        assert (task.task, task.filter, task.n_docs, task.n_samples) == ("tts_fixture", "graded", 4, 4)
        assert run.model_args == {"pretrained": "/ckpts/late", "alpha": run.model_args["alpha"], "fire": "True"}
        # Values: lm-eval's mean over problems of the per-problem estimates; stderr: sample std / sqrt(N).
        per_doc_pass2 = [pass_at_k(4, sum(d["correct"]), 2) for d in docs]
        assert task.values["pass@2"] == pytest.approx(statistics.fmean(per_doc_pass2))
        assert task.stderrs["pass@2"] == pytest.approx(statistics.stdev(per_doc_pass2) / math.sqrt(4))
        per_doc_maj4 = [maj_at_k(d["answers"], d["correct"], 4) for d in docs]
        assert task.values["maj@4"] == pytest.approx(statistics.fmean(per_doc_maj4))
        assert "maj@4" in task.stderrs and "best@4_logprob" in task.stderrs
        pass1 = [sum(d["correct"]) / 4 for d in docs]
        assert task.values["pass@1_variance"] == pytest.approx(statistics.pvariance(pass1))
        assert task.values["jensen_bound@4"] == pytest.approx(1 - (1 - statistics.fmean(pass1)) ** 4)
        assert "pass@1_variance" not in task.stderrs and "jensen_bound@4" not in task.stderrs  # "N/A"
        assert task.values["num_distinct_first_tokens"] == statistics.fmean(len(set(d["first_tokens"])) for d in docs)
        assert task.values["tokens_per_sample"] == pytest.approx(statistics.fmean(t for d in docs for t in d["tokens"]))
        weak = sum(sum(d["weak"]) for d in docs)
        false_positives = sum(w and not c for d in docs for w, c in zip(d["weak"], d["correct"]))
        assert task.values["false_positive_rate"] == pytest.approx(false_positives / weak)
        assert set(task.metadata) == {"config_source"}  # lm-eval's own entry; no task options given


def test_real_lm_eval_samples_show_every_doc(lm_eval_runs):
    (samples_file,) = lm_eval_runs[0].parent.glob("samples_tts_fixture_*.jsonl")
    samples = [json.loads(line) for line in samples_file.read_text().splitlines()]
    assert len(samples) == 4
    assert samples[0]["jensen_bound@2"] == {"pass@1": 0.5, "k": 2}
    assert samples[0]["pass@1_variance"] == 0.5
    assert samples[0]["false_positive_rate"] == {"weak_passed": 3, "false_positives": 1}
    assert len(samples[0]["resampling_best_k"]["utility"]) == 4


def results_doc(results: dict, model_args: object = "pretrained=m", **extra) -> dict:
    return {"results": results, "config": {"model": "wise_fire", "model_args": model_args}, **extra}


def test_filters_non_tts_metrics_and_na_stderrs():
    doc = results_doc(
        {
            "gsm8k_tts": {"alias": "gsm8k_tts", "pass@1,strict": 0.25, "pass@1_stderr,strict": "N/A",
                          "pass@1,flexible": 0.5, "pass@1_stderr,flexible": 0.1, "exact_match,flexible": 0.4},
            "hellaswag": {"acc,none": 0.3, "acc_stderr,none": 0.01},
        },
        **{"n-samples": {"gsm8k_tts": {"original": 1319, "effective": 10}}, "configs": {"gsm8k_tts": {"repeats": 8}}},
    )
    run = parse_results(doc, Path("r.json"))
    assert [t.name for t in run.tasks] == ["gsm8k_tts [flexible]", "gsm8k_tts [strict]"]
    flexible, strict = run.tasks
    assert flexible.values == {"pass@1": 0.5} and flexible.stderrs == {"pass@1": 0.1}
    assert strict.stderrs == {}
    assert (strict.n_docs, strict.n_samples) == (10, 8)


@pytest.mark.parametrize("model_args,expected", [
    ({"alpha": 0.5, "fire": True}, {"alpha": "0.5", "fire": "True"}),
    ("pretrained=a/b,alpha=0.5, fire=False", {"pretrained": "a/b", "alpha": "0.5", "fire": "False"}),
    ("", {}),
    (None, {}),
])
def test_parse_model_args(model_args, expected):
    assert parse_model_args(model_args) == expected


def make_run(name: str, model_args: dict, model: str = "wise_fire", backend: str | None = None) -> Run:
    return Run(Path(f"/out/{name}.json"), model, model_args, (), backend)


def test_run_labels():
    same = [make_run("results_1", {"pretrained": "/x/late", "fire": "True"}),
            make_run("results_2", {"pretrained": "/x/late", "fire": "True"})]
    assert run_labels(same) == ["fire=True (results_1.json)", "fire=True (results_2.json)"]
    checkpoints = [make_run("a", {"pretrained": "/ck/step-100"}), make_run("b", {"pretrained": "/ck/step-200"})]
    assert run_labels(checkpoints) == ["pretrained=step-100", "pretrained=step-200"]
    assert run_labels([make_run("a", {"pretrained": "/ck/step-100"})]) == ["step-100"]
    assert run_labels([make_run("a", {}, model="hf")]) == ["hf"]
    assert run_labels([make_run("a", {}, model="")]) == ["a"]
    sweep = [make_run("a", {"alpha": "0.0", "fire": "False", "seed": "1"}),
             make_run("b", {"alpha": "0.5", "fire": "True", "seed": "1"})]
    assert run_labels(sweep) == ["alpha=0.0 fire=False", "alpha=0.5 fire=True"]


def test_labels_name_the_backend_of_every_run():
    config = {"model": "wise_fire", "model_args": "pretrained=/m,fire=True", "wise_fire": {"backend": "vllm"}}
    vllm_run = parse_results({"results": {"t": {"pass@1,graded": 0.5}}, "config": config}, Path("a.json"))
    hf_args = {**config, "model_args": "pretrained=/m,fire=False,backend=hf", "wise_fire": {"backend": "hf"}}
    hf_run = parse_results({"results": {"t": {"pass@1,graded": 0.5}}, "config": hf_args}, Path("b.json"))
    assert (vllm_run.backend, hf_run.backend) == ("vllm", "hf")
    assert run_labels([vllm_run, hf_run]) == ["fire=True [vllm]", "fire=False backend=hf"]  # shown once
    assert run_labels([vllm_run]) == ["fire=True [vllm]"]
    lm_eval_own = parse_results({"results": {"t": {"pass@1,graded": 0.5}},
                                 "config": {"model": "hf", "model_args": "pretrained=/ck/m"}}, Path("c.json"))
    assert run_labels([lm_eval_own]) == ["m [hf]"]
    assert run_labels([make_run("a", {}, model="hf", backend="hf")]) == ["hf"]


def test_missing_path_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match=r"nope\.json: no such file or directory"):
        find_results_files([tmp_path / "nope.json"])


def test_directory_without_results_is_a_user_error(tmp_path):
    (tmp_path / "notes.json").write_text("{}")
    with pytest.raises(UserError, match=r"no lm-eval results files \(results_\*\.json\)"):
        find_results_files([tmp_path])


def test_duplicates_are_read_once(tmp_path):
    path = tmp_path / "results_x.json"
    path.write_text("{}")
    assert find_results_files([path, tmp_path]) == [path.resolve()]


@pytest.mark.parametrize("content,message", [
    ("{not json", r"not JSON \(Expecting property name"),
    ('[{"doc_id": 0}]', r"not an lm-eval results file \(no 'results' section\)"),
    ('{"results": {"hellaswag": {"acc,none": 0.3}}}', r"no test-time-scaling metrics .* \*_tts task"),
])
def test_bad_files_are_one_line_user_errors(tmp_path, content, message):
    path = tmp_path / "results_1.json"
    path.write_text(content)
    with pytest.raises(UserError, match=message) as info:
        read_run(path)
    assert str(path) in str(info.value) and "\n" not in str(info.value)
