//! `inspect::tcp::TcpAnalyzer` against tshark 4.0's TCP analysis, frame by frame, on every
//! shared capture with TCP.
//!
//! # The oracle
//! tshark runs once a capture, one pass (its default CLI: the analysis flags are decided
//! in the order frames are read, as ours are), with sequence analysis and relative
//! sequence numbers on (the defaults, given explicitly), and prints for every TCP frame
//! its stream, flags, `tcp.analysis.retransmission` (which tshark also sets on fast and
//! spurious retransmissions), `fast_retransmission`, `out_of_order`, `zero_window`,
//! `initial_rtt` and a SYN's `mss_val`, `wscale.shift`, `sack_perm` and
//! `timestamp.tsval`. The same capture is read with the crate's reader (timestamps not
//! clamped: tshark sees the file's times) and decoder (every tunnel it can open opened,
//! as tshark opens them); each TCP packet that is not an IP fragment goes to one
//! `TcpAnalyzer` with its TCP header's captured bytes and its payload length on the wire.
//!
//! Compared:
//! - per frame, [`RETRANSMISSION`], [`OUT_OF_ORDER`] and [`ZERO_WINDOW`] with tshark's
//!   flags (retransmission or fast retransmission, out of order, zero window);
//! - per tshark stream whose SYN and SYN-ACK tshark saw before its `initial_rtt`
//!   appeared: our `Handshake` (ack - syn) on a frame of that stream equals
//!   `initial_rtt` within 1 µs;
//! - on each frame where we report a SYN's options, tshark's option fields; and each
//!   side's first SYN in tshark has options from us.
//!
//! Each difference is listed in `KNOWN` by capture, frame and kind with its reason, or the
//! test fails; a listed difference that stops happening fails it too. Frames tshark
//! analyses that we do not (and the other way round) are differences only when one side
//! flags them: those are listed like the rest.
//!
//! `TCP_TSHARK_ONLY=a,b` compares only the captures whose name holds one of them, and
//! prints every difference (to look at one).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use flowprobe::inspect::tcp::{OUT_OF_ORDER, RETRANSMISSION, ZERO_WINDOW};

use common::{
    assert_corpus_frames, assert_differences_explained, manifest, parallel_map,
    relative_name, require_shared_pcaps, require_tool, shared_pcaps, tshark_field_rows,
    KnownDifferences,
};

/// tshark's fields (the first must be `frame.number`).
const FIELDS: [&str; 13] = [
    "frame.number",
    "frame.protocols",
    "tcp.stream",
    "tcp.flags",
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.out_of_order",
    "tcp.analysis.zero_window",
    "tcp.analysis.initial_rtt",
    "tcp.options.mss_val",
    "tcp.options.wscale.shift",
    "tcp.options.sack_perm",
    "tcp.options.timestamp.tsval",
];

/// tshark's preferences: its defaults, given explicitly.
const OPTIONS: [&str; 6] = [
    "-o",
    "tcp.analyze_sequence_numbers:TRUE",
    "-o",
    "tcp.relative_sequence_numbers:TRUE",
    "-Y",
    "tcp",
];

/// Kinds of difference (the third column of `KNOWN`).
const RETRANS: &str = "retransmission";
const OOO: &str = "out_of_order";
const ZW: &str = "zero_window";
const RTT: &str = "initial_rtt";
const OPTS: &str = "options";

/// Differences with a reason: (capture under `shared/pcaps`, frames, kind, why).
const KNOWN: &[(&str, &[u32], &str, &str)] = &[];

/// What we made of one frame.
type Ours = common::TcpFrameVerdict;

/// Our verdicts by frame number (frames analysed without anything to report are not
/// listed), the frames analysed, and how many frames were read (timestamps not clamped:
/// tshark sees the file's times).
fn analyse(path: &Path) -> (BTreeMap<u32, Ours>, BTreeSet<u32>, u32) {
    common::tcp_verdicts(path, false)
}

/// The events tshark shows on a row.
fn tshark_events(row: &common::FieldRow) -> u8 {
    let mut e = 0;
    if !row.get("tcp.analysis.retransmission").is_empty()
        || !row.get("tcp.analysis.fast_retransmission").is_empty()
    {
        e |= RETRANSMISSION;
    }
    if !row.get("tcp.analysis.out_of_order").is_empty() {
        e |= OUT_OF_ORDER;
    }
    if !row.get("tcp.analysis.zero_window").is_empty() {
        e |= ZERO_WINDOW;
    }
    e
}

/// tshark's seconds ("0.012345678") in nanoseconds.
fn nanos(s: &str) -> Option<u64> {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let mut digits = frac.to_string();
    digits.truncate(9);
    while digits.len() < 9 {
        digits.push('0');
    }
    Some(secs.parse::<u64>().ok()? * 1_000_000_000 + digits.parse::<u64>().ok()?)
}

/// One capture's comparison.
#[derive(Default)]
struct Result {
    /// (frame, kind, what each side said).
    diffs: Vec<(u32, &'static str, String)>,
    /// TCP frames tshark listed.
    frames: usize,
    /// Frames flagged (by either side) with equal flags, per kind.
    matched: [usize; 3],
    /// Frames tshark flagged, per kind.
    flagged: [usize; 3],
    /// Handshakes compared, options compared.
    handshakes: usize,
    options: usize,
}

fn compare(path: &Path) -> Result {
    let rows = tshark_field_rows(path, &OPTIONS, &FIELDS);
    let (ours, analysed, read) = analyse(path);
    let mut r = Result {
        frames: rows.len(),
        ..Result::default()
    };
    let kinds = [(RETRANSMISSION, RETRANS), (OUT_OF_ORDER, OOO), (ZERO_WINDOW, ZW)];
    let mut listed = BTreeSet::new();
    // Per stream: SYN and SYN-ACK seen, the first initial_rtt (frame, ns); per (stream,
    // SYN flags): the first SYN frame.
    let mut syn_seen: BTreeMap<u32, (bool, bool)> = BTreeMap::new();
    let mut rtt: BTreeMap<u32, (u32, u64)> = BTreeMap::new();
    let mut stream_of = BTreeMap::new();
    let mut first_syn: BTreeMap<(u32, bool), u32> = BTreeMap::new();
    for row in &rows {
        // TCP quoted in an ICMP error: tshark does not analyse it (and neither do we:
        // the decoder keys it as ICMP).
        let protocols = row.first("frame.protocols").unwrap_or_default();
        if protocols.contains(":icmp:") || protocols.contains(":icmpv6:") {
            continue;
        }
        listed.insert(row.frame);
        let theirs = tshark_events(row);
        let mine = ours.get(&row.frame).map_or(0, |o| o.events);
        for (i, (bit, kind)) in kinds.iter().enumerate() {
            let (t, m) = (theirs & bit != 0, mine & bit != 0);
            if t {
                r.flagged[i] += 1;
            }
            if t && m {
                r.matched[i] += 1;
            }
            if t != m && !analysed.contains(&row.frame) {
                let why = if row.frame <= read {
                    "not analysed by flowprobe (not decoded as TCP)"
                } else {
                    "not read by flowprobe"
                };
                r.diffs.push((row.frame, kind, format!("tshark {t}, {why}")));
            } else if t != m {
                r.diffs
                    .push((row.frame, kind, format!("tshark {t}, flowprobe {m}")));
            }
        }
        let Some(stream) = row.numbers("tcp.stream").first().copied() else {
            continue;
        };
        stream_of.insert(row.frame, stream);
        let flags = row.numbers("tcp.flags").last().copied().unwrap_or(0);
        let seen = syn_seen.entry(stream).or_default();
        if flags & 0x12 == 0x02 {
            seen.0 = true;
        }
        if flags & 0x12 == 0x12 {
            seen.1 = true;
        }
        if flags & 0x02 != 0 {
            first_syn.entry((stream, flags & 0x10 != 0)).or_insert(row.frame);
            let o = ours.get(&row.frame).and_then(|o| o.options);
            if let Some(o) = o {
                r.options += 1;
                let theirs = (
                    row.numbers("tcp.options.mss_val").first().map(|&v| v as u16),
                    row.numbers("tcp.options.wscale.shift").first().map(|&v| v as u8),
                    !row.get("tcp.options.sack_perm").is_empty(),
                    !row.get("tcp.options.timestamp.tsval").is_empty(),
                );
                let mine = (o.mss, o.wscale, o.sack_ok, o.timestamps);
                if theirs != mine {
                    r.diffs.push((
                        row.frame,
                        OPTS,
                        format!("tshark {theirs:?}, flowprobe {mine:?}"),
                    ));
                }
            }
        }
        if let Some(v) = row.first("tcp.analysis.initial_rtt").and_then(nanos) {
            if !rtt.contains_key(&stream) && seen.0 && seen.1 {
                rtt.insert(stream, (row.frame, v));
            }
        }
    }
    // Each side's first SYN in tshark has our options.
    for (&(_, _), &frame) in &first_syn {
        if ours.get(&frame).and_then(|o| o.options).is_none() {
            let why = if analysed.contains(&frame) {
                "tshark's first SYN of a side, flowprobe's was before"
            } else {
                "tshark's first SYN of a side, not analysed by flowprobe"
            };
            r.diffs.push((frame, OPTS, why.into()));
        }
    }
    // Frames we flag that tshark does not list as TCP.
    for (&frame, o) in &ours {
        if o.events != 0 && !listed.contains(&frame) {
            for (bit, kind) in kinds {
                if o.events & bit != 0 {
                    r.diffs.push((frame, kind, "tshark does not analyse this frame".into()));
                }
            }
        }
    }
    // Handshakes: ours by tshark stream.
    let mut our_rtt: BTreeMap<u32, (u32, u64)> = BTreeMap::new();
    for (&frame, o) in &ours {
        if let (Some(ns), Some(&stream)) = (o.handshake_ns, stream_of.get(&frame)) {
            our_rtt.entry(stream).or_insert((frame, ns));
        }
    }
    for (stream, &(frame, theirs)) in &rtt {
        r.handshakes += 1;
        match our_rtt.get(stream) {
            Some(&(_, mine)) if mine.abs_diff(theirs) <= 1_000 => {}
            Some(&(f, mine)) => r.diffs.push((
                frame,
                RTT,
                format!("tshark {theirs} ns, flowprobe {mine} ns (frame {f})"),
            )),
            None => {
                let why = if analysed.contains(&frame) {
                    "flowprobe none"
                } else {
                    "frame not analysed by flowprobe"
                };
                r.diffs.push((frame, RTT, format!("tshark {theirs} ns, {why}")))
            }
        }
    }
    r
}

#[test]
fn tcp_analysis_equals_tshark_frame_by_frame() {
    if !require_tool("tshark") || !require_shared_pcaps() {
        return;
    }
    let root = shared_pcaps();
    let only = std::env::var("TCP_TSHARK_ONLY").ok();
    let files: Vec<String> = manifest()
        .into_iter()
        .filter(|row| row.has("tcp"))
        .map(|row| row.file)
        .filter(|f| {
            only.as_ref()
                .is_none_or(|o| o.split(',').any(|o| f.contains(o)))
        })
        .collect();
    let results = parallel_map(&files, |f| compare(&root.join(f)));
    let mut known = KnownDifferences::by_frames(KNOWN);
    let (mut frames, mut matched, mut flagged, mut handshakes, mut options) =
        (0, [0; 3], [0; 3], 0, 0);
    let mut by_kind: BTreeMap<&str, usize> = BTreeMap::new();
    for (file, r) in files.iter().zip(&results) {
        frames += r.frames;
        handshakes += r.handshakes;
        options += r.options;
        for i in 0..3 {
            matched[i] += r.matched[i];
            flagged[i] += r.flagged[i];
        }
        for (_, kind, _) in &r.diffs {
            *by_kind.entry(kind).or_default() += 1;
        }
        let name = relative_name(&root.join(file), &root);
        known.check(&name, r.diffs.iter().map(|(f, k, w)| (*f, *k, w.clone())));
    }
    eprintln!(
        "{} captures, {frames} TCP frames; tshark flags matched: retransmission {}/{}, \
         out-of-order {}/{}, zero window {}/{}; {handshakes} handshakes, {options} SYN \
         options compared; differences by kind {by_kind:?}, {} known",
        files.len(),
        matched[0],
        flagged[0],
        matched[1],
        flagged[1],
        matched[2],
        flagged[2],
        known.seen(),
    );
    if only.is_some() {
        for d in &known.unexplained {
            eprintln!("{d}");
        }
        return;
    }
    assert_corpus_frames(frames, 100_000);
    assert_differences_explained(&known.unexplained, &known.stale());
}
