from lm_eval_tts.metrics.per_doc import metric_specs
from lm_eval_tts.tasks.code_prompts import lcb_prompt, mbpp_plus_doc_to_text, mbpp_plus_task_text, mbpp_prompt


def test_mbpp_prompt_is_the_papers_wording():
    prompt = mbpp_prompt("Write a function to add two numbers.", ["assert add(1, 2) == 3", "assert add(0, 0) == 0"])
    assert prompt == (
        "You are an expert Python programmer, and here is your task: Write a function to add two numbers. "
        "Your code should pass these tests:\n\nassert add(1, 2) == 3\nassert add(0, 0) == 0\n"
    )


def test_mbpp_plus_prompt_uses_the_docstring_text_and_asserts():
    doc = {
        "prompt": "'''\nWrite a function to find the shared elements\nfrom the given two lists.\n'''",
        "assertion": "\nimport math\nassert f((1, 2), (2,)) == (2,)\nassert f((), ()) == ()\n",
    }
    assert mbpp_plus_task_text(doc["prompt"]) == "Write a function to find the shared elements from the given two lists."
    text = mbpp_plus_doc_to_text(doc)
    assert text.endswith("tests:\n\nassert f((1, 2), (2,)) == (2,)\nassert f((), ()) == ()\n")
    assert "import math" not in text


def test_lcb_prompt_with_and_without_starter_code():
    functional = lcb_prompt("Return the sum.", "class Solution:\n    def f(self, a: List[int]) -> int:\n        ")
    assert "### Question\nReturn the sum." in functional
    assert "```python\nclass Solution:\n    def f(self, a: List[int]) -> int:\n```" in functional
    assert "standard input" not in functional
    stdin = lcb_prompt("Read N and print N+1.", "")
    assert "standard input" in stdin and "class Solution" not in stdin
    assert stdin.endswith("### Answer\n")


def test_metric_list_is_doc_metrics_without_majority_vote():
    """The task's keys = doc_metrics' keys for its ks, with logprob scores and first tokens, minus maj@k and #EA."""
    from tests.tasks.test_code_results import build_task

    task = build_task("mbpp/mbpp_tts.yaml")
    assert task.config.repeats == 16 and task.ks == (1, 2, 4, 8, 16) and task.config.unsafe_code is True
    specs = [s for s in metric_specs([1, 2, 4, 8, 16], ["logprob"], with_first_tokens=True)
             if not str(s["metric"]).startswith("maj@") and s["metric"] != "num_distinct_answers"]
    assert task.config.metric_list == specs
    assert set(task.aggregation()) == {s["metric"] for s in specs}
