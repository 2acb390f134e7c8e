//! A record's shape (`--inspect tcp` and `splt`): what its packets looked like one by
//! one, gathered where the record is, in the flow cache.
//!
//! Payload octets and the TCP counts (`tcp`), and the sequence of the first packets'
//! lengths and gaps and the length and inter-arrival statistics (`splt`) are properties
//! of one *record*: a record cut by the active timeout starts over. So they are gathered
//! by the flow-cache shard that meters the record, in a side table beside its slots that
//! exists only when `tcp` or `splt` is on ([`Shape`], one per slot), and leave with the
//! record. What a packet contributes is in its `PacketMeta`: its payload length and the
//! events the connection's TCP analysis (`tcp.rs`, on the capture thread, which sees both
//! directions) found in it.
//!
//! Statistics are Welford's running mean and sum of squared differences: no sample is
//! stored, so a record of a million packets costs what one of two does. The sequence
//! keeps at most `splt_packets` entries: in place up to the default 10 ([`Sequence`]),
//! so a record allocates nothing for it; past that on the heap, allocated once, when
//! the record starts.

use crate::time::Timestamp;

/// `inspect.splt_packets` by default.
pub const DEFAULT_SPLT_PACKETS: u8 = 10;

/// `inspect.splt_packets` at most.
pub const MAX_SPLT_PACKETS: u8 = 32;

/// What the flow cache gathers a shape for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShapeConfig {
    /// Packets the sequence keeps (0: no sequence, with `tcp` alone).
    pub splt_packets: u8,
}

/// What one direction of a record counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DirectionCounts {
    /// Transport payload octets on the wire (`payload_bytes`).
    pub payload_bytes: u64,
    /// Segments TCP analysis called retransmissions (`retransmissions`).
    pub retransmissions: u32,
    /// Segments TCP analysis called out of order (`out_of_order`).
    pub out_of_order: u32,
    /// Segments advertising a zero window (`zero_windows`).
    pub zero_windows: u32,
}

/// Running statistics of a series of integers (Welford): count, min, max, mean and the
/// sum of squared differences from the mean.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Welford {
    /// Values added.
    pub n: u64,
    /// Smallest value (0 while `n == 0`).
    pub min: u64,
    /// Largest value.
    pub max: u64,
    /// Mean of the values.
    pub mean: f64,
    /// Sum of squared differences from the mean.
    pub m2: f64,
}

impl Welford {
    /// Adds `x`.
    #[inline]
    pub fn add(&mut self, x: u64) {
        if self.n == 0 {
            (self.min, self.max) = (x, x);
        } else {
            self.min = self.min.min(x);
            self.max = self.max.max(x);
        }
        self.n += 1;
        let x = x as f64;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// The sample standard deviation (n − 1 in the denominator), 0 for one value, `None`
    /// for none.
    pub fn stddev(&self) -> Option<f64> {
        match self.n {
            0 => None,
            1 => Some(0.0),
            n => Some((self.m2.max(0.0) / (n - 1) as f64).sqrt()),
        }
    }
}

/// One packet of the `splt` sequence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SpltEntry {
    /// Transport payload length on the wire.
    pub len: u32,
    /// Sent by the biflow record's responder (written with a minus sign).
    pub reverse: bool,
    /// Microseconds since the record's previous packet (0 for its first), truncated.
    pub iat_us: u32,
}

/// Entries a [`Sequence`] holds in place.
const INLINE: usize = DEFAULT_SPLT_PACKETS as usize;

/// The `splt` sequence of a record: up to [`INLINE`] entries in place, more (with
/// `splt_packets` above the default) on the heap. In place because it was an allocation
/// on the capture thread and a free on the exporter's for every record (beside the
/// shape's own box, which remains), and glibc's malloc makes a free on another thread
/// than the allocation's costly.
#[derive(Clone, Debug)]
pub enum Sequence {
    /// `entries[..len]`; the rest are default.
    Inline {
        /// Entries held.
        len: u8,
        /// The entries.
        entries: [SpltEntry; INLINE],
    },
    /// More than [`INLINE`] entries may come.
    Heap(Vec<SpltEntry>),
}

impl Default for Sequence {
    fn default() -> Sequence {
        Sequence::Inline {
            len: 0,
            entries: [SpltEntry::default(); INLINE],
        }
    }
}

impl PartialEq for Sequence {
    fn eq(&self, other: &Sequence) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Sequence {
    /// An empty sequence with room for `n` entries.
    pub fn with_capacity(n: u8) -> Sequence {
        if usize::from(n) <= INLINE {
            Sequence::default()
        } else {
            Sequence::Heap(Vec::with_capacity(usize::from(n)))
        }
    }

    /// Appends `entry` (moving to the heap should an in-place sequence be full).
    #[inline]
    pub fn push(&mut self, entry: SpltEntry) {
        match self {
            Sequence::Inline { len, entries } if usize::from(*len) < INLINE => {
                entries[usize::from(*len)] = entry;
                *len += 1;
            }
            Sequence::Inline { entries, .. } => {
                let mut heap = entries.to_vec();
                heap.push(entry);
                *self = Sequence::Heap(heap);
            }
            Sequence::Heap(v) => v.push(entry),
        }
    }

    /// Empties the sequence (keeping its room).
    #[inline]
    pub fn clear(&mut self) {
        match self {
            Sequence::Inline { len, .. } => *len = 0,
            Sequence::Heap(v) => v.clear(),
        }
    }

    /// The entries.
    pub fn as_slice(&self) -> &[SpltEntry] {
        match self {
            Sequence::Inline { len, entries } => &entries[..usize::from(*len)],
            Sequence::Heap(v) => v,
        }
    }
}

impl std::ops::Deref for Sequence {
    type Target = [SpltEntry];

    fn deref(&self) -> &[SpltEntry] {
        self.as_slice()
    }
}

/// A packet as a record's shape takes it in.
#[derive(Clone, Copy, Debug)]
pub struct ShapePacket {
    /// When it was captured.
    pub ts: Timestamp,
    /// Its transport payload's octets on the wire.
    pub payload: u32,
    /// What the TCP analysis found (`tcp::RETRANSMISSION`, ...; 0 without it).
    pub events: u8,
    /// Sent against the record's key: a biflow record's responder.
    pub reverse: bool,
}

impl ShapePacket {
    /// A packet of `payload` octets at `ts`, with the TCP analysis's `events`.
    #[inline]
    pub fn new(ts: Timestamp, payload: u32, events: u8, reverse: bool) -> ShapePacket {
        ShapePacket {
            ts,
            payload,
            events,
            reverse,
        }
    }
}

/// What a record's packets looked like (see the module documentation).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Shape {
    /// The record's key's direction.
    pub forward: DirectionCounts,
    /// A biflow record's responder (empty in a uniflow record).
    pub reverse: DirectionCounts,
    /// Payload lengths of all the record's packets.
    pub len: Welford,
    /// Nanoseconds between consecutive packets of the record.
    pub iat: Welford,
    /// The first packets, at most `splt_packets` of them.
    pub splt: Sequence,
    /// The record's latest packet so far.
    last: Timestamp,
}

impl Shape {
    /// A record's first packet.
    pub fn first(config: ShapeConfig, packet: ShapePacket) -> Shape {
        let mut shape = Shape {
            splt: Sequence::with_capacity(config.splt_packets),
            ..Shape::default()
        };
        shape.start(config, packet);
        shape
    }

    /// Makes this shape, whatever record it held, that of a record's first packet (what
    /// [`Shape::first`] gives) in place: a flow-cache slot's shape is restarted rather
    /// than replaced (no 264-byte copy, and the sequence keeps its room).
    #[inline]
    pub fn start(&mut self, config: ShapeConfig, packet: ShapePacket) {
        self.forward = DirectionCounts::default();
        self.reverse = DirectionCounts::default();
        self.len = Welford::default();
        self.iat = Welford::default();
        self.splt.clear();
        self.last = packet.ts;
        self.count(packet);
        if config.splt_packets > 0 {
            self.splt.push(SpltEntry {
                len: packet.payload,
                reverse: packet.reverse,
                iat_us: 0,
            });
        }
    }

    /// A later packet of the record (`ts` never before the previous one's: the shard's
    /// clock does not run backwards).
    #[inline]
    pub fn add(&mut self, config: ShapeConfig, packet: ShapePacket) {
        self.count(packet);
        let gap = packet.ts.0.saturating_sub(self.last.0);
        self.last = packet.ts;
        self.iat.add(gap);
        if self.splt.len() < usize::from(config.splt_packets) {
            self.splt.push(SpltEntry {
                len: packet.payload,
                reverse: packet.reverse,
                iat_us: u32::try_from(gap / 1000).unwrap_or(u32::MAX),
            });
        }
    }

    #[inline]
    fn count(&mut self, packet: ShapePacket) {
        let ShapePacket {
            payload,
            events,
            reverse,
            ..
        } = packet;
        self.len.add(u64::from(payload));
        let side = if reverse {
            &mut self.reverse
        } else {
            &mut self.forward
        };
        side.payload_bytes += u64::from(payload);
        if events != 0 {
            side.retransmissions += u32::from(events & super::tcp::RETRANSMISSION != 0);
            side.out_of_order += u32::from(events & super::tcp::OUT_OF_ORDER != 0);
            side.zero_windows += u32::from(events & super::tcp::ZERO_WINDOW != 0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welford_gives_the_sample_statistics_of_its_values() {
        let mut w = Welford::default();
        assert_eq!(w.stddev(), None);
        for x in [2, 4, 4, 4, 5, 5, 7, 9] {
            w.add(x);
        }
        assert_eq!((w.n, w.min, w.max), (8, 2, 9));
        assert!((w.mean - 5.0).abs() < 1e-12);
        // Population variance 4, sample variance 32/7.
        assert!((w.stddev().unwrap() - (32.0f64 / 7.0).sqrt()).abs() < 1e-12);
        let mut one = Welford::default();
        one.add(1500);
        assert_eq!(one.stddev(), Some(0.0));
    }

    #[test]
    fn welford_stays_exact_for_large_nanosecond_gaps() {
        // Gaps of about 30 minutes in nanoseconds, differing by 1 ns.
        let mut w = Welford::default();
        let base = 1_800_000_000_000u64;
        for d in [0, 1, 2] {
            w.add(base + d);
        }
        assert!((w.mean - (base + 1) as f64).abs() < 1e-3);
        assert!((w.stddev().unwrap() - 1.0).abs() < 1e-3);
    }

    #[test]
    fn a_shape_keeps_the_first_packets_and_counts_each_direction() {
        let config = ShapeConfig { splt_packets: 3 };
        let t = |us: u64| Timestamp(1_000_000_000 + us * 1000 + 999);
        let mut s = Shape::first(config, ShapePacket::new(t(0), 0, 0, false));
        s.add(config, ShapePacket::new(t(1520), 0, 0, true));
        s.add(
            config,
            ShapePacket::new(
                Timestamp(t(1830).0 + 1),
                517,
                super::super::tcp::RETRANSMISSION,
                false,
            ),
        );
        s.add(
            config,
            ShapePacket::new(t(1900), 1448, super::super::tcp::ZERO_WINDOW, true),
        );
        let lens: Vec<_> = s
            .splt
            .iter()
            .map(|e| (e.len, e.reverse, e.iat_us))
            .collect();
        assert_eq!(lens, [(0, false, 0), (0, true, 1520), (517, false, 310)]);
        assert_eq!(s.forward.payload_bytes, 517);
        assert_eq!(s.reverse.payload_bytes, 1448);
        assert_eq!(s.forward.retransmissions, 1);
        assert_eq!(s.reverse.zero_windows, 1);
        assert_eq!((s.iat.n, s.iat.min, s.iat.max), (3, 69_999, 1_520_000));
        assert_eq!((s.len.n, s.len.min, s.len.max), (4, 0, 1448));
    }

    #[test]
    fn a_restarted_shape_is_a_first_packets_shape() {
        // Whatever a shape held (counts, statistics, a sequence in place or on the heap),
        // `start` makes it what `first` makes, and it goes on the same way.
        for n in [0u8, 3, 10, 32] {
            let config = ShapeConfig { splt_packets: n };
            let mut stale = Shape::first(
                config,
                ShapePacket::new(Timestamp(1), 1500, super::super::tcp::RETRANSMISSION, true),
            );
            for i in 0..40 {
                stale.add(
                    config,
                    ShapePacket::new(
                        Timestamp(2 + i),
                        100 + i as u32,
                        super::super::tcp::ZERO_WINDOW,
                        i % 2 == 0,
                    ),
                );
            }
            let mut fresh = Shape::first(config, ShapePacket::new(Timestamp(1_000), 7, 0, false));
            stale.start(config, ShapePacket::new(Timestamp(1_000), 7, 0, false));
            assert_eq!(stale, fresh, "{n}");
            for i in 0..12 {
                stale.add(config, ShapePacket::new(Timestamp(1_001 + i), 3, 0, true));
                fresh.add(config, ShapePacket::new(Timestamp(1_001 + i), 3, 0, true));
            }
            assert_eq!(stale, fresh, "{n}");
            assert_eq!(stale.splt.len(), usize::from(n).min(13), "{n}");
        }
    }

    #[test]
    fn without_splt_packets_no_sequence_is_kept() {
        let config = ShapeConfig { splt_packets: 0 };
        let mut s = Shape::first(config, ShapePacket::new(Timestamp(5), 10, 0, false));
        s.add(config, ShapePacket::new(Timestamp(7), 20, 0, false));
        assert!(s.splt.is_empty() && matches!(s.splt, Sequence::Inline { .. }));
        assert_eq!(s.forward.payload_bytes, 30);
    }

    #[test]
    fn a_sequence_is_in_place_up_to_the_default_and_on_the_heap_past_it() {
        let entry = |i: u32| SpltEntry {
            len: i,
            reverse: i % 2 == 1,
            iat_us: i * 7,
        };
        for n in [0u8, 1, 9, 10, 11, 32] {
            let mut seq = Sequence::with_capacity(n);
            let want: Vec<_> = (0..u32::from(n)).map(entry).collect();
            want.iter().for_each(|&e| seq.push(e));
            assert_eq!(seq.as_slice(), want.as_slice(), "{n}");
            assert_eq!(matches!(seq, Sequence::Heap(_)), n > 10, "{n}");
        }
        // A full in-place sequence that gets one more moves to the heap whole.
        let mut seq = Sequence::default();
        (0..11).for_each(|i| seq.push(entry(i)));
        assert_eq!(seq.len(), 11);
        assert_eq!(seq[10], entry(10));
        assert_eq!(seq, {
            let mut v = Sequence::with_capacity(32);
            (0..11).for_each(|i| v.push(entry(i)));
            v
        });
    }
}
