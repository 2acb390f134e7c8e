//! Fuzz target: arbitrary flow records through our IPFIX and NetFlow v9 encoders
//! (`TemplateSink` over an in-memory transport), decoded by the netflow_parser crate
//! (which we did not write), every field compared with the record.
//!
//! Records are built from the input within the pipeline's own invariants (IP version 4
//! or 6, start <= end, min TTL <= max TTL, at least one packet, export time after every
//! end and never backwards, v9 records younger than the sysUpTime span), because the
//! sink is only ever handed such records; everything else (addresses, ports, counters up to 2^64-1, flags, MACs, end
//! reasons, batch sizes, message size) is arbitrary.
#![no_main]

use std::collections::BTreeMap;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use libfuzzer_sys::arbitrary::{Result as AResult, Unstructured};
use libfuzzer_sys::fuzz_target;
use netflow_parser::variable_versions::ipfix::FlowSetBody as IpfixBody;
use netflow_parser::variable_versions::v9::FlowSetBody as V9Body;
use netflow_parser::{FieldValue, NetflowPacket, NetflowParser};

use flowprobe::export::sink::TemplateSink;
use flowprobe::export::template::Dialect;
use flowprobe::export::transport::{TemplatePolicy, Transport};
use flowprobe::export::{ExportOptions, RecordSink, SinkStats};
use flowprobe::flow::key::FlowKey;
use flowprobe::flow::record::{EndReason, FlowRecord};
use flowprobe::time::Timestamp;

type Fields = BTreeMap<u16, u128>;

/// Keeps every message in memory, counting as the real transports do.
struct Memory(Arc<Mutex<Vec<Vec<u8>>>>, TemplatePolicy);

impl Transport for Memory {
    fn send(&mut self, msg: &[u8], flows: u32, _d: u32, s: &mut SinkStats) -> io::Result<()> {
        self.0.lock().unwrap().push(msg.to_vec());
        s.messages += 1;
        s.records += u64::from(flows);
        s.bytes += msg.len() as u64;
        Ok(())
    }
    fn finish(&mut self, _s: &mut SinkStats) -> io::Result<()> {
        Ok(())
    }
    fn template_policy(&self) -> TemplatePolicy {
        self.1
    }
}

/// 2040-01-01 in seconds: export time starts within a year of it.
const FROM: u64 = 2_208_988_800;
const DAY_MS: u64 = 86_400_000;

/// A record that ended by `now_ms` and started at most `max_age_ms` before it.
fn record(u: &mut Unstructured<'_>, now_ms: u64, max_age_ms: u64) -> AResult<FlowRecord> {
    let mut key = FlowKey::default();
    let v6: bool = u.arbitrary()?;
    if v6 {
        let s: [u8; 16] = u.arbitrary()?;
        let d: [u8; 16] = u.arbitrary()?;
        key.set_addrs(
            std::net::Ipv6Addr::from(s).into(),
            std::net::Ipv6Addr::from(d).into(),
        );
    } else {
        let s: [u8; 4] = u.arbitrary()?;
        let d: [u8; 4] = u.arbitrary()?;
        key.set_addrs(
            std::net::Ipv4Addr::from(s).into(),
            std::net::Ipv4Addr::from(d).into(),
        );
    }
    key.proto = u.arbitrary()?;
    if u.arbitrary()? {
        key.proto = if v6 { 58 } else { 1 };
    }
    key.dst_port = u.arbitrary()?;
    key.src_port = if key.is_icmp() { 0 } else { u.arbitrary()? };
    key.tos = u.arbitrary()?;
    key.in_if = u.arbitrary()?;
    key.vlan = u.int_in_range(0..=4095)?;
    // Start up to `max_age_ms` before now (sub-millisecond part arbitrary), end between.
    let age_ms = u.int_in_range(1..=max_age_ms)?;
    let start = Timestamp((now_ms - age_ms) * 1_000_000 + u.int_in_range(0..=999_999)?);
    let len_ms = u.int_in_range(0..=age_ms - 1)?;
    let end = start.saturating_add(Duration::from_millis(len_ms));
    let a: u8 = u.arbitrary()?;
    let b: u8 = u.arbitrary()?;
    Ok(FlowRecord {
        key,
        start,
        end,
        packets: u.int_in_range(1..=u64::MAX)?,
        octets: u.arbitrary()?,
        tcp_flags: u.arbitrary()?,
        min_ttl: a.min(b),
        max_ttl: a.max(b),
        src_mac: u.arbitrary()?,
        dst_mac: u.arbitrary()?,
        end_reason: EndReason::ALL[u.int_in_range(0..=4usize)?],
        // Plain uniflow records: the tunnel, direction and biflow shapes are covered by
        // the property test in tests/export/tunnels_biflows.rs.
        tunnel: Default::default(),
        direction: Default::default(),
        egress_if: 0,
        reverse: None,
    })
}

fn mac(m: [u8; 6]) -> u128 {
    m.iter().fold(0u128, |acc, b| acc << 8 | *b as u128)
}

fn addr(rec: &FlowRecord, src: bool) -> u128 {
    let b = if src { rec.key.src } else { rec.key.dst };
    if rec.key.ip_version == 4 {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u128
    } else {
        u128::from_be_bytes(b)
    }
}

/// What every data record must say, by element id, independent of our encoder.
fn expected(rec: &FlowRecord, ipfix: bool) -> Fields {
    let k = &rec.key;
    let v4 = k.ip_version == 4;
    let mut m = Fields::new();
    m.insert(if v4 { 8 } else { 27 }, addr(rec, true));
    m.insert(if v4 { 12 } else { 28 }, addr(rec, false));
    if k.is_icmp() {
        m.insert(if v4 || !ipfix { 32 } else { 139 }, k.dst_port.into());
    } else {
        m.insert(7, k.src_port.into());
        m.insert(11, k.dst_port.into());
    }
    m.insert(4, k.proto.into());
    m.insert(5, k.tos.into());
    m.insert(6, rec.tcp_flags.into());
    m.insert(1, rec.octets.into());
    m.insert(2, rec.packets.into());
    m.insert(10, k.in_if.into());
    m.insert(58, k.vlan.into());
    m.insert(56, mac(rec.src_mac));
    m.insert(80, mac(rec.dst_mac));
    m.insert(52, rec.min_ttl.into());
    m.insert(53, rec.max_ttl.into());
    if ipfix {
        m.insert(136, rec.end_reason.ipfix_value().into());
        m.insert(152, rec.start.as_millis().into());
        m.insert(153, rec.end.as_millis().into());
    } else {
        m.insert(22, rec.start.as_millis().into());
        m.insert(21, rec.end.as_millis().into());
    }
    m
}

fn num(v: &FieldValue) -> u128 {
    match v {
        FieldValue::Ip4Addr(a) => u32::from(*a) as u128,
        FieldValue::Ip6Addr(a) => u128::from(*a),
        FieldValue::MacAddr(m) => m.iter().fold(0u128, |acc, b| acc << 8 | *b as u128),
        FieldValue::ProtocolType(p) => u8::from(*p) as u128,
        FieldValue::TcpControlBits(t, _) => u16::from(*t) as u128,
        FieldValue::FlowEndReason(r) => u8::from(*r) as u128,
        other => other
            .as_u64()
            .unwrap_or_else(|| panic!("no number in {other:?}")) as u128,
    }
}

/// netflow_parser has `IANAIPFixField::from(u16)` but no way back: the reverse map.
fn ipfix_id(f: netflow_parser::variable_versions::ipfix::lookup::IANAIPFixField) -> u16 {
    use netflow_parser::variable_versions::ipfix::lookup::IANAIPFixField;
    static MAP: std::sync::OnceLock<std::collections::HashMap<IANAIPFixField, u16>> =
        std::sync::OnceLock::new();
    let map = MAP.get_or_init(|| {
        (0..1024u16)
            .rev()
            .map(|id| (IANAIPFixField::from(id), id))
            .collect()
    });
    map[&f]
}

fn decode_ipfix(msgs: &[Vec<u8>]) -> Vec<Fields> {
    let mut parser = NetflowParser::default();
    let mut flows = Vec::new();
    for m in msgs {
        let r = parser.parse_bytes(m);
        assert!(r.error.is_none(), "netflow_parser error: {:?}", r.error);
        assert_eq!(r.packets.len(), 1);
        let NetflowPacket::IPFix(p) = &r.packets[0] else {
            panic!("not IPFIX")
        };
        assert_eq!(p.header.length as usize, m.len());
        for set in &p.flowsets {
            match &set.body {
                IpfixBody::Data(d) => {
                    for rec in &d.fields {
                        flows.push(
                            rec.iter()
                                .map(|(k, v)| {
                                    let netflow_parser::IpfixField::IANA(id) = k else {
                                        panic!("{k:?}")
                                    };
                                    (ipfix_id(*id), num(v))
                                })
                                .collect(),
                        );
                    }
                }
                IpfixBody::NoTemplate(i) => panic!("data before its template: {i:?}"),
                _ => {}
            }
        }
    }
    flows
}

fn decode_v9(msgs: &[Vec<u8>]) -> Vec<Fields> {
    let mut parser = NetflowParser::default();
    let mut flows = Vec::new();
    for m in msgs {
        let r = parser.parse_bytes(m);
        assert!(r.error.is_none(), "netflow_parser error: {:?}", r.error);
        assert_eq!(r.packets.len(), 1);
        let NetflowPacket::V9(p) = &r.packets[0] else {
            panic!("not v9")
        };
        // Absolute times the way collectors recover them: boot = now - uptime.
        let boot = p.header.unix_secs as u128 * 1000 - p.header.sys_up_time as u128;
        for set in &p.flowsets {
            match &set.body {
                V9Body::Data(d) => {
                    for rec in &d.fields {
                        let mut f: Fields =
                            rec.iter().map(|(k, v)| (u16::from(*k), num(v))).collect();
                        for id in [21, 22] {
                            if let Some(t) = f.get_mut(&id) {
                                *t += boot;
                            }
                        }
                        flows.push(f);
                    }
                }
                V9Body::NoTemplate(i) => panic!("data before its template: {i:?}"),
                _ => {}
            }
        }
    }
    flows
}

fn run(u: &mut Unstructured<'_>) -> AResult<()> {
    let dialect = if u.arbitrary()? {
        Dialect::Ipfix
    } else {
        Dialect::NetflowV9
    };
    let policy = if u.arbitrary()? {
        TemplatePolicy::Refresh
    } else {
        TemplatePolicy::Once
    };
    let opts = ExportOptions {
        observation_domain_id: u.arbitrary()?,
        max_message_size: u.int_in_range(0..=70_000)?,
        template_refresh_packets: u.int_in_range(0..=5)?,
        ..ExportOptions::default()
    };
    // Export time moves forward batch by batch. A v9 record cannot be older than the
    // sysUpTime span (2^32 ms, ~49.7 days; see `UptimeClock`), which the pipeline never
    // comes near (records leave at most an active timeout after their start): 40 days
    // for v9, 40 years for IPFIX (absolute times).
    let max_age_ms = match dialect {
        Dialect::NetflowV9 => 40 * DAY_MS,
        Dialect::Ipfix => 40 * 365 * DAY_MS,
    };
    let mut now_ms = FROM * 1000 + u.int_in_range(0..=365 * DAY_MS)?;
    let msgs = Arc::new(Mutex::new(Vec::new()));
    let mut sink = TemplateSink::new(dialect, Box::new(Memory(msgs.clone(), policy)), &opts);
    let mut all = Vec::new();
    let n_batches = u.int_in_range(1..=6usize)?;
    let mut now = Timestamp(now_ms * 1_000_000);
    for _ in 0..n_batches {
        now_ms += u.int_in_range(0..=100 * DAY_MS)?;
        now = Timestamp(now_ms * 1_000_000 + u.int_in_range(0..=999_999)?);
        let n = u.int_in_range(0..=120usize)?;
        let mut batch = Vec::with_capacity(n);
        for _ in 0..n {
            batch.push(record(u, now_ms, max_age_ms)?);
        }
        sink.export(&batch, now).unwrap();
        sink.tick(now).unwrap();
        all.extend_from_slice(&batch);
    }
    sink.finish(now).unwrap();
    let stats = sink.stats();
    assert_eq!(stats.records as usize, all.len(), "records counted as sent");
    let msgs = msgs.lock().unwrap().clone();
    let ipfix = dialect == Dialect::Ipfix;
    let max = opts
        .max_message_size
        .clamp(flowprobe::export::sink::MIN_MAX_MESSAGE_SIZE, 65535);
    assert!(
        msgs.iter().all(|m| m.len() <= max),
        "message over the size limit"
    );
    let got = if ipfix {
        decode_ipfix(&msgs)
    } else {
        decode_v9(&msgs)
    };
    assert_eq!(got.len(), all.len(), "records decoded");
    for (i, (g, rec)) in got.iter().zip(&all).enumerate() {
        assert_eq!(g, &expected(rec, ipfix), "record {i}: {rec:?}");
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = run(&mut u);
});
