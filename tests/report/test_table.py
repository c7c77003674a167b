"""Table layout: one table per @k family, k columns across runs, stderr where lm-eval gave one."""

from __future__ import annotations

from pathlib import Path

from lm_eval_tts.report.results import Run, TaskMetrics
from lm_eval_tts.report.table import family_order, format_report, markdown_table


def task(name: str, values: dict, stderrs: dict | None = None, filter_key: str = "none") -> TaskMetrics:
    return TaskMetrics(name, filter_key, values, stderrs or {}, n_docs=50, n_samples=8)


RUNS = [
    Run(Path("a.json"), "wise_fire", {"fire": "False"}, (
        task("gsm8k_tts", {"pass@1": 0.25, "pass@8": 0.6, "maj@8": 0.4, "num_distinct_answers": 3.5,
                           "pass@1_variance": 0.0625}, {"pass@1": 0.02, "pass@8": 0.05}),
        task("math500_tts", {"pass@1": 0.1, "pass@2": 0.15}),
    )),
    Run(Path("b.json"), "wise_fire", {"fire": "True"}, (
        task("gsm8k_tts", {"pass@1": 0.3, "pass@4": 0.5, "best@4_orm": 0.45, "jensen_bound@4": 0.76}),
    )),
]


def test_format_report_tables():
    text = format_report(RUNS, ["regular", "FIRE"])
    sections = text.strip().split("\n\n")
    assert [s.splitlines()[0].split(" (")[0] for s in sections] == [
        "pass@k", "maj@k", "best@k by orm", "Jensen bound 1-(1-pass@1)^k", "summary"]
    pass_table = sections[0].splitlines()[1:]
    assert [c.strip() for c in pass_table[0].split("|")[1:-1]] == ["task", "run", "k=1", "k=2", "k=4", "k=8"]
    assert len({len(line) for line in pass_table}) == 1  # columns padded to one width
    # Rows grouped by task (gsm8k for both runs first), empty cells where a run lacks that k.
    assert [row.split("|")[1].strip() for row in pass_table[2:]] == ["gsm8k_tts", "gsm8k_tts", "math500_tts"]
    assert [c.strip() for c in pass_table[2].split("|")[1:-1]] == [
        "gsm8k_tts", "regular", "0.250 ± 0.020", "", "", "0.600 ± 0.050"]
    assert [c.strip() for c in pass_table[3].split("|")[1:-1]] == ["gsm8k_tts", "FIRE", "0.300", "", "0.500", ""]
    summary = sections[-1].splitlines()
    assert [c.strip() for c in summary[3].split("|")[1:-1]] == [
        "gsm8k_tts", "regular", "50", "8", "0.250 ± 0.020", "0.0625", "3.50", "", ""]


def test_filter_shows_in_task_name():
    run = Run(Path("a.json"), "m", {}, (task("gsm8k_tts", {"pass@1": 0.5}, filter_key="strict-match"),))
    assert "| gsm8k_tts [strict-match] | m   | 0.500 |" in format_report([run], ["m"])


def test_markdown_table():
    assert markdown_table(["a", "bb"], [["xyz", "1"]]) == "| a   | bb |\n|-----|----|\n| xyz | 1  |"


def test_family_order():
    assert family_order({"jensen_bound", "best_orm", "maj", "best_logprob", "pass"}) == [
        "pass", "maj", "best_logprob", "best_orm", "jensen_bound"]
    assert family_order({"bom_orm", "utility", "majtop", "bontop_logprob", "pass_weak", "pass", "bom_logprob"}) == [
        "pass", "pass_weak", "majtop", "bontop_logprob", "bom_logprob", "bom_orm", "utility"]


def test_new_families_have_tables_with_their_definitions():
    run = Run(Path("a.json"), "m", {}, (task("mbpp_plus_tts", {
        "pass@1": 0.2, "pass@1_weak": 0.3, "majtop@1": 0.1, "bom@1_orm": 0.4, "utility@1": -0.1,
        "tokens_per_sample": 211.5}),))
    sections = format_report([run], ["m"]).strip().split("\n\n")
    titles = [s.splitlines()[0] for s in sections]
    assert titles[1].startswith("pass@k under the weak tests only")
    assert titles[2].startswith("majtop@k (submit the k most frequent answers of N samples)")
    assert titles[3].startswith("bom@k by orm (Best-of-Majority")
    assert titles[4].startswith("utility@k (resample up to k times")
    assert sections[-1].splitlines()[-1].rstrip(" |").endswith("211.5")  # tokens/sample in the summary
