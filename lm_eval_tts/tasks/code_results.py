"""Grading glue of the code tasks: response -> program -> sandbox case -> per-sample record -> pass@k.

Pure pieces used by the task classes in code_task: the grading case of each benchmark, the record one sample
leaves in `--log_samples`, the batch grading of all samples of all docs, and the per-doc metrics.
"""

from __future__ import annotations

import ast
import base64
import builtins
import hashlib
import io
import json
import pickle
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lm_eval_tts.grading.code import AssertCase, CompareCase, FunctionalCase, StdioCase, grade_programs
from lm_eval_tts.metrics.options import MetricOptions
from lm_eval_tts.metrics.per_doc import doc_metrics, metric_specs
from lm_eval_tts.metrics.verifier import WEAK_PASSED
from lm_eval_tts.tasks.code_extract import parse_quietly
from lm_eval_tts.tasks.common import LOGPROB, ORM, GradedResponse, generation_fields

# ---------------------------------------------------------------- cases per benchmark (pure)


def mbpp_case(doc: Mapping[str, Any], program: str):
    return AssertCase(program=program, tests=tuple(doc["test_list"]), setup=doc.get("test_setup_code") or "")


def mbpp_sanitized_case(doc: Mapping[str, Any], program: str):
    return AssertCase(program=program, tests=tuple(doc["test_list"]), setup="\n".join(doc.get("test_imports") or ()))


def evalplus_case(doc: Mapping[str, Any], tests, program: str):
    """MBPP+ / HumanEval+ (`tests`: the doc's code_values.EvalPlusTests): compared as EvalPlus does, with its
    tolerance at each test and the task's special oracle."""
    return CompareCase(
        program=program,
        entry_point=doc["entry_point"],
        inputs=tests.inputs,
        expected=tests.expected,
        atol=tests.atols,
        oracle=tests.oracle,
    )


def humaneval_case(doc: Mapping[str, Any], program: str):
    """HumanEval: the dataset's `check(candidate)` function (its `test` code) called with the entry point, as
    OpenAI's harness runs it; one test per problem."""
    return AssertCase(program=program, tests=(f"check({doc['entry_point']})",), setup=doc["test"])


def lcb_tests(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    """Public tests, then private tests when the data has them (hub releases), as [{input, output, testtype}]."""
    tests = json.loads(doc["public_test_cases"])
    private = doc.get("private_test_cases") or ""
    if private.strip():
        tests += decode_private_tests(private)
    return tests


def lcb_case(doc: Mapping[str, Any], program: str):
    """Stdin or LeetCode-functional case; the harness puts LiveCodeBench's import prelude before the program."""
    tests = lcb_tests(doc)
    pairs = tuple((t["input"], t["output"]) for t in tests)
    kinds = {t["testtype"] for t in tests}
    if kinds == {"functional"}:
        return FunctionalCase(program=program, func_name=json.loads(doc["metadata"])["func_name"], tests=pairs)
    if kinds == {"stdin"}:
        return StdioCase(program=program, tests=pairs)
    raise ValueError(f"LiveCodeBench problem {doc['question_id']} has test types {sorted(kinds)}, expected one")


class _NoGlobalsUnpickler(pickle.Unpickler):
    """Decodes only plain data (str/bytes/numbers/containers): any class or function reference is refused."""

    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from LiveCodeBench test data")


def decode_private_tests(text: str) -> list[dict[str, str]]:
    """LiveCodeBench's private tests: plain JSON, or base64(zlib(pickle(JSON string))) as the hub stores them."""
    stripped = text.strip()
    if stripped.startswith("["):
        return json.loads(stripped)
    raw = zlib.decompress(base64.b64decode(stripped))
    payload = _NoGlobalsUnpickler(io.BytesIO(raw)).load()
    return json.loads(payload)


# ---------------------------------------------------------------- entry points and programs


def mbpp_entry_point(doc: Mapping[str, Any]) -> str | None:
    """The function the first MBPP assert calls: its first called name that is not a builtin, else its first."""
    try:
        tree = parse_quietly(doc["test_list"][0])
    except SyntaxError:
        return None
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
    names = [call.func.id for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset))]
    chosen = [name for name in names if not hasattr(builtins, name)] or names  # MBPP 126 defines `sum`
    return chosen[0] if chosen else None


def lcb_entry_point(doc: Mapping[str, Any]) -> str | None:
    return "Solution" if doc["starter_code"].strip() else None


# ---------------------------------------------------------------- the grading filter


def weak_test_count(doc: Mapping[str, Any]) -> int | None:
    """How many leading tests of the doc form its weak verifier (metrics.verifier): EvalPlus's base inputs
    (`n_base`, MBPP+ / HumanEval+), or LiveCodeBench's public tests when the data also has hidden ones; None
    when the task has one set of tests."""
    if "n_base" in doc:
        return int(doc["n_base"])
    if str(doc.get("private_test_cases") or "").strip() and "public_test_cases" in doc:
        return len(json.loads(doc["public_test_cases"]))
    return None


def behaviour_key(outputs: Sequence[str | None]) -> str | None:
    """The program's behaviour, for majority votes over programs: a digest of its outputs on the problem's test
    inputs (CodeVerdict.outputs, observed without the expected outputs), so programs with identical outputs vote
    together. None when it produced no value on any test (no program, a syntax error, a crash everywhere): like a
    response without an answer, it uses a sample but never wins a vote."""
    if all(output is None for output in outputs):
        return None
    return hashlib.sha256(json.dumps(list(outputs)).encode()).hexdigest()[:16]


def sample_record(response: Any, program: str, verdict: Any, weak_tests: int | None = None) -> dict[str, Any]:
    """What `--log_samples` shows for one sample (JSON when lm-eval str()s it); logprob/first_token/tokens/
    hot_token_id come from a `Generation` response (common.generation_fields) and are left out for plain strings. `behaviour`: behaviour_key of its outputs. With
    `weak_tests` (weak_test_count), also `weak_passed`: the first weak_tests tests all passed."""
    record = GradedResponse(
        program=program,
        correct=bool(verdict.passed),
        grade=verdict.failure or "passed",
        tests_passed=list(verdict.tests_passed),
        detail=verdict.detail,
        behaviour=behaviour_key(verdict.outputs),
    )
    if weak_tests is not None:
        record[WEAK_PASSED] = weak_tests > 0 and all(verdict.tests_passed[:weak_tests])
    record.update(generation_fields(response))
    return record


def grade_all(
    resps: Sequence[Sequence[Any]],
    docs: Sequence[Mapping[str, Any]],
    make_program: Callable[[Mapping[str, Any], Any], str],
    make_case: Callable[[Mapping[str, Any], str], Any],
    **limits: float,
) -> list[list[dict[str, Any]]]:
    """Per document, one record per response; every program of every document graded in one batch
    (`make_program(doc, response)`: the program a response stands for; `limits`: grade_programs' timeout_per_test
    / timeout_total)."""
    programs = [[make_program(doc, r) for r in doc_resps] for doc_resps, doc in zip(resps, docs)]
    cases = [make_case(doc, p) for doc, doc_programs in zip(docs, programs) for p in doc_programs]
    verdicts = iter(grade_programs(cases, **limits))
    return [
        [sample_record(r, p, next(verdicts), weak_test_count(doc)) for r, p in zip(doc_resps, doc_programs)]
        for doc_resps, doc_programs, doc in zip(resps, programs, docs)
    ]


# ---------------------------------------------------------------- per-document metrics

BEHAVIOUR = "behaviour"


def metric_specs_for_code(ks: Sequence[int], with_orm: bool = False) -> list[dict[str, object]]:
    """lm-eval metric entries of `code_metrics`: every tts metric, the votes over programs grouped by behaviour
    (maj@k, the selection rules, #EA = distinct behaviours) included, the reward-model ones with_orm, and the
    verifier false-positive ones (returned only by tasks with weak and strong tests)."""
    return metric_specs(ks, score_names=[LOGPROB] + ([ORM] if with_orm else []), with_first_tokens=True,
                        with_tokens=True, with_verifier=True)


def code_metrics(records: Sequence[Mapping[str, Any]], ks: Sequence[int],
                 options: MetricOptions = MetricOptions()) -> dict[str, object]:
    """The tts metrics of one problem from its records: programs vote by `behaviour` (maj@k, majtop/bontop/bom,
    #EA); best@k by `logprob` and `orm`, distinct first tokens, tokens per sample and the verifier false-positive
    metrics when every record has what they need."""
    scores = {name: [r[name] for r in records] for name in (LOGPROB, ORM) if all(name in r for r in records)}
    first_tokens = [r["first_token"] for r in records] if all("first_token" in r for r in records) else None
    tokens = [r["tokens"] for r in records] if all("tokens" in r for r in records) else None
    weak = [r[WEAK_PASSED] for r in records] if all(WEAK_PASSED in r for r in records) else None
    behaviours = [r[BEHAVIOUR] for r in records] if all(BEHAVIOUR in r for r in records) else None
    return doc_metrics([r["correct"] for r in records], behaviours, scores or None, first_tokens, ks, tokens=tokens,
                       weak_correct=weak, options=options)
