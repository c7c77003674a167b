"""lm-eval task classes for MBPP, MBPP-sanitized, MBPP+, HumanEval, HumanEval+ and LiveCodeBench with n samples
and pass@k.

A task YAML names one with `class: !function lm_eval_tts.tasks.code_task.MbppTask` (etc.); the prompt and the
generation settings stay in the YAML. Like the reasoning tasks (lm_eval_tts.tasks.reasoning), the class adds:
- task options from `--metadata` (repeats, ks, dataset; LiveCodeBench filters: see code_options);
- the problems, read from the files shipped in task_configs/ (offline) or from the `dataset` option;
- one filter, "graded", that turns each response into its program and runs every program of every doc in ONE
  sandboxed `grade_programs` batch (all workers busy); its per-sample records
  {"program", "correct", "grade", "tests_passed", "detail", "behaviour", ["weak_passed"], ["logprob"],
  ["first_token"], ["tokens"], ["hot_token_id"], ["orm"]} are what `--log_samples` writes as the doc's `filtered_resps`;
- per-doc metrics (code_results.code_metrics): pass@k; maj@k and the selection rules over programs grouped by
  behaviour (identical outputs on the test inputs); best@k by mean log-probability and, with `reward_model`, by
  an outcome reward model; the verifier false-positive metrics where the task has weak and strong tests.
The EvalPlus tasks (HumanEval, HumanEval+, MBPP+) also follow EvalPlus's prompt protocol: completion without a
chat template, EvalPlus's instruction and response prefix with one (code_prompts).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from lm_eval.api.filter import FilterEnsemble
from lm_eval.api.task import ConfigurableTask

from lm_eval_tts.errors import UserError
from lm_eval_tts.grading.reward_model import check_reward_model_dir, shared_reward_model
from lm_eval_tts.metrics.estimators import default_ks
from lm_eval_tts.metrics.options import parse_metric_options
from lm_eval_tts.tasks import code_data, code_prompts, code_results, code_values
from lm_eval_tts.tasks.code_extract import extract_code, program_for_prompt
from lm_eval_tts.tasks.code_options import CodeOptions, parse_code_options
from lm_eval_tts.tasks.common import FILTER_NAME, GradeResponses, SpecMetricsMixin
from lm_eval_tts.tasks.task_options import TaskOptions, check_ks, parse_options


class CodeTask(SpecMetricsMixin, ConfigurableTask):
    """Base class: subclasses say where the problems come from and how a program is tested."""

    SHIPPED_FILE: tuple[str, str]  # (benchmark folder, file name) under task_configs/
    # Sandbox time limits per program: seconds per test, and for all its tests together.
    TIMEOUTS = {"timeout_per_test": 6.0, "timeout_total": 30.0}

    def __init__(self, config: dict | None = None, **kwargs):
        config = {key: value for key, value in (config or {}).items() if key != "class"}
        metadata = config.get("metadata")
        self.options: TaskOptions = parse_options(metadata)
        self.code_options: CodeOptions = parse_code_options(metadata)
        if self.options.repeats is not None:
            config["repeats"] = self.options.repeats
        repeats = int(config.get("repeats") or 1)
        self.ks = self.options.ks or tuple(default_ks(repeats))
        check_ks(self.ks, repeats)
        self.metric_options = parse_metric_options(metadata, repeats)
        if self.options.reward_model:
            check_reward_model_dir(self.options.reward_model)
        super().__init__(config=config, **kwargs)
        self._filters = [FilterEnsemble(name=FILTER_NAME, filters=[partial(GradeResponses, self)])]
        self._specs = code_results.metric_specs_for_code(self.ks, with_orm=bool(self.options.reward_model))
        self.config.metric_list = self._specs

    # --- data --------------------------------------------------------------------------------------------

    def download(self, dataset_kwargs=None, **kwargs) -> None:
        import datasets

        docs = self.load_docs()
        if not docs:
            raise UserError(f"{self.config.task}: the task options select no problems; widen them")
        self.dataset = datasets.DatasetDict({"test": datasets.Dataset.from_list(docs)})

    def source(self) -> str:
        """The `dataset` option, else the shipped file."""
        return self.options.dataset or str(code_data.shipped_file(*self.SHIPPED_FILE))

    @abstractmethod
    def load_docs(self) -> list[dict[str, Any]]:
        """The test problems as dataset rows."""

    # --- grading (the "graded" filter) and metrics ---------------------------------------------------------

    @abstractmethod
    def make_case(self, doc: Mapping[str, Any], program: str):
        """The grading case (lm_eval_tts.grading.code) of one program for this doc."""

    @abstractmethod
    def entry_point(self, doc: Mapping[str, Any]) -> str | None:
        """The function or class name the program must define (guides code extraction), if any."""

    def program(self, doc: Mapping[str, Any], response: Any) -> str:
        """The program a response stands for: its code (code_extract), guided by the entry point."""
        return extract_code(response, self.entry_point(doc))

    def grade_responses(self, responses_per_doc: Sequence[Sequence[str]], docs: Sequence[dict]) -> list[list[dict]]:
        """Records of every response (code_results.grade_all), each with its reward-model score (`orm`, the
        (prompt, response) pair scored) when the `reward_model` option is given."""
        records = code_results.grade_all(responses_per_doc, docs, self.program, self.make_case, **self.TIMEOUTS)
        if self.options.reward_model:
            model = shared_reward_model(self.options.reward_model, self.options.reward_batch_size)
            prompts = [self.doc_to_text(doc) for doc, responses in zip(docs, responses_per_doc) for _ in responses]
            scores = iter(model.score(prompts, [str(r) for responses in responses_per_doc for r in responses]))
            for record in (r for doc_records in records for r in doc_records):
                record[code_results.ORM] = next(scores)
        return records

    def process_results(self, doc, results):
        (records,) = results
        return code_results.code_metrics(records, self.ks, self.metric_options)


class MbppTask(CodeTask):
    """MBPP test split (task ids 11-510): the record's asserts, after its test_setup_code."""

    SHIPPED_FILE = ("mbpp", "mbpp.jsonl")
    FIELDS = code_data.MBPP_FIELDS
    KEEP: range | None = code_data.MBPP_TEST_IDS

    def load_docs(self):
        records = code_data.read_records(self.source(), self.options.dataset_split)
        return code_data.ordered_records(records, self.FIELDS, self.source(), keep=self.KEEP)

    def make_case(self, doc, program):
        return code_results.mbpp_case(doc, program)

    def entry_point(self, doc):
        return code_results.mbpp_entry_point(doc)


class MbppSanitizedTask(MbppTask):
    """Sanitized MBPP, all 427 problems (the hand-checked set, drawn from every split): its asserts, after its
    test_imports."""

    SHIPPED_FILE = ("mbpp", "mbpp_sanitized.jsonl")
    FIELDS = code_data.MBPP_SANITIZED_FIELDS
    KEEP = None

    def make_case(self, doc, program):
        return code_results.mbpp_sanitized_case(doc, program)


class EvalPlusTask(CodeTask):
    """Tasks with EvalPlus's prompt protocol: the task's `prompt` is code to continue (a signature + docstring).

    Without a chat template the model continues the prompt and generation stops at EvalPlus's stop strings
    (COMPLETION_STOPS); with one, the prompt goes into EvalPlus's instruction and the answer starts with its
    response prefix, which opens a ```python block. Either way the response's program is
    code_extract.program_for_prompt (a whole program after the prompt, or the prompt's continuation).
    """

    COMPLETION_STOPS: tuple[str, ...] = code_prompts.HUMANEVAL_COMPLETION_STOPS
    _chat = False  # set per request by fewshot_context, read by doc_to_text

    def fewshot_context(self, doc, num_fewshot, **kwargs):
        self._chat = bool(kwargs.get("apply_chat_template"))
        if self._chat:
            kwargs["gen_prefix"] = code_prompts.EVALPLUS_RESPONSE_PREFIX
        return super().fewshot_context(doc=doc, num_fewshot=num_fewshot, **kwargs)

    def doc_to_text(self, doc, doc_to_text=None):
        text = super().doc_to_text(doc, doc_to_text)
        return code_prompts.evalplus_chat_prompt(text) if self._chat else text

    def construct_requests(self, doc, ctx, **kwargs):
        completion = not kwargs.get("apply_chat_template")
        request = super().construct_requests(doc, ctx, **kwargs)
        if completion:
            until = request.arguments[1].setdefault("until", [])
            until.extend(stop for stop in self.COMPLETION_STOPS if stop not in until)
        return request

    def entry_point(self, doc):
        return doc["entry_point"]

    def program(self, doc, response):
        return program_for_prompt(doc["prompt"], response, doc["entry_point"], self.COMPLETION_STOPS)


class HumanEvalTask(EvalPlusTask):
    """HumanEval: the dataset's own `check(candidate)` test code decides (OpenAI's harness)."""

    SHIPPED_FILE = ("humaneval", "humaneval.jsonl")
    TIMEOUTS = {"timeout_per_test": 10.0, "timeout_total": 20.0}  # one test: the whole check function

    def load_docs(self):
        records = code_data.read_records(self.source(), self.options.dataset_split)
        return code_data.ordered_records(records, code_data.HUMANEVAL_FIELDS, self.source())

    def make_case(self, doc, program):
        return code_results.humaneval_case(doc, program)


class EvalPlusTestsTask(EvalPlusTask):
    """MBPP+ / HumanEval+: outputs on base_input + plus_input compared with the canonical solution's (precomputed
    and shipped, see code_values) as EvalPlus compares them; `tests_passed` lists the doc's `n_base` base tests
    first."""

    EXPECTED_FILE: tuple[str, str]
    # ~100-1000 inputs per task, some deliberately large (Mbpp/599 sums range(10**8) about 30 times).
    TIMEOUTS = {"timeout_per_test": 15.0, "timeout_total": 300.0}

    def load_docs(self):
        records = code_data.read_records(self.source(), self.options.dataset_split)
        records = code_data.ordered_records(records, code_data.EVALPLUS_FIELDS, self.source())
        expected = self.code_options.expected_file or str(code_data.shipped_file(*self.EXPECTED_FILE))
        docs, self.evalplus_tests = code_values.evalplus_problems(records, expected)
        return docs

    def make_case(self, doc, program):
        tests = self.evalplus_tests[doc["task_id"]]
        if None in tests.expected:  # long outputs are not shipped: recompute them once, when first needed
            tests = self.evalplus_tests[doc["task_id"]] = code_values.with_elided_outputs(doc, tests)
        return code_results.evalplus_case(doc, tests, program)


class MbppPlusTask(EvalPlusTestsTask):
    SHIPPED_FILE = ("mbpp", "mbpp_plus.jsonl")
    EXPECTED_FILE = ("mbpp", "mbpp_plus_expected.jsonl.gz")
    COMPLETION_STOPS = code_prompts.MBPP_PLUS_COMPLETION_STOPS


class HumanEvalPlusTask(EvalPlusTestsTask):
    SHIPPED_FILE = ("humaneval", "humaneval_plus.jsonl")
    EXPECTED_FILE = ("humaneval", "humaneval_plus_expected.jsonl.gz")


class LiveCodeBenchTask(CodeTask):
    """LiveCodeBench code generation: stdin/stdout problems and LeetCode `class Solution` problems."""

    SHIPPED_FILE = ("livecodebench", "livecodebench.jsonl")

    def load_docs(self):
        options = self.code_options
        if self.options.dataset:
            sources = [self.options.dataset]
        else:
            sources = code_data.lcb_release_sources(options.release_version)
        records = []
        for source in sources:
            part = code_data.read_records(source, self.options.dataset_split)
            code_data.require_fields(part, code_data.LCB_FIELDS, source)
            records += part
        kept = code_data.filter_lcb(
            records, options.start_date, options.end_date, options.difficulties, options.platforms
        )
        return code_data.lcb_docs(kept)

    def make_case(self, doc, program):
        return code_results.lcb_case(doc, program)

    def entry_point(self, doc):
        return code_results.lcb_entry_point(doc)
