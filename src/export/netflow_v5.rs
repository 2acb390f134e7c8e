//! NetFlow version 5: fixed 48-octet IPv4 records, for old collectors.
//!
//! v5 has no templates: a 24-octet header and up to 30 records (Cisco's limit; fewer if
//! the maximum message size is smaller). Its limits and what flowprobe does about them:
//! - IPv4 only. IPv6 records are counted as not exportable and logged once per sink.
//! - Packet and octet counters are 32 bits. A record with more than 2^32 - 1 octets or
//!   packets is **split** into as many v5 records as needed, with the counts spread
//!   evenly, so that totals at the collector stay exact (clamping would lose traffic
//!   silently). Each piece carries the whole flow's times and key.
//! - Interfaces are 16 bits: interface indexes above 65535 are clamped to 65535. The
//!   output interface is the egress interface from the direction rules (0 when unknown).
//! - No VLAN, MAC, TTL, end reason, flow direction or tunnel fields; they are dropped.
//! - No biflows: a biflow record is sent as its two uniflow records
//!   (`FlowRecord::uniflows`), so the counts stay whole.
//! - Times are sysUpTime-relative like v9 (see [`super::netflow_v9::UptimeClock`]); the
//!   header's `unix_nsecs` is 0 and `sys_uptime` is taken at the whole second, so
//!   collectors recover absolute times exactly.
//! - `flow_sequence` counts the records sent before this packet (mod 2^32).
//! - Sampling goes in the header: mode in the top 2 bits (1 deterministic, 2 random),
//!   the interval in the low 14 bits (clamped to 16383).
//! - `engine_type`/`engine_id` are bits 8..16 and 0..8 of the observation domain id.

use std::io;

use super::netflow_v9::UptimeClock;
use super::sink::{ExportOptions, SamplingAnnouncement};
use super::stats::{RateLimitedLog, SinkStats};
use super::template::Writer;
use super::transport::Transport;
use super::RecordSink;
use crate::flow::record::FlowRecord;
use crate::time::Timestamp;

/// NetFlow v5 version number.
pub const VERSION: u16 = 5;
/// Header length.
pub const HEADER_LEN: usize = 24;
/// Record length.
pub const RECORD_LEN: usize = 48;
/// Most records in one packet.
pub const MAX_RECORDS: usize = 30;

/// The v5 header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// Records in this packet (1..=30).
    pub count: u16,
    /// Milliseconds since the exporter's origin.
    pub sys_uptime: u32,
    /// Seconds since the epoch.
    pub unix_secs: u32,
    /// Residual nanoseconds.
    pub unix_nsecs: u32,
    /// Records sent before this packet.
    pub flow_sequence: u32,
    /// Engine type.
    pub engine_type: u8,
    /// Engine id.
    pub engine_id: u8,
    /// Sampling mode (2 bits) and interval (14 bits).
    pub sampling: u16,
}

impl Header {
    /// Writes the header into the first 24 octets of `out`.
    pub fn emit(&self, out: &mut [u8]) {
        let Some(out) = out.get_mut(..HEADER_LEN) else {
            return;
        };
        let mut w = Writer { out, at: 0 };
        w.u16(VERSION);
        w.u16(self.count);
        w.u32(self.sys_uptime);
        w.u32(self.unix_secs);
        w.u32(self.unix_nsecs);
        w.u32(self.flow_sequence);
        w.u8(self.engine_type);
        w.u8(self.engine_id);
        w.u16(self.sampling);
    }
}

/// One v5 flow record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Record {
    /// Source address.
    pub src: [u8; 4],
    /// Destination address.
    pub dst: [u8; 4],
    /// Ingress SNMP index.
    pub input: u16,
    /// Egress SNMP index (0 = unknown).
    pub output: u16,
    /// Packets.
    pub packets: u32,
    /// Octets.
    pub octets: u32,
    /// sysUpTime at the first packet.
    pub first: u32,
    /// sysUpTime at the last packet.
    pub last: u32,
    /// Source port.
    pub src_port: u16,
    /// Destination port (ICMP: type * 256 + code).
    pub dst_port: u16,
    /// OR of TCP flags.
    pub tcp_flags: u8,
    /// IP protocol.
    pub proto: u8,
    /// ToS.
    pub tos: u8,
}

impl Record {
    /// Writes the 48-octet record (Cisco's NetFlow v5 record format).
    pub fn emit(&self, out: &mut [u8]) {
        let Some(out) = out.get_mut(..RECORD_LEN) else {
            return;
        };
        let mut w = Writer { out, at: 0 };
        w.bytes(&self.src);
        w.bytes(&self.dst);
        w.u32(0); // nexthop: unknown to a probe
        w.u16(self.input);
        w.u16(self.output);
        w.u32(self.packets);
        w.u32(self.octets);
        w.u32(self.first);
        w.u32(self.last);
        w.u16(self.src_port);
        w.u16(self.dst_port);
        w.u8(0); // pad1
        w.u8(self.tcp_flags);
        w.u8(self.proto);
        w.u8(self.tos);
        w.u16(0); // src_as
        w.u16(0); // dst_as
        w.u8(0); // src_mask
        w.u8(0); // dst_mask
        w.u16(0); // pad2
    }
}

/// How many v5 records a flow needs so that no piece exceeds 32-bit counters.
pub fn pieces(packets: u64, octets: u64) -> u64 {
    let max = u32::MAX as u64;
    packets.div_ceil(max).max(octets.div_ceil(max)).max(1)
}

/// Piece `i` of `n` of a count spread evenly (the first `total % n` pieces get one more).
fn share(total: u64, n: u64, i: u64) -> u32 {
    (total / n + u64::from(i < total % n)).min(u32::MAX as u64) as u32
}

/// NetFlow v5 to one UDP collector.
pub struct V5Sink {
    buf: Vec<u8>,
    count: usize,
    max_records: usize,
    clock: UptimeClock,
    flow_sequence: u32,
    engine_type: u8,
    engine_id: u8,
    sampling: u16,
    transport: Box<dyn Transport>,
    stats: SinkStats,
    warned_ipv6: bool,
    log: RateLimitedLog,
}

impl V5Sink {
    /// A v5 sink over `transport`.
    pub fn new(transport: Box<dyn Transport>, opts: &ExportOptions) -> V5Sink {
        let max_records =
            (opts.max_message_size.saturating_sub(HEADER_LEN) / RECORD_LEN).clamp(1, MAX_RECORDS);
        let interval = opts.sampling.interval().min(0x3fff) as u16;
        let sampling = match opts.sampling {
            SamplingAnnouncement::None => 0,
            SamplingAnnouncement::Deterministic { .. } => 0x4000 | interval,
            SamplingAnnouncement::Random { .. } | SamplingAnnouncement::FlowHash { .. } => {
                0x8000 | interval
            }
        };
        V5Sink {
            buf: vec![0; HEADER_LEN + max_records * RECORD_LEN],
            count: 0,
            max_records,
            clock: UptimeClock::default(),
            flow_sequence: 0,
            engine_type: (opts.observation_domain_id >> 8) as u8,
            engine_id: opts.observation_domain_id as u8,
            sampling,
            transport,
            stats: SinkStats::default(),
            warned_ipv6: false,
            log: RateLimitedLog::new(std::time::Duration::from_secs(60)),
        }
    }

    fn flush(&mut self, now: Timestamp) -> io::Result<()> {
        if self.count == 0 {
            return Ok(());
        }
        self.clock.start(now.as_millis());
        let (unix_secs, sys_uptime) = self.clock.header(now.as_millis());
        Header {
            count: self.count as u16,
            sys_uptime,
            unix_secs,
            unix_nsecs: 0,
            flow_sequence: self.flow_sequence,
            engine_type: self.engine_type,
            engine_id: self.engine_id,
            sampling: self.sampling,
        }
        .emit(&mut self.buf);
        let n = self.count as u32;
        self.flow_sequence = self.flow_sequence.wrapping_add(n);
        let len = HEADER_LEN + self.count * RECORD_LEN;
        self.count = 0;
        self.transport.send(
            self.buf.get(..len).unwrap_or_default(),
            n,
            n,
            &mut self.stats,
        )
    }

    fn add(&mut self, rec: &FlowRecord, now: Timestamp) -> io::Result<()> {
        let key = &rec.key;
        if key.ip_version != 4 {
            self.stats.not_exportable += 1;
            if !self.warned_ipv6 {
                self.warned_ipv6 = true;
                log::warn!(
                    "NetFlow v5 cannot carry IPv6 flows: they are counted as not exportable"
                );
            }
            return Ok(());
        }
        let (start, end, now_ms) = (rec.start.as_millis(), rec.end.as_millis(), now.as_millis());
        self.clock.start(now_ms);
        if !self.clock.fits(start, end, now_ms) {
            self.flush(now)?;
            self.clock.rebase(start, now_ms);
        }
        let origin = self.clock.origin_ms();
        let uptime = |ms: u64| ms.saturating_sub(origin).min(u32::MAX as u64) as u32;
        if key.in_if > u16::MAX as u32 {
            let in_if = key.in_if;
            self.log
                .warn(|| format!("NetFlow v5: interface index {in_if} clamped to 65535"));
        }
        let mut r = Record {
            src: [key.src[0], key.src[1], key.src[2], key.src[3]],
            dst: [key.dst[0], key.dst[1], key.dst[2], key.dst[3]],
            input: key.in_if.min(u16::MAX as u32) as u16,
            output: rec.egress_if.min(u16::MAX as u32) as u16,
            first: uptime(start),
            last: uptime(end),
            src_port: key.src_port,
            dst_port: key.dst_port,
            tcp_flags: rec.tcp_flags,
            proto: key.proto,
            tos: key.tos,
            ..Record::default()
        };
        let n = pieces(rec.packets, rec.octets);
        for i in 0..n {
            r.packets = share(rec.packets, n, i);
            r.octets = share(rec.octets, n, i);
            if self.count == self.max_records {
                self.flush(now)?;
            }
            let at = HEADER_LEN + self.count * RECORD_LEN;
            if let Some(slot) = self.buf.get_mut(at..at + RECORD_LEN) {
                r.emit(slot);
                self.count += 1;
            }
        }
        Ok(())
    }
}

impl RecordSink for V5Sink {
    fn export(&mut self, records: &[FlowRecord], now: Timestamp) -> io::Result<()> {
        for rec in records {
            for uniflow in rec.uniflows() {
                self.add(&uniflow, now)?;
            }
        }
        self.transport.poll(&mut self.stats)
    }

    fn tick(&mut self, now: Timestamp) -> io::Result<()> {
        self.flush(now)?;
        self.transport.poll(&mut self.stats)
    }

    fn finish(&mut self, now: Timestamp) -> io::Result<()> {
        self.flush(now)?;
        self.transport.finish(&mut self.stats)
    }

    fn stats(&self) -> SinkStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_header_and_record() {
        let mut out = [0u8; HEADER_LEN + RECORD_LEN];
        Header {
            count: 1,
            sys_uptime: 3_600_000,
            unix_secs: 1_700_000_002,
            unix_nsecs: 0,
            flow_sequence: 30,
            engine_type: 1,
            engine_id: 2,
            sampling: 0x4000 | 100,
        }
        .emit(&mut out);
        Record {
            src: [192, 0, 2, 1],
            dst: [198, 51, 100, 2],
            input: 3,
            output: 0,
            packets: 10,
            octets: 4000,
            first: 3_598_250,
            last: 3_599_000,
            src_port: 49152,
            dst_port: 53,
            tcp_flags: 0,
            proto: 17,
            tos: 0xb8,
        }
        .emit(&mut out[HEADER_LEN..]);
        #[rustfmt::skip]
        let expect: &[u8] = &[
            // Header
            0x00, 0x05,             // version 5
            0x00, 0x01,             // count 1
            0x00, 0x36, 0xee, 0x80, // SysUptime 3600000
            0x65, 0x53, 0xf1, 0x02, // unix_secs 1700000002
            0x00, 0x00, 0x00, 0x00, // unix_nsecs 0
            0x00, 0x00, 0x00, 0x1e, // flow_sequence 30
            0x01,                   // engine_type
            0x02,                   // engine_id
            0x40, 0x64,             // sampling: mode 01 (deterministic), interval 100
            // Record
            192, 0, 2, 1,           // srcaddr
            198, 51, 100, 2,        // dstaddr
            0, 0, 0, 0,             // nexthop
            0x00, 0x03,             // input
            0x00, 0x00,             // output
            0x00, 0x00, 0x00, 0x0a, // dPkts 10
            0x00, 0x00, 0x0f, 0xa0, // dOctets 4000
            0x00, 0x36, 0xe7, 0xaa, // First
            0x00, 0x36, 0xea, 0x98, // Last
            0xc0, 0x00,             // srcport 49152
            0x00, 0x35,             // dstport 53
            0x00,                   // pad1
            0x00,                   // tcp_flags
            0x11,                   // prot UDP
            0xb8,                   // tos
            0x00, 0x00, 0x00, 0x00, // src_as, dst_as
            0x00, 0x00,             // src_mask, dst_mask
            0x00, 0x00,             // pad2
        ];
        assert_eq!(&out[..], expect);
    }

    #[test]
    fn splitting_keeps_totals_exact() {
        for (p, o) in [
            (1u64, 40u64),
            (70_000, 5_000_000_000),
            (u32::MAX as u64 + 1, 1 << 40),
            (100_000, 1 << 36),
        ] {
            let n = pieces(p, o);
            let (mut sp, mut so) = (0u64, 0u64);
            for i in 0..n {
                sp += share(p, n, i) as u64;
                so += share(o, n, i) as u64;
            }
            assert_eq!((sp, so), (p, o), "{p} {o}");
        }
        assert_eq!(pieces(10, 40), 1);
        assert_eq!(pieces(70_000, 5_000_000_000), 2);
    }
}
