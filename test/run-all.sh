#!/usr/bin/env bash
# The whole test suite on a fresh machine (Debian 12, Node 20, Python 3.11, JDK 17):
# installs what is missing, starts real PostgreSQL / ChromaDB / Neo4j / CouchDB-API servers
# on loopback ports, runs `npm run check` (format, lint, types, Jest on SQLite and on the
# servers) and the trainer's pytest suite, stops the servers, and prints one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
export CI="${CI:-}"
started=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$1" "$(($(date +%s) - started))"; }

step 'node dependencies'
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

step 'python virtual environment for the trainer'
bash test/setup/python-venv.sh

step 'real backends'
trap 'bash test/backends/stop.sh >/dev/null 2>&1 || true' EXIT
bash test/backends/start.sh
# shellcheck disable=SC1091
source test/backends/.state/env
# Suites that need a server fail (never skip) when it is missing.
export CLARA_REQUIRE_POSTGRES=1 CLARA_REQUIRE_SERVERS=1

results=$(mktemp -d)
status=0

step 'npm run check (prettier, eslint, tsc, jest)'
npm run format:check || status=1
npm run lint || status=1
npm run typecheck || status=1
npm test -- --json --outputFile="$results/jest.json" || status=1

step 'trainer (pytest)'
.venv/bin/python -m pytest apps/trainer/tests -q -p no:cacheprovider --junitxml="$results/pytest.xml" || status=1

step 'summary'
node -e '
  const fs = require("node:fs");
  const dir = process.argv[1];
  let passed = 0, failed = 0, skipped = 0;
  try {
    const jest = JSON.parse(fs.readFileSync(`${dir}/jest.json`, "utf8"));
    passed += jest.numPassedTests; failed += jest.numFailedTests + jest.numRuntimeErrorTestSuites;
    skipped += jest.numPendingTests + jest.numTodoTests;
    console.log(`jest: ${jest.numPassedTests} passed, ${jest.numFailedTests} failed, ${jest.numPendingTests} skipped`);
  } catch { failed += 1; console.log("jest: no results"); }
  try {
    const xml = fs.readFileSync(`${dir}/pytest.xml`, "utf8");
    const attr = (name) => Number((xml.match(new RegExp(`<testsuite [^>]*${name}="(\\d+)"`)) || [])[1] || 0);
    const total = attr("tests"), bad = attr("failures") + attr("errors"), skip = attr("skipped");
    passed += total - bad - skip; failed += bad; skipped += skip;
    console.log(`pytest: ${total - bad - skip} passed, ${bad} failed, ${skip} skipped`);
  } catch { failed += 1; console.log("pytest: no results"); }
  console.log(`tests: ${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (skipped > 0) { console.log("skipped tests are not allowed in the full run"); process.exitCode = 1; }
  if (failed > 0) process.exitCode = 1;
' "$results" || status=1
rm -rf "$results"
exit $status
