"""Read lm-eval results files into runs: which files, which tasks, which tts metrics, and a label per run.

lm-eval (0.4.13) writes `<output_path>/<model_name_sanitized>/results_<timestamp>.json` holding
`results[task]["<metric>,<filter>"]`, `results[task]["<metric>_stderr,<filter>"]` (a number or "N/A"),
`config.model_args` (a dict from the CLI, a "k=v,k=v" string from the Python API), `n-samples[task]` and
`configs[task]["repeats"]`; `wise_fire` adds `config.wise_fire` (its backend, weights and sampling). Only the
test-time-scaling keys (see lm_eval_tts.metrics.keys) are kept.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from lm_eval_tts.errors import UserError
from lm_eval_tts.metrics.keys import STDERR_SUFFIX, is_tts_key

RESULTS_GLOB = "results_*.json"
# model_args keys that name the setting of a test-time-scaling run, shown first in labels.
LABEL_KEYS = ("alpha", "fire")


@dataclass(frozen=True)
class TaskMetrics:
    """The tts metrics of one task under one lm-eval filter (e.g. "none", "strict-match")."""

    task: str
    filter: str
    values: dict[str, float]
    stderrs: dict[str, float]  # only the keys for which lm-eval computed a standard error
    n_docs: int | None
    n_samples: int | None  # samples per problem (the task's `repeats`)
    metadata: dict = field(default_factory=dict)  # the task's metadata (task options such as fp_cost)

    @property
    def name(self) -> str:
        return self.task if self.filter == "none" else f"{self.task} [{self.filter}]"


@dataclass(frozen=True)
class Run:
    path: Path
    model: str
    model_args: dict[str, str]
    tasks: tuple[TaskMetrics, ...]
    backend: str | None = None  # the engine that generated: wise_fire's vllm/hf, or lm-eval's model name


def run_backend(config: dict, model_args: dict[str, str]) -> str | None:
    """wise_fire's backend as it recorded it (config.wise_fire.backend), else as given in model_args; for
    lm-eval's own models (`--model hf`, `vllm`, ...) the model name is the backend."""
    info = config.get("wise_fire")
    if isinstance(info, dict) and info.get("backend"):
        return str(info["backend"])
    if model_args.get("backend"):
        return model_args["backend"]
    model = str(config.get("model") or "")
    return model if model and model != "wise_fire" else None


def find_results_files(paths: Iterable[str | Path]) -> list[Path]:
    """Files given as is; directories searched recursively for lm-eval's results_*.json. Sorted, no duplicates."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            in_dir = sorted(path.rglob(RESULTS_GLOB))
            if not in_dir:
                raise UserError(f"{path}: no lm-eval results files ({RESULTS_GLOB}) in this directory")
            found += in_dir
        elif path.is_file():
            found.append(path)
        else:
            raise UserError(f"{path}: no such file or directory; pass lm-eval results files or their output dirs")
    return list(dict.fromkeys(p.resolve() for p in found))


def parse_results(data: object, path: Path) -> Run:
    """One lm-eval results document (already parsed JSON) -> Run; UserError if it is not one or has no tts metrics."""
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise UserError(f"{path}: not an lm-eval results file (no 'results' section); pass results_*.json files")
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    n_samples = data.get("n-samples") if isinstance(data.get("n-samples"), dict) else {}
    configs = data.get("configs") if isinstance(data.get("configs"), dict) else {}
    tasks = []
    for task, entry in data["results"].items():
        if isinstance(entry, dict):
            tasks += _task_metrics(task, entry, n_samples.get(task), configs.get(task))
    if not tasks:
        raise UserError(
            f"{path}: no test-time-scaling metrics (pass@k, maj@k, best@k, ...) in its results; "
            "evaluate a *_tts task to get them"
        )
    model_args = parse_model_args(config.get("model_args"))
    return Run(path, str(config.get("model", "")), model_args, tuple(tasks), run_backend(config, model_args))


def read_run(path: Path) -> Run:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise UserError(f"{path}: cannot read ({err.strerror})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{path}: not JSON ({err.msg} at line {err.lineno}); pass lm-eval results_*.json files") from None
    return parse_results(data, path)


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    return [read_run(path) for path in find_results_files(paths)]


def parse_model_args(model_args: object) -> dict[str, str]:
    """`{"alpha": 0.5}` or `"alpha=0.5,fire=True"` -> {"alpha": "0.5", "fire": "True"}; anything else -> {}."""
    if isinstance(model_args, dict):
        return {str(k): str(v) for k, v in model_args.items()}
    if isinstance(model_args, str):
        pairs = (item.split("=", 1) for item in model_args.split(",") if "=" in item)
        return {k.strip(): v.strip() for k, v in pairs}
    return {}


def run_labels(runs: Sequence[Run]) -> list[str]:
    """A short, distinct label per run: the model_args that differ between runs (alpha, fire first), then the
    backend that generated it in brackets (`alpha=0.5 fire=True [vllm]`), since vLLM and transformers samples
    differ.

    With nothing differing (or one run) the label is the alpha/fire settings if present, else the checkpoint
    name, the model name or the file name; runs that still share a label get their results file name appended.
    """
    shown = differing_args(runs) or [k for k in LABEL_KEYS if any(k in run.model_args for run in runs)]
    labels = []
    for run in runs:
        label = (setting_label(run, shown) or _short(run.model_args.get("pretrained", ""))
                 or run.model or run.path.stem)
        backend_shown = "backend" in shown and "backend" in run.model_args
        if run.backend and not backend_shown and label != run.backend:
            label = f"{label} [{run.backend}]"
        labels.append(label)
    return [
        f"{label} ({run.path.name})" if labels.count(label) > 1 else label for label, run in zip(labels, runs)
    ]


def differing_args(runs: Sequence[Run], exclude: Iterable[str] = ()) -> list[str]:
    """The model_args keys whose values differ between runs (alpha, fire first, then alphabetical)."""
    excluded = set(exclude)
    keys = sorted({k for run in runs for k in run.model_args} - excluded, key=lambda k: (k not in LABEL_KEYS, k))
    return [k for k in keys if len({run.model_args.get(k) for run in runs}) > 1]


def setting_label(run: Run, arg_names: Sequence[str]) -> str:
    """"alpha=0.5 fire=True" for the given model_args keys of a run (paths shortened to their last part)."""
    return " ".join(f"{k}={_short(run.model_args[k])}" for k in arg_names if k in run.model_args)


def _short(value: str) -> str:
    """Checkpoint paths are long; their last component names them."""
    return Path(value).name if "/" in value else value


def _task_metrics(task: str, entry: dict, n_samples: object, config: object) -> list[TaskMetrics]:
    values: dict[str, dict[str, float]] = {}
    stderrs: dict[str, dict[str, float]] = {}
    for raw_key, value in entry.items():
        metric, sep, filter_key = raw_key.partition(",")
        if not sep or not _is_number(value):
            continue
        base = metric.removesuffix(STDERR_SUFFIX)
        if base != metric and is_tts_key(base):
            stderrs.setdefault(filter_key, {})[base] = float(value)
        elif is_tts_key(metric):
            values.setdefault(filter_key, {})[metric] = float(value)
    n_docs = n_samples.get("effective") if isinstance(n_samples, dict) else None
    repeats = config.get("repeats") if isinstance(config, dict) else None
    metadata = config.get("metadata") if isinstance(config, dict) else None
    return [
        TaskMetrics(
            task=task,
            filter=filter_key,
            values=metrics,
            stderrs=stderrs.get(filter_key, {}),
            n_docs=n_docs if isinstance(n_docs, int) else None,
            n_samples=repeats if isinstance(repeats, int) else None,
            metadata=metadata if isinstance(metadata, dict) else {},
        )
        for filter_key, metrics in sorted(values.items())
    ]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
