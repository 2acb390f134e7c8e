//! A worker: decode, fragment tracking and one flow-cache shard, for packets of any source.
//!
//! The same `Worker` serves capture files and live interfaces: the source calls
//! `handle_packet` for each frame and `tick` when time passes without packets; finished
//! records collect in `pending` until the driver hands them to the exporter. Nothing here
//! reads a clock, takes a lock or allocates per packet.

use crate::capture::Packet;
use crate::decode::{self, PacketMeta, Undecodable};
use crate::flow::cache::{CacheConfig, FlowCache};
use crate::flow::fragments::FragmentTable;
use crate::flow::record::{EndReason, FlowRecord};
use crate::time::Timestamp;

use super::stats::Counters;

/// Decode + meter for one shard.
#[derive(Debug)]
pub struct Worker {
    cache: FlowCache,
    fragments: FragmentTable,
    meta: PacketMeta,
    pending: Vec<FlowRecord>,
    counters: Counters,
}

impl Worker {
    /// A worker with an empty cache shard.
    pub fn new(config: CacheConfig) -> Worker {
        Worker {
            cache: FlowCache::new(config),
            fragments: FragmentTable::default(),
            meta: PacketMeta::default(),
            pending: Vec::new(),
            counters: Counters::default(),
        }
    }

    /// Decodes and meters one frame. Every frame is counted once: metered or undecodable.
    pub fn handle_packet(&mut self, packet: &Packet<'_>) {
        self.counters.read += 1;
        match decode::decode(
            packet.link_type,
            packet.data,
            packet.orig_len,
            &mut self.meta,
        ) {
            Ok(()) => {
                self.meta.key.in_if = packet.interface;
                self.fragments.handle(&mut self.meta, packet.ts);
                self.cache.meter(&self.meta, packet.ts, &mut self.pending);
                self.counters.metered += 1;
            }
            Err(reason) => {
                self.counters.count_undecodable(reason);
                if reason == Undecodable::UnsupportedLinkType {
                    *self
                        .counters
                        .unsupported_link_types
                        .entry(packet.link_type)
                        .or_default() += 1;
                }
            }
        }
    }

    /// Lets time pass: ends the records due at `now`.
    pub fn tick(&mut self, now: Timestamp) {
        self.cache.expire(now, &mut self.pending);
    }

    /// Ends every record (end of input or shutdown).
    pub fn flush(&mut self) {
        self.cache.flush(EndReason::ForcedEnd, &mut self.pending);
    }

    /// Finished records waiting for the exporter.
    pub fn pending(&self) -> &[FlowRecord] {
        &self.pending
    }

    /// Takes the finished records, leaving an empty buffer of the same capacity behind.
    pub fn take_pending(&mut self) -> Vec<FlowRecord> {
        let capacity = self.pending.capacity().max(64);
        std::mem::replace(&mut self.pending, Vec::with_capacity(capacity))
    }

    /// The newest packet time seen.
    pub fn clock(&self) -> Timestamp {
        self.cache.clock()
    }

    /// Records currently held in the shard.
    pub fn active_flows(&self) -> usize {
        self.cache.len()
    }

    /// Counters, with the cache's and fragment table's folded in.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters.clone();
        let cache = self.cache.stats();
        c.flows_created = cache.created;
        c.flows_ended = cache.ended;
        c.clamped_timestamps = cache.clamped_timestamps;
        c.metered_octets = cache.octets;
        c.fragments_unmatched = self.fragments.stats().unmatched;
        c.active_flows = self.cache.len() as u64;
        c
    }
}
