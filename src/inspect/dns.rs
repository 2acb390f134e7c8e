//! DNS messages: the first question's name and type, the RCODE and the answer count.
//!
//! Two entry points: [`parse`] for one whole message (a UDP payload: DNS, multicast DNS
//! (RFC 6762) and LLMNR (RFC 4795) share the format) and [`parse_tcp`] for the start of a
//! TCP direction's stream, where each message follows a two-byte length (RFC 1035 section
//! 4.2.2, RFC 7766 section 8). Layout from RFC 1035 sections 4.1.1 (header), 4.1.2
//! (question), 4.1.3 (resource record) and 4.1.4 (compression); every value is read from
//! the message alone, never from a port.
//!
//! # Names
//! - Labels are at most 63 octets (a length byte 0x40..=0xbf is an extended or reserved
//!   label type, RFC 6891 section 5: Malformed) and a name at most 255 octets as it would
//!   be on the wire uncompressed (RFC 1035 section 2.3.4): longer is Malformed.
//! - Compression pointers must point backward: before the start of the run of labels
//!   that contains them (the name's own start, or the previous pointer's target), so each
//!   jump lands strictly earlier and a loop is impossible; at most [`MAX_POINTERS`] jumps a
//!   name, in any case. A forward pointer or one into itself is Malformed (RFC 1035 4.1.4
//!   speaks of a "prior occurrence"; no compressor writes anything else).
//! - The text is what tshark 4.0 shows as `dns.qry.name`: labels joined by dots (a dot
//!   inside a label is not escaped), the root as `<Root>`, and Wireshark's `format_text`
//!   for other bytes: printable ASCII as is (backslash included), other ASCII as a C escape
//!   (`\n`, `\t`, ..., else three octal digits, `\000`), bytes from 0x80 decoded as UTF-8
//!   the way that function decodes (permissively: overlong forms accepted, a bad sequence
//!   or a value past U+10FFFF or in the surrogates becomes U+FFFD), and code points that
//!   are not printable (controls, format characters, noncharacters, planes 4 to 13) as
//!   `\uXXXX` / `\UXXXXXXXX`. One known gap: glib also escapes code points unassigned in
//!   its Unicode tables (e.g. U+0378); without those tables they are kept as is here.
//!   The text is at most 4 x 253 = 1,012 bytes (253 octets of labels and dots, each
//!   byte at most a 4-character escape).
//!
//! # What is DNS (NotThis is strict)
//! The inspector tries [`parse`] on the first datagrams of every UDP flow, and `app` must
//! come from payload evidence only, so bytes of other protocols must come out NotThis.
//! The header must pass all of these (else NotThis):
//! - at least 12 bytes;
//! - opcode QUERY (0), NOTIFY (4) or UPDATE (5): IQUERY (1) is obsolete (RFC 3425),
//!   STATUS (2) was never defined, DSO (6, RFC 8490) carries no question and no records;
//! - the Z bit (0x0040) zero (RFC 1035 4.1.1; RFC 6762 18.7 and RFC 4795 2.1.1 too);
//! - a query (QR 0) has RCODE 0;
//! - the four counts fit: 12 + 5 x QDCOUNT + 11 x (ANCOUNT + NSCOUNT + ARCOUNT) bytes at
//!   least (the smallest question and record), and they are not all zero (a bare header
//!   is 12 bytes of anything with a few zero bits: an NTP client request reads as one).
//!
//! Then the message is walked whole: the first question (name as above, type, class), the
//! other questions, every record (name, type, class, TTL, RDLENGTH and RDATA). Question
//! classes must be IN, CH, HS, NONE or ANY (ignoring mDNS's top bit, the unicast-response
//! flag); so must the records' classes (the cache-flush bit aside) in a message without a
//! question, except an OPT record's (its class is the UDP payload size, RFC 6891). With a
//! question, records' classes are not checked: dnscrypt-proxy's certificate queries carry
//! an additional record of class 0, and tshark shows them without complaint.
//! A message with TC set may end inside its records (a truncated response), not in the
//! first question.
//! - Bytes after the last record: allowed when the message has a question (tshark shows
//!   such a message with a note, "Extraneous data"; real stacks pad with zeros, e.g. a
//!   query through Teredo in the shared captures), NotThis without one (an NTP client
//!   request with its first bytes read as counts would otherwise pass).
//! - A message whose first question or a later part fails: Malformed when the message had
//!   a question and the header is convincing (QDCOUNT exactly 1, as a unicast query and
//!   its response carry, RFC 9619), NotThis otherwise (no question: the records were the
//!   only evidence).
//! - NetBIOS name service (RFC 1002) uses this format: a first name whose first label is
//!   32 octets long (the first-level encoding writes 16 bytes as 32 letters `A`..=`P`; the
//!   letters are not checked, as fuzzed captures alter them) with type NB (32) or NBSTAT
//!   (33) is NotThis, whether it is a question's name or, without a question, the first
//!   record's. (In DNS, 32 is the obsolete NIMLOC and 33 is SRV, whose owner names begin
//!   with an `_service` label.)
//!
//! So a UDP message is Found only with a header that passes and every question and record
//! walked, and either a first question that parses whole with a known class, or (no
//! question) records with known classes that end at the last byte. Measured against the shared captures
//! (`tests/inspect_dns_tshark.rs`): every UDP and TCP payload on other ports than 53, 5353
//! and 5355 that `parse` or `parse_tcp` finds is a DNS message (DNSCrypt certificate
//! queries on 443, DNS on test ports).
//!
//! Left out: the records' contents (names inside RDATA are not checked), EDNS options,
//! and every question after the first (walked for structure only).

use super::reader::Reader;
use super::Outcome;

/// What one DNS message showed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// QR bit: a response.
    pub response: bool,
    /// The first question's name, as tshark's `dns.qry.name` shows it (see the module doc);
    /// `None` when the message has no question. For UPDATE (RFC 2136), the zone's name.
    pub qname: Option<String>,
    /// The first question's QTYPE (an UPDATE's zone type, SOA).
    pub qtype: Option<u16>,
    /// The header's RCODE (4 bits), as `dns.flags.rcode`.
    pub rcode: u8,
    /// ANCOUNT, as `dns.count.answers` (an UPDATE's prerequisite count,
    /// `dns.count.prerequisites`).
    pub answers: u16,
}

/// The longest name, in octets as on the wire without compression (RFC 1035 2.3.4).
pub const MAX_NAME_OCTETS: usize = 255;
/// The longest label (RFC 1035 2.3.4).
pub const MAX_LABEL: usize = 63;
/// Compression pointers followed in one name, at most.
pub const MAX_POINTERS: usize = 128;

/// Header length (RFC 1035 4.1.1).
const HEADER_LEN: usize = 12;
/// The smallest question (root name, type, class) and record (root name, type, class, TTL,
/// RDLENGTH).
const MIN_QUESTION: usize = 5;
const MIN_RECORD: usize = 11;
/// Header flags.
const FLAG_QR: u16 = 0x8000;
const FLAG_TC: u16 = 0x0200;
const FLAG_Z: u16 = 0x0040;
/// Opcodes accepted: QUERY, NOTIFY (RFC 1996), UPDATE (RFC 2136).
const OPCODES: [u16; 3] = [0, 4, 5];
/// Classes (without mDNS's top bit): IN, CH, HS, NONE, ANY.
const CLASSES: [u16; 5] = [1, 3, 4, 254, 255];
/// The OPT pseudo-record's type (RFC 6891).
const TYPE_OPT: u16 = 41;
/// NetBIOS name service types (RFC 1002 4.2.1.3): NB, NBSTAT.
const NETBIOS_TYPES: [u16; 2] = [32, 33];
/// The most labels a name can have (255 octets: 127 one-octet labels and the root).
const MAX_LABELS: usize = 127;

/// One whole DNS message (a UDP payload). Found with the header's values and the first
/// question's; NotThis when the bytes are not DNS (see the module doc); Malformed when a
/// convincing DNS message is broken.
pub fn parse(msg: &[u8]) -> Outcome<Message> {
    let Some(header) = Header::read(msg) else {
        return Outcome::NotThis;
    };
    if !header.plausible(msg.len()) {
        return Outcome::NotThis;
    }
    // A convincing header makes a broken message Malformed rather than NotThis.
    let convincing = header.qdcount == 1;
    let broken = |why| {
        if convincing {
            Outcome::Malformed(why)
        } else {
            Outcome::NotThis
        }
    };
    let mut r = Reader::new(msg);
    if r.skip(HEADER_LEN).is_none() {
        return Outcome::NotThis;
    }
    let mut question = None;
    if header.qdcount > 0 {
        let (name, qtype) = match first_question(msg, &mut r) {
            Ok(q) => q,
            Err(why) => return broken(why),
        };
        if is_netbios(&name, qtype) {
            return Outcome::NotThis;
        }
        question = Some((name.text(), qtype));
    }
    if let Err(why) = walk_rest(msg, &mut r, &header) {
        return broken(why);
    }
    let (qname, qtype) = match question {
        Some((name, qtype)) => (Some(name), Some(qtype)),
        None => (None, None),
    };
    Outcome::Found(Message {
        response: header.flags & FLAG_QR != 0,
        qname,
        qtype,
        rcode: (header.flags & 0x000f) as u8,
        answers: header.ancount,
    })
}

/// The start of a TCP direction's stream: a two-byte length, then the message (RFC 1035
/// 4.2.2). Incomplete while the first message is not whole and what has come is a valid
/// beginning (the header checks of [`parse`] are applied to each header byte as it comes);
/// then the message is [`parse`]d. Bytes after the first message are not read.
pub fn parse_tcp(stream: &[u8]) -> Outcome<Message> {
    let mut r = Reader::new(stream);
    let Some(length) = r.u16() else {
        return Outcome::Incomplete;
    };
    let length = usize::from(length);
    if length < HEADER_LEN {
        return Outcome::NotThis;
    }
    match r.bytes(length) {
        Some(msg) => parse(msg),
        None if prefix_plausible(r.rest(), length) => Outcome::Incomplete,
        None => Outcome::NotThis,
    }
}

/// Whether the first bytes of a message of `length` bytes can begin a DNS message: the
/// header checks of `Header::plausible`, each as soon as its bytes are there.
fn prefix_plausible(prefix: &[u8], length: usize) -> bool {
    let mut r = Reader::new(prefix);
    if r.skip(2).is_none() {
        return true; // the ID is anything
    }
    let Some(high) = r.u8() else {
        return true;
    };
    let opcode = u16::from(high >> 3) & 0xf;
    if !OPCODES.contains(&opcode) {
        return false;
    }
    let Some(low) = r.u8() else {
        return true;
    };
    let flags = u16::from_be_bytes([high, low]);
    if !flags_plausible(flags) {
        return false;
    }
    match Header::read(prefix) {
        Some(h) => h.plausible(length),
        None => true,
    }
}

/// The fixed header (RFC 1035 4.1.1).
struct Header {
    flags: u16,
    qdcount: u16,
    ancount: u16,
    nscount: u16,
    arcount: u16,
}

impl Header {
    fn read(msg: &[u8]) -> Option<Header> {
        let mut r = Reader::new(msg);
        r.skip(2)?; // ID
        Some(Header {
            flags: r.u16()?,
            qdcount: r.u16()?,
            ancount: r.u16()?,
            nscount: r.u16()?,
            arcount: r.u16()?,
        })
    }

    /// The header checks (module doc) for a message of `len` bytes.
    fn plausible(&self, len: usize) -> bool {
        let records =
            usize::from(self.ancount) + usize::from(self.nscount) + usize::from(self.arcount);
        let smallest = HEADER_LEN + MIN_QUESTION * usize::from(self.qdcount) + MIN_RECORD * records;
        flags_plausible(self.flags) && smallest <= len && (self.qdcount > 0 || records > 0)
    }
}

/// Opcode, Z bit, and a query's RCODE.
fn flags_plausible(flags: u16) -> bool {
    let opcode = (flags >> 11) & 0xf;
    let query = flags & FLAG_QR == 0;
    OPCODES.contains(&opcode) && flags & FLAG_Z == 0 && !(query && flags & 0xf != 0)
}

/// Whether a class is one of the defined ones, mDNS's top bit aside.
fn class_known(class: u16) -> bool {
    CLASSES.contains(&(class & 0x7fff))
}

/// A name read with its pointers followed: its labels, in order.
struct Name<'a> {
    labels: [&'a [u8]; MAX_LABELS],
    count: usize,
}

impl Name<'_> {
    fn labels(&self) -> impl Iterator<Item = &[u8]> {
        self.labels.iter().take(self.count).copied()
    }

    /// The name as tshark's `dns.qry.name` shows it.
    fn text(&self) -> String {
        if self.count == 0 {
            return "<Root>".to_string();
        }
        let octets: usize = self.labels().map(|l| l.len() + 1).sum();
        let mut out = String::with_capacity(octets);
        for (i, label) in self.labels().enumerate() {
            if i > 0 {
                out.push('.');
            }
            format_text(label, &mut out);
        }
        out
    }
}

/// The first question (RFC 1035 4.1.2): its name and type; its class checked.
fn first_question<'a>(msg: &'a [u8], r: &mut Reader<'a>) -> Result<(Name<'a>, u16), &'static str> {
    let name = read_name(msg, r)?;
    let qtype = r.u16().ok_or("question cut in its type")?;
    let class = r.u16().ok_or("question cut in its class")?;
    if !class_known(class) {
        return Err("question class unknown");
    }
    Ok((name, qtype))
}

/// A name at the reader (RFC 1035 3.1, 4.1.4), pointers followed backward only; the reader
/// ends after the name's first pointer or its root label.
fn read_name<'a>(msg: &'a [u8], r: &mut Reader<'a>) -> Result<Name<'a>, &'static str> {
    let mut name = Name {
        labels: [&[]; MAX_LABELS],
        count: 0,
    };
    // `at` reads the labels; `r` follows it until the first pointer.
    let mut at = *r;
    let mut followed = false;
    // Where the current run of labels began: a pointer must land before it.
    let mut run_start = r.position();
    let mut pointers = 0;
    // The name's octets as on the wire uncompressed: the labels with their length bytes,
    // and the final root label.
    let mut octets = 1;
    // Each turn reads one label (at most MAX_LABELS of them, by `octets`) or one pointer
    // (at most MAX_POINTERS).
    loop {
        let len = at.u8().ok_or("name cut")?;
        match len & 0xc0 {
            0x00 if len == 0 => break,
            0x00 => {
                let label = at.bytes(usize::from(len)).ok_or("name cut in a label")?;
                octets += 1 + label.len();
                if octets > MAX_NAME_OCTETS {
                    return Err("name longer than 255 octets");
                }
                let slot = name
                    .labels
                    .get_mut(name.count)
                    .ok_or("name longer than 255 octets")?;
                *slot = label;
                name.count += 1;
            }
            0xc0 => {
                let low = at.u8().ok_or("name cut in a pointer")?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                if target >= run_start {
                    return Err("compression pointer not backward");
                }
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err("too many compression pointers");
                }
                if !followed {
                    *r = at;
                    followed = true;
                }
                // Positions stay absolute: the new reader is over the whole message.
                at = offset_reader(msg, target).ok_or("compression pointer outside")?;
                run_start = target;
            }
            _ => return Err("label type 0x40 or 0x80 (label longer than 63)"),
        }
    }
    if !followed {
        *r = at;
    }
    Ok(name)
}

/// A reader over `msg` positioned at `at` (so that `position` stays absolute).
fn offset_reader(msg: &[u8], at: usize) -> Option<Reader<'_>> {
    let mut r = Reader::new(msg);
    r.skip(at)?;
    Some(r)
}

/// Passes over a name without following its pointers: labels checked, a pointer must point
/// before itself; the wire length of the uncompressed part bounded.
fn skip_name(r: &mut Reader<'_>) -> Result<(), Stop> {
    let mut octets = 1;
    // Each turn consumes a label (at most 127 of them, by `octets`) or ends.
    loop {
        let start = r.position();
        let len = r.u8().ok_or(Stop::Cut("name cut"))?;
        match len & 0xc0 {
            0x00 if len == 0 => return Ok(()),
            0x00 => {
                r.skip(usize::from(len))
                    .ok_or(Stop::Cut("name cut in a label"))?;
                octets += 1 + usize::from(len);
                if octets > MAX_NAME_OCTETS {
                    return Err(Stop::Bad("name longer than 255 octets"));
                }
            }
            0xc0 => {
                let low = r.u8().ok_or(Stop::Cut("name cut in a pointer"))?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                return if target < start {
                    Ok(())
                } else {
                    Err(Stop::Bad("compression pointer not backward"))
                };
            }
            _ => return Err(Stop::Bad("label type 0x40 or 0x80 (label longer than 63)")),
        }
    }
}

/// Why a walk stopped: the bytes ran out, or something else.
enum Stop {
    Cut(&'static str),
    Bad(&'static str),
}

/// Everything after the first question: the other questions and every record. A message
/// with TC set may stop early, between or inside records; bytes after the last record are
/// allowed only when the message had a question (module doc). Its records are still
/// checked as far as they go: a broken one is Malformed, truncated or not (so a
/// truncated message read further, with more bytes, may turn Malformed: the fuzz
/// target allows that; being lenient there let other protocols' payloads through, as
/// the tshark test showed on CAPWAP and FLUTE captures).
fn walk_rest(msg: &[u8], r: &mut Reader<'_>, h: &Header) -> Result<(), &'static str> {
    match walk_sections(msg, r, h) {
        Ok(()) if r.is_empty() || h.qdcount > 0 => Ok(()),
        Ok(()) => Err("bytes after the last record"),
        Err(Stop::Cut(_)) if h.flags & FLAG_TC != 0 => Ok(()),
        Err(Stop::Cut(why) | Stop::Bad(why)) => Err(why),
    }
}

fn walk_sections(msg: &[u8], r: &mut Reader<'_>, h: &Header) -> Result<(), Stop> {
    for _ in 1..h.qdcount {
        skip_name(r)?;
        r.skip(2).ok_or(Stop::Cut("question cut in its type"))?;
        let class = r.u16().ok_or(Stop::Cut("question cut in its class"))?;
        if !class_known(class) {
            return Err(Stop::Bad("question class unknown"));
        }
    }
    let records = u32::from(h.ancount) + u32::from(h.nscount) + u32::from(h.arcount);
    // Each turn reads at least 11 bytes or stops: bounded by the message.
    for i in 0..records {
        let name_at = r.position();
        skip_name(r)?;
        let rtype = r.u16().ok_or(Stop::Cut("record cut in its type"))?;
        let class = r.u16().ok_or(Stop::Cut("record cut in its class"))?;
        // Without a question the records are the only evidence: their classes count.
        if h.qdcount == 0 && rtype != TYPE_OPT && !class_known(class) {
            return Err(Stop::Bad("record class unknown"));
        }
        if h.qdcount == 0 && i == 0 && netbios_record(msg, name_at, rtype) {
            return Err(Stop::Bad("NetBIOS name service"));
        }
        r.skip(4).ok_or(Stop::Cut("record cut in its TTL"))?;
        r.vec16()
            .ok_or(Stop::Cut("record data overruns the message"))?;
    }
    Ok(())
}

/// NetBIOS name service's first-level encoded name (RFC 1002 4.1): a first label of 32
/// octets (16 bytes, each as two letters A..=P; any octets are accepted, as fuzzed
/// captures alter them), with type NB or NBSTAT.
fn is_netbios(name: &Name<'_>, rtype: u16) -> bool {
    NETBIOS_TYPES.contains(&rtype) && name.labels().next().is_some_and(netbios_label)
}

fn netbios_label(label: &[u8]) -> bool {
    label.len() == 32
}

/// `is_netbios` for the name of a record at `at` (its first label only).
fn netbios_record(msg: &[u8], at: usize, rtype: u16) -> bool {
    let Some(mut r) = offset_reader(msg, at) else {
        return false;
    };
    NETBIOS_TYPES.contains(&rtype) && r.vec8().is_some_and(netbios_label)
}

/// Appends label bytes as Wireshark 4.0's `format_text` shows them (module doc).
fn format_text(bytes: &[u8], out: &mut String) {
    let mut r = Reader::new(bytes);
    // Each turn consumes at least one byte.
    while let Some(c) = r.u8() {
        if (0x20..0x7f).contains(&c) {
            out.push(char::from(c));
            continue;
        }
        if c < 0x80 {
            push_ascii_escape(c, out);
            continue;
        }
        // The first byte of a multi-byte sequence, decoded as format_text does.
        let (more, mask) = match c {
            0xc0..=0xdf => (1, 0x1f),
            0xe0..=0xef => (2, 0x0f),
            0xf0..=0xf7 => (3, 0x07),
            0xf8..=0xfb => (4, 0x03),
            0xfc..=0xfd => (5, 0x01),
            _ => (0, 0),
        };
        let mut code = u32::from(c & mask);
        let mut valid = more > 0;
        for _ in 0..more {
            // A byte that is not a continuation is left for the next turn.
            match r.rest().first() {
                Some(&b) if b & 0xc0 == 0x80 => {
                    let _ = r.u8();
                    code = (code << 6) | u32::from(b & 0x3f);
                }
                _ => {
                    valid = false;
                    break;
                }
            }
        }
        let ch = if valid { char::from_u32(code) } else { None };
        match ch {
            None => out.push(char::REPLACEMENT_CHARACTER),
            Some(ch) if printable(ch) => out.push(ch),
            Some(ch) => push_unicode_escape(u32::from(ch), out),
        }
    }
}

/// A non-printable ASCII byte as a C escape: `\a` ... `\v`, else three octal digits.
fn push_ascii_escape(c: u8, out: &mut String) {
    out.push('\\');
    match c {
        0x07 => out.push('a'),
        0x08 => out.push('b'),
        0x0c => out.push('f'),
        0x0a => out.push('n'),
        0x0d => out.push('r'),
        0x09 => out.push('t'),
        0x0b => out.push('v'),
        _ => {
            for shift in [6, 3, 0] {
                out.push(char::from(b'0' + ((c >> shift) & 7)));
            }
        }
    }
}

/// `\uXXXX` or `\UXXXXXXXX`, upper-case hex digits.
fn push_unicode_escape(code: u32, out: &mut String) {
    let (prefix, digits) = if code <= 0xffff { ('u', 4) } else { ('U', 8) };
    out.push('\\');
    out.push(prefix);
    for i in (0..digits).rev() {
        let d = (code >> (4 * i)) & 0xf;
        out.push(char::from_digit(d, 16).unwrap_or('0').to_ascii_uppercase());
    }
}

/// glib's `g_unichar_isprint` for code points from 0x80, as far as it can be told without
/// Unicode's tables: not a control (Cc), not a format character (Cf, Unicode 15), not a
/// noncharacter, not in the unassigned planes 4 to 13 or plane 14's unassigned parts.
fn printable(ch: char) -> bool {
    const FORMAT: [(u32, u32); 20] = [
        (0x00ad, 0x00ad),
        (0x0600, 0x0605),
        (0x061c, 0x061c),
        (0x06dd, 0x06dd),
        (0x070f, 0x070f),
        (0x0890, 0x0891),
        (0x08e2, 0x08e2),
        (0x180e, 0x180e),
        (0x200b, 0x200f),
        (0x202a, 0x202e),
        (0x2060, 0x2064),
        (0x2066, 0x206f),
        (0xfeff, 0xfeff),
        (0xfff9, 0xfffb),
        (0x110bd, 0x110bd),
        (0x110cd, 0x110cd),
        (0x13430, 0x1343f),
        (0x1bca0, 0x1bca3),
        (0x1d173, 0x1d17a),
        (0xe0001, 0xe0001),
    ];
    let c = u32::from(ch);
    let control = c < 0x20 || (0x7f..0xa0).contains(&c);
    let format =
        FORMAT.iter().any(|(a, b)| (*a..=*b).contains(&c)) || (0xe0020..=0xe007f).contains(&c);
    let noncharacter = (0xfdd0..=0xfdef).contains(&c) || c & 0xfffe == 0xfffe;
    let unassigned_plane = (0x40000..0xe0000).contains(&c)
        || ((0xe0000..0xf0000).contains(&c) && !(0xe0100..=0xe01ef).contains(&c));
    !(control || format || noncharacter || unassigned_plane)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A query for www.example.com, type A, class IN (RFC 1035 4.1.1, 4.1.2).
    #[rustfmt::skip]
    const QUERY: &[u8] = &[
        0x12, 0x34,             // ID
        0x01, 0x00,             // QR 0, opcode 0, RD 1; RCODE 0
        0x00, 0x01,             // QDCOUNT 1
        0x00, 0x00,             // ANCOUNT 0
        0x00, 0x00,             // NSCOUNT 0
        0x00, 0x00,             // ARCOUNT 0
        // offset 12: QNAME
        3, b'w', b'w', b'w',
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', // offset 16: "example"
        3, b'c', b'o', b'm',
        0,
        0x00, 0x01,             // QTYPE A
        0x00, 0x01,             // QCLASS IN
    ];

    /// Its response with compression: a CNAME whose owner and target point back into
    /// the question, then an A record for the target.
    #[rustfmt::skip]
    const RESPONSE: &[u8] = &[
        0x12, 0x34,             // ID
        0x81, 0x80,             // QR 1, opcode 0, RD 1, RA 1; RCODE 0
        0x00, 0x01,             // QDCOUNT 1
        0x00, 0x02,             // ANCOUNT 2
        0x00, 0x00,             // NSCOUNT 0
        0x00, 0x01,             // ARCOUNT 1
        // offset 12: the question, as in QUERY
        3, b'w', b'w', b'w',
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e',
        3, b'c', b'o', b'm',
        0,
        0x00, 0x01, 0x00, 0x01,
        // offset 33: answer 1, owner -> offset 12 (www.example.com)
        0xc0, 0x0c,
        0x00, 0x05,             // CNAME
        0x00, 0x01,             // IN
        0x00, 0x00, 0x0e, 0x10, // TTL 3600
        0x00, 0x06,             // RDLENGTH 6
        // offset 45: cdn + pointer -> offset 16 (example.com)
        3, b'c', b'd', b'n', 0xc0, 0x10,
        // offset 51: answer 2, owner -> offset 45 (cdn.example.com)
        0xc0, 0x2d,
        0x00, 0x01,             // A
        0x00, 0x01,             // IN
        0x00, 0x00, 0x00, 0x3c, // TTL 60
        0x00, 0x04,             // RDLENGTH 4
        192, 0, 2, 1,
        // offset 67: additional, OPT (RFC 6891): root owner, class = UDP size 1232
        0x00,
        0x00, 0x29,             // OPT
        0x04, 0xd0,             // 1232
        0x00, 0x00, 0x00, 0x00, // extended RCODE, version, flags
        0x00, 0x00,             // RDLENGTH 0
    ];

    /// NXDOMAIN for nope.example with the zone's SOA in the authority section.
    #[rustfmt::skip]
    const NXDOMAIN: &[u8] = &[
        0xbe, 0xef,             // ID
        0x81, 0x83,             // QR 1, RD 1, RA 1; RCODE 3 (NXDOMAIN)
        0x00, 0x01,             // QDCOUNT 1
        0x00, 0x00,             // ANCOUNT 0
        0x00, 0x01,             // NSCOUNT 1
        0x00, 0x00,             // ARCOUNT 0
        // offset 12: nope.example
        4, b'n', b'o', b'p', b'e',
        7, b'e', b'x', b'a', b'm', b'p', b'l', b'e', // offset 17
        0,
        0x00, 0x1c,             // AAAA
        0x00, 0x01,             // IN
        // offset 30: authority, owner -> offset 17 (example)
        0xc0, 0x11,
        0x00, 0x06,             // SOA
        0x00, 0x01,             // IN
        0x00, 0x00, 0x03, 0x84, // TTL 900
        0x00, 0x1a,             // RDLENGTH 26
        0x02, b'n', b's', 0xc0, 0x11, // MNAME ns.example
        0x00,                   // RNAME root (short, still a name)
        0x00, 0x00, 0x00, 0x01, // serial
        0x00, 0x00, 0x0e, 0x10, // refresh
        0x00, 0x00, 0x02, 0x58, // retry
        0x00, 0x09, 0x3a, 0x80, // expire
        0x00, 0x00, 0x03, 0x84, // minimum
    ];

    /// An mDNS announcement (RFC 6762): a response without a question, one PTR record
    /// with the cache-flush bit clear, one A record with it set.
    #[rustfmt::skip]
    const MDNS_ANNOUNCEMENT: &[u8] = &[
        0x00, 0x00,             // ID 0
        0x84, 0x00,             // QR 1, AA 1
        0x00, 0x00,             // QDCOUNT 0
        0x00, 0x02,             // ANCOUNT 2
        0x00, 0x00, 0x00, 0x00,
        // offset 12: _http._tcp.local PTR printer._http._tcp.local
        5, b'_', b'h', b't', b't', b'p',
        4, b'_', b't', b'c', b'p',      // offset 18
        5, b'l', b'o', b'c', b'a', b'l', // offset 23
        0,
        0x00, 0x0c,             // PTR
        0x00, 0x01,             // IN
        0x00, 0x00, 0x11, 0x94, // TTL 4500
        0x00, 0x0a,             // RDLENGTH 10
        7, b'p', b'r', b'i', b'n', b't', b'e', b'r', 0xc0, 0x0c, // offset 40
        // offset 50: printer.local A, cache-flush
        0xc0, 0x28,             // -> offset 40 ("printer" + -> _http._tcp.local): fine
        0x00, 0x01,             // A
        0x80, 0x01,             // cache-flush | IN
        0x00, 0x00, 0x00, 0x78, // TTL 120
        0x00, 0x04,
        169, 254, 1, 2,
    ];

    fn found(o: Outcome<Message>) -> Message {
        match o {
            Outcome::Found(m) => m,
            other => panic!("expected Found, got {other:?}"),
        }
    }

    fn malformed(o: &Outcome<Message>) -> bool {
        matches!(o, Outcome::Malformed(_))
    }

    /// The message with a two-byte length in front (RFC 1035 4.2.2).
    fn tcp(msg: &[u8]) -> Vec<u8> {
        let mut v = (msg.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(msg);
        v
    }

    /// A header, then `rest`.
    fn message(flags: u16, counts: [u16; 4], rest: &[u8]) -> Vec<u8> {
        let mut v = vec![0xab, 0xcd];
        v.extend_from_slice(&flags.to_be_bytes());
        for c in counts {
            v.extend_from_slice(&c.to_be_bytes());
        }
        v.extend_from_slice(rest);
        v
    }

    /// A query of one question: `name` as on the wire, type A, class IN.
    fn query_for(name: &[u8]) -> Vec<u8> {
        let mut rest = name.to_vec();
        rest.extend_from_slice(&[0, 1, 0, 1]);
        message(0x0100, [1, 0, 0, 0], &rest)
    }

    fn wire(labels: &[&[u8]]) -> Vec<u8> {
        let mut v = Vec::new();
        for l in labels {
            v.push(l.len() as u8);
            v.extend_from_slice(l);
        }
        v.push(0);
        v
    }

    #[test]
    fn query() {
        let m = found(parse(QUERY));
        assert_eq!(
            m,
            Message {
                response: false,
                qname: Some("www.example.com".into()),
                qtype: Some(1),
                rcode: 0,
                answers: 0,
            }
        );
    }

    #[test]
    fn response_with_compression() {
        let m = found(parse(RESPONSE));
        assert!(m.response);
        assert_eq!(m.qname.as_deref(), Some("www.example.com"));
        assert_eq!((m.qtype, m.rcode, m.answers), (Some(1), 0, 2));
        // The compressed names, followed: the A record's owner is cdn.example.com.
        let mut r = offset_reader(RESPONSE, 51).unwrap();
        assert_eq!(
            read_name(RESPONSE, &mut r).unwrap().text(),
            "cdn.example.com"
        );
        assert_eq!(r.position(), 53, "the reader ends after the first pointer");
        let mut r = offset_reader(RESPONSE, 45).unwrap();
        assert_eq!(
            read_name(RESPONSE, &mut r).unwrap().text(),
            "cdn.example.com"
        );
        assert_eq!(r.position(), 51);
    }

    #[test]
    fn nxdomain() {
        let m = found(parse(NXDOMAIN));
        assert_eq!(m.qname.as_deref(), Some("nope.example"));
        assert_eq!(
            (m.response, m.qtype, m.rcode, m.answers),
            (true, Some(28), 3, 0)
        );
    }

    #[test]
    fn mdns_response_without_a_question() {
        let m = found(parse(MDNS_ANNOUNCEMENT));
        assert_eq!(
            (m.response, m.qname, m.qtype, m.answers),
            (true, None, None, 2)
        );
        let mut r = offset_reader(MDNS_ANNOUNCEMENT, 50).unwrap();
        assert_eq!(
            read_name(MDNS_ANNOUNCEMENT, &mut r).unwrap().text(),
            "printer._http._tcp.local"
        );
    }

    #[test]
    fn pointer_loops_cannot_be_followed() {
        // The question's name is a pointer to itself (offset 12).
        let own = query_for(&[0xc0, 0x0c]);
        assert_eq!(
            parse(&own),
            Outcome::Malformed("compression pointer not backward")
        );
        // A label, then a pointer back to that label: a loop through "abc".
        let through = query_for(&[3, b'a', b'b', b'c', 0xc0, 0x0c]);
        assert!(malformed(&parse(&through)));
        // Two names pointing at each other (offsets 20 and 30 of a longer message): the
        // second pointer goes forward from the first target's run, refused.
        let mut msg = vec![0u8; 40];
        msg.splice(20..22, [0xc0, 30]);
        msg.splice(30..32, [0xc0, 20]);
        let mut r = offset_reader(&msg, 30).unwrap();
        assert_eq!(
            read_name(&msg, &mut r).err(),
            Some("compression pointer not backward")
        );
        // A chain of backward pointers longer than MAX_POINTERS.
        let mut chain = vec![0u8; 2];
        for i in 0..200u16 {
            chain.extend_from_slice(&(0xc000 | (2 * i)).to_be_bytes());
        }
        let mut r = offset_reader(&chain, chain.len() - 2).unwrap();
        assert_eq!(
            read_name(&chain, &mut r).err(),
            Some("too many compression pointers")
        );
        // A legal chain: each pointer lands before the previous run.
        let mut r = offset_reader(&chain, 2 + 2 * 100).unwrap();
        assert_eq!(read_name(&chain, &mut r).unwrap().text(), "<Root>");
    }

    #[test]
    fn forward_pointer_is_malformed() {
        // Question name -> offset 0x12, where "fwd" would be (after the question).
        let mut msg = query_for(&[0xc0, 0x12]);
        msg.extend_from_slice(&wire(&[b"fwd"]));
        assert_eq!(
            parse(&msg),
            Outcome::Malformed("compression pointer not backward")
        );
        // A record's owner pointing forward (or at itself) breaks the walk too.
        let mut resp = RESPONSE.to_vec();
        resp.splice(33..35, [0xc0, 0x21]); // answer 1's owner -> itself (33)
        assert!(malformed(&parse(&resp)));
    }

    #[test]
    fn backward_pointer_into_the_header_is_followed() {
        // What tshark does too: the header's bytes read as labels. QDCOUNT's high byte
        // (offset 4) is 0: the root after "abc".
        let msg = query_for(&[3, b'a', b'b', b'c', 0xc0, 0x04]);
        assert_eq!(found(parse(&msg)).qname.as_deref(), Some("abc"));
    }

    #[test]
    fn cut_name_and_cut_question() {
        for cut in [&[3, b'w', b'w'][..], &[3, b'w', b'w', b'w'], &[0xc0]] {
            let msg = message(0x0100, [1, 0, 0, 0], cut);
            // The header's counts claim 5 bytes of question: a 2- or 3-byte cut fails the
            // counts check, so only longer cuts get to the name.
            let o = parse(&msg);
            assert!(o == Outcome::NotThis || malformed(&o), "{cut:?}: {o:?}");
        }
        let msg = message(0x0100, [1, 0, 0, 0], &[7, b'e', b'x', b'a', b'm']);
        assert_eq!(parse(&msg), Outcome::Malformed("name cut in a label"));
        let msg = message(0x0100, [1, 0, 0, 0], &[3, b'c', b'o', b'm', 0, 0]);
        assert_eq!(parse(&msg), Outcome::Malformed("question cut in its type"));
        let msg = message(0x0100, [1, 0, 0, 0], &[3, b'c', b'o', b'm', 0, 0, 1, 0]);
        assert_eq!(parse(&msg), Outcome::Malformed("question cut in its class"));
        // Every cut of the question (the header's counts aside) is never Found.
        for n in 12..QUERY.len() {
            let o = parse(QUERY.get(..n).unwrap());
            assert!(o == Outcome::NotThis || malformed(&o), "{n}: {o:?}");
        }
    }

    #[test]
    fn label_of_64_octets() {
        let mut name = vec![64u8];
        name.extend_from_slice(&[b'a'; 64]);
        name.push(0);
        assert_eq!(
            parse(&query_for(&name)),
            Outcome::Malformed("label type 0x40 or 0x80 (label longer than 63)")
        );
        // 63 is the longest label.
        let name = wire(&[&[b'a'; 63]]);
        assert_eq!(
            found(parse(&query_for(&name))).qname.unwrap(),
            "a".repeat(63)
        );
        // 0x80 (reserved) too.
        let msg = query_for(&[0x80, b'a', 0]);
        assert!(malformed(&parse(&msg)));
    }

    #[test]
    fn names_of_255_and_256_octets() {
        let (x, y, z) = ([b'x'; 63], [b'y'; 63], [b'z'; 63]);
        let n255 = wire(&[&x, &y, &z, &[b'w'; 61]]);
        assert_eq!(n255.len(), 255);
        let m = found(parse(&query_for(&n255)));
        assert_eq!(m.qname.unwrap().len(), 253);
        let n256 = wire(&[&x, &y, &z, &[b'w'; 62]]);
        assert_eq!(
            parse(&query_for(&n256)),
            Outcome::Malformed("name longer than 255 octets")
        );
        // The limit counts the name uncompressed: 204 octets here + 52 behind a pointer.
        let mut rest = wire(&[&[b'p'; 50]]); // offset 12..64: "ppp...", 52 octets
        rest.extend_from_slice(&[0, 1, 0, 1]);
        let mut msg = message(0x8180, [1, 1, 0, 0], &rest);
        let owner_at = msg.len();
        let mut owner = Vec::new();
        for l in [[b'q'; 50], [b'r'; 50], [b's'; 50], [b't'; 50]] {
            owner.push(50);
            owner.extend_from_slice(&l);
        }
        owner.extend_from_slice(&[0xc0, 12]);
        msg.extend_from_slice(&owner);
        let mut r = offset_reader(&msg, owner_at).unwrap();
        assert_eq!(
            read_name(&msg, &mut r).err(),
            Some("name longer than 255 octets")
        );
    }

    /// The texts tshark 4.0.17 shows as dns.qry.name for crafted names (checked with a
    /// capture of these queries: `tshark -T fields -e dns.qry.name`).
    #[test]
    fn names_are_shown_as_tshark_shows_them() {
        let cases: &[(&[&[u8]], &str)] = &[
            (&[], "<Root>"),
            (&[b"www", b"example", b"com"], "www.example.com"),
            (&[b"a b", b"c"], "a b.c"),
            (&[b"a.b", b"c"], "a.b.c"),
            (&[b"a\\b"], "a\\b"),
            (&[b"\"", b"'"], "\".'"),
            (
                &[b"\x00\x01\x07\x08\x09\x0a\x0b\x0c\x0d\x1f\x7f"],
                "\\000\\001\\a\\b\\t\\n\\v\\f\\r\\037\\177",
            ),
            (&[b"\x80"], "\u{fffd}"),
            (&[b"\xc3\xa9t\xc3\xa9"], "été"),
            (&[b"\xc2\x80\xc2\x9f"], "\\u0080\\u009F"),
            (&[b"\xe2\x80\x8b"], "\\u200B"),
            (&[b"\xef\xbb\xbf"], "\\uFEFF"),
            (&[b"\xc0\x80"], "\\u0000"),
            (&[b"\xed\xa0\x80"], "\u{fffd}"),
            (&[b"\xf5\x80\x80\x80"], "\u{fffd}"),
            (&[b"\xe2\x82A"], "\u{fffd}A"),
            (&[b"\xff\xfe"], "\u{fffd}\u{fffd}"),
            (&[b"\xf0\x9f\x92\xa9"], "\u{1f4a9}"),
            (&[b"\xc2\xad"], "\\u00AD"),
            (&[b"\xee\x80\x80"], "\u{e000}"),
            (&[b"\xef\xbf\xbe"], "\\uFFFE"),
            (&[b"\xf8\x88\x80\x80\x80"], "\u{fffd}"),
        ];
        for (labels, text) in cases {
            let m = found(parse(&query_for(&wire(labels))));
            assert_eq!(m.qname.as_deref(), Some(*text), "{labels:?}");
        }
        // Outside the BMP: \U and eight digits (plane 4 is unassigned).
        let mut s = String::new();
        format_text(b"\xf1\x80\x80\x80", &mut s);
        assert_eq!(s, "\\U00040000");
    }

    #[test]
    fn tcp_with_two_messages_and_with_a_cut_one() {
        let mut stream = tcp(QUERY);
        stream.extend_from_slice(&tcp(NXDOMAIN));
        // The first message only; what follows is not read.
        assert_eq!(parse_tcp(&stream), parse(QUERY));
        assert_eq!(
            found(parse_tcp(&stream)).qname.as_deref(),
            Some("www.example.com")
        );
        // Every prefix of the first message is a valid beginning.
        let first = tcp(RESPONSE);
        for n in 0..first.len() {
            assert_eq!(
                parse_tcp(first.get(..n).unwrap()),
                Outcome::Incomplete,
                "prefix of {n} bytes"
            );
        }
        assert!(found(parse_tcp(&first)).response);
        // A length below a header, and bytes that cannot begin a header.
        assert_eq!(parse_tcp(&[0, 11]), Outcome::NotThis);
        assert_eq!(
            parse_tcp(&[0, 40, 0x12, 0x34, 0x08]),
            Outcome::NotThis,
            "opcode 1"
        );
        assert_eq!(
            parse_tcp(&[0, 40, 0x12, 0x34, 0x01, 0x40]),
            Outcome::NotThis,
            "Z"
        );
        assert_eq!(
            parse_tcp(&[0, 40, 0x12, 0x34, 0x01, 0x01]),
            Outcome::NotThis,
            "query RCODE"
        );
        // Counts that cannot fit the announced length.
        assert_eq!(
            parse_tcp(&[0, 20, 1, 2, 1, 0, 0, 2, 0, 0, 0, 0, 0, 0]),
            Outcome::NotThis
        );
        // A broken message, once whole, is Malformed.
        let mut bad = RESPONSE.to_vec();
        *bad.get_mut(44).unwrap() = 0x60;
        assert_eq!(
            parse_tcp(&tcp(&bad)),
            Outcome::Malformed("record data overruns the message")
        );
    }

    #[test]
    fn a_truncated_response_may_stop_inside_its_records() {
        // TC set, the A record cut: still Found.
        let mut resp = RESPONSE.get(..60).unwrap().to_vec();
        assert!(malformed(&parse(&resp)), "TC clear");
        *resp.get_mut(2).unwrap() |= 0x02;
        let m = found(parse(&resp));
        assert_eq!(
            (m.qname.as_deref(), m.answers),
            (Some("www.example.com"), 2)
        );
        // Without a question: a record cut inside (its name's label of 27 octets runs
        // out) is Found with TC; a byte more changes nothing (proptest's find).
        let mut rest = vec![27u8];
        rest.extend_from_slice(&[0; 28]);
        let cut = message(0x8383, [0, 1, 0, 0], &rest);
        let m = found(parse(&cut));
        assert_eq!((m.qname, m.answers, m.rcode), (None, 1, 3));
        let mut longer = cut.clone();
        longer.push(0);
        assert_eq!(parse(&longer), parse(&cut));
        // From the inspect_dns fuzz target (2026-12-06): a truncated response whose
        // records, read further with one more byte, meet a forward pointer: Found as it
        // is, Malformed with the byte (strict on records; the target allows it).
        let crash: &[u8] = &[
            120, 40, 131, 128, 0, 1, 0, 8, 0, 0, 0, 0, 2, 101, 55, 8, 119, 104, 97, 116, 115, 97,
            112, 112, 3, 110, 101, 116, 0, 0, 1, 0, 1, 192, 12, 0, 1, 0, 1, 0, 0, 1, 235, 0, 1, 0,
            0, 0, 4, 137, 45, 219, 235, 192, 12, 0, 1, 0, 61, 1, 0, 0, 4, 169, 45, 248, 97, 116,
            115, 97, 112, 112, 3, 110, 101, 116, 0, 0, 1, 0, 1, 192, 12, 0, 1, 16, 91, 0, 0, 0, 0,
            0, 0, 0, 1, 235, 0, 35, 4, 169, 45, 219, 235, 192, 12, 0, 1, 0, 1, 0, 1, 0, 0, 1, 235,
            0, 4, 169, 45, 219, 232,
        ];
        let m = found(parse(crash));
        assert_eq!(
            (m.qname.as_deref(), m.answers),
            (Some("e7.whatsapp.net"), 8)
        );
        let mut longer = crash.to_vec();
        longer.push(0);
        assert!(malformed(&parse(&longer)));
        // The same target's second finding: a truncated NOTIFY without a question, cut in
        // its records, is Found; one byte more reads a record of no known class: NotThis.
        let crash: &[u8] = &[
            0xdd, 0xa2, 0x26, 0x80, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 3, 0x77, 0x77, 0x0a, 0, 0,
            0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x78, 0, 0x2a, 0x80, 0, 0, 0, 0, 0, 0, 0, 2, 2,
            0x65, 0, 0, 0, 0x29, 2, 2, 2, 0, 0x2a, 0xff, 0xff, 2, 0x3c, 0, 0, 0, 0, 0, 0, 0, 0x30,
            1, 0, 1, 0, 0, 1, 0, 0xc0, 0x93, 0,
        ];
        assert_eq!(found(parse(crash)).qname, None);
        let mut longer = crash.to_vec();
        longer.push(0);
        assert_eq!(parse(&longer), Outcome::NotThis);
        // Not inside the first question.
        let mut q = QUERY.get(..25).unwrap().to_vec();
        *q.get_mut(2).unwrap() |= 0x02;
        assert!(malformed(&parse(&q)));
    }

    #[test]
    fn lying_counts_and_trailing_bytes() {
        // ANCOUNT one more than there is: the walk runs out.
        let mut more = RESPONSE.to_vec();
        *more.get_mut(7).unwrap() = 3;
        assert!(malformed(&parse(&more)));
        // One fewer: the last record's bytes are left over, allowed with a question (as
        // zero padding after a query is).
        let mut fewer = RESPONSE.to_vec();
        *fewer.get_mut(11).unwrap() = 0;
        assert_eq!(parse(&fewer), parse(RESPONSE));
        let mut padded = QUERY.to_vec();
        padded.extend_from_slice(&[0; 40]);
        assert_eq!(parse(&padded), parse(QUERY));
        // RDLENGTH past the end.
        let mut rd = RESPONSE.to_vec();
        *rd.get_mut(44).unwrap() = 0x60;
        assert!(malformed(&parse(&rd)));
        // An unknown question class (7) or record class.
        let mut class = QUERY.to_vec();
        *class.last_mut().unwrap() = 7;
        assert_eq!(parse(&class), Outcome::Malformed("question class unknown"));
        // A record's class counts only without a question.
        let mut rclass = NXDOMAIN.to_vec();
        *rclass.get_mut(35).unwrap() = 9;
        assert_eq!(parse(&rclass), parse(NXDOMAIN));
        let mut mclass = MDNS_ANNOUNCEMENT.to_vec();
        *mclass.get_mut(29).unwrap() = 9;
        assert_eq!(parse(&mclass), Outcome::NotThis);
        // Without a question, a broken record is NotThis: no convincing evidence.
        let mut mdns = MDNS_ANNOUNCEMENT.to_vec();
        mdns.push(0);
        assert_eq!(parse(&mdns), Outcome::NotThis);
        // Two questions: a broken second question is NotThis too (QDCOUNT not 1).
        let mut two = QUERY.to_vec();
        *two.get_mut(5).unwrap() = 2;
        two.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 9]);
        assert_eq!(parse(&two), Outcome::NotThis);
        *two.last_mut().unwrap() = 1;
        assert_eq!(found(parse(&two)).qname.as_deref(), Some("www.example.com"));
    }

    #[test]
    fn opcodes_and_header_bits() {
        let with_flags = |flags: u16| {
            let mut m = QUERY.to_vec();
            m.splice(2..4, flags.to_be_bytes());
            parse(&m)
        };
        for (opcode, ok) in [
            (0, true),
            (1, false),
            (2, false),
            (3, false),
            (4, true),
            (5, true),
            (6, false),
            (15, false),
        ] {
            assert_eq!(
                matches!(with_flags(opcode << 11), Outcome::Found(_)),
                ok,
                "opcode {opcode}"
            );
        }
        assert_eq!(with_flags(0x0140), Outcome::NotThis, "Z bit");
        assert_eq!(with_flags(0x0103), Outcome::NotThis, "a query with RCODE 3");
        // AD and CD are not Z (RFC 4035 3.2).
        assert!(matches!(with_flags(0x0130), Outcome::Found(_)));
        // A response may carry any RCODE; the value is the header's 4 bits.
        assert_eq!(found(with_flags(0x8185)).rcode, 5);
        // All counts zero: a bare header is not evidence.
        assert_eq!(parse(&message(0x8180, [0; 4], &[])), Outcome::NotThis);
    }

    /// Payloads of other protocols that the inspector also tries: never Found.
    #[test]
    fn other_protocols_are_not_dns() {
        let mut ntp_client = vec![0x23, 0, 0, 0];
        ntp_client.extend_from_slice(&[0; 36]);
        ntp_client.extend_from_slice(&[0xe9, 0x0b, 0x5c, 0x1e, 0x8f, 0x12, 0x34, 0x56]);
        let mut ntp_server = vec![0x24, 0x02, 0x00, 0xe9, 0, 0, 0, 0x1c, 0, 0, 0, 0x2a];
        ntp_server.extend_from_slice(&[0x55; 36]);
        // SNMPv1 get-request, community "public".
        let snmp: &[u8] = &[
            0x30, 0x26, 0x02, 0x01, 0x00, 0x04, 0x06, b'p', b'u', b'b', b'l', b'i', b'c', 0xa0,
            0x19, 0x02, 0x01, 0x01, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00, 0x30, 0x0e, 0x30, 0x0c,
            0x06, 0x08, 0x2b, 0x06, 0x01, 0x02, 0x01, 0x01, 0x01, 0x00, 0x05, 0x00,
        ];
        // QUIC v1 Initial: long header, version 1, 8-byte DCID, then protected bytes.
        let mut quic = vec![
            0xc3, 0, 0, 0, 1, 8, 0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08,
        ];
        quic.extend_from_slice(&[0, 0x44, 0x9e]);
        quic.extend((0..1180u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
        // A TLS ClientHello record's start and an HTTP request (over TCP and over UDP).
        let tls: &[u8] = &[
            0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03, 9, 9, 9, 9, 9,
        ];
        let http = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
        let ssh = b"SSH-2.0-OpenSSH_9.6\r\n";
        // DHCP discover's fixed part.
        let mut dhcp = vec![1, 1, 6, 0, 0x3d, 0x1d, 0x55, 0x01, 0, 0, 0x80, 0];
        dhcp.extend_from_slice(&[0; 228]);
        dhcp.extend_from_slice(&[0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255]);
        // WireGuard handshake initiation (type 1, three zero bytes, sender index).
        let mut wireguard = vec![1, 0, 0, 0, 0x5e, 0x1d, 0x2a, 0x07];
        wireguard.extend_from_slice(&[0x42; 140]);
        // NetBIOS name service: a query for WORKGROUP<1d> (first-level encoding).
        let mut nbns = vec![0x80, 0x1a, 0x01, 0x10, 0, 1, 0, 0, 0, 0, 0, 0, 32];
        nbns.extend_from_slice(b"FHEPFCELEHFCEPFFFACACACACACACABN");
        nbns.extend_from_slice(&[0, 0, 0x20, 0, 1]);
        // Its positive response (no question, the name in the answer).
        let mut nbns_resp = vec![0x80, 0x1a, 0x85, 0x00, 0, 0, 0, 1, 0, 0, 0, 0, 32];
        nbns_resp.extend_from_slice(b"FHEPFCELEHFCEPFFFACACACACACACABN");
        nbns_resp.extend_from_slice(&[0, 0, 0x20, 0, 1, 0, 4, 0x93, 0xe0, 0, 6, 0, 0, 10, 0, 0, 7]);
        for (what, bytes) in [
            ("empty", &[][..]),
            ("11 bytes", &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0]),
            ("NTP client", &ntp_client),
            ("NTP server", &ntp_server),
            ("SNMP", snmp),
            ("QUIC", &quic),
            ("TLS", tls),
            ("HTTP", http),
            ("SSH", ssh),
            ("DHCP", &dhcp),
            ("WireGuard", &wireguard),
            ("NBNS query", &nbns),
            ("NBNS response", &nbns_resp),
        ] {
            assert!(
                !matches!(parse(bytes), Outcome::Found(_)),
                "{what}: {:?}",
                parse(bytes)
            );
            assert!(
                !matches!(parse_tcp(bytes), Outcome::Found(_)),
                "{what} as TCP: {:?}",
                parse_tcp(bytes)
            );
        }
        // A fuzzed NetBIOS name (s is outside the encoding's A..=P) is still NetBIOS.
        let mut fuzzed = nbns.clone();
        *fuzzed.get_mut(44).unwrap() = b's';
        assert_eq!(parse(&fuzzed), Outcome::NotThis);
        // The NetBIOS exclusion is narrow: the same name with type A is DNS.
        let mut not_nbns = nbns.clone();
        *not_nbns.get_mut(46).unwrap() = 1;
        assert!(matches!(parse(&not_nbns), Outcome::Found(_)));
    }

    #[test]
    fn random_bytes_are_not_dns() {
        // A deterministic xorshift: the same bytes every run.
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut buf = Vec::new();
        for i in 0..20_000usize {
            buf.clear();
            buf.extend((0..12 + i % 1400).map(|_| next() as u8));
            assert_eq!(parse(&buf), Outcome::NotThis, "random datagram {i}");
        }
    }

    proptest! {
        #[test]
        fn no_panic_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = parse(&bytes);
            let _ = parse_tcp(&bytes);
        }

        /// A plausible header over arbitrary bytes reaches the name and record walks.
        #[test]
        fn no_panic_after_a_plausible_header(
            flags in prop_oneof![Just(0x0100u16), Just(0x8180), Just(0x8400), Just(0x8383), Just(0x2800)],
            counts in proptest::array::uniform4(0u16..4),
            rest in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let msg = message(flags, counts, &rest);
            let o = parse(&msg);
            if let Outcome::Found(m) = &o {
                prop_assert!(m.qname.as_ref().is_none_or(|n| n.len() <= 1012));
                // Bytes after a Found message: the same message with a question or TC set
                // (a truncated message may end anywhere in its records), else not Found.
                let mut longer = msg.clone();
                longer.push(0);
                if m.qname.is_some() || flags & FLAG_TC != 0 {
                    prop_assert_eq!(parse(&longer), o.clone());
                } else {
                    prop_assert!(!matches!(parse(&longer), Outcome::Found(_)));
                }
            }
            prop_assert_eq!(parse_tcp(&tcp(&msg)), o);
        }
    }
}
