//! The exporter thread: owns the record sinks, puts the records of every worker into one
//! order, and hands them to every sink.
//!
//! Workers never wait on a socket or a file: they send ended records over a bounded
//! channel and go on metering. Each record comes with the instant it ended (see
//! `flow::cache::Ended`), and each message with the worker's watermark: the worker will
//! send no record that ended before it. The exporter holds records in a heap and releases,
//! in (instant, start, key) order, those that ended before every worker's watermark. So
//! the output order depends on the packets alone, never on how threads were scheduled:
//! one worker or several give the same output.
//!
//! The direction rules (`flow::direction`) are applied here, once per record, to every
//! batch before any sink sees it: one place for `convert` and `run` and any worker count.
//!
//! A sink that fails (a text output whose disk filled) is reported and dropped; the other
//! sinks go on. Collectors count and log their own network errors and do not fail here.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::metrics::Registry;
use crate::export::RecordSink;
use crate::flow::cache::Ended;
use crate::flow::direction::DirectionRules;
use crate::flow::key::FlowKey;
use crate::flow::record::FlowRecord;
use crate::flow::tunnel::TunnelKind;
use crate::time::Timestamp;

/// What workers and sources send to the exporter.
#[derive(Debug)]
pub enum ExportMessage {
    /// Ended records of worker `worker`, which will send nothing that ended before
    /// `watermark` from now on (`Timestamp::END` when it has finished).
    Records {
        /// Index of the worker, below the worker count given to `Exporter::spawn`.
        worker: usize,
        /// The records.
        ended: Vec<Ended>,
        /// The worker's clock.
        watermark: Timestamp,
    },
    /// Time passed (at least once a second of export time).
    Tick(Timestamp),
}

/// What the exporter thread reports when it ends.
#[derive(Debug, Default)]
pub struct ExporterReport {
    /// Records handed to the sinks.
    pub records: u64,
    /// Packets summed over those records (both directions of a biflow).
    pub packets: u64,
    /// Sinks that failed: (sink index, error text).
    pub failures: Vec<(usize, String)>,
    /// What each sink sent and lost, in the order the sinks were given.
    pub sinks: Vec<crate::export::SinkStats>,
}

/// A running exporter thread.
pub struct Exporter {
    sender: Sender<ExportMessage>,
    handle: JoinHandle<ExporterReport>,
}

impl Exporter {
    /// Starts the thread with `sinks`, merging the records of `workers` workers;
    /// `capacity` messages may queue before senders wait. `direction` is applied to every
    /// record before the sinks see it.
    pub fn spawn(
        sinks: Vec<Box<dyn RecordSink>>,
        workers: usize,
        capacity: usize,
        registry: Option<Arc<Registry>>,
        direction: DirectionRules,
    ) -> std::io::Result<Exporter> {
        let (sender, receiver) = crossbeam_channel::bounded(capacity.max(1));
        let handle = std::thread::Builder::new()
            .name("flowprobe-export".into())
            .spawn(move || Merger::new(sinks, workers, registry, direction).run(receiver))?;
        Ok(Exporter { sender, handle })
    }

    /// A sender for a worker or source.
    pub fn sender(&self) -> Sender<ExportMessage> {
        self.sender.clone()
    }

    /// Closes this handle's sender, waits for the queue to drain and the sinks to finish.
    /// Every other sender must have been dropped before, or this waits for them.
    pub fn finish(self) -> ExporterReport {
        drop(self.sender);
        self.handle.join().unwrap_or_else(|_| ExporterReport {
            failures: vec![(usize::MAX, "exporter thread panicked".into())],
            ..Default::default()
        })
    }
}

/// A record's place in the merge order: (instant, start, key, tunnel segment), then its
/// slot in the exporter's record slab. The heap holds these small entries rather than
/// the records (about 240 bytes each), which it would otherwise move on every sift.
type Queued = (Timestamp, Timestamp, FlowKey, (TunnelKind, u32), u32);

struct Merger {
    sinks: Vec<Box<dyn RecordSink>>,
    alive: Vec<bool>,
    heap: BinaryHeap<Reverse<Queued>>,
    /// The records the heap entries point at; `free` lists the empty slots.
    held: Vec<FlowRecord>,
    free: Vec<u32>,
    watermarks: Vec<Timestamp>,
    /// The newest real time seen (export time for records that ended at end of input).
    last: Timestamp,
    batch: Vec<FlowRecord>,
    report: ExporterReport,
    registry: Option<Arc<Registry>>,
    direction: DirectionRules,
}

impl Merger {
    fn new(
        sinks: Vec<Box<dyn RecordSink>>,
        workers: usize,
        registry: Option<Arc<Registry>>,
        direction: DirectionRules,
    ) -> Merger {
        let alive = vec![true; sinks.len()];
        Merger {
            sinks,
            alive,
            heap: BinaryHeap::new(),
            held: Vec::new(),
            free: Vec::new(),
            watermarks: vec![Timestamp::ZERO; workers.max(1)],
            last: Timestamp::ZERO,
            batch: Vec::with_capacity(1024),
            report: ExporterReport::default(),
            registry,
            direction,
        }
    }

    fn run(mut self, receiver: Receiver<ExportMessage>) -> ExporterReport {
        for message in receiver {
            match message {
                ExportMessage::Records {
                    worker,
                    ended,
                    watermark,
                } => {
                    for e in ended {
                        self.hold(e);
                    }
                    if let Some(w) = self.watermarks.get_mut(worker) {
                        *w = (*w).max(watermark);
                    }
                    if watermark != Timestamp::END {
                        self.last = self.last.max(watermark);
                    }
                    self.release();
                }
                ExportMessage::Tick(now) => {
                    self.last = self.last.max(now);
                    let last = self.last;
                    self.each_sink(|sink| sink.tick(last));
                    if let Some(r) = &self.registry {
                        r.publish_sinks(self.sinks.iter().map(|s| s.stats()));
                    }
                }
            }
        }
        // Every sender is gone: whatever is left is released, in order.
        self.watermarks.iter_mut().for_each(|w| *w = Timestamp::END);
        self.release();
        let last = self.last;
        self.each_sink(|sink| sink.finish(last));
        self.report.sinks = self.sinks.iter().map(|s| s.stats()).collect();
        if let Some(r) = &self.registry {
            r.publish_sinks(self.report.sinks.iter().copied());
        }
        self.report
    }

    /// Hands the sinks every record that ended before all watermarks (all of them once
    /// every worker has finished).
    fn release(&mut self) {
        let low = self
            .watermarks
            .iter()
            .copied()
            .min()
            .unwrap_or(Timestamp::ZERO);
        let mut now = Timestamp::ZERO;
        while let Some(Reverse((at, ..))) = self.heap.peek() {
            if *at >= low && low != Timestamp::END {
                break;
            }
            now = now.max((*at).min(self.last));
            let Some(Reverse((.., slot))) = self.heap.pop() else {
                break;
            };
            self.free.push(slot);
            self.batch.push(self.held[slot as usize]);
            if self.batch.len() >= 1024 {
                self.flush(now);
            }
        }
        self.flush(now.max(self.last.min(low)));
    }

    /// Files an ended record into the slab and its entry into the heap.
    fn hold(&mut self, e: Ended) {
        let r = &e.record;
        let order = (e.at, r.start, r.key, r.tunnel.segment());
        let slot = match self.free.pop() {
            Some(slot) => {
                self.held[slot as usize] = e.record;
                slot
            }
            None => {
                self.held.push(e.record);
                (self.held.len() - 1) as u32
            }
        };
        self.heap
            .push(Reverse((order.0, order.1, order.2, order.3, slot)));
    }

    fn flush(&mut self, now: Timestamp) {
        if self.batch.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.batch);
        self.direction.apply_all(&mut batch);
        self.report.records += batch.len() as u64;
        self.report.packets += batch
            .iter()
            .map(|r| r.packets + r.reverse.map_or(0, |v| v.packets))
            .sum::<u64>();
        self.each_sink(|sink| sink.export(&batch, now));
        self.batch = batch;
        self.batch.clear();
    }

    fn each_sink(&mut self, mut f: impl FnMut(&mut Box<dyn RecordSink>) -> std::io::Result<()>) {
        for (i, sink) in self.sinks.iter_mut().enumerate() {
            if self.alive[i] {
                if let Err(e) = f(sink) {
                    log::error!("output {} failed and was stopped: {e}", i + 1);
                    self.alive[i] = false;
                    self.report.failures.push((i, e.to_string()));
                }
            }
        }
    }
}
