//! Network-namespace harness for live tests: two fresh namespaces joined by a veth pair.
//!
//! Include it at the test crate's root with
//! `#[path = "common/netns.rs"] #[macro_use] mod netns;`. Each `NetnsPair` gets names
//! unique to the process and call (`fpt-<pid>-<n>-a-<tag>`), so tests run in parallel and
//! never touch the host's interfaces. Side `a` is 198.18.0.1/24, side `b` 198.18.0.2/24
//! (RFC 2544 benchmarking space, 198.18.0.0/15; nothing else is used), each on an
//! interface named `veth0` inside its namespace, with `lo` up for collectors.
//!
//! The pair is quiet so that tests can count packets exactly: IPv6 is disabled (no
//! router or neighbour solicitations, no MLD), the neighbours are static (no ARP), and
//! GRO/GSO/TSO are off on both ends (no merged super-frames).
//!
//! Work inside a namespace in two ways: `exec`/`spawn` run a command through
//! `ip netns exec`, `run_in` runs a closure on a thread that entered the namespace with
//! setns(2) (sockets created there stay in that namespace and can be used from any thread).
//! Drop kills whatever still runs in the namespaces and deletes them (which deletes the
//! veth pair), also when the test panics. Namespaces left by a test process that was
//! killed are removed by the next `NetnsPair::new`.

#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// One end of the pair.
#[derive(Clone, Debug)]
pub struct Side {
    /// Namespace name (also the file under /run/netns).
    pub ns: String,
    /// The veth end inside the namespace.
    pub ifname: String,
    /// Its IPv4 address (prefix /24).
    pub addr: Ipv4Addr,
    /// Its MAC address.
    pub mac: [u8; 6],
}

impl Side {
    /// Gives this end (its veth already in its namespace) its MAC and /24 address,
    /// brings it up, and pins `peer`'s MAC for `peer`'s address (no ARP on the wire).
    pub fn configure(&self, peer: &Side) {
        let (ns, dev) = (self.ns.as_str(), self.ifname.as_str());
        ip(&[
            "-n",
            ns,
            "link",
            "set",
            dev,
            "address",
            &mac_string(self.mac),
        ]);
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{}/24", self.addr),
            "dev",
            dev,
        ]);
        ip(&["-n", ns, "link", "set", dev, "up"]);
        let peer_addr = peer.addr.to_string();
        let peer_mac = mac_string(peer.mac);
        ip(&[
            "-n",
            ns,
            "neigh",
            "replace",
            &peer_addr,
            "lladdr",
            &peer_mac,
            "dev",
            dev,
            "nud",
            "permanent",
        ]);
    }
}

/// Two namespaces `a` and `b` joined by a veth pair. Removed on drop.
pub struct NetnsPair {
    /// Side a: 198.18.0.1.
    pub a: Side,
    /// Side b: 198.18.0.2.
    pub b: Side,
    children: Mutex<Vec<Child>>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);
const PREFIX: &str = "fpt-";

/// Whether this machine can run namespace tests: root, and `ip` plus `ethtool` present.
/// Returns the reason when it cannot.
pub fn unavailable() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not running as root".into());
    }
    for tool in ["ip", "ethtool"] {
        let found = Command::new(tool)
            .arg(if tool == "ip" { "-V" } else { "--version" })
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok();
        if !found {
            return Some(format!("{tool} not installed"));
        }
    }
    None
}

/// Returns from the calling test when namespaces are unavailable, or (with tools named)
/// when one of those is not on PATH, unless `CI` is set, in which case the test fails
/// (CI runs as root with the tools installed). Needs the module declared as
/// `#[macro_use] mod netns;` at the test crate's root.
macro_rules! require_netns {
    ($($tool:expr),* $(,)?) => {
        if let Some(why) = $crate::netns::unavailable() {
            if std::env::var_os("CI").is_some() {
                panic!("network namespace tests cannot run in CI: {why}");
            }
            eprintln!("skipped: {why}");
            return;
        }
        if !$crate::netns::have_tools(&[$($tool),*]) {
            return;
        }
    };
}

/// Whether every tool is on PATH; otherwise prints why the test is skipped (or fails
/// when `CI` is set).
pub fn have_tools(tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| !on_path(t)).collect();
    if missing.is_empty() {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} not installed (CI is set)",
        missing.join(", ")
    );
    eprintln!("skipped: {} not installed", missing.join(", "));
    false
}

/// Whether `tool` is a file in a directory of PATH.
pub fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

/// Runs `ip ARGS`, panicking with its stderr on failure.
fn ip(args: &[&str]) -> Output {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Deletes namespaces of this harness whose creating process is gone.
fn sweep_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix(PREFIX) else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !pid_alive(pid) {
            remove_namespace(name);
        }
    }
}

/// Kills every process inside `ns`, then deletes it. Errors are ignored: this runs in
/// Drop, possibly while unwinding.
fn remove_namespace(ns: &str) {
    if let Ok(out) = Command::new("ip").args(["netns", "pids", ns]).output() {
        for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
            if let Ok(pid) = pid.parse::<i32>() {
                // SAFETY: kill has no memory preconditions; the pid lives in a namespace
                // this harness created for this test.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
    let _ = Command::new("ip")
        .args(["netns", "del", ns])
        .stderr(Stdio::null())
        .status();
}

/// Whether a namespace of that name exists.
pub fn namespace_exists(ns: &str) -> bool {
    std::path::Path::new("/run/netns").join(ns).exists()
}

impl NetnsPair {
    /// Creates the two namespaces and the veth pair; `tag` (a few letters) names them.
    pub fn new(tag: &str) -> NetnsPair {
        sweep_stale();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let side = |letter: &str, host: u8| Side {
            ns: format!("{PREFIX}{pid}-{n}-{letter}-{tag}"),
            ifname: "veth0".to_string(),
            addr: Ipv4Addr::new(198, 18, 0, host),
            mac: [0x02, 0x00, 0xc6, 0x12, 0x00, host],
        };
        // Built before anything exists so that a failure half-way is cleaned up by Drop.
        let pair = NetnsPair {
            a: side("a", 1),
            b: side("b", 2),
            children: Mutex::new(Vec::new()),
        };
        for s in [&pair.a, &pair.b] {
            ip(&["netns", "add", &s.ns]);
            pair.run_in(s, || {
                for key in ["all", "default"] {
                    std::fs::write(format!("/proc/sys/net/ipv6/conf/{key}/disable_ipv6"), "1")
                        .expect("disabling IPv6 in the namespace");
                }
            });
        }
        ip(&[
            "link",
            "add",
            &pair.a.ifname,
            "netns",
            &pair.a.ns,
            "type",
            "veth",
            "peer",
            "name",
            &pair.b.ifname,
            "netns",
            &pair.b.ns,
        ]);
        for (s, peer) in [(&pair.a, &pair.b), (&pair.b, &pair.a)] {
            ip(&["-n", &s.ns, "link", "set", "lo", "up"]);
            s.configure(peer);
            let out = pair.exec(
                s,
                &[
                    "ethtool", "-K", &s.ifname, "gro", "off", "gso", "off", "tso", "off",
                ],
            );
            assert!(
                out.status.success(),
                "ethtool -K failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        pair
    }

    /// Runs a command inside `side`'s namespace and waits for it.
    pub fn exec(&self, side: &Side, args: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &side.ns])
            .args(args)
            .output()
            .expect("running ip netns exec")
    }

    /// Starts a command inside `side`'s namespace; it is killed when the pair drops (if it
    /// still runs). Returns its pid.
    pub fn spawn(&self, side: &Side, args: &[&str]) -> u32 {
        let child = Command::new("ip")
            .args(["netns", "exec", &side.ns])
            .args(args)
            .spawn()
            .expect("spawning ip netns exec");
        let pid = child.id();
        self.children
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(child);
        pid
    }

    /// Runs `f` on a thread inside `side`'s network namespace and returns its result
    /// (a panic in `f` is re-raised here).
    pub fn run_in<T: Send>(&self, side: &Side, f: impl FnOnce() -> T + Send) -> T {
        let path = format!("/run/netns/{}", side.ns);
        std::thread::scope(|scope| {
            let handle = scope.spawn(move || {
                enter(&path);
                f()
            });
            match handle.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
}

/// Moves the calling thread into the network namespace at `path` (setns(2) changes only
/// this thread's network namespace).
pub fn enter(path: &str) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("opening {path}: {e}"));
    // SAFETY: the descriptor is open for the call; setns only reads it.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns({path}): {}", std::io::Error::last_os_error());
}

fn mac_string(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

impl Drop for NetnsPair {
    fn drop(&mut self) {
        let children = std::mem::take(self.children.get_mut().unwrap_or_else(|e| e.into_inner()));
        for mut child in children {
            let _ = child.kill();
            let _ = child.wait();
        }
        remove_namespace(&self.a.ns);
        remove_namespace(&self.b.ns);
    }
}
