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

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::thread;

use crossbeam_channel::{Receiver, Sender};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rustc_hash::FxHasher;

use super::exporter::{ExportMessage, Exporter, ExporterReport};
use super::stats::Counters;
use super::worker::{Classifier, Worker};
use crate::capture::file::{CaptureError, CaptureFile};
use crate::capture::Packet;
use crate::decode::PacketMeta;
use crate::export::RecordSink;
use crate::flow::cache::CacheConfig;
use crate::time::Timestamp;

/// Decoded packets are sent to a worker in batches of this many.
const BATCH: usize = 2048;

/// What to convert and how.
#[derive(Clone, Debug)]
pub struct ConvertOptions {
    /// Capture files, read in this order as one capture.
    pub files: Vec<PathBuf>,
    /// Timeouts and cache size (`max_flows` for all workers together).
    pub cache: CacheConfig,
    /// Worker threads metering in parallel (1: the reader meters itself).
    pub workers: usize,
    /// Draw a progress bar on stderr.
    pub progress: bool,
}

impl ConvertOptions {
    /// Options for `files` with default timeouts, one worker, no progress bar.
    pub fn new(files: Vec<PathBuf>) -> ConvertOptions {
        ConvertOptions {
            files,
            cache: CacheConfig::default(),
            workers: 1,
            progress: false,
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

/// A batch of decoded packets for one worker, and the reader's clock when it was sent.
struct Batch {
    packets: Vec<(Timestamp, PacketMeta)>,
    now: Timestamp,
}

/// Where the reader's decoded packets go.
trait Meter {
    fn meter(&mut self, meta: &PacketMeta, ts: Timestamp);
    /// Time passed to `now` (called at least once a second of packet time).
    fn tick(&mut self, now: Timestamp);
    /// End of input: returns the workers' counters.
    fn finish(self: Box<Self>) -> Counters;
}

/// One worker, metering in the reader's thread.
struct Inline {
    worker: Worker,
    exporter: Sender<ExportMessage>,
}

impl Inline {
    fn send(&mut self, watermark: Timestamp) {
        let ended = self.worker.take_pending();
        let _ = self.exporter.send(ExportMessage::Records {
            worker: 0,
            ended,
            watermark,
        });
    }
}

impl Meter for Inline {
    fn meter(&mut self, meta: &PacketMeta, ts: Timestamp) {
        self.worker.meter(meta, ts);
        if self.worker.pending().len() >= BATCH {
            self.send(self.worker.clock());
        }
    }

    fn tick(&mut self, now: Timestamp) {
        self.worker.tick(now);
        self.send(self.worker.clock());
    }

    fn finish(mut self: Box<Self>) -> Counters {
        self.worker.flush();
        self.send(Timestamp::END);
        self.worker.counters()
    }
}

/// Several workers in threads of their own, fed by flow hash.
struct Dispatch {
    batches: Vec<Batch>,
    senders: Vec<Sender<Batch>>,
    recycled: Receiver<Vec<(Timestamp, PacketMeta)>>,
    handles: Vec<thread::JoinHandle<Counters>>,
    now: Timestamp,
}

impl Dispatch {
    fn spawn(n: usize, cache: &CacheConfig, exporter: &Exporter) -> std::io::Result<Dispatch> {
        let (recycle_tx, recycled) = crossbeam_channel::bounded(n * 8);
        let mut senders = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        let shard = CacheConfig {
            max_flows: cache.max_flows.div_ceil(n).max(1),
            ..cache.clone()
        };
        for index in 0..n {
            let (tx, rx) = crossbeam_channel::bounded::<Batch>(4);
            let export = exporter.sender();
            let recycle = recycle_tx.clone();
            let mut worker = Worker::new(shard.clone());
            let handle = thread::Builder::new()
                .name(format!("flowprobe-worker-{index}"))
                .spawn(move || {
                    for batch in rx {
                        for (ts, meta) in &batch.packets {
                            worker.meter(meta, *ts);
                        }
                        worker.tick(batch.now);
                        let mut packets = batch.packets;
                        packets.clear();
                        let _ = recycle.try_send(packets);
                        let ended = worker.take_pending();
                        let _ = export.send(ExportMessage::Records {
                            worker: index,
                            ended,
                            watermark: worker.clock(),
                        });
                    }
                    worker.flush();
                    let ended = worker.take_pending();
                    let _ = export.send(ExportMessage::Records {
                        worker: index,
                        ended,
                        watermark: Timestamp::END,
                    });
                    worker.counters()
                })?;
            senders.push(tx);
            handles.push(handle);
        }
        let batches = (0..n)
            .map(|_| Batch {
                packets: Vec::with_capacity(BATCH),
                now: Timestamp::ZERO,
            })
            .collect();
        Ok(Dispatch {
            batches,
            senders,
            recycled,
            handles,
            now: Timestamp::ZERO,
        })
    }

    fn send(&mut self, index: usize) {
        let fresh = self
            .recycled
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(BATCH));
        let packets = std::mem::replace(&mut self.batches[index].packets, fresh);
        let _ = self.senders[index].send(Batch {
            packets,
            now: self.now,
        });
    }
}

impl Meter for Dispatch {
    fn meter(&mut self, meta: &PacketMeta, ts: Timestamp) {
        let mut hasher = FxHasher::default();
        meta.key.hash(&mut hasher);
        // The high bits of an Fx hash are the well-mixed ones.
        let index = ((hasher.finish() >> 32) % self.senders.len() as u64) as usize;
        self.now = ts;
        self.batches[index].packets.push((ts, *meta));
        if self.batches[index].packets.len() >= BATCH {
            self.send(index);
        }
    }

    fn tick(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
        for index in 0..self.senders.len() {
            self.send(index);
        }
    }

    fn finish(mut self: Box<Self>) -> Counters {
        for index in 0..self.senders.len() {
            if !self.batches[index].packets.is_empty() {
                self.send(index);
            }
        }
        self.senders.clear();
        let mut total = Counters::default();
        for handle in self.handles.drain(..) {
            match handle.join() {
                Ok(c) => total.add(&c),
                Err(_) => log::error!("a worker thread panicked"),
            }
        }
        total
    }
}

/// Converts `options.files` into records handed to `sinks`.
pub fn convert(
    options: &ConvertOptions,
    sinks: Vec<Box<dyn RecordSink>>,
) -> std::io::Result<ConvertReport> {
    let workers = options.workers.max(1);
    let exporter = Exporter::spawn(sinks, workers, 64)?;
    let ticks = exporter.sender();
    let mut meter: Box<dyn Meter> = if workers == 1 {
        Box::new(Inline {
            worker: Worker::new(options.cache.clone()),
            exporter: exporter.sender(),
        })
    } else {
        Box::new(Dispatch::spawn(workers, &options.cache, &exporter)?)
    };
    let mut classifier = Classifier::new();
    let mut meta = PacketMeta::default();
    let mut file_errors = Vec::new();
    let progress = progress_bar(options);
    let mut clock = Timestamp::ZERO;
    let mut last_tick = 0u64;

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
            let packet = match file.next_packet() {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => {
                    log::error!("{e}");
                    file_errors.push(e);
                    break;
                }
            };
            let ts = if packet.ts < clock {
                classifier.count_clamped();
                clock
            } else {
                clock = packet.ts;
                packet.ts
            };
            if classifier.classify(&Packet { ts, ..packet }, &mut meta) {
                meter.meter(&meta, ts);
            }
            if ts.as_secs() != last_tick {
                last_tick = ts.as_secs();
                meter.tick(ts);
                let _ = ticks.send(ExportMessage::Tick(ts));
            }
            n += 1;
            if n % 16_384 == 0 {
                progress.set_position(base + file.bytes_read());
            }
        }
        progress.set_position(base + file.bytes_read());
    }
    let mut counters = meter.finish();
    drop(ticks);
    progress.finish_and_clear();
    let exporter = exporter.finish();
    let classified = classifier.counters();
    counters.read = classified.read;
    counters.undecodable = classified.undecodable;
    counters.unsupported_link_types = classified.unsupported_link_types;
    counters.fragments_unmatched = classified.fragments_unmatched;
    counters.clamped_timestamps += classified.clamped_timestamps;
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
