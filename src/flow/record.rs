//! The flow record: what the cache accumulates for one key and the exporters send.

use super::key::FlowKey;
use super::tunnel::Tunnel;
use crate::time::Timestamp;

/// Why a record was exported. The numbers are IPFIX `flowEndReason` (IE 136) values
/// from the IANA "flowEndReason Values" registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum EndReason {
    /// idle timeout (1): no packet for the idle timeout.
    IdleTimeout = 1,
    /// active timeout (2): the flow lasted longer than the active timeout.
    ActiveTimeout = 2,
    /// end of Flow detected (3): TCP FIN or RST, after the grace period.
    EndOfFlow = 3,
    /// forced end (4): end of input or shutdown.
    ForcedEnd = 4,
    /// lack of resources (5): the cache was full and this was its oldest flow.
    LackOfResources = 5,
}

impl EndReason {
    /// Every reason, in registry order.
    pub const ALL: [EndReason; 5] = [
        EndReason::IdleTimeout,
        EndReason::ActiveTimeout,
        EndReason::EndOfFlow,
        EndReason::ForcedEnd,
        EndReason::LackOfResources,
    ];

    /// The short name used in CSV/JSON output and statistics.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::IdleTimeout => "idle",
            EndReason::ActiveTimeout => "active",
            EndReason::EndOfFlow => "end_of_flow",
            EndReason::ForcedEnd => "forced_end",
            EndReason::LackOfResources => "lack_of_resources",
        }
    }

    /// The IPFIX `flowEndReason` value.
    pub fn ipfix_value(self) -> u8 {
        self as u8
    }
}

/// One exported flow: the key and what was counted for it. Counters are 64-bit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowRecord {
    /// The flow key.
    pub key: FlowKey,
    /// Time of the first packet.
    pub start: Timestamp,
    /// Time of the last packet.
    pub end: Timestamp,
    /// Packets counted.
    pub packets: u64,
    /// Octets counted: IP header plus payload, as NetFlow counts them (no layer 2).
    pub octets: u64,
    /// OR of the TCP flags of every packet (0 for other protocols).
    pub tcp_flags: u8,
    /// Lowest IPv4 TTL / IPv6 hop limit seen.
    pub min_ttl: u8,
    /// Highest IPv4 TTL / IPv6 hop limit seen.
    pub max_ttl: u8,
    /// Source MAC of the first packet (zero when the link has none).
    pub src_mac: [u8; 6],
    /// Destination MAC of the first packet (zero when the link has none).
    pub dst_mac: [u8; 6],
    /// Why the record was exported.
    pub end_reason: EndReason,
    /// The tunnel the flow was decapsulated from (`kind == None` when not tunneled).
    pub tunnel: Tunnel,
    /// Which way the flow crossed the monitored link, from the direction rules.
    pub direction: FlowDirection,
    /// Egress interface from the direction rules, 0 when unknown.
    pub egress_if: u32,
    /// The reverse direction's counters when the cache meters biflows (RFC 5103):
    /// `Some` on every record of a biflow cache (with zero packets when no reverse
    /// packet was seen), `None` in a uniflow cache. The key is the initiator's direction.
    pub reverse: Option<ReverseCounters>,
}

/// What a biflow record counted for the reverse direction (the responder to initiator).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReverseCounters {
    /// Time of the first reverse packet (meaningless when `packets == 0`).
    pub start: Timestamp,
    /// Time of the last reverse packet (meaningless when `packets == 0`).
    pub end: Timestamp,
    /// Reverse packets.
    pub packets: u64,
    /// Reverse octets (IP header plus payload).
    pub octets: u64,
    /// OR of the reverse TCP flags.
    pub tcp_flags: u8,
    /// Lowest reverse TTL / hop limit (meaningless when `packets == 0`).
    pub min_ttl: u8,
    /// Highest reverse TTL / hop limit.
    pub max_ttl: u8,
}

/// Which way a flow crossed the monitored link (IPFIX `flowDirection`, IE 61, where
/// 0 is ingress and 1 egress). `Unknown` when no direction rule decided.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum FlowDirection {
    /// No rule decided (no rules configured, or the flow matched none).
    #[default]
    Unknown,
    /// Into the monitored network (IPFIX value 0).
    Ingress,
    /// Out of the monitored network (IPFIX value 1).
    Egress,
}

impl FlowDirection {
    /// The IPFIX `flowDirection` value; `None` for `Unknown`.
    pub fn ipfix_value(self) -> Option<u8> {
        match self {
            FlowDirection::Unknown => None,
            FlowDirection::Ingress => Some(0),
            FlowDirection::Egress => Some(1),
        }
    }

    /// The name used in CSV and JSON output.
    pub fn name(self) -> &'static str {
        match self {
            FlowDirection::Unknown => "unknown",
            FlowDirection::Ingress => "ingress",
            FlowDirection::Egress => "egress",
        }
    }
}
