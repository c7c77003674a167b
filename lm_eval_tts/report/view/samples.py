"""Read lm-eval's `--log_samples` files into problems, each with its n samples and their grading records.

lm-eval (0.4.13) writes `samples_<task>_<timestamp>.jsonl` beside `results_<timestamp>.json`, one JSON object
per (doc, filter): `doc_id`, `doc`, `target`, `arguments` (the prompt as sent: `gen_args_0.arg_0`), `resps`
(per request, the raw responses: one list of n strings with `repeats: n`), `filtered_resps` (the filter's output
per response: for `*_tts` tasks a JSON record {answer | program, correct, grade, logprob, first_token, ...}),
`filter`, `metrics` (names) and each metric's per-doc value at the top level.

Records are read as they come: known keys are interpreted, unknown keys are kept for display, and a filter that
returns plain strings (lm-eval's own tasks) gives records {"answer": string}.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Any

from lm_eval_tts.errors import UserError

SAMPLES_PREFIX, SAMPLES_SUFFIX = "samples_", ".jsonl"
RESULTS_PREFIX = "results_"
# Doc fields that hold the problem statement, first match wins (GSM8K, MATH, MBPP, HumanEval, LiveCodeBench).
QUESTION_FIELDS = ("question", "problem", "text", "prompt", "question_content")
TITLE_FIELDS = ("question_title",) + QUESTION_FIELDS
NO_ANSWER_GRADES = frozenset({"no_answer", "no_program", "no_code"})
TIMEOUT_GRADE = "timeout"
# Problem flags (bits), computed once here so the page only tests bits.
HAS_NO_ANSWER, HAS_TIMEOUT = 1, 2


@dataclass(frozen=True)
class Sample:
    text: str  # the raw response
    record: dict[str, Any]  # its grading record (filtered_resps item), {} when the filter left none


@dataclass(frozen=True)
class Problem:
    doc_id: int | str
    prompt: str
    target: str
    doc: dict[str, Any]
    samples: tuple[Sample, ...]
    metrics: dict[str, float]  # the per-doc metric values lm-eval logged (pass@k, #EA, ...)


@dataclass(frozen=True)
class TaskSamples:
    task: str
    filter: str
    problems: tuple[Problem, ...]

    @property
    def name(self) -> str:
        """As lm_eval_tts.report.results.TaskMetrics names it, so the page's lists match its tables."""
        return self.task if self.filter == "none" else f"{self.task} [{self.filter}]"


def samples_files(results_path: Path) -> dict[str, Path]:
    """task -> its samples file: `samples_<task>_<ts>.jsonl` beside `results_<ts>.json` (same timestamp)."""
    stamp = results_path.stem.removeprefix(RESULTS_PREFIX)
    suffix = f"_{stamp}{SAMPLES_SUFFIX}"
    return {
        path.name[len(SAMPLES_PREFIX):-len(suffix)]: path
        for path in sorted(results_path.parent.glob(f"{SAMPLES_PREFIX}*{suffix}"))
    }


def read_samples_file(task: str, path: Path) -> list[TaskSamples]:
    """One TaskSamples per filter in the file, problems in file order; UserError naming the bad line."""
    by_filter: dict[str, list[Problem]] = {}
    try:
        # JSON lines end at "\n" only: str.splitlines() would also cut at U+2028, \x0c, ... inside strings.
        lines = path.read_text(encoding="utf-8").split("\n")
    except OSError as err:
        raise UserError(f"{path}: cannot read ({err.strerror})") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            raise UserError(f"{path}:{number}: not JSON ({err.msg}); is this an lm-eval samples file?") from None
        if not isinstance(entry, dict) or "doc_id" not in entry:
            raise UserError(f"{path}:{number}: not an lm-eval sample (no doc_id); is this an lm-eval samples file?")
        by_filter.setdefault(str(entry.get("filter") or "none"), []).append(parse_entry(entry))
    return [TaskSamples(task, filter_name, tuple(problems)) for filter_name, problems in by_filter.items()]


def parse_entry(entry: Mapping[str, Any]) -> Problem:
    """One samples line -> Problem: responses paired with their records, per-doc metric values."""
    texts = [str(t) for t in flatten(entry.get("resps") or [])]
    records = [parse_record(item) for item in flatten(entry.get("filtered_resps") or [])]
    samples = tuple(Sample(text or "", record or {}) for text, record in zip_longest(texts, records))
    names = entry.get("metrics") if isinstance(entry.get("metrics"), list) else []
    metrics = {str(k): float(entry[k]) for k in names if k in entry and is_number(entry[k])}
    doc = entry.get("doc") if isinstance(entry.get("doc"), dict) else {}
    target = entry.get("target")
    return Problem(entry["doc_id"], prompt_text(entry.get("arguments")), "" if target is None else str(target),
                   doc, samples, metrics)


def flatten(items: Iterable[Any]) -> list[Any]:
    """lm-eval nests responses per request ([[r1..rn]] with repeats, [r] without); one flat list of them."""
    out: list[Any] = []
    for item in items:
        out += item if isinstance(item, list) else [item]
    return out


def parse_record(item: Any) -> dict[str, Any]:
    """A filtered response: a JSON object (our tasks' records, written with str()), else {"answer": item}."""
    if isinstance(item, dict):
        return dict(item)
    if isinstance(item, str):
        try:
            parsed = json.loads(item)
        except json.JSONDecodeError:
            return {"answer": item}
        if isinstance(parsed, dict):
            return parsed
    return {"answer": None if item is None else str(item)}


def prompt_text(arguments: Any) -> str:
    """The prompt as sent to the model: the first argument of the first request."""
    if isinstance(arguments, dict) and arguments:
        first = next(iter(arguments.values()))
        if isinstance(first, dict) and "arg_0" in first:
            return str(first["arg_0"])
    if isinstance(arguments, list) and arguments and isinstance(arguments[0], list) and arguments[0]:
        return str(arguments[0][0])
    return ""


def doc_text(doc: Mapping[str, Any], fields: Sequence[str]) -> str:
    for field in fields:
        if isinstance(doc.get(field), str) and doc[field].strip():
            return doc[field]
    return ""


def problem_title(problem: Problem) -> str:
    """A one-line name: the doc's title or question, else the prompt, whitespace collapsed."""
    return " ".join((doc_text(problem.doc, TITLE_FIELDS) or problem.prompt).split())


def problem_question(problem: Problem) -> str:
    return doc_text(problem.doc, QUESTION_FIELDS) or problem.prompt


# ---------------------------------------------------------------- per-sample and per-problem facts (pure)


def correctness(record: Mapping[str, Any]) -> bool | None:
    value = record.get("correct")
    return value if isinstance(value, bool) else None


def has_no_answer(record: Mapping[str, Any]) -> bool:
    """Nothing extracted: a no-answer grade, an explicit null answer, or an empty program."""
    if record.get("grade") in NO_ANSWER_GRADES:
        return True
    if "answer" in record and record["answer"] is None:
        return True
    return "program" in record and not str(record["program"] or "").strip()


def is_timeout(record: Mapping[str, Any]) -> bool:
    return record.get("grade") == TIMEOUT_GRADE


def distinct_answers(problem: Problem) -> int | None:
    """#EA: lm-eval's logged num_distinct_answers when present, else distinct non-null answers (None: no answers)."""
    if "num_distinct_answers" in problem.metrics:
        return int(problem.metrics["num_distinct_answers"])
    answers = [s.record["answer"] for s in problem.samples if "answer" in s.record]
    if not answers:
        return None
    return len({json.dumps(a, sort_keys=True) for a in answers if a is not None})


def summarize(problem: Problem) -> dict[str, Any]:
    """What the problem list needs: c correct of n graded samples, #EA, flag bits."""
    verdicts = [correctness(s.record) for s in problem.samples]
    graded = [v for v in verdicts if v is not None]
    flags = (HAS_NO_ANSWER if any(has_no_answer(s.record) for s in problem.samples) else 0) | (
        HAS_TIMEOUT if any(is_timeout(s.record) for s in problem.samples) else 0)
    return {"c": sum(graded), "n": len(graded), "ea": distinct_answers(problem), "f": flags}


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def doc_id_order(doc_id: int | str) -> tuple[int, int, str]:
    """Numeric ids in numeric order, then string ids."""
    return (0, doc_id, "") if isinstance(doc_id, int) else (1, 0, str(doc_id))
