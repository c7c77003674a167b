"""Problem sets of the code tasks, read from the files shipped in task_configs/ (no network), with task options.

Each `load_*` function is a task YAML's `custom_dataset`: lm-eval calls it with the task's metadata, which is the
task YAML's `metadata:` merged with the run's `--metadata` JSON and the `--model_args` keys. Options for one task
therefore live under the task's own name, so a suite run can set them per task and model arguments never clash:

    --metadata '{"livecodebench_tts": {"start_date": "2023-09-01", "difficulty": "easy,medium"}}'

Unknown option names under a task's key are a UserError. Every task accepts `data_file`: a local JSONL path or an
fsspec URL (e.g. `hf://datasets/ORG/NAME/file.jsonl`, needs network) with the same fields as the shipped file.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from lm_eval_tts.errors import UserError

MBPP_TEST_IDS = range(11, 511)  # the official MBPP test split (1-10 few-shot, 511-600 validation, 601-974 train)
LCB_DIFFICULTIES = ("easy", "medium", "hard")
LCB_PLATFORMS = ("atcoder", "codeforces", "leetcode")
LCB_SHIPPED_RELEASE = "release_v1"
LCB_HUB_BASE = "hf://datasets/livecodebench/code_generation_lite"
LCB_LATEST_RELEASE = 6


def _configs_dir() -> Path:
    from lm_eval_tts._lm_eval_hook import task_configs_dir

    return task_configs_dir()


def shipped_file(bench: str, name: str) -> Path:
    return _configs_dir() / bench / "data" / name


def task_options(task: str, metadata: Mapping[str, Any], allowed: Mapping[str, Any]) -> dict[str, Any]:
    """The options for `task` (metadata[task], a dict or JSON string) over `allowed` defaults; unknown -> UserError."""
    given = metadata.get(task) or {}
    if isinstance(given, str):
        try:
            given = json.loads(given)
        except json.JSONDecodeError as err:
            raise UserError(f"--metadata {task}: options must be a JSON object, got {given!r} ({err})") from None
    if not isinstance(given, Mapping):
        raise UserError(f"--metadata {task}: options must be a JSON object such as {{\"data_file\": ...}}")
    unknown = sorted(set(given) - set(allowed))
    if unknown:
        raise UserError(
            f"--metadata {task}: unknown option(s) {', '.join(unknown)}; known options: {', '.join(sorted(allowed))}"
        )
    return {**allowed, **given}


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
        raise UserError(f"data_file {text_source} does not exist: give an existing JSONL path or URL") from None
    except OSError as err:
        raise UserError(f"data_file {text_source} could not be read ({err})") from None
    records = []
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise UserError(f"data_file {text_source} line {number} is not JSON ({err})") from None
    return records


def require_fields(records: Iterable[Mapping[str, Any]], fields: Iterable[str], source: str) -> None:
    fields = tuple(fields)
    for number, record in enumerate(records, 1):
        missing = [f for f in fields if f not in record]
        if missing:
            raise UserError(f"data_file {source} record {number} lacks field(s) {', '.join(missing)}")


def _as_dataset(records: list[dict[str, Any]]):
    import datasets

    return datasets.DatasetDict({"test": datasets.Dataset.from_list(records)})


# ---------------------------------------------------------------- MBPP (original, sanitized, plus)

MBPP_FIELDS = ("task_id", "text", "code", "test_list", "test_setup_code")
MBPP_SANITIZED_FIELDS = ("task_id", "prompt", "code", "test_list", "test_imports")
MBPP_PLUS_FIELDS = ("task_id", "prompt", "entry_point", "canonical_solution", "base_input", "plus_input", "atol")


def mbpp_records(source: str | Path, fields: tuple[str, ...]) -> list[dict[str, Any]]:
    """The test-split records (task ids 11-510) of an MBPP-family JSONL file, in task-id order."""
    records = read_jsonl(source)
    require_fields(records, fields, str(source))
    test = [r for r in records if mbpp_number(r["task_id"]) in MBPP_TEST_IDS]
    return sorted(test, key=lambda r: mbpp_number(r["task_id"]))


def mbpp_number(task_id: int | str) -> int:
    """11 for 11, "11" or "Mbpp/11"."""
    return int(str(task_id).rsplit("/", 1)[-1])


def load_mbpp(**metadata):
    options = task_options("mbpp_tts", metadata, {"data_file": str(shipped_file("mbpp", "mbpp.jsonl"))})
    return _as_dataset(mbpp_records(options["data_file"], MBPP_FIELDS))


def load_mbpp_sanitized(**metadata):
    default = str(shipped_file("mbpp", "mbpp_sanitized.jsonl"))
    options = task_options("mbpp_sanitized_tts", metadata, {"data_file": default})
    return _as_dataset(mbpp_records(options["data_file"], MBPP_SANITIZED_FIELDS))


def load_mbpp_plus(**metadata):
    """MBPP+ problems joined with the expected outputs precomputed by task_configs/mbpp/make_mbpp_plus_expected.py.

    Inputs and outputs stay encoded strings in the dataset (Arrow needs one type per column); the grader decodes.
    """
    from lm_eval_tts.tasks.code_values import load_expected

    defaults = {
        "data_file": str(shipped_file("mbpp", "mbpp_plus.jsonl")),
        "expected_file": str(shipped_file("mbpp", "mbpp_plus_expected.jsonl")),
    }
    options = task_options("mbpp_plus_tts", metadata, defaults)
    records = mbpp_records(options["data_file"], MBPP_PLUS_FIELDS)
    expected = load_expected(options["expected_file"])
    rows = []
    for record in records:
        task_id = str(record["task_id"])
        if task_id not in expected:
            raise UserError(
                f"expected_file {options['expected_file']} has no outputs for {task_id}: regenerate it with "
                f"task_configs/mbpp/make_mbpp_plus_expected.py for this data_file"
            )
        rows.append({**expected[task_id], **{k: record[k] for k in ("task_id", "prompt", "entry_point", "atol")},
                     "canonical_solution": record["canonical_solution"],
                     "assertion": record.get("assertion", "")})
    return _as_dataset(rows)


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
        raise UserError(f"livecodebench_tts release_version {release!r} is unknown; use one of {known}")
    if int(number) == 1:
        return [str(shipped_file("livecodebench", "livecodebench.jsonl"))]
    return [f"{LCB_HUB_BASE}/test.jsonl"] + [f"{LCB_HUB_BASE}/test{i}.jsonl" for i in range(2, int(number) + 1)]


def parse_date(value: str | None, option: str) -> dt.date | None:
    if value in (None, ""):
        return None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise UserError(f"livecodebench_tts {option} {value!r} is not a date: use YYYY-MM-DD") from None


def parse_choices(value: str | Iterable[str] | None, option: str, known: tuple[str, ...]) -> frozenset[str] | None:
    """None/"" -> no filter; "easy,medium" or ["easy", "medium"] -> that set (case-insensitive)."""
    if value in (None, ""):
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    chosen = frozenset(str(item).strip().lower() for item in items if str(item).strip())
    unknown = sorted(chosen - set(known))
    if unknown:
        raise UserError(f"livecodebench_tts {option} {', '.join(unknown)} is unknown; use any of {', '.join(known)}")
    return chosen


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


LCB_OPTIONS = {
    "release_version": LCB_SHIPPED_RELEASE,
    "start_date": None,
    "end_date": None,
    "difficulty": None,
    "platform": None,
    "data_file": None,
}


def load_livecodebench(**metadata):
    options = task_options("livecodebench_tts", metadata, LCB_OPTIONS)
    sources = [options["data_file"]] if options["data_file"] else lcb_release_sources(options["release_version"])
    records = []
    for source in sources:
        part = read_jsonl(source)
        require_fields(part, LCB_FIELDS, str(source))
        records += part
    start = parse_date(options["start_date"], "start_date")
    end = parse_date(options["end_date"], "end_date")
    if start and end and start > end:
        raise UserError(f"livecodebench_tts start_date {start} is after end_date {end}: swap them")
    kept = filter_lcb(
        records,
        start,
        end,
        parse_choices(options["difficulty"], "difficulty", LCB_DIFFICULTIES),
        parse_choices(options["platform"], "platform", LCB_PLATFORMS),
    )
    if not kept:
        raise UserError(f"livecodebench_tts options {options} select no problems: widen the date window or filters")
    columns = (*LCB_FIELDS, "private_test_cases")
    rows = [{c: _lcb_text(record.get(c, "")) for c in columns} for record in kept]
    return _as_dataset(rows)


def _lcb_text(value: Any) -> str:
    """Every LiveCodeBench column as a string (the hub stores test cases and metadata as JSON strings too)."""
    return value if isinstance(value, str) else json.dumps(value)
