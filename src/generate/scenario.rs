//! Planted behaviours (`flowprobe generate --scenario beacon,exfil,scan,lateral`): a
//! site's ordinary traffic over hours with known bad behaviour in it, for the hunting
//! recipes of the README and their tests.
//!
//! The site: internal hosts in 198.18.0.0/16, the Internet in 198.19.0.0/16 (IPv4).
//! Its ordinary traffic, over the whole span (4 hours by default):
//! - 200 clients (198.18.1.1 to 198.18.1.200) browse external web servers (TCP 443 and
//!   80, a pool of 300), at random (Poisson) times, about one conversation every 4 minutes
//!   each, a few kB to some 100 kB each;
//! - every client uses the internal file server (198.18.0.10, TCP 445) and directory
//!   (198.18.0.20, TCP 389) now and then: pairs seen from the first hour on;
//! - an administrators' jump host (198.18.0.5) opens SSH and RDP sessions to 20 internal
//!   servers (198.18.2.1 to .20) all day: admin ports, but the same pairs from the start;
//! - decoys that naive queries would flag: a busy client (198.18.1.7) with five times the
//!   others' conversations; a time client (198.18.1.9) polling one external server on UDP
//!   123 at irregular intervals (30 s to 5 min); a client (198.18.1.8) downloading 40 MB
//!   from one external server (large, but inbound).
//!
//! The behaviours, each from a host of its own:
//! - `beacon`: 198.18.3.33 calls 198.19.66.6:443 every 60 s ± 3 s (uniform) for the whole
//!   span, each call a small TLS-sized TCP connection of its own (8 to 10 packets);
//! - `exfil`: 198.18.4.44, otherwise an ordinary client, sends 100 MB in full-size
//!   packets to 198.19.77.7:443 in one connection at 60% of the span;
//! - `scan`: 198.18.5.55 sends one SYN to each of 40 ports on 30 internal servers
//!   (198.18.2.1 to .30), answered by a RST from the closed ports, at 40% of the span;
//! - `lateral`: 198.18.6.66, an ordinary client, from 75% of the span opens sessions on
//!   admin ports (22, 445, 3389, 5985) to 6 internal servers (198.18.2.41 to .46) that
//!   nobody spoke to before.
//!
//! The truth (`Truth::json`) names the hosts, addresses, interval and volumes.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::time::Duration;

use super::{Conversation, GenPacket, GenProto, Generated, Rng};
use crate::time::Timestamp;

/// A behaviour to plant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scenario {
    /// Regular calls to one external address.
    Beacon,
    /// Far more outbound volume than the host's usual, to one external address.
    Exfil,
    /// Many ports and hosts, few packets each.
    Scan,
    /// Admin-port sessions to internal hosts never spoken to before.
    Lateral,
}

impl Scenario {
    /// All of them, in order.
    pub const ALL: [Scenario; 4] = [
        Scenario::Beacon,
        Scenario::Exfil,
        Scenario::Scan,
        Scenario::Lateral,
    ];

    /// Its name on the command line and in the truth.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Beacon => "beacon",
            Scenario::Exfil => "exfil",
            Scenario::Scan => "scan",
            Scenario::Lateral => "lateral",
        }
    }

    /// `beacon,exfil`, `all` (every one), or `none`.
    pub fn parse_list(text: &str) -> Result<Vec<Scenario>, String> {
        let mut out = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match name {
                "all" => out.extend(Scenario::ALL),
                "none" => {}
                _ => out.push(*Scenario::ALL.iter().find(|s| s.name() == name).ok_or_else(
                    || format!("{name:?}: expected beacon, exfil, scan, lateral or all"),
                )?),
            }
        }
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// The hosts of the site (see the module's documentation).
pub mod hosts {
    use std::net::Ipv4Addr;

    /// The beacon's source.
    pub const BEACON: Ipv4Addr = Ipv4Addr::new(198, 18, 3, 33);
    /// Where it calls.
    pub const BEACON_TARGET: Ipv4Addr = Ipv4Addr::new(198, 19, 66, 6);
    /// The exfiltrating host.
    pub const EXFIL: Ipv4Addr = Ipv4Addr::new(198, 18, 4, 44);
    /// Where it sends.
    pub const EXFIL_TARGET: Ipv4Addr = Ipv4Addr::new(198, 19, 77, 7);
    /// The scanner.
    pub const SCAN: Ipv4Addr = Ipv4Addr::new(198, 18, 5, 55);
    /// The host moving laterally.
    pub const LATERAL: Ipv4Addr = Ipv4Addr::new(198, 18, 6, 66);
    /// The benign jump host.
    pub const JUMP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 5);
}

/// What a scenario capture holds, for `--truth`.
#[derive(Clone, Debug, Default)]
pub struct Truth {
    /// Capture span.
    pub span: Duration,
    /// Scenarios planted.
    pub scenarios: Vec<Scenario>,
    /// Beacon calls' start times.
    pub beacon_calls: Vec<Timestamp>,
    /// Exfiltrated octets (IP lengths, client to server).
    pub exfil_octets: u64,
    /// (host, port) pairs the scan touched.
    pub scan_targets: Vec<(Ipv4Addr, u16)>,
    /// (target, port, start) of the lateral sessions.
    pub lateral_sessions: Vec<(Ipv4Addr, u16, Timestamp)>,
}

const BEACON_INTERVAL: Duration = Duration::from_secs(60);
const BEACON_JITTER: Duration = Duration::from_secs(3);
const EXFIL_OCTETS: u64 = 100_000_000;

impl Truth {
    /// The truth as one JSON object.
    pub fn json(&self) -> String {
        let mut s = String::from("{\n");
        let _ = writeln!(
            s,
            "  \"internal_network\": \"198.18.0.0/16\",\n  \"external_network\": \"198.19.0.0/16\",\n  \"span_s\": {},",
            self.span.as_secs()
        );
        let names: Vec<String> = self
            .scenarios
            .iter()
            .map(|s| format!("\"{}\"", s.name()))
            .collect();
        let _ = write!(s, "  \"scenarios\": [{}]", names.join(", "));
        for sc in &self.scenarios {
            s.push_str(",\n");
            match sc {
                Scenario::Beacon => {
                    let _ = write!(
                        s,
                        "  \"beacon\": {{\"host\": \"{}\", \"target\": \"{}\", \"port\": 443, \"interval_s\": {}, \"jitter_s\": {}, \"calls\": {}}}",
                        hosts::BEACON,
                        hosts::BEACON_TARGET,
                        BEACON_INTERVAL.as_secs(),
                        BEACON_JITTER.as_secs(),
                        self.beacon_calls.len()
                    );
                }
                Scenario::Exfil => {
                    let _ = write!(
                        s,
                        "  \"exfil\": {{\"host\": \"{}\", \"target\": \"{}\", \"port\": 443, \"octets\": {}}}",
                        hosts::EXFIL,
                        hosts::EXFIL_TARGET,
                        self.exfil_octets
                    );
                }
                Scenario::Scan => {
                    let mut targets: Vec<Ipv4Addr> =
                        self.scan_targets.iter().map(|t| t.0).collect();
                    targets.dedup();
                    let mut ports: Vec<u16> = self.scan_targets.iter().map(|t| t.1).collect();
                    ports.sort_unstable();
                    ports.dedup();
                    let _ = write!(
                        s,
                        "  \"scan\": {{\"host\": \"{}\", \"targets\": {}, \"ports\": {}, \"probes\": {}}}",
                        hosts::SCAN,
                        targets.len(),
                        ports.len(),
                        self.scan_targets.len()
                    );
                }
                Scenario::Lateral => {
                    let sessions: Vec<String> = self
                        .lateral_sessions
                        .iter()
                        .map(|(t, p, at)| {
                            format!(
                                "{{\"target\": \"{t}\", \"port\": {p}, \"start_s\": {}}}",
                                at.as_secs()
                            )
                        })
                        .collect();
                    let _ = write!(
                        s,
                        "  \"lateral\": {{\"host\": \"{}\", \"sessions\": [{}]}}",
                        hosts::LATERAL,
                        sessions.join(", ")
                    );
                }
            }
        }
        s.push_str("\n}\n");
        s
    }
}

/// The generator's address index of `a` (in 198.18.0.0/15).
fn index(a: Ipv4Addr) -> u32 {
    u32::from(a) - 0xc612_0001
}

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const PSH: u8 = 0x08;
const ACK: u8 = 0x10;

/// Builds the capture: conversations and packets in time order.
struct Site {
    rng: Rng,
    start: Timestamp,
    span_ns: u64,
    out: Generated,
    next_port: u16,
}

impl Site {
    fn conversation(
        &mut self,
        client: Ipv4Addr,
        server: Ipv4Addr,
        port: u16,
        proto: GenProto,
    ) -> u32 {
        self.next_port = if self.next_port >= 65_000 {
            20_000
        } else {
            self.next_port + 1
        };
        self.out.conversations.push(Conversation {
            ipv6: false,
            client: index(client),
            server: index(server),
            client_port: self.next_port,
            server_port: port,
            proto,
            vlan: 0,
            tos: 0,
        });
        (self.out.conversations.len() - 1) as u32
    }

    fn packet(&mut self, c: u32, t: u64, forward: bool, payload: u16, flags: u8) {
        let header = match self.out.conversations[c as usize].proto {
            GenProto::Tcp => 40,
            _ => 28,
        };
        self.out.packets.push(GenPacket {
            ts: Timestamp(t),
            conversation: c,
            forward,
            ip_len: header + payload,
            tcp_flags: flags,
        });
    }

    /// A TCP session from `t`: handshake, `exchanges` request/response pairs of the given
    /// sizes (responses cut in full segments), FIN close. Returns the client's octets.
    fn tcp_session(
        &mut self,
        c: u32,
        mut t: u64,
        exchanges: u32,
        request: u16,
        response: u32,
    ) -> u64 {
        let gap = |rng: &mut Rng| 1_000_000 + rng.exponential(20e6) as u64;
        let mut sent = 0u64;
        for (fwd, flags) in [(true, SYN), (false, SYN | ACK), (true, ACK)] {
            self.packet(c, t, fwd, 0, flags);
            sent += if fwd { 40 } else { 0 };
            t += gap(&mut self.rng);
        }
        for _ in 0..exchanges {
            self.packet(c, t, true, request, PSH | ACK);
            sent += 40 + u64::from(request);
            t += gap(&mut self.rng);
            let mut left = response;
            while left > 0 {
                let seg = left.min(1448) as u16;
                self.packet(c, t, false, seg, PSH | ACK);
                left -= u32::from(seg);
                t += 200_000 + self.rng.below(800_000);
            }
            self.packet(c, t, true, 0, ACK);
            sent += 40;
            t += gap(&mut self.rng);
        }
        self.packet(c, t, true, 0, FIN | ACK);
        t += gap(&mut self.rng);
        self.packet(c, t, false, 0, FIN | ACK);
        t += gap(&mut self.rng);
        self.packet(c, t, true, 0, ACK);
        sent + 80
    }

    fn at(&self, share: f64) -> u64 {
        self.start.as_nanos() + (share * self.span_ns as f64) as u64
    }

    fn uniform_time(&mut self) -> u64 {
        self.start.as_nanos() + self.rng.below(self.span_ns)
    }
}

/// Generates a scenario capture of `span` with `scenarios` planted.
pub fn generate_scenarios(
    seed: u64,
    start: Timestamp,
    span: Duration,
    scenarios: &[Scenario],
) -> (Generated, Truth) {
    let mut site = Site {
        rng: Rng::new(seed),
        start,
        span_ns: span.as_nanos() as u64,
        out: Generated {
            conversations: Vec::new(),
            packets: Vec::new(),
        },
        next_port: 20_000,
    };
    let mut truth = Truth {
        span,
        scenarios: scenarios.to_vec(),
        ..Truth::default()
    };
    let hours = span.as_secs_f64() / 3600.0;
    let client = |i: u32| Ipv4Addr::new(198, 18, 1, i as u8);
    let external = |i: u32| Ipv4Addr::new(198, 19, 10 + (i / 200) as u8, 1 + (i % 200) as u8);
    let server = |i: u32| Ipv4Addr::new(198, 18, 2, i as u8);
    // Ordinary clients, and the planted hosts that are ordinary clients too.
    let mut clients: Vec<(Ipv4Addr, f64)> = (1..=200).map(|i| (client(i), 15.0)).collect();
    clients[6].1 = 75.0; // 198.18.1.7, the busy one
    clients.push((hosts::EXFIL, 15.0));
    clients.push((hosts::LATERAL, 15.0));
    for (host, per_hour) in clients {
        let n = (per_hour * hours) as u32;
        for _ in 0..n {
            let t = site.uniform_time();
            let web = site.rng.below(10) < 8;
            let (to, port) = if web {
                (
                    external(site.rng.below(300) as u32),
                    [443, 443, 80][site.rng.below(3) as usize],
                )
            } else if site.rng.below(2) == 0 {
                (Ipv4Addr::new(198, 18, 0, 10), 445)
            } else {
                (Ipv4Addr::new(198, 18, 0, 20), 389)
            };
            let c = site.conversation(host, to, port, GenProto::Tcp);
            let exchanges = 1 + site.rng.below(4) as u32;
            let response = 500 + site.rng.below(30_000) as u32;
            let request = 100 + site.rng.below(500) as u16;
            site.tcp_session(c, t, exchanges, request, response);
        }
    }
    // The jump host: sessions to its 20 servers, all day.
    for _ in 0..(60.0 * hours) as u32 {
        let t = site.uniform_time();
        let to = server(1 + site.rng.below(20) as u32);
        let port = [22, 3389][site.rng.below(2) as usize];
        let c = site.conversation(hosts::JUMP, to, port, GenProto::Tcp);
        site.tcp_session(c, t, 5, 60, 400);
    }
    // The time client: irregular polls.
    let ntp = site.conversation(
        client(9),
        Ipv4Addr::new(198, 19, 5, 123),
        123,
        GenProto::Udp,
    );
    let mut t = site.at(0.0) + 5_000_000_000;
    while t < site.at(1.0) {
        site.packet(ntp, t, true, 48, 0);
        site.packet(ntp, t + 30_000_000, false, 48, 0);
        t += 30_000_000_000 + site.rng.below(270_000_000_000);
    }
    // The big download (inbound).
    let dl = site.conversation(client(8), external(17), 443, GenProto::Tcp);
    let t = site.at(0.3);
    bulk(&mut site, dl, t, 40_000_000, false);

    for sc in scenarios {
        match sc {
            Scenario::Beacon => {
                let mut t = site.at(0.0) + 10_000_000_000;
                while t < site.at(1.0) - 60_000_000_000 {
                    let c =
                        site.conversation(hosts::BEACON, hosts::BEACON_TARGET, 443, GenProto::Tcp);
                    truth.beacon_calls.push(Timestamp(t));
                    let exchanges = 1 + site.rng.below(2) as u32;
                    let request = 180 + site.rng.below(60) as u16;
                    site.tcp_session(c, t, exchanges, request, 120);
                    let jitter = BEACON_JITTER.as_nanos() as u64;
                    t +=
                        BEACON_INTERVAL.as_nanos() as u64 - jitter + site.rng.below(2 * jitter + 1);
                }
            }
            Scenario::Exfil => {
                let c = site.conversation(hosts::EXFIL, hosts::EXFIL_TARGET, 443, GenProto::Tcp);
                let t = site.at(0.6);
                truth.exfil_octets = bulk(&mut site, c, t, EXFIL_OCTETS, true);
            }
            Scenario::Scan => {
                let mut t = site.at(0.4);
                let ports = [
                    21, 22, 23, 25, 53, 80, 110, 111, 135, 139, 143, 389, 443, 445, 465, 587, 636,
                    993, 995, 1433, 1521, 2049, 2375, 3000, 3306, 3389, 5432, 5900, 5985, 6379,
                    8000, 8080, 8443, 8888, 9000, 9090, 9200, 11211, 27017, 50000,
                ];
                for host in 1..=30 {
                    for &port in &ports {
                        let to = server(host);
                        let c = site.conversation(hosts::SCAN, to, port, GenProto::Tcp);
                        site.packet(c, t, true, 0, SYN);
                        if site.rng.below(2) == 0 {
                            site.packet(c, t + 300_000, false, 0, RST | ACK);
                        }
                        truth.scan_targets.push((to, port));
                        t += 20_000_000;
                    }
                }
            }
            Scenario::Lateral => {
                let mut t = site.at(0.75);
                for (i, port) in [22u16, 445, 3389, 5985, 445, 22].into_iter().enumerate() {
                    let to = server(41 + i as u32);
                    let c = site.conversation(hosts::LATERAL, to, port, GenProto::Tcp);
                    truth.lateral_sessions.push((to, port, Timestamp(t)));
                    site.tcp_session(c, t, 6, 120, 2000);
                    t += 90_000_000_000 + site.rng.below(60_000_000_000);
                }
            }
        }
    }
    site.out.packets.sort_by_key(|p| p.ts);
    (site.out, truth)
}

/// A bulk transfer of `octets` of IP (full 1500-byte packets) from the client
/// (`upload`) or the server, with an ACK back every second packet. Returns the octets
/// the sending side sent (IP lengths).
fn bulk(site: &mut Site, c: u32, mut t: u64, octets: u64, upload: bool) -> u64 {
    for (fwd, flags) in [(true, SYN), (false, SYN | ACK), (true, ACK)] {
        site.packet(c, t, fwd, 0, flags);
        t += 20_000_000;
    }
    let mut sent = if upload { 80 } else { 40 };
    let mut n = 0u64;
    while sent + 1500 <= octets {
        site.packet(c, t, upload, 1460, PSH | ACK);
        sent += 1500;
        n += 1;
        t += 100_000;
        if n.is_multiple_of(2) {
            site.packet(c, t, !upload, 0, ACK);
            t += 10_000;
        }
    }
    site.packet(c, t, true, 0, FIN | ACK);
    site.packet(c, t + 20_000_000, false, 0, FIN | ACK);
    site.packet(c, t + 40_000_000, true, 0, ACK);
    // The sender's closing packets: FIN and last ACK from the client, FIN from the server.
    sent + if upload { 80 } else { 40 }
}
