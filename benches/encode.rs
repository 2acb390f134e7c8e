//! Record encoder throughput, records per second: the text sink (CSV, JSON lines).
//!
//! The records come from a real shard: 10,000 flows of the benches' traffic mix metered
//! and flushed, so addresses, ports and counters vary as they do in a capture. Output
//! goes through a `BufWriter` (as `convert -o FILE` does) into `io::sink()`, so the
//! encoder is measured, not the disk.

use std::io::{self, BufWriter};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowprobe::decode::PacketMeta;
use flowprobe::export::text::{TextFormat, TextSink};
use flowprobe::export::RecordSink;
use flowprobe::flow::cache::{CacheConfig, FlowCache};
use flowprobe::flow::record::{EndReason, FlowRecord};

mod support;
use support::{flow_meta, T0};

fn records(n: u32) -> Vec<FlowRecord> {
    let mut cache = FlowCache::new(CacheConfig::default());
    let mut meta = PacketMeta::default();
    let mut out = Vec::new();
    let mut ts = T0;
    for round in 0..3u32 {
        for i in 0..n {
            flow_meta(i, &mut meta);
            meta.octets += round * 100;
            cache.meter(&meta, ts, &mut out);
            ts.0 += 1_000;
        }
    }
    cache.flush(EndReason::ForcedEnd, &mut out);
    out.into_iter().map(|e| e.record).collect()
}

fn bench_text(c: &mut Criterion) {
    let records = records(10_000);
    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::Elements(records.len() as u64));
    group.sample_size(20);
    for (name, format) in [("csv", TextFormat::Csv), ("json", TextFormat::Json)] {
        let mut sink = TextSink::new(format, Box::new(BufWriter::new(io::sink())));
        group.bench_function(name, |b| {
            b.iter(|| sink.export(&records, T0).expect("writing to a sink"))
        });
        sink.finish(T0).expect("writing to a sink");
    }
    group.finish();
}

criterion_group!(benches, bench_text);
criterion_main!(benches);
