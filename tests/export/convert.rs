//! `flowprobe convert` exporting to real collectors: nfcapd receives IPFIX, NetFlow v9
//! and v5 from one conversion (three collectors at once), and nfdump's per-direction
//! totals must equal the truth exactly: the generator's for generated captures, tshark's
//! for captures from `../shared/pcaps` (v5: the IPv4 part).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::Path;
use std::process::Command;

use super::common;
use common::write_generated;
use flowprobe::generate::GenConfig;

use super::helpers::have_tool;
use super::nfcapd::{parse_rows, Direction, Nfcapd};

/// Converts `files` to three nfcapd instances (IPFIX, v9, v5) and returns what each
/// stored, per direction 5-tuple: (packets, bytes).
fn convert_to_collectors(files: &[&Path]) -> [BTreeMap<Direction, (u64, u64)>; 3] {
    convert_to_collectors_with(files, &[])
}

/// `convert_to_collectors` with more options (`extra`).
fn convert_to_collectors_with(
    files: &[&Path],
    extra: &[&str],
) -> [BTreeMap<Direction, (u64, u64)>; 3] {
    let collectors = [Nfcapd::start(), Nfcapd::start(), Nfcapd::start()];
    let out = Command::new(env!("CARGO_BIN_EXE_flowprobe"))
        .arg("convert")
        .args(files)
        .args(["-q", "--pace", "20000"])
        .args(extra)
        .args([
            "--collector",
            &format!("ipfix://127.0.0.1:{}", collectors[0].port),
        ])
        .args([
            "--collector",
            &format!("v9://127.0.0.1:{}", collectors[1].port),
        ])
        .args([
            "--collector",
            &format!("v5://127.0.0.1:{}", collectors[2].port),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "convert failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty(), "no text output when exporting");
    collectors.map(|c| parse_rows(&c.stop_and_read()))
}

fn by_addresses(rows: &BTreeMap<Direction, (u64, u64)>) -> BTreeMap<(String, String), (u64, u64)> {
    let mut m = BTreeMap::new();
    for (k, v) in rows {
        let e: &mut (u64, u64) = m.entry((k.0.to_string(), k.1.to_string())).or_default();
        e.0 += v.0;
        e.1 += v.1;
    }
    m
}

fn ipv4_only<V: Clone>(m: &BTreeMap<(String, String), V>) -> BTreeMap<(String, String), V> {
    m.iter()
        .filter(|(k, _)| k.0.parse::<IpAddr>().is_ok_and(|a| a.is_ipv4()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[test]
fn generated_capture_totals_through_nfcapd_equal_the_generator() {
    if !have_tool("nfcapd") || !have_tool("nfdump") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (pcap, g) = write_generated(
        dir.path(),
        "g.pcap",
        &GenConfig {
            conversations: 2000,
            seed: 11,
            ..GenConfig::default()
        },
    );
    let mut truth: BTreeMap<Direction, (u64, u64)> = BTreeMap::new();
    for p in &g.packets {
        let c = &g.conversations[p.conversation as usize];
        let (src, dst) = if p.forward {
            (c.client_addr(), c.server_addr())
        } else {
            (c.server_addr(), c.client_addr())
        };
        let (sport, dport) = c.key_ports(p.forward);
        let e = truth
            .entry((
                src.parse().unwrap(),
                dst.parse().unwrap(),
                sport,
                dport,
                c.proto_number(),
            ))
            .or_default();
        e.0 += 1;
        e.1 += u64::from(p.ip_len);
    }
    let [ipfix, v9, v5] = convert_to_collectors(&[&pcap]);
    assert_eq!(ipfix, truth, "IPFIX via nfcapd");
    assert_eq!(v9, truth, "NetFlow v9 via nfcapd");
    let truth_v4: BTreeMap<Direction, (u64, u64)> =
        truth.into_iter().filter(|(k, _)| k.0.is_ipv4()).collect();
    assert_eq!(v5, truth_v4, "NetFlow v5 via nfcapd (IPv4 part)");
}

#[test]
fn shared_captures_through_nfcapd_equal_tshark() {
    if !common::require_shared_pcaps() || !have_tool("nfcapd") || !have_tool("tshark") {
        return;
    }
    // The largest plain Ethernet captures of real traffic (no tunnels: the outer header is
    // what is metered and what tshark is asked for), up to 20k packets each.
    let mut rows: Vec<common::ManifestRow> = common::manifest()
        .into_iter()
        .filter(|r| r.file.starts_with("real/") && r.link_type == "EN10MB(1)")
        .filter(|r| r.packets.is_some_and(|p| (500..=20_000).contains(&p)))
        .filter(|r| {
            ![
                "gre",
                "vxlan",
                "geneve",
                "gtp",
                "ip-in-ip",
                "erspan",
                "teredo",
                "ws-malformed",
            ]
            .iter()
            .any(|f| r.has(f))
        })
        .collect();
    rows.sort_by_key(|r| std::cmp::Reverse(r.packets));
    let with_v6 = rows
        .iter()
        .position(|r| r.has("ipv6"))
        .expect("a capture with IPv6");
    let mut chosen: Vec<common::ManifestRow> = rows.iter().take(5).cloned().collect();
    chosen.push(rows[with_v6].clone());
    for row in chosen {
        let path = common::shared_pcaps().join(&row.file);
        let truth = common::tshark_totals(&path).unwrap();
        let [ipfix, v9, v5] = convert_to_collectors(&[&path]);
        assert_eq!(
            by_addresses(&ipfix),
            truth,
            "{}: IPFIX via nfcapd",
            row.file
        );
        assert_eq!(by_addresses(&v9), truth, "{}: v9 via nfcapd", row.file);
        assert_eq!(
            by_addresses(&v5),
            ipv4_only(&truth),
            "{}: v5 via nfcapd",
            row.file
        );
        eprintln!("{}: {} directions equal", row.file, truth.len());
    }
}

/// Captures with TLS, QUIC, DNS, HTTP and SSH, converted with `--inspect all`: nfcapd
/// still gets every direction's totals exactly as tshark counts them (IPFIX records
/// with inspected elements, and v9 and v5, which carry none), and tshark reads the IPFIX
/// file of the same conversion with no malformed field and no expert warning.
#[test]
fn inspected_conversions_through_nfcapd_equal_tshark() {
    if !common::require_shared_pcaps() || !have_tool("nfcapd") || !have_tool("tshark") {
        return;
    }
    const FILES: [&str; 5] = [
        "real/ja4/pcap__tls-handshake.pcapng",
        "real/ja4/pcap__chrome-cloudflare-quic-with-secrets.pcapng",
        "real/ja4/pcap__http1.pcapng",
        "real/ja4/pcap__ssh-r.pcap",
        "real/nDPI/tests__cfgs__default__pcap__dns.pcap",
    ];
    for file in FILES {
        let path = common::shared_pcaps().join(file);
        let truth = common::tshark_totals(&path).unwrap();
        let [ipfix, v9, v5] = convert_to_collectors_with(&[&path], &["--inspect", "all"]);
        assert_eq!(by_addresses(&ipfix), truth, "{file}: IPFIX via nfcapd");
        assert_eq!(by_addresses(&v9), truth, "{file}: v9 via nfcapd");
        assert_eq!(
            by_addresses(&v5),
            ipv4_only(&truth),
            "{file}: v5 via nfcapd"
        );
        let dir = tempfile::tempdir().unwrap();
        let ipfix_file = dir.path().join("flows.ipfix");
        let out = Command::new(env!("CARGO_BIN_EXE_flowprobe"))
            .arg("convert")
            .arg(&path)
            .args(["-q", "--inspect", "all", "--ipfix-file"])
            .arg(&ipfix_file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        super::tshark::assert_clean(&ipfix_file, &[]);
        // The templates hold flowprobe's elements: communityId (32473/21) on every record.
        let dissected = super::tshark::tshark(&ipfix_file, &["-V"]);
        assert!(
            dissected.contains("= Type: 21 [pen: Example Enterprise Number for Documentation Use]"),
            "{file}: no communityId element in the IPFIX file"
        );
        eprintln!("{file}: {} directions equal, IPFIX file clean", truth.len());
    }
}
