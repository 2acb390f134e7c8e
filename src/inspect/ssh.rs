//! SSH: the identification string (banner) of either side, and a side's first binary
//! packet when it is its SSH_MSG_KEXINIT, with the HASSH fingerprints of its lists.
//!
//! Two entry points over the start of one TCP direction's byte stream:
//! - [`banner`]: the identification string, `SSH-protoversion-softwareversion [SP
//!   comments]` and CR LF (RFC 4253 section 4.2), at most [`MAX_BANNER`] bytes with its
//!   line end. The server MAY send other lines before it (section 4.2); the caller cannot
//!   always tell server from client, so such lines are allowed on either side, bounded:
//!   at most [`MAX_PRE_LINES`] of them, each at most [`MAX_PRE_LINE`] bytes, none empty,
//!   none with a control byte other than HTAB (they are text meant for people), none
//!   starting with `SSH-` (section 4.2 forbids it: such a line is the identification).
//!   A bare LF ends a line too (OpenSSH accepts it; a CR before it is dropped).
//! - [`kexinit`]: the bytes after the banner: the first binary packet (section 6:
//!   `packet_length`, `padding_length`, payload, random padding, no MAC before the first
//!   key exchange) when its payload is SSH_MSG_KEXINIT (section 7.1, message 20): the ten
//!   name-lists, `first_kex_packet_follows` and the reserved uint32.
//!
//! What is SSH here (the `app` column rests on it, never on a port): a stream whose first
//! line starts with `SSH-`, or whose first lines are short text lines followed by one that
//! does. Anything else is [`Outcome::NotThis`], decided at the first byte that breaks it; a
//! valid beginning is [`Outcome::Incomplete`]. Once a line starts with `SSH-` it is SSH:
//! an identification string that is not `SSH-`, a version of digits and dots, `-` and a
//! software version, or that holds a control byte or runs past 255 bytes, is
//! [`Outcome::Malformed`]. After the banner, a first packet that is not a KEXINIT is
//! `NotThis` (nothing to read: an SSH-1 peer, or a capture that began later); a KEXINIT
//! whose lengths do not add up is `Malformed`: a `packet_length` below 5 or above
//! [`MAX_PACKET`], padding shorter than 4 bytes or as long as the packet, a name-list
//! overrunning the payload, bytes after the reserved field. Not checked: that the packet's
//! total is a multiple of 8 (section 6). A peer that gets it wrong is refused by OpenSSH,
//! but its KEXINIT still says what it offers, and tshark fingerprints it too (Arkime's
//! synthetic sessions in the shared captures do this).
//!
//! HASSH (Salesforce, BSD 3-Clause, github.com/salesforce/hassh): `hassh` is the MD5 of
//! `kex_algorithms;encryption_algorithms_client_to_server;mac_algorithms_client_to_server;
//! compression_algorithms_client_to_server` (the client's fingerprint), `hasshServer` the
//! same with the server-to-client lists (the server's). Both are computed for any KEXINIT;
//! which one describes the sender depends on its side, which the caller knows. The name
//! lists are hashed as sent; the strings show them with invalid UTF-8 replaced (the RFC
//! makes them US-ASCII, RFC 4251 section 5). The host key algorithm and language lists are
//! read (their lengths checked) but not kept: HASSH leaves them out.
//!
//! Bounds: the banner is at most 255 bytes by section 4.2; the KEXINIT packet at most
//! [`MAX_PACKET`] bytes, which bounds its strings. The bytes are untrusted: nothing here
//! panics or indexes a slice, every read goes through [`Reader`] or a bounded iterator, and
//! every loop consumes bytes or counts to a constant.

use std::fmt::Write as _;

use md5::{Digest as _, Md5};

use super::reader::Reader;
use super::{Outcome, MAX_STREAM_BYTES};

/// The longest identification string, CR LF included (RFC 4253 section 4.2). The longest
/// in the shared captures is 41 bytes without its CR LF.
pub const MAX_BANNER: usize = 255;
/// Lines before the identification string, at most.
pub const MAX_PRE_LINES: usize = 16;
/// Bytes of one line before the identification string (its line end included), at most.
pub const MAX_PRE_LINE: usize = 1024;
/// The longest KEXINIT packet read (`packet_length`): the inspector keeps at most this
/// many bytes of a stream. Real ones are 1 to 2 KiB; RFC 4253 section 6.1 bounds every
/// packet at 35000 bytes.
pub const MAX_PACKET: usize = MAX_STREAM_BYTES;

/// SSH_MSG_KEXINIT (RFC 4250 section 4.1.2).
const MSG_KEXINIT: u8 = 20;
/// The smallest random padding (RFC 4253 section 6).
const MIN_PADDING: usize = 4;
/// The block size a cleartext packet's length is a multiple of (RFC 4253 section 6; not
/// checked, see the module doc).
#[cfg(test)]
const BLOCK: usize = 8;

/// The HASSH fingerprints of one KEXINIT, and the strings they hash.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KexInit {
    /// `hassh`: MD5 of `hassh_string`, 32 lowercase hex digits.
    pub hassh: String,
    /// `kex;enc_c2s;mac_c2s;comp_c2s` (HASSH's "hasshAlgorithms").
    pub hassh_string: String,
    /// `hasshServer`: MD5 of `hassh_server_string`, 32 lowercase hex digits.
    pub hassh_server: String,
    /// `kex;enc_s2c;mac_s2c;comp_s2c` (HASSH's "hasshServerAlgorithms").
    pub hassh_server_string: String,
}

/// The identification string ("SSH-2.0-OpenSSH_9.6", without CR LF) and the bytes it
/// used up to and including its line end. Lines before it are allowed (a server's, RFC 4253 4.2), bounded.
pub fn banner(stream: &[u8]) -> Outcome<(String, usize)> {
    let mut r = Reader::new(stream);
    for i in 0..=MAX_PRE_LINES {
        let rest = r.rest();
        if starts_like(rest, b"SSH-") {
            return identification(&mut r);
        }
        if i == MAX_PRE_LINES {
            return Outcome::NotThis;
        }
        // A line before the identification string: text, then its line end, all within
        // MAX_PRE_LINE bytes.
        let text = rest
            .iter()
            .take(MAX_PRE_LINE)
            .take_while(|b| is_text(**b))
            .count();
        let end = match rest.get(text) {
            None if text < MAX_PRE_LINE => return Outcome::Incomplete,
            Some(b'\n') if text > 0 && text < MAX_PRE_LINE => 1,
            Some(b'\r') if text > 0 && text + 2 <= MAX_PRE_LINE => match rest.get(text + 1) {
                None => return Outcome::Incomplete,
                Some(b'\n') => 2,
                Some(_) => return Outcome::NotThis,
            },
            // An empty line, a control byte, or a line past the bound.
            _ => return Outcome::NotThis,
        };
        r.skip(text + end);
    }
    Outcome::NotThis
}

/// Whether `stream` starts with `prefix`, or is a prefix of it. An empty stream is, so it
/// is read as the start of an identification string (Incomplete).
fn starts_like(stream: &[u8], prefix: &[u8]) -> bool {
    stream.iter().zip(prefix).all(|(a, b)| a == b)
}

/// A byte of a text line: printable ASCII, HTAB, or above 0x7f (a UTF-8 message).
fn is_text(b: u8) -> bool {
    matches!(b, b'\t' | 0x20..=0x7e | 0x80..=0xff)
}

/// The identification string at the reader (it starts like `SSH-`).
fn identification(r: &mut Reader<'_>) -> Outcome<(String, usize)> {
    let rest = r.rest();
    let Some(n) = rest.iter().take(MAX_BANNER).position(|b| *b == b'\n') else {
        return if rest.len() >= MAX_BANNER {
            Outcome::Malformed("identification string longer than 255 bytes")
        } else {
            Outcome::Incomplete
        };
    };
    let Some(line) = r.bytes(n + 1) else {
        return Outcome::Incomplete;
    };
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if !line.iter().all(|b| is_text(*b)) {
        return Outcome::Malformed("control byte in the identification string");
    }
    // SSH- protoversion (digits and dots) - softwareversion.
    let mut lr = Reader::new(line);
    lr.skip(4);
    let version = lr
        .rest()
        .iter()
        .take_while(|b| b.is_ascii_digit() || **b == b'.')
        .count();
    lr.skip(version);
    if version == 0 || lr.u8() != Some(b'-') || lr.is_empty() {
        return Outcome::Malformed("identification string is not SSH-version-software");
    }
    // Invalid UTF-8 replaced, and the string cut back to MAX_BANNER bytes (at a character
    // boundary) should U+FFFD have made it longer.
    let mut id = String::from_utf8_lossy(line).into_owned();
    if id.len() > MAX_BANNER {
        let mut cut = MAX_BANNER;
        while !id.is_char_boundary(cut) {
            cut -= 1;
        }
        id.truncate(cut);
    }
    Outcome::Found((id, r.position()))
}

/// The first binary packet after the banner, when it is SSH_MSG_KEXINIT (20), unencrypted.
pub fn kexinit(after_banner: &[u8]) -> Outcome<KexInit> {
    let mut r = Reader::new(after_banner);
    let Some(length) = r.u32() else {
        return Outcome::Incomplete;
    };
    let length = length as usize;
    if length > MAX_PACKET {
        return Outcome::Malformed("packet longer than 16 KiB");
    }
    // padding_length, the message number, at least 4 bytes of padding.
    if length < 2 + MIN_PADDING {
        return Outcome::Malformed("packet shorter than a message and its padding");
    }
    let Some(padding) = r.u8() else {
        return Outcome::Incomplete;
    };
    match r.rest().first() {
        None => return Outcome::Incomplete,
        Some(&MSG_KEXINIT) => {}
        Some(_) => return Outcome::NotThis,
    }
    let Some(packet) = r.bytes(length - 1) else {
        return Outcome::Incomplete;
    };
    let padding = usize::from(padding);
    if padding < MIN_PADDING {
        return Outcome::Malformed("padding shorter than 4 bytes");
    }
    if padding >= length - 1 {
        return Outcome::Malformed("padding as long as the packet");
    }
    let payload = packet.get(..length - 1 - padding).unwrap_or_default();
    match kexinit_payload(payload) {
        Ok(k) => Outcome::Found(k),
        Err(why) => Outcome::Malformed(why),
    }
}

/// A KEXINIT payload (message number included).
fn kexinit_payload(payload: &[u8]) -> Result<KexInit, &'static str> {
    let mut r = Reader::new(payload);
    // Message number (checked by the caller) and the 16-byte cookie.
    r.skip(1 + 16).ok_or("KEXINIT shorter than its cookie")?;
    let mut lists: [&[u8]; 10] = [&[]; 10];
    for list in lists.iter_mut() {
        let n = r.u32().ok_or("KEXINIT cut inside its name-lists")?;
        *list = r
            .bytes(n as usize)
            .ok_or("a name-list longer than the KEXINIT")?;
    }
    r.skip(1 + 4)
        .ok_or("KEXINIT cut before its reserved field")?;
    if !r.is_empty() {
        return Err("bytes after the KEXINIT reserved field");
    }
    let [kex, _host_key, enc_c2s, enc_s2c, mac_c2s, mac_s2c, comp_c2s, comp_s2c, _, _] = lists;
    let client = joined(&[kex, enc_c2s, mac_c2s, comp_c2s]);
    let server = joined(&[kex, enc_s2c, mac_s2c, comp_s2c]);
    Ok(KexInit {
        hassh: md5_hex(&client),
        hassh_string: into_text(client),
        hassh_server: md5_hex(&server),
        hassh_server_string: into_text(server),
    })
}

/// The lists joined by `;`.
fn joined(lists: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(lists.iter().map(|l| l.len() + 1).sum());
    for (i, l) in lists.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(l);
    }
    out
}

/// `v` as a string, invalid UTF-8 replaced (its buffer reused when it is UTF-8).
fn into_text(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn md5_hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(32);
    for b in Md5::digest(bytes) {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A KEXINIT packet: the payload from `lists` (10 name-lists), padded to a multiple of
    /// 8 with at least 4 bytes of padding (RFC 4253 section 6).
    fn packet(lists: [&str; 10]) -> Vec<u8> {
        let mut payload = vec![MSG_KEXINIT];
        payload.extend_from_slice(&[0xc0; 16]); // cookie
        for l in lists {
            payload.extend_from_slice(&(l.len() as u32).to_be_bytes());
            payload.extend_from_slice(l.as_bytes());
        }
        payload.push(0); // first_kex_packet_follows
        payload.extend_from_slice(&[0, 0, 0, 0]); // reserved
        let mut padding = BLOCK - (4 + 1 + payload.len()) % BLOCK;
        if padding < MIN_PADDING {
            padding += BLOCK;
        }
        let length = 1 + payload.len() + padding;
        let mut p = (length as u32).to_be_bytes().to_vec();
        p.push(padding as u8);
        p.extend_from_slice(&payload);
        p.extend(std::iter::repeat_n(0x5a, padding));
        p
    }

    /// The Cyberduck 6.7.1 client of the HASSH README (Example 1): its lists and hassh.
    const CYBERDUCK_KEX: &str = "curve25519-sha256@libssh.org,diffie-hellman-group-exchange-sha256,\
        ecdh-sha2-nistp521,ecdh-sha2-nistp384,ecdh-sha2-nistp256,diffie-hellman-group-exchange-sha1,\
        diffie-hellman-group1-sha1,diffie-hellman-group14-sha1,diffie-hellman-group14-sha256,\
        diffie-hellman-group15-sha512,diffie-hellman-group16-sha512,diffie-hellman-group17-sha512,\
        diffie-hellman-group18-sha512,diffie-hellman-group14-sha256@ssh.com,\
        diffie-hellman-group15-sha256,diffie-hellman-group15-sha256@ssh.com,\
        diffie-hellman-group15-sha384@ssh.com,diffie-hellman-group16-sha256,\
        diffie-hellman-group16-sha384@ssh.com,diffie-hellman-group16-sha512@ssh.com,\
        diffie-hellman-group18-sha512@ssh.com";
    const CYBERDUCK_ENC: &str = "aes128-cbc,aes128-ctr,aes192-cbc,aes192-ctr,aes256-cbc,\
        aes256-ctr,blowfish-cbc,blowfish-ctr,cast128-cbc,cast128-ctr,idea-cbc,idea-ctr,\
        serpent128-cbc,serpent128-ctr,serpent192-cbc,serpent192-ctr,serpent256-cbc,\
        serpent256-ctr,3des-cbc,3des-ctr,twofish128-cbc,twofish128-ctr,twofish192-cbc,\
        twofish192-ctr,twofish256-cbc,twofish256-ctr,twofish-cbc,arcfour,arcfour128,arcfour256";
    const CYBERDUCK_MAC: &str =
        "hmac-sha1,hmac-sha1-96,hmac-md5,hmac-md5-96,hmac-sha2-256,hmac-sha2-512";
    const CYBERDUCK_COMP: &str = "zlib@openssh.com,zlib,none";

    fn cyberduck() -> Vec<u8> {
        packet([
            CYBERDUCK_KEX,
            "ssh-rsa,ssh-dss",
            CYBERDUCK_ENC,
            "aes256-ctr",
            CYBERDUCK_MAC,
            "hmac-sha2-256",
            CYBERDUCK_COMP,
            "none",
            "",
            "",
        ])
    }

    fn found<T: std::fmt::Debug>(o: Outcome<T>) -> T {
        match o {
            Outcome::Found(t) => t,
            other => panic!("expected Found, got {other:?}"),
        }
    }

    #[test]
    fn hassh_matches_the_published_example() {
        let k = found(kexinit(&cyberduck()));
        assert_eq!(
            k.hassh_string,
            format!("{CYBERDUCK_KEX};{CYBERDUCK_ENC};{CYBERDUCK_MAC};{CYBERDUCK_COMP}")
        );
        assert_eq!(k.hassh, "8a8ae540028bf433cd68356c1b9e8d5b");
        assert_eq!(
            k.hassh_server_string,
            format!("{CYBERDUCK_KEX};aes256-ctr;hmac-sha2-256;none")
        );
        assert_eq!(k.hassh_server, md5_hex(k.hassh_server_string.as_bytes()));
        assert_eq!(k.hassh_server.len(), 32);
    }

    /// The OpenSSH 5.3 server of the HASSH README (Example 2): its hasshServerAlgorithms.
    #[test]
    fn hassh_server_uses_the_server_to_client_lists() {
        let kex = "diffie-hellman-group-exchange-sha256,diffie-hellman-group-exchange-sha1,\
                   diffie-hellman-group14-sha1,diffie-hellman-group1-sha1";
        let enc = "aes128-ctr,aes192-ctr,aes256-ctr,arcfour256,arcfour128,aes128-cbc,3des-cbc,\
                   blowfish-cbc,cast128-cbc,aes192-cbc,aes256-cbc,arcfour,\
                   rijndael-cbc@lysator.liu.se";
        let mac = "hmac-md5,hmac-sha1,umac-64@openssh.com,hmac-ripemd160,\
                   hmac-ripemd160@openssh.com,hmac-sha1-96,hmac-md5-96";
        let comp = "none,zlib@openssh.com";
        let k = found(kexinit(&packet([
            kex, "ssh-rsa", "x", enc, "y", mac, "z", comp, "", "",
        ])));
        assert_eq!(k.hassh_server_string, format!("{kex};{enc};{mac};{comp}"));
        assert_eq!(k.hassh_string, format!("{kex};x;y;z"));
        // Empty lists still take their place between the semicolons.
        let k = found(kexinit(&packet(["", "", "", "", "", "", "", "", "", ""])));
        assert_eq!(k.hassh_string, ";;;");
        assert_eq!(k.hassh, md5_hex(b";;;"));
    }

    #[test]
    fn kexinit_with_its_padding_and_more_bytes_after() {
        let p = cyberduck();
        let whole = found(kexinit(&p));
        // The next packet (the client's KEX_ECDH_INIT) is not read.
        let mut more = p.clone();
        more.extend_from_slice(&[0, 0, 0, 44, 6, 30, 0xff, 0xff]);
        assert_eq!(found(kexinit(&more)), whole);
        // Longer padding (255 is the most, RFC 4253 section 6).
        let mut p2 = p.clone();
        let pad_at = 4;
        let old_pad = usize::from(*p2.get(pad_at).unwrap());
        // The most 8-byte blocks that keep padding_length within its byte.
        let extra = (255 - old_pad) / 8 * 8;
        assert!(old_pad + extra <= 255);
        *p2.get_mut(pad_at).unwrap() = (old_pad + extra) as u8;
        p2.extend(std::iter::repeat_n(0x5a, extra));
        let len = (p2.len() - 4) as u32;
        p2.splice(0..4, len.to_be_bytes());
        assert_eq!(found(kexinit(&p2)), whole);
    }

    #[test]
    fn every_prefix_of_a_kexinit_is_incomplete() {
        let p = cyberduck();
        for n in 0..p.len() {
            assert_eq!(kexinit(p.get(..n).unwrap()), Outcome::Incomplete, "{n}");
        }
    }

    #[test]
    fn lying_lengths_are_malformed() {
        let p = cyberduck();
        let malformed = |b: &[u8]| matches!(kexinit(b), Outcome::Malformed(_));
        // packet_length above 16 KiB: refused at once.
        assert_eq!(
            kexinit(&[0, 1, 0, 0, 4, 20]),
            Outcome::Malformed("packet longer than 16 KiB")
        );
        assert!(malformed(&[0xff, 0xff, 0xff, 0xff]));
        // Too short for padding and a message.
        assert!(malformed(&[0, 0, 0, 3, 1, 20, 0, 0]));
        // packet_length 8 more than the bytes: a valid beginning, then padding that
        // covers what the name-lists needed.
        let mut longer = p.clone();
        let len = u32::from_be_bytes(longer.get(..4).unwrap().try_into().unwrap()) + 8;
        longer.splice(0..4, len.to_be_bytes());
        assert_eq!(kexinit(&longer), Outcome::Incomplete);
        longer.extend_from_slice(&[0; 8]);
        assert_eq!(
            kexinit(&longer),
            Outcome::Malformed("bytes after the KEXINIT reserved field")
        );
        // packet_length 8 less: the payload (by padding_length) loses its end.
        let mut shorter = p.clone();
        let len = u32::from_be_bytes(shorter.get(..4).unwrap().try_into().unwrap()) - 8;
        shorter.splice(0..4, len.to_be_bytes());
        assert!(malformed(&shorter));
        // packet_length not a multiple of 8 with its 4 bytes, the padding one byte longer
        // to match: not checked, the same lists.
        let mut odd = p.clone();
        let len = u32::from_be_bytes(odd.get(..4).unwrap().try_into().unwrap()) + 1;
        odd.splice(0..4, len.to_be_bytes());
        *odd.get_mut(4).unwrap() += 1;
        odd.push(0x5a);
        assert_eq!(found(kexinit(&odd)), found(kexinit(&p)));
        // padding_length below 4, and as long as the packet.
        for pad in [3u8, 255] {
            let mut q = packet(["a"; 10]);
            *q.get_mut(4).unwrap() = pad;
            assert!(malformed(&q), "padding {pad}");
        }
        // A name-list length that lies (the first, kex_algorithms, one byte too long).
        let mut q = p.clone();
        let at = 4 + 1 + 1 + 16 + 3;
        *q.get_mut(at).unwrap() += 1;
        assert!(malformed(&q));
        // Every name-list length made huge.
        for i in 0..10 {
            let mut q = packet(["a"; 10]);
            let at = 4 + 1 + 1 + 16 + i * 5;
            q.splice(at..at + 4, [0x7f, 0xff, 0xff, 0xff]);
            assert!(malformed(&q), "list {i}");
        }
    }

    #[test]
    fn a_first_packet_that_is_not_a_kexinit() {
        // SSH_MSG_IGNORE (2), or an SSH-1 packet (its own layout).
        assert_eq!(kexinit(&[0, 0, 0, 12, 6, 2, 0, 0]), Outcome::NotThis);
        assert_eq!(
            kexinit(&[0, 0, 1, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 2]),
            Outcome::NotThis
        );
        assert_eq!(kexinit(&[0, 0, 0, 12, 6]), Outcome::Incomplete);
    }

    #[test]
    fn banners() {
        let s = b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5\r\n";
        assert_eq!(
            found(banner(s)),
            (
                "SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13.5".to_string(),
                s.len()
            )
        );
        // LF only; SSH-1.99 (RFC 4253 section 5.1); comments with spaces.
        assert_eq!(
            found(banner(b"SSH-2.0-dropbear_2022.83\nrest")),
            ("SSH-2.0-dropbear_2022.83".to_string(), 25)
        );
        assert_eq!(
            found(banner(b"SSH-1.99-Cisco-1.25 (with a comment)\r\n")).0,
            "SSH-1.99-Cisco-1.25 (with a comment)"
        );
        // The banner followed by the KEXINIT in the same bytes.
        let mut both = b"SSH-2.0-Cyberduck/6.7.1.28683 (Mac OS X/10.13.6) (x86_64)\r\n".to_vec();
        let (_, used) = found(banner(&both));
        both.extend_from_slice(&cyberduck());
        assert_eq!(
            found(kexinit(both.get(used..).unwrap())).hassh,
            "8a8ae540028bf433cd68356c1b9e8d5b"
        );
        // Invalid UTF-8 replaced, the string still at most MAX_BANNER bytes.
        assert_eq!(found(banner(b"SSH-2.0-x\xff\r\n")).0, "SSH-2.0-x\u{fffd}");
        let mut wide = b"SSH-2.0-".to_vec();
        wide.extend(std::iter::repeat_n(0xff, 200));
        wide.extend_from_slice(b"\r\n");
        let (id, used) = found(banner(&wide));
        assert_eq!((id.len(), used), (8 + 82 * 3, wide.len()));
    }

    #[test]
    fn a_server_with_lines_before_its_banner() {
        let s = b"Welcome to the example host\r\n\
                  Unauthorized access prohibited\n\
                  SSH-2.0-OpenSSH_8.9\r\n";
        let (id, used) = found(banner(s));
        assert_eq!(id, "SSH-2.0-OpenSSH_8.9");
        assert_eq!(used, s.len());
        for n in 0..s.len() {
            assert_eq!(banner(s.get(..n).unwrap()), Outcome::Incomplete, "{n}");
        }
        // At most MAX_PRE_LINES lines before it.
        let mut many = b"x\r\n".repeat(MAX_PRE_LINES);
        many.extend_from_slice(b"SSH-2.0-y\r\n");
        assert_eq!(found(banner(&many)).1, many.len());
        let mut too_many = b"x\r\n".repeat(MAX_PRE_LINES + 1);
        too_many.extend_from_slice(b"SSH-2.0-y\r\n");
        assert_eq!(banner(&too_many), Outcome::NotThis);
        // A line at most MAX_PRE_LINE bytes with its end.
        let mut long = vec![b'a'; MAX_PRE_LINE - 2];
        long.extend_from_slice(b"\r\nSSH-2.0-y\r\n");
        assert!(matches!(banner(&long), Outcome::Found(_)));
        let mut too_long = vec![b'a'; MAX_PRE_LINE];
        too_long.extend_from_slice(b"\r\nSSH-2.0-y\r\n");
        assert_eq!(banner(&too_long), Outcome::NotThis);
        assert_eq!(banner(&vec![b'a'; MAX_PRE_LINE]), Outcome::NotThis);
        assert_eq!(banner(&vec![b'a'; MAX_PRE_LINE - 1]), Outcome::Incomplete);
    }

    #[test]
    fn every_prefix_of_a_banner_is_incomplete() {
        let s = b"SSH-2.0-OpenSSH_9.6\r\n";
        for n in 0..s.len() {
            assert_eq!(banner(s.get(..n).unwrap()), Outcome::Incomplete, "{n}");
        }
    }

    #[test]
    fn not_ssh() {
        for s in [
            // TLS, HTTP, binary.
            &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00][..],
            b"GET / HTTP/1.1\r\nHost: x\r\n\r\nSSH-2.0-y\r\n",
            b"HTTP/1.1 200 OK\r\n\r\n",
            &[0, 0, 0, 0],
            b"\r\n",
            b"\n",
            b"hello\r\x00",
            b"ab\x01cd\r\n",
            // Lowercase, or a line starting with something else and then control bytes.
            b"ssh-2.0-x\r\n\x00",
        ] {
            assert_eq!(
                banner(s),
                Outcome::NotThis,
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn broken_identification_strings() {
        for s in [
            &b"SSH-\r\n"[..],
            b"SSH-2.0\r\n",
            b"SSH-2.0-\r\n",
            b"SSH-x-y\r\n",
            b"SSH-2.0-a\x00b\r\n",
            b"SSH-2.0-a\rb\r\n",
        ] {
            assert!(
                matches!(banner(s), Outcome::Malformed(_)),
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
        // 255 bytes with CR LF is the most; 256 without a line end is too long.
        let mut ok = b"SSH-2.0-".to_vec();
        ok.extend(std::iter::repeat_n(b'a', MAX_BANNER - 2 - ok.len()));
        ok.extend_from_slice(b"\r\n");
        assert_eq!(ok.len(), MAX_BANNER);
        assert!(matches!(banner(&ok), Outcome::Found(_)));
        let mut long = b"SSH-2.0-".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_BANNER));
        assert_eq!(
            banner(&long),
            Outcome::Malformed("identification string longer than 255 bytes")
        );
    }

    proptest::proptest! {
        #[test]
        fn no_panic_on_any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            if let Outcome::Found((id, used)) = banner(&bytes) {
                proptest::prop_assert!(used <= bytes.len() && id.starts_with("SSH-"));
                let _ = kexinit(bytes.get(used..).unwrap_or_default());
            }
            if let Outcome::Found(k) = kexinit(&bytes) {
                proptest::prop_assert_eq!(k.hassh.len(), 32);
            }
        }

        #[test]
        fn no_panic_inside_a_kexinit(at in 0usize..400, v in proptest::num::u8::ANY) {
            let mut p = packet(["curve25519-sha256", "ssh-ed25519", "aes128-ctr", "aes128-ctr",
                "hmac-sha2-256", "hmac-sha2-256", "none", "none", "", ""]);
            if let Some(b) = p.get_mut(at) {
                *b = v;
            }
            let _ = kexinit(&p);
        }
    }
}
