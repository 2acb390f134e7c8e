//! NetFlow version 9 (RFC 3954) message header and the sysUpTime time base.
//!
//! Sets and records are built by [`super::template::MessageBuilder`] with
//! [`super::template::Dialect::NetflowV9`]. What only v9 (and v5) has is time relative to
//! the exporter's "sysUpTime": records carry FIRST_SWITCHED / LAST_SWITCHED as
//! milliseconds of uptime, and the header carries both the uptime and the Unix seconds at
//! which the packet left, so a collector recovers absolute time as
//! `unix_secs * 1000 - sys_uptime + FIRST_SWITCHED` (what nfdump and Wireshark do).
//!
//! # The uptime origin ([`UptimeClock`])
//! flowprobe has no real "boot"; it chooses an origin (ms since the epoch) and writes
//! `uptime = t - origin` for every time `t`. Three rules make absolute times exact:
//! 1. The header's `sys_uptime` is computed from the *whole second* in `unix_secs`
//!    (`unix_secs * 1000 - origin`), not from the sub-second export time, so the
//!    collector's `unix_secs * 1000 - sys_uptime` is exactly `origin`.
//! 2. The origin starts one hour before the first export time (so flows that began
//!    before the first export, up to an hour, still have a non-negative uptime), like a
//!    device that booted an hour ago.
//! 3. Uptime is 32 bits of milliseconds and wraps after 49.7 days. Instead of letting it
//!    wrap (collectors disagree on how to read a FIRST_SWITCHED from before a wrap), the
//!    clock *re-bases*: before a record that would start before the origin, or when the
//!    header uptime comes within two hours of 2^32, the current message is sent and the
//!    origin moves (to an hour before the record start / export time). To a collector a
//!    re-base forward looks like an exporter restart, which is what a wrap looks like too.
//!    Every message is self-consistent, so absolute times stay exact across re-bases.

/// NetFlow v9 version number.
pub const VERSION: u16 = 9;
/// Length of the v9 packet header.
pub const HEADER_LEN: usize = 20;

/// The NetFlow v9 packet header (RFC 3954 section 5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Records (template, options template, data) in this packet.
    pub count: u16,
    /// Milliseconds since the exporter's origin ("boot").
    pub sys_uptime: u32,
    /// Seconds since the epoch.
    pub unix_secs: u32,
    /// Export packets sent before this one by this source id (mod 2^32).
    pub sequence: u32,
    /// Source id (the observation domain).
    pub source_id: u32,
}

impl Header {
    /// Writes the header into the first 20 octets of `out` (nothing if shorter).
    pub fn emit(&self, out: &mut [u8]) {
        let Some(out) = out.get_mut(..HEADER_LEN) else {
            return;
        };
        let mut w = super::template::Writer { out, at: 0 };
        w.u16(VERSION);
        w.u16(self.count);
        w.u32(self.sys_uptime);
        w.u32(self.unix_secs);
        w.u32(self.sequence);
        w.u32(self.source_id);
    }

    /// Reads a header; `None` if shorter than 20 octets or not version 9.
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        let b = bytes.get(..HEADER_LEN)?;
        let u32_at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        if u16::from_be_bytes([b[0], b[1]]) != VERSION {
            return None;
        }
        Some(Header {
            count: u16::from_be_bytes([b[2], b[3]]),
            sys_uptime: u32_at(4),
            unix_secs: u32_at(8),
            sequence: u32_at(12),
            source_id: u32_at(16),
        })
    }
}

const HOUR_MS: u64 = 3_600_000;

/// The sysUpTime origin of a v9 or v5 exporter; see the module documentation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UptimeClock {
    origin_ms: Option<u64>,
}

impl UptimeClock {
    /// The origin in ms since the epoch (0 before first use).
    pub fn origin_ms(&self) -> u64 {
        self.origin_ms.unwrap_or(0)
    }

    /// Whether a record from `start_ms` to `end_ms`, exported at `now_ms`, can be written
    /// in a message with the current origin.
    pub fn fits(&self, start_ms: u64, end_ms: u64, now_ms: u64) -> bool {
        let Some(origin) = self.origin_ms else {
            return false;
        };
        let header_ms = now_ms - now_ms % 1000;
        start_ms >= origin
            && header_ms >= origin
            && end_ms - origin.min(end_ms) <= u32::MAX as u64
            && header_ms - origin <= u32::MAX as u64 - 2 * HOUR_MS
    }

    /// Moves the origin so that a record starting at `start_ms` exported at `now_ms` fits
    /// (for records no older than ~49 days; older starts saturate to uptime 0).
    pub fn rebase(&mut self, start_ms: u64, now_ms: u64) {
        let header_ms = now_ms - now_ms % 1000;
        self.origin_ms = Some(start_ms.min(header_ms).saturating_sub(HOUR_MS));
    }

    /// Sets the origin at first use: an hour before the first export time.
    pub fn start(&mut self, now_ms: u64) {
        if self.origin_ms.is_none() {
            self.rebase(now_ms, now_ms);
        }
    }

    /// Header fields `(unix_secs, sys_uptime)` for a message leaving at `now_ms`.
    pub fn header(&self, now_ms: u64) -> (u32, u32) {
        let secs = now_ms / 1000;
        let uptime = (secs * 1000)
            .saturating_sub(self.origin_ms())
            .min(u32::MAX as u64);
        (secs.min(u32::MAX as u64) as u32, uptime as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::super::template::*;
    use super::*;
    use crate::flow::key::FlowKey;
    use crate::flow::record::FlowRecord;
    use crate::time::Timestamp;

    #[test]
    fn uptime_clock_recovers_absolute_time_and_rebases() {
        let mut c = UptimeClock::default();
        let now = 1_700_000_000_500u64;
        c.start(now);
        let start = now - 10_000;
        assert!(c.fits(start, now - 5, now));
        let (secs, up) = c.header(now);
        let first = start - c.origin_ms();
        // What a collector computes:
        assert_eq!(secs as u64 * 1000 - up as u64 + first, start);
        // A record from two hours ago does not fit; a re-base makes it fit.
        let old = now - 2 * HOUR_MS;
        assert!(!c.fits(old, now, now));
        c.rebase(old, now);
        assert!(c.fits(old, now, now));
        // 50 days later the header uptime would come close to 2^32: re-base.
        let later = now + 50 * 24 * HOUR_MS;
        assert!(!c.fits(later - 1000, later, later));
        c.rebase(later - 1000, later);
        assert!(c.fits(later - 1000, later, later));
        let (secs, up) = c.header(later);
        assert_eq!(
            secs as u64 * 1000 - up as u64 + (later - 1000 - c.origin_ms()),
            later - 1000
        );
    }

    /// A v9 packet with the IPv4 template and one data record, checked against RFC 3954
    /// sections 5.1 (header), 5.2 (template FlowSet) and 5.3 (data FlowSet, padding).
    #[test]
    fn golden_template_and_data_record() {
        let mut key = FlowKey {
            in_if: 3,
            vlan: 100,
            proto: 1,
            tos: 0,
            dst_port: 0x0301,
            ..Default::default()
        };
        key.set_addrs(
            "192.0.2.1".parse().unwrap(),
            "198.51.100.2".parse().unwrap(),
        );
        let rec = FlowRecord {
            packets: 5,
            octets: 0x1_0000_0000,
            min_ttl: 1,
            max_ttl: 255,
            src_mac: [0xaa; 6],
            dst_mac: [0xbb; 6],
            ..FlowRecord::new(
                key,
                Timestamp::from_secs_nanos(1_700_000_000, 250_000_000),
                Timestamp::from_secs_nanos(1_700_000_001, 0),
            )
        };
        let mut clock = UptimeClock::default();
        let now = 1_700_000_002_700u64;
        clock.start(now); // origin: an hour before the whole second
        assert_eq!(clock.origin_ms(), 1_699_996_402_000);
        let mut b = MessageBuilder::new(Dialect::NetflowV9, 1452);
        emit_template(
            Dialect::NetflowV9,
            &V9_IPV4_ICMP,
            b.record(0, V9_IPV4_ICMP.template_record_len()).unwrap(),
        );
        emit_flow_record(
            V9_IPV4_ICMP.fields,
            &rec,
            clock.origin_ms(),
            b.record(258, V9_IPV4_ICMP.record_len()).unwrap(),
        );
        let count = b.records;
        let msg = b.finish();
        let (unix_secs, sys_uptime) = clock.header(now);
        Header {
            count,
            sys_uptime,
            unix_secs,
            sequence: 0,
            source_id: 42,
        }
        .emit(msg);
        #[rustfmt::skip]
        let expect: &[u8] = &[
            // Packet header (RFC 3954 5.1)
            0x00, 0x09,             // Version 9
            0x00, 0x02,             // Count: 2 records (1 template + 1 data)
            0x00, 0x36, 0xee, 0x80, // sysUpTime 3600000 ms: 1700000002000 - origin
            0x65, 0x53, 0xf1, 0x02, // UNIX Secs 1700000002
            0x00, 0x00, 0x00, 0x00, // Sequence Number 0 (first export packet)
            0x00, 0x00, 0x00, 0x2a, // Source ID 42
            // Template FlowSet (5.2)
            0x00, 0x00,             // FlowSet ID 0
            0x00, 0x48,             // Length 72 = 4 + 4 + 16*4
            0x01, 0x02, 0x00, 0x10, // Template ID 258 (IPv4 ICMP), Field Count 16
            0x00, 0x08, 0x00, 0x04, // IPV4_SRC_ADDR
            0x00, 0x0c, 0x00, 0x04, // IPV4_DST_ADDR
            0x00, 0x04, 0x00, 0x01, // PROTOCOL
            0x00, 0x05, 0x00, 0x01, // SRC_TOS
            0x00, 0x06, 0x00, 0x01, // TCP_FLAGS
            0x00, 0x01, 0x00, 0x08, // IN_BYTES, 8 octets
            0x00, 0x02, 0x00, 0x08, // IN_PKTS, 8 octets
            0x00, 0x0a, 0x00, 0x04, // INPUT_SNMP
            0x00, 0x3a, 0x00, 0x02, // SRC_VLAN
            0x00, 0x38, 0x00, 0x06, // IN_SRC_MAC
            0x00, 0x50, 0x00, 0x06, // IN_DST_MAC
            0x00, 0x20, 0x00, 0x02, // ICMP_TYPE
            0x00, 0x34, 0x00, 0x01, // MIN_TTL
            0x00, 0x35, 0x00, 0x01, // MAX_TTL
            0x00, 0x16, 0x00, 0x04, // FIRST_SWITCHED
            0x00, 0x15, 0x00, 0x04, // LAST_SWITCHED
            // Data FlowSet (5.3)
            0x01, 0x02,             // FlowSet ID 258
            0x00, 0x40,             // Length 64 = 4 + 57 + 3 padding
            192, 0, 2, 1,           // IPV4_SRC_ADDR
            198, 51, 100, 2,        // IPV4_DST_ADDR
            0x01,                   // PROTOCOL ICMP
            0x00,                   // SRC_TOS
            0x00,                   // TCP_FLAGS
            0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, // IN_BYTES 2^32
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, // IN_PKTS 5
            0x00, 0x00, 0x00, 0x03, // INPUT_SNMP 3
            0x00, 0x64,             // SRC_VLAN 100
            0xaa, 0xaa, 0xaa, 0xaa, 0xaa, 0xaa, // IN_SRC_MAC
            0xbb, 0xbb, 0xbb, 0xbb, 0xbb, 0xbb, // IN_DST_MAC
            0x03, 0x01,             // ICMP_TYPE 3/1 (destination unreachable, host)
            0x01,                   // MIN_TTL
            0xff,                   // MAX_TTL
            0x00, 0x36, 0xe7, 0xaa, // FIRST_SWITCHED 3598250 = start - origin
            0x00, 0x36, 0xea, 0x98, // LAST_SWITCHED 3599000
            0x00, 0x00, 0x00,       // padding to 32 bits
        ];
        assert_eq!(&msg[..], expect);
        let h = Header::parse(msg).unwrap();
        // The collector's reconstruction is exact to the millisecond.
        let first = u32::from_be_bytes([expect[145], expect[146], expect[147], expect[148]]);
        assert_eq!(
            h.unix_secs as u64 * 1000 - h.sys_uptime as u64 + first as u64,
            1_700_000_000_250
        );
    }
}
