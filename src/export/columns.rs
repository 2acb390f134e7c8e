//! The columns of a record, as the file outputs write them: CSV, JSON lines and Parquet
//! share the names, the order and the values here, so a query written against one reads
//! the others.
//!
//! [`for_each_value`] walks a record's columns once, in order, handing each column's
//! [`Value`] (or `None`, for a column that does not apply, such as the tunnel's of a flow
//! that was not tunneled) to the output. Text outputs write it with [`Value::write`];
//! Parquet keeps numbers and times as numbers.

use std::io::Write as _;

use crate::flow::record::FlowRecord;
use crate::inspect::community_id::CommunityId;
use crate::inspect::splt::{DirectionCounts, Shape, SpltEntry};
use crate::inspect::{InspectConfig, Inspection, Seen};
use crate::time::{Timestamp, RFC3339_MAX};

/// The field names of CSV and JSON output, in order.
pub const COLUMNS: [&str; 27] = [
    "start",
    "end",
    "src",
    "dst",
    "sport",
    "dport",
    "proto",
    "tos",
    "tcp_flags",
    "packets",
    "bytes",
    "in_if",
    "vlan",
    "icmp_type",
    "icmp_code",
    "end_reason",
    "ip_version",
    "min_ttl",
    "max_ttl",
    "src_mac",
    "dst_mac",
    "tunnel_type",
    "tunnel_id",
    "tunnel_src",
    "tunnel_dst",
    "direction",
    "egress_if",
];

/// The reverse-direction columns a biflow text output adds after [`COLUMNS`]. With no
/// reverse packet, the counters are 0 and the times and TTLs empty (`null` in JSON).
pub const BIFLOW_COLUMNS: [&str; 7] = [
    "reverse_packets",
    "reverse_bytes",
    "reverse_tcp_flags",
    "reverse_start",
    "reverse_end",
    "reverse_min_ttl",
    "reverse_max_ttl",
];

/// The columns payload inspection adds (`--inspect`), after the others: empty (`null`
/// in JSON) where the flow showed nothing.
pub const INSPECT_COLUMNS: [&str; 20] = [
    "app",
    "tls_sni",
    "tls_alpn",
    "tls_version",
    "tls_cipher",
    "ja4",
    "ja3",
    "dns_qname",
    "dns_qtype",
    "dns_rcode",
    "dns_answers",
    "http_host",
    "http_method",
    "http_target",
    "http_user_agent",
    "http_status",
    "ssh_client",
    "ssh_server",
    "hassh",
    "community_id",
];

/// The columns `--inspect tcp` adds, after the application columns.
pub const TCP_COLUMNS: [&str; 11] = [
    "server_rtt_us",
    "client_rtt_us",
    "payload_bytes",
    "retransmissions",
    "out_of_order",
    "zero_windows",
    "tcp_mss",
    "tcp_wscale",
    "tcp_sack_ok",
    "tcp_timestamps",
    "tcp_options",
];

/// The reverse direction's [`TCP_COLUMNS`] (those of one direction) in biflow rows.
pub const TCP_REVERSE_COLUMNS: [&str; 9] = [
    "reverse_payload_bytes",
    "reverse_retransmissions",
    "reverse_out_of_order",
    "reverse_zero_windows",
    "reverse_tcp_mss",
    "reverse_tcp_wscale",
    "reverse_tcp_sack_ok",
    "reverse_tcp_timestamps",
    "reverse_tcp_options",
];

/// The columns `--inspect splt` adds, last.
pub const SPLT_COLUMNS: [&str; 9] = [
    "splt",
    "iat_min_us",
    "iat_mean_us",
    "iat_max_us",
    "iat_stddev_us",
    "len_min",
    "len_mean",
    "len_max",
    "len_stddev",
];

/// The names of an output's columns: [`COLUMNS`], then [`BIFLOW_COLUMNS`] for biflow
/// rows, then the inspection groups `inspect` asks for: [`INSPECT_COLUMNS`],
/// [`TCP_COLUMNS`] (and [`TCP_REVERSE_COLUMNS`] for biflow rows), [`SPLT_COLUMNS`].
pub fn column_names(biflow: bool, inspect: &InspectColumns) -> Vec<&'static str> {
    let mut names = COLUMNS.to_vec();
    if biflow {
        names.extend(BIFLOW_COLUMNS);
    }
    if inspect.app {
        names.extend(INSPECT_COLUMNS);
    }
    if inspect.tcp {
        names.extend(TCP_COLUMNS);
        if biflow {
            names.extend(TCP_REVERSE_COLUMNS);
        }
    }
    if inspect.splt {
        names.extend(SPLT_COLUMNS);
    }
    names
}

/// The index of the first inspection column: after [`COLUMNS`], and [`BIFLOW_COLUMNS`]
/// for biflow rows.
pub fn first_inspect_column(biflow: bool) -> usize {
    COLUMNS.len() + if biflow { BIFLOW_COLUMNS.len() } else { 0 }
}

/// What the file outputs write of inspection: which column groups are there, and the
/// Community ID seed when that column has values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct InspectColumns {
    /// The application columns ([`INSPECT_COLUMNS`]) are written.
    pub app: bool,
    /// The [`TCP_COLUMNS`] are written.
    pub tcp: bool,
    /// The [`SPLT_COLUMNS`] are written.
    pub splt: bool,
    /// `community_id` is computed with this seed (`None`: left empty).
    pub community_id_seed: Option<u16>,
}

impl InspectColumns {
    /// The columns `config` asks for.
    pub fn new(config: &InspectConfig) -> InspectColumns {
        let p = config.protocols;
        InspectColumns {
            app: p.has_application_columns(),
            tcp: p.has(crate::inspect::Protocol::Tcp),
            splt: p.has(crate::inspect::Protocol::Splt),
            community_id_seed: p
                .has(crate::inspect::Protocol::CommunityId)
                .then_some(config.community_id_seed),
        }
    }

    /// Whether any inspection column is written.
    pub fn any(&self) -> bool {
        self.app || self.tcp || self.splt
    }

    /// The index of the first [`TCP_COLUMNS`] column.
    pub fn first_tcp_column(&self, biflow: bool) -> usize {
        first_inspect_column(biflow) + if self.app { INSPECT_COLUMNS.len() } else { 0 }
    }

    /// The index of the first [`SPLT_COLUMNS`] column.
    pub fn first_splt_column(&self, biflow: bool) -> usize {
        let tcp = match (self.tcp, biflow) {
            (false, _) => 0,
            (true, false) => TCP_COLUMNS.len(),
            (true, true) => TCP_COLUMNS.len() + TCP_REVERSE_COLUMNS.len(),
        };
        self.first_tcp_column(biflow) + tcp
    }

    /// Hands `f` the tcp and splt groups' columns of a row (those asked for), numbered
    /// in place; `part` is the row's record (or uniflow part of one).
    pub fn for_each_shape_value(
        &self,
        part: &FlowRecord,
        row: RowInspection<'_>,
        biflow: bool,
        mut f: impl FnMut(usize, Option<Value<'_>>),
    ) {
        if self.tcp {
            for_each_tcp_value(part, row, biflow, self.first_tcp_column(biflow), &mut f);
        }
        if self.splt {
            for_each_splt_value(row, self.first_splt_column(biflow), &mut f);
        }
    }
}

/// Which part of a record a row shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Part {
    /// The whole record: a uniflow record, or a biflow row.
    Whole,
    /// The initiator's direction of a biflow record, as a uniflow row.
    Forward,
    /// The responder's direction of a biflow record, as a uniflow row.
    Reverse,
}

/// What inspection found for one row: its record's [`Inspection`] and which part of the
/// record the row is.
#[derive(Clone, Copy, Debug)]
pub struct RowInspection<'a> {
    inspection: Option<&'a Inspection>,
    part: Part,
}

impl<'a> RowInspection<'a> {
    /// A row of a record without inspection.
    pub const NONE: RowInspection<'static> = RowInspection {
        inspection: None,
        part: Part::Whole,
    };

    /// Whether the record had nothing inspected.
    pub fn is_none(&self) -> bool {
        self.inspection.is_none()
    }

    /// The application values the row shows: a biflow row the record's combined values,
    /// a uniflow row its own direction's.
    pub fn seen(&self) -> Option<Seen> {
        let inspection = self.inspection?;
        Some(match self.part {
            Part::Whole => inspection.combined(),
            Part::Forward => inspection.forward.clone(),
            Part::Reverse => inspection.reverse.clone(),
        })
    }

    /// The application values the row shows, without copying them: the first side's
    /// field when it has one, else the second's (a biflow row: the forward direction,
    /// then the reverse, as [`Inspection::combined`]; a uniflow row: its own direction
    /// alone). `None` when neither side has an application value (the TCP notes alone
    /// leave the application columns empty).
    pub fn app_sides(&self) -> Option<(&'a Seen, Option<&'a Seen>)> {
        let i = self.inspection?;
        let (a, b) = match self.part {
            Part::Whole => (&i.forward, Some(&i.reverse)),
            Part::Forward => (&i.forward, None),
            Part::Reverse => (&i.reverse, None),
        };
        let b = b.filter(|b| b.has_app_values());
        (a.has_app_values() || b.is_some()).then_some((a, b))
    }

    /// The row's own direction's values and the other direction's (a biflow row's
    /// reverse; for a uniflow part, the record's other half, where only the connection's
    /// RTT is read from).
    fn sides(&self) -> (Option<&'a Seen>, Option<&'a Seen>) {
        let Some(i) = self.inspection else {
            return (None, None);
        };
        match self.part {
            Part::Whole | Part::Forward => (Some(&i.forward), Some(&i.reverse)),
            Part::Reverse => (Some(&i.reverse), Some(&i.forward)),
        }
    }

    /// The row's own direction's counts and, in a biflow row, the reverse direction's.
    fn counts(&self) -> (Option<&'a DirectionCounts>, Option<&'a DirectionCounts>) {
        let Some(s) = self.inspection.and_then(|i| i.shape.as_deref()) else {
            return (None, None);
        };
        match self.part {
            Part::Whole => (Some(&s.forward), Some(&s.reverse)),
            Part::Forward => (Some(&s.forward), None),
            Part::Reverse => (Some(&s.reverse), None),
        }
    }

    /// The record's shape, when the row is the whole record (a uniflow part of a biflow
    /// record has no sequence or statistics of its own).
    fn whole_shape(&self) -> Option<&'a Shape> {
        match self.part {
            Part::Whole => self.inspection.and_then(|i| i.shape.as_deref()),
            _ => None,
        }
    }
}

/// The [`TCP_COLUMNS`] (and in biflow rows [`TCP_REVERSE_COLUMNS`]) of a row, from
/// `first`.
fn for_each_tcp_value(
    part: &FlowRecord,
    row: RowInspection<'_>,
    biflow: bool,
    first: usize,
    f: &mut impl FnMut(usize, Option<Value<'_>>),
) {
    use Value::{Bool, Uint};
    let (own, other) = row.sides();
    let rtt = |get: fn(&Seen) -> Option<u32>| {
        own.and_then(get)
            .or_else(|| other.and_then(get))
            .map(|v| Uint(v.into()))
    };
    f(first, rtt(|s| s.server_rtt_us));
    f(first + 1, rtt(|s| s.client_rtt_us));
    let tcp = part.key.proto == crate::flow::key::PROTO_TCP;
    let (own_counts, other_counts) = row.counts();
    let mut direction = |at: usize, counts: Option<&DirectionCounts>, seen: Option<&Seen>| {
        f(at, counts.map(|c| Uint(c.payload_bytes)));
        let tcp_counts = counts.filter(|_| tcp);
        f(at + 1, tcp_counts.map(|c| Uint(c.retransmissions.into())));
        f(at + 2, tcp_counts.map(|c| Uint(c.out_of_order.into())));
        f(at + 3, tcp_counts.map(|c| Uint(c.zero_windows.into())));
        let o = seen.and_then(|s| s.tcp_options);
        f(at + 4, o.and_then(|o| o.mss).map(|v| Uint(v.into())));
        f(at + 5, o.and_then(|o| o.wscale).map(|v| Uint(v.into())));
        f(at + 6, o.map(|o| Bool(o.sack_ok)));
        f(at + 7, o.map(|o| Bool(o.timestamps)));
        f(at + 8, o.map(|o| Uint(o.bitmap)));
    };
    direction(first + 2, own_counts, own);
    if biflow {
        direction(first + TCP_COLUMNS.len(), other_counts, other);
    }
}

/// The [`SPLT_COLUMNS`] of a row, from `first`.
fn for_each_splt_value(
    row: RowInspection<'_>,
    first: usize,
    f: &mut impl FnMut(usize, Option<Value<'_>>),
) {
    use Value::{Float3, Splt, Uint};
    let shape = row.whole_shape();
    f(first, shape.map(|s| Splt(&s.splt)));
    let iat = shape.map(|s| s.iat).filter(|w| w.n > 0);
    f(first + 1, iat.map(|w| Uint(w.min / 1000)));
    f(first + 2, iat.map(|w| Float3(w.mean / 1000.0)));
    f(first + 3, iat.map(|w| Uint(w.max / 1000)));
    f(
        first + 4,
        iat.and_then(|w| w.stddev()).map(|d| Float3(d / 1000.0)),
    );
    let len = shape.map(|s| s.len).filter(|w| w.n > 0);
    f(first + 5, len.map(|w| Uint(w.min)));
    f(first + 6, len.map(|w| Float3(w.mean)));
    f(first + 7, len.map(|w| Uint(w.max)));
    f(first + 8, len.and_then(|w| w.stddev()).map(Float3));
}

/// Community IDs of recent keys, so the two directions of a connection (the same ID)
/// and the records of a long flow hash once: SHA-1 is most of an ID's cost, and the
/// exporter thread is a conversion's slowest. Direct-mapped: an ID is stored under the
/// key and its reverse.
pub struct CommunityIds {
    seed: u16,
    /// The key and its ID, held in place: the cache allocates nothing after it is made.
    slots: Vec<Option<(crate::flow::key::FlowKey, CommunityId)>>,
}

impl CommunityIds {
    /// Slots (a power of two).
    const SLOTS: usize = 4096;

    /// An empty cache for `seed`.
    pub fn new(seed: u16) -> CommunityIds {
        CommunityIds {
            seed,
            slots: vec![None; Self::SLOTS],
        }
    }

    fn slot(key: &crate::flow::key::FlowKey) -> usize {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        key.hash(&mut h);
        let mut state = h.finish();
        crate::flow::sampling::splitmix64(&mut state) as usize & (Self::SLOTS - 1)
    }

    /// The Community ID of `key`.
    pub fn get(&mut self, key: &crate::flow::key::FlowKey) -> Option<&str> {
        let at = Self::slot(key);
        let hit = matches!(&self.slots[at], Some((k, _)) if k == key);
        if !hit {
            let id = crate::inspect::community_id::community_id_bytes(key, self.seed)?;
            if let Some(reverse) = key.reversed() {
                self.slots[Self::slot(&reverse)] = Some((reverse, id));
            }
            self.slots[at] = Some((*key, id));
        }
        self.slots[at].as_ref().map(|(_, id)| id.as_str())
    }
}

/// Hands `row` each row the file outputs write for `records`: a biflow record as one row
/// when `biflow`, else as its uniflow records; each with what inspection found for it
/// (`inspections[i]` for `records[i]`).
pub fn for_each_row<E>(
    records: &[FlowRecord],
    inspections: &[Option<Box<Inspection>>],
    biflow: bool,
    mut row: impl FnMut(&FlowRecord, RowInspection<'_>) -> Result<(), E>,
) -> Result<(), E> {
    for (i, r) in records.iter().enumerate() {
        let inspection = inspections.get(i).and_then(|x| x.as_deref());
        if r.reverse.is_some() && !biflow {
            for uniflow in r.uniflows() {
                let forward =
                    (uniflow.key.src, uniflow.key.src_port) == (r.key.src, r.key.src_port);
                let part = if forward {
                    Part::Forward
                } else {
                    Part::Reverse
                };
                row(&uniflow, RowInspection { inspection, part })?;
            }
        } else {
            let part = Part::Whole;
            row(r, RowInspection { inspection, part })?;
        }
    }
    Ok(())
}

/// Hands each inspection column of a row to `f`, numbered from `first`: the values of
/// `seen` (each field from its first side when it has it, else from the second: see
/// [`RowInspection::app_sides`]; nothing is copied), then `community_id`.
pub fn for_each_inspect_value(
    seen: Option<(&Seen, Option<&Seen>)>,
    community_id: Option<&str>,
    first: usize,
    mut f: impl FnMut(usize, Option<Value<'_>>),
) {
    use Value::{Hex16, Str, Text, Uint};
    let Some((a, b)) = seen else {
        for i in 0..INSPECT_COLUMNS.len() - 1 {
            f(first + i, None);
        }
        f(first + INSPECT_COLUMNS.len() - 1, community_id.map(Str));
        return;
    };
    /// The field `field` of `a`, else of `b`.
    macro_rules! pick {
        ($field:ident) => {
            a.$field
                .as_ref()
                .or_else(|| b.and_then(|b| b.$field.as_ref()))
        };
    }
    macro_rules! text {
        ($field:ident) => {
            pick!($field).map(|v| Str(v.as_str()))
        };
    }
    f(first, pick!(app).map(|a| Text(a.name())));
    f(first + 1, text!(tls_sni));
    f(first + 2, text!(tls_alpn));
    f(
        first + 3,
        pick!(tls_version).map(|&v| match crate::inspect::tls::version_name(v) {
            Some(name) => Text(name),
            None => Hex16(v),
        }),
    );
    f(first + 4, pick!(tls_cipher).map(|&v| Hex16(v)));
    f(first + 5, text!(ja4));
    f(first + 6, text!(ja3));
    f(first + 7, text!(dns_qname));
    f(first + 8, pick!(dns_qtype).map(|&v| Uint(v.into())));
    f(first + 9, pick!(dns_rcode).map(|&v| Uint(v.into())));
    f(first + 10, pick!(dns_answers).map(|&v| Uint(v.into())));
    f(first + 11, text!(http_host));
    f(first + 12, text!(http_method));
    f(first + 13, text!(http_target));
    f(first + 14, text!(http_user_agent));
    f(first + 15, pick!(http_status).map(|&v| Uint(v.into())));
    f(first + 16, text!(ssh_client));
    f(first + 17, text!(ssh_server));
    f(first + 18, text!(hassh));
    f(first + 19, community_id.map(Str));
}

/// The name of column `i` (of [`COLUMNS`] then [`BIFLOW_COLUMNS`]).
pub fn column_name(i: usize) -> &'static str {
    COLUMNS
        .get(i)
        .or_else(|| BIFLOW_COLUMNS.get(i - COLUMNS.len().min(i)))
        .copied()
        .unwrap_or("")
}

/// Hands each column of `r` to `f`, in `COLUMNS` (then `BIFLOW_COLUMNS`, when `biflow`)
/// order, with its index: `None` for a column without a value for this record.
#[inline]
pub fn for_each_value(r: &FlowRecord, biflow: bool, mut f: impl FnMut(usize, Option<Value<'_>>)) {
    use Value::{Ip, Mac, Text, Time, Uint};
    let k = &r.key;
    f(0, Some(Time(r.start)));
    f(1, Some(Time(r.end)));
    f(2, Some(Ip(k.ip_version, &k.src)));
    f(3, Some(Ip(k.ip_version, &k.dst)));
    f(4, Some(Uint(k.src_port.into())));
    f(5, Some(Uint(k.dst_port.into())));
    f(6, Some(Uint(k.proto.into())));
    f(7, Some(Uint(k.tos.into())));
    f(8, Some(Uint(r.tcp_flags.into())));
    f(9, Some(Uint(r.packets)));
    f(10, Some(Uint(r.octets)));
    f(11, Some(Uint(k.in_if.into())));
    f(12, Some(Uint(k.vlan.into())));
    f(13, Some(Uint(k.icmp_type().into())));
    f(14, Some(Uint(k.icmp_code().into())));
    f(15, Some(Text(r.end_reason.name())));
    f(16, Some(Uint(k.ip_version.into())));
    f(17, Some(Uint(r.min_ttl.into())));
    f(18, Some(Uint(r.max_ttl.into())));
    f(19, Some(Mac(&r.src_mac)));
    f(20, Some(Mac(&r.dst_mac)));
    let t = &r.tunnel;
    let tunneled = t.is_some();
    f(21, tunneled.then(|| Text(t.kind.name())));
    f(22, tunneled.then_some(Uint(t.id.into())));
    f(23, tunneled.then_some(Ip(t.outer_ip_version, &t.outer_src)));
    f(24, tunneled.then_some(Ip(t.outer_ip_version, &t.outer_dst)));
    f(25, Some(Text(r.direction.name())));
    f(26, Some(Uint(r.egress_if.into())));
    if !biflow {
        return;
    }
    let rev = r.reverse.unwrap_or_default();
    let seen = rev.packets > 0;
    f(27, Some(Uint(rev.packets)));
    f(28, Some(Uint(rev.octets)));
    f(29, Some(Uint(rev.tcp_flags.into())));
    f(30, seen.then_some(Time(rev.start)));
    f(31, seen.then_some(Time(rev.end)));
    f(32, seen.then_some(Uint(rev.min_ttl.into())));
    f(33, seen.then_some(Uint(rev.max_ttl.into())));
}

/// A value of a column.
#[derive(Clone, Copy)]
pub enum Value<'a> {
    /// A number, in decimal.
    Uint(u64),
    /// A name, as it is.
    Text(&'a str),
    /// RFC 3339 UTC with nanoseconds.
    Time(Timestamp),
    /// An address of IP version 4 (the first 4 bytes) or else 6, in its standard form.
    Ip(u8, &'a [u8; 16]),
    /// `aa:bb:cc:dd:ee:ff`.
    Mac(&'a [u8; 6]),
    /// Text from the traffic (a server name, a user agent): any characters, so CSV
    /// quotes it and JSON escapes it where needed.
    Str(&'a str),
    /// A 16-bit code as 4 lowercase hex digits (a TLS cipher suite: `1301`).
    Hex16(u16),
    /// A number with three decimals (a mean, a standard deviation).
    Float3(f64),
    /// `true` or `false`.
    Bool(bool),
    /// A packet sequence: `len:iat_us` pairs, comma-joined, a responder's length with a
    /// minus sign (a JSON array of objects in JSON).
    Splt(&'a [SpltEntry]),
}

impl Value<'_> {
    /// Appends the value as text (CSV, JSON, and Parquet's strings).
    pub fn write(self, line: &mut Vec<u8>) {
        match self {
            Value::Uint(n) => push_uint(line, n),
            Value::Text(s) | Value::Str(s) => line.extend_from_slice(s.as_bytes()),
            Value::Hex16(v) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for shift in [12, 8, 4, 0] {
                    line.push(HEX[usize::from(v >> shift & 15)]);
                }
            }
            Value::Time(t) => {
                let mut buf = [0u8; RFC3339_MAX];
                let len = t.rfc3339(9, &mut buf);
                push_bytes(line, &buf[..len]);
            }
            Value::Ip(4, a) => {
                for (j, octet) in a[..4].iter().enumerate() {
                    if j > 0 {
                        line.push(b'.');
                    }
                    push_uint(line, u64::from(*octet));
                }
            }
            Value::Ip(_, a) => {
                let _ = write!(line, "{}", std::net::Ipv6Addr::from(*a));
            }
            Value::Float3(x) => push_float3(line, x),
            Value::Bool(b) => line.extend_from_slice(if b { b"true" } else { b"false" }),
            Value::Splt(entries) => {
                for (j, e) in entries.iter().enumerate() {
                    if j > 0 {
                        line.push(b',');
                    }
                    if e.reverse {
                        line.push(b'-');
                    }
                    push_uint(line, e.len.into());
                    line.push(b':');
                    push_uint(line, e.iat_us.into());
                }
            }
            Value::Mac(m) => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for (j, b) in m.iter().enumerate() {
                    if j > 0 {
                        line.push(b':');
                    }
                    line.push(HEX[usize::from(b >> 4)]);
                    line.push(HEX[usize::from(b & 15)]);
                }
            }
        }
    }
}

/// Appends `s` as one CSV field (RFC 4180): in double quotes, with its quotes doubled,
/// when it holds a comma, a quote, a line end or leading/trailing space.
pub fn write_csv_field(line: &mut Vec<u8>, s: &str) {
    let quote = s.bytes().any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
        || s.starts_with(' ')
        || s.ends_with(' ');
    if !quote {
        line.extend_from_slice(s.as_bytes());
        return;
    }
    line.push(b'"');
    for b in s.bytes() {
        if b == b'"' {
            line.push(b'"');
        }
        line.push(b);
    }
    line.push(b'"');
}

/// Appends `s` as the inside of a JSON string (RFC 8259 section 7): quotes, backslashes
/// and control characters escaped.
pub fn write_json_string(line: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for b in s.bytes() {
        match b {
            b'"' => line.extend_from_slice(b"\\\""),
            b'\\' => line.extend_from_slice(b"\\\\"),
            b'\n' => line.extend_from_slice(b"\\n"),
            b'\r' => line.extend_from_slice(b"\\r"),
            b'\t' => line.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => {
                line.extend_from_slice(b"\\u00");
                line.push(HEX[usize::from(b >> 4)]);
                line.push(HEX[usize::from(b & 15)]);
            }
            _ => line.push(b),
        }
    }
}

/// Appends a packet sequence as a JSON array of `{"len":L,"iat_us":T}` objects (a
/// responder's length negative).
pub fn write_splt_json(line: &mut Vec<u8>, entries: &[SpltEntry]) {
    line.push(b'[');
    for (j, e) in entries.iter().enumerate() {
        if j > 0 {
            line.push(b',');
        }
        line.extend_from_slice(b"{\"len\":");
        if e.reverse {
            line.push(b'-');
        }
        push_uint(line, e.len.into());
        line.extend_from_slice(b",\"iat_us\":");
        push_uint(line, e.iat_us.into());
        line.push(b'}');
    }
    line.push(b']');
}

/// Appends `x` with three decimals, as `format!("{x:.3}")` does for the non-negative
/// values written here (means and standard deviations), by hand: `fmt`'s float
/// formatting took about 1,000 instructions a value, and the statistics columns have
/// four a row. Values past 2^53 thousandths, negative or not finite go through `fmt`.
fn push_float3(line: &mut Vec<u8>, x: f64) {
    let scaled = (x * 1000.0).round();
    if !(0.0..9.0e15).contains(&scaled) {
        let _ = write!(line, "{x:.3}");
        return;
    }
    // Rounding the scaled value rounds half away from zero where `fmt` rounds the exact
    // binary value half to even: they differ only when x * 1000 is within an ulp of a
    // half, which the round trip below detects.
    let thousandths = scaled as u64;
    if ((thousandths as f64 - x * 1000.0).abs() - 0.5).abs() < 1e-6 {
        let _ = write!(line, "{x:.3}");
        return;
    }
    push_uint(line, thousandths / 1000);
    let frac = thousandths % 1000;
    line.push(b'.');
    line.push(b'0' + (frac / 100) as u8);
    line.push(b'0' + (frac / 10 % 10) as u8);
    line.push(b'0' + (frac % 10) as u8);
}

/// Appends `n` in decimal.
fn push_uint(line: &mut Vec<u8>, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    push_bytes(line, &buf[at..]);
}

/// Appends a few bytes just written into a buffer on the stack (digits, a time), a byte
/// at a time after one `reserve`. `extend_from_slice` was a call to `memmove` for every
/// value, and copying the buffer whole and cutting it stalled on the bytes just stored
/// (a wide load cannot take them from the store buffer); each was the CSV exporter's
/// largest single cost.
#[inline(always)]
fn push_bytes(line: &mut Vec<u8>, bytes: &[u8]) {
    line.reserve(bytes.len());
    for &b in bytes {
        line.push(b);
    }
}

#[cfg(test)]
mod number_tests {
    #[test]
    fn three_decimals_by_hand_equal_fmt() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut values = vec![
            0.0,
            0.0005,
            0.0015,
            1.0005,
            2.5,
            999.9995,
            1e12 + 0.25,
            123.456,
        ];
        for _ in 0..200_000 {
            let r = crate::flow::sampling::splitmix64(&mut state);
            let scale = [1.0, 1e3, 1e6, 1e9][(r % 4) as usize];
            values.push((r >> 11) as f64 / (1u64 << 53) as f64 * scale);
            values.push((r % 1_000_000) as f64 / 8.0);
            values.push((r % 1_000_000) as f64 / 16.0);
        }
        for x in values {
            let mut line = Vec::new();
            super::push_float3(&mut line, x);
            assert_eq!(String::from_utf8(line).unwrap(), format!("{x:.3}"), "{x:e}");
        }
    }

    #[test]
    fn integers_by_hand_equal_fmt_and_keep_what_came_before() {
        let mut values = vec![0, 1, 9, u64::MAX, u64::MAX - 1];
        for p in 1..20 {
            let ten = 10u64.pow(p);
            values.extend([ten - 1, ten, ten + 1]);
        }
        for n in values {
            let mut line = b"x,".to_vec();
            super::push_uint(&mut line, n);
            assert_eq!(String::from_utf8(line).unwrap(), format!("x,{n}"));
        }
    }
}
