"""FIRE vs regular sampling, and n-grouped requests vs lm-eval's n separate requests, on one vLLM engine.

    python benchmarks/bench_fire_vllm.py [--prompts 16] [--n 8] [--max-new-tokens 128] [--rounds 2]

Real GSM8K problems (shipped in task_configs/gsm8k/data) through the chat template of SmolLM2-135M-Instruct (the
bundled model). Every variant runs on the same engine in the same process, interleaved over `rounds`, so the
ratios are fair on a busy machine; the median wall time per variant is reported.
  regular      wise_fire without FIRE: one request per prompt with n samples
  fire         wise_fire with FIRE (T=30, top-k 16): probe pass + continuation pass
  stock        lm-eval's VLLM wrapper path for `repeats: n`: n separate n=1 requests per prompt
Goals (issue 2): fire / regular <= 1.10; throughput grouped / stock >= 1.0.
"""

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    from transformers import AutoTokenizer
    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    from lm_eval_tts.paths import task_configs_dir
    from lm_eval_tts.engines.base import GenRequest, SamplingSettings, derive_seed
    from lm_eval_tts.engines.vllm import VLLMEngine
    from lm_eval_tts.models.embedded import embedded_model_dir
    from lm_eval_tts.sampling.fire import FireParams

    model_dir = embedded_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lines = (task_configs_dir() / "gsm8k" / "data" / "gsm8k_test.jsonl").read_text().splitlines()[: args.prompts]
    prompts = []
    for line in lines:
        question = json.loads(line)["question"] + "\nPlease reason step by step."
        text = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                             add_generation_prompt=True)
        prompts.append(tuple(tokenizer(text, add_special_tokens=False)["input_ids"]))
    settings = SamplingSettings(max_new_tokens=args.max_new_tokens, temperature=0.7, stop=("<|im_end|>",))

    t0 = time.perf_counter()
    engine = VLLMEngine(str(model_dir), tokenizer, seed=0, fire_top_k=16, progress=False,
                        engine_kwargs=dict(dtype="float32", max_model_len=2048, enforce_eager=True))
    print(f"engine start: {time.perf_counter() - t0:.1f} s  ({model_dir.name}, {len(prompts)} GSM8K prompts, "
          f"n={args.n}, {args.max_new_tokens} new tokens)")

    def requests(round_):
        return [GenRequest(p, args.n, settings, seed=derive_seed(round_, i)) for i, p in enumerate(prompts)]

    def run_regular(round_):
        return engine.generate(requests(round_), None)

    def run_fire(round_):
        return engine.generate(requests(round_), FireParams(temperature=30.0, top_k=16))

    def run_stock(round_):
        params = [SamplingParams(n=1, max_tokens=args.max_new_tokens, temperature=0.7, stop=list(settings.stop),
                                 seed=derive_seed(round_, i, k))
                  for i in range(len(prompts)) for k in range(args.n)]
        outs = engine.llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts for _ in range(args.n)],
                                   params, use_tqdm=False)
        return [[o.outputs[0] for o in outs[i * args.n:(i + 1) * args.n]] for i in range(len(prompts))]

    variants = {"regular": run_regular, "fire": run_fire, "stock": run_stock}
    run_regular(-1)  # warm-up
    times = {name: [] for name in variants}
    tokens = {name: [] for name in variants}
    first_distinct = {name: [] for name in variants}
    for round_ in range(args.rounds):
        for name, fn in variants.items():
            start = time.perf_counter()
            groups = fn(round_)
            times[name].append(time.perf_counter() - start)
            tokens[name].append(sum(len(g.token_ids) for group in groups for g in group))
            first_distinct[name].append(statistics.mean(
                len({tuple(g.token_ids[:1]) for g in group}) for group in groups))

    med = {name: statistics.median(values) for name, values in times.items()}
    tput = {name: sum(tokens[name]) / sum(times[name]) for name in variants}
    print(f"{'variant':8} {'wall s (median)':>16} {'tokens/s':>10} {'distinct 1st tokens / ' + str(args.n):>26}")
    for name in variants:
        print(f"{name:8} {med[name]:16.2f} {tput[name]:10.1f} {statistics.mean(first_distinct[name]):26.2f}")
    print(f"FIRE / regular wall-time ratio: {med['fire'] / med['regular']:.3f}  (goal <= 1.10)")
    print(f"grouped / stock throughput ratio (tokens/s): {tput['regular'] / tput['stock']:.3f}  (goal >= 1.0)")
    print(f"grouped / stock wall-time ratio: {med['regular'] / med['stock']:.3f}")


if __name__ == "__main__":
    main()
