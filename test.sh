#!/usr/bin/env bash
# Installs what the tests need and runs every test. Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Azurite (pinned in package.json) for the storage tests, which start and stop it themselves.
npm ci --no-audit --no-fund
dotnet build SpecFunctions.sln -c Release
log=$(mktemp)
status=0
dotnet test SpecFunctions.sln -c Release --no-build --blame-hang-timeout 20m 2>&1 | tee "$log" || status=$?
# One closing line over every test assembly: "N passed, N failed".
passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
echo "Tests: $passed passed, $failed failed"
exit $status
