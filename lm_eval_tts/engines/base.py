"""What every generation engine takes and returns: token-id prompts in, n texts with their metadata out."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol, Sequence

from lm_eval_tts.sampling.fire import FireParams


@dataclass(frozen=True)
class SamplingSettings:
    """The regular sampling settings (lm-eval gen_kwargs after normalisation). temperature 0 means greedy."""

    max_new_tokens: int = 256
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0  # 0 = off
    min_p: float = 0.0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class GenRequest:
    """n samples of one prompt. `seed` makes the n samples reproducible on the same engine."""

    prompt_ids: tuple[int, ...]
    n: int
    settings: SamplingSettings
    seed: int


class Generation(str):
    """A response text that carries what metrics need beyond the text (lm-eval passes it through as a str).

    token_ids: generated token ids (after stop truncation); mean_logprob: mean log-probability of those tokens
    under the generating model's raw distribution (best@k by self-confidence needs no second forward pass);
    hot_token_id: the FIRE token (None without FIRE, or when the response ended before line N).
    """

    token_ids: tuple[int, ...]
    mean_logprob: float | None
    hot_token_id: int | None

    def __new__(cls, text: str, token_ids=(), mean_logprob=None, hot_token_id=None):
        self = super().__new__(cls, text)
        self.token_ids = tuple(token_ids)
        self.mean_logprob = mean_logprob
        self.hot_token_id = hot_token_id
        return self

    def __reduce__(self):
        return (Generation, (str(self), self.token_ids, self.mean_logprob, self.hot_token_id))


def truncate_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut at the earliest stop string (lm-eval's `until`), wherever it starts, excluding the stop itself."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


def derive_seed(*parts) -> int:
    """A stable 31-bit seed from printable parts (Python's hash() is salted per process, so it can't be used)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


class Engine(Protocol):
    def generate(self, requests: Sequence[GenRequest], fire: FireParams | None) -> list[list[Generation]]:
        """For each request, its n Generations in sample order."""
        ...
