//! The `tcp` and `splt` inspection columns (issue 15) against the generator's truth.
//!
//! `flowprobe generate --packet-truth FILE` writes, from the generator's own model (the
//! pcap is not read back), every packet's capture time, flow key, payload length, TCP
//! flags, conversation and whether it is a retransmission (`--retransmit N` sends about
//! one data segment in N again). Each record of `flowprobe convert --inspect tcp,splt` is
//! given the truth packets of its key within its [start, end], and every column is
//! recomputed from them the way `/work/brief/shape-columns.md` (the columns' contract)
//! defines it:
//! - `payload_bytes`: the sum of the packets' L4 payloads (0 for ICMP, which has no ports);
//! - `splt`: the first 10 packets as `len:iat_us`, iat the floor of the nanosecond gap
//!   over 1000, the first 0; in a biflow row both directions in time order, the reverse
//!   lengths negative (`-0` for an empty one);
//! - `iat_*` over the n-1 gaps (empty below two packets), `len_*` over the payloads:
//!   min/max integers, mean/sample standard deviation with three decimals (compared
//!   within 0.001: the floating-point sums may round the last digit either way);
//! - `retransmissions`: the truth's copies (`--retransmit`: sent before the peer
//!   acknowledged the original, or after, which tshark flags spurious and retransmission
//!   both); `out_of_order`: the truth's
//!   swapped segments (`--reorder`); `zero_windows`: 0 (the generator sends none; its RSTs
//!   carry window 0, which tshark does not count);
//! - `server_rtt_us` (SYN-ACK - SYN) and `client_rtt_us` (completing ACK - SYN-ACK),
//!   rounded to the nearest microsecond, on the records holding that connection's SYN or
//!   SYN-ACK; empty `client_rtt_us` where no ACK completed the handshake;
//! - `tcp_mss`, `tcp_wscale`, `tcp_sack_ok`, `tcp_timestamps`, `tcp_options` (IPFIX 209
//!   bitmap in the IANA registry's layout: kind X in octet X/8 from the most significant,
//!   bit X%8 from that octet's least significant; the brief's contract said bit 63-X, the
//!   lead moved to the registry's layout in main 6f26717) from the option bytes of the
//!   side's SYN the record holds.
//!
//! A first test checks the truth itself against tshark (its retransmissions,
//! out-of-order segments and initial RTTs), where tshark is installed.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

const EXE: &str = env!("CARGO_BIN_EXE_flowprobe");
/// `inspect.splt_packets` by default.
const SPLT_PACKETS: usize = 10;

/// One packet of the truth CSV.
#[derive(Clone, Debug)]
struct Pkt {
    /// Line number (the frame number minus one).
    index: usize,
    ts: u64,
    src: String,
    dst: String,
    sport: u16,
    dport: u16,
    proto: u8,
    payload: u64,
    flags: u8,
    conversation: u32,
    vlan: u16,
    seq: Option<u32>,
    /// A copy (`--retransmit`): tshark flags it a retransmission.
    retransmission: bool,
    /// Of those, a copy sent after the peer acknowledged the original: tshark flags it a
    /// spurious retransmission too (and `retransmissions` counts it).
    spurious: bool,
    out_of_order: bool,
    options: Vec<u8>,
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

impl Pkt {
    fn is_syn(&self) -> bool {
        self.flags & (SYN | ACK) == SYN
    }
    fn is_syn_ack(&self) -> bool {
        self.flags & (SYN | ACK) == SYN | ACK
    }
    /// The payload as the contract counts it (ICMP: none; it has no ports).
    fn l4_payload(&self) -> u64 {
        if self.proto == 1 || self.proto == 58 {
            0
        } else {
            self.payload
        }
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

fn read_truth(path: &Path) -> Vec<Pkt> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next().unwrap(), flowprobe::generate::TRUTH_HEADER);
    lines
        .enumerate()
        .map(|(index, line)| {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 17, "{line}");
            Pkt {
                index,
                ts: f[0].parse().unwrap(),
                src: f[1].to_string(),
                dst: f[2].to_string(),
                sport: f[3].parse().unwrap(),
                dport: f[4].parse().unwrap(),
                proto: f[5].parse().unwrap(),
                payload: f[6].parse().unwrap(),
                flags: f[7].parse().unwrap(),
                conversation: f[8].parse().unwrap(),
                vlan: f[9].parse().unwrap(),
                seq: f[11].parse().ok(),
                retransmission: f[14] != "0",
                spurious: f[14] == "2",
                out_of_order: f[15] == "1",
                options: unhex(f[16]),
            }
        })
        .collect()
}

/// `flowprobe generate` with `args` into `dir`: the pcap and its truth.
fn generate(dir: &Path, name: &str, args: &[&str]) -> (PathBuf, Vec<Pkt>) {
    let pcap = dir.join(format!("{name}.pcap"));
    let truth = dir.join(format!("{name}.csv"));
    let out = Command::new(EXE)
        .arg("generate")
        .arg("-o")
        .arg(&pcap)
        .arg("--packet-truth")
        .arg(&truth)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (pcap, read_truth(&truth))
}

type Row = HashMap<String, String>;

/// `flowprobe convert PCAP --inspect tcp,splt -f csv` with `args`: rows by column name.
fn convert(pcap: &Path, args: &[&str]) -> (Vec<String>, Vec<Row>) {
    let out = Command::new(EXE)
        .args([
            "convert",
            "-q",
            "--inspect",
            "tcp,splt",
            "-f",
            "csv",
            "-o",
            "-",
        ])
        .args(args)
        .arg(pcap)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "convert {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut rows = common::csv_rows(&String::from_utf8(out.stdout).unwrap());
    let header = rows.remove(0);
    let rows = rows
        .into_iter()
        .map(|r| {
            assert_eq!(r.len(), header.len(), "{r:?}");
            header.iter().cloned().zip(r).collect()
        })
        .collect();
    (header, rows)
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Nanoseconds since the epoch of the CSV's `2023-11-14T22:13:25.672438000Z`.
fn rfc3339_ns(s: &str) -> u64 {
    let s = s.strip_suffix('Z').unwrap();
    let (date, time) = s.split_once('T').unwrap();
    let d: Vec<i64> = date.split('-').map(|x| x.parse().unwrap()).collect();
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let t: Vec<i64> = hms.split(':').map(|x| x.parse().unwrap()).collect();
    let secs = days_from_civil(d[0], d[1], d[2]) * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    let mut f = frac.to_string();
    f.truncate(9);
    while f.len() < 9 {
        f.push('0');
    }
    secs as u64 * 1_000_000_000 + f.parse::<u64>().unwrap()
}

/// The handshake of each TCP conversation: (last SYN, last SYN-ACK, completing ACK)
/// times, the SYN and SYN-ACK the last before the ACK (the first packet of the client
/// after a SYN-ACK with ACK and without SYN).
#[derive(Clone, Copy, Debug, Default)]
struct Handshake {
    syn: Option<u64>,
    syn_ack: Option<u64>,
    ack: Option<u64>,
}

fn handshakes(truth: &[Pkt]) -> HashMap<u32, Handshake> {
    let mut out: HashMap<u32, Handshake> = HashMap::new();
    for p in truth.iter().filter(|p| p.proto == 6) {
        let h = out.entry(p.conversation).or_default();
        if h.ack.is_some() {
            continue;
        }
        if p.is_syn() {
            h.syn = Some(p.ts);
        } else if p.is_syn_ack() {
            h.syn_ack = Some(p.ts);
        } else if p.flags & (SYN | ACK) == ACK && h.syn.is_some() && h.syn_ack.is_some() {
            // Only the client's: the generator's server never speaks before the ACK.
            h.ack = Some(p.ts);
        }
    }
    out
}

fn round_us(ns: u64) -> u64 {
    (ns + 500) / 1000
}

/// Sample statistics of `values` (Welford-free two-pass, f64): (mean, stddev).
fn mean_stddev(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let m2: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    (mean, (m2 / (n - 1.0)).sqrt())
}

/// What a column must hold.
#[derive(Clone, Debug, PartialEq)]
enum Want {
    Text(String),
    /// A 3-decimal number within 0.001 of this.
    Near(f64),
    /// Empty, or this: a value the record may not have known when it was exported.
    EmptyOr(String),
}

fn text(s: impl ToString) -> Want {
    Want::Text(s.to_string())
}

/// The expected shape columns of a record whose packets are `forward` (its own key) and
/// `reverse` (a biflow row's other direction; empty in uniflow output), each in capture
/// order. `biflow` names the reverse columns.
fn expected(
    forward: &[&Pkt],
    reverse: &[&Pkt],
    biflow: bool,
    hs: &HashMap<u32, Handshake>,
    open_until: u64,
    splt_packets: usize,
) -> Vec<(String, Want)> {
    let mut want: Vec<(String, Want)> = Vec::new();
    let first = forward[0];
    let tcp = first.proto == 6;
    // Both directions in time order (ties: capture order), reverse lengths negative.
    let mut all: Vec<(&Pkt, bool)> = forward
        .iter()
        .map(|p| (*p, false))
        .chain(reverse.iter().map(|p| (*p, true)))
        .collect();
    all.sort_by_key(|(p, _)| (p.ts, p.index));
    let splt: Vec<String> = all
        .iter()
        .enumerate()
        .take(splt_packets)
        .map(|(i, (p, rev))| {
            let iat = if i == 0 {
                0
            } else {
                (p.ts - all[i - 1].0.ts) / 1000
            };
            let sign = if *rev { "-" } else { "" };
            format!("{sign}{}:{iat}", p.l4_payload())
        })
        .collect();
    want.push(("splt".into(), text(splt.join(","))));
    let gaps: Vec<u64> = all.windows(2).map(|w| w[1].0.ts - w[0].0.ts).collect();
    if gaps.is_empty() {
        for c in ["iat_min_us", "iat_mean_us", "iat_max_us", "iat_stddev_us"] {
            want.push((c.into(), text("")));
        }
    } else {
        let ns: Vec<f64> = gaps.iter().map(|&g| g as f64).collect();
        let (mean, sd) = mean_stddev(&ns);
        want.push(("iat_min_us".into(), text(gaps.iter().min().unwrap() / 1000)));
        want.push(("iat_mean_us".into(), Want::Near(mean / 1000.0)));
        want.push(("iat_max_us".into(), text(gaps.iter().max().unwrap() / 1000)));
        want.push(("iat_stddev_us".into(), Want::Near(sd / 1000.0)));
    }
    let lens: Vec<u64> = all.iter().map(|(p, _)| p.l4_payload()).collect();
    let (mean, sd) = mean_stddev(&lens.iter().map(|&l| l as f64).collect::<Vec<_>>());
    want.push(("len_min".into(), text(lens.iter().min().unwrap())));
    want.push(("len_mean".into(), Want::Near(mean)));
    want.push(("len_max".into(), text(lens.iter().max().unwrap())));
    want.push(("len_stddev".into(), Want::Near(sd)));

    let sides: &[(&str, &[&Pkt])] = if biflow {
        &[("", forward), ("reverse_", reverse)]
    } else {
        &[("", forward)]
    };
    for &(prefix, packets) in sides {
        let col = |name: &str| format!("{prefix}{name}");
        want.push((
            col("payload_bytes"),
            text(packets.iter().map(|p| p.l4_payload()).sum::<u64>()),
        ));
        let counted = |n: usize| if tcp { text(n) } else { text("") };
        want.push((
            col("retransmissions"),
            counted(packets.iter().filter(|p| p.retransmission).count()),
        ));
        want.push((
            col("out_of_order"),
            counted(packets.iter().filter(|p| p.out_of_order).count()),
        ));
        want.push((col("zero_windows"), counted(0)));
        // The side's first SYN (client) or SYN-ACK (server), if the record holds it.
        let syn = packets
            .iter()
            .find(|p| tcp && p.flags & SYN != 0)
            .filter(|p| {
                // The side's first: no SYN of this side before it in the conversation.
                p.is_syn() || p.is_syn_ack()
            });
        let (mut mss, mut wscale, mut sack, mut ts, mut bitmap) = (None, None, false, false, 0u64);
        if let Some(p) = syn {
            let o = &p.options;
            let mut i = 0;
            while i < o.len() {
                let kind = o[i];
                let kind = u32::from(kind);
                bitmap |= 1u64 << (8 * (7 - kind / 8) + kind % 8);
                match kind {
                    0 => break,
                    1 => {
                        i += 1;
                        continue;
                    }
                    _ => {}
                }
                let len = usize::from(o[i + 1]);
                match kind {
                    2 => mss = Some(u16::from_be_bytes([o[i + 2], o[i + 3]])),
                    3 => wscale = Some(o[i + 2]),
                    4 => sack = true,
                    8 => ts = true,
                    _ => {}
                }
                i += len;
            }
        }
        let held = syn.is_some();
        let opt = |v: Option<String>| {
            text(if held {
                v.unwrap_or_default()
            } else {
                String::new()
            })
        };
        want.push((col("tcp_mss"), opt(mss.map(|v| v.to_string()))));
        want.push((col("tcp_wscale"), opt(wscale.map(|v| v.to_string()))));
        want.push((col("tcp_sack_ok"), opt(Some(sack.to_string()))));
        want.push((col("tcp_timestamps"), opt(Some(ts.to_string()))));
        want.push((col("tcp_options"), opt(Some(bitmap.to_string()))));
    }
    // RTTs: on the records holding the connection's SYN or SYN-ACK.
    if tcp {
        let h = hs[&first.conversation];
        let holds = all.iter().any(|(p, _)| {
            (p.is_syn() && Some(p.ts) == h.syn) || (p.is_syn_ack() && Some(p.ts) == h.syn_ack)
        });
        if holds {
            match (h.syn, h.syn_ack, h.ack) {
                // The record was still open when the ACK came: it knows both.
                (Some(s), Some(sa), Some(a)) if a <= open_until => {
                    want.push(("server_rtt_us".into(), text(round_us(sa - s))));
                    want.push(("client_rtt_us".into(), text(round_us(a - sa))));
                }
                // It may have been exported (idle) before the ACK came.
                (Some(s), Some(sa), Some(a)) => {
                    let (server, client) = (round_us(sa - s), round_us(a - sa));
                    want.push(("server_rtt_us".into(), Want::EmptyOr(server.to_string())));
                    want.push(("client_rtt_us".into(), Want::EmptyOr(client.to_string())));
                }
                _ => want.push(("client_rtt_us".into(), text(""))),
            }
        }
    } else {
        want.push(("server_rtt_us".into(), text("")));
        want.push(("client_rtt_us".into(), text("")));
    }
    want
}

/// The truth packets of each key, in capture order.
type ByKey<'a> = HashMap<(String, String, u16, u16, u8, u16), Vec<&'a Pkt>>;

fn by_key(truth: &[Pkt]) -> ByKey<'_> {
    let mut m: ByKey = HashMap::new();
    for p in truth {
        m.entry((
            p.src.clone(),
            p.dst.clone(),
            p.sport,
            p.dport,
            p.proto,
            p.vlan,
        ))
        .or_default()
        .push(p);
    }
    m
}

fn key_of(r: &Row) -> (String, String, u16, u16, u8, u16) {
    (
        r["src"].clone(),
        r["dst"].clone(),
        r["sport"].parse().unwrap(),
        r["dport"].parse().unwrap(),
        r["proto"].parse().unwrap(),
        r["vlan"].parse().unwrap(),
    )
}

/// The packets of `key` within [start, end].
fn within<'a>(
    keys: &ByKey<'a>,
    key: &(String, String, u16, u16, u8, u16),
    start: &str,
    end: &str,
) -> Vec<&'a Pkt> {
    if start.is_empty() {
        return Vec::new();
    }
    let (start, end) = (rfc3339_ns(start), rfc3339_ns(end));
    keys.get(key)
        .map(|v| {
            v.iter()
                .copied()
                .filter(|p| p.ts >= start && p.ts <= end)
                .collect()
        })
        .unwrap_or_default()
}

/// Compares every row of `rows` with the truth; returns the mismatches as
/// "record: column: expected X, got Y" lines and the number of rows compared.
/// `idle`: the conversion's idle timeout (a record whose last packet came longer before
/// the handshake's ACK may have been exported without the RTTs).
fn compare(truth: &[Pkt], rows: &[Row], biflow: bool, idle: u64) -> (Vec<String>, usize) {
    compare_splt(truth, rows, biflow, idle, SPLT_PACKETS)
}

/// [`compare`] with `inspect.splt_packets` = `splt_packets`.
fn compare_splt(
    truth: &[Pkt],
    rows: &[Row],
    biflow: bool,
    idle: u64,
    splt_packets: usize,
) -> (Vec<String>, usize) {
    let keys = by_key(truth);
    let hs = handshakes(truth);
    let mut bad = Vec::new();
    let mut assigned = 0usize;
    for r in rows {
        let key = key_of(r);
        let forward = within(&keys, &key, &r["start"], &r["end"]);
        let packets: u64 = r["packets"].parse().unwrap();
        assert_eq!(
            forward.len() as u64,
            packets,
            "{key:?} [{} .. {}]: the truth gives it another number of packets (assignment broken)",
            r["start"],
            r["end"]
        );
        let reverse = if biflow {
            let rkey = if key.4 == 1 || key.4 == 58 {
                // ICMP's reverse key: the reply's ports; found from the truth.
                let conv = forward[0].conversation;
                let any = truth
                    .iter()
                    .find(|p| p.conversation == conv && p.src == key.1)
                    .map(|p| {
                        (
                            p.src.clone(),
                            p.dst.clone(),
                            p.sport,
                            p.dport,
                            p.proto,
                            p.vlan,
                        )
                    });
                any.unwrap_or_else(|| (key.1.clone(), key.0.clone(), 0, 0, key.4, key.5))
            } else {
                (key.1.clone(), key.0.clone(), key.3, key.2, key.4, key.5)
            };
            within(&keys, &rkey, &r["reverse_start"], &r["reverse_end"])
        } else {
            Vec::new()
        };
        let name = format!(
            "{} {}:{} > {}:{} proto {} [{} .. {}]",
            if biflow { "biflow" } else { "record" },
            key.0,
            key.2,
            key.1,
            key.3,
            key.4,
            r["start"],
            r["end"]
        );
        if biflow {
            let rp: u64 = r["reverse_packets"].parse().unwrap();
            assert_eq!(reverse.len() as u64, rp, "{name}: reverse packets");
        }
        assigned += forward.len() + reverse.len();
        let last = forward.iter().chain(&reverse).map(|p| p.ts).max().unwrap();
        for (column, want) in expected(&forward, &reverse, biflow, &hs, last + idle, splt_packets) {
            let Some(got) = r.get(&column) else {
                bad.push(format!("{name}: no column {column}"));
                continue;
            };
            let ok = match &want {
                Want::Text(t) => got == t,
                Want::EmptyOr(t) => got.is_empty() || got == t,
                Want::Near(v) => {
                    let three = got.split_once('.').is_some_and(|(_, d)| d.len() == 3);
                    three && got.parse::<f64>().is_ok_and(|g| (g - v).abs() <= 0.0011)
                }
            };
            if !ok {
                let want = match want {
                    Want::Text(t) => format!("{t:?}"),
                    Want::EmptyOr(t) => format!("\"\" or {t:?}"),
                    Want::Near(v) => format!("{v:.3} (±0.001)"),
                };
                bad.push(format!("{name}: {column}: expected {want}, got {got:?}"));
            }
        }
    }
    assert_eq!(
        assigned,
        truth.len(),
        "every truth packet in exactly one record"
    );
    (bad, rows.len())
}

fn report(what: &str, bad: &[String], compared: usize) {
    assert!(compared > 100, "{what}: only {compared} rows");
    assert!(
        bad.is_empty(),
        "{what}: {} of the checks disagree with the truth over {compared} rows:\n{}",
        bad.len(),
        bad.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

fn shape_columns_exist() -> bool {
    let out = Command::new(EXE)
        .args(["convert", "--help"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains("splt")
}

/// The capture the shape tests read: 400 conversations, one data segment in 6 sent again,
/// one eligible pair in 5 swapped (the second out-of-order).
fn capture(dir: &Path, nanos: bool) -> (PathBuf, Vec<Pkt>) {
    let mut args = vec![
        "--conversations",
        "400",
        "--seed",
        "15",
        "--retransmit",
        "6",
        "--reorder",
        "5",
    ];
    if nanos {
        args.push("--nanos");
    }
    generate(dir, if nanos { "ns" } else { "us" }, &args)
}

#[test]
fn truth_agrees_with_tshark_and_sequences_wrap() {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, truth) = capture(dir.path(), false);
    // Some connection's sequence numbers wrap past 2^32.
    let mut last: HashMap<(u32, String), u32> = HashMap::new();
    let mut wrapped = 0;
    for p in truth.iter().filter(|p| p.proto == 6 && !p.retransmission) {
        if let Some(seq) = p.seq {
            if let Some(prev) = last.insert((p.conversation, p.src.clone()), seq) {
                wrapped += usize::from(seq < prev && prev - seq > 1 << 31);
            }
        }
    }
    assert!(wrapped > 5, "only {wrapped} sequences wrap");
    let marked = truth.iter().filter(|p| p.retransmission).count();
    let spurious = truth.iter().filter(|p| p.spurious).count();
    assert!(
        marked > 40 && spurious > 20 && marked > spurious,
        "only {marked} retransmissions, {spurious} spurious"
    );
    let reordered = truth.iter().filter(|p| p.out_of_order).count();
    assert!(reordered > 20, "only {reordered} out-of-order segments");
    if Command::new("tshark").arg("-v").output().is_err() {
        eprintln!("tshark not installed: the truth is not checked against it");
        return;
    }
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(&pcap)
        .args(["-T", "fields", "-E", "separator=,"])
        .args(["-e", "frame.number", "-e", "tcp.stream"])
        .args([
            "-e",
            "tcp.analysis.retransmission",
            "-e",
            "tcp.analysis.fast_retransmission",
        ])
        .args(["-e", "tcp.analysis.spurious_retransmission"])
        .args([
            "-e",
            "tcp.analysis.out_of_order",
            "-e",
            "tcp.analysis.zero_window",
        ])
        .args(["-e", "tcp.analysis.initial_rtt"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut flagged = Vec::new();
    let mut rtt: HashMap<u32, String> = HashMap::new();
    let mut stream_of = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        let frame: usize = f[0].parse().unwrap();
        stream_of.push(f[1].parse::<u32>().ok());
        // Duplicate ACKs, window updates and "previous segment not captured" (before a
        // segment sent ahead) are no column's business.
        if f[2..7].iter().any(|v| !v.is_empty()) {
            let names = [
                "retransmission",
                "fast",
                "spurious",
                "out_of_order",
                "zero_window",
            ];
            let set: Vec<&str> = (2..7)
                .filter(|&i| !f[i].is_empty())
                .map(|i| names[i - 2])
                .collect();
            flagged.push((frame - 1, set.join("+")));
        }
        if !f[7].is_empty() {
            rtt.insert(f[1].parse().unwrap(), f[7].to_string());
        }
    }
    let want: Vec<(usize, String)> = truth
        .iter()
        .filter(|p| p.retransmission || p.out_of_order)
        .map(|p| {
            let what = if p.spurious {
                "retransmission+spurious"
            } else if p.retransmission {
                "retransmission"
            } else {
                "out_of_order"
            };
            (p.index, what.to_string())
        })
        .collect();
    assert_eq!(
        flagged, want,
        "tshark flags exactly the truth's retransmissions (as plain ones) and out-of-order segments, and nothing else"
    );
    let mut checked = 0;
    for (conv, h) in handshakes(&truth) {
        let first = truth.iter().find(|p| p.conversation == conv).unwrap();
        let stream = stream_of[first.index].unwrap();
        match (h.syn, h.syn_ack, h.ack) {
            (Some(s), Some(_), Some(a)) => {
                let want = format!("{}.{:09}", (a - s) / 1_000_000_000, (a - s) % 1_000_000_000);
                assert_eq!(rtt.get(&stream), Some(&want), "conversation {conv}");
                checked += 1;
            }
            _ => assert_eq!(rtt.get(&stream), None, "conversation {conv}"),
        }
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn shape_columns_agree_with_the_truth() {
    if !shape_columns_exist() {
        eprintln!("skipped: convert --inspect has no tcp/splt yet");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for nanos in [false, true] {
        let (pcap, truth) = capture(dir.path(), nanos);
        let (header, rows) = convert(&pcap, &[]);
        for c in ["server_rtt_us", "splt", "len_stddev", "tcp_options"] {
            assert!(header.iter().any(|h| h == c), "no column {c}: {header:?}");
        }
        let (bad, n) = compare(&truth, &rows, false, 15_000_000_000);
        report(if nanos { "ns capture" } else { "µs capture" }, &bad, n);
    }
}

#[test]
fn shape_columns_agree_with_the_truth_with_short_timeouts_and_three_workers() {
    if !shape_columns_exist() {
        eprintln!("skipped: convert --inspect has no tcp/splt yet");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pcap, truth) = capture(dir.path(), false);
    let (_, rows) = convert(&pcap, &["--idle-timeout", "2s", "--threads", "3"]);
    let (bad, n) = compare(&truth, &rows, false, 2_000_000_000);
    report("idle 2s, 3 threads", &bad, n);
}

#[test]
fn biflow_shape_columns_agree_with_the_truth() {
    if !shape_columns_exist() {
        eprintln!("skipped: convert --inspect has no tcp/splt yet");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pcap, truth) = capture(dir.path(), false);
    let (header, rows) = convert(&pcap, &["--biflow"]);
    assert!(
        header.iter().any(|h| h == "reverse_payload_bytes"),
        "{header:?}"
    );
    let (bad, n) = compare(&truth, &rows, true, 15_000_000_000);
    report("biflow", &bad, n);
}

#[test]
fn shape_columns_agree_with_the_truth_on_a_scenario_capture() {
    if !shape_columns_exist() {
        eprintln!("skipped: convert --inspect has no tcp/splt yet");
        return;
    }
    // Beacons, a scan answered by RSTs (sequence number 0), bulk transfers, NTP polls;
    // no SYN options; one data segment in 50 sent again.
    let dir = tempfile::tempdir().unwrap();
    let (pcap, truth) = generate(
        dir.path(),
        "scenario",
        &[
            "--scenario",
            "beacon,scan",
            "--span",
            "10m",
            "--retransmit",
            "50",
        ],
    );
    assert!(truth.iter().any(|p| p.retransmission));
    let (_, rows) = convert(&pcap, &[]);
    let (bad, n) = compare(&truth, &rows, false, 15_000_000_000);
    report("scenario capture", &bad, n);
}

/// The raw JSON text of `"name":` in a one-line object: a string's contents, an array
/// with its brackets, or a number, boolean or null.
fn json_field<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{name}\":"))? + name.len() + 3;
    let rest = &line[at..];
    if let Some(s) = rest.strip_prefix('"') {
        return s.find('"').map(|end| &s[..end]);
    }
    if rest.starts_with('[') {
        return rest.find(']').map(|end| &rest[..=end]);
    }
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(&rest[..end])
}

/// `[{"len":0,"iat_us":0},{"len":-517,"iat_us":310}]` as the CSV writes it: `0:0,-517:310`.
fn json_splt(array: &str) -> String {
    array
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split('}')
        .filter(|o| o.contains("\"len\""))
        .map(|o| {
            let len = json_field(o, "len").unwrap();
            let iat = json_field(o, "iat_us").unwrap();
            format!("{len}:{iat}")
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// JSON says what CSV says, an empty reverse packet's `-0` included (valid JSON: RFC
/// 8259 allows a minus before 0, though a reader parsing integers gets 0).
#[test]
fn json_shape_columns_say_what_the_csv_ones_say() {
    json_like_csv();
}

fn json_like_csv() {
    if !shape_columns_exist() {
        eprintln!("skipped: convert --inspect has no tcp/splt yet");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pcap, _) = capture(dir.path(), false);
    for biflow in [false, true] {
        let extra: &[&str] = if biflow { &["--biflow"] } else { &[] };
        let (header, rows) = convert(&pcap, extra);
        let out = Command::new(EXE)
            .args([
                "convert",
                "-q",
                "--inspect",
                "tcp,splt",
                "-f",
                "json",
                "-o",
                "-",
            ])
            .args(extra)
            .arg(&pcap)
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), rows.len(), "biflow {biflow}");
        let first = header.iter().position(|h| h == "server_rtt_us").unwrap();
        let mut bad = Vec::new();
        for (row, line) in rows.iter().zip(&lines) {
            assert_eq!(json_field(line, "start"), Some(row["start"].as_str()));
            assert_eq!(json_field(line, "src"), Some(row["src"].as_str()));
            for column in &header[first..] {
                let csv = &row[column];
                let got = json_field(line, column).map(|v| {
                    if column == "splt" {
                        json_splt(v)
                    } else {
                        v.to_string()
                    }
                });
                let want = if csv.is_empty() && column != "splt" {
                    "null".to_string()
                } else {
                    csv.clone()
                };
                if got.as_deref() != Some(want.as_str()) {
                    bad.push(format!(
                        "biflow {biflow}: {} {}: {column}: CSV {csv:?}, JSON {got:?}",
                        row["src"], row["start"]
                    ));
                }
            }
        }
        assert!(
            bad.is_empty(),
            "{} differences:\n{}",
            bad.len(),
            bad[..bad.len().min(30)].join("\n")
        );
    }
}

#[test]
fn thirty_two_splt_packets_from_the_config_file() {
    if !shape_columns_exist() {
        eprintln!("skipped: convert --inspect has no tcp/splt yet");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pcap, truth) = capture(dir.path(), true);
    let config = dir.path().join("splt32.toml");
    std::fs::write(&config, "[inspect]\nsplt_packets = 32\n").unwrap();
    for biflow in [false, true] {
        let mut args = vec!["-c".to_string(), config.display().to_string()];
        args.extend(
            [
                "convert",
                "-q",
                "--inspect",
                "tcp,splt",
                "-f",
                "csv",
                "-o",
                "-",
            ]
            .map(String::from),
        );
        if biflow {
            args.push("--biflow".into());
        }
        let out = Command::new(EXE).args(&args).arg(&pcap).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut rows = common::csv_rows(&String::from_utf8(out.stdout).unwrap());
        let header = rows.remove(0);
        let rows: Vec<Row> = rows
            .into_iter()
            .map(|r| header.iter().cloned().zip(r).collect())
            .collect();
        assert!(rows.iter().any(|r| r["splt"].split(',').count() == 32));
        let (bad, n) = compare_splt(&truth, &rows, biflow, 15_000_000_000, 32);
        report("splt_packets = 32", &bad, n);
    }
}
