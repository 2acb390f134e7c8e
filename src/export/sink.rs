//! The collector and file sinks: records in, IPFIX / NetFlow v9 / v5 messages out.
//!
//! [`collector_sink`] and [`ipfix_file_sink`] are what the exporter thread builds from the
//! command line. Each sink owns its encoder state (sequence numbers, template timers, the
//! v9 uptime origin) *per collector*, as the specs require, and one transport.
//!
//! Template handling (IPFIX and v9, [`TemplateSink`]):
//! - Each record is sent with the template of its *shape* (`template::Shape`: IP version,
//!   ICMP or not, tunnel, direction, egress interface, biflow). The four plain shapes
//!   (IPv4 256, IPv6 257, ICMP 258, ICMPv6 259) are announced from the start, as before
//!   shapes existed; any other shape's template goes into the message of the first record
//!   that needs it, and from then on with the others.
//! - UDP: the data templates announced so far and the options templates (sampling 260 if
//!   any, statistics 261) open the first message, and again the first message after
//!   `template_refresh` (time) or `template_refresh_packets` messages, whichever comes
//!   first; `tick` sends them even when no record flows. Many shapes can take more than
//!   one message.
//! - TCP: the transport sends the templates at the start of every connection (the
//!   preamble, rebuilt when a shape is announced, so a reconnect knows every shape).
//! - File: once, first (a new shape's template in-band, before its first record).
//!
//! Biflows (RFC 5103): a sink built with `biflow` exports each biflow record as one record
//! with the reverse elements (IPFIX only; v9 and v5 cannot carry them and refuse the
//! option). Any other sink splits a biflow record into its two uniflow records
//! (`FlowRecord::uniflows`), so it exports every packet once whatever the cache does.
//!
//! Options *records* (the sampling announcement, the exporter statistics) follow the
//! templates, and are repeated every `template_refresh` on every transport, after a TCP
//! reconnect, and at `finish` (the statistics).
//!
//! Inspected fields (`--inspect`, [`ExportOptions::inspect`]; IPFIX only, v9 and v5 carry
//! none): a record whose packets showed something gets the template of its shape *and*
//! its presence set (which inspected elements have a value), made on first use
//! (`template::InspectedTemplate`, ids from 483 in order of first use), so no element
//! is sent empty and numbers need no sentinel; a record that showed nothing keeps its
//! shape's template, byte for byte what it was without inspection. At most
//! [`MAX_INSPECTED_TEMPLATES`] inspected templates per sink (over TCP also what fits the
//! 65535-octet preamble beside every shape); past that a new presence set goes out with
//! the announced template of its shape that has the most of its fields and none it lacks
//! (the plain shape at worst), and the fields left out are counted and logged. With
//! `community-id` inspected, every record carries the Community ID of its own key (a
//! split biflow's two records have the same one), whether or not its packets showed
//! anything, so then no record keeps its plain shape. With inspection on, the RFC 5610
//! options template (482) is announced with the others, and each of flowprobe's
//! enterprise elements (inspected or tunnel) gets a type record after the first template
//! that uses it, again at each template refresh, and after each new TCP connection's
//! preamble (so records queued while a TCP collector was down reach the new connection
//! before the type records do: the preamble can hold no data record).
//!
//! `--inspect tcp` and `splt` add the record's TCP health and timing shape to the same
//! presence set (`template::INSPECTED`, 46 elements): a record shows what the CSV row of
//! the same record shows (a whole record its own direction's counts and SYN options, a
//! biflow's reverse ones, its sequences and statistics; a part of a split biflow its own
//! direction's only). A template larger than a message (the widest shape with every
//! element in 512 octets) leaves out its last elements, and a record that cannot fit a
//! message even with empty strings leaves out its two splt lists; both counted with the
//! fields past the template bound.
//!
//! Messages are flushed when full, on `tick` (so a record waits at most about a second of
//! export time) and at `finish`.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::collector::{CollectorProtocol, CollectorUrl, CollectorUrlError};
use super::ie::{selector_algorithm, v9_sampling_algorithm, Ie};
use super::netflow_v5::V5Sink;
use super::netflow_v9::UptimeClock;
use super::stats::SinkStats;
use super::template::*;
use super::transport::{
    FileTransport, TcpSettings, TcpTransport, TemplatePolicy, Transport, UdpTransport,
};
use super::{ipfix, netflow_v9, RecordSink};
use crate::flow::record::{FlowDirection, FlowRecord};
use crate::flow::tunnel::TunnelKind;
use crate::inspect::community_id::CommunityId;
use crate::inspect::{Inspection, Seen};
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
    /// Export biflow records (RFC 5103) with the reverse elements, IPFIX only. The IPFIX
    /// file sink takes it from here; [`collector_sink`] sets it from the URL
    /// (`?biflow=1`). Default false: biflow records are split into uniflow records.
    pub biflow: bool,
    /// What an `sflow://` collector's sink needs beyond its URL: its place among the
    /// sFlow collectors, the agent address, where interface counters come from.
    pub sflow: crate::sflow::SflowSinkOptions,
    /// Payload inspection (`--inspect`, `[inspect]`): when on, IPFIX sinks carry the
    /// inspected fields (and RFC 5610 type records for flowprobe's elements); NetFlow v9
    /// and v5 never do. Default off: every output is what it was without inspection.
    pub inspect: crate::inspect::InspectConfig,
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
            biflow: false,
            sflow: crate::sflow::SflowSinkOptions::default(),
            inspect: crate::inspect::InspectConfig::default(),
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
    if url.biflow && !url.protocol.carries_biflows() {
        return Err(ExportError::BadOption {
            option: "biflow",
            reason: format!("collector {url}: NetFlow v9 and v5 cannot carry biflows"),
        });
    }
    let opts = &ExportOptions {
        biflow: url.biflow,
        ..opts.clone()
    };
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
        CollectorProtocol::Sflow => Box::new(crate::sflow::SflowSink::new(
            opts.sflow.collector,
            opts.sflow.agent,
            opts.max_message_size,
            Box::new(udp()?),
            opts.sflow.counters.clone(),
        )),
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

/// Most inspected templates (distinct shape and presence set) one IPFIX sink announces.
/// A few dozen occur in practice (each protocol's request and response sides, whole and
/// split biflows, IP versions); the bound keeps a UDP refresh (every template, every
/// `template_refresh_packets` messages) and the sink's memory (some 300 octets a
/// template) bounded whatever the traffic. Past it, see `TemplateSink::inspected_template`.
pub const MAX_INSPECTED_TEMPLATES: usize = 1024;

/// A template to announce: a fixed one, or an inspected one (shared, so announcing it
/// copies no field list).
enum AnyTemplate {
    Fixed(Template<'static>),
    Inspected(Arc<InspectedTemplate>),
}

impl AnyTemplate {
    fn get(&self) -> Template<'_> {
        match self {
            AnyTemplate::Fixed(t) => *t,
            AnyTemplate::Inspected(t) => t.template(),
        }
    }
}

/// Octets of a TCP preamble with every template the sink could announce but the
/// inspected ones: the header, every shape of its biflow setting, and the options
/// templates, with a set header for each at worst. The inspected templates get the rest
/// of the 65535 octets a message can have, so a new shape always finds room.
fn preamble_reserve(
    dialect: Dialect,
    biflow: bool,
    sampling: Option<&Template<'_>>,
    stats: &Template<'_>,
    inspecting: bool,
) -> usize {
    let shapes: usize = (0..SHAPES)
        .map(Shape::from_index)
        .filter(|s| s.biflow == biflow)
        .map(|s| 4 + shape_template(dialect, s).template_record_len())
        .sum();
    let options: usize = [sampling, Some(stats), inspecting.then_some(&IPFIX_IE_TYPES)]
        .into_iter()
        .flatten()
        .map(|t| 4 + t.template_record_len())
        .sum();
    dialect.header_len() + shapes + options
}

/// IPFIX or NetFlow v9 to one transport.
pub struct TemplateSink {
    dialect: Dialect,
    builder: MessageBuilder,
    transport: Box<dyn Transport>,
    policy: TemplatePolicy,
    /// Biflow records are exported whole (IPFIX), else split into uniflows.
    biflow: bool,
    /// Shapes whose data template was announced (bit per shape index).
    announced: [u64; SHAPES.div_ceil(64)],
    /// The announced shapes' indices in the order they were first used.
    announced_order: Vec<u16>,
    sampling_template: Option<&'static Template<'static>>,
    stats_template: &'static Template<'static>,
    /// Inspection is on and this is IPFIX: inspected fields, RFC 5610 type records.
    inspecting: bool,
    /// IPFIX with `community-id` inspected: every record's Community ID, with this seed.
    community_id_seed: Option<u16>,
    /// The inspected templates, in the order they were first used (ids from
    /// `FIRST_INSPECTED_TEMPLATE_ID`), and their index by (shape index, presence set).
    inspected: Vec<Arc<InspectedTemplate>>,
    inspected_by_key: HashMap<(u16, u64), usize>,
    /// Octets the inspected templates take in a template set.
    inspected_template_octets: usize,
    /// TCP: octets of the preamble if every shape of this sink were announced; inspected
    /// templates may take only what is left of 65535 - this.
    preamble_reserve: usize,
    /// flowprobe's enterprise elements announced so far (`flowprobe_element_bit`), whose
    /// RFC 5610 type records go with the templates.
    described: u128,
    /// The `--inspect tcp` / `splt` element groups the records carry.
    shape_groups: ShapeGroups,
    /// Inspected fields left out of records because no template could carry them (past
    /// `MAX_INSPECTED_TEMPLATES`).
    inspected_fields_dropped: u64,
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
        let stats_template = match dialect {
            Dialect::Ipfix => &IPFIX_STATS,
            Dialect::NetflowV9 => &V9_STATS,
        };
        let biflow = opts.biflow && dialect == Dialect::Ipfix;
        let sampling_template = match (dialect, opts.sampling) {
            (_, SamplingAnnouncement::None) => None,
            (Dialect::NetflowV9, _) => Some(&V9_SAMPLING),
            (Dialect::Ipfix, s) if s.is_deterministic() => Some(&IPFIX_SAMPLING_SYSTEMATIC),
            (Dialect::Ipfix, _) => Some(&IPFIX_SAMPLING_RANDOM),
        };
        let max = opts.max_message_size.clamp(MIN_MAX_MESSAGE_SIZE, 65535);
        let inspecting = dialect == Dialect::Ipfix && opts.inspect.is_enabled();
        let mut sink = TemplateSink {
            dialect,
            builder: MessageBuilder::new(dialect, max),
            policy: transport.template_policy(),
            transport,
            biflow,
            announced: [0; SHAPES.div_ceil(64)],
            announced_order: Vec::with_capacity(SHAPES),
            sampling_template,
            stats_template,
            inspecting,
            community_id_seed: (inspecting
                && opts
                    .inspect
                    .protocols
                    .has(crate::inspect::Protocol::CommunityId))
            .then_some(opts.inspect.community_id_seed),
            inspected: Vec::new(),
            inspected_by_key: HashMap::new(),
            inspected_template_octets: 0,
            preamble_reserve: preamble_reserve(
                dialect,
                biflow,
                sampling_template,
                stats_template,
                inspecting,
            ),
            described: 0,
            shape_groups: ShapeGroups {
                tcp: inspecting && opts.inspect.protocols.has(crate::inspect::Protocol::Tcp),
                splt: inspecting && opts.inspect.protocols.has(crate::inspect::Protocol::Splt),
                reverse: biflow,
            },
            inspected_fields_dropped: 0,
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
        // The plain shapes are known from the start, as the four templates always were.
        for i in 0..4 {
            let shape = Shape {
                biflow,
                ..Shape::from_index(i)
            };
            sink.mark_announced(shape);
        }
        if sink.policy == TemplatePolicy::Preamble {
            sink.rebuild_preamble();
        }
        sink
    }

    fn is_announced(&self, i: usize) -> bool {
        self.announced
            .get(i / 64)
            .is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn mark_announced(&mut self, shape: Shape) {
        let i = shape.index();
        if let Some(w) = self.announced.get_mut(i / 64) {
            *w |= 1 << (i % 64);
            self.announced_order.push(i as u16);
        }
    }

    /// Every template to announce: the announced shapes' templates, the inspected ones,
    /// then the options ones (the RFC 5610 type template when inspecting).
    fn template_at(&self, n: usize) -> Option<AnyTemplate> {
        let shapes = self.announced_order.len();
        if n < shapes {
            let i = *self.announced_order.get(n)?;
            return Some(AnyTemplate::Fixed(shape_template(
                self.dialect,
                Shape::from_index(i.into()),
            )));
        }
        let data = shapes + self.inspected.len();
        if n < data {
            return self
                .inspected
                .get(n - shapes)
                .cloned()
                .map(AnyTemplate::Inspected);
        }
        let types = self.inspecting.then_some(&IPFIX_IE_TYPES);
        [self.sampling_template, Some(self.stats_template), types]
            .into_iter()
            .flatten()
            .nth(n - data)
            .map(|t| AnyTemplate::Fixed(*t))
    }

    /// Writes one template record into `builder`; false if it did not fit.
    fn put_template(dialect: Dialect, builder: &mut MessageBuilder, t: &Template<'_>) -> bool {
        let set = if t.is_options() {
            dialect.options_template_set_id()
        } else {
            dialect.template_set_id()
        };
        let Some(slot) = builder.record(set, t.template_record_len()) else {
            return false;
        };
        emit_template(dialect, t, slot);
        if t.is_options() {
            // One options template per set: nfdump reads only the first of a set.
            builder.close_set();
        }
        true
    }

    /// Writes one template into the current message, sending the message first if full.
    fn write_template(&mut self, t: &Template<'_>, now: Timestamp) -> io::Result<()> {
        if !Self::put_template(self.dialect, &mut self.builder, t) {
            self.flush(now)?;
            if !Self::put_template(self.dialect, &mut self.builder, t) {
                // Cannot happen: the largest template fits the smallest message.
                self.stats.not_exportable += 1;
            }
        }
        Ok(())
    }

    /// Writes every template, starting in the current message (many shapes can take more
    /// than one message).
    fn write_templates(&mut self, now: Timestamp) -> io::Result<()> {
        let mut n = 0;
        while let Some(t) = self.template_at(n) {
            self.write_template(&t.get(), now)?;
            n += 1;
        }
        Ok(())
    }

    /// TCP: the message every connection starts with holds every template announced so
    /// far. It is built apart from the current message, as large as IPFIX allows (a TCP
    /// message is not bound by a path MTU), so it always holds every shape.
    fn rebuild_preamble(&mut self) {
        let mut b = MessageBuilder::new(self.dialect, 65535);
        let mut n = 0;
        while let Some(t) = self.template_at(n) {
            Self::put_template(self.dialect, &mut b, &t.get());
            n += 1;
        }
        let msg = b.finish();
        let len = msg.len() as u16;
        ipfix::Header {
            length: len,
            export_time: 0,
            sequence: 0,
            domain_id: self.domain_id,
        }
        .emit(msg);
        self.transport.set_preamble(msg);
    }

    /// A shape's first record: its template goes out first, in this message (and over TCP
    /// into the preamble of later connections).
    fn announce(&mut self, shape: Shape, now: Timestamp) -> io::Result<()> {
        self.mark_announced(shape);
        if self.policy == TemplatePolicy::Preamble {
            self.rebuild_preamble();
        }
        let t = shape_template(self.dialect, shape);
        self.write_template(&t, now)?;
        self.describe(t.fields, now)
    }

    /// Inspecting: the RFC 5610 type record of each of flowprobe's enterprise elements in
    /// `fields` not described yet, in this message, after the template that uses it.
    fn describe(&mut self, fields: &[Field], now: Timestamp) -> io::Result<()> {
        if !self.inspecting {
            return Ok(());
        }
        // A basicList's member element is described with the list.
        for ie in fields
            .iter()
            .flat_map(|f| [Some(f.ie), f.ie.list_member()])
            .flatten()
        {
            if let Some(bit) = flowprobe_element_bit(ie) {
                if self.described & bit == 0 {
                    self.described |= bit;
                    self.write_type_record(ie, now)?;
                }
            }
        }
        Ok(())
    }

    /// Writes the type record of `ie` into the current message, sending it first if full.
    fn write_type_record(&mut self, ie: Ie, now: Timestamp) -> io::Result<()> {
        let len = type_record_len(ie);
        if !self.builder.has_room(TEMPLATE_ID_IE_TYPES, len) {
            self.flush(now)?;
        }
        match self.builder.record(TEMPLATE_ID_IE_TYPES, len) {
            Some(slot) => emit_type_record(ie, slot),
            // Cannot happen: a type record is far smaller than the smallest message.
            None => self.stats.not_exportable += 1,
        }
        Ok(())
    }

    /// The type records of every element described so far (with the templates).
    fn write_type_records(&mut self, now: Timestamp) -> io::Result<()> {
        let described = self.described;
        for &ie in Ie::ALL {
            if flowprobe_element_bit(ie).is_some_and(|bit| described & bit != 0) {
                self.write_type_record(ie, now)?;
            }
        }
        Ok(())
    }

    /// The inspected template for shape index `shape` and presence set `presence`,
    /// announced (template, then type records) the first time. Past the bound (at most
    /// `MAX_INSPECTED_TEMPLATES`, and over TCP what the preamble has room for), a record
    /// whose template does not exist yet takes the announced template of its shape with
    /// the most of its fields and none it lacks, and its other fields are left out and
    /// counted; `None` when there is none (the record goes out with its plain shape).
    fn inspected_template(
        &mut self,
        shape: usize,
        presence: u64,
        now: Timestamp,
    ) -> io::Result<Option<Arc<InspectedTemplate>>> {
        let key = (shape as u16, presence);
        if let Some(&i) = self.inspected_by_key.get(&key) {
            return Ok(self.inspected.get(i).cloned());
        }
        let n = self.inspected.len();
        let id = FIRST_INSPECTED_TEMPLATE_ID as usize + n;
        let t = InspectedTemplate::new(id as u16, shape, presence);
        let octets = t.template().template_record_len();
        let fits_preamble = self.policy != TemplatePolicy::Preamble
            || self.preamble_reserve + self.inspected_template_octets + octets <= 65535;
        if n < MAX_INSPECTED_TEMPLATES && fits_preamble {
            let t = Arc::new(t);
            self.inspected.push(t.clone());
            self.inspected_by_key.insert(key, n);
            self.inspected_template_octets += octets;
            if self.policy == TemplatePolicy::Preamble {
                self.rebuild_preamble();
            }
            self.write_template(&t.template(), now)?;
            self.describe(t.template().fields, now)?;
            return Ok(Some(t));
        }
        let best = self
            .inspected
            .iter()
            .filter(|t| t.shape == shape && t.presence & !presence == 0)
            .max_by_key(|t| t.presence.count_ones())
            .cloned();
        let kept = best.as_ref().map_or(0, |t| t.presence);
        if self.inspected_fields_dropped == 0 {
            log::warn!(
                "IPFIX: more than {} inspected templates (distinct sets of inspected \
                 fields): records of a new set now go out with fewer fields",
                self.inspected.len()
            );
        }
        self.inspected_fields_dropped += u64::from((presence & !kept).count_ones());
        Ok(best)
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
    fn open_message(&mut self, now: Timestamp) -> io::Result<()> {
        if !self.builder.is_empty() {
            return Ok(());
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
            || elapsed(self.options_sent).is_none_or(|e| e >= self.refresh)
            || sessions != self.sessions_seen;
        // RFC 5610 type records go with the templates: at each refresh (UDP), and to each
        // new TCP connection after its preamble (an element's first record goes in-band,
        // after the first template using it: `describe`).
        let types_due = self.inspecting && (templates_due || sessions != self.sessions_seen);
        if templates_due {
            self.templates_sent = Some(now);
            self.messages_since_templates = 0;
            self.write_templates(now)?;
        }
        if types_due {
            self.write_type_records(now)?;
        }
        if options_due {
            self.write_options_records();
            self.options_sent = Some(now);
            self.sessions_seen = sessions;
        }
        Ok(())
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
        // Fast path for the plain shapes (no tunnel, direction, egress or biflow): their
        // index is the IP version and ICMP-ness, and they are announced from the start.
        let plain = !self.biflow
            && rec.tunnel.kind == TunnelKind::None
            && rec.direction == FlowDirection::Unknown
            && rec.egress_if == 0;
        let index = match (plain, rec.key.ip_version) {
            (true, 4) => 2 * usize::from(rec.key.is_icmp()),
            (true, 6) => 1 + 2 * usize::from(rec.key.is_icmp()),
            _ => match Shape::of(rec, self.dialect, self.biflow) {
                Some(shape) => shape.index(),
                None => {
                    self.stats.not_exportable += 1;
                    return Ok(());
                }
            },
        };
        let t = shape_template_at(self.dialect, index);
        if self.dialect == Dialect::NetflowV9 {
            let (start, end, now_ms) =
                (rec.start.as_millis(), rec.end.as_millis(), now.as_millis());
            self.clock.start(now_ms);
            if !self.clock.fits(start, end, now_ms) {
                self.flush(now)?;
                self.clock.rebase(start, now_ms);
            }
        }
        let len = shape_record_len(self.dialect, index);
        self.open_message(now)?;
        if !(plain || self.is_announced(index)) {
            self.announce(Shape::from_index(index), now)?;
        }
        if !self.builder.has_room(t.id, len) {
            self.flush(now)?;
            self.open_message(now)?;
            if !self.builder.has_room(t.id, len) {
                // The templates filled that message: the record opens the next one.
                self.flush(now)?;
            }
        }
        let origin = self.clock.origin_ms();
        match self.builder.record(t.id, len) {
            Some(slot) => {
                // The four plain shapes have an encoder of their own (fixed offsets).
                if !emit_plain_record(self.dialect, index, rec, origin, slot) {
                    emit_flow_record(t.fields, rec, origin, slot);
                }
                self.builder.flow_records += 1;
            }
            // Cannot happen with max_message_size >= MIN_MAX_MESSAGE_SIZE.
            None => self.stats.not_exportable += 1,
        }
        Ok(())
    }

    /// A record with inspected values (IPFIX, inspecting): its shape's fields, then the
    /// values, with the template of its shape and presence set. Strings are cut (at a
    /// character boundary) only when the record would not fit a message otherwise.
    fn add_inspected(
        &mut self,
        rec: &FlowRecord,
        values: &InspectedValues<'_>,
        now: Timestamp,
    ) -> io::Result<()> {
        let presence = values.presence();
        if presence == 0 {
            return self.add(rec, now);
        }
        let Some(shape) = Shape::of(rec, self.dialect, self.biflow) else {
            self.stats.not_exportable += 1;
            return Ok(());
        };
        // A template must fit one message: the widest shape with every application, tcp
        // and splt element does not fit the smallest (512). Its last elements (the splt
        // statistics first) are left out until it does, and counted.
        let room = self
            .builder
            .max()
            .saturating_sub(self.dialect.header_len() + 4);
        let mut fitting = presence;
        while fitting != 0 && inspected_template_record_len(shape.index(), fitting) > room {
            fitting &= !(1 << (63 - fitting.leading_zeros()));
        }
        if fitting != presence {
            self.inspected_fields_dropped += u64::from((presence & !fitting).count_ones());
            let mut v = *values;
            v.clear(presence & !fitting);
            return self.add_inspected(rec, &v, now);
        }
        self.open_message(now)?;
        let Some(t) = self.inspected_template(shape.index(), presence, now)? else {
            return self.add(rec, now);
        };
        // What one record may take: a message of its own, less header and set header.
        let budget = self
            .builder
            .max()
            .saturating_sub(self.dialect.header_len() + 4 + t.fixed_len);
        let Some(cap) = values.string_cap(t.presence, budget) else {
            // The numbers, empty strings and lists take at most some 430 octets: only a
            // record of the widest shape with 32-entry splt lists in the smallest message
            // size (512) does not fit. It goes out without its two lists (counted).
            let without_lists = presence & !SPLT_LIST_BITS;
            if without_lists != presence {
                let n = (presence & SPLT_LIST_BITS).count_ones();
                self.inspected_fields_dropped += u64::from(n);
                let mut v = *values;
                v.clear(SPLT_LIST_BITS);
                return self.add_inspected(rec, &v, now);
            }
            self.stats.not_exportable += 1;
            return Ok(());
        };
        let len = t.fixed_len + values.encoded_len(t.presence, cap);
        if !self.builder.has_room(t.id, len) {
            self.flush(now)?;
            self.open_message(now)?;
            if !self.builder.has_room(t.id, len) {
                self.flush(now)?;
            }
        }
        match self.builder.record(t.id, len) {
            Some(slot) => {
                let (fixed, inspected) = slot.split_at_mut(t.fixed_len.min(slot.len()));
                emit_flow_record(t.shape_fields(), rec, 0, fixed);
                values.emit(t.presence, cap, inspected);
                self.builder.flow_records += 1;
            }
            None => self.stats.not_exportable += 1,
        }
        Ok(())
    }

    /// One record as `export_inspected` hands it: `seen` is (first, second) of
    /// [`InspectedValues::of`].
    fn add_seen(
        &mut self,
        rec: &FlowRecord,
        seen: Option<(&Seen, Option<&Seen>)>,
        shape: ShapeSource<'_>,
        now: Timestamp,
    ) -> io::Result<()> {
        let community_id = self
            .community_id_seed
            .and_then(|seed| crate::inspect::community_id::community_id_bytes(&rec.key, seed));
        let values = match seen {
            Some((first, second)) => InspectedValues::of(first, second),
            None => InspectedValues::default(),
        }
        .with_community_id(community_id.as_ref().map(CommunityId::as_str))
        .with_shape(
            self.shape_groups,
            rec.key.proto == crate::flow::key::PROTO_TCP,
            shape,
        );
        self.add_inspected(rec, &values, now)
    }

    /// Inspected fields left out of records so far because no template could carry them
    /// (past [`MAX_INSPECTED_TEMPLATES`]).
    pub fn inspected_fields_dropped(&self) -> u64 {
        self.inspected_fields_dropped
    }
}

impl RecordSink for TemplateSink {
    fn export(&mut self, records: &[FlowRecord], now: Timestamp) -> io::Result<()> {
        if self.community_id_seed.is_some() {
            // Records without findings still carry their Community ID.
            return self.export_inspected(records, &[], now);
        }
        for rec in records {
            if rec.reverse.is_some() && !self.biflow {
                for uniflow in rec.uniflows() {
                    self.add(&uniflow, now)?;
                }
            } else {
                self.add(rec, now)?;
            }
        }
        self.transport.poll(&mut self.stats)
    }

    /// IPFIX with inspection on: every record carries its inspected fields. A biflow
    /// record split into uniflow records (the sink does not export biflows) gives its
    /// forward findings to the forward record and its reverse findings to the reverse one.
    fn export_inspected(
        &mut self,
        records: &[FlowRecord],
        inspections: &[Option<Box<Inspection>>],
        now: Timestamp,
    ) -> io::Result<()> {
        if !self.inspecting {
            return self.export(records, now);
        }
        for (i, rec) in records.iter().enumerate() {
            let insp = inspections.get(i).and_then(|x| x.as_deref());
            match rec.reverse {
                Some(rev) if !self.biflow => {
                    // `uniflows` yields the forward record if it has packets, then the
                    // reverse one if it has.
                    // Each part shows its own direction's notes and counts, and no
                    // sequence or statistics (those are the whole record's).
                    let mut parts = rec.uniflows();
                    let shape = insp.and_then(|x| x.shape.as_deref());
                    if rec.packets > 0 {
                        if let Some(u) = parts.next() {
                            let src = ShapeSource {
                                own: insp.map(|x| &x.forward),
                                own_counts: shape.map(|s| &s.forward),
                                ..ShapeSource::default()
                            };
                            self.add_seen(&u, insp.map(|x| (&x.forward, None)), src, now)?;
                        }
                    }
                    if rev.packets > 0 {
                        if let Some(u) = parts.next() {
                            let src = ShapeSource {
                                own: insp.map(|x| &x.reverse),
                                own_counts: shape.map(|s| &s.reverse),
                                ..ShapeSource::default()
                            };
                            self.add_seen(&u, insp.map(|x| (&x.reverse, None)), src, now)?;
                        }
                    }
                }
                _ => {
                    let shape = insp.and_then(|x| x.shape.as_deref());
                    let src = ShapeSource {
                        own: insp.map(|x| &x.forward),
                        other: insp.map(|x| &x.reverse),
                        own_counts: shape.map(|s| &s.forward),
                        other_counts: shape.map(|s| &s.reverse),
                        whole: shape,
                    };
                    self.add_seen(rec, insp.map(|x| (&x.forward, Some(&x.reverse))), src, now)?
                }
            }
        }
        self.transport.poll(&mut self.stats)
    }

    fn tick(&mut self, now: Timestamp) -> io::Result<()> {
        self.flush(now)?;
        // Templates and options on time even when no record flows.
        self.open_message(now)?;
        self.flush(now)?;
        self.transport.poll(&mut self.stats)
    }

    fn finish(&mut self, now: Timestamp) -> io::Result<()> {
        self.flush(now)?;
        // Final statistics, after everything else was counted as sent.
        self.open_message(now)?;
        if self.builder.is_empty() {
            self.write_options_records();
        }
        self.flush(now)?;
        if self.inspected_fields_dropped > 0 {
            log::warn!(
                "IPFIX: {} inspected fields were left out of records (more than {} \
                 inspected templates, or a record or template larger than a message)",
                self.inspected_fields_dropped,
                self.inspected.len()
            );
        }
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
        fn send(
            &mut self,
            msg: &[u8],
            flows: u32,
            _: u32,
            stats: &mut SinkStats,
        ) -> io::Result<()> {
            stats.records += u64::from(flows);
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
        /// The connection starts with the first preamble; later ones would only start
        /// later connections, so in-band templates must cover what they add.
        fn set_preamble(&mut self, msg: &[u8]) {
            if let Ok(mut out) = self.0.lock() {
                if out.is_empty() {
                    out.push(msg.to_vec());
                }
            }
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
            packets: 1,
            octets: 100,
            min_ttl: 64,
            max_ttl: 64,
            ..FlowRecord::new(
                key,
                Timestamp::from_secs_nanos(1_700_000_000, 0),
                Timestamp::from_secs_nanos(1_700_000_001, 0),
            )
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

    /// The template ids a message defines and the data set ids it uses, in order:
    /// `(defined, used)`. Walks sets and template records (enterprise specifiers too).
    fn walk(dialect: Dialect, msg: &[u8]) -> (Vec<u16>, Vec<u16>) {
        let u16_at = |at: usize| u16::from_be_bytes([msg[at], msg[at + 1]]);
        let (mut defined, mut used) = (Vec::new(), Vec::new());
        let mut at = dialect.header_len();
        while at + 4 <= msg.len() {
            let (id, len) = (u16_at(at), u16_at(at + 2) as usize);
            assert!(len >= 4 && at + len <= msg.len(), "set at {at}");
            if id == dialect.template_set_id() {
                let mut r = at + 4;
                while r + 4 <= at + len {
                    defined.push(u16_at(r));
                    let n = u16_at(r + 2);
                    r += 4;
                    for _ in 0..n {
                        let enterprise = dialect == Dialect::Ipfix && u16_at(r) & 0x8000 != 0;
                        r += if enterprise { 8 } else { 4 };
                    }
                }
            } else if id == dialect.options_template_set_id() {
                // One options template per set (see `put_template`).
                defined.push(u16_at(at + 4));
            } else if id >= 256 {
                used.push(id);
            }
            at += len;
        }
        (defined, used)
    }

    fn shaped(i: u32) -> FlowRecord {
        use crate::flow::record::{FlowDirection, ReverseCounters};
        use crate::flow::tunnel::{Tunnel, TunnelKind};
        let mut r = record(i);
        r.tunnel = match i % 4 {
            0 => Tunnel::default(),
            1 => Tunnel {
                kind: TunnelKind::Vxlan,
                id: i,
                outer_ip_version: 4,
                ..Tunnel::default()
            },
            2 => Tunnel {
                kind: TunnelKind::Gre,
                id: i,
                outer_ip_version: 6,
                ..Tunnel::default()
            },
            _ => Tunnel {
                kind: TunnelKind::GtpU,
                id: i,
                outer_ip_version: 4,
                ..Tunnel::default()
            },
        };
        r.direction = [
            FlowDirection::Unknown,
            FlowDirection::Ingress,
            FlowDirection::Egress,
        ][(i / 4 % 3) as usize];
        r.egress_if = i / 12 % 2;
        if i.is_multiple_of(5) {
            r.reverse = Some(ReverseCounters {
                packets: 2,
                octets: 200,
                ..ReverseCounters::default()
            });
        }
        r
    }

    /// Every data set follows a template for its id, in the same or an earlier message, on
    /// every transport policy; and a TCP preamble holds every shape used.
    #[test]
    fn every_shape_is_announced_before_its_first_record() {
        for dialect in [Dialect::Ipfix, Dialect::NetflowV9] {
            for biflow in [false, true] {
                for policy in [
                    TemplatePolicy::Refresh,
                    TemplatePolicy::Once,
                    TemplatePolicy::Preamble,
                ] {
                    if policy == TemplatePolicy::Preamble && dialect == Dialect::NetflowV9 {
                        continue;
                    }
                    let out = Arc::new(std::sync::Mutex::new(Vec::new()));
                    let opts = ExportOptions {
                        biflow,
                        ..ExportOptions::default()
                    };
                    let mut sink =
                        TemplateSink::new(dialect, Box::new(Keep(out.clone(), policy)), &opts);
                    let records: Vec<FlowRecord> = (0..500).map(shaped).collect();
                    let t0 = Timestamp::from_secs_nanos(1_700_000_002, 0);
                    sink.export(&records, t0).unwrap();
                    sink.finish(t0).unwrap();
                    // Records: biflows split unless the sink exports biflows (IPFIX).
                    let whole = biflow && dialect == Dialect::Ipfix;
                    let expect: usize = if whole {
                        500
                    } else {
                        records.iter().map(|r| r.uniflows().count()).sum()
                    };
                    assert_eq!(sink.stats().records, expect as u64);
                    let mut known = std::collections::HashSet::new();
                    let mut shapes_used = std::collections::HashSet::new();
                    for msg in out.lock().unwrap().iter() {
                        let (defined, used) = walk(dialect, msg);
                        known.extend(defined);
                        for id in used {
                            assert!(known.contains(&id), "{dialect:?} {policy:?}: {id}");
                            shapes_used.insert(id);
                        }
                    }
                    // More than the four plain shapes were needed.
                    assert!(shapes_used.len() > 8, "{shapes_used:?}");
                    if policy == TemplatePolicy::Preamble {
                        let mut b = MessageBuilder::new(dialect, 65535);
                        let mut n = 0;
                        while let Some(t) = sink.template_at(n) {
                            assert!(TemplateSink::put_template(dialect, &mut b, &t.get()));
                            n += 1;
                        }
                        let (defined, _) = walk(dialect, b.finish());
                        for id in &shapes_used {
                            assert!(defined.contains(id), "preamble lacks {id}");
                        }
                    }
                }
            }
        }
    }

    /// Refreshing many shapes' templates takes more than one message when it must, and no
    /// message exceeds the maximum.
    #[test]
    fn many_shapes_refresh_over_several_messages() {
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let opts = ExportOptions {
            max_message_size: MIN_MAX_MESSAGE_SIZE,
            template_refresh_packets: 1,
            biflow: true,
            ..ExportOptions::default()
        };
        let mut sink = TemplateSink::new(
            Dialect::Ipfix,
            Box::new(Keep(out.clone(), TemplatePolicy::Refresh)),
            &opts,
        );
        let records: Vec<FlowRecord> = (0..200).map(shaped).collect();
        let t0 = Timestamp::from_secs_nanos(1_700_000_002, 0);
        sink.export(&records, t0).unwrap();
        sink.finish(t0).unwrap();
        let msgs = out.lock().unwrap();
        assert!(msgs.iter().all(|m| m.len() <= MIN_MAX_MESSAGE_SIZE));
        let mut known = std::collections::HashSet::new();
        for msg in msgs.iter() {
            let (defined, used) = walk(Dialect::Ipfix, msg);
            known.extend(defined);
            assert!(used.iter().all(|id| known.contains(id)));
        }
        assert_eq!(sink.stats().records, 200, "{:?}", sink.stats());
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
                sink.write_templates(Timestamp(0)).unwrap();
                sink.write_options_records();
                let expect = if sampling.is_sampling() { 8 } else { 6 };
                assert_eq!(sink.builder.records, expect, "{dialect:?} {sampling:?}");
                assert!(sink.builder.finish().len() <= MIN_MAX_MESSAGE_SIZE);
            }
        }
    }

    /// A `Seen` with field `k` (in `INSPECTED` order) set when bit `k` of `mask` is.
    fn seen_with(mask: u32) -> Seen {
        let s = |k: u32| (mask & (1 << k) != 0).then(|| format!("v{k}"));
        let n = |k: u32| (mask & (1 << k) != 0).then_some(k as u16 + 1);
        Seen {
            app: (mask & 1 != 0).then_some(crate::inspect::App::Dns),
            tls_sni: s(1),
            tls_alpn: s(2),
            tls_version: n(3),
            tls_cipher: n(4),
            ja4: s(5),
            ja3: s(6),
            dns_qname: s(7),
            dns_qtype: n(8),
            dns_rcode: (mask & 1 << 9 != 0).then_some(9),
            dns_answers: n(10),
            http_host: s(11),
            http_method: s(12),
            http_target: s(13),
            http_user_agent: s(14),
            http_status: n(15),
            ssh_client: s(16),
            ssh_server: s(17),
            hassh: s(18),
            ..Seen::default()
        }
    }

    fn inspecting() -> ExportOptions {
        ExportOptions {
            inspect: crate::inspect::InspectConfig {
                protocols: crate::inspect::ProtocolSet::all(),
                ..crate::inspect::InspectConfig::default()
            },
            ..ExportOptions::default()
        }
    }

    fn run(
        dialect: Dialect,
        policy: TemplatePolicy,
        opts: &ExportOptions,
        records: &[FlowRecord],
        inspections: Option<&[Option<Box<Inspection>>]>,
    ) -> (Vec<Vec<u8>>, TemplateSink) {
        let out = Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut sink = TemplateSink::new(dialect, Box::new(Keep(out.clone(), policy)), opts);
        let t0 = Timestamp::from_secs_nanos(1_700_000_002, 0);
        match inspections {
            Some(i) => sink.export_inspected(records, i, t0).unwrap(),
            None => sink.export(records, t0).unwrap(),
        }
        sink.finish(t0).unwrap();
        let msgs = out.lock().unwrap().clone();
        (msgs, sink)
    }

    #[test]
    fn seen_fields_map_to_the_inspected_elements_in_column_order() {
        // The application elements: 19 findings and the Community ID (the tcp and splt
        // ones come from the shape: `template` tests them).
        let cid = 19u32;
        for k in 0..cid {
            let seen = seen_with(1 << k);
            assert_eq!(InspectedValues::of(&seen, None).presence(), 1 << k);
        }
        let all = (1u64 << (cid + 1)) - 1;
        let seen = seen_with(all as u32);
        let values = InspectedValues::of(&seen, None).with_community_id(Some("1:x"));
        assert_eq!(values.presence(), all);
        assert_eq!(INSPECTED[cid as usize], Ie::CommunityId);
        // An empty string is no value: nothing is sent empty.
        let empty = Seen {
            tls_sni: Some(String::new()),
            ..Seen::default()
        };
        assert_eq!(InspectedValues::of(&empty, None).presence(), 0);
    }

    /// Without inspection, and over NetFlow v9 with it, `export_inspected` sends exactly
    /// what `export` sends.
    #[test]
    fn off_and_v9_are_byte_for_byte_what_they_were() {
        let records: Vec<FlowRecord> = (0..300).map(shaped).collect();
        let inspections: Vec<Option<Box<Inspection>>> = (0..300u32)
            .map(|i| {
                // Every other record with a TCP/splt shape too (v9 carries none of it).
                let shape = (i % 2 == 0).then(|| {
                    use crate::inspect::splt::{Shape, ShapeConfig, ShapePacket};
                    let config = ShapeConfig { splt_packets: 10 };
                    let mut s =
                        Shape::first(config, ShapePacket::new(Timestamp(1_000_000), 0, 0, false));
                    s.add(
                        config,
                        ShapePacket::new(Timestamp(2_000_000 + u64::from(i)), 100, 1, true),
                    );
                    Box::new(s)
                });
                Some(Box::new(Inspection {
                    forward: seen_with(i * 7919 % (1 << 19)),
                    reverse: seen_with(i),
                    shape,
                }))
            })
            .collect();
        for (dialect, opts) in [
            (Dialect::Ipfix, ExportOptions::default()),
            (Dialect::NetflowV9, ExportOptions::default()),
            (Dialect::NetflowV9, inspecting()),
        ] {
            let policy = TemplatePolicy::Refresh;
            let (plain, _) = run(dialect, policy, &ExportOptions::default(), &records, None);
            let (got, _) = run(dialect, policy, &opts, &records, Some(&inspections));
            assert_eq!(plain, got, "{dialect:?}");
        }
    }

    /// Inspected records: one template per (shape, presence set), each announced before
    /// its first record on every policy; a record that showed nothing keeps its shape's
    /// template; the RFC 5610 template and the type records of the elements used go out.
    #[test]
    fn inspected_templates_are_keyed_by_shape_and_presence() {
        let records: Vec<FlowRecord> = (0..400).map(shaped).collect();
        let inspections: Vec<Option<Box<Inspection>>> = (0..400u32)
            .map(|i| {
                (i % 3 != 0).then(|| {
                    Box::new(Inspection {
                        forward: seen_with([0x3, 0x107, 0x8019, 0x7_0001][i as usize % 4]),
                        reverse: seen_with([0, 0x8000, 0x780][i as usize % 3]),
                        shape: None,
                    })
                })
            })
            .collect();
        for biflow in [false, true] {
            for policy in [
                TemplatePolicy::Refresh,
                TemplatePolicy::Once,
                TemplatePolicy::Preamble,
            ] {
                let opts = ExportOptions {
                    biflow,
                    ..inspecting()
                };
                let (msgs, sink) = run(Dialect::Ipfix, policy, &opts, &records, Some(&inspections));
                let mut known = std::collections::HashSet::new();
                let mut used = std::collections::HashSet::new();
                let mut with_types = 0;
                for (n, msg) in msgs.iter().enumerate() {
                    let (defined, ids) = walk(Dialect::Ipfix, msg);
                    known.extend(defined);
                    with_types += usize::from(ids.contains(&TEMPLATE_ID_IE_TYPES));
                    for id in ids {
                        assert!(known.contains(&id), "{policy:?} message {n}: {id}");
                        used.insert(id);
                    }
                }
                // UDP: the type records are repeated with the templates (every 100
                // messages here, besides the in-band first ones).
                if policy == TemplatePolicy::Refresh {
                    let refreshes = msgs.len().div_ceil(100);
                    assert!(with_types > refreshes, "{with_types} of {}", msgs.len());
                }
                // Each inspected template is a distinct (shape, presence set).
                let keys: std::collections::HashSet<_> = sink
                    .inspected
                    .iter()
                    .map(|t| (t.shape, t.presence))
                    .collect();
                assert_eq!(keys.len(), sink.inspected.len());
                assert!(sink.inspected.len() > 8, "{}", sink.inspected.len());
                for t in &sink.inspected {
                    assert!(used.contains(&t.id), "{policy:?}: {} unused", t.id);
                    assert_eq!(
                        t.template().fields.len(),
                        shape_template_at(Dialect::Ipfix, t.shape).fields.len()
                            + t.presence.count_ones() as usize
                    );
                }
                // The type records were sent: every inspected enterprise element used.
                assert!(used.contains(&TEMPLATE_ID_IE_TYPES), "{policy:?}");
                let wanted = sink
                    .inspected
                    .iter()
                    .flat_map(|t| t.template().fields.to_vec())
                    .filter_map(|f| flowprobe_element_bit(f.ie))
                    .fold(0, |a, b| a | b);
                assert_eq!(sink.described & wanted, wanted);
                assert_eq!(sink.inspected_fields_dropped(), 0);
                if policy == TemplatePolicy::Preamble {
                    let mut b = MessageBuilder::new(Dialect::Ipfix, 65535);
                    let mut n = 0;
                    while let Some(t) = sink.template_at(n) {
                        assert!(TemplateSink::put_template(Dialect::Ipfix, &mut b, &t.get()));
                        n += 1;
                    }
                }
            }
        }
    }

    /// UDP: each template refresh (a message whose templates start again with 256) is
    /// followed by the type records of every element described so far.
    #[test]
    fn type_records_are_refreshed_with_the_templates() {
        let records: Vec<FlowRecord> = (0..600).map(shaped).collect();
        let inspections: Vec<Option<Box<Inspection>>> = (0..600u32)
            .map(|i| {
                Some(Box::new(Inspection {
                    forward: seen_with([0x3, 0x107, 0x7_0001][i as usize % 3]),
                    reverse: Seen::default(),
                    shape: None,
                }))
            })
            .collect();
        let opts = ExportOptions {
            template_refresh_packets: 4,
            ..inspecting()
        };
        let policy = TemplatePolicy::Refresh;
        let (msgs, sink) = run(Dialect::Ipfix, policy, &opts, &records, Some(&inspections));
        // Data set ids in order over all messages, and where each refresh starts.
        let mut sets = Vec::new();
        let mut refresh_at = Vec::new();
        for msg in &msgs {
            let (defined, ids) = walk(Dialect::Ipfix, msg);
            if defined.first() == Some(&TEMPLATE_ID_IPV4) {
                refresh_at.push(sets.len());
            }
            sets.extend(ids);
        }
        let first_types = sets.iter().position(|&id| id == TEMPLATE_ID_IE_TYPES);
        let mut refreshes = 0;
        for &at in refresh_at.iter().filter(|&&at| Some(at) > first_types) {
            // The type records come before the next flow record.
            let next = sets[at..]
                .iter()
                .find(|&&id| id != TEMPLATE_ID_STATS && id != TEMPLATE_ID_SAMPLING);
            assert_eq!(next, Some(&TEMPLATE_ID_IE_TYPES), "refresh at set {at}");
            refreshes += 1;
        }
        assert!(refreshes > 5, "{refreshes}");
        assert!(sink.described.count_ones() >= 8);
    }

    /// The widest record (IPv6 in IPv6 GRE, direction, egress, biflow, TCP) with every
    /// tcp and splt element (32-entry sequences) and long strings still goes out in the
    /// smallest message (512): strings are cut first, and when even empty strings do not
    /// fit, the two splt lists are left out (counted), never the record.
    #[test]
    fn the_widest_shaped_record_fits_the_smallest_message() {
        use crate::flow::record::{FlowDirection, ReverseCounters};
        use crate::flow::tunnel::{Tunnel, TunnelKind};
        use crate::inspect::splt::{Shape as SpltShape, ShapeConfig, ShapePacket};
        use crate::inspect::tcp::TcpOptions;
        let mut r = record(1);
        r.key.proto = crate::flow::key::PROTO_TCP;
        r.key.set_addrs(
            std::net::Ipv6Addr::LOCALHOST.into(),
            std::net::Ipv6Addr::UNSPECIFIED.into(),
        );
        r.tunnel = Tunnel {
            kind: TunnelKind::Gre,
            id: 7,
            outer_ip_version: 6,
            ..Tunnel::default()
        };
        r.direction = FlowDirection::Egress;
        r.egress_if = 3;
        r.reverse = Some(ReverseCounters {
            packets: 2,
            octets: 200,
            ..ReverseCounters::default()
        });
        let config = ShapeConfig { splt_packets: 32 };
        let mut shape = SpltShape::first(config, ShapePacket::new(Timestamp(1_000), 0, 0, false));
        for k in 1..40u64 {
            shape.add(
                config,
                ShapePacket::new(Timestamp(1_000 + k * 1_000_000), 1448, 1, k % 2 == 0),
            );
        }
        let options = Some(TcpOptions {
            mss: Some(1460),
            wscale: Some(7),
            sack_ok: true,
            timestamps: true,
            bitmap: 0xb880_0000_0000_0000,
        });
        let seen = |rtt| Seen {
            tls_sni: Some("s".repeat(300)),
            http_user_agent: Some("u".repeat(300)),
            tcp_options: options,
            server_rtt_us: Some(rtt),
            client_rtt_us: Some(rtt),
            ..seen_with((1 << 19) - 1)
        };
        let inspections = vec![Some(Box::new(Inspection {
            forward: seen(10),
            reverse: seen(20),
            shape: Some(Box::new(shape)),
        }))];
        let opts = ExportOptions {
            biflow: true,
            max_message_size: 512,
            inspect: crate::inspect::InspectConfig {
                splt_packets: 32,
                ..inspecting().inspect
            },
            ..ExportOptions::default()
        };
        let (msgs, sink) = run(
            Dialect::Ipfix,
            TemplatePolicy::Refresh,
            &opts,
            &[r],
            Some(&inspections),
        );
        assert!(msgs.iter().all(|m| m.len() <= 512));
        let stats = sink.stats();
        assert_eq!((stats.records, stats.not_exportable), (1, 0), "{stats:?}");
        // Its template does not fit 512 octets with every element: the last ones are left
        // out (and the record fits without cutting its lists).
        let dropped = sink.inspected_fields_dropped();
        assert!((1..=10).contains(&dropped), "{dropped}");
        // With the default message size, nothing is left out.
        let opts = ExportOptions {
            max_message_size: ExportOptions::default().max_message_size,
            ..opts
        };
        let (_, sink) = run(
            Dialect::Ipfix,
            TemplatePolicy::Refresh,
            &opts,
            &[r],
            Some(&inspections),
        );
        assert_eq!(sink.inspected_fields_dropped(), 0);
        assert_eq!(sink.stats().not_exportable, 0);
    }

    /// Past `MAX_INSPECTED_TEMPLATES` presence sets, a record takes the largest announced
    /// template with no field it lacks; what it leaves out is counted; every record still
    /// goes out after its template; over TCP the preamble keeps room for every shape.
    #[test]
    fn inspected_templates_are_bounded() {
        let n = MAX_INSPECTED_TEMPLATES + 200;
        let records: Vec<FlowRecord> = (0..n as u32).map(record).collect();
        let inspections: Vec<Option<Box<Inspection>>> = (0..n as u32)
            .map(|i| {
                Some(Box::new(Inspection {
                    forward: seen_with(i + 1),
                    reverse: Seen::default(),
                    shape: None,
                }))
            })
            .collect();
        for policy in [TemplatePolicy::Refresh, TemplatePolicy::Preamble] {
            let (msgs, sink) = run(
                Dialect::Ipfix,
                policy,
                &inspecting(),
                &records,
                Some(&inspections),
            );
            assert_eq!(sink.stats().records, n as u64);
            assert!(sink.inspected_fields_dropped() > 0);
            if policy == TemplatePolicy::Refresh {
                assert_eq!(sink.inspected.len(), MAX_INSPECTED_TEMPLATES);
            } else {
                // All shapes' templates and the inspected ones fit one TCP message.
                assert!(sink.inspected.len() >= 100, "{}", sink.inspected.len());
                assert!(
                    sink.preamble_reserve + sink.inspected_template_octets <= 65535,
                    "{} + {}",
                    sink.preamble_reserve,
                    sink.inspected_template_octets
                );
            }
            let mut known = std::collections::HashSet::new();
            for msg in &msgs {
                let (defined, ids) = walk(Dialect::Ipfix, msg);
                known.extend(defined);
                assert!(ids.iter().all(|id| known.contains(id)));
            }
        }
    }
}
