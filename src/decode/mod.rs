//! Frame decoding: link layer to transport, into the few fields a flow needs.
//!
//! `decode` reads only what the flow key and record need (addresses, ports, protocol,
//! ToS, TTL, TCP flags, IP length, MACs, fragment position) straight from the bytes, with
//! bounds checks and no allocation. It is lenient the way a probe must be: a frame cut by
//! the snaplen still yields its flow when the IP addresses are present, and the octet count
//! comes from the IP header's length field, not from what was captured.
//!
//! A frame that yields no flow is `Undecodable` with a reason; the caller counts it.
//!
//! # Shape
//! One function per layer, each taking the whole frame and the offset where its header
//! starts, so the IP layer knows its offset in the frame (the TSO length fix needs it):
//! - `link`      per link type: the link header, to an ethertype or straight to IP;
//! - `ethernet`  Ethernet II, 802.3 LLC/SNAP, VLAN tags, MPLS, PPPoE: to an IP offset;
//! - `ip`        IPv4 (options, fragments) and IPv6 (extension header walk, jumbograms);
//! - `transport` ports, TCP flags, ICMP type/code;
//! - `tunnel`    VXLAN, Geneve, GRE, ERSPAN, IP in IP, GTP-U, MPLS over UDP, when the
//!   operator enables them (`decode_with`): the inner packet replaces the outer.
//!
//! Why not etherparse on this path: its full slicing validates and records every layer
//! (measured ~40 ns/packet) where a probe needs a dozen fields (~10 ns). etherparse stays
//! the independent oracle of the property tests (`oracle_tests`).
//!
//! # No panic
//! Every read goes through the `read` helpers below, which return `None` past the end;
//! there is no slice indexing on frame bytes anywhere in this module tree.
//!
//! # Decisions on corner cases
//! - `octets` is the IP header's length (IPv4 total length, IPv6 40 + payload length),
//!   even when the frame was cut by the snaplen or carries Ethernet padding.
//! - IPv4 total length 0 happens on hosts with TCP segmentation offload (the capture sees
//!   the giant segment before the NIC splits it): octets = wire length (`orig_len`) minus
//!   the link-layer header bytes.
//! - IPv6 payload length 0: with a hop-by-hop Jumbo Payload option (RFC 2675), octets =
//!   40 + the jumbo length; without one (Linux BIG TCP / GSO captures strip it), octets =
//!   `orig_len` minus the link-layer header, except when the next header is 59 (No Next
//!   Header), where a 40-byte packet is genuine.
//! - Ports are all or nothing: when fewer than 4 transport bytes were captured both ports
//!   are 0 (a half key would make a flow that never existed). ICMP type/code need 2 bytes.
//! - Transport headers are only read inside the IP payload (the IP length bounds them),
//!   so trailing Ethernet padding is never taken for a header.
//! - IPv4 `proto` is the header's protocol field as routers report it (AH stays 51); IPv6
//!   walks hop-by-hop, routing, destination options, fragment and AH headers to the final
//!   protocol. A Later fragment's `proto` is its fragment header's next header.
//! - A non-first fragment (offset != 0) never has ports or TCP flags, even if its payload
//!   happens to look like a header. An IPv6 "atomic fragment" (offset 0, M clear,
//!   RFC 6946) is a whole datagram: `Fragment::None`.
//! - MPLS: the payload type comes from the bottom label when it is IPv4/IPv6 explicit
//!   null (0/2), else from the first nibble after the stack; a payload that is neither
//!   (Ethernet pseudowire, ...) is `NotIp`: decapsulation is not this layer's job.
//! - IPv6 with two fragment headers (forbidden, seen in evasion traffic): the first one
//!   decides the fragment position and id; the second is walked over.
//! - BSD NULL and LOOP families are accepted in either byte order (writers disagree), and
//!   a value above 1500 there is an ethertype, as Wireshark reads it (old Linux writers).
//! - Linux SLL protocol 0x0004 (ETH_P_802_2) is followed as an LLC/SNAP frame; other
//!   protocol values below 0x0600 are not ethertypes and are `NotIp`.
//! - 802.3 length frames (untagged or inside a VLAN tag) carry IP only through LLC/SNAP.
//!
//! # Checked against
//! Annotated byte arrays per layer (in each submodule), etherparse as an independent
//! decoder on random packets (`oracle_tests`), and tshark packet by packet on real
//! captures (`tshark_tests`; run with `FLOWPROBE_TSHARK_ALL=1` it covers all 2,300
//! captures of `../shared/pcaps` whose link types are supported, ~350,000 packets).

use std::ops::Range;

use crate::flow::key::{FlowKey, PROTO_TCP, PROTO_UDP, PROTO_UDPLITE};
use crate::flow::tunnel::Tunnel;

mod ethernet;
mod ip;
mod link;
mod transport;
pub mod tunnel;

pub use tunnel::Decap;

#[cfg(test)]
mod oracle_tests;
#[cfg(test)]
pub(crate) mod test_frames;
#[cfg(test)]
mod tshark_tests;

/// LINKTYPE_NULL: BSD loopback, 4-byte address family in the writer's byte order.
pub const LINKTYPE_NULL: u32 = 0;
/// LINKTYPE_ETHERNET: IEEE 802.3 / Ethernet II.
pub const LINKTYPE_ETHERNET: u32 = 1;
/// DLT_RAW as numbered on most systems (12); some capture files carry it instead of 101.
pub const DLT_RAW_12: u32 = 12;
/// DLT_RAW as numbered on OpenBSD (14); some capture files carry it instead of 101.
pub const DLT_RAW_14: u32 = 14;
/// LINKTYPE_RAW: raw IPv4 or IPv6, the version nibble tells which.
pub const LINKTYPE_RAW: u32 = 101;
/// LINKTYPE_LOOP: OpenBSD loopback, 4-byte address family in network byte order.
pub const LINKTYPE_LOOP: u32 = 108;
/// LINKTYPE_LINUX_SLL: Linux "cooked" capture v1 (16-byte header).
pub const LINKTYPE_LINUX_SLL: u32 = 113;
/// LINKTYPE_IPV4: raw IPv4 only.
pub const LINKTYPE_IPV4: u32 = 228;
/// LINKTYPE_IPV6: raw IPv6 only.
pub const LINKTYPE_IPV6: u32 = 229;
/// LINKTYPE_LINUX_SLL2: Linux "cooked" capture v2 (20-byte header).
pub const LINKTYPE_LINUX_SLL2: u32 = 276;

/// Every link type `decode` accepts.
pub const SUPPORTED_LINK_TYPES: [u32; 10] = [
    LINKTYPE_NULL,
    LINKTYPE_ETHERNET,
    DLT_RAW_12,
    DLT_RAW_14,
    LINKTYPE_RAW,
    LINKTYPE_LOOP,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL2,
];

/// The tcpdump.org name of a link type, for messages ("unsupported link type X (n)").
/// Unknown values give `None`; the supported ones and a few common others are named.
pub fn link_type_name(link_type: u32) -> Option<&'static str> {
    Some(match link_type {
        LINKTYPE_NULL => "NULL",
        LINKTYPE_ETHERNET => "ETHERNET",
        DLT_RAW_12 | DLT_RAW_14 | LINKTYPE_RAW => "RAW",
        LINKTYPE_LOOP => "LOOP",
        LINKTYPE_LINUX_SLL => "LINUX_SLL",
        LINKTYPE_IPV4 => "IPV4",
        LINKTYPE_IPV6 => "IPV6",
        LINKTYPE_LINUX_SLL2 => "LINUX_SLL2",
        9 => "PPP",
        50 => "PPP_HDLC",
        104 => "C_HDLC",
        105 => "IEEE802_11",
        119 => "PRISM_HEADER",
        127 => "IEEE802_11_RADIOTAP",
        192 => "PPI",
        195 => "IEEE802_15_4_WITHFCS",
        239 => "NFLOG",
        _ => return None,
    })
}

/// Fragment position of an IP packet, for the fragment tracker (`flow::fragments`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Fragment {
    /// A whole datagram.
    #[default]
    None,
    /// The fragment at offset 0: it carries the transport header.
    First {
        /// IPv4 identification or IPv6 fragment identification.
        id: u32,
    },
    /// A fragment at a non-zero offset: no transport header, ports come from the first.
    Later {
        /// IPv4 identification or IPv6 fragment identification.
        id: u32,
        /// Where its bytes start in the datagram's payload (a multiple of 8).
        offset: u16,
    },
}

/// What the decoder extracted from one frame.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacketMeta {
    /// Flow key fields; `in_if` is left for the caller to set.
    pub key: FlowKey,
    /// IP header plus payload length from the IP header (IPv4 total length, IPv6 40 +
    /// payload length plus nothing else), independent of the snaplen.
    pub octets: u32,
    /// TCP flags byte (0 for other protocols or when the TCP header was cut).
    pub tcp_flags: u8,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// What TCP analysis found in this segment (`inspect::tcp` event bits; set by the
    /// classifier with `--inspect tcp`, else 0).
    pub tcp_events: u8,
    /// Source MAC (zero when the link type has none).
    pub src_mac: [u8; 6],
    /// Destination MAC (zero when the link type has none).
    pub dst_mac: [u8; 6],
    /// Transport payload octets on the wire (set by the classifier with `--inspect tcp`
    /// or `splt`, else 0). A u32 in the padding before `fragment`: `PacketMeta` stays
    /// 120 bytes, and a BIG TCP or jumbogram payload past 65,535 octets counts whole.
    pub payload: u32,
    /// Fragment position.
    pub fragment: Fragment,
    /// The tunnel the packet was decapsulated from (`kind == None` when it was not).
    pub tunnel: Tunnel,
}

impl PacketMeta {
    /// `*self = PacketMeta::default()`, written field by field. The one-statement form
    /// made the compiler build the default on the stack and copy it over with loads that
    /// straddle its own just-issued stores (a store-forwarding stall on every packet);
    /// storing zeros in place costs a handful of plain stores.
    #[inline(always)]
    /// The destructuring (no `..`) makes a new field a compile error here until it is
    /// reset too.
    fn reset(&mut self) {
        let PacketMeta {
            key,
            octets,
            tcp_flags,
            ttl,
            tcp_events,
            src_mac,
            dst_mac,
            payload,
            fragment,
            tunnel,
        } = self;
        *key = FlowKey::default();
        *octets = 0;
        *tcp_flags = 0;
        *ttl = 0;
        *tcp_events = 0;
        *src_mac = [0; 6];
        *dst_mac = [0; 6];
        *payload = 0;
        *fragment = Fragment::None;
        *tunnel = Tunnel::default();
    }
}

/// Why a frame yields no flow. Counted per reason in the statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Undecodable {
    /// The capture's link type is not one flowprobe decodes.
    UnsupportedLinkType,
    /// A well-formed frame that carries no IP (ARP, LLDP, STP, ...).
    NotIp,
    /// The frame ends inside the link-layer headers (Ethernet, VLAN, MPLS, PPPoE, SLL...).
    TruncatedLinkLayer,
    /// The frame ends before the IP addresses.
    TruncatedIp,
    /// The IP version nibble is neither 4 nor 6 where IP was announced.
    BadIpVersion,
    /// An IP header that cannot be right (IPv4 IHL below 5, total length below the header).
    BadIpHeader,
}

impl Undecodable {
    /// Every reason, in a fixed order for statistics.
    pub const ALL: [Undecodable; 6] = [
        Undecodable::UnsupportedLinkType,
        Undecodable::NotIp,
        Undecodable::TruncatedLinkLayer,
        Undecodable::TruncatedIp,
        Undecodable::BadIpVersion,
        Undecodable::BadIpHeader,
    ];

    /// Short name for statistics and logs.
    pub fn name(self) -> &'static str {
        match self {
            Undecodable::UnsupportedLinkType => "unsupported_link_type",
            Undecodable::NotIp => "not_ip",
            Undecodable::TruncatedLinkLayer => "truncated_link_layer",
            Undecodable::TruncatedIp => "truncated_ip",
            Undecodable::BadIpVersion => "bad_ip_version",
            Undecodable::BadIpHeader => "bad_ip_header",
        }
    }
}

/// Decodes one frame of the given link type into `meta`.
///
/// Every field of `meta` is overwritten (the caller reuses one `PacketMeta`); `key.in_if`
/// is set to 0 for the caller to fill in. `orig_len` is the frame's length on the wire
/// (the pcap record's original length), used only when the IP header carries no usable
/// length (see the module doc). On `Err`, `meta` holds whatever was read before the
/// failure and must not be metered.
///
/// Never panics, whatever the bytes.
pub fn decode(
    link_type: u32,
    frame: &[u8],
    orig_len: u32,
    meta: &mut PacketMeta,
) -> Result<(), Undecodable> {
    decode_with(link_type, frame, orig_len, &Decap::NONE, meta)
}

/// Like [`decode`], then opens the tunnels `decap` enables (see `tunnel`): the packet
/// metered is the innermost one, and `meta.tunnel` names the tunnel it came in.
pub fn decode_with(
    link_type: u32,
    frame: &[u8],
    orig_len: u32,
    decap: &Decap,
    meta: &mut PacketMeta,
) -> Result<(), Undecodable> {
    decode_ip_payload(link_type, frame, orig_len, decap, meta).map(|_| ())
}

/// Where a metered packet's transport layer lies in its frame ([`decode_payload`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransportRange {
    /// The TCP or UDP header's first byte (equal to `payload.start` for other protocols).
    pub header: usize,
    /// The transport payload (the application bytes, for `inspect`): after the TCP
    /// header (its data offset) or the UDP / UDP-Lite header, within the IP length, the
    /// UDP length and the capture. Empty for other protocols, a fragment other than the
    /// first (whose bytes are the middle of a segment or datagram: `header` and `payload`
    /// both start where its share of the transport payload does, and `wire_end` ends it,
    /// so that its length counts), a cut transport header, or a TCP data offset below 5
    /// words.
    pub payload: Range<usize>,
    /// Where the transport segment ends on the wire: the IP payload's end by the IP
    /// header's lengths, but not past the frame's length on the wire (`orig_len`; an IP
    /// length that claims more than the frame held is cut there, as tshark cuts it). Past
    /// `payload.end` (and past the captured bytes) when the snaplen cut the packet: the
    /// TCP payload's length on the wire is `wire_end - payload.start` (`inspect::tcp`).
    pub wire_end: usize,
    /// TCP: the header's length by its data offset, where this packet holds that byte (a
    /// whole or first segment, or the fragment holding byte 12 of the header).
    pub tcp_header_len: Option<u8>,
}

impl TransportRange {
    /// The transport payload's length on the wire, whatever the snaplen kept: to the end
    /// of the IP payload, or for UDP to the end its length field gives when that is
    /// shorter. 0 where `payload` is empty for want of a transport header; a later
    /// fragment's whole IP payload (its share of the segment or datagram: the fragments'
    /// shares add up to the transport payload).
    pub fn wire_payload_len(&self, frame: &[u8], proto: u8) -> usize {
        if self.payload.start >= self.wire_end {
            return 0;
        }
        let to_ip_end = self.wire_end - self.payload.start;
        if proto == PROTO_UDP && self.header < self.payload.start {
            let udp = frame.get(self.header..).unwrap_or_default();
            if let Some(len) = read::u16_at(udp, 4).map(usize::from) {
                if len >= 8 {
                    return to_ip_end.min(len - 8);
                }
            }
        }
        to_ip_end
    }
}

/// Like [`decode_with`], and returns where the metered packet's transport header and
/// payload lie in `frame` (the innermost packet's, when a tunnel was opened).
pub fn decode_payload(
    link_type: u32,
    frame: &[u8],
    orig_len: u32,
    decap: &Decap,
    meta: &mut PacketMeta,
) -> Result<TransportRange, Undecodable> {
    let ip_payload = decode_ip_payload(link_type, frame, orig_len, decap, meta)?;
    let empty = TransportRange {
        header: ip_payload.end,
        payload: ip_payload.end..ip_payload.end,
        wire_end: ip_payload.end,
        tcp_header_len: None,
    };
    let wire_end = ip_payload.end.min((orig_len as usize).max(frame.len()));
    let in_payload = frame.get(ip_payload.clone()).unwrap_or_default();
    // The data offset, where this packet holds byte 12 of a TCP header (a later fragment
    // at datagram offset 8 may), and the header length it gives (at least 20 bytes).
    let data_offset = |at: usize| match 12usize.checked_sub(at) {
        Some(i) if meta.key.proto == PROTO_TCP => read::u8_at(in_payload, i).map(|b| b >> 4),
        _ => None,
    };
    let header_len_at = |at: usize| data_offset(at).map(|words| words.max(5) * 4);
    if let Fragment::Later { offset, .. } = meta.fragment {
        if !matches!(meta.key.proto, PROTO_TCP | PROTO_UDP | PROTO_UDPLITE) {
            return Ok(empty);
        }
        // Its bytes are the transport's payload (UDP's 8-byte header always lies in the
        // first fragment; where a tiny first fragment left part of a TCP header to this
        // one, the classifier skips it: `FragmentTable::tcp_header_len`): their length
        // counts, they are not read (the middle of a segment or datagram).
        return Ok(TransportRange {
            header: ip_payload.start,
            payload: ip_payload.start..ip_payload.start,
            wire_end: wire_end.max(ip_payload.start),
            tcp_header_len: header_len_at(usize::from(offset)),
        });
    }
    // A TCP header cut short (by a tiny first fragment or the snaplen) or invalid: no
    // payload, and the header where it starts.
    let no_tcp_payload = TransportRange {
        header: ip_payload.start,
        payload: ip_payload.start..ip_payload.start,
        wire_end: ip_payload.start,
        tcp_header_len: header_len_at(0),
    };
    let header_len = match meta.key.proto {
        PROTO_TCP => match data_offset(0) {
            Some(words) if words >= 5 => usize::from(words) * 4,
            _ => return Ok(no_tcp_payload),
        },
        PROTO_UDP | PROTO_UDPLITE => 8,
        _ => return Ok(empty),
    };
    let start = ip_payload.start + header_len;
    let mut end = ip_payload.end.min(frame.len());
    // A UDP length shorter than the IP payload ends the datagram there (what follows is
    // padding); UDP-Lite's field is a checksum coverage, not a length.
    if meta.key.proto == PROTO_UDP {
        if let Some(len) = read::u16_at(in_payload, 4).map(usize::from) {
            if len >= 8 {
                end = end.min(ip_payload.start + len);
            }
        }
    }
    Ok(if start <= end {
        TransportRange {
            header: ip_payload.start,
            payload: start..end,
            wire_end,
            tcp_header_len: (meta.key.proto == PROTO_TCP).then_some(header_len as u8),
        }
    } else if meta.key.proto == PROTO_TCP {
        no_tcp_payload
    } else {
        empty
    })
}

/// The decode shared by [`decode_with`] and [`decode_payload`]: the innermost packet's
/// IP payload range.
#[inline(always)]
fn decode_ip_payload(
    link_type: u32,
    frame: &[u8],
    orig_len: u32,
    decap: &Decap,
    meta: &mut PacketMeta,
) -> Result<Range<usize>, Undecodable> {
    meta.reset();
    let (at, network) = link::link_layer(link_type, frame, meta)?;
    let payload = ip::network_layer(frame, at, network, orig_len, meta)?;
    if decap.is_enabled() {
        return tunnel::decapsulate(frame, payload, orig_len, decap, meta);
    }
    Ok(payload)
}

/// What the link layer announced about the network layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Network {
    /// IPv4 was announced (ethertype 0x0800, AF_INET, PPP 0x0021...).
    V4,
    /// IPv6 was announced.
    V6,
    /// Raw IP: the version nibble decides.
    Either,
}

/// Bounds-checked big-endian reads: `None` past the end, never a panic.
mod read {
    /// The byte at `at`.
    #[inline(always)]
    pub(super) fn u8_at(b: &[u8], at: usize) -> Option<u8> {
        b.get(at).copied()
    }

    /// The big-endian u16 at `at`.
    #[inline(always)]
    pub(super) fn u16_at(b: &[u8], at: usize) -> Option<u16> {
        b.get(at..)?
            .first_chunk::<2>()
            .map(|a| u16::from_be_bytes(*a))
    }

    /// The big-endian u32 at `at`.
    #[inline(always)]
    pub(super) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
        b.get(at..)?
            .first_chunk::<4>()
            .map(|a| u32::from_be_bytes(*a))
    }

    /// The `N` bytes at `at`.
    #[inline(always)]
    pub(super) fn array_at<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
        b.get(at..)?.first_chunk::<N>().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::test_frames::*;
    use super::*;

    /// A later fragment's whole IP payload is transport payload (its share of the
    /// segment or datagram), never read as a header: a UDP datagram's three fragments
    /// give the UDP length's payload between them, and IPv6's later TCP fragment its own
    /// bytes; an ICMP fragment's payload is not measured, as a whole ICMP packet's is not.
    #[test]
    fn later_fragments_carry_their_share_of_the_transport_payload() {
        // Raw IPv4 (link type 101), id 0x1234.
        let ipv4 = |proto: u8, flags_offset: u16, payload: &[u8]| {
            raw_ipv4(proto, 0x1234, flags_offset, payload)
        };
        let share = |frame: &[u8]| {
            let mut meta = PacketMeta::default();
            let t =
                decode_payload(101, frame, frame.len() as u32, &Decap::NONE, &mut meta).unwrap();
            (
                meta.fragment,
                t.wire_payload_len(frame, meta.key.proto),
                t.payload.len(),
            )
        };
        // UDP: 8-byte header and 72 bytes of payload, in 24 + 32 + 16.
        let mut first = vec![0x9c, 0x40, 0x00, 0x35, 0, 80, 0, 0];
        first.extend_from_slice(&[1; 24]);
        // The middle one starts with what would be a UDP header of length 9.
        let mut middle = vec![0, 1, 0, 2, 0, 9, 0, 0];
        middle.extend_from_slice(&[2; 24]);
        let parts = [
            share(&ipv4(17, 0x2000, &first)),
            share(&ipv4(17, 0x2004, &middle)),
            share(&ipv4(17, 0x0008, &[3; 16])),
        ];
        assert_eq!(parts[0], (Fragment::First { id: 0x1234 }, 24, 24));
        assert_eq!(
            parts[1],
            (
                Fragment::Later {
                    id: 0x1234,
                    offset: 32
                },
                32,
                0
            )
        );
        assert_eq!(
            parts[2],
            (
                Fragment::Later {
                    id: 0x1234,
                    offset: 64
                },
                16,
                0
            )
        );
        assert_eq!(parts.iter().map(|p| p.1).sum::<usize>(), 80 - 8);
        // ICMP: not measured, first or later.
        assert_eq!(share(&ipv4(1, 0x0008, &[0; 16])).1, 0);
        // IPv6, a later TCP fragment: its 40 bytes after the fragment header.
        let mut v6 = vec![0x60, 0, 0, 0, 0, 48, 44, 64];
        v6.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        v6.extend_from_slice(&[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        v6.extend_from_slice(&[6, 0, 0x00, 0xb8, 0, 0, 0x56, 0x78]); // offset 23 (184 bytes)
        v6.extend_from_slice(&[4; 40]);
        assert_eq!(
            share(&v6),
            (
                Fragment::Later {
                    id: 0x5678,
                    offset: 184
                },
                40,
                0
            )
        );
        // A later TCP fragment's bytes are all payload to the decoder (the classifier
        // skips header bytes a tiny first fragment left to it); one holding byte 12 of
        // the header says the header's length.
        let ours = |frame: &[u8]| {
            let mut meta = PacketMeta::default();
            decode_payload(101, frame, frame.len() as u32, &Decap::NONE, &mut meta).unwrap()
        };
        let tail = [
            0,
            0,
            0,
            0,
            6 << 4,
            0x02,
            0xff,
            0xff,
            0,
            0,
            0,
            0,
            2,
            4,
            5,
            0xb4,
        ];
        let t = ours(&ipv4(6, 0x0001, &tail));
        assert_eq!(
            (t.wire_payload_len(&[], 6), t.tcp_header_len),
            (16, Some(24))
        );
        assert_eq!(ours(&ipv4(6, 0x0002, &tail)).tcp_header_len, None);
    }

    #[test]
    fn reason_names_are_distinct_and_all_listed() {
        let mut names: Vec<_> = Undecodable::ALL.iter().map(|r| r.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Undecodable::ALL.len());
    }

    #[test]
    fn every_field_is_overwritten_between_frames() {
        let mut meta = PacketMeta::default();
        // A VLAN-tagged TCP frame fills MACs, VLAN, ports, flags...
        let tagged = cat(&[&ETH_VLAN_100, &ETH_TYPE_IPV4, &IPV4_TCP_HDR, &TCP_SYN_HDR]);
        decode(LINKTYPE_ETHERNET, &tagged, tagged.len() as u32, &mut meta).unwrap();
        assert_eq!(meta.key.vlan, 100);
        meta.key.in_if = 7;
        // ...then a raw IPv6 UDP packet must leave none of it behind.
        let raw6 = cat(&[&IPV6_UDP_HDR, &UDP_HDR]);
        decode(LINKTYPE_RAW, &raw6, raw6.len() as u32, &mut meta).unwrap();
        let mut expected = PacketMeta::default();
        expected.key.src = IPV6_SRC;
        expected.key.dst = IPV6_DST;
        expected.key.src_port = 5353;
        expected.key.dst_port = 53;
        expected.key.proto = 17;
        expected.key.ip_version = 6;
        expected.key.tos = 0x28;
        expected.ttl = 64;
        expected.octets = 48;
        assert_eq!(meta, expected);
    }

    #[test]
    fn unknown_link_type_is_reported_and_named_none() {
        let mut meta = PacketMeta::default();
        assert_eq!(
            decode(147, &[0; 64], 64, &mut meta),
            Err(Undecodable::UnsupportedLinkType)
        );
        assert_eq!(link_type_name(147), None);
        assert_eq!(link_type_name(104), Some("C_HDLC"));
        for lt in SUPPORTED_LINK_TYPES {
            assert!(link_type_name(lt).is_some());
        }
    }
}
