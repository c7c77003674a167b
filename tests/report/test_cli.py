"""`lm-eval-tts report` end to end through the real CLI dispatcher, and its one-line errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from lm_eval_tts.cli import main


def test_report_prints_tables_and_writes_plots(lm_eval_runs, tmp_path, capsys):
    out_dirs = [str(path.parent.parent) for path in lm_eval_runs]
    assert main(["report", *out_dirs, "--plot", str(tmp_path / "plots"), "--vs", "alpha"]) == 0
    stdout = capsys.readouterr().out
    assert stdout.startswith("pass@k (unbiased, from n samples)\n| task                 | run                    | k=1")
    assert "| tts_fixture [graded] | alpha=0.0 [ConstantLM] | 0.375 ± 0.161 |" in stdout  # the fixture's model
    assert "best@k by logprob" in stdout and "summary" in stdout and "bom@k by logprob" in stdout
    assert "verifier false positives" in stdout
    # Two runs with logged samples: the second against the first, and (they differ only in alpha) the pool.
    assert "paired: tts_fixture [graded], alpha=0.5 [ConstantLM] minus alpha=0.0 [ConstantLM] on 4 shared" in stdout
    assert "pool: tts_fixture [graded], 2 runs under one sample budget k on 4 shared problems" in stdout
    for kind in ("scaling", "vs_alpha", "paired", "pool", "verifier", "compute", "pass1_hist"):
        assert f"wrote {tmp_path / 'plots' / f'tts_fixture_{kind}.png'}" in stdout


def test_one_run_has_no_paired_or_pool_section(lm_eval_runs, capsys):
    assert main(["report", str(lm_eval_runs[0])]) == 0
    stdout = capsys.readouterr().out
    assert "paired:" not in stdout and "pool:" not in stdout


def test_pool_needs_runs_with_samples(lm_eval_runs, tmp_path, capsys):
    assert main(["report", str(lm_eval_runs[0]), "--pool"]) == 2
    assert "--pool needs at least two runs" in capsys.readouterr().err
    bare = []
    for path in lm_eval_runs:  # the results files alone, without their samples files
        copy = tmp_path / path.parent.parent.name / path.name
        copy.parent.mkdir()
        copy.write_text(path.read_text())
        bare.append(str(copy))
    assert main(["report", *bare, "--pool"]) == 2
    assert "--pool: the runs share no task with logged samples" in capsys.readouterr().err


def run_cli(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from lm_eval_tts.cli import main; rc = main(sys.argv[1:]); " \
           "print('torch imported' if 'torch' in sys.modules else 'no torch', file=sys.stderr); sys.exit(rc)"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_report_runs_without_importing_torch(lm_eval_runs):
    done = run_cli("report", str(lm_eval_runs[0]))
    assert done.returncode == 0, done.stderr
    assert "| tts_fixture [graded] | alpha=0.0 fire=True [ConstantLM] |" in done.stdout  # one run: alpha, fire
    assert done.stderr.strip().splitlines()[-1] == "no torch"


@pytest.mark.parametrize("setup,args,message", [
    (None, ["missing.json"], "missing.json: no such file or directory"),
    ("{}", ["results_1.json"], "results_1.json: not an lm-eval results file"),
    ('{"results": {"arc": {"acc,none": 0.5}}}', ["results_1.json"], "no test-time-scaling metrics"),
    ("{}", ["results_1.json", "--vs", "alpha"], "--vs needs --plot DIR"),
    ("{}", ["results_1.json", "--plot", "results_1.json"], "exists and is not a directory"),
])
def test_bad_input_gives_one_error_line(tmp_path, capsys, monkeypatch, setup, args, message):
    monkeypatch.chdir(tmp_path)
    if setup is not None:
        (tmp_path / "results_1.json").write_text(setup)
    assert main(["report", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    (line,) = captured.err.splitlines()
    assert line.startswith("lm-eval-tts report: error: ") and message in line


def test_vs_unknown_parameter_is_a_user_error(lm_eval_runs, tmp_path, capsys):
    assert main(["report", str(lm_eval_runs[0]), "--plot", str(tmp_path), "--vs", "beta"]) == 2
    assert "model_args has no numeric 'beta'" in capsys.readouterr().err
