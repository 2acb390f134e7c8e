//! Fragment tracking: gives later IP fragments the ports of their datagram's first one.
//!
//! Only the first fragment of a datagram carries the transport header. Without tracking,
//! the later fragments would form a port-less flow of their own, and a flow that sent large
//! UDP datagrams (DNS, NFS, tunnels) would be split in two records with wrong ports.
//! This table maps (version, addresses, protocol, IP id) of a first fragment to its ports,
//! so later fragments join the same flow.
//!
//! Bounded in size and time: at most `capacity` datagrams are remembered, each for
//! `lifetime` of packet time (reassembly gives up after 30 s in Linux for IPv4; RFC 8200
//! says 60 s for IPv6: 30 s is used for both, and the oldest entries give way when full).
//! A later fragment that arrives before its first, or after the entry was dropped, keeps
//! ports 0 and is counted as `unmatched`; it is still metered, so no packet is lost.

use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasherDefault;
use std::time::Duration;

use rustc_hash::FxHasher;

use crate::decode::{Fragment, PacketMeta};
use crate::time::Timestamp;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct DatagramId {
    src: [u8; 16],
    dst: [u8; 16],
    id: u32,
    proto: u8,
    ip_version: u8,
}

impl DatagramId {
    fn of(meta: &PacketMeta, id: u32) -> DatagramId {
        DatagramId {
            src: meta.key.src,
            dst: meta.key.dst,
            id,
            proto: meta.key.proto,
            ip_version: meta.key.ip_version,
        }
    }
}

/// What the table keeps of a datagram.
#[derive(Clone, Copy, Debug)]
struct Datagram {
    src_port: u16,
    dst_port: u16,
    /// When its first fragment came.
    inserted: Timestamp,
    /// TCP: its header's length, once a fragment showed its data offset (0 until then).
    tcp_header: u8,
}

/// Counters of the fragment table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragmentStats {
    /// First fragments remembered.
    pub first: u64,
    /// Later fragments that found their first fragment's ports.
    pub matched: u64,
    /// Later fragments that did not (metered without ports).
    pub unmatched: u64,
    /// Entries dropped because the table was full.
    pub evicted: u64,
}

/// The bounded table of recent first fragments.
#[derive(Debug)]
pub struct FragmentTable {
    capacity: usize,
    lifetime: Duration,
    ports: HashMap<DatagramId, Datagram, BuildHasherDefault<FxHasher>>,
    order: VecDeque<(DatagramId, Timestamp)>,
    stats: FragmentStats,
}

impl Default for FragmentTable {
    fn default() -> Self {
        FragmentTable::new(65_536, Duration::from_secs(30))
    }
}

impl FragmentTable {
    /// A table remembering at most `capacity` datagrams for `lifetime` each.
    pub fn new(capacity: usize, lifetime: Duration) -> FragmentTable {
        FragmentTable {
            capacity: capacity.max(1),
            lifetime,
            ports: HashMap::default(),
            order: VecDeque::new(),
            stats: FragmentStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &FragmentStats {
        &self.stats
    }

    /// Remembers a first fragment's ports, or fills a later fragment's ports in `meta`.
    ///
    /// Inlined into the caller so a whole datagram (nearly every packet) costs one
    /// compare and a predicted branch; fragments take the out-of-line path.
    #[inline(always)]
    pub fn handle(&mut self, meta: &mut PacketMeta, now: Timestamp) {
        if meta.fragment != Fragment::None {
            self.handle_fragment(meta, now);
        }
    }

    /// `handle` for a fragment.
    #[cold]
    #[inline(never)]
    fn handle_fragment(&mut self, meta: &mut PacketMeta, now: Timestamp) {
        match meta.fragment {
            Fragment::None => {}
            Fragment::First { id } => {
                self.expire(now);
                if self.ports.len() >= self.capacity {
                    self.evict_oldest();
                }
                let key = DatagramId::of(meta, id);
                let datagram = Datagram {
                    src_port: meta.key.src_port,
                    dst_port: meta.key.dst_port,
                    inserted: now,
                    tcp_header: 0,
                };
                self.ports.insert(key, datagram);
                self.order.push_back((key, now));
                self.stats.first += 1;
            }
            Fragment::Later { id, .. } => {
                self.expire(now);
                match self.ports.get(&DatagramId::of(meta, id)) {
                    Some(d) => {
                        meta.key.src_port = d.src_port;
                        meta.key.dst_port = d.dst_port;
                        self.stats.matched += 1;
                    }
                    None => self.stats.unmatched += 1,
                }
            }
        }
    }

    /// The length of the TCP header of fragment `meta`'s segment: the header length
    /// `shown` by this fragment when it holds byte 12 of the header (remembered for the
    /// datagram's other fragments),
    /// unless an earlier fragment showed one, else 20. A tiny first fragment (an evasion
    /// trick) leaves part of the header to later ones, which are otherwise all payload.
    pub fn tcp_header_len(&mut self, meta: &PacketMeta, shown: Option<u8>) -> usize {
        let id = match meta.fragment {
            Fragment::First { id } | Fragment::Later { id, .. } => id,
            Fragment::None => return shown.map_or(20, usize::from),
        };
        let entry = self.ports.get_mut(&DatagramId::of(meta, id));
        match (shown, entry) {
            // The first fragment to show it decides: an overlapping one that says
            // otherwise (an evasion trick) does not change it.
            (_, Some(d)) if d.tcp_header != 0 => usize::from(d.tcp_header),
            (Some(h), Some(d)) => {
                d.tcp_header = h;
                usize::from(h)
            }
            (Some(h), None) => usize::from(h),
            (None, _) => 20,
        }
    }

    fn expire(&mut self, now: Timestamp) {
        while let Some(&(key, inserted)) = self.order.front() {
            if now.saturating_since(inserted) <= self.lifetime {
                break;
            }
            self.order.pop_front();
            self.remove_if_same(key, inserted);
        }
    }

    fn evict_oldest(&mut self) {
        while let Some((key, inserted)) = self.order.pop_front() {
            if self.remove_if_same(key, inserted) {
                self.stats.evicted += 1;
                return;
            }
        }
    }

    /// Removes `key` if the entry is the one inserted at `inserted` (a datagram id can be
    /// reused and re-inserted; the older queue entry must not remove the newer one).
    fn remove_if_same(&mut self, key: DatagramId, inserted: Timestamp) -> bool {
        if self.ports.get(&key).is_some_and(|e| e.inserted == inserted) {
            self.ports.remove(&key);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(fragment: Fragment, sport: u16, dport: u16) -> PacketMeta {
        let mut m = PacketMeta::default();
        m.key
            .set_addrs("198.18.0.1".parse().unwrap(), "198.18.0.2".parse().unwrap());
        m.key.proto = 17;
        m.key.src_port = sport;
        m.key.dst_port = dport;
        m.fragment = fragment;
        m
    }

    #[test]
    fn later_fragments_get_the_first_fragments_ports() {
        let mut t = FragmentTable::default();
        let mut first = frag(Fragment::First { id: 7 }, 5353, 53);
        t.handle(&mut first, Timestamp(0));
        let mut later = frag(Fragment::Later { id: 7, offset: 8 }, 0, 0);
        t.handle(&mut later, Timestamp(1));
        assert_eq!((later.key.src_port, later.key.dst_port), (5353, 53));
        let mut other = frag(Fragment::Later { id: 8, offset: 8 }, 0, 0);
        t.handle(&mut other, Timestamp(2));
        assert_eq!((other.key.src_port, other.key.dst_port), (0, 0));
        assert_eq!((t.stats().matched, t.stats().unmatched), (1, 1));
    }

    #[test]
    fn entries_expire_and_the_table_stays_bounded() {
        let mut t = FragmentTable::new(2, Duration::from_secs(30));
        for id in 0..3 {
            t.handle(&mut frag(Fragment::First { id }, 1, 2), Timestamp(0));
        }
        assert_eq!(t.stats().evicted, 1);
        assert!(t.ports.len() <= 2);
        let mut later = frag(Fragment::Later { id: 2, offset: 8 }, 0, 0);
        t.handle(&mut later, Timestamp(31_000_000_000));
        assert_eq!(later.key.src_port, 0, "entry older than 30 s is gone");
        assert!(t.ports.is_empty());
    }
}
