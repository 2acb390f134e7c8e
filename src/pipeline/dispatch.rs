//! Getting decoded packets to the worker that owns their flow.
//!
//! `Inline` meters in the caller's thread (one worker); `Dispatch` runs workers in
//! threads of their own and sends each decoded packet to the one its flow key hashes to,
//! in batches, with the sender's clock so idle workers still expire on time. The offline
//! reader and the libpcap reader both use them; AF_PACKET workers need neither, since
//! the kernel's fanout already spreads flows over their sockets.

use std::sync::Arc;
use std::thread;

use crossbeam_channel::{Receiver, Sender};

use super::exporter::{EndOnPanic, ExportMessage, Exporter, NoteQueue};
use super::metrics::{Registry, WorkerStatus};
use super::stats::Counters;
use super::worker::Worker;
use crate::decode::PacketMeta;
use crate::flow::cache::{flow_hash, CacheConfig, Decoded};
use crate::flow::sampling;
use crate::inspect::{Note, Noted};
use crate::time::Timestamp;

/// Decoded packets are sent to a worker in batches of this many.
const BATCH: usize = 2048;

/// A batch of decoded packets for one worker, and the reader's clock when it was sent.
pub(crate) struct Batch {
    /// Each packet with its time and its flow hash, which the worker's cache reuses
    /// rather than hashing the key again.
    packets: Vec<Decoded>,
    now: Timestamp,
}

/// Where the reader's decoded packets go.
pub(crate) trait Meter: Send {
    fn meter(&mut self, meta: &PacketMeta, ts: Timestamp);
    /// Takes what inspection found in the packets about to be metered
    /// (`Classifier::notes`): sent to the exporter before anything these packets
    /// become, so a note is there before its record.
    fn notes(&mut self, notes: &mut Vec<Noted>);
    /// Time passed to `now` (called at least once a second of packet time).
    fn tick(&mut self, now: Timestamp);
    /// End of input: returns the workers' counters.
    fn finish(self: Box<Self>) -> Counters;
    /// Publishes the counters of shards metered in the caller's thread (workers in
    /// threads of their own publish themselves).
    fn publish(&self, _registry: &Registry) {}
}

/// Packets `Inline` gathers before it meters them together (`Worker::meter_batch`).
const INLINE_BATCH: usize = 64;

/// One worker, metering in the reader's thread.
pub(crate) struct Inline {
    worker: Worker,
    exporter: Sender<ExportMessage>,
    notes: NoteQueue,
    /// Decoded packets not yet metered, at most `INLINE_BATCH`; metered before any tick.
    queued: Vec<Decoded>,
}

impl Inline {
    pub(crate) fn new(worker: Worker, exporter: Sender<ExportMessage>) -> Inline {
        Inline {
            worker,
            notes: NoteQueue::new(exporter.clone()),
            exporter,
            queued: Vec::with_capacity(INLINE_BATCH),
        }
    }

    fn meter_queued(&mut self) {
        self.worker.meter_batch(&self.queued);
        self.queued.clear();
        if self.worker.pending().len() >= BATCH {
            self.send(self.worker.horizon());
        }
    }

    fn send(&mut self, watermark: Timestamp) {
        self.notes.send();
        self.worker.send_pending(&self.exporter, 0, watermark);
    }
}

impl Meter for Inline {
    fn publish(&self, registry: &Registry) {
        registry.publish_worker(
            0,
            WorkerStatus {
                counters: self.worker.counters(),
                ..Default::default()
            },
        );
    }

    fn notes(&mut self, notes: &mut Vec<Noted>) {
        self.notes.append(notes);
    }

    fn meter(&mut self, meta: &PacketMeta, ts: Timestamp) {
        self.queued.push(Decoded::new(meta, ts));
        if self.queued.len() >= INLINE_BATCH {
            self.meter_queued();
        }
    }

    fn tick(&mut self, now: Timestamp) {
        self.meter_queued();
        self.worker.tick(now);
        self.send(self.worker.horizon());
    }

    fn finish(mut self: Box<Self>) -> Counters {
        self.meter_queued();
        self.worker.flush();
        self.send(Timestamp::END);
        self.worker.counters()
    }
}

/// Several workers in threads of their own, fed by flow hash.
pub(crate) struct Dispatch {
    batches: Vec<Batch>,
    /// Ticks a worker's partial batch may wait before a tick sends it (0: every tick
    /// sends every batch, as live capture needs; see `wait_ticks`).
    wait_ticks: u32,
    /// Ticks each worker's batch has waited.
    waited: Vec<u32>,
    senders: Vec<Sender<Batch>>,
    recycled: Receiver<Vec<Decoded>>,
    notes: NoteQueue,
    handles: Vec<thread::JoinHandle<Counters>>,
    now: Timestamp,
    /// Biflow caches: a direction-independent hash (see `meter`).
    symmetric: bool,
}

impl Dispatch {
    /// Starts `n` worker threads; their exporter indexes start at `first_index`.
    pub(crate) fn spawn(
        n: usize,
        first_index: usize,
        cache: &CacheConfig,
        exporter: &Exporter,
        registry: Option<Arc<Registry>>,
    ) -> std::io::Result<Dispatch> {
        let (recycle_tx, recycled) = crossbeam_channel::bounded(n * 8);
        let mut senders = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        let shard = CacheConfig {
            max_flows: cache.max_flows.div_ceil(n).max(1),
            ..cache.clone()
        };
        for index in first_index..first_index + n {
            let (tx, rx) = crossbeam_channel::bounded::<Batch>(4);
            let export = exporter.sender();
            let recycle = recycle_tx.clone();
            let mut worker = Worker::new(shard.clone()).with_shape_pool(exporter.shape_pool());
            let registry = registry.clone();
            let publish = move |worker: &Worker| {
                if let Some(r) = &registry {
                    r.publish_worker(
                        index,
                        WorkerStatus {
                            counters: worker.counters(),
                            ..Default::default()
                        },
                    );
                }
            };
            let handle = thread::Builder::new()
                .name(format!("flowprobe-worker-{index}"))
                .spawn(move || {
                    let _end_on_panic = EndOnPanic::new(export.clone(), index);
                    for batch in rx {
                        worker.meter_batch(&batch.packets);
                        worker.tick(batch.now);
                        let mut packets = batch.packets;
                        packets.clear();
                        let _ = recycle.try_send(packets);
                        let horizon = worker.horizon();
                        worker.send_pending(&export, index, horizon);
                        publish(&worker);
                    }
                    worker.flush();
                    publish(&worker);
                    worker.send_pending(&export, index, Timestamp::END);
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
            wait_ticks: 0,
            waited: vec![0; n],
            senders,
            recycled,
            notes: NoteQueue::new(exporter.sender()),
            handles,
            now: Timestamp::ZERO,
            symmetric: cache.biflow,
        })
    }

    /// Offline: a tick sends a worker's partial batch only once it has waited `ticks`
    /// ticks (seconds of packet time); full batches go at once. At a tick every second
    /// each worker got a batch of a few hundred packets, and each batch cost a wakeup of
    /// the worker and then of the exporter: on the benchmark captures (1,100 s of
    /// traffic) thousands of wakeups, which two CPUs shared with four threads pay for.
    /// The records are the same (their order depends on their instants alone); a
    /// worker's clock, and so the release of records, lags by up to `ticks` seconds.
    pub(crate) fn wait_ticks(mut self, ticks: u32) -> Dispatch {
        self.wait_ticks = ticks;
        self
    }

    fn send(&mut self, index: usize) {
        self.notes.send();
        self.waited[index] = 0;
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
    fn notes(&mut self, notes: &mut Vec<Noted>) {
        // A handshake's times are also the server's record's, whose SYN-ACK went to its
        // worker in an earlier batch: they go at once, so that worker cannot end and
        // send that record while they wait for the next batch (the others are notes of
        // the packet at hand, which waits in a batch too).
        let urgent = notes.iter().any(|n| matches!(n.note, Note::Rtt { .. }));
        self.notes.append(notes);
        if urgent {
            self.notes.send();
        }
    }

    fn meter(&mut self, meta: &PacketMeta, ts: Timestamp) {
        let hash = flow_hash(meta);
        let spread = if self.symmetric {
            // Both directions of a biflow must reach the same shard.
            sampling::direction_free_hash(&meta.key)
        } else {
            hash
        };
        // The high bits of an Fx hash are the well-mixed ones; multiply-shift maps them
        // onto the workers without a division.
        let index = (((spread >> 32) * self.senders.len() as u64) >> 32) as usize;
        self.now = ts;
        self.batches[index].packets.push(Decoded {
            ts,
            meta: *meta,
            hash,
        });
        if self.batches[index].packets.len() >= BATCH {
            self.send(index);
        }
    }

    fn tick(&mut self, now: Timestamp) {
        self.now = self.now.max(now);
        for index in 0..self.senders.len() {
            if self.waited[index] < self.wait_ticks {
                self.waited[index] += 1;
            } else {
                self.send(index);
            }
        }
    }

    fn finish(mut self: Box<Self>) -> Counters {
        // Every worker, even one with no packet left to meter, gets the last packet's
        // time before it flushes: a record whose idle deadline passed in the last second
        // ends by idle timeout, as with one worker, not by the flush.
        for index in 0..self.senders.len() {
            self.send(index);
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
