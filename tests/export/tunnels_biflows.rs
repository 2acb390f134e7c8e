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
                    tunnel: Default::default(),
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

/// A decoded field's value as a number (addresses, MACs and unknown elements big-endian).
fn number(v: &netflow_parser::FieldValue) -> u128 {
    use netflow_parser::FieldValue;
    match v {
        FieldValue::Ip4Addr(a) => u32::from(*a).into(),
        FieldValue::Ip6Addr(a) => u128::from(*a),
        FieldValue::MacAddr(m) => m.iter().fold(0, |acc, b| acc << 8 | u128::from(*b)),
        FieldValue::Vec(bytes) => bytes.iter().fold(0, |acc, b| acc << 8 | u128::from(*b)),
        FieldValue::ProtocolType(p) => u8::from(*p).into(),
        FieldValue::TcpControlBits(t, _) => u16::from(*t).into(),
        FieldValue::FlowEndReason(r) => u8::from(*r).into(),
        other => other
            .as_u64()
            .unwrap_or_else(|| panic!("no number in {other:?}"))
            .into(),
    }
}

/// (PEN, element id) of a field netflow_parser decoded.
fn element(f: &netflow_parser::IpfixField) -> (u32, u16) {
    use netflow_parser::variable_versions::ipfix::lookup::{
        IANAIPFixField, ReverseInformationElement,
    };
    use netflow_parser::IpfixField;
    // netflow_parser maps ids to enums but not back: build the reverse maps.
    static IANA: std::sync::OnceLock<std::collections::HashMap<IANAIPFixField, u16>> =
        std::sync::OnceLock::new();
    static REVERSE: std::sync::OnceLock<std::collections::HashMap<ReverseInformationElement, u16>> =
        std::sync::OnceLock::new();
    match f {
        IpfixField::IANA(ie) => {
            let map = IANA.get_or_init(|| {
                (0..1024u16)
                    .rev()
                    .map(|id| (IANAIPFixField::from(id), id))
                    .collect()
            });
            (0, map[ie])
        }
        IpfixField::ReverseInformationElement(ie) => {
            let map = REVERSE.get_or_init(|| {
                (0..1024u16)
                    .rev()
                    .map(|id| (ReverseInformationElement::from(id), id))
                    .collect()
            });
            (29305, map[ie])
        }
        IpfixField::Enterprise {
            enterprise_number,
            field_number,
        } => (*enterprise_number, *field_number),
        other => panic!("unexpected element {other:?}"),
    }
}

type Elements = BTreeMap<(u32, u16), u128>;

/// What the tunnel, direction, egress and biflow elements of a record must be, by
/// (PEN, id): IANA ids from the registry, RFC 5103 reverse ids, flowprobe's PEN 32473.
fn expected_extras(r: &FlowRecord, ipfix: bool, biflow: bool) -> Elements {
    let mut m = Elements::new();
    match r.direction {
        FlowDirection::Unknown => {}
        FlowDirection::Ingress => drop(m.insert((0, 61), 0)),
        FlowDirection::Egress => drop(m.insert((0, 61), 1)),
    }
    if r.egress_if != 0 {
        m.insert((0, 14), r.egress_if.into());
    }
    let t = &r.tunnel;
    match t.kind {
        TunnelKind::Gre => drop(m.insert((0, 296), t.id.into())),
        TunnelKind::Vxlan => drop(m.insert((0, 351), 1 << 56 | u128::from(t.id))),
        _ => {}
    }
    if ipfix && t.is_some() {
        let pen = 32473;
        m.insert((pen, 1), (t.kind as u8).into());
        m.insert((pen, 2), t.id.into());
        let addr = |b: &[u8; 16]| {
            if t.outer_ip_version == 6 {
                u128::from_be_bytes(*b)
            } else {
                u32::from_be_bytes([b[0], b[1], b[2], b[3]]).into()
            }
        };
        let v6 = t.outer_ip_version == 6;
        m.insert((pen, if v6 { 5 } else { 3 }), addr(&t.outer_src));
        m.insert((pen, if v6 { 6 } else { 4 }), addr(&t.outer_dst));
    }
    if biflow {
        let rc = r.reverse.unwrap_or_default();
        let seen = |v: u128| if rc.packets > 0 { v } else { 0 };
        m.insert((0, 239), initiator(r).into());
        m.insert((29305, 1), rc.octets.into());
        m.insert((29305, 2), rc.packets.into());
        m.insert((29305, 6), rc.tcp_flags.into());
        m.insert((29305, 52), seen(rc.min_ttl.into()));
        m.insert((29305, 53), seen(rc.max_ttl.into()));
        m.insert((29305, 152), seen(rc.start.as_millis().into()));
        m.insert((29305, 153), seen(rc.end.as_millis().into()));
    }
    m
}

/// The classic elements this test checks besides the extras: addresses' presence aside,
/// the counters, which must stay those of the record.
const CLASSIC: [(u32, u16); 3] = [(0, 1), (0, 2), (0, 10)];

fn check_decoded(got: &[Elements], records: &[FlowRecord], ipfix: bool, biflow: bool) {
    assert_eq!(got.len(), records.len());
    for (i, (fields, r)) in got.iter().zip(records).enumerate() {
        let extras: Elements = fields
            .iter()
            .filter(|(k, _)| k.0 != 0 || [14, 61, 239, 296, 351].contains(&k.1))
            .map(|(k, v)| (*k, *v))
            .collect();
        assert_eq!(
            extras,
            expected_extras(r, ipfix, biflow),
            "record {i}: {r:?}"
        );
        let classic: Vec<u128> = CLASSIC.iter().map(|k| fields[k]).collect();
        assert_eq!(
            classic,
            vec![r.octets.into(), r.packets.into(), r.key.in_if.into()],
            "record {i}"
        );
    }
}

fn decode(msgs: &[Vec<u8>]) -> Vec<Elements> {
    use netflow_parser::variable_versions::ipfix::FlowSetBody as IpfixBody;
    use netflow_parser::variable_versions::v9::FlowSetBody as V9Body;
    use netflow_parser::{NetflowPacket, NetflowParser};
    let mut parser = NetflowParser::default();
    let mut out = Vec::new();
    for m in msgs {
        let r = parser.parse_bytes(m);
        assert!(r.error.is_none(), "netflow_parser error: {:?}", r.error);
        for p in &r.packets {
            match p {
                NetflowPacket::IPFix(p) => {
                    for set in &p.flowsets {
                        match &set.body {
                            IpfixBody::Data(d) => out.extend(d.fields.iter().map(|rec| {
                                rec.iter().map(|(k, v)| (element(k), number(v))).collect()
                            })),
                            IpfixBody::NoTemplate(i) => panic!("data before its template: {i:?}"),
                            _ => {}
                        }
                    }
                }
                NetflowPacket::V9(p) => {
                    for set in &p.flowsets {
                        match &set.body {
                            V9Body::Data(d) => out.extend(d.fields.iter().map(|rec| {
                                rec.iter()
                                    .map(|(k, v)| ((0, u16::from(*k)), number(v)))
                                    .collect()
                            })),
                            V9Body::NoTemplate(i) => panic!("data before its template: {i:?}"),
                            _ => {}
                        }
                    }
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    out
}

/// netflow_parser (a decoder we did not write) reads every new template: the biflow
/// elements under PEN 29305, flowprobe's tunnel elements under PEN 32473, the IANA
/// tunnel and direction elements, in IPFIX (biflow and uniflow) and v9.
#[test]
fn netflow_parser_reads_every_shape() {
    let biflows = shaped(2000, 33, true);
    let url = |rx: &Receiver, q: &str| -> CollectorUrl {
        format!("ipfix://{}{q}", rx.addr).parse().unwrap()
    };
    // IPFIX biflow.
    let rx = Receiver::start(false);
    let stats = drive(
        collector_sink(&url(&rx, "?biflow=1"), &test_options())
            .unwrap()
            .as_mut(),
        &biflows,
        200,
    );
    let msgs = rx.stop();
    assert_eq!(stats.records, 2000);
    check_decoded(&decode(&msgs), &biflows, true, true);
    // IPFIX uniflow: the same biflows, split.
    let rx = Receiver::start(false);
    drive(
        collector_sink(&url(&rx, ""), &test_options())
            .unwrap()
            .as_mut(),
        &biflows,
        200,
    );
    let uniflows = split(&biflows);
    check_decoded(&decode(&rx.stop()), &uniflows, true, false);
    // v9: IANA elements only.
    let (msgs, _) = export_udp("v9", &biflows, &test_options());
    check_decoded(&decode(&msgs), &uniflows, false, false);
}

/// nfcapd + nfdump read every record of v9 and IPFIX exports whose records have tunnels,
/// directions, egress interfaces (and, over IPFIX, biflow elements, which nfdump does not
/// decode but must skip): per direction the totals are exact, and nfdump's output
/// interface and direction columns are the records'.
#[test]
fn nfcapd_reads_every_record_of_every_shape() {
    if !have_tool("nfcapd") || !have_tool("nfdump") {
        return;
    }
    let biflows = shaped(3000, 34, true);
    let uniflows = split(&biflows);
    for (scheme, query) in [("v9", ""), ("ipfix", ""), ("ipfix", "?biflow=1")] {
        let nfcapd = super::nfcapd::Nfcapd::start();
        let url: CollectorUrl = format!("{scheme}://127.0.0.1:{}{query}", nfcapd.port)
            .parse()
            .unwrap();
        let stats = drive(
            collector_sink(&url, &test_options()).unwrap().as_mut(),
            &biflows,
            200,
        );
        assert_eq!(stats.send_errors, 0);
        let lines = nfcapd.stop_and_read_format("fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt|%in|%out|%dir");
        // nfdump stores biflow records' forward half only: compare the forward records.
        let want: Vec<FlowRecord> = if query.is_empty() {
            uniflows.clone()
        } else {
            biflows
                .iter()
                .map(|r| FlowRecord {
                    reverse: None,
                    ..*r
                })
                .collect()
        };
        assert_eq!(
            lines.len(),
            want.len(),
            "{scheme}{query}: every record stored"
        );
        let rows: Vec<String> = lines
            .iter()
            .map(|l| l.split('|').take(7).collect::<Vec<_>>().join("|") + "||")
            .collect();
        let got = super::nfcapd::parse_rows(&rows);
        super::nfcapd::assert_same(&got, &super::nfcapd::truth(&want, 1));
        // Interfaces and direction, as multisets (nfdump's order is its own).
        let mut got_extra: Vec<(u32, u32, String)> = lines
            .iter()
            .map(|l| {
                let f: Vec<&str> = l.split('|').map(str::trim).collect();
                (
                    f[7].parse().unwrap(),
                    f[8].parse().unwrap(),
                    f[9].to_string(),
                )
            })
            .collect();
        let mut want_extra: Vec<(u32, u32, String)> = want
            .iter()
            .map(|r| {
                // nfdump prints flowDirection as I(ngress) / E(gress); a record
                // without the element reads as ingress (0), its default.
                let dir = match r.direction {
                    FlowDirection::Egress => "E",
                    _ => "I",
                };
                (r.key.in_if, r.egress_if, dir.to_string())
            })
            .collect();
        got_extra.sort();
        want_extra.sort();
        let wrong: Vec<_> = got_extra
            .iter()
            .zip(&want_extra)
            .filter(|(g, w)| g != w)
            .take(5)
            .collect();
        assert!(wrong.is_empty(), "{scheme}{query}: (got, want) {wrong:?}");
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Any maximum message size, any mix of shapes, any refresh rate: no message exceeds
    /// the maximum, every data set follows its template, and netflow_parser gets every
    /// record back with its tunnel, direction, egress and biflow elements, in IPFIX
    /// (biflow and uniflow output) and v9.
    #[test]
    fn any_shape_mix_round_trips(max in 512usize..4000, n in 1usize..300, seed in 1u64..u64::MAX, refresh in 0u32..4) {
        use flowprobe::export::sink::TemplateSink;
        use flowprobe::export::template::Dialect;
        let records = shaped(n, seed, seed % 3 != 0);
        for (dialect, biflow) in [(Dialect::Ipfix, true), (Dialect::Ipfix, false), (Dialect::NetflowV9, false)] {
            let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let opts = ExportOptions {
                max_message_size: max,
                template_refresh_packets: refresh,
                biflow,
                ..test_options()
            };
            let mut sink = TemplateSink::new(dialect, Box::new(super::parser::Collect(out.clone())), &opts);
            drive(&mut sink, &records, 29);
            let msgs = out.lock().unwrap().clone();
            proptest::prop_assert!(msgs.iter().all(|m| m.len() <= max));
            // A biflow output sends uniflow records as biflows with an empty reverse part.
            let want = if biflow { records.clone() } else { split(&records) };
            check_decoded(&decode(&msgs), &want, dialect == Dialect::Ipfix, biflow);
        }
    }
}

/// The text of field `name` in a record (forward only), for addresses.
fn text(flow: &Dissected, name: &str) -> Option<String> {
    flow.iter()
        .find(|(n, showname, ..)| n == name && !showname.contains("(Reverse Type"))
        .map(|(_, _, show, _)| show.clone())
}

/// The acceptance test of issue 8 for biflows, end to end through the binary: captures
/// converted with `--ipfix-file ... --ipfix-file-biflow` (the cache meters biflows),
/// the file decoded by tshark, each record's forward counters added to its direction
/// and its reverse counters (RFC 5103 reverse elements) to the other: per direction,
/// exactly what tshark counts in the capture itself.
#[test]
fn biflow_ipfix_from_captures_adds_up_to_the_captures_uniflows() {
    if !crate::common::require_tool("tshark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut captures = vec![std::path::PathBuf::from("pcaps/generated-small.pcap")];
    if crate::common::require_shared_pcaps() {
        let shared = crate::common::shared_pcaps();
        captures.extend(
            crate::common::manifest()
                .into_iter()
                .filter(|r| r.file.starts_with("real/") && r.link_types() == [1])
                .filter(|r| r.has("tcp") && r.has("udp") && !r.has("ipv4-frag"))
                .take(6)
                .map(|r| shared.join(r.file)),
        );
    }
    let mut two_way = 0;
    for capture in &captures {
        let out = dir.path().join("biflows.ipfix");
        let status = std::process::Command::new(env!("CARGO_BIN_EXE_flowprobe"))
            .arg("convert")
            .arg(capture)
            .args(["-q", "-f", "csv", "-o", "/dev/null", "--ipfix-file-biflow"])
            .arg("--ipfix-file")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success(), "{}", capture.display());
        let mut got: BTreeMap<(String, String), (u64, u64)> = BTreeMap::new();
        for flow in dissect(&out, &[]) {
            let (src, dst) = match (text(&flow, "cflow.srcaddr"), text(&flow, "cflow.dstaddr")) {
                (Some(s), Some(d)) => (s, d),
                _ => (
                    text(&flow, "cflow.srcaddrv6").expect("a source address"),
                    text(&flow, "cflow.dstaddrv6").expect("a destination address"),
                ),
            };
            let (p, o) = (
                values(&flow, "cflow.packets", false)[0],
                values(&flow, "cflow.octets", false)[0],
            );
            let (rp, ro) = (
                values(&flow, "cflow.packets", true)[0],
                values(&flow, "cflow.octets", true)[0],
            );
            for (key, packets, octets) in [((src.clone(), dst.clone()), p, o), ((dst, src), rp, ro)]
            {
                if packets > 0 {
                    let e = got.entry(key).or_default();
                    e.0 += packets;
                    e.1 += octets;
                }
            }
            two_way += usize::from(p > 0 && rp > 0);
        }
        let truth = crate::common::tshark_totals(capture).unwrap();
        assert_eq!(got, truth, "{}", capture.display());
    }
    assert!(two_way > 100, "only {two_way} two-way biflows");
}
