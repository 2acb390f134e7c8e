//! `flowprobe run --inspect tcp,splt` live: handshake RTT under a known delay, and
//! retransmissions and out-of-order segments under a known loss, against tshark on the
//! same interface (issue 15, "Live").
//!
//! The path. A client in namespace a (198.18.0.1) talks TCP to a server in namespace b
//! (198.18.0.2); the built binary captures on a's or b's veth with AF_PACKET, one worker
//! and two (two probes on each interface at once, on the same connection), writes CSV and
//! is stopped with SIGTERM. Delay and loss are made in one of two ways:
//!
//! - In the middle of the path (always): a third namespace m holds the other ends of
//!   both veths and a link emulator written here in Python that bridges them frame by
//!   frame over AF_PACKET, delaying and dropping each direction as `netem delay` /
//!   `netem loss` would on that direction's egress. This kernel has no `sch_netem`
//!   (`CONFIG_NET_SCH_NETEM is not set`, no modules, no modprobe), nor has CI's machine
//!   (the same kind), so this is what runs here. The delay being between the capture
//!   points, a probe on the client's side sees it in `server_rtt_us` (SYN to SYN-ACK),
//!   a probe on the server's side in `client_rtt_us` (SYN-ACK to ACK).
//! - `tc qdisc ... netem` on a veth end of a direct pair (when the kernel has netem;
//!   otherwise these tests print "skipped" and pass, also under `CI`). AF_PACKET sees an
//!   outgoing packet after the qdisc (dev_queue_xmit_nit is called from
//!   dev_hard_start_xmit), so a delay on the server's egress delays the SYN-ACK as both
//!   capture points see it: `server_rtt_us` ~ 20 ms on both sides, and a delay on the
//!   client's egress is `client_rtt_us` on both sides.
//!
//! The oracle. `dumpcap` (tshark's capture engine) records the same interface as each
//! probe from before the first packet to after the last; both must report no drops and
//! the same packet count. tshark's frame times of the SYN, SYN-ACK and ACK give the
//! two RTTs (the probe and dumpcap read the same kernel timestamp of each frame, so they
//! must agree within a microsecond), and tshark's tcp.analysis flags counted per
//! direction must equal the probe's `retransmissions` (retransmission or
//! fast_retransmission) and `out_of_order`, summed over the direction's records. On a
//! failure the captures and the CSV are kept under /tmp (the message says where). The
//! emulator runs at real-time priority (chrt), and an RTT attempt whose path tshark saw
//! delayed by more than the slack (a busy machine) is made again, at most three times.
//!
//! Needs root, ip, ethtool, python3, dumpcap and tshark (and tc for the netem tests);
//! without them a test prints "skipped" (and fails when `CI` is set).

#[path = "common/netns.rs"]
#[macro_use]
mod netns;

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A CSV row: column name to value.
type Row = BTreeMap<String, String>;

/// The `tcp` group's columns (shape contract), then the `splt` group's.
const TCP_COLUMNS: [&str; 11] = [
    "server_rtt_us",
    "client_rtt_us",
    "payload_bytes",
    "retransmissions",
    "out_of_order",
    "zero_windows",
    "tcp_mss",
    "tcp_wscale",
    "tcp_sack_ok",
    "tcp_timestamps",
    "tcp_options",
];
const SPLT_COLUMNS: [&str; 9] = [
    "splt",
    "iat_min_us",
    "iat_mean_us",
    "iat_max_us",
    "iat_stddev_us",
    "len_min",
    "len_mean",
    "len_max",
    "len_stddev",
];

/// The delay put on the path, and the slack allowed above it (the emulator is a Python
/// process on a shared machine; netem's timer is not exact either).
const DELAY_MS: u32 = 20;
const DELAY_SLACK_US: u64 = 15_000;
/// What the side without the delay may show: a round trip through two veths and a
/// TCP stack (and the emulator's forwarding, without delay).
const SMALL_US: u64 = 5_000;

const SERVER_PORT: u16 = 5001;

// ---------------------------------------------------------------------------------
// Tools

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a command, panicking with its output when it fails.
fn must(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", text(&out));
    out
}

fn ip(args: &[&str]) -> Output {
    must(Command::new("ip").args(args))
}

// ---------------------------------------------------------------------------------
// The path: namespaces, veths, the emulator or netem

/// How delay and loss are put on the path.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Via {
    /// The Python link emulator in a middle namespace.
    Emulator,
    /// `tc qdisc add dev veth0 root netem` on the sending side's veth (a direct pair).
    Netem,
}

/// Delay (ms) and loss (fraction) of each direction: index 0 client to server, 1 back.
#[derive(Clone, Copy, Debug)]
struct Impairment {
    delay_ms: [u32; 2],
    loss: [f64; 2],
}

/// The link emulator: bridges two interfaces frame by frame over AF_PACKET (frames the
/// socket itself sent, PACKET_OUTGOING, are skipped), each direction through its own
/// delay and loss (seeded: the same frames are dropped on every run of the same
/// traffic, timing aside). Prints "ready" once both sockets are bound, and its counts on
/// SIGTERM.
const EMULATOR: &str = r#"
import heapq, random, select, signal, socket, sys, time
names = sys.argv[1:3]
delay = [float(sys.argv[3]) / 1000, float(sys.argv[4]) / 1000]
loss = [float(sys.argv[5]), float(sys.argv[6])]
rng = random.Random(int(sys.argv[7]))
socks = []
for name in names:
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind((name, 0))
    socks.append(s)
forwarded, dropped = [0, 0], [0, 0]
def report(*_):
    print("forwarded %d %d dropped %d %d" % (forwarded[0], forwarded[1], dropped[0], dropped[1]), flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, report)
print("ready", flush=True)
queue, seq = [], 0
while True:
    timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
    readable, _, _ = select.select(socks, [], [], timeout)
    for i, s in enumerate(socks):
        if s not in readable:
            continue
        frame, addr = s.recvfrom(65536)
        if addr[2] == socket.PACKET_OUTGOING:
            continue
        if rng.random() < loss[i]:
            dropped[i] += 1
            continue
        heapq.heappush(queue, (time.monotonic() + delay[i], seq, i, frame))
        seq += 1
    now = time.monotonic()
    while queue and queue[0][0] <= now:
        _, _, i, frame = heapq.heappop(queue)
        socks[1 - i].send(frame)
        forwarded[i] += 1
"#;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Client namespace a and server namespace b, each with `veth0`, joined directly (netem)
/// or through namespace m (the emulator). Names follow tests/common/netns.rs
/// (`fpt-<pid>-<n>-<letter>-<tag>`), so a namespace left by a killed test process is
/// swept by the next `NetnsPair::new`. Drop kills every process in them and deletes
/// them, which deletes the veths and their qdiscs.
struct Path3 {
    a: netns::Side,
    b: netns::Side,
    middle: Option<String>,
    emulator: Option<Child>,
}

impl Path3 {
    fn new(tag: &str, via: Via, imp: Impairment) -> Path3 {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let name = |letter: &str| format!("fpt-{pid}-{n}-{letter}-{tag}");
        let side = |letter: &str, host: u8| netns::Side {
            ns: name(letter),
            ifname: "veth0".to_string(),
            addr: Ipv4Addr::new(198, 18, 0, host),
            mac: [0x02, 0x00, 0xc6, 0x12, 0x00, host],
        };
        // Built before anything exists so that a failure half-way is cleaned up by Drop.
        let mut path = Path3 {
            a: side("a", 1),
            b: side("b", 2),
            middle: (via == Via::Emulator).then(|| name("m")),
            emulator: None,
        };
        for ns in path.namespaces() {
            ip(&["netns", "add", &ns]);
            must(
                Command::new("ip")
                    .args(["netns", "exec", &ns, "sh", "-c"])
                    .arg(
                        "echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6 && \
                 echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6",
                    ),
            );
            ip(&["-n", &ns, "link", "set", "dev", "lo", "up"]);
        }
        let (a, b) = (path.a.clone(), path.b.clone());
        match &path.middle {
            None => {
                ip(&[
                    "link", "add", "veth0", "netns", &a.ns, "type", "veth", "peer", "name",
                    "veth0", "netns", &b.ns,
                ]);
            }
            Some(m) => {
                for (s, end) in [(&a, "m0"), (&b, "m1")] {
                    ip(&[
                        "link", "add", "veth0", "netns", &s.ns, "type", "veth", "peer", "name",
                        end, "netns", m,
                    ]);
                    ip(&["-n", m, "link", "set", "dev", end, "up", "promisc", "on"]);
                    must(Command::new("ip").args(["netns", "exec", m]).args([
                        "ethtool", "-K", end, "gro", "off", "gso", "off", "tso", "off",
                    ]));
                }
            }
        }
        for (s, peer) in [(&a, &b), (&b, &a)] {
            s.configure(peer);
            // No merged super-frames; and checksums filled in by the stack, since the
            // emulator's frames reach the peer as new frames, not as the veth's own
            // CHECKSUM_PARTIAL skbs (without `tx off` the peer drops them all).
            must(Command::new("ip").args(["netns", "exec", &s.ns]).args([
                "ethtool", "-K", "veth0", "gro", "off", "gso", "off", "tso", "off", "tx", "off",
            ]));
        }
        match via {
            Via::Emulator => path.start_emulator(imp),
            Via::Netem => {
                for (dir, s) in [(0, &a), (1, &b)] {
                    if imp.delay_ms[dir] == 0 && imp.loss[dir] == 0.0 {
                        continue;
                    }
                    let delay = format!("{}ms", imp.delay_ms[dir]);
                    let loss = format!("{}%", imp.loss[dir] * 100.0);
                    must(Command::new("ip").args(["netns", "exec", &s.ns]).args([
                        "tc", "qdisc", "add", "dev", "veth0", "root", "netem", "delay", &delay,
                        "loss", &loss,
                    ]));
                }
            }
        }
        path
    }

    fn namespaces(&self) -> Vec<String> {
        let mut v = vec![self.a.ns.clone(), self.b.ns.clone()];
        v.extend(self.middle.clone());
        v
    }

    fn start_emulator(&mut self, imp: Impairment) {
        let m = self.middle.clone().expect("a middle namespace");
        // Real-time priority, when chrt is there: the emulator sleeps in select() and
        // must wake on time on a busy machine.
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &m]);
        if netns::on_path("chrt") {
            cmd.args(["chrt", "-f", "50"]);
        }
        let mut child = cmd
            .args(["python3", "-c", EMULATOR, "m0", "m1"])
            .args([
                imp.delay_ms[0].to_string(),
                imp.delay_ms[1].to_string(),
                imp.loss[0].to_string(),
                imp.loss[1].to_string(),
                "15".to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starting the link emulator");
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap())
            .read_line(&mut line)
            .unwrap();
        self.emulator = Some(child);
        assert_eq!(line.trim(), "ready", "the link emulator did not start");
    }

    /// Stops the emulator and returns what it printed: frames forwarded and dropped in
    /// each direction.
    fn stop_emulator(&mut self) -> String {
        let Some(mut child) = self.emulator.take() else {
            return "netem".to_string();
        };
        // SAFETY: kill with a pid we spawned and have not reaped.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let mut out = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        let _ = child.wait();
        out.trim().to_string()
    }

    fn exec(&self, side: &netns::Side, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &side.ns])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("running ip netns exec")
    }
}

impl Drop for Path3 {
    fn drop(&mut self) {
        if let Some(mut child) = self.emulator.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in self.namespaces() {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    if let Ok(pid) = pid.parse::<i32>() {
                        // SAFETY: kill has no memory preconditions; the pid lives in a
                        // namespace this test created.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
            }
            let _ = Command::new("ip")
                .args(["netns", "del", &ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Whether `tc ... netem` works in this kernel: tried on a throwaway namespace's
/// loopback. Returns the reason when it does not.
fn netem_unavailable() -> Option<String> {
    let ns = format!(
        "fpt-{}-{}-n-netem",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    ip(&["netns", "add", &ns]);
    let out = Command::new("ip")
        .args([
            "netns", "exec", &ns, "tc", "qdisc", "add", "dev", "lo", "root",
        ])
        .args(["netem", "delay", "1ms"])
        .output()
        .expect("running tc");
    let _ = Command::new("ip").args(["netns", "del", &ns]).status();
    (!out.status.success()).then(|| {
        format!(
            "tc netem does not work here ({}): the kernel lacks sch_netem",
            text(&out).trim()
        )
    })
}

// ---------------------------------------------------------------------------------
// The probe, dumpcap, the traffic

/// `flowprobe run -i veth0 --inspect tcp,splt` in `side`'s namespace, writing CSV.
struct Probe {
    child: Child,
    output: PathBuf,
    what: String,
}

impl Probe {
    fn start(side: &netns::Side, threads: u32, dir: &Path, what: &str) -> Probe {
        let output = dir.join(format!("{what}.csv"));
        let child = Command::new("ip")
            .args(["netns", "exec", &side.ns, env!("CARGO_BIN_EXE_flowprobe")])
            .args(["run", "-i", &side.ifname, "--backend", "af-packet"])
            .args(["--threads", &threads.to_string(), "--ring-blocks", "16"])
            .args(["--inspect", "tcp,splt", "-f", "csv", "-o"])
            .arg(&output)
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting flowprobe run");
        Probe {
            child,
            output,
            what: what.to_string(),
        }
    }

    /// SIGTERM, then wait (bounded) for a clean exit; returns the rows and stderr.
    fn stop(mut self) -> (Vec<Row>, String) {
        // SAFETY: kill with a pid we spawned and have not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let status = wait_bounded(&mut self.child, "flowprobe", Duration::from_secs(20));
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(
            status.success(),
            "flowprobe run ({}) exited with {status}: {stderr}",
            self.what
        );
        let csv = std::fs::read_to_string(&self.output).unwrap_or_default();
        (parse_csv(&csv, &self.what), stderr)
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_bounded(child: &mut Child, what: &str, limit: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{what} did not stop within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// dumpcap on `side`'s veth0, writing `pcap`.
struct Dumpcap {
    child: Child,
    pcap: PathBuf,
}

impl Dumpcap {
    fn start(side: &netns::Side, pcap: PathBuf) -> Dumpcap {
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &side.ns,
                "dumpcap",
                "-q",
                "-i",
                &side.ifname,
            ])
            // A kernel buffer of 64 MiB (the default 2 MiB drops frames of a 4 MB burst
            // when the machine is busy), as the probe's rings hold 16 MiB a worker.
            .args(["-B", "64"])
            .arg("-w")
            .arg(&pcap)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting dumpcap");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&pcap).map_or(0, |m| m.len()) == 0 {
            assert!(Instant::now() < deadline, "dumpcap did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Dumpcap { child, pcap }
    }

    /// SIGTERM; returns (packets received, dropped) from dumpcap's closing line
    /// "Packets received/dropped on interface 'veth0': N/D (...)".
    fn stop(mut self) -> (u64, u64) {
        // SAFETY: kill with a pid we spawned and have not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        wait_bounded(&mut self.child, "dumpcap", Duration::from_secs(10));
        let mut err = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let counts = err
            .lines()
            .find_map(|l| l.strip_prefix("Packets received/dropped on interface "))
            .and_then(|l| l.split(": ").nth(1))
            .and_then(|l| l.split_whitespace().next())
            .and_then(|l| l.split_once('/'))
            .and_then(|(r, d)| Some((r.parse().ok()?, d.parse().ok()?)));
        counts.unwrap_or_else(|| panic!("no counts from dumpcap ({:?}): {err}", self.pcap))
    }
}

impl Drop for Dumpcap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The server, in b: accepts one connection, reads until the client's FIN, answers
/// "got N" and closes.
const SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2])))
s.listen(1)
s.settimeout(60)
print("listening", flush=True)
c, _ = s.accept()
c.settimeout(60)
n = 0
while True:
    d = c.recv(1 << 16)
    if not d:
        break
    n += len(d)
c.sendall(b"got %d\n" % n)
c.close()
"#;

/// The client, in a: one connection, sends N bytes, half-closes, prints the answer.
const CLIENT: &str = r#"
import socket, sys
c = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
n, chunk, sent = int(sys.argv[3]), b"\x5a" * 65536, 0
while sent < n:
    k = min(len(chunk), n - sent)
    c.sendall(chunk[:k])
    sent += k
c.shutdown(socket.SHUT_WR)
answer = b""
while True:
    d = c.recv(100)
    if not d:
        break
    answer += d
print(answer.decode().strip(), flush=True)
"#;

/// One TCP connection from a to b carrying `bytes` bytes, checked end to end.
fn transfer(path: &Path3, bytes: u64) {
    let server_addr = path.b.addr.to_string();
    let port = SERVER_PORT.to_string();
    let mut server = Command::new("ip")
        .args(["netns", "exec", &path.b.ns, "python3", "-c", SERVER])
        .args([&server_addr, &port])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("starting the server");
    let mut line = String::new();
    BufReader::new(server.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "listening", "the server did not start");
    let out = path.exec(
        &path.a,
        &[
            "timeout",
            "90",
            "python3",
            "-c",
            CLIENT,
            &server_addr,
            &port,
            &bytes.to_string(),
        ],
    );
    let _ = server.kill();
    let _ = server.wait();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("got {bytes}"),
        "the transfer: {}",
        text(&out)
    );
}

// ---------------------------------------------------------------------------------
// CSV and tshark

/// RFC 4180: fields in double quotes may hold commas, line ends and doubled quotes.
fn parse_csv(text: &str, what: &str) -> Vec<Row> {
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
    assert!(
        !quoted && field.is_empty(),
        "{what}: the CSV ends mid-record"
    );
    let mut records = records.into_iter();
    let header = records
        .next()
        .unwrap_or_else(|| panic!("{what}: no CSV header"));
    for name in TCP_COLUMNS.iter().chain(&SPLT_COLUMNS) {
        assert!(
            header.iter().any(|h| h == name),
            "{what}: no column {name}: {header:?}"
        );
    }
    records
        .map(|r| {
            assert_eq!(
                r.len(),
                header.len(),
                "{what}: a row of {} fields: {r:?}",
                r.len()
            );
            header.iter().cloned().zip(r).collect()
        })
        .collect()
}

/// A direction: (source address, source port).
type End = (String, u16);

/// The TCP rows from `src`, keyed by direction.
fn tcp_rows(rows: &[Row]) -> BTreeMap<End, Vec<&Row>> {
    let mut by = BTreeMap::<End, Vec<&Row>>::new();
    for r in rows.iter().filter(|r| r["proto"] == "6") {
        by.entry((r["src"].clone(), r["sport"].parse().unwrap()))
            .or_default()
            .push(r);
    }
    by
}

/// tshark's `-T fields` lines for `filter` over `pcap`, split on tabs.
fn tshark_fields(pcap: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-r").arg(pcap).args(["-Y", filter, "-T", "fields"]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = must(&mut cmd);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

/// Per direction (source address, port), how many frames tshark flags with `filter`.
fn tshark_count(pcap: &Path, filter: &str) -> BTreeMap<End, u64> {
    let mut by = BTreeMap::new();
    for f in tshark_fields(pcap, filter, &["ip.src", "tcp.srcport"]) {
        *by.entry((f[0].clone(), f[1].parse().unwrap())).or_insert(0) += 1;
    }
    by
}

/// `frame.time_epoch` ("1765000000.123456789") as nanoseconds.
fn epoch_ns(s: &str) -> i128 {
    let (secs, frac) = s.split_once('.').unwrap_or((s, ""));
    let frac = format!("{frac:0<9}");
    secs.parse::<i128>().unwrap() * 1_000_000_000 + frac[..9].parse::<i128>().unwrap()
}

/// (server RTT, client RTT) in µs, rounded, from tshark's frame times of the capture's
/// one handshake: the last SYN, the last SYN-ACK, and the first ACK from the client
/// after it without SYN.
fn tshark_rtts(pcap: &Path) -> (u64, u64) {
    let frames = tshark_fields(
        pcap,
        "tcp",
        &[
            "frame.time_epoch",
            "tcp.flags.syn",
            "tcp.flags.ack",
            "ip.src",
        ],
    );
    let is = |f: &Vec<String>, syn: &str, ack: &str| {
        let flag = |v: &str| if v == "1" || v == "True" { "1" } else { "0" };
        flag(&f[1]) == syn && flag(&f[2]) == ack
    };
    let (mut syn, mut synack, mut ack) = (None, None, None);
    for f in &frames {
        let t = epoch_ns(&f[0]);
        if is(f, "1", "0") {
            syn = Some(t);
        } else if is(f, "1", "1") {
            synack = Some(t);
        } else if synack.is_some() && ack.is_none() && is(f, "0", "1") && f[3] == "198.18.0.1" {
            ack = Some(t);
        }
    }
    let (syn, synack, ack) = (
        syn.expect("tshark: a SYN"),
        synack.expect("tshark: a SYN-ACK"),
        ack.expect("tshark: the handshake's ACK"),
    );
    let us = |ns: i128| ((ns + 500) / 1000) as u64;
    (us(synack - syn), us(ack - synack))
}

/// A directory under /tmp for the captures and CSVs: removed when the test passes,
/// kept (and named in the failure) when it panics.
struct Evidence(PathBuf);

impl Evidence {
    fn new(tag: &str) -> Evidence {
        let dir = std::env::temp_dir().join(format!(
            "flowprobe-live-tcp-{tag}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Evidence(dir)
    }
}

impl Drop for Evidence {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "kept for inspection: {} (pcaps, the probes' CSVs)",
                self.0.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn number(row: &Row, column: &str, what: &str) -> u64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{what}: {column} is {:?} in {row:?}", row[column]))
}

/// The stderr summary's `packets read` and `kernel drops`.
fn summary_counts(stderr: &str) -> (u64, u64) {
    let find = |key: &str| -> u64 {
        stderr
            .lines()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {key} in the summary: {stderr}"))
    };
    (find("packets read"), find("kernel drops"))
}

/// One capture point's results.
struct Seen {
    what: String,
    rows: Vec<Row>,
    pcap: PathBuf,
}

/// Runs the probes (one worker and two on each of a's and b's veth), dumpcap on both,
/// around one connection of `bytes` bytes; checks that each probe and dumpcap saw the
/// same frames with no drop, and returns what each probe wrote with its interface's
/// capture.
fn observe(path: &mut Path3, evidence: &Evidence, bytes: u64) -> Vec<Seen> {
    let dir = &evidence.0;
    let sides = [
        ("client-side", path.a.clone()),
        ("server-side", path.b.clone()),
    ];
    let mut probes = Vec::new();
    for (name, side) in &sides {
        for threads in [1, 2] {
            let what = format!("{name}-{threads}w");
            probes.push((name.to_string(), Probe::start(side, threads, dir, &what)));
        }
    }
    let dumpcaps: Vec<(String, Dumpcap)> = sides
        .iter()
        .map(|(name, side)| {
            let pcap = dir.join(format!("{name}.pcapng"));
            (name.to_string(), Dumpcap::start(side, pcap))
        })
        .collect();
    // Let the rings come up (and dumpcap open its socket after the file header).
    std::thread::sleep(Duration::from_millis(800));
    transfer(path, bytes);
    // The last FIN and ACKs through the emulator's delay.
    std::thread::sleep(Duration::from_millis(500));
    let emulator = path.stop_emulator();
    let mut captured = BTreeMap::new();
    for (name, d) in dumpcaps {
        let pcap = d.pcap.clone();
        let (received, dropped) = d.stop();
        assert_eq!(
            dropped, 0,
            "dumpcap on the {name} veth dropped {dropped} of {received} frames: tshark \
             would not see what the probes saw"
        );
        captured.insert(name, (received, pcap));
    }
    let mut seen = Vec::new();
    for (name, probe) in probes {
        let what = probe.what.clone();
        let (rows, stderr) = probe.stop();
        std::fs::write(dir.join(format!("{what}.stderr")), &stderr).unwrap();
        let (read, drops) = summary_counts(&stderr);
        let (received, pcap) = &captured[&name];
        assert_eq!(drops, 0, "{what}: kernel drops; stderr:\n{stderr}");
        assert_eq!(
            read, *received,
            "{what} read {read} frames, dumpcap on the same interface {received}: they did \
             not see the same packets (neither reports a drop); emulator: {emulator}"
        );
        let metered: u64 = rows.iter().map(|r| number(r, "packets", &what)).sum();
        assert_eq!(
            metered, read,
            "{what}: the rows' packets against the frames read"
        );
        seen.push(Seen {
            what,
            rows,
            pcap: pcap.clone(),
        });
    }
    eprintln!("emulator: {emulator}");
    seen
}

// ---------------------------------------------------------------------------------
// RTT

/// Which RTT the delay must show in at each capture point.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Rtt {
    Server,
    Client,
}

/// One connection under a 20 ms delay; at each probe, both records of the connection
/// carry the same `server_rtt_us` and `client_rtt_us`, the one `expect` names is the
/// delay plus at most the slack, the other is small, and both equal tshark's (frame
/// times of the same interface) within 1 µs.
fn rtt_under_delay(tag: &str, via: Via, imp: Impairment, expect: impl Fn(&str) -> Rtt) {
    // The path itself may be late on a busy machine (the emulator is a process, and CI
    // shares two cores): an attempt whose frames, as tshark times them, are not delayed
    // as asked is made again, up to three times. The probe is held to tshark's times on
    // every attempt.
    let mut late = Vec::new();
    for attempt in 1..=3 {
        let mut path = Path3::new(tag, via, imp);
        let evidence = Evidence::new(tag);
        let seen = observe(&mut path, &evidence, 1000);
        drop(path);
        match rtts_seen(&seen, via, imp, &expect) {
            Ok(()) => return,
            Err(why) => {
                eprintln!("attempt {attempt}: {why}; again");
                late.push(why);
            }
        }
    }
    panic!("the path did not delay as asked in three attempts: {late:#?}");
}

/// The checks of one attempt: Err when the path (tshark's frame times) was not delayed
/// as asked; a panic when the probe is wrong.
fn rtts_seen(
    seen: &[Seen],
    via: Via,
    imp: Impairment,
    expect: &impl Fn(&str) -> Rtt,
) -> Result<(), String> {
    let delay_us = u64::from(DELAY_MS) * 1000;
    let mut checked = Vec::new();
    for s in seen {
        let by = tcp_rows(&s.rows);
        assert_eq!(
            by.len(),
            2,
            "{}: one connection, two directions: {:?}",
            s.what,
            s.rows
        );
        // What the client sent and the server answered ("got 1000\n"), once each.
        for (end, rows) in &by {
            let payload: u64 = rows
                .iter()
                .map(|r| number(r, "payload_bytes", &s.what))
                .sum();
            let sent = if end.1 == SERVER_PORT { 9 } else { 1000 };
            assert_eq!(
                payload, sent,
                "{}: payload_bytes from {end:?}: {rows:?}",
                s.what
            );
        }
        let mut values = Vec::new();
        for r in by.values().flatten() {
            values.push((
                number(r, "server_rtt_us", &s.what),
                number(r, "client_rtt_us", &s.what),
            ));
        }
        values.dedup();
        assert_eq!(
            values.len(),
            1,
            "{}: the connection's records carry different RTTs (server, client): {values:?}",
            s.what
        );
        let (server, client) = values[0];
        let (tshark_server, tshark_client) = tshark_rtts(&s.pcap);
        eprintln!(
            "{} ({via:?}): server_rtt_us {server} client_rtt_us {client}; tshark's frame \
             times {tshark_server} {tshark_client}",
            s.what
        );
        assert!(
            server.abs_diff(tshark_server) <= 1 && client.abs_diff(tshark_client) <= 1,
            "{}: (server_rtt_us, client_rtt_us) = ({server}, {client}), tshark's frame times \
             on the same interface give ({tshark_server}, {tshark_client}) ({})",
            s.what,
            s.pcap.display()
        );
        let side = s.what.split('-').next().unwrap();
        let names = match expect(side) {
            Rtt::Server => ("server_rtt_us", "client_rtt_us"),
            Rtt::Client => ("client_rtt_us", "server_rtt_us"),
        };
        let pick = |server: u64, client: u64| match expect(side) {
            Rtt::Server => (server, client),
            Rtt::Client => (client, server),
        };
        // The path first: tshark sees the delay where this test expects it.
        let (delayed, other) = pick(tshark_server, tshark_client);
        if !(delay_us..=delay_us + DELAY_SLACK_US).contains(&delayed) || other >= SMALL_US {
            return Err(format!(
                "{} ({via:?}, delay {imp:?}): tshark's frame times give {} {delayed} and {} \
                 {other}, expected {delay_us}..={} and below {SMALL_US}",
                s.what,
                names.0,
                names.1,
                delay_us + DELAY_SLACK_US
            ));
        }
        checked.push((s.what.clone(), pick(server, client)));
    }
    for (what, (delayed, other)) in checked {
        let names = match expect(what.split('-').next().unwrap()) {
            Rtt::Server => ("server_rtt_us", "client_rtt_us"),
            Rtt::Client => ("client_rtt_us", "server_rtt_us"),
        };
        assert!(
            (delay_us..=delay_us + DELAY_SLACK_US).contains(&delayed),
            "{what} ({via:?}, delay {imp:?}): {} is {delayed}, expected {delay_us}..={}",
            names.0,
            delay_us + DELAY_SLACK_US
        );
        assert!(
            other < SMALL_US,
            "{what} ({via:?}, delay {imp:?}): {} is {other}, expected below {SMALL_US}",
            names.1
        );
    }
    Ok(())
}

fn is_client_side(side: &str) -> bool {
    side == "client"
}

/// The delay between the capture points, on the server's answers: the client's side
/// sees it between its SYN and the SYN-ACK, the server's side between its SYN-ACK and
/// the ACK.
#[test]
fn a_delay_in_the_path_is_server_rtt_at_the_client_and_client_rtt_at_the_server() {
    require_netns!("python3", "dumpcap", "tshark", "timeout");
    let imp = Impairment {
        delay_ms: [0, DELAY_MS],
        loss: [0.0, 0.0],
    };
    rtt_under_delay("rtb", Via::Emulator, imp, |side| {
        if is_client_side(side) {
            Rtt::Server
        } else {
            Rtt::Client
        }
    });
}

/// The same with the delay on the client's segments: where it is on the path does not
/// matter, only on which side of it the probe captures.
#[test]
fn a_delay_on_the_clients_segments_is_split_the_same_way() {
    require_netns!("python3", "dumpcap", "tshark", "timeout");
    let imp = Impairment {
        delay_ms: [DELAY_MS, 0],
        loss: [0.0, 0.0],
    };
    rtt_under_delay("rta", Via::Emulator, imp, |side| {
        if is_client_side(side) {
            Rtt::Server
        } else {
            Rtt::Client
        }
    });
}

/// `netem delay 20ms` on the server's veth: AF_PACKET sees the SYN-ACK leave after the
/// qdisc, so on both sides it is `server_rtt_us`.
#[test]
fn netem_delay_on_the_servers_egress_is_server_rtt_on_both_sides() {
    require_netns!("python3", "dumpcap", "tshark", "timeout", "tc");
    if let Some(why) = netem_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let imp = Impairment {
        delay_ms: [0, DELAY_MS],
        loss: [0.0, 0.0],
    };
    rtt_under_delay("ntb", Via::Netem, imp, |_| Rtt::Server);
}

/// `netem delay 20ms` on the client's veth: the ACK leaves 20 ms after the SYN-ACK
/// came, on both sides `client_rtt_us`.
#[test]
fn netem_delay_on_the_clients_egress_is_client_rtt_on_both_sides() {
    require_netns!("python3", "dumpcap", "tshark", "timeout", "tc");
    if let Some(why) = netem_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let imp = Impairment {
        delay_ms: [DELAY_MS, 0],
        loss: [0.0, 0.0],
    };
    rtt_under_delay("nta", Via::Netem, imp, |_| Rtt::Client);
}

// ---------------------------------------------------------------------------------
// Loss

/// A transfer of 4 MB from the client under 5% loss of its segments (and 5 ms delay of
/// the server's, so that there is a round trip to retransmit in): at each probe, each
/// direction's `retransmissions` and `out_of_order`, summed over its records, equal
/// tshark's counts on the same interface, and the client's retransmissions are > 0.
fn counts_under_loss(tag: &str, via: Via, imp: Impairment) {
    let mut path = Path3::new(tag, via, imp);
    let evidence = Evidence::new(tag);
    let seen = observe(&mut path, &evidence, 4_000_000);
    let client: End = (path.a.addr.to_string(), 0);
    let mut wrong = Vec::new();
    for s in &seen {
        let by = tcp_rows(&s.rows);
        assert_eq!(
            by.len(),
            2,
            "{}: one connection, two directions: {:?}",
            s.what,
            s.rows
        );
        let retrans = tshark_count(
            &s.pcap,
            "tcp.analysis.retransmission || tcp.analysis.fast_retransmission",
        );
        let ooo = tshark_count(&s.pcap, "tcp.analysis.out_of_order");
        let mut ours = BTreeMap::new();
        let mut theirs = BTreeMap::new();
        for (end, rows) in &by {
            let sum = |c: &str| rows.iter().map(|r| number(r, c, &s.what)).sum::<u64>();
            ours.insert(end.clone(), (sum("retransmissions"), sum("out_of_order")));
            theirs.insert(
                end.clone(),
                (
                    retrans.get(end).copied().unwrap_or(0),
                    ooo.get(end).copied().unwrap_or(0),
                ),
            );
        }
        eprintln!(
            "{} ({via:?}): (retransmissions, out_of_order) by direction: ours {ours:?}, \
             tshark's {theirs:?}",
            s.what
        );
        let from_client = by
            .keys()
            .find(|e| e.0 == client.0)
            .unwrap_or_else(|| panic!("{}: no record from the client", s.what));
        assert!(
            theirs[from_client].0 > 0,
            "{}: tshark counts no retransmission under 5% loss: {theirs:?}",
            s.what
        );
        if ours != theirs {
            // The frames tshark flags spurious (data all acknowledged already), which
            // its retransmission filter matches too: where classifiers most often part.
            let spurious = tshark_count(&s.pcap, "tcp.analysis.spurious_retransmission");
            wrong.push(format!(
                "{}: ours {ours:?}, tshark's {theirs:?} (of which spurious {spurious:?}) in {}",
                s.what,
                s.pcap.display()
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "(retransmissions, out_of_order) per direction, ours against tshark's on the same \
         interface:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn retransmissions_under_loss_in_the_path_equal_tsharks() {
    require_netns!("python3", "dumpcap", "tshark", "timeout");
    let imp = Impairment {
        delay_ms: [0, 5],
        loss: [0.05, 0.0],
    };
    counts_under_loss("los", Via::Emulator, imp);
}

/// 5% loss of the server's ACKs as well: the client retransmits data the server had
/// (its ACK was lost), which tshark flags as spurious retransmissions at the server's
/// side, and `tcp.analysis.retransmission` matches them.
#[test]
fn retransmissions_under_loss_both_ways_equal_tsharks() {
    require_netns!("python3", "dumpcap", "tshark", "timeout");
    let imp = Impairment {
        delay_ms: [0, 5],
        loss: [0.05, 0.05],
    };
    counts_under_loss("lob", Via::Emulator, imp);
}

/// `netem loss 5%` on the client's veth: the dropped segments never reach either
/// capture point (netem drops on enqueue, before the tap).
#[test]
fn retransmissions_under_netem_loss_equal_tsharks() {
    require_netns!("python3", "dumpcap", "tshark", "timeout", "tc");
    if let Some(why) = netem_unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    let imp = Impairment {
        delay_ms: [0, 5],
        loss: [0.05, 0.0],
    };
    counts_under_loss("nls", Via::Netem, imp);
}
