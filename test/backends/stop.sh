#!/usr/bin/env bash
# Stop the servers that start.sh started and delete their temp data.
#
#   test/backends/stop.sh [postgres] [chroma] [neo4j] [couchdb]    # no args = all
#
# Each server gets its stop signal (PostgreSQL: SIGINT = fast shutdown; the others: SIGTERM),
# then SIGKILL to its whole process group after CLARA_BACKENDS_STOP_TIMEOUT seconds (default 10).
# Only a PID that still belongs to the recorded server (by its temp folder) is signalled.
# Safe to run when nothing runs.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STOP_TIMEOUT="${CLARA_BACKENDS_STOP_TIMEOUT:-10}"

alive() { # not gone and not a zombie
  [[ -r /proc/$1/status ]] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# The process-group id of PID (field 5 of /proc/PID/stat; the name in field 2 may hold spaces).
pgid_of() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  # shellcheck disable=SC2086 # split into fields on purpose
  set -- $stat # state ppid pgrp ...
  echo "$3"
}

# Signal the group when the server leads its own (start.sh runs it under setsid), else the PID.
signal() { # SIGNAL PID [group]
  if [[ ${3:-} == group && "$(pgid_of "$2")" == "$2" ]]; then
    kill -s "$1" -- "-$2" 2>/dev/null || true
  else
    kill -s "$1" "$2" 2>/dev/null || true
  fi
}

main() {
  local svc services=() pending=() pid dir sig start
  declare -A pid_of=() dir_of=()
  for svc in "$@"; do
    is_service "$svc" || die "unknown service '$svc' (known: ${ALL_SERVICES[*]})"
    services+=("$svc")
  done
  ((${#services[@]})) || services=("${ALL_SERVICES[@]}")
  [[ -d $STATE_DIR ]] || exit 0

  for svc in "${services[@]}"; do
    [[ -f $STATE_DIR/$svc.pid || -f $STATE_DIR/$svc.dir ]] || continue
    pid=$(cat "$STATE_DIR/$svc.pid" 2>/dev/null || true)
    dir=$(cat "$STATE_DIR/$svc.dir" 2>/dev/null || true)
    sig=$(cat "$STATE_DIR/$svc.signal" 2>/dev/null || echo TERM)
    dir_of[$svc]=$dir
    if [[ -n $dir ]] && pid_is_ours "$pid" "$dir"; then
      log "$svc: stopping pid $pid (SIG$sig)"
      if [[ $sig == TERM ]]; then signal TERM "$pid" group; else signal "$sig" "$pid"; fi
      pid_of[$svc]=$pid
      pending+=("$svc")
    fi
  done

  start=$(now_ms)
  while ((${#pending[@]})); do
    local still=()
    for svc in "${pending[@]}"; do
      if alive "${pid_of[$svc]}"; then still+=("$svc"); fi
    done
    pending=("${still[@]+"${still[@]}"}")
    ((${#pending[@]})) || break
    if (($(now_ms) - start > STOP_TIMEOUT * 1000)); then
      for svc in "${pending[@]}"; do
        log "$svc: still running after ${STOP_TIMEOUT}s; SIGKILL to its process group"
        signal KILL "${pid_of[$svc]}" group
      done
      sleep 1
      break
    fi
    sleep 0.2
  done
  for svc in "${services[@]}"; do
    dir=${dir_of[$svc]:-}
    # Only ever delete the temp folders start.sh makes.
    if [[ $dir == /tmp/clara-$svc.* && -d $dir ]]; then
      rm -rf "$dir"
    fi
    rm -f "$STATE_DIR/$svc".{pid,dir,signal,env}
  done
  write_env
  log "stopped: ${services[*]}"
}

main "$@"
