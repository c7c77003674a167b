"""`lm-eval-tts merge` vs `mergekit-yaml` (linear, normalize: false, float32) on two real SmolLM2-135M checkpoints.

The inputs are SmolLM2-135M-Instruct (the embedded model) and a copy with Gaussian noise added to every weight
(std 1e-3 times the tensor's std, fixed seed). Each tool runs as its own subprocess on a warm page cache; wall time
and peak RSS come from os.wait4 on that process
(fastest of --repeats runs, default 3, since the machine may be shared); CPU time (user + system) is printed
too, as it depends less on other load than wall time does. Both outputs are then compared tensor by tensor.

    python benchmarks/bench_merge.py [--mergekit /work/venvs/mergekit/bin/mergekit-yaml] [--repeats 3]

mergekit lives in its own venv (pip install torch==2.13.0 mergekit); it is a baseline, not a dependency.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from lm_eval_tts.cache_dir import cache_root
from lm_eval_tts.merge.io import Checkpoint
from lm_eval_tts.models.embedded import embedded_model_dir

ALPHA = 0.5
NOISE = 1e-3


def perturbed_copy(source: Path, target: Path) -> Path:
    """`source` plus small seeded noise on every float tensor, saved as a normal checkpoint dir (built once)."""
    if (target / "config.json").is_file():
        return target
    generator = torch.Generator().manual_seed(0)
    checkpoint = Checkpoint(str(source))
    tensors = {}
    for name in sorted(checkpoint.tensors):
        tensor = checkpoint.read(name)
        noise = torch.randn(tensor.shape, generator=generator, dtype=torch.float32)
        tensors[name] = (tensor.float() + noise * (NOISE * tensor.float().std().clamp_min(1e-6))).to(tensor.dtype)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    save_file(tensors, tmp / "model.safetensors", metadata={"format": "pt"})
    for item in source.iterdir():
        if item.is_file() and not item.name.endswith(".safetensors"):
            shutil.copyfile(item, tmp / item.name)
    os.rename(tmp, target)
    return target


# Runs the command and reports its own wall time and peak RSS. It is a separate small interpreter because Linux
# carries a forked child's pre-exec RSS (here: this process, with torch and tensors loaded) into its ru_maxrss.
_MEASURE = """
import json, os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
err = proc.stderr.read()
_, status, usage = os.wait4(proc.pid, 0)
print(json.dumps({"wall": time.perf_counter() - start, "rss_kib": usage.ru_maxrss,
                  "cpu": usage.ru_utime + usage.ru_stime,
                  "code": os.waitstatus_to_exitcode(status), "stderr": err.decode(errors="replace")[-3000:]}))
"""


def measure(cmd: list[str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds (user + system), peak RSS in MiB) of one subprocess."""
    done = subprocess.run([sys.executable, "-S", "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    if result["code"] != 0:
        raise SystemExit(f"{cmd[0]} failed ({result['code']}):\n{result['stderr']}")
    return result["wall"], result["cpu"], result["rss_kib"] / 1024


def warm(paths: list[Path]) -> None:
    for path in paths:
        for file in path.glob("*.safetensors"):
            with open(file, "rb") as f:
                while f.read(1 << 24):
                    pass


def compare(ours: Path, theirs: Path) -> tuple[int, int, float, list[str]]:
    """(tensors compared, bit-identical count, max |diff|, names only one side has)."""
    a, b = Checkpoint(str(ours)).tensors, Checkpoint(str(theirs)).tensors
    only = sorted(set(a) ^ set(b))
    same, worst = 0, 0.0
    for name in sorted(set(a) & set(b)):
        with safe_open(a[name].file, "pt") as fa, safe_open(b[name].file, "pt") as fb:
            x, y = fa.get_tensor(name), fb.get_tensor(name)
        same += bool(torch.equal(x, y))
        worst = max(worst, (x.double() - y.double()).abs().max().item())
    return len(set(a) & set(b)), same, worst, only


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mergekit", default="/work/venvs/mergekit/bin/mergekit-yaml")
    parser.add_argument("--workdir", type=Path, default=cache_root() / "bench-merge")
    parser.add_argument("--repeats", type=int, default=3, help="runs per tool; the fastest is reported")
    args = parser.parse_args()

    late = embedded_model_dir()
    early = perturbed_copy(late, args.workdir / "smollm2-135m-instruct-perturbed")
    ours_cli = Path(sys.executable).parent / "lm-eval-tts"
    runs = args.workdir / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    runs.mkdir(parents=True)
    config = runs / "linear.yml"
    config.write_text(json.dumps({  # YAML is a superset of JSON
        "merge_method": "linear",
        "parameters": {"normalize": False},
        "dtype": "float32",
        "out_dtype": "float32",
        "models": [
            {"model": str(late), "parameters": {"weight": ALPHA}},
            {"model": str(early), "parameters": {"weight": 1 - ALPHA}},
        ],
    }, indent=2))

    load = os.getloadavg()[0]
    results = {}
    for tool in ("lm-eval-tts", "mergekit"):
        best = None
        for i in range(args.repeats):
            out = runs / f"{tool}-{i}"
            if tool == "lm-eval-tts":
                cmd = [str(ours_cli), "merge", "--pretrained", str(late), "--base", str(early), "--alpha", str(ALPHA),
                       "--dtype", "float32", "-o", str(out)]
            else:
                cmd = [args.mergekit, str(config), str(out)]
            warm([late, early])
            wall, cpu, rss = measure(cmd)
            best = (wall, cpu, rss, out) if best is None or wall < best[0] else best
        results[tool] = best

    n, same, worst, only = compare(results["lm-eval-tts"][3], results["mergekit"][3])
    size = sum(f.stat().st_size for f in late.glob("*.safetensors")) / 1e6
    print(f"inputs: {late} + perturbed copy ({size:.0f} MB each, fp32), alpha={ALPHA}, {os.cpu_count()} cores")
    print(f"load average before the runs: {load:.1f}")
    print(f"{'tool':<14}{'wall s':>10}{'CPU s':>10}{'peak RSS MiB':>15}")
    for tool, (wall, cpu, rss, _) in results.items():
        print(f"{tool:<14}{wall:>10.2f}{cpu:>10.2f}{rss:>15.0f}")
    (w_ours, c_ours, r_ours, _), (w_mk, c_mk, r_mk, _) = results["lm-eval-tts"], results["mergekit"]
    print(f"speed-up (mergekit wall / ours): {w_mk / w_ours:.2f}x   (goal >= 2x)")
    print(f"CPU-time ratio (mergekit / ours): {c_mk / c_ours:.2f}x   (less sensitive to a busy machine than wall time)")
    print(f"peak RSS ratio (ours / mergekit): {r_ours / r_mk:.2f}x   (goal <= 0.5x)")
    print(f"outputs: {n} common tensors, {same} bit-identical, max |diff| {worst:.3g}; only in one output: {only}")


if __name__ == "__main__":
    main()
