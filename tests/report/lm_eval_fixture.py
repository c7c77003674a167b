"""Real lm-eval runs (in process, a constant-output LM) of a tiny task graded like the `*_tts` tasks.

Its "graded" filter (lm-eval's `custom` filter) turns each doc's n responses into n JSON records {answer,
correct, weak_passed, logprob, first_token, tokens}, taken from a per-run table keyed by the question, and its
process_results calls doc_metrics on them, so the metric values are known; lm-eval does everything else:
metric_list parsing (`!function` aggregations), aggregation, stderr, and the results/samples files exactly as
`lm_eval --output_path --log_samples` writes them. The docs are the same in every run, so the runs can be
compared problem by problem.
"""

from __future__ import annotations

import json
from pathlib import Path

KS = [1, 2, 4]
QUESTIONS = ["q0", "q1", "q2", "q3"]
# Two runs' graded samples (4 problems x 4 samples); the alpha=0.5 run gets more right and agrees more.
# weak: passed the weak tests (a superset of correct), for the verifier false-positive metrics.
GRADING_BY_ALPHA = {
    "0.0": {
        "q0": {"correct": [True, False, False, True], "answers": ["12", "7", None, "12"],
               "weak": [True, True, False, True], "logprob": [-0.5, -0.1, -2.0, -0.9], "first_tokens": [1, 1, 2, 3],
               "tokens": [10, 12, 30, 8]},
        "q1": {"correct": [False, False, False, False], "answers": ["3", "4", "4", None],
               "weak": [False, True, True, False], "logprob": [-0.2, -0.3, -0.3, -0.4], "first_tokens": [5, 5, 5, 5],
               "tokens": [20, 20, 20, 20]},
        "q2": {"correct": [True, True, True, False], "answers": ["9", "9", "9", "8"],
               "weak": [True, True, True, False], "logprob": [-1.0, -0.7, -0.9, -0.1], "first_tokens": [1, 2, 3, 4],
               "tokens": [5, 6, 7, 8]},
        "q3": {"correct": [False, True, False, False], "answers": ["1", "2", "1", "1"],
               "weak": [True, True, False, False], "logprob": [-0.3, -0.2, -0.6, -0.8], "first_tokens": [7, 7, 8, 8],
               "tokens": [9, 9, 9, 9]},
    },
    "0.5": {
        "q0": {"correct": [True, True, False, True], "answers": ["12", "12", "5", "12"],
               "weak": [True, True, False, True], "logprob": [-0.5, -0.4, -2.0, -0.9], "first_tokens": [1, 1, 1, 3],
               "tokens": [10, 10, 10, 10]},
        "q1": {"correct": [False, True, False, False], "answers": ["3", "6", "4", None],
               "weak": [False, True, False, False], "logprob": [-0.2, -0.1, -0.3, -0.4], "first_tokens": [5, 5, 5, 5],
               "tokens": [11, 11, 11, 11]},
        "q2": {"correct": [True, True, True, True], "answers": ["9", "9", "9", "9"],
               "weak": [True, True, True, True], "logprob": [-1.0, -0.7, -0.9, -0.1], "first_tokens": [1, 1, 1, 4],
               "tokens": [12, 12, 12, 12]},
        "q3": {"correct": [True, True, False, False], "answers": ["2", "2", "1", "1"],
               "weak": [True, True, True, False], "logprob": [-0.3, -0.2, -0.6, -0.8], "first_tokens": [7, 7, 7, 8],
               "tokens": [13, 13, 13, 13]},
    },
}

TASK_UTILS = """
import json

from lm_eval_tts.metrics.per_doc import doc_metrics


def graded(resps, docs):
    out = []
    for responses, doc in zip(resps, docs):
        g = GRADING[doc["question"]]
        out.append([json.dumps({"answer": g["answers"][i], "correct": g["correct"][i], "weak_passed": g["weak"][i],
                                "logprob": g["logprob"][i], "first_token": g["first_tokens"][i],
                                "tokens": g["tokens"][i]}) for i in range(len(responses))])
    return out


def process_results(doc, results):
    records = [json.loads(r) for r in results[0]]
    return doc_metrics([r["correct"] for r in records], [r["answer"] for r in records],
                       {"logprob": [r["logprob"] for r in records]}, [r["first_token"] for r in records], KS,
                       tokens=[r["tokens"] for r in records], weak_correct=[r["weak_passed"] for r in records])
"""


def _task_yaml(data_file: Path) -> str:
    from lm_eval_tts.metrics.per_doc import metric_specs

    lines = [
        "task: tts_fixture",
        "dataset_path: json",
        f"dataset_kwargs: {{data_files: {{test: {json.dumps(str(data_file))}}}}}",
        "test_split: test",
        "output_type: generate_until",
        'doc_to_text: "{{question}}"',
        'doc_to_target: ""',
        "generation_kwargs: {until: ['\\n'], max_gen_toks: 4}",
        "repeats: 4",
        "filter_list:",
        "  - name: graded",
        "    filter:",
        "      - function: custom",
        "        filter_fn: !function fixture_utils.graded",
        "process_results: !function fixture_utils.process_results",
        "metric_list:",
    ]
    for spec in metric_specs(KS, ["logprob"], with_first_tokens=True, with_tokens=True, with_verifier=True):
        aggregation = spec["aggregation"] if spec["aggregation"] == "mean" else f"!function {spec['aggregation']}"
        lines += [f'  - metric: "{spec["metric"]}"', f"    aggregation: {aggregation}",
                  f"    higher_is_better: {str(spec['higher_is_better']).lower()}"]
    return "\n".join(lines) + "\n"


def run_lm_eval(task_dir: Path, output_path: Path, model_args: str) -> Path:
    """Evaluate the fixture task like `lm_eval --log_samples --output_path`; return the results JSON path."""
    from lm_eval import simple_evaluate
    from lm_eval.api.model import LM
    from lm_eval.loggers import EvaluationTracker
    from lm_eval.tasks import TaskManager

    class ConstantLM(LM):
        def generate_until(self, requests, disable_tqdm=False):
            return ["the answer is 12" for _ in requests]

        def loglikelihood(self, requests, disable_tqdm=False):
            raise AssertionError("generation task only")

        loglikelihood_rolling = loglikelihood

    tracker = EvaluationTracker(output_path=str(output_path))
    results = simple_evaluate(model=ConstantLM(), model_args=model_args, tasks=["tts_fixture"],
                              task_manager=TaskManager(include_path=str(task_dir), include_defaults=False),
                              log_samples=True, evaluation_tracker=tracker, bootstrap_iters=1000)
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
    (written,) = output_path.rglob("results_*.json")
    return written


def write_lm_eval_runs(root: Path) -> list[Path]:
    """The fixture task evaluated once per GRADING_BY_ALPHA entry, each into its own output dir; results paths."""
    paths = []
    for alpha, grading in GRADING_BY_ALPHA.items():
        task_dir = root / f"task_{alpha}"
        task_dir.mkdir()
        data_file = task_dir / "docs.jsonl"
        data_file.write_text("".join(json.dumps({"question": q}) + "\n" for q in QUESTIONS))
        (task_dir / "fixture_utils.py").write_text(f"KS = {KS!r}\nGRADING = {grading!r}\n{TASK_UTILS}")
        (task_dir / "tts_fixture.yaml").write_text(_task_yaml(data_file))
        paths.append(run_lm_eval(task_dir, root / f"out_{alpha}", f"pretrained=/ckpts/late,alpha={alpha},fire=True"))
    return paths
