"""Files that appear whole or not at all, with the user's umask."""

import os
import stat

import pytest

from lm_eval_tts.staging import write_atomic


def test_write_atomic_leaves_only_the_file_with_the_users_umask(tmp_path):
    old = os.umask(0o027)
    try:
        path = write_atomic(tmp_path / "sub" / "table.md", b"| a |\n")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"| a |\n" and os.listdir(path.parent) == ["table.md"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_write_atomic_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "table.md"
    target.write_bytes(b"old")

    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # os.write refuses a str: the failure happens after the temp file exists
    assert target.read_bytes() == b"old" and os.listdir(tmp_path) == ["table.md"]
