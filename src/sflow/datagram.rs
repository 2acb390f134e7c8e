//! The sFlow v5 datagram, XDR-encoded (sflow_version_5.txt; every field big-endian,
//! 4-byte aligned, opaque data padded to a multiple of 4).
//!
//! ```text
//! datagram      version 5 | agent address (type 1 IPv4 / 2 IPv6, address) | sub_agent_id
//!               | sequence_number | uptime (ms) | sample count | samples
//! sample        data_format (enterprise << 12 | format) | length | sample data
//! flow sample   (0:3, expanded) sequence_number | source_id type, index | sampling_rate
//!               | sample_pool | drops | input type, value | output type, value
//!               | record count | flow records
//! counters      (0:4, expanded) sequence_number | source_id type, index | record count
//!               | counter records
//! flow records  0:1 sampled_header (protocol, frame_length, stripped, header<>)
//!               0:1001 extended_switch (src_vlan, src_priority, dst_vlan, dst_priority)
//! counter rec.  0:1 if_counters (88 octets)
//! ```
//!
//! [`Datagram`] writes into a buffer it keeps between datagrams, so the sink allocates
//! nothing per sample; it never grows a datagram past the size it was given.

use std::net::IpAddr;

use super::{CounterSample, IfCounters, PacketSample};

/// sFlow version.
pub const VERSION: u32 = 5;
/// Expanded flow sample (enterprise 0, format 3).
pub const FLOW_SAMPLE_EXPANDED: u32 = 3;
/// Expanded counter sample (enterprise 0, format 4).
pub const COUNTER_SAMPLE_EXPANDED: u32 = 4;
/// Flow record: raw packet header (enterprise 0, format 1).
pub const RECORD_SAMPLED_HEADER: u32 = 1;
/// Flow record: extended switch data (enterprise 0, format 1001).
pub const RECORD_EXTENDED_SWITCH: u32 = 1001;
/// Counter record: generic interface counters (enterprise 0, format 1).
pub const RECORD_IF_COUNTERS: u32 = 1;
/// Octets of the generic interface counters record's data.
pub const IF_COUNTERS_LEN: usize = 88;

/// Octets of a flow sample with `header` header bytes and with or without the switch
/// record, sample header (format and length) included.
pub fn flow_sample_len(header: usize, switch: bool) -> usize {
    let sampled_header = 8 + 16 + padded(header);
    let extended_switch = if switch { 8 + 16 } else { 0 };
    8 + 44 + sampled_header + extended_switch
}

/// Octets of a counter sample with the interface counters, sample header included.
pub const COUNTER_SAMPLE_LEN: usize = 8 + 16 + 8 + IF_COUNTERS_LEN;

fn padded(n: usize) -> usize {
    n.div_ceil(4) * 4
}

/// One datagram being filled.
#[derive(Debug)]
pub struct Datagram {
    buf: Vec<u8>,
    samples: u32,
    /// Where the sample count is (after the agent address).
    count_at: usize,
    max: usize,
}

impl Datagram {
    /// An empty datagram of at most `max` octets (a buffer reused by `start`).
    pub fn new(max: usize) -> Datagram {
        Datagram {
            buf: Vec::with_capacity(max),
            samples: 0,
            count_at: 0,
            max,
        }
    }

    /// Octets of the datagram header for `agent`.
    pub fn header_len(agent: IpAddr) -> usize {
        match agent {
            IpAddr::V4(_) => 28,
            IpAddr::V6(_) => 40,
        }
    }

    /// Begins a datagram: the header with no samples yet.
    pub fn start(&mut self, agent: IpAddr, sub_agent: u32, sequence: u32, uptime_ms: u32) {
        self.buf.clear();
        self.samples = 0;
        self.put(VERSION);
        match agent {
            IpAddr::V4(a) => {
                self.put(1);
                self.buf.extend_from_slice(&a.octets());
            }
            IpAddr::V6(a) => {
                self.put(2);
                self.buf.extend_from_slice(&a.octets());
            }
        }
        self.put(sub_agent);
        self.put(sequence);
        self.put(uptime_ms);
        self.count_at = self.buf.len();
        self.put(0);
    }

    /// Samples in the datagram.
    pub fn samples(&self) -> u32 {
        self.samples
    }

    /// Whether `len` more octets fit.
    pub fn fits(&self, len: usize) -> bool {
        self.buf.len() + len <= self.max
    }

    /// The datagram as it stands, sample count filled in.
    pub fn bytes(&mut self) -> &[u8] {
        let count = self.samples.to_be_bytes();
        if let Some(at) = self.buf.get_mut(self.count_at..self.count_at + 4) {
            at.copy_from_slice(&count);
        }
        &self.buf
    }

    fn put(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    fn put64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// Appends an expanded flow sample with its sampled header and, for a tagged frame,
    /// its extended switch record. The caller checked it fits (`flow_sample_len`).
    pub fn flow_sample(&mut self, sequence: u32, sample: &PacketSample, header: &[u8]) {
        let len = flow_sample_len(header.len(), sample.vlan.is_some());
        self.put(FLOW_SAMPLE_EXPANDED);
        self.put((len - 8) as u32);
        self.put(sequence);
        self.put(0); // source_id type 0: ifIndex
        self.put(sample.source);
        self.put(sample.rate);
        self.put(sample.sample_pool);
        self.put(sample.drops);
        self.put(0); // input: ifIndex format
        self.put(sample.source);
        self.put(0); // output: ifIndex format, 0 = unknown
        self.put(0);
        self.put(1 + u32::from(sample.vlan.is_some()));
        self.put(RECORD_SAMPLED_HEADER);
        self.put((16 + padded(header.len())) as u32);
        self.put(sample.protocol as u32);
        self.put(sample.frame_length);
        self.put(sample.stripped);
        self.put(header.len() as u32);
        self.buf.extend_from_slice(header);
        self.buf
            .resize(self.buf.len() + padded(header.len()) - header.len(), 0);
        if let Some((vlan, priority)) = sample.vlan {
            self.put(RECORD_EXTENDED_SWITCH);
            self.put(16);
            for v in [vlan, u16::from(priority), vlan, u16::from(priority)] {
                self.put(u32::from(v));
            }
        }
        self.samples += 1;
    }

    /// Appends an expanded counter sample with the generic interface counters. The
    /// caller checked it fits (`COUNTER_SAMPLE_LEN`).
    pub fn counter_sample(&mut self, sequence: u32, sample: &CounterSample) {
        self.put(COUNTER_SAMPLE_EXPANDED);
        self.put((COUNTER_SAMPLE_LEN - 8) as u32);
        self.put(sequence);
        self.put(0); // source_id type 0: ifIndex
        self.put(sample.source);
        self.put(1);
        self.put(RECORD_IF_COUNTERS);
        self.put(IF_COUNTERS_LEN as u32);
        let c: &IfCounters = &sample.counters;
        self.put(c.if_index);
        self.put(c.if_type);
        self.put64(c.if_speed);
        self.put(c.if_direction);
        self.put(c.if_status);
        self.put64(c.in_octets);
        for v in [
            c.in_ucast,
            c.in_multicast,
            c.in_broadcast,
            c.in_discards,
            c.in_errors,
            c.in_unknown_protos,
        ] {
            self.put(v);
        }
        self.put64(c.out_octets);
        for v in [
            c.out_ucast,
            c.out_multicast,
            c.out_broadcast,
            c.out_discards,
            c.out_errors,
            c.promiscuous,
        ] {
            self.put(v);
        }
        self.samples += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::super::HeaderProtocol;
    use super::*;

    fn words(bytes: &[u8]) -> Vec<u32> {
        bytes
            .chunks(4)
            .map(|c| u32::from_be_bytes(c.try_into().unwrap()))
            .collect()
    }

    /// A flow sample with a 6-byte header and a VLAN tag, word by word as
    /// sflow_version_5.txt lays it out.
    #[test]
    fn flow_sample_bytes_follow_the_specification() {
        let mut d = Datagram::new(1452);
        d.start("192.0.2.7".parse().unwrap(), 3, 9, 60_000);
        let sample = PacketSample {
            collector: 0,
            source: 5,
            rate: 400,
            sample_pool: 8000,
            drops: 2,
            protocol: HeaderProtocol::Ethernet,
            frame_length: 1518,
            stripped: 0,
            header: 0..6,
            vlan: Some((100, 5)),
        };
        d.flow_sample(17, &sample, &[1, 2, 3, 4, 5, 6]);
        assert_eq!(d.samples(), 1);
        let bytes = d.bytes().to_vec();
        assert_eq!(bytes.len(), 28 + flow_sample_len(6, true));
        #[rustfmt::skip]
        let expected = [
            5, 1, 0xc000_0207, 3, 9, 60_000, 1, // version, IPv4 agent, sub-agent, seq, uptime, 1 sample
            3, 44 + 32 + 24,                    // expanded flow sample, its length
            17, 0, 5, 400, 8000, 2,             // seq, source ifIndex 5, rate, pool, drops
            0, 5, 0, 0,                         // input ifIndex 5, output unknown
            2,                                  // two records
            1, 16 + 8,                          // sampled header, its length
            1, 1518, 0, 6,                      // Ethernet, frame length, stripped, header length
            0x0102_0304, 0x0506_0000,           // header bytes, padded
            1001, 16, 100, 5, 100, 5,           // extended switch
        ];
        assert_eq!(words(&bytes), expected);
    }

    #[test]
    fn counter_sample_bytes_follow_the_specification() {
        let mut d = Datagram::new(1452);
        d.start("2001:db8::1".parse().unwrap(), 0, 1, 0);
        let counters = IfCounters {
            if_index: 4,
            if_type: 6,
            if_speed: 10_000_000_000,
            if_direction: 1,
            if_status: 3,
            in_octets: (7 << 32) + 8,
            in_ucast: 9,
            in_multicast: 10,
            in_broadcast: 11,
            in_discards: 12,
            in_errors: 13,
            in_unknown_protos: 14,
            out_octets: 15,
            out_ucast: 16,
            out_multicast: 17,
            out_broadcast: 18,
            out_discards: 19,
            out_errors: 20,
            promiscuous: 2,
        };
        d.counter_sample(
            6,
            &CounterSample {
                source: 4,
                counters,
            },
        );
        let bytes = d.bytes().to_vec();
        assert_eq!(bytes.len(), 40 + COUNTER_SAMPLE_LEN);
        #[rustfmt::skip]
        let expected = [
            5, 2, 0x2001_0db8, 0, 0, 1, 0, 1, 0, 1, // version, IPv6 agent, sub-agent 0, seq 1, uptime 0, 1 sample
            4, 16 + 8 + 88,                        // expanded counter sample, its length
            6, 0, 4, 1,                            // seq, source ifIndex 4, one record
            1, 88,                                 // generic interface counters
            4, 6, 2, 0x540b_e400, 1, 3,            // ifIndex, type, speed (64 bits), direction, status
            7, 8, 9, 10, 11, 12, 13, 14,           // in octets (64 bits), ucast .. unknown protos
            0, 15, 16, 17, 18, 19, 20, 2,          // out octets (64 bits), ucast .. errors, promiscuous
        ];
        assert_eq!(words(&bytes), expected);
    }

    #[test]
    fn sizes_are_what_is_written() {
        for n in 0..=256 {
            for switch in [false, true] {
                let mut d = Datagram::new(2000);
                d.start("0.0.0.0".parse().unwrap(), 0, 0, 0);
                let header = vec![0xab; n];
                let sample = PacketSample {
                    collector: 0,
                    source: 0,
                    rate: 1,
                    sample_pool: 1,
                    drops: 0,
                    protocol: HeaderProtocol::Ipv4,
                    frame_length: n as u32,
                    stripped: 0,
                    header: 0..n as u32,
                    vlan: switch.then_some((1, 0)),
                };
                assert!(d.fits(flow_sample_len(n, switch)));
                d.flow_sample(0, &sample, &header);
                assert_eq!(d.bytes().len(), 28 + flow_sample_len(n, switch));
                assert_eq!(d.bytes().len() % 4, 0);
            }
        }
    }
}
