//! Inspected fields (`--inspect`) in IPFIX against decoders we did not write:
//! netflow_parser decodes every inspected element to the value written (the enterprise
//! ones typed by the RFC 5610 records it read from our own messages), tshark reads an IPFIX
//! file of inspected records with no malformed field and no expert warning and shows
//! the values, and nfcapd + nfdump still get the counters exactly.
//!
//! The element table and the expected values are written here from the issue and the
//! IANA registry, independently of `src/export/ie.rs`; the values come from the `Seen`s
//! handed to the sink, never from our encoder.

use std::collections::BTreeMap;
use std::time::Duration;

use flowprobe::export::sink::TemplateSink;
use flowprobe::export::template::Dialect;
use flowprobe::export::{ExportOptions, RecordSink, SinkStats};
use flowprobe::flow::record::FlowRecord;
use flowprobe::inspect::community_id::community_id;
use flowprobe::inspect::{App, InspectConfig, Inspection, Protocol, ProtocolSet, Seen};
use flowprobe::time::Timestamp;

use super::helpers::*;

/// flowprobe's Private Enterprise Number (the RFC 5612 documentation PEN, for now).
const PEN: u32 = 32473;

/// How an element's value is typed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Str,
    U16,
    U8,
}

/// The element table: column, PEN (0 for IANA), element id, type, RFC 5610 name.
const ELEMENTS: &[(&str, u32, u16, Kind, &str)] = &[
    ("app", PEN, 7, Kind::Str, "payloadApplication"),
    ("tls_sni", PEN, 8, Kind::Str, "tlsServerName"),
    ("tls_alpn", PEN, 9, Kind::Str, "tlsClientAlpn"),
    ("tls_version", PEN, 10, Kind::U16, "tlsVersion"),
    ("tls_cipher", PEN, 11, Kind::U16, "tlsCipherSuite"),
    ("ja4", PEN, 12, Kind::Str, "ja4"),
    ("ja3", PEN, 13, Kind::Str, "ja3"),
    ("dns_qname", PEN, 14, Kind::Str, "dnsQueryName"),
    ("dns_qtype", PEN, 15, Kind::U16, "dnsQueryType"),
    ("dns_rcode", PEN, 16, Kind::U8, "dnsResponseCode"),
    ("dns_answers", PEN, 17, Kind::U16, "dnsAnswerCount"),
    ("http_host", 0, 460, Kind::Str, "httpRequestHost"),
    ("http_method", 0, 459, Kind::Str, "httpRequestMethod"),
    ("http_target", 0, 461, Kind::Str, "httpRequestTarget"),
    ("http_user_agent", 0, 468, Kind::Str, "httpUserAgent"),
    ("http_status", 0, 457, Kind::U16, "httpStatusCode"),
    ("ssh_client", PEN, 18, Kind::Str, "sshClientBanner"),
    ("ssh_server", PEN, 19, Kind::Str, "sshServerBanner"),
    ("hassh", PEN, 20, Kind::Str, "hassh"),
    ("community_id", PEN, 21, Kind::Str, "communityId"),
];

/// An inspected value as the test expects it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Value {
    Str(String),
    Num(u64),
    /// A float64, as the CSV writes it (3 decimals).
    Float(String),
}

/// The value of column `col` in `s`, if it has one (an empty string is none).
fn column(s: &Seen, col: &str) -> Option<Value> {
    let st = |v: &Option<String>| v.clone().filter(|v| !v.is_empty()).map(Value::Str);
    let n = |v: Option<u16>| v.map(|v| Value::Num(v.into()));
    match col {
        "app" => s.app.map(|a| Value::Str(a.name().into())),
        "tls_sni" => st(&s.tls_sni),
        "tls_alpn" => st(&s.tls_alpn),
        "tls_version" => n(s.tls_version),
        "tls_cipher" => n(s.tls_cipher),
        "ja4" => st(&s.ja4),
        "ja3" => st(&s.ja3),
        "dns_qname" => st(&s.dns_qname),
        "dns_qtype" => n(s.dns_qtype),
        "dns_rcode" => s.dns_rcode.map(|v| Value::Num(v.into())),
        "dns_answers" => n(s.dns_answers),
        "http_host" => st(&s.http_host),
        "http_method" => st(&s.http_method),
        "http_target" => st(&s.http_target),
        "http_user_agent" => st(&s.http_user_agent),
        "http_status" => n(s.http_status),
        "ssh_client" => st(&s.ssh_client),
        "ssh_server" => st(&s.ssh_server),
        "hassh" => st(&s.hassh),
        // Not a finding: the sink computes it from the record's key.
        "community_id" => None,
        other => panic!("column {other}"),
    }
}

/// What a record must carry, by (PEN, element id).
pub(super) type Expected = BTreeMap<(u32, u16), Value>;

/// What `rec` must carry when it shows `s`: its findings, and its Community ID when the
/// options ask for one (computed by flowprobe's `community_id`, which has its own tests
/// against the spec's published values).
pub(super) fn expected_of(rec: &FlowRecord, s: &Seen, opts: &ExportOptions) -> Expected {
    let mut e: Expected = ELEMENTS
        .iter()
        .filter_map(|&(col, pen, id, ..)| column(s, col).map(|v| ((pen, id), v)))
        .collect();
    if opts.inspect.protocols.has(Protocol::CommunityId) {
        let id = community_id(&rec.key, opts.inspect.community_id_seed).unwrap();
        e.insert((PEN, 21), Value::Str(id));
    }
    e
}

/// The records exported and, for each, what it must carry: a biflow record exported
/// whole carries `Inspection::combined()`; split (the sink does not export biflows),
/// the forward record carries the forward findings and the reverse record the reverse.
pub(super) fn expectations(
    records: &[FlowRecord],
    inspections: &[Option<Box<Inspection>>],
    opts: &ExportOptions,
) -> Vec<(FlowRecord, Expected)> {
    let whole = opts.biflow;
    let mut out = Vec::new();
    for (r, i) in records.iter().zip(inspections) {
        let none = Inspection::default();
        let i = i.as_deref().unwrap_or(&none);
        match r.reverse {
            Some(rev) if !whole => {
                let mut parts = r.uniflows();
                if r.packets > 0 {
                    let u = parts.next().unwrap();
                    out.push((u, expected_of(&u, &i.forward, opts)));
                }
                if rev.packets > 0 {
                    let u = parts.next().unwrap();
                    out.push((u, expected_of(&u, &i.reverse, opts)));
                }
            }
            _ => out.push((*r, expected_of(r, &i.combined(), opts))),
        }
    }
    out
}

/// `n` characters of mixed-width UTF-8 (1 to 4 octets each).
fn utf8_text(n: usize, salt: usize) -> String {
    let alphabet = ['a', 'é', '€', '𝄞', '/', '-', 'ü', 'Z'];
    (0..n)
        .map(|i| alphabet[(i * 7 + salt) % alphabet.len()])
        .collect()
}

/// What a client and a server of `record`'s protocol would show, by its port (the
/// values are made up here; the inspection parsers have their own tests).
fn sides(r: &FlowRecord, i: usize) -> Option<(Seen, Seen)> {
    let k = &r.key;
    let port = k.dst_port;
    Some(match (k.proto, port) {
        (6, 443) | (17, 443) => (
            Seen {
                app: Some(if k.proto == 6 { App::Tls } else { App::Quic }),
                tls_sni: (i % 4 != 1).then(|| format!("host{i}.example.com")),
                tls_alpn: Some(if k.proto == 6 { "h2,http/1.1" } else { "h3" }.into()),
                ja4: Some(format!("t13d1516h2_8daaf6152771_{:012x}", i)),
                ja3: (k.proto == 6).then(|| format!("{:032x}", i as u128 * 0x9e37_79b9)),
                ..Seen::default()
            },
            Seen {
                app: Some(if k.proto == 6 { App::Tls } else { App::Quic }),
                tls_version: Some(if i.is_multiple_of(3) { 0x0303 } else { 0x0304 }),
                tls_cipher: Some([0x1301, 0x1302, 0xc02f][i % 3]),
                ..Seen::default()
            },
        ),
        (17, 53) => {
            let qname = if i.is_multiple_of(9) {
                // A long name (still under 255 octets on the wire as DNS allows).
                format!("{}.example", "sub.".repeat(60))
            } else {
                format!("q{i}.example.org")
            };
            (
                Seen {
                    app: Some(App::Dns),
                    dns_qname: Some(qname.clone()),
                    dns_qtype: Some([1, 28, 65][i % 3]),
                    ..Seen::default()
                },
                Seen {
                    app: Some(App::Dns),
                    dns_qname: Some(qname),
                    dns_qtype: Some([1, 28, 65][i % 3]),
                    dns_rcode: Some([0, 3, 2][i % 3]),
                    dns_answers: Some((i % 5) as u16),
                    ..Seen::default()
                },
            )
        }
        (6, 80) | (6, 8080) => (
            Seen {
                app: Some(App::Http),
                http_host: Some(format!("www{i}.example.net")),
                http_method: Some(["GET", "POST", "PROPFIND"][i % 3].into()),
                // 300 octets: the 3-octet length form (RFC 7011 section 7).
                http_target: Some(if i.is_multiple_of(2) {
                    format!("/{}", "p".repeat(299))
                } else {
                    format!("/index{i}.html?q=ü")
                }),
                http_user_agent: (!i.is_multiple_of(5)).then(|| utf8_text(60 + i % 200, i)),
                ..Seen::default()
            },
            Seen {
                app: Some(App::Http),
                http_status: Some([200, 404, 301, 500][i % 4]),
                ..Seen::default()
            },
        ),
        (6, 22) => (
            Seen {
                app: Some(App::Ssh),
                ssh_client: Some("SSH-2.0-OpenSSH_9.6p1 Debian-3".into()),
                hassh: Some(format!("{:032x}", i as u128 * 0x5bd1_e995)),
                ..Seen::default()
            },
            Seen {
                app: Some(App::Ssh),
                ssh_server: Some(format!("SSH-2.0-dropbear_2022.{i}")),
                ..Seen::default()
            },
        ),
        _ => return None,
    })
}

/// Inspections for `records`: nothing for other protocols and for every 7th record; a
/// uniflow record shows the client side (or, every other one, the server side); a biflow
/// record shows the client side forward and the server side reverse.
pub(super) fn inspections_for(records: &[FlowRecord]) -> Vec<Option<Box<Inspection>>> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            if i % 7 == 3 {
                return None;
            }
            let (client, server) = sides(r, i)?;
            Some(Box::new(match r.reverse {
                Some(_) => Inspection {
                    forward: client,
                    reverse: server,
                    shape: None,
                },
                None if i % 2 == 0 => Inspection {
                    forward: client,
                    reverse: Seen::default(),
                    shape: None,
                },
                None => Inspection {
                    forward: server,
                    reverse: Seen::default(),
                    shape: None,
                },
            }))
        })
        .collect()
}

/// Options with inspection on (every protocol, Community ID with seed 7).
pub(super) fn inspect_options() -> ExportOptions {
    ExportOptions {
        inspect: InspectConfig {
            protocols: ProtocolSet::all(),
            community_id_seed: 7,
            ..InspectConfig::default()
        },
        ..test_options()
    }
}

/// Options inspecting every protocol but Community ID: a record that showed nothing
/// keeps its plain template.
fn options_without_community_id() -> ExportOptions {
    let mut opts = inspect_options();
    opts.inspect.protocols = Protocol::ALL
        .into_iter()
        .filter(|p| *p != Protocol::CommunityId)
        .collect();
    opts
}

/// `helpers::drive`, through `export_inspected` as the exporter thread calls it when
/// inspection is on.
pub(super) fn drive_inspected(
    sink: &mut dyn RecordSink,
    records: &[FlowRecord],
    inspections: &[Option<Box<Inspection>>],
    batch: usize,
) -> SinkStats {
    let mut now = Timestamp::from_secs_nanos(BASE_SECS, 0);
    for (chunk, insp) in records.chunks(batch).zip(inspections.chunks(batch)) {
        let latest = chunk.iter().map(|r| r.end).max().unwrap_or(now);
        now = now.max(latest.saturating_add(Duration::from_millis(1500)));
        sink.export_inspected(chunk, insp, now).unwrap();
        sink.tick(now).unwrap();
    }
    sink.finish(now).unwrap();
    sink.stats()
}

/// The messages of an IPFIX sink over memory.
fn export_memory(
    records: &[FlowRecord],
    inspections: &[Option<Box<Inspection>>],
    opts: &ExportOptions,
) -> (Vec<Vec<u8>>, SinkStats) {
    let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut sink = TemplateSink::new(
        Dialect::Ipfix,
        Box::new(super::parser::Collect(out.clone())),
        opts,
    );
    let stats = drive_inspected(&mut sink, records, inspections, 150);
    let msgs = out.lock().unwrap().clone();
    (msgs, stats)
}

/// The RFC 5610 data type each element must be announced with (IANA numbers: 1
/// unsigned8, 2 unsigned16, 13 string).
fn data_type(kind: Kind) -> u64 {
    match kind {
        Kind::Str => 13,
        Kind::U16 => 2,
        Kind::U8 => 1,
    }
}

// ----------------------------------------------------------------------------------------
// netflow_parser

mod np {
    use std::collections::BTreeMap;

    use netflow_parser::variable_versions::field_value::FieldDataType;
    use netflow_parser::variable_versions::ipfix::lookup::{
        IANAIPFixField, ReverseInformationElement,
    };
    use netflow_parser::variable_versions::ipfix::FlowSetBody;
    use netflow_parser::{
        EnterpriseFieldDef, FieldValue, IpfixField, NetflowPacket, NetflowParser,
    };

    use super::Value;

    /// (PEN, element id): PEN 0 for IANA, 29305 for RFC 5103 reverse elements.
    pub type Fields = BTreeMap<(u32, u16), Value>;

    fn iana_id(f: IANAIPFixField) -> u16 {
        static MAP: std::sync::OnceLock<std::collections::HashMap<IANAIPFixField, u16>> =
            std::sync::OnceLock::new();
        MAP.get_or_init(|| {
            (0..1024u16)
                .rev()
                .map(|id| (IANAIPFixField::from(id), id))
                .collect()
        })[&f]
    }

    fn reverse_id(f: ReverseInformationElement) -> u16 {
        static MAP: std::sync::OnceLock<std::collections::HashMap<ReverseInformationElement, u16>> =
            std::sync::OnceLock::new();
        MAP.get_or_init(|| {
            (0..1024u16)
                .rev()
                .map(|id| (ReverseInformationElement::from(id), id))
                .collect()
        })[&f]
    }

    fn value(v: &FieldValue) -> Value {
        match v {
            // The wire octets, not the display string (which drops control characters).
            FieldValue::String(s) => Value::Str(String::from_utf8(s.raw.clone()).expect("UTF-8")),
            FieldValue::Ip4Addr(a) => Value::Num(u32::from(*a).into()),
            FieldValue::Ip6Addr(a) => Value::Num(u128::from(*a) as u64),
            FieldValue::MacAddr(m) => Value::Num(m.iter().fold(0, |a, b| a << 8 | u64::from(*b))),
            FieldValue::ProtocolType(p) => Value::Num(u8::from(*p).into()),
            FieldValue::TcpControlBits(t, _) => Value::Num(u16::from(*t).into()),
            FieldValue::FlowEndReason(r) => Value::Num(u8::from(*r).into()),
            FieldValue::Vec(b) => Value::Str(b.iter().map(|b| format!("{b:02x}")).collect()),
            FieldValue::Float64(f) => Value::Float(format!("{f:.3}")),
            FieldValue::TcpOptions(o) => Value::Num(u64::from(*o)),
            other => Value::Num(other.as_u64().unwrap_or_else(|| panic!("{other:?}"))),
        }
    }

    fn key(k: &IpfixField) -> Option<(u32, u16)> {
        Some(match k {
            IpfixField::IANA(id) => (0, iana_id(*id)),
            IpfixField::Enterprise {
                enterprise_number,
                field_number,
            } => (*enterprise_number, *field_number),
            IpfixField::ReverseInformationElement(r) => (29305, reverse_id(*r)),
            _ => return None,
        })
    }

    /// Flow data records and options data records of every message, in order.
    pub fn decode(parser: &mut NetflowParser, msgs: &[Vec<u8>]) -> (Vec<Fields>, Vec<Fields>) {
        let (mut flows, mut options) = (Vec::new(), Vec::new());
        for m in msgs {
            let r = parser.parse_bytes(m);
            assert!(r.error.is_none(), "netflow_parser error: {:?}", r.error);
            let NetflowPacket::IPFix(p) = &r.packets[0] else {
                panic!("not IPFIX")
            };
            assert_eq!(p.header.length as usize, m.len());
            for set in &p.flowsets {
                let (recs, out) = match &set.body {
                    FlowSetBody::Data(d) => (&d.fields, &mut flows),
                    FlowSetBody::OptionsData(d) => (&d.fields, &mut options),
                    FlowSetBody::NoTemplate(i) => panic!("data before its template: {i:?}"),
                    _ => continue,
                };
                for rec in recs {
                    out.push(
                        rec.iter()
                            .filter_map(|(k, v)| key(k).map(|k| (k, value(v))))
                            .collect(),
                    );
                }
            }
        }
        (flows, options)
    }

    /// A parser that knows the enterprise elements the RFC 5610 type records announced:
    /// (PEN, id) -> (data type, name), read by a first parser from the same messages.
    pub fn typed_parser(types: &BTreeMap<(u32, u16), (u64, String)>) -> NetflowParser {
        let defs = types.iter().map(|(&(pen, id), (dt, name))| {
            let t = match dt {
                13 => FieldDataType::String,
                1..=4 => FieldDataType::UnsignedDataNumber,
                5..=8 => FieldDataType::SignedDataNumber,
                10 => FieldDataType::Float64,
                // basicList (RFC 6313): its octets, read by `basic_list`.
                20 => FieldDataType::Vec,
                18 => FieldDataType::Ip4Addr,
                19 => FieldDataType::Ip6Addr,
                other => panic!("data type {other}"),
            };
            EnterpriseFieldDef::new(pen, id, name.clone(), t)
        });
        NetflowParser::builder()
            .register_enterprise_fields(defs)
            .build()
            .unwrap()
    }
}

/// The RFC 5610 type records among decoded options records: (PEN, id) -> (type, name).
fn type_records(options: &[np::Fields]) -> BTreeMap<(u32, u16), (u64, String)> {
    let mut types = BTreeMap::new();
    for o in options.iter().filter(|o| o.contains_key(&(0, 346))) {
        let num = |id| match &o[&(0, id)] {
            Value::Num(n) => *n,
            v => panic!("{id}: {v:?}"),
        };
        let Value::Str(name) = &o[&(0, 341)] else {
            panic!("informationElementName")
        };
        let key = (num(346) as u32, num(303) as u16);
        let prev = types.insert(key, (num(339), name.clone()));
        // Repeated (refresh) records say the same.
        assert!(prev.is_none_or(|p| p == types[&key]), "{key:?}");
        // default .. flags, or list (6) for a basicList.
        assert!(num(344) <= 6);
    }
    types
}

/// netflow_parser decodes every inspected element of `records` to the value written, the
/// enterprise ones typed by the RFC 5610 records it read from the same messages.
fn check_with_netflow_parser(
    records: &[FlowRecord],
    inspections: &[Option<Box<Inspection>>],
    opts: &ExportOptions,
) -> usize {
    let (msgs, stats) = export_memory(records, inspections, opts);
    let want = expectations(records, inspections, opts);
    assert_eq!(stats.records as usize, want.len());
    assert!(msgs.iter().all(|m| m.len() <= opts.max_message_size));
    // Pass 1: the type records, with an untyped parser.
    let mut plain = netflow_parser::NetflowParser::default();
    let (_, options) = np::decode(&mut plain, &msgs);
    let types = type_records(&options);
    let used: std::collections::BTreeSet<(u32, u16)> = want
        .iter()
        .flat_map(|(_, e)| e.keys().copied())
        .filter(|k| k.0 == PEN)
        .collect();
    for &(col, pen, id, kind, name) in ELEMENTS.iter().filter(|e| e.1 == PEN) {
        if used.contains(&(pen, id)) {
            assert_eq!(
                types.get(&(pen, id)),
                Some(&(data_type(kind), name.to_string())),
                "{col}"
            );
        }
    }
    // Pass 2: the records, with a parser typed by what the wire announced.
    let mut typed = np::typed_parser(&types);
    let (flows, _) = np::decode(&mut typed, &msgs);
    assert_eq!(flows.len(), want.len());
    let inspected: std::collections::BTreeSet<(u32, u16)> =
        ELEMENTS.iter().map(|e| (e.1, e.2)).collect();
    let mut values = 0;
    for (n, (got, (rec, expect))) in flows.iter().zip(&want).enumerate() {
        assert_eq!(got[&(0, 2)], Value::Num(rec.packets), "record {n}");
        assert_eq!(got[&(0, 1)], Value::Num(rec.octets), "record {n}");
        let got_inspected: Expected = got
            .iter()
            .filter(|(k, _)| inspected.contains(k))
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        // Exactly the fields the record has: none empty, none missing.
        assert_eq!(&got_inspected, expect, "record {n}: {rec:?}");
        values += expect.len();
    }
    values
}

#[test]
fn netflow_parser_decodes_every_inspected_element_of_uniflow_records() {
    let records = synthetic(3000, 41, true);
    let inspections = inspections_for(&records);
    let values = check_with_netflow_parser(&records, &inspections, &inspect_options());
    assert!(values > 5500, "{values} values checked");
    let values = check_with_netflow_parser(&records, &inspections, &options_without_community_id());
    assert!(values > 2500, "{values} values checked");
}

#[test]
fn netflow_parser_decodes_biflows_whole_and_split() {
    let records = super::tunnels_biflows::shaped(1500, 42, true);
    let inspections = inspections_for(&records);
    for biflow in [true, false] {
        let opts = ExportOptions {
            biflow,
            ..inspect_options()
        };
        let values = check_with_netflow_parser(&records, &inspections, &opts);
        assert!(values > 2000, "biflow {biflow}: {values} values checked");
    }
}

/// `--inspect community-id` alone: records exported through plain `export` (no findings)
/// each carry the Community ID of their own key, split biflows included, and nothing else.
#[test]
fn community_id_alone_goes_on_every_record() {
    let records = super::tunnels_biflows::shaped(600, 49, true);
    for biflow in [false, true] {
        let opts = ExportOptions {
            biflow,
            inspect: InspectConfig {
                protocols: [Protocol::CommunityId].into_iter().collect(),
                community_id_seed: 0,
                ..InspectConfig::default()
            },
            ..test_options()
        };
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut sink = TemplateSink::new(
            Dialect::Ipfix,
            Box::new(super::parser::Collect(out.clone())),
            &opts,
        );
        drive(&mut sink, &records, 100);
        let msgs = out.lock().unwrap().clone();
        let none: Vec<Option<Box<Inspection>>> = vec![None; records.len()];
        let want = expectations(&records, &none, &opts);
        let mut parser = netflow_parser::NetflowParser::default();
        let (_, options) = np::decode(&mut parser, &msgs);
        let types = type_records(&options);
        assert_eq!(
            types.get(&(PEN, 21)),
            Some(&(13, "communityId".to_string()))
        );
        let (flows, _) = np::decode(&mut np::typed_parser(&types), &msgs);
        assert_eq!(flows.len(), want.len());
        for (n, (got, (rec, expect))) in flows.iter().zip(&want).enumerate() {
            assert_eq!(expect.len(), 1);
            let id = &expect[&(PEN, 21)];
            assert_eq!(got.get(&(PEN, 21)), Some(id), "record {n}: {rec:?}");
            let Value::Str(id) = id else { panic!() };
            assert!(id.starts_with("1:") && id.len() == 30, "{id}");
        }
    }
}

/// Strings longer than a message can carry are cut at a character boundary, so the record
/// still goes out whole in the smallest allowed message; the rest is exact.
#[test]
fn netflow_parser_reads_cut_strings_as_prefixes() {
    let mut records = synthetic(40, 43, false);
    for r in &mut records {
        r.key.proto = 6;
        r.key.dst_port = 80;
        r.key.src_port = 40000;
    }
    let inspections: Vec<Option<Box<Inspection>>> = (0..records.len())
        .map(|i| {
            Some(Box::new(Inspection {
                forward: Seen {
                    app: Some(App::Http),
                    http_host: Some(format!("h{i}.example")),
                    http_method: Some("GET".into()),
                    http_target: Some(utf8_text(300 + 37 * i, i)),
                    http_user_agent: Some(utf8_text(200 + 53 * i, i + 1)),
                    ..Seen::default()
                },
                reverse: Seen::default(),
                shape: None,
            }))
        })
        .collect();
    let opts = ExportOptions {
        max_message_size: 512,
        ..inspect_options()
    };
    let (msgs, stats) = export_memory(&records, &inspections, &opts);
    assert_eq!(stats.records, 40);
    assert!(msgs.iter().all(|m| m.len() <= 512));
    let mut parser = netflow_parser::NetflowParser::default();
    let (flows, _) = np::decode(&mut parser, &msgs);
    let mut cut = 0;
    for (got, i) in flows.iter().zip(&inspections) {
        let seen = &i.as_ref().unwrap().forward;
        for (id, full) in [
            (461u16, seen.http_target.as_ref().unwrap()),
            (468, seen.http_user_agent.as_ref().unwrap()),
        ] {
            let Value::Str(s) = &got[&(0, id)] else {
                panic!("{id}")
            };
            assert!(full.starts_with(s.as_str()), "{id}: not a prefix");
            assert!(s.len() >= 100, "{id}: cut to {}", s.len());
            cut += usize::from(s.len() < full.len());
        }
        assert_eq!(got[&(0, 460)], Value::Str(seen.http_host.clone().unwrap()));
        assert_eq!(got[&(0, 459)], Value::Str("GET".into()));
    }
    assert!(cut > 20, "{cut}");
}

// ----------------------------------------------------------------------------------------
// tshark

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
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Every record (flow and options data) of an IPFIX file, from tshark's PDML.
fn dissect(path: &std::path::Path) -> Vec<Dissected> {
    let pdml = super::tshark::tshark(path, &["-T", "pdml"]);
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
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

/// tshark's field for an IANA inspected element.
fn tshark_field(id: u16) -> &'static str {
    match id {
        457 => "cflow.http_statuscode",
        459 => "cflow.http_request_method",
        460 => "cflow.http_request_host",
        461 => "cflow.http_request_target",
        468 => "cflow.http_user_agent",
        other => panic!("{other}"),
    }
}

/// tshark reads the IPFIX file with no problem, shows every IANA http element's value and
/// the raw octets of every enterprise one, and dissects the RFC 5610 records.
fn check_with_tshark(
    path: &std::path::Path,
    records: &[FlowRecord],
    inspections: &[Option<Box<Inspection>>],
    opts: &ExportOptions,
) -> usize {
    let stats = drive_inspected(
        flowprobe::export::ipfix_file_sink(path, opts)
            .unwrap()
            .as_mut(),
        records,
        inspections,
        250,
    );
    let want = expectations(records, inspections, opts);
    assert_eq!(stats.records as usize, want.len());
    super::tshark::assert_clean(path, &[]);
    let all = dissect(path);
    let flows: Vec<&Dissected> = all
        .iter()
        .filter(|f| f.iter().any(|(n, ..)| n == "cflow.packets"))
        .collect();
    assert_eq!(flows.len(), want.len());
    let mut checked = 0;
    for (n, (flow, (rec, expect))) in flows.iter().zip(&want).enumerate() {
        let first = |name: &str| flow.iter().find(|(f, ..)| f == name).map(|x| x.2.clone());
        assert_eq!(
            first("cflow.packets"),
            Some(rec.packets.to_string()),
            "record {n}"
        );
        // Enterprise elements: flowprobe's inspected ones, raw octets by element id.
        let mut got: BTreeMap<(u32, u16), String> = flow
            .iter()
            .filter(|(f, ..)| f == "cflow.enterprise_private_entry")
            .filter_map(|(_, showname, _, value)| {
                let id: u16 = showname
                    .split(" Type ")
                    .nth(1)?
                    .split(':')
                    .next()?
                    .parse()
                    .ok()?;
                assert!(showname.contains("(Example Enterprise Number for Documentation Use)"));
                (id >= 7).then(|| ((PEN, id), value.clone()))
            })
            .collect();
        for id in [457u16, 459, 460, 461, 468] {
            let hits: Vec<_> = flow
                .iter()
                .filter(|(f, ..)| f == tshark_field(id))
                .collect();
            assert!(hits.len() <= 1, "record {n}: {id} twice");
            if let Some((_, _, show, value)) = hits.first() {
                let e = &expect[&(0, id)];
                // The value as tshark shows it, and its octets.
                match e {
                    Value::Str(s) => assert_eq!(show, s, "record {n}: {id}"),
                    Value::Num(v) => assert_eq!(show, &v.to_string(), "record {n}: {id}"),
                    Value::Float(f) => panic!("record {n}: {id}: float {f}"),
                }
                got.insert((0, id), value.clone());
            }
        }
        let want_hex: BTreeMap<(u32, u16), String> = expect
            .iter()
            .map(|(&k, v)| {
                let kind = ELEMENTS.iter().find(|e| (e.1, e.2) == k).unwrap().3;
                let h = match (v, kind) {
                    (Value::Str(s), _) => hex(s.as_bytes()),
                    (Value::Num(v), Kind::U16) => hex(&(*v as u16).to_be_bytes()),
                    (Value::Num(v), _) => hex(&[*v as u8]),
                    (Value::Float(f), _) => panic!("{f}"),
                };
                (k, h)
            })
            .collect();
        assert_eq!(got, want_hex, "record {n}: {rec:?}");
        checked += expect.len();
    }
    // The RFC 5610 records: each element used is named with its type.
    let announced: BTreeMap<u16, (String, String)> = all
        .iter()
        .filter(|f| {
            f.iter()
                .any(|(n, ..)| n == "cflow.information_element_name")
        })
        .map(|f| {
            let get = |name: &str| f.iter().find(|(n, ..)| n == name).unwrap().2.clone();
            assert_eq!(get("cflow.private_enterprise_number"), PEN.to_string());
            (
                get("cflow.information_element_id").parse().unwrap(),
                (
                    get("cflow.information_element_data_type"),
                    get("cflow.information_element_name"),
                ),
            )
        })
        .collect();
    for (_, expect) in &want {
        for &(pen, id) in expect.keys().filter(|k| k.0 == PEN) {
            let (_, _, _, kind, name) = *ELEMENTS.iter().find(|e| (e.1, e.2) == (pen, id)).unwrap();
            assert_eq!(
                announced.get(&id),
                Some(&(data_type(kind).to_string(), name.to_string())),
                "{name}"
            );
        }
    }
    checked
}

#[test]
fn tshark_reads_inspected_records_cleanly_and_shows_their_values() {
    if !have_tool("tshark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let records = synthetic(1500, 44, true);
    let inspections = inspections_for(&records);
    let n = check_with_tshark(
        &dir.path().join("uni.ipfix"),
        &records,
        &inspections,
        &inspect_options(),
    );
    assert!(n > 1000, "{n}");
    let records = super::tunnels_biflows::shaped(800, 45, true);
    let inspections = inspections_for(&records);
    for biflow in [true, false] {
        let opts = ExportOptions {
            biflow,
            ..inspect_options()
        };
        let path = dir.path().join(format!("bi{biflow}.ipfix"));
        let n = check_with_tshark(&path, &records, &inspections, &opts);
        assert!(n > 1000, "{n}");
    }
}

// ----------------------------------------------------------------------------------------
// nfcapd + nfdump

/// nfcapd stores the inspected records (skipping what it does not know) with counters
/// exactly those of the records: uniflows, and biflows split into uniflows.
#[test]
fn nfcapd_totals_stay_exact_with_inspected_fields() {
    use super::nfcapd::{assert_same, parse_rows, truth, Nfcapd};
    if !have_tool("nfcapd") || !have_tool("nfdump") {
        return;
    }
    let uni = synthetic(3000, 46, true);
    let bi = super::tunnels_biflows::shaped(1500, 47, true);
    for records in [uni, bi] {
        let inspections = inspections_for(&records);
        let nfcapd = Nfcapd::start();
        let url: flowprobe::export::CollectorUrl = format!("ipfix://127.0.0.1:{}", nfcapd.port)
            .parse()
            .unwrap();
        let mut sink = flowprobe::export::collector_sink(&url, &inspect_options()).unwrap();
        let stats = drive_inspected(sink.as_mut(), &records, &inspections, 200);
        let uniflows: Vec<FlowRecord> = records.iter().flat_map(|r| r.uniflows()).collect();
        assert_eq!(
            (stats.records as usize, stats.send_errors),
            (uniflows.len(), 0)
        );
        let lines = nfcapd.stop_and_read();
        assert_same(&parse_rows(&lines), &truth(&uniflows, 1));
    }
}

// ----------------------------------------------------------------------------------------
// IPFIX over TCP: every connection starts with the templates, and gets the type records

/// The messages of one TCP connection's byte stream.
fn messages(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= stream.len() {
        let len = u16::from_be_bytes([stream[at + 2], stream[at + 3]]) as usize;
        assert!(len >= 16 && at + len <= stream.len(), "cut message");
        out.push(stream[at..at + len].to_vec());
        at += len;
    }
    out
}

/// A collector restarted mid-stream: each connection, decoded from its own start (fresh
/// parser), defines every template before its data and describes (RFC 5610) every
/// enterprise element its records use; tshark reads each cleanly; nothing is lost
/// uncounted.
#[test]
fn tcp_reconnect_resends_templates_and_type_records() {
    use super::collector_down::TcpCollector;
    use std::time::Instant;
    let port = free_tcp_port();
    let url: flowprobe::export::CollectorUrl =
        format!("ipfix+tcp://127.0.0.1:{port}").parse().unwrap();
    let opts = ExportOptions {
        tcp: flowprobe::export::transport::TcpSettings {
            backoff_initial: Duration::from_millis(20),
            backoff_max: Duration::from_millis(100),
            finish_timeout: Duration::from_secs(3),
            ..Default::default()
        },
        ..inspect_options()
    };
    let records = synthetic(2000, 48, false);
    let inspections = inspections_for(&records);
    let now = Timestamp::from_secs_nanos(BASE_SECS + 200, 0);
    let wait = |sink: &mut dyn RecordSink, what: &str, done: &dyn Fn(SinkStats) -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !done(sink.stats()) {
            assert!(Instant::now() < deadline, "timed out: {what}");
            sink.tick(now).unwrap();
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    let first = TcpCollector::start(port);
    let mut sink = flowprobe::export::collector_sink(&url, &opts).unwrap();
    sink.export_inspected(&records[..1000], &inspections[..1000], now)
        .unwrap();
    wait(sink.as_mut(), "first delivery", &|s| s.records == 1000);
    std::thread::sleep(Duration::from_millis(100));
    let got_first = first.kill();
    std::thread::sleep(Duration::from_millis(50));
    sink.export_inspected(&records[1000..1500], &inspections[1000..1500], now)
        .unwrap();
    sink.tick(now).unwrap();
    let second = TcpCollector::start(port);
    sink.export_inspected(&records[1500..], &inspections[1500..], now)
        .unwrap();
    wait(sink.as_mut(), "reconnection", &|s| s.connections == 2);
    sink.finish(now).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let got_second = second.kill();
    let stats = sink.stats();
    let mut received = 0;
    let dir = tempfile::tempdir().unwrap();
    for (n, stream) in got_first.iter().chain(&got_second).enumerate() {
        let msgs = messages(stream);
        let mut parser = netflow_parser::NetflowParser::default();
        let (flows, options) = np::decode(&mut parser, &msgs);
        let described = type_records(&options);
        for f in &flows {
            for k in f.keys().filter(|k| k.0 == PEN) {
                assert!(
                    described.contains_key(k),
                    "connection {n}: {k:?} not described"
                );
            }
        }
        received += flows.len() as u64;
        if have_tool("tshark") {
            let pcap = dir.path().join(format!("tcp{n}.pcap"));
            write_tcp_pcap(&pcap, stream, port);
            let decode = format!("tcp.port=={port},cflow");
            super::tshark::assert_clean(&pcap, &["-d", &decode]);
        }
    }
    assert_eq!(got_first.len() + got_second.len(), 2);
    assert_eq!(stats.records, received, "{stats:?}");
    assert_eq!(received + stats.records_lost, 2000, "{stats:?}");
}

// ----------------------------------------------------------------------------------------
// Any strings, any message size

fn arb_string() -> impl proptest::strategy::Strategy<Value = Option<String>> {
    use proptest::prelude::*;
    prop_oneof![
        Just(None),
        Just(Some(String::new())),
        "\\PC{0,40}".prop_map(Some),
        (0usize..3000, 0usize..8).prop_map(|(n, salt)| Some(utf8_text(n, salt))),
    ]
}

fn arb_seen() -> impl proptest::strategy::Strategy<Value = Seen> {
    use proptest::prelude::*;
    let strings = proptest::collection::vec(arb_string(), 14);
    let numbers = proptest::collection::vec(proptest::option::of(any::<u16>()), 6);
    (strings, numbers, 0u8..6).prop_map(|(s, n, app)| Seen {
        app: [App::Tls, App::Quic, App::Dns, App::Http, App::Ssh]
            .get(app as usize)
            .copied(),
        tls_sni: s[0].clone(),
        tls_alpn: s[1].clone(),
        tls_version: n[0],
        tls_cipher: n[1],
        ja4: s[2].clone(),
        ja3: s[3].clone(),
        dns_qname: s[4].clone(),
        dns_qtype: n[2],
        dns_rcode: n[3].map(|v| v as u8),
        dns_answers: n[4],
        http_host: s[5].clone(),
        http_method: s[6].clone(),
        http_target: s[7].clone(),
        http_user_agent: s[8].clone(),
        http_status: n[5],
        ssh_client: s[9].clone(),
        ssh_server: s[10].clone(),
        hassh: s[11].clone(),
        ..Seen::default()
    })
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Any findings, any message size, biflows whole or split: no message exceeds the
    /// maximum, netflow_parser reads every record, every number exactly and every string
    /// exactly or (when the record could not fit a message otherwise) as a prefix cut at
    /// a character boundary.
    #[test]
    fn any_findings_round_trip(
        max in 512usize..4000,
        seed in 1u64..u64::MAX,
        biflow in proptest::bool::ANY,
        seens in proptest::collection::vec((arb_seen(), arb_seen()), 60),
    ) {
        let records = super::tunnels_biflows::shaped(60, seed, true);
        let inspections: Vec<Option<Box<Inspection>>> = seens
            .into_iter()
            .map(|(forward, reverse)| Some(Box::new(Inspection { forward, reverse, shape: None })))
            .collect();
        let opts = ExportOptions { max_message_size: max, biflow, ..inspect_options() };
        let (msgs, stats) = export_memory(&records, &inspections, &opts);
        let want = expectations(&records, &inspections, &opts);
        proptest::prop_assert_eq!(stats.records as usize, want.len());
        proptest::prop_assert!(msgs.iter().all(|m| m.len() <= max));
        let mut plain = netflow_parser::NetflowParser::default();
        let (_, options) = np::decode(&mut plain, &msgs);
        let types = type_records(&options);
        let (flows, _) = np::decode(&mut np::typed_parser(&types), &msgs);
        proptest::prop_assert_eq!(flows.len(), want.len());
        let inspected: std::collections::BTreeSet<(u32, u16)> =
            ELEMENTS.iter().map(|e| (e.1, e.2)).collect();
        for (got, (_, expect)) in flows.iter().zip(&want) {
            let got: Expected = got
                .iter()
                .filter(|(k, _)| inspected.contains(k))
                .map(|(k, v)| (*k, v.clone()))
                .collect();
            proptest::prop_assert_eq!(
                got.keys().collect::<Vec<_>>(),
                expect.keys().collect::<Vec<_>>()
            );
            for (k, v) in expect {
                match (v, &got[k]) {
                    (Value::Str(full), Value::Str(s)) => {
                        proptest::prop_assert!(full.starts_with(s.as_str()), "{k:?}");
                    }
                    (v, g) => proptest::prop_assert_eq!(v, g),
                }
            }
        }
    }
}

// ----------------------------------------------------------------------------------------
// `--inspect tcp,splt` on real captures: the IPFIX elements are the CSV's values

/// Real TCP captures with handshakes, retransmissions, out-of-order and zero-window
/// segments (counts by our CSV, which `tests/tcp_analysis_tshark.rs` holds to tshark).
const SHAPE_CAPTURES: [&str; 6] = [
    "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__many-protocols.pcap",
    "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__tls2.pcap",
    "real/chrissanders-packets/http_espn_fail.pcapng",
    "real/ipfixprobe/tests__functional__inputs__tls.pcap",
    "real/chrissanders-packets/tcp_zerowindowrecovery.pcapng",
    "real/chrissanders-packets/tcp_ports.pcapng",
];

/// The tcp and splt columns and the element each is exported as: (column, PEN, id);
/// `tcp_sack_ok` and `tcp_timestamps` are bits of tcpOptions (209), and `splt` is the
/// two basicLists (36 and 37). Written from the issue, the IANA registry (tcpOptions 209,
/// tcpWindowScale 238, transportOctetDeltaCount 401; RFC 5103 reverse PEN 29305) and RFC
/// 5103 section 6.2 (an enterprise element's reverse is its id | 0x4000).
const SHAPE_ELEMENTS: &[(&str, u32, u16)] = &[
    ("server_rtt_us", PEN, 26),
    ("client_rtt_us", PEN, 27),
    ("payload_bytes", 0, 401),
    ("retransmissions", PEN, 23),
    ("out_of_order", PEN, 24),
    ("zero_windows", PEN, 25),
    ("tcp_mss", PEN, 22),
    ("tcp_wscale", 0, 238),
    ("tcp_options", 0, 209),
    ("reverse_payload_bytes", 29305, 401),
    ("reverse_retransmissions", PEN, 0x4017),
    ("reverse_out_of_order", PEN, 0x4018),
    ("reverse_zero_windows", PEN, 0x4019),
    ("reverse_tcp_mss", PEN, 0x4016),
    ("reverse_tcp_wscale", 29305, 238),
    ("reverse_tcp_options", 29305, 209),
    ("iat_min_us", PEN, 28),
    ("iat_mean_us", PEN, 29),
    ("iat_max_us", PEN, 30),
    ("iat_stddev_us", PEN, 31),
    ("len_min", PEN, 32),
    ("len_mean", PEN, 33),
    ("len_max", PEN, 34),
    ("len_stddev", PEN, 35),
];

/// The RFC 5610 type (data type, semantics... as announced: data type and name) of each
/// of flowprobe's shape elements.
const SHAPE_TYPES: &[(u16, u64, &str)] = &[
    (22, 2, "tcpMaximumSegmentSize"),
    (23, 3, "tcpRetransmissionCount"),
    (24, 3, "tcpOutOfOrderCount"),
    (25, 3, "tcpZeroWindowCount"),
    (26, 3, "tcpServerRttMicroseconds"),
    (27, 3, "tcpClientRttMicroseconds"),
    (28, 4, "iatMinimumMicroseconds"),
    (29, 10, "iatMeanMicroseconds"),
    (30, 4, "iatMaximumMicroseconds"),
    (31, 10, "iatStandardDeviationMicroseconds"),
    (32, 2, "payloadLengthMinimum"),
    (33, 10, "payloadLengthMean"),
    (34, 2, "payloadLengthMaximum"),
    (35, 10, "payloadLengthStandardDeviation"),
    (36, 20, "spltPacketLengths"),
    (37, 20, "spltInterArrivalTimes"),
    (38, 7, "spltPacketLength"),
    (39, 3, "spltInterArrivalMicroseconds"),
    (0x4016, 2, "reverseTcpMaximumSegmentSize"),
    (0x4017, 3, "reverseTcpRetransmissionCount"),
    (0x4018, 3, "reverseTcpOutOfOrderCount"),
    (0x4019, 3, "reverseTcpZeroWindowCount"),
];

/// RFC 4180 CSV (quoted fields may hold commas and doubled quotes) as maps by header.
fn csv_rows(text: &str) -> Vec<BTreeMap<String, String>> {
    fn fields(line: &str) -> Vec<String> {
        let (mut out, mut cur, mut quoted, mut chars) =
            (Vec::new(), String::new(), false, line.chars().peekable());
        while let Some(c) = chars.next() {
            match (c, quoted) {
                ('"', true) if chars.peek() == Some(&'"') => {
                    cur.push('"');
                    chars.next();
                }
                ('"', _) => quoted = !quoted,
                (',', false) => out.push(std::mem::take(&mut cur)),
                (c, _) => cur.push(c),
            }
        }
        out.push(cur);
        out
    }
    let mut lines = text.lines();
    let header = fields(lines.next().expect("a header"));
    lines
        .map(|l| {
            let f = fields(l);
            assert_eq!(f.len(), header.len(), "{l}");
            header.iter().cloned().zip(f).collect()
        })
        .collect()
}

/// Reads a basicList (RFC 6313 section 4.5.1) of 4-octet values of flowprobe element
/// `member` from its octets (netflow_parser took off the variable-length prefix): the
/// semantic must be ordered (4), the field id `member` with the enterprise bit, the
/// element length 4, the PEN ours.
fn basic_list(hex: &str, member: u16) -> Vec<u32> {
    let b: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect();
    assert!(b.len() >= 9 && (b.len() - 9).is_multiple_of(4), "{hex}");
    assert_eq!(b[0], 4, "semantic ordered");
    assert_eq!(u16::from_be_bytes([b[1], b[2]]), 0x8000 | member);
    assert_eq!(u16::from_be_bytes([b[3], b[4]]), 4);
    assert_eq!(u32::from_be_bytes([b[5], b[6], b[7], b[8]]), PEN);
    b[9..]
        .chunks(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

/// How `convert_shapes` meters and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ShapeMode {
    /// Uniflow records, uniflow rows.
    Uniflow,
    /// Biflow records written whole: RFC 5103 records, biflow rows.
    Biflow,
    /// Biflow records (a biflow collector asks for them) split into uniflow records and
    /// rows: each part with its own direction's notes and counts, no sequence.
    Split,
}

/// `flowprobe convert CAPTURE --inspect tcp,splt` to an IPFIX file and a CSV file in one
/// run (the same records).
fn convert_shapes(
    capture: &std::path::Path,
    dir: &std::path::Path,
    mode: ShapeMode,
) -> (Vec<u8>, String) {
    let (ipfix, csv) = (dir.join("flows.ipfix"), dir.join("flows.csv"));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_flowprobe"));
    cmd.arg("convert")
        .arg(capture)
        .args(["-q", "--inspect", "tcp,splt", "-f", "csv", "-o"])
        .arg(&csv)
        .arg("--ipfix-file")
        .arg(&ipfix);
    // A UDP socket that takes the biflow collector's datagrams (and is dropped unread).
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    match mode {
        ShapeMode::Uniflow => {}
        ShapeMode::Biflow => {
            cmd.args(["--biflow", "--ipfix-file-biflow"]);
        }
        ShapeMode::Split => {
            let port = sink.local_addr().unwrap().port();
            cmd.arg("--collector")
                .arg(format!("ipfix://127.0.0.1:{port}?biflow=1"));
        }
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        std::fs::read(&ipfix).unwrap(),
        std::fs::read_to_string(&csv).unwrap(),
    )
}

/// The elements a CSV row's tcp and splt columns must be: (PEN, id) -> value, and the two
/// splt lists.
/// A row's splt as the two lists: lengths (signed32 bits) and gaps.
type SpltLists = (Vec<u32>, Vec<u32>);

fn expected_of_row(row: &BTreeMap<String, String>) -> (Expected, Option<SpltLists>) {
    let mut e = Expected::new();
    for &(col, pen, id) in SHAPE_ELEMENTS {
        let Some(v) = row.get(col).filter(|v| !v.is_empty()) else {
            continue;
        };
        let v = if v.contains('.') {
            Value::Float(v.clone())
        } else {
            Value::Num(v.parse().unwrap_or_else(|_| panic!("{col}: {v}")))
        };
        e.insert((pen, id), v);
    }
    // tcp_sack_ok and tcp_timestamps are tcpOptions' bits for kinds 4 and 8.
    for prefix in ["", "reverse_"] {
        let get = |c: &str| {
            row.get(&format!("{prefix}{c}"))
                .cloned()
                .unwrap_or_default()
        };
        let options = get("tcp_options");
        if options.is_empty() {
            assert_eq!(
                (get("tcp_sack_ok"), get("tcp_timestamps")),
                (String::new(), String::new())
            );
            continue;
        }
        let bits: u64 = options.parse().unwrap();
        let bit = |kind: u8| (bits & flowprobe::inspect::tcp::option_bit(kind) != 0).to_string();
        assert_eq!(get("tcp_sack_ok"), bit(4), "{row:?}");
        assert_eq!(get("tcp_timestamps"), bit(8), "{row:?}");
    }
    let splt = row.get("splt").filter(|s| !s.is_empty()).map(|s| {
        s.split(',')
            .map(|p| {
                let (len, iat) = p.split_once(':').unwrap();
                // A reverse packet of length 0 ("-0") has no sign in a signed32.
                (
                    len.parse::<i32>().unwrap() as u32,
                    iat.parse::<u32>().unwrap(),
                )
            })
            .unzip()
    });
    (e, splt)
}

/// netflow_parser (typed by the RFC 5610 records our file carries) reads every tcp and
/// splt element of every record of real captures as the CSV of the same conversion has
/// it, uniflow and biflow; each element is announced with its type; tshark dissects every
/// message cleanly and shows the IANA ones (401, 238, 209, and their RFC 5103 reverses)
/// with the CSV's values.
#[test]
fn tcp_and_splt_elements_are_the_csv_values_on_real_captures() {
    if !super::common::require_shared_pcaps() {
        return;
    }
    let tshark = have_tool("tshark");
    let dir = tempfile::tempdir().unwrap();
    let mut checked = BTreeMap::<(u32, u16), usize>::new();
    let (mut lists, mut split_parts) = (0, 0);
    for file in SHAPE_CAPTURES {
        let capture = super::common::shared_pcaps().join(file);
        for mode in [ShapeMode::Uniflow, ShapeMode::Biflow, ShapeMode::Split] {
            let (ipfix, csv) = convert_shapes(&capture, dir.path(), mode);
            let rows = csv_rows(&csv);
            let msgs = messages(&ipfix);
            let (_, options) = np::decode(&mut netflow_parser::NetflowParser::default(), &msgs);
            let types = type_records(&options);
            for &(id, dt, name) in SHAPE_TYPES {
                if let Some(t) = types.get(&(PEN, id)) {
                    assert_eq!(t, &(dt, name.to_string()), "{file}: {id}");
                }
            }
            let (flows, _) = np::decode(&mut np::typed_parser(&types), &msgs);
            assert_eq!(flows.len(), rows.len(), "{file} {mode:?}");
            let ours: std::collections::BTreeSet<(u32, u16)> = SHAPE_ELEMENTS
                .iter()
                .map(|e| (e.1, e.2))
                .chain([(PEN, 36), (PEN, 37)])
                .collect();
            for (n, (got, row)) in flows.iter().zip(&rows).enumerate() {
                let at = format!("{file} {mode:?} record {n}");
                // The same record: its counters and ports.
                assert_eq!(
                    got[&(0, 2)],
                    Value::Num(row["packets"].parse().unwrap()),
                    "{at}"
                );
                assert_eq!(
                    got[&(0, 1)],
                    Value::Num(row["bytes"].parse().unwrap()),
                    "{at}"
                );
                if let Some(sport) = got.get(&(0, 7)) {
                    assert_eq!(sport, &Value::Num(row["sport"].parse().unwrap()), "{at}");
                }
                let (want, splt) = expected_of_row(row);
                let got_shape: Expected = got
                    .iter()
                    .filter(|(k, _)| ours.contains(k) && k.1 != 36 && k.1 != 37)
                    .map(|(k, v)| (*k, v.clone()))
                    .collect();
                assert_eq!(got_shape, want, "{at}: {row:?}");
                for k in want.keys() {
                    *checked.entry(*k).or_default() += 1;
                }
                match splt {
                    Some((lens, gaps)) => {
                        let Value::Str(l) = &got[&(PEN, 36)] else {
                            panic!("{at}")
                        };
                        let Value::Str(g) = &got[&(PEN, 37)] else {
                            panic!("{at}")
                        };
                        assert_eq!(basic_list(l, 38), lens, "{at}");
                        assert_eq!(basic_list(g, 39), gaps, "{at}");
                        lists += 1;
                    }
                    None => assert!(!got.contains_key(&(PEN, 36)) && !got.contains_key(&(PEN, 37))),
                }
                if mode == ShapeMode::Split && !row["payload_bytes"].is_empty() {
                    // A part of a biflow: its own counts, no sequence or statistics.
                    assert!(
                        !got.contains_key(&(PEN, 28)) && !got.contains_key(&(PEN, 36)),
                        "{at}"
                    );
                    split_parts += 1;
                }
            }
            if tshark {
                let path = dir.path().join("flows.ipfix");
                super::tshark::assert_clean(&path, &[]);
                check_iana_shape_with_tshark(&path, &rows, file);
            }
        }
    }
    eprintln!("elements checked: {checked:?}; splt lists: {lists}");
    // Every element occurred with a value on these captures.
    for &(col, pen, id) in SHAPE_ELEMENTS {
        assert!(
            checked.get(&(pen, id)).is_some_and(|n| *n > 0),
            "{col} never checked"
        );
    }
    assert!(lists > 1000, "{lists}");
    assert!(split_parts > 500, "{split_parts}");
}

/// tshark's values of the IANA shape elements (and their RFC 5103 reverses), record by
/// record, against the CSV rows.
fn check_iana_shape_with_tshark(
    path: &std::path::Path,
    rows: &[BTreeMap<String, String>],
    file: &str,
) {
    let all = dissect(path);
    let flows: Vec<&Dissected> = all
        .iter()
        .filter(|f| f.iter().any(|(n, ..)| n == "cflow.packets"))
        .collect();
    assert_eq!(flows.len(), rows.len(), "{file}");
    for (n, (flow, row)) in flows.iter().zip(rows).enumerate() {
        for (field, col) in [
            ("cflow.transport_octet_delta_count", "payload_bytes"),
            ("cflow.tcp_window_scale", "tcp_wscale"),
            ("cflow.tcp_option_map", "tcp_options"),
        ] {
            for reverse in [false, true] {
                let col = if reverse {
                    format!("reverse_{col}")
                } else {
                    col.to_string()
                };
                let hits: Vec<_> = flow
                    .iter()
                    .filter(|(f, showname, ..)| {
                        f == field && showname.contains("(Reverse Type") == reverse
                    })
                    .collect();
                let want = row.get(&col).filter(|v| !v.is_empty());
                match (want, hits.as_slice()) {
                    (None, []) => {}
                    (Some(v), [(_, _, show, value)]) => {
                        if field == "cflow.tcp_option_map" {
                            let bits: u64 = v.parse().unwrap();
                            assert_eq!(value, &format!("{bits:016x}"), "{file} {n} {col}");
                        } else {
                            assert_eq!(show, v, "{file} {n} {col}");
                        }
                    }
                    (w, h) => panic!("{file} record {n} {col}: want {w:?}, tshark {h:?}"),
                }
            }
        }
    }
}

/// nfcapd + nfdump store the records of real captures converted with `--inspect tcp,splt`
/// (enterprise elements, basicLists and RFC 5103 reverses it does not know) exactly as
/// without inspection: the same records with the same addresses, ports, counters (both
/// directions' for biflows) and times, uniflow and biflow.
#[test]
fn nfcapd_stores_tcp_and_splt_records_as_plain_ones() {
    use super::nfcapd::Nfcapd;
    if !super::common::require_shared_pcaps() || !have_tool("nfcapd") || !have_tool("nfdump") {
        return;
    }
    for file in &SHAPE_CAPTURES[..4] {
        let capture = super::common::shared_pcaps().join(file);
        for query in ["", "?biflow=1"] {
            let run = |inspect: &[&str]| {
                let nfcapd = Nfcapd::start();
                let out = std::process::Command::new(env!("CARGO_BIN_EXE_flowprobe"))
                    .arg("convert")
                    .arg(&capture)
                    .args(["-q", "--pace", "20000"])
                    .args(inspect)
                    .arg("--collector")
                    .arg(format!("ipfix://127.0.0.1:{}{query}", nfcapd.port))
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let mut lines = nfcapd
                    .stop_and_read_format("fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt|%opkt|%obyt|%ts|%te");
                lines.sort();
                lines
            };
            let plain = run(&[]);
            let shaped = run(&["--inspect", "tcp,splt"]);
            assert!(plain.len() > 1, "{file}{query}: {plain:?}");
            assert_eq!(shaped, plain, "{file}{query}");
            eprintln!("{file}{query}: {} records the same", plain.len());
        }
    }
}
