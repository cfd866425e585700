#!/usr/bin/env bash
# History benchmark: simulate N transactions (about 4.6 events each), replay them
# with the archive on, then time typical queries and the scorecard over it.
#   scripts/bench-history.sh [TRANSACTIONS=2200000] [DAYS=365]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-2200000}"
days="${2:-365}"
dir="${BENCH_DIR:-target/bench-history}/$n"
bin=target/release/pantau
cargo build --release --quiet
if [ ! -f "$dir/events.ndjson" ]; then
  "$bin" simulate --seed 7 --transactions "$n" --days "$days" --out "$dir" >/dev/null
fi
echo "input: $(wc -l < "$dir/events.ndjson") lines, $(du -h "$dir/events.ndjson" | cut -f1)"
timed() { /usr/bin/time -f "  %e s wall, %M KB peak RSS" "$@"; }
rm -rf "$dir/archive"
echo "replay with --archive:"
timed "$bin" run --config pipelines/replay.toml --quiet --input "$dir/events.ndjson" \
  --alerts "$dir/alerts.ndjson" --rejected "$dir/rejected.ndjson" --archive "$dir/archive" \
  2> >(grep -E "archived|throughput|wall" >&2)
echo "archive: $(du -sh "$dir/archive" | cut -f1), $(find "$dir/archive" -name '*.parquet' | wc -l) files"
q() {
  echo "query: $1"
  timed "$bin" query --archive "$dir/archive" "$1" | tail -4
}
q "SELECT count(*) AS events FROM events"
q "SELECT event_type, count(*) AS n, sum(excess_fee_idr) AS rupiah FROM events GROUP BY event_type ORDER BY n DESC"
q "SELECT office_id, count(*) AS alerts FROM alerts WHERE severity IN ('critical','high') GROUP BY office_id ORDER BY alerts DESC LIMIT 3"
q "SELECT count(*) AS one_month FROM events WHERE date BETWEEN '2026-03-01' AND '2026-03-31'"
q "SELECT service_code, percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_working_days) AS p90 FROM events WHERE event_type = 'completed' GROUP BY service_code ORDER BY p90 DESC LIMIT 3"
first=$(ls "$dir/archive/events" | head -1 | cut -d= -f2)
last=$(ls "$dir/archive/events" | tail -1 | cut -d= -f2)
for fmt in html csv; do
  echo "scorecard $first .. $last ($fmt):"
  timed "$bin" scorecard --archive "$dir/archive" --from "$first" --to "$last" --format "$fmt" --out "$dir/scorecard.$fmt"
done
echo "scorecard one quarter (html):"
timed "$bin" scorecard --archive "$dir/archive" --from 2026-04-01 --to 2026-06-30 --out "$dir/scorecard-q2.html"
