//! Fuzz target: the HTTP/1.x head parser (`inspect::http::parse`) over arbitrary bytes.
//!
//! Besides "no panic": every outcome but Incomplete is final (the same with any byte
//! appended: the parser decides only on bytes it has, and reads nothing after the first
//! head); a found head's input without its last byte is the same head or Incomplete (its
//! prefixes are valid beginnings); a request's values stay within their bounds, the method
//! a non-empty token.
#![no_main]

use libfuzzer_sys::fuzz_target;

use flowprobe::inspect::http::{parse, Head, MAX_HOST, MAX_METHOD, MAX_TARGET, MAX_USER_AGENT};
use flowprobe::inspect::Outcome;

fuzz_target!(|data: &[u8]| {
    let outcome = parse(data);
    if outcome != Outcome::Incomplete {
        for b in [b'\n', b'\r', b' ', 0x00, 0xff] {
            let mut longer = data.to_vec();
            longer.push(b);
            assert_eq!(parse(&longer), outcome, "a byte appended changed it");
        }
    }
    let Outcome::Found(head) = &outcome else {
        return;
    };
    if let Head::Request(r) = head {
        assert!(!r.method.is_empty() && r.method.len() <= MAX_METHOD);
        assert!(r.method.bytes().all(|b| b.is_ascii_graphic()));
        assert!(!r.target.is_empty() && r.target.len() <= MAX_TARGET);
        assert!(r.host.as_ref().is_none_or(|h| h.len() <= MAX_HOST));
        assert!(r
            .user_agent
            .as_ref()
            .is_none_or(|u| u.len() <= MAX_USER_AGENT));
    }
    let cut = parse(&data[..data.len() - 1]);
    assert!(
        cut == outcome || cut == Outcome::Incomplete,
        "a prefix of a found head: {cut:?}"
    );
});
