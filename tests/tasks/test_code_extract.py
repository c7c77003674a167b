import pytest

from lm_eval_tts.tasks.code_extract import extract_code, fenced_blocks, program_for_prompt, truncate_at
from lm_eval_tts.tasks.code_prompts import HUMANEVAL_COMPLETION_STOPS

ADD = "def add(a, b):\n    return a + b"

CASES = [
    # (response, entry_point, expected program)
    ("```python\n" + ADD + "\n```", "add", ADD),
    ("```\n" + ADD + "\n```", "add", ADD),
    ("```py\n" + ADD + "\n```", None, ADD),
    ("~~~python\n" + ADD + "\n~~~", None, ADD),
    # chat answer: prose around one fence
    ("Sure! Here is the function:\n\n```python\n" + ADD + "\n```\n\nIt adds two numbers.", "add", ADD),
    # draft then fixed version: the last block that defines the entry point wins
    ("```python\ndef add(a, b):\n    return a - b\n```\nOops, fixed:\n```python\n" + ADD + "\n```", "add", ADD),
    # solution, then a usage example that does not define the function
    ("```python\n" + ADD + "\n```\nUsage:\n```python\nprint(add(1, 2))\n```", "add", ADD),
    # non-Python blocks are ignored (sample input / shell)
    ("```python\nprint(int(input()) * 2)\n```\nExample:\n```text\n3\n```", None, "print(int(input()) * 2)"),
    ("```bash\npython sol.py\n```\n```python\n" + ADD + "\n```", None, ADD),
    # without an entry point, the last block that parses
    ("```python\nx = int(input())\nprint(x)\n```\n```\n3 4 5 (\n```", None, "x = int(input())\nprint(x)"),
    # unterminated fence (token limit hit inside the block)
    ("Here:\n```python\n" + ADD + "\n", "add", ADD),
    # entry point is a class (LeetCode starter code)
    ("```python\nclass Solution:\n    def f(self):\n        return 1\n```\n```python\ns = Solution()\n```",
     "Solution", "class Solution:\n    def f(self):\n        return 1"),
    # plain code, no fences
    (ADD, "add", ADD),
    ("\n\n" + ADD + "\n\n", "add", ADD),
    # prose before and after unfenced code
    ("Here is my solution:\n" + ADD + "\nThis returns the sum.", "add", ADD),
    ("import math\ndef root(x):\n    return math.sqrt(x)\nThe function uses math.sqrt.", "root",
     "import math\ndef root(x):\n    return math.sqrt(x)"),
    # reasoning section with scratch code is dropped
    ("<think>maybe ```python\ndef add(a, b): return 0\n```</think>\n```python\n" + ADD + "\n```", "add", ADD),
    # few-shot MBPP markers
    ("[BEGIN]\n" + ADD + "\n[DONE]\nYou are an expert", "add", ADD),
    # indented fence inside a list item
    ("1. Code:\n   ```python\n" + ADD + "\n   ```", "add", ADD),
    # nothing code-like: returned as is, so the grader reports a syntax error
    ("I cannot solve this.", "add", "I cannot solve this."),
]

# The response starts in code and then closes a fence (the prompt or a response prefix opened the block): the
# code before the fence is the program, not the prose after it.
STARTS_IN_CODE = [
    (ADD + "\n```\n\nThis adds two numbers.", "add", ADD),
    (ADD + "\n```\nExplanation: the function returns the sum\nof a and b.\n", None, ADD),
    ("\n" + ADD + "\n```\n", "add", ADD),
    ("import math\ndef root(x):\n    return math.sqrt(x)\n```\nUsage:\n```python\nprint(root(4))\n```", "root",
     "import math\ndef root(x):\n    return math.sqrt(x)"),
    # a later fenced fix still wins over the first attempt
    ("def add(a, b):\n    return a - b\n```\nOops, fixed:\n```python\n" + ADD + "\n```", "add", ADD),
    # trailing prose before the fence is trimmed off the leading code
    (ADD + "\nThat is all.\n```\n", "add", ADD),
    # a function body (the prompt began the function)
    ("    return a + b\n```\nThe sum.", None, "    return a + b"),
    # prose first: the fence opens a block as usual
    ("Here:\n```\n" + ADD + "\n```\nDone.", "add", ADD),
    # prose that starts like code is not mistaken for a leading block
    ("import statements are not needed here:\n```\n" + ADD + "\n```", "add", ADD),
    # a tagged fence after leading code opens a new block
    ("x = 1\n```python\n" + ADD + "\n```", "add", ADD),
]


@pytest.mark.parametrize("response, entry_point, expected", STARTS_IN_CODE)
def test_response_that_starts_in_code_and_closes_a_fence(response, entry_point, expected):
    assert extract_code(response, entry_point) == expected


@pytest.mark.parametrize("response, entry_point, expected", CASES)
def test_extract_code(response, entry_point, expected):
    assert extract_code(response, entry_point) == expected


def test_no_parsable_block_takes_last_candidate():
    response = "```python\ndef add(a, b) return a\n```\n```python\ndef add(a, b):\n    return (\n```"
    assert extract_code(response, "add") == "def add(a, b):\n    return ("


def test_fenced_blocks_keeps_language_tags_and_order():
    text = "```python\na = 1\n```\ntext\n```\nb = 2\n```\n````md\n```x```\n````"
    assert fenced_blocks(text) == [("python", "a = 1"), ("", "b = 2"), ("md", "```x```")]


def test_generation_objects_are_accepted():
    from lm_eval_tts.engines.base import Generation

    assert extract_code(Generation("```python\n" + ADD + "\n```", token_ids=(1, 2)), "add") == ADD


PROMPT = 'from typing import List\n\n\ndef add(a: int, b: int) -> int:\n    """Sum of a and b."""\n'
BODY = "    return a + b\n"

PROGRAMS = [
    # completion: the prompt's continuation, cut at the first stop string
    (BODY, PROMPT + BODY),
    (BODY + "\n\ndef test():\n    assert add(1, 2) == 3\n", PROMPT + BODY + "\n"),
    (BODY + "\nprint(add(1, 2))\n", PROMPT + BODY),
    (BODY + "```\nThe function returns the sum.", PROMPT + BODY.rstrip("\n")),
    # a whole program (chat answer, fenced or not, or after EvalPlus's response prefix): after the prompt
    ("```python\ndef add(a, b):\n    return a + b\n```\nDone.", PROMPT.rstrip() + "\n\n\ndef add(a, b):\n    return a + b\n"),
    ("def add(a, b):\n    return a + b\n```\n\nExplanation.", PROMPT.rstrip() + "\n\n\ndef add(a, b):\n    return a + b\n"),
    ("<think>def add(a, b): return 0</think>" + BODY, PROMPT + BODY),
]


@pytest.mark.parametrize("response, program", PROGRAMS)
def test_program_for_prompt(response, program):
    assert program_for_prompt(PROMPT, response, "add", HUMANEVAL_COMPLETION_STOPS) == program


def test_truncate_at_first_stop():
    assert truncate_at("a\nprint(1)\ndef f", ("\ndef ", "\nprint(")) == "a"
    assert truncate_at("abc", ("x",)) == "abc"
