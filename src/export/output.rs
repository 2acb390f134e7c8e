//! The record output of `-f`/`-o`/`--rotate`: which format, which file, and whether it is
//! cut into windows ([`super::rotate`]).

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use super::columns::InspectColumns;
use super::parquet::ParquetSink;
use super::rotate::{PathPattern, RotatingSink};
use super::text::{TextFormat, TextSink};
use super::RecordSink;

/// Formats of the record output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    /// Text ([`TextFormat`]).
    Text(TextFormat),
    /// Parquet ([`super::parquet`]).
    Parquet,
}

/// How the record output is to be written.
#[derive(Clone, Debug, Default)]
pub struct OutputSpec<'a> {
    /// The format asked for; by default Parquet for an output named `*.parquet`, a table
    /// on a terminal, CSV otherwise.
    pub format: Option<OutputFormat>,
    /// The file (`None` or `-`: standard output); with `rotate`, a pattern.
    pub path: Option<&'a Path>,
    /// One file a window of this long.
    pub rotate: Option<Duration>,
    /// One row per biflow record, with the reverse columns.
    pub biflow: bool,
    /// The inspection columns (`--inspect`).
    pub inspect: InspectColumns,
}

/// Why a record output cannot be made.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutputError {
    /// The request is wrong (a usage error).
    #[error("{0}")]
    Usage(String),
    /// The file cannot be made.
    #[error("{0}")]
    Io(String),
}

/// The sink of a record output, or what is wrong with the request.
pub fn output_sink(spec: &OutputSpec<'_>) -> Result<Box<dyn RecordSink>, OutputError> {
    use OutputError::{Io, Usage};
    // `-o -` is standard output, as for most command-line tools.
    let path = spec.path.filter(|p| p.as_os_str() != "-");
    let format = spec.format.unwrap_or_else(|| match path {
        Some(p) if p.extension().is_some_and(|e| e == "parquet") => OutputFormat::Parquet,
        Some(_) => OutputFormat::Text(TextFormat::Csv),
        None if io::stdout().is_terminal() => OutputFormat::Text(TextFormat::Table),
        None => OutputFormat::Text(TextFormat::Csv),
    });
    let (biflow, inspect) = (spec.biflow, spec.inspect);
    let make = move |out: Box<dyn Write + Send>| -> io::Result<Box<dyn RecordSink>> {
        Ok(match format {
            OutputFormat::Text(f) => Box::new(
                TextSink::new(f, out)
                    .with_biflow(biflow)
                    .with_inspect(inspect),
            ),
            OutputFormat::Parquet => Box::new(ParquetSink::new(out, biflow, inspect)?),
        })
    };
    if let Some(period) = spec.rotate {
        let path = path.ok_or_else(|| {
            Usage("--rotate writes files: give -o a pattern such as 'flows-%Y%m%d-%H%M.csv'".into())
        })?;
        let text = path
            .to_str()
            .ok_or_else(|| Usage(format!("-o {}: not UTF-8", path.display())))?;
        let pattern = PathPattern::new(text, period)
            .map_err(|e| Usage(format!("-o {text:?} --rotate: {e}")))?;
        return Ok(Box::new(RotatingSink::new(pattern, period, Box::new(make))));
    }
    let out: Box<dyn Write + Send> = match path {
        Some(p) => Box::new(BufWriter::with_capacity(
            1 << 16,
            File::create(p).map_err(|e| Io(format!("cannot create {}: {e}", p.display())))?,
        )),
        None if format == OutputFormat::Parquet => {
            return Err(Usage(
                "-f parquet writes a file: give -o FILE.parquet".into(),
            ))
        }
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
    };
    make(out).map_err(|e| Io(format!("cannot start the output: {e}")))
}
