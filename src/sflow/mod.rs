//! sFlow v5: the probe as an sFlow agent (sflow_version_5.txt, InMon, July 2004).
//!
//! sFlow needs no flow cache: an agent samples packets 1 in N at random and sends the
//! first bytes of each sampled frame, with the counters of the interface it was seen on,
//! to its collectors, which scale by N. So it is cheap at any rate, and it sits beside
//! the flow export rather than behind it:
//!
//! ```text
//!  source ──► Classifier ──► decode ──► flow cache ──► exporter thread ──► IPFIX, v9, v5, text
//!               │ sampler (this module)                   │
//!               └── PacketSample, CounterSample ──────────► SflowSink ──► sFlow datagrams
//! ```
//!
//! - [`sampler::SflowSampler`] runs in the classifier, so it sees every packet read,
//!   decodable or not, before any flow sampling: for each sFlow collector (each its own
//!   rate) and each data source (the interface, per worker), a skip count drawn at
//!   random with mean N; the sample pool counts every packet the sampler saw. Offline it
//!   also sums the capture into interface counters, sent every polling interval of
//!   packet time.
//! - Its batches travel on the exporter's channel ([`crate::pipeline::exporter`]) to the
//!   [`sink::SflowSink`] of each sFlow collector, which owns the sequence numbers (one
//!   datagram sequence per sub-agent, one sample sequence per data source), packs
//!   samples into datagrams no larger than the maximum message size, and live reads
//!   the kernel's interface counters every polling interval ([`counters`]).
//! - [`datagram`] is the XDR encoding, with no I/O: bytes are checked field by field
//!   against the specification in its tests, and against tshark, sfcapd and sfacctd in
//!   `tests/`.
//!
//! Sub-agents: every capture thread (an AF_PACKET worker, a libpcap reader, the offline
//! reader) is a sub-agent of its own, numbered as the workers are, so the sequence
//! numbers of its datagrams and samples have no gaps whatever the other threads do.

pub mod counters;
pub mod datagram;
pub mod sampler;
pub mod sink;

pub use counters::IfCounters;
pub use sampler::SflowSampler;
pub use sink::{source_address_towards, SflowCounterSource, SflowSink, SflowSinkOptions};

use std::ops::Range;
use std::time::Duration;

use crossbeam_channel::Sender;

use crate::export::collector::SflowParams;
use crate::pipeline::exporter::ExportMessage;

/// Default polling interval of interface counters (`sflow.polling_interval`), as
/// hsflowd and most switches poll.
pub const DEFAULT_POLLING_INTERVAL: Duration = Duration::from_secs(20);

/// What the samplers of a run need: every sFlow collector's sampling, in the order the
/// collectors were given, and the polling interval of the interface counters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SamplerConfig {
    /// Rate and header size of each sFlow collector.
    pub collectors: Vec<SflowParams>,
    /// Interface counters are sent this often (zero: never).
    pub polling_interval: Duration,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            collectors: Vec::new(),
            polling_interval: DEFAULT_POLLING_INTERVAL,
        }
    }
}

impl SamplerConfig {
    /// The sampler of sub-agent `sub_agent`, or None without sFlow collectors.
    /// `offline`: interface counters are summed from the capture by the sampler (live,
    /// the sinks read the kernel's).
    pub fn sampler(
        &self,
        sub_agent: u32,
        offline: bool,
        exporter: Sender<ExportMessage>,
    ) -> Option<SflowSampler> {
        if self.collectors.is_empty() {
            return None;
        }
        let polling = offline.then_some(self.polling_interval);
        Some(SflowSampler::new(
            self.collectors.clone(),
            sub_agent,
            polling,
            exporter,
        ))
    }
}

/// What a sampled frame's header bytes start with (`header_protocol`, sFlow v5
/// section 5.3, `enum header_protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderProtocol {
    /// ETHERNET-ISO88023 (1): the frame from its destination MAC.
    Ethernet = 1,
    /// IPv4 (11): the packet from its IP header (raw-IP and cooked link types).
    Ipv4 = 11,
    /// IPv6 (12).
    Ipv6 = 12,
}

/// One sampled packet, as the sampler took it. The header bytes are in the batch's
/// `headers` buffer, so a batch of samples is two allocations, not one a sample.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketSample {
    /// The sFlow collector it was sampled for: its place among the sFlow collectors, in
    /// the order they were given.
    pub collector: u16,
    /// The data source: the interface index (`in_if` of the flow records).
    pub source: u32,
    /// The collector's sampling rate N.
    pub rate: u32,
    /// Packets the sampler saw on this data source for this collector, this one
    /// included (wraps at 2^32, as the field does).
    pub sample_pool: u32,
    /// Packets the capture lost before the sampler saw them (the kernel's drop counter
    /// live, 0 offline).
    pub drops: u32,
    /// What the header bytes start with.
    pub protocol: HeaderProtocol,
    /// Length of the frame on the wire: for Ethernet with the 4-octet FCS a capture
    /// leaves out, for cooked and loopback captures with their link header.
    pub frame_length: u32,
    /// Octets of `frame_length` the header bytes leave out: the FCS (4) of an Ethernet
    /// frame, the link header of a cooked or loopback capture, 0 for raw IP.
    pub stripped: u32,
    /// The header bytes: a range of the batch's `headers`.
    pub header: Range<u32>,
    /// The outer 802.1Q tag of an Ethernet frame: (VLAN id, priority).
    pub vlan: Option<(u16, u8)>,
}

/// Interface counters of one data source at one instant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterSample {
    /// The data source (interface index).
    pub source: u32,
    /// The counters.
    pub counters: IfCounters,
}

/// Samples of one sub-agent, on their way to the sFlow sinks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SampleBatch {
    /// The sub-agent (capture thread) that took them.
    pub sub_agent: u32,
    /// Sampled packets, in the order seen.
    pub packets: Vec<PacketSample>,
    /// Header bytes of `packets`.
    pub headers: Vec<u8>,
    /// Counter samples (offline: summed from the capture).
    pub counters: Vec<CounterSample>,
}

impl SampleBatch {
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.packets.is_empty() && self.counters.is_empty()
    }

    /// The header bytes of `sample`.
    pub fn header_of(&self, sample: &PacketSample) -> &[u8] {
        self.headers
            .get(sample.header.start as usize..sample.header.end as usize)
            .unwrap_or(&[])
    }
}
