//! Live capture with Linux AF_PACKET: one TPACKET_V3 receive ring per socket, every socket
//! of an interface in one `PACKET_FANOUT` group (hash mode, defrag flag).
//!
//! Why this shape: the kernel writes frames straight into a ring shared with us (no copy,
//! no system call per packet) and hands it over a *block* at a time, either when a block
//! is full or when `block_timeout` passed, so a worker wakes up at most once per block.
//! Fanout in hash mode spreads the packets of an interface over the group's sockets by a
//! symmetric flow hash (both directions of a flow land on the same socket; the defrag
//! flag reassembles IP fragments first so they hash like the rest of their datagram,
//! which changes what is captured: see `RingConfig::defrag`).
//! So the pipeline gives each worker thread its own `AfPacketSource` and its own flow cache
//! shard and never shares either: no lock on the packet path.
//!
//! Frames are handed out as borrowed `Packet`s straight from the ring block, which goes
//! back to the kernel when the callback returns. One exception: the kernel strips an
//! 802.1Q/802.1ad tag into metadata (`tp_vlan_tci`, `TP_STATUS_VLAN_VALID`); this source
//! puts the tag back into the frame (copied into a per-source scratch buffer, allocated
//! once) so the decoder sees the frame as it was on the wire, like libpcap does, and
//! `orig_len` grows by the 4 tag bytes.
//!
//! Start-up without duplicates or split flows: a socket receives every packet between
//! `bind` and joining the fanout group, and a flow's socket changes each time a member
//! joins. `open_group` therefore opens all sockets of an interface with a drop-all filter,
//! joins them all, and only then installs the real filter (or none) on each.
//!
//! # Use from the pipeline
//!
//! ```no_run
//! # use std::time::Duration;
//! # use flowprobe::capture::af_packet::{AfPacketSource, RingConfig};
//! # fn main() -> Result<(), flowprobe::capture::live::LiveError> {
//! // As root (or with CAP_NET_RAW, plus CAP_NET_ADMIN for promiscuous mode), before
//! // dropping privileges: one socket per worker, all in one group.
//! let sources = AfPacketSource::open_group("eth0", &RingConfig::default(), 4)?;
//! for mut source in sources {
//!     std::thread::spawn(move || loop {
//!         // A short timeout bounds how late the worker sees a shutdown request and
//!         // runs its wall-clock expiry when the interface is idle.
//!         match source.poll_packets(Duration::from_millis(100), |packet| {
//!             let _ = packet; // decode, meter into this worker's cache shard
//!         }) {
//!             Ok(_handled) => {} // then: check shutdown, expire flows on Timestamp::now()
//!             Err(e) => eprintln!("{e}"), // e.g. ENETDOWN once when the link goes down
//!         }
//!     });
//! }
//! # Ok(()) }
//! ```
//!
//! `poll_packets` returns `Err(LiveError::Socket { op: "receive", .. })` once when the
//! interface goes down (ENETDOWN); the socket stays usable and captures again when the
//! interface comes back up, so a worker logs and keeps polling. Memory: each socket maps
//! `block_size * block_count` bytes (64 MiB by default) for as long as it is open.
//!
//! Unsafe code here is confined to the system calls (setsockopt, getsockopt, bind, mmap,
//! munmap) and to the ring: a block's status word is read and written atomically, and a
//! block's bytes are read as a slice only while its status says the kernel handed it to
//! us. Everything read *from* the ring is parsed by safe, bounds-checked code
//! (`walk_block`), which is unit-tested on annotated bytes.

#![allow(unsafe_code)]

use std::ffi::{c_int, c_void};
use std::io;
use std::mem::size_of;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use socket2::{Domain, Socket, Type};

use super::bpf::{BpfInsn, BpfProgram};
use super::iface::{self, Readiness};
use super::live::LiveError;
use super::Packet;
use crate::time::Timestamp;

// linux/if_packet.h
const PACKET_RX_RING: c_int = 5;
const PACKET_STATISTICS: c_int = 6;
const PACKET_VERSION: c_int = 10;
const PACKET_FANOUT: c_int = 18;
const TPACKET_V3: c_int = 2;
const PACKET_FANOUT_HASH: u32 = 0;
const PACKET_FANOUT_FLAG_UNIQUEID: u32 = 0x2000;
const PACKET_FANOUT_FLAG_DEFRAG: u32 = 0x8000;
const TP_STATUS_KERNEL: u32 = 0;
const TP_STATUS_USER: u32 = 1;
const TP_STATUS_VLAN_VALID: u32 = 1 << 4;
const TP_STATUS_VLAN_TPID_VALID: u32 = 1 << 6;
// asm-generic/socket.h (the same on every architecture Linux runs AF_PACKET rings on,
// except parisc).
const SO_ATTACH_FILTER: c_int = 26;
/// `TPACKET_ALIGNMENT`: frame sizes are multiples of it.
const TPACKET_ALIGNMENT: usize = 16;
/// Smallest frame size accepted: a `tpacket3_hdr` (48 bytes) plus a `sockaddr_ll` (20),
/// aligned, plus room for a minimal frame.
const MIN_FRAME_SIZE: usize = 128;
/// Ethernet type of an 802.1Q tag, the default when the kernel gives no TPID.
const ETH_P_8021Q: u16 = 0x8100;

/// LINKTYPE_ETHERNET.
const LINKTYPE_ETHERNET: u32 = 1;
/// LINKTYPE_RAW: the frame starts with an IPv4 or IPv6 header.
const LINKTYPE_RAW: u32 = 101;

/// Offsets in a block: `struct tpacket_block_desc` with its `tpacket_hdr_v1`.
mod block_field {
    /// `hdr.bh1.block_status` (u32).
    pub(super) const STATUS: usize = 8;
    /// `hdr.bh1.num_pkts` (u32).
    pub(super) const NUM_PKTS: usize = 12;
    /// `hdr.bh1.offset_to_first_pkt` (u32).
    pub(super) const OFFSET_TO_FIRST_PKT: usize = 16;
    /// `hdr.bh1.blk_len` (u32): bytes of the block in use, header included.
    pub(super) const BLK_LEN: usize = 20;
}

/// Offsets in a frame: `struct tpacket3_hdr`.
mod frame_field {
    pub(super) const NEXT_OFFSET: usize = 0;
    pub(super) const SEC: usize = 4;
    pub(super) const NSEC: usize = 8;
    pub(super) const SNAPLEN: usize = 12;
    pub(super) const LEN: usize = 16;
    pub(super) const STATUS: usize = 20;
    /// u16: offset of the link-layer header from the frame start.
    pub(super) const MAC: usize = 24;
    pub(super) const VLAN_TCI: usize = 32;
    /// u16.
    pub(super) const VLAN_TPID: usize = 36;
    /// Size of the header.
    pub(super) const HEADER_LEN: usize = 48;
}

/// Ring and socket settings of one `AfPacketSource`.
#[derive(Clone, Debug)]
pub struct RingConfig {
    /// Bytes per ring block: a power of two, at least 4 KiB. A block holds many frames and
    /// is handed over whole; the largest frame captured is a block minus its headers.
    pub block_size: usize,
    /// Blocks in the ring. Memory per socket is `block_size * block_count`.
    pub block_count: usize,
    /// How long the kernel fills a block before handing it over anyway (whole
    /// milliseconds, at least 1): the latency bound at low traffic.
    pub block_timeout: Duration,
    /// Typical frame size (rounded up to a multiple of 16, at least 128). TPACKET_V3
    /// packs frames of any size; the kernel only checks this value for consistency.
    pub frame_size_hint: usize,
    /// Put the interface into promiscuous mode while the socket is open.
    pub promiscuous: bool,
    /// Fanout group id to join; `None` lets the kernel pick an unused one
    /// (`PACKET_FANOUT_FLAG_UNIQUEID`), readable afterwards with `fanout_group()`. Group
    /// ids are per network namespace, and a group serves one interface: two probes, or
    /// two interfaces, must not name the same id.
    pub fanout_group: Option<u16>,
    /// Join the group with `PACKET_FANOUT_FLAG_DEFRAG`. Then the kernel reassembles IPv4
    /// fragments *before* the capture: the sockets see one packet per datagram, as long
    /// as the reassembled datagram (not the fragments on the wire), and a fragment whose
    /// siblings never arrive is never seen at all (nor counted in `KernelStats`).
    /// Without it every frame arrives as it was on the wire, but the kernel hashes
    /// fragments on addresses and protocol only (no ports), so the fragments of a flow
    /// that also has unfragmented packets may reach another socket than the rest of it.
    /// Every socket of a group must agree. Default: off. A flow probe counts what crossed
    /// the wire, and lone fragments are exactly the traffic (evasion, floods) that must not
    /// vanish; the cost is that a fragmented flow's fragments may be metered on another
    /// worker than its other packets (two records, same key, correct sums). See the tests
    /// `defrag_*` in tests/live_capture.rs for both behaviours measured.
    pub defrag: bool,
    /// Classic BPF filter attached to the socket (see `bpf`).
    pub filter: Option<BpfProgram>,
}

impl Default for RingConfig {
    /// 64 blocks of 1 MiB, 10 ms block timeout, promiscuous, kernel-chosen group, no filter.
    fn default() -> RingConfig {
        RingConfig {
            block_size: 1 << 20,
            block_count: 64,
            block_timeout: Duration::from_millis(10),
            frame_size_hint: 2048,
            promiscuous: true,
            fanout_group: None,
            defrag: false,
            filter: None,
        }
    }
}

/// `struct tpacket_req3`.
#[repr(C)]
struct TpacketReq3 {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
    tp_retire_blk_tov: u32,
    tp_sizeof_priv: u32,
    tp_feature_req_word: u32,
}

/// `struct tpacket_stats_v3`.
#[repr(C)]
#[derive(Default)]
struct TpacketStatsV3 {
    tp_packets: u32,
    tp_drops: u32,
    tp_freeze_q_cnt: u32,
}

/// `struct sock_fprog`.
#[repr(C)]
struct SockFprog {
    len: u16,
    filter: *const BpfInsn,
}

impl RingConfig {
    /// Checks the numbers and returns the `tpacket_req3` for them.
    fn ring_request(&self) -> Result<TpacketReq3, LiveError> {
        let bad = |reason: String| Err(LiveError::BadRingConfig { reason });
        if !self.block_size.is_power_of_two() || self.block_size < 4096 || self.block_size > 1 << 30
        {
            return bad(format!(
                "block_size {} must be a power of two from 4096 to 1 GiB",
                self.block_size
            ));
        }
        if self.block_count == 0 || self.block_count > u32::MAX as usize {
            return bad(format!(
                "block_count {} must be at least 1",
                self.block_count
            ));
        }
        if !matches!(self.block_size.checked_mul(self.block_count), Some(n) if n <= isize::MAX as usize)
        {
            return bad(format!(
                "ring of {} blocks of {} bytes is too large",
                self.block_count, self.block_size
            ));
        }
        let ms = self.block_timeout.as_millis();
        if ms == 0 || ms > u32::MAX as u128 {
            return bad(format!(
                "block_timeout {:?} must be at least 1 ms",
                self.block_timeout
            ));
        }
        let frame = self
            .frame_size_hint
            .max(MIN_FRAME_SIZE)
            .next_multiple_of(TPACKET_ALIGNMENT);
        if frame > self.block_size {
            return bad(format!(
                "frame_size_hint {} is larger than block_size {}",
                self.frame_size_hint, self.block_size
            ));
        }
        let frames = (self.block_size / frame).saturating_mul(self.block_count);
        Ok(TpacketReq3 {
            tp_block_size: self.block_size as u32,
            tp_block_nr: self.block_count as u32,
            tp_frame_size: frame as u32,
            tp_frame_nr: frames.min(u32::MAX as usize) as u32,
            tp_retire_blk_tov: ms as u32,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        })
    }
}

/// Kernel counters of one socket since it was opened (`PACKET_STATISTICS`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KernelStats {
    /// Packets that reached the socket (after fanout and filter), dropped ones included.
    pub packets: u64,
    /// Packets dropped because the ring had no free block.
    pub drops: u64,
    /// Times the ring was full, so that the kernel froze it until a block came back.
    pub freeze_q_cnt: u64,
}

/// The mmap'ed ring: `block_count` blocks of `block_size` bytes, shared with the kernel.
struct Ring {
    base: NonNull<u8>,
    block_size: usize,
    block_count: usize,
}

// SAFETY: the mapping belongs to this value alone (no other Rust handle to it exists) and
// has no thread affinity; the kernel synchronizes with whichever thread uses it through
// the block status words, which are accessed atomically.
unsafe impl Send for Ring {}

impl Ring {
    fn len(&self) -> usize {
        self.block_size * self.block_count
    }

    /// The status word of block `i` (`i < block_count`).
    fn status(&self, i: usize) -> &AtomicU32 {
        assert!(i < self.block_count);
        // SAFETY: the offset is inside the mapping (i < block_count and STATUS + 4 <=
        // block_size) and 4-aligned (blocks are page-aligned, STATUS is 8). The mapping
        // lives as long as `self`. The kernel writes the word concurrently, which is what
        // an atomic is for; no non-atomic reference to these bytes exists while the
        // returned one does (see `block`).
        unsafe {
            AtomicU32::from_ptr(
                self.base
                    .as_ptr()
                    .add(i * self.block_size + block_field::STATUS) as *mut u32,
            )
        }
    }

    /// Whether the kernel handed block `i` to user space.
    fn is_user(&self, i: usize) -> bool {
        self.status(i).load(Ordering::Acquire) & TP_STATUS_USER != 0
    }

    /// Block `i` as bytes, only while the kernel has handed it over.
    fn user_block(&mut self, i: usize) -> Option<&[u8]> {
        if !self.is_user(i) {
            return None;
        }
        // SAFETY: in range as in `status`. The Acquire load above saw TP_STATUS_USER, so
        // the kernel finished writing the block (it sets the status last, after a write
        // barrier) and does not touch it again until `release` stores TP_STATUS_KERNEL.
        // `&mut self` keeps `release` (and any atomic view of the status word) from
        // running while this slice is alive.
        Some(unsafe {
            std::slice::from_raw_parts(self.base.as_ptr().add(i * self.block_size), self.block_size)
        })
    }

    /// Hands block `i` back to the kernel.
    fn release(&mut self, i: usize) {
        self.status(i).store(TP_STATUS_KERNEL, Ordering::Release);
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` are exactly what mmap returned, and no slice into the
        // mapping outlives `self`.
        unsafe {
            libc::munmap(self.base.as_ptr() as *mut c_void, self.len());
        }
    }
}

/// One TPACKET_V3 receive ring socket bound to one interface and joined to a fanout group.
pub struct AfPacketSource {
    // Field order matters for Drop: unmap the ring before closing the socket.
    ring: Ring,
    sock: Socket,
    ifname: String,
    ifindex: u32,
    link_type: u32,
    fanout_group: u16,
    next_block: usize,
    /// A frame with its VLAN tag put back: block_size + 4 bytes, allocated once.
    scratch: Vec<u8>,
    stats: KernelStats,
    malformed: u64,
}

impl std::fmt::Debug for AfPacketSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AfPacketSource")
            .field("ifname", &self.ifname)
            .field("ifindex", &self.ifindex)
            .field("link_type", &self.link_type)
            .field("fanout_group", &self.fanout_group)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// `setsockopt(fd, level, name, value)` for a plain-data `T`.
fn setsockopt<T>(sock: &Socket, level: c_int, name: c_int, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live, initialized `T` of `size_of::<T>()` bytes; the
    // kernel only copies that many bytes in. Callers pass `#[repr(C)]` kernel structs or
    // integers.
    let rc = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            level,
            name,
            value as *const T as *const c_void,
            size_of::<T>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `getsockopt(fd, level, name)` into a plain-data `T` that is valid for any bit pattern.
fn getsockopt<T: Default>(sock: &Socket, level: c_int, name: c_int) -> io::Result<T> {
    let mut value = T::default();
    let mut len = size_of::<T>() as libc::socklen_t;
    // SAFETY: `value` is a live `T` of `len` bytes that the kernel may overwrite; callers
    // use integers or `#[repr(C)]` structs of integers, valid for any bytes written.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            level,
            name,
            &mut value as *mut T as *mut c_void,
            &mut len,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(value)
    }
}

fn attach_filter(sock: &Socket, insns: &[BpfInsn]) -> io::Result<()> {
    let prog = SockFprog {
        len: insns.len() as u16,
        filter: insns.as_ptr(),
    };
    // `SockFprog` holds a pointer to `insns`, alive for the call; the kernel copies the
    // program (at most bpf::MAX_INSNS instructions, checked by BpfProgram) in.
    setsockopt(sock, libc::SOL_SOCKET, SO_ATTACH_FILTER, &prog)
}

/// `ret #0`: accept nothing. Installed until the socket is in its fanout group.
const DROP_ALL: [BpfInsn; 1] = [BpfInsn {
    code: 0x06,
    jt: 0,
    jf: 0,
    k: 0,
}];

/// `SO_DETACH_FILTER` (asm-generic/socket.h): removes `DROP_ALL` when there is no filter.
const SO_DETACH_FILTER: c_int = 27;

/// The LINKTYPE for an `ARPHRD_*` hardware type, as a SOCK_RAW packet socket sees it.
fn link_type_for(arphrd: u16) -> Option<u32> {
    match arphrd {
        // ARPHRD_ETHER; ARPHRD_LOOPBACK carries an all-zero Ethernet header.
        1 | 772 => Some(LINKTYPE_ETHERNET),
        // ARPHRD_PPP (Linux passes no PPP header), ARPHRD_RAWIP, ARPHRD_NONE (tun,
        // WireGuard): the frame starts with the IP header.
        512 | 519 | 0xfffe => Some(LINKTYPE_RAW),
        _ => None,
    }
}

/// How a socket joins its fanout group.
#[derive(Clone, Copy)]
enum Join {
    /// Join (or create) this id.
    Id(u16),
    /// Create a group with a kernel-chosen unused id.
    Unique,
}

impl AfPacketSource {
    /// Opens one ring socket on `ifname` and joins `cfg.fanout_group` (or a new group).
    /// It receives packets as soon as this returns. To open several sockets for one
    /// interface, prefer `open_group`, which avoids duplicates while they join.
    pub fn open(ifname: &str, cfg: &RingConfig) -> Result<AfPacketSource, LiveError> {
        let join = cfg.fanout_group.map_or(Join::Unique, Join::Id);
        let source = AfPacketSource::open_quiet(ifname, cfg, join)?;
        source.go_live(cfg)?;
        Ok(source)
    }

    /// Opens `count` ring sockets on `ifname`, all in one fanout group
    /// (`cfg.fanout_group`, or a new kernel-chosen one), one per worker thread.
    ///
    /// Every socket drops everything until all have joined, so no packet reaches two of
    /// them and no flow changes socket during the start.
    pub fn open_group(
        ifname: &str,
        cfg: &RingConfig,
        count: usize,
    ) -> Result<Vec<AfPacketSource>, LiveError> {
        let mut sources = Vec::with_capacity(count);
        let mut join = cfg.fanout_group.map_or(Join::Unique, Join::Id);
        for _ in 0..count {
            let source = AfPacketSource::open_quiet(ifname, cfg, join)?;
            join = Join::Id(source.fanout_group);
            sources.push(source);
        }
        for source in &sources {
            source.go_live(cfg)?;
        }
        Ok(sources)
    }

    /// Everything but the final filter: the socket is bound, in its group, and drops
    /// every packet.
    fn open_quiet(ifname: &str, cfg: &RingConfig, join: Join) -> Result<AfPacketSource, LiveError> {
        let req = cfg.ring_request()?;
        let ifindex = iface::ifindex(ifname)?;
        let arphrd = iface::hardware_type(ifname)?;
        let link_type = link_type_for(arphrd).ok_or_else(|| LiveError::UnsupportedLinkType {
            ifname: ifname.to_string(),
            arphrd,
        })?;
        let sock_err = |op: &'static str| {
            move |source: io::Error| LiveError::Socket {
                ifname: ifname.to_string(),
                op,
                source,
            }
        };

        // Protocol 0: the socket receives nothing until `bind` names ETH_P_ALL below.
        let sock = Socket::new(Domain::PACKET, Type::RAW, None)
            .map_err(sock_err("socket(AF_PACKET, SOCK_RAW)"))?;
        setsockopt(&sock, libc::SOL_PACKET, PACKET_VERSION, &TPACKET_V3)
            .map_err(sock_err("setsockopt(PACKET_VERSION, TPACKET_V3)"))?;
        attach_filter(&sock, &DROP_ALL).map_err(sock_err("setsockopt(SO_ATTACH_FILTER)"))?;
        setsockopt(&sock, libc::SOL_PACKET, PACKET_RX_RING, &req)
            .map_err(sock_err("setsockopt(PACKET_RX_RING)"))?;

        let len = cfg.block_size * cfg.block_count;
        // SAFETY: a fresh shared mapping of the ring the kernel just allocated for this
        // socket, at an address the kernel picks; nothing else in the process refers to
        // it. The result is checked before use.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_POPULATE,
                sock.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(sock_err("mmap of the RX ring")(io::Error::last_os_error()));
        }
        let base = NonNull::new(base as *mut u8).ok_or_else(|| {
            sock_err("mmap of the RX ring")(io::Error::from(io::ErrorKind::Other))
        })?;
        let ring = Ring {
            base,
            block_size: cfg.block_size,
            block_count: cfg.block_count,
        };

        // SAFETY: an all-zero sockaddr_ll is valid; the fields that matter are set below.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex as c_int;
        // SAFETY: `addr` is a valid sockaddr_ll and the length passed is its size.
        let rc = unsafe {
            libc::bind(
                sock.as_raw_fd(),
                &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(sock_err("bind to the interface")(io::Error::last_os_error()));
        }
        if cfg.promiscuous {
            iface::enable_promiscuous(sock.as_fd(), ifname, ifindex)?;
        }

        let mode = if cfg.defrag {
            PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG
        } else {
            PACKET_FANOUT_HASH
        };
        let arg: u32 = match join {
            Join::Id(id) => (mode << 16) | u32::from(id),
            Join::Unique => (mode | PACKET_FANOUT_FLAG_UNIQUEID) << 16,
        };
        setsockopt(&sock, libc::SOL_PACKET, PACKET_FANOUT, &arg)
            .map_err(sock_err("setsockopt(PACKET_FANOUT, hash) (is the group id used for another interface, or with other flags?)"))?;
        let fanout_group = match join {
            Join::Id(id) => id,
            Join::Unique => {
                let got: u32 = getsockopt(&sock, libc::SOL_PACKET, PACKET_FANOUT)
                    .map_err(sock_err("getsockopt(PACKET_FANOUT)"))?;
                (got & 0xffff) as u16
            }
        };

        Ok(AfPacketSource {
            ring,
            sock,
            ifname: ifname.to_string(),
            ifindex,
            link_type,
            fanout_group,
            next_block: 0,
            scratch: vec![0; cfg.block_size + 4],
            stats: KernelStats::default(),
            malformed: 0,
        })
    }

    /// Replaces the drop-all filter with the configured one, or removes it.
    fn go_live(&self, cfg: &RingConfig) -> Result<(), LiveError> {
        let (result, op) = match &cfg.filter {
            Some(program) => (
                attach_filter(&self.sock, program.insns()),
                "setsockopt(SO_ATTACH_FILTER)",
            ),
            None => {
                let unused: c_int = 0;
                (
                    setsockopt(&self.sock, libc::SOL_SOCKET, SO_DETACH_FILTER, &unused),
                    "setsockopt(SO_DETACH_FILTER)",
                )
            }
        };
        result.map_err(|source| LiveError::Socket {
            ifname: self.ifname.clone(),
            op,
            source,
        })
    }

    /// Waits up to `timeout` for the next block the kernel filled, calls `f` for each
    /// packet in it, and returns the block to the kernel. Returns how many packets were
    /// handed to `f`: 0 when the timeout passed or a signal interrupted the wait.
    ///
    /// `Packet::ts` is the kernel's receive time (ns), `interface` the OS ifindex,
    /// `link_type` 1 for Ethernet (101 for raw IP interfaces), `data` the captured bytes
    /// (with a stripped VLAN tag put back), `orig_len` the length on the wire.
    pub fn poll_packets(
        &mut self,
        timeout: Duration,
        mut f: impl FnMut(&Packet<'_>),
    ) -> Result<usize, LiveError> {
        let i = self.next_block;
        if !self.ring.is_user(i) {
            let deadline = Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                let readiness =
                    iface::wait_readable(self.sock.as_fd(), left).map_err(|source| {
                        LiveError::Socket {
                            ifname: self.ifname.clone(),
                            op: "poll",
                            source,
                        }
                    })?;
                if self.ring.is_user(i) {
                    break;
                }
                match readiness {
                    Readiness::TimedOut | Readiness::Interrupted => return Ok(0),
                    Readiness::Ready => {
                        // Readable but no block: a pending socket error (POLLERR), e.g.
                        // the interface went down.
                        if let Some(source) = self.sock.take_error().ok().flatten() {
                            return Err(LiveError::Socket {
                                ifname: self.ifname.clone(),
                                op: "receive",
                                source,
                            });
                        }
                        if left.is_zero() {
                            return Ok(0);
                        }
                    }
                }
            }
        }
        let meta = FrameMeta {
            ifindex: self.ifindex,
            link_type: self.link_type,
        };
        let Some(block) = self.ring.user_block(i) else {
            return Ok(0);
        };
        let walked = walk_block(block, &mut self.scratch, meta, &mut f);
        self.malformed += walked.malformed;
        self.ring.release(i);
        self.next_block = (i + 1) % self.ring.block_count;
        Ok(walked.packets)
    }

    /// Kernel counters since the socket was opened. The kernel resets its counters on
    /// every read; this source adds them up, so each call returns running totals.
    pub fn kernel_stats(&mut self) -> Result<KernelStats, LiveError> {
        let s: TpacketStatsV3 = getsockopt(&self.sock, libc::SOL_PACKET, PACKET_STATISTICS)
            .map_err(|source| LiveError::Socket {
                ifname: self.ifname.clone(),
                op: "getsockopt(PACKET_STATISTICS)",
                source,
            })?;
        self.stats.packets += u64::from(s.tp_packets);
        self.stats.drops += u64::from(s.tp_drops);
        self.stats.freeze_q_cnt += u64::from(s.tp_freeze_q_cnt);
        Ok(self.stats)
    }

    /// Frames the ring described inconsistently (offsets or lengths outside the block) and
    /// that were therefore skipped. Should stay 0; anything else is a bug report.
    pub fn malformed_frames(&self) -> u64 {
        self.malformed
    }

    /// The OS interface index, as handed out in `Packet::interface`.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// The interface name.
    pub fn ifname(&self) -> &str {
        &self.ifname
    }

    /// LINKTYPE of the frames handed out.
    pub fn link_type(&self) -> u32 {
        self.link_type
    }

    /// The fanout group this socket is in (kernel-chosen when the config named none).
    pub fn fanout_group(&self) -> u16 {
        self.fanout_group
    }
}

impl AsFd for AfPacketSource {
    /// The socket, for callers that wait on several sources with epoll.
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.sock.as_fd()
    }
}

/// What every frame of a block shares.
#[derive(Clone, Copy)]
struct FrameMeta {
    ifindex: u32,
    link_type: u32,
}

/// What `walk_block` did.
#[derive(Debug, PartialEq, Eq)]
struct Walked {
    packets: usize,
    malformed: u64,
}

fn read_u32(b: &[u8], off: usize) -> Option<u32> {
    let bytes = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_ne_bytes(bytes.try_into().ok()?))
}

fn read_u16(b: &[u8], off: usize) -> Option<u16> {
    let bytes = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_ne_bytes(bytes.try_into().ok()?))
}

/// One frame header, checked against its block.
struct Frame<'a> {
    next_offset: u32,
    ts: Timestamp,
    status: u32,
    len: u32,
    vlan_tci: u16,
    vlan_tpid: u16,
    data: &'a [u8],
}

fn parse_frame(block: &[u8], off: usize) -> Option<Frame<'_>> {
    let hdr = block.get(off..off.checked_add(frame_field::HEADER_LEN)?)?;
    let mac = usize::from(read_u16(hdr, frame_field::MAC)?);
    let snaplen = read_u32(hdr, frame_field::SNAPLEN)? as usize;
    let start = off.checked_add(mac)?;
    Some(Frame {
        next_offset: read_u32(hdr, frame_field::NEXT_OFFSET)?,
        ts: Timestamp::from_secs_nanos(
            u64::from(read_u32(hdr, frame_field::SEC)?),
            read_u32(hdr, frame_field::NSEC)?,
        ),
        status: read_u32(hdr, frame_field::STATUS)?,
        len: read_u32(hdr, frame_field::LEN)?,
        vlan_tci: read_u32(hdr, frame_field::VLAN_TCI)? as u16,
        vlan_tpid: read_u16(hdr, frame_field::VLAN_TPID)?,
        data: block.get(start..start.checked_add(snaplen)?)?,
    })
}

/// Calls `f` for every frame of a block handed over by the kernel. A frame whose offsets
/// or lengths leave the block ends the walk and counts as malformed (as do the frames
/// after it, which can no longer be found).
fn walk_block(
    block: &[u8],
    scratch: &mut [u8],
    meta: FrameMeta,
    f: &mut impl FnMut(&Packet<'_>),
) -> Walked {
    let mut walked = Walked {
        packets: 0,
        malformed: 0,
    };
    let (Some(num), Some(first), Some(blk_len)) = (
        read_u32(block, block_field::NUM_PKTS),
        read_u32(block, block_field::OFFSET_TO_FIRST_PKT),
        read_u32(block, block_field::BLK_LEN),
    ) else {
        walked.malformed = 1;
        return walked;
    };
    // Frames live within the used part of the block.
    let used = block
        .get(..(blk_len as usize).min(block.len()))
        .unwrap_or(block);
    let mut off = first as usize;
    for n in 0..num {
        let Some(frame) = parse_frame(used, off) else {
            walked.malformed += u64::from(num - n);
            break;
        };
        let tagged = frame.status & TP_STATUS_VLAN_VALID != 0
            && meta.link_type == LINKTYPE_ETHERNET
            && frame.data.len() >= 12;
        let packet = if tagged {
            let tpid = if frame.status & TP_STATUS_VLAN_TPID_VALID != 0 && frame.vlan_tpid != 0 {
                frame.vlan_tpid
            } else {
                ETH_P_8021Q
            };
            let total = frame.data.len() + 4;
            let Some(out) = scratch.get_mut(..total) else {
                walked.malformed += u64::from(num - n);
                break;
            };
            // dst MAC, src MAC | TPID, TCI | the rest (ethertype onwards).
            out[..12].copy_from_slice(&frame.data[..12]);
            out[12..14].copy_from_slice(&tpid.to_be_bytes());
            out[14..16].copy_from_slice(&frame.vlan_tci.to_be_bytes());
            out[16..].copy_from_slice(&frame.data[12..]);
            Packet {
                ts: frame.ts,
                link_type: meta.link_type,
                interface: meta.ifindex,
                data: out,
                orig_len: frame.len.saturating_add(4),
            }
        } else {
            Packet {
                ts: frame.ts,
                link_type: meta.link_type,
                interface: meta.ifindex,
                data: frame.data,
                orig_len: frame.len,
            }
        };
        f(&packet);
        walked.packets += 1;
        if n + 1 < num {
            if frame.next_offset == 0 {
                walked.malformed += u64::from(num - n - 1);
                break;
            }
            off = match off.checked_add(frame.next_offset as usize) {
                Some(o) => o,
                None => {
                    walked.malformed += u64::from(num - n - 1);
                    break;
                }
            };
        }
    }
    walked
}

#[cfg(test)]
mod tests {
    use super::*;

    const META: FrameMeta = FrameMeta {
        ifindex: 7,
        link_type: LINKTYPE_ETHERNET,
    };

    fn put32(b: &mut [u8], off: usize, v: u32) {
        b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
    }
    fn put16(b: &mut [u8], off: usize, v: u16) {
        b[off..off + 2].copy_from_slice(&v.to_ne_bytes());
    }

    /// Writes a tpacket3_hdr at `off` with the frame bytes at `off + 64` (tp_mac = 64,
    /// where the kernel also puts it: header, sockaddr_ll, alignment).
    #[allow(clippy::too_many_arguments)]
    fn put_frame(
        b: &mut [u8],
        off: usize,
        next: u32,
        sec: u32,
        nsec: u32,
        len: u32,
        status: u32,
        tci: u32,
        tpid: u16,
        data: &[u8],
    ) {
        put32(b, off, next); // tp_next_offset
        put32(b, off + 4, sec); // tp_sec
        put32(b, off + 8, nsec); // tp_nsec
        put32(b, off + 12, data.len() as u32); // tp_snaplen
        put32(b, off + 16, len); // tp_len
        put32(b, off + 20, status); // tp_status
        put16(b, off + 24, 64); // tp_mac
        put16(b, off + 26, 78); // tp_net
        put32(b, off + 28, 0xdead_beef); // hv1.tp_rxhash
        put32(b, off + 32, tci); // hv1.tp_vlan_tci
        put16(b, off + 36, tpid); // hv1.tp_vlan_tpid
        b[off + 64..off + 64 + data.len()].copy_from_slice(data);
    }

    /// A block header: version 1, no private area, `num` packets from offset 48.
    fn put_block_header(b: &mut [u8], num: u32, blk_len: u32) {
        put32(b, 0, 1); // version
        put32(b, 4, 0); // offset_to_priv
        put32(b, 8, TP_STATUS_USER); // block_status
        put32(b, 12, num); // num_pkts
        put32(b, 16, 48); // offset_to_first_pkt
        put32(b, 20, blk_len); // blk_len
    }

    /// (timestamp ns, bytes, orig_len, captured length) per packet.
    type Seen = Vec<(u64, Vec<u8>, u32, u32)>;

    fn collect(block: &[u8]) -> (Seen, Walked) {
        let mut scratch = vec![0u8; block.len() + 4];
        let mut got = Vec::new();
        let walked = walk_block(block, &mut scratch, META, &mut |p: &Packet<'_>| {
            assert_eq!(p.interface, 7);
            assert_eq!(p.link_type, 1);
            got.push((
                p.ts.as_nanos(),
                p.data.to_vec(),
                p.orig_len,
                p.data.len() as u32,
            ));
        });
        (got, walked)
    }

    // An Ethernet frame: dst 02:00:00:00:00:02, src 02:00:00:00:00:01, IPv4, 2 bytes payload.
    const ETH: [u8; 16] = [2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0x00];

    /// The ring's own unsafe code (status words as atomics, block slices, munmap on drop)
    /// on an anonymous mapping standing in for the kernel's ring, so it runs under Miri
    /// and AddressSanitizer (see fuzz/README.md); the kernel's side is the test writing
    /// the block before the ring exists.
    #[test]
    fn ring_over_an_anonymous_mapping() {
        let (block_size, block_count) = (4096usize, 3usize);
        let len = block_size * block_count;
        // SAFETY: a fresh private anonymous mapping at an address the kernel picks;
        // checked before use, unmapped by `Ring::drop`.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(base, libc::MAP_FAILED);
        // Block 1 as the kernel hands it over: one frame, status TP_STATUS_USER.
        let mut b = vec![0u8; block_size];
        put_frame(
            &mut b,
            48,
            0,
            1_700_000_000,
            5,
            60,
            TP_STATUS_USER,
            0,
            0,
            &ETH,
        );
        put_block_header(&mut b, 1, 1024);
        // SAFETY: `block_size` bytes from offset `block_size` are inside the mapping, and
        // no reference into the mapping exists yet.
        unsafe {
            std::ptr::copy_nonoverlapping(b.as_ptr(), (base as *mut u8).add(block_size), block_size)
        };
        let mut ring = Ring {
            base: NonNull::new(base as *mut u8).unwrap(),
            block_size,
            block_count,
        };
        assert_eq!(ring.len(), len);
        assert!(!ring.is_user(0) && ring.is_user(1) && !ring.is_user(2));
        assert!(ring.user_block(0).is_none());
        let block = ring.user_block(1).expect("block 1 is the user's");
        assert_eq!(block.len(), block_size);
        let (got, walked) = collect(block);
        assert_eq!(
            walked,
            Walked {
                packets: 1,
                malformed: 0
            }
        );
        assert_eq!(got[0], (1_700_000_000_000_000_005, ETH.to_vec(), 60, 16));
        ring.release(1);
        assert!(!ring.is_user(1));
        assert!(ring.user_block(1).is_none());
        drop(ring);
    }

    #[test]
    fn walks_frames_in_order() {
        let mut b = vec![0u8; 4096];
        put_frame(
            &mut b,
            48,
            128,
            1_700_000_000,
            5,
            60,
            TP_STATUS_USER,
            0,
            0,
            &ETH,
        );
        put_frame(
            &mut b,
            176,
            0,
            1_700_000_001,
            999_999_999,
            16,
            TP_STATUS_USER,
            0,
            0,
            &ETH[..14],
        );
        put_block_header(&mut b, 2, 1024);
        let (got, walked) = collect(&b);
        assert_eq!(
            walked,
            Walked {
                packets: 2,
                malformed: 0
            }
        );
        assert_eq!(got[0], (1_700_000_000_000_000_005, ETH.to_vec(), 60, 16));
        assert_eq!(
            got[1],
            (1_700_000_001_999_999_999, ETH[..14].to_vec(), 16, 14)
        );
    }

    #[test]
    fn puts_a_stripped_vlan_tag_back() {
        let mut b = vec![0u8; 4096];
        let status = TP_STATUS_USER | TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID;
        // TCI 0x2064: priority 1, VLAN 100; TPID 0x88a8 (802.1ad).
        put_frame(&mut b, 48, 0, 1, 0, 16, status, 0x2064, 0x88a8, &ETH);
        put_block_header(&mut b, 1, 1024);
        let (got, _) = collect(&b);
        let mut want = ETH[..12].to_vec();
        want.extend_from_slice(&[0x88, 0xa8, 0x20, 0x64]);
        want.extend_from_slice(&ETH[12..]);
        assert_eq!(got[0].1, want);
        assert_eq!(got[0].2, 20); // orig_len includes the tag

        // VLAN valid without a TPID: 802.1Q assumed.
        put_frame(
            &mut b,
            48,
            0,
            1,
            0,
            16,
            TP_STATUS_USER | TP_STATUS_VLAN_VALID,
            100,
            0,
            &ETH,
        );
        let (got, _) = collect(&b);
        assert_eq!(&got[0].1[12..16], &[0x81, 0x00, 0x00, 0x64]);
    }

    #[test]
    fn inconsistent_offsets_are_counted_not_followed() {
        let mut b = vec![0u8; 4096];
        // Snaplen running past blk_len.
        put_frame(&mut b, 48, 0, 1, 0, 16, TP_STATUS_USER, 0, 0, &ETH);
        put_block_header(&mut b, 1, 100);
        let (got, walked) = collect(&b);
        assert!(got.is_empty());
        assert_eq!(
            walked,
            Walked {
                packets: 0,
                malformed: 1
            }
        );

        // Three announced, the first says there is no next.
        put_block_header(&mut b, 3, 1024);
        let (got, walked) = collect(&b);
        assert_eq!(got.len(), 1);
        assert_eq!(
            walked,
            Walked {
                packets: 1,
                malformed: 2
            }
        );

        // Next offset leading out of the block.
        put_frame(
            &mut b,
            48,
            0xffff_fff0,
            1,
            0,
            16,
            TP_STATUS_USER,
            0,
            0,
            &ETH,
        );
        put_block_header(&mut b, 2, 4096);
        let (_, walked) = collect(&b);
        assert_eq!(
            walked,
            Walked {
                packets: 1,
                malformed: 1
            }
        );

        // A block too short for its header.
        let (_, walked) = collect(&b[..10]);
        assert_eq!(
            walked,
            Walked {
                packets: 0,
                malformed: 1
            }
        );
    }

    #[test]
    fn ring_config_is_checked() {
        let ok = RingConfig::default().ring_request().unwrap();
        assert_eq!(ok.tp_block_size, 1 << 20);
        assert_eq!(ok.tp_frame_size, 2048);
        assert_eq!(ok.tp_frame_nr, 64 * 512);
        assert_eq!(ok.tp_retire_blk_tov, 10);
        for bad in [
            RingConfig {
                block_size: 3 << 12,
                ..RingConfig::default()
            },
            RingConfig {
                block_size: 2048,
                ..RingConfig::default()
            },
            RingConfig {
                block_count: 0,
                ..RingConfig::default()
            },
            RingConfig {
                block_timeout: Duration::from_micros(10),
                ..RingConfig::default()
            },
            RingConfig {
                block_size: 4096,
                frame_size_hint: 8192,
                ..RingConfig::default()
            },
        ] {
            assert!(
                matches!(bad.ring_request(), Err(LiveError::BadRingConfig { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn link_types_follow_the_hardware_type() {
        assert_eq!(link_type_for(1), Some(LINKTYPE_ETHERNET)); // ARPHRD_ETHER
        assert_eq!(link_type_for(772), Some(LINKTYPE_ETHERNET)); // ARPHRD_LOOPBACK
        assert_eq!(link_type_for(0xfffe), Some(LINKTYPE_RAW)); // ARPHRD_NONE (tun)
        assert_eq!(link_type_for(519), Some(LINKTYPE_RAW)); // ARPHRD_RAWIP
        assert_eq!(link_type_for(801), None); // ARPHRD_IEEE80211
    }

    proptest::proptest! {
        /// Whatever the ring says, the walk neither panics nor hands out more packets than
        /// the block announces, and every announced packet is handed out or counted.
        #[test]
        fn any_block_is_walked_without_panic(
            mut bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..2048),
            num in 0u32..64,
            first in 0u32..2100,
            blk_len in 0u32..2100,
            vlan in proptest::bool::ANY,
        ) {
            if bytes.len() >= 24 {
                put32(&mut bytes, 12, num);
                put32(&mut bytes, 16, first);
                put32(&mut bytes, 20, blk_len);
            }
            let meta = FrameMeta { ifindex: 1, link_type: if vlan { LINKTYPE_ETHERNET } else { LINKTYPE_RAW } };
            let mut scratch = vec![0u8; bytes.len() + 4];
            let mut handed = 0usize;
            let walked = walk_block(&bytes, &mut scratch, meta, &mut |p: &Packet<'_>| {
                assert!(p.data.len() <= bytes.len() + 4);
                handed += 1;
            });
            proptest::prop_assert_eq!(walked.packets, handed);
            if bytes.len() >= 24 {
                proptest::prop_assert_eq!(walked.packets as u64 + walked.malformed, u64::from(num));
            }
        }
    }

    #[test]
    fn sizes_match_the_kernel_structs() {
        assert_eq!(size_of::<TpacketReq3>(), 28);
        assert_eq!(size_of::<TpacketStatsV3>(), 12);
        assert_eq!(size_of::<BpfInsn>(), 8);
        assert_eq!(size_of::<SockFprog>(), 16);
    }
}
