"""Verifier false positives: what resampling against weak tests is worth when only strong tests tell the truth.

After Stroebl, Kapoor, Narayanan 2024, "Inference Scaling fLaws: The Limits of LLM Resampling with Imperfect
Verifiers" (arXiv:2411.17501). A code problem has weak tests (MBPP's or HumanEval's own, LiveCodeBench's public
ones) and strong tests (those plus EvalPlus's extra inputs, or LiveCodeBench's hidden ones). Of one problem's n
samples, w pass the weak tests: t of them also pass the strong tests (true positives) and f = w - t do not
(false positives). Strong implies weak (the strong tests include the weak ones).

Resampling with budget k: draw up to k samples one by one (without replacement) and submit the first that passes
the weak tests; abstain (utility 0) if none does. A submitted correct program is worth +1, a false positive
-fp_cost. In a uniformly random order the first weak-passing sample is uniform over the w of them and independent
of its position, so, exactly,
    P(submit) = 1 - C(n - w, k) / C(n, k)            (pass@k under the weak tests)
    utility@k = P(submit) * (t - fp_cost * f) / w    (0 when w = 0).
As k grows P(submit) -> 1 (when w > 0), so accuracy under resampling is capped by
    resampling_limit = t / w                         (0 when w = 0),
however large the budget: a weak verifier cannot be out-sampled. The curve of utility@k bends down once the
rising chance of submitting is outweighed by the false positives it submits; the best k maximises its mean over
problems. The false-positive rate P(fails strong | passes weak) pools samples over problems: sum f / sum w.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lm_eval_tts.metrics.estimators import check_k, pass_at_k

WEAK_PASSED = "weak_passed"  # the per-sample record field of tasks with weak tests: it passed them


@dataclass(frozen=True)
class VerifierCounts:
    """One problem's samples: n in all, true_pos passing weak and strong tests, false_pos passing only weak."""

    n: int
    true_pos: int
    false_pos: int

    @property
    def weak_passed(self) -> int:
        return self.true_pos + self.false_pos


def verifier_counts(weak_passed: Sequence[bool], strong_passed: Sequence[bool]) -> VerifierCounts:
    """Counts from per-sample verdicts under the weak and the strong tests."""
    if len(weak_passed) != len(strong_passed):
        raise ValueError(f"{len(weak_passed)} weak verdicts but {len(strong_passed)} strong ones")
    if any(strong and not weak for weak, strong in zip(weak_passed, strong_passed)):
        raise ValueError("a sample passed the strong tests but not the weak ones, which they include: "
                         "the weak tests must be a subset of the strong tests")
    true_pos = sum(bool(s) for s in strong_passed)
    return VerifierCounts(len(strong_passed), true_pos, sum(bool(w) for w in weak_passed) - true_pos)


def resampling_utility(counts: VerifierCounts, k: int, fp_cost: float) -> float:
    """Expected utility of resampling up to k times and submitting the first weak-passing sample (see module)."""
    check_k(k, counts.n)
    if counts.weak_passed == 0:
        return 0.0
    precision_utility = (counts.true_pos - fp_cost * counts.false_pos) / counts.weak_passed
    return pass_at_k(counts.n, counts.weak_passed, k) * precision_utility


def resampling_limit(counts: VerifierCounts) -> float:
    """Accuracy of resampling with an unlimited budget: t / w (0 when no sample passes the weak tests)."""
    return counts.true_pos / counts.weak_passed if counts.weak_passed else 0.0


def utility_curve(counts: VerifierCounts, fp_cost: float) -> tuple[float, ...]:
    """utility@k for k = 1 .. n."""
    return tuple(resampling_utility(counts, k, fp_cost) for k in range(1, counts.n + 1))


def best_k(mean_curve: Sequence[float]) -> int:
    """The k (1-based) with the highest mean utility; the smallest such k on ties (fewer samples cost less)."""
    if not mean_curve:
        raise ValueError("an empty utility curve has no best k")
    return max(range(len(mean_curve)), key=lambda i: (mean_curve[i], -i)) + 1
