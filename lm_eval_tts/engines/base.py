"""What every generation engine takes and returns (token-id prompts in, n texts with their metadata out), and the
rules every engine applies the same way: end tokens, prompt truncation, seeds."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from dataclasses import dataclass
from typing import Protocol, Sequence

from lm_eval_tts.errors import UserError
from lm_eval_tts.sampling.fire import FireParams

log = logging.getLogger(__name__)


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


def end_token_ids(tokenizer, generation_config=None) -> frozenset[int]:
    """The ids that end a response on every engine: the tokenizer's EOS plus the checkpoint's generation_config
    eos_token_id(s) (chat models often end turns with another token there, e.g. <|eot_id|> or <|im_end|>)."""
    configured = getattr(generation_config, "eos_token_id", None)
    ids = list(configured) if isinstance(configured, (list, tuple)) else [configured]
    ids.append(tokenizer.eos_token_id)
    return frozenset(int(i) for i in ids if i is not None)


def fit_prompts(requests: Sequence[GenRequest], max_model_len: int | None) -> list[GenRequest]:
    """Keep each prompt's last max_model_len - max_new_tokens tokens (left truncation, as lm-eval's own models do),
    with one warning per call instead of an engine error that would abort the run."""
    if max_model_len is None:
        return list(requests)
    fitted, truncated = [], 0
    for request in requests:
        room = max_model_len - request.settings.max_new_tokens
        if room < 1:
            raise UserError(f"max_gen_toks={request.settings.max_new_tokens} leaves no room for a prompt within "
                            f"max_model_len={max_model_len}: lower max_gen_toks or raise max_model_len")
        if len(request.prompt_ids) > room:
            request = dataclasses.replace(request, prompt_ids=request.prompt_ids[-room:])
            truncated += 1
        fitted.append(request)
    if truncated:
        log.warning("%d of %d prompts do not fit max_model_len=%d with their max_gen_toks: kept their last tokens "
                    "(left truncation, as lm-eval's models do)", truncated, len(fitted), max_model_len)
    return fitted


def derive_seed(*parts) -> int:
    """A stable 31-bit seed from printable parts (Python's hash() is salted per process, so it can't be used)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


class Engine(Protocol):
    def generate(self, requests: Sequence[GenRequest], fire: FireParams | None) -> list[list[Generation]]:
        """For each request, its n Generations in sample order."""
        ...
