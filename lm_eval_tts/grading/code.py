"""Code test harnesses: run candidate programs in the sandbox and decide, outside the program, which tests passed.

Four case kinds map the benchmark formats directly:

* ``AssertCase``     MBPP / MBPP-sanitized: ``tests`` are the record's ``test_list`` assert statements, ``setup`` its
                     ``test_setup_code`` (sanitized: ``"\\n".join(test_imports)``). The asserts run outside the
                     program's process; its functions are called remotely and only plain data comes back, so ``==``,
                     ``isclose``, ``sorted``... run on builtin values the program cannot forge. Stdlib modules, builtins
                     and setup names the tests use are the checker's own: a program cannot redefine ``sorted`` or fake
                     ``math`` to make an assert hold (a builtin-named function under test, ``assert sum(1, 2) == 3``,
                     is still the program's). Operand-free operations on returned objects (``bool``, ``len``,
                     ``str``, iteration) are answered by the program; comparisons with returned objects fail.
* ``StdioCase``      LiveCodeBench AtCoder/Codeforces: ``tests`` = ``(input, output)`` pairs from
                     ``public_test_cases`` (``testtype == "stdin"``). Outputs compare line by line after stripping;
                     a line that differs as text still matches if its whitespace-separated tokens are equal as text
                     or as exact decimals (``1.50`` == ``1.5``).
* ``FunctionalCase`` LiveCodeBench LeetCode: ``func_name`` = ``json.loads(metadata)["func_name"]``; each test
                     ``input`` holds one JSON argument per line, ``output`` one JSON value. The method is called on a
                     fresh ``Solution()`` per test; tuples compare as lists.
* ``CompareCase``    MBPP+ (EvalPlus): ``inputs`` are the argument lists of ``base_input`` + ``plus_input``,
                     ``expected`` the canonical solution's outputs, both as ``codec`` text (build them with
                     ``encode_args`` / ``reference_outputs``). Compared as EvalPlus does
                     (``outputs.evalplus_match``): ``atol`` is the task's tolerance or one per test
                     (``outputs.evalplus_tolerances``), ``oracle`` one of EvalPlus's special oracles or "".

``setup`` of the LiveCodeBench kinds defaults to ``LIVECODEBENCH_PRELUDE`` (the imports LiveCodeBench puts in front
of every program, e.g. ``from typing import *`` so ``List[int]`` in starter code works).

Failure kinds: ``wrong_answer``, ``runtime_error``, ``timeout``, ``memory``, ``syntax``, ``output_limit``,
``sandbox_error``. A test counts as passed only when its outcome was positively observed; tests that never ran
(after a timeout, a crash of the program process, or the whole-program timeout) count as failed.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Union

from lm_eval_tts.execution import codec
from lm_eval_tts.execution.isolation import Limits
from lm_eval_tts.execution.pool import SandboxPool, shared_pool
from lm_eval_tts.grading.outputs import NOT_NONE, ORACLES_WITH_ARGS, evalplus_match, same_json_value, stdout_matches

FAILURE_KINDS = ("wrong_answer", "runtime_error", "timeout", "memory", "syntax", "output_limit", "sandbox_error")

LIVECODEBENCH_PRELUDE = (
    "from string import *\nfrom re import *\nfrom datetime import *\nfrom collections import *\n"
    "from heapq import *\nfrom bisect import *\nfrom copy import *\nfrom math import *\nfrom random import *\n"
    "from statistics import *\nfrom itertools import *\nfrom functools import *\nfrom operator import *\n"
    "from io import *\nfrom sys import *\nimport string\nimport re\nimport datetime\nimport collections\n"
    "import heapq\nimport bisect\nimport copy\nimport math\nimport random\nimport statistics\nimport itertools\n"
    "import functools\nimport operator\nimport io\nimport sys\nimport json\nfrom typing import *\n"
    "sys.setrecursionlimit(50000)\n"
)


@dataclass(frozen=True)
class AssertCase:
    program: str
    tests: tuple[str, ...]
    setup: str = ""


@dataclass(frozen=True)
class StdioCase:
    program: str
    tests: tuple[tuple[str, str], ...]
    setup: str = LIVECODEBENCH_PRELUDE


@dataclass(frozen=True)
class FunctionalCase:
    program: str
    func_name: str
    tests: tuple[tuple[str, str], ...]
    setup: str = LIVECODEBENCH_PRELUDE


@dataclass(frozen=True)
class CompareCase:
    program: str
    entry_point: str
    inputs: tuple[str, ...]
    expected: tuple[str, ...]
    atol: float | tuple[float, ...] = 0.0
    oracle: str = ""


Case = Union[AssertCase, StdioCase, FunctionalCase, CompareCase]


@dataclass(frozen=True)
class CodeVerdict:
    """One program's grade. ``outputs`` holds, per test, what the program produced, computed without the expected
    outputs, so that programs can be grouped by behaviour (identical outputs on the problem's test inputs):

    * stdin tests: the stdout text, each line stripped of trailing whitespace and the whole stripped;
    * call tests (MBPP+, HumanEval+, LiveCodeBench functional): the canonical codec text of the returned value
      (``codec.canonical``: sets and dicts sorted; an object that is not plain data is ``["r",0]``);
    * assert tests (MBPP, HumanEval): the canonical codec text of the list of values the program returned during
      that test (its calls' results, and the results of operations on returned objects), in order;

    None where the test produced no value (the program or the call raised, crashed, timed out, or the test never
    ran). Texts longer than ``OUTPUT_TEXT_MAX`` characters are replaced by ``"sha256:" + hexdigest`` of the text.
    """

    passed: bool
    tests_passed: tuple[bool, ...]
    failure: str | None
    detail: str = ""
    outputs: tuple[str | None, ...] = ()


OUTPUT_TEXT_MAX = 128


def output_record(text: str | None) -> str | None:
    """A test's output as ``CodeVerdict.outputs`` keeps it: the text itself, or its sha256 when it is long."""
    if text is None or len(text) <= OUTPUT_TEXT_MAX:
        return text
    return "sha256:" + hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()


def stdout_record(stdout: str) -> str:
    """The comparable form of a program's stdout: trailing whitespace of each line and of the whole removed."""
    return "\n".join(line.rstrip() for line in stdout.strip().split("\n"))


# ------------------------------------------------------------------------------------------- building values
def encode_args(args: Sequence) -> str:
    """Codec text of one call's argument list (e.g. ``encode_args(json.loads(base_input_item_text))``)."""
    return codec.encode(list(args))


def _n_tests(case: Case) -> int:
    return len(case.inputs) if isinstance(case, CompareCase) else len(case.tests)


# --------------------------------------------------------------------------------------------- jobs and verdicts
def _imports_only(setup: str) -> str:
    """The import statements of an assert case's setup: the program may rely on them (the rest of the setup,
    e.g. building objects with the program's classes, runs in the checker)."""
    try:
        tree = ast.parse(setup)
    except SyntaxError:
        return ""
    return "\n".join(ast.unparse(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom)))


def _job(case: Case, i: int, per_test: float, total: float) -> dict:
    base = {"id": i, "per_test": per_test, "total": total}
    if isinstance(case, AssertCase):
        return {**base, "kind": "assert", "program": case.program, "setup": case.setup,
                "prelude": _imports_only(case.setup), "tests": list(case.tests)}
    if isinstance(case, StdioCase):
        return {**base, "kind": "stdio", "program": case.setup + case.program, "inputs": [t[0] for t in case.tests]}
    if isinstance(case, FunctionalCase):
        args = []
        for inp, _ in case.tests:
            try:
                args.append(codec.to_tree([json.loads(line) for line in inp.split("\n") if line.strip()]))
            except ValueError as e:
                raise ValueError(f"functional test input is not newline-separated JSON: {inp[:80]!r} ({e})") from e
        return {**base, "kind": "call", "program": case.program, "prelude": case.setup,
                "target": ["Solution", case.func_name], "args": args}
    if isinstance(case, CompareCase):
        if len(case.inputs) != len(case.expected):
            raise ValueError(f"CompareCase has {len(case.inputs)} inputs but {len(case.expected)} expected outputs")
        return {**base, "kind": "call", "program": case.program, "target": [case.entry_point],
                "args": [json.loads(t) for t in case.inputs]}
    raise TypeError(f"not a code case: {type(case).__name__}")


_OPAQUE = object()  # stands for a returned object that is not plain data (it never equals anything)


def _verdict(flags: list[bool], n: int, failure: str | None, detail: str, outputs: list[str | None]) -> CodeVerdict:
    flags = (flags + [False] * n)[:n]
    outputs = tuple(output_record(o) for o in (outputs + [None] * n)[:n])
    passed = n > 0 and all(flags)
    if passed:
        return CodeVerdict(True, tuple(flags), None, "", outputs)
    if failure not in FAILURE_KINDS:  # error kinds partly come from the program's process: keep them to the list
        failure = "runtime_error" if failure else "wrong_answer"
    return CodeVerdict(False, tuple(flags), failure, str(detail)[:500], outputs)


def _stdio_verdict(case: StdioCase, result: dict) -> CodeVerdict:
    flags, failure, detail, outputs = [], None, "", []
    for (_, expected), run in zip(case.tests, result["runs"]):
        status = run["status"]
        exited = status == "exit" and run.get("code") == 0
        ok = exited and stdout_matches(run["stdout"], expected)
        flags.append(ok)
        outputs.append(stdout_record(run["stdout"]) if exited else None)
        if not ok and failure is None:
            if exited:
                failure, detail = "wrong_answer", f"stdout {run['stdout'][:200]!r} != expected {expected[:200]!r}"
            elif status == "exit":
                tail = run.get("stderr_tail", "")
                failure = "memory" if "MemoryError" in tail else "runtime_error"
                detail = tail[-400:]
            elif status == "signal":
                failure, detail = "runtime_error", f"killed by signal {run.get('signal')}"
            else:
                failure, detail = status, run.get("stderr_tail", status)[-400:]
    if len(flags) < len(case.tests) and failure is None:
        failure, detail = "timeout", "whole-program time limit reached before all tests ran"
    return _verdict(flags, len(case.tests), failure, detail, outputs)


def _decode_all(texts: tuple[str, ...]) -> list:
    return [codec.decode(t) for t in texts]


def _call_verdict(case: FunctionalCase | CompareCase, result: dict, decode_expected=_decode_all) -> CodeVerdict:
    if isinstance(case, FunctionalCase):
        expected = [json.loads(out) for _, out in case.tests]
    else:
        expected = decode_expected(case.expected)
        atols = case.atol if isinstance(case.atol, tuple) else (case.atol,) * len(expected)
        # NOT_NONE only asks whether something was returned: an object that is not plain data counts as one
        opaque = (lambda _ref: _OPAQUE) if case.oracle == NOT_NONE else None
    flags, failure, detail, outputs = [], None, "", []
    for i, (reply, exp) in enumerate(zip(result["results"], expected)):
        ok, kind, why = False, None, ""
        outputs.append(reply.get("v"))
        if "v" in reply:
            try:  # canonical text from the driver: decoding it is linear in its (capped) size
                got = codec.decode(reply["v"], make_ref=opaque if isinstance(case, CompareCase) else None)
            except codec.NotPlainData as e:
                kind, why = "wrong_answer", f"test {i}: result is not plain data ({e})"
            else:
                if isinstance(case, FunctionalCase):
                    ok = same_json_value(got, exp)
                else:
                    args = codec.decode(case.inputs[i]) if case.oracle in ORACLES_WITH_ARGS else ()
                    ok = evalplus_match(got, exp, atols[i], case.oracle, args)
                if not ok:
                    kind, why = "wrong_answer", f"test {i}: got {codec.preview(got)}, expected {codec.preview(exp)}"
        else:
            kind, why = reply.get("error", "runtime_error"), f"test {i}: {reply.get('detail', '')}"
        flags.append(ok)
        if not ok and failure is None:
            failure, detail = kind, why
    fatal = result.get("fatal")
    if fatal and failure is None:
        failure, detail = fatal["kind"], fatal.get("detail", "")
    return _verdict(flags, len(expected), failure, detail, outputs)


def _assert_verdict(case: AssertCase, result: dict) -> CodeVerdict:
    flags = [False] * len(case.tests)
    outputs: list[str | None] = [None] * len(case.tests)
    failure, detail = None, ""
    for r in result["results"]:
        i = r.get("i")
        if not isinstance(i, int) or not 0 <= i < len(flags):
            return CodeVerdict(False, tuple([False] * len(flags)), "sandbox_error", "malformed checker report",
                               tuple(outputs))
        flags[i] = r.get("ok") is True
        outputs[i] = r.get("output")
        if not flags[i] and failure is None:
            failure, detail = r.get("kind", "wrong_answer"), r.get("detail", "")
    fatal = result.get("fatal")
    if fatal and failure is None:
        failure, detail = fatal["kind"], fatal.get("detail", "")
    return _verdict(flags, len(case.tests), failure, detail, outputs)


def verdict_from_result(case: Case, result: dict, decode_expected=_decode_all) -> CodeVerdict:
    """Turn the sandbox's raw report into a verdict; anything unexpected is a failure, never a pass. A failure in
    a job during which the kernel killed a process of the sandbox for memory is a ``memory`` failure.
    ``decode_expected`` decodes a CompareCase's expected outputs (a batch decodes each problem's once)."""
    n = _n_tests(case)
    if n == 0:
        return CodeVerdict(False, (), "sandbox_error", "the case has no tests: nothing was observed to pass")
    if "worker_error" in result:
        verdict = CodeVerdict(False, (False,) * n, "sandbox_error", result["worker_error"][:500], (None,) * n)
    elif isinstance(case, StdioCase):
        verdict = _stdio_verdict(case, result)
    elif isinstance(case, AssertCase):
        verdict = _assert_verdict(case, result)
    else:
        verdict = _call_verdict(case, result, decode_expected)
    if not verdict.passed and result.get("oom_kills"):
        detail = f"killed for exceeding the sandbox's memory limit ({verdict.detail})"[:500]
        verdict = dataclasses.replace(verdict, failure="memory", detail=detail)
    return verdict


def grade_programs(
    cases: Sequence[Case],
    *,
    timeout_per_test: float = 6.0,
    timeout_total: float = 30.0,
    memory_mb: int = 1024,
    workers: int | None = None,
    progress: bool = True,
    mode: str | None = None,
    pool: SandboxPool | None = None,
) -> list[CodeVerdict]:
    """Run every case in the sandbox (parallel over warm workers) and return one verdict per case.

    ``mode`` forces an isolation mode ("bwrap", "unshare", "rlimits"); default: the strongest available.
    ``pool`` runs on a given pool instead of the process-wide one (then ``memory_mb``/``workers``/``mode`` are
    the pool's)."""
    if not cases:
        return []
    pool = pool or shared_pool(workers, Limits(memory_mb=memory_mb), mode)
    jobs = [_job(c, i, timeout_per_test, timeout_total) for i, c in enumerate(cases)]
    verdicts: list[CodeVerdict | None] = [None] * len(cases)
    bar = None
    if progress and len(jobs) >= 50:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(jobs), desc=f"running programs ({pool.mode} sandbox)", unit="prog")

    # The samples of a problem share its tuple of expected outputs and arrive close together: decode it once.
    decode_expected = functools.lru_cache(maxsize=8)(_decode_all)

    def grade(i: int, result: dict) -> None:  # while the sandboxes run the next programs
        verdicts[i] = verdict_from_result(cases[i], result, decode_expected)
        if bar:
            bar.update()

    try:
        pool.run(jobs, on_result=grade)
    finally:
        if bar:
            bar.close()
    return verdicts  # type: ignore[return-value]


def reference_outputs(
    program: str, entry_point: str, inputs: Sequence[str], *, timeout_per_test: float = 20.0,
    mode: str | None = None,
) -> list[str | None]:
    """Outputs of a trusted reference solution (e.g. MBPP+ ``canonical_solution``) for each input, as codec text
    for ``CompareCase.expected``; None where the reference itself failed. Runs in the sandbox like any program."""
    job = _job(CompareCase(program, entry_point, tuple(inputs), tuple(inputs)), 0, timeout_per_test,
               timeout_per_test * max(1, len(inputs)))
    result = shared_pool(None, Limits(), mode).run_one(job)
    out: list[str | None] = [None] * len(inputs)
    for i, reply in enumerate(result.get("results", [])):
        if "v" in reply and reply["v"] != '["r",0]':  # codec text already; an object that is not plain data: None
            out[i] = reply["v"]
    return out
