//! TLS ClientHello and ServerHello: server name, ALPN, versions, cipher, JA3 and JA4.
//!
//! Two entry points over the bytes one direction has shown so far:
//! [`parse_records`] for the start of a TCP stream (TLS records around the first handshake
//! message, RFC 8446 section 5.1 / RFC 5246 section 6.2) and [`parse_handshake`] for bare
//! handshake messages (the QUIC CRYPTO stream from offset 0, RFC 9001 section 4). Both read
//! only the first handshake message, which must be a ClientHello (RFC 8446 section 4.1.2)
//! or a ServerHello (section 4.1.3; a HelloRetryRequest is a ServerHello with a special
//! random and is reported as one).
//!
//! The bytes are untrusted: nothing here panics or indexes a slice; every read goes through
//! [`Reader`], and every loop walks a length-bounded slice. Bounds:
//! - the handshake message is at most [`MAX_HELLO`] (16 KiB) bytes; a longer one is
//!   [`Outcome::Malformed`] without waiting for its bytes, so the caller's buffer stays
//!   bounded too. Lists (ciphers, extensions, groups, ...) are bounded by that length;
//! - the server name keeps at most [`MAX_SNI`] bytes (a DNS name is at most 253 characters);
//!   ALPN values are at most 255 bytes by their one-byte length, and at most [`MAX_ALPN`]
//!   values are kept (every value still counts for the wire checks).
//!
//! What is and is not TLS here:
//! - warning alerts (level 1) before the first handshake record are passed over, at most
//!   4 of them (a server's unrecognized_name warning before its ServerHello);
//! - the first byte must be the handshake content type (22) and the record version's
//!   major byte 3 with a minor byte 0..=4 (SSL 3.0 to TLS 1.3), else [`Outcome::NotThis`].
//!   An SSLv2-compatible ClientHello (RFC 5246 appendix E.2: first byte with the high bit
//!   set, message type 1 at offset 2) is therefore `NotThis`: it carries no extensions (no
//!   server name, no ALPN) and clients stopped sending it around 2015.
//! - a first handshake message that is neither hello (a capture that began in the middle of
//!   a handshake, or encrypted handshake bytes) is `NotThis`: nothing to read, no error.
//! - everything else that breaks the layout is `Malformed`: a record length of 0 or above
//!   2^14 (RFC 8446 section 5.1), another content type before the hello is complete (records
//!   of other types MUST NOT be interleaved with a handshake message), vectors that overrun
//!   their enclosing length, odd lengths of u16 lists, bytes after the extensions.
//!
//! Lists are kept as sent, GREASE values (RFC 8701) included; the fingerprints remove them
//! as their definitions say. JA4 (FoxIO, BSD 3-Clause) is computed here; its companions
//! (JA4S and the others, under the FoxIO License 1.1) deliberately are not.

use std::fmt::Write as _;

use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::reader::Reader;
use super::Outcome;

/// The largest handshake message read (bytes of the body, after its 4-byte header).
pub const MAX_HELLO: usize = 16 * 1024;
/// Bytes of the server name kept (longer names are cut at this many bytes).
pub const MAX_SNI: usize = 255;
/// ALPN values kept from a ClientHello (each at most 255 bytes by its wire format).
pub const MAX_ALPN: usize = 32;

/// TLS record content types (RFC 8446 section 5.1): alert, handshake.
const CONTENT_ALERT: u8 = 21;
const CONTENT_HANDSHAKE: u8 = 22;
/// Warning alerts passed over before the first handshake record.
const MAX_LEADING_ALERTS: usize = 4;
/// The largest record fragment a peer may send (2^14, RFC 8446 section 5.1).
const MAX_RECORD: usize = 1 << 14;
/// Handshake message types (RFC 8446 section 4, TLS HandshakeType registry).
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
/// Extension types (TLS ExtensionType Values registry).
const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_EC_POINT_FORMATS: u16 = 11;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_ALPN: u16 = 16;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
/// The ServerHello random that makes it a HelloRetryRequest: SHA-256 of
/// "HelloRetryRequest" (RFC 8446 section 4.1.3).
const HELLO_RETRY_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// The transport that carried a ClientHello: JA4's first character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// TLS over TCP (`t`).
    Tcp,
    /// QUIC (`q`).
    Quic,
}

/// What a ClientHello offered. Lists are in wire order, GREASE values included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientHello {
    /// `legacy_version` (0x0303 for TLS 1.2 and 1.3 clients).
    pub legacy_version: u16,
    /// Cipher suites.
    pub ciphers: Vec<u16>,
    /// Extension types, in order, as sent.
    pub extensions: Vec<u16>,
    /// The first `host_name` of the server_name extension, at most [`MAX_SNI`] bytes,
    /// invalid UTF-8 replaced (U+FFFD).
    pub sni: Option<String>,
    /// ALPN protocol names (invalid UTF-8 replaced), at most [`MAX_ALPN`] of them.
    pub alpn: Vec<String>,
    /// The first ALPN value's bytes as sent (JA4 reads them: a lossy string would change
    /// its hex rule's result).
    pub alpn_first: Option<Vec<u8>>,
    /// The supported_versions extension's list (empty when absent).
    pub supported_versions: Vec<u16>,
    /// The signature_algorithms extension's list (13; not signature_algorithms_cert, 50).
    pub sig_algs: Vec<u16>,
    /// The supported_groups (elliptic curves) extension's list.
    pub groups: Vec<u16>,
    /// The ec_point_formats extension's list.
    pub point_formats: Vec<u8>,
}

/// What a ServerHello (or HelloRetryRequest) chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerHello {
    /// The negotiated version: the supported_versions extension when present, else
    /// `legacy_version` (a TLS 1.3 draft's 0x7fNN included, drafts up to 21 having their
    /// own layout: no session id or compression method).
    pub version: u16,
    /// The chosen cipher suite.
    pub cipher: u16,
    /// Whether this is a HelloRetryRequest (the special random of RFC 8446 section 4.1.3).
    pub hello_retry_request: bool,
}

/// The first handshake message of a direction.
// One a flow direction, moved once into the side table: boxing the ClientHello would only
// add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hello {
    /// From the client.
    Client(ClientHello),
    /// From the server.
    Server(ServerHello),
}

/// Whether `v` is a GREASE value (RFC 8701: 0x0A0A, 0x1A1A, ..., 0xFAFA).
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff
}

/// The usual name of a protocol version: 0x0304 -> "1.3", ..., 0x0300 -> "ssl3".
pub fn version_name(v: u16) -> Option<&'static str> {
    match v {
        0x0304 => Some("1.3"),
        0x0303 => Some("1.2"),
        0x0302 => Some("1.1"),
        0x0301 => Some("1.0"),
        0x0300 => Some("ssl3"),
        _ => None,
    }
}

/// The start of a TCP direction's byte stream: TLS records (content type 22) carrying the
/// first handshake message, which may span several records (and the caller's several
/// segments). Incomplete while a valid prefix lacks bytes; NotThis when the first bytes are
/// not a TLS handshake record; Malformed when a TLS handshake record is broken.
///
/// Bytes after the first handshake message are not looked at.
pub fn parse_records(stream: &[u8]) -> Outcome<Hello> {
    // Warning alerts before the hello are passed over (a server's unrecognized_name
    // warning before its ServerHello, as some servers send it).
    let mut stream = stream;
    for _ in 0..MAX_LEADING_ALERTS {
        if stream.first() != Some(&CONTENT_ALERT) {
            break;
        }
        match warning_alert(stream) {
            Some(true) => stream = stream.get(7..).unwrap_or_default(),
            Some(false) => return Outcome::Incomplete,
            None => return Outcome::NotThis,
        }
    }
    records(stream)
}

/// Whether `stream` starts with a whole warning alert record (`Some(true)`), a prefix of
/// one (`Some(false)`), or something else (`None`).
fn warning_alert(stream: &[u8]) -> Option<bool> {
    // Content type, version 3.0..=3.4, length 2, level 1 (warning), any description.
    let fits = |i: usize, b: u8| match i {
        0 => b == CONTENT_ALERT,
        1 => b == 3,
        2 => b <= 4,
        3 => b == 0,
        4 => b == 2,
        5 => b == 1,
        _ => true,
    };
    let head = stream.get(..7).unwrap_or(stream);
    if head.iter().enumerate().all(|(i, b)| fits(i, *b)) {
        Some(head.len() == 7)
    } else {
        None
    }
}

/// The records of a stream whose first byte is a handshake record's.
fn records(stream: &[u8]) -> Outcome<Hello> {
    let mut r = Reader::new(stream);
    // The first record's header decides whether this is TLS at all.
    match r.u8() {
        None => return Outcome::Incomplete,
        Some(CONTENT_HANDSHAKE) => {}
        Some(_) => return Outcome::NotThis,
    }
    match r.u8() {
        None => return Outcome::Incomplete,
        Some(3) => {}
        Some(_) => return Outcome::NotThis,
    }
    match r.u8() {
        None => return Outcome::Incomplete,
        Some(0..=4) => {}
        Some(_) => return Outcome::NotThis,
    }
    let mut r = Reader::new(stream);
    // The handshake bytes seen so far: borrowed while they come from one record, copied
    // (at most 4 + MAX_HELLO bytes) once a second record is needed.
    let mut first: &[u8] = &[];
    let mut joined: Option<Vec<u8>> = None;
    loop {
        // Each turn consumes at least one record header and a non-empty fragment, so the
        // loop ends within stream.len() / 6 turns; it also ends once the message is whole.
        let have: &[u8] = joined.as_deref().unwrap_or(first);
        match message_status(have) {
            Status::Whole(len) => {
                let msg = have.get(..len).unwrap_or_default();
                return hello(msg);
            }
            Status::NotHello => return Outcome::NotThis,
            Status::Broken(why) => return Outcome::Malformed(why),
            Status::NeedMore => {}
        }
        let Some(content_type) = r.u8() else {
            return Outcome::Incomplete;
        };
        if content_type != CONTENT_HANDSHAKE {
            return Outcome::Malformed("another record type inside the first handshake message");
        }
        let Some(version) = r.u16() else {
            return Outcome::Incomplete;
        };
        if version >> 8 != 3 {
            return Outcome::Malformed("record version is not 3.x");
        }
        let Some(length) = r.u16() else {
            return Outcome::Incomplete;
        };
        let length = usize::from(length);
        if length == 0 {
            return Outcome::Malformed("empty handshake record");
        }
        if length > MAX_RECORD {
            return Outcome::Malformed("record longer than 2^14 bytes");
        }
        // Take what has arrived of this record's fragment; a cut fragment still lets the
        // message header be checked early.
        let available = r.remaining().min(length);
        let fragment = r.bytes(available).unwrap_or_default();
        let cut = available < length;
        match &mut joined {
            None if first.is_empty() => first = fragment,
            None => {
                let mut v = Vec::with_capacity((first.len() + fragment.len()).min(4 + MAX_HELLO));
                v.extend_from_slice(first);
                v.extend_from_slice(fragment);
                joined = Some(v);
            }
            Some(v) => v.extend_from_slice(fragment),
        }
        // Bound the copy: a message longer than MAX_HELLO was refused by message_status
        // before another record was read, so `joined` holds at most the message plus one
        // record (4 + MAX_HELLO + MAX_RECORD bytes).
        if cut {
            let have: &[u8] = joined.as_deref().unwrap_or(first);
            return match message_status(have) {
                Status::Whole(len) => hello(have.get(..len).unwrap_or_default()),
                Status::NotHello => Outcome::NotThis,
                Status::Broken(why) => Outcome::Malformed(why),
                Status::NeedMore => Outcome::Incomplete,
            };
        }
    }
}

/// Handshake messages without the record layer (QUIC CRYPTO stream, from offset 0).
/// Incomplete while the first message lacks bytes; NotThis when it is not a hello;
/// Malformed when it is a broken one.
pub fn parse_handshake(msgs: &[u8]) -> Outcome<Hello> {
    match message_status(msgs) {
        Status::Whole(len) => hello(msgs.get(..len).unwrap_or_default()),
        Status::NotHello => Outcome::NotThis,
        Status::Broken(why) => Outcome::Malformed(why),
        Status::NeedMore => Outcome::Incomplete,
    }
}

/// How far the bytes of a first handshake message are.
enum Status {
    /// The whole message (header included) is the first `usize` bytes.
    Whole(usize),
    /// More bytes are needed.
    NeedMore,
    /// Not a hello: no need to wait.
    NotHello,
    /// A broken hello: no need to wait.
    Broken(&'static str),
}

/// Checks a handshake message's header as early as its bytes allow.
fn message_status(have: &[u8]) -> Status {
    let mut r = Reader::new(have);
    match r.u8() {
        None => return Status::NeedMore,
        Some(CLIENT_HELLO | SERVER_HELLO) => {}
        Some(_) => return Status::NotHello,
    }
    let Some(length) = r.u24() else {
        return Status::NeedMore;
    };
    let length = length as usize;
    if length > MAX_HELLO {
        return Status::Broken("hello longer than 16 KiB");
    }
    if r.remaining() < length {
        return Status::NeedMore;
    }
    Status::Whole(4 + length)
}

/// One whole handshake message (header included) that is a ClientHello or ServerHello.
fn hello(msg: &[u8]) -> Outcome<Hello> {
    let mut r = Reader::new(msg);
    let parsed = match (r.u8(), r.vec24()) {
        (Some(CLIENT_HELLO), Some(body)) => client_hello(body).map(Hello::Client),
        (Some(SERVER_HELLO), Some(body)) => server_hello(body).map(Hello::Server),
        // message_status let only hellos with their whole length through.
        _ => Err("not a whole hello"),
    };
    match parsed {
        Ok(h) => Outcome::Found(h),
        Err(why) => Outcome::Malformed(why),
    }
}

/// `Some` or the reason it was not there.
fn need<T>(o: Option<T>, why: &'static str) -> Result<T, &'static str> {
    o.ok_or(why)
}

/// A list of big-endian u16 values (the whole slice).
fn u16_list(bytes: &[u8], why: &'static str) -> Result<Vec<u16>, &'static str> {
    if !bytes.len().is_multiple_of(2) {
        return Err(why);
    }
    let mut r = Reader::new(bytes);
    let mut out = Vec::with_capacity(bytes.len() / 2);
    while let Some(v) = r.u16() {
        out.push(v);
    }
    Ok(out)
}

/// The fields common to both hellos up to the session id, then the rest.
fn client_hello(body: &[u8]) -> Result<ClientHello, &'static str> {
    let mut r = Reader::new(body);
    let mut ch = ClientHello {
        legacy_version: need(r.u16(), "ClientHello cut before its version")?,
        ..ClientHello::default()
    };
    need(r.skip(32), "ClientHello cut in its random")?;
    let session_id = need(r.vec8(), "ClientHello session id overruns the message")?;
    if session_id.len() > 32 {
        return Err("ClientHello session id longer than 32 bytes");
    }
    let ciphers = need(r.vec16(), "ClientHello cipher suites overrun the message")?;
    ch.ciphers = u16_list(ciphers, "ClientHello cipher suites of odd length")?;
    need(
        r.vec8(),
        "ClientHello compression methods overrun the message",
    )?;
    if r.is_empty() {
        // No extensions block: legal before TLS 1.3 (RFC 5246 section 7.4.1.2).
        return Ok(ch);
    }
    let extensions = need(r.vec16(), "ClientHello extensions overrun the message")?;
    if !r.is_empty() {
        return Err("bytes after the ClientHello extensions");
    }
    let mut r = Reader::new(extensions);
    while !r.is_empty() {
        let ty = need(r.u16(), "ClientHello extension cut in its type")?;
        let data = need(r.vec16(), "ClientHello extension overruns the extensions")?;
        let first = !ch.extensions.contains(&ty);
        ch.extensions.push(ty);
        if !first {
            // A repeated extension (RFC 8446 forbids it) adds its type; its values do not
            // replace the first one's.
            continue;
        }
        match ty {
            EXT_SERVER_NAME => ch.sni = server_name(data)?,
            EXT_ALPN => (ch.alpn, ch.alpn_first) = alpn(data)?,
            EXT_SUPPORTED_VERSIONS => {
                let list = need(
                    Reader::new(data).vec8(),
                    "supported_versions overruns its extension",
                )?;
                ch.supported_versions = u16_list(list, "supported_versions of odd length")?;
            }
            EXT_SIGNATURE_ALGORITHMS => {
                let list = need(
                    Reader::new(data).vec16(),
                    "signature_algorithms overruns its extension",
                )?;
                ch.sig_algs = u16_list(list, "signature_algorithms of odd length")?;
            }
            EXT_SUPPORTED_GROUPS => {
                let list = need(
                    Reader::new(data).vec16(),
                    "supported_groups overruns its extension",
                )?;
                ch.groups = u16_list(list, "supported_groups of odd length")?;
            }
            EXT_EC_POINT_FORMATS => {
                let list = need(
                    Reader::new(data).vec8(),
                    "ec_point_formats overruns its extension",
                )?;
                ch.point_formats = list.to_vec();
            }
            _ => {}
        }
    }
    Ok(ch)
}

/// The first host_name of a server_name extension (RFC 6066 section 3). An empty extension
/// body (as servers send it) has no name.
fn server_name(data: &[u8]) -> Result<Option<String>, &'static str> {
    if data.is_empty() {
        return Ok(None);
    }
    let list = need(
        Reader::new(data).vec16(),
        "server_name list overruns its extension",
    )?;
    let mut r = Reader::new(list);
    while !r.is_empty() {
        let name_type = need(r.u8(), "server_name entry cut")?;
        let name = need(r.vec16(), "server_name overruns its list")?;
        if name_type == 0 {
            let kept = name.get(..name.len().min(MAX_SNI)).unwrap_or_default();
            return Ok(Some(String::from_utf8_lossy(kept).into_owned()));
        }
    }
    Ok(None)
}

/// ALPN protocol names (RFC 7301 section 3.1): the kept strings and the first raw value.
type Alpn = (Vec<String>, Option<Vec<u8>>);

fn alpn(data: &[u8]) -> Result<Alpn, &'static str> {
    let list = need(
        Reader::new(data).vec16(),
        "ALPN list overruns its extension",
    )?;
    let mut r = Reader::new(list);
    let mut names = Vec::new();
    let mut first = None;
    while !r.is_empty() {
        let name = need(r.vec8(), "ALPN name overruns its list")?;
        if first.is_none() {
            first = Some(name.to_vec());
        }
        if names.len() < MAX_ALPN {
            names.push(String::from_utf8_lossy(name).into_owned());
        }
    }
    Ok((names, first))
}

fn server_hello(body: &[u8]) -> Result<ServerHello, &'static str> {
    let mut r = Reader::new(body);
    let legacy_version = need(r.u16(), "ServerHello cut before its version")?;
    let random: [u8; 32] = need(r.array(), "ServerHello cut in its random")?;
    if legacy_version >> 8 == 0x7f {
        // A TLS 1.3 draft (0x7fNN, drafts up to 21): no session id, no compression
        // method, the version in this field (draft-ietf-tls-tls13-21 section 4.1.3).
        let cipher = need(r.u16(), "ServerHello cut before its cipher suite")?;
        need(r.vec16(), "ServerHello extensions overrun the message")?;
        if !r.is_empty() {
            return Err("bytes after the ServerHello extensions");
        }
        return Ok(ServerHello {
            version: legacy_version,
            cipher,
            hello_retry_request: false,
        });
    }
    let session_id = need(r.vec8(), "ServerHello session id overruns the message")?;
    if session_id.len() > 32 {
        return Err("ServerHello session id longer than 32 bytes");
    }
    let cipher = need(r.u16(), "ServerHello cut before its cipher suite")?;
    need(r.u8(), "ServerHello cut before its compression method")?;
    let mut sh = ServerHello {
        version: legacy_version,
        cipher,
        hello_retry_request: random == HELLO_RETRY_RANDOM,
    };
    if r.is_empty() {
        return Ok(sh);
    }
    let extensions = need(r.vec16(), "ServerHello extensions overrun the message")?;
    if !r.is_empty() {
        return Err("bytes after the ServerHello extensions");
    }
    let mut r = Reader::new(extensions);
    let mut seen_versions = false;
    while !r.is_empty() {
        let ty = need(r.u16(), "ServerHello extension cut in its type")?;
        let data = need(r.vec16(), "ServerHello extension overruns the extensions")?;
        if ty == EXT_SUPPORTED_VERSIONS && !seen_versions {
            seen_versions = true;
            // selected_version: one u16 (RFC 8446 section 4.2.1).
            let mut d = Reader::new(data);
            sh.version = need(d.u16(), "ServerHello supported_versions cut")?;
            if !d.is_empty() {
                return Err("ServerHello supported_versions longer than one version");
            }
        }
    }
    Ok(sh)
}

/// Lowercase hex of bytes.
fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Decimal values joined by '-'.
fn dash_joined<T: std::fmt::Display>(values: impl Iterator<Item = T>) -> String {
    let mut s = String::new();
    for (i, v) in values.enumerate() {
        if i > 0 {
            s.push('-');
        }
        let _ = write!(s, "{v}");
    }
    s
}

/// 4-digit lowercase hex values joined by ','.
fn hex4_joined(values: &[u16]) -> String {
    let mut s = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v:04x}");
    }
    s
}

/// The first 12 hex digits of the SHA-256 of `s`.
fn sha256_12(s: &str) -> String {
    let digest = Sha256::digest(s.as_bytes());
    let mut h = hex(&digest);
    h.truncate(12);
    h
}

/// JA4's two-character version code (JA4.md, "TLS and DTLS Version").
fn ja4_version(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// JA4's ALPN part: the first and last characters of the first ALPN value, or of its hex
/// form when either is not ASCII alphanumeric; "00" without a (non-empty) first value.
fn ja4_alpn(first: Option<&[u8]>) -> String {
    let Some(v) = first else {
        return "00".to_string();
    };
    let (Some(&a), Some(&z)) = (v.first(), v.last()) else {
        return "00".to_string();
    };
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        return [char::from(a), char::from(z)].iter().collect();
    }
    let h = hex(v);
    let mut chars = h.chars();
    match (chars.next(), chars.next_back()) {
        (Some(a), Some(z)) => [a, z].iter().collect(),
        _ => "00".to_string(),
    }
}

impl ClientHello {
    /// The JA3 string (Salesforce): `SSLVersion,Ciphers,Extensions,EllipticCurves,
    /// EllipticCurvePointFormats`, decimal values joined by '-', GREASE values removed
    /// from every list; empty lists leave their field empty.
    pub fn ja3_string(&self) -> String {
        let ciphers = self.ciphers.iter().filter(|v| !is_grease(**v));
        let extensions = self.extensions.iter().filter(|v| !is_grease(**v));
        let groups = self.groups.iter().filter(|v| !is_grease(**v));
        format!(
            "{},{},{},{},{}",
            self.legacy_version,
            dash_joined(ciphers),
            dash_joined(extensions),
            dash_joined(groups),
            dash_joined(self.point_formats.iter()),
        )
    }

    /// JA3: the MD5 of [`ClientHello::ja3_string`], 32 lowercase hex digits.
    pub fn ja3(&self) -> String {
        hex(&Md5::digest(self.ja3_string().as_bytes()))
    }

    /// The version JA4 reports: the highest non-GREASE supported_versions value, else
    /// `legacy_version`.
    pub fn ja4_version(&self) -> u16 {
        self.supported_versions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .max()
            .unwrap_or(self.legacy_version)
    }

    /// JA4's first part (`t13d1516h2`): transport, version, SNI present (`d`) or not
    /// (`i`), cipher and extension counts without GREASE (capped at 99), ALPN characters.
    pub fn ja4_a(&self, transport: Transport) -> String {
        let proto = match transport {
            Transport::Tcp => 't',
            Transport::Quic => 'q',
        };
        let sni = if self.extensions.contains(&EXT_SERVER_NAME) {
            'd'
        } else {
            'i'
        };
        let ciphers = self.ciphers.iter().filter(|v| !is_grease(**v)).count();
        let extensions = self.extensions.iter().filter(|v| !is_grease(**v)).count();
        format!(
            "{proto}{}{sni}{:02}{:02}{}",
            ja4_version(self.ja4_version()),
            ciphers.min(99),
            extensions.min(99),
            ja4_alpn(self.alpn_first.as_deref()),
        )
    }

    /// JA4's raw second and third parts (`JA4_r` without the first part): the sorted cipher
    /// list, and the sorted extension list without SNI and ALPN followed by `_` and the
    /// signature algorithms in wire order (no `_` when there are none). GREASE removed.
    pub fn ja4_raw_lists(&self) -> (String, String) {
        let mut ciphers: Vec<u16> = self
            .ciphers
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .collect();
        ciphers.sort_unstable();
        let mut extensions: Vec<u16> = self
            .extensions
            .iter()
            .copied()
            .filter(|v| !is_grease(*v) && *v != EXT_SERVER_NAME && *v != EXT_ALPN)
            .collect();
        extensions.sort_unstable();
        let sig_algs: Vec<u16> = self
            .sig_algs
            .iter()
            .copied()
            .filter(|v| !is_grease(*v))
            .collect();
        let mut c = hex4_joined(&extensions);
        if !sig_algs.is_empty() {
            c.push('_');
            c.push_str(&hex4_joined(&sig_algs));
        }
        (hex4_joined(&ciphers), c)
    }

    /// JA4 (FoxIO, BSD 3-Clause; technical_details/JA4.md), e.g.
    /// `t13d1516h2_8daaf6152771_e5627efa2ab1`. An empty cipher list, or an empty extension
    /// list once SNI and ALPN are left out, hashes to `000000000000`.
    pub fn ja4(&self, transport: Transport) -> String {
        let (b, c) = self.ja4_raw_lists();
        let has_extensions = self
            .extensions
            .iter()
            .any(|v| !is_grease(*v) && *v != EXT_SERVER_NAME && *v != EXT_ALPN);
        let b = if b.is_empty() {
            "000000000000".to_string()
        } else {
            sha256_12(&b)
        };
        let c = if has_extensions {
            sha256_12(&c)
        } else {
            "000000000000".to_string()
        };
        format!("{}_{b}_{c}", self.ja4_a(transport))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello handshake message (header included), field by field: what a TLS 1.3
    /// browser sends, with GREASE in the ciphers, extensions, groups and versions.
    #[rustfmt::skip]
    pub(crate) const CLIENT_HELLO_MSG: &[u8] = &[
        0x01, 0x00, 0x00, 0x98,             // ClientHello, length 152
        0x03, 0x03,                         // legacy_version TLS 1.2
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, // random (32 bytes)
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
        0x04, 0xaa, 0xbb, 0xcc, 0xdd,       // session id, 4 bytes
        0x00, 0x08,                         // cipher suites, 8 bytes:
        0x5a, 0x5a, 0x13, 0x01, 0x13, 0x02, 0xc0, 0x2b, //   GREASE, 1301, 1302, c02b
        0x01, 0x00,                         // compression methods: null
        0x00, 0x63,                         // extensions, 99 bytes:
        0x0a, 0x0a, 0x00, 0x00,             //   GREASE extension, empty
        0x00, 0x00, 0x00, 0x10,             //   server_name, 16 bytes:
        0x00, 0x0e, 0x00, 0x00, 0x0b,       //     list 14, host_name, length 11
        b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'c', b'o', b'm',
        0x00, 0x10, 0x00, 0x0e,             //   ALPN, 14 bytes:
        0x00, 0x0c, 0x02, b'h', b'2',       //     list 12, "h2",
        0x08, b'h', b't', b't', b'p', b'/', b'1', b'.', b'1', // "http/1.1"
        0x00, 0x2b, 0x00, 0x07,             //   supported_versions, 7 bytes:
        0x06, 0x2a, 0x2a, 0x03, 0x04, 0x03, 0x03, // GREASE, 1.3, 1.2
        0x00, 0x0d, 0x00, 0x08,             //   signature_algorithms, 8 bytes:
        0x00, 0x06, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, // 0403, 0804, 0401
        0x00, 0x0a, 0x00, 0x08,             //   supported_groups, 8 bytes:
        0x00, 0x06, 0xfa, 0xfa, 0x00, 0x1d, 0x00, 0x17, // GREASE, x25519, secp256r1
        0x00, 0x0b, 0x00, 0x02, 0x01, 0x00, //   ec_point_formats: uncompressed
        0xff, 0x01, 0x00, 0x01, 0x00,       //   renegotiation_info, 1 byte
        0x00, 0x17, 0x00, 0x00,             //   extended_master_secret, empty
        0x00, 0x15, 0x00, 0x03, 0x00, 0x00, 0x00, // padding, 3 bytes
    ];

    /// A TLS 1.3 ServerHello (header included).
    #[rustfmt::skip]
    pub(crate) const SERVER_HELLO_MSG: &[u8] = &[
        0x02, 0x00, 0x00, 0x36,             // ServerHello, length 54
        0x03, 0x03,                         // legacy_version TLS 1.2
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, // random (32 bytes)
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x22,
        0x00,                               // session id, empty
        0x13, 0x02,                         // cipher TLS_AES_256_GCM_SHA384
        0x00,                               // compression null
        0x00, 0x0e,                         // extensions, 14 bytes:
        0x00, 0x2b, 0x00, 0x02, 0x03, 0x04, //   supported_versions: 1.3
        0x00, 0x33, 0x00, 0x04, 0x00, 0x1d, 0x00, 0x00, // key_share x25519 (cut, unread)
    ];

    /// Wraps handshake bytes in one record per chunk of `sizes` (the rest in a last one).
    pub(crate) fn records(msg: &[u8], sizes: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = msg;
        for &n in sizes.iter().chain(std::iter::once(&usize::MAX)) {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(n.min(rest.len()));
            out.extend_from_slice(&[22, 3, 1]);
            out.extend_from_slice(&(chunk.len() as u16).to_be_bytes());
            out.extend_from_slice(chunk);
            rest = tail;
        }
        out
    }

    fn client(o: Outcome<Hello>) -> ClientHello {
        match o {
            Outcome::Found(Hello::Client(ch)) => ch,
            other => panic!("expected a ClientHello, got {other:?}"),
        }
    }

    fn server(o: Outcome<Hello>) -> ServerHello {
        match o {
            Outcome::Found(Hello::Server(sh)) => sh,
            other => panic!("expected a ServerHello, got {other:?}"),
        }
    }

    #[test]
    fn client_hello_fields() {
        let ch = client(parse_records(&records(CLIENT_HELLO_MSG, &[])));
        assert_eq!(ch.legacy_version, 0x0303);
        assert_eq!(ch.ciphers, [0x5a5a, 0x1301, 0x1302, 0xc02b]);
        assert_eq!(
            ch.extensions,
            [0x0a0a, 0, 16, 43, 13, 10, 11, 0xff01, 23, 21],
            "in order, as sent"
        );
        assert_eq!(ch.sni.as_deref(), Some("example.com"));
        assert_eq!(ch.alpn, ["h2", "http/1.1"]);
        assert_eq!(ch.alpn_first.as_deref(), Some(&b"h2"[..]));
        assert_eq!(ch.supported_versions, [0x2a2a, 0x0304, 0x0303]);
        assert_eq!(ch.sig_algs, [0x0403, 0x0804, 0x0401]);
        assert_eq!(ch.groups, [0xfafa, 29, 23]);
        assert_eq!(ch.point_formats, [0]);
        assert_eq!(ch.ja4_version(), 0x0304);
        // The same message without the record layer (QUIC).
        assert_eq!(
            client(parse_handshake(CLIENT_HELLO_MSG)),
            ch,
            "parse_handshake reads the same"
        );
    }

    #[test]
    fn client_hello_fingerprints_drop_grease() {
        let ch = client(parse_handshake(CLIENT_HELLO_MSG));
        assert_eq!(
            ch.ja3_string(),
            "771,4865-4866-49195,0-16-43-13-10-11-65281-23-21,29-23,0"
        );
        assert_eq!(ch.ja3(), hex(&Md5::digest(ch.ja3_string().as_bytes())));
        assert_eq!(ch.ja3().len(), 32);
        // 3 ciphers, 9 extensions without GREASE; "h2".
        assert_eq!(ch.ja4_a(Transport::Tcp), "t13d0309h2");
        assert_eq!(ch.ja4_a(Transport::Quic), "q13d0309h2");
        let (b, c) = ch.ja4_raw_lists();
        assert_eq!(b, "1301,1302,c02b");
        assert_eq!(c, "000a,000b,000d,0015,0017,002b,ff01_0403,0804,0401");
        assert_eq!(
            ch.ja4(Transport::Tcp),
            format!("t13d0309h2_{}_{}", sha256_12(&b), sha256_12(&c))
        );
    }

    #[test]
    fn grease_values_are_the_sixteen_of_rfc8701() {
        let all: Vec<u16> = (0..=u16::MAX).filter(|v| is_grease(*v)).collect();
        let expected: Vec<u16> = (0..16u16)
            .map(|i| (i << 12) | 0x0a00 | (i << 4) | 0x0a)
            .collect();
        assert_eq!(all, expected);
        assert!(all.contains(&0x0a0a) && all.contains(&0xfafa));
        assert!(!is_grease(0x0a1a) && !is_grease(0x1a0a) && !is_grease(0x0b0b));
    }

    #[test]
    fn server_hello_fields() {
        let sh = server(parse_records(&records(SERVER_HELLO_MSG, &[])));
        assert_eq!(
            sh,
            ServerHello {
                version: 0x0304,
                cipher: 0x1302,
                hello_retry_request: false
            }
        );
        // TLS 1.2: no supported_versions, no extensions at all: the legacy version.
        #[rustfmt::skip]
        let tls12: &[u8] = &[
            0x02, 0x00, 0x00, 0x26, 0x03, 0x03,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0x00, 0xc0, 0x2f, 0x00,
        ];
        let sh = server(parse_handshake(tls12));
        assert_eq!((sh.version, sh.cipher), (0x0303, 0xc02f));
        assert_eq!(version_name(sh.version), Some("1.2"));
    }

    #[test]
    fn warning_alerts_before_the_hello_are_passed_over() {
        let mut stream = vec![21, 3, 3, 0, 2, 1, 112]; // warning, unrecognized_name
        stream.extend_from_slice(&records(SERVER_HELLO_MSG, &[]));
        assert_eq!(server(parse_records(&stream)).cipher, 0x1302);
        for n in 0..stream.len() {
            assert_eq!(parse_records(stream.get(..n).unwrap()), Outcome::Incomplete);
        }
        // A fatal alert, or an alert of another length: not a handshake start.
        assert_eq!(parse_records(&[21, 3, 3, 0, 2, 2, 40]), Outcome::NotThis);
        assert_eq!(parse_records(&[21, 3, 3, 0, 3, 1]), Outcome::NotThis);
        // At most four are passed over.
        let many: Vec<u8> = [21u8, 3, 3, 0, 2, 1, 112].repeat(5);
        assert_eq!(parse_records(&many), Outcome::NotThis);
    }

    #[test]
    fn draft_tls13_server_hello() {
        #[rustfmt::skip]
        let draft: &[u8] = &[
            0x02, 0x00, 0x00, 0x2a, 0x7f, 0x12, // ServerHello, 42 bytes, draft 18
            7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, // random
            7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
            0x13, 0x01,                          // cipher, no session id before it
            0x00, 0x04, 0x00, 0x33, 0x00, 0x00,  // extensions: empty key_share
        ];
        let sh = server(parse_handshake(draft));
        assert_eq!((sh.version, sh.cipher), (0x7f12, 0x1301));
    }

    #[test]
    fn hello_retry_request_is_a_server_hello() {
        let mut msg = SERVER_HELLO_MSG.to_vec();
        msg.splice(6..38, HELLO_RETRY_RANDOM);
        let sh = server(parse_records(&records(&msg, &[])));
        assert!(sh.hello_retry_request);
        assert_eq!((sh.version, sh.cipher), (0x0304, 0x1302));
    }

    #[test]
    fn a_hello_across_records_and_segments() {
        let whole = client(parse_handshake(CLIENT_HELLO_MSG));
        // Cut inside the handshake header, inside the random and inside the extensions.
        for sizes in [&[2][..], &[40], &[100, 30], &[1, 1, 1, 1]] {
            let stream = records(CLIENT_HELLO_MSG, sizes);
            assert_eq!(client(parse_records(&stream)), whole, "records {sizes:?}");
            // Bytes after the message (the next record) are not read.
            let mut more = stream.clone();
            more.extend_from_slice(&[23, 3, 3, 0, 1, 0xff]);
            assert_eq!(client(parse_records(&more)), whole, "with a record after");
        }
    }

    #[test]
    fn every_prefix_is_incomplete() {
        for stream in [
            records(CLIENT_HELLO_MSG, &[]),
            records(CLIENT_HELLO_MSG, &[3, 50]),
            records(SERVER_HELLO_MSG, &[10]),
        ] {
            for n in 0..stream.len() {
                assert_eq!(
                    parse_records(stream.get(..n).unwrap()),
                    Outcome::Incomplete,
                    "prefix of {n} bytes"
                );
            }
            assert!(matches!(parse_records(&stream), Outcome::Found(_)));
        }
        for msg in [CLIENT_HELLO_MSG, SERVER_HELLO_MSG] {
            for n in 0..msg.len() {
                assert_eq!(parse_handshake(msg.get(..n).unwrap()), Outcome::Incomplete);
            }
        }
    }

    #[test]
    fn not_tls() {
        assert_eq!(parse_records(b"GET / HTTP/1.1\r\n"), Outcome::NotThis);
        assert_eq!(parse_records(b"SSH-2.0-OpenSSH"), Outcome::NotThis);
        // Application data or an alert first: not a handshake start.
        assert_eq!(parse_records(&[23, 3, 3, 0, 5]), Outcome::NotThis);
        // Record version 2.0 or 3.9.
        assert_eq!(parse_records(&[22, 2, 0, 0, 5]), Outcome::NotThis);
        assert_eq!(parse_records(&[22, 3, 9]), Outcome::NotThis);
        // SSLv2-compatible ClientHello (2-byte header with the high bit, type 1).
        assert_eq!(
            parse_records(&[0x80, 0x2e, 0x01, 0x03, 0x01, 0x00, 0x15]),
            Outcome::NotThis
        );
        // A handshake record whose message is not a hello (capture began mid-handshake).
        assert_eq!(
            parse_records(&[22, 3, 3, 0, 4, 11, 0, 0, 0]),
            Outcome::NotThis
        );
        assert_eq!(parse_handshake(&[20, 0, 0, 32]), Outcome::NotThis);
    }

    #[test]
    fn lying_lengths_and_broken_records() {
        let malformed = |b: &[u8]| matches!(parse_records(b), Outcome::Malformed(_));
        // Record length 0, and above 2^14.
        assert!(malformed(&[22, 3, 1, 0, 0]));
        assert!(malformed(&[22, 3, 1, 0x40, 0x01]));
        // Hello length above 16 KiB: refused at once, without waiting for its bytes.
        assert_eq!(
            parse_records(&[22, 3, 1, 0x40, 0, 1, 0x00, 0x40, 0x01]),
            Outcome::Malformed("hello longer than 16 KiB")
        );
        // An alert record in the middle of the hello.
        let mut two = records(CLIENT_HELLO_MSG, &[20]);
        let second = 5 + 20;
        *two.get_mut(second).unwrap() = 21;
        assert!(malformed(&two));
        // Every inner length one too long: Malformed (the message length is right).
        let inner_lengths = [
            38usize, // session id (u8)
            44,      // cipher suites (u16 low byte)
            53,      // compression (u8)
            56,      // extensions (u16 low byte)
            64,      // server_name extension length
            66,      // server_name list
            69,      // host_name
            86,      // ALPN list
        ];
        for at in inner_lengths {
            let mut msg = CLIENT_HELLO_MSG.to_vec();
            *msg.get_mut(at).unwrap() += 1;
            assert!(
                matches!(parse_handshake(&msg), Outcome::Malformed(_)),
                "length at {at} one too long: {:?}",
                parse_handshake(&msg)
            );
        }
        // An odd cipher suites length (one byte short, the byte joins compression).
        let mut msg = CLIENT_HELLO_MSG.to_vec();
        *msg.get_mut(44).unwrap() = 7;
        assert!(matches!(parse_handshake(&msg), Outcome::Malformed(_)));
        // Message length one short (the last extension overruns) and one long (the hello
        // is cut: a valid prefix for all the reader knows, then bytes after the
        // extensions once the next byte arrives).
        let mut msg = CLIENT_HELLO_MSG.to_vec();
        *msg.get_mut(3).unwrap() -= 1;
        assert!(matches!(parse_handshake(&msg), Outcome::Malformed(_)));
        let mut msg = CLIENT_HELLO_MSG.to_vec();
        *msg.get_mut(3).unwrap() += 1;
        assert_eq!(parse_handshake(&msg), Outcome::Incomplete);
        msg.push(0);
        assert_eq!(
            parse_handshake(&msg),
            Outcome::Malformed("bytes after the ClientHello extensions")
        );
        // Session id above 32 bytes.
        let mut msg = SERVER_HELLO_MSG.to_vec();
        *msg.get_mut(38).unwrap() = 33;
        assert!(matches!(parse_handshake(&msg), Outcome::Malformed(_)));
    }

    #[test]
    fn garbage_after_a_valid_header_never_panics() {
        // A deterministic xorshift: the same bytes every run.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for len in 0..600usize {
            let mut stream = vec![22, 3, 1];
            stream.extend_from_slice(&(len as u16).to_be_bytes());
            stream.push(if len % 2 == 0 { 1 } else { 2 });
            stream.extend_from_slice(&[0, (len >> 8) as u8, len as u8]);
            stream.extend((0..len).map(|_| next() as u8));
            match parse_records(&stream) {
                Outcome::Found(h) => {
                    if let Hello::Client(ch) = h {
                        let _ = (ch.ja3(), ch.ja4(Transport::Tcp));
                    }
                }
                Outcome::Incomplete | Outcome::NotThis | Outcome::Malformed(_) => {}
            }
        }
        // Every byte of a valid hello changed to every value: no panic, and a Found
        // ClientHello still fingerprints.
        let stream = records(CLIENT_HELLO_MSG, &[60]);
        for at in 0..stream.len() {
            for v in [0u8, 1, 0x7f, 0x80, 0xfe, 0xff] {
                let mut s = stream.clone();
                *s.get_mut(at).unwrap() = v;
                if let Outcome::Found(Hello::Client(ch)) = parse_records(&s) {
                    let _ = (ch.ja3(), ch.ja4(Transport::Tcp));
                }
            }
        }
    }

    #[test]
    fn server_name_is_cut_at_255_bytes() {
        let name = vec![b'a'; 300];
        let mut ext = Vec::new();
        ext.extend_from_slice(&(303u16).to_be_bytes());
        ext.push(0);
        ext.extend_from_slice(&(300u16).to_be_bytes());
        ext.extend_from_slice(&name);
        let sni = server_name(&ext).unwrap().unwrap();
        assert_eq!(sni.len(), MAX_SNI);
        assert_eq!(server_name(&[]), Ok(None), "a server's empty extension");
    }

    /// JA4 against the worked example of FoxIO's technical_details/JA4.md: its cipher,
    /// extension and signature algorithm lists, "h2", version 1.3 from supported_versions.
    #[test]
    fn ja4_matches_the_specification_example() {
        let ch = ClientHello {
            legacy_version: 0x0303,
            ciphers: vec![
                0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013,
                0xc014, 0x009c, 0x009d, 0x002f, 0x0035,
            ],
            extensions: vec![
                0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023,
                0x0012, 0x002b, 0xff01, 0x000b, 0x000a, 0x0015,
            ],
            sni: Some("example.com".into()),
            alpn: vec!["h2".into()],
            alpn_first: Some(b"h2".to_vec()),
            supported_versions: vec![0x0304, 0x0303],
            sig_algs: vec![
                0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601,
            ],
            groups: vec![],
            point_formats: vec![],
        };
        assert_eq!(
            ch.ja4(Transport::Tcp),
            "t13d1516h2_8daaf6152771_e5627efa2ab1"
        );
        // JA4_r, the raw sorted fingerprint.
        let (b, c) = ch.ja4_raw_lists();
        assert_eq!(
            format!("{}_{b}_{c}", ch.ja4_a(Transport::Tcp)),
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,\
             cca8,cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,\
             ff01_0403,0804,0401,0503,0805,0501,0806,0601"
        );
        // The hash values the specification quotes for its strings, including JA4_o's
        // (original order, SNI and ALPN kept) and the list without signature algorithms.
        assert_eq!(
            sha256_12(
                "0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_\
                 0403,0804,0401,0503,0805,0501,0806,0601"
            ),
            "e5627efa2ab1"
        );
        assert_eq!(
            sha256_12("0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01"),
            "6d807ffa2a79"
        );
        let no_sig_algs = ClientHello {
            sig_algs: vec![],
            ..ch.clone()
        };
        assert_eq!(
            no_sig_algs.ja4(Transport::Tcp),
            "t13d1516h2_8daaf6152771_6d807ffa2a79"
        );
        assert_eq!(
            sha256_12(&hex4_joined(&ch.ciphers)),
            "acb858a92679",
            "JA4_o's cipher hash"
        );
        let mut o_c = hex4_joined(&ch.extensions);
        o_c.push('_');
        o_c.push_str(&hex4_joined(&ch.sig_algs));
        assert_eq!(sha256_12(&o_c), "18f69afefd3d", "JA4_o's extension hash");
        // GREASE anywhere changes nothing.
        let mut greased = ch.clone();
        greased.ciphers.insert(0, 0x8a8a);
        greased.extensions.insert(3, 0x1a1a);
        greased.extensions.push(0xeaea);
        greased.supported_versions.insert(0, 0x7a7a);
        assert_eq!(greased.ja4(Transport::Tcp), ch.ja4(Transport::Tcp));
    }

    #[test]
    fn ja4_edge_cases() {
        let bare = ClientHello {
            legacy_version: 0x0301,
            ..ClientHello::default()
        };
        // No ciphers, no extensions: both hashes zero; no SNI: 'i'; no ALPN: "00".
        assert_eq!(
            bare.ja4(Transport::Tcp),
            "t10i000000_000000000000_000000000000"
        );
        // Only SNI and ALPN: the extension list is empty once they are left out.
        let sni_alpn = ClientHello {
            ciphers: vec![0x002f],
            extensions: vec![0, 16],
            alpn_first: Some(b"http/1.1".to_vec()),
            ..bare.clone()
        };
        assert_eq!(
            sni_alpn.ja4(Transport::Quic),
            format!("q10d0102h1_{}_000000000000", sha256_12("002f"))
        );
        // Unknown versions are "00"; SSL 3.0 "s3"; counts stop at 99.
        let many = ClientHello {
            legacy_version: 0x0300,
            ciphers: (1..=150).collect(),
            ..bare.clone()
        };
        assert!(many.ja4(Transport::Tcp).starts_with("ts3i9900"));
        let odd = ClientHello {
            legacy_version: 0x7f1c,
            ..bare
        };
        assert!(odd.ja4(Transport::Tcp).starts_with("t00i"));
        // The ALPN rule of the specification, example by example.
        assert_eq!(ja4_alpn(Some(&[0xab])), "ab");
        assert_eq!(ja4_alpn(Some(&[0xab, 0xcd])), "ad");
        assert_eq!(ja4_alpn(Some(&[0x30, 0xab])), "3b");
        assert_eq!(ja4_alpn(Some(&[0x30, 0x31, 0xab, 0xcd])), "3d");
        assert_eq!(ja4_alpn(Some(&[0x30, 0xab, 0xcd, 0x31])), "01");
        assert_eq!(ja4_alpn(Some(b"h")), "hh");
        assert_eq!(ja4_alpn(Some(b"")), "00");
        assert_eq!(ja4_alpn(None), "00");
    }

    /// JA3 against the examples of Salesforce's JA3 README (github.com/salesforce/ja3).
    #[test]
    fn ja3_matches_the_published_examples() {
        let ch = ClientHello {
            legacy_version: 769,
            ciphers: vec![47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4],
            extensions: vec![0, 10, 11],
            groups: vec![23, 24, 25],
            point_formats: vec![0],
            ..ClientHello::default()
        };
        assert_eq!(
            ch.ja3_string(),
            "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0"
        );
        assert_eq!(ch.ja3(), "ada70206e40642a3e4461f35503241d5");
        let no_extensions = ClientHello {
            legacy_version: 769,
            ciphers: vec![4, 5, 10, 9, 100, 98, 3, 6, 19, 18, 99],
            ..ClientHello::default()
        };
        assert_eq!(
            no_extensions.ja3_string(),
            "769,4-5-10-9-100-98-3-6-19-18-99,,,"
        );
        assert_eq!(no_extensions.ja3(), "de350869b8c85de67a350c8d186f11e6");
    }

    #[test]
    fn version_names() {
        assert_eq!(version_name(0x0304), Some("1.3"));
        assert_eq!(version_name(0x0303), Some("1.2"));
        assert_eq!(version_name(0x0302), Some("1.1"));
        assert_eq!(version_name(0x0301), Some("1.0"));
        assert_eq!(version_name(0x0300), Some("ssl3"));
        assert_eq!(version_name(0x7f17), None);
    }
}
