//! `flowprobe convert --inspect tcp,splt` end to end against tshark: the TCP health and
//! timing shape of every TCP and UDP record, on every shared capture with TCP (issue 15).
//!
//! # The oracle
//! For each capture of `MANIFEST.tsv` with TCP, the built binary runs once (`convert FILE
//! --inspect tcp,splt --decap all -f csv`: uniflow rows; every tunnel flowprobe can open is
//! opened, as tshark opens them) and tshark once (`-T fields`, its defaults: IP
//! reassembly, TCP sequence analysis with relative sequence numbers), printing per frame
//! the innermost 5-tuple, ToS and VLAN as flowprobe keys them, the time, `tcp.len` /
//! `udp.length`, `tcp.flags`, `tcp.stream`, the analysis flags and
//! `tcp.analysis.initial_rtt`. A frame belongs to the record of its key and ToS whose
//! [start, end] holds its time, clamped as flowprobe clamps a clock that goes back (ICMP
//! errors quoting a packet belong to no TCP/UDP record).
//!
//! Compared, for every TCP and UDP record (the columns of `/work/brief/shape-columns.md`):
//! - `packets` with the number of tshark frames it holds (when they differ the record's
//!   shape cannot be compared frame by frame, and only this difference is reported, and
//!   `payload_bytes` where IP fragments make it: flowprobe meters each fragment with its
//!   share of the payload, tshark one datagram, and the sums agree);
//! - `payload_bytes` with the sum of `tcp.len` (TCP) / `udp.length - 8` (UDP);
//! - TCP: `retransmissions` with the frames flagged `tcp.analysis.retransmission` or
//!   `fast_retransmission`, `out_of_order` with `out_of_order`, `zero_windows` with
//!   `zero_window`;
//! - `splt` with the first 10 frames' `len:iat_us` (iat: nanosecond differences floor
//!   divided by 1000, 0 for the first); `iat_min_us`/`iat_max_us` exactly, and
//!   `iat_mean_us`, `iat_stddev_us`, `len_mean`, `len_stddev` (sample standard deviation)
//!   computed exactly (two passes over the frames' values, nanoseconds and octets)
//!   within 0.001 (the CSV's 3 decimals round to within 0.0005) or a relative 1e-9;
//!   `len_min`, `len_max` exactly;
//! - per tshark stream whose SYN and SYN-ACK tshark saw before its first
//!   `initial_rtt`: the client's record (holding that frame, the completing ACK) and the
//!   server's (holding the stream's last SYN-ACK before it) both carry the same
//!   `server_rtt_us` and `client_rtt_us`, whose sum is `initial_rtt` within 1 µs: each is
//!   rounded to the nearest µs, so each is within 0.5 µs of its exact value and the sum
//!   within 1 µs of theirs. A record carrying RTT values that is neither is a difference
//!   too.
//!
//! The second pass (`BIFLOW_FILES`) does the same with `--biflow` rows: a row holds its
//! key's frames within [start, end] and the reversed key's within [reverse_start,
//! reverse_end]; `splt` interleaves both in time (frame order) with the reverse lengths
//! negative (`-0` for an empty one), the statistics are over both, and the `reverse_*`
//! counts are the responder's frames'. Its differences' fields are prefixed `biflow `.
//!
//! Every difference is (capture, frame, field): a record's value differences carry its
//! first frame; a frame of a TCP or UDP key that no record holds is reported once per
//! key (`no_record`, its first such frame); RTT differences carry the frame of the
//! record's handshake packet. Each is listed in `KNOWN` with its reason, or the test
//! fails; a listed one that no longer happens fails it too.
//!
//! # Per-frame differences
//! `TcpAnalyzer` is also run alone on each capture (`common::tcp_verdicts`, clamped times
//! as `convert` has them). A record whose retransmissions / out-of-order / zero-window
//! count is the analyzer's own but not tshark's, or whose RTT is the analyzer's handshake
//! where that differs from tshark's `initial_rtt`, carries a per-frame difference of the
//! analyzer: those belong to `tcp_analysis_tshark.rs` (which lists them frame by frame)
//! and are counted here (`per-frame ...` fields), not listed. What remains is what the
//! pipeline adds: the join of packets, notes and shapes into records.
//!
//! # Classes
//! Each frame says what it was (`Frame::tags`: an IP fragment, cut by the snaplen, its
//! clock clamped, a payload over 65535), and each difference carries its record's tags;
//! `KNOWN` gives each its reason by class (the constants before it). Run over the whole
//! corpus on 2026-12-06: 1097 captures, 28,601 rows (uniflow, and biflow for
//! `BIFLOW_FILES`), 250,993 frames, 2,678 handshakes; about 3.5 CPU-minutes in debug
//! (1m45 on two free cores).
//!
//! `TCP_FLOWS_ONLY=substring` compares only the captures whose name holds it, prints
//! every difference in `KNOWN`'s form (to look at one, or to list new ones; the reason is
//! left for you to write) and fails on unexplained ones (a stale one is not checked then).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use flowprobe::inspect::tcp::{OUT_OF_ORDER, RETRANSMISSION, ZERO_WINDOW};

use common::{
    assert_corpus_frames, assert_differences_explained, binary, csv_rows, epoch_ns, manifest,
    parallel_map, relative_name, require_shared_pcaps, require_tool, rfc3339_ns, shared_pcaps,
    tshark_field_rows, vlan_of, FieldRow, InnerLayers, KnownDifferences,
};

/// tshark's fields (the first must be `frame.number`).
const FIELDS: [&str; 31] = [
    "frame.number",
    "frame.interface_id",
    "frame.time_epoch",
    "frame.len",
    "frame.cap_len",
    "frame.protocols",
    "vlan.id",
    "ip.src",
    "ip.dst",
    "ip.dsfield",
    "ip.flags.mf",
    "ip.frag_offset",
    "ip.fragment.count",
    "ipv6.src",
    "ipv6.dst",
    "ipv6.tclass",
    "ipv6.fraghdr.offset",
    "ipv6.fragment.count",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.len",
    "tcp.flags",
    "tcp.stream",
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.out_of_order",
    "tcp.analysis.zero_window",
    "tcp.analysis.initial_rtt",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
];

/// tshark's preferences: its defaults for TCP analysis, given explicitly (as in
/// `tcp_analysis_tshark.rs`).
const OPTIONS: [&str; 4] = [
    "-o",
    "tcp.analyze_sequence_numbers:TRUE",
    "-o",
    "tcp.relative_sequence_numbers:TRUE",
];

/// The prefix of a difference carried from a per-frame difference of `TcpAnalyzer` with
/// tshark (the record's count is the analyzer's own, run alone on the capture): those are
/// `tcp_analysis_tshark.rs`'s to explain, and counted here, not listed.
const PER_FRAME: &str = "per-frame ";

/// `inspect.splt_packets` by default.
const SPLT_PACKETS: usize = 10;

/// Captures also compared as `--biflow` rows: retransmissions, out-of-order segments and
/// zero windows in both directions, IPv6, UDP, handshakes.
const BIFLOW_FILES: &[&str] = &[
    "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__http-packets2.pcap",
    "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__tls2.pcap",
    "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__many-protocols.pcap",
];

/// One direction's flow key as flowprobe keys it (without the ToS, kept beside it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    /// The capture interface (pcapng's interface id; flowprobe's `in_if`).
    in_if: u32,
    vlan: u16,
    proto: u8,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
}

impl Key {
    fn reversed(self) -> Key {
        Key {
            src: self.dst,
            sport: self.dport,
            dst: self.src,
            dport: self.sport,
            ..self
        }
    }
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ep = |a: IpAddr, p: u16| match a {
            IpAddr::V4(a) => format!("{a}:{p}"),
            IpAddr::V6(a) => format!("[{a}]:{p}"),
        };
        let proto = if self.proto == 6 { "tcp" } else { "udp" };
        write!(
            f,
            "{proto} {} > {}",
            ep(self.src, self.sport),
            ep(self.dst, self.dport)
        )?;
        if self.vlan != 0 {
            write!(f, " vlan {}", self.vlan)?;
        }
        if self.in_if != 0 {
            write!(f, " if {}", self.in_if)?;
        }
        Ok(())
    }
}

// ---- tshark's frames ----

/// What tshark showed in one frame.
#[derive(Clone, Debug, Default)]
struct Frame {
    number: u32,
    /// The time flowprobe gives the frame (clamped: never before the previous frame's).
    time: i128,
    /// The innermost TCP or UDP packet's key and ToS; `None` for other frames and ICMP
    /// errors quoting a packet.
    key: Option<(Key, u8)>,
    /// `tcp.len`, or `udp.length - 8`.
    payload: u64,
    retransmission: bool,
    out_of_order: bool,
    zero_window: bool,
    stream: Option<u32>,
    syn: bool,
    ack: bool,
    /// `tcp.analysis.initial_rtt` (ns).
    initial_rtt: Option<i128>,
    /// An IP fragment, or a datagram tshark put together from fragments.
    fragment: bool,
    /// Cut short by the snaplen.
    cut: bool,
    /// Its time was before the previous frame's (flowprobe clamps it).
    clamped: bool,
    /// The events `TcpAnalyzer` finds in it, on its own (`common::tcp_verdicts`).
    ours: u8,
    /// ACK - SYN of the handshake `TcpAnalyzer` completes in it, on its own (ns).
    handshake_ns: Option<u64>,
}

impl Frame {
    /// What about the frame explains a difference: its classes (see `KNOWN`).
    fn tags(&self) -> BTreeSet<&'static str> {
        let mut t = BTreeSet::new();
        if self.fragment {
            t.insert("fragment");
        }
        if self.cut {
            t.insert("cut");
        }
        if self.clamped {
            t.insert("clamped");
        }
        if self.payload > 65535 {
            t.insert("big");
        }
        t
    }
}

fn frame(row: &FieldRow) -> Option<Frame> {
    let mut f = Frame {
        number: row.frame,
        time: epoch_ns(row.first("frame.time_epoch")?)?,
        ..Frame::default()
    };
    let number = |name: &str| row.numbers(name).last().copied();
    f.fragment = row.numbers("ip.flags.mf").iter().any(|&v| v != 0)
        || row.numbers("ip.frag_offset").iter().any(|&v| v != 0)
        || !row.get("ipv6.fraghdr.offset").is_empty()
        || !row.get("ip.fragment.count").is_empty()
        || !row.get("ipv6.fragment.count").is_empty();
    f.cut = number("frame.cap_len") < number("frame.len");
    let protocols = row.first_or_empty("frame.protocols");
    let protocols: Vec<&str> = protocols.split(':').collect();
    let Some(layers) = InnerLayers::of(&protocols) else {
        return Some(f);
    };
    let (ip, tcp) = (layers.ip, layers.tcp);
    let last = |name: &str| row.last(name).map(str::to_string);
    let [src, dst] = [0, 1].map(|i| last(layers.key_fields()[i]));
    let [tos, sport, dport] = [2, 3, 4].map(|i| number(layers.key_fields()[i]));
    let ids: Vec<&str> = row.get("vlan.id").iter().map(String::as_str).collect();
    let key = Key {
        in_if: number("frame.interface_id").unwrap_or(0),
        vlan: vlan_of(&protocols, ip, &ids),
        proto: if tcp { 6 } else { 17 },
        src: src?.parse().ok()?,
        sport: sport? as u16,
        dst: dst?.parse().ok()?,
        dport: dport? as u16,
    };
    f.key = Some((key, tos.unwrap_or(0) as u8));
    if tcp {
        f.payload = number("tcp.len").unwrap_or(0).into();
        let flags = number("tcp.flags").unwrap_or(0);
        f.syn = flags & 0x02 != 0;
        f.ack = flags & 0x10 != 0;
        f.stream = number("tcp.stream");
        f.retransmission = !row.get("tcp.analysis.retransmission").is_empty()
            || !row.get("tcp.analysis.fast_retransmission").is_empty();
        f.out_of_order = !row.get("tcp.analysis.out_of_order").is_empty();
        f.zero_window = !row.get("tcp.analysis.zero_window").is_empty();
        f.initial_rtt = row.last("tcp.analysis.initial_rtt").and_then(epoch_ns);
    } else {
        f.payload = number("udp.length").unwrap_or(0).saturating_sub(8).into();
    }
    Some(f)
}

/// tshark's frames of `path`, times clamped as flowprobe clamps them.
fn tshark_frames(path: &Path) -> Vec<Frame> {
    let rows = tshark_field_rows(path, &OPTIONS, &FIELDS);
    let mut clock = 0;
    rows.iter()
        .filter_map(|row| {
            let mut f = frame(row)?;
            f.clamped = f.time < clock;
            f.time = f.time.clamp(0, i128::from(u64::MAX - 1)).max(clock);
            clock = f.time;
            Some(f)
        })
        .collect()
}

// ---- flowprobe's rows ----

/// One CSV row.
#[derive(Debug)]
struct Row {
    key: Key,
    tos: u8,
    start: i128,
    end: i128,
    /// `reverse_start`, `reverse_end` of a biflow row with reverse packets.
    reverse: Option<(i128, i128)>,
    /// Every column by name.
    values: BTreeMap<String, String>,
}

impl Row {
    fn get(&self, column: &str) -> &str {
        self.values.get(column).map_or("", String::as_str)
    }
}

fn rows(csv: &str) -> Vec<Row> {
    let rows = csv_rows(csv);
    let Some((header, rows)) = rows.split_first() else {
        return Vec::new();
    };
    rows.iter()
        .filter_map(|r| {
            let values: BTreeMap<String, String> =
                header.iter().cloned().zip(r.iter().cloned()).collect();
            let get = |c: &str| values.get(c).map_or("", String::as_str);
            let proto: u8 = get("proto").parse().ok()?;
            if proto != 6 && proto != 17 {
                return None;
            }
            let reverse = match (
                rfc3339_ns(get("reverse_start")),
                rfc3339_ns(get("reverse_end")),
            ) {
                (Some(s), Some(e)) if get("reverse_packets").parse::<u64>().unwrap_or(0) > 0 => {
                    Some((s, e))
                }
                _ => None,
            };
            Some(Row {
                key: Key {
                    in_if: get("in_if").parse().ok()?,
                    vlan: get("vlan").parse().ok()?,
                    proto,
                    src: get("src").parse().ok()?,
                    sport: get("sport").parse().ok()?,
                    dst: get("dst").parse().ok()?,
                    dport: get("dport").parse().ok()?,
                },
                tos: get("tos").parse().ok()?,
                start: rfc3339_ns(get("start"))?,
                end: rfc3339_ns(get("end"))?,
                reverse,
                values,
            })
        })
        .collect()
}

/// flowprobe's TCP and UDP rows for `path`: `convert --inspect tcp,splt --decap all -f csv`.
fn flowprobe(bin: &Path, path: &Path, out: &Path, biflow: bool) -> Vec<Row> {
    rows(&common::convert_csv(bin, path, out, "tcp,splt", biflow))
}

// ---- Expected values ----

/// The exact statistics of `xs`: min, max, mean and sample standard deviation (two
/// passes; 0 for one value), `None` for none.
fn stats(xs: &[i128]) -> Option<(i128, i128, f64, f64)> {
    let n = xs.len();
    if n == 0 {
        return None;
    }
    let min = *xs.iter().min()?;
    let max = *xs.iter().max()?;
    let sum: i128 = xs.iter().sum();
    let mean = sum as f64 / n as f64;
    let sd = if n == 1 {
        0.0
    } else {
        // Around the exact mean, in f64 from exact integer differences.
        let m2: f64 = xs
            .iter()
            .map(|&x| {
                let d = (x * n as i128 - sum) as f64 / n as f64;
                d * d
            })
            .sum();
        (m2 / (n - 1) as f64).sqrt()
    };
    Some((min, max, mean, sd))
}

/// Whether the CSV's 3-decimal `got` is `exact`: within 0.001 or a relative 1e-9.
fn close(got: &str, exact: f64) -> bool {
    got.parse::<f64>().is_ok_and(|g| {
        let d = (g - exact).abs();
        d <= 0.001 || d <= exact.abs() * 1e-9
    })
}

/// A TCP count's column, tshark's flag and the analyzer's event bit.
type Event = (&'static str, fn(&Frame) -> bool, u8);

/// A row's span of one direction: its index, whether it is the reverse direction, and
/// [start, end].
type Span = (usize, bool, i128, i128);

/// One frame of a row: the frame and whether it is the reverse direction's.
type Member<'f> = (&'f Frame, bool);

/// The differences of one row holding `frames` (in frame order): (field, what).
fn compare_row(row: &Row, frames: &[Member], biflow: bool, out: &mut Vec<(String, String)>) {
    let mut differ = |field: &str, got: &str, expected: String| {
        if got != expected {
            out.push((
                field.to_string(),
                format!("flowprobe {got:?}, tshark {expected:?}"),
            ));
        }
    };
    let packets = |reverse: bool| frames.iter().filter(|m| m.1 == reverse).count();
    let mut counted = false;
    for (reverse, column) in [(false, "packets"), (true, "reverse_packets")] {
        if reverse && !biflow {
            continue;
        }
        let got = row.get(column);
        let expected = packets(reverse).to_string();
        if got != expected && !(got.is_empty() && expected == "0") {
            differ(column, got, expected);
            counted = true;
        }
    }
    if counted {
        // The frames are not the record's: nothing more to compare one by one. Where
        // fragments make the difference (flowprobe meters each, tshark shows the datagram
        // it put together), the payload still adds up: each later fragment carries its
        // share of the segment or datagram.
        if frames.iter().any(|m| m.0.fragment) {
            for (reverse, prefix) in [(false, ""), (true, "reverse_")] {
                if reverse && !biflow {
                    continue;
                }
                let side = frames.iter().filter(|m| m.1 == reverse);
                let payload: u64 = side.map(|m| m.0.payload).sum();
                let column = format!("{prefix}payload_bytes");
                differ(&column, row.get(&column), payload.to_string());
            }
        }
        return;
    }
    let tcp = row.key.proto == 6;
    for (reverse, prefix) in [(false, ""), (true, "reverse_")] {
        if reverse && !biflow {
            continue;
        }
        let side: Vec<&Frame> = frames
            .iter()
            .filter(|m| m.1 == reverse)
            .map(|m| m.0)
            .collect();
        if reverse && side.is_empty() {
            continue;
        }
        let count = |f: fn(&Frame) -> bool| side.iter().filter(|x| f(x)).count().to_string();
        let column = |c: &str| format!("{prefix}{c}");
        let payload: u64 = side.iter().map(|f| f.payload).sum();
        differ(
            &column("payload_bytes"),
            row.get(&column("payload_bytes")),
            payload.to_string(),
        );
        let events: [Event; 3] = [
            ("retransmissions", |f| f.retransmission, RETRANSMISSION),
            ("out_of_order", |f| f.out_of_order, OUT_OF_ORDER),
            ("zero_windows", |f| f.zero_window, ZERO_WINDOW),
        ];
        for (c, theirs, bit) in events {
            let c = column(c);
            let got = row.get(&c);
            if !tcp {
                differ(&c, got, String::new());
                continue;
            }
            let expected = count(theirs);
            let analyzer = side
                .iter()
                .filter(|f| f.ours & bit != 0)
                .count()
                .to_string();
            if got != expected && got == analyzer {
                // The analyzer's own verdicts differ from tshark's on these frames: a
                // per-frame difference (tcp_analysis_tshark's), carried into the record.
                let frames: Vec<u32> = side
                    .iter()
                    .filter(|f| theirs(f) != (f.ours & bit != 0))
                    .map(|f| f.number)
                    .collect();
                differ(
                    &format!("{PER_FRAME}{c}"),
                    got,
                    format!("{expected} (frames {frames:?})"),
                );
            } else {
                differ(&c, got, expected);
            }
        }
    }
    // The sequence and the statistics, over both directions of a biflow row.
    let mut splt = Vec::new();
    let mut gaps = Vec::new();
    let lens: Vec<i128> = frames.iter().map(|m| i128::from(m.0.payload)).collect();
    for (i, (f, reverse)) in frames.iter().enumerate() {
        let gap = if i == 0 {
            0
        } else {
            f.time - frames[i - 1].0.time
        };
        if i > 0 {
            gaps.push(gap);
        }
        if i < SPLT_PACKETS {
            let sign = if *reverse { "-" } else { "" };
            splt.push(format!("{sign}{}:{}", f.payload, gap.div_euclid(1000)));
        }
    }
    differ("splt", row.get("splt"), splt.join(","));
    let mut stat = |names: [&str; 4], xs: &[i128], scale: f64, truncate: i128| {
        let [min, mean, max, sd] = names;
        match stats(xs) {
            None => {
                for c in names {
                    differ(c, row.get(c), String::new());
                }
            }
            Some((lo, hi, m, s)) => {
                differ(min, row.get(min), lo.div_euclid(truncate).to_string());
                differ(max, row.get(max), hi.div_euclid(truncate).to_string());
                for (c, exact) in [(mean, m / scale), (sd, s / scale)] {
                    if !close(row.get(c), exact) {
                        differ(c, row.get(c), format!("{exact:.6}"));
                    }
                }
            }
        }
    };
    stat(
        ["iat_min_us", "iat_mean_us", "iat_max_us", "iat_stddev_us"],
        &gaps,
        1000.0,
        1000,
    );
    stat(
        ["len_min", "len_mean", "len_max", "len_stddev"],
        &lens,
        1.0,
        1,
    );
}

// ---- One capture ----

/// How one capture compared.
#[derive(Default)]
struct Outcome {
    rows: usize,
    frames: usize,
    /// Frames held by a row.
    held: usize,
    /// Values compared (equal or not).
    values: usize,
    handshakes: usize,
    /// (frame, field, what).
    diffs: Vec<(u32, String, String)>,
}

/// The row index holding each frame of `frames` (by key, ToS and time), or `None`.
fn assign(rows: &[Row], frames: &[Frame], biflow: bool) -> Vec<Option<(usize, bool)>> {
    let mut by_key: BTreeMap<(Key, u8), Vec<Span>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        by_key
            .entry((r.key, r.tos))
            .or_default()
            .push((i, false, r.start, r.end));
        if biflow {
            if let Some((s, e)) = r.reverse {
                by_key
                    .entry((r.key.reversed(), r.tos))
                    .or_default()
                    .push((i, true, s, e));
            }
        }
    }
    frames
        .iter()
        .map(|f| {
            let (key, tos) = f.key?;
            by_key
                .get(&(key, tos))?
                .iter()
                .find(|(_, _, s, e)| *s <= f.time && f.time <= *e)
                .map(|&(i, reverse, _, _)| (i, reverse))
        })
        .collect()
}

/// The columns compared per row (for the count of values).
const COMPARED: usize = 13;

fn compare_rows(rows: &[Row], frames: &[Frame], biflow: bool, o: &mut Outcome) {
    let prefix = if biflow { "biflow " } else { "" };
    let held = assign(rows, frames, biflow);
    let mut members: Vec<Vec<Member>> = vec![Vec::new(); rows.len()];
    let mut unheld: BTreeMap<(Key, u8), (u32, BTreeSet<&str>)> = BTreeMap::new();
    for (f, h) in frames.iter().zip(&held) {
        match (h, f.key) {
            (Some((i, reverse)), _) => members[*i].push((f, *reverse)),
            (None, Some(k)) => {
                unheld.entry(k).or_insert((f.number, f.tags()));
            }
            (None, None) => {}
        }
    }
    o.held += held.iter().filter(|h| h.is_some()).count();
    for ((key, tos), (frame, tags)) in unheld {
        o.diffs.push((
            frame,
            format!("{prefix}no_record"),
            format!("{key} tos {tos} {tags:?}"),
        ));
    }
    for (row, m) in rows.iter().zip(&members) {
        let mut diffs = Vec::new();
        compare_row(row, m, biflow, &mut diffs);
        o.values += COMPARED * if biflow { 2 } else { 1 };
        let first = m.first().map_or(0, |m| m.0.number);
        let tags: BTreeSet<&str> = m.iter().flat_map(|m| m.0.tags()).collect();
        for (field, what) in diffs {
            o.diffs.push((
                first,
                format!("{prefix}{field}"),
                format!("{} from {}: {what} {tags:?}", row.key, row.start),
            ));
        }
    }
    // Handshakes: per tshark stream, SYN and SYN-ACK seen, the first initial_rtt after
    // them, and the last SYN-ACK before it.
    let mut seen: BTreeMap<u32, (bool, Option<usize>)> = BTreeMap::new();
    let mut handshakes: BTreeMap<u32, (usize, usize, i128)> = BTreeMap::new();
    for (n, f) in frames.iter().enumerate() {
        let Some(stream) = f.stream else { continue };
        let s = seen.entry(stream).or_default();
        if f.syn && !f.ack {
            s.0 = true;
        }
        if f.syn && f.ack {
            s.1 = Some(n);
        }
        if let (Some(rtt), true, Some(syn_ack)) = (f.initial_rtt, s.0, s.1) {
            handshakes.entry(stream).or_insert((n, syn_ack, rtt));
        }
    }
    // The analyzer's own handshakes, by tshark stream.
    let mut analyzer_rtt: BTreeMap<u32, i128> = BTreeMap::new();
    for f in frames {
        if let (Some(stream), Some(ns)) = (f.stream, f.handshake_ns) {
            analyzer_rtt.entry(stream).or_insert(i128::from(ns));
        }
    }
    let sum_ns = |r: &Row| match (
        r.get("server_rtt_us").parse::<i128>(),
        r.get("client_rtt_us").parse::<i128>(),
    ) {
        (Ok(s), Ok(c)) => Some((s + c) * 1000),
        _ => None,
    };
    let mut expected_rtt: BTreeSet<usize> = BTreeSet::new();
    for (stream, &(ack, syn_ack, rtt)) in &handshakes {
        let analyzer = analyzer_rtt.get(stream).copied();
        // The analyzer alone differs from tshark here (tcp_analysis_tshark's RTT
        // difference): a row that says what the analyzer says carries it.
        let carried = |sum: Option<i128>| {
            analyzer.is_none_or(|a| a.abs_diff(rtt) > 1000)
                && match (sum, analyzer) {
                    (Some(s), Some(a)) => s.abs_diff(a) <= 1000,
                    (None, None) => true,
                    _ => false,
                }
        };
        o.handshakes += 1;
        let mut pairs = Vec::new();
        for (n, who) in [(ack, "client"), (syn_ack, "server")] {
            let frame = frames[n].number;
            let Some((i, _)) = held[n] else {
                o.diffs.push((
                    frame,
                    format!("{prefix}rtt"),
                    format!("{who}: no row holds it"),
                ));
                continue;
            };
            expected_rtt.insert(i);
            let r = &rows[i];
            let pair = (
                r.get("server_rtt_us").to_string(),
                r.get("client_rtt_us").to_string(),
            );
            let sum = sum_ns(r);
            if sum.is_none_or(|s| s.abs_diff(rtt) > 1000) {
                let tags: BTreeSet<&str> = members[i].iter().flat_map(|m| m.0.tags()).collect();
                let field = if carried(sum) { PER_FRAME } else { "" };
                o.diffs.push((
                    frame,
                    format!("{prefix}{field}rtt"),
                    format!(
                        "{who} row {} tos {} from {}: flowprobe {pair:?}, tshark initial_rtt \
                         {rtt} ns {tags:?}",
                        r.key, r.tos, r.start
                    ),
                ));
            }
            pairs.push(pair);
        }
        if pairs.len() == 2 && pairs[0] != pairs[1] {
            o.diffs.push((
                frames[ack].number,
                format!("{prefix}rtt_sides"),
                format!("client {:?}, server {:?}", pairs[0], pairs[1]),
            ));
        }
    }
    for (i, r) in rows.iter().enumerate() {
        let has = !r.get("server_rtt_us").is_empty() || !r.get("client_rtt_us").is_empty();
        if has && !expected_rtt.contains(&i) {
            let first = members[i].first().map_or(0, |m| m.0.number);
            // The analyzer alone completes a handshake tshark does not measure.
            let carried = members[i].iter().any(|m| {
                m.0.stream
                    .and_then(|s| analyzer_rtt.get(&s))
                    .is_some_and(|&a| sum_ns(r).is_some_and(|s| s.abs_diff(a) <= 1000))
            });
            let field = if carried { PER_FRAME } else { "" };
            o.diffs.push((
                first,
                format!("{prefix}{field}rtt_extra"),
                format!(
                    "{} from {}: flowprobe ({:?}, {:?}), no handshake of tshark's",
                    r.key,
                    r.start,
                    r.get("server_rtt_us"),
                    r.get("client_rtt_us")
                ),
            ));
        }
    }
}

fn compare(bin: &Path, dir: &Path, root: &Path, file: &str) -> Outcome {
    let path = root.join(file);
    let mut frames = tshark_frames(&path);
    let (verdicts, _, _) = common::tcp_verdicts(&path, true);
    for f in &mut frames {
        f.ours = verdicts.get(&f.number).map_or(0, |v| v.events);
        f.handshake_ns = verdicts.get(&f.number).and_then(|v| v.handshake_ns);
    }
    let out = dir.join(format!("{}.csv", file.replace('/', "_")));
    let mut o = Outcome {
        frames: frames.len(),
        ..Outcome::default()
    };
    let uni = flowprobe(bin, &path, &out, false);
    o.rows += uni.len();
    compare_rows(&uni, &frames, false, &mut o);
    if BIFLOW_FILES.contains(&file) {
        let bi = flowprobe(bin, &path, &out, true);
        o.rows += bi.len();
        compare_rows(&bi, &frames, true, &mut o);
    }
    o
}

// ---- What is understood ----

// Why, by class. A class follows from what the frames were (see `Frame::tags`: the
// generated listing of `TCP_FLOWS_ONLY` shows them) or what the capture holds.

/// Tagged `fragment`.
const FRAGMENTS: &str = "IP fragments: flowprobe meters every fragment (the first with its own \
     part of the payload, later ones with the rest of it; one whose first is missing with ports 0), \
     tshark shows the datagram it puts together on the last fragment's frame";
/// Tagged `fragment`, payload differences (compared where fragments alone make the
/// packet counts differ).
const DUPLICATE_FRAGMENTS: &str = "every fragment was captured twice: flowprobe meters each \
     copy and its share of the payload, tshark puts the datagram together once";
const OVERLAPPING_FRAGMENTS: &str = "fragments that overlap (an evasion trick): flowprobe counts \
     each fragment's share, overlaps again, tshark the datagram it put together";
const FRAGMENTED_OUTER: &str = "the tunnel's outer packets are IP fragments: tshark puts them \
     together and opens the tunnel, flowprobe (which does not reassemble) meters them as the \
     outer flow, so the inner record lacks their payload";
const GARBAGE_DATA_OFFSETS: &str = "garbage in the reassembled TCP header: a data offset under \
     5 words, which tshark subtracts as read (8 to 16 bytes) and flowprobe as 20, as it does \
     for a whole segment";
/// Tagged `cut`. A bug (reported): `TransportRange::ip_end` is bounded by the captured
/// bytes, so `wire_payload_len` is the captured payload, not the wire's.
const CUT: &str = "frames cut short by the snaplen: flowprobe's payload length is what was \
     captured (the IP length says more went on the wire; tshark's tcp.len is the wire's), \
     which also moves the sequence analysis' next sequence number";
/// Tagged `clamped`.
const CLAMPED: &str = "the capture's clock goes back: flowprobe clamps a frame's time to the \
     latest before it (records' spans, the gaps, the RTT and the out-of-order window change), \
     tshark keeps the file's times";
/// Tagged `big`, or the capture says so.
const BIG: &str = "Linux BIG TCP over IPv6 (payload length 0 and no jumbo option): tshark \
     reads no TCP length, flowprobe takes the payload to the frame's end";
const NOT_METERED: &str = "frames of a link type flowprobe does not decode (ARCNET, NFLOG, PPI, \
     IPoIB, C-HDLC, 802.11, snoop, ...), an encapsulation it does not open, or IPComp: no \
     record of flowprobe holds them";
const NOT_OPENED: &str = "a tunnel tshark opens and flowprobe does not (Teredo, AYIYA, GRE over \
     UDP, VXLAN-GPE, CAPWAP, Aruba GRE, PPTP's GRE, WCCP, WireGuard decrypted by tshark): \
     flowprobe's record is the outer packet's, tshark's frames the inner one's";
const CARRIED: &str =
    "a packet carried as data (sFlow's sampled headers, OpenFlow packet-in/out): \
     tshark's innermost TCP/UDP is the carried packet, flowprobe meters the carrier";
const VLAN_COPIES: &str = "the connection's packets are on two VLANs (each copied onto another \
     VLAN, or each direction on its own): flowprobe keys and analyses each VLAN apart, \
     tshark's TCP analysis ignores VLANs";
const PPPOE_LENGTH: &str = "PPPoE's payload length is shorter than the IP length (6 octets of \
     padding inside the IP length): tshark bounds the packet by PPPoE's, flowprobe by IP's";
const ZERO_RTT: &str = "the SYN, SYN-ACK and ACK have the same time: flowprobe's RTTs are 0, \
     tshark takes a first RTT of 0 for none and measures none (or from a later ACK)";
const GTP_CLOSED: &str = "GTP-U packets flowprobe's decoder leaves closed (fragmented, extension \
     headers, GTPv2 on 2152): its record is the outer UDP one, tshark's frames the inner";
const SAME_INNER_KEY: &str = "the same inner 5-tuple in several VXLAN networks: flowprobe keeps \
     a record per VNI (tunnel_id), the test's key has no VNI and gives every frame to the \
     first";
const EXPIRED: &str = "the connection was idle for years (capture times jump): flowprobe's \
     analyzer let it go (its records ended too) and starts over, tshark keeps the \
     conversation and calls the next segments retransmissions";
const MALFORMED: &str = "a fuzzed or malformed capture: lengths, offsets and headers that \
     tshark and flowprobe read differently (a TCP data offset under 5 words, a UDP length \
     past the datagram, a header cut inside)";

/// Differences with a reason: (capture under `shared/pcaps`, frames, field, why).
const KNOWN: &[(&str, &[u32], &str, &str)] = &[
    (
        "edge/PcapPlusPlus/Tests__ExamplesTest__expected_output__http_req_frag.pcap",
        &[12],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/PcapPlusPlus/Tests__ExamplesTest__expected_output__ipfragutil_bpf_filter.pcap",
        &[2],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/PcapPlusPlus/Tests__ExamplesTest__expected_output__ipfragutil_ip_ids.pcap",
        &[3, 6],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__frag_http_req.pcap",
        &[11],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__ip-frag.pcap",
        &[0, 45, 2231, 2401],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__ip-frag.pcap",
        &[45, 2401],
        "payload_bytes",
        DUPLICATE_FRAGMENTS,
    ),
    (
        "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__solaris.snoop",
        &[1, 4, 9, 19, 20, 24, 30, 47, 48, 60, 100, 115, 128, 130, 132, 146, 154, 164, 178, 184, 205, 218, 225, 232, 245, 248, 250],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__tcp-reassembly.pcap",
        &[66],
        "no_record",
        CARRIED,
    ),
    (
        "edge/PcapPlusPlus/Tests__ExamplesTest__pcap_examples__tcp-reassembly.pcap",
        &[0],
        "packets",
        CARRIED,
    ),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__CiscoHDLC.pcap",
        &[2],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__GrePackets.pcap",
        &[6],
        "no_record",
        NOT_OPENED,
    ),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__SllPacket.pcap",
        &[1],
        "len_max",
        CUT,
    ),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__SllPacket.pcap",
        &[1],
        "len_mean",
        CUT,
    ),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__SllPacket.pcap",
        &[1],
        "len_min",
        CUT,
    ),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__SllPacket.pcap",
        &[1],
        "payload_bytes",
        CUT,
    ),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__SllPacket.pcap",
        &[1],
        "splt",
        CUT,
    ),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__Smtp.pcap",
        &[7, 8],
        "retransmissions",
        EXPIRED,
    ),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__dns_over_tcp.pcapng",
        &[4],
        "retransmissions",
        EXPIRED,
    ),
    (
        "edge/PcapPlusPlus/Tests__Pcap++Test__PcapExamples__pcapng-example.pcapng",
        &[61, 62, 66, 73, 74, 82, 86, 106, 139],
        "len_max",
        CUT,
    ),
    (
        "edge/PcapPlusPlus/Tests__Pcap++Test__PcapExamples__pcapng-example.pcapng",
        &[61, 62, 66, 73, 74, 82, 86, 106, 139],
        "len_mean",
        CUT,
    ),
    (
        "edge/PcapPlusPlus/Tests__Pcap++Test__PcapExamples__pcapng-example.pcapng",
        &[61, 62, 66, 139],
        "len_min",
        CUT,
    ),
    (
        "edge/PcapPlusPlus/Tests__Pcap++Test__PcapExamples__pcapng-example.pcapng",
        &[61, 62, 66, 73, 74, 82, 86, 106, 139],
        "len_stddev",
        CUT,
    ),
    (
        "edge/PcapPlusPlus/Tests__Pcap++Test__PcapExamples__pcapng-example.pcapng",
        &[61, 62, 66, 73, 74, 82, 86, 106, 139],
        "payload_bytes",
        CUT,
    ),
    (
        "edge/PcapPlusPlus/Tests__Pcap++Test__PcapExamples__pcapng-example.pcapng",
        &[2, 3],
        "rtt",
        CLAMPED,
    ),
    (
        "edge/PcapPlusPlus/Tests__Pcap++Test__PcapExamples__pcapng-example.pcapng",
        &[61, 62, 66, 73, 74, 82, 86, 106, 139],
        "splt",
        CUT,
    ),
    (
        "edge/arkime/tests__pcap__80211http.pcap",
        &[1, 2],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/arkime/tests__pcap__80211http.pcap",
        &[2, 3],
        "rtt",
        NOT_METERED,
    ),
    (
        "edge/arkime/tests__pcap__arkime_synthetic.pcap",
        &[817],
        "len_mean",
        CLAMPED,
    ),
    (
        "edge/arkime/tests__pcap__arkime_synthetic.pcap",
        &[817],
        "len_min",
        CLAMPED,
    ),
    (
        "edge/arkime/tests__pcap__arkime_synthetic.pcap",
        &[817],
        "len_stddev",
        CLAMPED,
    ),
    (
        "edge/arkime/tests__pcap__arkime_synthetic.pcap",
        &[618],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/arkime/tests__pcap__arkime_synthetic.pcap",
        &[0],
        "packets",
        NOT_OPENED,
    ),
    (
        "edge/arkime/tests__pcap__arkime_synthetic.pcap",
        &[817],
        "payload_bytes",
        CLAMPED,
    ),
    (
        "edge/arkime/tests__pcap__arkime_synthetic.pcap",
        &[817],
        "splt",
        CLAMPED,
    ),
    (
        "edge/arkime/tests__pcap__mongo.pcap",
        &[22, 23],
        "rtt_extra",
        VLAN_COPIES,
    ),
    (
        "edge/arkime/tests__pcap__nflog.pcap",
        &[1, 2],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/arkime/tests__pcap__nflog.pcap",
        &[2, 3],
        "rtt",
        NOT_METERED,
    ),
    (
        "edge/arkime/tests__pcap__socks5-http-302-frag.pcap",
        &[1, 2],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/community-id-spec/pcaps__combined.pcap",
        &[53, 54],
        "len_max",
        CUT,
    ),
    (
        "edge/community-id-spec/pcaps__combined.pcap",
        &[53, 54],
        "len_mean",
        CUT,
    ),
    (
        "edge/community-id-spec/pcaps__combined.pcap",
        &[53, 54],
        "len_stddev",
        CUT,
    ),
    (
        "edge/community-id-spec/pcaps__combined.pcap",
        &[53, 54],
        "payload_bytes",
        CUT,
    ),
    (
        "edge/community-id-spec/pcaps__combined.pcap",
        &[53, 54],
        "splt",
        CUT,
    ),
    (
        "edge/community-id-spec/pcaps__tcp.pcap",
        &[1, 2],
        "len_max",
        CUT,
    ),
    (
        "edge/community-id-spec/pcaps__tcp.pcap",
        &[1, 2],
        "len_mean",
        CUT,
    ),
    (
        "edge/community-id-spec/pcaps__tcp.pcap",
        &[1, 2],
        "len_stddev",
        CUT,
    ),
    (
        "edge/community-id-spec/pcaps__tcp.pcap",
        &[1, 2],
        "payload_bytes",
        CUT,
    ),
    (
        "edge/community-id-spec/pcaps__tcp.pcap",
        &[1, 2],
        "splt",
        CUT,
    ),
    (
        "edge/libpcap/tests__filter__AH-IPcomp-IPv4.pcap",
        &[1, 2],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/libpcap/tests__filter__AH-IPcomp-IPv4.pcap",
        &[2, 3],
        "rtt",
        NOT_METERED,
    ),
    (
        "edge/libpcap/tests__filter__AH-IPcomp-IPv6.pcap",
        &[1, 2],
        "packets",
        NOT_METERED,
    ),
    (
        "edge/libpcap/tests__filter__arcnet-rfc1051-arp-icmp-http.pcap",
        &[7, 8, 11, 12],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/libpcap/tests__filter__arcnet-rfc1051-arp-icmp-http.pcap",
        &[12, 13],
        "rtt",
        NOT_METERED,
    ),
    (
        "edge/libpcap/tests__filter__arcnet-rfc1201-arp-icmp-http.pcap",
        &[9, 10, 13, 14],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/libpcap/tests__filter__arcnet-rfc1201-arp-icmp-http.pcap",
        &[14, 15],
        "rtt",
        NOT_METERED,
    ),
    (
        "edge/libpcap/tests__filter__http_PPI.pcap",
        &[1, 3, 5],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/nDPI/tests__cfgs__default__pcap__BGP_Cisco_hdlc_slarp.pcap",
        &[1, 2],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/nDPI/tests__cfgs__default__pcap__BGP_Cisco_hdlc_slarp.pcap",
        &[2, 3],
        "rtt",
        NOT_METERED,
    ),
    (
        "edge/nDPI/tests__cfgs__default__pcap__dns_fragmented.pcap",
        &[3, 6, 9, 12, 17, 39, 42],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/ntopng/fuzz__corpus__fuzz_dissect_packet__kday4.pcap",
        &[2, 4, 5],
        "no_record",
        MALFORMED,
    ),
    (
        "edge/ntopng/fuzz__corpus__fuzz_dissect_packet__kday4.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "edge/ntopng/fuzz__corpus__fuzz_dissect_packet__kday4.pcap",
        &[9],
        "retransmissions",
        MALFORMED,
    ),
    (
        "edge/ntopng/fuzz__corpus__fuzz_dissect_packet__kday7.pcap",
        &[2, 4, 5],
        "no_record",
        MALFORMED,
    ),
    (
        "edge/ntopng/fuzz__corpus__fuzz_dissect_packet__kday7.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "edge/ntopng/fuzz__corpus__fuzz_dissect_packet__kday7.pcap",
        &[9],
        "retransmissions",
        MALFORMED,
    ),
    (
        "edge/pcap-parser/assets__wireshark_samples-test.pcapng",
        &[0],
        "packets",
        NOT_OPENED,
    ),
    (
        "edge/suricata-verify/tests__decode-chdlc-01__hdlc-http_1tx.pcap",
        &[1, 2],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/suricata-verify/tests__decode-chdlc-01__hdlc-http_1tx.pcap",
        &[2, 3],
        "rtt",
        NOT_METERED,
    ),
    (
        "edge/suricata-verify/tests__defrag__bug-6887-defrag-eth-vlan-ipv4-tcp-syn__frag-eth-vlan-ip-tcp-syn.pcap",
        &[3],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/suricata-verify/tests__defrag__bug-6887-defrag-eth-vlan-ipv6-tcp__frag-eth-vlan-ipv6-tcp.pcap",
        &[3],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/suricata-verify/tests__defrag__bug-6887-defrag-ipv4-tcp-syn__frag-ip-tcp-syn.pcap",
        &[3],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/suricata-verify/tests__defrag__bug-6887-defrag-ipv6-tcp__frag-ip-tcp.pcap",
        &[3],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/suricata-verify/tests__defrag__bug-6887-defrag-ppp-ipv4-tcp-syn__frag-ppp-ip-tcp-syn.pcap",
        &[3],
        "no_record",
        FRAGMENTS,
    ),
    (
        "edge/suricata-verify/tests__defrag__bug-6887-defrag-ppp-ipv6-tcp__frag-ppp-ipv6-tcp.pcap",
        &[3],
        "no_record",
        FRAGMENTS,
    ),
    (
        "edge/suricata-verify/tests__ipv6-evasion__ipv6-malformed-fragments-25__frag-25.pcap",
        &[0],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/suricata-verify/tests__ipv6-evasion__ipv6-malformed-fragments-26__frag-26.pcap",
        &[0],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/tcpdump/tests__arcnet-rfc1051-arp-icmp-http.pcap",
        &[7, 8, 11, 12],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/tcpdump/tests__arcnet-rfc1051-arp-icmp-http.pcap",
        &[12, 13],
        "rtt",
        NOT_METERED,
    ),
    (
        "edge/tcpdump/tests__arcnet-rfc1201-arp-icmp-http.pcap",
        &[9, 10, 13, 14],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/tcpdump/tests__arcnet-rfc1201-arp-icmp-http.pcap",
        &[14, 15],
        "rtt",
        NOT_METERED,
    ),
    (
        "edge/tcpdump/tests__bgp-aigp.pcap",
        &[1],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/tcpdump/tests__bgp_vpn_attrset.pcap",
        &[1],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/tcpdump/tests__bigtcp-ipv6.pcap",
        &[0],
        "packets",
        BIG,
    ),
    (
        "edge/tcpdump/tests__ipoib.pcap",
        &[9, 11, 24, 27, 28, 29, 30],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/tcpdump/tests__kday3.pcap",
        &[9],
        "retransmissions",
        CLAMPED,
    ),
    (
        "edge/tcpdump/tests__kday4.pcap",
        &[9],
        "retransmissions",
        CLAMPED,
    ),
    (
        "edge/tcpdump/tests__kday7.pcap",
        &[9],
        "retransmissions",
        CLAMPED,
    ),
    (
        "edge/tcpdump/tests__lspping-fec-ldp.pcap",
        &[1, 2, 3, 4],
        "no_record",
        NOT_OPENED,
    ),
    (
        "edge/tcpdump/tests__of10_inv_OFPST_FLOW.pcap",
        &[1],
        "len_max",
        CUT,
    ),
    (
        "edge/tcpdump/tests__of10_inv_OFPST_FLOW.pcap",
        &[1],
        "len_mean",
        CUT,
    ),
    (
        "edge/tcpdump/tests__of10_inv_OFPST_FLOW.pcap",
        &[1],
        "len_min",
        CUT,
    ),
    (
        "edge/tcpdump/tests__of10_inv_OFPST_FLOW.pcap",
        &[1],
        "payload_bytes",
        CUT,
    ),
    (
        "edge/tcpdump/tests__of10_inv_OFPST_FLOW.pcap",
        &[1],
        "splt",
        CUT,
    ),
    (
        "edge/tcpdump/tests__of13_ericsson.pcapng",
        &[65],
        "no_record",
        CARRIED,
    ),
    (
        "edge/tcpdump/tests__of13_ericsson.pcapng",
        &[62, 63],
        "packets",
        CARRIED,
    ),
    (
        "edge/tcpdump/tests__wccp_redirect_gre.pcap",
        &[1],
        "no_record",
        NOT_OPENED,
    ),
    (
        "edge/wireshark/test__captures__communityid.pcap",
        &[90, 91],
        "len_max",
        CUT,
    ),
    (
        "edge/wireshark/test__captures__communityid.pcap",
        &[90, 91],
        "len_mean",
        CUT,
    ),
    (
        "edge/wireshark/test__captures__communityid.pcap",
        &[90, 91],
        "len_stddev",
        CUT,
    ),
    (
        "edge/wireshark/test__captures__communityid.pcap",
        &[90, 91],
        "payload_bytes",
        CUT,
    ),
    (
        "edge/wireshark/test__captures__communityid.pcap",
        &[90, 91],
        "splt",
        CUT,
    ),
    (
        "edge/wireshark/test__captures__wireguard-ping-tcp-dsb.pcapng",
        &[10, 12, 17, 18],
        "no_record",
        NOT_OPENED,
    ),
    (
        "edge/wireshark/test__captures__wireguard-ping-tcp-dsb.pcapng",
        &[0, 9, 16],
        "packets",
        NOT_OPENED,
    ),
    (
        "edge/wireshark/test__captures__wireguard-ping-tcp-dsb.pcapng",
        &[18, 19],
        "rtt",
        NOT_OPENED,
    ),
    (
        "edge/zeek/doc__advanced__devel__plugins__connkey-vxlan-fivetuple-plugin-src__Traces__vxlan-overlapping-http-get.pcap",
        &[0, 1, 4],
        "packets",
        SAME_INNER_KEY,
    ),
    (
        "edge/zeek/testing__btest__Traces__erspan.pcap",
        &[155, 252, 281],
        "no_record",
        FRAGMENTS,
    ),
    (
        "edge/zeek/testing__btest__Traces__erspan.pcap",
        &[167, 170, 173],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/zeek/testing__btest__Traces__erspan.pcap",
        &[167, 170, 173],
        "payload_bytes",
        FRAGMENTED_OUTER,
    ),
    (
        "edge/zeek/testing__btest__Traces__ipv4__fragmented-3.pcap",
        &[0],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/zeek/testing__btest__Traces__ipv4__fragmented-4.pcap",
        &[5],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/zeek/testing__btest__Traces__ipv4__fragmented-4.pcap",
        &[5],
        "payload_bytes",
        OVERLAPPING_FRAGMENTS,
    ),
    (
        "edge/zeek/testing__btest__Traces__ipv4__fragmented-syn.pcap",
        &[2],
        "packets",
        FRAGMENTS,
    ),
    (
        "edge/zeek/testing__btest__Traces__nflog-http.pcap",
        &[1, 4],
        "no_record",
        NOT_METERED,
    ),
    (
        "edge/zeek/testing__btest__Traces__nflog-http.pcap",
        &[4, 9],
        "rtt",
        NOT_METERED,
    ),
    (
        "edge/zeek/testing__btest__Traces__pppoe-over-qinq.pcap",
        &[81],
        "len_max",
        PPPOE_LENGTH,
    ),
    (
        "edge/zeek/testing__btest__Traces__pppoe-over-qinq.pcap",
        &[2, 81],
        "len_mean",
        PPPOE_LENGTH,
    ),
    (
        "edge/zeek/testing__btest__Traces__pppoe-over-qinq.pcap",
        &[81],
        "len_min",
        PPPOE_LENGTH,
    ),
    (
        "edge/zeek/testing__btest__Traces__pppoe-over-qinq.pcap",
        &[2],
        "len_stddev",
        PPPOE_LENGTH,
    ),
    (
        "edge/zeek/testing__btest__Traces__pppoe-over-qinq.pcap",
        &[2, 81],
        "payload_bytes",
        PPPOE_LENGTH,
    ),
    (
        "edge/zeek/testing__btest__Traces__pppoe-over-qinq.pcap",
        &[2, 81],
        "splt",
        PPPOE_LENGTH,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__Teredo.pcap",
        &[0],
        "packets",
        NOT_OPENED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__ayiya3.pcap",
        &[12, 13],
        "no_record",
        NOT_OPENED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__ayiya3.pcap",
        &[0, 6],
        "packets",
        NOT_OPENED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__ayiya3.pcap",
        &[13, 14],
        "rtt",
        NOT_OPENED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gre-aruba-amsdu.pcap",
        &[1],
        "no_record",
        NOT_OPENED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gre-aruba.pcap",
        &[1, 2, 5, 9, 12, 17, 18, 19, 26, 30, 37, 38, 58, 1368, 1369, 1370, 1508, 1509, 1586, 1596, 1637, 1698, 1791],
        "no_record",
        NOT_OPENED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gre-over-udp-4754.pcap",
        &[1, 3, 5, 6],
        "no_record",
        NOT_OPENED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gre-over-udp-4754.pcap",
        &[0],
        "packets",
        NOT_OPENED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gre-over-udp-4754.pcap",
        &[6, 7],
        "rtt",
        NOT_OPENED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gtp__gtp1_gn_normal_incl_fragmentation.pcap",
        &[0, 1, 2],
        "packets",
        GTP_CLOSED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gtp__gtp1_gn_normal_incl_fragmentation.pcap",
        &[1, 2],
        "payload_bytes",
        GTP_CLOSED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gtp__gtp2_different_udp_port.pcap",
        &[0, 2],
        "packets",
        GTP_CLOSED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gtp__gtp2_different_udp_port.pcap",
        &[2],
        "payload_bytes",
        GTP_CLOSED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gtp__gtp_ext_header.pcap",
        &[2],
        "no_record",
        GTP_CLOSED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gtp__gtp_ext_header.pcap",
        &[0],
        "packets",
        GTP_CLOSED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__tunnel-direct-bypass.pcap",
        &[1, 20],
        "packets",
        NOT_OPENED,
    ),
    (
        "export/akvorado/outlet__flow__decoder__sflow__testdata__data-1140.pcap",
        &[1],
        "no_record",
        CARRIED,
    ),
    (
        "export/akvorado/outlet__flow__decoder__sflow__testdata__data-1140.pcap",
        &[0],
        "packets",
        CARRIED,
    ),
    (
        "export/akvorado/outlet__flow__decoder__sflow__testdata__data-discard-interface.pcap",
        &[1],
        "no_record",
        CARRIED,
    ),
    (
        "export/akvorado/outlet__flow__decoder__sflow__testdata__data-discard-interface.pcap",
        &[0],
        "packets",
        CARRIED,
    ),
    (
        "export/akvorado/outlet__flow__decoder__sflow__testdata__data-local-interface.pcap",
        &[1],
        "no_record",
        CARRIED,
    ),
    (
        "export/akvorado/outlet__flow__decoder__sflow__testdata__data-local-interface.pcap",
        &[0],
        "packets",
        CARRIED,
    ),
    (
        "export/akvorado/outlet__flow__decoder__sflow__testdata__data-multiple-interfaces.pcap",
        &[1],
        "no_record",
        CARRIED,
    ),
    (
        "export/akvorado/outlet__flow__decoder__sflow__testdata__data-multiple-interfaces.pcap",
        &[0],
        "packets",
        CARRIED,
    ),
    (
        "export/akvorado/outlet__flow__decoder__sflow__testdata__data-qinq.pcap",
        &[1],
        "no_record",
        CARRIED,
    ),
    (
        "export/akvorado/outlet__flow__decoder__sflow__testdata__data-qinq.pcap",
        &[0],
        "packets",
        CARRIED,
    ),
    (
        "export/akvorado/outlet__flow__decoder__sflow__testdata__data-sflow-expanded-sample.pcap",
        &[1],
        "no_record",
        CARRIED,
    ),
    (
        "export/akvorado/outlet__flow__decoder__sflow__testdata__data-sflow-expanded-sample.pcap",
        &[0],
        "packets",
        CARRIED,
    ),
    (
        "export/pmacct/tests__403-IPFIXv10-BMP-IPv6-CISCO-locrib-peerdown-vrf__traffic-00.pcap",
        &[878],
        "iat_max_us",
        CLAMPED,
    ),
    (
        "export/pmacct/tests__403-IPFIXv10-BMP-IPv6-CISCO-locrib-peerdown-vrf__traffic-00.pcap",
        &[878],
        "iat_stddev_us",
        CLAMPED,
    ),
    (
        "malformed/gopacket/layers__testdata__linux_sll_oversized_addr.pcapng",
        &[94],
        "len_max",
        MALFORMED,
    ),
    (
        "malformed/gopacket/layers__testdata__linux_sll_oversized_addr.pcapng",
        &[94],
        "len_mean",
        MALFORMED,
    ),
    (
        "malformed/gopacket/layers__testdata__linux_sll_oversized_addr.pcapng",
        &[94],
        "len_stddev",
        MALFORMED,
    ),
    (
        "malformed/gopacket/layers__testdata__linux_sll_oversized_addr.pcapng",
        &[94],
        "payload_bytes",
        MALFORMED,
    ),
    (
        "malformed/gopacket/layers__testdata__linux_sll_oversized_addr.pcapng",
        &[94],
        "splt",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-06-26-2594.pcap",
        &[7, 21, 29, 125, 140, 154, 190, 195, 213, 253, 269, 311, 328, 423, 448, 464, 480, 508, 522, 525, 530, 565, 603, 689],
        "len_max",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-06-26-2594.pcap",
        &[7, 21, 29, 125, 140, 154, 190, 195, 213, 253, 269, 311, 328, 423, 448, 464, 480, 508, 522, 525, 530, 565, 603, 689],
        "len_mean",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-06-26-2594.pcap",
        &[7, 29, 140, 154, 190, 195, 213, 253, 269, 311, 328, 423, 448, 480, 508, 522, 530, 603, 689],
        "len_min",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-06-26-2594.pcap",
        &[21, 125, 269, 464, 525, 565],
        "len_stddev",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-06-26-2594.pcap",
        &[0, 641],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-06-26-2594.pcap",
        &[7, 21, 29, 125, 140, 154, 190, 195, 213, 253, 269, 311, 328, 423, 448, 464, 480, 508, 522, 525, 530, 565, 603, 689],
        "payload_bytes",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-06-26-2594.pcap",
        &[7, 21, 29, 125, 140, 154, 190, 195, 213, 253, 269, 311, 328, 423, 448, 464, 480, 508, 522, 525, 530, 565, 603, 689],
        "splt",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-09-29-28586.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__ip_fragmented_garbage.pcap",
        &[313, 626, 939, 1252],
        "packets",
        FRAGMENTS,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__ip_fragmented_garbage.pcap",
        &[313, 1252],
        "payload_bytes",
        GARBAGE_DATA_OFFSETS,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__kerberos_fuzz.pcapng",
        &[1],
        "len_max",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__kerberos_fuzz.pcapng",
        &[1],
        "len_mean",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__kerberos_fuzz.pcapng",
        &[1],
        "len_min",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__kerberos_fuzz.pcapng",
        &[1],
        "payload_bytes",
        MALFORMED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__kerberos_fuzz.pcapng",
        &[1],
        "splt",
        MALFORMED,
    ),
    (
        "malformed/nfstream/tests__pcaps__ip_fragmented_garbage.pcap",
        &[313, 626, 939, 1252, 1565, 1878, 2191, 2504, 2817, 3130, 3443, 3756, 4069, 4382, 4695, 5008, 5321, 5634, 5947, 6260, 6573, 6886, 7199, 7512, 7825, 8138, 8451, 8764, 9077],
        "packets",
        FRAGMENTS,
    ),
    (
        "malformed/nfstream/tests__pcaps__ip_fragmented_garbage.pcap",
        &[313, 1252, 1565, 1878, 2504, 2817, 3130, 4069, 4382, 4695, 5008, 5321, 5634, 5947, 6260, 6573, 6886, 7199, 7512, 8138, 8451, 8764, 9077],
        "payload_bytes",
        GARBAGE_DATA_OFFSETS,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__babel_update_oobr.pcap",
        &[1, 3, 5, 6, 7, 8, 9, 11, 12, 14, 16, 19, 27, 33, 34, 35, 42, 46, 48, 52, 53, 54, 55, 57, 58, 60, 62, 65, 67, 70, 84, 85, 97],
        "len_max",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__babel_update_oobr.pcap",
        &[1, 3, 5, 6, 7, 8, 9, 11, 12, 14, 16, 19, 27, 33, 34, 35, 42, 46, 48, 52, 53, 54, 55, 57, 58, 60, 62, 65, 67, 70, 84, 85, 97],
        "len_mean",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__babel_update_oobr.pcap",
        &[1, 3, 5, 6, 7, 8, 9, 11, 12, 14, 16, 19, 27, 33, 34, 35, 42, 46, 48, 52, 53, 54, 55, 57, 58, 60, 62, 65, 67, 70, 84, 85, 97],
        "len_min",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__babel_update_oobr.pcap",
        &[8, 12, 35, 57],
        "len_stddev",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__babel_update_oobr.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__babel_update_oobr.pcap",
        &[1, 3, 5, 6, 7, 8, 9, 11, 12, 14, 16, 19, 27, 33, 34, 35, 42, 46, 48, 52, 53, 54, 55, 57, 58, 60, 62, 65, 67, 70, 84, 85, 97],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__babel_update_oobr.pcap",
        &[1, 3, 5, 6, 7, 8, 9, 11, 12, 14, 16, 19, 27, 33, 34, 35, 42, 46, 48, 52, 53, 54, 55, 57, 58, 60, 62, 65, 67, 70, 84, 85, 97],
        "splt",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__beep-oobr.pcap",
        &[2],
        "no_record",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__beep-oobr.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__bgp-bgp_capabilities_print-oobr-1.pcap",
        &[1],
        "no_record",
        FRAGMENTS,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__bgp-bgp_capabilities_print-oobr-1.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__bgp-bgp_capabilities_print-oobr-2.pcap",
        &[1],
        "no_record",
        FRAGMENTS,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__bgp-bgp_capabilities_print-oobr-2.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__bgp_mp_reach_nlri-oobr.pcap",
        &[1],
        "no_record",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__bgp_mp_reach_nlri-oobr.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__bgp_mvpn_6_and_7_oobr.pcap",
        &[1],
        "no_record",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__bgp_mvpn_6_and_7_oobr.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__bgp_pmsi_tunnel-oobr.pcap",
        &[1],
        "no_record",
        FRAGMENTS,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__bgp_pmsi_tunnel-oobr.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__heapoverflow-tcp_print.pcap",
        &[1],
        "no_record",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__heapoverflow-tcp_print.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__hoobr_nfs_printfh.pcap",
        &[9],
        "no_record",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__hoobr_nfs_printfh.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__rpki-rtr-oobr.pcap",
        &[1],
        "no_record",
        FRAGMENTS,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__rpki-rtr-oobr.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__tcp-auth-heapoverflow.pcap",
        &[1],
        "no_record",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__tcp-auth-heapoverflow.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__tcp_header_heapoverflow.pcap",
        &[1],
        "no_record",
        CUT,
    ),
    (
        "malformed/ntopng/fuzz__corpus__fuzz_dissect_packet__tcp_header_heapoverflow.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/tcpdump/tests__babel_update_oobr.pcap",
        &[1, 3, 5, 6, 7, 8, 9, 11, 12, 14, 16, 19, 27, 33, 34, 35, 42, 46, 48, 52, 53, 54, 58, 62, 65, 67, 70],
        "len_max",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__babel_update_oobr.pcap",
        &[1, 3, 5, 6, 7, 8, 9, 11, 12, 14, 16, 19, 27, 33, 34, 35, 42, 46, 48, 52, 53, 54, 58, 62, 65, 67, 70],
        "len_mean",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__babel_update_oobr.pcap",
        &[1, 3, 5, 6, 7, 8, 9, 11, 12, 14, 16, 19, 27, 33, 34, 35, 42, 46, 48, 52, 53, 54, 58, 62, 65, 67, 70],
        "len_min",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__babel_update_oobr.pcap",
        &[8, 12, 35],
        "len_stddev",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__babel_update_oobr.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/tcpdump/tests__babel_update_oobr.pcap",
        &[1, 3, 5, 6, 7, 8, 9, 11, 12, 14, 16, 19, 27, 33, 34, 35, 42, 46, 48, 52, 53, 54, 58, 62, 65, 67, 70],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__babel_update_oobr.pcap",
        &[1, 3, 5, 6, 7, 8, 9, 11, 12, 14, 16, 19, 27, 33, 34, 35, 42, 46, 48, 52, 53, 54, 58, 62, 65, 67, 70],
        "splt",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__beep-oobr.pcap",
        &[2],
        "len_max",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__beep-oobr.pcap",
        &[2],
        "len_mean",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__beep-oobr.pcap",
        &[2],
        "len_min",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__beep-oobr.pcap",
        &[2],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__beep-oobr.pcap",
        &[2],
        "splt",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp-bgp_capabilities_print-oobr-1.pcap",
        &[1],
        "len_max",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp-bgp_capabilities_print-oobr-1.pcap",
        &[1],
        "len_mean",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp-bgp_capabilities_print-oobr-1.pcap",
        &[1],
        "len_min",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp-bgp_capabilities_print-oobr-1.pcap",
        &[1],
        "payload_bytes",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp-bgp_capabilities_print-oobr-1.pcap",
        &[1],
        "splt",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp-bgp_capabilities_print-oobr-2.pcap",
        &[1],
        "len_max",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp-bgp_capabilities_print-oobr-2.pcap",
        &[1],
        "len_mean",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp-bgp_capabilities_print-oobr-2.pcap",
        &[1],
        "len_min",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp-bgp_capabilities_print-oobr-2.pcap",
        &[1],
        "payload_bytes",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp-bgp_capabilities_print-oobr-2.pcap",
        &[1],
        "splt",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp_mp_reach_nlri-oobr.pcap",
        &[1],
        "len_max",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_mp_reach_nlri-oobr.pcap",
        &[1],
        "len_mean",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_mp_reach_nlri-oobr.pcap",
        &[1],
        "len_min",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_mp_reach_nlri-oobr.pcap",
        &[1],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_mp_reach_nlri-oobr.pcap",
        &[1],
        "splt",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_mvpn_6_and_7_oobr.pcap",
        &[1],
        "len_max",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_mvpn_6_and_7_oobr.pcap",
        &[1],
        "len_mean",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_mvpn_6_and_7_oobr.pcap",
        &[1],
        "len_min",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_mvpn_6_and_7_oobr.pcap",
        &[1],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_mvpn_6_and_7_oobr.pcap",
        &[1],
        "splt",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_pmsi_tunnel-oobr.pcap",
        &[1],
        "len_max",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp_pmsi_tunnel-oobr.pcap",
        &[1],
        "len_mean",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp_pmsi_tunnel-oobr.pcap",
        &[1],
        "len_min",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp_pmsi_tunnel-oobr.pcap",
        &[1],
        "payload_bytes",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp_pmsi_tunnel-oobr.pcap",
        &[1],
        "splt",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__bgp_vpn_rt-oobr.pcap",
        &[1],
        "len_max",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_vpn_rt-oobr.pcap",
        &[1],
        "len_mean",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_vpn_rt-oobr.pcap",
        &[1],
        "len_min",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_vpn_rt-oobr.pcap",
        &[1],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__bgp_vpn_rt-oobr.pcap",
        &[1],
        "splt",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__heapoverflow-tcp_print.pcap",
        &[1],
        "len_max",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__heapoverflow-tcp_print.pcap",
        &[1],
        "len_mean",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__heapoverflow-tcp_print.pcap",
        &[1],
        "len_min",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__heapoverflow-tcp_print.pcap",
        &[1],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__heapoverflow-tcp_print.pcap",
        &[1],
        "splt",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__hoobr_nfs_printfh.pcap",
        &[9],
        "len_max",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__hoobr_nfs_printfh.pcap",
        &[9],
        "len_mean",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__hoobr_nfs_printfh.pcap",
        &[9],
        "len_min",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__hoobr_nfs_printfh.pcap",
        &[9],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__hoobr_nfs_printfh.pcap",
        &[9],
        "splt",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__of10_7050sx_bsn-oobr.pcap",
        &[1],
        "len_max",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__of10_7050sx_bsn-oobr.pcap",
        &[1],
        "len_mean",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__of10_7050sx_bsn-oobr.pcap",
        &[1],
        "len_min",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__of10_7050sx_bsn-oobr.pcap",
        &[1],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__of10_7050sx_bsn-oobr.pcap",
        &[1],
        "splt",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__rpki-rtr-oobr.pcap",
        &[1],
        "len_max",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__rpki-rtr-oobr.pcap",
        &[1],
        "len_mean",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__rpki-rtr-oobr.pcap",
        &[1],
        "len_min",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__rpki-rtr-oobr.pcap",
        &[1],
        "payload_bytes",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__rpki-rtr-oobr.pcap",
        &[1],
        "splt",
        FRAGMENTS,
    ),
    (
        "malformed/tcpdump/tests__tcp-auth-heapoverflow.pcap",
        &[1],
        "len_max",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp-auth-heapoverflow.pcap",
        &[1],
        "len_mean",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp-auth-heapoverflow.pcap",
        &[1],
        "len_min",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp-auth-heapoverflow.pcap",
        &[1],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp-auth-heapoverflow.pcap",
        &[1],
        "splt",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp_rst_data-trunc.pcap",
        &[1],
        "len_max",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp_rst_data-trunc.pcap",
        &[1],
        "len_mean",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp_rst_data-trunc.pcap",
        &[1],
        "len_min",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp_rst_data-trunc.pcap",
        &[1],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp_rst_data-trunc.pcap",
        &[1],
        "splt",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp_rst_diag_payload-trunc.pcap",
        &[1],
        "len_max",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp_rst_diag_payload-trunc.pcap",
        &[1],
        "len_mean",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp_rst_diag_payload-trunc.pcap",
        &[1],
        "len_min",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp_rst_diag_payload-trunc.pcap",
        &[1],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__tcp_rst_diag_payload-trunc.pcap",
        &[1],
        "splt",
        CUT,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_micro.pcap",
        &[3],
        "no_record",
        CLAMPED,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_micro.pcap",
        &[2],
        "no_record",
        NOT_METERED,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_micro.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_micro.pcap",
        &[2, 3],
        "rtt",
        NOT_METERED,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_micro.pcap",
        &[0],
        "rtt_extra",
        MALFORMED,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_nano.pcap",
        &[1],
        "iat_max_us",
        CLAMPED,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_nano.pcap",
        &[1],
        "iat_mean_us",
        CLAMPED,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_nano.pcap",
        &[1],
        "iat_min_us",
        CLAMPED,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_nano.pcap",
        &[2],
        "no_record",
        NOT_METERED,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_nano.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_nano.pcap",
        &[2],
        "rtt",
        NOT_METERED,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_nano.pcap",
        &[0],
        "rtt_extra",
        MALFORMED,
    ),
    (
        "malformed/tcpdump/tests__timestamp_invalid_nano.pcap",
        &[1],
        "splt",
        CLAMPED,
    ),
    (
        "malformed/zeek/testing__btest__Traces__quic__383379789-decrypt-crash.pcap",
        &[3],
        "len_max",
        MALFORMED,
    ),
    (
        "malformed/zeek/testing__btest__Traces__quic__383379789-decrypt-crash.pcap",
        &[3, 4],
        "len_mean",
        MALFORMED,
    ),
    (
        "malformed/zeek/testing__btest__Traces__quic__383379789-decrypt-crash.pcap",
        &[3, 4],
        "len_min",
        MALFORMED,
    ),
    (
        "malformed/zeek/testing__btest__Traces__quic__383379789-decrypt-crash.pcap",
        &[4],
        "len_stddev",
        MALFORMED,
    ),
    (
        "malformed/zeek/testing__btest__Traces__quic__383379789-decrypt-crash.pcap",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/zeek/testing__btest__Traces__quic__383379789-decrypt-crash.pcap",
        &[3, 4],
        "payload_bytes",
        MALFORMED,
    ),
    (
        "malformed/zeek/testing__btest__Traces__quic__383379789-decrypt-crash.pcap",
        &[3, 4],
        "splt",
        MALFORMED,
    ),
    (
        "malformed/zeek/testing__btest__Traces__tcp__truncated-header.pcap",
        &[1, 2],
        "len_max",
        CUT,
    ),
    (
        "malformed/zeek/testing__btest__Traces__tcp__truncated-header.pcap",
        &[1, 2],
        "len_mean",
        CUT,
    ),
    (
        "malformed/zeek/testing__btest__Traces__tcp__truncated-header.pcap",
        &[1, 2],
        "len_stddev",
        CUT,
    ),
    (
        "malformed/zeek/testing__btest__Traces__tcp__truncated-header.pcap",
        &[1, 2],
        "payload_bytes",
        CUT,
    ),
    (
        "malformed/zeek/testing__btest__Traces__tcp__truncated-header.pcap",
        &[1, 2],
        "splt",
        CUT,
    ),
    (
        "malformed/zeek/testing__btest__Traces__trunc__ip-discarder-truncated-tcp-oob.pcapng",
        &[0],
        "packets",
        MALFORMED,
    ),
    (
        "malformed/zeek/testing__btest__Traces__tunnels__gtp__gtp9_unknown_or_too_short_payload.pcap",
        &[2],
        "no_record",
        FRAGMENTS,
    ),
    (
        "malformed/zeek/testing__btest__Traces__tunnels__gtp__gtp9_unknown_or_too_short_payload.pcap",
        &[12],
        "packets",
        MALFORMED,
    ),
    (
        "real/ipfixprobe/tests__functional__inputs__tls.pcap",
        &[7, 79, 90],
        "len_max",
        CUT,
    ),
    (
        "real/ipfixprobe/tests__functional__inputs__tls.pcap",
        &[7, 79, 90],
        "len_mean",
        CUT,
    ),
    (
        "real/ipfixprobe/tests__functional__inputs__tls.pcap",
        &[7, 79, 90],
        "len_stddev",
        CUT,
    ),
    (
        "real/ipfixprobe/tests__functional__inputs__tls.pcap",
        &[7, 79, 90],
        "payload_bytes",
        CUT,
    ),
    (
        "real/ipfixprobe/tests__functional__inputs__tls.pcap",
        &[84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 110],
        "retransmissions",
        CLAMPED,
    ),
    (
        "real/ipfixprobe/tests__functional__inputs__tls.pcap",
        &[90],
        "retransmissions",
        CUT,
    ),
    (
        "real/ipfixprobe/tests__functional__inputs__tls.pcap",
        &[84, 85, 86, 87, 88, 89, 90, 91, 92, 93, 94, 110],
        "rtt_extra",
        ZERO_RTT,
    ),
    (
        "real/ipfixprobe/tests__functional__inputs__tls.pcap",
        &[7, 79, 90],
        "splt",
        CUT,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__BGP_redist.pcap",
        &[1, 2],
        "no_record",
        NOT_METERED,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__ajp.pcap",
        &[1, 2],
        "len_mean",
        CLAMPED,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__ajp.pcap",
        &[1, 2],
        "len_stddev",
        CLAMPED,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__ajp.pcap",
        &[1, 2],
        "payload_bytes",
        CLAMPED,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__ajp.pcap",
        &[1, 2],
        "splt",
        CLAMPED,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__capwap_data.pcapng",
        &[1, 2, 4, 5],
        "no_record",
        NOT_OPENED,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__capwap_data.pcapng",
        &[0],
        "packets",
        NOT_OPENED,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__capwap_data.pcapng",
        &[6, 7],
        "rtt",
        NOT_OPENED,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__rsh-syslog-false-positive.pcap",
        &[1],
        "len_max",
        CUT,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__rsh-syslog-false-positive.pcap",
        &[1],
        "len_mean",
        CUT,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__rsh-syslog-false-positive.pcap",
        &[1],
        "len_stddev",
        CUT,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__rsh-syslog-false-positive.pcap",
        &[1],
        "payload_bytes",
        CUT,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__rsh-syslog-false-positive.pcap",
        &[1],
        "splt",
        CUT,
    ),
];

#[test]
fn tcp_and_splt_columns_equal_tshark_per_record() {
    if !require_tool("tshark") || !require_shared_pcaps() {
        return;
    }
    let t0 = std::time::Instant::now();
    let root = shared_pcaps();
    let only = std::env::var("TCP_FLOWS_ONLY").ok();
    let files: Vec<String> = manifest()
        .into_iter()
        .filter(|row| row.has("tcp"))
        .map(|row| row.file)
        .filter(|f| only.as_ref().is_none_or(|o| f.contains(o.as_str())))
        .collect();
    // In the target directory: the binary is hard-linked there (same file system).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary directory");
    let bin = binary(dir.path());
    let results = parallel_map(&files, |f| compare(&bin, dir.path(), &root, f));

    let mut known = KnownDifferences::by_frames(KNOWN);
    let (mut rows, mut frames, mut held, mut values, mut handshakes) = (0, 0, 0, 0, 0);
    let mut by_field: BTreeMap<String, usize> = BTreeMap::new();
    let mut listing = String::new();
    for (file, o) in files.iter().zip(&results) {
        rows += o.rows;
        frames += o.frames;
        held += o.held;
        values += o.values;
        handshakes += o.handshakes;
        let name = relative_name(&root.join(file), &root);
        for (frame, field, what) in &o.diffs {
            *by_field.entry(field.clone()).or_default() += 1;
            if !field.contains(PER_FRAME) {
                let _ = writeln!(
                    listing,
                    "    (\"{name}\", &[{frame}], \"{field}\", \"\"), // {what}"
                );
            }
        }
        known.check(
            &name,
            o.diffs
                .iter()
                .filter(|(_, k, _)| !k.contains(PER_FRAME))
                .map(|(f, k, w)| (*f, k.as_str(), w.clone())),
        );
    }
    // The differences seen, by their reason in KNOWN (per-frame ones by field).
    let mut by_reason: BTreeMap<&str, usize> = BTreeMap::new();
    for (file, o) in files.iter().zip(&results) {
        for (frame, field, _) in &o.diffs {
            let why = if field.contains(PER_FRAME) {
                "per-frame: TcpAnalyzer alone differs from tshark there (tcp_analysis_tshark)"
            } else {
                KNOWN
                    .iter()
                    .find(|(f, n, k, _)| f == file && n.contains(frame) && k == field)
                    .map_or("unexplained", |k| k.3)
            };
            *by_reason.entry(why).or_default() += 1;
        }
    }
    eprintln!(
        "{} captures in {:.0?}: {rows} rows, {frames} frames ({held} held by a row), {values} \
         values and {handshakes} handshakes compared; differences by field {by_field:?}; \
         {} known, listed by reason:",
        files.len(),
        t0.elapsed(),
        known.seen(),
    );
    for (why, n) in &by_reason {
        eprintln!(
            "  {n:5}  {}",
            why.split_whitespace().collect::<Vec<_>>().join(" ")
        );
    }
    if only.is_some() {
        // One capture: its differences in KNOWN's form; the list's others are not stale.
        eprint!("{listing}");
        assert_differences_explained(&known.unexplained, &[]);
        return;
    }
    assert_corpus_frames(frames, 100_000);
    assert_differences_explained(&known.unexplained, &known.stale());
}
