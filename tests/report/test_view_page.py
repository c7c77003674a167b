"""Building the page: escaping, alignment of runs, lazy chunks, tables from report, safe writing, the CLI."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path

import pytest

from lm_eval_tts.cli import main
from lm_eval_tts.errors import UserError
from lm_eval_tts.report.results import Run, TaskMetrics
from lm_eval_tts.report.view import page
from lm_eval_tts.report.view.samples import Problem, Sample, TaskSamples
from lm_eval_tts.sampling.fire import FireParams

PAYLOAD = "</script><script>alert(1)</script><!--"


def view_run(label: str, doc_ids, fire: FireParams | None = None, text: str = " The answer is 4",
             filters=("none",)) -> page.ViewRun:
    """A run of task "t" with 3 samples per doc (the first one correct), one TaskSamples per filter."""
    def problems(filter_name):
        return tuple(Problem(i, f"Q{i}?", "4", {"question": f"Q{i}?"},
                             tuple(Sample(text, {"answer": f"4 {filter_name}", "correct": j == 0, "first_token": 5})
                                   for j in range(3)), {"pass@1": 1 / 3}) for i in doc_ids)

    run = Run(Path(f"/runs/{label}/results_x.json"), "wise_fire", {"alpha": label},
              (TaskMetrics("t", "none", {"pass@1": 1 / 3}, {}, len(doc_ids), 3),))
    return page.ViewRun(run, label, {}, fire, tuple(TaskSamples("t", f, problems(f)) for f in filters))


def decode_chunks(chunks):
    return {element_id: json.loads(gzip.decompress(blob)) for element_id, blob in chunks}


def test_runs_are_aligned_on_doc_ids_and_chunks_hold_every_problem(monkeypatch):
    monkeypatch.setattr(page, "CHUNK_BYTES", 600)
    views = [view_run("0.5", [0, 1, 2, 3]), view_run("1.0", [2, 3, 4])]
    index, chunks = page.build_data(views, "t", plots=False)
    (task,), (group,) = index["tasks"], index["groups"]
    assert group["ids"] == [0, 1, 2, 3, 4] and group["runs"] == [0, 1] and task["group"] == 0
    assert task["stats"][0]["c"] == [1, 1, 1, 1, None] and task["stats"][1]["c"] == [None, None, 1, 1, 1]
    assert len(chunks) > 1
    decoded = decode_chunks(chunks)
    details = [d for first, element_id in group["chunks"] for d in decoded[element_id]]
    assert [d["prompt"] for d in details] == [f"Q{i}?" for i in range(5)]
    assert details[0]["runs"][1] is None and len(details[4]["runs"][1]["samples"]) == 3
    assert [first for first, _ in group["chunks"]] == sorted(first for first, _ in group["chunks"])


def test_filters_of_a_task_share_one_copy_of_each_response():
    index, chunks = page.build_data([view_run("a", [0, 1], filters=("strict-match", "flexible-extract"))], "t",
                                    plots=False)
    assert [t["name"] for t in index["tasks"]] == ["t [strict-match]", "t [flexible-extract]"]
    assert len(index["groups"]) == 1 and {t["group"] for t in index["tasks"]} == {0}
    (detail, _), = [decode_chunks(chunks)[element_id] for _, element_id in index["groups"][0]["chunks"]]
    run = detail["runs"][0]
    assert len(run["samples"]) == 3 and set(run["filters"]) == {"strict-match", "flexible-extract"}
    assert run["filters"]["flexible-extract"]["records"][0]["answer"] == "4 flexible-extract"


def test_hot_span_is_given_in_utf16_units():
    fire = FireParams(line=1)
    sample = page.sample_data("\U0001F600x\n y", {"first_token": 1, "hot_token_text": "\U0001F600"}, fire, {})
    assert sample["hot"] == [0, 2] and sample["hot_text"] == "\U0001F600"
    assert page.sample_data("abc", {}, None, {}) == {"text": "abc"}


def test_index_json_cannot_close_its_script_element():
    text = page.script_json({"title": PAYLOAD, "x": float("nan"), "y": float("-inf")})
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text) == {"title": PAYLOAD, "x": "nan", "y": "-inf"}


def test_html_inlines_everything_and_expands_no_marker_from_data():
    views = [view_run("a", [0], text=PAYLOAD + " {{SCRIPT}}")]
    index, chunks = page.build_data(views, "title {{DATA}} " + PAYLOAD, plots=False)
    html = page.render_html(index, chunks)
    assert html.count("<script nonce=") == 1 and html.count("<style nonce=") == 1
    # every marker filled once, none expanded from data: "{{DATA}}" only in the <title> and the index's title
    assert [html.count(m) for m in ("{{NONCE}}", "{{STYLE}}", "{{SCRIPT}}", "{{DATA}}")] == [0, 0, 0, 2]
    assert "<title>title {{DATA}} &lt;/script&gt;" in html
    nonce = re.search(r"script-src 'nonce-([^']+)'", html).group(1)
    assert f'<script nonce="{nonce}">' in html
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)  # nothing from the network
    assert html.count(PAYLOAD) == 0  # the payload only exists escaped (index) or compressed (chunks)


def test_tables_from_report_markdown():
    text = "pass@k (unbiased)\n| task | k=1 |\n|------|-----|\n| t | 0.5 |\n\nsummary (#EA: ...)\n| task | n |\n|---|---|\n| t | 4 |\n"
    assert page.markdown_tables(text) == [
        {"title": "pass@k (unbiased)", "header": ["task", "k=1"], "rows": [["t", "0.5"]]},
        {"title": "summary (#EA: ...)", "header": ["task", "n"], "rows": [["t", "4"]]},
    ]


def test_test_labels_of_each_benchmark():
    assert page.test_labels({"test_list": ["assert f(1) == 2"]}) == ["assert f(1) == 2"]
    lcb = {"public_test_cases": json.dumps([{"input": "1\n", "output": "2\n", "testtype": "stdin"}])}
    assert page.test_labels(lcb) == ["input '1\\n' -> '2\\n'"]
    evalplus = {"base_input": [[1, 2]], "plus_input": [[3, 4]], "entry_point": "add"}
    assert page.test_labels(evalplus) == ["add([1, 2])", "add([3, 4])"]
    assert page.test_labels({**evalplus, "plus_input": {}}) == ["add([1, 2])"]  # one MBPP+ task stores {}
    assert page.test_labels({"test": "def check(candidate): ...", "entry_point": "f"}) == ["check(f)"]
    assert len(page.test_labels({"base_input": [[i] for i in range(1000)], "entry_point": "f"})) == 200
    assert page.test_labels({"n_base": 2, "entry_point": "f"}, count=3) == ["base input 1", "base input 2",
                                                                          "plus input 1"]
    assert page.test_labels({"question": "q"}) == []


def test_long_doc_fields_are_cut():
    fields = page.doc_fields({"short": "x", "hidden_tests": "y" * 10_000, "n": [1, 2]})
    assert fields["short"] == "x" and fields["n"] == "[1, 2]"
    assert fields["hidden_tests"].endswith("(10,000 characters)") and len(fields["hidden_tests"]) < 4100


def test_write_page_is_atomic_and_refuses_a_directory(tmp_path):
    target = page.write_page("<html></html>", tmp_path / "sub" / "report.html")
    assert target.read_text() == "<html></html>" and target.stat().st_mode & 0o044
    assert sorted(p.name for p in target.parent.iterdir()) == ["report.html"]
    with pytest.raises(UserError, match="is a directory"):
        page.write_page("x", tmp_path)


def test_cli_without_samples_files_is_one_error_line(lm_eval_runs, tmp_path, capsys):
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / lm_eval_runs[0].name).write_bytes(lm_eval_runs[0].read_bytes())
    assert main(["view", str(lone), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--log_samples" in err
    assert not (tmp_path / "r.html").exists()


def test_cli_writes_a_page_from_lm_eval_output_dirs(lm_eval_runs, tmp_path, capsys):
    out = tmp_path / "report.html"
    assert main(["view", *(str(p.parent) for p in lm_eval_runs), "-o", str(out), "--no-plots"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    html = out.read_text()
    index = json.loads(re.search(r'id="lmv-index">(.*?)</script>', html).group(1))
    assert len(index["runs"]) == 2 and len(index["tasks"]) == 1
    assert len(index["groups"][0]["ids"]) == 4 and index["tables"]
    for _, element_id in index["groups"][0]["chunks"]:
        blob = re.search(f'id="{element_id}">([^<]*)</script>', html).group(1)
        assert len(json.loads(gzip.decompress(base64.b64decode(blob)))) >= 1
