"""Sweep output: one exactly named dir per alpha, files written whole (temporary file + rename) with the umask."""

import os
import stat

from lm_eval_tts.sweep.evaluate import AlphaRun, save_alpha
from lm_eval_tts.sweep.output import alpha_dir, write_atomic


def test_alpha_dirs_are_distinct_and_name_the_alpha_exactly(tmp_path):
    alphas = [0.1234567, 0.1234568, 1e-07, 1.0, 0.30000000000000004, 0.3]
    dirs = [alpha_dir(tmp_path, a) for a in alphas]
    assert len(set(dirs)) == len(alphas)
    assert [float(d.name.removeprefix("alpha_")) for d in dirs] == alphas
    assert alpha_dir(tmp_path, 0.0).name == "alpha_0" and alpha_dir(tmp_path, 0.5).name == "alpha_0.5"


def test_write_atomic_leaves_only_the_file_with_the_users_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = write_atomic(tmp_path / "sub" / "table.md", b"| a |\n")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"| a |\n" and os.listdir(path.parent) == ["table.md"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_save_alpha_puts_every_file_under_its_alpha_dir_and_keeps_earlier_runs(tmp_path):
    earlier = tmp_path / "alpha_0.25" / "model" / "results_2020-01-01.json"
    earlier.parent.mkdir(parents=True)
    earlier.write_text("{}")
    files = {"model/samples_gsm8k_tts_2026.jsonl": b'{"doc_id": 0}\n', "model/results_2026.json": b'{"results": {}}'}
    result = save_alpha(AlphaRun(0.25, {"results": {}}, files, 0.5, 2.0), tmp_path)
    assert result.output_dir == tmp_path / "alpha_0.25" and result.eval_seconds == 2.0
    assert sorted(p.name for p in (tmp_path / "alpha_0.25" / "model").iterdir()) == [
        "results_2020-01-01.json", "results_2026.json", "samples_gsm8k_tts_2026.jsonl"]
    assert (tmp_path / "alpha_0.25" / "model" / "results_2026.json").read_bytes() == b'{"results": {}}'
