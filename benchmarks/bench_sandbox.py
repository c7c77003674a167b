"""Sandboxed executions per second on the MBPP reference solutions: warm worker pool vs a fresh interpreter.

Workload: the reference ``code`` of every MBPP test-split problem (task_id 11-510: 500 with the complete published
file, 441 with the copy this package ships) with all its asserts, repeated ``--reps`` times.

* Baseline: for every program, start a fresh sandboxed interpreter (the same bubblewrap command line, the same
  rlimits and privilege drop, the same builtins) that runs the program and its asserts and reports by exit status;
  one launcher per core. (Its exit-status verdict is forgeable; it is here only for speed.)
* Ours: ``grade_programs`` on a ``SandboxPool`` (per core a warm fork server and a driver, each in its own sandbox;
  per program a forked process in its own user/mount/IPC namespaces; asserts checked by the driver on plain values,
  one call at a time). Pool start-up included.

    python benchmarks/bench_sandbox.py [--reps 5] [--baseline-reps N (default: --reps)] [--mode bwrap]

Goal: >= 5x (issue 11); it must never fall below 3x.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lm_eval_tts.execution import isolation
from lm_eval_tts.execution.isolation import Limits
from lm_eval_tts.execution.pool import SandboxPool
from lm_eval_tts.grading.code import AssertCase, grade_programs

ROOT = Path(__file__).resolve().parents[1]
DATA = [Path("/work/shared/data/mbpp.jsonl"), ROOT / "task_configs/mbpp/data/mbpp.jsonl"]

# Fresh-interpreter runner: same limits as the pool's program processes, verdict = exit status.
RUNNER = r"""
import json, os, resource, site, sys
site.setquit(); site.setcopyright(); site.sethelper()
job = json.loads(sys.stdin.read())
if job["uid"] is not None:
    os.setgroups([]); os.setgid(job["uid"]); os.setuid(job["uid"])
mem = job["memory_mb"] * 1024 * 1024
for res, v in ((resource.RLIMIT_CPU, job["cpu"]), (resource.RLIMIT_AS, mem), (resource.RLIMIT_DATA, mem),
               (resource.RLIMIT_FSIZE, job["fsize"]), (resource.RLIMIT_NOFILE, job["nofile"]),
               (resource.RLIMIT_NPROC, job["nproc"]), (resource.RLIMIT_CORE, 0)):
    resource.setrlimit(res, (v, v))
os.makedirs("/tmp/run", exist_ok=True); os.chdir("/tmp/run")
exec(compile(job["setup"] + "\n" + job["program"] + "\n" + "\n".join(job["tests"]), "<program>", "exec"), {})
"""


def load_cases() -> list[AssertCase]:
    path = next(p for p in DATA if p.exists())
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [
        AssertCase(r["code"], tuple(r["test_list"]), r["test_setup_code"])
        for r in records
        if 11 <= r["task_id"] <= 510
    ]


def baseline(cases: list[AssertCase], mode: str, limits: Limits, total: float, workers: int) -> tuple[float, int]:
    argv = isolation.worker_argv(mode, os.path.realpath(sys.executable), ["-c", RUNNER], limits.scratch_mb)
    nproc = isolation.nproc_limit(mode, limits)
    env = isolation.sandbox_env("/tmp")

    def run(case: AssertCase) -> bool:
        job = {"uid": isolation.drop_to_uid(mode), "memory_mb": limits.memory_mb, "cpu": int(total) + 1,
               "fsize": limits.file_size_mb << 20, "nofile": limits.open_files, "nproc": nproc,
               "setup": case.setup, "program": case.program, "tests": list(case.tests)}
        try:
            done = subprocess.run(argv, input=json.dumps(job).encode(), capture_output=True, timeout=total, env=env,
                                  cwd="/")
        except subprocess.TimeoutExpired:
            return False
        return done.returncode == 0

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as ex:
        passed = sum(ex.map(run, cases))
    return time.perf_counter() - t0, passed


def ours(cases: list[AssertCase], mode: str, limits: Limits, total: float, workers: int) -> tuple[float, int]:
    t0 = time.perf_counter()
    pool = SandboxPool(workers=workers, limits=limits, mode=mode)
    try:
        verdicts = grade_programs(cases, timeout_per_test=total, timeout_total=total, pool=pool, progress=False)
    finally:
        pool.close()
    return time.perf_counter() - t0, sum(v.passed for v in verdicts)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=5, help="repetitions of the 441 programs for the pool")
    ap.add_argument("--baseline-reps", type=int, default=None, help="repetitions for the baseline (default: --reps)")
    ap.add_argument("--mode", default=None, help="sandbox mode (default: strongest available)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=30.0, help="per-program wall timeout, both sides")
    args = ap.parse_args()
    mode = args.mode or isolation.detect_mode()
    limits = Limits()
    cases = load_cases()
    print(f"{len(cases)} MBPP test-split reference programs ({next(p for p in DATA if p.exists())}), mode={mode}, "
          f"workers={args.workers}")

    args.baseline_reps = args.baseline_reps or args.reps
    t_base, ok_base = baseline(cases * args.baseline_reps, mode, limits, args.timeout, args.workers)
    n_base = len(cases) * args.baseline_reps
    t_ours, ok_ours = ours(cases * args.reps, mode, limits, args.timeout, args.workers)
    n_ours = len(cases) * args.reps
    r_base, r_ours = n_base / t_base, n_ours / t_ours
    print(f"baseline (fresh sandboxed interpreter per program): {n_base} runs in {t_base:.1f} s = {r_base:.1f} "
          f"programs/s, passed {ok_base}/{n_base}")
    print(f"ours (warm worker pool):                            {n_ours} runs in {t_ours:.1f} s = {r_ours:.1f} "
          f"programs/s, passed {ok_ours}/{n_ours}")
    print(f"speed-up: {r_ours / r_base:.2f}x (goal >= 5x, never below 3x)")


if __name__ == "__main__":
    main()
