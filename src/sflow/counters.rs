//! Generic interface counters (sFlow v5 `if_counters`, enterprise 0 format 1, the
//! counters of RFC 2233's ifTable): summed from a capture offline, read from the kernel
//! (`/sys/class/net/IFACE/statistics`) live.
//!
//! sFlow's packet counters are 32 bits and wrap, as the MIB's do; octets are 64 bits.
//! The kernel's counters are 64 bits: they are cut to 32 the same way, so a collector
//! computing deltas modulo 2^32 gets them right.

use std::io;
use std::path::Path;

/// ifType ethernetCsmacd (IANAifType-MIB).
pub const IF_TYPE_ETHERNET: u32 = 6;

/// The fields of `if_counters`, in wire order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfCounters {
    /// ifIndex.
    pub if_index: u32,
    /// ifType (6, ethernetCsmacd).
    pub if_type: u32,
    /// ifSpeed in bits per second (0 when unknown).
    pub if_speed: u64,
    /// 0 unknown, 1 full duplex, 2 half duplex, 3 in, 4 out.
    pub if_direction: u32,
    /// Bit 0 ifAdminStatus up, bit 1 ifOperStatus up.
    pub if_status: u32,
    /// ifInOctets.
    pub in_octets: u64,
    /// ifInUcastPkts.
    pub in_ucast: u32,
    /// ifInMulticastPkts.
    pub in_multicast: u32,
    /// ifInBroadcastPkts.
    pub in_broadcast: u32,
    /// ifInDiscards.
    pub in_discards: u32,
    /// ifInErrors.
    pub in_errors: u32,
    /// ifInUnknownProtos.
    pub in_unknown_protos: u32,
    /// ifOutOctets.
    pub out_octets: u64,
    /// ifOutUcastPkts.
    pub out_ucast: u32,
    /// ifOutMulticastPkts.
    pub out_multicast: u32,
    /// ifOutBroadcastPkts.
    pub out_broadcast: u32,
    /// ifOutDiscards.
    pub out_discards: u32,
    /// ifOutErrors.
    pub out_errors: u32,
    /// ifPromiscuousMode (1 true, 2 false, as the MIB's TruthValue).
    pub promiscuous: u32,
}

impl IfCounters {
    /// Counters of a capture's interface before its first frame: up, speed unknown.
    pub fn capture(if_index: u32) -> IfCounters {
        IfCounters {
            if_index,
            if_type: IF_TYPE_ETHERNET,
            if_status: 3,
            promiscuous: 2,
            ..IfCounters::default()
        }
    }

    /// Counts one received frame of `octets` octets. An Ethernet destination MAC (given
    /// for Ethernet frames) tells unicast, multicast (group bit) and broadcast apart;
    /// other frames count as unicast.
    pub fn count_received(&mut self, octets: u32, dst_mac: Option<[u8; 6]>) {
        self.in_octets = self.in_octets.wrapping_add(u64::from(octets));
        let counter = match dst_mac {
            Some([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) => &mut self.in_broadcast,
            Some(mac) if mac[0] & 1 == 1 => &mut self.in_multicast,
            _ => &mut self.in_ucast,
        };
        *counter = counter.wrapping_add(1);
    }

    /// Frames received, all kinds (wrapping as the 32-bit counters do).
    pub fn in_packets(&self) -> u32 {
        self.in_ucast
            .wrapping_add(self.in_multicast)
            .wrapping_add(self.in_broadcast)
    }

    /// Reads the kernel's counters of `ifname` from `/sys/class/net`.
    pub fn from_kernel(ifname: &str) -> io::Result<IfCounters> {
        IfCounters::from_sysfs(&Path::new("/sys/class/net").join(ifname))
    }

    /// Reads the counters from a `/sys/class/net/IFACE` directory.
    ///
    /// The kernel counts multicast received frames (`multicast`, which includes
    /// broadcast) but no broadcast apart, and no multicast sent: those are left in the
    /// unicast counters, so every frame is counted once.
    pub fn from_sysfs(dir: &Path) -> io::Result<IfCounters> {
        let read = |name: &str| -> io::Result<String> {
            std::fs::read_to_string(dir.join(name)).map(|s| s.trim().to_string())
        };
        let number = |name: &str| -> io::Result<u64> {
            let text = read(&format!("statistics/{name}"))?;
            text.parse().map_err(|_| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "{}/statistics/{name}: not a number: {text:?}",
                        dir.display()
                    ),
                )
            })
        };
        let if_index = read("ifindex")?.parse().unwrap_or(0);
        let flags = read("flags")
            .ok()
            .and_then(|f| u32::from_str_radix(f.trim_start_matches("0x"), 16).ok())
            .unwrap_or(0);
        let admin_up = flags & 0x1 != 0; // IFF_UP
        let promiscuous = flags & 0x100 != 0; // IFF_PROMISC
        let oper_up = read("operstate").is_ok_and(|s| s == "up" || s == "unknown");
        // speed is in Mb/s; virtual devices say -1 or refuse the read.
        let if_speed = read("speed")
            .ok()
            .and_then(|s| s.parse::<i64>().ok())
            .filter(|&s| s > 0)
            .map_or(0, |s| s as u64 * 1_000_000);
        let if_direction = match read("duplex").as_deref() {
            Ok("full") => 1,
            Ok("half") => 2,
            _ => 0,
        };
        let rx_packets = number("rx_packets")?;
        let multicast = number("multicast")?;
        Ok(IfCounters {
            if_index,
            if_type: IF_TYPE_ETHERNET,
            if_speed,
            if_direction,
            if_status: u32::from(admin_up) | (u32::from(oper_up) << 1),
            in_octets: number("rx_bytes")?,
            in_ucast: rx_packets.saturating_sub(multicast) as u32,
            in_multicast: multicast as u32,
            in_broadcast: 0,
            in_discards: number("rx_dropped")? as u32,
            in_errors: number("rx_errors")? as u32,
            in_unknown_protos: 0,
            out_octets: number("tx_bytes")?,
            out_ucast: number("tx_packets")? as u32,
            out_multicast: 0,
            out_broadcast: 0,
            out_discards: number("tx_dropped")? as u32,
            out_errors: number("tx_errors")? as u32,
            promiscuous: if promiscuous { 1 } else { 2 },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_frames_by_destination_kind() {
        let mut c = IfCounters::capture(3);
        c.count_received(60, Some([0xff; 6]));
        c.count_received(70, Some([0x01, 0x00, 0x5e, 0, 0, 1]));
        c.count_received(80, Some([0x02, 0, 0, 0, 0, 1]));
        c.count_received(90, None);
        assert_eq!(c.in_octets, 300);
        assert_eq!((c.in_ucast, c.in_multicast, c.in_broadcast), (2, 1, 1));
        assert_eq!(c.in_packets(), 4);
        assert_eq!((c.if_index, c.if_status), (3, 3));
    }

    #[test]
    fn reads_a_sysfs_directory() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("statistics")).unwrap();
        for (name, value) in [
            ("ifindex", "7"),
            ("flags", "0x1103"),
            ("operstate", "up"),
            ("speed", "10000"),
            ("duplex", "full"),
            ("statistics/rx_packets", "5000000000"),
            ("statistics/multicast", "10"),
            ("statistics/rx_bytes", "123456789012"),
            ("statistics/rx_dropped", "1"),
            ("statistics/rx_errors", "2"),
            ("statistics/tx_bytes", "99"),
            ("statistics/tx_packets", "3"),
            ("statistics/tx_dropped", "4"),
            ("statistics/tx_errors", "5"),
        ] {
            std::fs::write(d.join(name), format!("{value}\n")).unwrap();
        }
        let c = IfCounters::from_sysfs(d).unwrap();
        assert_eq!(c.if_index, 7);
        assert_eq!(c.if_speed, 10_000_000_000);
        assert_eq!((c.if_direction, c.if_status, c.promiscuous), (1, 3, 1));
        assert_eq!(c.in_octets, 123_456_789_012);
        // 5e9 - 10 frames, cut to 32 bits as the wire field is.
        assert_eq!(c.in_ucast, (5_000_000_000u64 - 10) as u32);
        assert_eq!((c.in_multicast, c.in_discards, c.in_errors), (10, 1, 2));
        assert_eq!(
            (c.out_octets, c.out_ucast, c.out_discards, c.out_errors),
            (99, 3, 4, 5)
        );
        std::fs::write(d.join("statistics/rx_bytes"), "lots\n").unwrap();
        let e = IfCounters::from_sysfs(d).unwrap_err();
        assert!(e.to_string().contains("rx_bytes: not a number"), "{e}");
    }

    #[test]
    fn reads_loopback_from_the_kernel() {
        let c = IfCounters::from_kernel("lo").unwrap();
        assert_eq!(c.if_index, 1);
        assert!(c.in_octets >= u64::from(c.in_packets()));
    }
}
