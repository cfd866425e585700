#!/usr/bin/env bash
# The long soak: TRANSACTIONS simulated transactions (default 10 M over 730 days
# from 2025-01-01: about 46 M lines, 19 GB on disk), replayed with
# pipelines/replay.toml (every spec default, so the 365-day duplicate_receipt
# window) while the resident memory is sampled every 5 s next to the engine's
# own state sizes; then the alerts are scored against the simulator's labels.
#   scripts/soak.sh [TRANSACTIONS=10000000] [DAYS=730] [DIR=target/soak]
# Writes DIR/TRANSACTIONS/{events,expected-alerts,alerts,...}.ndjson, run.log and
# memory.tsv (seconds, RSS, watermark, transactions in state, open ones).
set -euo pipefail
cd "$(dirname "$0")/.."
tx="${1:-10000000}"
days="${2:-730}"
dir="${3:-target/soak}/$tx"
cargo build --release --quiet --bin pantau --example score_alerts
bin=target/release/pantau
mkdir -p "$dir"
if [ ! -s "$dir/expected-alerts.ndjson" ]; then
  time "$bin" simulate --seed 5 --transactions "$tx" --start 2025-01-01 --days "$days" --out "$dir"
fi
PANTAU_LOG=pantau=debug "$bin" run --config pipelines/replay.toml \
  --input "$dir/events.ndjson" --alerts "$dir/alerts.ndjson" --rejected "$dir/rejected.ndjson" \
  2> "$dir/run.log" &
pid=$!
started=$(date +%s)
printf 'seconds\trss_mb\twatermark\ttxns_in_state\topen\n' > "$dir/memory.tsv"
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/^VmRSS/ { print int($2 / 1024) }' "/proc/$pid/status" 2>/dev/null || true)
  # The latest progress and state lines of the run's log.
  mark=$(grep -o 'watermark [^ ]*' "$dir/run.log" | tail -n 1 | cut -d' ' -f2 || true)
  state=$(grep -o 'state: txns [0-9]* open [0-9]*' "$dir/run.log" | tail -n 1 || true)
  if [ -n "$rss" ]; then
    printf '%s\t%s\t%s\t%s\t%s\n' "$(( $(date +%s) - started ))" "$rss" "${mark:--}" \
      "$(echo "$state" | awk '{ print $3 }')" "$(echo "$state" | awk '{ print $5 }')" >> "$dir/memory.tsv"
  fi
  sleep 5
done
wait "$pid"
grep -v '^progress\|DEBUG' "$dir/run.log" || true
sort -t$'\t' -k2,2n "$dir/memory.tsv" | tail -n 1 | awk -F'\t' '{ print "peak RSS " $2 " MB at " $1 " s (watermark " $3 ")" }'
target/release/examples/score_alerts "$dir/alerts.ndjson" "$dir/expected-alerts.ndjson"
