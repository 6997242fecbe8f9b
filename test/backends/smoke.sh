#!/usr/bin/env bash
# Prove that the servers from start.sh answer real requests.
#
#   test/backends/smoke.sh [postgres] [chroma] [neo4j] [couchdb]   # no args = all that run
#
# PostgreSQL: select 1, create/drop a database. Chroma: heartbeat, create a collection, add a
# record with an embedding, count, query, delete. CouchDB API: create a db, put/get a doc,
# a stale update gets 409, delete the db. Neo4j: RETURN 1 and a write over Bolt with the
# Python driver, and a wrong password is refused.
set -euo pipefail

# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[[ -f $STATE_DIR/env ]] || die "no $STATE_DIR/env: run test/backends/start.sh first"
# shellcheck disable=SC1091
source "$STATE_DIR/env"

TAG="smoke_$$_$RANDOM"

expect() { # WHAT EXPECTED ACTUAL
  [[ $2 == "$3" ]] || die "$1: expected '$2', got '$3'"
}

json() { # read JSON on stdin, print the value of a Python expression on it (as `j`)
  python3 -c 'import json, sys; j = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

smoke_postgres() {
  local psql url=${TEST_POSTGRES_URL:?} admin_url
  psql=$(command -v psql || compgen -G '/usr/lib/postgresql/*/bin/psql' | sort -V | tail -n 1)
  expect "postgres select 1" 1 "$("$psql" -X "$url" -Atqc 'select 1')"
  admin_url="${url%/*}/postgres"
  "$psql" -X "$admin_url" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE $TAG" -c "DROP DATABASE $TAG"
  "$psql" -X "$url" -Atqc 'show server_version' | sed 's/^/postgres: server_version /'
}

smoke_chroma() {
  local base=${TEST_CHROMA_URL:?}/api/v2 cols id
  cols="$base/tenants/default_tenant/databases/default_database/collections"
  curl -fsS "$base/heartbeat" | grep -q 'nanosecond heartbeat' || die "chroma: heartbeat"
  id=$(curl -fsS -X POST "$cols" -H 'content-type: application/json' -d "{\"name\":\"$TAG\"}" | json 'j["id"]')
  curl -fsS -X POST "$cols/$id/add" -H 'content-type: application/json' \
    -d '{"ids":["a","b"],"embeddings":[[1,0,0],[0,1,0]],"documents":["one","two"]}' >/dev/null
  expect "chroma count" 2 "$(curl -fsS "$cols/$id/count")"
  expect "chroma query" b "$(curl -fsS -X POST "$cols/$id/query" -H 'content-type: application/json' \
    -d '{"query_embeddings":[[0,0.9,0.1]],"n_results":1}' | json 'j["ids"][0][0]')"
  curl -fsS -X DELETE "$cols/$TAG" >/dev/null
  echo "chroma: version $(curl -fsS "$base/version")"
}

smoke_couchdb() {
  local base=${TEST_COUCHDB_URL:?} db rev code
  db="$base/$TAG"
  curl -fsS "$base/" | json 'j.get("version")' | sed 's/^/couchdb: version /'
  curl -fsS -X PUT "$db" | grep -q '"ok":true' || die "couchdb: create db"
  rev=$(curl -fsS -X PUT "$db/doc1" -H 'content-type: application/json' -d '{"n":1}' | json 'j["rev"]')
  expect "couchdb get" 1 "$(curl -fsS "$db/doc1" | json 'j["n"]')"
  curl -fsS -X PUT "$db/doc1" -H 'content-type: application/json' -d "{\"n\":2,\"_rev\":\"$rev\"}" >/dev/null
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT "$db/doc1" -H 'content-type: application/json' \
    -d "{\"n\":3,\"_rev\":\"$rev\"}")
  expect "couchdb stale update" 409 "$code"
  curl -fsS -X DELETE "$db" | grep -q '"ok":true' || die "couchdb: delete db"
}

smoke_neo4j() {
  ensure_chroma_venv # holds the Python neo4j driver
  "$CHROMA_VENV/bin/python" - "${TEST_NEO4J_URL:?}" "${TEST_NEO4J_USER:?}" "${TEST_NEO4J_PASSWORD:?}" "$TAG" <<'PY'
import sys
from neo4j import GraphDatabase
from neo4j.exceptions import AuthError

url, user, password, tag = sys.argv[1:]
with GraphDatabase.driver(url, auth=(user, password)) as driver:
    driver.verify_connectivity()
    assert driver.execute_query("RETURN 1 AS x").records[0]["x"] == 1
    driver.execute_query("CREATE (:Smoke {tag: $tag})", tag=tag)
    n = driver.execute_query("MATCH (s:Smoke {tag: $tag}) RETURN count(s) AS n", tag=tag).records[0]["n"]
    assert n == 1, n
    driver.execute_query("MATCH (s:Smoke {tag: $tag}) DELETE s", tag=tag)
    print("neo4j:", driver.get_server_info().agent)
try:
    with GraphDatabase.driver(url, auth=(user, password + "-wrong")) as driver:
        driver.verify_connectivity()
    sys.exit("neo4j: a wrong password was accepted")
except AuthError:
    pass
PY
}

main() {
  local svc services=() var
  for svc in "$@"; do
    is_service "$svc" || die "unknown service '$svc' (known: ${ALL_SERVICES[*]})"
    services+=("$svc")
  done
  if ((${#services[@]} == 0)); then
    for svc in "${ALL_SERVICES[@]}"; do
      var="TEST_${svc^^}_URL"
      if [[ -n ${!var:-} ]]; then services+=("$svc"); fi
    done
  fi
  ((${#services[@]})) || die "no backend is running"
  for svc in "${services[@]}"; do
    "smoke_$svc"
    echo "smoke: $svc OK"
  done
  echo "smoke: all answered (${services[*]})"
}

main "$@"
