"""Final-answer extraction tables for GSM8K and MATH responses, and the reference answers of the shipped data."""

import json
from pathlib import Path

import pytest

from lm_eval_tts.grading.answers import (
    canonical_number,
    extract_gsm8k_answer,
    extract_math_answer,
    grade_gsm8k,
    gsm8k_equal,
    gsm8k_gold,
    last_boxed,
    math_gold,
    parse_number,
)
from lm_eval_tts.grading.verdict import DIFFERENT, IDENTICAL, NO_ANSWER

DATA = Path(__file__).resolve().parents[2] / "task_configs"

GSM8K_RESPONSES = [
    ("She sells 9 eggs for $2 each.\n#### 18", "18"),
    ("#### 1,000", "1000"),
    ("The answer is 42.", "42"),
    ("So the total is 5 + 7 = 12. The answer is: 12", "12"),
    ("Final answer: 3", "3"),
    ("Thus she pays $\\boxed{18}$ dollars.", "18"),
    ("\\boxed{\\$1{,}200}", "1200"),
    ("\\boxed{5.00}", "5"),
    ("It costs $12.50.", "25/2"),
    ("He lost 5 dollars, so the change is -5.", "-5"),
    ("She earns -$5 per day.", "-5"),
    ("The temperature drops to \u22127 degrees.", "-7"),
    ("Total: 42 apples.", "42"),
    ("So 20% of the class, i.e. 6 students.", "6"),
    ("3 + 4 = 7 and then 7 * 2 = 14 cookies", "14"),
    ("The answer is 14. Earlier I thought 13.", "14"),
    ("#### 18\nThe answer is 20", "18"),  # the dataset's own marker wins
    ("The answer is \\frac{3}{4}", "3/4"),
    ("x = 3/4 of the cake", "3/4"),
    ("That is 0.5 of it", "1/2"),
    ("That is .5 of it", "1/2"),
    ("1,234,567 people", "1234567"),
    ("no digits at all", None),
    ("", None),
]


@pytest.mark.parametrize("response, expected", GSM8K_RESPONSES)
def test_extract_gsm8k_answer(response, expected):
    assert extract_gsm8k_answer(response) == expected


@pytest.mark.parametrize(
    "gold, answer, equal",
    [("5", "5", True), ("5", "5.00", True), ("1000", "1,000", True), ("-3", "-3.0", True), ("18", "19", False),
     ("1/2", "0.5", True), ("5", None, False), ("7", "-7", False)],
)
def test_gsm8k_equal_compares_exact_values(gold, answer, equal):
    assert gsm8k_equal(gold, answer) is equal


def test_grade_gsm8k_statuses():
    verdicts = grade_gsm8k([("5", "5.0"), ("5", "6"), ("5", None)])
    assert [(v.equivalent, v.status) for v in verdicts] == [(True, IDENTICAL), (False, DIFFERENT), (False, NO_ANSWER)]


def test_number_spellings():
    assert parse_number("-1,234.50") == parse_number("-1234.5")
    assert parse_number("$5") == 5 and parse_number("abc") is None and parse_number("1/0") is None
    assert canonical_number(parse_number("10/4")) == "5/2" and canonical_number(parse_number("6.0")) == "6"


def test_every_shipped_gsm8k_reference_has_an_integer_answer():
    for path in ("gsm8k/data/gsm8k_test.jsonl", "gsm8k/data/gsm8k_train.jsonl"):
        for line in (DATA / path).read_text().splitlines():
            gold = gsm8k_gold(json.loads(line)["answer"])
            assert gold.lstrip("-").isdigit(), gold


MATH_RESPONSES = [
    ("so the answer is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}"),
    ("First \\boxed{3}, but actually \\boxed{4}", "4"),
    ("\\boxed{\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}}", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}"),
    ("\\boxed{\\text{(C)}}", "\\text{(C)}"),
    ("$\\boxed {(-\\infty, 2) \\cup (3, \\infty)}$", "(-\\infty, 2) \\cup (3, \\infty)"),
    ("The answer is \\fbox{x^{2}+1}", "x^{2}+1"),
    ("hence \\boxed 5.", "5"),
    ("Final Answer: The final answer is $\\frac{3}{28}$. I hope it is correct.", "\\frac{3}{28}"),
    ("Therefore the answer is 7.", "7"),
    ("The final answer is: 12\\sqrt{2}", "12\\sqrt{2}"),
    ("unclosed \\boxed{\\frac{1}{2}", None),
    ("\\boxed{}", None),
    ("I computed 3 + 4 = 7 and stopped", None),  # no last-number fallback for MATH
]


@pytest.mark.parametrize("response, expected", MATH_RESPONSES)
def test_extract_math_answer(response, expected):
    assert extract_math_answer(response) == expected


def test_last_boxed_balances_nested_braces():
    assert last_boxed("\\boxed{\\frac{a}{b^{2}}} tail") == "\\frac{a}{b^{2}}"
    assert last_boxed("no box") is None


def test_math_gold_from_answer_field_or_solution():
    assert math_gold({"answer": "\\frac34", "solution": "\\boxed{0.75}"}) == "\\frac34"
    assert math_gold({"solution": "so it is $\\boxed{\\frac{3}{4}}$."}) == "\\frac{3}{4}"
    with pytest.raises(ValueError, match="no \\\\boxed"):
        math_gold({"solution": "nothing"})


def test_math500_answer_field_equals_the_last_boxed_of_its_solution():
    for line in (DATA / "math/data/math500_test.jsonl").read_text().splitlines():
        doc = json.loads(line)
        assert last_boxed(doc["solution"]) == doc["answer"]


def test_every_full_math_solution_has_a_reference_answer():
    lines = (DATA / "math/data/math_test_full.jsonl").read_text().splitlines()
    assert len(lines) == 5000
    assert all(math_gold(json.loads(line)) for line in lines)
