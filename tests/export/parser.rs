//! The netflow_parser crate decodes our IPFIX, v9 and v5 messages; every field is
//! compared with the records we exported.

use std::collections::BTreeMap;

use netflow_parser::variable_versions::ipfix::FlowSetBody as IpfixBody;
use netflow_parser::variable_versions::v9::FlowSetBody as V9Body;
use netflow_parser::{FieldValue, NetflowPacket, NetflowParser};

use flowprobe::export::{ExportOptions, SamplingAnnouncement};
use flowprobe::flow::record::FlowRecord;

use super::helpers::*;

type Fields = BTreeMap<u16, u128>;

/// netflow_parser has `IANAIPFixField::from(u16)` but no way back: build the reverse map.
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

fn addr(rec: &FlowRecord, src: bool) -> u128 {
    let b = if src { rec.key.src } else { rec.key.dst };
    if rec.key.ip_version == 4 {
        u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as u128
    } else {
        u128::from_be_bytes(b)
    }
}

fn mac(m: [u8; 6]) -> u128 {
    m.iter().fold(0u128, |acc, b| acc << 8 | *b as u128)
}

/// What every data record must say, by element id, independent of our encoder.
fn expected(rec: &FlowRecord, ipfix: bool) -> Fields {
    let k = &rec.key;
    let v4 = k.ip_version == 4;
    let mut m = Fields::new();
    m.insert(if v4 { 8 } else { 27 }, addr(rec, true));
    m.insert(if v4 { 12 } else { 28 }, addr(rec, false));
    // ICMP flows carry the type/code element and no ports; other flows ports only.
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
        // v9: absolute times recovered the way collectors do; see `decode_v9`.
        m.insert(22, rec.start.as_millis().into());
        m.insert(21, rec.end.as_millis().into());
    }
    m
}

#[derive(Default)]
struct Decoded {
    flows: Vec<Fields>,
    options: Vec<Fields>,
    sequences: Vec<(u32, u32)>, // (sequence number, data records in the message)
}

fn decode_ipfix(msgs: &[Vec<u8>]) -> Decoded {
    let mut parser = NetflowParser::default();
    let mut out = Decoded::default();
    for m in msgs {
        let r = parser.parse_bytes(m);
        assert!(r.error.is_none(), "netflow_parser error: {:?}", r.error);
        assert_eq!(r.packets.len(), 1);
        let NetflowPacket::IPFix(p) = &r.packets[0] else {
            panic!("not IPFIX")
        };
        assert_eq!(p.header.observation_domain_id, 77);
        assert_eq!(p.header.length as usize, m.len());
        let mut data = 0;
        for set in &p.flowsets {
            match &set.body {
                IpfixBody::Data(d) => {
                    for rec in &d.fields {
                        let f: Fields = rec
                            .iter()
                            .map(|(k, v)| {
                                let netflow_parser::IpfixField::IANA(id) = k else {
                                    panic!("{k:?}")
                                };
                                (ipfix_id(*id), num(v))
                            })
                            .collect();
                        out.flows.push(f);
                        data += 1;
                    }
                }
                IpfixBody::OptionsData(d) => {
                    for rec in &d.fields {
                        let f: Fields = rec
                            .iter()
                            .map(|(k, v)| {
                                let netflow_parser::IpfixField::IANA(id) = k else {
                                    panic!("{k:?}")
                                };
                                (ipfix_id(*id), num(v))
                            })
                            .collect();
                        out.options.push(f);
                        data += 1;
                    }
                }
                IpfixBody::NoTemplate(i) => panic!("data before its template: {i:?}"),
                _ => {}
            }
        }
        out.sequences.push((p.header.sequence_number, data));
    }
    out
}

fn decode_v9(msgs: &[Vec<u8>]) -> Decoded {
    let mut parser = NetflowParser::default();
    let mut out = Decoded::default();
    for m in msgs {
        let r = parser.parse_bytes(m);
        assert!(r.error.is_none(), "netflow_parser error: {:?}", r.error);
        let NetflowPacket::V9(p) = &r.packets[0] else {
            panic!("not v9")
        };
        assert_eq!(p.header.source_id, 77);
        let boot = p.header.unix_secs as u128 * 1000 - p.header.sys_up_time as u128;
        let mut count = 0;
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
                        out.flows.push(f);
                        count += 1;
                    }
                }
                V9Body::OptionsData(d) => {
                    for rec in &d.fields {
                        let f: Fields = rec
                            .options_fields
                            .iter()
                            .map(|(k, v)| (u16::from(*k), num(v)))
                            .collect();
                        out.options.push(f);
                        count += 1;
                    }
                }
                V9Body::Template(t) => count += t.templates.len() as u16,
                V9Body::OptionsTemplate(t) => count += t.templates.len() as u16,
                V9Body::NoTemplate(i) => panic!("data before its template: {i:?}"),
                V9Body::Empty => {}
            }
        }
        assert_eq!(
            p.header.count, count,
            "v9 header count = records in the packet"
        );
        out.sequences.push((p.header.sequence_number, 1));
    }
    out
}

fn check_sequences(d: &Decoded) {
    let mut next = d.sequences[0].0;
    for &(seq, n) in &d.sequences {
        assert_eq!(seq, next, "sequence numbers must have no gap");
        next = seq.wrapping_add(n);
    }
}

#[test]
fn ipfix_every_field_matches() {
    let records = synthetic(3000, 1, true);
    let opts = ExportOptions {
        sampling: SamplingAnnouncement::Deterministic { interval: 100 },
        ..test_options()
    };
    let (msgs, stats) = export_udp("ipfix", &records, &opts);
    assert_eq!(stats.records, 3000);
    assert_eq!(stats.messages as usize, msgs.len());
    assert!(msgs.iter().all(|m| m.len() <= 1452));
    let d = decode_ipfix(&msgs);
    assert_eq!(d.flows.len(), records.len());
    for (i, (got, rec)) in d.flows.iter().zip(&records).enumerate() {
        assert_eq!(got, &expected(rec, true), "record {i}: {rec:?}");
    }
    check_sequences(&d);
    assert_eq!(d.sequences[0].0, 0);
    // The sampling announcement: systematic 1 in 100.
    let sampling = d
        .options
        .iter()
        .find(|o| o.contains_key(&304))
        .expect("sampling options record");
    assert_eq!(sampling[&149], 77); // observationDomainId (scope)
    assert_eq!(sampling[&304], 1); // selectorAlgorithm: systematic count-based
    assert_eq!(sampling[&305], 1); // samplingPacketInterval
    assert_eq!(sampling[&306], 99); // samplingPacketSpace
    assert_eq!(sampling[&34], 100); // samplingInterval
    assert_eq!(sampling[&35], 1); // samplingAlgorithm deterministic
                                  // The last statistics record counts everything sent before it.
    let last = d
        .options
        .iter()
        .rev()
        .find(|o| o.contains_key(&41))
        .expect("statistics record");
    assert_eq!(last[&42], 3000); // exportedFlowRecordTotalCount
    assert_eq!(last[&41] as usize, msgs.len() - 1); // exportedMessageTotalCount
}

#[test]
fn v9_every_field_matches_and_times_are_absolute() {
    let records = synthetic(3000, 2, true);
    let opts = ExportOptions {
        sampling: SamplingAnnouncement::Random { interval: 8 },
        ..test_options()
    };
    let (msgs, stats) = export_udp("v9", &records, &opts);
    assert_eq!(stats.records, 3000);
    assert!(msgs.iter().all(|m| m.len() <= 1452));
    let d = decode_v9(&msgs);
    assert_eq!(d.flows.len(), records.len());
    for (i, (got, rec)) in d.flows.iter().zip(&records).enumerate() {
        assert_eq!(got, &expected(rec, false), "record {i}: {rec:?}");
    }
    check_sequences(&d);
    let sampling = d
        .options
        .iter()
        .find(|o| o.contains_key(&34))
        .expect("sampling options record");
    assert_eq!((sampling[&34], sampling[&35]), (8, 2)); // 1 in 8, random
}

#[test]
fn v5_ipv4_fields_match_and_ipv6_is_not_exportable() {
    let records = synthetic(3000, 3, true);
    let opts = ExportOptions {
        sampling: SamplingAnnouncement::Deterministic { interval: 10 },
        ..test_options()
    };
    let (msgs, stats) = export_udp("v5", &records, &opts);
    let v4: Vec<&FlowRecord> = records.iter().filter(|r| r.key.ip_version == 4).collect();
    assert_eq!(stats.not_exportable as usize, records.len() - v4.len());
    let mut parser = NetflowParser::default();
    let mut flows = Vec::new();
    let mut next_seq = 0u32;
    for m in &msgs {
        assert!(m.len() <= 1452);
        let r = parser.parse_bytes(m);
        assert!(r.error.is_none(), "{:?}", r.error);
        let NetflowPacket::V5(p) = &r.packets[0] else {
            panic!("not v5")
        };
        assert_eq!(p.header.flow_sequence, next_seq);
        assert_eq!(p.header.sampling_interval, 0x4000 | 10);
        assert_eq!(p.header.unix_nsecs, 0);
        next_seq += p.header.count as u32;
        let boot = p.header.unix_secs as u64 * 1000 - p.header.sys_up_time as u64;
        for f in &p.flowsets {
            flows.push((f.clone(), boot));
        }
    }
    // Records above 2^32 are split; the pieces follow each other and add up exactly.
    let mut it = flows.iter().peekable();
    for rec in v4 {
        let (mut packets, mut octets) = (0u64, 0u64);
        while packets < rec.packets {
            let (f, boot) = it.next().expect("missing v5 record");
            assert_eq!(
                u32::from(f.src_addr),
                u32::from_be_bytes(rec.key.src[..4].try_into().unwrap())
            );
            assert_eq!(
                u32::from(f.dst_addr),
                u32::from_be_bytes(rec.key.dst[..4].try_into().unwrap())
            );
            assert_eq!(
                (f.src_port, f.dst_port),
                (rec.key.src_port, rec.key.dst_port)
            );
            assert_eq!(
                (f.protocol_number, f.tos, f.tcp_flags),
                (rec.key.proto, rec.key.tos, rec.tcp_flags)
            );
            assert_eq!(f.input as u32, rec.key.in_if);
            assert_eq!(boot + f.first as u64, rec.start.as_millis());
            assert_eq!(boot + f.last as u64, rec.end.as_millis());
            packets += f.d_pkts as u64;
            octets += f.d_octets as u64;
        }
        assert_eq!((packets, octets), (rec.packets, rec.octets));
    }
    assert!(it.next().is_none());
}

/// A transport that keeps the messages in memory: lets the property test see every
/// message the real encoder produced, without a socket.
pub(super) struct Collect(pub(super) std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

impl flowprobe::export::transport::Transport for Collect {
    fn send(
        &mut self,
        msg: &[u8],
        flow_records: u32,
        _data_records: u32,
        stats: &mut flowprobe::export::SinkStats,
    ) -> std::io::Result<()> {
        self.0.lock().unwrap().push(msg.to_vec());
        stats.messages += 1;
        stats.records += u64::from(flow_records);
        Ok(())
    }
    fn finish(&mut self, _stats: &mut flowprobe::export::SinkStats) -> std::io::Result<()> {
        Ok(())
    }
    fn template_policy(&self) -> flowprobe::export::transport::TemplatePolicy {
        flowprobe::export::transport::TemplatePolicy::Refresh
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any maximum message size, any mix of records (this found the unreserved v9 padding,
    /// see `padding_of_the_previous_set_is_reserved`): no message exceeds the maximum and
    /// netflow_parser gets every record back, field for field, in IPFIX and in v9.
    #[test]
    fn any_message_size_round_trips(max in 512usize..9000, n in 1usize..400, seed in 1u64..u64::MAX, refresh in 0u32..5) {
        use flowprobe::export::sink::TemplateSink;
        use flowprobe::export::template::Dialect;
        let records = synthetic(n, seed, seed % 2 == 0);
        for dialect in [Dialect::Ipfix, Dialect::NetflowV9] {
            let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let opts = ExportOptions { max_message_size: max, template_refresh_packets: refresh, ..test_options() };
            let mut sink = TemplateSink::new(dialect, Box::new(Collect(out.clone())), &opts);
            drive(&mut sink, &records, 37);
            let msgs = out.lock().unwrap().clone();
            proptest::prop_assert!(msgs.iter().all(|m| m.len() <= max));
            let d = if dialect == Dialect::Ipfix { decode_ipfix(&msgs) } else { decode_v9(&msgs) };
            proptest::prop_assert_eq!(d.flows.len(), records.len());
            for (got, rec) in d.flows.iter().zip(&records) {
                proptest::prop_assert_eq!(got, &expected(rec, dialect == Dialect::Ipfix));
            }
            check_sequences(&d);
        }
    }
}

/// v9 and v5 times stay exact when the sysUpTime origin must move: a long flow that
/// started hours before the first export, and an export 50 days later (past the 49.7-day
/// wrap of a 32-bit millisecond uptime).
#[test]
fn v9_and_v5_times_survive_rebase_and_wrap() {
    use flowprobe::export::{collector_sink, CollectorUrl};
    use flowprobe::time::Timestamp;
    use std::time::Duration;
    let day = Duration::from_secs(86_400);
    let t0 = Timestamp::from_secs_nanos(BASE_SECS, 250_000_000);
    let mut recs = synthetic(40, 51, false);
    for r in recs.iter_mut() {
        r.key.ip_version = 4;
        r.key.src[4..].fill(0);
        r.key.dst[4..].fill(0);
    }
    // Batch 1: ordinary; batch 2: started 3 hours before; batch 3: 50 days later, one of
    // them a flow that has lasted 2 days.
    let shift = |r: &mut FlowRecord, start: Timestamp, len: Duration| {
        r.start = start;
        r.end = start.saturating_add(len);
    };
    for (i, r) in recs.iter_mut().enumerate() {
        let i = i as u64;
        match i / 10 {
            0 => shift(
                r,
                t0.saturating_add(Duration::from_millis(i * 13)),
                Duration::from_millis(900),
            ),
            1 => shift(r, t0, Duration::from_secs(3 * 3600 + i)),
            2 => shift(r, t0.saturating_add(day * 50), Duration::from_millis(i * 7)),
            _ => shift(r, t0.saturating_add(day * 48), day * 2),
        }
    }
    let batches: [(&[FlowRecord], Timestamp); 4] = [
        (&recs[..10], t0.saturating_add(Duration::from_secs(2))),
        (
            &recs[10..20],
            t0.saturating_add(Duration::from_secs(3 * 3600 + 30)),
        ),
        (
            &recs[20..30],
            t0.saturating_add(day * 50 + Duration::from_secs(1)),
        ),
        (
            &recs[30..],
            t0.saturating_add(day * 50 + Duration::from_secs(2)),
        ),
    ];
    for scheme in ["v9", "v5"] {
        let rx = Receiver::start(false);
        let url: CollectorUrl = format!("{scheme}://{}", rx.addr).parse().unwrap();
        let mut sink = collector_sink(&url, &test_options()).unwrap();
        for (batch, now) in batches {
            sink.export(batch, now).unwrap();
            sink.tick(now).unwrap();
        }
        sink.finish(batches[3].1).unwrap();
        let msgs = rx.stop();
        let mut times = Vec::new();
        let mut parser = NetflowParser::default();
        for m in &msgs {
            let r = parser.parse_bytes(m);
            assert!(r.error.is_none(), "{:?}", r.error);
            match &r.packets[0] {
                NetflowPacket::V9(p) => {
                    let boot = p.header.unix_secs as u64 * 1000 - p.header.sys_up_time as u64;
                    for set in &p.flowsets {
                        if let V9Body::Data(d) = &set.body {
                            for rec in &d.fields {
                                let f: Fields =
                                    rec.iter().map(|(k, v)| (u16::from(*k), num(v))).collect();
                                assert!(f[&22] <= f[&21], "FIRST after LAST");
                                times.push((boot + f[&22] as u64, boot + f[&21] as u64));
                            }
                        }
                    }
                }
                NetflowPacket::V5(p) => {
                    let boot = p.header.unix_secs as u64 * 1000
                        + p.header.unix_nsecs as u64 / 1_000_000
                        - p.header.sys_up_time as u64;
                    for f in &p.flowsets {
                        times.push((boot + f.first as u64, boot + f.last as u64));
                    }
                }
                other => panic!("{other:?}"),
            }
        }
        let want: Vec<(u64, u64)> = recs
            .iter()
            .map(|r| (r.start.as_millis(), r.end.as_millis()))
            .collect();
        assert_eq!(times, want, "{scheme}");
    }
}
