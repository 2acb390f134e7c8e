//! Every packet accounted for, on every capture in `../shared/pcaps` (real, edge, export
//! and malformed alike), and time that goes backwards clamped and counted.
//!
//! For each capture, converted with one worker:
//! - packets read = metered + filtered + sampled out + undecodable (`Counters::conserved`);
//! - packets summed over the exported records = metered, and octets likewise;
//! - no panic (each conversion runs under `catch_unwind`, so the failure names the file);
//! - it finishes within a time bound that scales with the file's size;
//! - with two workers the records are the same, in the same order (the cache bound is the
//!   default, far above any of these captures, so no eviction can reorder them).
//!
//! The second test writes a classic pcap whose timestamps go backwards, byte by byte.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use flowprobe::flow::record::FlowRecord;
use flowprobe::pipeline::convert::{convert, ConvertOptions, ConvertReport};

use common::{manifest, parallel_map, require_shared_pcaps, shared_pcaps, Collect};

/// Converts `path` with `workers` workers; the report and the records, or the panic text.
fn run(path: &Path, workers: usize) -> Result<(ConvertReport, Vec<FlowRecord>), String> {
    let path = path.to_path_buf();
    std::panic::catch_unwind(move || {
        let sink = Collect::default();
        let mut options = ConvertOptions::new(vec![path]);
        options.workers = workers;
        let report = convert(&options, vec![Box::new(sink.clone())]).expect("conversion starts");
        (report, sink.records())
    })
    .map_err(|e| {
        e.downcast_ref::<String>()
            .cloned()
            .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "panic".into())
    })
}

/// How long one capture may take: generous for a debug build on a shared 2-core machine
/// (a conversion reads several MB/s even unoptimised; these files are at most a few MB).
fn time_bound(bytes: u64) -> Duration {
    Duration::from_secs(20) + Duration::from_millis(bytes / 1000)
}

/// What is wrong with one capture's conversion, if anything.
fn check(path: &Path) -> Option<String> {
    let bytes = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let t0 = Instant::now();
    let (report, records) = match run(path, 1) {
        Ok(r) => r,
        Err(e) => return Some(format!("panicked (1 worker): {e}")),
    };
    let took = t0.elapsed();
    let c = &report.counters;
    let mut problems = Vec::new();
    if !report.exporter.failures.is_empty() {
        problems.push(format!("exporter failed: {:?}", report.exporter.failures));
    }
    if report.exporter.packets != c.metered {
        problems.push(format!(
            "exporter saw {} packets, metered {}",
            report.exporter.packets, c.metered
        ));
    }
    if !c.conserved() {
        problems.push(format!(
            "read {} != metered {} + filtered {} + sampled out {} + undecodable {}",
            c.read,
            c.metered,
            c.filtered,
            c.sampled_out,
            c.undecodable_total()
        ));
    }
    let packets: u64 = records.iter().map(|r| r.packets).sum();
    let octets: u64 = records.iter().map(|r| r.octets).sum();
    if packets != c.metered {
        problems.push(format!(
            "packets in records {packets} != metered {}",
            c.metered
        ));
    }
    if octets != c.metered_octets {
        problems.push(format!(
            "octets in records {octets} != metered {}",
            c.metered_octets
        ));
    }
    if c.active_flows != 0 {
        problems.push(format!(
            "{} flows still active after the end",
            c.active_flows
        ));
    }
    if let Some(r) = records.iter().find(|r| r.end < r.start) {
        problems.push(format!("record ends before it starts: {r:?}"));
    }
    if took > time_bound(bytes) {
        problems.push(format!(
            "took {took:?} for {bytes} bytes (bound {:?})",
            time_bound(bytes)
        ));
    }
    match run(path, 2) {
        Err(e) => problems.push(format!("panicked (2 workers): {e}")),
        Ok((report2, records2)) => {
            if report2.counters.read != c.read || report2.counters.metered != c.metered {
                problems.push(format!(
                    "2 workers read/metered {}/{}, 1 worker {}/{}",
                    report2.counters.read, report2.counters.metered, c.read, c.metered
                ));
            }
            // Times past the year 2554 (a pcapng interface whose clock reads garbage)
            // are read as `Timestamp::LAST`, never as the end-of-input instant, so even
            // those records keep one order whatever the worker count.
            if records2 != records {
                let first = records
                    .iter()
                    .zip(&records2)
                    .position(|(a, b)| a != b)
                    .unwrap_or(records.len().min(records2.len()));
                problems.push(format!(
                    "2 workers gave other records: {} vs {}, first difference at {first}: \
                     {:?} vs {:?}",
                    records2.len(),
                    records.len(),
                    records.get(first),
                    records2.get(first)
                ));
            }
        }
    }
    (!problems.is_empty()).then(|| problems.join("; "))
}

#[test]
fn every_shared_capture_conserves_packets() {
    if !require_shared_pcaps() {
        return;
    }
    let rows = manifest();
    let paths: Vec<PathBuf> = rows.iter().map(|r| shared_pcaps().join(&r.file)).collect();
    for dir in ["real/", "edge/", "export/", "malformed/"] {
        assert!(
            rows.iter().any(|r| r.file.starts_with(dir)),
            "no capture under {dir} in the manifest"
        );
    }
    let t0 = Instant::now();
    let results = parallel_map(&paths, |p| check(p));
    let failures: Vec<String> = paths
        .iter()
        .zip(results)
        .filter_map(|(p, r)| r.map(|r| format!("  {}: {r}", p.display())))
        .collect();
    eprintln!(
        "{} captures converted twice in {:?}",
        paths.len(),
        t0.elapsed()
    );
    let n = failures.len();
    assert!(
        failures.is_empty(),
        "{n} of {} captures fail:\n{}",
        paths.len(),
        failures.into_iter().take(20).collect::<Vec<_>>().join("\n")
    );
}

/// A classic little-endian microsecond pcap (Ethernet) of UDP packets of one flow, with
/// these timestamps in (seconds, microseconds).
fn pcap_with_times(times: &[(u32, u32)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic: microseconds, LE
    out.extend_from_slice(&2u16.to_le_bytes()); // version major
    out.extend_from_slice(&4u16.to_le_bytes()); // version minor
    out.extend_from_slice(&0u32.to_le_bytes()); // thiszone
    out.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    out.extend_from_slice(&65535u32.to_le_bytes()); // snaplen
    out.extend_from_slice(&1u32.to_le_bytes()); // link type: Ethernet
    let mut frame = Vec::new();
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02]); // destination MAC
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01]); // source MAC
    frame.extend_from_slice(&[0x08, 0x00]); // ethertype IPv4
    frame.extend_from_slice(&[
        0x45, 0x00, // version 4, IHL 5; TOS 0
        0x00, 0x20, // total length 32 = 20 IP + 8 UDP + 4 payload
        0x00, 0x01, 0x00, 0x00, // id 1; no flags, offset 0
        0x40, 0x11, 0x00, 0x00, // TTL 64, protocol UDP; checksum (not checked)
        10, 0, 0, 1, // source 10.0.0.1
        10, 0, 0, 2, // destination 10.0.0.2
        0x30, 0x39, 0x00, 0x35, // source port 12345, destination port 53
        0x00, 0x0c, 0x00, 0x00, // UDP length 12, checksum 0
        b'p', b'i', b'n', b'g', // payload
    ]);
    for &(s, us) in times {
        out.extend_from_slice(&s.to_le_bytes()); // ts seconds
        out.extend_from_slice(&us.to_le_bytes()); // ts microseconds
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes()); // captured length
        out.extend_from_slice(&(frame.len() as u32).to_le_bytes()); // original length
        out.extend_from_slice(&frame);
    }
    out
}

#[test]
fn timestamps_going_backwards_are_clamped_and_counted() {
    // 1000 s, then two packets earlier (999 s and 500 s), then 1001 s, then 1000.5 s.
    let times = [(1000, 0), (999, 0), (500, 0), (1001, 0), (1000, 500_000)];
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("backwards.pcap");
    std::fs::write(&path, pcap_with_times(&times)).unwrap();
    for workers in [1, 2] {
        let (report, records) = run(&path, workers).expect("no panic");
        let c = &report.counters;
        assert!(report.is_clean(), "{:?}", report.file_errors);
        assert_eq!(c.read, 5);
        assert_eq!(c.metered, 5);
        assert_eq!(
            c.clamped_timestamps, 3,
            "three packets went backwards ({workers} workers)"
        );
        assert!(
            c.summary().contains("timestamps clamped"),
            "{}",
            c.summary()
        );
        assert!(c.conserved());
        assert_eq!(records.iter().map(|r| r.packets).sum::<u64>(), 5);
        for r in &records {
            assert!(r.end >= r.start, "record ends before it starts: {r:?}");
        }
        // Clamped to the newest seen: the flow spans 1000 s to 1001 s, nothing earlier.
        let start = records.iter().map(|r| r.start).min().unwrap();
        let end = records.iter().map(|r| r.end).max().unwrap();
        assert_eq!(start.as_millis(), 1_000_000);
        assert_eq!(end.as_millis(), 1_001_000);
    }
}

/// Two files where the second starts before the first ended: clamped across the boundary.
#[test]
fn timestamps_going_backwards_across_files_are_clamped() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.pcap");
    let b = dir.path().join("b.pcap");
    std::fs::write(&a, pcap_with_times(&[(2000, 0), (2001, 0)])).unwrap();
    std::fs::write(&b, pcap_with_times(&[(1500, 0), (2002, 0)])).unwrap();
    let sink = Collect::default();
    let options = ConvertOptions::new(vec![a, b]);
    let report = convert(&options, vec![Box::new(sink.clone())]).unwrap();
    assert_eq!(report.counters.clamped_timestamps, 1);
    let records = sink.records();
    assert_eq!(records.iter().map(|r| r.packets).sum::<u64>(), 4);
    assert!(records.iter().all(|r| r.end >= r.start));
    assert_eq!(
        records.iter().map(|r| r.start).min().unwrap().as_millis(),
        2_000_000
    );
}
