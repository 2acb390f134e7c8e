//! Offline conversion: capture files in, records out, on packet time.
//!
//! Several files are one capture, read in the order given: a flow that spans a file
//! boundary stays one record. A file that cannot be read to its end (damaged, truncated)
//! is reported with its name and byte offset; what was read before the damage is still
//! metered and exported, the next files are still read, and the run ends with an error.
//!
//! # Threads
//! One reader (the calling thread) reads, decodes and tracks fragments, then sends each
//! decoded packet to the worker that owns its flow (by a hash of the flow key). Workers
//! own their cache shards; the exporter thread merges their records into one order (see
//! `exporter`). With one worker the reader meters itself, with no channel in between.
//! Either way the records and their order are the same, because a record's split points,
//! end reason and end instant depend only on its own packets (see `flow::cache`). The
//! one exception is a full cache: `max_flows` is divided among the shards, so which
//! record is evicted first can differ with the worker count.
//!
//! Time never runs backwards: a packet older than the newest seen (across files too) is
//! clamped to it and counted, here, before dispatch, so every shard sees the same clock.

use std::path::PathBuf;
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::dispatch::{Dispatch, Inline, Meter};
use super::exporter::{ExportMessage, Exporter, ExporterReport};
use super::metrics::{Registry, WorkerStatus};
use super::stats::Counters;
use super::worker::{Classifier, Worker};
use crate::capture::file::{CaptureError, CaptureFile};
use crate::capture::Packet;
use crate::decode::{Decap, PacketMeta};
use crate::export::RecordSink;
use crate::flow::cache::CacheConfig;
use crate::flow::direction::{DirectionConfig, DirectionRules};
use crate::flow::sampling::Sampling;
use crate::inspect::InspectConfig;
use crate::sflow::SamplerConfig;
use crate::time::Timestamp;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Seconds of packet time a worker's partial batch may wait for more packets
/// (`Dispatch::wait_ticks`): offline nobody waits for a record, and every batch sent is
/// a wakeup of a worker and of the exporter.
const OFFLINE_WAIT_TICKS: u32 = 8;

/// What to convert and how.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    /// Capture files, read in this order as one capture.
    pub files: Vec<PathBuf>,
    /// Timeouts and cache size (`max_flows` for all workers together).
    pub cache: CacheConfig,
    /// Worker threads metering in parallel (1: the reader meters itself).
    pub workers: usize,
    /// Packet or flow sampling.
    pub sampling: Sampling,
    /// Tunnels to open (none by default).
    pub decap: Decap,
    /// Draw a progress bar on stderr.
    pub progress: bool,
    /// Publish counters here as the conversion runs (for the Prometheus endpoint).
    pub registry: Option<Arc<Registry>>,
    /// Direction rules applied to every record (default: none).
    pub direction: DirectionConfig,
    /// sFlow collectors' sampling (none by default).
    pub sflow: SamplerConfig,
    /// Payload inspection (none by default).
    pub inspect: InspectConfig,
}

impl ConvertOptions {
    /// Options for `files` with default timeouts, one worker, no progress bar.
    pub fn new(files: Vec<PathBuf>) -> ConvertOptions {
        ConvertOptions {
            files,
            cache: CacheConfig::default(),
            workers: 1,
            sampling: Sampling::default(),
            decap: Decap::default(),
            progress: false,
            registry: None,
            direction: DirectionConfig::default(),
            sflow: SamplerConfig::default(),
            inspect: InspectConfig::default(),
        }
    }
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
    let workers = options.workers.max(1);
    let direction = DirectionRules::new(&options.direction);
    let exporter = Exporter::spawn(sinks, workers, 64, options.registry.clone(), direction)?;
    let ticks = exporter.sender();
    let mut meter: Box<dyn Meter> = if workers == 1 {
        Box::new(Inline::new(
            Worker::new(options.cache.clone()).with_shape_pool(exporter.shape_pool()),
            exporter.sender(),
        ))
    } else {
        Box::new(
            Dispatch::spawn(
                workers,
                0,
                &options.cache,
                &exporter,
                options.registry.clone(),
            )?
            .wait_ticks(OFFLINE_WAIT_TICKS),
        )
    };
    let mut classifier = Classifier::new(options.sampling, 0)
        .with_decap(options.decap.clone())
        .with_sflow(options.sflow.sampler(0, true, exporter.sender()))
        .with_inspect(options.inspect, exporter.sender());
    let mut meta = PacketMeta::default();
    let mut file_errors = Vec::new();
    let progress = progress_bar(options);
    let mut clock = Timestamp::ZERO;
    // Time advances in whole seconds of packet time: `tick_from..tick_until` is the
    // second of the last tick (compared rather than divided, once a packet).
    let (mut tick_from, mut tick_until) = (Timestamp::ZERO, Timestamp::ZERO);

    for path in &options.files {
        let mut file = match CaptureFile::open(path) {
            Ok(f) => f,
            Err(e) => {
                log::error!("{e}");
                file_errors.push(e);
                continue;
            }
        };
        // The clock below clamps and counts (across files too); the reader must not
        // clamp first, or backwards steps inside a file would go uncounted.
        file.set_clamp_timestamps(false);
        log::info!("reading {} ({})", path.display(), file.format());
        let base = progress.position();
        let mut n: u64 = 0;
        loop {
            let packet = match file.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    log::error!("{e}");
                    file_errors.push(e);
                    break;
                }
            };
            let packet_ts = packet.ts.min(Timestamp::LAST);
            let ts = if packet_ts < clock {
                classifier.count_clamped();
                clock
            } else {
                clock = packet_ts;
                packet_ts
            };
            if classifier.classify(&Packet { ts, ..packet }, &mut meta) {
                if let Some(notes) = classifier.notes() {
                    meter.notes(notes);
                }
                meter.meter(&meta, ts);
            }
            if ts >= tick_until || ts < tick_from {
                tick_from = Timestamp(ts.as_secs() * NANOS_PER_SEC);
                tick_until = Timestamp(tick_from.0.saturating_add(NANOS_PER_SEC));
                meter.tick(ts);
                classifier.tick(ts);
                classifier.send_samples(None);
                let _ = ticks.send(ExportMessage::Tick(ts));
                if let Some(r) = &options.registry {
                    r.publish_reader(
                        0,
                        WorkerStatus {
                            counters: classifier.counters(),
                            ..Default::default()
                        },
                    );
                    meter.publish(r);
                }
            }
            n += 1;
            if n.is_multiple_of(16_384) {
                progress.set_position(base + file.bytes_read());
            }
        }
        progress.set_position(base + file.bytes_read());
    }
    classifier.finish_samples();
    if let Some(r) = &options.registry {
        r.publish_reader(
            0,
            WorkerStatus {
                counters: classifier.counters(),
                ..Default::default()
            },
        );
    }
    let mut counters = meter.finish();
    if let Some(r) = &options.registry {
        if workers == 1 {
            r.publish_worker(
                0,
                WorkerStatus {
                    counters: counters.clone(),
                    ..Default::default()
                },
            );
        }
    }
    drop(ticks);
    progress.finish_and_clear();
    let exporter = exporter.finish();
    counters.add(&classifier.counters());
    Ok(ConvertReport {
        counters,
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
