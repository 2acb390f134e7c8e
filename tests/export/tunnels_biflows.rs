//! Tunnel, direction, egress interface and biflow elements against decoders we did not
//! write: tshark (IPFIX file, IPFIX and v9 over UDP), netflow_parser (IPFIX with reverse
//! and enterprise elements, v9), nfcapd + nfdump (v9 and IPFIX).
//!
//! The expected values come from the records themselves (and from independent rules:
//! RFC 5103 for biflows, the IANA `layer2SegmentId` layout), never from our encoder.

use std::collections::BTreeMap;
use std::path::Path;

use flowprobe::export::{collector_sink, ipfix_file_sink, CollectorUrl, ExportOptions};
use flowprobe::flow::record::{FlowDirection, FlowRecord, ReverseCounters};
use flowprobe::flow::tunnel::{Tunnel, TunnelKind};

use super::helpers::*;
use super::tshark::{assert_clean, tshark};

/// `synthetic` records given tunnels, directions, egress interfaces and reverse counters
/// in every combination (a biflow's reverse half is empty for every 7th record, its forward
/// half for every 11th).
pub fn shaped(n: usize, seed: u64, biflow: bool) -> Vec<FlowRecord> {
    let mut rng = Rng::new(seed ^ 0x5eed);
    synthetic(n, seed, false)
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            let outer_v6 = rng.below(3) == 0;
            let mut outer_src = [0u8; 16];
            let mut outer_dst = [0u8; 16];
            if outer_v6 {
                outer_src[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                outer_dst[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                outer_src[15] = 1;
                outer_dst[15] = (i % 250) as u8 + 2;
            } else {
                outer_src[..4].copy_from_slice(&[10, 1, 0, 1]);
                outer_dst[..4].copy_from_slice(&[10, 2, (i / 250) as u8, (i % 250) as u8]);
            }
            let kind = match rng.below(9) {
                0..=2 => TunnelKind::None,
                3 => TunnelKind::Vxlan,
                4 => TunnelKind::Gre,
                5 => TunnelKind::Erspan,
                6 => TunnelKind::GtpU,
                7 => TunnelKind::Geneve,
                _ => TunnelKind::IpInIp,
            };
            if kind != TunnelKind::None {
                r.tunnel = Tunnel {
                    kind,
                    id: if kind == TunnelKind::IpInIp {
                        0
                    } else {
                        rng.below(1 << 24) as u32
                    },
                    outer_ip_version: if outer_v6 { 6 } else { 4 },
                    outer_src,
                    outer_dst,
                };
            }
            r.direction = match rng.below(3) {
                0 => FlowDirection::Unknown,
                1 => FlowDirection::Ingress,
                _ => FlowDirection::Egress,
            };
            r.egress_if = if rng.below(2) == 0 {
                0
            } else {
                1 + rng.below(100) as u32
            };
            if biflow {
                let packets = if i % 7 == 0 { 0 } else { 1 + rng.below(500) };
                let start = r.start.saturating_add(std::time::Duration::from_millis(3));
                r.reverse = Some(ReverseCounters {
                    start,
                    end: start.max(r.end),
                    packets,
                    octets: packets * (40 + rng.below(1000)),
                    tcp_flags: if r.key.proto == 6 && packets > 0 {
                        rng.below(64) as u8
                    } else {
                        0
                    },
                    min_ttl: 30,
                    max_ttl: 40,
                });
                if i % 11 == 0 && packets > 0 && r.key.reversed().is_some() {
                    r.packets = 0;
                    r.octets = 0;
                }
            }
            r
        })
        .collect()
}

/// One data record as tshark dissected it: (field name, showname, show, raw hex value).
type Dissected = Vec<(String, String, String, String)>;

fn attr(line: &str, name: &str) -> String {
    let key = format!(" {name}=\"");
    line.find(&key)
        .and_then(|i| {
            let rest = &line[i + key.len()..];
            rest.find('"').map(|j| rest[..j].to_string())
        })
        .unwrap_or_default()
}

/// The flow data records of a capture or IPFIX file, in order, from tshark's PDML
/// (options records, which carry no packet counter, are left out).
fn dissect(path: &Path, decode_as: &[&str]) -> Vec<Dissected> {
    let mut args: Vec<&str> = decode_as.to_vec();
    args.extend(["-T", "pdml"]);
    let pdml = tshark(path, &args);
    let mut flows: Vec<Dissected> = Vec::new();
    for line in pdml.lines() {
        let line = line.trim_start();
        if line.starts_with("<field name=\"\" show=\"Flow ") {
            flows.push(Vec::new());
        } else if line.starts_with("<field name=\"cflow.") {
            if let Some(flow) = flows.last_mut() {
                flow.push((
                    attr(line, "name"),
                    attr(line, "showname"),
                    attr(line, "show"),
                    attr(line, "value"),
                ));
            }
        }
    }
    flows
        .into_iter()
        .filter(|f| f.iter().any(|(n, ..)| n == "cflow.packets"))
        .collect()
}

/// The values of field `name` in a record: forward (`reverse == false`) or the RFC 5103
/// reverse ones, which tshark shows under the same name marked "(Reverse Type ...)".
fn values(flow: &Dissected, name: &str, reverse: bool) -> Vec<u64> {
    flow.iter()
        .filter(|(n, showname, ..)| n == name && showname.contains("(Reverse Type") == reverse)
        .map(|(_, _, show, _)| {
            match show.strip_prefix("0x") {
                Some(h) => u64::from_str_radix(h, 16).ok(),
                None => show.parse().ok(),
            }
            .unwrap_or_else(|| panic!("{name}: {show}"))
        })
        .collect()
}

/// flowprobe's enterprise elements (PEN 32473, which tshark names "Example Enterprise
/// Number for Documentation Use"), by element id: the raw value bytes as hex.
fn enterprise(flow: &Dissected) -> BTreeMap<u16, String> {
    flow.iter()
        .filter(|(n, ..)| n == "cflow.enterprise_private_entry")
        .map(|(_, showname, _, value)| {
            assert!(
                showname.contains("(Example Enterprise Number for Documentation Use) Type "),
                "{showname}"
            );
            let id = showname
                .split(" Type ")
                .nth(1)
                .and_then(|t| t.split(':').next())
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("{showname}"));
            (id, value.clone())
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What tshark must show for a record's tunnel, direction and egress interface.
fn check_extras(flow: &Dissected, r: &FlowRecord, ipfix: bool, i: usize) {
    let t = &r.tunnel;
    let direction: Vec<u64> = match r.direction {
        FlowDirection::Unknown => vec![],
        FlowDirection::Ingress => vec![0],
        FlowDirection::Egress => vec![1],
    };
    assert_eq!(
        values(flow, "cflow.direction", false),
        direction,
        "record {i}"
    );
    let egress: Vec<u64> = if r.egress_if == 0 {
        vec![]
    } else {
        vec![r.egress_if.into()]
    };
    assert_eq!(values(flow, "cflow.outputint", false), egress, "record {i}");
    assert_eq!(
        values(flow, "cflow.inputint", false),
        vec![u64::from(r.key.in_if)]
    );
    let gre: Vec<u64> = if t.kind == TunnelKind::Gre {
        vec![t.id.into()]
    } else {
        vec![]
    };
    assert_eq!(values(flow, "cflow.gre_key", false), gre, "record {i}");
    // IANA layer2SegmentId: overlay type 0x01 (VXLAN) in the top octet, the VNI below.
    let segment: Vec<u64> = if t.kind == TunnelKind::Vxlan {
        vec![1 << 56 | u64::from(t.id)]
    } else {
        vec![]
    };
    assert_eq!(
        values(flow, "cflow.layer2_segment_id", false),
        segment,
        "record {i}"
    );
    let e = enterprise(flow);
    if !ipfix || !t.is_some() {
        assert!(e.is_empty(), "record {i}: {e:?}");
        return;
    }
    let n = if t.outer_ip_version == 6 { 16 } else { 4 };
    let (src_id, dst_id) = if n == 16 { (5, 6) } else { (3, 4) };
    let want: BTreeMap<u16, String> = [
        (1, hex(&[t.kind as u8])),
        (2, hex(&t.id.to_be_bytes())),
        (src_id, hex(&t.outer_src[..n])),
        (dst_id, hex(&t.outer_dst[..n])),
    ]
    .into_iter()
    .collect();
    assert_eq!(e, want, "record {i}");
}

/// The uniflow records a biflow output's records stand for (what a uniflow output sends).
fn split(records: &[FlowRecord]) -> Vec<FlowRecord> {
    records.iter().flat_map(|r| r.uniflows()).collect()
}

fn sum(records: &[FlowRecord]) -> (u64, u64) {
    records
        .iter()
        .fold((0, 0), |(p, o), r| (p + r.packets, o + r.octets))
}

/// RFC 5103 biflowDirection: 1 (initiator) unless a TCP flow shows no SYN either way.
fn initiator(r: &FlowRecord) -> u64 {
    let flags = r.tcp_flags | r.reverse.map_or(0, |v| v.tcp_flags);
    u64::from(!(r.key.proto == 6 && flags & 0x02 == 0))
}

/// Biflow IPFIX (file and UDP) dissected by tshark: the reverse counters are where RFC
/// 5103 puts them, and forward plus reverse equal the two uniflows that a uniflow output
/// sends for the same records, as tshark decodes them too.
#[test]
fn biflow_records_in_tshark_add_up_to_the_uniflows() {
    if !have_tool("tshark") {
        return;
    }
    let records = shaped(1500, 31, true);
    let dir = tempfile::tempdir().unwrap();
    let bi = dir.path().join("bi.ipfix");
    let uni = dir.path().join("uni.ipfix");
    let opts = ExportOptions {
        biflow: true,
        ..test_options()
    };
    let stats = drive(ipfix_file_sink(&bi, &opts).unwrap().as_mut(), &records, 250);
    assert_eq!(stats.records, 1500);
    let ustats = drive(
        ipfix_file_sink(&uni, &test_options()).unwrap().as_mut(),
        &records,
        250,
    );
    let uniflows = split(&records);
    assert!(uniflows.len() > 1500 && uniflows.len() < 3000);
    assert_eq!(ustats.records as usize, uniflows.len());
    assert_clean(&bi, &[]);
    assert_clean(&uni, &[]);

    let got_bi = dissect(&bi, &[]);
    assert_eq!(got_bi.len(), 1500);
    let (mut fwd, mut rev) = ((0u64, 0u64), (0u64, 0u64));
    for (i, (flow, r)) in got_bi.iter().zip(&records).enumerate() {
        let rc = r.reverse.unwrap();
        assert_eq!(
            values(flow, "cflow.packets", false),
            vec![r.packets],
            "record {i}"
        );
        assert_eq!(
            values(flow, "cflow.octets", false),
            vec![r.octets],
            "record {i}"
        );
        assert_eq!(
            values(flow, "cflow.packets", true),
            vec![rc.packets],
            "record {i}"
        );
        assert_eq!(
            values(flow, "cflow.octets", true),
            vec![rc.octets],
            "record {i}"
        );
        assert_eq!(
            values(flow, "cflow.tcpflags", true),
            vec![u64::from(rc.tcp_flags)],
            "record {i}"
        );
        let ttl = |v: u8| if rc.packets > 0 { u64::from(v) } else { 0 };
        assert_eq!(values(flow, "cflow.ttl_min", true), vec![ttl(rc.min_ttl)]);
        assert_eq!(values(flow, "cflow.ttl_max", true), vec![ttl(rc.max_ttl)]);
        assert_eq!(
            values(flow, "cflow.biflow_direction", false),
            vec![initiator(r)],
            "record {i}"
        );
        check_extras(flow, r, true, i);
        fwd = (
            fwd.0 + values(flow, "cflow.packets", false)[0],
            fwd.1 + values(flow, "cflow.octets", false)[0],
        );
        rev = (
            rev.0 + values(flow, "cflow.packets", true)[0],
            rev.1 + values(flow, "cflow.octets", true)[0],
        );
    }
    // The uniflow output, as tshark reads it: same totals, record by record.
    let got_uni = dissect(&uni, &[]);
    assert_eq!(got_uni.len(), uniflows.len());
    let mut uni_total = (0u64, 0u64);
    for (i, (flow, r)) in got_uni.iter().zip(&uniflows).enumerate() {
        assert!(
            values(flow, "cflow.packets", true).is_empty(),
            "no reverse elements"
        );
        assert!(values(flow, "cflow.biflow_direction", false).is_empty());
        assert_eq!(
            values(flow, "cflow.packets", false),
            vec![r.packets],
            "uniflow {i}"
        );
        check_extras(flow, r, true, i);
        uni_total.0 += values(flow, "cflow.packets", false)[0];
        uni_total.1 += values(flow, "cflow.octets", false)[0];
    }
    assert!(rev.0 > 0 && fwd.0 > 0);
    assert_eq!((fwd.0 + rev.0, fwd.1 + rev.1), uni_total);
    assert_eq!(uni_total, sum(&uniflows));

    // The same biflows to a UDP collector with ?biflow=1.
    let rx = Receiver::start(false);
    let url: CollectorUrl = format!("ipfix://{}?biflow=1", rx.addr).parse().unwrap();
    let stats = drive(
        collector_sink(&url, &test_options()).unwrap().as_mut(),
        &records,
        200,
    );
    let msgs = rx.stop();
    assert_eq!((stats.records, stats.messages as usize), (1500, msgs.len()));
    let pcap = dir.path().join("bi.pcap");
    write_pcap(&pcap, &msgs, 4739);
    let decode = ["-d", "udp.port==4739,cflow"];
    assert_clean(&pcap, &decode);
    let got = dissect(&pcap, &decode);
    assert_eq!(got.len(), 1500);
    let reverse_packets: u64 = got
        .iter()
        .map(|f| values(f, "cflow.packets", true)[0])
        .sum();
    assert_eq!(reverse_packets, rev.0);
}

/// Uniflow IPFIX (file) and v9 (UDP) with tunnels, directions and egress interfaces: tshark
/// finds greKey, layer2SegmentId, flowDirection, egressInterface (v9: OUTPUT_SNMP,
/// DIRECTION) exactly on the records that have them, and flowprobe's enterprise elements in
/// IPFIX only.
#[test]
fn tunnel_and_direction_elements_in_tshark() {
    if !have_tool("tshark") {
        return;
    }
    let records = shaped(1500, 32, false);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("uni.ipfix");
    drive(
        ipfix_file_sink(&file, &test_options()).unwrap().as_mut(),
        &records,
        250,
    );
    assert_clean(&file, &[]);
    let got = dissect(&file, &[]);
    assert_eq!(got.len(), records.len());
    for (i, (flow, r)) in got.iter().zip(&records).enumerate() {
        assert_eq!(values(flow, "cflow.packets", false), vec![r.packets]);
        check_extras(flow, r, true, i);
    }
    // Every kind of tunnel, both directions and both outer versions were there.
    for kind in TunnelKind::ALL {
        if kind != TunnelKind::MplsUdp {
            assert!(records.iter().any(|r| r.tunnel.kind == kind), "{kind:?}");
        }
    }

    let (msgs, stats) = export_udp("v9", &records, &test_options());
    assert_eq!(stats.records, 1500);
    let pcap = dir.path().join("v9.pcap");
    write_pcap(&pcap, &msgs, 2055);
    let decode = ["-d", "udp.port==2055,cflow"];
    assert_clean(&pcap, &decode);
    let got = dissect(&pcap, &decode);
    assert_eq!(got.len(), records.len());
    for (i, (flow, r)) in got.iter().zip(&records).enumerate() {
        check_extras(flow, r, false, i);
    }
}
