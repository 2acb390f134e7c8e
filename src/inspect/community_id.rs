//! Community ID v1 of a flow key (Corelight's community-id-spec, README "Pseudo code" and
//! "Technical details"; the reference implementation is pycommunityid).
//!
//! The ID is `"1:"` followed by the base64 (RFC 4648 section 4, with padding) of a SHA-1
//! digest over, in this order:
//! - the seed, 2 bytes in network order (`--community-id-seed`, 0 by default);
//! - the first endpoint's address, then the second's (4 bytes each for IPv4, 16 for IPv6);
//! - the IP protocol number (1 byte) and a zero pad byte;
//! - the first endpoint's port, then the second's (2 bytes each, network order), for TCP
//!   (6), UDP (17), SCTP (132) and the ICMPs (below) only. Every other protocol is hashed
//!   without ports, as the spec's "other IP-borne protocols" are: that includes UDP-Lite
//!   (136) and DCCP (33), whose ports flowprobe's key does carry but which the spec does
//!   not list (pycommunityid's `PORT_PROTOS` is {1, 6, 17, 58, 132}).
//!
//! The first endpoint is the one with the smaller address (compared as network-order
//! bytes) or, when the addresses are equal, the smaller port: both directions of a
//! connection get the same ID.
//!
//! ICMP (protocol 1 over IPv4) and ICMPv6 (58 over IPv6) use the type and code as ports,
//! the way Zeek maps them (the spec points to Zeek's `ICMP4_counterpart` and pycommunityid's
//! `icmp.py` / `icmp6.py`): a type that has a counterpart (a request and its reply) is
//! hashed as the port pair (type, counterpart type), with the endpoints ordered as above,
//! so a request and its reply share an ID; any other type is one-way: (type, code) in the
//! packet's own direction, never reordered. The counterparts ([`icmp_counterpart`]):
//! - ICMP: echo 8 and echo reply 0, router solicitation 10 and advertisement 9,
//!   timestamp 13 and 14, information 15 and 16, address mask 17 and 18;
//! - ICMPv6: echo 128 and 129, MLD query 130 and report 131, router solicitation 133 and
//!   advertisement 134, neighbor solicitation 135 and advertisement 136, node information
//!   (who-are-you) query 139 and reply 140, home agent address discovery 144 and 145.
//!
//! What the key cannot tell, and so is left out:
//! - protocol 1 over IPv6 or 58 over IPv4 (no real stack sends them): flowprobe's key has no
//!   type and code there ([`FlowKey::is_icmp`] is false), so they are hashed without ports,
//!   as Wireshark's implementation does (it reads ICMP's type and code over IPv4 only, and
//!   ICMPv6's over IPv6 only); pycommunityid would map their type and code;
//! - an ICMP header cut before its type, a TCP / UDP / SCTP header cut before its ports, or
//!   a later fragment whose first fragment was not seen: the key holds 0 there, and 0 is
//!   hashed (ICMP type 0 is an echo reply);
//! - tunnels, VLANs and the other key fields (interface, ToS) are not part of the ID (the
//!   spec's v1 leaves nesting and encapsulation out): the ID is that of the packet the key
//!   was made from, the innermost one when flowprobe decapsulates.
//!
//! The input is a key, not payload: there is nothing untrusted to parse, and nothing here
//! can panic. [`community_id_bytes`] allocates nothing (the exporter's path: a
//! [`CommunityId`] in place); [`community_id`] returns a string (30 bytes).

use sha1::{Digest as _, Sha1};

use crate::flow::key::{FlowKey, PROTO_SCTP, PROTO_TCP, PROTO_UDP};

/// The version prefix of every v1 ID.
const VERSION_PREFIX: &str = "1:";

/// Length of an ID: the prefix and the base64 of a 20-byte digest (28 characters).
pub const ID_LEN: usize = 2 + 28;

/// The Community ID v1 of `key` with `seed`: "1:" + base64 of SHA-1 over seed (2 bytes,
/// network order), the ordered addresses, protocol, a zero pad byte, and the ordered ports
/// (ICMP/ICMPv6 type and code mapped as the spec's table says). None when the key has no
/// addresses (ip_version not 4 or 6).
pub fn community_id(key: &FlowKey, seed: u16) -> Option<String> {
    community_id_bytes(key, seed).map(|id| id.as_str().to_owned())
}

/// A Community ID held in place: its [`ID_LEN`] ASCII bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommunityId([u8; ID_LEN]);

impl CommunityId {
    /// The ID as text ("1:" and base64: always ASCII, so never empty).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// [`community_id`], without allocating.
pub fn community_id_bytes(key: &FlowKey, seed: u16) -> Option<CommunityId> {
    let addr_len = match key.ip_version {
        4 => 4,
        6 => 16,
        _ => return None,
    };
    let (src, dst) = (key.src.get(..addr_len)?, key.dst.get(..addr_len)?);
    let (ports, one_way) = port_equivalents(key);

    // Endpoint order: the smaller address first, and when the addresses are equal the
    // smaller port (with equal addresses and equal or no ports, either order is the same
    // bytes). One-way ICMP messages keep the packet's direction.
    let in_order =
        one_way || src < dst || (src == dst && ports.is_some_and(|(sport, dport)| sport < dport));
    let (first, second, ports) = if in_order {
        (src, dst, ports)
    } else {
        (dst, src, ports.map(|(sport, dport)| (dport, sport)))
    };

    let mut sha = Sha1::new();
    sha.update(seed.to_be_bytes());
    sha.update(first);
    sha.update(second);
    sha.update([key.proto, 0]);
    if let Some((sport, dport)) = ports {
        sha.update(sport.to_be_bytes());
        sha.update(dport.to_be_bytes());
    }
    let digest = sha.finalize();

    let mut id = [0u8; ID_LEN];
    id[..VERSION_PREFIX.len()].copy_from_slice(VERSION_PREFIX.as_bytes());
    base64_encode(&digest, &mut id[VERSION_PREFIX.len()..]);
    Some(CommunityId(id))
}

/// The ports the spec hashes for `key`, in the packet's direction (`None`: a protocol
/// hashed without ports), and whether the flow is one-way (an ICMP message without a
/// counterpart: no endpoint reordering).
fn port_equivalents(key: &FlowKey) -> (Option<(u16, u16)>, bool) {
    if key.is_icmp() {
        let (icmp_type, code) = (key.icmp_type(), key.icmp_code());
        return match icmp_counterpart(key.ip_version, icmp_type) {
            Some(other) => (Some((icmp_type.into(), other.into())), false),
            None => (Some((icmp_type.into(), code.into())), true),
        };
    }
    match key.proto {
        PROTO_TCP | PROTO_UDP | PROTO_SCTP => (Some((key.src_port, key.dst_port)), false),
        _ => (None, false),
    }
}

/// The type of the message that answers (or is answered by) ICMP type `icmp_type` over IP
/// version `ip_version` (4: ICMP, 6: ICMPv6), as the spec's Zeek-derived table pairs them;
/// `None` for a one-way type.
pub fn icmp_counterpart(ip_version: u8, icmp_type: u8) -> Option<u8> {
    let other = match (ip_version, icmp_type) {
        // ICMP (RFC 792, RFC 950, RFC 1256)
        (4, 8) => 0,   // echo request -> echo reply
        (4, 0) => 8,   // echo reply -> echo request
        (4, 13) => 14, // timestamp -> timestamp reply
        (4, 14) => 13,
        (4, 15) => 16, // information request -> information reply
        (4, 16) => 15,
        (4, 10) => 9, // router solicitation -> router advertisement
        (4, 9) => 10,
        (4, 17) => 18, // address mask request -> address mask reply
        (4, 18) => 17,
        // ICMPv6 (RFC 4443, RFC 2710, RFC 4861, RFC 4620, RFC 6275)
        (6, 128) => 129, // echo request -> echo reply
        (6, 129) => 128,
        (6, 130) => 131, // MLD listener query -> listener report
        (6, 131) => 130,
        (6, 133) => 134, // router solicitation -> router advertisement
        (6, 134) => 133,
        (6, 135) => 136, // neighbor solicitation -> neighbor advertisement
        (6, 136) => 135,
        (6, 139) => 140, // node information query ("who are you") -> reply
        (6, 140) => 139,
        (6, 144) => 145, // home agent address discovery request -> reply
        (6, 145) => 144,
        _ => return None,
    };
    Some(other)
}

/// The base64 alphabet of RFC 4648 section 4 (not the URL-safe one of section 5).
const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Writes the base64 of `bytes` into `out` (RFC 4648 section 4, `=` padding to a multiple
/// of 4 characters), as far as `out` has room (it needs 4 bytes for every 3 started).
fn base64_encode(bytes: &[u8], out: &mut [u8]) {
    let symbol = |group: u32, shift: u32| BASE64[((group >> shift) & 0x3f) as usize];
    for (chunk, to) in bytes.chunks(3).zip(out.chunks_exact_mut(4)) {
        let (group, len) = match *chunk {
            [a, b, c] => (u32::from(a) << 16 | u32::from(b) << 8 | u32::from(c), 3),
            [a, b] => (u32::from(a) << 16 | u32::from(b) << 8, 2),
            [a] => (u32::from(a) << 16, 1),
            _ => continue,
        };
        to[0] = symbol(group, 18);
        to[1] = symbol(group, 12);
        to[2] = if len >= 2 { symbol(group, 6) } else { b'=' };
        to[3] = if len == 3 { symbol(group, 0) } else { b'=' };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::{PROTO_ICMP, PROTO_ICMPV6, PROTO_UDPLITE};
    use proptest::prelude::*;
    use std::net::IpAddr;

    fn b64(bytes: &[u8]) -> String {
        let mut out = vec![0u8; bytes.len().div_ceil(3) * 4];
        base64_encode(bytes, &mut out);
        String::from_utf8(out).unwrap()
    }

    /// RFC 4648 section 10, the base64 test vectors.
    #[test]
    fn base64_rfc4648_section_10() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(b64(input.as_bytes()), output, "{input:?}");
        }
    }

    /// Every 6-bit value, both characters past `Z` and `9` included: 0x00 0x10 0x83 is
    /// `ABCD`, and 0xfb 0xff 0xbf is `+/+/` (62 and 63).
    #[test]
    fn base64_alphabet_ends() {
        assert_eq!(b64(&[0x00, 0x10, 0x83]), "ABCD");
        assert_eq!(b64(&[0xfb, 0xff, 0xbf]), "+/+/");
        assert_eq!(b64(&[0xff]), "/w==");
        assert_eq!(b64(&[0xff, 0xff]), "//8=");
    }

    fn key(proto: u8, src: &str, dst: &str, sport: u16, dport: u16) -> FlowKey {
        let mut k = FlowKey {
            proto,
            src_port: sport,
            dst_port: dport,
            ..Default::default()
        };
        k.set_addrs(src.parse().unwrap(), dst.parse().unwrap());
        k
    }

    /// An ICMP / ICMPv6 key as the decoder makes it: src_port 0, dst_port type * 256 + code.
    fn icmp(proto: u8, src: &str, dst: &str, icmp_type: u8, code: u8) -> FlowKey {
        key(
            proto,
            src,
            dst,
            0,
            u16::from(icmp_type) << 8 | u16::from(code),
        )
    }

    const V6_A: &str = "fe80:0001:0203:0405:0607:0809:0A0B:0C0D";
    const V6_B: &str = "fe80:1011:1213:1415:1617:1819:1A1B:1C1D";

    /// The spec's baseline tables (community-id-spec, baseline/README.md, commit
    /// c4ec2bc40d65ddbcbdd642582bf5609797a80772): (key, default seed, seed 1). ICMP rows
    /// there give type and code as "Src port" and "Dst port".
    fn spec_examples() -> Vec<(FlowKey, &'static str, &'static str)> {
        let (tcp, udp, sctp) = (
            "1:wCb3OG7yAFWelaUydu0D+125CLM=",
            "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg=",
            "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8=",
        );
        let (tcp1, udp1, sctp1) = (
            "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=",
            "1:OShq+iKDAMVouh/4bMxB9Sz4amw=",
            "1:uitchpn5MMGAQKBJh7bIr/bAr7s=",
        );
        let (echo, echo1) = (
            "1:crodRHL2FEsHjbv3UkRrfbs4bZ0=",
            "1:9pr4ZGTICiuZoIh90RRYE2RyXpU=",
        );
        let (echo6, echo61) = (
            "1:0bf7hyMJUwt3fMED7z8LIfRpBeo=",
            "1:IO27GQzPuCtNnwFvjWALMHu5tJE=",
        );
        let (rsvp, rsvp1) = (
            "1:ikv3kmf89luf73WPz1jOs49S768=",
            "1:/buhqeOmaRCopOZFy9HnoJd5XW8=",
        );
        let (rsvp6, rsvp61) = (
            "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0=",
            "1:j6EyyfBzL4vWKHFXgUqb5Az3OxM=",
        );
        vec![
            (key(6, "1.2.3.4", "5.6.7.8", 1122, 3344), tcp, tcp1),
            (key(6, "5.6.7.8", "1.2.3.4", 3344, 1122), tcp, tcp1),
            (key(17, "1.2.3.4", "5.6.7.8", 1122, 3344), udp, udp1),
            (key(17, "5.6.7.8", "1.2.3.4", 3344, 1122), udp, udp1),
            (key(132, "1.2.3.4", "5.6.7.8", 1122, 3344), sctp, sctp1),
            (key(132, "5.6.7.8", "1.2.3.4", 3344, 1122), sctp, sctp1),
            (icmp(1, "1.2.3.4", "5.6.7.8", 8, 0), echo, echo1),
            (icmp(1, "5.6.7.8", "1.2.3.4", 0, 0), echo, echo1),
            (
                icmp(1, "1.2.3.4", "5.6.7.8", 11, 0),
                "1:f/YiSyWqczrTgfUCZlBUnvHRcPk=",
                "1:1DD7cWGC/Yg91YGsQeni8du3pIA=",
            ),
            (icmp(58, V6_A, V6_B, 128, 0), echo6, echo61),
            (icmp(58, V6_B, V6_A, 129, 0), echo6, echo61),
            (
                icmp(58, V6_A, V6_B, 146, 0),
                "1:fYC8+pz24E+EhANP1EZhpX0Dw10=",
                "1:Cv4IKJe56BNkF0MBW2YxQ3Nwc3s=",
            ),
            (key(46, "1.2.3.4", "5.6.7.8", 0, 0), rsvp, rsvp1),
            (key(46, "5.6.7.8", "1.2.3.4", 0, 0), rsvp, rsvp1),
            (key(46, V6_A, V6_B, 0, 0), rsvp6, rsvp61),
            (key(46, V6_B, V6_A, 0, 0), rsvp6, rsvp61),
        ]
    }

    #[test]
    fn spec_baseline_tables_default_seed_and_seed_1() {
        for (k, deflt, seed1) in spec_examples() {
            assert_eq!(community_id(&k, 0).as_deref(), Some(deflt), "{k:?}");
            assert_eq!(community_id(&k, 1).as_deref(), Some(seed1), "{k:?} seed 1");
        }
    }

    /// The spec README's example ID, and its ordering example: 10.0.0.1:1234 ->
    /// 127.0.0.1:80 and the reverse give the same ID. The README's "1:hO+sN4H+..." is the
    /// ICMPv6 router solicitation of its baseline data (fe80::200:86ff:fe05:80da ->
    /// ff02::2, type 133).
    #[test]
    fn spec_readme_examples() {
        let k = icmp(58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 0);
        assert_eq!(
            community_id(&k, 0).as_deref(),
            Some("1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=")
        );
        let out = key(6, "10.0.0.1", "127.0.0.1", 1234, 80);
        let back = key(6, "127.0.0.1", "10.0.0.1", 80, 1234);
        assert_eq!(community_id(&out, 0), community_id(&back, 0));
        assert!(community_id(&out, 0).is_some());
    }

    #[test]
    fn no_addresses_no_id() {
        let mut k = key(6, "1.2.3.4", "5.6.7.8", 1, 2);
        k.ip_version = 0;
        assert_eq!(community_id(&k, 0), None);
        k.ip_version = 5;
        assert_eq!(community_id(&k, 0), None);
        assert_eq!(community_id(&FlowKey::default(), 0), None);
    }

    /// The hashed bytes themselves, for a TCP key whose endpoints need swapping:
    /// seed 00 05, 1.2.3.4, 5.6.7.8, proto 6, pad 0, ports 1122 (0x0462), 3344 (0x0d10).
    #[test]
    fn hashed_bytes_layout() {
        let k = key(6, "5.6.7.8", "1.2.3.4", 3344, 1122);
        let input: [u8; 16] = [
            0x00, 0x05, // seed 5
            1, 2, 3, 4, // smaller address first
            5, 6, 7, 8, //
            6, 0, // protocol, pad
            0x04, 0x62, // its port 1122
            0x0d, 0x10, // the other port 3344
        ];
        let expected = format!("1:{}", b64(&Sha1::digest(input)));
        assert_eq!(community_id(&k, 5), Some(expected));
        // Without ports (RSVP): 12 bytes, the protocol byte 46.
        let k = key(46, "5.6.7.8", "1.2.3.4", 0, 0);
        let mut input46 = input;
        input46[10] = 46;
        let expected = format!("1:{}", b64(&Sha1::digest(&input46[..12])));
        assert_eq!(community_id(&k, 5), Some(expected));
    }

    /// Equal addresses: the ports decide (both directions share the ID), and the order of
    /// equal ports does not matter.
    #[test]
    fn equal_addresses_ordered_by_port() {
        let a = key(17, "10.0.0.1", "10.0.0.1", 5000, 53);
        let b = key(17, "10.0.0.1", "10.0.0.1", 53, 5000);
        assert_eq!(community_id(&a, 0), community_id(&b, 0));
        let v6a = key(6, "::1", "::1", 40000, 8080);
        let v6b = key(6, "::1", "::1", 8080, 40000);
        assert_eq!(community_id(&v6a, 0), community_id(&v6b, 0));
        assert_ne!(community_id(&a, 0), community_id(&v6a, 0));
    }

    /// Addresses compare as network-order bytes, not as host integers.
    #[test]
    fn addresses_compare_as_bytes() {
        // 1.0.0.2 < 2.0.0.1 as bytes (as big-endian integers too); a little-endian
        // comparison would put 2.0.0.1 first. The hash input starts 1.0.0.2 in both.
        let a = key(6, "2.0.0.1", "1.0.0.2", 80, 1234);
        let input: [u8; 16] = [0, 0, 1, 0, 0, 2, 2, 0, 0, 1, 6, 0, 0x04, 0xd2, 0, 80];
        let expected = format!("1:{}", b64(&Sha1::digest(input)));
        assert_eq!(community_id(&a, 0), Some(expected));
    }

    /// ICMP: request and reply pair (code ignored), one-way types keep their direction
    /// and code.
    #[test]
    fn icmp_two_way_and_one_way() {
        let (a, b) = ("192.168.0.89", "192.168.0.1");
        for (req, rep) in [(8, 0), (13, 14), (15, 16), (10, 9), (17, 18)] {
            let q = community_id(&icmp(1, a, b, req, 0), 0);
            let r = community_id(&icmp(1, b, a, rep, 0), 0);
            assert_eq!(q, r, "ICMP {req}/{rep}");
            // The code is not hashed for two-way types.
            assert_eq!(q, community_id(&icmp(1, a, b, req, 7), 0));
        }
        // Destination unreachable is one-way: its direction and its code count.
        let there = community_id(&icmp(1, a, b, 3, 1), 0);
        assert_ne!(there, community_id(&icmp(1, b, a, 3, 1), 0));
        assert_ne!(there, community_id(&icmp(1, a, b, 3, 3), 0));
        // A one-way message is hashed as (type, code) without reordering: the hash input
        // of 192.168.0.89 -> 192.168.0.1 type 3 code 1 starts with the larger address.
        let input: [u8; 16] = [0, 0, 192, 168, 0, 89, 192, 168, 0, 1, 1, 0, 0, 3, 0, 1];
        let expected = format!("1:{}", b64(&Sha1::digest(input)));
        assert_eq!(there, Some(expected));
    }

    #[test]
    fn icmpv6_two_way_and_one_way() {
        let (a, b) = ("2001:db8::1", "2001:db8::2");
        for (req, rep) in [
            (128, 129),
            (130, 131),
            (133, 134),
            (135, 136),
            (139, 140),
            (144, 145),
        ] {
            assert_eq!(
                community_id(&icmp(58, a, b, req, 0), 0),
                community_id(&icmp(58, b, a, rep, 0), 0),
                "ICMPv6 {req}/{rep}"
            );
        }
        // ICMPv4 numbers mean nothing in ICMPv6: type 8 over IPv6 is one-way.
        assert_ne!(
            community_id(&icmp(58, a, b, 8, 0), 0),
            community_id(&icmp(58, b, a, 0, 0), 0)
        );
        // Packet too big (2) is one-way.
        assert_ne!(
            community_id(&icmp(58, a, b, 2, 0), 0),
            community_id(&icmp(58, b, a, 2, 0), 0)
        );
    }

    #[test]
    fn counterpart_table_is_symmetric() {
        for version in [4, 6] {
            for t in 0..=255u8 {
                if let Some(other) = icmp_counterpart(version, t) {
                    assert_eq!(icmp_counterpart(version, other), Some(t));
                }
            }
        }
        assert_eq!(icmp_counterpart(4, 3), None);
        assert_eq!(icmp_counterpart(6, 1), None);
        assert_eq!(icmp_counterpart(5, 8), None);
    }

    /// Protocols outside the spec's port list are hashed without ports, even when the key
    /// has them (UDP-Lite, DCCP): same ID as the same key with ports 0, and as RSVP's
    /// layout.
    #[test]
    fn protocols_without_ports_in_the_spec() {
        for proto in [PROTO_UDPLITE, 33, 47, 50, 89] {
            let with = key(proto, "10.1.12.1", "10.1.12.2", 1000, 2000);
            let without = key(proto, "10.1.12.2", "10.1.12.1", 0, 0);
            assert_eq!(
                community_id(&with, 0),
                community_id(&without, 0),
                "proto {proto}"
            );
        }
        // The baseline's RSVP flow (baseline_deflt.json).
        let rsvp = key(46, "10.1.12.1", "10.1.12.2", 0, 0);
        assert_eq!(
            community_id(&rsvp, 0).as_deref(),
            Some("1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=")
        );
    }

    /// Protocol 1 over IPv6 and 58 over IPv4 carry no type and code in the key: hashed
    /// without ports, like any other protocol.
    #[test]
    fn icmp_numbers_over_the_other_ip_version() {
        let k = key(PROTO_ICMP, "2001:db8::1", "2001:db8::2", 0, 8 << 8);
        let plain = key(PROTO_ICMP, "2001:db8::2", "2001:db8::1", 0, 0);
        assert_eq!(community_id(&k, 0), community_id(&plain, 0));
        let k = key(PROTO_ICMPV6, "10.0.0.1", "10.0.0.2", 0, 128 << 8);
        let plain = key(PROTO_ICMPV6, "10.0.0.2", "10.0.0.1", 0, 0);
        assert_eq!(community_id(&k, 0), community_id(&plain, 0));
    }

    /// Fields outside the 5-tuple do not change the ID; the seed does.
    #[test]
    fn only_the_five_tuple_and_seed_count() {
        let k = key(6, "1.2.3.4", "5.6.7.8", 1122, 3344);
        let mut other = k;
        other.in_if = 7;
        other.vlan = 100;
        other.tos = 0x2e;
        assert_eq!(community_id(&k, 0), community_id(&other, 0));
        assert_ne!(community_id(&k, 0), community_id(&k, 256));
        // The IPv4 key's unused address bytes are not hashed.
        let mut dirty = k;
        dirty.src[4..].fill(0xaa);
        assert_eq!(community_id(&k, 0), community_id(&dirty, 0));
    }

    fn arb_addr() -> impl Strategy<Value = IpAddr> {
        prop_oneof![
            any::<[u8; 4]>().prop_map(IpAddr::from),
            any::<[u8; 16]>().prop_map(IpAddr::from),
        ]
    }

    proptest! {
        /// Any key: an ID of the v1 shape, equal for both directions of a flow that has a
        /// reverse (`FlowKey::reversed`, which pairs ICMP requests with their replies on
        /// the spec's pairs and more are not: keys it does not reverse are skipped).
        #[test]
        fn shape_and_direction_symmetry(
            a in arb_addr(),
            b in arb_addr(),
            proto in prop_oneof![Just(1u8), Just(6), Just(17), Just(58), Just(132), Just(136), any::<u8>()],
            sport: u16,
            dport: u16,
            seed: u16,
            version in prop_oneof![Just(4u8), Just(6), any::<u8>()],
        ) {
            let mut k = FlowKey { proto, src_port: sport, dst_port: dport, ..Default::default() };
            k.set_addrs(a, b);
            if k.is_icmp() {
                k.src_port = 0;
            }
            if !matches!(version, 4 | 6) {
                k.ip_version = version;
            }
            let id = community_id(&k, seed);
            prop_assert_eq!(id.is_some(), matches!(k.ip_version, 4 | 6));
            if let Some(id) = &id {
                prop_assert_eq!(id.len(), ID_LEN);
                prop_assert!(id.starts_with("1:") && id.ends_with('='));
                prop_assert!(id[2..29].bytes().all(|c| BASE64.contains(&c)));
                if let Some(r) = k.reversed() {
                    // reversed() pairs the ICMP queries it knows; the spec pairs those too.
                    let back = community_id(&r, seed);
                    prop_assert_eq!(back.as_ref(), Some(id));
                }
            }
        }

        /// Base64 length and alphabet on any bytes.
        #[test]
        fn base64_shape(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let s = b64(&bytes);
            prop_assert_eq!(s.len(), bytes.len().div_ceil(3) * 4);
            prop_assert!(s.trim_end_matches('=').bytes().all(|c| BASE64.contains(&c)));
        }
    }
}
