//! Record encoder throughput, records per second: the text sink (CSV, JSON lines) and
//! the IPFIX, NetFlow v9 and v5 sinks.
//!
//! The records come from a real shard: 10,000 flows of the benches' traffic mix metered
//! and flushed, so addresses, ports and counters vary as they do in a capture. Text goes
//! through a `BufWriter` (as `convert -o FILE` does) into `io::sink()`; IPFIX is the real
//! file sink writing to /dev/null; v9 and v5 go to a transport that drops each finished
//! message, so the encoder is measured, not the disk or the network. v5 carries IPv4
//! only, so its bench gets the IPv4 records alone. `ipfix_file_shaped` and
//! `ipfix_file_biflow` give every record a VXLAN tunnel, a direction and an egress
//! interface (and, for the second, reverse counters to a biflow output), so they measure
//! the templates chosen by record shape and the extra elements.

use std::io::{self, BufWriter};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowprobe::decode::PacketMeta;
use flowprobe::export::netflow_v5::V5Sink;
use flowprobe::export::sink::TemplateSink;
use flowprobe::export::template::Dialect;
use flowprobe::export::text::{TextFormat, TextSink};
use flowprobe::export::transport::{TemplatePolicy, Transport};
use flowprobe::export::{ipfix_file_sink, ExportOptions, RecordSink, SinkStats};
use flowprobe::flow::cache::{CacheConfig, FlowCache};
use flowprobe::flow::record::{EndReason, FlowDirection, FlowRecord, ReverseCounters};
use flowprobe::flow::tunnel::{Tunnel, TunnelKind};

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

/// The records with a VXLAN tunnel, a direction and an egress interface; with reverse
/// counters when `biflow`.
fn shaped(records: &[FlowRecord], biflow: bool) -> Vec<FlowRecord> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| FlowRecord {
            tunnel: Tunnel {
                kind: TunnelKind::Vxlan,
                id: i as u32 & 0xff_ffff,
                outer_ip_version: 4,
                outer_src: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                outer_dst: [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            },
            direction: if i % 2 == 0 {
                FlowDirection::Ingress
            } else {
                FlowDirection::Egress
            },
            egress_if: 2,
            reverse: biflow.then_some(ReverseCounters {
                start: r.start,
                end: r.end,
                packets: r.packets,
                octets: r.octets,
                tcp_flags: r.tcp_flags,
                min_ttl: r.min_ttl,
                max_ttl: r.max_ttl,
                tunnel: Default::default(),
            }),
            ..*r
        })
        .collect()
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

/// A datagram transport that drops every message (counts nothing, fails never).
struct Drop;

impl Transport for Drop {
    fn send(&mut self, msg: &[u8], _: u32, _: u32, _: &mut SinkStats) -> io::Result<()> {
        criterion::black_box(msg);
        Ok(())
    }
    fn finish(&mut self, _: &mut SinkStats) -> io::Result<()> {
        Ok(())
    }
    fn template_policy(&self) -> TemplatePolicy {
        TemplatePolicy::Refresh
    }
}

fn bench_netflow(c: &mut Criterion) {
    let records = records(10_000);
    let v4: Vec<FlowRecord> = records
        .iter()
        .filter(|r| r.key.ip_version == 4)
        .copied()
        .collect();
    let opts = ExportOptions::default();
    let tunneled = shaped(&records, false);
    let biflows = shaped(&records, true);
    let biflow_opts = ExportOptions {
        biflow: true,
        ..ExportOptions::default()
    };
    let mut group = c.benchmark_group("encode");
    group.sample_size(20);
    let sinks: [(&str, Box<dyn RecordSink>, &[FlowRecord]); 5] = [
        (
            "ipfix_file",
            ipfix_file_sink(std::path::Path::new("/dev/null"), &opts).expect("open /dev/null"),
            &records,
        ),
        (
            "ipfix_file_shaped",
            ipfix_file_sink(std::path::Path::new("/dev/null"), &opts).expect("open /dev/null"),
            &tunneled,
        ),
        (
            "ipfix_file_biflow",
            ipfix_file_sink(std::path::Path::new("/dev/null"), &biflow_opts)
                .expect("open /dev/null"),
            &biflows,
        ),
        (
            "netflow_v9",
            Box::new(TemplateSink::new(Dialect::NetflowV9, Box::new(Drop), &opts)),
            &records,
        ),
        (
            "netflow_v5",
            Box::new(V5Sink::new(Box::new(Drop), &opts)),
            &v4,
        ),
    ];
    for (name, mut sink, records) in sinks {
        group.throughput(Throughput::Elements(records.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                sink.export(records, T0)
                    .expect("encoding to a dropping transport")
            })
        });
        // The file sink's finish syncs the file, which /dev/null refuses (EINVAL).
        let _ = sink.finish(T0);
    }
    group.finish();
}

criterion_group!(benches, bench_text, bench_netflow);
criterion_main!(benches);
