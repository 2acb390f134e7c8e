//! Offline conversion: capture files in, records out, on packet time.
//!
//! Several files are one capture, read in the order given: a flow that spans a file
//! boundary stays one record. A file that cannot be read to its end (damaged, truncated)
//! is reported with its name and byte offset; what was read before the damage is still
//! metered and exported, the next files are still read, and the run ends with an error.

use std::path::PathBuf;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::exporter::{ExportMessage, Exporter, ExporterReport};
use super::stats::Counters;
use super::worker::Worker;
use crate::capture::file::{CaptureError, CaptureFile};
use crate::export::RecordSink;
use crate::flow::cache::CacheConfig;
use crate::time::Timestamp;

/// Records are sent to the exporter in batches of about this many.
const BATCH: usize = 1024;

/// What to convert and how.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    /// Capture files, read in this order as one capture.
    pub files: Vec<PathBuf>,
    /// Timeouts and cache size.
    pub cache: CacheConfig,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

/// What a conversion did.
#[derive(Debug)]
pub struct ConvertReport {
    /// Packet and flow counters.
    pub counters: Counters,
    /// What the exporter did.
    pub exporter: ExporterReport,
    /// Files that could not be read to their end.
    pub file_errors: Vec<CaptureError>,
}

impl ConvertReport {
    /// Whether everything was read and written.
    pub fn is_clean(&self) -> bool {
        self.file_errors.is_empty() && self.exporter.failures.is_empty()
    }
}

/// Converts `options.files` into records handed to `sinks`.
pub fn convert(
    options: &ConvertOptions,
    sinks: Vec<Box<dyn RecordSink>>,
) -> std::io::Result<ConvertReport> {
    let exporter = Exporter::spawn(sinks, 64)?;
    let sender = exporter.sender();
    let mut worker = Worker::new(options.cache.clone());
    let mut file_errors = Vec::new();
    let progress = progress_bar(options);
    let mut last_tick = Timestamp::ZERO;
    let send = |worker: &mut Worker| {
        let records = worker.take_pending();
        // The exporter only stops early if it panicked; then the records are counted
        // as not exported by the conservation check of the report.
        let _ = sender.send(ExportMessage::Records(records, worker.clock()));
    };

    for path in &options.files {
        let mut file = match CaptureFile::open(path) {
            Ok(f) => f,
            Err(e) => {
                log::error!("{e}");
                file_errors.push(e);
                continue;
            }
        };
        log::info!("reading {} ({})", path.display(), file.format());
        let base = progress.position();
        let mut n: u64 = 0;
        loop {
            match file.next_packet() {
                Ok(Some(packet)) => {
                    worker.handle_packet(&packet);
                    n += 1;
                    if worker.pending().len() >= BATCH {
                        send(&mut worker);
                    }
                    let now = worker.clock();
                    if now.as_secs() != last_tick.as_secs() {
                        last_tick = now;
                        if !worker.pending().is_empty() {
                            send(&mut worker);
                        }
                        let _ = sender.send(ExportMessage::Tick(now));
                    }
                    if n % 8192 == 0 {
                        progress.set_position(base + file.bytes_read());
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    log::error!("{e}");
                    file_errors.push(e);
                    break;
                }
            }
        }
        progress.set_position(base + file.bytes_read());
    }
    worker.flush();
    send(&mut worker);
    drop(sender);
    progress.finish_and_clear();
    let exporter = exporter.finish();
    Ok(ConvertReport {
        counters: worker.counters(),
        exporter,
        file_errors,
    })
}

fn progress_bar(options: &ConvertOptions) -> ProgressBar {
    if !options.progress {
        return ProgressBar::hidden();
    }
    let total: u64 = options
        .files
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
