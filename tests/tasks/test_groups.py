"""math_tts group metrics follow the run's repeats/ks: the aggregate list is built from the subtasks when lm-eval's
own TaskManager loads the group (through the package's hook), for repeats=4 and ks=[1,3]."""

import pytest
from lm_eval.api.group import Group
from lm_eval.tasks import TaskManager

from lm_eval_tts.tasks.groups import with_tts_aggregates

SUBJECTS = 7


def load_group(metadata):
    loaded = TaskManager(metadata=metadata).load(["math_tts"])
    assert len(loaded["tasks"]) == SUBJECTS
    return loaded["groups"]["math_tts"]


@pytest.mark.parametrize(
    "metadata, ks",
    [({"repeats": 4}, (1, 2, 4)), ({"repeats": 4, "ks": [1, 3]}, (1, 3))],
)
def test_group_aggregates_every_mean_metric_of_its_subtasks_at_the_run_ks(metadata, ks):
    group = load_group(metadata)
    metrics = [agg.metric for agg in group.aggregate_metric_list]
    assert [m for m in metrics if m.startswith("pass@")] == [f"pass@{k}" for k in ks]
    assert [m for m in metrics if m.startswith("maj@")] == [f"maj@{k}" for k in ks]
    assert [m for m in metrics if m.startswith("best@")] == [f"best@{k}_logprob" for k in ks]
    assert {"num_distinct_answers", "num_distinct_first_tokens"} <= set(metrics)
    assert not any(m.startswith(("jensen_bound", "pass@1_variance")) for m in metrics)  # not means
    assert all(agg.weight_by_size and agg.filter_list is None for agg in group.aggregate_metric_list)
    assert group.to_dict()["aggregate_metric_list"] == [
        {"metric": m, "filter_list": None, "aggregation": "mean", "weight_by_size": True} for m in metrics]


def test_groups_without_the_marker_are_left_as_lm_eval_built_them():
    group = Group(name="tts_suite", aggregate_metric_list=None, metadata={"version": 1.0})
    assert with_tts_aggregates(group).aggregate_metric_list is None
