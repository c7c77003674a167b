"""Final-answer extraction from model responses and reference solutions (GSM8K numbers, MATH \\boxed{} answers).

GSM8K reads the response's FINAL answer statement, never an earlier one. An answer statement is `#### N` (the
dataset's own answer line), `\\boxed{...}`, or an "answer is / answer: / answer =" phrase ("the final answer is",
"the correct answer is", "**Answer:**") up to the end of its sentence, and it must contain a number; the last one in
the response wins, so a later correction ("the answer is 5. Actually ... the correct answer is 7") reads 7. Within
a statement the answer is the result of its expression (the first number after its last `=`: "the answer is
4 * 2 = 8" reads 8), skipping numbers that it negates ("the answer is not 5; it is 7" reads 7). Two modes, the
two filters of lm-eval's own gsm8k task:
  strict    an answer statement is required (a truncated "Step 2: 7 * 2 =" has no answer);
  flexible  without a statement, the last number of the response.
Numbers keep their sign, drop thousands separators, `$`, `%`, units and a trailing period, and compare by exact
value (`5.00` = `5` = `10/2`); `3\\frac{1}{2}` is the mixed number 7/2; a clock time is one token: `2:00` is 2
(GSM8K writes "2:00 pm" answers as 2), `2:30` stays `2:30` (never the number 2 or 30). `canonical_number` gives
one spelling per value.

MATH: the content of the last `\\boxed{...}` or `\\fbox{...}` (balanced braces, also `\\boxed 5`); failing that, the
last "final answer is $X$" (Minerva's format) or "the answer is X". No last-number fallback: MATH answers are
expressions, and a stray number from unfinished reasoning is not an answer.

Every scan here is linear in the response length (regexes without nested unbounded repeats; a statement is read
within `MAX_STATEMENT` characters of its start), so a 20,000-character response extracts in well under 10 ms.
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Iterator, Mapping, Sequence

from lm_eval_tts.grading.verdict import DIFFERENT, IDENTICAL, NO_ANSWER, Verdict

MAX_STATEMENT = 400  # characters of one answer statement that are read (an answer is a short phrase)

_TIME = r"(?P<hour>\d{1,2}):(?P<minute>[0-5]\d)(?::(?P<second>[0-5]\d))?(?![\d.,:])"
_NUMBER = r"-?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:\s*/\s*\d+(?![.,]\d))?|-?\.\d+"
_TOKEN_RE = re.compile(rf"(?<![\w.])(?:{_TIME}|(?P<number>{_NUMBER}))")
_NEGATED = re.compile(r"\bnot\s*\$?\s*-?$", re.IGNORECASE)
_CURRENCY_MINUS = re.compile(r"-\s*\$\s*")
_FRACTION_ARGUMENTS = r"\\[dt]?frac\s*(?:\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}|(\d)(\d))"  # \frac{3}{4}, \frac34
_MIXED_NUMBER = re.compile(r"(?<!\d)(\d{1,9})\s*(?:\\[,;!]\s*)*" + _FRACTION_ARGUMENTS)
_LATEX_FRACTION = re.compile(_FRACTION_ARGUMENTS)
_STATEMENT = re.compile(r"####|\\boxed|\\fbox|\banswer\b(?:\s*\*\*)?\s*(?:(?:is|was)\b(?:\s*:)?|:|=)", re.IGNORECASE)
_SENTENCE_END = re.compile(r"\n|\.(?=\s|$)")
_DIGIT = re.compile(r"\d")


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


def _spelling(match: re.Match) -> str | None:
    """Canonical spelling of one token: a number's reduced value, a clock time as `H:MM` (`H` on the hour)."""
    if match.group("number") is not None:
        value = parse_number(match.group("number"))
        return None if value is None else canonical_number(value)
    hour, minute, second = match.group("hour", "minute", "second")
    if minute == "00" and second in (None, "00"):
        return str(int(hour))
    return f"{int(hour)}:{minute}" + (f":{second}" if second else "")


def plain_numbers(text: str) -> str:
    """Number spellings as plain ones: `\\$1{,}000` -> `$1,000`, `3\\frac{1}{2}` -> `7/2`, `\\frac34` -> `3/4`,
    `-$5` -> `-5`."""
    text = text.replace("{,}", ",").replace("\\$", "$").replace("\\!", "").replace("\\%", "%").replace("\u2212", "-")
    text = _CURRENCY_MINUS.sub("-", text)
    text = _MIXED_NUMBER.sub(_mixed_number, text)
    return _LATEX_FRACTION.sub(lambda m: f"{m.group(1) or m.group(3)}/{m.group(2) or m.group(4)}", text)


def _mixed_number(match: re.Match) -> str:
    whole, numerator, denominator = match.group(1), match.group(2) or match.group(4), match.group(3) or match.group(5)
    if int(denominator) == 0:
        return match.group(0)
    return canonical_number(int(whole) + Fraction(int(numerator), int(denominator)))


def last_number(text: str) -> str | None:
    """Canonical spelling of the last number (or clock time) in `plain_numbers` text, or None."""
    for match in reversed(list(_TOKEN_RE.finditer(text))):
        if (spelling := _spelling(match)) is not None:
            return spelling
    return None


def statement_number(statement: str) -> str | None:
    """The answer a statement gives: the first number after its last `=`, skipping negated numbers ("not 5")."""
    text = plain_numbers(statement)
    text = text[text.rfind("=") + 1 :]
    for match in _TOKEN_RE.finditer(text):
        if not _NEGATED.search(text, max(0, match.start() - 12), match.start()):
            if (spelling := _spelling(match)) is not None:
                return spelling
    return None


HASH, BOXED, PHRASE = "#### N", "\\boxed{}", "answer phrase"  # the kinds of answer statement


def answer_statements(response: str) -> Iterator[tuple[str, str]]:
    """(kind, text) of each answer statement with a digit in a response, LAST FIRST (`#### N`, `\\boxed{}`,
    "answer is ..."). A statement ends where the next one starts, so the whole scan reads each character once."""
    starts = list(_STATEMENT.finditer(response))
    for match, following in reversed(list(zip(starts, starts[1:] + [None]))):
        end = min(match.end() + MAX_STATEMENT, following.start() if following else len(response))
        window = response[match.end() : end]
        marker = match.group(0)
        if not _DIGIT.search(window):
            continue
        if marker == "####":
            yield HASH, window.split("\n", 1)[0]
        elif marker.startswith("\\"):
            content = _braced_or_bare(window)
            if content is not None:
                yield BOXED, content
        else:
            sentence_end = _SENTENCE_END.search(window)
            yield PHRASE, window[: sentence_end.start()] if sentence_end else window


def final_statement(response: str) -> tuple[str, str] | None:
    """(kind, canonical number) of the last answer statement that gives a number, or None."""
    for kind, statement in answer_statements(response):
        number = statement_number(statement)
        if number is not None:
            return kind, number
    return None


def extract_gsm8k_answer(response: str, flexible: bool = False) -> str | None:
    """The final answer of a GSM8K response (canonical number spelling), or None.

    strict (default): the number of the last answer statement that has one; flexible: else the last number."""
    final = final_statement(response)
    if final is not None:
        return final[1]
    return last_number(plain_numbers(response)) if flexible else None


def gsm8k_gold(answer_field: str) -> str:
    """The reference number from a GSM8K `answer` field (reasoning, then `#### N`)."""
    number = extract_gsm8k_answer(answer_field)
    if number is None:
        raise ValueError(f"GSM8K answer has no final number: {answer_field[-80:]!r}")
    return number


def gsm8k_equal(gold: str, answer: str | None) -> bool:
    """Exact numeric equality of two number spellings (None = no answer = wrong; a clock time is not a number)."""
    if answer is None:
        return False
    gold_value, answer_value = parse_number(gold), parse_number(answer)
    return gold_value is not None and gold_value == answer_value


def _braced_or_bare(text: str) -> str | None:
    """What follows `\\boxed`: `{...}` with balanced braces (stripped), or `\\boxed 5`'s bare token; None if
    unclosed or empty."""
    if text[:1] == " " and not text.lstrip(" ").startswith("{"):
        match = re.match(r"\s+([^\s$]+)", text)
        return match.group(1).rstrip(".") if match else None
    text = text.lstrip(" ")
    if not text.startswith("{"):
        return None
    depth = 0
    for j, char in enumerate(text):
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[1:j].strip()
    return None


def last_boxed(text: str) -> str | None:
    """Content of the last `\\boxed{...}`/`\\fbox{...}` (balanced braces) or `\\boxed X`; None if absent/unclosed."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    return _braced_or_bare(text[start + (len("\\boxed") if text.startswith("\\boxed", start) else len("\\fbox")) :])


def extract_math_answer(response: str) -> str | None:
    """The final answer of a MATH response as bare LaTeX, or None."""
    boxed = last_boxed(response)
    if boxed is not None:
        return boxed or None
    for match in reversed(list(_STATEMENT.finditer(response))):
        if not match.group(0).startswith(("#", "\\")):
            answer = _strip_sentence(response[match.end() : match.end() + MAX_STATEMENT].split("\n", 1)[0])
            if answer:
                return answer
    return None


def _strip_sentence(text: str) -> str:
    """`$\\frac12$. I hope it is correct.` -> `\\frac12`; a sentence with more math after its first `$...$`
    (`$4$ and $8$`) is answered by all of it (`4 and 8`), not by its first part."""
    text = text.strip()
    if text.startswith("$"):
        end = text.find("$", 1)
        if end < 0:
            return text.strip("$ .")
        rest = re.split(r"\.\s|\.$|\n", text[end + 1 :], maxsplit=1)[0]
        if "$" not in rest:
            return text[1:end].strip()
        text = text[: end + 1] + rest
    return re.split(r"\.\s|\.$", text, maxsplit=1)[0].replace("$", "").strip(" .")


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
