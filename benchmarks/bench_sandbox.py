"""Sandboxed executions per second on the MBPP reference solutions: warm worker pool vs a fresh interpreter.

Workload: the reference ``code`` of every MBPP test-split problem (task_id 11-510: 500, the complete published
file this package ships) with all its asserts, repeated ``--reps`` times.

* Baseline: for every program, start a fresh sandboxed interpreter (the same bubblewrap command line, the same
  rlimits and privilege drop, the same builtins) that runs the program and its asserts and reports by exit status;
  one launcher per core, not pinned (pinning each launcher to a core made it slower here: 76-79 vs 83 programs/s).
  (Its exit-status verdict is forgeable; it is here only for speed.)
* Ours: ``grade_programs`` on a ``SandboxPool`` (per core a warm fork server and a driver, each in its own sandbox,
  both pinned to that core;
  per program a forked process in its own user/mount/IPC namespaces; asserts checked by the driver on plain values,
  one call at a time). The headline ratio includes the pool's start-up; the second ratio leaves out that one-time
  cost (about 0.14 s here, paid once per run, whatever its size), which is what a run of thousands of programs sees.

    python benchmarks/bench_sandbox.py [--rounds 3] [--reps 2] [--baseline-reps 1] [--mode bwrap]

Baseline and pool alternate in rounds, so a change of load on a shared machine hits both; the median ratio is
reported.

* Floor: the programs alone, each forked from this process and run with no sandbox at all, one after another (their
  own compute). No runner can take less wall time than max(compute / workers, the longest program), so the
  speed-up over the baseline is bounded by baseline / floor (Amdahl). On MBPP one reference solution
  (task 123, amicable numbers below 10,000) computes for about 2 s, most of the whole set's compute; the script
  prints the bound and the overhead ratio (baseline - floor) / (ours - floor), the part a sandbox can change.

Goal: >= 5x (issue 11); it must never fall below 3x.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from compute_floor import floor_seconds, forked_seconds

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


def ours(cases: list[AssertCase], mode: str, limits: Limits, total: float, workers: int) -> tuple[float, float, int]:
    """(start-up seconds: the pool's start and one trivial program per worker, grading seconds, passed)."""
    t0 = time.perf_counter()
    pool = SandboxPool(workers=workers, limits=limits, mode=mode)
    try:
        grade_programs([AssertCase("pass", ())] * workers, timeout_per_test=total, timeout_total=total, pool=pool,
                       progress=False)
        t1 = time.perf_counter()
        verdicts = grade_programs(cases, timeout_per_test=total, timeout_total=total, pool=pool, progress=False)
        t2 = time.perf_counter()
    finally:
        pool.close()
    return t1 - t0, t2 - t1, sum(v.passed for v in verdicts)


def program_times(cases: list[AssertCase]) -> list[float]:
    """Each program's own wall time with its asserts, no sandbox (``compute_floor``)."""

    def runner(case: AssertCase):
        source = case.setup + "\n" + case.program + "\n" + "\n".join(case.tests)
        return lambda: exec(compile(source, "<program>", "exec"), {})

    return [forked_seconds(runner(case)) for case in cases]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (baseline, then ours); median ratio")
    ap.add_argument("--reps", type=int, default=2, help="repetitions of the programs for the pool, per round")
    ap.add_argument("--baseline-reps", type=int, default=1, help="repetitions for the baseline, per round")
    ap.add_argument("--mode", default=None, help="sandbox mode (default: strongest available)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=30.0, help="per-program wall timeout, both sides")
    args = ap.parse_args()
    mode = args.mode or isolation.detect_mode()
    limits = Limits()
    cases = load_cases()
    print(f"{len(cases)} MBPP test-split reference programs ({next(p for p in DATA if p.exists())}), mode={mode}, "
          f"workers={args.workers}, {args.rounds} interleaved rounds")
    ratios, steady, starts, totals = [], [], [], [0.0, 0, 0.0, 0]
    for r in range(args.rounds):
        t_base, ok_base = baseline(cases * args.baseline_reps, mode, limits, args.timeout, args.workers)
        n_base = len(cases) * args.baseline_reps
        start, t_steady, ok_ours = ours(cases * args.reps, mode, limits, args.timeout, args.workers)
        t_ours = start + t_steady
        n_ours = len(cases) * args.reps
        r_base, r_ours = n_base / t_base, n_ours / t_ours
        ratios.append(r_ours / r_base)
        steady.append((n_ours / t_steady) / r_base)
        starts.append(start)
        totals = [totals[0] + t_base, totals[1] + n_base, totals[2] + t_ours, totals[3] + n_ours]
        print(f"round {r + 1}: baseline (fresh sandboxed interpreter per program) {r_base:.1f} programs/s "
              f"(passed {ok_base}/{n_base}), ours (warm worker pool) {r_ours:.1f} programs/s "
              f"(passed {ok_ours}/{n_ours}): {ratios[-1]:.2f}x; without the pool's {start:.2f} s start-up "
              f"{steady[-1]:.2f}x")
    print(f"all rounds: baseline {totals[1] / totals[0]:.1f} programs/s, ours {totals[3] / totals[2]:.1f} programs/s")
    print(f"speed-up: {statistics.median(ratios):.2f}x median of {args.rounds} rounds "
          f"({min(ratios):.2f}-{max(ratios):.2f}; goal >= 5x, never below 3x); once started (a run starts its pool "
          f"once, {statistics.median(starts):.2f} s): {statistics.median(steady):.2f}x "
          f"({min(steady):.2f}-{max(steady):.2f})")
    times = program_times(cases)
    rounds = args.rounds
    t_base, t_ours = totals[0] / rounds, totals[2] / rounds  # one round of each
    f_base, f_ours = (floor_seconds(times, args.baseline_reps, args.workers),
                      floor_seconds(times, args.reps, args.workers))
    n_base, n_ours = len(cases) * args.baseline_reps, len(cases) * args.reps
    bound = (n_ours / f_ours) / (n_base / t_base)
    print(f"floor (the programs' own compute, no sandbox: {sum(times):.2f} s in all, longest {max(times):.2f} s): "
          f"no runner can exceed {bound:.2f}x the baseline here (ours: {statistics.median(ratios) / bound:.0%} of that)")
    print(f"sandbox overhead per program: baseline {1000 * (t_base - f_base) / n_base:.2f} ms, "
          f"ours {1000 * (t_ours - f_ours) / n_ours:.2f} ms (pool start-up included): "
          f"{((t_base - f_base) / n_base) / ((t_ours - f_ours) / n_ours):.1f}x less")

if __name__ == "__main__":
    main()
