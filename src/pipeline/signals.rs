//! SIGINT/SIGTERM: the first asks the pipeline to stop reading, drain, flush and
//! write its final checkpoint or commit; if that takes longer than the shutdown
//! bound, or a second signal arrives, the process exits at once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Exit status when the drain is cut short (128 + SIGINT, as shells report it).
const FORCED_EXIT: i32 = 130;

async fn next_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Installs the handlers; the flag turns true at the first signal.
pub(crate) fn stop_flag(bound: Duration) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = std::thread::Builder::new()
        .name("pantau-signals".into())
        .spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                next_signal().await;
                tracing::info!(
                    "stopping: draining, flushing and checkpointing (a second signal exits at once)"
                );
                flag.store(true, Ordering::Relaxed);
                tokio::select! {
                    _ = next_signal() => tracing::warn!("second signal: exiting now"),
                    _ = tokio::time::sleep(bound) => {
                        tracing::error!("shutdown took longer than {bound:?}: exiting now");
                    }
                }
                std::process::exit(FORCED_EXIT);
            });
        });
    stop
}
