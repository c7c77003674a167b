"""The benchmark's MATH (reference, answer) pairs, all real, shared by bench_math_grading.py (speed) and
bench_parity_reasoning.py (agreement with math-verify and minerva):
- model: SmolLM2-135M-Instruct's MATH-500 responses (benchmarks/data cache, see parity_responses.py) with a
  final answer, against the problem's `answer` field;
- reformatted: reference answers of the full MATH test set, each against an equivalent spelling of itself
  (\\dfrac, N.0, a/b, a terminating decimal, \\left(...\\right), `x = ` before it, spaces), equivalent by construction;
- other: the same references against another problem's reference (different, unless the two are equal).
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from lm_eval_tts.grading.answers import extract_math_answer, math_gold

DATA = Path(__file__).resolve().parents[1] / "task_configs" / "math" / "data" / "math_test_full.jsonl"
MODEL, REFORMATTED, OTHER = "model", "reformatted", "other"
STYLES = 7


@dataclass(frozen=True)
class Pair:
    gold: str
    answer: str
    kind: str
    response: str  # the full text a response-level grader reads (a model response, or a boxed answer)
    solution: str  # the reference solution text (MATH's own, or the boxed reference)


def reference_answers() -> list[str]:
    return [math_gold(json.loads(line)) for line in DATA.read_text().splitlines()]


def reformat(answer: str, style: int) -> str:
    """An equivalent spelling of a reference answer (falls back to added spaces when a style does not apply)."""
    if style == 1 and "\\frac" in answer:
        return answer.replace("\\frac", "\\dfrac")
    if style == 2 and re.fullmatch(r"-?\d+", answer):
        return f"{answer}.0"
    if style == 3 and re.fullmatch(r"-?\\frac\{\d+\}\{\d+\}", answer):
        sign = "-" if answer.startswith("-") else ""
        numerator, denominator = re.findall(r"\d+", answer)
        return f"{sign}{numerator}/{denominator}"
    if style == 4 and answer.startswith("(") and answer.endswith(")") and not re.search(r"[()]", answer[1:-1]):
        return f"\\left({answer[1:-1]}\\right)"
    if style == 5 and (decimal := _terminating_decimal(answer)) is not None:
        return decimal
    numeric_looking = not re.search(r"[a-zA-Z=,%$]|\\\{", re.sub(r"\\(?:frac|dfrac|sqrt|pi)", "", answer))
    if style == 6 and numeric_looking:
        return f"x = {answer}"
    # spaces around operators and list commas (not inside 12,\!000 and not after a backslash as in \, or \!)
    spaced = re.sub(r"\s*((?<!\\),(?!\\!|\d{3}(?!\d))|(?<!\\)[+=]|(?<![\^\\])-)\s*", r" \1 ", answer)
    spaced = spaced.strip()
    return spaced if spaced != answer else f" {answer} "


def _terminating_decimal(answer: str) -> str | None:
    match = re.fullmatch(r"(-?)\\frac\{(\d+)\}\{(\d+)\}", answer)
    if not match or int(match.group(3)) == 0:
        return None
    value = Fraction(int(match.group(2)), int(match.group(3)))
    denominator = value.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return None
    text = f"{float(value):.10f}".rstrip("0").rstrip(".")
    return match.group(1) + text


def synthetic_pairs(count: int, seed: int) -> list[Pair]:
    """count // 2 references, each with a reformatted spelling and with another reference."""
    chosen = random.Random(seed).sample(reference_answers(), count // 2)
    pairs = []
    for i, gold in enumerate(chosen):
        other = chosen[(i + 1) % len(chosen)]
        for answer, kind in ((reformat(gold, i % STYLES), REFORMATTED), (other, OTHER)):
            pairs.append(Pair(gold, answer, kind, f"The answer is $\\boxed{{{answer}}}$.", f"$\\boxed{{{gold}}}$"))
    return pairs


def model_pairs(records: list[dict]) -> list[Pair]:
    """One pair per cached MATH-500 response that has a final answer."""
    pairs = []
    for record in records:
        if record["task"] != "math500_tts":
            continue
        for response in record["responses"]:
            answer = extract_math_answer(response)
            if answer is not None:
                pairs.append(Pair(record["doc"]["answer"], answer, MODEL, response, record["doc"]["solution"]))
    return pairs
