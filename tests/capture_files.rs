//! Every capture under `../shared/pcaps` through `CaptureFile`, checked against the
//! packet counts and link types that capinfos/tshark recorded in `MANIFEST.tsv`.
//!
//! - No file panics or hangs (each file has a time bound).
//! - A file read to its end without error has exactly the manifest's packet count (when
//!   the manifest has a trustworthy count: capinfos read the file).
//! - Only files in `malformed/`, files the manifest says are cut or damaged, and files
//!   that are not pcap/pcapng may end in an error.
//! - Files with one interface report the manifest's link type.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use flowprobe::capture::file::{CaptureFile, ReadMode, ReaderStats};

const ROOT: &str = "../shared/pcaps";
const PER_FILE_LIMIT: Duration = Duration::from_secs(60);

/// One row of MANIFEST.tsv (the columns this test uses).
struct Row {
    packets: u64,
    link_type: String,
    format: String,
    interfaces: String,
    notes: String,
}

fn manifest() -> HashMap<String, Row> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| *h == name)
            .unwrap_or_else(|| panic!("column {name}"))
    };
    let (file, packets, link, format, ifs, notes) = (
        col("file"),
        col("packets"),
        col("link_type"),
        col("format"),
        col("interfaces"),
        col("notes"),
    );
    lines
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let get = |i: usize| f.get(i).copied().unwrap_or("").to_string();
            (
                get(file),
                Row {
                    packets: get(packets).parse().unwrap_or(u64::MAX),
                    link_type: get(link),
                    format: get(format),
                    interfaces: get(ifs),
                    notes: get(notes),
                },
            )
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out);
        } else if !matches!(
            p.file_name().and_then(|n| n.to_str()),
            Some("MANIFEST.tsv" | "README.md")
        ) {
            out.push(p);
        }
    }
}

/// What reading one file gave.
#[derive(Debug, PartialEq)]
struct Outcome {
    packets: u64,
    error: Option<String>,
    link_types: BTreeSet<u32>,
    stats: ReaderStats,
    bytes: u64,
}

/// The file read both ways (mapped, as `convert` does, and with `read(2)`): they must
/// agree on everything.
fn read(path: &Path) -> Outcome {
    let mapped = read_with(path, ReadMode::Auto);
    let streamed = read_with(path, ReadMode::Read);
    assert_eq!(
        mapped,
        streamed,
        "{}: mapped (left) and read(2) (right) differ",
        path.display()
    );
    mapped
}

fn read_with(path: &Path, mode: ReadMode) -> Outcome {
    let mut o = Outcome {
        packets: 0,
        error: None,
        link_types: BTreeSet::new(),
        stats: ReaderStats::default(),
        bytes: 0,
    };
    let mut f = match CaptureFile::open_with(path, mode) {
        Ok(f) => f,
        Err(e) => {
            o.error = Some(e.to_string());
            return o;
        }
    };
    loop {
        match f.next_packet() {
            Ok(Some(p)) => {
                o.packets += 1;
                o.link_types.insert(p.link_type);
                assert!(p.data.len() <= 256 * 1024);
            }
            Ok(None) => break,
            Err(e) => {
                o.error = Some(e.to_string());
                break;
            }
        }
    }
    if o.link_types.is_empty() {
        o.link_types
            .extend(f.interfaces().iter().map(|i| i.link_type));
    }
    o.stats = f.stats();
    o.bytes = f.bytes_read();
    o
}

/// The manifest says the file is cut or damaged, or not a pcap/pcapng at all.
fn expected_to_fail(rel: &str, row: Option<&Row>) -> bool {
    rel.starts_with("malformed/")
        || row.is_some_and(|r| {
            r.format == "snoop"
                || [
                    "cut short",
                    "damaged",
                    "corrupt",
                    "unknown SHB version",
                    "unsupported pcap",
                ]
                .iter()
                .any(|n| r.notes.contains(n))
        })
}

/// The manifest's packet count is what capinfos counted in the whole file.
fn count_is_trustworthy(row: &Row) -> bool {
    row.packets != u64::MAX
        && !row.notes.contains("capinfos")
        && !row.notes.contains("linktype unsupported")
}

/// `EN10MB(1)` -> 1, when the column names a single link type.
fn single_link_type(row: &Row) -> Option<u32> {
    if row.interfaces != "1" {
        return None;
    }
    let inner = row.link_type.strip_suffix(')')?.rsplit_once('(')?.1;
    inner.parse().ok().filter(|&n: &u32| n <= 0xffff)
}

#[test]
fn every_shared_capture() {
    let root = Path::new(ROOT);
    if !root.is_dir() {
        assert!(std::env::var_os("CI").is_none(), "{ROOT} missing");
        eprintln!("skipped: {ROOT} not present");
        return;
    }
    let rows = manifest();
    let mut files = Vec::new();
    walk(root, &mut files);
    assert!(
        files.len() > 2000,
        "only {} files under {ROOT}",
        files.len()
    );

    // One worker reads the files in order; the test thread bounds the time per file.
    let (tx, rx) = mpsc::channel();
    let list = files.clone();
    std::thread::spawn(move || {
        for p in list {
            let t = Instant::now();
            let o = std::panic::catch_unwind(|| read(&p));
            if tx.send((p, o.map_err(|_| ()), t.elapsed())).is_err() {
                return;
            }
        }
    });

    let mut failed_as_expected = Vec::new();
    let mut unexpected = Vec::new();
    let mut total = ReaderStats::default();
    let (mut packets, mut bytes, mut compared, mut link_checked) = (0u64, 0u64, 0usize, 0usize);
    let started = Instant::now();
    for next in &files {
        let (path, outcome, elapsed) = rx
            .recv_timeout(PER_FILE_LIMIT)
            .unwrap_or_else(|_| panic!("reading {} took over {PER_FILE_LIMIT:?}", next.display()));
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let Ok(o) = outcome else {
            unexpected.push(format!("{rel}: PANIC"));
            continue;
        };
        let row = rows.get(&rel);
        packets += o.packets;
        bytes += o.bytes;
        for (t, s) in [
            (&mut total.caplen_over_snaplen, o.stats.caplen_over_snaplen),
            (
                &mut total.caplen_over_orig_len,
                o.stats.caplen_over_orig_len,
            ),
            (&mut total.zero_length, o.stats.zero_length),
            (&mut total.subsec_overflow, o.stats.subsec_overflow),
            (&mut total.timestamps_clamped, o.stats.timestamps_clamped),
            (
                &mut total.timestamps_saturated,
                o.stats.timestamps_saturated,
            ),
            (&mut total.skipped_blocks, o.stats.skipped_blocks),
            (&mut total.sections, o.stats.sections),
        ] {
            *t += s;
        }
        if elapsed > Duration::from_secs(5) {
            eprintln!("slow: {rel} took {elapsed:?}");
        }
        if let Some(e) = &o.error {
            let line = format!("{rel}: after {} packets: {e}", o.packets);
            if expected_to_fail(&rel, row) {
                failed_as_expected.push(line);
            } else {
                unexpected.push(line);
            }
            continue;
        }
        let Some(row) = row else {
            unexpected.push(format!("{rel}: not in MANIFEST.tsv"));
            continue;
        };
        if count_is_trustworthy(row) {
            compared += 1;
            if o.packets != row.packets {
                unexpected.push(format!(
                    "{rel}: read {} packets, manifest says {}",
                    o.packets, row.packets
                ));
            }
        }
        if let Some(lt) = single_link_type(row) {
            link_checked += 1;
            if o.link_types != BTreeSet::from([lt]) {
                unexpected.push(format!(
                    "{rel}: link types {:?}, manifest says {}",
                    o.link_types, row.link_type
                ));
            }
        }
    }

    eprintln!(
        "{} files, {packets} packets, {bytes} bytes in {:?}; {compared} packet counts and {link_checked} link types compared",
        files.len(),
        started.elapsed()
    );
    eprintln!("oddities read past (all files): {total:?}");
    eprintln!(
        "{} files ended in an error, as the manifest expects:",
        failed_as_expected.len()
    );
    for l in &failed_as_expected {
        eprintln!("  {l}");
    }
    assert!(
        unexpected.is_empty(),
        "{} unexpected results:\n{}",
        unexpected.len(),
        unexpected.join("\n")
    );
}
