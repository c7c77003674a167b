"""The `wise_fire` lm-eval model: glue between lm-eval requests and a generation engine (vLLM or transformers).

lm-eval sends one request per repeat (`repeats: n` clones each request n times). Identical (context, gen_kwargs)
requests are grouped into one engine request with n samples -- one prefill, n independent samples -- and the
answers are fanned back out in lm-eval's order. Each group's seed is derived from the model seed and the request
itself, so the same seed reproduces the same samples whatever else is in the batch.
"""

from __future__ import annotations

import logging
from typing import Any

from lm_eval.api.model import LM
from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs

from lm_eval_tts.engines.base import GenRequest, Generation, SamplingSettings, derive_seed
from lm_eval_tts.errors import UserError
from lm_eval_tts.merge.cache import cached_merge, merge_key
from lm_eval_tts.merge.spec import MergeSpec
from lm_eval_tts.models.args import WiseFireArgs, parse_model_args
from lm_eval_tts.models.embedded import EMBEDDED_NAME, embedded_model_dir

log = logging.getLogger(__name__)

_KNOWN_GEN_KWARGS = {"do_sample", "until", "max_gen_toks", "temperature", "top_p", "top_k", "min_p"}


class WiseFireLM(LM):
    """`--model wise_fire`: WiSE-FT merged weights x FIRE sampling, for generation tasks."""

    def __init__(self, **model_args: Any):
        super().__init__()
        self.args: WiseFireArgs = parse_model_args(model_args)
        self.merge_spec = self._merge_spec()
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(self.merge_spec.checkpoints[0],
                                                       trust_remote_code=self.args.trust_remote_code)
        self.engine = self._build_engine()

    # ---------------------------------------------------------------- construction
    def _merge_spec(self) -> MergeSpec:
        """The weights to evaluate (one checkpoint, or a WiSE-FT / N-way merge), the bundled model resolved."""
        spec = self.args.merge
        resolved = tuple(str(embedded_model_dir()) if ref == EMBEDDED_NAME else ref for ref in spec.checkpoints)
        return MergeSpec(resolved, spec.weights, spec.dtype)

    def _build_engine(self):
        a = self.args
        if a.backend == "vllm":
            from lm_eval_tts.engines.replicas import ReplicaEngine, ReplicaOptions, connect_ray
            from lm_eval_tts.engines.vllm import VLLMEngine

            engine_kwargs = dict(a.engine_kwargs, dtype=a.dtype, trust_remote_code=a.trust_remote_code)
            if a.max_model_len is not None:
                engine_kwargs["max_model_len"] = a.max_model_len
            replicas = ReplicaOptions.for_engine(engine_kwargs.pop("data_parallel_size", 1), engine_kwargs,
                                                 cpus=a.replica_cpus, gpus=a.replica_gpus, ray_address=a.ray_address)
            checkpoint = self.merge_spec.checkpoints[0] if self.merge_spec.is_identity else str(
                cached_merge(self.merge_spec))
            options = dict(seed=a.seed, engine_kwargs=engine_kwargs, fire_top_k=a.fire.top_k if a.fire else 0)
            if replicas.replicas > 1:
                return ReplicaEngine(checkpoint, self.merge_spec.checkpoints[0], replicas,
                                     trust_remote_code=a.trust_remote_code, **options)
            if a.ray_address:
                connect_ray(a.ray_address)  # vLLM's Ray executor (distributed_executor_backend=ray) joins this cluster
            return VLLMEngine(checkpoint, self.tokenizer, **options)
        from lm_eval_tts.engines.hf import HFEngine

        engine = HFEngine(self.merge_spec.checkpoints[0], self.tokenizer, dtype=a.dtype, device=_hf_device(a.device),
                          batch_size=_hf_batch_size(a.batch_size))
        if not self.merge_spec.is_identity:
            _load_merged(engine.model, self.merge_spec)
        return engine

    def set_merge(self, spec: MergeSpec) -> None:
        """Evaluate other merge weights with the live engine (sweeps): no engine restart, no checkpoint on disk."""
        if self.args.backend == "vllm":
            self.engine.swap_weights(spec)
        else:
            _load_merged(self.engine.model, spec)
        self.merge_spec = spec

    def get_model_info(self) -> dict:
        """Recorded in lm-eval's results JSON (config section): which weights and which sampling were evaluated."""
        spec = self.merge_spec
        fire = self.args.fire
        return {"wise_fire": {
            "backend": self.args.backend,
            "checkpoints": list(spec.checkpoints),
            "weights": list(spec.weights),
            "alpha": spec.weights[0] if len(spec.checkpoints) == 2 else None,
            "merge_key": None if spec.is_identity else merge_key(spec),
            "fire": None if fire is None else {"temperature": fire.temperature, "top_k": fire.top_k,
                                               "line": fire.line},
            "seed": self.args.seed,
        }}

    # ---------------------------------------------------------------- lm-eval API
    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        groups: dict[tuple, list[int]] = {}
        for index, request in enumerate(requests):
            context, gen_kwargs = request.args
            groups.setdefault((context, _freeze(gen_kwargs)), []).append(index)
        engine_requests = []
        for context, frozen in groups:
            settings = self._settings({k: list(v) if isinstance(v, tuple) else v for k, v in frozen})
            prompt_ids = tuple(self.tokenizer(context, add_special_tokens=self.args.add_bos_token)["input_ids"])
            engine_requests.append(GenRequest(prompt_ids=prompt_ids, n=len(groups[(context, frozen)]),
                                              settings=settings, seed=derive_seed(self.args.seed, context, frozen)))
        generations = self.engine.generate(engine_requests, self.args.fire)
        answers: list[Generation | None] = [None] * len(requests)
        for indices, samples in zip(groups.values(), generations):
            for index, sample in zip(indices, samples):
                answers[index] = sample
        return answers

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        raise UserError("wise_fire evaluates generation tasks (output_type: generate_until); "
                        "run loglikelihood/multiple-choice tasks with --model hf or --model vllm")

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise UserError("wise_fire evaluates generation tasks (output_type: generate_until); "
                        "run perplexity tasks with --model hf or --model vllm")

    def apply_chat_template(self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
        return self.tokenizer.apply_chat_template(chat_history, tokenize=False,
                                                  add_generation_prompt=add_generation_prompt,
                                                  continue_final_message=not add_generation_prompt)

    @property
    def tokenizer_name(self) -> str:
        return self.tokenizer.name_or_path.replace("/", "__")

    def chat_template(self, chat_template: bool | str = False) -> str | None:
        if chat_template is False or chat_template is None:
            return None
        return self.tokenizer.chat_template

    # ---------------------------------------------------------------- helpers
    def _settings(self, gen_kwargs: dict) -> SamplingSettings:
        unknown = set(gen_kwargs) - _KNOWN_GEN_KWARGS - {"max_new_tokens", "max_tokens", "max_completion_tokens"}
        if unknown:
            raise UserError(f"unsupported gen_kwargs {', '.join(sorted(unknown))} for wise_fire: "
                            f"use {', '.join(sorted(_KNOWN_GEN_KWARGS))}")
        kwargs = normalize_gen_kwargs(gen_kwargs, default_max_gen_toks=self.args.max_gen_toks)
        eos = self.tokenizer.decode([self.tokenizer.eos_token_id]) if self.tokenizer.eos_token_id is not None else None
        stop = handle_stop_sequences(kwargs.get("until"), eos=eos)
        return SamplingSettings(
            max_new_tokens=int(kwargs["max_gen_toks"]),
            temperature=float(kwargs.get("temperature", 0.0)),
            top_p=float(kwargs.get("top_p", 1.0)),
            top_k=int(kwargs.get("top_k", 0) or 0),
            min_p=float(kwargs.get("min_p", 0.0)),
            stop=tuple(s for s in stop if s),
        )


def _hf_batch_size(value) -> int:
    """lm-eval's --batch_size is an int or 'auto'/'auto:N'; the transformers engine wants rows per call."""
    return value if isinstance(value, int) and value >= 1 else 16


def _hf_device(requested: str | None) -> str:
    """lm-eval passes its default device ('cuda:0') even on CPU-only machines: fall back to the CPU, said once."""
    import torch

    if requested and requested.startswith("cuda") and not torch.cuda.is_available():
        log.warning("device=%s requested but CUDA is not available: the transformers backend runs on the CPU",
                    requested)
        return "cpu"
    return requested or ("cuda" if torch.cuda.is_available() else "cpu")


def _load_merged(model, spec: MergeSpec) -> None:
    """Replace a transformers model's weights with the merge, in memory.

    A model built tied (input and output embedding one tensor) but merged untied (some input stores its own
    lm_head) gets its own output embedding first, so loading the merged head cannot overwrite the embedding.
    """
    from lm_eval_tts.merge.engine import merged_state_dict
    from lm_eval_tts.merge.plan import plan_merge

    plan = plan_merge(spec)
    if plan.config.get("tie_word_embeddings") is False:
        _untie_output_embedding(model)
    missing, unexpected = model.load_state_dict(merged_state_dict(plan), strict=False)
    tied = set(getattr(model, "_tied_weights_keys", None) or [])
    if unexpected or set(missing) - tied:
        raise UserError(f"merged weights do not fit {spec.checkpoints[0]}: missing {sorted(missing)[:3]}, "
                        f"unexpected {sorted(unexpected)[:3]}")
    model.tie_weights()


def _untie_output_embedding(model) -> None:
    """Give the output embedding its own copy of the tied tensor and turn tying off in the config."""
    import torch

    for config in {id(c): c for c in (model.config, model.config.get_text_config())}.values():
        config.tie_word_embeddings = False
    head, embedding = model.get_output_embeddings(), model.get_input_embeddings()
    if head is not None and head.weight is embedding.weight:
        head.weight = torch.nn.Parameter(embedding.weight.detach().clone())


def _freeze(value):
    """A hashable, order-independent form of gen_kwargs (lists become tuples, dicts sorted tuples)."""
    if isinstance(value, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    return value


