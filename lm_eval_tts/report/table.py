"""Plain-text (markdown) tables of tts metrics across runs: one table per @k family, one summary table."""

from __future__ import annotations

from collections.abc import Sequence

from lm_eval_tts.metrics import keys
from lm_eval_tts.metrics.keys import parse_at_k
from lm_eval_tts.report.results import Run, TaskMetrics

FAMILY_TITLES = {
    keys.PASS: "pass@k (unbiased, from n samples)",
    f"{keys.PASS}_{keys.WEAK}": "pass@k under the weak tests only (a false positive counts as a pass)",
    keys.MAJ: "maj@k (majority vote over k-subsets, ties split)",
    keys.MAJTOP: "majtop@k (submit the k most frequent answers of N samples)",
    keys.UTILITY: "utility@k (resample up to k times, submit the first sample that passes the weak tests: "
                  "+1 if right, -fp_cost if a false positive, 0 if none passes)",
    keys.JENSEN: "Jensen bound 1-(1-pass@1)^k (pass@k if every problem had the mean pass@1; the gap to pass@k "
                 "grows with the pass@1 variance)",
}
SCORED_TITLES = {
    keys.BEST: "best@k by {} (highest-scoring of k samples)",
    keys.BONTOP: "bontop@k by {} (submit the k best-scored distinct answers of N samples)",
    keys.BOM: "bom@k by {} (Best-of-Majority: the k best-scored of the answers given by >= the threshold "
              "fraction of N samples)",
}


def family_order(families: set[str]) -> list[str]:
    """pass, pass_weak, maj, best_<score>..., majtop, bontop_<score>..., bom_<score>..., utility, jensen_bound
    (scores alphabetical): the order tables and plot panels use."""
    return sorted(families, key=lambda family: (keys.ORDER.index(keys.family_base(family)), family))


def family_title(family: str) -> str:
    if family in FAMILY_TITLES:
        return FAMILY_TITLES[family]
    base = keys.family_base(family)
    return SCORED_TITLES[base].format(family[len(base) + 1:])


def family_short(family: str) -> str:
    """The title without its explanation: "bom@k by logprob", "pass@k"."""
    return family_title(family).split(" (")[0]


def curve(metrics: TaskMetrics, family: str) -> dict[int, tuple[float, float | None]]:
    """k -> (value, stderr or None) for one family of one task."""
    out = {}
    for key, value in metrics.values.items():
        parsed = parse_at_k(key)
        if parsed and parsed.family == family:
            out[parsed.k] = (value, metrics.stderrs.get(key))
    return dict(sorted(out.items()))


def rows_by_task(runs: Sequence[Run], labels: Sequence[str]) -> list[tuple[str, str, TaskMetrics]]:
    """(task name, run label, metrics), grouped by task in first-seen order, runs in the order given."""
    rows = [(metrics.name, label, metrics) for run, label in zip(runs, labels) for metrics in run.tasks]
    first_seen = {name: i for i, (name, _, _) in reversed(list(enumerate(rows)))}
    return sorted(rows, key=lambda row: first_seen[row[0]])


def format_report(runs: Sequence[Run], labels: Sequence[str]) -> str:
    rows = rows_by_task(runs, labels)
    families = {p.family for _, _, m in rows for key in m.values if (p := parse_at_k(key))}
    sections = []
    for family in family_order(families):
        curves = [(name, label, curve(m, family)) for name, label, m in rows]
        curves = [c for c in curves if c[2]]
        ks = sorted({k for _, _, points in curves for k in points})
        table = markdown_table(
            ["task", "run", *(f"k={k}" for k in ks)],
            [[name, label, *(_cell(*points[k]) if k in points else "" for k in ks)] for name, label, points in curves],
        )
        sections.append(f"{family_title(family)}\n{table}")
    summary = markdown_table(
        ["task", "run", "docs", "n", "pass@1", "pass@1 variance", "#EA", "distinct first tokens", "tokens/sample"],
        [[name, label, _count(m.n_docs), _count(m.n_samples), _metric(m, keys.pass_key(1)),
          _metric(m, keys.PASS1_VARIANCE, digits=4), _metric(m, keys.NUM_DISTINCT_ANSWERS, digits=2),
          _metric(m, keys.NUM_DISTINCT_FIRST_TOKENS, digits=2), _metric(m, keys.TOKENS_PER_SAMPLE, digits=1)]
         for name, label, m in rows],
    )
    sections.append(f"summary (#EA: distinct final answers among the n samples, mean over problems)\n{summary}")
    return "\n\n".join(sections) + "\n"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(cell).ljust(width) for cell, width in zip(cells, widths)) + " |"

    return "\n".join([line(header), "|" + "|".join("-" * (width + 2) for width in widths) + "|", *map(line, rows)])


def _cell(value: float, stderr: float | None, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if stderr is None else f"{value:.{digits}f} ± {stderr:.{digits}f}"


def _metric(metrics: TaskMetrics, key: str, digits: int = 3) -> str:
    if key not in metrics.values:
        return ""
    return _cell(metrics.values[key], metrics.stderrs.get(key), digits)


def _count(value: int | None) -> str:
    return "" if value is None else str(value)
