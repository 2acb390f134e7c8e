//! The operator's config surface: `probe.toml.example`, `check-config`, precedence of
//! defaults < file < flags, and the deployment files that name the binary and features.
//!
//! The example file is the documentation people copy, so these tests hold it to the code:
//! it resolves to exactly the built-in defaults (the defaults it documents are the real
//! ones), every key the code knows is in it, and every key in it reaches its typed field.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use flowprobe::config::{
    flags, load, Backend, Config, ConfigError, LogLevel, Origin, RawConfig, SamplingMode, Setting,
    SECTIONS,
};
use flowprobe::decode::Decap;
use flowprobe::flow::direction::{EdgeInterfaces, MacAddr};
use flowprobe::flow::tunnel::TunnelKind;

fn crate_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn example() -> String {
    std::fs::read_to_string(crate_file("probe.toml.example")).expect("probe.toml.example")
}

fn resolve(text: &str) -> Result<Config, Vec<ConfigError>> {
    let (raw, mut errors) = RawConfig::parse_partial(text, "probe.toml");
    match raw.resolve() {
        Ok(c) if errors.is_empty() => Ok(c),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more.0);
            Err(errors)
        }
    }
}

/// The example with `section.key`'s value replaced by `value`, and that line's number.
fn set(text: &str, section: &str, key: &str, value: &str) -> (String, usize) {
    let mut current = String::new();
    let mut found = None;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if let Some(name) = trimmed.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = name.to_string();
        }
        let is_key = trimmed
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if current == section && is_key && !trimmed.starts_with('#') {
            assert!(found.is_none(), "{section}.{key} set twice in the example");
            found = Some(i + 1);
            out.push(format!("{key} = {value}"));
        } else {
            out.push(line.to_string());
        }
    }
    let line = found.unwrap_or_else(|| panic!("{section}.{key} is not in probe.toml.example"));
    (out.join("\n") + "\n", line)
}

#[test]
fn the_example_is_valid_and_documents_the_real_defaults() {
    let config = resolve(&example()).unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(config, Config::default());
}

#[test]
fn every_key_is_in_the_example_with_a_comment() {
    let text = example();
    for (section, keys) in SECTIONS {
        assert!(
            text.contains(&format!("\n[{section}]\n")),
            "[{section}] missing"
        );
        for key in *keys {
            let (_, line) = set(&text, section, key, "0");
            // The line above a key is its documentation (or a key of the same group).
            let above = text.lines().nth(line - 2).unwrap_or("");
            assert!(
                above.starts_with('#') || above.contains(" = "),
                "{section}.{key} (line {line}) has no comment above it"
            );
        }
    }
}

/// One option: the value to write, and what it must change in the default `Config`.
type Case = (&'static str, &'static str, &'static str, fn(&mut Config));

fn round_trip_cases() -> Vec<Case> {
    vec![
        ("capture", "interfaces", r#"["eth1", "tap0"]"#, |c| {
            c.capture.interfaces = vec!["eth1".into(), "tap0".into()]
        }),
        ("capture", "backend", r#""libpcap""#, |c| {
            c.capture.backend = Backend::Libpcap
        }),
        ("capture", "threads", "6", |c| c.capture.threads = 6),
        ("capture", "filter", r#""not port 22""#, |c| {
            c.capture.filter = Some("not port 22".into())
        }),
        ("capture", "promiscuous", "false", |c| {
            c.capture.promiscuous = false
        }),
        ("capture", "snaplen", "256", |c| c.capture.snaplen = 256),
        ("capture", "ring_block_size", r#""4MiB""#, |c| {
            c.capture.ring_block_size = 4 << 20
        }),
        ("capture", "ring_block_count", "8", |c| {
            c.capture.ring_block_count = 8
        }),
        ("capture", "ring_block_timeout", r#""100ms""#, |c| {
            c.capture.ring_block_timeout = Duration::from_millis(100)
        }),
        ("capture", "user", r#""flowprobe""#, |c| {
            c.capture.user = Some("flowprobe".into())
        }),
        ("cache", "max_flows", "5000", |c| {
            c.cache.max_flows = 5000;
            c.max_flows_auto = None;
        }),
        // `idle` is also the default of udp_idle and icmp_idle, but the example sets those
        // itself, so here only `idle` changes.
        ("timeouts", "idle", r#""40s""#, |c| {
            c.cache.idle_timeout = Duration::from_secs(40)
        }),
        ("timeouts", "udp_idle", r#""2s""#, |c| {
            c.cache.udp_idle_timeout = Duration::from_secs(2)
        }),
        ("timeouts", "icmp_idle", "3", |c| {
            c.cache.icmp_idle_timeout = Duration::from_secs(3)
        }),
        ("timeouts", "active", r#""2m""#, |c| {
            c.cache.active_timeout = Duration::from_secs(120)
        }),
        ("timeouts", "tcp_end_grace", r#""1500ms""#, |c| {
            c.cache.tcp_end_grace = Duration::from_millis(1500)
        }),
        ("sampling", "mode", r#""flow-hash""#, |c| {
            c.sampling.mode = SamplingMode::FlowHash
        }),
        (
            "export",
            "collectors",
            r#"["ipfix://127.0.0.1:4739", "v9://[::1]:2055"]"#,
            |c| {
                c.export.collectors =
                    vec!["ipfix://127.0.0.1:4739".into(), "v9://[::1]:2055".into()]
            },
        ),
        (
            "export",
            "ipfix_file",
            r#""/var/lib/flowprobe/flows.ipfix""#,
            |c| c.export.ipfix_file = Some("/var/lib/flowprobe/flows.ipfix".into()),
        ),
        ("export", "ipfix_file_biflow", "true", |c| {
            c.export.ipfix_file_biflow = true
        }),
        ("export", "text_biflow", "true", |c| {
            c.export.text_biflow = true
        }),
        ("export", "observation_domain_id", "4242", |c| {
            c.export.observation_domain_id = 4242
        }),
        ("export", "template_refresh", r#""5m""#, |c| {
            c.export.template_refresh = Duration::from_secs(300)
        }),
        ("export", "template_refresh_packets", "20", |c| {
            c.export.template_refresh_packets = 20
        }),
        ("export", "max_message_size", r#""8KiB""#, |c| {
            c.export.max_message_size = 8192
        }),
        ("export", "udp_send_buffer", "65536", |c| {
            c.export.udp_send_buffer = 65536
        }),
        ("export", "pace", "0", |c| c.export.pace = 0),
        ("tunnels", "decap", r#"["vxlan", "GTP_U"]"#, |c| {
            c.tunnels = Decap::with_kinds(&[TunnelKind::Vxlan, TunnelKind::GtpU])
        }),
        ("tunnels", "vxlan_ports", "[4789, 8472]", |c| {
            c.tunnels.vxlan_ports = vec![4789, 8472]
        }),
        ("tunnels", "geneve_ports", "6082", |c| {
            c.tunnels.geneve_ports = vec![6082]
        }),
        ("tunnels", "gtp_u_ports", "[]", |c| {
            c.tunnels.gtp_u_ports = vec![]
        }),
        ("tunnels", "mpls_udp_ports", "[6635, 6636]", |c| {
            c.tunnels.mpls_udp_ports = vec![6635, 6636]
        }),
        ("statistics", "interval", r#""0s""#, |c| {
            c.statistics.interval = Duration::ZERO
        }),
        ("sflow", "agent_address", r#""192.0.2.44""#, |c| {
            c.sflow.agent_address = Some("192.0.2.44".parse().unwrap())
        }),
        ("sflow", "polling_interval", r#""5s""#, |c| {
            c.sflow.polling_interval = Duration::from_secs(5)
        }),
        (
            "inspect",
            "protocols",
            r#"["tls", "DNS", "community-id"]"#,
            |c| {
                c.inspect.protocols =
                    flowprobe::inspect::ProtocolSet::parse(["tls", "dns", "community-id"]).unwrap()
            },
        ),
        ("inspect", "max_packets", "4", |c| c.inspect.max_packets = 4),
        ("inspect", "community_id_seed", "7", |c| {
            c.inspect.community_id_seed = 7
        }),
        ("inspect", "splt_packets", "32", |c| {
            c.inspect.splt_packets = 32
        }),
        (
            "statistics",
            "prometheus_listen",
            r#""127.0.0.1:9109""#,
            |c| c.statistics.prometheus_listen = Some("127.0.0.1:9109".parse().unwrap()),
        ),
        ("logging", "level", r#""debug""#, |c| {
            c.logging.level = LogLevel::Debug
        }),
        (
            "direction",
            "local_networks",
            r#"["10.0.0.0/8", "2001:db8:10::/48", "192.0.2.7"]"#,
            |c| {
                c.direction.local_networks = ["10.0.0.0/8", "2001:db8:10::/48", "192.0.2.7/32"]
                    .iter()
                    .map(|p| p.parse().unwrap())
                    .collect()
            },
        ),
        ("direction", "ingress_vlans", "[901, 4094]", |c| {
            c.direction.ingress_vlans = vec![901, 4094]
        }),
        ("direction", "egress_vlans", "902", |c| {
            c.direction.egress_vlans = vec![902]
        }),
        (
            "direction",
            "gateway_macs",
            r#"["00:1b:21:3a:4f:01", "001b.213a.4f02"]"#,
            |c| {
                c.direction.gateway_macs = vec![
                    MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x01]),
                    MacAddr([0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x02]),
                ]
            },
        ),
    ]
}

#[test]
fn each_option_in_the_example_reaches_its_typed_field() {
    let text = example();
    let cases = round_trip_cases();
    // The table covers every key the code knows (sampling.rate is checked below: it
    // cannot change alone while the mode is "none").
    for (section, keys) in SECTIONS {
        for key in *keys {
            let covered = cases.iter().any(|(s, k, _, _)| s == section && k == key);
            assert!(
                covered
                    || (*section, *key) == ("sampling", "rate")
                    || *key == "outside_interface"
                    || *key == "inside_interface",
                "{section}.{key} has no round-trip case"
            );
        }
    }
    for (section, key, value, change) in cases {
        let (edited, line) = set(&text, section, key, value);
        let needs_libpcap =
            (section, key) == ("capture", "backend") || (section, key) == ("capture", "filter");
        if needs_libpcap && !cfg!(feature = "libpcap") {
            let errors = resolve(&edited).unwrap_err();
            assert_eq!(errors.len(), 1, "{errors:#?}");
            let message = errors[0].to_string();
            assert!(message.contains("--features libpcap"), "{message}");
            assert_eq!(errors[0].origin().and_then(Origin::line), Some(line));
            continue;
        }
        let mut expected = Config::default();
        change(&mut expected);
        assert_ne!(
            expected,
            Config::default(),
            "{section}.{key}: case changes nothing"
        );
        let got = resolve(&edited).unwrap_or_else(|e| panic!("{section}.{key}: {e:#?}"));
        assert_eq!(got, expected, "{section}.{key} = {value}");
    }
    // sampling.rate, together with a mode.
    let (edited, _) = set(&text, "sampling", "mode", r#""random""#);
    let (edited, _) = set(&edited, "sampling", "rate", "512");
    let got = resolve(&edited).unwrap();
    assert_eq!(
        (got.sampling.mode, got.sampling.rate),
        (SamplingMode::Random, 512)
    );
    // The direction interfaces, which are set in pairs.
    let (edited, _) = set(&text, "direction", "outside_interface", "1");
    let (edited, _) = set(&edited, "direction", "inside_interface", "2");
    let got = resolve(&edited).unwrap();
    assert_eq!(
        got.direction.interfaces,
        Some(EdgeInterfaces {
            outside: 1,
            inside: 2
        })
    );
}

/// Each kind of bad value is refused, naming the key, the value and the line.
#[test]
fn bad_values_name_key_value_and_line() {
    let text = example();
    let cases: &[(&str, &str, &str, &str)] = &[
        // (section, key, bad value, text the message must contain)
        ("timeouts", "idle", r#""15x""#, "not a duration"),
        ("timeouts", "active", r#""0s""#, "must be at least 1ms"),
        ("timeouts", "udp_idle", "-5", "not a duration"),
        ("export", "udp_send_buffer", r#""1.5MiB""#, "not a size"),
        (
            "export",
            "max_message_size",
            r#""100""#,
            "must be from 512 to 65507 bytes",
        ),
        (
            "capture",
            "ring_block_size",
            r#""6000""#,
            "multiple of the 4 KiB page",
        ),
        (
            "capture",
            "backend",
            r#""af_packets""#,
            "did you mean `af-packet`",
        ),
        ("sampling", "mode", r#""randm""#, "did you mean `random`"),
        (
            "tunnels",
            "decap",
            r#"["nvgre"]"#,
            "is not a tunnel kind; use `vxlan`",
        ),
        ("tunnels", "vxlan_ports", "[0]", "must be from 1 to 65535"),
        (
            "tunnels",
            "geneve_ports",
            r#""6081""#,
            "expected a list of integers",
        ),
        ("logging", "level", r#""verbose""#, "must be one of"),
        ("capture", "threads", "-1", "must be from 0 to 1024"),
        ("capture", "snaplen", "10", "must be from 64 to 262144"),
        ("cache", "max_flows", "0", "must be from 1 to"),
        (
            "export",
            "observation_domain_id",
            "4294967296",
            "must be from 0 to 4294967295",
        ),
        (
            "export",
            "collectors",
            r#"["sflow://10.0.0.1:6343"]"#,
            "sFlow needs a sampling rate",
        ),
        (
            "export",
            "collectors",
            r#"["sflow://10.0.0.1:6343?rate=10&header=512"]"#,
            "header=512",
        ),
        (
            "export",
            "collectors",
            r#"["netflow://10.0.0.1:2055"]"#,
            "unknown scheme `netflow`",
        ),
        (
            "sflow",
            "agent_address",
            r#""agent-7""#,
            "must be an IPv4 or IPv6 address",
        ),
        (
            "export",
            "collectors",
            r#"["ipfix://10.0.0.1:0"]"#,
            "bad port",
        ),
        (
            "export",
            "collectors",
            r#"["v9://::1:2055"]"#,
            "in brackets",
        ),
        (
            "statistics",
            "prometheus_listen",
            r#""localhost""#,
            "address and port",
        ),
        ("capture", "interfaces", r#"["a/b"]"#, "interface name"),
        (
            "direction",
            "local_networks",
            r#"["10.1.2.3/8"]"#,
            "did you mean 10.0.0.0/8?",
        ),
        (
            "direction",
            "local_networks",
            r#"["10.0.0.0/33"]"#,
            "prefix length must be a number from 0 to 32",
        ),
        (
            "direction",
            "local_networks",
            r#"["intranet"]"#,
            "not an IP network",
        ),
        (
            "direction",
            "gateway_macs",
            r#"["00:1b:21:3a:4f"]"#,
            "not a MAC address",
        ),
        (
            "direction",
            "gateway_macs",
            r#"["ff:ff:ff:ff:ff:ff"]"#,
            "multicast or broadcast",
        ),
        ("direction", "ingress_vlans", "[4095]", "from 1 to 4094"),
        ("direction", "egress_vlans", "[0]", "from 1 to 4094"),
        (
            "direction",
            "outside_interface",
            "3",
            "set direction.inside_interface too",
        ),
        (
            "direction",
            "inside_interface",
            "-1",
            "must be from 0 to 4294967295",
        ),
        (
            "direction",
            "ingress_vlans",
            r#"["901"]"#,
            "expected a list of integers",
        ),
        // Wrong TOML types.
        (
            "capture",
            "threads",
            r#""four""#,
            "expected an integer, found a string (\"four\")",
        ),
        (
            "capture",
            "promiscuous",
            r#""yes""#,
            "expected true or false",
        ),
        ("capture", "interfaces", "5", "expected a list of strings"),
        ("timeouts", "idle", "1.5", "expected a string with a unit"),
        (
            "export",
            "pace",
            "[1]",
            "expected an integer, found an array",
        ),
    ];
    for (section, key, bad, needle) in cases {
        let (edited, line) = set(&text, section, key, bad);
        let errors = resolve(&edited).expect_err(&format!("{section}.{key} = {bad} accepted"));
        assert_eq!(errors.len(), 1, "{section}.{key} = {bad}: {errors:#?}");
        let e = &errors[0];
        let message = e.to_string();
        assert_eq!(
            e.key(),
            Some(format!("{section}.{key}").as_str()),
            "{message}"
        );
        assert_eq!(e.origin().and_then(Origin::line), Some(line), "{message}");
        assert!(
            message.starts_with(&format!("probe.toml:{line}: ")),
            "{message}"
        );
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
        // The value as written appears in the message (strings without their quotes
        // escaped differently, so compare the bare text).
        let bare = bad.trim_matches(|c| c == '"' || c == '[' || c == ']');
        assert!(
            message.contains(bare.trim_matches('"')),
            "{message:?} lacks {bare:?}"
        );
    }
}

#[test]
fn unknown_keys_are_errors_with_a_hint() {
    let text = example();
    let edited = text.replace("\n[cache]\n", "\n[cache]\nmax_flow = 10\n");
    let line = edited.lines().position(|l| l == "max_flow = 10").unwrap() + 1;
    let errors = resolve(&edited).unwrap_err();
    assert_eq!(errors.len(), 1);
    assert_eq!(
        errors[0].to_string(),
        format!("probe.toml:{line}: unknown key `cache.max_flow`; did you mean `max_flows`?")
    );
    let errors = resolve("[timeout]\nidle = \"5s\"\n").unwrap_err();
    assert_eq!(
        errors[0].to_string(),
        "probe.toml:1: unknown key `timeout`; did you mean `timeouts`?"
    );
    let errors = resolve("[timeouts]\nactive_timeout = \"5m\"\n").unwrap_err();
    assert!(errors[0].to_string().ends_with("did you mean `active`?"));
    let errors = resolve("[capture]\nidle_timeout = \"5m\"\n").unwrap_err();
    assert!(errors[0]
        .to_string()
        .ends_with("did you mean `timeouts.idle`?"));
    let errors = resolve("[capture]\nfrobnicate = 1\n").unwrap_err();
    assert!(errors[0]
        .to_string()
        .ends_with("unknown key `capture.frobnicate`"));
}

#[test]
fn every_error_is_reported_in_one_run() {
    let text = "[capture]\nthreads = \"four\"\ninterface = \"eth0\"\n\n[timeouts]\n\
                idle = \"15x\"\nactive = \"0s\"\n\n[export]\ncollectors = [\"x://y:1\"]\n\
                [logging]\nlevel = \"loud\"\n[statistic]\n";
    let errors = resolve(text).unwrap_err();
    let mut lines: Vec<_> = errors
        .iter()
        .map(|e| e.origin().and_then(Origin::line).unwrap())
        .collect();
    lines.sort_unstable();
    assert_eq!(lines, [2, 3, 6, 7, 10, 12, 13], "{errors:#?}");
}

#[test]
fn precedence_is_defaults_then_file_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe.toml");
    std::fs::write(
        &path,
        "[timeouts]\nidle = \"20s\"\nactive = \"10m\"\n[cache]\nmax_flows = 1000\n",
    )
    .unwrap();
    let args = flowprobe::cli::CacheArgs {
        idle_timeout: Some("3s".into()),
        ..Default::default()
    };
    let config = load(Some(&path), flags::from_cache_args(&args)).unwrap();
    // Flag over file.
    assert_eq!(config.cache.idle_timeout, Duration::from_secs(3));
    // `idle` from the flag also sets the per-protocol idles, which nothing else set.
    assert_eq!(config.cache.udp_idle_timeout, Duration::from_secs(3));
    // File over default.
    assert_eq!(config.cache.active_timeout, Duration::from_secs(600));
    assert_eq!(config.cache.max_flows, 1000);
    // Default where neither says anything.
    assert_eq!(
        config.cache.tcp_end_grace,
        Config::default().cache.tcp_end_grace
    );
    assert_eq!(config.export, Config::default().export);

    // Lists from flags replace the file's.
    std::fs::write(&path, "[export]\ncollectors = [\"v9://127.0.0.1:9995\"]\n").unwrap();
    let mut raw = RawConfig::default();
    raw.export.collectors = Some(Setting::flag_list(
        ["ipfix://127.0.0.1:4739".to_string()],
        "--collector",
    ));
    let config = load(Some(&path), raw).unwrap();
    assert_eq!(config.export.collectors, ["ipfix://127.0.0.1:4739"]);

    // A bad flag names the flag; a bad file value names the line; both at once.
    std::fs::write(&path, "[timeouts]\nactive = \"forever\"\n").unwrap();
    let args = flowprobe::cli::CacheArgs {
        max_flows: Some("0".into()),
        ..Default::default()
    };
    let errors = load(Some(&path), flags::from_cache_args(&args)).unwrap_err();
    let text = errors.to_string();
    let lines: Vec<_> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(lines[0].starts_with(&format!("{}:2: timeouts.active", path.display())));
    assert!(
        lines[1].starts_with("--max-flows: cache.max_flows = 0"),
        "{text}"
    );
}

/// `max_flows = "auto"` is the default and is sized from memory; a number, in the file or
/// by `--max-flows`, wins over it, and `--max-flows auto` wins over a file's number.
#[test]
fn max_flows_auto_is_the_default_and_a_number_wins() {
    let auto = flowprobe::config::memory::machine_auto();
    let default = Config::default();
    assert_eq!(default.max_flows_auto.as_ref(), Some(auto));
    assert_eq!(default.cache.max_flows as u64, auto.flows);
    assert!(auto.flows >= flowprobe::config::memory::MIN_AUTO_FLOWS);

    let (edited, _) = set(&example(), "cache", "max_flows", "250000");
    let config = resolve(&edited).unwrap();
    assert_eq!(
        (config.cache.max_flows, config.max_flows_auto),
        (250_000, None)
    );

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probe.toml");
    std::fs::write(&path, "[cache]\nmax_flows = 1000\n").unwrap();
    let args = flowprobe::cli::CacheArgs {
        max_flows: Some("auto".into()),
        ..Default::default()
    };
    let config = load(Some(&path), flags::from_cache_args(&args)).unwrap();
    assert_eq!(config.cache.max_flows as u64, auto.flows);
    assert_eq!(config.max_flows_auto.as_ref(), Some(auto));

    std::fs::write(&path, "[cache]\nmax_flows = \"auto\"\n").unwrap();
    let args = flowprobe::cli::CacheArgs {
        max_flows: Some("4000".into()),
        ..Default::default()
    };
    let config = load(Some(&path), flags::from_cache_args(&args)).unwrap();
    assert_eq!(
        (config.cache.max_flows, config.max_flows_auto),
        (4000, None)
    );

    for bad in ["\"lots\"", "-1", "4294967297", "1.5"] {
        let (edited, line) = set(&example(), "cache", "max_flows", bad);
        let errors = resolve(&edited).unwrap_err();
        let text = errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n");
        assert_eq!(errors.len(), 1, "{bad}: {text}");
        assert!(text.contains("\"auto\""), "{bad}: {text}");
        assert!(
            text.contains(&format!("probe.toml:{line}: ")),
            "{bad}: {text}"
        );
    }
}

#[test]
fn print_reads_back_to_the_same_config() {
    let (edited, _) = set(&example(), "timeouts", "udp_idle", "\"90s\"");
    let (edited, _) = set(
        &edited,
        "export",
        "collectors",
        r#"["ipfix+tcp://[::1]:4739"]"#,
    );
    let config = resolve(&edited).unwrap();
    let printed = config.to_toml();
    assert_eq!(resolve(&printed).unwrap(), config, "{printed}");
}

// ---- the binary ---------------------------------------------------------------------

fn flowprobe(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_flowprobe"))
        .args(args)
        .output()
        .expect("run flowprobe");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_exit_codes() {
    let example = crate_file("probe.toml.example");
    let example = example.to_str().unwrap();
    let (code, out, err) = flowprobe(&["check-config", example]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(out.trim_end().ends_with(": ok"), "{out}");

    let (code, out, _) = flowprobe(&["check-config", "--print", example]);
    assert_eq!(code, 0);
    assert_eq!(resolve(&out).unwrap(), Config::default(), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[timeouts]\nidle = \"15x\"\n[capture]\nthreds = 2\n[export]\npace = \"fast\"\n",
    )
    .unwrap();
    let (code, out, err) = flowprobe(&["check-config", bad.to_str().unwrap()]);
    assert_eq!(code, 2, "{out}{err}");
    let lines: Vec<_> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    let b = bad.display();
    assert!(
        lines[0].starts_with(&format!("flowprobe: {b}:2: timeouts.idle = \"15x\"")),
        "{err}"
    );
    assert!(
        lines[1].contains(&format!(
            "{b}:4: unknown key `capture.threds`; did you mean `threads`?"
        )),
        "{err}"
    );
    assert!(
        lines[2].contains(&format!("{b}:6: export.pace: expected an integer")),
        "{err}"
    );

    // A missing file and a syntax error are config errors too.
    let (code, _, err) = flowprobe(&["check-config", "/nonexistent/probe.toml"]);
    assert_eq!(code, 2, "{err}");
    std::fs::write(&bad, "[cache]\nmax_flows = = 1\n").unwrap();
    let (code, _, err) = flowprobe(&["check-config", bad.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains(&format!("{b}:2: not valid TOML")), "{err}");

    // Usage errors are 2 as well; the exit codes are in --help.
    let (code, _, _) = flowprobe(&["check-config"]);
    assert_eq!(code, 2);
    let (code, out, _) = flowprobe(&["--help"]);
    assert_eq!(code, 0);
    assert!(out.contains("0 ok, 1 runtime error") && out.contains("2 usage or config error"));
    assert!(out.contains("check-config"));
}

#[test]
fn convert_takes_the_config_file_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("probe.toml");
    std::fs::write(&conf, "[timeouts]\nidle = \"nope\"\n").unwrap();
    let missing = dir.path().join("missing.pcap");
    // The bad file value stops the run before any file is opened: exit 2, not 1.
    let (code, _, err) = flowprobe(&[
        "-c",
        conf.to_str().unwrap(),
        "convert",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(":2: timeouts.idle = \"nope\""), "{err}");
    // The same after the subcommand (the flag is global).
    let (code, _, _) = flowprobe(&[
        "convert",
        "--config",
        conf.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    // A valid file: now the missing capture is the (runtime) error.
    std::fs::write(&conf, "[timeouts]\nidle = \"5s\"\n").unwrap();
    let (code, _, err) = flowprobe(&[
        "-c",
        conf.to_str().unwrap(),
        "convert",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{err}");
    // A bad flag over a good file names the flag.
    let (code, _, err) = flowprobe(&[
        "-c",
        conf.to_str().unwrap(),
        "convert",
        "--active-timeout",
        "0s",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("--active-timeout: timeouts.active = \"0s\": must be at least 1ms"),
        "{err}"
    );
}

// ---- deployment files -----------------------------------------------------------------

/// The Dockerfile, compose file and systemd unit name the binary, the cargo feature, the
/// config file and the capabilities; if any of those is renamed, this fails instead of
/// the files rotting silently (no Docker engine runs the image in CI).
#[test]
fn deployment_files_reference_what_exists() {
    let cargo = std::fs::read_to_string(crate_file("Cargo.toml")).unwrap();
    assert!(cargo.contains("\nlibpcap = "), "the libpcap feature moved");
    assert!(cargo.contains("name = \"flowprobe\""));
    let bin = Path::new(env!("CARGO_BIN_EXE_flowprobe"));
    assert_eq!(bin.file_name().unwrap(), "flowprobe");

    let dockerfile = std::fs::read_to_string(crate_file("docker/Dockerfile")).unwrap();
    for needle in [
        "FROM rust:",
        "libpcap-dev",
        "cargo build --release --locked --features libpcap",
        "target/release/flowprobe",
        "FROM debian:bookworm-slim",
        "libpcap0.8",
        "setcap cap_net_raw,cap_net_admin+ep /usr/local/bin/flowprobe",
        "USER flowprobe",
        "ENTRYPOINT [\"/usr/local/bin/flowprobe\"]",
        "probe.toml.example",
    ] {
        assert!(
            dockerfile.contains(needle),
            "docker/Dockerfile lacks {needle:?}"
        );
    }
    // Every file the Dockerfile copies from the build context exists.
    for line in dockerfile.lines() {
        let Some(rest) = line.trim().strip_prefix("COPY ") else {
            continue;
        };
        if rest.starts_with("--from") {
            continue;
        }
        let parts: Vec<_> = rest.split_whitespace().collect();
        for source in &parts[..parts.len() - 1] {
            assert!(
                crate_file(source).exists(),
                "Dockerfile copies missing {source}"
            );
        }
    }

    let compose = std::fs::read_to_string(crate_file("docker/compose.yml")).unwrap();
    for needle in [
        "network_mode: host",
        "NET_RAW",
        "NET_ADMIN",
        "nfcapd",
        "nfdump",
        "dockerfile: docker/Dockerfile",
        "ipfix://127.0.0.1:4739",
    ] {
        assert!(
            compose.contains(needle),
            "docker/compose.yml lacks {needle:?}"
        );
    }

    let unit = std::fs::read_to_string(crate_file("docker/flowprobe.service")).unwrap();
    for needle in [
        "ExecStartPre=/usr/local/bin/flowprobe check-config /etc/flowprobe/probe.toml",
        "ExecStart=/usr/local/bin/flowprobe -c /etc/flowprobe/probe.toml run",
        "AmbientCapabilities=CAP_NET_RAW CAP_NET_ADMIN",
        "CapabilityBoundingSet=CAP_NET_RAW CAP_NET_ADMIN",
        "DynamicUser=yes",
        "ProtectSystem=strict",
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
    ] {
        assert!(
            unit.contains(needle),
            "docker/flowprobe.service lacks {needle:?}"
        );
    }

    // The config the image and unit ship passes check-config.
    let (code, _, err) = flowprobe(&[
        "check-config",
        crate_file("docker/probe.toml").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "docker/probe.toml: {err}");
}

/// systemd's own checker reads the unit (with ExecStart pointed at the built binary, since
/// /usr/local/bin/flowprobe is not installed here).
#[test]
fn systemd_accepts_the_unit() {
    let ok = Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok();
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-analyze is not installed (CI is set)"
        );
        eprintln!("skipped: systemd-analyze not installed");
        return;
    }
    let unit = std::fs::read_to_string(crate_file("docker/flowprobe.service")).unwrap();
    let unit = unit.replace("/usr/local/bin/flowprobe", env!("CARGO_BIN_EXE_flowprobe"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("flowprobe.service");
    std::fs::write(&path, unit).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    // Warnings about the host (no systemd running in a container) are not the unit's.
    let about_unit: Vec<_> = err
        .lines()
        .filter(|l| l.contains("flowprobe.service"))
        .collect();
    assert!(out.status.success() && about_unit.is_empty(), "{err}");
}

/// `--inspect` and `[inspect] protocols`: names, `all`, `none`; an unknown name is an
/// error naming it and the line, with the names that exist.
#[test]
fn inspect_protocols_resolve_and_unknown_names_are_errors() {
    let text = example();
    let (edited, _) = set(&text, "inspect", "protocols", r#"["all"]"#);
    let got = resolve(&edited).unwrap();
    assert_eq!(
        got.inspect.protocols,
        flowprobe::inspect::ProtocolSet::all()
    );
    let (edited, _) = set(&text, "inspect", "protocols", r#"["all", "none", "quic"]"#);
    let got = resolve(&edited).unwrap();
    let names: Vec<_> = got.inspect.protocols.iter().map(|p| p.name()).collect();
    assert_eq!(names, ["quic"]);
    let (edited, line) = set(&text, "inspect", "protocols", r#"["tls", "smtp"]"#);
    let errors = resolve(&edited).unwrap_err();
    assert_eq!(errors.len(), 1, "{errors:#?}");
    let message = errors[0].to_string();
    assert!(
        message.contains("inspect.protocols") && message.contains("smtp"),
        "{message}"
    );
    assert!(message.contains("`community-id`"), "{message}");
    assert_eq!(errors[0].origin().and_then(Origin::line), Some(line));
    for bad in ["0", "1001"] {
        let (edited, _) = set(&text, "inspect", "max_packets", bad);
        assert!(resolve(&edited).is_err(), "max_packets = {bad}");
    }
    for bad in ["0", "33"] {
        let (edited, _) = set(&text, "inspect", "splt_packets", bad);
        assert!(resolve(&edited).is_err(), "splt_packets = {bad}");
    }
    let (edited, _) = set(&text, "inspect", "protocols", r#"["tcp", "splt"]"#);
    let config = resolve(&edited).unwrap();
    let names: Vec<_> = config.inspect.protocols.iter().map(|p| p.name()).collect();
    assert_eq!(names, ["tcp", "splt"]);
}
