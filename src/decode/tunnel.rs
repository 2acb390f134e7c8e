//! Tunnel decapsulation: VXLAN, Geneve, GRE (keys, sequence numbers, transparent
//! Ethernet bridging, MPLS), ERSPAN types I, II and III, IP in IP, GTP-U and MPLS over
//! UDP.
//!
//! After the outer IP header is decoded, `decapsulate` looks at its payload: when it is a
//! tunnel of a kind the operator enabled (`Decap`), the inner packet is decoded in place
//! of the outer one and the tunnel (kind, id, outer addresses) is kept in
//! `PacketMeta::tunnel`. Tunnels may nest (VXLAN inside ERSPAN, say); each enabled layer
//! is opened, at most `MAX_DEPTH` deep, and the innermost opened tunnel is the one kept
//! (see `flow::tunnel` for why).
//!
//! # What is and is not opened
//! A packet is decapsulated only when its tunnel header is complete and names a payload
//! flowprobe can follow to IP (IP, Ethernet, MPLS). Otherwise it stays what it is on the
//! wire, an outer IP packet, and is metered as one: PPTP's enhanced GRE (version 1),
//! GRE with RFC 1701 routing, NHRP or keepalives over GRE, GTP-U signalling (echo,
//! error indication), Geneve with an unknown protocol type. So enabling a tunnel kind
//! never loses traffic that is not that tunnel.
//!
//! Once the tunnel header names a payload, the inner packet is the one metered: if it
//! turns out to be cut by the snaplen or not IP (ARP over VXLAN, say), the packet is
//! undecodable with that reason, as the same frame would be on a wire of its own. This
//! is what makes mirror traffic addressed to the probe (cloud traffic mirroring) vanish
//! as an outer flow: only what it carries is metered.
//!
//! A fragmented outer packet is not decapsulated (only its first fragment holds the
//! tunnel header, and the inner packet would be cut): all its fragments are metered as
//! the outer flow, so the datagram stays in one record.
//!
//! The inner packet is read only inside the outer IP payload, so the outer frame's
//! Ethernet padding is never taken for inner bytes. With an inner Ethernet frame (VXLAN,
//! Geneve, GRE bridging, ERSPAN) the MACs and VLAN are the inner frame's; with inner IP
//! they stay the outer frame's.

use std::ops::Range;

use super::read::{u16_at, u32_at, u8_at};
use super::{ethernet, ip, Network, PacketMeta, Undecodable};
use crate::flow::key::{PROTO_UDP, PROTO_UDPLITE};
use crate::flow::tunnel::{Tunnel, TunnelKind};

/// Nested tunnels opened at most (each layer is at least 8 bytes, so the bound is for
/// time, not safety).
pub const MAX_DEPTH: usize = 4;

/// IANA protocol numbers of the tunnels carried directly by IP.
const PROTO_IPV4_IN_IP: u8 = 4;
const PROTO_IPV6_IN_IP: u8 = 41;
const PROTO_GRE: u8 = 47;

/// Ethertypes a GRE header or Geneve may name.
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_TEB: u16 = 0x6558;
const ETHERTYPE_MPLS_UNICAST: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
/// ERSPAN type II (and type I, told apart by GRE's sequence bit).
const ETHERTYPE_ERSPAN_II: u16 = 0x88be;
/// ERSPAN type III.
const ETHERTYPE_ERSPAN_III: u16 = 0x22eb;

/// GTP-U message type of a user-plane packet (G-PDU).
const GTP_G_PDU: u8 = 0xff;

/// Which tunnels to open, and the UDP ports the UDP-borne ones are recognised on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decap {
    kinds: u16,
    /// VXLAN ports (IANA: 4789). Every port list is matched on either end.
    pub vxlan_ports: Vec<u16>,
    /// Geneve ports (IANA: 6081).
    pub geneve_ports: Vec<u16>,
    /// GTP-U ports (IANA: 2152).
    pub gtp_u_ports: Vec<u16>,
    /// MPLS-over-UDP ports (IANA: 6635).
    pub mpls_udp_ports: Vec<u16>,
}

impl Default for Decap {
    /// Nothing opened, IANA ports.
    fn default() -> Self {
        Decap {
            kinds: 0,
            vxlan_ports: vec![4789],
            geneve_ports: vec![6081],
            gtp_u_ports: vec![2152],
            mpls_udp_ports: vec![6635],
        }
    }
}

impl Decap {
    /// The default ports, with these kinds opened.
    pub fn with_kinds(kinds: &[TunnelKind]) -> Decap {
        let mut d = Decap::default();
        for &k in kinds {
            d.enable(k);
        }
        d
    }

    /// Opens tunnels of this kind.
    pub fn enable(&mut self, kind: TunnelKind) {
        if kind != TunnelKind::None {
            self.kinds |= 1 << kind as u16;
        }
    }

    /// Whether tunnels of this kind are opened.
    pub fn has(&self, kind: TunnelKind) -> bool {
        kind != TunnelKind::None && self.kinds & (1 << kind as u16) != 0
    }

    /// Whether any tunnel kind is opened.
    pub fn is_enabled(&self) -> bool {
        self.kinds != 0
    }

    /// The kinds opened, in number order.
    pub fn kinds(&self) -> Vec<TunnelKind> {
        TunnelKind::ALL
            .into_iter()
            .filter(|&k| self.has(k))
            .collect()
    }
}

/// Where the payload of a recognised tunnel starts, and what it is.
enum Inner {
    /// An IP packet (version as announced).
    Ip(usize, Network),
    /// An Ethernet frame.
    Ethernet(usize),
    /// A payload named by an ethertype (MPLS), at this offset.
    Ethertype(usize, u16),
}

/// Opens the tunnels `meta` (an outer packet decoded from `frame`, whose IP payload is
/// `payload`) is carried in, as far as `decap` allows, and leaves the innermost packet
/// in `meta`. `orig_len` is the frame's wire length, for the inner IP's TSO rule.
pub(super) fn decapsulate(
    frame: &[u8],
    mut payload: Range<usize>,
    orig_len: u32,
    decap: &Decap,
    meta: &mut PacketMeta,
) -> Result<(), Undecodable> {
    for _ in 0..MAX_DEPTH {
        if meta.fragment != super::Fragment::None {
            return Ok(());
        }
        // Inner bytes never reach past the outer IP payload (no Ethernet padding).
        let Some(bounded) = frame.get(..payload.end) else {
            return Ok(());
        };
        let Some((kind, id, inner)) = recognise(bounded, payload.start, decap, meta) else {
            return Ok(());
        };
        let tunnel = Tunnel {
            kind,
            id,
            outer_ip_version: meta.key.ip_version,
            outer_src: meta.key.src,
            outer_dst: meta.key.dst,
        };
        let mut inner_meta = PacketMeta::default();
        let (start, network) = match inner {
            Inner::Ip(at, network) => {
                // The outer frame's MACs and VLAN stay: the inner packet has none.
                inner_meta.src_mac = meta.src_mac;
                inner_meta.dst_mac = meta.dst_mac;
                inner_meta.key.vlan = meta.key.vlan;
                (at, network)
            }
            Inner::Ethernet(at) => {
                let eth = bounded.get(at..).ok_or(Undecodable::TruncatedLinkLayer)?;
                let (rel, network) = ethernet::ethernet(eth, &mut inner_meta)?;
                (at + rel, network)
            }
            Inner::Ethertype(at, ethertype) => {
                inner_meta.src_mac = meta.src_mac;
                inner_meta.dst_mac = meta.dst_mac;
                inner_meta.key.vlan = meta.key.vlan;
                ethernet::ethertype_chain(bounded, at, ethertype, &mut inner_meta)?
            }
        };
        payload = ip::network_layer(bounded, start, network, orig_len, &mut inner_meta)?;
        inner_meta.tunnel = tunnel;
        *meta = inner_meta;
    }
    Ok(())
}

/// Whether the IP payload at `at` is a tunnel `decap` opens, and if so its kind, id and
/// payload. `None` leaves the packet as it is.
fn recognise(
    frame: &[u8],
    at: usize,
    decap: &Decap,
    meta: &PacketMeta,
) -> Option<(TunnelKind, u32, Inner)> {
    match meta.key.proto {
        PROTO_IPV4_IN_IP if decap.has(TunnelKind::IpInIp) => {
            Some((TunnelKind::IpInIp, 0, Inner::Ip(at, Network::V4)))
        }
        PROTO_IPV6_IN_IP if decap.has(TunnelKind::IpInIp) => {
            Some((TunnelKind::IpInIp, 0, Inner::Ip(at, Network::V6)))
        }
        PROTO_GRE => gre(frame, at, decap),
        PROTO_UDP | PROTO_UDPLITE => {
            // UDP header: source port, destination port, length, checksum (8 bytes).
            let (src, dst) = (meta.key.src_port, meta.key.dst_port);
            let body = at + 8;
            if frame.len() < body {
                return None;
            }
            // Either end: both directions of a tunnel use the well-known port as their
            // destination, but captures of stateless encapsulators (and tshark, Zeek)
            // also show it as the source with another destination.
            let on = |ports: &[u16]| ports.contains(&dst) || ports.contains(&src);
            if decap.has(TunnelKind::Vxlan) && on(&decap.vxlan_ports) {
                vxlan(frame, body)
            } else if decap.has(TunnelKind::Geneve) && on(&decap.geneve_ports) {
                geneve(frame, body)
            } else if decap.has(TunnelKind::GtpU) && on(&decap.gtp_u_ports) {
                gtp_u(frame, body)
            } else if decap.has(TunnelKind::MplsUdp) && on(&decap.mpls_udp_ports) {
                Some((
                    TunnelKind::MplsUdp,
                    0,
                    Inner::Ethertype(body, ETHERTYPE_MPLS_UNICAST),
                ))
            } else {
                None
            }
        }
        _ => None,
    }
}

/// GRE (RFC 2784 with RFC 2890's key and sequence number): flags and version (2),
/// protocol type (2), then checksum + reserved (4, if C), key (4, if K), sequence (4, if
/// S). ERSPAN rides on GRE with protocol 0x88BE (type I without a sequence number, type
/// II with one) or 0x22EB (type III).
fn gre(frame: &[u8], at: usize, decap: &Decap) -> Option<(TunnelKind, u32, Inner)> {
    let flags = u16_at(frame, at)?;
    let protocol = u16_at(frame, at + 2)?;
    let (checksum, routing, key, seq) = (
        flags & 0x8000 != 0,
        flags & 0x4000 != 0,
        flags & 0x2000 != 0,
        flags & 0x1000 != 0,
    );
    // Version 1 is PPTP's enhanced GRE (PPP inside); RFC 1701 routing is obsolete.
    if flags & 0x0007 != 0 || routing {
        return None;
    }
    let mut pos = at + 4;
    if checksum {
        pos += 4;
    }
    let gre_key = if key {
        let k = u32_at(frame, pos)?;
        pos += 4;
        k
    } else {
        0
    };
    if seq {
        pos += 4;
    }
    if frame.len() < pos {
        return None;
    }
    match protocol {
        ETHERTYPE_ERSPAN_II if decap.has(TunnelKind::Erspan) => {
            if seq {
                // ERSPAN II: version (4) = 1, VLAN (12), COS (3), encapsulation (2),
                // truncated (1), session id (10), reserved (12), index (20).
                let word = u32_at(frame, pos)?;
                if word >> 28 != 1 {
                    return None;
                }
                Some((TunnelKind::Erspan, word & 0x3ff, Inner::Ethernet(pos + 8)))
            } else {
                // ERSPAN I: no header of its own, the mirrored frame follows GRE.
                Some((TunnelKind::Erspan, 0, Inner::Ethernet(pos)))
            }
        }
        ETHERTYPE_ERSPAN_III if decap.has(TunnelKind::Erspan) => {
            // ERSPAN III: version (4) = 2, VLAN (12), COS (3), BSO (2), T (1), session id
            // (10); timestamp (32); SGT (16), P (1), frame type (5), hardware id (6),
            // D (1), granularity (2), O (1); then an 8-byte platform sub-header if O.
            let word = u32_at(frame, pos)?;
            let last = u32_at(frame, pos + 8)?;
            if word >> 28 != 2 {
                return None;
            }
            let body = pos + 12 + if last & 1 != 0 { 8 } else { 0 };
            let inner = match (last >> 10) & 0x1f {
                0 => Inner::Ethernet(body),
                2 => Inner::Ip(body, Network::Either),
                _ => return None,
            };
            Some((TunnelKind::Erspan, word & 0x3ff, inner))
        }
        _ if !decap.has(TunnelKind::Gre) => None,
        ETHERTYPE_IPV4 => Some((TunnelKind::Gre, gre_key, Inner::Ip(pos, Network::V4))),
        ETHERTYPE_IPV6 => Some((TunnelKind::Gre, gre_key, Inner::Ip(pos, Network::V6))),
        ETHERTYPE_TEB => Some((TunnelKind::Gre, gre_key, Inner::Ethernet(pos))),
        ETHERTYPE_MPLS_UNICAST | ETHERTYPE_MPLS_MULTICAST => {
            Some((TunnelKind::Gre, gre_key, Inner::Ethertype(pos, protocol)))
        }
        _ => None,
    }
}

/// VXLAN (RFC 7348): flags (1, I = 0x08), reserved (3), VNI (3), reserved (1); then an
/// Ethernet frame. The VNI is read whatever the flags say, as receivers do.
fn vxlan(frame: &[u8], at: usize) -> Option<(TunnelKind, u32, Inner)> {
    let vni = u32_at(frame, at + 4)? >> 8;
    Some((TunnelKind::Vxlan, vni, Inner::Ethernet(at + 8)))
}

/// Geneve (RFC 8926): version (2) and options length (6, in 4-byte words), flags (1),
/// protocol type (2), VNI (3), reserved (1), options; then the payload the protocol type
/// names.
fn geneve(frame: &[u8], at: usize) -> Option<(TunnelKind, u32, Inner)> {
    let first = u8_at(frame, at)?;
    if first >> 6 != 0 {
        return None;
    }
    let protocol = u16_at(frame, at + 2)?;
    let vni = u32_at(frame, at + 4)? >> 8;
    let body = at + 8 + usize::from(first & 0x3f) * 4;
    if frame.len() < body {
        return None;
    }
    let inner = match protocol {
        ETHERTYPE_TEB => Inner::Ethernet(body),
        ETHERTYPE_IPV4 => Inner::Ip(body, Network::V4),
        ETHERTYPE_IPV6 => Inner::Ip(body, Network::V6),
        _ => return None,
    };
    Some((TunnelKind::Geneve, vni, inner))
}

/// GTP-U version 1 (3GPP TS 29.281 5.1): flags (version 3 bits = 1, PT = 1, spare, E, S,
/// PN), message type (1), length (2), TEID (4); when E, S or PN is set, sequence number
/// (2), N-PDU number (1) and next extension header type (1); then extension headers, each
/// a length (in 4-byte units, covering the whole extension) ... next type (1). Only
/// G-PDUs carry user IP; the version nibble tells IPv4 from IPv6.
fn gtp_u(frame: &[u8], at: usize) -> Option<(TunnelKind, u32, Inner)> {
    let flags = u8_at(frame, at)?;
    if flags >> 5 != 1 || flags & 0x10 == 0 || u8_at(frame, at + 1)? != GTP_G_PDU {
        return None;
    }
    let teid = u32_at(frame, at + 4)?;
    let mut pos = at + 8;
    if flags & 0x07 != 0 {
        let mut next = u8_at(frame, pos + 3)?;
        pos += 4;
        // Extension headers; present only with E, and each at least 4 bytes.
        let mut guard = 0;
        while flags & 0x04 != 0 && next != 0 {
            let units = usize::from(u8_at(frame, pos)?);
            if units == 0 || guard == 16 {
                return None;
            }
            pos += units * 4;
            next = u8_at(frame, pos - 1)?;
            guard += 1;
        }
    }
    match u8_at(frame, pos)? >> 4 {
        4 => Some((TunnelKind::GtpU, teid, Inner::Ip(pos, Network::V4))),
        6 => Some((TunnelKind::GtpU, teid, Inner::Ip(pos, Network::V6))),
        _ => None,
    }
}
