//! Mutated captures through `CaptureFile`, with the allocator watching: no panic, no
//! allocation sized by a length field.
//!
//! Seeds are real captures from `../shared/pcaps` (small ones, every format there) plus
//! synthetic pcapng files; each mutation overwrites length-like fields with hostile values,
//! flips bytes, cuts, or splices. A counting global allocator records, per thread, the
//! largest single allocation and the peak of live bytes while a mutated file is read; the
//! reader may hold its 1 MiB buffer and a bounded interface table, nothing more.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;
use std::path::Path;

use flowprobe::capture::file::{CaptureError, CaptureFile, ReadMode, BUFFER_SIZE};

struct Counting;

thread_local! {
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn on_alloc(size: usize) {
    // `try_with`: the thread-locals may be gone while a thread is torn down.
    let _ = LIVE.try_with(|l| {
        let live = l.get() + size;
        l.set(live);
        let _ = PEAK.try_with(|p| p.set(p.get().max(live)));
    });
    let _ = LARGEST.try_with(|m| m.set(m.get().max(size)));
}

fn on_free(size: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get().saturating_sub(size)));
}

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping
// touches only const-initialised thread-local `Cell`s, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        on_alloc(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        on_free(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        on_free(layout.size());
        on_alloc(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// xorshift64*: deterministic, so a failure names a reproducible case.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const HOSTILE: [u32; 12] = [
    0,
    1,
    3,
    8,
    12,
    0xffff_ffff,
    0x7fff_ffff,
    0x8000_0000,
    0x0004_0001,
    0x0100_0004,
    0x0010_0000,
    0x0a0d_0d0a,
];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for _ in 0..1 + rng.below(4) {
        if v.is_empty() {
            break;
        }
        match rng.below(6) {
            // A hostile u32 at a 4-aligned offset, either byte order: lengths, caplens,
            // interface ids, block types all sit on 4-byte boundaries.
            0 | 1 => {
                let at = rng.below(v.len() / 4) * 4;
                let x = HOSTILE[rng.below(HOSTILE.len())];
                let bytes = if rng.below(2) == 0 {
                    x.to_le_bytes()
                } else {
                    x.to_be_bytes()
                };
                for (i, b) in bytes.iter().enumerate() {
                    if let Some(slot) = v.get_mut(at + i) {
                        *slot = *b;
                    }
                }
            }
            2 => {
                let at = rng.below(v.len());
                v[at] = rng.next() as u8;
            }
            3 => v.truncate(rng.below(v.len() + 1)),
            // Splice: repeat a chunk somewhere else.
            4 => {
                let a = rng.below(v.len());
                let b = (a + rng.below(256)).min(v.len());
                let chunk = v[a..b].to_vec();
                let at = rng.below(v.len());
                v.splice(at..at, chunk);
            }
            _ => {
                let at = rng.below(v.len());
                v.insert(at, rng.next() as u8);
            }
        }
    }
    v
}

/// What a read gave: packets, where it stopped, the error's message.
type Summary = (u64, u64, Option<String>);

/// Reads `bytes` to the end or an error; returns (largest allocation, peak live bytes)
/// during the read, the input itself excluded, and what the read gave.
fn measured_read(bytes: Vec<u8>) -> (usize, usize, Summary) {
    let len = bytes.len() as u64;
    let src = Box::new(Cursor::new(bytes));
    reset_counters();
    let opened = CaptureFile::from_reader("fuzz".into(), src, Some(len));
    let summary = drain(opened, len);
    (LARGEST.with(Cell::get), PEAK.with(Cell::get), summary)
}

/// The same bytes written to `path` and read as `convert` reads a file: mapped.
fn measured_mapped_read(bytes: &[u8], path: &Path) -> (usize, usize, Summary) {
    std::fs::write(path, bytes).expect("write the mutated capture");
    let len = bytes.len() as u64;
    reset_counters();
    let opened = std::fs::File::open(path)
        .map_err(|e| panic!("reopen: {e}"))
        .and_then(|file| CaptureFile::from_file("fuzz".into(), file, ReadMode::Auto));
    if let Ok(f) = &opened {
        assert_eq!(f.is_mapped(), len > 0);
    }
    let summary = drain(opened, len);
    (LARGEST.with(Cell::get), PEAK.with(Cell::get), summary)
}

fn reset_counters() {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    LARGEST.with(|m| m.set(0));
}

fn drain(opened: Result<CaptureFile, CaptureError>, len: u64) -> Summary {
    let mut f = match opened {
        Ok(f) => f,
        Err(e) => return (0, 0, Some(e.to_string())),
    };
    let mut n = 0u64;
    let error = loop {
        match f.next_packet() {
            Ok(Some(p)) => {
                assert!(p.data.len() <= 256 * 1024);
                n += 1;
            }
            Ok(None) => break None,
            Err(e) => break Some(e.to_string()),
        }
    };
    assert!(n <= len);
    assert!(f.bytes_read() <= len);
    (n, f.bytes_read(), error)
}

fn seeds() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    // A pcapng with two interfaces and an unknown block, built here so that the test
    // has pcapng seeds even without ../shared.
    let mut ng = Vec::new();
    let block = |v: &mut Vec<u8>, t: u32, body: &[u8]| {
        let len = (12 + body.len()) as u32;
        v.extend_from_slice(&t.to_le_bytes());
        v.extend_from_slice(&len.to_le_bytes());
        v.extend_from_slice(body);
        v.extend_from_slice(&len.to_le_bytes());
    };
    block(
        &mut ng,
        0x0a0d_0d0a,
        &[
            0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        ],
    );
    block(
        &mut ng,
        1,
        &[
            1, 0, 0, 0, 0, 0, 1, 0, 9, 0, 1, 0, 0x89, 0, 0, 0, 0, 0, 0, 0,
        ],
    );
    block(&mut ng, 1, &[101, 0, 0, 0, 64, 0, 0, 0]);
    for i in 0..4u8 {
        block(
            &mut ng,
            6,
            &[
                i % 2,
                0,
                0,
                0,
                0,
                0,
                0,
                0,
                i,
                0,
                0,
                0,
                4,
                0,
                0,
                0,
                4,
                0,
                0,
                0,
                1,
                2,
                3,
                4,
            ],
        );
        block(&mut ng, 0x0bad, &[i; 8]);
        block(&mut ng, 3, &[6, 0, 0, 0, 1, 2, 3, 4, 5, 6, 0, 0]);
    }
    out.push(ng);

    let root = Path::new("../shared/pcaps");
    if let Ok(text) = std::fs::read_to_string(root.join("MANIFEST.tsv")) {
        // The smallest file of each format and link type, plus every 40th small file.
        let mut seen = std::collections::HashSet::new();
        for (i, line) in text.lines().skip(1).enumerate() {
            let f: Vec<&str> = line.split('\t').collect();
            let (Some(file), Some(bytes)) =
                (f.first(), f.get(1).and_then(|b| b.parse::<u64>().ok()))
            else {
                continue;
            };
            let key = (
                f.get(3).copied().unwrap_or(""),
                f.get(4).copied().unwrap_or(""),
            );
            if bytes <= 16 * 1024 && (seen.insert(key) || i % 40 == 0) {
                if let Ok(b) = std::fs::read(root.join(file)) {
                    out.push(b);
                }
            }
        }
    }
    out
}

#[test]
fn mutated_captures_never_panic_or_allocate_by_length_fields() {
    let seeds = seeds();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut worst_single, mut worst_peak, mut cases) = (0usize, 0usize, 0usize);
    let rounds = 150_000 / seeds.len().max(1) + 1;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mutated.pcap");
    for (s, seed) in seeds.iter().enumerate() {
        for r in 0..rounds {
            let input = mutate(&mut rng, seed);
            // Every fourth input also through a map of a real file: same result, and
            // no more allocation than the buffered path (no buffer at all).
            // (An empty file is not mapped: it takes the buffered path, already covered.)
            let mapped =
                (r % 4 == 0 && !input.is_empty()).then(|| measured_mapped_read(&input, &path));
            let (single, peak, summary) = measured_read(input);
            if let Some((m_single, m_peak, m_summary)) = mapped {
                assert_eq!(
                    m_summary, summary,
                    "seed {s} round {r}: mapped and read(2) differ"
                );
                assert!(
                    m_single <= single,
                    "seed {s} round {r}: mapped allocation of {m_single} bytes"
                );
                assert!(
                    m_peak <= peak,
                    "seed {s} round {r}: mapped {m_peak} bytes live"
                );
            }
            cases += 1;
            // The buffer, an error message, an interface table: nothing near a length
            // field's reach (a hostile u32 here is up to 4 GiB).
            assert!(
                single <= BUFFER_SIZE + 64 * 1024,
                "seed {s} round {r}: allocation of {single} bytes"
            );
            assert!(
                peak <= 2 * BUFFER_SIZE,
                "seed {s} round {r}: {peak} bytes live"
            );
            worst_single = worst_single.max(single);
            worst_peak = worst_peak.max(peak);
        }
    }
    eprintln!(
        "{cases} mutated captures from {} seeds: largest allocation {worst_single} bytes, peak {worst_peak} bytes",
        seeds.len()
    );
}
