//! The embedded path of `pantau run`: a file, standard input or the simulator,
//! decoded on the rayon pool, through the engine, to the sinks on a thread of
//! their own; with checkpoints to resume from and a graceful stop on a signal.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::checkpoint::{self, CheckpointError, Checkpoints, Meta};
use super::stage::{Emitted, Stage};
use super::{
    DecodedBatch, Item, PipelineError, Prepared, Summary, decode_batch, input_name, open_input,
    signals,
};
use crate::alerts::Alert;
use crate::config::Config;
use crate::decode::Decoder;
use crate::engine::{Engine, EngineSettings, PendingAlerts};
use crate::sinks::{AlertSink, RejectedSink};

/// What the sink thread is given, in order: a checkpoint is written only after
/// every alert before it is written and flushed (and delivered, for HTTP sinks).
enum ToSink {
    Alerts(Vec<Alert>),
    /// Made into alert records on the sink thread.
    Pending(PendingAlerts),
    Checkpoint(Box<Meta>, Vec<u8>),
}

/// The state after the last processed batch, for the sink thread to complete
/// with the alert files' lengths and write.
fn checkpoint_of(
    config: &Config,
    input: &str,
    position: (u64, u64),
    summary: &Summary,
    rejected: &mut RejectedSink,
    engine: &Engine,
    completed: bool,
) -> Result<ToSink, PipelineError> {
    rejected.flush()?;
    let outputs = rejected.file_length().transpose()?.into_iter().collect();
    let meta = Meta {
        pipeline: config.pipeline.name.clone(),
        input: input.to_owned(),
        offset: position.0,
        next_line: position.1,
        summary: summary.clone(),
        outputs,
        completed,
    };
    Ok(ToSink::Checkpoint(
        Box::new(meta),
        checkpoint::encode_engine(engine)?,
    ))
}

/// The engine's alerts since the last call, through the stage core, as the
/// sink thread is to get them: made into records there, or already made when
/// the archive needed them. `None` when there are none.
fn for_sink(stage: &mut Stage, engine: &mut Engine) -> Result<Option<ToSink>, PipelineError> {
    let pending = engine.take_pending();
    Ok(match stage.emit(pending, || engine.take_archived())? {
        Emitted::None => None,
        Emitted::Built(alerts) => Some(ToSink::Alerts(alerts)),
        Emitted::Pending(pending) => Some(ToSink::Pending(pending)),
    })
}

pub(super) fn run(run: Prepared<'_>) -> Result<Summary, PipelineError> {
    let Prepared {
        config,
        overrides: ov,
        metrics,
        ready,
        reference,
        custom,
        alert_cfg,
        rejected_cfg,
        archive,
        started,
    } = run;
    let name = input_name(config, ov)?;
    let mut settings = EngineSettings::from_config(config);
    // A bounded input is replayed in watermark order, so its alerts come out in
    // one order whatever the batch size; only a live stream fires early.
    settings.early &= name == "<stdin>";
    let mut engine = Engine::new(settings, reference, metrics.clone(), custom);
    if archive.is_some() {
        engine.enable_archive();
    }
    let stop = signals::stop_flag(config.pipeline.shutdown_timeout);
    let ckpt_dir = ov
        .checkpoint_dir
        .clone()
        .or_else(|| config.checkpoint.as_ref().map(|c| c.dir.clone()));
    let ckpt_every = ov
        .checkpoint_interval
        .or(config.checkpoint.as_ref().map(|c| c.interval))
        .unwrap_or(Duration::from_secs(30));
    let mut checkpoints = None;
    let mut resumed: Option<Meta> = None;
    if let Some(dir) = &ckpt_dir {
        if name == "<stdin>" {
            return Err(CheckpointError::Stdin.into());
        }
        let (c, restored) = Checkpoints::open(dir)?;
        match restored {
            Some(r) if r.meta.completed => {
                tracing::info!("the last run over {name} completed; starting over");
            }
            Some(r) => {
                if r.meta.input != name || r.meta.pipeline != config.pipeline.name {
                    return Err(CheckpointError::OtherInput {
                        path: dir.display().to_string(),
                        pipeline: r.meta.pipeline,
                        found: r.meta.input,
                        expected: name,
                    }
                    .into());
                }
                checkpoint::truncate_outputs(&r.meta.outputs)?;
                engine.restore(r.engine);
                tracing::info!(
                    "resuming {name} at line {} from the checkpoint in {}",
                    r.meta.next_line,
                    dir.display()
                );
                resumed = Some(r.meta);
            }
            None => {}
        }
        checkpoints = Some(c);
    }
    let append = resumed.is_some();
    let mut alert_sink = AlertSink::open(&alert_cfg, metrics.clone(), append)?;
    // Alerts are serialised and written on a thread of their own, off the engine's path.
    let (to_sink, sink_rx) = crossbeam_channel::bounded::<ToSink>(16);
    let sink_metrics = metrics.clone();
    let writer = std::thread::Builder::new()
        .name("pantau-sink".into())
        .spawn(move || -> Result<(), PipelineError> {
            let sink_time = sink_metrics.processing_seconds.with_label_values(&["sink"]);
            for msg in sink_rx {
                let t = Instant::now();
                let alerts = match msg {
                    ToSink::Alerts(alerts) => alerts,
                    ToSink::Pending(pending) => pending.build(),
                    ToSink::Checkpoint(mut meta, engine) => {
                        alert_sink.flush()?;
                        meta.outputs.extend(alert_sink.file_lengths()?);
                        if let Some(c) = &mut checkpoints {
                            c.write(&meta, &engine)?;
                        }
                        continue;
                    }
                };
                alert_sink.write(&alerts)?;
                sink_time.observe(t.elapsed().as_secs_f64());
            }
            Ok(alert_sink.close()?)
        })
        .map_err(|e| PipelineError::Thread("pantau-sink", e))?;
    let mut rejected_sink = RejectedSink::open(rejected_cfg.as_ref(), append)?;

    let mut position = resumed
        .as_ref()
        .map(|m| (m.offset, m.next_line))
        .unwrap_or((0, 1));
    let (mut input, rate) = open_input(config, ov, resumed.as_ref().map(|_| position))?;
    ready.store(true, Ordering::Relaxed);
    let batch_size = ov.batch_size.unwrap_or(config.pipeline.batch_size);
    let decoder = Decoder::new(config.pipeline.max_event_bytes);
    let (tx, rx) = crossbeam_channel::bounded::<Result<DecodedBatch, PipelineError>>(4);
    let decode_metrics = metrics.clone();
    let reader = std::thread::Builder::new()
        .name("pantau-decode".into())
        .spawn(move || {
            let begun = Instant::now();
            let mut lines = 0u64;
            loop {
                let batch = match input.next_batch(batch_size) {
                    Ok(b) => b,
                    Err(source) => {
                        let path = input.name().to_owned();
                        let _ = tx.send(Err(PipelineError::Read { path, source }));
                        return;
                    }
                };
                if batch.is_empty() {
                    return;
                }
                lines += batch.len() as u64;
                let t = Instant::now();
                let decoded = decode_batch(&decoder, &batch, &decode_metrics);
                decode_metrics
                    .processing_seconds
                    .with_label_values(&["decode"])
                    .observe(t.elapsed().as_secs_f64());
                if tx.send(Ok(decoded)).is_err() {
                    return;
                }
                if let Some(rate) = rate {
                    let due = Duration::from_secs_f64(lines as f64 / rate);
                    if let Some(wait) = due.checked_sub(begun.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
            }
        })
        .map_err(|e| PipelineError::Thread("pantau-decode", e))?;

    let summary = match &resumed {
        Some(m) => Summary {
            resumed_at_line: Some(m.next_line),
            interrupted: false,
            archive: None,
            ..m.summary.clone()
        },
        None => Summary::default(),
    };
    let mut stage = Stage::new(metrics.clone(), summary, archive);
    let evaluate = metrics.processing_seconds.with_label_values(&["evaluate"]);
    let mut last_progress = Instant::now();
    let mut last_checkpoint = Instant::now();
    let progress_every = Duration::from_secs(config.pipeline.progress_interval_s.max(1));
    let mut sink_gone = false;
    while let Ok(batch) = rx.recv() {
        if stop.load(Ordering::Relaxed) {
            // This batch is not processed: the checkpoint ends before it.
            stage.summary.interrupted = true;
            break;
        }
        let batch = batch?;
        let t = Instant::now();
        engine.arrival(t);
        for item in batch.items {
            stage.read();
            match item {
                Item::Event(e) => {
                    let et = e.event_type();
                    let admission = engine.ingest(e);
                    stage.admitted(et, admission);
                }
                Item::Rejected(record, rejection) => {
                    stage.rejected(&rejection);
                    rejected_sink.write(&record)?;
                }
            }
        }
        position = (batch.end_offset, batch.next_line);
        let msg = for_sink(&mut stage, &mut engine)?;
        evaluate.observe(t.elapsed().as_secs_f64());
        rejected_sink.flush()?;
        if let Some(msg) = msg
            && to_sink.send(msg).is_err()
        {
            // The writer stopped on an error; it is reported below.
            sink_gone = true;
            break;
        }
        if ckpt_dir.is_some() && last_checkpoint.elapsed() >= ckpt_every {
            last_checkpoint = Instant::now();
            let msg = checkpoint_of(
                config,
                &name,
                position,
                &stage.summary,
                &mut rejected_sink,
                &engine,
                false,
            )?;
            if to_sink.send(msg).is_err() {
                sink_gone = true;
                break;
            }
        }
        stage.watermark(engine.watermark());
        if ov.progress
            && config.pipeline.progress_interval_s > 0
            && last_progress.elapsed() >= progress_every
        {
            last_progress = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "progress: {} records ({:.0}/s), {} alerts, {} transactions in state, watermark {}",
                stage.summary.records_read,
                stage.summary.records_read as f64 / secs,
                stage.summary.alerts,
                engine.transactions(),
                engine
                    .watermark()
                    .map(|w| w.to_rfc3339())
                    .unwrap_or_else(|| "-".into())
            );
            tracing::debug!("state: {}", engine.state_sizes());
        }
    }
    drop(rx);
    let _ = reader.join();
    if !stage.summary.interrupted && !sink_gone {
        engine.end_of_input();
        if let Some(msg) = for_sink(&mut stage, &mut engine)? {
            let _ = to_sink.send(msg);
        }
    }
    stage.watermark(engine.watermark());
    let summary = stage.close()?;
    if ckpt_dir.is_some() && !sink_gone {
        let msg = checkpoint_of(
            config,
            &name,
            position,
            &summary,
            &mut rejected_sink,
            &engine,
            !summary.interrupted,
        )?;
        let _ = to_sink.send(msg);
    }
    drop(to_sink);
    match writer.join() {
        Ok(result) => result?,
        Err(_) => {
            return Err(PipelineError::Thread(
                "pantau-sink",
                std::io::Error::other("panicked"),
            ));
        }
    }
    rejected_sink.flush()?;
    Ok(summary.finish(&engine, started))
}
