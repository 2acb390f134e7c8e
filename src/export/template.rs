//! Templates and the message builder shared by the IPFIX and NetFlow v9 encoders.
//!
//! IPFIX (RFC 7011) grew out of NetFlow v9 (RFC 3954): both send a message header, then
//! sets (v9 "FlowSets") of template records, options template records and data records.
//! They differ in the header, the set ids of template sets (2/3 vs 0/1), the options
//! template record layout, the timestamps and v9's padding of FlowSets to 32 bits. So
//! this module holds what is common: the static template tables (one field list per
//! record kind and dialect), the code that writes a record's fields, and
//! [`MessageBuilder`], which packs sets into one reusable buffer that never grows past
//! the configured maximum message size. Nothing here allocates per record: the buffer is
//! allocated once with the maximum message size as capacity.
//!
//! Template ids (both dialects): 256 IPv4 flows, 257 IPv6 flows, 258 IPv4 ICMP flows,
//! 259 ICMPv6 flows, 260 the sampling announcement (options), 261 exporter statistics
//! (options).
//!
//! ICMP flows get their own templates, with the ICMP type/code element and without
//! transport ports, and other flows carry ports and no ICMP element: an element present
//! with a meaningless zero is read as data by collectors (nfdump 1.7 takes an IPFIX
//! `icmpTypeCodeIPv4` of 0 as the destination port of an SCTP flow, for instance).

use super::ie::Ie;
use crate::flow::record::FlowRecord;

/// Template id of the IPv4 flow template.
pub const TEMPLATE_ID_IPV4: u16 = 256;
/// Template id of the IPv6 flow template.
pub const TEMPLATE_ID_IPV6: u16 = 257;
/// Template id of the IPv4 ICMP flow template.
pub const TEMPLATE_ID_IPV4_ICMP: u16 = 258;
/// Template id of the IPv6 ICMPv6 flow template.
pub const TEMPLATE_ID_IPV6_ICMP: u16 = 259;
/// Template id of the sampling options template.
pub const TEMPLATE_ID_SAMPLING: u16 = 260;
/// Template id of the exporter statistics options template.
pub const TEMPLATE_ID_STATS: u16 = 261;

/// Which of the two template-based protocols a template or message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// IPFIX, RFC 7011.
    Ipfix,
    /// NetFlow version 9, RFC 3954.
    NetflowV9,
}

impl Dialect {
    /// Length of the message header.
    pub const fn header_len(self) -> usize {
        match self {
            Dialect::Ipfix => 16,
            Dialect::NetflowV9 => 20,
        }
    }

    /// Set id of a template set.
    pub const fn template_set_id(self) -> u16 {
        match self {
            Dialect::Ipfix => 2,
            Dialect::NetflowV9 => 0,
        }
    }

    /// Set id of an options template set.
    pub const fn options_template_set_id(self) -> u16 {
        match self {
            Dialect::Ipfix => 3,
            Dialect::NetflowV9 => 1,
        }
    }

    /// Sets are padded to this alignment (RFC 3954 section 5.3 pads FlowSets to 32 bits;
    /// IPFIX needs no padding and we send none).
    const fn set_alignment(self) -> usize {
        match self {
            Dialect::Ipfix => 1,
            Dialect::NetflowV9 => 4,
        }
    }
}

/// One field specifier of a template: the element and its encoded length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The Information Element / field type.
    pub ie: Ie,
    /// Encoded length in octets.
    pub len: u16,
}

const fn f(ie: Ie) -> Field {
    Field {
        ie,
        len: ie.length(),
    }
}

/// A template: id, how many leading fields are scope fields (options templates), fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template {
    /// Template id (256 and up).
    pub id: u16,
    /// Number of scope fields at the start of `fields`; 0 for a data template.
    pub scope_fields: u16,
    /// The field specifiers, in wire order.
    pub fields: &'static [Field],
}

impl Template {
    /// Length of one data record of this template.
    pub const fn record_len(&self) -> usize {
        let mut total = 0;
        let mut i = 0;
        while i < self.fields.len() {
            total += self.fields[i].len as usize;
            i += 1;
        }
        total
    }

    /// Length of this template's record inside a template set.
    pub const fn template_record_len(&self) -> usize {
        let head = if self.scope_fields > 0 { 6 } else { 4 };
        head + 4 * self.fields.len()
    }

    /// Whether this is an options template.
    pub const fn is_options(&self) -> bool {
        self.scope_fields > 0
    }
}

use Ie::*;

/// IPFIX IPv4 flow template (not ICMP): every field of the record, absolute
/// millisecond times.
pub const IPFIX_IPV4: Template = Template {
    id: TEMPLATE_ID_IPV4,
    scope_fields: 0,
    fields: &[
        f(SourceIpv4Address),
        f(DestinationIpv4Address),
        f(SourceTransportPort),
        f(DestinationTransportPort),
        f(ProtocolIdentifier),
        f(IpClassOfService),
        f(TcpControlBits),
        f(OctetDeltaCount),
        f(PacketDeltaCount),
        f(IngressInterface),
        f(VlanId),
        f(SourceMacAddress),
        f(DestinationMacAddress),
        f(MinimumTtl),
        f(MaximumTtl),
        f(FlowEndReason),
        f(FlowStartMilliseconds),
        f(FlowEndMilliseconds),
    ],
};

/// IPFIX IPv6 flow template (not ICMPv6).
pub const IPFIX_IPV6: Template = Template {
    id: TEMPLATE_ID_IPV6,
    scope_fields: 0,
    fields: &[
        f(SourceIpv6Address),
        f(DestinationIpv6Address),
        f(SourceTransportPort),
        f(DestinationTransportPort),
        f(ProtocolIdentifier),
        f(IpClassOfService),
        f(TcpControlBits),
        f(OctetDeltaCount),
        f(PacketDeltaCount),
        f(IngressInterface),
        f(VlanId),
        f(SourceMacAddress),
        f(DestinationMacAddress),
        f(MinimumTtl),
        f(MaximumTtl),
        f(FlowEndReason),
        f(FlowStartMilliseconds),
        f(FlowEndMilliseconds),
    ],
};

/// IPFIX IPv4 ICMP flow template: icmpTypeCodeIPv4 instead of ports.
pub const IPFIX_IPV4_ICMP: Template = Template {
    id: TEMPLATE_ID_IPV4_ICMP,
    scope_fields: 0,
    fields: &[
        f(SourceIpv4Address),
        f(DestinationIpv4Address),
        f(ProtocolIdentifier),
        f(IpClassOfService),
        f(TcpControlBits),
        f(OctetDeltaCount),
        f(PacketDeltaCount),
        f(IngressInterface),
        f(VlanId),
        f(SourceMacAddress),
        f(DestinationMacAddress),
        f(IcmpTypeCodeIpv4),
        f(MinimumTtl),
        f(MaximumTtl),
        f(FlowEndReason),
        f(FlowStartMilliseconds),
        f(FlowEndMilliseconds),
    ],
};

/// IPFIX ICMPv6 flow template: icmpTypeCodeIPv6 instead of ports.
pub const IPFIX_IPV6_ICMP: Template = Template {
    id: TEMPLATE_ID_IPV6_ICMP,
    scope_fields: 0,
    fields: &[
        f(SourceIpv6Address),
        f(DestinationIpv6Address),
        f(ProtocolIdentifier),
        f(IpClassOfService),
        f(TcpControlBits),
        f(OctetDeltaCount),
        f(PacketDeltaCount),
        f(IngressInterface),
        f(VlanId),
        f(SourceMacAddress),
        f(DestinationMacAddress),
        f(IcmpTypeCodeIpv6),
        f(MinimumTtl),
        f(MaximumTtl),
        f(FlowEndReason),
        f(FlowStartMilliseconds),
        f(FlowEndMilliseconds),
    ],
};

/// NetFlow v9 IPv4 flow template (not ICMP): sysUpTime-relative FIRST/LAST_SWITCHED, no
/// end reason (v9 has no field for it).
pub const V9_IPV4: Template = Template {
    id: TEMPLATE_ID_IPV4,
    scope_fields: 0,
    fields: &[
        f(SourceIpv4Address),
        f(DestinationIpv4Address),
        f(SourceTransportPort),
        f(DestinationTransportPort),
        f(ProtocolIdentifier),
        f(IpClassOfService),
        f(TcpControlBits),
        f(OctetDeltaCount),
        f(PacketDeltaCount),
        f(IngressInterface),
        f(VlanId),
        f(SourceMacAddress),
        f(DestinationMacAddress),
        f(MinimumTtl),
        f(MaximumTtl),
        f(FlowStartSysUpTime),
        f(FlowEndSysUpTime),
    ],
};

/// NetFlow v9 IPv6 flow template (not ICMPv6).
pub const V9_IPV6: Template = Template {
    id: TEMPLATE_ID_IPV6,
    scope_fields: 0,
    fields: &[
        f(SourceIpv6Address),
        f(DestinationIpv6Address),
        f(SourceTransportPort),
        f(DestinationTransportPort),
        f(ProtocolIdentifier),
        f(IpClassOfService),
        f(TcpControlBits),
        f(OctetDeltaCount),
        f(PacketDeltaCount),
        f(IngressInterface),
        f(VlanId),
        f(SourceMacAddress),
        f(DestinationMacAddress),
        f(MinimumTtl),
        f(MaximumTtl),
        f(FlowStartSysUpTime),
        f(FlowEndSysUpTime),
    ],
};

/// NetFlow v9 IPv4 ICMP flow template: ICMP_TYPE (type * 256 + code) instead of ports.
pub const V9_IPV4_ICMP: Template = Template {
    id: TEMPLATE_ID_IPV4_ICMP,
    scope_fields: 0,
    fields: &[
        f(SourceIpv4Address),
        f(DestinationIpv4Address),
        f(ProtocolIdentifier),
        f(IpClassOfService),
        f(TcpControlBits),
        f(OctetDeltaCount),
        f(PacketDeltaCount),
        f(IngressInterface),
        f(VlanId),
        f(SourceMacAddress),
        f(DestinationMacAddress),
        f(IcmpTypeCodeIpv4),
        f(MinimumTtl),
        f(MaximumTtl),
        f(FlowStartSysUpTime),
        f(FlowEndSysUpTime),
    ],
};

/// NetFlow v9 ICMPv6 flow template. RFC 3954 defines only ICMP_TYPE (32) for ICMP type
/// and code, so ICMPv6 type/code goes in it too, as v9 exporters do.
pub const V9_IPV6_ICMP: Template = Template {
    id: TEMPLATE_ID_IPV6_ICMP,
    scope_fields: 0,
    fields: &[
        f(SourceIpv6Address),
        f(DestinationIpv6Address),
        f(ProtocolIdentifier),
        f(IpClassOfService),
        f(TcpControlBits),
        f(OctetDeltaCount),
        f(PacketDeltaCount),
        f(IngressInterface),
        f(VlanId),
        f(SourceMacAddress),
        f(DestinationMacAddress),
        f(IcmpTypeCodeIpv4),
        f(MinimumTtl),
        f(MaximumTtl),
        f(FlowStartSysUpTime),
        f(FlowEndSysUpTime),
    ],
};

/// IPFIX sampling options, systematic count-based (1 in N): scope observationDomainId;
/// selectorAlgorithm 1, samplingPacketInterval 1, samplingPacketSpace N-1 (RFC 5477), plus
/// the deprecated samplingInterval N / samplingAlgorithm 1 that many collectors
/// (nfdump among them) still read.
pub const IPFIX_SAMPLING_SYSTEMATIC: Template = Template {
    id: TEMPLATE_ID_SAMPLING,
    scope_fields: 1,
    fields: &[
        f(ObservationDomainId),
        f(SelectorAlgorithm),
        f(SamplingPacketInterval),
        f(SamplingPacketSpace),
        f(SamplingInterval),
        f(SamplingAlgorithm),
    ],
};

/// IPFIX sampling options, random n-out-of-N: selectorAlgorithm 3, samplingSize 1,
/// samplingPopulation N, plus samplingInterval N / samplingAlgorithm 2.
pub const IPFIX_SAMPLING_RANDOM: Template = Template {
    id: TEMPLATE_ID_SAMPLING,
    scope_fields: 1,
    fields: &[
        f(ObservationDomainId),
        f(SelectorAlgorithm),
        f(SamplingSize),
        f(SamplingPopulation),
        f(SamplingInterval),
        f(SamplingAlgorithm),
    ],
};

/// IPFIX exporter statistics: scope observationDomainId.
pub const IPFIX_STATS: Template = Template {
    id: TEMPLATE_ID_STATS,
    scope_fields: 1,
    fields: &[
        f(ObservationDomainId),
        f(ExportedMessageTotalCount),
        f(ExportedFlowRecordTotalCount),
        f(ExportedOctetTotalCount),
        f(IgnoredPacketTotalCount),
        f(NotSentFlowTotalCount),
    ],
};

/// v9 sampling options: scope System (the source id), SAMPLING_INTERVAL, SAMPLING_ALGORITHM.
/// The scope field is written with the v9 scope type 1 (System) by [`emit_template`].
pub const V9_SAMPLING: Template = Template {
    id: TEMPLATE_ID_SAMPLING,
    scope_fields: 1,
    fields: &[
        f(ObservationDomainId),
        f(SamplingInterval),
        f(SamplingAlgorithm),
    ],
};

/// v9 exporter statistics: scope System, TOTAL_PKTS_EXP, TOTAL_FLOWS_EXP, TOTAL_BYTES_EXP.
pub const V9_STATS: Template = Template {
    id: TEMPLATE_ID_STATS,
    scope_fields: 1,
    fields: &[
        f(ObservationDomainId),
        f(ExportedMessageTotalCount),
        f(ExportedFlowRecordTotalCount),
        f(ExportedOctetTotalCount),
    ],
};

/// The values an options record can carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OptionValues {
    /// Observation domain id / v9 source id (the scope).
    pub domain_id: u32,
    /// selectorAlgorithm (IANA PSAMP value).
    pub selector_algorithm: u16,
    /// samplingPacketInterval.
    pub packet_interval: u32,
    /// samplingPacketSpace.
    pub packet_space: u32,
    /// samplingSize.
    pub sampling_size: u32,
    /// samplingPopulation.
    pub sampling_population: u32,
    /// samplingInterval (v9 SAMPLING_INTERVAL): N of 1-in-N.
    pub sampling_interval: u32,
    /// samplingAlgorithm (v9 values: 1 deterministic, 2 random).
    pub sampling_algorithm: u8,
    /// Messages sent so far.
    pub messages: u64,
    /// Flow records sent so far.
    pub flow_records: u64,
    /// Octets of messages sent so far.
    pub octets: u64,
    /// Packets the metering process ignored (undecodable, filtered).
    pub ignored_packets: u64,
    /// Flow records not sent (lost to send errors, not exportable).
    pub not_sent_flows: u64,
}

/// Writes the low `out.len()` octets of `v`, big-endian (reduced-size encoding of
/// unsigned integers, RFC 7011 section 6.2).
fn put_uint(out: &mut [u8], v: u64) {
    let bytes = v.to_be_bytes();
    let n = out.len().min(8);
    if let (Some(dst), Some(src)) = (out.get_mut(..n), bytes.get(8 - n..)) {
        dst.copy_from_slice(src);
    }
}

fn put_bytes(out: &mut [u8], v: &[u8]) {
    let n = out.len().min(v.len());
    if let (Some(dst), Some(src)) = (out.get_mut(..n), v.get(..n)) {
        dst.copy_from_slice(src);
    }
}

/// Writes one flow record with `fields` into `out` (exactly the template's record length).
/// `uptime_origin_ms` is the v9 sysUpTime origin (ms since the epoch), used only by
/// `FlowStartSysUpTime`/`FlowEndSysUpTime`; values saturate into 32 bits.
pub fn emit_flow_record(fields: &[Field], rec: &FlowRecord, uptime_origin_ms: u64, out: &mut [u8]) {
    let key = &rec.key;
    let icmp = if key.is_icmp() { key.dst_port } else { 0 };
    let uptime = |ms: u64| ms.saturating_sub(uptime_origin_ms).min(u32::MAX as u64);
    let mut at = 0usize;
    for field in fields {
        let len = field.len as usize;
        let Some(slot) = out.get_mut(at..at + len) else {
            return;
        };
        at += len;
        match field.ie {
            SourceIpv4Address | SourceIpv6Address => put_bytes(slot, &key.src),
            DestinationIpv4Address | DestinationIpv6Address => put_bytes(slot, &key.dst),
            SourceTransportPort => put_uint(slot, key.src_port.into()),
            DestinationTransportPort => put_uint(slot, key.dst_port.into()),
            ProtocolIdentifier => put_uint(slot, key.proto.into()),
            IpClassOfService => put_uint(slot, key.tos.into()),
            TcpControlBits => put_uint(slot, rec.tcp_flags.into()),
            OctetDeltaCount => put_uint(slot, rec.octets),
            PacketDeltaCount => put_uint(slot, rec.packets),
            IngressInterface => put_uint(slot, key.in_if.into()),
            VlanId => put_uint(slot, key.vlan.into()),
            SourceMacAddress => put_bytes(slot, &rec.src_mac),
            DestinationMacAddress => put_bytes(slot, &rec.dst_mac),
            IcmpTypeCodeIpv4 | IcmpTypeCodeIpv6 => put_uint(slot, icmp.into()),
            MinimumTtl => put_uint(slot, rec.min_ttl.into()),
            MaximumTtl => put_uint(slot, rec.max_ttl.into()),
            FlowEndReason => put_uint(slot, rec.end_reason.ipfix_value().into()),
            FlowStartMilliseconds => put_uint(slot, rec.start.as_millis()),
            FlowEndMilliseconds => put_uint(slot, rec.end.as_millis()),
            FlowStartSysUpTime => put_uint(slot, uptime(rec.start.as_millis())),
            FlowEndSysUpTime => put_uint(slot, uptime(rec.end.as_millis())),
            _ => slot.fill(0),
        }
    }
}

/// Writes one options data record with `fields` into `out`.
pub fn emit_options_record(fields: &[Field], v: &OptionValues, out: &mut [u8]) {
    let mut at = 0usize;
    for field in fields {
        let len = field.len as usize;
        let Some(slot) = out.get_mut(at..at + len) else {
            return;
        };
        at += len;
        let value: u64 = match field.ie {
            ObservationDomainId => v.domain_id.into(),
            SelectorAlgorithm => v.selector_algorithm.into(),
            SamplingPacketInterval => v.packet_interval.into(),
            SamplingPacketSpace => v.packet_space.into(),
            SamplingSize => v.sampling_size.into(),
            SamplingPopulation => v.sampling_population.into(),
            SamplingInterval => v.sampling_interval.into(),
            SamplingAlgorithm => v.sampling_algorithm.into(),
            ExportedMessageTotalCount => v.messages,
            ExportedFlowRecordTotalCount => v.flow_records,
            ExportedOctetTotalCount => v.octets,
            IgnoredPacketTotalCount => v.ignored_packets,
            NotSentFlowTotalCount => v.not_sent_flows,
            _ => 0,
        };
        put_uint(slot, value);
    }
}

/// Writes a template record (or options template record) for `dialect` into `out`,
/// which must be `t.template_record_len()` long.
///
/// IPFIX (RFC 7011 section 3.4.1/3.4.2.2): template id, field count, [scope field count],
/// then (element id, length) per field. v9 (RFC 3954 sections 5.2/6.1): template id, field
/// count for data templates; for options templates the scope and option *lengths in
/// octets* (4 per specifier), and scope fields use the v9 scope types (System = 1).
pub fn emit_template(dialect: Dialect, t: &Template, out: &mut [u8]) {
    let mut w = Writer { out, at: 0 };
    w.u16(t.id);
    let n = t.fields.len() as u16;
    match (dialect, t.is_options()) {
        (_, false) => w.u16(n),
        (Dialect::Ipfix, true) => {
            w.u16(n);
            w.u16(t.scope_fields);
        }
        (Dialect::NetflowV9, true) => {
            w.u16(4 * t.scope_fields);
            w.u16(4 * (n - t.scope_fields));
        }
    }
    for (i, field) in t.fields.iter().enumerate() {
        let id = if dialect == Dialect::NetflowV9 && i < t.scope_fields as usize {
            super::ie::v9_scope::SYSTEM
        } else {
            field.ie.id()
        };
        w.u16(id);
        w.u16(field.len);
    }
}

/// A cursor writing big-endian integers into a slice; writes past the end are dropped
/// (callers size the slice first, so that never happens, but it cannot panic).
pub(crate) struct Writer<'a> {
    pub(crate) out: &'a mut [u8],
    pub(crate) at: usize,
}

impl Writer<'_> {
    pub(crate) fn bytes(&mut self, v: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.at..self.at + v.len()) {
            dst.copy_from_slice(v);
        }
        self.at += v.len();
    }
    pub(crate) fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    pub(crate) fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }
    pub(crate) fn u32(&mut self, v: u32) {
        self.bytes(&v.to_be_bytes());
    }
}

/// Packs sets and records into one message of at most `max` octets.
///
/// The buffer is allocated once (capacity `max`) and reused for every message. The caller
/// asks for room for one record in a set with [`MessageBuilder::record`]; `None` means
/// the message is full and must be finished and sent first. The header is left zeroed for
/// the dialect's encoder to fill in [`MessageBuilder::finish`].
#[derive(Debug)]
pub struct MessageBuilder {
    dialect: Dialect,
    buf: Vec<u8>,
    max: usize,
    /// Offset and id of the open set.
    open_set: Option<(usize, u16)>,
    /// Records of every kind in the message (v9's header count).
    pub records: u16,
    /// Data records (flow and options data), what IPFIX sequence numbers count.
    pub data_records: u32,
    /// Flow data records.
    pub flow_records: u32,
}

impl MessageBuilder {
    /// A builder for messages of at most `max` octets.
    pub fn new(dialect: Dialect, max: usize) -> MessageBuilder {
        let mut b = MessageBuilder {
            dialect,
            buf: Vec::with_capacity(max),
            max,
            open_set: None,
            records: 0,
            data_records: 0,
            flow_records: 0,
        };
        b.reset();
        b
    }

    /// Empties the message (keeps the allocation).
    pub fn reset(&mut self) {
        self.buf.clear();
        self.buf.resize(self.dialect.header_len(), 0);
        self.open_set = None;
        self.records = 0;
        self.data_records = 0;
        self.flow_records = 0;
    }

    /// Whether no record was added since the last reset.
    pub fn is_empty(&self) -> bool {
        self.records == 0
    }

    /// Room for one record of `len` octets in a set `set_id`, zeroed, or `None` if the
    /// message would exceed the maximum (then finish and send it, and try again).
    pub fn record(&mut self, set_id: u16, len: usize) -> Option<&mut [u8]> {
        if !self.has_room(set_id, len) {
            return None;
        }
        let same = matches!(self.open_set, Some((_, id)) if id == set_id);
        if !same {
            self.close_set();
            let at = self.buf.len();
            self.buf.extend_from_slice(&set_id.to_be_bytes());
            self.buf.extend_from_slice(&[0, 0]);
            self.open_set = Some((at, set_id));
        }
        let at = self.buf.len();
        self.buf.resize(at + len, 0);
        self.records += 1;
        if set_id >= 256 {
            self.data_records += 1;
        }
        self.buf.get_mut(at..)
    }

    /// Whether one more record of `len` octets in set `set_id` fits.
    pub fn has_room(&self, set_id: u16, len: usize) -> bool {
        let align = self.dialect.set_alignment();
        let pad = |set_len: usize| (align - set_len % align) % align;
        let end = match self.open_set {
            Some((start, id)) if id == set_id => {
                let set_len = self.buf.len() - start + len;
                self.buf.len() + len + pad(set_len)
            }
            // Opening a new set first pads the open one.
            Some((start, _)) => {
                self.buf.len() + pad(self.buf.len() - start) + 4 + len + pad(4 + len)
            }
            None => self.buf.len() + 4 + len + pad(4 + len),
        };
        // Room for this record and for the padding that would close its set after it.
        end <= self.max && self.records < u16::MAX
    }

    /// Closes the open set: pads it (v9) and writes its length. The next record opens a
    /// new set even if it has the same set id.
    pub fn close_set(&mut self) {
        if let Some((start, _)) = self.open_set.take() {
            let align = self.dialect.set_alignment();
            while (self.buf.len() - start) % align != 0 {
                self.buf.push(0);
            }
            let len = (self.buf.len() - start) as u16;
            if let Some(dst) = self.buf.get_mut(start + 2..start + 4) {
                dst.copy_from_slice(&len.to_be_bytes());
            }
        }
    }

    /// Closes the last set and returns the whole message, header zeroed, for the
    /// dialect's encoder to fill the header in.
    pub fn finish(&mut self) -> &mut [u8] {
        self.close_set();
        &mut self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_lengths() {
        assert_eq!(IPFIX_IPV4.record_len(), 68);
        assert_eq!(IPFIX_IPV6.record_len(), 92);
        assert_eq!(IPFIX_IPV4_ICMP.record_len(), 66);
        assert_eq!(V9_IPV4.record_len(), 59);
        assert_eq!(V9_IPV6.record_len(), 83);
        assert_eq!(V9_IPV4_ICMP.record_len(), 57);
    }

    /// Regression (found by the round-trip property test): opening a new v9 set pads the
    /// open one, and that padding was not reserved, so a message could exceed the maximum
    /// by up to 3 octets.
    #[test]
    fn padding_of_the_previous_set_is_reserved() {
        let mut b = MessageBuilder::new(Dialect::NetflowV9, 44);
        assert!(b.record(256, 5).is_some()); // 20 + 4 + 5 = 29, will pad to 32
                                             // A new set of 8 needs 32 + 4 + 8 = 44 octets: exactly the maximum.
        assert!(b.has_room(257, 8));
        assert!(!b.has_room(257, 9));
        assert!(b.record(257, 8).is_some());
        assert_eq!(b.finish().len(), 44);
    }

    #[test]
    fn builder_never_exceeds_max_and_pads_v9() {
        for dialect in [Dialect::Ipfix, Dialect::NetflowV9] {
            for max in [100usize, 333, 1452] {
                let mut b = MessageBuilder::new(dialect, max);
                let mut n = 0;
                while b.record(256 + (n % 3 == 0) as u16, 61).is_some() {
                    n += 1;
                }
                let msg = b.finish();
                assert!(msg.len() <= max, "{dialect:?} {max}: {}", msg.len());
                // Walk the sets: lengths add up, v9 sets are 32-bit aligned.
                let mut at = dialect.header_len();
                while at < msg.len() {
                    let len = u16::from_be_bytes([msg[at + 2], msg[at + 3]]) as usize;
                    if dialect == Dialect::NetflowV9 {
                        assert_eq!(len % 4, 0);
                    }
                    at += len;
                }
                assert_eq!(at, msg.len());
            }
        }
    }
}
