//! Direction on a SPAN port, end to end: a generated SPAN capture (`generate_span`) with
//! known local subnets, gateway MACs and RSPAN VLANs is converted through the real
//! pipeline, and every flow's direction and interfaces must be what the capture was made
//! to contain: inbound and outbound flows through gateways, RSPAN VLANs and unlisted
//! routers, internal and transit flows with no direction.
//!
//! The truth comes from how each conversation's frames were built (which end is inside),
//! not from the rules, so a rule that misreads its evidence, a wrong precedence, or a
//! pipeline path that skips the rules fails here.

mod common;
#[path = "common/netns.rs"]
#[macro_use]
mod netns;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::Collect;
use flowprobe::config::RawConfig;
use flowprobe::flow::direction::DirectionConfig;
use flowprobe::flow::record::{FlowDirection, FlowRecord};
use flowprobe::generate::{
    generate_span, span_direction_toml, write_span_pcap, GenConfig, SpanCapture, SpanPath,
};
use flowprobe::pipeline::convert::{convert, ConvertOptions};

const OUTSIDE: u32 = 1;
const INSIDE: u32 = 2;

/// The generated SPAN capture in `dir`: 3000 conversations, some with pauses longer than
/// the idle timeout, so some flows end in several records.
fn span_capture(dir: &Path) -> (PathBuf, SpanCapture) {
    let capture = generate_span(&GenConfig {
        seed: 8,
        conversations: 3000,
        ..GenConfig::default()
    });
    let path = dir.join("span.pcap");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    write_span_pcap(&capture, &mut out).unwrap();
    drop(out);
    (path, capture)
}

/// The site's `[direction]` section, with interface numbers, resolved as a config file.
fn site_rules() -> DirectionConfig {
    let text = format!(
        "{}outside_interface = {OUTSIDE}\ninside_interface = {INSIDE}\n",
        span_direction_toml()
    );
    RawConfig::parse(&text, "site.toml")
        .unwrap()
        .resolve()
        .unwrap_or_else(|e| panic!("{e}\n{text}"))
        .direction
}

/// A flow as the capture has it: (source, destination, VLAN, protocol, ports).
type FlowId = (IpAddr, IpAddr, u16, u8, u16, u16);

/// Every flow of the capture with its conversation and true direction, and its packets.
fn truth(capture: &SpanCapture) -> HashMap<FlowId, (usize, FlowDirection, u64)> {
    let mut flows = HashMap::new();
    for p in &capture.packets {
        let s = &capture.conversations[p.conversation as usize];
        let (src, dst) = s.addrs(p.forward);
        let (sport, dport) = s.conversation.key_ports(p.forward);
        let id = (
            src,
            dst,
            s.link(p.forward).vlan,
            s.conversation.proto_number(),
            sport,
            dport,
        );
        let entry = flows
            .entry(id)
            .or_insert((p.conversation as usize, s.direction(p.forward), 0));
        assert_eq!(
            entry.0, p.conversation as usize,
            "two conversations share a flow key: the generator must keep them apart"
        );
        entry.2 += 1;
    }
    flows
}

fn id_of(r: &FlowRecord) -> FlowId {
    let k = &r.key;
    (
        k.src_addr(),
        k.dst_addr(),
        k.vlan,
        k.proto,
        k.src_port,
        k.dst_port,
    )
}

fn run(path: &Path, direction: &DirectionConfig, workers: usize) -> Vec<FlowRecord> {
    let sink = Collect::default();
    let options = ConvertOptions {
        workers,
        direction: direction.clone(),
        ..ConvertOptions::new(vec![path.to_path_buf()])
    };
    let report = convert(&options, vec![Box::new(sink.clone())]).unwrap();
    assert!(report.is_clean(), "{:?}", report.file_errors);
    sink.records()
}

/// The interfaces a record must carry for its direction.
fn interfaces(d: FlowDirection) -> (u32, u32) {
    match d {
        FlowDirection::Ingress => (OUTSIDE, INSIDE),
        FlowDirection::Egress => (INSIDE, OUTSIDE),
        FlowDirection::Unknown => (0, 0), // the pcap's interface, no egress interface
    }
}

/// Checks every record against the truth; returns the wrong ones (as text) and the
/// records per (path, true direction).
fn check(
    capture: &SpanCapture,
    records: &[FlowRecord],
) -> (Vec<String>, HashMap<(SpanPath, FlowDirection), usize>) {
    let truth = truth(capture);
    let mut wrong = Vec::new();
    let mut seen: HashMap<FlowId, u64> = HashMap::new();
    let mut coverage = HashMap::new();
    for r in records {
        let id = id_of(r);
        let Some(&(conversation, want, _)) = truth.get(&id) else {
            panic!("a record for a flow the capture does not have: {id:?}");
        };
        *seen.entry(id).or_default() += r.packets;
        let path = capture.conversations[conversation].path;
        *coverage.entry((path, want)).or_default() += 1;
        let got = (r.direction, r.key.in_if, r.egress_if);
        let (i, e) = interfaces(want);
        if got != (want, i, e) {
            wrong.push(format!(
                "{id:?} ({path:?}): got {got:?}, want {:?}",
                (want, i, e)
            ));
        }
    }
    // Every packet of every flow is in a record (nothing lost on the way).
    for (id, (_, _, packets)) in &truth {
        assert_eq!(seen.get(id), Some(packets), "packets of {id:?}");
    }
    (wrong, coverage)
}

/// The issue's acceptance test: every flow's direction (and interfaces) is right, with
/// one worker and with two.
#[test]
fn generated_span_capture_gets_every_flow_direction_right() {
    let dir = tempfile::tempdir().unwrap();
    let (path, capture) = span_capture(dir.path());
    let rules = site_rules();
    for workers in [1, 2] {
        let records = run(&path, &rules, workers);
        let (wrong, coverage) = check(&capture, &records);
        assert!(
            wrong.is_empty(),
            "{workers} worker(s): {} of {} records wrong, e.g.\n{}",
            wrong.len(),
            records.len(),
            wrong[..wrong.len().min(10)].join("\n")
        );
        // The capture is not trivial: every path with each direction it can have.
        use FlowDirection::{Egress, Ingress, Unknown};
        for (path, directions) in [
            (SpanPath::Gateway, &[Ingress, Egress][..]),
            (SpanPath::GatewayUnlisted, &[Ingress, Egress]),
            (SpanPath::Rspan, &[Ingress, Egress]),
            (SpanPath::Routed, &[Ingress, Egress]),
            (SpanPath::Internal, &[Unknown]),
            (SpanPath::Transit, &[Unknown]),
        ] {
            for d in directions {
                let n = coverage.get(&(path, *d)).copied().unwrap_or(0);
                assert!(
                    n >= 20,
                    "{workers} worker(s): only {n} {path:?} {d:?} records"
                );
            }
        }
    }
}

/// Each rule is needed: without it, the flows only it can tell come out wrong (so the
/// test above does exercise all three, and the guard for internal traffic).
#[test]
fn each_rule_decides_the_flows_only_it_can_tell() {
    let dir = tempfile::tempdir().unwrap();
    let (path, capture) = span_capture(dir.path());
    let full = site_rules();
    let wrong_paths = |rules: &DirectionConfig| {
        let (wrong, _) = check(&capture, &run(&path, rules, 1));
        let mut paths: Vec<String> = wrong
            .iter()
            .filter_map(|w| w.split(" (").nth(1)?.split(')').next().map(str::to_string))
            .collect();
        paths.sort();
        paths.dedup();
        paths
    };
    let without_macs = DirectionConfig {
        gateway_macs: Vec::new(),
        ..full.clone()
    };
    // Only the gateway MAC tells the direction of a host in an unlisted subnet.
    assert_eq!(wrong_paths(&without_macs), ["GatewayUnlisted"]);
    let without_vlans = DirectionConfig {
        ingress_vlans: Vec::new(),
        egress_vlans: Vec::new(),
        ..full.clone()
    };
    // Only the VLAN tells for RSPAN frames of unlisted hosts.
    assert_eq!(wrong_paths(&without_vlans), ["Rspan"]);
    let without_networks = DirectionConfig {
        local_networks: Vec::new(),
        ..full.clone()
    };
    // Without local networks, routed flows have no evidence, and internal traffic
    // through a gateway or on an RSPAN VLAN loses its guard.
    assert_eq!(wrong_paths(&without_networks), ["Internal", "Routed"]);
    // No rules at all: every record is as metered, and those that should have a
    // direction lack it.
    let none = run(&path, &DirectionConfig::default(), 1);
    assert!(none
        .iter()
        .all(|r| r.direction == FlowDirection::Unknown && r.egress_if == 0 && r.key.in_if == 0));
}

/// A biflow cache: each record is read as its key (the initiator's direction), so its
/// direction and interfaces are those of the initiator's flow.
#[test]
fn biflow_records_take_the_initiators_direction() {
    let dir = tempfile::tempdir().unwrap();
    let (path, capture) = span_capture(dir.path());
    let truth = truth(&capture);
    let sink = Collect::default();
    let mut options = ConvertOptions {
        workers: 2,
        direction: site_rules(),
        ..ConvertOptions::new(vec![path])
    };
    options.cache.biflow = true;
    let report = convert(&options, vec![Box::new(sink.clone())]).unwrap();
    assert!(report.is_clean());
    let records = sink.records();
    let (mut with_reverse, mut flipped) = (0, 0);
    for r in &records {
        assert!(r.reverse.is_some(), "a biflow cache makes biflow records");
        let id = id_of(r);
        // A record of the responder's frames only is keyed by the initiator (and keeps
        // the responder's VLAN): its direction is the opposite of the responder's flow.
        let only_reverse = r.packets == 0;
        let want = match truth.get(&id) {
            Some(&(_, want, _)) if !only_reverse => want,
            _ => {
                let k = r.key.reversed().expect("only queries are answers");
                let (_, answer, _) = truth[&id_of(&FlowRecord { key: k, ..*r })];
                match answer {
                    FlowDirection::Ingress => FlowDirection::Egress,
                    FlowDirection::Egress => FlowDirection::Ingress,
                    FlowDirection::Unknown => FlowDirection::Unknown,
                }
            }
        };
        flipped += usize::from(only_reverse);
        let (i, e) = interfaces(want);
        assert_eq!(
            (r.direction, r.key.in_if, r.egress_if),
            (want, i, e),
            "{id:?}"
        );
        with_reverse += usize::from(r.reverse.is_some_and(|b| b.packets > 0));
    }
    assert!(
        with_reverse > records.len() / 4,
        "{with_reverse} of {} paired",
        records.len()
    );
    assert!(flipped > 20, "{flipped} records of answers only");
}

/// The same through the binary: the config file's `[direction]` and the flags give the
/// same records, and every CSV row has the right direction and interfaces.
#[test]
fn the_binary_applies_the_rules_from_the_file_and_the_flags() {
    let dir = tempfile::tempdir().unwrap();
    let (path, capture) = span_capture(dir.path());
    let toml = dir.path().join("site.toml");
    std::fs::write(
        &toml,
        format!(
            "{}outside_interface = {OUTSIDE}\ninside_interface = {INSIDE}\n",
            span_direction_toml()
        ),
    )
    .unwrap();
    let bin = env!("CARGO_BIN_EXE_flowprobe");
    let csv_of = |extra: &[&str]| {
        let out = Command::new(bin)
            .args(extra)
            .arg("convert")
            .arg(&path)
            .args(["--format", "csv", "--threads", "2"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let from_file = csv_of(&["-c", toml.to_str().unwrap()]);
    let flags: Vec<String> = {
        let mut f = Vec::new();
        for net in flowprobe::generate::SPAN_LOCAL_NETWORKS {
            f.extend(["--local-network".to_string(), net.to_string()]);
        }
        for m in flowprobe::generate::SPAN_GATEWAY_MACS {
            let mac: Vec<String> = m.iter().map(|b| format!("{b:02x}")).collect();
            f.extend(["--gateway-mac".to_string(), mac.join(":")]);
        }
        f.extend(
            [
                "--ingress-vlan",
                "901",
                "--egress-vlan",
                "902",
                "--outside-interface",
                "1",
                "--inside-interface",
                "2",
            ]
            .map(String::from),
        );
        f
    };
    let mut args = vec!["convert".to_string(), path.display().to_string()];
    args.extend(flags);
    args.extend(["--format", "csv"].map(String::from));
    let out = Command::new(bin).args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let from_flags = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        from_file, from_flags,
        "file and flags give the same records"
    );
    let without = csv_of(&[]);

    assert_ne!(
        from_file, without,
        "the rules changed nothing in the output"
    );

    // Each row against the truth. A conversation's address pair is its own, so source,
    // destination and VLAN name a flow.
    let mut by_ends: HashMap<(IpAddr, IpAddr, u16), FlowDirection> = HashMap::new();
    for ((s, d, vlan, ..), (_, want, _)) in truth(&capture) {
        assert!(by_ends.insert((s, d, vlan), want).is_none());
    }
    let header: Vec<&str> = from_file.lines().next().unwrap().split(',').collect();
    let column = |names: &[&str]| header.iter().position(|h| names.contains(h));
    let src = column(&["src", "src_addr"]).expect("source address column");
    let dst = column(&["dst", "dst_addr"]).expect("destination address column");
    let vlan = column(&["vlan"]).expect("vlan column");
    let in_if = column(&["in_if", "ingress_interface"]).expect("ingress interface column");
    let direction = column(&["direction"]).expect("direction column");
    let egress_if = column(&["egress_if"]).expect("egress interface column");
    let mut checked = 0;
    for line in from_file.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let ends = (
            f[src].parse().unwrap(),
            f[dst].parse().unwrap(),
            f[vlan].parse().unwrap(),
        );
        let want = by_ends[&ends];
        let (want_in, want_out) = interfaces(want);
        assert_eq!(f[in_if], want_in.to_string(), "{want:?}: {line}");
        assert_eq!(f[egress_if], want_out.to_string(), "{want:?}: {line}");
        assert_eq!(f[direction], want.name(), "{line}");
        checked += 1;
    }
    assert!(checked > 3000, "{checked} rows");
}

/// Kills the probe if the test ends early.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `flowprobe run` applies the rules too: live traffic between two namespaces, side b
/// local, captured on b with two workers. a to b is ingress, b to a egress.
#[test]
fn run_applies_the_rules_to_live_records() {
    require_netns!();
    let pair = netns::NetnsPair::new("dir");
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("flows.csv");
    let local = format!("{}/32", pair.b.addr);
    let mut probe = Running(
        Command::new("ip")
            .args(["netns", "exec", &pair.b.ns, env!("CARGO_BIN_EXE_flowprobe")])
            .args([
                "run",
                "-i",
                &pair.b.ifname,
                "--threads",
                "2",
                "-f",
                "csv",
                "-o",
            ])
            .arg(&output)
            .args(["--local-network", &local])
            .args([
                "--outside-interface",
                "4000001",
                "--inside-interface",
                "4000002",
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("starting flowprobe run"),
    );
    std::thread::sleep(std::time::Duration::from_millis(700));
    let send = |from: &netns::Side, to: &netns::Side, port: u16| {
        let (src, dst) = (from.addr, to.addr);
        pair.run_in(from, move || {
            let s = std::net::UdpSocket::bind((src, 0)).unwrap();
            for _ in 0..20 {
                s.send_to(&[0x5a; 64], (dst, port)).unwrap();
            }
        });
    };
    send(&pair.a, &pair.b, 9000);
    send(&pair.b, &pair.a, 9001);
    std::thread::sleep(std::time::Duration::from_millis(500));
    // SAFETY: kill with a pid we spawned and have not reaped.
    unsafe { libc::kill(probe.0.id() as i32, libc::SIGTERM) };
    let status = probe.0.wait().unwrap();
    let mut stderr = String::new();
    use std::io::Read;
    if let Some(mut e) = probe.0.stderr.take() {
        e.read_to_string(&mut stderr).unwrap();
    }
    assert!(status.success(), "flowprobe run: {status}: {stderr}");
    let csv = std::fs::read_to_string(&output).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let (dport, in_if, proto) = (col("dport"), col("in_if"), col("proto"));
    let (direction, egress_if) = (col("direction"), col("egress_if"));
    let mut seen = [0, 0];
    for line in csv.lines().skip(1) {
        let f: Vec<&str> = line.split(',').collect();
        let (want_in, want_out, want_dir, slot) = match (f[proto], f[dport]) {
            ("17", "9000") => ("4000001", "4000002", "ingress", 0),
            ("17", "9001") => ("4000002", "4000001", "egress", 1),
            _ => continue,
        };
        assert_eq!(
            (f[in_if], f[egress_if], f[direction]),
            (want_in, want_out, want_dir),
            "{line}"
        );
        seen[slot] += 1;
    }
    assert_eq!(seen, [1, 1], "one record each way:\n{csv}\n{stderr}");
}

/// The IPFIX file the binary writes, read by tshark (an oracle we did not write): every
/// data record's flowDirection (absent when unknown), ingressInterface and
/// egressInterface are the truth of its flow.
#[test]
fn ipfix_file_carries_each_flows_direction_as_tshark_reads_it() {
    if !common::require_tool("tshark") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (path, capture) = span_capture(dir.path());
    let toml = dir.path().join("site.toml");
    std::fs::write(
        &toml,
        format!(
            "{}outside_interface = {OUTSIDE}\ninside_interface = {INSIDE}\n",
            span_direction_toml()
        ),
    )
    .unwrap();
    let ipfix = dir.path().join("span.ipfix");
    let out = Command::new(env!("CARGO_BIN_EXE_flowprobe"))
        .args(["-q", "-c", toml.to_str().unwrap(), "convert"])
        .arg(&path)
        .arg("--ipfix-file")
        .arg(&ipfix)
        .args(["--threads", "2", "-o", "/dev/null"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pdml = Command::new("tshark")
        .arg("-r")
        .arg(&ipfix)
        .args(["-T", "pdml"])
        .output()
        .unwrap();
    assert!(
        pdml.status.success(),
        "{}",
        String::from_utf8_lossy(&pdml.stderr)
    );
    let pdml = String::from_utf8(pdml.stdout).unwrap();

    // One data record: its fields by name (show value).
    let attr = |line: &str, name: &str| {
        let key = format!(" {name}=\"");
        line.find(&key)
            .and_then(|i| {
                let rest = &line[i + key.len()..];
                rest.find('"').map(|j| rest[..j].to_string())
            })
            .unwrap_or_default()
    };
    let mut flows: Vec<HashMap<String, String>> = Vec::new();
    for line in pdml.lines().map(str::trim_start) {
        if line.starts_with("<field name=\"\" show=\"Flow ") {
            flows.push(HashMap::new());
        } else if line.starts_with("<field name=\"cflow.") {
            if let Some(f) = flows.last_mut() {
                f.entry(attr(line, "name")).or_insert(attr(line, "show"));
            }
        }
    }
    flows.retain(|f| f.contains_key("cflow.packets"));

    let mut by_ends: HashMap<(IpAddr, IpAddr, u16), FlowDirection> = HashMap::new();
    for ((s, d, vlan, ..), (_, want, _)) in truth(&capture) {
        by_ends.insert((s, d, vlan), want);
    }
    let get =
        |f: &HashMap<String, String>, names: &[&str]| names.iter().find_map(|n| f.get(*n).cloned());
    let mut checked = 0;
    for f in &flows {
        let src: IpAddr = get(f, &["cflow.srcaddr", "cflow.srcaddrv6"])
            .expect("source address")
            .parse()
            .unwrap();
        let dst: IpAddr = get(f, &["cflow.dstaddr", "cflow.dstaddrv6"])
            .expect("destination address")
            .parse()
            .unwrap();
        let vlan: u16 = get(f, &["cflow.vlanid"]).map_or(0, |v| v.parse().unwrap());
        let want = by_ends[&(src, dst, vlan)];
        let direction = f.get("cflow.direction").map(String::as_str);
        let want_direction = want.ipfix_value().map(|v| v.to_string());
        assert_eq!(
            direction,
            want_direction.as_deref(),
            "{src} -> {dst} vlan {vlan}: {f:?}"
        );
        let (i, e) = interfaces(want);
        let ifs = (
            get(f, &["cflow.inputint"]).unwrap_or_default(),
            get(f, &["cflow.outputint"]).unwrap_or_else(|| "0".into()),
        );
        assert_eq!(ifs, (i.to_string(), e.to_string()), "{src} -> {dst}: {f:?}");
        checked += 1;
    }
    assert!(checked > 3000, "{checked} records");
}
