//! pcapng framing: blocks, sections, interfaces and the three packet block types.
//!
//! Every block is `type u32, total_length u32, body, total_length u32` in the byte order
//! of its section, which the Section Header Block's byte-order magic (0x1A2B3C4D) sets; a
//! file may hold several sections, each with its own byte order and its own interface
//! table (interface ids restart at 0 in each section).
//!
//! Blocks read here: SHB (0x0A0D0D0A), IDB (1), EPB (6), SPB (3) and the obsolete Packet
//! Block (2). Every other block (NRB 4, ISB 5, DSB 10, custom 0xBAD/0x40000BAD, local
//! use, unknown) is skipped by its length, streaming, without being buffered whole.
//!
//! A Simple Packet Block has no timestamp: it gets the previous packet's time (0 at the
//! start of the file), so it never moves packet time backwards. Its captured length is
//! the least of its original length, the interface's snaplen (when not 0) and the room
//! in the block.

use super::{
    ByteOrder, CaptureError, CaptureFile, FileFormat, Fill, FormatError, InterfaceInfo,
    ParseResult, Parsed, State, TsScale, BUFFER_SIZE, MAX_BLOCK_LEN, MAX_CAPLEN, MAX_INTERFACES,
};
use crate::time::Timestamp;

/// Section Header Block type (a palindrome: the same in both byte orders).
pub(crate) const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 1;
const PB_TYPE: u32 = 2;
const SPB_TYPE: u32 = 3;
const EPB_TYPE: u32 = 6;

/// Option codes in an IDB.
const OPT_ENDOFOPT: u16 = 0;
const IF_FCSLEN: u16 = 13;
const IF_TSRESOL: u16 = 9;
const IF_TSOFFSET: u16 = 14;

/// State of the current section.
#[derive(Debug)]
pub(crate) struct Section {
    order: ByteOrder,
    pub(crate) interfaces: Vec<InterfaceInfo>,
}

impl Default for Section {
    fn default() -> Section {
        Section {
            order: ByteOrder::Little,
            interfaces: Vec::new(),
        }
    }
}

impl CaptureFile {
    fn truncated_at(&self, offset: u64, what: &'static str, need: u64, have: u64) -> CaptureError {
        self.format_err(offset, FormatError::Truncated { what, need, have })
    }

    /// Checks a block's total length: at least `min`, a multiple of 4, at most `max`.
    #[inline]
    fn check_block_len(
        &self,
        off: u64,
        block_type: u32,
        len: u32,
        min: u32,
        max: u32,
    ) -> Result<(), CaptureError> {
        let kind = if len < min {
            FormatError::BlockTooShort {
                block_type,
                len,
                min,
            }
        } else if !len.is_multiple_of(4) {
            FormatError::BlockLengthNotAligned { len }
        } else if len > max {
            FormatError::BlockTooLarge {
                block_type,
                len,
                max,
            }
        } else {
            return Ok(());
        };
        Err(self.format_err(off + 4, kind))
    }

    /// Consumes a block of `len` bytes starting at `start` without buffering it whole, and
    /// checks its trailing length.
    fn skip_block(&mut self, order: ByteOrder, off: u64, len: u32) -> Result<(), CaptureError> {
        let body = u64::from(len) - 4;
        let skipped = self.skip(body)?;
        if skipped < body {
            return Err(self.truncated_at(off, "a block", len.into(), skipped));
        }
        if let Fill::Short(have) = self.ensure(4)? {
            return Err(self.truncated_at(off, "a block", len.into(), body + have as u64));
        }
        let trailer = order.u32(self.window(4), 0);
        if trailer != len {
            return Err(self.format_err(
                off + body,
                FormatError::BlockLengthMismatch {
                    header: len,
                    trailer,
                },
            ));
        }
        self.start += 4;
        Ok(())
    }

    /// Buffers a whole block of `len` (<= BUFFER_SIZE) bytes at `start` and checks its
    /// trailing length.
    #[inline]
    fn buffer_block(&mut self, order: ByteOrder, off: u64, len: u32) -> Result<(), CaptureError> {
        if let Fill::Short(have) = self.ensure(len as usize)? {
            return Err(self.truncated_at(off, "a block", len.into(), have as u64));
        }
        let trailer = order.u32(self.window(len as usize), len as usize - 4);
        if trailer != len {
            return Err(self.format_err(
                off + u64::from(len) - 4,
                FormatError::BlockLengthMismatch {
                    header: len,
                    trailer,
                },
            ));
        }
        Ok(())
    }

    /// Reads a Section Header Block at `start`: new byte order, empty interface table.
    pub(super) fn read_shb(&mut self) -> Result<(), CaptureError> {
        let off = self.bytes_read();
        if let Fill::Short(have) = self.ensure(12)? {
            return Err(self.truncated_at(off, "a section header block", 12, have as u64));
        }
        let w = self.window(12);
        let order = match w.get(8..12) {
            Some([0x4d, 0x3c, 0x2b, 0x1a]) => ByteOrder::Little,
            Some([0x1a, 0x2b, 0x3c, 0x4d]) => ByteOrder::Big,
            _ => {
                let magic = ByteOrder::Little.u32(w, 8);
                return Err(self.format_err(off + 8, FormatError::BadByteOrderMagic { magic }));
            }
        };
        let len = order.u32(w, 4);
        self.check_block_len(off, SHB_TYPE, len, 28, MAX_BLOCK_LEN)?;
        if let Fill::Short(have) = self.ensure(16)? {
            return Err(self.truncated_at(off, "a section header block", len.into(), have as u64));
        }
        let w = self.window(16);
        let (major, minor) = (order.u16(w, 12), order.u16(w, 14));
        // 1.0 is the only version written; libpcap also reads 1.2 (from an old bug).
        if major != 1 || (minor != 0 && minor != 2) {
            return Err(self.format_err(
                off + 12,
                FormatError::UnsupportedVersion {
                    format: "pcapng",
                    major,
                    minor,
                },
            ));
        }
        self.skip_block(order, off, len)?;
        if let State::Pcapng(s) = &mut self.state {
            s.order = order;
            s.interfaces.clear();
        }
        self.stats.sections += 1;
        let sections = match self.format {
            FileFormat::Pcapng { sections, .. } => sections.saturating_add(1),
            FileFormat::Pcap { .. } => 1,
        };
        self.format = FileFormat::Pcapng { order, sections };
        Ok(())
    }

    /// Reads an Interface Description Block at `start` (`len` already checked).
    fn read_idb(&mut self, order: ByteOrder, off: u64, len: u32) -> Result<(), CaptureError> {
        self.buffer_block(order, off, len)?;
        let b = self.window(len as usize);
        let link_type = u32::from(order.u16(b, 8));
        let snaplen = order.u32(b, 12);
        let mut tsresol = 6u8;
        let mut tsoffset = 0i64;
        let mut fcs_len = None;
        let end = len as usize - 4;
        let mut p = 16usize;
        while p + 4 <= end {
            let code = order.u16(b, p);
            let olen = order.u16(b, p + 2);
            if code == OPT_ENDOFOPT {
                break;
            }
            let v = match b.get(p + 4..p + 4 + olen as usize) {
                Some(v) if p + 4 + olen as usize <= end => v,
                _ => {
                    return Err(
                        self.format_err(off + p as u64, FormatError::BadOption { code, len: olen })
                    )
                }
            };
            match (code, v) {
                (IF_TSRESOL, [r, ..]) => tsresol = *r,
                (IF_FCSLEN, [n, ..]) => fcs_len = Some(*n),
                (IF_TSOFFSET, _) if v.len() >= 8 => tsoffset = order.u64(v, 0) as i64,
                _ => {}
            }
            p += 4 + (olen as usize).next_multiple_of(4);
        }
        let info = InterfaceInfo {
            link_type,
            snaplen,
            tsresol,
            tsoffset,
            fcs_len,
            scale: TsScale::from_tsresol(tsresol),
        };
        let full = match &self.state {
            State::Pcapng(s) => s.interfaces.len() >= MAX_INTERFACES,
            State::Pcap(_) => false,
        };
        if full {
            return Err(self.format_err(
                off,
                FormatError::TooManyInterfaces {
                    max: MAX_INTERFACES as u32,
                },
            ));
        }
        if let State::Pcapng(s) = &mut self.state {
            s.interfaces.push(info);
        }
        self.stats.interfaces += 1;
        self.start += len as usize;
        Ok(())
    }

    #[inline]
    pub(super) fn next_pcapng(&mut self) -> ParseResult {
        loop {
            let off = self.bytes_read();
            match self.ensure(8)? {
                Fill::Ready => {}
                Fill::Short(0) => return Ok(None),
                Fill::Short(have) => {
                    return Err(self.truncated_at(off, "a block header", 8, have as u64))
                }
            }
            let State::Pcapng(section) = &self.state else {
                return Ok(None);
            };
            let order = section.order;
            let w = self.window(8);
            let block_type = order.u32(w, 0);
            let len = order.u32(w, 4);
            match block_type {
                EPB_TYPE | PB_TYPE | SPB_TYPE => {
                    return self.read_packet_block(order, off, block_type, len)
                }
                SHB_TYPE => self.read_shb()?,
                IDB_TYPE => {
                    self.check_block_len(off, block_type, len, 20, BUFFER_SIZE as u32)?;
                    self.read_idb(order, off, len)?;
                }
                _ => {
                    self.check_block_len(off, block_type, len, 12, MAX_BLOCK_LEN)?;
                    self.skip_block(order, off, len)?;
                    self.stats.skipped_blocks += 1;
                }
            }
        }
    }

    /// EPB, SPB or obsolete PB at `start`.
    #[inline]
    fn read_packet_block(
        &mut self,
        order: ByteOrder,
        off: u64,
        block_type: u32,
        len: u32,
    ) -> ParseResult {
        // Fixed part before the packet data (block header included), and the minimum
        // block: fixed part + trailing length.
        let fixed: u32 = if block_type == SPB_TYPE { 12 } else { 28 };
        self.check_block_len(off, block_type, len, fixed + 4, BUFFER_SIZE as u32)?;
        self.buffer_block(order, off, len)?;
        let b = self.window(len as usize);
        let room = len - fixed - 4;
        let (interface, units, caplen, orig_len) = match block_type {
            SPB_TYPE => {
                let orig_len = order.u32(b, 8);
                (0, None, orig_len.min(room), orig_len)
            }
            _ => {
                let interface = if block_type == EPB_TYPE {
                    order.u32(b, 8)
                } else {
                    u32::from(order.u16(b, 8))
                };
                let units = (u64::from(order.u32(b, 12)) << 32) | u64::from(order.u32(b, 16));
                let caplen = order.u32(b, 20);
                if caplen > MAX_CAPLEN {
                    return Err(self.format_err(
                        off + 20,
                        FormatError::CaplenTooLarge {
                            caplen,
                            max: MAX_CAPLEN,
                        },
                    ));
                }
                if caplen > room {
                    return Err(
                        self.format_err(off + 20, FormatError::PacketExceedsBlock { caplen, room })
                    );
                }
                (interface, Some(units), caplen, order.u32(b, 24))
            }
        };
        let State::Pcapng(section) = &self.state else {
            return Ok(None);
        };
        let Some(iface) = section.interfaces.get(interface as usize).copied() else {
            let count = section.interfaces.len() as u32;
            return Err(
                self.format_err(off + 8, FormatError::UnknownInterface { interface, count })
            );
        };
        let caplen = match units {
            // SPB: the snaplen bounds what was captured.
            None if iface.snaplen != 0 => caplen.min(iface.snaplen),
            None => caplen,
            Some(_) => {
                if iface.snaplen != 0 && caplen > iface.snaplen {
                    self.stats.caplen_over_snaplen += 1;
                }
                caplen
            }
        };
        if caplen > MAX_CAPLEN {
            return Err(self.format_err(
                off + 8,
                FormatError::CaplenTooLarge {
                    caplen,
                    max: MAX_CAPLEN,
                },
            ));
        }
        if caplen > orig_len {
            self.stats.caplen_over_orig_len += 1;
        }
        let ts = match units {
            None => self.last_ts,
            Some(units) if iface.tsoffset == 0 => {
                let ns = iface.scale.nanos(units);
                if ns > i128::from(u64::MAX) {
                    self.stats.timestamps_saturated += 1;
                    u64::MAX
                } else {
                    ns as u64
                }
            }
            Some(units) => {
                let ns = iface.scale.nanos(units) + i128::from(iface.tsoffset) * 1_000_000_000;
                if ns < 0 {
                    self.stats.timestamps_saturated += 1;
                    0
                } else if ns > i128::from(u64::MAX) {
                    self.stats.timestamps_saturated += 1;
                    u64::MAX
                } else {
                    ns as u64
                }
            }
        };
        let data_start = self.start + fixed as usize;
        let data = (data_start, data_start + caplen as usize);
        self.start += len as usize;
        Ok(Some((
            data,
            Parsed {
                ts: Timestamp(ts),
                link_type: iface.link_type,
                interface,
                orig_len,
            },
        )))
    }
}
