import json

import pytest

from lm_eval_tts.tasks import code_prompts
from lm_eval_tts.tasks.code_prompts import lcb_prompt, mbpp_prompt


def test_mbpp_prompt_is_the_papers_wording():
    prompt = mbpp_prompt("Write a function to add two numbers.", ["assert add(1, 2) == 3", "assert add(0, 0) == 0"])
    assert prompt == (
        "You are an expert Python programmer, and here is your task: Write a function to add two numbers. "
        "Your code should pass these tests:\n\nassert add(1, 2) == 3\nassert add(0, 0) == 0\n"
    )


def _chat_template(messages, add_generation_prompt=True):
    """Stands in for a tokenizer's template: shows the messages and whether a generation prompt was asked for."""
    return json.dumps({"messages": messages, "add_generation_prompt": add_generation_prompt})


@pytest.mark.parametrize(
    "yaml, stops",
    [
        ("humaneval/humaneval_tts.yaml", code_prompts.HUMANEVAL_COMPLETION_STOPS),
        ("humaneval/humaneval_plus_tts.yaml", code_prompts.HUMANEVAL_COMPLETION_STOPS),
        ("mbpp/mbpp_plus_tts.yaml", code_prompts.MBPP_PLUS_COMPLETION_STOPS),
    ],
)
def test_evalplus_protocol_completion_and_chat(yaml, stops):
    """Without a chat template: the task's prompt, EvalPlus's stop strings. With one: EvalPlus's instruction as the
    user turn and its response prefix (opening a ```python block) as the start of the answer, no stop strings."""
    from tests.tasks.test_code_results import build_task

    task = build_task(yaml, repeats=1)
    doc = task.eval_docs[0]
    plain = task.fewshot_context(doc, num_fewshot=0)
    assert plain == doc["prompt"]
    (request,) = [task.construct_requests(doc, plain, metadata=("t", 0, 1))]
    assert request.arguments[1]["until"] == list(stops)

    chat = json.loads(task.fewshot_context(doc, num_fewshot=0, apply_chat_template=True, chat_template=_chat_template))
    user, assistant = chat["messages"]
    assert user == {"role": "user", "content": code_prompts.EVALPLUS_INSTRUCTION + "\n```\n" + doc["prompt"].strip()
                    + "\n```\n"}
    assert assistant["content"].endswith("tests:\n```python\n") and chat["add_generation_prompt"] is False
    request = task.construct_requests(doc, "ctx", metadata=("t", 0, 1), apply_chat_template=True)
    assert request.arguments[1]["until"] == []


def test_lcb_prompt_with_and_without_starter_code():
    functional = lcb_prompt("Return the sum.", "class Solution:\n    def f(self, a: List[int]) -> int:\n        ")
    assert "### Question\nReturn the sum." in functional
    assert "```python\nclass Solution:\n    def f(self, a: List[int]) -> int:\n```" in functional
    assert "standard input" not in functional
    stdin = lcb_prompt("Read N and print N+1.", "")
    assert "standard input" in stdin and "class Solution" not in stdin
    assert stdin.endswith("### Answer\n")


def test_task_metric_list_is_the_code_metric_specs():
    """The task's lm-eval metric list and aggregations come from code_results.metric_specs_for_code for its ks."""
    from lm_eval_tts.tasks.code_results import metric_specs_for_code
    from tests.tasks.test_code_results import build_task

    task = build_task("mbpp/mbpp_tts.yaml")
    assert task.config.repeats == 16 and task.ks == (1, 2, 4, 8, 16) and task.config.unsafe_code is True
    specs = metric_specs_for_code([1, 2, 4, 8, 16])
    assert task.config.metric_list == specs and {"pass@1", "pass@16"} <= {s["metric"] for s in specs}
    assert set(task.aggregation()) == {s["metric"] for s in specs}
