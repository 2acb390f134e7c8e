//! Flow-cache throughput: packets per second into a shard holding 1k, 100k and 1M active
//! flows, the expiry check's cost against table size, and decode + update together.
//!
//! - `cache_update/N`: the shard is filled with N flows first; then every packet hits an
//!   existing flow chosen uniformly at random (the worst case for the CPU caches: a
//!   heavy-tailed real mix hits a few hot flows more often). The traffic mix is 60% TCP,
//!   30% UDP, 10% ICMP, 30% IPv6, 20% VLAN-tagged. Packet time advances 100 ns a packet
//!   and the timeouts are an hour, so nothing expires: this is the update path alone.
//! - `expire_nothing_due/N`: `expire(now)` with nothing due, at N flows. Issue 5 item 6:
//!   the cost must not grow with N (expiry pops list heads, never scans).
//! - `churn/N`: a steady state of N flows where every packet starts a new flow and the
//!   oldest one idles out, so each packet both creates and ends a record.
//! - `decode_and_update/100k`: what one offline worker thread does per packet (the
//!   `Classifier`: decode + fragment tracking + sampling check, then the flow hash and
//!   `Worker::meter_batch` on batches of 64, as `pipeline::dispatch::Inline` meters)
//!   over 100k flows picked at random, walking their frames in order through one
//!   capture-like buffer as the reader walks a mapped file (see the function's doc).
//!   `decode_and_update/100k_one_by_one` meters each packet as it is decoded
//!   (`Worker::meter`).
//! - `workers/1` and `workers/2`: 1M decoded packets over 200k flows metered by one
//!   worker, and by two worker threads that each meter the packets of their own shard
//!   (split by flow hash as `pipeline::dispatch::Dispatch` splits them, in batches of
//!   2048 as it sends them), into empty caches as in a conversion; `workers/1_filled`
//!   and `workers/2_filled` meter the same packets into caches that already hold every
//!   flow. The metering alone, without the reader and the exporter that share the
//!   machine's cores in a conversion (issue 5: how workers scale on this machine).

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use flowprobe::capture::Packet;
use flowprobe::decode::PacketMeta;
use flowprobe::flow::cache::{CacheConfig, Decoded, Ended, FlowCache};
use flowprobe::generate::Rng;
use flowprobe::pipeline::worker::{Classifier, Worker};
use flowprobe::time::Timestamp;

mod support;
use support::{flow_meta, frames, Shape, T0};

/// Packets per criterion iteration.
const BURST: u64 = 4096;

fn hour_config(max_flows: usize) -> CacheConfig {
    let hour = Duration::from_secs(3600);
    CacheConfig {
        idle_timeout: hour,
        udp_idle_timeout: hour,
        icmp_idle_timeout: hour,
        active_timeout: hour * 2,
        tcp_end_grace: hour,
        max_flows,
        biflow: false,
        shape: None,
    }
}

fn filled(n: u32, config: CacheConfig) -> (FlowCache, Timestamp) {
    let mut cache = FlowCache::new(config);
    let mut meta = PacketMeta::default();
    let mut out = Vec::new();
    let mut ts = T0;
    for i in 0..n {
        flow_meta(i, &mut meta);
        cache.meter(&meta, ts, &mut out);
        ts.0 += 100;
    }
    assert_eq!(cache.len(), n as usize);
    assert!(out.is_empty());
    (cache, ts)
}

const SIZES: [(&str, u32); 3] = [("1k", 1_000), ("100k", 100_000), ("1M", 1_000_000)];

fn bench_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache_update");
    group.throughput(Throughput::Elements(BURST));
    for (name, n) in SIZES {
        let (mut cache, mut ts) = filled(n, hour_config(1 << 21));
        let mut meta = PacketMeta::default();
        let mut out: Vec<Ended> = Vec::new();
        let mut rng = Rng::new(3);
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                for _ in 0..BURST {
                    // Multiply-shift: uniform over 0..n without a division.
                    let i = ((rng.next_u64() >> 32) * u64::from(n)) >> 32;
                    flow_meta(i as u32, &mut meta);
                    cache.meter(&meta, ts, &mut out);
                    ts.0 += 100;
                }
            })
        });
        assert_eq!(
            cache.len(),
            n as usize,
            "no flow may end in the update bench"
        );
        assert!(out.is_empty());
    }
    group.finish();
}

fn bench_update_batched(c: &mut Criterion) {
    let mut group = c.benchmark_group("cache_update_batched");
    group.throughput(Throughput::Elements(BURST));
    for (name, n) in SIZES {
        let (mut cache, mut ts) = filled(n, hour_config(1 << 21));
        let mut out: Vec<Ended> = Vec::new();
        let mut rng = Rng::new(3);
        let mut batch: Vec<Decoded> = Vec::with_capacity(BURST as usize);
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                batch.clear();
                for _ in 0..BURST {
                    let i = ((rng.next_u64() >> 32) * u64::from(n)) >> 32;
                    let mut meta = PacketMeta::default();
                    flow_meta(i as u32, &mut meta);
                    batch.push(Decoded::new(&meta, ts));
                    ts.0 += 100;
                }
                cache.meter_batch(&batch, &mut out);
            })
        });
        assert_eq!(cache.len(), n as usize);
        assert!(out.is_empty());
    }
    group.finish();
}

fn bench_expire(c: &mut Criterion) {
    let mut group = c.benchmark_group("expire_nothing_due");
    group.throughput(Throughput::Elements(1));
    for (name, n) in [("1k", 1_000), ("1M", 1_000_000)] {
        let (mut cache, mut ts) = filled(n, hour_config(1 << 21));
        let mut out: Vec<Ended> = Vec::new();
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                ts.0 += 1;
                cache.expire(black_box(ts), &mut out);
            })
        });
        assert_eq!(cache.len(), n as usize);
    }
    group.finish();
}

fn bench_churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("churn");
    group.throughput(Throughput::Elements(BURST));
    for (name, n) in [("1k", 1_000u32), ("1M", 1_000_000)] {
        // Flow k arrives at k * 1 us; the idle timeout is n us, so flow k - n ends as
        // flow k arrives and the table stays at n flows.
        let idle = Duration::from_micros(u64::from(n));
        let config = CacheConfig {
            idle_timeout: idle,
            udp_idle_timeout: idle,
            icmp_idle_timeout: idle,
            tcp_end_grace: idle,
            active_timeout: idle * 2,
            max_flows: 1 << 21,
            biflow: false,
            shape: None,
        };
        let mut cache = FlowCache::new(config);
        let mut meta = PacketMeta::default();
        let mut out: Vec<Ended> = Vec::new();
        let mut k: u32 = 0;
        let mut step = |cache: &mut FlowCache, out: &mut Vec<Ended>| {
            flow_meta(k, &mut meta);
            cache.meter(&meta, Timestamp(T0.0 + u64::from(k) * 1_000), out);
            k += 1;
        };
        for _ in 0..n {
            step(&mut cache, &mut out);
        }
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                for _ in 0..BURST {
                    step(&mut cache, &mut out);
                }
                let ended = out.len();
                out.clear();
                ended
            })
        });
        let len = cache.len();
        assert!(len.abs_diff(n as usize) <= 2, "table held {len}, not {n}");
    }
    group.finish();
}

/// Packets in the capture-like buffer of `decode_and_update`: ten per flow on average,
/// and about 100 MB, far beyond the CPU caches, as a capture file is.
const CAPTURE_PACKETS: usize = 1 << 20;

/// Packets `pipeline::dispatch::Inline` gathers before it meters them (its `INLINE_BATCH`).
const INLINE_BATCH: usize = 64;

/// pcap record header: seconds (4), microseconds (4), captured length (4), wire length (4),
/// little-endian, as a pcap file written on x86 has it.
const RECORD_HEADER: usize = 16;

/// `CAPTURE_PACKETS` packets whose frames are each one of `frames`, chosen uniformly at
/// random, laid out back to back behind pcap record headers in one buffer.
fn capture_buffer(frames: &[Vec<u8>]) -> Vec<u8> {
    let n = frames.len() as u64;
    let mut rng = Rng::new(5);
    let mut buffer = Vec::with_capacity(CAPTURE_PACKETS * (RECORD_HEADER + 100));
    for k in 0..CAPTURE_PACKETS as u32 {
        // Multiply-shift: uniform over 0..n without a division.
        let frame = &frames[(((rng.next_u64() >> 32) * n) >> 32) as usize];
        let len = (frame.len() as u32).to_le_bytes();
        buffer.extend_from_slice(&(1_700_000_000 + k / 1_000_000).to_le_bytes());
        buffer.extend_from_slice(&(k % 1_000_000).to_le_bytes());
        buffer.extend_from_slice(&len);
        buffer.extend_from_slice(&len);
        buffer.extend_from_slice(frame);
    }
    buffer
}

/// The frame of the record at `*at` in a `capture_buffer`, stepping `*at` to the next
/// record (back to the first after the last).
#[inline(always)]
fn next_record<'a>(buffer: &'a [u8], at: &mut usize) -> &'a [u8] {
    if *at >= buffer.len() {
        *at = 0;
    }
    let header = &buffer[*at..*at + RECORD_HEADER];
    let len = u32::from_le_bytes(header[8..12].try_into().unwrap()) as usize;
    let frame = &buffer[*at + RECORD_HEADER..*at + RECORD_HEADER + len];
    *at += RECORD_HEADER + len;
    frame
}

/// `decode_and_update/100k`: the per-packet work of one offline worker thread.
///
/// The frames of a long run of packets (`CAPTURE_PACKETS`, each of one of the 100k flows
/// chosen uniformly at random) lie back to back in one buffer behind pcap record
/// headers, and the bench walks that buffer in order, wrapping around at its end. That is
/// how the real reader meets frames: it walks a memory-mapped capture file sequentially
/// (`capture::file::mapped`), so the frame bytes stream in through the hardware
/// prefetcher and a packet pays no cache miss on its own bytes. (Picking each packet's
/// frame at random out of 100k separate allocations, as this bench once did, charged
/// every packet such a miss, which no real worker pays.) The flow lookups are still
/// random over 100k flows: the cache's misses stay.
///
/// `100k` meters as the offline pipeline's `Inline` does, in batches of 64 decoded
/// packets with their flow hash; `100k_one_by_one` meters each packet as it is decoded.
fn bench_decode_and_update(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode_and_update");
    group.throughput(Throughput::Elements(BURST));
    // 100k flows, all Ethernet (a file has one link type): 70k IPv4 TCP, 20k VLAN-tagged
    // IPv4 UDP, 10k IPv6 TCP.
    let mut all: Vec<Vec<u8>> = Vec::new();
    for (shape, count) in [
        (Shape::EthernetIpv4Tcp, 70_000),
        (Shape::VlanIpv4Udp, 20_000),
        (Shape::EthernetIpv6Tcp, 10_000),
    ] {
        all.extend(frames(shape, count).1);
    }
    let mut classifier = Classifier::default();
    let mut worker = Worker::new(hour_config(1 << 21));
    let mut meta = PacketMeta::default();
    let mut ts = T0;
    fn packet(data: &[u8], ts: Timestamp) -> Packet<'_> {
        Packet {
            ts,
            link_type: flowprobe::decode::LINKTYPE_ETHERNET,
            interface: 0,
            data,
            orig_len: data.len() as u32,
        }
    }
    for f in &all {
        assert!(classifier.classify(&packet(f, ts), &mut meta));
        worker.meter(&meta, ts);
        ts.0 += 100;
    }
    assert_eq!(worker.active_flows(), all.len());
    let capture = capture_buffer(&all);
    drop(all);
    let mut at = 0;
    // As `pipeline::dispatch::Inline` meters (one offline worker): packets are decoded
    // into a batch of 64 with their flow hash, and each full batch goes through
    // `Worker::meter_batch`, which overlaps the slot lookups of neighbouring packets.
    let mut batch: Vec<Decoded> = Vec::with_capacity(INLINE_BATCH);
    group.bench_function("100k", |b| {
        b.iter(|| {
            for _ in 0..BURST {
                let f = next_record(&capture, &mut at);
                if classifier.classify(&packet(f, ts), &mut meta) {
                    batch.push(Decoded::new(&meta, ts));
                    if batch.len() == INLINE_BATCH {
                        worker.meter_batch(&batch);
                        batch.clear();
                    }
                }
                ts.0 += 100;
            }
        })
    });
    // The same, metering each packet as it is decoded (`Worker::meter`).
    group.bench_function("100k_one_by_one", |b| {
        b.iter(|| {
            for _ in 0..BURST {
                let f = next_record(&capture, &mut at);
                if classifier.classify(&packet(f, ts), &mut meta) {
                    worker.meter(&meta, ts);
                }
                ts.0 += 100;
            }
        })
    });
    worker.meter_batch(&batch);
    assert_eq!(worker.active_flows(), 100_000);
    group.finish();
}

/// Packets, flows and batch size of the `workers` benches.
const WORKER_PACKETS: u32 = 1_000_000;
const WORKER_FLOWS: u32 = 200_000;
const DISPATCH_BATCH: usize = 2048;

/// Meters `packets` as a dispatched worker does: batch by batch, each followed by a tick.
fn meter_all(worker: &mut Worker, packets: &[Decoded]) -> usize {
    for batch in packets.chunks(DISPATCH_BATCH) {
        worker.meter_batch(batch);
        worker.tick(batch[batch.len() - 1].ts);
    }
    worker.active_flows()
}

/// Two workers, each metering its shard in a thread of its own.
fn meter_two(workers: &mut [Worker; 2], shards: &[Vec<Decoded>; 2]) -> usize {
    let [w0, w1] = workers;
    std::thread::scope(|scope| {
        let other = scope.spawn(|| meter_all(w1, &shards[1]));
        meter_all(w0, &shards[0]) + other.join().unwrap_or(0)
    })
}

fn bench_workers(c: &mut Criterion) {
    let mut group = c.benchmark_group("workers");
    group.sample_size(10);
    group.throughput(Throughput::Elements(u64::from(WORKER_PACKETS)));
    // Flows picked at random, time going forward: every flow starts within the run,
    // most of the packets update one already there.
    let mut rng = Rng::new(5);
    let mut meta = PacketMeta::default();
    let mut ts = T0;
    let packets: Vec<Decoded> = (0..WORKER_PACKETS)
        .map(|_| {
            flow_meta((rng.next_u64() % u64::from(WORKER_FLOWS)) as u32, &mut meta);
            ts.0 += 100;
            Decoded::new(&meta, ts)
        })
        .collect();
    // The dispatcher's choice: multiply-shift of the hash's high half onto 2 workers.
    let mut shards: [Vec<Decoded>; 2] = [Vec::new(), Vec::new()];
    for p in &packets {
        shards[(((p.hash >> 32) * 2) >> 32) as usize].push(*p);
    }
    let config = hour_config(1 << 20);
    let one = || Worker::new(config.clone());
    let two = || [one(), one()];
    let batch = criterion::BatchSize::LargeInput;
    group.bench_function("1", |b| {
        b.iter_batched_ref(one, |w| black_box(meter_all(w, &packets)), batch)
    });
    group.bench_function("2", |b| {
        b.iter_batched_ref(two, |w| black_box(meter_two(w, &shards)), batch)
    });
    let one_filled = || {
        let mut w = one();
        meter_all(&mut w, &packets);
        w
    };
    let two_filled = || {
        let mut w = two();
        meter_two(&mut w, &shards);
        w
    };
    group.bench_function("1_filled", |b| {
        b.iter_batched_ref(one_filled, |w| black_box(meter_all(w, &packets)), batch)
    });
    group.bench_function("2_filled", |b| {
        b.iter_batched_ref(two_filled, |w| black_box(meter_two(w, &shards)), batch)
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_update,
    bench_update_batched,
    bench_expire,
    bench_churn,
    bench_decode_and_update,
    bench_workers
);
criterion_main!(benches);
