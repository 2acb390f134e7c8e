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

use super::ethernet::{
    self, ETHERTYPE_IPV4, ETHERTYPE_IPV6, ETHERTYPE_MPLS_MULTICAST, ETHERTYPE_MPLS_UNICAST,
};
use super::read::{u16_at, u32_at, u8_at};
use super::{ip, Network, PacketMeta, Undecodable};
use crate::flow::key::{PROTO_UDP, PROTO_UDPLITE};
use crate::flow::tunnel::{Tunnel, TunnelKind};

/// Nested tunnels opened at most (each layer is at least 8 bytes, so the bound is for
/// time, not safety).
pub const MAX_DEPTH: usize = 4;

/// IANA protocol numbers of the tunnels carried directly by IP.
const PROTO_IPV4_IN_IP: u8 = 4;
const PROTO_IPV6_IN_IP: u8 = 41;
const PROTO_GRE: u8 = 47;

/// Transparent Ethernet bridging: an Ethernet frame follows (GRE, Geneve).
const ETHERTYPE_TEB: u16 = 0x6558;
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
    /// Nothing opened (and no ports, which nothing would use): what [`decode`] decodes
    /// with.
    ///
    /// [`decode`]: super::decode
    pub const NONE: Decap = Decap {
        kinds: 0,
        vxlan_ports: Vec::new(),
        geneve_ports: Vec::new(),
        gtp_u_ports: Vec::new(),
        mpls_udp_ports: Vec::new(),
    };

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
/// Returns the innermost packet's IP payload (`payload` itself when no tunnel opened).
pub(super) fn decapsulate(
    frame: &[u8],
    mut payload: Range<usize>,
    orig_len: u32,
    decap: &Decap,
    meta: &mut PacketMeta,
) -> Result<Range<usize>, Undecodable> {
    for _ in 0..MAX_DEPTH {
        if meta.fragment != super::Fragment::None {
            return Ok(payload);
        }
        // Inner bytes never reach past the outer IP payload (no Ethernet padding).
        let Some(bounded) = frame.get(..payload.end) else {
            return Ok(payload);
        };
        let Some((kind, id, inner)) = recognise(bounded, payload.start, decap, meta) else {
            return Ok(payload);
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
    Ok(payload)
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

#[cfg(test)]
mod tests {
    use super::super::test_frames::*;
    use super::super::{decode_with, LINKTYPE_ETHERNET};
    use super::*;

    /// Outer tunnel endpoints 203.0.113.1 -> 203.0.113.2.
    const OUTER_SRC: [u8; 4] = [203, 0, 113, 1];
    const OUTER_DST: [u8; 4] = [203, 0, 113, 2];

    /// An outer IPv4 header for `payload` bytes of `proto`; `flags_offset` as on the wire.
    fn outer_v4(proto: u8, payload: usize, flags_offset: u16) -> Vec<u8> {
        let total = (20 + payload) as u16;
        let mut h = vec![
            0x45, 0x00, // version 4, IHL 5; ToS 0
        ];
        h.extend_from_slice(&total.to_be_bytes()); // total length
        h.extend_from_slice(&[0xab, 0xcd]); // identification
        h.extend_from_slice(&flags_offset.to_be_bytes()); // flags, fragment offset
        h.extend_from_slice(&[64, proto, 0, 0]); // TTL 64, protocol, checksum
        h.extend_from_slice(&OUTER_SRC);
        h.extend_from_slice(&OUTER_DST);
        h
    }

    /// An outer UDP header from `src` to `dst` port for `payload` bytes.
    fn udp(src: u16, dst: u16, payload: usize) -> Vec<u8> {
        let mut h = src.to_be_bytes().to_vec();
        h.extend_from_slice(&dst.to_be_bytes());
        h.extend_from_slice(&((8 + payload) as u16).to_be_bytes());
        h.extend_from_slice(&[0, 0]); // checksum
        h
    }

    /// The inner Ethernet frame: MACs swapped from the outer one's, IPv4 TCP SYN.
    fn inner_frame() -> Vec<u8> {
        cat(&[
            &SRC_MAC,
            &DST_MAC,
            &ETH_TYPE_IPV4,
            &IPV4_TCP_HDR,
            &TCP_SYN_HDR,
        ])
    }

    fn outer_frame(ip_payload: &[u8], proto: u8, flags_offset: u16) -> Vec<u8> {
        let ip = outer_v4(proto, ip_payload.len(), flags_offset);
        cat(&[&ETH_MACS, &ETH_TYPE_IPV4, &ip, ip_payload])
    }

    fn run(frame: &[u8], kinds: &[TunnelKind]) -> Result<PacketMeta, Undecodable> {
        let mut meta = PacketMeta::default();
        let decap = Decap::with_kinds(kinds);
        decode_with(
            LINKTYPE_ETHERNET,
            frame,
            frame.len() as u32,
            &decap,
            &mut meta,
        )?;
        Ok(meta)
    }

    /// The inner TCP SYN flow, with the tunnel as given.
    fn assert_inner(meta: &PacketMeta, kind: TunnelKind, id: u32) {
        assert_eq!(&meta.key.src[..4], &IPV4_SRC);
        assert_eq!(&meta.key.dst[..4], &IPV4_DST);
        assert_eq!((meta.key.src_port, meta.key.dst_port), (40000, 443));
        assert_eq!((meta.octets, meta.tcp_flags), (40, 0x02));
        assert_eq!((meta.tunnel.kind, meta.tunnel.id), (kind, id));
        assert_eq!(meta.tunnel.outer_ip_version, 4);
        assert_eq!(&meta.tunnel.outer_src[..4], &OUTER_SRC);
        assert_eq!(&meta.tunnel.outer_dst[..4], &OUTER_DST);
    }

    fn vxlan_packet(vni: u32) -> Vec<u8> {
        let mut vx = vec![
            0x08, 0, 0, 0, // flags: I (VNI valid), reserved
        ];
        vx.extend_from_slice(&(vni << 8).to_be_bytes()); // VNI (24 bits), reserved
        let inner = inner_frame();
        let body = cat(&[&vx, &inner]);
        cat(&[&udp(51000, 4789, body.len()), &body])
    }

    #[test]
    fn vxlan_opens_onto_the_inner_frame_with_its_macs() {
        let frame = outer_frame(&vxlan_packet(0x12_3456), 17, 0);
        let meta = run(&frame, &[TunnelKind::Vxlan]).unwrap();
        assert_inner(&meta, TunnelKind::Vxlan, 0x12_3456);
        assert_eq!((meta.src_mac, meta.dst_mac), (DST_MAC, SRC_MAC));
        // Off: the outer UDP flow to port 4789.
        let meta = run(&frame, &[TunnelKind::Gre]).unwrap();
        assert_eq!(
            (meta.key.dst_port, meta.tunnel.kind),
            (4789, TunnelKind::None)
        );
        // Padding after the outer packet is never inner bytes: cut the outer IP length so
        // the inner frame ends inside its IP header.
        let mut cut = frame.clone();
        let short = (20 + 8 + 8 + 14 + 10) as u16;
        cut[14 + 2..14 + 4].copy_from_slice(&short.to_be_bytes());
        assert_eq!(
            run(&cut, &[TunnelKind::Vxlan]),
            Err(Undecodable::TruncatedIp)
        );
    }

    #[test]
    fn vxlan_carrying_arp_is_not_ip_and_a_fragmented_outer_is_not_opened() {
        let mut arp = vxlan_packet(7);
        // The inner ethertype (after UDP 8, VXLAN 8, MACs 12) becomes ARP.
        arp[8 + 8 + 12..8 + 8 + 14].copy_from_slice(&[0x08, 0x06]);
        let frame = outer_frame(&arp, 17, 0);
        assert_eq!(run(&frame, &[TunnelKind::Vxlan]), Err(Undecodable::NotIp));
        // More fragments set: metered as the outer datagram's first fragment.
        let frame = outer_frame(&vxlan_packet(7), 17, 0x2000);
        let meta = run(&frame, &[TunnelKind::Vxlan]).unwrap();
        assert_eq!((meta.key.proto, meta.tunnel.kind), (17, TunnelKind::None));
    }

    #[test]
    fn gre_with_checksum_key_and_sequence_carrying_ip() {
        let gre = [
            0xb0, 0x00, // C, K, S set; version 0
            0x08, 0x00, // protocol IPv4
            0x00, 0x00, 0x00, 0x00, // checksum, reserved
            0x00, 0x00, 0x10, 0x01, // key 4097
            0x00, 0x00, 0x00, 0x09, // sequence number
        ];
        let payload = cat(&[&gre, &IPV4_TCP_HDR, &TCP_SYN_HDR]);
        let frame = outer_frame(&payload, 47, 0);
        assert_inner(
            &run(&frame, &[TunnelKind::Gre]).unwrap(),
            TunnelKind::Gre,
            4097,
        );
        // With IP inside, the outer frame's MACs stay.
        assert_eq!(run(&frame, &[TunnelKind::Gre]).unwrap().dst_mac, DST_MAC);
        // ERSPAN alone does not open plain GRE.
        let meta = run(&frame, &[TunnelKind::Erspan]).unwrap();
        assert_eq!((meta.key.proto, meta.tunnel.kind), (47, TunnelKind::None));
    }

    #[test]
    fn gre_payloads_flowprobe_cannot_follow_stay_outer_packets() {
        for gre in [
            [0x30, 0x01, 0x88, 0x0b], // version 1 (PPTP), PPP
            [0x00, 0x00, 0x20, 0x01], // NHRP
            [0x40, 0x00, 0x08, 0x00], // RFC 1701 routing present
        ] {
            let payload = cat(&[&gre, &[0; 12], &IPV4_TCP_HDR, &TCP_SYN_HDR]);
            let frame = outer_frame(&payload, 47, 0);
            let meta = run(&frame, &TunnelKind::ALL).unwrap();
            assert_eq!(
                (meta.key.proto, meta.tunnel.kind),
                (47, TunnelKind::None),
                "{gre:?}"
            );
        }
    }

    #[test]
    fn erspan_types_one_two_and_three() {
        let inner = inner_frame();
        // Type I: GRE without sequence number, protocol 0x88BE, the frame right after.
        let type1 = cat(&[&[0x00, 0x00, 0x88, 0xbe], &inner]);
        let meta = run(&outer_frame(&type1, 47, 0), &[TunnelKind::Erspan]).unwrap();
        assert_inner(&meta, TunnelKind::Erspan, 0);
        // Type II: sequence number, then version 1, VLAN 10, session 0x155, index.
        let type2 = cat(&[
            &[0x10, 0x00, 0x88, 0xbe], // S set; protocol ERSPAN II
            &[0, 0, 0, 1],             // sequence number
            &[0x10, 0x0a],             // version 1, VLAN 10
            &[0x01, 0x55],             // COS 0, En 0, T 0, session id 0x155
            &[0, 0, 0, 0],             // reserved, index
            &inner,
        ]);
        let meta = run(&outer_frame(&type2, 47, 0), &[TunnelKind::Erspan]).unwrap();
        assert_inner(&meta, TunnelKind::Erspan, 0x155);
        // Type III with the optional platform sub-header (O bit), frame type Ethernet.
        let type3 = cat(&[
            &[0x10, 0x00, 0x22, 0xeb], // S set; protocol ERSPAN III
            &[0, 0, 0, 2],             // sequence number
            &[0x20, 0x0a, 0x00, 0x42], // version 2, VLAN 10, session id 0x42
            &[0, 0, 0, 0],             // timestamp
            &[0, 0, 0x00, 0x01],       // SGT, P, frame type 0, hw id, D, gra, O = 1
            &[0; 8],                   // platform specific sub-header
            &inner,
        ]);
        let meta = run(&outer_frame(&type3, 47, 0), &[TunnelKind::Erspan]).unwrap();
        assert_inner(&meta, TunnelKind::Erspan, 0x42);
    }

    #[test]
    fn geneve_with_options_and_gtp_u_with_an_extension_header() {
        let geneve = cat(&[
            &[0x01, 0x00, 0x65, 0x58], // version 0, 1 word of options; protocol TEB
            &[0x00, 0x00, 0x2a, 0x00], // VNI 42
            &[0x01, 0x02, 0x80, 0x00], // one 4-byte option (class, type, length 0)
            &inner_frame(),
        ]);
        let frame = outer_frame(&cat(&[&udp(6081, 40000, geneve.len()), &geneve]), 17, 0);
        assert_inner(
            &run(&frame, &[TunnelKind::Geneve]).unwrap(),
            TunnelKind::Geneve,
            42,
        );
        let gtp = cat(&[
            &[0x34, 0xff],             // version 1, PT 1, E set; G-PDU
            &[0x00, 0x30],             // length
            &[0xde, 0xad, 0xbe, 0xef], // TEID
            &[0x00, 0x00, 0x00, 0x85], // sequence, N-PDU, next extension: PDU session
            &[0x01, 0x10, 0x09, 0x00], // extension: 1 unit, content, next type 0
            &IPV4_TCP_HDR,
            &TCP_SYN_HDR,
        ]);
        let frame = outer_frame(&cat(&[&udp(2152, 2152, gtp.len()), &gtp]), 17, 0);
        assert_inner(
            &run(&frame, &[TunnelKind::GtpU]).unwrap(),
            TunnelKind::GtpU,
            0xdead_beef,
        );
        // A GTP echo request (message type 1) is signalling: the outer packet stays.
        let mut echo = gtp.clone();
        echo[1] = 0x01;
        let frame = outer_frame(&cat(&[&udp(2152, 2152, echo.len()), &echo]), 17, 0);
        let meta = run(&frame, &[TunnelKind::GtpU]).unwrap();
        assert_eq!(
            (meta.key.dst_port, meta.tunnel.kind),
            (2152, TunnelKind::None)
        );
    }

    #[test]
    fn ip_in_ip_nests_and_the_innermost_tunnel_is_kept() {
        // IPv4 in IPv4 in VXLAN: two tunnels opened, the IP-in-IP one recorded. The
        // middle header (protocol 4) has the tunnel endpoints' addresses.
        let middle = cat(&[&outer_v4(4, 40, 0), &IPV4_TCP_HDR, &TCP_SYN_HDR]);
        let eth = cat(&[&SRC_MAC, &DST_MAC, &ETH_TYPE_IPV4, &middle]);
        let vx = cat(&[&[0x08, 0, 0, 0, 0, 0, 5, 0], &eth[..]]);
        let frame = outer_frame(&cat(&[&udp(1, 4789, vx.len()), &vx]), 17, 0);
        let meta = run(&frame, &[TunnelKind::Vxlan, TunnelKind::IpInIp]).unwrap();
        assert_inner(&meta, TunnelKind::IpInIp, 0);
        // Only VXLAN opened: the middle packet, IP protocol 4, is the flow.
        let meta = run(&frame, &[TunnelKind::Vxlan]).unwrap();
        assert_eq!(
            (meta.key.proto, meta.tunnel.kind, meta.tunnel.id),
            (4, TunnelKind::Vxlan, 5)
        );
    }

    #[test]
    fn mpls_over_gre_and_over_udp_to_ip() {
        // One label (bottom of stack), then the IPv4 packet the first nibble names.
        let label = [
            0x00, 0x01, 0x11, 0x40, // label 17, TC 0, bottom of stack, TTL 64
        ];
        let over_gre = cat(&[
            &[0x20, 0x00, 0x88, 0x47], // K set; protocol MPLS unicast
            &[0x00, 0x00, 0x00, 0x07], // key 7
            &label,
            &IPV4_TCP_HDR,
            &TCP_SYN_HDR,
        ]);
        let frame = outer_frame(&over_gre, 47, 0);
        assert_inner(
            &run(&frame, &[TunnelKind::Gre]).unwrap(),
            TunnelKind::Gre,
            7,
        );
        let body = cat(&[&label, &IPV4_TCP_HDR, &TCP_SYN_HDR]);
        let frame = outer_frame(&cat(&[&udp(49999, 6635, body.len()), &body]), 17, 0);
        assert_inner(
            &run(&frame, &[TunnelKind::MplsUdp]).unwrap(),
            TunnelKind::MplsUdp,
            0,
        );
        // MPLS over UDP not enabled: the outer UDP flow to 6635.
        let meta = run(&frame, &[TunnelKind::Gre]).unwrap();
        assert_eq!(
            (meta.key.dst_port, meta.tunnel.kind),
            (6635, TunnelKind::None)
        );
    }

    #[test]
    fn ipv6_in_ipv4_and_ipv4_in_ipv6() {
        // 6in4: IPv4 protocol 41 carrying the IPv6 UDP packet.
        let v6 = cat(&[&IPV6_UDP_HDR, &UDP_HDR]);
        let frame = outer_frame(&v6, 41, 0);
        let meta = run(&frame, &[TunnelKind::IpInIp]).unwrap();
        assert_eq!((meta.key.src, meta.key.dst), (IPV6_SRC, IPV6_DST));
        assert_eq!((meta.key.ip_version, meta.octets), (6, 48));
        assert_eq!(meta.tunnel.kind, TunnelKind::IpInIp);
        // 4in6: an IPv6 header with next header 4 carrying the IPv4 SYN.
        let mut outer6 = IPV6_UDP_HDR;
        outer6[4..6].copy_from_slice(&40u16.to_be_bytes()); // payload length 40
        outer6[6] = 4; // next header: IPv4
        let frame = cat(&[
            &ETH_MACS,
            &ETH_TYPE_IPV6,
            &outer6,
            &IPV4_TCP_HDR,
            &TCP_SYN_HDR,
        ]);
        let mut m = PacketMeta::default();
        let decap = Decap::with_kinds(&[TunnelKind::IpInIp]);
        decode_with(
            LINKTYPE_ETHERNET,
            &frame,
            frame.len() as u32,
            &decap,
            &mut m,
        )
        .unwrap();
        assert_eq!(&m.key.src[..4], &IPV4_SRC);
        assert_eq!(
            (m.tunnel.outer_ip_version, m.tunnel.outer_src),
            (6, IPV6_SRC)
        );
    }
}
