"""What to merge: checkpoints, their weights and the output dtype (validated once, at construction)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from lm_eval_tts.dtypes import canonical_dtype
from lm_eval_tts.errors import UserError


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

    @classmethod
    def requested(cls, pretrained: str | None = None, base: str | None = None, alpha: float | None = None,
                  checkpoints: tuple[str, ...] = (), weights: tuple[float, ...] = (), dtype: str = "auto", *,
                  style: str = "model_args") -> "MergeSpec":
        """What a user asked to merge, in either form: WiSE-FT (pretrained, base, alpha), or N-way (checkpoints,
        weights; a `pretrained` among them is moved first, since config and tokenizer come from it).

        The one rule behind `lm-eval-tts merge` (style="cli") and wise_fire's model_args (style="model_args"):
        errors spell each argument as that front end does (`--alpha 0.5` or `alpha=0.5`).
        """

        def arg(name: str, value: str = "") -> str:
            if style == "cli":
                return f"--{name}" + (f" {value}" if value else "")
            return f"{name}={value}"

        if checkpoints or weights:
            if base is not None or alpha is not None:
                raise UserError(f"use either {arg('base')}/{arg('alpha')} or {arg('checkpoints')}/{arg('weights')}, "
                                "not both")
            if not checkpoints or not weights:
                raise UserError(f"{arg('checkpoints')} needs {arg('weights')} (one weight per checkpoint), "
                                "and vice versa")
            spec = cls(tuple(checkpoints), tuple(weights), dtype)
            if pretrained is None:
                return spec
            if pretrained not in spec.checkpoints:
                raise UserError(f"{arg('pretrained', pretrained)} must be one of {arg('checkpoints')} "
                                "(its config and tokenizer are used)")
            first = spec.checkpoints.index(pretrained)
            order = [first] + [i for i in range(len(spec.checkpoints)) if i != first]
            return cls(tuple(spec.checkpoints[i] for i in order), tuple(spec.weights[i] for i in order), spec.dtype)
        if pretrained is None:
            raise UserError(f"nothing to merge: give {arg('pretrained', 'LATE')} {arg('base', 'EARLY')} "
                            f"{arg('alpha', 'A')}, or {arg('checkpoints')} with {arg('weights')}")
        if base is not None and alpha is None:
            raise UserError(f"{arg('base')} needs {arg('alpha')} (the weight of pretrained: "
                            f"theta = (1-alpha)*base + alpha*pretrained), e.g. {arg('alpha', '0.5')}")
        if alpha is not None and base is None:
            raise UserError(f"{arg('alpha')} needs {arg('base', 'EARLY')} (the early checkpoint to interpolate with)")
        return cls.from_alpha(pretrained, base, 1.0 if alpha is None else alpha, dtype)

    @property
    def is_identity(self) -> bool:
        """True when the result is just the first checkpoint (alpha == 1, or no base): callers skip merging."""
        return self.weights[0] == 1.0 and all(w == 0.0 for w in self.weights[1:])

    def describe(self) -> str:
        return " + ".join(f"{w:g} * {c}" for w, c in zip(self.weights, self.checkpoints))
