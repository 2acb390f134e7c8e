//! The flow record: what the cache accumulates for one key and the exporters send.

use super::key::FlowKey;
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
}
