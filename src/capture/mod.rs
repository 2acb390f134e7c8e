//! Packet sources: capture files (pcap, pcapng) and, later, live interfaces.
//!
//! Every source hands out `Packet`s: a borrowed frame with its timestamp, link type and
//! interface. The decoder and the flow cache never know which source they came from.

use crate::time::Timestamp;

#[cfg(target_os = "linux")]
pub mod af_packet;
pub mod bpf;
pub mod file;
#[cfg(target_os = "linux")]
pub mod iface;
#[cfg(all(feature = "libpcap", target_os = "linux"))]
pub mod libpcap;
pub mod live;

/// One captured frame, borrowed from the source's buffer until the next call.
#[derive(Clone, Copy, Debug)]
pub struct Packet<'a> {
    /// Capture time.
    pub ts: Timestamp,
    /// LINKTYPE_* value of the interface the frame was captured on.
    pub link_type: u32,
    /// Interface index: the pcapng interface id within its section, 0 for classic pcap,
    /// the OS ifindex live.
    pub interface: u32,
    /// The captured bytes (at most the snaplen).
    pub data: &'a [u8],
    /// The frame's length on the wire (at least `data.len()` in a sane capture).
    pub orig_len: u32,
}
