//! Link types: from the capture's LINKTYPE_* to the offset of the network layer.
//!
//! Each link type is a fixed header (or none) followed by either an ethertype, which the
//! `ethernet` module follows through VLAN/MPLS/PPPoE, or an address family / nothing,
//! which points straight at IP. Only the fields a flow needs are read: for Linux SLL the
//! source link-layer address becomes `src_mac` when it is 6 bytes long (SLL records no
//! destination address).

use super::ethernet::{self, ETHERTYPE_MIN};
use super::read::{array_at, u16_at, u8_at};
use super::{Network, PacketMeta, Undecodable};
use super::{
    DLT_RAW_12, DLT_RAW_14, LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP, LINKTYPE_NULL, LINKTYPE_RAW,
};

/// Linux SLL v1 header length: packet type (2), ARPHRD (2), address length (2),
/// address (8, padded), protocol (2).
const SLL_LEN: usize = 16;
/// Linux SLL v2 header length: protocol (2), reserved (2), ifindex (4), ARPHRD (2),
/// packet type (1), address length (1), address (8, padded).
const SLL2_LEN: usize = 20;

/// SLL protocol values below 0x0600 are not ethertypes but `ETH_P_*` codes (`if_ether.h`):
/// 0x0004 ETH_P_802_2 is an 802.2 LLC frame (followed like an 802.3 frame, for SNAP);
/// the others (0x0001 Novell raw 802.3, 0x000C CAN, ...) are not IP.
const ETH_P_802_2: u16 = 0x0004;

/// Follows an SLL protocol field.
fn sll_protocol(
    frame: &[u8],
    at: usize,
    protocol: u16,
    meta: &mut PacketMeta,
) -> Result<(usize, Network), Undecodable> {
    if protocol < ETHERTYPE_MIN && protocol != ETH_P_802_2 {
        return Err(Undecodable::NotIp);
    }
    ethernet::ethertype_chain(frame, at, protocol, meta)
}

/// Reads the link-layer header; returns where the network layer starts and what it is.
pub(super) fn link_layer(
    link_type: u32,
    frame: &[u8],
    meta: &mut PacketMeta,
) -> Result<(usize, Network), Undecodable> {
    match link_type {
        LINKTYPE_ETHERNET => ethernet::ethernet(frame, meta),
        LINKTYPE_RAW | DLT_RAW_12 | DLT_RAW_14 => Ok((0, Network::Either)),
        LINKTYPE_IPV4 => Ok((0, Network::V4)),
        LINKTYPE_IPV6 => Ok((0, Network::V6)),
        LINKTYPE_NULL | LINKTYPE_LOOP => loopback(frame, meta),
        LINKTYPE_LINUX_SLL => sll(frame, meta),
        LINKTYPE_LINUX_SLL2 => sll2(frame, meta),
        _ => Err(Undecodable::UnsupportedLinkType),
    }
}

/// BSD NULL (host byte order) and OpenBSD LOOP (network byte order): a 4-byte address
/// family. Both orders are accepted for both, the way Wireshark's null dissector does it:
/// families are small, so a value with bits in its upper half is byte-swapped. Some old
/// Linux writers put an ethertype there instead of a family: a value above 1500 (the
/// largest 802.3 length) is taken as an ethertype.
fn loopback(frame: &[u8], meta: &mut PacketMeta) -> Result<(usize, Network), Undecodable> {
    let bytes = array_at::<4>(frame, 0).ok_or(Undecodable::TruncatedLinkLayer)?;
    let mut value = u32::from_le_bytes(bytes);
    if value & 0xffff_0000 != 0 {
        value = value.swap_bytes();
    }
    if value > 1500 {
        let ethertype = value as u16;
        if ethertype < ETHERTYPE_MIN {
            return Err(Undecodable::NotIp);
        }
        return ethernet::ethertype_chain(frame, 4, ethertype, meta);
    }
    let network = match value {
        // AF_INET everywhere.
        2 => Network::V4,
        // AF_INET6: Linux 10, NetBSD/OpenBSD/BSD/OS 24, FreeBSD/DragonFly 28, Darwin 30.
        10 | 24 | 28 | 30 => Network::V6,
        _ => return Err(Undecodable::NotIp),
    };
    Ok((4, network))
}

/// Linux cooked capture v1.
fn sll(frame: &[u8], meta: &mut PacketMeta) -> Result<(usize, Network), Undecodable> {
    let protocol = u16_at(frame, 14).ok_or(Undecodable::TruncatedLinkLayer)?;
    if u16_at(frame, 4) == Some(6) {
        if let Some(mac) = array_at::<6>(frame, 6) {
            meta.src_mac = mac;
        }
    }
    sll_protocol(frame, SLL_LEN, protocol, meta)
}

/// Linux cooked capture v2.
fn sll2(frame: &[u8], meta: &mut PacketMeta) -> Result<(usize, Network), Undecodable> {
    if frame.len() < SLL2_LEN {
        return Err(Undecodable::TruncatedLinkLayer);
    }
    let protocol = u16_at(frame, 0).ok_or(Undecodable::TruncatedLinkLayer)?;
    if u8_at(frame, 11) == Some(6) {
        if let Some(mac) = array_at::<6>(frame, 12) {
            meta.src_mac = mac;
        }
    }
    sll_protocol(frame, SLL2_LEN, protocol, meta)
}

#[cfg(test)]
mod tests {
    use super::super::test_frames::*;
    use super::super::{decode, Fragment};
    use super::*;

    fn run(link_type: u32, frame: &[u8]) -> Result<PacketMeta, Undecodable> {
        let mut meta = PacketMeta::default();
        decode(link_type, frame, frame.len() as u32, &mut meta).map(|()| meta)
    }

    /// The IPv4/TCP packet of `test_frames`, as decoded from any link type.
    fn assert_ipv4_tcp(meta: &PacketMeta) {
        assert_eq!(meta.key.ip_version, 4);
        assert_eq!(meta.key.src[..4], IPV4_SRC);
        assert_eq!(meta.key.dst[..4], IPV4_DST);
        assert_eq!((meta.key.src_port, meta.key.dst_port), (40000, 443));
        assert_eq!(meta.key.proto, 6);
        assert_eq!(meta.tcp_flags, 0x02);
        assert_eq!(meta.octets, 40);
        assert_eq!(meta.fragment, Fragment::None);
    }

    fn assert_ipv6_udp(meta: &PacketMeta) {
        assert_eq!(meta.key.ip_version, 6);
        assert_eq!(meta.key.src, IPV6_SRC);
        assert_eq!(meta.key.dst, IPV6_DST);
        assert_eq!((meta.key.src_port, meta.key.dst_port), (5353, 53));
        assert_eq!(meta.key.proto, 17);
        assert_eq!(meta.octets, 48);
    }

    #[test]
    fn sll_v1_with_6_byte_source_address() {
        let sll: [u8; 16] = [
            0x00, 0x00, // packet type: to us
            0x00, 0x01, // ARPHRD_ETHER
            0x00, 0x06, // link-layer address length 6
            0x02, 0x11, 0x22, 0x33, 0x44, 0x55, 0x00, 0x00, // address + 2 padding bytes
            0x08, 0x00, // protocol: IPv4
        ];
        let meta = run(
            LINKTYPE_LINUX_SLL,
            &cat(&[&sll, &IPV4_TCP_HDR, &TCP_SYN_HDR]),
        )
        .unwrap();
        assert_ipv4_tcp(&meta);
        assert_eq!(meta.src_mac, [0x02, 0x11, 0x22, 0x33, 0x44, 0x55]);
        assert_eq!(meta.dst_mac, [0; 6]);
    }

    #[test]
    fn sll_v1_other_address_length_leaves_mac_zero_and_vlan_tag_is_followed() {
        let sll: [u8; 16] = [
            0x00, 0x04, // packet type: outgoing
            0x03, 0x04, // ARPHRD_LOOPBACK (772)
            0x00, 0x00, // address length 0
            0, 0, 0, 0, 0, 0, 0, 0, // no address
            0x81, 0x00, // protocol: 802.1Q (tag not stripped)
        ];
        let vlan: [u8; 4] = [
            0x00, 0x2a, // TCI: VLAN 42
            0x86, 0xdd, // inner ethertype IPv6
        ];
        let meta = run(
            LINKTYPE_LINUX_SLL,
            &cat(&[&sll, &vlan, &IPV6_UDP_HDR, &UDP_HDR]),
        )
        .unwrap();
        assert_ipv6_udp(&meta);
        assert_eq!(meta.key.vlan, 42);
        assert_eq!(meta.src_mac, [0; 6]);
    }

    #[test]
    fn sll_v1_non_ethertype_protocol_and_truncation() {
        let mut sll: [u8; 16] = [
            0x00, 0x00, 0x00, 0x01, 0x00, 0x06, 2, 0, 0, 0, 0, 1, 0, 0, //
            0x00, 0x01, // protocol: ETH_P_802_3 (Novell raw 802.3), not an ethertype
        ];
        assert_eq!(run(LINKTYPE_LINUX_SLL, &sll), Err(Undecodable::NotIp));
        sll[14..].copy_from_slice(&[0x00, 0x04]); // ETH_P_802_2: LLC follows, here cut
        assert_eq!(
            run(LINKTYPE_LINUX_SLL, &sll),
            Err(Undecodable::TruncatedLinkLayer)
        );
        let stp_llc: [u8; 3] = [0x42, 0x42, 0x03]; // LLC: STP SAPs
        assert_eq!(
            run(LINKTYPE_LINUX_SLL, &cat(&[&sll, &stp_llc, &[0; 35]])),
            Err(Undecodable::NotIp)
        );
        sll[14..].copy_from_slice(&[0x08, 0x06]); // ARP
        assert_eq!(run(LINKTYPE_LINUX_SLL, &sll), Err(Undecodable::NotIp));
        assert_eq!(
            run(LINKTYPE_LINUX_SLL, &sll[..15]),
            Err(Undecodable::TruncatedLinkLayer)
        );
    }

    #[test]
    fn sll_v2_llc_snap_carrying_ipv4() {
        let sll2: [u8; 20] = [
            0x00, 0x04, // protocol: ETH_P_802_2, an 802.2 LLC header follows
            0x00, 0x00, // reserved
            0x00, 0x00, 0x00, 0x01, // interface index 1
            0x00, 0x01, // ARPHRD_ETHER
            0x04, // packet type: outgoing
            0x06, // address length 6
            0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x00, 0x00, // address + padding
        ];
        let llc_snap: [u8; 8] = [
            0xaa, 0xaa, 0x03, // LLC: SNAP SAPs, UI
            0x00, 0x00, 0x00, // OUI 00-00-00
            0x08, 0x00, // type IPv4
        ];
        let frame = cat(&[&sll2, &llc_snap, &IPV4_TCP_HDR, &TCP_SYN_HDR]);
        assert_ipv4_tcp(&run(LINKTYPE_LINUX_SLL2, &frame).unwrap());
    }

    #[test]
    fn sll_v2() {
        let sll2: [u8; 20] = [
            0x86, 0xdd, // protocol: IPv6
            0x00, 0x00, // reserved
            0x00, 0x00, 0x00, 0x03, // interface index 3
            0x00, 0x01, // ARPHRD_ETHER
            0x00, // packet type: to us
            0x06, // address length 6
            0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0x00, 0x00, // address + padding
        ];
        let meta = run(LINKTYPE_LINUX_SLL2, &cat(&[&sll2, &IPV6_UDP_HDR, &UDP_HDR])).unwrap();
        assert_ipv6_udp(&meta);
        assert_eq!(meta.src_mac, [0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee]);
        assert_eq!(meta.key.in_if, 0, "the caller sets in_if");
        assert_eq!(
            run(LINKTYPE_LINUX_SLL2, &sll2[..19]),
            Err(Undecodable::TruncatedLinkLayer)
        );
    }

    #[test]
    fn null_ipv4_both_byte_orders() {
        let little: [u8; 4] = [0x02, 0x00, 0x00, 0x00]; // AF_INET, little-endian writer
        let big: [u8; 4] = [0x00, 0x00, 0x00, 0x02]; // AF_INET, big-endian writer
        for hdr in [little, big] {
            let meta = run(LINKTYPE_NULL, &cat(&[&hdr, &IPV4_TCP_HDR, &TCP_SYN_HDR])).unwrap();
            assert_ipv4_tcp(&meta);
        }
    }

    #[test]
    fn null_every_af_inet6_value_both_orders() {
        for family in [10u32, 24, 28, 30] {
            for hdr in [family.to_le_bytes(), family.to_be_bytes()] {
                let meta = run(LINKTYPE_NULL, &cat(&[&hdr, &IPV6_UDP_HDR, &UDP_HDR])).unwrap();
                assert_ipv6_udp(&meta);
            }
        }
    }

    #[test]
    fn null_other_family_and_short_header() {
        let ipx: [u8; 4] = [0x17, 0x00, 0x00, 0x00]; // AF 23 (IPX on some BSDs)
        assert_eq!(
            run(LINKTYPE_NULL, &cat(&[&ipx, &IPV4_TCP_HDR])),
            Err(Undecodable::NotIp)
        );
        assert_eq!(
            run(LINKTYPE_NULL, &[0x02, 0x00, 0x00]),
            Err(Undecodable::TruncatedLinkLayer)
        );
    }

    #[test]
    fn null_header_carrying_an_ethertype() {
        // Seen in real captures (Wireshark decodes it the same way): 0x0f00 then 0x0800.
        let hdr: [u8; 4] = [0x0f, 0x00, 0x08, 0x00];
        let meta = run(LINKTYPE_NULL, &cat(&[&hdr, &IPV4_TCP_HDR, &TCP_SYN_HDR])).unwrap();
        assert_ipv4_tcp(&meta);
        let arp: [u8; 4] = [0x00, 0x00, 0x08, 0x06]; // ethertype ARP
        assert_eq!(
            run(LINKTYPE_NULL, &cat(&[&arp, &[0; 28]])),
            Err(Undecodable::NotIp)
        );
    }

    #[test]
    fn loop_network_order() {
        let hdr4: [u8; 4] = [0x00, 0x00, 0x00, 0x02]; // AF_INET, network order
        let meta = run(LINKTYPE_LOOP, &cat(&[&hdr4, &IPV4_TCP_HDR, &TCP_SYN_HDR])).unwrap();
        assert_ipv4_tcp(&meta);
        let hdr6: [u8; 4] = [0x00, 0x00, 0x00, 0x18]; // AF_INET6 = 24 (OpenBSD)
        let meta = run(LINKTYPE_LOOP, &cat(&[&hdr6, &IPV6_UDP_HDR, &UDP_HDR])).unwrap();
        assert_ipv6_udp(&meta);
        // NULL announcing IPv4 over an IPv6 packet: the announcement is checked.
        let meta = run(LINKTYPE_LOOP, &cat(&[&hdr4, &IPV6_UDP_HDR, &UDP_HDR]));
        assert_eq!(meta, Err(Undecodable::BadIpVersion));
    }

    #[test]
    fn raw_ip_link_types() {
        let v4 = cat(&[&IPV4_TCP_HDR, &TCP_SYN_HDR]);
        let v6 = cat(&[&IPV6_UDP_HDR, &UDP_HDR]);
        for lt in [LINKTYPE_RAW, DLT_RAW_12, DLT_RAW_14] {
            assert_ipv4_tcp(&run(lt, &v4).unwrap());
            assert_ipv6_udp(&run(lt, &v6).unwrap());
            assert_eq!(run(lt, &[]), Err(Undecodable::TruncatedIp));
            let mut bad = v4.clone();
            bad[0] = 0x55; // version 5
            assert_eq!(run(lt, &bad), Err(Undecodable::BadIpVersion));
        }
        assert_ipv4_tcp(&run(LINKTYPE_IPV4, &v4).unwrap());
        assert_ipv6_udp(&run(LINKTYPE_IPV6, &v6).unwrap());
        // LINKTYPE_IPV4 / IPV6 promise one version: the other one is refused.
        assert_eq!(run(LINKTYPE_IPV4, &v6), Err(Undecodable::BadIpVersion));
        assert_eq!(run(LINKTYPE_IPV6, &v4), Err(Undecodable::BadIpVersion));
        // Raw links have no MACs.
        assert_eq!(run(LINKTYPE_RAW, &v4).unwrap().src_mac, [0; 6]);
    }
}
