//! Direction rules per record: `DirectionRules::apply_all` over batches of 4096 records
//! (the exporter's batch size is 1024), with 10, 1,000 and 100,000 local networks (IPv4
//! and IPv6 /24 and /48 networks scattered over the address space, none adjacent, so
//! nothing merges), plus two gateway MACs and two VLANs, as a site would configure them.
//! Records are half local to remote, a quarter internal, a quarter transit, so every rule
//! and the internal guard run. The cost must grow with log(networks), not networks.

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use flowprobe::flow::direction::{DirectionConfig, DirectionRules, MacAddr, Prefix};
use flowprobe::flow::key::FlowKey;
use flowprobe::flow::record::{EndReason, FlowDirection, FlowRecord};
use flowprobe::flow::tunnel::Tunnel;
use flowprobe::generate::Rng;
use flowprobe::time::Timestamp;

const BATCH: usize = 4096;

fn config(networks: usize, rng: &mut Rng) -> (DirectionConfig, Vec<std::net::IpAddr>) {
    let mut local_networks = Vec::with_capacity(networks);
    let mut hosts = Vec::with_capacity(networks);
    for i in 0..networks {
        // Every 7th /24 of 10.0.0.0/8 and beyond (wrapping into other space), and /48s.
        if i % 4 == 3 {
            let n = (i as u128) * 7 + 1;
            let base = (0x2001_0db8u128 << 96) | (n << 80);
            local_networks.push(Prefix {
                addr: std::net::IpAddr::V6(base.into()),
                len: 48,
            });
            hosts.push(std::net::IpAddr::V6((base | 0x42).into()));
        } else {
            let base = 0x0a00_0000u32.wrapping_add((i as u32).wrapping_mul(7) << 8);
            local_networks.push(Prefix {
                addr: std::net::IpAddr::V4(base.into()),
                len: 24,
            });
            hosts.push(std::net::IpAddr::V4((base | 9).into()));
        }
    }
    let _ = rng.next_u64();
    let config = DirectionConfig {
        local_networks,
        ingress_vlans: vec![901],
        egress_vlans: vec![902],
        gateway_macs: vec![
            MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x01]),
            MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x02]),
        ],
        interfaces: None,
    };
    (config, hosts)
}

fn records(hosts: &[std::net::IpAddr], rng: &mut Rng) -> Vec<FlowRecord> {
    (0..BATCH)
        .map(|_| {
            let local = hosts[rng.below(hosts.len() as u64) as usize];
            let local2 = hosts[rng.below(hosts.len() as u64) as usize];
            let remote = match local {
                std::net::IpAddr::V4(_) => {
                    std::net::IpAddr::V4((0xc000_0000u32 | rng.below(1 << 24) as u32).into())
                }
                std::net::IpAddr::V6(_) => {
                    std::net::IpAddr::V6(((0x2a00u128 << 112) | u128::from(rng.next_u64())).into())
                }
            };
            let (src, dst) = match rng.below(8) {
                0..=1 => (local, remote),
                2..=3 => (remote, local),
                4..=5 if local.is_ipv4() == local2.is_ipv4() => (local, local2),
                _ => (remote, remote),
            };
            let mut key = FlowKey {
                proto: 6,
                ..FlowKey::default()
            };
            key.set_addrs(src, dst);
            FlowRecord {
                key,
                start: Timestamp::ZERO,
                end: Timestamp::ZERO,
                packets: 1,
                octets: 40,
                tcp_flags: 0,
                min_ttl: 64,
                max_ttl: 64,
                src_mac: [0x02, 0, 0, 0, 0, rng.below(200) as u8],
                dst_mac: [0x02, 0, 0, 0, 1, rng.below(200) as u8],
                end_reason: EndReason::IdleTimeout,
                tunnel: Tunnel::default(),
                direction: FlowDirection::Unknown,
                egress_if: 0,
                reverse: None,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("direction_apply");
    group.throughput(Throughput::Elements(BATCH as u64));
    for networks in [10, 1_000, 100_000] {
        let mut rng = Rng::new(5);
        let (config, hosts) = config(networks, &mut rng);
        let rules = DirectionRules::new(&config);
        let batch = records(&hosts, &mut rng);
        let decided = {
            let mut b = batch.clone();
            rules.apply_all(&mut b);
            b.iter()
                .filter(|r| r.direction != FlowDirection::Unknown)
                .count()
        };
        assert!(decided > BATCH / 3, "{decided} of {BATCH} decided");
        group.bench_with_input(BenchmarkId::from_parameter(networks), &batch, |b, batch| {
            let mut work = batch.clone();
            b.iter(|| {
                work.copy_from_slice(batch);
                rules.apply_all(black_box(&mut work));
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
