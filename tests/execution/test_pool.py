"""The pool survives losing a fork server or a driver (killed or wedged): that job is a sandbox error, never a pass,
the old sandboxes leave no process behind, and workers replaced in a batch outlive it."""

import os
import signal
import threading
import time

from lm_eval_tts.execution.pool import SandboxPool
from lm_eval_tts.grading.code import AssertCase, StdioCase, _job, grade_programs
from tests.execution.test_hostile import descendants

SLOW = AssertCase("import time\ntime.sleep(3)\ndef f():\n    return 1\n", ("assert f() == 1",))
GOOD = AssertCase("def f():\n    return 1\n", ("assert f() == 1",))


def test_killed_worker_fails_its_job_and_is_replaced():
    pool = SandboxPool(1, grace_seconds=2.0)
    try:
        launcher = pool.worker_pids()[0]  # a worker's first sandbox is its fork server's
        server = sorted(descendants([launcher]) or [launcher])[0]  # the fork server (PID 1 of its namespace)
        threading.Timer(1.0, lambda: os.kill(server, signal.SIGKILL)).start()
        (lost,) = grade_programs([SLOW], pool=pool, progress=False)
        assert not lost.passed and lost.failure == "sandbox_error"
        assert pool.restarts == 1 and launcher not in pool.worker_pids()
        time.sleep(0.2)
        assert not descendants([launcher]) and not os.path.exists(f"/proc/{launcher}")  # old sandbox fully gone
        time.sleep(0.5)  # the batch's thread has ended: the new worker must not have died with it
        (v,) = grade_programs([GOOD], pool=pool, progress=False)
        assert v.passed and pool.restarts == 1
    finally:
        pool.close()


def test_wedged_sandbox_is_abandoned_after_the_grace_period():
    pool = SandboxPool(1, grace_seconds=1.0)
    try:
        launcher = pool.worker_pids()[0]

        def freeze():
            for pid in descendants([launcher]) | {launcher}:
                os.kill(pid, signal.SIGSTOP)

        threading.Timer(0.5, freeze).start()
        t0 = time.monotonic()
        (lost,) = grade_programs([SLOW], timeout_per_test=2.0, timeout_total=2.0, pool=pool, progress=False)
        assert time.monotonic() - t0 < 2.0 + 1.0 + 5.0
        assert not lost.passed and lost.failure == "sandbox_error"
        (v,) = grade_programs([GOOD], pool=pool, progress=False)
        assert v.passed
    finally:
        pool.close()


def test_jobs_run_in_parallel_over_workers():
    sleepy = AssertCase("import time\ndef f():\n    time.sleep(1)\n    return 1\n", ("assert f() == 1",))
    pool = SandboxPool(2)
    try:
        t0 = time.monotonic()
        verdicts = grade_programs([sleepy] * 4, pool=pool, progress=False)
        assert all(v.passed for v in verdicts)
        assert time.monotonic() - t0 < 3.9  # 4 one-second programs on 2 workers: ~2 s, not 4 s
    finally:
        pool.close()


def test_each_result_is_handed_over_once_as_it_arrives():
    """``on_result`` gets every job's result once, while later jobs still run (so grading overlaps them)."""
    sleepy = AssertCase("import time\ndef f():\n    time.sleep(1)\n    return 1\n", ("assert f() == 1",))
    jobs = [_job(case, i, 6.0, 30.0) for i, case in enumerate([GOOD, sleepy, sleepy])]
    seen = []
    pool = SandboxPool(1)
    try:
        results = pool.run(jobs, on_result=lambda i, result: seen.append((i, result, time.monotonic())))
        end = time.monotonic()
    finally:
        pool.close()
    assert sorted(i for i, _, _ in seen) == [0, 1, 2]
    assert all(results[i] is result for i, result, _ in seen)
    assert end - seen[0][2] > 1.5  # the first result came while the two one-second programs still had to run


def test_each_worker_runs_its_programs_on_one_cpu_of_its_own():
    """Workers are pinned round robin over the CPUs this process may use (hand-overs stay on one CPU)."""
    cpus = sorted(os.sched_getaffinity(0))
    probe = StdioCase("import os\nprint(*sorted(os.sched_getaffinity(0)))\n", (("", ""),), setup="")
    pool = SandboxPool(len(cpus))
    try:
        seen = {w.cpu for w in pool._all}
        verdicts = grade_programs([probe] * (4 * len(cpus)), pool=pool, progress=False)
    finally:
        pool.close()
    assert seen == set(cpus)
    assert {v.outputs[0] for v in verdicts} <= {str(c) for c in cpus}


def test_losing_a_server_mid_batch_costs_only_the_running_job():
    quick = AssertCase("import time\ndef f():\n    time.sleep(0.05)\n    return 1\n", ("assert f() == 1",))
    pool = SandboxPool(1, grace_seconds=2.0)
    try:
        launcher = pool.worker_pids()[0]
        server = sorted(descendants([launcher]) or [launcher])[0]
        threading.Timer(0.5, lambda: os.kill(server, signal.SIGKILL)).start()
        verdicts = grade_programs([quick] * 40, pool=pool, progress=False)
        lost = [v for v in verdicts if not v.passed]
        assert len(lost) <= 1 and all(v.failure == "sandbox_error" for v in lost)
        assert pool.restarts == 1
    finally:
        pool.close()


def test_killed_driver_fails_its_job_and_is_replaced():
    pool = SandboxPool(1, grace_seconds=2.0)
    try:
        driver_launcher = pool.worker_pids()[1]
        driver = sorted(descendants([driver_launcher]) or [driver_launcher])[0]
        threading.Timer(1.0, lambda: os.kill(driver, signal.SIGKILL)).start()
        (lost,) = grade_programs([SLOW], pool=pool, progress=False)
        assert not lost.passed and lost.failure == "sandbox_error"
        (v,) = grade_programs([GOOD], pool=pool, progress=False)
        assert v.passed and pool.restarts == 1
    finally:
        pool.close()
