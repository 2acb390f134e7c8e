//! Conversion of the project's generated captures against a reference model.
//!
//! The generator knows every packet it wrote. The model below applies the documented
//! expiry rules (see `flow::cache`) to those packets directly, written the plain way
//! (per key, in time order, with binary search over all packet times to find when the
//! cache would next look), sharing no code with the cache. Conversion must give exactly
//! the model's records: same keys, same splits, same counters, same end reasons.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use common::{write_generated, Collect};
use flowprobe::flow::cache::CacheConfig;
use flowprobe::flow::record::{EndReason, FlowRecord};
use flowprobe::generate::{generate, write_pcap, GenConfig, GenProto, Generated};
use flowprobe::pipeline::convert::{convert, ConvertOptions};

/// (ip version, src, dst, sport, dport, proto, vlan, tos)
type Key = (u8, String, String, u16, u16, u8, u16, u8);

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Rec {
    key: Key,
    start: u64,
    end: u64,
    packets: u64,
    octets: u64,
    flags: u8,
    reason: u8,
}

fn key_of(g: &Generated, conversation: u32, forward: bool) -> Key {
    let c = &g.conversations[conversation as usize];
    let (src, dst) = if forward {
        (c.client_addr(), c.server_addr())
    } else {
        (c.server_addr(), c.client_addr())
    };
    let (sport, dport) = c.key_ports(forward);
    (
        if c.ipv6 { 6 } else { 4 },
        src,
        dst,
        sport,
        dport,
        c.proto_number(),
        c.vlan,
        c.tos,
    )
}

/// The records the documented rules give for `g`, with timestamps cut to `resolution_ns`.
fn model(g: &Generated, cfg: &CacheConfig, resolution_ns: u64) -> Vec<Rec> {
    let times: Vec<u64> = g
        .packets
        .iter()
        .map(|p| p.ts.as_nanos() / resolution_ns * resolution_ns)
        .collect();
    let ns = |d: Duration| d.as_nanos() as u64;
    // A record whose last packet was at `last` and first at `start` ends at the earlier of
    // its idle deadline (last + idle) and active deadline (start + active), idle on a tie;
    // the cache notices at the first packet time after that. Returns (that time, whether
    // idle was the reason), or None: no packet came after, it lives to the end of input.
    let ends_at = |start: u64, last: u64, idle: u64| -> Option<(u64, bool)> {
        let (idle_deadline, active_deadline) = (last + idle, start + ns(cfg.active_timeout));
        let deadline = idle_deadline.min(active_deadline);
        let i = times.partition_point(|&t| t <= deadline);
        times.get(i).map(|&t| (t, idle_deadline <= active_deadline))
    };
    let mut open: HashMap<Key, (Rec, bool)> = HashMap::new();
    let mut done = Vec::new();
    for (p, &t) in g.packets.iter().zip(&times) {
        let c = &g.conversations[p.conversation as usize];
        let key = key_of(g, p.conversation, p.forward);
        let class_idle = match c.proto {
            GenProto::Tcp => ns(cfg.idle_timeout),
            GenProto::Udp => ns(cfg.udp_idle_timeout),
            GenProto::Icmp => ns(cfg.icmp_idle_timeout),
        };
        if let Some((rec, fin)) = open.get(&key) {
            let idle = if *fin {
                ns(cfg.tcp_end_grace)
            } else {
                class_idle
            };
            if let Some((at, by_idle)) = ends_at(rec.start, rec.end, idle) {
                if at <= t {
                    let mut rec = rec.clone();
                    rec.reason = match (by_idle, *fin) {
                        (true, true) => EndReason::EndOfFlow,
                        (true, false) => EndReason::IdleTimeout,
                        (false, _) => EndReason::ActiveTimeout,
                    } as u8;
                    done.push(rec);
                    open.remove(&key);
                }
            }
        }
        let ends = p.tcp_flags & 0x05 != 0;
        let entry = open.entry(key.clone()).or_insert_with(|| {
            (
                Rec {
                    key,
                    start: t,
                    end: t,
                    packets: 0,
                    octets: 0,
                    flags: 0,
                    reason: 0,
                },
                false,
            )
        });
        entry.0.end = t;
        entry.0.packets += 1;
        entry.0.octets += u64::from(p.ip_len);
        entry.0.flags |= p.tcp_flags;
        entry.1 |= ends;
    }
    for (_, (mut rec, fin)) in open {
        let proto_idle = match rec.key.5 {
            17 => ns(cfg.udp_idle_timeout),
            1 | 58 => ns(cfg.icmp_idle_timeout),
            _ => ns(cfg.idle_timeout),
        };
        let idle = if fin {
            ns(cfg.tcp_end_grace)
        } else {
            proto_idle
        };
        rec.reason = match ends_at(rec.start, rec.end, idle) {
            None => EndReason::ForcedEnd,
            Some((_, true)) if fin => EndReason::EndOfFlow,
            Some((_, true)) => EndReason::IdleTimeout,
            Some((_, false)) => EndReason::ActiveTimeout,
        } as u8;
        done.push(rec);
    }
    done.sort();
    done
}

fn ours(records: &[FlowRecord]) -> Vec<Rec> {
    let mut v: Vec<Rec> = records
        .iter()
        .map(|r| Rec {
            key: (
                r.key.ip_version,
                r.key.src_addr().to_string(),
                r.key.dst_addr().to_string(),
                r.key.src_port,
                r.key.dst_port,
                r.key.proto,
                r.key.vlan,
                r.key.tos,
            ),
            start: r.start.as_nanos(),
            end: r.end.as_nanos(),
            packets: r.packets,
            octets: r.octets,
            flags: r.tcp_flags,
            reason: r.end_reason as u8,
        })
        .collect();
    v.sort();
    v
}

fn run(
    g: &Generated,
    cfg: &CacheConfig,
    nanos: bool,
    workers: usize,
) -> (Vec<FlowRecord>, flowprobe::pipeline::stats::Counters) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("gen.pcap");
    let mut file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    write_pcap(g, nanos, &mut file).unwrap();
    drop(file);
    let sink = Collect::default();
    let options = ConvertOptions {
        files: vec![path],
        cache: cfg.clone(),
        workers,
        sampling: Default::default(),
        decap: Default::default(),
        progress: false,
        registry: None,
        direction: Default::default(),
        sflow: Default::default(),
        inspect: Default::default(),
    };
    let report = convert(&options, vec![Box::new(sink.clone())]).unwrap();
    assert!(report.is_clean(), "{:?}", report.file_errors);
    let records = sink.records();
    (records, report.counters)
}

fn check(config: GenConfig, cfg: CacheConfig, nanos: bool) {
    let g = generate(&config);
    let (records, counters) = run(&g, &cfg, nanos, 1);
    let (parallel, parallel_counters) = run(&g, &cfg, nanos, 3);
    assert_eq!(
        parallel, records,
        "three workers give the same records in the same order"
    );
    assert_eq!(parallel_counters.metered, counters.metered);
    let expected = model(&g, &cfg, if nanos { 1 } else { 1000 });
    let got = ours(&records);
    assert_eq!(counters.read, g.packets.len() as u64);
    assert_eq!(
        counters.metered,
        g.packets.len() as u64,
        "every generated packet is metered"
    );
    assert!(counters.conserved());

    // Per-direction totals first: the clearest message if they differ.
    let mut truth: HashMap<(String, String), (u64, u64)> = HashMap::new();
    for p in &g.packets {
        let k = key_of(&g, p.conversation, p.forward);
        let e = truth.entry((k.1, k.2)).or_default();
        e.0 += 1;
        e.1 += u64::from(p.ip_len);
    }
    let mut measured: HashMap<(String, String), (u64, u64)> = HashMap::new();
    for r in &got {
        let e = measured
            .entry((r.key.1.clone(), r.key.2.clone()))
            .or_default();
        e.0 += r.packets;
        e.1 += r.octets;
    }
    assert_eq!(measured, truth, "per-direction packets and octets");

    assert_eq!(got.len(), expected.len(), "number of records");
    for (a, b) in got.iter().zip(&expected) {
        assert_eq!(a, b, "record differs from the model");
    }
    let reasons: std::collections::BTreeSet<u8> = got.iter().map(|r| r.reason).collect();
    eprintln!(
        "{} packets, {} records, end reasons seen {:?}",
        g.packets.len(),
        got.len(),
        reasons
    );
}

#[test]
fn default_timeouts_reproduce_totals_and_splits() {
    let config = GenConfig {
        conversations: 3000,
        ..GenConfig::default()
    };
    check(config, CacheConfig::default(), true);
}

#[test]
fn short_timeouts_split_records_where_the_model_says() {
    let config = GenConfig {
        conversations: 3000,
        seed: 7,
        span: Duration::from_secs(300),
        mean_gap: Duration::from_secs(1),
        ..GenConfig::default()
    };
    let cfg = CacheConfig {
        idle_timeout: Duration::from_secs(10),
        udp_idle_timeout: Duration::from_secs(4),
        icmp_idle_timeout: Duration::from_secs(2),
        active_timeout: Duration::from_secs(30),
        tcp_end_grace: Duration::from_millis(1500),
        max_flows: 1 << 20,
        biflow: false,
        shape: None,
    };
    let g = generate(&config);
    let (records, _) = run(&g, &cfg, false, 1);
    for reason in [
        EndReason::IdleTimeout,
        EndReason::ActiveTimeout,
        EndReason::EndOfFlow,
        EndReason::ForcedEnd,
    ] {
        assert!(
            records.iter().any(|r| r.end_reason == reason),
            "no record ended by {reason:?}: test too weak"
        );
    }
    check(config, cfg, false);
}

#[test]
fn conversion_is_byte_identical_across_runs() {
    let dir = tempfile::tempdir().unwrap();
    let (pcap, _) = write_generated(
        dir.path(),
        "g.pcap",
        &GenConfig {
            conversations: 500,
            seed: 3,
            ..GenConfig::default()
        },
    );
    let outputs: Vec<Vec<u8>> = ["1", "1", "2", "3"]
        .iter()
        .map(|threads| {
            let out = Command::new(env!("CARGO_BIN_EXE_flowprobe"))
                .args([
                    "convert",
                    "--format",
                    "json",
                    "--idle-timeout",
                    "5s",
                    "--threads",
                    threads,
                ])
                .arg(&pcap)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            out.stdout
        })
        .collect();
    assert!(!outputs[0].is_empty());
    for other in &outputs[1..] {
        assert!(
            outputs[0] == *other,
            "output differs between runs or thread counts"
        );
    }
}

#[test]
fn prometheus_counters_change_while_converting() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let (pcap, g) = write_generated(
        dir.path(),
        "g.pcap",
        &GenConfig {
            conversations: 20_000,
            seed: 5,
            ..GenConfig::default()
        },
    );
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sink = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    // A slowly paced collector makes the conversion last a few seconds.
    let mut child = Command::new(env!("CARGO_BIN_EXE_flowprobe"))
        .args([
            "convert",
            "-q",
            "--pace",
            "400",
            "--prometheus-listen",
            &format!("127.0.0.1:{port}"),
        ])
        .args([
            "--collector",
            &format!("ipfix://{}", sink.local_addr().unwrap()),
        ])
        .arg(&pcap)
        .spawn()
        .unwrap();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() && std::time::Instant::now() < deadline {
        if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
            let mut page = String::new();
            let _ = s.read_to_string(&mut page);
            if !page.starts_with("HTTP/1.0 200 OK") || !page.ends_with('\n') {
                continue; // the endpoint was closing as the conversion ended
            }
            let read: u64 = page
                .lines()
                .filter(|l| l.starts_with("flowprobe_packets_received_total{"))
                .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
                .sum();
            seen.push(read);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let status = child.wait().unwrap();
    assert!(status.success());
    seen.dedup();
    assert!(
        seen.len() >= 3,
        "the counter should move while converting: {seen:?}"
    );
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "counters only grow: {seen:?}"
    );
    assert!(*seen.last().unwrap() <= g.packets.len() as u64);
}

#[test]
fn dash_output_is_standard_output() {
    let dir = tempfile::tempdir().unwrap();
    let shipped =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps/generated-small.pcap");
    let out = Command::new(env!("CARGO_BIN_EXE_flowprobe"))
        .current_dir(dir.path())
        .args(["convert", "-q", "-f", "csv", "-o", "-"])
        .arg(&shipped)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.starts_with("start,end,src,dst"),
        "{}",
        &text[..text.len().min(80)]
    );
    assert!(text.lines().count() > 100);
    assert!(!dir.path().join("-").exists(), "wrote a file named -");
}
