//! `flowprobe run --inspect all` end to end, with real clients and servers, in network
//! namespaces made by the test.
//!
//! The servers run in side b (198.18.0.2), the clients in side a (198.18.0.1); the built
//! binary captures on b's veth with AF_PACKET and two workers (so the kernel's fanout hash
//! must keep both directions of a connection on one worker, where the inspector tells
//! client from server), writes CSV, and is stopped with SIGTERM. Each test checks that
//! the inspection columns hold exactly what the client sent and the server answered, on
//! the right direction's row, that every row has the Community ID of its key (computed
//! here from the spec, not by flowprobe), that the summary counts each message read and
//! no error, and that the rows still add up to exactly the packets and bytes the kernel
//! counted on the interface.
//!
//! - TLS: a key and self-signed certificate made by `openssl req`, `openssl s_server`,
//!   four `openssl s_client` connections (TLS 1.3 with openssl's default suite, TLS 1.2
//!   with a chosen cipher, TLS 1.3 with a chosen suite, and the first again over a route
//!   of MTU 256, so that the ClientHello spans several segments). Version and cipher are
//!   what s_client reports; when tshark is installed, a capture on a's veth (dumpcap)
//!   gives tshark's JA3 and the fields from which the test computes JA4 itself.
//! - DNS: a responder written here in Python (UDP and TCP), `dig` for a name with two
//!   A records, a name it answers NXDOMAIN, a TXT query without answers, and a query over
//!   TCP.
//! - HTTP: `python3 -m http.server` and `curl`: a file (200), a missing one (404), a POST
//!   (501, http.server has no POST), and more files: 16 connections, which the Prometheus
//!   counters show inspected once each and spread over both workers.
//! - SSH: no sshd is assumed: the real `ssh` client against a server written here in
//!   Python that sends its banner and reads the client's banner and KEXINIT, computing
//!   the client's HASSH itself.
//! - `--biflow`: a TLS connection and an HTTP one, each a row with both sides' values.
//!
//! Ports are fixed: each test has its own namespaces. The whole file takes about 7 s.
//! Needs root and the tools (openssl, dig, python3, curl, ssh); without them a test
//! prints "skipped" (and fails when `CI` is set).

#[path = "common/netns.rs"]
#[macro_use]
mod netns;

use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use netns::{NetnsPair, Side};
use sha1::Digest as _;

/// A CSV row: column name to value.
type Row = BTreeMap<String, String>;

/// The inspection columns a row may hold besides `community_id`.
const INSPECTED: [&str; 19] = [
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
];

/// A process started in a namespace by the test; killed if still running when dropped
/// (the pair's Drop also kills everything left in its namespaces).
struct Proc(Child);

impl Proc {
    fn start(side: &Side, args: &[&str], stdout: Stdio) -> Proc {
        let child = Command::new("ip")
            .args(["netns", "exec", &side.ns])
            .args(args)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {args:?}: {e}"));
        Proc(child)
    }

    /// Waits (at most `limit`) for the process to exit by itself; returns its stdout.
    fn wait_output(mut self, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        while self.0.try_wait().unwrap().is_none() {
            assert!(
                Instant::now() < deadline,
                "process did not exit in {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut out = String::new();
        if let Some(mut s) = self.0.stdout.take() {
            s.read_to_string(&mut out).unwrap();
        }
        out
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a client in side a, bounded by `timeout` (coreutils) to 20 s.
fn client(pair: &NetnsPair, args: &[&str]) -> Output {
    let mut all = vec!["timeout", "20"];
    all.extend_from_slice(args);
    pair.exec(&pair.a, &all)
}

/// Waits (at most 10 s) until something listens on `port` in `side`'s namespace. `ss`
/// reads the kernel's tables: no packet is sent.
fn wait_listening(pair: &NetnsPair, side: &Side, tcp: bool, port: u16) {
    let kind = if tcp { "-Hltn" } else { "-Hlun" };
    let filter = format!("sport = :{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = pair.exec(side, &["ss", kind, &filter]);
        if !String::from_utf8_lossy(&out.stdout).trim().is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "nothing listens on {} port {port} after 10 s",
            if tcp { "TCP" } else { "UDP" }
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The probe with `--inspect all`, AF_PACKET and two workers, capturing on b's veth.
struct Probe {
    child: Child,
    output: PathBuf,
    _dir: tempfile::TempDir,
}

impl Probe {
    fn start(pair: &NetnsPair, extra: &[&str]) -> Probe {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("flows.csv");
        let child = Command::new("ip")
            .args(["netns", "exec", &pair.b.ns, env!("CARGO_BIN_EXE_flowprobe")])
            .args(["run", "-i", &pair.b.ifname, "--backend", "af-packet"])
            .args(["--threads", "2", "--inspect", "all", "-f", "csv", "-o"])
            .arg(&output)
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting flowprobe run");
        // Let the rings come up before traffic starts.
        std::thread::sleep(Duration::from_millis(700));
        Probe {
            child,
            output,
            _dir: dir,
        }
    }

    /// SIGTERM, then wait (bounded) for a clean exit; returns the CSV and stderr.
    fn stop(mut self) -> (String, String) {
        // SAFETY: kill with a pid we spawned and have not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "flowprobe did not stop within 20 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        };
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(
            status.success(),
            "flowprobe run exited with {status}: {stderr}"
        );
        (
            std::fs::read_to_string(&self.output).unwrap_or_default(),
            stderr,
        )
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Frames and bytes (Ethernet header included) received plus sent on b's veth, as the
/// kernel counts them.
fn veth_counters(pair: &NetnsPair) -> (u64, u64) {
    let read = |name: &str| -> u64 {
        let path = format!("/sys/class/net/{}/statistics/{name}", pair.b.ifname);
        let out = pair.exec(&pair.b, &["cat", &path]);
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (
        read("rx_packets") + read("tx_packets"),
        read("rx_bytes") + read("tx_bytes"),
    )
}

/// Runs the probe around `traffic` (which runs the clients and returns once they are
/// done) and returns the rows, the probe's stderr and the kernel's (frames, bytes) of
/// the interface while it ran.
fn capture(pair: &NetnsPair, traffic: impl FnOnce()) -> (Vec<Row>, String, (u64, u64)) {
    let (rows, stderr, kernel, _) = capture_with(pair, &[], false, traffic);
    (rows, stderr, kernel)
}

/// As `capture`, with `extra` probe arguments, and with `metrics` the probe's
/// Prometheus page after the traffic.
fn capture_with(
    pair: &NetnsPair,
    extra: &[&str],
    metrics: bool,
    traffic: impl FnOnce(),
) -> (Vec<Row>, String, (u64, u64), String) {
    let listen = format!("127.0.0.1:{METRICS_PORT}");
    let mut args = extra.to_vec();
    if metrics {
        args.extend(["--prometheus-listen", &listen]);
    }
    let probe = Probe::start(pair, &args);
    let before = veth_counters(pair);
    traffic();
    // The last FIN and ACKs (and the workers' counters, published every 100 ms).
    std::thread::sleep(Duration::from_millis(500));
    let after = veth_counters(pair);
    // On b's loopback: nothing crosses the veth.
    let page = if metrics {
        pair.run_in(&pair.b, || {
            use std::io::Write as _;
            let mut s = std::net::TcpStream::connect(&listen).expect("metrics endpoint up");
            s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
            let mut page = String::new();
            s.read_to_string(&mut page).unwrap();
            page
        })
    } else {
        String::new()
    };
    let (csv, stderr) = probe.stop();
    let rows = parse_csv(&csv);
    (rows, stderr, (after.0 - before.0, after.1 - before.1), page)
}

const METRICS_PORT: u16 = 9120;

/// A Prometheus counter's value per `worker` label.
fn per_worker(page: &str, name: &str) -> BTreeMap<String, u64> {
    page.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?.strip_prefix("{worker=\"")?;
            let (worker, rest) = rest.split_once('"')?;
            Some((worker.to_string(), rest.rsplit(' ').next()?.parse().ok()?))
        })
        .collect()
}

/// RFC 4180: fields in double quotes may hold commas, line ends and doubled quotes.
fn parse_csv(text: &str) -> Vec<Row> {
    let mut records: Vec<Vec<String>> = Vec::new();
    let (mut record, mut field) = (Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') => quoted = true,
            (false, ',') => record.push(std::mem::take(&mut field)),
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(!quoted && field.is_empty(), "the CSV ends mid-record");
    let mut records = records.into_iter();
    let header = records.next().expect("a CSV header");
    for name in INSPECTED.iter().chain(&["community_id"]) {
        assert!(
            header.iter().any(|h| h == name),
            "no column {name}: {header:?}"
        );
    }
    records
        .map(|r| {
            assert_eq!(r.len(), header.len(), "a row of {} fields: {r:?}", r.len());
            header.iter().cloned().zip(r).collect()
        })
        .collect()
}

/// The Community ID v1 (seed 0) of a row's key, from the specification
/// (github.com/corelight/community-id-spec): SHA-1 over seed, the two addresses, the
/// protocol, a zero byte and the two ports, the lower (address, port) end first; "1:"
/// and the digest in base64.
fn community_id(row: &Row) -> String {
    let addr = |k: &str| -> [u8; 4] { row[k].parse::<std::net::Ipv4Addr>().unwrap().octets() };
    let port = |k: &str| -> u16 { row[k].parse().unwrap() };
    let mut a = (addr("src"), port("sport"));
    let mut b = (addr("dst"), port("dport"));
    if a > b {
        std::mem::swap(&mut a, &mut b);
    }
    let mut input = vec![0u8, 0];
    input.extend_from_slice(&a.0);
    input.extend_from_slice(&b.0);
    input.push(row["proto"].parse().unwrap());
    input.push(0);
    input.extend_from_slice(&a.1.to_be_bytes());
    input.extend_from_slice(&b.1.to_be_bytes());
    format!("1:{}", base64(&sha1::Sha1::digest(&input)))
}

/// The specification's example (its README, and tests/community_id.rs): TCP
/// 128.232.110.120:34855 -> 66.35.250.204:80, either way.
#[test]
fn the_tests_community_id_gives_the_specifications_value() {
    for (src, sport, dst, dport) in [
        ("128.232.110.120", "34855", "66.35.250.204", "80"),
        ("66.35.250.204", "80", "128.232.110.120", "34855"),
    ] {
        let row: Row = [
            ("src", src),
            ("sport", sport),
            ("dst", dst),
            ("dport", dport),
            ("proto", "6"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(community_id(&row), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    }
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// What every test checks of the whole capture: the totals are the kernel's, every row
/// has its key's Community ID, and the summary counts `connections` connections and
/// `found` messages of each protocol, with no error.
fn check_capture(
    rows: &[Row],
    stderr: &str,
    kernel: (u64, u64),
    connections: u64,
    found: &[(&str, u64)],
) {
    // Both directions' counters of a biflow row.
    let sum = |columns: [&str; 2]| -> u64 {
        rows.iter()
            .flat_map(|r| columns.map(|c| r.get(c).map_or(0, |v| v.parse::<u64>().unwrap())))
            .sum()
    };
    let packets = sum(["packets", "reverse_packets"]);
    let bytes = sum(["bytes", "reverse_bytes"]);
    assert_eq!(
        (packets, bytes + 14 * packets),
        kernel,
        "rows' packets and IP bytes (+14 a frame) against the kernel's frames and bytes \
         on the interface; stderr:\n{stderr}"
    );
    assert!(
        stderr.contains("kernel drops                     0"),
        "{stderr}"
    );
    let read = stderr
        .lines()
        .find_map(|l| l.strip_prefix("packets read"))
        .and_then(|n| n.trim().parse::<u64>().ok());
    assert_eq!(read, Some(kernel.0), "packets read; stderr:\n{stderr}");
    for r in rows {
        let id = &r["community_id"];
        assert!(
            id.len() == 30 && id.starts_with("1:") && id.ends_with('='),
            "not a Community ID v1: {id:?}"
        );
        assert_eq!(*id, community_id(r), "Community ID of {r:?}");
    }
    let summary: BTreeMap<&str, (u64, u64)> = stderr
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            match f.as_slice() {
                ["connections", "inspected", n] => Some(("connections", (n.parse().ok()?, 0))),
                [name, n, errors, "errors)"] => Some((
                    *name,
                    (n.parse().ok()?, errors.strip_prefix('(')?.parse().ok()?),
                )),
                _ => None,
            }
        })
        .collect();
    let mut expected = BTreeMap::from([("connections", (connections, 0))]);
    expected.extend(found.iter().map(|&(p, n)| (p, (n, 0))));
    assert_eq!(
        summary, expected,
        "connections inspected and (messages, errors) by protocol; stderr:\n{stderr}"
    );
}

/// The rows of one direction of a connection (a source port of 0: any).
fn direction<'a>(rows: &'a [Row], proto: u8, src: (&str, u16), dst: (&str, u16)) -> Vec<&'a Row> {
    rows.iter()
        .filter(|r| {
            r["proto"] == proto.to_string()
                && r["src"] == src.0
                && (src.1 == 0 || r["sport"] == src.1.to_string())
                && r["dst"] == dst.0
                && r["dport"] == dst.1.to_string()
        })
        .collect()
}

/// The inspected values of one direction's rows (a direction may have been cut into
/// several records): each column's value, which no two rows may contradict.
fn seen(rows: &[&Row]) -> BTreeMap<String, String> {
    assert!(!rows.is_empty(), "no row for the direction");
    let mut seen = BTreeMap::new();
    for r in rows {
        for c in INSPECTED {
            let v = &r[c];
            if v.is_empty() {
                continue;
            }
            let old = seen.entry(c.to_string()).or_insert_with(|| v.clone());
            assert_eq!(
                old, v,
                "column {c} differs between a direction's rows: {rows:?}"
            );
        }
    }
    seen
}

/// Asserts that a direction showed exactly `expected` (and nothing else), apart from
/// the columns in `also` (checked by the caller), and returns those.
fn assert_seen(
    rows: &[&Row],
    expected: &[(&str, &str)],
    also: &[&str],
    what: &str,
) -> BTreeMap<String, String> {
    let mut got = seen(rows);
    let mut other = BTreeMap::new();
    for c in also {
        if let Some(v) = got.remove(*c) {
            other.insert(c.to_string(), v);
        }
    }
    let expected: BTreeMap<String, String> = expected
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    assert_eq!(got, expected, "{what}: rows {rows:?}");
    other
}

fn the_only<'a>(rows: &'a [Row], what: &str, pick: impl Fn(&Row) -> bool) -> &'a Row {
    let picked: Vec<&Row> = rows.iter().filter(|r| pick(r)).collect();
    assert_eq!(picked.len(), 1, "{what}: {picked:?}\nall rows: {rows:?}");
    picked[0]
}

fn port_of(row: &Row, column: &str) -> u16 {
    row[column].parse().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

// ---------------------------------------------------------------------------------
// TLS

const TLS_PORT: u16 = 4433;

/// A TLS cipher suite's code (4 hex digits) by the name openssl prints.
fn cipher_code(name: &str) -> &'static str {
    match name {
        "TLS_AES_128_GCM_SHA256" => "1301",
        "TLS_AES_256_GCM_SHA384" => "1302",
        "TLS_CHACHA20_POLY1305_SHA256" => "1303",
        "ECDHE-ECDSA-AES128-GCM-SHA256" => "c02b",
        "ECDHE-ECDSA-AES256-GCM-SHA384" => "c02c",
        "ECDHE-ECDSA-CHACHA20-POLY1305" => "cca9",
        other => panic!("no code known for openssl's cipher name {other}"),
    }
}

/// One s_client connection: what it was asked and what it reported.
struct TlsConn {
    sni: &'static str,
    /// Extra s_client arguments.
    args: &'static [&'static str],
    /// JA4's version digits for this client's offer.
    ja4_version: &'static str,
    /// Sent over a route of MTU 256 (segments of at most 216 bytes): the ClientHello
    /// spans several segments.
    small_mtu: bool,
    /// Filled from s_client's output: "1.3", and the cipher's code.
    version: String,
    cipher: String,
}

/// `s_client`'s "New, TLSv1.3, Cipher is NAME" line: ("1.3", code of NAME).
fn negotiated(output: &str) -> Option<(String, String)> {
    let line = output.lines().find(|l| l.starts_with("New, "))?;
    let mut parts = line.split(", ");
    parts.next();
    let version = parts.next()?.strip_prefix("TLSv")?.to_string();
    let name = parts.next()?.strip_prefix("Cipher is ")?.trim();
    Some((version, cipher_code(name).to_string()))
}

/// What tshark shows of one ClientHello (by client port), from a capture on a's veth.
struct TsharkHello {
    ja3: String,
    ja4: String,
    /// TCP segments the ClientHello came in.
    segments: u32,
}

/// Reads the ClientHellos of a capture with tshark and computes each one's JA4 from
/// tshark's field values (FoxIO's JA4 technical details: `t`, the highest offered
/// version, `d` with SNI, the cipher and extension counts without GREASE, the first ALPN
/// value's first and last characters; then SHA-256 (12 hex digits) of the sorted ciphers,
/// and of the sorted extensions without SNI and ALPN, `_`, the signature algorithms in
/// order).
fn tshark_hellos(pcap: &Path) -> BTreeMap<u16, TsharkHello> {
    let fields = [
        "tcp.srcport",
        "tls.handshake.ja3",
        "tls.handshake.version",
        "tls.handshake.extensions.supported_version",
        "tls.handshake.extensions_server_name",
        "tls.handshake.ciphersuite",
        "tls.handshake.extension.type",
        "tls.handshake.extensions_alpn_str",
        "tls.handshake.sig_hash_alg",
        "tcp.segment.count",
    ];
    let mut cmd = Command::new("tshark");
    cmd.arg("-r")
        .arg(pcap)
        .args(["-o", "tcp.desegment_tcp_streams:TRUE"])
        .args(["-Y", "tls.handshake.type == 1", "-T", "fields"])
        .args(["-E", "aggregator=,"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("running tshark");
    assert!(out.status.success(), "tshark: {}", text(&out));
    let number = |s: &str| -> u32 {
        match s.strip_prefix("0x") {
            Some(hex) => u32::from_str_radix(hex, 16).unwrap(),
            None => s.parse().unwrap(),
        }
    };
    let list = |s: &str| -> Vec<u32> {
        s.split(',')
            .filter(|v| !v.is_empty())
            .map(number)
            .filter(|&v| !(v & 0x0f0f == 0x0a0a && v >> 8 == v & 0xff))
            .collect()
    };
    let sha12 = |s: &str| -> String {
        let d = sha2::Sha256::digest(s.as_bytes());
        d.iter().take(6).map(|b| format!("{b:02x}")).collect()
    };
    let hex4 = |v: &[u32]| -> Vec<String> { v.iter().map(|x| format!("{x:04x}")).collect() };
    let mut hellos = BTreeMap::new();
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let f: Vec<&str> = line.split('\t').collect();
        assert_eq!(f.len(), fields.len(), "tshark line {line:?}");
        let version = list(f[3]).into_iter().max().unwrap_or_else(|| number(f[2]));
        let version = match version {
            0x0304 => "13",
            0x0303 => "12",
            other => panic!("version {other:#x}"),
        };
        let sni = if f[4].is_empty() { "i" } else { "d" };
        let mut ciphers = list(f[5]);
        let mut extensions = list(f[6]);
        let alpn = f[7].split(',').next().unwrap_or("");
        let alpn = match (alpn.chars().next(), alpn.chars().last()) {
            (Some(a), Some(b)) => format!("{a}{b}"),
            _ => "00".to_string(),
        };
        let a = format!(
            "t{version}{sni}{:02}{:02}{alpn}",
            ciphers.len().min(99),
            extensions.len().min(99)
        );
        ciphers.sort_unstable();
        extensions.retain(|&e| e != 0x0000 && e != 0x0010);
        extensions.sort_unstable();
        let sig = hex4(&list(f[8])).join(",");
        let mut c = hex4(&extensions).join(",");
        if !sig.is_empty() {
            c = format!("{c}_{sig}");
        }
        let ja4 = format!("{a}_{}_{}", sha12(&hex4(&ciphers).join(",")), sha12(&c));
        let hello = TsharkHello {
            ja3: f[1].to_string(),
            ja4,
            segments: f[9].parse().unwrap_or(1),
        };
        hellos.insert(f[0].parse().unwrap(), hello);
    }
    hellos
}

/// `openssl s_server` in side b on [`TLS_PORT`] (`-www`), with an EC P-256 key and a
/// self-signed certificate made in `dir`. Returns the server and its `ADDR:PORT`.
fn tls_server(pair: &NetnsPair, dir: &Path) -> (Proc, String) {
    let (key, cert) = (dir.join("key.pem"), dir.join("cert.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
        .args(["ec_paramgen_curve:P-256", "-nodes", "-days", "2"])
        .args(["-subj", "/CN=probe-test.example", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl req: {}", text(&out));
    let accept = format!("{}:{TLS_PORT}", pair.b.addr);
    let server = Proc::start(
        &pair.b,
        &[
            "openssl",
            "s_server",
            "-accept",
            &accept,
            "-cert",
            cert.to_str().unwrap(),
            "-key",
            key.to_str().unwrap(),
            "-alpn",
            "h2,http/1.1",
            "-www",
        ],
        Stdio::null(),
    );
    wait_listening(pair, &pair.b, true, TLS_PORT);
    (server, accept)
}

#[test]
fn tls_hellos_of_openssl_are_seen_as_sent() {
    require_netns!("openssl", "timeout", "ss");
    let oracle = netns::on_path("tshark") && netns::on_path("dumpcap");
    if !oracle {
        assert!(
            std::env::var_os("CI").is_none(),
            "tshark is not installed (CI is set)"
        );
        eprintln!("tshark not installed: JA3 and JA4 only checked for their form");
    }
    let pair = NetnsPair::new("tls");
    let dir = tempfile::tempdir().unwrap();
    let (_server, accept) = tls_server(&pair, dir.path());
    let pcap = dir.path().join("tls.pcapng");
    let mut conns = [
        TlsConn {
            sni: "probe-test.example",
            args: &[],
            ja4_version: "13",
            small_mtu: false,
            version: String::new(),
            cipher: String::new(),
        },
        TlsConn {
            sni: "tls12.probe-test.example",
            args: &["-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305"],
            ja4_version: "12",
            small_mtu: false,
            version: String::new(),
            cipher: String::new(),
        },
        TlsConn {
            sni: "aes128.probe-test.example",
            args: &["-ciphersuites", "TLS_AES_128_GCM_SHA256"],
            ja4_version: "13",
            small_mtu: false,
            version: String::new(),
            cipher: String::new(),
        },
        TlsConn {
            sni: "segments.probe-test.example",
            args: &[],
            ja4_version: "13",
            small_mtu: true,
            version: String::new(),
            cipher: String::new(),
        },
    ];
    let (rows, stderr, kernel) = capture(&pair, || {
        // tshark's view, from the other end of the veth.
        let dumpcap = oracle.then(|| {
            let p = Proc::start(
                &pair.a,
                &["dumpcap", "-q", "-i", "veth0", "-w", pcap.to_str().unwrap()],
                Stdio::null(),
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while std::fs::metadata(&pcap).map_or(0, |m| m.len()) == 0 {
                assert!(Instant::now() < deadline, "dumpcap did not start");
                std::thread::sleep(Duration::from_millis(50));
            }
            // The file's header is written before the capture opens.
            std::thread::sleep(Duration::from_millis(300));
            p
        });
        for c in &mut conns {
            if c.small_mtu {
                let route = ["route", "replace", "198.18.0.0/24", "dev", "veth0"];
                let out = pair.exec(
                    &pair.a,
                    &[
                        &["ip"][..],
                        &route,
                        &["src", "198.18.0.1", "mtu", "lock", "256"],
                    ]
                    .concat(),
                );
                assert!(out.status.success(), "ip route: {}", text(&out));
            }
            let mut args = vec!["openssl", "s_client", "-connect", &accept];
            args.extend(["-servername", c.sni, "-alpn", "h2,http/1.1"]);
            args.extend(c.args);
            let out = client(&pair, &args);
            let shown = text(&out);
            let (version, cipher) = negotiated(&shown)
                .unwrap_or_else(|| panic!("s_client {:?} negotiated nothing:\n{shown}", c.args));
            (c.version, c.cipher) = (version, cipher);
        }
        if let Some(p) = dumpcap {
            std::thread::sleep(Duration::from_millis(300));
            // SAFETY: kill with a pid we spawned and have not reaped.
            unsafe { libc::kill(p.0.id() as i32, libc::SIGTERM) };
            p.wait_output(Duration::from_secs(10));
        }
    });
    // What s_client said it negotiated.
    let reported: Vec<(&str, &str)> = conns
        .iter()
        .map(|c| (c.version.as_str(), c.cipher.as_str()))
        .collect();
    assert_eq!(reported[1], ("1.2", "cca9"), "s_client -tls1_2 -cipher");
    assert_eq!(reported[2], ("1.3", "1301"), "s_client -ciphersuites");
    assert_eq!(reported[0].0, "1.3");
    assert_eq!(
        reported[3], reported[0],
        "the same offer over small segments"
    );
    let hellos = if oracle {
        tshark_hellos(&pcap)
    } else {
        BTreeMap::new()
    };
    check_capture(
        &rows,
        &stderr,
        kernel,
        conns.len() as u64,
        &[("tls", 2 * conns.len() as u64)],
    );
    let server = (pair.b.addr.to_string(), TLS_PORT);
    let client_addr = pair.a.addr.to_string();
    let mut ja3s = Vec::new();
    for c in &conns {
        let hello = the_only(&rows, c.sni, |r| r["tls_sni"] == c.sni);
        let port = port_of(hello, "sport");
        let from_client = direction(&rows, 6, (&client_addr, port), (&server.0, server.1));
        let fingerprints = assert_seen(
            &from_client,
            &[
                ("app", "tls"),
                ("tls_sni", c.sni),
                ("tls_alpn", "h2,http/1.1"),
            ],
            &["ja3", "ja4"],
            "the client's direction",
        );
        let (ja3, ja4) = (&fingerprints["ja3"], &fingerprints["ja4"]);
        assert!(
            ja3.len() == 32
                && ja3
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "JA3 {ja3:?}"
        );
        let parts: Vec<&str> = ja4.split('_').collect();
        assert!(
            parts.len() == 3
                && parts[0].len() == 10
                && parts[0].starts_with(&format!("t{}d", c.ja4_version))
                && parts[0].ends_with("h2")
                && parts[0].as_bytes()[4..8].iter().all(u8::is_ascii_digit)
                && parts[1..]
                    .iter()
                    .all(|p| p.len() == 12 && p.bytes().all(|b| b.is_ascii_hexdigit())),
            "JA4 {ja4:?}"
        );
        if oracle {
            let theirs = hellos
                .get(&port)
                .unwrap_or_else(|| panic!("tshark saw no ClientHello from port {port}"));
            assert_eq!(ja3, &theirs.ja3, "JA3 against tshark ({})", c.sni);
            assert_eq!(
                ja4, &theirs.ja4,
                "JA4 against the one computed from tshark's fields ({})",
                c.sni
            );
            assert_eq!(
                theirs.segments > 1,
                c.small_mtu,
                "{}: the ClientHello came in {} segments",
                c.sni,
                theirs.segments
            );
        }
        ja3s.push(ja3.clone());
        let from_server = direction(&rows, 6, (&server.0, server.1), (&client_addr, port));
        assert_seen(
            &from_server,
            &[
                ("app", "tls"),
                ("tls_version", &c.version),
                ("tls_cipher", &c.cipher),
            ],
            &[],
            "the server's direction",
        );
    }
    ja3s.sort();
    ja3s.dedup();
    // The first and last connections offer the same: one JA3 for both.
    assert_eq!(ja3s.len(), 3, "three different offers, three JA3s");
    assert_eq!(
        rows.len(),
        2 * conns.len(),
        "a record a direction: {rows:?}"
    );
    if oracle {
        assert_eq!(hellos.len(), conns.len(), "tshark's ClientHellos");
    }
}

// ---------------------------------------------------------------------------------
// DNS

const DNS_PORT: u16 = 5300;

/// The responder: over UDP and TCP (length-prefixed), answers `probe-name.example` A
/// with two addresses, any other type of it with none (NOERROR), and any other name
/// NXDOMAIN. Exits after 120 s.
const DNS_RESPONDER: &str = r#"
import socket, struct, sys, threading, time
addr, port = sys.argv[1], int(sys.argv[2])
A = {"probe-name.example": ["198.18.7.1", "198.18.7.2"]}
def answer(q):
    tid, flags = struct.unpack("!HH", q[:4])
    i, labels = 12, []
    while q[i]:
        labels.append(q[i + 1:i + 1 + q[i]].decode())
        i += 1 + q[i]
    qtype = struct.unpack("!H", q[i + 1:i + 3])[0]
    name = ".".join(labels).lower()
    rcode = 0 if name in A else 3
    addrs = A.get(name, []) if qtype == 1 else []
    head = struct.pack("!HHHHHH", tid, 0x8480 | (flags & 0x0100) | rcode, 1, len(addrs), 0, 0)
    body = q[12:i + 5]
    for a in addrs:
        body += b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(a)
    return head + body
def tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(4)
    while True:
        c, _ = s.accept()
        c.settimeout(5)
        f = c.makefile("rb")
        n = struct.unpack("!H", f.read(2))[0]
        r = answer(f.read(n))
        c.sendall(struct.pack("!H", len(r)) + r)
        c.close()
threading.Thread(target=tcp, daemon=True).start()
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind((addr, port))
end = time.time() + 120
while time.time() < end:
    u.settimeout(max(0.1, end - time.time()))
    try:
        q, peer = u.recvfrom(4096)
    except socket.timeout:
        break
    u.sendto(answer(q), peer)
"#;

#[test]
fn dns_queries_of_dig_and_their_answers_are_seen_as_sent() {
    require_netns!("python3", "dig", "timeout", "ss");
    let pair = NetnsPair::new("dns");
    let port = DNS_PORT.to_string();
    let server_addr = pair.b.addr.to_string();
    let _responder = Proc::start(
        &pair.b,
        &["python3", "-c", DNS_RESPONDER, &server_addr, &port],
        Stdio::null(),
    );
    wait_listening(&pair, &pair.b, false, DNS_PORT);
    wait_listening(&pair, &pair.b, true, DNS_PORT);
    // (name, type, over TCP, qtype, rcode, answers as dig shows them)
    let queries = [
        ("probe-name.example", "A", false, "1", "NOERROR", "2"),
        (
            "missing.probe-name.example",
            "A",
            false,
            "1",
            "NXDOMAIN",
            "0",
        ),
        ("probe-name.example", "TXT", false, "16", "NOERROR", "0"),
        ("probe-name.example", "A", true, "1", "NOERROR", "2"),
    ];
    let at = format!("@{server_addr}");
    let (rows, stderr, kernel) = capture(&pair, || {
        for &(name, qtype, tcp, _, rcode, answers) in &queries {
            let transport = if tcp { "+tcp" } else { "+notcp" };
            let out = client(
                &pair,
                &[
                    "dig", &at, "-p", &port, name, qtype, transport, "+tries=1", "+time=3",
                ],
            );
            let shown = text(&out);
            // dig's own reading of the answer: what the responder sent.
            assert!(
                shown.contains(&format!("status: {rcode}"))
                    && shown.contains(&format!("ANSWER: {answers},")),
                "dig {name} {qtype}:\n{shown}"
            );
        }
    });
    let client_addr = pair.a.addr.to_string();
    check_capture(
        &rows,
        &stderr,
        kernel,
        queries.len() as u64,
        &[("dns", 2 * queries.len() as u64)],
    );
    for &(name, _, tcp, qtype, rcode, answers) in &queries {
        let proto = if tcp { 6 } else { 17 };
        let query = the_only(&rows, name, |r| {
            r["dns_qname"] == name
                && r["dns_qtype"] == qtype
                && r["dport"] == port
                && r["proto"] == proto.to_string()
        });
        let sport = port_of(query, "sport");
        let from_client = direction(
            &rows,
            proto,
            (&client_addr, sport),
            (&server_addr, DNS_PORT),
        );
        assert_seen(
            &from_client,
            &[("app", "dns"), ("dns_qname", name), ("dns_qtype", qtype)],
            &[],
            "the query",
        );
        let from_server = direction(
            &rows,
            proto,
            (&server_addr, DNS_PORT),
            (&client_addr, sport),
        );
        let rcode = if rcode == "NOERROR" { "0" } else { "3" };
        assert_seen(
            &from_server,
            &[
                ("app", "dns"),
                ("dns_qname", name),
                ("dns_qtype", qtype),
                ("dns_rcode", rcode),
                ("dns_answers", answers),
            ],
            &[],
            "the response",
        );
    }
    assert_eq!(
        rows.len(),
        2 * queries.len(),
        "a record a direction: {rows:?}"
    );
}

// ---------------------------------------------------------------------------------
// HTTP

const HTTP_PORT: u16 = 8080;

/// `python3 -m http.server` in side b on [`HTTP_PORT`], serving `root`, which gets one
/// file: `/some/path`.
fn http_server(pair: &NetnsPair, root: &Path) -> Proc {
    std::fs::create_dir_all(root.join("some")).unwrap();
    std::fs::write(root.join("some/path"), "served\n").unwrap();
    let server = Proc::start(
        &pair.b,
        &[
            "python3",
            "-m",
            "http.server",
            &HTTP_PORT.to_string(),
            "--bind",
            &pair.b.addr.to_string(),
            "--directory",
            root.to_str().unwrap(),
        ],
        Stdio::null(),
    );
    wait_listening(pair, &pair.b, true, HTTP_PORT);
    server
}

#[test]
fn http_requests_of_curl_and_their_responses_are_seen_as_sent() {
    require_netns!("python3", "curl", "timeout", "ss");
    let pair = NetnsPair::new("htp");
    let root = tempfile::tempdir().unwrap();
    let _server = http_server(&pair, root.path());
    let server_addr = pair.b.addr.to_string();
    let host = format!("{server_addr}:{HTTP_PORT}");
    // (method, target, status); enough connections that both workers get some.
    let numbered: Vec<String> = (0..13).map(|n| format!("/some/path?n={n}")).collect();
    let mut requests = vec![
        ("GET", "/some/path?x=1", "200"),
        ("GET", "/not/here", "404"),
        ("POST", "/some/path", "501"),
    ];
    requests.extend(numbered.iter().map(|t| ("GET", t.as_str(), "200")));
    let agent = "flowprobe-live/1.0";
    let (rows, stderr, kernel, page) = capture_with(&pair, &[], true, || {
        for &(method, target, status) in &requests {
            let url = format!("http://{host}{target}");
            let mut args = vec!["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}"];
            args.extend(["-A", agent, "--max-time", "10"]);
            if method == "POST" {
                args.extend(["--data", "a=1"]);
            }
            args.push(&url);
            let out = client(&pair, &args);
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                status,
                "curl {method} {url}: {}",
                text(&out)
            );
        }
    });
    let client_addr = pair.a.addr.to_string();
    check_capture(
        &rows,
        &stderr,
        kernel,
        requests.len() as u64,
        &[("http", 2 * requests.len() as u64)],
    );
    // Each connection is inspected once, by one of the two workers, and both had some:
    // the fanout hash kept each connection's directions together (two directions on two
    // workers would be two connections).
    let inspected = per_worker(&page, "flowprobe_inspect_connections_total");
    assert_eq!(
        inspected.values().sum::<u64>(),
        requests.len() as u64,
        "{page}"
    );
    assert!(
        inspected.len() == 2 && inspected.values().all(|&n| n > 0),
        "connections inspected by worker: {inspected:?}"
    );
    for &(method, target, status) in &requests {
        let request = the_only(&rows, target, |r| r["http_target"] == target);
        let sport = port_of(request, "sport");
        let from_client = direction(&rows, 6, (&client_addr, sport), (&server_addr, HTTP_PORT));
        assert_seen(
            &from_client,
            &[
                ("app", "http"),
                ("http_method", method),
                ("http_target", target),
                ("http_host", &host),
                ("http_user_agent", agent),
            ],
            &[],
            "the request",
        );
        let from_server = direction(&rows, 6, (&server_addr, HTTP_PORT), (&client_addr, sport));
        assert_seen(
            &from_server,
            &[("app", "http"), ("http_status", status)],
            &[],
            "the response",
        );
    }
    assert_eq!(
        rows.len(),
        2 * requests.len(),
        "a record a direction: {rows:?}"
    );
}

// ---------------------------------------------------------------------------------
// SSH

const SSH_PORT: u16 = 2222;
const SSH_SERVER_BANNER: &str = "SSH-2.0-FlowprobeLiveTest_1.0 no sshd here";

/// A stand-in server: sends its banner, reads the client's banner and first binary
/// packet (its KEXINIT, RFC 4253 sections 4.2, 6, 7.1), prints the banner and the HASSH
/// (MD5 of kex;encryption c2s;mac c2s;compression c2s) tab-separated, and closes.
const SSH_SERVER: &str = r#"
import hashlib, socket, struct, sys
addr, port, banner = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(1)
s.settimeout(30)
c, _ = s.accept()
c.settimeout(10)
c.sendall(banner.encode() + b"\r\n")
f = c.makefile("rb")
line = f.readline().rstrip(b"\r\n").decode()
length = struct.unpack("!I", f.read(4))[0]
packet = f.read(length)
payload = packet[1:length - packet[0]]
assert payload[0] == 20, "not a KEXINIT"
i, lists = 17, []
for _ in range(10):
    n = struct.unpack("!I", payload[i:i + 4])[0]
    lists.append(payload[i + 4:i + 4 + n].decode())
    i += 4 + n
hassh = hashlib.md5(";".join([lists[0], lists[2], lists[4], lists[6]]).encode()).hexdigest()
print(line + "\t" + hassh, flush=True)
c.close()
"#;

#[test]
fn ssh_banners_and_hassh_of_the_ssh_client_are_seen_as_sent() {
    require_netns!("python3", "ssh", "timeout", "ss");
    let pair = NetnsPair::new("ssh");
    let server_addr = pair.b.addr.to_string();
    let port = SSH_PORT.to_string();
    let server = Proc::start(
        &pair.b,
        &[
            "python3",
            "-c",
            SSH_SERVER,
            &server_addr,
            &port,
            SSH_SERVER_BANNER,
        ],
        Stdio::piped(),
    );
    wait_listening(&pair, &pair.b, true, SSH_PORT);
    let mut server_saw = String::new();
    let (rows, stderr, kernel) = capture(&pair, || {
        let out = client(
            &pair,
            &[
                "ssh",
                "-F",
                "/dev/null",
                "-p",
                &port,
                "-o",
                "BatchMode=yes",
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
                "-o",
                "ConnectTimeout=5",
                &format!("probe@{server_addr}"),
                "true",
            ],
        );
        // The server closes after the KEXINIT: ssh fails, having sent what we read.
        assert!(!out.status.success(), "ssh: {}", text(&out));
        server_saw = server.wait_output(Duration::from_secs(15));
    });
    let (client_banner, hassh) = server_saw
        .trim_end()
        .split_once('\t')
        .unwrap_or_else(|| panic!("the stand-in server read no KEXINIT: {server_saw:?}"));
    assert!(
        client_banner.starts_with("SSH-2.0-OpenSSH"),
        "{client_banner}"
    );
    // Banners of both sides and the client's KEXINIT.
    check_capture(&rows, &stderr, kernel, 1, &[("ssh", 3)]);
    let client_addr = pair.a.addr.to_string();
    let hello = the_only(&rows, "the client's banner", |r| {
        !r["ssh_client"].is_empty()
    });
    let sport = port_of(hello, "sport");
    let from_client = direction(&rows, 6, (&client_addr, sport), (&server_addr, SSH_PORT));
    assert_seen(
        &from_client,
        &[
            ("app", "ssh"),
            ("ssh_client", client_banner),
            ("hassh", hassh),
        ],
        &[],
        "the client's direction",
    );
    let from_server = direction(&rows, 6, (&server_addr, SSH_PORT), (&client_addr, sport));
    assert_seen(
        &from_server,
        &[("app", "ssh"), ("ssh_server", SSH_SERVER_BANNER)],
        &[],
        "the server's direction",
    );
    assert_eq!(rows.len(), 2, "a record a direction: {rows:?}");
}

// ---------------------------------------------------------------------------------
// Biflow

/// `--biflow`: a connection is one row, which carries what both halves showed (server
/// name and fingerprints from the client's, version and cipher from the server's; the
/// request from the client's, the status from the server's).
#[test]
fn biflow_rows_carry_what_both_directions_showed() {
    require_netns!("openssl", "python3", "curl", "timeout", "ss");
    let pair = NetnsPair::new("bif");
    let dir = tempfile::tempdir().unwrap();
    let (_tls, accept) = tls_server(&pair, dir.path());
    let root = tempfile::tempdir().unwrap();
    let _http = http_server(&pair, root.path());
    let url = format!("http://{}:{HTTP_PORT}/some/path?x=1", pair.b.addr);
    let agent = "flowprobe-live/1.0";
    let mut negotiated_tls = None;
    let (rows, stderr, kernel, _) = capture_with(&pair, &["--biflow"], false, || {
        let out = client(
            &pair,
            &[
                "openssl",
                "s_client",
                "-connect",
                &accept,
                "-servername",
                "probe-test.example",
                "-alpn",
                "h2,http/1.1",
            ],
        );
        negotiated_tls = negotiated(&text(&out));
        let out = client(
            &pair,
            &["curl", "-sS", "-o", "/dev/null", "-A", agent, &url],
        );
        assert!(out.status.success(), "curl: {}", text(&out));
    });
    let (version, cipher) = negotiated_tls.expect("s_client negotiated");
    check_capture(&rows, &stderr, kernel, 2, &[("tls", 2), ("http", 2)]);
    assert_eq!(rows.len(), 2, "a row a connection: {rows:?}");
    let (client_addr, server_addr) = (pair.a.addr.to_string(), pair.b.addr.to_string());
    let tls = direction(&rows, 6, (&client_addr, 0), (&server_addr, TLS_PORT));
    let fingerprints = assert_seen(
        &tls,
        &[
            ("app", "tls"),
            ("tls_sni", "probe-test.example"),
            ("tls_alpn", "h2,http/1.1"),
            ("tls_version", &version),
            ("tls_cipher", &cipher),
        ],
        &["ja3", "ja4"],
        "the TLS connection's row",
    );
    assert_eq!(fingerprints.len(), 2, "JA3 and JA4: {fingerprints:?}");
    let http = direction(&rows, 6, (&client_addr, 0), (&server_addr, HTTP_PORT));
    let host = format!("{server_addr}:{HTTP_PORT}");
    assert_seen(
        &http,
        &[
            ("app", "http"),
            ("http_method", "GET"),
            ("http_target", "/some/path?x=1"),
            ("http_host", &host),
            ("http_user_agent", agent),
            ("http_status", "200"),
        ],
        &[],
        "the HTTP connection's row",
    );
    for r in &rows {
        assert!(r["reverse_packets"].parse::<u64>().unwrap() > 0, "{r:?}");
    }
}
