"""Where lm-eval-tts keeps what it builds (converted embedded models, merged checkpoints)."""

import os
from pathlib import Path


def cache_root() -> Path:
    """$LM_EVAL_TTS_CACHE, else $XDG_CACHE_HOME/lm_eval_tts, else ~/.cache/lm_eval_tts."""
    explicit = os.environ.get("LM_EVAL_TTS_CACHE")
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lm_eval_tts"
