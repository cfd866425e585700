#!/usr/bin/env bash
# The long form of tests/reliability.rs: N runs of a paced simulator pipeline,
# each killed with SIGKILL at a random point and resumed from its checkpoint,
# then one run to the end; the output must equal an uninterrupted run's.
#   scripts/chaos.sh [ITERATIONS=50] [TRANSACTIONS=20000]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-50}"
tx="${2:-20000}"
cargo build --release --quiet
bin=target/release/pantau
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
config() {
  sed -e "s|transactions = 20000|transactions = $tx|" -e "s|rate = 2000|rate = 30000|" \
      -e "s|reference/|$PWD/pipelines/reference/|" -e "s|out/demo/|$1/|" \
      -e 's|listen = "127.0.0.1:9464"||' pipelines/demo.toml > "$1/pipeline.toml"
}
mkdir -p "$work/ref" "$work/chaos"
config "$work/ref"; config "$work/chaos"
"$bin" run --quiet --config "$work/ref/pipeline.toml" 2>/dev/null
for i in $(seq 1 "$n"); do
  "$bin" run --quiet --config "$work/chaos/pipeline.toml" \
    --checkpoint-dir "$work/chaos/ckpt" --checkpoint-interval 100ms 2>/dev/null &
  pid=$!
  sleep "$(awk -v s="$RANDOM" 'BEGIN { srand(s); printf "%.2f", 0.2 + rand() * 3 }')"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  printf '.'
done
echo
"$bin" run --quiet --config "$work/chaos/pipeline.toml" --checkpoint-dir "$work/chaos/ckpt" 2>/dev/null
cmp "$work/ref/alerts.ndjson" "$work/chaos/alerts.ndjson"
# Rejected records carry the wall-clock time of their rejection.
strip() { sed -e 's/"rejected_at":"[^"]*",//' "$1"; }
cmp <(strip "$work/ref/rejected.ndjson") <(strip "$work/chaos/rejected.ndjson")
echo "after $n kills: output identical to the uninterrupted run ($(wc -l < "$work/ref/alerts.ndjson") alerts)"
