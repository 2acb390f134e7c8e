//! Threads and the data path around the flow cache: workers, the exporter thread, the
//! offline conversion driver, and the counters every run reports.

pub mod convert;
pub mod exporter;
pub mod stats;
pub mod worker;
