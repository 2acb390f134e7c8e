//! Fuzz target: `CaptureFile::from_reader` over arbitrary bytes, read to the end.
//!
//! The first byte picks how the stream is delivered (all at once, or in short reads of
//! 1..=255 bytes, like a pipe or a FIFO), the rest is the file. Every packet handed out
//! must hold no more bytes than the file, time must not go backwards (clamping is on);
//! after an error the reader must stay finished.
#![no_main]

use std::io::{Cursor, Read};

use libfuzzer_sys::fuzz_target;

use flowprobe::capture::file::CaptureFile;

/// A reader that returns at most `chunk` bytes per call.
struct Chunked {
    inner: Cursor<Vec<u8>>,
    chunk: usize,
}

impl Read for Chunked {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.chunk);
        self.inner.read(&mut buf[..n])
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, file)) = data.split_first() else {
        return;
    };
    let chunk = if mode == 0 { usize::MAX } else { mode as usize };
    let src = Chunked {
        inner: Cursor::new(file.to_vec()),
        chunk,
    };
    let Ok(mut f) = CaptureFile::from_reader("fuzz".into(), Box::new(src), Some(file.len() as u64))
    else {
        return;
    };
    let mut packets = 0u64;
    let mut last = flowprobe::time::Timestamp::ZERO;
    loop {
        match f.next_packet() {
            Ok(Some(p)) => {
                packets += 1;
                // Clamping is on by default: time never goes backwards.
                assert!(p.ts >= last, "timestamp went backwards unclamped");
                last = p.ts;
                // A packet's bytes came from the file: never more than the file holds.
                assert!(p.data.len() <= file.len(), "packet longer than the file");
            }
            Ok(None) => break,
            Err(e) => {
                // The error names a place inside what was read.
                if let Some(at) = e.offset() {
                    assert!(at <= file.len() as u64, "error offset {at} past the end");
                }
                // After an error the reader stays finished.
                assert!(matches!(f.next_packet(), Ok(None)));
                break;
            }
        }
    }
    assert!(f.bytes_read() <= file.len() as u64);
    let _ = packets;
});
