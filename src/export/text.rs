//! Text output of records: CSV, JSON lines, and an aligned table for people.
//!
//! CSV and JSON carry the same field names (`COLUMNS`), so a script written against one
//! reads the other. Times are RFC 3339 UTC with nanoseconds, addresses in their standard
//! text form, `proto` and `tcp_flags` numeric, MACs as `aa:bb:cc:dd:ee:ff`. The table
//! is for a terminal: times to the millisecond, TCP flags as letters, columns aligned.
//!
//! The tunnel (kind name, id, outer addresses), direction and egress interface columns
//! follow the classic ones; the tunnel's are empty in CSV and `null` in JSON when the flow
//! was not tunneled. By default biflow records are split into their two uniflow records
//! (`FlowRecord::uniflows`), like every uniflow output; a sink built
//! [`TextSink::with_biflow`] writes one row per biflow instead, with the reverse columns
//! ([`BIFLOW_COLUMNS`]) after the others (CSV and JSON; the table always shows uniflows).

use std::fmt::Write as _;
use std::io::{self, Write};

use super::columns::{
    column_names, first_inspect_column, for_each_inspect_value, for_each_row, for_each_value,
    write_csv_field, write_json_string, write_splt_json, CommunityIds, InspectColumns,
    RowInspection, Value, INSPECT_COLUMNS,
};
pub use super::columns::{BIFLOW_COLUMNS, COLUMNS};
use super::RecordSink;
use crate::flow::record::FlowRecord;
use crate::inspect::{Inspection, Seen};
use crate::time::Timestamp;

/// Which text format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextFormat {
    /// Aligned columns for people.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON object per line.
    Json,
}

/// Writes records as text to any writer.
pub struct TextSink {
    format: TextFormat,
    out: Box<dyn Write + Send>,
    /// The CSV or JSON row being written, as bytes: every value is ASCII, so nothing
    /// needs checking as UTF-8.
    line: Vec<u8>,
    header_written: bool,
    /// Table column widths, grown as wider values appear.
    widths: Vec<usize>,
    /// Table rows held back until `TABLE_SAMPLE` are known, to size the columns.
    held: Vec<Vec<String>>,
    /// The reader went away (a closed pipe, as with `| head`): stop writing, quietly.
    closed: bool,
    /// One row per biflow record, with the reverse columns (CSV and JSON).
    biflow: bool,
    /// The inspection columns (CSV and JSON) and the table's app and name.
    inspect: InspectColumns,
    /// The CSV/JSON column names, in order.
    names: Vec<&'static str>,
    /// Community IDs (when that column has values).
    community_ids: Option<CommunityIds>,
    /// The inspection columns before `community_id` of a row that showed nothing, as
    /// written (a common row: one copy instead of 19 values).
    nothing_seen: Vec<u8>,
}

/// Rows the table looks at before it fixes its column widths.
const TABLE_SAMPLE: usize = 1000;

impl TextSink {
    /// A sink writing `format` to `out` (buffer it: one write per record is made).
    pub fn new(format: TextFormat, out: Box<dyn Write + Send>) -> TextSink {
        TextSink {
            format,
            out,
            line: Vec::with_capacity(256),
            header_written: false,
            widths: TABLE_COLUMNS
                .iter()
                .map(|(name, w)| name.len().max(*w))
                .collect(),
            held: Vec::new(),
            closed: false,
            biflow: false,
            inspect: InspectColumns::default(),
            names: column_names(false, &InspectColumns::default()),
            community_ids: None,
            nothing_seen: Vec::new(),
        }
    }

    /// Adds the inspection columns (`--inspect`) as `inspect` says.
    pub fn with_inspect(mut self, inspect: InspectColumns) -> TextSink {
        self.inspect = inspect;
        if inspect.app && self.format == TextFormat::Table {
            self.widths
                .extend(TABLE_INSPECT_COLUMNS.iter().map(|(n, w)| n.len().max(*w)));
        }
        self.names = column_names(self.biflow, &inspect);
        self.community_ids = inspect.community_id_seed.map(CommunityIds::new);
        self.nothing_seen = self.render_nothing_seen();
        self
    }

    fn render_nothing_seen(&self) -> Vec<u8> {
        let mut line = Vec::new();
        let mut row = Row {
            line: &mut line,
            json: self.format == TextFormat::Json,
            names: &self.names,
        };
        let first = first_inspect_column(self.biflow);
        for i in 0..INSPECT_COLUMNS.len() - 1 {
            row.opt(first + i, None);
        }
        line
    }

    /// Writes biflow records as one row each, with the reverse columns (CSV and JSON),
    /// instead of splitting them into uniflow rows.
    pub fn with_biflow(mut self, biflow: bool) -> TextSink {
        self.biflow = biflow && self.format != TextFormat::Table;
        self.names = column_names(self.biflow, &self.inspect);
        self.nothing_seen = self.render_nothing_seen();
        self
    }

    fn write_header(&mut self) -> io::Result<()> {
        self.out.write_all(self.names.join(",").as_bytes())?;
        self.out.write_all(b"\n")?;
        self.header_written = true;
        Ok(())
    }

    /// Runs a write; a closed pipe ends the output without an error, like other tools.
    fn guarded(&mut self, f: impl FnOnce(&mut Self) -> io::Result<()>) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        match f(self) {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => other,
        }
    }

    fn write_table_row(&mut self, cells: &[String]) -> io::Result<()> {
        if !self.header_written {
            let mut names: Vec<&str> = TABLE_COLUMNS.iter().map(|(n, _)| *n).collect();
            if self.inspect.app {
                names.extend(TABLE_INSPECT_COLUMNS.iter().map(|(n, _)| *n));
            }
            let header = aligned(&names, &self.widths);
            self.out.write_all(header.as_bytes())?;
            self.out.write_all(b"\n")?;
            self.header_written = true;
        }
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        let mut line = aligned(&refs, &self.widths);
        line.push('\n');
        self.out.write_all(line.as_bytes())
    }

    fn release_held_rows(&mut self) -> io::Result<()> {
        for cells in std::mem::take(&mut self.held) {
            self.write_table_row(&cells)?;
        }
        Ok(())
    }

    /// Writes row `r`; `inspection` is what inspection found for it.
    fn write_record(&mut self, r: &FlowRecord, inspection: RowInspection<'_>) -> io::Result<()> {
        let seen = if self.inspect.app {
            inspection.app_sides()
        } else {
            None
        };
        self.line.clear();
        match self.format {
            TextFormat::Csv | TextFormat::Json => {
                let json = self.format == TextFormat::Json;
                if !json && !self.header_written {
                    self.write_header()?;
                }
                if json {
                    self.line.push(b'{');
                }
                let mut row = Row {
                    line: &mut self.line,
                    json,
                    names: &self.names,
                };
                for_each_value(r, self.biflow, |i, v| row.opt(i, v));
                if self.inspect.app {
                    let first = first_inspect_column(self.biflow);
                    let id = self.community_ids.as_mut().and_then(|c| c.get(&r.key));
                    if seen.is_none() {
                        row.line.extend_from_slice(&self.nothing_seen);
                        row.opt(first + INSPECT_COLUMNS.len() - 1, id.map(Value::Str));
                    } else {
                        for_each_inspect_value(seen, id, first, |i, v| row.opt(i, v));
                    }
                }
                self.inspect
                    .for_each_shape_value(r, inspection, self.biflow, |i, v| row.opt(i, v));
                if json {
                    self.line.push(b'}');
                }
            }
            TextFormat::Table => {
                let mut cells = table_cells(r).to_vec();
                if self.inspect.app {
                    cells.extend(table_inspect_cells(inspection.seen().as_ref()));
                }
                for (w, c) in self.widths.iter_mut().zip(cells.iter()) {
                    *w = (*w).max(c.len());
                }
                if !self.header_written && self.held.len() < TABLE_SAMPLE {
                    self.held.push(cells);
                    return Ok(());
                }
                self.release_held_rows()?;
                return self.write_table_row(&cells);
            }
        }
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }
}

impl RecordSink for TextSink {
    fn export(&mut self, records: &[FlowRecord], now: Timestamp) -> io::Result<()> {
        self.export_inspected(records, &[], now)
    }

    fn export_inspected(
        &mut self,
        records: &[FlowRecord],
        inspections: &[Option<Box<Inspection>>],
        _now: Timestamp,
    ) -> io::Result<()> {
        let biflow = self.biflow;
        self.guarded(|s| {
            for_each_row(records, inspections, biflow, |r, inspection| {
                s.write_record(r, inspection)
            })
        })
    }

    fn tick(&mut self, _now: Timestamp) -> io::Result<()> {
        self.guarded(|s| s.out.flush())
    }

    fn finish(&mut self, _now: Timestamp) -> io::Result<()> {
        self.guarded(|s| {
            if !s.header_written && s.format == TextFormat::Csv {
                s.write_header()?;
            }
            s.release_held_rows()?;
            s.out.flush()
        })
    }
}

/// One CSV row or JSON object being written, in `COLUMNS` (then `BIFLOW_COLUMNS`, then
/// the inspection columns) order, formatted straight into `line` (no allocation per
/// field: this is the exporter thread's hot loop). A value of `None` is written empty
/// (CSV) or `null` (JSON).
///
/// Values are written by hand rather than through `fmt` (`Value::write`): with `write!`
/// the exporter spent about 1.1 µs a record here and was the slowest thread of a CSV
/// conversion; the text is the same byte for byte.
struct Row<'a> {
    line: &'a mut Vec<u8>,
    json: bool,
    names: &'a [&'static str],
}

impl Row<'_> {
    /// Column `i`: `None` is written empty (CSV) or `null` (JSON); in JSON every value
    /// but a number is a string.
    fn opt(&mut self, i: usize, value: Option<Value<'_>>) {
        let line = &mut *self.line;
        if i > 0 {
            line.push(b',');
        }
        if self.json {
            line.push(b'"');
            line.extend_from_slice(self.names.get(i).copied().unwrap_or("").as_bytes());
            line.extend_from_slice(b"\":");
        }
        match value {
            None if self.json => line.extend_from_slice(b"null"),
            None => {}
            Some(v @ (Value::Uint(_) | Value::Float3(_) | Value::Bool(_))) => v.write(line),
            Some(Value::Splt(entries)) if self.json => write_splt_json(line, entries),
            Some(v @ Value::Splt(entries)) => {
                let quote = entries.len() > 1;
                if quote {
                    line.push(b'"');
                }
                v.write(line);
                if quote {
                    line.push(b'"');
                }
            }
            Some(Value::Str(s)) if self.json => {
                line.push(b'"');
                write_json_string(line, s);
                line.push(b'"');
            }
            Some(Value::Str(s)) => write_csv_field(line, s),
            Some(v) if self.json => {
                line.push(b'"');
                v.write(line);
                line.push(b'"');
            }
            Some(v) => v.write(line),
        }
    }
}

/// Table columns and their minimum widths.
const TABLE_COLUMNS: [(&str, usize); 13] = [
    ("start", 23),
    ("duration", 8),
    ("proto", 5),
    ("src", 15),
    ("sport", 5),
    ("dst", 15),
    ("dport", 5),
    ("flags", 6),
    ("tos", 3),
    ("packets", 7),
    ("bytes", 9),
    ("in_if", 5),
    ("end", 6),
];

fn table_cells(r: &FlowRecord) -> [String; 13] {
    let k = &r.key;
    let duration = r.end.saturating_since(r.start).as_secs_f64();
    let (sport, dport) = if k.is_icmp() {
        (
            "-".to_string(),
            format!("{}.{}", k.icmp_type(), k.icmp_code()),
        )
    } else {
        (k.src_port.to_string(), k.dst_port.to_string())
    };
    [
        format!("{:.3}", r.start),
        format!("{duration:.3}"),
        proto_name(k.proto),
        k.src_addr().to_string(),
        sport,
        k.dst_addr().to_string(),
        dport,
        tcp_flag_letters(r.tcp_flags),
        k.tos.to_string(),
        r.packets.to_string(),
        r.octets.to_string(),
        k.in_if.to_string(),
        r.end_reason.name().to_string(),
    ]
}

/// The table's inspection columns (with `--inspect`): what the flow is, and its most
/// telling name.
const TABLE_INSPECT_COLUMNS: [(&str, usize); 2] = [("app", 4), ("name", 4)];

/// The app and the most telling name: the server name, the DNS query, the HTTP host,
/// else the SSH client banner.
fn table_inspect_cells(seen: Option<&Seen>) -> [String; 2] {
    let Some(s) = seen else {
        return [String::new(), String::new()];
    };
    let name = [
        &s.tls_sni,
        &s.dns_qname,
        &s.http_host,
        &s.ssh_client,
        &s.ssh_server,
    ]
    .into_iter()
    .find_map(|v| v.as_deref())
    .unwrap_or("");
    // Control characters from the traffic never reach the terminal.
    let name: String = name
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    [s.app.map(|a| a.name()).unwrap_or("").to_string(), name]
}

fn aligned(cells: &[&str], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
        if i > 0 {
            line.push_str("  ");
        }
        // Numbers right-aligned, text left-aligned.
        if i == 1 || (8..=11).contains(&i) {
            let _ = write!(line, "{c:>w$}");
        } else {
            let _ = write!(line, "{c:<w$}");
        }
    }
    line.truncate(line.trim_end().len());
    line
}

fn proto_name(proto: u8) -> String {
    match proto {
        1 => "ICMP".into(),
        6 => "TCP".into(),
        17 => "UDP".into(),
        47 => "GRE".into(),
        50 => "ESP".into(),
        58 => "ICMP6".into(),
        132 => "SCTP".into(),
        p => p.to_string(),
    }
}

/// TCP flags as nfdump writes them: `CEUAPRSF`, a dot for each flag not set; only the six
/// classic flags unless CWR or ECE are set.
fn tcp_flag_letters(flags: u8) -> String {
    let letters = b"CEUAPRSF";
    let start = if flags & 0xc0 != 0 { 0 } else { 2 };
    (start..8)
        .map(|i| {
            if flags & (0x80 >> i) != 0 {
                letters[i] as char
            } else {
                '.'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::FlowKey;
    use proptest::prelude::*;

    fn written(v: Value<'_>) -> String {
        let mut line = Vec::new();
        v.write(&mut line);
        String::from_utf8(line).unwrap()
    }

    proptest! {
        /// The hand-written values are what `fmt` writes.
        #[test]
        fn values_are_written_as_fmt_writes_them(
            n in any::<u64>(),
            v4 in any::<[u8; 4]>(),
            v6 in any::<[u8; 16]>(),
            mac in any::<[u8; 6]>(),
        ) {
            prop_assert_eq!(written(Value::Uint(n)), n.to_string());
            let mut a = [0u8; 16];
            a[..4].copy_from_slice(&v4);
            prop_assert_eq!(written(Value::Ip(4, &a)), std::net::Ipv4Addr::from(v4).to_string());
            prop_assert_eq!(written(Value::Ip(6, &v6)), std::net::Ipv6Addr::from(v6).to_string());
            prop_assert_eq!(
                written(Value::Mac(&mac)),
                format!(
                    "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
                    mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]
                )
            );
        }
    }
    use crate::flow::record::EndReason;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);
    impl Write for Shared {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn record() -> FlowRecord {
        let mut key = FlowKey {
            proto: 1,
            dst_port: 3 * 256 + 3,
            in_if: 2,
            vlan: 10,
            tos: 0x10,
            ..Default::default()
        };
        key.set_addrs(
            "198.18.0.1".parse().unwrap(),
            "2001:db8::1".parse().unwrap(),
        );
        key.proto = 58;
        FlowRecord {
            key,
            start: Timestamp::from_secs_nanos(1_700_000_000, 5),
            end: Timestamp::from_secs_nanos(1_700_000_001, 0),
            packets: 3,
            octets: 1 << 40,
            tcp_flags: 0,
            min_ttl: 60,
            max_ttl: 64,
            src_mac: [0, 1, 2, 3, 4, 0xab],
            dst_mac: [0xff; 6],
            end_reason: EndReason::IdleTimeout,
            tunnel: Default::default(),
            direction: Default::default(),
            egress_if: 0,
            reverse: None,
        }
    }

    fn render(format: TextFormat) -> String {
        let buf = Shared::default();
        let mut sink = TextSink::new(format, Box::new(buf.clone()));
        sink.export(&[record()], Timestamp(0)).unwrap();
        sink.finish(Timestamp(0)).unwrap();
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn csv_has_the_header_and_the_documented_fields() {
        let out = render(TextFormat::Csv);
        let mut lines = out.lines();
        assert_eq!(lines.next().unwrap(), COLUMNS.join(","));
        assert_eq!(
            lines.next().unwrap(),
            "2023-11-14T22:13:20.000000005Z,2023-11-14T22:13:21.000000000Z,::ffff:198.18.0.1,2001:db8::1,\
             0,771,58,16,0,3,1099511627776,2,10,3,3,idle,6,60,64,00:01:02:03:04:ab,ff:ff:ff:ff:ff:ff,\
             ,,,,unknown,0"
        );
    }

    fn biflow_record() -> FlowRecord {
        use crate::flow::record::{FlowDirection, ReverseCounters};
        use crate::flow::tunnel::{Tunnel, TunnelKind};
        let mut r = record();
        r.key
            .set_addrs("198.18.0.1".parse().unwrap(), "198.18.0.2".parse().unwrap());
        r.key.proto = 6;
        r.key.src_port = 40000;
        r.key.dst_port = 443;
        r.tcp_flags = 0x02;
        r.tunnel = Tunnel {
            kind: TunnelKind::Vxlan,
            id: 5001,
            outer_ip_version: 4,
            outer_src: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            outer_dst: [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        r.direction = FlowDirection::Egress;
        r.egress_if = 7;
        r.reverse = Some(ReverseCounters {
            start: Timestamp::from_secs_nanos(1_700_000_000, 500),
            end: Timestamp::from_secs_nanos(1_700_000_000, 900),
            packets: 2,
            octets: 120,
            tcp_flags: 0x12,
            min_ttl: 50,
            max_ttl: 51,
            tunnel: Default::default(),
        });
        r
    }

    fn render_records(format: TextFormat, biflow: bool, records: &[FlowRecord]) -> String {
        let buf = Shared::default();
        let mut sink = TextSink::new(format, Box::new(buf.clone())).with_biflow(biflow);
        sink.export(records, Timestamp(0)).unwrap();
        sink.finish(Timestamp(0)).unwrap();
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn tunnel_direction_and_biflow_columns() {
        let b = biflow_record();
        // Uniflow output: the biflow is split, the second row is the reverse direction.
        let out = render_records(TextFormat::Csv, false, &[b]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], COLUMNS.join(","));
        assert!(
            lines[1].ends_with(",vxlan,5001,10.0.0.1,10.0.0.2,egress,7"),
            "{}",
            lines[1]
        );
        assert!(
            lines[2].starts_with(
                "2023-11-14T22:13:20.000000500Z,2023-11-14T22:13:20.000000900Z,\
                 198.18.0.2,198.18.0.1,443,40000,6,16,18,2,120,7,"
            ),
            "{}",
            lines[2]
        );
        assert!(lines[2].ends_with(",vxlan,5001,10.0.0.2,10.0.0.1,ingress,2"));
        // Biflow output: one row, reverse columns at the end.
        let out = render_records(TextFormat::Csv, true, &[b]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(
            lines[0],
            format!("{},{}", COLUMNS.join(","), BIFLOW_COLUMNS.join(","))
        );
        assert!(
            lines[1].ends_with(
                ",egress,7,2,120,18,2023-11-14T22:13:20.000000500Z,\
                 2023-11-14T22:13:20.000000900Z,50,51"
            ),
            "{}",
            lines[1]
        );
        // No reverse packet: counters 0, times and TTLs empty / null.
        let mut one_way = b;
        one_way.reverse = Some(Default::default());
        let out = render_records(TextFormat::Csv, true, &[one_way]);
        assert!(out.lines().nth(1).unwrap().ends_with(",egress,7,0,0,0,,,,"));
        let out = render_records(TextFormat::Json, true, &[one_way]);
        assert!(out.contains("\"reverse_packets\":0,"), "{out}");
        assert!(out.contains("\"reverse_start\":null,"), "{out}");
        assert!(out.contains("\"tunnel_type\":\"vxlan\",\"tunnel_id\":5001,"));
        assert!(out.contains("\"tunnel_src\":\"10.0.0.1\""));
        assert!(out.contains("\"direction\":\"egress\",\"egress_if\":7,"));
        for name in COLUMNS.iter().chain(BIFLOW_COLUMNS.iter()) {
            assert!(out.contains(&format!("\"{name}\":")), "{name} missing");
        }
        // JSON without a tunnel: null, not an empty string.
        let out = render(TextFormat::Json);
        assert!(
            out.contains("\"tunnel_type\":null,\"tunnel_id\":null,"),
            "{out}"
        );
        assert!(!out.contains("reverse_"));
    }

    #[test]
    fn json_lines_use_the_same_names() {
        let out = render(TextFormat::Json);
        assert!(out.starts_with("{\"start\":\"2023-11-14T22:13:20.000000005Z\",\"end\":"));
        assert!(out.contains("\"bytes\":1099511627776,"));
        assert!(out.contains("\"end_reason\":\"idle\""));
        assert_eq!(out.lines().count(), 1);
        for name in COLUMNS {
            assert!(out.contains(&format!("\"{name}\":")), "{name} missing");
        }
    }

    #[test]
    fn table_is_aligned_under_its_header() {
        let out = render(TextFormat::Table);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        let bytes_col = lines[0].find("bytes").unwrap() + "bytes".len();
        assert_eq!(
            &lines[1][..bytes_col].trim_end()[..]
                .rsplit(' ')
                .next()
                .unwrap(),
            &"1099511627776"
        );
    }

    #[test]
    fn tcp_flags_read_like_nfdump() {
        assert_eq!(tcp_flag_letters(0x12), ".A..S.");
        assert_eq!(tcp_flag_letters(0x12).len(), 6);
        assert_eq!(tcp_flag_letters(0xc1), "CE.....F");
    }

    /// A biflow record's inspection with a shape: the client sent a SYN with options and
    /// 100 payload octets (one a retransmission), the server a SYN-ACK and 1448 octets.
    fn shaped_inspection() -> Inspection {
        use crate::inspect::splt::{Shape, ShapeConfig, ShapePacket};
        use crate::inspect::tcp::{TcpOptions, RETRANSMISSION};
        let config = ShapeConfig { splt_packets: 3 };
        let ns = |us: u64| Timestamp(1_700_000_000_000_000_000 + us * 1000);
        let mut shape = Shape::first(config, ShapePacket::new(ns(0), 0, 0, false));
        shape.add(config, ShapePacket::new(ns(1520), 0, 0, true));
        shape.add(
            config,
            ShapePacket::new(ns(1830), 100, RETRANSMISSION, false),
        );
        shape.add(config, ShapePacket::new(ns(2830), 1448, 0, true));
        let rtt = |s: Seen| Seen {
            server_rtt_us: Some(1520),
            client_rtt_us: Some(310),
            ..s
        };
        let options = |mss, wscale| TcpOptions {
            mss: Some(mss),
            wscale: Some(wscale),
            sack_ok: true,
            timestamps: false,
            bitmap: (1 << 63) | (1 << 61) | (1 << 60) | (1 << 59),
        };
        Inspection {
            forward: rtt(Seen {
                tcp_options: Some(options(1460, 7)),
                ..Default::default()
            }),
            reverse: Seen {
                tcp_options: Some(options(1400, 9)),
                ..Default::default()
            },
            shape: Some(Box::new(shape)),
        }
    }

    fn render_shaped(format: TextFormat, biflow: bool) -> String {
        let buf = Shared::default();
        let inspect = InspectColumns {
            tcp: true,
            splt: true,
            ..Default::default()
        };
        let mut sink = TextSink::new(format, Box::new(buf.clone()))
            .with_biflow(biflow)
            .with_inspect(inspect);
        let inspections = [Some(Box::new(shaped_inspection()))];
        sink.export_inspected(&[biflow_record()], &inspections, Timestamp(0))
            .unwrap();
        sink.finish(Timestamp(0)).unwrap();
        let bytes = buf.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn tcp_and_splt_columns_in_csv_and_json() {
        let csv = render_shaped(TextFormat::Csv, true);
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let names = column_names(
            true,
            &InspectColumns {
                tcp: true,
                splt: true,
                ..Default::default()
            },
        );
        assert_eq!(header, names);
        let tail = &header[header.len() - 29..];
        assert_eq!(tail[..11], crate::export::columns::TCP_COLUMNS);
        let row = lines.next().unwrap();
        let bitmap = (1u64 << 63) | (1 << 61) | (1 << 60) | (1 << 59);
        let expected = format!(
            "1520,310,100,1,0,0,1460,7,true,false,{bitmap},\
             1448,0,0,0,1400,9,true,false,{bitmap},\
             \"0:0,-0:1520,100:310\",310,943.333,1520,\
             {:.3},0,387.000,1448,{:.3}",
            stddev(&[1520.0, 310.0, 1000.0]),
            stddev(&[0.0, 0.0, 100.0, 1448.0]),
        );
        assert!(row.ends_with(&expected), "{row}\n{expected}");
        let json = render_shaped(TextFormat::Json, true);
        assert!(json.contains(
            "\"splt\":[{\"len\":0,\"iat_us\":0},{\"len\":-0,\"iat_us\":1520},{\"len\":100,\"iat_us\":310}]"
        ), "{json}");
        assert!(json.contains("\"tcp_sack_ok\":true,\"tcp_timestamps\":false"));
        assert!(json.contains("\"iat_mean_us\":943.333,"));
        assert!(json.contains("\"server_rtt_us\":1520,\"client_rtt_us\":310,"));
        // Uniflow rows (a table splits biflows; here the uniflow CSV of the same record
        // without biflow columns): each its own direction's counts and options, both
        // the connection's RTT, no sequence of their own.
        let uni = render_shaped(TextFormat::Csv, false);
        let rows: Vec<&str> = uni.lines().skip(1).collect();
        assert_eq!(rows.len(), 2);
        assert!(
            rows[0].ends_with(&format!(
                "1520,310,100,1,0,0,1460,7,true,false,{bitmap},,,,,,,,,"
            )),
            "{}",
            rows[0]
        );
        assert!(
            rows[1].ends_with(&format!(
                "1520,310,1448,0,0,0,1400,9,true,false,{bitmap},,,,,,,,,"
            )),
            "{}",
            rows[1]
        );
    }

    fn stddev(v: &[f64]) -> f64 {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64).sqrt()
    }
}
