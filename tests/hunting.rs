//! The README's "Hunting with DuckDB" queries, run as written there.
//!
//! `tests/hunting/run_queries.py` takes every SQL block of that section from README.md
//! itself (so the text cannot drift from what is tested), creates the `flows` view on the
//! Parquet output of a generated site, and runs each query with DuckDB's Python package:
//! - with every scenario planted (`generate --scenario all`), each query returns the
//!   planted host of its scenario first and no other host;
//! - on the same site with none planted, each returns nothing: the thresholds keep the
//!   site's ordinary traffic and its decoys out.
//!
//! Needs python3 with duckdb (`pip install duckdb`; .ci/run installs it): without it the
//! test fails saying so.

use std::path::Path;
use std::process::Command;

const EXE: &str = env!("CARGO_BIN_EXE_flowprobe");

fn run(args: &[&str]) {
    let out = Command::new(EXE).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "flowprobe {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn queries_on(dir: &Path, scenarios: &str) -> String {
    let pcap = dir.join(format!("{scenarios}.pcap"));
    let truth = dir.join(format!("{scenarios}.json"));
    let parquet = dir.join(format!("{scenarios}.parquet"));
    let (pcap, truth, parquet) = (
        pcap.to_str().unwrap(),
        truth.to_str().unwrap(),
        parquet.to_str().unwrap(),
    );
    run(&[
        "generate",
        "--scenario",
        scenarios,
        "--truth",
        truth,
        "-o",
        pcap,
    ]);
    run(&["convert", pcap, "-q", "-o", parquet]);
    let out = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/hunting/run_queries.py"
        ))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .args([parquet, truth])
        .output()
        .expect("python3 runs");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_ne!(out.status.code(), Some(2), "pip install duckdb: {report}");
    assert!(out.status.success(), "scenarios {scenarios}:\n{report}");
    report
}

#[test]
fn every_readme_query_finds_its_planted_host_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let report = queries_on(dir.path(), "all");
    eprintln!("{report}");
    assert_eq!(report.matches("ok  ").count(), 5, "{report}");
    for scenario in ["beacon", "exfil", "scan", "lateral"] {
        assert!(report.contains(&format!("ok   {scenario}:")), "{report}");
    }
}

#[test]
fn no_readme_query_flags_the_site_without_planted_behaviour() {
    let dir = tempfile::tempdir().unwrap();
    let report = queries_on(dir.path(), "none");
    eprintln!("{report}");
    assert_eq!(
        report.matches("no row, as nothing was planted").count(),
        5,
        "{report}"
    );
}
