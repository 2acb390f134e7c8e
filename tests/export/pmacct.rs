//! pmacct as a collector we did not write: `sfacctd` receives our sFlow, `nfacctd` our
//! IPFIX and NetFlow v9, each with the print plugin writing per-key CSV (addresses,
//! ports, protocol: packets, bytes), read back when it stops.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::helpers::{free_udp_port, wait_until_bound};
use super::nfcapd::Direction;

/// A running `sfacctd` or `nfacctd` on 127.0.0.1.
pub(super) struct Pmacct {
    child: Child,
    dir: tempfile::TempDir,
    pub(super) port: u16,
}

impl Pmacct {
    /// Starts `daemon` (`sfacctd` or `nfacctd`) on a free loopback port.
    pub(super) fn start(daemon: &str) -> Pmacct {
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_port();
        let prefix = &daemon[..2]; // sfacctd_ip, nfacctd_ip, ...
        let config = format!(
            "daemonize: false\n\
             {prefix}acctd_ip: 127.0.0.1\n\
             {prefix}acctd_port: {port}\n\
             plugins: print\n\
             aggregate: src_host, dst_host, src_port, dst_port, proto\n\
             print_output: csv\n\
             print_output_file: {}/out.csv\n\
             print_output_file_append: true\n\
             print_refresh_time: 1\n",
            dir.path().display()
        );
        let path = dir.path().join("pmacct.conf");
        std::fs::write(&path, config).unwrap();
        let debug = std::env::var_os("PMACCT_DEBUG").is_some();
        let child = Command::new(daemon)
            .arg("-f")
            .arg(&path)
            .stdout(if debug {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stderr(if debug {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {daemon}: {e}"));
        wait_until_bound(daemon, port);
        Pmacct { child, dir, port }
    }

    /// Stops the daemon (SIGINT purges its cache to the file) and returns the totals
    /// per direction 5-tuple: (packets, bytes).
    pub(super) fn stop_and_read(mut self) -> BTreeMap<Direction, (u64, u64)> {
        // Past a refresh and the core's buffering towards the plugin, so what arrived
        // last is in the last purge (SIGINT: SIGTERM was seen not to stop sfacctd).
        std::thread::sleep(Duration::from_millis(2500));
        Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap();
        let text = std::fs::read_to_string(self.dir.path().join("out.csv")).unwrap_or_default();
        let mut m = BTreeMap::new();
        for line in text.lines().filter(|l| !l.starts_with("SRC_IP")) {
            let f: Vec<&str> = line.split(',').collect();
            assert_eq!(f.len(), 7, "unexpected pmacct line `{line}`");
            let proto = match f[4] {
                "tcp" => 6,
                "udp" => 17,
                "icmp" => 1,
                "ipv6-icmp" => 58,
                "sctp" => 132,
                "gre" => 47,
                other => other.parse().unwrap_or_else(|_| panic!("protocol {other}")),
            };
            let key = (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
                f[3].parse().unwrap(),
                proto,
            );
            let e: &mut (u64, u64) = m.entry(key).or_default();
            e.0 += f[5].parse::<u64>().unwrap();
            e.1 += f[6].parse::<u64>().unwrap();
        }
        m
    }
}

/// ICMP keys with their ports folded to 0 (collectors disagree on how ICMP type and code
/// appear as ports; the packets and bytes are what is compared).
pub(super) fn fold_icmp(rows: &BTreeMap<Direction, (u64, u64)>) -> BTreeMap<Direction, (u64, u64)> {
    let mut m = BTreeMap::new();
    for (&(src, dst, sport, dport, proto), v) in rows {
        let key = if matches!(proto, 1 | 58) {
            (src, dst, 0, 0, proto)
        } else {
            (src, dst, sport, dport, proto)
        };
        let e: &mut (u64, u64) = m.entry(key).or_default();
        e.0 += v.0;
        e.1 += v.1;
    }
    m
}

#[test]
fn nfacctd_totals_of_our_ipfix_and_v9_equal_nfdumps() {
    use super::common::write_generated;
    use super::helpers::have_tool;
    use super::nfcapd::{parse_rows, Nfcapd};

    if !have_tool("nfacctd") || !have_tool("nfcapd") || !have_tool("nfdump") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = flowprobe::generate::GenConfig {
        conversations: 800,
        ..Default::default()
    };
    let (capture, _) = write_generated(dir.path(), "pmacct.pcap", &config);
    let nfcapd = Nfcapd::start();
    let ipfix = Pmacct::start("nfacctd");
    let v9 = Pmacct::start("nfacctd");
    let out = Command::new(env!("CARGO_BIN_EXE_flowprobe"))
        .arg("convert")
        .arg(&capture)
        .args(["-q", "--pace", "3000"])
        .args(["--collector", &format!("ipfix://127.0.0.1:{}", nfcapd.port)])
        .args(["--collector", &format!("ipfix://127.0.0.1:{}", ipfix.port)])
        .args(["--collector", &format!("v9://127.0.0.1:{}", v9.port)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "convert failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nfdump = fold_icmp(&parse_rows(&nfcapd.stop_and_read()));
    let packets: u64 = nfdump.values().map(|v| v.0).sum();
    assert!(packets > 1000, "{packets} packets");
    for (name, collector) in [("IPFIX", ipfix), ("NetFlow v9", v9)] {
        let rows = fold_icmp(&collector.stop_and_read());
        assert_eq!(rows.len(), nfdump.len(), "{name}: keys");
        for (key, v) in &nfdump {
            assert_eq!(rows.get(key), Some(v), "{name}: {key:?}");
        }
    }
}
