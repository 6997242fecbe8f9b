#!/usr/bin/env bash
# Creates (or refreshes) the Python virtual environment of the Clara trainer at
# <repo>/.venv and installs apps/trainer's requirements into it.
#
# Idempotent: a stamp inside the venv holds a hash of the requirement files, this
# script, the install mode and the interpreter; when it matches, nothing is done.
#
# Speed: packages are installed with uv (bootstrapped from PyPI with pip into a
# cache folder), which downloads in parallel and hard-links from its cache, so a
# second install on the same machine takes seconds. pip is the fallback when uv
# cannot be installed.
#
# Environment:
#   CLARA_TRAINER_TORCH   auto (default) | cpu | gpu
#                         cpu: leave out the CUDA packages torch never loads on a CPU
#                         (triton, cuSOLVER, ...; see apps/trainer/requirements-cpu-excludes.txt)
#                         gpu: full torch + apps/trainer/requirements-gpu.txt (bitsandbytes)
#                         auto: gpu when `nvidia-smi -L` lists a GPU, else cpu
#   CLARA_VENV_DIR        venv folder (default <repo>/.venv)
#   CLARA_PYTHON          interpreter to build the venv from (default python3, >= 3.11)
#   UV_CACHE_DIR          uv's cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/uv)
#   PIP_CACHE_DIR         pip's cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/pip)
set -euo pipefail

readonly UV_VERSION="0.13.9"

script_path="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
repo_root="$(cd "$(dirname "$script_path")/../.." && pwd)"
trainer_dir="$repo_root/apps/trainer"
venv_dir="${CLARA_VENV_DIR:-$repo_root/.venv}"
cache_home="${XDG_CACHE_HOME:-$HOME/.cache}"
tools_dir="$cache_home/clara"
export UV_CACHE_DIR="${UV_CACHE_DIR:-$cache_home/uv}"
export PIP_CACHE_DIR="${PIP_CACHE_DIR:-$cache_home/pip}"
export UV_PYTHON_DOWNLOADS=never
export PIP_DISABLE_PIP_VERSION_CHECK=1

started_at=$(date +%s)
log() { printf '[python-venv] %s\n' "$*" >&2; }
elapsed() { echo "$(($(date +%s) - started_at))s"; }

base_python_cmd="${CLARA_PYTHON:-python3}"
if ! command -v "$base_python_cmd" >/dev/null 2>&1; then
  log "error: $base_python_cmd not found (set CLARA_PYTHON to a Python >= 3.11)"
  exit 1
fi
# Resolve shims (pyenv) to the real interpreter so the venv does not depend on them.
base_python="$("$base_python_cmd" -c 'import sys; print(sys.executable)')"
python_version="$("$base_python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
if ! "$base_python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  log "error: Python >= 3.11 needed, $base_python is $python_version"
  exit 1
fi

mode="${CLARA_TRAINER_TORCH:-auto}"
if [[ "$mode" == "auto" ]]; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    mode="gpu"
  else
    mode="cpu"
  fi
fi
if [[ "$mode" != "cpu" && "$mode" != "gpu" ]]; then
  log "error: CLARA_TRAINER_TORCH must be auto, cpu or gpu (got '$mode')"
  exit 1
fi

requirement_files=("$trainer_dir/requirements.txt" "$trainer_dir/constraints.txt")
if [[ "$mode" == "gpu" ]]; then
  requirement_files+=("$trainer_dir/requirements-gpu.txt")
else
  requirement_files+=("$trainer_dir/requirements-cpu-excludes.txt")
fi

wanted_stamp="$(
  {
    echo "mode=$mode python=$base_python $python_version uv=$UV_VERSION"
    cat "$script_path" "${requirement_files[@]}"
  } | sha256sum | cut -d' ' -f1
)"
stamp_file="$venv_dir/.clara-requirements.sha256"

mkdir -p "$tools_dir"
# One install at a time per venv folder (parallel CI steps may call this script).
lock_file="$tools_dir/venv-$(printf '%s' "$venv_dir" | sha256sum | cut -c1-16).lock"
exec 9>"$lock_file"
flock 9

if [[ -x "$venv_dir/bin/python" && -f "$stamp_file" && "$(cat "$stamp_file")" == "$wanted_stamp" ]]; then
  log "up to date: $venv_dir (mode $mode, $(elapsed))"
  exit 0
fi

log "building $venv_dir (mode $mode, Python $python_version)"

# --- uv, installed once per machine into the cache folder -----------------------
uv_home="$tools_dir/uv-$UV_VERSION"
uv_bin="$uv_home/bin/uv"
if [[ ! -x "$uv_bin" ]]; then
  log "installing uv $UV_VERSION into $uv_home"
  rm -rf "$uv_home"
  if ! { "$base_python" -m venv "$uv_home" && "$uv_home/bin/pip" install -q "uv==$UV_VERSION"; } >&2; then
    log "warning: could not install uv; falling back to pip (much slower)"
    rm -rf "$uv_home"
  fi
fi

rm -rf "$venv_dir"
install_args=(-r "$trainer_dir/requirements.txt" -c "$trainer_dir/constraints.txt")
if [[ "$mode" == "gpu" ]]; then
  install_args+=(-r "$trainer_dir/requirements-gpu.txt")
fi

if [[ -x "$uv_bin" ]]; then
  "$uv_bin" venv --quiet --python "$base_python" "$venv_dir" >&2
  log "venv created ($(elapsed)); installing packages with uv (cache $UV_CACHE_DIR)"
  if [[ "$mode" == "cpu" ]]; then
    install_args+=(--excludes "$trainer_dir/requirements-cpu-excludes.txt")
  fi
  "$uv_bin" pip install --python "$venv_dir/bin/python" "${install_args[@]}" >&2
else
  "$base_python" -m venv "$venv_dir"
  log "venv created ($(elapsed)); installing packages with pip (cache $PIP_CACHE_DIR)"
  "$venv_dir/bin/python" -m pip install -q "${install_args[@]}" >&2
fi
log "packages installed ($(elapsed))"

# --- smoke check: torch loads and takes a training step; the rest is installed --------
# (Importing transformers + peft costs ~12 s on 2 cores; the pytest suite does that anyway.)
"$venv_dir/bin/python" - >&2 <<'PY'
from importlib.metadata import version

import torch

layer = torch.nn.Linear(4, 1)
loss = layer(torch.ones(2, 4)).pow(2).mean()
loss.backward()
torch.optim.AdamW(layer.parameters()).step()
others = ", ".join(
    f"{name} {version(name)}" for name in ("transformers", "peft", "accelerate", "safetensors", "tokenizers", "pytest")
)
print(f"[python-venv] ok: torch {torch.__version__} (cuda available: {torch.cuda.is_available()}), {others}")
PY

echo "$wanted_stamp" >"$stamp_file"
log "done in $(elapsed); venv size $(du -sh "$venv_dir" 2>/dev/null | cut -f1)"
