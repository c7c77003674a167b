"""`lm-eval-tts sweep`: evaluate a WiSE-FT alpha sweep with ONE model and engine, swapping weights between alphas.

    lm-eval-tts sweep --pretrained LATE --base EARLY --alphas 0:1.2:0.1 --tasks gsm8k_tts --output_path out/ --plot

The engine starts once, on LATE; for each alpha the merge (1 - alpha) * EARLY + alpha * LATE is computed from disk
and loaded into the live engine in place (vLLM: on every worker; transformers: in memory), lm-eval evaluates the
tasks, and the results are saved as `lm_eval --output_path` would (out/alpha_<alpha>/...). Then one table
(out/sweep.md, out/sweep.csv) and, with --plot, PNGs in out/plots/. With `--replicas R` the alphas are spread over
R Ray replicas (each its own engine, swapping weights in place the same way), for sweeps on many GPUs or nodes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lm_eval_tts.errors import UserError

# Keys the sweep sets itself for every alpha; the user cannot also give them in --model_args.
_SWEEP_KEYS = ("pretrained", "base", "alpha", "weights", "checkpoints")
# model_args that place the --replicas on Ray; the driver uses them, the replicas' own models do not get them.
_REPLICA_KEYS = ("ray_address", "replica_cpus", "replica_gpus")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pretrained", required=True, metavar="LATE",
                        help="late checkpoint (weight alpha); the engine starts on it, tokenizer/config come from it")
    parser.add_argument("--base", required=True, metavar="EARLY", help="early checkpoint (weight 1 - alpha)")
    parser.add_argument("--alphas", required=True, metavar="SPEC",
                        help="start:stop:step (stop included, e.g. 0:1.2:0.1) or a list (e.g. 0,0.5,1); "
                             "< 0 or > 1 extrapolates")
    parser.add_argument("--tasks", required=True,
                        help="comma-separated lm-eval task names (e.g. gsm8k_tts,math500_tts)")
    parser.add_argument("--output_path", required=True, type=Path, metavar="DIR",
                        help="results per alpha (DIR/alpha_<a>/), the table DIR/sweep.md and DIR/sweep.csv")
    parser.add_argument("--model_args", default="", metavar="K=V,...",
                        help="other wise_fire model_args, e.g. backend=hf,fire=True,seed=1,max_model_len=4096 "
                             "(backend defaults to vllm)")
    parser.add_argument("--gen_kwargs", default=None, metavar="K=V,...", help="as lm_eval --gen_kwargs")
    parser.add_argument("--metadata", default=None, metavar="JSON",
                        help='task options as a JSON object, e.g. \'{"repeats": 8, "ks": [1, 4, 8]}\'')
    parser.add_argument("--num_fewshot", type=int, default=None)
    parser.add_argument("--limit", type=float, default=None, metavar="N",
                        help="first N docs per task (a fraction if < 1), for quick checks")
    parser.add_argument("--apply_chat_template", action="store_true")
    parser.add_argument("--system_instruction", default=None)
    parser.add_argument("--log_samples", action="store_true", help="also save every sample, as lm_eval does")
    parser.add_argument("--confirm_run_unsafe_code", action="store_true", help="needed by code tasks")
    parser.add_argument("--plot", action="store_true",
                        help="write PNGs to DIR/plots: metrics vs alpha, and metric@k vs k with one line per alpha")
    parser.add_argument("--replicas", type=int, default=1, metavar="R",
                        help="spread the alphas over R Ray replicas, each its own engine (default 1: one engine "
                             "here); --model_args ray_address=auto|HOST:PORT joins a cluster, replica_cpus/"
                             "replica_gpus size each replica")


def run(args: argparse.Namespace) -> int:
    from lm_eval_tts.sweep.alphas import format_alpha, parse_alphas
    from lm_eval_tts.sweep.evaluate import EvalSettings, task_manager
    from lm_eval_tts.sweep.summary import sweep_rows, sweep_runs, write_plots, write_tables

    alphas = parse_alphas(args.alphas)
    model_args = _model_args(args.model_args)
    metadata = _metadata(args.metadata)
    if args.output_path.exists() and not args.output_path.is_dir():
        raise UserError(f"--output_path {args.output_path}: exists and is not a directory; give a directory")
    _check_mergeable(args.pretrained, args.base)
    tasks = _check_tasks(args.tasks, task_manager(model_args, metadata))
    settings = EvalSettings(
        tasks=tasks, num_fewshot=args.num_fewshot, limit=_limit(args.limit), gen_kwargs=args.gen_kwargs,
        apply_chat_template=args.apply_chat_template, system_instruction=args.system_instruction,
        log_samples=args.log_samples, confirm_run_unsafe_code=args.confirm_run_unsafe_code,
    )
    results = []
    for result in _sweep(args, alphas, model_args, metadata, settings):
        print(f"alpha={format_alpha(result.alpha)}: swap {result.swap_seconds:.1f} s, evaluation "
              f"{result.eval_seconds:.1f} s, results in {result.output_dir}", file=sys.stderr)
        results.append(result)
    runs = sweep_runs(results)
    rows = sweep_rows(runs)
    written = write_tables(rows, args.output_path)
    print(written[0].read_text(), end="")
    if args.plot:
        written += write_plots(runs, args.output_path)
    for path in written:
        print(f"wrote {path}")
    return 0


def _sweep(args, alphas, model_args: dict, metadata: dict, settings):
    """One engine here (--replicas 1), or the alphas spread over Ray replicas."""
    from lm_eval_tts.sweep.evaluate import run_sweep, run_sweep_on_replicas, task_manager

    if args.replicas < 1:
        raise UserError(f"--replicas {args.replicas}: give a number of replicas >= 1")
    if args.replicas == 1:
        from lm_eval_tts.models.wise_fire import WiseFireLM

        lm = WiseFireLM(pretrained=args.pretrained, **model_args)  # the one engine of the sweep, started on LATE
        return run_sweep(lm, args.pretrained, args.base, alphas, model_args, settings,
                         task_manager(model_args, metadata), args.output_path)
    from lm_eval_tts.engines.replicas import ReplicaOptions
    from lm_eval_tts.models.args import parse_model_args

    if "data_parallel_size" in model_args:
        raise UserError("--replicas spreads the alphas over replicas; data_parallel_size (every alpha on several "
                        "replicas) cannot be combined with it: drop one of them")
    parsed = parse_model_args({"pretrained": args.pretrained, **model_args})  # bad model_args fail before Ray starts
    options = ReplicaOptions.for_engine(args.replicas, parsed.engine_kwargs, cpus=parsed.replica_cpus,
                                        gpus=parsed.replica_gpus, ray_address=parsed.ray_address)
    replica_args = {k: v for k, v in model_args.items() if k not in _REPLICA_KEYS}
    return run_sweep_on_replicas(args.pretrained, args.base, alphas, replica_args, settings, metadata,
                                 args.output_path, options)


def _model_args(text: str) -> dict:
    from lm_eval.utils import simple_parse_args_string

    try:
        parsed = simple_parse_args_string(text) if text.strip() else {}
    except (ValueError, SyntaxError):
        raise UserError(f"--model_args {text!r}: expected key=value pairs separated by commas") from None
    clash = [k for k in _SWEEP_KEYS if k in parsed]
    if clash:
        raise UserError(f"--model_args sets {clash[0]}, which the sweep sets for every alpha; "
                        f"use --pretrained/--base/--alphas instead")
    return {"backend": "vllm", **parsed}


def _metadata(text: str | None) -> dict:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"--metadata is not valid JSON ({err.msg}); "
                        f"give an object, e.g. '{{\"repeats\": 8}}'") from None
    if not isinstance(value, dict):
        raise UserError("--metadata must be a JSON object, e.g. '{\"repeats\": 8}'")
    return value


def _limit(value: float | None) -> int | float | None:
    if value is None:
        return None
    if value <= 0:
        raise UserError(f"--limit {value:g}: give a positive number of docs (or a fraction below 1)")
    return int(value) if value >= 1 else value


def _check_mergeable(pretrained: str, base: str) -> None:
    """Refuse incompatible checkpoints before the (slow) engine start: headers and configs only."""
    from lm_eval_tts.merge.plan import plan_merge
    from lm_eval_tts.merge.spec import MergeSpec

    plan_merge(MergeSpec.from_alpha(pretrained, base, 0.5))


def _check_tasks(text: str, task_manager) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UserError("--tasks is empty; give task names, e.g. --tasks gsm8k_tts")
    for name in names:
        if not (name.endswith(".yaml") and Path(name).is_file()) and not task_manager.match_tasks([name]):
            raise UserError(f"--tasks: unknown task {name!r}; list them with `lm_eval ls tasks`")
    return names
