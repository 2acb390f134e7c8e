//! Collector URLs: `ipfix://HOST:PORT` and friends, as given on the command line and in
//! the config file.
//!
//! | scheme       | protocol            | transport | default port |
//! |--------------|---------------------|-----------|--------------|
//! | `ipfix`      | IPFIX (RFC 7011)    | UDP       | 4739         |
//! | `ipfix+udp`  | IPFIX               | UDP       | 4739         |
//! | `ipfix+tcp`  | IPFIX               | TCP       | 4739         |
//! | `v9`         | NetFlow v9          | UDP       | 2055         |
//! | `v5`         | NetFlow v5          | UDP       | 2055         |
//! | `sflow`      | sFlow v5 (packet samples, not records) | UDP | 6343     |
//!
//! Options follow a `?`: `biflow=1` (or `biflow`, `biflow=true`) exports RFC 5103 biflow
//! records to that collector (IPFIX over UDP or TCP only: a `v9://` or `v5://` URL with it
//! is rejected, naming the collector, since those protocols cannot carry reverse counters);
//! `biflow=0` is the default, uniflow records.
//!
//! sFlow takes its own options: `rate=N` (1-in-N packet sampling, required, N at least 1)
//! and `header=B` (bytes of each sampled frame sent, default 128, at most 256); `biflow`
//! means nothing there. The flow options mean nothing to sFlow and the sFlow options
//! nothing to the flow protocols: either is rejected, naming the collector.
//!
//! IPv6 literals go in brackets (`ipfix://[::1]:4739`). Host names are kept as written and
//! resolved when the sink is built ([`CollectorUrl::resolve`]), so parsing never touches
//! the network.

use std::fmt;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;

/// Protocol and transport of one collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CollectorProtocol {
    /// IPFIX over UDP.
    Ipfix,
    /// IPFIX over TCP.
    IpfixTcp,
    /// NetFlow v9 over UDP.
    NetflowV9,
    /// NetFlow v5 over UDP.
    NetflowV5,
    /// sFlow v5 over UDP: sampled packet headers and interface counters.
    Sflow,
}

impl CollectorProtocol {
    /// The URL scheme.
    pub fn scheme(self) -> &'static str {
        match self {
            CollectorProtocol::Ipfix => "ipfix",
            CollectorProtocol::IpfixTcp => "ipfix+tcp",
            CollectorProtocol::NetflowV9 => "v9",
            CollectorProtocol::NetflowV5 => "v5",
            CollectorProtocol::Sflow => "sflow",
        }
    }

    /// Whether the protocol can carry RFC 5103 biflow records (IPFIX only: they need
    /// enterprise elements).
    pub fn carries_biflows(self) -> bool {
        matches!(self, CollectorProtocol::Ipfix | CollectorProtocol::IpfixTcp)
    }

    /// The IANA port of the protocol: 4739 (ipfix), 6343 (sflow), or the customary
    /// NetFlow port 2055.
    pub fn default_port(self) -> u16 {
        match self {
            CollectorProtocol::Ipfix | CollectorProtocol::IpfixTcp => 4739,
            CollectorProtocol::NetflowV9 | CollectorProtocol::NetflowV5 => 2055,
            CollectorProtocol::Sflow => 6343,
        }
    }
}

/// A parsed collector URL. In the config file it is the same string as on the command
/// line (serde reads and writes it through `FromStr` / `Display`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(try_from = "String", into = "String")]
pub struct CollectorUrl {
    /// Protocol and transport.
    pub protocol: CollectorProtocol,
    /// Host name or address literal (without brackets).
    pub host: String,
    /// Port.
    pub port: u16,
    /// `?biflow=1`: export RFC 5103 biflow records (IPFIX only).
    pub biflow: bool,
    /// `?rate=N&header=B`: what an sFlow collector is sent (sFlow only, where it is
    /// required).
    pub sflow: Option<SflowParams>,
}

/// Default bytes of each sampled frame an sFlow collector is sent (`header=B`), as
/// hsflowd and most switches send.
pub const SFLOW_DEFAULT_HEADER: u32 = 128;
/// Most bytes of a sampled frame an sFlow collector may be sent (`header=B`).
pub const SFLOW_MAX_HEADER: u32 = 256;

/// The sampling of one sFlow collector.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SflowParams {
    /// 1-in-N packet sampling (`rate=N`), N at least 1.
    pub rate: u32,
    /// Bytes of each sampled frame sent (`header=B`), 1 to 256.
    pub header_bytes: u32,
}

/// Why a collector URL was rejected, or could not be resolved.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CollectorUrlError {
    /// A host name with characters no host name or address has.
    #[error("collector `{url}`: `{host}` is not a host name or address")]
    BadHost {
        /// The URL as given.
        url: String,
        /// The host part.
        host: String,
    },
    /// No `scheme://`.
    #[error("collector `{url}`: missing scheme; expected ipfix://, ipfix+tcp://, v9://, v5:// or sflow://")]
    MissingScheme {
        /// The URL as given.
        url: String,
    },
    /// A scheme we do not speak.
    #[error("collector `{url}`: unknown scheme `{scheme}`; expected ipfix, ipfix+udp, ipfix+tcp, v9, v5 or sflow")]
    UnknownScheme {
        /// The URL as given.
        url: String,
        /// The scheme found.
        scheme: String,
    },
    /// Nothing after `scheme://`.
    #[error("collector `{url}`: missing host")]
    MissingHost {
        /// The URL as given.
        url: String,
    },
    /// `[` without `]`, or an invalid IPv6 literal, or an IPv6 address without brackets.
    #[error("collector `{url}`: bad IPv6 address `{host}` (write it in brackets, e.g. ipfix://[::1]:4739)")]
    BadIpv6 {
        /// The URL as given.
        url: String,
        /// The host part.
        host: String,
    },
    /// Port not a number in 1..=65535.
    #[error("collector `{url}`: bad port `{port}` (expected 1 to 65535)")]
    BadPort {
        /// The URL as given.
        url: String,
        /// The port text.
        port: String,
    },
    /// A path, query or user part that means nothing here.
    #[error("collector `{url}`: unexpected `{rest}` after host and port")]
    TrailingGarbage {
        /// The URL as given.
        url: String,
        /// What followed.
        rest: String,
    },
    /// An option after `?` that is not known, or a value it does not take.
    #[error(
        "collector `{url}`: unknown option `{option}` (flow collectors take biflow=0 or biflow=1; sflow:// takes rate=N and header=B)"
    )]
    BadOption {
        /// The URL as given.
        url: String,
        /// The option as written.
        option: String,
    },
    /// An sFlow collector without `rate=N`, or with a rate or header size out of range,
    /// or a flow protocol given an sFlow option.
    #[error("collector `{url}`: {reason}")]
    BadSflowOption {
        /// The URL as given.
        url: String,
        /// What is wrong, naming the value.
        reason: String,
    },
    /// `?biflow=1` on a protocol that cannot carry biflows.
    #[error("collector `{url}`: biflow records need IPFIX (ipfix:// or ipfix+tcp://); NetFlow v9 and v5 cannot carry reverse counters")]
    BiflowUnsupported {
        /// The URL as given.
        url: String,
    },
    /// The host name did not resolve.
    #[error("collector `{url}`: cannot resolve host `{host}`: {reason}")]
    Resolve {
        /// The URL as given.
        url: String,
        /// The host part.
        host: String,
        /// The resolver's message.
        reason: String,
    },
}

impl FromStr for CollectorUrl {
    type Err = CollectorUrlError;

    fn from_str(url: &str) -> Result<CollectorUrl, CollectorUrlError> {
        let owned = || url.to_string();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| CollectorUrlError::MissingScheme { url: owned() })?;
        let protocol = match scheme.to_ascii_lowercase().as_str() {
            "ipfix" | "ipfix+udp" => CollectorProtocol::Ipfix,
            "ipfix+tcp" => CollectorProtocol::IpfixTcp,
            "v9" | "netflow9" | "nfv9" => CollectorProtocol::NetflowV9,
            "v5" | "netflow5" | "nfv5" => CollectorProtocol::NetflowV5,
            "sflow" | "sflow5" => CollectorProtocol::Sflow,
            other => {
                return Err(CollectorUrlError::UnknownScheme {
                    url: owned(),
                    scheme: other.to_string(),
                });
            }
        };
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let mut biflow = false;
        let (mut rate, mut header) = (None, None);
        let sflow_error = |reason: String| CollectorUrlError::BadSflowOption {
            url: owned(),
            reason,
        };
        for option in query.into_iter().flat_map(|q| q.split('&')) {
            let lower = option.to_ascii_lowercase();
            let (name, value) = lower.split_once('=').unwrap_or((lower.as_str(), ""));
            if matches!(name, "rate" | "header") {
                if protocol != CollectorProtocol::Sflow {
                    return Err(sflow_error(format!(
                        "`{option}` is an sFlow option; {} takes only biflow",
                        protocol.scheme()
                    )));
                }
                let n: u32 = value.parse().map_err(|_| {
                    sflow_error(format!("`{option}`: {name} must be a whole number"))
                })?;
                if name == "rate" {
                    rate = Some(n);
                } else {
                    header = Some(n);
                }
                continue;
            }
            biflow = match lower.as_str() {
                "biflow" | "biflow=1" | "biflow=true" | "biflow=yes" => true,
                "biflow=0" | "biflow=false" | "biflow=no" => false,
                _ => {
                    return Err(CollectorUrlError::BadOption {
                        url: owned(),
                        option: option.to_string(),
                    })
                }
            };
        }
        if biflow && !protocol.carries_biflows() {
            return Err(CollectorUrlError::BiflowUnsupported { url: owned() });
        }
        let sflow = if protocol == CollectorProtocol::Sflow {
            let rate = match rate {
                None => return Err(sflow_error(
                    "sFlow needs a sampling rate: add ?rate=N (1 in N packets, 1 = every packet)"
                        .into(),
                )),
                Some(0) => {
                    return Err(sflow_error(
                        "rate=0: the rate is 1 in N packets, N at least 1".into(),
                    ))
                }
                Some(n) => n,
            };
            let header_bytes = header.unwrap_or(SFLOW_DEFAULT_HEADER);
            if header_bytes == 0 || header_bytes > SFLOW_MAX_HEADER {
                return Err(sflow_error(format!(
                    "header={header_bytes}: the header is 1 to {SFLOW_MAX_HEADER} bytes of each sampled frame"
                )));
            }
            Some(SflowParams { rate, header_bytes })
        } else {
            None
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if let Some(i) = rest.find(['/', '?', '#', '@']) {
            return Err(CollectorUrlError::TrailingGarbage {
                url: owned(),
                rest: rest[i..].to_string(),
            });
        }
        let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
            let (host, after) =
                inner
                    .split_once(']')
                    .ok_or_else(|| CollectorUrlError::BadIpv6 {
                        url: owned(),
                        host: rest.to_string(),
                    })?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(CollectorUrlError::BadIpv6 {
                    url: owned(),
                    host: host.to_string(),
                });
            }
            let port =
                match after {
                    "" => None,
                    p => Some(p.strip_prefix(':').ok_or_else(|| {
                        CollectorUrlError::TrailingGarbage {
                            url: owned(),
                            rest: p.to_string(),
                        }
                    })?),
                };
            (host, port)
        } else if rest.matches(':').count() > 1 {
            return Err(CollectorUrlError::BadIpv6 {
                url: owned(),
                host: rest.to_string(),
            });
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(CollectorUrlError::MissingHost { url: owned() });
        }
        if !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'))
        {
            return Err(CollectorUrlError::BadHost {
                url: owned(),
                host: host.to_string(),
            });
        }
        let port = match port {
            None => protocol.default_port(),
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(CollectorUrlError::BadPort {
                        url: owned(),
                        port: p.to_string(),
                    })
                }
            },
        };
        Ok(CollectorUrl {
            protocol,
            host: host.to_string(),
            port,
            biflow,
            sflow,
        })
    }
}

impl TryFrom<String> for CollectorUrl {
    type Error = CollectorUrlError;

    fn try_from(s: String) -> Result<CollectorUrl, CollectorUrlError> {
        s.parse()
    }
}

impl From<CollectorUrl> for String {
    fn from(u: CollectorUrl) -> String {
        u.to_string()
    }
}

impl fmt::Display for CollectorUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.fmt_address(f)?;
        if self.biflow {
            f.write_str("?biflow=1")?;
        }
        if let Some(p) = self.sflow {
            write!(f, "?rate={}", p.rate)?;
            if p.header_bytes != SFLOW_DEFAULT_HEADER {
                write!(f, "&header={}", p.header_bytes)?;
            }
        }
        Ok(())
    }
}

impl CollectorUrl {
    fn fmt_address(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(
                f,
                "{}://[{}]:{}",
                self.protocol.scheme(),
                self.host,
                self.port
            )
        } else {
            write!(
                f,
                "{}://{}:{}",
                self.protocol.scheme(),
                self.host,
                self.port
            )
        }
    }
}

impl CollectorUrl {
    /// The socket address to send to: the literal, or the first address the host name
    /// resolves to.
    pub fn resolve(&self) -> Result<SocketAddr, CollectorUrlError> {
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, self.port));
        }
        let err = |reason: String| CollectorUrlError::Resolve {
            url: self.to_string(),
            host: self.host.clone(),
            reason,
        };
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .map_err(|e| err(e.to_string()))?
            .next()
            .ok_or_else(|| err("no address".to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<CollectorUrl, CollectorUrlError> {
        s.parse()
    }

    #[test]
    fn parses_every_scheme_and_default_ports() {
        let u = parse("ipfix://192.0.2.1:9995").unwrap();
        assert_eq!(
            (u.protocol, u.host.as_str(), u.port),
            (CollectorProtocol::Ipfix, "192.0.2.1", 9995)
        );
        assert_eq!(parse("ipfix://collector").unwrap().port, 4739);
        assert_eq!(
            parse("ipfix+tcp://c:1").unwrap().protocol,
            CollectorProtocol::IpfixTcp
        );
        assert_eq!(
            parse("IPFIX+UDP://c").unwrap().protocol,
            CollectorProtocol::Ipfix
        );
        let v9 = parse("v9://c").unwrap();
        assert_eq!((v9.protocol, v9.port), (CollectorProtocol::NetflowV9, 2055));
        assert_eq!(parse("v5://c:2056/").unwrap().port, 2056);
    }

    #[test]
    fn ipv6_literals_need_brackets() {
        let u = parse("ipfix://[::1]:4739").unwrap();
        assert_eq!(u.host, "::1");
        assert_eq!(u.resolve().unwrap(), "[::1]:4739".parse().unwrap());
        assert_eq!(u.to_string(), "ipfix://[::1]:4739");
        assert_eq!(parse("v9://[2001:db8::1]").unwrap().port, 2055);
        assert!(matches!(
            parse("ipfix://::1:4739"),
            Err(CollectorUrlError::BadIpv6 { .. })
        ));
        assert!(matches!(
            parse("ipfix://[::1:4739"),
            Err(CollectorUrlError::BadIpv6 { .. })
        ));
        assert!(matches!(
            parse("ipfix://[nothex]:1"),
            Err(CollectorUrlError::BadIpv6 { .. })
        ));
    }

    #[test]
    fn clear_errors() {
        assert!(matches!(
            parse("192.0.2.1:4739"),
            Err(CollectorUrlError::MissingScheme { .. })
        ));
        let e = parse("netflow://c").unwrap_err();
        assert!(e.to_string().contains("unknown scheme `netflow`"), "{e}");
        assert!(matches!(
            parse("ipfix://"),
            Err(CollectorUrlError::MissingHost { .. })
        ));
        assert!(matches!(
            parse("ipfix://:4739"),
            Err(CollectorUrlError::MissingHost { .. })
        ));
        assert!(matches!(
            parse("ipfix://c:0"),
            Err(CollectorUrlError::BadPort { .. })
        ));
        assert!(matches!(
            parse("ipfix://c:70000"),
            Err(CollectorUrlError::BadPort { .. })
        ));
        assert!(matches!(
            parse("ipfix://c:x"),
            Err(CollectorUrlError::BadPort { .. })
        ));
        assert!(matches!(
            parse("ipfix://c:1/path"),
            Err(CollectorUrlError::TrailingGarbage { .. })
        ));
        assert!(matches!(
            parse("ipfix://[::1]x"),
            Err(CollectorUrlError::TrailingGarbage { .. })
        ));
    }

    #[test]
    fn reads_from_toml_like_the_command_line() {
        #[derive(serde::Deserialize)]
        struct Config {
            collectors: Vec<CollectorUrl>,
        }
        let c: Config =
            toml::from_str(r#"collectors = ["ipfix://[::1]:4739", "v5://10.0.0.1"]"#).unwrap();
        assert_eq!(c.collectors[0].port, 4739);
        assert_eq!(c.collectors[1].protocol, CollectorProtocol::NetflowV5);
        let e = toml::from_str::<Config>(r#"collectors = ["sflw://x"]"#)
            .err()
            .unwrap();
        assert!(e.to_string().contains("unknown scheme"), "{e}");
    }

    #[test]
    fn biflow_option_only_for_ipfix() {
        assert!(!parse("ipfix://h:1").unwrap().biflow);
        assert!(parse("ipfix://h:1?biflow=1").unwrap().biflow);
        assert!(parse("ipfix+tcp://h?biflow").unwrap().biflow);
        assert!(parse("ipfix://[::1]:4739?biflow=true").unwrap().biflow);
        assert!(!parse("ipfix://h?biflow=0").unwrap().biflow);
        assert!(!parse("v9://h?biflow=0").unwrap().biflow);
        let e = parse("v9://10.0.0.1:2055?biflow=1").unwrap_err();
        assert!(matches!(e, CollectorUrlError::BiflowUnsupported { .. }));
        assert!(e.to_string().contains("v9://10.0.0.1:2055?biflow=1"), "{e}");
        assert!(matches!(
            parse("v5://h?biflow"),
            Err(CollectorUrlError::BiflowUnsupported { .. })
        ));
        assert!(matches!(
            parse("ipfix://h?biflows=1"),
            Err(CollectorUrlError::BadOption { .. })
        ));
        assert!(matches!(
            parse("ipfix://h?biflow=2"),
            Err(CollectorUrlError::BadOption { .. })
        ));
    }

    #[test]
    fn round_trips_through_display() {
        for s in [
            "ipfix://h:1",
            "ipfix://h:1?biflow=1",
            "ipfix+tcp://[::1]:2?biflow=1",
            "ipfix+tcp://h:2",
            "v9://[::1]:3",
            "v5://10.0.0.1:4",
            "sflow://h:6343?rate=1",
            "sflow://[::1]:5?rate=400&header=256",
        ] {
            assert_eq!(parse(s).unwrap().to_string(), s);
        }
    }

    #[test]
    fn sflow_needs_a_rate_and_a_header_in_range() {
        let u = parse("sflow://127.0.0.1?rate=10").unwrap();
        assert_eq!((u.protocol, u.port), (CollectorProtocol::Sflow, 6343));
        assert_eq!(
            u.sflow,
            Some(SflowParams {
                rate: 10,
                header_bytes: 128
            })
        );
        let u = parse("sflow://h:9?header=64&rate=1").unwrap();
        assert_eq!(u.sflow.unwrap().header_bytes, 64);
        assert_eq!(parse("ipfix://h").unwrap().sflow, None);
        for (url, says) in [
            ("sflow://h", "add ?rate=N"),
            ("sflow://h?rate=0", "rate=0"),
            ("sflow://h?rate=x", "`rate=x`"),
            ("sflow://h?rate=-1", "`rate=-1`"),
            ("sflow://h?rate=2&header=257", "header=257"),
            ("sflow://h?rate=2&header=0", "header=0"),
            ("ipfix://h?rate=2", "sFlow option"),
            ("v9://h?header=128", "sFlow option"),
        ] {
            let e = parse(url).unwrap_err();
            assert!(
                matches!(e, CollectorUrlError::BadSflowOption { .. }),
                "{url}: {e:?}"
            );
            let text = e.to_string();
            assert!(text.contains(says) && text.contains(url), "{url}: {text}");
        }
        assert!(matches!(
            parse("sflow://h?rate=1&biflow=1"),
            Err(CollectorUrlError::BiflowUnsupported { .. })
        ));
    }
}
