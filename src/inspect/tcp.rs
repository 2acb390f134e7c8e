//! TCP sequence analysis: which segments are retransmissions, out of order or zero-window
//! advertisements, and the handshake's timing and options, the way tshark decides.
//!
//! # Why mirror tshark
//! "Retransmissions" has no single definition: a probe that counts them one way and an
//! analyst's Wireshark another makes both look wrong. Wireshark's TCP analysis (4.0,
//! `tcp_analyze_sequence_number` in `epan/dissectors/packet-tcp.c`) is what people check
//! numbers against, so this module makes the same per-segment decisions from the same
//! per-direction state, and `tests/tcp_analysis_tshark.rs` compares it frame by frame with
//! tshark on every shared capture. The rules, per direction of a connection (`fwd` the
//! segment's, `rev` the other):
//! - State starts at a connection's first packet, whatever it is: a capture that began
//!   mid-connection is analysed from there (nothing is flagged until a direction has a
//!   next expected sequence number).
//! - `next_seq` is the highest `seq + len` seen (a SYN or FIN counts one), 0 standing for
//!   "not known yet" as in tshark (a real 0 is taken as unknown too). A segment beyond it
//!   is a lost segment (it moves `next_seq` on, nothing flagged here).
//! - A zero-window probe (1 byte at `next_seq` while `rev` advertised 0) ends the checks
//!   and does not advance `next_seq`; otherwise a window of 0 without SYN/FIN/RST is a
//!   zero window. A 0/1-byte segment at `next_seq - 1` is a keep-alive, never a
//!   retransmission. A pure ACK repeating `fwd`'s last ACK, window and `next_seq` is a
//!   duplicate ACK (counted; the count feeds fast retransmission), unless it answers a
//!   keep-alive or zero-window probe.
//! - A segment with data, SYN or FIN (not a keep-alive) is, first match wins: a spurious
//!   retransmission when its data all lie below what `rev` last acknowledged (tshark
//!   flags it `tcp.analysis.retransmission` too, so it is one here). Then, if it starts
//!   below `next_seq` (more than one byte of data starting exactly at `next_seq - 1` does
//!   not count): a fast retransmission (`rev` sent 2+ duplicate ACKs for this very
//!   `seq`, the last under 20 ms ago); out of order (under the first RTT, or 3 ms before
//!   one is known, since `next_seq` last advanced, and not ending exactly at `next_seq`,
//!   its SYN or FIN counted); else a retransmission.
//! - Time differences are unsigned (a clock that goes back gives a huge difference, no
//!   flag), sequence comparisons serial (wrap-around safe).
//! - A SYN (no ACK) whose `seq` differs from its side's first sequence number starts a
//!   new connection (port reuse): the state is dropped and begins again.
//! - The first RTT, which sets the out-of-order threshold, is tshark's: from the latest
//!   SYN to the first pure ACK (either direction) after it.
//!
//! Left out because no flag we report depends on them: window-full, window-update and
//! the unacknowledged-segment list (RTT per segment, bytes in flight). Of that list only
//! its bound matters (tshark stops adding at 1000 unacknowledged segments, and then a
//! SYN/FIN no longer counts one in `next_seq`): it is kept as a count that a full
//! acknowledgement (of `next_seq` or beyond) resets, so a direction never acknowledged
//! reaches the bound exactly, one acknowledged in parts may reach it early.
//!
//! # The handshake
//! [`Handshake`] is measured on the ACK that completes it (from the SYN's sender, ACK
//! without SYN/RST, acknowledging the latest SYN-ACK's sequence number + 1), from the
//! latest SYN and the latest SYN-ACK answering it (acknowledging its sequence number + 1)
//! before it: a retransmitted SYN or SYN-ACK restarts the clock, as tshark's
//! `initial_rtt` does. tshark's `initial_rtt` is looser: it runs from the latest SYN to
//! the first ACK without SYN from either side, whatever it acknowledges (an RST-ACK
//! too), and it takes an RTT of 0 as none; on a clean handshake the two are equal.
//! [`TcpOptions`] come from the first SYN (or SYN-ACK) each side sends.
//!
//! # The table
//! Both directions share one entry, keyed (like the inspector's, but a separate table:
//! every TCP packet needs this one for the whole connection, the inspector's only for its
//! start) by a 64-bit hash of the connection without ToS and interface. The VLAN is in
//! it, as in the flow key: tshark's conversations leave it out, so where a capture has
//! a connection on two VLANs (each packet copied on both, or each direction on its own)
//! tshark sees copies as retransmissions and one handshake, this module two connections
//! (the tshark test lists those frames). Two connections whose hashes are equal share
//! an entry: one's SYN starts the other's state afresh, whose handshake times are then
//! lost and whose segments may be counted as retransmitted or out of order (the hash is
//! mixed and seeded so that this stays chance, about one in 10^7 with a million
//! connections in the table: [`super::connection_hash`]). An entry is [`CONNECTION_BYTES`]
//! (128) bytes with its hash, aligned to a cache line (asserted by a test): a look-up
//! reads two lines, where an entry beside its key in a map straddled three. With the
//! table's control byte (129 bytes a slot, at most 7/8 full) and the expiry queue's 16
//! bytes (up to twice that as it grows) a connection costs about 160 to 180 bytes. There
//! are at most `max_connections` ([`MAX_CONNECTIONS`] by default): past that the entry
//! queued longest is evicted (counted) to make room. Packets never allocate: the map and queue grow (amortised)
//! when connections are added, up to the bound.
//!
//! A connection idle for [`IDLE_TIMEOUT`] is dropped by [`TcpAnalyzer::expire`]; one that
//! comes back later starts again as a connection seen mid-stream. The queue holds one
//! item per entry, in the order entries were queued; an item reached whose connection
//! saw packets since is queued again with its last packet's time, so expiry never scans
//! the table (an idle entry may leave up to one timeout late).

use std::collections::VecDeque;
use std::time::Duration;

use hashbrown::hash_table::Entry;
use hashbrown::HashTable;

use super::reader::Reader;
use crate::flow::key::{FlowKey, PROTO_TCP};
use crate::time::Timestamp;

/// Per-packet events (bits of `TcpVerdict::events`): tshark's
/// `tcp.analysis.retransmission` or `tcp.analysis.fast_retransmission` (spurious
/// retransmissions included: tshark flags them `retransmission` too); one a frame.
pub const RETRANSMISSION: u8 = 1;
/// tshark's `tcp.analysis.out_of_order`.
pub const OUT_OF_ORDER: u8 = 2;
/// tshark's `tcp.analysis.zero_window`.
pub const ZERO_WINDOW: u8 = 4;

/// A connection without packets this long is dropped. Longer than the largest
/// retransmission timeout Linux backs off to (120 s; RFC 6298 asks for at least 60 s), so
/// a connection stalled in backoff is still tracked when its next retransmission comes.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Connections tracked at most by default (about 170 MiB at the bound with the map's
/// and queue's overhead; see the module doc).
pub const MAX_CONNECTIONS: usize = 1 << 20;

/// Bytes of one connection's state ([`Connection`]), asserted by a test.
pub const CONNECTION_BYTES: usize = 128;

/// tshark's bound on a direction's list of unacknowledged segments.
const MAX_UNACKED: u16 = 1000;
/// Fast retransmission: the last duplicate ACK at most this long before (ns).
const FAST_RETRANSMISSION_WINDOW: u64 = 20_000_000;
/// Out of order: the threshold before a first RTT is known (ns).
const OUT_OF_ORDER_DEFAULT: u64 = 3_000_000;

/// TCP flags.
const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// What the first SYN of one side carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2).
    pub mss: Option<u16>,
    /// Window scale shift as sent (kind 3; not clamped to 14).
    pub wscale: Option<u8>,
    /// SACK permitted (kind 4).
    pub sack_ok: bool,
    /// Timestamps (kind 8).
    pub timestamps: bool,
    /// IPFIX tcpOptions (IE 209) as the IANA registry lays it out ([`option_bit`]): kind
    /// X (0..=63) in octet X / 8 of the value (octet 0 the most significant), at bit X % 8
    /// counted from that octet's least significant bit. Kinds > 63 are not
    /// representable. Every option whose kind byte was read counts, NOP (1) and end of
    /// list (0) included.
    pub bitmap: u64,
}

/// The bit of TCP option kind `kind` (0..=63) in IPFIX's tcpOptions (IE 209), 0 for a
/// higher kind. RFC 5102's diagram numbered the bits from the most significant; its
/// errata (1739), the IANA registry's corrected description and RFC 9740 put option X
/// in the X / 8-th octet on the wire at bit X % 8 counted from the octet's least
/// significant bit: MSS (2) is 0x0400_0000_0000_0000, SACK-permitted (4)
/// 0x1000_0000_0000_0000, timestamps (8) 0x0001_0000_0000_0000.
pub const fn option_bit(kind: u8) -> u64 {
    if kind < 64 {
        1 << (8 * (7 - kind as u32 / 8) + kind as u32 % 8)
    } else {
        0
    }
}

/// The handshake's times: the last SYN-ACK before the completing ACK, and the last SYN
/// before that SYN-ACK (a SYN retransmitted after the SYN-ACK does not move the start of
/// the server's RTT; tshark's `initial_rtt` starts at it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// The client's SYN.
    pub syn: Timestamp,
    /// The server's SYN-ACK.
    pub syn_ack: Timestamp,
    /// The client's ACK that completes the handshake.
    pub ack: Timestamp,
    /// The SYN-ACK's ToS byte (traffic class): with the ACK's key reversed, the key of
    /// the server's record that holds the SYN-ACK (each direction has its own ToS).
    pub syn_ack_tos: u8,
}

/// What one packet showed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpVerdict {
    /// [`RETRANSMISSION`], [`OUT_OF_ORDER`], [`ZERO_WINDOW`].
    pub events: u8,
    /// Set on the first SYN (SYN or SYN-ACK) each side sends: its options.
    pub options: Option<TcpOptions>,
    /// Set on the ACK that completes the three-way handshake (client → server, ACK set,
    /// no SYN/RST, ack == server ISN + 1).
    pub handshake: Option<Handshake>,
}

/// What the analyzer counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpStats {
    /// Connections that began (a first packet, or a SYN reusing a tracked connection's
    /// ports).
    pub connections: u64,
    /// Connections dropped to make room ([`MAX_CONNECTIONS`] tracked).
    pub evicted: u64,
    /// Connections dropped after [`IDLE_TIMEOUT`] without packets.
    pub expired: u64,
}

/// tshark's per-segment analysis flags this module uses (internal).
mod flag {
    pub(super) const ZERO_WINDOW_PROBE: u16 = 1 << 0;
    pub(super) const ZERO_WINDOW: u16 = 1 << 1;
    pub(super) const KEEP_ALIVE: u16 = 1 << 2;
    pub(super) const RETRANSMISSION: u16 = 1 << 3;
    pub(super) const FAST_RETRANSMISSION: u16 = 1 << 4;
    pub(super) const SPURIOUS_RETRANSMISSION: u16 = 1 << 5;
    pub(super) const OUT_OF_ORDER: u16 = 1 << 6;
}

/// Bits of `Side::state`.
const BASE_SET: u8 = 1;
const SENT_SYN: u8 = 2;
const LAST_KEEP_ALIVE: u8 = 4;
const LAST_ZERO_WINDOW_PROBE: u8 = 8;
/// A segment was seen (tshark's "no window yet" is a window no segment carries).
const WINDOW_KNOWN: u8 = 16;

/// One direction's sequence state (tshark's per-flow analysis fields).
#[derive(Clone, Copy, Debug, Default)]
struct Side {
    /// When `next_seq` last advanced (ns).
    next_seq_time: u64,
    /// When this side's last segment was seen (its ACK's time, ns).
    last_ack_time: u64,
    /// The first sequence number (its SYN's, else the first segment's - 1).
    base_seq: u32,
    /// The highest `seq + len` (+1 for SYN/FIN); 0: not known.
    next_seq: u32,
    /// The ACK field of this side's last segment (whether ACK was set or not); 0: none.
    last_ack: u32,
    /// The end of the data sent without a gap seen; 0: not known.
    max_seq_to_be_acked: u32,
    /// The last raw (unscaled) window, when [`WINDOW_KNOWN`].
    window: u16,
    /// Duplicate ACKs in a row.
    dup_acks: u16,
    /// Unacknowledged segments (tshark's list length, bounded by [`MAX_UNACKED`]).
    unacked: u16,
    /// [`BASE_SET`], [`SENT_SYN`], [`LAST_KEEP_ALIVE`], [`LAST_ZERO_WINDOW_PROBE`],
    /// [`WINDOW_KNOWN`].
    state: u8,
}

/// Bits of `Connection::state`.
const HAVE_SYN: u8 = 1;
const HAVE_SYN_ACK: u8 = 2;
const HANDSHAKE_DONE: u8 = 4;
/// Set when side 1 sent the SYN (clear: side 0, if `HAVE_SYN`).
const CLIENT_IS_1: u8 = 8;

/// One connection: both directions (0: the lower endpoint's), the handshake. Two cache
/// lines, aligned (see "The table").
#[derive(Clone, Copy, Debug, Default)]
#[repr(align(64))]
struct Connection {
    /// The connection's hash ([`super::connection_hash`]): the table's key.
    hash: u64,
    sides: [Side; 2],
    /// tshark's `ts_mru_syn`: the latest SYN's time (ns), 0: none.
    mru_syn: u64,
    /// tshark's `ts_first_rtt` (ns), 0: not known.
    first_rtt: u64,
    /// The latest SYN-ACK answering the client's SYN (ns), for [`Handshake`] (whose SYN
    /// time is `mru_syn`: until the handshake completes, every SYN is the client's).
    syn_ack: u64,
    /// The latest SYN's and SYN-ACK's sequence numbers.
    client_isn: u32,
    server_isn: u32,
    /// The latest SYN-ACK's ToS byte.
    syn_ack_tos: u8,
    /// [`HAVE_SYN`], [`HAVE_SYN_ACK`], [`HANDSHAKE_DONE`], [`CLIENT_IS_1`].
    state: u8,
    /// The latest SYN-ACK's time minus the latest SYN's before it (ns; `u32::MAX`: 4.3 s
    /// or more, then `mru_syn` stands in): the server's RTT starts at the SYN its SYN-ACK
    /// answered, even when a retransmitted SYN comes after the SYN-ACK. In the padding:
    /// the entry stays 128 bytes.
    syn_to_syn_ack: u32,
}

impl Connection {
    /// A connection with nothing seen yet.
    fn new(hash: u64) -> Connection {
        Connection {
            hash,
            ..Connection::default()
        }
    }

    /// The last packet's time (ns), for expiry: every packet that reaches an entry is
    /// analysed, which sets its side's `last_ack_time`.
    fn last_seen(&self) -> u64 {
        self.sides[0].last_ack_time.max(self.sides[1].last_ack_time)
    }
}

/// The fixed part of a TCP header this module reads.
#[derive(Clone, Copy, Debug)]
struct Header {
    seq: u32,
    ack: u32,
    flags: u8,
    window: u16,
}

impl Header {
    /// Needs the bytes up to the window (16): tshark analyses nothing with fewer.
    fn parse(header: &[u8]) -> Option<Header> {
        let mut r = Reader::new(header);
        r.skip(4)?;
        let seq = r.u32()?;
        let ack = r.u32()?;
        r.skip(1)?;
        let flags = r.u8()?;
        let window = r.u16()?;
        Some(Header {
            seq,
            ack,
            flags,
            window,
        })
    }
}

/// `a > b` in sequence space.
fn gt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

/// `a < b` in sequence space.
fn lt(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) < 0
}

/// `a <= b` in sequence space.
fn le(a: u32, b: u32) -> bool {
    !gt(a, b)
}

/// The options of a SYN's header (`header` from the TCP header's first byte; what the
/// capture cut is not read).
fn parse_options(header: &[u8]) -> TcpOptions {
    let mut o = TcpOptions::default();
    let data_offset = header.get(12).map_or(0, |b| usize::from(b >> 4) * 4);
    let end = data_offset.min(header.len());
    let mut r = Reader::new(header.get(20..end).unwrap_or_default());
    while let Some(kind) = r.u8() {
        o.bitmap |= option_bit(kind);
        match kind {
            0 => break,
            1 => continue,
            _ => {}
        }
        let Some(len) = r.u8() else { break };
        let Some(body) = usize::from(len).checked_sub(2).and_then(|n| r.bytes(n)) else {
            break;
        };
        let mut b = Reader::new(body);
        match (kind, len) {
            (2, 4) => o.mss = b.u16(),
            (3, 3) => o.wscale = b.u8(),
            (4, 2) => o.sack_ok = true,
            (8, 10) => o.timestamps = true,
            _ => {}
        }
    }
    o
}

/// The TCP sequence analysis of one capture thread (see the module doc).
#[derive(Debug)]
pub struct TcpAnalyzer {
    table: HashTable<Connection>,
    /// (time queued, connection hash): one item per entry.
    order: VecDeque<(u64, u64)>,
    max_connections: usize,
    stats: TcpStats,
}

impl Default for TcpAnalyzer {
    fn default() -> TcpAnalyzer {
        TcpAnalyzer::new()
    }
}

impl TcpAnalyzer {
    /// An analyzer tracking up to [`MAX_CONNECTIONS`].
    pub fn new() -> TcpAnalyzer {
        TcpAnalyzer::with_max_connections(MAX_CONNECTIONS)
    }

    /// An analyzer tracking up to `max` connections (at least 1).
    pub fn with_max_connections(max: usize) -> TcpAnalyzer {
        TcpAnalyzer {
            table: HashTable::new(),
            order: VecDeque::new(),
            max_connections: max.max(1),
            stats: TcpStats::default(),
        }
    }

    /// What was counted so far.
    pub fn stats(&self) -> TcpStats {
        self.stats
    }

    /// Connections currently tracked.
    pub fn connections(&self) -> usize {
        self.table.len()
    }

    /// Time passed: drops connections idle for longer than [`IDLE_TIMEOUT`].
    pub fn expire(&mut self, now: Timestamp) {
        let timeout = IDLE_TIMEOUT.as_nanos() as u64;
        while let Some(&(queued, hash)) = self.order.front() {
            if queued.saturating_add(timeout) > now.0 {
                break;
            }
            self.order.pop_front();
            if let Ok(c) = self.table.find_entry(hash, |c| c.hash == hash) {
                let last_seen = c.get().last_seen();
                if last_seen.saturating_add(timeout) > now.0 {
                    self.order.push_back((last_seen, hash));
                } else {
                    c.remove();
                    self.stats.expired += 1;
                }
            }
        }
    }

    /// One TCP packet of flow `key` (the packet's own direction) at `ts`. `header` is the
    /// TCP header's bytes as captured (from the start of the TCP header; may be cut short
    /// by the snaplen: then what can be read is analysed, and nothing when the window is
    /// cut), `payload_len` the segment's payload length on the wire (from the IP lengths,
    /// not the snaplen).
    pub fn packet(
        &mut self,
        key: &FlowKey,
        ts: Timestamp,
        header: &[u8],
        payload_len: u32,
    ) -> TcpVerdict {
        self.packet_hashed(key, super::connection_hash(key), ts, header, payload_len)
    }

    /// `packet`, with `key`'s [`super::connection_hash`] computed by the caller (once
    /// for this and the application inspector).
    pub fn packet_hashed(
        &mut self,
        key: &FlowKey,
        (hash, forward): (u64, bool),
        ts: Timestamp,
        header: &[u8],
        payload_len: u32,
    ) -> TcpVerdict {
        if key.proto != PROTO_TCP {
            return TcpVerdict::default();
        }
        let Some(h) = Header::parse(header) else {
            return TcpVerdict::default();
        };
        let side = usize::from(!forward);
        // One look-up a packet (the table is a cache miss per packet on a busy link);
        // only a full table looks first, to make room.
        let same = |c: &Connection| c.hash == hash;
        if self.table.len() >= self.max_connections && self.table.find(hash, same).is_none() {
            self.evict_one();
        }
        let c = match self.table.entry(hash, same, |c| c.hash) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                self.order.push_back((ts.0, hash));
                self.stats.connections += 1;
                v.insert(Connection::new(hash)).into_mut()
            }
        };
        // A new SYN on tracked ports: tshark starts a new conversation.
        let fwd = &c.sides[side];
        if h.flags & (SYN | ACK) == SYN && fwd.state & BASE_SET != 0 && h.seq != fwd.base_seq {
            *c = Connection::new(hash);
            self.stats.connections += 1;
        }
        let mut verdict = TcpVerdict {
            events: analyse(c, side, ts.0, &h, payload_len),
            ..TcpVerdict::default()
        };
        if h.flags & SYN != 0 && c.sides[side].state & SENT_SYN == 0 {
            c.sides[side].state |= SENT_SYN;
            verdict.options = Some(parse_options(header));
        }
        verdict.handshake = handshake(c, side, ts.0, &h, key.tos);
        verdict
    }

    /// Drops the entry queued longest, to make room.
    fn evict_one(&mut self) {
        if let Some((_, hash)) = self.order.pop_front() {
            if let Ok(c) = self.table.find_entry(hash, |c| c.hash == hash) {
                c.remove();
                self.stats.evicted += 1;
            }
        }
    }
}

/// Handshake bookkeeping after the sequence analysis; the handshake when `h` completes
/// it, and tshark's first RTT.
fn handshake(c: &mut Connection, side: usize, ts: u64, h: &Header, tos: u8) -> Option<Handshake> {
    let is_1 = if side == 1 { CLIENT_IS_1 } else { 0 };
    match h.flags & (SYN | ACK) {
        SYN => {
            c.mru_syn = ts;
            if c.state & HANDSHAKE_DONE == 0 {
                // A SYN-ACK answers a retransmitted SYN too, not a SYN with another ISN.
                if c.state & HAVE_SYN == 0 || h.seq != c.client_isn || c.state & CLIENT_IS_1 != is_1
                {
                    c.state &= !HAVE_SYN_ACK;
                }
                c.client_isn = h.seq;
                c.state = (c.state & !CLIENT_IS_1) | HAVE_SYN | is_1;
            }
            None
        }
        f if f == SYN | ACK => {
            let from_server = c.state & HAVE_SYN != 0 && c.state & CLIENT_IS_1 != is_1;
            let answers = h.ack == c.client_isn.wrapping_add(1);
            if c.state & HANDSHAKE_DONE == 0 && from_server && answers {
                c.syn_ack = ts;
                // A clock that went back (a SYN-ACK stamped before its SYN) leaves the
                // latest SYN in charge, as tshark's.
                c.syn_to_syn_ack = match ts.checked_sub(c.mru_syn) {
                    Some(d) => u32::try_from(d).unwrap_or(u32::MAX),
                    None => u32::MAX,
                };
                c.server_isn = h.seq;
                c.syn_ack_tos = tos;
                c.state |= HAVE_SYN_ACK;
            }
            None
        }
        ACK => {
            if c.mru_syn != 0 && c.first_rtt == 0 {
                c.first_rtt = ts.wrapping_sub(c.mru_syn);
            }
            let ready = HAVE_SYN | HAVE_SYN_ACK;
            let from_client = c.state & CLIENT_IS_1 == is_1;
            if c.state & (ready | HANDSHAKE_DONE) == ready
                && from_client
                && h.flags & RST == 0
                && h.ack == c.server_isn.wrapping_add(1)
            {
                c.state |= HANDSHAKE_DONE;
                let syn = match c.syn_to_syn_ack {
                    u32::MAX => c.mru_syn,
                    d => c.syn_ack - u64::from(d),
                };
                return Some(Handshake {
                    syn: Timestamp(syn),
                    syn_ack: Timestamp(c.syn_ack),
                    ack: Timestamp(ts),
                    syn_ack_tos: c.syn_ack_tos,
                });
            }
            None
        }
        _ => None,
    }
}

/// tshark's sequence analysis of one segment of side `side`; the events it shows.
fn analyse(c: &mut Connection, side: usize, ts: u64, h: &Header, seglen: u32) -> u8 {
    let first_rtt = c.first_rtt;
    let [s0, s1] = &mut c.sides;
    let (fwd, rev) = if side == 0 { (s0, s1) } else { (s1, s0) };
    let (seq, ack, flags, window) = (h.seq, h.ack, h.flags, h.window);
    let syn_fin_rst = flags & (SYN | FIN | RST) != 0;

    if fwd.state & BASE_SET == 0 {
        fwd.base_seq = if flags & SYN != 0 {
            seq
        } else {
            seq.wrapping_sub(1)
        };
        fwd.state |= BASE_SET;
    }
    if rev.state & BASE_SET == 0 && flags & ACK != 0 {
        rev.base_seq = ack.wrapping_sub(1);
        rev.state |= BASE_SET;
    }

    let mut ta: u16 = 0;
    // The checks of this segment's own direction; a probe or a probe's answer ends them.
    'own: {
        let rev_window_zero = rev.state & WINDOW_KNOWN != 0 && rev.window == 0;
        if seglen == 1 && seq == fwd.next_seq && rev_window_zero {
            ta |= flag::ZERO_WINDOW_PROBE;
            break 'own;
        }
        if window == 0 && !syn_fin_rst {
            ta |= flag::ZERO_WINDOW;
        }
        if seglen <= 1 && seq == fwd.next_seq.wrapping_sub(1) && !syn_fin_rst {
            ta |= flag::KEEP_ALIVE;
        }
        let repeats = seglen == 0 && seq == fwd.next_seq && ack == fwd.last_ack && !syn_fin_rst;
        if repeats && fwd.state & WINDOW_KNOWN != 0 && window == fwd.window {
            if window != 0 && rev.state & LAST_KEEP_ALIVE != 0 {
                break 'own; // a keep-alive's ACK
            }
            if window == 0 && rev.state & LAST_ZERO_WINDOW_PROBE != 0 {
                break 'own; // a zero-window probe's ACK
            }
            if window != 0 {
                fwd.dup_acks = fwd.dup_acks.saturating_add(1);
            }
        }
    }
    if ack != fwd.last_ack {
        fwd.dup_acks = 0;
    }
    // An ACK of data the other side was not seen sending: no more of that report.
    if rev.max_seq_to_be_acked != 0 && gt(ack, rev.max_seq_to_be_acked) && flags & ACK != 0 {
        rev.max_seq_to_be_acked = rev.next_seq;
    }

    if seglen > 0 || flags & (SYN | FIN) != 0 {
        'kind: {
            if ta & flag::KEEP_ALIVE != 0 {
                break 'kind;
            }
            let mut not_advanced = fwd.next_seq != 0 && lt(seq, fwd.next_seq);
            // More than a byte from next_seq - 1: new data after a probe's byte.
            if seglen > 1 && fwd.next_seq.wrapping_sub(1) == seq {
                not_advanced = false;
            }
            if seglen > 0 && rev.last_ack != 0 && le(seq.wrapping_add(seglen), rev.last_ack) {
                ta |= flag::SPURIOUS_RETRANSMISSION;
                break 'kind;
            }
            let since_rev_ack = ts.wrapping_sub(rev.last_ack_time);
            if not_advanced
                && rev.dup_acks >= 2
                && rev.last_ack == seq
                && since_rev_ack < FAST_RETRANSMISSION_WINDOW
            {
                ta |= flag::FAST_RETRANSMISSION;
                break 'kind;
            }
            let since_advance = ts.wrapping_sub(fwd.next_seq_time);
            let threshold = if first_rtt == 0 {
                OUT_OF_ORDER_DEFAULT
            } else {
                first_rtt
            };
            let syn_fin = u32::from(flags & (SYN | FIN) != 0);
            if not_advanced
                && since_advance < threshold
                && fwd.next_seq != seq.wrapping_add(seglen).wrapping_add(syn_fin)
            {
                ta |= flag::OUT_OF_ORDER;
                break 'kind;
            }
            if not_advanced {
                ta |= flag::RETRANSMISSION;
            }
        }
    }

    let mut next_seq = seq.wrapping_add(seglen);
    if (seglen > 0 || flags & (SYN | FIN) != 0) && fwd.unacked < MAX_UNACKED {
        fwd.unacked += 1;
        if flags & (SYN | FIN) != 0 {
            next_seq = next_seq.wrapping_add(1);
        }
    }
    let probe = ta & flag::ZERO_WINDOW_PROBE != 0;
    if (gt(next_seq, fwd.next_seq) || fwd.next_seq == 0) && !probe {
        fwd.next_seq = next_seq;
        fwd.next_seq_time = ts;
    }
    if (seq == fwd.max_seq_to_be_acked || fwd.max_seq_to_be_acked == 0) && !probe {
        fwd.max_seq_to_be_acked = fwd.next_seq;
    }
    fwd.window = window;
    fwd.state |= WINDOW_KNOWN;
    fwd.last_ack = ack;
    fwd.last_ack_time = ts;
    fwd.state &= !(LAST_KEEP_ALIVE | LAST_ZERO_WINDOW_PROBE);
    if ta & flag::KEEP_ALIVE != 0 {
        fwd.state |= LAST_KEEP_ALIVE;
    }
    if probe {
        fwd.state |= LAST_ZERO_WINDOW_PROBE;
    }
    // Everything the other side sent up to here is acknowledged: its list empties.
    if rev.next_seq != 0 && !lt(ack, rev.next_seq) {
        rev.unacked = 0;
    }

    let mut events = 0;
    if ta & (flag::RETRANSMISSION | flag::FAST_RETRANSMISSION | flag::SPURIOUS_RETRANSMISSION) != 0
    {
        events |= RETRANSMISSION;
    }
    if ta & flag::OUT_OF_ORDER != 0 {
        events |= OUT_OF_ORDER;
    }
    if ta & flag::ZERO_WINDOW != 0 {
        events |= ZERO_WINDOW;
    }
    events
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn option_bits_are_the_registry_layout() {
        assert_eq!(option_bit(0), 0x0100_0000_0000_0000);
        assert_eq!(option_bit(2), 0x0400_0000_0000_0000);
        assert_eq!(option_bit(4), 0x1000_0000_0000_0000);
        assert_eq!(option_bit(7), 0x8000_0000_0000_0000);
        assert_eq!(option_bit(8), 0x0001_0000_0000_0000);
        assert_eq!(option_bit(63), 0x0000_0000_0000_0080);
        assert_eq!(option_bit(64), 0);
        // On the wire (network order) kind 2 is the first octet's third-lowest bit.
        assert_eq!(option_bit(2).to_be_bytes()[0], 0b0000_0100);
    }

    const MS: u64 = 1_000_000;

    fn key(client_to_server: bool) -> FlowKey {
        let mut k = FlowKey {
            proto: PROTO_TCP,
            ip_version: 4,
            src_port: 40000,
            dst_port: 443,
            ..FlowKey::default()
        };
        k.src[..4].copy_from_slice(&[10, 0, 0, 1]);
        k.dst[..4].copy_from_slice(&[10, 0, 0, 2]);
        if client_to_server {
            k
        } else {
            k.reversed().unwrap()
        }
    }

    fn header(seq: u32, ack: u32, flags: u8, window: u16, options: &[u8]) -> Vec<u8> {
        let words = 5 + options.len().div_ceil(4);
        let mut h = vec![0u8; words * 4];
        h[0..2].copy_from_slice(&40000u16.to_be_bytes());
        h[4..8].copy_from_slice(&seq.to_be_bytes());
        h[8..12].copy_from_slice(&ack.to_be_bytes());
        h[12] = (words as u8) << 4;
        h[13] = flags;
        h[14..16].copy_from_slice(&window.to_be_bytes());
        h[20..20 + options.len()].copy_from_slice(options);
        h
    }

    /// One segment: (client?, ms, seq, ack, flags, window, payload length).
    fn send(a: &mut TcpAnalyzer, seg: (bool, u64, u32, u32, u8, u16, u32)) -> TcpVerdict {
        let (c, ms, seq, ack, flags, window, len) = seg;
        a.packet(
            &key(c),
            Timestamp(1_700_000_000_000 * MS + ms * MS),
            &header(seq, ack, flags, window, &[]),
            len,
        )
    }

    /// Two IPv6 connections whose addresses' subnet and host bytes once made their
    /// hashes equal (a linear hash of the words): each has its own entry and its own
    /// handshake times, where they shared one and the second SYN wiped the first's.
    #[test]
    fn ipv6_connections_a_linear_hash_merged_keep_their_own_handshakes() {
        let v6 = |a: &str, b: &str, client: bool| {
            let mut k = FlowKey {
                proto: PROTO_TCP,
                src_port: 123,
                dst_port: 123,
                ..FlowKey::default()
            };
            k.set_addrs(a.parse().unwrap(), b.parse().unwrap());
            if client {
                k
            } else {
                k.reversed().unwrap()
            }
        };
        let pair = [
            ("2001:db8:a::21", "2001:db8:b::1"),
            ("2001:db8:a::1", "2001:db8:b::21"),
        ];
        let mut a = TcpAnalyzer::new();
        let at = |ms: u64| Timestamp(1_700_000_000_000 * MS + ms * MS);
        for (i, (c, s)) in pair.iter().enumerate() {
            a.packet(
                &v6(c, s, true),
                at(i as u64),
                &header(100, 0, SYN, 1000, &[]),
                0,
            );
        }
        for (i, (c, s)) in pair.iter().enumerate() {
            let syn_ack = header(900, 101, SYN | ACK, 1000, &[]);
            a.packet(&v6(c, s, false), at(10 + i as u64), &syn_ack, 0);
        }
        assert_eq!(a.connections(), 2);
        for (i, (c, s)) in pair.iter().enumerate() {
            let ack = header(101, 901, ACK, 1000, &[]);
            let v = a.packet(&v6(c, s, true), at(30 + i as u64), &ack, 0);
            let h = v.handshake.expect("each connection's handshake");
            assert_eq!((h.syn, h.syn_ack), (at(i as u64), at(10 + i as u64)));
        }
    }

    #[test]
    fn connection_state_is_128_bytes() {
        assert_eq!(size_of::<Connection>(), CONNECTION_BYTES);
        assert_eq!(align_of::<Connection>(), 64);
        assert_eq!(size_of::<Side>(), 40);
    }

    #[test]
    fn handshake_options_and_the_last_syn() {
        let mut a = TcpAnalyzer::new();
        let opts = [
            2, 4, 5, 0xb4, 1, 3, 3, 7, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0,
        ];
        let t0 = Timestamp(5_000 * MS);
        let syn = a.packet(&key(true), t0, &header(100, 0, SYN, 64240, &opts), 0);
        let o = syn.options.expect("the SYN's options");
        assert_eq!(o.mss, Some(1460));
        assert_eq!(o.wscale, Some(7));
        assert!(o.sack_ok && o.timestamps);
        let kinds = [1u64, 2, 3, 4, 8];
        assert_eq!(
            o.bitmap,
            kinds.iter().map(|&k| option_bit(k as u8)).sum::<u64>()
        );
        // The SYN again, 1 s later: a retransmission, no options reported twice.
        let t1 = Timestamp(6_000 * MS);
        let again = a.packet(&key(true), t1, &header(100, 0, SYN, 64240, &opts), 0);
        assert_eq!((again.events, again.options), (RETRANSMISSION, None));
        let t2 = Timestamp(6_010 * MS);
        let sa = a.packet(
            &key(false),
            t2,
            &header(900, 101, SYN | ACK, 65535, &[2, 4, 5, 0x78]),
            0,
        );
        assert_eq!(sa.options.and_then(|o| o.mss), Some(1400));
        assert_eq!(sa.options.map(|o| o.bitmap), Some(option_bit(2)));
        // An ACK of something else does not complete it; the right one does, once.
        let t3 = Timestamp(6_030 * MS);
        assert_eq!(
            a.packet(&key(true), t3, &header(101, 5, ACK, 502, &[]), 0)
                .handshake,
            None
        );
        let done = a.packet(&key(true), t3, &header(101, 901, ACK, 502, &[]), 0);
        assert_eq!(
            done.handshake,
            Some(Handshake {
                syn: t1,
                syn_ack: t2,
                ack: t3,
                syn_ack_tos: 0,
            })
        );
        assert_eq!(
            a.packet(&key(true), t3, &header(101, 901, ACK, 502, &[]), 0)
                .handshake,
            None
        );
    }

    #[test]
    fn a_syn_retransmitted_after_the_syn_ack_does_not_move_the_servers_rtt() {
        let mut a = TcpAnalyzer::new();
        a.packet(
            &key(true),
            Timestamp(MS),
            &header(100, 0, SYN, 64240, &[]),
            0,
        );
        a.packet(
            &key(false),
            Timestamp(4 * MS),
            &header(900, 101, SYN | ACK, 65535, &[]),
            0,
        );
        a.packet(
            &key(true),
            Timestamp(5 * MS),
            &header(100, 0, SYN, 64240, &[]),
            0,
        );
        let done = a.packet(
            &key(true),
            Timestamp(7 * MS),
            &header(101, 901, ACK, 502, &[]),
            0,
        );
        let h = done.handshake.unwrap();
        assert_eq!(
            (h.syn, h.syn_ack, h.ack),
            (Timestamp(MS), Timestamp(4 * MS), Timestamp(7 * MS))
        );
    }

    #[test]
    fn the_handshake_carries_the_syn_acks_tos() {
        // The server marks its packets (DSCP CS1), the client does not: the server's
        // record is keyed by the SYN-ACK's ToS.
        let mut a = TcpAnalyzer::new();
        let server = FlowKey {
            tos: 0x20,
            ..key(false)
        };
        a.packet(
            &key(true),
            Timestamp(MS),
            &header(100, 0, SYN, 64240, &[]),
            0,
        );
        a.packet(
            &server,
            Timestamp(2 * MS),
            &header(900, 101, SYN | ACK, 65535, &[]),
            0,
        );
        let done = a.packet(
            &key(true),
            Timestamp(3 * MS),
            &header(101, 901, ACK, 502, &[]),
            0,
        );
        assert_eq!(done.handshake.map(|h| h.syn_ack_tos), Some(0x20));
    }

    #[test]
    fn retransmission_out_of_order_and_keep_alive() {
        let mut a = TcpAnalyzer::new();
        let c = 1000;
        send(&mut a, (true, 0, c, 0, SYN, 1000, 0));
        send(&mut a, (false, 10, 5000, c + 1, SYN | ACK, 1000, 0));
        send(&mut a, (true, 20, c + 1, 5001, ACK, 1000, 0)); // first RTT: 20 ms
        assert_eq!(
            send(&mut a, (true, 30, c + 1, 5001, ACK, 1000, 100)).events,
            0
        );
        // 100..200 is lost; 200..300 arrives (a gap: no flag).
        assert_eq!(
            send(&mut a, (true, 31, c + 201, 5001, ACK, 1000, 100)).events,
            0
        );
        // The missing segment 5 ms later: under the first RTT, so out of order.
        assert_eq!(
            send(&mut a, (true, 36, c + 101, 5001, ACK, 1000, 100)).events,
            OUT_OF_ORDER
        );
        // The first segment again, 100 ms on: a retransmission.
        assert_eq!(
            send(&mut a, (true, 136, c + 1, 5001, ACK, 1000, 100)).events,
            RETRANSMISSION
        );
        // A keep-alive (1 byte at next_seq - 1) is not one.
        assert_eq!(
            send(&mut a, (true, 9000, c + 300, 5001, ACK, 1000, 1)).events,
            0
        );
        assert_eq!(
            send(&mut a, (true, 9001, c + 300, 5001, ACK, 1000, 0)).events,
            0
        );
    }

    #[test]
    fn fast_and_spurious_retransmissions() {
        let mut a = TcpAnalyzer::new();
        send(&mut a, (true, 0, 1, 1, ACK, 1000, 100)); // mid-stream
        send(&mut a, (false, 1, 1, 101, ACK, 1000, 0));
        send(&mut a, (true, 100, 101, 1, ACK, 1000, 100)); // lost, not seen by...
        send(&mut a, (true, 101, 201, 1, ACK, 1000, 100));
        // Three ACKs of 101 from the receiver: the last two are duplicates.
        for ms in [102, 103, 104] {
            send(&mut a, (false, ms, 1, 101, ACK, 1000, 0));
        }
        assert_eq!(
            send(&mut a, (true, 110, 101, 1, ACK, 1000, 100)).events,
            RETRANSMISSION
        );
        send(&mut a, (false, 120, 1, 301, ACK, 1000, 0));
        // 1..101, all acknowledged: spurious, flagged a retransmission as tshark does.
        assert_eq!(
            send(&mut a, (true, 500, 1, 1, ACK, 1000, 100)).events,
            RETRANSMISSION
        );
    }

    #[test]
    fn a_syn_ack_that_answers_another_syn_does_not_complete_the_handshake() {
        let mut a = TcpAnalyzer::new();
        send(&mut a, (true, 0, 100, 0, SYN, 1000, 0));
        send(&mut a, (false, 5, 900, 77, SYN | ACK, 1000, 0));
        assert_eq!(
            send(&mut a, (true, 9, 101, 901, ACK, 1000, 0)).handshake,
            None
        );
        // The SYN again (same ISN), then its answer: from the last SYN.
        send(&mut a, (true, 1000, 100, 0, SYN, 1000, 0));
        send(&mut a, (false, 1005, 900, 101, SYN | ACK, 1000, 0));
        let h = send(&mut a, (true, 1009, 101, 901, ACK, 1000, 0))
            .handshake
            .unwrap();
        assert_eq!(h.ack.0 - h.syn.0, 9 * MS);
        assert_eq!(h.ack.0 - h.syn_ack.0, 4 * MS);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut a = TcpAnalyzer::new();
        let start = u32::MAX - 150;
        send(&mut a, (true, 0, start, 0, SYN, 1000, 0));
        send(
            &mut a,
            (false, 1, 7, start.wrapping_add(1), SYN | ACK, 1000, 0),
        );
        let mut seq = start.wrapping_add(1);
        for i in 0..5 {
            let v = send(&mut a, (true, 10 + i, seq, 8, ACK, 1000, 100));
            assert_eq!(v.events, 0, "segment {i} at {seq}");
            seq = seq.wrapping_add(100);
        }
        assert!(seq < start, "the stream crossed 2^32");
        // A segment from before the wrap, resent after it: a retransmission.
        let old = start.wrapping_add(101);
        assert_eq!(
            send(&mut a, (true, 900, old, 8, ACK, 1000, 100)).events,
            RETRANSMISSION
        );
        // New data after the wrap is not.
        assert_eq!(send(&mut a, (true, 901, seq, 8, ACK, 1000, 100)).events, 0);
    }

    #[test]
    fn a_connection_seen_mid_stream_starts_from_its_first_packet() {
        let mut a = TcpAnalyzer::new();
        // No SYN: the first packet is data far into the stream, from either side.
        assert_eq!(
            send(&mut a, (false, 0, 3_000_000, 77, ACK, 1000, 500)).events,
            0
        );
        assert_eq!(
            send(&mut a, (true, 1, 77, 3_000_500, ACK, 1000, 0)).events,
            0
        );
        assert_eq!(
            send(&mut a, (false, 2, 3_000_500, 77, ACK, 1000, 500)).events,
            0
        );
        assert_eq!(
            send(&mut a, (false, 500, 3_000_500, 77, ACK, 1000, 500)).events,
            RETRANSMISSION
        );
        // No handshake was seen: none is reported.
        assert_eq!(
            send(&mut a, (true, 501, 77, 3_001_000, ACK, 1000, 0)).handshake,
            None
        );
        assert_eq!(a.connections(), 1);
    }

    #[test]
    fn zero_window_and_port_reuse() {
        let mut a = TcpAnalyzer::new();
        send(&mut a, (true, 0, 10, 0, SYN, 1000, 0));
        assert_eq!(
            send(&mut a, (false, 1, 50, 11, SYN | ACK, 0, 0)).events,
            0,
            "SYN"
        );
        assert_eq!(
            send(&mut a, (false, 2, 51, 11, ACK, 0, 0)).events,
            ZERO_WINDOW
        );
        assert_eq!(
            send(&mut a, (false, 3, 51, 11, ACK | FIN, 0, 0)).events,
            0,
            "FIN"
        );
        // A SYN with another ISN on the same ports: a new connection, not a retransmission.
        let v = send(&mut a, (true, 4000, 99_999, 0, SYN, 1000, 0));
        assert_eq!(v.events, 0);
        assert!(v.options.is_some(), "the new connection's first SYN");
        assert_eq!(a.stats().connections, 2);
    }

    #[test]
    fn cut_headers_are_not_analysed() {
        let mut a = TcpAnalyzer::new();
        let h = header(1, 1, SYN, 1000, &[2, 4, 5, 0xb4]);
        for cut in 0..16 {
            assert_eq!(
                a.packet(&key(true), Timestamp(1), &h[..cut], 0),
                TcpVerdict::default()
            );
        }
        assert_eq!(a.connections(), 0);
        // Up to the window: analysed; the options cut off are not read.
        let v = a.packet(&key(true), Timestamp(1), &h[..22], 0);
        assert_eq!(
            v.options.map(|o| (o.mss, o.bitmap)),
            Some((None, option_bit(2)))
        );
        // Not TCP: nothing.
        let mut udp = key(true);
        udp.proto = 17;
        assert_eq!(a.packet(&udp, Timestamp(1), &h, 0), TcpVerdict::default());
    }

    #[test]
    fn the_table_is_bounded_and_idle_connections_expire() {
        let mut a = TcpAnalyzer::with_max_connections(3);
        let h = header(1, 1, ACK, 1000, &[]);
        for port in 0..5u16 {
            let mut k = key(true);
            k.src_port = port;
            a.packet(&k, Timestamp(u64::from(port) * MS), &h, 0);
        }
        assert_eq!(a.connections(), 3);
        assert_eq!(a.stats().evicted, 2);
        // Port 4 stays busy; the others go idle.
        let mut busy = key(true);
        busy.src_port = 4;
        let later = Timestamp(200_000 * MS);
        a.packet(&busy, later, &h, 0);
        a.expire(Timestamp(10 * MS).saturating_add(IDLE_TIMEOUT));
        assert_eq!(a.connections(), 1);
        assert_eq!(a.stats().expired, 2);
        a.expire(later.saturating_add(IDLE_TIMEOUT));
        assert_eq!(a.connections(), 0);
    }
}
