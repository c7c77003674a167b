"""Zero-shot prompts of the code tasks (lm-eval `doc_to_text`).

MBPP, MBPP-sanitized: the wording of the original MBPP paper (Austin et al. 2021): the task sentence, then its
test asserts, so the model learns the function name and signature from the tests (same text with and without a
chat template).
EvalPlus tasks (HumanEval, HumanEval+, MBPP+): EvalPlus's own protocol. Without a chat template the model
continues the task's `prompt` (HumanEval: signature + docstring; MBPP+: a docstring with the task and one assert),
generation stopping at EvalPlus's stop strings; with one, the prompt is shown in EvalPlus's instruction and the
answer starts with EvalPlus's response prefix, which opens a ```python block (code_task.EvalPlusTask).
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


# EvalPlus's chat protocol (evalplus.codegen and evalplus.provider.utility.make_raw_chat_prompt), verbatim so that
# scores are comparable with EvalPlus's.
EVALPLUS_INSTRUCTION = (
    "Please provide a self-contained Python script that solves the following problem in a markdown code block:"
)
EVALPLUS_RESPONSE_PREFIX = (
    "Below is a Python script with a self-contained function that solves the problem and passes corresponding "
    "tests:\n```python\n"
)
# EvalPlus's stop strings for direct completion (its EOS list plus the per-dataset ones), and a closing fence.
_EVALPLUS_STOPS = ("\nif __name__", "\ndef main(", "\nprint(", "\n```")
HUMANEVAL_COMPLETION_STOPS = _EVALPLUS_STOPS + ("\ndef ", "\nclass ", "\nimport ", "\nfrom ", "\nassert ")
MBPP_PLUS_COMPLETION_STOPS = _EVALPLUS_STOPS + ('\n"""', "\nassert")


def evalplus_chat_prompt(prompt: str) -> str:
    return f"{EVALPLUS_INSTRUCTION}\n```\n{prompt.strip()}\n```\n"


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
