"""The transformers engine: batched generate() with FIRE, for users without vLLM (CPU).

Rows (one per sample of a request) with the same SamplingSettings share batches; each batch is left-padded and
sorted longest-first, and every row samples from its own generator seeded by (request seed, sample index), so a
sample does not depend on which other rows share its batch (up to float rounding in batched matmuls).
"""

from __future__ import annotations

import contextlib
import os
from collections import defaultdict
from typing import Iterator, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LogitsProcessorList,
    StoppingCriteria,
    StoppingCriteriaList,
)

from lm_eval_tts.engines.base import (
    Generation,
    GenRequest,
    SamplingSettings,
    end_token_ids,
    fit_prompts,
    truncate_at_stop,
)
from lm_eval_tts.dtypes import torch_dtype
from lm_eval_tts.errors import UserError
from lm_eval_tts.sampling.fire import FireParams
from lm_eval_tts.sampling.hf_processor import NOT_HOT, FireSampler
from lm_eval_tts.sampling.lines import newlines_per_token


def sample_generator(seed: int, sample_index: int, device: str | torch.device = "cpu") -> torch.Generator:
    """The random stream of sample `sample_index` of a request seeded with `seed` (independent across both)."""
    state = np.random.SeedSequence([seed % 2**64, sample_index]).generate_state(2, dtype=np.uint32)
    generator = torch.Generator(device=device)
    generator.manual_seed((int(state[0]) << 31) ^ int(state[1]))
    return generator


class ResponseEnd(StoppingCriteria):
    """Finds each row's last token: an EOS token, or the token after which the text contains a stop string."""

    def __init__(self, tokenizer, stop: Sequence[str], eos_ids: frozenset[int], prompt_length: int, rows: int):
        self.tokenizer = tokenizer
        self.stop = [s for s in stop if s]
        self.eos_ids = eos_ids
        self.prompt_length = prompt_length
        self.end_steps: list[int | None] = [None] * rows

    def __call__(self, input_ids: torch.LongTensor, scores, **kwargs) -> torch.BoolTensor:
        step = input_ids.shape[1] - self.prompt_length - 1
        for row, end in enumerate(self.end_steps):
            if end is None and self._ends_here(input_ids[row, self.prompt_length :]):
                self.end_steps[row] = step
        return torch.tensor([end is not None for end in self.end_steps], device=input_ids.device)

    def _ends_here(self, generated: torch.Tensor) -> bool:
        if int(generated[-1]) in self.eos_ids:
            return True
        if not self.stop:
            return False
        text = self.tokenizer.decode(generated, skip_special_tokens=True)
        return any(s in text for s in self.stop)

    def response_length(self, row: int, generated_length: int) -> int:
        end = self.end_steps[row]
        return generated_length if end is None else min(end + 1, generated_length)


@contextlib.contextmanager
def _neutral_generation_config(model):
    """generate() fills unset options from model.generation_config (repetition_penalty, top_k, ...). Hide it so the
    FireSampler is the only thing that shapes the distribution."""
    saved = model.generation_config
    model.generation_config = GenerationConfig()
    try:
        yield
    finally:
        model.generation_config = saved


class HFEngine:
    """Generate n samples per request with transformers, regular or FIRE (engines/base.py's Engine protocol).

    model_or_path: a checkpoint dir / hub id (loaded with AutoModelForCausalLM) or a built nn.Module (e.g. an
    in-memory merged model; it is moved to `device` and cast to `dtype` in place, dtype="auto" keeps its dtype).
    tokenizer: a tokenizer, a path, or None to load it from model_or_path. dtype: float32 | bfloat16 | float16 |
    auto. batch_size: rows (samples) per generate() call. max_model_len: prompt + new tokens per row (longer prompts
    are left-truncated); default the model's max_position_embeddings. The checkpoint's generation_config.json only
    contributes its eos_token_id(s) (`end_token_ids`); every sampling option comes from the requests.
    """

    def __init__(
        self,
        model_or_path,
        tokenizer=None,
        *,
        dtype: str = "float32",
        device: str = "cpu",
        batch_size: int = 16,
        max_model_len: int | None = None,
        progress: bool = True,
    ):
        if not (isinstance(batch_size, int) and batch_size >= 1):
            raise UserError(f"batch_size must be an integer >= 1 (got {batch_size!r}); e.g. batch_size=16")
        self.model = _load_model(model_or_path, torch_dtype(dtype), device)  # UserError for an unknown dtype
        self.tokenizer = _load_tokenizer(tokenizer if tokenizer is not None else model_or_path)
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.progress = progress
        self.eos_ids = end_token_ids(self.tokenizer, getattr(self.model, "generation_config", None))
        self.max_model_len = max_model_len or getattr(self.model.config, "max_position_embeddings", None)
        self.pad_id = next(
            (t for t in (self.tokenizer.pad_token_id, self.tokenizer.eos_token_id) if t is not None), 0
        )
        self._newline_table: list[int] | None = None

    def generate(self, requests: Sequence[GenRequest], fire: FireParams | None) -> list[list[Generation]]:
        """For each request, its n Generations in sample order."""
        for request in requests:
            _check_request(request)
        requests = fit_prompts(requests, self.max_model_len)
        results: list[list[Generation | None]] = [[None] * request.n for request in requests]
        total = sum(request.n for request in requests)
        with tqdm(total=total, desc="wise_fire hf", unit="sample", disable=not self.progress) as bar:
            for settings, batch in self._batches(requests):
                prompts = [requests[i].prompt_ids for i, _ in batch]
                generators = [sample_generator(requests[i].seed, j, self.device) for i, j in batch]
                for (i, j), generation in zip(batch, self._generate_batch(prompts, generators, settings, fire)):
                    results[i][j] = generation
                bar.update(len(batch))
        return results

    def _batches(self, requests: Sequence[GenRequest]) -> Iterator[tuple[SamplingSettings, list[tuple[int, int]]]]:
        """(request index, sample index) rows grouped by settings, longest prompts first, batch_size at a time."""
        groups: dict[SamplingSettings, list[tuple[int, int]]] = defaultdict(list)
        for i, request in enumerate(requests):
            groups[request.settings].extend((i, j) for j in range(request.n))
        for settings, rows in groups.items():
            rows.sort(key=lambda row: -len(requests[row[0]].prompt_ids))
            for start in range(0, len(rows), self.batch_size):
                yield settings, rows[start : start + self.batch_size]

    def _generate_batch(
        self,
        prompts: Sequence[Sequence[int]],
        generators: Sequence[torch.Generator],
        settings: SamplingSettings,
        fire: FireParams | None,
    ) -> list[Generation]:
        prompt_length = max(len(p) for p in prompts)
        input_ids = torch.full((len(prompts), prompt_length), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros_like(input_ids)
        for row, prompt in enumerate(prompts):
            input_ids[row, prompt_length - len(prompt) :] = torch.tensor(prompt, dtype=torch.long)
            attention_mask[row, prompt_length - len(prompt) :] = 1
        newline_table = self._newlines() if fire is not None and fire.line > 1 else None
        sampler = FireSampler(settings, fire, generators, prompt_length, newline_table)
        ends = ResponseEnd(self.tokenizer, settings.stop, self.eos_ids, prompt_length, len(prompts))
        config = GenerationConfig(
            max_new_tokens=settings.max_new_tokens,
            do_sample=False,
            num_beams=1,
            eos_token_id=sorted(self.eos_ids) or None,
            pad_token_id=self.pad_id,
        )
        with _neutral_generation_config(self.model):
            sequences = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention_mask.to(self.device),
                generation_config=config,
                logits_processor=LogitsProcessorList([sampler]),
                stopping_criteria=StoppingCriteriaList([ends]),
            )
        generated = sequences[:, prompt_length:].cpu()
        logprobs = sampler.token_logprobs()
        outputs = []
        for row in range(len(prompts)):
            length = ends.response_length(row, generated.shape[1])
            token_ids = generated[row, :length].tolist()
            text = truncate_at_stop(self.tokenizer.decode(token_ids, skip_special_tokens=True), settings.stop)
            hot_step = int(sampler.hot_steps[row])
            outputs.append(
                Generation(
                    text,
                    token_ids=token_ids,
                    mean_logprob=float(logprobs[row, :length].mean()) if length else None,
                    hot_token_id=token_ids[hot_step] if NOT_HOT < hot_step < length else None,
                )
            )
        return outputs

    def _newlines(self) -> list[int]:
        if self._newline_table is None:
            vocab = self.model.get_output_embeddings().weight.shape[0]
            self._newline_table = newlines_per_token(self.tokenizer, vocab)
        return self._newline_table


def _check_request(request: GenRequest) -> None:
    if not request.prompt_ids:
        raise ValueError("GenRequest.prompt_ids is empty: the engine needs at least one prompt token")
    if request.n < 1:
        raise ValueError(f"GenRequest.n must be >= 1 (got {request.n})")
    settings = request.settings
    if settings.max_new_tokens < 1:
        raise UserError(f"max_gen_toks must be >= 1 (got {settings.max_new_tokens}); e.g. max_gen_toks=256")
    if settings.temperature < 0:
        raise UserError(f"temperature must be >= 0 (got {settings.temperature}); 0 means greedy")
    if not 0 < settings.top_p <= 1:
        raise UserError(f"top_p must be in (0, 1] (got {settings.top_p}); 1 turns it off")
    if settings.top_k < 0:
        raise UserError(f"top_k must be >= 0 (got {settings.top_k}); 0 turns it off")
    if not 0 <= settings.min_p <= 1:
        raise UserError(f"min_p must be in [0, 1] (got {settings.min_p}); 0 turns it off")


def _load_model(model_or_path, dtype, device: str) -> torch.nn.Module:
    if isinstance(model_or_path, torch.nn.Module):
        model = model_or_path if dtype == "auto" else model_or_path.to(dtype=dtype)
    else:
        path = os.fspath(model_or_path)
        try:
            model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype)
        except OSError as error:
            raise UserError(
                f"pretrained={path!r} is not a loadable checkpoint ({error}); pass a dir with config.json and weights"
            ) from None
    return model.to(device).eval()


def _load_tokenizer(tokenizer_or_path):
    if isinstance(tokenizer_or_path, (str, os.PathLike)):
        try:
            return AutoTokenizer.from_pretrained(os.fspath(tokenizer_or_path))
        except OSError as error:
            raise UserError(f"tokenizer={os.fspath(tokenizer_or_path)!r} cannot be loaded ({error})") from None
    if isinstance(tokenizer_or_path, torch.nn.Module):
        raise ValueError("HFEngine needs a tokenizer (object or path) when given a model object")
    return tokenizer_or_path
