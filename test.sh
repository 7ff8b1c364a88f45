#!/usr/bin/env bash
# Installs what the tests need and runs every test. Called by .ci/run.
#   ./test.sh           every test this machine can run (see the two switches below)
#   ./test.sh --extras  only the tests behind the switches (CI runs them after the default set)
# Switches, off unless set:
#   SPECFN_MGSM_DIR       a folder of MGSM TSV files: the checks on the real MGSM data (trait Requires=mgsm)
#   SPECFN_GENAI_MODELS_DIR  ONNX Runtime GenAI's test exports (tiny-random-gpt2-fp32, tiny-random-gpt2-fp16): conformance
#                         of our decode with ONNX Runtime GenAI's on real exports read without a manifest (trait Requires=genai-models)
#   SPECFN_FUNCTIONS_HOST a `start APP --port N --storage CS --master-key KEY` script (Core Tools' `func` on PATH also
#                         counts): the end-to-end tests of the published Functions app (trait Requires=functions-host)
#   SPECFN_BROWSER        a Chromium executable (Debian's `chromium`: /usr/bin/chromium), with a Functions host as above:
#                         the dashboard opened in headless Chromium on the real host (trait Requires=browser; Playwright's
#                         .NET driver from NuGet drives it, no browser is downloaded)
# The measurement with trait Requires=fanout-measure (the fan-out of a sharded run on 1, 2 and 4 real Functions hosts,
# docs/scale.md) is never run here: benchmarks/fanout-hosts.sh runs it.
# The tests with trait Requires=cuda need an NVIDIA GPU and a build against the CUDA natives: scripts/gpu-check.sh runs
# them (never this script); the IO-binding code path they check runs here on the CPU provider.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
# Azurite (pinned in package.json) for the storage tests, which start and stop it themselves.
npm ci --no-audit --no-fund
dotnet build SpecFunctions.sln -c Release

excluded=("Requires!=cuda" "Requires!=fanout-measure")
echo "Left out: the CUDA checks (trait Requires=cuda; run scripts/gpu-check.sh on a machine with an NVIDIA GPU, CUDA 13 and cuDNN 9)."
echo "Left out: the fan-out measurement on real hosts (trait Requires=fanout-measure; a measurement, not a test: benchmarks/fanout-hosts.sh runs it)."
if [[ -z "${SPECFN_MGSM_DIR:-}" ]]; then
  excluded+=("Requires!=mgsm")
  echo "Left out: the checks on the real MGSM data (set SPECFN_MGSM_DIR to a folder of MGSM TSV files to run them; CI does)."
fi
if [[ -z "${SPECFN_GENAI_MODELS_DIR:-}" ]]; then
  excluded+=("Requires!=genai-models")
  echo "Left out: the conformance checks on ONNX Runtime GenAI's test exports (set SPECFN_GENAI_MODELS_DIR to the folder holding them to run them; CI does)."
fi
if [[ -z "${SPECFN_FUNCTIONS_HOST:-}" ]] && ! command -v func >/dev/null 2>&1; then
  excluded+=("Requires!=functions-host")
  echo "Left out: the end-to-end tests on a real Functions host (install Azure Functions Core Tools, or set SPECFN_FUNCTIONS_HOST to a host start script; CI does)."
fi
if [[ -z "${SPECFN_BROWSER:-}" ]] || [[ " ${excluded[*]} " == *" Requires!=functions-host "* ]]; then
  excluded+=("Requires!=browser")
  echo "Left out: the dashboard's browser tests (set SPECFN_BROWSER to a Chromium executable, e.g. /usr/bin/chromium from Debian's chromium package, and have a Functions host; CI does)."
fi
if [[ "${1:-}" == "--extras" ]]; then
  filter="Requires=mgsm|Requires=functions-host|Requires=genai-models|Requires=browser"
  (( ${#excluded[@]} == 2 )) || { echo "--extras needs SPECFN_MGSM_DIR, SPECFN_GENAI_MODELS_DIR, a Functions host and SPECFN_BROWSER" >&2; exit 2; }
else
  filter=$(IFS='&'; echo "${excluded[*]:-}")
fi

log=$(mktemp)
status=0
dotnet test SpecFunctions.sln -c Release --no-build --blame-hang-timeout 20m ${filter:+--filter "$filter"} 2>&1 | tee "$log" || status=$?
# One closing line over every test assembly: "N passed, N failed".
passed=$(grep -Eo 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -Eo 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
echo "Tests: $passed passed, $failed failed${filter:+ (filter: $filter)}"

# The GPU check script in its CPU smoke mode (tiny sizes, CPU provider, demo pair left out; ~40 s): the script itself,
# its steps and its results file, so the one command the GPU run depends on does not rot between GPU runs.
if [[ "${1:-}" != "--extras" ]]; then
  smoke=$(mktemp -d)
  if scripts/gpu-check.sh --cpu-smoke --no-build --skip-demo --out "$smoke" >/dev/null 2>&1; then
    echo "GPU check script (--cpu-smoke): ok ($smoke/gpu-check.md)"
  else
    echo "GPU check script (--cpu-smoke): FAILED, see $smoke/gpu-check.log"
    status=1
  fi
fi
exit $status
