#!/usr/bin/env bash
# GPU trainer check: Clara's trainer (LoRA bf16, QLoRA nf4) against a plain TRL SFTTrainer +
# PEFT anchor, on one GPU, with a locally built ~125M Llama model and synthetic chat data.
# Installs nothing and downloads nothing. See bench/gpu/README.md.
#
#   bash bench/gpu/trainer-gpu-check.sh                 # the GPU check (a few minutes on an H100)
#   bash bench/gpu/trainer-gpu-check.sh --cpu-smoke     # same code on the CPU, tiny model, 3 steps
#   bash bench/gpu/trainer-gpu-check.sh --help          # all options
#
# Environment:
#   PYTHON   interpreter with torch, transformers, peft, accelerate (+ bitsandbytes, trl, datasets)
#            (default: <repo>/.venv/bin/python, else python3)
#   OUT      folder for the table, raw numbers and logs (default: <repo>/bench/results)
#
# Exit codes: 0 all planned runs done; 1 a run failed; 2 nothing could run (missing core
# package, no CUDA without --cpu-smoke, bad option); 3 incomplete: runs skipped for a missing
# package (bitsandbytes or trl/datasets), the rest of the table is printed.
set -euo pipefail

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo_root="$(cd "$bench_dir/../.." && pwd)"

if [[ -n "${PYTHON:-}" ]]; then
  python_bin="$PYTHON"
elif [[ -x "$repo_root/.venv/bin/python" ]]; then
  python_bin="$repo_root/.venv/bin/python"
else
  python_bin="python3"
fi
if ! command -v "$python_bin" >/dev/null 2>&1; then
  echo "[gpu-check] cannot run: interpreter '$python_bin' not found (set PYTHON=/path/to/python," \
    "or build the trainer venv with: bash test/setup/python-venv.sh)" >&2
  exit 2
fi

cd "$repo_root"
exec "$python_bin" "$bench_dir/trainer_gpu_check.py" "$@"
