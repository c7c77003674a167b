"""Session fixture: real lm-eval results files of a tiny task scored by doc_metrics (see lm_eval_fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.report.lm_eval_fixture import write_lm_eval_runs


@pytest.fixture(scope="session")
def lm_eval_runs(tmp_path_factory) -> list[Path]:
    """Results JSON paths of two runs (model_args alpha=0.0 and alpha=0.5), each in its own --output_path dir."""
    return write_lm_eval_runs(tmp_path_factory.mktemp("lm_eval_runs"))
