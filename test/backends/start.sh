#!/usr/bin/env bash
# Start real backend servers for Clara's integration tests, on free 127.0.0.1 ports with
# throw-away data in /tmp, and write test/backends/.state/env (shell `export` lines).
#
#   test/backends/start.sh [postgres] [chroma] [neo4j] [couchdb]    # no args = all four
#   source test/backends/.state/env
#
# Installs what is missing (cached under ${CLARA_CACHE_DIR:-$HOME/.cache/clara}), starts
# the servers in parallel, and waits until each answers a real request. A service that is
# already running (from an earlier start.sh) is left as it is. Stop with stop.sh.
# Knobs: CLARA_BACKENDS_TIMEOUT (readiness timeout, s), CLARA_CACHE_DIR, CLARA_NEO4J_JAVA_HOME.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# JVM options for the embedded Neo4j: small heap; C1 JIT only (starts in about half the time
# on 2 busy cores, and test-sized queries do not need C2); the add-opens are the ones Neo4j's
# own launch scripts pass, so its page cache can use direct buffers.
NEO4J_JVM_OPTS=(
  -Xms128m -Xmx512m -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Dfile.encoding=UTF-8
  --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.lang=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED
)
# Extra JVM options (space-separated; later ones win), e.g. CLARA_NEO4J_JAVA_OPTS='-XX:TieredStopAtLevel=4'.
read -r -a _extra <<<"${CLARA_NEO4J_JAVA_OPTS:-}"
NEO4J_JVM_OPTS+=("${_extra[@]}")

# record SERVICE PID DIR STOP_SIGNAL: remembered at once, so stop.sh can clean up even
# when the server never became ready.
record() {
  printf '%s\n' "$2" >"$STATE_DIR/$1.pid"
  printf '%s\n' "$3" >"$STATE_DIR/$1.dir"
  printf '%s\n' "$4" >"$STATE_DIR/$1.signal"
}

# wait_ready NAME PID LOGFILE... -- COMMAND...: run COMMAND until it succeeds; fail with the
# log tails if the server dies or READY_TIMEOUT passes.
wait_ready() {
  local name=$1 pid=$2 start logs=()
  shift 2
  while [[ $1 != -- ]]; do
    logs+=("$1")
    shift
  done
  shift
  start=$(now_ms)
  until "$@" >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null; then
      show_tail "${logs[@]}"
      die "$name: the server (pid $pid) exited before it was ready; its log is above"
    fi
    if (($(now_ms) - start > READY_TIMEOUT * 1000)); then
      show_tail "${logs[@]}"
      die "$name: not ready after ${READY_TIMEOUT}s (CLARA_BACKENDS_TIMEOUT); its log is above"
    fi
    sleep 0.2
  done
}

# ---------------------------------------------------------------- PostgreSQL (Debian)
pg_bindir() {
  local initdb
  initdb=$(compgen -G '/usr/lib/postgresql/*/bin/initdb' | sort -V | tail -n 1)
  [[ -n $initdb ]] || return 1
  dirname "$initdb"
}

install_postgres() {
  pg_bindir >/dev/null && return 0
  log "postgres: not installed; apt-get install postgresql"
  # Stop the package from starting its own cluster on port 5432 while installing.
  local prc=/usr/sbin/policy-rc.d added=
  if [[ $EUID -eq 0 && ! -e $prc ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$prc"
    chmod 755 "$prc"
    added=1
  fi
  local rc=0
  apt_install postgresql || rc=$?
  [[ -z $added ]] || rm -f "$prc"
  [[ $rc -eq 0 ]] || die "postgres: apt-get install postgresql failed"
  pg_bindir >/dev/null || die "postgres: installed, but no /usr/lib/postgresql/*/bin/initdb"
}

pg_query() { # PORT DB SQL
  PGCONNECT_TIMEOUT=3 PGPASSWORD="$PG_PASSWORD" "$PGBIN/psql" -X -h 127.0.0.1 -p "$1" -U "$PG_USER" -d "$2" -v ON_ERROR_STOP=1 -Atqc "$3"
}

start_postgres() {
  local port=$1 dir pid as_pg=()
  PGBIN=$(pg_bindir)
  dir=$(mktemp -d /tmp/clara-postgres.XXXXXX)
  chmod 755 "$dir"
  cd "$dir"
  if [[ $EUID -eq 0 ]]; then
    # initdb and postgres refuse to run as root.
    chown postgres: "$dir"
    as_pg=(setpriv --reuid=postgres --regid=postgres --init-groups --)
  fi
  printf '%s\n' "$PG_PASSWORD" >"$dir/pwfile"
  chmod 644 "$dir/pwfile"
  # The bootstrap superuser is "clara" (so it may CREATE DATABASE for per-test databases).
  if ! "${as_pg[@]}" "$PGBIN/initdb" -D "$dir/data" -U "$PG_USER" --pwfile="$dir/pwfile" \
    --auth=scram-sha-256 --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1; then
    show_tail "$dir/initdb.log"
    die "postgres: initdb failed"
  fi
  rm -f "$dir/pwfile"
  cat >>"$dir/data/postgresql.conf" <<EOF

# --- test/backends/start.sh: loopback only, speed over durability
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = ''
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
EOF
  (exec setsid "${as_pg[@]}" "$PGBIN/postgres" -D "$dir/data") >"$dir/server.log" 2>&1 </dev/null &
  pid=$!
  record postgres "$pid" "$dir" INT
  wait_ready postgres "$pid" "$dir/server.log" -- pg_query "$port" postgres 'select 1'
  pg_query "$port" postgres "CREATE DATABASE $PG_DB" >/dev/null
  [[ $(pg_query "$port" "$PG_DB" 'select 1') == 1 ]] || die "postgres: select 1 in database $PG_DB failed"
  printf 'export TEST_POSTGRES_URL=postgres://%s:%s@127.0.0.1:%s/%s\n' \
    "$PG_USER" "$PG_PASSWORD" "$port" "$PG_DB" >"$STATE_DIR/postgres.env"
}

# ---------------------------------------------------------------- ChromaDB (PyPI)
install_chroma() { ensure_chroma_venv; }

chroma_ready() { curl -fsS -m 2 "http://127.0.0.1:$1/api/v2/heartbeat" | grep -q 'nanosecond heartbeat'; }

start_chroma() {
  local port=$1 dir pid
  dir=$(mktemp -d /tmp/clara-chroma.XXXXXX)
  cd "$dir"
  (
    export ANONYMIZED_TELEMETRY=False NO_COLOR=1
    exec setsid "$CHROMA_VENV/bin/chroma" run --path "$dir/data" --host 127.0.0.1 --port "$port"
  ) >"$dir/server.log" 2>&1 </dev/null &
  pid=$!
  record chroma "$pid" "$dir" TERM
  wait_ready chroma "$pid" "$dir/server.log" -- chroma_ready "$port"
  printf 'export TEST_CHROMA_URL=http://127.0.0.1:%s\n' "$port" >"$STATE_DIR/chroma.env"
}

# ---------------------------------------------------------------- Neo4j (Maven Central)
# A JDK 21 or 17 (Neo4j 5.26 supports both; newer ones are not supported).
find_jdk() {
  if [[ -n ${CLARA_NEO4J_JAVA_HOME:-} ]]; then
    readlink -f "$CLARA_NEO4J_JAVA_HOME"
    return 0
  fi
  local want d v
  for want in 21 17; do
    for d in /usr/lib/jvm/*/; do
      d=$(readlink -f "$d")
      [[ -x $d/bin/javac && -f $d/release ]] || continue
      v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$d/release")
      if [[ $v == "$want" ]]; then
        echo "$d"
        return 0
      fi
    done
  done
  return 1
}

bolt_handshake() { # PORT: the Bolt magic + version proposals; the server must pick one.
  python3 - "$1" <<'PY'
import socket, sys
with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3) as s:
    s.sendall(bytes.fromhex("6060B017" "00040405" "00000404" "00000000" "00000000"))
    reply = s.recv(4)
sys.exit(0 if len(reply) == 4 and reply != b"\0\0\0\0" else 1)
PY
}

neo4j_ready() { grep -q '^READY ' "$1" && bolt_handshake "$2"; }

# Builds the launcher once per (pom.xml, Main.java, JDK) into $NEO4J_BUILD_ROOT/<hash>:
# lib/*.jar (from Maven), launcher.jar, classpath, launcher.jsa (class-data-sharing archive
# from a training run: start-up ~5 s instead of ~10 s).
install_neo4j() {
  local src="$BACKENDS_DIR/neo4j-launcher" key
  JDK=$(find_jdk) || {
    apt_install openjdk-17-jdk-headless
    JDK=$(find_jdk) || die "neo4j: no JDK 17/21 found (set CLARA_NEO4J_JAVA_HOME)"
  }
  key=$(cat "$src/pom.xml" "$src/src/main/java/clara/backends/Main.java" "$JDK/release" |
    sha256sum | cut -c1-16)
  NEO4J_OUT="$NEO4J_BUILD_ROOT/$key"
  [[ -f $NEO4J_OUT/.complete ]] && return 0

  mkdir -p "$NEO4J_BUILD_ROOT"
  exec 8>"$NEO4J_BUILD_ROOT/.lock"
  flock 8 # another checkout may be building the same thing
  if [[ -f $NEO4J_OUT/.complete ]]; then
    exec 8>&-
    return 0
  fi
  command -v mvn >/dev/null || apt_install maven
  log "neo4j: building the launcher into $NEO4J_OUT (JDK $JDK)"
  rm -rf "$NEO4J_OUT"
  mkdir -p "$NEO4J_OUT/project" "$NEO4J_OUT/classes"
  cp -r "$src/pom.xml" "$src/src" "$NEO4J_OUT/project/"
  if ! JAVA_HOME="$JDK" mvn -B -q -f "$NEO4J_OUT/project/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$NEO4J_OUT/lib" >"$NEO4J_OUT/build.log" 2>&1; then
    show_tail "$NEO4J_OUT/build.log"
    die "neo4j: mvn dependency:copy-dependencies failed"
  fi
  "$JDK/bin/javac" --release 17 -encoding UTF-8 -cp "$NEO4J_OUT/lib/*" -d "$NEO4J_OUT/classes" \
    "$NEO4J_OUT/project/src/main/java/clara/backends/Main.java"
  "$JDK/bin/jar" cf "$NEO4J_OUT/launcher.jar" -C "$NEO4J_OUT/classes" .
  { echo "$NEO4J_OUT/launcher.jar"; find "$NEO4J_OUT/lib" -name '*.jar' | sort; } |
    paste -sd: >"$NEO4J_OUT/classpath"
  neo4j_train_cds || log "neo4j: class-data-sharing archive not made (start-up is just slower)"
  touch "$NEO4J_OUT/.complete"
  # Older builds are of no further use.
  find "$NEO4J_BUILD_ROOT" -mindepth 1 -maxdepth 1 -type d ! -path "$NEO4J_OUT" -exec rm -rf {} +
  exec 8>&-
}

# One start and clean stop with -XX:ArchiveClassesAtExit records the classes Neo4j loads.
neo4j_train_cds() {
  local tdir port pid i
  tdir=$(mktemp -d /tmp/clara-neo4j-cds.XXXXXX)
  port=$(free_ports 1)
  log "neo4j: training run for the class-data-sharing archive"
  (cd "$tdir" && exec "$JDK/bin/java" "${NEO4J_JVM_OPTS[@]}" -XX:ArchiveClassesAtExit="$NEO4J_OUT/launcher.jsa" \
    -cp "$(cat "$NEO4J_OUT/classpath")" clara.backends.Main "$tdir/home" "$port" "$NEO4J_PASSWORD") \
    >"$tdir/server.log" 2>&1 </dev/null &
  pid=$!
  for ((i = 0; i < READY_TIMEOUT * 5; i++)); do
    neo4j_ready "$tdir/server.log" "$port" 2>/dev/null && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  rm -rf "$tdir"
  if ! "$JDK/bin/java" -XX:SharedArchiveFile="$NEO4J_OUT/launcher.jsa" -Xshare:on \
    -cp "$(cat "$NEO4J_OUT/classpath")" -version >/dev/null 2>&1; then
    rm -f "$NEO4J_OUT/launcher.jsa"
    return 1
  fi
}

start_neo4j() {
  local port=$1 dir pid cds=()
  [[ -s $NEO4J_OUT/launcher.jsa ]] && cds=(-XX:SharedArchiveFile="$NEO4J_OUT/launcher.jsa")
  dir=$(mktemp -d /tmp/clara-neo4j.XXXXXX)
  cd "$dir"
  (exec setsid "$JDK/bin/java" "${NEO4J_JVM_OPTS[@]}" "${cds[@]}" -cp "$(cat "$NEO4J_OUT/classpath")" \
    clara.backends.Main "$dir/home" "$port" "$NEO4J_PASSWORD") >"$dir/server.log" 2>&1 </dev/null &
  pid=$!
  record neo4j "$pid" "$dir" TERM
  wait_ready neo4j "$pid" "$dir/server.log" "$dir/home/logs/debug.log" -- neo4j_ready "$dir/server.log" "$port"
  grep '^READY ' "$dir/server.log" | sed 's/^/neo4j: /' >&2
  {
    printf 'export TEST_NEO4J_URL=bolt://127.0.0.1:%s\n' "$port"
    printf 'export TEST_NEO4J_USER=%s\n' "$NEO4J_USER"
    printf 'export TEST_NEO4J_PASSWORD=%s\n' "$NEO4J_PASSWORD"
  } >"$STATE_DIR/neo4j.env"
}

# ---------------------------------------------------------------- CouchDB API (pouchdb-server, npm)
install_couchdb() {
  local pkg="$POUCHDB_DIR/node_modules/pouchdb-server/package.json"
  if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    die "couchdb: Node.js and npm are needed"
  fi
  if [[ -f $pkg && "$(node -p 'require(process.argv[1]).version' "$pkg")" == "$POUCHDB_SERVER_VERSION" ]]; then
    return 0
  fi
  log "couchdb: npm install pouchdb-server@$POUCHDB_SERVER_VERSION into $POUCHDB_DIR"
  rm -rf "$POUCHDB_DIR"
  mkdir -p "$POUCHDB_DIR"
  echo '{ "private": true }' >"$POUCHDB_DIR/package.json"
  # --ignore-scripts: skips compiling leveldown (~70 s); the in-memory mode does not need it.
  if ! (cd "$POUCHDB_DIR" && npm install --ignore-scripts --no-audit --no-fund --loglevel=error \
    "pouchdb-server@$POUCHDB_SERVER_VERSION") >"$CACHE_DIR/pouchdb-install.log" 2>&1; then
    show_tail "$CACHE_DIR/pouchdb-install.log"
    rm -rf "$POUCHDB_DIR"
    die "couchdb: npm install pouchdb-server failed"
  fi
}

couch_ready() { curl -fsS -m 2 "http://127.0.0.1:$1/" | grep -q '"version"'; }

start_couchdb() {
  local port=$1 dir pid base
  dir=$(mktemp -d /tmp/clara-couchdb.XXXXXX)
  cd "$dir" # pouchdb-server writes config.json and log.txt into its working directory
  (exec setsid node "$POUCHDB_DIR/node_modules/pouchdb-server/bin/pouchdb-server" \
    -m -p "$port" -o 127.0.0.1 -n) >"$dir/server.log" 2>&1 </dev/null &
  pid=$!
  record couchdb "$pid" "$dir" TERM
  wait_ready couchdb "$pid" "$dir/server.log" "$dir/log.txt" -- couch_ready "$port"
  # It starts as an "admin party" (no admins; a request with credentials gets 401). Create the
  # admin the way CouchDB 3 requires one, so the same URL with credentials works on both.
  base="http://127.0.0.1:$port"
  curl -fsS -m 5 -X PUT "$base/_config/admins/$COUCH_ADMIN" -d "\"$COUCH_PASSWORD\"" >/dev/null ||
    die "couchdb: could not create the admin user"
  curl -fsS -m 5 -u "$COUCH_ADMIN:$COUCH_PASSWORD" "$base/_session" | grep -q "\"name\":\"$COUCH_ADMIN\"" ||
    die "couchdb: admin login check failed"
  printf 'export TEST_COUCHDB_URL=http://%s:%s@127.0.0.1:%s\n' \
    "$COUCH_ADMIN" "$COUCH_PASSWORD" "$port" >"$STATE_DIR/couchdb.env"
}

# ---------------------------------------------------------------- main
run_service() { # SERVICE PORT (runs in a background subshell, output to its log)
  local svc=$1 port=$2 t0 t1
  t0=$(now_ms)
  "install_$svc"
  t1=$(now_ms)
  "start_$svc" "$port"
  printf 'TIMING %s install %ss, start %ss\n' "$svc" \
    "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1000 }')" "$(secs_since "$t1")"
}

main() {
  local svc services=() to_start=() ports=() failed=() i rc t_all
  declare -A job=()
  for svc in "$@"; do
    is_service "$svc" || die "unknown service '$svc' (known: ${ALL_SERVICES[*]})"
    [[ " ${services[*]} " == *" $svc "* ]] || services+=("$svc")
  done
  ((${#services[@]})) || services=("${ALL_SERVICES[@]}")
  t_all=$(now_ms)
  mkdir -p "$STATE_DIR/logs" "$CACHE_DIR"

  command -v curl >/dev/null || apt_install curl ca-certificates
  command -v python3 >/dev/null || apt_install python3 python3-venv

  for svc in "${services[@]}"; do
    if [[ -f $STATE_DIR/$svc.pid ]]; then
      if pid_is_ours "$(cat "$STATE_DIR/$svc.pid")" "$(cat "$STATE_DIR/$svc.dir" 2>/dev/null)"; then
        log "$svc: already running (stop.sh $svc to restart it)"
        continue
      fi
      "$BACKENDS_DIR/stop.sh" "$svc" >/dev/null 2>&1 || true # stale state
    fi
    to_start+=("$svc")
  done

  if ((${#to_start[@]})); then
    mapfile -t ports < <(free_ports "${#to_start[@]}")
    for i in "${!to_start[@]}"; do
      svc=${to_start[$i]}
      log "$svc: starting on 127.0.0.1:${ports[$i]} (log: $STATE_DIR/logs/$svc.log)"
      (run_service "$svc" "${ports[$i]}") >"$STATE_DIR/logs/$svc.log" 2>&1 &
      job[$svc]=$!
    done
    for svc in "${to_start[@]}"; do
      rc=0
      wait "${job[$svc]}" || rc=$?
      if ((rc == 0)); then
        log "$svc: ready ($(sed -n 's/^TIMING [a-z0-9]* //p' "$STATE_DIR/logs/$svc.log"))"
      else
        failed+=("$svc")
      fi
    done
  fi
  write_env

  if ((${#failed[@]})); then
    for svc in "${failed[@]}"; do
      printf '\n===== %s failed to start; %s:\n' "$svc" "$STATE_DIR/logs/$svc.log" >&2
      tail -n 60 "$STATE_DIR/logs/$svc.log" >&2
    done
    log "stopping what this run started: ${to_start[*]}"
    "$BACKENDS_DIR/stop.sh" "${to_start[@]}" >&2 || true
    die "failed: ${failed[*]}"
  fi
  log "all ready in $(secs_since "$t_all")s; env: $STATE_DIR/env"
  grep '^export' "$STATE_DIR/env" >&2 || true
}

main "$@"
