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
//!
//! Where tshark needs to be told how to read a file (`TSHARK_ARGS`), it is; where only
//! some frames of a file are known to differ (`KNOWN_FRAME_DIFFERENCES`), the other
//! frames are compared and the excused ones must still differ. Whole files are excused
//! (`KNOWN_DIFFERENCES`) only where every frame of them differs for one reason.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use flowprobe::flow::cache::CacheConfig;
use flowprobe::pipeline::convert::{convert, ConvertOptions};

use common::{
    describe_totals, manifest, parallel_map, require_shared_pcaps, require_tool, shared_pcaps,
    totals_of, tshark_totals_with, Collect, ManifestRow, Totals,
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
        sflow: Default::default(),
        inspect: Default::default(),
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
    let excused = frames_known_to_differ(&row.file);
    // With frames excused, flowprobe meters a copy of the file without them.
    let tmp = (!excused.is_empty()).then(|| tempfile::tempdir().expect("temporary directory"));
    let metered = match &tmp {
        Some(dir) => copy_frames(&path, &dir.path().join("compared.pcap"), |n| {
            !excused.contains(&n)
        }),
        None => path.clone(),
    };
    let (ours, read, unsupported, errors) = our_totals(&metered);
    if !all_supported {
        // Frames on a link type we do not decode are all counted as such.
        if link_types.iter().all(|l| !SUPPORTED.contains(l)) && unsupported != read {
            return Outcome::Differs(format!(
                "{read} frames read but {unsupported} counted as unsupported link type"
            ));
        }
        return Outcome::Unsupported;
    }
    let args = tshark_args(&row.file);
    let frame_list = excused
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let not_excused = format!("not frame.number in {{{frame_list}}}");
    let mut compared_args = args.to_vec();
    if !excused.is_empty() {
        compared_args.extend(["-Y", &not_excused]);
    }
    let theirs = match tshark_totals_with(&path, &compared_args) {
        Ok(t) => t,
        Err(e) => return Outcome::Differs(e),
    };
    if ours != theirs {
        return Outcome::Differs(format!(
            "{}\n    reader errors: {errors:?}\n    tshark arguments: {compared_args:?}",
            describe_totals(&ours, &theirs)
        ));
    }
    if let Some(dir) = &tmp {
        // The excused frames, taken together, must still differ: an excuse tshark no
        // longer needs (a newer dissector, a wrong frame number) fails the test.
        let only = copy_frames(&path, &dir.path().join("excused.pcap"), |n| {
            excused.contains(&n)
        });
        let (ours, read, _, _) = our_totals(&only);
        if read != excused.len() as u64 {
            return Outcome::Differs(format!(
                "frames {excused:?} are excused but the file has only {} of them",
                read
            ));
        }
        let only_excused = format!("frame.number in {{{frame_list}}}");
        let mut excused_args = args.to_vec();
        excused_args.extend(["-Y", &only_excused]);
        match tshark_totals_with(&path, &excused_args) {
            Ok(theirs) if theirs == ours => {
                return Outcome::Differs(format!(
                    "frames {excused:?} are excused in KNOWN_FRAME_DIFFERENCES but agree \
                     with tshark: remove the excuse"
                ))
            }
            Ok(_) => {}
            Err(e) => return Outcome::Differs(e),
        }
    }
    Outcome::Equal
}

/// The extra tshark arguments `TSHARK_ARGS` has for `file` (none for most files).
fn tshark_args(file: &str) -> &'static [&'static str] {
    TSHARK_ARGS
        .iter()
        .find(|(f, _, _)| *f == file)
        .map_or(&[], |(_, args, _)| args)
}

/// The frames of `file` that `KNOWN_FRAME_DIFFERENCES` excuses, in ascending order.
fn frames_known_to_differ(file: &str) -> Vec<u32> {
    let mut frames: Vec<u32> = KNOWN_FRAME_DIFFERENCES
        .iter()
        .filter(|(f, _, _)| *f == file)
        .map(|(_, n, _)| *n)
        .collect();
    frames.sort_unstable();
    frames
}

/// Writes to `to` a copy of the classic pcap `from` holding only the records whose 1-based
/// number (tshark's `frame.number`) `keep` accepts, each copied byte for byte behind the
/// original file header. Only classic pcap is handled: the test fails on anything else.
fn copy_frames(from: &Path, to: &Path, keep: impl Fn(u32) -> bool) -> PathBuf {
    let bytes = std::fs::read(from).expect("capture readable");
    let big_endian = match bytes.get(..4) {
        // Magic in file order: microsecond and nanosecond pcap, little or big endian.
        Some([0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1]) => false,
        Some([0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d]) => true,
        _ => panic!(
            "{}: frames can only be left out of classic pcap files",
            from.display()
        ),
    };
    let header = bytes.get(..24).expect("24-byte pcap file header");
    let mut out = header.to_vec();
    let mut at = 24;
    let mut number = 0;
    while at < bytes.len() {
        number += 1;
        // Record header: seconds, fraction, captured length, original length.
        let caplen: [u8; 4] = bytes
            .get(at + 8..at + 12)
            .and_then(|b| b.try_into().ok())
            .unwrap_or_else(|| panic!("{}: record {number} header cut", from.display()));
        let caplen = if big_endian {
            u32::from_be_bytes(caplen)
        } else {
            u32::from_le_bytes(caplen)
        };
        let end = at + 16 + caplen as usize;
        let record = bytes
            .get(at..end)
            .unwrap_or_else(|| panic!("{}: record {number} cut", from.display()));
        if keep(number) {
            out.extend_from_slice(record);
        }
        at = end;
    }
    std::fs::write(to, out).expect("copy written");
    to.to_path_buf()
}

/// The akvorado EoMPLS captures (the second one is in `malformed/`, compared here too).
const EOMPLS_CW: &str = "edge/akvorado/outlet__flow__decoder__testdata__mpls-eompls-cw.pcap";
const EOMPLS_INVALID_CW: &str =
    "malformed/akvorado/outlet__flow__decoder__testdata__mpls-eompls-invalid-cw.pcap";

/// tcpdump's Arista AVSP capture.
const ARISTA: &str = "edge/tcpdump/tests__arista_ether.pcap";

/// Files tshark reads right only when told how: the arguments that tell it, and why.
/// These files are compared like any other, with tshark run with these arguments; a file
/// named here is compared even when it is outside `real/` and `edge/`.
const TSHARK_ARGS: &[(&str, &[&str], &str)] = &[
    (EOMPLS_CW, &["-d", "mpls.label==17,pwethcw"], PWETH_CW),
    (
        EOMPLS_INVALID_CW,
        &["-d", "mpls.label==100,pwethcw"],
        PWETH_CW,
    ),
];

/// Why the EoMPLS captures need a decode-as.
const PWETH_CW: &str = "an RFC 4448 Ethernet pseudowire with its RFC 4385 control word (first \
    nibble 0: `00 00 00 00` in cw, `00 00 00 01`, sequence number 1, in invalid-cw). tshark \
    4.0's heuristic (pwethheuristic) takes it for one without a control word and reads the \
    word as the start of the customer's MACs, so it finds no IP. Told the bottom label (17, \
    100) is an Ethernet pseudowire with a control word, it reads the TCP ACK \
    10.31.0.1 -> 10.34.0.1 behind it, which is what flowprobe meters";

/// Frames (1-based, tshark's `frame.number`) where tshark and flowprobe are known to
/// disagree, and why. The other frames of the file are compared: tshark with
/// `-Y "not frame.number in {...}"`, flowprobe on a copy of the file without these frames.
/// The excused frames of a file, taken together, must still differ.
///
/// tcpdump's Arista capture: frames 2, 7, 10 and 14 have AVSP timestamp versions with
/// hardware info 1 (R3); tshark 4.0's AVSP dissector knows only hardware info 0 (0x0010,
/// 0x0110, 0x0020, 0x0120, the other 12 frames) and stops with "Unknown timestamp
/// version"; later Wireshark (packet-avsp.c) and tcpdump (print-arista.c) read the same
/// stamp lengths as flowprobe. Frame 2 after the MACs: `d2 8b | 00 01 | 00 11 | 5c ee ed
/// 58 19 c3 8c 2c | 81 00 00 64 | 08 00 | 45 00 00 4e ...`: VLAN 100, then IPv4
/// 10.136.1.32 -> 10.2.23.24, length 78, with a header checksum that verifies.
const KNOWN_FRAME_DIFFERENCES: &[(&str, u32, &str)] = &[
    (
        ARISTA,
        2,
        "AVSP version 0x0011 (64-bit TAI, hardware info R3): tshark 4.0 does not know it",
    ),
    (
        ARISTA,
        7,
        "AVSP version 0x0111 (64-bit UTC, R3), then MPLS: tshark 4.0 does not know it",
    ),
    (
        ARISTA,
        10,
        "AVSP version 0x0021 (48-bit TAI, R3), then VLAN: tshark 4.0 does not know it",
    ),
    (
        ARISTA,
        14,
        "AVSP version 0x0121 (48-bit UTC, R3), then VLAN: tshark 4.0 does not know it",
    ),
];

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
        .filter(|r| {
            r.file.starts_with("real/")
                || r.file.starts_with("edge/")
                || TSHARK_ARGS.iter().any(|(f, _, _)| *f == r.file)
                || KNOWN_FRAME_DIFFERENCES.iter().any(|(f, _, _)| *f == r.file)
        })
        .collect();
    // Every file the tables name is in the corpus, and no file is both excused whole and
    // compared in part: a renamed capture must not quietly drop out of the comparison.
    let named = TSHARK_ARGS
        .iter()
        .map(|(f, _, _)| *f)
        .chain(KNOWN_FRAME_DIFFERENCES.iter().map(|(f, _, _)| *f));
    for file in named {
        assert!(
            rows.iter().any(|r| r.file == file),
            "{file} is named in TSHARK_ARGS or KNOWN_FRAME_DIFFERENCES but not in MANIFEST.tsv"
        );
        assert!(
            KNOWN_DIFFERENCES.iter().all(|(f, _)| *f != file),
            "{file} is excused whole in KNOWN_DIFFERENCES and compared in part"
        );
    }
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
