//! The exporter thread: owns the record sinks, puts the records of every worker into one
//! order, and hands them to every sink.
//!
//! Workers never wait on a socket or a file: they send ended records over a bounded
//! channel and go on metering. Each record comes with the instant it ended (see
//! `flow::cache::Ended`), and each message with the worker's watermark: the worker will
//! send no record that ended before it. The exporter holds records and releases, in
//! (instant, start, key) order, those that ended before every worker's watermark. So the
//! output order depends on the packets alone, never on how threads were scheduled: one
//! worker or several give the same output.
//!
//! Each message's records are put in merge order when they arrive (small (instant,
//! start, place) entries sorted, keys compared only on ties). A release takes, from each
//! message held, the prefix that ended before the lowest watermark, and merges those
//! prefixes; nothing that arrives later can sort before them (the watermarks promise
//! so). Its cost is that of the records it releases, however many wait behind the
//! watermark of a slower or idle worker. A heap of (instant, start, key) entries cost
//! the exporter about 40% more CPU on the benchmark capture (see the README's
//! performance notes), and the exporter's time is what two workers cannot share.

use std::cmp::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use super::metrics::Registry;
use crate::export::RecordSink;
use crate::flow::cache::Ended;
use crate::flow::direction::DirectionRules;
use crate::flow::key::FlowKey;
use crate::flow::record::FlowRecord;
use crate::inspect::{Inspection, Note, Noted, Seen};
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
    /// What payload inspection (`--inspect`) found, each note with the flow key and time
    /// of the packet that completed it, in the order the capture thread saw them. A
    /// capture thread sends its notes before the packets that made them can reach a
    /// worker (or, metering itself, before its records), so a note is always here before
    /// the record that holds its packet. The exporter keeps each until that record is
    /// released (see `Notes`).
    Notes(Vec<Noted>),
    /// sFlow samples of one capture thread, the newest taken at `now`; they go to the
    /// sFlow sinks at once (samples are not merged: each sub-agent numbers its own).
    Samples {
        /// The samples.
        batch: crate::sflow::SampleBatch,
        /// Time of the newest packet the sampler saw.
        now: Timestamp,
    },
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
    shapes: ShapePool,
}

/// Boxes of shapes the sinks are done with, going back to the flow caches that fill
/// them (`Worker::with_shape_pool`): a record's shape is boxed on the capture thread and
/// dropped on the exporter's, and with glibc's malloc an allocation freed on another
/// thread is a slow path on both. At most `SHAPE_POOL` batches wait; more are freed.
pub type ShapePool = Receiver<Vec<Box<crate::inspect::splt::Shape>>>;

/// Batches of spare shape boxes the pool holds at most.
const SHAPE_POOL: usize = 8;

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
        let (spare, shapes) = crossbeam_channel::bounded(SHAPE_POOL);
        let handle = std::thread::Builder::new()
            .name("flowprobe-export".into())
            .spawn(move || {
                let mut merger = Merger::new(sinks, workers, registry, direction);
                merger.spare_shapes = Some(spare);
                merger.run(receiver)
            })?;
        Ok(Exporter {
            sender,
            handle,
            shapes,
        })
    }

    /// A sender for a worker or source.
    pub fn sender(&self) -> Sender<ExportMessage> {
        self.sender.clone()
    }

    /// Where spare shape boxes come back for a worker's flow cache (see [`ShapePool`]).
    pub fn shape_pool(&self) -> ShapePool {
        self.shapes.clone()
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

/// Notes gathered on a capture thread (`ExportMessage::Notes`), and the exporter they
/// go to: the classifier's, and a `Meter`'s that sends them before its packets leave.
#[derive(Debug)]
pub(crate) struct NoteQueue {
    /// Not yet sent.
    pending: Vec<Noted>,
    exporter: Sender<ExportMessage>,
}

impl NoteQueue {
    pub(crate) fn new(exporter: Sender<ExportMessage>) -> NoteQueue {
        NoteQueue {
            pending: Vec::new(),
            exporter,
        }
    }

    /// Queues one note.
    #[inline]
    pub(crate) fn push(&mut self, noted: Noted) {
        self.pending.push(noted);
    }

    /// Queues `notes`, leaving it empty (its room stays with the caller).
    pub(crate) fn append(&mut self, notes: &mut Vec<Noted>) {
        self.pending.append(notes);
    }

    /// The notes queued and not yet sent, when there are any.
    #[inline]
    pub(crate) fn gathered(&mut self) -> Option<&mut Vec<Noted>> {
        (!self.pending.is_empty()).then_some(&mut self.pending)
    }

    /// Sends what is queued, in one message (each message could wake the exporter).
    pub(crate) fn send(&mut self) {
        if !self.pending.is_empty() {
            let notes = std::mem::take(&mut self.pending);
            let _ = self.exporter.send(ExportMessage::Notes(notes));
        }
    }
}

/// Held by a worker thread: if the thread unwinds (a bug), its watermark goes to
/// `Timestamp::END`, so the exporter goes on releasing the other workers' records
/// instead of waiting for this one forever. Its own unsent records are lost; joining
/// the thread reports the panic.
pub(crate) struct EndOnPanic {
    exporter: Sender<ExportMessage>,
    worker: usize,
}

impl EndOnPanic {
    pub(crate) fn new(exporter: Sender<ExportMessage>, worker: usize) -> EndOnPanic {
        EndOnPanic { exporter, worker }
    }
}

impl Drop for EndOnPanic {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = self.exporter.send(ExportMessage::Records {
                worker: self.worker,
                ended: Vec::new(),
                watermark: Timestamp::END,
            });
        }
    }
}

/// The records of one message from a worker, and their merge order.
struct Chunk {
    records: Vec<Ended>,
    /// (end instant, start, index in `records`), in merge order.
    order: Vec<(Timestamp, Timestamp, u32)>,
    /// `order[..released]` have been handed to the sinks.
    released: usize,
}

/// A record being released: end instant, start, chunk, index in the chunk's records.
type Place = (Timestamp, Timestamp, u32, u32);

struct Merger {
    sinks: Vec<Box<dyn RecordSink>>,
    alive: Vec<bool>,
    /// Messages with records not yet released, in the order they arrived.
    held: Vec<Chunk>,
    /// The earliest end instant not yet released (`Timestamp::END` when none): a
    /// release with a lower watermark than this has nothing to do.
    earliest: Timestamp,
    /// The places of the records being released (kept for its allocation).
    merge: Vec<Place>,
    watermarks: Vec<Timestamp>,
    /// The newest real time seen (export time for records that ended at end of input).
    last: Timestamp,
    batch: Vec<FlowRecord>,
    /// `shapes[i]` for `batch[i]`, when the workers gather shapes (`--inspect tcp` or
    /// `splt`); empty otherwise.
    shapes: Vec<Option<Box<crate::inspect::splt::Shape>>>,
    report: ExporterReport,
    registry: Option<Arc<Registry>>,
    direction: DirectionRules,
    /// What inspection found, until its record is released; `None` until the first
    /// `Notes` message arrives (without `--inspect`, sinks get `export` alone).
    notes: Option<Notes>,
    /// `inspections[i]` for `batch[i]` (kept for its allocation).
    inspections: Vec<Option<Box<Inspection>>>,
    /// Where the shapes' boxes go once the sinks have them (see [`ShapePool`]; the
    /// boxes are what is reused).
    #[allow(clippy::vec_box)]
    spare_shapes: Option<Sender<Vec<Box<crate::inspect::splt::Shape>>>>,
}

/// What inspection found, by flow key (a packet's own direction): each entry the time of
/// the packet that showed it. A record takes, for its key, the entries of its own time
/// span (its packets are the key's only packets up to its end: earlier ones went to
/// earlier records, which took their entries then) and, in a biflow, the entries of the
/// reversed key too.
#[derive(Default)]
struct Notes {
    by_key: rustc_hash::FxHashMap<FlowKey, KeyNotes>,
}

/// Notes one key holds in place (a TCP side's: its SYN's options, the handshake's times,
/// and an application's values); more go to the heap.
const KEY_NOTES_IN_PLACE: usize = 3;

/// The notes of one key, in the order they came: in place first, so that a key's notes
/// cost no allocation (a vector a key was an allocation and a free for most records).
#[derive(Default)]
struct KeyNotes {
    held: [Option<(Timestamp, Note)>; KEY_NOTES_IN_PLACE],
    /// Used only once `held` is full.
    more: Vec<(Timestamp, Note)>,
}

impl KeyNotes {
    fn push(&mut self, entry: (Timestamp, Note)) {
        match self.held.iter_mut().find(|h| h.is_none()) {
            Some(free) => *free = Some(entry),
            None => self.more.push(entry),
        }
    }

    /// Fills `combined` from the notes up to `end`, in order, and keeps the later ones;
    /// true when none is left.
    fn take_until(&mut self, end: Timestamp, combined: &mut Option<Seen>) -> bool {
        let old = std::mem::take(self);
        for (ts, note) in old.held.into_iter().flatten().chain(old.more) {
            if ts <= end {
                note.fill(combined.get_or_insert_with(Seen::default));
            } else {
                self.push((ts, note));
            }
        }
        self.held[0].is_none()
    }
}

impl Notes {
    fn add(&mut self, noted: Noted) {
        self.by_key
            .entry(noted.key)
            .or_default()
            .push((noted.ts, noted.note));
    }

    /// The entries of `key` up to `end`, combined (the earliest value of each field).
    fn take(&mut self, key: &FlowKey, end: Timestamp) -> Option<Seen> {
        let std::collections::hash_map::Entry::Occupied(mut entry) = self.by_key.entry(*key) else {
            return None;
        };
        let mut combined = None;
        if entry.get_mut().take_until(end, &mut combined) {
            entry.remove();
        }
        combined
    }

    /// What `r`'s packets showed.
    fn inspection(&mut self, r: &FlowRecord) -> Option<Box<Inspection>> {
        let forward = self.take(&r.key, r.end);
        let reverse = match (r.reverse, r.key.reversed()) {
            (Some(v), Some(key)) if v.packets > 0 => self.take(&key, v.end),
            _ => None,
        };
        if forward.is_none() && reverse.is_none() {
            return None;
        }
        Some(Box::new(Inspection {
            forward: forward.unwrap_or_default(),
            reverse: reverse.unwrap_or_default(),
            shape: None,
        }))
    }
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
            held: Vec::new(),
            earliest: Timestamp::END,
            merge: Vec::new(),
            watermarks: vec![Timestamp::ZERO; workers.max(1)],
            last: Timestamp::ZERO,
            batch: Vec::with_capacity(1024),
            shapes: Vec::new(),
            report: ExporterReport::default(),
            registry,
            direction,
            notes: None,
            inspections: Vec::new(),
            spare_shapes: None,
        }
    }

    fn run(mut self, receiver: Receiver<ExportMessage>) -> ExporterReport {
        for message in receiver {
            self.handle(message);
        }
        self.end()
    }

    fn handle(&mut self, message: ExportMessage) {
        match message {
            ExportMessage::Records {
                worker,
                ended,
                watermark,
            } => {
                self.hold(ended);
                if let Some(w) = self.watermarks.get_mut(worker) {
                    *w = (*w).max(watermark);
                }
                if watermark != Timestamp::END {
                    self.last = self.last.max(watermark);
                }
                self.release();
            }
            ExportMessage::Notes(notes) => {
                let to = self.notes.get_or_insert_with(Notes::default);
                notes.into_iter().for_each(|n| to.add(n));
            }
            ExportMessage::Samples { batch, now } => {
                self.each_sink(|sink| sink.samples(&batch, now));
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

    /// Every sender is gone: whatever is left is released, in order, and the sinks end.
    fn end(mut self) -> ExporterReport {
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
    /// every worker has finished), in (instant, start, key, tunnel segment) order.
    fn release(&mut self) {
        let low = self
            .watermarks
            .iter()
            .copied()
            .min()
            .unwrap_or(Timestamp::ZERO);
        let all = low == Timestamp::END;
        if !all && self.earliest >= low {
            return;
        }
        let mut merge = std::mem::take(&mut self.merge);
        merge.clear();
        let mut runs = 0;
        let mut bounds = vec![0];
        for (c, chunk) in self.held.iter_mut().enumerate() {
            let rest = &chunk.order[chunk.released..];
            let n = if all {
                rest.len()
            } else {
                rest.partition_point(|p| p.0 < low)
            };
            if n > 0 {
                runs += 1;
                let places = rest[..n]
                    .iter()
                    .map(|&(at, start, i)| (at, start, c as u32, i));
                merge.extend(places);
                bounds.push(merge.len());
                chunk.released += n;
            }
        }
        if runs > 1 {
            // Sorted runs, one per message, merged pairwise.
            let held = &self.held;
            let record = |p: &Place| &held[p.2 as usize].records[p.3 as usize];
            merge_runs(&mut merge, bounds, |a, b| {
                (a.0, a.1)
                    .cmp(&(b.0, b.1))
                    .then_with(|| tie(record(a), record(b)))
            });
        }
        let mut now = Timestamp::ZERO;
        for &(at, _, c, i) in &merge {
            now = now.max(at.min(self.last));
            let ended = &mut self.held[c as usize].records[i as usize];
            self.batch.push(ended.record);
            if let Some(shape) = ended.shape.take() {
                self.shapes.resize(self.batch.len() - 1, None);
                self.shapes.push(Some(shape));
            }
            if self.batch.len() >= 1024 {
                self.flush(now);
            }
        }
        self.flush(now.max(self.last.min(low)));
        self.held.retain(|c| c.released < c.order.len());
        self.earliest = self
            .held
            .iter()
            .map(|c| c.order[c.released].0)
            .min()
            .unwrap_or(Timestamp::END);
        self.merge = merge;
    }

    /// Files a worker's ended records, in merge order, until they can be released.
    fn hold(&mut self, ended: Vec<Ended>) {
        if ended.is_empty() {
            return;
        }
        let mut order: Vec<_> = ended
            .iter()
            .enumerate()
            .map(|(i, e)| (e.at, e.record.start, i as u32))
            .collect();
        sort_order(&mut order, &ended);
        self.earliest = self.earliest.min(order[0].0);
        self.held.push(Chunk {
            records: ended,
            order,
            released: 0,
        });
    }

    fn flush(&mut self, now: Timestamp) {
        if self.batch.is_empty() {
            return;
        }
        let mut batch = std::mem::take(&mut self.batch);
        // Notes are keyed by the packets' keys: taken before the direction rules may
        // set a record's interface.
        let mut inspections = std::mem::take(&mut self.inspections);
        inspections.clear();
        if let Some(notes) = &mut self.notes {
            inspections.extend(batch.iter().map(|r| notes.inspection(r)));
        }
        if !self.shapes.is_empty() {
            // A record's shape joins what its packets showed.
            inspections.resize(batch.len(), None);
            for (inspection, shape) in inspections.iter_mut().zip(self.shapes.drain(..)) {
                if let Some(shape) = shape {
                    inspection.get_or_insert_with(Box::default).shape = Some(shape);
                }
            }
        }
        let inspected = self.notes.is_some() || !inspections.is_empty();
        self.direction.apply_all(&mut batch);
        self.report.records += batch.len() as u64;
        self.report.packets += batch
            .iter()
            .map(|r| r.packets + r.reverse.map_or(0, |v| v.packets))
            .sum::<u64>();
        if inspected {
            self.each_sink(|sink| sink.export_inspected(&batch, &inspections, now));
            if let Some(pool) = &self.spare_shapes {
                let spare: Vec<_> = inspections
                    .iter_mut()
                    .filter_map(|i| i.as_mut()?.shape.take())
                    .collect();
                if !spare.is_empty() {
                    // A full pool: these are freed here instead.
                    let _ = pool.try_send(spare);
                }
            }
        } else {
            self.each_sink(|sink| sink.export(&batch, now));
        }
        self.inspections = inspections;
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

/// A message's merge order entry: end instant, start, index of the record.
type Entry = (Timestamp, Timestamp, u32);

/// Puts `order` (entries of `ended`) in merge order: (instant, start, key, tunnel
/// segment), with [`sort_by_instant`].
fn sort_order(order: &mut Vec<Entry>, ended: &[Ended]) {
    sort_by_instant(
        order,
        |e| e.0,
        |a, b| {
            (a.0, a.1)
                .cmp(&(b.0, b.1))
                .then_with(|| tie(&ended[a.2 as usize], &ended[b.2 as usize]))
        },
    );
}

/// Merges the sorted runs `v[bounds[i]..bounds[i + 1]]` (`bounds` from 0 to `v.len()`)
/// into one order by `cmp`, pairwise: the cost of a release is its records times the
/// log of the number of messages they come from. The stable sort that did this fell
/// back to a quicksort when the runs were many and short, as they are with two workers
/// (about 450 instructions a record on the benchmark capture, callgrind).
fn merge_runs<T: Copy>(v: &mut Vec<T>, mut bounds: Vec<usize>, cmp: impl Fn(&T, &T) -> Ordering) {
    let mut other: Vec<T> = Vec::with_capacity(v.len());
    while bounds.len() > 2 {
        other.clear();
        let mut next = vec![0];
        for pair in bounds.windows(3).step_by(2) {
            let (mut i, mut j) = (pair[0], pair[1]);
            let (mid, end) = (pair[1], pair[2]);
            while i < mid && j < end {
                if cmp(&v[j], &v[i]) == Ordering::Less {
                    other.push(v[j]);
                    j += 1;
                } else {
                    other.push(v[i]);
                    i += 1;
                }
            }
            other.extend_from_slice(&v[i..mid]);
            other.extend_from_slice(&v[j..end]);
            next.push(other.len());
        }
        if bounds.len().is_multiple_of(2) {
            // An odd number of runs: the last one waits for the next round.
            let last = bounds[bounds.len() - 2];
            other.extend_from_slice(&v[last..]);
            next.push(other.len());
        }
        std::mem::swap(v, &mut other);
        bounds = next;
    }
}

/// Sorts `v` by `cmp`, which orders by `instant` first. A radix sort on the instant, one
/// pass a byte of the span of instants `v` holds (a worker's message spans seconds: four
/// or five passes), then the entries of equal instants by `cmp`. A comparison sort of a
/// worker's 2,048 records cost the exporter about 240 instructions a record (callgrind),
/// a third of its work on short flows. Small inputs,
/// and spans of more than 2^48 ns (records ended at end of input among others), are
/// sorted by comparison.
fn sort_by_instant<T: Copy>(
    v: &mut Vec<T>,
    instant: impl Fn(&T) -> Timestamp,
    cmp: impl Fn(&T, &T) -> Ordering,
) {
    let (Some(lo), Some(hi)) = (
        v.iter().map(|e| instant(e).0).min(),
        v.iter().map(|e| instant(e).0).max(),
    ) else {
        return;
    };
    let span = hi - lo;
    if v.len() < 64 || span >= 1 << 48 {
        v.sort_unstable_by(cmp);
        return;
    }
    let n = v.len();
    let mut other: Vec<T> = Vec::with_capacity(n);
    let mut shift = 0;
    while shift < 64 && span >> shift != 0 {
        let bits = shift;
        let digit = |e: &T| ((instant(e).0 - lo) >> bits) as u8 as usize;
        let mut count = [0usize; 256];
        for e in v.iter() {
            count[digit(e)] += 1;
        }
        shift += 8;
        if count.contains(&n) {
            continue; // every entry has the same byte here
        }
        let mut at = 0;
        for c in count.iter_mut() {
            (*c, at) = (at, at + *c);
        }
        other.clear();
        other.resize(n, v[0]);
        for e in v.iter() {
            let d = digit(e);
            other[count[d]] = *e;
            count[d] += 1;
        }
        std::mem::swap(v, &mut other);
    }
    // Equal instants: by the rest of `cmp` (a run is most often one entry).
    let mut i = 0;
    while i < n {
        let mut j = i + 1;
        while j < n && instant(&v[j]) == instant(&v[i]) {
            j += 1;
        }
        if j - i > 1 {
            v[i..j].sort_unstable_by(&cmp);
        }
        i = j;
    }
}

/// The order of two records that ended at the same instant and started at the same
/// instant: by key, then by tunnel segment (so the order never depends on arrival).
fn tie(a: &Ended, b: &Ended) -> Ordering {
    (a.record.key, a.record.tunnel.segment()).cmp(&(b.record.key, b.record.tunnel.segment()))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use proptest::prelude::*;

    use super::*;
    use crate::flow::direction::DirectionConfig;
    use crate::flow::key::FlowKey;

    /// A sink that keeps what it was given.
    struct Keep(Arc<Mutex<Vec<FlowRecord>>>);

    impl RecordSink for Keep {
        fn export(&mut self, records: &[FlowRecord], _now: Timestamp) -> std::io::Result<()> {
            self.0.lock().unwrap().extend_from_slice(records);
            Ok(())
        }
        fn finish(&mut self, _now: Timestamp) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn merger(workers: usize) -> (Merger, Arc<Mutex<Vec<FlowRecord>>>) {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let sinks: Vec<Box<dyn RecordSink>> = vec![Box::new(Keep(kept.clone()))];
        let direction = DirectionRules::new(&DirectionConfig::default());
        (Merger::new(sinks, workers, None, direction), kept)
    }

    /// A record from host `src` that started at `start` ns and ended (was handed on) at
    /// `at` ns.
    fn ended(at: u64, start: u64, src: u8) -> Ended {
        let mut key = FlowKey {
            proto: 17,
            ip_version: 4,
            ..Default::default()
        };
        key.src[..4].copy_from_slice(&[198, 18, 0, src]);
        let start = Timestamp(start);
        Ended {
            at: Timestamp(at),
            record: FlowRecord::new(key, start, start),
            shape: None,
        }
    }

    fn records(worker: usize, ended: Vec<Ended>, watermark: u64) -> ExportMessage {
        ExportMessage::Records {
            worker,
            ended,
            watermark: Timestamp(watermark),
        }
    }

    /// (end instant, start, source host) of what the sink got.
    fn got(kept: &Mutex<Vec<FlowRecord>>) -> Vec<(u64, u8)> {
        kept.lock()
            .unwrap()
            .iter()
            .map(|r| (r.start.0, r.key.src[3]))
            .collect()
    }

    /// A key's notes: more than the three held in place keep their order, a record
    /// takes those up to its end (the earliest value of each field wins), and the later
    /// ones wait for the key's next record; a key with none left leaves the map.
    #[test]
    fn a_records_notes_are_those_up_to_its_end_in_the_order_they_came() {
        use crate::inspect::{tcp::TcpOptions, Note, Noted};
        let (key, other) = (ended(0, 0, 1).record.key, ended(0, 0, 2).record.key);
        let mss = |m: u16| {
            Note::TcpOptions(TcpOptions {
                mss: Some(m),
                ..TcpOptions::default()
            })
        };
        let rtt = |s: u32| Note::Rtt {
            server_us: s,
            client_us: s + 1,
        };
        let mut notes = Notes::default();
        for (ts, note) in [
            (10, mss(1400)),
            (20, rtt(5)),
            (30, mss(9000)),
            (40, rtt(7)),
            (50, mss(536)),
        ] {
            notes.add(Noted {
                key,
                ts: Timestamp(ts),
                note,
            });
        }
        assert_eq!(
            notes.take(&other, Timestamp(100)),
            None,
            "another key has none"
        );
        let first = notes.take(&key, Timestamp(35)).expect("notes up to 35");
        assert_eq!(first.tcp_options.and_then(|o| o.mss), Some(1400));
        assert_eq!(
            (first.server_rtt_us, first.client_rtt_us),
            (Some(5), Some(6))
        );
        let later = notes.take(&key, Timestamp(60)).expect("the notes after 35");
        assert_eq!(later.tcp_options.and_then(|o| o.mss), Some(536));
        assert_eq!(later.server_rtt_us, Some(7));
        assert!(notes.by_key.is_empty());
        assert_eq!(notes.take(&key, Timestamp(100)), None);
    }

    #[test]
    fn releases_below_every_watermark_in_instant_start_key_order() {
        let (mut m, kept) = merger(2);
        m.handle(records(
            0,
            vec![ended(50, 5, 1), ended(10, 1, 1), ended(30, 3, 1)],
            40,
        ));
        assert_eq!(got(&kept), [], "worker 1 has promised nothing yet");
        // Same instant and start: the key decides (host 2 before host 3), not arrival.
        m.handle(records(
            1,
            vec![ended(40, 4, 3), ended(20, 2, 2), ended(40, 4, 2)],
            100,
        ));
        assert_eq!(got(&kept), [(1, 1), (2, 2), (3, 1)], "below 40, in order");
        m.handle(records(0, vec![], 45));
        assert_eq!(got(&kept)[3..], [(4, 2), (4, 3)]);
        m.handle(records(0, vec![ended(60, 6, 1)], Timestamp::END.0));
        assert_eq!(got(&kept)[5..], [(5, 1), (6, 1)]);
        let report = m.end();
        assert_eq!(report.records, 7);
    }

    #[test]
    fn a_worker_that_panics_does_not_hold_the_others_back() {
        let kept = Arc::new(Mutex::new(Vec::new()));
        let sinks: Vec<Box<dyn RecordSink>> = vec![Box::new(Keep(kept.clone()))];
        let direction = DirectionRules::new(&DirectionConfig::default());
        let exporter = Exporter::spawn(sinks, 2, 8, None, direction).unwrap();
        let tx = exporter.sender();
        tx.send(records(0, vec![ended(10, 1, 1)], 50)).unwrap();
        let guard = EndOnPanic::new(exporter.sender(), 1);
        let worker = std::thread::spawn(move || {
            let _guard = guard;
            panic!("a worker bug");
        });
        assert!(worker.join().is_err());
        // Worker 0 is alive and its sender open: the record is released because worker
        // 1's watermark went to the end, not because the channel closed.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while kept.lock().unwrap().is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(got(&kept), [(1, 1)]);
        drop(tx);
        exporter.finish();
    }

    proptest! {
        /// The radix sort of a message's order gives the comparison sort's order: spans
        /// small and large, equal instants and starts, records ended at end of input.
        #[test]
        fn sort_order_is_the_comparison_order(
            spec in proptest::collection::vec((0u64..6, 0u64..3, 0u8..4), 0..400),
            scale in 0u32..40,
            base in 0u64..1 << 50,
        ) {
            let ended: Vec<Ended> = spec
                .iter()
                .map(|&(at, off, host)| {
                    let at = if at == 5 && scale % 7 == 0 {
                        Timestamp::END.0
                    } else {
                        base + ((at * 7919 + u64::from(host) * 104_729) << scale) % (1 << 50)
                    };
                    ended(at, at.saturating_sub(off << scale), host)
                })
                .collect();
            let mut order: Vec<Entry> = ended
                .iter()
                .enumerate()
                .map(|(i, e)| (e.at, e.record.start, i as u32))
                .collect();
            let mut want = order.clone();
            want.sort_by(|a, b| {
                (a.0, a.1)
                    .cmp(&(b.0, b.1))
                    .then_with(|| tie(&ended[a.2 as usize], &ended[b.2 as usize]))
            });
            sort_order(&mut order, &ended);
            let key = |e: &Entry| (e.0, e.1, ended[e.2 as usize].record.key);
            prop_assert_eq!(
                order.iter().map(key).collect::<Vec<_>>(),
                want.iter().map(key).collect::<Vec<_>>()
            );
        }

        /// Merging sorted runs gives the sorted whole, whatever the number and lengths.
        #[test]
        fn merge_runs_gives_the_sorted_whole(
            runs in proptest::collection::vec(proptest::collection::vec(0u32..50, 0..40), 0..9),
        ) {
            let mut v = Vec::new();
            let mut bounds = vec![0];
            for mut run in runs {
                run.sort_unstable();
                v.extend(run);
                bounds.push(v.len());
            }
            let mut want = v.clone();
            want.sort_unstable();
            merge_runs(&mut v, bounds, |a, b| a.cmp(b));
            prop_assert_eq!(v, want);
        }

        /// Records of several workers, each sent in any order within a message, with
        /// watermarks that keep their promise: the sinks get every record once, in
        /// (instant, start, key) order, whatever the interleaving.
        #[test]
        fn any_interleaving_gives_the_sorted_records(
            workers in 1usize..4,
            spec in proptest::collection::vec((0u64..4, 0u64..50, 0u64..3, 0u8..4), 0..120),
            cuts in proptest::collection::vec(0u64..60, 0..12),
        ) {
            // Each record: (worker, end instant, start offset, source host). Workers send
            // in rounds: round r sends the records ending in [cut r-1, cut r) and promises
            // cut r, shuffled by the spec's order.
            let mut cuts = cuts;
            cuts.sort_unstable();
            cuts.push(Timestamp::END.0);
            let (mut m, kept) = merger(workers);
            let mut from = 0u64;
            let mut expected = Vec::new();
            for &cut in &cuts {
                for w in 0..workers {
                    let batch: Vec<Ended> = spec
                        .iter()
                        .filter(|(sw, at, ..)| *sw as usize % workers == w && *at >= from && *at < cut)
                        .map(|&(_, at, off, host)| ended(at, at.saturating_sub(off), host))
                        .collect();
                    expected.extend(batch.iter().map(|e| (e.at, e.record.start, e.record.key)));
                    m.handle(records(w, batch.into_iter().rev().collect(), cut));
                }
                from = cut;
            }
            m.end();
            expected.sort();
            let out: Vec<_> = kept.lock().unwrap().iter().map(|r| (r.start, r.key)).collect();
            let want: Vec<_> = expected.iter().map(|&(_, start, key)| (start, key)).collect();
            prop_assert_eq!(out, want);
        }
    }
}
