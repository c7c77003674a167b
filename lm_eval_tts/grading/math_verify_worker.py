"""The checker that `MathGrader` runs inside its worker processes (imported there only, never in the caller).

Importing this module loads math-verify and runs one comparison, so sympy's lazily built parsers are warm
before the worker reports ready and the first real comparison is not charged their start-up time.
"""

import logging
from functools import lru_cache

from math_verify import parse, verify

logging.getLogger("math_verify").setLevel(logging.ERROR)

PARSE_CACHE_SIZE = 4096  # distinct answers per worker; the n samples of a problem share one gold


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


equivalent("\\frac{1}{2}", "0.5")
equivalent("(1,2]", "\\left(1, 2\\right]")
