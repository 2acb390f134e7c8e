//! Parquet output (`convert -f parquet -o FILE`, or `-o FILE.parquet`) read back with
//! pyarrow and DuckDB (`tests/parquet/pq.py`), against the CSV of the same conversion and
//! the generator's truth.
//!
//! - Schema: every column's name, order, arrow type, nullability, physical and logical
//!   type (times TIMESTAMP(NANOS, UTC-adjusted)), plain and `--biflow`; every column chunk
//!   zstd; `src`, `dst`, `end_reason`, `direction` dictionary-encoded; row groups of at
//!   most `ROW_GROUP_ROWS` rows, and a capture of 300,000 one-packet flows in several
//!   full row groups, with the exact row count.
//! - Values: per flow key, packets and octets summed by DuckDB from the Parquet file equal
//!   the CSV's and the generator's; the whole table rendered as CSV by pyarrow (times
//!   RFC 3339 with 9 digits and Z, null empty) equals the CSV line for line.
//! - Corpus: every capture of `../shared/pcaps`, plain and `--biflow --decap all --inspect
//!   tcp,splt` (means and deviations with three decimals, booleans `true`/`false`): the
//!   Parquet run exits as the CSV run does, and its table rendered as CSV equals the CSV.
//! - Errors: `-f parquet` without a file is a usage error naming `-o`; a file that cannot
//!   be made is a runtime error naming it.
//!
//! python3 with pyarrow (and DuckDB) is required: without them these tests fail, saying
//! what to install (`pip install pyarrow duckdb`); they do not skip.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use common::{parallel_map, require_shared_pcaps, shared_pcaps, write_generated};
use flowprobe::export::parquet::ROW_GROUP_ROWS;
use flowprobe::generate::{GenConfig, Generated};

const EXE: &str = env!("CARGO_BIN_EXE_flowprobe");
const HELPER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/parquet/pq.py");
const INSTALL: &str = "pip install pyarrow duckdb";

/// The columns of a uniflow row: name, pyarrow type, nullable.
const COLUMNS: [(&str, &str, bool); 27] = [
    ("start", "timestamp[ns, tz=UTC]", false),
    ("end", "timestamp[ns, tz=UTC]", false),
    ("src", "string", false),
    ("dst", "string", false),
    ("sport", "uint16", false),
    ("dport", "uint16", false),
    ("proto", "uint8", false),
    ("tos", "uint8", false),
    ("tcp_flags", "uint8", false),
    ("packets", "uint64", false),
    ("bytes", "uint64", false),
    ("in_if", "uint32", false),
    ("vlan", "uint16", false),
    ("icmp_type", "uint8", false),
    ("icmp_code", "uint8", false),
    ("end_reason", "string", false),
    ("ip_version", "uint8", false),
    ("min_ttl", "uint8", false),
    ("max_ttl", "uint8", false),
    ("src_mac", "string", false),
    ("dst_mac", "string", false),
    ("tunnel_type", "string", true),
    ("tunnel_id", "uint32", true),
    ("tunnel_src", "string", true),
    ("tunnel_dst", "string", true),
    ("direction", "string", false),
    ("egress_if", "uint32", false),
];

/// The columns `--biflow` adds.
const BIFLOW_COLUMNS: [(&str, &str, bool); 7] = [
    ("reverse_packets", "uint64", false),
    ("reverse_bytes", "uint64", false),
    ("reverse_tcp_flags", "uint8", false),
    ("reverse_start", "timestamp[ns, tz=UTC]", true),
    ("reverse_end", "timestamp[ns, tz=UTC]", true),
    ("reverse_min_ttl", "uint8", true),
    ("reverse_max_ttl", "uint8", true),
];

/// Columns that must be dictionary-encoded in every row group.
const DICTIONARY: [&str; 4] = ["src", "dst", "end_reason", "direction"];

/// The Parquet physical and logical type (as `pq.py describe` writes it) of a pyarrow type.
fn parquet_type(arrow: &str) -> (&'static str, &'static str) {
    match arrow {
        "timestamp[ns, tz=UTC]" => (
            "INT64",
            r#"Timestamp(isAdjustedToUTC=true,timeUnit="nanoseconds")"#,
        ),
        "uint8" => ("INT32", "Int(bitWidth=8,isSigned=false)"),
        "uint16" => ("INT32", "Int(bitWidth=16,isSigned=false)"),
        "uint32" => ("INT32", "Int(bitWidth=32,isSigned=false)"),
        "uint64" => ("INT64", "Int(bitWidth=64,isSigned=false)"),
        "string" => ("BYTE_ARRAY", "String()"),
        other => panic!("no Parquet type for {other}"),
    }
}

/// Runs the helper; its standard output. Fails, saying what to install, without python3
/// or pyarrow.
fn helper<S: AsRef<OsStr>>(args: &[S]) -> String {
    let out = Command::new("python3")
        .arg(HELPER)
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run python3 ({e}): these tests read Parquet with python3 and pyarrow; install python3, then {INSTALL}")
        });
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!("{}\n(the Parquet tests need: {INSTALL})", stderr.trim());
    }
    assert!(
        out.status.success(),
        "python3 {HELPER} {:?} failed ({}):\n{stderr}",
        args.iter().map(|a| a.as_ref()).collect::<Vec<_>>(),
        out.status
    );
    String::from_utf8(out.stdout).expect("helper output is UTF-8")
}

fn run(args: &[&OsStr]) -> Output {
    Command::new(EXE)
        .arg("convert")
        .args(args)
        .output()
        .expect("flowprobe runs")
}

fn os<S: AsRef<OsStr> + ?Sized>(s: &S) -> &OsStr {
    s.as_ref()
}

/// `flowprobe convert -q ARGS FLAGS`, which must succeed.
fn convert(args: &[&OsStr], flags: &[&str]) {
    let mut all: Vec<&OsStr> = vec![os("-q")];
    all.extend(args);
    all.extend(flags.iter().map(os));
    let out = run(&all);
    assert!(
        out.status.success(),
        "convert {all:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A generated capture of a few thousand conversations (IPv4 and IPv6, some on VLANs).
fn generated(dir: &Path) -> (PathBuf, Generated) {
    let (path, g) = write_generated(
        dir,
        "gen.pcap",
        &GenConfig {
            conversations: 4000,
            seed: 17,
            ..GenConfig::default()
        },
    );
    assert!(
        g.conversations.iter().any(|c| c.ipv6),
        "no IPv6 conversation"
    );
    assert!(
        g.conversations.iter().any(|c| !c.ipv6),
        "no IPv4 conversation"
    );
    assert!(g.conversations.iter().any(|c| c.vlan != 0), "no VLAN");
    (path, g)
}

/// What `pq.py describe` said about a file.
#[derive(Debug, Default)]
struct Description {
    rows: u64,
    /// name, arrow type, nullable, physical, logical.
    columns: Vec<(String, String, bool, String, String)>,
    /// Rows of each row group.
    groups: Vec<u64>,
    /// Row group, column, compression, encodings.
    chunks: Vec<(usize, String, String, Vec<String>)>,
}

fn describe(path: &Path) -> Description {
    let mut d = Description::default();
    for line in helper(&[OsStr::new("describe"), path.as_os_str()]).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        match f[..] {
            ["rows", n] => d.rows = n.parse().unwrap(),
            ["column", name, arrow, nullable, physical, logical] => d.columns.push((
                name.into(),
                arrow.into(),
                nullable == "true",
                physical.into(),
                logical.into(),
            )),
            ["group", i, n] => {
                assert_eq!(i.parse::<usize>().unwrap(), d.groups.len());
                d.groups.push(n.parse().unwrap());
            }
            ["chunk", g, name, compression, encodings] => d.chunks.push((
                g.parse().unwrap(),
                name.into(),
                compression.into(),
                encodings.split(',').map(String::from).collect(),
            )),
            _ => panic!("describe {}: unexpected line {line:?}", path.display()),
        }
    }
    d
}

/// Checks the schema and the row groups of a file of `rows` rows.
fn check_layout(path: &Path, biflow: bool, rows: u64) -> Description {
    let d = describe(path);
    let expected: Vec<(&str, &str, bool)> = COLUMNS
        .iter()
        .chain(if biflow { &BIFLOW_COLUMNS[..] } else { &[] })
        .copied()
        .collect();
    let names: Vec<&str> = d.columns.iter().map(|c| c.0.as_str()).collect();
    let expected_names: Vec<&str> = expected.iter().map(|c| c.0).collect();
    assert_eq!(
        names, expected_names,
        "column names and order (biflow {biflow})"
    );
    for ((name, arrow, nullable, physical, logical), (_, want_arrow, want_null)) in
        d.columns.iter().zip(&expected)
    {
        assert_eq!(
            (arrow.as_str(), *nullable),
            (*want_arrow, *want_null),
            "column {name}: arrow type and nullability"
        );
        let (want_physical, want_logical) = parquet_type(want_arrow);
        assert_eq!(
            (physical.as_str(), logical.as_str()),
            (want_physical, want_logical),
            "column {name}: physical and logical type"
        );
    }
    assert_eq!(d.rows, rows, "{}: rows", path.display());
    assert_eq!(d.groups.iter().sum::<u64>(), rows, "rows of the row groups");
    assert!(
        d.groups
            .iter()
            .all(|&n| n > 0 && n <= ROW_GROUP_ROWS as u64),
        "row groups of 1 to {ROW_GROUP_ROWS} rows: {:?}",
        d.groups
    );
    assert_eq!(
        d.chunks.len(),
        d.groups.len() * expected.len(),
        "a chunk per column per row group"
    );
    for (g, name, compression, encodings) in &d.chunks {
        assert_eq!(compression, "ZSTD", "row group {g}, column {name}");
        if DICTIONARY.contains(&name.as_str()) {
            assert!(
                encodings
                    .iter()
                    .any(|e| e == "RLE_DICTIONARY" || e == "PLAIN_DICTIONARY"),
                "row group {g}, column {name}: not dictionary-encoded: {encodings:?}"
            );
        }
    }
    d
}

/// The last instant of Parquet's TIMESTAMP(NANOS): signed 64-bit nanoseconds.
const LAST_NANOS_TIME: &str = "2262-04-11T23:47:16.854775807Z";

/// `csv` with every time after [`LAST_NANOS_TIME`] replaced by it: the probe's times are
/// unsigned nanoseconds (to 2554), Parquet's signed, so a later time (a capture's bogus
/// timestamp: one corpus pcapng has a packet stamped 2554-07-21) is written as the last
/// instant Parquet holds. Every other value must be equal.
fn past_parquet_times(csv: &str) -> String {
    let mut out = String::with_capacity(csv.len());
    for line in csv.lines() {
        let cells: Vec<&str> = line
            .split(',')
            .map(|c| {
                let is_time = c.len() == LAST_NANOS_TIME.len()
                    && c.ends_with('Z')
                    && c.as_bytes().get(10) == Some(&b'T');
                if is_time && c > LAST_NANOS_TIME {
                    LAST_NANOS_TIME
                } else {
                    c
                }
            })
            .collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out
}

/// The lines of two CSV texts that differ, at most five of them, with the header's names
/// of the cells that differ.
fn first_differences(ours: &str, theirs: &str) -> String {
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), theirs.lines().collect());
    let header: Vec<&str> = a.first().map_or(vec![], |h| h.split(',').collect());
    let mut out = format!("CSV has {} lines, Parquet {}\n", a.len(), b.len());
    let mut shown = 0;
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied(), b.get(i).copied());
        if x == y {
            continue;
        }
        let cells: Vec<String> = match (x, y) {
            (Some(x), Some(y)) => x
                .split(',')
                .zip(y.split(','))
                .enumerate()
                .filter(|(_, (p, q))| p != q)
                .map(|(j, (p, q))| format!("{}: {p:?} vs {q:?}", header.get(j).unwrap_or(&"?")))
                .collect(),
            _ => vec![],
        };
        out.push_str(&format!(
            "  line {}: CSV {x:?}\n          Parquet {y:?}\n          {cells:?}\n",
            i + 1
        ));
        shown += 1;
        if shown == 5 {
            break;
        }
    }
    out
}

/// The Parquet file rendered as CSV by pyarrow equals the CSV file, byte for byte.
fn assert_renders_as(parquet: &Path, csv: &Path) {
    let rendered = parquet.with_extension("rendered.csv");
    helper(&[OsStr::new("csv"), parquet.as_os_str(), rendered.as_os_str()]);
    let (ours, theirs) = (
        fs::read_to_string(csv).unwrap(),
        fs::read_to_string(&rendered).unwrap(),
    );
    assert!(
        ours == theirs,
        "{} rendered as CSV differs from {}:\n{}",
        parquet.display(),
        csv.display(),
        first_differences(&ours, &theirs)
    );
}

fn data_rows(csv: &Path) -> u64 {
    fs::read_to_string(csv).unwrap().lines().count() as u64 - 1
}

#[test]
fn schema_types_compression_and_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, _) = generated(dir.path());
    for biflow in [false, true] {
        let flag: &[&str] = if biflow { &["--biflow"] } else { &[] };
        let name = if biflow { "bi" } else { "uni" };
        let parquet = dir.path().join(format!("{name}.parquet"));
        let csv = dir.path().join(format!("{name}.csv"));
        convert(&[os(&pcap), os("-o"), os(&parquet)], flag);
        convert(&[os(&pcap), os("-o"), os(&csv)], flag);
        let rows = data_rows(&csv);
        assert!(rows > 4000, "{rows} rows");
        let d = check_layout(&parquet, biflow, rows);
        // The column names are the CSV header's.
        let header = fs::read_to_string(&csv).unwrap();
        let header = header.lines().next().unwrap();
        let names: Vec<&str> = d.columns.iter().map(|c| c.0.as_str()).collect();
        assert_eq!(header, names.join(","));
        // `-f parquet` with any name writes the same file as the `.parquet` extension.
        let named = dir.path().join(format!("{name}.bin"));
        convert(
            &[os(&pcap), os("-f"), os("parquet"), os("-o"), os(&named)],
            flag,
        );
        assert!(
            fs::read(&named).unwrap() == fs::read(&parquet).unwrap(),
            "-f parquet -o {name}.bin differs from -o {name}.parquet"
        );
        eprintln!(
            "biflow {biflow}: {rows} rows, {} row group(s), {} bytes",
            d.groups.len(),
            fs::metadata(&parquet).unwrap().len()
        );
    }
}

#[test]
fn several_row_groups_hold_every_row() {
    const FLOWS: u64 = 300_000;
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("distinct.pcap");
    let out = Command::new(EXE)
        .args(["generate", "--distinct-flows", &FLOWS.to_string(), "-o"])
        .arg(&pcap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parquet = dir.path().join("distinct.parquet");
    let csv = dir.path().join("distinct.csv");
    convert(&[os(&pcap), os("-o"), os(&parquet)], &[]);
    convert(&[os(&pcap), os("-o"), os(&csv)], &[]);
    assert_eq!(data_rows(&csv), FLOWS, "one record a one-packet flow");
    let d = check_layout(&parquet, false, FLOWS);
    let full = FLOWS as usize / ROW_GROUP_ROWS;
    assert!(d.groups.len() >= 2, "{:?}", d.groups);
    assert_eq!(d.groups.len(), full + 1, "{:?}", d.groups);
    assert!(
        d.groups[..full].iter().all(|&n| n == ROW_GROUP_ROWS as u64),
        "every row group but the last is full: {:?}",
        d.groups
    );
    // The values across the row group boundaries too.
    assert_renders_as(&parquet, &csv);
    eprintln!("{FLOWS} rows in row groups of {:?}", d.groups);
}

/// Per flow key (src, dst, sport, dport, proto, vlan, tos): packets, octets.
type Sums = BTreeMap<(String, String, u16, u16, u8, u16, u8), (u64, u64)>;

/// DuckDB's per-key sums of a Parquet file: forward and reverse.
fn duckdb_sums(path: &Path) -> (Sums, Sums) {
    let (mut fwd, mut rev) = (Sums::new(), Sums::new());
    for line in helper(&[OsStr::new("sums"), path.as_os_str()]).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), 12, "{line:?}");
        let key = (
            f[0].to_string(),
            f[1].to_string(),
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
            f[4].parse().unwrap(),
            f[5].parse().unwrap(),
            f[6].parse().unwrap(),
        );
        let n = |i: usize| f[i].parse::<u64>().unwrap();
        assert!(fwd.insert(key.clone(), (n(7), n(8))).is_none());
        rev.insert(key, (n(9), n(10)));
    }
    (fwd, rev)
}

/// The CSV's per-key sums (the reverse ones are zero without `--biflow`).
fn csv_sums(path: &Path) -> (Sums, Sums) {
    let text = fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name);
    let c = |name: &str| col(name).unwrap_or_else(|| panic!("no column {name}"));
    let key_cols = ["src", "dst", "sport", "dport", "proto", "vlan", "tos"].map(c);
    let (packets, bytes) = (c("packets"), c("bytes"));
    let reverse = col("reverse_packets").zip(col("reverse_bytes"));
    let (mut fwd, mut rev) = (Sums::new(), Sums::new());
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let k = |i: usize| f[key_cols[i]];
        let key = (
            k(0).to_string(),
            k(1).to_string(),
            k(2).parse().unwrap(),
            k(3).parse().unwrap(),
            k(4).parse().unwrap(),
            k(5).parse().unwrap(),
            k(6).parse().unwrap(),
        );
        let n = |i: usize| f[i].parse::<u64>().unwrap();
        let e = fwd.entry(key.clone()).or_default();
        e.0 += n(packets);
        e.1 += n(bytes);
        let e = rev.entry(key).or_default();
        if let Some((p, b)) = reverse {
            e.0 += n(p);
            e.1 += n(b);
        }
    }
    (fwd, rev)
}

/// The generator's packets and octets per directional flow key.
fn truth(g: &Generated) -> Sums {
    let mut sums = Sums::new();
    for p in &g.packets {
        let c = &g.conversations[p.conversation as usize];
        let (src, dst) = if p.forward {
            (c.client_addr(), c.server_addr())
        } else {
            (c.server_addr(), c.client_addr())
        };
        let (sport, dport) = c.key_ports(p.forward);
        let e = sums
            .entry((src, dst, sport, dport, c.proto_number(), c.vlan, c.tos))
            .or_default();
        e.0 += 1;
        e.1 += u64::from(p.ip_len);
    }
    sums
}

/// Per conversation (both addresses in order, proto, vlan, tos): packets, octets.
type ConversationSums = BTreeMap<(String, String, u8, u16, u8), (u64, u64)>;

/// The sums of both directions of each conversation.
fn per_conversation(sums: &[&Sums]) -> ConversationSums {
    let mut out: BTreeMap<_, (u64, u64)> = BTreeMap::new();
    for s in sums {
        for ((src, dst, _, _, proto, vlan, tos), (p, b)) in s.iter() {
            let (lo, hi) = if src <= dst { (src, dst) } else { (dst, src) };
            let e = out
                .entry((lo.clone(), hi.clone(), *proto, *vlan, *tos))
                .or_default();
            e.0 += p;
            e.1 += b;
        }
    }
    out.retain(|_, v| *v != (0, 0));
    out
}

/// The first keys where two sums differ.
fn describe_sums<K: Ord + std::fmt::Debug>(
    a: &BTreeMap<K, (u64, u64)>,
    b: &BTreeMap<K, (u64, u64)>,
) -> String {
    let keys: std::collections::BTreeSet<&K> = a.keys().chain(b.keys()).collect();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .take(5)
        .map(|k| format!("  {k:?}: {:?} vs {:?}\n", a.get(k), b.get(k)))
        .collect()
}

#[test]
fn values_equal_csv_and_generator_truth() {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, g) = generated(dir.path());
    let truth = truth(&g);

    // Uniflow rows: per key, the Parquet file (DuckDB), the CSV and the generator agree.
    let parquet = dir.path().join("uni.parquet");
    let csv = dir.path().join("uni.csv");
    convert(&[os(&pcap), os("-o"), os(&parquet)], &[]);
    convert(&[os(&pcap), os("-o"), os(&csv)], &["-f", "csv"]);
    let (pq_fwd, pq_rev) = duckdb_sums(&parquet);
    let (csv_fwd, _) = csv_sums(&csv);
    assert!(pq_rev.values().all(|v| *v == (0, 0)));
    assert!(
        csv_fwd == truth,
        "CSV (left) and generator (right) per key:\n{}",
        describe_sums(&csv_fwd, &truth)
    );
    assert!(
        pq_fwd == csv_fwd,
        "Parquet (left) and CSV (right) per key:\n{}",
        describe_sums(&pq_fwd, &csv_fwd)
    );
    assert!(truth.keys().any(|k| k.0.contains(':')), "IPv6 keys");
    assert!(truth.keys().any(|k| k.5 != 0), "VLAN keys");
    // Every value, in order.
    assert_renders_as(&parquet, &csv);
    // More workers: the same file, byte for byte.
    let threaded = dir.path().join("uni-3.parquet");
    convert(&[os(&pcap), os("-o"), os(&threaded)], &["-t", "3"]);
    assert!(
        fs::read(&threaded).unwrap() == fs::read(&parquet).unwrap(),
        "--threads 3 wrote another Parquet file"
    );

    // Biflow rows: per key forward and reverse as the CSV; per conversation as generated.
    let parquet = dir.path().join("bi.parquet");
    let csv = dir.path().join("bi.csv");
    convert(&[os(&pcap), os("-o"), os(&parquet)], &["--biflow"]);
    convert(&[os(&pcap), os("-o"), os(&csv)], &["--biflow"]);
    let (pq_fwd, pq_rev) = duckdb_sums(&parquet);
    let (csv_fwd, csv_rev) = csv_sums(&csv);
    assert!(
        pq_fwd == csv_fwd,
        "biflow forward:\n{}",
        describe_sums(&pq_fwd, &csv_fwd)
    );
    assert!(
        pq_rev == csv_rev,
        "biflow reverse:\n{}",
        describe_sums(&pq_rev, &csv_rev)
    );
    assert!(
        pq_rev.values().any(|v| v.0 > 0) && pq_rev.values().any(|v| v.0 == 0),
        "rows with and without reverse packets"
    );
    let (ours, generated) = (
        per_conversation(&[&pq_fwd, &pq_rev]),
        per_conversation(&[&truth]),
    );
    assert!(
        ours == generated,
        "biflow Parquet (left) and generator (right) per conversation:\n{}",
        describe_sums(&ours, &generated)
    );
    assert_renders_as(&parquet, &csv);
    // The reverse times and TTLs are empty (null) exactly where no reverse packet came.
    let text = fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let at = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let optional = [
        "reverse_start",
        "reverse_end",
        "reverse_min_ttl",
        "reverse_max_ttl",
    ]
    .map(at);
    for line in lines {
        let f: Vec<&str> = line.split(',').collect();
        let seen = f[at("reverse_packets")] != "0";
        assert!(
            optional.iter().all(|&i| f[i].is_empty() != seen),
            "reverse columns of {line}"
        );
    }
    eprintln!(
        "{} keys, {} conversations agree",
        truth.len(),
        generated.len()
    );
}

/// Every capture file under `dir`, in name order.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
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

/// The conversion modes of the corpus comparison: a name, and the flags.
const MODES: [(&str, &[&str]); 2] = [
    ("plain", &[]),
    (
        "biflow-decap-shape",
        &["--biflow", "--decap", "all", "--inspect", "tcp,splt"],
    ),
];

/// One capture converted one way, to CSV and to Parquet.
struct Pair {
    name: String,
    csv: PathBuf,
    parquet: PathBuf,
    /// The CSV run's exit status, or why the two runs disagree.
    status: Result<Option<i32>, String>,
}

#[test]
fn every_shared_capture_as_parquet_equals_its_csv() {
    if !require_shared_pcaps() {
        return;
    }
    let help = run(&[OsStr::new("--help")]);
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(
        help.contains("--decap") && help.contains("--biflow"),
        "{help}"
    );

    let root = shared_pcaps();
    let mut files = Vec::new();
    walk(&root, &mut files);
    assert!(files.len() > 2000, "only {} captures", files.len());
    let dir = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let jobs: Vec<(usize, &PathBuf)> = files.iter().enumerate().collect();
    let pairs: Vec<Vec<Pair>> = parallel_map(&jobs, |&(i, file)| {
        let rel = file.strip_prefix(&root).unwrap().display().to_string();
        MODES
            .iter()
            .map(|(mode, flags)| {
                let csv = dir.path().join(format!("{i}.{mode}.csv"));
                let parquet = dir.path().join(format!("{i}.{mode}.parquet"));
                let convert_to = |out: &Path| {
                    let mut args: Vec<&OsStr> = vec![os("-q"), os(file)];
                    args.extend(flags.iter().map(os));
                    args.extend([os("-o"), os(out)]);
                    run(&args).status.code()
                };
                let (a, b) = (convert_to(&csv), convert_to(&parquet));
                Pair {
                    name: format!("{rel} ({mode})"),
                    csv,
                    parquet,
                    status: if a == b {
                        Ok(a)
                    } else {
                        Err(format!("exit status {a:?} for CSV but {b:?} for Parquet"))
                    },
                }
            })
            .collect()
    });
    let pairs: Vec<Pair> = pairs.into_iter().flatten().collect();
    let converted = t0.elapsed();

    let mut failures = Vec::new();
    let mut listing = String::new();
    let mut to_render = Vec::new();
    let mut no_output = 0;
    for p in &pairs {
        match &p.status {
            Err(e) => failures.push(format!("{}: {e}", p.name)),
            // The CSV run wrote nothing (not even a header): nothing to compare.
            Ok(_) if fs::metadata(&p.csv).map_or(0, |m| m.len()) == 0 => no_output += 1,
            Ok(_) => {
                let rendered = p.parquet.with_extension("rendered.csv");
                listing.push_str(&format!(
                    "{}\t{}\n",
                    p.parquet.display(),
                    rendered.display()
                ));
                to_render.push((p, rendered));
            }
        }
    }
    let list = dir.path().join("list.tsv");
    fs::write(&list, listing).unwrap();
    let t1 = Instant::now();
    let results: HashMap<String, String> = helper(&[OsStr::new("batch"), list.as_os_str()])
        .lines()
        .map(|l| {
            let mut f = l.splitn(3, '\t');
            let (kind, path, rest) = (f.next().unwrap(), f.next().unwrap(), f.next().unwrap_or(""));
            (path.to_string(), format!("{kind}\t{rest}"))
        })
        .collect();
    let rendered_in = t1.elapsed();

    let (mut compared, mut rows, mut failed_runs, mut tunneled, mut reversed) = (0, 0, 0, 0, 0);
    for (p, rendered) in &to_render {
        let result = results
            .get(&p.parquet.display().to_string())
            .map_or("error\tnot rendered", String::as_str);
        if let Some(e) = result.strip_prefix("error\t") {
            failures.push(format!("{}: the Parquet file cannot be read: {e}", p.name));
            continue;
        }
        let ours = past_parquet_times(&fs::read_to_string(&p.csv).unwrap());
        let theirs = fs::read_to_string(rendered).unwrap();
        if ours != theirs {
            failures.push(format!(
                "{}: the Parquet file rendered as CSV differs:\n{}",
                p.name,
                first_differences(&ours, &theirs)
            ));
            continue;
        }
        compared += 1;
        if p.status != Ok(Some(0)) {
            failed_runs += 1;
        }
        let mut lines = ours.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
        let at = |n: &str| header.iter().position(|h| *h == n);
        for line in lines {
            rows += 1;
            let f: Vec<&str> = line.split(',').collect();
            tunneled += usize::from(at("tunnel_type").is_some_and(|i| !f[i].is_empty()));
            reversed += usize::from(at("reverse_start").is_some_and(|i| !f[i].is_empty()));
        }
    }
    eprintln!(
        "{} captures x {} modes: {compared} CSV/Parquet pairs equal ({rows} rows, {tunneled} \
         tunneled, {reversed} with reverse times; {failed_runs} of them from runs that exit \
         nonzero, as CSV's), {no_output} without output; converted in {converted:?}, \
         rendered in {rendered_in:?}, {:?} in all",
        files.len(),
        MODES.len(),
        t0.elapsed()
    );
    assert!(
        failures.is_empty(),
        "{} of {} conversions:\n{}",
        failures.len(),
        pairs.len(),
        failures.into_iter().take(20).collect::<Vec<_>>().join("\n")
    );
    assert!(compared > 4000, "only {compared} compared");
    assert!(
        tunneled > 0 && reversed > 0,
        "the nullable columns with values"
    );
}

#[test]
fn parquet_without_a_file_or_to_an_impossible_one_fails_clearly() {
    let pcap = concat!(env!("CARGO_MANIFEST_DIR"), "/pcaps/generated-small.pcap");
    for args in [&["-f", "parquet"][..], &["-f", "parquet", "-o", "-"]] {
        let mut all = vec![os(pcap)];
        all.extend(args.iter().map(os));
        let out = run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: a usage error: {stderr}"
        );
        assert!(stderr.contains("-o"), "{args:?}: names -o: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{args:?}: nothing on standard output"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["-o", "/nonexistent-dir/x.parquet"][..],
        &["-f", "parquet", "-o", "/nonexistent-dir/x"],
    ] {
        let mut all = vec![os(pcap)];
        all.extend(args.iter().map(os));
        let out = run(&all);
        let stderr = String::from_utf8_lossy(&out.stderr);
        let path = args.last().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(&format!("cannot create {path}"))
                && stderr.contains("No such file or directory"),
            "{args:?}: a message naming the file and why: {stderr}"
        );
        assert!(!Path::new("/nonexistent-dir").exists());
    }
    // A directory is not a file either.
    let out = run(&[os(pcap), os("-o"), os(dir.path()), os("-f"), os("parquet")]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&dir.path().display().to_string()),
        "{stderr}"
    );
}

/// A pcapng block of `kind` with `body` (padded to 4 bytes).
fn pcapng_block(kind: u32, body: &[u8]) -> Vec<u8> {
    let mut body = body.to_vec();
    body.resize(body.len().div_ceil(4) * 4, 0);
    let len = (12 + body.len()) as u32;
    let mut out = Vec::new();
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&body);
    out.extend_from_slice(&len.to_le_bytes());
    out
}

/// A pcapng (Ethernet, microseconds) of one-packet UDP flows from 10.0.0.1 to 10.0.0.2,
/// one a (timestamp in µs, source port).
fn pcapng_of(packets: &[(u64, u16)]) -> Vec<u8> {
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1a2b_3c4du32.to_le_bytes()); // byte-order magic
    shb.extend_from_slice(&1u16.to_le_bytes()); // version 1.0
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
    let mut out = pcapng_block(0x0a0d_0d0a, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&1u16.to_le_bytes()); // Ethernet
    idb.extend_from_slice(&0u16.to_le_bytes());
    idb.extend_from_slice(&65535u32.to_le_bytes()); // snaplen; default resolution: µs
    out.extend(pcapng_block(1, &idb));
    for &(us, sport) in packets {
        let mut frame = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        frame.extend_from_slice(&[
            0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
        ]);
        frame.extend_from_slice(&sport.to_be_bytes());
        frame.extend_from_slice(&[0, 53, 0, 12, 0, 0, b'p', b'i', b'n', b'g']);
        let mut epb = Vec::new();
        epb.extend_from_slice(&0u32.to_le_bytes()); // interface 0
        epb.extend_from_slice(&((us >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(us as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        epb.extend_from_slice(&frame);
        out.extend(pcapng_block(6, &epb));
    }
    out
}

/// Parquet's times are signed nanoseconds (to 2262-04-11), the probe's unsigned (to 2554):
/// a later capture time is written as the last instant Parquet holds, not wrapped to
/// before 1970; every other value, and the other rows, as in CSV.
#[test]
fn times_after_2262_are_the_last_parquet_instant() {
    let dir = tempfile::tempdir().unwrap();
    let pcap = dir.path().join("far.pcapng");
    // 2023-11-14T22:13:20Z, then 2299-07-25T08:53:20Z (a bogus clock), and 1 ms later.
    fs::write(
        &pcap,
        pcapng_of(&[
            (1_700_000_000_000_000, 1000),
            (10_400_000_000_000_000, 2000),
            (10_400_000_000_001_000, 2000),
        ]),
    )
    .unwrap();
    for flag in [&[][..], &["--biflow"]] {
        let parquet = dir.path().join("far.parquet");
        let csv = dir.path().join("far.csv");
        convert(&[os(&pcap), os("-o"), os(&parquet)], flag);
        convert(&[os(&pcap), os("-o"), os(&csv)], flag);
        let csv_text = fs::read_to_string(&csv).unwrap();
        assert!(
            csv_text
                .lines()
                .any(|l| l
                    .starts_with("2299-07-25T08:53:20.000000000Z,2299-07-25T08:53:20.001000000Z,")),
            "{csv_text}"
        );
        let rendered = parquet.with_extension("rendered.csv");
        helper(&[os("csv"), os(&parquet), os(&rendered)]);
        let rendered = fs::read_to_string(&rendered).unwrap();
        let lines: Vec<&str> = rendered.lines().collect();
        assert_eq!(lines.len(), 3, "{rendered}");
        assert!(
            lines[1].starts_with("2023-11-14T22:13:20.000000000Z,2023-11-14T22:13:20.000000000Z,"),
            "{rendered}"
        );
        assert!(
            lines[2].starts_with(&format!("{LAST_NANOS_TIME},{LAST_NANOS_TIME},")),
            "{flag:?}: the far time is the last instant, not wrapped: {rendered}"
        );
        assert!(
            rendered == past_parquet_times(&csv_text),
            "{flag:?}: nothing else differs:\n{}",
            first_differences(&past_parquet_times(&csv_text), &rendered)
        );
    }
}
