//! A plain UDP collector on loopback (our own socket) receives every message of a large
//! paced export: sequence numbers run without a gap and the counts match.

use flowprobe::export::sink::DEFAULT_PACING;
use flowprobe::export::template::{
    IPFIX_IPV4, IPFIX_IPV4_ICMP, IPFIX_IPV6, IPFIX_IPV6_ICMP, IPFIX_SAMPLING_SYSTEMATIC,
    IPFIX_STATS,
};
use flowprobe::export::ExportOptions;

use super::helpers::*;

/// Data records in one IPFIX message, by walking its sets.
fn ipfix_data_records(msg: &[u8]) -> (u32, u32) {
    let lens = [
        &IPFIX_IPV4,
        &IPFIX_IPV6,
        &IPFIX_IPV4_ICMP,
        &IPFIX_IPV6_ICMP,
        &IPFIX_SAMPLING_SYSTEMATIC,
        &IPFIX_STATS,
    ]
    .map(|t| (t.id, t.record_len(), !t.is_options()));
    let (mut data, mut flows) = (0, 0);
    let mut at = 16;
    while at + 4 <= msg.len() {
        let id = u16::from_be_bytes([msg[at], msg[at + 1]]);
        let len = u16::from_be_bytes([msg[at + 2], msg[at + 3]]) as usize;
        assert!(len >= 4 && at + len <= msg.len(), "bad set length");
        if id >= 256 {
            let &(_, rl, flow) = lens.iter().find(|l| l.0 == id).expect("known template");
            assert_eq!((len - 4) % rl, 0);
            data += ((len - 4) / rl) as u32;
            if flow {
                flows += ((len - 4) / rl) as u32;
            }
        }
        at += len;
    }
    assert_eq!(at, msg.len());
    (data, flows)
}

#[test]
fn every_message_of_a_large_paced_ipfix_export_arrives() {
    let records = synthetic(200_000, 31, true);
    let packets: u64 = records.iter().map(|r| r.packets).sum();
    assert!(packets > 1_000_000);
    let opts = ExportOptions {
        observation_domain_id: 77,
        pacing: Some(DEFAULT_PACING),
        sampling: flowprobe::export::SamplingAnnouncement::Deterministic { interval: 2 },
        ..ExportOptions::default()
    };
    let started = std::time::Instant::now();
    let (msgs, stats) = export_udp("ipfix", &records, &opts);
    eprintln!("{} messages in {:?}", msgs.len(), started.elapsed());
    assert_eq!(stats.send_errors, 0);
    assert_eq!(
        msgs.len() as u64,
        stats.messages,
        "every message sent was received"
    );
    let mut next = 0u32;
    let mut flows = 0u64;
    for m in &msgs {
        assert!(m.len() <= 1452);
        let seq = u32::from_be_bytes([m[8], m[9], m[10], m[11]]);
        assert_eq!(seq, next, "sequence gap");
        let (d, f) = ipfix_data_records(m);
        next = next.wrapping_add(d);
        flows += f as u64;
    }
    assert_eq!(flows, 200_000);
}

#[test]
fn every_message_of_a_large_paced_v9_export_arrives() {
    let records = synthetic(100_000, 32, true);
    let opts = ExportOptions {
        observation_domain_id: 77,
        pacing: Some(DEFAULT_PACING),
        ..ExportOptions::default()
    };
    let (msgs, stats) = export_udp("v9", &records, &opts);
    assert_eq!(msgs.len() as u64, stats.messages);
    for (i, m) in msgs.iter().enumerate() {
        assert_eq!(
            u32::from_be_bytes([m[12], m[13], m[14], m[15]]),
            i as u32,
            "v9 sequence counts packets"
        );
    }
    assert_eq!(stats.records, 100_000);
}

/// A collector on IPv6 loopback, named as in the docs: `ipfix://[::1]:PORT`.
#[test]
fn ipv6_collector_url_works() {
    let rx = Receiver::start(true);
    let url: flowprobe::export::CollectorUrl =
        format!("ipfix://[::1]:{}", rx.addr.port()).parse().unwrap();
    let mut sink = flowprobe::export::collector_sink(&url, &test_options()).unwrap();
    let records = synthetic(500, 33, false);
    let stats = drive(sink.as_mut(), &records, 100);
    let msgs = rx.stop();
    assert_eq!((stats.records, stats.send_errors), (500, 0));
    assert_eq!(msgs.len() as u64, stats.messages);
    let flows: u32 = msgs.iter().map(|m| ipfix_data_records(m).1).sum();
    assert_eq!(flows, 500);
}
