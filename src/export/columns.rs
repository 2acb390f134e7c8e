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
}

impl Value<'_> {
    /// Appends the value as text (CSV, JSON, and Parquet's strings).
    pub fn write(self, line: &mut Vec<u8>) {
        match self {
            Value::Uint(n) => push_uint(line, n),
            Value::Text(s) => line.extend_from_slice(s.as_bytes()),
            Value::Time(t) => {
                let mut buf = [0u8; RFC3339_MAX];
                let len = t.rfc3339(9, &mut buf);
                line.extend_from_slice(&buf[..len]);
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
    line.extend_from_slice(&buf[at..]);
}
