#!/usr/bin/env bash
# Event-to-alert latency on a live stream through Kafka: a development broker
# on a free loopback port, one pipeline instance (pipelines/kafka.toml, early
# alerts on), and the simulator publishing events stamped with the wall clock
# at a steady rate. Prints the latency by typology (examples/kafka_latency.rs)
# and the pipeline's own pantau_alert_latency_seconds.
#   scripts/bench-latency.sh [TRANSACTIONS] [RATE]
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-20000}"
rate="${2:-5000}"
dir="${BENCH_DIR:-target/bench-latency}"
mkdir -p "$dir"
cargo build --release --quiet --bins --example kafka_latency
bin=./target/release/pantau
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
kafka_port=$(free_port)
metrics_port=$(free_port)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

"$bin" dev broker --port "$kafka_port" > "$dir/broker.log" 2>&1 &
pids+=($!)
sleep 2
sed -e "s/127.0.0.1:9092/127.0.0.1:$kafka_port/" \
    -e "s/127.0.0.1:9464/127.0.0.1:$metrics_port/" \
    -e "s#\"reference/#\"$PWD/pipelines/reference/#" \
    pipelines/kafka.toml > "$dir/kafka.toml"
"$bin" run --config "$dir/kafka.toml" --quiet --stop-when-idle 20s > "$dir/run.log" 2>&1 &
run_pid=$!
pids+=("$run_pid")
until curl -sf "127.0.0.1:$metrics_port/readyz" > /dev/null; do sleep 0.5; done
"$bin" simulate --config "$dir/kafka.toml" --to-kafka --live --rate "$rate" \
  --transactions "$n" --seed 11
sleep 3
echo "pipeline's histogram (arrival at the keyed store to hand-off), early verdict checks:"
curl -s "127.0.0.1:$metrics_port/metrics" |
  grep -E '^pantau_(alert_latency_seconds_(sum|count)|early_)' || true
wait "$run_pid" || true
echo "publication of the latest evidence event to publication of the alert (broker timestamps):"
./target/release/examples/kafka_latency "127.0.0.1:$kafka_port"
