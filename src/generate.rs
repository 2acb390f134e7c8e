//! A deterministic traffic generator: writes captures whose every flow is known.
//!
//! Used by the tests (conversion must reproduce the per-direction totals and split records
//! exactly where the timeouts say), by the benchmarks (a large capture of a chosen size),
//! and to make the small captures shipped in `pcaps/`. The same seed and settings give the
//! same bytes on every machine: the random numbers come from a fixed SplitMix64 stream.
//!
//! What it makes: conversations between hosts in 198.18.0.0/15 and 2001:db8::/32 over
//! TCP (handshake, data, FIN close or RST), UDP and ICMP echo; some on 802.1Q VLANs; flow
//! sizes heavy-tailed (Pareto), so a few flows carry most packets; and some conversations
//! pause for longer than the idle timeout or last longer than the active timeout, so
//! records must split. Frames are Ethernet II with correct IPv4, TCP, UDP and ICMP checksums.
//!
//! SPAN captures ([`generate_span`]) carry the same traffic at a site seen from a mirror
//! port: local networks, two edge routers, RSPAN VLANs, with inbound, outbound, internal
//! and transit flows whose true direction is known from how their frames were made (which
//! end is inside), not from the direction rules they test.

use std::io::{self, Write};
pub mod scenario;

use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use crate::time::Timestamp;

/// What to generate.
#[derive(Clone, Debug)]
pub struct GenConfig {
    /// Seed of the random stream.
    pub seed: u64,
    /// Conversations (each is two directional flows, or one for a one-way UDP stream).
    pub conversations: usize,
    /// Capture start time.
    pub start: Timestamp,
    /// Conversations start uniformly within this span.
    pub span: Duration,
    /// Mean packets a conversation (heavy-tailed; at least 1).
    pub mean_packets: f64,
    /// Largest number of packets of one conversation.
    pub max_packets: usize,
    /// Share of conversations over IPv6.
    pub ipv6_share: f64,
    /// Share of conversations on a VLAN.
    pub vlan_share: f64,
    /// Share of conversations with one pause of `pause` (longer than the idle timeout).
    pub pause_share: f64,
    /// How long the pauses last.
    pub pause: Duration,
    /// Mean time between packets of a conversation.
    pub mean_gap: Duration,
    /// Packet sizes.
    pub payload: PayloadMix,
}

/// How large the generated packets are (`flowprobe generate --payload`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PayloadMix {
    /// TCP data of full segments or up to 600 bytes, UDP up to 1220, ICMP echo 56: the
    /// mix the benchmark capture has always had.
    #[default]
    Mixed,
    /// Small packets: payloads of 1 to 80 bytes (frames of about 60 to 160 bytes), the
    /// shape of DNS, VoIP signalling, scans and chatty RPC.
    Small,
    /// Full-size packets: every payload fills a 1500-byte IP packet (bulk transfers).
    Full,
}

impl PayloadMix {
    /// The payload of a packet whose mixed-size payload is `mixed` and whose IP and L4
    /// headers take `headers` bytes (a zero payload, a pure ACK, stays zero).
    fn resize(self, mixed: u16, headers: u16) -> u16 {
        match self {
            _ if mixed == 0 => 0,
            PayloadMix::Mixed => mixed,
            PayloadMix::Small => 1 + mixed % 80,
            PayloadMix::Full => 1500 - headers,
        }
    }
}

impl std::str::FromStr for PayloadMix {
    type Err = String;

    fn from_str(s: &str) -> Result<PayloadMix, String> {
        match s {
            "mixed" => Ok(PayloadMix::Mixed),
            "small" => Ok(PayloadMix::Small),
            "full" => Ok(PayloadMix::Full),
            _ => Err(format!("{s:?}: expected mixed, small or full")),
        }
    }
}

impl Default for GenConfig {
    fn default() -> Self {
        GenConfig {
            seed: 1,
            conversations: 1000,
            start: Timestamp::from_secs_nanos(1_700_000_000, 0),
            span: Duration::from_secs(120),
            mean_packets: 10.0,
            max_packets: 5000,
            ipv6_share: 0.3,
            vlan_share: 0.2,
            pause_share: 0.1,
            pause: Duration::from_secs(20),
            mean_gap: Duration::from_millis(200),
            payload: PayloadMix::Mixed,
        }
    }
}

/// One generated packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenPacket {
    /// Capture time.
    pub ts: Timestamp,
    /// Index of its conversation.
    pub conversation: u32,
    /// True from the client to the server.
    pub forward: bool,
    /// IP length (header plus payload), what a flow record counts.
    pub ip_len: u16,
    /// TCP flags (0 for UDP and ICMP).
    pub tcp_flags: u8,
}

/// Protocol of a conversation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GenProto {
    /// TCP with handshake and close.
    Tcp,
    /// UDP, both ways.
    Udp,
    /// ICMP or ICMPv6 echo request and reply.
    Icmp,
}

/// A conversation between a client and a server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conversation {
    /// IPv6 rather than IPv4.
    pub ipv6: bool,
    /// Client address index (becomes an address in the test ranges).
    pub client: u32,
    /// Server address index.
    pub server: u32,
    /// Client port (ICMP: echo identifier).
    pub client_port: u16,
    /// Server port.
    pub server_port: u16,
    /// Protocol.
    pub proto: GenProto,
    /// 802.1Q VLAN id, 0 for none.
    pub vlan: u16,
    /// IPv4 ToS / IPv6 traffic class.
    pub tos: u8,
}

impl Conversation {
    /// Client address in text form.
    pub fn client_addr(&self) -> String {
        addr_text(self.ipv6, self.client)
    }

    /// Server address in text form.
    pub fn server_addr(&self) -> String {
        addr_text(self.ipv6, self.server)
    }

    /// IP protocol number.
    pub fn proto_number(&self) -> u8 {
        match (self.proto, self.ipv6) {
            (GenProto::Tcp, _) => 6,
            (GenProto::Udp, _) => 17,
            (GenProto::Icmp, false) => 1,
            (GenProto::Icmp, true) => 58,
        }
    }

    /// (source port, destination port) of a packet as a flow key has them; ICMP: 0 and
    /// type * 256 + code.
    pub fn key_ports(&self, forward: bool) -> (u16, u16) {
        match (self.proto, forward) {
            (GenProto::Icmp, true) => (0, u16::from(echo_types(self.ipv6).0) << 8),
            (GenProto::Icmp, false) => (0, u16::from(echo_types(self.ipv6).1) << 8),
            (_, true) => (self.client_port, self.server_port),
            (_, false) => (self.server_port, self.client_port),
        }
    }
}

fn echo_types(ipv6: bool) -> (u8, u8) {
    if ipv6 {
        (128, 129)
    } else {
        (8, 0)
    }
}

fn addr_text(ipv6: bool, index: u32) -> String {
    if ipv6 {
        v6_addr(index).to_string()
    } else {
        v4_addr(index).to_string()
    }
}

fn v4_addr(index: u32) -> Ipv4Addr {
    // 198.18.0.0/15: 131072 addresses; skip .0 of the range.
    Ipv4Addr::from(0xc612_0000u32 + 1 + index % 131_000)
}

fn v6_addr(index: u32) -> Ipv6Addr {
    // +1 keeps ::0 out of use; index 0xffff wraps to it, still unique in its /64.
    Ipv6Addr::new(
        0x2001,
        0xdb8,
        0,
        (index >> 16) as u16,
        0,
        0,
        0,
        ((index & 0xffff) as u16).wrapping_add(1),
    )
}

/// A generated capture: its conversations and packets in time order.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The conversations.
    pub conversations: Vec<Conversation>,
    /// Every packet, sorted by time (ties in generation order).
    pub packets: Vec<GenPacket>,
}

impl Generated {
    /// The TCP fields of every packet as written ([`tcp_fields`], with `anomalies`).
    pub fn tcp_fields(&self, anomalies: &[Anomaly]) -> Vec<TcpFields> {
        tcp_fields(
            |i| &self.conversations[i as usize],
            &self.packets,
            anomalies,
        )
    }
}

/// SplitMix64: small, fast, and the same everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A stream from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        crate::flow::sampling::splitmix64(&mut self.0)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Exponentially distributed with the given mean.
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

/// Generates conversations and packets.
pub fn generate(config: &GenConfig) -> Generated {
    let mut rng = Rng::new(config.seed);
    let mut conversations = Vec::with_capacity(config.conversations);
    let mut packets = Vec::new();
    // Pareto with shape 1.5: mean = xm * 1.5 / 0.5 = 3 xm.
    let alpha = 1.5;
    let xm = (config.mean_packets * (alpha - 1.0) / alpha).max(0.5);
    for index in 0..config.conversations {
        let ipv6 = rng.unit() < config.ipv6_share;
        let proto = match rng.below(10) {
            0..=5 => GenProto::Tcp,
            6..=8 => GenProto::Udp,
            _ => GenProto::Icmp,
        };
        let conversation = Conversation {
            ipv6,
            client: rng.below(100_000) as u32,
            server: 100_000 + rng.below(1000) as u32,
            client_port: 1024 + rng.below(60_000) as u16,
            // Ports whose payload tshark does not try to dissect (zeros are no valid DNS).
            server_port: match proto {
                GenProto::Tcp => [22, 80, 443, 5201, 8080][rng.below(5) as usize],
                _ => [5001, 9000, 40000][rng.below(3) as usize],
            },
            proto,
            vlan: if rng.unit() < config.vlan_share {
                1 + rng.below(4000) as u16
            } else {
                0
            },
            tos: [0, 0, 0, 0x10, 0xb8][rng.below(5) as usize],
        };
        let count = ((xm / (1.0 - rng.unit()).powf(1.0 / alpha)) as usize)
            .clamp(1, config.max_packets.max(1));
        let span_ns = config.span.as_nanos() as f64;
        let mut t = config.start.as_nanos() + (rng.unit() * span_ns) as u64;
        let pause_at = if rng.unit() < config.pause_share && count > 2 {
            Some(1 + rng.below(count as u64 - 2) as usize)
        } else {
            None
        };
        let mean_gap = config.mean_gap.as_nanos() as f64;
        for i in 0..count {
            if i > 0 {
                t += rng.exponential(mean_gap) as u64 + 1;
                if pause_at == Some(i) {
                    t += config.pause.as_nanos() as u64;
                }
            }
            let (forward, tcp_flags, payload) = match proto {
                GenProto::Tcp => tcp_step(i, count, &mut rng),
                GenProto::Udp => (i % 3 != 2, 0, 20 + rng.below(1200) as u16),
                GenProto::Icmp => (i % 2 == 0, 0, 56),
            };
            let header = if ipv6 { 40 } else { 20 }
                + match proto {
                    GenProto::Tcp => 20,
                    GenProto::Udp | GenProto::Icmp => 8,
                };
            let payload = config.payload.resize(payload, header);
            packets.push(GenPacket {
                ts: Timestamp(t),
                conversation: index as u32,
                forward,
                ip_len: header + payload,
                tcp_flags,
            });
        }
        conversations.push(conversation);
    }
    add_syn_options(&conversations, &mut packets);
    packets.sort_by_key(|p| p.ts);
    Generated {
        conversations,
        packets,
    }
}

/// Direction, flags and payload of the `i`th of `count` TCP packets.
fn tcp_step(i: usize, count: usize, rng: &mut Rng) -> (bool, u8, u16) {
    const FIN: u8 = 0x01;
    const SYN: u8 = 0x02;
    const RST: u8 = 0x04;
    const PSH: u8 = 0x08;
    const ACK: u8 = 0x10;
    match (i, count - i) {
        (0, _) => (true, SYN, 0),
        (1, _) => (false, SYN | ACK, 0),
        (_, 1) if count > 4 && rng.below(8) == 0 => (true, RST | ACK, 0),
        (_, 1) if count > 4 => (true, ACK, 0),
        (_, 2) if count > 4 => (false, FIN | ACK, 0),
        (_, 3) if count > 4 => (true, FIN | ACK, 0),
        _ => {
            let forward = rng.below(3) == 0;
            let payload = if rng.below(2) == 0 {
                1448
            } else {
                rng.below(600) as u16
            };
            if i == 2 {
                // The client's ACK completes the handshake before anyone sends data (the
                // draws above are kept, so the rest of the stream is as it was).
                return (true, ACK, 0);
            }
            (forward, if payload > 0 { PSH | ACK } else { ACK }, payload)
        }
    }
}

/// Writes `generated` as a classic pcap (microsecond or nanosecond resolution).
pub fn write_pcap(generated: &Generated, nanos: bool, out: &mut impl Write) -> io::Result<()> {
    write_pcap_with(generated, &[], nanos, out)
}

/// Writes `packets` as a classic pcap, each frame made by `build`.
fn write_frames(
    packets: &[GenPacket],
    nanos: bool,
    out: &mut impl Write,
    mut build: impl FnMut(&GenPacket, &mut Vec<u8>),
) -> io::Result<()> {
    let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&magic.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes());
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&[0; 8]); // thiszone, sigfigs
    header.extend_from_slice(&65_535u32.to_le_bytes());
    header.extend_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    out.write_all(&header)?;
    let mut frame = Vec::with_capacity(1600);
    let mut record = Vec::with_capacity(16);
    for p in packets {
        frame.clear();
        build(p, &mut frame);
        record.clear();
        let secs = p.ts.as_secs() as u32;
        let frac = if nanos {
            p.ts.subsec_nanos()
        } else {
            p.ts.subsec_nanos() / 1000
        };
        record.extend_from_slice(&secs.to_le_bytes());
        record.extend_from_slice(&frac.to_le_bytes());
        record.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        record.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        out.write_all(&record)?;
        out.write_all(&frame)?;
    }
    out.flush()
}

/// The MAC of address index `i`: locally administered, unicast.
fn mac(i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [0x02, 0x00, b[0], b[1], b[2], b[3]]
}

/// Builds the Ethernet frame of one packet into `frame`. Without its connection's history,
/// a TCP segment's sequence number is its side's initial one (plus one after the SYN)
/// and its acknowledgment the peer's; [`write_pcap`] writes the whole history.
pub fn build_frame(c: &Conversation, p: &GenPacket, frame: &mut Vec<u8>) {
    build_frame_tcp(c, p, TcpFields::lone(c, p), frame)
}

/// [`build_frame`] with the TCP fields given.
fn build_frame_tcp(c: &Conversation, p: &GenPacket, tcp: TcpFields, frame: &mut Vec<u8>) {
    let (src, dst) = if p.forward {
        (c.client, c.server)
    } else {
        (c.server, c.client)
    };
    let ip = |i| {
        if c.ipv6 {
            v6_addr(i).octets()
        } else {
            v4_addr(i).to_ipv6_mapped().octets()
        }
    };
    let ends = Ends {
        src_mac: mac(src),
        dst_mac: mac(dst),
        vlan: c.vlan,
        src_ip: ip(src),
        dst_ip: ip(dst),
    };
    emit_frame(c, p, &ends, tcp, frame);
}

/// What a frame carries beyond the conversation: its layer-2 header and addresses.
struct Ends {
    src_mac: [u8; 6],
    dst_mac: [u8; 6],
    /// 802.1Q VLAN id, 0 for none.
    vlan: u16,
    /// IPv6 address, or IPv4 in the last four bytes.
    src_ip: [u8; 16],
    dst_ip: [u8; 16],
}

/// Writes the frame of packet `p` of conversation `c` between `ends`.
fn emit_frame(c: &Conversation, p: &GenPacket, ends: &Ends, tcp: TcpFields, frame: &mut Vec<u8>) {
    frame.extend_from_slice(&ends.dst_mac);
    frame.extend_from_slice(&ends.src_mac);
    if ends.vlan != 0 {
        frame.extend_from_slice(&0x8100u16.to_be_bytes());
        frame.extend_from_slice(&ends.vlan.to_be_bytes());
    }
    frame.extend_from_slice(&(if c.ipv6 { 0x86ddu16 } else { 0x0800 }).to_be_bytes());
    let ip_start = frame.len();
    let proto = c.proto_number();
    let ip_header_len = if c.ipv6 { 40 } else { 20 };
    let l4_len = p.ip_len - ip_header_len;
    let (sport, dport) = if p.forward {
        (c.client_port, c.server_port)
    } else {
        (c.server_port, c.client_port)
    };
    // Pseudo-header sum for the transport checksum.
    let mut pseudo: u32;
    if c.ipv6 {
        frame.extend_from_slice(&[0x60 | (c.tos >> 4), c.tos << 4, 0, 0]);
        frame.extend_from_slice(&l4_len.to_be_bytes());
        frame.push(proto);
        frame.push(64); // hop limit
        frame.extend_from_slice(&ends.src_ip);
        frame.extend_from_slice(&ends.dst_ip);
        pseudo = sum16(&frame[ip_start + 8..ip_start + 40]);
    } else {
        frame.extend_from_slice(&[0x45, c.tos]);
        frame.extend_from_slice(&p.ip_len.to_be_bytes());
        frame.extend_from_slice(&(p.ts.as_nanos() as u16).to_be_bytes()); // identification
        frame.extend_from_slice(&[0x40, 0]); // DF
        frame.push(64); // TTL
        frame.push(proto);
        frame.extend_from_slice(&[0, 0]); // checksum, below
        frame.extend_from_slice(ends.src_ip.get(12..).unwrap_or(&[0; 4]));
        frame.extend_from_slice(ends.dst_ip.get(12..).unwrap_or(&[0; 4]));
        let ck = checksum(sum16(&frame[ip_start..ip_start + 20]));
        frame[ip_start + 10..ip_start + 12].copy_from_slice(&ck.to_be_bytes());
        pseudo = sum16(&frame[ip_start + 12..ip_start + 20]);
    }
    if proto == 1 {
        pseudo = 0; // the ICMPv4 checksum has no pseudo-header
    } else {
        pseudo += u32::from(proto) + u32::from(l4_len);
    }
    let l4_start = frame.len();
    let checksum_at = match c.proto {
        GenProto::Tcp => {
            frame.extend_from_slice(&sport.to_be_bytes());
            frame.extend_from_slice(&dport.to_be_bytes());
            frame.extend_from_slice(&tcp.seq.to_be_bytes());
            frame.extend_from_slice(&tcp.ack.to_be_bytes());
            let options = syn_options(p, l4_len);
            frame.extend_from_slice(&[((20 + options.len() as u8) / 4) << 4, p.tcp_flags]);
            frame.extend_from_slice(&tcp.window.to_be_bytes());
            frame.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
            write_syn_options(options, p, frame);
            l4_start + 16
        }
        GenProto::Udp => {
            frame.extend_from_slice(&sport.to_be_bytes());
            frame.extend_from_slice(&dport.to_be_bytes());
            frame.extend_from_slice(&l4_len.to_be_bytes());
            frame.extend_from_slice(&[0, 0]);
            l4_start + 6
        }
        GenProto::Icmp => {
            let (request, reply) = echo_types(c.ipv6);
            frame.extend_from_slice(&[if p.forward { request } else { reply }, 0, 0, 0]);
            frame.extend_from_slice(&c.client_port.to_be_bytes()); // identifier
            frame.extend_from_slice(&(p.ts.as_nanos() as u16).to_be_bytes()); // sequence
            l4_start + 2
        }
    };
    frame.resize(ip_start + p.ip_len as usize, 0);
    let mut ck = checksum(pseudo + sum16(&frame[l4_start..]));
    if ck == 0 && c.proto == GenProto::Udp {
        ck = 0xffff;
    }
    frame[checksum_at..checksum_at + 2].copy_from_slice(&ck.to_be_bytes());
}

// ---------------------------------------------------------------------------------------
// TCP as a stack would write it: per connection an initial sequence number (ISN) of each
// side, derived from the conversation (so from the seed), some close enough to 2^32 that
// the sequence wraps; sequence numbers advancing by the payload (and one for SYN and
// FIN); the acknowledgment the peer's next expected sequence number (every packet is
// taken to arrive before the next one is sent); the ACK flag on all but the first SYN;
// sensible windows (zero only on RSTs, as stacks write them); options on the SYNs.

/// A client SYN's options, in Linux's order: MSS 1460, SACK permitted, timestamps (TSval
/// the packet's time in ms, TSecr 0), NOP, window scale 7.
pub const CLIENT_SYN_OPTIONS: [u8; 20] = [
    2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, 1, 3, 3, 7,
];
/// A server SYN-ACK's options, in Windows' order: MSS 1460, NOP, window scale 8, NOP, NOP,
/// SACK permitted. No timestamps: with them on one SYN only, the connection does not use
/// them, so the later segments rightly carry no options.
pub const SERVER_SYN_OPTIONS: [u8; 12] = [2, 4, 0x05, 0xb4, 1, 3, 3, 8, 1, 1, 4, 2];

const TCP_SYN: u8 = 0x02;
const TCP_FIN: u8 = 0x01;
const TCP_RST: u8 = 0x04;
const TCP_ACK: u8 = 0x10;

/// Random bits of conversation `index`, from its addresses and ports (not its VLAN or
/// ToS, which SPAN captures change).
fn conversation_bits(index: u32, c: &Conversation) -> [u64; 3] {
    let mut s = (u64::from(index) << 32 | u64::from(c.client))
        ^ (u64::from(c.server) << 8)
        ^ (u64::from(c.client_port) << 40)
        ^ (u64::from(c.server_port) << 24)
        ^ u64::from(c.ipv6) << 63;
    let split = crate::flow::sampling::splitmix64;
    [split(&mut s), split(&mut s), split(&mut s)]
}

/// Initial sequence numbers of (client, server). One connection in four has one side's
/// within 3000 of 2^32, so its sequence numbers wrap after a few segments.
pub fn initial_sequence_numbers(index: u32, c: &Conversation) -> [u32; 2] {
    let [a, b, v] = conversation_bits(index, c);
    let near_wrap = |r: u64| u32::MAX - (r >> 40) as u32 % 3000;
    match v % 8 {
        0 => [near_wrap(a), b as u32],
        1 => [a as u32, near_wrap(b)],
        _ => [a as u32, b as u32],
    }
}

/// Whether the SYNs of TCP conversation `index` carry options (three in four do).
fn offers_options(index: u32, c: &Conversation) -> bool {
    !(conversation_bits(index, c)[2] >> 8).is_multiple_of(4)
}

/// Makes room for the options in the SYNs of the conversations that offer them: a client
/// SYN gets [`CLIENT_SYN_OPTIONS`], a SYN-ACK [`SERVER_SYN_OPTIONS`].
fn add_syn_options(conversations: &[Conversation], packets: &mut [GenPacket]) {
    for p in packets {
        let c = &conversations[p.conversation as usize];
        if c.proto == GenProto::Tcp
            && p.tcp_flags & TCP_SYN != 0
            && offers_options(p.conversation, c)
        {
            p.ip_len += if p.forward {
                CLIENT_SYN_OPTIONS.len() as u16
            } else {
                SERVER_SYN_OPTIONS.len() as u16
            };
        }
    }
}

/// The options of a TCP segment with `l4_len` bytes of TCP: a SYN whose length leaves
/// room for the client's or the server's options carries them (the generator's SYNs have
/// no payload); any other segment none.
fn syn_options(p: &GenPacket, l4_len: u16) -> &'static [u8] {
    if p.tcp_flags & TCP_SYN == 0 {
        return &[];
    }
    match l4_len.checked_sub(20).map(usize::from) {
        Some(n) if n == CLIENT_SYN_OPTIONS.len() => &CLIENT_SYN_OPTIONS,
        Some(n) if n == SERVER_SYN_OPTIONS.len() => &SERVER_SYN_OPTIONS,
        _ => &[],
    }
}

/// The TCP options of packet `p` of conversation `c` (empty for other protocols).
pub fn tcp_options(c: &Conversation, p: &GenPacket) -> &'static [u8] {
    if c.proto != GenProto::Tcp {
        return &[];
    }
    syn_options(p, p.ip_len - if c.ipv6 { 40 } else { 20 })
}

fn write_syn_options(options: &[u8], p: &GenPacket, frame: &mut Vec<u8>) {
    let at = frame.len();
    frame.extend_from_slice(options);
    if options.len() == CLIENT_SYN_OPTIONS.len() {
        let tsval = (p.ts.as_nanos() / 1_000_000) as u32;
        frame[at + 8..at + 12].copy_from_slice(&tsval.to_be_bytes());
    }
}

/// The layer-4 payload octets of packet `p` of conversation `c`: the TCP payload, the UDP
/// payload (UDP length - 8), or the ICMP echo data (ICMP length - 8).
pub fn payload_len(c: &Conversation, p: &GenPacket) -> u16 {
    let l4 = p.ip_len - if c.ipv6 { 40 } else { 20 };
    match c.proto {
        GenProto::Tcp => l4 - 20 - syn_options(p, l4).len() as u16,
        GenProto::Udp | GenProto::Icmp => l4 - 8,
    }
}

/// The sequence number, acknowledgment and window of a TCP segment (zeros otherwise).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpFields {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number (0 without the ACK flag).
    pub ack: u32,
    /// Window field (unscaled).
    pub window: u16,
}

impl TcpFields {
    /// The fields of a segment taken alone: its side's ISN (plus one after the SYN), the
    /// peer's ISN plus one as acknowledgment.
    fn lone(c: &Conversation, p: &GenPacket) -> TcpFields {
        let isn = initial_sequence_numbers(p.conversation, c);
        let (s, o) = if p.forward { (0, 1) } else { (1, 0) };
        TcpFields {
            seq: isn[s].wrapping_add(u32::from(p.tcp_flags & TCP_SYN == 0)),
            ack: if p.tcp_flags & TCP_ACK != 0 {
                isn[o].wrapping_add(1)
            } else {
                0
            },
            window: window(p, s, false),
        }
    }
}

/// The window field of a segment from side `s` (0 client, 1 server): 0 on a RST (as
/// stacks write it), the unscaled 64240 / 65160 bytes on SYNs and when the connection did
/// not negotiate scaling, else 502 << 7 = 64256 / 255 << 8 = 65280 bytes.
fn window(p: &GenPacket, s: usize, scaled: bool) -> u16 {
    match (
        p.tcp_flags & TCP_RST != 0,
        p.tcp_flags & TCP_SYN != 0 || !scaled,
    ) {
        (true, _) => 0,
        (false, true) => [64_240, 65_160][s],
        (false, false) => [502, 255][s],
    }
}

/// What a generated TCP segment does out of the ordinary (`flowprobe generate --retransmit`,
/// `--reorder`), as [`add_anomalies`] plants it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Anomaly {
    /// Nothing.
    #[default]
    None,
    /// A copy of its side's last data segment, sent again before the peer acknowledged it
    /// (tshark: retransmission).
    Retransmission,
    /// A copy of its side's last data segment, sent again after the peer acknowledged it
    /// (tshark: spurious retransmission).
    SpuriousRetransmission,
    /// A data segment sent ahead of the one before it in sequence space, which is the
    /// conversation's next packet (tshark: "previous segment not captured").
    Ahead,
    /// The segment the one sent ahead skipped, sent right after it and within the initial
    /// RTT (tshark: out-of-order).
    OutOfOrder,
}

/// The TCP fields of every packet of `packets` (in capture order, as written), from each
/// connection's history. `conversation` gives a packet's conversation by index.
/// `anomalies[i]`, when given (an empty slice is none), says what packet `i` does out of
/// the ordinary: a [`Anomaly::Retransmission`] repeats the sequence number of its side's
/// last data segment and moves nothing on; an [`Anomaly::Ahead`] takes the sequence
/// number after the next packet's (an [`Anomaly::OutOfOrder`] of the same side), which
/// takes the one before.
pub fn tcp_fields<'a>(
    conversation: impl Fn(u32) -> &'a Conversation,
    packets: &[GenPacket],
    anomalies: &[Anomaly],
) -> Vec<TcpFields> {
    #[derive(Clone, Copy, Default)]
    struct Conn {
        started: bool,
        isn: [u32; 2],
        next: [u32; 2],
        synced: [bool; 2],
        options: [bool; 2],
        last_data: [u32; 2],
        /// The payload of a segment sent ahead, not yet counted in `next`.
        ahead: [u32; 2],
    }
    let anomaly = |i: usize| anomalies.get(i).copied().unwrap_or_default();
    let mut conns: std::collections::HashMap<u32, Conn> = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(packets.len());
    for (i, p) in packets.iter().enumerate() {
        let c = conversation(p.conversation);
        if c.proto != GenProto::Tcp {
            out.push(TcpFields::default());
            continue;
        }
        let conn = conns.entry(p.conversation).or_default();
        if !conn.started {
            conn.started = true;
            conn.isn = initial_sequence_numbers(p.conversation, c);
            conn.next = conn.isn;
        }
        let (s, o) = if p.forward { (0, 1) } else { (1, 0) };
        let flags = p.tcp_flags;
        let ack = if flags & TCP_ACK != 0 {
            conn.next[o]
        } else {
            0
        };
        let scaled = conn.options[0] && conn.options[1];
        let payload = u32::from(payload_len(c, p));
        let seq = match anomaly(i) {
            Anomaly::Retransmission if flags & TCP_SYN != 0 => conn.isn[s],
            Anomaly::Retransmission | Anomaly::SpuriousRetransmission => conn.last_data[s],
            Anomaly::Ahead => {
                // After the segment the conversation's next packet carries.
                let skipped = packets[i + 1..]
                    .iter()
                    .find(|q| q.conversation == p.conversation)
                    .map_or(0, |q| u32::from(payload_len(c, q)));
                conn.ahead[s] = payload;
                let seq = conn.next[s].wrapping_add(skipped);
                conn.last_data[s] = seq;
                seq
            }
            _ if flags & TCP_SYN != 0 => {
                conn.synced[s] = true;
                conn.options[s] = !tcp_options(c, p).is_empty();
                conn.next[s] = conn.isn[s].wrapping_add(1);
                conn.isn[s]
            }
            _ if flags & TCP_RST != 0 && !conn.synced[s] && !p.forward => {
                0 // a server's RST answering a SYN: RFC 9293 3.10.7.1, SEQ = 0
            }
            _ => {
                let seq = conn.next[s];
                if payload > 0 {
                    conn.last_data[s] = seq;
                }
                conn.next[s] = seq
                    .wrapping_add(payload)
                    .wrapping_add(std::mem::take(&mut conn.ahead[s]))
                    .wrapping_add(u32::from(flags & TCP_FIN != 0));
                seq
            }
        };
        out.push(TcpFields {
            seq,
            ack,
            window: window(p, s, scaled),
        });
    }
    out
}

/// A copy of `generated` with anomalies planted in its TCP data segments (of 2 payload
/// bytes or more, neither SYN, FIN nor RST), each chosen at random (a stream of its own
/// from `seed`); 0 plants none of a kind:
/// - about one pair in `reorder_one_in` of consecutive packets of a conversation that are
///   both such segments of the same side, less than the initial RTT (SYN to the ACK that
///   completes the handshake, less 1 ms) apart, is sent in the wrong order: the first
///   carries the second's successor ([`Anomaly::Ahead`]), the second the segment before it
///   ([`Anomaly::OutOfOrder`]): tshark calls the second out-of-order (it is within the
///   RTT of the highest sequence number);
/// - about one other segment in `retransmit_one_in` (or client SYN answered 10 ms or more
///   later: the copy restarts the handshake's clock) is sent again: where the
///   conversation's next packet is the peer's (it acknowledges the original), the copy
///   follows that packet after half the time to the one after it (at most 300 ms; only
///   where that is 2 ms or more): the acknowledgement was lost beyond the probe, and
///   tshark calls the copy a spurious retransmission
///   ([`Anomaly::SpuriousRetransmission`]); else the copy follows the original after half
///   the time to the conversation's next packet (the same bounds), so the peer has
///   acknowledged nothing new: the original was lost beyond the probe, and tshark calls
///   the copy a retransmission ([`Anomaly::Retransmission`]).
///
/// Returns the capture (copies added in time order) and each packet's anomaly.
pub fn add_anomalies(
    generated: &Generated,
    retransmit_one_in: u64,
    reorder_one_in: u64,
    seed: u64,
) -> (Generated, Vec<Anomaly>) {
    let mut rng = Rng::new(seed ^ 0x5245_5452); // "RETR": a stream of its own
    let packets = &generated.packets;
    let conversation = |p: &GenPacket| &generated.conversations[p.conversation as usize];
    let data = |p: &GenPacket| {
        conversation(p).proto == GenProto::Tcp
            && p.tcp_flags & (TCP_SYN | TCP_FIN | TCP_RST) == 0
            && payload_len(conversation(p), p) >= 2
    };
    // The index of each packet's successor in its conversation.
    let mut next = vec![None; packets.len()];
    let mut later: std::collections::HashMap<u32, usize> = std::collections::HashMap::new();
    for (i, p) in packets.iter().enumerate().rev() {
        next[i] = later.insert(p.conversation, i);
    }
    let mut marks = vec![Anomaly::None; packets.len()];
    if reorder_one_in > 0 {
        // Initial RTTs: SYN to the first client packet with ACK after the SYN-ACK.
        let mut handshake: std::collections::HashMap<u32, (u64, bool, Option<u64>)> =
            std::collections::HashMap::new();
        for p in packets
            .iter()
            .filter(|p| conversation(p).proto == GenProto::Tcp)
        {
            let h = handshake.entry(p.conversation).or_insert((0, false, None));
            let t = p.ts.as_nanos();
            match (p.tcp_flags & (TCP_SYN | TCP_ACK), h.2) {
                (TCP_SYN, None) => *h = (t, false, None),
                (f, None) if f == TCP_SYN | TCP_ACK => h.1 = true,
                (TCP_ACK, None) if h.1 && p.forward => h.2 = Some(t - h.0),
                _ => {}
            }
        }
        for i in 0..packets.len() {
            let (p, Some(j)) = (&packets[i], next[i]) else {
                continue;
            };
            let q = &packets[j];
            let rtt = handshake.get(&p.conversation).and_then(|h| h.2);
            if marks[i] != Anomaly::None
                || !data(p)
                || !data(q)
                || p.forward != q.forward
                || rtt.is_none_or(|rtt| q.ts.as_nanos() - p.ts.as_nanos() + 1_000_000 >= rtt)
                || rng.below(reorder_one_in) != 0
            {
                continue;
            }
            marks[i] = Anomaly::Ahead;
            marks[j] = Anomaly::OutOfOrder;
        }
    }
    let mut out: Vec<(GenPacket, Anomaly)> = Vec::with_capacity(packets.len());
    // Packets after which a copy of the peer's segment comes: they get no copy of their own.
    let mut followed = vec![false; packets.len()];
    for (i, p) in packets.iter().enumerate() {
        out.push((*p, marks[i]));
        // A client SYN answered by a SYN-ACK 10 ms or more later may be sent twice.
        let syn = p.tcp_flags == TCP_SYN
            && next[i].is_some_and(|j| {
                packets[j].tcp_flags == TCP_SYN | TCP_ACK
                    && packets[j].ts.as_nanos() - p.ts.as_nanos() >= 10_000_000
            });
        if retransmit_one_in == 0
            || marks[i] != Anomaly::None
            || followed[i]
            || !(data(p) || syn)
            || rng.below(retransmit_one_in) != 0
        {
            continue;
        }
        // The copy comes after packet `after`, half-way to the conversation's next one.
        let (after, kind) = match next[i] {
            Some(j)
                if !syn
                    && packets[j].forward != p.forward
                    && packets[j].tcp_flags & TCP_ACK != 0
                    && marks[j] == Anomaly::None =>
            {
                (j, Anomaly::SpuriousRetransmission)
            }
            _ => (i, Anomaly::Retransmission),
        };
        let t = packets[after].ts.as_nanos();
        let gap = next[after].map_or(600_000_000, |k| packets[k].ts.as_nanos() - t);
        if gap >= 2_000_000 {
            followed[after] = true;
            let ts = Timestamp(t + (gap / 2).min(300_000_000));
            out.push((GenPacket { ts, ..*p }, kind));
        }
    }
    out.sort_by_key(|(p, _)| p.ts);
    let (packets, marks) = out.into_iter().unzip();
    (
        Generated {
            conversations: generated.conversations.clone(),
            packets,
        },
        marks,
    )
}

/// Writes `generated` as a classic pcap, `anomalies` saying what each packet does out of
/// the ordinary (see [`add_anomalies`]; empty: nothing).
pub fn write_pcap_with(
    generated: &Generated,
    anomalies: &[Anomaly],
    nanos: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    let conversations = &generated.conversations;
    let tcp = generated.tcp_fields(anomalies);
    let mut i = 0;
    write_frames(&generated.packets, nanos, out, |p, frame| {
        build_frame_tcp(&conversations[p.conversation as usize], p, tcp[i], frame);
        i += 1;
    })
}

/// The header of [`write_truth`]'s CSV.
pub const TRUTH_HEADER: &str = "ts_ns,src,dst,sport,dport,proto,payload_len,tcp_flags,conversation,vlan,ip_len,seq,ack,window,retransmission,out_of_order,tcp_options";

/// Writes the truth of every packet of `generated` as CSV ([`TRUTH_HEADER`]), one line a
/// packet in capture order, from the generator's model (the pcap is not read back):
/// `ts_ns` the time as the capture holds it (cut to microseconds unless `nanos`);
/// `sport`/`dport` as a flow key has them (ICMP: 0 and type * 256 + code); `payload_len`
/// as [`payload_len`]; `tcp_flags` decimal; `conversation` its index; `seq`/`ack`/`window`
/// the TCP header's (empty for UDP and ICMP); `retransmission` 1 for a copy sent before
/// the peer acknowledged the original, 2 after (spurious); `out_of_order` 1 for the
/// second of a reordered pair ([`add_anomalies`]); `tcp_options` the option bytes in hex
/// (SYNs).
pub fn write_truth(
    generated: &Generated,
    anomalies: &[Anomaly],
    nanos: bool,
    out: &mut impl Write,
) -> io::Result<()> {
    let conversations = &generated.conversations;
    let tcp = generated.tcp_fields(anomalies);
    writeln!(out, "{TRUTH_HEADER}")?;
    let mut line = String::with_capacity(160);
    for (i, p) in generated.packets.iter().enumerate() {
        use std::fmt::Write as _;
        let c = &conversations[p.conversation as usize];
        let (src, dst) = if p.forward {
            (c.client_addr(), c.server_addr())
        } else {
            (c.server_addr(), c.client_addr())
        };
        let (sport, dport) = c.key_ports(p.forward);
        let ts = if nanos {
            p.ts.as_nanos()
        } else {
            p.ts.as_nanos() / 1000 * 1000
        };
        line.clear();
        let _ = write!(
            line,
            "{ts},{src},{dst},{sport},{dport},{},{},{},{},{},{},",
            c.proto_number(),
            payload_len(c, p),
            p.tcp_flags,
            p.conversation,
            c.vlan,
            p.ip_len
        );
        if c.proto == GenProto::Tcp {
            let t = tcp[i];
            let _ = write!(line, "{},{},{}", t.seq, t.ack, t.window);
        } else {
            line.push_str(",,");
        }
        let mark = anomalies.get(i).copied().unwrap_or_default();
        let _ = write!(
            line,
            ",{},{},",
            match mark {
                Anomaly::Retransmission => 1,
                Anomaly::SpuriousRetransmission => 2,
                _ => 0,
            },
            u8::from(mark == Anomaly::OutOfOrder)
        );
        let options = tcp_options(c, p);
        let mut bytes = options.to_vec();
        if options.len() == CLIENT_SYN_OPTIONS.len() {
            bytes[8..12].copy_from_slice(&((p.ts.as_nanos() / 1_000_000) as u32).to_be_bytes());
        }
        for b in bytes {
            let _ = write!(line, "{b:02x}");
        }
        writeln!(out, "{line}")?;
    }
    out.flush()
}

// ---------------------------------------------------------------------------------------
// SPAN captures: both directions of an edge, plus internal and transit traffic, with the
// direction of every flow known from how its frames were made.

/// Local networks of the site a SPAN capture is made for (`direction.local_networks`).
pub const SPAN_LOCAL_NETWORKS: [&str; 5] = [
    "10.1.0.0/16",
    "192.168.10.0/24",
    "172.16.32.0/20",
    "2001:db8:10::/48",
    "2001:db8:11:5::/64",
];
/// MACs of the site's two edge routers (`direction.gateway_macs`).
pub const SPAN_GATEWAY_MACS: [[u8; 6]; 2] = [
    [0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x01],
    [0x00, 0x1b, 0x21, 0x3a, 0x4f, 0x02],
];
/// The RSPAN VLAN that carries the frames an uplink received (`direction.ingress_vlans`).
pub const SPAN_INGRESS_VLAN: u16 = 901;
/// The RSPAN VLAN that carries the frames an uplink sent (`direction.egress_vlans`).
pub const SPAN_EGRESS_VLAN: u16 = 902;
/// Ordinary VLANs of local segments: they say nothing about direction.
const SPAN_SEGMENT_VLANS: [u16; 2] = [10, 20];
/// A firewall and a layer-3 switch whose MACs the operator did not list.
const SPAN_OTHER_ROUTERS: [[u8; 6]; 2] = [
    [0x02, 0xaa, 0x00, 0x00, 0x00, 0x01],
    [0x02, 0xaa, 0x00, 0x00, 0x00, 0x02],
];

/// The `[direction]` section that describes the SPAN site (no interface numbers).
pub fn span_direction_toml() -> String {
    let macs: Vec<String> = SPAN_GATEWAY_MACS
        .iter()
        .map(|m| {
            format!(
                "\"{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}\"",
                m[0], m[1], m[2], m[3], m[4], m[5]
            )
        })
        .collect();
    let nets: Vec<String> = SPAN_LOCAL_NETWORKS
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect();
    format!(
        "[direction]\nlocal_networks = [{}]\ningress_vlans = [{SPAN_INGRESS_VLAN}]\n\
         egress_vlans = [{SPAN_EGRESS_VLAN}]\ngateway_macs = [{}]\n",
        nets.join(", "),
        macs.join(", ")
    )
}

/// How a SPAN conversation's frames reach the probe: what, if anything, tells their
/// direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpanPath {
    /// Through an edge router: every frame has a gateway MAC on the router's side; the
    /// local end is in a local network; untagged or on a segment VLAN.
    Gateway,
    /// Through an edge router, the local end in a subnet missing from the local networks:
    /// only the gateway MAC tells.
    GatewayUnlisted,
    /// Mirrored by RSPAN: frames travelling in on the ingress VLAN, out on the egress
    /// VLAN; the router's MAC is not listed; the local end listed or not.
    Rspan,
    /// Routed by a device whose MAC is not listed, untagged or on a segment VLAN: only
    /// the addresses tell.
    Routed,
    /// Between two local hosts: directly, through an edge router (inter-subnet routing),
    /// or mirrored on the RSPAN VLANs. No direction.
    Internal,
    /// Between two outside hosts, router to router or through unlisted devices. No
    /// direction.
    Transit,
}

/// Which end of a conversation is inside the site.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanSide {
    /// The client is inside, the server outside: the client's packets leave.
    ClientInside,
    /// The server is inside: the client's packets arrive.
    ServerInside,
    /// Both inside, or both outside: the conversation never crosses the edge.
    Neither,
}

/// The layer 2 of one direction's frames.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanLink {
    /// Source MAC.
    pub src_mac: [u8; 6],
    /// Destination MAC.
    pub dst_mac: [u8; 6],
    /// 802.1Q VLAN id, 0 for untagged.
    pub vlan: u16,
}

/// One conversation of a SPAN capture and the truth about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpanConversation {
    /// Protocol, ports, ToS, IP version (its `vlan` and host indexes are unused).
    pub conversation: Conversation,
    /// How its frames reach the probe.
    pub path: SpanPath,
    /// Which end is inside.
    pub side: SpanSide,
    /// Client address.
    pub client: std::net::IpAddr,
    /// Server address.
    pub server: std::net::IpAddr,
    /// Layer 2 of the client's packets.
    pub forward: SpanLink,
    /// Layer 2 of the server's packets.
    pub reverse: SpanLink,
}

impl SpanConversation {
    /// The true direction of the flow of the client's packets (`forward`) or of the
    /// server's: into the site, out of it, or none.
    pub fn direction(&self, forward: bool) -> crate::flow::record::FlowDirection {
        use crate::flow::record::FlowDirection::{Egress, Ingress, Unknown};
        match (self.side, forward) {
            (SpanSide::Neither, _) => Unknown,
            (SpanSide::ClientInside, true) | (SpanSide::ServerInside, false) => Egress,
            (SpanSide::ClientInside, false) | (SpanSide::ServerInside, true) => Ingress,
        }
    }

    /// The layer 2 of one direction's frames.
    pub fn link(&self, forward: bool) -> SpanLink {
        if forward {
            self.forward
        } else {
            self.reverse
        }
    }

    /// (source, destination) address of one direction.
    pub fn addrs(&self, forward: bool) -> (std::net::IpAddr, std::net::IpAddr) {
        if forward {
            (self.client, self.server)
        } else {
            (self.server, self.client)
        }
    }
}

/// A generated SPAN capture.
#[derive(Clone, Debug)]
pub struct SpanCapture {
    /// The conversations.
    pub conversations: Vec<SpanConversation>,
    /// Every packet, sorted by time.
    pub packets: Vec<GenPacket>,
}

/// A host of a network given as (first address bits, IPv4?), `n` hosts in.
fn span_host(net: u128, ipv6: bool, n: u32) -> std::net::IpAddr {
    if ipv6 {
        std::net::IpAddr::V6(Ipv6Addr::from(net + 1 + u128::from(n)))
    } else {
        std::net::IpAddr::V4(Ipv4Addr::from((net as u32).wrapping_add(1 + n)))
    }
}

/// Generates a SPAN capture: the traffic of `config` (times, sizes, flags, protocols)
/// spread over the paths of [`SpanPath`] at a site with [`SPAN_LOCAL_NETWORKS`],
/// [`SPAN_GATEWAY_MACS`] and the RSPAN VLANs. Every conversation has an address of its
/// own (derived from its index), so no two share a flow key; up to 60000 conversations.
pub fn generate_span(config: &GenConfig) -> SpanCapture {
    let base = generate(config);
    let mut rng = Rng::new(config.seed ^ 0x5350_414e); // "SPAN": a stream of its own
    let v4 = |a: [u8; 4]| u128::from(u32::from_be_bytes(a));
    let v6 = |s: &str| s.parse::<Ipv6Addr>().map(u128::from).unwrap_or(0);
    // Networks as (IPv4 base, IPv6 base). A conversation's own address is `n` hosts in.
    let local_own = (v4([10, 1, 0, 0]), v6("2001:db8:10::"));
    let local_other = [
        (v4([192, 168, 10, 0]), 253, v6("2001:db8:11:5::"), 60_000),
        (v4([172, 16, 32, 0]), 4093, v6("2001:db8:11:5::"), 60_000),
    ];
    let unlisted_own = (v4([172, 31, 0, 0]), v6("2001:db8:20::"));
    let remote_own = (v4([198, 18, 0, 0]), v6("2001:db8:ffff::"));
    let remote_other = (
        v4([203, 0, 113, 0]),
        253u32,
        v6("2001:db8:eeee::"),
        60_000u32,
    );
    let mut conversations = Vec::with_capacity(base.conversations.len());
    for (index, c) in base.conversations.iter().enumerate() {
        let n = index as u32 % 60_000;
        let ipv6 = c.ipv6;
        let own = |net: (u128, u128)| span_host(if ipv6 { net.1 } else { net.0 }, ipv6, n);
        let path = match rng.below(12) {
            0..=2 => SpanPath::Gateway,
            3 => SpanPath::GatewayUnlisted,
            4..=5 => SpanPath::Rspan,
            6..=7 => SpanPath::Routed,
            8..=9 => SpanPath::Internal,
            _ => SpanPath::Transit,
        };
        let other = |net: (u128, u32, u128, u32), random: u64| {
            let (base, size) = if ipv6 { (net.2, net.3) } else { (net.0, net.1) };
            span_host(base, ipv6, (random % u64::from(size)) as u32)
        };
        let remote = other(remote_other, rng.next_u64());
        let local = other(local_other[rng.below(2) as usize], rng.next_u64());
        let host_mac = mac(1_000_000 + n);
        let peer_mac = mac(2_000_000 + n);
        let gateway = SPAN_GATEWAY_MACS[rng.below(2) as usize];
        let segment = [0, SPAN_SEGMENT_VLANS[0], SPAN_SEGMENT_VLANS[1]][rng.below(3) as usize];
        let client_inside = rng.below(2) == 0;
        // (inside address, outside address, inside MAC, outside-side MAC, VLAN in, VLAN out)
        let (inside, outside, side_mac, vlan_in, vlan_out) = match path {
            SpanPath::Gateway => (own(local_own), remote, gateway, segment, segment),
            SpanPath::GatewayUnlisted => (own(unlisted_own), remote, gateway, segment, segment),
            SpanPath::Rspan => {
                let inside = if rng.below(2) == 0 {
                    own(local_own)
                } else {
                    own(unlisted_own)
                };
                (
                    inside,
                    remote,
                    SPAN_OTHER_ROUTERS[0],
                    SPAN_INGRESS_VLAN,
                    SPAN_EGRESS_VLAN,
                )
            }
            SpanPath::Routed => (
                own(local_own),
                own(remote_own),
                SPAN_OTHER_ROUTERS[1],
                segment,
                segment,
            ),
            SpanPath::Internal => {
                let (mac, vin, vout) = match rng.below(3) {
                    0 => (peer_mac, segment, segment),
                    1 => (gateway, segment, segment),
                    _ => (SPAN_OTHER_ROUTERS[0], SPAN_INGRESS_VLAN, SPAN_EGRESS_VLAN),
                };
                (own(local_own), local, mac, vin, vout)
            }
            SpanPath::Transit => {
                let (a, b) = if rng.below(2) == 0 {
                    (SPAN_GATEWAY_MACS[0], SPAN_GATEWAY_MACS[1])
                } else {
                    (SPAN_OTHER_ROUTERS[0], SPAN_OTHER_ROUTERS[1])
                };
                // Both ends outside: the "inside" MAC is the other router's.
                let out = SpanLink {
                    src_mac: a,
                    dst_mac: b,
                    vlan: segment,
                };
                let back = SpanLink {
                    src_mac: b,
                    dst_mac: a,
                    vlan: segment,
                };
                let (client, server) = (own(remote_own), remote);
                conversations.push(SpanConversation {
                    conversation: Conversation { vlan: 0, ..*c },
                    path,
                    side: SpanSide::Neither,
                    client,
                    server,
                    forward: out,
                    reverse: back,
                });
                continue;
            }
        };
        // Frames leaving: from the inside host to the router side; arriving: the reverse.
        let leaving = SpanLink {
            src_mac: host_mac,
            dst_mac: side_mac,
            vlan: vlan_out,
        };
        let arriving = SpanLink {
            src_mac: side_mac,
            dst_mac: host_mac,
            vlan: vlan_in,
        };
        let side = if path == SpanPath::Internal {
            SpanSide::Neither
        } else if client_inside {
            SpanSide::ClientInside
        } else {
            SpanSide::ServerInside
        };
        let (client, server, forward, reverse) = if client_inside {
            (inside, outside, leaving, arriving)
        } else {
            (outside, inside, arriving, leaving)
        };
        conversations.push(SpanConversation {
            conversation: Conversation { vlan: 0, ..*c },
            path,
            side,
            client,
            server,
            forward,
            reverse,
        });
    }
    SpanCapture {
        conversations,
        packets: base.packets,
    }
}

/// Writes a SPAN capture as a classic pcap (microseconds, Ethernet).
pub fn write_span_pcap(capture: &SpanCapture, out: &mut impl Write) -> io::Result<()> {
    let octets = |a: std::net::IpAddr| match a {
        std::net::IpAddr::V4(a) => a.to_ipv6_mapped().octets(),
        std::net::IpAddr::V6(a) => a.octets(),
    };
    let tcp = tcp_fields(
        |i| &capture.conversations[i as usize].conversation,
        &capture.packets,
        &[],
    );
    let mut i = 0;
    write_frames(&capture.packets, false, out, |p, frame| {
        let s = &capture.conversations[p.conversation as usize];
        let link = s.link(p.forward);
        let (src, dst) = s.addrs(p.forward);
        let ends = Ends {
            src_mac: link.src_mac,
            dst_mac: link.dst_mac,
            vlan: link.vlan,
            src_ip: octets(src),
            dst_ip: octets(dst),
        };
        emit_frame(&s.conversation, p, &ends, tcp[i], frame);
        i += 1;
    })
}

fn sum16(bytes: &[u8]) -> u32 {
    bytes
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum()
}

fn checksum(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Writes `flows` one-packet UDP flows, each with a key of its own, as a classic pcap
/// (microseconds, Ethernet), one packet every `gap` from `start`.
///
/// Made for cache-bound tests: the packets are produced as they are written, in
/// constant memory, so any number of flows (10 million and more) can go down a pipe
/// without a file. Flow `i` is 198.18.0.0 + `i / 65536`, port `i % 65536`, to
/// 198.19.255.254 port 53 (both in the benchmarking range 198.18.0.0/15, like the
/// conversations of [`generate`]); distinct for `i` below 2^33. The IPv4 header checksum
/// is correct; the UDP checksum is 0 (none, allowed over IPv4); no payload.
pub fn write_distinct_flows(
    flows: u64,
    start: Timestamp,
    gap: Duration,
    out: &mut impl Write,
) -> io::Result<()> {
    let mut header = [0u8; 24];
    header[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes()); // magic, microseconds
    header[4..6].copy_from_slice(&2u16.to_le_bytes()); // version 2.4
    header[6..8].copy_from_slice(&4u16.to_le_bytes());
    header[16..20].copy_from_slice(&65_535u32.to_le_bytes()); // snaplen
    header[20..24].copy_from_slice(&1u32.to_le_bytes()); // LINKTYPE_ETHERNET
    out.write_all(&header)?;
    const FRAME: usize = 14 + 20 + 8;
    let mut rec = [0u8; 16 + FRAME];
    rec[8..12].copy_from_slice(&(FRAME as u32).to_le_bytes()); // captured length
    rec[12..16].copy_from_slice(&(FRAME as u32).to_le_bytes()); // original length
    let f = &mut rec[16..];
    f[0..6].copy_from_slice(&mac(1)); // destination
    f[6..12].copy_from_slice(&mac(2)); // source
    f[12..14].copy_from_slice(&0x0800u16.to_be_bytes());
    f[14..16].copy_from_slice(&[0x45, 0]); // IPv4, IHL 5; TOS 0
    f[16..18].copy_from_slice(&28u16.to_be_bytes()); // total length: 20 + 8
    f[20..22].copy_from_slice(&[0x40, 0]); // DF
    f[22] = 64; // TTL
    f[23] = 17; // UDP
    f[30..34].copy_from_slice(&Ipv4Addr::new(198, 19, 255, 254).octets());
    f[36..38].copy_from_slice(&53u16.to_be_bytes()); // destination port
    f[38..40].copy_from_slice(&8u16.to_be_bytes()); // UDP length; checksum 0
    let base = u32::from(Ipv4Addr::new(198, 18, 0, 0));
    let gap_ns = gap.as_nanos().min(u64::MAX as u128) as u64;
    for i in 0..flows {
        let ts = Timestamp(start.0.saturating_add(i.saturating_mul(gap_ns)));
        rec[0..4].copy_from_slice(&(ts.as_secs() as u32).to_le_bytes());
        rec[4..8].copy_from_slice(&(ts.subsec_nanos() / 1000).to_le_bytes());
        let f = &mut rec[16..];
        let src = base.wrapping_add((i >> 16) as u32);
        f[18..20].copy_from_slice(&(i as u16).to_be_bytes()); // identification
        f[24..26].copy_from_slice(&[0, 0]);
        f[26..30].copy_from_slice(&src.to_be_bytes());
        let ck = checksum(sum16(&f[14..34]));
        f[24..26].copy_from_slice(&ck.to_be_bytes());
        f[34..36].copy_from_slice(&(i as u16).to_be_bytes()); // source port
        out.write_all(&rec)?;
    }
    out.flush()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    #[test]
    fn payload_mixes_size_the_packets_and_keep_everything_else() {
        let mixed = generate(&GenConfig::default());
        let sized = |payload| {
            generate(&GenConfig {
                payload,
                ..GenConfig::default()
            })
        };
        for (mix, g) in [
            (PayloadMix::Small, sized(PayloadMix::Small)),
            (PayloadMix::Full, sized(PayloadMix::Full)),
        ] {
            assert_eq!(g.packets.len(), mixed.packets.len());
            assert_eq!(g.conversations, mixed.conversations, "{mix:?}");
            for (p, m) in g.packets.iter().zip(&mixed.packets) {
                assert_eq!(
                    (p.ts, p.conversation, p.forward, p.tcp_flags),
                    (m.ts, m.conversation, m.forward, m.tcp_flags)
                );
                let c = &g.conversations[p.conversation as usize];
                let (payload, mixed_payload) = (payload_len(c, p), payload_len(c, m));
                assert_eq!(payload == 0, mixed_payload == 0, "pure ACKs stay pure ACKs");
                match mix {
                    PayloadMix::Small => assert!(payload <= 80, "{payload}"),
                    _ => assert!(payload == 0 || p.ip_len == 1500, "{}", p.ip_len),
                }
            }
        }
        let frames = |g: &Generated| {
            let mut out = Vec::new();
            write_pcap(g, false, &mut out).unwrap();
            out.len() as f64 / g.packets.len() as f64 - 16.0
        };
        let small = frames(&sized(PayloadMix::Small));
        assert!(
            (60.0..=130.0).contains(&small),
            "small frames average {small} bytes"
        );
        assert!(frames(&sized(PayloadMix::Full)) > 900.0);
    }

    #[test]
    fn same_seed_same_capture_other_seed_other_capture() {
        let config = GenConfig {
            conversations: 50,
            ..GenConfig::default()
        };
        let mut a = Vec::new();
        let mut b = Vec::new();
        write_pcap(&generate(&config), false, &mut a).unwrap();
        write_pcap(&generate(&config), false, &mut b).unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        write_pcap(&generate(&GenConfig { seed: 2, ..config }), false, &mut c).unwrap();
        assert_ne!(a, c);
    }

    #[test]
    fn frames_parse_with_an_independent_parser_and_checksums_hold() {
        let g = generate(&GenConfig {
            conversations: 300,
            ..GenConfig::default()
        });
        let mut frame = Vec::new();
        for p in g.packets.iter().take(3000) {
            let c = &g.conversations[p.conversation as usize];
            frame.clear();
            build_frame(c, p, &mut frame);
            let sliced =
                etherparse::SlicedPacket::from_ethernet(&frame).expect("generated frame parses");
            match sliced.net {
                Some(etherparse::NetSlice::Ipv4(ip)) => {
                    assert_eq!(ip.header().total_len(), p.ip_len);
                    assert_eq!(
                        ip.header().to_header().calc_header_checksum(),
                        ip.header().header_checksum()
                    );
                }
                Some(etherparse::NetSlice::Ipv6(ip)) => {
                    assert_eq!(ip.header().payload_length() + 40, p.ip_len)
                }
                other => panic!("not IP: {other:?}"),
            }
            match (&sliced.transport, c.proto) {
                (Some(etherparse::TransportSlice::Tcp(t)), GenProto::Tcp) => {
                    let (s, d) = c.key_ports(p.forward);
                    assert_eq!((t.source_port(), t.destination_port()), (s, d));
                }
                (Some(etherparse::TransportSlice::Udp(u)), GenProto::Udp) => {
                    assert_eq!(
                        (u.source_port(), u.destination_port()),
                        c.key_ports(p.forward)
                    );
                }
                (Some(etherparse::TransportSlice::Icmpv4(_)), GenProto::Icmp) => assert!(!c.ipv6),
                (Some(etherparse::TransportSlice::Icmpv6(_)), GenProto::Icmp) => assert!(c.ipv6),
                (t, proto) => panic!("transport {t:?} for {proto:?}"),
            }
        }
    }

    #[test]
    fn span_frames_carry_the_links_and_addresses_of_their_conversation() {
        let capture = generate_span(&GenConfig {
            conversations: 400,
            ..GenConfig::default()
        });
        let mut out = Vec::new();
        write_span_pcap(&capture, &mut out).unwrap();
        let mut file = crate::capture::file::CaptureFile::from_reader(
            "span".into(),
            Box::new(io::Cursor::new(out)),
            None,
        )
        .unwrap();
        let mut paths = std::collections::HashSet::new();
        let mut i = 0;
        while let Some(frame) = file.next_packet().unwrap() {
            let p = &capture.packets[i];
            let s = &capture.conversations[p.conversation as usize];
            paths.insert(s.path);
            let link = s.link(p.forward);
            let sliced = etherparse::SlicedPacket::from_ethernet(frame.data).unwrap();
            let Some(etherparse::LinkSlice::Ethernet2(eth)) = sliced.link else {
                panic!("not Ethernet")
            };
            assert_eq!(
                (eth.source(), eth.destination()),
                (link.src_mac, link.dst_mac)
            );
            let vlan = sliced.vlan.map_or(0, |v| match v {
                etherparse::VlanSlice::SingleVlan(s) => s.vlan_identifier().value(),
                etherparse::VlanSlice::DoubleVlan(d) => d.outer().vlan_identifier().value(),
            });
            assert_eq!(vlan, link.vlan);
            let (src, dst) = s.addrs(p.forward);
            match sliced.net {
                Some(etherparse::NetSlice::Ipv4(ip)) => {
                    let h = ip.header().to_header();
                    assert_eq!(h.header_checksum, h.calc_header_checksum());
                    assert_eq!(
                        (IpAddr::from(h.source), IpAddr::from(h.destination)),
                        (src, dst)
                    );
                }
                Some(etherparse::NetSlice::Ipv6(ip)) => {
                    let h = ip.header();
                    assert_eq!(
                        (
                            IpAddr::from(h.source_addr()),
                            IpAddr::from(h.destination_addr())
                        ),
                        (src, dst)
                    );
                }
                other => panic!("not IP: {other:?}"),
            }
            i += 1;
        }
        assert_eq!(i, capture.packets.len());
        assert_eq!(paths.len(), 6, "every path occurs");
    }

    #[test]
    fn tcp_sequence_numbers_follow_the_payload_and_some_wrap() {
        let g = generate(&GenConfig {
            conversations: 400,
            ..GenConfig::default()
        });
        let (g, marks) = add_anomalies(&g, 5, 5, 9);
        let tcp = g.tcp_fields(&marks);
        // Per (conversation, side): the next sequence number expected.
        let mut next: std::collections::HashMap<(u32, bool), u32> = Default::default();
        let mut wrapped = 0;
        let (mut retransmitted, mut reordered) = (0, 0);
        for (i, p) in g.packets.iter().enumerate() {
            let c = &g.conversations[p.conversation as usize];
            if c.proto != GenProto::Tcp {
                assert_eq!(tcp[i], TcpFields::default());
                continue;
            }
            let t = tcp[i];
            let len = u32::from(payload_len(c, p));
            let syn_fin = u32::from(p.tcp_flags & (TCP_SYN | TCP_FIN) != 0);
            let peer = next.get(&(p.conversation, !p.forward)).copied();
            if p.tcp_flags & TCP_ACK != 0 {
                assert_eq!(
                    Some(t.ack),
                    peer,
                    "packet {i}: acknowledges all the peer sent"
                );
            } else {
                assert_eq!(t.ack, 0);
            }
            assert_eq!(t.window == 0, p.tcp_flags & TCP_RST != 0, "packet {i}");
            let own = next.entry((p.conversation, p.forward)).or_insert(t.seq);
            match marks[i] {
                Anomaly::None => {
                    assert_eq!(t.seq, *own, "packet {i}: continues its side");
                    *own = t.seq.wrapping_add(len + syn_fin);
                    wrapped += usize::from(*own < t.seq);
                }
                Anomaly::Retransmission | Anomaly::SpuriousRetransmission => {
                    assert!(
                        t.seq.wrapping_add(len + syn_fin) == *own,
                        "packet {i}: repeats the last"
                    );
                    retransmitted += 1;
                }
                Anomaly::Ahead => {
                    let (j, q) = (i + 1..g.packets.len())
                        .map(|j| (j, &g.packets[j]))
                        .find(|(_, q)| q.conversation == p.conversation)
                        .unwrap();
                    assert_eq!(marks[j], Anomaly::OutOfOrder);
                    assert_eq!(t.seq, own.wrapping_add(u32::from(payload_len(c, q))));
                    assert_eq!(tcp[j].seq, *own, "the skipped segment comes next");
                    *own = t.seq.wrapping_add(len);
                    reordered += 1;
                }
                Anomaly::OutOfOrder => {}
            }
        }
        assert!(wrapped > 5, "only {wrapped} sides wrap");
        assert!(
            retransmitted > 20 && reordered > 20,
            "{retransmitted} {reordered}"
        );
        // Alone (build_frame), a segment takes its side's ISN.
        let p = g.packets.iter().find(|p| p.tcp_flags == TCP_SYN).unwrap();
        let c = &g.conversations[p.conversation as usize];
        assert_eq!(
            TcpFields::lone(c, p).seq,
            initial_sequence_numbers(p.conversation, c)[0]
        );
    }

    #[test]
    fn flow_sizes_are_heavy_tailed() {
        let g = generate(&GenConfig {
            conversations: 2000,
            ..GenConfig::default()
        });
        let mut sizes = vec![0usize; g.conversations.len()];
        for p in &g.packets {
            sizes[p.conversation as usize] += 1;
        }
        sizes.sort_unstable_by(|a, b| b.cmp(a));
        let top: usize = sizes[..20].iter().sum();
        let all: usize = sizes.iter().sum();
        assert!(
            top * 5 > all,
            "the largest 1% of conversations should carry over 20% of packets"
        );
    }

    #[test]
    fn distinct_flows_have_distinct_keys_and_valid_headers() {
        let mut out = Vec::new();
        let n = 70_000u64; // crosses a source address step (every 65536 flows)
        let start = Timestamp::from_secs_nanos(1_700_000_000, 0);
        write_distinct_flows(n, start, Duration::from_micros(3), &mut out).unwrap();
        assert_eq!(out.len() as u64, 24 + n * (16 + 42));
        let mut file = crate::capture::file::CaptureFile::from_reader(
            "distinct".into(),
            Box::new(io::Cursor::new(out)),
            None,
        )
        .unwrap();
        let mut keys = std::collections::HashSet::new();
        let mut meta = crate::decode::PacketMeta::default();
        let mut i = 0u64;
        while let Some(p) = file.next_packet().unwrap() {
            assert_eq!(p.ts.0, start.0 + i * 3_000, "packet {i}");
            let sliced = etherparse::SlicedPacket::from_ethernet(p.data).unwrap();
            let Some(etherparse::NetSlice::Ipv4(ip)) = sliced.net else {
                panic!("not IPv4")
            };
            let h = ip.header().to_header();
            assert_eq!(h.header_checksum, h.calc_header_checksum(), "packet {i}");
            crate::decode::decode(p.link_type, p.data, p.orig_len, &mut meta).unwrap();
            assert_eq!(meta.key.proto, 17);
            assert!(keys.insert(meta.key), "packet {i} repeats a key");
            i += 1;
        }
        assert_eq!(i, n);
    }
}
