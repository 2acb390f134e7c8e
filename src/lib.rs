//! flowprobe: a software flow probe.
//!
//! Packets come from capture files (pcap, pcapng) or live interfaces, are decoded into
//! the fields a flow needs, metered in flow cache shards with timeouts on packet time, and
//! the finished records go to exporters (NetFlow v9, IPFIX, v5, text).
//!
//! # Layout
//! - `time`     `Timestamp`, the only notion of time below the sources.
//! - `capture`  packet sources: `file` (pcap/pcapng), `af_packet`, `libpcap` (feature);
//!   `iface`, `bpf` and `live` (errors) serve the live sources.
//! - `decode`   frame bytes to `PacketMeta` (flow key fields, length, flags), per link type.
//! - `flow`     `key`, `record`, the cache shard with expiry, `direction` (SPAN direction rules).
//! - `export`   record sinks: text (CSV/JSON/table), IPFIX, NetFlow v9 and v5.
//! - `sflow`    the sFlow v5 agent: packet sampler (in the classifier), datagrams, counters.
//! - `inspect`  payload inspection (`--inspect`): TLS, QUIC, DNS, HTTP, SSH, Community ID,
//!   TCP health (`tcp`) and timing shape (`splt`).
//! - `generate` deterministic traffic generator (tests, benchmarks, shipped captures).
//! - `pipeline` workers (decode + cache shard), the exporter thread, offline conversion,
//!   counters and the closing summary.
//! - `cli`      the command line as clap sees it (raw flags).
//! - `config`   durations, sizes and (later) the config file.

// `unsafe` only where the OS needs it: capture::af_packet (ring, socket options),
// capture::iface (ioctls, setuid) and capture::file::mapped (file map, SIGBUS handler);
// each of those modules allows it for itself.
#![deny(unsafe_code)]
#![warn(missing_docs, unreachable_pub, unused_qualifications)]

pub mod capture;
pub mod cli;
pub mod config;
pub mod decode;
pub mod export;
pub mod flow;
pub mod generate;
pub mod inspect;
pub mod pipeline;
pub mod sflow;
pub mod time;
