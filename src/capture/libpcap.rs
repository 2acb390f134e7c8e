//! Live capture through libpcap (feature `libpcap`): one handle per interface.
//!
//! For interfaces or systems where the AF_PACKET rings do not fit (an unsupported link
//! type, a platform quirk, a wish to compare). libpcap has no fanout, so the pipeline runs
//! one reader thread per handle and dispatches packets to the workers by flow hash over
//! bounded channels; this type only reads. The handle is non-blocking and waited on with
//! poll(2), so `poll_packets` honours any timeout and a reader can check its shutdown
//! flag between calls. Timestamps are asked for in nanoseconds.

use std::os::fd::AsFd;
use std::time::{Duration, Instant};

use super::iface::{self, Readiness};
use super::live::LiveError;
use super::Packet;
use crate::time::Timestamp;

/// One libpcap capture handle on one interface.
pub struct LibpcapSource {
    cap: pcap::Capture<pcap::Active>,
    ifname: String,
    ifindex: u32,
    link_type: u32,
}

impl std::fmt::Debug for LibpcapSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibpcapSource")
            .field("ifname", &self.ifname)
            .field("ifindex", &self.ifindex)
            .field("link_type", &self.link_type)
            .finish_non_exhaustive()
    }
}

/// libpcap's counters (`pcap_stats`), since the handle was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LibpcapStats {
    /// Packets received by the handle (on Linux: passed the filter).
    pub received: u32,
    /// Packets dropped because the buffer was full.
    pub dropped: u32,
    /// Packets dropped by the interface or its driver.
    pub if_dropped: u32,
}

impl LibpcapSource {
    /// Opens `ifname` with a snap length, promiscuous mode, an optional tcpdump filter,
    /// and a kernel buffer of `buffer_size` bytes, in immediate mode.
    pub fn open(
        ifname: &str,
        snaplen: u32,
        promisc: bool,
        filter: Option<&str>,
        buffer_size: usize,
    ) -> Result<LibpcapSource, LiveError> {
        let ifindex = iface::ifindex(ifname)?;
        let err = |op: &'static str| {
            move |e: pcap::Error| LiveError::Libpcap {
                ifname: ifname.to_string(),
                op,
                message: e.to_string(),
            }
        };
        let cap = pcap::Capture::from_device(ifname)
            .map_err(err("pcap_create"))?
            .snaplen(snaplen.min(i32::MAX as u32) as i32)
            .promisc(promisc)
            .buffer_size(buffer_size.min(i32::MAX as usize) as i32)
            .immediate_mode(true)
            .precision(pcap::Precision::Nano)
            .open()
            .map_err(err("pcap_activate"))?;
        let mut cap = cap.setnonblock().map_err(err("pcap_setnonblock"))?;
        if let Some(expr) = filter {
            cap.filter(expr, true)
                .map_err(|e| LiveError::FilterCompile {
                    expr: expr.to_string(),
                    message: e.to_string(),
                })?;
        }
        let link_type = cap.get_datalink().0 as u32;
        Ok(LibpcapSource {
            cap,
            ifname: ifname.to_string(),
            ifindex,
            link_type,
        })
    }

    /// Hands up to `max` waiting packets to `f`, waiting up to `timeout` for the first.
    /// Returns how many were handled: 0 when the timeout passed or a signal interrupted.
    /// `Packet::interface` is the OS ifindex.
    pub fn poll_packets(
        &mut self,
        timeout: Duration,
        max: usize,
        mut f: impl FnMut(&Packet<'_>),
    ) -> Result<usize, LiveError> {
        let deadline = Instant::now() + timeout;
        let mut handled = 0;
        while handled < max {
            match self.cap.next_packet() {
                Ok(p) => {
                    let ts = Timestamp::from_secs_nanos(
                        p.header.ts.tv_sec.max(0) as u64,
                        p.header.ts.tv_usec.clamp(0, 999_999_999) as u32,
                    );
                    f(&Packet {
                        ts,
                        link_type: self.link_type,
                        interface: self.ifindex,
                        data: p.data,
                        orig_len: p.header.len,
                    });
                    handled += 1;
                }
                Err(pcap::Error::TimeoutExpired) => {
                    if handled > 0 {
                        break;
                    }
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    match iface::wait_readable(self.cap.as_fd(), left) {
                        Ok(Readiness::Ready) => continue,
                        Ok(Readiness::TimedOut | Readiness::Interrupted) => break,
                        Err(e) => {
                            return Err(LiveError::Libpcap {
                                ifname: self.ifname.clone(),
                                op: "poll",
                                message: e.to_string(),
                            })
                        }
                    }
                }
                Err(e) => {
                    return Err(LiveError::Libpcap {
                        ifname: self.ifname.clone(),
                        op: "pcap_next_ex",
                        message: e.to_string(),
                    })
                }
            }
        }
        Ok(handled)
    }

    /// libpcap's counters.
    pub fn stats(&mut self) -> Result<LibpcapStats, LiveError> {
        let s = self.cap.stats().map_err(|e| LiveError::Libpcap {
            ifname: self.ifname.clone(),
            op: "pcap_stats",
            message: e.to_string(),
        })?;
        Ok(LibpcapStats {
            received: s.received,
            dropped: s.dropped,
            if_dropped: s.if_dropped,
        })
    }

    /// The OS interface index, as handed out in `Packet::interface`.
    pub fn ifindex(&self) -> u32 {
        self.ifindex
    }

    /// LINKTYPE of the frames handed out.
    pub fn link_type(&self) -> u32 {
        self.link_type
    }
}
