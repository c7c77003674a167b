import pytest
import torch

from lm_eval_tts.cli import main
from lm_eval_tts.merge.engine import merged_state_dict
from lm_eval_tts.merge.spec import MergeSpec
from tests.merge.checkpoints import load_dir


@pytest.fixture
def trio(make_ckpt, tmp_path, monkeypatch):
    monkeypatch.setenv("LM_EVAL_TTS_CACHE", str(tmp_path / "cache"))
    return [make_ckpt(f"c{i}", seed=i) for i in range(3)]


def assert_dir_holds(path, spec):
    written = load_dir(path)
    expected = merged_state_dict(spec)
    assert written.keys() == expected.keys() and all(torch.equal(written[n], t) for n, t in expected.items())


def test_alpha_merge_to_output_dir(trio, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["merge", "--pretrained", trio[0], "--base", trio[1], "--alpha", "1.5", "-o", out, "--dtype", "bf16",
            "--max-shard-size", "1KB"]
    assert main([str(a) for a in args]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert len(list(out.glob("*.safetensors"))) > 1
    assert_dir_holds(out, MergeSpec.from_alpha(str(trio[0]), str(trio[1]), 1.5, "bfloat16"))
    assert main([str(a) for a in args]) == 2
    assert "already exists" in capsys.readouterr().err
    assert main([str(a) for a in args] + ["--force"]) == 0


def test_n_way_merge_into_the_cache_and_cache_commands(trio, capsys):
    args = ["merge", "--checkpoints", *trio, "--weights", "0.5", "0.3", "0.2"]
    assert main([str(a) for a in args]) == 0
    path = capsys.readouterr().out.strip()
    assert_dir_holds(path, MergeSpec(tuple(map(str, trio)), (0.5, 0.3, 0.2), "auto"))
    assert main(["cache", "list"]) == 0
    listing = capsys.readouterr().out
    assert "1 entries" in listing and path.rsplit("/", 1)[1] in listing and f"0.5 * {trio[0]}" in listing
    assert main(["cache", "clear"]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert main(["cache", "list"]) == 0
    assert "0 entries" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        ([], "nothing to merge"),
        (["--pretrained", "A", "--base", "B"], "--base needs --alpha"),
        (["--pretrained", "A", "--alpha", "0.5"], "--alpha needs --base"),
        (["--checkpoints", "A", "B"], "--checkpoints needs --weights"),
        (["--checkpoints", "A", "B", "--weights", "1"], "1 weights for 2 checkpoints"),
        (["--checkpoints", "A", "--weights", "1", "--base", "B"], "not both"),
        (["--checkpoints", "A", "--weights", "1", "--pretrained", "B"], "--pretrained B must be one of --checkpoints"),
        (["--pretrained", "/nonexistent/late", "--base", "/nonexistent/early", "--alpha", "0.5", "-o", "x"],
         "checkpoint dir '/nonexistent/late' does not exist"),
        (["--pretrained", "someorg/absent", "--base", "B", "--alpha", "0.5"], "not in the local Hugging Face cache"),
    ],
)
def test_bad_arguments_give_one_error_line(trio, args, message, capsys):
    assert main(["merge", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lm-eval-tts merge: error: ") and message in err and err.count("\n") == 1
