#!/usr/bin/env bash
# Prepares the GPU check for a machine without the .NET SDK and with a per-transfer limit (the device tool's GPU machine:
# no SDK, no downloads, at most 64 MiB per call): a self-contained publish of the benchmarks with the CUDA natives
# (-p:SpecfnGpu=true, linux-x64) plus the demo pair (.specfn/models/demo, when there), packed as tar.xz and split into
# parts of at most PART_MIB (default 56) MiB in DIR (default .gpu-stage, ignored by git).
# Carry one part (or a few, under the limit) per call into the same folder on the warm machine; then run there
#   scripts/gpu-check.sh --staged .gpu-stage
# which joins the parts, unpacks them with python3's tarfile (no xz binary needed) and runs the benchmarks from them.
# Usage: scripts/gpu-stage.sh [DIR] [--from PUBLISHED_DIR]   (--from: reuse a finished publish)
set -euo pipefail
cd "$(dirname "$0")/.."
stage=.gpu-stage from=""
while (($#)); do
  case "$1" in
    --from) from="$2"; shift ;;
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
    *) stage="$1" ;;
  esac
  shift
done
part_mib="${PART_MIB:-56}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [[ -z "$from" ]]; then
  from="$work/published"
  dotnet publish tests/SpecFunctions.Benchmarks -c Release -r linux-x64 --self-contained -p:SpecfnGpu=true -o "$from"
fi
mkdir -p "$work/root/published" "$stage"
cp -a "$from/." "$work/root/published/"
rm -f "$work/root/published/"libonnxruntime_providers_tensorrt.so "$work/root/published/"*.pdb
if [[ -d .specfn/models/demo ]]; then
  mkdir -p "$work/root/demo" && cp -a .specfn/models/demo/. "$work/root/demo/"
fi
rm -f "$stage"/part-*
tar -C "$work/root" -cf - . | xz -6 -T0 | split -b "${part_mib}M" -d -a 2 - "$stage/part-"
(cd "$stage" && sha256sum part-* >SHA256SUMS)
echo "staged $(du -sh "$stage" | cut -f1) in $(ls "$stage"/part-* | wc -l) parts of ≤ $part_mib MiB under $stage:"
ls -l "$stage"
