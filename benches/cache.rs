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
//!   `Classifier`: decode + fragment tracking + sampling check, then `Worker::meter`)
//!   over 100k flows whose frames are in memory, picked at random.

use std::time::Duration;

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use flowprobe::capture::Packet;
use flowprobe::decode::PacketMeta;
use flowprobe::flow::cache::{flow_hash, CacheConfig, Ended, FlowCache};
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
        let mut batch: Vec<(Timestamp, PacketMeta, u64)> = Vec::with_capacity(BURST as usize);
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                batch.clear();
                for _ in 0..BURST {
                    let i = ((rng.next_u64() >> 32) * u64::from(n)) >> 32;
                    let mut meta = PacketMeta::default();
                    flow_meta(i as u32, &mut meta);
                    batch.push((ts, meta, flow_hash(&meta)));
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
    let n = all.len() as u64;
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
    let mut rng = Rng::new(5);
    group.bench_function("100k", |b| {
        b.iter(|| {
            for _ in 0..BURST {
                let i = ((rng.next_u64() >> 32) * n) >> 32;
                let f = &all[i as usize];
                if classifier.classify(&packet(f, ts), &mut meta) {
                    worker.meter(&meta, ts);
                }
                ts.0 += 100;
            }
        })
    });
    assert_eq!(worker.active_flows(), all.len());
    group.finish();
}

criterion_group!(
    benches,
    bench_update,
    bench_update_batched,
    bench_expire,
    bench_churn,
    bench_decode_and_update
);
criterion_main!(benches);
