"""FIRE for vLLM: a logits processor that draws the hot token itself, inside vLLM's own batched sampler.

Where it runs (vLLM's V1 model runner, `vllm/v1/sample/sampler.py`): a processor that is not argmax-invariant sees
the raw float32 logits after the allowed-token and bad-word masks and vLLM's built-in min_tokens / logit_bias
processors, and before penalties, temperature, min_p, top-k and top-p. On a row at its hot position this processor
draws the hot token from the top-k of softmax(logits / T_hot) and returns the point mass on it (0 there, -inf elsewhere). Every later stage keeps a point
mass a point mass (penalties shift or scale the one finite value, temperature divides it, min_p / top-k / top-p
keep the most likely token, greedy rows take the argmax), so the hot distribution is exact whatever the regular
settings are, and vLLM then samples that token. Rows that are not hot are left untouched.

Random streams: the hot draw is seeded from (request seed, output position), so it depends neither on the batch
nor on how often vLLM runs a step for the row (a chunked prefill samples and discards). vLLM's own per-request
generator still advances on the hot row as on any other, so the tokens before the hot position are exactly what
regular sampling gives with the same seed. vLLM gives the children of an n > 1 request the seeds seed+0 ..
seed+n-1 (`ParentRequest`), hence n independent hot draws from one request.

Per-step cost: requests without FIRE are never looked at; a FIRE row waiting for line N costs one table lookup
per new token (`HotPosition`); a row past its hot position is dropped. Only hot rows touch the logits.

A preempted request comes back through `update_state` with the tokens it had: one past its hot position is
dropped, one before it catches up, and a redone step redraws the same token. vLLM refuses custom processors with
speculative decoding.

A request opts in with `SamplingParams(extra_args=fire_extra_args(fire))`; the engine is built with
`logits_processors=[FireLogitsProcessor]`. mean log-probabilities stay raw: vLLM's default `raw_logprobs` are
computed before any processor runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates

from lm_eval_tts.sampling.fire import FireParams, draw_hot_token
from lm_eval_tts.sampling.lines import HotPosition, newlines_per_token

FIRE_ARG = "lm_eval_tts_fire"
_STREAM = 0x46495245  # "FIRE": keeps the hot draw's stream apart from any other use of the request seed


def fire_extra_args(fire: FireParams) -> dict:
    """`SamplingParams.extra_args` that switch FIRE on for one request (and its n children)."""
    return {FIRE_ARG: {"temperature": float(fire.temperature), "top_k": int(fire.top_k), "line": int(fire.line)}}


def _fire_params(params) -> FireParams | None:
    args = (params.extra_args or {}).get(FIRE_ARG)
    if args is None:
        return None
    return FireParams(temperature=args.get("temperature"), top_k=args.get("top_k"), line=args.get("line"))


def hot_generator(seed: int | None, position: int) -> np.random.Generator:
    """The stream of the hot draw at output `position` of a request seeded with `seed` (fresh entropy if None)."""
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng([seed % 2**64, position, _STREAM])


@dataclass
class _Row:
    fire: FireParams
    seed: int | None
    output_ids: list[int]  # vLLM's live list of the request's generated tokens
    hot: HotPosition


class FireLogitsProcessor(LogitsProcessor):
    """vLLM V1 logits processor for FIRE (see the module docstring)."""

    @classmethod
    def validate_params(cls, sampling_params) -> None:
        _fire_params(sampling_params)  # raises UserError (a ValueError): vLLM rejects the request with its message

    def __init__(self, vllm_config, device: torch.device, is_pin_memory: bool):
        self._model_config = vllm_config.model_config
        self._rows: dict[int, _Row] = {}  # persistent-batch index -> FIRE row not yet past its hot position
        self._newline_table: list[int] | None = None

    def is_argmax_invariant(self) -> bool:
        """False: the point mass decides greedy rows too, so vLLM must run it before its argmax and its warpers."""
        return False

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self._rows, batch_update, self._new_row)

    def _new_row(self, params, prompt_ids, output_ids: list[int]) -> _Row | None:
        fire = _fire_params(params)
        if fire is None:
            return None
        table = self._newlines() if fire.line > 1 else None
        return _Row(fire, params.seed, output_ids, HotPosition(fire.line, table))

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        if not self._rows:
            return logits
        hot = []
        for index, row in list(self._rows.items()):
            position = row.hot.catch_up(row.output_ids)
            if position is None:
                continue
            produced = len(row.output_ids)
            if produced == position:
                hot.append(index)
            elif produced > position:
                del self._rows[index]  # past its hot token (also after a preemption brought it back)
        if hot:
            self._point_mass_on_hot_draws(logits, hot)
        return logits

    def _point_mass_on_hot_draws(self, logits: torch.Tensor, hot: list[int]) -> None:
        rows = [self._rows[i] for i in hot]
        k = min(max(row.fire.top_k for row in rows), logits.shape[-1])
        index = torch.tensor(hot, dtype=torch.long, device=logits.device)
        top = torch.topk(logits.index_select(0, index), k, dim=-1)
        values, ids = top.values.cpu().numpy(), top.indices.cpu().numpy()
        tokens = [
            draw_hot_token(ids[j], values[j], row.fire, hot_generator(row.seed, len(row.output_ids)))
            for j, row in enumerate(rows)
        ]
        logits.index_fill_(0, index, -math.inf)
        logits[index, torch.tensor(tokens, dtype=torch.long, device=logits.device)] = 0.0

    def _newlines(self) -> list[int]:
        """Newlines per token id of the served tokenizer, built at the first line:N request."""
        if self._newline_table is None:
            from vllm.tokenizers import cached_tokenizer_from_config

            tokenizer = cached_tokenizer_from_config(self._model_config)
            self._newline_table = newlines_per_token(tokenizer, self._model_config.get_vocab_size())
        return self._newline_table
