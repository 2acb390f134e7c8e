//! Collectors that are down: refused UDP sends are counted, never fatal; an IPFIX/TCP
//! collector that refuses, comes up, dies and comes back gets templates at every
//! connection start, and the counters say exactly what was lost. Nothing blocks long.

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use netflow_parser::variable_versions::ipfix::FlowSetBody;
use netflow_parser::{NetflowPacket, NetflowParser};

use flowprobe::export::transport::TcpSettings;
use flowprobe::export::{collector_sink, CollectorUrl, ExportOptions, RecordSink};
use flowprobe::flow::record::FlowRecord;
use flowprobe::time::Timestamp;

use super::helpers::*;

#[test]
fn udp_to_a_closed_port_counts_errors_and_goes_on() {
    let port = free_udp_port();
    let url: CollectorUrl = format!("ipfix://127.0.0.1:{port}").parse().unwrap();
    let records = synthetic(5000, 41, true);
    for scheme in ["ipfix", "v9", "v5"] {
        let url = CollectorUrl {
            protocol: format!("{scheme}://h")
                .parse::<CollectorUrl>()
                .unwrap()
                .protocol,
            ..url.clone()
        };
        let mut sink = collector_sink(&url, &ExportOptions::default()).unwrap();
        let started = Instant::now();
        let stats = drive(sink.as_mut(), &records, 100);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{scheme}: took {:?}",
            started.elapsed()
        );
        // ICMP port unreachable comes back for every other send at least.
        assert!(stats.send_errors > 0, "{scheme}: {stats:?}");
        assert!(stats.records_lost > 0, "{scheme}: {stats:?}");
        assert_eq!(
            stats.records + stats.records_lost + stats.not_exportable,
            count_v5_pieces(scheme, &records),
            "{scheme}: {stats:?}"
        );
    }
}

/// Records as the sink counts them: v5 splits records above 2^32 into pieces.
fn count_v5_pieces(scheme: &str, records: &[FlowRecord]) -> u64 {
    records
        .iter()
        .map(|r| {
            if scheme == "v5" && r.key.ip_version == 4 {
                flowprobe::export::netflow_v5::pieces(r.packets, r.octets)
            } else {
                1
            }
        })
        .sum()
}

/// A TCP collector on a fixed port: accepts one connection at a time and keeps the bytes
/// of each connection.
pub(crate) struct TcpCollector {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<Vec<u8>>>,
}

impl TcpCollector {
    pub(crate) fn start(port: u16) -> TcpCollector {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut conns: Vec<(TcpStream, Vec<u8>)> = Vec::new();
            let mut buf = [0u8; 65536];
            loop {
                if let Ok((s, _)) = listener.accept() {
                    s.set_nonblocking(true).unwrap();
                    conns.push((s, Vec::new()));
                }
                let mut idle = true;
                for (s, data) in &mut conns {
                    match s.read(&mut buf) {
                        Ok(n) if n > 0 => {
                            data.extend_from_slice(&buf[..n]);
                            idle = false;
                        }
                        _ => {}
                    }
                }
                if idle {
                    if stop2.load(Ordering::SeqCst) {
                        // Dropping the streams and the listener closes everything.
                        return conns.into_iter().map(|(_, d)| d).collect();
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        });
        TcpCollector { stop, handle }
    }

    pub(crate) fn kill(self) -> Vec<Vec<u8>> {
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap()
    }
}

/// Decodes one connection's byte stream with a fresh parser (so templates must come at
/// the start of that connection); returns (flow records, sequence numbers consistent).
pub(crate) fn decode_stream(stream: &[u8]) -> u64 {
    decode_stream_with_gaps(stream, false)
}

/// As `decode_stream`; with `allow_gaps`, sequence gaps (records dropped while the
/// queue was full, which is what they tell a collector) are accepted.
fn decode_stream_with_gaps(stream: &[u8], allow_gaps: bool) -> u64 {
    let mut parser = NetflowParser::default();
    let mut at = 0;
    let mut flows = 0;
    let mut next_seq: Option<u32> = None;
    while at < stream.len() {
        assert!(
            at + 16 <= stream.len(),
            "truncated message at the end of a connection"
        );
        let len = u16::from_be_bytes([stream[at + 2], stream[at + 3]]) as usize;
        let msg = &stream[at..at + len];
        let r = parser.parse_bytes(msg);
        assert!(r.error.is_none(), "{:?}", r.error);
        let NetflowPacket::IPFix(p) = &r.packets[0] else {
            panic!("not IPFIX")
        };
        if let (Some(n), false) = (next_seq, allow_gaps) {
            assert_eq!(
                p.header.sequence_number, n,
                "sequence gap inside a connection"
            );
        }
        let mut data = 0;
        for set in &p.flowsets {
            match &set.body {
                FlowSetBody::Data(d) => {
                    flows += d.fields.len() as u64;
                    data += d.fields.len() as u32;
                }
                FlowSetBody::OptionsData(d) => data += d.fields.len() as u32,
                FlowSetBody::NoTemplate(i) => {
                    panic!("data before its template in this connection: {i:?}")
                }
                _ => {}
            }
        }
        next_seq = Some(p.header.sequence_number.wrapping_add(data));
        at += len;
    }
    flows
}

fn tick_until(
    sink: &mut dyn RecordSink,
    now: Timestamp,
    what: &str,
    done: impl Fn(&dyn RecordSink) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done(sink) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:?}",
            sink.stats()
        );
        sink.tick(now).unwrap();
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn tcp_collector_refusing_then_restarted_mid_stream() {
    let port = free_tcp_port();
    let url: CollectorUrl = format!("ipfix+tcp://127.0.0.1:{port}").parse().unwrap();
    let opts = ExportOptions {
        observation_domain_id: 77,
        tcp: TcpSettings {
            backoff_initial: Duration::from_millis(20),
            backoff_max: Duration::from_millis(100),
            finish_timeout: Duration::from_secs(3),
            ..TcpSettings::default()
        },
        ..ExportOptions::default()
    };
    let mut sink = collector_sink(&url, &opts).unwrap();
    let records = synthetic(4000, 42, true);
    let now = Timestamp::from_secs_nanos(BASE_SECS + 200, 0);
    let batches: Vec<&[FlowRecord]> = records.chunks(1000).collect();

    // 1. Nobody listens: connection refused, records wait in the buffer; export never blocks.
    let t = Instant::now();
    sink.export(batches[0], now).unwrap();
    sink.tick(now).unwrap();
    assert!(t.elapsed() < Duration::from_millis(500));
    let s = sink.stats();
    assert_eq!((s.connections, s.records), (0, 0));
    assert!(s.send_errors >= 1, "{s:?}");

    // 2. The collector starts: the sink connects (after its backoff) and delivers.
    let first = TcpCollector::start(port);
    sink.export(batches[1], now).unwrap();
    tick_until(sink.as_mut(), now, "delivery to the first collector", |s| {
        s.stats().records == 2000
    });
    assert_eq!(sink.stats().connections, 1);
    std::thread::sleep(Duration::from_millis(100));

    // 3. The collector dies. The sink notices, buffers, reconnects to the new one.
    let got_first = first.kill();
    std::thread::sleep(Duration::from_millis(50));
    sink.export(batches[2], now).unwrap();
    sink.tick(now).unwrap();
    let second = TcpCollector::start(port);
    sink.export(batches[3], now).unwrap();
    tick_until(sink.as_mut(), now, "reconnection", |s| {
        s.stats().connections == 2
    });
    let t = Instant::now();
    sink.finish(now).unwrap();
    assert!(t.elapsed() < Duration::from_secs(4));
    std::thread::sleep(Duration::from_millis(100));
    let got_second = second.kill();
    let stats = sink.stats();

    let received: u64 = got_first
        .iter()
        .chain(&got_second)
        .map(|c| decode_stream(c))
        .sum();
    eprintln!("after restart: {stats:?}, received {received}");
    assert_eq!(
        got_first.len() + got_second.len(),
        2,
        "one connection to each collector"
    );
    assert_eq!(
        stats.records, received,
        "what the sink says it sent arrived: {stats:?}"
    );
    assert_eq!(
        received + stats.records_lost,
        4000,
        "every record delivered or counted lost: {stats:?}"
    );
}

#[test]
fn tcp_collector_never_up_loses_what_is_left_at_finish_without_blocking() {
    let port = free_tcp_port();
    let url: CollectorUrl = format!("ipfix+tcp://127.0.0.1:{port}").parse().unwrap();
    let opts = ExportOptions {
        tcp: TcpSettings {
            finish_timeout: Duration::from_millis(300),
            buffer_bytes: 64 << 10,
            ..TcpSettings::default()
        },
        ..ExportOptions::default()
    };
    let mut sink = collector_sink(&url, &opts).unwrap();
    let records = synthetic(3000, 43, false);
    let t = Instant::now();
    let stats = drive(sink.as_mut(), &records, 500);
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(stats.records, 0);
    assert_eq!(stats.records_lost, 3000, "{stats:?}");
}

/// A collector that stops reading (its window fills, the sink's queue fills) and then
/// resets the connection: what was queued beyond the bound and the message cut by the
/// reset are counted lost, the next connection starts clean with templates, and the
/// counts add up exactly.
#[test]
fn tcp_collector_that_stalls_then_resets() {
    let port = free_tcp_port();
    let url: CollectorUrl = format!("ipfix+tcp://127.0.0.1:{port}").parse().unwrap();
    let opts = ExportOptions {
        observation_domain_id: 77,
        tcp: TcpSettings {
            buffer_bytes: 1 << 20,
            backoff_initial: Duration::from_millis(20),
            backoff_max: Duration::from_millis(100),
            finish_timeout: Duration::from_secs(5),
            ..TcpSettings::default()
        },
        ..ExportOptions::default()
    };
    let mut sink = collector_sink(&url, &opts).unwrap();
    let records = synthetic(150_000, 44, true);
    let now = Timestamp::from_secs_nanos(BASE_SECS + 200, 0);

    // A collector that accepts and never reads.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    sink.tick(now).unwrap();
    let (stalled, _) = listener.accept().unwrap();
    drop(listener);
    let t = Instant::now();
    for chunk in records[..120_000].chunks(1000) {
        sink.export(chunk, now).unwrap();
    }
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "a stalled collector must not block: {:?}",
        t.elapsed()
    );
    let before = sink.stats();
    assert!(
        before.records_lost > 0,
        "the bounded queue overflowed: {before:?}"
    );

    // Reset (SO_LINGER 0), then a healthy collector on the same port.
    socket2::SockRef::from(&stalled)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stalled);
    let healthy = TcpCollector::start(port);
    for chunk in records[120_000..].chunks(1000) {
        sink.export(chunk, now).unwrap();
    }
    tick_until(sink.as_mut(), now, "reconnection", |s| {
        s.stats().connections == 2
    });
    sink.finish(now).unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let got = healthy.kill();
    let stats = sink.stats();
    let received: u64 = got.iter().map(|c| decode_stream_with_gaps(c, true)).sum();
    eprintln!("stalled then reset: before {before:?}, after {stats:?}, received {received}");
    // Sent into the dead connection (written to its socket, never read) + received by
    // the healthy one + counted lost = everything.
    assert_eq!(
        before.records + received + stats.records_lost,
        150_000,
        "{stats:?}"
    );
    assert_eq!(stats.records, before.records + received);
}
