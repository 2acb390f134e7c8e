//! `max_flows = "auto"`: the flow cache's bound sized from the memory the probe may use.
//!
//! A fixed default is wrong on both ends: a million flows is too many for a 256 MiB
//! container and too few for a 64 GiB sensor on a busy link. The auto size gives the cache
//! [`MEMORY_FRACTION`] of the memory available, at [`BYTES_PER_FLOW`] (the peak resident
//! set per flow that `cargo bench --bench memory` measured at 1M flows), clamped to
//! [`MIN_AUTO_FLOWS`]..=[`MAX_AUTO_FLOWS`].
//!
//! "Available" is the lower of the machine's `MemTotal` and the memory limit of the
//! process's cgroup: v2 `memory.max` (where `max` means no limit) or v1
//! `memory.limit_in_bytes` (where a huge number means none). A probe in a container with
//! a 512 MiB limit must size itself to that, not to the host's RAM.
//!
//! The arithmetic ([`flows_for_memory`]) and the file parsers ([`parse_meminfo`],
//! [`parse_cgroup_limit`]) are pure functions, tested on given sizes and texts; only
//! [`machine_auto`] reads the files (once per process).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Share of the available memory the auto size gives the flow cache: one eighth. The rest
/// is for the capture rings (64 MiB per worker by default), export buffers and whatever
/// else runs on the machine; a cache that holds `max_flows` flows uses this much at most.
pub const MEMORY_FRACTION: u64 = 8;

/// Peak resident bytes per active flow: 122.6 measured by `cargo bench --bench memory`
/// (one shard filled with 1M flows, growth of VmHWM), rounded up.
pub const BYTES_PER_FLOW: u64 = 123;

/// The auto size never goes below this (8 MiB of cache): with less memory than that
/// implies (64 MiB), the probe is mis-deployed anyway, and fewer flows split every record.
pub const MIN_AUTO_FLOWS: u64 = 1 << 16;

/// The auto size never goes above this (about 16 GiB of cache, reached with 128 GiB of
/// memory): more flows than that alive at once within an idle timeout is not traffic a
/// single host meters, and a larger table only delays the "lack of resources" signal.
pub const MAX_AUTO_FLOWS: u64 = 1 << 27;

/// Used when no memory size can be read (not Linux, no /proc): the old fixed default.
pub const FALLBACK_FLOWS: u64 = 1 << 20;

/// Flows the auto size gives for `memory` bytes available.
pub fn flows_for_memory(memory: u64) -> u64 {
    (memory / MEMORY_FRACTION / BYTES_PER_FLOW).clamp(MIN_AUTO_FLOWS, MAX_AUTO_FLOWS)
}

/// `MemTotal` from the text of `/proc/meminfo`, in bytes (the file says `kB`, meaning KiB).
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut words = line["MemTotal:".len()..].split_whitespace();
    let kib: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") => kib.checked_mul(1024),
        _ => None,
    }
}

/// What a cgroup memory limit file says: v2 `memory.max` holds `max` or a byte count; v1
/// `memory.limit_in_bytes` holds a byte count (about 2^63 when unlimited, which the
/// comparison with `MemTotal` then ignores).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupLimit {
    /// `max`: no limit.
    Unlimited,
    /// A limit in bytes.
    Bytes(u64),
}

/// The text of a cgroup memory limit file; `None` when it is neither `max` nor a number.
pub fn parse_cgroup_limit(text: &str) -> Option<CgroupLimit> {
    match text.trim() {
        "max" => Some(CgroupLimit::Unlimited),
        n => n.parse().ok().map(CgroupLimit::Bytes),
    }
}

/// The memory limit files that may apply to this process, from the text of
/// `/proc/self/cgroup`: the process's own cgroup first, then the root of each hierarchy
/// (inside a container, the container's cgroup appears as the root).
pub fn cgroup_limit_files(self_cgroup: &str) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for line in self_cgroup.lines() {
        // "hierarchy-id:controllers:path"; v2 is "0::/path".
        let mut parts = line.splitn(3, ':');
        let (Some(_), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let relative = path.trim_start_matches('/');
        if controllers.is_empty() {
            let root = Path::new("/sys/fs/cgroup");
            files.push(root.join(relative).join("memory.max"));
            files.push(root.join("memory.max"));
        } else if controllers.split(',').any(|c| c == "memory") {
            let root = Path::new("/sys/fs/cgroup/memory");
            files.push(root.join(relative).join("memory.limit_in_bytes"));
            files.push(root.join("memory.limit_in_bytes"));
        }
    }
    files.dedup();
    files
}

/// Where the memory size that an auto `max_flows` was computed from came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemorySource {
    /// `MemTotal` of `/proc/meminfo`.
    MemTotal,
    /// A cgroup limit lower than `MemTotal`: the file it was read from.
    Cgroup(PathBuf),
    /// Nothing could be read; [`FALLBACK_FLOWS`] is used.
    Unknown,
}

/// An auto `max_flows`: the flows, and the memory they were sized from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AutoMaxFlows {
    /// The flows the cache may hold, all workers together.
    pub flows: u64,
    /// The memory available, in bytes (`None` when unknown).
    pub memory: Option<u64>,
    /// Where `memory` was read.
    pub source: MemorySource,
}

impl AutoMaxFlows {
    /// The auto size for a given memory size and where it came from.
    pub fn for_memory(memory: u64, source: MemorySource) -> AutoMaxFlows {
        AutoMaxFlows {
            flows: flows_for_memory(memory),
            memory: Some(memory),
            source,
        }
    }

    /// The auto size from `MemTotal` (the text of `/proc/meminfo`) and the cgroup limits
    /// found (file, text), whichever is lower.
    pub fn from_texts(meminfo: Option<&str>, limits: &[(PathBuf, String)]) -> AutoMaxFlows {
        let total = meminfo.and_then(parse_meminfo);
        let lowest_limit = limits
            .iter()
            .filter_map(|(path, text)| match parse_cgroup_limit(text)? {
                CgroupLimit::Bytes(n) => Some((n, path)),
                CgroupLimit::Unlimited => None,
            })
            .min_by_key(|(n, _)| *n);
        match (total, lowest_limit) {
            (Some(t), Some((l, path))) if l < t => {
                AutoMaxFlows::for_memory(l, MemorySource::Cgroup(path.clone()))
            }
            (None, Some((l, path))) => {
                AutoMaxFlows::for_memory(l, MemorySource::Cgroup(path.clone()))
            }
            (Some(t), _) => AutoMaxFlows::for_memory(t, MemorySource::MemTotal),
            (None, None) => AutoMaxFlows {
                flows: FALLBACK_FLOWS,
                memory: None,
                source: MemorySource::Unknown,
            },
        }
    }
}

impl fmt::Display for AutoMaxFlows {
    /// `max_flows auto: 26190090 flows (3072 MiB) from 24105 MiB of memory (MemTotal)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cache_mib = self.flows.saturating_mul(BYTES_PER_FLOW) >> 20;
        write!(f, "max_flows auto: {} flows ({cache_mib} MiB)", self.flows)?;
        match (self.memory, &self.source) {
            (Some(m), MemorySource::Cgroup(path)) => write!(
                f,
                " from {} MiB of memory (cgroup limit {})",
                m >> 20,
                path.display()
            ),
            (Some(m), _) => write!(f, " from {} MiB of memory (MemTotal)", m >> 20),
            (None, _) => f.write_str(" (memory size unknown: the fixed fallback)"),
        }
    }
}

/// The auto size for this machine and process, read once per process from
/// `/proc/meminfo`, `/proc/self/cgroup` and the cgroup limit files.
pub fn machine_auto() -> &'static AutoMaxFlows {
    static AUTO: OnceLock<AutoMaxFlows> = OnceLock::new();
    AUTO.get_or_init(|| {
        let read = |p: &Path| std::fs::read_to_string(p).ok();
        let meminfo = read(Path::new("/proc/meminfo"));
        let self_cgroup = read(Path::new("/proc/self/cgroup")).unwrap_or_default();
        let limits: Vec<(PathBuf, String)> = cgroup_limit_files(&self_cgroup)
            .into_iter()
            .filter_map(|p| read(&p).map(|text| (p, text)))
            .collect();
        AutoMaxFlows::from_texts(meminfo.as_deref(), &limits)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;
    const MIB: u64 = 1 << 20;

    #[test]
    fn flows_are_an_eighth_of_memory_at_the_measured_bytes_per_flow() {
        // 24 GiB / 8 = 3 GiB = 3221225472 bytes; / 123 = 26188824 (rounded down).
        assert_eq!(flows_for_memory(24 * GIB), 26_188_824);
        // 1 GiB / 8 / 123 = 1091201.
        assert_eq!(flows_for_memory(GIB), 1_091_201);
        // The cache stays within its share: flows x bytes per flow <= memory / 8.
        for m in [GIB, 3 * GIB, 24 * GIB, 100 * GIB] {
            assert!(flows_for_memory(m) * BYTES_PER_FLOW <= m / MEMORY_FRACTION);
        }
    }

    #[test]
    fn flows_are_clamped() {
        assert_eq!(flows_for_memory(0), MIN_AUTO_FLOWS);
        assert_eq!(flows_for_memory(32 * MIB), MIN_AUTO_FLOWS);
        assert_eq!(flows_for_memory(256 * GIB), MAX_AUTO_FLOWS);
        assert_eq!(flows_for_memory(u64::MAX), MAX_AUTO_FLOWS);
        // Just above the floor it follows memory again.
        assert!(flows_for_memory(128 * MIB) > MIN_AUTO_FLOWS);
    }

    #[test]
    fn meminfo_total_in_bytes() {
        let text = "MemTotal:       24683656 kB\nMemFree:        22091344 kB\n";
        assert_eq!(parse_meminfo(text), Some(24_683_656 * 1024));
        // Not first in the file.
        assert_eq!(parse_meminfo("X: 1 kB\nMemTotal: 2 kB\n"), Some(2048));
        for bad in [
            "",
            "MemFree: 1 kB\n",
            "MemTotal: kB\n",
            "MemTotal: 12\n",
            "MemTotal: 12 MB\n",
        ] {
            assert_eq!(parse_meminfo(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn cgroup_max_is_no_limit_and_a_number_is_bytes() {
        assert_eq!(parse_cgroup_limit("max\n"), Some(CgroupLimit::Unlimited));
        assert_eq!(
            parse_cgroup_limit("536870912\n"),
            Some(CgroupLimit::Bytes(512 * MIB))
        );
        assert_eq!(parse_cgroup_limit("-1"), None);
        assert_eq!(parse_cgroup_limit(""), None);
    }

    #[test]
    fn cgroup_files_for_v2_and_v1() {
        let v2 = cgroup_limit_files("0::/system.slice/probe.service\n");
        assert_eq!(
            v2,
            [
                PathBuf::from("/sys/fs/cgroup/system.slice/probe.service/memory.max"),
                PathBuf::from("/sys/fs/cgroup/memory.max"),
            ]
        );
        // A v2 root cgroup names the one file once.
        assert_eq!(
            cgroup_limit_files("0::/\n"),
            [PathBuf::from("/sys/fs/cgroup/memory.max")]
        );
        let v1 = cgroup_limit_files("5:cpu,cpuacct:/x\n4:memory:/docker/abc\n0::/\n");
        assert_eq!(
            v1,
            [
                PathBuf::from("/sys/fs/cgroup/memory/docker/abc/memory.limit_in_bytes"),
                PathBuf::from("/sys/fs/cgroup/memory/memory.limit_in_bytes"),
                PathBuf::from("/sys/fs/cgroup/memory.max"),
            ]
        );
        assert!(cgroup_limit_files("garbage").is_empty());
    }

    #[test]
    fn the_lower_of_memtotal_and_cgroup_limit_wins() {
        let meminfo = "MemTotal: 25165824 kB\n"; // 24 GiB
        let limited = PathBuf::from("/sys/fs/cgroup/probe/memory.max");
        let root = PathBuf::from("/sys/fs/cgroup/memory.max");
        // A 512 MiB container: sized from the limit.
        let a = AutoMaxFlows::from_texts(
            Some(meminfo),
            &[
                (limited.clone(), "536870912\n".into()),
                (root.clone(), "max\n".into()),
            ],
        );
        assert_eq!(a.memory, Some(512 * MIB));
        assert_eq!(a.source, MemorySource::Cgroup(limited.clone()));
        assert_eq!(a.flows, flows_for_memory(512 * MIB));
        // `max` everywhere: MemTotal.
        let b = AutoMaxFlows::from_texts(Some(meminfo), &[(root.clone(), "max".into())]);
        assert_eq!(
            (b.memory, b.source),
            (Some(24 * GIB), MemorySource::MemTotal)
        );
        // v1's "unlimited" (about 2^63) is above MemTotal: MemTotal.
        let c = AutoMaxFlows::from_texts(
            Some(meminfo),
            &[(root.clone(), "9223372036854771712\n".into())],
        );
        assert_eq!(c.source, MemorySource::MemTotal);
        // A limit above MemTotal changes nothing either.
        let d = AutoMaxFlows::from_texts(Some(meminfo), &[(limited, (64 * GIB).to_string())]);
        assert_eq!(d.memory, Some(24 * GIB));
        // Nothing readable: the fixed fallback, said so.
        let e = AutoMaxFlows::from_texts(None, &[(root, "garbage".into())]);
        assert_eq!((e.flows, e.memory), (FALLBACK_FLOWS, None));
        assert!(e.to_string().contains("unknown"), "{e}");
    }

    #[test]
    fn the_log_line_names_flows_cache_size_and_memory() {
        let a = AutoMaxFlows::for_memory(24 * GIB, MemorySource::MemTotal);
        assert_eq!(
            a.to_string(),
            "max_flows auto: 26188824 flows (3071 MiB) from 24576 MiB of memory (MemTotal)"
        );
        let p = PathBuf::from("/sys/fs/cgroup/memory.max");
        let b = AutoMaxFlows::for_memory(512 * MIB, MemorySource::Cgroup(p));
        assert_eq!(
            b.to_string(),
            "max_flows auto: 545600 flows (63 MiB) from 512 MiB of memory \
             (cgroup limit /sys/fs/cgroup/memory.max)"
        );
    }
}
