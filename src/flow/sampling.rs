//! Packet and flow sampling: which packets are metered when not all of them can be.
//!
//! - deterministic 1-in-N: every Nth packet a worker sees (count-based, as routers do);
//! - random 1-in-N: each packet kept with probability 1/N (a fixed-seed generator per
//!   worker, so a capture file gives the same records every run);
//! - flow-hash 1-in-N: a flow is kept or dropped whole, decided by a hash of its
//!   addresses and ports that ignores direction, so both directions of a conversation
//!   and every worker agree.
//!
//! Counters are not scaled up: a record counts the packets that were metered, and the
//! exporter announces the interval so the collector can scale (`--sample` docs).

use std::fmt;
use std::hash::Hasher;

use rustc_hash::FxHasher;

use super::key::FlowKey;

/// Which sampling method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamplingMode {
    /// Every packet is metered.
    None,
    /// Every Nth packet.
    Deterministic,
    /// Each packet with probability 1/N.
    Random,
    /// Whole flows, 1 in N, by a hash of the flow.
    FlowHash,
}

/// The sampling in force: a method and its interval N.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sampling {
    /// The method.
    pub mode: SamplingMode,
    /// 1-in-N; 1 with `SamplingMode::None`.
    pub interval: u32,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling {
            mode: SamplingMode::None,
            interval: 1,
        }
    }
}

impl fmt::Display for Sampling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            SamplingMode::None => f.write_str("none"),
            SamplingMode::Deterministic => write!(f, "deterministic:{}", self.interval),
            SamplingMode::Random => write!(f, "random:{}", self.interval),
            SamplingMode::FlowHash => write!(f, "flow:{}", self.interval),
        }
    }
}

impl std::str::FromStr for Sampling {
    type Err = String;

    /// `none`, `N` or `deterministic:N`, `random:N`, `flow:N` (N at least 1).
    fn from_str(s: &str) -> Result<Sampling, String> {
        let bad = || {
            format!("invalid sampling {s:?}: expected none, N, deterministic:N, random:N or flow:N")
        };
        if s == "none" {
            return Ok(Sampling::default());
        }
        let (mode, n) = match s.split_once(':') {
            None => (SamplingMode::Deterministic, s),
            Some(("deterministic", n)) => (SamplingMode::Deterministic, n),
            Some(("random", n)) => (SamplingMode::Random, n),
            Some(("flow", n)) | Some(("flow-hash", n)) => (SamplingMode::FlowHash, n),
            Some(_) => return Err(bad()),
        };
        let interval: u32 = n.parse().map_err(|_| bad())?;
        match interval {
            0 => Err(bad()),
            1 => Ok(Sampling::default()),
            _ => Ok(Sampling { mode, interval }),
        }
    }
}

/// One worker's sampler.
#[derive(Clone, Debug)]
pub struct Sampler {
    sampling: Sampling,
    count: u64,
    state: u64,
}

impl Sampler {
    /// A sampler for `sampling`; `seed` varies the random stream between workers.
    pub fn new(sampling: Sampling, seed: u64) -> Sampler {
        Sampler {
            sampling,
            count: 0,
            state: seed ^ 0x853c_49e6_748f_ea9b,
        }
    }

    /// The sampling in force.
    pub fn sampling(&self) -> Sampling {
        self.sampling
    }

    /// Whether the packet of flow `key` is metered.
    ///
    /// Inlined, so with sampling off a packet costs one compare and a branch that is
    /// always taken the same way; the sampling methods are out of line.
    #[inline(always)]
    pub fn keep(&mut self, key: &FlowKey) -> bool {
        self.sampling.mode == SamplingMode::None || self.keep_sampled(key)
    }

    /// `keep` when a sampling method is in force.
    #[inline(never)]
    fn keep_sampled(&mut self, key: &FlowKey) -> bool {
        let n = u64::from(self.sampling.interval.max(1));
        match self.sampling.mode {
            SamplingMode::None => true,
            SamplingMode::Deterministic => {
                self.count += 1;
                self.count % n == 1 % n
            }
            SamplingMode::Random => splitmix64(&mut self.state).is_multiple_of(n),
            SamplingMode::FlowHash => direction_free_hash(key).is_multiple_of(n),
        }
    }
}

/// One SplitMix64 step: the next pseudo-random number of the stream `state` (the random
/// samplers' generator: small, fast, and the same everywhere).
#[inline]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A hash of a flow's addresses, ports (ICMP type and code), protocol and VLAN that is
/// the same in both directions: the key and `FlowKey::reversed` hash alike, so an ICMP
/// echo request and its reply do too. The interface and ToS are left out, so that two
/// directions seen on different interfaces, or marked differently, still agree. Flow
/// sampling keeps or drops both directions by it; a biflow cache's dispatcher sends both
/// to one shard by it.
pub fn direction_free_hash(key: &FlowKey) -> u64 {
    let canonical = key.reversed().map_or(*key, |r| r.min(*key));
    let mut h = FxHasher::default();
    h.write(&canonical.src);
    h.write_u16(canonical.src_port);
    h.write(&canonical.dst);
    h.write_u16(canonical.dst_port);
    h.write_u8(key.proto);
    h.write_u16(key.vlan);
    // Fx leaves the low bits weak; fold the high ones in.
    let x = h.finish();
    x ^ (x >> 29) ^ (x >> 47)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(i: u32) -> FlowKey {
        let mut k = FlowKey {
            proto: 6,
            src_port: (i % 60_000) as u16,
            dst_port: 443,
            ..Default::default()
        };
        k.set_addrs(
            std::net::Ipv4Addr::from(0xc612_0000 + i).into(),
            "198.19.0.1".parse().unwrap(),
        );
        k
    }

    #[test]
    fn parses_specs() {
        assert_eq!(
            "100".parse::<Sampling>().unwrap(),
            Sampling {
                mode: SamplingMode::Deterministic,
                interval: 100
            }
        );
        assert_eq!(
            "random:8".parse::<Sampling>().unwrap().mode,
            SamplingMode::Random
        );
        assert_eq!(
            "flow:4".parse::<Sampling>().unwrap().mode,
            SamplingMode::FlowHash
        );
        assert_eq!("none".parse::<Sampling>().unwrap(), Sampling::default());
        for bad in ["0", "x:3", "random:", "random:-1", ""] {
            assert!(bad.parse::<Sampling>().is_err(), "{bad}");
        }
    }

    #[test]
    fn deterministic_keeps_exactly_one_in_n() {
        let mut s = Sampler::new("deterministic:10".parse().unwrap(), 0);
        let kept = (0..10_000).filter(|&i| s.keep(&key(i))).count();
        assert_eq!(kept, 1000);
    }

    #[test]
    fn random_keeps_about_one_in_n() {
        let mut s = Sampler::new("random:10".parse().unwrap(), 7);
        let kept = (0..100_000).filter(|&i| s.keep(&key(i))).count();
        // Binomial(100000, 0.1): sd about 95; 6 sd either way.
        assert!((9_430..=10_570).contains(&kept), "{kept}");
    }

    #[test]
    fn direction_free_hash_keeps_whole_flows_in_both_directions() {
        let mut a = Sampler::new("flow:4".parse().unwrap(), 1);
        let mut b = Sampler::new("flow:4".parse().unwrap(), 2);
        let mut kept = 0;
        for i in 0..20_000 {
            let k = key(i);
            let mut reverse = k;
            std::mem::swap(&mut reverse.src, &mut reverse.dst);
            std::mem::swap(&mut reverse.src_port, &mut reverse.dst_port);
            let decision = a.keep(&k);
            assert_eq!(decision, a.keep(&k), "same flow, same decision");
            assert_eq!(Some(reverse), k.reversed());
            assert_eq!(
                decision,
                b.keep(&reverse),
                "other worker, other direction, same decision"
            );
            kept += usize::from(decision);
        }
        assert!((4_400..=5_600).contains(&kept), "{kept}");
    }

    #[test]
    fn icmp_echo_request_and_reply_hash_alike_and_interfaces_do_not_matter() {
        let mut request = key(0);
        request.proto = crate::flow::key::PROTO_ICMP;
        request.ip_version = 4;
        request.src_port = 0;
        request.dst_port = 8 << 8;
        let reply = request.reversed().unwrap();
        assert_eq!(reply.dst_port, 0);
        assert_eq!(direction_free_hash(&request), direction_free_hash(&reply));
        let mut elsewhere = reply;
        elsewhere.in_if = 9;
        elsewhere.tos = 0x20;
        assert_eq!(
            direction_free_hash(&request),
            direction_free_hash(&elsewhere)
        );
        let mut unreachable = request;
        unreachable.dst_port = 3 << 8 | 1;
        assert_ne!(
            direction_free_hash(&request),
            direction_free_hash(&unreachable)
        );
    }
}
