//! QUIC v1 and v2 Initial packets: the TLS hellos inside, under keys anyone can derive.
//!
//! What is read, and from where:
//! - the long header (RFC 9000 section 17.2, 17.2.2): version, connection ids, token,
//!   Length, for QUIC v1 (version 1) and v2 (0x6b3343cf, RFC 9369 section 3.2: its own
//!   long-header type bits, Initial = 0b01);
//! - the Initial secrets (RFC 9001 section 5.2; RFC 9369 sections 3.3.1-3.3.2 for v2's
//!   salt and its "quicv2 key" / "quicv2 iv" / "quicv2 hp" labels): HKDF-SHA256 over the
//!   client's first Destination Connection ID, "client in" / "server in";
//! - header protection (RFC 9001 section 5.4: AES-128-ECB of a 16-byte sample 4 bytes after
//!   the packet number's start) and the payload (section 5.3: AES-128-GCM, nonce = IV XOR
//!   packet number, AAD = the unprotected header); the packet number is reconstructed from
//!   the largest one opened so far (RFC 9000 appendix A.3);
//! - the frames an Initial may carry (RFC 9000 section 12.4, 19): PADDING, PING, ACK,
//!   CRYPTO and CONNECTION_CLOSE (0x1c). Any other frame type ends the walk of that packet
//!   (what came before it is kept): it is not allowed in an Initial, and its layout is not
//!   needed to read the hello;
//! - CRYPTO frames are put back in order by offset, across the Initial packets of a
//!   direction and the packets coalesced in one datagram (RFC 9000 section 12.2), and the
//!   stream from offset 0 goes to [`tls::parse_handshake`] (RFC 9001 section 4: bare
//!   handshake messages, no TLS record layer).
//!
//! The server's Initials use keys derived from the client's original DCID, so they open
//! only after the client's first Initial was seen. A client that starts over with another
//! DCID (after a Retry, RFC 9000 section 17.2.5, or a Version Negotiation packet, section
//! 6) is followed: while the server has not shown an Initial that opened, a client Initial
//! whose DCID is not the remembered one is also tried with keys from its own DCID, and
//! when that opens, that DCID becomes the connection's (the server's side starts over).
//! Compatible version negotiation between v1 and v2 (RFC 9368) needs nothing more: each
//! packet's keys follow its own version, from the same DCID.
//!
//! Outcomes ([`QuicState::datagram`]): a decrypted Initial is the evidence that this is
//! QUIC ([`QuicState::opened`]). An Initial that fails authentication (a changed byte, a
//! tampered tag, keys of another DCID) is `NotThis`, not `Malformed`: anyone can derive the
//! keys, so a failed tag says only that the packet was not sealed under the keys this
//! connection derives, and "failure to unprotect a packet does not necessarily indicate
//! the existence of a protocol error" (RFC 9001 section 5.5): endpoints drop such a packet
//! and go on with the datagram's other packets (RFC 9000 section 12.2), as this module
//! does. `Malformed` is kept for an Initial that decrypted and whose frames are cut or
//! whose hello is broken.
//!
//! Bounds (the bytes are untrusted; nothing here panics or indexes a slice, every read goes
//! through [`Reader`], every loop is bounded by bytes or a constant):
//! - CRYPTO data is kept from offset 0 to [`MAX_CRYPTO`] (4 + [`tls::MAX_HELLO`], the
//!   largest hello the TLS parser reads, header included) a direction; a CRYPTO frame that
//!   reaches beyond is `Malformed`;
//! - at most [`MAX_OPENS`] decryption attempts a direction (each: one HKDF derivation, one
//!   AES block, one AES-GCM open of at most the datagram), at most [`MAX_COALESCED`]
//!   packets walked a datagram;
//! - a [`QuicState`] is 184 bytes (64-bit targets) plus, a direction, its CRYPTO bytes and
//!   their received bitmap while its hello is incomplete (at most 16,388 + 2,056 bytes; a
//!   ClientHello is usually 0.3 to 2 KiB, a ServerHello about 100 bytes), freed once its
//!   hello is read or broken: at most about 37 KiB a connection. Opening a packet copies
//!   it once (dropped before the call returns).
//!
//! Left out, and why:
//! - QUIC drafts (0xff0000NN), Google QUIC (Q0xx, T0xx) and other versions: not v1 or v2,
//!   other salts or layouts; `is_initial` is false for them;
//! - Handshake, 0-RTT and 1-RTT packets (their keys come from the TLS key exchange) and
//!   Retry packets (whose integrity tag is not checked: the client's next Initial shows
//!   the new DCID by opening, which is stronger evidence);
//! - the fixed bit (0x40) is not required (RFC 9287 lets a client grease it), the reserved
//!   bits and the minimum DCID length of 8 are not checked: none changes what is read;
//! - a CRYPTO byte sent twice with different values (RFC 9000 section 2.2 forbids it): the
//!   later copy wins, no error.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::Aes128Gcm;
use hkdf::Hkdf;
use sha2::Sha256;

use super::reader::Reader;
use super::tls::{self, Hello};
use super::Outcome;

/// QUIC version 1 (RFC 9000).
pub const VERSION_1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369 section 3.1).
pub const VERSION_2: u32 = 0x6b33_43cf;
/// CRYPTO bytes kept a direction: the largest hello `tls` reads, with its 4-byte header.
pub const MAX_CRYPTO: usize = 4 + tls::MAX_HELLO;
/// Decryption attempts a direction, at most.
pub const MAX_OPENS: u8 = 16;
/// Coalesced packets walked in one datagram, at most.
pub const MAX_COALESCED: usize = 8;

/// The longest connection id of v1 and v2 (RFC 9000 section 17.2).
const MAX_CID: usize = 20;
/// AES-128-GCM's tag, and the header protection sample.
const TAG_LEN: usize = 16;
const SAMPLE_LEN: usize = 16;
/// The sample starts this far after the packet number's first byte (RFC 9001 5.4.2).
const SAMPLE_OFFSET: usize = 4;
/// The smallest Length a protected packet can have: a sample must fit after it.
const MIN_LENGTH: usize = SAMPLE_OFFSET + SAMPLE_LEN;

/// RFC 9001 section 5.2.
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 section 3.3.1.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];

/// Frame types read in an Initial (RFC 9000 section 19).
const FRAME_PADDING: u8 = 0x00;
const FRAME_PING: u8 = 0x01;
const FRAME_ACK: u8 = 0x02;
const FRAME_ACK_ECN: u8 = 0x03;
const FRAME_CRYPTO: u8 = 0x06;
const FRAME_CONNECTION_CLOSE: u8 = 0x1c;

/// Long-header packet types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

/// The type of a long header's first byte, by version (RFC 9000 section 17.2, RFC 9369
/// section 3.2); `None` for versions other than v1 and v2.
fn kind(version: u32, first: u8) -> Option<Kind> {
    let bits = (first >> 4) & 0x03;
    let kinds = match version {
        VERSION_1 => [Kind::Initial, Kind::ZeroRtt, Kind::Handshake, Kind::Retry],
        VERSION_2 => [Kind::Retry, Kind::Initial, Kind::ZeroRtt, Kind::Handshake],
        _ => return None,
    };
    kinds.into_iter().nth(usize::from(bits))
}

/// One long-header packet of v1 or v2 with a Length field.
#[derive(Clone, Copy, Debug)]
struct LongPacket<'a> {
    version: u32,
    kind: Kind,
    dcid: &'a [u8],
    /// The whole packet: header, packet number and protected payload.
    bytes: &'a [u8],
    /// Where the (protected) packet number starts in `bytes`.
    pn_offset: usize,
}

/// A QUIC variable-length integer (RFC 9000 section 16).
fn varint(r: &mut Reader<'_>) -> Option<u64> {
    let save = *r;
    let first = r.u8()?;
    let extra = (1usize << (first >> 6)) - 1;
    let mut v = u64::from(first & 0x3f);
    match r.bytes(extra) {
        Some(rest) => {
            for b in rest {
                v = (v << 8) | u64::from(*b);
            }
            Some(v)
        }
        None => {
            *r = save;
            None
        }
    }
}

/// The long-header packet at the start of `bytes`, and the bytes after it; `None` for a
/// short header, another version, a Retry (no Length), a connection id above 20 bytes, a
/// Length below 20 or beyond the bytes.
fn long_packet(bytes: &[u8]) -> Option<(LongPacket<'_>, &[u8])> {
    let mut r = Reader::new(bytes);
    let first = r.u8()?;
    if first & 0x80 == 0 {
        return None;
    }
    let version = r.u32()?;
    let kind = kind(version, first)?;
    let dcid = r.vec8()?;
    let scid = r.vec8()?;
    if dcid.len() > MAX_CID || scid.len() > MAX_CID {
        return None;
    }
    match kind {
        Kind::Retry => return None,
        Kind::Initial => {
            let token = usize::try_from(varint(&mut r)?).ok()?;
            r.skip(token)?;
        }
        Kind::ZeroRtt | Kind::Handshake => {}
    }
    let length = usize::try_from(varint(&mut r)?).ok()?;
    if length < MIN_LENGTH {
        return None;
    }
    let pn_offset = r.position();
    r.skip(length)?;
    let end = r.position();
    let packet = LongPacket {
        version,
        kind,
        dcid,
        bytes: bytes.get(..end)?,
        pn_offset,
    };
    Some((packet, bytes.get(end..)?))
}

/// Whether `datagram` starts with a QUIC long-header Initial of v1 or v2 (a cheap check, no
/// crypto): a long header, version 1 with type bits 00 or version 0x6b3343cf with type bits
/// 01, connection ids of at most 20 bytes, and a Length of at least 20 bytes that the
/// datagram holds.
pub fn is_initial(datagram: &[u8]) -> bool {
    long_packet(datagram).is_some_and(|(p, _)| p.kind == Kind::Initial)
}

/// One direction's Initial keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Keys {
    key: [u8; 16],
    iv: [u8; 12],
    hp: [u8; 16],
}

/// HKDF-Expand-Label (RFC 8446 section 7.1) with an empty context, `N` bytes.
fn expand_label<const N: usize>(hk: &Hkdf<Sha256>, label: &[u8]) -> Option<[u8; N]> {
    let [len_hi, len_lo] = u16::try_from(N).ok()?.to_be_bytes();
    let label_len = u8::try_from(b"tls13 ".len() + label.len()).ok()?;
    let mut out = [0u8; N];
    hk.expand_multi_info(
        &[&[len_hi, len_lo, label_len], b"tls13 ", label, &[0]],
        &mut out,
    )
    .ok()?;
    Some(out)
}

/// The client's and the server's Initial secrets for `dcid` (RFC 9001 section 5.2).
fn initial_secrets(version: u32, dcid: &[u8]) -> Option<([u8; 32], [u8; 32])> {
    let salt = match version {
        VERSION_1 => &SALT_V1,
        VERSION_2 => &SALT_V2,
        _ => return None,
    };
    let (_, initial) = Hkdf::<Sha256>::extract(Some(salt), dcid);
    Some((
        expand_label(&initial, b"client in")?,
        expand_label(&initial, b"server in")?,
    ))
}

/// Packet protection keys from a secret (RFC 9001 section 5.1; RFC 9369 section 3.3.2).
fn keys_from_secret(version: u32, secret: &[u8; 32]) -> Option<Keys> {
    let (key, iv, hp): (&[u8], &[u8], &[u8]) = match version {
        VERSION_1 => (b"quic key", b"quic iv", b"quic hp"),
        VERSION_2 => (b"quicv2 key", b"quicv2 iv", b"quicv2 hp"),
        _ => return None,
    };
    let hk = Hkdf::<Sha256>::from_prk(secret).ok()?;
    Some(Keys {
        key: expand_label(&hk, key)?,
        iv: expand_label(&hk, iv)?,
        hp: expand_label(&hk, hp)?,
    })
}

/// The Initial keys of one side of the connection whose client's DCID is `dcid`.
fn initial_keys(version: u32, dcid: &[u8], client: bool) -> Option<Keys> {
    let (c, s) = initial_secrets(version, dcid)?;
    keys_from_secret(version, if client { &c } else { &s })
}

/// The header protection mask (RFC 9001 section 5.4.3).
fn hp_mask(hp: &[u8; 16], sample: [u8; SAMPLE_LEN]) -> [u8; 16] {
    let cipher = Aes128::new(&(*hp).into());
    let mut block = sample.into();
    cipher.encrypt_block(&mut block);
    block.into()
}

/// The full packet number from its `bits` low bits and the largest one opened so far
/// (RFC 9000 appendix A.3).
fn decode_pn(largest: Option<u64>, truncated: u64, bits: u32) -> u64 {
    let expected = largest.map_or(0, |l| l.saturating_add(1));
    let win = 1u64 << bits;
    let hwin = win / 2;
    let candidate = (expected & !(win - 1)) | truncated;
    if expected.checked_sub(hwin).is_some_and(|e| candidate <= e)
        && candidate < (1u64 << 62).saturating_sub(win)
    {
        candidate + win
    } else if candidate > expected.saturating_add(hwin) && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

/// The AEAD nonce: the IV with the packet number XORed into its last bytes (RFC 9001 5.3).
fn nonce(iv: &[u8; 12], pn: u64) -> [u8; 12] {
    let mut n = *iv;
    for (b, p) in n.iter_mut().skip(4).zip(pn.to_be_bytes()) {
        *b ^= p;
    }
    n
}

/// A packet opened: its plaintext payload (a copy of the packet, decrypted in place) and
/// its packet number.
struct Opened {
    buf: Vec<u8>,
    payload: std::ops::Range<usize>,
    pn: u64,
}

impl Opened {
    fn payload(&self) -> &[u8] {
        self.buf.get(self.payload.clone()).unwrap_or_default()
    }
}

/// Removes header protection from `p` and decrypts it; `None` when it does not
/// authenticate under `keys`.
fn open(p: &LongPacket<'_>, keys: &Keys, largest: Option<u64>) -> Option<Opened> {
    let sample_at = p.pn_offset.checked_add(SAMPLE_OFFSET)?;
    let sample: [u8; SAMPLE_LEN] = p
        .bytes
        .get(sample_at..sample_at.checked_add(SAMPLE_LEN)?)?
        .try_into()
        .ok()?;
    let [m0, m1, m2, m3, m4, ..] = hp_mask(&keys.hp, sample);
    let mut buf = p.bytes.to_vec();
    let first = buf.first_mut()?;
    *first ^= m0 & 0x0f;
    let pn_len = usize::from(*first & 0x03) + 1;
    let header_len = p.pn_offset + pn_len;
    let mut truncated = 0u64;
    for (b, m) in buf
        .get_mut(p.pn_offset..header_len)?
        .iter_mut()
        .zip([m1, m2, m3, m4])
    {
        *b ^= m;
        truncated = (truncated << 8) | u64::from(*b);
    }
    let pn = decode_pn(largest, truncated, 8 * pn_len as u32);
    let tag_at = buf.len().checked_sub(TAG_LEN)?;
    let (header, rest) = buf.split_at_mut_checked(header_len)?;
    let (payload, tag) = rest.split_at_mut_checked(tag_at.checked_sub(header_len)?)?;
    let tag: [u8; TAG_LEN] = (&*tag).try_into().ok()?;
    Aes128Gcm::new(&keys.key.into())
        .decrypt_in_place_detached(&nonce(&keys.iv, pn).into(), header, payload, &tag.into())
        .ok()?;
    Some(Opened {
        buf,
        payload: header_len..tag_at,
        pn,
    })
}

/// One direction's CRYPTO stream from offset 0: its bytes so far and which arrived.
#[derive(Debug, Default)]
struct Crypto {
    /// Bytes at offsets 0..len (holes are zero until they arrive), at most MAX_CRYPTO.
    data: Vec<u8>,
    /// One bit an offset of `data`: whether that byte arrived.
    have: Vec<u64>,
    /// Bytes from offset 0 known to have arrived.
    contiguous: usize,
}

impl Crypto {
    /// Adds a CRYPTO frame's data at `offset`.
    fn insert(&mut self, offset: u64, bytes: &[u8]) -> Result<(), &'static str> {
        const BEYOND: &str = "CRYPTO data beyond 16 KiB";
        let end = offset
            .checked_add(bytes.len() as u64)
            .filter(|e| *e <= MAX_CRYPTO as u64)
            .ok_or(BEYOND)?;
        let (start, end) = (offset as usize, end as usize);
        if self.data.len() < end {
            self.data.resize(end, 0);
            self.have.resize(end.div_ceil(64), 0);
        }
        self.data
            .get_mut(start..end)
            .ok_or(BEYOND)?
            .copy_from_slice(bytes);
        for i in start..end {
            if let Some(w) = self.have.get_mut(i / 64) {
                *w |= 1 << (i % 64);
            }
        }
        Ok(())
    }

    /// The bytes from offset 0 with no hole.
    fn prefix(&mut self) -> &[u8] {
        while self
            .have
            .get(self.contiguous / 64)
            .is_some_and(|w| w & (1 << (self.contiguous % 64)) != 0)
        {
            self.contiguous += 1;
        }
        self.data.get(..self.contiguous).unwrap_or_default()
    }
}

/// Need or fail with `why`.
fn need<T>(o: Option<T>, why: &'static str) -> Result<T, &'static str> {
    o.ok_or(why)
}

/// Walks the frames of a decrypted Initial payload, adding CRYPTO data to `stream`. Stops
/// at a frame type an Initial may not carry.
fn frames(payload: &[u8], stream: &mut Crypto) -> Result<(), &'static str> {
    let mut r = Reader::new(payload);
    // Each turn reads at least the type byte: bounded by the payload.
    while let Some(ty) = r.u8() {
        match ty {
            FRAME_PADDING | FRAME_PING => {}
            FRAME_ACK | FRAME_ACK_ECN => {
                const CUT: &str = "ACK frame cut";
                need(varint(&mut r), CUT)?; // largest acknowledged
                need(varint(&mut r), CUT)?; // ack delay
                let ranges = need(varint(&mut r), CUT)?;
                // The first ACK range, then each further range reads two varints (at
                // least 2 bytes) or fails: bounded by the payload, whatever the count.
                need(varint(&mut r), CUT)?;
                for _ in 0..ranges {
                    need(varint(&mut r), CUT)?; // gap
                    need(varint(&mut r), CUT)?; // ack range length
                }
                if ty == FRAME_ACK_ECN {
                    for _ in 0..3 {
                        need(varint(&mut r), CUT)?;
                    }
                }
            }
            FRAME_CRYPTO => {
                let offset = need(varint(&mut r), "CRYPTO frame cut")?;
                let len = need(varint(&mut r), "CRYPTO frame cut")?;
                let data = need(
                    usize::try_from(len).ok().and_then(|n| r.bytes(n)),
                    "CRYPTO data overruns the packet",
                )?;
                stream.insert(offset, data)?;
            }
            FRAME_CONNECTION_CLOSE => {
                const CUT: &str = "CONNECTION_CLOSE frame cut";
                need(varint(&mut r), CUT)?; // error code
                need(varint(&mut r), CUT)?; // frame type
                let reason = need(varint(&mut r), CUT)?;
                need(usize::try_from(reason).ok().and_then(|n| r.skip(n)), CUT)?;
            }
            _ => return Ok(()),
        }
    }
    Ok(())
}

/// A connection id, at most 20 bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Cid {
    len: u8,
    bytes: [u8; MAX_CID],
}

impl Cid {
    fn new(id: &[u8]) -> Option<Cid> {
        let mut bytes = [0u8; MAX_CID];
        bytes.get_mut(..id.len())?.copy_from_slice(id);
        Some(Cid {
            len: u8::try_from(id.len()).ok()?,
            bytes,
        })
    }

    fn get(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// One direction of a connection.
#[derive(Debug, Default)]
struct Side {
    /// Decryption attempts made.
    opens: u8,
    /// The largest packet number opened (for the next one's reconstruction).
    largest_pn: Option<u64>,
    /// Whether an Initial of this side opened.
    opened: bool,
    /// Whether this side's hello was read or found broken: nothing more to read.
    done: bool,
    crypto: Crypto,
}

impl Side {
    /// Ends this side's reading and frees its stream.
    fn finish(&mut self) {
        self.done = true;
        self.crypto = Crypto::default();
    }
}

/// One QUIC connection's Initial state (one flow, both directions), bounded: see the
/// module documentation (at most about 37 KiB while both hellos are incomplete).
#[derive(Debug, Default)]
pub struct QuicState {
    /// The DCID the Initial keys derive from: the client's first one whose Initial
    /// opened, or the one it started over with.
    dcid: Option<Cid>,
    client: Side,
    server: Side,
}

impl QuicState {
    /// A connection with nothing seen.
    pub fn new() -> QuicState {
        QuicState::default()
    }

    /// Whether an Initial of this connection was decrypted (the `app` column's evidence).
    pub fn opened(&self) -> bool {
        self.client.opened || self.server.opened
    }

    /// One UDP datagram of the connection; `from_client`: sent by the side that sent the
    /// first Initial. Returns the hello this direction's CRYPTO stream completed with this
    /// datagram (`Found` once a direction: later datagrams of that direction give
    /// NotThis), Incomplete while a hello is partial, NotThis for non-Initial or
    /// undecryptable datagrams (the state is kept: a later datagram may still complete
    /// the hello), Malformed for an Initial that decrypted but whose frames or hello are
    /// broken (that direction then ends, later datagrams of it give NotThis).
    pub fn datagram(&mut self, datagram: &[u8], from_client: bool) -> Outcome<Hello> {
        if !is_initial(datagram) {
            return Outcome::NotThis;
        }
        let QuicState {
            dcid,
            client,
            server,
        } = self;
        // The client may start over (new DCID) until the server's Initials open.
        let may_restart = from_client && !server.opened;
        let done = if from_client {
            client.done
        } else {
            server.done
        };
        if done && !may_restart {
            return Outcome::NotThis;
        }
        let mut opened_now = false;
        let mut rest = datagram;
        for _ in 0..MAX_COALESCED {
            let Some((packet, after)) = long_packet(rest) else {
                break;
            };
            rest = after;
            if packet.kind != Kind::Initial {
                continue;
            }
            let side = if from_client {
                &mut *client
            } else {
                &mut *server
            };
            let mut opened = None;
            // The connection's keys, unless this side is done.
            if let (Some(cid), false) = (*dcid, side.done) {
                if side.opens >= MAX_OPENS {
                    break;
                }
                side.opens += 1;
                opened = initial_keys(packet.version, cid.get(), from_client)
                    .and_then(|k| open(&packet, &k, side.largest_pn));
            }
            // A client starting over: keys from the packet's own DCID.
            if opened.is_none() && may_restart && dcid.is_none_or(|c| c.get() != packet.dcid) {
                if side.opens >= MAX_OPENS {
                    break;
                }
                side.opens += 1;
                opened = initial_keys(packet.version, packet.dcid, true)
                    .and_then(|k| open(&packet, &k, side.largest_pn));
                if opened.is_some() {
                    *dcid = Cid::new(packet.dcid);
                    // The server's side belongs to the new attempt; so does a client
                    // hello still being read.
                    *server = Side {
                        opens: server.opens,
                        ..Side::default()
                    };
                    if !client.done {
                        client.crypto = Crypto::default();
                    }
                }
            }
            let Some(opened) = opened else {
                continue;
            };
            let side = if from_client {
                &mut *client
            } else {
                &mut *server
            };
            side.opened = true;
            side.largest_pn = Some(side.largest_pn.map_or(opened.pn, |l| l.max(opened.pn)));
            opened_now = true;
            if side.done {
                continue;
            }
            if let Err(why) = frames(opened.payload(), &mut side.crypto) {
                side.finish();
                return Outcome::Malformed(why);
            }
        }
        let side = if from_client { client } else { server };
        if !opened_now || side.done {
            return Outcome::NotThis;
        }
        let outcome = match tls::parse_handshake(side.crypto.prefix()) {
            Outcome::Incomplete => return Outcome::Incomplete,
            Outcome::Found(hello) => Outcome::Found(hello),
            Outcome::NotThis => {
                Outcome::Malformed("the Initial CRYPTO stream does not start with a hello")
            }
            Outcome::Malformed(why) => Outcome::Malformed(why),
        };
        side.finish();
        outcome
    }
}

/// Sealing Initials, for the unit tests and the fuzz target only (`cfg(fuzzing)` is set by
/// cargo-fuzz): empty in a normal build.
#[doc(hidden)]
#[allow(unexpected_cfgs)]
pub mod fuzzing {
    #[cfg(any(test, fuzzing))]
    use super::*;

    /// A protected Initial (RFC 9001 section 5): `version` (v1 or v2, else v1), sealed with
    /// the Initial keys of the client (`client`) or the server derived from `key_dcid`;
    /// header with `dcid` and `scid` (at most 20 bytes of each kept), an empty token, a
    /// Length of 2 bytes (4 from 16 KiB on); packet number `pn` in `pn_len` bytes (1..=4).
    /// A payload too short for the header protection sample is padded with PADDING frames.
    #[cfg(any(test, fuzzing))]
    #[allow(clippy::too_many_arguments)]
    pub fn seal_initial(
        version: u32,
        key_dcid: &[u8],
        client: bool,
        dcid: &[u8],
        scid: &[u8],
        pn: u64,
        pn_len: usize,
        payload: &[u8],
    ) -> Vec<u8> {
        let version = if version == VERSION_2 {
            VERSION_2
        } else {
            VERSION_1
        };
        let key_dcid = key_dcid
            .get(..key_dcid.len().min(MAX_CID))
            .unwrap_or_default();
        let dcid = dcid.get(..dcid.len().min(MAX_CID)).unwrap_or_default();
        let scid = scid.get(..scid.len().min(MAX_CID)).unwrap_or_default();
        let pn_len = pn_len.clamp(1, 4);
        let Some(keys) = initial_keys(version, key_dcid, client) else {
            return Vec::new();
        };
        let mut body = payload.to_vec();
        body.resize(body.len().max(MIN_LENGTH - TAG_LEN - pn_len), 0);
        let type_bits: u8 = if version == VERSION_2 { 0x10 } else { 0x00 };
        let mut packet = vec![0xc0 | type_bits | (pn_len as u8 - 1)];
        packet.extend_from_slice(&version.to_be_bytes());
        packet.push(dcid.len() as u8);
        packet.extend_from_slice(dcid);
        packet.push(scid.len() as u8);
        packet.extend_from_slice(scid);
        packet.push(0); // token length
        let length = (pn_len + body.len() + TAG_LEN) as u32;
        if length < 1 << 14 {
            packet.extend_from_slice(&(0x4000 | length as u16).to_be_bytes());
        } else {
            packet.extend_from_slice(&(0x8000_0000 | length).to_be_bytes());
        }
        let pn_offset = packet.len();
        packet.extend(pn.to_be_bytes().into_iter().skip(8 - pn_len));
        let pn = pn & (u64::MAX >> (64 - 8 * pn_len));
        let Ok(tag) = Aes128Gcm::new(&keys.key.into()).encrypt_in_place_detached(
            &nonce(&keys.iv, pn).into(),
            &packet,
            &mut body,
        ) else {
            return Vec::new();
        };
        packet.extend_from_slice(&body);
        packet.extend_from_slice(&tag);
        let sample: Option<[u8; SAMPLE_LEN]> = packet
            .get(pn_offset + SAMPLE_OFFSET..pn_offset + SAMPLE_OFFSET + SAMPLE_LEN)
            .and_then(|s| s.try_into().ok());
        let Some(sample) = sample else {
            return Vec::new();
        };
        let mask = hp_mask(&keys.hp, sample);
        if let (Some(first), Some(m)) = (packet.first_mut(), mask.first()) {
            *first ^= m & 0x0f;
        }
        if let Some(pn_bytes) = packet.get_mut(pn_offset..pn_offset + pn_len) {
            for (b, m) in pn_bytes.iter_mut().zip(mask.iter().skip(1)) {
                *b ^= m;
            }
        }
        packet
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::tls::{ClientHello, ServerHello};
    use proptest::prelude::*;

    /// Bytes from hex, whitespace ignored.
    fn h(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        digits
            .chunks(2)
            .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
            .collect()
    }

    /// RFC 9001 appendix A: the client's DCID.
    const DCID: &str = "8394c8f03e515708";

    /// RFC 9001 appendix A.2 and RFC 9369 appendix A.2: the client Initial's plaintext
    /// payload: a CRYPTO frame (type 06, offset 0, length 0x40f1 = 241) with a
    /// ClientHello (01, 0x0000ed = 237 bytes) for "example.com", then 917 bytes of PADDING
    /// (to 1162 bytes).
    const CLIENT_CRYPTO_FRAME: &str = "
        060040f1010000ed0303ebf8fa56f12939b9584a3896472ec40bb863cfd3e868
        04fe3a47f06a2b69484c00000413011302010000c000000010000e00000b6578
        616d706c652e636f6dff01000100000a00080006001d00170018001000070005
        04616c706e000500050100000000003300260024001d00209370b2c9caa47fba
        baf4559fedba753de171fa71f50f1ce15d43e994ec74d748002b000302030400
        0d0010000e0403050306030203080408050806002d00020101001c0002400100
        3900320408ffffffffffffffff05048000ffff07048000ffff08011001048000
        75300901100f088394c8f03e51570806048000ffff";

    fn client_plaintext() -> Vec<u8> {
        let mut p = h(CLIENT_CRYPTO_FRAME);
        p.resize(1162, 0);
        p
    }

    /// The ClientHello message alone (the CRYPTO frame's data).
    fn client_hello_msg() -> Vec<u8> {
        h(CLIENT_CRYPTO_FRAME).split_off(4)
    }

    /// RFC 9001 A.3 and RFC 9369 A.3: the server Initial's plaintext payload: ACK of
    /// packet 0, then a CRYPTO frame (offset 0, length 0x405a = 90) with a ServerHello
    /// choosing TLS_AES_128_GCM_SHA256 and TLS 1.3.
    const SERVER_PLAINTEXT: &str = "
        02000000000600405a020000560303eefce7f7b37ba1d1632e96677825ddf739
        88cfc79825df566dc5430b9a045a1200130100002e00330024001d00209d3c94
        0d89690b84d08a60993c144eca684d1081287c834d5311bcf32bb9da1a002b00
        020304";

    /// RFC 9001 A.2: the protected client Initial (1200 bytes).
    const V1_CLIENT_INITIAL: &str = "
        c000000001088394c8f03e5157080000449e7b9aec34d1b1c98dd7689fb8ec11
        d242b123dc9bd8bab936b47d92ec356c0bab7df5976d27cd449f63300099f399
        1c260ec4c60d17b31f8429157bb35a1282a643a8d2262cad67500cadb8e7378c
        8eb7539ec4d4905fed1bee1fc8aafba17c750e2c7ace01e6005f80fcb7df6212
        30c83711b39343fa028cea7f7fb5ff89eac2308249a02252155e2347b63d58c5
        457afd84d05dfffdb20392844ae812154682e9cf012f9021a6f0be17ddd0c208
        4dce25ff9b06cde535d0f920a2db1bf362c23e596d11a4f5a6cf3948838a3aec
        4e15daf8500a6ef69ec4e3feb6b1d98e610ac8b7ec3faf6ad760b7bad1db4ba3
        485e8a94dc250ae3fdb41ed15fb6a8e5eba0fc3dd60bc8e30c5c4287e53805db
        059ae0648db2f64264ed5e39be2e20d82df566da8dd5998ccabdae053060ae6c
        7b4378e846d29f37ed7b4ea9ec5d82e7961b7f25a9323851f681d582363aa5f8
        9937f5a67258bf63ad6f1a0b1d96dbd4faddfcefc5266ba6611722395c906556
        be52afe3f565636ad1b17d508b73d8743eeb524be22b3dcbc2c7468d54119c74
        68449a13d8e3b95811a198f3491de3e7fe942b330407abf82a4ed7c1b311663a
        c69890f4157015853d91e923037c227a33cdd5ec281ca3f79c44546b9d90ca00
        f064c99e3dd97911d39fe9c5d0b23a229a234cb36186c4819e8b9c5927726632
        291d6a418211cc2962e20fe47feb3edf330f2c603a9d48c0fcb5699dbfe58964
        25c5bac4aee82e57a85aaf4e2513e4f05796b07ba2ee47d80506f8d2c25e50fd
        14de71e6c418559302f939b0e1abd576f279c4b2e0feb85c1f28ff18f58891ff
        ef132eef2fa09346aee33c28eb130ff28f5b766953334113211996d20011a198
        e3fc433f9f2541010ae17c1bf202580f6047472fb36857fe843b19f5984009dd
        c324044e847a4f4a0ab34f719595de37252d6235365e9b84392b061085349d73
        203a4a13e96f5432ec0fd4a1ee65accdd5e3904df54c1da510b0ff20dcc0c77f
        cb2c0e0eb605cb0504db87632cf3d8b4dae6e705769d1de354270123cb11450e
        fc60ac47683d7b8d0f811365565fd98c4c8eb936bcab8d069fc33bd801b03ade
        a2e1fbc5aa463d08ca19896d2bf59a071b851e6c239052172f296bfb5e724047
        90a2181014f3b94a4e97d117b438130368cc39dbb2d198065ae3986547926cd2
        162f40a29f0c3c8745c0f50fba3852e566d44575c29d39a03f0cda721984b6f4
        40591f355e12d439ff150aab7613499dbd49adabc8676eef023b15b65bfc5ca0
        6948109f23f350db82123535eb8a7433bdabcb909271a6ecbcb58b936a88cd4e
        8f2e6ff5800175f113253d8fa9ca8885c2f552e657dc603f252e1a8e308f76f0
        be79e2fb8f5d5fbbe2e30ecadd220723c8c0aea8078cdfcb3868263ff8f09400
        54da48781893a7e49ad5aff4af300cd804a6b6279ab3ff3afb64491c85194aab
        760d58a606654f9f4400e8b38591356fbf6425aca26dc85244259ff2b19c41b9
        f96f3ca9ec1dde434da7d2d392b905ddf3d1f9af93d1af5950bd493f5aa731b4
        056df31bd267b6b90a079831aaf579be0a39013137aac6d404f518cfd4684064
        7e78bfe706ca4cf5e9c5453e9f7cfd2b8b4c8d169a44e55c88d4a9a7f9474241
        e221af44860018ab0856972e194cd934";

    /// RFC 9001 A.3: the protected server Initial.
    const V1_SERVER_INITIAL: &str = "
        cf000000010008f067a5502a4262b5004075c0d95a482cd0991cd25b0aac406a
        5816b6394100f37a1c69797554780bb38cc5a99f5ede4cf73c3ec2493a1839b3
        dbcba3f6ea46c5b7684df3548e7ddeb9c3bf9c73cc3f3bded74b562bfb19fb84
        022f8ef4cdd93795d77d06edbb7aaf2f58891850abbdca3d20398c276456cbc4
        2158407dd074ee";

    /// RFC 9369 A.2: the protected v2 client Initial (1200 bytes).
    const V2_CLIENT_INITIAL: &str = "
        d76b3343cf088394c8f03e5157080000449ea0c95e82ffe67b6abcdb4298b485
        dd04de806071bf03dceebfa162e75d6c96058bdbfb127cdfcbf903388e99ad04
        9f9a3dd4425ae4d0992cfff18ecf0fdb5a842d09747052f17ac2053d21f57c5d
        250f2c4f0e0202b70785b7946e992e58a59ac52dea6774d4f03b55545243cf1a
        12834e3f249a78d395e0d18f4d766004f1a2674802a747eaa901c3f10cda5500
        cb9122faa9f1df66c392079a1b40f0de1c6054196a11cbea40afb6ef5253cd68
        18f6625efce3b6def6ba7e4b37a40f7732e093daa7d52190935b8da58976ff33
        12ae50b187c1433c0f028edcc4c2838b6a9bfc226ca4b4530e7a4ccee1bfa2a3
        d396ae5a3fb512384b2fdd851f784a65e03f2c4fbe11a53c7777c023462239dd
        6f7521a3f6c7d5dd3ec9b3f233773d4b46d23cc375eb198c63301c21801f6520
        bcfb7966fc49b393f0061d974a2706df8c4a9449f11d7f3d2dcbb90c6b877045
        636e7c0c0fe4eb0f697545460c806910d2c355f1d253bc9d2452aaa549e27a1f
        ac7cf4ed77f322e8fa894b6a83810a34b361901751a6f5eb65a0326e07de7c12
        16ccce2d0193f958bb3850a833f7ae432b65bc5a53975c155aa4bcb4f7b2c4e5
        4df16efaf6ddea94e2c50b4cd1dfe06017e0e9d02900cffe1935e0491d77ffb4
        fdf85290fdd893d577b1131a610ef6a5c32b2ee0293617a37cbb08b847741c3b
        8017c25ca9052ca1079d8b78aebd47876d330a30f6a8c6d61dd1ab5589329de7
        14d19d61370f8149748c72f132f0fc99f34d766c6938597040d8f9e2bb522ff9
        9c63a344d6a2ae8aa8e51b7b90a4a806105fcbca31506c446151adfeceb51b91
        abfe43960977c87471cf9ad4074d30e10d6a7f03c63bd5d4317f68ff325ba3bd
        80bf4dc8b52a0ba031758022eb025cdd770b44d6d6cf0670f4e990b22347a7db
        848265e3e5eb72dfe8299ad7481a408322cac55786e52f633b2fb6b614eaed18
        d703dd84045a274ae8bfa73379661388d6991fe39b0d93debb41700b41f90a15
        c4d526250235ddcd6776fc77bc97e7a417ebcb31600d01e57f32162a8560cacc
        7e27a096d37a1a86952ec71bd89a3e9a30a2a26162984d7740f81193e8238e61
        f6b5b984d4d3dfa033c1bb7e4f0037febf406d91c0dccf32acf423cfa1e70710
        10d3f270121b493ce85054ef58bada42310138fe081adb04e2bd901f2f13458b
        3d6758158197107c14ebb193230cd1157380aa79cae1374a7c1e5bbcb80ee23e
        06ebfde206bfb0fcbc0edc4ebec309661bdd908d532eb0c6adc38b7ca7331dce
        8dfce39ab71e7c32d318d136b6100671a1ae6a6600e3899f31f0eed19e3417d1
        34b90c9058f8632c798d4490da4987307cba922d61c39805d072b589bd52fdf1
        e86215c2d54e6670e07383a27bbffb5addf47d66aa85a0c6f9f32e59d85a44dd
        5d3b22dc2be80919b490437ae4f36a0ae55edf1d0b5cb4e9a3ecabee93dfc6e3
        8d209d0fa6536d27a5d6fbb17641cde27525d61093f1b28072d111b2b4ae5f89
        d5974ee12e5cf7d5da4d6a31123041f33e61407e76cffcdcfd7e19ba58cf4b53
        6f4c4938ae79324dc402894b44faf8afbab35282ab659d13c93f70412e85cb19
        9a37ddec600545473cfb5a05e08d0b209973b2172b4d21fb69745a262ccde96b
        a18b2faa745b6fe189cf772a9f84cbfc";

    /// RFC 9369 A.3: the protected v2 server Initial.
    const V2_SERVER_INITIAL: &str = "
        dc6b3343cf0008f067a5502a4262b5004075d92faaf16f05d8a4398c47089698
        baeea26b91eb761d9b89237bbf87263017915358230035f7fd3945d88965cf17
        f9af6e16886c61bfc703106fbaf3cb4cfa52382dd16a393e42757507698075b2
        c984c707f0a0812d8cd5a6881eaf21ceda98f4bd23f6fe1a3e2c43edd9ce7ca8
        4bed8521e2e140";

    /// The sealing of `fuzzing::seal_initial` (checked against the RFC vectors in
    /// `sealing_reproduces_the_rfc_packets`).
    use super::fuzzing::seal_initial as seal;

    /// A CRYPTO frame.
    fn crypto(offset: u64, data: &[u8]) -> Vec<u8> {
        let mut f = vec![FRAME_CRYPTO];
        f.extend_from_slice(&(0x8000_0000 | offset as u32).to_be_bytes());
        f.extend_from_slice(&(0x4000 | data.len() as u16).to_be_bytes());
        f.extend_from_slice(data);
        f
    }

    fn padded(mut frames: Vec<u8>, to: usize) -> Vec<u8> {
        frames.resize(frames.len().max(to), 0);
        frames
    }

    fn client(o: Outcome<Hello>) -> ClientHello {
        match o {
            Outcome::Found(Hello::Client(ch)) => ch,
            other => panic!("expected a ClientHello, got {other:?}"),
        }
    }

    fn server(o: Outcome<Hello>) -> ServerHello {
        match o {
            Outcome::Found(Hello::Server(sh)) => sh,
            other => panic!("expected a ServerHello, got {other:?}"),
        }
    }

    /// What the RFC's ClientHello says.
    fn check_rfc_client_hello(ch: &ClientHello) {
        assert_eq!(ch.sni.as_deref(), Some("example.com"));
        assert_eq!(ch.alpn, ["alpn"]);
        assert_eq!(ch.ciphers, [0x1301, 0x1302]);
        assert_eq!(
            ch.extensions,
            [0, 0xff01, 10, 16, 5, 51, 43, 13, 45, 28, 57],
            "server_name, renegotiation_info, groups, ALPN, status_request, key_share, \
             supported_versions, signature_algorithms, psk_modes, record_size_limit, \
             quic_transport_parameters"
        );
        assert_eq!(ch.supported_versions, [0x0304]);
        assert_eq!(ch, &client(tls::parse_handshake(&client_hello_msg())));
    }

    #[test]
    fn initial_keys_match_rfc9001_a1_and_rfc9369_a1() {
        let dcid = h(DCID);
        let (c, s) = initial_secrets(VERSION_1, &dcid).unwrap();
        assert_eq!(
            c.to_vec(),
            h("c00cf151ca5be075ed0ebfb5c80323c42d6b7db67881289af4008f1f6c357aea")
        );
        assert_eq!(
            s.to_vec(),
            h("3c199828fd139efd216c155ad844cc81fb82fa8d7446fa7d78be803acdda951b")
        );
        let k = initial_keys(VERSION_1, &dcid, true).unwrap();
        assert_eq!(k.key.to_vec(), h("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(k.iv.to_vec(), h("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(k.hp.to_vec(), h("9f50449e04a0e810283a1e9933adedd2"));
        let k = initial_keys(VERSION_1, &dcid, false).unwrap();
        assert_eq!(k.key.to_vec(), h("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(k.iv.to_vec(), h("0ac1493ca1905853b0bba03e"));
        assert_eq!(k.hp.to_vec(), h("c206b8d9b9f0f37644430b490eeaa314"));
        // v2: same labels for the secrets, another salt, "quicv2" key labels.
        let (c, s) = initial_secrets(VERSION_2, &dcid).unwrap();
        assert_eq!(
            c.to_vec(),
            h("14ec9d6eb9fd7af83bf5a668bc17a7e283766aade7ecd0891f70f9ff7f4bf47b")
        );
        assert_eq!(
            s.to_vec(),
            h("0263db1782731bf4588e7e4d93b7463907cb8cd8200b5da55a8bd488eafc37c1")
        );
        let k = initial_keys(VERSION_2, &dcid, true).unwrap();
        assert_eq!(k.key.to_vec(), h("8b1a0bc121284290a29e0971b5cd045d"));
        assert_eq!(k.iv.to_vec(), h("91f73e2351d8fa91660e909f"));
        assert_eq!(k.hp.to_vec(), h("45b95e15235d6f45a6b19cbcb0294ba9"));
        let k = initial_keys(VERSION_2, &dcid, false).unwrap();
        assert_eq!(k.key.to_vec(), h("82db637861d55e1d011f19ea71d5d2a7"));
        assert_eq!(k.iv.to_vec(), h("dd13c276499c0249d3310652"));
        assert_eq!(k.hp.to_vec(), h("edf6d05c83121201b436e16877593c3a"));
        assert_eq!(initial_secrets(0xff00_001d, &dcid), None, "draft-29");
    }

    #[test]
    fn header_protection_mask_matches_rfc9001_a2() {
        // RFC 9001 A.2: sample d1b1c98dd7689fb8ec11d242b123dc9b, mask 437b9aec36.
        let k = initial_keys(VERSION_1, &h(DCID), true).unwrap();
        let sample: [u8; 16] = h("d1b1c98dd7689fb8ec11d242b123dc9b").try_into().unwrap();
        assert_eq!(hp_mask(&k.hp, sample)[..5], h("437b9aec36")[..]);
    }

    #[test]
    fn client_initial_rfc9001_a2_byte_for_byte() {
        let packet = h(V1_CLIENT_INITIAL);
        assert_eq!(packet.len(), 1200);
        assert!(is_initial(&packet));
        let (p, rest) = long_packet(&packet).unwrap();
        assert!(rest.is_empty());
        assert_eq!((p.kind, p.version, p.pn_offset), (Kind::Initial, 1, 18));
        assert_eq!(p.dcid, &h(DCID)[..]);
        let k = initial_keys(VERSION_1, &h(DCID), true).unwrap();
        let opened = open(&p, &k, None).unwrap();
        assert_eq!(opened.pn, 2);
        assert_eq!(opened.payload(), &client_plaintext()[..]);
        // The unprotected header: c300000001088394c8f03e5157080000449e00000002.
        assert_eq!(
            opened.buf.get(..22).unwrap(),
            &h("c300000001088394c8f03e5157080000449e00000002")[..]
        );
        let mut state = QuicState::new();
        check_rfc_client_hello(&client(state.datagram(&packet, true)));
        assert!(state.opened());
        // Found once: the same datagram again is NotThis.
        assert_eq!(state.datagram(&packet, true), Outcome::NotThis);
    }

    #[test]
    fn server_initial_rfc9001_a3_byte_for_byte() {
        let packet = h(V1_SERVER_INITIAL);
        let (p, _) = long_packet(&packet).unwrap();
        let k = initial_keys(VERSION_1, &h(DCID), false).unwrap();
        let opened = open(&p, &k, None).unwrap();
        assert_eq!(opened.pn, 1);
        assert_eq!(opened.payload(), &h(SERVER_PLAINTEXT)[..]);
        // Without the client's Initial the keys are unknown.
        let mut state = QuicState::new();
        assert_eq!(state.datagram(&packet, false), Outcome::NotThis);
        assert!(!state.opened());
        client(state.datagram(&h(V1_CLIENT_INITIAL), true));
        let sh = server(state.datagram(&packet, false));
        assert_eq!(
            sh,
            ServerHello {
                version: 0x0304,
                cipher: 0x1301,
                hello_retry_request: false
            }
        );
        assert_eq!(state.datagram(&packet, false), Outcome::NotThis);
    }

    #[test]
    fn v2_initials_rfc9369_a2_a3_byte_for_byte() {
        let c = h(V2_CLIENT_INITIAL);
        let s = h(V2_SERVER_INITIAL);
        assert_eq!(c.len(), 1200);
        assert!(is_initial(&c) && is_initial(&s));
        let (p, _) = long_packet(&c).unwrap();
        let opened = open(&p, &initial_keys(VERSION_2, &h(DCID), true).unwrap(), None).unwrap();
        assert_eq!(opened.pn, 2);
        assert_eq!(opened.payload(), &client_plaintext()[..]);
        assert_eq!(
            opened.buf.get(..22).unwrap(),
            &h("d36b3343cf088394c8f03e5157080000449e00000002")[..]
        );
        let (p, _) = long_packet(&s).unwrap();
        let opened = open(&p, &initial_keys(VERSION_2, &h(DCID), false).unwrap(), None).unwrap();
        assert_eq!(opened.pn, 1);
        assert_eq!(opened.payload(), &h(SERVER_PLAINTEXT)[..]);
        // v1 keys do not open v2 packets.
        let (p, _) = long_packet(&c).unwrap();
        assert!(open(&p, &initial_keys(VERSION_1, &h(DCID), true).unwrap(), None).is_none());
        let mut state = QuicState::new();
        check_rfc_client_hello(&client(state.datagram(&c, true)));
        assert_eq!(server(state.datagram(&s, false)).cipher, 0x1301);
    }

    #[test]
    fn sealing_reproduces_the_rfc_packets() {
        let dcid = h(DCID);
        let scid = h("f067a5502a4262b5");
        let server_plain = h(SERVER_PLAINTEXT);
        for (version, client_packet, server_packet) in [
            (VERSION_1, V1_CLIENT_INITIAL, V1_SERVER_INITIAL),
            (VERSION_2, V2_CLIENT_INITIAL, V2_SERVER_INITIAL),
        ] {
            let c = seal(version, &dcid, true, &dcid, &[], 2, 4, &client_plaintext());
            assert_eq!(c, h(client_packet), "client, version {version:#x}");
            let s = seal(version, &dcid, false, &[], &scid, 1, 2, &server_plain);
            assert_eq!(s, h(server_packet), "server, version {version:#x}");
        }
    }

    #[test]
    fn packet_numbers_are_reconstructed() {
        // RFC 9000 appendix A.3's example.
        assert_eq!(decode_pn(Some(0xa82f30ea), 0x9b32, 16), 0xa82f9b32);
        assert_eq!(decode_pn(None, 0, 8), 0);
        assert_eq!(decode_pn(Some(0xff), 0x01, 8), 0x101);
        assert_eq!(decode_pn(Some(0x101), 0xff, 8), 0xff);
        // No overflow near the top.
        let _ = decode_pn(Some(u64::MAX), 0xffff_ffff, 32);
        let _ = decode_pn(Some((1 << 62) - 1), 0, 8);
    }

    #[test]
    fn a_client_hello_split_over_two_initials() {
        let dcid = h("0011223344556677");
        let msg = client_hello_msg();
        let (a, b) = msg.split_at(100);
        let first = seal(
            VERSION_1,
            &dcid,
            true,
            &dcid,
            &[],
            0,
            1,
            &padded(crypto(0, a), 1100),
        );
        let second = seal(
            VERSION_1,
            &dcid,
            true,
            &dcid,
            &[],
            1,
            1,
            &padded(crypto(100, b), 1100),
        );
        // In order.
        let mut state = QuicState::new();
        assert_eq!(state.datagram(&first, true), Outcome::Incomplete);
        assert!(state.opened());
        check_rfc_client_hello(&client(state.datagram(&second, true)));
        // Second half first: nothing from offset 0 yet, still a valid beginning.
        let mut state = QuicState::new();
        assert_eq!(state.datagram(&second, true), Outcome::Incomplete);
        check_rfc_client_hello(&client(state.datagram(&first, true)));
        // Both coalesced in one datagram, with a Handshake packet after them (not opened)
        // and zero bytes after that (datagram padding).
        let mut datagram = second.clone();
        datagram.extend_from_slice(&first);
        let mut handshake = seal(VERSION_1, &dcid, true, &dcid, &[], 2, 1, &[1; 40]);
        handshake[0] = (handshake[0] & 0xcf) | 0x20; // type bits 10: Handshake
        handshake.remove(1 + 4 + 1 + dcid.len() + 1); // no token length
        datagram.extend_from_slice(&handshake);
        datagram.extend_from_slice(&[0; 30]);
        let mut state = QuicState::new();
        check_rfc_client_hello(&client(state.datagram(&datagram, true)));
        // Several CRYPTO frames out of order in one packet, with PING and PADDING between.
        let mut frames = crypto(200, msg.get(200..).unwrap());
        frames.extend_from_slice(&[FRAME_PING, 0, 0]);
        frames.extend(crypto(0, msg.get(..50).unwrap()));
        frames.extend(crypto(50, msg.get(50..200).unwrap()));
        let p = seal(
            VERSION_1,
            &dcid,
            true,
            &dcid,
            &[],
            0,
            2,
            &padded(frames, 1200),
        );
        let mut state = QuicState::new();
        check_rfc_client_hello(&client(state.datagram(&p, true)));
    }

    #[test]
    fn a_tampered_tag_is_not_this_and_costs_the_budget() {
        // NotThis, not Malformed: the keys are public, so a packet that does not
        // authenticate is only "not sealed under this connection's keys" (as endpoints
        // see it: they drop it silently). It leaves the state as it was.
        let mut packet = h(V1_CLIENT_INITIAL);
        *packet.last_mut().unwrap() ^= 1;
        let mut state = QuicState::new();
        assert_eq!(state.datagram(&packet, true), Outcome::NotThis);
        assert!(!state.opened());
        // A changed payload byte or header byte (the AAD) fails the same way.
        let mut changed = h(V1_CLIENT_INITIAL);
        changed[600] ^= 0x80;
        assert_eq!(state.datagram(&changed, true), Outcome::NotThis);
        let mut changed = h(V1_CLIENT_INITIAL);
        changed[10] ^= 0x01; // inside the DCID: other keys
        assert_eq!(state.datagram(&changed, true), Outcome::NotThis);
        // The true packet still opens.
        check_rfc_client_hello(&client(state.datagram(&h(V1_CLIENT_INITIAL), true)));
        // At most MAX_OPENS attempts a direction: after that even a good packet is NotThis.
        let mut state = QuicState::new();
        for _ in 0..MAX_OPENS {
            assert_eq!(state.datagram(&packet, true), Outcome::NotThis);
        }
        assert_eq!(
            state.datagram(&h(V1_CLIENT_INITIAL), true),
            Outcome::NotThis
        );
        assert!(!state.opened());
    }

    #[test]
    fn broken_frames_and_hellos_are_malformed() {
        let dcid = h("0102030405060708");
        let seal1 = |payload: &[u8]| seal(VERSION_1, &dcid, true, &dcid, &[], 0, 1, payload);
        let malformed = |payload: &[u8]| {
            let mut state = QuicState::new();
            let o = state.datagram(&seal1(payload), true);
            assert!(state.opened());
            // That direction is then over.
            assert_eq!(state.datagram(&seal1(payload), true), Outcome::NotThis);
            o
        };
        let msg = client_hello_msg();
        // A CRYPTO frame whose length overruns the packet.
        let mut f = crypto(0, &msg);
        f.truncate(f.len() - 1);
        assert_eq!(
            malformed(&f),
            Outcome::Malformed("CRYPTO data overruns the packet")
        );
        // Offsets beyond 16 KiB.
        assert_eq!(
            malformed(&padded(crypto(MAX_CRYPTO as u64 - 10, &[1; 11]), 100)),
            Outcome::Malformed("CRYPTO data beyond 16 KiB")
        );
        // A cut ACK frame; a cut CONNECTION_CLOSE reason.
        assert_eq!(
            malformed(&[FRAME_ACK, 0x05, 0x00]),
            Outcome::Malformed("ACK frame cut")
        );
        assert_eq!(
            malformed(&[FRAME_CONNECTION_CLOSE, 0x0a, 0x00, 0x05, b'a']),
            Outcome::Malformed("CONNECTION_CLOSE frame cut")
        );
        // A CRYPTO stream that is no hello (a Finished message first).
        assert_eq!(
            malformed(&padded(crypto(0, &[20, 0, 0, 1, 0]), 100)),
            Outcome::Malformed("the Initial CRYPTO stream does not start with a hello")
        );
        // A broken hello: the TLS parser's reason.
        let mut bad = msg.clone();
        bad[38] = 33; // session id longer than 32 bytes
        assert!(matches!(
            malformed(&padded(crypto(0, &bad), 100)),
            Outcome::Malformed(_)
        ));
        // An ACK (with ECN counts and ranges) and a CONNECTION_CLOSE are read through;
        // a frame type an Initial may not carry ends the walk, what came before stays.
        let mut f = vec![FRAME_ACK_ECN, 0x05, 0x00, 0x01, 0x00, 0x01, 0x01, 0, 0, 0];
        f.extend_from_slice(&[FRAME_CONNECTION_CLOSE, 0x0a, 0x00, 0x01, b'x']);
        f.extend(crypto(0, &msg));
        f.extend_from_slice(&[0x07, 0xff, 0xff]); // NEW_TOKEN, then garbage
        let mut state = QuicState::new();
        check_rfc_client_hello(&client(state.datagram(&seal1(&f), true)));
        // An Initial with only an ACK: QUIC, nothing of the hello yet.
        let mut state = QuicState::new();
        assert_eq!(
            state.datagram(&seal1(&padded(vec![FRAME_ACK, 0, 0, 0, 0], 50)), true),
            Outcome::Incomplete
        );
    }

    #[test]
    fn compatible_version_negotiation_v1_to_v2() {
        // RFC 9368: the client's first Initial is v1, the server answers in v2 with keys
        // from the same DCID (v2 salt and labels), and the client goes on in v2.
        let mut state = QuicState::new();
        client(state.datagram(&h(V1_CLIENT_INITIAL), true));
        assert_eq!(
            server(state.datagram(&h(V2_SERVER_INITIAL), false)).cipher,
            0x1301
        );
    }

    #[test]
    fn a_client_that_starts_over_with_a_new_dcid() {
        // After a Retry (or a Version Negotiation), the client's next Initial has a new
        // DCID and keys from it; the server's Initials follow the new keys.
        let first = h("1111111111111111");
        let retry_scid = h("2222222222222222");
        let msg = client_hello_msg();
        let c1 = seal(
            VERSION_1,
            &first,
            true,
            &first,
            &[],
            0,
            1,
            &padded(crypto(0, &msg), 1200),
        );
        let c2 = seal(
            VERSION_1,
            &retry_scid,
            true,
            &retry_scid,
            &[],
            1,
            1,
            &padded(crypto(0, &msg), 1200),
        );
        let s = seal(
            VERSION_1,
            &retry_scid,
            false,
            &[],
            &h("33"),
            0,
            1,
            &h(SERVER_PLAINTEXT),
        );
        // The Retry packet itself (type 11) is no Initial.
        let mut retry = vec![0xf0];
        retry.extend_from_slice(&VERSION_1.to_be_bytes());
        retry.extend_from_slice(&[0, 8]);
        retry.extend_from_slice(&retry_scid);
        retry.extend_from_slice(&[0xab; 30]);
        let mut state = QuicState::new();
        check_rfc_client_hello(&client(state.datagram(&c1, true)));
        assert_eq!(state.datagram(&retry, false), Outcome::NotThis);
        assert_eq!(
            state.datagram(&s, false),
            Outcome::NotThis,
            "keys of the old DCID"
        );
        assert_eq!(state.datagram(&c2, true), Outcome::NotThis, "found already");
        assert_eq!(server(state.datagram(&s, false)).cipher, 0x1301);
        // Once the server's Initials opened, the DCID no longer changes.
        let c3 = seal(
            VERSION_1,
            &h("44444444"),
            true,
            &h("44444444"),
            &[],
            2,
            1,
            &[0; 40],
        );
        assert_eq!(state.datagram(&c3, true), Outcome::NotThis);
        // A client hello still incomplete when the client starts over is read again from
        // the new attempt's offset 0.
        let half = seal(
            VERSION_1,
            &first,
            true,
            &first,
            &[],
            0,
            1,
            &padded(crypto(0, &[1, 0, 0, 0xed, 9, 9, 9]), 1200),
        );
        let mut state = QuicState::new();
        assert_eq!(state.datagram(&half, true), Outcome::Incomplete);
        check_rfc_client_hello(&client(state.datagram(&c2, true)));
    }

    #[test]
    fn is_initial_is_strict() {
        let v1 = h(V1_CLIENT_INITIAL);
        assert!(is_initial(&v1));
        // Cut: the Length no longer fits.
        assert!(!is_initial(&v1[..1199]));
        assert!(!is_initial(&v1[..5]));
        assert!(!is_initial(&[]));
        // v1 type bits on a v2 packet (and the reverse) are another packet type.
        let mut v = v1.clone();
        v[1..5].copy_from_slice(&VERSION_2.to_be_bytes());
        assert!(!is_initial(&v), "type 00 in v2 is Retry");
        let mut v = h(V2_CLIENT_INITIAL);
        v[1..5].copy_from_slice(&VERSION_1.to_be_bytes());
        assert!(!is_initial(&v), "type 01 in v1 is 0-RTT");
        // Drafts, Google QUIC, a version negotiation packet (version 0).
        for version in [0xff00_001du32, 0x5130_3436, 0, 0x1a2a_3a4a] {
            let mut v = v1.clone();
            v[1..5].copy_from_slice(&version.to_be_bytes());
            assert!(!is_initial(&v), "{version:#x}");
        }
        // A short header; a DCID of 21 bytes.
        let mut v = v1.clone();
        v[0] = 0x40;
        assert!(!is_initial(&v));
        let mut v = v1.clone();
        v[5] = 21;
        assert!(!is_initial(&v));
        // Other protocols: DNS, TLS, RTP, HTTP.
        assert!(!is_initial(&h("12340100000100000000000003777777")));
        assert!(!is_initial(&h("160301020001000200")));
        assert!(!is_initial(&h("80000001000000010000000100000001")));
        assert!(!is_initial(b"GET / HTTP/1.1\r\n"));
        let mut state = QuicState::new();
        assert_eq!(
            state.datagram(b"GET / HTTP/1.1\r\n", true),
            Outcome::NotThis
        );
    }

    #[test]
    fn varints() {
        let v = |b: &[u8]| varint(&mut Reader::new(b));
        // RFC 9000 appendix A.1's examples.
        assert_eq!(v(&h("c2197c5eff14e88c")), Some(151_288_809_941_952_652));
        assert_eq!(v(&h("9d7f3e7d")), Some(494_878_333));
        assert_eq!(v(&h("7bbd")), Some(15_293));
        assert_eq!(v(&h("25")), Some(37));
        assert_eq!(v(&h("4025")), Some(37));
        let mut r = Reader::new(&[0x80, 1, 2]);
        assert_eq!(varint(&mut r), None);
        assert_eq!(r.position(), 0, "a cut varint does not move the reader");
    }

    #[test]
    fn crypto_stream_bitmap() {
        let mut c = Crypto::default();
        c.insert(64, &[2; 70]).unwrap();
        assert!(c.prefix().is_empty());
        c.insert(0, &[1; 63]).unwrap();
        assert_eq!(c.prefix().len(), 63);
        c.insert(63, &[1]).unwrap();
        assert_eq!(c.prefix().len(), 134);
        c.insert(0, &[]).unwrap();
        assert!(c.insert(u64::MAX, &[1]).is_err());
        assert!(c.insert(MAX_CRYPTO as u64, &[]).is_ok());
        assert!(c.insert(MAX_CRYPTO as u64, &[1]).is_err());
        c.insert(MAX_CRYPTO as u64 - 1, &[1]).unwrap();
        assert_eq!(c.data.len(), MAX_CRYPTO);
        assert_eq!(c.have.len(), MAX_CRYPTO.div_ceil(64));
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn state_size() {
        // The fixed part the module documentation states.
        assert_eq!(size_of::<QuicState>(), 184, "on 64-bit targets");
    }

    /// Valid packets, then changed: the generator of the proptests below.
    fn packets() -> Vec<Vec<u8>> {
        vec![
            h(V1_CLIENT_INITIAL),
            h(V1_SERVER_INITIAL),
            h(V2_CLIENT_INITIAL),
            h(V2_SERVER_INITIAL),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Any datagrams, either direction: no panic, and Found at most once a direction.
        #[test]
        fn no_panic_on_any_datagrams(
            datagrams in prop::collection::vec(
                (any::<bool>(), prop::collection::vec(any::<u8>(), 0..1400)),
                0..12,
            )
        ) {
            let mut state = QuicState::new();
            let mut found = [0, 0];
            for (from_client, d) in &datagrams {
                if let Outcome::Found(_) = state.datagram(d, *from_client) {
                    found[usize::from(*from_client)] += 1;
                }
            }
            prop_assert!(found[0] <= 1 && found[1] <= 1);
        }

        /// The RFC packets with bytes changed, cut, or joined: no panic; a changed
        /// packet that still opens gives some outcome, never a panic.
        #[test]
        fn no_panic_on_changed_initials(
            picks in prop::collection::vec(
                (0usize..4, any::<bool>(), prop::collection::vec((any::<u16>(), any::<u8>()), 0..4), any::<u16>()),
                1..6,
            )
        ) {
            let all = packets();
            let mut state = QuicState::new();
            for (which, from_client, changes, cut) in picks {
                let mut d = all[which].clone();
                for (at, v) in changes {
                    let n = d.len();
                    d[usize::from(at) % n] ^= v;
                }
                let keep = d.len() - usize::from(cut) % 8;
                d.truncate(keep);
                let _ = state.datagram(&d, from_client);
                let _ = is_initial(&d);
            }
        }

        /// The RFC's ClientHello cut at any points into CRYPTO frames, one a packet, sent
        /// in any order, several packets coalesced a datagram: Incomplete until the last
        /// piece arrives, then Found, the same hello as the message read whole.
        #[test]
        fn any_split_and_order_reassembles(
            cuts in prop::collection::btree_set(1usize..241, 0..8),
            order in any::<u64>(),
            per_datagram in 1usize..4,
        ) {
            let msg = client_hello_msg();
            let dcid = h(DCID);
            let mut bounds: Vec<usize> = vec![0];
            bounds.extend(cuts);
            bounds.push(msg.len());
            let mut pieces: Vec<(usize, usize)> =
                bounds.windows(2).map(|w| (w[0], w[1])).collect();
            // A permutation from `order`.
            pieces.sort_by_key(|(a, _)| (*a as u64).wrapping_mul(order | 1).rotate_left(17) ^ order);
            let packets: Vec<Vec<u8>> = pieces
                .iter()
                .enumerate()
                .map(|(pn, (a, b))| {
                    let frame = crypto(*a as u64, &msg[*a..*b]);
                    seal(VERSION_1, &dcid, true, &dcid, &[], pn as u64, 4, &padded(frame, 60))
                })
                .collect();
            let datagrams: Vec<Vec<u8>> = packets.chunks(per_datagram).map(|c| c.concat()).collect();
            let mut state = QuicState::new();
            let whole = tls::parse_handshake(&msg);
            for (i, d) in datagrams.iter().enumerate() {
                let o = state.datagram(d, true);
                if i + 1 < datagrams.len() {
                    prop_assert_eq!(o, Outcome::Incomplete);
                } else {
                    prop_assert_eq!(&o, &whole);
                }
            }
        }

        /// Sealed Initials with arbitrary frames, either direction, either version: no
        /// panic, Found at most once a direction and nothing after a direction's Found or
        /// Malformed, anything but NotThis only once something opened.
        #[test]
        fn any_frames_in_sealed_initials(
            packets in prop::collection::vec(
                (any::<bool>(), any::<bool>(), prop::collection::vec(any::<u8>(), 0..300)),
                1..8,
            )
        ) {
            let dcid = h(DCID);
            let mut state = QuicState::new();
            let mut ended = [false, false];
            for (pn, (from_client, v2, frames)) in packets.into_iter().enumerate() {
                let version = if v2 { VERSION_2 } else { VERSION_1 };
                let d = seal(version, &dcid, from_client, &dcid, &[], pn as u64, 2, &frames);
                let o = state.datagram(&d, from_client);
                let side = usize::from(from_client);
                if ended[side] {
                    prop_assert_eq!(&o, &Outcome::NotThis);
                }
                if !matches!(o, Outcome::NotThis) {
                    prop_assert!(state.opened());
                }
                if matches!(o, Outcome::Found(_) | Outcome::Malformed(_)) {
                    ended[side] = true;
                }
            }
        }
    }
}
