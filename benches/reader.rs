//! Capture-file reader throughput: packets per second out of `CaptureFile`, from memory
//! and from a file on tmpfs (mapped, as `convert` reads it, and with read(2), as a pipe
//! is read), alone and with the reader thread's decode (`Classifier`).
//!
//! The capture is `flowprobe generate`'s (20,000 conversations, about 200k packets,
//! classic pcap, microsecond timestamps), written once into memory.

use std::io::Cursor;
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use flowprobe::capture::file::{CaptureFile, ReadMode};
use flowprobe::decode::PacketMeta;
use flowprobe::generate::{generate, write_pcap, GenConfig};
use flowprobe::pipeline::worker::Classifier;

fn capture() -> (Arc<[u8]>, u64) {
    let generated = generate(&GenConfig {
        conversations: 20_000,
        ..GenConfig::default()
    });
    let mut bytes = Vec::new();
    write_pcap(&generated, false, &mut bytes).expect("write to memory");
    (bytes.into(), generated.packets.len() as u64)
}

fn open_memory(bytes: &Arc<[u8]>) -> CaptureFile {
    let len = bytes.len() as u64;
    CaptureFile::from_reader(
        "memory".into(),
        Box::new(Cursor::new(bytes.clone())),
        Some(len),
    )
    .expect("generated capture opens")
}

fn read_all(mut file: CaptureFile) -> u64 {
    let mut n = 0;
    while let Some(p) = file.next_packet().expect("generated capture reads") {
        n += u64::from(p.orig_len > 0);
    }
    n
}

fn bench_reader(c: &mut Criterion) {
    let (bytes, packets) = capture();
    // tmpfs when there is one, so the file system is not what is measured.
    let dir = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    let path = dir.join(format!(
        "flowprobe-bench-reader-{}.pcap",
        std::process::id()
    ));
    std::fs::write(&path, &bytes).expect("write the bench capture");

    let mut group = c.benchmark_group("reader");
    group.throughput(Throughput::Elements(packets));
    group.sample_size(10);
    group.bench_function("memory", |b| {
        b.iter(|| assert_eq!(read_all(open_memory(&bytes)), packets))
    });
    // `open` maps a regular file; `ReadMode::Read` is the read(2) path pipes take.
    group.bench_function("tmpfs_file_mapped", |b| {
        b.iter(|| {
            let file = CaptureFile::open(&path).expect("bench capture opens");
            assert!(file.is_mapped());
            assert_eq!(read_all(file), packets)
        })
    });
    group.bench_function("tmpfs_file_read", |b| {
        b.iter(|| {
            let file = CaptureFile::open_with(&path, ReadMode::Read).expect("bench capture opens");
            assert_eq!(read_all(file), packets)
        })
    });
    group.bench_function("memory_and_decode", |b| {
        b.iter(|| {
            let mut file = open_memory(&bytes);
            let mut classifier = Classifier::default();
            let mut meta = PacketMeta::default();
            let mut metered = 0u64;
            while let Some(p) = file.next_packet().expect("generated capture reads") {
                metered += u64::from(classifier.classify(&p, &mut meta));
            }
            assert_eq!(metered, packets);
        })
    });
    group.finish();
    let _ = std::fs::remove_file(&path);
}

criterion_group!(benches, bench_reader);
criterion_main!(benches);
