//! pantau: event-driven integrity and anomaly detection for public-service
//! transactions.
//!
//! Data flow, one module per stage:
//! [`source`] → [`decode`] (validate) → [`engine`] (watermark, [`state`], timers)
//! → [`rules`] → [`alerts`] → [`sinks`], with [`metrics`] throughout.
//! [`reference`] and [`time`] hold the catalogue and calendar facts the rules use;
//! [`config`] and [`pipeline`] wire a run together; [`simulate`] makes workloads.

pub mod alerts;
pub mod archive;
pub mod config;
pub mod decode;
pub mod engine;
pub mod history;
pub mod kafka;
pub mod metrics;
pub mod pipeline;
pub mod reference;
pub mod rules;
pub mod simulate;
pub mod sinks;
pub mod source;
pub mod state;
pub mod time;
pub mod validate;
