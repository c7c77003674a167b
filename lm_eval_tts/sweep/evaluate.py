"""The sweep loop: for each alpha, swap the merge into the one live model, run lm-eval's evaluation, save its results.

Each alpha's results are saved exactly as `lm_eval --output_path` saves them (lm-eval's EvaluationTracker, under
`<output>/alpha_<alpha>/`), with `config.model = "wise_fire"` and `config.model_args` holding pretrained, base and
alpha, so `lm_eval --model wise_fire --model_args <those>` reproduces one point and `lm-eval-tts report` reads them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lm_eval_tts.merge.spec import MergeSpec

log = logging.getLogger(__name__)

MODEL_NAME = "wise_fire"  # the lm-eval registry name recorded in each results file


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
class AlphaResult:
    alpha: float
    results: dict  # lm-eval's results document, as saved (JSON types only; samples not included)
    output_dir: Path
    swap_seconds: float
    eval_seconds: float


def alpha_dir(output_dir: Path, alpha: float) -> Path:
    return Path(output_dir) / f"alpha_{alpha:g}"


def run_sweep(lm, pretrained: str, base: str, alphas: Sequence[float], model_args: dict[str, Any],
              settings: EvalSettings, task_manager, output_dir: Path) -> Iterator[AlphaResult]:
    """Evaluate theta(alpha) = (1 - alpha) * base + alpha * pretrained for each alpha with the live `lm`
    (a WiseFireLM); yields each alpha's result once it is saved."""
    from lm_eval import simple_evaluate
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.utils import handle_non_serializable

    for alpha in alphas:
        started = time.perf_counter()
        lm.set_merge(MergeSpec.from_alpha(pretrained, base, alpha, lm.merge_spec.dtype))
        swapped = time.perf_counter()
        tracker = EvaluationTracker(output_path=str(alpha_dir(output_dir, alpha)))
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
            task_manager=task_manager,
        )
        samples = results.pop("samples", None)
        results["config"]["model"] = MODEL_NAME
        tracker.save_results_aggregated(results=results, samples=samples if settings.log_samples else None)
        if settings.log_samples:
            for task_name in results["configs"]:
                tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
        done = time.perf_counter()
        log.info("alpha=%g: weights swapped in %.1f s, evaluated in %.1f s", alpha, swapped - started, done - swapped)
        yield AlphaResult(alpha, json.loads(json.dumps(results, default=handle_non_serializable)),
                          alpha_dir(output_dir, alpha), swapped - started, done - swapped)
