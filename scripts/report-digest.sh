#!/usr/bin/env bash
# Writes the JSON report of every example scenario and of a generated hub-and-spoke scenario into
# OUTDIR, so that two builds can be compared byte for byte:
#
#   scripts/report-digest.sh before/ path/to/old/vnetsim
#   scripts/report-digest.sh after/                      # this checkout's release binary
#   diff -r before after && echo identical
#
# Every refactoring or optimization of the forwarding path must leave the reports identical.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/report-digest.sh OUTDIR [VNETSIM_BINARY]}
bin=${2:-}
if [ -z "$bin" ]; then
  cargo build -q --release -p vnetsim-cli
  bin=./target/release/vnetsim
fi
mkdir -p "$out"
for f in scenarios/*.yaml; do
  name=$(basename "$f" .yaml)
  # Exit 1 (an expectation failed) still writes a report; only invalid input (2) is an error.
  "$bin" run "$f" --report "$out/$name.json" >/dev/null || [ $? -eq 1 ]
done
gen=$(mktemp)
trap 'rm -f "$gen"' EXIT
"$bin" generate hub-spoke --spokes 20 --vms-per-spoke 20 --flows 5000 -o "$gen"
"$bin" run "$gen" --report "$out/generated-hub-spoke.json" >/dev/null || [ $? -eq 1 ]
( cd "$out" && sha256sum -- *.json ) >"$out/SHA256SUMS"
echo "wrote $(ls "$out"/*.json | wc -l) reports to $out (SHA256SUMS beside them)"
