"""What to merge: checkpoints, their weights and the output dtype (validated once, at construction)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lm_eval_tts.errors import UserError

# Accepted spellings -> canonical torch dtype name; "auto" keeps each tensor's dtype from the first checkpoint.
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


def canonical_dtype(name: str) -> str:
    try:
        return DTYPE_ALIASES[str(name).strip().lower()]
    except KeyError:
        raise UserError(f"dtype={name!r} is not supported; use one of float32, bfloat16, float16, auto") from None


@dataclass(frozen=True)
class MergeSpec:
    """theta = sum_i weights[i] * theta(checkpoints[i]), accumulated in float32 and cast to `dtype`.

    `checkpoints[0]` is the "late"/pretrained checkpoint: config, tokenizer and generation files come from it.
    Weights need not sum to 1 and may be negative (extrapolation), as in WiSE-FT with alpha outside [0, 1].
    """

    checkpoints: tuple[str, ...]
    weights: tuple[float, ...]
    dtype: str = "auto"

    def __post_init__(self) -> None:
        checkpoints = tuple(str(c) for c in self.checkpoints)
        if not checkpoints or any(not c.strip() for c in checkpoints):
            raise UserError("checkpoints= needs at least one non-empty checkpoint path or hub id")
        try:
            weights = tuple(float(w) for w in self.weights)
        except (TypeError, ValueError):
            raise UserError(f"weights={list(self.weights)!r} must be numbers, one per checkpoint") from None
        if len(weights) != len(checkpoints):
            raise UserError(
                f"got {len(weights)} weights for {len(checkpoints)} checkpoints; give exactly one weight per checkpoint"
            )
        bad = [w for w in weights if not math.isfinite(w)]
        if bad:
            raise UserError(f"weights must be finite numbers, got {bad[0]!r}")
        if all(w == 0.0 for w in weights):
            raise UserError("all weights are 0, so the merge would be all zeros; give at least one non-zero weight")
        object.__setattr__(self, "checkpoints", checkpoints)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "dtype", canonical_dtype(self.dtype))

    @classmethod
    def from_alpha(cls, pretrained: str, base: str | None, alpha: float = 1.0, dtype: str = "auto") -> "MergeSpec":
        """WiSE-FT: theta = (1 - alpha) * theta_base + alpha * theta_pretrained; no base means no merge."""
        try:
            alpha = float(alpha)
        except (TypeError, ValueError):
            raise UserError(f"alpha={alpha!r} must be a number (e.g. alpha=0.5)") from None
        if not math.isfinite(alpha):
            raise UserError(f"alpha={alpha!r} must be a finite number")
        if base is None or str(base).strip() == "":
            return cls((pretrained,), (1.0,), dtype)
        return cls((pretrained, base), (alpha, 1.0 - alpha), dtype)

    @property
    def is_identity(self) -> bool:
        """True when the result is just the first checkpoint (alpha == 1, or no base): callers skip merging."""
        return self.weights[0] == 1.0 and all(w == 0.0 for w in self.weights[1:])

    def describe(self) -> str:
        return " + ".join(f"{w:g} * {c}" for w, c in zip(self.weights, self.checkpoints))
