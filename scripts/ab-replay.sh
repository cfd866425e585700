#!/usr/bin/env bash
# Compares two pantau binaries on the replay benchmark's workload, in
# interleaved runs (A, B, A, B, ...): this machine's speed drifts by up to a
# third from hour to hour, so runs of one binary after the other cannot rank
# changes of a few per cent. Prints every run, the medians, and whether both
# binaries wrote byte-identical alerts.
#   scripts/ab-replay.sh OLD_BINARY NEW_BINARY [PAIRS] [TRANSACTIONS]
# The workload is the one of scripts/bench-replay.sh (run that first).
set -euo pipefail
cd "$(dirname "$0")/.."
old="${1:?old binary}"
new="${2:?new binary}"
pairs="${3:-5}"
n="${4:-250000}"
dir="${BENCH_DIR:-target/bench-replay}/$n"
[ -f "$dir/events.ndjson" ] || { echo "no workload in $dir: run scripts/bench-replay.sh $n first" >&2; exit 2; }
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
run() { # binary label i
  "$1" run --config pipelines/replay.toml --quiet --input "$dir/events.ndjson" \
    --alerts "$out/$2.alerts.ndjson" --rejected "$out/$2.rejected.ndjson" 2>&1 |
    sed -n 's/^elapsed \([0-9.]*\) s.*/\1/p'
}
for i in $(seq "$pairs"); do
  a=$(run "$old" old); b=$(run "$new" new)
  echo "pair $i: old $a s, new $b s"
  echo "$a" >> "$out/old.times"; echo "$b" >> "$out/new.times"
done
median() { sort -n "$1" | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
echo "median: old $(median "$out/old.times") s, new $(median "$out/new.times") s"
if cmp -s "$out/old.alerts.ndjson" "$out/new.alerts.ndjson"; then
  echo "alerts: identical"
else
  echo "alerts: DIFFERENT"; exit 1
fi
