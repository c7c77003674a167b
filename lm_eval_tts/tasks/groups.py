"""Group metrics that follow the subtasks' own metric lists (which depend on `--metadata repeats=`/`ks=`).

lm-eval 0.4.13 reads a group's `aggregate_metric_list` from its YAML as a fixed list of metric names, but a tts
task's names (pass@1 ... pass@n, maj@k, best@k_<score>) are only known once the task is built from the run's
metadata. A group YAML that says `metadata: {aggregate_tts_metrics: true}` instead gets its list here, right after
lm-eval's TaskFactory has built the group and its subtasks (the `.pth` hook wraps `TaskFactory._build_group`):
every metric that a subtask averages over problems, weighted by subtask size (the problem-weighted mean over the
whole group), for every filter the subtasks report. Metrics that are not means (pass@1_variance, jensen_bound@k)
stay per subtask.
"""

from __future__ import annotations

from lm_eval.api.group import Group
from lm_eval.api.metrics import mean
from lm_eval.config.group import AggMetricConfig

MARKER = "aggregate_tts_metrics"


def with_tts_aggregates(group: Group) -> Group:
    """`group` (and its subgroups) with the aggregate list built from its subtasks when its metadata asks."""
    for candidate in [group, *group.get_all_groups()]:
        if (candidate.metadata or {}).get(MARKER):
            metrics = _mean_metrics(candidate)
            candidate.aggregate_metric_list = [AggMetricConfig(metric=name, weight_by_size=True) for name in metrics]
            if candidate._config is not None:  # what lm-eval writes into the results' group config
                candidate._config.aggregate_metric_list = candidate.aggregate_metric_list
    return group


def _mean_metrics(group: Group) -> list[str]:
    """The metrics that the group's subtasks aggregate with lm-eval's `mean`, in the first subtask's order."""
    names: dict[str, None] = {}
    for task in group.get_all_tasks():
        for name, aggregation in task.aggregation().items():
            if aggregation is mean:
                names.setdefault(name, None)
    return list(names)
