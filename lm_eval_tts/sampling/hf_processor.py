"""FIRE for transformers: one LogitsProcessor that makes every sampling decision itself, row by row.

Why the processor samples instead of only warping: transformers' generate() appends its own temperature/top-k/
top-p warpers after custom processors and samples all rows from the global torch RNG. The first would distort the
hot distribution, the second would tie each sample to the batch it happened to land in. So `FireSampler` warps
each row (hot or regular), draws the token with that row's own `torch.Generator` and returns the point mass on it
(0 for the drawn token, -inf elsewhere). Run generate() greedily (do_sample=False) with no other processors: its
argmax then just reads the processor's choice, and a row's tokens depend only on its logits and its generator.

One uniform number is drawn per row and step, hot or not. A row therefore consumes its random stream exactly as
regular sampling would: with `fire_at=line:N` everything before the hot token is what the same seed gives without
FIRE. Where line N starts is `lm_eval_tts.sampling.lines`' rule, followed incrementally per row.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from transformers import LogitsProcessor

from lm_eval_tts.engines.base import SamplingSettings
from lm_eval_tts.sampling.fire import FireParams, hot_distribution
from lm_eval_tts.sampling.lines import HotPosition

NOT_HOT = -1


def regular_log_weights(logits: torch.Tensor, settings: SamplingSettings) -> torch.Tensor:
    """Logits after the regular warpers, in vLLM's order (vllm/v1/sample/sampler.py): temperature, then min_p
    (p >= min_p * max(p)), then top-k, then top-p on what is left (the smallest set of most likely tokens whose mass
    reaches top_p, always at least one). transformers runs min_p last; the two differ when top_p < 1 and min_p > 0.

    Removed tokens get -inf; the rest are unnormalised log-probabilities. Needs settings.temperature > 0.
    """
    x = logits / settings.temperature
    vocab = x.shape[-1]
    if settings.min_p > 0.0:
        probs = torch.softmax(x, dim=-1)
        x = x.masked_fill(probs < settings.min_p * probs.max(dim=-1, keepdim=True).values, -math.inf)
    if 0 < settings.top_k < vocab:
        kth = torch.topk(x, settings.top_k, dim=-1).values[..., -1:]
        x = x.masked_fill(x < kth, -math.inf)
    if settings.top_p < 1.0:
        sorted_x, order = torch.sort(x, dim=-1, descending=True)
        probs = torch.softmax(sorted_x, dim=-1)
        mass_before = torch.cumsum(probs, dim=-1) - probs
        drop_sorted = mass_before >= settings.top_p
        drop_sorted[..., 0] = False
        x = x.masked_fill(torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted), -math.inf)
    return x


def draw_from_weights(log_weights: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
    """Inverse-CDF draw per row: the first token whose cumulative probability exceeds that row's uniform in [0, 1).

    Tokens with probability 0 are never drawn. The cumulative sum runs in float64 so that it stays exact enough over
    a large vocabulary; the weights themselves stay in the logits' precision (one pass fewer than a softmax).
    """
    weights = torch.exp(log_weights - log_weights.max(dim=-1, keepdim=True).values)
    cdf = torch.cumsum(weights, dim=-1, dtype=torch.float64)
    targets = (uniforms.to(torch.float64) * cdf[..., -1]).unsqueeze(-1)
    picked = torch.searchsorted(cdf, targets, right=True).squeeze(-1)
    return picked.clamp_(max=log_weights.shape[-1] - 1)


def draw_hot_token(logits: torch.Tensor, fire: FireParams, uniform: float) -> int:
    """One FIRE draw for one row: top-k of softmax(logits / T_hot), via the shared math in sampling/fire.py."""
    k = min(fire.top_k, logits.shape[-1])
    top = torch.topk(logits.to(torch.float64), k)
    ids, probs = hot_distribution(top.indices.cpu().numpy(), top.values.cpu().numpy(), fire.temperature, k)
    position = draw_from_weights(torch.log(torch.from_numpy(probs)), torch.tensor(uniform, dtype=torch.float64))
    return int(ids[int(position)])


class FireSampler(LogitsProcessor):
    """Samples one batch of rows (all with the same regular settings), each from its own torch.Generator.

    Use with generate(do_sample=False) and no other logits processors (see the module docstring). After
    generation: `hot_steps[r]` is the 0-based generated position of row r's hot token (NOT_HOT if none was drawn),
    `token_logprobs()[r, t]` the log-softmax of the raw logits at the token drawn for row r at step t.
    """

    def __init__(
        self,
        settings: SamplingSettings,
        fire: FireParams | None,
        generators: Sequence[torch.Generator],
        prompt_length: int,
        newline_table: Sequence[int] | None = None,
    ):
        self.settings = settings
        self.fire = fire
        self.generators = list(generators)
        self.prompt_length = prompt_length
        self._lines = [HotPosition(fire.line, newline_table) for _ in self.generators] if fire is not None else []
        self.hot_steps = torch.full((len(self.generators),), NOT_HOT, dtype=torch.long)
        self._logprobs: list[torch.Tensor] = []

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        step = input_ids.shape[1] - self.prompt_length
        uniforms = torch.stack(
            [torch.rand((), generator=g, dtype=torch.float64, device=g.device) for g in self.generators]
        )
        if self.settings.temperature == 0:
            chosen = scores.argmax(dim=-1)
        else:
            chosen = draw_from_weights(regular_log_weights(scores, self.settings), uniforms.to(scores.device))
        for row in self._rows_turning_hot(input_ids, step):
            chosen[row] = draw_hot_token(scores[row], self.fire, float(uniforms[row]))
            self.hot_steps[row] = step
        chosen_logits = scores.gather(-1, chosen.unsqueeze(-1)).squeeze(-1)
        self._logprobs.append((chosen_logits - torch.logsumexp(scores, dim=-1)).cpu())
        point_mass = torch.full_like(scores, -math.inf)
        return point_mass.scatter_(-1, chosen.unsqueeze(-1), 0.0)

    def _rows_turning_hot(self, input_ids: torch.LongTensor, step: int) -> list[int]:
        if self.fire is None:
            return []
        if step > 0:  # one table lookup per row for the token generated last step
            for lines, token in zip(self._lines, input_ids[:, -1].tolist()):
                lines.feed(token)
        return [row for row, lines in enumerate(self._lines) if lines.position == step]

    def token_logprobs(self) -> torch.Tensor:
        """(rows, steps) log-probabilities of the drawn tokens under the raw model distribution."""
        if not self._logprobs:
            return torch.zeros((len(self.generators), 0))
        return torch.stack(self._logprobs, dim=1)
