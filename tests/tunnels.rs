//! Tunnel decapsulation against tshark, on every capture of `../shared/pcaps` that the
//! manifest says carries VXLAN, Geneve, GRE, ERSPAN, GTP or IP in IP.
//!
//! The oracle is tshark's dissection of each frame (`frame.protocols` and every
//! occurrence of the IP fields). From it the test derives which IP header flowprobe must
//! meter with every tunnel kind opened: starting from the outer header, it steps to the
//! next IP header whenever what lies between is a tunnel flowprobe opens (IP directly in
//! IP; GRE carrying IP, Ethernet, ERSPAN or MPLS; VXLAN, Geneve or GTP-U over UDP), and
//! stops at anything else (PPP in PPTP's GRE, an ICMP error quoting a header, ...). A
//! tunnel that opens onto a frame without IP (ARP over VXLAN) is not metered at all.
//! Per direction (source, destination), packets and octets summed over flowprobe's
//! records must equal tshark's on that header; with decapsulation off, on the outer one.
//!
//! A second check reads the tunnel tshark saw around the metered header (kind, VNI / GRE
//! key / ERSPAN span id / TEID, outer addresses) and requires every tunneled record to
//! carry one that tshark saw for its addresses.

mod common;

use std::collections::HashSet;
use std::path::Path;
use std::process::Command;

use flowprobe::decode::Decap;
use flowprobe::flow::record::FlowRecord;
use flowprobe::flow::tunnel::TunnelKind;
use flowprobe::pipeline::convert::{convert, ConvertOptions};

use common::{
    describe_totals, manifest, parallel_map, require_shared_pcaps, require_tool, shared_pcaps,
    totals_of, tshark_totals, Collect, ManifestRow, Totals,
};

/// Manifest features of the tunnel captures.
const TUNNEL_FEATURES: [&str; 6] = ["vxlan", "geneve", "gre", "erspan", "gtp", "ip-in-ip"];

/// Link types flowprobe decodes.
const SUPPORTED: [u32; 10] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

/// Captures where flowprobe and this oracle disagree by decision, and why.
const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "edge/tcpdump/tests__erspan-type-iii-pb-1.pcap",
        "a fuzzed frame whose ERSPAN III header is complete but whose mirrored frame is cut \
         after 3 bytes: the tunnel names its payload, so flowprobe counts the frame as \
         truncated_link_layer; tshark stops at the tunnel and shows the outer IPv6",
    ),
    ("edge/tcpdump/tests__bigtcp-ipv6-geneve-ipv4.pcap", BIG_TCP),
    ("edge/tcpdump/tests__bigtcp-ipv6-geneve-ipv6.pcap", BIG_TCP),
    ("edge/tcpdump/tests__bigtcp-ipv6-vxlan-ipv4.pcap", BIG_TCP),
    ("edge/tcpdump/tests__bigtcp-ipv6-vxlan-ipv6.pcap", BIG_TCP),
];

const BIG_TCP: &str = "outer IPv6 payload length 0 (BIG TCP): see tshark_oracle.rs";

/// Tokens that may sit between an Ethernet or MPLS tunnel payload and the inner IP.
const INNER_LINK: [&str; 8] = [
    "eth",
    "ethertype",
    "vlan",
    "mpls",
    "pwethheuristic",
    "pwethcw",
    "pwethnocw",
    "erspan",
];

/// The kind of tunnel the tokens between two IP headers form, if flowprobe opens it.
fn tunnel_between(between: &[&str]) -> Option<TunnelKind> {
    match between {
        [] => Some(TunnelKind::IpInIp),
        ["gre", rest @ ..] if rest.iter().all(|t| INNER_LINK.contains(t)) => {
            if rest.contains(&"erspan") {
                Some(TunnelKind::Erspan)
            } else {
                Some(TunnelKind::Gre)
            }
        }
        ["udp", "vxlan", rest @ ..] if rest.iter().all(|t| INNER_LINK.contains(t)) => {
            Some(TunnelKind::Vxlan)
        }
        ["udp", "geneve", rest @ ..] if rest.iter().all(|t| INNER_LINK.contains(t)) => {
            Some(TunnelKind::Geneve)
        }
        ["udp", "gtp"] => Some(TunnelKind::GtpU),
        _ => None,
    }
}

/// Whether the tokens after the metered header open a tunnel onto a payload with no IP
/// (flowprobe counts such a frame as undecodable, not as the outer packet).
fn opens_onto_non_ip(tail: &[&str]) -> bool {
    matches!(
        tail,
        ["gre", "eth" | "mpls", ..]
            | ["gre", "erspan", "eth", ..]
            | ["udp", "vxlan", ..]
            | ["udp", "geneve", "eth", ..]
    )
}

/// GRE protocol types flowprobe follows (IP, bridged Ethernet, MPLS, ERSPAN).
const GRE_OPENED: [&str; 7] = [
    "0x0800", "0x86dd", "0x6558", "0x8847", "0x8848", "0x88be", "0x22eb",
];

/// Columns of the tshark output (see `tshark_inner`).
const PROTOCOLS: usize = 0;
const MF: usize = 12;
const FRAG_OFFSET: usize = 13;
const GRE_PROTO: usize = 14;

/// What tshark says flowprobe meters of one frame, with all tunnels opened.
struct Metered {
    src: String,
    dst: String,
    octets: u64,
    /// The innermost opened tunnel: kind, id, outer source, outer destination.
    tunnel: Option<(TunnelKind, u32, String, String)>,
}

/// The nth comma-separated occurrence of a field.
fn nth(field: &str, n: usize) -> Option<&str> {
    field.split(',').nth(n).filter(|s| !s.is_empty())
}

/// Reads one tshark line (see `tshark_inner`) into what is metered; `None` when the frame
/// yields no flow.
fn metered(f: &[&str]) -> Option<Metered> {
    let raw: Vec<&str> = f[PROTOCOLS].split(':').collect();
    // An IPv6 layer is a fragment when its extension headers include a fragment header.
    let mut v6_fragment = Vec::new();
    for (i, t) in raw.iter().enumerate() {
        if *t == "ipv6" {
            let ext = raw[i + 1..].iter().take_while(|t| t.starts_with("ipv6."));
            v6_fragment.push(ext.clone().any(|t| *t == "ipv6.fraghdr"));
        }
    }
    // IPv6 extension headers (AH among them) are walked over by flowprobe; IPv4's AH is
    // the packet's protocol, as routers report it, so it stays.
    let mut last_ip = "";
    let tokens: Vec<&str> = raw
        .iter()
        .copied()
        .filter(|t| {
            if *t == "ip" || *t == "ipv6" {
                last_ip = t;
            }
            !(t.starts_with("ipv6.") || (*t == "ah" && last_ip == "ipv6"))
        })
        .collect();
    let ips: Vec<usize> = (0..tokens.len())
        .filter(|&i| tokens[i] == "ip" || tokens[i] == "ipv6")
        .collect();
    // A layer tshark calls IP without reading it as one (wrong version nibble) has no
    // fields; flowprobe reads no flow there either.
    let v4_layers = tokens.iter().filter(|t| **t == "ip").count();
    if f[1].split(',').filter(|s| !s.is_empty()).count() != v4_layers {
        return None;
    }
    let index_in_family = |k: usize| {
        ips[..k]
            .iter()
            .filter(|&&i| tokens[i] == tokens[ips[k]])
            .count()
    };
    let is_fragment = |k: usize| {
        let n = index_in_family(k);
        if tokens[ips[k]] == "ip" {
            nth(f[MF], n) == Some("1") || nth(f[FRAG_OFFSET], n).is_some_and(|o| o != "0")
        } else {
            v6_fragment.get(n).copied().unwrap_or(false)
        }
    };
    let mut chosen = 0;
    let mut tunnel = None;
    while chosen + 1 < ips.len() && !is_fragment(chosen) {
        let between = &tokens[ips[chosen] + 1..ips[chosen + 1]];
        let kind = tunnel_between(between).filter(|k| match k {
            TunnelKind::Gre | TunnelKind::Erspan => {
                let n = tokens[..ips[chosen]]
                    .iter()
                    .filter(|t| **t == "gre")
                    .count();
                nth(f[GRE_PROTO], n).is_some_and(|p| GRE_OPENED.contains(&p))
            }
            _ => true,
        });
        match kind {
            Some(kind) => {
                tunnel = Some((kind, chosen));
                chosen += 1;
            }
            None => break,
        }
    }
    let &at = ips.get(chosen)?;
    if opens_onto_non_ip(&tokens[at + 1..]) && !ips.iter().any(|&i| i > at) {
        return None;
    }
    // Occurrence index of this header within its family's fields.
    let family = tokens[at];
    let index = ips[..chosen]
        .iter()
        .filter(|&&i| tokens[i] == family)
        .count();
    let (s, d, l) = if family == "ip" { (1, 2, 3) } else { (4, 5, 6) };
    let src = nth(f[s], index)?.to_string();
    let dst = nth(f[d], index)?.to_string();
    let len: u64 = nth(f[l], index)?.parse().ok()?;
    let octets = if family == "ip" { len } else { 40 + len };
    let tunnel = tunnel.map(|(kind, outer)| {
        let of = tokens[ips[outer]];
        let oi = ips[..outer].iter().filter(|&&i| tokens[i] == of).count();
        let (os, od) = if of == "ip" { (1, 2) } else { (4, 5) };
        let last = |col: usize| -> u32 {
            f[col]
                .split(',')
                .rfind(|s| !s.is_empty())
                .and_then(|v| {
                    let v = v.trim_start_matches("0x");
                    u32::from_str_radix(v, 16)
                        .ok()
                        .filter(|_| f[col].contains("0x"))
                        .or_else(|| v.parse().ok())
                })
                .unwrap_or(0)
        };
        let id = match kind {
            TunnelKind::Vxlan => last(7),
            TunnelKind::Geneve => last(8),
            TunnelKind::Gre => last(9),
            TunnelKind::Erspan => last(10),
            TunnelKind::GtpU => last(11),
            _ => 0,
        };
        (
            kind,
            id,
            nth(f[os], oi).unwrap_or_default().to_string(),
            nth(f[od], oi).unwrap_or_default().to_string(),
        )
    });
    Some(Metered {
        src,
        dst,
        octets,
        tunnel,
    })
}

/// tshark's view of every frame, with all tunnels opened.
fn tshark_inner(path: &Path) -> Result<Vec<Metered>, String> {
    let out = Command::new("tshark")
        .args([
            "-n",
            "-o",
            "ip.defragment:FALSE",
            "-o",
            "ipv6.defragment:FALSE",
            "-r",
        ])
        .arg(path)
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "separator=\t"])
        .args(["-e", "frame.protocols"])
        .args(["-e", "ip.src", "-e", "ip.dst", "-e", "ip.len"])
        .args(["-e", "ipv6.src", "-e", "ipv6.dst", "-e", "ipv6.plen"])
        .args(["-e", "vxlan.vni", "-e", "geneve.vni", "-e", "gre.key"])
        .args(["-e", "erspan.spanid", "-e", "gtp.teid"])
        .args([
            "-e",
            "ip.flags.mf",
            "-e",
            "ip.frag_offset",
            "-e",
            "gre.proto",
        ])
        .output()
        .map_err(|e| format!("tshark: {e}"))?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split('\t').collect();
            if f.len() < 15 {
                return None;
            }
            metered(&f)
        })
        .collect())
}

fn ours(path: &Path, decap: Decap) -> Vec<FlowRecord> {
    let sink = Collect::default();
    let options = ConvertOptions {
        decap,
        ..ConvertOptions::new(vec![path.to_path_buf()])
    };
    let report = convert(&options, vec![Box::new(sink.clone())]).expect("conversion starts");
    assert!(report.counters.conserved(), "{}", path.display());
    sink.records()
}

/// Problems found in one capture (empty = agrees with tshark both ways).
fn check(row: &ManifestRow) -> Vec<String> {
    let path = shared_pcaps().join(&row.file);
    let mut problems = Vec::new();
    // Decapsulation off: the outer header, as tshark's first IP layer.
    let outer = totals_of(&ours(&path, Decap::default()));
    match tshark_totals(&path) {
        Ok(t) if t == outer => {}
        Ok(t) => problems.push(format!("decap off:\n{}", describe_totals(&outer, &t))),
        Err(e) => problems.push(e),
    }
    // Every kind opened: the innermost header.
    let records = ours(&path, Decap::with_kinds(&TunnelKind::ALL));
    let inner = totals_of(&records);
    let frames = match tshark_inner(&path) {
        Ok(f) => f,
        Err(e) => return vec![e],
    };
    let mut theirs = Totals::new();
    let mut seen = HashSet::new();
    for m in &frames {
        let e = theirs.entry((m.src.clone(), m.dst.clone())).or_default();
        e.0 += 1;
        e.1 += m.octets;
        if let Some(t) = &m.tunnel {
            seen.insert((m.src.clone(), m.dst.clone(), t.clone()));
        }
    }
    if theirs != inner {
        problems.push(format!("decap all:\n{}", describe_totals(&inner, &theirs)));
    }
    for r in records.iter().filter(|r| r.tunnel.is_some()) {
        let t = &r.tunnel;
        let wanted = (
            r.key.src_addr().to_string(),
            r.key.dst_addr().to_string(),
            (
                t.kind,
                t.id,
                t.outer_src_addr().to_string(),
                t.outer_dst_addr().to_string(),
            ),
        );
        if !seen.contains(&wanted) {
            problems.push(format!("tunnel not seen by tshark: {wanted:?}"));
            break;
        }
    }
    problems
}

#[test]
fn inner_totals_equal_tshark_with_decap_and_outer_totals_without() {
    if !require_shared_pcaps() || !require_tool("tshark") {
        return;
    }
    let rows: Vec<ManifestRow> = manifest()
        .into_iter()
        .filter(|r| TUNNEL_FEATURES.iter().any(|f| r.has(f)))
        .filter(|r| {
            let lt = r.link_types();
            !lt.is_empty() && lt.iter().all(|l| SUPPORTED.contains(l))
        })
        .collect();
    assert!(rows.len() >= 50, "only {} tunnel captures", rows.len());
    let outcomes = parallel_map(&rows, check);
    let mut failures = Vec::new();
    let mut tunneled_equal = 0;
    for (row, problems) in rows.iter().zip(outcomes) {
        let known = KNOWN_DIFFERENCES.iter().any(|(f, _)| *f == row.file);
        match (problems.is_empty(), known) {
            (true, true) => failures.push(format!("{}: now agrees, drop it", row.file)),
            (true, false) => tunneled_equal += 1,
            (false, true) => {}
            (false, false) => failures.push(format!("{}\n{}", row.file, problems.join("\n"))),
        }
    }
    eprintln!(
        "{tunneled_equal} tunnel captures agree with tshark, {} known differences",
        KNOWN_DIFFERENCES.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {} captures differ:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
