"""The arithmetic-LaTeX evaluator behind MathGrader's "certainly different" fast path: values of what it reads,
and refusal (None) of everything whose reading could differ from math-verify's parser."""

import math

import pytest

from lm_eval_tts.grading.latex_number import numeric_value

VALUES = [
    ("12", 12.0), ("-3", -3.0), ("0.75", 0.75), (".5", 0.5), ("\\frac{3}{4}", 0.75), ("\\dfrac{9}{7}", 9 / 7),
    ("\\frac12", 0.5), ("-\\frac{1}{3}", -1 / 3), ("3/56", 3 / 56), ("2\\sqrt{3}", 2 * math.sqrt(3)),
    ("\\sqrt2", math.sqrt(2)), ("\\sqrt[3]{8}", 2.0), ("\\frac{5\\pi}{6}", 5 * math.pi / 6), ("3\\pi", 3 * math.pi),
    ("10^{-2}", 0.01), ("2^{10}", 1024.0), ("-2^2", -4.0), ("(1+2)(3+4)", 21.0), ("2\\cdot3", 6.0),
    ("4\\times5", 20.0), ("\\sqrt{2}+\\sqrt{6}", math.sqrt(2) + math.sqrt(6)),
    ("\\frac{\\sqrt{3}}{2}", math.sqrt(3) / 2),
    ("{5}", 5.0), ("30\\pi+9\\sqrt{3}", 30 * math.pi + 9 * math.sqrt(3)),
]

REFUSED = [
    "x+1", "1,000", "1 2", "44\\%", "90^\\circ", "\\text{(A)}", "(1,2)", "\\begin{pmatrix}1\\\\2\\end{pmatrix}",
    "3\\frac12",  # a mixed number to math-verify, a product to a naive reader
    "1/2\\pi",  # (1/2)pi or 1/(2pi)?
    "\\pi2", "2^10", "2^3^4", "\\frac{1}{2}3", "\\sqrt{-1}", "(-2)^{1/2}", "1/0", "{}", "",
    "9^{9^{9^{9}}}", "2^{2^{2^{2^{2^{2}}}}}", "+".join(["1"] * 150),  # overflow; longer than MAX_LENGTH
]


@pytest.mark.parametrize("text, value", VALUES)
def test_values(text, value):
    assert numeric_value(text) == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text", REFUSED)
def test_refused(text):
    assert numeric_value(text) is None
