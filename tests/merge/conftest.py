"""Fixtures for merge tests: small synthetic checkpoints built per test."""

from __future__ import annotations

import pytest
import torch

from tests.merge.checkpoints import random_tensors, write_checkpoint


@pytest.fixture
def make_ckpt(tmp_path):
    """make_ckpt(name, seed=..., dtype=..., shards=..., tensors=..., config=...) -> checkpoint dir."""

    def make(name, seed=0, dtype=torch.float32, shards=None, tensors=None, config=None, side_files=None):
        tensors = random_tensors(seed, dtype) if tensors is None else tensors
        return write_checkpoint(tmp_path / name, tensors, config, shards, side_files)

    return make
