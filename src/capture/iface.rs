//! Interface helpers for the live sources: ifindex and hardware type lookup, promiscuous
//! mode, offload detection, giving up root, and waiting on a capture descriptor.
//!
//! Everything here goes through ioctls on a socket rather than through `/sys/class/net`:
//! a socket answers for the network namespace of the thread that created it, while sysfs
//! shows the namespace of whoever mounted it. A probe (or a test) that enters a namespace
//! with `setns(2)` on one thread therefore sees the right interface only through sockets.
//! Offloads are read with the legacy `SIOCETHTOOL` get commands (`ETHTOOL_GGRO`,
//! `ETHTOOL_GGSO`, `ETHTOOL_GTSO`, `ETHTOOL_GFLAGS` for LRO), which every kernel since
//! 2.6.x still answers and which need no capability.
//!
//! Promiscuous mode is requested with `PACKET_ADD_MEMBERSHIP`/`PACKET_MR_PROMISC` on the
//! capture socket, not by setting `IFF_PROMISC`: the kernel counts the request per socket
//! and undoes it when the socket closes, so a crashed probe leaves the interface as it was.

#![allow(unsafe_code)]

use std::ffi::{c_int, c_void, CString};
use std::io;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::time::Duration;

use socket2::{Domain, Socket, Type};

use super::live::LiveError;

const IFNAMSIZ: usize = 16;
const SIOCETHTOOL: libc::c_ulong = 0x8946;
const ETHTOOL_GTSO: u32 = 0x1e;
const ETHTOOL_GGSO: u32 = 0x23;
const ETHTOOL_GFLAGS: u32 = 0x25;
const ETHTOOL_GGRO: u32 = 0x2b;
/// `ETH_FLAG_LRO` in the `ETHTOOL_GFLAGS` word (linux/ethtool.h).
const ETH_FLAG_LRO: u32 = 1 << 15;
/// `PACKET_ADD_MEMBERSHIP` and `PACKET_MR_PROMISC` (linux/if_packet.h).
const PACKET_ADD_MEMBERSHIP: c_int = 1;
const PACKET_MR_PROMISC: u16 = 1;

/// `struct ifreq` (linux/if.h): the name, then a 24-byte union.
#[repr(C)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    ifru: IfrIfru,
}

#[repr(C)]
union IfrIfru {
    data: *mut c_void,
    hwaddr: libc::sockaddr,
    size: [u8; 24],
}

/// `struct ethtool_value` (linux/ethtool.h).
#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

/// `struct packet_mreq` (linux/if_packet.h).
#[repr(C)]
struct PacketMreq {
    mr_ifindex: c_int,
    mr_type: u16,
    mr_alen: u16,
    mr_address: [u8; 8],
}

/// Checks an interface name and returns it NUL-padded as `ifr_name` wants it.
fn ifr_name(ifname: &str) -> Result<[u8; IFNAMSIZ], LiveError> {
    let bad = |reason| LiveError::BadInterfaceName {
        ifname: ifname.to_string(),
        reason,
    };
    if ifname.is_empty() {
        return Err(bad("it is empty"));
    }
    if ifname.len() >= IFNAMSIZ {
        return Err(bad("Linux interface names have at most 15 bytes"));
    }
    if ifname
        .bytes()
        .any(|b| b == 0 || b == b'/' || b.is_ascii_whitespace())
    {
        return Err(bad("it contains a NUL, '/' or white space"));
    }
    let mut name = [0u8; IFNAMSIZ];
    name[..ifname.len()].copy_from_slice(ifname.as_bytes());
    Ok(name)
}

fn new_ifreq(ifname: &str) -> Result<IfReq, LiveError> {
    Ok(IfReq {
        name: ifr_name(ifname)?,
        ifru: IfrIfru { size: [0; 24] },
    })
}

/// A datagram socket to send interface ioctls through, in this thread's namespace.
fn control_socket(ifname: &str) -> Result<Socket, LiveError> {
    Socket::new(Domain::IPV4, Type::DGRAM, None).map_err(|source| LiveError::Interface {
        ifname: ifname.to_string(),
        op: "socket(AF_INET, SOCK_DGRAM) for interface ioctls",
        source,
    })
}

/// `ioctl(fd, request, req)`.
fn ioctl_ifreq(sock: &Socket, request: libc::c_ulong, req: &mut IfReq) -> io::Result<()> {
    // SAFETY: `req` is a live, exclusively borrowed `struct ifreq` of the kernel's size
    // and layout (40 bytes on LP64: 16-byte name and a 24-byte union); every request used
    // in this module reads the name and writes at most the union. For SIOCETHTOOL the
    // union holds a pointer to an `EthtoolValue` that the caller keeps alive across the
    // call.
    let rc = unsafe { libc::ioctl(sock.as_raw_fd(), request as _, req as *mut IfReq) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// The OS interface index of `ifname` in this thread's network namespace.
pub fn ifindex(ifname: &str) -> Result<u32, LiveError> {
    ifr_name(ifname)?;
    let cname = CString::new(ifname).map_err(|_| LiveError::BadInterfaceName {
        ifname: ifname.to_string(),
        reason: "it contains a NUL",
    })?;
    // SAFETY: `cname` is a valid NUL-terminated string that outlives the call;
    // if_nametoindex only reads it.
    let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    if index == 0 {
        return Err(LiveError::Interface {
            ifname: ifname.to_string(),
            op: "if_nametoindex",
            source: io::Error::last_os_error(),
        });
    }
    Ok(index)
}

/// The interface's `ARPHRD_*` hardware type (1 = Ethernet, 772 = loopback, ...).
pub fn hardware_type(ifname: &str) -> Result<u16, LiveError> {
    let sock = control_socket(ifname)?;
    let mut req = new_ifreq(ifname)?;
    ioctl_ifreq(&sock, libc::SIOCGIFHWADDR as libc::c_ulong, &mut req).map_err(|source| {
        LiveError::Interface {
            ifname: ifname.to_string(),
            op: "ioctl(SIOCGIFHWADDR)",
            source,
        }
    })?;
    // SAFETY: SIOCGIFHWADDR filled `ifru.hwaddr`; every bit pattern is a valid sockaddr.
    Ok(unsafe { req.ifru.hwaddr.sa_family })
}

/// Puts the interface into promiscuous mode for as long as `fd` (an AF_PACKET socket)
/// stays open. The kernel counts such requests (`ip -d link` shows "promiscuity N");
/// `SIOCGIFFLAGS` does not report them, only an administrator's `ip link set promisc on`.
pub fn enable_promiscuous(fd: BorrowedFd<'_>, ifname: &str, ifindex: u32) -> Result<(), LiveError> {
    let mreq = PacketMreq {
        mr_ifindex: ifindex as c_int,
        mr_type: PACKET_MR_PROMISC,
        mr_alen: 0,
        mr_address: [0; 8],
    };
    // SAFETY: `mreq` is a `struct packet_mreq` of the kernel's layout, alive for the call,
    // and the length passed is its size; the kernel only copies it in.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_PACKET,
            PACKET_ADD_MEMBERSHIP,
            &mreq as *const PacketMreq as *const c_void,
            size_of::<PacketMreq>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(LiveError::Socket {
            ifname: ifname.to_string(),
            op: "setsockopt(PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC)",
            source: io::Error::last_os_error(),
        });
    }
    Ok(())
}

/// Which segmentation/receive offloads are on. With any of them on, the kernel hands a
/// capture socket merged super-frames, which a flow probe would count as one packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Offloads {
    /// Generic receive offload.
    pub gro: bool,
    /// Large receive offload (in the NIC).
    pub lro: bool,
    /// Generic segmentation offload (outgoing).
    pub gso: bool,
    /// TCP segmentation offload (outgoing).
    pub tso: bool,
}

impl Offloads {
    /// Whether any of them is on.
    pub fn any(&self) -> bool {
        self.gro || self.lro || self.gso || self.tso
    }

    /// The names of those that are on, in `ethtool -K` spelling.
    pub fn enabled(&self) -> impl Iterator<Item = &'static str> {
        [
            ("gro", self.gro),
            ("lro", self.lro),
            ("gso", self.gso),
            ("tso", self.tso),
        ]
        .into_iter()
        .filter_map(|(name, on)| on.then_some(name))
    }

    /// The command that turns off exactly those that are on, e.g.
    /// `ethtool -K eth0 gro off gso off tso off`; `None` when none is on.
    pub fn fix_command(&self, ifname: &str) -> Option<String> {
        if !self.any() {
            return None;
        }
        let mut cmd = format!("ethtool -K {ifname}");
        for name in self.enabled() {
            cmd.push(' ');
            cmd.push_str(name);
            cmd.push_str(" off");
        }
        Some(cmd)
    }
}

/// Reads one ethtool value; a device without the operation (EOPNOTSUPP) reports 0.
fn ethtool_get(sock: &Socket, ifname: &str, cmd: u32, op: &'static str) -> Result<u32, LiveError> {
    let mut value = EthtoolValue { cmd, data: 0 };
    let mut req = new_ifreq(ifname)?;
    req.ifru.data = &mut value as *mut EthtoolValue as *mut c_void;
    match ioctl_ifreq(sock, SIOCETHTOOL, &mut req) {
        Ok(()) => Ok(value.data),
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => Ok(0),
        Err(source) => Err(LiveError::Interface {
            ifname: ifname.to_string(),
            op,
            source,
        }),
    }
}

/// Which of GRO, LRO, GSO and TSO are on for `ifname` (SIOCETHTOOL, see the module docs).
pub fn offloads(ifname: &str) -> Result<Offloads, LiveError> {
    let sock = control_socket(ifname)?;
    Ok(Offloads {
        gro: ethtool_get(
            &sock,
            ifname,
            ETHTOOL_GGRO,
            "ioctl(SIOCETHTOOL, ETHTOOL_GGRO)",
        )? != 0,
        lro: ethtool_get(
            &sock,
            ifname,
            ETHTOOL_GFLAGS,
            "ioctl(SIOCETHTOOL, ETHTOOL_GFLAGS)",
        )? & ETH_FLAG_LRO
            != 0,
        gso: ethtool_get(
            &sock,
            ifname,
            ETHTOOL_GGSO,
            "ioctl(SIOCETHTOOL, ETHTOOL_GGSO)",
        )? != 0,
        tso: ethtool_get(
            &sock,
            ifname,
            ETHTOOL_GTSO,
            "ioctl(SIOCETHTOOL, ETHTOOL_GTSO)",
        )? != 0,
    })
}

/// Gives up root for good: supplementary groups become just the user's primary group,
/// then the group id and the user id are set to the user's (in that order, since setgid
/// needs root). Call it after every capture socket is open: open sockets, their rings and
/// their promiscuous membership keep working; nothing else needs privileges later.
/// Returns the (uid, gid) now in force. Fails if root could be regained afterwards.
pub fn drop_privileges(user: &str) -> Result<(u32, u32), LiveError> {
    let cuser = CString::new(user).map_err(|_| LiveError::NoSuchUser {
        user: user.to_string(),
    })?;
    let fail = |op, source| LiveError::DropPrivileges {
        user: user.to_string(),
        op,
        source,
    };
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: an all-zero `struct passwd` is valid (null pointers, zero ids).
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: the NUL-terminated name, `pwd` to fill,
    // `buf` of the length given for the strings, `result` to set. Only `pw_uid`/`pw_gid`
    // are read afterwards, which are plain integers inside `pwd`.
    let rc = unsafe {
        libc::getpwnam_r(
            cuser.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 {
        return Err(fail("getpwnam_r", io::Error::from_raw_os_error(rc)));
    }
    if result.is_null() {
        return Err(LiveError::NoSuchUser {
            user: user.to_string(),
        });
    }
    let (uid, gid) = (pwd.pw_uid, pwd.pw_gid);
    let groups = [gid];
    // SAFETY: `groups` holds one gid_t and the count passed is 1.
    if unsafe { libc::setgroups(1, groups.as_ptr()) } != 0 {
        return Err(fail("setgroups", io::Error::last_os_error()));
    }
    // SAFETY: plain system calls on integers. glibc applies them to every thread.
    if unsafe { libc::setgid(gid) } != 0 {
        return Err(fail("setgid", io::Error::last_os_error()));
    }
    // SAFETY: as above.
    if unsafe { libc::setuid(uid) } != 0 {
        return Err(fail("setuid", io::Error::last_os_error()));
    }
    // SAFETY: as above; this must fail now that the saved set-user-ID is no longer 0.
    if uid != 0 && unsafe { libc::setuid(0) } == 0 {
        return Err(fail(
            "setuid(0) check",
            io::Error::other("root could be regained after setuid"),
        ));
    }
    Ok((uid, gid))
}

/// What `wait_readable` saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Readiness {
    /// Data (or an error condition, POLLERR) is pending.
    Ready,
    /// The timeout passed.
    TimedOut,
    /// A signal interrupted the wait (the caller checks its shutdown flag).
    Interrupted,
}

/// Waits until `fd` is readable or `timeout` passed (rounded up to whole milliseconds).
pub(crate) fn wait_readable(fd: BorrowedFd<'_>, timeout: Duration) -> io::Result<Readiness> {
    let mut ms = timeout.as_millis();
    if Duration::from_millis(ms as u64) < timeout {
        ms += 1;
    }
    let ms = ms.min(i32::MAX as u128) as c_int;
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd and the count passed is 1; `fd` is borrowed, so
    // it stays open for the call.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    if rc < 0 {
        let e = io::Error::last_os_error();
        return if e.kind() == io::ErrorKind::Interrupted {
            Ok(Readiness::Interrupted)
        } else {
            Err(e)
        };
    }
    Ok(if rc == 0 {
        Readiness::TimedOut
    } else {
        Readiness::Ready
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifreq_has_the_kernels_size() {
        assert_eq!(size_of::<IfReq>(), 40);
        assert_eq!(size_of::<PacketMreq>(), 16);
    }

    #[test]
    fn interface_names_are_checked() {
        assert!(ifr_name("eth0").is_ok());
        assert!(ifr_name("").is_err());
        assert!(ifr_name("a-name-too-long").is_ok()); // 15 bytes
        assert!(ifr_name("a-name-too-long!").is_err()); // 16 bytes
        assert!(ifr_name("et\0h").is_err());
        assert!(ifindex("et h").is_err());
    }

    #[test]
    fn loopback_is_found() {
        // `lo` exists in every network namespace and is always index 1.
        assert_eq!(ifindex("lo").unwrap(), 1);
        assert_eq!(hardware_type("lo").unwrap(), 772); // ARPHRD_LOOPBACK
        assert!(offloads("lo").is_ok());
        assert!(matches!(
            ifindex("flowprobe-none"),
            Err(LiveError::Interface {
                op: "if_nametoindex",
                ..
            })
        ));
    }

    #[test]
    fn fix_command_names_only_what_is_on() {
        let o = Offloads {
            gro: true,
            lro: false,
            gso: true,
            tso: true,
        };
        assert_eq!(
            o.fix_command("eth0").unwrap(),
            "ethtool -K eth0 gro off gso off tso off"
        );
        assert_eq!(Offloads::default().fix_command("eth0"), None);
        let all = Offloads {
            gro: true,
            lro: true,
            gso: true,
            tso: true,
        };
        assert_eq!(
            all.fix_command("eth1").unwrap(),
            "ethtool -K eth1 gro off lro off gso off tso off"
        );
    }
}
