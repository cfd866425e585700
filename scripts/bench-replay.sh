#!/usr/bin/env bash
# End-to-end replay benchmark: simulate N transactions (about 4.5 events each),
# then replay them with the release binary and print the summary.
#   scripts/bench-replay.sh [TRANSACTIONS] [CONFIG]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-250000}"
config="${2:-pipelines/replay.toml}"
dir="${BENCH_DIR:-target/bench-replay}"
cargo build --release --quiet
if [ ! -f "$dir/$n/events.ndjson" ]; then
  ./target/release/pantau simulate --seed 1 --transactions "$n" --days 180 --out "$dir/$n"
fi
echo "input: $(wc -l < "$dir/$n/events.ndjson") lines, $(du -h "$dir/$n/events.ndjson" | cut -f1)"
/usr/bin/time -v ./target/release/pantau run --config "$config" --quiet \
  --input "$dir/$n/events.ndjson" --alerts "$dir/$n/alerts.ndjson" --rejected "$dir/$n/rejected.ndjson" \
  2> >(grep -E "records read|rejected|alerts|throughput|elapsed|Maximum resident|Elapsed \(wall" >&2)
