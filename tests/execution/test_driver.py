"""What a program sends back is bounded per value (``Limits.result_bytes``) and per job (``Limits.output_bytes``),
for returned values and stdout alike: beyond, ``output_limit``. The defaults fit the largest outputs of the shipped
data (HumanEval/130: an 11.4 MB value; HumanEval/15: 147 MB over 137 tests) and still stop a program that floods."""

import pytest

from lm_eval_tts.execution import codec
from lm_eval_tts.execution.isolation import Limits
from lm_eval_tts.execution.pool import SandboxPool
from lm_eval_tts.grading.code import AssertCase, CompareCase, StdioCase, encode_args, grade_programs

MIB = 1 << 20
STRING_SEQUENCE = "def string_sequence(n):\n    return ' '.join(str(i) for i in range(n + 1))\n"


@pytest.fixture(scope="module")
def small_pool():
    """Limits small enough that crossing them is quick: 1 MiB per value, 3 MiB per job."""
    pool = SandboxPool(1, Limits(result_bytes=MIB, output_bytes=3 * MIB))
    yield pool
    pool.close()


def _grade(case, pool=None):
    (verdict,) = grade_programs([case], pool=pool, progress=False, timeout_total=60.0)
    return verdict


def test_the_largest_shipped_outputs_fit_the_default_limits():
    # HumanEval/15's plus inputs call string_sequence near 10**6 (6.9 MB each) on 21 of its tests: 147 MB in one job
    expected = codec.encode(" ".join(map(str, range(10**6 + 1))))
    case = CompareCase(STRING_SEQUENCE, "string_sequence", (encode_args([10**6]),) * 22, (expected,) * 22)
    assert sum(map(len, case.expected)) > 150 * 10**6
    verdict = _grade(case)
    assert verdict.passed, (verdict.failure, verdict.detail)
    # HumanEval/130's largest expected value, 11.4 MB (tri(10**6): a list of 10**6 + 1 numbers)
    big = CompareCase("def f(n):\n    return [i * 7 for i in range(n)]\n", "f", (encode_args([10**6 + 1]),),
                      (codec.encode([i * 7 for i in range(10**6 + 1)]),))
    assert len(big.expected[0]) > 7 * MIB
    assert _grade(big).passed


def test_a_flood_of_returned_values_is_stopped_at_the_default_job_limit():
    # 30 MB per call (under the 32 MiB of one value) on 10 calls: the 9th goes beyond the 256 MiB of one job
    program = "def f(n):\n    return 'x' * (30 * 1000 * 1000)\n"
    case = CompareCase(program, "f", (encode_args([0]),) * 10, (codec.encode("x" * (30 * 1000 * 1000)),) * 10)
    verdict = _grade(case)
    assert verdict.tests_passed == (True,) * 8 + (False,) * 2, verdict.tests_passed
    assert verdict.failure == "output_limit" and "256 MiB allowed in one job" in verdict.detail, verdict.detail
    assert Limits().output_bytes == 256 * MIB


def test_one_value_beyond_the_value_limit_is_an_output_limit(small_pool):
    program = "def f(n):\n    return 'y' * n\n"
    fits = CompareCase(program, "f", (encode_args([MIB - 100]),), (codec.encode("y" * (MIB - 100)),))
    assert _grade(fits, small_pool).passed
    over = _grade(CompareCase(program, "f", (encode_args([MIB]),), (codec.encode("y" * MIB),)), small_pool)
    assert over.failure == "output_limit" and "1 MiB allowed for one value" in over.detail, over
    asserted = _grade(AssertCase(program, (f"assert f({MIB}) == 'y' * {MIB}",)), small_pool)
    assert asserted.failure == "output_limit", asserted


def test_values_beyond_the_job_limit_are_an_output_limit(small_pool):
    program = "def f(n):\n    return 'z' * n\n"
    n = MIB - 100  # each value fits; the fourth one goes beyond the job's 3 MiB
    verdict = _grade(CompareCase(program, "f", (encode_args([n]),) * 5, (codec.encode("z" * n),) * 5), small_pool)
    assert verdict.failure == "output_limit" and verdict.tests_passed[:3] == (True,) * 3, verdict
    assert "3 MiB allowed in one job" in verdict.detail


def test_stdout_is_bounded_per_test_and_per_job(small_pool):
    program = "import sys\nn = int(input())\nsys.stdout.write('w' * n)\n"
    n = MIB - 100
    fits = _grade(StdioCase(program, ((f"{n}\n", "w" * n),), setup=""), small_pool)
    assert fits.passed, fits
    over = _grade(StdioCase(program, ((f"{MIB + 1}\n", "w"),), setup=""), small_pool)
    assert over.failure == "output_limit", over
    tests = ((f"{n}\n", "w" * n),) * 4 + (("0\n", ""),)  # the fourth run is cut; nothing runs after it
    spent = _grade(StdioCase(program, tests, setup=""), small_pool)
    assert spent.failure == "output_limit" and spent.tests_passed == (True, True, True, False, False), spent
