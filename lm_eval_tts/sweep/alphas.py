"""Parse `--alphas` (an inclusive range `start:stop:step` or a comma-separated list), and write an alpha exactly."""

from __future__ import annotations

import math

from lm_eval_tts.errors import UserError

MAX_ALPHAS = 1000
_EXAMPLES = "e.g. --alphas 0:1.2:0.1 (start:stop:step, stop included) or --alphas 0,0.5,1"


def parse_alphas(text: str) -> tuple[float, ...]:
    """`"0:1:0.25"` -> (0.0, 0.25, 0.5, 0.75, 1.0); `"1,0.5"` -> (1.0, 0.5) (order kept).

    A range includes `stop` when it lies within float tolerance of a step (0:1.2:0.1 gives 13 values), and its
    values are rounded to 12 decimals so 0.1 * 3 prints as 0.3.
    """
    text = str(text).strip()
    if ":" in text:
        values = _range(text)
    else:
        values = tuple(_number(part, text) for part in text.split(","))
    seen = set()
    for value in values:
        if value in seen:
            raise UserError(f"--alphas {text!r}: alpha {format_alpha(value)} appears twice; give each alpha once "
                            f"({_EXAMPLES})")
        seen.add(value)
    return values


def format_alpha(alpha: float) -> str:
    """The shortest text that reads back as exactly this float (`float(text) == alpha`), without a trailing `.0`:
    0.5 -> "0.5", 1.0 -> "1", 0.1 + 0.2 -> "0.30000000000000004", 1e-07 -> "1e-07". Distinct alphas never share a
    name, which `:g` (6 significant digits) does not guarantee."""
    text = repr(float(alpha))
    return text[:-2] if text.endswith(".0") else text

def _range(text: str) -> tuple[float, ...]:
    parts = text.split(":")
    if len(parts) != 3:
        raise UserError(f"--alphas {text!r}: a range needs exactly start:stop:step ({_EXAMPLES})")
    start, stop, step = (_number(part, text) for part in parts)
    if step == 0:
        raise UserError(f"--alphas {text!r}: step is 0; use a non-zero step ({_EXAMPLES})")
    span = (stop - start) / step
    if span < -1e-9:
        raise UserError(f"--alphas {text!r}: step {step:g} never goes from {start:g} to {stop:g}; "
                        f"flip the step's sign ({_EXAMPLES})")
    count = math.floor(span + 1e-9) + 1
    if count > MAX_ALPHAS:
        raise UserError(f"--alphas {text!r} gives {count} alphas (at most {MAX_ALPHAS}); use a larger step")
    return tuple(round(start + i * step, 12) + 0.0 for i in range(count))  # + 0.0 turns -0.0 into 0.0


def _number(part: str, text: str) -> float:
    try:
        value = float(part)
    except ValueError:
        raise UserError(f"--alphas {text!r}: {part.strip()!r} is not a number ({_EXAMPLES})") from None
    if not math.isfinite(value):
        raise UserError(f"--alphas {text!r}: {part.strip()!r} is not a finite number ({_EXAMPLES})")
    return value

