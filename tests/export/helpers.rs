//! Shared helpers of the exporter tests: synthetic records, a UDP receiver, a pcap
//! writer, tool detection.

use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use flowprobe::export::{collector_sink, CollectorUrl, ExportOptions, RecordSink, SinkStats};
use flowprobe::flow::key::FlowKey;
use flowprobe::flow::record::{EndReason, FlowRecord};
use flowprobe::time::Timestamp;

/// Whether `tool` runs; if not, panics under CI and returns false otherwise.
pub fn have_tool(tool: &str) -> bool {
    let ok = std::process::Command::new("which")
        .arg(tool)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("{tool} is required under CI but is not installed");
        }
        eprintln!("skipped: {tool} not installed");
    }
    ok
}

/// A small deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The start of the synthetic time line: 2024-01-01T00:00:00Z.
pub const BASE_SECS: u64 = 1_704_067_200;

/// `n` records with unique keys: about a third IPv6, TCP/UDP/ICMP/ICMPv6/SCTP/GRE, every
/// field varied, every 25th with counters above 2^32 when `large` is set.
pub fn synthetic(n: usize, seed: u64, large: bool) -> Vec<FlowRecord> {
    let mut rng = Rng::new(seed);
    let base = Timestamp::from_secs_nanos(BASE_SECS, 0);
    (0..n)
        .map(|i| {
            let v6 = rng.below(3) == 0;
            let mut key = FlowKey::default();
            let i32 = i as u32;
            if v6 {
                let mut s = [0u8; 16];
                let mut d = [0u8; 16];
                s[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                d[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
                d[4] = 1;
                s[12..].copy_from_slice(&i32.to_be_bytes());
                d[8..16].copy_from_slice(&rng.next().to_be_bytes());
                key.set_addrs(
                    std::net::Ipv6Addr::from(s).into(),
                    std::net::Ipv6Addr::from(d).into(),
                );
            } else {
                let s = std::net::Ipv4Addr::from(0x0a00_0000 | (i32 & 0x00ff_ffff));
                let d = std::net::Ipv4Addr::from(0xc612_0000 | (rng.next() as u32 & 0xffff));
                key.set_addrs(s.into(), d.into());
            }
            key.proto = match rng.below(10) {
                0..=3 => 6,
                4..=6 => 17,
                7 => {
                    if v6 {
                        58
                    } else {
                        1
                    }
                }
                8 => 132,
                _ => 47,
            };
            match key.proto {
                1 | 58 => key.dst_port = (rng.below(12) as u16) << 8 | rng.below(4) as u16,
                47 => {}
                _ => {
                    key.src_port = 1024 + rng.below(60000) as u16;
                    key.dst_port = [53, 80, 443, 123, 22, 8080][rng.below(6) as usize];
                }
            }
            key.tos = (rng.below(64) as u8) << 2;
            key.in_if = rng.below(8) as u32;
            key.vlan = if rng.below(2) == 0 {
                0
            } else {
                1 + rng.below(4094) as u16
            };
            let packets = 1 + rng.below(2000);
            let mut octets = packets * (40 + rng.below(1400));
            let mut packets = packets;
            if large && i % 25 == 7 {
                packets = 4_000_000 + rng.below(5_000_000);
                octets = packets * 1400 + rng.below(1000);
                assert!(octets > u32::MAX as u64);
            }
            let start = base.saturating_add(Duration::from_millis(i as u64 * 7 + rng.below(1000)));
            let end = start.saturating_add(Duration::from_millis(rng.below(120_000)));
            let min_ttl = 1 + rng.below(200) as u8;
            let mut mac = || {
                let b = rng.next().to_be_bytes();
                [b[0] & 0xfe, b[1], b[2], b[3], b[4], b[5]]
            };
            let (src_mac, dst_mac) = (mac(), mac());
            FlowRecord {
                key,
                start,
                end,
                packets,
                octets,
                tcp_flags: if key.proto == 6 {
                    rng.below(64) as u8
                } else {
                    0
                },
                min_ttl,
                max_ttl: min_ttl + rng.below(50) as u8,
                src_mac,
                dst_mac,
                end_reason: EndReason::ALL[rng.below(5) as usize],
                tunnel: Default::default(),
                direction: Default::default(),
                egress_if: 0,
                reverse: None,
            }
        })
        .collect()
}

/// Drives a sink as the exporter thread does: batches of `batch` records exported at the
/// latest end time in the batch plus a second, a tick after each, finish at the end.
pub fn drive(sink: &mut dyn RecordSink, records: &[FlowRecord], batch: usize) -> SinkStats {
    let mut now = Timestamp::from_secs_nanos(BASE_SECS, 0);
    for chunk in records.chunks(batch) {
        let latest = chunk.iter().map(|r| r.end).max().unwrap_or(now);
        now = now.max(latest.saturating_add(Duration::from_millis(1500)));
        sink.export(chunk, now).unwrap();
        sink.tick(now).unwrap();
    }
    sink.finish(now).unwrap();
    sink.stats()
}

/// A UDP socket on loopback collecting every datagram until stopped.
pub struct Receiver {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<Vec<u8>>>,
}

impl Receiver {
    pub fn start(v6: bool) -> Receiver {
        let sock = UdpSocket::bind(if v6 { "[::1]:0" } else { "127.0.0.1:0" }).unwrap();
        let s2 = socket2::SockRef::from(&sock);
        let _ = s2.set_recv_buffer_size(16 << 20);
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let addr = sock.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut buf = vec![0u8; 65536];
            let mut idle_since: Option<Instant> = None;
            loop {
                match sock.recv(&mut buf) {
                    Ok(n) => {
                        out.push(buf[..n].to_vec());
                        idle_since = None;
                    }
                    Err(_) => {
                        if stop2.load(Ordering::SeqCst) {
                            let t = *idle_since.get_or_insert_with(Instant::now);
                            if t.elapsed() > Duration::from_millis(300) {
                                return out;
                            }
                        }
                    }
                }
            }
        });
        Receiver { addr, stop, handle }
    }

    pub fn stop(self) -> Vec<Vec<u8>> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap()
    }
}

/// Exports `records` to a fresh loopback receiver with the given scheme; returns the
/// datagrams received and the sink's counters.
pub fn export_udp(
    scheme: &str,
    records: &[FlowRecord],
    opts: &ExportOptions,
) -> (Vec<Vec<u8>>, SinkStats) {
    let rx = Receiver::start(false);
    let url: CollectorUrl = format!("{scheme}://{}", rx.addr).parse().unwrap();
    let mut sink = collector_sink(&url, opts).unwrap();
    let stats = drive(sink.as_mut(), records, 200);
    (rx.stop(), stats)
}

/// Options for tests: paced so the loopback receiver keeps up.
pub fn test_options() -> ExportOptions {
    ExportOptions {
        observation_domain_id: 77,
        pacing: Some(10_000),
        ..ExportOptions::default()
    }
}

/// A classic pcap file being built in memory (Ethernet link type).
struct Pcap {
    out: Vec<u8>,
    frames: u32,
}

impl Pcap {
    fn new() -> Pcap {
        let mut out = Vec::new();
        // Global header: magic, v2.4, thiszone 0, sigfigs 0, snaplen 65535, linktype 1.
        out.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        out.extend_from_slice(&2u16.to_le_bytes());
        out.extend_from_slice(&4u16.to_le_bytes());
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&65535u32.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        Pcap { out, frames: 0 }
    }

    /// One Ethernet / IPv4 frame from 127.0.0.1 to 127.0.0.1 carrying `l4` (protocol `proto`).
    fn ipv4(&mut self, proto: u8, l4: &[u8]) {
        let i = self.frames;
        self.frames += 1;
        let ip_len = 20 + l4.len();
        let frame_len = 14 + ip_len;
        self.out
            .extend_from_slice(&(BASE_SECS as u32 + i / 1000).to_le_bytes());
        self.out
            .extend_from_slice(&((i % 1000) * 1000).to_le_bytes());
        self.out
            .extend_from_slice(&(frame_len as u32).to_le_bytes());
        self.out
            .extend_from_slice(&(frame_len as u32).to_le_bytes());
        self.out
            .extend_from_slice(&[0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1, 0x08, 0x00]);
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(ip_len as u16).to_be_bytes());
        ip[4..6].copy_from_slice(&(i as u16).to_be_bytes());
        ip[6] = 0x40; // don't fragment
        ip[8] = 64;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&[127, 0, 0, 1]);
        ip[16..20].copy_from_slice(&[127, 0, 0, 1]);
        let mut sum: u32 = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
        self.out.extend_from_slice(&ip);
        self.out.extend_from_slice(l4);
    }

    /// A TCP segment (no options, checksum left 0: Wireshark does not check it by default).
    #[allow(clippy::too_many_arguments)]
    fn tcp(&mut self, src: u16, dst: u16, seq: u32, ack: u32, flags: u8, payload: &[u8]) {
        let mut t = Vec::with_capacity(20 + payload.len());
        t.extend_from_slice(&src.to_be_bytes());
        t.extend_from_slice(&dst.to_be_bytes());
        t.extend_from_slice(&seq.to_be_bytes());
        t.extend_from_slice(&ack.to_be_bytes());
        t.push(5 << 4);
        t.push(flags);
        t.extend_from_slice(&65535u16.to_be_bytes());
        t.extend_from_slice(&[0, 0, 0, 0]);
        t.extend_from_slice(payload);
        self.ipv4(6, &t);
    }
}

/// Writes one TCP connection carrying `stream` from the exporter to `dst_port` into a
/// pcap: handshake, the bytes in 1448-octet segments each acknowledged, and a clean close.
/// tshark then reassembles and dissects exactly the bytes the collector received.
pub fn write_tcp_pcap(path: &std::path::Path, stream: &[u8], dst_port: u16) {
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    const PSH: u8 = 0x08;
    const FIN: u8 = 0x01;
    let (c, s) = (40000u16, dst_port);
    let (mut cseq, sseq) = (1000u32, 5000u32);
    let mut p = Pcap::new();
    p.tcp(c, s, cseq, 0, SYN, &[]);
    p.tcp(s, c, sseq, cseq + 1, SYN | ACK, &[]);
    cseq += 1;
    p.tcp(c, s, cseq, sseq + 1, ACK, &[]);
    for chunk in stream.chunks(1448) {
        p.tcp(c, s, cseq, sseq + 1, PSH | ACK, chunk);
        cseq += chunk.len() as u32;
        p.tcp(s, c, sseq + 1, cseq, ACK, &[]);
    }
    p.tcp(c, s, cseq, sseq + 1, FIN | ACK, &[]);
    p.tcp(s, c, sseq + 1, cseq + 1, FIN | ACK, &[]);
    p.tcp(c, s, cseq + 1, sseq + 2, ACK, &[]);
    std::fs::write(path, p.out).unwrap();
}

/// Writes UDP datagrams into a classic pcap file (Ethernet / IPv4 / UDP) to `dst_port`,
/// so tshark can dissect exactly the bytes we sent.
pub fn write_pcap(path: &std::path::Path, datagrams: &[Vec<u8>], dst_port: u16) {
    let mut p = Pcap::new();
    for d in datagrams {
        let mut udp = Vec::with_capacity(8 + d.len());
        udp.extend_from_slice(&40000u16.to_be_bytes());
        udp.extend_from_slice(&dst_port.to_be_bytes());
        udp.extend_from_slice(&((8 + d.len()) as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]); // checksum 0: none, allowed for IPv4
        udp.extend_from_slice(d);
        p.ipv4(17, &udp);
    }
    std::fs::write(path, p.out).unwrap();
}

/// A free port on loopback (bind port 0, read it, close).
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits (up to 10 s) until `daemon` listens on UDP `port` of 127.0.0.1: until our own
/// bind to the port fails.
pub fn wait_until_bound(daemon: &str, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while UdpSocket::bind(("127.0.0.1", port)).is_ok() {
        assert!(
            Instant::now() < deadline,
            "{daemon} did not bind port {port}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A free TCP port on loopback.
pub fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
