"""Task options shared by every *_tts task, given the lm-eval way: `--metadata key=value ...` or a JSON object.

    repeats            samples per problem (n); default: the task YAML's `repeats` (16)
    ks                 k values for pass@k / maj@k / best@k, e.g. `ks=[1,4,16]`; default 1, 2, 4, ... up to n
    dataset            evaluate on other data: a local .json/.jsonl file, or a hub id `ID` / `ID:CONFIG`
    dataset_split      split of that hub dataset (default "test")
    reward_model       reasoning tasks: HF sequence-classification checkpoint dir (one label); adds best@k_orm
    reward_batch_size  reasoning tasks: responses per reward-model forward pass (default 8)
    grading_timeout    MATH: seconds per equivalence check before it counts as wrong (default 5)

The code tasks add their own (code_options). lm-eval merges `--model_args` into the same metadata dict, so unknown
keys cannot all be rejected: a key that is not an option but is a near-miss of one (e.g. `reward_modle`) is
rejected with a suggestion.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Mapping

from lm_eval_tts.errors import UserError

OPTIONS = ("repeats", "ks", "reward_model", "reward_batch_size", "grading_timeout", "dataset", "dataset_split")
TYPO_CUTOFF = 0.8


@dataclass(frozen=True)
class TaskOptions:
    repeats: int | None = None
    ks: tuple[int, ...] | None = None
    reward_model: str | None = None
    reward_batch_size: int = 8
    grading_timeout: float = 5.0
    dataset: str | None = None
    dataset_split: str = "test"


def parse_options(metadata: Mapping[str, Any] | None) -> TaskOptions:
    """Validated options from a task's metadata; UserError (one line naming the option and the fix) if bad."""
    metadata = dict(metadata or {})
    for key in metadata:
        if key not in OPTIONS:
            close = difflib.get_close_matches(key, OPTIONS, n=1, cutoff=TYPO_CUTOFF)
            if close:
                raise UserError(
                    f"unknown task option {key!r} (did you mean {close[0]!r}?); options: {', '.join(OPTIONS)}"
                )
    return TaskOptions(
        repeats=_positive_int(metadata, "repeats"),
        ks=_ks(metadata.get("ks")),
        reward_model=_optional_str(metadata, "reward_model"),
        reward_batch_size=_positive_int(metadata, "reward_batch_size") or 8,
        grading_timeout=_positive_float(metadata, "grading_timeout", 5.0),
        dataset=_optional_str(metadata, "dataset"),
        dataset_split=_optional_str(metadata, "dataset_split") or "test",
    )


def check_ks(ks: tuple[int, ...], repeats: int) -> None:
    too_large = [k for k in ks if k > repeats]
    if too_large:
        raise UserError(
            f"task option ks={list(ks)}: k={too_large[0]} needs at least {too_large[0]} samples per problem but "
            f"repeats={repeats}; lower ks or raise repeats (e.g. --metadata repeats={max(ks)})"
        )


def _positive_int(metadata: Mapping[str, Any], key: str) -> int | None:
    value = metadata.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"task option {key}={value!r}: must be a positive integer")
    return value


def _positive_float(metadata: Mapping[str, Any], key: str, default: float) -> float:
    value = metadata.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise UserError(f"task option {key}={value!r}: must be a positive number of seconds")
    return float(value)


def _optional_str(metadata: Mapping[str, Any], key: str) -> str | None:
    value = metadata.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"task option {key}={value!r}: must be a non-empty string")
    return value


def _ks(value: Any) -> tuple[int, ...] | None:
    if value is None:
        return None
    items = value if isinstance(value, (list, tuple)) else [value]
    if isinstance(value, str):
        items = [item for item in value.replace("[", "").replace("]", "").split(",") if item.strip()]
    try:
        ks = tuple(sorted({int(str(item).strip()) for item in items}))
    except (TypeError, ValueError):
        ks = ()
    if not ks or ks[0] < 1 or any(isinstance(item, bool) for item in items):
        raise UserError(f"task option ks={value!r}: must be positive integers, e.g. ks=[1,4,16]")
    return ks
