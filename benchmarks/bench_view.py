"""`lm-eval-tts view` on a full GSM8K run: file size and time to first render in headless chromium, side by side
with a naive page of the same samples (all rows built eagerly, samples embedded as plain JSON: the baseline).

The run is made by lm-eval itself on the real gsm8k_tts task (its complete shipped test set, 1,319 problems) with
16 scripted responses per problem (tests/report/view_fixture.evaluate_scripted: real requests, grading filters,
metrics, results and samples files). Responses are synthesised from each problem's own reference solution,
padded with reasoning sentences to a log-normal length (median 700 characters, about 175 tokens: the length of
an instruct model's GSM8K chain of thought), correct with a per-problem probability drawn from Beta(0.7, 0.5),
4% cut off before an answer, first words drawn from 12 openers (FIRE-like diverse first tokens).
A second page of 5,000 problems x 16 samples (the first 5,000 GSM8K train problems, same synthesis) checks that the
list stays lazy. Timings are medians over --rounds fresh tabs.

    python benchmarks/bench_view.py [--rounds 5] [--big 5000]
    python benchmarks/bench_view.py --screenshots docs/ --runs OUT... [--problem ROW]   # README's pictures
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OPENERS = ["To solve this,", "Let's think step by step.", "First,", "We know that", "Step 1:", "Okay, so",
           "Since", "The question asks", "Let me", "In this problem,", "Given that", "Here,"]
FILLER = [
    "Let me make sure I read the question correctly.", "We need to keep track of the units here.",
    "This is the key quantity for the next step.", "Let me double-check this calculation.",
    "Now we can use this result.", "So far everything is consistent with the problem statement.",
    "It helps to write down what we know.", "Next, we combine the pieces.",
]
SAMPLES, MEDIAN_CHARS, SIGMA = 16, 700, 0.45


def synthesise(doc: dict, index: int, rng_seed: str) -> str:
    """One response to a GSM8K doc (deterministic in the doc, sample index and seed)."""
    rng = random.Random(f"{rng_seed}|{doc['question']}|{index}")
    p_correct = random.Random(f"{rng_seed}|{doc['question']}").betavariate(0.7, 0.5)
    *steps, final = doc["answer"].split("\n")
    gold = final.replace("####", "").strip().replace(",", "")
    steps = [re.sub(r"<<[^>]*>>", "", s) for s in steps]
    target = MEDIAN_CHARS * rng.lognormvariate(0, SIGMA)
    parts = [f"{rng.choice(OPENERS)} we work through it carefully."]
    while sum(map(len, parts)) < target - 60:
        parts.append(steps[len(parts) % len(steps)] if rng.random() < 0.6 else rng.choice(FILLER))
    if rng.random() < 0.04:
        return " ".join(parts)
    answer = gold if rng.random() < p_correct else str(int(float(gold)) + rng.choice([-10, -2, -1, 1, 2, 5, 100]))
    return "\n".join(parts) + f"\nTherefore, the answer is \\boxed{{{answer}}}."


def make_run(out: Path, problems: int | None, dataset: str | None, tokenizer_dir: Path) -> Path:
    from tests.report.view_fixture import evaluate_scripted

    metadata = {"repeats": SAMPLES, **({"dataset": dataset} if dataset else {})}
    evaluate_scripted(["gsm8k_tts"], lambda task, doc, i: synthesise(doc, i, "bench"), out,
                      f"pretrained={tokenizer_dir},fire=True", metadata, tokenizer_dir, limit=problems)
    return out


def naive_page(run_dir: Path, path: Path) -> Path:
    """The baseline: every samples line as plain JSON, every problem and all its responses built at load."""
    lines = [json.loads(line) for f in sorted(run_dir.rglob("samples_*.jsonl"))
             for line in f.read_text().split("\n") if line.strip()]
    data = json.dumps(lines).replace("<", "\\u003c")
    script = """
const rows = JSON.parse(document.getElementById('d').textContent), root = document.getElementById('root');
for (const r of rows) {
  const box = document.createElement('details'); const s = document.createElement('summary');
  const recs = r.filtered_resps[0].map(x => JSON.parse(x));
  s.textContent = `${r.doc_id} ${r.filter} ${recs.filter(x => x.correct).length}/${recs.length} ${r.doc.question}`;
  box.append(s);
  r.resps[0].forEach((t, i) => { const p = document.createElement('pre'); p.textContent = recs[i].answer + ': ' + t; box.append(p); });
  root.append(box);
}
window.lmEvalTtsView = {firstRenderMs: performance.now()};
"""
    path.write_text(f"<!DOCTYPE html><meta charset=utf-8><title>naive</title><div id=root></div>"
                    f"<script type=application/json id=d>{data}</script><script>{script}</script>")
    return path


def first_render_ms(browser, path: Path, ready: str) -> float:
    """Milliseconds from navigation start until the first frame after the page's first render."""
    tab = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        tab.goto(path.resolve().as_uri(), wait_until="load", timeout=600_000)
        tab.wait_for_selector(ready, timeout=600_000)
        return tab.evaluate("""() => new Promise(done => requestAnimationFrame(() => setTimeout(() =>
            done(Math.max(window.lmEvalTtsView.firstRenderMs,
                          (performance.getEntriesByName('first-contentful-paint')[0] || {startTime: 0}).startTime)))))""")
    finally:
        tab.close()


def interaction_ms(browser, path: Path) -> dict[str, float]:
    """Opening a problem page (its chunk decoded and built) and jumping to the end of the list."""
    tab = browser.new_page(viewport={"width": 1400, "height": 900})
    try:
        tab.goto(path.resolve().as_uri())
        tab.wait_for_selector("#list .row")
        out = {}
        for name, action, ready in (("open problem", "Enter", "#samples .card"), ("back to list", "Escape", "#list .row"),
                                    ("jump to last row", "End", "#list .row.sel")):
            start = tab.evaluate("performance.now()")
            tab.keyboard.press(action)
            tab.wait_for_selector(ready)
            out[name] = tab.evaluate("performance.now()") - start
        out["rows in DOM"] = len(tab.query_selector_all("#list .row"))
        return out
    finally:
        tab.close()


def screenshots(browser, path: Path, out_dir: Path, problem: int) -> None:
    """README's pictures: the problem list, and the page of the problem in list row `problem`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tab = browser.new_page(viewport={"width": 1400, "height": 860})
    try:
        tab.goto(path.resolve().as_uri())
        tab.wait_for_selector("#list .row")
        tab.screenshot(path=str(out_dir / "view_list.png"))
        for _ in range(problem):
            tab.keyboard.press("j")
        tab.keyboard.press("Enter")
        tab.wait_for_selector("#samples .card")
        tab.screenshot(path=str(out_dir / "view_problem.png"))
    finally:
        tab.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--big", type=int, default=5000, help="problems in the lazy-list check (0: skip)")
    parser.add_argument("--keep", type=Path, help="keep the runs and pages here")
    parser.add_argument("--screenshots", type=Path, metavar="DIR",
                        help="only write view_list.png and view_problem.png of a page of --runs into DIR")
    parser.add_argument("--runs", nargs="+", default=[], help="with --screenshots: lm-eval output dirs")
    parser.add_argument("--problem", type=int, default=0, help="with --screenshots: list row of the problem page")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from lm_eval_tts.cli import main as cli
    from tests.model_builders import tiny_llama_dir

    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_view-"))
    if args.screenshots:
        page = work / "screenshots.html"
        assert cli(["view", *args.runs, "-o", str(page)]) == 0
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
            screenshots(browser, page, args.screenshots, args.problem)
        return 0
    tokenizer_dir = tiny_llama_dir()  # SmolLM2's tokenizer: hot tokens decoded as for a real FIRE run
    train = ROOT / "task_configs" / "gsm8k" / "data" / "gsm8k_train.jsonl"
    cases = [("GSM8K test", None, None)] + ([(f"GSM8K train x{args.big}", args.big, str(train))] if args.big else [])
    rows = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        for name, limit, dataset in cases:
            run = work / re.sub(r"\W+", "_", name)
            started = time.perf_counter()
            make_run(run, limit, dataset, tokenizer_dir)
            made = time.perf_counter() - started
            page = work / f"{run.name}.html"
            started = time.perf_counter()
            assert cli(["view", str(run), "-o", str(page)]) == 0
            built = time.perf_counter() - started
            baseline = naive_page(run, work / f"{run.name}_naive.html")
            raw = sum(f.stat().st_size for f in run.rglob("samples_*.jsonl"))
            raw_gz = sum(len(gzip.compress(f.read_bytes(), 6)) for f in run.rglob("samples_*.jsonl"))
            ours = [first_render_ms(browser, page, "#list .row") for _ in range(args.rounds)]
            naive = [first_render_ms(browser, baseline, "details") for _ in range(args.rounds)]
            rows.append((name, made, built, raw, raw_gz, page.stat().st_size, baseline.stat().st_size,
                         statistics.median(naive), statistics.median(ours), interaction_ms(browser, page)))
        browser.close()

    print(f"{'case':<22} {'samples jsonl':>13} {'(gzip)':>9} {'naive page':>11} {'view page':>10} {'size ratio':>10}"
          f" {'naive render':>13} {'view render':>12} {'ratio':>6}")
    for name, made, built, raw, raw_gz, size, naive_size, naive_ms, ours_ms, more in rows:
        print(f"{name:<22} {raw / 1e6:>11.1f}MB {raw_gz / 1e6:>7.1f}MB {naive_size / 1e6:>9.1f}MB {size / 1e6:>8.1f}MB"
              f" {size / raw:>10.2f} {naive_ms:>11.0f}ms {ours_ms:>10.0f}ms {ours_ms / naive_ms:>6.3f}")
        details = ", ".join(f"{k} {v:.0f} ms" if "ms" not in k and k != "rows in DOM" else f"{k} {v:.0f}"
                            for k, v in more.items())
        print(f"    lm-eval run {made:.0f} s, `lm-eval-tts view` {built:.1f} s; {details}")
    print(f"(first render: navigation start to the first frame after the list is drawn, median of {args.rounds}; "
          f"files in {work})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
