//! Rotated file output (`-o 'flows-%Y%m%d-%H%M.parquet' --rotate 1h`): one file a window
//! of export time, like nfcapd's `-t`.
//!
//! Windows are aligned to the Unix epoch in UTC (with `--rotate 1h`, 10:00 to 11:00), and
//! a window's file is named by its start, formatted with the output pattern's
//! `%Y %m %d %H %M %S` (UTC), `%s` (Unix seconds) and `%%`. Export time is packet time
//! offline and the wall clock live, so a conversion cuts files where the capture's hours
//! turn and a live run where the clock's do; records are in the file of the window in
//! which they were exported (as nfcapd files them by when they arrived), which for a
//! record is when it ended plus at most the exporter's batching delay.
//!
//! A file is written as `NAME.part` and renamed to `NAME` once it is complete: its
//! sink has written everything (the Parquet footer, the last CSV row) and the data is
//! synced to disk. So every file without `.part` is whole, even after the process is
//! killed; a killed run leaves at most the one `.part` file it was writing. A file is
//! closed when export time passes the end of its window (every second at least, as the
//! exporter ticks), not only when the next record comes; a window with no records has no
//! file.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use super::RecordSink;
use crate::flow::record::FlowRecord;
use crate::time::{Timestamp, RFC3339_MAX};

/// Makes the sink that writes one window's file.
pub type OpenSink = Box<dyn FnMut(Box<dyn Write + Send>) -> io::Result<Box<dyn RecordSink>> + Send>;

/// An output path with time conversions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathPattern(String);

/// What is wrong with a rotation's pattern or period.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A `%` conversion other than those supported.
    #[error("unknown conversion %{0} (use %Y %m %d %H %M %S %s or %%)")]
    Unknown(char),
    /// Two windows would get the same name.
    #[error("windows of {0} would not all get names of their own: use %s, or %Y, %m, %d and the fields its boundaries change (%H, %M, %S), such as flows-%Y%m%d-%H%M.csv")]
    Collides(String),
    /// A period of less than a second, or not a whole number of seconds.
    #[error("the period must be a whole number of seconds, at least 1s")]
    Period,
}

impl PathPattern {
    /// Checks `pattern` against `period`: only known conversions, and consecutive windows
    /// get different names.
    pub fn new(pattern: &str, period: Duration) -> Result<PathPattern, PatternError> {
        if period.as_secs() == 0 || period.subsec_nanos() != 0 {
            return Err(PatternError::Period);
        }
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if c == '%' {
                match chars.next() {
                    Some('Y' | 'm' | 'd' | 'H' | 'M' | 'S' | 's' | '%') => {}
                    Some(other) => return Err(PatternError::Unknown(other)),
                    None => return Err(PatternError::Unknown(' ')),
                }
            }
        }
        // Every window's name must be its own over any run: the Unix seconds, or the
        // date with the fields the period's boundaries change.
        let has = |c: char| pattern.contains(&format!("%{c}"));
        let secs = period.as_secs();
        let unique = has('s')
            || (has('Y')
                && has('m')
                && has('d')
                && (secs.is_multiple_of(86_400) || has('H'))
                && (secs.is_multiple_of(3600) || has('M'))
                && (secs.is_multiple_of(60) || has('S')));
        if !unique {
            return Err(PatternError::Collides(crate::config::format_duration(
                period,
            )));
        }
        let p = PathPattern(pattern.to_string());
        Ok(p)
    }

    /// The path of the window starting at `t` (UTC).
    pub fn format(&self, t: Timestamp) -> String {
        let mut buf = [0u8; RFC3339_MAX];
        t.rfc3339(0, &mut buf);
        // YYYY-MM-DDTHH:MM:SSZ
        let field = |range: std::ops::Range<usize>| -> &str {
            std::str::from_utf8(&buf[range]).unwrap_or("")
        };
        let mut out = String::with_capacity(self.0.len() + 16);
        let mut chars = self.0.chars();
        while let Some(c) = chars.next() {
            if c != '%' {
                out.push(c);
                continue;
            }
            match chars.next() {
                Some('Y') => out.push_str(field(0..4)),
                Some('m') => out.push_str(field(5..7)),
                Some('d') => out.push_str(field(8..10)),
                Some('H') => out.push_str(field(11..13)),
                Some('M') => out.push_str(field(14..16)),
                Some('S') => out.push_str(field(17..19)),
                Some('s') => out.push_str(&t.as_secs().to_string()),
                Some(other) => out.push(other),
                None => {}
            }
        }
        out
    }
}

/// The file of the current window.
struct Current {
    sink: Box<dyn RecordSink>,
    /// A handle on the file, to sync it before the rename.
    file: File,
    /// End of the window (exclusive).
    end: Timestamp,
    part: PathBuf,
    path: PathBuf,
}

/// Writes each window's records through a sink of its own, to a file of its own.
pub struct RotatingSink {
    pattern: PathPattern,
    period: u64,
    open: OpenSink,
    current: Option<Current>,
    /// Files completed, in order (for tests and the log).
    closed: Vec<PathBuf>,
}

impl RotatingSink {
    /// Rotates every `period` (checked by [`PathPattern::new`]); `open` makes the sink
    /// of each file, given the file.
    pub fn new(pattern: PathPattern, period: Duration, open: OpenSink) -> RotatingSink {
        RotatingSink {
            pattern,
            period: period.as_nanos() as u64,
            open,
            current: None,
            closed: Vec::new(),
        }
    }

    /// The files completed so far.
    pub fn closed(&self) -> &[PathBuf] {
        &self.closed
    }

    /// Closes the current window's file when `now` is past its end.
    fn close_if_over(&mut self, now: Timestamp) -> io::Result<()> {
        if self.current.as_ref().is_some_and(|c| now >= c.end) {
            self.close(now)?;
        }
        Ok(())
    }

    /// Finishes the current file, syncs it and gives it its name.
    fn close(&mut self, now: Timestamp) -> io::Result<()> {
        let Some(mut c) = self.current.take() else {
            return Ok(());
        };
        let named = |e: io::Error, what: &str| {
            io::Error::new(e.kind(), format!("{what} {}: {e}", c.part.display()))
        };
        c.sink.finish(now).map_err(|e| named(e, "cannot finish"))?;
        drop(c.sink);
        c.file.sync_all().map_err(|e| named(e, "cannot sync"))?;
        std::fs::rename(&c.part, &c.path).map_err(|e| named(e, "cannot rename"))?;
        log::info!("closed {}", c.path.display());
        self.closed.push(c.path);
        Ok(())
    }

    /// Opens the file of the window holding `now`.
    fn open_window(&mut self, now: Timestamp) -> io::Result<&mut Current> {
        let start = Timestamp(now.as_nanos() / self.period * self.period);
        let path = PathBuf::from(self.pattern.format(start));
        let mut part = path.clone().into_os_string();
        part.push(".part");
        let part = PathBuf::from(part);
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                io::Error::new(e.kind(), format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let file = File::create(&part).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", part.display()))
        })?;
        let handle = file.try_clone()?;
        let sink = (self.open)(Box::new(BufWriter::with_capacity(1 << 16, file)))?;
        Ok(self.current.insert(Current {
            sink,
            file: handle,
            end: Timestamp(start.as_nanos().saturating_add(self.period)),
            part,
            path,
        }))
    }
}

impl RecordSink for RotatingSink {
    fn export(&mut self, records: &[FlowRecord], now: Timestamp) -> io::Result<()> {
        self.export_inspected(records, &[], now)
    }

    fn export_inspected(
        &mut self,
        records: &[FlowRecord],
        inspections: &[Option<Box<crate::inspect::Inspection>>],
        now: Timestamp,
    ) -> io::Result<()> {
        self.close_if_over(now)?;
        if records.is_empty() {
            return Ok(());
        }
        let current = match self.current.as_mut() {
            Some(c) => c,
            None => self.open_window(now)?,
        };
        if inspections.is_empty() {
            current.sink.export(records, now)
        } else {
            current.sink.export_inspected(records, inspections, now)
        }
    }

    fn tick(&mut self, now: Timestamp) -> io::Result<()> {
        self.close_if_over(now)?;
        match self.current.as_mut() {
            Some(c) => c.sink.tick(now),
            None => Ok(()),
        }
    }

    fn finish(&mut self, now: Timestamp) -> io::Result<()> {
        self.close(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn names_windows_by_their_start_in_utc() {
        let p = PathPattern::new("flows-%Y%m%d-%H%M%S.%s.csv", HOUR).unwrap();
        // 2023-11-14T22:13:20Z
        let t = Timestamp::from_secs_nanos(1_700_000_000, 5);
        assert_eq!(p.format(t), "flows-20231114-221320.1700000000.csv");
        assert_eq!(
            PathPattern::new("a%%b%s", HOUR).unwrap().format(t),
            "a%b1700000000"
        );
    }

    #[test]
    fn refuses_patterns_that_collide_or_are_unknown() {
        assert_eq!(
            PathPattern::new("flows-%Y%m%d.csv", HOUR),
            Err(PatternError::Collides("1h".into()))
        );
        assert_eq!(
            PathPattern::new("flows.csv", HOUR),
            Err(PatternError::Collides("1h".into()))
        );
        assert_eq!(
            PathPattern::new("flows-%j.csv", HOUR),
            Err(PatternError::Unknown('j'))
        );
        assert_eq!(
            PathPattern::new("flows-%H.csv", Duration::from_millis(1500)),
            Err(PatternError::Period)
        );
        assert_eq!(
            PathPattern::new("flows-%H%M.csv", HOUR),
            Err(PatternError::Collides("1h".into()))
        );
        assert_eq!(
            PathPattern::new("flows-%Y%m%d-%H.csv", Duration::from_secs(90 * 60)),
            Err(PatternError::Collides("90m".into()))
        );
        // Daily files named by day alone are fine.
        assert!(PathPattern::new("flows-%Y%m%d.csv", 24 * HOUR).is_ok());
        // And %s names every window apart.
        assert!(PathPattern::new("flows-%s.csv", Duration::from_secs(1)).is_ok());
    }
}
