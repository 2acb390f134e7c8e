//! Fuzz target: QUIC Initials (`inspect::quic`): `is_initial` and one `QuicState` over a
//! sequence of datagrams, raw or sealed.
//!
//! The input is a sequence of records `[control, length (u16 LE), bytes]`. The control
//! byte: bit 0, sent by the client; bit 1, the bytes are the plaintext frames of an
//! Initial that the target seals (`quic::fuzzing::seal_initial`, under `cfg(fuzzing)`)
//! instead of raw datagram bytes (random bytes never pass AES-GCM, sealed ones reach the
//! frame walk, the CRYPTO reassembly and the TLS parser); bit 2, version 2 instead of 1;
//! bit 3, keys and DCID of a second connection id (a client starting over); bits 4-5, the
//! packet number's length less one; bit 7, coalesced into the previous datagram.
//!
//! Besides "no panic":
//! - a datagram `is_initial` refuses is NotThis and changes nothing (`opened` unchanged);
//! - anything but NotThis only once an Initial opened, and `opened` never goes back;
//! - Found at most once a direction, and after a direction's Found or Malformed only
//!   NotThis from it;
//! - the same sequence gives the same outcomes again, also with 24 zero bytes after each
//!   datagram made only of sealed packets (datagram padding is not a packet);
//! - a ClientHello found has a 32-hex-digit JA3 and a 36-character JA4.
//!
//! Seeds: `python3 seed_inspect_quic.py` (from `fuzz/`) writes `corpus/inspect_quic/`: the
//! first datagrams of QUIC connections in shared captures, and sealed RFC 9001 hellos.
#![no_main]

use libfuzzer_sys::fuzz_target;

use flowprobe::inspect::quic::fuzzing::seal_initial;
use flowprobe::inspect::quic::{is_initial, QuicState, VERSION_1, VERSION_2};
use flowprobe::inspect::tls::{Hello, Transport};
use flowprobe::inspect::Outcome;

const DCID_A: &[u8] = &[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08];
const DCID_B: &[u8] = &[0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99];

/// One datagram: bytes, direction, and whether it holds only sealed packets.
struct Datagram {
    bytes: Vec<u8>,
    from_client: bool,
    sealed_only: bool,
}

fn datagrams(mut data: &[u8]) -> Vec<Datagram> {
    let mut out: Vec<Datagram> = Vec::new();
    let mut pn = [0u64, 0u64];
    while let [control, lo, hi, rest @ ..] = data {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(rest.len());
        let (bytes, tail) = rest.split_at(len);
        data = tail;
        let from_client = control & 0x01 != 0;
        let sealed = control & 0x02 != 0;
        let packet = if sealed {
            let version = if control & 0x04 != 0 {
                VERSION_2
            } else {
                VERSION_1
            };
            let dcid = if control & 0x08 != 0 { DCID_B } else { DCID_A };
            let side = usize::from(from_client);
            let n = pn[side];
            pn[side] += 1;
            let pn_len = usize::from((control >> 4) & 0x03) + 1;
            // Client Initials carry the key DCID; the server's, the client's (empty) SCID.
            let header_dcid: &[u8] = if from_client { dcid } else { &[] };
            seal_initial(
                version,
                dcid,
                from_client,
                header_dcid,
                &[7; 4],
                n,
                pn_len,
                bytes,
            )
        } else {
            bytes.to_vec()
        };
        match out.last_mut() {
            Some(last) if control & 0x80 != 0 => {
                last.bytes.extend_from_slice(&packet);
                last.sealed_only &= sealed;
            }
            _ => out.push(Datagram {
                bytes: packet,
                from_client,
                sealed_only: sealed,
            }),
        }
    }
    out
}

fn run(datagrams: &[Datagram], pad: bool) -> Vec<Outcome<Hello>> {
    let mut state = QuicState::new();
    let mut ended = [false, false];
    let mut outcomes = Vec::with_capacity(datagrams.len());
    for d in datagrams {
        let mut bytes = d.bytes.clone();
        if pad && d.sealed_only {
            bytes.extend_from_slice(&[0; 24]);
        }
        let before = state.opened();
        let outcome = state.datagram(&bytes, d.from_client);
        if !is_initial(&bytes) {
            assert_eq!(outcome, Outcome::NotThis, "not an Initial");
            assert_eq!(state.opened(), before, "not an Initial changed the state");
        }
        assert!(!before || state.opened(), "opened went back");
        if outcome != Outcome::NotThis {
            assert!(state.opened(), "{outcome:?} without an Initial that opened");
        }
        let side = usize::from(d.from_client);
        if ended[side] {
            assert_eq!(outcome, Outcome::NotThis, "after the direction's end");
        }
        match &outcome {
            Outcome::Found(hello) => {
                ended[side] = true;
                if let Hello::Client(ch) = hello {
                    let ja3 = ch.ja3();
                    assert!(ja3.len() == 32 && ja3.bytes().all(|b| b.is_ascii_hexdigit()));
                    assert_eq!(ch.ja4(Transport::Quic).len(), 36);
                }
            }
            Outcome::Malformed(_) => ended[side] = true,
            Outcome::Incomplete | Outcome::NotThis => {}
        }
        outcomes.push(outcome);
    }
    outcomes
}

fuzz_target!(|data: &[u8]| {
    let datagrams = datagrams(data);
    let first = run(&datagrams, false);
    assert_eq!(run(&datagrams, false), first, "not deterministic");
    assert_eq!(
        run(&datagrams, true),
        first,
        "datagram padding changed an outcome"
    );
});
