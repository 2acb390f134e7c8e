//! The decoder against tshark, packet by packet, on real captures from `../shared/pcaps`.
//!
//! tshark (Wireshark's dissectors, reassembly off) is the oracle: for every packet where it
//! finds an outer IP header reached through link layers flowprobe decodes, our decode must
//! succeed and agree on addresses, IP length, TTL, ToS, outermost VLAN, MACs, protocol,
//! ports, TCP flags, ICMP type/code and fragment position; where tshark finds no IP, ours
//! must fail too. The captures are read by a minimal pcap/pcapng reader kept here (test
//! only) so this check does not depend on `capture::file`.
//!
//! The curated list covers every link type and encapsulation the decoder handles; set
//! `FLOWPROBE_TSHARK_ALL=1` to run over every capture with a supported link type (slow:
//! about 12 minutes on two cores), or `FLOWPROBE_TSHARK_FILES=a.pcap,b.pcap` (paths under
//! `../shared/pcaps`) for a few.
//! Without tshark the test is skipped, unless `CI` is set, where it fails.

use super::{decode, Fragment, PacketMeta, SUPPORTED_LINK_TYPES};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const PCAPS: &str = "../shared/pcaps";

/// Captures covering each link type and layer (see MANIFEST.tsv `features`).
const CURATED: &[&str] = &[
    "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__many-protocols.pcap",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__QinQ_802.1_AD.pcapng",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__SllPacket.pcap",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__Sll2Packet.pcap",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__Sll2PacketLLC.pcap",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__PPPoESession.pcap",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__IPv4-TSO.pcap",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__IcmpV6_Generic.pcap",
    "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__ipv6-frag.pcap",
    "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__ip-frag.pcap",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__EthDot3.pcap",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__IPv4-encapsulated-IPv6.pcap",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__GrePackets.pcap",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__Vxlan1.pcap",
    "edge/akvorado/outlet__flow__decoder__testdata__mpls-explicit-null-ipv4.pcap",
    "edge/akvorado/outlet__flow__decoder__testdata__mpls-ipv4.pcap",
    "edge/tcpdump/tests__pppoes.pcap",
    "edge/tcpdump/tests__LINKTYPE_IPV4.pcap",
    "edge/tcpdump/tests__tcp_rst_diag_payload.pcap",
    "edge/tcpdump/tests__ipv6-srh-tlv-pad1-padn-5.pcap",
    "edge/tcpdump/tests__icmpv6-rfc7112.pcap",
    "edge/libpcap/tests__filter__ipv6_ext_headers.pcap",
    "edge/wireshark/test__captures__ipv6.pcap",
    "edge/suricata-verify/tests__ipv6-hdr-keyword-02__input.pcap",
    "edge/suricata-verify/tests__iponly-ipv6-range-01__input.pcap",
    "edge/suricata-verify/tests__sctp-pkt-too-small__input.pcap",
    "edge/zeek/testing__btest__Traces__tunnels__4in4.pcap",
    "edge/zeek/testing__btest__Traces__tunnels__6in4.pcap",
    "edge/zeek/testing__btest__Traces__vntag_vlan_sandwich_clean.pcap",
];

/// One packet of a capture file: link type, captured bytes, length on the wire.
type Frame<'a> = (u32, &'a [u8], u32);

/// A minimal, lenient pcap and pcapng reader: stops quietly at the first damage.
fn read_capture(b: &[u8]) -> Vec<Frame<'_>> {
    let u32_at = |at: usize, le: bool| -> Option<u32> {
        let a = *b.get(at..)?.first_chunk::<4>()?;
        Some(if le {
            u32::from_le_bytes(a)
        } else {
            u32::from_be_bytes(a)
        })
    };
    let mut out = Vec::new();
    let Some(magic) = u32_at(0, true) else {
        return out;
    };
    if matches!(magic, 0xa1b2_c3d4 | 0xa1b2_3c4d | 0xd4c3_b2a1 | 0x4d3c_b2a1) {
        let le = matches!(magic, 0xa1b2_c3d4 | 0xa1b2_3c4d);
        let Some(link) = u32_at(20, le) else {
            return out;
        };
        let mut at = 24;
        while let (Some(cap), Some(orig)) = (u32_at(at + 8, le), u32_at(at + 12, le)) {
            let Some(data) = b.get(at + 16..at + 16 + cap as usize) else {
                break;
            };
            out.push((link & 0xffff, data, orig));
            at += 16 + cap as usize;
        }
    } else if magic == 0x0a0d_0d0a {
        let mut at = 0;
        let mut le = true;
        let mut links: Vec<(u32, u32)> = Vec::new();
        loop {
            if u32_at(at, true) == Some(0x0a0d_0d0a) {
                le = u32_at(at + 8, true) == Some(0x1a2b_3c4d);
                links.clear();
            }
            let (Some(kind), Some(len)) = (u32_at(at, le), u32_at(at + 4, le)) else {
                break;
            };
            let len = len as usize;
            if len < 12 || b.len() < at + len {
                break;
            }
            match kind {
                1 => {
                    let link = u32_at(at + 8, le).map(|v| if le { v & 0xffff } else { v >> 16 });
                    links.push((link.unwrap_or(0), u32_at(at + 12, le).unwrap_or(0)));
                }
                6 | 2 => {
                    let iface = if kind == 6 {
                        u32_at(at + 8, le).unwrap_or(0) as usize
                    } else {
                        (u32_at(at + 8, le).unwrap_or(0) & if le { 0xffff } else { 0xffff_0000 })
                            as usize
                    };
                    let cap = u32_at(at + 20, le).unwrap_or(0) as usize;
                    let orig = u32_at(at + 24, le).unwrap_or(0);
                    let Some(data) = b.get(at + 28..(at + 28 + cap).min(at + len)) else {
                        break;
                    };
                    out.push((links.get(iface).map_or(u32::MAX, |l| l.0), data, orig));
                }
                3 => {
                    let orig = u32_at(at + 8, le).unwrap_or(0);
                    let (link, snap) = links.first().copied().unwrap_or((u32::MAX, 0));
                    let mut cap = (orig as usize).min(len - 16);
                    if snap != 0 {
                        cap = cap.min(snap as usize);
                    }
                    let Some(data) = b.get(at + 12..at + 12 + cap) else {
                        break;
                    };
                    out.push((link, data, orig));
                }
                _ => {}
            }
            at += len;
        }
    }
    out
}

const FIELDS: &[&str] = &[
    "frame.number",
    "frame.protocols",
    "ip.src",
    "ip.dst",
    "ip.cur_rt",
    "frame.encap_type",
    "ip.len",
    "ip.proto",
    "ip.ttl",
    "ip.dsfield",
    "ip.flags.mf",
    "ip.frag_offset",
    "ip.id",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.plen",
    "ipv6.hlim",
    "ipv6.tclass",
    "ipv6.fraghdr.offset",
    "ipv6.fraghdr.more",
    "ipv6.fraghdr.ident",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "udp.srcport",
    "udp.dstport",
    "sctp.srcport",
    "sctp.dstport",
    "icmp.type",
    "icmp.code",
    "icmpv6.type",
    "icmpv6.code",
    "vlan.id",
    "ieee8021ad.id",
    "eth.src",
    "eth.dst",
];

/// Captures tshark 4.0 misreads without a "decode as", and the one that makes it right.
///
/// Both akvorado EoMPLS captures carry an RFC 4448 Ethernet pseudowire with its RFC 4385
/// control word (first nibble 0). tshark's `pwethheuristic` takes them for pseudowires
/// without a control word and reads the word as the start of the customer's MACs (type
/// 0x0000, then data), so it finds no IP. The bytes say otherwise: after the bottom label
/// come the word `00 00 00 00` (cw) or `00 00 00 01` (invalid-cw: sequence number 1,
/// which RFC 4448 4.6 allows; the 12 reserved bits are 0), then MACs 02:00:00:00:00:03 <-
/// 02:00:00:00:00:04, type 0x0800 and a 40-byte TCP ACK 10.31.0.1:11001 -> 10.34.0.1:23,
/// TTL 255. Told the label is an Ethernet pseudowire with a control word, tshark reads
/// exactly that, and the packet is compared field by field like any other.
const DECODE_AS: &[(&str, &str)] = &[
    (
        "edge/akvorado/outlet__flow__decoder__testdata__mpls-eompls-cw.pcap",
        "mpls.label==17,pwethcw",
    ),
    (
        "malformed/akvorado/outlet__flow__decoder__testdata__mpls-eompls-invalid-cw.pcap",
        "mpls.label==100,pwethcw",
    ),
];

/// tshark's first-occurrence fields for every packet record, in file order. Records that
/// are not packets (pcapng event or custom blocks, which tshark 4 shows as frames) have no
/// encapsulation and are left out, so the list lines up with `read_capture`.
fn tshark(path: &Path) -> Vec<HashMap<&'static str, String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(path);
    for o in [
        "ip.defragment:FALSE",
        "ipv6.defragment:FALSE",
        "tcp.desegment_tcp_streams:FALSE",
    ] {
        cmd.args(["-o", o]);
    }
    let name = path.to_string_lossy();
    for (_, rule) in DECODE_AS.iter().filter(|(f, _)| name.ends_with(f)) {
        cmd.args(["-d", rule]);
    }
    cmd.args(["-T", "fields", "-E", "occurrence=f", "-E", "separator=\t"]);
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("run tshark");
    // tshark exits 2 on a damaged file after printing what it read; 1 is a usage error.
    assert_ne!(
        out.status.code(),
        Some(1),
        "tshark: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let mut packets = Vec::new();
    for line in text.lines() {
        let values: HashMap<_, _> = FIELDS
            .iter()
            .copied()
            .zip(line.split('\t').map(str::to_owned))
            .filter(|(_, v)| !v.is_empty())
            .collect();
        if values.contains_key("frame.encap_type") {
            packets.push(values);
        }
    }
    packets
}

fn num(v: &str) -> Option<u64> {
    match v {
        "True" => Some(1),
        "False" => Some(0),
        _ => v
            .strip_prefix("0x")
            .map_or_else(|| v.parse().ok(), |h| u64::from_str_radix(h, 16).ok()),
    }
}

fn mac(v: &str) -> [u8; 6] {
    let mut m = [0; 6];
    for (slot, part) in m.iter_mut().zip(v.split(':')) {
        *slot = u8::from_str_radix(part, 16).unwrap_or(0);
    }
    m
}

/// Link layers before the outer IP that flowprobe decodes (tshark protocol names).
const DECODED_L2: &[&str] = &[
    "eth",
    "ethertype",
    "vlan",
    "ieee8021ad",
    "sll",
    "null",
    "raw",
    "llc",
    "mpls",
    "pppoes",
    "ppp",
    // An Ethernet pseudowire with its control word (RFC 4448): flowprobe skips the word
    // and follows the customer's frame. Without the word (`pwethnocw`) it does not.
    "pwethheuristic",
    "pwethcw",
];

/// Packets (capture, 1-based packet) where flowprobe reads the bytes differently from
/// tshark, with the reason: damaged bytes flowprobe deliberately reads otherwise, or a
/// header the installed tshark has no dissector for.
const KNOWN_DIVERGENCES: &[(&str, usize, &str)] = &[
    (
        "malformed/tcpdump/tests__ipv6_frag6_negative_len.pcap",
        1,
        "IPv6 payload length 0 without a jumbo option: flowprobe reads the captured bytes \
         as payload (Linux BIG TCP captures look like this) and finds a later-fragment \
         header; tshark takes the payload as empty",
    ),
    (
        "malformed/suricata-verify/tests__bug-6875-01__fuzz.pcap",
        1,
        "damaged classic pcap: libwiretap guesses a modified-pcap record header (8 more \
         bytes) and shifts the frame; the reader here takes the standard 16-byte header",
    ),
    // tcpdump's Arista capture: frames 2, 7, 10 and 14 have AVSP timestamp versions
    // 0x0011, 0x0111, 0x0021 and 0x0121: timescale (TAI 0 / UTC 1), format (1: 64-bit
    // stamp, 2: 48-bit), hardware info 1 (R3/"J2"). tshark 4.0's AVSP dissector knows
    // only hardware info 0 (0x0010, 0x0110, 0x0020, 0x0120, the other 12 frames) and
    // stops with "Unknown timestamp version"; later Wireshark (packet-avsp.c `_J2`
    // versions) and tcpdump (print-arista.c) read the same stamp lengths. Frame 2's
    // bytes after the MACs: `d2 8b | 00 01 | 00 11 | 5c ee ed 58 19 c3 8c 2c | 81 00
    // 00 64 | 08 00 | 45 00 00 4e ... 40 3f 4d b0 0a 88 01 20 0a 02 17 18`: VLAN 100,
    // then IPv4 10.136.1.32 -> 10.2.23.24, length 78, TTL 64, protocol 63, and a header
    // checksum that verifies, which is what flowprobe meters.
    (
        "edge/tcpdump/tests__arista_ether.pcap",
        2,
        "AVSP version 0x0011 (64-bit TAI, hardware info R3): tshark 4.0 does not know it",
    ),
    (
        "edge/tcpdump/tests__arista_ether.pcap",
        7,
        "AVSP version 0x0111 (64-bit UTC, R3), then MPLS: tshark 4.0 does not know it",
    ),
    (
        "edge/tcpdump/tests__arista_ether.pcap",
        10,
        "AVSP version 0x0021 (48-bit TAI, R3), then VLAN: tshark 4.0 does not know it",
    ),
    (
        "edge/tcpdump/tests__arista_ether.pcap",
        14,
        "AVSP version 0x0121 (48-bit UTC, R3), then VLAN: tshark 4.0 does not know it",
    ),
    (
        "malformed/zeek/testing__btest__Traces__trunc__mpls-6in6-broken.pcap",
        1088,
        "bottom MPLS label then a first nibble of 4: flowprobe takes IPv4 (as routers do); \
         tshark's heuristic rejects the broken header and shows data",
    ),
];

/// Records a difference when tshark has the field and it is not `ours`.
fn check(diffs: &mut Vec<String>, name: &str, ours: u64, theirs: Option<&str>) {
    if let Some(theirs) = theirs {
        if num(theirs) != Some(ours) {
            diffs.push(format!("{name}: ours {ours}, tshark {theirs}"));
        }
    }
}

/// Compares one packet; returns the differences found.
fn compare(frame: Frame<'_>, t: &HashMap<&'static str, String>) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut meta = PacketMeta::default();
    let result = decode(frame.0, frame.1, frame.2, &mut meta);
    let protocols: Vec<&str> = t
        .get("frame.protocols")
        .map_or(vec![], |p| p.split(':').collect());
    let ip_at = protocols.iter().position(|p| *p == "ip" || *p == "ipv6");
    let get = |f: &str| t.get(f).map(String::as_str);
    let Some(ip_at) = ip_at else {
        if result.is_ok() {
            diffs.push(format!(
                "tshark sees no IP ({protocols:?}), we decoded {meta:?}"
            ));
        }
        return diffs;
    };
    let before = &protocols[..ip_at];
    if !before.iter().all(|p| DECODED_L2.contains(p)) {
        return diffs; // an encapsulation flowprobe does not decapsulate
    }
    let v4 = protocols[ip_at] == "ip";
    // tshark stops at an IP header it cannot read whole; it then shows the source alone
    // (destination cut, or options cut by the snaplen, which flowprobe still meters) or
    // nothing. Only a packet with both addresses is compared field by field.
    let (src_field, dst_field) = if v4 {
        ("ip.src", "ip.dst")
    } else {
        ("ipv6.src", "ipv6.dst")
    };
    let tshark_addr = get(src_field).zip(get(dst_field));
    let Err(reason) = result else {
        if tshark_addr.is_none() {
            if get(src_field).is_none() {
                diffs.push(format!(
                    "tshark has no {} address, we decoded {meta:?}",
                    protocols[ip_at]
                ));
            }
            return diffs;
        }
        let k = meta.key;
        if v4 {
            check(&mut diffs, "version", u64::from(k.ip_version), Some("4"));
            let ours = std::net::Ipv4Addr::from(*k.src.first_chunk::<4>().unwrap()).to_string();
            let dst = std::net::Ipv4Addr::from(*k.dst.first_chunk::<4>().unwrap()).to_string();
            // With a source route option, tshark's ip.dst is the route's final address;
            // the header's destination (what a router meters) is its "current route".
            let their_dst = get("ip.cur_rt").or(get("ip.dst"));
            if Some(ours.as_str()) != get("ip.src") || Some(dst.as_str()) != their_dst {
                diffs.push(format!(
                    "addresses {ours} {dst} vs {:?} {:?}",
                    get("ip.src"),
                    get("ip.dst")
                ));
            }
            if get("ip.len") != Some("0") {
                check(&mut diffs, "octets", u64::from(meta.octets), get("ip.len"));
            }
            check(&mut diffs, "proto", u64::from(k.proto), get("ip.proto"));
            check(&mut diffs, "ttl", u64::from(meta.ttl), get("ip.ttl"));
            check(&mut diffs, "tos", u64::from(k.tos), get("ip.dsfield"));
            let mf = get("ip.flags.mf").and_then(num) == Some(1);
            // tshark gives the offset in units of 8 bytes.
            let offset = get("ip.frag_offset").and_then(num).unwrap_or(0) as u16 * 8;
            let later = offset != 0;
            let id = get("ip.id").and_then(num).unwrap_or(0) as u32;
            let expected = match (later, mf) {
                (true, _) => Fragment::Later { id, offset },
                (false, true) => Fragment::First { id },
                _ => Fragment::None,
            };
            if meta.fragment != expected {
                diffs.push(format!("fragment {:?} vs {expected:?}", meta.fragment));
            }
        } else {
            check(&mut diffs, "version", u64::from(k.ip_version), Some("6"));
            let ours = std::net::Ipv6Addr::from(k.src).to_string();
            let dst = std::net::Ipv6Addr::from(k.dst).to_string();
            if Some(ours.as_str()) != get("ipv6.src") || Some(dst.as_str()) != get("ipv6.dst") {
                diffs.push(format!(
                    "addresses {ours} {dst} vs {:?} {:?}",
                    get("ipv6.src"),
                    get("ipv6.dst")
                ));
            }
            if let Some(plen) = get("ipv6.plen").and_then(num).filter(|&p| p != 0) {
                check(
                    &mut diffs,
                    "octets",
                    u64::from(meta.octets),
                    Some(&(plen + 40).to_string()),
                );
            }
            check(&mut diffs, "ttl", u64::from(meta.ttl), get("ipv6.hlim"));
            check(&mut diffs, "tos", u64::from(k.tos), get("ipv6.tclass"));
            // A fragment header tshark shows may belong to an inner packet (ICMPv6 error).
            let outer_exts = protocols[ip_at + 1..]
                .iter()
                .take_while(|p| **p != "ip" && **p != "ipv6");
            let own_fragment_header = outer_exts.clone().any(|p| *p == "ipv6.fraghdr");
            let offset = get("ipv6.fraghdr.offset").and_then(num).unwrap_or(0) as u16 * 8;
            let later = own_fragment_header && offset != 0;
            let more = own_fragment_header && get("ipv6.fraghdr.more").and_then(num) == Some(1);
            let id = get("ipv6.fraghdr.ident").and_then(num).unwrap_or(0) as u32;
            let expected = match (later, more) {
                (true, _) => Fragment::Later { id, offset },
                (false, true) => Fragment::First { id },
                _ => Fragment::None,
            };
            if meta.fragment != expected {
                diffs.push(format!("fragment {:?} vs {expected:?}", meta.fragment));
            }
        }
        // The transport must be the next protocol after the outer IP in tshark's view.
        let next = protocols.get(ip_at + 1).copied();
        let (sport, dport) = (u64::from(k.src_port), u64::from(k.dst_port));
        match (k.proto, next) {
            (6, Some("tcp")) => {
                check(&mut diffs, "sport", sport, get("tcp.srcport"));
                check(&mut diffs, "dport", dport, get("tcp.dstport"));
                if let Some(flags) = get("tcp.flags").and_then(num) {
                    check(
                        &mut diffs,
                        "tcp_flags",
                        u64::from(meta.tcp_flags),
                        Some(&(flags & 0xff).to_string()),
                    );
                }
            }
            (17, Some("udp")) => {
                check(&mut diffs, "sport", sport, get("udp.srcport"));
                check(&mut diffs, "dport", dport, get("udp.dstport"));
            }
            (132, Some("sctp")) => {
                check(&mut diffs, "sport", sport, get("sctp.srcport"));
                check(&mut diffs, "dport", dport, get("sctp.dstport"));
            }
            (1, Some("icmp")) => {
                let tc = get("icmp.type")
                    .and_then(num)
                    .zip(get("icmp.code").and_then(num));
                if let Some((ty, code)) = tc {
                    check(
                        &mut diffs,
                        "icmp",
                        dport,
                        Some(&(ty * 256 + code).to_string()),
                    );
                }
            }
            (58, Some("icmpv6")) => {
                let tc = get("icmpv6.type")
                    .and_then(num)
                    .zip(get("icmpv6.code").and_then(num));
                if let Some((ty, code)) = tc {
                    check(
                        &mut diffs,
                        "icmpv6",
                        dport,
                        Some(&(ty * 256 + code).to_string()),
                    );
                }
            }
            _ => {}
        }
        // VLAN fields of an inner frame (ERSPAN, VXLAN...) are not the flow's VLAN.
        let tagged = before.contains(&"vlan") || before.contains(&"ieee8021ad");
        let vlan = if tagged {
            get("ieee8021ad.id").or(get("vlan.id"))
        } else {
            None
        };
        check(
            &mut diffs,
            "vlan",
            u64::from(k.vlan),
            Some(vlan.unwrap_or("0")),
        );
        if let (Some(s), Some(d)) = (get("eth.src"), get("eth.dst")) {
            if before.first() == Some(&"eth") && (meta.src_mac, meta.dst_mac) != (mac(s), mac(d)) {
                diffs.push(format!(
                    "macs {:?} {:?} vs {s} {d}",
                    meta.src_mac, meta.dst_mac
                ));
            }
        }
        return diffs;
    };
    if tshark_addr.is_some() {
        diffs.push(format!(
            "we refused ({}) a packet tshark decodes as {}",
            reason.name(),
            protocols.join(":")
        ));
    }
    diffs
}

fn captures() -> Vec<PathBuf> {
    if let Ok(list) = std::env::var("FLOWPROBE_TSHARK_FILES") {
        return list.split(',').map(|f| Path::new(PCAPS).join(f)).collect();
    }
    if std::env::var_os("FLOWPROBE_TSHARK_ALL").is_none() {
        return CURATED.iter().map(|f| Path::new(PCAPS).join(f)).collect();
    }
    let manifest =
        std::fs::read_to_string(Path::new(PCAPS).join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    manifest
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            let supported = SUPPORTED_LINK_TYPES
                .iter()
                .any(|lt| cols.get(3).is_some_and(|c| c.contains(&format!("({lt})"))));
            (supported && cols.first().is_some_and(|f| !f.starts_with("export/")))
                .then(|| Path::new(PCAPS).join(cols[0]))
        })
        .collect()
}

#[test]
fn every_packet_agrees_with_tshark() {
    if Command::new("tshark").arg("--version").output().is_err() {
        assert!(
            std::env::var_os("CI").is_none(),
            "tshark is required when CI is set"
        );
        eprintln!("skipped: tshark not installed");
        return;
    }
    if !Path::new(PCAPS).join("MANIFEST.tsv").exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{PCAPS} is required when CI is set"
        );
        eprintln!("skipped: {PCAPS} not present");
        return;
    }
    let mut failures = Vec::new();
    let (mut files, mut packets) = (0, 0);
    for path in captures() {
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let frames = read_capture(&bytes);
        let oracle = tshark(&path);
        files += 1;
        for (i, (frame, t)) in frames.iter().zip(&oracle).enumerate() {
            packets += 1;
            let name = path.to_string_lossy();
            if KNOWN_DIVERGENCES
                .iter()
                .any(|(f, n, _)| name.ends_with(f) && *n == i + 1)
            {
                continue;
            }
            for d in compare(*frame, t) {
                failures.push(format!("{} packet {}: {d}", path.display(), i + 1));
            }
        }
    }
    eprintln!(
        "{files} captures, {packets} packets compared, {} differences",
        failures.len()
    );
    for f in failures.iter().take(1000) {
        eprintln!("{f}");
    }
    assert!(failures.is_empty());
}

/// Captures with TCP and UDP payloads of every common shape (TLS, DNS, HTTP, QUIC, SSH),
/// for [`transport_payload_equals_tshark`].
const PAYLOAD_CAPTURES: &[&str] = &[
    "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__many-protocols.pcap",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__IPv4-TSO.pcap",
    "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__ip-frag.pcap",
    "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__ipv6-frag.pcap",
    "edge/tcpdump/tests__tcp_rst_diag_payload.pcap",
    "edge/wireshark/test__captures__ipv6.pcap",
    "edge/community-id-spec/pcaps__combined.pcap",
    "edge/zeek/testing__btest__Traces__tunnels__4in4.pcap",
];

/// `decode_payload` (no decapsulation) gives, for every packet tshark dissects as TCP or
/// UDP with reassembly and defragmentation off, exactly the bytes tshark shows as the
/// outermost `tcp.payload` / `udp.payload` (absent there = an empty range here).
#[test]
fn transport_payload_equals_tshark() {
    if Command::new("tshark").arg("--version").output().is_err()
        || !Path::new(PCAPS).join("MANIFEST.tsv").exists()
    {
        assert!(
            std::env::var_os("CI").is_none(),
            "tshark and {PCAPS} are required when CI is set"
        );
        eprintln!("skipped: tshark or {PCAPS} missing");
        return;
    }
    let (mut compared, mut with_payload, mut failures) = (0, 0, Vec::new());
    for file in PAYLOAD_CAPTURES {
        let path = Path::new(PCAPS).join(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let frames = read_capture(&bytes);
        let out = Command::new("tshark")
            .arg("-r")
            .arg(&path)
            .args(["-o", "ip.defragment:FALSE", "-o", "ipv6.defragment:FALSE"])
            .args([
                "-o",
                "tcp.desegment_tcp_streams:FALSE",
                "-o",
                "tcp.analyze_sequence_numbers:FALSE",
            ])
            .args(["-T", "fields", "-E", "occurrence=f", "-E", "separator=\t"])
            .args(["-e", "frame.encap_type", "-e", "ip.proto", "-e", "ipv6.nxt"])
            .args([
                "-e",
                "tcp.srcport",
                "-e",
                "udp.srcport",
                "-e",
                "tcp.payload",
                "-e",
                "udp.payload",
            ])
            .args([
                "-e",
                "ip.flags.mf",
                "-e",
                "ip.frag_offset",
                "-e",
                "ipv6.fragment",
            ])
            .args(["-e", "tcp.flags.reset"])
            .output()
            .expect("run tshark");
        let text = String::from_utf8_lossy(&out.stdout);
        let rows = text
            .lines()
            .map(|l| l.split('\t').map(str::to_owned).collect::<Vec<_>>());
        let rows = rows.filter(|r| r.first().is_some_and(|e| !e.is_empty()));
        for (i, ((link_type, frame, orig_len), row)) in frames.iter().zip(rows).enumerate() {
            let col = |n: usize| row.get(n).map(String::as_str).unwrap_or("");
            let transport = !col(3).is_empty() || !col(4).is_empty();
            // Not compared: a fragment (tshark shows no transport for later ones); a
            // packet whose outermost protocol is ICMP or IP-in-IP (tshark's first
            // tcp/udp field is then the quoted or inner packet's, which `Decap::NONE`
            // does not open); a TCP reset, whose data tshark shows as "Reset cause"
            // (RFC 9293 section 3.5.3), not as tcp.payload.
            let fragment = col(7) == "1"
                || col(7) == "True"
                || !col(8).is_empty() && col(8) != "0"
                || !col(9).is_empty();
            let outer = |n: usize| col(n).split(',').next().unwrap_or("");
            let nested =
                ["1", "4", "41", "58"].contains(&outer(1)) || ["4", "41", "58"].contains(&outer(2));
            let reset = col(10) == "1" || col(10) == "True";
            if !transport || fragment || nested || reset {
                continue;
            }
            let theirs = if col(3).is_empty() { col(6) } else { col(5) };
            let theirs: Vec<u8> = (0..theirs.len() / 2)
                .filter_map(|k| u8::from_str_radix(theirs.get(2 * k..2 * k + 2)?, 16).ok())
                .collect();
            let mut meta = PacketMeta::default();
            let ours = match super::decode_payload(
                *link_type,
                frame,
                *orig_len,
                &super::Decap::NONE,
                &mut meta,
            ) {
                Ok(t) => frame.get(t.payload).unwrap_or_default().to_vec(),
                Err(e) => {
                    failures.push(format!("{file} packet {}: undecodable {e:?}", i + 1));
                    continue;
                }
            };
            compared += 1;
            with_payload += usize::from(!theirs.is_empty());
            if ours != theirs {
                failures.push(format!(
                    "{file} packet {}: {} payload bytes, tshark {}",
                    i + 1,
                    ours.len(),
                    theirs.len()
                ));
            }
        }
    }
    eprintln!(
        "{compared} TCP/UDP packets compared ({with_payload} with payload), {} differences",
        failures.len()
    );
    for f in &failures {
        eprintln!("{f}");
    }
    assert!(
        compared > 100 && with_payload > 50,
        "too few packets compared"
    );
    assert!(failures.is_empty());
}
