//! sFlow v5 export against what we did not write: tshark dissects every datagram of a
//! conversion with no malformed field or expert warning, and with `rate=1` the flow
//! samples are exactly the capture's frames (count, order, first bytes, lengths); with
//! `rate=N` the sample count is within five standard deviations of packets/N; sfcapd
//! with nfdump, and pmacct's sfacctd, store per-key packet totals equal to the truth.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::common::write_generated;
use super::helpers::*;
use super::nfcapd::{parse_rows, Direction, Nfcapd};
use super::pmacct::{fold_icmp, Pmacct};
use flowprobe::generate::GenConfig;

/// The frames of a classic pcap file: (original length, captured bytes).
pub(super) fn pcap_frames(path: &Path) -> Vec<(u32, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..4],
        &0xa1b2_c3d4u32.to_le_bytes(),
        "little-endian pcap"
    );
    let mut frames = Vec::new();
    let mut at = 24;
    while at + 16 <= bytes.len() {
        let word = |i: usize| u32::from_le_bytes(bytes[at + i..at + i + 4].try_into().unwrap());
        let (caplen, len) = (word(8) as usize, word(12));
        frames.push((len, bytes[at + 16..at + 16 + caplen].to_vec()));
        at += 16 + caplen;
    }
    frames
}

/// Converts `capture` to the sFlow collectors `urls` (and nothing else); returns stderr.
pub(super) fn convert_sflow(capture: &Path, urls: &[String], extra: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_flowprobe"));
    cmd.arg("convert").arg(capture);
    if !extra.contains(&"--pace") {
        cmd.args(["--pace", "20000"]);
    }
    for u in urls {
        cmd.args(["--collector", u]);
    }
    let out = cmd.args(extra).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "convert failed: {stderr}");
    assert!(out.stdout.is_empty(), "no text output when exporting");
    stderr
}

fn generated(dir: &Path, conversations: usize, mean_packets: f64) -> PathBuf {
    let config = GenConfig {
        conversations,
        mean_packets,
        ..GenConfig::default()
    };
    write_generated(dir, "sflow.pcap", &config).0
}

/// tshark's view of the datagrams: fields of every frame, `|` between fields and `;`
/// between occurrences.
fn tshark_fields(pcap: &Path, port: u16, fields: &[&str]) -> Vec<Vec<Vec<String>>> {
    let decode = format!("udp.port=={port},sflow");
    let mut args = vec![
        "-d",
        &decode,
        "-o",
        "sflow.enable_dissection:FALSE",
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-E",
        "aggregator=;",
    ];
    for f in fields {
        args.extend(["-e", f]);
    }
    super::tshark::tshark(pcap, &args)
        .lines()
        .map(|l| {
            l.split('|')
                .map(|f| {
                    f.split(';')
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .collect()
        })
        .collect()
}

fn numbers(values: &[String]) -> Vec<u64> {
    values.iter().map(|v| v.parse().unwrap()).collect()
}

#[test]
fn tshark_reads_every_datagram_and_rate_one_samples_are_the_frames() {
    if !have_tool("tshark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let capture = generated(dir.path(), 400, 6.0);
    let frames = pcap_frames(&capture);
    // Beside it, in the same run: another sFlow collector with its own rate, and an
    // IPFIX file.
    let rx = Receiver::start(false);
    let other = Receiver::start(false);
    let ipfix = dir.path().join("flows.ipfix");
    let urls = [
        format!("sflow://{}?rate=1&header=256", rx.addr),
        format!("sflow://{}?rate=7", other.addr),
    ];
    convert_sflow(
        &capture,
        &urls,
        &[
            "--sflow-agent-address",
            "192.0.2.9",
            "--ipfix-file",
            ipfix.to_str().unwrap(),
        ],
    );
    let datagrams = rx.stop();
    let other_pcap = dir.path().join("other.pcap");
    write_pcap(&other_pcap, &other.stop(), 6343);
    let other_rows = tshark_fields(&other_pcap, 6343, &["sflow.flow_sample.sampling_rate"]);
    let rates: Vec<u64> = other_rows.iter().flat_map(|r| numbers(&r[0])).collect();
    assert!(rates.iter().all(|&r| r == 7));
    let (n, k) = (frames.len() as f64, rates.len() as f64);
    let sd = (n * 6.0 / (3.0 * 49.0)).sqrt();
    assert!(
        (k - n / 7.0).abs() < 5.0 * sd,
        "{k} samples at 1 in 7 of {n}"
    );
    assert!(
        std::fs::metadata(&ipfix).unwrap().len() > 0,
        "the IPFIX file is written too"
    );
    let pcap = dir.path().join("sflow-datagrams.pcap");
    write_pcap(&pcap, &datagrams, 6343);
    // The sampled headers are not dissected: their own expert notes (a TCP RST is a
    // warning) are the sampled traffic's, not sFlow's.
    super::tshark::assert_clean(&pcap, &["-o", "sflow.enable_dissection:FALSE"]);
    let rows = tshark_fields(
        &pcap,
        6343,
        &[
            "sflow_245.agent",
            "sflow_245.sub_agent_id",
            "sflow_245.sequence_number",
            "sflow.flow_sample.sequence_number",
            "sflow.flow_sample.sample_pool",
            "sflow.flow_sample.sampling_rate",
            "sflow_245.header.frame_length",
            "sflow_245.header",
            "sflow_245.header.payload_stripped",
            "sflow.counters_sample.sequence_number",
            "sflow_245.ifinoct",
            "sflow_245.ifinpkt",
            "sflow_245.ifinmcast",
            "sflow_245.ifinbcast",
            "sflow_245.vlan.in",
            "sflow_245.header.sampled_header_length",
        ],
    );
    assert_eq!(rows.len(), datagrams.len());
    let mut headers = Vec::new();
    let mut lengths = Vec::new();
    let mut pools = Vec::new();
    let mut sample_seqs = Vec::new();
    let mut counter_seqs = Vec::new();
    let mut last_counters = (0, 0);
    let mut vlans = 0;
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r[0], ["192.0.2.9"], "agent address");
        assert_eq!(r[1], ["0"], "sub-agent of the offline reader");
        assert_eq!(numbers(&r[2]), [i as u64 + 1], "datagram sequence numbers");
        sample_seqs.extend(numbers(&r[3]));
        pools.extend(numbers(&r[4]));
        assert!(numbers(&r[5]).iter().all(|&n| n == 1), "rate 1");
        lengths.extend(numbers(&r[6]));
        // tshark shows the header with its XDR padding: cut to the header length.
        for (h, len) in r[7].iter().zip(numbers(&r[15])) {
            headers.push(h[..2 * len as usize].to_string());
        }
        assert!(numbers(&r[8]).iter().all(|&n| n == 4), "the FCS, stripped");
        counter_seqs.extend(numbers(&r[9]));
        let last = |k: usize| numbers(&r[k]).last().copied();
        if let (Some(octets), Some(u), Some(m), Some(b)) = (last(10), last(11), last(12), last(13))
        {
            last_counters = (octets, u + m + b);
        }
        vlans += r[14].len();
    }
    let n = frames.len() as u64;
    assert_eq!(
        sample_seqs,
        (1..=n).collect::<Vec<_>>(),
        "one sample a frame"
    );
    assert_eq!(
        pools,
        (1..=n).collect::<Vec<_>>(),
        "the pool counts every frame"
    );
    for (i, (len, data)) in frames.iter().enumerate() {
        // With the 4-octet FCS the capture does not hold, as the specification asks.
        assert_eq!(
            lengths[i],
            u64::from(*len) + 4,
            "frame length of frame {}",
            i + 1
        );
        let first: String = data.iter().take(256).map(|b| format!("{b:02x}")).collect();
        assert_eq!(headers[i], first, "header of frame {}", i + 1);
    }
    let tagged = frames
        .iter()
        .filter(|(_, d)| d[12..14] == [0x81, 0x00])
        .count();
    assert!(tagged > 0, "the generator tags some conversations");
    assert_eq!(
        vlans, tagged,
        "an extended switch record for every tagged frame"
    );
    // Counters summed from the capture: the last sample covers the whole capture (octets
    // as captured, without an FCS, as the kernel's rx_bytes count them live).
    assert!(!counter_seqs.is_empty());
    assert_eq!(
        counter_seqs,
        (1..=counter_seqs.len() as u64).collect::<Vec<_>>()
    );
    let octets: u64 = frames.iter().map(|(len, _)| u64::from(*len)).sum();
    assert_eq!(last_counters, (octets, n));
    // No datagram over the default maximum message size.
    assert!(datagrams.iter().all(|d| d.len() <= 1452));
}

/// Per-key packet totals of the records of a plain conversion of `capture` (the records
/// other tests prove equal to the generator's and tshark's counts), with ICMP keys
/// folded to no ports (sfcapd does not read ICMP type and code from sampled headers).
fn true_packets(capture: &Path) -> BTreeMap<Direction, u64> {
    let out = Command::new(env!("CARGO_BIN_EXE_flowprobe"))
        .arg("convert")
        .arg(capture)
        .args(["-q", "-f", "csv"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut m = BTreeMap::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let proto: u8 = f[6].parse().unwrap();
        let (sport, dport) = if matches!(proto, 1 | 58) {
            (0, 0)
        } else {
            (f[4].parse().unwrap(), f[5].parse().unwrap())
        };
        let key = (
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
            sport,
            dport,
            proto,
        );
        *m.entry(key).or_default() += f[9].parse::<u64>().unwrap();
    }
    m
}

/// Packets per key, ICMP ports folded (`pmacct::fold_icmp`).
fn packets_without_icmp_ports(rows: &BTreeMap<Direction, (u64, u64)>) -> BTreeMap<Direction, u64> {
    fold_icmp(rows).into_iter().map(|(k, v)| (k, v.0)).collect()
}

#[test]
fn sfcapd_stores_the_true_packet_totals_with_rate_one() {
    if !have_tool("sfcapd") || !have_tool("nfdump") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let capture = generated(dir.path(), 600, 6.0);
    let frames = pcap_frames(&capture);
    let collector = Nfcapd::start_binary("sfcapd");
    let stderr = convert_sflow(
        &capture,
        &[format!("sflow://127.0.0.1:{}?rate=1", collector.port)],
        &[],
    );
    let rows = parse_rows(&collector.stop_and_read());
    let stored: u64 = rows.values().map(|v| v.0).sum();
    assert_eq!(
        stored,
        frames.len() as u64,
        "one stored packet a frame\n{stderr}"
    );
    // sfcapd counts the frame length of each sample (layer 2 octets with the FCS, as sFlow
    // reports them).
    let octets: u64 = frames.iter().map(|(len, _)| u64::from(*len) + 4).sum();
    assert_eq!(rows.values().map(|v| v.1).sum::<u64>(), octets);
    let ours = packets_without_icmp_ports(&rows);
    let truth = true_packets(&capture);
    assert_eq!(ours.len(), truth.len());
    for (key, packets) in &truth {
        assert_eq!(ours.get(key), Some(packets), "packets of {key:?}");
    }
}

#[test]
fn rate_n_samples_about_one_in_n_and_each_pool_is_its_frame() {
    if !have_tool("tshark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let capture = generated(dir.path(), 112_000, 10.0);
    let frames = pcap_frames(&capture);
    let n = frames.len() as f64;
    assert!(n >= 1e6, "{n} frames");
    let rx = Receiver::start(false);
    let rate = 100.0;
    convert_sflow(
        &capture,
        &[format!("sflow://{}?rate={rate}&header=64", rx.addr)],
        &[],
    );
    let datagrams = rx.stop();
    let pcap = dir.path().join("sflow-datagrams.pcap");
    write_pcap(&pcap, &datagrams, 6343);
    let rows = tshark_fields(
        &pcap,
        6343,
        &[
            "sflow.flow_sample.sample_pool",
            "sflow_245.header",
            "sflow_245.header.sampled_header_length",
        ],
    );
    let mut samples = 0.0;
    let mut last_pool = 0;
    for r in &rows {
        for ((pool, header), len) in numbers(&r[0]).into_iter().zip(&r[1]).zip(numbers(&r[2])) {
            samples += 1.0;
            assert!(pool > last_pool, "pools grow: {pool} after {last_pool}");
            last_pool = pool;
            // The pool counts every frame seen: the sample is the pool-th frame.
            let frame = &frames[pool as usize - 1].1;
            let first: String = frame.iter().take(64).map(|b| format!("{b:02x}")).collect();
            assert_eq!(
                &header[..2 * len as usize],
                first,
                "sample with pool {pool}"
            );
        }
    }
    // Skip counts uniform on 1..=2N-1: the sample count is near n/N, with a variance of
    // n Var(skip) / N^3 = n (N - 1) / (3 N^2) (a renewal process whose gaps have mean N
    // and variance N (N - 1) / 3); five standard deviations.
    let expected = n / rate;
    let sd = (n * (rate - 1.0) / (3.0 * rate * rate)).sqrt();
    assert!(
        (samples - expected).abs() < 5.0 * sd,
        "{samples} samples, expected {expected} ± {sd}"
    );
}

#[test]
fn sfacctd_reads_the_same_stream() {
    if !have_tool("sfacctd") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let capture = generated(dir.path(), 600, 6.0);
    let frames = pcap_frames(&capture);
    let collector = Pmacct::start("sfacctd");
    // Paced gently: sfacctd's core and plugin share a pipe that overflows under load
    // (tests run in parallel), and a lost datagram would read as a wrong count.
    convert_sflow(
        &capture,
        &[format!("sflow://127.0.0.1:{}?rate=1", collector.port)],
        &["--pace", "3000"],
    );
    let rows = collector.stop_and_read();
    let octets: u64 = frames.iter().map(|(len, _)| u64::from(*len) + 4).sum();
    assert_eq!(rows.values().map(|v| v.0).sum::<u64>(), frames.len() as u64);
    assert_eq!(
        rows.values().map(|v| v.1).sum::<u64>(),
        octets,
        "frame octets"
    );
    assert_eq!(packets_without_icmp_ports(&rows), true_packets(&capture));
}
