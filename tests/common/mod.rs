//! Helpers shared by the integration tests: where the shared captures are, the external
//! tools the oracles need, a record sink that collects into memory, and what the tshark
//! oracle tests have in common (tshark's field rows, hex payloads, TLS hellos against
//! tshark's fields, known differences and the closing assertions).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use flowprobe::export::RecordSink;
use flowprobe::flow::record::FlowRecord;
use flowprobe::inspect::tls::{ClientHello, ServerHello};
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

/// Every capture under `dir` (recursively), sorted: every file but the corpus's own
/// `.tsv` and `.md` files.
pub fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("tsv" | "md")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Separates the values of a field that occurs more than once in a frame in
/// `tshark_field_rows`' output. A control character: ALPN values, server names and DNS
/// names may contain commas (tshark escapes a control character in names).
pub const AGGREGATOR: &str = "\x1f";

/// One frame of tshark's `-T fields` output: each asked field's values, in the order the
/// fields were asked for (the first field is `frame.number`).
pub struct FieldRow<'f> {
    /// The frame number (the first field).
    pub frame: u32,
    fields: &'f [&'f str],
    values: Vec<Vec<String>>,
}

impl<'f> FieldRow<'f> {
    /// A line of tshark's output for `fields`: columns split on tabs, each column's values
    /// on [`AGGREGATOR`]. `None` for a line whose first column is not a frame number.
    pub fn from_line(line: &str, fields: &'f [&'f str]) -> Option<FieldRow<'f>> {
        let cols: Vec<&str> = line.split('\t').collect();
        let frame = cols.first()?.parse().ok()?;
        let values = cols
            .iter()
            .map(|c| {
                if c.is_empty() {
                    Vec::new()
                } else {
                    c.split(AGGREGATOR).map(str::to_string).collect()
                }
            })
            .collect();
        Some(FieldRow {
            frame,
            fields,
            values,
        })
    }

    /// The values of field `name` (one of the fields asked for).
    pub fn get(&self, name: &str) -> &[String] {
        let i = self
            .fields
            .iter()
            .position(|f| *f == name)
            .expect("a field of FIELDS");
        self.values.get(i).map_or(&[], Vec::as_slice)
    }

    /// The first value of field `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.get(name).first().map(String::as_str)
    }

    /// The first value of field `name`, or "" (what an empty value is compared with).
    pub fn first_or_empty(&self, name: &str) -> String {
        self.first(name).unwrap_or_default().to_string()
    }

    /// The last value of field `name` (the innermost layer's, where layers nest).
    pub fn last(&self, name: &str) -> Option<&str> {
        self.get(name).last().map(String::as_str)
    }

    /// Numbers of field `name` (tshark prints some in hex, "0x1301", some in decimal);
    /// values that are neither are left out.
    pub fn numbers(&self, name: &str) -> Vec<u32> {
        self.get(name)
            .iter()
            .filter_map(|v| match v.strip_prefix("0x") {
                Some(h) => u32::from_str_radix(h, 16).ok(),
                None => v.parse().ok(),
            })
            .collect()
    }
}

/// tshark's rows for one file: `tshark -r path -n <options> -T fields`, every occurrence
/// of a field (values joined by [`AGGREGATOR`]), columns `fields` in order (the first must
/// be `frame.number`). `options` are what comes between: a display filter (`-Y ...`),
/// preferences (`-o ...`). An exit status of 2 (a file cut short) still prints what
/// tshark read, and those rows are returned.
pub fn tshark_field_rows<'f>(
    path: &Path,
    options: &[&str],
    fields: &'f [&'f str],
) -> Vec<FieldRow<'f>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(path)
        .arg("-n")
        .args(options)
        .args(["-T", "fields"])
        .args(["-E", "occurrence=a", "-E", "separator=/t"])
        .arg("-E")
        .arg(format!("aggregator={AGGREGATOR}"));
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| FieldRow::from_line(line, fields))
        .collect()
}

/// The bytes of a hex string as tshark prints a bytes field (`tcp.payload`: "16030100..."),
/// or `None` if it is not hex digits in pairs.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    let digits = s.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).ok()?, 16).ok())
        .collect()
}

/// A ClientHello's values compared with tshark's fields of the frame that shows it (TLS
/// over TCP, or in a QUIC Initial): server name, ALPN list, JA3 string and MD5, cipher
/// list, extension list and supported_versions list, in that order, each given to
/// `differ(field, flowprobe's, tshark's)`.
pub fn compare_client_hello(
    ch: &ClientHello,
    row: &FieldRow,
    differ: &mut impl FnMut(&'static str, String, String),
) {
    differ(
        "sni",
        ch.sni.clone().unwrap_or_default(),
        row.first_or_empty("tls.handshake.extensions_server_name"),
    );
    differ(
        "alpn",
        ch.alpn.join(AGGREGATOR),
        row.get("tls.handshake.extensions_alpn_str")
            .join(AGGREGATOR),
    );
    differ(
        "ja3_full",
        ch.ja3_string(),
        row.get("tls.handshake.ja3_full").join(AGGREGATOR),
    );
    differ(
        "ja3",
        ch.ja3(),
        row.get("tls.handshake.ja3").join(AGGREGATOR),
    );
    let tlist = |name: &str| {
        let n: Vec<u16> = row.numbers(name).into_iter().map(|x| x as u16).collect();
        format!("{n:?}")
    };
    differ(
        "ciphers",
        format!("{:?}", ch.ciphers),
        tlist("tls.handshake.ciphersuite"),
    );
    differ(
        "extensions",
        format!("{:?}", ch.extensions),
        tlist("tls.handshake.extension.type"),
    );
    differ(
        "supported_versions",
        format!("{:?}", ch.supported_versions),
        tlist("tls.handshake.extensions.supported_version"),
    );
}

/// A ServerHello's values compared with tshark's fields of the frame that shows it: the
/// cipher (`tls.handshake.ciphersuite`) and the negotiated version
/// (`tls.handshake.extensions.supported_version`, else `tls.handshake.version`), each
/// given to `differ(field, flowprobe's, tshark's)`.
pub fn compare_server_hello(
    sh: &ServerHello,
    row: &FieldRow,
    differ: &mut impl FnMut(&'static str, String, String),
) {
    differ(
        "cipher",
        format!("{:#06x}", sh.cipher),
        row.numbers("tls.handshake.ciphersuite")
            .first()
            .map(|c| format!("{c:#06x}"))
            .unwrap_or_default(),
    );
    let negotiated = row
        .numbers("tls.handshake.extensions.supported_version")
        .first()
        .or(row.numbers("tls.handshake.version").first())
        .map(|v| format!("{v:#06x}"))
        .unwrap_or_default();
    differ("version", format!("{:#06x}", sh.version), negotiated);
}

/// A capture's name in messages and known lists: its path under `root` (`shared/pcaps`).
pub fn relative_name(path: &Path, root: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// An oracle test's differences sorted against its list of known ones, each known one a
/// (file under `shared/pcaps`, frame, field).
pub struct KnownDifferences<'k> {
    known: Vec<(&'k str, u32, &'k str)>,
    seen: std::collections::BTreeSet<usize>,
    /// The differences no known one explains, one a line.
    pub unexplained: Vec<String>,
}

impl<'k> KnownDifferences<'k> {
    /// From a list of (file, frame, field, why).
    pub fn new(known: &'k [(&'k str, u32, &'k str, &'k str)]) -> Self {
        Self::from_triples(known.iter().map(|(f, n, k, _)| (*f, *n, *k)))
    }

    /// From a list of (file, frames, field, why): each frame a known difference of its own.
    pub fn by_frames(known: &'k [(&'k str, &'k [u32], &'k str, &'k str)]) -> Self {
        Self::from_triples(
            known
                .iter()
                .flat_map(|(f, frames, k, _)| frames.iter().map(move |n| (*f, *n, *k))),
        )
    }

    fn from_triples(known: impl Iterator<Item = (&'k str, u32, &'k str)>) -> Self {
        KnownDifferences {
            known: known.collect(),
            seen: std::collections::BTreeSet::new(),
            unexplained: Vec::new(),
        }
    }

    /// `file`'s differences, each (frame, field, what each side said): each known (and so
    /// seen), or unexplained ("{file} frame {frame} {field}: {what}").
    pub fn check<F: AsRef<str>>(
        &mut self,
        file: &str,
        diffs: impl IntoIterator<Item = (u32, F, String)>,
    ) {
        for (frame, field, what) in diffs {
            let field = field.as_ref();
            match self
                .known
                .iter()
                .position(|(f, n, k)| *f == file && *n == frame && *k == field)
            {
                Some(i) => {
                    self.seen.insert(i);
                }
                None => self
                    .unexplained
                    .push(format!("{file} frame {frame} {field}: {what}")),
            }
        }
    }

    /// How many known differences happened.
    pub fn seen(&self) -> usize {
        self.seen.len()
    }

    /// The known differences that did not happen ("{file} frame {frame} {field}").
    pub fn stale(&self) -> Vec<String> {
        self.known
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.seen.contains(i))
            .map(|(_, (f, n, k))| format!("{f} frame {n} {k}"))
            .collect()
    }
}

/// An oracle test's closing check: no difference without a known reason, and no known
/// difference that no longer happens (so the list stays true).
#[track_caller]
pub fn assert_differences_explained(unexplained: &[String], stale: &[String]) {
    assert!(
        unexplained.is_empty(),
        "{} unexplained differences:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    assert!(
        stale.is_empty(),
        "known differences that no longer happen:\n{}",
        stale.join("\n")
    );
}

/// That an oracle test compared more than `more_than` frames (a check that its captures
/// are all there).
#[track_caller]
pub fn assert_corpus_frames(frames: usize, more_than: usize) {
    assert!(
        frames > more_than,
        "only {frames} frames: did the corpus shrink?"
    );
}

// ---- Shared by the end-to-end tshark tests (convert's CSV against tshark's frames) ----

/// Nanoseconds since the epoch of tshark's `frame.time_epoch` (`1361916274.458646000`).
pub fn epoch_ns(s: &str) -> Option<i128> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let neg = secs.starts_with('-');
    let secs: i128 = secs.parse().ok()?;
    let mut f = frac.to_string();
    f.truncate(9);
    while f.len() < 9 {
        f.push('0');
    }
    let frac: i128 = f.parse().ok()?;
    Some(if neg {
        secs * 1_000_000_000 - frac
    } else {
        secs * 1_000_000_000 + frac
    })
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Nanoseconds since the epoch of the CSV's `2013-02-26T22:04:34.458646000Z`.
pub fn rfc3339_ns(s: &str) -> Option<i128> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let (y, m, dd): (i64, i64, i64) = (
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
        d.next()?.parse().ok()?,
    );
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut t = hms.splitn(3, ':');
    let (h, mi, se): (i64, i64, i64) = (
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
        t.next()?.parse().ok()?,
    );
    let secs = days_from_civil(y, m, dd) * 86_400 + h * 3600 + mi * 60 + se;
    let mut f = frac.to_string();
    f.truncate(9);
    while f.len() < 9 {
        f.push('0');
    }
    Some(i128::from(secs) * 1_000_000_000 + f.parse::<i128>().ok()?)
}

/// RFC 4180 rows of `text` (quoted fields may hold commas, quotes and line ends).
pub fn csv_rows(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
        } else {
            match c {
                '"' => quoted = true,
                ',' => row.push(std::mem::take(&mut field)),
                '\r' => {}
                '\n' => {
                    row.push(std::mem::take(&mut field));
                    rows.push(std::mem::take(&mut row));
                }
                _ => field.push(c),
            }
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        rows.push(row);
    }
    rows
}

/// The built binary, hard-linked (else copied) to `dir` first: cargo links the binary it
/// builds to a fixed path, which another build sharing the target directory may replace
/// while this test runs.
pub fn binary(dir: &Path) -> PathBuf {
    let built = Path::new(env!("CARGO_BIN_EXE_flowprobe"));
    let mine = dir.join("flowprobe");
    if std::fs::hard_link(built, &mine).is_err() {
        std::fs::copy(built, &mine).expect("copy flowprobe");
    }
    mine
}

/// The CSV `bin` writes for `path` with `convert --inspect INSPECT --decap all -f csv`
/// (every tunnel opened, as tshark opens them; `--biflow` when asked), through the file
/// `out`, which is removed after. Panics, naming the capture and what flowprobe said,
/// when no CSV came.
pub fn convert_csv(bin: &Path, path: &Path, out: &Path, inspect: &str, biflow: bool) -> String {
    let mut cmd = Command::new(bin);
    cmd.arg("convert")
        .arg(path)
        .args([
            "--inspect",
            inspect,
            "--decap",
            "all",
            "-f",
            "csv",
            "-q",
            "--no-progress",
        ])
        .arg("-o")
        .arg(out);
    if biflow {
        cmd.arg("--biflow");
    }
    let run = cmd.output().expect("flowprobe runs");
    let csv = std::fs::read_to_string(out).unwrap_or_else(|e| {
        panic!(
            "{}: no CSV ({e}): {}",
            path.display(),
            String::from_utf8_lossy(&run.stderr)
        )
    });
    let _ = std::fs::remove_file(out);
    csv
}

/// Where a tshark row's innermost IP header and transport are, the layers flowprobe keys a
/// frame by: the last `ip`/`ipv6` and the last `tcp`/`udp` in `frame.protocols`.
#[derive(Clone, Copy, Debug)]
pub struct InnerLayers {
    /// The IP header's index in `protocols`.
    pub ip: usize,
    pub v6: bool,
    pub tcp: bool,
}

impl InnerLayers {
    /// The layers of `protocols` (`frame.protocols` split at ':'): `None` for ICMP, for a
    /// frame without IP or without TCP/UDP, or with the transport before the IP header
    /// (ICMP's quoted packet).
    pub fn of(protocols: &[&str]) -> Option<InnerLayers> {
        if protocols.iter().any(|p| *p == "icmp" || *p == "icmpv6") {
            return None;
        }
        let ip = protocols.iter().rposition(|p| *p == "ip" || *p == "ipv6")?;
        let transport = protocols.iter().rposition(|p| *p == "tcp" || *p == "udp")?;
        (transport > ip).then(|| InnerLayers {
            ip,
            v6: protocols[ip] == "ipv6",
            tcp: protocols[transport] == "tcp",
        })
    }

    /// The tshark fields of the key: source and destination address, ToS (traffic
    /// class), source and destination port.
    pub fn key_fields(&self) -> [&'static str; 5] {
        let (src, dst, tos) = if self.v6 {
            ("ipv6.src", "ipv6.dst", "ipv6.tclass")
        } else {
            ("ip.src", "ip.dst", "ip.dsfield")
        };
        let (sport, dport) = if self.tcp {
            ("tcp.srcport", "tcp.dstport")
        } else {
            ("udp.srcport", "udp.dstport")
        };
        [src, dst, tos, sport, dport]
    }
}

/// The VLAN flowprobe keys a packet by: the first tag after the last Ethernet header
/// before the innermost IP header (`ip`, an index in `protocols`); a tunnel that carries
/// IP without Ethernet keeps the outer frame's.
pub fn vlan_of(protocols: &[&str], ip: usize, ids: &[&str]) -> u16 {
    let eth = protocols
        .get(..ip)
        .and_then(|p| p.iter().rposition(|p| *p == "eth"))
        .map_or(0, |e| e + 1);
    let Some(tag) = protocols
        .get(eth..ip)
        .and_then(|p| p.iter().position(|p| *p == "vlan"))
    else {
        return 0;
    };
    let nth = protocols[..eth + tag]
        .iter()
        .filter(|p| **p == "vlan")
        .count();
    ids.get(nth).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// What `tcp_verdicts` made of one frame.
#[derive(Clone, Copy, Debug, Default)]
pub struct TcpFrameVerdict {
    pub events: u8,
    pub options: Option<flowprobe::inspect::tcp::TcpOptions>,
    /// ack - syn of a handshake completed here (ns).
    pub handshake_ns: Option<u64>,
}

/// `inspect::tcp::TcpAnalyzer`'s verdicts on a capture by frame number (those with an
/// event, options or a handshake), the frames it analysed, and how many frames were read: the crate's reader
/// (timestamps clamped as `convert` clamps them, or not) and decoder (every tunnel it can
/// open opened); each TCP packet that is not an IP fragment goes to one analyzer with its
/// TCP header's captured bytes and its payload length on the wire.
pub fn tcp_verdicts(
    path: &Path,
    clamp: bool,
) -> (
    std::collections::BTreeMap<u32, TcpFrameVerdict>,
    std::collections::BTreeSet<u32>,
    u32,
) {
    use flowprobe::capture::file::CaptureFile;
    use flowprobe::decode::{decode_payload, Decap, Fragment, PacketMeta};
    use flowprobe::flow::key::PROTO_TCP;
    use flowprobe::flow::tunnel::TunnelKind;
    use flowprobe::inspect::tcp::TcpAnalyzer;
    let mut out = std::collections::BTreeMap::new();
    let mut analysed = std::collections::BTreeSet::new();
    let Ok(mut file) = CaptureFile::open(path) else {
        return (out, analysed, 0);
    };
    file.set_clamp_timestamps(clamp);
    let decap = Decap::with_kinds(&TunnelKind::ALL);
    let mut meta = PacketMeta::default();
    let mut analyzer = TcpAnalyzer::new();
    let mut frame = 0u32;
    while let Ok(Some(p)) = file.next_packet() {
        frame += 1;
        let Ok(t) = decode_payload(p.link_type, p.data, p.orig_len, &decap, &mut meta) else {
            continue;
        };
        // A fragment's TCP length is not known (tshark analyses the reassembled
        // datagram, on its last fragment's frame); a header without its data offset
        // (cut, or below 5 words) gives no payload start.
        if meta.key.proto != PROTO_TCP
            || !matches!(meta.fragment, Fragment::None)
            || t.payload.start < t.header + 20
            || t.wire_end < t.payload.start
        {
            continue;
        }
        let header = p.data.get(t.header..).unwrap_or_default();
        let len = (t.wire_end - t.payload.start) as u32;
        let v = analyzer.packet(&meta.key, p.ts, header, len);
        analysed.insert(frame);
        if v.events != 0 || v.options.is_some() || v.handshake.is_some() {
            out.insert(
                frame,
                TcpFrameVerdict {
                    events: v.events,
                    options: v.options,
                    handshake_ns: v.handshake.map(|h| h.ack.0.wrapping_sub(h.syn.0)),
                },
            );
        }
    }
    (out, analysed, frame)
}
