//! `flowprobe run` end to end, in network namespaces made by the test.
//!
//! Side a (198.18.0.1) sends UDP datagrams of known size to side b (198.18.0.2); the
//! built binary captures on b's veth with two workers, writes CSV, and is stopped with
//! SIGTERM. The records it wrote must add up to exactly what was sent. Needs root; without
//! it the tests print "skipped" (and fail when `CI` is set).

#[path = "common/netns.rs"]
#[macro_use]
mod netns;

use std::collections::BTreeMap;
use std::net::{SocketAddrV4, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use netns::NetnsPair;

const SERVER_PORT: u16 = 9000;
const PAYLOAD: usize = 100;
/// IPv4 20 + UDP 8 + payload.
const IP_LEN: u64 = 20 + 8 + PAYLOAD as u64;

/// The probe, running inside a namespace; killed if the test ends early.
struct Probe {
    child: Child,
    output: std::path::PathBuf,
    /// The probe's directory, removed with the probe (or kept by `stop_keeping_dir`).
    dir: Option<tempfile::TempDir>,
}

impl Probe {
    fn start(pair: &NetnsPair, args: &[&str]) -> Probe {
        Probe::start_to(pair, "flows.csv", args)
    }

    /// With the output `name` (a file, or a `--rotate` pattern) in the probe's directory.
    fn start_to(pair: &NetnsPair, name: &str, args: &[&str]) -> Probe {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join(name);
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &pair.b.ns,
                env!("CARGO_BIN_EXE_flowprobe"),
                "run",
                "-i",
                &pair.b.ifname,
            ])
            .args(["-f", "csv", "-o"])
            .arg(&output)
            .args(args)
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting flowprobe run");
        // Let the rings come up before traffic starts.
        std::thread::sleep(Duration::from_millis(700));
        Probe {
            child,
            output,
            dir: Some(dir),
        }
    }

    /// SIGTERM, then wait (bounded) for a clean exit; returns the CSV and stderr.
    fn stop(self) -> (String, String) {
        let (csv, stderr, _dir) = self.stop_keeping_dir();
        (csv, stderr)
    }

    /// As `stop`, handing over the probe's directory with what it wrote.
    fn stop_keeping_dir(mut self) -> (String, String, tempfile::TempDir) {
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
        use std::io::Read;
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
            self.dir
                .take()
                .expect("the directory is kept until the probe stops"),
        )
    }

    fn csv_so_far(&self) -> String {
        std::fs::read_to_string(&self.output).unwrap_or_default()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `per_flow` datagrams on each of `flows` flows from side a, at about `pps`.
/// Returns the truth per direction: (src, dst) -> (packets, octets).
fn send(
    pair: &NetnsPair,
    flows: u16,
    per_flow: u32,
    pps: u32,
) -> BTreeMap<(String, String), (u64, u64)> {
    let to = SocketAddrV4::new(pair.b.addr, SERVER_PORT);
    let from = pair.a.addr;
    pair.run_in(&pair.a, || {
        let sockets: Vec<UdpSocket> = (0..flows)
            .map(|f| UdpSocket::bind(SocketAddrV4::new(from, 20_000 + f)).unwrap())
            .collect();
        let start = Instant::now();
        let mut sent = 0u64;
        for _ in 0..per_flow {
            for s in &sockets {
                s.send_to(&[0x5a; PAYLOAD], to).unwrap();
                sent += 1;
                let due = Duration::from_secs_f64(sent as f64 / f64::from(pps));
                if let Some(wait) = due.checked_sub(start.elapsed()) {
                    std::thread::sleep(wait);
                }
            }
        }
    });
    let total = u64::from(flows) * u64::from(per_flow);
    BTreeMap::from([(
        (pair.a.addr.to_string(), pair.b.addr.to_string()),
        (total, total * IP_LEN),
    )])
}

type Totals = BTreeMap<(String, String), (u64, u64)>;
type Rows = Vec<BTreeMap<String, String>>;

/// Per-direction totals of the UDP records to the test port, from the CSV.
fn totals(csv: &str) -> (Totals, Rows) {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let rows: Vec<BTreeMap<String, String>> = lines
        .map(|l| {
            header
                .iter()
                .map(|h| h.to_string())
                .zip(l.split(',').map(String::from))
                .collect()
        })
        .filter(|r: &BTreeMap<String, String>| {
            r["proto"] == "17" && r["dport"] == SERVER_PORT.to_string()
        })
        .collect();
    let mut t = BTreeMap::new();
    for r in &rows {
        let e: &mut (u64, u64) = t.entry((r["src"].clone(), r["dst"].clone())).or_default();
        e.0 += r["packets"].parse::<u64>().unwrap();
        e.1 += r["bytes"].parse::<u64>().unwrap();
    }
    (t, rows)
}

fn totals_equal_truth(backend: &str) {
    require_netns!();
    let pair = NetnsPair::new("run");
    let probe = Probe::start(&pair, &["--threads", "2", "--backend", backend]);
    // 64 flows, 20,000 datagrams/s for 3 s.
    let truth = send(&pair, 64, 940, 20_000);
    std::thread::sleep(Duration::from_millis(500));
    let (csv, stderr) = probe.stop();
    let (measured, rows) = totals(&csv);
    assert_eq!(measured, truth, "per-direction totals; stderr:\n{stderr}");
    assert_eq!(rows.len(), 64, "one record a flow");
    assert!(rows.iter().all(|r| r["end_reason"] == "forced_end"));
    assert!(
        stderr.contains("kernel drops                     0"),
        "{stderr}"
    );
}

#[test]
fn af_packet_two_workers_count_every_packet() {
    totals_equal_truth("af-packet");
}

#[cfg(feature = "libpcap")]
#[test]
fn libpcap_two_workers_count_every_packet() {
    totals_equal_truth("libpcap");
}

#[test]
fn sampling_one_in_ten_meters_a_tenth() {
    require_netns!();
    let pair = NetnsPair::new("smp");
    let probe = Probe::start(&pair, &["--threads", "2", "--sample", "10"]);
    let truth = send(&pair, 20, 500, 20_000);
    std::thread::sleep(Duration::from_millis(500));
    let (csv, stderr) = probe.stop();
    let (measured, _) = totals(&csv);
    let sent = truth.values().next().unwrap().0;
    let metered = measured.values().next().map_or(0, |v| v.0);
    // Count-based per worker: each worker keeps the 1st of every 10 it sees, so the total
    // is within one packet per worker of a tenth (other traffic on the veth aside).
    assert!(
        metered.abs_diff(sent / 10) <= 2,
        "metered {metered} of {sent}; stderr:\n{stderr}"
    );
    assert!(stderr.contains("sampled out"), "{stderr}");
}

#[test]
fn idle_flows_expire_on_time_without_traffic() {
    require_netns!();
    let pair = NetnsPair::new("idl");
    let probe = Probe::start(&pair, &["--threads", "2", "--idle-timeout", "2s"]);
    send(&pair, 10, 5, 1000);
    let sent_at = Instant::now();
    // Idle timeout 2 s, the tick lag and a flush of the text output: well within 5 s.
    let mut rows = Vec::new();
    while sent_at.elapsed() < Duration::from_secs(8) {
        rows = totals(&probe.csv_so_far()).1;
        if rows.len() == 10 {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let waited = sent_at.elapsed();
    assert_eq!(
        rows.len(),
        10,
        "records exported while the probe runs, with no traffic"
    );
    assert!(rows.iter().all(|r| r["end_reason"] == "idle"));
    assert!(
        waited >= Duration::from_secs(2),
        "not before the idle timeout: {waited:?}"
    );
    assert!(waited <= Duration::from_secs(5), "expired late: {waited:?}");
    let (csv, _) = probe.stop();
    assert_eq!(totals(&csv).1.len(), 10, "nothing more at shutdown");
}

/// Sums a counter family over all its rows in a Prometheus text page.
/// The Prometheus page of a probe listening on 127.0.0.1:`port` in side b's namespace.
fn metrics_page(pair: &NetnsPair, port: u16) -> String {
    pair.run_in(&pair.b, || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("endpoint up");
        s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
        let mut page = String::new();
        s.read_to_string(&mut page).unwrap();
        page
    })
}

fn metric_sum(page: &str, name: &str) -> u64 {
    page.lines()
        .filter(|l| l.starts_with(&format!("{name}{{")))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

#[test]
fn prometheus_counters_follow_the_capture() {
    require_netns!();
    let pair = NetnsPair::new("prm");
    let probe = Probe::start(
        &pair,
        &["--threads", "2", "--prometheus-listen", "127.0.0.1:9109"],
    );
    let scrape = || {
        pair.run_in(&pair.b, || {
            use std::io::{Read, Write};
            let mut s = std::net::TcpStream::connect("127.0.0.1:9109").expect("endpoint up");
            s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
            let mut page = String::new();
            s.read_to_string(&mut page).unwrap();
            page
        })
    };
    let before = metric_sum(&scrape(), "flowprobe_packets_metered_total");
    send(&pair, 10, 200, 10_000);
    // Workers publish about every 100 ms.
    std::thread::sleep(Duration::from_millis(600));
    let page = scrape();
    let after = metric_sum(&page, "flowprobe_packets_metered_total");
    assert!(
        after >= before + 2000,
        "metered {before} -> {after}:\n{page}"
    );
    assert_eq!(metric_sum(&page, "flowprobe_kernel_drops_total"), 0);
    assert!(
        page.contains("flowprobe_flows_active{worker=\"1\""),
        "{page}"
    );
    probe.stop();
}

/// nfcapd inside side b's namespace, on its loopback.
struct NamespaceNfcapd {
    child: Child,
    dir: tempfile::TempDir,
    port: u16,
}

impl NamespaceNfcapd {
    fn start(pair: &NetnsPair, port: u16) -> NamespaceNfcapd {
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &pair.b.ns, "nfcapd", "-w"])
            .arg(dir.path())
            .args(["-p", &port.to_string(), "-b", "127.0.0.1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting nfcapd");
        std::thread::sleep(Duration::from_millis(500));
        NamespaceNfcapd { child, dir, port }
    }

    /// Stops nfcapd and returns nfdump's per-direction totals (src, dst) of UDP to the
    /// test port.
    fn stop_and_read(mut self) -> BTreeMap<(String, String), (u64, u64)> {
        // SAFETY: kill with a pid we spawned and have not reaped.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        self.child.wait().unwrap();
        let out = Command::new("nfdump")
            .args(["-R"])
            .arg(self.dir.path())
            .args(["-q", "-N", "-o", "fmt:%sa|%da|%sp|%dp|%pr|%pkt|%byt"])
            .output()
            .expect("nfdump");
        assert!(
            out.status.success(),
            "nfdump: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut t = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let f: Vec<&str> = line.split('|').map(str::trim).collect();
            if f.len() == 7 && (f[4] == "UDP" || f[4] == "17") && f[3] == SERVER_PORT.to_string() {
                let e: &mut (u64, u64) = t.entry((f[0].to_string(), f[1].to_string())).or_default();
                e.0 += f[5].parse::<u64>().unwrap();
                e.1 += f[6].parse::<u64>().unwrap();
            }
        }
        t
    }
}

impl Drop for NamespaceNfcapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn have(tool: &str) -> bool {
    let ok = Command::new(tool).arg("-h").output().is_ok();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{tool} is not installed (CI is set)"
        );
        eprintln!("skipped: {tool} not installed");
    }
    ok
}

fn ipfix_to_nfcapd_equals_truth(backend: &str) {
    require_netns!();
    if !have("nfcapd") {
        return;
    }
    let pair = NetnsPair::new("nfc");
    let nfcapd = NamespaceNfcapd::start(&pair, 4739);
    let collector = format!("ipfix://127.0.0.1:{}", nfcapd.port);
    let probe = Probe::start(
        &pair,
        &[
            "--threads",
            "2",
            "--backend",
            backend,
            "--collector",
            &collector,
            "--prometheus-listen",
            "127.0.0.1:9110",
        ],
    );
    // 64 flows, 20,000 datagrams/s for 3 s.
    let truth = send(&pair, 64, 940, 20_000);
    std::thread::sleep(Duration::from_millis(500));
    let page = metrics_page(&pair, 9110);
    let (_, stderr) = probe.stop();
    let stored = nfcapd.stop_and_read();
    assert_eq!(
        stored, truth,
        "per-direction totals in nfcapd; stderr:\n{stderr}"
    );
    // Both workers metered some of the flows (and `rows == 64` in the CSV test shows no
    // flow is split over two workers).
    for worker in ["0", "1"] {
        let metered: u64 = page
            .lines()
            .filter(|l| {
                l.starts_with(&format!(
                    "flowprobe_packets_metered_total{{worker=\"{worker}\""
                ))
            })
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum();
        assert!(metered > 0, "worker {worker} metered nothing:\n{page}");
    }
}

#[test]
fn af_packet_ipfix_to_nfcapd_equals_truth() {
    ipfix_to_nfcapd_equals_truth("af-packet");
}

#[cfg(feature = "libpcap")]
#[test]
fn libpcap_ipfix_to_nfcapd_equals_truth() {
    ipfix_to_nfcapd_equals_truth("libpcap");
}

#[test]
fn sampling_is_announced_in_the_ipfix_options_record() {
    require_netns!();
    if !have("tshark") {
        return;
    }
    let pair = NetnsPair::new("ann");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.ipfix");
    let probe = Probe::start(
        &pair,
        &[
            "--sample",
            "random:16",
            "--ipfix-file",
            file.to_str().unwrap(),
        ],
    );
    send(&pair, 4, 100, 4000);
    probe.stop();
    let out = Command::new("tshark")
        .args(["-r"])
        .arg(&file)
        .args([
            "-T",
            "fields",
            "-e",
            "cflow.sampling_interval",
            "-e",
            "cflow.sampling_packet_interval",
            "-e",
            "cflow.sampling_packet_space",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // Random 1-in-16: samplingInterval (IE 34) 16 with samplingAlgorithm (IE 35) random.
    assert!(
        text.lines().any(|l| l.split('\t').next() == Some("16")),
        "no 1-in-16 sampling announcement in the IPFIX file:\n{text}"
    );
}

/// Cloud traffic mirroring, for real: a VXLAN tunnel (VNI 42) from side a to side b, the
/// probe on b's veth with `--decap vxlan`. The datagrams sent inside the tunnel
/// (198.19.0.1 -> 198.19.0.2, also in 198.18.0.0/15) must be metered exactly, and the
/// VXLAN packets addressed to the probe's host must not be a flow of their own.
#[test]
fn vxlan_to_the_probe_is_decapsulated_and_not_metered_as_an_outer_flow() {
    require_netns!();
    let pair = NetnsPair::new("vxl");
    let inner = |host: u8| std::net::Ipv4Addr::new(198, 19, 0, host);
    for (side, peer, host, peer_host) in [(&pair.a, &pair.b, 1, 2), (&pair.b, &pair.a, 2, 1)] {
        let run = |args: &[&str]| {
            let out = Command::new("ip")
                .args(["-n", &side.ns])
                .args(args)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "ip {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        let (local, remote) = (side.addr.to_string(), peer.addr.to_string());
        run(&[
            "link",
            "add",
            "vx42",
            "type",
            "vxlan",
            "id",
            "42",
            "local",
            &local,
            "remote",
            &remote,
            "dstport",
            "4789",
            "dev",
            &side.ifname,
        ]);
        run(&["addr", "add", &format!("{}/24", inner(host)), "dev", "vx42"]);
        run(&["link", "set", "vx42", "up"]);
        // A static neighbour: no ARP inside the tunnel.
        run(&[
            "neigh",
            "replace",
            &inner(peer_host).to_string(),
            "lladdr",
            &format!("02:00:c6:13:00:{peer_host:02x}"),
            "dev",
            "vx42",
            "nud",
            "permanent",
        ]);
        run(&[
            "link",
            "set",
            "vx42",
            "address",
            &format!("02:00:c6:13:00:{host:02x}"),
        ]);
    }
    let probe = Probe::start(&pair, &["--threads", "2", "--decap", "vxlan"]);
    let to = SocketAddrV4::new(inner(2), SERVER_PORT);
    pair.run_in(&pair.a, || {
        let s = UdpSocket::bind(SocketAddrV4::new(inner(1), 20_000)).unwrap();
        for _ in 0..500 {
            s.send_to(&[0x5a; PAYLOAD], to).unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    let (csv, stderr) = probe.stop();
    let (measured, _) = totals(&csv);
    assert_eq!(
        measured,
        BTreeMap::from([(
            (inner(1).to_string(), inner(2).to_string()),
            (500, 500 * IP_LEN)
        )]),
        "stderr:\n{stderr}"
    );
    assert!(
        !csv.lines().any(|l| l.contains(",4789,")),
        "an outer VXLAN flow was metered:\n{csv}"
    );
    assert!(stderr.contains("from vxlan"), "{stderr}");
}

/// What the live sFlow test reads from a datagram: (sub-agent, uptime ms, flow samples
/// as (source, sample pool), counter samples as (source, ifInOctets, ifInUcastPkts)).
type SflowDatagram = (u32, u32, Vec<(u32, u32)>, Vec<(u32, u64, u32)>);

/// Walks an sFlow v5 datagram with an IPv4 agent address (the layout is checked against
/// tshark, sfcapd and sfacctd in `tests/export/sflow.rs`; this reads the few fields the
/// live test needs).
fn read_sflow(d: &[u8]) -> SflowDatagram {
    let w = |i: usize| u32::from_be_bytes(d[i..i + 4].try_into().unwrap());
    assert_eq!((w(0), w(4)), (5, 1), "sFlow v5, IPv4 agent");
    let (sub_agent, uptime, count) = (w(12), w(20), w(24));
    let (mut flows, mut counters) = (Vec::new(), Vec::new());
    let mut at = 28;
    for _ in 0..count {
        let (format, len) = (w(at), w(at + 4) as usize);
        let s = at + 8;
        match format {
            3 => flows.push((w(s + 8), w(s + 16))),
            4 => {
                // seq, source type, index, record count, record format, length, ifIndex,
                // ifType, ifSpeed (8), direction, status: ifInOctets at +48.
                let octets = (u64::from(w(s + 48)) << 32) | u64::from(w(s + 52));
                counters.push((w(s + 8), octets, w(s + 56)));
            }
            other => panic!("unexpected sample format {other}"),
        }
        at = s + len;
    }
    assert_eq!(at, d.len(), "samples fill the datagram");
    (sub_agent, uptime, flows, counters)
}

#[test]
fn sflow_samples_and_kernel_counters_live() {
    require_netns!();
    let pair = NetnsPair::new("sfl");
    // The collector: a socket on the namespace's loopback.
    let collector = pair.run_in(&pair.b, || {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        s
    });
    let port = collector.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sflow.toml");
    std::fs::write(&config, "[sflow]\npolling_interval = \"2s\"\n").unwrap();
    let url = format!("sflow://127.0.0.1:{port}?rate=10");
    // The kernel's counters of b's veth, read inside the namespace (its own /sys).
    let kernel = |name: &str| -> u64 {
        let path = format!("/sys/class/net/{}/statistics/{name}", pair.b.ifname);
        let out = pair.exec(&pair.b, &["cat", &path]);
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    let (before, frames_before) = (kernel("rx_bytes"), kernel("rx_packets"));
    let receiver = std::thread::spawn(move || {
        let mut datagrams = Vec::new();
        let mut buf = [0u8; 65536];
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(11) {
            if let Ok(n) = collector.recv(&mut buf) {
                datagrams.push(buf[..n].to_vec());
            }
        }
        datagrams
    });
    let probe = Probe::start(
        &pair,
        &[
            "--threads",
            "2",
            "-c",
            config.to_str().unwrap(),
            "--collector",
            &url,
            "--prometheus-listen",
            "127.0.0.1:9111",
        ],
    );
    // 64 flows, 20,000 datagrams/s for 3 s.
    let truth = send(&pair, 64, 940, 20_000);
    // Two more polling intervals after the last packet.
    std::thread::sleep(Duration::from_millis(4500));
    let (after, frames_after) = (kernel("rx_bytes"), kernel("rx_packets"));
    let page = metrics_page(&pair, 9111);
    let (_, stderr) = probe.stop();
    let datagrams: Vec<SflowDatagram> = receiver
        .join()
        .unwrap()
        .iter()
        .map(|d| read_sflow(d))
        .collect();
    let packets = truth.values().map(|v| v.0).sum::<u64>() as f64;

    // Flow samples: about one in ten, the pools of both sub-agents adding up to the frames
    // the probe read (ours, and any other the interface carried either way), less at most
    // the tail after each one's last sample.
    let frames: f64 = stderr
        .lines()
        .find_map(|l| l.strip_prefix("packets read"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no packets read in the summary: {stderr}"));
    assert!(frames >= packets && frames_after - frames_before >= packets as u64);
    let flows: Vec<(u32, u32, u32)> = datagrams
        .iter()
        .flat_map(|(sub, _, f, _)| f.iter().map(move |&(src, pool)| (*sub, src, pool)))
        .collect();
    let samples = flows.len() as f64;
    let expected = packets / 10.0;
    let sd = (packets * 9.0 / 300.0).sqrt();
    assert!(
        (samples - expected).abs() < 5.0 * sd,
        "{samples} samples of {packets} packets; stderr:\n{stderr}"
    );
    // Prometheus, read after the traffic: every sample taken was sent.
    assert_eq!(
        metric_sum(&page, "flowprobe_sflow_samples_taken_total") as f64,
        samples,
        "{page}"
    );
    assert!(
        metric_sum(&page, "flowprobe_sflow_datagrams_total") > 0,
        "{page}"
    );
    assert_eq!(metric_sum(&page, "flowprobe_sflow_send_errors_total"), 0);
    let mut last_pool = BTreeMap::new();
    for &(sub, _, pool) in &flows {
        let last = last_pool.entry(sub).or_insert(0);
        assert!(pool > *last, "sub-agent {sub}: pools grow");
        *last = pool;
    }
    assert_eq!(last_pool.len(), 2, "two workers, two sub-agents");
    let pooled: u32 = last_pool.values().sum();
    assert!(
        f64::from(pooled) <= frames && f64::from(pooled) > packets - 2.0 * 5.0 * 20.0,
        "pools {pooled} of {frames} frames ({packets} sent)"
    );
    let if_index: std::collections::BTreeSet<u32> = flows.iter().map(|f| f.1).collect();
    assert_eq!(if_index.len(), 1, "one data source: the interface");

    // Counter samples: every 2 s (on the exporter's ticks, a second apart), from the
    // kernel's counters of the same interface.
    let counters: Vec<(u32, u32, u64)> = datagrams
        .iter()
        .flat_map(|(_, up, _, c)| c.iter().map(move |&(src, octets, _)| (*up, src, octets)))
        .collect();
    assert!(counters.len() >= 3, "counter samples: {counters:?}");
    for pair_of in counters.windows(2) {
        let gap = pair_of[1].0 - pair_of[0].0;
        assert!(
            (1000..=3000).contains(&gap),
            "polling gap {gap} ms: {counters:?}"
        );
        assert!(pair_of[1].2 >= pair_of[0].2, "octets never fall");
    }
    assert!(counters.iter().all(|c| if_index.contains(&c.1)));
    assert!(counters.iter().all(|c| (before..=after).contains(&c.2)));
    // Polled after the traffic: the kernel's count then, exactly.
    assert_eq!(counters.last().unwrap().2, after, "{counters:?}");
    assert!(after - before >= truth.values().map(|v| v.1).sum::<u64>());
}

/// `--rotate 2s` live: files cut on the wall clock's 2-second boundaries, each closed
/// (renamed from `.part`) within about a second of its boundary while the probe runs, and
/// together they hold every packet sent.
#[test]
fn rotated_output_closes_a_file_each_window_of_wall_time() {
    require_netns!();
    let pair = NetnsPair::new("rot");
    let probe = Probe::start_to(
        &pair,
        "flows-%s.csv",
        &[
            "--rotate",
            "2s",
            "--idle-timeout",
            "1s",
            "--udp-idle-timeout",
            "1s",
        ],
    );
    let dir = probe.output.parent().unwrap().to_path_buf();
    let named = |dir: &std::path::Path| -> Vec<(u64, std::path::PathBuf)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| {
                let p = e.unwrap().path();
                let name = p.file_name()?.to_str()?.to_string();
                let secs = name
                    .strip_prefix("flows-")?
                    .strip_suffix(".csv")?
                    .parse()
                    .ok()?;
                Some((secs, p))
            })
            .collect();
        v.sort();
        v
    };
    // Three bursts of new flows 2.5 s apart: their records end (idle, 1 s) in different
    // windows.
    let mut truth = (0u64, 0u64);
    for _ in 0..3 {
        let sent = send(&pair, 8, 50, 4000);
        let t = sent.values().next().unwrap();
        truth.0 += t.0;
        truth.1 += t.1;
        std::thread::sleep(Duration::from_millis(2500));
    }
    let closed_while_running = named(&dir);
    let (_, stderr, _kept) = probe.stop_keeping_dir();
    let files = named(&dir);
    assert!(
        closed_while_running.len() >= 2,
        "windows closed while running: {closed_while_running:?}; stderr:\n{stderr}"
    );
    let mut sum = (0u64, 0u64);
    for (secs, path) in &files {
        assert_eq!(secs % 2, 0, "{path:?}: windows start on even seconds");
        let text = std::fs::read_to_string(path).unwrap();
        let (t, rows) = totals(&text);
        for r in &rows {
            // Whole seconds of the record's end, from its RFC 3339 time: the file of the
            // window from `secs` holds records that ended before `secs + 2`.
            let end = &r["end"];
            let ended = Command::new("date")
                .args(["-u", "-d", end, "+%s"])
                .output()
                .unwrap();
            let ended: u64 = String::from_utf8_lossy(&ended.stdout)
                .trim()
                .parse()
                .unwrap();
            assert!(
                ended < secs + 2,
                "{path:?} holds a record that ended at {end}"
            );
        }
        for v in t.values() {
            sum.0 += v.0;
            sum.1 += v.1;
        }
    }
    assert_eq!(
        sum, truth,
        "every packet in some window's file; stderr:\n{stderr}"
    );
    assert!(
        !std::fs::read_dir(&dir).unwrap().any(|e| e
            .unwrap()
            .path()
            .extension()
            .is_some_and(|x| x == "part")),
        "no .part file after a clean stop"
    );
}
