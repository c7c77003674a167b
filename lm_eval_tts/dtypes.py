"""The dtype names a user may write (`dtype=` in model_args, `lm-eval-tts merge --dtype`), in one table.

Both backends and the merge read it, so an alias means the same everywhere and a typo is refused before any
weight is read or written. "auto" keeps the dtype the checkpoint is stored in (vLLM: its own `auto` rule).
"""

from __future__ import annotations

import difflib

from lm_eval_tts.errors import UserError

# Accepted spellings -> canonical torch dtype name.
DTYPE_ALIASES = {
    "auto": "auto",
    "float32": "float32",
    "fp32": "float32",
    "float": "float32",
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
    "half": "float16",
}
DTYPE_NAMES = ("auto", "float32", "bfloat16", "float16")


def canonical_dtype(name: object) -> str:
    """"bf16" -> "bfloat16"; an unknown name is one UserError with the closest accepted spelling."""
    text = str(name).strip().lower()
    if text in DTYPE_ALIASES:
        return DTYPE_ALIASES[text]
    close = difflib.get_close_matches(text, DTYPE_NAMES, n=1)
    hint = f"did you mean dtype={close[0]}? " if close else ""
    raise UserError(f"dtype={name!r} is not supported; {hint}use one of {', '.join(DTYPE_NAMES)}")


def torch_dtype(name: object):
    """The torch dtype for a name or alias; "auto" stays the string "auto" (transformers' own spelling)."""
    canonical = canonical_dtype(name)
    if canonical == "auto":
        return "auto"
    import torch

    return getattr(torch, canonical)
