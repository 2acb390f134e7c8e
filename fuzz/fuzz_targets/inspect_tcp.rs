//! Fuzz target: `inspect::tcp::TcpAnalyzer` over arbitrary sequences of segments.
//!
//! The input is cut into records: a control byte (which of 4 connections, which
//! direction, how many header bytes to keep: the snaplen's cut), a 2-byte time step
//! (which may also step back), a 2-byte payload length, and 24 header bytes (seq, ack,
//! data offset, flags, window, and options), so every field's extreme (wrapping sequence
//! numbers, zero windows, bogus data offsets, cut and malformed options) comes up.
//! Besides "no panic": the table never holds more than its bound, events use only the
//! three defined bits, options come only with a SYN, a handshake only with an ACK without
//! SYN or RST (at that packet's time), and expiry at the end of time empties the table.
#![no_main]

use libfuzzer_sys::fuzz_target;

use flowprobe::flow::key::{FlowKey, PROTO_TCP};
use flowprobe::inspect::tcp::{TcpAnalyzer, OUT_OF_ORDER, RETRANSMISSION, ZERO_WINDOW};
use flowprobe::time::Timestamp;

const MAX: usize = 3;

fuzz_target!(|data: &[u8]| {
    let mut a = TcpAnalyzer::with_max_connections(MAX);
    let mut ts: u64 = 1_000_000_000_000;
    for rec in data.chunks(29) {
        let [ctl, t0, t1, l0, l1, header @ ..] = rec else {
            break;
        };
        let mut key = FlowKey {
            proto: PROTO_TCP,
            ip_version: 4,
            src_port: 1000 + u16::from(ctl & 3),
            dst_port: 80,
            ..FlowKey::default()
        };
        key.src[0] = 10;
        key.dst[0] = 11;
        if ctl & 4 != 0 {
            key = key.reversed().expect("TCP keys reverse");
        }
        let step = u64::from(u16::from_be_bytes([*t0, *t1]));
        ts = if ctl & 8 != 0 {
            ts.saturating_sub(step * 1000)
        } else {
            ts.saturating_add(step * 100_000)
        };
        let keep = usize::from(ctl >> 4) * 2 + 4;
        let header = &header[..keep.min(header.len())];
        let len = u32::from(u16::from_be_bytes([*l0, *l1]));
        let v = a.packet(&key, Timestamp(ts), header, len);
        assert!(a.connections() <= MAX);
        assert_eq!(v.events & !(RETRANSMISSION | OUT_OF_ORDER | ZERO_WINDOW), 0);
        let flags = header.get(13).copied().unwrap_or(0);
        if v.options.is_some() {
            assert!(flags & 0x02 != 0, "options without a SYN");
        }
        if let Some(h) = v.handshake {
            assert_eq!(flags & 0x16, 0x10, "a handshake on a non-pure ACK");
            assert_eq!(h.ack, Timestamp(ts));
        }
        if *ctl == 0xff {
            a.expire(Timestamp(ts));
        }
    }
    a.expire(Timestamp::END);
    assert_eq!(a.connections(), 0);
});
