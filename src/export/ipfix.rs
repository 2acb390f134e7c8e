//! IPFIX (RFC 7011) message header, and the golden-byte tests of IPFIX messages.
//!
//! The sets and records are built by [`super::template::MessageBuilder`] with
//! [`super::template::Dialect::Ipfix`]; this module owns what only IPFIX has: the 16-octet
//! header whose sequence number counts *data records* (flow and options data) sent before
//! this message in the observation domain, modulo 2^32 (RFC 7011 section 3.1).
//!
//! Timestamps: IPFIX records carry absolute `flowStartMilliseconds`/`flowEndMilliseconds`
//! (IEs 152/153), so no time base is needed; the header's export time is the export
//! time in seconds.

/// IPFIX version number in the message header.
pub const VERSION: u16 = 10;
/// Length of the IPFIX message header.
pub const HEADER_LEN: usize = 16;

mod field {
    use core::ops::Range;
    pub(super) const VERSION: Range<usize> = 0..2;
    pub(super) const LENGTH: Range<usize> = 2..4;
    pub(super) const EXPORT_TIME: Range<usize> = 4..8;
    pub(super) const SEQUENCE: Range<usize> = 8..12;
    pub(super) const DOMAIN: Range<usize> = 12..16;
}

/// The IPFIX message header (RFC 7011 section 3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Total message length in octets, header included.
    pub length: u16,
    /// Seconds since the epoch at which the message leaves the exporter.
    pub export_time: u32,
    /// Data records sent before this message in this observation domain, mod 2^32.
    pub sequence: u32,
    /// Observation domain id.
    pub domain_id: u32,
}

impl Header {
    /// Writes the header into the first 16 octets of `out` (nothing if shorter).
    pub fn emit(&self, out: &mut [u8]) {
        let Some(out) = out.get_mut(..HEADER_LEN) else {
            return;
        };
        out[field::VERSION].copy_from_slice(&VERSION.to_be_bytes());
        out[field::LENGTH].copy_from_slice(&self.length.to_be_bytes());
        out[field::EXPORT_TIME].copy_from_slice(&self.export_time.to_be_bytes());
        out[field::SEQUENCE].copy_from_slice(&self.sequence.to_be_bytes());
        out[field::DOMAIN].copy_from_slice(&self.domain_id.to_be_bytes());
    }

    /// Reads a header; `None` if `bytes` is shorter than 16 octets or not version 10.
    pub fn parse(bytes: &[u8]) -> Option<Header> {
        let b = bytes.get(..HEADER_LEN)?;
        let u16_at = |r: core::ops::Range<usize>| u16::from_be_bytes([b[r.start], b[r.start + 1]]);
        let u32_at = |r: core::ops::Range<usize>| {
            u32::from_be_bytes([b[r.start], b[r.start + 1], b[r.start + 2], b[r.start + 3]])
        };
        if u16_at(field::VERSION) != VERSION {
            return None;
        }
        Some(Header {
            length: u16_at(field::LENGTH),
            export_time: u32_at(field::EXPORT_TIME),
            sequence: u32_at(field::SEQUENCE),
            domain_id: u32_at(field::DOMAIN),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::template::*;
    use super::*;
    use crate::flow::key::FlowKey;
    use crate::flow::record::{EndReason, FlowRecord};
    use crate::time::Timestamp;

    fn record() -> FlowRecord {
        let mut key = FlowKey {
            in_if: 3,
            src_port: 49152,
            dst_port: 443,
            vlan: 100,
            proto: 6,
            tos: 0x10,
            ..Default::default()
        };
        key.set_addrs(
            "192.0.2.1".parse().unwrap(),
            "198.51.100.2".parse().unwrap(),
        );
        FlowRecord {
            key,
            start: Timestamp::from_secs_nanos(1_700_000_000, 123_456_789),
            end: Timestamp::from_secs_nanos(1_700_000_005, 5_000_000),
            packets: 0x1_0000_0002,
            octets: 0x2_0000_0003,
            tcp_flags: 0x1b,
            min_ttl: 60,
            max_ttl: 64,
            src_mac: [0x02, 0, 0, 0, 0, 0x01],
            dst_mac: [0x02, 0, 0, 0, 0, 0x02],
            end_reason: EndReason::EndOfFlow,
            tunnel: Default::default(),
            direction: Default::default(),
            egress_if: 0,
            reverse: None,
        }
    }

    /// One template set with the IPv4 template, checked against RFC 7011 sections 3.1,
    /// 3.3.2 and 3.4.1 field by field.
    #[test]
    fn golden_template_set() {
        let mut b = MessageBuilder::new(Dialect::Ipfix, 1452);
        let len = IPFIX_IPV4.template_record_len();
        emit_template(Dialect::Ipfix, &IPFIX_IPV4, b.record(2, len).unwrap());
        let msg = b.finish();
        let total = msg.len() as u16;
        Header {
            length: total,
            export_time: 1_700_000_010,
            sequence: 7,
            domain_id: 42,
        }
        .emit(msg);
        #[rustfmt::skip]
        let expect: &[u8] = &[
            // Message header (RFC 7011 3.1)
            0x00, 0x0a,             // Version 10
            0x00, 0x60,             // Length 96 = 16 header + 4 set header + 4 + 18*4
            0x65, 0x53, 0xf1, 0x0a, // Export Time 1700000010
            0x00, 0x00, 0x00, 0x07, // Sequence Number 7
            0x00, 0x00, 0x00, 0x2a, // Observation Domain ID 42
            // Set header (3.3.2)
            0x00, 0x02,             // Set ID 2: Template Set
            0x00, 0x50,             // Length 80 = 4 + 4 + 18*4
            // Template record header (3.4.1)
            0x01, 0x00,             // Template ID 256
            0x00, 0x12,             // Field Count 18
            // Field specifiers: Information Element id, Field Length
            0x00, 0x08, 0x00, 0x04, // sourceIPv4Address, 4
            0x00, 0x0c, 0x00, 0x04, // destinationIPv4Address, 4
            0x00, 0x07, 0x00, 0x02, // sourceTransportPort, 2
            0x00, 0x0b, 0x00, 0x02, // destinationTransportPort, 2
            0x00, 0x04, 0x00, 0x01, // protocolIdentifier, 1
            0x00, 0x05, 0x00, 0x01, // ipClassOfService, 1
            0x00, 0x06, 0x00, 0x01, // tcpControlBits, 1 (reduced size)
            0x00, 0x01, 0x00, 0x08, // octetDeltaCount, 8
            0x00, 0x02, 0x00, 0x08, // packetDeltaCount, 8
            0x00, 0x0a, 0x00, 0x04, // ingressInterface, 4
            0x00, 0x3a, 0x00, 0x02, // vlanId, 2
            0x00, 0x38, 0x00, 0x06, // sourceMacAddress, 6
            0x00, 0x50, 0x00, 0x06, // destinationMacAddress, 6
            0x00, 0x34, 0x00, 0x01, // minimumTTL, 1
            0x00, 0x35, 0x00, 0x01, // maximumTTL, 1
            0x00, 0x88, 0x00, 0x01, // flowEndReason, 1
            0x00, 0x98, 0x00, 0x08, // flowStartMilliseconds, 8
            0x00, 0x99, 0x00, 0x08, // flowEndMilliseconds, 8
        ];
        assert_eq!(&msg[..], expect);
    }

    /// One data record of the IPv4 template (RFC 7011 3.3.2 data set, 3.4.3 record).
    #[test]
    fn golden_data_record() {
        let mut b = MessageBuilder::new(Dialect::Ipfix, 1452);
        let rec = record();
        emit_flow_record(
            IPFIX_IPV4.fields,
            &rec,
            0,
            b.record(256, IPFIX_IPV4.record_len()).unwrap(),
        );
        let msg = b.finish();
        let total = msg.len() as u16;
        Header {
            length: total,
            export_time: 1_700_000_010,
            sequence: 7,
            domain_id: 42,
        }
        .emit(msg);
        #[rustfmt::skip]
        let expect: &[u8] = &[
            0x00, 0x0a, 0x00, 0x58, // Version 10, Length 88 = 16 + 4 + 68
            0x65, 0x53, 0xf1, 0x0a, // Export Time
            0x00, 0x00, 0x00, 0x07, // Sequence Number
            0x00, 0x00, 0x00, 0x2a, // Observation Domain ID
            0x01, 0x00, 0x00, 0x48, // Set ID 256 (data set of template 256), Length 72
            192, 0, 2, 1,           // sourceIPv4Address 192.0.2.1
            198, 51, 100, 2,        // destinationIPv4Address 198.51.100.2
            0xc0, 0x00,             // sourceTransportPort 49152
            0x01, 0xbb,             // destinationTransportPort 443
            0x06,                   // protocolIdentifier TCP
            0x10,                   // ipClassOfService
            0x1b,                   // tcpControlBits FIN SYN PSH ACK
            0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, // octetDeltaCount 2^33 + 3
            0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, // packetDeltaCount 2^32 + 2
            0x00, 0x00, 0x00, 0x03, // ingressInterface 3
            0x00, 0x64,             // vlanId 100
            0x02, 0, 0, 0, 0, 0x01, // sourceMacAddress
            0x02, 0, 0, 0, 0, 0x02, // destinationMacAddress
            60,                     // minimumTTL
            64,                     // maximumTTL
            0x03,                   // flowEndReason 3: end of Flow detected
            0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x68, 0x7b, // flowStartMilliseconds 1700000000123
            0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x7b, 0x8d, // flowEndMilliseconds 1700000005005
        ];
        assert_eq!(&msg[..], expect);
        assert_eq!(
            Header::parse(msg),
            Some(Header {
                length: 88,
                export_time: 1_700_000_010,
                sequence: 7,
                domain_id: 42
            })
        );
    }

    /// A biflow template and data record, checked against RFC 5103 section 6.1 (reverse
    /// elements: the forward element's id with the enterprise bit set, followed by PEN
    /// 29305) and RFC 7011 section 3.2 (enterprise field specifiers), byte by byte.
    #[test]
    fn golden_biflow_template_and_record() {
        use crate::flow::record::ReverseCounters;
        let shape = Shape {
            biflow: true,
            ..Shape::from_index(0)
        };
        let t = shape_template(Dialect::Ipfix, shape);
        // Shape index 0 + 16 * 7 (biflow) = 112: id 262 + 112 - 4 = 370.
        assert_eq!(t.id, 370);
        assert_eq!(&t.fields[..IPFIX_IPV4.fields.len()], IPFIX_IPV4.fields);
        let mut out = vec![0u8; t.template_record_len()];
        emit_template(Dialect::Ipfix, &t, &mut out);
        // 4 header + 26 specifiers * 4 + 7 PENs * 4.
        assert_eq!(out.len(), 4 + 26 * 4 + 7 * 4);
        #[rustfmt::skip]
        let head: &[u8] = &[
            0x01, 0x72,             // Template ID 370
            0x00, 0x1a,             // Field Count 26 (18 plain + 8 biflow)
        ];
        assert_eq!(&out[..4], head);
        #[rustfmt::skip]
        let biflow_part: &[u8] = &[
            0x00, 0xef, 0x00, 0x01,             // biflowDirection (239), 1 octet, IANA
            0x80, 0x01, 0x00, 0x08, 0x00, 0x00, 0x72, 0x79, // E=1 reverseOctetDeltaCount (1), 8, PEN 29305
            0x80, 0x02, 0x00, 0x08, 0x00, 0x00, 0x72, 0x79, // E=1 reversePacketDeltaCount (2), 8, PEN 29305
            0x80, 0x06, 0x00, 0x01, 0x00, 0x00, 0x72, 0x79, // E=1 reverseTcpControlBits (6), 1, PEN 29305
            0x80, 0x34, 0x00, 0x01, 0x00, 0x00, 0x72, 0x79, // E=1 reverseMinimumTTL (52), 1, PEN 29305
            0x80, 0x35, 0x00, 0x01, 0x00, 0x00, 0x72, 0x79, // E=1 reverseMaximumTTL (53), 1, PEN 29305
            0x80, 0x98, 0x00, 0x08, 0x00, 0x00, 0x72, 0x79, // E=1 reverseFlowStartMilliseconds (152), 8
            0x80, 0x99, 0x00, 0x08, 0x00, 0x00, 0x72, 0x79, // E=1 reverseFlowEndMilliseconds (153), 8
        ];
        assert_eq!(&out[4 + 18 * 4..], biflow_part);

        // The data record: the plain IPv4 record, then the biflow values.
        let mut rec = record();
        rec.reverse = Some(ReverseCounters {
            start: Timestamp::from_secs_nanos(1_700_000_001, 0),
            end: Timestamp::from_secs_nanos(1_700_000_004, 999_999_999),
            packets: 7,
            octets: 0x1_0000_0001,
            tcp_flags: 0x12,
            min_ttl: 50,
            max_ttl: 51,
            tunnel: Default::default(),
        });
        let mut data = vec![0u8; t.record_len()];
        emit_flow_record(t.fields, &rec, 0, &mut data);
        let mut plain = vec![0u8; IPFIX_IPV4.record_len()];
        emit_flow_record(IPFIX_IPV4.fields, &rec, 0, &mut plain);
        assert_eq!(&data[..68], &plain[..]);
        #[rustfmt::skip]
        let expect: &[u8] = &[
            0x01,                   // biflowDirection 1: initiator (SYN seen)
            0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, // reverseOctetDeltaCount 2^32 + 1
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x07, // reversePacketDeltaCount 7
            0x12,                   // reverseTcpControlBits SYN ACK
            50,                     // reverseMinimumTTL
            51,                     // reverseMaximumTTL
            0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x6b, 0xe8, // reverseFlowStartMilliseconds 1700000001000
            0x00, 0x00, 0x01, 0x8b, 0xcf, 0xe5, 0x7b, 0x87, // reverseFlowEndMilliseconds 1700000004999
        ];
        assert_eq!(&data[68..], expect);
        // With no reverse packet, every reverse value is 0 (no made-up time).
        rec.reverse = Some(ReverseCounters::default());
        emit_flow_record(t.fields, &rec, 0, &mut data);
        assert!(data[69..].iter().all(|&b| b == 0));
    }

    /// Tunnel elements: flowprobe's PEN 32473 specifiers and the IANA greKey.
    #[test]
    fn golden_gre_tunnel_elements() {
        use crate::flow::tunnel::{Tunnel, TunnelKind};
        let mut rec = record();
        rec.tunnel = Tunnel {
            kind: TunnelKind::Gre,
            id: 0x0102_0304,
            outer_ip_version: 4,
            outer_src: [203, 0, 113, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            outer_dst: [203, 0, 113, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        };
        let shape = Shape::of(&rec, Dialect::Ipfix, false).unwrap();
        let t = shape_template(Dialect::Ipfix, shape);
        let mut out = vec![0u8; t.template_record_len()];
        emit_template(Dialect::Ipfix, &t, &mut out);
        #[rustfmt::skip]
        let tail: &[u8] = &[
            0x80, 0x01, 0x00, 0x01, 0x00, 0x00, 0x7e, 0xd9, // E=1 tunnelType (1), 1, PEN 32473
            0x80, 0x02, 0x00, 0x04, 0x00, 0x00, 0x7e, 0xd9, // E=1 tunnelId (2), 4, PEN 32473
            0x80, 0x03, 0x00, 0x04, 0x00, 0x00, 0x7e, 0xd9, // E=1 tunnelSourceIPv4Address (3)
            0x80, 0x04, 0x00, 0x04, 0x00, 0x00, 0x7e, 0xd9, // E=1 tunnelDestinationIPv4Address (4)
            0x01, 0x28, 0x00, 0x04,                         // greKey (296), 4, IANA
        ];
        assert_eq!(&out[4 + 18 * 4..], tail);
        let mut data = vec![0u8; t.record_len()];
        emit_flow_record(t.fields, &rec, 0, &mut data);
        #[rustfmt::skip]
        let values: &[u8] = &[
            0x03,                   // tunnelType 3: GRE
            0x01, 0x02, 0x03, 0x04, // tunnelId
            203, 0, 113, 1,         // outer source
            203, 0, 113, 2,         // outer destination
            0x01, 0x02, 0x03, 0x04, // greKey
        ];
        assert_eq!(&data[68..], values);
        // v9 keeps only the IANA element.
        let v9 = shape_template(
            Dialect::NetflowV9,
            Shape::of(&rec, Dialect::NetflowV9, true).unwrap(),
        );
        assert_eq!(v9.fields.len(), V9_IPV4.fields.len() + 1);
        assert_eq!(
            v9.fields.last().map(|f| f.ie),
            Some(crate::export::ie::Ie::GreKey)
        );
    }

    /// An inspected template (variable-length and fixed enterprise elements, an IANA
    /// string element) and its data record, with a short string and a 300-octet one,
    /// checked byte by byte against RFC 7011 section 3.2 (enterprise field specifiers,
    /// 65535 = variable length) and section 7 (a length below 255 in 1 octet, else 255
    /// and the length in 2 octets).
    #[test]
    fn golden_inspected_template_and_record() {
        use crate::inspect::{App, Seen};
        // app (bit 0), tls_sni (1), tls_version (3), dns_rcode (9), http_host (11).
        let presence = 1 | 1 << 1 | 1 << 3 | 1 << 9 | 1 << 11;
        let t = InspectedTemplate::new(483, 0, presence);
        let tt = t.template();
        let mut out = vec![0u8; tt.template_record_len()];
        emit_template(Dialect::Ipfix, &tt, &mut out);
        let mut plain = vec![0u8; IPFIX_IPV4.template_record_len()];
        emit_template(Dialect::Ipfix, &IPFIX_IPV4, &mut plain);
        #[rustfmt::skip]
        let head: &[u8] = &[
            0x01, 0xe3,             // Template ID 483
            0x00, 0x17,             // Field Count 23 (18 plain + 5 inspected)
        ];
        assert_eq!(&out[..4], head);
        // The IPv4 shape's specifiers, as in `golden_template_set`.
        assert_eq!(&out[4..4 + 18 * 4], &plain[4..]);
        #[rustfmt::skip]
        let inspected: &[u8] = &[
            0x80, 0x07, 0xff, 0xff, 0x00, 0x00, 0x7e, 0xd9, // E=1 payloadApplication (7), variable, PEN 32473
            0x80, 0x08, 0xff, 0xff, 0x00, 0x00, 0x7e, 0xd9, // E=1 tlsServerName (8), variable, PEN 32473
            0x80, 0x0a, 0x00, 0x02, 0x00, 0x00, 0x7e, 0xd9, // E=1 tlsVersion (10), 2, PEN 32473
            0x80, 0x10, 0x00, 0x01, 0x00, 0x00, 0x7e, 0xd9, // E=1 dnsResponseCode (16), 1, PEN 32473
            0x01, 0xcc, 0xff, 0xff,                         // httpRequestHost (460), variable, IANA
        ];
        assert_eq!(&out[4 + 18 * 4..], inspected);

        let seen = Seen {
            app: Some(App::Tls),
            tls_sni: Some("a".repeat(300)),
            tls_version: Some(0x0304),
            dns_rcode: Some(3),
            http_host: Some("example.org".into()),
            ..Seen::default()
        };
        let values = InspectedValues::of(&seen, None);
        assert_eq!(values.presence(), presence);
        let n = values.encoded_len(presence, usize::MAX);
        assert_eq!(n, 4 + 303 + 2 + 1 + 12);
        let mut data = vec![0u8; n];
        values.emit(presence, usize::MAX, &mut data);
        let mut expect: Vec<u8> = vec![
            0x03, b't', b'l', b's', // payloadApplication: length 3, "tls"
            0xff, 0x01, 0x2c, // tlsServerName: 255, then length 300 in 2 octets
        ];
        expect.extend([b'a'; 300]);
        #[rustfmt::skip]
        expect.extend([
            0x03, 0x04,             // tlsVersion 0x0304 (TLS 1.3)
            0x03,                   // dnsResponseCode 3 (NXDomain)
            0x0b,                   // httpRequestHost: length 11
            b'e', b'x', b'a', b'm', b'p', b'l', b'e', b'.', b'o', b'r', b'g',
        ]);
        assert_eq!(data, expect);
        // A 254-octet string still has a 1-octet length, a 255-octet one the long form.
        for (len, prefix) in [(254usize, vec![0xfe]), (255, vec![0xff, 0x00, 0xff])] {
            let seen = Seen {
                tls_sni: Some("b".repeat(len)),
                ..Seen::default()
            };
            let v = InspectedValues::of(&seen, None);
            let mut out = vec![0u8; v.encoded_len(1 << 1, usize::MAX)];
            v.emit(1 << 1, usize::MAX, &mut out);
            assert_eq!(&out[..prefix.len()], &prefix[..], "{len}");
            assert_eq!(out.len(), prefix.len() + len);
        }
    }

    /// The RFC 5610 Information Element Type Options Template and two type records in a
    /// message, checked against RFC 5610 sections 3.1, 3.2 and 3.9 (the data type and
    /// semantics numbers of the IANA registries) and RFC 7011 3.4.2.2, byte by byte.
    #[test]
    fn golden_rfc5610_type_records() {
        use crate::export::ie::Ie;
        let mut b = MessageBuilder::new(Dialect::Ipfix, 1452);
        let len = IPFIX_IE_TYPES.template_record_len();
        emit_template(Dialect::Ipfix, &IPFIX_IE_TYPES, b.record(3, len).unwrap());
        b.close_set();
        for ie in [Ie::TlsServerName, Ie::DnsAnswerCount] {
            emit_type_record(ie, b.record(482, type_record_len(ie)).unwrap());
        }
        let msg = b.finish();
        let total = msg.len() as u16;
        Header {
            length: total,
            export_time: 1_700_000_010,
            sequence: 7,
            domain_id: 42,
        }
        .emit(msg);
        #[rustfmt::skip]
        let expect: &[u8] = &[
            0x00, 0x0a, 0x00, 0x5f, // Version 10, Length 95 = 16 + 30 + 49
            0x65, 0x53, 0xf1, 0x0a, // Export Time
            0x00, 0x00, 0x00, 0x07, // Sequence Number
            0x00, 0x00, 0x00, 0x2a, // Observation Domain ID
            // Options Template Set (RFC 7011 3.4.2.2)
            0x00, 0x03, 0x00, 0x1e, // Set ID 3, Length 30 = 4 + 6 + 5 * 4
            0x01, 0xe2,             // Template ID 482
            0x00, 0x05,             // Field Count 5
            0x00, 0x02,             // Scope Field Count 2
            0x01, 0x5a, 0x00, 0x04, // privateEnterpriseNumber (346), 4 (scope)
            0x01, 0x2f, 0x00, 0x02, // informationElementId (303), 2 (scope)
            0x01, 0x53, 0x00, 0x01, // informationElementDataType (339), 1
            0x01, 0x58, 0x00, 0x01, // informationElementSemantics (344), 1
            0x01, 0x55, 0xff, 0xff, // informationElementName (341), variable length
            // Data Set of template 482
            0x01, 0xe2, 0x00, 0x31, // Set ID 482, Length 49 = 4 + 22 + 23
            0x00, 0x00, 0x7e, 0xd9, // privateEnterpriseNumber 32473
            0x00, 0x08,             // informationElementId 8
            0x0d,                   // informationElementDataType 13: string
            0x00,                   // informationElementSemantics 0: default
            0x0d,                   // informationElementName: length 13
            b't', b'l', b's', b'S', b'e', b'r', b'v', b'e', b'r', b'N', b'a', b'm', b'e',
            0x00, 0x00, 0x7e, 0xd9, // privateEnterpriseNumber 32473
            0x00, 0x11,             // informationElementId 17
            0x02,                   // informationElementDataType 2: unsigned16
            0x01,                   // informationElementSemantics 1: quantity
            0x0e,                   // informationElementName: length 14
            b'd', b'n', b's', b'A', b'n', b's', b'w', b'e', b'r', b'C', b'o', b'u', b'n', b't',
        ];
        assert_eq!(&msg[..], expect);
    }

    #[test]
    fn options_template_record_layout() {
        let mut out = vec![0u8; IPFIX_STATS.template_record_len()];
        emit_template(Dialect::Ipfix, &IPFIX_STATS, &mut out);
        // Template ID 261, Field Count 6, Scope Field Count 1 (RFC 7011 3.4.2.2),
        // then observationDomainId (149), 4 as the scope.
        assert_eq!(
            &out[..10],
            &[0x01, 0x05, 0x00, 0x06, 0x00, 0x01, 0x00, 0x95, 0x00, 0x04]
        );
    }
}
