"""The viewer page in a real headless browser (Debian's chromium through Playwright), opened from file://.

Two runs of the real gsm8k_tts and mbpp_tts tasks are made by lm-eval with scripted responses (view_fixture), so
every count and text the page must show is known; one slow test reads a real tiny model's FIRE run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from lm_eval_tts.cli import main
from tests.report.view_fixture import GSM8K_PLANS, MBPP_PLANS, N_DOCS, N_SAMPLES, XSS, scripted_runs

CORRECT = ("gold", "xss", "ok")


def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return path


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model_dir):
    return scripted_runs(tmp_path_factory.mktemp("view_runs"), tiny_model_dir)


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("view") / "report.html"
    assert main(["view", str(runs["fire"]), str(runs["regular"]), "-o", str(out)]) == 0
    return out


class Opened:
    """A browser tab on a report, with every console error, page error and dialog it raised."""

    def __init__(self, browser, path: Path, bypass_csp: bool = False):
        self.context = browser.new_context(viewport={"width": 1400, "height": 900}, bypass_csp=bypass_csp)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"pageerror: {e}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        self.page.goto(path.resolve().as_uri())
        self.page.wait_for_selector("#list .row")

    def task(self, wanted: str) -> None:
        """Show the task whose name starts with `wanted` (GSM8K: its strict-match filter when it has several)."""
        options = self.page.eval_on_selector_all("#task option", "os => os.map(o => [o.value, o.textContent])")
        matching = [value for value, text in options if text.startswith(wanted)]
        strict = [value for value, text in options if text.startswith(wanted) and "strict" in text]
        self.page.select_option("#task", (strict or matching)[0])
        self.page.wait_for_selector("#list .row")

    def rows(self) -> list[str]:
        """Doc ids of the rendered rows, top to bottom."""
        return self.page.eval_on_selector_all(
            "#list .row", "rs => rs.sort((a, b) => a.offsetTop - b.offsetTop).map(r => r.firstChild.textContent)")

    def count(self) -> str:
        return self.page.text_content("#count")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def opened(browser, report):
    tab = Opened(browser, report)
    yield tab
    tab.close()
    assert tab.problems == []


def n_correct(plan) -> int:
    return sum(step in CORRECT for step in plan)


def logged(out_dir: Path, task: str) -> dict[int, dict]:
    """doc_id -> the first samples line lm-eval wrote for it."""
    lines = next(out_dir.rglob(f"samples_{task}_*.jsonl")).read_text().split("\n")
    entries: dict[int, dict] = {}
    for line in filter(str.strip, lines):
        entry = json.loads(line)
        entries.setdefault(entry["doc_id"], entry)
    return entries


def card_marks(page, run: int) -> list[tuple[str, str | None]]:
    """Per sample card of a run: (response text, highlighted hot-token text or None)."""
    return page.eval_on_selector_all(f".card[data-run='{run}'] pre.resp", """ps => ps.map(p => {
        const m = p.querySelector('mark.hot'); return [p.textContent, m ? m.textContent : null]; })""")


def test_list_loads_from_file_with_the_expected_counts(opened):
    tasks = opened.page.eval_on_selector_all("#task option", "os => os.map(o => o.textContent)")
    assert any(t.startswith("gsm8k_tts") for t in tasks) and any(t.startswith("mbpp_tts") for t in tasks)
    opened.task("gsm8k_tts")
    assert opened.count() == f"{N_DOCS} of {N_DOCS} problems"
    assert opened.rows() == [str(i) for i in range(N_DOCS)]
    first = opened.page.eval_on_selector_all("#list .row[data-pos='1'] .pass", "ps => ps.map(p => p.textContent)")
    assert first == [f"{n_correct(GSM8K_PLANS[run][1])}/{N_SAMPLES}" for run in ("fire", "regular")]


@pytest.mark.parametrize("name, expected", [
    ("allwrong", lambda plan: n_correct(plan) == 0),
    ("lucky", lambda plan: n_correct(plan) == 1),
    ("noanswer", lambda plan: "none" in plan),
])
def test_filters_change_the_list(opened, name, expected):
    opened.task("gsm8k_tts")
    opened.page.check(f"input[data-filter={name}]")
    wanted = [str(i) for i, plan in enumerate(GSM8K_PLANS["fire"]) if expected(plan)]
    assert wanted and opened.rows() == wanted
    assert opened.count() == f"{len(wanted)} of {N_DOCS} problems"
    opened.page.select_option("#focus", "1")  # the filters follow the chosen run
    assert opened.rows() == [str(i) for i, plan in enumerate(GSM8K_PLANS["regular"]) if expected(plan)]


def test_timeout_filter_on_code(opened):
    opened.task("mbpp_tts")
    opened.page.check("input[data-filter=timeout]")
    assert opened.rows() == [str(i) for i, plan in enumerate(MBPP_PLANS["fire"]) if "loop" in plan]


def test_sorting_by_pass_rate_and_disagreement(opened):
    opened.task("gsm8k_tts")
    opened.page.select_option("#sort", "pass-asc")
    by_rate = sorted(range(N_DOCS), key=lambda i: (n_correct(GSM8K_PLANS["fire"][i]), i))
    assert opened.rows() == [str(i) for i in by_rate]
    opened.page.select_option("#sort", "dis-desc")
    gap = [abs(n_correct(GSM8K_PLANS["fire"][i]) - n_correct(GSM8K_PLANS["regular"][i])) for i in range(N_DOCS)]
    assert opened.rows()[0] == str(max(range(N_DOCS), key=lambda i: (gap[i], -i)))


def test_problem_page_two_runs_side_by_side_with_hot_tokens(opened, runs, tiny_model_dir):
    from tokenizers import Tokenizer

    opened.task("gsm8k_tts")
    opened.page.click("#list .row[data-pos='1']")
    opened.page.wait_for_selector("#samples .card")
    page = opened.page
    entry = logged(runs["fire"], "gsm8k_tts")[1]
    assert page.text_content("#prompt") == entry["arguments"]["gen_args_0"]["arg_0"]
    assert page.text_content("#reference") == entry["target"]
    cards = page.eval_on_selector_all("#samples .card.sample", "cs => cs.map(c => [c.dataset.run, c.className])")
    assert len(cards) == 2 * N_SAMPLES and {run for run, _ in cards} == {"0", "1"}
    verdicts = ["ok" in cls.split() for run, cls in cards if run == "0"]
    assert verdicts == [step in CORRECT for step in GSM8K_PLANS["fire"][1]]
    answers = page.eval_on_selector_all(".card[data-run='0'] .answer", "as => as.map(a => a.textContent)")
    assert answers[1:] == ["1001", "1002", "1003"]
    # FIRE run: the first token (the hot one for line 1) is highlighted and is what the tokenizer decodes.
    tokenizer = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
    marks = card_marks(page, 0)
    assert len(marks) == N_SAMPLES
    for text, mark in marks:
        assert mark and mark == tokenizer.decode([tokenizer.encode(text, add_special_tokens=False).ids[0]])
    assert all(mark is None for _, mark in card_marks(page, 1))  # regular sampling: no hot token, but its
    firsts = page.eval_on_selector_all(".card[data-run='1'] .tok.first", "ts => ts.map(t => t.textContent)")
    assert len(firsts) == N_SAMPLES  # first tokens are shown to compare with FIRE's
    page.select_option("#compare-right", "")
    assert len(page.query_selector_all("#samples .card.sample")) == N_SAMPLES


@pytest.fixture
def without_csp(browser, report):
    """The page with its Content-Security-Policy ignored: escaping alone must keep sample text inert."""
    tab = Opened(browser, report, bypass_csp=True)
    yield tab
    tab.close()
    assert tab.problems == []


def test_sample_text_cannot_run_script(without_csp):
    opened = without_csp
    opened.task("gsm8k_tts")
    xss_doc = next(i for i, plan in enumerate(GSM8K_PLANS["fire"]) if "xss" in plan)
    opened.page.click(f"#list .row[data-pos='{xss_doc}']")
    opened.page.wait_for_selector("#samples .card")
    assert XSS in opened.page.text_content(".card[data-run='0'][data-sample='0'] pre.resp")
    assert opened.page.eval_on_selector_all("#app script, #app img", "es => es.length") == 0
    assert opened.page.evaluate("document.scripts.length") == len(opened.page.query_selector_all("script"))
    # opened's teardown asserts no dialog (alert) opened and no error was logged


def test_code_problem_page_shows_program_tests_and_failure(opened):
    opened.task("mbpp_tts")
    doc = next(i for i, plan in enumerate(MBPP_PLANS["fire"]) if "loop" in plan)
    opened.page.click(f"#list .row[data-pos='{doc}']")
    opened.page.wait_for_selector("#samples .card")
    loop = MBPP_PLANS["fire"][doc].index("loop")
    card = f".card[data-run='0'][data-sample='{loop}']"
    assert "while True" in opened.page.text_content(f"{card} pre.program")
    assert "timeout" in opened.page.text_content(f"{card} .verdict")
    verdicts = opened.page.eval_on_selector_all(f"{card} table.tests td.v", "ts => ts.map(t => t.textContent)")
    labels = opened.page.eval_on_selector_all(f"{card} table.tests code", "cs => cs.map(c => c.textContent)")
    assert verdicts == ["✗"] * 3 and all(label.startswith("assert ") for label in labels)
    wrong = MBPP_PLANS["fire"][doc].index("wrong")
    assert opened.page.text_content(f".card[data-run='0'][data-sample='{wrong}'] .detail").strip()


def test_keyboard_and_search(opened):
    page = opened.page
    opened.task("gsm8k_tts")
    page.keyboard.press("/")
    page.keyboard.type("70000")  # GSM8K test doc 2's reference
    page.wait_for_selector("#count:text-matches('^1 of')")
    assert opened.rows() == ["2"]
    page.keyboard.press("Escape")  # clears the search
    page.wait_for_selector(f"#count:text-matches('^{N_DOCS} of')")
    page.keyboard.press("Escape")  # leaves the search box for the list
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_selector("#samples .card")
    assert page.evaluate("location.hash").endswith("/1")
    page.keyboard.press("n")  # (a hash change is no navigation to wait for: wait for the page it draws)
    page.wait_for_selector(".nav .caption:text-matches('doc 2 ·')")
    assert page.evaluate("location.hash").endswith("/2")
    page.keyboard.press("p")
    page.wait_for_selector(".nav .caption:text-matches('doc 1 ·')")
    assert page.evaluate("location.hash").endswith("/1")
    page.keyboard.press("Escape")
    page.wait_for_selector("#list .row.sel")
    assert page.text_content("#list .row.sel span") == "1"


def test_results_tables_and_plots(opened):
    opened.page.keyboard.press("r")
    opened.page.wait_for_selector("#results table")
    text = opened.page.text_content("#results")
    assert "alpha=0.5" in text and "pass@k" in text
    sizes = opened.page.eval_on_selector_all("#results img", "is => is.map(i => i.naturalWidth)")
    assert sizes and all(width > 100 for width in sizes)


def test_lazy_rendering_keeps_few_rows_for_5000_problems(browser, tmp_path):
    from tests.report.test_view_page import view_run
    from lm_eval_tts.report.view import page

    index, chunks = page.build_data([view_run("big", range(5000))], "big", plots=False)
    path = page.write_page(page.render_html(index, chunks), tmp_path / "big.html")
    tab = Opened(browser, path)
    try:
        assert tab.count() == "5000 of 5000 problems"
        assert len(tab.rows()) < 100
        tab.page.keyboard.press("End")
        tab.page.wait_for_selector("#list .row[data-pos='4999']")
        assert len(tab.rows()) < 100 and tab.problems == []
    finally:
        tab.close()


@pytest.mark.slow
def test_real_fire_run_of_a_tiny_model(browser, lm_eval_cli, tiny_model_dir, tmp_path):
    """`lm_eval --model wise_fire ... fire=True --log_samples`, then `lm-eval-tts view`: each FIRE sample's
    highlighted hot token is the text of the token id its record carries."""
    from tokenizers import Tokenizer

    result = lm_eval_cli(["--model", "wise_fire", "--model_args", f"pretrained={tiny_model_dir},backend=hf,fire=True",
                          "--tasks", "gsm8k_tts", "--limit", "2", "--metadata", json.dumps({"repeats": 3}),
                          "--gen_kwargs", "max_gen_toks=12", "--log_samples", "--output_path", "out"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    out = tmp_path / "report.html"
    assert main(["view", str(tmp_path / "out"), "-o", str(out), "--no-plots"]) == 0
    tab = Opened(browser, out)
    try:
        tab.page.click("#list .row[data-pos='0']")
        tab.page.wait_for_selector("#samples .card")
        records = [json.loads(r) for r in logged(tmp_path / "out", "gsm8k_tts")[0]["filtered_resps"][0]]
        tokenizer = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
        marks = card_marks(tab.page, 0)
        assert len(marks) == len(records) == 3
        for (text, mark), record in zip(marks, records):
            token = tokenizer.decode([record["first_token"]], skip_special_tokens=False)
            # the token's text where the response starts with it, else (a split character) its position only
            assert mark == (token if text.startswith(token) else "")
        assert tab.page.eval_on_selector_all(".meta .tok", "ts => ts.length") == 3
        assert tab.problems == []
    finally:
        tab.close()
