//! Decoding and metering, the per-packet work, split so a reader thread can decode and
//! dispatch while workers meter.
//!
//! - `Classifier` turns a frame into a `PacketMeta` (decode, then fragment tracking) and
//!   counts what it could not decode. Offline it runs in the reader thread, so that the
//!   flow key is known before the packet is dispatched; live, each worker runs its own.
//! - `Worker` owns one flow-cache shard and meters decoded packets into it.
//!
//! Nothing here reads a clock, takes a lock or allocates per packet.

use crossbeam_channel::Sender;

use crate::capture::Packet;
use crate::decode::{self, Decap, Fragment, PacketMeta, TransportRange, Undecodable};
use crate::flow::cache::{CacheConfig, Decoded, Ended, FlowCache};
use crate::flow::fragments::FragmentTable;
use crate::flow::key::{FlowKey, PROTO_TCP};
use crate::flow::record::EndReason;
use crate::flow::sampling::{Sampler, Sampling};
use crate::inspect::tcp::TcpAnalyzer;
use crate::inspect::{connection_hash, InspectConfig, Inspector, Note, Noted, Protocol};
use crate::sflow::SflowSampler;
use crate::time::Timestamp;

use super::exporter::{ExportMessage, NoteQueue};
use super::stats::Counters;

/// Frame to `PacketMeta`, with the counters of what could not be decoded or was
/// sampled out. With sFlow collectors it also holds the thread's sFlow sampler, which
/// sees every frame first (`crate::sflow`).
#[derive(Debug)]
pub struct Classifier {
    decap: Decap,
    fragments: FragmentTable,
    sampler: Sampler,
    counters: Counters,
    /// Boxed: without sFlow the classifier stays small, and the check is one branch.
    sflow: Option<Box<SflowSampler>>,
    /// Payload inspection (`--inspect`), boxed for the same reason.
    inspect: Option<Box<InspectTap>>,
}

/// The thread's inspectors and where what they find goes.
#[derive(Debug)]
struct InspectTap {
    /// The application parsers (TLS, QUIC, DNS, HTTP, SSH), when one is named.
    inspector: Option<Inspector>,
    /// TCP connection analysis (`--inspect tcp`).
    tcp: Option<TcpAnalyzer>,
    /// Each metered packet's payload length goes into its `PacketMeta` for the flow
    /// cache's shapes (`tcp` or `splt`).
    payload: bool,
    /// What packets completed, not yet sent (see `Classifier::notes`); `None` once
    /// input has ended (the exporter can then finish).
    notes: Option<NoteQueue>,
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier::new(Sampling::default(), 0)
    }
}

impl Classifier {
    /// A classifier with an empty fragment table, sampling as given (`seed` varies the
    /// random sampler between workers).
    pub fn new(sampling: Sampling, seed: u64) -> Classifier {
        Classifier {
            decap: Decap::default(),
            fragments: FragmentTable::default(),
            sampler: Sampler::new(sampling, seed),
            counters: Counters::default(),
            sflow: None,
            inspect: None,
        }
    }

    /// Inspects the payload of metered packets as `config` says, sending what it finds
    /// to `exporter` (nothing is added when no payload protocol is named: Community ID
    /// is the outputs' work).
    pub fn with_inspect(
        mut self,
        config: InspectConfig,
        exporter: Sender<ExportMessage>,
    ) -> Classifier {
        let p = config.protocols;
        self.inspect = p.reads_payload().then(|| {
            Box::new(InspectTap {
                inspector: p.parses_applications().then(|| Inspector::new(config)),
                tcp: p.has(Protocol::Tcp).then(TcpAnalyzer::new),
                payload: p.shapes_records(),
                notes: Some(NoteQueue::new(exporter)),
            })
        });
        self
    }

    /// Time passed to `now`: connections whose inspection is over leave the tables.
    pub fn tick(&mut self, now: Timestamp) {
        if let Some(tap) = &mut self.inspect {
            if let Some(inspector) = &mut tap.inspector {
                inspector.expire(now);
            }
            if let Some(tcp) = &mut tap.tcp {
                tcp.expire(now);
            }
        }
    }

    /// Samples every frame for sFlow collectors with `sampler` (before decoding).
    pub fn with_sflow(mut self, sampler: Option<SflowSampler>) -> Classifier {
        self.sflow = sampler.map(Box::new);
        self
    }

    /// Sends the sFlow samples gathered so far (at the capture thread's ticks), after
    /// setting the drops they report (the kernel's drop counter live).
    pub fn send_samples(&mut self, drops: Option<u64>) {
        if let Some(s) = &mut self.sflow {
            if let Some(d) = drops {
                s.set_drops(d);
            }
            s.send();
        }
    }

    /// End of input: the last sFlow samples (and offline the last counters) and notes
    /// are sent, and the sampler and the inspector let go of their channels to the
    /// exporter, which can then finish.
    pub fn finish_samples(&mut self) {
        if let Some(s) = &mut self.sflow {
            s.finish();
        }
        self.send_notes();
        if let Some(tap) = &mut self.inspect {
            tap.notes = None;
        }
    }

    /// What inspection found in the packets classified since the last call, when it
    /// found anything. The notes must reach the exporter before the records holding
    /// those packets do. The offline and libpcap readers give them to their `Meter`
    /// right after `classify`, which sends them before anything the packets become
    /// leaves it; an AF_PACKET worker, which meters in its own thread, sends them
    /// (`send_notes`) before its records. Gathered rather than sent one by one: each
    /// message could wake the exporter.
    #[inline]
    pub fn notes(&mut self) -> Option<&mut Vec<Noted>> {
        self.inspect.as_mut()?.notes.as_mut()?.gathered()
    }

    /// Sends the notes gathered so far to the exporter, in one message.
    pub fn send_notes(&mut self) {
        if let Some(notes) = self.inspect.as_mut().and_then(|t| t.notes.as_mut()) {
            notes.send();
        }
    }

    /// Opens the tunnels `decap` enables (none by default): the inner packet is metered.
    pub fn with_decap(mut self, decap: Decap) -> Classifier {
        self.decap = decap;
        self
    }

    /// Decodes `packet` into `meta`. Returns true when the packet is to be metered;
    /// false when it yields no flow or sampling leaves it out (each counted). Every call
    /// counts one packet read.
    #[inline]
    pub fn classify(&mut self, packet: &Packet<'_>, meta: &mut PacketMeta) -> bool {
        self.counters.read += 1;
        if let Some(s) = &mut self.sflow {
            s.observe(packet);
        }
        if self.inspect.is_some() {
            return self.classify_inspected(packet, meta);
        }
        match decode::decode_with(
            packet.link_type,
            packet.data,
            packet.orig_len,
            &self.decap,
            meta,
        ) {
            Ok(()) => self.decoded(packet, meta),
            Err(reason) => {
                self.count_undecodable(reason, packet.link_type);
                false
            }
        }
    }

    /// What follows a successful decode, with or without inspection: tunnel counts, the
    /// interface, fragment tracking, then sampling. True when the packet is metered.
    #[inline(always)]
    fn decoded(&mut self, packet: &Packet<'_>, meta: &mut PacketMeta) -> bool {
        if meta.tunnel.is_some() {
            self.counters.decapsulated[meta.tunnel.kind as usize] += 1;
        }
        meta.key.in_if = packet.interface;
        self.fragments.handle(meta, packet.ts);
        if self.sampler.keep(&meta.key) {
            true
        } else {
            self.counters.sampled_out += 1;
            false
        }
    }

    /// `classify` with payload inspection: the same decoding and counting, and the
    /// metered packet's payload goes to the inspector (out of line: the default path
    /// keeps its size).
    #[inline(never)]
    fn classify_inspected(&mut self, packet: &Packet<'_>, meta: &mut PacketMeta) -> bool {
        let mut transport = match decode::decode_payload(
            packet.link_type,
            packet.data,
            packet.orig_len,
            &self.decap,
            meta,
        ) {
            Ok(t) => t,
            Err(reason) => {
                self.count_undecodable(reason, packet.link_type);
                return false;
            }
        };
        let kept = self.decoded(packet, meta);
        // Before the sampling's verdict: a fragment sampled out may show the header
        // length its datagram's kept fragments need.
        if meta.fragment != Fragment::None && meta.key.proto == PROTO_TCP {
            self.tcp_fragment(meta, &mut transport);
        }
        if !kept {
            return false;
        }
        if let Some(tap) = &mut self.inspect {
            tap.packet(meta, packet, &transport);
        }
        true
    }

    /// A fragment of a TCP segment: its datagram's header length is remembered from the
    /// fragment that showed it, and a later fragment's payload starts past the header
    /// bytes a tiny first fragment left to it (none, past the first 60 bytes).
    #[cold]
    #[inline(never)]
    fn tcp_fragment(&mut self, meta: &PacketMeta, transport: &mut TransportRange) {
        let header = self
            .fragments
            .tcp_header_len(meta, transport.tcp_header_len);
        if let Fragment::Later { offset, .. } = meta.fragment {
            let skip = header.saturating_sub(usize::from(offset));
            let start = (transport.header + skip).min(transport.wire_end);
            *transport = TransportRange {
                header: start,
                payload: start..start,
                ..*transport
            };
        }
    }

    /// Counts an undecodable packet (out of line: the map entry is no per-packet work).
    #[cold]
    #[inline(never)]
    fn count_undecodable(&mut self, reason: Undecodable, link_type: u32) {
        self.counters.count_undecodable(reason);
        if reason == Undecodable::UnsupportedLinkType {
            *self
                .counters
                .unsupported_link_types
                .entry(link_type)
                .or_default() += 1;
        }
    }

    /// Counts a packet whose timestamp went backwards and was clamped.
    pub fn count_clamped(&mut self) {
        self.counters.clamped_timestamps += 1;
    }

    /// Counters: packets read, undecodable by reason, sampled out, fragments without
    /// their first.
    pub fn counters(&self) -> Counters {
        let mut c = self.counters.clone();
        c.fragments_unmatched = self.fragments.stats().unmatched;
        if let Some(s) = &self.sflow {
            c.sflow_samples = s.samples();
            c.sflow_unsampleable = s.unsampleable();
        }
        if let Some(inspector) = self.inspect.as_ref().and_then(|t| t.inspector.as_ref()) {
            c.inspect = inspector.stats();
        }
        c
    }
}

impl InspectTap {
    /// Inspects metered packet `meta`, whose transport lies at `transport` in `packet`.
    fn packet(&mut self, meta: &mut PacketMeta, packet: &Packet<'_>, transport: &TransportRange) {
        let ts = packet.ts;
        // The connection's hash, once for both tables (TCP packets all go to the TCP
        // analysis; the inspector asks only for packets it looks at).
        let mut hashed = None;
        let mut connection = || *hashed.get_or_insert_with(|| connection_hash(&meta.key));
        if let Some(inspector) = &mut self.inspector {
            let seen = inspector.inspect_hashed(meta, packet.data, transport, ts, &mut connection);
            if let Some(seen) = seen {
                self.note(meta.key, ts, Note::App(seen));
            }
        }
        if !self.payload {
            return;
        }
        let payload = transport.wire_payload_len(packet.data, meta.key.proto);
        meta.payload = u32::try_from(payload).unwrap_or(u32::MAX);
        let Some(tcp) = &mut self.tcp else {
            return;
        };
        if meta.key.proto != PROTO_TCP || transport.payload.start <= transport.header {
            return;
        }
        let header = packet
            .data
            .get(transport.header..transport.payload.start)
            .unwrap_or_default();
        let verdict = tcp.packet_hashed(&meta.key, connection(), ts, header, meta.payload);
        meta.tcp_events = verdict.events;
        if let Some(options) = verdict.options {
            self.note(meta.key, ts, Note::TcpOptions(options));
        }
        if let Some(h) = verdict.handshake {
            // Both records of the connection carry the two times: the client's (this
            // packet's key) holds the ACK, the server's its SYN-ACK.
            let us = |from: Timestamp, to: Timestamp| {
                u32::try_from(to.0.saturating_sub(from.0).saturating_add(500) / 1000)
                    .unwrap_or(u32::MAX)
            };
            let rtt = Note::Rtt {
                server_us: us(h.syn, h.syn_ack),
                client_us: us(h.syn_ack, h.ack),
            };
            if let Some(mut server) = meta.key.reversed() {
                // The server's record is keyed by its SYN-ACK's ToS, not the ACK's.
                server.tos = h.syn_ack_tos;
                self.note(server, h.syn_ack, rtt.clone());
            }
            self.note(meta.key, ts, rtt);
        }
    }

    fn note(&mut self, key: FlowKey, ts: Timestamp, note: Note) {
        if let Some(notes) = &mut self.notes {
            notes.push(Noted { key, ts, note });
        }
    }
}

/// One flow-cache shard and the records it has ended.
#[derive(Debug)]
pub struct Worker {
    cache: FlowCache,
    pending: Vec<Ended>,
}

impl Worker {
    /// A worker with an empty cache shard.
    pub fn new(config: CacheConfig) -> Worker {
        Worker {
            cache: FlowCache::new(config),
            pending: Vec::new(),
        }
    }

    /// Takes its records' shape boxes from the exporter's `pool` (see
    /// `exporter::ShapePool`).
    pub fn with_shape_pool(mut self, pool: super::exporter::ShapePool) -> Worker {
        self.cache.recycle_shapes(pool);
        self
    }

    /// Meters one decoded packet seen at `ts`.
    pub fn meter(&mut self, meta: &PacketMeta, ts: Timestamp) {
        self.cache.meter(meta, ts, &mut self.pending);
    }

    /// Meters a run of decoded packets, each with its time and `flow_hash`, in order
    /// (`FlowCache::meter_batch`: the same records as one by one, with the slot lookups
    /// of neighbouring packets overlapped).
    pub fn meter_batch(&mut self, packets: &[Decoded]) {
        self.cache.meter_batch(packets, &mut self.pending);
    }

    /// Lets time pass: ends the records due at `now`.
    pub fn tick(&mut self, now: Timestamp) {
        self.cache.expire(now, &mut self.pending);
    }

    /// Ends every record (end of input or shutdown).
    pub fn flush(&mut self) {
        self.cache.flush(EndReason::ForcedEnd, &mut self.pending);
    }

    /// Ended records waiting for the exporter.
    pub fn pending(&self) -> &[Ended] {
        &self.pending
    }

    /// Hands the ended records to the exporter as worker `index`, promising nothing that
    /// ends before `watermark` from now on (`Timestamp::END` after `flush`). A closed
    /// exporter is not an error here: it reports its own end.
    pub fn send_pending(
        &mut self,
        exporter: &Sender<ExportMessage>,
        index: usize,
        watermark: Timestamp,
    ) {
        let ended = self.take_pending();
        let _ = exporter.send(ExportMessage::Records {
            worker: index,
            ended,
            watermark,
        });
    }

    /// Takes the ended records, leaving an empty buffer of the same capacity behind.
    pub fn take_pending(&mut self) -> Vec<Ended> {
        let capacity = self.pending.capacity().max(64);
        std::mem::replace(&mut self.pending, Vec::with_capacity(capacity))
    }

    /// Every record this shard ends from now on ends at this time or later: the worker's
    /// watermark for the exporter (`FlowCache::horizon`).
    pub fn horizon(&self) -> Timestamp {
        self.cache.horizon()
    }

    /// Records currently held in the shard.
    pub fn active_flows(&self) -> usize {
        self.cache.len()
    }

    /// Counters of the shard: metered, flows created and ended, active flows.
    pub fn counters(&self) -> Counters {
        let cache = self.cache.stats();
        Counters {
            metered: cache.packets,
            metered_octets: cache.octets,
            flows_created: cache.created,
            flows_ended: cache.ended,
            clamped_timestamps: cache.clamped_timestamps,
            active_flows: self.cache.len() as u64,
            ..Counters::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::test_frames::raw_ipv4;
    use crate::inspect::ProtocolSet;

    /// The payload octets each fragment of a TCP segment or UDP datagram carries (its
    /// share: together they are the transport payload, as tshark's reassembled length),
    /// where a tiny first fragment leaves part of the TCP header to later ones.
    #[test]
    fn fragments_carry_their_share_of_the_payload_past_the_header() {
        let (tx, _rx) = crossbeam_channel::unbounded();
        let config = InspectConfig {
            protocols: ProtocolSet::parse(["splt"]).unwrap(),
            ..InspectConfig::default()
        };
        let mut c = Classifier::new(Sampling::default(), 0).with_inspect(config, tx);
        // Raw IPv4; `at` the fragment's datagram offset.
        let ipv4 = |proto: u8, id: u16, at: u16, more: bool, bytes: &[u8]| {
            raw_ipv4(proto, id, (u16::from(more) << 13) | (at / 8), bytes)
        };
        let mut payload = |frame: Vec<u8>| {
            let mut meta = PacketMeta::default();
            let packet = Packet {
                ts: Timestamp(1),
                link_type: 101,
                interface: 0,
                data: &frame,
                orig_len: frame.len() as u32,
            };
            assert!(c.classify(&packet, &mut meta));
            (meta.key.src_port, meta.payload)
        };
        let tcp_header = |words: u8, options: &[u8]| {
            let mut h = vec![0x9c, 0x40, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, words << 4, 0x02];
            h.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
            h.extend_from_slice(options);
            h
        };
        // A SYN of 24 header bytes in three 8-byte fragments: the data offset is in the
        // second, the MSS option in the third; no payload.
        let syn = tcp_header(6, &[2, 4, 5, 0xb4]);
        assert_eq!(payload(ipv4(6, 1, 0, true, &syn[..8])), (40000, 0));
        assert_eq!(payload(ipv4(6, 1, 8, true, &syn[8..16])), (40000, 0));
        assert_eq!(payload(ipv4(6, 1, 16, false, &syn[16..])), (40000, 0));
        // A 40-byte header whose first fragment holds 24 bytes (the data offset among
        // them), then 16 bytes of options, then 100 bytes of payload.
        let long = [tcp_header(10, &[1; 20]), vec![7; 100]].concat();
        assert_eq!(payload(ipv4(6, 2, 0, true, &long[..24])), (40000, 0));
        assert_eq!(payload(ipv4(6, 2, 24, true, &long[24..40])), (40000, 0));
        assert_eq!(payload(ipv4(6, 2, 40, false, &long[40..])), (40000, 100));
        // An overlapping fragment that says otherwise (data offset 15 words) does not
        // change what the first fragment showed.
        let first = [tcp_header(5, &[]), vec![7; 20]].concat();
        assert_eq!(payload(ipv4(6, 5, 0, true, &first)), (40000, 20));
        let lie = [vec![0, 0, 0, 0, 0xf0], vec![0; 27]].concat();
        // (Its bytes up to 20 lie in the header: 12 of its 32.)
        assert_eq!(payload(ipv4(6, 5, 8, true, &lie)), (40000, 20));
        assert_eq!(payload(ipv4(6, 5, 40, false, &[7; 120])), (40000, 120));
        // The usual case: the whole header in the first fragment.
        let whole = [tcp_header(5, &[]), vec![7; 52]].concat();
        assert_eq!(payload(ipv4(6, 3, 0, true, &whole[..32])), (40000, 12));
        assert_eq!(payload(ipv4(6, 3, 32, false, &whole[32..])), (40000, 40));
        // UDP: the 8-byte header always in the first.
        let mut udp = vec![0x9c, 0x40, 0, 53, 0, 64, 0, 0];
        udp.extend_from_slice(&[7; 56]);
        assert_eq!(payload(ipv4(17, 4, 0, true, &udp[..32])), (40000, 24));
        assert_eq!(payload(ipv4(17, 4, 32, false, &udp[32..])), (40000, 32));
    }
}
