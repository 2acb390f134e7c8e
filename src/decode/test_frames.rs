//! Annotated header bytes shared by the decoder's unit tests, and `cat` to join them.
//!
//! Each test builds its frame from these pieces plus its own annotated header for the
//! layer under test, so every byte of every test frame is explained somewhere.

/// Destination MAC of the test Ethernet frames.
pub(super) const DST_MAC: [u8; 6] = [0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c];
/// Source MAC of the test Ethernet frames.
pub(super) const SRC_MAC: [u8; 6] = [0x02, 0x42, 0xac, 0x11, 0x00, 0x02];

/// Ethernet destination + source MACs (the type field is added by each test).
pub(super) const ETH_MACS: [u8; 12] = [
    0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c, // destination MAC
    0x02, 0x42, 0xac, 0x11, 0x00, 0x02, // source MAC
];
/// Ethertype IPv4.
pub(super) const ETH_TYPE_IPV4: [u8; 2] = [0x08, 0x00];
/// Ethertype IPv6.
pub(super) const ETH_TYPE_IPV6: [u8; 2] = [0x86, 0xdd];

/// Ethernet MACs and one 802.1Q tag for VLAN 100; the inner ethertype follows.
pub(super) const ETH_VLAN_100: [u8; 16] = [
    0x00, 0x1b, 0x21, 0x0a, 0x0b, 0x0c, // destination MAC
    0x02, 0x42, 0xac, 0x11, 0x00, 0x02, // source MAC
    0x81, 0x00, // 802.1Q
    0x00, 0x64, // TCI: PCP 0, DEI 0, VLAN 100
];

/// 192.0.2.1
pub(super) const IPV4_SRC: [u8; 4] = [192, 0, 2, 1];
/// 198.51.100.7
pub(super) const IPV4_DST: [u8; 4] = [198, 51, 100, 7];

/// IPv4 header, no options, carrying the 20-byte TCP_SYN_HDR (total length 40).
pub(super) const IPV4_TCP_HDR: [u8; 20] = [
    0x45, // version 4, IHL 5
    0xb8, // ToS: DSCP EF (46), ECN 0
    0x00, 0x28, // total length 40
    0x12, 0x34, // identification
    0x40, 0x00, // flags DF, fragment offset 0
    0x3d, // TTL 61
    0x06, // protocol TCP
    0x00, 0x00, // header checksum (not checked)
    192, 0, 2, 1, // source 192.0.2.1
    198, 51, 100, 7, // destination 198.51.100.7
];

/// TCP header, SYN, 40000 -> 443, no options.
pub(super) const TCP_SYN_HDR: [u8; 20] = [
    0x9c, 0x40, // source port 40000
    0x01, 0xbb, // destination port 443
    0x00, 0x00, 0x00, 0x64, // sequence number
    0x00, 0x00, 0x00, 0x00, // acknowledgment number
    0x50, // data offset 5, reserved 0, NS 0
    0x02, // flags: SYN
    0xfa, 0xf0, // window
    0x00, 0x00, // checksum
    0x00, 0x00, // urgent pointer
];

/// 2001:db8::1
pub(super) const IPV6_SRC: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
/// 2001:db8::53
pub(super) const IPV6_DST: [u8; 16] = [
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53,
];

/// IPv6 header carrying the 8-byte UDP_HDR.
pub(super) const IPV6_UDP_HDR: [u8; 40] = [
    0x62, 0x80, 0x00, 0x00, // version 6, traffic class 0x28, flow label 0
    0x00, 0x08, // payload length 8
    0x11, // next header UDP
    0x40, // hop limit 64
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // source 2001:db8::1
    0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53, // destination 2001:db8::53
];

/// UDP header, 5353 -> 53, no payload.
pub(super) const UDP_HDR: [u8; 8] = [
    0x14, 0xe9, // source port 5353
    0x00, 0x35, // destination port 53
    0x00, 0x08, // length 8
    0x00, 0x00, // checksum (none)
];

/// A raw IPv4 packet (link type 101) of protocol `proto` from 198.18.0.1 to 198.18.0.2,
/// with IP id `id` and the flags and fragment offset field `flags_offset`, carrying
/// `bytes`.
pub(crate) fn raw_ipv4(proto: u8, id: u16, flags_offset: u16, bytes: &[u8]) -> Vec<u8> {
    let total = (20 + bytes.len()) as u16;
    let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0];
    p[2..4].copy_from_slice(&total.to_be_bytes());
    p[4..6].copy_from_slice(&id.to_be_bytes());
    p[6..8].copy_from_slice(&flags_offset.to_be_bytes());
    p.extend_from_slice(&[198, 18, 0, 1, 198, 18, 0, 2]);
    p.extend_from_slice(bytes);
    p
}

/// Joins header pieces into one frame.
pub(super) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}
