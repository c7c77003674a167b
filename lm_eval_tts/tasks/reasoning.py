"""lm-eval task classes for GSM8K and MATH with n samples per problem and test-time-scaling metrics.

A task YAML names one of these with `class: !function lm_eval_tts.tasks.reasoning.Gsm8kTask` (or MathTask);
everything else (prompt, data, generation settings, `repeats`) stays in the YAML. The class adds what a YAML
cannot express:
- task options from `--metadata` (see task_options), checked before any request is built;
- data files written relative to the YAML (the shipped test sets), and an optional data override;
- grading filters that turn the n responses of every doc into n records {"answer", "correct", "grade",
  ["logprob"], ["orm"], ["first_token"], ["tokens"], ["hot_token_id"]}, grading all docs in one batch (MATH
  comparisons run in parallel worker processes under a hard time limit). MATH has one filter, "graded"; GSM8K
  has lm-eval's own two, "strict-match" (an answer statement is required) and "flexible-extract" (else the last
  number), each with its own records and metrics (`pass@1,strict-match`, `pass@1,flexible-extract`, ...).
  lm-eval logs the records as the sample's `filtered_resps` next to the raw `resps`, so `--log_samples` shows
  every response with its extracted answer, correctness and scores;
- per-doc metrics from lm_eval_tts.metrics.per_doc.doc_metrics and their aggregations (metric_specs).
  For maj@k and #EA, answers graded correct form one group (the reference); wrong answers are grouped by their
  spelling (GSM8K: exact value; MATH: text after whitespace/\\left/\\right normalisation), so two wrong answers
  that are equivalent but spelled differently count as two.
"""

from __future__ import annotations

from abc import abstractmethod
from functools import partial
from pathlib import Path
from typing import Sequence

from lm_eval.api.filter import FilterEnsemble
from lm_eval.api.task import ConfigurableTask

from lm_eval_tts.errors import UserError
from lm_eval_tts.grading.answers import extract_gsm8k_answer, extract_math_answer, grade_gsm8k
from lm_eval_tts.grading.math import normalize_answer_text, shared_grader
from lm_eval_tts.grading.reward_model import check_reward_model_dir, shared_reward_model
from lm_eval_tts.grading.verdict import Verdict
from lm_eval_tts.metrics.estimators import default_ks
from lm_eval_tts.metrics.options import parse_metric_options
from lm_eval_tts.metrics.per_doc import doc_metrics, metric_specs
from lm_eval_tts.tasks.common import (FILTER_NAME, LOGPROB, ORM, GradedResponse, GradeResponses, SpecMetricsMixin,
                                     generation_fields)
from lm_eval_tts.tasks.task_options import TaskOptions, check_ks, parse_options

STRICT_MATCH, FLEXIBLE_EXTRACT = "strict-match", "flexible-extract"


class ReasoningTask(SpecMetricsMixin, ConfigurableTask):
    """Base class: subclasses say how to extract an answer, grade answers and name the question field."""

    QUESTION_FIELD = "question"
    FILTERS: tuple[str, ...] = (FILTER_NAME,)  # one grading filter per name; extract_answer learns which

    def __init__(self, config: dict | None = None, **kwargs):
        config = {key: value for key, value in (config or {}).items() if key != "class"}
        self.options: TaskOptions = parse_options(config.get("metadata"))
        if self.options.repeats is not None:
            config["repeats"] = self.options.repeats
        repeats = int(config.get("repeats") or 1)
        self.ks = self.options.ks or tuple(default_ks(repeats))
        check_ks(self.ks, repeats)
        self.metric_options = parse_metric_options(config.get("metadata"), repeats)
        if self.options.reward_model:
            check_reward_model_dir(self.options.reward_model)
        config["dataset_kwargs"] = _resolve_data_files(
            config.get("dataset_kwargs"), (config.get("metadata") or {}).get("config_source")
        )
        super().__init__(config=config, **kwargs)
        self._filters = [FilterEnsemble(name=name, filters=[partial(GradeResponses, self, filter_name=name)])
                         for name in self.FILTERS]
        self._orm_cache: dict[tuple[str, str], float] = {}
        score_names = [LOGPROB] + ([ORM] if self.options.reward_model else [])
        self._specs = metric_specs(self.ks, score_names=score_names, with_first_tokens=True, with_tokens=True)
        self.config.metric_list = self._specs

    # --- what subclasses define ---------------------------------------------------------------------------

    @abstractmethod
    def extract_answer(self, response: str, filter_name: str) -> str | None:
        """The final answer in a response as the filter `filter_name` reads it, or None."""

    @abstractmethod
    def grade(self, pairs: Sequence[tuple[str, str | None]]) -> list[Verdict]:
        """Verdicts for (gold, extracted answer) pairs, in order."""

    def vote_key(self, answer: str) -> str:
        """The spelling under which equal wrong answers are grouped for maj@k and #EA."""
        return answer

    # --- data --------------------------------------------------------------------------------------------

    def download(self, dataset_kwargs=None, **kwargs) -> None:
        super().download(dataset_kwargs, **kwargs)
        if self.options.dataset:
            self.dataset[self.config.test_split] = _load_override(self.options.dataset, self.options.dataset_split)

    # --- grading (the filters) ---------------------------------------------------------------------------

    def grade_responses(self, responses_per_doc: Sequence[Sequence[str]], docs: Sequence[dict],
                        filter_name: str | None = None) -> list[list[dict]]:
        """n records per doc (see the module docstring) as the filter `filter_name` (default: the first) reads
        them, grading every response of every doc in one batch."""
        filter_name = filter_name or self.FILTERS[0]
        golds = [self.doc_to_target(doc) for doc in docs]
        answers = [[self.extract_answer(str(r), filter_name) for r in responses] for responses in responses_per_doc]
        pairs = [(gold, answer) for gold, doc_answers in zip(golds, answers) for answer in doc_answers]
        verdicts = iter(self.grade(pairs))
        orm_scores = iter(self._orm_scores(responses_per_doc, docs))
        records = []
        for responses, doc_answers in zip(responses_per_doc, answers):
            doc_records = []
            for response, answer in zip(responses, doc_answers):
                verdict = next(verdicts)
                record = GradedResponse(answer=answer, correct=verdict.equivalent, grade=verdict.status,
                                        **generation_fields(response))
                if self.options.reward_model:
                    record[ORM] = next(orm_scores)
                doc_records.append(record)
            records.append(doc_records)
        return records

    def _orm_scores(self, responses_per_doc, docs) -> list[float]:
        """Reward-model scores of every response; each (question, response) is scored once for all filters."""
        if not self.options.reward_model:
            return []
        keys = [(doc[self.QUESTION_FIELD], str(r)) for doc, rs in zip(docs, responses_per_doc) for r in rs]
        new = list(dict.fromkeys(key for key in keys if key not in self._orm_cache))
        if new:
            model = shared_reward_model(self.options.reward_model, self.options.reward_batch_size)
            self._orm_cache.update(zip(new, model.score([q for q, _ in new], [r for _, r in new])))
        return [self._orm_cache[key] for key in keys]

    # --- metrics -----------------------------------------------------------------------------------------

    def process_results(self, doc, results):
        (records,) = results
        gold = self.doc_to_target(doc)
        correct = [record["correct"] for record in records]
        votes = [
            None if record["answer"] is None else self.vote_key(gold if record["correct"] else record["answer"])
            for record in records
        ]
        scores = {name: [r[name] for r in records] for name in (LOGPROB, ORM) if all(name in r for r in records)}
        first_tokens = [r["first_token"] for r in records] if all("first_token" in r for r in records) else None
        tokens = [r["tokens"] for r in records] if all("tokens" in r for r in records) else None
        return doc_metrics(correct, votes, scores or None, first_tokens, self.ks, tokens=tokens,
                           options=self.metric_options)


class Gsm8kTask(ReasoningTask):
    """GSM8K: the number of the final answer statement (strict-match), or else the last number
    (flexible-extract), compared by exact value."""

    QUESTION_FIELD = "question"
    FILTERS = (STRICT_MATCH, FLEXIBLE_EXTRACT)

    def extract_answer(self, response: str, filter_name: str) -> str | None:
        return extract_gsm8k_answer(response, flexible=filter_name == FLEXIBLE_EXTRACT)

    def grade(self, pairs):
        return grade_gsm8k(pairs)


class MathTask(ReasoningTask):
    """MATH / MATH-500: the last \\boxed{} answer, compared with math-verify under a hard time limit."""

    QUESTION_FIELD = "problem"

    def extract_answer(self, response: str, filter_name: str) -> str | None:
        return extract_math_answer(response)

    def grade(self, pairs):
        return shared_grader(self.options.grading_timeout).grade_many(pairs)

    def vote_key(self, answer: str) -> str:
        return normalize_answer_text(answer)


def _resolve_data_files(dataset_kwargs: dict | None, config_source: str | None) -> dict | None:
    """data_files written relative to the task YAML (the shipped data) made absolute."""
    if not dataset_kwargs or not dataset_kwargs.get("data_files") or not config_source:
        return dataset_kwargs
    base = Path(config_source).parent
    files = dataset_kwargs["data_files"]
    absolute = {split: str(base / path) for split, path in files.items()} if isinstance(files, dict) else str(base / files)
    return {**dataset_kwargs, "data_files": absolute}


def _load_override(source: str, split: str):
    """The test split from `dataset=` : a local JSON/JSONL file, or a hub dataset `ID` / `ID:CONFIG`."""
    import datasets

    path = Path(source).expanduser()
    if path.suffix in (".json", ".jsonl") or path.exists():
        if not path.is_file():
            raise UserError(f"task option dataset={source}: no such file; give a .jsonl file or a hub id ID[:CONFIG]")
        return datasets.load_dataset("json", data_files=str(path), split="train")
    hub_id, _, name = source.partition(":")
    return datasets.load_dataset(hub_id, name or None, split=split)
