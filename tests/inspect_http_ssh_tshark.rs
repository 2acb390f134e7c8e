//! `inspect::http` and `inspect::ssh` against tshark on every shared capture with HTTP/1.x
//! message heads or SSH banners and key exchange offers.
//!
//! The oracle: tshark reads each file with TCP reassembly off
//! (`tcp.desegment_tcp_streams:FALSE`), so each frame is one segment and `tcp.payload` is
//! exactly the bytes a parser would get if that segment began a direction. For every frame
//! tshark shows with
//! - an HTTP request or response (`http.request or http.response`) carried directly over
//!   TCP (`not tls`: HTTP inside TLS that tshark decrypted with keys stored in the file is
//!   ciphertext to flowprobe), `http::parse` of the payload is compared with tshark's
//!   `http.request.method`, `http.request.uri`, `http.host`, `http.user_agent` (requests) and
//!   `http.response.code` (responses);
//! - an SSH protocol line (`ssh.protocol`), `ssh::banner` of the payload is compared with
//!   `ssh.protocol`; with SSH_MSG_KEXINIT (`ssh.message_code == 20`), `ssh::kexinit` of the
//!   bytes after the banner (after the frame's banner when it has one, else the whole
//!   payload) is compared with `ssh.kex.hassh` and `ssh.kex.hassh_algorithms` (a client's
//!   KEXINIT) or `ssh.kex.hasshserver` and `ssh.kex.hasshserver_algorithms` (a server's).
//!
//! Messages spanning segments (reassembly is off, so tshark shows what one segment holds):
//! - a request head cut by the segment's end is `Incomplete` for `http::parse`. Since tshark
//!   shows the fields of the lines it has (a cut last line as it is), the test ends the
//!   payload's head itself (an empty line after the last line, cut or not) and compares
//!   all four values; counted as "cut heads". A cut inside the request line itself leaves
//!   nothing to compare (counted);
//! - a KEXINIT cut by the segment: tshark (4.0) computes no HASSH from a partial packet
//!   either, and the parser says `Incomplete`: counted, not compared (none in the shared
//!   captures). A segment that does not begin with a message (the tail of a request or
//!   KEXINIT) is not shown by tshark as one, so it is not compared either.
//!
//! Other differences that follow a rule rather than a file are counted, not listed:
//! - a frame with several HTTP messages (pipelined requests; a response, its body and the
//!   next): tshark's per-frame lists merge them, so only the first method and target, or
//!   status, are compared;
//! - both broken: tshark took a segment for a KEXINIT, flags it with a warning and
//!   computes no HASSH, and `ssh::kexinit` says Malformed. With reassembly off, tshark
//!   takes every segment of an SSH connection for a packet start, so an encrypted segment
//!   whose sixth byte is 20 looks like a KEXINIT with an absurd length (`real/ja4`'s
//!   `ssh-r.pcap`); and one synthetic KEXINIT has stray bytes in a name-list (Arkime's
//!   `arkime_synthetic.pcap`).
//!
//! Which files: a head `http::parse` finds has `HTTP/1.` in it (the request line's version
//! or the status line's start), a banner `ssh::banner` finds starts with `SSH-`, and
//! `ssh::kexinit` is only ever given the bytes after a banner. A pcap or pcapng file stores
//! each frame's captured bytes whole and uncompressed (the shared corpus was gunzipped), so
//! a file without either byte string has no segment either parser could find anything in.
//! The test reads each file and runs tshark (once a file, `-Y filter -T fields`) only on
//! files with one of them, plus [`EXTRA`]. The scan could miss a frame only where tshark
//! shows a payload that is not stored contiguously in the file (IP fragments it
//! reassembles, IPComp it inflates, TLS it decrypts with keys in the file) or where tshark
//! is more lenient than the parsers. Checked once with tshark 4.0.17 (reassembly off, the
//! filter `tcp and (http.request or http.response or ssh.protocol or ssh.message_code ==
//! 20)`) on all 2,773 captures, 2026-12-06: 269 files with HTTP, 26 with SSH; all SSH files
//! and all but 9 HTTP files have the strings. Of those 9, three hold only HTTP inside TLS
//! tshark decrypted (`FILTER` leaves it out: `not tls`), and six are [`EXTRA`].
//!
//! Every difference is either fixed or listed in `KNOWN` with its reason; a listed
//! difference that no longer happens fails the test too, so the list stays true.

mod common;

use std::path::PathBuf;

use flowprobe::inspect::http::{self, Head};
use flowprobe::inspect::ssh;
use flowprobe::inspect::Outcome;

use common::{
    assert_corpus_frames, assert_differences_explained, captures, parallel_map, relative_name,
    require_shared_pcaps, require_tool, shared_pcaps, tshark_field_rows, unhex, FieldRow,
    KnownDifferences, AGGREGATOR,
};

/// The display filter: HTTP heads straight over TCP, SSH protocol lines and KEXINITs.
const FILTER: &str = "tcp.payload and ((not tls and (http.request or http.response)) \
                      or ssh.protocol or ssh.message_code == 20)";

/// tshark's fields, in this order (`FieldRow::get` finds them by name).
const FIELDS: [&str; 14] = [
    "frame.number",
    "_ws.expert.severity",
    "tcp.payload",
    "http.request.method",
    "http.request.uri",
    "http.host",
    "http.user_agent",
    "http.response.code",
    "ssh.protocol",
    "ssh.message_code",
    "ssh.kex.hassh",
    "ssh.kex.hassh_algorithms",
    "ssh.kex.hasshserver",
    "ssh.kex.hasshserver_algorithms",
];

/// Files without `HTTP/1.` or `SSH-` in their bytes where tshark still shows an HTTP head
/// over TCP, with why (found by running tshark on every capture, see the module doc).
const EXTRA: &[(&str, &str)] = &[
    (
        "edge/arkime/tests__pcap__long-session.pcap",
        "a bare `GET` line (HTTP/0.9-like): tshark takes a known method alone as a request",
    ),
    (
        "edge/libpcap/tests__filter__AH-IPcomp-IPv4.pcap",
        "IPComp (RFC 3173): the HTTP bytes are deflate-compressed in the file, tshark inflates them",
    ),
    (
        "edge/libpcap/tests__filter__AH-IPcomp-IPv6.pcap",
        "IPComp (RFC 3173): the HTTP bytes are deflate-compressed in the file, tshark inflates them",
    ),
    (
        "edge/zeek/testing__btest__Traces__ipv4__fragmented-4.pcap",
        "a request line without a version, in IPv4 fragments tshark reassembles",
    ),
    (
        "edge/zeek/testing__btest__Traces__ipv6-http-atomic-frag.pcap",
        "`GET /bad.html` without a version (HTTP/0.9-like)",
    ),
    (
        "malformed/zeek/testing__btest__Traces__redis__oss-fuzz-473580107.pcap",
        "fuzzed status lines `HTTP/5.?2 200`",
    ),
];

/// Differences understood, by file (path under `shared/pcaps`), frames and field, with
/// why. Field "http" is `http::parse`'s outcome itself.
const KNOWN: &[(&str, &[u32], &str, &str)] = &[
    // A request line with more than three words. flowprobe reads it on word boundaries
    // (RFC 9112 section 3): the target is everything between the method and the version;
    // tshark ends the target at the first SP after the method (and so shows an empty one
    // after a run of spaces).
    (
        "edge/arkime/tests__pcap__gre-erspan-vxlan.pcap",
        &[4],
        "uri",
        "a target with a space (`/Hello Arkime`)",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__WebattackRCE.pcap",
        &[535],
        "uri",
        "a target with a space (Nikto's `;cat /etc/passwd`)",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__http-manipulated.pcap",
        &[14],
        "uri",
        "a run of spaces after the method: tshark's target is empty",
    ),
    // Requests without an HTTP/1.x version: tshark takes a known method at the start of a
    // segment as a request; flowprobe says NotThis by design (strict `app` evidence).
    (
        "edge/arkime/tests__pcap__long-session.pcap",
        &[4],
        "http",
        "a bare `GET` line (HTTP/0.9-like)",
    ),
    (
        "edge/zeek/testing__btest__Traces__mixed-vlan-mpls.pcap",
        &[37],
        "http",
        "`GET /` without a version (HTTP/0.9-like)",
    ),
    (
        "edge/zeek/testing__btest__Traces__ipv6-http-atomic-frag.pcap",
        &[8, 16, 26, 36],
        "http",
        "`GET /bad.html` without a version (HTTP/0.9-like)",
    ),
    (
        "edge/zeek/testing__btest__Traces__ipv4__fragmented-4.pcap",
        &[5],
        "http",
        "an evasion test's request line: a NUL in the target, no version",
    ),
    // Versions that are not HTTP/1.x (fuzzed or crafted captures): tshark takes any line
    // starting with `HTTP/` as a status line, and any last word of a request line as its
    // version.
    (FUZZ_2006, &[100], "http", "request version `HTTP/\\x11.1`"),
    (FUZZ_2006, &[107], "http", "request version `HTTP/d.1`"),
    (
        ZEEK_OSSFUZZ,
        &[6, 10, 12],
        "http",
        "status line version `HTTP/!.4`",
    ),
    (
        "malformed/zeek/testing__btest__Traces__redis__oss-fuzz-473580107.pcap",
        &[5, 10, 17, 22, 108, 113],
        "http",
        "status line version `HTTP/5.?2`",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__ndpi_match_string_subprotocol__error.pcapng",
        &[3],
        "http",
        "status line version `HTTP/1.\\xcd`",
    ),
    // A NUL inside a value (fuzzed): tshark's string ends there; flowprobe replaces it by
    // SP (RFC 9110 section 5.5) and keeps the rest.
    (FUZZ_2006, &[19], "host", "NUL inside the Host value"),
];

const FUZZ_2006: &str = "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-09-29-28586.pcap";
const ZEEK_OSSFUZZ: &str =
    "malformed/zeek/testing__btest__Traces__http__http-inner-transfer-encoding-ossfuzz.pcap";

/// tshark's expert severity "warning" (PI_WARN); "error" (PI_ERROR) is above it.
const EXPERT_WARNING: u32 = 0x0060_0000;

/// How the frames compared, beyond equal or not.
#[derive(Default)]
struct Tally {
    /// Requests found (directly or after ending a cut head).
    requests: usize,
    /// Responses found.
    responses: usize,
    /// Requests whose head the segment cut: compared after the test ended the head.
    cut_heads: usize,
    /// Requests whose request line the segment cut: nothing to compare.
    cut_request_lines: usize,
    /// Frames with more than one HTTP message (pipelined requests, a response with its
    /// body and the next one): only the first message's method and target or status.
    several: usize,
    /// SSH banners found.
    banners: usize,
    /// Client KEXINITs whose HASSH was compared.
    client_kexinits: usize,
    /// Server KEXINITs whose hasshServer was compared.
    server_kexinits: usize,
    /// KEXINITs cut by the segment (Incomplete, and no HASSH from tshark either).
    cut_kexinits: usize,
    /// Packets tshark took for a KEXINIT, flags with a warning and computes no HASSH for,
    /// and `ssh::kexinit` says Malformed: encrypted segments whose sixth byte happens to
    /// be 20 (reassembly is off, so tshark takes every segment for a packet start), and a
    /// synthetic KEXINIT with stray bytes in a name-list.
    both_broken: usize,
    /// The longest values found: target, Host, User-Agent, banner (bytes).
    longest: [usize; 4],
}

impl Tally {
    fn add(&mut self, o: &Tally) {
        self.requests += o.requests;
        self.responses += o.responses;
        self.cut_heads += o.cut_heads;
        self.cut_request_lines += o.cut_request_lines;
        self.several += o.several;
        self.banners += o.banners;
        self.client_kexinits += o.client_kexinits;
        self.server_kexinits += o.server_kexinits;
        self.cut_kexinits += o.cut_kexinits;
        self.both_broken += o.both_broken;
        for (a, b) in self.longest.iter_mut().zip(o.longest) {
            *a = (*a).max(b);
        }
    }
}

/// Whether `hay` contains `needle`.
fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// One difference: (frame, field, what each side said).
type Difference = (u32, &'static str, String);

/// A cut request head ended: the payload's last line (cut or whole) and an empty line.
fn end_head(payload: &[u8]) -> Vec<u8> {
    let mut v = payload.to_vec();
    if v.ends_with(b"\r\n") || v.ends_with(b"\n") {
    } else if v.ends_with(b"\r") {
        v.push(b'\n');
    } else {
        v.extend_from_slice(b"\r\n");
    }
    v.extend_from_slice(b"\r\n");
    v
}

fn compare_http(
    row: &FieldRow,
    payload: &[u8],
    tally: &mut Tally,
    differ: &mut impl FnMut(&'static str, String, String),
) {
    let methods = row.get("http.request.method").len();
    let codes = row.get("http.response.code").len();
    if methods + codes == 0 {
        return;
    }
    let several = methods + codes > 1;
    if several {
        tally.several += 1;
    }
    let mut outcome = http::parse(payload);
    if outcome == Outcome::Incomplete && methods > 0 {
        if payload.contains(&b'\n') {
            tally.cut_heads += 1;
            outcome = http::parse(&end_head(payload));
        } else {
            // Only the method is whole (if the line was cut after it).
            tally.cut_request_lines += 1;
            if let Some(sp) = payload.iter().position(|b| *b == b' ') {
                let method = String::from_utf8_lossy(payload.get(..sp).unwrap_or_default());
                differ(
                    "method",
                    method.into_owned(),
                    row.first_or_empty("http.request.method"),
                );
            }
            return;
        }
    }
    match outcome {
        Outcome::Found(Head::Request(r)) => {
            tally.requests += 1;
            for (i, v) in [Some(&r.target), r.host.as_ref(), r.user_agent.as_ref()]
                .into_iter()
                .enumerate()
            {
                let l = &mut tally.longest[i];
                *l = (*l).max(v.map_or(0, String::len));
            }
            differ(
                "method",
                r.method,
                row.first_or_empty("http.request.method"),
            );
            differ("uri", r.target, row.first_or_empty("http.request.uri"));
            if !several {
                differ(
                    "host",
                    r.host.unwrap_or_default(),
                    row.first_or_empty("http.host"),
                );
                differ(
                    "user_agent",
                    r.user_agent.unwrap_or_default(),
                    row.first_or_empty("http.user_agent"),
                );
            }
        }
        Outcome::Found(Head::Response { status }) => {
            tally.responses += 1;
            differ(
                "status",
                status.to_string(),
                row.first_or_empty("http.response.code"),
            );
        }
        other => differ(
            "http",
            format!("{other:?}"),
            format!(
                "method {:?} code {:?}",
                row.get("http.request.method"),
                row.get("http.response.code")
            ),
        ),
    }
}

fn compare_ssh(
    row: &FieldRow,
    payload: &[u8],
    tally: &mut Tally,
    differ: &mut impl FnMut(&'static str, String, String),
) {
    let protocol = row.get("ssh.protocol");
    let kexinit = row.get("ssh.message_code").iter().any(|c| c == "20");
    if protocol.is_empty() && !kexinit {
        return;
    }
    let mut after: &[u8] = payload;
    if !protocol.is_empty() {
        match ssh::banner(payload) {
            Outcome::Found((id, used)) => {
                tally.banners += 1;
                tally.longest[3] = tally.longest[3].max(id.len());
                differ("protocol", id, protocol.join(AGGREGATOR));
                after = payload.get(used..).unwrap_or_default();
            }
            other => {
                differ("ssh", format!("{other:?}"), protocol.join(AGGREGATOR));
                return;
            }
        }
    }
    if !kexinit {
        return;
    }
    let hassh = row.first_or_empty("ssh.kex.hassh");
    let server = row.first_or_empty("ssh.kex.hasshserver");
    match ssh::kexinit(after) {
        Outcome::Found(k) => {
            if !hassh.is_empty() {
                tally.client_kexinits += 1;
                differ("hassh", k.hassh, hassh);
                differ(
                    "hassh_string",
                    k.hassh_string,
                    row.first_or_empty("ssh.kex.hassh_algorithms"),
                );
            } else if !server.is_empty() {
                tally.server_kexinits += 1;
                differ("hassh_server", k.hassh_server, server);
                differ(
                    "hassh_server_string",
                    k.hassh_server_string,
                    row.first_or_empty("ssh.kex.hasshserver_algorithms"),
                );
            } else {
                differ("kexinit", "a KEXINIT".into(), "no HASSH".into());
            }
        }
        Outcome::Incomplete if hassh.is_empty() && server.is_empty() => tally.cut_kexinits += 1,
        Outcome::Malformed(_)
            if hassh.is_empty()
                && server.is_empty()
                && row
                    .get("_ws.expert.severity")
                    .iter()
                    .filter_map(|s| s.parse::<u32>().ok())
                    .any(|s| s >= EXPERT_WARNING) =>
        {
            tally.both_broken += 1
        }
        other => differ(
            "kexinit",
            format!("{other:?}"),
            format!("hassh {hassh:?} hasshServer {server:?}"),
        ),
    }
}

fn compare(row: &FieldRow, tally: &mut Tally) -> Vec<Difference> {
    let mut diffs = Vec::new();
    let mut differ = |field: &'static str, ours: String, theirs: String| {
        if ours != theirs {
            diffs.push((
                row.frame,
                field,
                format!("flowprobe {ours:?}, tshark {theirs:?}"),
            ));
        }
    };
    let Some(payload) = unhex(row.first("tcp.payload").unwrap_or_default()) else {
        differ("payload", "none".into(), "a message".into());
        return diffs;
    };
    compare_http(row, &payload, tally, &mut differ);
    compare_ssh(row, &payload, tally, &mut differ);
    diffs
}

#[test]
fn http_and_ssh_match_tshark() {
    if !require_tool("tshark") || !require_shared_pcaps() {
        return;
    }
    let root = shared_pcaps();
    let extra: Vec<PathBuf> = EXTRA.iter().map(|(f, _)| root.join(f)).collect();
    let files: Vec<PathBuf> = captures(&root)
        .into_iter()
        .filter(|p| {
            extra.contains(p)
                || std::fs::read(p).is_ok_and(|b| contains(&b, b"HTTP/1.") || contains(&b, b"SSH-"))
        })
        .collect();
    let results = parallel_map(&files, |path| {
        // TCP reassembly off: each frame is one segment.
        let rows = tshark_field_rows(
            path,
            &["-o", "tcp.desegment_tcp_streams:FALSE", "-Y", FILTER],
            &FIELDS,
        );
        let mut tally = Tally::default();
        let diffs: Vec<Difference> = rows.iter().flat_map(|r| compare(r, &mut tally)).collect();
        (rows.len(), diffs, tally)
    });

    let mut frames = 0;
    let mut files_with_frames = 0;
    let mut known = KnownDifferences::by_frames(KNOWN);
    let mut total = Tally::default();
    for (path, (rows, diffs, tally)) in files.iter().zip(results) {
        total.add(&tally);
        frames += rows;
        files_with_frames += usize::from(rows > 0);
        known.check(&relative_name(path, &root), diffs);
    }
    eprintln!(
        "{} candidate files, {files_with_frames} with frames, {frames} frames compared: \
         {} requests ({} cut heads ended by the test, {} cut request lines), {} responses, \
         {} frames with several messages; {} SSH banners, {} client and {} server KEXINITs, \
         {} cut KEXINITs, {} broken for both; longest target {}, Host {}, User-Agent {}, \
         banner {} bytes; {} known differences",
        files.len(),
        total.requests,
        total.cut_heads,
        total.cut_request_lines,
        total.responses,
        total.several,
        total.banners,
        total.client_kexinits,
        total.server_kexinits,
        total.cut_kexinits,
        total.both_broken,
        total.longest[0],
        total.longest[1],
        total.longest[2],
        total.longest[3],
        known.seen()
    );
    // The bounds cut no value of the corpus (the parsers' docs say so).
    assert!(total.longest[0] < http::MAX_TARGET);
    assert!(total.longest[1] < http::MAX_HOST);
    assert!(total.longest[2] < http::MAX_USER_AGENT);
    assert!(total.longest[3] + 2 <= ssh::MAX_BANNER);
    assert_differences_explained(&known.unexplained, &known.stale());
    assert_corpus_frames(frames, 1000);
}
