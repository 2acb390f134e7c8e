//! Ethernet and what rides between it and IP: 802.3 LLC/SNAP, VLAN tags, MPLS, PPPoE.
//!
//! `ethernet` reads the MACs and the type/length field; `ethertype_chain` then follows
//! ethertypes until IP (also used by Linux SLL, whose header ends in an ethertype). VLAN
//! tags of any depth and any of the three tag ethertypes are skipped, the OUTERMOST id is
//! kept as the flow's VLAN (it is the one the switch port and the operator see). Each
//! step consumes at least 4 bytes, so the loop ends on any input.

use super::read::{array_at, u16_at, u32_at, u8_at};
use super::{Network, PacketMeta, Undecodable};

pub(super) const ETHERTYPE_IPV4: u16 = 0x0800;
pub(super) const ETHERTYPE_IPV6: u16 = 0x86dd;
/// IEEE 802.1Q customer VLAN tag.
const ETHERTYPE_VLAN: u16 = 0x8100;
/// IEEE 802.1ad service VLAN tag (QinQ outer tag).
const ETHERTYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ outer tag used by several vendors.
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
pub(super) const ETHERTYPE_MPLS_UNICAST: u16 = 0x8847;
pub(super) const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// Cisco VN-Tag (4-byte tag, then the next ethertype).
const ETHERTYPE_VNTAG: u16 = 0x8926;
/// IEEE 802.1BR E-Tag (6-byte tag, then the next ethertype).
const ETHERTYPE_ETAG: u16 = 0x893f;
/// Cisco MetaData / TrustSec SGT (version, length, option, SGT: 6 bytes; then ethertype).
const ETHERTYPE_CISCO_METADATA: u16 = 0x8909;
/// Cisco FabricPath (FTag and TTL: 2 bytes; then the original Ethernet frame).
const ETHERTYPE_FABRICPATH: u16 = 0x8903;
/// Network Service Header (RFC 8300).
const ETHERTYPE_NSH: u16 = 0x894f;
/// Arista timestamp trailer header (subtype, version, 48- or 64-bit timestamp).
const ETHERTYPE_ARISTA: u16 = 0xd28b;
/// The one Arista subtype whose header is followed by the original ethertype.
const ARISTA_SUBTYPE_TIMESTAMP: u16 = 0x0001;
/// IEEE 802.1AE MACsec.
const ETHERTYPE_MACSEC: u16 = 0x88e5;

/// PPP protocol numbers (RFC 1332, RFC 5072).
const PPP_IPV4: u16 = 0x0021;
const PPP_IPV6: u16 = 0x0057;

/// MPLS reserved labels (RFC 3032): IPv4 and IPv6 explicit null.
const MPLS_IPV4_EXPLICIT_NULL: u32 = 0;
const MPLS_IPV6_EXPLICIT_NULL: u32 = 2;

/// Ethernet II header: destination (6), source (6), type/length (2).
const ETHERNET_LEN: usize = 14;
/// Type/length values below this are IEEE 802.3 lengths, not ethertypes.
pub(super) const ETHERTYPE_MIN: u16 = 0x0600;

/// Reads an Ethernet frame's MACs and follows its type (or 802.3 length) field to IP.
#[inline(always)]
pub(super) fn ethernet(
    frame: &[u8],
    meta: &mut PacketMeta,
) -> Result<(usize, Network), Undecodable> {
    // One bounds check for the whole header; the fields are then constant offsets into
    // a 14-byte array.
    let header = array_at::<ETHERNET_LEN>(frame, 0).ok_or(Undecodable::TruncatedLinkLayer)?;
    let [d0, d1, d2, d3, d4, d5, s0, s1, s2, s3, s4, s5, t0, t1] = header;
    meta.dst_mac = [d0, d1, d2, d3, d4, d5];
    meta.src_mac = [s0, s1, s2, s3, s4, s5];
    let type_or_len = u16::from_be_bytes([t0, t1]);
    // Untagged IP, and IP under one 802.1Q tag, most frames by far: answered before the
    // chain's loop and match. Anything else (and a cut tag) takes the chain, which
    // gives the same answer for these, only slower.
    match type_or_len {
        ETHERTYPE_IPV4 => return Ok((ETHERNET_LEN, Network::V4)),
        ETHERTYPE_IPV6 => return Ok((ETHERNET_LEN, Network::V6)),
        ETHERTYPE_VLAN => {
            if let Some([c0, c1, t0, t1]) = array_at::<4>(frame, ETHERNET_LEN) {
                let network = match u16::from_be_bytes([t0, t1]) {
                    ETHERTYPE_IPV4 => Some(Network::V4),
                    ETHERTYPE_IPV6 => Some(Network::V6),
                    _ => None,
                };
                if let Some(network) = network {
                    // Tag: PCP (3 bits), DEI (1), VLAN id (12).
                    meta.key.vlan = u16::from_be_bytes([c0, c1]) & 0x0fff;
                    return Ok((ETHERNET_LEN + 4, network));
                }
            }
        }
        _ => {}
    }
    ethertype_chain(frame, ETHERNET_LEN, type_or_len, meta)
}

/// Follows `ethertype`, whose payload starts at `at`, through VLAN tags, MPLS and PPPoE
/// until IP. Returns the IP header's offset and which version was announced.
pub(super) fn ethertype_chain(
    frame: &[u8],
    mut at: usize,
    mut ethertype: u16,
    meta: &mut PacketMeta,
) -> Result<(usize, Network), Undecodable> {
    let mut tagged = false;
    loop {
        match ethertype {
            ETHERTYPE_IPV4 => return Ok((at, Network::V4)),
            ETHERTYPE_IPV6 => return Ok((at, Network::V6)),
            ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
                // Tag: PCP (3 bits), DEI (1), VLAN id (12); then the next ethertype.
                let tci = u16_at(frame, at).ok_or(Undecodable::TruncatedLinkLayer)?;
                ethertype = u16_at(frame, at + 2).ok_or(Undecodable::TruncatedLinkLayer)?;
                if !tagged {
                    meta.key.vlan = tci & 0x0fff;
                    tagged = true;
                }
                at += 4;
            }
            ETHERTYPE_MPLS_UNICAST | ETHERTYPE_MPLS_MULTICAST => match mpls(frame, at)? {
                Payload::Ip(at, network) => return Ok((at, network)),
                Payload::Ethernet(inner) => {
                    ethertype = u16_at(frame, inner + 12).ok_or(Undecodable::TruncatedLinkLayer)?;
                    at = inner + ETHERNET_LEN;
                }
            },
            // Tags switches insert in front of the next ethertype: skip them.
            ETHERTYPE_VNTAG | ETHERTYPE_ETAG | ETHERTYPE_CISCO_METADATA => {
                let len = match ethertype {
                    ETHERTYPE_VNTAG => 4,
                    _ => 6,
                };
                ethertype = u16_at(frame, at + len).ok_or(Undecodable::TruncatedLinkLayer)?;
                at += len + 2;
            }
            // FabricPath: FTag/TTL, then the original frame's MACs and type.
            ETHERTYPE_FABRICPATH => {
                ethertype = u16_at(frame, at + 2 + 12).ok_or(Undecodable::TruncatedLinkLayer)?;
                at += 2 + ETHERNET_LEN;
            }
            // Arista (AVSP): subtype (2), version (2), timestamp, then the original
            // ethertype. Only subtype 1 (timestamp) has this layout; the others (GRE tap
            // 3, postcard 4, DzGRE 7-9, TGen 0xCAFE) carry different headers and are not
            // followed. The version is timescale (8 bits: TAI 0, UTC 1), format (4 bits:
            // 1 = 64-bit stamp, 2 = 48-bit) and hardware info (4 bits: 0 R/R2, 1 R3/J2),
            // so 0x0011 and 0x0121 are as valid as 0x0010 (tcpdump print-arista.c;
            // Wireshark's packet-avsp.c "J2" versions).
            ETHERTYPE_ARISTA => {
                let subtype = u16_at(frame, at).ok_or(Undecodable::TruncatedLinkLayer)?;
                let version = u16_at(frame, at + 2).ok_or(Undecodable::TruncatedLinkLayer)?;
                if subtype != ARISTA_SUBTYPE_TIMESTAMP {
                    return Err(Undecodable::NotIp);
                }
                let stamp = match version & 0x00f0 {
                    0x10 => 8,
                    0x20 => 6,
                    _ => return Err(Undecodable::NotIp),
                };
                ethertype = u16_at(frame, at + 4 + stamp).ok_or(Undecodable::TruncatedLinkLayer)?;
                at += 4 + stamp + 2;
            }
            // MACsec SecTAG: TCI/AN (1), short length (1), packet number (4), SCI (8, when
            // the SC bit is set). Only integrity-protected frames (E and C clear) show their
            // ethertype; encrypted ones carry no IP we can read.
            ETHERTYPE_MACSEC => {
                let tci = u8_at(frame, at).ok_or(Undecodable::TruncatedLinkLayer)?;
                if tci & 0x0c != 0 {
                    return Err(Undecodable::NotIp);
                }
                let len = if tci & 0x20 != 0 { 14 } else { 6 };
                ethertype = u16_at(frame, at + len).ok_or(Undecodable::TruncatedLinkLayer)?;
                at += len + 2;
            }
            // NSH: length (6 bits of the 2nd byte, in 4-byte words) and next protocol.
            ETHERTYPE_NSH => {
                let words = u8_at(frame, at + 1).ok_or(Undecodable::TruncatedLinkLayer)? & 0x3f;
                let next = u8_at(frame, at + 3).ok_or(Undecodable::TruncatedLinkLayer)?;
                let payload = at + usize::from(words) * 4;
                match next {
                    1 => return Ok((payload, Network::V4)),
                    2 => return Ok((payload, Network::V6)),
                    3 => {
                        ethertype =
                            u16_at(frame, payload + 12).ok_or(Undecodable::TruncatedLinkLayer)?;
                        at = payload + ETHERNET_LEN;
                    }
                    5 => {
                        ethertype = ETHERTYPE_MPLS_UNICAST;
                        at = payload;
                    }
                    _ => return Err(Undecodable::NotIp),
                }
            }
            ETHERTYPE_PPPOE_SESSION => return pppoe_session(frame, at),
            // Below 0x0600 the field is an IEEE 802.3 length (untagged or after a tag) and
            // an 802.2 LLC header follows. Only SNAP (AA AA 03) can carry an ethertype,
            // after its 3-byte OUI; every other SAP (STP 0x42, NetBIOS 0xF0, IPX 0xE0,
            // ...) is not IP for a flow probe.
            0..ETHERTYPE_MIN => {
                let llc = array_at::<3>(frame, at).ok_or(Undecodable::TruncatedLinkLayer)?;
                if llc != [0xaa, 0xaa, 0x03] {
                    return Err(Undecodable::NotIp);
                }
                ethertype = u16_at(frame, at + 6).ok_or(Undecodable::TruncatedLinkLayer)?;
                at += 8;
            }
            // ARP, LLDP, PPPoE discovery, 802.1X, MACsec, ... carry no IP we can meter.
            _ => return Err(Undecodable::NotIp),
        }
    }
}

/// What an MPLS label stack carries.
enum Payload {
    /// IP at this offset.
    Ip(usize, Network),
    /// An Ethernet pseudowire (RFC 4448): the inner Ethernet header at this offset.
    Ethernet(usize),
}

/// An MPLS label stack (4 bytes per entry: label 20 bits, TC 3, bottom-of-stack 1, TTL 8)
/// and the payload after it.
fn mpls(frame: &[u8], mut at: usize) -> Result<Payload, Undecodable> {
    loop {
        let entry = u32_at(frame, at).ok_or(Undecodable::TruncatedLinkLayer)?;
        at += 4;
        if entry & 0x100 == 0 {
            continue;
        }
        // Bottom of stack: the explicit null labels name the payload (RFC 3032 2.1); any
        // other label leaves it to the first nibble, as every router and decoder does.
        return match entry >> 12 {
            MPLS_IPV4_EXPLICIT_NULL => Ok(Payload::Ip(at, Network::V4)),
            MPLS_IPV6_EXPLICIT_NULL => Ok(Payload::Ip(at, Network::V6)),
            _ => match u8_at(frame, at).map(|b| b >> 4) {
                Some(4) => Ok(Payload::Ip(at, Network::V4)),
                Some(6) => Ok(Payload::Ip(at, Network::V6)),
                // An Ethernet pseudowire with its control word (first nibble 0000, RFC
                // 4385): the customer's frame follows the 4-byte word.
                Some(0) => Ok(Payload::Ethernet(at + 4)),
                Some(_) => Err(Undecodable::NotIp),
                None => Err(Undecodable::TruncatedIp),
            },
        };
    }
}

/// PPPoE session header (RFC 2516): version/type (1), code (1), session id (2),
/// length (2); then the PPP protocol field.
fn pppoe_session(frame: &[u8], at: usize) -> Result<(usize, Network), Undecodable> {
    let ppp = at + 6;
    let first = u8_at(frame, ppp).ok_or(Undecodable::TruncatedLinkLayer)?;
    // PPP protocol field compression (RFC 1661 6.5): an odd first byte is a 1-byte field.
    // RFC 2516 discourages it but some stacks send it anyway.
    let (protocol, payload) = if first & 1 == 1 {
        (u16::from(first), ppp + 1)
    } else {
        (
            u16_at(frame, ppp).ok_or(Undecodable::TruncatedLinkLayer)?,
            ppp + 2,
        )
    };
    match protocol {
        PPP_IPV4 => Ok((payload, Network::V4)),
        PPP_IPV6 => Ok((payload, Network::V6)),
        // LCP, IPCP, CHAP, ... are session control, not IP.
        _ => Err(Undecodable::NotIp),
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_frames::*;
    use super::super::{decode, LINKTYPE_ETHERNET};
    use super::*;

    fn run(frame: &[u8]) -> Result<PacketMeta, Undecodable> {
        let mut meta = PacketMeta::default();
        decode(LINKTYPE_ETHERNET, frame, frame.len() as u32, &mut meta).map(|()| meta)
    }

    fn assert_ipv4_tcp(meta: &PacketMeta) {
        assert_eq!(meta.key.ip_version, 4);
        assert_eq!(meta.key.src[..4], IPV4_SRC);
        assert_eq!(meta.key.dst[..4], IPV4_DST);
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.key.proto),
            (40000, 443, 6)
        );
        assert_eq!(meta.octets, 40);
    }

    fn assert_ipv6_udp(meta: &PacketMeta) {
        assert_eq!(meta.key.ip_version, 6);
        assert_eq!((meta.key.src, meta.key.dst), (IPV6_SRC, IPV6_DST));
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.key.proto),
            (5353, 53, 17)
        );
        assert_eq!(meta.octets, 48);
    }

    #[test]
    fn ethernet_ii_macs_and_ipv4() {
        let meta = run(&cat(&[
            &ETH_MACS,
            &ETH_TYPE_IPV4,
            &IPV4_TCP_HDR,
            &TCP_SYN_HDR,
        ]))
        .unwrap();
        assert_ipv4_tcp(&meta);
        assert_eq!(meta.dst_mac, DST_MAC);
        assert_eq!(meta.src_mac, SRC_MAC);
        assert_eq!(meta.key.vlan, 0);
    }

    #[test]
    fn ethernet_ii_ipv6() {
        let meta = run(&cat(&[&ETH_MACS, &ETH_TYPE_IPV6, &IPV6_UDP_HDR, &UDP_HDR])).unwrap();
        assert_ipv6_udp(&meta);
    }

    #[test]
    fn ethernet_padding_is_not_counted() {
        // A 40-byte IPv4/TCP packet padded to the 60-byte Ethernet minimum, plus 6 bytes.
        let frame = cat(&[
            &ETH_MACS,
            &ETH_TYPE_IPV4,
            &IPV4_TCP_HDR,
            &TCP_SYN_HDR,
            &[0; 6],
        ]);
        assert_ipv4_tcp(&run(&frame).unwrap());
    }

    #[test]
    fn ieee_802_3_llc_snap_carrying_ipv4() {
        let llc_snap: [u8; 10] = [
            0x00, 0x30, // 802.3 length: 48 (LLC 3 + SNAP 5 + IP 40)
            0xaa, 0xaa, 0x03, // LLC: DSAP SNAP, SSAP SNAP, control UI
            0x00, 0x00, 0x00, // SNAP OUI 00-00-00 (ethertype follows)
            0x08, 0x00, // SNAP type: IPv4
        ];
        let meta = run(&cat(&[&ETH_MACS, &llc_snap, &IPV4_TCP_HDR, &TCP_SYN_HDR])).unwrap();
        assert_ipv4_tcp(&meta);
        assert_eq!(meta.src_mac, SRC_MAC);
    }

    #[test]
    fn vlan_tagged_802_3_llc_snap() {
        let tag_llc_snap: [u8; 14] = [
            0x81, 0x00, // 802.1Q
            0x00, 0x05, // TCI: VLAN 5
            0x00, 0x30, // 802.3 length 48 (inside the tag)
            0xaa, 0xaa, 0x03, // LLC: SNAP SAPs, UI
            0x00, 0x00, 0x00, // OUI
            0x86, 0xdd, // SNAP type: IPv6
        ];
        let meta = run(&cat(&[&ETH_MACS, &tag_llc_snap, &IPV6_UDP_HDR, &UDP_HDR])).unwrap();
        assert_ipv6_udp(&meta);
        assert_eq!(meta.key.vlan, 5);
    }

    #[test]
    fn ieee_802_3_stp_is_not_ip_and_cut_llc_is_truncated() {
        let stp: [u8; 9] = [
            0x00, 0x26, // 802.3 length
            0x42, 0x42, 0x03, // LLC: STP SAPs
            0x00, 0x00, 0x00, 0x00, // BPDU start
        ];
        assert_eq!(run(&cat(&[&ETH_MACS, &stp])), Err(Undecodable::NotIp));
        assert_eq!(
            run(&cat(&[&ETH_MACS, &stp[..3]])),
            Err(Undecodable::TruncatedLinkLayer)
        );
        let snap_cut: [u8; 7] = [0x00, 0x30, 0xaa, 0xaa, 0x03, 0x00, 0x00]; // OUI cut
        assert_eq!(
            run(&cat(&[&ETH_MACS, &snap_cut])),
            Err(Undecodable::TruncatedLinkLayer)
        );
    }

    #[test]
    fn single_vlan() {
        let meta = run(&cat(&[
            &ETH_VLAN_100,
            &ETH_TYPE_IPV4,
            &IPV4_TCP_HDR,
            &TCP_SYN_HDR,
        ]))
        .unwrap();
        assert_ipv4_tcp(&meta);
        assert_eq!(meta.key.vlan, 100);
    }

    #[test]
    fn qinq_keeps_the_outermost_id() {
        for outer_type in [[0x88, 0xa8], [0x91, 0x00], [0x81, 0x00]] {
            let tags: [u8; 8] = [
                0xa0, 0x0a, // outer TCI: PCP 5, VLAN 10
                0x81, 0x00, // 802.1Q inner tag follows
                0x0f, 0xff, // inner TCI: VLAN 4095
                0x86, 0xdd, // IPv6
            ];
            let frame = cat(&[&ETH_MACS, &outer_type, &tags, &IPV6_UDP_HDR, &UDP_HDR]);
            let meta = run(&frame).unwrap();
            assert_ipv6_udp(&meta);
            assert_eq!(meta.key.vlan, 10);
        }
    }

    #[test]
    fn vlan_cut_and_vlan_carrying_arp() {
        let cut = cat(&[&ETH_VLAN_100[..14], &[0x00]]); // TCI cut after one byte
        assert_eq!(run(&cut), Err(Undecodable::TruncatedLinkLayer));
        let arp = cat(&[&ETH_VLAN_100, &[0x08, 0x06], &[0; 28]]);
        assert_eq!(run(&arp), Err(Undecodable::NotIp));
    }

    #[test]
    fn mpls_two_labels_ipv4_payload() {
        let stack: [u8; 10] = [
            0x88, 0x47, // MPLS unicast
            0x00, 0x3e, 0x80, 0xff, // label 1000, TC 0, S 0, TTL 255
            0x00, 0x07, 0xd1, 0x40, // label 125 (0x0007d), TC 0, S 1, TTL 64
        ];
        let meta = run(&cat(&[&ETH_MACS, &stack, &IPV4_TCP_HDR, &TCP_SYN_HDR])).unwrap();
        assert_ipv4_tcp(&meta);
    }

    #[test]
    fn mpls_two_labels_ipv6_payload_multicast() {
        let stack: [u8; 10] = [
            0x88, 0x48, // MPLS multicast
            0x00, 0x3e, 0x80, 0xff, // label 1000, S 0
            0x00, 0x3e, 0x91, 0x40, // label 1001, S 1
        ];
        let meta = run(&cat(&[&ETH_MACS, &stack, &IPV6_UDP_HDR, &UDP_HDR])).unwrap();
        assert_ipv6_udp(&meta);
    }

    #[test]
    fn mpls_explicit_null_names_the_payload() {
        let v6_null: [u8; 6] = [
            0x88, 0x47, // MPLS
            0x00, 0x00, 0x21, 0x40, // label 2 (IPv6 explicit null), S 1
        ];
        let meta = run(&cat(&[&ETH_MACS, &v6_null, &IPV6_UDP_HDR, &UDP_HDR])).unwrap();
        assert_ipv6_udp(&meta);
        // IPv4 explicit null over an IPv6 packet: the label wins, the nibble is wrong.
        let v4_null: [u8; 6] = [0x88, 0x47, 0x00, 0x00, 0x01, 0x40]; // label 0, S 1
        let frame = cat(&[&ETH_MACS, &v4_null, &IPV6_UDP_HDR, &UDP_HDR]);
        assert_eq!(run(&frame), Err(Undecodable::BadIpVersion));
    }

    #[test]
    fn switch_tags_in_front_of_the_ethertype_are_skipped() {
        let ip = cat(&[&ETH_TYPE_IPV4, &IPV4_TCP_HDR, &TCP_SYN_HDR]);
        // Cisco VN-Tag: 0x8926, 4-byte tag.
        let vntag = cat(&[&ETH_MACS, &[0x89, 0x26, 0x00, 0x00, 0x00, 0x00], &ip]);
        assert_ipv4_tcp(&run(&vntag).unwrap());
        // 802.1BR E-Tag: 0x893f, 6-byte tag.
        let etag = cat(&[
            &ETH_MACS,
            &[0x89, 0x3f, 0x10, 0x00, 0x00, 0xd3, 0x00, 0x00],
            &ip,
        ]);
        assert_ipv4_tcp(&run(&etag).unwrap());
        // Cisco MetaData (SGT): 0x8909, version 1, length 1, option 0x0001, SGT 0x0064.
        let cmd = cat(&[
            &ETH_MACS,
            &[0x89, 0x09, 0x01, 0x01, 0x00, 0x01, 0x00, 0x64],
            &ip,
        ]);
        assert_ipv4_tcp(&run(&cmd).unwrap());
        // Cisco FabricPath: 0x8903, FTag/TTL, then the original MACs and type.
        let fp = cat(&[&ETH_MACS, &[0x89, 0x03, 0x40, 0x20], &ETH_MACS, &ip]);
        assert_ipv4_tcp(&run(&fp).unwrap());
        // Arista timestamp: 0xd28b, subtype 1, version 0x0010 (64-bit), 8-byte stamp.
        let arista = cat(&[
            &ETH_MACS,
            &[0xd2, 0x8b, 0, 1, 0, 0x10, 1, 2, 3, 4, 5, 6, 7, 8],
            &ip,
        ]);
        assert_ipv4_tcp(&run(&arista).unwrap());
        // ... version 0x0020: a 48-bit stamp.
        let arista48 = cat(&[
            &ETH_MACS,
            &[0xd2, 0x8b, 0, 1, 0, 0x20, 1, 2, 3, 4, 5, 6],
            &ip,
        ]);
        assert_ipv4_tcp(&run(&arista48).unwrap());
    }

    #[test]
    fn arista_hardware_info_timescale_and_other_subtypes() {
        // Frame 2 of tcpdump's tests/arista_ether.pcap, up to the IP header.
        let r3_64: [u8; 18] = [
            0xd2, 0x8b, // Arista vendor ethertype
            0x00, 0x01, // subtype 1: timestamp
            0x00, 0x11, // version: timescale 0 (TAI), format 1 (64-bit), hw info 1 (R3)
            0x5c, 0xee, 0xed, 0x58, // seconds
            0x19, 0xc3, 0x8c, 0x2c, // nanoseconds
            0x81, 0x00, // original ethertype: 802.1Q
            0x00, 0x64, // TCI: VLAN 100
        ];
        let ip = cat(&[&ETH_TYPE_IPV4, &IPV4_TCP_HDR, &TCP_SYN_HDR]);
        let meta = run(&cat(&[&ETH_MACS, &r3_64, &ip])).unwrap();
        assert_ipv4_tcp(&meta);
        assert_eq!(meta.key.vlan, 100);
        // Frame 14's header: version 0x0121, UTC, 48-bit stamp, R3.
        let utc_r3_48: [u8; 12] = [
            0xd2, 0x8b, // Arista
            0x00, 0x01, // timestamp
            0x01, 0x21, // version: timescale 1 (UTC), format 2 (48-bit), hw info 1
            0xed, 0xa1, // seconds
            0x1a, 0x71, 0x8b, 0xc0, // nanoseconds
        ];
        assert_ipv4_tcp(&run(&cat(&[&ETH_MACS, &utc_r3_48, &ip])).unwrap());
        // Format 3 is not assigned: the stamp's length is unknown.
        let unknown_format = [0xd2, 0x8b, 0x00, 0x01, 0x00, 0x30, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(
            run(&cat(&[&ETH_MACS, &unknown_format, &ip])),
            Err(Undecodable::NotIp)
        );
        // DzGRE with timestamp (subtype 9, version 0x0011): a 22-byte header, not a
        // 14-byte timestamp one. Read as subtype 1, the "ethertype" would be the first
        // two bytes of its seconds field, here 0x0800, and IP would be read from the
        // middle of the header.
        let dzgre_ts: [u8; 22] = [
            0xd2, 0x8b, // Arista
            0x00, 0x09, // subtype 9: DzGRE (timestamped)
            0x00, 0x11, // version: 64-bit TAI
            0x00, 0x01, 0x00, 0x02, // switch id, port id
            0x00, 0x03, 0x00, 0x00, // policy id, reserved
            0x08, 0x00, 0x00, 0x00, // seconds
            0x00, 0x00, 0x00, 0x01, // nanoseconds
        ];
        assert_eq!(
            run(&cat(&[&ETH_MACS, &dzgre_ts, &ip])),
            Err(Undecodable::NotIp)
        );
        // Header cut inside the subtype or version.
        assert_eq!(
            run(&cat(&[&ETH_MACS, &r3_64[..5]])),
            Err(Undecodable::TruncatedLinkLayer)
        );
    }

    #[test]
    fn macsec_integrity_only_is_read_and_encrypted_is_not_ip() {
        let ip = cat(&[&ETH_TYPE_IPV4, &IPV4_TCP_HDR, &TCP_SYN_HDR]);
        // SecTAG: TCI/AN 0x20 (SC set, E and C clear), short length 0, PN 1, SCI (8).
        let sectag = [0x88, 0xe5, 0x20, 0x00, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 0, 1];
        assert_ipv4_tcp(&run(&cat(&[&ETH_MACS, &sectag, &ip])).unwrap());
        // Without SCI (SC clear): TCI/AN 0x00, SL 0, PN.
        let short = [0x88, 0xe5, 0x00, 0x00, 0, 0, 0, 1];
        assert_ipv4_tcp(&run(&cat(&[&ETH_MACS, &short, &ip])).unwrap());
        // E and C set: encrypted, no readable type.
        let encrypted = [0x88, 0xe5, 0x2c, 0x00, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 0, 1];
        assert_eq!(
            run(&cat(&[&ETH_MACS, &encrypted, &ip])),
            Err(Undecodable::NotIp)
        );
    }

    #[test]
    fn nsh_carries_ipv4_or_ethernet() {
        // NSH base header: ver/O/TTL, length 6 words (24 bytes), MD type 1, next proto 1
        // (IPv4); then the service path header and 16 bytes of context.
        let mut nsh = vec![0x89, 0x4f, 0x00, 0x06, 0x01, 0x01];
        nsh.extend_from_slice(&[0; 20]);
        assert_ipv4_tcp(&run(&cat(&[&ETH_MACS, &nsh, &IPV4_TCP_HDR, &TCP_SYN_HDR])).unwrap());
        // Next protocol 3: an Ethernet frame follows.
        nsh[5] = 0x03;
        let eth = cat(&[
            &ETH_MACS,
            &nsh,
            &ETH_MACS,
            &ETH_TYPE_IPV4,
            &IPV4_TCP_HDR,
            &TCP_SYN_HDR,
        ]);
        assert_ipv4_tcp(&run(&eth).unwrap());
        // Next protocol 4 (NSH in NSH) is not followed.
        nsh[5] = 0x04;
        assert_eq!(
            run(&cat(&[&ETH_MACS, &nsh, &IPV4_TCP_HDR])),
            Err(Undecodable::NotIp)
        );
    }

    #[test]
    fn mpls_pseudowire_and_cut_stack() {
        let pw: [u8; 10] = [
            0x88, 0x47, // MPLS
            0x00, 0x3e, 0x81, 0xff, // label 1000, S 1
            0x00, 0x00, 0x00, 0x00, // pseudowire control word: first nibble 0
        ];
        // The customer's frame after the control word: MACs cut before its type field.
        assert_eq!(
            run(&cat(&[&ETH_MACS, &pw, &ETH_MACS])),
            Err(Undecodable::TruncatedLinkLayer)
        );
        // ... and whole: its IP is metered (RFC 4448 Ethernet pseudowire).
        let inner = cat(&[
            &ETH_MACS,
            &pw,
            &ETH_MACS,
            &ETH_TYPE_IPV4,
            &IPV4_TCP_HDR,
            &TCP_SYN_HDR,
        ]);
        let meta = run(&inner).unwrap();
        assert_ipv4_tcp(&meta);
        assert_eq!(
            run(&cat(&[&ETH_MACS, &pw[..4]])),
            Err(Undecodable::TruncatedLinkLayer)
        );
        assert_eq!(
            run(&cat(&[&ETH_MACS, &pw[..6]])),
            Err(Undecodable::TruncatedIp)
        );
    }

    #[test]
    fn pppoe_session_ipv4_and_ipv6() {
        let pppoe_v4: [u8; 10] = [
            0x88, 0x64, // PPPoE session
            0x11, // version 1, type 1
            0x00, // code: session data
            0x12, 0x34, // session id
            0x00, 0x2a, // length: 2 (PPP) + 40
            0x00, 0x21, // PPP protocol: IPv4
        ];
        let meta = run(&cat(&[&ETH_MACS, &pppoe_v4, &IPV4_TCP_HDR, &TCP_SYN_HDR])).unwrap();
        assert_ipv4_tcp(&meta);
        let pppoe_v6: [u8; 10] = [0x88, 0x64, 0x11, 0x00, 0x12, 0x34, 0x00, 0x32, 0x00, 0x57];
        let meta = run(&cat(&[&ETH_MACS, &pppoe_v6, &IPV6_UDP_HDR, &UDP_HDR])).unwrap();
        assert_ipv6_udp(&meta);
        // Protocol field compression: a single 0x21 byte.
        let pfc: [u8; 9] = [0x88, 0x64, 0x11, 0x00, 0x12, 0x34, 0x00, 0x29, 0x21];
        let meta = run(&cat(&[&ETH_MACS, &pfc, &IPV4_TCP_HDR, &TCP_SYN_HDR])).unwrap();
        assert_ipv4_tcp(&meta);
    }

    #[test]
    fn pppoe_control_discovery_and_truncation() {
        let lcp: [u8; 10] = [0x88, 0x64, 0x11, 0x00, 0x12, 0x34, 0x00, 0x06, 0xc0, 0x21];
        assert_eq!(
            run(&cat(&[&ETH_MACS, &lcp, &[0; 4]])),
            Err(Undecodable::NotIp)
        );
        let padi: [u8; 8] = [
            0x88, 0x63, // PPPoE discovery
            0x11, 0x09, 0x00, 0x00, 0x00, 0x00, // PADI, session 0, length 0
        ];
        assert_eq!(run(&cat(&[&ETH_MACS, &padi])), Err(Undecodable::NotIp));
        assert_eq!(
            run(&cat(&[&ETH_MACS, &lcp[..8]])),
            Err(Undecodable::TruncatedLinkLayer)
        );
    }

    #[test]
    fn short_ethernet_and_non_ip_ethertypes() {
        assert_eq!(
            run(&cat(&[&ETH_MACS, &[0x08]])),
            Err(Undecodable::TruncatedLinkLayer)
        );
        assert_eq!(run(&[]), Err(Undecodable::TruncatedLinkLayer));
        for ethertype in [[0x08, 0x06], [0x88, 0xcc], [0x88, 0x8e]] {
            // ARP, LLDP, 802.1X
            assert_eq!(
                run(&cat(&[&ETH_MACS, &ethertype, &[0; 46]])),
                Err(Undecodable::NotIp)
            );
        }
    }

    #[test]
    fn ethertype_ipv4_over_ipv6_bytes_is_bad_version() {
        let frame = cat(&[&ETH_MACS, &ETH_TYPE_IPV4, &IPV6_UDP_HDR, &UDP_HDR]);
        assert_eq!(run(&frame), Err(Undecodable::BadIpVersion));
    }

    /// The chain alone, as `ethernet` was before its fast paths: MACs, then the loop.
    fn through_chain(frame: &[u8]) -> (Result<(usize, Network), Undecodable>, PacketMeta) {
        let mut meta = PacketMeta::default();
        let result = match u16_at(frame, 12) {
            None => Err(Undecodable::TruncatedLinkLayer),
            Some(ethertype) => {
                meta.dst_mac = array_at::<6>(frame, 0).unwrap_or_default();
                meta.src_mac = array_at::<6>(frame, 6).unwrap_or_default();
                ethertype_chain(frame, ETHERNET_LEN, ethertype, &mut meta)
            }
        };
        (result, meta)
    }

    proptest::proptest! {
        /// Regression guard for the fast paths in `ethernet` (untagged IP, IP under one
        /// 802.1Q tag): on any frame, cut anywhere, they answer exactly as the chain.
        #[test]
        fn fast_paths_answer_as_the_chain(
            macs in proptest::array::uniform12(proptest::num::u8::ANY),
            outer in proptest::sample::select(vec![0x0800u16, 0x86dd, 0x8100, 0x88a8, 0x0806, 0x002e]),
            tci in proptest::num::u16::ANY,
            inner in proptest::sample::select(vec![0x0800u16, 0x86dd, 0x8100, 0x0806, 0x8847]),
            rest in proptest::collection::vec(proptest::num::u8::ANY, 0..24),
            cut in 0usize..48,
        ) {
            let mut frame = macs.to_vec();
            frame.extend_from_slice(&outer.to_be_bytes());
            frame.extend_from_slice(&tci.to_be_bytes());
            frame.extend_from_slice(&inner.to_be_bytes());
            frame.extend_from_slice(&rest);
            frame.truncate(cut);
            let mut meta = PacketMeta::default();
            let fast = ethernet(&frame, &mut meta);
            let (slow, slow_meta) = through_chain(&frame);
            proptest::prop_assert_eq!(fast, slow);
            if fast.is_ok() {
                proptest::prop_assert_eq!(meta, slow_meta);
            }
        }
    }
}
