"""Is a model's final answer to a MATH problem equivalent to the reference? Symbolic check with a hard time limit.

Equivalence is decided by math-verify (sympy-based: fractions vs decimals, radicals, intervals, sets, matrices,
degrees, percentages, \\text{} answers) run in a `DeadlinePool`: every comparison has a wall-clock limit that holds
even when math-verify hangs, and a comparison that overruns counts as "not equivalent" (status "timeout").
Answers that are identical after whitespace/\\left/\\right normalisation, or plain numbers (integers, decimals,
fractions) of equal value, are accepted without a worker; two numbers or arithmetic expressions whose values
clearly differ are rejected without one (`certain_verdict`).
Identical (gold, answer) pairs are graded once per grader (LRU cache).
"""

from __future__ import annotations

import atexit
import os
import re
import threading
from collections import OrderedDict
from fractions import Fraction
from typing import Sequence

from lm_eval_tts.grading import deadline_pool
from lm_eval_tts.grading.deadline_pool import DeadlinePool
from lm_eval_tts.grading.latex_number import numeric_value
from lm_eval_tts.grading.verdict import DIFFERENT, ERROR, IDENTICAL, NO_ANSWER, TIMEOUT, VERIFIED, Verdict

DEFAULT_TIMEOUT = 5.0
MAX_DEFAULT_WORKERS = 8
WORKER_MEMORY_LIMIT = 4 << 30
CACHE_SIZE = 200_000

_SIZING = re.compile(r"\\(?:left|right|displaystyle)(?![a-zA-Z])")
_THOUSANDS_SPACE = re.compile(r"(?<=\d)\\[,!]\s*(?=\d{3}(?!\d))")  # 1\,000
_SPACE = re.compile(r"(?:\s|\\[ ,;:!])+")


def normalize_answer_text(answer: str) -> str:
    """A canonical spelling for string comparison: no \\left/\\right, $ or final period, and no whitespace or TeX
    spacing except one space between two letters or digits (`1 2` is not `12`, `\\text{a b}` is not `\\text{ab}`;
    `1\\,000` is the thousands-separated 1000)."""
    text = _THOUSANDS_SPACE.sub("", _SIZING.sub("", answer))
    text = _SPACE.sub(_space_or_nothing, text).strip()
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    return text.strip("$").rstrip(".")


def _space_or_nothing(match: re.Match) -> str:
    before, after = match.string[match.start() - 1 : match.start()], match.string[match.end() : match.end() + 1]
    return " " if before.isalnum() and after.isalnum() else ""


_INTEGER = re.compile(r"-?\d+")
_DECIMAL = re.compile(r"-?\d+\.\d+")
_FRACTION = re.compile(r"(-?)\\frac\{(\d+)\}\{(\d+)\}|(-?\d+)/(\d+)")


def certain_verdict(gold: str, answer: str) -> Verdict | None:
    """Decide without math-verify when its verdict is certain: the same normalised text or two plain numbers of
    equal value (equivalent); two different fractions/integers, or two arithmetic expressions whose values differ
    by more than 1e-6 relative (different: math-verify calls numbers equal only when exactly equal, or equal after
    rounding to 6 decimals when a decimal is involved). An assignment to one letter (`x = 22`) against a value, or
    two assignments to the same letter, is decided on the assigned values, as math-verify compares them when both
    are plain arithmetic. None: ask math-verify."""
    gold_text, answer_text = normalize_answer_text(gold), normalize_answer_text(answer)
    if gold_text == answer_text:
        return Verdict(True, IDENTICAL)
    gold_assigned, answer_assigned = _ASSIGNMENT.fullmatch(gold_text), _ASSIGNMENT.fullmatch(answer_text)
    if gold_assigned or answer_assigned:
        return _assigned_values_verdict(gold_text, answer_text, gold_assigned, answer_assigned)
    return _numbers_verdict(gold_text, answer_text)


# `x=22`: one letter that math-verify reads as a variable (not e, i: constants), one `=`, no list after it
_ASSIGNMENT = re.compile(r"(?P<letter>[a-df-hj-zA-DF-HJ-Z])=(?P<value>[^=,;<>]+)")


def _assigned_values_verdict(gold_text, answer_text, gold_assigned, answer_assigned) -> Verdict | None:
    """math-verify unwraps `x = v` to `v` against a value that is no equation, and compares two assignments
    to the same letter by their difference: decided here only when both values are plain arithmetic (so the
    other side is no equation either)."""
    if gold_assigned and answer_assigned and gold_assigned["letter"] != answer_assigned["letter"]:
        return None
    gold_value = gold_assigned["value"] if gold_assigned else gold_text
    answer_value = answer_assigned["value"] if answer_assigned else answer_text
    if numeric_value(gold_value) is None or numeric_value(answer_value) is None:
        return None
    if gold_value == answer_value:
        return Verdict(True, IDENTICAL)
    return _numbers_verdict(gold_value, answer_value)


def _numbers_verdict(gold_text: str, answer_text: str) -> Verdict | None:
    gold_number, answer_number = _plain_number(gold_text), _plain_number(answer_text)
    if gold_number is not None and answer_number is not None:
        if gold_number == answer_number:
            return Verdict(True, IDENTICAL)
        if "." not in gold_text + answer_text:
            return Verdict(False, DIFFERENT)
    gold_value, answer_value = numeric_value(gold_text), numeric_value(answer_text)
    if gold_value is not None and answer_value is not None:
        if abs(gold_value - answer_value) > 1e-6 * max(1.0, abs(gold_value), abs(answer_value)):
            return Verdict(False, DIFFERENT)
    return None


def _plain_number(text: str) -> Fraction | None:
    if _INTEGER.fullmatch(text) or _DECIMAL.fullmatch(text):
        return Fraction(text)
    match = _FRACTION.fullmatch(text)
    if match and match.group(2):
        value = Fraction(int(match.group(2)), int(match.group(3))) if int(match.group(3)) else None
        return -value if value is not None and match.group(1) else value
    if match and int(match.group(5)):
        return Fraction(int(match.group(4)), int(match.group(5)))
    return None


def default_workers() -> int:
    return max(1, min(MAX_DEFAULT_WORKERS, len(os.sched_getaffinity(0))))


class MathGrader:
    """Grades (gold, answer) pairs in parallel; `timeout` seconds per comparison at most, whatever the input."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, workers: int | None = None):
        self.timeout = timeout
        self._pool = DeadlinePool(
            "lm_eval_tts.grading.math_verify_worker:equivalent",
            workers=workers or default_workers(),
            deadline=timeout,
            memory_limit_bytes=WORKER_MEMORY_LIMIT,
        )
        self._cache: OrderedDict[tuple[str, str], Verdict] = OrderedDict()
        self._lock = threading.Lock()

    def grade(self, gold: str, answer: str | None) -> Verdict:
        return self.grade_many([(gold, answer)])[0]

    def grade_many(self, pairs: Sequence[tuple[str, str | None]]) -> list[Verdict]:
        """Verdicts in input order. Distinct uncached pairs are checked in parallel across the workers."""
        with self._lock:
            verdicts: list[Verdict | None] = [None] * len(pairs)
            to_check: dict[tuple[str, str], list[int]] = {}
            for i, (gold, answer) in enumerate(pairs):
                if answer is None or not answer.strip():
                    verdicts[i] = Verdict(False, NO_ANSWER)
                elif (fast := certain_verdict(gold, answer)) is not None:
                    verdicts[i] = fast
                elif (gold, answer) in self._cache:
                    self._cache.move_to_end((gold, answer))
                    verdicts[i] = Verdict(self._cache[(gold, answer)].equivalent, self._cache[(gold, answer)].status)
                else:
                    to_check.setdefault((gold, answer), []).append(i)
            keys = sorted(to_check)  # pairs of one gold in a row: each worker parses that gold once
            for key, outcome in zip(keys, self._pool.map(keys)):
                verdict = _verdict(outcome)
                self._remember(key, verdict)
                for i in to_check[key]:
                    verdicts[i] = verdict
            return verdicts  # type: ignore[return-value]

    def _remember(self, key: tuple[str, str], verdict: Verdict) -> None:
        self._cache[key] = verdict
        if len(self._cache) > CACHE_SIZE:
            self._cache.popitem(last=False)

    @property
    def restarts(self) -> int:
        """How many workers were killed and replaced (timeouts, crashes)."""
        return self._pool.restarts

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> "MathGrader":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _verdict(outcome) -> Verdict:
    if outcome.status == deadline_pool.OK:
        return Verdict(bool(outcome.value), VERIFIED if outcome.value else DIFFERENT, outcome.seconds)
    if outcome.status == deadline_pool.TIMEOUT:
        return Verdict(False, TIMEOUT, outcome.seconds)
    return Verdict(False, ERROR, outcome.seconds)


_shared: dict[float, MathGrader] = {}
_shared_lock = threading.Lock()


def shared_grader(timeout: float = DEFAULT_TIMEOUT) -> MathGrader:
    """One grader per timeout for the whole process (tasks of one run share workers and cache); closed at exit."""
    with _shared_lock:
        if timeout not in _shared:
            if not _shared:
                atexit.register(_close_shared)
            _shared[timeout] = MathGrader(timeout=timeout)
        return _shared[timeout]


def _close_shared() -> None:
    for grader in _shared.values():
        grader.close()
    _shared.clear()
