"""Task options of the code tasks, given like the shared ones (`--metadata key=value ...` or JSON).

The shared options (repeats, ks, dataset, dataset_split) are parsed by task_options.parse_options, so a
suite run with `--metadata repeats=8` changes every task alike. The code tasks add:

    release_version    LiveCodeBench release: release_v1 (shipped, default) ... release_v6 (read from the hub)
    start_date         LiveCodeBench: keep problems whose contest date is on or after it (YYYY-MM-DD)
    end_date           ... on or before it (YYYY-MM-DD)
    difficulty         LiveCodeBench: easy, medium, hard (comma-separated or a list)
    platform           LiveCodeBench: atcoder, codeforces, leetcode (comma-separated or a list)
    expected_file      MBPP+: outputs of the canonical solution for a replaced dataset (see make_mbpp_plus_expected.py)

As there, lm-eval merges `--model_args` into the same dict, so only near-misses of option names are rejected.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lm_eval_tts.errors import UserError
from lm_eval_tts.tasks.task_options import OPTIONS as SHARED_OPTIONS
from lm_eval_tts.tasks.task_options import TYPO_CUTOFF

CODE_OPTIONS = ("release_version", "start_date", "end_date", "difficulty", "platform", "expected_file")
LCB_DIFFICULTIES = ("easy", "medium", "hard")
LCB_PLATFORMS = ("atcoder", "codeforces", "leetcode")


@dataclass(frozen=True)
class CodeOptions:
    release_version: str = "release_v1"
    start_date: dt.date | None = None
    end_date: dt.date | None = None
    difficulties: frozenset[str] | None = None
    platforms: frozenset[str] | None = None
    expected_file: str | None = None


def parse_code_options(metadata: Mapping[str, Any] | None) -> CodeOptions:
    """Validated code-task options; UserError (one line naming the option and the fix) if bad."""
    metadata = dict(metadata or {})
    for key in metadata:
        if key not in CODE_OPTIONS and key not in SHARED_OPTIONS:
            close = difflib.get_close_matches(key, CODE_OPTIONS, n=1, cutoff=TYPO_CUTOFF)
            if close:
                raise UserError(
                    f"unknown task option {key!r} (did you mean {close[0]!r}?); code task options: "
                    f"{', '.join(CODE_OPTIONS)}"
                )
    start = parse_date(metadata.get("start_date"), "start_date")
    end = parse_date(metadata.get("end_date"), "end_date")
    if start and end and start > end:
        raise UserError(f"task options start_date={start} is after end_date={end}: swap them")
    release = metadata.get("release_version") or "release_v1"
    return CodeOptions(
        release_version=str(release),
        start_date=start,
        end_date=end,
        difficulties=parse_choices(metadata.get("difficulty"), "difficulty", LCB_DIFFICULTIES),
        platforms=parse_choices(metadata.get("platform"), "platform", LCB_PLATFORMS),
        expected_file=metadata.get("expected_file") or None,
    )


def parse_date(value: Any, option: str) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        raise UserError(f"task option {option}={value!r} is not a date: use YYYY-MM-DD") from None


def parse_choices(value: str | Iterable[str] | None, option: str, known: tuple[str, ...]) -> frozenset[str] | None:
    """None/"" -> no filter; "easy,medium" or ["easy", "medium"] -> that set (case-insensitive)."""
    if value in (None, ""):
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    chosen = frozenset(str(item).strip().lower() for item in items if str(item).strip())
    unknown = sorted(chosen - set(known))
    if unknown or not chosen:
        raise UserError(f"task option {option}={value!r}: use any of {', '.join(known)} (comma-separated)")
    return chosen
