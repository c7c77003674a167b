"""The shipped problem sets are gradable: reference solutions pass their own tests through the real sandbox."""

import time

import pytest

from lm_eval_tts.execution import codec
from tests.tasks.test_code_results import build_task


def test_mbpp_reference_code_passes_its_tests_on_the_whole_test_split():
    task = build_task("mbpp/mbpp_tts.yaml", repeats=1)
    docs = list(task.eval_docs)
    start = time.monotonic()
    graded = task.grade_responses([[d["code"]] for d in docs], docs)
    seconds = time.monotonic() - start
    failed = {d["task_id"]: (r[0]["grade"], r[0]["detail"][:120]) for d, r in zip(docs, graded) if not r[0]["correct"]}
    rate = 1 - len(failed) / len(docs)
    print(f"MBPP reference solutions: {len(docs) - len(failed)}/{len(docs)} pass ({rate:.2%}) in {seconds:.1f} s; "
          f"failing: {failed}")
    assert len(docs) == 441 and rate >= 0.99, failed


@pytest.mark.slow
def test_mbpp_plus_canonical_solutions_match_the_shipped_expected_outputs():
    task = build_task("mbpp/mbpp_plus_tts.yaml", repeats=1)
    docs = list(task.eval_docs)
    graded = task.grade_responses([[d["canonical_solution"]] for d in docs], docs)
    failed = {d["task_id"]: (r[0]["grade"], r[0]["detail"][:120]) for d, r in zip(docs, graded) if not r[0]["correct"]}
    assert len(docs) >= 360 and not failed, failed


def test_mbpp_plus_catches_a_solution_that_only_knows_the_examples():
    """A program that returns the right outputs for the three example inputs and nothing else passes exactly
    those three tests: MBPP+'s extra inputs catch it."""
    task = build_task("mbpp/mbpp_plus_tts.yaml", repeats=2)
    (doc,) = [d for d in task.eval_docs if d["task_id"] == "Mbpp/2"]
    table = {repr(tuple(codec.decode(a))): codec.decode(e) for a, e in zip(doc["inputs"][:3], doc["expected"][:3])}
    memorised = f"def similar_elements(*args):\n    return {table!r}.get(repr(args))"
    ((right, bad),) = task.grade_responses([[doc["canonical_solution"], memorised]], [doc])
    assert right["correct"] and len(right["tests_passed"]) == len(doc["inputs"]) > 3
    assert not bad["correct"] and bad["grade"] == "wrong_answer"
    assert bad["tests_passed"].count(True) == 3 and all(bad["tests_passed"][:3])
