"""Problem sets of the code tasks: the files shipped in task_configs/ (read offline), or a user's replacement.

Pure readers and filters; which options select what is decided in code_options, the task classes call these.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lm_eval_tts.errors import UserError
from lm_eval_tts.paths import task_configs_dir

MBPP_TEST_IDS = range(11, 511)  # the official MBPP test split (1-10 few-shot, 511-600 validation, 601-974 train)
LCB_HUB_BASE = "hf://datasets/livecodebench/code_generation_lite"
LCB_LATEST_RELEASE = 6


def shipped_file(bench: str, name: str) -> Path:
    return task_configs_dir() / bench / "data" / name


def read_jsonl(source: str | Path) -> list[dict[str, Any]]:
    """Records of a JSONL file; `source` is a path or an fsspec URL. Missing or malformed input -> UserError."""
    text_source = str(source)
    try:
        if "://" in text_source:
            import fsspec

            with fsspec.open(text_source, "rt", encoding="utf-8") as handle:
                lines = handle.read().splitlines()
        else:
            lines = Path(text_source).expanduser().read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise UserError(
            f"data file {text_source} does not exist: give an existing JSONL path or URL (task option dataset=)"
        ) from None
    except OSError as err:
        raise UserError(f"data file {text_source} could not be read ({err})") from None
    records = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise UserError(f"data file {text_source} line {number} is not JSON ({err})") from None
    return records


def require_fields(records: Iterable[Mapping[str, Any]], fields: Iterable[str], source: str) -> None:
    fields = tuple(fields)
    for number, record in enumerate(records, 1):
        missing = [f for f in fields if f not in record]
        if missing:
            raise UserError(f"data file {source} record {number} lacks field(s) {', '.join(missing)}")


# ---------------------------------------------------------------- MBPP (original, sanitized), EvalPlus, HumanEval

MBPP_FIELDS = ("task_id", "text", "code", "test_list", "test_setup_code")
MBPP_SANITIZED_FIELDS = ("task_id", "prompt", "code", "test_list", "test_imports")
EVALPLUS_FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "base_input", "plus_input", "atol")
HUMANEVAL_FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "test")


def ordered_records(
    records: list[dict[str, Any]], fields: tuple[str, ...], source: str, keep: range | None = None
) -> list[dict[str, Any]]:
    """Records in task-number order, after checking their fields; with `keep`, only those task numbers.

    MBPP keeps its test split (task ids 11-510); MBPP+ takes its problems from all of MBPP (EvalPlus chose them
    from the sanitized set), so it keeps them all, as do the HumanEval sets.
    """
    require_fields(records, fields, source)
    if keep is not None:
        records = [r for r in records if task_number(r["task_id"]) in keep]
    return sorted(records, key=lambda r: task_number(r["task_id"]))


def task_number(task_id: int | str) -> int:
    """11 for 11, "11", "Mbpp/11" or "HumanEval/11"."""
    return int(str(task_id).rsplit("/", 1)[-1])


def read_records(source: str, split: str = "test") -> list[dict[str, Any]]:
    """Records from a JSONL path or URL (read directly: MBPP+ columns mix types, which Arrow refuses), or from a
    hub dataset `ID` / `ID:CONFIG` (that split)."""
    if source.endswith((".jsonl", ".json")) or "://" in source or Path(source).expanduser().exists():
        return read_jsonl(source)
    import datasets

    hub_id, _, name = source.partition(":")
    try:
        return datasets.load_dataset(hub_id, name or None, split=split).to_list()
    except Exception as err:  # the hub raises many types; the user needs the source named either way
        raise UserError(f"task option dataset={source}: could not load it as a file or hub dataset ({err})") from None


# ---------------------------------------------------------------- LiveCodeBench

LCB_FIELDS = (
    "question_title", "question_content", "platform", "question_id", "contest_date",
    "starter_code", "difficulty", "public_test_cases", "metadata",
)


def lcb_release_sources(release: str) -> list[str]:
    """Files of a LiveCodeBench release: release_v1 is shipped; release_vN (N>1) is read from the hub.

    The hub dataset splits its problems into test.jsonl (v1), test2.jsonl (added in v2), ...; release_vN is the
    union of the first N files. Those need network; they also carry the private tests (graded when present), so
    a hub release is read whole rather than mixed with the shipped public-tests-only v1 file.
    """
    prefix = "release_v"
    number = release[len(prefix) :] if release.startswith(prefix) else ""
    if not number.isdigit() or not 1 <= int(number) <= LCB_LATEST_RELEASE:
        known = ", ".join(f"{prefix}{i}" for i in range(1, LCB_LATEST_RELEASE + 1))
        raise UserError(f"task option release_version={release!r} is unknown; use one of {known}")
    if int(number) == 1:
        return [str(shipped_file("livecodebench", "livecodebench.jsonl"))]
    return [f"{LCB_HUB_BASE}/test.jsonl"] + [f"{LCB_HUB_BASE}/test{i}.jsonl" for i in range(2, int(number) + 1)]


def filter_lcb(
    records: Iterable[Mapping[str, Any]],
    start_date: dt.date | None = None,
    end_date: dt.date | None = None,
    difficulties: frozenset[str] | None = None,
    platforms: frozenset[str] | None = None,
) -> list[Mapping[str, Any]]:
    """Problems whose contest date lies in [start_date, end_date] (both inclusive) and that match the sets."""
    kept = []
    for record in records:
        day = dt.date.fromisoformat(str(record["contest_date"])[:10])
        if start_date is not None and day < start_date:
            continue
        if end_date is not None and day > end_date:
            continue
        if difficulties is not None and str(record["difficulty"]).lower() not in difficulties:
            continue
        if platforms is not None and str(record["platform"]).lower() not in platforms:
            continue
        kept.append(record)
    return kept


def lcb_docs(records: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """LiveCodeBench records as dataset rows: every column a string (the hub stores tests and metadata as JSON
    text too); `private_test_cases` empty when the data has none (the shipped release_v1)."""
    columns = (*LCB_FIELDS, "private_test_cases")
    return [{c: _lcb_text(record.get(c, "")) for c in columns} for record in records]


def _lcb_text(value: Any) -> str:
    """Every LiveCodeBench column as a string (the hub stores test cases and metadata as JSON strings too)."""
    return value if isinstance(value, str) else json.dumps(value)
