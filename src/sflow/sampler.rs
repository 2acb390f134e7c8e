//! The sFlow packet sampler of one capture thread (a sub-agent).
//!
//! For each sFlow collector and each data source, a skip count: the packets to pass
//! before the next sample. After each sample it is drawn anew, uniformly from 1 to
//! 2N - 1, so its mean is N and samples are not locked to any period in the traffic
//! (sflow_version_5.txt, section 4.2, "random number of packets to skip"). A fixed-seed
//! generator per sub-agent makes a conversion give the same samples every run.
//!
//! Data sources are the interfaces the thread reads (pcapng interfaces, the ifindex
//! live), usually one: found by a short linear search that starts at the last one.
//!
//! The sampler sees every packet the thread reads, before decoding and before any flow
//! sampling, so the sample pool is every packet. A frame whose link type sFlow has no
//! header protocol for (anything but Ethernet, raw IP, and cooked or loopback headers
//! in front of IPv4 or IPv6) is counted in the pool but cannot be sent: its turn passes
//! to the next frame, and it is counted in `unsampleable`.

use crossbeam_channel::Sender;

use super::{CounterSample, HeaderProtocol, IfCounters, PacketSample, SampleBatch};
use crate::capture::Packet;
use crate::decode::{
    DLT_RAW_12, DLT_RAW_14, LINKTYPE_ETHERNET, LINKTYPE_IPV4, LINKTYPE_IPV6, LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2, LINKTYPE_LOOP, LINKTYPE_NULL, LINKTYPE_RAW,
};
use crate::export::collector::SflowParams;
use crate::flow::sampling::splitmix64;
use crate::pipeline::exporter::ExportMessage;
use crate::time::Timestamp;

/// Samples gathered before the batch goes to the exporter thread (it goes at every tick
/// of the capture thread too).
const BATCH: usize = 256;

/// The sampling state of one data source.
#[derive(Debug)]
struct Source {
    if_index: u32,
    /// Per collector: packets left until the next sample, this one included (at least
    /// 1 between packets; the packet that brings it to 0 is sampled).
    skip: Vec<u32>,
    /// Packets seen: every collector's sample pool, since each sees every packet.
    pool: u32,
    /// Offline: the interface counters summed from the capture.
    counters: IfCounters,
    /// Offline: when the next counter sample is due.
    next_poll: Timestamp,
}

/// The sampler of one sub-agent.
#[derive(Debug)]
pub struct SflowSampler {
    collectors: Vec<SflowParams>,
    sources: Vec<Source>,
    last_source: usize,
    state: u64,
    drops: u32,
    /// Offline: counter samples every this many nanoseconds of packet time, summed from
    /// the capture (None: live, where the sinks read the kernel's counters).
    capture_polling: Option<u64>,
    batch: SampleBatch,
    exporter: Option<Sender<ExportMessage>>,
    newest: Timestamp,
    unsampleable: u64,
    samples: u64,
}

impl SflowSampler {
    /// A sampler for sub-agent `sub_agent`, sampling for `collectors` (rate and header
    /// size of each, in the order of the sFlow collectors) and sending its samples to
    /// `exporter`. `capture_polling`: offline, send interface counters summed from the
    /// capture this often (packet time); None live.
    pub fn new(
        collectors: Vec<SflowParams>,
        sub_agent: u32,
        capture_polling: Option<std::time::Duration>,
        exporter: Sender<ExportMessage>,
    ) -> SflowSampler {
        SflowSampler {
            collectors,
            sources: Vec::new(),
            last_source: 0,
            state: u64::from(sub_agent) ^ 0x5f10_3c0d_e3b9_a7e1,
            drops: 0,
            capture_polling: capture_polling
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
                .filter(|&n| n > 0),
            batch: SampleBatch {
                sub_agent,
                ..SampleBatch::default()
            },
            exporter: Some(exporter),
            newest: Timestamp::ZERO,
            unsampleable: 0,
            samples: 0,
        }
    }

    /// Sets the packets lost so far before the sampler (the kernel's drop counter).
    pub fn set_drops(&mut self, drops: u64) {
        self.drops = drops as u32;
    }

    /// Packet samples taken so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// Frames whose turn came but which sFlow cannot describe (see the module docs).
    pub fn unsampleable(&self) -> u64 {
        self.unsampleable
    }

    /// A skip count uniform in 1..=2N-1 (mean N; always 1 for N = 1).
    fn draw(&mut self, rate: u32) -> u32 {
        let span = 2 * u64::from(rate.max(1)) - 1;
        (1 + splitmix64(&mut self.state) % span) as u32
    }

    fn source(&mut self, if_index: u32, ts: Timestamp) -> usize {
        if self
            .sources
            .get(self.last_source)
            .is_some_and(|s| s.if_index == if_index)
        {
            return self.last_source;
        }
        let i = match self.sources.iter().position(|s| s.if_index == if_index) {
            Some(i) => i,
            None => {
                let skip = (0..self.collectors.len())
                    .map(|c| self.draw(self.collectors[c].rate))
                    .collect();
                self.sources.push(Source {
                    if_index,
                    skip,
                    pool: 0,
                    counters: IfCounters::capture(if_index),
                    next_poll: Timestamp(
                        ts.0.saturating_add(self.capture_polling.unwrap_or(u64::MAX)),
                    ),
                });
                self.sources.len() - 1
            }
        };
        self.last_source = i;
        i
    }

    /// Sees one packet read by the thread.
    pub fn observe(&mut self, packet: &Packet<'_>) {
        self.newest = self.newest.max(packet.ts);
        let s = self.source(packet.interface, packet.ts);
        if let Some(polling) = self.capture_polling {
            self.count_for_polling(s, packet, polling);
        }
        let source = &mut self.sources[s];
        source.pool = source.pool.wrapping_add(1);
        // Most packets only count down; a collector whose count reaches 0 takes this one.
        let mut due = false;
        for skip in &mut source.skip {
            *skip -= 1;
            due |= *skip == 0;
        }
        if due {
            self.take_due(s, packet);
        }
        if self.batch.packets.len() >= BATCH {
            self.send();
        }
    }

    /// Samples `packet` for every collector whose turn it is (out of line: one packet in
    /// N comes here).
    #[cold]
    #[inline(never)]
    fn take_due(&mut self, s: usize, packet: &Packet<'_>) {
        let pool = self.sources[s].pool;
        for c in 0..self.collectors.len() {
            if self.sources[s].skip[c] != 0 {
                continue;
            }
            self.sources[s].skip[c] = if self.take(c, s, pool, packet) {
                self.draw(self.collectors[c].rate)
            } else {
                // Its turn passes to the next frame.
                self.unsampleable += 1;
                1
            };
        }
    }

    /// Offline: a counter sample when the polling interval has passed, then this frame
    /// counted.
    fn count_for_polling(&mut self, s: usize, packet: &Packet<'_>, polling: u64) {
        let source = &mut self.sources[s];
        if packet.ts >= source.next_poll {
            self.batch.counters.push(CounterSample {
                source: source.if_index,
                counters: source.counters.clone(),
            });
            // The next one on the interval's grid, skipping any that passed with no frame.
            let behind = (packet.ts.0 - source.next_poll.0) / polling + 1;
            source.next_poll = Timestamp(
                source
                    .next_poll
                    .0
                    .saturating_add(behind.saturating_mul(polling)),
            );
        }
        let dst_mac = (packet.link_type == LINKTYPE_ETHERNET)
            .then(|| packet.data.get(..6).and_then(|m| m.try_into().ok()))
            .flatten();
        source.counters.count_received(packet.orig_len, dst_mac);
    }

    /// Takes a sample of `packet` for collector `c`; false if sFlow cannot describe it.
    fn take(&mut self, c: usize, s: usize, pool: u32, packet: &Packet<'_>) -> bool {
        let Some((protocol, offset)) = header_protocol(packet.link_type, packet.data) else {
            return false;
        };
        let data = &packet.data[offset..];
        let limit = self.collectors[c].header_bytes as usize;
        let header = &data[..data.len().min(limit)];
        let vlan = if protocol == HeaderProtocol::Ethernet {
            outer_vlan(data)
        } else {
            None
        };
        // sflow_version_5.txt: for a layer-2 header protocol the frame length counts the
        // FCS, which captures do not carry, and octets so added count as stripped too (as
        // hsflowd and pmacct's sfprobe send them). A cooked or loopback link header,
        // which the header bytes leave out, is counted in both likewise.
        let fcs = if protocol == HeaderProtocol::Ethernet {
            4
        } else {
            0
        };
        let start = self.batch.headers.len() as u32;
        self.batch.headers.extend_from_slice(header);
        self.batch.packets.push(PacketSample {
            collector: c as u16,
            source: self.sources[s].if_index,
            rate: self.collectors[c].rate,
            sample_pool: pool,
            drops: self.drops,
            protocol,
            frame_length: packet.orig_len.saturating_add(fcs),
            stripped: offset as u32 + fcs,
            header: start..start + header.len() as u32,
            vlan,
        });
        self.samples += 1;
        true
    }

    /// Sends what is gathered to the exporter thread (at the capture thread's ticks).
    pub fn send(&mut self) {
        if self.batch.is_empty() {
            return;
        }
        let sub_agent = self.batch.sub_agent;
        let batch = std::mem::replace(
            &mut self.batch,
            SampleBatch {
                sub_agent,
                packets: Vec::with_capacity(BATCH),
                headers: Vec::with_capacity(BATCH * 128),
                counters: Vec::new(),
            },
        );
        if let Some(exporter) = &self.exporter {
            let _ = exporter.send(ExportMessage::Samples {
                batch,
                now: self.newest,
            });
        }
    }

    /// End of input: offline, a last counter sample of every interface (so the
    /// counters a collector holds add up to the whole capture); then everything is sent
    /// and the channel to the exporter closed.
    pub fn finish(&mut self) {
        if self.capture_polling.is_some() {
            for source in &self.sources {
                self.batch.counters.push(CounterSample {
                    source: source.if_index,
                    counters: source.counters.clone(),
                });
            }
        }
        self.send();
        self.exporter = None;
    }
}

/// What sFlow calls the bytes of a frame of `link_type`, and where they start (the
/// link header that is stripped): Ethernet from its first byte; raw IP; IPv4 or IPv6
/// behind a Linux cooked (SLL, SLL2) or BSD loopback header. None for anything else.
pub fn header_protocol(link_type: u32, frame: &[u8]) -> Option<(HeaderProtocol, usize)> {
    let ip_at = |offset: usize| -> Option<(HeaderProtocol, usize)> {
        match frame.get(offset)? >> 4 {
            4 => Some((HeaderProtocol::Ipv4, offset)),
            6 => Some((HeaderProtocol::Ipv6, offset)),
            _ => None,
        }
    };
    let ethertype_at = |at: usize, offset: usize| -> Option<(HeaderProtocol, usize)> {
        let ethertype = u16::from_be_bytes(frame.get(at..at + 2)?.try_into().ok()?);
        match ethertype {
            0x0800 | 0x86dd => ip_at(offset),
            _ => None,
        }
    };
    match link_type {
        LINKTYPE_ETHERNET => Some((HeaderProtocol::Ethernet, 0)),
        LINKTYPE_RAW | DLT_RAW_12 | DLT_RAW_14 | LINKTYPE_IPV4 | LINKTYPE_IPV6 => ip_at(0),
        LINKTYPE_LINUX_SLL => ethertype_at(14, 16),
        LINKTYPE_LINUX_SLL2 => ethertype_at(0, 20),
        LINKTYPE_NULL | LINKTYPE_LOOP => {
            // An address family in either byte order (see decode::link).
            let family = u32::from_le_bytes(frame.get(..4)?.try_into().ok()?);
            let family = if family & 0xffff_0000 != 0 {
                family.swap_bytes()
            } else {
                family
            };
            match family {
                2 | 10 | 24 | 28 | 30 => ip_at(4),
                _ => None,
            }
        }
        _ => None,
    }
}

/// The outermost 802.1Q (or 802.1ad) tag of an Ethernet frame: (VLAN id, priority).
fn outer_vlan(frame: &[u8]) -> Option<(u16, u8)> {
    let tpid = u16::from_be_bytes(frame.get(12..14)?.try_into().ok()?);
    if !matches!(tpid, 0x8100 | 0x88a8 | 0x9100) {
        return None;
    }
    let tci = u16::from_be_bytes(frame.get(14..16)?.try_into().ok()?);
    Some((tci & 0x0fff, (tci >> 13) as u8))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(rates: &[u32]) -> (SflowSampler, crossbeam_channel::Receiver<ExportMessage>) {
        let (tx, rx) = crossbeam_channel::unbounded();
        let collectors = rates
            .iter()
            .map(|&rate| SflowParams {
                rate,
                header_bytes: 20,
            })
            .collect();
        (SflowSampler::new(collectors, 1, None, tx), rx)
    }

    fn packet(data: &[u8], link_type: u32, ts: u64) -> Packet<'_> {
        Packet {
            ts: Timestamp(ts),
            link_type,
            interface: 7,
            data,
            orig_len: data.len() as u32 + 100,
        }
    }

    fn batches(rx: &crossbeam_channel::Receiver<ExportMessage>) -> Vec<SampleBatch> {
        rx.try_iter()
            .filter_map(|m| match m {
                ExportMessage::Samples { batch, .. } => Some(batch),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn rate_one_samples_every_frame_with_its_first_bytes() {
        let (mut s, rx) = sampler(&[1]);
        let mut frame = vec![0u8; 64];
        frame[12..16].copy_from_slice(&[0x81, 0x00, 0xa0, 0x64]); // VLAN 100, priority 5
        for i in 0..10u8 {
            frame[0] = i;
            s.observe(&packet(&frame, LINKTYPE_ETHERNET, u64::from(i)));
        }
        s.finish();
        let b = batches(&rx);
        assert_eq!(b.len(), 1);
        let b = &b[0];
        assert_eq!(b.sub_agent, 1);
        assert_eq!(b.packets.len(), 10);
        for (i, p) in b.packets.iter().enumerate() {
            assert_eq!(p.sample_pool, i as u32 + 1);
            assert_eq!(b.header_of(p).len(), 20);
            assert_eq!(b.header_of(p)[0], i as u8);
            // 164 octets captured, and the FCS a capture leaves out.
            assert_eq!((p.frame_length, p.stripped, p.source), (168, 4, 7));
            assert_eq!(p.vlan, Some((100, 5)));
            assert_eq!(p.protocol, HeaderProtocol::Ethernet);
        }
    }

    /// `n` raw IPv4 frames through a sampler for collectors at `rates`: the batches sent,
    /// and the samples each collector got.
    fn raw_ip_samples(rates: &[u32], n: u32) -> (Vec<SampleBatch>, Vec<f64>) {
        let (mut s, rx) = sampler(rates);
        for i in 0..n {
            s.observe(&packet(&[0x45; 40], LINKTYPE_RAW, u64::from(i)));
        }
        s.finish();
        let b = batches(&rx);
        let counts = (0..rates.len())
            .map(|c| {
                b.iter()
                    .flat_map(|b| &b.packets)
                    .filter(|p| usize::from(p.collector) == c)
                    .count() as f64
            })
            .collect();
        (b, counts)
    }

    #[test]
    fn skips_average_the_rate_for_each_collector() {
        let n = 1_000_000u32;
        let (b, counts) = raw_ip_samples(&[10, 1000], n);
        let count = |c: u16| counts[c as usize];
        // Binomial-like spread: within 5 standard deviations of n/N.
        for (c, rate) in [(0u16, 10.0), (1, 1000.0)] {
            let expected = f64::from(n) / rate;
            let sd = (expected * (1.0 - 1.0 / rate)).sqrt();
            let got = count(c);
            assert!(
                (got - expected).abs() < 5.0 * sd,
                "collector {c}: {got} samples, expected {expected} ± {sd}"
            );
        }
        let last = b
            .iter()
            .flat_map(|b| &b.packets)
            .rfind(|p| p.collector == 0);
        assert!(last.unwrap().sample_pool <= n);
        // Raw IP: sent from the IP header, protocol IPv4.
        assert_eq!(b[0].packets[0].protocol, HeaderProtocol::Ipv4);
    }

    /// Regression: with a collector due on every packet, another's count must not be
    /// taken one packet early (a version that decremented, then sampled every count at
    /// 1 when any collector was due, sampled 1 in N-1).
    #[test]
    fn a_collector_due_every_packet_does_not_hurry_the_others() {
        let n = 100_000u32;
        let (_, counts) = raw_ip_samples(&[1, 7], n);
        let count = |c: u16| counts[c as usize];
        assert_eq!(count(0), f64::from(n));
        let (expected, sd) = (f64::from(n) / 7.0, (f64::from(n) * 6.0 / 147.0).sqrt());
        assert!(
            (count(1) - expected).abs() < 5.0 * sd,
            "{} samples, expected {expected}",
            count(1)
        );
    }

    #[test]
    fn cooked_headers_are_stripped_and_unknown_link_types_pass_their_turn() {
        let mut sll = vec![0u8; 16];
        sll[14..16].copy_from_slice(&[0x86, 0xdd]);
        sll.extend_from_slice(&[0x60; 40]);
        assert_eq!(
            header_protocol(LINKTYPE_LINUX_SLL, &sll),
            Some((HeaderProtocol::Ipv6, 16))
        );
        let null = [2, 0, 0, 0, 0x45, 0];
        assert_eq!(
            header_protocol(LINKTYPE_NULL, &null),
            Some((HeaderProtocol::Ipv4, 4))
        );
        assert_eq!(
            header_protocol(LINKTYPE_LOOP, &[0, 0, 0, 24, 0x60]),
            Some((HeaderProtocol::Ipv6, 4))
        );
        assert_eq!(header_protocol(LINKTYPE_NULL, &[7, 0, 0, 0, 0x45]), None);
        assert_eq!(header_protocol(LINKTYPE_RAW, &[0x15]), None);
        assert_eq!(header_protocol(LINKTYPE_RAW, &[]), None);
        assert_eq!(header_protocol(147, &[0x45]), None);

        let (mut s, rx) = sampler(&[1]);
        s.observe(&packet(&[1, 2, 3], 147, 0));
        s.observe(&packet(&sll, LINKTYPE_LINUX_SLL, 1));
        s.finish();
        assert_eq!(s.unsampleable(), 1);
        let b = batches(&rx);
        let p = &b[0].packets[0];
        assert_eq!(
            (p.sample_pool, p.stripped, p.frame_length),
            (2, 16, sll.len() as u32 + 100)
        );
        assert_eq!(b[0].header_of(p), &sll[16..36]);
    }

    #[test]
    fn offline_counters_are_summed_per_polling_interval() {
        let (tx, rx) = crossbeam_channel::unbounded();
        let collectors = vec![SflowParams {
            rate: 1000,
            header_bytes: 128,
        }];
        let mut s = SflowSampler::new(collectors, 0, Some(std::time::Duration::from_secs(20)), tx);
        let frame = [0u8; 60];
        let sec = 1_000_000_000u64;
        // Frames at 0, 10, 25, 70 s: counters due at 20 s (2 frames), 40 s is passed
        // with no frame, so the next goes with the frame at 70 (3 frames), then the end.
        for t in [0, 10, 25, 70] {
            s.observe(&packet(&frame, LINKTYPE_ETHERNET, t * sec));
        }
        s.finish();
        let counters: Vec<_> = batches(&rx).into_iter().flat_map(|b| b.counters).collect();
        let packets: Vec<u32> = counters.iter().map(|c| c.counters.in_packets()).collect();
        assert_eq!(packets, [2, 3, 4]);
        assert_eq!(counters[2].counters.in_octets, 4 * 160);
        assert!(counters.iter().all(|c| c.source == 7));
    }

    proptest::proptest! {
        /// Any bytes on any link type: no panic, and a header never longer than asked
        /// for nor reaching past the frame.
        #[test]
        fn any_frame_samples_without_panic(
            frames in proptest::collection::vec(
                (proptest::prop_oneof![
                    proptest::strategy::Just(LINKTYPE_ETHERNET),
                    proptest::strategy::Just(LINKTYPE_RAW),
                    proptest::strategy::Just(LINKTYPE_LINUX_SLL),
                    proptest::strategy::Just(LINKTYPE_LINUX_SLL2),
                    proptest::strategy::Just(LINKTYPE_NULL),
                    proptest::strategy::Just(LINKTYPE_LOOP),
                    0u32..300,
                ], proptest::collection::vec(proptest::num::u8::ANY, 0..80)),
                1..40,
            )
        ) {
            let (mut s, rx) = sampler(&[1]);
            for (link_type, data) in &frames {
                s.observe(&packet(data, *link_type, 0));
            }
            s.finish();
            for b in batches(&rx) {
                for p in &b.packets {
                    let h = b.header_of(p);
                    proptest::prop_assert!(h.len() <= 20);
                    proptest::prop_assert!(p.header.end as usize <= b.headers.len());
                }
            }
        }
    }
}
