//! Biflow metering (RFC 5103) against the uniflow metering of the same captures.
//!
//! A biflow record holds both directions of a flow: forward counters under its key (the
//! initiator's direction) and reverse counters for `key.reversed()`. Summed per
//! direction, forward plus reverse must give exactly the uniflow totals of the same
//! capture: pairing moves counts between records, it never makes or loses one. Checked
//! on the generated capture (whose conversations say who initiated) and on the real and
//! edge captures of `../shared/pcaps`, with one and with two workers (both directions of
//! a flow must reach the same shard).

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{manifest, parallel_map, require_shared_pcaps, write_generated, Collect, ManifestRow};
use flowprobe::flow::cache::CacheConfig;
use flowprobe::flow::key::FlowKey;
use flowprobe::flow::record::FlowRecord;
use flowprobe::generate::GenConfig;
use flowprobe::pipeline::convert::{convert, ConvertOptions};

/// Per directional key: (packets, octets).
type Directions = BTreeMap<FlowKey, (u64, u64)>;

fn run(path: &Path, biflow: bool, workers: usize) -> Vec<FlowRecord> {
    let sink = Collect::default();
    let options = ConvertOptions {
        cache: CacheConfig {
            biflow,
            ..CacheConfig::default()
        },
        workers,
        ..ConvertOptions::new(vec![path.to_path_buf()])
    };
    let report = convert(&options, vec![Box::new(sink.clone())]).expect("conversion starts");
    assert!(report.counters.conserved(), "{}", path.display());
    let records = sink.records();
    let counted: u64 = records
        .iter()
        .map(|r| r.packets + r.reverse.map_or(0, |v| v.packets))
        .sum();
    assert_eq!(counted, report.counters.metered, "{}", path.display());
    records
}

/// Uniflow records, or biflow records split back into their two directions.
fn directions(records: &[FlowRecord]) -> Directions {
    let mut d = Directions::new();
    let mut add = |key: FlowKey, packets: u64, octets: u64| {
        if packets > 0 {
            let e = d.entry(key).or_default();
            e.0 += packets;
            e.1 += octets;
        }
    };
    for r in records {
        add(r.key, r.packets, r.octets);
        if let Some(rev) = r.reverse {
            let key = r.key.reversed();
            assert!(
                key.is_some() || rev.packets == 0,
                "reverse packets on a key without a reverse: {r:?}"
            );
            if let Some(key) = key {
                add(key, rev.packets, rev.octets);
            }
        }
    }
    d
}

#[test]
fn generated_conversations_pair_under_their_client() {
    let dir = tempfile::tempdir().unwrap();
    let config = GenConfig {
        conversations: 2000,
        pause_share: 0.0,
        ..GenConfig::default()
    };
    let (path, g) = write_generated(dir.path(), "biflow.pcap", &config);
    let uni = run(&path, false, 1);
    let bi = run(&path, true, 1);
    assert_eq!(directions(&uni), directions(&bi));
    assert!(bi.iter().all(|r| r.reverse.is_some()));
    // Fewer records: every two-way conversation became one.
    let two_way = bi
        .iter()
        .filter(|r| r.packets > 0 && r.reverse.is_some_and(|v| v.packets > 0))
        .count();
    assert!(two_way * 10 > bi.len() * 5, "{two_way} of {}", bi.len());
    assert!(bi.len() < uni.len());
    // The initiator is the client: every record's source is a conversation's client.
    let clients: std::collections::HashSet<String> =
        g.conversations.iter().map(|c| c.client_addr()).collect();
    for r in &bi {
        assert!(
            clients.contains(&r.key.src_addr().to_string()),
            "record keyed by a server: {r:?}"
        );
    }
    // Two workers: the same records in the same order.
    assert_eq!(run(&path, true, 2), bi);
}

fn agrees(row: &ManifestRow) -> Result<(), String> {
    let path = common::shared_pcaps().join(&row.file);
    let uni = directions(&run(&path, false, 1));
    let bi_records = run(&path, true, 1);
    let bi = directions(&bi_records);
    if uni != bi {
        let diff = uni
            .iter()
            .filter(|(k, v)| bi.get(*k) != Some(*v))
            .take(3)
            .map(|(k, v)| format!("{k:?}: uniflow {v:?} biflow {:?}", bi.get(k)))
            .collect::<Vec<_>>();
        return Err(format!("{}: {diff:?}", row.file));
    }
    if run(&path, true, 2) != bi_records {
        return Err(format!("{}: two workers give other records", row.file));
    }
    Ok(())
}

#[test]
fn biflow_directions_equal_uniflows_on_real_and_edge_captures() {
    if !require_shared_pcaps() {
        return;
    }
    let rows: Vec<ManifestRow> = manifest()
        .into_iter()
        .filter(|r| r.file.starts_with("real/") || r.file.starts_with("edge/"))
        .filter(|r| {
            r.link_types()
                .iter()
                .all(|l| [1, 113, 276, 101].contains(l))
        })
        .filter(|r| r.has("tcp") || r.has("udp") || r.has("icmp"))
        .collect();
    assert!(rows.len() > 500, "{}", rows.len());
    let failures: Vec<String> = parallel_map(&rows, agrees)
        .into_iter()
        .filter_map(Result::err)
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} captures:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
