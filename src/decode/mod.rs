//! Frame decoding: link layer to transport, into the few fields a flow needs.
//!
//! `decode` reads only what the flow key and record need (addresses, ports, protocol,
//! ToS, TTL, TCP flags, IP length, MACs, fragment position) straight from the bytes, with
//! bounds checks and no allocation. It is lenient the way a probe must be: a frame cut by
//! the snaplen still yields its flow when the IP addresses are present, and the octet count
//! comes from the IP header's length field, not from what was captured.
//!
//! A frame that yields no flow is `Undecodable` with a reason; the caller counts it.

use crate::flow::key::FlowKey;

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
    /// Source MAC (zero when the link type has none).
    pub src_mac: [u8; 6],
    /// Destination MAC (zero when the link type has none).
    pub dst_mac: [u8; 6],
    /// Fragment position.
    pub fragment: Fragment,
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
