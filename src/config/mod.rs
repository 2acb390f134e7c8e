//! Configuration: the config file, the flags that override it, and the values both are
//! written in (durations `15s`, `30m`; sizes `64MiB`).
//!
//! The command line and the config file read into the same raw shape and are resolved by
//! the same functions, so a value means the same thing wherever it is written:
//! - `raw`: [`RawConfig`], every option as written with its [`Origin`] (file and line, or
//!   flag); reading the TOML file; merging (defaults < file < flags).
//! - `flags`: command-line flags into a `RawConfig`.
//! - `resolve`: `RawConfig::resolve` into the typed [`Config`]; [`load`] does it all.
//! - `error`: [`ConfigError`] names key, value as written and line; [`ConfigErrors`].
//! - `suggest`: "did you mean" for unknown keys and enum values.
//! - `memory`: `max_flows = "auto"`, the cache bound sized from the memory available.

use std::time::Duration;

mod error;
pub mod flags;
pub mod memory;
mod raw;
mod resolve;
mod suggest;

pub use error::{ConfigError, ConfigErrors};
pub use raw::{
    FlowCount, IntList, List, Origin, Quantity, RawCache, RawCapture, RawConfig, RawDirection,
    RawExport, RawInspect, RawLogging, RawSampling, RawSflow, RawStatistics, RawTimeouts,
    RawTunnels, Setting, SECTIONS,
};
pub use resolve::{
    check_collector_url, format_duration, format_size, load, Backend, CaptureConfig, Config,
    ExportConfig, LogLevel, LoggingConfig, SamplingConfig, SamplingMode, SflowConfig,
    StatisticsConfig, COLLECTOR_SCHEMES,
};

/// A value that could not be read, with what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {what} {value:?}: {expected}")]
pub struct ValueError {
    /// What kind of value ("duration", "size").
    pub what: &'static str,
    /// The text as written.
    pub value: String,
    /// What would have been accepted.
    pub expected: &'static str,
}

/// Reads a duration: a number with a unit `ns`, `us`, `ms`, `s`, `m`, `h`, `d`, or
/// several in a row (`1m30s`). A bare number is seconds. Fractions are allowed (`1.5s`).
pub fn parse_duration(text: &str) -> Result<Duration, ValueError> {
    let err = || ValueError {
        what: "duration",
        value: text.to_string(),
        expected: "a number with a unit: ns, us, ms, s, m, h, d (e.g. 15s, 30m, 1m30s)",
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(err());
    }
    if let Ok(secs) = s.parse::<f64>() {
        return seconds(secs).ok_or_else(err);
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let num_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_end == 0 {
            return Err(err());
        }
        let number: f64 = rest[..num_end].parse().map_err(|_| err())?;
        rest = &rest[num_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "d" => 86_400.0,
            _ => return Err(err()),
        };
        rest = &rest[unit_end..];
        total = total
            .checked_add(seconds(number * scale).ok_or_else(err)?)
            .ok_or_else(err)?;
    }
    Ok(total)
}

fn seconds(secs: f64) -> Option<Duration> {
    if secs.is_finite() && (0.0..1e12).contains(&secs) {
        Some(Duration::from_secs_f64(secs))
    } else {
        None
    }
}

/// Reads a size in bytes: a whole number with an optional unit `B`, `KiB`, `MiB`, `GiB`
/// (powers of 1024) or `kB`, `MB`, `GB` (powers of 1000).
pub fn parse_size(text: &str) -> Result<u64, ValueError> {
    let err = || ValueError {
        what: "size",
        value: text.to_string(),
        expected: "a whole number with an optional unit: B, KiB, MiB, GiB, kB, MB, GB (e.g. 64MiB)",
    };
    let s = text.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let number: u64 = s[..split].parse().map_err(|_| err())?;
    let scale: u64 = match s[split..].trim() {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        _ => return Err(err()),
    };
    number.checked_mul(scale).ok_or_else(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15s").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("20").unwrap(), Duration::from_secs(20));
        for bad in ["", "s", "15x", "-1s", "1s2", "nan"] {
            assert!(parse_duration(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_size("1500").unwrap(), 1500);
        assert_eq!(parse_size("2 GB").unwrap(), 2_000_000_000);
        for bad in ["", "MiB", "1.5MiB", "12XB", "99999999999999999999"] {
            assert!(parse_size(bad).is_err(), "{bad} accepted");
        }
    }
}
