//! Every capture in `../shared/pcaps/real` and `edge` against tshark.
//!
//! The oracle: tshark's outer IP header of each frame (the first `ip`/`ipv6` layer in
//! `frame.protocols`), summed per direction (source, destination): packets, and octets as
//! IPv4 total length or IPv6 40 + payload length. flowprobe's records, summed the same way,
//! must be equal.
//!
//! Expectations derived for the harder captures (why the same equality holds):
//! - fragments: each fragment is a packet of its own with its own IP length, in tshark and
//!   in flowprobe; tracking only moves later fragments into the first one's flow, which
//!   does not change per-direction sums;
//! - frames cut by the snaplen: both take the octets from the IP header, not the frame;
//! - IPv6 extension headers: both count 40 + payload length, extension headers included;
//! - tunnels: this check is on the outer header, which is what flowprobe meters without
//!   decapsulation.
//!
//! Frames on link types flowprobe does not decode must be counted as such, every one.

mod common;

use std::collections::HashMap;
use std::path::Path;

use flowprobe::flow::cache::CacheConfig;
use flowprobe::pipeline::convert::{convert, ConvertOptions};

use common::{
    describe_totals, manifest, parallel_map, require_shared_pcaps, require_tool, shared_pcaps,
    totals_of, tshark_totals, Collect, ManifestRow, Totals,
};

/// Link types flowprobe decodes.
const SUPPORTED: [u32; 10] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

/// flowprobe's per-direction totals, and how many frames it called unsupported.
fn our_totals(path: &Path) -> (Totals, u64, u64, Vec<String>) {
    let sink = Collect::default();
    let options = ConvertOptions {
        files: vec![path.to_path_buf()],
        cache: CacheConfig::default(),
        workers: 1,
        sampling: Default::default(),
        decap: Default::default(),
        progress: false,
        registry: None,
        direction: Default::default(),
    };
    let report = convert(&options, vec![Box::new(sink.clone())]).expect("conversion starts");
    let totals = totals_of(&sink.records());
    let unsupported: u64 = report.counters.unsupported_link_types.values().sum();
    let errors = report.file_errors.iter().map(|e| e.to_string()).collect();
    assert!(
        report.counters.conserved(),
        "{}: packets not conserved",
        path.display()
    );
    (totals, report.counters.read, unsupported, errors)
}

enum Outcome {
    Equal,
    Unsupported,
    Differs(String),
}

fn check(row: &ManifestRow) -> Outcome {
    let path = shared_pcaps().join(&row.file);
    let link_types = row.link_types();
    let all_supported = !link_types.is_empty() && link_types.iter().all(|l| SUPPORTED.contains(l));
    let (ours, read, unsupported, errors) = our_totals(&path);
    if !all_supported {
        // Frames on a link type we do not decode are all counted as such.
        if link_types.iter().all(|l| !SUPPORTED.contains(l)) && unsupported != read {
            return Outcome::Differs(format!(
                "{read} frames read but {unsupported} counted as unsupported link type"
            ));
        }
        return Outcome::Unsupported;
    }
    let theirs = match tshark_totals(&path) {
        Ok(t) => t,
        Err(e) => return Outcome::Differs(e),
    };
    if ours == theirs {
        Outcome::Equal
    } else {
        Outcome::Differs(format!(
            "{}\n    reader errors: {errors:?}",
            describe_totals(&ours, &theirs)
        ))
    }
}

/// Files where tshark and flowprobe are known to disagree, and why. Each is a decision,
/// not a silenced failure: the reason says why flowprobe's count is the right one.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    ("edge/tcpdump/tests__bigtcp-ipv6.pcap", BIG_TCP),
    ("edge/tcpdump/tests__bigtcp-ipv6-hbh.pcap", BIG_TCP),
    ("edge/tcpdump/tests__bigtcp-ipv6-geneve-ipv4.pcap", BIG_TCP),
    ("edge/tcpdump/tests__bigtcp-ipv6-geneve-ipv6.pcap", BIG_TCP),
    ("edge/tcpdump/tests__bigtcp-ipv6-vxlan-ipv4.pcap", BIG_TCP),
    ("edge/tcpdump/tests__bigtcp-ipv6-vxlan-ipv6.pcap", BIG_TCP),
    ("edge/tcpdump/tests__ipv6_jumbogram_1.pcap", BIG_TCP),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__ipv4-options.pcap",
        "IPv4 source-route options: tshark's ip.dst is the route's final destination; a flow \
         record carries the destination in the IP header, as routers export it",
    ),
    (
        "edge/tcpdump/tests__arista_ether.pcap",
        "Arista timestamp headers of versions 0x0011 and 0x0111: tshark calls the version \
         unknown and stops; flowprobe (like tcpdump, whose test capture this is) reads the \
         64-bit timestamp and goes on to the VLAN, MPLS and IP headers behind it",
    ),
    (
        "edge/akvorado/outlet__flow__decoder__testdata__mpls-eompls-cw.pcap",
        "an Ethernet pseudowire with a control word (the file's name says so): tshark's \
         heuristic takes it for one without and reads the customer MACs 4 bytes early; \
         flowprobe skips the control word and finds the IPv4 packet",
    ),
    (
        "edge/tcpdump/tests__ipv6_39_byte_header.pcap",
        "an IPv6 header cut at 39 bytes: tshark shows the source address it could read; a \
         flow needs both addresses, so flowprobe counts the frame as truncated_ip",
    ),
];

/// Why the BIG TCP and jumbogram captures differ.
const BIG_TCP: &str = "IPv6 payload length 0 (Linux BIG TCP, RFC 2675 jumbograms): flowprobe \
    counts the real length (from the jumbo payload option, or the frame's length on the wire); \
    tshark's ipv6.plen is 0, so it counts 40 octets";

#[test]
fn per_direction_totals_equal_tshark_on_real_and_edge_captures() {
    if !require_shared_pcaps() || !require_tool("tshark") {
        return;
    }
    let rows: Vec<ManifestRow> = manifest()
        .into_iter()
        .filter(|r| r.file.starts_with("real/") || r.file.starts_with("edge/"))
        .collect();
    let outcomes = parallel_map(&rows, check);
    let mut by_group: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut failures = Vec::new();
    let mut unsupported = 0;
    for (row, outcome) in rows.iter().zip(&outcomes) {
        let group = if [
            "gre", "vxlan", "geneve", "gtp", "ip-in-ip", "erspan", "teredo", "ayiya",
        ]
        .iter()
        .any(|f| row.has(f))
        {
            "tunnels"
        } else if row.has("ipv4-frag") || row.has("v6-frag") {
            "fragments"
        } else if row.has("snaplen-trunc") {
            "truncated"
        } else if row.has("v6ext-hbh") || row.has("v6ext-rh") || row.has("v6ext-dst") {
            "ipv6 extension headers"
        } else {
            "plain"
        };
        let e = by_group.entry(group).or_default();
        match outcome {
            Outcome::Equal => e.0 += 1,
            Outcome::Unsupported => unsupported += 1,
            Outcome::Differs(why) => {
                e.1 += 1;
                if !KNOWN_DIFFERENCES.iter().any(|(f, _)| *f == row.file) {
                    failures.push(format!("{} [{group}]\n{why}", row.file));
                }
            }
        }
    }
    eprintln!("files on link types flowprobe does not decode: {unsupported}");
    for (group, (equal, differ)) in &by_group {
        eprintln!("{group:<24} equal {equal:>5}  differ {differ:>4}");
    }
    assert!(
        failures.is_empty(),
        "{} captures differ from tshark:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
