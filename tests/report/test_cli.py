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
    assert stdout.startswith("pass@k (unbiased, from n samples)\n| task        | run                    | k=1")
    assert "| tts_fixture | alpha=0.0 [ConstantLM] | 0.375 ± 0.161 |" in stdout  # the fixture's model class
    assert "best@k by logprob" in stdout and "summary" in stdout
    assert f"wrote {tmp_path / 'plots' / 'tts_fixture_scaling.png'}" in stdout
    assert f"wrote {tmp_path / 'plots' / 'tts_fixture_vs_alpha.png'}" in stdout


def run_cli(*args: str) -> subprocess.CompletedProcess:
    code = "import sys; from lm_eval_tts.cli import main; rc = main(sys.argv[1:]); " \
           "print('torch imported' if 'torch' in sys.modules else 'no torch', file=sys.stderr); sys.exit(rc)"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)


def test_report_runs_without_importing_torch(lm_eval_runs):
    done = run_cli("report", str(lm_eval_runs[0]))
    assert done.returncode == 0, done.stderr
    assert "| tts_fixture | alpha=0.0 fire=True [ConstantLM] |" in done.stdout  # one run: alpha/fire, model
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
