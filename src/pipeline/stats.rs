//! Counters of a run, and the closing summary people read.
//!
//! The invariant they hold: every packet read is counted exactly once, as metered,
//! filtered, sampled out or undecodable (with its reason), and the packets summed over
//! exported records equal the packets metered.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::decode::Undecodable;
use crate::flow::record::EndReason;
use crate::flow::tunnel::TunnelKind;

/// Counters of one worker, or of a whole run once added up.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames handed to the worker.
    pub read: u64,
    /// Frames metered into a record.
    pub metered: u64,
    /// Octets metered (IP header plus payload).
    pub metered_octets: u64,
    /// Frames dropped by the capture filter.
    pub filtered: u64,
    /// Frames not metered because sampling left them out.
    pub sampled_out: u64,
    /// Frames that yielded no flow, by reason (indexed like `Undecodable::ALL`).
    pub undecodable: [u64; Undecodable::ALL.len()],
    /// Frames on link types flowprobe does not decode, by link type.
    pub unsupported_link_types: BTreeMap<u32, u64>,
    /// Records created.
    pub flows_created: u64,
    /// Records ended, by end reason (index = IPFIX flowEndReason - 1).
    pub flows_ended: [u64; 5],
    /// Records held at the time the counters were taken.
    pub active_flows: u64,
    /// Packets whose timestamp went backwards (clamped to the newest seen).
    pub clamped_timestamps: u64,
    /// Later IP fragments whose first fragment was not seen (metered without ports).
    pub fragments_unmatched: u64,
    /// Packets metered by their inner packet, by tunnel kind (index = `TunnelKind`
    /// number; index 0, no tunnel, stays 0). Part of `metered`, not beside it.
    pub decapsulated: [u64; 8],
    /// Packets sampled for sFlow collectors (all of them together; every packet read
    /// was also counted above: sFlow samples beside the flow cache).
    pub sflow_samples: u64,
    /// Frames whose sFlow sample could not be taken: a link type sFlow has no header
    /// protocol for (the turn passed to the next frame).
    pub sflow_unsampleable: u64,
    /// Payload inspection (`--inspect`): messages read and errors, by protocol.
    pub inspect: crate::inspect::InspectStats,
}

impl Counters {
    /// Counts one undecodable frame.
    pub fn count_undecodable(&mut self, reason: Undecodable) {
        if let Some(i) = Undecodable::ALL.iter().position(|&r| r == reason) {
            self.undecodable[i] += 1;
        }
    }

    /// All undecodable frames.
    pub fn undecodable_total(&self) -> u64 {
        self.undecodable.iter().sum()
    }

    /// Records ended for `reason`.
    pub fn ended(&self, reason: EndReason) -> u64 {
        self.flows_ended[reason as usize - 1]
    }

    /// Adds another worker's counters into these.
    pub fn add(&mut self, other: &Counters) {
        self.read += other.read;
        self.metered += other.metered;
        self.metered_octets += other.metered_octets;
        self.filtered += other.filtered;
        self.sampled_out += other.sampled_out;
        for (a, b) in self.undecodable.iter_mut().zip(other.undecodable) {
            *a += b;
        }
        for (lt, n) in &other.unsupported_link_types {
            *self.unsupported_link_types.entry(*lt).or_default() += n;
        }
        self.flows_created += other.flows_created;
        for (a, b) in self.flows_ended.iter_mut().zip(other.flows_ended) {
            *a += b;
        }
        self.active_flows += other.active_flows;
        self.clamped_timestamps += other.clamped_timestamps;
        self.fragments_unmatched += other.fragments_unmatched;
        for (a, b) in self.decapsulated.iter_mut().zip(other.decapsulated) {
            *a += b;
        }
        self.sflow_samples += other.sflow_samples;
        self.sflow_unsampleable += other.sflow_unsampleable;
        self.inspect.add(&other.inspect);
    }

    /// Whether every packet read is accounted for exactly once.
    pub fn conserved(&self) -> bool {
        self.read == self.metered + self.filtered + self.sampled_out + self.undecodable_total()
    }

    /// The closing summary, one fact a line.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "packets read          {:>12}", self.read);
        let _ = writeln!(
            s,
            "  metered             {:>12}  ({} octets)",
            self.metered, self.metered_octets
        );
        if self.filtered > 0 {
            let _ = writeln!(s, "  filtered            {:>12}", self.filtered);
        }
        if self.sampled_out > 0 {
            let _ = writeln!(s, "  sampled out         {:>12}", self.sampled_out);
        }
        for kind in TunnelKind::ALL {
            let n = self.decapsulated[kind as usize];
            if n > 0 {
                let _ = writeln!(s, "    from {:<18}{:>10}", kind.name(), n);
            }
        }
        let _ = writeln!(s, "  undecodable         {:>12}", self.undecodable_total());
        for (reason, n) in Undecodable::ALL.iter().zip(self.undecodable) {
            if n > 0 {
                let _ = writeln!(s, "    {:<22}{:>10}", reason.name(), n);
            }
        }
        for (lt, n) in &self.unsupported_link_types {
            let _ = writeln!(
                s,
                "      link type {:<12}{:>10}",
                format!("{} ({})", lt, link_type_name(*lt)),
                n
            );
        }
        let exported: u64 = self.flows_ended.iter().sum();
        let _ = writeln!(s, "flows exported        {:>12}", exported);
        for reason in EndReason::ALL {
            let n = self.ended(reason);
            if n > 0 {
                let _ = writeln!(s, "  {:<20}{:>12}", reason.name(), n);
            }
        }
        if self.clamped_timestamps > 0 {
            let _ = writeln!(
                s,
                "timestamps clamped    {:>12}  (went backwards)",
                self.clamped_timestamps
            );
        }
        if self.fragments_unmatched > 0 {
            let _ = writeln!(
                s,
                "fragments w/o first   {:>12}  (metered without ports)",
                self.fragments_unmatched
            );
        }
        if self.sflow_samples > 0 || self.sflow_unsampleable > 0 {
            let _ = writeln!(s, "sFlow samples         {:>12}", self.sflow_samples);
            if self.sflow_unsampleable > 0 {
                let _ = writeln!(
                    s,
                    "  not describable     {:>12}  (link type without an sFlow header protocol)",
                    self.sflow_unsampleable
                );
            }
        }
        let inspect = &self.inspect;
        if inspect.connections > 0 || inspect.table_full > 0 {
            let _ = writeln!(s, "connections inspected {:>12}", inspect.connections);
            for p in crate::inspect::Protocol::ALL {
                let (found, errors) = (inspect.found[p as usize], inspect.errors[p as usize]);
                if found > 0 || errors > 0 {
                    let _ = writeln!(s, "  {:<20}{:>12}  ({} errors)", p.name(), found, errors);
                }
            }
            if inspect.table_full > 0 {
                let _ = writeln!(
                    s,
                    "  not inspected       {:>12}  (inspection table full)",
                    inspect.table_full
                );
            }
        }
        s
    }
}

/// A few well-known LINKTYPE_* names, for the summary.
pub fn link_type_name(link_type: u32) -> &'static str {
    match link_type {
        0 => "NULL",
        1 => "EN10MB",
        6 => "IEEE802",
        9 => "PPP",
        50 => "PPP_HDLC",
        101 => "RAW",
        104 => "C_HDLC",
        105 => "IEEE802_11",
        108 => "LOOP",
        113 => "LINUX_SLL",
        119 => "PRISM",
        127 => "IEEE802_11_RADIOTAP",
        143 => "DOCSIS",
        195 => "IEEE802_15_4",
        228 => "IPV4",
        229 => "IPV6",
        239 => "NFLOG",
        249 => "USBPCAP",
        276 => "LINUX_SLL2",
        _ => "unknown",
    }
}
