//! The `pantau` command line.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};

use pantau::config::Config;
use pantau::decode::Decoder;
use pantau::pipeline::{self, Overrides};
use pantau::rules::custom::{CustomRules, facts};
use pantau::simulate::{self, SimulatorConfig};

// mimalloc: cheap cross-thread frees (events are decoded on one thread, dropped on another).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "pantau",
    version,
    about = "Integrity and anomaly detection for public-service transactions"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a pipeline to the end of its input.
    Run {
        #[arg(long)]
        config: PathBuf,
        /// NDJSON events to replay instead of the configured source (`-` = stdin).
        #[arg(long)]
        input: Option<PathBuf>,
        /// Write alerts to this NDJSON file instead of the configured sinks.
        #[arg(long)]
        alerts: Option<PathBuf>,
        /// Write rejected records to this NDJSON file.
        #[arg(long)]
        rejected: Option<PathBuf>,
        /// Records per batch (decode and custom-rule micro-batches).
        #[arg(long)]
        batch_size: Option<usize>,
        /// Serve /metrics here instead of the configured address.
        #[arg(long)]
        metrics_listen: Option<SocketAddr>,
        /// Also write the run summary as JSON to this file.
        #[arg(long)]
        summary_json: Option<PathBuf>,
        /// No progress lines on stderr.
        #[arg(long)]
        quiet: bool,
        /// Kafka source: end like a bounded input after this long without a
        /// message (e.g. `30s`): the watermark becomes the largest event time.
        #[arg(long, value_parser = humantime::parse_duration)]
        stop_when_idle: Option<std::time::Duration>,
        /// Archive processed events and alerts as Parquet under this folder
        /// (docs/history.md); replaces `[archive] dir`.
        #[arg(long)]
        archive: Option<PathBuf>,
        /// Checkpoint the state and input position here, and resume from the
        /// newest checkpoint when one exists (file and simulator inputs).
        #[arg(long)]
        checkpoint_dir: Option<PathBuf>,
        /// Time between checkpoints (default 30s, or `[checkpoint] interval`).
        #[arg(long, value_parser = humantime::parse_duration)]
        checkpoint_interval: Option<std::time::Duration>,
    },
    /// SQL over a Parquet archive: tables `events` and `alerts`, partitioned by `date`.
    Query {
        #[arg(long)]
        archive: PathBuf,
        /// One SQL statement (DataFusion dialect).
        sql: String,
        #[arg(long, value_enum, default_value = "table")]
        format: pantau::history::Format,
    },
    /// Replay history through the engine: alert counts, precision and recall
    /// against confirmed cases, and the difference another configuration makes.
    Backtest {
        #[arg(long)]
        config: PathBuf,
        /// An NDJSON file of events, or an archive folder.
        #[arg(long)]
        input: PathBuf,
        /// Confirmed cases: NDJSON `{"typology","key"}` lines, or CSV `typology,key`.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// A second configuration: the alerts it gains and loses.
        #[arg(long)]
        compare: Option<PathBuf>,
        /// The report as JSON (every gained and lost alert listed).
        #[arg(long)]
        json: bool,
    },
    /// The periodic office assessment over an archive.
    Scorecard {
        #[arg(long)]
        archive: PathBuf,
        /// First day of the period (inclusive), YYYY-MM-DD.
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Last day of the period (inclusive), YYYY-MM-DD.
        #[arg(long)]
        to: chrono::NaiveDate,
        #[arg(long, value_enum, default_value = "html")]
        format: pantau::history::scorecard::ScorecardFormat,
        /// Output file (default: standard output).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Validate NDJSON events and produce the valid ones to the events topic,
    /// keyed by transaction_id.
    Publish {
        #[arg(long)]
        config: PathBuf,
        /// NDJSON file, or `-` for standard input.
        file: PathBuf,
        /// Records per second (default: as fast as possible).
        #[arg(long)]
        rate: Option<f64>,
    },
    /// Kafka topics.
    Topics {
        #[command(subcommand)]
        command: TopicsCommand,
    },
    /// Development tools.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
    /// Check every line of an NDJSON file against the event contract.
    Validate {
        file: PathBuf,
        #[arg(long, default_value_t = pantau::decode::DEFAULT_MAX_EVENT_BYTES)]
        max_event_bytes: usize,
    },
    /// Generate a labelled, seeded workload.
    Simulate {
        #[arg(long, default_value_t = 1)]
        seed: u64,
        #[arg(long, default_value_t = 10_000)]
        transactions: usize,
        /// Directory for events.ndjson, expected-alerts.ndjson, invalid-lines.ndjson.
        #[arg(long, required_unless_present = "to_kafka")]
        out: Option<PathBuf>,
        /// Publish the events to the configuration's [kafka] events topic.
        #[arg(long)]
        to_kafka: bool,
        /// With --to-kafka: records per second (default: as fast as possible).
        #[arg(long)]
        rate: Option<f64>,
        /// With --to-kafka: stamp each event with the wall clock as it is
        /// published (a live stream, for measuring event-to-alert latency).
        #[arg(long, requires = "to_kafka")]
        live: bool,
        /// Pipeline whose reference data (catalogue, holidays, offices) to use.
        #[arg(long, default_value = "pipelines/replay.toml")]
        config: PathBuf,
        /// First submission date.
        #[arg(long)]
        start: Option<chrono::NaiveDate>,
        /// Days over which submissions are spread.
        #[arg(long)]
        days: Option<u32>,
    },
    /// Custom rules.
    Rules {
        #[command(subcommand)]
        command: RulesCommand,
    },
}

#[derive(Subcommand)]
enum TopicsCommand {
    /// Create the events, alerts and dead-letter topics and the group's internal
    /// repartition and changelog topics (existing ones are kept).
    Create {
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum DevCommand {
    /// A DEVELOPMENT Kafka broker: librdkafka's in-process mock cluster on
    /// loopback. Real wire protocol, no persistence, not for production.
    Broker {
        /// Also accept bootstrap connections on this loopback port.
        #[arg(long)]
        port: Option<u16>,
        /// Create the topics of this pipeline's [kafka] section (default: the
        /// default topic names with 4 partitions).
        #[arg(long)]
        config: Option<PathBuf>,
        /// Partitions of each topic (overrides the configuration).
        #[arg(long)]
        partitions: Option<i32>,
        /// Also create the internal topics (repartition, changelog) of this
        /// consumer group with those partitions; repeatable. The configuration's
        /// group always gets them. Otherwise they are created on first use with
        /// the mock cluster's default of 4 partitions.
        #[arg(long = "group")]
        groups: Vec<String>,
    },
}

#[derive(Subcommand)]
enum RulesCommand {
    /// Load the configuration and reference data and compile every custom rule.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
}

/// mimalloc's `mi_option_purge_delay` (index 15 of `mi_option_e` in its v3
/// `mimalloc.h`; libmimalloc-sys names no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc returns freed memory to the OS 10 ms after it falls idle. Alerts
/// and batches are freed on another thread than the one that made them, so
/// that memory idles briefly all the time, and handing it back only to fault
/// it in again (zeroed, often as a 2 MiB page) cost the replay a tenth of its
/// system time. A second keeps the churn in the process and still returns a
/// quiet pipeline's memory. `MIMALLOC_PURGE_DELAY` still decides when set.
fn tune_allocator() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: called before any other thread exists (the function is
        // documented as not thread-safe).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 1000) };
    }
}

fn main() -> ExitCode {
    tune_allocator();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PANTAU_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    match dispatch(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// A file of NDJSON lines, or standard input for `-`, with its display name.
fn open_lines(file: &std::path::Path) -> Result<(String, Box<dyn std::io::BufRead>)> {
    let name = file.display().to_string();
    let reader: Box<dyn std::io::BufRead> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::io::BufReader::new(
            std::fs::File::open(file).with_context(|| format!("opening {name}"))?,
        ))
    };
    Ok((name, reader))
}

fn kafka_section<'a>(
    cfg: &'a Config,
    path: &std::path::Path,
) -> Result<&'a pantau::kafka::KafkaConfig> {
    cfg.kafka
        .as_ref()
        .with_context(|| format!("{}: no [kafka] section", path.display()))
}

fn dispatch(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Run {
            config,
            input,
            alerts,
            rejected,
            batch_size,
            metrics_listen,
            summary_json,
            quiet,
            stop_when_idle,
            archive,
            checkpoint_dir,
            checkpoint_interval,
        } => {
            let cfg = Config::load(&config)?;
            if batch_size == Some(0) {
                bail!("--batch-size must be at least 1");
            }
            let ov = Overrides {
                input,
                alerts,
                rejected,
                metrics_listen,
                batch_size,
                progress: !quiet,
                stop_when_idle,
                archive,
                checkpoint_dir,
                checkpoint_interval,
            };
            let summary = pipeline::run(&cfg, &ov)?;
            eprint!("{}", summary.render());
            if let Some(path) = summary_json {
                std::fs::write(&path, serde_json::to_vec_pretty(&summary)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Query {
            archive,
            sql,
            format,
        } => {
            print!("{}", pantau::history::query(&archive, &sql, format)?);
            Ok(ExitCode::SUCCESS)
        }
        Command::Backtest {
            config,
            input,
            labels,
            compare,
            json,
        } => {
            let report =
                pantau::history::backtest::backtest(&pantau::history::backtest::BacktestOptions {
                    config,
                    input,
                    labels,
                    compare,
                })?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{}", report.render());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Scorecard {
            archive,
            from,
            to,
            format,
            out,
        } => {
            let runtime = tokio::runtime::Runtime::new()?;
            let card = runtime.block_on(pantau::history::scorecard::compute(&archive, from, to))?;
            let text = card.render(format)?;
            match out {
                Some(path) => std::fs::write(&path, text)
                    .with_context(|| format!("writing {}", path.display()))?,
                None => print!("{text}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate {
            file,
            max_event_bytes,
        } => {
            let decoder = Decoder::new(max_event_bytes);
            let (name, reader) = open_lines(&file)?;
            let stdout = std::io::stdout();
            let mut out = stdout.lock();
            let report = pantau::validate::validate(reader, &name, &decoder, &mut out)?;
            writeln!(
                out,
                "{} lines: {} valid, {} invalid",
                report.lines,
                report.valid,
                report.invalid()
            )?;
            for (reason, n) in &report.invalid_by_reason {
                writeln!(out, "  {reason:<28} {n}")?;
            }
            Ok(if report.invalid() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Simulate {
            seed,
            transactions,
            out,
            to_kafka,
            rate,
            live,
            config,
            start,
            days,
        } => {
            let cfg = Config::load(&config)?;
            let reference = cfg.load_reference()?;
            let mut sim = SimulatorConfig {
                seed,
                transactions,
                ..SimulatorConfig::default()
            };
            if let Some(s) = start {
                sim.start = s;
            }
            if let Some(d) = days {
                sim.days = d;
            }
            if live {
                // Published as they happen: in event-time order, each
                // transaction's events in their lifecycle's order.
                sim.max_disorder_s = 0;
            }
            let reference = std::sync::Arc::new(reference);
            let stream =
                || simulate::Stream::new(&sim, reference.clone()).map_err(anyhow::Error::msg);
            if let Some(out) = &out {
                let (totals, labels) = simulate::write_stream(stream()?, out)
                    .with_context(|| format!("writing to {}", out.display()))?;
                eprintln!(
                    "{} transactions, {} lines ({} duplicates, {} invalid), {} expected alerts → {}",
                    totals.transactions,
                    totals.lines,
                    totals.duplicates,
                    totals.invalid,
                    labels,
                    out.display()
                );
            }
            if to_kafka {
                let kafka = kafka_section(&cfg, &config)?;
                let decoder = Decoder::new(cfg.pipeline.max_event_bytes);
                // Publish what was just written, or generate the stream (never the
                // whole workload in memory).
                let events: Box<dyn std::io::BufRead> = match &out {
                    Some(out) => open_lines(&out.join("events.ndjson"))?.1,
                    None => Box::new(simulate::StreamReader::new(stream()?)),
                };
                let r = pantau::kafka::publish::publish(
                    events,
                    "<simulator>",
                    kafka,
                    &decoder,
                    rate,
                    pantau::kafka::publish::Invalid::Produce,
                    if live {
                        pantau::kafka::publish::Times::Live
                    } else {
                        pantau::kafka::publish::Times::AsIs
                    },
                    &mut std::io::sink(),
                )?;
                eprintln!(
                    "published {} records to {} in {:.1} s ({:.0}/s)",
                    r.produced,
                    kafka.events_topic,
                    r.elapsed.as_secs_f64(),
                    r.per_second()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Publish { config, file, rate } => {
            let cfg = Config::load(&config)?;
            let kafka = kafka_section(&cfg, &config)?;
            let decoder = Decoder::new(cfg.pipeline.max_event_bytes);
            let (name, reader) = open_lines(&file)?;
            let r = pantau::kafka::publish::publish(
                reader,
                &name,
                kafka,
                &decoder,
                rate,
                pantau::kafka::publish::Invalid::Skip,
                pantau::kafka::publish::Times::AsIs,
                &mut std::io::stderr(),
            )?;
            eprintln!(
                "{} lines: {} valid and produced to {}, {} invalid; {:.1} s ({:.0} records/s)",
                r.report.lines,
                r.produced,
                kafka.events_topic,
                r.report.invalid(),
                r.elapsed.as_secs_f64(),
                r.per_second()
            );
            for (reason, n) in &r.report.invalid_by_reason {
                eprintln!("  {reason:<28} {n}");
            }
            Ok(if r.report.invalid() == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            })
        }
        Command::Topics {
            command: TopicsCommand::Create { config },
        } => {
            let cfg = Config::load(&config)?;
            let kafka = kafka_section(&cfg, &config)?;
            for (topic, outcome) in pantau::kafka::admin::create_topics(kafka)? {
                let what = match outcome {
                    pantau::kafka::admin::TopicOutcome::Created => "created",
                    pantau::kafka::admin::TopicOutcome::AlreadyExists => "exists",
                };
                println!("{topic}: {what}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Dev {
            command:
                DevCommand::Broker {
                    port,
                    config,
                    partitions,
                    groups,
                },
        } => {
            let mut topics = match &config {
                Some(path) => kafka_section(&Config::load(path)?, path)?.clone(),
                None => pantau::kafka::KafkaConfig::default(),
            };
            if let Some(p) = partitions {
                topics.partitions = p;
            }
            pantau::kafka::dev::serve(port, &topics, &groups)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Rules {
            command: RulesCommand::Check { config },
        } => {
            let cfg = Config::load(&config)?;
            let reference = cfg.load_reference()?;
            let rules = CustomRules::compile(&cfg.rules)?;
            println!(
                "{}: reference data loaded ({} services, {} offices); {} custom rule(s) compiled",
                config.display(),
                reference.services.len(),
                reference.offices.len(),
                rules.as_ref().map_or(0, |r| r.rules().len())
            );
            for r in rules.iter().flat_map(|r| r.rules()) {
                println!("  {} [{}]: {}", r.id, r.severity.as_str(), r.when);
            }
            println!(
                "facts columns: {}",
                facts::COLUMNS
                    .iter()
                    .map(|c| c.0)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}
