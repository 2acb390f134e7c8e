//! Decoder throughput per link type: frame bytes to `PacketMeta`, packets per second.
//!
//! Each iteration decodes 1024 frames of different conversations (so the branch
//! predictor cannot learn one frame), all resident in cache: this is the decoder's own
//! cost, without memory misses on the frame bytes.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use flowprobe::decode::{decode, PacketMeta};

mod support;
use support::{frames, Shape};

const FRAMES: usize = 1024;

fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::Elements(FRAMES as u64));
    for (name, shape) in [
        ("ethernet_ipv4_tcp", Shape::EthernetIpv4Tcp),
        ("vlan_ipv4_udp", Shape::VlanIpv4Udp),
        ("ethernet_ipv6_tcp", Shape::EthernetIpv6Tcp),
        ("sll_ipv4_tcp", Shape::SllIpv4Tcp),
        ("raw_ipv4_tcp", Shape::RawIpv4Tcp),
    ] {
        let (link, frames) = frames(shape, FRAMES);
        let mut meta = PacketMeta::default();
        // Every frame must decode, or the bench measures the error path.
        for f in &frames {
            decode(link, f, f.len() as u32, &mut meta).expect("bench frame decodes");
        }
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut ok = 0u32;
                for f in &frames {
                    ok += decode(link, black_box(f), f.len() as u32, &mut meta).is_ok() as u32;
                    black_box(&meta);
                }
                ok
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench_decode);
criterion_main!(benches);
