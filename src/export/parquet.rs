//! Parquet output (`-f parquet -o FILE.parquet`): the records as a typed, columnar file
//! that DuckDB, Polars, pandas, Spark, ClickHouse and Trino read as they are.
//!
//! One column per CSV column, with the same names and order ([`super::columns`]), typed:
//! `start`/`end` (and a biflow's `reverse_start`/`reverse_end`) as INT64
//! TIMESTAMP(NANOS, UTC-adjusted); counters as UINT64; ports, VLAN, interfaces and small
//! numbers as the narrowest unsigned integer that holds them (UINT8, UINT16, UINT32);
//! addresses and MACs as strings in the same text as CSV; the names (`end_reason`,
//! `direction`, `tunnel_type`) as dictionary-encoded strings. A column that CSV leaves
//! empty (the tunnel's of a flow that was not tunneled, a biflow's reverse times when no
//! reverse packet came) is optional and null there.
//!
//! Records are gathered column by column, a row group at a time
//! ([`ROW_GROUP_ROWS`] rows), then encoded and compressed with zstd; so memory stays
//! bounded by one row group whatever the input's size. The strings of a row group sit in
//! one buffer per column and are handed to the encoder as slices of it, with no allocation
//! per value.
//!
//! Written with the Apache `parquet` crate's own column writers, without `arrow`: the
//! records are already columns of plain numbers and strings, and arrow would add some
//! twenty crates to the build for a copy we do not need (README, "Parquet").
//!
//! A Parquet file can only be read once its footer is written, at [`RecordSink::finish`]
//! (or when [`super::rotate`] closes it at a boundary); until then the file is
//! incomplete, which is why rotated outputs carry a `.part` suffix while written.

use std::io::{self, Write};
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use crossbeam_channel::{Receiver, Sender};
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnPath;

use super::columns::{
    column_names, first_inspect_column, for_each_inspect_value, for_each_row, for_each_value,
    CommunityIds, InspectColumns, RowInspection, Value, BIFLOW_COLUMNS, COLUMNS, INSPECT_COLUMNS,
    SPLT_COLUMNS, TCP_COLUMNS, TCP_REVERSE_COLUMNS,
};
use super::RecordSink;
use crate::flow::record::FlowRecord;
use crate::inspect::Inspection;
use crate::time::Timestamp;

/// Rows a row group holds before it is written. Two row groups are in memory (one
/// gathered, one encoded), at about 225 bytes a row: some 15 MB in all. Smaller groups
/// also shorten the last one's encoding after the input ends (README, "Parquet").
pub const ROW_GROUP_ROWS: usize = 32_768;

/// How a column is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// INT64 TIMESTAMP(NANOS, true).
    Time,
    /// INT32 INTEGER(8, false).
    U8,
    /// INT32 INTEGER(16, false).
    U16,
    /// INT32 INTEGER(32, false).
    U32,
    /// INT64 INTEGER(64, false).
    U64,
    /// BYTE_ARRAY STRING, dictionary-encoded (few distinct values, or many repeats:
    /// addresses, MACs, names).
    Text,
    /// DOUBLE (means and standard deviations).
    F64,
    /// BOOLEAN.
    Bool,
}

/// The kind of each [`TCP_COLUMNS`] column, then of each [`TCP_REVERSE_COLUMNS`] one
/// (the last nine); all may be null.
const TCP_SCHEMA: [Kind; TCP_COLUMNS.len() + TCP_REVERSE_COLUMNS.len()] = {
    use Kind::*;
    [
        U32,  // server_rtt_us
        U32,  // client_rtt_us
        U64,  // payload_bytes
        U32,  // retransmissions
        U32,  // out_of_order
        U32,  // zero_windows
        U16,  // tcp_mss
        U8,   // tcp_wscale
        Bool, // tcp_sack_ok
        Bool, // tcp_timestamps
        U64,  // tcp_options
        U64,  // reverse_payload_bytes
        U32,  // reverse_retransmissions
        U32,  // reverse_out_of_order
        U32,  // reverse_zero_windows
        U16,  // reverse_tcp_mss
        U8,   // reverse_tcp_wscale
        Bool, // reverse_tcp_sack_ok
        Bool, // reverse_tcp_timestamps
        U64,  // reverse_tcp_options
    ]
};

/// The kind of each [`SPLT_COLUMNS`] column; all may be null. The sequence is its CSV
/// text (`len:iat_us,...`), which SQL splits with `string_split`.
const SPLT_SCHEMA: [Kind; SPLT_COLUMNS.len()] = {
    use Kind::*;
    [
        Text, // splt
        U64,  // iat_min_us
        F64,  // iat_mean_us
        U64,  // iat_max_us
        F64,  // iat_stddev_us
        U32,  // len_min
        F64,  // len_mean
        U32,  // len_max
        F64,  // len_stddev
    ]
};

/// The kind of each column (of `COLUMNS` then `BIFLOW_COLUMNS`) and whether it may be
/// null, in the order of [`for_each_value`].
const SCHEMA: [(Kind, bool); COLUMNS.len() + BIFLOW_COLUMNS.len()] = {
    use Kind::*;
    [
        (Time, false), // start
        (Time, false), // end
        (Text, false), // src
        (Text, false), // dst
        (U16, false),  // sport
        (U16, false),  // dport
        (U8, false),   // proto
        (U8, false),   // tos
        (U8, false),   // tcp_flags
        (U64, false),  // packets
        (U64, false),  // bytes
        (U32, false),  // in_if
        (U16, false),  // vlan
        (U8, false),   // icmp_type
        (U8, false),   // icmp_code
        (Text, false), // end_reason
        (U8, false),   // ip_version
        (U8, false),   // min_ttl
        (U8, false),   // max_ttl
        (Text, false), // src_mac
        (Text, false), // dst_mac
        (Text, true),  // tunnel_type
        (U32, true),   // tunnel_id
        (Text, true),  // tunnel_src
        (Text, true),  // tunnel_dst
        (Text, false), // direction
        (U32, false),  // egress_if
        (U64, false),  // reverse_packets
        (U64, false),  // reverse_bytes
        (U8, false),   // reverse_tcp_flags
        (Time, true),  // reverse_start
        (Time, true),  // reverse_end
        (U8, true),    // reverse_min_ttl
        (U8, true),    // reverse_max_ttl
    ]
};

/// The kind of each inspection column ([`INSPECT_COLUMNS`]); all may be null.
const INSPECT_SCHEMA: [Kind; INSPECT_COLUMNS.len()] = {
    use Kind::*;
    [
        Text, // app
        Text, // tls_sni
        Text, // tls_alpn
        Text, // tls_version
        Text, // tls_cipher
        Text, // ja4
        Text, // ja3
        Text, // dns_qname
        U16,  // dns_qtype
        U8,   // dns_rcode
        U16,  // dns_answers
        Text, // http_host
        Text, // http_method
        Text, // http_target
        Text, // http_user_agent
        U16,  // http_status
        Text, // ssh_client
        Text, // ssh_server
        Text, // hassh
        Text, // community_id
    ]
};

/// The columns of an output: kind and whether each may be null, in
/// [`column_names`] order.
fn schema(biflow: bool, inspect: &InspectColumns) -> Vec<(Kind, bool)> {
    let mut columns = SCHEMA[..column_count(biflow)].to_vec();
    if inspect.app {
        columns.extend(INSPECT_SCHEMA.iter().map(|&k| (k, true)));
    }
    if inspect.tcp {
        let n = if biflow {
            TCP_SCHEMA.len()
        } else {
            TCP_COLUMNS.len()
        };
        columns.extend(TCP_SCHEMA[..n].iter().map(|&k| (k, true)));
    }
    if inspect.splt {
        columns.extend(SPLT_SCHEMA.iter().map(|&k| (k, true)));
    }
    columns
}

/// The Parquet schema of the output, in the message-type syntax of the format's
/// documentation (`parquet::schema::parser`).
pub fn schema_text(biflow: bool, inspect: &InspectColumns) -> String {
    let mut s = String::from("message flow_record {\n");
    let names = column_names(biflow, inspect);
    for (i, (kind, optional)) in schema(biflow, inspect).iter().enumerate() {
        let (physical, logical) = match kind {
            Kind::Time => ("int64", "TIMESTAMP(NANOS,true)"),
            Kind::U8 => ("int32", "INTEGER(8,false)"),
            Kind::U16 => ("int32", "INTEGER(16,false)"),
            Kind::U32 => ("int32", "INTEGER(32,false)"),
            Kind::U64 => ("int64", "INTEGER(64,false)"),
            Kind::Text => ("binary", "STRING"),
            Kind::F64 => ("double", ""),
            Kind::Bool => ("boolean", ""),
        };
        let repetition = if *optional { "optional" } else { "required" };
        if logical.is_empty() {
            s.push_str(&format!("  {repetition} {physical} {};\n", names[i]));
        } else {
            s.push_str(&format!(
                "  {repetition} {physical} {} ({logical});\n",
                names[i]
            ));
        }
    }
    s.push('}');
    s
}

fn column_count(biflow: bool) -> usize {
    if biflow {
        SCHEMA.len()
    } else {
        COLUMNS.len()
    }
}

/// One column's values of the row group being gathered.
enum Values {
    /// INT32 physical values (unsigned ones as their bits).
    I32(Vec<i32>),
    /// INT64 physical values.
    I64(Vec<i64>),
    /// Strings: all of them in one buffer, each ending where `ends` says.
    Text { bytes: Vec<u8>, ends: Vec<usize> },
    /// DOUBLE values.
    F64(Vec<f64>),
    /// BOOLEAN values.
    Bool(Vec<bool>),
}

struct Column {
    values: Values,
    /// Definition levels of an optional column (1 a value, 0 null); unused otherwise.
    defs: Option<Vec<i16>>,
}

impl Column {
    fn new(kind: Kind, optional: bool) -> Column {
        let values = match kind {
            Kind::Time | Kind::U64 => Values::I64(Vec::with_capacity(ROW_GROUP_ROWS)),
            Kind::U8 | Kind::U16 | Kind::U32 => Values::I32(Vec::with_capacity(ROW_GROUP_ROWS)),
            Kind::Text => Values::Text {
                bytes: Vec::new(),
                ends: Vec::with_capacity(ROW_GROUP_ROWS),
            },
            Kind::F64 => Values::F64(Vec::new()),
            Kind::Bool => Values::Bool(Vec::new()),
        };
        Column {
            values,
            defs: optional.then(|| Vec::with_capacity(ROW_GROUP_ROWS)),
        }
    }

    #[inline]
    fn push(&mut self, value: Option<Value<'_>>) {
        if let Some(defs) = &mut self.defs {
            defs.push(i16::from(value.is_some()));
        }
        let Some(value) = value else { return };
        match (&mut self.values, value) {
            // Parquet's nanosecond times are signed: a time after 2262-04-11 (a bogus
            // capture timestamp; ours go to 2554) becomes the last instant it holds.
            (Values::I64(v), Value::Time(t)) => v.push(t.as_nanos().min(i64::MAX as u64) as i64),
            (Values::I64(v), Value::Uint(n)) => v.push(n as i64),
            (Values::I32(v), Value::Uint(n)) => v.push(n as u32 as i32),
            (Values::F64(v), Value::Float3(x)) => v.push(x),
            (Values::Bool(v), Value::Bool(b)) => v.push(b),
            (Values::Text { bytes, ends }, value) => {
                value.write(bytes);
                ends.push(bytes.len());
            }
            // A value of another kind than its column's: a mistake in `SCHEMA`, caught
            // by the tests (every column of every record kind is written and read back).
            (Values::I64(v), _) => v.push(0),
            (Values::I32(v), _) => v.push(0),
            (Values::F64(v), _) => v.push(0.0),
            (Values::Bool(v), _) => v.push(false),
        }
    }

    fn clear(&mut self) {
        match &mut self.values {
            Values::I32(v) => v.clear(),
            Values::I64(v) => v.clear(),
            Values::F64(v) => v.clear(),
            Values::Bool(v) => v.clear(),
            Values::Text { bytes, ends } => {
                bytes.clear();
                ends.clear();
            }
        }
        if let Some(d) = &mut self.defs {
            d.clear();
        }
    }
}

/// The rows of one row group, gathered column by column.
struct RowGroup {
    columns: Vec<Column>,
    rows: usize,
}

impl RowGroup {
    fn new(biflow: bool, inspect: &InspectColumns) -> RowGroup {
        RowGroup {
            columns: schema(biflow, inspect)
                .into_iter()
                .map(|(kind, optional)| Column::new(kind, optional))
                .collect(),
            rows: 0,
        }
    }

    /// Encodes and writes the rows as one row group of `writer`, then empties itself
    /// (keeping its buffers, for the next).
    fn write_to(
        &mut self,
        writer: &mut SerializedFileWriter<Box<dyn Write + Send>>,
    ) -> io::Result<()> {
        let mut group = writer.next_row_group().map_err(to_io)?;
        for column in &mut self.columns {
            let Some(mut out) = group.next_column().map_err(to_io)? else {
                return Err(io::Error::other("Parquet schema has fewer columns"));
            };
            let defs = column.defs.as_deref();
            match &column.values {
                Values::I32(v) => out.typed::<Int32Type>().write_batch(v, defs, None),
                Values::I64(v) => out.typed::<Int64Type>().write_batch(v, defs, None),
                Values::F64(v) => out.typed::<DoubleType>().write_batch(v, defs, None),
                Values::Bool(v) => out.typed::<BoolType>().write_batch(v, defs, None),
                Values::Text { bytes, ends } => {
                    let all = Bytes::copy_from_slice(bytes);
                    let mut begin = 0;
                    let values: Vec<ByteArray> = ends
                        .iter()
                        .map(|&end| {
                            let value = ByteArray::from(all.slice(begin..end));
                            begin = end;
                            value
                        })
                        .collect();
                    out.typed::<ByteArrayType>()
                        .write_batch(&values, defs, None)
                }
            }
            .map_err(to_io)?;
            out.close().map_err(to_io)?;
            column.clear();
        }
        group.close().map_err(to_io)?;
        self.rows = 0;
        Ok(())
    }
}

/// The thread that encodes, compresses and writes full row groups while the exporter
/// gathers the next: the encoding is most of a Parquet output's cost (dictionaries and
/// zstd), and would otherwise make the exporter thread the slowest of a conversion.
/// Two row groups exist: one gathered, one encoded; they go back and forth.
struct Encoder {
    full: Sender<RowGroup>,
    empty: Receiver<RowGroup>,
    /// Returns the output, flushed, once the footer is written.
    thread: JoinHandle<io::Result<Box<dyn Write + Send>>>,
}

/// Writes records to a Parquet file.
pub struct ParquetSink {
    /// The row group being gathered.
    group: RowGroup,
    /// `None` once closed.
    encoder: Option<Encoder>,
    biflow: bool,
    /// The inspection columns (`--inspect`).
    inspect: InspectColumns,
    /// Community IDs (when that column has values).
    community_ids: Option<CommunityIds>,
}

fn to_io(e: parquet::errors::ParquetError) -> io::Error {
    match e {
        parquet::errors::ParquetError::External(inner) => match inner.downcast::<io::Error>() {
            Ok(io) => *io,
            Err(other) => io::Error::other(other),
        },
        other => io::Error::other(other),
    }
}

impl ParquetSink {
    /// A sink writing to `out` (buffer it). With `biflow`, one row per biflow record with
    /// the reverse columns, as [`super::text::TextSink::with_biflow`]; with
    /// `inspect.enabled`, the inspection columns after them.
    pub fn new(
        out: Box<dyn Write + Send>,
        biflow: bool,
        inspect: InspectColumns,
    ) -> io::Result<ParquetSink> {
        let with_inspect = &inspect;
        let message =
            parquet::schema::parser::parse_message_type(&schema_text(biflow, with_inspect))
                .map_err(to_io)?;
        let mut props = WriterProperties::builder()
            .set_created_by(format!("flowprobe version {}", env!("CARGO_PKG_VERSION")))
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
            .set_statistics_enabled(EnabledStatistics::Chunk);
        // Strings take a dictionary (names, addresses and MACs repeat) and no statistics
        // (the min and max of address text prune nothing, and cost 10% of the encoder).
        // Numbers are delta-encoded (times and counters of records exported in order are
        // close to their neighbours) and keep their row group's min and max, so a query
        // on a time range skips row groups. On the benchmark's records this takes 23%
        // fewer encoder instructions than dictionaries and plain numbers, for a file 1%
        // smaller.
        let names = column_names(biflow, with_inspect);
        for (i, (kind, _)) in schema(biflow, with_inspect).iter().enumerate() {
            let path = || ColumnPath::from(names[i]);
            if matches!(kind, Kind::Text | Kind::Bool) {
                props = props.set_column_statistics_enabled(path(), EnabledStatistics::None);
            } else if *kind == Kind::F64 {
                // Delta encoding is for integers; means and deviations stay plain.
                props = props.set_column_dictionary_enabled(path(), false);
            } else {
                props = props
                    .set_column_dictionary_enabled(path(), false)
                    .set_column_encoding(path(), Encoding::DELTA_BINARY_PACKED);
            }
        }
        let mut writer = SerializedFileWriter::new(out, Arc::new(message), Arc::new(props.build()))
            .map_err(to_io)?;
        let (full, full_rx) = crossbeam_channel::bounded::<RowGroup>(1);
        let (empty_tx, empty) = crossbeam_channel::bounded::<RowGroup>(2);
        let _ = empty_tx.send(RowGroup::new(biflow, with_inspect));
        let thread = std::thread::Builder::new()
            .name("parquet".into())
            .spawn(move || {
                for mut group in full_rx {
                    group.write_to(&mut writer)?;
                    // The sink may be gone (an error of its own): nothing to hand back.
                    let _ = empty_tx.send(group);
                }
                let mut out = writer.into_inner().map_err(to_io)?;
                out.flush()?;
                Ok(out)
            })?;
        Ok(ParquetSink {
            group: RowGroup::new(biflow, with_inspect),
            encoder: Some(Encoder {
                full,
                empty,
                thread,
            }),
            biflow,
            inspect,
            community_ids: inspect.community_id_seed.map(CommunityIds::new),
        })
    }

    /// Adds row `r`; `inspection` is what inspection found for it.
    fn push(&mut self, r: &FlowRecord, inspection: RowInspection<'_>) -> io::Result<()> {
        let columns = &mut self.group.columns;
        for_each_value(r, self.biflow, |i, v| columns[i].push(v));
        if self.inspect.app {
            let first = first_inspect_column(self.biflow);
            let id = self.community_ids.as_mut().and_then(|c| c.get(&r.key));
            for_each_inspect_value(inspection.app_sides(), id, first, |i, v| columns[i].push(v));
        }
        self.inspect
            .for_each_shape_value(r, inspection, self.biflow, |i, v| columns[i].push(v));
        self.group.rows += 1;
        if self.group.rows == ROW_GROUP_ROWS {
            self.hand_over()?;
        }
        Ok(())
    }

    /// Sends the gathered row group to the encoder and takes the other one back.
    fn hand_over(&mut self) -> io::Result<()> {
        let Some(encoder) = &self.encoder else {
            return Err(io::Error::other("the Parquet file is already closed"));
        };
        // Either fails only when the encoder has stopped on an error: collect it.
        let stopped = |sink: &mut ParquetSink| {
            Err(sink
                .close()
                .err()
                .unwrap_or_else(|| io::Error::other("the Parquet encoder stopped")))
        };
        let Ok(next) = encoder.empty.recv() else {
            return stopped(self);
        };
        let full = std::mem::replace(&mut self.group, next);
        if encoder.full.send(full).is_err() {
            return stopped(self);
        }
        Ok(())
    }

    /// Writes what is gathered and the footer: the file is then complete. Returns the
    /// output, flushed (`None` when already closed).
    pub fn close(&mut self) -> io::Result<Option<Box<dyn Write + Send>>> {
        let Some(encoder) = self.encoder.take() else {
            return Ok(None);
        };
        if self.group.rows > 0 {
            let empty = RowGroup::new(self.biflow, &self.inspect);
            let group = std::mem::replace(&mut self.group, empty);
            // A failed send means the encoder stopped on an error, reported below.
            let _ = encoder.full.send(group);
        }
        drop(encoder.full);
        match encoder.thread.join() {
            Ok(Ok(out)) => Ok(Some(out)),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::other("the Parquet encoder thread panicked")),
        }
    }
}

impl RecordSink for ParquetSink {
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
        for_each_row(records, inspections, biflow, |r, inspection| {
            self.push(r, inspection)
        })
    }

    fn finish(&mut self, _now: Timestamp) -> io::Result<()> {
        self.close().map(|_| ())
    }
}
