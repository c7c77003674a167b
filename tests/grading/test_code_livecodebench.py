"""LiveCodeBench formats through the harness: real release_v1 problems (public tests copied verbatim from the
dataset's `public_test_cases`) with solutions written and checked by hand, plus a wrong variant of each."""

import json

from lm_eval_tts.grading.code import FunctionalCase, StdioCase, grade_programs

SHORT_SORT = (  # codeforces 1873_A
    '[{"input": "6\\nabc\\nacb\\nbac\\nbca\\ncab\\ncba\\n", "output": "YES\\nYES\\nYES\\nNO\\nNO\\nYES\\n", '
    '"testtype": "stdin"}]'
)
SHORT_SORT_OK = """
t = int(input())
for _ in range(t):
    s = input().strip()
    print("YES" if sum(a != b for a, b in zip(s, "abc")) in (0, 2) else "NO")
"""
LONG_LOONG = (  # atcoder abc336_a
    '[{"input": "3\\n", "output": "Looong\\n", "testtype": "stdin"}, '
    '{"input": "1\\n", "output": "Long\\n", "testtype": "stdin"}]'
)
LONG_LOONG_OK = "n = int(input())\nprint('L' + 'o' * n + 'ng')\n"

FUNCTIONAL = {
    # question_id: (metadata func_name, public_test_cases, correct solution, wrong solution)
    "2756": ("buyChoco",
             '[{"input": "[1, 2, 2]\\n3", "output": "0", "testtype": "functional"}, '
             '{"input": "[3, 2, 3]\\n3", "output": "3", "testtype": "functional"}]',
             "class Solution:\n    def buyChoco(self, prices: List[int], money: int) -> int:\n"
             "        a, b = sorted(prices)[:2]\n        return money - a - b if a + b <= money else money\n",
             "class Solution:\n    def buyChoco(self, prices: List[int], money: int) -> int:\n"
             "        return money - sum(sorted(prices)[:2])\n"),
    "2824": ("isFascinating",
             '[{"input": "192", "output": "true", "testtype": "functional"}, '
             '{"input": "100", "output": "false", "testtype": "functional"}]',
             "class Solution:\n    def isFascinating(self, n: int) -> bool:\n"
             "        s = str(n) + str(2 * n) + str(3 * n)\n        return sorted(s) == list('123456789')\n",
             "class Solution:\n    def isFascinating(self, n: int) -> bool:\n        return 1\n"),
    "2881": ("splitWordsBySeparator",
             '[{"input": "[\\"one.two.three\\", \\"four.five\\", \\"six\\"]\\n\\".\\"", '
             '"output": "[\\"one\\", \\"two\\", \\"three\\", \\"four\\", \\"five\\", \\"six\\"]", '
             '"testtype": "functional"}, '
             '{"input": "[\\"$easy$\\", \\"$problem$\\"]\\n\\"$\\"", "output": "[\\"easy\\", \\"problem\\"]", '
             '"testtype": "functional"}, {"input": "[\\"|||\\"]\\n\\"|\\"", "output": "[]", "testtype": "functional"}]',
             "class Solution:\n    def splitWordsBySeparator(self, words: List[str], separator: str) -> List[str]:\n"
             "        return [p for w in words for p in w.split(separator) if p]\n",
             "class Solution:\n    def splitWordsBySeparator(self, words: List[str], separator: str) -> List[str]:\n"
             "        return [p for w in words for p in w.split(separator)]\n"),
    "3206": ("findIntersectionValues",
             '[{"input": "[4, 3, 2, 3, 1]\\n[2, 2, 5, 2, 3, 6]", "output": "[3, 4]", "testtype": "functional"}, '
             '{"input": "[3, 4, 2, 3]\\n[1, 5]", "output": "[0, 0]", "testtype": "functional"}]',
             "class Solution:\n    def findIntersectionValues(self, nums1, nums2):\n"
             "        s1, s2 = set(nums1), set(nums2)\n"
             "        return (sum(x in s2 for x in nums1), sum(x in s1 for x in nums2))\n",
             "class Solution:\n    def findIntersectionValues(self, nums1, nums2):\n"
             "        return [len(set(nums1) & set(nums2))] * 2\n"),
}


def pairs(public_test_cases):
    return tuple((t["input"], t["output"]) for t in json.loads(public_test_cases))


def test_stdin_problems_known_correct_and_wrong():
    cases = [
        StdioCase(SHORT_SORT_OK, pairs(SHORT_SORT)),
        StdioCase(LONG_LOONG_OK, pairs(LONG_LOONG)),
        StdioCase(SHORT_SORT_OK.replace("(0, 2)", "(0,)"), pairs(SHORT_SORT)),
        StdioCase(LONG_LOONG_OK.replace("'o' * n", "'o' * (n + 1)"), pairs(LONG_LOONG)),
    ]
    ok_a, ok_b, bad_a, bad_b = grade_programs(cases, progress=False)
    assert ok_a.passed and ok_b.passed and ok_b.tests_passed == (True, True)
    assert not bad_a.passed and bad_a.failure == "wrong_answer"
    assert not bad_b.passed and bad_b.tests_passed == (False, False)


def test_functional_problems_known_correct_and_wrong():
    good = [FunctionalCase(ok, name, pairs(tests)) for name, tests, ok, _ in FUNCTIONAL.values()]
    bad = [FunctionalCase(wrong, name, pairs(tests)) for name, tests, _, wrong in FUNCTIONAL.values()]
    verdicts = grade_programs(good + bad, progress=False)
    assert [v.passed for v in verdicts[: len(good)]] == [True] * len(good), verdicts[: len(good)]
    assert [v.passed for v in verdicts[len(good):]] == [False] * len(bad)
    assert all(v.failure == "wrong_answer" for v in verdicts[len(good):])
    # Results compare with Python's ==, where 1 == True: returning 1 passes the "true" test, fails the "false" one.
    assert verdicts[len(good) + 1].tests_passed == (True, False)


def test_functional_missing_method_is_a_runtime_error():
    name, tests, ok, _ = FUNCTIONAL["2756"]
    (v,) = grade_programs([FunctionalCase(ok.replace("buyChoco", "buy"), name, pairs(tests))], progress=False)
    assert not v.passed and v.failure == "runtime_error" and "buyChoco" in v.detail
