//! TCP connection analysis (`--inspect tcp`): handshake times, SYN options and per-segment
//! events. PLACEHOLDER of the lead's branch: the analysis proper is built on branch
//! `tcp-analysis` and replaces this file when merged.

use crate::flow::key::FlowKey;
use crate::time::Timestamp;

/// A retransmission (tshark's `tcp.analysis.retransmission` or `fast_retransmission`).
pub const RETRANSMISSION: u8 = 1;
/// An out-of-order segment (`tcp.analysis.out_of_order`).
pub const OUT_OF_ORDER: u8 = 2;
/// A zero window (`tcp.analysis.zero_window`).
pub const ZERO_WINDOW: u8 = 4;

/// What the first SYN of one side carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Maximum segment size.
    pub mss: Option<u16>,
    /// Window scale shift.
    pub wscale: Option<u8>,
    /// SACK permitted.
    pub sack_ok: bool,
    /// Timestamps.
    pub timestamps: bool,
    /// IPFIX tcpOptions (209): kind X sets bit 1 << (63 - X).
    pub bitmap: u64,
}

/// The handshake's times.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handshake {
    /// The last SYN.
    pub syn: Timestamp,
    /// The last SYN-ACK.
    pub syn_ack: Timestamp,
    /// The ACK that completed it.
    pub ack: Timestamp,
}

/// What one segment showed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpVerdict {
    /// `RETRANSMISSION`, `OUT_OF_ORDER`, `ZERO_WINDOW` bits.
    pub events: u8,
    /// This side's first SYN's options.
    pub options: Option<TcpOptions>,
    /// Set on the ACK that completes the handshake.
    pub handshake: Option<Handshake>,
}

#[derive(Clone, Copy, Debug, Default)]
struct Side {
    syn: Option<Timestamp>,
    seen_syn: bool,
    isn: u32,
}

/// Connections' state.
#[derive(Debug, Default)]
pub struct TcpAnalyzer {
    table: std::collections::HashMap<(FlowKey, bool), (Side, Side, Option<Timestamp>)>,
}

impl TcpAnalyzer {
    /// An empty analyzer.
    pub fn new() -> TcpAnalyzer {
        TcpAnalyzer::default()
    }

    /// One TCP packet.
    pub fn packet(
        &mut self,
        key: &FlowKey,
        ts: Timestamp,
        header: &[u8],
        _payload_len: u32,
    ) -> TcpVerdict {
        let mut v = TcpVerdict::default();
        let (Some(&flags), Some(w)) = (header.get(13), header.get(14..16)) else {
            return v;
        };
        let seq = header
            .get(4..8)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let ack = header
            .get(8..12)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        if w == [0, 0] && flags & 0x07 == 0 {
            v.events |= ZERO_WINDOW;
        }
        let rev = key.reversed().unwrap_or(*key);
        let forward = *key <= rev;
        let canon = if forward { *key } else { rev };
        let e = self.table.entry((canon, true)).or_default();
        let (me, other) = if forward { (&mut e.0, &mut e.1) } else { (&mut e.1, &mut e.0) };
        if flags & 0x02 != 0 {
            if !me.seen_syn {
                me.seen_syn = true;
                v.options = Some(options(header));
            }
            me.syn = Some(ts);
            me.isn = seq;
        } else if flags & 0x14 == 0x10 && e.2.is_none() {
            if let (Some(syn), Some(syn_ack)) = (me.syn, other.syn) {
                if ack == other.isn.wrapping_add(1) && syn_ack >= syn {
                    e.2 = Some(ts);
                    v.handshake = Some(Handshake { syn, syn_ack, ack: ts });
                }
            }
        }
        v
    }

    /// Time passed.
    pub fn expire(&mut self, _now: Timestamp) {}

    /// Connections tracked.
    pub fn connections(&self) -> usize {
        self.table.len()
    }
}

fn options(header: &[u8]) -> TcpOptions {
    let mut o = TcpOptions::default();
    let end = header
        .get(12)
        .map_or(20, |b| usize::from(b >> 4) * 4)
        .min(header.len());
    let mut at = 20;
    while at < end {
        let kind = header[at];
        if kind < 64 {
            o.bitmap |= 1 << (63 - kind);
        }
        match kind {
            0 => break,
            1 => at += 1,
            _ => {
                let len = usize::from(*header.get(at + 1).unwrap_or(&0));
                if len < 2 {
                    break;
                }
                match kind {
                    2 => {
                        o.mss = header
                            .get(at + 2..at + 4)
                            .map(|b| u16::from_be_bytes([b[0], b[1]]))
                    }
                    3 => o.wscale = header.get(at + 2).copied(),
                    4 => o.sack_ok = true,
                    8 => o.timestamps = true,
                    _ => {}
                }
                at += len;
            }
        }
    }
    o
}
