//! Tests of the capture-file reader on annotated byte arrays, hostile inputs and random
//! mutations.

use super::pcapng::SHB_TYPE;
use super::*;
use std::io::Cursor;

/// A packet copied out of the reader.
#[derive(Debug, PartialEq, Eq)]
struct Owned {
    ts: u64,
    link_type: u32,
    interface: u32,
    data: Vec<u8>,
    orig_len: u32,
}

/// A reader that returns at most `chunk` bytes per call, to exercise refills.
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    chunk: usize,
}

impl Read for Chunked {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = out.len().min(self.chunk).min(self.data.len() - self.pos);
        out[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The bytes through the `read(2)` path; first, every input is also read through a map
/// of a real file, which must give the same packets, error and counters
/// ([`paths_agree`]): so every test here holds for both paths.
fn open(bytes: &[u8]) -> Result<CaptureFile, CaptureError> {
    paths_agree(bytes);
    open_streamed(bytes)
}

fn open_streamed(bytes: &[u8]) -> Result<CaptureFile, CaptureError> {
    CaptureFile::from_reader(
        "test.pcap".into(),
        Box::new(Cursor::new(bytes.to_vec())),
        Some(bytes.len() as u64),
    )
}

/// The bytes written to a temporary file and opened as `convert` does (mapped when not
/// empty), named `test.pcap` in errors.
fn open_mapped(bytes: &[u8]) -> Result<CaptureFile, CaptureError> {
    let mut tmp = tempfile::NamedTempFile::new().expect("temp file");
    io::Write::write_all(&mut tmp, bytes).expect("write temp file");
    let file = File::open(tmp.path()).expect("reopen temp file");
    let f = CaptureFile::from_file("test.pcap".into(), file, ReadMode::Auto);
    if let Ok(f) = &f {
        assert_eq!(f.is_mapped(), !bytes.is_empty());
    }
    f
}

/// Everything a reader tells about a file: the open error, or the packets, the error
/// that ended them (message, offset, kind), the counters and where it stopped.
type Outcome = Result<(Vec<Owned>, Option<(String, Option<u64>)>, ReaderStats, u64), String>;

fn outcome(f: Result<CaptureFile, CaptureError>) -> Outcome {
    let mut f = f.map_err(|e| e.to_string())?;
    let mut packets = Vec::new();
    loop {
        match f.next_packet() {
            Ok(Some(p)) => packets.push(Owned {
                ts: p.ts.0,
                link_type: p.link_type,
                interface: p.interface,
                data: p.data.to_vec(),
                orig_len: p.orig_len,
            }),
            Ok(None) => return Ok((packets, None, f.stats(), f.bytes_read())),
            Err(e) => {
                let e = (e.to_string(), e.offset());
                return Ok((packets, Some(e), f.stats(), f.bytes_read()));
            }
        }
    }
}

/// The mapped and the `read(2)` paths give the same outcome for `bytes`.
fn paths_agree(bytes: &[u8]) {
    let streamed = outcome(open_streamed(bytes));
    let mapped = outcome(open_mapped(bytes));
    assert_eq!(
        mapped, streamed,
        "mapped (left) and read(2) (right) paths differ"
    );
}

/// All packets up to the end or the first error, the error, and the final stats.
fn read_all_from(mut f: CaptureFile) -> (Vec<Owned>, Option<CaptureError>, ReaderStats) {
    let mut out = Vec::new();
    loop {
        match f.next_packet() {
            Ok(Some(p)) => out.push(Owned {
                ts: p.ts.0,
                link_type: p.link_type,
                interface: p.interface,
                data: p.data.to_vec(),
                orig_len: p.orig_len,
            }),
            Ok(None) => return (out, None, f.stats()),
            Err(e) => {
                // After an error the reader stays finished.
                assert!(matches!(f.next_packet(), Ok(None)));
                return (out, Some(e), f.stats());
            }
        }
    }
}

fn read_all(bytes: &[u8]) -> (Vec<Owned>, Option<CaptureError>, ReaderStats) {
    read_all_from(open(bytes).expect("header"))
}

/// The error of a file that must fail, as (offset, kind).
fn fails(bytes: &[u8]) -> (u64, FormatError) {
    let e = match open(bytes) {
        Err(e) => e,
        Ok(f) => read_all_from(f).1.expect("an error"),
    };
    (
        e.offset().unwrap(),
        e.kind()
            .unwrap_or_else(|| panic!("not a format error: {e}")),
    )
}

// ---------------------------------------------------------------------------------------
// Classic pcap
// ---------------------------------------------------------------------------------------

/// Little-endian microsecond pcap, Ethernet, two packets.
const PCAP_LE_US: &[u8] = &[
    0xd4, 0xc3, 0xb2, 0xa1, // magic a1b2c3d4, LE: microseconds
    0x02, 0x00, 0x04, 0x00, // version 2.4
    0x00, 0x00, 0x00, 0x00, // thiszone 0
    0x00, 0x00, 0x00, 0x00, // sigfigs 0
    0xff, 0xff, 0x00, 0x00, // snaplen 65535
    0x01, 0x00, 0x00, 0x00, // link type 1 (EN10MB)
    // record 1 at byte 24
    0x00, 0x5e, 0xd0, 0xb2, // ts_sec 3000000000
    0x40, 0x42, 0x0f, 0x00, // ts_usec 1000000 (0x000f4240): a whole second, counted
    0x04, 0x00, 0x00, 0x00, // caplen 4
    0x3c, 0x00, 0x00, 0x00, // orig_len 60
    0xde, 0xad, 0xbe, 0xef, // data
    // record 2 at byte 44
    0x01, 0x5e, 0xd0, 0xb2, // ts_sec 3000000001
    0x07, 0x00, 0x00, 0x00, // ts_usec 7
    0x02, 0x00, 0x00, 0x00, // caplen 2
    0x02, 0x00, 0x00, 0x00, // orig_len 2
    0xca, 0xfe, // data
];

#[test]
fn pcap_le_us() {
    let f = open(PCAP_LE_US).unwrap();
    assert_eq!(f.format().to_string(), "pcap (LE, us)");
    assert_eq!(f.interfaces()[0].link_type, 1);
    let (p, e, st) = read_all(PCAP_LE_US);
    assert!(e.is_none(), "{e:?}");
    // usec field 1000000 is a full second: added as is, counted.
    assert_eq!(st.subsec_overflow, 1);
    assert_eq!(
        p,
        vec![
            Owned {
                ts: 3_000_000_001_000_000_000,
                link_type: 1,
                interface: 0,
                data: vec![0xde, 0xad, 0xbe, 0xef],
                orig_len: 60
            },
            Owned {
                ts: 3_000_000_001_000_007_000,
                link_type: 1,
                interface: 0,
                data: vec![0xca, 0xfe],
                orig_len: 2
            },
        ]
    );
    assert_eq!(st.packets, 2);
    assert_eq!(st.timestamps_clamped, 0);
}

/// Big-endian nanosecond pcap, raw IP (101), snaplen 3, one packet longer than it.
const PCAP_BE_NS: &[u8] = &[
    0xa1, 0xb2, 0x3c, 0x4d, // magic a1b23c4d, BE: nanoseconds
    0x00, 0x02, 0x00, 0x04, // version 2.4
    0x00, 0x00, 0x00, 0x00, // thiszone
    0x00, 0x00, 0x00, 0x00, // sigfigs
    0x00, 0x00, 0x00, 0x03, // snaplen 3
    0x00, 0x00, 0x00, 0x65, // link type 101 (RAW)
    // record at byte 24
    0x00, 0x00, 0x00, 0x01, // ts_sec 1
    0x3b, 0x9a, 0xc9, 0xff, // ts_nsec 999999999
    0x00, 0x00, 0x00, 0x04, // caplen 4 (> snaplen 3: read, counted)
    0x00, 0x00, 0x05, 0xdc, // orig_len 1500
    0x45, 0x00, 0x05, 0xdc, // data
];

#[test]
fn pcap_be_ns() {
    let f = open(PCAP_BE_NS).unwrap();
    assert_eq!(f.format().to_string(), "pcap (BE, ns)");
    let (p, e, st) = read_all(PCAP_BE_NS);
    assert!(e.is_none());
    assert_eq!(
        p,
        vec![Owned {
            ts: 1_999_999_999,
            link_type: 101,
            interface: 0,
            data: vec![0x45, 0, 5, 0xdc],
            orig_len: 1500
        }]
    );
    assert_eq!(st.caplen_over_snaplen, 1);
    assert_eq!(st.subsec_overflow, 0);
}

/// Builds a classic pcap from (sec, frac, data, orig_len) in either byte order.
fn pcap(
    order: ByteOrder,
    nanos: bool,
    link: u32,
    snaplen: u32,
    recs: &[(u32, u32, &[u8], u32)],
) -> Vec<u8> {
    let w32 = |v: &mut Vec<u8>, x: u32| match order {
        ByteOrder::Little => v.extend_from_slice(&x.to_le_bytes()),
        ByteOrder::Big => v.extend_from_slice(&x.to_be_bytes()),
    };
    let mut v = Vec::new();
    w32(&mut v, if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    match order {
        ByteOrder::Little => v.extend_from_slice(&[2, 0, 4, 0]),
        ByteOrder::Big => v.extend_from_slice(&[0, 2, 0, 4]),
    }
    w32(&mut v, 0);
    w32(&mut v, 0);
    w32(&mut v, snaplen);
    w32(&mut v, link);
    for &(s, f, d, o) in recs {
        w32(&mut v, s);
        w32(&mut v, f);
        w32(&mut v, d.len() as u32);
        w32(&mut v, o);
        v.extend_from_slice(d);
    }
    v
}

/// Big-endian microsecond pcap, BSD loopback (0), one packet.
const PCAP_BE_US: &[u8] = &[
    0xa1, 0xb2, 0xc3, 0xd4, // magic a1b2c3d4, BE: microseconds
    0x00, 0x02, 0x00, 0x04, // version 2.4
    0x00, 0x00, 0x00, 0x00, // thiszone
    0x00, 0x00, 0x00, 0x00, // sigfigs
    0x00, 0x00, 0xff, 0xff, // snaplen 65535
    0x00, 0x00, 0x00, 0x00, // link type 0 (NULL)
    // record at byte 24
    0x00, 0x00, 0x00, 0x0a, // ts_sec 10
    0x00, 0x00, 0x00, 0x14, // ts_usec 20
    0x00, 0x00, 0x00, 0x03, // caplen 3
    0x00, 0x00, 0x00, 0x03, // orig_len 3
    0x61, 0x62, 0x63, // data "abc"
];

/// Little-endian nanosecond pcap, Linux SLL (113), one packet.
const PCAP_LE_NS: &[u8] = &[
    0x4d, 0x3c, 0xb2, 0xa1, // magic a1b23c4d, LE: nanoseconds
    0x02, 0x00, 0x04, 0x00, // version 2.4
    0x00, 0x00, 0x00, 0x00, // thiszone
    0x00, 0x00, 0x00, 0x00, // sigfigs
    0x00, 0x00, 0x04, 0x00, // snaplen 262144
    0x71, 0x00, 0x00, 0x00, // link type 113 (LINUX_SLL)
    // record at byte 24
    0x0a, 0x00, 0x00, 0x00, // ts_sec 10
    0x14, 0x00, 0x00, 0x00, // ts_nsec 20
    0x03, 0x00, 0x00, 0x00, // caplen 3
    0x10, 0x00, 0x00, 0x00, // orig_len 16
    0x61, 0x62, 0x63, // data "abc"
];

#[test]
fn pcap_be_us_and_le_ns() {
    let (p, e, _) = read_all(PCAP_BE_US);
    assert!(e.is_none());
    assert_eq!(
        p,
        vec![Owned {
            ts: 10_000_020_000,
            link_type: 0,
            interface: 0,
            data: b"abc".to_vec(),
            orig_len: 3
        }]
    );
    assert_eq!(
        open(PCAP_BE_US).unwrap().format().to_string(),
        "pcap (BE, us)"
    );
    let (p, e, _) = read_all(PCAP_LE_NS);
    assert!(e.is_none());
    assert_eq!(
        p,
        vec![Owned {
            ts: 10_000_000_020,
            link_type: 113,
            interface: 0,
            data: b"abc".to_vec(),
            orig_len: 16
        }]
    );
    assert_eq!(
        open(PCAP_LE_NS).unwrap().format().to_string(),
        "pcap (LE, ns)"
    );
    // The builder used by the other tests writes the same bytes.
    assert_eq!(
        pcap(ByteOrder::Big, false, 0, 65535, &[(10, 20, b"abc", 3)]),
        PCAP_BE_US
    );
    assert_eq!(
        pcap(
            ByteOrder::Little,
            true,
            113,
            262144,
            &[(10, 20, b"abc", 16)]
        ),
        PCAP_LE_NS
    );
}

#[test]
fn pcap_modified_format() {
    let bytes: &[u8] = &[
        0x34, 0xcd, 0xb2, 0xa1, // magic a1b2cd34 LE: Kuznetzov modified pcap
        0x02, 0x00, 0x04, 0x00, // version 2.4
        0, 0, 0, 0, // thiszone
        0, 0, 0, 0, // sigfigs
        0xff, 0xff, 0, 0, // snaplen 65535
        0x01, 0, 0, 0, // EN10MB
        // record at 24: 24-byte header
        0x05, 0, 0, 0, // ts_sec 5
        0x06, 0, 0, 0, // ts_usec 6
        0x01, 0, 0, 0, // caplen 1
        0x01, 0, 0, 0, // orig_len 1
        0x02, 0, 0, 0, // ifindex 2
        0x00, 0x08, // protocol
        0x00, // pkt_type
        0x00, // pad
        0xaa, // data
    ];
    let (p, e, _) = read_all(bytes);
    assert!(e.is_none());
    assert_eq!(
        p,
        vec![Owned {
            ts: 5_000_006_000,
            link_type: 1,
            interface: 0,
            data: vec![0xaa],
            orig_len: 1
        }]
    );
    assert_eq!(
        open(bytes).unwrap().format().to_string(),
        "pcap (LE, us, modified)"
    );
}

#[test]
fn pcap_link_type_upper_bits_masked() {
    // 0x24000001: FCS length 2 words (bits 28-31 = 2), FCS-present bit 26, link type 1.
    let bytes = pcap(
        ByteOrder::Little,
        false,
        0x2400_0001,
        65535,
        &[(1, 0, b"x", 1)],
    );
    let f = open(&bytes).unwrap();
    assert_eq!(f.interfaces()[0].link_type, 1);
    assert_eq!(f.fcs_len(0), Some(4));
    // FCS bits without the present flag: no FCS information.
    let bytes = pcap(ByteOrder::Little, false, 0x3000_0084, 65535, &[]);
    let f = open(&bytes).unwrap();
    assert_eq!((f.interfaces()[0].link_type, f.fcs_len(0)), (132, None));
}

#[test]
fn pcap_hostile_records() {
    // caplen over 256 KiB: framing not trustworthy, error at the caplen field.
    let mut b = pcap(ByteOrder::Little, false, 1, 65535, &[(1, 0, b"ab", 2)]);
    b[24 + 8..24 + 12].copy_from_slice(&(MAX_CAPLEN + 1).to_le_bytes());
    assert_eq!(
        fails(&b),
        (
            32,
            FormatError::CaplenTooLarge {
                caplen: MAX_CAPLEN + 1,
                max: MAX_CAPLEN
            }
        )
    );

    // caplen 256 KiB exactly, over the snaplen: read and counted.
    let big = vec![7u8; MAX_CAPLEN as usize];
    let b = pcap(ByteOrder::Little, false, 1, 65535, &[(1, 0, &big, 70000)]);
    let (p, e, st) = read_all(&b);
    assert!(e.is_none());
    assert_eq!(
        (
            p.len(),
            p[0].data.len(),
            st.caplen_over_snaplen,
            st.caplen_over_orig_len
        ),
        (1, MAX_CAPLEN as usize, 1, 1)
    );

    // Zero-length records: handed out, counted.
    let b = pcap(
        ByteOrder::Little,
        false,
        1,
        65535,
        &[(1, 0, b"", 0), (2, 0, b"", 60)],
    );
    let (p, e, st) = read_all(&b);
    assert!(e.is_none());
    assert_eq!((p.len(), st.zero_length), (2, 2));
    assert!(p[1].data.is_empty() && p[1].orig_len == 60);

    // File cut inside the second record's header: first packet read, then the error at
    // the start of the cut record (byte 24 + 16 + 2 = 42).
    let full = pcap(
        ByteOrder::Little,
        false,
        1,
        65535,
        &[(1, 0, b"ab", 2), (2, 0, b"cd", 2)],
    );
    let (p, e, _) = read_all(&full[..42 + 5]);
    assert_eq!(p.len(), 1);
    let e = e.unwrap();
    assert_eq!(e.offset(), Some(42));
    assert_eq!(
        e.kind(),
        Some(FormatError::Truncated {
            what: "a packet record header",
            need: 16,
            have: 5
        })
    );
    assert!(
        e.to_string()
            .starts_with("test.pcap: byte 42: file cut short"),
        "{e}"
    );

    // File cut inside the second record's data.
    let (p, e, _) = read_all(&full[..full.len() - 1]);
    assert_eq!(p.len(), 1);
    assert_eq!(
        (e.as_ref().unwrap().offset(), e.unwrap().kind()),
        (
            Some(42),
            Some(FormatError::Truncated {
                what: "a packet record",
                need: 18,
                have: 17
            })
        )
    );
}

#[test]
fn pcap_bad_headers() {
    // Cut inside the file header.
    assert_eq!(
        fails(&PCAP_LE_US[..10]),
        (
            0,
            FormatError::Truncated {
                what: "the pcap file header",
                need: 24,
                have: 10
            }
        )
    );
    // Version 1.0 (archaic format).
    let mut b = PCAP_LE_US.to_vec();
    b[4] = 1;
    assert_eq!(
        fails(&b),
        (
            4,
            FormatError::UnsupportedVersion {
                format: "pcap",
                major: 1,
                minor: 4
            }
        )
    );
    // Version 2.5 is read, as libpcap and Wireshark do.
    b[4] = 2;
    b[6] = 5;
    assert!(read_all(&b).1.is_none());
}

#[test]
fn not_a_capture() {
    let e = open(b"\x1f\x8b\x08\x00rest").unwrap_err();
    assert!(
        matches!(e, CaptureError::NotCapture { magic: 0x1f8b0800, looks_like: Some(l), .. } if l.starts_with("gzip"))
    );
    assert_eq!(e.to_string(), "test.pcap: not a pcap or pcapng file: magic 0x1f8b0800 (looks like gzip (decompress it first))");
    let e = open(b"snoop\0\0\0\0\0\0\x02").unwrap_err();
    assert!(e.to_string().contains("Solaris snoop"), "{e}");
    let e = open(b"").unwrap_err();
    assert!(e.to_string().contains("empty file"), "{e}");
    // Cut inside the magic number of a pcap file.
    assert_eq!(
        fails(&PCAP_LE_US[..3]),
        (
            0,
            FormatError::Truncated {
                what: "the file header",
                need: 4,
                have: 3
            }
        )
    );
    let e = open(b"hello world").unwrap_err();
    assert_eq!(
        e.to_string(),
        "test.pcap: not a pcap or pcapng file: magic 0x68656c6c"
    );
}

#[test]
fn timestamps_going_backwards_are_clamped() {
    let b = pcap(
        ByteOrder::Little,
        false,
        1,
        0,
        &[(10, 0, b"a", 1), (9, 0, b"b", 1), (11, 0, b"c", 1)],
    );
    let (p, _, st) = read_all(&b);
    assert_eq!(
        p.iter().map(|p| p.ts / 1_000_000_000).collect::<Vec<_>>(),
        vec![10, 10, 11]
    );
    assert_eq!(st.timestamps_clamped, 1);
    let mut f = open(&b).unwrap();
    f.set_clamp_timestamps(false);
    let (p, _, st) = read_all_from(f);
    assert_eq!(
        p.iter().map(|p| p.ts / 1_000_000_000).collect::<Vec<_>>(),
        vec![10, 9, 11]
    );
    assert_eq!(st.timestamps_clamped, 0);
}

#[test]
fn many_packets_across_buffer_refills() {
    // ~3 MiB of records of varying sizes, read through a source that returns odd chunks.
    let payloads: Vec<Vec<u8>> = (0..3000u32)
        .map(|i| vec![(i % 251) as u8; (i as usize * 37) % 2000])
        .collect();
    let recs: Vec<(u32, u32, &[u8], u32)> = payloads
        .iter()
        .enumerate()
        .map(|(i, d)| (i as u32, 0, &d[..], d.len() as u32))
        .collect();
    let bytes = pcap(ByteOrder::Big, false, 1, 65535, &recs);
    for chunk in [1 << 20, 4093, 7] {
        let src = Chunked {
            data: bytes.clone(),
            pos: 0,
            chunk,
        };
        let f = CaptureFile::from_reader("t".into(), Box::new(src), None).unwrap();
        let (p, e, _) = read_all_from(f);
        assert!(e.is_none());
        assert_eq!(p.len(), 3000);
        for (i, (got, want)) in p.iter().zip(&payloads).enumerate() {
            assert_eq!(&got.data, want, "packet {i}");
            assert_eq!(got.ts, i as u64 * 1_000_000_000);
        }
    }
    // The same 3 MiB mapped: one window over the whole file, no refill.
    paths_agree(&bytes);
}

// ---------------------------------------------------------------------------------------
// pcapng
// ---------------------------------------------------------------------------------------

/// Two sections: the first little-endian with three interfaces (EN10MB us, RAW ns,
/// SLL 2^-8 s), a name resolution block to skip; the second big-endian with one NULL
/// interface at milliseconds and a +100 s offset, an SPB and an obsolete Packet Block.
#[rustfmt::skip]
const PCAPNG_TWO_SECTIONS: &[u8] = &[
    // --- byte 0: SHB, little-endian
    0x0a, 0x0d, 0x0d, 0x0a, // block type SHB
    0x1c, 0x00, 0x00, 0x00, // total length 28
    0x4d, 0x3c, 0x2b, 0x1a, // byte-order magic, LE
    0x01, 0x00, 0x00, 0x00, // version 1.0
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // section length -1 (unknown)
    0x1c, 0x00, 0x00, 0x00, // total length 28
    // --- byte 28: IDB 0: EN10MB, snaplen 65535, no options (microseconds)
    0x01, 0x00, 0x00, 0x00, // block type IDB
    0x14, 0x00, 0x00, 0x00, // total length 20
    0x01, 0x00, // link type 1
    0x00, 0x00, // reserved
    0xff, 0xff, 0x00, 0x00, // snaplen 65535
    0x14, 0x00, 0x00, 0x00, // total length 20
    // --- byte 48: IDB 1: RAW (101), snaplen 0, if_tsresol 9
    0x01, 0x00, 0x00, 0x00, // block type IDB
    0x20, 0x00, 0x00, 0x00, // total length 32
    0x65, 0x00, // link type 101
    0x00, 0x00, // reserved
    0x00, 0x00, 0x00, 0x00, // snaplen 0 (unlimited)
    0x09, 0x00, 0x01, 0x00, // option if_tsresol, length 1
    0x09, 0x00, 0x00, 0x00, // value 9 (10^-9), 3 bytes padding
    0x00, 0x00, 0x00, 0x00, // opt_endofopt
    0x20, 0x00, 0x00, 0x00, // total length 32
    // --- byte 80: IDB 2: LINUX_SLL (113), snaplen 2, if_tsresol 0x88 (2^-8)
    0x01, 0x00, 0x00, 0x00, // block type IDB
    0x1c, 0x00, 0x00, 0x00, // total length 28
    0x71, 0x00, // link type 113
    0x00, 0x00, // reserved
    0x02, 0x00, 0x00, 0x00, // snaplen 2
    0x09, 0x00, 0x01, 0x00, // option if_tsresol, length 1
    0x88, 0x00, 0x00, 0x00, // value 0x88: 2^-8 s, padding; no endofopt (block ends)
    0x1c, 0x00, 0x00, 0x00, // total length 28
    // --- byte 108: NRB, skipped
    0x04, 0x00, 0x00, 0x00, // block type NRB
    0x14, 0x00, 0x00, 0x00, // total length 20
    0x00, 0x00, 0x00, 0x00, // nrb_record_end
    0x00, 0x00, 0x00, 0x00, // opt_endofopt
    0x14, 0x00, 0x00, 0x00, // total length 20
    // --- byte 128: EPB on interface 1 (RAW, ns)
    0x06, 0x00, 0x00, 0x00, // block type EPB
    0x24, 0x00, 0x00, 0x00, // total length 36
    0x01, 0x00, 0x00, 0x00, // interface 1
    0x00, 0x00, 0x00, 0x00, // timestamp high 0
    0x15, 0xcd, 0x5b, 0x07, // timestamp low 123456789 (ns)
    0x03, 0x00, 0x00, 0x00, // caplen 3
    0x03, 0x00, 0x00, 0x00, // orig len 3
    0x60, 0x00, 0x01, 0x00, // data 60 00 01, 1 byte padding
    0x24, 0x00, 0x00, 0x00, // total length 36
    // --- byte 164: EPB on interface 2 (SLL, 2^-8 s), caplen 4 > snaplen 2
    0x06, 0x00, 0x00, 0x00, // block type EPB
    0x24, 0x00, 0x00, 0x00, // total length 36
    0x02, 0x00, 0x00, 0x00, // interface 2
    0x00, 0x00, 0x00, 0x00, // timestamp high 0
    0x81, 0x01, 0x00, 0x00, // timestamp low 385 = 1.50390625 s
    0x04, 0x00, 0x00, 0x00, // caplen 4
    0x10, 0x00, 0x00, 0x00, // orig len 16
    0x00, 0x04, 0x00, 0x01, // data
    0x24, 0x00, 0x00, 0x00, // total length 36
    // --- byte 200: EPB on interface 0 (EN10MB, us), with an opt_comment
    0x06, 0x00, 0x00, 0x00, // block type EPB
    0x2c, 0x00, 0x00, 0x00, // total length 44
    0x00, 0x00, 0x00, 0x00, // interface 0
    0x01, 0x00, 0x00, 0x00, // timestamp high 1
    0x00, 0x00, 0x00, 0x00, // timestamp low 0: 2^32 us
    0x01, 0x00, 0x00, 0x00, // caplen 1
    0x40, 0x00, 0x00, 0x00, // orig len 64
    0xff, 0x00, 0x00, 0x00, // data ff, 3 bytes padding
    0x01, 0x00, 0x02, 0x00, // opt_comment, length 2
    0x68, 0x69, 0x00, 0x00, // "hi", padding
    0x2c, 0x00, 0x00, 0x00, // total length 44
    // --- byte 244: SHB, big-endian: a new section, interfaces restart at 0
    0x0a, 0x0d, 0x0d, 0x0a, // block type SHB
    0x00, 0x00, 0x00, 0x1c, // total length 28
    0x1a, 0x2b, 0x3c, 0x4d, // byte-order magic, BE
    0x00, 0x01, 0x00, 0x00, // version 1.0
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // section length 0
    0x00, 0x00, 0x00, 0x1c, // total length 28
    // --- byte 272: IDB 0: NULL (0), snaplen 3, if_tsresol 3 (ms), if_tsoffset 100 s
    0x00, 0x00, 0x00, 0x01, // block type IDB
    0x00, 0x00, 0x00, 0x2c, // total length 44
    0x00, 0x00, // link type 0
    0x00, 0x00, // reserved
    0x00, 0x00, 0x00, 0x03, // snaplen 3
    0x00, 0x09, 0x00, 0x01, // if_tsresol, length 1
    0x03, 0x00, 0x00, 0x00, // 3 (10^-3), padding
    0x00, 0x0e, 0x00, 0x08, // if_tsoffset, length 8
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64, // 100 seconds
    0x00, 0x00, 0x00, 0x00, // opt_endofopt
    0x00, 0x00, 0x00, 0x2c, // total length 44
    // --- byte 316: ISB, skipped
    0x00, 0x00, 0x00, 0x05, // block type ISB
    0x00, 0x00, 0x00, 0x18, // total length 24
    0x00, 0x00, 0x00, 0x00, // interface 0
    0x00, 0x00, 0x00, 0x00, // timestamp high
    0x00, 0x00, 0x00, 0x00, // timestamp low
    0x00, 0x00, 0x00, 0x18, // total length 24
    // --- byte 340: EPB on interface 0 (NULL, ms, +100 s)
    0x00, 0x00, 0x00, 0x06, // block type EPB
    0x00, 0x00, 0x00, 0x24, // total length 36
    0x00, 0x00, 0x00, 0x00, // interface 0
    0x00, 0x00, 0x00, 0x00, // timestamp high
    0x00, 0x00, 0x07, 0xd1, // timestamp low 2001 ms
    0x00, 0x00, 0x00, 0x02, // caplen 2
    0x00, 0x00, 0x00, 0x02, // orig len 2
    0x02, 0x00, 0x00, 0x00, // data 02 00, padding
    0x00, 0x00, 0x00, 0x24, // total length 36
    // --- byte 376: SPB (interface 0, snaplen 3): orig len 5, captured min(5, 3, 8) = 3
    0x00, 0x00, 0x00, 0x03, // block type SPB
    0x00, 0x00, 0x00, 0x18, // total length 24
    0x00, 0x00, 0x00, 0x05, // orig len 5
    0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x00, 0x00, 0x00, // data, padding
    0x00, 0x00, 0x00, 0x18, // total length 24
    // --- byte 400: obsolete Packet Block, interface 0
    0x00, 0x00, 0x00, 0x02, // block type PB
    0x00, 0x00, 0x00, 0x24, // total length 36
    0x00, 0x00, // interface 0
    0x00, 0x00, // drops count
    0x00, 0x00, 0x00, 0x00, // timestamp high
    0x00, 0x00, 0x0b, 0xb8, // timestamp low 3000 ms
    0x00, 0x00, 0x00, 0x01, // caplen 1
    0x00, 0x00, 0x00, 0x01, // orig len 1
    0x99, 0x00, 0x00, 0x00, // data, padding
    0x00, 0x00, 0x00, 0x24, // total length 36
    // byte 436: end of file
];

#[test]
fn pcapng_sections_interfaces_and_resolutions() {
    assert_eq!(PCAPNG_TWO_SECTIONS.len(), 436);
    let f = open(PCAPNG_TWO_SECTIONS).unwrap();
    assert_eq!(f.format().to_string(), "pcapng (LE)");
    let (p, e, st) = read_all(PCAPNG_TWO_SECTIONS);
    assert!(e.is_none(), "{e:?}");
    let want = vec![
        Owned {
            ts: 123_456_789,
            link_type: 101,
            interface: 1,
            data: vec![0x60, 0, 1],
            orig_len: 3,
        },
        // 385 / 256 s = 1.50390625 s exactly.
        Owned {
            ts: 1_503_906_250,
            link_type: 113,
            interface: 2,
            data: vec![0, 4, 0, 1],
            orig_len: 16,
        },
        Owned {
            ts: (1u64 << 32) * 1000,
            link_type: 1,
            interface: 0,
            data: vec![0xff],
            orig_len: 64,
        },
        // 2001 ms + 100 s is before the previous packet (4294.967296 s): clamped. The
        // SPB has no time (the previous one's), the PB at 103 s is clamped too.
        Owned {
            ts: (1u64 << 32) * 1000,
            link_type: 0,
            interface: 0,
            data: vec![2, 0],
            orig_len: 2,
        },
        Owned {
            ts: (1u64 << 32) * 1000,
            link_type: 0,
            interface: 0,
            data: vec![0xa, 0xb, 0xc],
            orig_len: 5,
        },
        Owned {
            ts: (1u64 << 32) * 1000,
            link_type: 0,
            interface: 0,
            data: vec![0x99],
            orig_len: 1,
        },
    ];
    assert_eq!(p, want);
    assert_eq!(st.sections, 2);
    assert_eq!(st.interfaces, 4);
    assert_eq!(st.skipped_blocks, 2);
    assert_eq!(st.caplen_over_snaplen, 1);
    assert_eq!(st.timestamps_clamped, 2);

    // Unclamped, the second section's times are its own.
    let mut f = open(PCAPNG_TWO_SECTIONS).unwrap();
    f.set_clamp_timestamps(false);
    let mut ts = Vec::new();
    while let Some(p) = f.next_packet().unwrap() {
        ts.push(p.ts.0);
    }
    assert_eq!(ts[3], 102_001_000_000);
    // The SPB has no time of its own: the previous packet's.
    assert_eq!(ts[4], 102_001_000_000);
    assert_eq!(ts[5], 103_000_000_000);
    assert_eq!(f.format().to_string(), "pcapng (BE, 2 sections)");
    assert_eq!(f.interfaces().len(), 1);
    assert_eq!(f.interfaces()[0].tsoffset, 100);
    assert_eq!(f.bytes_read(), 436);
}

#[test]
fn timestamp_resolutions_are_exact() {
    let s = TsScale::from_tsresol;
    assert_eq!(s(6).nanos(1_500_000), 1_500_000_000);
    assert_eq!(s(9).nanos(u64::MAX), i128::from(u64::MAX));
    assert_eq!(s(0).nanos(7), 7_000_000_000);
    assert_eq!(s(12).nanos(1_999), 1); // picoseconds, floored
    assert_eq!(s(19).nanos(u64::MAX), i128::from(u64::MAX / 10_000_000_000));
    assert_eq!(s(29).nanos(u64::MAX), 0);
    assert_eq!(s(127).nanos(u64::MAX), 0);
    // 2^-k: 1 unit of 2^-10 s is 976562.5 ns, floored; 1024 units exactly 1 s.
    assert_eq!(s(0x80 | 10).nanos(1), 976_562);
    assert_eq!(s(0x80 | 10).nanos(1024), 1_000_000_000);
    assert_eq!(s(0x80 | 30).nanos(3 << 30), 3_000_000_000);
    assert_eq!(s(0x80).nanos(2), 2_000_000_000);
    // Big counts at 2^-32 s (a common NTP-style resolution): exact in u128.
    assert_eq!(
        s(0x80 | 32).nanos(u64::MAX),
        ((u128::from(u64::MAX) * 1_000_000_000) >> 32) as i128
    );
    assert_eq!(s(0x80 | 127).nanos(u64::MAX), 0);
}

/// Little-endian SHB (28 bytes) + IDB EN10MB snaplen 64 (20 bytes).
fn ng_head() -> Vec<u8> {
    let mut v = vec![
        0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0,
        0, // SHB, LE, 1.0
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0,
        0, // section length, trailer
    ];
    v.extend_from_slice(&[
        1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 64, 0, 0, 0, 20, 0, 0, 0,
    ]); // IDB
    v
}

/// A little-endian block with correct lengths around `body`.
fn ng_block(block_type: u32, body: &[u8]) -> Vec<u8> {
    let len = (12 + body.len()) as u32;
    let mut v = block_type.to_le_bytes().to_vec();
    v.extend_from_slice(&len.to_le_bytes());
    v.extend_from_slice(body);
    v.extend_from_slice(&len.to_le_bytes());
    v
}

/// EPB body: interface, ts high/low, caplen, orig_len, data padded.
fn epb_body(interface: u32, caplen: u32, data: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [interface, 0, 1000, caplen, data.len() as u32] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(data);
    v.resize(v.len().next_multiple_of(4), 0);
    v
}

#[test]
fn pcapng_large_unknown_block_is_streamed_past() {
    let mut b = ng_head();
    // A 3 MiB custom block (type 0x00000BAD): larger than the buffer, skipped.
    b.extend(ng_block(0xBAD, &vec![0x55; 3 << 20]));
    b.extend(ng_block(6, &epb_body(0, 2, b"ok")));
    for chunk in [1 << 20, 1000] {
        let f = CaptureFile::from_reader(
            "t".into(),
            Box::new(Chunked {
                data: b.clone(),
                pos: 0,
                chunk,
            }),
            None,
        )
        .unwrap();
        let (p, e, st) = read_all_from(f);
        assert!(e.is_none(), "{e:?}");
        assert_eq!(
            (p.len(), &p[0].data[..], st.skipped_blocks),
            (1, &b"ok"[..], 1)
        );
    }
    paths_agree(&b);
    // Cut inside the big block: both paths stop at the same byte with the same error.
    paths_agree(&b[..2 << 20]);
}

#[test]
fn pcapng_hostile_blocks() {
    let head = ng_head();
    let at = head.len() as u64; // 48: offset of the block under test
    let with = |blocks: &[Vec<u8>]| {
        let mut v = head.clone();
        for b in blocks {
            v.extend_from_slice(b);
        }
        v
    };
    let good = ng_block(6, &epb_body(0, 2, b"ok"));

    // Length not a multiple of 4 (error at the length field).
    let mut b = good.clone();
    b[4] = 37;
    assert_eq!(
        fails(&with(&[b])),
        (at + 4, FormatError::BlockLengthNotAligned { len: 37 })
    );
    // Shorter than an EPB's minimum.
    let mut b = good.clone();
    b[4] = 28;
    assert_eq!(
        fails(&with(&[b])),
        (
            at + 4,
            FormatError::BlockTooShort {
                block_type: 6,
                len: 28,
                min: 32
            }
        )
    );
    // Shorter than any block.
    let mut b = ng_block(5, &[]);
    b[4] = 8;
    assert_eq!(
        fails(&with(&[b])),
        (
            at + 4,
            FormatError::BlockTooShort {
                block_type: 5,
                len: 8,
                min: 12
            }
        )
    );
    // Longer than the file.
    let mut b = good.clone();
    b[4..8].copy_from_slice(&400u32.to_le_bytes());
    assert_eq!(
        fails(&with(&[b])),
        (
            at,
            FormatError::Truncated {
                what: "a block",
                need: 400,
                have: 36
            }
        )
    );
    // An unknown block longer than the file.
    let mut b = ng_block(5, &[0; 8]);
    b[4..8].copy_from_slice(&4000u32.to_le_bytes());
    assert_eq!(
        fails(&with(&[b])),
        (
            at,
            FormatError::Truncated {
                what: "a block",
                need: 4000,
                have: 20
            }
        )
    );
    // Longer than the 16 MiB cap (unknown block) and the 1 MiB cap (packet block).
    let mut b = ng_block(5, &[0; 8]);
    b[4..8].copy_from_slice(&(MAX_BLOCK_LEN + 4).to_le_bytes());
    assert_eq!(
        fails(&with(&[b])),
        (
            at + 4,
            FormatError::BlockTooLarge {
                block_type: 5,
                len: MAX_BLOCK_LEN + 4,
                max: MAX_BLOCK_LEN
            }
        )
    );
    let mut b = good.clone();
    b[4..8].copy_from_slice(&(BUFFER_SIZE as u32 + 4).to_le_bytes());
    assert_eq!(
        fails(&with(&[b])).1,
        FormatError::BlockTooLarge {
            block_type: 6,
            len: BUFFER_SIZE as u32 + 4,
            max: BUFFER_SIZE as u32
        }
    );
    // Trailing length differs.
    let mut b = good.clone();
    let n = b.len();
    b[n - 4] = 40;
    assert_eq!(
        fails(&with(&[b])),
        (
            at + 32,
            FormatError::BlockLengthMismatch {
                header: 36,
                trailer: 40
            }
        )
    );
    // Interface 1 does not exist (one IDB in the section); the good packet before is read.
    let b = ng_block(6, &epb_body(1, 2, b"ok"));
    let (p, e, _) = read_all(&with(&[good.clone(), b]));
    assert_eq!(p.len(), 1);
    let e = e.unwrap();
    assert_eq!(
        (e.offset(), e.kind()),
        (
            Some(at + 36 + 8),
            Some(FormatError::UnknownInterface {
                interface: 1,
                count: 1
            })
        )
    );
    // Captured length beyond the block.
    let b = ng_block(6, &epb_body(0, 5, b"ok"));
    assert_eq!(
        fails(&with(&[b])),
        (
            at + 20,
            FormatError::PacketExceedsBlock { caplen: 5, room: 4 }
        )
    );
    // Captured length over 256 KiB.
    let b = ng_block(6, &epb_body(0, MAX_CAPLEN + 1, b"ok"));
    assert_eq!(
        fails(&with(&[b])),
        (
            at + 20,
            FormatError::CaplenTooLarge {
                caplen: MAX_CAPLEN + 1,
                max: MAX_CAPLEN
            }
        )
    );
    // File cut in the last block, and in a block header.
    let v = with(&[good.clone(), good.clone()]);
    let (p, e, _) = read_all(&v[..v.len() - 3]);
    assert_eq!(p.len(), 1);
    assert_eq!(
        e.unwrap().kind(),
        Some(FormatError::Truncated {
            what: "a block",
            need: 36,
            have: 33
        })
    );
    let (p, e, _) = read_all(&v[..v.len() - 31]);
    assert_eq!(p.len(), 1);
    assert_eq!(
        e.unwrap().kind(),
        Some(FormatError::Truncated {
            what: "a block header",
            need: 8,
            have: 5
        })
    );
    // EPB before any IDB.
    let mut v = head[..28].to_vec();
    v.extend(good.clone());
    assert_eq!(
        fails(&v),
        (
            28 + 8,
            FormatError::UnknownInterface {
                interface: 0,
                count: 0
            }
        )
    );
    // SPB with no interface.
    let mut v = head[..28].to_vec();
    v.extend(ng_block(3, &[1, 0, 0, 0, 9, 0, 0, 0]));
    assert_eq!(
        fails(&v),
        (
            28 + 8,
            FormatError::UnknownInterface {
                interface: 0,
                count: 0
            }
        )
    );
    // Zero-length EPB: read, counted.
    let (p, e, st) = read_all(&with(&[ng_block(6, &epb_body(0, 0, b""))]));
    assert!(e.is_none());
    assert_eq!((p.len(), st.zero_length), (1, 1));
}

#[test]
fn pcapng_bad_section_headers_and_options() {
    let head = ng_head();
    // Byte-order magic neither way.
    let mut b = head.clone();
    b[8] = 0;
    assert_eq!(
        fails(&b),
        (8, FormatError::BadByteOrderMagic { magic: 0x1a2b3c00 })
    );
    // Version 2.0 in a second section, after a good packet.
    let mut v = head.clone();
    v.extend(ng_block(6, &epb_body(0, 1, b"a")));
    let second = v.len() as u64;
    let mut shb = head[..28].to_vec();
    shb[12] = 2;
    v.extend(shb);
    let (p, e, _) = read_all(&v);
    assert_eq!(p.len(), 1);
    let e = e.unwrap();
    assert_eq!(
        (e.offset(), e.kind()),
        (
            Some(second + 12),
            Some(FormatError::UnsupportedVersion {
                format: "pcapng",
                major: 2,
                minor: 0
            })
        )
    );
    // SHB shorter than 28.
    let mut b = head.clone();
    b[4] = 24;
    assert_eq!(
        fails(&b),
        (
            4,
            FormatError::BlockTooShort {
                block_type: SHB_TYPE,
                len: 24,
                min: 28
            }
        )
    );
    // SHB cut short.
    assert_eq!(
        fails(&head[..20]),
        (
            0,
            FormatError::Truncated {
                what: "a block",
                need: 28,
                have: 20
            }
        )
    );
    // An IDB option running past its block.
    let mut v = head[..28].to_vec();
    v.extend(ng_block(
        1,
        &[1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 9, 0, 6, 0, 0, 0],
    ));
    assert_eq!(
        fails(&v),
        (28 + 16, FormatError::BadOption { code: 9, len: 9 })
    );
    // Too many interfaces: reading 65537 IDBs fails at the last.
    let mut v = head[..28].to_vec();
    for _ in 0..=MAX_INTERFACES {
        v.extend_from_slice(&head[28..48]);
    }
    assert_eq!(
        fails(&v),
        (
            28 + 20 * MAX_INTERFACES as u64,
            FormatError::TooManyInterfaces {
                max: MAX_INTERFACES as u32
            }
        )
    );
}

#[test]
fn pcapng_spb_snaplen_and_room() {
    let mut v = ng_head(); // IDB snaplen 64
                           // orig len 100, 8 bytes of room: 8 captured (padding included, as the block says).
    v.extend(ng_block(3, &[100, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
    // orig len 3: 3 captured.
    v.extend(ng_block(3, &[3, 0, 0, 0, 1, 2, 3, 0]));
    let (p, e, _) = read_all(&v);
    assert!(e.is_none());
    assert_eq!(p[0].data, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(p[1].data, vec![1, 2, 3]);
    assert_eq!(p[0].orig_len, 100);
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    /// Reads to the end or an error; the buffer never grows and no interface table is
    /// larger than its cap.
    fn drain(bytes: &[u8]) {
        if let Ok(mut f) = open(bytes) {
            let mut n = 0u64;
            while let Ok(Some(p)) = f.next_packet() {
                assert!(p.data.len() <= MAX_CAPLEN as usize);
                n += 1;
                assert!(n <= bytes.len() as u64);
            }
            assert_eq!(f.buf.len(), BUFFER_SIZE);
            assert!(f.interfaces().len() <= MAX_INTERFACES);
            assert!(f.bytes_read() <= bytes.len() as u64);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn random_bytes_after_a_magic(magic in 0usize..4, rest in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut v = match magic {
                0 => PCAP_LE_US[..4].to_vec(),
                1 => PCAP_BE_NS[..4].to_vec(),
                2 => PCAPNG_TWO_SECTIONS[..12].to_vec(),
                _ => vec![],
            };
            v.extend(rest);
            drain(&v);
        }

        #[test]
        fn mutated_valid_files(which in 0usize..3,
                               edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8),
                               cut in any::<usize>()) {
            let mut v = match which {
                0 => PCAP_LE_US.to_vec(),
                1 => PCAP_BE_NS.to_vec(),
                _ => PCAPNG_TWO_SECTIONS.to_vec(),
            };
            for (at, byte) in edits {
                let i = at % v.len();
                v[i] = byte;
            }
            v.truncate(cut % (v.len() + 1) + v.len() / 2);
            drain(&v);
        }
    }
}

// ---------------------------------------------------------------------------------------
// The mapped path under a truncation
// ---------------------------------------------------------------------------------------

/// A mapped file cut short by another process while it is read: the SIGBUS handler of
/// `file/mapped.rs` ends the process with status 1 and one line saying why, instead of
/// the default silent death by signal. The test runs itself again as a child process
/// (the handler exits the process), which opens, truncates and reads.
#[test]
fn mapped_file_truncated_while_read_exits_with_a_message() {
    const CHILD: &str = "FLOWPROBE_TEST_SIGBUS_FILE";
    if let Some(path) = std::env::var_os(CHILD) {
        let mut f = CaptureFile::open(Path::new(&path)).expect("child opens");
        assert!(f.is_mapped());
        assert!(f.next_packet().expect("first packet").is_some());
        // Cut the file to its header and first record: later pages are beyond the end.
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(24 + 16 + 1000).unwrap();
        while let Ok(Some(_)) = f.next_packet() {}
        // Not reached when the handler works.
        std::process::exit(99);
    }
    // 4,000 records of 1,000 bytes: about 4 MiB, many pages past the cut.
    let data = vec![0xabu8; 1000];
    let recs: Vec<(u32, u32, &[u8], u32)> = (0..4000).map(|i| (i, 0, &data[..], 1000)).collect();
    let bytes = pcap(ByteOrder::Little, false, 1, 65535, &recs);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cut.pcap");
    std::fs::write(&path, &bytes).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "capture::file::tests::mapped_file_truncated_while_read_exits_with_a_message",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, &path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{:?}\n{stderr}", out.status);
    assert!(
        stderr.contains(
            "the capture file shrank or could not be read while it was being read (SIGBUS at byte "
        ),
        "{stderr}"
    );
}
