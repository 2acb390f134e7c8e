//! `inspect::tls` against tshark on every shared capture with a TLS hello in one segment.
//!
//! The oracle: for every frame tshark shows with a ClientHello or ServerHello
//! (`tls.handshake.type == 1 or tls.handshake.type == 2`) and no TCP reassembly
//! (`not tcp.segments`: the hello is in this one segment), the TCP payload tshark shows
//! (`tcp.payload`) goes through `tls::parse_records`, and the result is compared with
//! tshark's own fields of that frame:
//! - both: the first handshake type (`tls.handshake.type`);
//! - ClientHello: server name, ALPN list, JA3 string (`ja3_full`) and MD5 (`ja3`), cipher
//!   list, extension list, supported_versions list, and JA4 against a JA4 this test
//!   computes from tshark's field values (ciphers, extension types, signature algorithms,
//!   supported versions, server name, ALPN) with its own code, not the parser's; and
//!   against `tls.handshake.ja4` when this tshark has that field (4.2 and later);
//! - ServerHello: the cipher (`tls.handshake.ciphersuite`) and the negotiated version
//!   (`tls.handshake.extensions.supported_version`, else `tls.handshake.version`).
//!
//! Which files: a capture can only have such a frame if its bytes contain a TLS record
//! header followed by a hello's handshake header (`16 03 0x LL LL 01|02 00`): the frame's
//! bytes are stored whole in pcap and pcapng files. The test scans each file for that
//! pattern and runs tshark (one run a file, `-Y filter -T fields`) only on those; a file
//! it skips cannot have a frame to compare, with one kind of exception: a hello tshark
//! decrypted itself (`edge/wireshark/test__captures__wireguard-ping-tcp-dsb.pcapng`,
//! TCP inside WireGuard with the keys in the file) is not in the file's bytes, and
//! flowprobe, which sees only the ciphertext, has nothing to compare either. Checked once
//! with tshark on all 2,773 captures (2026-11-23): that is the only file the scan skips.
//!
//! Differences that follow a rule rather than a file are counted, not listed:
//! - both broken: flowprobe says Malformed and tshark reports a warning or error (expert
//!   info) on the frame: crafted captures (nDPI's `tls_cipher_lens`, `tls_invalid_reads`,
//!   fuzz seeds, arkime's synthetic ServerHellos);
//! - a segment that begins with the client's ChangeCipherSpec and then its second
//!   ClientHello (after a HelloRetryRequest, RFC 8446 appendix D.4) is not a stream
//!   start: the ClientHello after that record is compared;
//! - a segment with several hellos (Wireshark's fragmented-handshake test): tshark's
//!   per-frame lists merge them, so only the first type and the first JA3 string count.
//!
//! Every difference is either fixed or listed in `KNOWN` with its reason; a listed
//! difference that no longer happens fails the test too, so the list stays true.

mod common;

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;

use flowprobe::inspect::tls::{self, Hello, Transport};
use flowprobe::inspect::Outcome;
use sha2::{Digest, Sha256};

use common::{
    assert_corpus_frames, assert_differences_explained, captures, compare_client_hello,
    compare_server_hello, parallel_map, relative_name, require_shared_pcaps, require_tool,
    shared_pcaps, tshark_field_rows, unhex, FieldRow, KnownDifferences, AGGREGATOR,
};

/// The display filter: a hello in a frame of its own.
/// `tcp.payload`: TLS over TCP only (not QUIC, DTLS, EAP-TLS, OpenVPN over UDP).
const FILTER: &str =
    "tcp.payload and (tls.handshake.type == 1 or tls.handshake.type == 2) and not tcp.segments";

/// tshark's fields, in this order (`FieldRow::get` finds them by name).
const FIELDS: [&str; 15] = [
    "frame.number",
    "_ws.expert.severity",
    "tcp.payload",
    "tls.handshake.type",
    "tls.handshake.extensions_server_name",
    "tls.handshake.extensions_alpn_str",
    "tls.handshake.ja3_full",
    "tls.handshake.ja3",
    "tls.handshake.ciphersuite",
    "tls.handshake.extension.type",
    "tls.handshake.sig_hash_alg",
    "tls.handshake.sig_hash_alg_len",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.version",
    // Last and optional: only tshark 4.2 and later have it (see `has_ja4_field`).
    "tls.handshake.ja4",
];

/// Differences understood, by file (path under `shared/pcaps`), frame and field, with why.
/// Field "parse" is the parser's outcome itself.
const KNOWN: &[(&str, u32, &str, &str)] = &[
    // SSLv2-compatible ClientHellos (RFC 5246 appendix E.2): `parse_records` says NotThis
    // by design (no extensions: no server name, ALPN or fingerprint worth the code).
    (SSL2, 4, "parse", "SSLv2-compatible ClientHello"),
    (
        "edge/arkime/tests__pcap__pppoe.pcap",
        4,
        "parse",
        "SSLv2-compatible ClientHello",
    ),
    (
        "edge/wireshark/test__captures__rsasnakeoil2.pcap",
        4,
        "parse",
        "SSLv2-compatible ClientHello",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__google_ssl.pcap",
        4,
        "parse",
        "SSLv2-compatible ClientHello",
    ),
    (
        "real/retina/traces__tls_ciphers.pcap",
        964,
        "parse",
        "SSLv2-compatible ClientHello",
    ),
    (
        "real/retina/traces__tls_ciphers.pcap",
        1069,
        "parse",
        "SSLv2-compatible ClientHello",
    ),
    (
        "real/retina/traces__tls_ciphers.pcap",
        1084,
        "parse",
        "SSLv2-compatible ClientHello",
    ),
    // Not the start of a TLS stream: the caller gives parse_records a direction's first
    // bytes, and these are something else first.
    (
        HAPROXY,
        1,
        "parse",
        "a PROXY protocol v1 line before the ClientHello",
    ),
    (
        OPENVPN,
        31,
        "parse",
        "TLS inside OpenVPN's control channel (P_CONTROL packets)",
    ),
    (
        OPENVPN,
        88,
        "parse",
        "TLS inside OpenVPN's control channel (P_CONTROL packets)",
    ),
    (
        OPENVPN_TCP,
        10,
        "parse",
        "TLS inside OpenVPN's control channel (P_CONTROL packets)",
    ),
    (
        OPENVPN_TCP,
        67,
        "parse",
        "TLS inside OpenVPN's control channel (P_CONTROL packets)",
    ),
    (
        OPENVPN_443,
        10,
        "parse",
        "TLS inside OpenVPN's control channel (P_CONTROL packets)",
    ),
    (
        OPENVPN_443,
        12,
        "parse",
        "TLS inside OpenVPN's control channel (P_CONTROL packets)",
    ),
    // Wireshark's test of handshake messages fragmented over records: these segments
    // begin with the tail of a ClientHello whose start was in earlier segments (tshark
    // reassembles TLS fragments across segments; `not tcp.segments` does not see that).
    (
        FRAGMENTED,
        398,
        "type",
        "begins with the tail of a ClientHello of earlier segments",
    ),
    (
        FRAGMENTED,
        537,
        "parse",
        "begins with the tail of a ClientHello of earlier segments",
    ),
    // The first ALPN value is 0xba 0xad (not UTF-8): tshark's string has two U+FFFD in
    // their place, so the oracle's JA4 reads "ed" (the hex of U+FFFD's bytes); from the
    // bytes, JA4.md's hex rule gives "bd" (the first and last hex digits of "baad").
    // FoxIO's python and rust implementations write "99" here (their own rule, older than
    // the hex rule in technical_details/JA4.md); flowprobe follows the specification.
    (
        "real/ja4/pcap__tls-non-ascii-alpn.pcapng",
        1,
        "ja4",
        "non-UTF-8 ALPN: tshark's string lost the bytes",
    ),
];

const SSL2: &str = "edge/arkime/tests__pcap__https2-301-get.pcap";
const HAPROXY: &str = "real/nDPI/tests__cfgs__default__pcap__haproxy.pcap";
const OPENVPN: &str = "real/nDPI/tests__cfgs__default__pcap__openvpn.pcap";
const OPENVPN_TCP: &str = "real/nDPI/tests__cfgs__default__pcap__openvpn_nohmac_tcp.pcapng";
const OPENVPN_443: &str = "real/nDPI/tests__cfgs__default__pcap__443-opvn.pcap";
const FRAGMENTED: &str = "edge/wireshark/test__captures__tls-fragmented-handshakes.pcap";

/// tshark's expert severity "warning" (PI_WARN); "error" (PI_ERROR) is above it.
const EXPERT_WARNING: u32 = 0x0060_0000;

/// How the frames compared, beyond equal or not.
#[derive(Default)]
struct Tally {
    /// Frames whose hello `parse_records` found.
    found: usize,
    /// Broken hellos: flowprobe Malformed and tshark a warning or error on the frame.
    both_broken: usize,
    /// Frames starting with the client's ChangeCipherSpec before a second ClientHello
    /// (after a HelloRetryRequest, RFC 8446 appendix D.4): compared after that record.
    after_ccs: usize,
    /// Frames with more than one hello (tshark's lists merge them): only the type and the
    /// first JA3 compared.
    several: usize,
}

/// Whether this tshark has a JA4 field.
fn has_ja4_field() -> bool {
    Command::new("tshark")
        .args(["-G", "fields"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.split('\t').nth(2) == Some("tls.handshake.ja4"))
        })
}

/// Whether a file's bytes contain a TLS record header followed by a hello's header.
fn may_have_a_hello(bytes: &[u8]) -> bool {
    let mut at = 0;
    while let Some(i) = bytes
        .get(at..)
        .and_then(|b| b.iter().position(|&x| x == 0x16))
    {
        let p = at + i;
        if let Some(w) = bytes.get(p..p + 7) {
            if w[1] == 3 && w[2] <= 4 && (w[5] == 1 || w[5] == 2) && w[6] == 0 {
                return true;
            }
        }
        at = p + 1;
    }
    false
}

// ---- The test's own JA4, from tshark's values (not from the parser) ----

fn grease(v: u32) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

fn sha12(s: &str) -> String {
    let d = Sha256::digest(s.as_bytes());
    let mut h = String::new();
    for b in d.iter().take(6) {
        write!(h, "{b:02x}").unwrap();
    }
    h
}

fn joined(v: &[u32]) -> String {
    v.iter()
        .map(|x| format!("{x:04x}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The signature_algorithms (13) list among tshark's `sig_hash_alg` values, which also
/// hold signature_algorithms_cert (50) and delegated_credentials (34): split by
/// `sig_hash_alg_len` (bytes a list) in the order those extensions were sent.
fn ext13_sig_algs(row: &FieldRow, extensions: &[u32]) -> Result<Vec<u32>, String> {
    let all = row.numbers("tls.handshake.sig_hash_alg");
    let lens = row.numbers("tls.handshake.sig_hash_alg_len");
    let owners: Vec<u32> = extensions
        .iter()
        .copied()
        .filter(|t| matches!(t, 13 | 34 | 50))
        .collect();
    if owners.len() != lens.len() {
        return Err(format!(
            "{} signature algorithm lists for extensions {owners:?}",
            lens.len()
        ));
    }
    let mut at = 0usize;
    for (owner, len) in owners.iter().zip(&lens) {
        let n = (*len / 2) as usize;
        if *owner == 13 {
            return Ok(all.get(at..at + n).unwrap_or_default().to_vec());
        }
        at += n;
    }
    Ok(Vec::new())
}

fn oracle_ja4(row: &FieldRow) -> Result<String, String> {
    let ciphers: Vec<u32> = row
        .numbers("tls.handshake.ciphersuite")
        .into_iter()
        .filter(|v| !grease(*v))
        .collect();
    let extensions: Vec<u32> = row
        .numbers("tls.handshake.extension.type")
        .into_iter()
        .filter(|v| !grease(*v))
        .collect();
    let sig_algs: Vec<u32> = ext13_sig_algs(row, &extensions)?
        .into_iter()
        .filter(|v| !grease(*v))
        .collect();
    let legacy = row
        .numbers("tls.handshake.version")
        .first()
        .copied()
        .unwrap_or(0);
    let version = row
        .numbers("tls.handshake.extensions.supported_version")
        .into_iter()
        .filter(|v| !grease(*v))
        .max()
        .unwrap_or(legacy);
    let version = match version {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 => "s2",
        _ => "00",
    };
    let sni = if extensions.contains(&0) { 'd' } else { 'i' };
    let alpn = match row.get("tls.handshake.extensions_alpn_str").first() {
        None => "00".to_string(),
        Some(a) => {
            let b = a.as_bytes();
            match (b.first(), b.last()) {
                (Some(x), Some(y)) if x.is_ascii_alphanumeric() && y.is_ascii_alphanumeric() => {
                    format!("{}{}", *x as char, *y as char)
                }
                (Some(x), Some(y)) => format!("{:x}{:x}", x >> 4, y & 0xf),
                _ => "00".to_string(),
            }
        }
    };
    let mut sorted_ciphers = ciphers.clone();
    sorted_ciphers.sort();
    let mut sorted_ext: Vec<u32> = extensions
        .iter()
        .copied()
        .filter(|t| *t != 0 && *t != 16)
        .collect();
    sorted_ext.sort();
    let b = if sorted_ciphers.is_empty() {
        "000000000000".to_string()
    } else {
        sha12(&joined(&sorted_ciphers))
    };
    let c = if sorted_ext.is_empty() {
        "000000000000".to_string()
    } else if sig_algs.is_empty() {
        sha12(&joined(&sorted_ext))
    } else {
        sha12(&format!("{}_{}", joined(&sorted_ext), joined(&sig_algs)))
    };
    Ok(format!(
        "t{version}{sni}{:02}{:02}{alpn}_{b}_{c}",
        ciphers.len().min(99),
        extensions.len().min(99)
    ))
}

// ---- The comparison ----

/// One difference: (frame, field, what each side said).
type Difference = (u32, &'static str, String);

fn compare(row: &FieldRow, ja4_field: bool, tally: &mut Tally) -> Vec<Difference> {
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
    let Some(payload) = row.get("tcp.payload").first().and_then(|p| unhex(p)) else {
        differ("parse", "no payload".into(), "a hello".into());
        return diffs;
    };
    let types = row.numbers("tls.handshake.type");
    let first_type = types.first().copied();
    let hellos = types.iter().filter(|t| matches!(t, 1 | 2)).count();
    // The client's ChangeCipherSpec (type 20, length 1, value 1) before its second
    // ClientHello: that stream started earlier, with the first ClientHello.
    let payload = match payload.strip_prefix(&[20, 3, 3, 0, 1, 1][..]) {
        Some(rest) => {
            tally.after_ccs += 1;
            rest.to_vec()
        }
        None => payload,
    };
    let outcome = tls::parse_records(&payload);
    if matches!(outcome, Outcome::Found(_)) {
        tally.found += 1;
    }
    if hellos > 1 {
        tally.several += 1;
        if let Outcome::Found(Hello::Client(ch)) = &outcome {
            differ(
                "ja3_full",
                ch.ja3_string(),
                row.get("tls.handshake.ja3_full")
                    .first()
                    .cloned()
                    .unwrap_or_default(),
            );
        }
        differ(
            "type",
            match &outcome {
                Outcome::Found(Hello::Client(_)) => "Some(1)".into(),
                Outcome::Found(Hello::Server(_)) => "Some(2)".into(),
                other => format!("{other:?}"),
            },
            format!("{first_type:?}"),
        );
        return diffs;
    }
    match outcome {
        Outcome::Malformed(_)
            if row
                .numbers("_ws.expert.severity")
                .iter()
                .any(|s| *s >= EXPERT_WARNING) =>
        {
            tally.both_broken += 1;
        }
        Outcome::Found(Hello::Client(ch)) => {
            differ(
                "type",
                "1".into(),
                format!("{first_type:?}")
                    .replace("Some(", "")
                    .replace(')', ""),
            );
            compare_client_hello(&ch, row, &mut differ);
            let ours = ch.ja4(Transport::Tcp);
            match oracle_ja4(row) {
                Ok(theirs) => differ("ja4", ours.clone(), theirs),
                Err(why) => differ("ja4", ours.clone(), why),
            }
            if ja4_field {
                differ(
                    "tshark_ja4",
                    ours,
                    row.get("tls.handshake.ja4").join(AGGREGATOR),
                );
            }
        }
        Outcome::Found(Hello::Server(sh)) => {
            differ(
                "type",
                "2".into(),
                format!("{first_type:?}")
                    .replace("Some(", "")
                    .replace(')', ""),
            );
            compare_server_hello(&sh, row, &mut differ);
        }
        other => differ(
            "parse",
            format!("{other:?}"),
            format!("handshake types {:?}", row.get("tls.handshake.type")),
        ),
    }
    diffs
}

#[test]
fn hellos_match_tshark() {
    if !require_tool("tshark") || !require_shared_pcaps() {
        return;
    }
    let root = shared_pcaps();
    let files: Vec<PathBuf> = captures(&root)
        .into_iter()
        .filter(|p| std::fs::read(p).is_ok_and(|b| may_have_a_hello(&b)))
        .collect();
    let ja4_field = has_ja4_field();
    let fields: &[&str] = if ja4_field {
        &FIELDS
    } else {
        &FIELDS[..FIELDS.len() - 1]
    };
    let results = parallel_map(&files, |path| {
        let rows = tshark_field_rows(path, &["-Y", FILTER], fields);
        let mut tally = Tally::default();
        let diffs: Vec<Difference> = rows
            .iter()
            .flat_map(|r| compare(r, ja4_field, &mut tally))
            .collect();
        (rows.len(), diffs, tally)
    });

    let mut frames = 0;
    let mut files_with_hellos = 0;
    let mut known = KnownDifferences::new(KNOWN);
    let mut total = Tally::default();
    for (path, (rows, diffs, tally)) in files.iter().zip(results) {
        total.found += tally.found;
        total.both_broken += tally.both_broken;
        total.after_ccs += tally.after_ccs;
        total.several += tally.several;
        frames += rows;
        files_with_hellos += usize::from(rows > 0);
        known.check(&relative_name(path, &root), diffs);
    }
    eprintln!(
        "{} candidate files, {files_with_hellos} with hellos, {frames} frames compared: \
         {} hellos found, {} broken for both, {} after a ChangeCipherSpec, {} with several \
         hellos, {} known differences; tshark JA4 field: {ja4_field}",
        files.len(),
        total.found,
        total.both_broken,
        total.after_ccs,
        total.several,
        known.seen()
    );
    assert_differences_explained(&known.unexplained, &known.stale());
    assert_corpus_frames(frames, 1000);
}
