"""Build the viewer page: runs and their samples -> one self-contained HTML file.

The page embeds two kinds of data, so it shows the problem list at once however many samples it holds:
- an index (plain JSON in a `<script type="application/json">`): runs, the report's tables and plots, per
  task the problems (id, title, search text), and one list per task and filter (per run: correct count,
  graded count, #EA, flags);
- detail chunks (gzip + base64, about CHUNK_BYTES of JSON each): prompt, reference, doc fields, every response
  with its hot-token span and every filter's record of it, decoded by the page only when a problem is opened.
All sample text is data: it is JSON inside script elements whose `<`, `>` and `&` are escaped, and the page
builds every element with textContent (never innerHTML); a Content-Security-Policy with a per-file nonce blocks
any script, style or request the page did not bring.
"""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import html
import json
import math
import os
import re
import secrets
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from lm_eval_tts.errors import UserError
from lm_eval_tts.report.results import Run, differing_args, load_runs, run_labels
from lm_eval_tts.report.table import format_report
from lm_eval_tts.report.view import hot_token
from lm_eval_tts.report.view.samples import (
    Problem,
    TaskSamples,
    doc_id_order,
    problem_question,
    problem_title,
    read_samples_file,
    samples_files,
    summarize,
)
from lm_eval_tts.sampling.fire import FireParams

CHUNK_BYTES = 256 * 1024  # JSON per detail chunk: a problem page decodes one chunk (a few ms)
MARKER = re.compile(r"\{\{(TITLE|NONCE|STYLE|SCRIPT|DATA)\}\}")
TITLE_CHARS, SEARCH_CHARS, FIELD_CHARS, TEST_LABEL_CHARS = 160, 1000, 4000, 300
MAX_TEST_LABELS = 200  # HumanEval+ has up to ~1,000 tests per problem; the page shows failures first anyway


@dataclass(frozen=True)
class ViewRun:
    run: Run
    label: str
    config: dict[str, Any]
    fire: FireParams | None
    tasks: tuple[TaskSamples, ...]


def load_view_runs(paths: Sequence[str | Path]) -> list[ViewRun]:
    """Runs from results files / output dirs, each with the samples lm-eval logged beside it."""
    runs = load_runs(paths)
    views = []
    for run, label in zip(runs, run_labels(runs)):
        files = samples_files(run.path)
        if not files:
            raise UserError(f"{run.path}: no samples files (samples_<task>_*.jsonl) beside it; "
                            "rerun lm_eval with --log_samples")
        config = json.loads(run.path.read_text(encoding="utf-8")).get("config") or {}
        tasks = tuple(t for task, path in files.items() for t in read_samples_file(task, path))
        views.append(ViewRun(run, label, config, hot_token.fire_setting(config), tasks))
    return views


# ---------------------------------------------------------------- hot tokens


def hot_token_texts(view: ViewRun, decoders: dict[str, hot_token.Decoder | None],
                    tokenizer: str | None) -> dict[int, str]:
    """Decoded text of the hot token ids of a FIRE run, or of the first token ids of a regular run (to compare
    which first tokens each drew); {} when no tokenizer loads."""
    line = view.fire.line if view.fire else 1
    ids = {i for task in view.tasks for p in task.problems for s in p.samples
           if hot_token.HOT_TEXT_KEY not in s.record and (i := hot_token.hot_token_id(s.record, line)) is not None}
    source = tokenizer or hot_token.tokenizer_source(view.config)
    if not ids or not source:
        return {}
    if source not in decoders:
        decoders[source] = hot_token.load_decoder(source)
    return decoders[source](ids) if decoders[source] else {}


def sample_data(text: str, record: Mapping[str, Any], fire: FireParams | None, texts: Mapping[int, str]) -> dict:
    """One response for the page: its text and, for FIRE, the hot token (its UTF-16 span for JavaScript),
    found from the ids in its record."""
    out: dict[str, Any] = {"text": text}
    if fire is None:
        first = hot_token.hot_token_id(record, 1)
        if first in texts:
            out["first_text"] = texts[first]
    else:
        token_id = hot_token.hot_token_id(record, fire.line)
        token_text = record.get(hot_token.HOT_TEXT_KEY)
        token_text = token_text if isinstance(token_text, str) else texts.get(token_id)
        span = hot_token.hot_span(text, token_text, fire.line)
        out["hot"] = None if span is None else [hot_token.utf16_index(text, i) for i in span]
        out["hot_text"] = token_text
        out["hot_id"] = token_id
    return out


# ---------------------------------------------------------------- index and detail chunks


def test_labels(doc: Mapping[str, Any], count: int = 0) -> list[str]:
    """What each of a code problem's `count` tests checks, from the fields the code tasks' docs have (MBPP
    asserts, LiveCodeBench public tests, MBPP+/HumanEval+ base + plus inputs or just their split `n_base`,
    HumanEval's check function), at most MAX_TEST_LABELS; [] when the doc has none of them."""
    if isinstance(doc.get("test_list"), list):
        labels = [str(t) for t in doc["test_list"]]
    elif isinstance(doc.get("public_test_cases"), str):
        try:
            tests = json.loads(doc["public_test_cases"])
        except json.JSONDecodeError:
            return []
        labels = [f"input {str(t.get('input'))[:TEST_LABEL_CHARS]!r} -> {str(t.get('output'))[:TEST_LABEL_CHARS]!r}"
                  for t in tests if isinstance(t, dict)]
    elif isinstance(doc.get("base_input"), list):
        plus = doc.get("plus_input") if isinstance(doc.get("plus_input"), list) else []
        name = doc.get("entry_point") or "f"
        labels = [f"{name}({str(args)[:TEST_LABEL_CHARS]})" for args in doc["base_input"] + plus]
    elif isinstance(doc.get("n_base"), int):  # the inputs themselves live in the task's expected-outputs file
        labels = [f"base input {i + 1}" if i < doc["n_base"] else f"plus input {i + 1 - doc['n_base']}"
                  for i in range(min(count, MAX_TEST_LABELS))]
    elif isinstance(doc.get("test"), str) and doc.get("entry_point"):
        labels = [f"check({doc['entry_point']})"]
    else:
        return []
    return [label[:TEST_LABEL_CHARS] for label in labels[:MAX_TEST_LABELS]]


def doc_fields(doc: Mapping[str, Any]) -> dict[str, str]:
    """Every doc field as text, long ones cut (hub releases carry megabytes of hidden tests)."""
    out = {}
    for key, value in doc.items():
        text = value if isinstance(value, str) else json.dumps(json_safe(value), ensure_ascii=False, default=str)
        out[str(key)] = text if len(text) <= FIELD_CHARS else f"{text[:FIELD_CHARS]}... ({len(text):,} characters)"
    return out


def task_groups(views: Sequence[ViewRun]) -> dict[str, dict[str, dict[int, TaskSamples]]]:
    """task -> filter -> run index -> its samples; tasks and filters in first-seen order."""
    out: dict[str, dict[str, dict[int, TaskSamples]]] = {}
    for i, view in enumerate(views):
        for samples in view.tasks:
            out.setdefault(samples.task, {}).setdefault(samples.filter, {})[i] = samples
    return out


def build_group(task: str, filters: Mapping[str, Mapping[int, TaskSamples]], views: Sequence[ViewRun],
                texts: Sequence[Mapping[int, str]], chunk_prefix: str) -> tuple[dict, list[dict], list[tuple[str, bytes]]]:
    """One task's problems across runs, aligned on doc ids: the group (ids, titles, search text, chunks), one
    list entry per filter (its name and per-run stats) and the detail chunks (element id, gzip JSON).

    The filters of a task (GSM8K: strict-match, flexible-extract) grade the same responses, so a chunk holds
    each response once and every filter's records beside it."""
    runs = sorted({i for by_run in filters.values() for i in by_run})
    lookup = {f: {i: {p.doc_id: p for p in samples.problems} for i, samples in by_run.items()}
              for f, by_run in filters.items()}
    doc_ids = sorted({d for by_run in lookup.values() for problems in by_run.values() for d in problems},
                     key=doc_id_order)
    group: dict[str, Any] = {"task": task, "runs": runs, "ids": doc_ids, "titles": [], "search": [], "chunks": []}
    entries = [{"name": TaskSamples(task, f, ()).name, "filter": f,
                "stats": [{"c": [], "n": [], "ea": [], "f": []} for _ in runs]} for f in filters]
    chunks: list[tuple[str, bytes]] = []
    pending: list[str] = []
    pending_bytes, first = 0, 0

    def flush(next_position: int) -> None:
        nonlocal pending, pending_bytes, first
        if pending:
            element_id = f"{chunk_prefix}-{len(chunks)}"
            raw = ("[" + ",".join(pending) + "]").encode("utf-8", "surrogatepass")
            chunks.append((element_id, gzip.compress(raw, compresslevel=9, mtime=0)))
            group["chunks"].append([first, element_id])
        pending, pending_bytes, first = [], 0, next_position

    for position, doc_id in enumerate(doc_ids):
        found = {f: [lookup[f].get(i, {}).get(doc_id) for i in runs] for f in filters}
        every = [p for problems in found.values() for p in problems if p is not None]
        shown = every[0]
        answers = {str(s.record["answer"]) for p in every for s in p.samples if s.record.get("answer") is not None}
        search = " ".join([str(doc_id), problem_question(shown), shown.target, *sorted(answers)[:20]])
        title = problem_title(shown)
        group["titles"].append(title if len(title) <= TITLE_CHARS else title[:TITLE_CHARS - 1] + "\u2026")
        group["search"].append(" ".join(search.split())[:SEARCH_CHARS].lower())
        for entry, problems in zip(entries, found.values()):
            for stat, problem in zip(entry["stats"], problems):
                summary = summarize(problem) if problem else {"c": None, "n": None, "ea": None, "f": 0}
                for key, value in summary.items():
                    stat[key].append(value)
        detail = {"prompt": shown.prompt, "target": shown.target, "doc": doc_fields(shown.doc),
                  "tests": test_labels(shown.doc, max((len(s.record.get("tests_passed") or ()) for p in every
                                                       for s in p.samples), default=0)),
                  "runs": [run_detail({f: problems[k] for f, problems in found.items()}, views[i], texts[i],
                                      shown.prompt) for k, i in enumerate(runs)]}
        text = json.dumps(detail, ensure_ascii=False, separators=(",", ":"), default=str)
        pending.append(text)
        pending_bytes += len(text)
        if pending_bytes >= CHUNK_BYTES:
            flush(position + 1)
    flush(len(doc_ids))
    return group, entries, chunks


def run_detail(by_filter: Mapping[str, Problem | None], view: ViewRun, texts: Mapping[int, str],
               prompt: str) -> dict | None:
    """One run's samples of one problem: each response once (with its hot token), each filter's records."""
    present = {f: p for f, p in by_filter.items() if p is not None}
    if not present:
        return None
    base = next(iter(present.values()))
    return {
        "prompt": base.prompt if base.prompt != prompt else None,
        "samples": [sample_data(s.text, s.record, view.fire, texts) for s in base.samples],
        "filters": {f: {"metrics": p.metrics, "records": [json_safe(s.record) for s in p.samples]}
                    for f, p in present.items()},
    }


def markdown_tables(text: str) -> list[dict[str, Any]]:
    """`report`'s markdown (title lines, then a table) -> [{"title", "header", "rows"}], in order."""
    sections: list[dict[str, Any]] = []
    title: list[str] = []
    for line in text.splitlines():
        if line.startswith("|"):
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not sections or title:
                sections.append({"title": " ".join(title), "header": cells, "rows": []})
                title = []
            elif not all(set(cell) <= {"-", ":"} for cell in cells):
                sections[-1]["rows"].append(cells)
        elif line.strip():
            title.append(line.strip())
    return sections


def plot_images(runs: Sequence[Run], labels: Sequence[str]) -> list[dict[str, str]]:
    """`report --plot`'s PNGs (scaling per task; metric vs every numeric model_arg that differs) as data URIs."""
    from lm_eval_tts.report.plots import plot_scaling, plot_vs_param  # matplotlib only here

    with tempfile.TemporaryDirectory(prefix="lm-eval-tts-view-") as tmp:
        paths = plot_scaling(runs, labels, Path(tmp))
        for param in differing_args(runs):
            if all(_is_float(run.model_args.get(param)) for run in runs):
                paths += plot_vs_param(runs, param, Path(tmp))
        return [{"name": path.stem, "src": "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()}
                for path in paths]


def build_data(views: Sequence[ViewRun], title: str, tokenizer: str | None = None,
               plots: bool = True) -> tuple[dict, list[tuple[str, bytes]]]:
    """The page's index and detail chunks for these runs."""
    decoders: dict[str, hot_token.Decoder | None] = {}
    texts = [hot_token_texts(view, decoders, tokenizer) for view in views]
    runs = [view.run for view in views]
    labels = [view.label for view in views]
    index: dict[str, Any] = {
        "title": title,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "runs": [{"label": v.label, "path": str(v.run.path), "model": v.run.model, "model_args": v.run.model_args,
                  "fire": None if v.fire is None else {"line": v.fire.line, "temperature": v.fire.temperature,
                                                       "top_k": v.fire.top_k}} for v in views],
        "tables": markdown_tables(format_report(runs, labels)),
        "plots": plot_images(runs, labels) if plots else [],
        "groups": [],
        "tasks": [],
    }
    chunks: list[tuple[str, bytes]] = []
    for number, (task, filters) in enumerate(task_groups(views).items()):
        group, entries, group_chunks = build_group(task, filters, views, texts, f"lmv-chunk-{number}")
        index["groups"].append(group)
        index["tasks"] += [dict(entry, group=number) for entry in entries]
        chunks += group_chunks
    return index, chunks


# ---------------------------------------------------------------- HTML


def render_html(index: Mapping[str, Any], chunks: Sequence[tuple[str, bytes]]) -> str:
    """The template with style, script, index and chunks inlined; a fresh CSP nonce per file."""
    assets = resources.files("lm_eval_tts.report.view") / "assets"
    template = (assets / "view.html").read_text(encoding="utf-8")
    nonce = secrets.token_urlsafe(18)
    data = "\n".join(
        [f'<script type="application/json" id="lmv-index">{script_json(index)}</script>']
        + [f'<script type="application/octet-stream" id="{element_id}">{base64.b64encode(blob).decode()}</script>'
           for element_id, blob in chunks])
    parts = {
        "{{TITLE}}": html.escape(str(index.get("title", ""))),
        "{{NONCE}}": nonce,
        "{{STYLE}}": (assets / "view.css").read_text(encoding="utf-8"),
        "{{SCRIPT}}": (assets / "view.js").read_text(encoding="utf-8"),
        "{{DATA}}": data,
    }
    # One pass: nothing inserted (a title, a sample) is ever read as a marker.
    return MARKER.sub(lambda match: parts[match.group(0)], template)


def script_json(value: Any) -> str:
    """JSON that cannot end or open a tag inside a <script> element (the HTML parser only looks for `</`)."""
    text = json.dumps(json_safe(value), ensure_ascii=True, separators=(",", ":"), default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def json_safe(value: Any) -> Any:
    """Non-finite floats (JSON has no NaN/Infinity) as the strings "nan", "inf", "-inf"."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def check_output(path: Path) -> None:
    if Path(path).is_dir():
        raise UserError(f"-o {path}: is a directory; give the HTML file to write, e.g. -o {Path(path) / 'report.html'}")


def write_page(text: str, path: Path) -> Path:
    """Write via a temporary file in the same directory, then rename (never half-written)."""
    path = Path(path)
    check_output(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="replace") as handle:
            handle.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def _is_float(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
