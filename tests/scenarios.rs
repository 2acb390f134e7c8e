//! `flowprobe generate --scenario`: what the truth says was planted is in the records.
//!
//! The capture with every scenario is converted to CSV, and its records must show each
//! behaviour exactly as the truth JSON states it: the beacon's calls (one record each,
//! starts 60 s ± 3 s apart), the exfiltrated octets, the scan's probes, the lateral
//! sessions' starts; and a capture with none planted has none of those hosts' records.
//! The same seed gives the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

const EXE: &str = env!("CARGO_BIN_EXE_flowprobe");

/// Generates a scenario capture; returns the truth JSON.
fn generate(list: &str, pcap: &Path) -> String {
    let out = Command::new(EXE)
        .args(["generate", "--scenario", list, "--truth", "-", "-o"])
        .arg(pcap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The CSV records of `pcap`, as maps of column to value.
fn records(pcap: &Path) -> Vec<BTreeMap<String, String>> {
    let out = Command::new(EXE)
        .arg("convert")
        .arg(pcap)
        .args(["-q", "-f", "csv"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| {
            header
                .iter()
                .cloned()
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .collect()
}

/// The number after `"key": ` in the truth (the first such key).
fn number(truth: &str, key: &str) -> u64 {
    let at = truth.find(&format!("\"{key}\": ")).unwrap() + key.len() + 4;
    truth[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

/// Nanoseconds since the epoch of an RFC 3339 UTC time on 2023-11-14 or -15 (the
/// generator's start day), enough for differences.
fn nanos(t: &str) -> u64 {
    let day: u64 = t[8..10].parse().unwrap();
    let h: u64 = t[11..13].parse().unwrap();
    let m: u64 = t[14..16].parse().unwrap();
    let s: u64 = t[17..19].parse().unwrap();
    let frac: u64 = t[20..29].parse().unwrap();
    ((day * 24 + h) * 3600 + m * 60 + s) * 1_000_000_000 + frac
}

fn u(r: &BTreeMap<String, String>, k: &str) -> u64 {
    r[k].parse().unwrap()
}

#[test]
fn every_planted_behaviour_is_in_the_records_as_the_truth_says() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("all.pcap");
    let truth = generate("all", &pcap);
    let recs = records(&pcap);
    let from = |host: &'static str| recs.iter().filter(move |r| r["src"] == host);

    // Beacon: one record a call, each a whole connection, starts 60 s ± 3 s apart.
    let mut calls: Vec<u64> = from("198.18.3.33")
        .filter(|r| r["dst"] == "198.19.66.6" && r["dport"] == "443")
        .map(|r| {
            assert_eq!(r["end_reason"], "end_of_flow", "{r:?}");
            nanos(&r["start"])
        })
        .collect();
    calls.sort_unstable();
    assert_eq!(calls.len() as u64, number(&truth, "calls"));
    assert!(calls.len() > 200, "four hours of calls: {}", calls.len());
    for w in calls.windows(2) {
        let gap = w[1] - w[0];
        assert!(
            (57_000_000_000..=63_000_000_000).contains(&gap),
            "gap {gap} ns"
        );
    }

    // Exfiltration: the octets the truth states, in one record, to one address.
    let exfil: Vec<_> = from("198.18.4.44")
        .filter(|r| r["dst"] == "198.19.77.7")
        .collect();
    assert_eq!(exfil.len(), 1);
    assert_eq!(u(exfil[0], "bytes"), number(&truth, "octets"));
    let usual: u64 = from("198.18.4.44")
        .filter(|r| r["dst"] != "198.19.77.7")
        .map(|r| u(r, "bytes"))
        .sum();
    assert!(usual * 50 < u(exfil[0], "bytes"), "usual {usual}");

    // Scan: every probe a record of one packet (SYN) or two with the RST back.
    let probes: BTreeSet<(String, String)> = from("198.18.5.55")
        .map(|r| {
            assert_eq!(u(r, "packets"), 1, "{r:?}");
            assert_eq!(u(r, "tcp_flags"), 0x02);
            (r["dst"].clone(), r["dport"].clone())
        })
        .collect();
    assert_eq!(probes.len() as u64, number(&truth, "probes"));
    let hosts: BTreeSet<&String> = probes.iter().map(|p| &p.0).collect();
    assert_eq!(hosts.len() as u64, number(&truth, "targets"));
    let rsts = recs
        .iter()
        .filter(|r| r["dst"] == "198.18.5.55" && u(r, "tcp_flags") == 0x14)
        .count();
    assert!(
        rsts > 0 && rsts < probes.len(),
        "closed ports answer: {rsts}"
    );

    // Lateral: admin-port sessions to the truth's targets at the truth's times, and to
    // nobody the host spoke to before.
    let sessions_at = truth.find("\"sessions\"").unwrap();
    let mut planted = Vec::new();
    for part in truth[sessions_at..].split("{\"target\": \"").skip(1) {
        let target = part.split('"').next().unwrap().to_string();
        let start = number(part, "start_s");
        planted.push((target, start));
    }
    assert_eq!(planted.len(), 6);
    let earliest: BTreeMap<&String, u64> = from("198.18.6.66").fold(BTreeMap::new(), |mut m, r| {
        let t = nanos(&r["start"]);
        let e = m.entry(&r["dst"]).or_insert(t);
        *e = (*e).min(t);
        m
    });
    let start_secs = |n: u64| n / 1_000_000_000 - (14 * 24 * 3600) + 1_699_920_000;
    for (target, start) in &planted {
        let first = earliest
            .get(target)
            .copied()
            .expect("a record of the session");
        assert_eq!(start_secs(first), *start, "{target}");
        let port_ok = from("198.18.6.66")
            .filter(|r| &r["dst"] == target)
            .all(|r| ["22", "445", "3389", "5985"].contains(&r["dport"].as_str()));
        assert!(port_ok, "{target}: admin ports only");
    }

    // None planted: the same site without those hosts.
    let quiet = dir.path().join("none.pcap");
    let truth_none = generate("none", &quiet);
    assert!(!truth_none.contains("\"beacon\""));
    let quiet_recs = records(&quiet);
    for host in ["198.18.3.33", "198.18.5.55"] {
        assert!(
            !quiet_recs
                .iter()
                .any(|r| r["src"] == host || r["dst"] == host),
            "{host} without its scenario"
        );
    }
    assert!(!quiet_recs.iter().any(|r| r["dst"] == "198.19.77.7"));

    // Deterministic.
    let again = dir.path().join("again.pcap");
    generate("all", &again);
    assert_eq!(
        std::fs::read(&pcap).unwrap(),
        std::fs::read(&again).unwrap()
    );
}

#[test]
fn unknown_scenarios_are_usage_errors() {
    let out = Command::new(EXE)
        .args(["generate", "--scenario", "beacon,phish", "-o", "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"phish\""));
}
