"""Replace the weights of a live vLLM engine with a WiSE-FT merge, in place, on every worker.

Only the small `MergeSpec` (paths, weights, dtype) crosses process boundaries: each worker computes the merge
itself, tensor by tensor from disk (`iter_merged_tensors`), and streams it into vLLM's in-place reload
(`Worker.reload_weights`: the model's own `load_weights`, then the per-layer weight processing again -- on CPU that
re-packs the oneDNN linear weights, which a bare `load_weights` would leave stale). With tensor_parallel_size > 1
every rank runs the same code and its `load_weights` keeps that rank's shard.

The call goes through `LLM.collective_rpc` by method name, to methods that `WeightSwapWorker` adds to vLLM's worker
class (engine argument `worker_extension_cls`, vLLM's mechanism for weight updates), so nothing is pickled.
Afterwards the prefix cache is reset: KV blocks computed with the old weights must never be reused.
"""

from __future__ import annotations

import logging

from lm_eval_tts.errors import UserError
from lm_eval_tts.merge.spec import MergeSpec

log = logging.getLogger(__name__)

# Engine argument that makes an engine swappable: LLM(..., worker_extension_cls=WORKER_EXTENSION).
WORKER_EXTENSION = f"{__name__}.WeightSwapWorker"
_LOAD_METHOD = "lm_eval_tts_load_merge"


class WeightSwapError(RuntimeError):
    """A swap failed inside the workers; they restored the weights they had before."""


def swap_weights(llm, spec: MergeSpec) -> None:
    """Give the live engine `llm` (a `vllm.LLM`) the weights of `spec`, without restarting it.

    Tensor names and shapes are checked against the engine's checkpoint first (UserError, engine untouched).
    A failure while loading (e.g. an unreadable file) makes every worker restore its previous weights and raises
    WeightSwapError, so the engine stays usable with the weights it had.
    """
    config = llm.llm_engine.vllm_config
    if config.parallel_config.worker_extension_cls != WORKER_EXTENSION:
        raise UserError(f"this vLLM engine cannot swap weights: start it with "
                        f"worker_extension_cls={WORKER_EXTENSION!r}")
    engine_checkpoint = config.model_config.model
    check_compatible(engine_checkpoint, spec)
    try:
        llm.collective_rpc(_LOAD_METHOD, args=(list(spec.checkpoints), list(spec.weights), spec.dtype))
    except Exception as err:  # vLLM re-raises worker failures as plain Exception("Call to ... failed: ...")
        raise WeightSwapError(f"swapping the engine's weights to {spec.describe()} failed: {err}") from err
    if not llm.reset_prefix_cache():
        raise WeightSwapError("vLLM refused to reset its prefix cache after the weight swap (requests were still "
                              "running); KV computed with the old weights could be reused, so stopping here")
    log.info("engine weights are now %s", spec.describe())


def check_compatible(engine_checkpoint: str, spec: MergeSpec) -> None:
    """The merge must produce exactly the engine checkpoint's tensors (names and shapes); UserError naming one that
    does not. Headers and configs only: nothing is merged or loaded here."""
    from lm_eval_tts.merge.io import Checkpoint
    from lm_eval_tts.merge.plan import plan_merge

    have = {name: info.shape for name, info in Checkpoint(engine_checkpoint).tensors.items()}
    want = {t.name: t.shape for t in plan_merge(spec).tensors}
    problem = None
    if missing := sorted(have.keys() - want.keys()):
        problem = f"tensor {missing[0]!r} of the engine's model is not in the merge"
    elif extra := sorted(want.keys() - have.keys()):
        problem = f"the merge has tensor {extra[0]!r}, which the engine's model does not have"
    elif shaped := sorted(name for name in have if have[name] != want[name]):
        name = shaped[0]
        problem = f"tensor {name!r} has shape {list(want[name])} in the merge but {list(have[name])} in the engine"
    if problem:
        raise UserError(
            f"cannot swap {spec.describe()} into the engine started on {engine_checkpoint}: {problem}; "
            f"merge checkpoints of the engine's architecture"
        )


class WeightSwapWorker:
    """Mixed into vLLM's worker class by vLLM (engine argument worker_extension_cls); runs in every worker."""

    def lm_eval_tts_load_merge(self, checkpoints: list[str], weights: list[float], dtype: str) -> None:
        """Load the merge into this worker's model; on failure restore the previous weights, then raise."""
        spec = MergeSpec(tuple(checkpoints), tuple(weights), dtype)
        previous = getattr(self, "_lm_eval_tts_spec", None) or MergeSpec((self.model_config.model,), (1.0,))
        try:
            _load_merge(self, spec)
        except Exception as err:
            try:
                _load_merge(self, previous)
            except Exception as restore_err:
                raise RuntimeError(f"loading {spec.describe()} failed ({err!r}) and restoring {previous.describe()} "
                                   f"failed too ({restore_err!r}): restart the engine") from err
            raise RuntimeError(f"loading {spec.describe()} failed ({err!r}); restored {previous.describe()}") from err
        self._lm_eval_tts_spec = spec


def _load_merge(worker, spec: MergeSpec) -> None:
    """Stream the merge, tensor by tensor, into vLLM's in-place reload on `worker`."""
    from lm_eval_tts.merge.engine import iter_merged_tensors

    worker.reload_weights(weights_iterator=iter_merged_tensors(spec), is_checkpoint_format=True)
    _reprocess_tied_layers(worker.get_model())


def _reprocess_tied_layers(model) -> None:
    """Redo the weight processing of layers that share all their parameters with another layer (a tied output
    head): vLLM's reload processes only layers that received checkpoint tensors, and a tied head receives none (its
    Parameter is the input embedding's, updated in place), so a kernel built from the old values -- on CPU, the
    packed GEMM copy of the embedding matrix -- would keep computing logits with the old weights."""
    owners: dict[int, object] = {}
    for module in model.modules():
        for param in module.parameters(recurse=False):
            owners.setdefault(id(param), module)
    for module in model.modules():
        params = list(module.parameters(recurse=False))
        quant_method = getattr(module, "quant_method", None)
        if params and quant_method is not None and all(owners[id(p)] is not module for p in params):
            quant_method.process_weights_after_loading(module)
