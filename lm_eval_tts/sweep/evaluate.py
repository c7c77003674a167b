"""The sweep loop: for each alpha, swap the merge into a live model, run lm-eval's evaluation, save its results.

Each alpha's results are saved exactly as `lm_eval --output_path` saves them (lm-eval's EvaluationTracker, under
`<output>/alpha_<alpha>/`), with `config.model = "wise_fire"` and `config.model_args` holding pretrained, base and
alpha, so `lm_eval --model wise_fire --model_args <those>` reproduces one point and `lm-eval-tts report` reads them.

The tracker writes into a private temporary dir wherever the evaluation runs (this process, or a Ray replica on
another node); the files travel back as bytes and land in the output dir whole, results file last.
With `--replicas R` the alphas are spread over R Ray replicas, each a `wise_fire` model of its own that swaps its
weights in place from alpha to alpha, exactly as the one model does; the per-alpha results are the same.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval_tts.merge.spec import MergeSpec
from lm_eval_tts.staging import write_atomic
from lm_eval_tts.sweep.alphas import format_alpha
from lm_eval_tts.sweep.output import alpha_dir

log = logging.getLogger(__name__)

MODEL_NAME = "wise_fire"  # the lm-eval registry name recorded in each results file
_RESULTS_PREFIX = "results_"


@dataclass(frozen=True)
class EvalSettings:
    """What every alpha's `simple_evaluate` call gets, unchanged across the sweep."""

    tasks: list[str]
    num_fewshot: int | None = None
    limit: int | float | None = None
    gen_kwargs: str | None = None
    apply_chat_template: bool = False  # few-shot examples then become turns, as with lm_eval's CLI
    system_instruction: str | None = None
    log_samples: bool = False
    confirm_run_unsafe_code: bool = False


@dataclass(frozen=True)
class AlphaRun:
    """One alpha evaluated, not yet in the output dir: lm-eval's results document (JSON types only) and the files
    its tracker wrote (path relative to the alpha's dir -> content)."""

    alpha: float
    results: dict
    files: dict[str, bytes]
    swap_seconds: float
    eval_seconds: float


@dataclass(frozen=True)
class AlphaResult:
    alpha: float
    results: dict  # lm-eval's results document, as saved (JSON types only; samples not included)
    output_dir: Path
    swap_seconds: float
    eval_seconds: float


def task_manager(model_args: dict, metadata: dict):
    """As lm_eval's CLI does: task metadata = model_args | --metadata (our task_configs/ are added by the hook)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(metadata=model_args | metadata)


def evaluate_alpha(lm, pretrained: str, base: str, alpha: float, model_args: dict[str, Any], settings: EvalSettings,
                   tasks) -> AlphaRun:
    """theta(alpha) = (1 - alpha) * base + alpha * pretrained swapped into the live `lm` (a WiseFireLM), evaluated
    with lm-eval's `simple_evaluate` on the TaskManager `tasks`, saved by lm-eval's tracker into a temporary dir."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.utils import handle_non_serializable

    started = time.perf_counter()
    lm.set_merge(MergeSpec.from_alpha(pretrained, base, alpha, lm.merge_spec.dtype))
    swapped = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lm-eval-tts-alpha-") as tmp:
        tracker = EvaluationTracker(output_path=tmp)
        results = simple_evaluate(
            model=lm,
            model_args={"pretrained": pretrained, "base": base, "alpha": alpha, **model_args},
            tasks=list(settings.tasks),
            num_fewshot=settings.num_fewshot,
            limit=settings.limit,
            gen_kwargs=settings.gen_kwargs,
            apply_chat_template=settings.apply_chat_template,
            fewshot_as_multiturn=settings.apply_chat_template,
            system_instruction=settings.system_instruction,
            log_samples=settings.log_samples,
            confirm_run_unsafe_code=settings.confirm_run_unsafe_code,
            evaluation_tracker=tracker,
            task_manager=tasks,
        )
        samples = results.pop("samples", None)
        results["config"]["model"] = MODEL_NAME
        tracker.save_results_aggregated(results=results, samples=samples if settings.log_samples else None)
        if settings.log_samples:
            for task_name in results["configs"]:
                tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
        files = {str(path.relative_to(tmp)): path.read_bytes() for path in Path(tmp).rglob("*") if path.is_file()}
    done = time.perf_counter()
    log.info("alpha=%s: weights swapped in %.1f s, evaluated in %.1f s", format_alpha(alpha), swapped - started,
             done - swapped)
    return AlphaRun(alpha, json.loads(json.dumps(results, default=handle_non_serializable)), files,
                    swapped - started, done - swapped)


def save_alpha(run: AlphaRun, output_dir: Path) -> AlphaResult:
    """Put an alpha's files under <output>/alpha_<alpha>/, each whole (temporary file + rename), the results file
    last: a results file is only ever there with its samples beside it."""
    target = alpha_dir(output_dir, run.alpha)
    for name in sorted(run.files, key=lambda n: Path(n).name.startswith(_RESULTS_PREFIX)):
        write_atomic(target / name, run.files[name])
    return AlphaResult(run.alpha, run.results, target, run.swap_seconds, run.eval_seconds)


def run_sweep(lm, pretrained: str, base: str, alphas: Sequence[float], model_args: dict[str, Any],
              settings: EvalSettings, tasks, output_dir: Path) -> Iterator[AlphaResult]:
    """Every alpha with the one live `lm` (a WiseFireLM), in order; yields each alpha's result once it is saved."""
    for alpha in alphas:
        yield save_alpha(evaluate_alpha(lm, pretrained, base, alpha, model_args, settings, tasks), output_dir)


class AlphaEvaluator:
    """What each sweep replica holds: a wise_fire model started on `pretrained` and a TaskManager."""

    def __init__(self, pretrained: str, base: str, model_args: dict[str, Any], settings: EvalSettings,
                 metadata: dict):
        from lm_eval_tts.models.wise_fire import WiseFireLM

        self.pretrained, self.base, self.model_args, self.settings = pretrained, base, model_args, settings
        self.lm = WiseFireLM(pretrained=pretrained, **model_args)
        self.tasks = task_manager(model_args, metadata)

    def evaluate(self, alpha: float) -> AlphaRun:
        return evaluate_alpha(self.lm, self.pretrained, self.base, alpha, self.model_args, self.settings, self.tasks)

    def close(self) -> None:
        close = getattr(self.lm.engine, "close", None)
        if close is not None:
            close()


def run_sweep_on_replicas(pretrained: str, base: str, alphas: Sequence[float], model_args: dict[str, Any],
                          settings: EvalSettings, metadata: dict, output_dir: Path,
                          options) -> Iterator[AlphaResult]:
    """The alphas spread over `options.replicas` Ray replicas (engines.replicas.ReplicaOptions), each replica taking
    the next alpha when it finishes one; a replica that dies hands its alpha to the others. Yields each alpha's
    result, saved here, as it finishes."""
    from lm_eval_tts.engines.replicas import ReplicaSet

    replicas = ReplicaSet(AlphaEvaluator, dict(pretrained=pretrained, base=base,
                                               model_args=options.engine_kwargs(model_args), settings=settings,
                                               metadata=metadata), options)
    try:
        for _, run in replicas.map_unordered("evaluate", [(alpha,) for alpha in alphas]):
            yield save_alpha(run, output_dir)
    finally:
        replicas.close()
