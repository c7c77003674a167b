"""vLLM generation engine with FIRE as a multi-pass plan over token ids.

vLLM refuses temperature > 2, so the hot token is drawn here, in Python, from the top-k raw log-probabilities
vLLM returns (softmax over top-k of logprob/T equals softmax over top-k of logits/T). Plan per batch:

  line 1 (default)  pass 1: each prompt once, max_tokens=1, logprobs=k -> n independent hot draws;
                    pass 2: prompt + hot token, grouped by token (one request with n=count per distinct token).
  line N > 1        pass 0: regular sampling of the n samples; each is cut right after its (N-1)-th newline;
                    pass 1: prompt + prefix, max_tokens=1, logprobs=k -> one hot draw per sample;
                    pass 2: prompt + prefix + hot token, regular sampling for the remaining budget.

Prefix caching is on, so repeated prompt prefixes across passes are not recomputed. Every vLLM request carries
a seed derived from the GenRequest seed, so the same seed gives the same samples in any batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from lm_eval_tts.engines.base import GenRequest, Generation, SamplingSettings, derive_seed, truncate_at_stop
from lm_eval_tts.engines.vllm_config import start_llm
from lm_eval_tts.engines.weight_swap import WORKER_EXTENSION
from lm_eval_tts.sampling.fire import FireParams, draw_hot_tokens


@dataclass
class _Sample:
    """One of the n samples of a request while the plan runs."""

    prefix: list[int] = field(default_factory=list)  # tokens before the hot token (line N > 1)
    prefix_logprobs: list[float] = field(default_factory=list)
    hot: int | None = None
    hot_logprob: float | None = None
    tail: list[int] = field(default_factory=list)  # tokens after the hot token
    tail_logprobs: list[float] = field(default_factory=list)
    done: bool = False  # finished before reaching its hot position (no hot token)


def _sampled_logprobs(completion) -> list[float]:
    """Log-probability of each sampled token (requested with logprobs=0: the dict holds the sampled token)."""
    if completion.logprobs is None:
        return [float("nan")] * len(completion.token_ids)
    return [step[tok].logprob for tok, step in zip(completion.token_ids, completion.logprobs)]


class VLLMEngine:
    """Owns one `vllm.LLM`; `generate` implements the Engine protocol of engines/base.py."""

    def __init__(self, model: str, tokenizer, *, seed: int = 0, engine_kwargs: dict | None = None,
                 fire_top_k: int = 0, progress: bool = True):
        kwargs = dict(engine_kwargs or {})
        kwargs.setdefault("enable_prefix_caching", True)
        kwargs["max_logprobs"] = max(int(kwargs.get("max_logprobs") or 20), fire_top_k)
        kwargs.setdefault("tokenizer", model)
        kwargs.setdefault("worker_extension_cls", WORKER_EXTENSION)  # in-place weight swaps (sweeps)
        self.tokenizer = tokenizer
        self.progress = progress
        self.llm = start_llm(str(model), seed=seed, **kwargs)
        self._newlines: np.ndarray | None = None

    # ------------------------------------------------------------------ public
    def generate(self, requests: Sequence[GenRequest], fire: FireParams | None) -> list[list[Generation]]:
        if fire is None:
            return self._regular(requests)
        samples = [[_Sample() for _ in range(r.n)] for r in requests]
        if fire.line > 1:
            self._sample_until_line(requests, samples, fire.line)
        self._draw_hot(requests, samples, fire)
        self._continue_after_hot(requests, samples)
        return [[self._finish(r, s) for s in group] for r, group in zip(requests, samples)]

    def close(self) -> None:
        """Stop vLLM's engine-core process now (a spawned replica exits with os._exit, skipping vLLM's finalizers)."""
        self.llm.llm_engine.engine_core.shutdown()

    def swap_weights(self, spec) -> None:
        """Load the merge `spec` into the live engine (all workers), for sweeps without restarts."""
        from lm_eval_tts.engines.weight_swap import swap_weights

        swap_weights(self.llm, spec)

    # ------------------------------------------------------------------ passes
    def _run(self, prompts: list[list[int]], params: list) -> list:
        from vllm.inputs import TokensPrompt

        if not prompts:
            return []
        return self.llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params,
                                 use_tqdm=self.progress)

    def _params(self, settings: SamplingSettings, *, n: int, max_tokens: int, seed: int, logprobs: int = 0,
                regular: bool = True):
        from vllm import SamplingParams

        if regular and settings.temperature == 0:
            n = 1  # vLLM refuses n > 1 for greedy; _completions() repeats the one greedy answer
        kwargs = dict(n=n, max_tokens=max_tokens, seed=seed, logprobs=logprobs, detokenize=False)
        if regular:
            kwargs.update(temperature=settings.temperature, top_p=settings.top_p,
                          top_k=settings.top_k if settings.top_k > 0 else -1, min_p=settings.min_p)
            if settings.stop:
                kwargs.update(stop=list(settings.stop), detokenize=True)
        return SamplingParams(**kwargs)

    def _regular(self, requests: Sequence[GenRequest]) -> list[list[Generation]]:
        outputs = self._run([list(r.prompt_ids) for r in requests],
                            [self._params(r.settings, n=r.n, max_tokens=r.settings.max_new_tokens,
                                          seed=derive_seed(r.seed, "regular")) for r in requests])
        results = []
        for request, output in zip(requests, outputs):
            results.append([
                self._finish(request, _Sample(tail=list(c.token_ids), tail_logprobs=_sampled_logprobs(c)))
                for c in _completions(output, request.n)
            ])
        return results

    def _sample_until_line(self, requests, samples, line: int) -> None:
        """Pass 0 (line N > 1): regular samples, each cut right after its (N-1)-th newline."""
        outputs = self._run([list(r.prompt_ids) for r in requests],
                            [self._params(r.settings, n=r.n, max_tokens=r.settings.max_new_tokens,
                                          seed=derive_seed(r.seed, "prefix")) for r in requests])
        newlines = self._newline_counts()
        for request, output, group in zip(requests, outputs, samples):
            for sample, completion in zip(group, _completions(output, request.n)):
                ids, logprobs = list(completion.token_ids), _sampled_logprobs(completion)
                cut = _line_start(ids, newlines, line)
                visible = truncate_at_stop(self._decode(ids[:cut]), request.settings.stop) if cut else ""
                reached = cut is not None and visible.count("\n") >= line - 1 and cut < request.settings.max_new_tokens
                if reached:
                    sample.prefix, sample.prefix_logprobs = ids[:cut], logprobs[:cut]
                else:
                    sample.prefix, sample.prefix_logprobs, sample.done = ids, logprobs, True

    def _draw_hot(self, requests, samples, fire: FireParams) -> None:
        """Pass 1: top-k raw log-probabilities at each hot position, then independent hot draws in Python."""
        points = []  # (request index, sample indices sharing this prefix)
        for i, group in enumerate(samples):
            pending = [j for j, s in enumerate(group) if not s.done]
            if fire.line == 1:
                points.extend([(i, pending)] if pending else [])
            else:
                points.extend((i, [j]) for j in pending)
        outputs = self._run(
            [list(requests[i].prompt_ids) + samples[i][js[0]].prefix for i, js in points],
            [self._params(requests[i].settings, n=1, max_tokens=1, logprobs=fire.top_k,
                          seed=derive_seed(requests[i].seed, "probe", js[0]), regular=False) for i, js in points],
        )
        for (i, js), output in zip(points, outputs):
            top = output.outputs[0].logprobs[0]
            ids = list(top.keys())
            values = [top[t].logprob for t in ids]
            rng = np.random.default_rng(derive_seed(requests[i].seed, "hot", js[0]))
            for j, token in zip(js, draw_hot_tokens(ids, values, fire, len(js), rng)):
                samples[i][j].hot, samples[i][j].hot_logprob = token, top[token].logprob

    def _continue_after_hot(self, requests, samples) -> None:
        """Pass 2: regular sampling after the hot token; samples with the same prefix+token share one request."""
        eos = set(_eos_ids(self.tokenizer))
        groups: dict[tuple, list[tuple[int, int]]] = {}
        for i, group in enumerate(samples):
            for j, s in enumerate(group):
                budget = requests[i].settings.max_new_tokens - len(s.prefix) - 1
                if s.done or s.hot in eos or budget <= 0:
                    continue
                text = self._decode(s.prefix + [s.hot])
                if truncate_at_stop(text, requests[i].settings.stop) != text:
                    continue  # the hot token already completed a stop string
                groups.setdefault((i, tuple(s.prefix), s.hot), []).append((i, j))
        keys = list(groups)
        outputs = self._run(
            [list(requests[i].prompt_ids) + list(prefix) + [hot] for i, prefix, hot in keys],
            [self._params(requests[i].settings, n=len(groups[(i, prefix, hot)]),
                          max_tokens=requests[i].settings.max_new_tokens - len(prefix) - 1,
                          seed=derive_seed(requests[i].seed, "tail", prefix, hot)) for i, prefix, hot in keys],
        )
        for key, output in zip(keys, outputs):
            for (i, j), completion in zip(groups[key], _completions(output, len(groups[key]))):
                samples[i][j].tail = list(completion.token_ids)
                samples[i][j].tail_logprobs = _sampled_logprobs(completion)

    # ------------------------------------------------------------------ helpers
    def _finish(self, request: GenRequest, s: _Sample) -> Generation:
        ids = s.prefix + ([s.hot] if s.hot is not None else []) + s.tail
        logprobs = s.prefix_logprobs + ([s.hot_logprob] if s.hot is not None else []) + s.tail_logprobs
        text = truncate_at_stop(self._decode(ids), request.settings.stop)
        mean = float(np.mean(logprobs)) if logprobs else None
        return Generation(text, token_ids=ids, mean_logprob=mean, hot_token_id=s.hot)

    def _decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def _newline_counts(self) -> np.ndarray:
        """Newline characters in each vocabulary token (computed once; newlines are single bytes)."""
        if self._newlines is None:
            vocab = len(self.tokenizer)
            self._newlines = np.array(
                [self.tokenizer.decode([t]).count("\n") for t in range(vocab)], dtype=np.int32)
        return self._newlines


def _completions(output, n: int) -> list:
    """The n completions of a request; a greedy request was sent with n=1 and its answer stands for all n."""
    completions = list(output.outputs)
    return completions if len(completions) == n else completions * n


def _line_start(ids: list[int], newline_counts: np.ndarray, line: int) -> int | None:
    """Number of tokens up to the first token boundary at or after the start of line `line`, None if never."""
    seen = 0
    for position, token in enumerate(ids):
        seen += int(newline_counts[token]) if token < len(newline_counts) else 0
        if seen >= line - 1:
            return position + 1
    return None


def _eos_ids(tokenizer) -> list[int]:
    ids = tokenizer.eos_token_id
    return [ids] if isinstance(ids, int) else list(ids or [])
