#!/usr/bin/env bash
# Creates (or refreshes) the small Python virtual environment in which the export tests
# read Clara's JSONL, CSV and Parquet files with readers we did not write: pyarrow and
# Hugging Face `datasets` (test/readers/requirements.in, pinned by constraints.txt).
#
# It lives outside the repository (default ${XDG_CACHE_HOME:-$HOME/.cache}/clara/readers-venv)
# so that lint and format checks never walk it. Idempotent: a stamp holds a hash of the
# requirement files, this script and the interpreter; when it matches nothing is done.
# Prints the venv's python path on stdout.
#
# Environment:
#   CLARA_READERS_VENV   venv folder
#   CLARA_PYTHON         interpreter to build it from (default python3, >= 3.10)
set -euo pipefail

readonly UV_VERSION="0.13.9"
script_path="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"
repo_root="$(cd "$(dirname "$script_path")/../.." && pwd)"
readers_dir="$repo_root/test/readers"
cache_home="${XDG_CACHE_HOME:-$HOME/.cache}"
tools_dir="$cache_home/clara"
venv_dir="${CLARA_READERS_VENV:-$tools_dir/readers-venv}"
export UV_CACHE_DIR="${UV_CACHE_DIR:-$cache_home/uv}"
export UV_PYTHON_DOWNLOADS=never
export PIP_DISABLE_PIP_VERSION_CHECK=1
log() { printf '[readers-venv] %s\n' "$*" >&2; }

base_python="$("${CLARA_PYTHON:-python3}" -c 'import sys; print(sys.executable)')"
python_version="$("$base_python" -c 'import sys; print("%d.%d.%d" % sys.version_info[:3])')"
wanted_stamp="$(
  {
    echo "python=$base_python $python_version uv=$UV_VERSION"
    cat "$script_path" "$readers_dir/requirements.in" "$readers_dir/constraints.txt"
  } | sha256sum | cut -d' ' -f1
)"
stamp_file="$venv_dir/.clara-readers.sha256"

mkdir -p "$tools_dir"
exec 9>"$tools_dir/readers-venv.lock"
flock 9

if [[ -x "$venv_dir/bin/python" && -f "$stamp_file" && "$(cat "$stamp_file")" == "$wanted_stamp" ]]; then
  echo "$venv_dir/bin/python"
  exit 0
fi

log "building $venv_dir (Python $python_version)"
uv_bin="$tools_dir/uv-$UV_VERSION/bin/uv"
if [[ ! -x "$uv_bin" ]]; then
  log "installing uv $UV_VERSION"
  rm -rf "$tools_dir/uv-$UV_VERSION"
  if ! { "$base_python" -m venv "$tools_dir/uv-$UV_VERSION" && "$tools_dir/uv-$UV_VERSION/bin/pip" install -q "uv==$UV_VERSION"; } >&2; then
    log "warning: could not install uv; falling back to pip"
    rm -rf "$tools_dir/uv-$UV_VERSION"
  fi
fi

rm -rf "$venv_dir"
args=(-r "$readers_dir/requirements.in" -c "$readers_dir/constraints.txt")
if [[ -x "$uv_bin" ]]; then
  "$uv_bin" venv --quiet --python "$base_python" "$venv_dir" >&2
  "$uv_bin" pip install --quiet --python "$venv_dir/bin/python" "${args[@]}" >&2
else
  "$base_python" -m venv "$venv_dir" >&2
  "$venv_dir/bin/python" -m pip install -q "${args[@]}" >&2
fi
"$venv_dir/bin/python" -c 'import pyarrow, datasets; print("[readers-venv] ok: pyarrow", pyarrow.__version__, "datasets", datasets.__version__)' >&2
echo "$wanted_stamp" >"$stamp_file"
echo "$venv_dir/bin/python"
