//! `inspect::dns` against tshark on every shared capture with DNS, mDNS or LLMNR.
//!
//! The oracle: for every frame tshark 4.0 shows as DNS, mDNS or LLMNR (`-Y "dns or mdns or
//! llmnr"`, TCP reassembly off: `parse_tcp` is given one segment's payload, as the
//! inspector's stream start would be), the payload tshark shows below the first DNS layer
//! goes through `dns::parse` (`udp.payload`, the innermost one, cut to the UDP length as
//! tshark's DNS dissector reads it) or `dns::parse_tcp` (`tcp.payload`), and a Found
//! message's values are compared with tshark's fields of that frame for its first message:
//! `dns.flags.response`, the first question's `dns.qry.name` and `dns.qry.type` (only when
//! `dns.count.queries` says the first message has a question), `dns.flags.rcode` (tshark
//! shows it on responses only) and `dns.count.answers`. For UPDATE (opcode 5) tshark names
//! the counts `dns.count.zones` and `dns.count.prerequisites`; the zone is still
//! `dns.qry.name`.
//!
//! Which files: flowprobe's own decoder (every tunnel kind opened) reads every capture once
//! and selects those with a TCP or UDP packet on port 53, 5353 or 5355, or with a payload
//! on another port that `parse` / `parse_tcp` finds a message in (tshark 4.0 also shows DNS
//! on other ports, by heuristics); then one tshark run a selected file. `EXTRA_FILES` adds
//! the captures where tshark shows DNS that this criterion misses, each with the reason
//! flowprobe cannot see it there (a link type or tunnel it does not decode, an ICMP quote,
//! decryption); a one-time tshark run over all 2,773 captures found exactly those.
//!
//! The same scan is the strictness check of NotThis: every payload on other ports that the
//! parser finds a message in must be in a file of `FOUND_ELSEWHERE`, with the same count;
//! each of those was checked to be DNS (DNSCrypt certificate queries on 443, DNS on test
//! ports) or a fuzzed NetBIOS packet.
//!
//! Differences that follow a rule rather than a file are counted, not listed (the test
//! prints them by file):
//! - both broken: flowprobe Malformed or NotThis, tshark an error on the frame or one of
//!   its placeholder names (`<Name too long>`, `<Name contains a pointer that loops>`,
//!   `<Unknown extended label>`): fuzzed and crafted captures, SOME/IP and QUIC payloads
//!   tshark's heuristic takes for DNS, DNSCrypt's encrypted messages on port 53;
//! - cut by the capture (caplen below the frame's length) or by an ICMP error's quote;
//! - a TCP segment whose message is not whole in it: `parse_tcp` is Incomplete where
//!   tshark, reassembly off, shows what the segment has (a 64 KiB SIG record of the
//!   CVE-2020-1350 exploit; a segment after a lost one);
//! - a bare header (all four counts zero): NotThis by design;
//! - a question class outside IN, CH, HS, NONE and ANY (fuzzed captures): Malformed or
//!   NotThis by design;
//! - in `malformed/` captures only: a header flowprobe refuses (an opcode other than 0, 4
//!   and 5, the Z bit, a query with an RCODE): NotThis by design;
//! - DNS over QUIC that tshark decrypted: not compared.
//!
//! Every other difference is fixed or listed in `KNOWN` with its reason; a listed
//! difference that no longer happens fails the test too, as does an `EXTRA_FILES` entry
//! without DNS frames or one the decoder now selects.

mod common;

use std::path::{Path, PathBuf};

use flowprobe::capture::file::CaptureFile;
use flowprobe::decode::{decode_payload, Decap, PacketMeta};
use flowprobe::flow::key::{PROTO_TCP, PROTO_UDP};
use flowprobe::flow::tunnel::TunnelKind;
use flowprobe::inspect::dns::{self, Message};
use flowprobe::inspect::Outcome;

use common::{
    assert_differences_explained, captures, parallel_map, relative_name, require_shared_pcaps,
    require_tool, shared_pcaps, tshark_field_rows, unhex, FieldRow, KnownDifferences,
};

/// Every frame tshark dissects as DNS, mDNS or LLMNR.
const FILTER: &str = "dns or mdns or llmnr";

/// tshark's fields, in this order (`FieldRow::get` finds them by name).
const FIELDS: [&str; 22] = [
    "frame.number",
    "frame.protocols",
    "frame.len",
    "frame.cap_len",
    "_ws.expert.severity",
    "udp.payload",
    "udp.length",
    "tcp.payload",
    "dns.flags.response",
    "dns.flags.opcode",
    "dns.count.queries",
    "dns.count.zones",
    "dns.qry.name",
    "dns.qry.type",
    "dns.qry.class",
    "dns.flags.rcode",
    "dns.count.answers",
    "dns.count.prerequisites",
    "dns.resp.name",
    "dns.resp.class",
    // Last: only to tell what a frame is in messages.
    "dns.flags",
    "_ws.col.Info",
];

/// The ports DNS (53), mDNS (5353) and LLMNR (5355) use: only to choose the files.
const DNS_PORTS: [u16; 3] = [53, 5353, 5355];

/// tshark's expert severity "error" (PI_ERROR): a malformed packet.
const EXPERT_ERROR: u32 = 0x0080_0000;

/// Differences understood, by file (path under `shared/pcaps`), frame and field, with why.
/// Field "parse" is the parser's outcome itself.
const KNOWN: &[(&str, u32, &str, &str)] = &[
    (
        "real/nDPI/tests__cfgs__default__pcap__dns_invert_query.pcapng",
        1,
        "parse",
        "IQUERY (opcode 1, obsolete since RFC 3425): NotThis by design",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__netbios_wildcard_dns_query.pcap",
        1,
        "parse",
        "a NetBIOS NBSTAT query for * (CKAAAA...) sent to port 53: NetBIOS by its payload",
    ),
];

/// Captures with frames tshark shows as DNS that the decoder criterion (below) does not
/// select, and why flowprobe cannot see DNS there; compared all the same, so that every
/// capture with a DNS frame is. Found by one tshark run over all 2,773 captures
/// (2026-12-06, `-Y "dns or mdns or llmnr"`, TCP reassembly off): with these, the
/// selection holds every capture where tshark shows one.
const EXTRA_FILES: &[(&str, &str)] = &[
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__GrePackets.pcap",
        GRE_PPP,
    ),
    (
        "edge/akvorado/outlet__flow__decoder__testdata__vlan-ipv6.pcap",
        GRE_PPP,
    ),
    (
        "edge/arkime/tests__pcap__6-4-gre-ppp-udp-4-dns.pcap",
        GRE_PPP,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gre-over-udp-4754.pcap",
        "GRE over UDP (port 4754): not a tunnel flowprobe opens",
    ),
    (
        "edge/libpcap/tests__filter__arcnet-rfc1051-arp-icmp-http.pcap",
        LINK_TYPE,
    ),
    (
        "edge/libpcap/tests__filter__arcnet-rfc1201-arp-icmp-http.pcap",
        LINK_TYPE,
    ),
    (
        "edge/tcpdump/tests__arcnet-rfc1051-arp-icmp-http.pcap",
        LINK_TYPE,
    ),
    (
        "edge/tcpdump/tests__arcnet-rfc1201-arp-icmp-http.pcap",
        LINK_TYPE,
    ),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__nflogPacket.pcap",
        LINK_TYPE,
    ),
    ("edge/tcpdump/tests__nflog.pcap", LINK_TYPE),
    ("edge/libpcap/tests__filter__http_PPI.pcap", LINK_TYPE),
    (
        "real/nDPI/tests__cfgs__default__pcap__someip_sd_sample.pcap",
        LINK_TYPE,
    ),
    ("edge/tcpdump/tests__LINKTYPE_PKTAP.pcap", LINK_TYPE),
    ("edge/tcpdump/tests__LINKTYPE_USER2_PKTAP.pcap", LINK_TYPE),
    (
        "malformed/tcpdump/tests__LINKTYPE_IPV4_invalid.pcap",
        "an IPv4 link-type frame flowprobe's decoder refuses",
    ),
    (
        "edge/zeek/testing__btest__Traces__communityid__icmp6.pcap",
        "a DNS query quoted in an ICMPv6 error",
    ),
    (
        "edge/zeek/testing__btest__Traces__icmp__icmp-destunreach-udp.pcap",
        "a DNS query quoted in an ICMP error",
    ),
    (
        "edge/wireshark/test__captures__wireguard-ping-tcp-dsb.pcapng",
        "inside WireGuard, decrypted by tshark with the keys in the file",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__doq.pcapng",
        "DNS over QUIC, decrypted by tshark with the keys in the file",
    ),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__SomeIpSd.pcapng",
        SOMEIP,
    ),
    ("edge/tcpdump/tests__someip1.pcap", SOMEIP),
    (
        "malformed/zeek/testing__btest__Traces__quic__vector-max-size-crash.pcap",
        "QUIC on port 443 that tshark's DNS heuristic takes; flowprobe: NotThis",
    ),
];

const GRE_PPP: &str = "IPv6, IPv4 in it, GRE carrying PPP: flowprobe's GRE does not follow PPP";
const LINK_TYPE: &str = "a link type flowprobe does not decode (ARCNET, NFLOG, PPI, PKTAP)";
const SOMEIP: &str =
    "SOME/IP service discovery (port 30490) that tshark's DNS heuristic takes; flowprobe: NotThis";

/// Files where `dns::parse` or `parse_tcp` finds messages on other ports than 53, 5353 and
/// 5355 (UDP and TCP payloads, one packet at a time, every tunnel opened): how many, and
/// what they are. The test fails if any other file has one, or a count changes, so a
/// parser change that lets another protocol through shows here.
const FOUND_ELSEWHERE: &[(&str, usize, &str)] = &[
    (
        "real/nDPI/tests__cfgs__default__pcap__dnscrypt-v1-and-resolver-pings.pcap",
        346,
        "DNSCrypt certificate queries and answers (TXT 2.dnscrypt-cert.*) on 443, 8443, \
         553, 465, ...: plain DNS",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__avast_securedns.pcapng",
        77,
        "Avast SecureDNS (DNSCrypt) certificate queries on 443: plain DNS",
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-06-26-2594.pcap",
        10,
        "5 DNS messages on mutated ports (tshark shows them as DNS) and 5 NetBIOS name \
         queries whose type was mutated away from NB and NBSTAT (tshark: NBNS, type \
         Unknown)",
    ),
    (
        "edge/wireshark/test__captures__dns_port.pcap",
        4,
        "DNS on port 65333 (tshark shows it as DNS)",
    ),
    (
        "edge/tcpdump/tests__dns_udp_8053.pcap",
        2,
        "DNS on UDP port 8053",
    ),
    (
        "edge/tcpdump/tests__dns_tcp_8053.pcap",
        2,
        "DNS on TCP port 8053",
    ),
    (
        "real/RustiFlow/rustiflow__tests__data__nmap_udp_version.pcap",
        3,
        "nmap's DNS version.bind probe on ports 70, 71 and 80",
    ),
    (
        "edge/nDPI/tests__cfgs__default__pcap__custom_rules_ipv6.pcapng",
        2,
        "DNS on port 5333 (tshark shows it as DNS)",
    ),
    (
        "edge/suricata-verify/tests__vxlan-decoder-01__input.pcap",
        1,
        "a DNS query on port 32021 (tshark shows it as DNS)",
    ),
];

/// How the frames compared, beyond equal or not.
#[derive(Default, Debug)]
struct Tally {
    /// Frames whose message the parser found (and whose values were compared).
    found: usize,
    /// Both broken: flowprobe Malformed or NotThis, and tshark reports an error on the
    /// frame or shows one of its placeholders for a broken name.
    both_broken: usize,
    /// The frame was cut by the capture's snaplen.
    cut_by_capture: usize,
    /// A TCP segment whose message continues in later segments: Incomplete (tshark,
    /// reassembly off, shows the part it has).
    tcp_continues: usize,
    /// A bare header (all four counts zero): NotThis by design.
    bare_header: usize,
    /// A class outside IN, CH, HS, NONE and ANY in a question or record (tshark's values):
    /// flowprobe Malformed or NotThis.
    unknown_class: usize,
    /// In a capture under `malformed/`: a header flowprobe refuses (opcode other than 0, 4
    /// and 5, the Z bit, a query with an RCODE), NotThis.
    fuzzed_header: usize,
    /// DNS over QUIC that tshark decrypted (flowprobe sees ciphertext): not compared.
    in_quic: usize,
    /// A message quoted in an ICMP error, cut by the quote: flowprobe Malformed or NotThis
    /// (tshark shows what the quote has).
    icmp_quote: usize,
    /// Found frames by kind (DNS over UDP or TCP, mDNS, LLMNR).
    kinds: std::collections::BTreeMap<&'static str, usize>,
    /// Each frame counted by rule rather than compared: (rule, frame).
    by_rule: Vec<(&'static str, u32)>,
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.found += o.found;
        self.both_broken += o.both_broken;
        self.cut_by_capture += o.cut_by_capture;
        self.tcp_continues += o.tcp_continues;
        self.bare_header += o.bare_header;
        self.unknown_class += o.unknown_class;
        self.fuzzed_header += o.fuzzed_header;
        self.in_quic += o.in_quic;
        self.icmp_quote += o.icmp_quote;
        for (k, n) in &o.kinds {
            *self.kinds.entry(k).or_insert(0) += n;
        }
    }

    fn rule(&mut self, rule: &'static str, frame: u32) {
        self.by_rule.push((rule, frame));
        match rule {
            "cut_by_capture" => self.cut_by_capture += 1,
            "tcp_continues" => self.tcp_continues += 1,
            "both_broken" => self.both_broken += 1,
            "bare_header" => self.bare_header += 1,
            "unknown_class" => self.unknown_class += 1,
            "in_quic" => self.in_quic += 1,
            "icmp_quote" => self.icmp_quote += 1,
            _ => self.fuzzed_header += 1,
        }
    }
}

/// What flowprobe's own decoder (every tunnel opened) finds in a file: whether a TCP or
/// UDP packet has a DNS port, and the packets on other ports whose payload `dns::parse`
/// (UDP) or `dns::parse_tcp` (TCP) finds a message in (1-based packet numbers).
struct Scan {
    dns_ports: bool,
    found_elsewhere: Vec<(u32, u8, u16, u16)>,
}

fn scan(path: &Path) -> Scan {
    let mut out = Scan {
        dns_ports: false,
        found_elsewhere: Vec::new(),
    };
    let Ok(mut file) = CaptureFile::open(path) else {
        return out;
    };
    let decap = Decap::with_kinds(&TunnelKind::ALL);
    let mut meta = PacketMeta::default();
    let mut number = 0u32;
    while let Ok(Some(p)) = file.next_packet() {
        number += 1;
        let Ok(transport) = decode_payload(p.link_type, p.data, p.orig_len, &decap, &mut meta)
        else {
            continue;
        };
        let k = meta.key;
        if k.proto != PROTO_UDP && k.proto != PROTO_TCP {
            continue;
        }
        if DNS_PORTS.contains(&k.src_port) || DNS_PORTS.contains(&k.dst_port) {
            out.dns_ports = true;
            continue;
        }
        let payload = p.data.get(transport.payload).unwrap_or_default();
        let outcome = if k.proto == PROTO_UDP {
            dns::parse(payload)
        } else {
            dns::parse_tcp(payload)
        };
        if matches!(outcome, Outcome::Found(_)) {
            out.found_elsewhere
                .push((number, k.proto, k.src_port, k.dst_port));
        }
    }
    out
}

/// One difference: (frame, field, what each side said).
type Difference = (u32, &'static str, String);

/// tshark's texts for names it could not read.
const PLACEHOLDERS: [&str; 3] = [
    "<Name too long>",
    "<Name contains a pointer that loops>",
    "<Unknown extended label>",
];

/// Whether the header's flags pass `dns`'s checks (opcode 0, 4 or 5; Z clear; a query's
/// RCODE 0), computed here from the payload's bytes.
fn flags_pass(msg: &[u8]) -> bool {
    let Some(&[hi, lo]) = msg.get(2..4).map(|b| <&[u8; 2]>::try_from(b).unwrap()) else {
        return false;
    };
    let opcode = (hi >> 3) & 0xf;
    let query = hi & 0x80 == 0;
    matches!(opcode, 0 | 4 | 5) && lo & 0x40 == 0 && !(query && lo & 0xf != 0)
}

fn compare(row: &FieldRow, malformed_dir: bool, tally: &mut Tally) -> Vec<Difference> {
    let mut diffs = Vec::new();
    let mut differ = |field: &'static str, ours: String, theirs: String| {
        if ours != theirs {
            diffs.push((
                row.frame,
                field,
                format!("flowprobe {ours:?}, tshark {theirs:?}"),
            ));
        }
    };
    // The transport right below the first DNS layer, and its payload: the innermost of
    // that transport's payloads (tunnels and ICMP errors nest them).
    let protocols = row.first("frame.protocols").unwrap_or_default();
    let layers: Vec<&str> = protocols.split(':').collect();
    let dns_at = layers
        .iter()
        .position(|l| matches!(*l, "dns" | "mdns" | "llmnr"))
        .unwrap_or(0);
    let transport = dns_at
        .checked_sub(1)
        .and_then(|i| layers.get(i))
        .copied()
        .unwrap_or("");
    let tcp = match transport {
        "udp" => false,
        "tcp" => true,
        // DNS over QUIC (RFC 9250) that tshark decrypted with the capture's keys.
        "quic" | "tls" => {
            tally.rule("in_quic", row.frame);
            return diffs;
        }
        other => {
            differ("transport", "udp or tcp".into(), other.into());
            return diffs;
        }
    };
    let payload_field = if tcp { "tcp.payload" } else { "udp.payload" };
    let Some(mut payload) = row.last(payload_field).and_then(unhex) else {
        differ("payload", "a payload".into(), "none".into());
        return diffs;
    };
    if !tcp {
        // What tshark's DNS dissector reads: the UDP length's bytes (an IPv6 datagram
        // reassembled from crafted fragments can be longer).
        if let Some(len) = row.numbers("udp.length").last() {
            payload.truncate((*len as usize).saturating_sub(8));
        }
    }
    let outcome = if tcp {
        dns::parse_tcp(&payload)
    } else {
        dns::parse(&payload)
    };
    let m: Message = match outcome {
        Outcome::Found(m) => {
            tally.found += 1;
            let kind = match (layers.get(dns_at).copied().unwrap_or(""), tcp) {
                ("mdns", _) => "mDNS",
                ("llmnr", _) => "LLMNR",
                (_, true) => "DNS over TCP",
                (_, false) => "DNS over UDP",
            };
            *tally.kinds.entry(kind).or_insert(0) += 1;
            m
        }
        other => {
            // Why not, by rule first; otherwise a difference.
            let tshark_error = row
                .numbers("_ws.expert.severity")
                .iter()
                .any(|s| *s >= EXPERT_ERROR);
            let placeholder = row
                .get("dns.qry.name")
                .iter()
                .chain(row.get("dns.resp.name"))
                .any(|n| PLACEHOLDERS.contains(&n.as_str()));
            let cut = row.numbers("frame.cap_len").first() < row.numbers("frame.len").first();
            let msg = if tcp {
                payload.get(2..).unwrap_or_default()
            } else {
                &payload
            };
            let bare = msg.len() >= 12 && msg.get(4..12).is_some_and(|c| c.iter().all(|b| *b == 0));
            let unknown_class = row
                .numbers("dns.qry.class")
                .iter()
                .chain(&row.numbers("dns.resp.class"))
                .any(|c| !matches!(c & 0x7fff, 1 | 3 | 4 | 254 | 255));
            let broken = matches!(other, Outcome::Malformed(_) | Outcome::NotThis);
            let in_icmp = layers
                .iter()
                .take(dns_at)
                .any(|l| matches!(*l, "icmp" | "icmpv6"));
            if cut {
                tally.rule("cut_by_capture", row.frame);
            } else if broken && in_icmp {
                tally.rule("icmp_quote", row.frame);
            } else if tcp && other == Outcome::Incomplete {
                tally.rule("tcp_continues", row.frame);
            } else if broken && (tshark_error || placeholder) {
                tally.rule("both_broken", row.frame);
            } else if other == Outcome::NotThis && bare {
                tally.rule("bare_header", row.frame);
            } else if broken && unknown_class {
                tally.rule("unknown_class", row.frame);
            } else if other == Outcome::NotThis && malformed_dir && !flags_pass(msg) {
                tally.rule("fuzzed_header", row.frame);
            } else {
                differ(
                    "parse",
                    format!("{other:?}"),
                    format!(
                        "{:?}, flags {:?}, severity {:?}",
                        row.first("_ws.col.Info"),
                        row.first("dns.flags"),
                        row.get("_ws.expert.severity")
                    ),
                );
            }
            return diffs;
        }
    };
    let response = row.first("dns.flags.response").unwrap_or_default();
    differ(
        "response",
        u8::from(m.response).to_string(),
        match response {
            "True" | "1" => "1".into(),
            "False" | "0" => "0".into(),
            other => other.into(),
        },
    );
    // UPDATE (opcode 5, RFC 2136 2.2) names its sections zone, prerequisite, update and
    // additional; tshark's fields follow (the zone's name is still dns.qry.name).
    let update = row.numbers("dns.flags.opcode").first() == Some(&5);
    let (questions, answers) = if update {
        ("dns.count.zones", "dns.count.prerequisites")
    } else {
        ("dns.count.queries", "dns.count.answers")
    };
    // The first message's question: tshark's first name belongs to it only when it has
    // one (a TCP segment's second message would otherwise lend its own).
    let has_question = row.numbers(questions).first().copied().unwrap_or(0) > 0;
    let (name, qtype) = if has_question {
        (
            row.first("dns.qry.name").map(str::to_string),
            row.numbers("dns.qry.type").first().map(|t| *t as u16),
        )
    } else {
        (None, None)
    };
    differ("qname", format!("{:?}", m.qname), format!("{name:?}"));
    differ("qtype", format!("{:?}", m.qtype), format!("{qtype:?}"));
    // tshark shows RCODE on responses only.
    if m.response {
        differ(
            "rcode",
            m.rcode.to_string(),
            row.first("dns.flags.rcode").unwrap_or_default().to_string(),
        );
    }
    differ(
        "answers",
        m.answers.to_string(),
        row.first(answers).unwrap_or_default().to_string(),
    );
    diffs
}

#[test]
fn messages_match_tshark() {
    if !require_tool("tshark") || !require_shared_pcaps() {
        return;
    }
    let root = shared_pcaps();
    let all = captures(&root);
    let scans = parallel_map(&all, |p| scan(p));
    let files: Vec<PathBuf> = all
        .iter()
        .zip(&scans)
        .filter(|(p, s)| {
            s.dns_ports
                || !s.found_elsewhere.is_empty()
                || EXTRA_FILES.iter().any(|(f, _)| {
                    p.strip_prefix(&root)
                        .is_ok_and(|r| r.to_string_lossy() == *f)
                })
        })
        .map(|(p, _)| p.clone())
        .collect();
    let results = parallel_map(&files, |path| {
        // TCP reassembly off: `parse_tcp` is given one segment's payload.
        let rows = tshark_field_rows(
            path,
            &["-o", "tcp.desegment_tcp_streams:FALSE", "-Y", FILTER],
            &FIELDS,
        );
        let mut tally = Tally::default();
        let malformed_dir = path.starts_with(shared_pcaps().join("malformed"));
        let diffs: Vec<Difference> = rows
            .iter()
            .flat_map(|r| compare(r, malformed_dir, &mut tally))
            .collect();
        (rows.len(), diffs, tally)
    });

    let frames_by_file: Vec<usize> = results.iter().map(|(rows, _, _)| *rows).collect();
    let mut frames = 0;
    let mut files_with_dns = 0;
    let mut known = KnownDifferences::new(KNOWN);
    let mut total = Tally::default();
    let mut by_rule = std::collections::BTreeMap::new();
    for (path, (rows, diffs, tally)) in files.iter().zip(results) {
        total.add(&tally);
        let name = relative_name(path, &root);
        for (rule, _) in &tally.by_rule {
            *by_rule.entry((*rule, name.clone())).or_insert(0usize) += 1;
        }
        frames += rows;
        files_with_dns += usize::from(rows > 0);
        known.check(&name, diffs);
    }
    eprintln!(
        "{} captures scanned, {} selected, {files_with_dns} with DNS frames, {frames} frames: \
         {} found and compared ({:?}), {} known differences; not compared, by rule: {} broken \
         for both, {} cut by the capture, {} TCP messages not whole in the segment, {} bare \
         headers, {} unknown classes, {} fuzzed headers, {} in QUIC, {} cut in ICMP quotes",
        all.len(),
        files.len(),
        total.found,
        total.kinds,
        known.seen(),
        total.both_broken,
        total.cut_by_capture,
        total.tcp_continues,
        total.bare_header,
        total.unknown_class,
        total.fuzzed_header,
        total.in_quic,
        total.icmp_quote,
    );
    for ((rule, file), n) in &by_rule {
        eprintln!("  {rule}: {file} ({n})");
    }
    // The strictness check: messages found on other ports.
    for (path, s) in all.iter().zip(&scans) {
        if s.found_elsewhere.is_empty() {
            continue;
        }
        let name = path.strip_prefix(&root).unwrap_or(path).to_string_lossy();
        let packets: Vec<String> = s
            .found_elsewhere
            .iter()
            .take(4)
            .map(|(n, proto, sp, dp)| format!("packet {n} proto {proto} {sp} -> {dp}"))
            .collect();
        match FOUND_ELSEWHERE.iter().find(|(f, _, _)| *f == name) {
            Some((_, n, _)) if *n == s.found_elsewhere.len() => {}
            Some((_, n, _)) => known.unexplained.push(format!(
                "{name}: {} messages found on other ports, {n} expected ({})",
                s.found_elsewhere.len(),
                packets.join(", ")
            )),
            None => known.unexplained.push(format!(
                "{name}: {} messages found on other ports ({})",
                s.found_elsewhere.len(),
                packets.join(", ")
            )),
        }
    }
    for (f, why) in EXTRA_FILES {
        let at = files.iter().position(|p| {
            p.strip_prefix(&root)
                .is_ok_and(|r| r.to_string_lossy() == *f)
        });
        let scanned = all
            .iter()
            .position(|p| {
                p.strip_prefix(&root)
                    .is_ok_and(|r| r.to_string_lossy() == *f)
            })
            .and_then(|i| scans.get(i));
        if at.and_then(|i| frames_by_file.get(i)).copied().unwrap_or(0) == 0 {
            known.unexplained.push(format!(
                "{f}: listed in EXTRA_FILES ({why}) but has no DNS frame"
            ));
        }
        if scanned.is_some_and(|s| s.dns_ports || !s.found_elsewhere.is_empty()) {
            known.unexplained.push(format!(
                "{f}: listed in EXTRA_FILES but the decoder selects it now"
            ));
        }
    }
    for (f, _, _) in FOUND_ELSEWHERE {
        if !all.iter().zip(&scans).any(|(p, s)| {
            p.strip_prefix(&root)
                .is_ok_and(|r| r.to_string_lossy() == *f)
                && !s.found_elsewhere.is_empty()
        }) {
            known
                .unexplained
                .push(format!("{f}: no message found on other ports any more"));
        }
    }
    assert_differences_explained(&known.unexplained, &known.stale());
}
