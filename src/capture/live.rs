//! Errors shared by the live packet sources (`af_packet`, `libpcap`) and their helpers
//! (`iface`, `bpf`).
//!
//! One enum for all of them so the pipeline handles "could not open the capture" in one
//! place; every variant names the interface (or filter, or user) and the operation that
//! failed, and keeps the OS error as its source.

use std::io;

/// Why a live source could not be opened or read.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The interface name is not valid (empty, too long, or containing a NUL byte).
    #[error("interface name {ifname:?} is not valid: {reason}")]
    BadInterfaceName {
        /// The name as given.
        ifname: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The interface does not exist (in this network namespace) or could not be queried.
    #[error("interface {ifname}: {op} failed: {source}")]
    Interface {
        /// Interface name.
        ifname: String,
        /// The operation, e.g. `if_nametoindex` or `ioctl(SIOCETHTOOL, ETHTOOL_GGRO)`.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A socket call on the capture socket failed.
    #[error("AF_PACKET socket on {ifname}: {op} failed: {source}")]
    Socket {
        /// Interface name.
        ifname: String,
        /// The call, e.g. `setsockopt(PACKET_RX_RING)`.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The ring configuration cannot work.
    #[error("AF_PACKET ring configuration is not valid: {reason}")]
    BadRingConfig {
        /// What is wrong, with the numbers.
        reason: String,
    },
    /// The interface's hardware type has no link type this source can hand out.
    #[error(
        "interface {ifname}: hardware type ARPHRD {arphrd} is not supported by the AF_PACKET \
         source (supported: Ethernet, loopback, raw IP); try the libpcap backend"
    )]
    UnsupportedLinkType {
        /// Interface name.
        ifname: String,
        /// The `ARPHRD_*` value.
        arphrd: u16,
    },
    /// A capture filter was asked for but this build cannot compile one.
    #[error(
        "capture filter {expr:?} needs libpcap to compile it; rebuild flowprobe with \
         `cargo build --release --features libpcap` (and libpcap's development files installed)"
    )]
    FilterNeedsLibpcap {
        /// The filter expression.
        expr: String,
    },
    /// libpcap rejected the filter expression.
    #[error("capture filter {expr:?} does not compile: {message}")]
    FilterCompile {
        /// The filter expression.
        expr: String,
        /// libpcap's message.
        message: String,
    },
    /// A libpcap call failed.
    #[error("libpcap on {ifname}: {op} failed: {message}")]
    Libpcap {
        /// Interface name.
        ifname: String,
        /// The call, e.g. `pcap_activate`.
        op: &'static str,
        /// libpcap's message.
        message: String,
    },
    /// The user to run as does not exist.
    #[error("user {user:?} to run as does not exist")]
    NoSuchUser {
        /// The name as given.
        user: String,
    },
    /// Giving up root failed; the process must not go on as root.
    #[error("dropping privileges to user {user:?}: {op} failed: {source}")]
    DropPrivileges {
        /// The user name.
        user: String,
        /// The call, e.g. `setuid`.
        op: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// A capture or export thread could not be started.
    #[error("cannot start a thread: {0}")]
    Thread(#[source] io::Error),
    /// The libpcap backend was asked for in a build without it.
    #[error(
        "the libpcap backend is not in this build; rebuild flowprobe with \
         `cargo build --release --features libpcap`, or use the default af-packet backend"
    )]
    BackendNeedsLibpcap,
}
