//! The flow cache bound holds under 10 million distinct flows, and nothing is lost.
//!
//! `flowprobe generate --distinct-flows N` writes N one-packet UDP flows (each its own
//! key, 1 µs apart, so none idles out) down a pipe into `flowprobe convert /dev/stdin
//! --max-flows 100000`: no file is written, and the reader takes the FIFO in short reads.
//! The convert process is reaped with `wait4`, whose `ru_maxrss` is that process's own
//! peak resident memory (VmHWM), not the test's nor the generator's.
//!
//! What must hold:
//! - peak RSS of the convert process within `RSS_BOUND` (the cache holds at most 100 000
//!   records; without the bound, 10M flows would take well over a gigabyte);
//! - every packet metered, and in a record: the summary's packets read = metered = N,
//!   flows exported = N (one-packet flows: one record each), the IPFIX sink wrote N
//!   records, and convert exits 0, which it only does when the packets summed over the
//!   exported records equal the packets metered;
//! - the flows beyond the bound ended early as "lack of resources" (N - 100 000 of them),
//!   the rest at the end of input.
//!
//! Built with optimisations (`cargo test --release`) it runs the full 10M flows (9.4 s
//! here, peak RSS 49 MiB); an unoptimised build runs 1M flows under the same bound, so a plain
//! `cargo test` stays quick and still proves the bound and the accounting.

use std::process::{Command, Stdio};
use std::time::Instant;

/// Flows beyond this many are exported early.
const MAX_FLOWS: u64 = 100_000;

/// The peak resident memory allowed to the convert process, in KiB. Measured on the
/// release build: about 19 MiB with `--max-flows 1000`, 49-54 MiB with 100 000 (so some
/// 350 bytes per cached flow), and 357 MiB for 1M flows with the bound above them; 10M
/// unbounded flows would need some 3.5 GiB.
const RSS_BOUND_KIB: u64 = 96 * 1024;

/// The number after `label` on the summary line that starts with it.
fn summary_number(summary: &str, label: &str) -> Option<u64> {
    summary.lines().find_map(|l| {
        let rest = l.trim_start().strip_prefix(label)?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// Waits for `pid` and returns (exit status code, peak RSS in KiB).
fn wait_with_peak_rss(pid: u32) -> (i32, u64) {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped (we never call `Child::wait` on
    // it); `status` and `usage` are valid, exclusive pointers for the call's duration.
    let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(
        r,
        pid as libc::pid_t,
        "wait4: {}",
        std::io::Error::last_os_error()
    );
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    // Linux reports ru_maxrss in KiB.
    (code, usage.ru_maxrss as u64)
}

/// Flows in the test: 10M optimised, 1M otherwise.
fn flows() -> u64 {
    if cfg!(debug_assertions) {
        1_000_000
    } else {
        10_000_000
    }
}

/// Runs `generate --distinct-flows N | convert /dev/stdin --max-flows MAX_FLOWS OUTPUT...`;
/// returns convert's exit code, its peak RSS in KiB and its summary.
// The convert child is reaped by `wait_with_peak_rss` (wait4), not `Child::wait`.
#[allow(clippy::zombie_processes)]
fn convert_distinct_flows(flows: u64, output: &[&str]) -> (i32, u64, String) {
    let exe = env!("CARGO_BIN_EXE_flowprobe");
    let t0 = Instant::now();
    let mut generator = Command::new(exe)
        .args(["generate", "--distinct-flows", &flows.to_string()])
        .args(["-o", "/dev/stdout"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("flowprobe generate starts");
    let pipe = generator.stdout.take().unwrap();
    let convert = Command::new(exe)
        .args(["convert", "/dev/stdin", "--no-progress"])
        .args(["--max-flows", &MAX_FLOWS.to_string()])
        .args(output)
        .stdin(Stdio::from(pipe))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("flowprobe convert starts");
    let pid = convert.id();
    let mut stderr = convert.stderr.expect("stderr piped");
    // Read stderr on a thread so the child never blocks on a full pipe before exiting.
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).unwrap();
        s
    });
    let (code, peak_kib) = wait_with_peak_rss(pid);
    let summary = reader.join().unwrap();
    assert!(generator.wait().unwrap().success(), "generator failed");
    eprintln!(
        "{flows} flows, max_flows {MAX_FLOWS}, {output:?}: convert peak RSS {} MiB, {:?}\n{summary}",
        peak_kib / 1024,
        t0.elapsed()
    );
    assert_eq!(code, 0, "convert failed:\n{summary}");
    (code, peak_kib, summary)
}

/// The summary's accounting of a bounded run of `flows` one-packet flows.
fn assert_accounting(summary: &str, flows: u64) {
    let n = |label: &str| {
        summary_number(summary, label)
            .unwrap_or_else(|| panic!("no `{label}` line in the summary:\n{summary}"))
    };
    assert_eq!(n("packets read"), flows);
    assert_eq!(n("metered"), flows);
    assert_eq!(n("undecodable"), 0);
    assert_eq!(n("flows exported"), flows, "one record per one-packet flow");
    assert_eq!(
        n("lack_of_resources"),
        flows - MAX_FLOWS,
        "every flow beyond the bound is exported early"
    );
    assert_eq!(n("forced_end"), MAX_FLOWS, "the rest at the end of input");
}

#[test]
fn ten_million_flows_under_a_small_bound() {
    let flows = flows();
    let (_, peak_kib, summary) = convert_distinct_flows(flows, &["--ipfix-file", "/dev/null"]);
    assert_accounting(&summary, flows);
    let sink_records = summary
        .lines()
        .find(|l| l.starts_with("export "))
        .and_then(|l| {
            let (_, rest) = l.split_once(": ")?;
            let mut parts = rest.split(", ");
            parts.next()?; // messages
            parts.next()?.strip_suffix(" records")?.parse::<u64>().ok()
        })
        .unwrap_or_else(|| panic!("no export line in the summary:\n{summary}"));
    assert_eq!(sink_records, flows, "the IPFIX sink wrote every record");
    assert!(
        peak_kib <= RSS_BOUND_KIB,
        "convert peak RSS {peak_kib} KiB over the bound {RSS_BOUND_KIB} KiB"
    );
}

/// The same 10M flows written to a Parquet file: memory stays within the same bound plus
/// two row groups of `ROW_GROUP_ROWS` rows (the Parquet sink gathers one while its
/// encoder writes the other), and the file has every row (its footer's row count, read
/// by pyarrow).
#[test]
fn ten_million_flows_to_parquet_under_the_same_bound() {
    let flows = flows();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("flows.parquet");
    let (_, peak_kib, summary) =
        convert_distinct_flows(flows, &["-f", "parquet", "-o", file.to_str().unwrap()]);
    assert_accounting(&summary, flows);
    let rows = Command::new("python3")
        .args([
            "-c",
            "import sys, pyarrow.parquet as pq; m = pq.ParquetFile(sys.argv[1]).metadata; \
             print(m.num_rows, m.num_row_groups, max(m.row_group(i).num_rows for i in range(m.num_row_groups)))",
        ])
        .arg(&file)
        .output()
        .expect("python3 runs (pip install pyarrow)");
    assert!(
        rows.status.success(),
        "pyarrow reads the file (pip install pyarrow): {}",
        String::from_utf8_lossy(&rows.stderr)
    );
    let text = String::from_utf8(rows.stdout).unwrap();
    let v: Vec<u64> = text
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    assert_eq!(v[0], flows, "every record is a row");
    assert_eq!(v[2], flowprobe::export::parquet::ROW_GROUP_ROWS as u64);
    assert_eq!(v[1], flows.div_ceil(v[2]), "row groups of the bounded size");
    // Two row groups are in memory, one gathered and one encoded, at about 225 bytes a
    // row each (measured: 87 MiB peak with 16,384-row groups, 94 with 32,768, 109-111 with 65,536,
    // the same for 3M and 10M flows); all 10M rows held would take over 2 GiB.
    let bound = RSS_BOUND_KIB + 2 * v[2] * 320 / 1024;
    assert!(
        peak_kib <= bound,
        "convert peak RSS {peak_kib} KiB over the bound {bound} KiB"
    );
}
