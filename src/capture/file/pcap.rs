//! Classic pcap framing: the 24-byte file header and the 16-byte record header
//! (24 bytes in Kuznetzov's modified format).
//!
//! Layout (each field in the byte order the magic number reveals):
//! file header: magic u32, version major u16, minor u16, thiszone i32, sigfigs u32,
//! snaplen u32, link type u32 (low 16 bits: LINKTYPE_*; bits 16-25 reserved; bit 26: the
//! FCS length in bits 28-31 is valid, counted in 16-bit words);
//! record: ts_sec u32, ts_usec_or_nsec u32, caplen u32, orig_len u32
//! (modified format: + ifindex u32, protocol u16, pkt_type u8, pad u8), then caplen bytes.

use super::{
    ByteOrder, CaptureError, CaptureFile, FileFormat, Fill, FormatError, InterfaceInfo,
    ParseResult, Parsed, State, TsScale, MAX_CAPLEN,
};
use crate::time::Timestamp;

/// Classic pcap state: the header fields every record needs.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Header {
    order: ByteOrder,
    nanos: bool,
    record_len: usize,
    pub(crate) interface: InterfaceInfo,
}

const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;

/// (byte order, nanosecond timestamps, modified format) for a classic pcap magic.
pub(crate) fn magic(m: [u8; 4]) -> Option<(ByteOrder, bool, bool)> {
    let le = u32::from_le_bytes(m);
    let be = u32::from_be_bytes(m);
    for (value, order) in [(le, ByteOrder::Little), (be, ByteOrder::Big)] {
        match value {
            MAGIC_US => return Some((order, false, false)),
            MAGIC_NS => return Some((order, true, false)),
            MAGIC_MODIFIED => return Some((order, false, true)),
            _ => {}
        }
    }
    None
}

impl CaptureFile {
    pub(super) fn read_pcap_header(
        &mut self,
        order: ByteOrder,
        nanos: bool,
        modified: bool,
    ) -> Result<(), CaptureError> {
        const LEN: usize = 24;
        if let Fill::Short(have) = self.ensure(LEN)? {
            return Err(self.truncated("the pcap file header", LEN as u64, have));
        }
        let h = self.window(LEN);
        let major = order.u16(h, 4);
        let minor = order.u16(h, 6);
        let snaplen = order.u32(h, 16);
        let network = order.u32(h, 20);
        // libpcap reads every 2.x; 1.x is the archaic format with a different record.
        if major != 2 {
            return Err(self.format_err(
                4,
                FormatError::UnsupportedVersion {
                    format: "pcap",
                    major,
                    minor,
                },
            ));
        }
        let fcs_len = (network & 0x0400_0000 != 0).then(|| ((network >> 28) * 2) as u8);
        self.state = State::Pcap(Header {
            order,
            nanos,
            record_len: if modified { 24 } else { 16 },
            interface: InterfaceInfo {
                link_type: network & 0xffff,
                snaplen,
                tsresol: if nanos { 9 } else { 6 },
                tsoffset: 0,
                fcs_len,
                scale: TsScale::from_tsresol(if nanos { 9 } else { 6 }),
            },
        });
        self.format = FileFormat::Pcap {
            order,
            nanos,
            modified,
        };
        self.start += LEN;
        Ok(())
    }

    #[inline]
    pub(super) fn next_pcap(&mut self) -> ParseResult {
        let State::Pcap(h) = self.state else {
            return Ok(None);
        };
        let rl = h.record_len;
        match self.ensure(rl)? {
            Fill::Ready => {}
            Fill::Short(0) => return Ok(None),
            Fill::Short(have) => {
                return Err(self.truncated("a packet record header", rl as u64, have))
            }
        }
        // The 16 bytes of fields as an array: constant offsets, no bounds check per field.
        let r: [u8; 16] = self.window(16).try_into().unwrap_or([0; 16]);
        let r = &r;
        let o = h.order;
        let sec = u64::from(o.u32(r, 0));
        let frac = u64::from(o.u32(r, 4));
        let caplen = o.u32(r, 8);
        let orig_len = o.u32(r, 12);
        if caplen > MAX_CAPLEN {
            return Err(self.format_err(
                self.bytes_read() + 8,
                FormatError::CaplenTooLarge {
                    caplen,
                    max: MAX_CAPLEN,
                },
            ));
        }
        let total = rl + caplen as usize;
        if let Fill::Short(have) = self.ensure(total)? {
            return Err(self.truncated("a packet record", total as u64, have));
        }
        let snaplen = h.interface.snaplen;
        if snaplen != 0 && caplen > snaplen {
            self.stats.caplen_over_snaplen += 1;
        }
        if caplen > orig_len {
            self.stats.caplen_over_orig_len += 1;
        }
        let ns = if h.nanos {
            if frac >= 1_000_000_000 {
                self.stats.subsec_overflow += 1;
            }
            sec * 1_000_000_000 + frac
        } else {
            if frac >= 1_000_000 {
                self.stats.subsec_overflow += 1;
            }
            sec * 1_000_000_000 + frac * 1000
        };
        let data = (self.start + rl, self.start + total);
        self.start += total;
        self.prefetch_record();
        Ok(Some((
            data,
            Parsed {
                ts: Timestamp(ns),
                link_type: h.interface.link_type,
                interface: 0,
                orig_len,
            },
        )))
    }
}
