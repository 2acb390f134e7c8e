//! Command-line flags into the raw configuration, so flags and file meet in one shape.
//!
//! Each flag fills the [`RawConfig`] field it overrides, tagged with the flag's name; the
//! value stays as typed (`--idle-timeout 15x` fails in `resolve`, naming the flag).
//! `main` merges the result over the file's: `file.merge(flags)`.

use super::error::ConfigError;
use super::raw::{Origin, RawConfig, RawDirection, RawLogging, RawSampling, Setting};
use crate::cli::{CacheArgs, DirectionArgs};

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
    raw.cache.max_flows = (args.max_flows.as_deref()).map(|v| Setting::flag(v, "--max-flows"));
    raw.tunnels.decap = args
        .decap
        .as_ref()
        .map(|kinds| Setting::flag_list(kinds.iter().cloned(), "--decap"));
    raw.inspect.protocols = args
        .inspect
        .as_ref()
        .map(|names| Setting::flag_list(names.iter().cloned(), "--inspect"));
    raw.inspect.community_id_seed = args
        .community_id_seed
        .map(|n| Setting::flag(i64::from(n), "--community-id-seed"));
    raw
}

/// The direction flags (`convert`, `run`) as `[direction]`; a list flag given replaces the
/// file's list.
pub fn from_direction_args(args: &DirectionArgs) -> RawDirection {
    let strings = |v: &Vec<String>, flag| {
        (!v.is_empty()).then(|| Setting::flag_list(v.iter().cloned(), flag))
    };
    let ints =
        |v: &Vec<i64>, flag| (!v.is_empty()).then(|| Setting::flag_ints(v.iter().copied(), flag));
    RawDirection {
        local_networks: strings(&args.local_networks, "--local-network"),
        ingress_vlans: ints(&args.ingress_vlans, "--ingress-vlan"),
        egress_vlans: ints(&args.egress_vlans, "--egress-vlan"),
        gateway_macs: strings(&args.gateway_macs, "--gateway-mac"),
        outside_interface: args
            .outside_interface
            .map(|n| Setting::flag(n, "--outside-interface")),
        inside_interface: args
            .inside_interface
            .map(|n| Setting::flag(n, "--inside-interface")),
    }
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
            max_flows: Some("0".into()),
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
    fn direction_flags_resolve_and_their_errors_name_the_flag() {
        let args = DirectionArgs {
            local_networks: vec!["10.0.0.0/8".into(), "2001:db8::/32".into()],
            ingress_vlans: vec![901],
            egress_vlans: vec![902],
            gateway_macs: vec!["001b.213a.4f01".into()],
            outside_interface: Some(1),
            inside_interface: Some(2),
        };
        let raw = RawConfig {
            direction: from_direction_args(&args),
            ..RawConfig::default()
        };
        let d = raw.resolve().unwrap().direction;
        assert_eq!(d.local_networks.len(), 2);
        assert_eq!((d.ingress_vlans, d.egress_vlans), (vec![901], vec![902]));
        assert_eq!(d.gateway_macs[0].to_string(), "00:1b:21:3a:4f:01");
        assert!(d.interfaces.is_some());
        let bad = DirectionArgs {
            local_networks: vec!["10.0.0.1/8".into()],
            ingress_vlans: vec![5000],
            outside_interface: Some(1),
            ..DirectionArgs::default()
        };
        let raw = RawConfig {
            direction: from_direction_args(&bad),
            ..RawConfig::default()
        };
        let text = raw.resolve().unwrap_err().to_string();
        assert!(
            text.contains("--local-network: direction.local_networks = \"10.0.0.1/8\""),
            "{text}"
        );
        assert!(
            text.contains("--ingress-vlan: direction.ingress_vlans = 5000"),
            "{text}"
        );
        assert!(
            text.contains("--outside-interface: direction.outside_interface = 1"),
            "{text}"
        );
        // No flag: nothing set, so the file's values stay.
        assert_eq!(
            from_direction_args(&DirectionArgs::default()),
            RawDirection::default()
        );
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
