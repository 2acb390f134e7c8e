//! One sFlow collector: samples in, datagrams out.
//!
//! The sink owns what the specification makes per agent: a datagram sequence number
//! per sub-agent (counting from 1, one more each datagram), a flow-sample and a
//! counter-sample sequence number per data source of each sub-agent, and the uptime
//! (milliseconds since the sink saw its first time: the first packet offline, the start
//! of the run live). Each sub-agent fills a datagram of its own, sent when the next
//! sample would not fit in the maximum message size, at every tick (so a sample waits at
//! most about a second of export time) and at the end.
//!
//! Counters: with [`SflowCounterSource::Kernel`] (live) the sink reads each interface's
//! counters from the kernel every polling interval of wall-clock time and sends them
//! with sub-agent 0's datagrams; with [`SflowCounterSource::Capture`] (offline) the
//! samplers send counters summed from the capture, on packet time.
//!
//! The sink's statistics count datagrams as messages and samples as records.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::time::Duration;

use super::datagram::{flow_sample_len, Datagram, COUNTER_SAMPLE_LEN};
use super::{CounterSample, IfCounters, SampleBatch};
use crate::export::stats::{RateLimitedLog, SinkStats};
use crate::export::transport::Transport;
use crate::export::RecordSink;
use crate::flow::record::FlowRecord;
use crate::time::Timestamp;

/// Where interface counters come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SflowCounterSource {
    /// Live: the kernel's counters of these interfaces, every `interval` (zero: none).
    Kernel {
        /// Interface names.
        interfaces: Vec<String>,
        /// Polling interval.
        interval: Duration,
    },
    /// Offline: the samplers sum the capture (or nothing, with a zero polling interval).
    Capture,
}

/// What an sFlow collector's sink is told beside its URL (part of
/// `export::ExportOptions`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SflowSinkOptions {
    /// The collector's place among the sFlow collectors, in the order given (the
    /// samplers tag each sample with it).
    pub collector: u16,
    /// The agent address every datagram carries.
    pub agent: IpAddr,
    /// Where interface counters come from.
    pub counters: SflowCounterSource,
}

impl Default for SflowSinkOptions {
    fn default() -> Self {
        SflowSinkOptions {
            collector: 0,
            agent: IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            counters: SflowCounterSource::Capture,
        }
    }
}

/// The address this host would send from to reach `peer`: the agent address a live
/// sFlow agent reports by default (a connected UDP socket; nothing is sent).
pub fn source_address_towards(peer: std::net::SocketAddr) -> io::Result<IpAddr> {
    let bind: std::net::SocketAddr = if peer.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = std::net::UdpSocket::bind(bind)?;
    socket.connect(peer)?;
    Ok(socket.local_addr()?.ip())
}

#[derive(Debug)]
struct SubAgent {
    datagram: Datagram,
    /// Sequence number of the last datagram sent.
    sequence: u32,
    open: bool,
}

/// Sequence numbers of one data source of one sub-agent: (flow samples, counter samples).
type SourceSequences = (u32, u32);

/// Sends the samples of its own collector as sFlow v5 datagrams.
pub struct SflowSink {
    /// This collector's place among the sFlow collectors (`PacketSample::collector`).
    collector: u16,
    agent: IpAddr,
    max: usize,
    transport: Box<dyn Transport>,
    sub_agents: Vec<SubAgent>,
    sequences: HashMap<(u32, u32), SourceSequences>,
    start: Option<Timestamp>,
    now: Timestamp,
    counters: SflowCounterSource,
    next_poll: Option<Timestamp>,
    stats: SinkStats,
    counter_errors: RateLimitedLog,
}

impl SflowSink {
    /// A sink for the sFlow collector at place `collector`, sending datagrams of at most
    /// `max_message_size` octets from agent address `agent` over `transport`.
    pub fn new(
        collector: u16,
        agent: IpAddr,
        max_message_size: usize,
        transport: Box<dyn Transport>,
        counters: SflowCounterSource,
    ) -> SflowSink {
        SflowSink {
            collector,
            agent,
            max: max_message_size,
            transport,
            sub_agents: Vec::new(),
            sequences: HashMap::new(),
            start: None,
            now: Timestamp::ZERO,
            counters,
            next_poll: None,
            stats: SinkStats::default(),
            counter_errors: RateLimitedLog::new(Duration::from_secs(60)),
        }
    }

    fn uptime_ms(&self) -> u32 {
        let start = self.start.unwrap_or(self.now);
        (self.now.0.saturating_sub(start.0) / 1_000_000) as u32
    }

    fn see_time(&mut self, now: Timestamp) {
        if self.start.is_none() {
            self.start = Some(now);
        }
        self.now = self.now.max(now);
    }

    /// Makes room for `len` octets in sub-agent `a`'s datagram: sends it if they would
    /// not fit, opens a new one if none is open.
    fn room(&mut self, a: usize, len: usize) -> io::Result<()> {
        while self.sub_agents.len() <= a {
            self.sub_agents.push(SubAgent {
                datagram: Datagram::new(self.max),
                sequence: 0,
                open: false,
            });
        }
        if self.sub_agents[a].open && !self.sub_agents[a].datagram.fits(len) {
            self.send(a)?;
        }
        if !self.sub_agents[a].open {
            let uptime = self.uptime_ms();
            let (agent, sub) = (self.agent, a as u32);
            let s = &mut self.sub_agents[a];
            s.sequence = s.sequence.wrapping_add(1);
            s.datagram.start(agent, sub, s.sequence, uptime);
            s.open = true;
        }
        Ok(())
    }

    fn send(&mut self, a: usize) -> io::Result<()> {
        let s = &mut self.sub_agents[a];
        if !s.open {
            return Ok(());
        }
        s.open = false;
        let samples = s.datagram.samples();
        self.transport
            .send(s.datagram.bytes(), samples, samples, &mut self.stats)
    }

    fn send_all(&mut self) -> io::Result<()> {
        for a in 0..self.sub_agents.len() {
            self.send(a)?;
        }
        Ok(())
    }

    fn add_counters(&mut self, sub_agent: u32, sample: &CounterSample) -> io::Result<()> {
        let a = sub_agent as usize;
        self.room(a, COUNTER_SAMPLE_LEN)?;
        let seq = self
            .sequences
            .entry((sub_agent, sample.source))
            .or_default();
        seq.1 = seq.1.wrapping_add(1);
        let n = seq.1;
        self.sub_agents[a].datagram.counter_sample(n, sample);
        Ok(())
    }

    /// Live: reads and sends the kernel's counters when the polling interval has passed.
    fn poll_kernel(&mut self, now: Timestamp) -> io::Result<()> {
        let SflowCounterSource::Kernel {
            interfaces,
            interval,
        } = &self.counters
        else {
            return Ok(());
        };
        if interval.is_zero() || self.next_poll.is_some_and(|t| now < t) {
            return Ok(());
        }
        // On the interval's grid from the first poll (a late tick does not push the later
        // polls back), skipping polls a stalled exporter missed.
        let step = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
        let due = self.next_poll.unwrap_or(now);
        let missed = (now.0 - due.0) / step;
        self.next_poll = Some(Timestamp(
            due.0
                .saturating_add(missed.saturating_add(1).saturating_mul(step)),
        ));
        let mut read = Vec::new();
        for ifname in interfaces {
            match IfCounters::from_kernel(ifname) {
                Ok(c) => read.push(CounterSample {
                    source: c.if_index,
                    counters: c,
                }),
                Err(e) => self
                    .counter_errors
                    .warn(|| format!("sFlow: cannot read the counters of {ifname}: {e}")),
            }
        }
        // A datagram of its own, so its uptime is the time the counters were read.
        if !read.is_empty() && self.sub_agents.first().is_some_and(|s| s.open) {
            self.send(0)?;
        }
        for sample in &read {
            self.add_counters(0, sample)?;
        }
        Ok(())
    }

    /// Takes a batch of samples from one sub-agent (those of other collectors are left).
    pub fn take(&mut self, batch: &SampleBatch, now: Timestamp) -> io::Result<()> {
        self.see_time(now);
        let a = batch.sub_agent as usize;
        let collector = self.collector;
        for sample in batch.packets.iter().filter(|p| p.collector == collector) {
            let header = batch.header_of(sample);
            self.room(a, flow_sample_len(header.len(), sample.vlan.is_some()))?;
            let seq = self
                .sequences
                .entry((batch.sub_agent, sample.source))
                .or_default();
            seq.0 = seq.0.wrapping_add(1);
            let n = seq.0;
            self.sub_agents[a].datagram.flow_sample(n, sample, header);
        }
        for sample in &batch.counters {
            self.add_counters(batch.sub_agent, sample)?;
        }
        Ok(())
    }
}

impl RecordSink for SflowSink {
    /// Flow records are not sFlow's business: an sFlow collector gets samples only.
    fn export(&mut self, _records: &[FlowRecord], _now: Timestamp) -> io::Result<()> {
        Ok(())
    }

    fn samples(&mut self, batch: &SampleBatch, now: Timestamp) -> io::Result<()> {
        self.take(batch, now)
    }

    fn tick(&mut self, now: Timestamp) -> io::Result<()> {
        self.see_time(now);
        self.poll_kernel(now)?;
        self.send_all()?;
        self.transport.poll(&mut self.stats)
    }

    fn finish(&mut self, now: Timestamp) -> io::Result<()> {
        self.see_time(now);
        self.send_all()?;
        self.transport.finish(&mut self.stats)
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::super::{HeaderProtocol, PacketSample};
    use super::*;
    use crate::export::transport::TemplatePolicy;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Keep(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Transport for Keep {
        fn send(
            &mut self,
            msg: &[u8],
            _: u32,
            records: u32,
            stats: &mut SinkStats,
        ) -> io::Result<()> {
            self.0.lock().unwrap().push(msg.to_vec());
            stats.messages += 1;
            stats.records += u64::from(records);
            stats.bytes += msg.len() as u64;
            Ok(())
        }
        fn finish(&mut self, _: &mut SinkStats) -> io::Result<()> {
            Ok(())
        }
        fn template_policy(&self) -> TemplatePolicy {
            TemplatePolicy::Once
        }
    }

    fn word(d: &[u8], i: usize) -> u32 {
        u32::from_be_bytes(d[i * 4..i * 4 + 4].try_into().unwrap())
    }

    fn batch(sub_agent: u32, collector: u16, n: usize) -> SampleBatch {
        let mut b = SampleBatch {
            sub_agent,
            ..SampleBatch::default()
        };
        for i in 0..n {
            let start = b.headers.len() as u32;
            b.headers.extend_from_slice(&[i as u8; 100]);
            b.packets.push(PacketSample {
                collector,
                source: 2,
                rate: 1,
                sample_pool: i as u32 + 1,
                drops: 0,
                protocol: HeaderProtocol::Ethernet,
                frame_length: 100,
                stripped: 0,
                header: start..start + 100,
                vlan: None,
            });
        }
        b
    }

    #[test]
    fn datagrams_stay_under_the_size_and_number_their_samples() {
        let keep = Keep::default();
        let mut sink = SflowSink::new(
            0,
            "10.1.2.3".parse().unwrap(),
            512,
            Box::new(keep.clone()),
            SflowCounterSource::Capture,
        );
        let sec = 1_000_000_000;
        sink.samples(&batch(0, 0, 5), Timestamp(10 * sec)).unwrap();
        sink.samples(&batch(0, 1, 5), Timestamp(10 * sec)).unwrap(); // another collector's
        sink.samples(&batch(3, 0, 2), Timestamp(12 * sec + 500_000_000))
            .unwrap();
        sink.tick(Timestamp(13 * sec)).unwrap();
        sink.finish(Timestamp(13 * sec)).unwrap();
        let sent = keep.0.lock().unwrap().clone();
        // A flow sample with 100 header bytes is 176 octets: two fit in 512 with the
        // 28-octet header. Sub-agent 0: 2 + 2 + 1; sub-agent 3: 2.
        let per: Vec<(u32, u32, u32)> = sent
            .iter()
            .map(|d| (word(d, 3), word(d, 4), word(d, 6)))
            .collect();
        assert_eq!(per, [(0, 1, 2), (0, 2, 2), (0, 3, 1), (3, 1, 2)]);
        assert!(sent.iter().all(|d| d.len() <= 512));
        // Sample sequence numbers run on per data source: 1..=5 for sub-agent 0.
        let seqs: Vec<u32> = sent[..3]
            .iter()
            .flat_map(|d| {
                let n = word(d, 6) as usize;
                (0..n).map(move |k| word(d, 7 + k * 44 + 2))
            })
            .collect();
        assert_eq!(seqs, [1, 2, 3, 4, 5]);
        // Uptime: ms since the first time the sink saw.
        assert_eq!(word(&sent[3], 5), 2_500);
        let stats = sink.stats();
        assert_eq!((stats.messages, stats.records), (4, 7));
    }

    #[test]
    fn the_agent_address_is_the_route_source() {
        let a = source_address_towards("127.0.0.1:6343".parse().unwrap()).unwrap();
        assert_eq!(a, "127.0.0.1".parse::<IpAddr>().unwrap());
    }

    #[test]
    fn kernel_counters_are_polled_on_the_interval() {
        let keep = Keep::default();
        let mut sink = SflowSink::new(
            0,
            "127.0.0.1".parse().unwrap(),
            1452,
            Box::new(keep.clone()),
            SflowCounterSource::Kernel {
                interfaces: vec!["lo".into()],
                interval: Duration::from_secs(20),
            },
        );
        let sec = 1_000_000_000;
        for t in [100, 101, 119, 120, 121] {
            sink.tick(Timestamp(t * sec)).unwrap();
        }
        sink.finish(Timestamp(121 * sec)).unwrap();
        let sent = keep.0.lock().unwrap().clone();
        assert_eq!(sent.len(), 2, "counters at 100 s and 120 s");
        for (i, d) in sent.iter().enumerate() {
            assert_eq!(word(d, 7), 4, "expanded counter sample");
            assert_eq!(word(d, 9), i as u32 + 1, "counter sample sequence");
            assert_eq!(word(d, 11), 1, "ifIndex of lo");
        }
    }
}
