"""Sweep output: one exactly named dir per alpha, earlier runs kept."""

from lm_eval_tts.sweep.evaluate import AlphaRun, save_alpha
from lm_eval_tts.sweep.output import alpha_dir


def test_alpha_dirs_are_distinct_and_name_the_alpha_exactly(tmp_path):
    alphas = [0.1234567, 0.1234568, 1e-07, 1.0, 0.30000000000000004, 0.3]
    dirs = [alpha_dir(tmp_path, a) for a in alphas]
    assert len(set(dirs)) == len(alphas)
    assert [float(d.name.removeprefix("alpha_")) for d in dirs] == alphas
    assert alpha_dir(tmp_path, 0.0).name == "alpha_0" and alpha_dir(tmp_path, 0.5).name == "alpha_0.5"


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
