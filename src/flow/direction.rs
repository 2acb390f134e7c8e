//! Direction on a SPAN port: which way a flow crossed the monitored network's edge, and
//! the interface numbers to export for it, decided from configured rules.
//!
//! A router knows a packet's input and output interface; a probe on a SPAN port or a tap
//! sees both directions of many links on one port and knows neither. What it can know is
//! what the operator tells it about the site, as three rules tried in this order, the
//! first that decides wins:
//!
//! 1. **Gateway MACs** (`gateway_macs`). A frame whose destination MAC is a gateway and
//!    whose source MAC is not is leaving the local network: egress. A frame from a
//!    gateway MAC to a MAC that is not one is arriving: ingress. From one gateway to
//!    another (router to router) this rule does not decide.
//! 2. **VLANs** (`ingress_vlans`, `egress_vlans`). SPAN and RSPAN sessions often mirror
//!    the received and the sent traffic of a port into different VLANs: a frame whose
//!    outermost VLAN id is an ingress VLAN travelled in, one on an egress VLAN travelled
//!    out.
//! 3. **Local networks** (`local_networks`). Source local and destination not: egress.
//!    Source not local and destination local: ingress. Both local (internal traffic) or
//!    neither (transit) does not decide: such a flow never crossed the edge the rules
//!    describe, so on a SPAN port it has no direction.
//!
//! One guard comes before all three: a flow whose source and destination are both in
//! `local_networks` is internal and gets no direction from any rule. An edge router
//! often routes between local subnets too, so internal traffic is addressed to its MAC
//! (and may be mirrored into a direction VLAN); without the guard it would read as
//! leaving and arriving.
//!
//! The order goes from the most direct evidence to the least: the MAC pair names the
//! router hop the frame took; a VLAN names the mirror session, which may carry several
//! links; addresses are an inference (an unlisted subnet, NAT or a spoofed source fool
//! them). When a rule decides, the record's `direction` is set and, when interface numbers
//! are configured, `key.in_if` and `egress_if` too (ingress: in = outside, out = inside;
//! egress: in = inside, out = outside). When none decides the record is left untouched.
//!
//! The rules run once per record, in the exporter thread, never per packet. They read
//! the record as its key reads: for a biflow, the initiator's direction (the exporter
//! flips it for the reverse half). The cache keys a biflow whose first packet was an
//! answer by the initiator's direction and swaps its MACs to match, but keeps the
//! answer's VLAN; so when a biflow record holds only reverse packets, its VLAN is that of
//! the responder's frames and the VLAN rule's answer is turned around. (With direction
//! VLANs the two directions of a conversation travel on two VLANs, so they are two flow
//! keys and never pair into one biflow.) Lookups do not scan lists: VLANs are a 4096-bit set,
//! gateway MACs a sorted list searched by bisection, and local networks are merged into
//! sorted, disjoint address ranges (one table for IPv4, one for IPv6) searched by
//! bisection, so a list of thousands of networks costs a dozen comparisons.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use super::record::{FlowDirection, FlowRecord};

/// An IP network in CIDR notation, host bits zero (`10.0.0.0/8`, `2001:db8::/32`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Prefix {
    /// The network address.
    pub addr: IpAddr,
    /// Prefix length: 0 to 32 for IPv4, 0 to 128 for IPv6.
    pub len: u8,
}

/// Why a network could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PrefixError {
    /// The address part is not an IPv4 or IPv6 address.
    #[error("not an IP network: write ADDRESS/LENGTH, such as 10.0.0.0/8 or 2001:db8::/32")]
    NotAnAddress,
    /// The length is not a number within the address family's bits.
    #[error("the prefix length must be a number from 0 to {max}")]
    BadLength {
        /// 32 or 128.
        max: u8,
    },
    /// Bits beyond the prefix length are set (`10.1.2.3/8`).
    #[error("host bits are set beyond the prefix length; did you mean {network}?")]
    HostBits {
        /// The network the text most likely meant.
        network: String,
    },
}

impl Prefix {
    /// The bits of the address (IPv4 in the low 32 bits) and the family's width.
    fn bits(addr: IpAddr) -> (u128, u8) {
        match addr {
            IpAddr::V4(a) => (u128::from(u32::from(a)), 32),
            IpAddr::V6(a) => (u128::from(a), 128),
        }
    }

    /// The mask of the host bits within the family's width.
    fn host_mask(len: u8, width: u8) -> u128 {
        let host = u32::from(width - len.min(width));
        if host == 0 {
            0
        } else {
            u128::MAX >> (128 - host)
        }
    }

    /// The first and last address of the network, as bits.
    fn range(&self) -> (u128, u128) {
        let (bits, width) = Prefix::bits(self.addr);
        let host = Prefix::host_mask(self.len, width);
        (bits & !host, bits | host)
    }
}

impl FromStr for Prefix {
    type Err = PrefixError;

    /// `ADDRESS/LENGTH`, or a bare address (one host: /32 or /128).
    fn from_str(text: &str) -> Result<Prefix, PrefixError> {
        let text = text.trim();
        let (addr, len) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| PrefixError::NotAnAddress)?;
        let (bits, width) = Prefix::bits(addr);
        let len = match len {
            None => width,
            Some(l) => match l.parse::<u8>() {
                Ok(n) if n <= width && !l.starts_with('+') => n,
                _ => return Err(PrefixError::BadLength { max: width }),
            },
        };
        let host = Prefix::host_mask(len, width);
        if bits & host != 0 {
            let network = Prefix {
                addr: from_bits(bits & !host, width),
                len,
            };
            return Err(PrefixError::HostBits {
                network: network.to_string(),
            });
        }
        Ok(Prefix { addr, len })
    }
}

impl fmt::Display for Prefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

fn from_bits(bits: u128, width: u8) -> IpAddr {
    if width == 32 {
        IpAddr::V4((bits as u32).into())
    } else {
        IpAddr::V6(bits.into())
    }
}

/// A MAC address (`00:1b:21:3a:4f:01`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddr(pub [u8; 6]);

/// Why a MAC address could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MacError {
    /// Not six hex bytes in a known notation.
    #[error(
        "not a MAC address: write six hex bytes, such as 00:1b:21:3a:4f:01, \
         00-1b-21-3a-4f-01 or 001b.213a.4f01"
    )]
    Syntax,
    /// A group (multicast or broadcast) address: no router sends from one.
    #[error("a multicast or broadcast address (the first byte is odd) is no router's MAC")]
    Group,
}

impl FromStr for MacAddr {
    type Err = MacError;

    /// Colon or dash separated bytes (`00:1b:21:3a:4f:01`), or Cisco's dotted groups of
    /// four hex digits (`001b.213a.4f01`).
    fn from_str(text: &str) -> Result<MacAddr, MacError> {
        let text = text.trim();
        let digits: String = if text.contains('.') {
            let groups: Vec<&str> = text.split('.').collect();
            if groups.len() != 3 || groups.iter().any(|g| g.len() != 4) {
                return Err(MacError::Syntax);
            }
            groups.concat()
        } else {
            let sep = if text.contains('-') { '-' } else { ':' };
            let parts: Vec<&str> = text.split(sep).collect();
            if parts.len() != 6 || parts.iter().any(|p| p.len() != 2) {
                return Err(MacError::Syntax);
            }
            parts.concat()
        };
        if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(MacError::Syntax);
        }
        let mut mac = [0u8; 6];
        for (i, byte) in mac.iter_mut().enumerate() {
            *byte = u8::from_str_radix(digits.get(2 * i..2 * i + 2).ok_or(MacError::Syntax)?, 16)
                .map_err(|_| MacError::Syntax)?;
        }
        if mac[0] & 1 == 1 {
            return Err(MacError::Group);
        }
        Ok(MacAddr(mac))
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

/// The interface numbers exported for the two sides of the monitored edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeInterfaces {
    /// The outside (towards the rest of the world): ingress flows come in here.
    pub outside: u32,
    /// The inside (the local network): egress flows come in here.
    pub inside: u32,
}

/// The direction rules as configured (`[direction]`), validated. The default has no rule:
/// every record is left as metered.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DirectionConfig {
    /// Local networks, IPv4 and IPv6.
    pub local_networks: Vec<Prefix>,
    /// Frames on these outermost VLAN ids travelled into the local network.
    pub ingress_vlans: Vec<u16>,
    /// Frames on these outermost VLAN ids travelled out of the local network.
    pub egress_vlans: Vec<u16>,
    /// MACs of the routers at the edge of the local network.
    pub gateway_macs: Vec<MacAddr>,
    /// Interface numbers to export when a rule decides; `None` keeps the capture
    /// interface as the ingress interface and the egress interface unknown (0).
    pub interfaces: Option<EdgeInterfaces>,
}

impl DirectionConfig {
    /// Whether no rule is configured (the rules would never decide).
    pub fn is_empty(&self) -> bool {
        self.local_networks.is_empty()
            && self.ingress_vlans.is_empty()
            && self.egress_vlans.is_empty()
            && self.gateway_macs.is_empty()
    }
}

/// Which rule decided a record's direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// `gateway_macs`.
    GatewayMac,
    /// `ingress_vlans` / `egress_vlans`.
    Vlan,
    /// `local_networks`.
    LocalNetworks,
}

/// Sorted, disjoint, non-adjacent inclusive ranges of addresses: membership by bisection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct RangeSet {
    ranges: Vec<(u128, u128)>,
}

impl RangeSet {
    fn new(mut ranges: Vec<(u128, u128)>) -> RangeSet {
        ranges.sort_unstable();
        let mut merged: Vec<(u128, u128)> = Vec::with_capacity(ranges.len());
        for (start, end) in ranges {
            match merged.last_mut() {
                // Overlapping or adjacent: one range.
                Some(last) if start <= last.1.saturating_add(1) => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        RangeSet { ranges: merged }
    }

    fn contains(&self, addr: u128) -> bool {
        // The ranges starting at or before `addr`; only the last of them can hold it.
        let n = self.ranges.partition_point(|&(start, _)| start <= addr);
        n > 0 && self.ranges.get(n - 1).is_some_and(|&(_, end)| addr <= end)
    }
}

/// A set of VLAN ids (0 to 4095) as 4096 bits.
#[derive(Clone, Debug, PartialEq, Eq)]
struct VlanSet([u64; 64]);

impl VlanSet {
    fn new(vlans: &[u16]) -> VlanSet {
        let mut bits = [0u64; 64];
        for &v in vlans {
            if let Some(word) = bits.get_mut(usize::from(v >> 6)) {
                *word |= 1 << (v & 63);
            }
        }
        VlanSet(bits)
    }

    fn contains(&self, vlan: u16) -> bool {
        self.0
            .get(usize::from(vlan >> 6))
            .is_some_and(|w| w & (1 << (vlan & 63)) != 0)
    }
}

/// The compiled rules, applied to every record before any output sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectionRules {
    v4: RangeSet,
    v6: RangeSet,
    has_networks: bool,
    ingress_vlans: VlanSet,
    egress_vlans: VlanSet,
    gateway_macs: Vec<[u8; 6]>,
    interfaces: Option<EdgeInterfaces>,
    empty: bool,
}

impl Default for DirectionRules {
    fn default() -> DirectionRules {
        DirectionRules::new(&DirectionConfig::default())
    }
}

impl DirectionRules {
    /// Compiles `config` into lookup tables.
    pub fn new(config: &DirectionConfig) -> DirectionRules {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for p in &config.local_networks {
            match p.addr {
                IpAddr::V4(_) => v4.push(p.range()),
                IpAddr::V6(_) => v6.push(p.range()),
            }
        }
        let mut gateway_macs: Vec<[u8; 6]> = config.gateway_macs.iter().map(|m| m.0).collect();
        gateway_macs.sort_unstable();
        gateway_macs.dedup();
        DirectionRules {
            v4: RangeSet::new(v4),
            v6: RangeSet::new(v6),
            has_networks: !config.local_networks.is_empty(),
            ingress_vlans: VlanSet::new(&config.ingress_vlans),
            egress_vlans: VlanSet::new(&config.egress_vlans),
            gateway_macs,
            interfaces: config.interfaces,
            empty: config.is_empty(),
        }
    }

    /// Whether there is no rule (every record is left untouched).
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// Whether `addr` (as a flow key holds it: IPv4 in the first four bytes) is in a
    /// local network.
    pub fn is_local(&self, ip_version: u8, addr: &[u8; 16]) -> bool {
        if ip_version == 4 {
            let v4 = u32::from_be_bytes([addr[0], addr[1], addr[2], addr[3]]);
            self.v4.contains(u128::from(v4))
        } else {
            self.v6.contains(u128::from_be_bytes(*addr))
        }
    }

    fn is_gateway(&self, mac: &[u8; 6]) -> bool {
        self.gateway_macs.binary_search(mac).is_ok()
    }

    /// The direction of `record` as its key reads, and the rule that decided it; `None`
    /// when no rule decides.
    pub fn classify(&self, record: &FlowRecord) -> Option<(FlowDirection, Rule)> {
        if self.empty {
            return None;
        }
        let k = &record.key;
        let (src_local, dst_local) = if self.has_networks {
            (
                self.is_local(k.ip_version, &k.src),
                self.is_local(k.ip_version, &k.dst),
            )
        } else {
            (false, false)
        };
        if src_local && dst_local {
            // Internal: it never crossed the edge the rules describe.
            return None;
        }
        if !self.gateway_macs.is_empty() {
            match (
                self.is_gateway(&record.src_mac),
                self.is_gateway(&record.dst_mac),
            ) {
                (false, true) => return Some((FlowDirection::Egress, Rule::GatewayMac)),
                (true, false) => return Some((FlowDirection::Ingress, Rule::GatewayMac)),
                _ => {}
            }
        }
        let vlan = if self.ingress_vlans.contains(k.vlan) {
            Some(FlowDirection::Ingress)
        } else if self.egress_vlans.contains(k.vlan) {
            Some(FlowDirection::Egress)
        } else {
            None
        };
        if let Some(d) = vlan {
            // A biflow keyed by its initiator but made of the responder's frames only:
            // the VLAN is theirs, and they travelled the other way.
            let only_reverse = record.packets == 0 && record.reverse.is_some_and(|r| r.packets > 0);
            let d = match (d, only_reverse) {
                (FlowDirection::Ingress, true) => FlowDirection::Egress,
                (FlowDirection::Egress, true) => FlowDirection::Ingress,
                (d, _) => d,
            };
            return Some((d, Rule::Vlan));
        }
        match (src_local, dst_local) {
            (true, false) => Some((FlowDirection::Egress, Rule::LocalNetworks)),
            (false, true) => Some((FlowDirection::Ingress, Rule::LocalNetworks)),
            _ => None,
        }
    }

    /// Sets `record.direction` (and the interfaces, when configured) if a rule decides;
    /// returns the rule. A record no rule decides is left untouched.
    pub fn apply(&self, record: &mut FlowRecord) -> Option<Rule> {
        let (direction, rule) = self.classify(record)?;
        record.direction = direction;
        if let Some(i) = self.interfaces {
            let (input, output) = match direction {
                FlowDirection::Ingress => (i.outside, i.inside),
                FlowDirection::Egress => (i.inside, i.outside),
                FlowDirection::Unknown => return Some(rule),
            };
            record.key.in_if = input;
            record.egress_if = output;
        }
        Some(rule)
    }

    /// Applies the rules to every record of a batch.
    pub fn apply_all(&self, records: &mut [FlowRecord]) {
        if self.empty {
            return;
        }
        for r in records {
            self.apply(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::key::FlowKey;
    use crate::time::Timestamp;

    const GW: [u8; 6] = [0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x01];
    const GW2: [u8; 6] = [0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x02];
    const HOST: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x07];
    const HOST2: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x08];

    fn record(src: &str, dst: &str, vlan: u16, src_mac: [u8; 6], dst_mac: [u8; 6]) -> FlowRecord {
        let mut key = FlowKey {
            in_if: 3,
            vlan,
            proto: 6,
            ..FlowKey::default()
        };
        key.set_addrs(src.parse().unwrap(), dst.parse().unwrap());
        FlowRecord {
            packets: 1,
            octets: 40,
            min_ttl: 64,
            max_ttl: 64,
            src_mac,
            dst_mac,
            ..FlowRecord::new(key, Timestamp::ZERO, Timestamp::ZERO)
        }
    }

    fn nets(list: &[&str]) -> Vec<Prefix> {
        list.iter().map(|p| p.parse().unwrap()).collect()
    }

    fn networks_only() -> DirectionRules {
        DirectionRules::new(&DirectionConfig {
            local_networks: nets(&["10.0.0.0/8", "192.168.1.0/24", "2001:db8:10::/48"]),
            ..DirectionConfig::default()
        })
    }

    fn dir(rules: &DirectionRules, r: &FlowRecord) -> Option<(FlowDirection, Rule)> {
        rules.classify(r)
    }

    use FlowDirection::{Egress, Ingress};

    #[test]
    fn prefixes_parse_and_reject_with_reasons() {
        let p: Prefix = "10.0.0.0/8".parse().unwrap();
        assert_eq!(p.to_string(), "10.0.0.0/8");
        assert_eq!(p.range(), (0x0a00_0000, 0x0aff_ffff));
        let host: Prefix = "192.0.2.7".parse().unwrap();
        assert_eq!(host.len, 32);
        let v6: Prefix = "2001:db8::/32".parse().unwrap();
        assert_eq!(v6.len, 32);
        let all: Prefix = "0.0.0.0/0".parse().unwrap();
        assert_eq!(all.range(), (0, 0xffff_ffff));
        let all6: Prefix = "::/0".parse().unwrap();
        assert_eq!(all6.range(), (0, u128::MAX));
        assert_eq!(
            "10.1.2.3/8".parse::<Prefix>(),
            Err(PrefixError::HostBits {
                network: "10.0.0.0/8".into()
            })
        );
        assert_eq!(
            "2001:db8::1/32".parse::<Prefix>(),
            Err(PrefixError::HostBits {
                network: "2001:db8::/32".into()
            })
        );
        for (bad, max) in [("10.0.0.0/33", 32), ("::/129", 128), ("10.0.0.0/", 32)] {
            assert_eq!(bad.parse::<Prefix>(), Err(PrefixError::BadLength { max }));
        }
        assert_eq!(
            "10.0.0.0/+8".parse::<Prefix>(),
            Err(PrefixError::BadLength { max: 32 })
        );
        for bad in ["10.0.0/8", "", "eth0", "10.0.0.0.0/8"] {
            assert_eq!(
                bad.parse::<Prefix>(),
                Err(PrefixError::NotAnAddress),
                "{bad}"
            );
        }
    }

    #[test]
    fn macs_parse_in_three_notations() {
        let want = MacAddr(GW);
        for text in [
            "00:1b:21:3a:4f:01",
            "00-1B-21-3A-4F-01",
            "001b.213a.4f01",
            " 00:1b:21:3a:4f:01 ",
        ] {
            assert_eq!(text.parse::<MacAddr>(), Ok(want), "{text}");
        }
        assert_eq!(want.to_string(), "00:1b:21:3a:4f:01");
        for bad in [
            "00:1b:21:3a:4f",
            "00:1b:21:3a:4f:01:02",
            "0:1b:21:3a:4f:01",
            "00:1b:21:3a:4f:zz",
            "001b.213a",
            "00:1b-21:3a:4f:01",
            "",
        ] {
            assert_eq!(bad.parse::<MacAddr>(), Err(MacError::Syntax), "{bad}");
        }
        assert_eq!("ff:ff:ff:ff:ff:ff".parse::<MacAddr>(), Err(MacError::Group));
        assert_eq!("01:00:5e:00:00:01".parse::<MacAddr>(), Err(MacError::Group));
    }

    #[test]
    fn local_networks_rule() {
        let r = networks_only();
        // Out of a local network to the world: egress; the reverse: ingress.
        let out = record("10.1.2.3", "203.0.113.9", 0, HOST, HOST2);
        assert_eq!(dir(&r, &out), Some((Egress, Rule::LocalNetworks)));
        let into = record("203.0.113.9", "192.168.1.20", 0, HOST, HOST2);
        assert_eq!(dir(&r, &into), Some((Ingress, Rule::LocalNetworks)));
        // Internal (both local) and transit (neither): no direction.
        assert_eq!(
            dir(&r, &record("10.1.2.3", "192.168.1.20", 0, HOST, HOST2)),
            None
        );
        assert_eq!(
            dir(&r, &record("203.0.113.9", "198.51.100.1", 0, HOST, HOST2)),
            None
        );
        // IPv6.
        let out6 = record("2001:db8:10:5::1", "2001:db8:99::1", 0, HOST, HOST2);
        assert_eq!(dir(&r, &out6), Some((Egress, Rule::LocalNetworks)));
        let in6 = record("2001:db8:11::1", "2001:db8:10:ffff::1", 0, HOST, HOST2);
        assert_eq!(dir(&r, &in6), Some((Ingress, Rule::LocalNetworks)));
        // An IPv4 network never matches an IPv6 address that shares its bytes.
        let v6_lookalike = record("a00::1", "2001:db8:99::1", 0, HOST, HOST2);
        assert_eq!(dir(&r, &v6_lookalike), None);
        // Edges of a network.
        assert!(r.is_local(4, &record("192.168.1.0", "1.1.1.1", 0, HOST, HOST).key.src));
        assert!(r.is_local(
            4,
            &record("192.168.1.255", "1.1.1.1", 0, HOST, HOST).key.src
        ));
        assert!(!r.is_local(4, &record("192.168.2.0", "1.1.1.1", 0, HOST, HOST).key.src));
        assert!(!r.is_local(
            4,
            &record("192.168.0.255", "1.1.1.1", 0, HOST, HOST).key.src
        ));
    }

    #[test]
    fn vlan_rule() {
        let r = DirectionRules::new(&DirectionConfig {
            ingress_vlans: vec![901, 4094],
            egress_vlans: vec![902],
            ..DirectionConfig::default()
        });
        let rec = |vlan| record("10.1.2.3", "203.0.113.9", vlan, HOST, HOST2);
        assert_eq!(dir(&r, &rec(901)), Some((Ingress, Rule::Vlan)));
        assert_eq!(dir(&r, &rec(4094)), Some((Ingress, Rule::Vlan)));
        assert_eq!(dir(&r, &rec(902)), Some((Egress, Rule::Vlan)));
        assert_eq!(dir(&r, &rec(900)), None);
        assert_eq!(dir(&r, &rec(0)), None);
        assert_eq!(dir(&r, &rec(4095)), None);
        // A biflow record of the responder's frames only (the cache saw the SYN-ACK on
        // the egress VLAN first and keyed the record by the initiator): ingress.
        let mut answer_only = rec(902);
        answer_only.packets = 0;
        answer_only.reverse = Some(crate::flow::record::ReverseCounters {
            packets: 3,
            ..Default::default()
        });
        assert_eq!(dir(&r, &answer_only), Some((Ingress, Rule::Vlan)));
        // Once the initiator's own frames are in it, the VLAN is theirs.
        answer_only.packets = 1;
        assert_eq!(dir(&r, &answer_only), Some((Egress, Rule::Vlan)));
        // A biflow with nothing in reverse reads as a uniflow.
        let mut forward_only = rec(901);
        forward_only.reverse = Some(Default::default());
        assert_eq!(dir(&r, &forward_only), Some((Ingress, Rule::Vlan)));
    }

    #[test]
    fn gateway_mac_rule() {
        let r = DirectionRules::new(&DirectionConfig {
            gateway_macs: vec![MacAddr(GW), MacAddr(GW2)],
            ..DirectionConfig::default()
        });
        let rec = |s, d| record("10.1.2.3", "203.0.113.9", 0, s, d);
        assert_eq!(dir(&r, &rec(HOST, GW)), Some((Egress, Rule::GatewayMac)));
        assert_eq!(dir(&r, &rec(GW2, HOST)), Some((Ingress, Rule::GatewayMac)));
        // Router to router, and host to host: not decided by this rule.
        assert_eq!(dir(&r, &rec(GW, GW2)), None);
        assert_eq!(dir(&r, &rec(HOST, HOST2)), None);
    }

    #[test]
    fn first_rule_that_decides_wins() {
        let r = DirectionRules::new(&DirectionConfig {
            local_networks: nets(&["10.0.0.0/8"]),
            ingress_vlans: vec![901],
            egress_vlans: vec![902],
            gateway_macs: vec![MacAddr(GW), MacAddr(GW2)],
            interfaces: None,
        });
        // Addresses say egress, VLAN says ingress, MAC says ingress: MAC wins.
        let a = record("10.1.2.3", "203.0.113.9", 901, GW, HOST);
        assert_eq!(dir(&r, &a), Some((Ingress, Rule::GatewayMac)));
        // MAC says egress, VLAN says ingress: MAC wins.
        let b = record("203.0.113.9", "10.1.2.3", 901, HOST, GW);
        assert_eq!(dir(&r, &b), Some((Egress, Rule::GatewayMac)));
        // Router to router: the MAC rule passes, the VLAN decides over the addresses.
        let c = record("10.1.2.3", "203.0.113.9", 901, GW, GW2);
        assert_eq!(dir(&r, &c), Some((Ingress, Rule::Vlan)));
        // No MAC, no VLAN: the addresses decide.
        let d = record("10.1.2.3", "203.0.113.9", 7, HOST, HOST2);
        assert_eq!(dir(&r, &d), Some((Egress, Rule::LocalNetworks)));
        // Nothing decides: transit between hosts on an unlisted VLAN.
        let e = record("203.0.113.9", "198.51.100.1", 7, HOST, HOST2);
        assert_eq!(dir(&r, &e), None);
        // Internal traffic routed by the gateway, even on a direction VLAN: no direction.
        let f = record("10.1.2.3", "10.9.9.9", 0, HOST, GW);
        assert_eq!(dir(&r, &f), None);
        let g = record("10.9.9.9", "10.1.2.3", 902, GW, HOST);
        assert_eq!(dir(&r, &g), None);
        // Without local networks there is no guard: the MAC decides.
        let macs_only = DirectionRules::new(&DirectionConfig {
            gateway_macs: vec![MacAddr(GW)],
            ..DirectionConfig::default()
        });
        assert_eq!(dir(&macs_only, &f), Some((Egress, Rule::GatewayMac)));
    }

    #[test]
    fn apply_sets_direction_and_interfaces_or_leaves_the_record_alone() {
        let mut config = DirectionConfig {
            local_networks: nets(&["10.0.0.0/8"]),
            ..DirectionConfig::default()
        };
        let r = DirectionRules::new(&config);
        let mut out = record("10.1.2.3", "203.0.113.9", 0, HOST, HOST2);
        assert_eq!(r.apply(&mut out), Some(Rule::LocalNetworks));
        assert_eq!(out.direction, Egress);
        assert_eq!(
            (out.key.in_if, out.egress_if),
            (3, 0),
            "no interfaces configured"
        );

        config.interfaces = Some(EdgeInterfaces {
            outside: 1,
            inside: 2,
        });
        let r = DirectionRules::new(&config);
        let mut out = record("10.1.2.3", "203.0.113.9", 0, HOST, HOST2);
        r.apply(&mut out);
        assert_eq!(
            (out.direction, out.key.in_if, out.egress_if),
            (Egress, 2, 1)
        );
        let mut into = record("203.0.113.9", "10.1.2.3", 0, HOST, HOST2);
        r.apply(&mut into);
        assert_eq!(
            (into.direction, into.key.in_if, into.egress_if),
            (Ingress, 1, 2)
        );
        let internal = record("10.1.2.3", "10.1.2.4", 0, HOST, HOST2);
        let mut touched = internal;
        assert_eq!(r.apply(&mut touched), None);
        assert_eq!(touched, internal, "a record no rule decides is untouched");

        let mut batch = [out, into, internal];
        batch[0].direction = FlowDirection::Unknown;
        r.apply_all(&mut batch);
        assert_eq!(batch[0].direction, Egress);
        assert_eq!(batch[2], internal);
    }

    #[test]
    fn no_rules_touch_nothing() {
        let r = DirectionRules::default();
        assert!(r.is_empty());
        let rec = record("10.1.2.3", "203.0.113.9", 901, GW, HOST);
        let mut copy = rec;
        assert_eq!(r.apply(&mut copy), None);
        assert_eq!(copy, rec);
    }

    #[test]
    fn overlapping_and_adjacent_networks_merge() {
        let set = RangeSet::new(vec![(10, 20), (15, 30), (31, 40), (50, 60), (0, 0)]);
        assert_eq!(set.ranges, [(0, 0), (10, 40), (50, 60)]);
        for (addr, inside) in [
            (0, true),
            (1, false),
            (9, false),
            (10, true),
            (40, true),
            (41, false),
            (55, true),
            (61, false),
            (u128::MAX, false),
        ] {
            assert_eq!(set.contains(addr), inside, "{addr}");
        }
        let full = RangeSet::new(vec![(0, u128::MAX), (5, 6)]);
        assert_eq!(full.ranges, [(0, u128::MAX)]);
        assert!(RangeSet::default().ranges.is_empty());
        assert!(!RangeSet::default().contains(0));
    }

    proptest::proptest! {
        /// Bisection over merged ranges agrees with checking every network in turn.
        #[test]
        fn lookup_equals_a_linear_scan(
            networks in proptest::collection::vec((proptest::prelude::any::<u32>(), 0u8..=32), 0..64),
            probes in proptest::collection::vec(proptest::prelude::any::<u32>(), 1..64),
        ) {
            let prefixes: Vec<Prefix> = networks
                .iter()
                .map(|&(bits, len)| {
                    let host = Prefix::host_mask(len, 32) as u32;
                    Prefix { addr: IpAddr::V4((bits & !host).into()), len }
                })
                .collect();
            let rules = DirectionRules::new(&DirectionConfig {
                local_networks: prefixes.clone(),
                ..DirectionConfig::default()
            });
            // Probe the network edges too, where an off-by-one would show.
            let mut addrs = probes.clone();
            for p in &prefixes {
                let (s, e) = p.range();
                addrs.extend([s as u32, e as u32, (s as u32).wrapping_sub(1), (e as u32).wrapping_add(1)]);
            }
            for a in addrs {
                let linear = prefixes.iter().any(|p| {
                    let (s, e) = p.range();
                    (s..=e).contains(&u128::from(a))
                });
                let mut key = [0u8; 16];
                key[..4].copy_from_slice(&a.to_be_bytes());
                proptest::prop_assert_eq!(rules.is_local(4, &key), linear, "{}", std::net::Ipv4Addr::from(a));
            }
        }
    }
}
