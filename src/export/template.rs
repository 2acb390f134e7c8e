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
//! (options), and 262..=481 the other record *shapes* ([`Shape`]): a record with a known
//! direction, an egress interface, a tunnel, or in a biflow output gets a template of its
//! own, built from the plain one by appending exactly the elements it has values for. The
//! field lists of all shapes are built at compile time ([`shape_template`]), so choosing a
//! record's template allocates nothing.
//!
//! IPFIX with inspection on (`--inspect`) adds 482, the RFC 5610 type options template
//! ([`IPFIX_IE_TYPES`]), and from 483 on the inspected templates: a shape's fields
//! followed by the inspected elements a record has values for ([`InspectedTemplate`],
//! [`InspectedValues`]), strings variable-length (RFC 7011 section 7), the `splt`
//! sequences RFC 6313 basicLists (ordered, of flowprobe's spltPacketLength and
//! spltInterArrivalMicroseconds). The sink makes those as it meets them (see `sink.rs`).
//!
//! ICMP flows get their own templates, with the ICMP type/code element and without
//! transport ports, and other flows carry ports and no ICMP element: an element present
//! with a meaningless zero is read as data by collectors (nfdump 1.7 takes an IPFIX
//! `icmpTypeCodeIPv4` of 0 as the destination port of an SCTP flow, for instance).

use super::ie::{layer2_segment_type, Ie, PEN_FLOWPROBE, REVERSE_ENTERPRISE_BIT, VARLEN};
use crate::flow::key::PROTO_TCP;
use crate::flow::record::FlowRecord;
use crate::flow::tunnel::TunnelKind;

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
    /// A power of two.
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
/// The fixed templates are `Template<'static>`; the sink's inspected templates
/// ([`InspectedTemplate`]) lend their field lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Template<'a> {
    /// Template id (256 and up).
    pub id: u16,
    /// Number of scope fields at the start of `fields`; 0 for a data template.
    pub scope_fields: u16,
    /// The field specifiers, in wire order.
    pub fields: &'a [Field],
}

impl Template<'_> {
    /// Length of one data record of this template (meaningless when a field is
    /// variable-length: see [`Template::has_varlen`]).
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
        // An enterprise element's specifier carries its 4-octet PEN too.
        let mut enterprise = 0;
        let mut i = 0;
        while i < self.fields.len() {
            if self.fields[i].ie.pen() != 0 {
                enterprise += 1;
            }
            i += 1;
        }
        head + 4 * self.fields.len() + 4 * enterprise
    }

    /// Whether this is an options template.
    pub const fn is_options(&self) -> bool {
        self.scope_fields > 0
    }

    /// Whether a field is variable-length (each record then has its own length).
    pub fn has_varlen(&self) -> bool {
        self.fields.iter().any(|f| f.len == VARLEN)
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
    if let Some(src) = bytes.get(8 - n..) {
        copy(out, src);
    }
}

fn put_bytes(out: &mut [u8], v: &[u8]) {
    let n = out.len().min(v.len());
    if let Some(src) = v.get(..n) {
        copy(out, src);
    }
}

/// Copies `src` to the start of `out`. The element lengths that occur are dispatched to
/// fixed-size moves: a `copy_from_slice` of a length known only at run time is a call
/// to `memcpy`, which was 5% of a conversion's instructions (callgrind).
#[inline(always)]
fn copy(out: &mut [u8], src: &[u8]) {
    fn fixed<const N: usize>(out: &mut [u8], src: &[u8]) {
        if let (Some(d), Some(s)) = (out.first_chunk_mut::<N>(), src.first_chunk::<N>()) {
            *d = *s;
        }
    }
    match src.len() {
        1 => fixed::<1>(out, src),
        2 => fixed::<2>(out, src),
        4 => fixed::<4>(out, src),
        6 => fixed::<6>(out, src),
        8 => fixed::<8>(out, src),
        16 => fixed::<16>(out, src),
        n => {
            if let Some(d) = out.get_mut(..n) {
                d.copy_from_slice(src);
            }
        }
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
            other => put_extra(other, rec, slot),
        }
    }
}

/// Writes a record of one of the four plain shapes (index 0..=3: IPv4, IPv6, IPv4 ICMP,
/// ICMPv6, see [`Shape::index`]) as [`emit_flow_record`] does with that shape's template,
/// but with every field at an offset known at compile time: no per-field dispatch (the
/// generic loop cost about 690 instructions a record, callgrind; this about 60). Returns
/// false, writing nothing, for any other index or when `out` is not exactly the record's
/// length; the caller then uses [`emit_flow_record`]. The tests check both give the same
/// octets for every plain shape in both dialects.
#[inline]
pub fn emit_plain_record(
    dialect: Dialect,
    index: usize,
    rec: &FlowRecord,
    uptime_origin_ms: u64,
    out: &mut [u8],
) -> bool {
    let o = uptime_origin_ms;
    match (dialect, index) {
        (Dialect::Ipfix, 0) => plain_record::<false, false, true>(rec, o, out),
        (Dialect::Ipfix, 1) => plain_record::<true, false, true>(rec, o, out),
        (Dialect::Ipfix, 2) => plain_record::<false, true, true>(rec, o, out),
        (Dialect::Ipfix, 3) => plain_record::<true, true, true>(rec, o, out),
        (Dialect::NetflowV9, 0) => plain_record::<false, false, false>(rec, o, out),
        (Dialect::NetflowV9, 1) => plain_record::<true, false, false>(rec, o, out),
        (Dialect::NetflowV9, 2) => plain_record::<false, true, false>(rec, o, out),
        (Dialect::NetflowV9, 3) => plain_record::<true, true, false>(rec, o, out),
        _ => false,
    }
}

/// The plain shape (`V6`, `ICMP`) in IPFIX (`IPFIX`) or v9: the field order of
/// `IPFIX_IPV4` and its siblings, `V9_IPV4` and its siblings.
#[inline(always)]
fn plain_record<const V6: bool, const ICMP: bool, const IPFIX: bool>(
    rec: &FlowRecord,
    uptime_origin_ms: u64,
    out: &mut [u8],
) -> bool {
    let addr = if V6 { 16 } else { 4 };
    let ports = if ICMP { 2 } else { 4 };
    let times = if IPFIX { 1 + 8 + 8 } else { 4 + 4 };
    let len = 2 * addr + ports + 3 + 16 + 4 + 2 + 12 + 2 + times;
    if out.len() != len {
        return false;
    }
    let key = &rec.key;
    let mut w = Fixed { out, at: 0 };
    if V6 {
        w.put(key.src);
        w.put(key.dst);
    } else {
        w.put(*key.src.first_chunk::<4>().unwrap_or(&[0; 4]));
        w.put(*key.dst.first_chunk::<4>().unwrap_or(&[0; 4]));
    }
    if !ICMP {
        w.put(key.src_port.to_be_bytes());
        w.put(key.dst_port.to_be_bytes());
    }
    w.put([key.proto, key.tos, rec.tcp_flags]);
    w.put(rec.octets.to_be_bytes());
    w.put(rec.packets.to_be_bytes());
    w.put(key.in_if.to_be_bytes());
    w.put(key.vlan.to_be_bytes());
    w.put(rec.src_mac);
    w.put(rec.dst_mac);
    if ICMP {
        let icmp = if key.is_icmp() { key.dst_port } else { 0 };
        w.put(icmp.to_be_bytes());
    }
    w.put([rec.min_ttl, rec.max_ttl]);
    if IPFIX {
        w.put([rec.end_reason.ipfix_value()]);
        w.put(rec.start.as_millis().to_be_bytes());
        w.put(rec.end.as_millis().to_be_bytes());
    } else {
        let uptime = |ms: u64| ms.saturating_sub(uptime_origin_ms).min(u32::MAX as u64) as u32;
        w.put(uptime(rec.start.as_millis()).to_be_bytes());
        w.put(uptime(rec.end.as_millis()).to_be_bytes());
    }
    true
}

/// A cursor writing fixed-size values; with the output's length checked first and the
/// sequence of writes fixed, every offset and bounds check is resolved at compile time.
struct Fixed<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Fixed<'_> {
    #[inline(always)]
    fn put<const N: usize>(&mut self, v: [u8; N]) {
        if let Some(d) = self
            .out
            .get_mut(self.at..)
            .and_then(|s| s.first_chunk_mut::<N>())
        {
            *d = v;
        }
        self.at += N;
    }
}

/// The elements of tunnels, direction, egress interface and biflows (and zeros for any
/// element the encoder has no value for). Kept out of [`emit_flow_record`]'s loop so the
/// plain records' dispatch stays as small as it was (measured: the one large match cost
/// the plain records about 14% more instructions).
#[inline(never)]
fn put_extra(ie: Ie, rec: &FlowRecord, slot: &mut [u8]) {
    // No reverse packet: every reverse element is 0 (the times too, rather than a
    // made-up time; RFC 5103 section 6.1 leaves the reverse part empty).
    let rev = || rec.reverse.filter(|r| r.packets > 0).unwrap_or_default();
    match ie {
        EgressInterface => put_uint(slot, rec.egress_if.into()),
        FlowDirection => put_uint(slot, rec.direction.ipfix_value().unwrap_or(0).into()),
        TunnelType => put_uint(slot, (rec.tunnel.kind as u8).into()),
        TunnelId | GreKey => put_uint(slot, rec.tunnel.id.into()),
        TunnelSourceIpv4Address | TunnelSourceIpv6Address => put_bytes(slot, &rec.tunnel.outer_src),
        TunnelDestinationIpv4Address | TunnelDestinationIpv6Address => {
            put_bytes(slot, &rec.tunnel.outer_dst)
        }
        Layer2SegmentId => put_uint(
            slot,
            u64::from(layer2_segment_type::VXLAN) << 56 | u64::from(rec.tunnel.id & 0xff_ffff),
        ),
        ReverseOctetDeltaCount => put_uint(slot, rev().octets),
        ReversePacketDeltaCount => put_uint(slot, rev().packets),
        ReverseTcpControlBits => put_uint(slot, rev().tcp_flags.into()),
        ReverseMinimumTtl => put_uint(slot, rev().min_ttl.into()),
        ReverseMaximumTtl => put_uint(slot, rev().max_ttl.into()),
        ReverseFlowStartMilliseconds => put_uint(slot, rev().start.as_millis()),
        ReverseFlowEndMilliseconds => put_uint(slot, rev().end.as_millis()),
        BiflowDirection => put_uint(slot, biflow_direction(rec).into()),
        _ => slot.fill(0),
    }
}

/// RFC 5103 `biflowDirection` of a biflow record: 1 (initiator) when the record's key is
/// known to be the initiator's direction, 0 (arbitrary) when it is not. The cache keys a
/// biflow by its first packet, or by the SYN for TCP; a TCP biflow in which neither side
/// sent a SYN began before the capture, so which side initiated it is unknown.
pub fn biflow_direction(rec: &FlowRecord) -> u8 {
    const SYN: u8 = 0x02;
    let reverse_flags = rec.reverse.map_or(0, |r| r.tcp_flags);
    if rec.key.proto == PROTO_TCP && (rec.tcp_flags | reverse_flags) & SYN == 0 {
        0
    } else {
        1
    }
}

/// How a record's tunnel shows in its template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TunnelShape {
    /// No tunnel elements.
    None,
    /// GRE: IPFIX tunnel elements plus `greKey`; v9: `greKey` only.
    Gre {
        /// Outer header is IPv6.
        outer_v6: bool,
    },
    /// VXLAN: IPFIX tunnel elements plus `layer2SegmentId`; v9: `layer2SegmentId` only.
    Vxlan {
        /// Outer header is IPv6.
        outer_v6: bool,
    },
    /// Any other kind: IPFIX tunnel elements only; v9: nothing (no IANA element).
    Other {
        /// Outer header is IPv6.
        outer_v6: bool,
    },
}

impl TunnelShape {
    const COUNT: usize = 7;

    const fn index(self) -> usize {
        match self {
            TunnelShape::None => 0,
            TunnelShape::Gre { outer_v6 } => 1 + 3 * outer_v6 as usize,
            TunnelShape::Vxlan { outer_v6 } => 2 + 3 * outer_v6 as usize,
            TunnelShape::Other { outer_v6 } => 3 + 3 * outer_v6 as usize,
        }
    }

    const fn from_index(i: usize) -> TunnelShape {
        let outer_v6 = i > 3;
        match i {
            0 => TunnelShape::None,
            1 | 4 => TunnelShape::Gre { outer_v6 },
            2 | 5 => TunnelShape::Vxlan { outer_v6 },
            _ => TunnelShape::Other { outer_v6 },
        }
    }
}

/// What a record's data template depends on: its "shape". Each shape has its own template
/// (field list and id, [`shape_template`]), so no record carries an element it has no
/// value for (a zero read as data: see the module doc).
///
/// Ids: the four plain uniflow shapes keep 256..=259 (IPv4, IPv6, IPv4 ICMP, ICMPv6);
/// every other shape has `262 + index - 4` (262..=481), fixed at compile time, so the
/// same shape has the same id in every output and every run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Shape {
    /// The flow is IPv6 (else IPv4).
    pub ipv6: bool,
    /// ICMP / ICMPv6 (type and code instead of ports).
    pub icmp: bool,
    /// The tunnel elements.
    pub tunnel: TunnelShape,
    /// `flowDirection` present (the direction is known).
    pub direction: bool,
    /// `egressInterface` present (the egress interface is known).
    pub egress: bool,
    /// RFC 5103 reverse elements and `biflowDirection` present (IPFIX biflow outputs).
    pub biflow: bool,
}

/// Number of distinct shapes.
pub const SHAPES: usize = 2 * 2 * TunnelShape::COUNT * 2 * 2 * 2;

/// Most fields a shape's template has.
const MAX_SHAPE_FIELDS: usize = 36;

impl Shape {
    /// The shape of `rec` in `dialect`, for an output that exports biflows or not; `None`
    /// when the record cannot be exported (no IP version). v9 carries no enterprise
    /// element, so its tunnel shape keeps only what has an IANA element (GRE key, VXLAN
    /// segment), and it never carries biflows.
    pub fn of(rec: &FlowRecord, dialect: Dialect, biflow: bool) -> Option<Shape> {
        let ipv6 = match rec.key.ip_version {
            4 => false,
            6 => true,
            _ => return None,
        };
        let outer_v6 = rec.tunnel.outer_ip_version == 6;
        let v9 = matches!(dialect, Dialect::NetflowV9);
        let tunnel = match rec.tunnel.kind {
            TunnelKind::None => TunnelShape::None,
            TunnelKind::Gre if v9 => TunnelShape::Gre { outer_v6: false },
            TunnelKind::Vxlan if v9 => TunnelShape::Vxlan { outer_v6: false },
            _ if v9 => TunnelShape::None,
            TunnelKind::Gre => TunnelShape::Gre { outer_v6 },
            TunnelKind::Vxlan => TunnelShape::Vxlan { outer_v6 },
            _ => TunnelShape::Other { outer_v6 },
        };
        Some(Shape {
            ipv6,
            icmp: rec.key.is_icmp(),
            tunnel,
            direction: rec.direction != crate::flow::record::FlowDirection::Unknown,
            egress: rec.egress_if != 0,
            biflow: biflow && !v9,
        })
    }

    /// The shape's index in `0..SHAPES`; the plain uniflow shapes are 0..=3.
    pub const fn index(self) -> usize {
        let mut i = self.ipv6 as usize + 2 * self.icmp as usize;
        i += 4 * self.tunnel.index();
        i += 4 * TunnelShape::COUNT * self.direction as usize;
        i += 8 * TunnelShape::COUNT * self.egress as usize;
        i += 16 * TunnelShape::COUNT * self.biflow as usize;
        i
    }

    /// The shape with this index (indices wrap at [`SHAPES`]).
    pub const fn from_index(i: usize) -> Shape {
        let i = i % SHAPES;
        Shape {
            ipv6: i & 1 != 0,
            icmp: i & 2 != 0,
            tunnel: TunnelShape::from_index((i / 4) % TunnelShape::COUNT),
            direction: !(i / (4 * TunnelShape::COUNT)).is_multiple_of(2),
            egress: !(i / (8 * TunnelShape::COUNT)).is_multiple_of(2),
            biflow: !(i / (16 * TunnelShape::COUNT)).is_multiple_of(2),
        }
    }

    /// The template id of this shape.
    pub const fn template_id(self) -> u16 {
        template_id_of(self.index())
    }
}

/// A shape's field list, built at compile time.
#[derive(Clone, Copy, Debug)]
struct ShapeFields {
    fields: [Field; MAX_SHAPE_FIELDS],
    len: usize,
    /// Octets of one data record (the sum of the field lengths).
    record_len: usize,
}

const NO_FIELD: Field = Field {
    ie: Unknown(0),
    len: 0,
};

/// Appends `extra` to the list (fields past the capacity are dropped; the capacity test
/// makes sure none is).
const fn push_all(mut s: ShapeFields, extra: &[Field]) -> ShapeFields {
    let mut i = 0;
    while i < extra.len() && s.len < MAX_SHAPE_FIELDS {
        s.fields[s.len] = extra[i];
        s.record_len += extra[i].len as usize;
        s.len += 1;
        i += 1;
    }
    s
}

/// The field list of `shape` in `dialect`: the plain template of its IP version and ICMP-ness
/// (so a plain record is encoded exactly as before shapes existed), then, in this order, the
/// direction, the egress interface, the tunnel and the biflow elements its shape has.
const fn shape_fields(dialect: Dialect, shape: Shape) -> ShapeFields {
    let v9 = matches!(dialect, Dialect::NetflowV9);
    let base = match (v9, shape.ipv6, shape.icmp) {
        (false, false, false) => IPFIX_IPV4.fields,
        (false, true, false) => IPFIX_IPV6.fields,
        (false, false, true) => IPFIX_IPV4_ICMP.fields,
        (false, true, true) => IPFIX_IPV6_ICMP.fields,
        (true, false, false) => V9_IPV4.fields,
        (true, true, false) => V9_IPV6.fields,
        (true, false, true) => V9_IPV4_ICMP.fields,
        (true, true, true) => V9_IPV6_ICMP.fields,
    };
    let mut s = push_all(
        ShapeFields {
            fields: [NO_FIELD; MAX_SHAPE_FIELDS],
            len: 0,
            record_len: 0,
        },
        base,
    );
    if shape.direction {
        s = push_all(s, &[f(FlowDirection)]);
    }
    if shape.egress {
        s = push_all(s, &[f(EgressInterface)]);
    }
    let (outer_v6, id_ie) = match shape.tunnel {
        TunnelShape::None => (false, None),
        TunnelShape::Gre { outer_v6 } => (outer_v6, Some(f(GreKey))),
        TunnelShape::Vxlan { outer_v6 } => (outer_v6, Some(f(Layer2SegmentId))),
        TunnelShape::Other { outer_v6 } => (outer_v6, None),
    };
    if !v9 && !matches!(shape.tunnel, TunnelShape::None) {
        s = push_all(s, &[f(TunnelType), f(TunnelId)]);
        s = if outer_v6 {
            push_all(
                s,
                &[f(TunnelSourceIpv6Address), f(TunnelDestinationIpv6Address)],
            )
        } else {
            push_all(
                s,
                &[f(TunnelSourceIpv4Address), f(TunnelDestinationIpv4Address)],
            )
        };
    }
    if let Some(id) = id_ie {
        s = push_all(s, &[id]);
    }
    if shape.biflow && !v9 {
        s = push_all(
            s,
            &[
                f(BiflowDirection),
                f(ReverseOctetDeltaCount),
                f(ReversePacketDeltaCount),
                f(ReverseTcpControlBits),
                f(ReverseMinimumTtl),
                f(ReverseMaximumTtl),
                f(ReverseFlowStartMilliseconds),
                f(ReverseFlowEndMilliseconds),
            ],
        );
    }
    s
}

const fn shape_table(dialect: Dialect) -> [ShapeFields; SHAPES] {
    let mut t = [ShapeFields {
        fields: [NO_FIELD; MAX_SHAPE_FIELDS],
        len: 0,
        record_len: 0,
    }; SHAPES];
    let mut i = 0;
    while i < SHAPES {
        t[i] = shape_fields(dialect, Shape::from_index(i));
        i += 1;
    }
    t
}

/// Every shape's IPFIX field list (about 60 KB of read-only data, built by the compiler).
static IPFIX_SHAPES: [ShapeFields; SHAPES] = shape_table(Dialect::Ipfix);
/// Every shape's NetFlow v9 field list.
static V9_SHAPES: [ShapeFields; SHAPES] = shape_table(Dialect::NetflowV9);

/// The data template of `shape` in `dialect`. No allocation: the field list is a slice of
/// a table built at compile time.
pub fn shape_template(dialect: Dialect, shape: Shape) -> Template<'static> {
    shape_template_at(dialect, shape.index())
}

/// The data template of the shape with index `index` (see [`Shape::index`]); an empty
/// field list for an index out of range.
pub fn shape_template_at(dialect: Dialect, index: usize) -> Template<'static> {
    let table = match dialect {
        Dialect::Ipfix => &IPFIX_SHAPES,
        Dialect::NetflowV9 => &V9_SHAPES,
    };
    let fields = table
        .get(index)
        .and_then(|s| s.fields.get(..s.len))
        .unwrap_or(&[]);
    Template {
        id: template_id_of(index),
        scope_fields: 0,
        fields,
    }
}

/// Octets of one data record of the shape with index `index` in `dialect` (the template's
/// [`Template::record_len`], computed at compile time rather than per record).
pub fn shape_record_len(dialect: Dialect, index: usize) -> usize {
    let table = match dialect {
        Dialect::Ipfix => &IPFIX_SHAPES,
        Dialect::NetflowV9 => &V9_SHAPES,
    };
    table.get(index).map_or(0, |s| s.record_len)
}

/// Template id of shape index `index`: 256..=259 for the plain shapes, then 262 on.
const fn template_id_of(index: usize) -> u16 {
    if index < 4 {
        TEMPLATE_ID_IPV4 + index as u16
    } else {
        (TEMPLATE_ID_STATS as usize + 1 + index - 4) as u16
    }
}

// ----------------------------------------------------------------------------------------
// Inspected elements (`--inspect`; IPFIX only)

/// Template id of the RFC 5610 information element type options template
/// ([`IPFIX_IE_TYPES`]); announced only when inspection is on.
pub const TEMPLATE_ID_IE_TYPES: u16 = 482;

/// First template id of the inspected templates ([`InspectedTemplate`]): a sink numbers
/// them in the order it first needs them, from here up.
pub const FIRST_INSPECTED_TEMPLATE_ID: u16 = 483;

/// RFC 5610 section 3.9, the Information Element Type Options Template: scope
/// privateEnterpriseNumber and informationElementId, then informationElementDataType,
/// informationElementSemantics and informationElementName (the three the RFC requires;
/// flowprobe's elements have no units and no range, so those are not sent).
pub const IPFIX_IE_TYPES: Template<'static> = Template {
    id: TEMPLATE_ID_IE_TYPES,
    scope_fields: 2,
    fields: &[
        f(PrivateEnterpriseNumber),
        f(InformationElementId),
        f(InformationElementDataType),
        f(InformationElementSemantics),
        f(InformationElementName),
    ],
};

/// Number of inspected elements.
pub const INSPECTED_COUNT: usize = 46;

/// The inspected elements in the order of the CSV columns, which is also their order in
/// an inspected template; bit `i` of a presence set stands for `INSPECTED[i]`. The
/// application elements (0..20), then `--inspect tcp`'s ([`TCP_ELEMENTS`]: the record's
/// own direction, then a biflow's reverse direction), then `--inspect splt`'s
/// ([`SPLT_ELEMENTS`]; `tcp_sack_ok` and `tcp_timestamps` are bits of tcpOptions, no
/// element of their own).
pub const INSPECTED: [Ie; INSPECTED_COUNT] = [
    PayloadApplication,               // app
    TlsServerName,                    // tls_sni
    TlsClientAlpn,                    // tls_alpn
    TlsVersion,                       // tls_version
    TlsCipherSuite,                   // tls_cipher
    Ja4,                              // ja4
    Ja3,                              // ja3
    DnsQueryName,                     // dns_qname
    DnsQueryType,                     // dns_qtype
    DnsResponseCode,                  // dns_rcode
    DnsAnswerCount,                   // dns_answers
    HttpRequestHost,                  // http_host
    HttpRequestMethod,                // http_method
    HttpRequestTarget,                // http_target
    HttpUserAgent,                    // http_user_agent
    HttpStatusCode,                   // http_status
    SshClientBanner,                  // ssh_client
    SshServerBanner,                  // ssh_server
    Hassh,                            // hassh
    CommunityId,                      // community_id
    TcpServerRttMicroseconds,         // server_rtt_us
    TcpClientRttMicroseconds,         // client_rtt_us
    TransportOctetDeltaCount,         // payload_bytes
    TcpRetransmissionCount,           // retransmissions
    TcpOutOfOrderCount,               // out_of_order
    TcpZeroWindowCount,               // zero_windows
    TcpMaximumSegmentSize,            // tcp_mss
    TcpWindowScale,                   // tcp_wscale
    TcpOptions,                       // tcp_options (tcp_sack_ok, tcp_timestamps)
    ReverseTransportOctetDeltaCount,  // reverse_payload_bytes
    ReverseTcpRetransmissionCount,    // reverse_retransmissions
    ReverseTcpOutOfOrderCount,        // reverse_out_of_order
    ReverseTcpZeroWindowCount,        // reverse_zero_windows
    ReverseTcpMaximumSegmentSize,     // reverse_tcp_mss
    ReverseTcpWindowScale,            // reverse_tcp_wscale
    ReverseTcpOptions,                // reverse_tcp_options
    SpltPacketLengths,                // splt (lengths)
    SpltInterArrivalTimes,            // splt (iat_us)
    IatMinimumMicroseconds,           // iat_min_us
    IatMeanMicroseconds,              // iat_mean_us
    IatMaximumMicroseconds,           // iat_max_us
    IatStandardDeviationMicroseconds, // iat_stddev_us
    PayloadLengthMinimum,             // len_min
    PayloadLengthMean,                // len_mean
    PayloadLengthMaximum,             // len_max
    PayloadLengthStandardDeviation,   // len_stddev
];

/// Index of `community_id` in [`INSPECTED`].
const COMMUNITY_ID_AT: usize = 19;
/// Index of the first `--inspect tcp` element in [`INSPECTED`].
const FIRST_TCP_AT: usize = 20;
/// Index of the first `--inspect splt` element in [`INSPECTED`].
const FIRST_SPLT_AT: usize = 36;

/// The elements `--inspect tcp` adds.
pub const TCP_ELEMENTS: std::ops::Range<usize> = FIRST_TCP_AT..FIRST_SPLT_AT;
/// The elements `--inspect splt` adds.
pub const SPLT_ELEMENTS: std::ops::Range<usize> = FIRST_SPLT_AT..INSPECTED_COUNT;
/// The presence bits of the two `splt` basicLists (the part of a record that can be left
/// out when a record cannot fit the smallest message otherwise).
pub const SPLT_LIST_BITS: u64 = 0b11 << FIRST_SPLT_AT;

/// The presence bits of the enterprise elements among [`INSPECTED`] (their field
/// specifiers carry a PEN too).
pub const INSPECTED_ENTERPRISE: u64 = {
    let mut mask = 0;
    let mut i = 0;
    while i < INSPECTED_COUNT {
        if INSPECTED[i].pen() != 0 {
            mask |= 1 << i;
        }
        i += 1;
    }
    mask
};

/// Octets of the template record of the inspected template for shape index `shape` and
/// presence set `presence` (what [`InspectedTemplate::template`] announces).
pub fn inspected_template_record_len(shape: usize, presence: u64) -> usize {
    shape_template_at(Dialect::Ipfix, shape).template_record_len()
        + 4 * presence.count_ones() as usize
        + 4 * (presence & INSPECTED_ENTERPRISE).count_ones() as usize
}

/// One inspected value, borrowed from the record's [`Seen`](crate::inspect::Seen) or
/// shape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InspectedValue<'a> {
    /// A string element (variable-length, UTF-8).
    Str(&'a str),
    /// An unsigned16 element.
    U16(u16),
    /// An unsigned8 element.
    U8(u8),
    /// An unsigned32 element.
    U32(u32),
    /// An unsigned64 element.
    U64(u64),
    /// A float64 element.
    F64(f64),
    /// spltPacketLengths: a basicList of the entries' lengths as signed32, a reverse
    /// packet's negative.
    SpltLengths(&'a [SpltEntry]),
    /// spltInterArrivalTimes: a basicList of the entries' gaps as unsigned32.
    SpltGaps(&'a [SpltEntry]),
}

/// The inspected values of one record: `values[i]` for `INSPECTED[i]`. A field is present
/// when it has a value (a string only when it is not empty, a list only when it has
/// entries): no element is sent empty, and numbers need no "absent" sentinel.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct InspectedValues<'a> {
    values: [Option<InspectedValue<'a>>; INSPECTED_COUNT],
}

impl Default for InspectedValues<'_> {
    fn default() -> Self {
        InspectedValues {
            values: [None; INSPECTED_COUNT],
        }
    }
}

/// What one record (or uniflow part of a biflow record) shows of its TCP health and shape:
/// what [`InspectedValues::with_shape`] reads, as the CSV's `RowInspection` does.
#[derive(Clone, Copy, Debug, Default)]
pub struct ShapeSource<'a> {
    /// The record's own direction's notes (handshake times, SYN options).
    pub own: Option<&'a crate::inspect::Seen>,
    /// A whole biflow record's reverse direction's notes.
    pub other: Option<&'a crate::inspect::Seen>,
    /// The record's own direction's counts.
    pub own_counts: Option<&'a DirectionCounts>,
    /// A whole biflow record's reverse direction's counts.
    pub other_counts: Option<&'a DirectionCounts>,
    /// The record's shape, when the record is exported whole (a uniflow part of a biflow
    /// record has no sequence or statistics of its own).
    pub whole: Option<&'a crate::inspect::splt::Shape>,
}

/// Which `--inspect` groups of shape elements a sink exports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShapeGroups {
    /// `tcp`: RTTs, payload octets, TCP counts, SYN options.
    pub tcp: bool,
    /// `splt`: the sequences and statistics.
    pub splt: bool,
    /// The reverse direction's tcp elements (a sink exporting biflows whole).
    pub reverse: bool,
}

use crate::inspect::splt::{DirectionCounts, SpltEntry};

/// `s` cut to at most `cap` octets, at a character boundary (the value stays UTF-8).
fn cut(s: &str, cap: usize) -> &str {
    if s.len() <= cap {
        return s;
    }
    let mut n = cap;
    while n > 0 && !s.is_char_boundary(n) {
        n -= 1;
    }
    s.get(..n).unwrap_or("")
}

/// Octets of a variable-length value of `n` octets (RFC 7011 section 7): a 1-octet length
/// below 255, else 255 and a 2-octet length.
pub const fn varlen_len(n: usize) -> usize {
    if n < 255 {
        1 + n
    } else {
        3 + n
    }
}

/// Writes the length prefix of a variable-length value of `n` octets.
fn put_varlen_prefix(w: &mut Writer<'_>, n: usize) {
    if n < 255 {
        w.u8(n as u8);
    } else {
        w.u8(255);
        w.u16(n.min(u16::MAX as usize) as u16);
    }
}

/// Writes a variable-length value (length prefix, then the octets).
fn put_varlen(w: &mut Writer<'_>, v: &[u8]) {
    put_varlen_prefix(w, v.len());
    w.bytes(v);
}

/// RFC 6313 section 4.5.1 basicList header: semantic (1), field id with the enterprise
/// bit (2), element length (2), enterprise number (4).
const BASIC_LIST_HEADER: usize = 9;

/// RFC 6313 section 4.5 / IANA "IPFIX Structured Data Types Semantics": 0x04 ordered
/// (every element is present, in this order).
pub const LIST_SEMANTIC_ORDERED: u8 = 4;

/// Octets of a basicList of `n` 4-octet values of an enterprise element, without the
/// variable-length prefix.
const fn basic_list_len(n: usize) -> usize {
    BASIC_LIST_HEADER + 4 * n
}

/// Writes a basicList (RFC 6313 section 4.5.1) of `member`'s 4-octet values, as the
/// variable-length value it is in a data record (RFC 6313 section 4.5.1 and RFC 7011
/// section 7: the length prefix of a string).
fn put_basic_list(w: &mut Writer<'_>, member: Ie, values: impl ExactSizeIterator<Item = u32>) {
    put_varlen_prefix(w, basic_list_len(values.len()));
    w.u8(LIST_SEMANTIC_ORDERED);
    w.u16(member.id() | 0x8000);
    w.u16(member.length());
    w.u32(member.pen());
    for v in values {
        w.u32(v);
    }
}

/// An splt entry's length as spltPacketLength (signed32): negative for a reverse packet
/// (a reverse packet of length 0 cannot carry the sign and is 0).
pub fn splt_signed_length(e: &SpltEntry) -> i32 {
    if e.reverse {
        -i32::try_from(e.len).unwrap_or(i32::MAX)
    } else {
        i32::try_from(e.len).unwrap_or(i32::MAX)
    }
}

impl<'a> InspectedValues<'a> {
    /// The values of a record: each field from `first` when it has it, else from `second`
    /// (a whole biflow record: forward first, as [`crate::inspect::Inspection::combined`]
    /// does, without copying a string); no Community ID (see `with_community_id`) and no
    /// shape (see `with_shape`).
    pub fn of(first: &'a crate::inspect::Seen, second: Option<&'a crate::inspect::Seen>) -> Self {
        use crate::inspect::Seen;
        fn pick<'s, T>(
            a: &'s Option<T>,
            b: Option<&'s Seen>,
            f: fn(&Seen) -> &Option<T>,
        ) -> Option<&'s T> {
            a.as_ref().or_else(|| b.and_then(|b| f(b).as_ref()))
        }
        let (a, b) = (first, second);
        let s = |v: Option<&'a String>| {
            v.map(String::as_str)
                .filter(|s| !s.is_empty())
                .map(InspectedValue::Str)
        };
        let u16v = |v: Option<&u16>| v.map(|v| InspectedValue::U16(*v));
        let app = pick(&a.app, b, |s| &s.app).map(|app| InspectedValue::Str(app.name()));
        let mut values = [None; INSPECTED_COUNT];
        let apps = [
            app,
            s(pick(&a.tls_sni, b, |s| &s.tls_sni)),
            s(pick(&a.tls_alpn, b, |s| &s.tls_alpn)),
            u16v(pick(&a.tls_version, b, |s| &s.tls_version)),
            u16v(pick(&a.tls_cipher, b, |s| &s.tls_cipher)),
            s(pick(&a.ja4, b, |s| &s.ja4)),
            s(pick(&a.ja3, b, |s| &s.ja3)),
            s(pick(&a.dns_qname, b, |s| &s.dns_qname)),
            u16v(pick(&a.dns_qtype, b, |s| &s.dns_qtype)),
            pick(&a.dns_rcode, b, |s| &s.dns_rcode).map(|v| InspectedValue::U8(*v)),
            u16v(pick(&a.dns_answers, b, |s| &s.dns_answers)),
            s(pick(&a.http_host, b, |s| &s.http_host)),
            s(pick(&a.http_method, b, |s| &s.http_method)),
            s(pick(&a.http_target, b, |s| &s.http_target)),
            s(pick(&a.http_user_agent, b, |s| &s.http_user_agent)),
            u16v(pick(&a.http_status, b, |s| &s.http_status)),
            s(pick(&a.ssh_client, b, |s| &s.ssh_client)),
            s(pick(&a.ssh_server, b, |s| &s.ssh_server)),
            s(pick(&a.hassh, b, |s| &s.hassh)),
        ];
        for (slot, v) in values.iter_mut().zip(apps) {
            *slot = v;
        }
        InspectedValues { values }
    }

    /// With the record's Community ID (computed by the sink from the record's key when
    /// the configuration asks for it).
    pub fn with_community_id(mut self, id: Option<&'a str>) -> Self {
        if let Some(slot) = self.values.get_mut(COMMUNITY_ID_AT) {
            *slot = id.filter(|s| !s.is_empty()).map(InspectedValue::Str);
        }
        self
    }

    /// With the record's TCP health (`groups.tcp`) and timing shape (`groups.splt`)
    /// elements from `src`: the values the CSV's tcp and splt columns have for the same
    /// row (`columns::for_each_tcp_value`, `for_each_splt_value`), an element present
    /// exactly when its column is not empty. `is_tcp`: the record is TCP (the TCP counts
    /// are empty for other protocols).
    pub fn with_shape(mut self, groups: ShapeGroups, is_tcp: bool, src: ShapeSource<'a>) -> Self {
        use InspectedValue::{SpltGaps, SpltLengths, F64, U16, U32, U64};
        let mut set = |i: usize, v: Option<InspectedValue<'a>>| {
            if let Some(slot) = self.values.get_mut(i) {
                *slot = v;
            }
        };
        if groups.tcp {
            let rtt = |get: fn(&crate::inspect::Seen) -> Option<u32>| {
                src.own
                    .and_then(get)
                    .or_else(|| src.other.and_then(get))
                    .map(U32)
            };
            set(FIRST_TCP_AT, rtt(|s| s.server_rtt_us));
            set(FIRST_TCP_AT + 1, rtt(|s| s.client_rtt_us));
            let mut direction = |at: usize,
                                 counts: Option<&DirectionCounts>,
                                 seen: Option<&crate::inspect::Seen>,
                                 with_payload: bool| {
                if with_payload {
                    set(at, counts.map(|c| U64(c.payload_bytes)));
                }
                let at = at + usize::from(with_payload);
                let tcp_counts = counts.filter(|_| is_tcp);
                set(at, tcp_counts.map(|c| U32(c.retransmissions)));
                set(at + 1, tcp_counts.map(|c| U32(c.out_of_order)));
                set(at + 2, tcp_counts.map(|c| U32(c.zero_windows)));
                let o = seen.and_then(|s| s.tcp_options);
                set(at + 3, o.and_then(|o| o.mss).map(U16));
                set(at + 4, o.and_then(|o| o.wscale).map(|v| U16(v.into())));
                set(at + 5, o.map(|o| U64(o.bitmap)));
            };
            direction(FIRST_TCP_AT + 2, src.own_counts, src.own, true);
            if groups.reverse {
                direction(FIRST_TCP_AT + 9, src.other_counts, src.other, true);
            }
        }
        if groups.splt {
            let shape = src.whole;
            let splt = shape.map(|s| s.splt.as_slice()).filter(|s| !s.is_empty());
            set(FIRST_SPLT_AT, splt.map(SpltLengths));
            set(FIRST_SPLT_AT + 1, splt.map(SpltGaps));
            let iat = shape.map(|s| s.iat).filter(|w| w.n > 0);
            set(FIRST_SPLT_AT + 2, iat.map(|w| U64(w.min / 1000)));
            set(FIRST_SPLT_AT + 3, iat.map(|w| F64(w.mean / 1000.0)));
            set(FIRST_SPLT_AT + 4, iat.map(|w| U64(w.max / 1000)));
            set(
                FIRST_SPLT_AT + 5,
                iat.and_then(|w| w.stddev()).map(|d| F64(d / 1000.0)),
            );
            let len = shape.map(|s| s.len).filter(|w| w.n > 0);
            let u16_of = |v: u64| U16(u16::try_from(v).unwrap_or(u16::MAX));
            set(FIRST_SPLT_AT + 6, len.map(|w| u16_of(w.min)));
            set(FIRST_SPLT_AT + 7, len.map(|w| F64(w.mean)));
            set(FIRST_SPLT_AT + 8, len.map(|w| u16_of(w.max)));
            set(FIRST_SPLT_AT + 9, len.and_then(|w| w.stddev()).map(F64));
        }
        self
    }

    /// Without the values of the presence bits in `mask`.
    pub fn clear(&mut self, mask: u64) {
        for (i, v) in self.values.iter_mut().enumerate() {
            if mask & (1 << i) != 0 {
                *v = None;
            }
        }
    }

    /// The value of `INSPECTED[i]`.
    pub fn get(&self, i: usize) -> Option<InspectedValue<'a>> {
        self.values.get(i).copied().flatten()
    }

    /// The presence set: bit `i` set when `INSPECTED[i]` has a value.
    pub fn presence(&self) -> u64 {
        self.values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some())
            .fold(0, |acc, (i, _)| acc | 1 << i)
    }

    /// The present values among `presence`, in template order.
    fn selected(&self, presence: u64) -> impl Iterator<Item = InspectedValue<'a>> + '_ {
        // By the set bits (a record has a dozen of the 46), lowest first: template order.
        let mut left = presence;
        std::iter::from_fn(move || {
            while left != 0 {
                let i = left.trailing_zeros() as usize;
                left &= left - 1;
                if let Some(v) = self.values.get(i).copied().flatten() {
                    return Some(v);
                }
            }
            None
        })
    }

    /// Octets of the inspected part of a record with the fields of `presence` (all of
    /// which must have values), strings cut to `cap` octets.
    pub fn encoded_len(&self, presence: u64, cap: usize) -> usize {
        self.selected(presence)
            .map(|v| match v {
                InspectedValue::Str(s) => varlen_len(cut(s, cap).len()),
                InspectedValue::U16(_) => 2,
                InspectedValue::U8(_) => 1,
                InspectedValue::U32(_) => 4,
                InspectedValue::U64(_) | InspectedValue::F64(_) => 8,
                InspectedValue::SpltLengths(e) | InspectedValue::SpltGaps(e) => {
                    varlen_len(basic_list_len(e.len()))
                }
            })
            .sum()
    }

    /// The largest string length `cap` (at most the longest string) for which the
    /// inspected part fits `budget` octets; `None` when it cannot fit even with every
    /// string empty. Strings longer than the cap are cut so that a record always fits one
    /// message: the cost is paid only by records that would not fit otherwise.
    pub fn string_cap(&self, presence: u64, budget: usize) -> Option<usize> {
        let longest = self
            .selected(presence)
            .map(|v| match v {
                InspectedValue::Str(s) => s.len(),
                _ => 0,
            })
            .max()
            .unwrap_or(0);
        if self.encoded_len(presence, longest) <= budget {
            return Some(longest);
        }
        if self.encoded_len(presence, 0) > budget {
            return None;
        }
        // encoded_len grows with cap: the largest cap that fits, by bisection.
        let (mut lo, mut hi) = (0, longest);
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if self.encoded_len(presence, mid) <= budget {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        Some(lo)
    }

    /// Writes the inspected part of a record (the values of `presence`, in template order,
    /// strings cut to `cap`) into `out`, which must be `encoded_len(presence, cap)` long.
    pub fn emit(&self, presence: u64, cap: usize, out: &mut [u8]) {
        let mut w = Writer { out, at: 0 };
        for v in self.selected(presence) {
            match v {
                InspectedValue::Str(s) => put_varlen(&mut w, cut(s, cap).as_bytes()),
                InspectedValue::U16(v) => w.u16(v),
                InspectedValue::U8(v) => w.u8(v),
                InspectedValue::U32(v) => w.u32(v),
                InspectedValue::U64(v) => w.u64(v),
                InspectedValue::F64(v) => w.u64(v.to_bits()),
                InspectedValue::SpltLengths(e) => put_basic_list(
                    &mut w,
                    SpltPacketLength,
                    e.iter().map(|e| splt_signed_length(e) as u32),
                ),
                InspectedValue::SpltGaps(e) => put_basic_list(
                    &mut w,
                    SpltInterArrivalMicroseconds,
                    e.iter().map(|e| e.iat_us),
                ),
            }
        }
    }
}

/// A template for records with inspected fields: a shape's fields ([`shape_template`]),
/// then the inspected elements of one presence set, in [`INSPECTED`] order. A sink makes
/// one per (shape, presence set) it meets, numbered from [`FIRST_INSPECTED_TEMPLATE_ID`].
#[derive(Debug, PartialEq, Eq)]
pub struct InspectedTemplate {
    /// Template id.
    pub id: u16,
    /// The shape's index ([`Shape::index`]).
    pub shape: usize,
    /// The presence set.
    pub presence: u64,
    /// Octets of the shape's fields (the fixed-length part of a record).
    pub fixed_len: usize,
    fields: Box<[Field]>,
}

impl InspectedTemplate {
    /// The IPFIX template for shape index `shape` plus the elements of `presence`.
    pub fn new(id: u16, shape: usize, presence: u64) -> InspectedTemplate {
        let base = shape_template_at(Dialect::Ipfix, shape);
        let fields: Box<[Field]> = base
            .fields
            .iter()
            .copied()
            .chain(
                INSPECTED
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| presence & (1 << i) != 0)
                    .map(|(_, &ie)| f(ie)),
            )
            .collect();
        InspectedTemplate {
            id,
            shape,
            presence,
            fixed_len: shape_record_len(Dialect::Ipfix, shape),
            fields,
        }
    }

    /// The template (to announce it).
    pub fn template(&self) -> Template<'_> {
        Template {
            id: self.id,
            scope_fields: 0,
            fields: &self.fields,
        }
    }

    /// The shape's fields (the first part of every record).
    pub fn shape_fields(&self) -> &[Field] {
        self.fields
            .get(..self.fields.len() - self.presence.count_ones() as usize)
            .unwrap_or(&[])
    }
}

/// Octets of the RFC 5610 type record of `ie` (see [`emit_type_record`]).
pub const fn type_record_len(ie: Ie) -> usize {
    4 + 2 + 1 + 1 + varlen_len(ie.name().len())
}

/// Writes the RFC 5610 type record of enterprise element `ie` for [`IPFIX_IE_TYPES`]:
/// its PEN, id, data type, semantics and name. `out` must be `type_record_len(ie)` long;
/// an IANA element (no type information here) writes nothing.
pub fn emit_type_record(ie: Ie, out: &mut [u8]) {
    let Some((data_type, semantics)) = ie.type_info() else {
        return;
    };
    let mut w = Writer { out, at: 0 };
    w.u32(ie.pen());
    w.u16(ie.id());
    w.u8(data_type);
    w.u8(semantics);
    put_varlen(&mut w, ie.name().as_bytes());
}

/// Whether `ie` is one of flowprobe's own enterprise elements (the ones that get RFC 5610
/// type records), and its bit in a set of them: bit id for ids 1..=63, bit 64 + id for
/// their RFC 5103 reverse elements (id | 0x4000).
pub const fn flowprobe_element_bit(ie: Ie) -> Option<u128> {
    let id = ie.id();
    let base = id & !REVERSE_ENTERPRISE_BIT;
    if ie.pen() != PEN_FLOWPROBE || base >= 64 {
        return None;
    }
    let bit = if id & REVERSE_ENTERPRISE_BIT != 0 {
        64 + base
    } else {
        base
    };
    Some(1 << bit)
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
        let pen = field.ie.pen();
        let id = if dialect == Dialect::NetflowV9 && i < t.scope_fields as usize {
            super::ie::v9_scope::SYSTEM
        } else if pen != 0 {
            // RFC 7011 section 3.2: enterprise bit, then the PEN after the length.
            field.ie.id() | 0x8000
        } else {
            field.ie.id()
        };
        w.u16(id);
        w.u16(field.len);
        if pen != 0 {
            w.u32(pen);
        }
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
    pub(crate) fn u64(&mut self, v: u64) {
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

    /// The maximum message size.
    pub fn max(&self) -> usize {
        self.max
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
        // Alignments are powers of two (1, 4): the padding is a mask, not two divisions
        // (this runs twice a record).
        let mask = self.dialect.set_alignment() - 1;
        let pad = |set_len: usize| set_len.wrapping_neg() & mask;
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
            while !(self.buf.len() - start).is_multiple_of(align) {
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
    use crate::time::Timestamp;

    #[test]
    fn plain_shapes_are_the_four_classic_templates() {
        for (dialect, classic) in [
            (
                Dialect::Ipfix,
                [&IPFIX_IPV4, &IPFIX_IPV6, &IPFIX_IPV4_ICMP, &IPFIX_IPV6_ICMP],
            ),
            (
                Dialect::NetflowV9,
                [&V9_IPV4, &V9_IPV6, &V9_IPV4_ICMP, &V9_IPV6_ICMP],
            ),
        ] {
            for (i, t) in classic.into_iter().enumerate() {
                assert_eq!(shape_template(dialect, Shape::from_index(i)), *t);
            }
        }
    }

    #[test]
    fn shape_ids_are_distinct_and_fields_fit() {
        let mut ids = std::collections::HashSet::new();
        for i in 0..SHAPES {
            let shape = Shape::from_index(i);
            assert_eq!(shape.index(), i);
            let id = shape.template_id();
            assert!(id >= 256 && id != TEMPLATE_ID_SAMPLING && id != TEMPLATE_ID_STATS);
            assert!(ids.insert(id), "{shape:?}");
            for dialect in [Dialect::Ipfix, Dialect::NetflowV9] {
                let table = match dialect {
                    Dialect::Ipfix => &IPFIX_SHAPES,
                    Dialect::NetflowV9 => &V9_SHAPES,
                };
                // Room was left: nothing was dropped at the capacity.
                assert!(table[i].len < MAX_SHAPE_FIELDS, "{shape:?}");
                let t = shape_template(dialect, shape);
                assert_eq!(shape_record_len(dialect, i), t.record_len());
                // No element twice, and v9 never gets an enterprise element.
                let mut seen = std::collections::HashSet::new();
                for field in t.fields {
                    assert!(seen.insert((field.ie.pen(), field.ie.id())), "{shape:?}");
                    assert!(dialect == Dialect::Ipfix || field.ie.pen() == 0);
                }
            }
        }
        assert_eq!(ids.iter().max(), Some(&(262 + SHAPES as u16 - 5)));
    }

    #[test]
    fn plain_records_are_written_as_the_generic_encoder_writes_them() {
        use crate::flow::key::FlowKey;
        use crate::flow::record::EndReason;
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..200 {
            for (ip_version, proto) in [(4, 6), (6, 17), (4, 1), (6, 58)] {
                let mut key = FlowKey {
                    ip_version,
                    proto,
                    tos: next() as u8,
                    in_if: next() as u32,
                    src_port: next() as u16,
                    dst_port: next() as u16,
                    vlan: next() as u16 & 0xfff,
                    ..Default::default()
                };
                let n = if ip_version == 4 { 4 } else { 16 };
                for i in 0..n {
                    key.src[i] = next() as u8;
                    key.dst[i] = next() as u8;
                }
                let start = Timestamp(next() >> 4);
                let end = Timestamp(start.0 + (next() >> 24));
                let mut rec = FlowRecord::new(key, start, end);
                rec.packets = next() >> (round % 64);
                rec.octets = next() >> (round % 64);
                rec.tcp_flags = next() as u8;
                rec.min_ttl = next() as u8;
                rec.max_ttl = next() as u8;
                rec.src_mac = [next() as u8; 6];
                rec.dst_mac = [next() as u8, 1, 2, 3, 4, next() as u8];
                rec.end_reason = [
                    EndReason::IdleTimeout,
                    EndReason::ActiveTimeout,
                    EndReason::EndOfFlow,
                    EndReason::ForcedEnd,
                    EndReason::LackOfResources,
                ][round % 5];
                let index = usize::from(ip_version == 6) + 2 * usize::from(key.is_icmp());
                for dialect in [Dialect::Ipfix, Dialect::NetflowV9] {
                    let origin = [0, start.as_millis().saturating_sub(5), u64::MAX][round % 3];
                    let t = shape_template_at(dialect, index);
                    let len = shape_record_len(dialect, index);
                    let mut want = vec![0xaa; len];
                    emit_flow_record(t.fields, &rec, origin, &mut want);
                    let mut got = vec![0x55; len];
                    assert!(emit_plain_record(dialect, index, &rec, origin, &mut got));
                    assert_eq!(got, want, "{dialect:?} shape {index}");
                    // Any other length or shape is left to the generic encoder.
                    let mut short = vec![0; len - 1];
                    assert!(!emit_plain_record(dialect, index, &rec, origin, &mut short));
                    assert!(!emit_plain_record(dialect, 4, &rec, origin, &mut got));
                }
            }
        }
    }

    #[test]
    fn record_lengths() {
        assert_eq!(IPFIX_IPV4.record_len(), 68);
        assert_eq!(IPFIX_IPV6.record_len(), 92);
        assert_eq!(IPFIX_IPV4_ICMP.record_len(), 66);
        assert_eq!(V9_IPV4.record_len(), 59);
        assert_eq!(V9_IPV6.record_len(), 83);
        assert_eq!(V9_IPV4_ICMP.record_len(), 57);
    }

    /// Strings are cut only as far as the budget needs, at a character boundary, and the
    /// cap found is the largest that fits.
    #[test]
    fn strings_are_cut_to_fit_at_character_boundaries() {
        use crate::inspect::Seen;
        let seen = Seen {
            tls_sni: Some("é".repeat(200)),          // 400 octets, 2 a character
            http_user_agent: Some("ü€".repeat(100)), // 500 octets, 2 + 3
            http_method: Some("GET".into()),
            dns_qtype: Some(28),
            ..Seen::default()
        };
        let v = InspectedValues::of(&seen, None);
        let p = v.presence();
        let full = v.encoded_len(p, usize::MAX);
        assert_eq!(full, 403 + 503 + 4 + 2);
        assert_eq!(v.string_cap(p, full), Some(500));
        for budget in [0usize, 5, 9, 10, 64, 255, 300, 500, 800, full - 1] {
            let Some(cap) = v.string_cap(p, budget) else {
                // Only when not even empty strings fit (3 one-octet lengths + 2).
                assert!(budget < 5, "{budget}");
                continue;
            };
            let len = v.encoded_len(p, cap);
            assert!(len <= budget, "{budget}: {len}");
            assert!(
                cap == 500 || v.encoded_len(p, cap + 1) > budget,
                "{budget}: {cap}"
            );
            let mut out = vec![0u8; len];
            v.emit(p, cap, &mut out);
            // Walk the varlen strings: each is valid UTF-8 and at most the cap.
            let mut at = 0;
            for ie in INSPECTED
                .iter()
                .enumerate()
                .filter(|(i, _)| p & 1 << i != 0)
            {
                if ie.1.length() != VARLEN {
                    at += ie.1.length() as usize;
                    continue;
                }
                let (n, head) = match out[at] {
                    255 => (u16::from_be_bytes([out[at + 1], out[at + 2]]) as usize, 3),
                    n => (n as usize, 1),
                };
                let s = std::str::from_utf8(&out[at + head..at + head + n]).unwrap();
                assert!(s.len() <= cap);
                at += head + n;
            }
            assert_eq!(at, out.len());
        }
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

    /// A biflow record's splt as the two basicLists, byte for byte as RFC 6313 section
    /// 4.5.1 lays one out (checked by hand): the variable-length prefix (RFC 7011 section
    /// 7), semantic ordered (0x04, section 4.5), the member's id with the enterprise bit,
    /// its length, its PEN, then the values.
    #[test]
    fn splt_goes_out_as_rfc6313_basic_lists() {
        use crate::inspect::splt::{Shape as SpltShape, ShapeConfig, ShapePacket};
        use crate::time::Timestamp;
        let config = ShapeConfig { splt_packets: 10 };
        let t = |us: u64| Timestamp(1_000_000_000_000 + us * 1000);
        // SYN (0 octets, forward), 517 octets reverse 1520 µs later, 1448 forward 310 µs
        // after that, and a reverse ACK of 0 octets 2 µs later.
        let mut shape = SpltShape::first(config, ShapePacket::new(t(0), 0, 0, false));
        shape.add(config, ShapePacket::new(t(1520), 517, 0, true));
        shape.add(config, ShapePacket::new(t(1830), 1448, 0, false));
        shape.add(config, ShapePacket::new(t(1832), 0, 0, true));
        let groups = ShapeGroups {
            splt: true,
            ..ShapeGroups::default()
        };
        let src = ShapeSource {
            whole: Some(&shape),
            ..ShapeSource::default()
        };
        let v = InspectedValues::default().with_shape(groups, true, src);
        let lists = SPLT_LIST_BITS;
        assert_eq!(v.presence() & lists, lists);
        assert_eq!(v.encoded_len(lists, 0), 2 * (1 + 9 + 4 * 4));
        let mut out = vec![0u8; v.encoded_len(lists, 0)];
        v.emit(lists, 0, &mut out);
        #[rustfmt::skip]
        let want: &[u8] = &[
            // spltPacketLengths: 25 octets follow.
            25,
            0x04,                   // semantic: ordered
            0x80, 0x26,             // enterprise bit | 38 (spltPacketLength)
            0x00, 0x04,             // element length 4
            0x00, 0x00, 0x7e, 0xd9, // PEN 32473
            0x00, 0x00, 0x00, 0x00, // 0
            0xff, 0xff, 0xfd, 0xfb, // -517 (reverse)
            0x00, 0x00, 0x05, 0xa8, // 1448
            0x00, 0x00, 0x00, 0x00, // reverse 0: no sign to carry
            // spltInterArrivalTimes: 25 octets follow.
            25,
            0x04,
            0x80, 0x27,             // enterprise bit | 39 (spltInterArrivalMicroseconds)
            0x00, 0x04,
            0x00, 0x00, 0x7e, 0xd9,
            0x00, 0x00, 0x00, 0x00, // 0
            0x00, 0x00, 0x05, 0xf0, // 1520
            0x00, 0x00, 0x01, 0x36, // 310
            0x00, 0x00, 0x00, 0x02, // 2
        ];
        assert_eq!(out, want);
        // The statistics: gaps 1520, 310, 2 µs; lengths 0, 517, 1448, 0.
        let at = |ie: Ie| INSPECTED.iter().position(|x| *x == ie).unwrap();
        assert_eq!(
            v.get(at(IatMinimumMicroseconds)),
            Some(InspectedValue::U64(2))
        );
        assert_eq!(
            v.get(at(IatMaximumMicroseconds)),
            Some(InspectedValue::U64(1520))
        );
        let Some(InspectedValue::F64(mean)) = v.get(at(IatMeanMicroseconds)) else {
            panic!("iat mean")
        };
        assert!((mean - 1832.0 / 3.0).abs() < 1e-9, "{mean}");
        assert_eq!(
            v.get(at(PayloadLengthMaximum)),
            Some(InspectedValue::U16(1448))
        );
        assert_eq!(
            v.get(at(PayloadLengthMinimum)),
            Some(InspectedValue::U16(0))
        );
        // No tcp group asked for: none of its elements.
        assert_eq!(v.presence() & TCP_ELEMENTS.fold(0, |a, i| a | 1 << i), 0);
    }

    /// The tcp group of a whole biflow record: own direction, then the reverse one; the TCP
    /// counts only for TCP records; RTTs from either side's notes.
    #[test]
    fn tcp_elements_follow_the_csv_columns() {
        use crate::inspect::splt::DirectionCounts;
        use crate::inspect::tcp::TcpOptions;
        use crate::inspect::Seen;
        let fwd = Seen {
            server_rtt_us: Some(1200),
            tcp_options: Some(TcpOptions {
                mss: Some(1460),
                wscale: Some(7),
                sack_ok: true,
                timestamps: true,
                bitmap: 1 << 63 | 1 << 61 | 1 << 60 | 1 << 59 | 1 << 55,
            }),
            ..Seen::default()
        };
        let rev = Seen {
            client_rtt_us: Some(35),
            ..Seen::default()
        };
        let (c1, c2) = (
            DirectionCounts {
                payload_bytes: 517,
                retransmissions: 2,
                out_of_order: 1,
                zero_windows: 0,
            },
            DirectionCounts::default(),
        );
        let src = ShapeSource {
            own: Some(&fwd),
            other: Some(&rev),
            own_counts: Some(&c1),
            other_counts: Some(&c2),
            whole: None,
        };
        let groups = ShapeGroups {
            tcp: true,
            splt: true,
            reverse: true,
        };
        let v = InspectedValues::default().with_shape(groups, true, src);
        use InspectedValue::{U16, U32, U64};
        let got: Vec<_> = TCP_ELEMENTS
            .map(|i| (INSPECTED[i].name(), v.get(i)))
            .collect();
        let want = [
            ("tcpServerRttMicroseconds", Some(U32(1200))),
            ("tcpClientRttMicroseconds", Some(U32(35))),
            ("transportOctetDeltaCount", Some(U64(517))),
            ("tcpRetransmissionCount", Some(U32(2))),
            ("tcpOutOfOrderCount", Some(U32(1))),
            ("tcpZeroWindowCount", Some(U32(0))),
            ("tcpMaximumSegmentSize", Some(U16(1460))),
            ("tcpWindowScale", Some(U16(7))),
            ("tcpOptions", Some(U64(0xb880_0000_0000_0000))),
            ("reverseTransportOctetDeltaCount", Some(U64(0))),
            ("reverseTcpRetransmissionCount", Some(U32(0))),
            ("reverseTcpOutOfOrderCount", Some(U32(0))),
            ("reverseTcpZeroWindowCount", Some(U32(0))),
            ("reverseTcpMaximumSegmentSize", None),
            ("reverseTcpWindowScale", None),
            ("reverseTcpOptions", None),
        ];
        assert_eq!(got, want);
        // No shape of its own (a uniflow part): no splt element.
        assert_eq!(v.presence() & SPLT_ELEMENTS.fold(0, |a, i| a | 1 << i), 0);
        // UDP: payload octets, no TCP counts.
        let udp = InspectedValues::default().with_shape(groups, false, src);
        assert_eq!(udp.get(FIRST_TCP_AT + 2), Some(U64(517)));
        assert_eq!(udp.get(FIRST_TCP_AT + 3), None);
        // Reverse group only for biflow sinks.
        let uni = ShapeGroups {
            reverse: false,
            ..groups
        };
        let u = InspectedValues::default().with_shape(uni, true, src);
        assert_eq!(u.get(FIRST_TCP_AT + 9), None);
    }

    /// Every enterprise element of flowprobe has its own bit in a described set, reverse
    /// ones included; the basicLists' members are elements of their own.
    #[test]
    fn every_flowprobe_element_has_a_described_bit() {
        let mut seen = 0u128;
        for &ie in Ie::ALL.iter().filter(|ie| ie.pen() == PEN_FLOWPROBE) {
            let bit = flowprobe_element_bit(ie).unwrap();
            assert_eq!(seen & bit, 0, "{}", ie.name());
            seen |= bit;
        }
        assert_eq!(SpltPacketLengths.list_member(), Some(SpltPacketLength));
        assert_eq!(flowprobe_element_bit(TcpOptions), None);
    }
}
