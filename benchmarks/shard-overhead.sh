#!/usr/bin/env bash
# Orchestration overhead per prompt shard on the embedded Durable engine (docs/scale.md, "Shards").
#
# One task of PROMPTS short prompts, run by `specfn run` as 1, then N shards (--prompts-per-shard PROMPTS/N), each run in
# a fresh store (the content key does not depend on the sharding: a shared store would reuse the first run's trace).
# Work per prompt is kept small (MAX_NEW_TOKENS tokens, one timed repeat) so the difference in wall time between the
# runs is the cost of the extra activities: overhead per shard = (T(N) − T(1)) / (N − 1), T the run's own elapsed time
# (the CLI's `elapsedSeconds`: submission to outcome, without process start and model loading). Every run's statistics are
# compared with the 1-shard run's (α, D, KL and their intervals must be identical).
#
# Usage: benchmarks/shard-overhead.sh [SHARDS...]   (default: 1 10 40)
# Env:   PROMPTS (200), MAX_NEW_TOKENS (4), MODELS (a `specfn models demo` folder; built when missing),
#        SPECFN (the CLI: default the Release build of src/SpecFunctions.Cli), WORK (scratch folder).
set -euo pipefail
cd "$(dirname "$0")/.."
prompts=${PROMPTS:-200}
tokens=${MAX_NEW_TOKENS:-4}
work=${WORK:-$(mktemp -d -t specfn-shard-bench-XXXXXX)}
models=${MODELS:-$work/models}
specfn=${SPECFN:-src/SpecFunctions.Cli/bin/Release/net10.0/specfn}
shards=("$@")
[ ${#shards[@]} -gt 0 ] || shards=(1 10 40)

[ -x "$specfn" ] || dotnet build src/SpecFunctions.Cli -c Release >/dev/null
[ -f "$models/verifier/model.onnx" ] || "$specfn" models demo --out "$models" >/dev/null

python3 - "$work/suite.json" "$prompts" <<'EOF'
import json, sys
path, n = sys.argv[1], int(sys.argv[2])
words = "the quick brown fox jumps over a lazy dog while seven cats watch".split()
prompts = [" ".join(words[(i + k) % len(words)] for k in range(6)) + f" {i}" for i in range(n)]
json.dump({"name": "shards", "tasks": [{"id": "en", "prompts": prompts}]}, open(path, "w"))
EOF

echo "prompts=$prompts max_new_tokens=$tokens cores=$(nproc) load=$(cut -d' ' -f1 /proc/loadavg)"
printf '%-7s %-8s %-8s %-8s %-12s %s\n' shards per-shard wall_s run_s overhead_s statistics
base=""
for n in "${shards[@]}"; do
  per=$(( (prompts + n - 1) / n ))
  store="$work/store-$n"
  rm -rf "$store"
  start=$(date +%s.%N)
  "$specfn" run --suite "$work/suite.json" --verifier "$models/verifier" --drafter "$models/drafter" \
    --max-new-tokens "$tokens" --repeats 1 --temperature 1 --seed 3 --prompts-per-shard "$per" \
    --store "$store" --out "$work/out-$n" --json >"$work/run-$n.json" 2>"$work/run-$n.log"
  end=$(date +%s.%N)
  wall=$(python3 -c "print(f'{$end - $start:.2f}')")
  # The run's own elapsed time (submission to outcome, the engine's), without process start and model loading.
  run=$(python3 -c "import json,sys; print(f\"{json.load(open(sys.argv[1]))['elapsedSeconds']:.2f}\")" "$work/run-$n.json")
  stats=$(python3 - "$work/out-$n" <<'EOF'
import glob, json, sys
report = json.load(open(glob.glob(sys.argv[1] + "/*.report.json")[0]))
t = report["tasks"][0]
print(json.dumps({k: t.get(k) for k in ("alpha", "alphaCi", "crossEntropy", "crossEntropyCi", "kl", "klCi", "steps", "acceptedTokens")}, sort_keys=True))
EOF
)
  if [ -z "$base" ]; then base_run=$run; base=$stats; base_n=$n; over="-"
  else over=$(python3 -c "print(f'{($run - $base_run) / ($n - $base_n):.3f}')"); fi
  same=$([ "$stats" = "$base" ] && echo "identical to $base_n shard(s)" || echo "DIFFERENT: $stats")
  printf '%-7s %-8s %-8s %-8s %-12s %s\n' "$n" "$per" "$wall" "$run" "$over" "$same"
done
echo "work folder: $work"
