"""The result of grading one answer against its reference, shared by every grader."""

from __future__ import annotations

from dataclasses import dataclass

IDENTICAL = "identical"  # same text after normalisation (or, for numbers, same value)
VERIFIED = "verified"  # different text, shown equivalent by the symbolic checker
DIFFERENT = "different"
NO_ANSWER = "no_answer"  # nothing could be extracted from the response
TIMEOUT = "timeout"  # the checker overran its time limit and was killed: counted as wrong
ERROR = "error"  # the checker raised: counted as wrong


@dataclass(frozen=True)
class Verdict:
    """equivalent: the answer counts as correct; status: one of the constants above; seconds: checker time."""

    equivalent: bool
    status: str
    seconds: float = 0.0
