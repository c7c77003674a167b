"""Parity of the GSM8K and MATH graders with the graders behind published numbers, on the same responses.
Prints an agreement table and EVERY disagreement with its category.

    flock /tmp/cpu.lock python benchmarks/bench_parity_reasoning.py [--pairs 2000] [--only gsm8k|math]

Responses: SmolLM2-135M-Instruct's, generated once through `lm_eval --model wise_fire` (benchmarks/data cache,
see parity_responses.py): GSM8K zero-shot (chat, \\boxed{} requested) and 8-shot ("The answer is N."), MATH-500
zero-shot; plus the real MATH answer pairs of math_pairs.py (reformatted references, other problems' references).

GSM8K, per response, correct or not, against lm-eval 0.4.13's own gsm8k filters and exact_match settings, read
from its task YAMLs (lm_eval/tasks/gsm8k/): `strict-match` of `gsm8k` (`#### N`) and of `gsm8k-cot-zeroshot`
("The answer is N."), and `flexible-extract` (the last number); ours: strict-match and flexible-extract.
MATH, per pair: ours = extract_math_answer + MathGrader (fast paths, math-verify in workers) against
- math-verify as lm-eval's leaderboard math task uses it (lm_eval/tasks/leaderboard/math/utils.py
  process_results: parse the whole response, parse the solution with LatexExtractionConfig, verify);
- math-verify on the two extracted answers (what MathGrader's workers run, without our fast paths);
- minerva's is_equiv on minerva-normalised answers (lm_eval/tasks/minerva_math/utils.py; needs antlr 4.11, in a
  child process, see bench_math_grading.py).
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import lm_eval
import yaml
from lm_eval.api.metrics import exact_match_hf_evaluate
from lm_eval.filters import build_filter_ensemble
from lm_eval.api.instance import Instance
from math_pairs import MODEL, model_pairs, synthetic_pairs
from parity_responses import load

from lm_eval_tts.grading.answers import (
    BOXED,
    HASH,
    PHRASE,
    answer_statements,
    extract_gsm8k_answer,
    final_statement,
    gsm8k_gold,
    parse_number,
)

GSM8K_TASKS = Path(lm_eval.__file__).parent / "tasks" / "gsm8k"
INVALID = "[invalid]"


# --- GSM8K ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Gsm8kReference:
    """One lm-eval gsm8k filter with its task's exact_match settings."""

    name: str
    filter_config: dict
    metric_kwargs: dict

    def extract(self, response: str) -> str:
        components = [[step["function"], {k: v for k, v in step.items() if k != "function"}]
                      for step in self.filter_config["filter"]]
        ensemble = build_filter_ensemble(self.filter_config["name"], components)
        instance = Instance("generate_until", {}, ("", {}), 0)
        instance.resps = [response]
        ensemble.apply([instance])
        return instance.filtered_resps[self.filter_config["name"]]

    def correct(self, extracted: str, answer_field: str) -> bool:
        return bool(exact_match_hf_evaluate([extracted], [answer_field], **self.metric_kwargs)["exact_match"])


def gsm8k_references() -> dict[str, Gsm8kReference]:
    """lm-eval's gsm8k strict-match (`#### N`), gsm8k-cot-zeroshot strict-match ("The answer is N.") and
    flexible-extract, exactly as its YAMLs define them."""
    references = {}
    for task_file, filters in (("gsm8k.yaml", ("strict-match", "flexible-extract")),
                               ("gsm8k-cot-zeroshot.yaml", ("strict-match",))):
        config = yaml.safe_load((GSM8K_TASKS / task_file).read_text())
        (metric,) = config["metric_list"]
        kwargs = {k: metric[k] for k in ("ignore_case", "ignore_punctuation", "regexes_to_ignore") if k in metric}
        for filter_config in config["filter_list"]:
            if filter_config["name"] in filters:
                name = f"{config['task']} {filter_config['name']}"
                references[name] = Gsm8kReference(name, filter_config, kwargs)
    return references


COMPARISONS = [("strict-match", "gsm8k strict-match"), ("strict-match", "gsm8k_cot_zeroshot strict-match"),
               ("flexible-extract", "gsm8k flexible-extract")]


SPELLING = "number spelling: the gold's value in another text (lm-eval compares strings: 18.00, $18, 1,800)"
AFTER_STATEMENT = "numbers after the final answer statement (lm-eval takes the response's last number)"
LAST_NUMBER = "the last number read differently ({})"
NUMBER_SHAPES = ("clock time", "fraction", "mixed number", "thousands", "decimal")
FORM = "final answer given as {}: not the form this lm-eval regex reads"
EXPRESSION = "an expression in the answer statement: lm-eval reads its first number, ours its result"
EARLIER_WRONG = "an earlier answer statement is wrong, the final one right (lm-eval reads the first match)"
EARLIER_RIGHT = "an earlier answer statement is right, the final one wrong (lm-eval reads the first match)"
GSM8K_FLEXIBLE_CATEGORIES = {SPELLING, AFTER_STATEMENT} | {LAST_NUMBER.format(shape) for shape in NUMBER_SHAPES}
GSM8K_CATEGORIES = GSM8K_FLEXIBLE_CATEGORIES | {FORM.format(kind) for kind in (HASH, BOXED, PHRASE)} | {
    EXPRESSION, EARLIER_WRONG, EARLIER_RIGHT}


def gsm8k_category(ours: str, response: str, gold: str, extracted: str, our_correct: bool) -> str:
    """Why our verdict and the reference's differ on one response (one of GSM8K_CATEGORIES, else "other")."""
    final = final_statement(response)
    reference_text = extracted.replace(",", "").replace("$", "").rstrip(".")
    if our_correct and parse_number(reference_text) is not None and parse_number(reference_text) == parse_number(gold):
        return SPELLING
    if ours == "flexible-extract":
        return AFTER_STATEMENT if final is not None else LAST_NUMBER.format(_number_shape(response))
    if extracted == INVALID:
        return FORM.format(final[0]) if final is not None else "other"
    statements = list(answer_statements(response))
    first = statements[-1][1] if statements else ""
    if "=" in first and re.search(rf"(?<![\d.]){re.escape(reference_text)}(?![\d.])", first.split("=")[0]):
        return EXPRESSION
    return EARLIER_WRONG if our_correct else EARLIER_RIGHT


def _answer_lines(response: str) -> str:
    """What a reader needs to check a GSM8K verdict: the lines with an answer statement, and the response's end."""
    lines = [line.strip() for line in response.splitlines()
             if re.search(r"answer|####|\\boxed", line, re.IGNORECASE)]
    return " | ".join(lines + [f"(end) ...{response[-120:]}"])


def _number_shape(response: str) -> str:
    tail = response[-80:]
    for pattern, name in ((r"\d:\d\d", "clock time"), (r"\d\s*\\[dt]?frac", "mixed number"),
                          (r"\\[dt]?frac|\d/\d", "fraction"), (r"\d,\d{3}", "thousands"), (r"\d\.\d", "decimal")):
        if re.search(pattern, tail):
            return name
    return "other"


def gsm8k_parity(records: list[dict]) -> tuple[list[list], list[tuple]]:
    references = gsm8k_references()
    rows, disagreements = [], []
    for run in sorted({r["run"] for r in records if r["task"].startswith("gsm8k")}):
        items = [(r, response) for r in records if r["run"] == run for response in r["responses"]]
        for ours, reference_name in COMPARISONS:
            reference = references[reference_name]
            agree = ours_only = reference_only = 0
            for record, response in items:
                gold = gsm8k_gold(record["doc"]["answer"])
                our_answer = extract_gsm8k_answer(response, flexible=ours == "flexible-extract")
                our_correct = our_answer is not None and parse_number(our_answer) == parse_number(gold)
                extracted = reference.extract(response)
                reference_correct = reference.correct(extracted, record["doc"]["answer"])
                if our_correct == reference_correct:
                    agree += 1
                    continue
                ours_only += our_correct
                reference_only += reference_correct
                category = gsm8k_category(ours, response, gold, extracted, our_correct)
                disagreements.append((f"{run}: ours {ours} vs lm-eval {reference_name}", category, gold,
                                      our_answer, extracted, our_correct, _answer_lines(response)))
            rows.append([run, f"ours {ours} vs lm-eval {reference_name}", len(items), agree, ours_only,
                         reference_only])
    return rows, disagreements


# --- MATH -------------------------------------------------------------------------------------------------------

_MINERVA = """
import json, sys
from lm_eval.tasks.minerva_math.utils import is_equiv, normalize_final_answer
out = []
for gold, answer in json.load(sys.stdin):
    gold, answer = normalize_final_answer(gold), normalize_final_answer(answer)
    out.append([bool(is_equiv(answer, gold)), gold, answer])
json.dump(out, sys.stdout)
"""


def minerva_verdicts(pairs, baseline_path: str) -> list[tuple[bool, str, str]]:
    """(equivalent, normalised gold, normalised answer) per pair, from minerva_math in a child process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (baseline_path, os.environ.get("PYTHONPATH")) if p)}
    done = subprocess.run([sys.executable, "-c", _MINERVA], input=json.dumps([(p.gold, p.answer) for p in pairs]),
                          capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"minerva_math failed (antlr 4.11 at --baseline-path?):\n{done.stderr[-2000:]}")
    return [tuple(row) for row in json.loads(done.stdout)]


def leaderboard_verdicts(pairs) -> list[tuple[bool, str]]:
    """lm-eval's leaderboard math scoring (its process_results: math-verify on the whole response vs the solution),
    with what math-verify extracted from the response (for the disagreement list only)."""
    from lm_eval.tasks.leaderboard.math.utils import process_results
    from math_verify import parse

    verdicts = []
    for p in pairs:
        same = bool(process_results({"solution": p.solution, "answer": p.gold}, [p.response])["exact_match"])
        extracted = parse(p.response)
        verdicts.append((same, str(extracted)))
    return verdicts


def answer_level_verdicts(pairs) -> list[bool]:
    """math-verify on the extracted answers, in this process, without our fast paths or time limit."""
    from lm_eval_tts.grading.math_verify_worker import equivalent

    return [equivalent(p.gold, p.answer) for p in pairs]


TIMEOUT = "our hard time limit stopped the comparison"
FAST_PATH = "our fast path decided otherwise than math-verify"
LEADERBOARD_READS_OTHER = ("the leaderboard's math-verify parse of the whole response gives another answer than our "
                           "final \\boxed{}/answer statement")
MINERVA_SIZING = "minerva keeps \\left/\\right or \\dfrac, which its parse_latex cannot read"
MINERVA_DELETES = "minerva's normalisation deletes part of the answer (its 'a '/'an ' or unit-word removal)"
MINERVA_PARSE = "minerva's parse_latex/simplify (ours: math-verify)"
MATH_CATEGORIES = {TIMEOUT, FAST_PATH, LEADERBOARD_READS_OTHER, MINERVA_SIZING, MINERVA_DELETES, MINERVA_PARSE}


def math_category(reference: str, pair, ours, answer_level: bool, minerva_forms: tuple[str, str] | None) -> str:
    """Why our verdict and the reference's differ on one pair (one of MATH_CATEGORIES)."""
    from lm_eval_tts.grading.math import certain_verdict

    if ours.status == "timeout":
        return TIMEOUT
    if ours.equivalent != answer_level:
        return FAST_PATH if certain_verdict(pair.gold, pair.answer) is not None else "other"
    if reference.startswith("math-verify (leaderboard"):
        return LEADERBOARD_READS_OTHER
    if reference == "minerva is_equiv" and minerva_forms is not None:
        normalised = "".join(minerva_forms)
        if re.search(r"\\(?:left|right|dfrac)", normalised):
            return MINERVA_SIZING
        if any(not form.strip() or len(form) < len(re.sub(r"\s", "", text)) - 1
               for form, text in zip(minerva_forms, (pair.gold, pair.answer))):
            return MINERVA_DELETES
        return MINERVA_PARSE
    return "other"


def math_parity(records: list[dict], count: int, seed: int, baseline_path: str | None):
    from lm_eval_tts.grading.answers import extract_math_answer
    from lm_eval_tts.grading.math import MathGrader

    pairs = model_pairs(records) + synthetic_pairs(count, seed)
    unanswered = [r for r in records if r["task"] == "math500_tts" for resp in r["responses"]
                  if extract_math_answer(resp) is None]
    with MathGrader(timeout=5.0) as grader:
        ours = grader.grade_many([(p.gold, p.answer) for p in pairs])
    answer_level = answer_level_verdicts(pairs)
    leaderboard = leaderboard_verdicts(pairs)
    references = {"math-verify (answers)": (answer_level, [""] * len(pairs), [None] * len(pairs)),
                  "math-verify (leaderboard, whole response)": ([v for v, _ in leaderboard],
                                                                [e for _, e in leaderboard], [None] * len(pairs))}
    if baseline_path:
        minerva = minerva_verdicts(pairs, baseline_path)
        references["minerva is_equiv"] = ([v for v, *_ in minerva], [f"{g!r} vs {a!r}" for _, g, a in minerva],
                                          [(g, a) for _, g, a in minerva])
    rows, disagreements = [], []
    for name, (verdicts, seen, forms) in references.items():
        for kind in sorted({p.kind for p in pairs}):
            chosen = [i for i, p in enumerate(pairs) if p.kind == kind]
            agree = sum(ours[i].equivalent == verdicts[i] for i in chosen)
            ours_only = sum(ours[i].equivalent and not verdicts[i] for i in chosen)
            rows.append([kind, f"ours vs {name}", len(chosen), agree, ours_only, len(chosen) - agree - ours_only])
            for i in chosen:
                if ours[i].equivalent != verdicts[i]:
                    category = math_category(name, pairs[i], ours[i], answer_level[i], forms[i])
                    disagreements.append((f"{kind}: ours vs {name}", category, pairs[i].gold, pairs[i].answer,
                                          ours[i].equivalent, seen[i],
                                          pairs[i].response if pairs[i].kind == MODEL else ""))
    return rows, disagreements, len(pairs), len(unanswered)


# --- report -----------------------------------------------------------------------------------------------------

def print_table(title: str, rows: list[list]) -> None:
    print(f"\n## {title}\n")
    print("| responses | comparison | n | agree | agreement | only ours correct | only reference correct |")
    print("|---|---|---|---|---|---|---|")
    for source, comparison, n, agree, ours_only, reference_only in rows:
        print(f"| {source} | {comparison} | {n} | {agree} | {agree / n:.4f} | {ours_only} | {reference_only} |")


def print_disagreements(disagreements: list[tuple], fields: tuple[str, ...]) -> None:
    counts = collections.Counter((d[0], d[1]) for d in disagreements)
    print(f"\n{len(disagreements)} disagreements by category:")
    for (comparison, category), count in sorted(counts.items()):
        print(f"  {count:5d}  {comparison} | {category}")
    print("\nevery disagreement:")
    for d in disagreements:
        details = ", ".join(f"{name}={value!r}" for name, value in zip(fields, d[2:-1]))
        print(f"- [{d[0]}] {d[1]}: {details}")
        if d[-1]:
            print("    response: " + repr(d[-1][-600:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=2000, help="reformatted + other MATH pairs")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", choices=("gsm8k", "math"))
    parser.add_argument("--baseline-path", default="/work/venvs/antlr411",
                        help="directory with antlr4-python3-runtime 4.11 for minerva_math ('' to skip minerva)")
    args = parser.parse_args()
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    records = load()
    if args.only != "math":
        rows, disagreements = gsm8k_parity(records)
        print_table("GSM8K: correct or not, per response", rows)
        print_disagreements(disagreements, ("gold", "ours", "lm-eval extracted", "ours correct"))
    if args.only != "gsm8k":
        rows, disagreements, n_pairs, unanswered = math_parity(records, args.pairs, args.seed, args.baseline_path)
        print_table(f"MATH: equivalent or not, per (reference, answer) pair ({n_pairs} pairs; {unanswered} model "
                    "responses without a final answer are not pairs)", rows)
        print_disagreements(disagreements, ("gold", "answer", "ours equivalent", "reference read"))


if __name__ == "__main__":
    main()
