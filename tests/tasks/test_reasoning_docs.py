"""Doc functions named by the task YAMLs."""

from lm_eval_tts.tasks.reasoning_docs import MATH_SUBJECTS, gsm8k_fewshot_solution, gsm8k_target, math_target
from lm_eval_tts.tasks import reasoning_docs

DOC = {"question": "q", "answer": "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = "
                                  "$<<9*2=18>>18 every day.\n#### 18"}


def test_gsm8k_fewshot_solution_drops_calculator_notes_and_states_the_answer():
    assert gsm8k_fewshot_solution(DOC) == (
        "Janet sells 16 - 3 - 4 = 9 duck eggs a day.\nShe makes 9 * 2 = $18 every day.\nThe answer is 18.")


def test_targets():
    assert gsm8k_target(DOC) == "18"
    assert math_target({"solution": "so $\\boxed{\\frac{1}{2}}$"}) == "\\frac{1}{2}"


def test_one_subject_filter_per_subject():
    class Rows(list):
        def filter(self, keep):
            return Rows(row for row in self if keep(row))

    rows = Rows({"type": subject} for subject in MATH_SUBJECTS.values())
    for key, subject in MATH_SUBJECTS.items():
        assert getattr(reasoning_docs, key)(rows) == [{"type": subject}]
