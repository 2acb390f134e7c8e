//! HTTP/1.x message heads: a request's method, target, Host and User-Agent; a response's
//! status code.
//!
//! [`parse`] reads the start of one TCP direction's byte stream (RFC 9112): the first
//! message's start line (section 3, request line; section 4, status line) and, for a
//! request, its field lines (section 5) up to the empty line that ends the head. Nothing
//! after the first head is read: no body, no later (pipelined or keep-alive) message, no
//! HTTP/2 (RFC 9113 is binary and starts with its own preface, which is `NotThis` here).
//!
//! What is HTTP here (the `app` column rests on it, never on a port, so [`Outcome::NotThis`]
//! is strict):
//! - a request line: a method token (1 to [`MAX_METHOD`] `tchar`s, RFC 9110 section 5.6.2),
//!   whitespace, a target, whitespace, and a last word that is `HTTP/1.` and a digit (the
//!   version is case-sensitive, RFC 9112 section 2.3), then CR LF or LF, with no control
//!   byte but HTAB anywhere in the line;
//! - a status line: `HTTP/1.`, a digit, one SP, three digits (RFC 9112 section 4), then SP,
//!   CR or LF. The reason phrase is not kept (a client SHOULD ignore it, section 4).
//!
//! Anything else is `NotThis`, decided as soon as a byte breaks these forms (for a request
//! line, at its end at the latest); a valid prefix of them is [`Outcome::Incomplete`]. So
//! HTTP/0.9 requests (`GET /` without a version), lowercase or other versions, RTSP or SIP
//! (`RTSP/1.0`, `SIP/2.0`) and the HTTP/2 preface (`PRI * HTTP/2.0`) are `NotThis`.
//!
//! The request line is read on whitespace-delimited word boundaries, as section 3 allows a
//! recipient: runs of SP or HTAB separate the words and whitespace at either end of the
//! line is passed over. The target is everything between the method and the version word,
//! so a target with a space in it (an attack tool's `/cgi-bin/x;cat /etc/passwd`) is kept
//! whole. Anything after the version's digit is passed over too (`HTTP/1.0.8`, as a
//! weather station of the shared captures sends). Section 3.2 tells servers not to repair
//! such lines; a flow probe is not a server, and reports what was sent.
//!
//! When it is found:
//! - a response as soon as its status line is whole (its fields are not read);
//! - a request once its head has ended (the empty line, section 2.1), since Host and
//!   User-Agent can be any field line. A head that has not ended in [`MAX_HEAD`] bytes is
//!   [`Outcome::Malformed`] (the caller keeps at most that many bytes of a stream), the only
//!   way a request is: what follows a valid request line is read leniently. A request line
//!   that does not end within those bytes is `NotThis` (its version was never seen), a
//!   status line `Malformed`. Every outcome but `Incomplete` is final: more bytes do not
//!   change it.
//!
//! Field lines (section 5): names are case-insensitive; a value is trimmed of the
//! whitespace around it (OWS, section 5.1), as tshark shows it; the first Host and the first
//! User-Agent are kept (a second Host makes the request invalid, section 3.2, but the first
//! is what the client said first). Leniencies the RFC allows a recipient: a bare LF ends a
//! line (section 2.2, a CR before it is dropped); an obs-fold (a line starting with SP or
//! HTAB, section 5.2) continues the previous value, the fold replaced by one SP; a
//! whitespace-started line right after the request line is passed over (section 2.2); NUL
//! and bare CR in a value become SP (RFC 9110 section 5.5). A line that is not `name ":"
//! value` with a token for a name (no colon, a byte outside `tchar`, whitespace before the
//! colon, which section 5.1 tells servers to reject) is passed over, as tshark does: the
//! request line and the other fields still say what the request was.
//!
//! Bounds on what is kept (values are cut at a character boundary, invalid UTF-8 replaced
//! by U+FFFD): method [`MAX_METHOD`] bytes (a longer token is not a method: `NotThis`),
//! target [`MAX_TARGET`] bytes, Host [`MAX_HOST`] bytes, User-Agent [`MAX_USER_AGENT`]
//! bytes. The longest values of the shared captures are well inside them (see each
//! constant). The bytes are untrusted: nothing here panics or indexes a slice, every read
//! goes through [`Reader`] or a bounded iterator, and every loop consumes bytes.

use super::reader::Reader;
use super::{Outcome, MAX_STREAM_BYTES};

/// The longest method token accepted. The longest registered methods (IANA HTTP Method
/// Registry: `UPDATEREDIRECTREF`, `BASELINE-CONTROL`) have 17 and 16 characters; a longer
/// token is taken as not HTTP, which keeps the check cheap and strict.
pub const MAX_METHOD: usize = 24;
/// Bytes of the request target kept: RFC 9112 section 3 recommends supporting request
/// lines of at least 8000 octets, so a target that fits that is kept whole. The longest
/// read in the shared captures is 1,304 bytes (`tests/inspect_http_ssh_tshark.rs` checks
/// that none reaches a bound).
pub const MAX_TARGET: usize = 8000;
/// Bytes of the Host value kept: a DNS name is at most 253 characters, a port 6 more
/// (`:65535`), an IP-literal at most 47; 1024 leaves room for the odd ones. The longest
/// read in the shared captures is 49 bytes.
pub const MAX_HOST: usize = 1024;
/// Bytes of the User-Agent value kept. Browsers send 100 to 300 bytes, some crawlers and
/// toolbars up to ~1 KiB; the longest read in the shared captures is 244 bytes.
pub const MAX_USER_AGENT: usize = 2048;
/// A request head (request line and field lines) longer than this without its empty line
/// is Malformed: the inspector keeps at most this many bytes of a direction.
pub const MAX_HEAD: usize = MAX_STREAM_BYTES;

/// What a request's head said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method token, as sent (case-sensitive, RFC 9110 section 9.1).
    pub method: String,
    /// The request target as sent (origin, absolute, authority or asterisk form), at most
    /// [`MAX_TARGET`] bytes.
    pub target: String,
    /// The first Host field's value, trimmed, at most [`MAX_HOST`] bytes.
    pub host: Option<String>,
    /// The first User-Agent field's value, trimmed, at most [`MAX_USER_AGENT`] bytes.
    pub user_agent: Option<String>,
}

/// The first message head of a direction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Head {
    /// A request (the client's direction).
    Request(Request),
    /// A response (the server's direction): its status code.
    Response {
        /// The three-digit status code.
        status: u16,
    },
}

/// The first HTTP/1.x message head of a direction. A request is Found when its header
/// block has ended (empty line), a response as soon as its status line is whole.
pub fn parse(stream: &[u8]) -> Outcome<Head> {
    if starts_like(stream, b"HTTP/") {
        response(stream)
    } else {
        request(stream)
    }
}

/// Whether `stream` starts with `prefix`, or is a prefix of it (more bytes may make it).
fn starts_like(stream: &[u8], prefix: &[u8]) -> bool {
    stream.iter().zip(prefix).all(|(a, b)| a == b)
}

/// How a fixed piece of a start line compares with the bytes at the reader.
enum Piece {
    /// Present: the reader moved past it.
    Here,
    /// The bytes end inside it.
    Short,
    /// Something else is there.
    Other,
}

/// Matches the literal `lit` at the reader.
fn literal(r: &mut Reader<'_>, lit: &[u8]) -> Piece {
    let rest = r.rest();
    if rest.len() < lit.len() {
        return if starts_like(rest, lit) {
            Piece::Short
        } else {
            Piece::Other
        };
    }
    match r.bytes(lit.len()) {
        Some(b) if b == lit => Piece::Here,
        _ => Piece::Other,
    }
}

/// `HTTP/1.` and a digit (RFC 9112 section 2.3: `HTTP-name "/" DIGIT "." DIGIT`, only
/// major version 1 here).
fn version(r: &mut Reader<'_>) -> Piece {
    match literal(r, b"HTTP/1.") {
        Piece::Here => {}
        other => return other,
    }
    match r.u8() {
        None => Piece::Short,
        Some(d) if d.is_ascii_digit() => Piece::Here,
        Some(_) => Piece::Other,
    }
}

/// Turns a start line's piece into an early return.
macro_rules! piece {
    ($e:expr) => {
        match $e {
            Piece::Here => {}
            Piece::Short => return Outcome::Incomplete,
            Piece::Other => return Outcome::NotThis,
        }
    };
}

/// A status line: `HTTP/1.x NNN` then SP, CR or LF, and the rest of the line.
fn response(stream: &[u8]) -> Outcome<Head> {
    let mut r = Reader::new(stream);
    piece!(version(&mut r));
    piece!(literal(&mut r, b" "));
    let mut status: u16 = 0;
    for _ in 0..3 {
        match r.u8() {
            None => return Outcome::Incomplete,
            Some(d) if d.is_ascii_digit() => status = status * 10 + u16::from(d - b'0'),
            Some(_) => return Outcome::NotThis,
        }
    }
    // RFC 9112 section 4 has SP and a reason phrase (possibly empty) after the code;
    // servers that leave out the SP are common and harmless.
    match r.rest().first() {
        None => return Outcome::Incomplete,
        Some(b' ' | b'\r' | b'\n') => {}
        Some(_) => return Outcome::NotThis,
    }
    // Found once the line is whole, within MAX_HEAD bytes (whether or not the end of a
    // longer one has arrived).
    match stream.iter().take(MAX_HEAD).position(|b| *b == b'\n') {
        Some(_) => Outcome::Found(Head::Response { status }),
        None if stream.len() >= MAX_HEAD => Outcome::Malformed("status line longer than 16 KiB"),
        None => Outcome::Incomplete,
    }
}

/// RFC 9110 section 5.6.2: `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Bytes at the reader while `keep` holds (at most `max`, `None` past it), and the byte
/// after them (`None` at the end of the bytes).
fn run<'a>(
    r: &mut Reader<'a>,
    max: usize,
    keep: impl Fn(u8) -> bool,
) -> Result<(&'a [u8], Option<u8>), ()> {
    let rest = r.rest();
    let n = rest.iter().take_while(|b| keep(**b)).count();
    if n > max {
        return Err(());
    }
    let taken = r.bytes(n).unwrap_or_default();
    Ok((taken, r.rest().first().copied()))
}

/// A byte of a request line after the method: visible ASCII, SP, HTAB or obs-text.
fn is_line_byte(b: u8) -> bool {
    matches!(b, b'\t' | 0x20..=0x7e | 0x80..=0xff)
}

/// The version word: `HTTP/1.` and a digit (RFC 9112 section 2.3: `HTTP-name "/" DIGIT "."
/// DIGIT`, major version 1 only); anything after the digit is passed over.
fn is_version(word: &[u8]) -> bool {
    word.strip_prefix(b"HTTP/1.")
        .and_then(|v| v.first())
        .is_some_and(u8::is_ascii_digit)
}

/// A request line, then the field lines up to the empty line.
fn request(stream: &[u8]) -> Outcome<Head> {
    let mut r = Reader::new(stream);
    // The method, then whitespace.
    let Ok((method, next)) = run(&mut r, MAX_METHOD, is_tchar) else {
        return Outcome::NotThis;
    };
    match next {
        None => return Outcome::Incomplete,
        Some(b' ' | b'\t') if !method.is_empty() => {}
        _ => return Outcome::NotThis,
    }
    // The rest of the line: text, then CR LF or LF, all within MAX_HEAD (a longer line,
    // whether or not its end has arrived, is not taken for a request line).
    let rest = r.rest();
    let n = rest.iter().take_while(|b| is_line_byte(**b)).count();
    if r.position() + n + 1 > MAX_HEAD {
        return Outcome::NotThis;
    }
    let end = match rest.get(n) {
        None => return Outcome::Incomplete,
        Some(b'\n') => 1,
        Some(b'\r') => match rest.get(n + 1) {
            None => return Outcome::Incomplete,
            Some(b'\n') => 2,
            Some(_) => return Outcome::NotThis,
        },
        Some(_) => return Outcome::NotThis,
    };
    // The target is what lies between the method and the last word, the version.
    let words = trim_ows(rest.get(..n).unwrap_or_default());
    let Some(last_space) = words.iter().rposition(|b| matches!(b, b' ' | b'\t')) else {
        return Outcome::NotThis;
    };
    let Some((target, version)) = words.split_at_checked(last_space) else {
        return Outcome::NotThis;
    };
    let target = trim_ows(target);
    let version = version.get(1..).unwrap_or_default();
    if target.is_empty() || !is_version(version) {
        return Outcome::NotThis;
    }
    r.skip(n + end);
    // The request line is whole: this is HTTP. The field lines.
    let mut host = Field::default();
    let mut user_agent = Field::default();
    // Which field the previous line was, for an obs-fold after it.
    let mut last = Last::Start;
    loop {
        // Each turn consumes one line (its LF included): bounded by the bytes. A head
        // longer than MAX_HEAD is Malformed whether or not its end has arrived, so the
        // outcome does not change with more bytes.
        let Some(line) = next_line(&mut r) else {
            return if stream.len() >= MAX_HEAD {
                Outcome::Malformed("request head longer than 16 KiB")
            } else {
                Outcome::Incomplete
            };
        };
        if r.position() > MAX_HEAD {
            return Outcome::Malformed("request head longer than 16 KiB");
        }
        if line.is_empty() {
            break;
        }
        if let [b' ' | b'\t', ..] = line {
            // obs-fold: a continuation of the previous field line's value (or, right after
            // the request line, a line to pass over).
            match last {
                Last::Host => host.fold(line, MAX_HOST),
                Last::UserAgent => user_agent.fold(line, MAX_USER_AGENT),
                Last::Start | Last::Other => {}
            }
            continue;
        }
        let mut fr = Reader::new(line);
        let (name, next) = run(&mut fr, usize::MAX, is_tchar).unwrap_or_default();
        if name.is_empty() || next != Some(b':') {
            // Not `name ":" value`: passed over (and no fold continues it).
            last = Last::Other;
            continue;
        }
        fr.skip(1);
        let value = fr.rest();
        last = if name.eq_ignore_ascii_case(b"host") {
            host.start(value, MAX_HOST);
            Last::Host
        } else if name.eq_ignore_ascii_case(b"user-agent") {
            user_agent.start(value, MAX_USER_AGENT);
            Last::UserAgent
        } else {
            Last::Other
        };
    }
    Outcome::Found(Head::Request(Request {
        method: text(method, MAX_METHOD),
        target: text(target, MAX_TARGET),
        host: host.finish(MAX_HOST),
        user_agent: user_agent.finish(MAX_USER_AGENT),
    }))
}

/// The field line before an obs-fold.
#[derive(Clone, Copy)]
enum Last {
    /// None yet (right after the request line).
    Start,
    /// The first Host line.
    Host,
    /// The first User-Agent line.
    UserAgent,
    /// Any other (or a second Host or User-Agent).
    Other,
}

/// One kept field's value as it is read, at most its bound.
#[derive(Default)]
struct Field {
    /// The value bytes so far (trimmed, folds joined by SP); `None` before the field.
    value: Option<Vec<u8>>,
    /// Whether this field's lines are still being read (no other field line since).
    open: bool,
}

impl Field {
    /// A field line of this name: the first one starts the value, later ones are ignored.
    fn start(&mut self, value: &[u8], max: usize) {
        self.open = false;
        if self.value.is_some() {
            return;
        }
        let mut v = Vec::with_capacity(value.len().min(max + 4));
        push_bounded(&mut v, trim_ows(value), max);
        self.value = Some(v);
        self.open = true;
    }

    /// An obs-fold line after this field's first line: one SP, then the line trimmed.
    fn fold(&mut self, line: &[u8], max: usize) {
        if !self.open {
            return;
        }
        if let Some(v) = &mut self.value {
            let more = trim_ows(line);
            if more.is_empty() {
                return;
            }
            if !v.is_empty() {
                push_bounded(v, b" ", max);
            }
            push_bounded(v, more, max);
        }
    }

    fn finish(self, max: usize) -> Option<String> {
        self.value.map(|v| owned_text(v, max))
    }
}

/// Appends `more` to `v` without going past `max + 3` bytes (the 3 let `owned_text` cut at
/// a character boundary with the whole character in view), NUL and bare CR as SP (RFC 9110
/// section 5.5).
fn push_bounded(v: &mut Vec<u8>, more: &[u8], max: usize) {
    let room = (max + 3).saturating_sub(v.len());
    v.extend(
        more.iter()
            .take(room)
            .map(|b| if matches!(b, 0 | b'\r') { b' ' } else { *b }),
    );
}

/// The next line, without its LF and a CR before it; `None` (reader unmoved) when no LF
/// has arrived yet.
fn next_line<'a>(r: &mut Reader<'a>) -> Option<&'a [u8]> {
    let n = r.rest().iter().position(|b| *b == b'\n')?;
    let line = r.bytes(n + 1)?;
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    Some(line.strip_suffix(b"\r").unwrap_or(line))
}

/// `b` without optional whitespace (SP, HTAB) on either side.
fn trim_ows(mut b: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = b {
        b = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = b {
        b = rest;
    }
    b
}

/// Where to cut `bytes` to keep at most `max` of them without splitting a UTF-8 character
/// (backing off over the continuation bytes, 10xxxxxx, of one cut at `max`).
fn cut_at(bytes: &[u8], max: usize) -> usize {
    let mut end = bytes.len().min(max);
    if end < bytes.len() {
        for _ in 0..3 {
            match bytes.get(end) {
                Some(b) if b & 0xc0 == 0x80 && end > 0 => end -= 1,
                _ => break,
            }
        }
    }
    end
}

/// `s` cut to at most `max` bytes at a character boundary (U+FFFD, 3 bytes for each
/// invalid byte it replaced, can make a string longer than the bytes it came from).
fn bounded(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

/// At most `max` bytes of `bytes` as a string, cut at a character boundary, invalid UTF-8
/// replaced by U+FFFD.
fn text(bytes: &[u8], max: usize) -> String {
    let kept = bytes.get(..cut_at(bytes, max)).unwrap_or_default();
    bounded(String::from_utf8_lossy(kept).into_owned(), max)
}

/// [`text`] of a value read into `v` (its buffer becomes the string when it is UTF-8).
fn owned_text(mut v: Vec<u8>, max: usize) -> String {
    v.truncate(cut_at(&v, max));
    let s =
        String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
    bounded(s, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_of(o: Outcome<Head>) -> Request {
        match o {
            Outcome::Found(Head::Request(r)) => r,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    /// RFC 9112 section 3 example form: request line, Host, User-Agent, other fields.
    const GET: &[u8] = b"GET /index.html?q=1 HTTP/1.1\r\n\
        Host: www.example.com\r\n\
        User-Agent: curl/8.5.0\r\n\
        Accept: */*\r\n\
        \r\n";

    #[test]
    fn request_with_host_and_user_agent() {
        let r = request_of(parse(GET));
        assert_eq!(
            r,
            Request {
                method: "GET".into(),
                target: "/index.html?q=1".into(),
                host: Some("www.example.com".into()),
                user_agent: Some("curl/8.5.0".into()),
            }
        );
        // Bytes after the head (a body, the next request) are not read.
        let mut more = GET.to_vec();
        more.extend_from_slice(b"\x00\x01garbage\r\n\r\n");
        assert_eq!(request_of(parse(&more)), r);
    }

    #[test]
    fn request_without_host_http10() {
        let r = request_of(parse(b"POST /submit HTTP/1.0\r\nContent-Length: 0\r\n\r\n"));
        assert_eq!(r.method, "POST");
        assert_eq!(r.target, "/submit");
        assert_eq!((r.host, r.user_agent), (None, None));
        // No field at all.
        let r = request_of(parse(b"OPTIONS * HTTP/1.1\r\n\r\n"));
        assert_eq!((r.method.as_str(), r.target.as_str()), ("OPTIONS", "*"));
    }

    #[test]
    fn field_names_are_case_insensitive_and_values_trimmed() {
        let r = request_of(parse(
            b"CONNECT example.org:443 HTTP/1.1\r\n\
              hOsT:example.org:443 \t\r\n\
              user-agent: \t Mozilla/5.0 (X11; Linux x86_64)  \r\n\
              HOST: second.example\r\n\
              USER-AGENT: second\r\n\r\n",
        ));
        assert_eq!(r.target, "example.org:443", "authority form");
        assert_eq!(r.host.as_deref(), Some("example.org:443"), "the first Host");
        assert_eq!(
            r.user_agent.as_deref(),
            Some("Mozilla/5.0 (X11; Linux x86_64)")
        );
        // An empty value is a value.
        let r = request_of(parse(b"GET / HTTP/1.1\r\nHost:\r\n\r\n"));
        assert_eq!(r.host.as_deref(), Some(""));
    }

    #[test]
    fn obs_fold_continues_the_value() {
        let r = request_of(parse(
            b"GET / HTTP/1.1\r\n\
              User-Agent: Foo/1.0 \r\n\
              \t (compatible)\r\n\
              \x20  more \r\n\
              Host: a.example\r\n\
              \x20\r\n\
              X-Other: x\r\n\
              \x20folded other\r\n\r\n",
        ));
        assert_eq!(r.user_agent.as_deref(), Some("Foo/1.0 (compatible) more"));
        assert_eq!(
            r.host.as_deref(),
            Some("a.example"),
            "an empty fold adds nothing"
        );
        // Whitespace-started lines right after the request line are passed over.
        let r = request_of(parse(b"GET / HTTP/1.1\r\n  junk\r\nHost: h\r\n\r\n"));
        assert_eq!(r.host.as_deref(), Some("h"));
    }

    #[test]
    fn bare_lf_line_ends() {
        let r = request_of(parse(
            b"GET /a HTTP/1.1\nHost: lf.example\nUser-Agent: x\n\n",
        ));
        assert_eq!(r.host.as_deref(), Some("lf.example"));
        assert_eq!(r.user_agent.as_deref(), Some("x"));
        // Mixed: CR LF request line, LF fields, CR LF empty line.
        let r = request_of(parse(b"GET /a HTTP/1.1\r\nHost: m\n\r\n"));
        assert_eq!(r.host.as_deref(), Some("m"));
    }

    #[test]
    fn cut_heads_are_incomplete() {
        for n in 0..GET.len() {
            assert_eq!(
                parse(GET.get(..n).unwrap()),
                Outcome::Incomplete,
                "prefix of {n} bytes"
            );
        }
        let resp = b"HTTP/1.1 404 Not Found\r\n";
        for n in 0..resp.len() {
            assert_eq!(parse(resp.get(..n).unwrap()), Outcome::Incomplete, "{n}");
        }
    }

    #[test]
    fn responses() {
        assert_eq!(
            parse(b"HTTP/1.1 200 OK\r\n"),
            Outcome::Found(Head::Response { status: 200 })
        );
        // Found at the status line: the fields need not have arrived.
        assert_eq!(
            parse(b"HTTP/1.0 304 Not Modified\r\nDate: Mon"),
            Outcome::Found(Head::Response { status: 304 })
        );
        // No reason phrase, with and without its SP; LF only.
        for s in [
            &b"HTTP/1.1 204 \r\n"[..],
            b"HTTP/1.1 204\r\n",
            b"HTTP/1.1 204\n",
        ] {
            assert_eq!(parse(s), Outcome::Found(Head::Response { status: 204 }));
        }
        // Not a status line.
        for s in [
            &b"HTTP/1.1 20 OK\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n",
            b"HTTP/1.1  200 OK\r\n",
            b"HTTP/2.0 200 OK\r\n",
            b"HTTP/1.x 200 OK\r\n",
            b"http/1.1 200 OK\r\n",
            b"HTTP/1.1\t200 OK\r\n",
        ] {
            assert_eq!(
                parse(s),
                Outcome::NotThis,
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
    }

    #[test]
    fn request_lines_read_on_word_boundaries() {
        // Runs of whitespace, whitespace at the ends, a target with a space in it (RFC 9112
        // section 3's lenient reading), more after the version's digit.
        for (line, target) in [
            (&b"GET    /a HTTP/1.1\r\n\r\n"[..], "/a"),
            (b"GET\t/a\tHTTP/1.1\r\n\r\n", "/a"),
            (b"GET /a HTTP/1.1 \r\n\r\n", "/a"),
            (b"GET /Hello Arkime HTTP/1.0\r\n\r\n", "/Hello Arkime"),
            (
                b"GET /cgi-bin/x;cat /etc/passwd|?d=1  HTTP/1.1\r\n\r\n",
                "/cgi-bin/x;cat /etc/passwd|?d=1",
            ),
            (b"GET /w.php?ID=K HTTP/1.0.8\r\n\r\n", "/w.php?ID=K"),
            (b"GET /a HTTP/1.1x\r\n\r\n", "/a"),
        ] {
            let r = request_of(parse(line));
            assert_eq!((r.method.as_str(), r.target.as_str()), ("GET", target));
        }
    }

    #[test]
    fn not_http() {
        for s in [
            // HTTP/0.9-like: no version.
            &b"GET /\r\n\r\n"[..],
            b"GET\r\n",
            b"GET / \r\n\r\n",
            b"GET HTTP/1.1\r\n\r\n",
            b"GET /index.html HTTP/0.9\r\n\r\n",
            b"GET / http/1.1\r\n\r\n",
            b"GET / HTTP/1.\r\n\r\n",
            b"GET / HTTP/1.1\rX",
            b"GET / HTTP/1.1\x00\r\n",
            // A control byte in the target; no method.
            b"GET /a\x01b HTTP/1.1\r\n\r\n",
            b" / HTTP/1.1\r\n\r\n",
            b"\r\n",
            // Other protocols.
            b"RTSP/1.0 200 OK\r\n",
            b"DESCRIBE rtsp://h/ RTSP/1.0\r\n",
            b"INVITE sip:bob@example.com SIP/2.0\r\n",
            b"SSH-2.0-OpenSSH_9.6\r\n",
            b"SSH-2.0-OpenSSH_9.6 Ubuntu-3\r\n",
            b"220 mail.example.com ESMTP Postfix\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            &[0x16, 0x03, 0x01, 0x02, 0x00, 0x01],
            &[0x00, 0x00, 0x00, 0x00],
            // A method longer than MAX_METHOD.
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZ / HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(
                parse(s),
                Outcome::NotThis,
                "{:?}",
                String::from_utf8_lossy(s)
            );
        }
        // Text that may still become a request line is Incomplete, not NotThis.
        assert_eq!(parse(b"SSH-2.0-OpenSSH_9.6"), Outcome::Incomplete);
        assert_eq!(parse(b"SSH-2.0-OpenSSH_9.6 Ubuntu"), Outcome::Incomplete);
        assert_eq!(parse(b""), Outcome::Incomplete);
    }

    #[test]
    fn broken_field_lines_are_passed_over() {
        for s in [
            &b"GET / HTTP/1.1\r\nHost www.example.com\r\nUser-Agent: u\r\n\r\n"[..],
            b"GET / HTTP/1.1\r\nHost : www.example.com\r\nUser-Agent: u\r\n\r\n",
            b"GET / HTTP/1.1\r\n: empty name\r\nUser-Agent: u\r\n\r\n",
            b"GET / HTTP/1.1\r\n\x00\x01\x02\x03\r\nUser-Agent: u\r\n\r\n",
            b"GET / HTTP/1.1\r\nH\xedst: x\r\nUser-Agent: u\r\n\r\n",
        ] {
            let r = request_of(parse(s));
            assert_eq!(r.host, None, "{:?}", String::from_utf8_lossy(s));
            assert_eq!(r.user_agent.as_deref(), Some("u"));
        }
        // A fold after a passed-over line continues nothing.
        let r = request_of(parse(
            b"GET / HTTP/1.1\r\nUser-Agent: u\r\nbad\r\n more\r\n\r\n",
        ));
        assert_eq!(r.user_agent.as_deref(), Some("u"));
        // A head that never ends within MAX_HEAD bytes: the only Malformed request.
        let mut long = b"GET / HTTP/1.1\r\n".to_vec();
        while long.len() < MAX_HEAD {
            long.extend_from_slice(b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n");
        }
        assert_eq!(
            parse(&long),
            Outcome::Malformed("request head longer than 16 KiB")
        );
        long.truncate(MAX_HEAD - 1);
        assert_eq!(parse(&long), Outcome::Incomplete);
        // A request line as long is not taken for one; a status line is Malformed.
        let mut line = b"GET /".to_vec();
        line.resize(MAX_HEAD - 1, b'a');
        assert_eq!(parse(&line), Outcome::Incomplete);
        line.push(b'a');
        assert_eq!(parse(&line), Outcome::NotThis);
        line.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        assert_eq!(parse(&line), Outcome::NotThis);
        let mut status = b"HTTP/1.1 200 ".to_vec();
        status.resize(MAX_HEAD, b'a');
        assert_eq!(
            parse(&status),
            Outcome::Malformed("status line longer than 16 KiB")
        );
        status.push(b'\n');
        assert_eq!(
            parse(&status),
            Outcome::Malformed("status line longer than 16 KiB")
        );
        status.truncate(MAX_HEAD - 1);
        status.push(b'\n');
        assert_eq!(
            parse(&status),
            Outcome::Found(Head::Response { status: 200 })
        );
        // A head of exactly MAX_HEAD bytes is read; one byte more is Malformed even once
        // its end has arrived.
        let mut exact = b"GET / HTTP/1.1\r\nX-Pad: ".to_vec();
        exact.resize(MAX_HEAD - 4, b'a');
        exact.extend_from_slice(b"\r\n\r\n");
        assert!(matches!(parse(&exact), Outcome::Found(_)));
        exact.insert(20, b'a');
        assert_eq!(
            parse(&exact),
            Outcome::Malformed("request head longer than 16 KiB")
        );
    }

    #[test]
    fn values_are_bounded_and_invalid_utf8_replaced() {
        let mut s = b"GET /".to_vec();
        s.extend(std::iter::repeat_n(b'a', 9000));
        s.extend_from_slice(b" HTTP/1.1\r\nHost: ");
        s.extend(std::iter::repeat_n(b'h', 2000));
        s.extend_from_slice(b"\r\nUser-Agent: \xff\xfe caf\xc3\xa9\x00x\r\n\r\n");
        let r = request_of(parse(&s));
        assert_eq!(r.target.len(), MAX_TARGET);
        assert_eq!(r.host.as_deref().map(str::len), Some(MAX_HOST));
        assert_eq!(
            r.user_agent.as_deref(),
            Some("\u{fffd}\u{fffd} caf\u{e9} x"),
            "invalid bytes replaced, NUL as SP"
        );
        // A cut never leaves half a character: "é" (2 bytes) at the boundary is dropped.
        let mut ua = vec![b'a'; MAX_USER_AGENT - 1];
        ua.extend_from_slice("é".as_bytes());
        assert_eq!(text(&ua, MAX_USER_AGENT), "a".repeat(MAX_USER_AGENT - 1));
        // Replacement characters cannot make the value longer than its bound.
        let bad = vec![0xffu8; 100];
        assert_eq!(text(&bad, 10).len(), 9, "three U+FFFD");
    }

    proptest::proptest! {
        #[test]
        fn no_panic_on_any_bytes(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn no_panic_after_a_valid_request_line(
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..600),
        ) {
            let mut s = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
            s.extend_from_slice(&tail);
            if let Outcome::Found(Head::Request(r)) = parse(&s) {
                proptest::prop_assert!(r.host.is_some_and(|h| h.len() <= MAX_HOST));
            }
        }
    }
}
