"""What every `*_tts` task class shares: the grading filter, the per-sample record, and metric aggregations.

Reasoning tasks (tasks.reasoning) and code tasks (tasks.code_task) both grade all responses of all docs in one
filter ("graded"), leave one JSON record per response in `--log_samples` (with generation_fields), and aggregate the per-doc metrics that
metrics.per_doc.metric_specs lists.
"""

from __future__ import annotations

import importlib
import json
from typing import Protocol, Sequence

from lm_eval.api.filter import Filter
from lm_eval.api.metrics import mean

from lm_eval_tts.metrics.per_doc import MEAN

FILTER_NAME = "graded"
LOGPROB, ORM = "logprob", "orm"  # the record keys of the best@k scores


class GradedResponse(dict):
    """One response's grading record. lm-eval writes `filtered_resps` items with str(), so str() is JSON."""

    def __str__(self) -> str:
        return json.dumps(self, ensure_ascii=False)

    __repr__ = __str__


def generation_fields(response: object) -> dict:
    """The record fields a `Generation` response carries beyond its text (none for a plain string): `logprob`
    (mean token log-probability), `first_token`, `tokens` (count) and, for FIRE, `hot_token_id` (the hot token,
    which the viewer highlights at line N; absent when the response ended before line N)."""
    fields: dict = {}
    if getattr(response, "mean_logprob", None) is not None:
        fields[LOGPROB] = response.mean_logprob
    token_ids = getattr(response, "token_ids", None)
    if token_ids:
        fields["first_token"] = token_ids[0]
    if token_ids is not None:
        fields["tokens"] = len(token_ids)
    if getattr(response, "hot_token_id", None) is not None:
        fields["hot_token_id"] = response.hot_token_id
    return fields


class GradingTask(Protocol):
    def grade_responses(self, responses_per_doc: Sequence[Sequence[str]], docs: Sequence[dict]) -> list[list[dict]]:
        ...


class GradeResponses(Filter):
    """lm-eval's filter interface over a task's grade_responses (all docs of the task at once); `options` are
    passed on (e.g. GSM8K's filter_name: strict-match or flexible-extract)."""

    def __init__(self, task: GradingTask, **options):
        super().__init__()
        self.task = task
        self.options = options

    def apply(self, resps, docs):
        return self.task.grade_responses(list(resps), list(docs), **self.options)


class SpecMetricsMixin:
    """lm-eval's aggregation()/higher_is_better() from `self._specs` (metrics.per_doc.metric_specs)."""

    _specs: list[dict]

    def aggregation(self) -> dict:
        return {spec["metric"]: aggregation_function(spec["aggregation"]) for spec in self._specs}

    def higher_is_better(self) -> dict:
        return {spec["metric"]: spec["higher_is_better"] for spec in self._specs}


def aggregation_function(name: str):
    """The aggregation callable for a metric_specs name."""
    if name == MEAN:
        return mean  # lm-eval's own `mean`, so results carry its closed-form standard error
    module, _, function = name.rpartition(".")
    return getattr(importlib.import_module(module), function)
