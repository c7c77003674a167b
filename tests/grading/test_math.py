"""MATH answer equivalence: tables of real MATH/MATH-500 reference answers against equivalent and different
spellings, and pathological answers that make math-verify hang, each bounded by the hard time limit."""

import time

import pytest

from lm_eval_tts.grading.math import MathGrader, certain_verdict, normalize_answer_text
from lm_eval_tts.grading.verdict import IDENTICAL, NO_ANSWER, TIMEOUT, VERIFIED

# (reference answer from MATH / MATH-500, an equivalent answer a model might write)
EQUIVALENT = [
    ("\\frac{3}{56}", "3/56"),
    ("\\frac{243}{625}", "0.3888"),
    ("\\frac{3}{2}", "1.5"),
    ("\\frac{3}{2}", "\\dfrac{3}{2}"),
    ("\\dfrac{9}{7}", "\\frac97"),
    ("-\\frac{\\pi}{6}", "-\\pi/6"),
    ("\\frac{35}{64}", "\\frac{70}{128}"),
    ("\\frac{3\\sqrt{3}}{4}", "\\frac{3}{4}\\sqrt{3}"),
    ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}"),
    ("3\\sqrt{13}", "\\sqrt{117}"),
    ("11\\sqrt2", "11\\sqrt{2}"),
    ("70 \\sqrt{2}", "70\\sqrt{2}"),
    ("\\sqrt{51}", "51^{1/2}"),
    ("1 \\pm \\sqrt{19}", "1\\pm\\sqrt{19}"),
    ("3 \\pm 2 \\sqrt{2}", "3\\pm2\\sqrt2"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\frac{\\pi}{2})"),
    ("(-2,1)", "\\left(-2, 1\\right)"),
    ("(3,4]", "(3, 4]"),
    ("(2,\\infty)", "(2, \\infty)"),
    ("(-\\infty, 0]", "(-\\infty,0]"),
    ("(0,9) \\cup (9,36)", "(0, 9)\\cup(9, 36)"),
    ("(-\\infty, 2) \\cup (3, \\infty)", "(-\\infty,2)\\cup(3,\\infty)"),
    ("\\{-1\\} \\cup [0,7)", "\\{-1\\}\\cup[0, 7)"),
    ("(6,31,-1)", "(6, 31, -1)"),
    ("\\begin{pmatrix} -1/3 \\\\ 2/3 \\\\ 5/3 \\end{pmatrix}", "\\begin{pmatrix} -\\frac{1}{3} \\\\ \\frac{2}{3} \\\\ \\frac{5}{3} \\end{pmatrix}"),
    ("\\begin{pmatrix} -2 \\\\ -14 \\\\ -7 \\end{pmatrix}", "\\left(\\begin{pmatrix}-2\\\\-14\\\\-7\\end{pmatrix}\\right)"),
    ("\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix}-1&0\\\\0&-1\\end{pmatrix}"),
    ("\\begin{pmatrix} 1/5 \\\\ -18/5 \\end{pmatrix}", "\\begin{pmatrix} 0.2 \\\\ -3.6 \\end{pmatrix}"),
    ("90^\\circ", "90"),
    ("120^\\circ", "120^{\\circ}"),
    ("30^\\circ", "30"),
    ("44\\%", "44"),
    ("7.2\\%", "7.2\\%"),
    ("100\\%", "100"),
    ("\\text{Evelyn}", "Evelyn"),
    ("\\text{east}", "\\text{east}"),
    ("\\text{(C)}", "C"),
    ("\\text{(E)}", "(E)"),
    ("5.4 \\text{ cents}", "5.4"),
    ("\\frac{270}7\\text{ degrees}", "\\frac{270}{7}"),
    ("288 \\pi", "288\\pi"),
    ("18+2\\pi", "2\\pi+18"),
    ("\\frac{20000}{\\pi}", "20000/\\pi"),
    ("x = 4", "4"),
    ("4x-5y=-50", "4x - 5y = -50"),
    ("\\$40", "40"),
    ("\\$15,\\!000", "15000"),
    ("\\$115,000", "\\$115{,}000"),
    ("2", "2.0"),
    ("10", "10.000"),
    ("-\\dfrac{4}{3}", "-4/3"),
    ("0.5", "\\frac{1}{2}"),
    ("\\{1\\pm\\sqrt{5},-2\\}", "\\{-2, 1+\\sqrt{5}, 1-\\sqrt{5}\\}"),
    ("x^2 + y^2 = 13", "y^2 + x^2 = 13"),
    ("2\\sqrt{2}", "\\sqrt{8}"),
    ("\\frac{1}{\\sqrt{2}}", "\\frac{\\sqrt{2}}{2}"),
]

# (reference answer, a different answer)
DIFFERENT = [
    ("\\frac{3}{56}", "\\frac{56}{3}"),
    ("\\frac{243}{625}", "\\frac{243}{624}"),
    ("\\frac{3}{2}", "1.6"),
    ("-\\frac{\\pi}{6}", "\\frac{\\pi}{6}"),
    ("3\\sqrt{13}", "3\\sqrt{31}"),
    ("11\\sqrt2", "11"),
    ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3, \\pi)"),
    ("(-2,1)", "[-2,1]"),
    ("(3,4]", "(3,4)"),
    ("(2,\\infty)", "[2,\\infty)"),
    ("(0,9) \\cup (9,36)", "(0,36)"),
    ("(6,31,-1)", "(6,31,1)"),
    ("\\begin{pmatrix} -2 \\\\ -14 \\\\ -7 \\end{pmatrix}", "\\begin{pmatrix} -2 \\\\ -14 \\\\ 7 \\end{pmatrix}"),
    ("\\begin{pmatrix} -1 & 0 \\\\ 0 & -1 \\end{pmatrix}", "\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}"),
    ("90^\\circ", "45^\\circ"),
    ("44\\%", "0.45"),
    ("\\text{Evelyn}", "Evelina"),
    ("\\text{(C)}", "\\text{(D)}"),
    ("\\text{east}", "\\text{west}"),
    ("288 \\pi", "288"),
    ("18+2\\pi", "18+\\pi"),
    ("x = 4", "x = 5"),
    ("\\$40", "41"),
    ("2", "3"),
    ("1 \\pm \\sqrt{19}", "1 + \\sqrt{19}"),
    ("\\frac{1}{\\sqrt{2}}", "\\sqrt{2}"),
    ("12", "1 2"),  # whitespace inside a number is not dropped
    ("1,2", "12"),
]

PATHOLOGICAL = [
    "2^{2^{2^{2^{2^{2}}}}}",
    "9^{9^{9^{9}}}",
    "10^{10^{10^{10}}}",
    "(10^{100})!",
    "2^{3^{4^{5}}}",
    "7^{7^{7^{7^{7}}}}",
    "10^{10^{100}}",
    "99999999999^{99999999999}",
    "3^{3^{3^{3^{3}}}}",
    "(2^{2^{2^{2^{2}}}})!",
    "5^{5^{5^{5}}} - 5^{5^{5^{5}}}",
    "\\frac{10^{10^{10}}}{10^{10^{10}} + 1}",
    "e^{e^{e^{e^{e^{10}}}}}",
    "2^{2^{64}} \\bmod 7",
    "123456789^{987654321}",
    "(10^{10^{10}})^{2}",
    "\\sqrt{10^{10^{10}}}",
    "10^{10^{10}} + 10^{10^{9}}",
    "8^{8^{8^{8}}}",
    "6^{6^{6^{6}}} \\cdot 2",
    "(9^{9^{9}})!",
    "4^{4^{4^{4^{4}}}}",
]

LIMIT = 1.0


@pytest.fixture(scope="module")
def grader():
    """Generous limit: the tables check verdicts, not speed, on a possibly loaded machine."""
    with MathGrader(timeout=20.0, workers=2) as g:
        yield g


@pytest.fixture(scope="module")
def strict_grader():
    with MathGrader(timeout=LIMIT, workers=2) as g:
        yield g


def test_known_equivalent_pairs_are_equivalent(grader):
    verdicts = grader.grade_many(EQUIVALENT)
    wrong = [(pair, v) for pair, v in zip(EQUIVALENT, verdicts) if not v.equivalent]
    assert not wrong


def test_known_different_pairs_are_different(grader):
    verdicts = grader.grade_many(DIFFERENT)
    wrong = [(pair, v) for pair, v in zip(DIFFERENT, verdicts) if v.equivalent]
    assert not wrong


def test_table_size_meets_the_bar():
    assert len(EQUIVALENT) + len(DIFFERENT) >= 60 and len(PATHOLOGICAL) >= 20


def test_each_pathological_answer_finishes_within_limit_plus_one_second(strict_grader):
    start = time.monotonic()
    verdicts = strict_grader.grade_many([("2", answer) for answer in PATHOLOGICAL])
    assert all(not v.equivalent for v in verdicts)
    assert all(v.seconds <= LIMIT + 1.0 for v in verdicts), [(a, v) for a, v in zip(PATHOLOGICAL, verdicts)]
    assert sum(v.status == TIMEOUT for v in verdicts) >= 10  # they really hang math-verify; the limit stopped them
    # two workers: the batch costs about half the sum of the limits, plus worker restarts
    assert time.monotonic() - start <= len(PATHOLOGICAL) * (LIMIT + 1.0) / 2 + 5


def test_single_pathological_call_returns_within_limit_plus_one_second_and_pool_recovers(strict_grader):
    strict_grader.grade("1", "1.0")  # a ready worker
    start = time.monotonic()
    verdict = strict_grader.grade("7", "7^{7^{7^{7^{7^{7}}}}}")
    assert time.monotonic() - start <= LIMIT + 1.0
    assert verdict.status == TIMEOUT and not verdict.equivalent
    assert strict_grader.grade("\\frac{1}{4}", "0.25").equivalent  # the replaced worker answers normally


def test_statuses_and_cache(grader):
    assert grader.grade("\\frac12", "\\frac{1}{2}").status in (IDENTICAL, VERIFIED)
    assert grader.grade("5", " 5 ").status == IDENTICAL
    assert grader.grade("5", None).status == NO_ANSWER
    assert grader.grade("5", "").status == NO_ANSWER
    first = grader.grade("\\sqrt{12}", "2\\sqrt{3}")
    again = grader.grade("\\sqrt{12}", "2\\sqrt{3}")
    assert first.status == again.status == VERIFIED and again.seconds == 0.0


def test_batch_keeps_input_order_and_deduplicates(grader):
    pairs = [("1", "1.0"), ("1", "2"), ("1", "1.0"), ("\\frac{1}{3}", "0.5")] * 5
    verdicts = grader.grade_many(pairs)
    assert [v.equivalent for v in verdicts] == [True, False, True, False] * 5


CERTAIN = [  # (gold, answer, equivalent): decided without a worker, and math-verify agrees (checked below)
    ("5", "5.0", True), ("5", "6", False), ("\\frac{1}{2}", "0.5", True), ("-\\frac{3}{4}", "-3/4", True),
    ("12", "12.000", True), ("7", "-7", False), ("0.5", "0.6", False), ("\\frac{1}{3}", "\\frac{333}{1000}", False),
    ("\\frac{3}{56}", "\\frac{56}{3}", False), ("3\\sqrt{13}", "3\\sqrt{31}", False),
    ("10", "\\sqrt{2}+\\sqrt{6}", False),
    ("288 \\pi", "288", False), ("\\frac{\\pi}{6}", "-\\frac{\\pi}{6}", False), ("2^{10}", "1000", False),
    ("22", "x = 22", True), ("x=5", "5", True), ("\\frac{1}{2}", "y = 0.5", True), ("9", "x = -1", False),
    ("x=5", "x = 17", False), ("k = 3", "k=\\frac{6}{2}", True), ("2\\sqrt{3}", "n = 2\\sqrt{3}", True),
]


@pytest.mark.parametrize("gold, answer, equivalent", CERTAIN)
def test_certain_verdicts_are_decided_without_a_worker(gold, answer, equivalent):
    verdict = certain_verdict(gold, answer)
    assert verdict is not None and verdict.equivalent is equivalent and verdict.seconds == 0.0


def test_certain_verdicts_are_math_verifys_verdicts():
    from lm_eval_tts.grading.math_verify_worker import equivalent

    assert [equivalent(gold, answer) for gold, answer, _ in CERTAIN] == [same for _, _, same in CERTAIN]


@pytest.mark.parametrize(
    "gold, answer",
    [("1,2", "12"), ("\\frac{1}{0}", "1"), ("x", "y"), ("\\frac{1}{3}", "0.333333"),  # rounding: math-verify decides
     ("\\sqrt{8}", "2\\sqrt{2}"), ("3\\frac{1}{2}", "3.5"), ("44\\%", "0.44"), ("90^\\circ", "90"),
     ("x=5", "y=5"), ("e=5", "5"), ("2x+1=5", "2"), ("x=1,2", "1"), ("x=y", "y"), ("x=5", "x=5=5")],
)
def test_anything_less_certain_goes_to_math_verify(gold, answer):
    assert certain_verdict(gold, answer) is None


@pytest.mark.parametrize(
    "answer, normalized",
    [("1 2", "1 2"), ("12", "12"), ("\\text{east coast}", "\\text{east coast}"), ("1\\ 2", "1 2"), ("1\\,2", "1 2"),
     ("x + 1 = 2", "x+1=2"), ("2 \\pi", "2\\pi"), ("2\\,\\pi", "2\\pi"), ("\\pi r^2", "\\pi r^2"), (" 5 ", "5"),
     ("1\\,000", "1000"), ("\\text{ cm}", "\\text{cm}"), ("$5$", "5")],
)
def test_normalize_answer_text_keeps_whitespace_between_letters_and_digits(answer, normalized):
    assert normalize_answer_text(answer) == normalized


def test_whitespace_inside_a_number_is_not_certain_to_be_the_same_number():
    assert certain_verdict("12", "1 2") is None and certain_verdict("1 2", "12") is None
    assert certain_verdict("1000", "1\\,000").equivalent  # TeX's thin space as a thousands separator


def test_normalize_answer_text_keeps_commands_that_merely_start_like_left_or_right():
    assert normalize_answer_text("\\left( 1, 2 \\right)") == "(1,2)"
    assert normalize_answer_text("\\leftarrow") != normalize_answer_text("\\rightarrow")
    assert normalize_answer_text("\\dfrac{1}{2}.") == "\\frac{1}{2}"
