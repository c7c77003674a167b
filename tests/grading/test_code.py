"""The code harness end to end through the real sandbox (strongest mode available), one test per behaviour."""

import json

import pytest

from lm_eval_tts.execution import codec
from lm_eval_tts.grading.code import (
    AssertCase,
    CompareCase,
    FunctionalCase,
    StdioCase,
    encode_args,
    grade_programs,
    reference_outputs,
)

ADD = "def add(a, b):\n    return a + b\n"


def grade(*cases, **kw):
    kw.setdefault("timeout_per_test", 3.0)
    kw.setdefault("timeout_total", 10.0)
    return grade_programs(list(cases), progress=False, **kw)


def test_assert_case_pass_and_partial():
    ok, partial = grade(
        AssertCase(ADD, ("assert add(1, 2) == 3", "assert add('a', 'b') == 'ab'")),
        AssertCase(ADD, ("assert add(1, 2) == 3", "assert add(1, 1) == 3")),
    )
    assert ok.passed and ok.tests_passed == (True, True) and ok.failure is None
    assert not partial.passed and partial.tests_passed == (True, False) and partial.failure == "wrong_answer"


def test_assert_case_setup_and_helpers_from_setup():
    program = "def area(r):\n    return math.pi * r * r\n"
    (v,) = grade(AssertCase(program, ("assert math.isclose(area(1), 3.14159, rel_tol=1e-3)",), "import math"))
    assert v.passed, v


def test_assert_case_program_may_define_builtin_named_function_under_test():
    program = "def sum(a, b):\n    return sum_ := a + b\n".replace("sum_ := ", "")
    (v,) = grade(AssertCase(program, ("assert sum(10, 15) == 25",)))
    assert v.passed, v


def test_assert_case_objects_and_methods():
    program = (
        "class Pair:\n    def __init__(self, a, b):\n        self.a, self.b = a, b\n"
        "    def total(self):\n        return self.a + self.b\n"
    )
    (v,) = grade(AssertCase(program, ("assert Pair(2, 3).total() == 5", "assert Pair(2, 3).a == 2")))
    assert v.passed, v


@pytest.mark.parametrize(
    "program, kind",
    [
        ("def add(a, b)\n    return a + b\n", "syntax"),
        ("def add(a, b):\n    raise ValueError('no')\n", "runtime_error"),
        ("def add(a, b):\n    while True:\n        pass\n", "timeout"),
        ("def add(a, b):\n    return bytearray(4 * 1024 ** 3)\n", "memory"),
        ("def add(a, b):\n    return 4\n", "wrong_answer"),
    ],
)
def test_assert_case_failure_kinds(program, kind):
    (v,) = grade(AssertCase(program, ("assert add(1, 2) == 3",)), timeout_per_test=1.0)
    assert not v.passed and v.failure == kind, v


def test_stdio_case():
    program = "n = int(input())\nprint(n * 2)\nprint('x  ')\n"
    good, bad, crash = grade(
        StdioCase(program, (("21\n", "42\nx\n"), ("1\n", "2\nx"))),
        StdioCase(program, (("21\n", "43\nx\n"),)),
        StdioCase(program, (("abc\n", "0\n"),)),
    )
    assert good.passed and good.tests_passed == (True, True)
    assert bad.failure == "wrong_answer"
    assert crash.failure == "runtime_error" and "ValueError" in crash.detail


def test_stdio_stderr_does_not_mix_into_stdout():
    (v,) = grade(StdioCase("import sys\nsys.stderr.write('debug\\n')\nprint(5)\n", (("", "5\n"),)))
    assert v.passed, v


def test_functional_case_uses_fresh_solution_and_prelude():
    program = (
        "class Solution:\n    def __init__(self):\n        self.calls = 0\n"
        "    def twoSum(self, nums: List[int], target: int) -> List[int]:\n        self.calls += 1\n"
        "        seen = {}\n        for i, x in enumerate(nums):\n            if target - x in seen:\n"
        "                return (seen[target - x], i + self.calls - 1)\n            seen[x] = i\n"
    )
    tests = (("[2,7,11,15]\n9", "[0, 1]"), ("[3,2,4]\n6", "[1, 2]"))
    (v,) = grade(FunctionalCase(program, "twoSum", tests))
    assert v.passed and v.tests_passed == (True, True), v
    (w,) = grade(FunctionalCase(program, "twoSum", (("[3,2,4]\n6", "[1, 3]"),)))
    assert w.failure == "wrong_answer"


def test_compare_case_with_reference_outputs_and_tolerance():
    reference = "def f(x):\n    return x / 3\n"
    inputs = tuple(encode_args(a) for a in ([1],[2.0],[-7]))
    expected = reference_outputs(reference, "f", inputs)
    assert [codec.decode(e) for e in expected] == [1 / 3, 2.0 / 3, -7 / 3]
    close = "def f(x):\n    return x / 3 + 1e-9\n"
    far = "def f(x):\n    return x / 3 + 1e-3\n"
    v_close, v_far, v_tol = grade(
        CompareCase(close, "f", inputs, tuple(expected)),
        CompareCase(far, "f", inputs, tuple(expected)),
        CompareCase(far, "f", inputs, tuple(expected), atol=1e-2),
    )
    assert v_close.passed and not v_far.passed and v_tol.passed


def test_a_missing_entry_point_says_so():
    (v,) = grade(CompareCase("def g():\n    return 1\n", "f", (encode_args([]),), (codec.encode(1),)))
    assert not v.passed and v.failure == "runtime_error" and "NameError: name 'f' is not defined" in v.detail, v


def test_compare_case_tuple_vs_list_is_a_difference():
    expected = (codec.encode((1, 2)),)
    (v,) = grade(CompareCase("def f():\n    return [1, 2]\n", "f", (encode_args([]),), expected))
    assert not v.passed


def test_empty_input_and_json_inputs():
    assert grade() == []
    (no_tests,) = grade(AssertCase(ADD, ()))
    assert not no_tests.passed and no_tests.failure == "sandbox_error"
    args = encode_args(json.loads('[{"b": 1, "a": 2}]'))
    (v,) = grade(CompareCase("def f(d):\n    return sorted(d)\n", "f", (args,), (codec.encode(["a", "b"]),)))
    assert v.passed


def test_mbpp_setup_building_objects_with_program_classes():
    """MBPP 927: the setup code builds a tree from the program's Node class, then the tests use it."""
    program = (
        "class Node:\n    def __init__(self, data):\n        self.data, self.left, self.right = data, None, None\n"
        "def max_height(node):\n"
        "    return 0 if node is None else 1 + max(max_height(node.left), max_height(node.right))\n"
    )
    setup = "root = Node(1)\nroot.left = Node(2)\nroot.left.left = Node(3)\nroot1 = Node(1)"
    (v,) = grade(AssertCase(program, ("assert (max_height(root)) == 3", "assert max_height(root1) == 1"), setup))
    assert v.passed, v


def test_builtin_types_as_arguments_and_truthy_objects():
    """MBPP 533 passes `int` as an argument; sanitized 737 asserts the truth value of a re.Match."""
    remove = "def remove_datatype(t, data_type):\n    return [x for x in t if not isinstance(x, data_type)]\n"
    check = "import re\ndef check_str(s):\n    return re.search('^[aeiou]', s)\n"
    v1, v2 = grade(
        AssertCase(remove, ("assert remove_datatype((4, 5, 7.7, 1.2), int) == [7.7, 1.2]",)),
        AssertCase(check, ('assert check_str("annie")', 'assert not check_str("dawood")')),
    )
    assert v1.passed and v2.passed, (v1, v2)


def test_iterators_and_lengths_of_returned_objects():
    program = "def evens(n):\n    return (x for x in range(n) if x % 2 == 0)\n"
    (v,) = grade(AssertCase(program, ("assert list(evens(5)) == [0, 2, 4]", "assert 4 in evens(5)")))
    assert v.passed, v
    (w,) = grade(AssertCase(program, ("assert evens(5) == [0, 2, 4]",)))
    assert not w.passed and w.failure == "wrong_answer"


def test_stdio_output_limit_and_timeout_kinds():
    flood = StdioCase("import sys\nwhile True:\n    sys.stdout.write('x' * 10 ** 6)\n", (("", "x\n"),), setup="")
    slow = StdioCase("import time\ntime.sleep(30)\n", (("", "x\n"), ("", "x\n")), setup="")
    (v_flood,) = grade(flood, timeout_per_test=8.0, timeout_total=8.0)
    (v_slow,) = grade(slow, timeout_per_test=1.0, timeout_total=1.5)
    assert v_flood.failure == "output_limit"
    assert v_slow.failure == "timeout" and v_slow.tests_passed == (False, False)


def test_compare_case_huge_ints_and_nan():
    program = "def f(n):\n    return 3 ** n\n"
    (v,) = grade(CompareCase(program, "f", (encode_args([5000]),), (codec.encode(3**5000),)))
    assert v.passed
    nan_program = "def f():\n    return float('nan')\n"
    (w,) = grade(CompareCase(nan_program, "f", (encode_args([]),), (codec.encode(float("nan")),)))
    # EvalPlus fails a nan output even against a nan reference (nan != nan, and numpy allclose has equal_nan off)
    assert not w.passed and w.failure == "wrong_answer"
