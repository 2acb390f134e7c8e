//! The inspector: which connections are under inspection, the start of each direction's
//! byte stream, and which parser reads it.
//!
//! One `Inspector` sits beside the decoder in each capture thread (`Classifier`). Both
//! directions of a connection pass through the same one (offline there is one reader;
//! live the kernel's fanout hash is symmetric), so it can tell client from server and
//! put each direction's first bytes together.
//!
//! # The table
//! A connection (both directions, keyed without ToS and interface, which may differ
//! between directions) gets an entry at its first packet with payload (or its SYN /
//! SYN-ACK, which give the stream's first sequence number and the client). Under
//! inspection, the entry holds, per direction, the parsers still possible and, only when
//! a message spans segments, the stream start read so far and segments that arrived
//! ahead of a gap (a message in one segment is parsed in place). A direction's
//! inspection ends when a message is read, every parser said no, `max_packets` payload
//! packets were seen, or its stream start reached [`MAX_STREAM_BYTES`]; its buffers are
//! freed then, and once both directions ended, all but the entry's 24 bytes.
//!
//! The entry stays until [`INSPECTION_TIMEOUT`] after the connection's first packet, so
//! the rest of a long connection is not inspected again (one that goes on after that is
//! looked at afresh, from wherever it is: its parsers then see the middle of a stream,
//! which they refuse). Every payload packet of every TCP and UDP flow looks its
//! connection up here, so the table is small: it is keyed by a 64-bit hash of the
//! connection's key rather than the key (48 bytes), which keeps a busy table in the
//! processor's caches. Two live connections whose keys hash alike (about one chance in
//! 10^7 with a million connections in the table) would share an entry: the second is
//! then not inspected, or inspected with the first's state; nothing else is affected.
//! Entries leave in the order they came (a queue of creation times), so expiry never
//! scans the table. At most [`MAX_CONNECTIONS`] entries: past that, new connections are
//! not inspected, and counted.
//!
//! # TCP
//! Segments are put in order by sequence number (wrapping): a segment at the next
//! expected byte is read; one that overlaps what was read gives only its new bytes (a
//! retransmission gives none); one ahead of a gap is held (copied, at most
//! `max_packets` of them and [`MAX_STREAM_BYTES`] in all) until the gap fills; one that
//! starts beyond the [`MAX_STREAM_BYTES`] of stream start that can be kept ends the
//! direction's inspection (its start is lost). The
//! first expected byte is the SYN's sequence number + 1 when the SYN was seen, else the
//! first payload segment's, unless that is a single zero byte (a keep-alive probe's
//! garbage octet, before the next byte to send).
//!
//! # QUIC
//! A UDP direction keeps QUIC possible while its datagrams are QUIC long headers, until
//! the connection's first v1/v2 Initial (a Version Negotiation, an Initial of another
//! version or a 0-RTT packet may come first). The client's direction stays open after its
//! hello, for a client that starts over with another DCID (after a Retry or a Version
//! Negotiation: the server's Initials are then sealed with that one), until the server's
//! direction ends.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;

use super::{
    dns, http, quic, ssh, tls, App, InspectConfig, Outcome, Protocol, ProtocolSet, Seen,
    INSPECTION_TIMEOUT, MAX_STREAM_BYTES,
};
use crate::decode::{PacketMeta, TransportRange};
use crate::flow::key::{PROTO_TCP, PROTO_UDP};
use crate::time::Timestamp;

/// Connections in the table at most (about 64 bytes each once their inspection ended,
/// with the expiry queue: 64 MiB at the bound). A link that opens more connections in
/// [`INSPECTION_TIMEOUT`] has the excess counted, not inspected.
pub const MAX_CONNECTIONS: usize = 1 << 20;

/// TCP flags.
const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

/// What inspection counted, per protocol (index: `Protocol as usize`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InspectStats {
    /// Messages read (hellos, queries, heads, banners).
    pub found: [u64; Protocol::ALL.len()],
    /// Inspection errors: bytes that were this protocol but broken (a cut or lying
    /// length, a compression loop, a name too long, ...). The field stays empty.
    pub errors: [u64; Protocol::ALL.len()],
    /// Connections not inspected because the table held [`MAX_CONNECTIONS`].
    pub table_full: u64,
    /// Connections whose inspection began.
    pub connections: u64,
}

impl InspectStats {
    /// Adds another thread's counts.
    pub fn add(&mut self, other: &InspectStats) {
        for (a, b) in self.found.iter_mut().zip(other.found) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        self.table_full += other.table_full;
        self.connections += other.connections;
    }
}

/// One direction of a connection under inspection.
#[derive(Debug, Default)]
struct Direction {
    /// Parsers still possible (a set of protocols); empty: this direction is done.
    candidates: ProtocolSet,
    /// Payload packets seen.
    packets: u16,
    /// TCP: the next byte expected in order (`None` until the SYN or the first payload).
    next_seq: Option<u32>,
    /// TCP: what is kept only while a message spans segments.
    pending: Option<Box<Pending>>,
}

/// A TCP direction's bytes kept between segments.
#[derive(Debug, Default)]
struct Pending {
    /// The stream start read so far.
    stream: Vec<u8>,
    /// Segments ahead of a gap (sequence number, bytes).
    ahead: Vec<(u32, Vec<u8>)>,
    /// SSH: the end of the client's banner in the stream, once read (its KEXINIT is
    /// awaited then, for HASSH).
    ssh_banner_end: Option<usize>,
}

impl Direction {
    fn done(&self) -> bool {
        self.candidates.is_empty()
    }

    /// Ends this direction's inspection and frees its buffers.
    fn finish(&mut self) {
        self.candidates = ProtocolSet::NONE;
        self.pending = None;
    }

    fn pending(&mut self) -> &mut Pending {
        self.pending.get_or_insert_with(Box::default)
    }

    fn stream_len(&self) -> usize {
        self.pending.as_ref().map_or(0, |p| p.stream.len())
    }

    fn ssh_banner_end(&self) -> Option<usize> {
        self.pending.as_ref().and_then(|p| p.ssh_banner_end)
    }
}

/// A connection under inspection.
#[derive(Debug)]
struct Connection {
    /// Which direction (0: the lower endpoint's, 1: the other) is the client's.
    client: usize,
    /// The two directions.
    directions: [Direction; 2],
    /// QUIC Initial state, once a direction showed an Initial.
    quic: Option<Box<quic::QuicState>>,
    /// Whether `app = quic` was reported for each direction.
    quic_reported: [bool; 2],
    /// Whether the client's QUIC hello was read (its direction then stays open only for
    /// a restart, until the server's direction ends).
    quic_client_hello: bool,
}

/// A connection's entry: when it began, and its state while under inspection.
#[derive(Debug)]
struct Entry {
    /// Its first packet's time (the entry leaves [`INSPECTION_TIMEOUT`] after).
    first: Timestamp,
    /// `None` once both directions' inspection ended.
    connection: Option<Box<Connection>>,
}

/// The connections under inspection in one capture thread.
#[derive(Debug)]
pub struct Inspector {
    config: InspectConfig,
    /// Entries by [`super::connection_hash`].
    table: HashMap<u64, Entry, BuildHasherDefault<super::KeyIsHash>>,
    /// (first packet, connection hash), in creation order.
    order: VecDeque<(Timestamp, u64)>,
    /// Directions whose inspection ended lately, direct-mapped by connection hash. Most
    /// packets belong to such directions; this small array (64 KiB) answers them from
    /// the processor's cache, where the table (a few MB on a busy link) and the
    /// connection's state cost two or three cache misses a packet.
    ended: Vec<Ended>,
    /// The time (seconds since the epoch) the slots' times count from: they hold 30 bits
    /// of seconds, so when packet time runs more than half of that (17 years) past it,
    /// the slots are cleared and the base moves (a cleared slot only sends a packet to
    /// the table).
    ended_base: u64,
    stats: InspectStats,
}

/// A slot of `Inspector::ended`: 8 bytes, so the array stays in the processor's cache.
/// Two connections in one slot whose hashes also share the upper 32 bits (one chance in
/// 4 billion a lookup) would let one's ended direction skip the other's: a direction not
/// inspected, nothing else.
#[derive(Clone, Copy, Debug, Default)]
struct Ended {
    /// The connection hash's upper 32 bits (the lower ones choose the slot).
    tag: u32,
    /// When its table entry expires, in seconds since `Inspector::ended_base` (rounded
    /// down: the slot may stop answering up to a second early; the table answers then),
    /// times 4, plus bit `i` set when direction `i`'s inspection ended.
    until_and_directions: u32,
}

/// The largest number of seconds past `Inspector::ended_base` a slot holds.
const ENDED_SECS: u64 = (1 << 30) - 1;

impl Ended {
    /// A slot for connection `hash` whose entry expires `until` seconds past the base.
    fn new(hash: u64, until: u64) -> Ended {
        Ended {
            tag: (hash >> 32) as u32,
            until_and_directions: (until.min(ENDED_SECS) as u32) << 2,
        }
    }

    /// Whether direction `index` of the connection `hash` ended, as of `now` (seconds
    /// past the base).
    fn ended(self, hash: u64, index: usize, now: u64) -> bool {
        self.tag == (hash >> 32) as u32
            && now < u64::from(self.until_and_directions >> 2)
            && self.until_and_directions & (1 << index) != 0
    }
}

/// Slots of `Inspector::ended` (a power of two).
const ENDED_SLOTS: usize = 8192;

impl Inspector {
    /// An inspector with an empty table.
    pub fn new(config: InspectConfig) -> Inspector {
        Inspector {
            config,
            table: HashMap::default(),
            order: VecDeque::new(),
            ended: vec![Ended::default(); ENDED_SLOTS],
            ended_base: 0,
            stats: InspectStats::default(),
        }
    }

    /// What was counted so far.
    pub fn stats(&self) -> InspectStats {
        self.stats
    }

    /// Connections in the table.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// `ts` in seconds past the ended slots' base, which moves (and the slots are
    /// cleared) when `ts` is more than half the slots' range past it: the first packet
    /// of a capture does that, and one 17 years after the base.
    fn ended_secs(&mut self, ts: Timestamp) -> u64 {
        let now = ts.as_secs().saturating_sub(self.ended_base);
        if now <= ENDED_SECS / 2 {
            return now;
        }
        self.ended.fill(Ended::default());
        self.ended_base = ts.as_secs();
        0
    }

    /// Drops the entries of connections that began [`INSPECTION_TIMEOUT`] before `now`.
    pub fn expire(&mut self, now: Timestamp) {
        let timeout = INSPECTION_TIMEOUT.as_nanos() as u64;
        while let Some(&(first, hash)) = self.order.front() {
            if first.0.saturating_add(timeout) > now.0 {
                break;
            }
            self.order.pop_front();
            if self.table.get(&hash).is_some_and(|e| e.first == first) {
                self.table.remove(&hash);
            }
        }
    }

    /// Looks at one metered packet (`meta` decoded from `frame`, its transport at
    /// `transport`) seen at `ts`, and returns what it completed for its direction.
    pub fn inspect(
        &mut self,
        meta: &PacketMeta,
        frame: &[u8],
        transport: &TransportRange,
        ts: Timestamp,
    ) -> Option<Box<Seen>> {
        self.inspect_hashed(meta, frame, transport, ts, || {
            super::connection_hash(&meta.key)
        })
    }

    /// `inspect`, with the packet's [`super::connection_hash`] from `connection` (called
    /// only when the packet has something to look at): the capture thread computes it
    /// once for this and the TCP analysis.
    pub fn inspect_hashed(
        &mut self,
        meta: &PacketMeta,
        frame: &[u8],
        transport: &TransportRange,
        ts: Timestamp,
        connection: impl FnOnce() -> (u64, bool),
    ) -> Option<Box<Seen>> {
        let key = &meta.key;
        let tcp = match key.proto {
            PROTO_TCP => true,
            PROTO_UDP => false,
            _ => return None,
        };
        let payload = frame.get(transport.payload.clone()).unwrap_or_default();
        let flags = meta.tcp_flags;
        let syn = tcp && flags & SYN != 0;
        if payload.is_empty() && !syn {
            return None;
        }
        let (hash, forward) = connection();
        let index = usize::from(!forward);
        let slot = hash as usize & (ENDED_SLOTS - 1);
        let now = self.ended_secs(ts);
        if self.ended[slot].ended(hash, index, now) {
            return None;
        }
        let table_len = self.table.len();
        let entry = match self.table.entry(hash) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                if table_len >= MAX_CONNECTIONS {
                    self.stats.table_full += 1;
                    return None;
                }
                self.stats.connections += 1;
                // The client: a SYN's sender, a SYN-ACK's receiver, else the first
                // packet's sender.
                let client = if syn && flags & ACK != 0 {
                    1 - index
                } else {
                    index
                };
                let candidates = candidates(self.config.protocols, tcp);
                let direction = || Direction {
                    candidates,
                    ..Direction::default()
                };
                self.order.push_back((ts, hash));
                e.insert(Entry {
                    first: ts,
                    connection: Some(Box::new(Connection {
                        client,
                        directions: [direction(), direction()],
                        quic: None,
                        quic_reported: [false; 2],
                        quic_client_hello: false,
                    })),
                })
            }
        };
        let connection = entry.connection.as_deref_mut()?;
        let [d0, d1] = &mut connection.directions;
        let direction = if index == 0 { d0 } else { d1 };
        if direction.done() {
            return None;
        }
        let from_client = index == connection.client;
        let seen = if tcp {
            let seq = read_u32(frame, transport.header + 4).unwrap_or(0);
            tcp_segment(
                direction,
                seq,
                syn,
                payload,
                from_client,
                &self.config,
                &mut self.stats,
            )
        } else {
            let seen = datagram(
                direction,
                &mut connection.quic,
                &mut connection.quic_reported[index],
                &mut connection.quic_client_hello,
                payload,
                from_client,
                &self.config,
                &mut self.stats,
            );
            // A QUIC client's direction, kept open after its hello for a restart, ends
            // with the server's.
            let client = connection.client;
            if connection.quic_client_hello && connection.directions[1 - client].done() {
                connection.directions[client].finish();
            }
            seen
        };
        let done = connection.directions.each_ref().map(Direction::done);
        if done[index] {
            let until = Timestamp(
                entry
                    .first
                    .0
                    .saturating_add(INSPECTION_TIMEOUT.as_nanos() as u64),
            );
            let fresh = Ended::new(hash, until.as_secs().saturating_sub(self.ended_base));
            let e = &mut self.ended[slot];
            if (e.tag, e.until_and_directions >> 2) != (fresh.tag, fresh.until_and_directions >> 2)
            {
                *e = fresh;
            }
            e.until_and_directions |= u32::from(done[0]) | u32::from(done[1]) << 1;
        }
        if done == [true, true] {
            entry.connection = None;
        }
        seen
    }
}

/// The ended-direction slots are a cache of the table's answer: a differential check,
/// for the unit tests and the fuzz target `inspect_connections` only (`cfg(fuzzing)` is
/// set by cargo-fuzz): empty in a normal build.
#[doc(hidden)]
#[allow(unexpected_cfgs)]
pub mod fuzzing {
    #[cfg(any(test, fuzzing))]
    use super::*;

    /// Feeds the packets `data` describes to two inspectors, one of which has its slots
    /// cleared before every packet (a cleared slot only sends a packet to the table), and
    /// panics where they differ: in what a packet completed, the table's size, or the
    /// counts. Packet time only goes forward, as the readers give it (offline the clock
    /// clamps; expiry runs at times no later than the next packet's).
    ///
    /// `data` is cut into records of 4 bytes and a payload:
    /// - control: bits 0-1 which of 4 connections (a client port of [`CLIENT_PORTS`], two
    ///   of which share an ended slot over TCP), bit 2 from the server, bit 3 UDP, bits 4-6 the payload (0 and 7: the record's own bytes; 1 a
    ///   TLS ClientHello, 2 an HTTP request, 3 an SSH banner, 4 a DNS query, 5 an HTTP
    ///   response, 6 none), bit 7 expiry before the packet;
    /// - TCP flags (SYN, ACK, ...), whose bit 6 also moves the sequence number 1000
    ///   ahead (a gap) and bit 7 back by the payload's length (a retransmission);
    /// - a time step: 100 ms units, or with bit 7 that many 2^53 ns (104 days each, up
    ///   to 36 years: past the slots' 17-year range at once);
    /// - a length `n`: the first `n` bytes of the payload chosen (of the record's own
    ///   bytes, which follow).
    #[cfg(any(test, fuzzing))]
    pub fn ended_slots_change_nothing(data: &[u8]) {
        use crate::decode::{decode_payload, Decap};
        let config = InspectConfig {
            protocols: ProtocolSet::parse(["all"]).unwrap_or(ProtocolSet::NONE),
            max_packets: 4,
            ..InspectConfig::default()
        };
        let (mut cached, mut table) = (Inspector::new(config), Inspector::new(config));
        let mut t: u64 = 1_700_000_000_000_000_000;
        let mut seq = [[0x8000_0000u32; 2]; 4];
        let mut rest = data;
        while let [ctl, flags, step, n, tail @ ..] = rest {
            let conn = usize::from(ctl & 3);
            let from_server = ctl & 4 != 0;
            let udp = ctl & 8 != 0;
            let mut n = usize::from(*n);
            let own;
            (own, rest) = tail.split_at(n.min(tail.len()));
            let template: &[u8] = match (ctl >> 4) & 7 {
                1 => CLIENT_HELLO,
                2 => b"GET /a HTTP/1.1\r\nHost: example.com\r\nUser-Agent: x\r\n\r\n",
                3 => b"SSH-2.0-OpenSSH_9.6\r\n",
                4 => DNS_QUERY,
                5 => b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                6 => b"",
                _ => own,
            };
            n = n.min(template.len());
            let payload = &template[..n];
            t = t.saturating_add(if step & 0x80 != 0 {
                u64::from(step & 0x7f) << 23 << 30
            } else {
                u64::from(*step) * 100_000_000
            });
            let ts = Timestamp(t);
            if ctl & 0x80 != 0 {
                cached.expire(ts);
                table.expire(ts);
            }
            let side = &mut seq[conn][usize::from(from_server)];
            if flags & 0x40 != 0 {
                *side = side.wrapping_add(1000);
            }
            if flags & 0x80 != 0 {
                *side = side.wrapping_sub(n as u32);
            }
            let frame = packet(conn, from_server, udp, *side, *flags, payload);
            *side = side.wrapping_add(n as u32 + u32::from(!udp && flags & SYN != 0));
            let mut meta = PacketMeta::default();
            let Ok(transport) =
                decode_payload(101, &frame, frame.len() as u32, &Decap::NONE, &mut meta)
            else {
                panic!("a packet the check built did not decode");
            };
            let found = cached.inspect(&meta, &frame, &transport, ts);
            table.ended.fill(Ended::default());
            assert_eq!(found, table.inspect(&meta, &frame, &transport, ts));
            assert_eq!(cached.len(), table.len());
            assert_eq!(cached.stats(), table.stats());
        }
        cached.expire(Timestamp::END);
        table.expire(Timestamp::END);
        assert!(cached.is_empty() && table.is_empty());
    }

    /// The check's client ports. Under the tests' and fuzz targets' fixed hash seed, the
    /// TCP connections of the last two share an ended slot (asserted by the unit test), so
    /// that one connection's slot replaces the other's.
    #[cfg(any(test, fuzzing))]
    pub(super) const CLIENT_PORTS: [u16; 4] = [40000, 40001, 40040, 40079];

    /// A raw IPv4 TCP or UDP packet of connection `conn` (port `CLIENT_PORTS[conn]`).
    #[cfg(any(test, fuzzing))]
    fn packet(
        conn: usize,
        from_server: bool,
        udp: bool,
        seq: u32,
        flags: u8,
        payload: &[u8],
    ) -> Vec<u8> {
        let port = CLIENT_PORTS[conn % 4];
        if udp {
            let mut header = (8 + payload.len() as u16).to_be_bytes().to_vec();
            header.extend_from_slice(&[0, 0]);
            ipv4(!from_server, 17, port, &header, payload)
        } else {
            let mut header = seq.to_be_bytes().to_vec();
            header.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
            ipv4(!from_server, 6, port, &header, payload)
        }
    }

    /// The client and the server of the check's and the unit tests' packets.
    #[cfg(any(test, fuzzing))]
    const CLIENT: [u8; 4] = [198, 18, 0, 1];
    #[cfg(any(test, fuzzing))]
    const SERVER: [u8; 4] = [198, 18, 0, 2];

    /// A raw IPv4 packet of protocol `proto` between the client and the server, the
    /// client's port `client_port` and the server's 443; `transport` is the transport
    /// header after the two ports.
    #[cfg(any(test, fuzzing))]
    pub(super) fn ipv4(
        from_client: bool,
        proto: u8,
        client_port: u16,
        transport: &[u8],
        payload: &[u8],
    ) -> Vec<u8> {
        let (src, dst, sport, dport) = if from_client {
            (CLIENT, SERVER, client_port, 443u16)
        } else {
            (SERVER, CLIENT, 443, client_port)
        };
        let total = (20 + 4 + transport.len() + payload.len()) as u16;
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, proto, 0, 0];
        p[2..4].copy_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&src);
        p.extend_from_slice(&dst);
        p.extend_from_slice(&sport.to_be_bytes());
        p.extend_from_slice(&dport.to_be_bytes());
        p.extend_from_slice(transport);
        p.extend_from_slice(payload);
        p
    }

    /// A TLS record with a ClientHello: TLS 1.2, one cipher suite, the server name
    /// `example.com`.
    #[cfg(any(test, fuzzing))]
    pub(super) const CLIENT_HELLO: &[u8] = &[
        0x16, 0x03, 0x01, 0x00, 0x43, // record: handshake, 67 bytes
        0x01, 0x00, 0x00, 0x3f, 0x03, 0x03, // ClientHello, 63 bytes, TLS 1.2
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25,
        26, 27, 28, 29, 30, 31, 32, // random
        0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00, // no session, one suite, null compression
        0x00, 0x14, // extensions: 20 bytes
        0x00, 0x00, 0x00, 0x10, 0x00, 0x0e, 0x00, 0x00, 0x0b, // server_name, host_name, 11
        b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'c', b'o', b'm',
    ];

    /// A DNS query for `example.com` A.
    #[cfg(any(test, fuzzing))]
    const DNS_QUERY: &[u8] = &[
        0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p', b'l',
        b'e', 3, b'c', b'o', b'm', 0, 0, 1, 0, 1,
    ];
}

/// The parsers a new direction starts with.
fn candidates(enabled: ProtocolSet, tcp: bool) -> ProtocolSet {
    let possible: &[Protocol] = if tcp {
        &[Protocol::Tls, Protocol::Http, Protocol::Ssh, Protocol::Dns]
    } else {
        &[Protocol::Dns, Protocol::Quic]
    };
    possible
        .iter()
        .copied()
        .filter(|&p| enabled.has(p))
        .collect()
}

fn read_u32(b: &[u8], at: usize) -> Option<u32> {
    let bytes: [u8; 4] = b.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// One TCP segment of a direction under inspection.
fn tcp_segment(
    d: &mut Direction,
    seq: u32,
    syn: bool,
    payload: &[u8],
    from_client: bool,
    config: &InspectConfig,
    stats: &mut InspectStats,
) -> Option<Box<Seen>> {
    // A SYN's data (TCP Fast Open) starts one past its sequence number.
    let start = if syn {
        let first = seq.wrapping_add(1);
        if d.packets == 0 {
            d.next_seq = Some(first);
        }
        first
    } else {
        seq
    };
    if payload.is_empty() {
        return None;
    }
    d.packets = d.packets.saturating_add(1);
    // Without the SYN, a segment of one zero byte does not start the stream: on an idle
    // connection it is a keep-alive probe (RFC 9293 section 3.8.4; Windows sends one zero
    // "garbage" octet), the byte before the next one to send, so the next message would
    // follow it in the stream. No protocol read here starts with such a segment. (With the
    // SYN seen the probe overlaps what was read, and gives nothing.)
    if d.next_seq.is_none() && payload == [0] {
        if d.packets >= config.max_packets {
            d.finish();
        }
        return None;
    }
    let next = *d.next_seq.get_or_insert(start);
    let ahead_by = start.wrapping_sub(next) as i32;
    let mut seen = None;
    if ahead_by > 0 {
        // A segment that starts past the stream start that can be kept: the bytes before
        // it (more than 16 KiB) would have to come later, which a sender does not do (its
        // first flight is at most 10 segments, RFC 6928, before it retransmits the first)
        // in any trace seen; the stream start is lost, and this direction is done.
        if ahead_by as usize >= MAX_STREAM_BYTES.saturating_sub(d.stream_len()) {
            d.finish();
            return None;
        }
        let pending = d.pending();
        let held: usize = pending.ahead.iter().map(|(_, b)| b.len()).sum();
        if pending.ahead.len() < usize::from(config.max_packets)
            && held + payload.len() <= MAX_STREAM_BYTES
        {
            pending.ahead.push((start, payload.to_vec()));
        }
    } else {
        // Overlap with what was read: only the new bytes count.
        let skip = ahead_by.unsigned_abs() as usize;
        if let Some(new) = payload.get(skip..).filter(|b| !b.is_empty()) {
            seen = deliver(d, new, from_client, stats);
            // Segments held ahead that now fit.
            while !d.done() {
                let (Some(next), Some(pending)) = (d.next_seq, d.pending.as_mut()) else {
                    break;
                };
                let Some(i) = pending.ahead.iter().position(|(s, b)| {
                    let off = next.wrapping_sub(*s) as i32;
                    off >= 0 && (off as usize) < b.len()
                }) else {
                    break;
                };
                let (s, bytes) = pending.ahead.swap_remove(i);
                let off = next.wrapping_sub(s) as usize;
                if let Some(more) =
                    deliver(d, bytes.get(off..).unwrap_or_default(), from_client, stats)
                {
                    seen = Some(Box::new(seen.map(|b| *b).unwrap_or_default().or(&more)));
                }
            }
        }
    }
    if !d.done() && (d.packets >= config.max_packets || d.stream_len() >= MAX_STREAM_BYTES) {
        d.finish();
    }
    seen
}

/// Reads `new` (the next in-order bytes of a TCP direction) with the parsers still
/// possible.
fn deliver(
    d: &mut Direction,
    new: &[u8],
    from_client: bool,
    stats: &mut InspectStats,
) -> Option<Box<Seen>> {
    d.next_seq = d.next_seq.map(|n| n.wrapping_add(new.len() as u32));
    let room = MAX_STREAM_BYTES.saturating_sub(d.stream_len());
    let new = new.get(..room.min(new.len())).unwrap_or_default();
    // A message in one segment is parsed in place; bytes are kept only when more are
    // needed.
    let in_place = d.stream_len() == 0;
    let stream = match &mut d.pending {
        Some(p) if !in_place => {
            p.stream.extend_from_slice(new);
            std::mem::take(&mut p.stream)
        }
        _ => Vec::new(),
    };
    let bytes: &[u8] = if in_place { new } else { &stream };
    let (seen, more) = parse_stream(d, bytes, from_client, stats);
    if more {
        d.pending().stream = if in_place { new.to_vec() } else { stream };
    } else {
        d.finish();
    }
    seen
}

/// Runs the parsers still possible over a TCP direction's stream start. Returns what was
/// found and whether more bytes are wanted.
fn parse_stream(
    d: &mut Direction,
    stream: &[u8],
    from_client: bool,
    stats: &mut InspectStats,
) -> (Option<Box<Seen>>, bool) {
    if let Some(end) = d.ssh_banner_end() {
        return match ssh::kexinit(stream.get(end..).unwrap_or_default()) {
            Outcome::Found(k) => {
                stats.found[Protocol::Ssh as usize] += 1;
                let seen = Seen {
                    hassh: Some(k.hassh),
                    ..Seen::default()
                };
                (Some(Box::new(seen)), false)
            }
            Outcome::Incomplete => (None, true),
            Outcome::NotThis => (None, false),
            Outcome::Malformed(_) => {
                stats.errors[Protocol::Ssh as usize] += 1;
                (None, false)
            }
        };
    }
    for p in d.candidates.iter() {
        let outcome = match p {
            Protocol::Tls => tls::parse_records(stream).map(|h| hello_seen(h, tls::Transport::Tcp)),
            Protocol::Http => http::parse(stream).map(http_seen),
            Protocol::Dns => dns::parse_tcp(stream).map(dns_seen),
            Protocol::Ssh => match ssh::banner(stream) {
                Outcome::Found((banner, end)) => {
                    stats.found[Protocol::Ssh as usize] += 1;
                    let mut seen = Seen {
                        app: Some(App::Ssh),
                        ..Seen::default()
                    };
                    if !from_client {
                        seen.ssh_server = Some(banner);
                        return (Some(Box::new(seen)), false);
                    }
                    seen.ssh_client = Some(banner);
                    // The client's KEXINIT (HASSH) may follow in the same bytes.
                    d.pending().ssh_banner_end = Some(end);
                    d.candidates = [Protocol::Ssh].into_iter().collect();
                    let (more_seen, more) = parse_stream(d, stream, from_client, stats);
                    let more_seen = more_seen.map(|b| *b).unwrap_or_default();
                    return (Some(Box::new(seen.or(&more_seen))), more);
                }
                other => other.map(|_| Seen::default()),
            },
            Protocol::Quic | Protocol::CommunityId | Protocol::Tcp | Protocol::Splt => {
                Outcome::NotThis
            }
        };
        match outcome {
            Outcome::Found(seen) => {
                stats.found[p as usize] += 1;
                return (Some(Box::new(seen)), false);
            }
            Outcome::Incomplete => {}
            Outcome::NotThis => remove(&mut d.candidates, p),
            Outcome::Malformed(_) => {
                stats.errors[p as usize] += 1;
                remove(&mut d.candidates, p);
            }
        }
    }
    (None, !d.candidates.is_empty())
}

fn remove(set: &mut ProtocolSet, p: Protocol) {
    *set = set.iter().filter(|&q| q != p).collect();
}

/// One UDP datagram of a direction under inspection.
#[allow(clippy::too_many_arguments)]
fn datagram(
    d: &mut Direction,
    quic_state: &mut Option<Box<quic::QuicState>>,
    quic_reported: &mut bool,
    client_hello_read: &mut bool,
    payload: &[u8],
    from_client: bool,
    config: &InspectConfig,
    stats: &mut InspectStats,
) -> Option<Box<Seen>> {
    d.packets = d.packets.saturating_add(1);
    let mut seen = None;
    if d.candidates.has(Protocol::Dns) {
        match dns::parse(payload) {
            Outcome::Found(m) => {
                stats.found[Protocol::Dns as usize] += 1;
                d.finish();
                return Some(Box::new(dns_seen(m)));
            }
            Outcome::Incomplete | Outcome::NotThis => remove(&mut d.candidates, Protocol::Dns),
            Outcome::Malformed(_) => {
                stats.errors[Protocol::Dns as usize] += 1;
                remove(&mut d.candidates, Protocol::Dns);
            }
        }
    }
    if d.candidates.has(Protocol::Quic) {
        if quic_state.is_none() && quic::is_initial(payload) {
            *quic_state = Some(Box::default());
        }
        match quic_state {
            // A long header that is no v1/v2 Initial (a Version Negotiation, an Initial of
            // another version that the server refused, a 0-RTT packet that overtook its
            // Initial) may come before a connection's first v1/v2 Initial.
            None if quic_long_header(payload) => {}
            None => remove(&mut d.candidates, Protocol::Quic),
            Some(state) => {
                let outcome = state.datagram(payload, from_client);
                let mut s = Seen::default();
                if state.opened() && !*quic_reported {
                    *quic_reported = true;
                    s.app = Some(App::Quic);
                    seen = Some(Box::new(s.clone()));
                }
                match outcome {
                    Outcome::Found(hello) => {
                        stats.found[Protocol::Quic as usize] += 1;
                        if from_client {
                            // The client may start over with another DCID (after a Retry
                            // or a Version Negotiation), which the server's Initials are
                            // then sealed with: its Initials go on to the state until the
                            // server's direction ends (see `Inspector::inspect`).
                            d.candidates = [Protocol::Quic].into_iter().collect();
                            *client_hello_read = true;
                        } else {
                            d.finish();
                        }
                        return Some(Box::new(s.or(&hello_seen(hello, tls::Transport::Quic))));
                    }
                    Outcome::Incomplete => {}
                    Outcome::NotThis => {
                        if !state.opened() {
                            remove(&mut d.candidates, Protocol::Quic);
                        }
                    }
                    Outcome::Malformed(_) => {
                        stats.errors[Protocol::Quic as usize] += 1;
                        remove(&mut d.candidates, Protocol::Quic);
                    }
                }
            }
        }
    }
    if !d.done() && d.packets >= config.max_packets {
        d.finish();
    }
    seen
}

/// Whether a datagram starts with a QUIC long header (RFC 9000 section 17.2: the header
/// form bit, then a version and the two connection id lengths).
fn quic_long_header(payload: &[u8]) -> bool {
    payload.len() >= 7 && payload.first().is_some_and(|b| b & 0x80 != 0)
}

/// A TLS hello's fields (TLS over TCP, or inside QUIC).
fn hello_seen(hello: tls::Hello, transport: tls::Transport) -> Seen {
    let app = Some(match transport {
        tls::Transport::Tcp => App::Tls,
        tls::Transport::Quic => App::Quic,
    });
    match hello {
        tls::Hello::Client(ch) => Seen {
            app,
            tls_sni: ch.sni.clone(),
            tls_alpn: (!ch.alpn.is_empty()).then(|| ch.alpn.join(",")),
            ja4: Some(ch.ja4(transport)),
            ja3: Some(ch.ja3()),
            ..Seen::default()
        },
        tls::Hello::Server(sh) => Seen {
            app,
            tls_version: Some(sh.version),
            tls_cipher: Some(sh.cipher),
            ..Seen::default()
        },
    }
}

fn dns_seen(m: dns::Message) -> Seen {
    Seen {
        app: Some(App::Dns),
        dns_qname: m.qname,
        dns_qtype: m.qtype,
        dns_rcode: m.response.then_some(m.rcode),
        dns_answers: m.response.then_some(m.answers),
        ..Seen::default()
    }
}

fn http_seen(head: http::Head) -> Seen {
    match head {
        http::Head::Request(r) => Seen {
            app: Some(App::Http),
            http_method: Some(r.method),
            http_target: Some(r.target),
            http_host: r.host,
            http_user_agent: r.user_agent,
            ..Seen::default()
        },
        http::Head::Response { status } => Seen {
            app: Some(App::Http),
            http_status: Some(status),
            ..Seen::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{decode_payload, Decap};
    use crate::inspect::tls::tests::{records, CLIENT_HELLO_MSG, SERVER_HELLO_MSG};

    /// The ended-direction slots answer until their time, at today's dates too (they
    /// once kept seconds since 1970 clamped to 30 bits, January 2004: at any later time
    /// no slot answered and every segment went to the table), and a jump of decades in
    /// packet time clears them rather than letting a stale slot answer.
    #[test]
    fn ended_slots_answer_until_their_time_at_any_date() {
        let secs = |s: u64| Timestamp(s * 1_000_000_000);
        let hash = 0xdead_beef_0000_1234u64;
        for first in [
            5u64,
            1_700_000_000,
            (1 << 30) + 7,
            (1 << 31) - 3,
            4_000_000_000,
        ] {
            let mut i = inspector("tls");
            let base = i.ended_secs(secs(first));
            let mut e = Ended::new(hash, first + 30 - i.ended_base);
            let at = |i: &mut Inspector, t: u64| i.ended_secs(secs(t));
            assert!(!e.ended(hash, 0, base), "{first}: no direction ended yet");
            e.until_and_directions |= 1;
            assert!(e.ended(hash, 0, at(&mut i, first)), "{first}");
            assert!(e.ended(hash, 0, at(&mut i, first + 29)), "{first}");
            assert!(
                !e.ended(hash, 1, at(&mut i, first)),
                "{first}: the other direction"
            );
            assert!(
                !e.ended(hash ^ 1 << 40, 0, at(&mut i, first)),
                "{first}: another tag"
            );
            assert!(
                !e.ended(hash, 0, at(&mut i, first + 30)),
                "{first}: expired"
            );
            assert!(
                !e.ended(hash, 0, at(&mut i, first + 3600)),
                "{first}: long expired"
            );
        }
        // A slot set at 1970-01-01 and a packet 51 years later (a capture whose first
        // frame has no time): the slots are cleared, none answers.
        let mut i = inspector("tls");
        i.ended_secs(secs(0));
        i.ended[0] = Ended::new(hash, 30);
        i.ended[0].until_and_directions |= 1;
        let now = i.ended_secs(secs(1_614_156_838));
        assert!(!i.ended[0].ended(hash, 0, now));
        assert_eq!(i.ended_base, 1_614_156_838);
    }

    /// What the slots answer is what the table would have: the differential check the
    /// fuzz target `inspect_connections` runs, over connections the check's own
    /// templates complete (so that directions end and slots answer) and 3,000 random
    /// sequences of packets: handshakes, gaps, retransmissions, expiry, steps of seconds
    /// and of decades.
    #[test]
    fn ended_slots_answer_as_the_table_would() {
        use fuzzing::ended_slots_change_nothing as check;
        // Two of the check's TCP connections share a slot (else a slot answering for the
        // wrong connection could not be caught): a change of the hash needs other ports.
        let slot = |port: u16| {
            let mut meta = PacketMeta::default();
            let frame = tcp(true, 1, ACK, &[]);
            decode_payload(RAW_IP, &frame, frame.len() as u32, &Decap::NONE, &mut meta).unwrap();
            meta.key.src_port = port;
            super::super::connection_hash(&meta.key).0 as usize & (ENDED_SLOTS - 1)
        };
        let [_, _, a, b] = fuzzing::CLIENT_PORTS;
        assert_eq!(slot(a), slot(b), "ports {a} and {b}");
        // The client's hello and the server's answer on connection 0, each direction
        // done, then more segments both ways (slots answer), a minute later (expired),
        // and after a jump of decades.
        let record = |ctl: u8, flags: u8, step: u8, n: u8| [ctl, flags, step, n];
        let mut crafted = Vec::new();
        for r in [
            record(0x60, SYN, 1, 0),
            record(0x64, SYN | ACK, 1, 0),
            record(0x60, ACK, 1, 0),
            record(0x10, ACK, 1, 255),
            record(0x54, ACK, 1, 255),
            record(0x10, ACK, 1, 255),
            record(0x54, ACK, 1, 255),
            record(0x20, ACK, 1, 255),
            record(0x80 | 0x10, ACK, 250, 255),
            record(0x10, ACK, 0x80 | 100, 255),
            record(0x10, ACK, 1, 255),
        ] {
            crafted.extend_from_slice(&r);
        }
        check(&crafted);
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..3000 {
            let mut data = Vec::new();
            for _ in 0..next() % 40 {
                let r = next();
                let flags = [SYN, SYN | ACK, ACK, ACK | 0x08, ACK | 0x01, 0x04][r as usize % 6]
                    | [0, 0, 0, 0, 0x40, 0x80][(r >> 8) as usize % 6];
                let step = match (r >> 16) % 50 {
                    0 => 0x80 | (r >> 24) as u8,
                    1..=4 => 200,
                    _ => (r >> 24) as u8 % 20,
                };
                let ctl = (r >> 32) as u8 & !(u8::from((r >> 40) % 8 != 0) << 7);
                let n = (r >> 48) as u8;
                data.extend_from_slice(&[ctl, flags, step, n]);
                data.extend((0..n).map(|_| next() as u8));
            }
            check(&data);
        }
    }

    /// The check's TLS template is a ClientHello the parser reads.
    #[test]
    fn the_checks_client_hello_is_one() {
        let mut i = inspector("tls");
        let hello = &fuzzing::CLIENT_HELLO;
        let seen = feed(&mut i, &tcp(true, 1, ACK, hello), 1).unwrap();
        assert_eq!(seen.tls_sni.as_deref(), Some("example.com"));
    }

    use fuzzing::ipv4;

    const RAW_IP: u32 = 101;

    /// A raw IPv4 TCP packet between the client (port 40000) and the server (443).
    fn tcp(from_client: bool, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
        let mut header = seq.to_be_bytes().to_vec();
        header.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        ipv4(from_client, 6, 40000, &header, payload)
    }

    /// Feeds `frame` at second `t`; returns what it completed.
    fn feed(i: &mut Inspector, frame: &[u8], t: u64) -> Option<Box<Seen>> {
        let mut meta = PacketMeta::default();
        let transport =
            decode_payload(RAW_IP, frame, frame.len() as u32, &Decap::NONE, &mut meta).unwrap();
        i.inspect(&meta, frame, &transport, Timestamp(t * 1_000_000_000))
    }

    fn inspector(names: &str) -> Inspector {
        Inspector::new(InspectConfig {
            protocols: ProtocolSet::parse(names.split(',')).unwrap(),
            ..InspectConfig::default()
        })
    }

    fn client_hello() -> Vec<u8> {
        records(CLIENT_HELLO_MSG, &[])
    }

    #[test]
    fn a_hello_in_one_segment_and_the_server_answer() {
        let mut i = inspector("all");
        assert_eq!(feed(&mut i, &tcp(true, 100, SYN, &[]), 1), None);
        assert_eq!(feed(&mut i, &tcp(false, 900, SYN | ACK, &[]), 1), None);
        let seen = feed(&mut i, &tcp(true, 101, ACK, &client_hello()), 1).unwrap();
        assert_eq!(seen.app, Some(App::Tls));
        assert_eq!(seen.tls_sni.as_deref(), Some("example.com"));
        assert_eq!(seen.tls_alpn.as_deref(), Some("h2,http/1.1"));
        assert!(seen.ja3.is_some() && seen.ja4.is_some());
        let seen = feed(
            &mut i,
            &tcp(false, 901, ACK, &records(SERVER_HELLO_MSG, &[])),
            1,
        )
        .unwrap();
        assert_eq!(
            (seen.tls_version, seen.tls_cipher),
            (Some(0x0304), Some(0x1302))
        );
        // Both directions are done: the entry keeps no buffers, and later bytes are not read.
        assert_eq!(
            feed(
                &mut i,
                &tcp(
                    true,
                    101 + client_hello().len() as u32,
                    ACK,
                    &client_hello()
                ),
                2
            ),
            None
        );
        assert_eq!(i.stats().found[Protocol::Tls as usize], 2);
        assert!(i.table.values().all(|e| e.connection.is_none()));
    }

    #[test]
    fn segments_out_of_order_overlapping_and_retransmitted_give_the_stream_once() {
        let hello = client_hello();
        let (a, rest) = hello.split_at(40);
        let (b, c) = rest.split_at(50);
        // The sequence numbers wrap inside the hello.
        let isn = u32::MAX - 60;
        let s0 = isn.wrapping_add(1);
        let sb = s0.wrapping_add(40);
        let sc = sb.wrapping_add(50);
        let mut i = inspector("tls");
        feed(&mut i, &tcp(true, isn, SYN, &[]), 1);
        // c arrives first (held), then a, then a retransmission of a with the start of b
        // (only b's first 10 bytes are new), then all of b.
        assert_eq!(feed(&mut i, &tcp(true, sc, ACK, c), 1), None);
        assert_eq!(feed(&mut i, &tcp(true, s0, ACK, a), 1), None);
        let mut overlap = a.to_vec();
        overlap.extend_from_slice(&b[..10]);
        assert_eq!(feed(&mut i, &tcp(true, s0, ACK, &overlap), 1), None);
        let seen = feed(&mut i, &tcp(true, sb, ACK, b), 1).unwrap();
        assert_eq!(seen.tls_sni.as_deref(), Some("example.com"));
        assert_eq!(i.stats().errors, [0; 8]);
    }

    #[test]
    fn without_the_syn_the_first_payload_starts_the_stream_and_its_sender_is_the_client() {
        let mut i = inspector("tls,ssh");
        let hello = client_hello();
        let (a, b) = hello.split_at(7);
        assert_eq!(feed(&mut i, &tcp(true, 5000, ACK, a), 1), None);
        assert!(feed(&mut i, &tcp(true, 5007, ACK, b), 1).is_some());
        // A SYN-ACK seen first makes its receiver the client.
        let mut i = inspector("ssh");
        feed(&mut i, &tcp(false, 1, SYN | ACK, &[]), 1);
        let seen = feed(&mut i, &tcp(false, 2, ACK, b"SSH-2.0-server_1.0\r\n"), 1).unwrap();
        assert_eq!(seen.ssh_server.as_deref(), Some("SSH-2.0-server_1.0"));
        assert_eq!(seen.ssh_client, None);
    }

    #[test]
    fn a_direction_gives_up_after_max_packets_and_refused_bytes_end_it_at_once() {
        let mut i = inspector("tls");
        let hello = client_hello();
        // A hello that never completes: the direction ends with its 16th payload packet.
        let client_done = |i: &Inspector| {
            let c = i
                .table
                .values()
                .next()
                .unwrap()
                .connection
                .as_ref()
                .unwrap();
            c.directions[c.client].done()
        };
        for k in 0..16u32 {
            assert!(k == 0 || !client_done(&i));
            assert_eq!(
                feed(
                    &mut i,
                    &tcp(true, 10 + k, ACK, &hello[k as usize..k as usize + 1]),
                    1
                ),
                None
            );
        }
        assert!(client_done(&i));
        // Bytes no parser takes end the direction with its first segment.
        let mut i = inspector("all");
        assert_eq!(
            feed(
                &mut i,
                &tcp(true, 10, ACK, b"\x00\x01garbage that is no protocol"),
                1
            ),
            None
        );
        assert!(client_done(&i));
    }

    #[test]
    fn a_segment_past_the_keepable_stream_start_ends_the_direction() {
        let mut i = inspector("tls");
        feed(&mut i, &tcp(true, 100, SYN, &[]), 1);
        let far = 101 + MAX_STREAM_BYTES as u32;
        assert_eq!(feed(&mut i, &tcp(true, far, ACK, b"x"), 1), None);
        let c = i
            .table
            .values()
            .next()
            .unwrap()
            .connection
            .as_ref()
            .unwrap();
        assert!(c.directions[c.client].done());
        // Just inside, it is held until the gap fills.
        let mut i = inspector("tls");
        feed(&mut i, &tcp(true, 100, SYN, &[]), 1);
        let hello = client_hello();
        let (a, b) = hello.split_at(20);
        assert_eq!(feed(&mut i, &tcp(true, 121, ACK, b), 1), None);
        assert!(feed(&mut i, &tcp(true, 101, ACK, a), 1).is_some());
    }

    #[test]
    fn an_ended_direction_is_not_read_again_until_its_entry_expires() {
        let mut i = inspector("tls");
        assert!(feed(&mut i, &tcp(true, 100, ACK, &client_hello()), 1).is_some());
        // The client's direction ended (the server's still waits): another hello on the
        // same connection is not read, from the ended array or the table.
        assert_eq!(
            feed(&mut i, &tcp(true, 5000, ACK, &client_hello()), 2),
            None
        );
        i.ended.iter_mut().for_each(|e| *e = Ended::default());
        assert_eq!(
            feed(&mut i, &tcp(true, 9000, ACK, &client_hello()), 3),
            None
        );
        // 30 s after the connection's first packet its entry leaves, and the ended
        // array stops answering for it: the same addresses and ports are read afresh.
        assert_eq!(
            feed(&mut i, &tcp(true, 9000, ACK, &client_hello()), 31),
            None
        );
        i.expire(Timestamp(31 * 1_000_000_000));
        assert!(i.is_empty());
        assert!(feed(&mut i, &tcp(true, 20000, ACK, &client_hello()), 32).is_some());
    }

    #[test]
    fn entries_leave_after_the_timeout_in_creation_order() {
        let mut i = inspector("tls");
        feed(&mut i, &tcp(true, 100, SYN, &[]), 1);
        assert_eq!(i.len(), 1);
        i.expire(Timestamp(30 * 1_000_000_000));
        assert_eq!(i.len(), 1);
        i.expire(Timestamp(31 * 1_000_000_000));
        assert!(i.is_empty());
        // An ACK without payload opens nothing.
        assert_eq!(feed(&mut i, &tcp(true, 101, ACK, &[]), 40), None);
        assert!(i.is_empty());
    }

    #[test]
    fn without_the_syn_a_keep_alive_probe_does_not_start_the_stream() {
        // A connection idle before the capture began: the client's keep-alive probe (one
        // garbage octet at the byte before its next) comes before its next message.
        let mut i = inspector("all");
        assert_eq!(feed(&mut i, &tcp(true, 99, ACK, &[0]), 1), None);
        assert_eq!(feed(&mut i, &tcp(true, 99, ACK, &[0]), 2), None);
        let seen = feed(&mut i, &tcp(true, 100, ACK, &client_hello()), 3).unwrap();
        assert_eq!(seen.tls_sni.as_deref(), Some("example.com"));
        // Any other first byte alone starts the stream (Wireshark's test of a hello
        // fragmented down to one-byte segments).
        let mut i = inspector("all");
        let hello = client_hello();
        let (a, b) = hello.split_at(1);
        assert_eq!(feed(&mut i, &tcp(true, 99, ACK, a), 1), None);
        let seen = feed(&mut i, &tcp(true, 100, ACK, b), 1).unwrap();
        assert_eq!(seen.tls_sni.as_deref(), Some("example.com"));
    }

    /// A raw IPv4 UDP packet between the client (port 50000) and the server (443).
    fn udp(from_client: bool, payload: &[u8]) -> Vec<u8> {
        let mut header = (8 + payload.len() as u16).to_be_bytes().to_vec();
        header.extend_from_slice(&[0, 0]);
        ipv4(from_client, 17, 50000, &header, payload)
    }

    /// A QUIC v1 Initial carrying `msg` in one CRYPTO frame at offset 0, sealed with the
    /// keys of `key_dcid` for the client or the server.
    fn initial(client: bool, key_dcid: &[u8], dcid: &[u8], scid: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut frame = vec![0x06, 0x00];
        frame.extend_from_slice(&(0x4000 | msg.len() as u16).to_be_bytes());
        frame.extend_from_slice(msg);
        quic::fuzzing::seal_initial(quic::VERSION_1, key_dcid, client, dcid, scid, 0, 1, &frame)
    }

    const DCID_1: &[u8] = &[1; 8];
    const DCID_2: &[u8] = &[2; 8];
    const SERVER_CID: &[u8] = &[5; 8];

    #[test]
    fn a_quic_client_that_starts_over_after_a_retry_is_followed() {
        let mut i = inspector("all");
        let client_hello = CLIENT_HELLO_MSG;
        let seen = feed(
            &mut i,
            &udp(true, &initial(true, DCID_1, DCID_1, &[], client_hello)),
            1,
        )
        .unwrap();
        assert_eq!(seen.app, Some(App::Quic));
        assert_eq!(seen.tls_sni.as_deref(), Some("example.com"));
        // The server's Retry (type 3, a new connection id, a token, the integrity tag).
        let mut retry = vec![0xf0, 0, 0, 0, 1, 0];
        retry.push(DCID_2.len() as u8);
        retry.extend_from_slice(DCID_2);
        retry.extend_from_slice(&[0xab; 24]);
        assert_eq!(
            feed(&mut i, &udp(false, &retry), 1).and_then(|s| s.tls_version),
            None
        );
        // The client starts over with the Retry's connection id: the server's Initials are
        // sealed with keys of that one.
        feed(
            &mut i,
            &udp(true, &initial(true, DCID_2, DCID_2, &[], client_hello)),
            1,
        );
        let server_hello = SERVER_HELLO_MSG;
        let sh = initial(false, DCID_2, &[], SERVER_CID, server_hello);
        let seen = feed(&mut i, &udp(false, &sh), 1).unwrap();
        assert_eq!(
            (seen.tls_version, seen.tls_cipher),
            (Some(0x0304), Some(0x1302))
        );
        // The server's direction ended, and the client's with it.
        assert!(i.table.values().all(|e| e.connection.is_none()));
    }

    #[test]
    fn quic_long_headers_before_the_first_v1_initial_keep_quic_possible() {
        let mut i = inspector("all");
        // A client Initial of a version the server does not speak (a GREASE version) ...
        let mut other = vec![0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 8];
        other.extend_from_slice(DCID_1);
        other.push(0);
        other.resize(1200, 0);
        assert_eq!(feed(&mut i, &udp(true, &other), 1), None);
        // ... the server's Version Negotiation (version 0) listing version 1 ...
        let mut vn = vec![0x80, 0, 0, 0, 0, 0, 8];
        vn.extend_from_slice(DCID_1);
        vn.extend_from_slice(&[0, 0, 0, 1]);
        assert_eq!(feed(&mut i, &udp(false, &vn), 1), None);
        // ... and the v1 connection: both hellos are read.
        let client_hello = CLIENT_HELLO_MSG;
        let seen = feed(
            &mut i,
            &udp(true, &initial(true, DCID_1, DCID_1, &[], client_hello)),
            1,
        )
        .unwrap();
        assert_eq!(seen.tls_sni.as_deref(), Some("example.com"));
        let server_hello = SERVER_HELLO_MSG;
        let sh = initial(false, DCID_1, &[], SERVER_CID, server_hello);
        assert_eq!(
            feed(&mut i, &udp(false, &sh), 1).unwrap().tls_cipher,
            Some(0x1302)
        );
        // A datagram that is no long header still ends QUIC at once.
        let mut i = inspector("quic");
        assert_eq!(feed(&mut i, &udp(true, &[0x40; 40]), 1), None);
        let c = i.table.values().next().unwrap().connection.as_ref();
        assert!(c.is_none_or(|c| c.directions[c.client].done()));
    }

    #[test]
    fn the_ssh_client_banner_then_its_kexinit_in_later_segments() {
        let mut i = inspector("ssh");
        feed(&mut i, &tcp(true, 0, SYN, &[]), 1);
        let seen = feed(&mut i, &tcp(true, 1, ACK, b"SSH-2.0-OpenSSH_9.6\r\n"), 1).unwrap();
        assert_eq!(seen.ssh_client.as_deref(), Some("SSH-2.0-OpenSSH_9.6"));
        // KEXINIT: packet length, padding length, type 20, cookie, 10 name-lists, flag, reserved.
        let lists: [&[u8]; 10] = [
            b"curve25519-sha256",
            b"ssh-ed25519",
            b"aes128-ctr",
            b"aes128-ctr",
            b"hmac-sha2-256",
            b"hmac-sha2-256",
            b"none",
            b"none",
            b"",
            b"",
        ];
        let mut body = vec![20u8];
        body.extend_from_slice(&[0x42; 16]);
        for l in lists {
            body.extend_from_slice(&(l.len() as u32).to_be_bytes());
            body.extend_from_slice(l);
        }
        body.extend_from_slice(&[0, 0, 0, 0, 0]);
        let padding = 8 - (body.len() + 5) % 8 + 8;
        let mut packet = ((body.len() + padding + 1) as u32).to_be_bytes().to_vec();
        packet.push(padding as u8);
        packet.extend_from_slice(&body);
        packet.extend(std::iter::repeat_n(0u8, padding));
        let (a, b) = packet.split_at(9);
        assert_eq!(feed(&mut i, &tcp(true, 22, ACK, a), 1), None);
        let seen = feed(&mut i, &tcp(true, 22 + 9, ACK, b), 1).unwrap();
        use md5::Digest as _;
        let expected = format!(
            "{:x}",
            md5::Md5::digest(b"curve25519-sha256;aes128-ctr;hmac-sha2-256;none")
        );
        assert_eq!(seen.hassh, Some(expected));
    }
}
