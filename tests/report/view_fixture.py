"""Real lm-eval runs of the real `*_tts` tasks whose responses are scripted, for the viewer's tests and benchmark.

lm-eval does everything as with a model (requests, repeats, the tasks' grading filter, the sandbox for code,
metrics, results and samples files, exactly as `lm_eval --log_samples --output_path` writes them); only the
response texts are chosen by a function, so what the page must show is known. Responses carry token ids from a
real tokenizer (first token = hot token for FIRE line 1), a mean logprob and the hot token id, as `wise_fire`'s do.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

Responder = Callable[[str, dict, int], str]  # (task name, doc, sample index) -> response text


def evaluate_scripted(tasks: list[str], responder: Responder, output_path: Path, model_args: str,
                      metadata: Mapping[str, Any], tokenizer_dir: Path, limit: int | None = None) -> Path:
    """Evaluate `tasks` with responses from `responder`, save like `lm_eval --log_samples`; the results path."""
    from lm_eval import simple_evaluate
    from lm_eval.api.model import LM
    from lm_eval.loggers import EvaluationTracker
    from tokenizers import Tokenizer

    from lm_eval_tts.engines.base import Generation

    tokenizer = Tokenizer.from_file(str(tokenizer_dir / "tokenizer.json"))

    class ScriptedLM(LM):
        def generate_until(self, requests, disable_tqdm=False):
            seen: Counter = Counter()
            texts = []
            for request in requests:
                index = seen[(request.task_name, request.doc_id)]
                seen[(request.task_name, request.doc_id)] += 1
                texts.append(responder(request.task_name, request.doc, index))
            encoded = tokenizer.encode_batch(texts, add_special_tokens=False)
            return [Generation(text, token_ids=enc.ids, mean_logprob=-0.05 * (1 + len(enc.ids) % 17),
                               hot_token_id=enc.ids[0] if enc.ids else None)
                    for text, enc in zip(texts, encoded)]

        def loglikelihood(self, requests, disable_tqdm=False):
            raise AssertionError("generation tasks only")

        loglikelihood_rolling = loglikelihood

    tracker = EvaluationTracker(output_path=str(output_path))
    results = simple_evaluate(model=ScriptedLM(), model_args=model_args, tasks=tasks, log_samples=True,
                              evaluation_tracker=tracker, metadata=dict(metadata), confirm_run_unsafe_code=True,
                              limit=limit, bootstrap_iters=0)
    samples = results.pop("samples")
    tracker.save_results_aggregated(results=results, samples=samples)
    for task_name in results["configs"]:
        tracker.save_results_samples(task_name=task_name, samples=samples[task_name])
    return max(output_path.rglob("results_*.json"))


# ---------------------------------------------------------------- the viewer tests' runs

XSS = "</script><script>alert(1)</script><img src=x onerror=alert(2)>"
N_DOCS, N_SAMPLES = 6, 4
# Per run, per doc (the first N_DOCS of each shipped test set), what each sample does. GSM8K: "gold", "none"
# (no answer), "xss" (the payload, then the gold answer) or a wrong number; MBPP: "ok" (the reference code),
# "wrong", "loop" (never returns: a timeout), "syntax".
GSM8K_PLANS = {
    "fire": [["gold"] * 4, ["gold", 1001, 1002, 1003], [1009, "none", 1008, 1007], ["xss", "gold", 1041, 1040],
             [1001, 1001, 1001, 1001], ["gold", "gold", "gold", 1003]],
    "regular": [["gold", "gold", 1004, "gold"], ["gold"] * 4, ["gold", 1001, 1001, 1001], [1041] * 4,
                [1001, 1002, 1003, "none"], ["gold"] * 4],
}
MBPP_PLANS = {
    "fire": [["ok", "wrong", "syntax", "ok"], ["wrong", "wrong", "loop", "wrong"], ["ok"] * 4, ["wrong"] * 4,
             ["ok", "wrong", "wrong", "wrong"], ["ok", "ok", "ok", "wrong"]],
    "regular": [["wrong", "wrong", "wrong", "ok"], ["ok", "syntax", "wrong", "wrong"], ["ok", "ok", "wrong", "ok"],
                ["wrong"] * 4, ["wrong"] * 4, ["ok"] * 4],
}
RUNS = {"fire": "alpha=0.5,fire=True", "regular": "alpha=1.0,fire=False"}


OPENERS = ("First", "Let", "We", "To")  # distinct first tokens, so each sample has its own hot token


def gsm8k_response(gold: str, plan: int | str, index: int) -> str:
    opener = OPENERS[index % len(OPENERS)]
    if plan == "none":
        return f"{opener} we count, then we add the two parts and the result is"
    if plan == "xss":
        return f"Step 1 {XSS}\nSo the total is {gold}.\nThe answer is \\boxed{{{gold}}}."
    answer = gold if plan == "gold" else plan
    return f"{opener} we work it out step by step.\nThe result is {answer}.\nThe answer is \\boxed{{{answer}}}."


def mbpp_response(doc: dict, plan: str) -> str:
    name = doc["test_list"][0].split("assert ", 1)[1].split("(", 1)[0].strip()
    body = {
        "ok": doc["code"],
        "wrong": f"def {name}(*args):\n    return None",
        "loop": f"def {name}(*args):\n    while True:\n        pass",
        "syntax": f"def {name}(*args)\n    return",
    }[plan]
    return f"Here is the program.\n```python\n{body}\n```"


def scripted_runs(root: Path, tokenizer_dir: Path) -> dict[str, Path]:
    """Two runs (RUNS) of gsm8k_tts and mbpp_tts on their first N_DOCS problems, N_SAMPLES each, responses
    as GSM8K_PLANS / MBPP_PLANS say; run name -> its --output_path dir."""
    outputs = {}
    for name, args in RUNS.items():
        positions: dict[tuple[str, str], int] = {}

        def respond(task: str, doc: dict, index: int, name=name, positions=positions) -> str:
            key = (task, json.dumps(doc, sort_keys=True))
            position = positions.setdefault(key, sum(1 for t, _ in positions if t == task))
            if task == "gsm8k_tts":
                gold = doc["answer"].split("####")[-1].strip().replace(",", "")
                return gsm8k_response(gold, GSM8K_PLANS[name][position][index], index)
            return mbpp_response(doc, MBPP_PLANS[name][position][index])

        outputs[name] = root / f"out_{name}"
        evaluate_scripted(["gsm8k_tts", "mbpp_tts"], respond, outputs[name], f"pretrained={tokenizer_dir},{args}",
                          {"repeats": N_SAMPLES}, tokenizer_dir, limit=N_DOCS)
    return outputs
