"""The numeric value of a LaTeX answer that is plain arithmetic (`2\\sqrt{3}`, `\\frac{5\\pi}{6}`, `10^{-2}`), or None.

Why: most MATH answers, and most wrong answers, are numbers or short numeric expressions. Two of them whose values
clearly differ are different answers for math-verify as well (it calls numbers equal only when exactly equal, or,
with a decimal involved, equal after rounding to 6 places), so the grader can reject them without a worker
round trip and sympy. The grammar is deliberately narrow: digits, `.`, `+ - * / \\cdot \\times`, `^`, `\\frac`,
`\\sqrt` (optionally `\\sqrt[n]`), `\\pi`, parentheses and braces, implicit multiplication (`3\\pi`, `2(1+x)` without
`x`). Anything whose reading could differ from math-verify's parser is refused (None): letters, commas, `%`,
degrees, a digit right after another factor (`\\pi 2`, mixed numbers such as `3\\frac12`, `2^10`), chained powers,
`/` mixed with implicit multiplication (`1/2\\pi`), complex results, overflow, texts over `MAX_LENGTH`.
"""

from __future__ import annotations

import math
import re

MAX_LENGTH = 200
_TOKEN = re.compile(r"\d+(?:\.\d+)?|\.\d+|\\(?:frac|dfrac|tfrac|sqrt|pi|cdot|times)(?![a-zA-Z])|[-+*/^()\[\]{}]")
_MULTIPLY = ("*", "\\cdot", "\\times")
_FRACTIONS = ("\\frac", "\\dfrac", "\\tfrac")


class _Refused(Exception):
    pass


def numeric_value(text: str) -> float | None:
    """The value of a plain-arithmetic LaTeX expression (whitespace already normalised away), or None."""
    if not text or len(text) > MAX_LENGTH:
        return None
    tokens = _TOKEN.findall(text)
    if "".join(tokens) != text:  # something outside the grammar (a letter, a comma, a space, ...)
        return None
    parser = _Parser(tokens)
    try:
        value = parser.expression()
        if parser.position != len(tokens) or not math.isfinite(value):
            return None
        return value
    except (_Refused, OverflowError, ZeroDivisionError, ValueError, IndexError):
        return None


class _Parser:
    """Recursive descent over the tokens: expression > term > signed > power > atom."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.position = 0

    def peek(self) -> str | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise _Refused
        self.position += 1
        return token

    def expression(self) -> float:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> float:
        value, divided, implicit = self.signed(), False, False
        while True:
            token = self.peek()
            if token in _MULTIPLY or token == "/":
                self.take()
                right = self.signed()
                divided |= token == "/"
                value = value / right if token == "/" else value * right
            elif token is not None and (token[0] in "\\({" and token not in _MULTIPLY):
                implicit = True
                value *= self.power()
            else:
                break
            if divided and implicit:  # 1/2\pi: (1/2)pi or 1/(2pi)? refuse
                raise _Refused
        return value

    def signed(self) -> float:
        if self.peek() in ("+", "-"):
            return -self.signed() if self.take() == "-" else self.signed()
        return self.power()

    def power(self) -> float:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take()
        if self.peek() == "{":
            exponent = self.group()
        else:
            exponent = self.argument()
        if self.peek() == "^" or (self.peek() or "x")[0].isdigit():  # 2^3^4, 2^10
            raise _Refused
        if base < 0 and not float(exponent).is_integer():
            raise _Refused
        return math.pow(base, exponent)

    def atom(self) -> float:
        token = self.take()
        if token[0].isdigit() or token[0] == ".":
            if self.peek() in _FRACTIONS:
                raise _Refused  # 3\frac12 is a mixed number to math-verify
            return float(token)
        if token == "\\pi":
            return math.pi
        if token in _FRACTIONS:
            return self.argument() / self.argument()
        if token == "\\sqrt":
            degree = 2.0
            if self.peek() == "[":
                self.take()
                degree = self.expression()
                self.take("]")
            radicand = self.argument()
            if radicand < 0 or degree <= 0:
                raise _Refused
            return radicand ** (1.0 / degree)
        if token in ("(", "{"):
            value = self.expression()
            self.take(")" if token == "(" else "}")
            return value
        raise _Refused

    def argument(self) -> float:
        """`{expr}` or, in shorthand such as `\\frac12` / `\\sqrt2`, a single digit (the rest stays a token)."""
        if self.peek() == "{":
            return self.group()
        token = self.peek() or ""
        if not token.isdigit():
            raise _Refused
        if len(token) > 1:
            self.tokens[self.position] = token[1:]
        else:
            self.position += 1
        return float(token[0])

    def group(self) -> float:
        self.take("{")
        value = self.expression()
        self.take("}")
        return value
