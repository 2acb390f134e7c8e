//! Streaming reader for capture files: classic pcap and pcapng.
//!
//! `CaptureFile` hands out `Packet`s whose bytes borrow its buffer, so a packet costs a
//! header parse and a few bounds checks: no allocation and no copy per packet. The buffer
//! is one of two kinds ([`ReadMode`]):
//! - a regular file is mapped whole, read-only (`file/mapped.rs`, the one `unsafe`
//!   island, with what a truncation under the map does and how it is handled): the reader
//!   walks the page cache in place, with no copy at all;
//! - anything else (a pipe, stdin, a socket, a character device, an empty file, a test's
//!   byte stream) is read through one large buffer (1 MiB, refilled by moving the unread
//!   tail to the front), the kernel copying into it 1 MiB per `read` call. A
//!   `Box<dyn Read>` source lets tests and stdin use the same reader; the dynamic call
//!   happens once per refill, not per packet.
//!
//! Both kinds run the same framing code over the same `buf[start..end]` window, so the
//! rules below (limits, errors, offsets) are the same byte for byte; the tests run every
//! input through both.
//!
//! The format-specific framing lives in `file/pcap.rs` and `file/pcapng.rs`; this module
//! owns the buffer, the errors and the dispatch.
//!
//! Measured (release, 1M packets of ~100 bytes, file in the page cache, idle 2-core VM):
//! 18 ns a packet for classic pcap and 28 ns for pcapng wall clock, of which the
//! kernel's copy into the buffer is most (`dd bs=1M` of the same file takes ~17 ns a
//! packet); user CPU time ~7 ns a packet (pcap) and ~12 ns (pcapng).
//!
//! # Hostile input
//! Every length field is checked before it is used, and no allocation is ever sized by
//! one: the buffer is allocated once, packets are at most [`MAX_CAPLEN`] (256 KiB, the
//! largest snaplen libpcap writes for ordinary link types), pcapng blocks at most
//! [`MAX_BLOCK_LEN`] (16 MiB, and blocks that are read whole, packet blocks and interface
//! descriptions, at most the 1 MiB buffer); larger ones are refused. The interface table
//! of a pcapng section is capped at [`MAX_INTERFACES`].
//!
//! The rule for what stops the read: when the framing is still trustworthy (we know where
//! the next record starts, and the record says what it is) the reader goes on and counts
//! the oddity in [`ReaderStats`]; when it is not, `next_packet` returns a
//! [`CaptureError`] naming the file, the byte offset of the record and what was wrong,
//! and every later call returns `Ok(None)`. Packets handed out before the error are good;
//! the caller uses them and then reports the error (non-zero exit).
//!
//! | input | outcome |
//! |---|---|
//! | caplen > snaplen (but <= 256 KiB) | read, counted `caplen_over_snaplen` |
//! | caplen > original length | read, counted `caplen_over_orig_len` |
//! | caplen 0 | handed out (empty data), counted `zero_length` |
//! | sub-second field >= 1 s (pcap) | added as is, counted `subsec_overflow` |
//! | timestamp earlier than the previous one | clamped to it, counted `timestamps_clamped` |
//! | unknown / non-packet pcapng block | skipped by its length, counted `skipped_blocks` |
//! | caplen > 256 KiB | error `CaplenTooLarge` |
//! | file cut inside a record or block | error `Truncated` |
//! | pcapng block length < minimum, not a multiple of 4, > 16 MiB, trailer differs | error |
//! | pcapng packet longer than its block | error `PacketExceedsBlock` |
//! | pcapng packet on an interface with no IDB | error `UnknownInterface` |
//! | pcapng option running past its block | error `BadOption` |
//! | pcap version 2.x other than 2.4; pcapng 1.2 | read, as libpcap does |
//! | other pcap / pcapng versions | error `UnsupportedVersion` |
//! | file shorter than its magic number and header | error `Truncated` / `NotCapture` |
//!
//! # Interfaces
//! `Packet::interface` is, for pcapng, the index of the Interface Description Block within
//! its section (the numbering restarts at each Section Header Block, as the pcapng spec
//! defines it); for classic pcap it is 0. Each pcapng interface has its own link type,
//! snaplen, timestamp resolution (`if_tsresol`, power of 10 or of 2) and offset
//! (`if_tsoffset`, seconds); timestamps are converted exactly (floor) to nanoseconds.
//!
//! Classic pcap's `thiszone` field is ignored (libpcap and Wireshark ignore it too; it is
//! 0 in practice). The link type is the low 16 bits of the header's link-type field; the
//! upper bits (FCS length, reserved) are reported by [`CaptureFile::fcs_len`].

mod mapped;
mod pcap;
mod pcapng;

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::ops::Deref;
use std::path::Path;

use super::Packet;
use crate::time::Timestamp;

/// Size of the read buffer. Refills move the unread tail to the front.
pub const BUFFER_SIZE: usize = 1 << 20;
/// How far ahead of the cursor [`CaptureFile::next_packet`] prefetches.
const PREFETCH_AHEAD: usize = 4096;
/// Largest captured length accepted for one packet (libpcap's `MAXIMUM_SNAPLEN`).
pub const MAX_CAPLEN: u32 = 256 * 1024;
/// Largest pcapng block accepted at all; blocks that are read whole (packet blocks,
/// interface descriptions) must also fit in [`BUFFER_SIZE`].
pub const MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;
/// Most Interface Description Blocks accepted in one pcapng section.
pub const MAX_INTERFACES: usize = 65_536;

/// Byte order of a pcap file or pcapng section.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOrder {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

impl ByteOrder {
    /// The `N` bytes at `at`, zeros when out of range (callers have checked the length).
    #[inline(always)]
    fn bytes<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
        let mut a = [0u8; N];
        if let Some(s) = b.get(at..at + N) {
            a.copy_from_slice(s);
        }
        a
    }

    /// The u16 at `at`, 0 when out of range (callers have checked the length before).
    #[inline(always)]
    pub(crate) fn u16(self, b: &[u8], at: usize) -> u16 {
        let a = Self::bytes(b, at);
        match self {
            ByteOrder::Little => u16::from_le_bytes(a),
            ByteOrder::Big => u16::from_be_bytes(a),
        }
    }

    /// The u32 at `at`, 0 when out of range (callers have checked the length before).
    #[inline(always)]
    pub(crate) fn u32(self, b: &[u8], at: usize) -> u32 {
        let a = Self::bytes(b, at);
        match self {
            ByteOrder::Little => u32::from_le_bytes(a),
            ByteOrder::Big => u32::from_be_bytes(a),
        }
    }

    /// The u64 at `at`, 0 when out of range (callers have checked the length before).
    #[inline(always)]
    pub(crate) fn u64(self, b: &[u8], at: usize) -> u64 {
        let a = Self::bytes(b, at);
        match self {
            ByteOrder::Little => u64::from_le_bytes(a),
            ByteOrder::Big => u64::from_be_bytes(a),
        }
    }

    fn short(self) -> &'static str {
        match self {
            ByteOrder::Little => "LE",
            ByteOrder::Big => "BE",
        }
    }
}

/// The container format of an open file, for logs: `pcap (LE, us)`, `pcapng (BE)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileFormat {
    /// Classic libpcap format.
    Pcap {
        /// Byte order of the headers.
        order: ByteOrder,
        /// Nanosecond timestamps (magic a1b23c4d) rather than microseconds.
        nanos: bool,
        /// Kuznetzov's modified format (magic a1b2cd34): 8 more bytes per record header.
        modified: bool,
    },
    /// pcapng.
    Pcapng {
        /// Byte order of the current section.
        order: ByteOrder,
        /// Section Header Blocks seen so far.
        sections: u32,
    },
}

impl fmt::Display for FileFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            FileFormat::Pcap {
                order,
                nanos,
                modified,
            } => write!(
                f,
                "pcap ({}, {}{})",
                order.short(),
                if nanos { "ns" } else { "us" },
                if modified { ", modified" } else { "" }
            ),
            FileFormat::Pcapng { order, sections } if sections > 1 => {
                write!(f, "pcapng ({}, {sections} sections)", order.short())
            }
            FileFormat::Pcapng { order, .. } => write!(f, "pcapng ({})", order.short()),
        }
    }
}

/// Counters of oddities read past (see the module doc for what each means).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReaderStats {
    /// Packets handed out.
    pub packets: u64,
    /// Packets whose captured length exceeds the file's or interface's snaplen.
    pub caplen_over_snaplen: u64,
    /// Packets whose captured length exceeds their original (wire) length.
    pub caplen_over_orig_len: u64,
    /// Packets with no captured bytes.
    pub zero_length: u64,
    /// Classic pcap records whose microsecond/nanosecond field is a second or more.
    pub subsec_overflow: u64,
    /// Packets whose timestamp went backwards and was raised to the previous one.
    pub timestamps_clamped: u64,
    /// pcapng timestamps that fell outside 1970..2554 after `if_tsoffset` (saturated).
    pub timestamps_saturated: u64,
    /// pcapng blocks skipped: name resolution, statistics, secrets, custom, unknown.
    pub skipped_blocks: u64,
    /// pcapng Section Header Blocks read.
    pub sections: u64,
    /// pcapng Interface Description Blocks read (all sections).
    pub interfaces: u64,
}

/// One pcapng interface (or the single interface of a classic pcap file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InterfaceInfo {
    /// LINKTYPE_* value.
    pub link_type: u32,
    /// Snapshot length, 0 meaning unlimited.
    pub snaplen: u32,
    /// Raw `if_tsresol` byte (6 = microseconds when absent).
    pub tsresol: u8,
    /// `if_tsoffset` in seconds (0 when absent).
    pub tsoffset: i64,
    /// FCS bytes at the end of each frame, when the file says (`if_fcslen`, or the FCS
    /// bits of a classic pcap link-type field).
    pub fcs_len: Option<u8>,
    pub(crate) scale: TsScale,
}

/// Conversion of a pcapng timestamp unit count to nanoseconds, chosen once per interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TsScale {
    /// units * 10^(9-k), k <= 9.
    Mul(u64),
    /// units / 10^(k-9), k in 10..=28 (beyond that every u64 count floors to 0).
    Div(u128),
    /// units * 10^9 / 2^k.
    Pow2(u32),
    /// Resolution so fine that any 64-bit count is under a nanosecond.
    Zero,
}

impl TsScale {
    pub(crate) fn from_tsresol(r: u8) -> TsScale {
        let k = u32::from(r & 0x7f);
        if r & 0x80 != 0 {
            TsScale::Pow2(k)
        } else if k <= 9 {
            TsScale::Mul(10u64.pow(9 - k))
        } else if k - 9 <= 20 {
            // 10^20 > u64::MAX, so larger divisors all give 0.
            TsScale::Div(10u128.pow(k - 9))
        } else {
            TsScale::Zero
        }
    }

    /// Nanoseconds (floor) for `units`, as i128 so that the offset can be added exactly.
    #[inline]
    pub(crate) fn nanos(self, units: u64) -> i128 {
        let u = u128::from(units);
        let ns = match self {
            TsScale::Mul(m) => u * u128::from(m),
            TsScale::Div(d) => u / d,
            // u < 2^64 and 10^9 < 2^30: the product fits in u128; k <= 127.
            TsScale::Pow2(k) => (u * 1_000_000_000) >> k,
            TsScale::Zero => 0,
        };
        ns as i128
    }
}

/// Everything that can go wrong in a capture file, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or its size read.
    #[error("{file}: cannot open: {source}")]
    Open {
        /// The file.
        file: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A read failed.
    #[error("{file}: read error at byte {offset}: {source}")]
    Io {
        /// The file.
        file: String,
        /// Bytes consumed before the failing read.
        offset: u64,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file does not start with a pcap or pcapng magic number.
    #[error("{file}: not a pcap or pcapng file: magic 0x{magic:08x}{}", looks_like.map(|l| format!(" (looks like {l})")).unwrap_or_default())]
    NotCapture {
        /// The file.
        file: String,
        /// The first four bytes, big-endian (0 padded when shorter).
        magic: u32,
        /// A format the magic belongs to, when recognised (gzip, snoop, ...).
        looks_like: Option<&'static str>,
    },
    /// The file's framing is broken at `offset`.
    #[error("{file}: byte {offset}: {kind}")]
    Format {
        /// The file.
        file: String,
        /// Byte offset of the record, block or field at fault.
        offset: u64,
        /// What was wrong.
        kind: FormatError,
    },
}

impl CaptureError {
    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            CaptureError::Open { file, .. }
            | CaptureError::Io { file, .. }
            | CaptureError::NotCapture { file, .. }
            | CaptureError::Format { file, .. } => file,
        }
    }

    /// The byte offset the error refers to, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            CaptureError::Io { offset, .. } | CaptureError::Format { offset, .. } => Some(*offset),
            CaptureError::NotCapture { .. } => Some(0),
            CaptureError::Open { .. } => None,
        }
    }

    /// The framing fault, for `Format` errors.
    pub fn kind(&self) -> Option<FormatError> {
        match self {
            CaptureError::Format { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// What is wrong with a file's framing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// The file ends inside a header, record or block.
    #[error("file cut short inside {what}: {need} bytes needed, {have} present")]
    Truncated {
        /// "the file header", "a packet record", "a block", ...
        what: &'static str,
        /// Bytes the structure needs from its start.
        need: u64,
        /// Bytes present from its start to the end of the file.
        have: u64,
    },
    /// A version this reader does not know.
    #[error("unsupported {format} version {major}.{minor}")]
    UnsupportedVersion {
        /// "pcap" or "pcapng".
        format: &'static str,
        /// Major version.
        major: u16,
        /// Minor version.
        minor: u16,
    },
    /// A captured length over [`MAX_CAPLEN`].
    #[error("captured length {caplen} exceeds the maximum of {max} bytes")]
    CaplenTooLarge {
        /// The captured length field.
        caplen: u32,
        /// The limit.
        max: u32,
    },
    /// A pcapng Section Header Block with a byte-order magic that is neither order.
    #[error("bad byte-order magic 0x{magic:08x} in section header")]
    BadByteOrderMagic {
        /// The field as read little-endian.
        magic: u32,
    },
    /// A pcapng block total length that is not a multiple of 4.
    #[error("block length {len} is not a multiple of 4")]
    BlockLengthNotAligned {
        /// The block total length field.
        len: u32,
    },
    /// A block shorter than its type's fixed part.
    #[error("block type 0x{block_type:08x} has length {len}, shorter than its minimum {min}")]
    BlockTooShort {
        /// Block type.
        block_type: u32,
        /// Block total length.
        len: u32,
        /// Minimum for this type.
        min: u32,
    },
    /// A block longer than this reader accepts.
    #[error("block type 0x{block_type:08x} has length {len}, longer than the maximum {max}")]
    BlockTooLarge {
        /// Block type.
        block_type: u32,
        /// Block total length.
        len: u32,
        /// Limit for this type.
        max: u32,
    },
    /// The trailing length of a block differs from the leading one.
    #[error("block total length {header} at its start but {trailer} at its end")]
    BlockLengthMismatch {
        /// Leading length.
        header: u32,
        /// Trailing length.
        trailer: u32,
    },
    /// A packet's captured length runs past the end of its block.
    #[error("captured length {caplen} does not fit in the block's {room} bytes of packet data")]
    PacketExceedsBlock {
        /// Captured length field.
        caplen: u32,
        /// Room in the block.
        room: u32,
    },
    /// A packet block names an interface with no Interface Description Block.
    #[error("packet on interface {interface}, but the section describes {count} interfaces")]
    UnknownInterface {
        /// Interface id in the block.
        interface: u32,
        /// IDBs in the current section.
        count: u32,
    },
    /// A section with more than [`MAX_INTERFACES`] interfaces.
    #[error("more than {max} interfaces in one section")]
    TooManyInterfaces {
        /// The limit.
        max: u32,
    },
    /// An option whose length runs past the end of its block.
    #[error("option code {code} with length {len} runs past the end of its block")]
    BadOption {
        /// Option code.
        code: u16,
        /// Option length.
        len: u16,
    },
}

/// How [`CaptureFile::open_with`] reads a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadMode {
    /// Map a regular, non-empty file; read anything else with `read(2)`.
    Auto,
    /// Always `read(2)` into the 1 MiB buffer.
    Read,
}

/// The bytes the framing code reads: a 1 MiB buffer refilled by `read(2)`, or the whole
/// file mapped.
enum Buffer {
    Owned(Vec<u8>),
    Mapped(mapped::Mapped),
}

impl Deref for Buffer {
    type Target = [u8];
    #[inline(always)]
    fn deref(&self) -> &[u8] {
        match self {
            Buffer::Owned(v) => v,
            Buffer::Mapped(m) => m,
        }
    }
}

/// One open capture file.
pub struct CaptureFile {
    name: String,
    src: Box<dyn Read + Send>,
    /// `buf[start..end]` is read but not consumed. A map holds the whole file
    /// (`end` = its length, `eof` set from the start).
    buf: Buffer,
    start: usize,
    end: usize,
    /// File offset of `buf[0]`.
    base: u64,
    eof: bool,
    /// Set after an error: every later call returns `Ok(None)`.
    done: bool,
    total_len: Option<u64>,
    format: FileFormat,
    state: State,
    stats: ReaderStats,
    clamp: bool,
    last_ts: u64,
    /// When `start` passes this, a map hands back the pages behind it
    /// (`usize::MAX` for a buffer).
    release_at: usize,
    /// Bytes from the start of `buf` up to which `prefetch_ahead` has asked for lines.
    prefetched: usize,
}

enum State {
    Pcap(pcap::Header),
    Pcapng(pcapng::Section),
}

impl fmt::Debug for CaptureFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptureFile")
            .field("name", &self.name)
            .field("format", &self.format)
            .field("offset", &self.bytes_read())
            .finish_non_exhaustive()
    }
}

/// Result of `ensure`: how many bytes from `start` are there, at most `need`.
enum Fill {
    Ready,
    /// End of file with this many bytes available (fewer than needed).
    Short(usize),
}

impl CaptureFile {
    /// Opens a file and reads its header: a regular file through a map, anything else
    /// with `read(2)` ([`ReadMode::Auto`]).
    pub fn open(path: &Path) -> Result<CaptureFile, CaptureError> {
        CaptureFile::open_with(path, ReadMode::Auto)
    }

    /// Opens a file and reads its header, choosing how it is read.
    pub fn open_with(path: &Path, mode: ReadMode) -> Result<CaptureFile, CaptureError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|source| CaptureError::Open {
            file: name.clone(),
            source,
        })?;
        CaptureFile::from_file(name, file, mode)
    }

    /// Reads an open file (named `name` in errors), choosing how it is read.
    pub fn from_file(
        name: String,
        file: File,
        mode: ReadMode,
    ) -> Result<CaptureFile, CaptureError> {
        let meta = file.metadata().map_err(|source| CaptureError::Open {
            file: name.clone(),
            source,
        })?;
        let len = meta.len();
        if mode == ReadMode::Auto && meta.is_file() && len > 0 {
            match mapped::Mapped::new(&file, len) {
                Ok(map) => {
                    let end = map.len();
                    return CaptureFile::with_buffer(
                        name,
                        Box::new(io::empty()),
                        Buffer::Mapped(map),
                        end,
                        Some(len),
                    );
                }
                // A file system that cannot map (some FUSE and network ones): read it.
                Err(e) => log::debug!("{name}: cannot map ({e}); reading it instead"),
            }
        }
        let total_len = meta.is_file().then_some(len);
        CaptureFile::from_reader(name, Box::new(file), total_len)
    }

    /// Whether the file is read through a map (rather than `read(2)`).
    pub fn is_mapped(&self) -> bool {
        matches!(self.buf, Buffer::Mapped(_))
    }

    /// Reads a capture from any byte stream (tests, stdin). `name` is used in errors;
    /// `total_len`, when known, feeds the progress bar.
    pub fn from_reader(
        name: String,
        src: Box<dyn Read + Send>,
        total_len: Option<u64>,
    ) -> Result<CaptureFile, CaptureError> {
        let buf = Buffer::Owned(vec![0u8; BUFFER_SIZE]);
        CaptureFile::with_buffer(name, src, buf, 0, total_len)
    }

    /// `buf[..end]` holds bytes already; a map is the whole file (`eof` from the start).
    fn with_buffer(
        name: String,
        src: Box<dyn Read + Send>,
        buf: Buffer,
        end: usize,
        total_len: Option<u64>,
    ) -> Result<CaptureFile, CaptureError> {
        let eof = matches!(buf, Buffer::Mapped(_));
        let release_at = if eof {
            mapped::RELEASE_STEP
        } else {
            usize::MAX
        };
        let mut f = CaptureFile {
            name,
            src,
            buf,
            start: 0,
            end,
            base: 0,
            eof,
            done: false,
            total_len,
            format: FileFormat::Pcapng {
                order: ByteOrder::Little,
                sections: 0,
            },
            state: State::Pcapng(pcapng::Section::default()),
            stats: ReaderStats::default(),
            clamp: true,
            last_ts: 0,
            release_at,
            prefetched: 0,
        };
        f.read_file_header()?;
        Ok(f)
    }

    /// Whether timestamps that go backwards are raised to the previous packet's
    /// (default true, counted in `timestamps_clamped`).
    pub fn set_clamp_timestamps(&mut self, clamp: bool) {
        self.clamp = clamp;
    }

    /// The name given at open (the path), as used in errors.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Bytes consumed so far: the offset of the next record.
    pub fn bytes_read(&self) -> u64 {
        self.base + self.start as u64
    }

    /// The file's length, when known.
    pub fn total_len(&self) -> Option<u64> {
        self.total_len
    }

    /// The container format (for pcapng, the byte order of the current section).
    pub fn format(&self) -> FileFormat {
        self.format
    }

    /// Counters of oddities read past.
    pub fn stats(&self) -> ReaderStats {
        self.stats
    }

    /// The interfaces of the current pcapng section, or the single interface of a classic
    /// pcap file (index = `Packet::interface`).
    pub fn interfaces(&self) -> &[InterfaceInfo] {
        match &self.state {
            State::Pcap(h) => std::slice::from_ref(&h.interface),
            State::Pcapng(s) => &s.interfaces,
        }
    }

    /// FCS bytes at the end of each frame of `interface`, when the file says.
    pub fn fcs_len(&self, interface: u32) -> Option<u8> {
        self.interfaces()
            .get(interface as usize)
            .and_then(|i| i.fcs_len)
    }

    /// Next packet, `Ok(None)` at a clean end of file (and after an error was returned).
    #[inline]
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        self.prefetch_ahead();
        if self.start >= self.release_at {
            self.release_behind();
        }
        let r = match self.state {
            State::Pcap(_) => self.next_pcap(),
            State::Pcapng(_) => self.next_pcapng(),
        };
        match r {
            Ok(Some((range, mut p))) => {
                if p.ts.0 < self.last_ts && self.clamp {
                    self.stats.timestamps_clamped += 1;
                    p.ts = Timestamp(self.last_ts);
                }
                self.last_ts = p.ts.0;
                self.stats.packets += 1;
                if range.0 == range.1 {
                    self.stats.zero_length += 1;
                }
                Ok(Some(Packet {
                    ts: p.ts,
                    link_type: p.link_type,
                    interface: p.interface,
                    data: self.buf.get(range.0..range.1).unwrap_or_default(),
                    orig_len: p.orig_len,
                }))
            }
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// Asks the CPU to start loading the bytes [`PREFETCH_AHEAD`] past the cursor, so
    /// that the records a few packets on are in cache when parsed: a map is walked in
    /// place, and without this each record header costs a cache miss.
    #[inline(always)]
    fn prefetch_ahead(&mut self) {
        let until = self.start + PREFETCH_AHEAD;
        while self.prefetched < until {
            mapped::prefetch(self.buf.as_ptr().wrapping_add(self.prefetched));
            self.prefetched += 64;
        }
    }

    /// Asks the CPU to start loading the next record, whose offset is known as soon as
    /// this one's header is read: its header and the frame's first headers (two cache
    /// lines). The packet at hand is decoded and metered meanwhile, so the miss on the
    /// next header, most of the reader's time before (perf annotate: 61% of the read
    /// loop's samples on the load of a record's length), overlaps that work.
    #[inline(always)]
    fn prefetch_record(&self) {
        let next = self.buf.as_ptr().wrapping_add(self.start);
        mapped::prefetch(next);
        mapped::prefetch(next.wrapping_add(80));
    }

    #[cold]
    fn release_behind(&mut self) {
        if let Buffer::Mapped(m) = &mut self.buf {
            m.release_before(self.start);
            m.populate_ahead(self.start);
        }
        self.release_at = self.start.saturating_add(mapped::RELEASE_STEP);
    }

    fn read_file_header(&mut self) -> Result<(), CaptureError> {
        let have = match self.ensure(4)? {
            Fill::Ready => 4,
            Fill::Short(n) => n,
        };
        let mut m = [0u8; 4];
        m[..have].copy_from_slice(&self.buf[self.start..self.start + have]);
        let head = m.get(..have).unwrap_or_default();
        let prefix_of_magic = [0xa1b2_c3d4u32, 0xa1b2_3c4d, 0xa1b2_cd34, pcapng::SHB_TYPE]
            .iter()
            .any(|x| x.to_le_bytes().starts_with(head) || x.to_be_bytes().starts_with(head));
        if have > 0 && have < 4 && prefix_of_magic {
            return Err(self.truncated("the file header", 4, have));
        }
        if have == 4 {
            if m == pcapng::SHB_TYPE.to_le_bytes() {
                self.state = State::Pcapng(pcapng::Section::default());
                return self.read_shb();
            }
            if let Some((order, nanos, modified)) = pcap::magic(m) {
                self.format = FileFormat::Pcap {
                    order,
                    nanos,
                    modified,
                };
                return self.read_pcap_header(order, nanos, modified);
            }
        }
        Err(CaptureError::NotCapture {
            file: self.name.clone(),
            magic: u32::from_be_bytes(m),
            looks_like: looks_like(&m[..have]),
        })
    }

    fn format_err(&self, offset: u64, kind: FormatError) -> CaptureError {
        CaptureError::Format {
            file: self.name.clone(),
            offset,
            kind,
        }
    }

    fn truncated(&self, what: &'static str, need: u64, have: usize) -> CaptureError {
        self.format_err(
            self.bytes_read(),
            FormatError::Truncated {
                what,
                need,
                have: have as u64,
            },
        )
    }

    /// Makes `need` (<= BUFFER_SIZE) bytes available at `buf[start..]`, reading as much
    /// as the buffer holds per read call.
    #[inline]
    fn ensure(&mut self, need: usize) -> Result<Fill, CaptureError> {
        if self.end - self.start >= need {
            return Ok(Fill::Ready);
        }
        self.ensure_slow(need)
    }

    #[cold]
    fn ensure_slow(&mut self, need: usize) -> Result<Fill, CaptureError> {
        debug_assert!(need <= BUFFER_SIZE);
        let Buffer::Owned(buf) = &mut self.buf else {
            // A map holds the whole file: what is not there does not exist.
            return Ok(Fill::Short(self.end - self.start));
        };
        if self.start + need > buf.len() {
            buf.copy_within(self.start..self.end, 0);
            self.base += self.start as u64;
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < need {
            if self.eof {
                return Ok(Fill::Short(self.end - self.start));
            }
            match self.src.read(buf.get_mut(self.end..).unwrap_or_default()) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::Io {
                        file: self.name.clone(),
                        offset: self.bytes_read(),
                        source,
                    })
                }
            }
        }
        Ok(Fill::Ready)
    }

    /// Consumes `n` bytes, reading and dropping what is not buffered. Returns the number
    /// of bytes actually skipped (fewer only at end of file).
    fn skip(&mut self, n: u64) -> Result<u64, CaptureError> {
        let avail = (self.end - self.start) as u64;
        if n <= avail {
            self.start += n as usize;
            return Ok(n);
        }
        let mut left = n - avail;
        self.base += self.end as u64;
        self.start = 0;
        self.end = 0;
        let Buffer::Owned(buf) = &mut self.buf else {
            // A map holds the whole file: skipping past its end skips `avail` bytes.
            return Ok(avail);
        };
        while left > 0 && !self.eof {
            let want = left.min(buf.len() as u64) as usize;
            match self.src.read(buf.get_mut(..want).unwrap_or_default()) {
                Ok(0) => self.eof = true,
                Ok(k) => {
                    left -= k as u64;
                    self.base += k as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(CaptureError::Io {
                        file: self.name.clone(),
                        offset: self.bytes_read(),
                        source,
                    })
                }
            }
        }
        Ok(n - left)
    }

    /// The buffered bytes from `start`, `len` long (callers ensured them).
    #[inline(always)]
    fn window(&self, len: usize) -> &[u8] {
        self.buf
            .get(self.start..self.start + len)
            .unwrap_or_default()
    }
}

/// What a packet parser returns before the borrow is taken: the data range in `buf`.
pub(crate) struct Parsed {
    ts: Timestamp,
    link_type: u32,
    interface: u32,
    orig_len: u32,
}

type ParseResult = Result<Option<((usize, usize), Parsed)>, CaptureError>;

/// A name for a non-pcap file's first bytes, for the error message.
fn looks_like(m: &[u8]) -> Option<&'static str> {
    const KNOWN: &[(&[u8], &str)] = &[
        (b"\x1f\x8b", "gzip (decompress it first)"),
        (b"BZh", "bzip2 (decompress it first)"),
        (b"\xfd7zX", "xz (decompress it first)"),
        (b"\x28\xb5\x2f\xfd", "zstd (decompress it first)"),
        (b"PK\x03\x04", "zip"),
        (b"snoo", "Solaris snoop"),
        (b"GMBU", "Microsoft Network Monitor"),
        (b"XCP\0", "NetXray / Sniffer"),
        (b"\x7fELF", "an ELF executable"),
    ];
    if m.is_empty() {
        return Some("an empty file");
    }
    KNOWN
        .iter()
        .find(|(magic, _)| m.starts_with(magic) || (m.len() < magic.len() && magic.starts_with(m)))
        .map(|(_, n)| *n)
}

#[cfg(test)]
mod tests;
