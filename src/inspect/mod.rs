//! Payload inspection: what each flow is and how it behaves (`--inspect`).
//!
//! A layer between decoding and metering, off by default. One file a protocol, each a
//! parser of untrusted bytes under the decoder's rule (no panic, no slice indexing: every
//! read goes through [`reader::Reader`]), each fuzzed (`fuzz/`).
//!
//! # Where it runs, and where its results go
//! - [`Inspector`] (`inspector.rs`) sits beside the decoder in the `Classifier`: in the
//!   reader thread offline, in each capture worker live. Both directions of a connection
//!   pass through the same one (offline there is one reader; live the kernel's fanout hash
//!   is symmetric), so it can tell client from server and reassemble the first bytes of
//!   each direction. Its table holds only connections under inspection, and drops each
//!   when its inspection ends (a message read, `max_packets` payload packets, 16 KiB, or
//!   [`INSPECTION_TIMEOUT`] without an end).
//! - [`tcp::TcpAnalyzer`] (`--inspect tcp`) sits beside it: tshark's sequence analysis of
//!   every TCP segment, per connection, and the handshake's times and SYN options.
//! - What a packet completes (a message's fields, a handshake's RTT, a SYN's options) is
//!   a [`Note`], gathered on the capture thread and sent to the exporter thread in
//!   batches, each before anything the packets it covers became (their batch to a
//!   worker, or the records of a thread that meters itself). The exporter keeps each by
//!   flow key (`Notes`) until the record holding its packet is released, then hands what
//!   they say on with the record as an [`Inspection`]: so a record carries what its own
//!   packets showed.
//! - Per-packet facts travel in the packet's `PacketMeta` (payload length, TCP events)
//!   to the flow cache, which gathers each record's [`splt::Shape`] in a side table
//!   (`tcp` or `splt` only) and hands it on with the record.
//! - Community ID is a function of the key alone: the outputs compute it.

pub mod community_id;
pub mod dns;
pub mod http;
pub mod inspector;
pub mod quic;
pub mod reader;
pub mod splt;
pub mod ssh;
pub mod tcp;
pub mod tls;

pub use inspector::{InspectStats, Inspector};

/// The hash of `key`'s connection, the same for both directions (its key with the lower
/// endpoint first; ToS and interface left out, as they may differ between the
/// directions), and whether `key` is the lower endpoint's direction. The inspector's and
/// the TCP analysis's tables are keyed by it: 8 bytes instead of a 48-byte key, so two
/// connections whose hashes are equal share an entry.
///
/// That makes the mix matter. The key is read as five words (each address two, ports,
/// VLAN, protocol and IP version one) and every pair of words goes through a 128-bit
/// multiplication folded to 64 bits (the core of wyhash and rapidhash), which carries
/// every input bit into every output bit. A sum of multiplied words (FxHash's update,
/// which this once used) is linear: the high bytes of an IPv6 address's two halves (its
/// subnet and host bytes) could cancel each other, and most connections of an IPv6 mesh
/// with one port pair shared an entry (`connection_hashes_of_ipv6_meshes_do_not_collide`).
/// The words are mixed with a secret drawn once a process ([`connection_seed`]), so
/// that traffic cannot be made to collide on purpose (a connection hidden from
/// inspection behind another); entries are never iterated into output, so the output
/// does not depend on it.
pub(crate) fn connection_hash(key: &crate::flow::key::FlowKey) -> (u64, bool) {
    let forward = (key.src, key.src_port) <= (key.dst, key.dst_port);
    let (a, b) = if forward {
        ((&key.src, key.src_port), (&key.dst, key.dst_port))
    } else {
        ((&key.dst, key.dst_port), (&key.src, key.src_port))
    };
    let halves = |addr: &[u8; 16]| {
        let w = u128::from_ne_bytes(*addr);
        (w as u64, (w >> 64) as u64)
    };
    let ((a_hi, a_lo), (b_hi, b_lo)) = (halves(a.0), halves(b.0));
    let rest = u64::from(a.1)
        | u64::from(b.1) << 16
        | u64::from(key.vlan) << 32
        | u64::from(key.proto) << 48
        | u64::from(key.ip_version) << 56;
    // rapidhash's secrets: odd, about half their bits set.
    const S: [u64; 5] = [
        0x2d35_8dcc_aa6c_78a5,
        0x8bb8_4b93_962e_acc9,
        0x4b33_a62e_d433_d4a3,
        0x4d5a_2da5_1de1_aa47,
        0xa076_1d64_78bd_642f,
    ];
    let seed = connection_seed();
    let x = fold(a_hi ^ S[0], a_lo ^ seed);
    let y = fold(b_hi ^ S[1], b_lo ^ seed ^ S[2]);
    let z = fold(x ^ S[3], y ^ rest);
    (fold(z ^ S[4], rest ^ seed), forward)
}

/// `a` times `b` in 128 bits, the two halves XORed.
#[inline(always)]
fn fold(a: u64, b: u64) -> u64 {
    let p = u128::from(a) * u128::from(b);
    p as u64 ^ (p >> 64) as u64
}

/// The secret [`connection_hash`] mixes in: random, drawn once a process (the standard
/// library's `RandomState`, seeded by the operating system); fixed in the unit tests and
/// fuzz targets, which then run the same each time.
#[allow(unexpected_cfgs)]
fn connection_seed() -> u64 {
    #[cfg(any(test, fuzzing))]
    {
        0x5eed_5eed_5eed_5eed
    }
    #[cfg(not(any(test, fuzzing)))]
    {
        use std::hash::BuildHasher;
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        *SEED.get_or_init(|| std::collections::hash_map::RandomState::new().hash_one(0u64) | 1)
    }
}

/// The hasher of tables keyed by [`connection_hash`]: their keys are hashes already.
#[derive(Default)]
pub(crate) struct KeyIsHash(u64);

impl std::hash::Hasher for KeyIsHash {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; anything else is folded in, never lost.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A connection whose inspection has not ended this long after its first packet is
/// dropped from the inspector's table (whatever it showed so far is kept).
pub const INSPECTION_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// One inspectable protocol (or derived field), as `--inspect` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum Protocol {
    /// TLS over TCP: ClientHello and ServerHello.
    Tls = 0,
    /// QUIC v1 and v2 Initial packets, and the TLS hellos inside.
    Quic = 1,
    /// DNS over UDP and TCP.
    Dns = 2,
    /// HTTP/1.x request and response heads.
    Http = 3,
    /// SSH banners and the client's key exchange offer (HASSH).
    Ssh = 4,
    /// Community ID v1 of the flow key.
    CommunityId = 5,
    /// TCP health: handshake RTT, retransmissions, out-of-order and zero-window
    /// segments, SYN options, and payload octets (`tcp.rs`, `splt.rs`).
    Tcp = 6,
    /// Timing shape: the first packets' lengths and gaps, and length and inter-arrival
    /// statistics (`splt.rs`).
    Splt = 7,
}

impl Protocol {
    /// Every protocol, in `--inspect` order.
    pub const ALL: [Protocol; 8] = [
        Protocol::Tls,
        Protocol::Quic,
        Protocol::Dns,
        Protocol::Http,
        Protocol::Ssh,
        Protocol::CommunityId,
        Protocol::Tcp,
        Protocol::Splt,
    ];

    /// The protocols whose payload `Inspector` parses.
    pub const APPLICATIONS: [Protocol; 5] = [
        Protocol::Tls,
        Protocol::Quic,
        Protocol::Dns,
        Protocol::Http,
        Protocol::Ssh,
    ];

    /// The name `--inspect` and the config use.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Tls => "tls",
            Protocol::Quic => "quic",
            Protocol::Dns => "dns",
            Protocol::Http => "http",
            Protocol::Ssh => "ssh",
            Protocol::CommunityId => "community-id",
            Protocol::Tcp => "tcp",
            Protocol::Splt => "splt",
        }
    }

    /// The protocol of `name` (case-insensitive, `_` for `-`).
    pub fn from_name(name: &str) -> Option<Protocol> {
        let wanted = name.trim().to_ascii_lowercase().replace('_', "-");
        Protocol::ALL.into_iter().find(|p| p.name() == wanted)
    }
}

/// A set of [`Protocol`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ProtocolSet(u8);

impl ProtocolSet {
    /// No inspection.
    pub const NONE: ProtocolSet = ProtocolSet(0);

    /// Every protocol.
    pub fn all() -> ProtocolSet {
        Protocol::ALL.into_iter().collect()
    }

    /// Whether `p` is in the set.
    pub fn has(self, p: Protocol) -> bool {
        self.0 & (1 << p as u8) != 0
    }

    /// Adds `p`.
    pub fn insert(&mut self, p: Protocol) {
        self.0 |= 1 << p as u8;
    }

    /// Whether nothing is inspected.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether any protocol that reads payload is in the set (all but Community ID).
    pub fn reads_payload(self) -> bool {
        self.0 & !(1 << Protocol::CommunityId as u8) != 0
    }

    /// Whether an application protocol (TLS, QUIC, DNS, HTTP, SSH) is in the set: the
    /// payload parsers of `Inspector` run.
    pub fn parses_applications(self) -> bool {
        Protocol::APPLICATIONS.iter().any(|&p| self.has(p))
    }

    /// Whether the application columns (`app` ... `community_id`) are written: an
    /// application protocol or Community ID is in the set.
    pub fn has_application_columns(self) -> bool {
        self.parses_applications() || self.has(Protocol::CommunityId)
    }

    /// Whether records gather their shape (`splt.rs`): `tcp` or `splt` is in the set.
    pub fn shapes_records(self) -> bool {
        self.has(Protocol::Tcp) || self.has(Protocol::Splt)
    }

    /// The members, in `--inspect` order.
    pub fn iter(self) -> impl Iterator<Item = Protocol> {
        Protocol::ALL.into_iter().filter(move |p| self.has(*p))
    }

    /// Parses a `--inspect` list: protocol names, `all`, `none` (alone or with others,
    /// which it clears before them). The error names the unknown item.
    pub fn parse<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<ProtocolSet, String> {
        let mut set = ProtocolSet::NONE;
        for item in items {
            let item = item.trim();
            match item.to_ascii_lowercase().as_str() {
                "" => {}
                "all" => set = ProtocolSet::all(),
                "none" => set = ProtocolSet::NONE,
                _ => set.insert(Protocol::from_name(item).ok_or_else(|| item.to_string())?),
            }
        }
        Ok(set)
    }
}

impl FromIterator<Protocol> for ProtocolSet {
    fn from_iter<I: IntoIterator<Item = Protocol>>(iter: I) -> ProtocolSet {
        let mut set = ProtocolSet::NONE;
        for p in iter {
            set.insert(p);
        }
        set
    }
}

/// `[inspect]` as resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InspectConfig {
    /// What is inspected (`protocols`, `--inspect`); empty by default.
    pub protocols: ProtocolSet,
    /// Payload packets of each direction looked at before its inspection ends.
    pub max_packets: u16,
    /// Community ID seed (`--community-id-seed`).
    pub community_id_seed: u16,
    /// Packets of a record the `splt` column lists (`inspect.splt_packets`).
    pub splt_packets: u8,
}

impl Default for InspectConfig {
    fn default() -> InspectConfig {
        InspectConfig {
            protocols: ProtocolSet::NONE,
            max_packets: DEFAULT_MAX_PACKETS,
            community_id_seed: 0,
            splt_packets: splt::DEFAULT_SPLT_PACKETS,
        }
    }
}

impl InspectConfig {
    /// Whether any inspection is on (the outputs then have the inspection columns).
    pub fn is_enabled(&self) -> bool {
        !self.protocols.is_empty()
    }
}

/// `inspect.max_packets` by default.
pub const DEFAULT_MAX_PACKETS: u16 = 16;

/// Bytes of a direction's stream start kept for reassembly, at most.
pub const MAX_STREAM_BYTES: usize = 16 * 1024;

/// What payload showed a flow to be (the `app` column): from payload evidence only,
/// never from a port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum App {
    /// A TLS hello over TCP.
    Tls,
    /// A QUIC Initial that opened.
    Quic,
    /// A DNS message.
    Dns,
    /// An HTTP/1.x request or response head.
    Http,
    /// An SSH banner.
    Ssh,
}

impl App {
    /// The `app` column's value.
    pub fn name(self) -> &'static str {
        match self {
            App::Tls => "tls",
            App::Quic => "quic",
            App::Dns => "dns",
            App::Http => "http",
            App::Ssh => "ssh",
        }
    }
}

/// What the packets of one direction of a flow showed. Every field is the first value
/// seen; `merge` never overwrites.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    /// `app`.
    pub app: Option<App>,
    /// `tls_sni`: the ClientHello's server name.
    pub tls_sni: Option<String>,
    /// `tls_alpn`: the ClientHello's ALPN list, comma-joined.
    pub tls_alpn: Option<String>,
    /// `tls_version`: the ServerHello's negotiated version (supported_versions first).
    pub tls_version: Option<u16>,
    /// `tls_cipher`: the ServerHello's cipher suite.
    pub tls_cipher: Option<u16>,
    /// `ja4`: the ClientHello's JA4.
    pub ja4: Option<String>,
    /// `ja3`: the ClientHello's JA3 (MD5 hex).
    pub ja3: Option<String>,
    /// `dns_qname`: the first question's name.
    pub dns_qname: Option<String>,
    /// `dns_qtype`: the first question's type.
    pub dns_qtype: Option<u16>,
    /// `dns_rcode`: a response's RCODE.
    pub dns_rcode: Option<u8>,
    /// `dns_answers`: a response's answer count.
    pub dns_answers: Option<u16>,
    /// `http_host`: the request's Host header.
    pub http_host: Option<String>,
    /// `http_method`.
    pub http_method: Option<String>,
    /// `http_target`: the request target as sent.
    pub http_target: Option<String>,
    /// `http_user_agent`.
    pub http_user_agent: Option<String>,
    /// `http_status`: a response's status code.
    pub http_status: Option<u16>,
    /// `ssh_client`: the client's banner.
    pub ssh_client: Option<String>,
    /// `ssh_server`: the server's banner.
    pub ssh_server: Option<String>,
    /// `hassh`: the client's HASSH.
    pub hassh: Option<String>,
    /// `tcp_mss` ... `tcp_options`: what this side's first SYN carried.
    pub tcp_options: Option<tcp::TcpOptions>,
    /// `server_rtt_us`: SYN-ACK time minus SYN time, in microseconds.
    pub server_rtt_us: Option<u32>,
    /// `client_rtt_us`: the handshake's ACK time minus SYN-ACK time, in microseconds.
    pub client_rtt_us: Option<u32>,
}

/// Hands macro `$m` the application fields of [`Seen`] (`app` to `hassh`; the TCP
/// fields are the other three), so that each use lists them once.
macro_rules! app_fields {
    ($m:ident) => {
        $m!(
            app,
            tls_sni,
            tls_alpn,
            tls_version,
            tls_cipher,
            ja4,
            ja3,
            dns_qname,
            dns_qtype,
            dns_rcode,
            dns_answers,
            http_host,
            http_method,
            http_target,
            http_user_agent,
            http_status,
            ssh_client,
            ssh_server,
            hassh
        )
    };
}

impl Seen {
    /// Fills every field `self` lacks from `other`.
    pub fn merge(&mut self, other: Seen) {
        macro_rules! fill {
            ($($f:ident),*) => { $( if self.$f.is_none() { self.$f = other.$f; } )* };
        }
        app_fields!(fill);
        fill!(tcp_options, server_rtt_us, client_rtt_us);
    }

    /// Whether any application field (`app` to `hassh`: not the TCP fields) has a value.
    pub fn has_app_values(&self) -> bool {
        macro_rules! any {
            ($($f:ident),*) => { false $( || self.$f.is_some() )* };
        }
        app_fields!(any)
    }

    /// `self` with what `other` adds (see `merge`).
    pub fn or(mut self, other: &Seen) -> Seen {
        self.merge(other.clone());
        self
    }
}

/// What one packet completed, on its way to the exporter (see `pipeline::exporter`):
/// an application's values, boxed (they are many and rare), or the TCP analysis's small
/// values, carried as they are (four a connection: boxing them cost an allocation each).
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    /// What the application parsers found.
    App(Box<Seen>),
    /// What this side's first SYN carried.
    TcpOptions(tcp::TcpOptions),
    /// The handshake's two times, in microseconds.
    Rtt {
        /// SYN to SYN-ACK.
        server_us: u32,
        /// SYN-ACK to the ACK that completed the handshake.
        client_us: u32,
    },
}

impl Note {
    /// Fills the fields `seen` lacks from this note (the earliest value stays).
    pub fn fill(self, seen: &mut Seen) {
        match self {
            Note::App(app) => seen.merge(*app),
            Note::TcpOptions(o) => {
                seen.tcp_options.get_or_insert(o);
            }
            Note::Rtt {
                server_us,
                client_us,
            } => {
                seen.server_rtt_us.get_or_insert(server_us);
                seen.client_rtt_us.get_or_insert(client_us);
            }
        }
    }
}

/// A note with the flow key (the packet's own direction) and the time of the packet
/// that completed it.
#[derive(Clone, Debug, PartialEq)]
pub struct Noted {
    /// The flow key the note belongs to.
    pub key: crate::flow::key::FlowKey,
    /// The packet's time.
    pub ts: crate::time::Timestamp,
    /// What it completed.
    pub note: Note,
}

/// What a record's packets showed, handed to the outputs with the record: `forward` for
/// the record's own direction (its key), `reverse` for a biflow's reverse direction
/// (always empty in a uniflow record), and the record's shape (with `tcp` or `splt`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inspection {
    /// The key's direction.
    pub forward: Seen,
    /// A biflow record's reverse direction.
    pub reverse: Seen,
    /// What the flow cache gathered over the record's packets (`splt::Shape`).
    pub shape: Option<Box<splt::Shape>>,
}

impl Inspection {
    /// The record's values: each field from the forward direction when it has one, else
    /// from the reverse (a biflow's server name comes from the client's half, its cipher
    /// from the server's).
    pub fn combined(&self) -> Seen {
        self.forward.clone().or(&self.reverse)
    }
}

/// What a parser made of the bytes one direction has shown so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    /// The message was read.
    Found(T),
    /// A valid beginning: more bytes of the same direction are needed.
    Incomplete,
    /// Not this protocol (no error: another parser may take the bytes).
    NotThis,
    /// This protocol, but broken; counted as an inspection error of the protocol.
    Malformed(&'static str),
}

impl<T> Outcome<T> {
    /// The found value mapped by `f`; the other outcomes as they are.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Outcome<U> {
        match self {
            Outcome::Found(t) => Outcome::Found(f(t)),
            Outcome::Incomplete => Outcome::Incomplete,
            Outcome::NotThis => Outcome::NotThis,
            Outcome::Malformed(why) => Outcome::Malformed(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Connections that differ only in their addresses' last bytes, the shapes of an
    /// IPv6 mesh or pool (a linear hash of the words let the subnet and host bytes cancel
    /// out: 64,769 of these 65,536 mesh connections shared an entry), and an IPv4 mesh
    /// and many client ports for comparison: no two share a hash, both directions hash
    /// alike, and the low bits the tables probe by (and hashbrown's top 7) spread evenly.
    #[test]
    fn connection_hashes_of_ipv6_meshes_do_not_collide() {
        use crate::flow::key::FlowKey;
        use std::collections::HashSet;
        use std::net::IpAddr;
        let key = |src: IpAddr, dst: IpAddr, sport: u16, dport: u16, proto: u8| {
            let mut k = FlowKey {
                proto,
                src_port: sport,
                dst_port: dport,
                ..FlowKey::default()
            };
            k.set_addrs(src, dst);
            k
        };
        let v6 = |s: String| s.parse::<IpAddr>().unwrap();
        let mut sets: Vec<(&str, Vec<FlowKey>)> = Vec::new();
        let mesh = (1..=256u32)
            .flat_map(|a| (1..=256u32).map(move |b| (a, b)))
            .map(|(a, b)| {
                let (a, b) = (
                    v6(format!("2001:db8:a::{a:x}")),
                    v6(format!("2001:db8:b::{b:x}")),
                );
                key(a, b, 123, 123, 17)
            })
            .collect();
        sets.push(("IPv6 mesh", mesh));
        let pool = (0..=255u32)
            .flat_map(|s| (1..=256u32).map(move |h| (s, h)))
            .map(|(s, h)| {
                let client = v6(format!("2001:db8:0:{s:x}::{h:x}"));
                key(client, v6("2001:db8:1::2".into()), 500, 500, 17)
            })
            .collect();
        sets.push(("IPv6 pool", pool));
        let v4 = (0..=255u32)
            .flat_map(|a| (0..=255u32).map(move |b| (a, b)))
            .map(|(a, b)| {
                let a = IpAddr::from([198, 18, 0, a as u8]);
                let b = IpAddr::from([198, 19, 0, b as u8]);
                key(a, b, 4500, 4500, 17)
            })
            .collect();
        sets.push(("IPv4 mesh", v4));
        let ports = (0..=65535u16)
            .map(|p| {
                let (a, b) = (v6("2001:db8::1".into()), v6("2001:db8::2".into()));
                key(a, b, p, 443, 6)
            })
            .collect();
        sets.push(("client ports", ports));
        for (name, keys) in sets {
            let mut seen = HashSet::new();
            let mut low = vec![0u32; 4096];
            let mut top = [0u32; 128];
            for k in &keys {
                let (h, forward) = connection_hash(k);
                let (r, reverse_forward) = connection_hash(&k.reversed().unwrap());
                assert_eq!((h, !forward), (r, reverse_forward), "{name}: {k:?}");
                assert!(seen.insert(h), "{name}: {k:?} shares a hash");
                low[h as usize & 4095] += 1;
                top[(h >> 57) as usize] += 1;
            }
            // 65,536 keys: 16 a low bucket, 512 a top-7 value on average.
            let (lmax, tmax) = (low.iter().max().unwrap(), top.iter().max().unwrap());
            assert!(
                *lmax < 40,
                "{name}: {lmax} keys in one of 4,096 low-bit buckets"
            );
            assert!(*tmax < 640, "{name}: {tmax} keys with one top-7 value");
        }
    }

    #[test]
    fn inspect_lists_parse_by_name_all_and_none() {
        let set = ProtocolSet::parse(["tls", " DNS", "community_id"]).unwrap();
        let names: Vec<_> = set.iter().map(Protocol::name).collect();
        assert_eq!(names, ["tls", "dns", "community-id"]);
        assert!(set.reads_payload());
        assert_eq!(ProtocolSet::parse(["all"]).unwrap(), ProtocolSet::all());
        assert!(ProtocolSet::parse(["all", "none"]).unwrap().is_empty());
        assert!(!ProtocolSet::parse(["community-id"])
            .unwrap()
            .reads_payload());
        assert_eq!(ProtocolSet::parse(["tls", "smtp"]), Err("smtp".to_string()));
    }

    #[test]
    fn app_values_are_the_application_fields_not_the_tcp_ones() {
        assert!(!Seen::default().has_app_values());
        let tcp = Seen {
            tcp_options: Some(tcp::TcpOptions::default()),
            server_rtt_us: Some(1),
            client_rtt_us: Some(2),
            ..Seen::default()
        };
        assert!(!tcp.has_app_values());
        let some = |set: fn(&mut Seen)| {
            let mut s = Seen::default();
            set(&mut s);
            s.has_app_values()
        };
        assert!(some(|s| s.app = Some(App::Dns)));
        assert!(some(|s| s.dns_rcode = Some(3)));
        assert!(some(|s| s.tls_cipher = Some(0x1301)));
        assert!(some(|s| s.hassh = Some(String::new())));
        assert!(some(|s| s.http_status = Some(200)));
    }

    #[test]
    fn merge_keeps_the_first_value_and_combined_prefers_forward() {
        let mut a = Seen {
            tls_sni: Some("a.example".into()),
            ..Seen::default()
        };
        a.merge(Seen {
            tls_sni: Some("b.example".into()),
            tls_cipher: Some(0x1301),
            ..Seen::default()
        });
        assert_eq!(a.tls_sni.as_deref(), Some("a.example"));
        assert_eq!(a.tls_cipher, Some(0x1301));
        let i = Inspection {
            forward: Seen {
                app: Some(App::Tls),
                ..Seen::default()
            },
            reverse: Seen {
                app: Some(App::Http),
                tls_version: Some(0x0304),
                ..Seen::default()
            },
            shape: None,
        };
        let c = i.combined();
        assert_eq!(c.app, Some(App::Tls));
        assert_eq!(c.tls_version, Some(0x0304));
    }
}
