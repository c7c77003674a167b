"""The programs' own compute: the floor under any runner's wall time, shared by bench_sandbox.py and bench_grading.py.

Each program runs forked from the benchmark's process with no sandbox at all, one after another, so what is timed
is what its code computes (plus one fork). No runner, however cheap its sandbox, can finish a batch in less wall
time than max(total compute / workers, the longest program): a grader's speed-up is bounded by that (Amdahl), and
the part above the floor is the only part a sandbox can change.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable


def forked_seconds(run: Callable[[], object]) -> float:
    """Wall time of `run()` in a forked child (its exceptions end the child, as a failing program would)."""
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            run()
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    return time.perf_counter() - t0


def floor_seconds(times: list[float], reps: int, workers: int) -> float:
    """Lower bound on any runner's wall time for `reps` passes over programs taking `times` each."""
    return max(reps * sum(times) / workers, max(times))
