"""The sweep table (alpha x metrics) and plots from lm-eval results documents."""

import csv
import io
from pathlib import Path

from lm_eval_tts.sweep.evaluate import AlphaResult
from lm_eval_tts.sweep.summary import (format_csv, format_markdown, metric_columns, sweep_rows, sweep_runs,
                                       write_plots, write_tables)


def _result(alpha, pass1, pass4, tmp_path):
    """An lm-eval results document as the sweep saves it (one task, repeats 4, filter "none")."""
    metrics = {"alias": "gsm8k_tts", "pass@1,none": pass1, "pass@1_stderr,none": 0.05,
               "pass@2,none": (pass1 + pass4) / 2, "pass@2_stderr,none": "N/A", "pass@4,none": pass4,
               "maj@4,none": pass1, "maj@1,none": pass1,
               "jensen_bound@4,none": 1 - (1 - pass1) ** 4, "num_distinct_answers,none": 2.5,
               "pass@1_variance,none": 0.01, "exact_match,none": 0.9}
    doc = {"results": {"gsm8k_tts": metrics},
           "config": {"model": "wise_fire",
                      "model_args": {"pretrained": "/m/late", "base": "/m/early", "alpha": alpha}},
           "n-samples": {"gsm8k_tts": {"original": 1187, "effective": 2}}, "configs": {"gsm8k_tts": {"repeats": 4}}}
    return AlphaResult(alpha, doc, tmp_path / f"alpha_{alpha:g}", 0.1, 1.0)


def _rows(tmp_path):
    results = [_result(1.0, 0.5, 0.75, tmp_path), _result(0.0, 0.25, 0.5, tmp_path), _result(0.5, 0.375, 1.0, tmp_path)]
    return sweep_runs(results), sweep_rows(sweep_runs(results))


def test_rows_sorted_by_alpha_with_metric_columns_in_report_order(tmp_path):
    _, rows = _rows(tmp_path)
    assert [row["alpha"] for row in rows] == [0.0, 0.5, 1.0]
    assert metric_columns(rows) == ["pass@1", "pass@2", "pass@4", "maj@1", "maj@4", "jensen_bound@4",
                                    "pass@1_variance", "num_distinct_answers"]  # exact_match is not a tts key


def test_csv_has_every_metric_and_its_stderr(tmp_path):
    _, rows = _rows(tmp_path)
    table = list(csv.DictReader(io.StringIO(format_csv(rows))))
    assert [r["alpha"] for r in table] == ["0", "0.5", "1"]
    assert [float(r["pass@4"]) for r in table] == [0.5, 1.0, 0.75]
    assert table[0]["pass@1_stderr"] == "0.05" and table[0]["pass@2_stderr"] == ""  # lm-eval's "N/A" left blank
    assert table[2]["task"] == "gsm8k_tts"


def test_markdown_shows_headline_metrics_per_alpha(tmp_path):
    _, rows = _rows(tmp_path)
    lines = format_markdown(rows).splitlines()
    assert lines[0].split("|")[1:-1] == [" alpha ", " task      ", " pass@1 ", " pass@4 ", " maj@4 ",
                                         " pass@1_variance ", " num_distinct_answers "]
    assert lines[3].split("|")[1:5] == [" 0.5   ", " gsm8k_tts ", " 0.375  ", " 1.000  "]


def test_tables_and_plots_are_written(tmp_path):
    runs, rows = _rows(tmp_path)
    written = write_tables(rows, tmp_path / "out") + write_plots(runs, tmp_path / "out")
    names = sorted(p.relative_to(tmp_path / "out").as_posix() for p in written)
    assert names == ["plots/gsm8k_tts_scaling.png", "plots/gsm8k_tts_vs_alpha.png", "sweep.csv", "sweep.md"]
    assert all(Path(p).stat().st_size > 0 for p in written)
    assert not [p for p in (tmp_path / "out").rglob(".*")]  # no temporary files left
