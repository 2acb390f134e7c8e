//! Fuzz target: the SSH parsers (`inspect::ssh::banner` and `kexinit`) over arbitrary
//! bytes, and `kexinit` over the bytes after any banner found.
//!
//! Besides "no panic": every outcome but Incomplete is final (the same with any byte
//! appended); a found banner or KEXINIT's input without its last byte is the same or
//! Incomplete; a banner starts with `SSH-`, is at most 255 bytes and used at most the
//! input; HASSH values are 32 lowercase hex digits and the strings hold three `;`
//! separators at least (four lists).
#![no_main]

use libfuzzer_sys::fuzz_target;

use flowprobe::inspect::ssh::{banner, kexinit, KexInit, MAX_BANNER};
use flowprobe::inspect::Outcome;

fn check<T: PartialEq + std::fmt::Debug>(
    parse: impl Fn(&[u8]) -> Outcome<T>,
    data: &[u8],
) -> Outcome<T> {
    let outcome = parse(data);
    if outcome != Outcome::Incomplete {
        for b in [b'\n', b'\r', b'S', 0x00, 20, 0xff] {
            let mut longer = data.to_vec();
            longer.push(b);
            assert_eq!(parse(&longer), outcome, "a byte appended changed it");
        }
    }
    if matches!(outcome, Outcome::Found(_)) {
        let cut = parse(&data[..data.len() - 1]);
        assert!(
            cut == outcome || cut == Outcome::Incomplete,
            "a prefix of a found message: {cut:?}"
        );
    }
    outcome
}

fn hex32(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn check_kexinit(k: &KexInit) {
    assert!(hex32(&k.hassh) && hex32(&k.hassh_server));
    assert!(k.hassh_string.matches(';').count() >= 3);
    assert!(k.hassh_server_string.matches(';').count() >= 3);
}

fuzz_target!(|data: &[u8]| {
    if let Outcome::Found((id, used)) = check(banner, data) {
        assert!(id.starts_with("SSH-") && id.len() <= MAX_BANNER);
        assert!(used <= data.len());
        if let Outcome::Found(k) = check(kexinit, &data[used..]) {
            check_kexinit(&k);
        }
    }
    if let Outcome::Found(k) = check(kexinit, data) {
        check_kexinit(&k);
    }
});
