import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lm_eval_tts.errors import UserError
from lm_eval_tts.merge import cache, engine
from lm_eval_tts.merge.cache import cached_merge, clear_cache, list_cache, merge_key, merged_cache_dir
from lm_eval_tts.merge.engine import merged_state_dict
from lm_eval_tts.merge.spec import MergeSpec
from tests.merge.checkpoints import load_dir


@pytest.fixture
def cache_env(tmp_path, monkeypatch):
    root = tmp_path / "cache"
    monkeypatch.setenv("LM_EVAL_TTS_CACHE", str(root))
    return root


@pytest.fixture
def pair(make_ckpt):
    return make_ckpt("late", seed=1), make_ckpt("early", seed=2)


def cli(*args, env_cache: Path, **kwargs):
    env = dict(os.environ, LM_EVAL_TTS_CACHE=str(env_cache))
    return subprocess.Popen([sys.executable, "-m", "lm_eval_tts.cli", *map(str, args)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


def test_same_key_is_reused_without_merging_again(cache_env, pair, monkeypatch):
    spec = MergeSpec.from_alpha(str(pair[0]), str(pair[1]), 0.3)
    path = cached_merge(spec)
    assert path == merged_cache_dir() / merge_key(spec)
    written = load_dir(path)
    assert all(torch.equal(written[n], t) for n, t in merged_state_dict(spec).items())
    monkeypatch.setattr(cache, "merge_to_dir", lambda *a, **k: pytest.fail("merged again"))
    assert cached_merge(spec) == path
    assert json.loads((path / engine.MANIFEST_NAME).read_text())["key"] == path.name


def test_key_depends_on_weights_dtype_order_and_input_files(cache_env, pair, tmp_path, monkeypatch):
    late, early = map(str, pair)
    key = merge_key(MergeSpec.from_alpha(late, early, 0.3))
    assert merge_key(MergeSpec.from_alpha(late + "/", early, 0.3)) == key
    monkeypatch.chdir(tmp_path)
    assert merge_key(MergeSpec.from_alpha("late", "early", 0.3)) == key
    others = [
        MergeSpec.from_alpha(late, early, 0.30000000000000004),
        MergeSpec.from_alpha(late, early, 0.3, "bfloat16"),
        MergeSpec((early, late), (0.7, 0.3)),
    ]
    assert len({key, *map(merge_key, others)}) == 4
    config = pair[1] / "config.json"
    config.write_text(config.read_text())  # same bytes, rewritten: a new file version
    assert merge_key(MergeSpec.from_alpha(late, early, 0.3)) != key


def test_partial_and_corrupt_entries_are_never_used(cache_env, pair):
    spec = MergeSpec.from_alpha(str(pair[0]), str(pair[1]), 0.5)
    key = merge_key(spec)
    root = merged_cache_dir()
    root.mkdir(parents=True)
    partial = root / f".{key}.partial-abc"
    shutil.copytree(pair[0], partial)  # what a killed merge leaves: wrong content, no manifest
    assert [e.complete for e in list_cache()] == [False]
    path = cached_merge(spec)
    assert not partial.exists()
    expected = merged_state_dict(spec)
    shard = path / "model.safetensors"
    shard.write_bytes(shard.read_bytes()[:-4])  # e.g. a crash of the machine before the data reached the disk
    assert cached_merge(spec) == path
    written = load_dir(path)
    assert all(torch.equal(written[n], t) for n, t in expected.items())


def test_list_and_clear(cache_env, pair):
    specs = [MergeSpec.from_alpha(str(pair[0]), str(pair[1]), a) for a in (0.2, 0.8)]
    paths = [cached_merge(s) for s in specs]
    entries = list_cache()
    assert [e.path for e in entries] == sorted(paths) and all(e.complete for e in entries)
    assert {e.manifest["weights"][0] for e in entries} == {0.2, 0.8}
    assert all(e.size_bytes > 0 for e in entries)
    with cache._key_lock(merged_cache_dir(), paths[0].name, blocking=True):  # a merge of that key is running
        removed, busy = clear_cache()
    assert [e.path for e in removed] == [paths[1]] and [e.path for e in busy] == [paths[0]]
    removed, busy = clear_cache([paths[0].name[:8]])
    assert [e.path for e in removed] == [paths[0]] and busy == []
    assert list_cache() == []


def test_cache_dir_under_a_file_is_a_clear_error(tmp_path, pair, monkeypatch):
    (tmp_path / "file").write_text("")
    monkeypatch.setenv("LM_EVAL_TTS_CACHE", str(tmp_path / "file" / "cache"))
    with pytest.raises(UserError, match=r"merge cache dir .*file/cache/merged is not writable .*LM_EVAL_TTS_CACHE"):
        cached_merge(MergeSpec.from_alpha(str(pair[0]), str(pair[1]), 0.5))


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="needs bubblewrap for a read-only bind mount")
def test_read_only_cache_dir_is_reported(cache_env, pair):
    cache_env.mkdir()
    args = ["merge", "--pretrained", pair[0], "--base", pair[1], "--alpha", "0.5"]
    cmd = ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(cache_env), str(cache_env),
           sys.executable, "-m", "lm_eval_tts.cli", *map(str, args)]
    done = subprocess.run(cmd, env=dict(os.environ, LM_EVAL_TTS_CACHE=str(cache_env)), capture_output=True, text=True)
    if "bwrap:" in done.stderr:
        pytest.skip(f"bubblewrap cannot run here: {done.stderr.strip()}")
    assert done.returncode == 2
    assert "is not writable (Read-only file system)" in done.stderr
    assert list(cache_env.iterdir()) == []


def test_disk_full_in_the_cache_leaves_no_entry(cache_env, pair, monkeypatch):
    def full(out_dir, *args, **kwargs):
        (out_dir / "model.safetensors").write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(engine, "write_shards", full)
    with pytest.raises(UserError, match="disk full"):
        cached_merge(MergeSpec.from_alpha(str(pair[0]), str(pair[1]), 0.5))
    assert list_cache() == []
    assert [p.name.endswith(".lock") for p in merged_cache_dir().iterdir()] == [True]


def test_concurrent_runs_of_one_key_both_succeed_with_one_result(cache_env, pair):
    args = ["merge", "--pretrained", pair[0], "--base", pair[1], "--alpha", "0.5"]
    procs = [cli(*args, env_cache=cache_env) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert outs[0][0] == outs[1][0]
    assert [e.complete for e in list_cache()] == [True]


@pytest.mark.slow
def test_kill_9_mid_merge_then_rerun_gives_a_complete_result(cache_env, smollm2_dir):
    """A real `lm-eval-tts merge` on the 540 MB SmolLM2 is killed while writing its shards."""
    spec = MergeSpec.from_alpha(str(smollm2_dir), str(smollm2_dir), 0.5, "bfloat16")
    key = merge_key(spec)
    proc = cli("merge", "--pretrained", smollm2_dir, "--base", smollm2_dir, "--alpha", "0.5", "--dtype", "bfloat16",
               env_cache=cache_env)
    root = cache_env / "merged"
    deadline = time.monotonic() + 120
    while not list(root.glob(f".{key}.partial-*/model.safetensors")) and time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.002)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (root / key).exists(), "the merge finished before it could be killed"
    assert [(e.key, e.complete) for e in list_cache()] == [(key, False)]

    path = cached_merge(spec)
    assert [(e.key, e.complete) for e in list_cache()] == [(key, True)]
    written, original = load_dir(path), load_dir(smollm2_dir)
    assert written.keys() == original.keys()
    assert all(torch.equal(written[n], t.to(torch.bfloat16)) for n, t in original.items())
