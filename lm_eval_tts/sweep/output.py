"""Where a sweep writes: one exactly named dir per alpha (distinct alphas, distinct dirs)."""

from __future__ import annotations

from pathlib import Path

from lm_eval_tts.sweep.alphas import format_alpha


def alpha_dir(output_dir: Path, alpha: float) -> Path:
    return Path(output_dir) / f"alpha_{format_alpha(alpha)}"
