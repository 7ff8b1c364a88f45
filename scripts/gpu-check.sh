#!/usr/bin/env bash
# The GPU check (issue 16), one command, a few minutes on one NVIDIA GPU:
#   1. builds the CUDA flavour (-p:SpecfnGpu=true: Microsoft.ML.OnnxRuntime.Gpu.Linux natives) of the Onnx tests and the
#      benchmarks (the CLI too, so a CUDA CLI is known to build);
#   2. runs the tests with trait Requires=cuda (session on CUDA, KV cache in device memory, bound CUDA path vs CPU logits);
#   3. runs the demo-pair benchmark on the GPU (c, v_γ, measured vs refined speed-up per task, allocations per step);
#   4. builds a ~1B-parameter random-weight float16 transformer with the project's graph builder (timing only) plus a
#      small random drafter, and measures per token the plain Run path vs the IO-binding path (tokens/s, managed
#      allocations, ratios), v_γ, c and the measured vs refined speed-up through the real engine;
#   and writes everything to RESULTS/gpu-check.md (the log beside it).
#
# Usage: scripts/gpu-check.sh [--cpu-smoke] [--out DIR] [--no-build] [--skip-demo] [--published DIR] [--staged DIR]
#   --cpu-smoke  the same steps on the CPU provider at tiny sizes (CPU natives; the IO-binding tests instead of the CUDA
#                ones): exercises the script itself in about a minute after a build, on any machine
#   --out DIR    results folder (default: $OUT when set, else ./gpu-check-results)
#   --no-build   use the Release build already there (of the same flavour)
#   --skip-demo  leave out the demo pair (it trains on first use when .specfn/models/demo is absent)
#   --published DIR  a machine without the .NET SDK: run the benchmarks from DIR/SpecFunctions.Benchmarks, a
#                self-contained publish (dotnet publish tests/SpecFunctions.Benchmarks -c Release -r linux-x64
#                --self-contained -p:SpecfnGpu=true -o DIR); implies --no-build; the xUnit tests need the SDK and are
#                left out (said so in the results) when it is absent
#   --staged DIR the parts scripts/gpu-stage.sh wrote (DIR/part-NN, SHA256SUMS): checked, joined and unpacked to a
#                temporary folder, then as --published (and the demo pair they carry goes to .specfn/models/demo)
# Needs: the .NET 10 SDK and the NuGet packages restored (or --no-build over a finished build, or --published); for the
# GPU run an NVIDIA driver, CUDA 13 and cuDNN 9 (found on the loader path or in the nvidia-* Python wheels of the
# machine's python3): the natives are Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31.0, built for CUDA 13 (libcudart.so.13;
# no served version links CUDA 12). A driver that supports only CUDA 12.x needs NVIDIA's forward-compatibility package
# (cuda-compat-13-0, data-centre GPUs only): when the driver is older and /usr/local/cuda/compat holds it, the script
# puts it first on the loader path, as the deployed app loads it (docs/deploy.md); the results say which ran.
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

mode=gpu build=1 demo=1 published="" out="${OUT:-$PWD/gpu-check-results}"
while (($#)); do
  case "$1" in
    --cpu-smoke) mode=cpu ;;
    --out) out="$2"; shift ;;
    --no-build) build=0 ;;
    --skip-demo) demo=0 ;;
    --published) published=$(cd "$2" && pwd); build=0; shift ;;
    --staged)
      (cd "$2" && sha256sum -c --quiet SHA256SUMS) || { echo "gpu-check: $2: parts missing or damaged" >&2; exit 2; }
      unpacked=$(mktemp -d)
      cat "$2"/part-* | python3 -c 'import sys, tarfile; tarfile.open(fileobj=sys.stdin.buffer, mode="r|xz").extractall(sys.argv[1])' "$unpacked"
      if [[ -d "$unpacked/demo" && ! -d .specfn/models/demo ]]; then mkdir -p .specfn/models && cp -a "$unpacked/demo" .specfn/models/demo; fi
      published="$unpacked/published"; build=0; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "gpu-check: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

mkdir -p "$out"
out=$(cd "$out" && pwd)
results="$out/gpu-check.md"
log="$out/gpu-check.log"
: >"$results"
exec > >(tee -a "$log") 2>&1
started=$(date +%s)
step() { echo; echo "== [$(( $(date +%s) - started )) s] $*"; }
record() { printf '%s\n' "$@" >>"$results"; }

if [[ "$mode" == gpu ]]; then
  flavour=true device=cuda
  tests="Requires=cuda"
  # CUDA 13 / cuDNN 9 libraries shipped as Python wheels (nvidia-cublas, nvidia-cudnn-cu13, ...) when not on the path.
  if command -v python3 >/dev/null && ! ldconfig -p 2>/dev/null | grep -q 'libcudnn.so.9'; then
    wheels=$(python3 - <<'PY' 2>/dev/null || true
import glob, os
try:
    import nvidia
    roots = list(nvidia.__path__)
except Exception:
    roots = []
print(":".join(sorted({os.path.dirname(p) for r in roots for p in glob.glob(os.path.join(r, "**", "lib*.so*"), recursive=True)})))
PY
)
    [[ -n "$wheels" ]] && export LD_LIBRARY_PATH="$wheels${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
  # The natives need CUDA 13; a driver for CUDA 12.x runs them only through the forward-compatibility libcuda.
  driver_cuda=$(nvidia-smi 2>/dev/null | grep -oE 'CUDA Version: [0-9]+\.[0-9]+' | grep -oE '[0-9]+\.[0-9]+' || true)
  compat_note="natives need CUDA 13; driver supports CUDA ${driver_cuda:-unknown}"
  if [[ -n "$driver_cuda" && "${driver_cuda%%.*}" -lt 13 ]]; then
    if [[ -e /usr/local/cuda/compat/libcuda.so.1 ]]; then
      export LD_LIBRARY_PATH="/usr/local/cuda/compat${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      compat_note="$compat_note: NVIDIA's forward-compatibility libcuda from /usr/local/cuda/compat is used"
    else
      compat_note="$compat_note and no forward-compatibility package (cuda-compat-13-0) is at /usr/local/cuda/compat: expect the CPU"
    fi
  fi
  # ~0.94 B parameters: 16 layers, width 2048, 16 heads of 128, MLP 8192, vocabulary 32000; float16 throughout.
  large=(--layers 16 --dim 2048 --heads 16 --hidden 8192 --vocab 32000 --positions 2048 --half --context 512 --tokens 64
         --rounds 5 --gamma 4 --drafter-layers 2 --drafter-dim 512 --prompts 4 --new-tokens 64 --label "float16, ~1B")
  small=(--layers 4 --dim 256 --heads 4 --hidden 1024 --vocab 1024 --context 512 --tokens 64 --rounds 5 --label "float32, small")
  demo_args=(--device cuda)
else
  compat_note="CPU smoke: no CUDA"
  flavour=false device=cpu
  tests="FullyQualifiedName~IoBindingTests|FullyQualifiedName~LargeModelBuilderTests"
  large=(--layers 2 --dim 64 --heads 4 --hidden 256 --vocab 300 --positions 256 --half --context 64 --tokens 16
         --rounds 3 --gamma 4 --prompts 2 --new-tokens 16 --threads 1 --label "float16, tiny (CPU smoke)")
  small=(--layers 2 --dim 32 --heads 2 --vocab 260 --positions 256 --context 64 --tokens 16 --rounds 3 --prompts 2
         --new-tokens 16 --threads 1 --label "float32, tiny (CPU smoke)")
  demo_args=(1 --repeats 1)
fi

record "# GPU check ($mode mode)" "" \
  "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  "- machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)" \
  "- GPU: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo none)" \
  "- CUDA: $compat_note" \
  "- benchmarks: ${published:-dotnet run over the Release build of this checkout}" ""

if ((build)); then
  step "build (SpecfnGpu=$flavour)"
  dotnet build src/SpecFunctions.Cli -c Release -p:SpecfnGpu=$flavour
  dotnet build tests/SpecFunctions.Onnx.Tests -c Release -p:SpecfnGpu=$flavour
  dotnet build tests/SpecFunctions.Benchmarks -c Release -p:SpecfnGpu=$flavour
fi

status=0
if command -v dotnet >/dev/null; then
  step "tests ($tests)"
  dotnet test tests/SpecFunctions.Onnx.Tests -c Release --no-build --filter "$tests" \
    --logger "console;verbosity=detailed" 2>&1 | tee "$out/tests.log" || status=$?
  record "## Tests ($tests)" "" '```' "$(grep -E '^\s+(Passed|Failed) |^Total tests|^\s+(Passed|Failed):' "$out/tests.log" || true)" \
    "$(grep -E 'float16=|worst|rewinds' "$out/tests.log" | sed 's/^ */  output: /' || true)" '```' ""
else
  echo "Left out: the tests ($tests): no .NET SDK on this machine."
  record "## Tests ($tests)" "" "Left out: no .NET SDK on this machine (benchmarks ran from $published)." ""
fi

if [[ -n "$published" ]]; then
  bench() { "$published/SpecFunctions.Benchmarks" "$@"; }
else
  bench() { dotnet run -c Release --no-build --project tests/SpecFunctions.Benchmarks -- "$@"; }
fi

if ((demo)); then
  step "demo pair (${demo_args[*]})"
  record "## Demo pair (${demo_args[*]})" "" '```'
  bench demo-pair "${demo_args[@]}" | tee -a "$results" || status=$?
  record '```' ""
fi

for config in small large; do
  declare -n args_ref=$config
  step "random-weight transformer ($config, $device)"
  bench transformer --device "$device" "${args_ref[@]}" --results "$out/transformer-$config.md" || status=$?
  [[ -f "$out/transformer-$config.md" ]] && cat "$out/transformer-$config.md" >>"$results"
done

step "done in $(( $(date +%s) - started )) s, status $status; results: $results"
record "" "Total $(( $(date +%s) - started )) s; exit status $status."
exit $status
