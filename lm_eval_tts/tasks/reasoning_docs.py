"""Document-level functions the GSM8K / MATH task YAMLs name with `!function`: targets, few-shot text, subjects."""

from __future__ import annotations

import re

from lm_eval_tts.grading.answers import gsm8k_gold, math_gold

MATH_SUBJECTS = {
    "algebra": "Algebra",
    "counting_and_probability": "Counting & Probability",
    "geometry": "Geometry",
    "intermediate_algebra": "Intermediate Algebra",
    "number_theory": "Number Theory",
    "prealgebra": "Prealgebra",
    "precalculus": "Precalculus",
}

_CALCULATOR = re.compile(r"<<[^>]*>>")
_HASH_LINE = re.compile(r"\n?####\s*(.*)$")


def gsm8k_target(doc: dict) -> str:
    """The reference number (canonical spelling) of a GSM8K doc."""
    return gsm8k_gold(doc["answer"])


def gsm8k_fewshot_solution(doc: dict) -> str:
    """A GSM8K train solution as a few-shot answer: calculator annotations removed, `#### N` -> `The answer is N.`"""
    text = _CALCULATOR.sub("", doc["answer"])
    return _HASH_LINE.sub(lambda m: f"\nThe answer is {m.group(1).strip()}.", text).strip()


def math_target(doc: dict) -> str:
    """The reference answer (bare LaTeX) of a MATH / MATH-500 doc."""
    return math_gold(doc)


def _subject_filter(key: str):
    subject = MATH_SUBJECTS[key]

    def only_subject(dataset):
        return dataset.filter(lambda doc: doc["type"] == subject)

    only_subject.__name__ = only_subject.__qualname__ = key
    only_subject.__doc__ = f"Keep the {subject} problems of full MATH (field `type`)."
    return only_subject


algebra = _subject_filter("algebra")
counting_and_probability = _subject_filter("counting_and_probability")
geometry = _subject_filter("geometry")
intermediate_algebra = _subject_filter("intermediate_algebra")
number_theory = _subject_filter("number_theory")
prealgebra = _subject_filter("prealgebra")
precalculus = _subject_filter("precalculus")
