//! Threads and the data path around the flow cache: workers, the exporter thread, the
//! offline conversion driver, and the counters every run reports.

pub mod convert;
pub(crate) mod dispatch;
pub mod exporter;
#[cfg(target_os = "linux")]
pub mod live;
pub mod metrics;
pub mod stats;
pub mod worker;
