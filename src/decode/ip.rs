//! The network layer: IPv4 (options, fragments) and IPv6 (extension headers, fragments,
//! jumbograms), into addresses, protocol, ToS, TTL, octets and fragment position.
//!
//! The IP header must be present up to the addresses (20 bytes for IPv4, 40 for IPv6);
//! anything after that may be cut by the snaplen and the packet still makes its flow.
//! The length counted is always the header's own length field (see the module doc of
//! `decode` for the zero-length cases). Transport bytes are only looked for inside the IP
//! payload, bounded by both the header's length and the captured bytes.

use std::ops::Range;

use super::read::{array_at, u16_at, u32_at, u8_at};
use super::{transport, Fragment, Network, PacketMeta, Undecodable};

/// IPv6 extension headers walked to reach the transport (RFC 8200 4.1, RFC 4302).
const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const AUTH: u8 = 51;
const DESTINATION_OPTIONS: u8 = 60;
/// IPv6 "No Next Header".
const NO_NEXT_HEADER: u8 = 59;

/// Hop-by-hop option types (RFC 8200 4.2, RFC 2675).
const OPTION_PAD1: u8 = 0;
const OPTION_JUMBO_PAYLOAD: u8 = 0xc2;

/// More extension headers than this in one packet is an attack or garbage; the walk stops
/// there and reports what it reached (each header is at least 8 bytes anyway).
const MAX_EXTENSION_HEADERS: usize = 16;

/// Decodes the IP header at `at`, then the transport, into `meta`. Returns where the
/// IP payload (the transport header) lies in `frame`, as far as both the IP length and
/// the capture allow; for a later fragment, its part of the datagram's payload (which
/// decapsulation does not open). Tunnel decapsulation starts there.
pub(super) fn network_layer(
    frame: &[u8],
    at: usize,
    network: Network,
    orig_len: u32,
    meta: &mut PacketMeta,
) -> Result<Range<usize>, Undecodable> {
    let first = u8_at(frame, at).ok_or(Undecodable::TruncatedIp)?;
    match (first >> 4, network) {
        (4, Network::V4 | Network::Either) => ipv4(frame, at, orig_len, meta),
        (6, Network::V6 | Network::Either) => ipv6(frame, at, orig_len, meta),
        _ => Err(Undecodable::BadIpVersion),
    }
}

/// The frame's length on the wire minus the link-layer bytes before the IP header: the IP
/// length when the header's own field is 0 (segmentation offload). A capture whose
/// `orig_len` is below its captured length is insane; the captured length is used then.
fn wire_ip_len(frame: &[u8], at: usize, orig_len: u32) -> u32 {
    let wire = (orig_len as usize).max(frame.len());
    u32::try_from(wire.saturating_sub(at)).unwrap_or(u32::MAX)
}

#[inline(always)]
fn ipv4(
    frame: &[u8],
    at: usize,
    orig_len: u32,
    meta: &mut PacketMeta,
) -> Result<Range<usize>, Undecodable> {
    // Version/IHL (1), ToS (1), total length (2), id (2), flags/offset (2), TTL (1),
    // protocol (1), checksum (2), source (4), destination (4), options. One bounds check
    // for the fixed header (the addresses end it); the fields are then constant offsets.
    let header = array_at::<20>(frame, at).ok_or(Undecodable::TruncatedIp)?;
    let [version_ihl, tos, len0, len1, id0, id1, fo0, fo1, ttl, proto, _, _, s0, s1, s2, s3, d0, d1, d2, d3] =
        header;
    let header_len = usize::from(version_ihl & 0x0f) * 4;
    let total_len = u16::from_be_bytes([len0, len1]);
    if header_len < 20 {
        return Err(Undecodable::BadIpHeader);
    }
    let ip_end = if total_len == 0 {
        // TSO: the length is what went on the wire. The payload bound is the capture.
        meta.octets = wire_ip_len(frame, at, orig_len);
        frame.len()
    } else if usize::from(total_len) < header_len {
        return Err(Undecodable::BadIpHeader);
    } else {
        meta.octets = u32::from(total_len);
        frame.len().min(at + usize::from(total_len))
    };
    meta.key.ip_version = 4;
    meta.key.tos = tos;
    meta.ttl = ttl;
    meta.key.proto = proto;
    meta.key.src = address_v4([s0, s1, s2, s3]);
    meta.key.dst = address_v4([d0, d1, d2, d3]);

    let flags_offset = u16::from_be_bytes([fo0, fo1]);
    let more_fragments = flags_offset & 0x2000 != 0;
    let offset = flags_offset & 0x1fff;
    if offset != 0 {
        // No transport header in a later fragment: ports and flags stay 0. Its payload
        // is the middle of the datagram (decapsulation stops at a fragment).
        let id = u32::from(u16::from_be_bytes([id0, id1]));
        meta.fragment = Fragment::Later {
            id,
            offset: offset * 8,
        };
        return Ok(at + header_len..ip_end.max(at + header_len));
    }
    if more_fragments {
        let id = u32::from(u16::from_be_bytes([id0, id1]));
        meta.fragment = Fragment::First { id };
    }
    let payload = frame.get(at + header_len..ip_end).unwrap_or(&[]);
    transport::transport(payload, meta);
    Ok(at + header_len..ip_end.max(at + header_len))
}

fn ipv6(
    frame: &[u8],
    at: usize,
    orig_len: u32,
    meta: &mut PacketMeta,
) -> Result<Range<usize>, Undecodable> {
    // Version/traffic class/flow label (4), payload length (2), next header (1),
    // hop limit (1), source (16), destination (16).
    // One bounds check for the fixed header (the addresses end it); every read below is
    // at a constant offset inside it.
    let header = array_at::<40>(frame, at).ok_or(Undecodable::TruncatedIp)?;
    let first_word = u32_at(&header, 0).unwrap_or(0);
    let payload_len = u16_at(&header, 4).unwrap_or(0);
    let mut next = u8_at(&header, 6).unwrap_or(0);
    meta.key.ip_version = 6;
    meta.key.tos = (first_word >> 20) as u8;
    meta.ttl = u8_at(&header, 7).unwrap_or(0);
    meta.key.src = address_v6(array_at::<16>(&header, 8).unwrap_or_default());
    meta.key.dst = address_v6(array_at::<16>(&header, 24).unwrap_or_default());

    let ip_end = if payload_len == 0 {
        frame.len()
    } else {
        frame.len().min(at + 40 + usize::from(payload_len))
    };
    meta.octets = if payload_len != 0 {
        40 + u32::from(payload_len)
    } else if next == NO_NEXT_HEADER {
        40
    } else {
        // Jumbogram (its hop-by-hop option, read below, overrides this) or BIG TCP/GSO.
        wire_ip_len(frame, at, orig_len)
    };
    // From here on, only the IP packet's own bytes are read (never Ethernet padding).
    let frame = frame.get(..ip_end).unwrap_or(frame);

    let mut pos = at + 40;
    let mut seen_fragment_header = false;
    for index in 0..MAX_EXTENSION_HEADERS {
        match next {
            HOP_BY_HOP | ROUTING | DESTINATION_OPTIONS | AUTH => {
                // Next header (1), length (1); the length unit differs for AH.
                let (Some(following), Some(len)) = (u8_at(frame, pos), u8_at(frame, pos + 1))
                else {
                    break;
                };
                let len = if next == AUTH {
                    (usize::from(len) + 2) * 4
                } else {
                    (usize::from(len) + 1) * 8
                };
                if next == HOP_BY_HOP && index == 0 && payload_len == 0 {
                    let options = frame
                        .get(pos + 2..frame.len().min(pos + len))
                        .unwrap_or(&[]);
                    if let Some(jumbo) = jumbo_payload_len(options) {
                        meta.octets = jumbo.saturating_add(40);
                    }
                }
                next = following;
                pos += len;
            }
            FRAGMENT => {
                // Next header (1), reserved (1), offset (13 bits) + 2 reserved + M (1),
                // identification (4). Cut before the id: the fragment is unknown, stop.
                let Some(id) = u32_at(frame, pos + 4) else {
                    break;
                };
                let following = u8_at(frame, pos).unwrap_or(0);
                let offset_m = u16_at(frame, pos + 2).unwrap_or(0);
                next = following;
                pos += 8;
                if seen_fragment_header {
                    // A second fragment header (an evasion trick, RFC 8200 forbids it):
                    // the first one placed the packet; this one is walked over.
                    continue;
                }
                seen_fragment_header = true;
                if offset_m & 0xfff8 != 0 {
                    meta.key.proto = next;
                    meta.fragment = Fragment::Later {
                        id,
                        offset: offset_m & 0xfff8,
                    };
                    return Ok(pos.min(frame.len())..frame.len());
                }
                if offset_m & 1 != 0 {
                    meta.fragment = Fragment::First { id };
                }
            }
            // The transport, ESP (50, encrypted from here on), No Next Header (59),
            // Mobility (135, whose payload is always No Next Header), or unknown.
            _ => break,
        }
    }
    meta.key.proto = next;
    let payload = frame.get(pos..).unwrap_or(&[]);
    transport::transport(payload, meta);
    Ok(pos.min(frame.len())..frame.len())
}

/// An IPv4 address as the flow key holds it: in the first 4 of 16 bytes.
///
/// Built as one 128-bit value so the key's address is written with one 16-byte store.
/// The flow hash and the cache's key compare read the address right after, in 8- and
/// 16-byte loads; written piecewise (4 bytes over the zeroes `reset` left), those loads
/// span two stores and cannot be forwarded from the store buffer, which stalled every
/// packet for as long as the decode itself took.
#[inline(always)]
fn address_v4(address: [u8; 4]) -> [u8; 16] {
    u128::from(u32::from_le_bytes(address)).to_le_bytes()
}

/// An IPv6 address as the flow key holds it, passed through a 128-bit value for the same
/// reason as `address_v4`: one 16-byte store, where a plain array copy was compiled into
/// overlapping 1- and 8-byte stores.
#[inline(always)]
fn address_v6(address: [u8; 16]) -> [u8; 16] {
    u128::from_le_bytes(address).to_le_bytes()
}

/// The Jumbo Payload length in hop-by-hop option bytes (RFC 2675), if the option is there.
fn jumbo_payload_len(mut options: &[u8]) -> Option<u32> {
    while let Some(&kind) = options.first() {
        if kind == OPTION_PAD1 {
            options = options.get(1..)?;
            continue;
        }
        let len = usize::from(*options.get(1)?);
        if kind == OPTION_JUMBO_PAYLOAD && len == 4 {
            return u32_at(options, 2);
        }
        options = options.get(2 + len..)?;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::super::test_frames::*;
    use super::super::{decode, LINKTYPE_ETHERNET, LINKTYPE_RAW};
    use super::*;

    fn raw(frame: &[u8]) -> Result<PacketMeta, Undecodable> {
        raw_orig(frame, frame.len() as u32)
    }

    fn raw_orig(frame: &[u8], orig_len: u32) -> Result<PacketMeta, Undecodable> {
        let mut meta = PacketMeta::default();
        decode(LINKTYPE_RAW, frame, orig_len, &mut meta).map(|()| meta)
    }

    #[test]
    fn ipv4_header_fields() {
        let meta = raw(&cat(&[&IPV4_TCP_HDR, &TCP_SYN_HDR])).unwrap();
        assert_eq!(meta.key.ip_version, 4);
        assert_eq!(meta.key.tos, 0xb8);
        assert_eq!(meta.ttl, 61);
        assert_eq!(meta.key.proto, 6);
        assert_eq!(
            meta.key.src,
            [192, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(
            meta.key.dst,
            [198, 51, 100, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        assert_eq!(meta.octets, 40);
        assert_eq!(meta.fragment, Fragment::None);
    }

    #[test]
    fn ipv4_with_options() {
        let ipv4_opts: [u8; 28] = [
            0x47, // version 4, IHL 7 (28 bytes)
            0x00, // ToS
            0x00, 0x24, // total length 36 = 28 + 8 (UDP)
            0x00, 0x01, // id
            0x40, 0x00, // DF
            0x01, // TTL 1
            0x11, // protocol UDP
            0x00, 0x00, // checksum (not checked)
            10, 0, 0, 1, // source
            224, 0, 0, 9, // destination
            0x94, 0x04, 0x00, 0x00, // option: router alert
            0x01, 0x01, 0x01, 0x00, // NOP NOP NOP EOL
        ];
        let udp: [u8; 8] = [0x02, 0x08, 0x02, 0x08, 0x00, 0x08, 0x00, 0x00]; // RIP 520 -> 520
        let meta = raw(&cat(&[&ipv4_opts, &udp])).unwrap();
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.key.proto),
            (520, 520, 17)
        );
        assert_eq!(meta.octets, 36);
        assert_eq!(meta.ttl, 1);
        assert_eq!(meta.key.dst[..4], [224, 0, 0, 9]);
    }

    #[test]
    fn ipv4_bad_headers() {
        let mut ihl4 = IPV4_TCP_HDR;
        ihl4[0] = 0x44; // IHL 4: below the minimum
        assert_eq!(raw(&ihl4), Err(Undecodable::BadIpHeader));
        let mut short_total = IPV4_TCP_HDR;
        short_total[2..4].copy_from_slice(&[0x00, 0x13]); // total length 19 < 20
        assert_eq!(raw(&short_total), Err(Undecodable::BadIpHeader));
        assert_eq!(raw(&IPV4_TCP_HDR[..19]), Err(Undecodable::TruncatedIp));
    }

    #[test]
    fn ipv4_options_cut_by_snaplen_still_a_flow() {
        let mut ihl15 = IPV4_TCP_HDR;
        ihl15[0] = 0x4f; // IHL 15: 40 bytes of options announced, none captured
        ihl15[2..4].copy_from_slice(&[0x00, 0x60]); // total length 96
        let meta = raw_orig(&ihl15, 96).unwrap();
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.key.proto),
            (0, 0, 6)
        );
        assert_eq!(meta.octets, 96);
    }

    #[test]
    fn snaplen_cut_frame_keeps_ip_length() {
        // A 1500-byte IPv4/TCP packet captured with snaplen 54 (Ethernet + IP + TCP).
        let mut ip = IPV4_TCP_HDR;
        ip[2..4].copy_from_slice(&1500u16.to_be_bytes());
        let frame = cat(&[&ETH_MACS, &ETH_TYPE_IPV4, &ip, &TCP_SYN_HDR]);
        let mut meta = PacketMeta::default();
        decode(LINKTYPE_ETHERNET, &frame, 1514, &mut meta).unwrap();
        assert_eq!(meta.octets, 1500);
        assert_eq!((meta.key.src_port, meta.key.dst_port), (40000, 443));
        assert_eq!(meta.tcp_flags, 0x02);
    }

    #[test]
    fn tso_zero_total_length_uses_wire_length() {
        let mut ip = IPV4_TCP_HDR;
        ip[2..4].copy_from_slice(&[0x00, 0x00]); // total length 0: TSO
        let frame = cat(&[&ETH_MACS, &ETH_TYPE_IPV4, &ip, &TCP_SYN_HDR]);
        let mut meta = PacketMeta::default();
        // 14 Ethernet + 20 IP + 20 TCP captured, 9014 on the wire.
        decode(LINKTYPE_ETHERNET, &frame, 9014, &mut meta).unwrap();
        assert_eq!(meta.octets, 9000);
        assert_eq!((meta.key.src_port, meta.key.dst_port), (40000, 443));
        // orig_len below the captured length (insane file): the captured length counts.
        decode(LINKTYPE_ETHERNET, &frame, 0, &mut meta).unwrap();
        assert_eq!(meta.octets, 40);
    }

    #[test]
    fn ipv4_first_and_later_fragments() {
        let mut first = IPV4_TCP_HDR;
        first[2..4].copy_from_slice(&[0x05, 0xdc]); // total length 1500
        first[4..6].copy_from_slice(&[0xbe, 0xef]); // id 0xbeef
        first[6..8].copy_from_slice(&[0x20, 0x00]); // MF, offset 0
        let meta = raw_orig(&cat(&[&first, &TCP_SYN_HDR]), 1500).unwrap();
        assert_eq!(meta.fragment, Fragment::First { id: 0xbeef });
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.tcp_flags),
            (40000, 443, 0x02)
        );
        assert_eq!(meta.octets, 1500);

        let mut later = first;
        later[2..4].copy_from_slice(&[0x00, 0x3c]); // total length 60
        later[6..8].copy_from_slice(&[0x00, 0xb9]); // MF clear, offset 185 (1480 bytes)
                                                    // The payload of a later fragment is data, even if it looks like a TCP header.
        let meta = raw(&cat(&[&later, &TCP_SYN_HDR, &[0; 20]])).unwrap();
        assert_eq!(
            meta.fragment,
            Fragment::Later {
                id: 0xbeef,
                offset: 1480
            }
        );
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.tcp_flags),
            (0, 0, 0)
        );
        assert_eq!((meta.key.proto, meta.octets), (6, 60));

        let mut middle = later;
        middle[6..8].copy_from_slice(&[0x20, 0xb9]); // MF set, offset 185
        assert_eq!(
            raw(&cat(&[&middle, &[0; 40]])).unwrap().fragment,
            Fragment::Later {
                id: 0xbeef,
                offset: 1480
            }
        );
    }

    #[test]
    fn ipv6_header_fields() {
        let meta = raw(&cat(&[&IPV6_UDP_HDR, &UDP_HDR])).unwrap();
        assert_eq!(meta.key.tos, 0x28); // traffic class
        assert_eq!(meta.ttl, 64);
        assert_eq!(meta.octets, 48);
        assert_eq!(meta.key.proto, 17);
        assert_eq!(raw(&IPV6_UDP_HDR[..39]), Err(Undecodable::TruncatedIp));
    }

    /// IPv6 header with the given next header and payload length, else as IPV6_UDP_HDR.
    fn ipv6_hdr(next: u8, payload_len: u16) -> [u8; 40] {
        let mut h = IPV6_UDP_HDR;
        h[4..6].copy_from_slice(&payload_len.to_be_bytes());
        h[6] = next;
        h
    }

    #[test]
    fn ipv6_hop_by_hop_routing_destination_fragment_then_udp() {
        let hbh: [u8; 8] = [
            43, // next: routing
            0,  // length 0: 8 bytes
            0x05, 0x02, 0x00, 0x00, // router alert option (MLD)
            0x01, 0x00, // PadN, 0 bytes
        ];
        let routing: [u8; 24] = [
            60, // next: destination options
            2,  // length 2: 24 bytes
            0,  // routing type 0
            1,  // segments left 1
            0, 0, 0, 0, // reserved
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99, // address
        ];
        let dst_opts: [u8; 8] = [
            44, // next: fragment
            0,  // length 0: 8 bytes
            0x01, 0x04, 0, 0, 0, 0, // PadN 4
        ];
        let frag: [u8; 8] = [
            17, // next: UDP
            0,  // reserved
            0x00, 0x01, // offset 0, M set
            0x12, 0x34, 0x56, 0x78, // identification
        ];
        let payload_len = (8 + 24 + 8 + 8 + 8) as u16;
        let frame = cat(&[
            &ipv6_hdr(0, payload_len),
            &hbh,
            &routing,
            &dst_opts,
            &frag,
            &UDP_HDR,
        ]);
        let meta = raw(&frame).unwrap();
        assert_eq!(meta.key.proto, 17);
        assert_eq!((meta.key.src_port, meta.key.dst_port), (5353, 53));
        assert_eq!(meta.fragment, Fragment::First { id: 0x1234_5678 });
        assert_eq!(meta.octets, 40 + u32::from(payload_len));
    }

    #[test]
    fn ipv6_later_fragment_has_no_ports() {
        let frag: [u8; 8] = [
            17, // next: UDP
            0,  // reserved
            0x05, 0xa8, // offset 181 (1448 bytes), M clear
            0xca, 0xfe, 0xba, 0xbe, // identification
        ];
        let frame = cat(&[&ipv6_hdr(44, 8 + 8), &frag, &UDP_HDR]);
        let meta = raw(&frame).unwrap();
        assert!(matches!(
            meta.fragment,
            Fragment::Later {
                id: 0xcafe_babe,
                ..
            }
        ));
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.key.proto),
            (0, 0, 17)
        );
        assert_eq!(meta.octets, 56);
    }

    #[test]
    fn ipv6_second_fragment_header_does_not_replace_the_first() {
        let frag1: [u8; 8] = [
            44, // next: another fragment header (forbidden, seen in evasion captures)
            0, 0x00, 0x01, // reserved; offset 0, M set
            0x00, 0x01, 0xaa, 0xaa, // identification 0x1aaaa
        ];
        let frag2: [u8; 8] = [17, 0, 0x00, 0x01, 0x00, 0x01, 0xbb, 0xbb]; // next UDP, id 0x1bbbb
        let meta = raw(&cat(&[&ipv6_hdr(44, 24), &frag1, &frag2, &UDP_HDR])).unwrap();
        assert_eq!(meta.fragment, Fragment::First { id: 0x1aaaa });
        assert_eq!((meta.key.proto, meta.key.src_port), (17, 5353));
    }

    #[test]
    fn ipv6_atomic_fragment_is_whole() {
        let frag: [u8; 8] = [17, 0, 0x00, 0x00, 0, 0, 0, 9]; // offset 0, M clear (RFC 6946)
        let meta = raw(&cat(&[&ipv6_hdr(44, 16), &frag, &UDP_HDR])).unwrap();
        assert_eq!(meta.fragment, Fragment::None);
        assert_eq!((meta.key.src_port, meta.key.proto), (5353, 17));
    }

    #[test]
    fn ipv6_ah_then_tcp() {
        let ah: [u8; 24] = [
            6, // next: TCP
            4, // length 4: (4 + 2) * 4 = 24 bytes
            0, 0, // reserved
            0x00, 0x00, 0x10, 0x01, // SPI
            0x00, 0x00, 0x00, 0x05, // sequence number
            0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa,
            0xaa, // ICV 96 bits
        ];
        let meta = raw(&cat(&[&ipv6_hdr(51, 24 + 20), &ah, &TCP_SYN_HDR])).unwrap();
        assert_eq!(
            (meta.key.proto, meta.key.src_port, meta.key.dst_port),
            (6, 40000, 443)
        );
        assert_eq!(meta.tcp_flags, 0x02);
        assert_eq!(meta.octets, 84);
    }

    #[test]
    fn ipv6_esp_ends_the_walk() {
        let esp: [u8; 16] = [
            0x00, 0x00, 0x10, 0x01, // SPI (would read as ports 0/4097 if taken for UDP)
            0x00, 0x00, 0x00, 0x05, // sequence number
            0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, // encrypted payload
        ];
        let dst_opts: [u8; 8] = [50, 0, 0x01, 0x04, 0, 0, 0, 0]; // next ESP, PadN
        let meta = raw(&cat(&[&ipv6_hdr(60, 24), &dst_opts, &esp])).unwrap();
        assert_eq!(
            (meta.key.proto, meta.key.src_port, meta.key.dst_port),
            (50, 0, 0)
        );
        assert_eq!(meta.octets, 64);
    }

    #[test]
    fn ipv6_no_next_header_and_mobility() {
        let meta = raw(&ipv6_hdr(59, 0)).unwrap();
        assert_eq!((meta.key.proto, meta.octets), (59, 40));
        let mobility: [u8; 8] = [59, 0, 0x05, 0, 0, 0, 0, 0]; // MH type 5
        let meta = raw(&cat(&[&ipv6_hdr(135, 8), &mobility])).unwrap();
        assert_eq!(
            (meta.key.proto, meta.key.src_port, meta.key.dst_port),
            (135, 0, 0)
        );
    }

    #[test]
    fn ipv6_extension_chain_cut_by_snaplen() {
        let hbh: [u8; 8] = [6, 0, 0x01, 0x04, 0, 0, 0, 0]; // next TCP, PadN
                                                           // Whole HBH captured but the TCP header is not: proto is known, ports are not.
        let meta = raw_orig(&cat(&[&ipv6_hdr(0, 28), &hbh]), 68).unwrap();
        assert_eq!((meta.key.proto, meta.key.src_port, meta.octets), (6, 0, 68));
        // Cut inside the hop-by-hop header: its next header byte is still read.
        let meta = raw_orig(&cat(&[&ipv6_hdr(0, 28), &hbh[..2]]), 68).unwrap();
        assert_eq!(meta.key.proto, 6);
        // Cut before it: the walk stops at the header it could not read.
        let meta = raw_orig(&ipv6_hdr(0, 28), 68).unwrap();
        assert_eq!(meta.key.proto, 0);
        // Fragment header cut before its identification.
        let meta = raw_orig(&cat(&[&ipv6_hdr(44, 16), &[17, 0, 0, 1]]), 56).unwrap();
        assert_eq!((meta.key.proto, meta.fragment), (44, Fragment::None));
    }

    #[test]
    fn ipv6_zero_payload_length_jumbo_and_big_tcp() {
        let hbh_jumbo: [u8; 8] = [
            6, // next: TCP
            0, // length 0: 8 bytes
            0xc2, 4, // Jumbo Payload option, 4 bytes
            0x00, 0x01, 0x86, 0xa8, // jumbo payload length 100008 (HBH + TCP + data)
        ];
        let frame = cat(&[&ipv6_hdr(0, 0), &hbh_jumbo, &TCP_SYN_HDR]);
        let meta = raw_orig(&frame, 100_048).unwrap();
        assert_eq!(meta.octets, 100_048);
        assert_eq!((meta.key.proto, meta.key.src_port), (6, 40000));
        // Jumbo option after Pad1 padding is still found.
        let hbh_padded: [u8; 16] = [6, 1, 0, 0, 0, 0xc2, 4, 0, 1, 0x86, 0xa8, 1, 3, 0, 0, 0];
        let meta = raw(&cat(&[&ipv6_hdr(0, 0), &hbh_padded, &TCP_SYN_HDR])).unwrap();
        assert_eq!(meta.octets, 100_048);
        // Linux BIG TCP: payload length 0 and no jumbo option; the wire length counts.
        let meta = raw_orig(&cat(&[&ipv6_hdr(6, 0), &TCP_SYN_HDR]), 70_000).unwrap();
        assert_eq!(meta.octets, 70_000);
        assert_eq!(meta.key.dst_port, 443);
    }

    #[test]
    fn jumbo_option_parser_never_overreads() {
        assert_eq!(jumbo_payload_len(&[]), None);
        assert_eq!(jumbo_payload_len(&[0xc2]), None);
        assert_eq!(jumbo_payload_len(&[0xc2, 4, 0, 0, 1]), None);
        assert_eq!(jumbo_payload_len(&[0x01, 200, 0xc2, 4, 0, 0, 0, 1]), None);
        assert_eq!(jumbo_payload_len(&[0x01, 0, 0xc2, 4, 0, 0, 0, 1]), Some(1));
    }

    #[test]
    fn ipv6_in_ipv4_is_metered_by_the_outer_header() {
        let mut outer = IPV4_TCP_HDR;
        outer[2..4].copy_from_slice(&[0x00, 0x44]); // total length 20 + 40 + 8
        outer[9] = 41; // protocol: IPv6 encapsulation
        let meta = raw(&cat(&[&outer, &IPV6_UDP_HDR, &UDP_HDR])).unwrap();
        assert_eq!((meta.key.ip_version, meta.key.proto), (4, 41));
        assert_eq!((meta.key.src_port, meta.key.dst_port), (0, 0));
        assert_eq!(meta.key.src[..4], IPV4_SRC);
    }
}
