"""Zero-shot prompts of the code tasks (lm-eval `doc_to_text`), written to work with and without a chat template.

MBPP family: the wording of the original MBPP paper (Austin et al. 2021): the task sentence, then its test
asserts, so the model learns the function name and signature from the tests.
LiveCodeBench: the structure of LiveCodeBench's own generation prompt (a role sentence, the question, then a
format section that either shows the starter code to complete or asks for a stdin/stdout program, with the answer
requested inside a ```python block), in our own words.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

MBPP_TEMPLATE = (
    "You are an expert Python programmer, and here is your task: {text} Your code should pass these tests:\n\n{tests}\n"
)


def mbpp_prompt(text: str, tests: Sequence[str]) -> str:
    return MBPP_TEMPLATE.format(text=text.strip(), tests="\n".join(t.strip() for t in tests))


def mbpp_doc_to_text(doc: Mapping[str, Any]) -> str:
    return mbpp_prompt(doc["text"], doc["test_list"])


def mbpp_sanitized_doc_to_text(doc: Mapping[str, Any]) -> str:
    return mbpp_prompt(doc["prompt"], doc["test_list"])


def mbpp_plus_task_text(prompt: str) -> str:
    """The task sentence inside MBPP+'s docstring-style prompt ('''\\nWrite a function ...\\n''')."""
    text = prompt.strip()
    for quote in ('"""', "'''"):
        if text.startswith(quote) and text.endswith(quote) and len(text) >= 6:
            text = text[3:-3]
    return " ".join(text.split())


def mbpp_plus_doc_to_text(doc: Mapping[str, Any]) -> str:
    tests = [line for line in doc["assertion"].splitlines() if line.strip().startswith("assert")]
    return mbpp_prompt(mbpp_plus_task_text(doc["prompt"]), tests)


LCB_ROLE = (
    "You are an expert Python programmer. Read the problem below and write a correct, complete Python program "
    "that solves it and passes all tests. Reply with the program only."
)
LCB_WITH_STARTER = (
    "Complete the following starter code; keep the class and method names and signatures, and put your "
    "solution in a single ```python code block."
)
LCB_STDIN = (
    "Your program must read the input from standard input and print the answer to standard output (do not "
    "hard-code the sample inputs). Put your solution in a single ```python code block."
)


def lcb_prompt(question: str, starter_code: str) -> str:
    parts = [LCB_ROLE, "", "### Question", question.strip(), ""]
    if starter_code.strip():
        parts += ["### Format", LCB_WITH_STARTER, "```python", starter_code.rstrip(), "```"]
    else:
        parts += ["### Format", LCB_STDIN, "```python", "# your code here", "```"]
    parts += ["", "### Answer", ""]
    return "\n".join(parts)


def lcb_doc_to_text(doc: Mapping[str, Any]) -> str:
    return lcb_prompt(doc["question_content"], doc["starter_code"])
