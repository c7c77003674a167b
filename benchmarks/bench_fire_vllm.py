"""FIRE (a logits processor inside vLLM's sampler) vs regular sampling on one vLLM engine, at line 1 and line 3.

    python benchmarks/bench_fire_vllm.py [--prompts 16 64] [--n 8] [--max-new-tokens 128] [--rounds 2] [--stock]

Real GSM8K problems (shipped in task_configs/gsm8k/data) through the chat template of SmolLM2-135M-Instruct (the
bundled model), temperature 0.7. Every variant runs on the same engine in the same process, interleaved over
`rounds` (each round: every prompt count, every variant), so the ratios are fair on a busy machine; the median
wall time per variant is reported, with tokens/s over all rounds.
  regular      wise_fire without FIRE: one request per prompt with n samples
  fire@line1   FIRE (T=30, top-k 16) on the first token: one request per prompt with n samples, same pass
  fire@line3   FIRE on the first token of line 3 (its hot token is where line 3 starts)
  fire@unreached  FIRE at a line no sample reaches (line 10000): every row waits for its hot position all along,
               and the tokens are exactly the regular ones (same seeds), so its ratio is the processor's own cost
               alone, without FIRE's change of what is generated
  stock        (--stock) lm-eval's VLLM wrapper path for `repeats: n`: n separate n=1 requests per prompt
The engine is built for FIRE (the processor installed), also for the regular runs: on a row without FIRE the
processor returns at its first check. Goal (issue 11): FIRE / regular <= 1.02x wall time at line 1 and line 3.
Distinct tokens: per prompt, how many of the n samples differ at the first token (line 1) and at the first token
of line 3 (samples that reach line 3), averaged over prompts. The variants run in a rotated order each round.

The wall ratios carry the machine's noise (and FIRE changes what is generated, hence how many tokens); the
processor's own cost is therefore also timed directly: FireLogitsProcessor.apply on (rows x vocab) float32 logits
in this process, per decoding step, for rows without FIRE, rows waiting for line 3, and a step where every row is
at its hot position (once per sample), beside the engine's measured time per decoding step.
"""

import argparse
import json
import os
import statistics
import time
from types import SimpleNamespace

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--stock", action="store_true", help="also time n separate n=1 requests per prompt")
    args = parser.parse_args()

    from transformers import AutoTokenizer

    from lm_eval_tts.engines.base import GenRequest, SamplingSettings, derive_seed
    from lm_eval_tts.engines.vllm import VLLMEngine
    from lm_eval_tts.models.embedded import embedded_model_dir
    from lm_eval_tts.paths import task_configs_dir
    from lm_eval_tts.sampling.fire import FireParams
    from lm_eval_tts.sampling.lines import hot_index, newlines_per_token

    model_dir = embedded_model_dir()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    lines = (task_configs_dir() / "gsm8k" / "data" / "gsm8k_test.jsonl").read_text().splitlines()
    prompts = []
    for line in lines[: max(args.prompts)]:
        question = json.loads(line)["question"] + "\nPlease reason step by step."
        text = tokenizer.apply_chat_template([{"role": "user", "content": question}], tokenize=False,
                                             add_generation_prompt=True)
        prompts.append(tuple(tokenizer(text, add_special_tokens=False)["input_ids"]))
    settings = SamplingSettings(max_new_tokens=args.max_new_tokens, temperature=0.7, stop=("<|im_end|>",))

    t0 = time.perf_counter()
    engine = VLLMEngine(str(model_dir), tokenizer, seed=0, fire_top_k=16, progress=False,
                        engine_kwargs=dict(dtype="float32", max_model_len=2048, enforce_eager=True))
    print(f"engine start: {time.perf_counter() - t0:.1f} s  ({model_dir.name}, GSM8K prompts {args.prompts}, "
          f"n={args.n}, {args.max_new_tokens} new tokens, {args.rounds} rounds)")
    table = newlines_per_token(tokenizer, engine.llm.llm_engine.model_config.get_vocab_size())

    def requests(count, round_):
        return [GenRequest(p, args.n, settings, seed=derive_seed(round_, i)) for i, p in enumerate(prompts[:count])]

    def stock(count, round_):
        """n=1 requests through the engine's LLM, as lm-eval's own wrapper sends `repeats` (no FIRE)."""
        from vllm import SamplingParams
        from vllm.inputs import TokensPrompt

        params = [SamplingParams(n=1, max_tokens=args.max_new_tokens, temperature=0.7, stop=list(settings.stop),
                                 seed=derive_seed(round_, i, k)) for i in range(count) for k in range(args.n)]
        outputs = engine.llm.generate([TokensPrompt(prompt_token_ids=list(p)) for p in prompts[:count]
                                       for _ in range(args.n)], params, use_tqdm=False)
        return [[o.outputs[0] for o in outputs[i * args.n:(i + 1) * args.n]] for i in range(count)]

    variants = {"regular": None, "fire@line1": FireParams(line=1), "fire@line3": FireParams(line=3),
                "fire@unreached": FireParams(line=10_000)}
    runs = {name: (lambda count, round_, fire=fire: engine.generate(requests(count, round_), fire))
            for name, fire in variants.items()}
    if args.stock:
        runs["stock"] = stock

    engine.generate(requests(4, -1), None)  # warm-up
    times = {(count, name): [] for count in args.prompts for name in runs}
    tokens = {key: [] for key in times}
    distinct = {(count, name, line): [] for count in args.prompts for name in runs for line in (1, 3)}
    texts = {}  # token ids of regular and fire@unreached, which must be the same
    names = list(runs)
    for round_ in range(args.rounds):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for count in args.prompts:
            for name in order:
                run = runs[name]
                start = time.perf_counter()
                groups = run(count, round_)
                times[(count, name)].append(time.perf_counter() - start)
                tokens[(count, name)].append(sum(len(g.token_ids) for group in groups for g in group))
                if name in ("regular", "fire@unreached"):
                    texts[(count, name, round_)] = [[g.token_ids for g in group] for group in groups]
                for line in (1, 3):
                    per_prompt = [{g.token_ids[i] for g in group if (i := hot_index(g.token_ids, table, line))
                                   is not None} for group in groups]
                    distinct[(count, name, line)].append(statistics.mean([len(s) for s in per_prompt if s] or [0]))

    print(f"\n{'prompts x n':>11} {'variant':14} {'wall s (median)':>16} {'tokens/s':>9} {'vs regular':>11} "
          f"{'distinct 1st tok':>17} {'distinct line-3 tok':>20}")
    for count in args.prompts:
        base = statistics.median(times[(count, "regular")])
        for name in runs:
            wall = statistics.median(times[(count, name)])
            rate = sum(tokens[(count, name)]) / sum(times[(count, name)])
            print(f"{f'{count} x {args.n}':>11} {name:14} {wall:16.2f} {rate:9.1f} {wall / base:10.3f}x "
                  f"{statistics.mean(distinct[(count, name, 1)]):17.2f} "
                  f"{statistics.mean(distinct[(count, name, 3)]):20.2f}")
    same = all(texts[(c, "fire@unreached", r)] == texts[(c, "regular", r)] for c in args.prompts
               for r in range(args.rounds))
    print(f"fire@unreached generated exactly the regular tokens: {same}")
    print("goal: fire@line1 and fire@line3 <= 1.02x the regular wall time")

    vocab = engine.llm.llm_engine.model_config.get_vocab_size()
    print(f"\nFireLogitsProcessor.apply per decoding step, {vocab}-token vocabulary (median of 50 steps):")
    print(f"{'rows':>5} {'no FIRE rows':>13} {'waiting for line 3':>19} {'all rows hot':>13} {'engine step':>12}")
    for count in args.prompts:
        rows = count * args.n
        step = statistics.median(times[(count, "regular")]) / args.max_new_tokens
        cost = processor_step_cost(engine.llm.llm_engine.vllm_config, rows, vocab, newline_free_token(table))
        print(f"{rows:5d} {cost['idle'] * 1e6:10.1f} us {cost['waiting'] * 1e6:16.1f} us "
              f"{cost['hot'] * 1e3:10.2f} ms {step * 1e3:9.1f} ms")


def newline_free_token(table: list[int]) -> int:
    return next(token for token, newlines in enumerate(table) if newlines == 0)


def processor_step_cost(vllm_config, rows: int, vocab: int, token: int) -> dict[str, float]:
    """Seconds per apply() call: no FIRE rows; every row FIRE at line 3, one more token (no newline) each step;
    every row at its hot position (the first step of line-1 FIRE)."""
    import torch
    from vllm import SamplingParams
    from vllm.v1.sample.logits_processor import BatchUpdate

    from lm_eval_tts.sampling.fire import FireParams
    from lm_eval_tts.sampling.vllm_processor import FireLogitsProcessor, fire_extra_args

    logits = torch.randn((rows, vocab), generator=torch.Generator().manual_seed(0))

    def processor(fire):
        proc = FireLogitsProcessor(SimpleNamespace(model_config=vllm_config.model_config), torch.device("cpu"), False)
        outputs = [[] for _ in range(rows)]
        params = [SamplingParams(seed=i, extra_args=fire_extra_args(fire) if fire else None) for i in range(rows)]
        proc.update_state(BatchUpdate(batch_size=rows, removed=[], moved=[],
                                      added=[(i, params[i], [1], outputs[i]) for i in range(rows)]))
        return proc, outputs

    def timed(proc, outputs, grow: bool, fresh: bool) -> float:
        samples = []
        for _ in range(50):
            if fresh:
                proc, outputs = processor(FireParams(line=1))
            batch = logits.clone()
            start = time.perf_counter()
            proc.apply(batch)
            samples.append(time.perf_counter() - start)
            if grow:
                for out in outputs:
                    out.append(token)
        return statistics.median(samples)

    return {"idle": timed(*processor(None), grow=True, fresh=False),
            "waiting": timed(*processor(FireParams(line=3)), grow=True, fresh=False),
            "hot": timed(None, None, grow=False, fresh=True)}


if __name__ == "__main__":
    main()
