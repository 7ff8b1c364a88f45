#!/usr/bin/env bash
# Installs what the tests need and runs every test. Called by .ci/run.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Azurite (pinned in package.json) for the storage tests, which start and stop it themselves.
npm ci --no-audit --no-fund
dotnet build SpecFunctions.sln -c Release
dotnet test SpecFunctions.sln -c Release --no-build --logger "console;verbosity=normal"
