//! `flowprobe convert --inspect all` end to end against tshark: every inspection value of
//! every record, per flow key, on every shared capture with TLS over TCP, QUIC v1/v2, DNS,
//! HTTP/1.x or SSH.
//!
//! # The oracle
//! For each capture, the built binary runs once (`convert FILE --inspect all --decap all
//! -f csv`: uniflow rows, each one direction's flow key; every tunnel flowprobe can open is
//! opened, as tshark opens them) and tshark once, with its default reassembly (TCP
//! segments, TLS records and handshake messages, IP fragments, QUIC CRYPTO frames) and two
//! preferences closer to what the inspector does: `tcp.reassemble_out_of_order` (the
//! inspector puts segments in order) and no `http.desegment_body` (an HTTP head's fields
//! then show on the frame that completes the head, not the body). tshark prints, per
//! frame, the innermost 5-tuple, ToS and VLAN as flowprobe keys them, the clamped time
//! (flowprobe clamps a clock that goes back), and the fields of the message the frame
//! completes: `tls.handshake.extensions_server_name`, `extensions_alpn_str` and `ja3` of
//! a ClientHello; `ciphersuite` and `extensions.supported_version` (else
//! `tls.handshake.version`) of a ServerHello (over TCP, or in QUIC v1/v2); `dns.qry.name`,
//! `dns.qry.type`, and of a response `dns.flags.rcode` and `dns.count.answers` (UPDATE:
//! `dns.count.prerequisites`); `http.request.method`, `http.request.uri`, `http.host`,
//! `http.user_agent`, `http.response.code` (over TCP); `ssh.protocol` (into `ssh_client`
//! or `ssh_server`: the client is the SYN's sender, the SYN-ACK's receiver, else the first
//! packet's sender) and `ssh.kex.hassh`.
//!
//! The inspector reads only the start of each direction, so the test keeps, of tshark's
//! messages, those the inspector reads, by a model of its table from tshark's frames: a
//! connection gets an entry at its first packet with payload (or a SYN), which leaves at
//! the first clock tick (the first packet of each second) at least 30 s later; in an
//! entry, each direction reads its first message, within its first 16 payload packets
//! (`inspect.max_packets`) and 16 KiB (a client's SSH banner, then its KEXINIT). The
//! messages it leaves out are counted by why (`Outside`), not compared: a later message
//! of a direction whose inspection ended; a first message after the 16th payload packet
//! or past 16 KiB; a hello of a QUIC version other than 1 and 2; a message in an IP
//! datagram tshark put together from fragments (the inspector reads a first fragment only);
//! a message that began before the direction's entry did (the connection's entry expired
//! in the middle of it). The messages kept join the record holding their frame (its key,
//! ToS and VLAN, and its [start, end]); a record's values are each column's first in time
//! order, and its `app` is what they say (`tls` or `quic` for hello values over TCP or
//! UDP, `dns`, `http`, `ssh`; `quic` also for a record with QUIC v1/v2 packets that
//! flowprobe calls `quic`: an Initial that opened, its hello not read). Then every column
//! is compared with flowprobe's row. A value tshark shows only from a frame cut short
//! (snaplen, or an IP length past the captured bytes) or malformed for tshark too (expert
//! error, a placeholder name such as `<Name too long>`) is not expected from flowprobe
//! (counted as `Broken`).
//!
//! Every other difference (a value on one side only, different values, or a tshark value
//! with no flowprobe record holding its frame) is listed in `KNOWN` by file, flow key,
//! kind and column, with its reason; a listed difference that no longer happens fails the
//! test, as does an unlisted one. `TSHARK_ARGS` gives tshark, for a few files, a decode-as
//! where tshark's heuristics miss a protocol on an unusual port (flowprobe reads payload
//! whatever the port: those values are compared then), or turns out-of-order reassembly
//! off where the capture missed segments.
//!
//! # Which files
//! A capture may have something to compare if its bytes hold a TLS record header with a
//! hello, `HTTP/1.`, `SSH-` or a QUIC v1/v2 Initial (the scans of the parser-level tshark
//! tests), or if flowprobe's decoder (every tunnel opened) finds a TCP or UDP packet on
//! port 53, 5353 or 5355, or a payload `dns` parses. `EXTRA_FILES` adds the captures where
//! tshark shows a value that criterion misses, each with why flowprobe has no record for it
//! (link types and tunnels it does not decode, IPComp). Checked once by running tshark
//! (`-Y "tls.handshake.type==1 or tls.handshake.type==2 or dns or http.request or
//! http.response or ssh.protocol"`, reassembly as above) over all 2,773 captures
//! (2026-12-06): 690 files show one, 39 of them not chosen by the scans: the 15 of
//! `EXTRA_FILES`, and 24 where tshark shows only hellos of QUIC drafts or Google QUIC (not
//! read by design), DNS quoted in ICMP errors, DNS inside DNS-over-QUIC after the hello,
//! or SOME/IP that its DNS heuristic takes and finds malformed.
//!
//! `INSPECT_FLOWS_ONLY=substring` compares only the captures whose name holds it (to look
//! at one; the checks that need every capture are left out then).
//!
//! # The second test
//! `--biflow` rows of a few captures: each row's values must be the union of its two
//! directions' uniflow rows (forward first), and its packets their sum.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use flowprobe::capture::file::CaptureFile;
use flowprobe::decode::{decode_payload, Decap, PacketMeta};
use flowprobe::flow::key::{PROTO_TCP, PROTO_UDP};
use flowprobe::flow::tunnel::TunnelKind;
use flowprobe::inspect::quic::{is_initial, VERSION_1, VERSION_2};
use flowprobe::inspect::{dns, Outcome};

use common::{
    binary, csv_rows, epoch_ns, parallel_map, require_shared_pcaps, require_tool, rfc3339_ns,
    shared_pcaps, vlan_of, InnerLayers,
};

/// The inspection columns compared, in the CSV's order.
const COLUMNS: [&str; 18] = [
    "app",
    "tls_sni",
    "tls_alpn",
    "tls_version",
    "tls_cipher",
    "ja3",
    "dns_qname",
    "dns_qtype",
    "dns_rcode",
    "dns_answers",
    "http_host",
    "http_method",
    "http_target",
    "http_user_agent",
    "http_status",
    "ssh_client",
    "ssh_server",
    "hassh",
];
const APP: usize = 0;
const TLS_SNI: usize = 1;
const TLS_ALPN: usize = 2;
const TLS_VERSION: usize = 3;
const TLS_CIPHER: usize = 4;
const JA3: usize = 5;
const DNS_QNAME: usize = 6;
const DNS_QTYPE: usize = 7;
const DNS_RCODE: usize = 8;
const DNS_ANSWERS: usize = 9;
const HTTP_HOST: usize = 10;
const HTTP_METHOD: usize = 11;
const HTTP_TARGET: usize = 12;
const HTTP_USER_AGENT: usize = 13;
const HTTP_STATUS: usize = 14;
const SSH_CLIENT: usize = 15;
const SSH_SERVER: usize = 16;
const HASSH: usize = 17;

/// tshark's fields (`frame` finds them by name).
const FIELDS: [&str; 46] = [
    "frame.number",
    "frame.time_epoch",
    "frame.protocols",
    "frame.len",
    "frame.cap_len",
    "_ws.expert.message",
    "_ws.expert.severity",
    "_ws.malformed",
    "vlan.id",
    "ip.src",
    "ip.dst",
    "ipv6.src",
    "ipv6.dst",
    "ip.dsfield",
    "ipv6.tclass",
    "ip.fragment.count",
    "ipv6.fragment.count",
    "tcp.srcport",
    "tcp.dstport",
    "tcp.flags",
    "tcp.len",
    "tcp.segment",
    "udp.srcport",
    "udp.dstport",
    "udp.length",
    "quic.version",
    "tls.handshake.type",
    "tls.handshake.extensions_server_name",
    "tls.handshake.extensions_alpn_str",
    "tls.handshake.ja3",
    "tls.handshake.ciphersuite",
    "tls.handshake.extensions.supported_version",
    "tls.handshake.version",
    "dns.flags.response",
    "dns.qry.name",
    "dns.qry.type",
    "dns.flags.rcode",
    "dns.count.answers",
    "dns.count.prerequisites",
    "http.request.method",
    "http.request.uri",
    "http.host",
    "http.user_agent",
    "http.response.code",
    "ssh.protocol",
    "ssh.kex.hassh",
];

/// Separates the values of a field that occurs more than once in a frame (names and ALPN
/// values may hold commas).
const AGGREGATOR: &str = "\x1f";

/// tshark's expert severity "error" (PI_ERROR): a malformed packet.
const EXPERT_ERROR: u32 = 0x0080_0000;
// ---- Flow keys ----

/// One direction's flow key as the test prints it: the 5-tuple and the VLAN. (flowprobe's
/// key also holds the ToS byte: records are matched on it too, see `Record::tos`.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    /// The VLAN id flowprobe keys by (see `vlan_of`); 0 without one.
    vlan: u16,
    proto: u8,
    src: IpAddr,
    sport: u16,
    dst: IpAddr,
    dport: u16,
}

impl Key {
    fn reversed(self) -> Key {
        Key {
            vlan: self.vlan,
            proto: self.proto,
            src: self.dst,
            sport: self.dport,
            dst: self.src,
            dport: self.sport,
        }
    }

    /// The connection: both directions' keys give the same.
    fn connection(self) -> Key {
        let r = self.reversed();
        if (self.src, self.sport) <= (r.src, r.sport) {
            self
        } else {
            r
        }
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proto = match self.proto {
            PROTO_TCP => "tcp",
            PROTO_UDP => "udp",
            _ => "?",
        };
        let ep = |a: IpAddr, p: u16| match a {
            IpAddr::V4(a) => format!("{a}:{p}"),
            IpAddr::V6(a) => format!("[{a}]:{p}"),
        };
        write!(
            f,
            "{proto} {} > {}",
            ep(self.src, self.sport),
            ep(self.dst, self.dport)
        )?;
        if self.vlan != 0 {
            write!(f, " vlan {}", self.vlan)?;
        }
        Ok(())
    }
}

// ---- flowprobe's records ----

/// One CSV row: a uniflow record (or a biflow one, with `--biflow`).
#[derive(Clone, Debug)]
struct Record {
    key: Key,
    /// The ToS byte, part of flowprobe's key (a packet with another ToS is another
    /// record).
    tos: u8,
    start: i128,
    end: i128,
    /// The [`COLUMNS`] (empty: no value).
    values: Vec<String>,
    /// Every column by name (for the biflow test).
    row: BTreeMap<String, String>,
}

/// The records of flowprobe's CSV.
fn records(csv: &str) -> Vec<Record> {
    let rows = csv_rows(csv);
    let Some((header, rows)) = rows.split_first() else {
        return Vec::new();
    };
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no column {name} in flowprobe's CSV"))
    };
    let vlan = col("vlan");
    let (start, end, src, dst, sport, dport, proto, tos) = (
        col("start"),
        col("end"),
        col("src"),
        col("dst"),
        col("sport"),
        col("dport"),
        col("proto"),
        col("tos"),
    );
    let value_cols: Vec<usize> = COLUMNS.iter().map(|c| col(c)).collect();
    rows.iter()
        .filter_map(|r| {
            let get = |i: usize| r.get(i).map(String::as_str).unwrap_or("");
            Some(Record {
                key: Key {
                    vlan: get(vlan).parse().ok()?,
                    proto: get(proto).parse().ok()?,
                    src: get(src).parse().ok()?,
                    sport: get(sport).parse().ok()?,
                    dst: get(dst).parse().ok()?,
                    dport: get(dport).parse().ok()?,
                },
                tos: get(tos).parse().ok()?,
                start: rfc3339_ns(get(start))?,
                end: rfc3339_ns(get(end))?,
                values: value_cols.iter().map(|&i| get(i).to_string()).collect(),
                row: header.iter().cloned().zip(r.iter().cloned()).collect(),
            })
        })
        .collect()
}

/// flowprobe's records for `path`: `convert --inspect all --decap all -f csv`.
fn flowprobe(bin: &Path, path: &Path, out: &Path, biflow: bool) -> Vec<Record> {
    records(&common::convert_csv(bin, path, out, "all", biflow))
}

// ---- tshark's frames ----

/// What tshark showed in one frame.
#[derive(Clone, Debug, Default)]
struct Frame {
    number: u32,
    /// The time flowprobe gives the frame: its own (within what flowprobe's clock holds),
    /// or the latest before it when the capture's clock went back (flowprobe clamps).
    time: i128,
    /// The innermost TCP or UDP packet's key and ToS; `None` for other frames and for ICMP
    /// errors quoting a packet.
    key: Option<(Key, u8)>,
    syn: bool,
    ack: bool,
    /// Transport payload bytes (TCP segment or UDP datagram).
    payload_len: u32,
    /// The frame completes an IP datagram tshark put together from fragments.
    fragments: bool,
    /// The frames of the TCP segments tshark put together for the message that ends in
    /// this frame (empty when it is in this frame alone).
    segments: Vec<u32>,
    /// The frame or its IP datagram was cut short (snaplen, or an IP length past the
    /// captured bytes), or tshark found it malformed (expert error, a placeholder name).
    broken: bool,
    /// A QUIC v1 or v2 long-header packet.
    quic: bool,
    /// A TLS hello inside QUIC of a version other than 1 and 2.
    other_quic: bool,
    /// What the frame showed, by column (empty: nothing). The SSH banner is in
    /// `ssh_client` until the client is known.
    values: Vec<String>,
}

impl Frame {
    fn payload(&self) -> bool {
        self.payload_len > 0
    }

    /// The frame where the message ending here began.
    fn first_segment(&self) -> u32 {
        self.segments.iter().copied().min().unwrap_or(self.number)
    }
}

/// tshark's frames of `path`, with `extra` options (decode-as, preferences).
fn tshark_frames(path: &Path, extra: &[&str]) -> Vec<Frame> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(path)
        .args(["-n", "-o", "http.desegment_body:FALSE"])
        .args(["-o", "tcp.reassemble_out_of_order:TRUE"])
        .args(extra)
        .args(["-T", "fields", "-E", "occurrence=a", "-E", "separator=/t"])
        .arg("-E")
        .arg(format!("aggregator={AGGREGATOR}"));
    for f in FIELDS {
        cmd.args(["-e", f]);
    }
    // An exit status of 2 (a file cut short) still prints what was read.
    let out = cmd.output().expect("tshark runs");
    let mut clock = 0;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|line| {
            let mut f = frame(line)?;
            // flowprobe's times are nanoseconds since 1970 in a u64, at most
            // `Timestamp::LAST`, and never go back.
            f.time = f.time.clamp(0, i128::from(u64::MAX - 1)).max(clock);
            clock = f.time;
            Some(f)
        })
        .collect()
}

fn number(v: &str) -> Option<u32> {
    match v.strip_prefix("0x") {
        Some(h) => u32::from_str_radix(h, 16).ok(),
        None => v.parse().ok(),
    }
}

/// The text flowprobe writes for a TLS version.
fn version_text(v: u32) -> String {
    match v {
        0x0304 => "1.3".into(),
        0x0303 => "1.2".into(),
        0x0302 => "1.1".into(),
        0x0301 => "1.0".into(),
        0x0300 => "ssl3".into(),
        _ => format!("{v:04x}"),
    }
}

/// One line of tshark's output.
fn frame(line: &str) -> Option<Frame> {
    let cols: Vec<&str> = line.split('\t').collect();
    let get = |name: &str| -> Vec<&str> {
        let i = FIELDS.iter().position(|f| *f == name).expect("a field");
        match cols.get(i) {
            Some(v) if !v.is_empty() => v.split(AGGREGATOR).collect(),
            _ => Vec::new(),
        }
    };
    let first = |name: &str| get(name).first().map(|s| s.to_string());
    let mut f = Frame {
        number: first("frame.number")?.parse().ok()?,
        time: epoch_ns(&first("frame.time_epoch")?)?,
        values: vec![String::new(); COLUMNS.len()],
        ..Frame::default()
    };
    let protocols = first("frame.protocols").unwrap_or_default();
    let protocols: Vec<&str> = protocols.split(':').collect();
    let Some(layers) = InnerLayers::of(&protocols) else {
        return Some(f);
    };
    let (ip, tcp) = (layers.ip, layers.tcp);
    let last = |name: &str| get(name).last().map(|s| s.to_string());
    let [src, dst, tos, sport, dport] = layers.key_fields().map(last);
    let key = Key {
        vlan: vlan_of(&protocols, ip, &get("vlan.id")),
        proto: if tcp { PROTO_TCP } else { PROTO_UDP },
        src: src?.parse().ok()?,
        sport: sport?.parse().ok()?,
        dst: dst?.parse().ok()?,
        dport: dport?.parse().ok()?,
    };
    f.key = Some((key, tos.and_then(|t| number(&t)).unwrap_or(0) as u8));
    if tcp {
        let flags = last("tcp.flags").and_then(|v| number(&v)).unwrap_or(0);
        f.syn = flags & 0x02 != 0;
        f.ack = flags & 0x10 != 0;
        f.payload_len = last("tcp.len").and_then(|v| number(&v)).unwrap_or(0);
        f.segments = get("tcp.segment")
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect();
    } else {
        f.payload_len = last("udp.length")
            .and_then(|v| number(&v))
            .unwrap_or(0)
            .saturating_sub(8);
    }
    f.fragments = !get("ip.fragment.count").is_empty() || !get("ipv6.fragment.count").is_empty();
    let cut = first("frame.cap_len").and_then(|v| number(&v))
        < first("frame.len").and_then(|v| number(&v));
    f.broken = cut
        || !get("_ws.malformed").is_empty()
        || get("_ws.expert.message")
            .iter()
            .any(|m| m.contains("exceeds"))
        || get("_ws.expert.severity")
            .iter()
            .filter_map(|v| number(v))
            .any(|v| v >= EXPERT_ERROR)
        || get("dns.qry.name")
            .iter()
            .any(|n| n.starts_with('<') && *n != "<Root>");
    let versions: Vec<u32> = get("quic.version")
        .iter()
        .filter_map(|v| number(v))
        .collect();
    f.quic = versions.iter().any(|v| *v == VERSION_1 || *v == VERSION_2);
    // TLS hellos over TCP, or inside QUIC (not DTLS, EAP-TLS over RADIUS, ...).
    let types: Vec<u32> = if (tcp && protocols.contains(&"tls")) || protocols.contains(&"quic") {
        get("tls.handshake.type")
            .iter()
            .filter_map(|v| number(v))
            .collect()
    } else {
        Vec::new()
    };
    if !tcp && (types.contains(&1) || types.contains(&2)) {
        f.other_quic = versions.iter().any(|v| *v != VERSION_1 && *v != VERSION_2);
    }
    if types.contains(&1) {
        f.values[TLS_SNI] = first("tls.handshake.extensions_server_name").unwrap_or_default();
        f.values[TLS_ALPN] = get("tls.handshake.extensions_alpn_str").join(",");
        f.values[JA3] = first("tls.handshake.ja3").unwrap_or_default();
    } else if types.contains(&2) {
        f.values[TLS_CIPHER] = first("tls.handshake.ciphersuite")
            .and_then(|c| number(&c))
            .map(|c| format!("{c:04x}"))
            .unwrap_or_default();
        f.values[TLS_VERSION] = first("tls.handshake.extensions.supported_version")
            .or_else(|| first("tls.handshake.version"))
            .and_then(|v| number(&v))
            .map(version_text)
            .unwrap_or_default();
    }
    // DNS (also mDNS and LLMNR, which tshark shows with the same fields): the frame's
    // first message.
    if let Some(response) = first("dns.flags.response") {
        f.values[DNS_QNAME] = first("dns.qry.name").unwrap_or_default();
        f.values[DNS_QTYPE] = first("dns.qry.type").unwrap_or_default();
        if response == "1" {
            f.values[DNS_RCODE] = first("dns.flags.rcode").unwrap_or_default();
            // UPDATE (opcode 5): tshark names ANCOUNT the prerequisites count.
            f.values[DNS_ANSWERS] = first("dns.count.answers")
                .or_else(|| first("dns.count.prerequisites"))
                .unwrap_or_default();
        }
    }
    // HTTP and SSH over TCP only (not SSDP and other HTTP-like text over UDP).
    if !tcp {
        return Some(f);
    }
    if let Some(method) = first("http.request.method") {
        f.values[HTTP_METHOD] = method;
        f.values[HTTP_TARGET] = first("http.request.uri").unwrap_or_default();
        f.values[HTTP_HOST] = first("http.host").unwrap_or_default();
        f.values[HTTP_USER_AGENT] = first("http.user_agent").unwrap_or_default();
    } else if let Some(code) = first("http.response.code") {
        f.values[HTTP_STATUS] = code;
    }
    f.values[SSH_CLIENT] = first("ssh.protocol").unwrap_or_default();
    f.values[HASSH] = first("ssh.kex.hassh").unwrap_or_default();
    Some(f)
}

// ---- Choosing the files ----

/// Whether a file's bytes contain a TLS record header followed by a hello's header
/// (as in `inspect_tls_tshark.rs`).
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

/// Whether a file's bytes contain a QUIC v1 or v2 Initial (as in `inspect_quic_tshark.rs`).
fn may_have_an_initial(bytes: &[u8]) -> bool {
    let v1 = VERSION_1.to_be_bytes();
    let v2 = VERSION_2.to_be_bytes();
    bytes.windows(5).enumerate().any(|(i, w)| {
        w[0] & 0x80 != 0 && (w[1..] == v1 || w[1..] == v2) && bytes.get(i..).is_some_and(is_initial)
    })
}

fn contains(bytes: &[u8], needle: &[u8]) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle)
}

/// The ports tshark gives DNS (53), mDNS (5353) and LLMNR (5355).
const DNS_PORTS: [u16; 3] = [53, 5353, 5355];

/// Whether flowprobe's decoder (every tunnel opened) finds a TCP or UDP packet to or from
/// a DNS port, or a UDP payload / TCP segment `dns` parses.
fn may_have_dns(path: &Path) -> bool {
    let Ok(mut file) = CaptureFile::open(path) else {
        return false;
    };
    let decap = Decap::with_kinds(&TunnelKind::ALL);
    let mut meta = PacketMeta::default();
    while let Ok(Some(p)) = file.next_packet() {
        let Ok(t) = decode_payload(p.link_type, p.data, p.orig_len, &decap, &mut meta) else {
            continue;
        };
        let k = &meta.key;
        if k.proto != PROTO_TCP && k.proto != PROTO_UDP {
            continue;
        }
        if DNS_PORTS.contains(&k.src_port) || DNS_PORTS.contains(&k.dst_port) {
            return true;
        }
        let payload = p.data.get(t.payload.clone()).unwrap_or_default();
        let found = if k.proto == PROTO_UDP {
            dns::parse(payload)
        } else {
            dns::parse_tcp(payload)
        };
        if matches!(found, Outcome::Found(_)) {
            return true;
        }
    }
    false
}

/// Every capture under `dir` (recursively), sorted.
fn captures(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).expect("readable directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                todo.push(path);
            } else if !matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("tsv" | "md")
            ) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Whether a capture may hold something to compare (see the module doc).
fn candidate(path: &Path) -> bool {
    let Ok(bytes) = std::fs::read(path) else {
        return false;
    };
    may_have_a_hello(&bytes)
        || contains(&bytes, b"HTTP/1.")
        || contains(&bytes, b"SSH-")
        || may_have_an_initial(&bytes)
        || may_have_dns(path)
}

// ---- The model of the inspector's windows, and the comparison ----

/// The inspector's bounds (`inspect::DEFAULT_MAX_PACKETS`, `MAX_STREAM_BYTES`,
/// `INSPECTION_TIMEOUT`), and the clock tick that expires its entries.
const MAX_PACKETS: u32 = 16;
const MAX_STREAM_BYTES: u64 = 16 * 1024;
const TIMEOUT_NS: i128 = 30_000_000_000;
const SECOND_NS: i128 = 1_000_000_000;

/// Why a value tshark shows is not one flowprobe reads (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outside {
    /// A later message of a direction whose inspection had ended (its first message read,
    /// or the next ones after an ended window).
    Later,
    /// The first message of a direction, completed after its 16th payload packet.
    MaxPackets,
    /// The first message of a direction, in a segment that starts past its first 16 KiB.
    MaxBytes,
    /// A hello in a QUIC version other than 1 and 2 (drafts, Google QUIC).
    OtherQuic,
    /// A message in an IP datagram tshark put together from fragments.
    Fragments,
    /// A message whose first TCP segment came before the direction's inspection began.
    MidStream,
    /// A value only from a frame cut short or malformed for tshark too, that flowprobe
    /// does not have.
    Broken,
}

/// One direction of a connection in the model of the inspector's table.
#[derive(Default)]
struct ModelDirection {
    packets: u32,
    bytes: u64,
    /// Its first payload frame.
    first_frame: u32,
    /// Why its inspection ended, once it did.
    ended: Option<Outside>,
    /// The client's SSH banner was read: its KEXINIT (HASSH) is awaited.
    banner: bool,
}

/// A connection in the model of the inspector's table.
struct ModelEntry {
    first: i128,
    client: Key,
    directions: BTreeMap<Key, ModelDirection>,
}

/// The frames whose message the inspector reads (index in `frames`, its values with the
/// SSH banner in the right column), by the model of its table (see the module doc), and
/// the messages left out, by why.
fn read_by_inspector(
    frames: &[Frame],
    outside: &mut BTreeMap<Outside, usize>,
) -> Vec<(usize, Vec<String>)> {
    let mut table: BTreeMap<Key, ModelEntry> = BTreeMap::new();
    let mut tick_until = i128::MIN;
    let mut read = Vec::new();
    for (n, f) in frames.iter().enumerate() {
        if let Some((key, _)) = f.key {
            let connection = key.connection();
            if !table.contains_key(&connection) && (f.payload() || f.syn) {
                // The client: a SYN's sender, a SYN-ACK's receiver, else this sender.
                let client = if f.syn && f.ack { key.reversed() } else { key };
                let entry = ModelEntry {
                    first: f.time,
                    client,
                    directions: BTreeMap::new(),
                };
                table.insert(connection, entry);
            }
            if let Some(entry) = table.get_mut(&connection) {
                let client = entry.client;
                let d = entry.directions.entry(key).or_default();
                if f.payload() {
                    if d.packets == 0 {
                        d.first_frame = f.number;
                    }
                    d.packets += 1;
                    d.bytes += u64::from(f.payload_len);
                }
                let mut values = f.values.clone();
                let banner = std::mem::take(&mut values[SSH_CLIENT]);
                if !banner.is_empty() {
                    values[if client == key {
                        SSH_CLIENT
                    } else {
                        SSH_SERVER
                    }] = banner;
                }
                if values.iter().any(|v| !v.is_empty()) {
                    let fragments = f.fragments
                        || f.segments.iter().any(|&s| {
                            (s as usize)
                                .checked_sub(1)
                                .and_then(|i| frames.get(i))
                                .is_some_and(|g| g.fragments)
                        });
                    let why = if f.other_quic {
                        Some(Outside::OtherQuic)
                    } else if let Some(why) = d.ended {
                        Some(why)
                    } else if fragments {
                        Some(Outside::Fragments)
                    } else if f.first_segment() < d.first_frame {
                        Some(Outside::MidStream)
                    } else if d.packets > MAX_PACKETS {
                        Some(Outside::MaxPackets)
                    } else if key.proto == PROTO_TCP
                        && d.bytes - u64::from(f.payload_len) >= MAX_STREAM_BYTES
                    {
                        Some(Outside::MaxBytes)
                    } else {
                        None
                    };
                    match why {
                        Some(why) => {
                            *outside.entry(why).or_default() += 1;
                            if why != Outside::OtherQuic && d.ended.is_none() {
                                d.ended = Some(why);
                            }
                        }
                        None => {
                            if d.banner {
                                // After the client's banner only its HASSH is read.
                                let hassh = std::mem::take(&mut values[HASSH]);
                                values = vec![String::new(); COLUMNS.len()];
                                values[HASSH] = hassh;
                                d.ended = Some(Outside::Later);
                            } else if !values[SSH_CLIENT].is_empty() && values[HASSH].is_empty() {
                                d.banner = true;
                            } else {
                                d.ended = Some(Outside::Later);
                            }
                            read.push((n, values));
                        }
                    }
                }
                if d.packets >= MAX_PACKETS && d.ended.is_none() {
                    d.ended = Some(Outside::MaxPackets);
                }
            }
        }
        if f.time >= tick_until {
            tick_until = (f.time.div_euclid(SECOND_NS) + 1) * SECOND_NS;
            table.retain(|_, e| e.first + TIMEOUT_NS > f.time);
        }
    }
    read
}

/// How a difference goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// tshark has a value, flowprobe none.
    Missing,
    /// flowprobe has a value, tshark none.
    Extra,
    /// Both have one, not the same.
    Differ,
    /// tshark shows a value in a frame no flowprobe record of its key holds.
    NoRecord,
}

/// One difference.
#[derive(Debug)]
struct Difference {
    key: Key,
    kind: Kind,
    column: &'static str,
    /// What each side said (for the message).
    what: String,
}

/// How one file compared.
#[derive(Default)]
struct Outcomes {
    records: usize,
    /// Values compared (either side has one), by column, and how many were equal.
    compared: [usize; COLUMNS.len()],
    equal: [usize; COLUMNS.len()],
    differences: Vec<Difference>,
    /// Messages tshark shows that the inspector does not read, by why.
    outside: BTreeMap<Outside, usize>,
}

/// The name of `path` under `shared/pcaps`.
fn name_of(path: &Path) -> String {
    path.strip_prefix(shared_pcaps())
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

/// The first record of `key` and `tos` whose span holds `time`.
fn record_at(
    records: &[Record],
    by_key: &BTreeMap<(Key, u8), Vec<usize>>,
    key: Key,
    tos: u8,
    time: i128,
) -> Option<usize> {
    by_key.get(&(key, tos))?.iter().copied().find(|&i| {
        let r = &records[i];
        r.start <= time && time <= r.end
    })
}

fn compare_file(bin: &Path, dir: &Path, path: &Path) -> Outcomes {
    let name = name_of(path);
    let out = dir.join(format!("{}.csv", name.replace('/', "_")));
    let records = flowprobe(bin, path, &out, false);
    let extra: Vec<&str> = TSHARK_ARGS
        .iter()
        .filter(|a| a.0 == name)
        .flat_map(|a| a.1.iter().copied())
        .collect();
    let frames = tshark_frames(path, &extra);
    let mut outcomes = Outcomes {
        records: records.len(),
        ..Outcomes::default()
    };
    let read = read_by_inspector(&frames, &mut outcomes.outside);

    let mut by_key: BTreeMap<(Key, u8), Vec<usize>> = BTreeMap::new();
    for (i, r) in records.iter().enumerate() {
        by_key.entry((r.key, r.tos)).or_default().push(i);
    }
    // Records with a QUIC v1 or v2 long-header packet: flowprobe's `app` is `quic` once an
    // Initial opened, with or without a hello read.
    let mut quic = vec![false; records.len()];
    for f in frames.iter().filter(|f| f.quic) {
        if let Some((key, tos)) = f.key {
            if let Some(i) = record_at(&records, &by_key, key, tos, f.time) {
                quic[i] = true;
            }
        }
    }
    // tshark's values by record, and whether each came from a broken frame.
    let mut theirs = vec![vec![String::new(); COLUMNS.len()]; records.len()];
    let mut broken = vec![vec![false; COLUMNS.len()]; records.len()];
    for (n, values) in read {
        let f = &frames[n];
        let Some((key, tos)) = f.key else { continue };
        let Some(i) = record_at(&records, &by_key, key, tos, f.time) else {
            for (v, column) in values.iter().zip(COLUMNS) {
                if !v.is_empty() {
                    outcomes.differences.push(Difference {
                        key,
                        kind: Kind::NoRecord,
                        column,
                        what: format!("frame {}: tshark {v:?}", f.number),
                    });
                }
            }
            continue;
        };
        for ((t, b), v) in theirs[i].iter_mut().zip(&mut broken[i]).zip(values) {
            if t.is_empty() && !v.is_empty() {
                *t = v;
                *b = f.broken;
            }
        }
    }
    for (i, r) in records.iter().enumerate() {
        let (t, b) = (&mut theirs[i], &mut broken[i]);
        let any = |cols: &[usize]| cols.iter().any(|&c| !t[c].is_empty());
        t[APP] = if any(&[TLS_SNI, TLS_ALPN, TLS_VERSION, TLS_CIPHER, JA3]) {
            if r.key.proto == PROTO_TCP {
                "tls"
            } else {
                "quic"
            }
            .to_string()
        } else if any(&[DNS_QNAME, DNS_QTYPE, DNS_RCODE, DNS_ANSWERS]) {
            "dns".into()
        } else if any(&[
            HTTP_HOST,
            HTTP_METHOD,
            HTTP_TARGET,
            HTTP_USER_AGENT,
            HTTP_STATUS,
        ]) {
            "http".into()
        } else if any(&[SSH_CLIENT, SSH_SERVER, HASSH]) {
            "ssh".into()
        } else if quic[i] && r.values[APP] == "quic" {
            "quic".into()
        } else {
            String::new()
        };
        b[APP] = (1..COLUMNS.len()).all(|c| t[c].is_empty() || b[c]);
        for (c, column) in COLUMNS.iter().enumerate() {
            let (ours, theirs) = (&r.values[c], &t[c]);
            if ours.is_empty() && theirs.is_empty() {
                continue;
            }
            if ours.is_empty() && b[c] {
                *outcomes.outside.entry(Outside::Broken).or_default() += 1;
                continue;
            }
            outcomes.compared[c] += 1;
            if ours == theirs {
                outcomes.equal[c] += 1;
                continue;
            }
            let kind = if ours.is_empty() {
                Kind::Missing
            } else if theirs.is_empty() {
                Kind::Extra
            } else {
                Kind::Differ
            };
            outcomes.differences.push(Difference {
                key: r.key,
                kind,
                column,
                what: format!("flowprobe {ours:?}, tshark {theirs:?}"),
            });
        }
    }
    outcomes
}

// ---- What is understood ----

/// Per-file tshark options, with why: a decode-as where tshark's heuristics do not take a
/// protocol on an unusual port (flowprobe reads payload whatever the port: these values
/// are compared then), or out-of-order reassembly off where the capture missed segments
/// (tshark would wait for them, and show no later message).
const TSHARK_ARGS: &[(&str, &[&str], &str)] = &[
    (
        "edge/tcpdump/tests__dns_tcp_8053.pcap",
        &["-d", "tcp.port==8053,dns"],
        "DNS over TCP on port 8053",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__ssh.pcap",
        &["-d", "tcp.port==8000,ssh"],
        "SSH on port 8000",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__custom_categories.pcapng",
        &["-d", "tcp.port==20868,ssh"],
        "SSH on port 20868",
    ),
    (
        "edge/arkime/tests__pcap__tcp_handshake_synthetic.pcap",
        &["-d", "tcp.port==40008,ssh"],
        "SSH on port 8080 (from port 40008; other connections to 8080 are HTTP)",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__http_on_sip_port.pcap",
        &["-d", "tcp.port==5060,http"],
        "HTTP on SIP's port 5060",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__tls_port_80.pcapng",
        &["-d", "tcp.port==80,tls"],
        "TLS on port 80",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__anydesk.pcapng",
        &["-d", "tcp.port==80,tls"],
        "TLS on port 80",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__ookla.pcap",
        &["-d", "tcp.port==8080,tls"],
        "TLS on port 8080",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__KakaoTalk_talk.pcap",
        &["-d", "tcp.port==8080,tls"],
        "TLS on port 8080",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__KakaoTalk_chat.pcap",
        &["-d", "tcp.port==5223,tls"],
        "TLS on port 5223",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__gnutella.pcap",
        &["-d", "tcp.port==6888,tls"],
        "TLS on port 6888",
    ),
    (
        "edge/PcapPlusPlus/Tests__Pcap++Test__PcapExamples__4KHttpRequests.pcap",
        &["-o", "tcp.reassemble_out_of_order:FALSE"],
        "the capture missed segments of most connections",
    ),
    (
        "edge/PcapPlusPlus/Tests__Pcap++Test__PcapExamples__650HttpResponses.pcap",
        &["-o", "tcp.reassemble_out_of_order:FALSE"],
        "the capture missed segments of most connections",
    ),
];

/// Captures the file choice misses where tshark shows a value, with why flowprobe has no
/// record for it (found by the one-time tshark run over every capture, see the module
/// doc). Compared all the same: their differences are in `KNOWN`.
const EXTRA_FILES: &[(&str, &str)] = &[
    (
        NFLOG_PPP,
        "NFLOG (239), a link type flowprobe does not decode",
    ),
    (
        TCPDUMP_NFLOG,
        "NFLOG (239), a link type flowprobe does not decode",
    ),
    (PKTAP, "PKTAP (258), a link type flowprobe does not decode"),
    (
        USER2_PKTAP,
        "PKTAP as USER2 (149), a link type flowprobe does not decode",
    ),
    (HTTP_PPI, "PPI (192), a link type flowprobe does not decode"),
    (
        SOMEIP_PPI,
        "PPI (192), a link type flowprobe does not decode",
    ),
    (
        ARCNET_1201_LIBPCAP,
        "ARCNET (129), a link type flowprobe does not decode",
    ),
    (
        IPV4_INVALID,
        "LINKTYPE_IPV4 (228) holding an IPv6 packet: undecodable",
    ),
    (
        GRE_PACKETS,
        "GRE carrying PPP (PPTP): a tunnel flowprobe does not open",
    ),
    (
        VLAN_IPV6_GRE_PPP,
        "GRE carrying PPP (PPTP): a tunnel flowprobe does not open",
    ),
    (
        GRE_PPP_DNS,
        "GRE carrying PPP (PPTP): a tunnel flowprobe does not open",
    ),
    (
        IPCOMP_V4,
        "IPComp (RFC 3173): the HTTP bytes are compressed in the file",
    ),
    (
        IPCOMP_V6,
        "IPComp (RFC 3173): the HTTP bytes are compressed in the file",
    ),
    (
        WIREGUARD,
        "DNS and TLS inside WireGuard that tshark decrypts with keys in the file",
    ),
    (
        REDIS_FUZZ,
        "fuzzed status lines `HTTP/5.?2 200`, no `HTTP/1.` in the bytes",
    ),
];

const NFLOG_PPP: &str = "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__nflogPacket.pcap";
const TCPDUMP_NFLOG: &str = "edge/tcpdump/tests__nflog.pcap";
const PKTAP: &str = "edge/tcpdump/tests__LINKTYPE_PKTAP.pcap";
const USER2_PKTAP: &str = "edge/tcpdump/tests__LINKTYPE_USER2_PKTAP.pcap";
const HTTP_PPI: &str = "edge/libpcap/tests__filter__http_PPI.pcap";
const SOMEIP_PPI: &str = "real/nDPI/tests__cfgs__default__pcap__someip_sd_sample.pcap";
const ARCNET_1201_LIBPCAP: &str = "edge/libpcap/tests__filter__arcnet-rfc1201-arp-icmp-http.pcap";
const IPV4_INVALID: &str = "malformed/tcpdump/tests__LINKTYPE_IPV4_invalid.pcap";
const GRE_PACKETS: &str = "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__GrePackets.pcap";
const VLAN_IPV6_GRE_PPP: &str = "edge/akvorado/outlet__flow__decoder__testdata__vlan-ipv6.pcap";
const GRE_PPP_DNS: &str = "edge/arkime/tests__pcap__6-4-gre-ppp-udp-4-dns.pcap";
const IPCOMP_V4: &str = "edge/libpcap/tests__filter__AH-IPcomp-IPv4.pcap";
const IPCOMP_V6: &str = "edge/libpcap/tests__filter__AH-IPcomp-IPv6.pcap";
const WIREGUARD: &str = "edge/wireshark/test__captures__wireguard-ping-tcp-dsb.pcapng";
const REDIS_FUZZ: &str = "malformed/zeek/testing__btest__Traces__redis__oss-fuzz-473580107.pcap";

/// A difference understood: file, flow key as the test prints it ("" for every key of
/// the file), kind, columns (comma-separated, "" for all), and why.
type Known = (&'static str, &'static str, Kind, &'static str, &'static str);

use Kind::{Differ, Extra, Missing, NoRecord};

// Why, for differences of several files.
const NOT_DECODED: &str = "a link type flowprobe does not decode: no record";
const NOT_OPENED: &str = "a tunnel flowprobe does not open: its record is the outer packet's";
const SOCKS: &str = "a SOCKS handshake starts the stream: the inspector reads a direction's \
                     first bytes only, and what follows the proxy's answer is not a stream start";
const STARTTLS: &str = "the application protocol's own exchange (STARTTLS, STLS, AUTH TLS, an \
                        SSL request) starts the stream, TLS follows it: not a stream start";
const OPENVPN: &str = "TLS inside OpenVPN's control channel (P_CONTROL packets)";
const CUT_RECORD: &str = "the capture ends inside the TLS record that holds the ServerHello: \
                          flowprobe reads the hello once it is whole, tshark shows only a whole \
                          record";
const VN_FIRST: &str = "tshark cannot open the v1 Initial after a Version Negotiation (it keeps \
                        the first Initial's keys; inspect_quic_tshark.rs), flowprobe reads it";
const TARGET_SPACE: &str = "a request target with a space: flowprobe takes everything between \
                            the method and the version (RFC 9112 section 3), tshark ends it at \
                            the first space (inspect_http_ssh_tshark.rs)";
const FUZZED: &str = "a fuzzed capture (bytes changed at random): headers, classes and names \
                      the DNS parser refuses by design or NetBIOS names with a changed letter \
                      (inspect_dns_tshark.rs counts them by rule), sequence numbers and ports \
                      changed under tshark's TCP analysis";
const REPLAYED: &str = "the file holds the same connections again later (same ports and \
                        sequence numbers): tshark's TCP analysis takes the copies for \
                        retransmissions and shows nothing; the inspector's entry expired, it \
                        reads them again";

/// Every difference understood.
const KNOWN: &[Known] = &[
    // ---- Streams that do not start with the message (by design: the inspector reads
    // the start of each direction, issue 14) ----
    (
        "edge/arkime/tests__pcap__socks-http-example.pcap",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "edge/arkime/tests__pcap__socks-http-pass.pcap",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "edge/arkime/tests__pcap__socks-https-example.pcap",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "edge/arkime/tests__pcap__socks4-https.pcap",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "edge/arkime/tests__pcap__socks5-http-302.pcap",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "edge/arkime/tests__pcap__socks5-reverse.pcap",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__socks.pcap",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__socks.pcap",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__shadowsocks.pcap",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__tls_heur__shadowsocks-tcp.pcapng",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__tls_heur__trojan-tcp-tls.pcapng",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__tls_heur__vmess-tcp-tls.pcapng",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__tls_heur__vmess-tcp.pcapng",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__tls_heur__vmess-websocket.pcapng",
        "",
        Missing,
        "",
        SOCKS,
    ),
    (
        "edge/arkime/tests__pcap__smtp-starttls.pcap",
        "",
        Missing,
        "",
        STARTTLS,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__smtp-starttls.pcap",
        "",
        Missing,
        "",
        STARTTLS,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__pop3_stls.pcap",
        "",
        Missing,
        "",
        STARTTLS,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__ftp-start-tls.pcap",
        "",
        Missing,
        "",
        STARTTLS,
    ),
    (
        "real/chrissanders-packets/mail_receiver_server_3.pcapng",
        "",
        Missing,
        "",
        STARTTLS,
    ),
    (
        "edge/arkime/tests__pcap__ldap-ssl.pcap",
        "",
        Missing,
        "",
        STARTTLS,
    ),
    (
        "edge/arkime/tests__pcap__mysql-tls.pcap",
        "",
        Missing,
        "",
        STARTTLS,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__mysql.pcapng",
        "",
        Missing,
        "",
        STARTTLS,
    ),
    (
        "edge/PcapPlusPlus/Tests__Pcap++Test__PcapExamples__pcapng-example.pcapng",
        "",
        Missing,
        "",
        STARTTLS,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__pgsql2.pcapng",
        "",
        Missing,
        "",
        STARTTLS,
    ),
    (
        "edge/arkime/tests__pcap__adb_synthetic.pcap",
        "",
        Missing,
        "",
        "ADB's STLS message starts the stream, TLS follows it",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__nomachine.pcapng",
        "",
        Missing,
        "",
        "NX's banner lines (`NXSH-8.10.1`) start the stream, TLS follows them",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__gnutella.pcap",
        "",
        Missing,
        "",
        "Gnutella's handshake (`GNUTELLA CONNECT/0.6`) starts the stream, TLS follows it",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__haproxy.pcap",
        "",
        Missing,
        "",
        "a PROXY protocol v1 line starts the stream, the ClientHello follows it",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__443-opvn.pcap",
        "",
        Missing,
        "",
        OPENVPN,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__openvpn.pcap",
        "",
        Missing,
        "",
        OPENVPN,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__openvpn_nohmac_tcp.pcapng",
        "",
        Missing,
        "",
        OPENVPN,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__1kxun.pcap",
        "tcp 161.117.13.29:80 > 192.168.2.126:45422",
        Missing,
        "",
        "the capture starts inside a response body: the direction's first bytes are the \
         middle of a message, the next head is not a stream start",
    ),
    // ---- Parser decisions (the parser-level tshark tests list the same) ----
    (
        "edge/arkime/tests__pcap__gre-erspan-vxlan.pcap",
        "tcp 10.16.27.12:65174 > 10.16.27.131:80",
        Differ,
        "http_target",
        TARGET_SPACE,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__WebattackRCE.pcap",
        "tcp 127.0.0.1:50632 > 127.0.0.1:8080",
        Differ,
        "http_target",
        TARGET_SPACE,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__http-manipulated.pcap",
        "tcp 192.168.0.20:33684 > 192.168.0.7:8080",
        Extra,
        "http_target",
        "a run of spaces after the method: tshark's target is empty \
         (inspect_http_ssh_tshark.rs)",
    ),
    (
        "edge/zeek/testing__btest__Traces__mixed-vlan-mpls.pcap",
        "",
        Missing,
        "",
        "`GET /` without a version (HTTP/0.9-like): NotThis by design \
         (inspect_http_ssh_tshark.rs)",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__ndpi_match_string_subprotocol__error.pcapng",
        "tcp 10.68.137.118:8091 > 10.3.9.19:40632",
        Missing,
        "",
        "status line version `HTTP/1.\\xcd`: NotThis by design (inspect_http_ssh_tshark.rs)",
    ),
    (
        REDIS_FUZZ,
        "",
        Missing,
        "",
        "fuzzed status lines `HTTP/5.?2 200`: NotThis by design (inspect_http_ssh_tshark.rs)",
    ),
    (
        IPCOMP_V6,
        "",
        Missing,
        "",
        "IPComp (RFC 3173): the HTTP bytes are compressed, tshark inflates them",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__dns_invert_query.pcapng",
        "",
        Missing,
        "",
        "IQUERY (opcode 1, obsolete since RFC 3425): NotThis by design (inspect_dns_tshark.rs)",
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__netbios_wildcard_dns_query.pcap",
        "",
        Missing,
        "",
        "a NetBIOS NBSTAT query for * sent to port 53: NetBIOS by its payload \
         (inspect_dns_tshark.rs)",
    ),
    (
        "edge/arkime/tests__pcap__arkime_synthetic.pcap",
        "tcp 10.9.10.2:443 > 10.9.10.1:49601",
        Missing,
        "",
        "a synthetic ServerHello with a stray byte in its extensions: tshark warns (\"1 \
         trailing byte was unprocessed\") and shows the values, tls::parse_records says \
         Malformed (inspect_tls_tshark.rs counts it as broken for both)",
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__ossfuzz_seed_fake_traces_1.pcapng",
        "",
        Missing,
        "",
        "crafted ClientHellos (a trailing byte, empty vectors) that tshark warns about and \
         tls::parse_records says Malformed for",
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-06-26-2594.pcap",
        "",
        Missing,
        "",
        FUZZED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-06-26-2594.pcap",
        "",
        Extra,
        "",
        FUZZED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-09-29-28586.pcap",
        "",
        Missing,
        "",
        FUZZED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-09-29-28586.pcap",
        "",
        Extra,
        "",
        FUZZED,
    ),
    (
        "malformed/nDPI/tests__cfgs__default__pcap__fuzz-2006-09-29-28586.pcap",
        "tcp 172.20.3.13:53132 > 172.20.3.5:80",
        Differ,
        "http_host",
        "a NUL inside the Host value: tshark's string ends there, flowprobe replaces it by \
         SP (inspect_http_ssh_tshark.rs)",
    ),
    (
        "edge/nDPI/tests__cfgs__default__pcap__4in6tunnel.pcap",
        "tcp 10.10.10.1:443 > 192.168.0.1:64455",
        Extra,
        "",
        CUT_RECORD,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__KakaoTalk_chat.pcap",
        "tcp 54.255.253.199:5223 > 10.24.82.188:58964",
        Extra,
        "",
        CUT_RECORD,
    ),
    (
        "malformed/zeek/testing__btest__Traces__http__http-bad-content-range-01.pcap",
        "tcp 127.0.0.1:8080 > 127.0.0.1:42226",
        Extra,
        "",
        "a response head sent in four segments over 52 s: flowprobe reads the status from \
         the status line, in the first segment's record; tshark shows it with the whole \
         head, three records (and an expired inspection) later",
    ),
    // ---- tshark's side ----
    (
        "edge/tcpdump/tests__quic_vn.pcap",
        "udp [::1]:57406 > [::1]:443",
        Extra,
        "",
        VN_FIRST,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__quic-forcing-vn-with-data.pcapng",
        "udp 192.168.56.103:55523 > 192.168.56.104:4433",
        Extra,
        "",
        VN_FIRST,
    ),
    (
        "malformed/tcpdump/tests__quic_handshake_truncated.pcap",
        "udp [::1]:443 > [::1]:65165",
        Missing,
        "",
        "the client's Initial is cut by the snaplen: flowprobe does not trust its DCID, so \
         the server's Initials do not open; tshark takes the DCID from the cut header \
         (inspect_quic_tshark.rs)",
    ),
    (
        "edge/zeek/testing__btest__Traces__vlan-collisions.pcap",
        "",
        Extra,
        "",
        "the same connection on three VLANs: flowprobe keys each VLAN apart, tshark's TCP \
         conversations ignore the VLAN and take the copies for retransmissions",
    ),
    (
        "real/ipfixprobe/tests__functional__inputs__tls.pcap",
        "",
        Extra,
        "",
        REPLAYED,
    ),
    (
        "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__dns_over_tcp.pcapng",
        "",
        Extra,
        "",
        REPLAYED,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__ndpi_match_string_subprotocol__error.pcapng",
        "tcp 10.3.9.19:40632 > 10.68.137.118:8091",
        Extra,
        "",
        "the ports are reused an hour later with unrelated sequence numbers: tshark's TCP \
         analysis (\"ACKed unseen segment\") shows no request, flowprobe reads it",
    ),
    (
        "edge/PcapPlusPlus/Tests__Pcap++Test__PcapExamples__4KHttpRequests.pcap",
        "tcp 10.0.0.1:61613 > 192.118.82.149:80",
        Missing,
        "",
        "heads longer than a segment, and the capture missed segments: the inspector holds \
         the first head's next bytes ahead of the gap, waiting for it; tshark (out-of-order \
         reassembly off here) shows a later head whole in one segment",
    ),
    // ---- No record: link types and tunnels flowprobe does not decode ----
    (
        "edge/arkime/tests__pcap__80211http.pcap",
        "",
        NoRecord,
        "",
        "IEEE 802.11 radiotap: a link type flowprobe does not decode",
    ),
    (
        "edge/arkime/tests__pcap__nflog.pcap",
        "",
        NoRecord,
        "",
        NOT_DECODED,
    ),
    (
        "edge/zeek/testing__btest__Traces__nflog-http.pcap",
        "",
        NoRecord,
        "",
        NOT_DECODED,
    ),
    (NFLOG_PPP, "", NoRecord, "", NOT_DECODED),
    (TCPDUMP_NFLOG, "", NoRecord, "", NOT_DECODED),
    (PKTAP, "", NoRecord, "", NOT_DECODED),
    (USER2_PKTAP, "", NoRecord, "", NOT_DECODED),
    (HTTP_PPI, "", NoRecord, "", NOT_DECODED),
    (SOMEIP_PPI, "", NoRecord, "", NOT_DECODED),
    (ARCNET_1201_LIBPCAP, "", NoRecord, "", NOT_DECODED),
    (
        "edge/libpcap/tests__filter__arcnet-rfc1051-arp-icmp-http.pcap",
        "",
        NoRecord,
        "",
        NOT_DECODED,
    ),
    (
        "edge/tcpdump/tests__arcnet-rfc1051-arp-icmp-http.pcap",
        "",
        NoRecord,
        "",
        NOT_DECODED,
    ),
    (
        "edge/tcpdump/tests__arcnet-rfc1201-arp-icmp-http.pcap",
        "",
        NoRecord,
        "",
        NOT_DECODED,
    ),
    (
        "edge/suricata-verify/tests__decode-chdlc-01__hdlc-http_1tx.pcap",
        "",
        NoRecord,
        "",
        NOT_DECODED,
    ),
    (
        "edge/tcpdump/tests__ipoib.pcap",
        "",
        NoRecord,
        "",
        NOT_DECODED,
    ),
    (
        "edge/zeek/testing__btest__Traces__ppp__quic-interop-retry.pcap",
        "",
        NoRecord,
        "",
        NOT_DECODED,
    ),
    (
        IPV4_INVALID,
        "",
        NoRecord,
        "",
        "LINKTYPE_IPV4 holding an IPv6 packet: undecodable",
    ),
    (
        IPCOMP_V4,
        "",
        NoRecord,
        "",
        "IPComp (RFC 3173): no TCP header in the file's bytes, tshark inflates them",
    ),
    (
        WIREGUARD,
        "",
        NoRecord,
        "",
        "inside WireGuard, decrypted by tshark with keys in the file",
    ),
    (GRE_PACKETS, "", NoRecord, "", NOT_OPENED),
    (VLAN_IPV6_GRE_PPP, "", NoRecord, "", NOT_OPENED),
    (GRE_PPP_DNS, "", NoRecord, "", NOT_OPENED),
    (
        "edge/zeek/testing__btest__Traces__tunnels__ayiya3.pcap",
        "",
        NoRecord,
        "",
        NOT_OPENED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gre-aruba.pcap",
        "",
        NoRecord,
        "",
        NOT_OPENED,
    ),
    (
        "edge/zeek/testing__btest__Traces__tunnels__gre-over-udp-4754.pcap",
        "",
        NoRecord,
        "",
        NOT_OPENED,
    ),
    (
        "real/nDPI/tests__cfgs__default__pcap__capwap_data.pcapng",
        "",
        NoRecord,
        "",
        NOT_OPENED,
    ),
];

/// Which entry of `KNOWN` explains a difference in `file`, if one does.
fn known(file: &str, d: &Difference) -> Option<usize> {
    let key = d.key.to_string();
    KNOWN.iter().position(|(f, k, kind, columns, _)| {
        *f == file
            && (k.is_empty() || *k == key)
            && *kind == d.kind
            && (columns.is_empty() || columns.split(',').any(|c| c == d.column))
    })
}

/// The captures compared: those `candidate` chooses, and `EXTRA_FILES`.
fn chosen_files(root: &Path) -> Vec<PathBuf> {
    let all = captures(root);
    let chosen = parallel_map(&all, |p| candidate(p));
    let mut files: Vec<PathBuf> = all
        .iter()
        .zip(&chosen)
        .filter(|(_, c)| **c)
        .map(|(p, _)| p.clone())
        .collect();
    for (extra, why) in EXTRA_FILES {
        let path = root.join(extra);
        assert!(path.exists(), "EXTRA_FILES: {extra} ({why}) is not there");
        assert!(
            !files.contains(&path),
            "EXTRA_FILES: {extra} is chosen by the scan now; remove it"
        );
        files.push(path);
    }
    files.sort();
    files
}

#[test]
fn inspected_values_match_tshark_per_flow() {
    if !require_tool("tshark") || !require_shared_pcaps() {
        return;
    }
    let t0 = std::time::Instant::now();
    let root = shared_pcaps();
    let mut files = chosen_files(&root);
    // INSPECT_FLOWS_ONLY=substring runs the files whose name holds it (to look at one);
    // the checks that need every file are left out then.
    let only = std::env::var("INSPECT_FLOWS_ONLY").ok();
    if let Some(o) = &only {
        files.retain(|f| name_of(f).contains(o.as_str()));
    }
    // In the target directory: the binary is hard-linked there (same file system).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary directory");
    let bin = binary(dir.path());
    let results = parallel_map(&files, |p| compare_file(&bin, dir.path(), p));

    let mut records = 0;
    let mut compared = [0usize; COLUMNS.len()];
    let mut equal = [0usize; COLUMNS.len()];
    let mut outside: BTreeMap<Outside, usize> = BTreeMap::new();
    let mut explained: BTreeMap<usize, usize> = BTreeMap::new();
    let mut unexplained = Vec::new();
    for (path, o) in files.iter().zip(&results) {
        let name = name_of(path);
        records += o.records;
        for c in 0..COLUMNS.len() {
            compared[c] += o.compared[c];
            equal[c] += o.equal[c];
        }
        for (why, n) in &o.outside {
            *outside.entry(*why).or_default() += n;
        }
        for d in &o.differences {
            match known(&name, d) {
                Some(i) => *explained.entry(i).or_default() += 1,
                None => unexplained.push(format!(
                    "{name}: {} {:?} {}: {}",
                    d.key, d.kind, d.column, d.what
                )),
            }
        }
    }

    eprintln!(
        "{} files, {records} records, in {:.0?}; values compared (equal) by column:",
        files.len(),
        t0.elapsed()
    );
    for (c, column) in COLUMNS.iter().enumerate() {
        eprintln!("  {column:16} {:6} ({})", compared[c], equal[c]);
    }
    eprintln!("tshark messages the inspector does not read, by why: {outside:?}");
    // Known differences by reason.
    let mut by_reason: BTreeMap<&str, (usize, BTreeSet<&str>)> = BTreeMap::new();
    for (i, n) in &explained {
        let (file, _, _, _, why) = KNOWN[*i];
        let e = by_reason.entry(why).or_default();
        e.0 += n;
        e.1.insert(file);
    }
    eprintln!("known differences, by reason (values, files):");
    for (why, (n, files)) in &by_reason {
        eprintln!("  {n:5} {:3}  {why}", files.len());
    }
    assert!(
        unexplained.is_empty(),
        "{} unexplained differences:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    if only.is_some() {
        return;
    }
    let stale: Vec<String> = KNOWN
        .iter()
        .enumerate()
        .filter(|(i, _)| !explained.contains_key(i))
        .map(|(_, (f, k, kind, c, _))| format!("{f} {k:?} {kind:?} {c:?}"))
        .collect();
    assert!(
        stale.is_empty(),
        "known differences that no longer happen:\n{}",
        stale.join("\n")
    );
    let total: usize = compared.iter().sum();
    assert!(
        files.len() > 600 && total > 20_000,
        "only {} files and {total} values: did the corpus shrink?",
        files.len()
    );
}

/// Captures for the biflow test: TLS, QUIC, DNS (UDP and TCP), HTTP and SSH.
const BIFLOW_FILES: &[&str] = &[
    "real/ja4/pcap__tls3.pcapng",
    "edge/tcpdump/tests__quic_retry.pcap",
    "edge/PcapPlusPlus/Tests__Packet++Test__PacketExamples__dns_over_tcp.pcapng",
    "edge/PcapPlusPlus/Tests__Pcap++Test__PcapExamples__650HttpResponses.pcap",
    "real/nDPI/tests__cfgs__default__pcap__ssh.pcap",
    "real/nDPI/tests__cfgs__default__pcap__1kxun.pcap",
];

/// The inspection columns of a row, all of them (`ja4` and `community_id` too).
const INSPECT_COLUMNS: [&str; 20] = [
    "app",
    "tls_sni",
    "tls_alpn",
    "tls_version",
    "tls_cipher",
    "ja4",
    "ja3",
    "dns_qname",
    "dns_qtype",
    "dns_rcode",
    "dns_answers",
    "http_host",
    "http_method",
    "http_target",
    "http_user_agent",
    "http_status",
    "ssh_client",
    "ssh_server",
    "hassh",
    "community_id",
];

#[test]
fn biflow_values_are_the_union_of_their_uniflows() {
    if !require_shared_pcaps() {
        return;
    }
    let root = shared_pcaps();
    // In the target directory: the binary is hard-linked there (same file system).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("a temporary directory");
    let bin = binary(dir.path());
    let mut rows = 0;
    let mut values = 0;
    for file in BIFLOW_FILES {
        let path = root.join(file);
        let uni = flowprobe(&bin, &path, &dir.path().join("uni.csv"), false);
        let bi = flowprobe(&bin, &path, &dir.path().join("bi.csv"), true);
        assert!(!bi.is_empty(), "{file}: no biflow rows");
        let field = |r: &Record, c: &str| r.row.get(c).cloned().unwrap_or_default();
        for b in &bi {
            // The uniflow rows of each direction within the biflow row's span of it.
            let reverse_span = (
                rfc3339_ns(&field(b, "reverse_start")),
                rfc3339_ns(&field(b, "reverse_end")),
            );
            let part = |key: Key, span: (Option<i128>, Option<i128>)| -> Vec<&Record> {
                let (Some(start), Some(end)) = span else {
                    return Vec::new();
                };
                let mut v: Vec<&Record> = uni
                    .iter()
                    .filter(|u| u.key == key && u.tos == b.tos && start <= u.start && u.end <= end)
                    .collect();
                v.sort_by_key(|u| u.start);
                v
            };
            let forward = part(b.key, (Some(b.start), Some(b.end)));
            let reverse = part(b.key.reversed(), reverse_span);
            let packets = |rs: &[&Record]| -> u64 {
                rs.iter()
                    .map(|r| field(r, "packets").parse::<u64>().unwrap_or(0))
                    .sum()
            };
            assert_eq!(
                (packets(&forward), packets(&reverse)),
                (
                    field(b, "packets").parse().unwrap_or(0),
                    field(b, "reverse_packets").parse().unwrap_or(0)
                ),
                "{file}: {} from {}: the uniflow rows do not add up to the biflow row",
                b.key,
                b.start
            );
            rows += 1;
            for c in INSPECT_COLUMNS {
                // Forward first, then the reverse direction; within one, the first in time.
                let expected = forward
                    .iter()
                    .chain(&reverse)
                    .map(|r| field(r, c))
                    .find(|v| !v.is_empty())
                    .unwrap_or_default();
                let got = field(b, c);
                values += usize::from(!got.is_empty());
                assert_eq!(
                    got, expected,
                    "{file}: {} from {}, column {c}: biflow {got:?}, its uniflows {expected:?}",
                    b.key, b.start
                );
            }
        }
    }
    eprintln!(
        "{rows} biflow rows of {} captures, {values} values",
        BIFLOW_FILES.len()
    );
}
