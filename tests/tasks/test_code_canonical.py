"""The shipped problem sets are gradable: reference solutions pass their own tests through the real sandbox."""

import time

import pytest

from lm_eval_tts.execution import codec
from tests.tasks.test_code_results import build_task


def _failures(task, docs, programs):
    graded = task.grade_responses([[p] for p in programs], docs)
    return {d["task_id"]: (r[0]["grade"], r[0]["detail"][:120]) for d, r in zip(docs, graded) if not r[0]["correct"]}


def test_mbpp_reference_code_passes_its_tests_on_the_whole_test_split():
    task = build_task("mbpp/mbpp_tts.yaml", repeats=1)
    docs = list(task.eval_docs)
    start = time.monotonic()
    failed = _failures(task, docs, [d["code"] for d in docs])
    rate = 1 - len(failed) / len(docs)
    print(f"MBPP reference solutions: {len(docs) - len(failed)}/{len(docs)} pass ({rate:.2%}) in "
          f"{time.monotonic() - start:.1f} s; failing: {failed}")
    assert len(docs) == 500 and rate >= 0.99, failed


def test_humaneval_canonical_solutions_pass_check():
    """prompt + canonical_solution passes each problem's own check() for all 164 (the program as a completion
    response, exactly as OpenAI's harness builds it)."""
    task = build_task("humaneval/humaneval_tts.yaml", repeats=1)
    docs = list(task.eval_docs)
    assert len(docs) == 164
    assert not _failures(task, docs, [d["canonical_solution"] for d in docs])


@pytest.mark.slow
@pytest.mark.parametrize("yaml, count", [("mbpp/mbpp_plus_tts.yaml", 378), ("humaneval/humaneval_plus_tts.yaml", 164)])
def test_evalplus_canonical_solutions_match_the_shipped_expected_outputs(yaml, count):
    task = build_task(yaml, repeats=1)
    docs = list(task.eval_docs)
    assert len(docs) == count
    programs = [d["prompt"] + d["canonical_solution"] for d in docs]
    assert not _failures(task, docs, programs)


def test_mbpp_plus_catches_a_solution_that_only_knows_the_examples():
    """A program that returns the right outputs for the base inputs and nothing else passes exactly those tests,
    which come first in tests_passed (the doc's n_base): MBPP+'s extra inputs catch it."""
    task = build_task("mbpp/mbpp_plus_tts.yaml", repeats=2)
    (doc,) = [d for d in task.eval_docs if d["task_id"] == "Mbpp/3"]
    tests = task.evalplus_tests["Mbpp/3"]
    base = zip(tests.inputs[: doc["n_base"]], tests.expected[: doc["n_base"]])
    table = {repr(tuple(codec.decode(a))): codec.decode(e) for a, e in base}
    memorised = f"def is_not_prime(*args):\n    return {table!r}.get(repr(args))"
    ((right, bad),) = task.grade_responses([[doc["prompt"] + doc["canonical_solution"], memorised]], [doc])
    n_base = doc["n_base"]
    assert right["correct"] and len(right["tests_passed"]) == len(tests.inputs) > n_base == 5
    assert not bad["correct"] and bad["grade"] == "wrong_answer"
    assert bad["tests_passed"][:n_base] == [True] * n_base and not all(bad["tests_passed"][n_base:])
