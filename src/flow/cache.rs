//! One flow-cache shard: accumulates packets into records and decides when each ends.
//!
//! A shard is owned by exactly one worker (`&mut self`, no lock): the sources send every
//! packet of a flow, both directions, to the same worker.
//!
//! # Expiry without scanning
//! Records live in a slab; a hash table of slab indexes finds a key's slot (the key is
//! stored once, in the slot: the table holds 4-byte indexes, so at 1M flows it costs
//! about 10 MB rather than the 110 MB of a `HashMap<FlowKey, u32>`). Each slot is on two
//! intrusive doubly linked lists:
//! - an *idle list* for its timeout class (TCP and others, UDP, ICMP, TCP after FIN/RST),
//!   in the order the slots joined it (see "Lazy re-queue");
//! - the *active list*, in first-packet order, for the active timeout.
//!
//! `expire(now)` pops heads while they are due, so its cost is the number of records it
//! ends, never the size of the table. Time is the packet's time, handed in: a capture file
//! gives the records a live probe would have given. Time never runs backwards inside a
//! shard: an older timestamp is clamped to the newest seen and counted.
//!
//! # Lazy re-queue
//! Keeping an idle list in exact last-packet order means moving a slot to the tail on
//! every packet, which touches its two list neighbours: at 100k flows and more, two cache
//! misses a packet on slots the packet has nothing to do with. Instead, time is cut into
//! *re-queue epochs* of 2^k ns (`requeue_shift`: at most 1/16 of the shortest idle timeout
//! and at most 0.27 s), and a packet moves its slot to the tail only when it falls in a
//! later epoch than the slot's previous packet (or when a FIN or RST moves the slot to
//! another list). So a slot's last packet is less than one epoch after the time it joined
//! its list, and the list is in joining order. `expire` still pops only heads that are
//! truly due (`due` reads the slot's last packet time), so every record still ends exactly
//! at its deadline with its reason; what changes is *when* it is handed on: a due record
//! queued behind a not-yet-due head waits until that head is decided, which is less than
//! one epoch later. Hence a worker promises the exporter `horizon()`, which allows for that
//! wait, rather than its clock, and the exporter's order stays the same for any number of
//! workers. A packet
//! that finds its flow's record past its deadline still splits it there (`due` on
//! lookup), so record contents never depend on the epoch; only a full shard, which may
//! evict a record while an already-due one waits in a list, can differ from exact order.
//!
//! # When a record ends
//! - idle: no packet for more than the class's idle timeout (`now - last > idle`);
//! - active: the record started more than the active timeout ago (`now - start > active`);
//!   the next packet of the flow starts a new record;
//! - when both deadlines have passed by the time the cache looks, the earlier one is the
//!   reason, so the reason never depends on when the cache looked;
//! - end of flow: a TCP FIN or RST was seen and then no packet for `tcp_end_grace`. The
//!   grace keeps the closing handshake's last ACK and retransmitted FINs in the record
//!   instead of leaving one-packet records behind (see `CacheConfig::tcp_end_grace`);
//! - lack of resources: the shard is full; the least recently seen record makes room (to
//!   within one re-queue epoch: the oldest of the idle lists' heads);
//! - forced end: `flush`, at end of input or shutdown.

use std::hash::{BuildHasher, BuildHasherDefault};
use std::time::Duration;

use hashbrown::HashTable;
use rustc_hash::FxHasher;

use super::key::{FlowKey, PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP, PROTO_UDPLITE};
use super::record::{EndReason, FlowRecord, ReverseCounters};
use super::tunnel::{Tunnel, TunnelKind};
use crate::decode::PacketMeta;
use crate::inspect::splt::{Shape, ShapeConfig, ShapePacket};
use crate::time::Timestamp;

/// TCP FIN flag bit.
const TCP_FIN: u8 = 0x01;
/// TCP RST flag bit.
const TCP_RST: u8 = 0x04;
/// TCP SYN flag bit.
const TCP_SYN: u8 = 0x02;
/// TCP ACK flag bit.
const TCP_ACK: u8 = 0x10;

/// Timeouts and size of a shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheConfig {
    /// Idle timeout for TCP and protocols without their own.
    pub idle_timeout: Duration,
    /// Idle timeout for UDP (and UDP-Lite).
    pub udp_idle_timeout: Duration,
    /// Idle timeout for ICMP and ICMPv6.
    pub icmp_idle_timeout: Duration,
    /// Longest a record may last before it is exported and a new one started.
    pub active_timeout: Duration,
    /// After a TCP FIN or RST, the record ends once no packet came for this long.
    /// Default 5 s: long enough for the final ACK and retransmitted FINs on paths with
    /// round-trip times of seconds, short enough that a new connection on the same ports
    /// (after TIME_WAIT, 60 s on Linux) is a new record.
    pub tcp_end_grace: Duration,
    /// Most records this shard holds at once; when full, the least recently seen record
    /// (to within one re-queue epoch) is exported early with end reason "lack of
    /// resources".
    pub max_flows: usize,
    /// Meter biflows (RFC 5103): both directions of a flow in one record, keyed by the
    /// initiator, with the responder's counters in `FlowRecord::reverse`. The record
    /// ends when the flow as a whole is idle, lasted the active timeout, or closed.
    pub biflow: bool,
    /// Gather each record's shape (`inspect::splt::Shape`: payload octets, TCP event
    /// counts, packet sequence and statistics) in a side table: `--inspect tcp`/`splt`.
    pub shape: Option<ShapeConfig>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            idle_timeout: Duration::from_secs(15),
            udp_idle_timeout: Duration::from_secs(15),
            icmp_idle_timeout: Duration::from_secs(15),
            active_timeout: Duration::from_secs(30 * 60),
            tcp_end_grace: Duration::from_secs(5),
            max_flows: 1 << 20,
            biflow: false,
            shape: None,
        }
    }
}

/// A record that ended, and the instant it ended at: its idle or active deadline, the
/// packet time of an eviction, or `Timestamp::END` for the end of input. The instant
/// depends only on the record and the configuration, so the exporter can put records of
/// several shards into one order that does not depend on thread timing.
#[derive(Clone, Debug, PartialEq)]
pub struct Ended {
    /// When the record ended.
    pub at: Timestamp,
    /// The record.
    pub record: FlowRecord,
    /// Its shape, when the cache gathers shapes (`CacheConfig::shape`).
    pub shape: Option<Box<Shape>>,
}

/// Counters of one shard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Packets metered into records.
    pub packets: u64,
    /// Octets metered into records.
    pub octets: u64,
    /// Records created.
    pub created: u64,
    /// Records ended, by end reason (index = IPFIX flowEndReason - 1).
    pub ended: [u64; 5],
    /// Packets whose timestamp was older than one already seen (clamped forward).
    pub clamped_timestamps: u64,
}

/// Timeout classes; each has its own idle list.
const CLASS_DEFAULT: usize = 0;
const CLASS_UDP: usize = 1;
const CLASS_ICMP: usize = 2;
const CLASS_TCP_ENDED: usize = 3;
const CLASSES: usize = 4;

/// "No slot" in the intrusive lists.
const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug, Default)]
struct Links {
    prev: u32,
    next: u32,
}

#[derive(Clone, Copy, Debug, Default)]
struct List {
    head: u32,
    tail: u32,
}

impl List {
    const EMPTY: List = List {
        head: NIL,
        tail: NIL,
    };
}

/// What a slot accumulates: the record's fields that every flow has. Tunnel and biflow
/// fields live in side tables that exist only when those features are on, so the slot of
/// the default configuration stays within the memory budget (see the test below).
#[derive(Clone, Copy, Debug)]
struct Core {
    key: FlowKey,
    start: Timestamp,
    end: Timestamp,
    packets: u64,
    octets: u64,
    tcp_flags: u8,
    min_ttl: u8,
    max_ttl: u8,
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
}

/// A biflow slot's counters per direction (side table, biflow caches only); the slot's
/// `Core` holds the whole flow, which drives its timeouts.
#[derive(Clone, Copy, Debug, Default)]
struct Sides {
    fwd: DirectionCounters,
    rev: DirectionCounters,
}

/// What one direction of a biflow counted. `Core` holds the same counters flat rather
/// than embedding this struct: embedded, its 5 bytes of tail padding could not take the
/// MACs, and the slot would grow from 112 to 120 bytes.
#[derive(Clone, Copy, Debug, Default)]
struct DirectionCounters {
    start: Timestamp,
    end: Timestamp,
    packets: u64,
    octets: u64,
    tcp_flags: u8,
    min_ttl: u8,
    max_ttl: u8,
}

#[derive(Clone, Debug)]
struct Slot {
    record: Core,
    idle: Links,
    active: Links,
}

type FxBuild = BuildHasherDefault<FxHasher>;

/// One flow-cache shard.
#[derive(Debug)]
pub struct FlowCache {
    config: CacheConfig,
    idle_by_class: [Duration; CLASSES],
    /// Slab indexes, hashed by their slot's key (FxHash).
    map: HashTable<u32>,
    slots: Vec<Slot>,
    /// The tunnel of each slot; empty until the first tunneled packet, then as long as
    /// `slots` (40 bytes a flow, only when decapsulation is on).
    tunnels: Vec<Tunnel>,
    /// Per-direction counters of each slot in a biflow cache (80 bytes a flow); empty in
    /// a uniflow cache.
    sides: Vec<Sides>,
    /// In a biflow cache with tunnels, the tunnel of each slot's first reverse packet
    /// (while `tunnels` holds the initiator's); sized like `tunnels`.
    rev_tunnels: Vec<Tunnel>,
    /// The shape of each slot's record (`CacheConfig::shape`; 264 bytes a flow, the
    /// default 10 sequence entries in place); empty otherwise.
    shapes: Vec<Shape>,
    /// Boxes for the shapes of ending records, from the exporter (`recycle_shapes`;
    /// boxed in the vector because the boxes are what is reused).
    #[allow(clippy::vec_box)]
    spare_shapes: Vec<Box<Shape>>,
    #[allow(clippy::vec_box)]
    shape_pool: Option<crossbeam_channel::Receiver<Vec<Box<Shape>>>>,
    free: Vec<u32>,
    idle_lists: [List; CLASSES],
    active_list: List,
    clock: Timestamp,
    /// No record is due before this instant: a lower bound on every list head's deadline,
    /// exact after `expire` and lowered whenever a slot joins a list. `expire` at a time
    /// not past it has nothing to do, which spares the per-packet look at five list
    /// heads (14% of a conversion's instructions, callgrind).
    next_due: Timestamp,
    /// A slot's re-queue epoch is its last packet time shifted right by this many bits
    /// (epochs of 2^shift ns; 0 keeps the idle lists exactly in last-packet order).
    requeue_shift: u32,
    stats: CacheStats,
}

impl FlowCache {
    /// An empty shard.
    pub fn new(config: CacheConfig) -> FlowCache {
        let idle_by_class = [
            config.idle_timeout,
            config.udp_idle_timeout,
            config.icmp_idle_timeout,
            config.tcp_end_grace,
        ];
        FlowCache {
            config,
            idle_by_class,
            map: HashTable::new(),
            slots: Vec::new(),
            tunnels: Vec::new(),
            sides: Vec::new(),
            rev_tunnels: Vec::new(),
            shapes: Vec::new(),
            spare_shapes: Vec::new(),
            shape_pool: None,
            free: Vec::new(),
            idle_lists: [List::EMPTY; CLASSES],
            active_list: List::EMPTY,
            clock: Timestamp::ZERO,
            next_due: Timestamp::END,
            requeue_shift: requeue_shift(&idle_by_class),
            stats: CacheStats::default(),
        }
    }

    /// Nothing this shard ends from now on ends before this instant: a worker hands it to
    /// the exporter as its watermark. It is the clock, or earlier when a record may wait
    /// behind its idle list's head (see "Lazy re-queue"): every slot in a list joined it
    /// no earlier than the head did, and the head joined in the re-queue epoch of its last
    /// packet, so no record of the list ends before that epoch's start plus the timeout.
    pub fn horizon(&self) -> Timestamp {
        let mut horizon = self.clock;
        for (list, timeout) in self.idle_lists.iter().zip(self.idle_by_class) {
            if let Some(head) = self.slots.get(list.head as usize) {
                let epoch_start = (head.record.end.0 >> self.requeue_shift) << self.requeue_shift;
                horizon = horizon.min(Timestamp(epoch_start).saturating_add(timeout));
            }
        }
        horizon
    }

    /// The configuration in force.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Records currently held.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether no record is held.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Counters so far.
    pub fn stats(&self) -> &CacheStats {
        &self.stats
    }

    /// The newest time this shard has seen.
    pub fn clock(&self) -> Timestamp {
        self.clock
    }

    /// Takes the boxes of ending records' shapes from `pool` (the exporter's, once it is
    /// done with them) instead of allocating them.
    pub fn recycle_shapes(&mut self, pool: crossbeam_channel::Receiver<Vec<Box<Shape>>>) {
        self.shape_pool = Some(pool);
    }

    /// Meters one decoded packet seen at `ts`. Records that end on the way (expired by
    /// the time `ts`, or evicted to make room) are appended to `out`.
    pub fn meter(&mut self, meta: &PacketMeta, ts: Timestamp, out: &mut Vec<Ended>) {
        self.meter_hashed(meta, ts, flow_hash(meta), out);
    }

    /// `meter` for a packet whose `flow_hash` is already known (the dispatcher computed
    /// it to pick this shard).
    pub fn meter_hashed(
        &mut self,
        meta: &PacketMeta,
        ts: Timestamp,
        hash: u64,
        out: &mut Vec<Ended>,
    ) {
        let now = self.advance_clock(ts);
        self.expire(now, out);
        self.meter_at(meta, now, hash, NIL, out);
    }

    /// `meter_hashed` at `now` (the clock, advanced) without first ending what is due:
    /// `meter_batch` ends it once a group (see there). A record due but not yet ended is
    /// split on lookup all the same (`due`), and the shard expires before it evicts, so
    /// the records are those of expiring first. `hint` is a slot that held the packet's
    /// key a moment ago (`NIL` if none): taken without a lookup if it still holds it.
    #[inline(always)]
    fn meter_at(
        &mut self,
        meta: &PacketMeta,
        now: Timestamp,
        hash: u64,
        hint: u32,
        out: &mut Vec<Ended>,
    ) {
        debug_assert_eq!(hash, flow_hash(meta));
        self.stats.packets += 1;
        self.stats.octets += u64::from(meta.octets);
        let segment = meta.tunnel.segment();
        // A live slot (a freed one has no packets) with the key is the table's entry for
        // the key, keys being unique in the table.
        let hinted = self.slots.get(hint as usize).is_some_and(|s| {
            s.record.packets != 0
                && s.record.key == meta.key
                && segment_at(&self.tunnels, hint) == segment
        });
        let mut found = if hinted {
            Some((hint, false))
        } else {
            self.find(hash, &meta.key, segment).map(|i| (i, false))
        };
        if found.is_none() && self.config.biflow {
            if let Some(reverse) = meta.key.reversed() {
                let rhash = hash_flow(&reverse, segment);
                found = self.find(rhash, &reverse, segment).map(|i| (i, true));
            }
        }
        if let Some((index, _)) = found {
            // `expire` above ended every due record; this keeps the split exact even for a
            // caller that expires less often.
            if let Some((reason, at)) = self.due(index, now) {
                out.push(self.remove(index, reason, at));
                found = None;
            }
        }
        if let Some((index, reverse)) = found {
            // A slot moves to its idle list's tail only when this packet is in a later
            // re-queue epoch than its last one, or when the flags move it to another list.
            // Most packets of a busy flow so touch their own slot only, not its list
            // neighbours (see "Lazy re-queue" above).
            let old = &self.slots[index as usize].record;
            let old_class = slot_class(old);
            let stale = (now.0 >> self.requeue_shift) != (old.end.0 >> self.requeue_shift);
            let r = &mut self.slots[index as usize].record;
            r.end = now;
            r.packets += 1;
            r.octets += u64::from(meta.octets);
            r.tcp_flags |= meta.tcp_flags;
            r.min_ttl = r.min_ttl.min(meta.ttl);
            r.max_ttl = r.max_ttl.max(meta.ttl);
            let class = slot_class(r);
            if let Some(sides) = self.sides.get_mut(index as usize) {
                let side = if reverse {
                    &mut sides.rev
                } else {
                    &mut sides.fwd
                };
                let first = side.packets == 0;
                side_add(side, meta, now);
                if first && meta.tunnel.is_some() {
                    // A direction's first packet says how that direction travels.
                    if reverse {
                        self.rev_tunnels[index as usize] = meta.tunnel;
                    } else {
                        self.tunnels[index as usize] = meta.tunnel;
                    }
                }
            }
            if let (Some(config), Some(shape)) =
                (self.config.shape, self.shapes.get_mut(index as usize))
            {
                shape.add(
                    config,
                    ShapePacket::new(now, meta.payload, meta.tcp_events, reverse),
                );
            }
            if stale || class != old_class {
                self.idle_unlink(index, old_class);
                self.idle_push_back(index, class);
            }
            return;
        }
        if self.map.len() >= self.config.max_flows.max(1) {
            self.expire(now, out);
            if self.map.len() >= self.config.max_flows.max(1) {
                self.evict_least_recent(out);
            }
        }
        // A biflow's key is its initiator's direction: a first packet that answers (a
        // SYN-ACK, an ICMP reply) was sent by the responder.
        let flipped = if self.config.biflow && is_response(meta) {
            meta.key.reversed()
        } else {
            None
        };
        let (key, hash, src_mac, dst_mac) = match flipped {
            Some(k) => (k, hash_flow(&k, segment), meta.dst_mac, meta.src_mac),
            None => (meta.key, hash, meta.src_mac, meta.dst_mac),
        };
        let record = Core {
            key,
            start: now,
            end: now,
            packets: 1,
            octets: u64::from(meta.octets),
            tcp_flags: meta.tcp_flags,
            min_ttl: meta.ttl,
            max_ttl: meta.ttl,
            src_mac,
            dst_mac,
        };
        let class = slot_class(&record);
        let slot = Slot {
            record,
            idle: Links::default(),
            active: Links::default(),
        };
        let index = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = slot;
                i
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        self.set_side_tables(index, meta, flipped.is_some(), now);
        let (slots, tunnels) = (&self.slots, &self.tunnels);
        self.map.insert_unique(hash, index, |&i| {
            hash_flow(&slots[i as usize].record.key, segment_at(tunnels, i))
        });
        self.idle_push_back(index, class);
        self.active_push_back(index);
        self.stats.created += 1;
    }

    /// `meter_hashed` for a run of packets (each with its time and `flow_hash`), in
    /// order. Records are exactly those of metering them one by one; the difference is
    /// speed: before it meters a group of packets, it looks all their slots up, so the
    /// cache misses of a group overlap instead of coming one after another; and it ends
    /// what is due once a group rather than once a packet (with flows of two or three
    /// packets a record ends every few packets, and each `expire` that ends one looks at
    /// every list head twice). What ends is the same: a packet of a flow whose record is
    /// due splits it on lookup, eviction expires first, and every due record has ended
    /// when the call returns (before the caller asks for the `horizon`); only the order
    /// in `out` differs, which the exporter's order does not depend on.
    pub fn meter_batch(&mut self, packets: &[Decoded], out: &mut Vec<Ended>) {
        for group in packets.chunks(LOOKAHEAD) {
            // The slots found here are checked, not looked up again, when metered (the
            // packets before may have ended or replaced them).
            let mut hints = [NIL; LOOKAHEAD];
            for (p, hint) in group.iter().zip(&mut hints) {
                if let Some(index) = self.find(p.hash, &p.meta.key, p.meta.tunnel.segment()) {
                    prefetch(&self.slots[index as usize]);
                    if let Some(shape) = self.shapes.get(index as usize) {
                        prefetch(shape);
                    }
                    *hint = index;
                }
            }
            for (p, &hint) in group.iter().zip(&hints) {
                let now = self.advance_clock(p.ts);
                self.meter_at(&p.meta, now, p.hash, hint, out);
            }
            self.expire(self.clock, out);
        }
    }

    /// The slot holding `key` in `segment`, if any.
    fn find(&self, hash: u64, key: &FlowKey, segment: (TunnelKind, u32)) -> Option<u32> {
        let (slots, tunnels) = (&self.slots, &self.tunnels);
        self.map
            .find(hash, |&i| {
                slots[i as usize].record.key == *key && segment_at(tunnels, i) == segment
            })
            .copied()
    }

    /// Fills the side tables of a new slot: its tunnel (the table exists from the first
    /// tunneled packet on) and, in a biflow cache, its per-direction counters.
    fn set_side_tables(&mut self, index: u32, meta: &PacketMeta, flipped: bool, now: Timestamp) {
        let i = index as usize;
        if meta.tunnel.is_some() || !self.tunnels.is_empty() {
            if self.tunnels.len() < self.slots.len() {
                self.tunnels.resize(self.slots.len(), Tunnel::default());
            }
            // A flipped first packet is the responder's: the initiator's tunnel is
            // inferred until one of its packets comes.
            self.tunnels[i] = if flipped {
                meta.tunnel.mirrored()
            } else {
                meta.tunnel
            };
            if self.config.biflow {
                if self.rev_tunnels.len() < self.slots.len() {
                    self.rev_tunnels.resize(self.slots.len(), Tunnel::default());
                }
                self.rev_tunnels[i] = if flipped {
                    meta.tunnel
                } else {
                    Tunnel::default()
                };
            }
        }
        if self.config.biflow {
            if self.sides.len() < self.slots.len() {
                self.sides.resize(self.slots.len(), Sides::default());
            }
            let mut sides = Sides::default();
            side_add(
                if flipped {
                    &mut sides.rev
                } else {
                    &mut sides.fwd
                },
                meta,
                now,
            );
            self.sides[i] = sides;
        }
        if let Some(config) = self.config.shape {
            if self.shapes.len() < self.slots.len() {
                self.shapes.resize(self.slots.len(), Shape::default());
            }
            self.shapes[i].start(
                config,
                ShapePacket::new(now, meta.payload, meta.tcp_events, flipped),
            );
        }
    }

    /// Ends every record that is due at `now` (a time older than the shard's clock counts
    /// as the clock) and appends them to `out`.
    pub fn expire(&mut self, now: Timestamp, out: &mut Vec<Ended>) {
        let now = now.max(self.clock);
        self.clock = now;
        if now <= self.next_due {
            return;
        }
        for class in 0..CLASSES {
            while let Some((reason, at)) = self.due(self.idle_lists[class].head, now) {
                out.push(self.remove(self.idle_lists[class].head, reason, at));
            }
        }
        while let Some((reason, at)) = self.due(self.active_list.head, now) {
            out.push(self.remove(self.active_list.head, reason, at));
        }
        // Every head is now not due; nothing is popped before the earliest of their
        // deadlines (records queued behind a head wait for it: see "Lazy re-queue").
        let mut next = Timestamp::END;
        for class in 0..CLASSES {
            if let Some(slot) = self.slots.get(self.idle_lists[class].head as usize) {
                next = next.min(slot.record.end.saturating_add(self.idle_by_class[class]));
            }
        }
        if let Some(slot) = self.slots.get(self.active_list.head as usize) {
            next = next.min(slot.record.start.saturating_add(self.config.active_timeout));
        }
        self.next_due = next;
    }

    /// Whether the record in slot `index` has ended by `now`, why, and when. Its end is the
    /// earlier of its idle deadline (last packet + its class's idle timeout) and its active
    /// deadline (first packet + active timeout); on a tie, idle. The reason depends only on
    /// the record, never on when the cache looks, so shards that see different packets
    /// between two of a flow's packets still agree on every record.
    fn due(&self, index: u32, now: Timestamp) -> Option<(EndReason, Timestamp)> {
        let slot = self.slots.get(index as usize)?;
        let r = &slot.record;
        let class = slot_class(r);
        let idle_deadline = r.end.saturating_add(self.idle_by_class[class]);
        let active_deadline = r.start.saturating_add(self.config.active_timeout);
        if now <= idle_deadline.min(active_deadline) {
            None
        } else if idle_deadline <= active_deadline {
            let reason = if class == CLASS_TCP_ENDED {
                EndReason::EndOfFlow
            } else {
                EndReason::IdleTimeout
            };
            Some((reason, idle_deadline))
        } else {
            Some((EndReason::ActiveTimeout, active_deadline))
        }
    }

    /// Ends every record with `reason` (normally forced end), oldest first.
    pub fn flush(&mut self, reason: EndReason, out: &mut Vec<Ended>) {
        while self.active_list.head != NIL {
            let head = self.active_list.head;
            out.push(self.remove(head, reason, Timestamp::END));
        }
    }

    fn advance_clock(&mut self, ts: Timestamp) -> Timestamp {
        if ts < self.clock {
            self.stats.clamped_timestamps += 1;
        } else {
            self.clock = ts;
        }
        self.clock
    }

    /// Exports the record whose last packet is oldest, across the idle lists.
    fn evict_least_recent(&mut self, out: &mut Vec<Ended>) {
        let victim = self
            .idle_lists
            .iter()
            .map(|l| l.head)
            .filter(|&h| h != NIL)
            .min_by_key(|&h| self.slots[h as usize].record.end);
        if let Some(index) = victim {
            out.push(self.remove(index, EndReason::LackOfResources, self.clock));
        }
    }

    #[inline(always)]
    fn remove(&mut self, index: u32, reason: EndReason, at: Timestamp) -> Ended {
        self.idle_unlink(index, slot_class(&self.slots[index as usize].record));
        self.active_unlink(index);
        let c = self.slots[index as usize].record;
        // Marks the slot free for `meter_at`'s hint (a live slot has a packet at least).
        self.slots[index as usize].record.packets = 0;
        let tunnel = self
            .tunnels
            .get(index as usize)
            .copied()
            .unwrap_or_default();
        let mut record = FlowRecord {
            key: c.key,
            start: c.start,
            end: c.end,
            packets: c.packets,
            octets: c.octets,
            tcp_flags: c.tcp_flags,
            min_ttl: c.min_ttl,
            max_ttl: c.max_ttl,
            src_mac: c.src_mac,
            dst_mac: c.dst_mac,
            end_reason: reason,
            tunnel,
            direction: Default::default(),
            egress_if: 0,
            reverse: None,
        };
        if let Some(sides) = self.sides.get(index as usize) {
            // The slot's own counters are the whole biflow; the record's are its
            // initiator's direction. A biflow whose initiator sent nothing (the capture
            // began with the answer) keeps the whole flow's times.
            let f = sides.fwd;
            record.packets = f.packets;
            record.octets = f.octets;
            record.tcp_flags = f.tcp_flags;
            if f.packets > 0 {
                (record.start, record.end) = (f.start, f.end);
                (record.min_ttl, record.max_ttl) = (f.min_ttl, f.max_ttl);
            } else {
                (record.min_ttl, record.max_ttl) = (0, 0);
            }
            let r = sides.rev;
            let rev_tunnel = match self.rev_tunnels.get(index as usize) {
                Some(t) if t.is_some() => *t,
                _ if tunnel.is_some() => tunnel.mirrored(),
                _ => Tunnel::default(),
            };
            record.reverse = Some(ReverseCounters {
                start: r.start,
                end: r.end,
                packets: r.packets,
                octets: r.octets,
                tcp_flags: r.tcp_flags,
                min_ttl: r.min_ttl,
                max_ttl: r.max_ttl,
                tunnel: rev_tunnel,
            });
        }
        let hash = hash_flow(&record.key, tunnel.segment());
        if let Ok(entry) = self.map.find_entry(hash, |&i| i == index) {
            entry.remove();
        }
        self.free.push(index);
        self.stats.ended[reason as usize - 1] += 1;
        let shape = match (self.config.shape, self.shapes.get_mut(index as usize)) {
            (Some(_), Some(s)) => {
                if self.spare_shapes.is_empty() {
                    if let Some(Ok(boxes)) = self.shape_pool.as_ref().map(|p| p.try_recv()) {
                        self.spare_shapes = boxes;
                    }
                }
                // A spare box takes a copy of the shape; the slot's own is restarted
                // when its next record starts (`Shape::start`).
                Some(match self.spare_shapes.pop() {
                    Some(mut spare) => {
                        Shape::clone_from(&mut spare, s);
                        spare
                    }
                    None => Box::new(s.clone()),
                })
            }
            _ => None,
        };
        Ended { at, record, shape }
    }

    fn idle_push_back(&mut self, index: u32, class: usize) {
        let deadline = self.slots[index as usize]
            .record
            .end
            .saturating_add(self.idle_by_class[class]);
        self.next_due = self.next_due.min(deadline);
        let list = &mut self.idle_lists[class];
        let tail = list.tail;
        {
            let slot = &mut self.slots[index as usize];
            slot.idle = Links {
                prev: tail,
                next: NIL,
            };
        }
        if tail == NIL {
            list.head = index;
        } else {
            self.slots[tail as usize].idle.next = index;
        }
        list.tail = index;
    }

    /// Takes slot `index` off the idle list of `class` (the one its flags named when it
    /// joined).
    fn idle_unlink(&mut self, index: u32, class: usize) {
        let Links { prev, next } = self.slots[index as usize].idle;
        let list = &mut self.idle_lists[class];
        if prev == NIL {
            list.head = next;
        } else {
            self.slots[prev as usize].idle.next = next;
        }
        if next == NIL {
            list.tail = prev;
        } else {
            self.slots[next as usize].idle.prev = prev;
        }
    }

    fn active_push_back(&mut self, index: u32) {
        let deadline = self.slots[index as usize]
            .record
            .start
            .saturating_add(self.config.active_timeout);
        self.next_due = self.next_due.min(deadline);
        let tail = self.active_list.tail;
        self.slots[index as usize].active = Links {
            prev: tail,
            next: NIL,
        };
        if tail == NIL {
            self.active_list.head = index;
        } else {
            self.slots[tail as usize].active.next = index;
        }
        self.active_list.tail = index;
    }

    fn active_unlink(&mut self, index: u32) {
        let Links { prev, next } = self.slots[index as usize].active;
        if prev == NIL {
            self.active_list.head = next;
        } else {
            self.slots[prev as usize].active.next = next;
        }
        if next == NIL {
            self.active_list.tail = prev;
        } else {
            self.slots[next as usize].active.prev = prev;
        }
    }
}

/// Packets a batch looks up ahead of metering them (`meter_batch`).
const LOOKAHEAD: usize = 32;

/// Asks the CPU to start loading every cache line `value` spans (a slot, and with
/// shapes its shape). The cache's one `unsafe` block: the prefetch intrinsic is declared
/// unsafe for its target feature.
#[inline(always)]
#[allow(unsafe_code)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let p = (value as *const T).cast::<i8>();
        // SAFETY: a prefetch is a hint that never faults and reads nothing the program
        // sees; SSE, which it needs, is part of every x86_64 CPU.
        unsafe {
            // Each 64-byte step (a constant count: unrolled), and the last byte, whose
            // line is one more when `value` straddles a line boundary.
            let mut at = 0;
            while at < size_of::<T>() {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(at));
                at += 64;
            }
            _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(size_of::<T>().saturating_sub(1)));
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Re-queue epochs are the largest power of two nanoseconds at most 1/16 of the shortest
/// idle timeout and at most 2^28 ns (0.27 s): records are handed on at most that much
/// (packet) time after their deadline, and a flow that has a packet more often than that
/// moves in its idle list once an epoch instead of once a packet.
fn requeue_shift(idle_by_class: &[Duration; CLASSES]) -> u32 {
    const MAX_SHIFT: u32 = 28;
    let shortest = idle_by_class.iter().min().copied().unwrap_or_default();
    let sixteenth = u64::try_from(shortest.as_nanos() / 16).unwrap_or(u64::MAX);
    match sixteenth.checked_ilog2() {
        Some(bits) => bits.min(MAX_SHIFT),
        None => 0,
    }
}

/// The hash a packet's flow is filed under in a shard (and dispatched to a shard by).
#[inline]
pub fn flow_hash(meta: &PacketMeta) -> u64 {
    hash_flow(&meta.key, meta.tunnel.segment())
}

/// A decoded packet on its way to a shard: its time, what the decoder read, and its
/// `flow_hash`, computed once where the packet is dispatched and reused by the cache.
#[derive(Clone, Copy, Debug)]
pub struct Decoded {
    /// When the packet was seen.
    pub ts: Timestamp,
    /// What the decoder read.
    pub meta: PacketMeta,
    /// `flow_hash(&meta)`.
    pub hash: u64,
}

impl Decoded {
    /// `meta` seen at `ts`, hashed.
    #[inline]
    pub fn new(meta: &PacketMeta, ts: Timestamp) -> Decoded {
        Decoded {
            ts,
            meta: *meta,
            hash: flow_hash(meta),
        }
    }
}

/// The hash the table files a flow under: its key, and its tunnel segment when it has
/// one (so untunneled flows hash exactly as the key alone).
#[inline]
fn hash_flow(key: &FlowKey, segment: (TunnelKind, u32)) -> u64 {
    if segment.0 == TunnelKind::None {
        FxBuild::default().hash_one(key)
    } else {
        FxBuild::default().hash_one((key, segment))
    }
}

/// The tunnel segment of slot `i` (none when the tunnel table does not exist yet).
#[inline]
fn segment_at(tunnels: &[Tunnel], i: u32) -> (TunnelKind, u32) {
    tunnels
        .get(i as usize)
        .map_or((TunnelKind::None, 0), Tunnel::segment)
}

/// Adds a packet to one direction of a biflow.
fn side_add(d: &mut DirectionCounters, meta: &PacketMeta, now: Timestamp) {
    if d.packets == 0 {
        d.start = now;
        d.min_ttl = meta.ttl;
        d.max_ttl = meta.ttl;
    }
    d.end = now;
    d.packets += 1;
    d.octets += u64::from(meta.octets);
    d.tcp_flags |= meta.tcp_flags;
    d.min_ttl = d.min_ttl.min(meta.ttl);
    d.max_ttl = d.max_ttl.max(meta.ttl);
}

/// Whether a packet answers another: a TCP SYN-ACK, or an ICMP query reply (echo,
/// timestamp, information, address mask; ICMPv6 echo).
fn is_response(meta: &PacketMeta) -> bool {
    let key = &meta.key;
    if key.proto == PROTO_TCP {
        return meta.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN | TCP_ACK;
    }
    matches!(
        (key.is_icmp(), key.ip_version, key.icmp_type()),
        (true, 4, 0 | 14 | 16 | 18) | (true, 6, 129)
    )
}

/// The timeout class of a record, derived from it rather than stored (a stored byte
/// would pad the slot from 112 to 120 bytes): TCP after a FIN or RST, else by protocol.
/// The flags only ever gain bits, so a record never leaves the ended class.
#[inline]
fn slot_class(r: &Core) -> usize {
    if r.key.proto == PROTO_TCP && r.tcp_flags & (TCP_FIN | TCP_RST) != 0 {
        CLASS_TCP_ENDED
    } else {
        class_of(&r.key)
    }
}

fn class_of(key: &FlowKey) -> usize {
    match key.proto {
        PROTO_UDP | PROTO_UDPLITE => CLASS_UDP,
        PROTO_ICMP | PROTO_ICMPV6 => CLASS_ICMP,
        _ => CLASS_DEFAULT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 5 sets at most 128 bytes of memory per active flow at 1M flows: a 112-byte
    /// slot plus about 10 bytes of hash table (measured with `cargo bench --bench memory`).
    #[test]
    fn slot_stays_within_the_memory_budget() {
        assert!(size_of::<Slot>() <= 112, "{}", size_of::<Slot>());
    }

    const SEC: u64 = 1_000_000_000;

    fn t(secs: f64) -> Timestamp {
        Timestamp((secs * SEC as f64) as u64)
    }

    fn pkt(proto: u8, sport: u16, flags: u8, octets: u32, ttl: u8) -> PacketMeta {
        let mut m = PacketMeta::default();
        m.key
            .set_addrs("198.18.0.1".parse().unwrap(), "198.18.0.2".parse().unwrap());
        m.key.proto = proto;
        m.key.src_port = sport;
        m.key.dst_port = 80;
        m.tcp_flags = flags;
        m.octets = octets;
        m.ttl = ttl;
        m
    }

    fn cache() -> FlowCache {
        FlowCache::new(CacheConfig {
            idle_timeout: Duration::from_secs(15),
            udp_idle_timeout: Duration::from_secs(10),
            icmp_idle_timeout: Duration::from_secs(5),
            active_timeout: Duration::from_secs(60),
            tcp_end_grace: Duration::from_secs(2),
            max_flows: 100,
            biflow: false,
            shape: None,
        })
    }

    /// Lazy re-queue changes when a record is handed on, never what it holds or when it
    /// ended: random traffic (flows with packets milliseconds apart, pauses longer than the
    /// timeouts, FINs and RSTs) gives the same records from the default cache (epochs of
    /// 2^26 ns here, the grace being 2 s) as from one whose idle lists are in exact
    /// last-packet order (shift 0). And every record a call hands on ends at or after the
    /// horizon the cache promised before that call.
    #[test]
    fn lazy_requeue_gives_the_exact_records_and_keeps_its_horizon() {
        use crate::generate::Rng;
        for seed in 0..20 {
            // Room for every flow: a full shard may evict differently (module docs).
            let config = CacheConfig {
                max_flows: 1000,
                ..cache().config().clone()
            };
            let mut lazy = FlowCache::new(config.clone());
            assert_eq!(lazy.requeue_shift, 26);
            let mut exact = FlowCache::new(config);
            exact.requeue_shift = 0;
            let (mut lazy_out, mut exact_out) = (Vec::new(), Vec::new());
            let mut rng = Rng::new(seed);
            let mut now = t(100.0);
            for _ in 0..20_000 {
                now.0 += match rng.below(100) {
                    0 => rng.below(20 * SEC),
                    1..=9 => rng.below(SEC),
                    _ => rng.below(SEC / 50),
                };
                let proto = [PROTO_TCP, PROTO_UDP, PROTO_ICMP][rng.below(3) as usize];
                let flags = match rng.below(200) {
                    0 => TCP_FIN | TCP_ACK,
                    1 => TCP_RST,
                    _ => TCP_ACK,
                };
                let m = pkt(proto, rng.below(40) as u16, flags, 100, 64);
                let (horizon, before) = (lazy.horizon(), lazy_out.len());
                if rng.below(10) == 0 {
                    lazy.expire(now, &mut lazy_out);
                    exact.expire(now, &mut exact_out);
                } else {
                    lazy.meter(&m, now, &mut lazy_out);
                    exact.meter(&m, now, &mut exact_out);
                }
                for e in &lazy_out[before..] {
                    assert!(e.at >= horizon, "seed {seed}: {e:?} before {horizon:?}");
                }
            }
            lazy.flush(EndReason::ForcedEnd, &mut lazy_out);
            exact.flush(EndReason::ForcedEnd, &mut exact_out);
            let order = |e: &Ended| {
                (
                    e.at,
                    e.record.start,
                    e.record.key.src_port,
                    e.record.key.proto,
                )
            };
            lazy_out.sort_by_key(order);
            exact_out.sort_by_key(order);
            let first_difference = lazy_out.iter().zip(&exact_out).find(|(l, e)| l != e);
            assert_eq!(first_difference, None, "seed {seed}");
            assert_eq!(lazy_out.len(), exact_out.len(), "seed {seed}");
            assert!(lazy_out.len() > 1000, "{}", lazy_out.len());
        }
    }

    /// `meter_batch` ends what is due once a group of packets, not once a packet: the same
    /// records and counters as metering one by one (uniflow and biflow, with room and
    /// with a full shard evicting), and all that is due has ended when it returns.
    #[test]
    fn batches_give_the_records_of_metering_one_by_one() {
        use crate::generate::Rng;
        for seed in 0..24 {
            let config = CacheConfig {
                max_flows: if seed % 3 == 0 { 25 } else { 1000 },
                biflow: seed % 2 == 1,
                ..cache().config().clone()
            };
            let mut batched = FlowCache::new(config.clone());
            let mut single = FlowCache::new(config);
            let (mut batched_out, mut single_out) = (Vec::new(), Vec::new());
            let mut rng = Rng::new(seed);
            let mut now = t(100.0);
            let mut packets = Vec::new();
            for round in 0..400 {
                packets.clear();
                for _ in 0..rng.below(100) {
                    now.0 += match rng.below(100) {
                        0 => rng.below(20 * SEC),
                        1..=9 => rng.below(SEC),
                        _ => rng.below(SEC / 50),
                    };
                    let proto = [PROTO_TCP, PROTO_UDP, PROTO_ICMP][rng.below(3) as usize];
                    let flags = match rng.below(100) {
                        0 => TCP_FIN | TCP_ACK,
                        1 => TCP_RST,
                        2 => TCP_SYN,
                        3 => TCP_SYN | TCP_ACK,
                        _ => TCP_ACK,
                    };
                    let mut m = pkt(proto, rng.below(60) as u16, flags, 100, 64);
                    if rng.below(2) == 0 {
                        // The answer: the same flow the other way.
                        let reversed = m.key.reversed().unwrap();
                        m.key = reversed;
                    }
                    // Now and then a timestamp that went backwards (clamped).
                    let ts = if rng.below(50) == 0 {
                        Timestamp(now.0 - SEC)
                    } else {
                        now
                    };
                    packets.push(Decoded::new(&m, ts));
                }
                batched.meter_batch(&packets, &mut batched_out);
                for p in &packets {
                    single.meter(&p.meta, p.ts, &mut single_out);
                }
                if round % 7 == 0 {
                    batched.expire(now, &mut batched_out);
                    single.expire(now, &mut single_out);
                }
                assert_eq!(batched.len(), single.len(), "seed {seed} round {round}");
                assert_eq!(
                    batched.horizon(),
                    single.horizon(),
                    "seed {seed} round {round}"
                );
            }
            batched.flush(EndReason::ForcedEnd, &mut batched_out);
            single.flush(EndReason::ForcedEnd, &mut single_out);
            let order = |e: &Ended| (e.at, e.record.start, e.record.key, e.record.end_reason);
            batched_out.sort_by_key(order);
            single_out.sort_by_key(order);
            assert_eq!(batched_out.len(), single_out.len(), "seed {seed}");
            let first_difference = batched_out.iter().zip(&single_out).find(|(b, s)| b != s);
            assert_eq!(first_difference, None, "seed {seed}");
            assert_eq!(batched.stats(), single.stats(), "seed {seed}");
            assert!(single_out.len() > 500, "{}", single_out.len());
        }
    }

    #[test]
    fn packets_accumulate_into_one_record() {
        let mut c = cache();
        let mut out = Vec::new();
        c.meter(&pkt(PROTO_TCP, 1000, 0x02, 60, 64), t(1.0), &mut out);
        c.meter(&pkt(PROTO_TCP, 1000, 0x10, 1500, 60), t(2.0), &mut out);
        c.meter(&pkt(PROTO_TCP, 1000, 0x18, 40, 62), t(3.0), &mut out);
        assert!(out.is_empty());
        c.flush(EndReason::ForcedEnd, &mut out);
        assert_eq!(out.len(), 1);
        let r = out[0].record;
        assert_eq!((r.packets, r.octets, r.tcp_flags), (3, 1600, 0x1a));
        assert_eq!((r.start, r.end), (t(1.0), t(3.0)));
        assert_eq!((r.min_ttl, r.max_ttl), (60, 64));
        assert_eq!(r.end_reason, EndReason::ForcedEnd);
        assert!(c.is_empty());
    }

    #[test]
    fn idle_gap_longer_than_timeout_splits_and_equal_gap_does_not() {
        let mut c = cache();
        let mut out = Vec::new();
        c.meter(&pkt(PROTO_TCP, 1, 0x10, 100, 64), t(0.0), &mut out);
        c.meter(&pkt(PROTO_TCP, 1, 0x10, 100, 64), t(15.0), &mut out); // gap == idle: same record
        assert!(out.is_empty());
        c.meter(&pkt(PROTO_TCP, 1, 0x10, 100, 64), t(30.5), &mut out); // gap 15.5 s > 15 s
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].record.packets, out[0].record.end_reason),
            (2, EndReason::IdleTimeout)
        );
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn expire_without_packets_uses_per_protocol_idle_timeouts() {
        let mut c = cache();
        let mut out = Vec::new();
        c.meter(&pkt(PROTO_TCP, 1, 0x10, 100, 64), t(0.0), &mut out);
        c.meter(&pkt(PROTO_UDP, 2, 0, 100, 64), t(0.0), &mut out);
        c.meter(&pkt(PROTO_ICMP, 0, 0, 100, 64), t(0.0), &mut out);
        c.expire(t(5.1), &mut out);
        assert_eq!(
            out.iter().map(|e| e.record.key.proto).collect::<Vec<_>>(),
            vec![PROTO_ICMP]
        );
        c.expire(t(10.1), &mut out);
        assert_eq!(out.last().unwrap().record.key.proto, PROTO_UDP);
        c.expire(t(15.1), &mut out);
        assert_eq!(out.last().unwrap().record.key.proto, PROTO_TCP);
        assert!(out
            .iter()
            .all(|e| e.record.end_reason == EndReason::IdleTimeout));
        assert!(c.is_empty());
    }

    #[test]
    fn active_timeout_splits_a_long_flow() {
        let mut c = cache();
        let mut out = Vec::new();
        for i in 0..=130 {
            c.meter(&pkt(PROTO_UDP, 7, 0, 100, 64), t(i as f64), &mut out);
        }
        // Records [0..60], [61..121] end on the active timeout; [122..130] is left.
        assert_eq!(out.len(), 2);
        assert!(out
            .iter()
            .all(|e| e.record.end_reason == EndReason::ActiveTimeout));
        assert_eq!(
            (
                out[0].record.start,
                out[0].record.end,
                out[0].record.packets
            ),
            (t(0.0), t(60.0), 61)
        );
        assert_eq!((out[1].record.start, out[1].record.packets), (t(61.0), 61));
        c.flush(EndReason::ForcedEnd, &mut out);
        assert_eq!(out.iter().map(|e| e.record.packets).sum::<u64>(), 131);
    }

    #[test]
    fn the_earlier_deadline_is_the_reason_however_late_the_cache_looks() {
        let mut c = cache();
        let mut out = Vec::new();
        for at in [0.0, 10.0, 20.0, 30.0, 40.0, 50.0, 55.0] {
            c.meter(&pkt(PROTO_TCP, 1, 0x10, 100, 64), t(at), &mut out);
        }
        assert!(out.is_empty());
        // Active deadline 60 s comes before the idle deadline 70 s.
        c.expire(t(100.0), &mut out);
        assert_eq!(out[0].record.end_reason, EndReason::ActiveTimeout);
        for i in 0..5 {
            c.meter(
                &pkt(PROTO_TCP, 2, 0x10, 100, 64),
                t(100.0 + 10.0 * i as f64),
                &mut out,
            );
        }
        // Idle deadline 155 s comes before the active deadline 160 s; the next packet of
        // the flow, not a scan, finds it.
        c.meter(&pkt(PROTO_TCP, 2, 0x10, 100, 64), t(170.0), &mut out);
        assert_eq!(out[1].record.end_reason, EndReason::IdleTimeout);
        // Each record ended at its earlier deadline: start + 60 s, last + 15 s.
        assert_eq!((out[0].at, out[1].at), (t(60.0), t(155.0)));
        assert_eq!(out[1].record.packets, 5);
    }

    #[test]
    fn fin_ends_the_record_after_the_grace_and_keeps_the_last_ack() {
        let mut c = cache();
        let mut out = Vec::new();
        c.meter(&pkt(PROTO_TCP, 9, 0x02, 60, 64), t(0.0), &mut out);
        c.meter(&pkt(PROTO_TCP, 9, 0x11, 52, 64), t(1.0), &mut out); // FIN+ACK
        c.meter(&pkt(PROTO_TCP, 9, 0x10, 52, 64), t(1.5), &mut out); // last ACK, within grace
        c.expire(t(3.4), &mut out);
        assert!(
            out.is_empty(),
            "grace of 2 s after the last packet not over yet"
        );
        c.expire(t(3.6), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].record.packets, out[0].record.end_reason),
            (3, EndReason::EndOfFlow)
        );
    }

    #[test]
    fn rst_on_first_packet_is_end_of_flow() {
        let mut c = cache();
        let mut out = Vec::new();
        c.meter(&pkt(PROTO_TCP, 9, 0x14, 40, 64), t(0.0), &mut out);
        c.expire(t(2.5), &mut out);
        assert_eq!(out[0].record.end_reason, EndReason::EndOfFlow);
    }

    #[test]
    fn full_cache_exports_the_least_recently_seen_record() {
        let mut c = FlowCache::new(CacheConfig {
            max_flows: 2,
            ..CacheConfig::default()
        });
        let mut out = Vec::new();
        c.meter(&pkt(PROTO_TCP, 1, 0x10, 100, 64), t(0.0), &mut out);
        c.meter(&pkt(PROTO_UDP, 2, 0, 100, 64), t(1.0), &mut out);
        c.meter(&pkt(PROTO_TCP, 1, 0x10, 100, 64), t(2.0), &mut out); // flow 1 is now the newest
        c.meter(&pkt(PROTO_TCP, 3, 0x10, 100, 64), t(3.0), &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].record.key.src_port, out[0].record.end_reason),
            (2, EndReason::LackOfResources)
        );
        assert_eq!(c.len(), 2);
        c.flush(EndReason::ForcedEnd, &mut out);
        assert_eq!(out.iter().map(|e| e.record.packets).sum::<u64>(), 4);
        assert_eq!(c.stats().ended, [0, 0, 0, 2, 1]);
    }

    #[test]
    fn older_timestamps_are_clamped_and_counted() {
        let mut c = cache();
        let mut out = Vec::new();
        c.meter(&pkt(PROTO_TCP, 1, 0x10, 100, 64), t(10.0), &mut out);
        c.meter(&pkt(PROTO_TCP, 1, 0x10, 100, 64), t(4.0), &mut out);
        assert_eq!(c.stats().clamped_timestamps, 1);
        c.flush(EndReason::ForcedEnd, &mut out);
        assert_eq!((out[0].record.start, out[0].record.end), (t(10.0), t(10.0)));
    }

    #[test]
    fn slots_are_reused_and_lists_stay_consistent_under_churn() {
        // A reference model: per key, the packets since the record started.
        let mut c = FlowCache::new(CacheConfig {
            max_flows: 50,
            ..cache().config().clone()
        });
        let mut out = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut total = 0u64;
        for i in 0..20_000u64 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let proto = [PROTO_TCP, PROTO_UDP, PROTO_ICMP][(seed % 3) as usize];
            let flags = if seed.is_multiple_of(97) { TCP_FIN } else { 0 };
            c.meter(
                &pkt(proto, (seed >> 8) as u16 % 200, flags, 64, 64),
                t(i as f64 * 0.01),
                &mut out,
            );
            total += 1;
        }
        c.flush(EndReason::ForcedEnd, &mut out);
        assert_eq!(out.iter().map(|e| e.record.packets).sum::<u64>(), total);
        assert!(c.slots.len() <= 50);
        let ended: u64 = c.stats().ended.iter().sum();
        assert_eq!(ended, out.len() as u64);
        assert_eq!(c.stats().created, out.len() as u64);
    }

    fn tunneled(mut m: PacketMeta, kind: TunnelKind, id: u32, outer_last: u8) -> PacketMeta {
        m.tunnel = Tunnel {
            kind,
            id,
            outer_ip_version: 4,
            outer_src: [203, 0, 113, outer_last, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            outer_dst: [203, 0, 113, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        m
    }

    #[test]
    fn tunnel_segments_separate_flows_and_outer_addresses_do_not() {
        let mut c = cache();
        let mut out = Vec::new();
        let p = pkt(PROTO_UDP, 1000, 0, 100, 64);
        // Untunneled first, so the tunnel table is created on a non-empty cache.
        c.meter(&p, t(0.0), &mut out);
        c.meter(&tunneled(p, TunnelKind::Vxlan, 10, 1), t(1.0), &mut out);
        // Same VNI from another VTEP: the same flow (outer addresses are not identity).
        c.meter(&tunneled(p, TunnelKind::Vxlan, 10, 2), t(2.0), &mut out);
        c.meter(&tunneled(p, TunnelKind::Vxlan, 11, 1), t(3.0), &mut out);
        c.meter(&tunneled(p, TunnelKind::Gre, 10, 1), t(4.0), &mut out);
        // GTP-U TEIDs differ per direction and bearer: not identity.
        c.meter(&tunneled(p, TunnelKind::GtpU, 1, 1), t(5.0), &mut out);
        c.meter(&tunneled(p, TunnelKind::GtpU, 2, 1), t(6.0), &mut out);
        c.flush(EndReason::ForcedEnd, &mut out);
        let mut got: Vec<_> = out
            .iter()
            .map(|e| {
                let r = &e.record;
                (r.tunnel.kind, r.tunnel.id, r.tunnel.outer_src[3], r.packets)
            })
            .collect();
        got.sort();
        assert_eq!(
            got,
            vec![
                (TunnelKind::None, 0, 0, 1),
                (TunnelKind::Vxlan, 10, 1, 2),
                (TunnelKind::Vxlan, 11, 1, 1),
                (TunnelKind::Gre, 10, 1, 1),
                (TunnelKind::GtpU, 1, 1, 2),
            ]
        );
    }

    fn biflow_cache() -> FlowCache {
        FlowCache::new(CacheConfig {
            biflow: true,
            ..cache().config().clone()
        })
    }

    fn reply(m: PacketMeta) -> PacketMeta {
        let mut r = m;
        r.key = m.key.reversed().unwrap();
        r
    }

    #[test]
    fn biflow_pairs_both_directions_under_the_initiator() {
        let mut c = biflow_cache();
        let mut out = Vec::new();
        let syn = pkt(PROTO_TCP, 40000, 0x02, 60, 64);
        c.meter(&syn, t(1.0), &mut out);
        let mut synack = reply(pkt(PROTO_TCP, 40000, 0x12, 60, 50));
        synack.src_mac = [2; 6];
        c.meter(&synack, t(1.5), &mut out);
        c.meter(&pkt(PROTO_TCP, 40000, 0x10, 52, 64), t(2.0), &mut out);
        c.meter(
            &reply(pkt(PROTO_TCP, 40000, 0x18, 1500, 48)),
            t(3.0),
            &mut out,
        );
        c.flush(EndReason::ForcedEnd, &mut out);
        assert_eq!(out.len(), 1);
        let r = out[0].record;
        assert_eq!(r.key, syn.key);
        assert_eq!((r.packets, r.octets, r.tcp_flags), (2, 112, 0x12));
        assert_eq!(
            (r.start, r.end, r.min_ttl, r.max_ttl),
            (t(1.0), t(2.0), 64, 64)
        );
        let rev = r.reverse.unwrap();
        assert_eq!((rev.packets, rev.octets, rev.tcp_flags), (2, 1560, 0x1a));
        assert_eq!(
            (rev.start, rev.end, rev.min_ttl, rev.max_ttl),
            (t(1.5), t(3.0), 48, 50)
        );
        assert_eq!(c.stats().packets, 4);
    }

    #[test]
    fn biflow_seen_from_its_syn_ack_is_keyed_by_the_initiator() {
        let mut c = biflow_cache();
        let mut out = Vec::new();
        let client = pkt(PROTO_TCP, 40000, 0x10, 52, 64);
        let mut synack = reply(pkt(PROTO_TCP, 40000, 0x12, 60, 50));
        synack.src_mac = [2; 6];
        synack.dst_mac = [1; 6];
        c.meter(&synack, t(1.0), &mut out);
        c.flush(EndReason::ForcedEnd, &mut out);
        let r = out[0].record;
        assert_eq!(r.key, client.key);
        assert_eq!((r.packets, r.src_mac, r.dst_mac), (0, [1; 6], [2; 6]));
        assert_eq!(r.reverse.unwrap().packets, 1);
        // ... and its initiator's later packets land in the same record.
        c.meter(&synack, t(10.0), &mut out);
        c.meter(&client, t(10.5), &mut out);
        c.flush(EndReason::ForcedEnd, &mut out);
        assert_eq!(out.len(), 2);
        let r = out[1].record;
        assert_eq!((r.packets, r.reverse.unwrap().packets), (1, 1));
        assert_eq!(r.start, t(10.5));
    }

    #[test]
    fn biflow_idles_out_only_when_both_directions_are_quiet_and_icmp_errors_stay_apart() {
        let mut c = biflow_cache();
        let mut out = Vec::new();
        // UDP idle is 10 s: forward at 0, reverse at 8, forward at 16 (16 s after the
        // forward packet but 8 s after the reverse one).
        let q = pkt(PROTO_UDP, 5353, 0, 80, 64);
        c.meter(&q, t(0.0), &mut out);
        c.meter(&reply(q), t(8.0), &mut out);
        c.meter(&q, t(16.0), &mut out);
        assert!(out.is_empty());
        let mut echo = pkt(PROTO_ICMP, 0, 0, 84, 64);
        echo.key.src_port = 0;
        echo.key.dst_port = 8 << 8;
        c.meter(&echo, t(16.1), &mut out);
        c.meter(&reply(echo), t(16.2), &mut out);
        let mut unreachable = echo;
        unreachable.key.dst_port = 3 << 8 | 3;
        c.meter(&unreachable, t(16.3), &mut out);
        let mut back = unreachable;
        back.key.src = unreachable.key.dst;
        back.key.dst = unreachable.key.src;
        c.meter(&back, t(16.4), &mut out);
        c.flush(EndReason::ForcedEnd, &mut out);
        let got: Vec<_> = out
            .iter()
            .map(|e| {
                (
                    e.record.key.proto,
                    e.record.packets,
                    e.record.reverse.unwrap().packets,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (PROTO_UDP, 2, 1),
                (PROTO_ICMP, 1, 1),
                (PROTO_ICMP, 1, 0),
                (PROTO_ICMP, 1, 0)
            ]
        );
    }

    #[test]
    fn biflow_keeps_each_directions_tunnel_as_its_first_packet_had_it() {
        let mut c = biflow_cache();
        let mut out = Vec::new();
        // Cloud mirroring: both directions arrive from the same mirror source (outer .1).
        let q = tunneled(pkt(PROTO_UDP, 5353, 0, 80, 64), TunnelKind::Vxlan, 9, 1);
        c.meter(&q, t(0.0), &mut out);
        c.meter(&reply(q), t(0.5), &mut out);
        // A GTP-U bearer seen from its answer first: the initiator's tunnel is inferred
        // (addresses swapped, TEID unknown) until its own packet corrects it.
        let up = tunneled(
            pkt(PROTO_TCP, 40000, 0x10, 52, 64),
            TunnelKind::GtpU,
            0x11,
            7,
        );
        let mut down = reply(tunneled(
            pkt(PROTO_TCP, 40000, 0x12, 60, 64),
            TunnelKind::GtpU,
            0x22,
            9,
        ));
        down.tunnel.outer_src = up.tunnel.outer_dst;
        down.tunnel.outer_dst = up.tunnel.outer_src;
        c.meter(&down, t(1.0), &mut out);
        c.flush(EndReason::ForcedEnd, &mut out);
        let (vx, gtp) = (out[0].record, out[1].record);
        let rev = vx.reverse.unwrap();
        assert_eq!((rev.tunnel.outer_src[3], rev.tunnel.id), (1, 9));
        assert_eq!(gtp.key, up.key);
        assert_eq!(gtp.tunnel.id, 0);
        assert_eq!(gtp.tunnel.outer_src, up.tunnel.outer_src);
        assert_eq!(gtp.reverse.unwrap().tunnel, down.tunnel);
        out.clear();
        c.meter(&down, t(100.0), &mut out);
        c.meter(&up, t(100.5), &mut out);
        c.flush(EndReason::ForcedEnd, &mut out);
        let gtp = out.last().unwrap().record;
        assert_eq!(gtp.tunnel, up.tunnel);
        assert_eq!(gtp.reverse.unwrap().tunnel, down.tunnel);
    }

    fn shaped(biflow: bool, splt_packets: u8) -> FlowCache {
        FlowCache::new(CacheConfig {
            active_timeout: Duration::from_secs(10),
            biflow,
            shape: Some(ShapeConfig { splt_packets }),
            ..Default::default()
        })
    }

    fn with(mut m: PacketMeta, payload: u32, events: u8) -> PacketMeta {
        m.payload = payload;
        m.tcp_events = events;
        m
    }

    #[test]
    fn a_biflow_shape_keeps_both_directions_and_signs_the_responder() {
        use crate::inspect::tcp::{RETRANSMISSION, ZERO_WINDOW};
        let mut c = shaped(true, 3);
        let mut out = Vec::new();
        // The capture begins with the responder's SYN-ACK: the record is keyed by the
        // initiator, and that first packet is the responder's.
        let synack = reply(pkt(PROTO_TCP, 40000, 0x12, 60, 50));
        c.meter(&with(synack, 0, 0), t(1.0), &mut out);
        let data = pkt(PROTO_TCP, 40000, 0x18, 140, 64);
        c.meter(&with(data, 100, RETRANSMISSION), t(1.5), &mut out);
        let answer = reply(pkt(PROTO_TCP, 40000, 0x10, 1500, 50));
        c.meter(&with(answer, 1448, ZERO_WINDOW), t(1.75), &mut out);
        c.meter(&with(answer, 1448, 0), t(2.0), &mut out);
        c.flush(EndReason::ForcedEnd, &mut out);
        assert_eq!(out.len(), 1);
        let shape = out[0].shape.as_deref().expect("a shape");
        let entries: Vec<_> = shape
            .splt
            .iter()
            .map(|e| (e.len, e.reverse, e.iat_us))
            .collect();
        assert_eq!(
            entries,
            [(0, true, 0), (100, false, 500_000), (1448, true, 250_000)]
        );
        assert_eq!(shape.forward.payload_bytes, 100);
        assert_eq!(shape.forward.retransmissions, 1);
        assert_eq!(shape.reverse.payload_bytes, 2896);
        assert_eq!(shape.reverse.zero_windows, 1);
        assert_eq!((shape.len.n, shape.iat.n), (4, 3));
        assert_eq!((shape.iat.min, shape.iat.max), (250_000_000, 500_000_000));
    }

    #[test]
    fn each_record_has_a_shape_of_its_own_packets() {
        let mut c = shaped(false, 2);
        let mut out = Vec::new();
        let data = pkt(PROTO_UDP, 5000, 0, 128, 64);
        for (i, secs) in [0.0, 4.0, 8.0, 12.0].into_iter().enumerate() {
            c.meter(&with(data, 100 + i as u32, 0), t(1.0 + secs), &mut out);
        }
        c.flush(EndReason::ForcedEnd, &mut out);
        // The active timeout (10 s) ends the first record after three packets; the
        // fourth starts a record whose shape starts over.
        assert_eq!(out.len(), 2);
        let first = out[0].shape.as_deref().unwrap();
        assert_eq!(first.forward.payload_bytes, 100 + 101 + 102);
        assert_eq!(first.splt.len(), 2);
        assert_eq!((first.iat.n, first.len.max), (2, 102));
        let second = out[1].shape.as_deref().unwrap();
        assert_eq!(second.forward.payload_bytes, 103);
        assert_eq!((second.iat.n, second.splt.len()), (0, 1));
        assert_eq!(second.splt[0].iat_us, 0);
        // Without the option, no shape and no side table.
        let mut plain = cache();
        let mut out = Vec::new();
        plain.meter(&data, t(1.0), &mut out);
        plain.flush(EndReason::ForcedEnd, &mut out);
        assert!(out[0].shape.is_none() && plain.shapes.is_empty());
    }

    #[test]
    fn recycled_boxes_carry_the_same_shapes_and_the_slots_start_over() {
        // The same packets through a cache that allocates its shape boxes and one that
        // takes them from a pool filled with stale shapes: equal records and shapes.
        let run = |pool: Option<crossbeam_channel::Receiver<Vec<Box<Shape>>>>| {
            let mut c = shaped(false, 3);
            if let Some(p) = pool {
                c.recycle_shapes(p);
            }
            let mut out = Vec::new();
            for round in 0..3u16 {
                for port in 0..4u16 {
                    let data = pkt(PROTO_UDP, 5000 + port, 0, 128, 64);
                    for k in 0..=(port as u32) {
                        let secs = f64::from(round) * 100.0 + f64::from(k);
                        c.meter(
                            &with(data, 10 * k + u32::from(round), 0),
                            t(1.0 + secs),
                            &mut out,
                        );
                    }
                }
                // Every record of the round ends by idle timeout before the next.
                c.expire(t(f64::from(round) * 100.0 + 90.0), &mut out);
            }
            c.flush(EndReason::ForcedEnd, &mut out);
            out
        };
        let allocated = run(None);
        let (tx, rx) = crossbeam_channel::bounded(4);
        let stale = |n: u32| {
            let mut s = Shape::first(
                ShapeConfig { splt_packets: 3 },
                ShapePacket::new(t(0.0), n, 0, true),
            );
            s.add(
                ShapeConfig { splt_packets: 3 },
                ShapePacket::new(t(1.0), n, 0, false),
            );
            Box::new(s)
        };
        tx.send((0..3).map(stale).collect()).unwrap();
        tx.send((3..20).map(stale).collect()).unwrap();
        let recycled = run(Some(rx.clone()));
        assert_eq!(allocated.len(), 12);
        assert_eq!(recycled, allocated);
        // Both batches of boxes were taken (12 records, 20 boxes: the second in part).
        assert!(rx.is_empty());
    }
}
