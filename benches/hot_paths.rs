//! Hot paths: decoding one event, and the engine's per-event work (state, rules,
//! watermark). The end-to-end replay is measured by scripts/bench-replay.sh.

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pantau::config::Config;
use pantau::decode::Decoder;
use pantau::engine::{Engine, EngineSettings};
use pantau::metrics::Metrics;
use pantau::simulate::{SimulatorConfig, generate};

fn workload() -> (Config, Vec<u8>) {
    let config = Config::load(std::path::Path::new("pipelines/replay.toml")).expect("config");
    let reference = config.load_reference().expect("reference");
    let sim = SimulatorConfig {
        transactions: 5_000,
        invalid_rate: 0.0,
        duplicate_rate: 0.0,
        ..SimulatorConfig::default()
    };
    let w = generate(&sim, &reference).expect("workload");
    (config, w.events)
}

fn bench(c: &mut Criterion) {
    let (config, events) = workload();
    let lines: Vec<&[u8]> = events
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let decoder = Decoder::default();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(lines.len() as u64));
    g.bench_function("valid_events", |b| {
        b.iter(|| lines.iter().filter(|l| decoder.decode(l).is_ok()).count())
    });
    g.finish();

    let decoded: Vec<_> = lines
        .iter()
        .map(|l| decoder.decode(l).expect("valid"))
        .collect();
    let reference = Arc::new(config.load_reference().expect("reference"));
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(decoded.len() as u64));
    g.bench_function("ingest_all_typologies", |b| {
        b.iter_batched(
            || decoded.clone(),
            |events| {
                let mut e = Engine::new(
                    EngineSettings::from_config(&config),
                    reference.clone(),
                    Arc::new(Metrics::new()),
                    None,
                );
                for ev in events {
                    e.ingest(ev);
                }
                e.end_of_input();
                e.take_alerts().len()
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
