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

impl FlowRecord {
    /// A record of `key` from `start` to `end` with nothing counted: no packets, TTLs 0,
    /// no MACs, no tunnel, direction unknown, no reverse part, ended by idle timeout.
    /// Fixtures fill in what they need: `FlowRecord { packets: 3, ..FlowRecord::new(..) }`.
    pub fn new(key: FlowKey, start: Timestamp, end: Timestamp) -> FlowRecord {
        FlowRecord {
            key,
            start,
            end,
            packets: 0,
            octets: 0,
            tcp_flags: 0,
            min_ttl: 0,
            max_ttl: 0,
            src_mac: [0; 6],
            dst_mac: [0; 6],
            end_reason: EndReason::IdleTimeout,
            tunnel: Tunnel::default(),
            direction: FlowDirection::Unknown,
            egress_if: 0,
            reverse: None,
        }
    }

    /// The record as uniflow records, for outputs that do not export biflows (RFC 5103
    /// biflows are split back into their two directions), so every output counts every
    /// packet exactly once whichever mode the cache meters in.
    ///
    /// A uniflow record (`reverse == None`) is returned as it is. A biflow gives up to two:
    /// - the forward direction, if it has packets: the record without its reverse part;
    /// - the reverse direction, if it has packets: the reversed key ([`FlowKey::reversed`]),
    ///   the reverse counters, the MACs swapped (on the monitored link the reverse packets
    ///   travel between the same two stations), the direction flipped (ingress and egress)
    ///   and, when the egress interface is known, the ingress and egress interfaces
    ///   swapped, and the tunnel as the reverse packets most likely had it: the same kind
    ///   and segment id (VNI, GRE key, ERSPAN session: both directions share it), the id
    ///   0 when it is per direction (a GTP-U TEID: the reverse one is not kept), and the
    ///   outer addresses swapped, as the two directions of GTP-U, IP-in-IP, GRE and VXLAN
    ///   overlays travel in the shared captures, except for ERSPAN, whose mirror session
    ///   sends both directions from the same switch. (Cloud mirroring over VXLAN or
    ///   Geneve also sends both from one source; a biflow keeps only its first packet's
    ///   tunnel, so its reverse half's outer addresses are inferred, not seen.)
    ///
    /// An ICMP message with no reply type has no reversed key and so cannot pair into a
    /// biflow with reverse packets; should one come anyway, its reverse record gets the
    /// addresses swapped and the type and code kept, so no packet is lost.
    pub fn uniflows(&self) -> impl Iterator<Item = FlowRecord> {
        let Some(rev) = self.reverse else {
            return [Some(*self), None].into_iter().flatten();
        };
        let forward = (self.packets > 0).then_some(FlowRecord {
            reverse: None,
            ..*self
        });
        let reverse = (rev.packets > 0).then(|| {
            let mut key = self.key.reversed().unwrap_or_else(|| {
                let mut k = self.key;
                k.src = self.key.dst;
                k.dst = self.key.src;
                k
            });
            let (mut in_if, mut egress_if) = (self.key.in_if, self.egress_if);
            if egress_if != 0 {
                std::mem::swap(&mut in_if, &mut egress_if);
            }
            key.in_if = in_if;
            let tunnel = if rev.tunnel.is_some() {
                rev.tunnel
            } else {
                self.tunnel.mirrored()
            };
            FlowRecord {
                key,
                start: rev.start,
                end: rev.end,
                packets: rev.packets,
                octets: rev.octets,
                tcp_flags: rev.tcp_flags,
                min_ttl: rev.min_ttl,
                max_ttl: rev.max_ttl,
                src_mac: self.dst_mac,
                dst_mac: self.src_mac,
                end_reason: self.end_reason,
                tunnel,
                direction: self.direction.flipped(),
                egress_if,
                reverse: None,
            }
        });
        [forward, reverse].into_iter().flatten()
    }
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
    /// The tunnel of the first reverse packet (`kind == None` when not tunneled). When
    /// the record is tunneled but no reverse packet came, it is inferred from the
    /// forward one (`Tunnel::mirrored`).
    pub tunnel: Tunnel,
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

    /// The other direction: ingress and egress swapped, unknown stays unknown.
    pub fn flipped(self) -> FlowDirection {
        match self {
            FlowDirection::Unknown => FlowDirection::Unknown,
            FlowDirection::Ingress => FlowDirection::Egress,
            FlowDirection::Egress => FlowDirection::Ingress,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::{PROTO_ICMP, PROTO_TCP};
    use crate::flow::tunnel::{Tunnel, TunnelKind};
    use crate::time::Timestamp;

    fn biflow(fwd: u64, rev: u64) -> FlowRecord {
        let mut key = FlowKey {
            proto: PROTO_TCP,
            src_port: 40000,
            dst_port: 443,
            in_if: 1,
            vlan: 7,
            ..Default::default()
        };
        key.set_addrs(
            "192.0.2.1".parse().unwrap(),
            "198.51.100.2".parse().unwrap(),
        );
        FlowRecord {
            key,
            start: Timestamp::from_secs_nanos(100, 0),
            end: Timestamp::from_secs_nanos(105, 0),
            packets: fwd,
            octets: fwd * 100,
            tcp_flags: 0x02,
            min_ttl: 60,
            max_ttl: 64,
            src_mac: [2, 0, 0, 0, 0, 1],
            dst_mac: [2, 0, 0, 0, 0, 2],
            end_reason: EndReason::EndOfFlow,
            tunnel: Tunnel {
                kind: TunnelKind::Vxlan,
                id: 5000,
                outer_ip_version: 4,
                outer_src: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                outer_dst: [10, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            },
            direction: FlowDirection::Egress,
            egress_if: 9,
            reverse: Some(ReverseCounters {
                start: Timestamp::from_secs_nanos(101, 0),
                end: Timestamp::from_secs_nanos(104, 0),
                packets: rev,
                octets: rev * 1000,
                tcp_flags: 0x12,
                min_ttl: 50,
                max_ttl: 55,
                tunnel: Default::default(),
            }),
        }
    }

    #[test]
    fn a_biflow_splits_into_its_two_directions() {
        let b = biflow(3, 2);
        let u: Vec<FlowRecord> = b.uniflows().collect();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0], FlowRecord { reverse: None, ..b });
        let r = u[1];
        assert_eq!(
            r.key,
            FlowKey {
                in_if: 9,
                ..b.key.reversed().unwrap()
            }
        );
        assert_eq!((r.packets, r.octets, r.tcp_flags), (2, 2000, 0x12));
        assert_eq!(
            (r.start, r.end, r.min_ttl, r.max_ttl),
            (
                Timestamp::from_secs_nanos(101, 0),
                Timestamp::from_secs_nanos(104, 0),
                50,
                55
            )
        );
        assert_eq!((r.src_mac, r.dst_mac), (b.dst_mac, b.src_mac));
        assert_eq!((r.direction, r.egress_if), (FlowDirection::Ingress, 1));
        // A VNI is shared by both directions; the outer addresses are swapped.
        assert_eq!((r.tunnel.kind, r.tunnel.id), (TunnelKind::Vxlan, 5000));
        assert_eq!(
            (r.tunnel.outer_src, r.tunnel.outer_dst),
            (b.tunnel.outer_dst, b.tunnel.outer_src)
        );
        // A TEID is per direction: the reverse one is unknown. ERSPAN is not swapped.
        let mut g = biflow(1, 1);
        g.tunnel.kind = TunnelKind::GtpU;
        assert_eq!(g.uniflows().nth(1).unwrap().tunnel.id, 0);
        g.tunnel.kind = TunnelKind::Erspan;
        assert_eq!(g.uniflows().nth(1).unwrap().tunnel, g.tunnel);
        assert_eq!(r.reverse, None);
    }

    #[test]
    fn empty_directions_are_left_out_and_counts_are_conserved() {
        assert_eq!(biflow(3, 0).uniflows().count(), 1);
        let only_reverse: Vec<FlowRecord> = biflow(0, 4).uniflows().collect();
        assert_eq!(only_reverse.len(), 1);
        assert_eq!(only_reverse[0].key.src_port, 443);
        // Interfaces stay when the egress interface is unknown.
        let mut b = biflow(1, 1);
        b.egress_if = 0;
        let r = b.uniflows().nth(1).unwrap();
        assert_eq!((r.key.in_if, r.egress_if), (1, 0));
        // A uniflow record is itself.
        let u = FlowRecord {
            reverse: None,
            ..biflow(5, 0)
        };
        assert_eq!(u.uniflows().collect::<Vec<_>>(), vec![u]);
        // An ICMP error cannot pair, but a reverse count is never dropped.
        let mut e = biflow(1, 2);
        e.key.proto = PROTO_ICMP;
        e.key.src_port = 0;
        e.key.dst_port = 3 << 8 | 1;
        assert_eq!(e.key.reversed(), None);
        let parts: Vec<FlowRecord> = e.uniflows().collect();
        assert_eq!(parts.iter().map(|r| r.packets).sum::<u64>(), 3);
        assert_eq!(parts[1].key.src, e.key.dst);
        assert_eq!(parts[1].key.dst_port, 3 << 8 | 1);
    }
}
