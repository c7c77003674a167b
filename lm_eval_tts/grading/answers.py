"""Final-answer extraction from model responses and reference solutions (GSM8K numbers, MATH \\boxed{} answers).

GSM8K, in order of preference (the last occurrence of the first kind found wins):
  1. `#### N` (the dataset's own answer line), 2. `\\boxed{...}` (the last number inside it),
  3. "the answer is N" / "final answer: N" (the first number after it), 4. the last number anywhere.
Numbers keep their sign, drop thousands separators, `$`, `%`, units and a trailing period, and compare by exact
value: `5.00`, `5` and `10/2` are the same answer. `canonical_number` gives one spelling per value.

MATH: the content of the last `\\boxed{...}` or `\\fbox{...}` (balanced braces, also `\\boxed 5`); failing that,
"final answer is $X$" (Minerva's format) or "the answer is X". No last-number fallback: MATH answers are
expressions, and a stray number from unfinished reasoning is not an answer.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Mapping, Sequence

from lm_eval_tts.grading.verdict import DIFFERENT, IDENTICAL, NO_ANSWER, Verdict

_NUMBER = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+(?![.,]\d))?|-?\.\d+"
_NUMBER_RE = re.compile(rf"(?<![\w.])(?:{_NUMBER})")
_CURRENCY_MINUS = re.compile(r"-\s*\$\s*")
_GSM8K_HASH = re.compile(r"####\s*([^\n]*)")
_ANSWER_IS = re.compile(r".*(?:final\s+answer|the\s+answer)\s*(?:is|:|=)\s*:?\s*([^\n]*)", re.IGNORECASE)


def parse_number(text: str) -> Fraction | None:
    """The exact value of one number spelling (`-1,234.50`, `$5`, `3/4`, `.5`), or None."""
    cleaned = text.replace(",", "").replace("$", "").replace(" ", "").replace("\u2212", "-")
    try:
        return Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        return None


def canonical_number(value: Fraction) -> str:
    """One spelling per value: integers as `12`, others as a reduced fraction `1/2`."""
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


def last_number(text: str) -> str | None:
    """Canonical spelling of the last number in `text`, or None."""
    return next(_numbers(text, from_end=True), None)


def first_number(text: str) -> str | None:
    """Canonical spelling of the first number in `text`, or None."""
    return next(_numbers(text, from_end=False), None)


def _numbers(text: str, from_end: bool):
    text = _CURRENCY_MINUS.sub("-", text.replace("\u2212", "-"))
    matches = list(_NUMBER_RE.finditer(text))
    for match in reversed(matches) if from_end else matches:
        value = parse_number(match.group(0))
        if value is not None:
            yield canonical_number(value)


def extract_gsm8k_answer(response: str) -> str | None:
    """The final number of a GSM8K response (canonical spelling), or None when there is no number at all."""
    boxed = last_boxed(response)
    for candidates, pick in (
        (_GSM8K_HASH.findall(response), first_number),
        ([boxed] if boxed is not None else [], last_number),
        (_ANSWER_IS.findall(response), first_number),
    ):
        for candidate in reversed(candidates):
            number = pick(_strip_latex_number(candidate))
            if number is not None:
                return number
    return last_number(_strip_latex_number(response))


def gsm8k_gold(answer_field: str) -> str:
    """The reference number from a GSM8K `answer` field (reasoning, then `#### N`)."""
    number = extract_gsm8k_answer(answer_field)
    if number is None:
        raise ValueError(f"GSM8K answer has no final number: {answer_field[-80:]!r}")
    return number


def gsm8k_equal(gold: str, answer: str | None) -> bool:
    """Exact numeric equality of two number spellings (None = no answer = wrong)."""
    if answer is None:
        return False
    gold_value, answer_value = parse_number(gold), parse_number(answer)
    return gold_value is not None and gold_value == answer_value


def _strip_latex_number(text: str) -> str:
    """`\\$1{,}000` and `\\frac{3}{4}` as plain numbers, so the number pattern sees them."""
    text = text.replace("{,}", ",").replace("\\$", "$").replace("\\!", "")
    return re.sub(r"\\[dt]?frac\{(-?\d+)\}\{(\d+)\}", r"\1/\2", text)


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}`/`\\fbox{...}` (balanced braces) or `\\boxed X`; None if absent/unclosed."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = start + (len("\\boxed") if text.startswith("\\boxed", start) else len("\\fbox"))
    if text.startswith(" ", i) and not text[i:].lstrip(" ").startswith("{"):
        match = re.match(r"\s+([^\s$]+)", text[i:])
        return match.group(1).rstrip(".") if match else None
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text) or text[i] != "{":
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1 : j].strip()
    return None


def extract_math_answer(response: str) -> str | None:
    """The final answer of a MATH response as bare LaTeX, or None."""
    boxed = last_boxed(response)
    if boxed is not None:
        return boxed or None
    for match in reversed(_ANSWER_IS.findall(response)):
        answer = _strip_sentence(match)
        if answer:
            return answer
    return None


def _strip_sentence(text: str) -> str:
    """`$\\frac12$. I hope it is correct.` -> `\\frac12`."""
    text = text.strip()
    if text.startswith("$"):
        end = text.find("$", 1)
        return text[1:end].strip() if end > 0 else text.strip("$ .")
    return re.split(r"\.\s|\.$", text, maxsplit=1)[0].strip(" $.")


def math_gold(doc: Mapping) -> str:
    """The reference answer of a MATH doc: `answer` (MATH-500) or the last \\boxed{} of `solution` (full MATH)."""
    if doc.get("answer"):
        return str(doc["answer"])
    boxed = last_boxed(doc["solution"])
    if boxed is None:
        raise ValueError(f"MATH solution has no \\boxed answer: {doc['solution'][-80:]!r}")
    return boxed


def grade_gsm8k(pairs: Sequence[tuple[str, str | None]]) -> list[Verdict]:
    """Verdicts for (gold, extracted answer) pairs by exact numeric value."""
    return [
        Verdict(False, NO_ANSWER) if answer is None
        else Verdict(True, IDENTICAL) if gsm8k_equal(gold, answer)
        else Verdict(False, DIFFERENT)
        for gold, answer in pairs
    ]
