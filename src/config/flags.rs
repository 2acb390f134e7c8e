//! Command-line flags into the raw configuration, so flags and file meet in one shape.
//!
//! Each flag fills the [`RawConfig`] field it overrides, tagged with the flag's name; the
//! value stays as typed (`--idle-timeout 15x` fails in `resolve`, naming the flag).
//! `main` merges the result over the file's: `file.merge(flags)`.

use super::error::ConfigError;
use super::raw::{Origin, RawConfig, RawLogging, RawSampling, Setting};
use crate::cli::CacheArgs;

/// The raw config the timeout and cache flags (`convert`, `run`) give.
pub fn from_cache_args(args: &CacheArgs) -> RawConfig {
    let mut raw = RawConfig::default();
    let t = &mut raw.timeouts;
    let q = |v: &Option<String>, flag| v.as_deref().map(|v| Setting::flag(v, flag));
    t.idle = q(&args.idle_timeout, "--idle-timeout");
    t.udp_idle = q(&args.udp_idle_timeout, "--udp-idle-timeout");
    t.icmp_idle = q(&args.icmp_idle_timeout, "--icmp-idle-timeout");
    t.active = q(&args.active_timeout, "--active-timeout");
    t.tcp_end_grace = q(&args.tcp_end_grace, "--tcp-end-grace");
    raw.cache.max_flows = args
        .max_flows
        .map(|n| Setting::flag(i64::try_from(n).unwrap_or(i64::MAX), "--max-flows"));
    raw.tunnels.decap = args
        .decap
        .as_ref()
        .map(|kinds| Setting::flag_list(kinds.iter().cloned(), "--decap"));
    raw
}

/// `--sample SPEC`: `none`, or `MODE:N` with MODE `deterministic`, `random` or
/// `flow-hash` (1-in-N). The mode's name is checked in `resolve`, like the file's.
pub fn sampling_from_flag(spec: &str, flag: &'static str) -> Result<RawSampling, ConfigError> {
    let mut raw = RawSampling::default();
    let spec = spec.trim();
    if spec.eq_ignore_ascii_case("none") {
        raw.mode = Some(Setting::flag("none", flag));
        raw.rate = Some(Setting::flag(1, flag));
        return Ok(raw);
    }
    let rate = spec.split_once(':').and_then(|(mode, n)| {
        let n: i64 = n.trim().parse().ok()?;
        Some((mode.trim(), n))
    });
    match rate {
        Some((mode, n)) => {
            raw.mode = Some(Setting::flag(mode, flag));
            raw.rate = Some(Setting::flag(n, flag));
            Ok(raw)
        }
        None => Err(ConfigError::Invalid {
            origin: Origin::Flag(flag),
            key: "sampling".into(),
            value: format!("{spec:?}"),
            reason: "write `none` or MODE:N with MODE deterministic, random or flow-hash \
                     (e.g. random:100 for 1-in-100)"
                .into(),
        }),
    }
}

/// `-v` (repeatable) and `-q` as a log level; nothing when neither was given, so the
/// file's `logging.level` stays in force.
pub fn logging_from_flags(verbose: u8, quiet: bool) -> RawLogging {
    let level = match (quiet, verbose) {
        (true, _) => Some(Setting::flag("error", "--quiet")),
        (false, 0) => None,
        (false, 1) => Some(Setting::flag("info", "--verbose")),
        (false, 2) => Some(Setting::flag("debug", "--verbose")),
        (false, _) => Some(Setting::flag("trace", "--verbose")),
    };
    RawLogging { level }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::resolve::SamplingMode;

    #[test]
    fn sample_specs() {
        let resolve = |spec| {
            let raw = RawConfig {
                sampling: sampling_from_flag(spec, "--sample")?,
                ..RawConfig::default()
            };
            raw.resolve().map_err(|e| e.0[0].clone())
        };
        let c = resolve("random:100").unwrap();
        assert_eq!(
            (c.sampling.mode, c.sampling.rate),
            (SamplingMode::Random, 100)
        );
        let c = resolve("flow-hash:8").unwrap();
        assert_eq!(c.sampling.mode, SamplingMode::FlowHash);
        assert_eq!(resolve("none").unwrap().sampling.rate, 1);
        for bad in ["100", "random", "random:x", "random:0", "often:10"] {
            let e = resolve(bad).unwrap_err();
            assert!(e.to_string().starts_with("--sample: "), "{bad}: {e}");
        }
    }

    #[test]
    fn flag_errors_name_the_flag() {
        let args = CacheArgs {
            idle_timeout: Some("15x".into()),
            max_flows: Some(0),
            ..CacheArgs::default()
        };
        let e = from_cache_args(&args).resolve().unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("--idle-timeout: timeouts.idle = \"15x\""),
            "{text}"
        );
        assert!(text.contains("--max-flows: cache.max_flows = 0"), "{text}");
    }

    #[test]
    fn verbosity() {
        assert_eq!(logging_from_flags(0, false).level, None);
        let c = |v, q| {
            let raw = RawConfig {
                logging: logging_from_flags(v, q),
                ..RawConfig::default()
            };
            raw.resolve().unwrap().logging.level.filter()
        };
        assert_eq!(c(1, false), log::LevelFilter::Info);
        assert_eq!(c(5, false), log::LevelFilter::Trace);
        assert_eq!(c(3, true), log::LevelFilter::Error);
    }
}
