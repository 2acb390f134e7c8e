//! Fuzz target: the DNS parser (`inspect::dns`) over arbitrary bytes, as one UDP message
//! (`parse`) and as the start of a TCP stream (`parse_tcp`).
//!
//! Besides "no panic":
//! - `parse`: a Found message has a first question exactly when it has a name and a type,
//!   its name is at most 1,012 bytes (253 octets, each at most a 4-character escape) and
//!   has no ASCII control character (they are escaped), its RCODE fits 4 bits; with a byte
//!   appended, a Found message with a question or TC set is the same (bytes after the
//!   records are allowed then; a truncated message may stop anywhere in its records) and
//!   any other is not Found;
//! - `parse_tcp` of the same bytes behind their two-byte length equals `parse`, bytes
//!   after the first message change nothing, and every strict prefix of such a stream is
//!   Incomplete when the message is Found (a valid beginning waits for the rest);
//! - `parse_tcp` of the raw input: a Found stream is the same with a byte appended.
#![no_main]

use libfuzzer_sys::fuzz_target;

use flowprobe::inspect::dns::{parse, parse_tcp, Message};
use flowprobe::inspect::Outcome;

fn check_message(m: &Message) {
    assert_eq!(m.qname.is_some(), m.qtype.is_some());
    if let Some(name) = &m.qname {
        assert!(name.len() <= 1012, "{} bytes", name.len());
        assert!(!name.bytes().any(|b| b < 0x20 || b == 0x7f), "{name:?}");
    }
    assert!(m.rcode < 16);
}

fuzz_target!(|data: &[u8]| {
    let udp = parse(data);
    if let Outcome::Found(m) = &udp {
        check_message(m);
        let mut longer = data.to_vec();
        longer.push(0);
        let truncated = data.get(2).is_some_and(|f| f & 0x02 != 0);
        if truncated {
            // A truncated message read further: the same, or its records (read as far as
            // they go) found broken or, without a question, not DNS; never another message.
            let again = parse(&longer);
            assert!(
                again == udp || !matches!(again, Outcome::Found(_)),
                "a byte after a truncated message: {again:?}"
            );
        } else if m.qname.is_some() {
            assert_eq!(
                parse(&longer),
                udp,
                "a byte after a message with a question"
            );
        } else {
            assert!(
                !matches!(parse(&longer), Outcome::Found(_)),
                "a byte after the records of a message without a question"
            );
        }
    }
    if let Ok(len) = u16::try_from(data.len()) {
        let mut stream = len.to_be_bytes().to_vec();
        stream.extend_from_slice(data);
        assert_eq!(parse_tcp(&stream), udp, "TCP framing changed the message");
        stream.extend_from_slice(&[0, 12, 0xff]);
        assert_eq!(parse_tcp(&stream), udp, "bytes after the first message");
        if matches!(udp, Outcome::Found(_)) {
            for n in 0..2 + data.len() {
                assert_eq!(
                    parse_tcp(&stream[..n]),
                    Outcome::Incomplete,
                    "prefix of {n}"
                );
            }
        }
    }
    let tcp = parse_tcp(data);
    if let Outcome::Found(m) = &tcp {
        check_message(m);
        let mut longer = data.to_vec();
        longer.push(0x35);
        assert_eq!(parse_tcp(&longer), tcp);
    }
});
