#!/usr/bin/env bash
# The fan-out of a sharded run measured on real Functions hosts (docs/scale.md, "Fan-out measured on real hosts").
#
# Both planes — in process (1, 2, 4 hosts of the one app sharing the task hub) and queue (a control host and 1, 2, 4
# evaluator hosts) — each run on a fresh Azurite and fresh hosts of the published app: 6 tasks × 33 short prompts of the
# demo pair, one prompt per shard (198 shards), plus the same suite as one shard per task on one host (the reference for
# the overhead per extra shard). Prints the table (wall time, speed-up, efficiency = T(1) / (n·T(n)), shards per host,
# host-seconds outside the shards' own evaluation per shard). The runs' correctness is asserted (every shard committed
# once, the same statistics in every run); their times are not: it is a measurement (trait Requires=fanout-measure,
# which test.sh leaves out). About 10–15 min on 2 cores.
#
# Usage: benchmarks/fanout-hosts.sh [--out FILE]   (default FILE: a temporary file; the table is printed either way)
# Env:   SPECFN_FUNCTIONS_HOST  a `start APP --port N --storage CS --master-key KEY` script (Core Tools' `func` on PATH
#                               also works); Azurite comes from package.json (npm ci).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -t specfn-fanout-XXXXXX.md)
if [[ "${1:-}" == "--out" ]]; then out=$(realpath -m "$2"); fi
if [[ -z "${SPECFN_FUNCTIONS_HOST:-}" ]] && ! command -v func >/dev/null 2>&1; then
  echo "fanout-hosts: needs a Functions host: set SPECFN_FUNCTIONS_HOST to a host start script, or put Core Tools' func on PATH" >&2
  exit 2
fi

npm ci --no-audit --no-fund >/dev/null
dotnet build SpecFunctions.sln -c Release --nologo -v:q >/dev/null
echo "cores=$(nproc) load=$(cut -d' ' -f1 /proc/loadavg)"
SPECFN_FANOUT_OUT="$out" dotnet test tests/SpecFunctions.Functions.EndToEnd.Tests -c Release --no-build --nologo \
  --filter "Requires=fanout-measure" --logger "console;verbosity=detailed" | grep -E '^ *(in|queue|inprocess)-|Passed|Failed|error' || true
[[ -s "$out" ]] || { echo "fanout-hosts: no table written (the measurement failed; see above)" >&2; exit 1; }
cat "$out"
