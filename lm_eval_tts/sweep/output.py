"""Where a sweep writes: one exactly named dir per alpha (distinct alphas, distinct dirs), and files that appear whole
or not at all."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from lm_eval_tts.sweep.alphas import format_alpha


def alpha_dir(output_dir: Path, alpha: float) -> Path:
    return Path(output_dir) / f"alpha_{format_alpha(alpha)}"


def write_atomic(path: Path, data: bytes) -> Path:
    """Write via a hidden temporary file in the same dir, then rename: a reader never sees half a file. The file
    gets the user's umask (0o666 & ~umask), as a plain open() would."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
