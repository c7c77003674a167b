"""Names of the per-task metric keys, in one place for the writer (per_doc) and the reader (report).

lm-eval stores each key as `"<key>,<filter>"` and its standard error as `"<key>_stderr,<filter>"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUM_DISTINCT_ANSWERS = "num_distinct_answers"
NUM_DISTINCT_FIRST_TOKENS = "num_distinct_first_tokens"
PASS1_VARIANCE = "pass@1_variance"
STDERR_SUFFIX = "_stderr"  # lm-eval's suffix for a metric's standard error

# Families indexed by k, in the order tables and plots show them.
PASS = "pass"
MAJ = "maj"
BEST = "best"
JENSEN = "jensen_bound"


def pass_key(k: int) -> str:
    return f"pass@{k}"


def maj_key(k: int) -> str:
    return f"maj@{k}"


def best_key(k: int, score_name: str) -> str:
    return f"best@{k}_{score_name}"


def jensen_key(k: int) -> str:
    return f"jensen_bound@{k}"


_AT_K = re.compile(r"^(pass|maj|jensen_bound)@([0-9]+)$")
_BEST = re.compile(r"^best@([0-9]+)_(.+)$")


@dataclass(frozen=True)
class AtK:
    """A parsed `<family>@k` key; `family` is e.g. "pass", or "best@k_logprob" -> family "best_logprob"."""

    family: str
    k: int


def parse_at_k(key: str) -> AtK | None:
    """`"maj@8"` -> AtK("maj", 8); `"best@4_orm"` -> AtK("best_orm", 4); anything else -> None.

    `pass@1_variance` is not an @k key (it is a variance over problems) and parses to None, and neither is
    lm-eval's `<key>_stderr` companion of any key.
    """
    if key.endswith(STDERR_SUFFIX):
        return None
    match = _AT_K.match(key)
    if match:
        return AtK(match.group(1), int(match.group(2)))
    match = _BEST.match(key)
    if match:
        return AtK(f"{BEST}_{match.group(2)}", int(match.group(1)))
    return None


def is_tts_key(key: str) -> bool:
    """True for every key `doc_metrics` produces."""
    return parse_at_k(key) is not None or key in (NUM_DISTINCT_ANSWERS, NUM_DISTINCT_FIRST_TOKENS, PASS1_VARIANCE)
