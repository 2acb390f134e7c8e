//! Exporters: everything that takes finished flow records somewhere.
//!
//! The exporter thread owns a list of `RecordSink`s (text output, IPFIX file, UDP/TCP
//! collectors) and hands each batch of expired records to all of them. Encoders never
//! read a clock: the export time is passed in (packet time offline, wall clock live).

pub mod collector;
pub mod columns;
pub mod ie;
pub mod ipfix;
pub mod netflow_v5;
pub mod netflow_v9;
pub mod output;
pub mod parquet;
pub mod rotate;
pub mod sink;
pub mod stats;
pub mod template;
pub mod text;
pub mod transport;

pub use collector::{CollectorProtocol, CollectorUrl, CollectorUrlError};
pub use sink::{collector_sink, ipfix_file_sink, ExportError, ExportOptions, SamplingAnnouncement};
pub use stats::SinkStats;

use crate::flow::record::FlowRecord;
use crate::inspect::Inspection;
use crate::time::Timestamp;

/// Where finished records go.
pub trait RecordSink: Send {
    /// Takes a batch of records, in the order they expired. `now` is the export time.
    fn export(&mut self, records: &[FlowRecord], now: Timestamp) -> std::io::Result<()>;

    /// Takes a batch of records with what payload inspection found for each (`--inspect`):
    /// `inspections[i]` belongs to `records[i]` (`None`, or past the end of a shorter
    /// slice: its packets showed nothing). The exporter calls this instead of `export`
    /// once inspection found anything; outputs that carry no inspected fields (NetFlow
    /// v9 and v5, sFlow) keep this default.
    fn export_inspected(
        &mut self,
        records: &[FlowRecord],
        _inspections: &[Option<Box<Inspection>>],
        now: Timestamp,
    ) -> std::io::Result<()> {
        self.export(records, now)
    }

    /// Takes a batch of sFlow samples (`crate::sflow`): only sFlow sinks send them; the
    /// others ignore them.
    fn samples(
        &mut self,
        _batch: &crate::sflow::SampleBatch,
        _now: Timestamp,
    ) -> std::io::Result<()> {
        Ok(())
    }

    /// Called at least once a second of export time, with or without records, so sinks
    /// can refresh templates or flush buffers on time.
    fn tick(&mut self, _now: Timestamp) -> std::io::Result<()> {
        Ok(())
    }

    /// End of the run: write what is buffered. Called once, last.
    fn finish(&mut self, now: Timestamp) -> std::io::Result<()>;

    /// What the sink has sent and lost so far (collector and file sinks count; others
    /// may keep the default of zeros).
    fn stats(&self) -> SinkStats {
        SinkStats::default()
    }
}
