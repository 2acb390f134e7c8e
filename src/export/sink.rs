//! The collector and file sinks: records in, IPFIX / NetFlow v9 / v5 messages out.
//!
//! [`collector_sink`] and [`ipfix_file_sink`] are what the exporter thread builds from the
//! command line. Each sink owns its encoder state (sequence numbers, template timers, the
//! v9 uptime origin) *per collector*, as the specs require, and one transport.
//!
//! Template handling (IPFIX and v9, [`TemplateSink`]):
//! - UDP: the data templates (IPv4 256, IPv6 257, ICMP 258, ICMPv6 259) and the options
//!   templates (sampling 260 if any, statistics 261) open the first message, and again
//!   the first message after `template_refresh` (time) or `template_refresh_packets`
//!   messages, whichever comes first; `tick` sends them even when no record flows.
//! - TCP: the transport sends the templates at the start of every connection.
//! - File: once, first.
//!
//! Options *records* (the sampling announcement, the exporter statistics) follow the
//! templates, and are repeated every `template_refresh` on every transport, after a TCP
//! reconnect, and at `finish` (the statistics).
//!
//! Messages are flushed when full, on `tick` (so a record waits at most about a second of
//! export time) and at `finish`.

use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::collector::{CollectorProtocol, CollectorUrl, CollectorUrlError};
use super::ie::{selector_algorithm, v9_sampling_algorithm};
use super::netflow_v5::V5Sink;
use super::netflow_v9::UptimeClock;
use super::stats::SinkStats;
use super::template::*;
use super::transport::{
    FileTransport, TcpSettings, TcpTransport, TemplatePolicy, Transport, UdpTransport,
};
use super::{ipfix, netflow_v9, RecordSink};
use crate::flow::record::FlowRecord;
use crate::time::Timestamp;

/// Messages per second when pacing is on and no rate was chosen (offline conversion):
/// about 6 MB/s of 1452-octet messages, which nfcapd and a plain socket on the same
/// host receive without loss with default socket buffers.
pub const DEFAULT_PACING: u32 = 4000;

/// Default maximum message size: a 1500-octet MTU minus an IPv6 (40) and a UDP (8)
/// header, so no message is fragmented on an Ethernet path to an IPv4 or IPv6 collector.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 1452;

/// Smallest accepted maximum message size: the templates must fit in one message.
pub const MIN_MAX_MESSAGE_SIZE: usize = 512;

/// The sampling in force, announced to collectors so they scale counts back up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SamplingAnnouncement {
    /// Every packet is metered: nothing is announced.
    #[default]
    None,
    /// Every N-th packet (systematic count-based). IPFIX: selectorAlgorithm 1,
    /// samplingPacketInterval 1, samplingPacketSpace N-1; v9: SAMPLING_ALGORITHM 1; v5: mode 1.
    Deterministic {
        /// N.
        interval: u32,
    },
    /// Each packet with probability 1/N. IPFIX: selectorAlgorithm 3 (random n-out-of-N),
    /// samplingSize 1, samplingPopulation N; v9: SAMPLING_ALGORITHM 2; v5: mode 2.
    Random {
        /// N.
        interval: u32,
    },
    /// 1 in N flows chosen by a hash of the flow key. No IANA selector names our hash, so
    /// it is announced as random 1-in-N, which is what it is to a collector scaling counts.
    FlowHash {
        /// N.
        interval: u32,
    },
}

impl SamplingAnnouncement {
    /// N of 1-in-N (1 when not sampling).
    pub fn interval(self) -> u32 {
        match self {
            SamplingAnnouncement::None => 1,
            SamplingAnnouncement::Deterministic { interval }
            | SamplingAnnouncement::Random { interval }
            | SamplingAnnouncement::FlowHash { interval } => interval.max(1),
        }
    }

    /// Whether anything is announced.
    pub fn is_sampling(self) -> bool {
        !matches!(self, SamplingAnnouncement::None)
    }

    fn is_deterministic(self) -> bool {
        matches!(self, SamplingAnnouncement::Deterministic { .. })
    }

    fn option_values(self, domain_id: u32) -> OptionValues {
        let n = self.interval();
        let mut v = OptionValues {
            domain_id,
            sampling_interval: n,
            ..OptionValues::default()
        };
        if self.is_deterministic() {
            v.selector_algorithm = selector_algorithm::SYSTEMATIC_COUNT_BASED;
            v.packet_interval = 1;
            v.packet_space = n - 1;
            v.sampling_algorithm = v9_sampling_algorithm::DETERMINISTIC;
        } else {
            v.selector_algorithm = selector_algorithm::RANDOM_N_OUT_OF_N;
            v.sampling_size = 1;
            v.sampling_population = n;
            v.sampling_algorithm = v9_sampling_algorithm::RANDOM;
        }
        v
    }
}

/// Everything a collector or file sink can be told.
#[derive(Clone, Debug)]
pub struct ExportOptions {
    /// IPFIX observation domain id / v9 source id / v5 engine (type = bits 8..16,
    /// id = bits 0..8).
    pub observation_domain_id: u32,
    /// Template (and options record) refresh interval over UDP. Default 60 s.
    pub template_refresh: Duration,
    /// Templates are also resent every this many messages over UDP (0 = never by count).
    /// Default 100.
    pub template_refresh_packets: u32,
    /// Largest message in octets (whole IPFIX message / v9 or v5 packet, UDP payload).
    /// Default [`DEFAULT_MAX_MESSAGE_SIZE`]; at least [`MIN_MAX_MESSAGE_SIZE`], at most 65535.
    pub max_message_size: usize,
    /// UDP socket send buffer (SO_SNDBUF) in octets; `None` keeps the system default.
    pub udp_send_buffer: Option<usize>,
    /// UDP pacing in messages per second; `None` sends as fast as records come (live).
    /// Use `Some(DEFAULT_PACING)` for offline conversion.
    pub pacing: Option<u32>,
    /// The sampling to announce.
    pub sampling: SamplingAnnouncement,
    /// IPFIX over TCP: queue, backoff and timeouts.
    pub tcp: TcpSettings,
    /// Packets the metering process ignored (undecodable, filtered), announced in the
    /// statistics options record as ignoredPacketTotalCount; `None` announces 0.
    pub ignored_packets: Option<Arc<AtomicU64>>,
}

impl Default for ExportOptions {
    fn default() -> ExportOptions {
        ExportOptions {
            observation_domain_id: 0,
            template_refresh: Duration::from_secs(60),
            template_refresh_packets: 100,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            udp_send_buffer: None,
            pacing: None,
            sampling: SamplingAnnouncement::None,
            tcp: TcpSettings::default(),
            ignored_packets: None,
        }
    }
}

/// Why a sink could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The collector URL did not resolve.
    #[error(transparent)]
    Url(#[from] CollectorUrlError),
    /// The UDP socket could not be set up.
    #[error("collector {url}: cannot set up the UDP socket: {source}")]
    Socket {
        /// The collector.
        url: String,
        /// The OS error.
        source: io::Error,
    },
    /// The IPFIX file could not be created.
    #[error("IPFIX file {path}: cannot create: {source}")]
    File {
        /// The path.
        path: String,
        /// The OS error.
        source: io::Error,
    },
    /// An option out of range.
    #[error("export option {option}: {reason}")]
    BadOption {
        /// The option name.
        option: &'static str,
        /// What is wrong.
        reason: String,
    },
}

fn check_options(opts: &ExportOptions) -> Result<(), ExportError> {
    if !(MIN_MAX_MESSAGE_SIZE..=65535).contains(&opts.max_message_size) {
        return Err(ExportError::BadOption {
            option: "max_message_size",
            reason: format!(
                "{} is outside {MIN_MAX_MESSAGE_SIZE}..=65535 octets",
                opts.max_message_size
            ),
        });
    }
    if opts.pacing == Some(0) {
        return Err(ExportError::BadOption {
            option: "pacing",
            reason: "0 messages per second".into(),
        });
    }
    Ok(())
}

/// A sink sending to one collector, with the protocol and transport its URL names.
pub fn collector_sink(
    url: &CollectorUrl,
    opts: &ExportOptions,
) -> Result<Box<dyn RecordSink>, ExportError> {
    check_options(opts)?;
    let peer = url.resolve()?;
    let udp = || {
        UdpTransport::new(peer, opts.udp_send_buffer, opts.pacing).map_err(|source| {
            ExportError::Socket {
                url: url.to_string(),
                source,
            }
        })
    };
    Ok(match url.protocol {
        CollectorProtocol::Ipfix => {
            Box::new(TemplateSink::new(Dialect::Ipfix, Box::new(udp()?), opts))
        }
        CollectorProtocol::NetflowV9 => Box::new(TemplateSink::new(
            Dialect::NetflowV9,
            Box::new(udp()?),
            opts,
        )),
        CollectorProtocol::IpfixTcp => Box::new(TemplateSink::new(
            Dialect::Ipfix,
            Box::new(TcpTransport::new(peer, opts.tcp)),
            opts,
        )),
        CollectorProtocol::NetflowV5 => Box::new(V5Sink::new(Box::new(udp()?), opts)),
    })
}

/// A sink writing an RFC 5655 IPFIX file at `path` (created or truncated).
pub fn ipfix_file_sink(
    path: &Path,
    opts: &ExportOptions,
) -> Result<Box<dyn RecordSink>, ExportError> {
    check_options(opts)?;
    let file = FileTransport::create(path).map_err(|source| ExportError::File {
        path: path.display().to_string(),
        source,
    })?;
    Ok(Box::new(TemplateSink::new(
        Dialect::Ipfix,
        Box::new(file),
        opts,
    )))
}

/// IPFIX or NetFlow v9 to one transport.
pub struct TemplateSink {
    dialect: Dialect,
    builder: MessageBuilder,
    transport: Box<dyn Transport>,
    policy: TemplatePolicy,
    /// Flow templates: IPv4, IPv6, IPv4 ICMP, ICMPv6.
    flow_templates: [&'static Template; 4],
    sampling_template: Option<&'static Template>,
    stats_template: &'static Template,
    sampling_values: OptionValues,
    domain_id: u32,
    refresh: Duration,
    refresh_packets: u32,
    ignored_packets: Option<Arc<AtomicU64>>,
    /// IPFIX: data records sent, mod 2^32. v9: export packets sent, mod 2^32.
    sequence: u32,
    clock: UptimeClock,
    templates_sent: Option<Timestamp>,
    messages_since_templates: u32,
    options_sent: Option<Timestamp>,
    sessions_seen: u64,
    stats: SinkStats,
}

impl TemplateSink {
    /// A sink for `dialect` over `transport`.
    pub fn new(
        dialect: Dialect,
        transport: Box<dyn Transport>,
        opts: &ExportOptions,
    ) -> TemplateSink {
        let (flow_templates, stats_template): ([&'static Template; 4], _) = match dialect {
            Dialect::Ipfix => (
                [&IPFIX_IPV4, &IPFIX_IPV6, &IPFIX_IPV4_ICMP, &IPFIX_IPV6_ICMP],
                &IPFIX_STATS,
            ),
            Dialect::NetflowV9 => (
                [&V9_IPV4, &V9_IPV6, &V9_IPV4_ICMP, &V9_IPV6_ICMP],
                &V9_STATS,
            ),
        };
        let sampling_template = match (dialect, opts.sampling) {
            (_, SamplingAnnouncement::None) => None,
            (Dialect::NetflowV9, _) => Some(&V9_SAMPLING),
            (Dialect::Ipfix, s) if s.is_deterministic() => Some(&IPFIX_SAMPLING_SYSTEMATIC),
            (Dialect::Ipfix, _) => Some(&IPFIX_SAMPLING_RANDOM),
        };
        let max = opts.max_message_size.clamp(MIN_MAX_MESSAGE_SIZE, 65535);
        let mut sink = TemplateSink {
            dialect,
            builder: MessageBuilder::new(dialect, max),
            policy: transport.template_policy(),
            transport,
            flow_templates,
            sampling_template,
            stats_template,
            sampling_values: opts.sampling.option_values(opts.observation_domain_id),
            domain_id: opts.observation_domain_id,
            refresh: opts.template_refresh,
            refresh_packets: opts.template_refresh_packets,
            ignored_packets: opts.ignored_packets.clone(),
            sequence: 0,
            clock: UptimeClock::default(),
            templates_sent: None,
            messages_since_templates: 0,
            options_sent: None,
            sessions_seen: 0,
            stats: SinkStats::default(),
        };
        if sink.policy == TemplatePolicy::Preamble {
            sink.write_templates();
            let msg = sink.builder.finish();
            let len = msg.len() as u16;
            ipfix::Header {
                length: len,
                export_time: 0,
                sequence: 0,
                domain_id: sink.domain_id,
            }
            .emit(msg);
            sink.transport.set_preamble(msg);
            sink.builder.reset();
        }
        sink
    }

    fn templates(&self) -> impl Iterator<Item = &'static Template> {
        self.flow_templates
            .into_iter()
            .map(Some)
            .chain([self.sampling_template, Some(self.stats_template)])
            .flatten()
    }

    /// Writes every template into the (empty) current message.
    fn write_templates(&mut self) {
        let dialect = self.dialect;
        for t in self.templates() {
            let set = if t.is_options() {
                dialect.options_template_set_id()
            } else {
                dialect.template_set_id()
            };
            if let Some(slot) = self.builder.record(set, t.template_record_len()) {
                emit_template(dialect, t, slot);
            }
            if t.is_options() {
                // One options template per set: nfdump reads only the first of a set.
                self.builder.close_set();
            }
        }
    }

    fn option_values(&self) -> OptionValues {
        OptionValues {
            domain_id: self.domain_id,
            messages: self.stats.messages,
            flow_records: self.stats.records,
            octets: self.stats.bytes,
            ignored_packets: self
                .ignored_packets
                .as_ref()
                .map_or(0, |c| c.load(Ordering::Relaxed)),
            not_sent_flows: self.stats.records_lost + self.stats.not_exportable,
            ..self.sampling_values
        }
    }

    fn write_options_records(&mut self) {
        let values = self.option_values();
        for t in [self.sampling_template, Some(self.stats_template)]
            .into_iter()
            .flatten()
        {
            if let Some(slot) = self.builder.record(t.id, t.record_len()) {
                emit_options_record(t.fields, &values, slot);
            }
        }
    }

    /// At the start of a message: templates and options records if they are due.
    fn open_message(&mut self, now: Timestamp) {
        if !self.builder.is_empty() {
            return;
        }
        let elapsed = |since: Option<Timestamp>| since.map(|t| now.saturating_since(t));
        let templates_due = match self.policy {
            TemplatePolicy::Refresh => match elapsed(self.templates_sent) {
                None => true,
                Some(e) => {
                    e >= self.refresh
                        || (self.refresh_packets > 0
                            && self.messages_since_templates >= self.refresh_packets)
                }
            },
            TemplatePolicy::Once => self.templates_sent.is_none(),
            TemplatePolicy::Preamble => false,
        };
        let sessions = self.transport.sessions();
        let options_due = templates_due
            || elapsed(self.options_sent).map_or(true, |e| e >= self.refresh)
            || sessions != self.sessions_seen;
        if templates_due {
            self.write_templates();
            self.templates_sent = Some(now);
            self.messages_since_templates = 0;
        }
        if options_due {
            self.write_options_records();
            self.options_sent = Some(now);
            self.sessions_seen = sessions;
        }
    }

    /// Finishes the current message and hands it to the transport.
    fn flush(&mut self, now: Timestamp) -> io::Result<()> {
        if self.builder.is_empty() {
            return Ok(());
        }
        let (records, data, flows) = (
            self.builder.records,
            self.builder.data_records,
            self.builder.flow_records,
        );
        let msg = self.builder.finish();
        let length = msg.len() as u16;
        match self.dialect {
            Dialect::Ipfix => {
                let export_time = now.as_secs().min(u32::MAX as u64) as u32;
                ipfix::Header {
                    length,
                    export_time,
                    sequence: self.sequence,
                    domain_id: self.domain_id,
                }
                .emit(msg);
                self.sequence = self.sequence.wrapping_add(data);
            }
            Dialect::NetflowV9 => {
                self.clock.start(now.as_millis());
                let (unix_secs, sys_uptime) = self.clock.header(now.as_millis());
                netflow_v9::Header {
                    count: records,
                    sys_uptime,
                    unix_secs,
                    sequence: self.sequence,
                    source_id: self.domain_id,
                }
                .emit(msg);
                self.sequence = self.sequence.wrapping_add(1);
            }
        }
        self.messages_since_templates = self.messages_since_templates.saturating_add(1);
        let result = self.transport.send(msg, flows, data, &mut self.stats);
        self.builder.reset();
        result
    }

    fn add(&mut self, rec: &FlowRecord, now: Timestamp) -> io::Result<()> {
        let icmp = rec.key.is_icmp();
        let t = match rec.key.ip_version {
            4 if icmp => self.flow_templates[2],
            6 if icmp => self.flow_templates[3],
            4 => self.flow_templates[0],
            6 => self.flow_templates[1],
            _ => {
                self.stats.not_exportable += 1;
                return Ok(());
            }
        };
        if self.dialect == Dialect::NetflowV9 {
            let (start, end, now_ms) =
                (rec.start.as_millis(), rec.end.as_millis(), now.as_millis());
            self.clock.start(now_ms);
            if !self.clock.fits(start, end, now_ms) {
                self.flush(now)?;
                self.clock.rebase(start, now_ms);
            }
        }
        let len = t.record_len();
        self.open_message(now);
        if !self.builder.has_room(t.id, len) {
            self.flush(now)?;
            self.open_message(now);
        }
        let origin = self.clock.origin_ms();
        match self.builder.record(t.id, len) {
            Some(slot) => {
                emit_flow_record(t.fields, rec, origin, slot);
                self.builder.flow_records += 1;
            }
            // Cannot happen with max_message_size >= MIN_MAX_MESSAGE_SIZE.
            None => self.stats.not_exportable += 1,
        }
        Ok(())
    }
}

impl RecordSink for TemplateSink {
    fn export(&mut self, records: &[FlowRecord], now: Timestamp) -> io::Result<()> {
        for rec in records {
            self.add(rec, now)?;
        }
        self.transport.poll(&mut self.stats)
    }

    fn tick(&mut self, now: Timestamp) -> io::Result<()> {
        self.flush(now)?;
        // Templates and options on time even when no record flows.
        self.open_message(now);
        self.flush(now)?;
        self.transport.poll(&mut self.stats)
    }

    fn finish(&mut self, now: Timestamp) -> io::Result<()> {
        self.flush(now)?;
        // Final statistics, after everything else was counted as sent.
        self.open_message(now);
        if self.builder.is_empty() {
            self.write_options_records();
        }
        self.flush(now)?;
        self.transport.finish(&mut self.stats)
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Discard;
    impl Transport for Discard {
        fn send(&mut self, _: &[u8], _: u32, _: u32, _: &mut SinkStats) -> io::Result<()> {
            Ok(())
        }
        fn finish(&mut self, _: &mut SinkStats) -> io::Result<()> {
            Ok(())
        }
        fn template_policy(&self) -> TemplatePolicy {
            TemplatePolicy::Refresh
        }
    }

    /// Keeps every message.
    struct Keep(Arc<std::sync::Mutex<Vec<Vec<u8>>>>, TemplatePolicy);
    impl Transport for Keep {
        fn send(&mut self, msg: &[u8], _: u32, _: u32, _: &mut SinkStats) -> io::Result<()> {
            self.0
                .lock()
                .map_err(|_| io::ErrorKind::Other)?
                .push(msg.to_vec());
            Ok(())
        }
        fn finish(&mut self, _: &mut SinkStats) -> io::Result<()> {
            Ok(())
        }
        fn template_policy(&self) -> TemplatePolicy {
            self.1
        }
    }

    fn record(i: u32) -> FlowRecord {
        let mut key = crate::flow::key::FlowKey {
            proto: 17,
            src_port: 1,
            dst_port: 2,
            ..Default::default()
        };
        key.set_addrs(
            std::net::Ipv4Addr::from(i).into(),
            std::net::Ipv4Addr::from(!i).into(),
        );
        FlowRecord {
            key,
            start: Timestamp::from_secs_nanos(1_700_000_000, 0),
            end: Timestamp::from_secs_nanos(1_700_000_001, 0),
            packets: 1,
            octets: 100,
            tcp_flags: 0,
            min_ttl: 64,
            max_ttl: 64,
            src_mac: [0; 6],
            dst_mac: [0; 6],
            end_reason: crate::flow::record::EndReason::IdleTimeout,
            tunnel: Default::default(),
            direction: Default::default(),
            egress_if: 0,
            reverse: None,
        }
    }

    /// Whether a message carries a template set (set id 2 IPFIX / 0 v9 right after the header).
    fn has_templates(dialect: Dialect, msg: &[u8]) -> bool {
        let at = dialect.header_len();
        msg.get(at..at + 2) == Some(&dialect.template_set_id().to_be_bytes()[..])
    }

    /// Over UDP templates go first, then every `template_refresh_packets` messages and
    /// after `template_refresh` of export time; over a file, once.
    #[test]
    fn templates_first_and_refreshed_by_count_and_time() {
        for dialect in [Dialect::Ipfix, Dialect::NetflowV9] {
            let out = Arc::new(std::sync::Mutex::new(Vec::new()));
            let opts = ExportOptions {
                template_refresh_packets: 3,
                template_refresh: Duration::from_secs(60),
                ..ExportOptions::default()
            };
            let mut sink = TemplateSink::new(
                dialect,
                Box::new(Keep(out.clone(), TemplatePolicy::Refresh)),
                &opts,
            );
            let t0 = Timestamp::from_secs_nanos(1_700_000_002, 0);
            let records: Vec<FlowRecord> = (0..200).map(record).collect();
            sink.export(&records, t0).unwrap();
            sink.tick(t0).unwrap();
            let n = out.lock().unwrap().len();
            assert!(n >= 9, "{n} messages");
            let with: Vec<bool> = out
                .lock()
                .unwrap()
                .iter()
                .map(|m| has_templates(dialect, m))
                .collect();
            // Messages 0, 3, 6, ... carry templates; the others do not.
            for (i, w) in with.iter().enumerate() {
                assert_eq!(*w, i % 3 == 0, "{dialect:?} message {i}: {with:?}");
            }
            // By time: 61 s later a tick sends them even without records.
            out.lock().unwrap().clear();
            let opts = ExportOptions {
                template_refresh_packets: 0,
                ..opts
            };
            let mut sink = TemplateSink::new(
                dialect,
                Box::new(Keep(out.clone(), TemplatePolicy::Refresh)),
                &opts,
            );
            sink.export(&records[..5], t0).unwrap();
            sink.tick(t0.saturating_add(Duration::from_secs(30)))
                .unwrap();
            sink.tick(t0.saturating_add(Duration::from_secs(61)))
                .unwrap();
            let msgs = out.lock().unwrap().clone();
            assert_eq!(msgs.len(), 2, "{dialect:?}");
            assert!(has_templates(dialect, &msgs[0]) && has_templates(dialect, &msgs[1]));
        }
        // A file gets them once.
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let opts = ExportOptions {
            template_refresh_packets: 3,
            ..ExportOptions::default()
        };
        let mut sink = TemplateSink::new(
            Dialect::Ipfix,
            Box::new(Keep(out.clone(), TemplatePolicy::Once)),
            &opts,
        );
        let records: Vec<FlowRecord> = (0..200).map(record).collect();
        let t0 = Timestamp::from_secs_nanos(1_700_000_002, 0);
        sink.export(&records, t0).unwrap();
        sink.finish(t0.saturating_add(Duration::from_secs(3600)))
            .unwrap();
        let with: Vec<bool> = out
            .lock()
            .unwrap()
            .iter()
            .map(|m| has_templates(Dialect::Ipfix, m))
            .collect();
        assert!(with[0] && with[1..].iter().all(|w| !w), "{with:?}");
    }

    /// Every template and options record fits in one message of the smallest allowed size.
    #[test]
    fn templates_fit_the_smallest_message() {
        for dialect in [Dialect::Ipfix, Dialect::NetflowV9] {
            for sampling in [
                SamplingAnnouncement::None,
                SamplingAnnouncement::Deterministic { interval: 3 },
                SamplingAnnouncement::Random { interval: 3 },
            ] {
                let opts = ExportOptions {
                    max_message_size: MIN_MAX_MESSAGE_SIZE,
                    sampling,
                    ..ExportOptions::default()
                };
                let mut sink = TemplateSink::new(dialect, Box::new(Discard), &opts);
                sink.write_templates();
                sink.write_options_records();
                let expect = if sampling.is_sampling() { 8 } else { 6 };
                assert_eq!(sink.builder.records, expect, "{dialect:?} {sampling:?}");
                assert!(sink.builder.finish().len() <= MIN_MAX_MESSAGE_SIZE);
            }
        }
    }
}
