"""Names of the per-task metric keys, in one place for the writer (per_doc) and the reader (report).

lm-eval stores each key as `"<key>,<filter>"` and its standard error as `"<key>_stderr,<filter>"`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NUM_DISTINCT_ANSWERS = "num_distinct_answers"
NUM_DISTINCT_FIRST_TOKENS = "num_distinct_first_tokens"
PASS1_VARIANCE = "pass@1_variance"
TOKENS_PER_SAMPLE = "tokens_per_sample"
FALSE_POSITIVE_RATE = "false_positive_rate"
RESAMPLING_LIMIT = "resampling_limit"
RESAMPLING_BEST_K = "resampling_best_k"
STDERR_SUFFIX = "_stderr"  # lm-eval's suffix for a metric's standard error

# Families indexed by k, in the order tables and plots show them. A family with a suffix (a score name, or
# "weak" for the weak verifier) is written `<family>@k_<suffix>` and parsed to the family "<family>_<suffix>".
PASS = "pass"
MAJ = "maj"
BEST = "best"
MAJTOP = "majtop"
BONTOP = "bontop"
BOM = "bom"
UTILITY = "utility"
JENSEN = "jensen_bound"
WEAK = "weak"
ORDER = (PASS, MAJ, BEST, MAJTOP, BONTOP, BOM, UTILITY, JENSEN)
# Families whose k counts submitted answers (from N samples), not samples drawn.
SUBMISSION_FAMILIES = (MAJTOP, BONTOP, BOM)


def pass_key(k: int) -> str:
    return f"pass@{k}"


def weak_pass_key(k: int) -> str:
    """pass@k when a sample counts as correct as soon as it passes the weak tests."""
    return f"pass@{k}_{WEAK}"


def maj_key(k: int) -> str:
    return f"maj@{k}"


def best_key(k: int, score_name: str) -> str:
    return f"best@{k}_{score_name}"


def majtop_key(k: int) -> str:
    return f"majtop@{k}"


def bontop_key(k: int, score_name: str) -> str:
    return f"bontop@{k}_{score_name}"


def bom_key(k: int, score_name: str) -> str:
    return f"bom@{k}_{score_name}"


def utility_key(k: int) -> str:
    return f"utility@{k}"


def jensen_key(k: int) -> str:
    return f"jensen_bound@{k}"


_AT_K = re.compile(rf"^({'|'.join(ORDER)})@([0-9]+)(?:_(\w+))?$")


@dataclass(frozen=True)
class AtK:
    """A parsed `<family>@k[_<suffix>]` key; e.g. "best@4_logprob" -> family "best_logprob", k 4."""

    family: str
    k: int

    @property
    def base(self) -> str:
        return family_base(self.family)


def family_base(family: str) -> str:
    """The family without its suffix: "best_logprob" -> "best", "pass_weak" -> "pass", "majtop" -> "majtop"."""
    for base in sorted(ORDER, key=len, reverse=True):  # longest first: "majtop" before "maj"
        if family == base or family.startswith(base + "_"):
            return base
    raise ValueError(f"{family!r} is not a metric family ({', '.join(ORDER)})")


def parse_at_k(key: str) -> AtK | None:
    """`"maj@8"` -> AtK("maj", 8); `"best@4_orm"` -> AtK("best_orm", 4); anything else -> None.

    `pass@1_variance` is not an @k key (it is a variance over problems) and parses to None, and neither is
    lm-eval's `<key>_stderr` companion of any key.
    """
    if key.endswith(STDERR_SUFFIX) or key == PASS1_VARIANCE:
        return None
    match = _AT_K.match(key)
    if not match:
        return None
    family, k, suffix = match.groups()
    return AtK(f"{family}_{suffix}" if suffix else family, int(k))


PER_PROBLEM_KEYS = (NUM_DISTINCT_ANSWERS, NUM_DISTINCT_FIRST_TOKENS, PASS1_VARIANCE, TOKENS_PER_SAMPLE,
                    FALSE_POSITIVE_RATE, RESAMPLING_LIMIT, RESAMPLING_BEST_K)


def is_tts_key(key: str) -> bool:
    """True for every key `doc_metrics` produces."""
    return parse_at_k(key) is not None or key in PER_PROBLEM_KEYS
