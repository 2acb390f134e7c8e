//! The flow key: the fields whose equality makes two packets one flow.
//!
//! It is the key NetFlow v9 / IPFIX probes commonly use (ingress interface, VLAN,
//! addresses, ports, protocol, ToS), plus the IP version so an IPv4 address never
//! equals an IPv6 one that happens to share bytes. Addresses are kept as 16 bytes
//! (IPv4 in the first four) so the key is `Copy`, fixed size and cheap to hash.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IANA protocol number for ICMP.
pub const PROTO_ICMP: u8 = 1;
/// IANA protocol number for TCP.
pub const PROTO_TCP: u8 = 6;
/// IANA protocol number for UDP.
pub const PROTO_UDP: u8 = 17;
/// IANA protocol number for UDP-Lite.
pub const PROTO_UDPLITE: u8 = 136;
/// IANA protocol number for ICMPv6.
pub const PROTO_ICMPV6: u8 = 58;
/// IANA protocol number for SCTP.
pub const PROTO_SCTP: u8 = 132;

/// What makes packets one flow. ICMP flows carry `src_port` 0 and
/// `dst_port` = type * 256 + code, as NetFlow does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// Source address; IPv4 uses the first 4 bytes, the rest are zero.
    pub src: [u8; 16],
    /// Destination address; IPv4 uses the first 4 bytes, the rest are zero.
    pub dst: [u8; 16],
    /// Ingress interface index (pcapng interface id, or the OS ifindex live).
    pub in_if: u32,
    /// Source transport port (0 when the protocol has none).
    pub src_port: u16,
    /// Destination transport port, or ICMP type * 256 + code.
    pub dst_port: u16,
    /// Outermost 802.1Q VLAN id, 0 when untagged.
    pub vlan: u16,
    /// IP protocol number of the transport (after IPv6 extension headers).
    pub proto: u8,
    /// IPv4 ToS byte / IPv6 traffic class.
    pub tos: u8,
    /// 4 or 6.
    pub ip_version: u8,
}

impl FlowKey {
    /// Source address in its standard form.
    pub fn src_addr(&self) -> IpAddr {
        ip_addr(self.ip_version, &self.src)
    }

    /// Destination address in its standard form.
    pub fn dst_addr(&self) -> IpAddr {
        ip_addr(self.ip_version, &self.dst)
    }

    /// Whether this is an ICMP or ICMPv6 flow (ports hold type and code).
    pub fn is_icmp(&self) -> bool {
        (self.ip_version == 4 && self.proto == PROTO_ICMP)
            || (self.ip_version == 6 && self.proto == PROTO_ICMPV6)
    }

    /// ICMP type, 0 for other protocols.
    pub fn icmp_type(&self) -> u8 {
        if self.is_icmp() {
            (self.dst_port >> 8) as u8
        } else {
            0
        }
    }

    /// ICMP code, 0 for other protocols.
    pub fn icmp_code(&self) -> u8 {
        if self.is_icmp() {
            self.dst_port as u8
        } else {
            0
        }
    }

    /// The key of the other direction of this flow: addresses and ports swapped; for
    /// ICMP, the request and reply types of the query/response pairs swapped (echo 8/0,
    /// timestamp 13/14, information 15/16, address mask 17/18; ICMPv6 echo 128/129).
    /// `None` for ICMP messages that have no reply (errors, redirects, ...): they never
    /// pair into a biflow. Interface, VLAN, protocol and ToS stay as they are.
    pub fn reversed(&self) -> Option<FlowKey> {
        let mut r = *self;
        r.src = self.dst;
        r.dst = self.src;
        if self.is_icmp() {
            let (t, code) = (self.icmp_type(), self.icmp_code());
            let reply: u8 = match (self.ip_version, t) {
                (4, 8) => 0,
                (4, 0) => 8,
                (4, 13) => 14,
                (4, 14) => 13,
                (4, 15) => 16,
                (4, 16) => 15,
                (4, 17) => 18,
                (4, 18) => 17,
                (6, 128) => 129,
                (6, 129) => 128,
                _ => return None,
            };
            r.dst_port = u16::from(reply) << 8 | u16::from(code);
        } else {
            r.src_port = self.dst_port;
            r.dst_port = self.src_port;
        }
        Some(r)
    }

    /// Sets the source address from an `IpAddr` (also sets `ip_version`).
    pub fn set_addrs(&mut self, src: IpAddr, dst: IpAddr) {
        self.src = [0; 16];
        self.dst = [0; 16];
        match (src, dst) {
            (IpAddr::V4(s), IpAddr::V4(d)) => {
                self.ip_version = 4;
                self.src[..4].copy_from_slice(&s.octets());
                self.dst[..4].copy_from_slice(&d.octets());
            }
            (s, d) => {
                self.ip_version = 6;
                self.src = v6(s).octets();
                self.dst = v6(d).octets();
            }
        }
    }
}

fn v6(a: IpAddr) -> Ipv6Addr {
    match a {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

/// An address kept as 16 bytes (IPv4 in the first four) in its standard form.
pub(crate) fn ip_addr(version: u8, bytes: &[u8; 16]) -> IpAddr {
    if version == 4 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(*bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icmp_type_and_code_come_from_dst_port() {
        let mut k = FlowKey {
            proto: PROTO_ICMP,
            ip_version: 4,
            dst_port: 3 * 256 + 1,
            ..Default::default()
        };
        assert_eq!((k.icmp_type(), k.icmp_code()), (3, 1));
        k.proto = PROTO_UDP;
        assert_eq!((k.icmp_type(), k.icmp_code()), (0, 0));
    }

    #[test]
    fn reversed_swaps_ends_and_pairs_icmp_queries_only() {
        let mut k = FlowKey::default();
        k.set_addrs("198.18.0.1".parse().unwrap(), "198.18.0.2".parse().unwrap());
        k.proto = PROTO_TCP;
        k.src_port = 40000;
        k.dst_port = 443;
        let r = k.reversed().unwrap();
        assert_eq!(r.src_addr().to_string(), "198.18.0.2");
        assert_eq!((r.src_port, r.dst_port), (443, 40000));
        assert_eq!(r.reversed(), Some(k));
        k.proto = PROTO_ICMP;
        k.src_port = 0;
        k.dst_port = 8 << 8; // echo request
        assert_eq!(k.reversed().unwrap().dst_port, 0); // echo reply
        k.dst_port = 3 << 8 | 1; // host unreachable: no reply
        assert_eq!(k.reversed(), None);
        k.ip_version = 6;
        k.proto = PROTO_ICMPV6;
        k.dst_port = 128 << 8;
        assert_eq!(k.reversed().unwrap().dst_port, 129 << 8);
    }

    #[test]
    fn addresses_round_trip() {
        let mut k = FlowKey::default();
        k.set_addrs("198.18.0.1".parse().unwrap(), "198.18.0.2".parse().unwrap());
        assert_eq!(k.ip_version, 4);
        assert_eq!(k.src_addr().to_string(), "198.18.0.1");
        k.set_addrs(
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
        );
        assert_eq!(k.dst_addr().to_string(), "2001:db8::2");
    }
}
