"""The checker that `MathGrader` runs inside its worker processes (imported there only, never in the caller).

Importing this module loads math-verify and warms it up in the zygote, before any worker is forked, so every
worker starts warm instead of paying the same start-up costs again on its first comparisons:
- sympy's lazily built parsers and caches, by a few comparisons;
- the ANTLR parser's prediction cache (the DFA that latex2sympy's generated parser shares between parses, built
  lazily: a cold parse of an answer is spent mostly in ANTLR's closure computations), by parsing `WARM_UP`, a
  fixed set of answer shapes written for this purpose (no benchmark or test-set answers);
- then `gc.freeze()`: the warm objects move to a permanent generation, so a worker's garbage collections do not
  walk (and copy-on-write copy) the zygote's whole heap.
None of this changes a verdict: it is the work math-verify would do on its first comparisons, done once.
"""

import gc
import logging
from functools import lru_cache

from math_verify import parse, verify

logging.getLogger("math_verify").setLevel(logging.ERROR)

PARSE_CACHE_SIZE = 4096  # distinct answers per worker; the n samples of a problem share one gold

WARM_UP = [
    "7", "-12", "3.25", "\\frac{2}{9}", "-\\dfrac{11}{4}", "\\frac 34", "2\\sqrt{5}", "\\frac{3\\sqrt{2}}{4}",
    "\\sqrt[3]{7}", "5\\pi", "\\frac{\\pi}{3}", "2^{10}", "10^{-3}", "1.5\\times 10^{4}", "35\\%", "60^\\circ",
    "\\$18.90", "12{,}500", "x^2 - 3x + 2", "(x-1)(x+4)", "3a+2b", "\\frac{x+1}{x^2-1}", "y = 2x + 5",
    "x = -4", "x \\le 3", "-2 < x < 5", "(1, -3)", "(2, 5]", "[-1, \\infty)", "(-\\infty, 0) \\cup (1, \\infty)",
    "\\{1, 2, 3\\}", "1, 7, 13", "\\begin{pmatrix} 1 \\\\ -2 \\end{pmatrix}",
    "\\begin{pmatrix} 1 & 0 \\\\ 0 & 1 \\end{pmatrix}", "\\text{(B)}", "\\text{odd}", "\\textbf{(E) } 4",
    "\\sin 30^\\circ", "\\cos \\theta", "\\log_2 8", "e^{i\\pi}", "3 + 4i", "\\binom{8}{3}", "6!", "|x - 2|",
    "\\infty", "\\pm \\sqrt{3}", "1011_2", "\\frac{1}{2} \\text{ cm}^2", "4 \\text{ hours}",
    "the number of ways is 42", "is 4 and 8",
]


def equivalent(gold: str, answer: str) -> bool:
    """math-verify's verdict on two bare LaTeX answers, gold first (no time limit here: the pool enforces it)."""
    parsed_gold, parsed_answer = _parsed(gold), _parsed(answer)
    if not parsed_gold or not parsed_answer:
        return False
    return bool(verify(parsed_gold, parsed_answer, timeout_seconds=None))


@lru_cache(maxsize=PARSE_CACHE_SIZE)
def _parsed(answer: str) -> list:
    """math-verify's parse of one answer, once per worker (parsing is half of a comparison's cost)."""
    return parse(f"\\boxed{{{answer}}}", parsing_timeout=None)


def _warm_up() -> None:
    for answer in WARM_UP:
        equivalent(answer, answer)
    equivalent("\\frac{1}{2}", "0.5")
    equivalent("(1,2]", "\\left(1, 2\\right]")
    _parsed.cache_clear()  # the warm-up answers are not kept as parses
    gc.collect()
    gc.freeze()


_warm_up()
