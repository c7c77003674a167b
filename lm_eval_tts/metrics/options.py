"""Task options of the metrics (every `*_tts` task), given like the tasks' own: `--metadata key=value ...` or JSON.

    bom_threshold   Best-of-Majority: an answer is a candidate when at least this fraction of the N samples gave
                    it (default 1/8; see metrics.selection for why)
    bom_samples     N, the samples the selection rules (bom, majtop, bontop) draw from; default all n (`repeats`);
                    N < n reports the expectation over N-subsets of the n samples
    fp_cost         verifier false positives (code tasks with weak and strong tests): the cost of submitting a
                    wrong program that passed the weak tests, relative to abstaining (0) and a correct one (+1);
                    default 1 (a false positive undoes one correct answer)

lm-eval merges `--model_args` into the same metadata dict, so keys that are not options are left alone; a near
miss of one of these names (`bom_treshold`) is rejected with a suggestion, as the tasks' own options are.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from lm_eval_tts.errors import UserError
from lm_eval_tts.metrics.selection import DEFAULT_THRESHOLD, check_n_drawn, check_threshold

OPTIONS = ("bom_threshold", "bom_samples", "fp_cost")
DEFAULT_FP_COST = 1.0
_TYPO_CUTOFF = 0.8


@dataclass(frozen=True)
class MetricOptions:
    bom_threshold: Fraction = DEFAULT_THRESHOLD
    bom_samples: int | None = None  # None: all n samples
    fp_cost: float = DEFAULT_FP_COST


def parse_metric_options(metadata: Mapping[str, Any] | None, repeats: int) -> MetricOptions:
    """Validated metric options from a task's metadata (`repeats`: its samples per problem n); UserError, one
    line naming the option and the fix. Call it where the task is built, before any sample is drawn."""
    metadata = dict(metadata or {})
    for key in metadata:
        if key not in OPTIONS:
            close = difflib.get_close_matches(key, OPTIONS, n=1, cutoff=_TYPO_CUTOFF)
            if close:
                raise UserError(f"unknown task option {key!r} (did you mean {close[0]!r}?); "
                                f"metric options: {', '.join(OPTIONS)}")
    samples = metadata.get("bom_samples")
    if samples is not None:
        check_n_drawn(samples, repeats)
    cost = metadata.get("fp_cost", DEFAULT_FP_COST)
    if isinstance(cost, bool) or not isinstance(cost, (int, float)) or not math.isfinite(cost) or cost < 0:
        raise UserError(f"task option fp_cost={cost!r}: must be a number >= 0 (the cost of a false positive "
                        f"relative to a correct answer's +1), e.g. fp_cost=1")
    return MetricOptions(
        bom_threshold=check_threshold(metadata.get("bom_threshold", DEFAULT_THRESHOLD)),
        bom_samples=samples,
        fp_cost=float(cost),
    )
