"""Grading glue of the code tasks: responses -> programs -> sandboxed test runs -> per-sample records -> pass@k.

The grading happens in an lm-eval filter (`grade_*` below, used as `function: custom` in the task YAMLs), not in
`process_results`: a filter sees every document's n responses at once, so the whole task is graded in ONE
`grade_programs` call that keeps all workers busy, and its output (`filtered_resps`) is what `--log_samples`
writes, so each sample's extracted program, passed tests and failure kind land in the samples file.
`process_results` then turns the n records of a document into pass@k (and best@k by the model's own mean
log-probability, and distinct first tokens, when the model returns `Generation` objects that carry them).
"""

from __future__ import annotations

import ast
import base64
import builtins
import io
import json
import pickle
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lm_eval_tts.tasks.code_extract import extract_code
from lm_eval_tts.execution.codec import decode

# LiveCodeBench's grader runs every program after a block of standard-library imports, so solutions may use
# List, defaultdict, heapq, ... without importing them (LeetCode's own environment does the same).
LCB_PREAMBLE = (
    "import sys, math, re, string, heapq, bisect, itertools, collections, functools, operator, random\n"
    "from typing import *\n"
    "from collections import *\n"
    "from itertools import *\n"
    "from functools import *\n"
    "from heapq import *\n"
    "from bisect import *\n"
)

# ---------------------------------------------------------------- cases per benchmark (pure)


def mbpp_case(doc: Mapping[str, Any], program: str):
    from lm_eval_tts.grading.code import AssertCase

    return AssertCase(program=program, tests=tuple(doc["test_list"]), setup=doc.get("test_setup_code") or "")


def mbpp_sanitized_case(doc: Mapping[str, Any], program: str):
    from lm_eval_tts.grading.code import AssertCase

    return AssertCase(program=program, tests=tuple(doc["test_list"]), setup="\n".join(doc.get("test_imports") or ()))


def mbpp_plus_case(doc: Mapping[str, Any], program: str):
    from lm_eval_tts.grading.code import CompareCase

    return CompareCase(
        program=program,
        entry_point=doc["entry_point"],
        inputs=tuple(tuple(args) for args in decode(doc["inputs"])),
        expected=tuple(decode(doc["expected"])),
        atol=float(doc["atol"] or 0.0),
    )


def lcb_tests(doc: Mapping[str, Any]) -> list[dict[str, str]]:
    """Public tests, then private tests when the data has them (hub releases), as [{input, output, testtype}]."""
    tests = json.loads(doc["public_test_cases"])
    private = doc.get("private_test_cases") or ""
    if private.strip():
        tests += decode_private_tests(private)
    return tests


def lcb_case(doc: Mapping[str, Any], program: str):
    from lm_eval_tts.grading.code import FunctionalCase, StdioCase

    tests = lcb_tests(doc)
    program = LCB_PREAMBLE + program
    kinds = {t["testtype"] for t in tests}
    if kinds == {"functional"}:
        func_name = json.loads(doc["metadata"])["func_name"]
        return FunctionalCase(program=program, func_name=func_name, tests=tuple((t["input"], t["output"]) for t in tests))
    if kinds == {"stdin"}:
        return StdioCase(program=program, tests=tuple((t["input"], t["output"]) for t in tests))
    raise ValueError(f"LiveCodeBench problem {doc['question_id']} mixes test types {sorted(kinds)}")


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
        tree = ast.parse(doc["test_list"][0])
    except SyntaxError:
        return None
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)]
    names = [call.func.id for call in sorted(calls, key=lambda c: (c.lineno, c.col_offset))]
    chosen = [name for name in names if not hasattr(builtins, name)] or names  # MBPP 126 defines `sum`
    return chosen[0] if chosen else None


def lcb_entry_point(doc: Mapping[str, Any]) -> str | None:
    return "Solution" if doc["starter_code"].strip() else None


# ---------------------------------------------------------------- the grading filter


def sample_record(response: Any, program: str, verdict: Any) -> dict[str, Any]:
    """What `--log_samples` shows for one sample; mean_logprob/first_token come from a `Generation` response."""
    token_ids = getattr(response, "token_ids", ())
    return {
        "program": program,
        "passed": bool(verdict.passed),
        "tests_passed": verdict.tests_passed,
        "failure": verdict.failure,
        "detail": verdict.detail,
        "mean_logprob": getattr(response, "mean_logprob", None),
        "first_token": token_ids[0] if token_ids else None,
    }


def grade_all(
    resps: Sequence[Sequence[Any]],
    docs: Sequence[Mapping[str, Any]],
    make_case: Callable[[Mapping[str, Any], str], Any],
    entry_point: Callable[[Mapping[str, Any]], str | None],
) -> list[list[dict[str, Any]]]:
    """Per document, one record per response; every program of every document graded in one batch."""
    from lm_eval_tts.grading.code import grade_programs

    programs = [[extract_code(r, entry_point(doc)) for r in doc_resps] for doc_resps, doc in zip(resps, docs)]
    cases = [make_case(doc, p) for doc, doc_programs in zip(docs, programs) for p in doc_programs]
    verdicts = iter(grade_programs(cases))
    return [
        [sample_record(r, p, next(verdicts)) for r, p in zip(doc_resps, doc_programs)]
        for doc_resps, doc_programs in zip(resps, programs)
    ]


def grade_mbpp(resps, docs):
    return grade_all(resps, docs, mbpp_case, mbpp_entry_point)


def grade_mbpp_sanitized(resps, docs):
    return grade_all(resps, docs, mbpp_sanitized_case, mbpp_entry_point)


def grade_mbpp_plus(resps, docs):
    return grade_all(resps, docs, mbpp_plus_case, lambda doc: doc["entry_point"])


def grade_livecodebench(resps, docs):
    return grade_all(resps, docs, lcb_case, lcb_entry_point)


# ---------------------------------------------------------------- per-document metrics

_NOT_FOR_CODE = ("maj@", "num_distinct_answers")  # majority vote needs comparable final answers; programs are not


def code_metrics(records: Sequence[Mapping[str, Any]]) -> dict[str, object]:
    """pass@k for k = 1, 2, 4, ... up to n (plus best@k_logprob and distinct first tokens when known)."""
    from lm_eval_tts.metrics.estimators import default_ks
    from lm_eval_tts.metrics.per_doc import doc_metrics

    n = len(records)
    logprobs = [r["mean_logprob"] for r in records]
    first_tokens = [r["first_token"] for r in records]
    metrics = doc_metrics(
        correct=[r["passed"] for r in records],
        answers=[None] * n,
        scores={"logprob": logprobs} if all(v is not None for v in logprobs) else None,
        first_tokens=first_tokens if all(t is not None for t in first_tokens) else None,
        ks=default_ks(n),
    )
    return {key: value for key, value in metrics.items() if not key.startswith(_NOT_FOR_CODE)}


def process_results(doc: Mapping[str, Any], results: Sequence[Any]) -> dict[str, object]:
    """lm-eval hook: `results` holds the document's graded records (one list per request instance)."""
    records = [r for item in results for r in (item if isinstance(item, list) else [item])]
    return code_metrics(records)
