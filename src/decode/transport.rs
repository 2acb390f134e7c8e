//! The transport layer: ports, TCP flags, ICMP type and code.
//!
//! Called with the transport header's bytes as far as they were captured and as far as
//! the IP length allows. Reads are all-or-nothing per field: ports need 4 bytes, TCP
//! flags 14, ICMP type and code 2; a field that was cut stays 0 and the flow is kept.
//! Protocols not listed here (GRE, ESP, IP-in-IP, OSPF, ...) are flows without ports.

use super::read::{array_at, u16_at, u8_at};
use super::PacketMeta;
use crate::flow::key::{PROTO_ICMP, PROTO_ICMPV6, PROTO_SCTP, PROTO_TCP, PROTO_UDP};

/// DCCP (RFC 4340): source and destination ports first, like UDP.
const PROTO_DCCP: u8 = 33;
/// UDP-Lite (RFC 3828): UDP's port layout.
const PROTO_UDP_LITE: u8 = 136;

/// TCP header byte holding CWR ECE URG ACK PSH RST SYN FIN (NS, in byte 12, is left out:
/// NetFlow's tcpControlBits octet carries these eight).
const TCP_FLAGS_OFFSET: usize = 13;

/// Fills ports / ICMP type-code and TCP flags from `header` for `meta.key.proto`.
#[inline]
pub(super) fn transport(header: &[u8], meta: &mut PacketMeta) {
    let key = &mut meta.key;
    match key.proto {
        PROTO_TCP | PROTO_UDP | PROTO_SCTP | PROTO_DCCP | PROTO_UDP_LITE => {
            if let Some([s0, s1, d0, d1]) = array_at::<4>(header, 0) {
                key.src_port = u16::from_be_bytes([s0, s1]);
                key.dst_port = u16::from_be_bytes([d0, d1]);
            }
            if key.proto == PROTO_TCP {
                meta.tcp_flags = u8_at(header, TCP_FLAGS_OFFSET).unwrap_or(0);
            }
        }
        PROTO_ICMP if key.ip_version == 4 => icmp(header, meta),
        PROTO_ICMPV6 if key.ip_version == 6 => icmp(header, meta),
        _ => {}
    }
}

/// ICMP and ICMPv6: type (1), code (1); the flow's destination port is type * 256 + code.
fn icmp(header: &[u8], meta: &mut PacketMeta) {
    if let Some(type_code) = u16_at(header, 0) {
        meta.key.dst_port = type_code;
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_frames::*;
    use super::super::{decode, Undecodable, LINKTYPE_RAW};
    use super::*;

    fn raw(frame: &[u8]) -> Result<PacketMeta, Undecodable> {
        let mut meta = PacketMeta::default();
        decode(LINKTYPE_RAW, frame, frame.len() as u32, &mut meta).map(|()| meta)
    }

    /// IPV4_TCP_HDR carrying `proto` with a `len`-byte payload.
    fn ipv4(proto: u8, len: usize) -> [u8; 20] {
        let mut h = IPV4_TCP_HDR;
        h[2..4].copy_from_slice(&((20 + len) as u16).to_be_bytes());
        h[9] = proto;
        h
    }

    #[test]
    fn tcp_ports_and_all_eight_flags() {
        let tcp: [u8; 20] = [
            0x01, 0xbb, // source port 443
            0xd4, 0x31, // destination port 54321
            0, 0, 0, 1, // sequence number
            0, 0, 0, 2,    // acknowledgment number
            0x51, // data offset 5, reserved, NS set (must not show)
            0xff, // CWR ECE URG ACK PSH RST SYN FIN
            0xff, 0xff, // window
            0, 0, // checksum
            0, 0, // urgent pointer
        ];
        let meta = raw(&cat(&[&ipv4(6, 20), &tcp])).unwrap();
        assert_eq!((meta.key.src_port, meta.key.dst_port), (443, 54321));
        assert_eq!(meta.tcp_flags, 0xff);
        let meta = raw(&cat(&[&ipv4(6, 20), &TCP_SYN_HDR])).unwrap();
        assert_eq!(meta.tcp_flags, 0x02); // SYN only
    }

    #[test]
    fn truncated_tcp_header_keeps_the_flow() {
        // Ports captured, flags byte not.
        let meta = raw(&cat(&[&ipv4(6, 20), &TCP_SYN_HDR[..13]])).unwrap();
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.tcp_flags),
            (40000, 443, 0)
        );
        assert_eq!(meta.octets, 40);
        // Only the source port captured: both ports 0, no half key.
        let meta = raw(&cat(&[&ipv4(6, 20), &TCP_SYN_HDR[..3]])).unwrap();
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.key.proto),
            (0, 0, 6)
        );
        // No transport byte at all.
        let meta = raw(&ipv4(6, 20)).unwrap();
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.key.proto),
            (0, 0, 6)
        );
    }

    #[test]
    fn transport_header_beyond_ip_length_is_ignored() {
        // IP says no payload; the bytes after it are link padding, not a TCP header.
        let meta = raw(&cat(&[&ipv4(6, 0), &TCP_SYN_HDR])).unwrap();
        assert_eq!((meta.key.src_port, meta.tcp_flags, meta.octets), (0, 0, 20));
    }

    #[test]
    fn udp() {
        let meta = raw(&cat(&[&ipv4(17, 8), &UDP_HDR])).unwrap();
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.key.proto),
            (5353, 53, 17)
        );
        assert_eq!(meta.tcp_flags, 0);
    }

    #[test]
    fn sctp_dccp_udp_lite_ports() {
        let sctp: [u8; 12] = [
            0x0b, 0x59, // source port 2905 (M3UA)
            0x0b, 0x59, // destination port 2905
            0x00, 0x00, 0x00, 0x01, // verification tag
            0x00, 0x00, 0x00, 0x00, // checksum
        ];
        let meta = raw(&cat(&[&ipv4(132, 12), &sctp])).unwrap();
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.key.proto),
            (2905, 2905, 132)
        );
        for proto in [33, 136] {
            // DCCP and UDP-Lite put their ports where UDP does.
            let meta = raw(&cat(&[&ipv4(proto, 12), &sctp])).unwrap();
            assert_eq!(
                (meta.key.src_port, meta.key.dst_port, meta.key.proto),
                (2905, 2905, proto)
            );
        }
    }

    #[test]
    fn icmp_type_and_code() {
        let unreachable: [u8; 8] = [
            3, // type: destination unreachable
            1, // code: host unreachable
            0x00, 0x00, // checksum
            0, 0, 0, 0, // unused
        ];
        let meta = raw(&cat(&[&ipv4(1, 8), &unreachable])).unwrap();
        assert_eq!((meta.key.src_port, meta.key.dst_port), (0, 3 * 256 + 1));
        assert_eq!((meta.key.icmp_type(), meta.key.icmp_code()), (3, 1));
        // Only the type captured: nothing is guessed.
        let meta = raw(&cat(&[&ipv4(1, 8), &unreachable[..1]])).unwrap();
        assert_eq!(meta.key.dst_port, 0);
    }

    #[test]
    fn icmpv6_type_and_code() {
        let echo: [u8; 8] = [
            128, // type: echo request
            0,   // code
            0x00, 0x00, // checksum
            0x00, 0x01, 0x00, 0x01, // identifier, sequence
        ];
        let mut ip6 = IPV6_UDP_HDR;
        ip6[6] = 58; // next header: ICMPv6
        let meta = raw(&cat(&[&ip6, &echo])).unwrap();
        assert_eq!(
            (meta.key.src_port, meta.key.dst_port, meta.key.proto),
            (0, 128 * 256, 58)
        );
        assert_eq!(meta.key.icmp_type(), 128);
        // ICMP (1) inside IPv6 is not ICMPv6: no type/code port.
        ip6[6] = 1;
        assert_eq!(raw(&cat(&[&ip6, &echo])).unwrap().key.dst_port, 0);
    }

    #[test]
    fn other_protocols_have_no_ports() {
        for proto in [47u8, 50, 4, 41, 89, 2] {
            // GRE, ESP, IPIP, IPv6-in-IPv4, OSPF, IGMP
            let meta = raw(&cat(&[&ipv4(proto, 20), &TCP_SYN_HDR])).unwrap();
            assert_eq!(
                (meta.key.src_port, meta.key.dst_port, meta.tcp_flags),
                (0, 0, 0)
            );
            assert_eq!(meta.key.proto, proto);
        }
    }
}
