"""`lm-eval-tts` itself: help that tells a user what each command is for, and --version."""

import subprocess
import sys
from pathlib import Path

from lm_eval_tts import __version__

CLI = str(Path(sys.executable).with_name("lm-eval-tts"))


def test_help_names_every_command_and_shows_examples():
    out = subprocess.run([CLI, "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("merge", "cache", "sweep", "report", "view"):
        assert f"\n    {command} " in out
    assert "lm_eval --model wise_fire" in out and "lm-eval-tts merge --pretrained" in out


def test_version():
    proc = subprocess.run([CLI, "--version"], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == f"lm-eval-tts {__version__}"
