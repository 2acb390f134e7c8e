//! Fuzz target: the TLS hello parser (`inspect::tls`) over arbitrary bytes, both entry
//! points, and the fingerprints of any ClientHello it finds.
//!
//! Besides "no panic": a hello found stays found, the same, when a byte is appended (bytes
//! after the first handshake message are not read) and a found hello's input without its
//! last byte is either the same hello or Incomplete (every prefix of a valid hello is a
//! valid beginning); JA3 is 32 hex digits and JA4 has its fixed 36-character shape.
#![no_main]

use libfuzzer_sys::fuzz_target;

use flowprobe::inspect::tls::{parse_handshake, parse_records, Hello, Transport};
use flowprobe::inspect::Outcome;

fn check(parse: fn(&[u8]) -> Outcome<Hello>, data: &[u8]) {
    let outcome = parse(data);
    let Outcome::Found(hello) = &outcome else {
        return;
    };
    if let Hello::Client(ch) = hello {
        let ja3 = ch.ja3();
        assert!(ja3.len() == 32 && ja3.bytes().all(|b| b.is_ascii_hexdigit()));
        let _ = ch.ja3_string();
        for transport in [Transport::Tcp, Transport::Quic] {
            let ja4 = ch.ja4(transport);
            assert_eq!(ja4.len(), 36, "{ja4}");
            assert_eq!(ja4.matches('_').count(), 2, "{ja4}");
        }
    }
    let mut longer = data.to_vec();
    longer.push(0x16);
    assert_eq!(parse(&longer), outcome, "a byte after the hello changed it");
    let shorter = &data[..data.len() - 1];
    let cut = parse(shorter);
    assert!(
        cut == outcome || cut == Outcome::Incomplete,
        "a prefix of a found hello: {cut:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    check(parse_records, data);
    check(parse_handshake, data);
});
