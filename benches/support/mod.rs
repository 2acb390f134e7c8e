//! Shared inputs of the criterion benches: synthetic flow keys, frames per link type, and
//! a reader of the process's memory counters.
//!
//! Everything is deterministic (the generator's SplitMix64 stream), so two runs measure
//! the same work. Kept in a subdirectory so cargo does not take it for a bench target.

#![allow(dead_code)]

use flowprobe::decode::PacketMeta;
use flowprobe::flow::key::{PROTO_ICMP, PROTO_ICMPV6, PROTO_TCP, PROTO_UDP};
use flowprobe::generate::{build_frame, Conversation, GenPacket, GenProto, Rng};
use flowprobe::time::Timestamp;

/// Capture start used by every bench.
pub const T0: Timestamp = Timestamp(1_700_000_000_000_000_000);

/// The decoded packet of flow number `i`: a mix like the generator's (60% TCP, 30% UDP,
/// 10% ICMP; 30% IPv6; 20% on a VLAN), with distinct 5-tuples for distinct `i`.
/// Computed from `i`, so a bench needs no table of keys besides the cache's own.
#[inline]
pub fn flow_meta(i: u32, meta: &mut PacketMeta) {
    let mix = i.wrapping_mul(0x9e37_79b9) >> 24; // 0..255, spread over i
    let ipv6 = mix % 10 < 3;
    let proto = match mix % 10 {
        0..=5 => PROTO_TCP,
        6..=8 => PROTO_UDP,
        _ if ipv6 => PROTO_ICMPV6,
        _ => PROTO_ICMP,
    };
    let k = &mut meta.key;
    *k = Default::default();
    if ipv6 {
        k.src[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        k.src[12..].copy_from_slice(&i.to_be_bytes());
        k.dst[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
        k.dst[15] = 0x53;
        k.ip_version = 6;
    } else {
        // The decoder's layout: the IPv4 address in the first four bytes.
        k.src[..4].copy_from_slice(&(0xc612_0000u32 | (i >> 8)).to_be_bytes());
        k.dst[..4].copy_from_slice(&[198, 19, 0, (i & 0xff) as u8]);
        k.ip_version = 4;
    }
    k.proto = proto;
    if proto == PROTO_ICMP || proto == PROTO_ICMPV6 {
        k.dst_port = 8 << 8;
    } else {
        k.src_port = 1024 + (i % 60_000) as u16;
        k.dst_port = [443, 80, 53, 123][(mix % 4) as usize];
    }
    k.vlan = if mix.is_multiple_of(5) { 100 } else { 0 };
    meta.octets = 40 + (mix * 5);
    meta.tcp_flags = if proto == PROTO_TCP { 0x18 } else { 0 };
    meta.ttl = 64;
}

/// Which frame shape to build.
#[derive(Clone, Copy, Debug)]
pub enum Shape {
    /// Ethernet II, IPv4, TCP.
    EthernetIpv4Tcp,
    /// Ethernet II, one 802.1Q tag, IPv4, UDP.
    VlanIpv4Udp,
    /// Ethernet II, IPv6, TCP.
    EthernetIpv6Tcp,
    /// Linux cooked (SLL, 16-byte header), IPv4, TCP.
    SllIpv4Tcp,
    /// Raw IP (LINKTYPE_RAW), IPv4, TCP.
    RawIpv4Tcp,
}

/// `n` frames of one shape, each of a different conversation, as `(link type, bytes)`.
/// The payloads are short (IP length 60..=124), as most packets on a busy link are
/// either ACKs or carry data whose bytes the decoder never reads.
pub fn frames(shape: Shape, n: usize) -> (u32, Vec<Vec<u8>>) {
    let mut rng = Rng::new(7);
    let mut out = Vec::with_capacity(n);
    let mut link = flowprobe::decode::LINKTYPE_ETHERNET;
    for i in 0..n as u32 {
        let (ipv6, proto, vlan) = match shape {
            Shape::EthernetIpv4Tcp | Shape::SllIpv4Tcp | Shape::RawIpv4Tcp => {
                (false, GenProto::Tcp, 0)
            }
            Shape::VlanIpv4Udp => (false, GenProto::Udp, 100),
            Shape::EthernetIpv6Tcp => (true, GenProto::Tcp, 0),
        };
        let c = Conversation {
            ipv6,
            client: i,
            server: 100_000 + (i % 977),
            client_port: 1024 + (i % 60_000) as u16,
            server_port: 443,
            proto,
            vlan,
            tos: 0,
        };
        let header = if ipv6 { 40 } else { 20 };
        let l4 = if proto == GenProto::Tcp { 20 } else { 8 };
        let p = GenPacket {
            ts: T0,
            conversation: i,
            forward: rng.below(2) == 0,
            ip_len: header + l4 + rng.below(64) as u16,
            tcp_flags: 0x10,
        };
        let mut frame = Vec::with_capacity(160);
        build_frame(&c, &p, &mut frame);
        let frame = match shape {
            Shape::SllIpv4Tcp => {
                link = flowprobe::decode::LINKTYPE_LINUX_SLL;
                let mut sll = vec![
                    0x00, 0x00, // packet type: to us
                    0x00, 0x01, // ARPHRD_ETHER
                    0x00, 0x06, // address length 6
                ];
                sll.extend_from_slice(&frame[6..12]); // source MAC
                sll.extend_from_slice(&[0, 0]); // address padding to 8 bytes
                sll.extend_from_slice(&[0x08, 0x00]); // protocol IPv4
                sll.extend_from_slice(&frame[14..]);
                sll
            }
            Shape::RawIpv4Tcp => {
                link = flowprobe::decode::LINKTYPE_RAW;
                frame[14..].to_vec()
            }
            _ => frame,
        };
        out.push(frame);
    }
    (link, out)
}

/// A value from `/proc/self/status` in kB (`VmRSS`, `VmHWM`), 0 where unreadable.
pub fn proc_status_kb(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field) && l[field.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}
