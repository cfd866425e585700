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
        #[arg(long)]
        out: PathBuf,
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
enum RulesCommand {
    /// Load the configuration and reference data and compile every custom rule.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
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
            };
            let summary = pipeline::run(&cfg, &ov)?;
            eprint!("{}", summary.render());
            if let Some(path) = summary_json {
                std::fs::write(&path, serde_json::to_vec_pretty(&summary)?)
                    .with_context(|| format!("writing {}", path.display()))?;
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Validate {
            file,
            max_event_bytes,
        } => {
            let decoder = Decoder::new(max_event_bytes);
            let name = file.display().to_string();
            let reader: Box<dyn std::io::BufRead> = if name == "-" {
                Box::new(std::io::stdin().lock())
            } else {
                Box::new(std::io::BufReader::new(
                    std::fs::File::open(&file).with_context(|| format!("opening {name}"))?,
                ))
            };
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
            let workload = simulate::generate(&sim, &reference).map_err(anyhow::Error::msg)?;
            simulate::write(&workload, &out)
                .with_context(|| format!("writing to {}", out.display()))?;
            eprintln!(
                "{} transactions, {} lines ({} duplicates, {} invalid), {} expected alerts → {}",
                workload.transactions,
                workload.lines,
                workload.duplicates,
                workload.invalid.len(),
                workload.expected.len(),
                out.display()
            );
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
