"""Where the package's own files are: the task YAML directory (with the shipped data) that lm-eval scans."""

from __future__ import annotations

from pathlib import Path


def task_configs_dir() -> Path:
    """The task YAML directory: inside the installed package, or top-level in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "task_configs", here.parent / "task_configs"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"lm-eval-tts task_configs directory not found beside {here}")
