"""Parity with the graders behind published numbers, on real model responses (SmolLM2-135M-Instruct's, generated
through `lm_eval --model wise_fire` and cached in benchmarks/data by benchmarks/parity_responses.py): every
disagreement with lm-eval's own gsm8k filters, and with math-verify on the extracted MATH answers, falls in a
category that README's "Parity with the official graders" explains. The full report (also math-verify as the
leaderboard uses it, and minerva) is benchmarks/bench_parity_reasoning.py."""

import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bench_parity_reasoning as parity  # noqa: E402
from math_pairs import MODEL, model_pairs, synthetic_pairs  # noqa: E402
from parity_responses import load  # noqa: E402


@pytest.fixture(scope="module")
def records():
    return load()


def test_the_cache_holds_real_responses_of_every_run(records):
    by_run = {}
    for record in records:
        by_run.setdefault(record["run"], []).append(len(record["responses"]))
    assert {run: (len(counts), sum(counts)) for run, counts in by_run.items()} == {
        "gsm8k_zero_shot": (264, 1056), "gsm8k_8_shot": (264, 528), "math500_zero_shot": (500, 1000)}


# (responses, comparison, n, agree, only ours correct, only lm-eval correct), as README's table
GSM8K_TABLE = [
    ["gsm8k_8_shot", "ours strict-match vs lm-eval gsm8k strict-match", 528, 517, 11, 0],
    ["gsm8k_8_shot", "ours strict-match vs lm-eval gsm8k_cot_zeroshot strict-match", 528, 527, 0, 1],
    ["gsm8k_8_shot", "ours flexible-extract vs lm-eval gsm8k flexible-extract", 528, 528, 0, 0],
    ["gsm8k_zero_shot", "ours strict-match vs lm-eval gsm8k strict-match", 1056, 1049, 7, 0],
    ["gsm8k_zero_shot", "ours strict-match vs lm-eval gsm8k_cot_zeroshot strict-match", 1056, 1049, 5, 2],
    ["gsm8k_zero_shot", "ours flexible-extract vs lm-eval gsm8k flexible-extract", 1056, 1054, 1, 1],
]


@pytest.fixture(scope="module")
def gsm8k(records):
    return parity.gsm8k_parity(records)


def test_gsm8k_agreement_with_lm_evals_own_filters_is_readmes_table(gsm8k):
    rows, _ = gsm8k
    assert rows == GSM8K_TABLE


def test_gsm8k_every_disagreement_with_lm_evals_filters_is_a_documented_category(gsm8k):
    _, disagreements = gsm8k
    categories = [category for _, category, *_ in disagreements]
    assert len(categories) == sum(row[2] - row[3] for row in GSM8K_TABLE)
    assert set(categories) <= parity.GSM8K_CATEGORIES, set(categories) - parity.GSM8K_CATEGORIES


def test_gsm8k_flexible_extract_differs_from_lm_eval_only_after_a_final_statement_or_in_number_spelling(gsm8k):
    """Without an answer statement both read the last number: they must agree but for number spellings."""
    _, disagreements = gsm8k
    flexible = [d for d in disagreements if "flexible-extract" in d[0]]
    assert flexible and all(d[1] in parity.GSM8K_FLEXIBLE_CATEGORIES for d in flexible)


def test_gsm8k_where_lm_eval_credits_an_earlier_statement_ours_reads_the_final_one(gsm8k):
    _, disagreements = gsm8k
    earlier = [d for d in disagreements if d[1] in (parity.EARLIER_RIGHT, parity.EXPRESSION) and not d[5]]
    assert earlier, "the recorded responses hold such cases"
    for _, _, gold, ours, extracted, _, _ in earlier:
        assert ours != gold and extracted.rstrip(".") == gold


def test_math_verdicts_equal_math_verify_on_the_extracted_answers(records):
    """Our fast paths, cache and workers must not change math-verify's verdict (its own definition) on real
    pairs: the model's MATH-500 answers and reformatted / other references of the full MATH test."""
    from lm_eval_tts.grading.math import MathGrader
    from lm_eval_tts.grading.math_verify_worker import equivalent

    pairs = model_pairs(records) + synthetic_pairs(600, seed=1)
    assert sum(p.kind == MODEL for p in pairs) >= 250
    with MathGrader(timeout=20.0, workers=2) as grader:
        ours = grader.grade_many([(p.gold, p.answer) for p in pairs])
    differing = [(p.gold, p.answer, v.status) for p, v in zip(pairs, ours) if v.equivalent != equivalent(p.gold, p.answer)]
    assert differing == []
