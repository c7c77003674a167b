"""vLLM generation engine: regular sampling and FIRE in one pass, n samples of a prompt in one vLLM request.

FIRE is a logits processor inside vLLM's sampler (`lm_eval_tts.sampling.vllm_processor`): a request opts in through
`SamplingParams.extra_args`, and at its hot position (output position 0 for line 1, the first token after the
(N-1)-th newline for line N) the processor draws the hot token from the top-k of softmax(logits / T_hot); every
other token is sampled by vLLM with the regular settings. Prefix caching is on. Every vLLM request carries a seed
derived from the GenRequest seed, so the same seed gives the same samples in any batch.

The processor implements the logits-processor interface of vLLM's V1 model runner; vLLM's Model Runner V2 (its
default on CUDA with Triton) has another one, so an engine built for FIRE selects the V1 runner, said once in the
log. vLLM refuses n > 1 for greedy sampling: a greedy regular request runs once and its answer stands for all n;
a greedy FIRE request runs as n requests with the seeds vLLM would give n children.
"""

from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np

from lm_eval_tts.engines.base import (
    GenRequest,
    Generation,
    SamplingSettings,
    derive_seed,
    end_token_ids,
    fit_prompts,
    truncate_at_stop,
)
from lm_eval_tts.engines.vllm_config import start_llm
from lm_eval_tts.engines.weight_swap import WORKER_EXTENSION
from lm_eval_tts.errors import UserError
from lm_eval_tts.sampling.fire import FireParams
from lm_eval_tts.sampling.lines import hot_index, newlines_per_token

log = logging.getLogger(__name__)

FIRE_PROCESSOR = "lm_eval_tts.sampling.vllm_processor:FireLogitsProcessor"
_RUNNER_ENV = "VLLM_USE_V2_MODEL_RUNNER"


class VLLMEngine:
    """Owns one `vllm.LLM`; `generate` implements the Engine protocol of engines/base.py.

    fire_top_k > 0 builds the engine for FIRE (installs the FIRE logits processor); the FIRE parameters themselves
    come with each `generate` call. The end tokens are the tokenizer's EOS plus the checkpoint's generation_config
    EOS ids (`end_token_ids`), as on the transformers engine.
    """

    def __init__(self, model: str, tokenizer, *, seed: int = 0, engine_kwargs: dict | None = None,
                 fire_top_k: int = 0, progress: bool = True):
        kwargs = dict(engine_kwargs or {})
        kwargs.setdefault("enable_prefix_caching", True)
        kwargs.setdefault("tokenizer", model)
        kwargs.setdefault("worker_extension_cls", WORKER_EXTENSION)  # in-place weight swaps (sweeps)
        self.fire_enabled = fire_top_k > 0
        if self.fire_enabled:
            _select_v1_model_runner()
            kwargs["logits_processors"] = [*(kwargs.get("logits_processors") or []), FIRE_PROCESSOR]
        self.tokenizer = tokenizer
        self.progress = progress
        self.end_ids = end_token_ids(tokenizer, _generation_config(model))
        self.llm = start_llm(str(model), seed=seed, **kwargs)
        self.max_model_len: int = self.llm.llm_engine.model_config.max_model_len
        self._newline_table: list[int] | None = None

    def generate(self, requests: Sequence[GenRequest], fire: FireParams | None) -> list[list[Generation]]:
        if fire is not None and not self.fire_enabled:
            raise ValueError("this VLLMEngine was built without FIRE: construct it with fire_top_k > 0")
        requests = fit_prompts(requests, self.max_model_len)
        prompts, params, spans = [], [], []
        for request in requests:
            first = len(params)
            for seed, n in _vllm_requests(request, fire):
                prompts.append(list(request.prompt_ids))
                params.append(self._params(request.settings, n=n, seed=seed, fire=fire))
            spans.append((first, len(params)))
        outputs = self._run(prompts, params)
        table = self._newlines() if fire is not None and fire.line > 1 else None
        results = []
        for request, (first, last) in zip(requests, spans):
            completions = [c for output in outputs[first:last] for c in output.outputs]
            if len(completions) < request.n:  # greedy regular: the one answer stands for all n
                completions = completions * request.n
            results.append([self._finish(request, c, fire, table) for c in completions])
        return results

    def close(self) -> None:
        """Stop vLLM's engine-core process now (a spawned replica exits with os._exit, skipping vLLM's finalizers)."""
        self.llm.llm_engine.engine_core.shutdown()

    def swap_weights(self, spec) -> None:
        """Load the merge `spec` into the live engine (all workers), for sweeps without restarts."""
        from lm_eval_tts.engines.weight_swap import swap_weights

        swap_weights(self.llm, spec)

    def _run(self, prompts: list[list[int]], params: list) -> list:
        from vllm.inputs import TokensPrompt

        if not prompts:
            return []
        return self.llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params,
                                 use_tqdm=self.progress)

    def _params(self, settings: SamplingSettings, *, n: int, seed: int, fire: FireParams | None):
        from vllm import SamplingParams

        kwargs = dict(n=n, max_tokens=settings.max_new_tokens, seed=seed, logprobs=0, detokenize=bool(settings.stop),
                      temperature=settings.temperature, top_p=settings.top_p,
                      top_k=settings.top_k if settings.top_k > 0 else -1, min_p=settings.min_p,
                      stop=list(settings.stop) or None, stop_token_ids=sorted(self.end_ids))
        if fire is not None:
            from lm_eval_tts.sampling.vllm_processor import fire_extra_args

            kwargs["extra_args"] = fire_extra_args(fire)
        return SamplingParams(**kwargs)

    def _finish(self, request: GenRequest, completion, fire: FireParams | None, table) -> Generation:
        ids = list(completion.token_ids)
        logprobs = _sampled_logprobs(completion)
        text = truncate_at_stop(self.tokenizer.decode(ids, skip_special_tokens=True), request.settings.stop)
        hot = hot_index(ids, table, fire.line) if fire is not None else None
        return Generation(text, token_ids=ids, mean_logprob=float(np.mean(logprobs)) if logprobs else None,
                          hot_token_id=ids[hot] if hot is not None else None)

    def _newlines(self) -> list[int]:
        if self._newline_table is None:
            vocab = self.llm.llm_engine.model_config.get_vocab_size()
            self._newline_table = newlines_per_token(self.tokenizer, vocab)
        return self._newline_table


def _vllm_requests(request: GenRequest, fire: FireParams | None) -> list[tuple[int, int]]:
    """(seed, n) of the vLLM requests that make up one GenRequest: one request with n children, except greedy."""
    seed = derive_seed(request.seed, "vllm")
    if request.settings.temperature > 0:
        return [(seed, request.n)]
    if fire is None:
        return [(seed, 1)]
    return [(seed + j, 1) for j in range(request.n)]  # the seeds vLLM gives the n children of a request


def _sampled_logprobs(completion) -> list[float]:
    """Raw log-probability of each sampled token (requested with logprobs=0: the dict holds the sampled token)."""
    if completion.logprobs is None:
        return [float("nan")] * len(completion.token_ids)
    return [step[tok].logprob for tok, step in zip(completion.token_ids, completion.logprobs)]


def _generation_config(model: str):
    """The checkpoint's generation_config.json (None if it has none), for its EOS ids."""
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(str(model))
    except OSError:
        return None


def _select_v1_model_runner() -> None:
    """The FIRE processor implements the V1 model runner's logits-processor interface: select that runner (where
    vLLM would pick Model Runner V2, i.e. CUDA with Triton) unless the user chose V2 explicitly."""
    chosen = os.environ.get(_RUNNER_ENV)
    if chosen is None:
        os.environ[_RUNNER_ENV] = "0"
        log.info("FIRE on vLLM runs as a logits processor of vLLM's V1 model runner: set %s=0", _RUNNER_ENV)
    elif chosen.strip().lower() in ("1", "true"):
        raise UserError(f"FIRE on vLLM needs vLLM's V1 model runner, but {_RUNNER_ENV}={chosen}: unset it or set it "
                        "to 0 (or use backend=hf)")
