# shellcheck shell=bash disable=SC2034 # the settings below are used by the scripts that source this
# Shared settings and helpers for start.sh, stop.sh and smoke.sh. Sourced, not run.

BACKENDS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STATE_DIR="$BACKENDS_DIR/.state"
CACHE_DIR="${CLARA_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/clara}"
# Seconds each server may take to become ready (after its install).
READY_TIMEOUT="${CLARA_BACKENDS_TIMEOUT:-180}"

ALL_SERVICES=(postgres chroma neo4j couchdb)

# Versions (bump here; caches are keyed on them).
CHROMADB_VERSION=1.5.9
NEO4J_PY_DRIVER_VERSION=5.28.2 # used by smoke.sh only, lives in the Chroma venv
POUCHDB_SERVER_VERSION=4.2.0
UV_VERSION=0.13.9 # installs the Chroma venv ~10x faster than pip
# The Neo4j server version is in neo4j-launcher/pom.xml.

# Fixed test credentials (loopback-only, throw-away servers).
PG_USER=clara
PG_PASSWORD=clara
PG_DB=clara
NEO4J_USER=neo4j
NEO4J_PASSWORD=clara-test
COUCH_ADMIN="admin"
COUCH_PASSWORD="password"

CHROMA_VENV="$CACHE_DIR/chroma-venv"
POUCHDB_DIR="$CACHE_DIR/pouchdb-server"
NEO4J_BUILD_ROOT="$CACHE_DIR/neo4j-launcher"

log() { printf '[backends %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() {
  printf '[backends] ERROR: %s\n' "$*" >&2
  exit 1
}

now_ms() { date +%s%3N; }
# secs_since START_MS -> "12.3"
secs_since() { awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'; }

is_service() {
  local s
  for s in "${ALL_SERVICES[@]}"; do [[ $1 == "$s" ]] && return 0; done
  return 1
}

# Print N free loopback TCP ports, distinct, one per line (sockets held until all are chosen).
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
for s in socks:
    print(s.getsockname()[1])
PY
}

# True if PID is alive and belongs to the server whose temp folder is DIR
# (its working directory or command line mentions DIR), so a reused PID is never killed.
pid_is_ours() {
  local pid=$1 dir=$2 cmd cwd
  [[ -n $pid && -d /proc/$pid ]] || return 1
  cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || cwd=
  [[ $cmd == *"$dir"* || $cwd == "$dir"* ]]
}

# Run apt-get as root, serialised between parallel jobs.
apt_install() {
  [[ $EUID -eq 0 ]] || die "need root to apt-get install $* (or install it yourself)"
  mkdir -p "$CACHE_DIR"
  (
    flock 9
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "$@"
  ) 9>"$CACHE_DIR/apt.lock"
}

# The Chroma venv (chromadb server + the Python neo4j driver used by smoke.sh).
ensure_chroma_venv() {
  local want="chromadb==$CHROMADB_VERSION neo4j==$NEO4J_PY_DRIVER_VERSION"
  if [[ -x $CHROMA_VENV/bin/chroma && "$(cat "$CHROMA_VENV/.clara-installed" 2>/dev/null)" == "$want" ]]; then
    return 0
  fi
  command -v python3 >/dev/null || apt_install python3 python3-venv
  python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
  log "chroma: installing $want into $CHROMA_VENV"
  rm -rf "$CHROMA_VENV"
  mkdir -p "$CACHE_DIR"
  python3 -m venv "$CHROMA_VENV"
  # shellcheck disable=SC2086 # $want is a list of requirement specs
  if ! { "$CHROMA_VENV/bin/pip" install -q --disable-pip-version-check "uv==$UV_VERSION" &&
    UV_CACHE_DIR="$CACHE_DIR/uv" "$CHROMA_VENV/bin/uv" pip install -q --python "$CHROMA_VENV/bin/python" $want; }; then
    log "chroma: uv failed; installing with pip instead (slower)"
    "$CHROMA_VENV/bin/pip" install -q --disable-pip-version-check $want
  fi
  printf '%s' "$want" >"$CHROMA_VENV/.clara-installed"
}

# Print the last lines of each given log file that exists.
show_tail() {
  local f
  for f in "$@"; do
    [[ -s $f ]] || continue
    printf -- '----- last lines of %s -----\n' "$f" >&2
    tail -n 40 "$f" >&2
  done
}

# (Re)write $STATE_DIR/env from the per-service fragments; remove it when none is left.
write_env() {
  local svc found=() tmp="$STATE_DIR/env.tmp"
  for svc in "${ALL_SERVICES[@]}"; do
    if [[ -f $STATE_DIR/$svc.env ]]; then found+=("$STATE_DIR/$svc.env"); fi
  done
  if ((${#found[@]} == 0)); then
    rm -f "$STATE_DIR/env"
    return 0
  fi
  {
    echo "# Written by test/backends/start.sh; source it. Removed by stop.sh."
    cat "${found[@]}"
  } >"$tmp"
  mv "$tmp" "$STATE_DIR/env"
}
