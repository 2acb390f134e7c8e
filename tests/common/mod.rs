//! Helpers shared by the integration tests: where the shared captures are, the external
//! tools the oracles need, and a record sink that collects into memory.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use flowprobe::export::RecordSink;
use flowprobe::flow::record::FlowRecord;
use flowprobe::time::Timestamp;

/// `../shared/pcaps`, the captures written by others (never copied into this repository).
pub fn shared_pcaps() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/pcaps")
}

/// Whether an external tool runs. Under `CI` a missing tool fails the test (the oracle
/// is the point of the test); elsewhere the test says it skipped and passes.
pub fn require_tool(tool: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
        || Command::new(tool).arg("-h").output().is_ok();
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("{tool} is not installed; .ci/run installs it (CI is set, so this fails)");
        }
        eprintln!("skipped: {tool} not installed");
    }
    ok
}

/// Whether the shared captures are there (same rule as `require_tool`).
pub fn require_shared_pcaps() -> bool {
    let ok = shared_pcaps().join("MANIFEST.tsv").exists();
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("../shared/pcaps is missing (CI is set, so this fails)");
        }
        eprintln!("skipped: ../shared/pcaps not present");
    }
    ok
}

/// One row of `MANIFEST.tsv`.
#[derive(Clone, Debug)]
pub struct ManifestRow {
    /// Path relative to `shared/pcaps`.
    pub file: String,
    /// Packets as capinfos counted them.
    pub packets: Option<u64>,
    /// Link types, e.g. `EN10MB(1)`.
    pub link_type: String,
    /// Features tshark saw, e.g. `ipv4:12,ipv4-frag:12,tcp:1`.
    pub features: String,
    /// Notes (damage, tool errors).
    pub notes: String,
}

impl ManifestRow {
    /// Whether tshark saw `feature` in any packet.
    pub fn has(&self, feature: &str) -> bool {
        self.features
            .split(',')
            .any(|f| f.split(':').next() == Some(feature))
    }

    /// The numeric link types.
    pub fn link_types(&self) -> Vec<u32> {
        self.link_type
            .split(',')
            .filter_map(|t| {
                t.rsplit_once('(')
                    .and_then(|(_, n)| n.trim_end_matches(')').parse().ok())
            })
            .collect()
    }
}

/// Every row of the manifest.
pub fn manifest() -> Vec<ManifestRow> {
    let text = std::fs::read_to_string(shared_pcaps().join("MANIFEST.tsv")).expect("MANIFEST.tsv");
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let cols: Vec<&str> = line.split('\t').collect();
            (cols.len() >= 8).then(|| ManifestRow {
                file: cols[0].to_string(),
                packets: cols[2].parse().ok(),
                link_type: cols[3].to_string(),
                features: cols[7].to_string(),
                notes: cols.get(13).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// A sink that keeps every record in memory.
#[derive(Clone, Default)]
pub struct Collect(pub Arc<Mutex<Vec<FlowRecord>>>);

impl Collect {
    /// The records so far.
    pub fn records(&self) -> Vec<FlowRecord> {
        self.0.lock().unwrap().clone()
    }
}

impl RecordSink for Collect {
    fn export(&mut self, records: &[FlowRecord], _now: Timestamp) -> std::io::Result<()> {
        self.0.lock().unwrap().extend_from_slice(records);
        Ok(())
    }

    fn finish(&mut self, _now: Timestamp) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` over `items` on all cores, keeping the input order in the output.
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .max(2);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new((0..items.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let r = f(item);
                results.lock().unwrap()[i] = Some(r);
            });
        }
    });
    results
        .into_inner()
        .unwrap()
        .into_iter()
        .map(|r| r.expect("every item mapped"))
        .collect()
}

/// Per direction (source, destination address): (packets, octets).
pub type Totals = std::collections::BTreeMap<(String, String), (u64, u64)>;

/// Per-direction totals of flowprobe's (uniflow) records, keyed like `tshark_totals`.
pub fn totals_of(records: &[FlowRecord]) -> Totals {
    let mut totals = Totals::new();
    for r in records {
        let e = totals
            .entry((r.key.src_addr().to_string(), r.key.dst_addr().to_string()))
            .or_default();
        e.0 += r.packets;
        e.1 += r.octets;
    }
    totals
}

/// The directions where two totals differ, at most six of them, one a line.
pub fn describe_totals(ours: &Totals, theirs: &Totals) -> String {
    let keys: std::collections::BTreeSet<_> = ours.keys().chain(theirs.keys()).collect();
    let mut lines: Vec<String> = keys
        .into_iter()
        .filter(|k| ours.get(*k) != theirs.get(*k))
        .map(|k| {
            format!(
                "    {} -> {}: flowprobe {:?} tshark {:?}",
                k.0,
                k.1,
                ours.get(k),
                theirs.get(k)
            )
        })
        .collect();
    let more = lines.len().saturating_sub(6);
    lines.truncate(6);
    if more > 0 {
        lines.push(format!("    ... and {more} more"));
    }
    lines.join("\n")
}

/// tshark's per-direction totals on the outer IP header.
pub fn tshark_totals(path: &Path) -> Result<Totals, String> {
    tshark_totals_with(path, &[])
}

/// `tshark_totals` with `extra_args` given to tshark before its output options: a
/// decode-as (`-d mpls.label==17,pwethcw`) or a display filter (`-Y ...`) for one file.
/// tshark's exit status 1 (an option it rejects) is an error, and so is 2 with nothing
/// read and a complaint on stderr (tshark 4.0 rejects a bad display filter with 2);
/// otherwise 2 is a file cut short or damaged, after printing what it read, and not an
/// error, as in `tshark_totals`.
pub fn tshark_totals_with(path: &Path, extra_args: &[&str]) -> Result<Totals, String> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(path)
        .args(extra_args)
        .args(["-T", "fields", "-E", "occurrence=f", "-E", "separator=\t"])
        .args([
            "-e",
            "frame.protocols",
            "-e",
            "ip.src",
            "-e",
            "ip.dst",
            "-e",
            "ip.len",
        ])
        .args(["-e", "ipv6.src", "-e", "ipv6.dst", "-e", "ipv6.plen"])
        .output()
        .map_err(|e| format!("tshark: {e}"))?;
    let rejected = match out.status.code() {
        Some(1) => true,
        Some(2) => !extra_args.is_empty() && out.stdout.is_empty() && !out.stderr.is_empty(),
        _ => false,
    };
    if rejected {
        return Err(format!(
            "tshark {extra_args:?} rejected its options: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let mut totals = Totals::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 7 {
            continue;
        }
        let outer = f[0].split(':').find(|p| *p == "ip" || *p == "ipv6");
        let (src, dst, len) = match outer {
            Some("ip") if !f[1].is_empty() && !f[3].is_empty() => (
                f[1].to_string(),
                f[2].to_string(),
                f[3].parse::<u64>().unwrap_or(0),
            ),
            Some("ipv6") if !f[4].is_empty() && !f[6].is_empty() => (
                f[4].to_string(),
                f[5].to_string(),
                40 + f[6].parse::<u64>().unwrap_or(0),
            ),
            _ => continue,
        };
        let e = totals.entry((src, dst)).or_default();
        e.0 += 1;
        e.1 += len;
    }
    Ok(totals)
}

/// Generates a capture with `config` and writes it as `name` (microsecond pcap) in `dir`.
pub fn write_generated(
    dir: &Path,
    name: &str,
    config: &flowprobe::generate::GenConfig,
) -> (PathBuf, flowprobe::generate::Generated) {
    let path = dir.join(name);
    let g = flowprobe::generate::generate(config);
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    flowprobe::generate::write_pcap(&g, false, &mut out).unwrap();
    (path, g)
}
