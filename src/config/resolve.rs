//! The running configuration: [`RawConfig`] interpreted and validated into typed values
//! ([`Config`]), defaults filled in.
//!
//! This is the one place where a value's meaning and limits are decided, whether it came
//! from the file or a flag. Every problem is collected (not only the first) and names the
//! key, the value as written and where it was written. Checks that involve two keys
//! (a ring block must hold one packet of `snaplen`) are made here too, once both are known.
//!
//! [`Config::to_toml`] writes the resolved configuration back as a complete config file
//! (`check-config --print`), which reads back to the same `Config`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::error::{ConfigError, ConfigErrors};
use super::memory::{machine_auto, AutoMaxFlows};
use super::raw::{Origin, Quantity, RawConfig, Setting};
use super::{parse_duration, parse_size};
use crate::decode::Decap;
use crate::flow::cache::CacheConfig;
use crate::flow::direction::{DirectionConfig, EdgeInterfaces, MacAddr, Prefix};
use crate::flow::tunnel::TunnelKind;

/// Packet source for live capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Linux AF_PACKET TPACKET_V3 rings, one per worker, in a fanout group.
    AfPacket,
    /// libpcap (the `libpcap` cargo feature).
    Libpcap,
}

/// How packets or flows are sampled: the classifier's own type, named here for the file.
pub use crate::flow::sampling::SamplingMode;

/// Log verbosity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    /// Errors only.
    Error,
    /// Errors and warnings (the default).
    Warn,
    /// Also what the probe is doing.
    Info,
    /// Also details for debugging.
    Debug,
    /// Everything.
    Trace,
}

impl LogLevel {
    /// The `log` crate's filter for this level.
    pub fn filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }
}

const BACKENDS: &[(&str, Backend)] = &[
    ("af-packet", Backend::AfPacket),
    ("libpcap", Backend::Libpcap),
];
const SAMPLING_MODES: &[(&str, SamplingMode)] = &[
    ("none", SamplingMode::None),
    ("deterministic", SamplingMode::Deterministic),
    ("random", SamplingMode::Random),
    ("flow-hash", SamplingMode::FlowHash),
];
const LOG_LEVELS: &[(&str, LogLevel)] = &[
    ("error", LogLevel::Error),
    ("warn", LogLevel::Warn),
    ("info", LogLevel::Info),
    ("debug", LogLevel::Debug),
    ("trace", LogLevel::Trace),
];

fn name_of<T: PartialEq + Copy>(table: &[(&'static str, T)], value: T) -> &'static str {
    table
        .iter()
        .find(|(_, v)| *v == value)
        .map_or("?", |(n, _)| n)
}

impl Backend {
    /// The name used in the config file and on the command line.
    pub fn name(self) -> &'static str {
        name_of(BACKENDS, self)
    }
}

impl SamplingMode {
    /// The name used in the config file and on the command line.
    pub fn name(self) -> &'static str {
        name_of(SAMPLING_MODES, self)
    }
}

impl LogLevel {
    /// The name used in the config file.
    pub fn name(self) -> &'static str {
        name_of(LOG_LEVELS, self)
    }
}

/// `[capture]`, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CaptureConfig {
    /// Interfaces to capture on (`run` needs at least one).
    pub interfaces: Vec<String>,
    /// Packet source.
    pub backend: Backend,
    /// Worker threads; 0 = one per online CPU (see [`CaptureConfig::worker_threads`]).
    pub threads: usize,
    /// tcpdump filter expression; `None` = every packet.
    pub filter: Option<String>,
    /// Put the interfaces in promiscuous mode.
    pub promiscuous: bool,
    /// Bytes of each packet captured.
    pub snaplen: u32,
    /// Bytes in one TPACKET_V3 ring block.
    pub ring_block_size: u64,
    /// Ring blocks per worker.
    pub ring_block_count: u32,
    /// A partly filled block is handed over after this long.
    pub ring_block_timeout: Duration,
    /// User to switch to once the sockets are open.
    pub user: Option<String>,
}

impl CaptureConfig {
    /// Worker threads to start: `threads`, or the online CPUs when 0.
    pub fn worker_threads(&self) -> usize {
        if self.threads > 0 {
            self.threads
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        }
    }
}

/// `[sampling]`, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SamplingConfig {
    /// What is sampled.
    pub mode: SamplingMode,
    /// N of 1-in-N (1 when `mode` is `None`).
    pub rate: u32,
}

/// `[export]`, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportConfig {
    /// Collector URLs (`ipfix://host:port`, `ipfix+tcp://…`, `v9://…`, `v5://…`), checked
    /// by [`check_collector_url`]; the export module turns them into transports.
    pub collectors: Vec<String>,
    /// RFC 5655 IPFIX file to write.
    pub ipfix_file: Option<PathBuf>,
    /// The IPFIX file gets RFC 5103 biflow records (collectors choose with `?biflow=1`).
    pub ipfix_file_biflow: bool,
    /// CSV/JSON output writes one row per biflow, with the reverse columns.
    pub text_biflow: bool,
    /// IPFIX observation domain id, NetFlow v9 source id.
    pub observation_domain_id: u32,
    /// Templates are resent after this long (zero = not by time).
    pub template_refresh: Duration,
    /// Templates are resent after this many messages (0 = not by count).
    pub template_refresh_packets: u32,
    /// Largest export message in bytes (UDP payload, or IPFIX message over TCP).
    pub max_message_size: u64,
    /// UDP socket send buffer in bytes (0 = the system default).
    pub udp_send_buffer: u64,
    /// Messages per second to each UDP collector during offline conversion (0 = unpaced).
    pub pace: u32,
}

impl ExportConfig {
    /// Whether any output wants RFC 5103 biflow records: a collector with `?biflow=1`,
    /// the IPFIX file with `ipfix_file_biflow`, or the text output with `text_biflow`
    /// (`--biflow`). The flow cache must then meter biflows; outputs that want uniflows
    /// split them again (`FlowRecord::uniflows`).
    pub fn wants_biflow(&self) -> bool {
        let collector = self.collectors.iter().any(|url| {
            url.parse::<crate::export::CollectorUrl>()
                .is_ok_and(|u| u.biflow)
        });
        collector || (self.ipfix_file.is_some() && self.ipfix_file_biflow) || self.text_biflow
    }
}

/// `[sflow]`, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SflowConfig {
    /// Agent address of the datagrams (None: the source address routing to the first
    /// sFlow collector live, 0.0.0.0 offline).
    pub agent_address: Option<std::net::IpAddr>,
    /// Interface counters are sent this often (zero = never).
    pub polling_interval: Duration,
}

/// `[statistics]`, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatisticsConfig {
    /// Period of the statistics log line (zero = off).
    pub interval: Duration,
    /// Where the Prometheus text endpoint listens (`None` = off).
    pub prometheus_listen: Option<SocketAddr>,
}

/// `[logging]`, resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoggingConfig {
    /// Verbosity.
    pub level: LogLevel,
}

/// The configuration the probe runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// `[capture]`.
    pub capture: CaptureConfig,
    /// `[cache]` and `[timeouts]`: what the flow cache runs on. `max_flows` is for all
    /// workers together; each worker's shard gets an equal share.
    pub cache: CacheConfig,
    /// How `cache.max_flows` was sized when it is `auto` (the default); `None` when a
    /// number was given.
    pub max_flows_auto: Option<AutoMaxFlows>,
    /// `[sampling]`.
    pub sampling: SamplingConfig,
    /// `[export]`.
    pub export: ExportConfig,
    /// `[sflow]`.
    pub sflow: SflowConfig,
    /// `[tunnels]`: the tunnels opened and their ports.
    pub tunnels: Decap,
    /// `[inspect]`: payload inspection.
    pub inspect: crate::inspect::InspectConfig,
    /// `[statistics]`.
    pub statistics: StatisticsConfig,
    /// `[logging]`.
    pub logging: LoggingConfig,
    /// `[direction]`: the rules the records' direction and interfaces come from.
    pub direction: DirectionConfig,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            capture: CaptureConfig {
                interfaces: Vec::new(),
                backend: Backend::AfPacket,
                threads: 0,
                filter: None,
                promiscuous: true,
                snaplen: 65_535,
                ring_block_size: 1 << 20,
                ring_block_count: 64,
                ring_block_timeout: Duration::from_millis(10),
                user: None,
            },
            cache: CacheConfig {
                max_flows: usize::try_from(machine_auto().flows).unwrap_or(usize::MAX),
                ..CacheConfig::default()
            },
            max_flows_auto: Some(machine_auto().clone()),
            sampling: SamplingConfig {
                mode: SamplingMode::None,
                rate: 1,
            },
            export: ExportConfig {
                collectors: Vec::new(),
                ipfix_file: None,
                ipfix_file_biflow: false,
                text_biflow: false,
                observation_domain_id: 0,
                template_refresh: Duration::from_secs(60),
                template_refresh_packets: 100,
                max_message_size: 1452,
                udp_send_buffer: 4 << 20,
                pace: 10_000,
            },
            sflow: SflowConfig {
                agent_address: None,
                polling_interval: crate::sflow::DEFAULT_POLLING_INTERVAL,
            },
            statistics: StatisticsConfig {
                interval: Duration::from_secs(60),
                prometheus_listen: None,
            },
            tunnels: Decap::default(),
            inspect: crate::inspect::InspectConfig::default(),
            logging: LoggingConfig {
                level: LogLevel::Warn,
            },
            direction: DirectionConfig::default(),
        }
    }
}

/// Page size the kernel requires ring blocks to be a multiple of (4 KiB on the
/// architectures flowprobe targets; larger pages are multiples of it).
const PAGE: u64 = 4096;
/// Bytes a TPACKET_V3 frame needs beyond the packet: `tpacket3_hdr` and `sockaddr_ll`,
/// aligned, rounded up.
const TPACKET3_FRAME_OVERHEAD: u64 = 128;
/// Largest UDP payload over IPv4 (65535 - 20 - 8).
const MAX_UDP_PAYLOAD: u64 = 65_507;
/// Largest `max_flows` accepted (2^32 flows, about 500 GiB of cache).
const MAX_FLOWS: u64 = 1 << 32;
/// Smallest export message we accept: one IPFIX template set for the widest record fits.
const MIN_MESSAGE: u64 = 512;

/// Collects problems while resolving.
struct Resolver {
    errors: Vec<ConfigError>,
}

impl Resolver {
    fn invalid(&mut self, origin: &Origin, key: &str, value: impl ToString, reason: impl ToString) {
        self.errors.push(ConfigError::Invalid {
            origin: origin.clone(),
            key: key.to_string(),
            value: value.to_string(),
            reason: reason.to_string(),
        });
    }

    fn duration(
        &mut self,
        s: &Option<Setting<Quantity>>,
        key: &str,
        min: Duration,
    ) -> Option<Duration> {
        let s = s.as_ref()?;
        match parse_duration(&s.value.0) {
            Ok(d) if d < min => {
                self.invalid(
                    &s.origin,
                    key,
                    &s.value,
                    format!("must be at least {}", format_duration(min)),
                );
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                self.invalid(
                    &s.origin,
                    key,
                    &s.value,
                    format!("not a duration: {}", e.expected),
                );
                None
            }
        }
    }

    fn size(
        &mut self,
        s: &Option<Setting<Quantity>>,
        key: &str,
        min: u64,
        max: u64,
    ) -> Option<u64> {
        let s = s.as_ref()?;
        match parse_size(&s.value.0) {
            Ok(n) if n < min || n > max => {
                self.invalid(
                    &s.origin,
                    key,
                    &s.value,
                    format!("must be from {} to {} bytes", min, max),
                );
                None
            }
            Ok(n) => Some(n),
            Err(e) => {
                self.invalid(
                    &s.origin,
                    key,
                    &s.value,
                    format!("not a size: {}", e.expected),
                );
                None
            }
        }
    }

    fn integer(&mut self, s: &Option<Setting<i64>>, key: &str, min: i64, max: i64) -> Option<i64> {
        let s = s.as_ref()?;
        if s.value < min || s.value > max {
            self.invalid(
                &s.origin,
                key,
                s.value,
                format!("must be from {min} to {max}"),
            );
            return None;
        }
        Some(s.value)
    }

    fn choice<T: Copy>(
        &mut self,
        s: &Option<Setting<String>>,
        key: &str,
        table: &[(&str, T)],
    ) -> Option<T> {
        let s = s.as_ref()?;
        let wanted = s.value.trim().to_ascii_lowercase().replace('_', "-");
        if let Some((_, v)) = table.iter().find(|(n, _)| *n == wanted) {
            return Some(*v);
        }
        let names: Vec<_> = table.iter().map(|(n, _)| format!("`{n}`")).collect();
        let hint = match super::suggest::closest(&wanted, table.iter().map(|(n, _)| *n)) {
            Some(n) => format!("; did you mean `{n}`?"),
            None => String::new(),
        };
        self.invalid(
            &s.origin,
            key,
            format!("{:?}", s.value),
            format!("must be one of {}{hint}", names.join(", ")),
        );
        None
    }
}

fn text(s: &Option<Setting<String>>) -> Option<Option<String>> {
    s.as_ref()
        .map(|s| Some(s.value.trim().to_string()).filter(|v| !v.is_empty()))
}

impl RawConfig {
    /// Interprets and validates every value, filling in defaults for what is not set.
    /// All problems are returned at once.
    pub fn resolve(&self) -> Result<Config, ConfigErrors> {
        let mut r = Resolver { errors: Vec::new() };
        let mut c = Config::default();

        // [capture]
        let raw = &self.capture;
        if let Some(s) = &raw.interfaces {
            for name in &s.value {
                if let Err(reason) = check_interface_name(&name.value) {
                    r.invalid(
                        &name.origin,
                        "capture.interfaces",
                        format!("{:?}", name.value),
                        reason,
                    );
                }
            }
            c.capture.interfaces = s.strings();
        }
        if let Some(v) = r.choice(&raw.backend, "capture.backend", BACKENDS) {
            c.capture.backend = v;
            if v == Backend::Libpcap && !cfg!(feature = "libpcap") {
                let s = raw.backend.as_ref().map(|s| &s.origin);
                if let Some(origin) = s {
                    r.invalid(origin, "capture.backend", "\"libpcap\"", "this flowprobe was built without libpcap; build it with `cargo build --release --features libpcap`");
                }
            }
        }
        if let Some(v) = r.integer(&raw.threads, "capture.threads", 0, 1024) {
            c.capture.threads = v as usize;
        }
        if let Some(v) = text(&raw.filter) {
            if let (Some(_), Some(s), false) = (&v, &raw.filter, cfg!(feature = "libpcap")) {
                r.invalid(&s.origin, "capture.filter", format!("{:?}", s.value), "filters are compiled by libpcap; build flowprobe with `cargo build --release --features libpcap`");
            }
            c.capture.filter = v;
        }
        if let Some(s) = &raw.promiscuous {
            c.capture.promiscuous = s.value;
        }
        if let Some(v) = r.integer(&raw.snaplen, "capture.snaplen", 64, 262_144) {
            c.capture.snaplen = v as u32;
        }
        if let Some(v) = r.size(
            &raw.ring_block_size,
            "capture.ring_block_size",
            PAGE,
            1 << 30,
        ) {
            if v % PAGE != 0 {
                if let Some(s) = &raw.ring_block_size {
                    r.invalid(
                        &s.origin,
                        "capture.ring_block_size",
                        &s.value,
                        "must be a multiple of the 4 KiB page size (e.g. 1MiB)",
                    );
                }
            } else {
                c.capture.ring_block_size = v;
            }
        }
        if let Some(v) = r.integer(&raw.ring_block_count, "capture.ring_block_count", 1, 65_536) {
            c.capture.ring_block_count = v as u32;
        }
        if let Some(v) = r.duration(
            &raw.ring_block_timeout,
            "capture.ring_block_timeout",
            Duration::from_millis(1),
        ) {
            if v > Duration::from_secs(60) {
                if let Some(s) = &raw.ring_block_timeout {
                    r.invalid(
                        &s.origin,
                        "capture.ring_block_timeout",
                        &s.value,
                        "must be at most 60s (packets wait this long in a quiet ring)",
                    );
                }
            } else {
                c.capture.ring_block_timeout = v;
            }
        }
        if let Some(v) = text(&raw.user) {
            c.capture.user = v;
        }
        // A TPACKET_V3 frame never spans blocks: a block must hold the largest packet.
        // The defaults pass (a unit test holds it), so a failure names a key that was set.
        let needed = u64::from(c.capture.snaplen) + TPACKET3_FRAME_OVERHEAD;
        let culprit = (raw.ring_block_size.as_ref())
            .map(|s| (&s.origin, "capture.ring_block_size", s.value.to_string()))
            .or_else(|| {
                (raw.snaplen.as_ref()).map(|s| (&s.origin, "capture.snaplen", s.value.to_string()))
            });
        if let (true, Some((origin, key, value))) = (c.capture.ring_block_size < needed, culprit) {
            r.invalid(
                origin,
                key,
                value,
                format!(
                    "a ring block ({} bytes) must hold one packet of capture.snaplen ({} bytes) \
                     plus {} bytes of header",
                    c.capture.ring_block_size, c.capture.snaplen, TPACKET3_FRAME_OVERHEAD
                ),
            );
        }

        // [cache] and [timeouts]
        if let Some(s) = &self.cache.max_flows {
            let text = s.value.0.trim();
            if text.eq_ignore_ascii_case("auto") {
                let auto = machine_auto();
                c.cache.max_flows = usize::try_from(auto.flows).unwrap_or(usize::MAX);
                c.max_flows_auto = Some(auto.clone());
            } else {
                match text.parse::<u64>() {
                    Ok(n) if (1..=MAX_FLOWS).contains(&n) => {
                        c.cache.max_flows = usize::try_from(n).unwrap_or(usize::MAX);
                        c.max_flows_auto = None;
                    }
                    _ => {
                        let shown = if text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
                            text.to_string()
                        } else {
                            format!("{text:?}")
                        };
                        r.invalid(
                            &s.origin,
                            "cache.max_flows",
                            shown,
                            format!("must be from 1 to {MAX_FLOWS}, or \"auto\""),
                        );
                    }
                }
            }
        }
        let t = &self.timeouts;
        let ms = Duration::from_millis(1);
        if let Some(v) = r.duration(&t.idle, "timeouts.idle", ms) {
            c.cache.idle_timeout = v;
            c.cache.udp_idle_timeout = v;
            c.cache.icmp_idle_timeout = v;
        }
        if let Some(v) = r.duration(&t.udp_idle, "timeouts.udp_idle", ms) {
            c.cache.udp_idle_timeout = v;
        }
        if let Some(v) = r.duration(&t.icmp_idle, "timeouts.icmp_idle", ms) {
            c.cache.icmp_idle_timeout = v;
        }
        if let Some(v) = r.duration(&t.active, "timeouts.active", ms) {
            c.cache.active_timeout = v;
        }
        if let Some(v) = r.duration(&t.tcp_end_grace, "timeouts.tcp_end_grace", Duration::ZERO) {
            c.cache.tcp_end_grace = v;
        }

        // [sampling]
        let s = &self.sampling;
        let mode = r.choice(&s.mode, "sampling.mode", SAMPLING_MODES);
        if let Some(v) = mode {
            c.sampling.mode = v;
        }
        if let Some(v) = r.integer(&s.rate, "sampling.rate", 1, i64::from(u32::MAX)) {
            c.sampling.rate = v as u32;
        }
        // (A mode that did not resolve was reported already; no second error for it.)
        let mode_known = s.mode.is_none() || mode.is_some();
        if mode_known && c.sampling.mode == SamplingMode::None && c.sampling.rate != 1 {
            if let Some(rate) = &s.rate {
                r.invalid(&rate.origin, "sampling.rate", rate.value, "sampling.mode is `none`: set a mode (deterministic, random, flow-hash) or remove the rate");
            }
        }

        // [export]
        let e = &self.export;
        if let Some(s) = &e.collectors {
            for url in &s.value {
                if let Err(reason) = check_collector_url(&url.value) {
                    r.invalid(
                        &url.origin,
                        "export.collectors",
                        format!("{:?}", url.value),
                        reason,
                    );
                }
            }
            c.export.collectors = s.strings();
        }
        if let Some(v) = text(&e.ipfix_file) {
            c.export.ipfix_file = v.map(PathBuf::from);
        }
        if let Some(s) = &e.ipfix_file_biflow {
            c.export.ipfix_file_biflow = s.value;
        }
        if let Some(s) = &e.text_biflow {
            c.export.text_biflow = s.value;
        }
        if let Some(v) = r.integer(
            &e.observation_domain_id,
            "export.observation_domain_id",
            0,
            i64::from(u32::MAX),
        ) {
            c.export.observation_domain_id = v as u32;
        }
        if let Some(v) = r.duration(
            &e.template_refresh,
            "export.template_refresh",
            Duration::ZERO,
        ) {
            c.export.template_refresh = v;
        }
        if let Some(v) = r.integer(
            &e.template_refresh_packets,
            "export.template_refresh_packets",
            0,
            i64::from(u32::MAX),
        ) {
            c.export.template_refresh_packets = v as u32;
        }
        if let Some(v) = r.size(
            &e.max_message_size,
            "export.max_message_size",
            MIN_MESSAGE,
            MAX_UDP_PAYLOAD,
        ) {
            c.export.max_message_size = v;
        }
        if let Some(v) = r.size(&e.udp_send_buffer, "export.udp_send_buffer", 0, 1 << 30) {
            c.export.udp_send_buffer = v;
        }
        if let Some(v) = r.integer(&e.pace, "export.pace", 0, i64::from(u32::MAX)) {
            c.export.pace = v as u32;
        }

        // [tunnels]
        let tu = &self.tunnels;
        if let Some(list) = &tu.decap {
            let mut kinds = Vec::new();
            for name in &list.value {
                let wanted = name.value.trim().to_ascii_lowercase().replace('_', "-");
                if wanted == "all" {
                    kinds.extend(TunnelKind::ALL);
                } else if let Some(kind) = TunnelKind::from_name(&wanted) {
                    kinds.push(kind);
                } else {
                    let names: Vec<_> = TunnelKind::ALL
                        .iter()
                        .map(|k| format!("`{}`", k.name()))
                        .collect();
                    r.invalid(
                        &name.origin,
                        "tunnels.decap",
                        format!("{:?}", name.value),
                        format!("is not a tunnel kind; use {} or `all`", names.join(", ")),
                    );
                }
            }
            // Ports are read below, over these defaults.
            c.tunnels = Decap::with_kinds(&kinds);
        }
        for (setting, key, ports) in [
            (
                &tu.vxlan_ports,
                "tunnels.vxlan_ports",
                &mut c.tunnels.vxlan_ports,
            ),
            (
                &tu.geneve_ports,
                "tunnels.geneve_ports",
                &mut c.tunnels.geneve_ports,
            ),
            (
                &tu.gtp_u_ports,
                "tunnels.gtp_u_ports",
                &mut c.tunnels.gtp_u_ports,
            ),
            (
                &tu.mpls_udp_ports,
                "tunnels.mpls_udp_ports",
                &mut c.tunnels.mpls_udp_ports,
            ),
        ] {
            if let Some(list) = setting {
                ports.clear();
                for port in &list.value {
                    if let Some(p) = r.integer(&Some(port.clone()), key, 1, 65_535) {
                        ports.push(p as u16);
                    }
                }
            }
        }

        // [inspect]
        let ins = &self.inspect;
        if let Some(list) = &ins.protocols {
            for name in &list.value {
                if crate::inspect::ProtocolSet::parse([name.value.as_str()]).is_err() {
                    let names: Vec<_> = crate::inspect::Protocol::ALL
                        .iter()
                        .map(|p| format!("`{}`", p.name()))
                        .collect();
                    r.invalid(
                        &name.origin,
                        "inspect.protocols",
                        format!("{:?}", name.value),
                        format!(
                            "is not inspected; use {}, `all` or `none`",
                            names.join(", ")
                        ),
                    );
                }
            }
            let names = list.value.iter().map(|n| n.value.as_str());
            let set = crate::inspect::ProtocolSet::parse(names).unwrap_or_default();
            c.inspect.protocols = set;
        }
        if let Some(v) = r.integer(&ins.max_packets, "inspect.max_packets", 1, 1000) {
            c.inspect.max_packets = v as u16;
        }
        if let Some(v) = r.integer(
            &ins.community_id_seed,
            "inspect.community_id_seed",
            0,
            65_535,
        ) {
            c.inspect.community_id_seed = v as u16;
        }
        let most = i64::from(crate::inspect::splt::MAX_SPLT_PACKETS);
        if let Some(v) = r.integer(&ins.splt_packets, "inspect.splt_packets", 1, most) {
            c.inspect.splt_packets = v as u8;
        }

        // [sflow]
        let sf = &self.sflow;
        if let Some(s) = &sf.agent_address {
            let v = s.value.trim();
            if v.is_empty() {
                c.sflow.agent_address = None;
            } else {
                match v.parse::<std::net::IpAddr>() {
                    Ok(a) => c.sflow.agent_address = Some(a),
                    Err(_) => r.invalid(&s.origin, "sflow.agent_address", format!("{:?}", s.value), "must be an IPv4 or IPv6 address, such as \"192.0.2.10\", or empty for the address routing to the collector"),
                }
            }
        }
        if let Some(v) = r.duration(
            &sf.polling_interval,
            "sflow.polling_interval",
            Duration::ZERO,
        ) {
            c.sflow.polling_interval = v;
        }

        // [statistics]
        let st = &self.statistics;
        if let Some(v) = r.duration(&st.interval, "statistics.interval", Duration::ZERO) {
            c.statistics.interval = v;
        }
        if let Some(s) = &st.prometheus_listen {
            let v = s.value.trim();
            if v.is_empty() {
                c.statistics.prometheus_listen = None;
            } else {
                match v.parse::<SocketAddr>() {
                    Ok(a) => c.statistics.prometheus_listen = Some(a),
                    Err(_) => r.invalid(&s.origin, "statistics.prometheus_listen", format!("{:?}", s.value), "must be an address and port, such as \"127.0.0.1:9109\" or \"[::1]:9109\", or empty for off"),
                }
            }
        }

        // [logging]
        if let Some(v) = r.choice(&self.logging.level, "logging.level", LOG_LEVELS) {
            c.logging.level = v;
        }

        // [direction]
        c.direction = r.direction(&self.direction);

        ConfigErrors::check(r.errors).map(|()| c)
    }
}

impl Resolver {
    /// `[direction]`: every network, VLAN and MAC checked, each error at its own line.
    fn direction(&mut self, raw: &super::raw::RawDirection) -> DirectionConfig {
        let mut d = DirectionConfig::default();
        for s in raw.local_networks.iter().flat_map(|l| &l.value) {
            match s.value.parse::<Prefix>() {
                Ok(p) => d.local_networks.push(p),
                Err(e) => self.invalid(
                    &s.origin,
                    "direction.local_networks",
                    format!("{:?}", s.value),
                    e,
                ),
            }
        }
        for s in raw.gateway_macs.iter().flat_map(|l| &l.value) {
            match s.value.parse::<MacAddr>() {
                Ok(m) => d.gateway_macs.push(m),
                Err(e) => self.invalid(
                    &s.origin,
                    "direction.gateway_macs",
                    format!("{:?}", s.value),
                    e,
                ),
            }
        }
        let mut vlans = |list: &Option<Setting<super::raw::IntList>>, key: &str| {
            let mut out = Vec::new();
            for s in list.iter().flat_map(|l| &l.value) {
                match u16::try_from(s.value) {
                    Ok(v @ 1..=4094) => out.push(v),
                    _ => self.invalid(
                        &s.origin,
                        key,
                        s.value,
                        "a VLAN id is from 1 to 4094 (untagged frames have none)",
                    ),
                }
            }
            out
        };
        d.ingress_vlans = vlans(&raw.ingress_vlans, "direction.ingress_vlans");
        d.egress_vlans = vlans(&raw.egress_vlans, "direction.egress_vlans");
        for s in raw.egress_vlans.iter().flat_map(|l| &l.value) {
            if u16::try_from(s.value).is_ok_and(|v| d.ingress_vlans.contains(&v)) {
                self.invalid(
                    &s.origin,
                    "direction.egress_vlans",
                    s.value,
                    "this VLAN is in direction.ingress_vlans too: frames on one VLAN \
                     travelled one way",
                );
            }
        }
        let outside = self.integer(
            &raw.outside_interface,
            "direction.outside_interface",
            0,
            i64::from(u32::MAX),
        );
        let inside = self.integer(
            &raw.inside_interface,
            "direction.inside_interface",
            0,
            i64::from(u32::MAX),
        );
        let (outside, inside) = (outside.unwrap_or(0) as u32, inside.unwrap_or(0) as u32);
        if (outside == 0) != (inside == 0) {
            // Name the one that was set: that is the line to fix (or to complete).
            let (set, key, other) = if outside != 0 {
                (
                    &raw.outside_interface,
                    "direction.outside_interface",
                    "direction.inside_interface",
                )
            } else {
                (
                    &raw.inside_interface,
                    "direction.inside_interface",
                    "direction.outside_interface",
                )
            };
            if let Some(s) = set {
                self.invalid(
                    &s.origin,
                    key,
                    s.value,
                    format!(
                        "set {other} too: the interfaces are exported in pairs (both \
                         nonzero), or not at all (both 0)"
                    ),
                );
            }
        } else if outside != 0 {
            if outside == inside {
                if let Some(s) = &raw.inside_interface {
                    self.invalid(
                        &s.origin,
                        "direction.inside_interface",
                        s.value,
                        "must differ from direction.outside_interface, or no collector \
                         could tell the two sides apart",
                    );
                }
            }
            d.interfaces = Some(EdgeInterfaces { outside, inside });
        }
        d
    }
}

/// Reads a config file (if any), lays `flags` over it and resolves the result: the whole
/// path from defaults < file < command line to the running [`Config`]. Problems in the
/// file and in the values are reported together.
pub fn load(file: Option<&Path>, flags: RawConfig) -> Result<Config, ConfigErrors> {
    let (mut raw, mut errors) = match file {
        Some(path) => RawConfig::read_file_partial(path),
        None => (RawConfig::default(), Vec::new()),
    };
    raw.merge(flags);
    let config = raw.resolve().map_err(|more| errors.extend(more.0));
    // In file order, then the flags' problems: easier to fix top to bottom.
    errors.sort_by_key(|e| match e.origin() {
        None => (0, 0),
        Some(Origin::File { line, .. }) => (1, *line),
        Some(Origin::Flag(_)) => (2, 0),
    });
    match config {
        Ok(config) if errors.is_empty() => Ok(config),
        _ => Err(ConfigErrors(errors)),
    }
}

/// Checks an interface name the way Linux does (1 to 15 bytes, no `/`, no whitespace).
fn check_interface_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 15 {
        return Err("an interface name has 1 to 15 characters");
    }
    if name.contains(|c: char| c == '/' || c.is_whitespace() || c == ':') {
        return Err("an interface name has no '/', ':' or spaces");
    }
    Ok(())
}

/// Collector URL schemes: protocol, optional `+transport`.
pub const COLLECTOR_SCHEMES: &[&str] = &["ipfix", "ipfix+udp", "ipfix+tcp", "v9", "v5"];

/// The hook where a collector URL is checked at config time: the scheme is one of
/// [`COLLECTOR_SCHEMES`] and the rest is `HOST:PORT` (`[v6addr]:PORT` for IPv6 literals).
/// Host names are not looked up here; the export module resolves them when it opens the
/// transport, and it owns the full parse (`export::collector`), which this check must
/// accept a superset of.
pub fn check_collector_url(url: &str) -> Result<(), String> {
    // One parser for the flag, the file and the exporter.
    url.parse::<crate::export::CollectorUrl>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Writes a duration the way the config file takes it, in the largest whole unit.
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".into();
    }
    for (unit, scale) in [
        ("d", 86_400_000_000_000u128),
        ("h", 3_600_000_000_000),
        ("m", 60_000_000_000),
        ("s", 1_000_000_000),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if ns.is_multiple_of(scale) {
            return format!("{}{unit}", ns / scale);
        }
    }
    format!("{ns}ns")
}

/// Writes a size the way the config file takes it, in the largest whole binary unit.
pub fn format_size(n: u64) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n != 0 && n.is_multiple_of(1 << shift) {
            return format!("{}{unit}", n >> shift);
        }
    }
    n.to_string()
}

/// A TOML string literal.
fn quote(s: &str) -> String {
    toml_edit::Value::from(s).to_string().trim().to_string()
}

fn quote_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| quote(s)).collect();
    format!("[{}]", items.join(", "))
}

impl Config {
    /// Whether the flow cache must meter biflows (RFC 5103) because some output wants
    /// them; see [`ExportConfig::wants_biflow`].
    pub fn wants_biflow(&self) -> bool {
        self.export.wants_biflow()
    }

    /// The configuration as a complete config file: every key, with the value in force.
    /// Reading it back gives the same `Config`.
    pub fn to_toml(&self) -> String {
        let mut o = String::new();
        let c = &self.capture;
        let _ = writeln!(o, "[capture]");
        let _ = writeln!(o, "interfaces = {}", quote_list(&c.interfaces));
        let _ = writeln!(o, "backend = {}", quote(c.backend.name()));
        let _ = writeln!(o, "threads = {}", c.threads);
        let _ = writeln!(o, "filter = {}", quote(c.filter.as_deref().unwrap_or("")));
        let _ = writeln!(o, "promiscuous = {}", c.promiscuous);
        let _ = writeln!(o, "snaplen = {}", c.snaplen);
        let _ = writeln!(
            o,
            "ring_block_size = {}",
            quote(&format_size(c.ring_block_size))
        );
        let _ = writeln!(o, "ring_block_count = {}", c.ring_block_count);
        let _ = writeln!(
            o,
            "ring_block_timeout = {}",
            quote(&format_duration(c.ring_block_timeout))
        );
        let _ = writeln!(o, "user = {}", quote(c.user.as_deref().unwrap_or("")));
        let k = &self.cache;
        match &self.max_flows_auto {
            Some(auto) => {
                let _ = writeln!(o, "\n[cache]\n# {auto}\nmax_flows = \"auto\"");
            }
            None => {
                let _ = writeln!(o, "\n[cache]\nmax_flows = {}", k.max_flows);
            }
        }
        let _ = writeln!(o, "\n[timeouts]");
        let _ = writeln!(o, "idle = {}", quote(&format_duration(k.idle_timeout)));
        let _ = writeln!(
            o,
            "udp_idle = {}",
            quote(&format_duration(k.udp_idle_timeout))
        );
        let _ = writeln!(
            o,
            "icmp_idle = {}",
            quote(&format_duration(k.icmp_idle_timeout))
        );
        let _ = writeln!(o, "active = {}", quote(&format_duration(k.active_timeout)));
        let _ = writeln!(
            o,
            "tcp_end_grace = {}",
            quote(&format_duration(k.tcp_end_grace))
        );
        let s = &self.sampling;
        let _ = writeln!(
            o,
            "\n[sampling]\nmode = {}\nrate = {}",
            quote(s.mode.name()),
            s.rate
        );
        let e = &self.export;
        let _ = writeln!(o, "\n[export]");
        let _ = writeln!(o, "collectors = {}", quote_list(&e.collectors));
        let file = e.ipfix_file.as_deref().map(|p| p.display().to_string());
        let _ = writeln!(o, "ipfix_file = {}", quote(file.as_deref().unwrap_or("")));
        let _ = writeln!(o, "ipfix_file_biflow = {}", e.ipfix_file_biflow);
        let _ = writeln!(o, "text_biflow = {}", e.text_biflow);
        let _ = writeln!(o, "observation_domain_id = {}", e.observation_domain_id);
        let _ = writeln!(
            o,
            "template_refresh = {}",
            quote(&format_duration(e.template_refresh))
        );
        let _ = writeln!(
            o,
            "template_refresh_packets = {}",
            e.template_refresh_packets
        );
        let _ = writeln!(
            o,
            "max_message_size = {}",
            quote(&format_size(e.max_message_size))
        );
        let _ = writeln!(
            o,
            "udp_send_buffer = {}",
            quote(&format_size(e.udp_send_buffer))
        );
        let _ = writeln!(o, "pace = {}", e.pace);
        let tu = &self.tunnels;
        let kinds: Vec<String> = tu.kinds().iter().map(|k| k.name().to_string()).collect();
        let ports = |p: &[u16]| {
            let items: Vec<String> = p.iter().map(u16::to_string).collect();
            format!("[{}]", items.join(", "))
        };
        let _ = writeln!(o, "\n[tunnels]");
        let _ = writeln!(o, "decap = {}", quote_list(&kinds));
        let _ = writeln!(o, "vxlan_ports = {}", ports(&tu.vxlan_ports));
        let _ = writeln!(o, "geneve_ports = {}", ports(&tu.geneve_ports));
        let _ = writeln!(o, "gtp_u_ports = {}", ports(&tu.gtp_u_ports));
        let _ = writeln!(o, "mpls_udp_ports = {}", ports(&tu.mpls_udp_ports));
        let ins = &self.inspect;
        let names: Vec<String> = ins.protocols.iter().map(|p| p.name().to_string()).collect();
        let _ = writeln!(o, "\n[inspect]");
        let _ = writeln!(o, "protocols = {}", quote_list(&names));
        let _ = writeln!(o, "max_packets = {}", ins.max_packets);
        let _ = writeln!(o, "community_id_seed = {}", ins.community_id_seed);
        let _ = writeln!(o, "splt_packets = {}", ins.splt_packets);
        let sf = &self.sflow;
        let agent = sf.agent_address.map(|a| a.to_string()).unwrap_or_default();
        let _ = writeln!(o, "\n[sflow]");
        let _ = writeln!(o, "agent_address = {}", quote(&agent));
        let _ = writeln!(
            o,
            "polling_interval = {}",
            quote(&format_duration(sf.polling_interval))
        );
        let st = &self.statistics;
        let _ = writeln!(o, "\n[statistics]");
        let _ = writeln!(o, "interval = {}", quote(&format_duration(st.interval)));
        let listen = st
            .prometheus_listen
            .map(|a| a.to_string())
            .unwrap_or_default();
        let _ = writeln!(o, "prometheus_listen = {}", quote(&listen));
        let _ = writeln!(
            o,
            "\n[logging]\nlevel = {}",
            quote(self.logging.level.name())
        );
        let d = &self.direction;
        let strings = |v: Vec<String>| quote_list(&v);
        let ints = |v: &[u16]| {
            let v: Vec<String> = v.iter().map(u16::to_string).collect();
            format!("[{}]", v.join(", "))
        };
        let _ = writeln!(o, "\n[direction]");
        let _ = writeln!(
            o,
            "local_networks = {}",
            strings(d.local_networks.iter().map(Prefix::to_string).collect())
        );
        let _ = writeln!(o, "ingress_vlans = {}", ints(&d.ingress_vlans));
        let _ = writeln!(o, "egress_vlans = {}", ints(&d.egress_vlans));
        let _ = writeln!(
            o,
            "gateway_macs = {}",
            strings(d.gateway_macs.iter().map(MacAddr::to_string).collect())
        );
        let i = d.interfaces.unwrap_or(EdgeInterfaces {
            outside: 0,
            inside: 0,
        });
        let _ = writeln!(o, "outside_interface = {}", i.outside);
        let _ = writeln!(o, "inside_interface = {}", i.inside);
        o
    }

    /// Checks what `run` needs beyond a valid file: at least one interface.
    pub fn check_for_run(&self) -> Result<(), String> {
        if self.capture.interfaces.is_empty() {
            return Err(
                "no interface to capture on: give -i IFACE or set capture.interfaces".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(text: &str) -> Vec<ConfigError> {
        let raw = RawConfig::parse(text, "t.toml").unwrap();
        raw.resolve().unwrap_err().0
    }

    #[test]
    fn defaults_resolve_to_default() {
        assert_eq!(RawConfig::default().resolve().unwrap(), Config::default());
        let d = Config::default();
        assert!(
            d.capture.ring_block_size >= u64::from(d.capture.snaplen) + TPACKET3_FRAME_OVERHEAD
        );
    }

    #[test]
    fn biflow_options() {
        let resolve = |text: &str| RawConfig::parse(text, "t.toml").unwrap().resolve();
        assert!(!Config::default().wants_biflow());
        let c = resolve("[export]\ncollectors = [\"ipfix://h:1\", \"v9://h:2\"]\n").unwrap();
        assert!(!c.wants_biflow());
        let c = resolve("[export]\ncollectors = [\"v9://h:2\", \"ipfix+tcp://h:1?biflow=1\"]\n")
            .unwrap();
        assert!(c.wants_biflow());
        // The file option counts only with a file.
        let c = resolve("[export]\nipfix_file_biflow = true\n").unwrap();
        assert!(!c.wants_biflow());
        let c = resolve("[export]\nipfix_file = \"f.ipfix\"\nipfix_file_biflow = true\n").unwrap();
        assert!(c.wants_biflow());
        assert!(resolve("[export]\ntext_biflow = true\n")
            .unwrap()
            .wants_biflow());
        // v9 cannot carry biflows: an error naming the collector and the line.
        let e = errors("[export]\ncollectors = [\n  \"v9://10.0.0.1:2055?biflow=1\",\n]\n");
        assert_eq!(e.len(), 1);
        let text = e[0].to_string();
        assert!(text.contains("t.toml:3"), "{text}");
        assert!(text.contains("v9://10.0.0.1:2055?biflow=1"), "{text}");
        assert!(text.contains("biflow"), "{text}");
    }

    #[test]
    fn printed_config_reads_back() {
        let mut c = Config::default();
        c.capture.interfaces = vec!["eth0".into(), "eth1".into()];
        c.capture.filter = Some("not port 22 and host \"x\"".into());
        c.cache.udp_idle_timeout = Duration::from_millis(1500);
        c.export.collectors = vec!["ipfix://[::1]:4739".into()];
        c.export.ipfix_file = Some("/var/lib/flows.ipfix".into());
        c.export.ipfix_file_biflow = true;
        c.export.text_biflow = true;
        c.statistics.prometheus_listen = Some("127.0.0.1:9109".parse().unwrap());
        c.sampling = SamplingConfig {
            mode: SamplingMode::FlowHash,
            rate: 64,
        };
        c.direction = DirectionConfig {
            local_networks: vec![
                "10.0.0.0/8".parse().unwrap(),
                "2001:db8::/32".parse().unwrap(),
            ],
            ingress_vlans: vec![901, 903],
            egress_vlans: vec![902],
            gateway_macs: vec!["00:1b:21:3a:4f:01".parse().unwrap()],
            interfaces: Some(EdgeInterfaces {
                outside: 1,
                inside: 2,
            }),
        };
        c.sflow = SflowConfig {
            agent_address: Some("2001:db8::7".parse().unwrap()),
            polling_interval: Duration::from_secs(5),
        };
        if !cfg!(feature = "libpcap") {
            c.capture.filter = None;
        }
        let text = c.to_toml();
        let back = RawConfig::parse(&text, "printed")
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(back, c, "{text}");
    }

    #[test]
    fn sflow_section_and_collectors_resolve_and_their_errors_name_the_value() {
        let text = "[export]\ncollectors = [\"sflow://127.0.0.1?rate=512\"]\n\
                    [sflow]\nagent_address = \"192.0.2.4\"\npolling_interval = \"30s\"\n";
        let c = RawConfig::parse(text, "t").unwrap().resolve().unwrap();
        assert_eq!(c.sflow.agent_address, Some("192.0.2.4".parse().unwrap()));
        assert_eq!(c.sflow.polling_interval, Duration::from_secs(30));
        assert_eq!(
            Config::default().sflow.polling_interval,
            Duration::from_secs(20)
        );
        let e = errors("[sflow]\nagent_address = \"host.example\"\npolling_interval = \"soon\"\n");
        let text: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert_eq!(e.len(), 2, "{text:?}");
        assert!(
            text[0].contains("sflow.agent_address") && text[0].contains("host.example"),
            "{text:?}"
        );
        assert!(
            text[1].contains("sflow.polling_interval") && text[1].contains("soon"),
            "{text:?}"
        );
        let e = errors("[export]\ncollectors = [\"sflow://h\", \"sflow://h?rate=4&header=300\"]\n");
        let text: Vec<String> = e.iter().map(|e| e.to_string()).collect();
        assert_eq!(e.len(), 2, "{text:?}");
        assert!(
            text[0].contains("t.toml:2") && text[0].contains("rate=N"),
            "{text:?}"
        );
        assert!(text[1].contains("header=300"), "{text:?}");
    }

    #[test]
    fn idle_sets_the_per_protocol_idles_unless_they_are_given() {
        let c = RawConfig::parse("[timeouts]\nidle = \"7s\"\nicmp_idle = \"2s\"\n", "t")
            .unwrap()
            .resolve()
            .unwrap();
        assert_eq!(c.cache.idle_timeout, Duration::from_secs(7));
        assert_eq!(c.cache.udp_idle_timeout, Duration::from_secs(7));
        assert_eq!(c.cache.icmp_idle_timeout, Duration::from_secs(2));
    }

    #[test]
    fn cross_key_checks() {
        let e = errors("[capture]\nsnaplen = 65535\nring_block_size = \"16KiB\"\n");
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].key(), Some("capture.ring_block_size"));
        let e = errors("[sampling]\nrate = 100\n");
        assert_eq!(e[0].key(), Some("sampling.rate"));
    }

    #[test]
    fn direction_errors_point_at_each_bad_element() {
        let e = errors(
            "[direction]\nlocal_networks = [\n  \"10.0.0.0/8\",\n  \"10.1.2.3/16\",\n]\n\
             ingress_vlans = [901, 902]\negress_vlans = [903, 902]\n\
             gateway_macs = [\"00:1b:21:3a:4f:01\", \"nope\"]\n\
             outside_interface = 7\ninside_interface = 7\n",
        );
        let found: Vec<_> = e
            .iter()
            .map(|e| (e.key().unwrap(), e.origin().and_then(|o| o.line()).unwrap()))
            .collect();
        assert_eq!(
            found,
            [
                ("direction.local_networks", 4),
                ("direction.gateway_macs", 8),
                ("direction.egress_vlans", 7),
                ("direction.inside_interface", 10),
            ],
            "{e:#?}"
        );
        assert!(
            e[0].to_string().contains("did you mean 10.1.0.0/16?"),
            "{}",
            e[0]
        );
        assert!(
            e[2].to_string()
                .contains("902: this VLAN is in direction.ingress_vlans too"),
            "{}",
            e[2]
        );
        // One interface without the other names the one that was set.
        let e = errors("[direction]\ninside_interface = 2\n");
        assert_eq!(e[0].key(), Some("direction.inside_interface"));
        assert!(
            e[0].to_string()
                .contains("set direction.outside_interface too"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn collector_urls() {
        for good in [
            "ipfix://127.0.0.1:4739",
            "ipfix://[::1]:4739",
            "ipfix+tcp://collector.example.net:4739",
            "v9://10.0.0.1:2055",
            "v5://localhost:9995/",
            // Without a port: the protocol's default (IPFIX 4739, NetFlow 2055).
            "ipfix://127.0.0.1",
        ] {
            assert_eq!(check_collector_url(good), Ok(()), "{good}");
        }
        for bad in [
            "127.0.0.1:4739",
            "sflow://127.0.0.1:6343",
            "ipfix://127.0.0.1:0",
            "ipfix://127.0.0.1:70000",
            "ipfix://::1:4739",
            "ipfix://[::1]4739",
            "ipfix://[nothex]:4739",
            "ipfix://:4739",
            "ipfix://a b:4739",
            // Zone ids are not supported: use a global or unique-local address.
            "ipfix://[fe80::1%eth0]:4739",
        ] {
            assert!(check_collector_url(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn formats_read_back() {
        for d in [
            0,
            1,
            999,
            1000,
            1_500_000,
            60_000_000_000,
            90_000_000_000,
            86_400_000_000_000,
        ] {
            let d = Duration::from_nanos(d);
            assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        }
        for n in [0, 1, 1452, 4096, 1 << 20, 3 << 30, 1_000_000] {
            assert_eq!(parse_size(&format_size(n)).unwrap(), n);
        }
    }
}
