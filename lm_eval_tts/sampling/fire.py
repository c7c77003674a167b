"""FIRE sampling parameters and the pure math of the hot token.

FIRE (Flaming-hot Initiation with Regular Execution) draws one token of a response -- the first, or the first
of line N -- from the top-k of softmax(logits / T_hot) and every other token with the regular settings.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from lm_eval_tts.errors import UserError

_FIRE_AT = re.compile(r"^line:([1-9][0-9]*)$")


@dataclass(frozen=True)
class FireParams:
    """Where and how hot the FIRE token is. `line` is 1-based: line 1 means the first generated token."""

    temperature: float = 30.0
    top_k: int = 16
    line: int = 1

    def __post_init__(self):
        if not (isinstance(self.temperature, (int, float)) and math.isfinite(self.temperature) and self.temperature > 0):
            raise UserError(f"fire_temperature must be a number > 0 (got {self.temperature!r}); e.g. fire_temperature=30")
        if not (isinstance(self.top_k, int) and self.top_k >= 1):
            raise UserError(f"fire_top_k must be an integer >= 1 (got {self.top_k!r}); e.g. fire_top_k=16")
        if not (isinstance(self.line, int) and self.line >= 1):
            raise UserError(f"fire_at line must be >= 1 (got {self.line!r})")


def parse_fire_at(value: str | None) -> int:
    """`fire_at=line:N` -> N (1-based line of the response whose first token is hot); None/'' -> 1."""
    if value is None or str(value).strip() == "":
        return 1
    match = _FIRE_AT.match(str(value).strip())
    if not match:
        raise UserError(f"fire_at must look like 'line:N' with N >= 1 (got {value!r}); e.g. fire_at=line:2")
    return int(match.group(1))


def hot_distribution(token_ids, logprobs, temperature: float, top_k: int):
    """Top-k tokens and their FIRE probabilities softmax(logprob / T) over the k most likely tokens.

    Log-probabilities and logits differ by a per-position constant, so softmax over the top-k of logprob/T equals
    softmax over the top-k of logits/T: an engine that only returns top-k log-probabilities is enough.
    """
    token_ids = np.asarray(token_ids, dtype=np.int64)
    logprobs = np.asarray(logprobs, dtype=np.float64)
    order = np.argsort(-logprobs, kind="stable")[:top_k]
    scaled = logprobs[order] / temperature
    scaled -= scaled.max()
    probs = np.exp(scaled)
    return token_ids[order], probs / probs.sum()


def draw_hot_token(token_ids, logprobs, params: FireParams, rng: np.random.Generator) -> int:
    """One sample's hot token, drawn from `hot_distribution` with the sample's own generator."""
    ids, probs = hot_distribution(token_ids, logprobs, params.temperature, params.top_k)
    return int(rng.choice(ids, p=probs))
