//! The IANA numbers the exporters put on the wire, in one table.
//!
//! Each Information Element (IPFIX, RFC 7012 and the IANA "IPFIX Information Elements"
//! registry) carries its registry name, its element id, the NetFlow v9 field type name
//! (RFC 3954 section 8; v9 field types 1..=127 share the IPFIX numbers), and the length
//! flowprobe encodes it with. Numbers we do not use decode to `Unknown(id)`, so a table
//! lookup never fails and never panics.
//!
//! Also here: the IANA value registries for `selectorAlgorithm` (IE 304, "IPFIX Packet
//! Selection Techniques" / PSAMP, RFC 5477) and the v9 `SAMPLING_ALGORITHM` (field 35) and
//! v9 scope field types (RFC 3954 section 6.2), which live in their own number spaces.
//!
//! # Enterprise elements (IPFIX only)
//! - RFC 5103 reverse elements: the IANA element's id under PEN 29305 ([`PEN_REVERSE`]),
//!   for the reverse direction of a biflow.
//! - flowprobe's tunnel elements under PEN 32473 ([`PEN_FLOWPROBE`]): tunnelType,
//!   tunnelId, tunnelSource/DestinationIPv4/IPv6Address, for what IANA has no element
//!   for (IANA has `greKey` and `layer2SegmentId`, used too). 32473 is the documentation
//!   PEN of RFC 5612: a registered PEN must replace it before these elements are relied
//!   on outside a lab.
//! - flowprobe's payload inspection elements (`--inspect`) under the same PEN, ids 7 on,
//!   for what IANA has no element for: IANA has the HTTP ones (httpRequestMethod 459,
//!   httpRequestHost 460, httpRequestTarget 461, httpUserAgent 468, httpStatusCode 457,
//!   used), none for TLS, DNS, SSH or Community ID (registry checked up to id 529).
//!   Strings are variable-length ([`VARLEN`], RFC 7011 section 7).
//! - flowprobe's TCP health and timing shape elements (`--inspect tcp,splt`), ids 22..=39
//!   under the same PEN, where IANA has none (IANA's tcpOptions 209, tcpWindowScale 238
//!   and transportOctetDeltaCount 401 are used); the `splt` sequences are RFC 6313
//!   basicLists. Their reverse (biflow) elements: RFC 5103 reverse PEN for the IANA
//!   ones, the id with bit 0x4000 ([`REVERSE_ENTERPRISE_BIT`], RFC 5103 section 6.2)
//!   under 32473 for flowprobe's. Each enterprise
//!   element has RFC 5610 type information ([`Ie::type_info`]), which the IPFIX sink
//!   announces when inspection is on, so a collector can decode it by name.
//!
//! NetFlow v9 has no enterprise bit and no variable-length fields, so v9 templates never
//! carry enterprise or inspected elements.

macro_rules! information_elements {
    (
        iana { $( $(#[$doc:meta])* $variant:ident = $id:literal, $name:literal, $v9:literal, $len:expr; )* }
        enterprise { $( $(#[$edoc:meta])* $evariant:ident = $epen:ident : $eid:literal, $ename:literal, $elen:expr, $etype:ident / $esem:ident; )* }
    ) => {
        /// An Information Element (IPFIX) / field type (NetFlow v9) that flowprobe uses:
        /// IANA elements, then enterprise-specific ones (IPFIX only), which carry a
        /// Private Enterprise Number ([`Ie::pen`]).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Ie {
            $( $(#[$doc])* $variant, )*
            $( $(#[$edoc])* $evariant, )*
            /// Any other (IANA) element id, kept as its number.
            Unknown(u16),
        }

        impl Ie {
            /// Every named element, in table order (IANA first, then enterprise).
            pub const ALL: &'static [Ie] = &[$(Ie::$variant,)* $(Ie::$evariant,)*];

            /// The element id (IPFIX, without the enterprise bit) / field type (v9).
            pub const fn id(self) -> u16 {
                match self {
                    $( Ie::$variant => $id, )*
                    $( Ie::$evariant => $eid, )*
                    Ie::Unknown(id) => id,
                }
            }

            /// The Private Enterprise Number of an enterprise-specific element, 0 for IANA
            /// elements (RFC 7011 section 3.2: sent with the enterprise bit set).
            pub const fn pen(self) -> u32 {
                match self {
                    $( Ie::$evariant => $epen, )*
                    _ => 0,
                }
            }

            /// The IANA element for an id; `Unknown(id)` when flowprobe does not use it.
            /// (Enterprise elements are never returned: their ids are in another space.)
            pub const fn from_id(id: u16) -> Ie {
                match id {
                    $( $id => Ie::$variant, )*
                    other => Ie::Unknown(other),
                }
            }

            /// The registry name ("" for `Unknown`).
            pub const fn name(self) -> &'static str {
                match self {
                    $( Ie::$variant => $name, )*
                    $( Ie::$evariant => $ename, )*
                    Ie::Unknown(_) => "",
                }
            }

            /// The NetFlow v9 field type name from RFC 3954 / Cisco's list ("" when v9 has
            /// none; always "" for enterprise elements, which v9 cannot carry).
            pub const fn v9_name(self) -> &'static str {
                match self {
                    $( Ie::$variant => $v9, )*
                    _ => "",
                }
            }

            /// The length in octets flowprobe encodes this element with (0 for `Unknown`);
            /// [`VARLEN`] for a variable-length element (RFC 7011 section 7).
            pub const fn length(self) -> u16 {
                match self {
                    $( Ie::$variant => $len, )*
                    $( Ie::$evariant => $elen, )*
                    Ie::Unknown(_) => 0,
                }
            }

            /// RFC 5610 type information of an enterprise element: its abstract data type
            /// and data type semantics (the IANA "IPFIX Information Element Data Types" and
            /// "IPFIX Information Element Semantics" values); `None` for IANA elements,
            /// whose types every collector has from the registry.
            pub const fn type_info(self) -> Option<(u8, u8)> {
                match self {
                    $( Ie::$evariant => Some((data_type::$etype, semantics::$esem)), )*
                    _ => None,
                }
            }
        }
    };
}

/// RFC 5103 "Reverse Information Element Private Enterprise Number": 29305. A reverse
/// element is the IANA element's id under this PEN, with the enterprise bit set.
pub const PEN_REVERSE: u32 = 29305;

/// The Private Enterprise Number of flowprobe's own elements (tunnel type, id and outer
/// addresses): 32473, the IANA number reserved for documentation (RFC 5612). No collector
/// knows it; it keeps the elements well-formed and out of anyone's registered space until
/// flowprobe registers a PEN of its own, which MUST then replace this one (a one-line
/// change here; collectors configured for 32473 must follow).
pub const PEN_FLOWPROBE: u32 = 32473;

/// RFC 5103 section 6.2: the reverse of an enterprise-specific element is the same id
/// with this bit set, under the same PEN (libfixbuf's `FB_IE_VENDOR_BIT_REVERSE`).
pub const REVERSE_ENTERPRISE_BIT: u16 = 0x4000;

impl Ie {
    /// The element a basicList element (RFC 6313) lists: its values' element, which gets
    /// an RFC 5610 type record with the list's.
    pub const fn list_member(self) -> Option<Ie> {
        match self {
            Ie::SpltPacketLengths => Some(Ie::SpltPacketLength),
            Ie::SpltInterArrivalTimes => Some(Ie::SpltInterArrivalMicroseconds),
            _ => None,
        }
    }
}

/// The field length that marks a variable-length element in a template (RFC 7011
/// section 7): each value then carries its own length, 1 octet (0..=254), or 255 and
/// 2 octets.
pub const VARLEN: u16 = 65535;

/// IANA "IPFIX Information Element Data Types" (RFC 5610 section 3.1), the values of
/// informationElementDataType that flowprobe's enterprise elements have.
pub mod data_type {
    /// 1: unsigned8.
    pub const UNSIGNED8: u8 = 1;
    /// 2: unsigned16.
    pub const UNSIGNED16: u8 = 2;
    /// 3: unsigned32.
    pub const UNSIGNED32: u8 = 3;
    /// 4: unsigned64.
    pub const UNSIGNED64: u8 = 4;
    /// 7: signed32.
    pub const SIGNED32: u8 = 7;
    /// 10: float64 (IEEE 754 binary64, network byte order).
    pub const FLOAT64: u8 = 10;
    /// 13: string (UTF-8).
    pub const STRING: u8 = 13;
    /// 15: dateTimeMilliseconds.
    pub const DATE_TIME_MILLISECONDS: u8 = 15;
    /// 18: ipv4Address.
    pub const IPV4_ADDRESS: u8 = 18;
    /// 19: ipv6Address.
    pub const IPV6_ADDRESS: u8 = 19;
    /// 20: basicList (RFC 6313 section 4.5.1): a list of values of one element.
    pub const BASIC_LIST: u8 = 20;
}

/// IANA "IPFIX Information Element Semantics" (RFC 5610 section 3.2), the values of
/// informationElementSemantics that flowprobe's enterprise elements have.
pub mod semantics {
    /// 0: default (no particular semantics: strings, addresses, times).
    pub const DEFAULT: u8 = 0;
    /// 1: quantity (a value at a point in time, not a counter).
    pub const QUANTITY: u8 = 1;
    /// 3: deltaCounter.
    pub const DELTA_COUNTER: u8 = 3;
    /// 4: identifier (a number that names something; no arithmetic on it).
    pub const IDENTIFIER: u8 = 4;
    /// 5: flags.
    pub const FLAGS: u8 = 5;
    /// 6: list (RFC 6313: the semantics of the structured data types).
    pub const LIST: u8 = 6;
}

information_elements! {
  iana {
    /// octetDeltaCount (1), unsigned64: octets of the flow (IP header + payload).
    OctetDeltaCount = 1, "octetDeltaCount", "IN_BYTES", 8;
    /// packetDeltaCount (2), unsigned64.
    PacketDeltaCount = 2, "packetDeltaCount", "IN_PKTS", 8;
    /// protocolIdentifier (4), unsigned8.
    ProtocolIdentifier = 4, "protocolIdentifier", "PROTOCOL", 1;
    /// ipClassOfService (5), unsigned8: IPv4 ToS / IPv6 traffic class.
    IpClassOfService = 5, "ipClassOfService", "SRC_TOS", 1;
    /// tcpControlBits (6): unsigned16 in IPFIX since RFC 7125, sent with reduced-size
    /// encoding (RFC 7011 section 6.2) as 1 octet because the record keeps the 8 classic
    /// flag bits; v9 defines TCP_FLAGS as 1 octet.
    TcpControlBits = 6, "tcpControlBits", "TCP_FLAGS", 1;
    /// sourceTransportPort (7), unsigned16.
    SourceTransportPort = 7, "sourceTransportPort", "L4_SRC_PORT", 2;
    /// sourceIPv4Address (8), ipv4Address.
    SourceIpv4Address = 8, "sourceIPv4Address", "IPV4_SRC_ADDR", 4;
    /// ingressInterface (10), unsigned32.
    IngressInterface = 10, "ingressInterface", "INPUT_SNMP", 4;
    /// egressInterface (14), unsigned32: the egress interface from the direction rules.
    EgressInterface = 14, "egressInterface", "OUTPUT_SNMP", 4;
    /// destinationTransportPort (11), unsigned16.
    DestinationTransportPort = 11, "destinationTransportPort", "L4_DST_PORT", 2;
    /// destinationIPv4Address (12), ipv4Address.
    DestinationIpv4Address = 12, "destinationIPv4Address", "IPV4_DST_ADDR", 4;
    /// flowEndSysUpTime (21), unsigned32, ms of sysUpTime at the last packet (v9).
    FlowEndSysUpTime = 21, "flowEndSysUpTime", "LAST_SWITCHED", 4;
    /// flowStartSysUpTime (22), unsigned32, ms of sysUpTime at the first packet (v9).
    FlowStartSysUpTime = 22, "flowStartSysUpTime", "FIRST_SWITCHED", 4;
    /// sourceIPv6Address (27), ipv6Address.
    SourceIpv6Address = 27, "sourceIPv6Address", "IPV6_SRC_ADDR", 16;
    /// destinationIPv6Address (28), ipv6Address.
    DestinationIpv6Address = 28, "destinationIPv6Address", "IPV6_DST_ADDR", 16;
    /// icmpTypeCodeIPv4 (32), unsigned16: type * 256 + code.
    IcmpTypeCodeIpv4 = 32, "icmpTypeCodeIPv4", "ICMP_TYPE", 2;
    /// samplingInterval (34), unsigned32 (deprecated in IPFIX, still read by collectors).
    SamplingInterval = 34, "samplingInterval", "SAMPLING_INTERVAL", 4;
    /// samplingAlgorithm (35), unsigned8: 1 deterministic, 2 random (v9 values).
    SamplingAlgorithm = 35, "samplingAlgorithm", "SAMPLING_ALGORITHM", 1;
    /// exportedOctetTotalCount (40), unsigned64: octets of messages sent.
    ExportedOctetTotalCount = 40, "exportedOctetTotalCount", "TOTAL_BYTES_EXP", 8;
    /// exportedMessageTotalCount (41), unsigned64: messages (v9: export packets) sent.
    ExportedMessageTotalCount = 41, "exportedMessageTotalCount", "TOTAL_PKTS_EXP", 8;
    /// exportedFlowRecordTotalCount (42), unsigned64: flow records sent.
    ExportedFlowRecordTotalCount = 42, "exportedFlowRecordTotalCount", "TOTAL_FLOWS_EXP", 8;
    /// minimumTTL (52), unsigned8.
    MinimumTtl = 52, "minimumTTL", "MIN_TTL", 1;
    /// maximumTTL (53), unsigned8.
    MaximumTtl = 53, "maximumTTL", "MAX_TTL", 1;
    /// sourceMacAddress (56), macAddress: source MAC as seen at ingress.
    SourceMacAddress = 56, "sourceMacAddress", "IN_SRC_MAC", 6;
    /// vlanId (58), unsigned16.
    VlanId = 58, "vlanId", "SRC_VLAN", 2;
    /// flowDirection (61), unsigned8: 0 ingress, 1 egress.
    FlowDirection = 61, "flowDirection", "DIRECTION", 1;
    /// destinationMacAddress (80), macAddress: destination MAC as seen at ingress.
    DestinationMacAddress = 80, "destinationMacAddress", "IN_DST_MAC", 6;
    /// flowEndReason (136), unsigned8 (IANA "flowEndReason Values").
    FlowEndReason = 136, "flowEndReason", "", 1;
    /// icmpTypeCodeIPv6 (139), unsigned16: type * 256 + code.
    IcmpTypeCodeIpv6 = 139, "icmpTypeCodeIPv6", "", 2;
    /// observationDomainId (149), unsigned32: the options scope in IPFIX.
    ObservationDomainId = 149, "observationDomainId", "", 4;
    /// flowStartMilliseconds (152), dateTimeMilliseconds.
    FlowStartMilliseconds = 152, "flowStartMilliseconds", "", 8;
    /// flowEndMilliseconds (153), dateTimeMilliseconds.
    FlowEndMilliseconds = 153, "flowEndMilliseconds", "", 8;
    /// ignoredPacketTotalCount (164), unsigned64: packets the metering process ignored.
    IgnoredPacketTotalCount = 164, "ignoredPacketTotalCount", "", 8;
    /// notSentFlowTotalCount (166), unsigned64: flow records not sent (lost or not exportable).
    NotSentFlowTotalCount = 166, "notSentFlowTotalCount", "", 8;
    /// tcpOptions (209), unsigned64 flags: option kind X (0..=63) seen in the SYN sets bit
    /// X counted from the most significant bit (`tcp_options`; `tcp_sack_ok` and
    /// `tcp_timestamps` are its bits for kinds 4 and 8).
    TcpOptions = 209, "tcpOptions", "", 8;
    /// tcpWindowScale (238), unsigned16: the SYN's window scale shift (`tcp_wscale`).
    TcpWindowScale = 238, "tcpWindowScale", "", 2;
    /// biflowDirection (239), unsigned8 (RFC 5103 section 6.3): 0 arbitrary, 1 initiator
    /// (the source is the biflow's initiator), 2 reverse initiator, 3 perimeter.
    BiflowDirection = 239, "biflowDirection", "", 1;
    /// greKey (296), unsigned32: the GRE key of the tunnel the flow came in.
    GreKey = 296, "greKey", "", 4;
    /// selectorAlgorithm (304), unsigned16 (IANA "IPFIX Packet Selection Techniques").
    SelectorAlgorithm = 304, "selectorAlgorithm", "", 2;
    /// samplingPacketInterval (305), unsigned32: packets selected in a row.
    SamplingPacketInterval = 305, "samplingPacketInterval", "", 4;
    /// samplingPacketSpace (306), unsigned32: packets skipped between selections.
    SamplingPacketSpace = 306, "samplingPacketSpace", "", 4;
    /// samplingSize (309), unsigned32: n of random n-out-of-N.
    SamplingSize = 309, "samplingSize", "", 4;
    /// samplingPopulation (310), unsigned32: N of random n-out-of-N.
    SamplingPopulation = 310, "samplingPopulation", "", 4;
    /// layer2SegmentId (351), unsigned64: top octet the overlay type (0x01 VXLAN), low
    /// 24 bits the segment id (the VNI).
    Layer2SegmentId = 351, "layer2SegmentId", "", 8;
    /// transportOctetDeltaCount (401), unsigned64 deltaCounter: octets of the transport
    /// payload, excluding IP and transport headers (`payload_bytes`).
    TransportOctetDeltaCount = 401, "transportOctetDeltaCount", "", 8;
    /// informationElementId (303), unsigned16 (RFC 5610): scope of a type record.
    InformationElementId = 303, "informationElementId", "", 2;
    /// informationElementDataType (339), unsigned8 (RFC 5610): a [`data_type`] value.
    InformationElementDataType = 339, "informationElementDataType", "", 1;
    /// informationElementName (341), string (RFC 5610), variable length.
    InformationElementName = 341, "informationElementName", "", VARLEN;
    /// informationElementSemantics (344), unsigned8 (RFC 5610): a [`semantics`] value.
    InformationElementSemantics = 344, "informationElementSemantics", "", 1;
    /// privateEnterpriseNumber (346), unsigned32 (RFC 5610): scope of a type record.
    PrivateEnterpriseNumber = 346, "privateEnterpriseNumber", "", 4;
    /// httpStatusCode (457), unsigned16: the response's status code (`http_status`).
    HttpStatusCode = 457, "httpStatusCode", "", 2;
    /// httpRequestMethod (459), string: the request method (`http_method`), variable length.
    HttpRequestMethod = 459, "httpRequestMethod", "", VARLEN;
    /// httpRequestHost (460), string: the Host header (`http_host`), variable length.
    HttpRequestHost = 460, "httpRequestHost", "", VARLEN;
    /// httpRequestTarget (461), string: the request target as sent (`http_target`),
    /// variable length.
    HttpRequestTarget = 461, "httpRequestTarget", "", VARLEN;
    /// httpUserAgent (468), string: the User-Agent header (`http_user_agent`), variable
    /// length. (462 is httpMessageVersion, not the user agent.)
    HttpUserAgent = 468, "httpUserAgent", "", VARLEN;
  }
  enterprise {
    /// reverseOctetDeltaCount (29305/1, RFC 5103): octetDeltaCount of the reverse direction.
    ReverseOctetDeltaCount = PEN_REVERSE: 1, "reverseOctetDeltaCount", 8, UNSIGNED64 / DELTA_COUNTER;
    /// reversePacketDeltaCount (29305/2).
    ReversePacketDeltaCount = PEN_REVERSE: 2, "reversePacketDeltaCount", 8, UNSIGNED64 / DELTA_COUNTER;
    /// reverseTcpControlBits (29305/6), 1 octet like tcpControlBits.
    ReverseTcpControlBits = PEN_REVERSE: 6, "reverseTcpControlBits", 1, UNSIGNED16 / FLAGS;
    /// reverseMinimumTTL (29305/52).
    ReverseMinimumTtl = PEN_REVERSE: 52, "reverseMinimumTTL", 1, UNSIGNED8 / DEFAULT;
    /// reverseMaximumTTL (29305/53).
    ReverseMaximumTtl = PEN_REVERSE: 53, "reverseMaximumTTL", 1, UNSIGNED8 / DEFAULT;
    /// reverseFlowStartMilliseconds (29305/152); 0 when no reverse packet was seen.
    ReverseFlowStartMilliseconds = PEN_REVERSE: 152, "reverseFlowStartMilliseconds", 8, DATE_TIME_MILLISECONDS / DEFAULT;
    /// reverseFlowEndMilliseconds (29305/153); 0 when no reverse packet was seen.
    ReverseFlowEndMilliseconds = PEN_REVERSE: 153, "reverseFlowEndMilliseconds", 8, DATE_TIME_MILLISECONDS / DEFAULT;
    /// reverseTcpOptions (29305/209): tcpOptions of the reverse direction's SYN.
    ReverseTcpOptions = PEN_REVERSE: 209, "reverseTcpOptions", 8, UNSIGNED64 / FLAGS;
    /// reverseTcpWindowScale (29305/238).
    ReverseTcpWindowScale = PEN_REVERSE: 238, "reverseTcpWindowScale", 2, UNSIGNED16 / QUANTITY;
    /// reverseTransportOctetDeltaCount (29305/401).
    ReverseTransportOctetDeltaCount = PEN_REVERSE: 401, "reverseTransportOctetDeltaCount", 8, UNSIGNED64 / DELTA_COUNTER;
    /// tunnelType (32473/1, flowprobe), unsigned8: the `TunnelKind` number (1 VXLAN,
    /// 2 Geneve, 3 GRE, 4 ERSPAN, 5 IP-in-IP, 6 GTP-U, 7 MPLS over UDP).
    TunnelType = PEN_FLOWPROBE: 1, "tunnelType", 1, UNSIGNED8 / IDENTIFIER;
    /// tunnelId (32473/2, flowprobe), unsigned32: VNI, GRE key, ERSPAN session id or
    /// GTP-U TEID; 0 when the kind has none.
    TunnelId = PEN_FLOWPROBE: 2, "tunnelId", 4, UNSIGNED32 / IDENTIFIER;
    /// tunnelSourceIPv4Address (32473/3, flowprobe), ipv4Address: outer source.
    TunnelSourceIpv4Address = PEN_FLOWPROBE: 3, "tunnelSourceIPv4Address", 4, IPV4_ADDRESS / DEFAULT;
    /// tunnelDestinationIPv4Address (32473/4, flowprobe), ipv4Address: outer destination.
    TunnelDestinationIpv4Address = PEN_FLOWPROBE: 4, "tunnelDestinationIPv4Address", 4, IPV4_ADDRESS / DEFAULT;
    /// tunnelSourceIPv6Address (32473/5, flowprobe), ipv6Address: outer source.
    TunnelSourceIpv6Address = PEN_FLOWPROBE: 5, "tunnelSourceIPv6Address", 16, IPV6_ADDRESS / DEFAULT;
    /// tunnelDestinationIPv6Address (32473/6, flowprobe), ipv6Address: outer destination.
    TunnelDestinationIpv6Address = PEN_FLOWPROBE: 6, "tunnelDestinationIPv6Address", 16, IPV6_ADDRESS / DEFAULT;
    /// payloadApplication (32473/7, flowprobe), string: `app`, what payload showed the flow
    /// to be (`tls`, `quic`, `dns`, `http`, `ssh`), never guessed from a port.
    PayloadApplication = PEN_FLOWPROBE: 7, "payloadApplication", VARLEN, STRING / DEFAULT;
    /// tlsServerName (32473/8, flowprobe), string: `tls_sni`, the ClientHello's server name.
    TlsServerName = PEN_FLOWPROBE: 8, "tlsServerName", VARLEN, STRING / DEFAULT;
    /// tlsClientAlpn (32473/9, flowprobe), string: `tls_alpn`, the ClientHello's ALPN
    /// protocol list, comma-joined.
    TlsClientAlpn = PEN_FLOWPROBE: 9, "tlsClientAlpn", VARLEN, STRING / DEFAULT;
    /// tlsVersion (32473/10, flowprobe), unsigned16: `tls_version`, the negotiated version
    /// as on the wire (0x0304 for TLS 1.3).
    TlsVersion = PEN_FLOWPROBE: 10, "tlsVersion", 2, UNSIGNED16 / IDENTIFIER;
    /// tlsCipherSuite (32473/11, flowprobe), unsigned16: `tls_cipher`, the server's choice.
    TlsCipherSuite = PEN_FLOWPROBE: 11, "tlsCipherSuite", 2, UNSIGNED16 / IDENTIFIER;
    /// ja4 (32473/12, flowprobe), string: the ClientHello's JA4 fingerprint.
    Ja4 = PEN_FLOWPROBE: 12, "ja4", VARLEN, STRING / DEFAULT;
    /// ja3 (32473/13, flowprobe), string: the ClientHello's JA3 (MD5, 32 hex digits).
    Ja3 = PEN_FLOWPROBE: 13, "ja3", VARLEN, STRING / DEFAULT;
    /// dnsQueryName (32473/14, flowprobe), string: `dns_qname`, the first question's name.
    DnsQueryName = PEN_FLOWPROBE: 14, "dnsQueryName", VARLEN, STRING / DEFAULT;
    /// dnsQueryType (32473/15, flowprobe), unsigned16: `dns_qtype`, the first question's
    /// type.
    DnsQueryType = PEN_FLOWPROBE: 15, "dnsQueryType", 2, UNSIGNED16 / IDENTIFIER;
    /// dnsResponseCode (32473/16, flowprobe), unsigned8: `dns_rcode`, a response's RCODE.
    DnsResponseCode = PEN_FLOWPROBE: 16, "dnsResponseCode", 1, UNSIGNED8 / IDENTIFIER;
    /// dnsAnswerCount (32473/17, flowprobe), unsigned16: `dns_answers`, a response's
    /// answer count.
    DnsAnswerCount = PEN_FLOWPROBE: 17, "dnsAnswerCount", 2, UNSIGNED16 / QUANTITY;
    /// sshClientBanner (32473/18, flowprobe), string: `ssh_client`, the client's banner.
    SshClientBanner = PEN_FLOWPROBE: 18, "sshClientBanner", VARLEN, STRING / DEFAULT;
    /// sshServerBanner (32473/19, flowprobe), string: `ssh_server`, the server's banner.
    SshServerBanner = PEN_FLOWPROBE: 19, "sshServerBanner", VARLEN, STRING / DEFAULT;
    /// hassh (32473/20, flowprobe), string: the client's HASSH (MD5, 32 hex digits).
    Hassh = PEN_FLOWPROBE: 20, "hassh", VARLEN, STRING / DEFAULT;
    /// communityId (32473/21, flowprobe), string: `community_id`, the flow key's Community
    /// ID v1 ("1:" and 28 base64 characters).
    CommunityId = PEN_FLOWPROBE: 21, "communityId", VARLEN, STRING / DEFAULT;
    /// tcpMaximumSegmentSize (32473/22, flowprobe), unsigned16: `tcp_mss`, the MSS option
    /// of the direction's first SYN (IANA has no MSS element).
    TcpMaximumSegmentSize = PEN_FLOWPROBE: 22, "tcpMaximumSegmentSize", 2, UNSIGNED16 / QUANTITY;
    /// tcpRetransmissionCount (32473/23, flowprobe), unsigned32: `retransmissions`, the
    /// segments TCP analysis called retransmissions (tshark's retransmission and
    /// fast_retransmission).
    TcpRetransmissionCount = PEN_FLOWPROBE: 23, "tcpRetransmissionCount", 4, UNSIGNED32 / DELTA_COUNTER;
    /// tcpOutOfOrderCount (32473/24, flowprobe), unsigned32: `out_of_order`.
    TcpOutOfOrderCount = PEN_FLOWPROBE: 24, "tcpOutOfOrderCount", 4, UNSIGNED32 / DELTA_COUNTER;
    /// tcpZeroWindowCount (32473/25, flowprobe), unsigned32: `zero_windows`.
    TcpZeroWindowCount = PEN_FLOWPROBE: 25, "tcpZeroWindowCount", 4, UNSIGNED32 / DELTA_COUNTER;
    /// tcpServerRttMicroseconds (32473/26, flowprobe), unsigned32: `server_rtt_us`, SYN to
    /// SYN-ACK as seen at the probe.
    TcpServerRttMicroseconds = PEN_FLOWPROBE: 26, "tcpServerRttMicroseconds", 4, UNSIGNED32 / QUANTITY;
    /// tcpClientRttMicroseconds (32473/27, flowprobe), unsigned32: `client_rtt_us`,
    /// SYN-ACK to the ACK completing the handshake.
    TcpClientRttMicroseconds = PEN_FLOWPROBE: 27, "tcpClientRttMicroseconds", 4, UNSIGNED32 / QUANTITY;
    /// iatMinimumMicroseconds (32473/28, flowprobe), unsigned64: `iat_min_us`.
    IatMinimumMicroseconds = PEN_FLOWPROBE: 28, "iatMinimumMicroseconds", 8, UNSIGNED64 / QUANTITY;
    /// iatMeanMicroseconds (32473/29, flowprobe), float64: `iat_mean_us`.
    IatMeanMicroseconds = PEN_FLOWPROBE: 29, "iatMeanMicroseconds", 8, FLOAT64 / QUANTITY;
    /// iatMaximumMicroseconds (32473/30, flowprobe), unsigned64: `iat_max_us`.
    IatMaximumMicroseconds = PEN_FLOWPROBE: 30, "iatMaximumMicroseconds", 8, UNSIGNED64 / QUANTITY;
    /// iatStandardDeviationMicroseconds (32473/31, flowprobe), float64: `iat_stddev_us`
    /// (sample standard deviation).
    IatStandardDeviationMicroseconds = PEN_FLOWPROBE: 31, "iatStandardDeviationMicroseconds", 8, FLOAT64 / QUANTITY;
    /// payloadLengthMinimum (32473/32, flowprobe), unsigned16: `len_min`.
    PayloadLengthMinimum = PEN_FLOWPROBE: 32, "payloadLengthMinimum", 2, UNSIGNED16 / QUANTITY;
    /// payloadLengthMean (32473/33, flowprobe), float64: `len_mean`.
    PayloadLengthMean = PEN_FLOWPROBE: 33, "payloadLengthMean", 8, FLOAT64 / QUANTITY;
    /// payloadLengthMaximum (32473/34, flowprobe), unsigned16: `len_max`.
    PayloadLengthMaximum = PEN_FLOWPROBE: 34, "payloadLengthMaximum", 2, UNSIGNED16 / QUANTITY;
    /// payloadLengthStandardDeviation (32473/35, flowprobe), float64: `len_stddev`.
    PayloadLengthStandardDeviation = PEN_FLOWPROBE: 35, "payloadLengthStandardDeviation", 8, FLOAT64 / QUANTITY;
    /// spltPacketLengths (32473/36, flowprobe), basicList (RFC 6313, semantic ordered) of
    /// spltPacketLength: the `splt` lengths, variable length.
    SpltPacketLengths = PEN_FLOWPROBE: 36, "spltPacketLengths", VARLEN, BASIC_LIST / LIST;
    /// spltInterArrivalTimes (32473/37, flowprobe), basicList (ordered) of
    /// spltInterArrivalMicroseconds: the `splt` gaps, variable length.
    SpltInterArrivalTimes = PEN_FLOWPROBE: 37, "spltInterArrivalTimes", VARLEN, BASIC_LIST / LIST;
    /// spltPacketLength (32473/38, flowprobe), signed32: one packet's transport payload
    /// length, negative for a biflow's reverse packet (a reverse packet of length 0 is 0).
    SpltPacketLength = PEN_FLOWPROBE: 38, "spltPacketLength", 4, SIGNED32 / QUANTITY;
    /// spltInterArrivalMicroseconds (32473/39, flowprobe), unsigned32: microseconds since
    /// the record's previous packet, truncated (0 for the first).
    SpltInterArrivalMicroseconds = PEN_FLOWPROBE: 39, "spltInterArrivalMicroseconds", 4, UNSIGNED32 / QUANTITY;
    /// reverseTcpMaximumSegmentSize (32473/0x4016, flowprobe): RFC 5103 section 6.2, the
    /// reverse of an enterprise element is its id with bit 0x4000 set, same PEN.
    ReverseTcpMaximumSegmentSize = PEN_FLOWPROBE: 0x4016, "reverseTcpMaximumSegmentSize", 2, UNSIGNED16 / QUANTITY;
    /// reverseTcpRetransmissionCount (32473/0x4017, flowprobe).
    ReverseTcpRetransmissionCount = PEN_FLOWPROBE: 0x4017, "reverseTcpRetransmissionCount", 4, UNSIGNED32 / DELTA_COUNTER;
    /// reverseTcpOutOfOrderCount (32473/0x4018, flowprobe).
    ReverseTcpOutOfOrderCount = PEN_FLOWPROBE: 0x4018, "reverseTcpOutOfOrderCount", 4, UNSIGNED32 / DELTA_COUNTER;
    /// reverseTcpZeroWindowCount (32473/0x4019, flowprobe).
    ReverseTcpZeroWindowCount = PEN_FLOWPROBE: 0x4019, "reverseTcpZeroWindowCount", 4, UNSIGNED32 / DELTA_COUNTER;
  }
}

/// IANA "IPFIX Packet Selection Techniques" (selectorAlgorithm, IE 304) values we send.
pub mod selector_algorithm {
    /// 1: Systematic count-based Sampling (1 in N, every N-th packet).
    pub const SYSTEMATIC_COUNT_BASED: u16 = 1;
    /// 3: Random n-out-of-N Sampling.
    pub const RANDOM_N_OUT_OF_N: u16 = 3;
}

/// NetFlow v9 SAMPLING_ALGORITHM (field 35) values (RFC 3954 section 8).
pub mod v9_sampling_algorithm {
    /// 0x01: deterministic sampling.
    pub const DETERMINISTIC: u8 = 1;
    /// 0x02: random sampling.
    pub const RANDOM: u8 = 2;
}

/// The overlay encapsulation types of `layer2SegmentId`'s top octet (IANA IPFIX registry,
/// IE 351 description).
pub mod layer2_segment_type {
    /// 0x01: VXLAN; the low 24 bits hold the VNI.
    pub const VXLAN: u8 = 0x01;
}

/// NetFlow v9 options scope field types (RFC 3954 section 6.2), their own number space.
pub mod v9_scope {
    /// 1: System (the exporting device; we send the source id).
    pub const SYSTEM: u16 = 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_unknown_catches_the_rest() {
        for &ie in Ie::ALL {
            if ie.pen() == 0 {
                assert_eq!(Ie::from_id(ie.id()), ie, "{}", ie.name());
            } else {
                // Enterprise ids live in their own space: never returned by from_id.
                assert_ne!(Ie::from_id(ie.id()), ie, "{}", ie.name());
                assert_eq!(ie.v9_name(), "");
            }
            assert!(ie.length() > 0);
        }
        assert_eq!(Ie::from_id(999), Ie::Unknown(999));
        assert_eq!(Ie::Unknown(999).id(), 999);
        assert_eq!(Ie::Unknown(999).length(), 0);
    }

    #[test]
    fn registry_numbers_are_the_iana_ones() {
        // Spot checks against the IANA registry, by name.
        let expect = [
            ("octetDeltaCount", 1),
            ("sourceIPv4Address", 8),
            ("sourceIPv6Address", 27),
            ("icmpTypeCodeIPv6", 139),
            ("flowEndReason", 136),
            ("flowStartMilliseconds", 152),
            ("selectorAlgorithm", 304),
            ("samplingPopulation", 310),
            ("egressInterface", 14),
            ("flowDirection", 61),
            ("biflowDirection", 239),
            ("greKey", 296),
            ("layer2SegmentId", 351),
            ("informationElementId", 303),
            ("informationElementDataType", 339),
            ("informationElementName", 341),
            ("informationElementSemantics", 344),
            ("privateEnterpriseNumber", 346),
            ("httpStatusCode", 457),
            ("httpRequestMethod", 459),
            ("httpRequestHost", 460),
            ("httpRequestTarget", 461),
            ("httpUserAgent", 468),
            ("tcpOptions", 209),
            ("tcpWindowScale", 238),
            ("transportOctetDeltaCount", 401),
        ];
        for (name, id) in expect {
            let ie = Ie::ALL.iter().find(|ie| ie.name() == name).unwrap();
            assert_eq!((ie.id(), ie.pen()), (id, 0), "{name}");
        }
    }

    /// RFC 5103 section 6.1: a reverse element is the forward element's id under PEN
    /// 29305, with the same type (and so the same length here).
    #[test]
    fn reverse_elements_mirror_their_forward_elements() {
        let mut n = 0;
        for &ie in Ie::ALL.iter().filter(|ie| ie.pen() == PEN_REVERSE) {
            let forward = Ie::from_id(ie.id());
            assert_eq!(format!("reverse{}", upper_first(forward.name())), ie.name());
            assert_eq!(forward.length(), ie.length(), "{}", ie.name());
            n += 1;
        }
        assert_eq!(n, 10);
        let flowprobe = Ie::ALL
            .iter()
            .filter(|ie| ie.pen() == PEN_FLOWPROBE)
            .count();
        assert_eq!(flowprobe, 43);
        // RFC 5103 section 6.2: flowprobe's reverse elements are the forward id | 0x4000.
        for &ie in Ie::ALL.iter().filter(|ie| ie.pen() == PEN_FLOWPROBE) {
            if ie.id() & REVERSE_ENTERPRISE_BIT != 0 {
                let forward = Ie::ALL
                    .iter()
                    .find(|f| {
                        f.pen() == PEN_FLOWPROBE && f.id() == ie.id() & !REVERSE_ENTERPRISE_BIT
                    })
                    .unwrap();
                assert_eq!(format!("reverse{}", upper_first(forward.name())), ie.name());
                assert_eq!(forward.type_info(), ie.type_info());
                assert_eq!(forward.length(), ie.length());
            }
        }
    }

    /// The IANA string elements are variable-length; every enterprise element has type
    /// information consistent with its length; flowprobe's ids are distinct and below 64.
    #[test]
    fn enterprise_elements_have_type_information() {
        use std::collections::HashSet;
        for name in [
            "httpRequestMethod",
            "httpRequestHost",
            "httpRequestTarget",
            "httpUserAgent",
        ] {
            let ie = Ie::ALL.iter().find(|ie| ie.name() == name).unwrap();
            assert_eq!(ie.length(), VARLEN, "{name}");
        }
        let mut ids = HashSet::new();
        for &ie in Ie::ALL {
            if ie.pen() == 0 {
                assert_eq!(ie.type_info(), None);
                continue;
            }
            let (data_type, _) = ie.type_info().unwrap();
            let len = match data_type {
                data_type::UNSIGNED8 => 1,
                data_type::UNSIGNED16 => 2,
                data_type::UNSIGNED32 | data_type::SIGNED32 | data_type::IPV4_ADDRESS => 4,
                data_type::UNSIGNED64 | data_type::FLOAT64 | data_type::DATE_TIME_MILLISECONDS => 8,
                data_type::IPV6_ADDRESS => 16,
                data_type::STRING | data_type::BASIC_LIST => VARLEN,
                other => panic!("{other}"),
            };
            // Reduced-size encoding (RFC 7011 6.2): tcpControlBits in 1 octet.
            assert!(
                ie.length() == len || ie == Ie::ReverseTcpControlBits,
                "{}",
                ie.name()
            );
            if ie.pen() == PEN_FLOWPROBE {
                let id = ie.id() & !REVERSE_ENTERPRISE_BIT;
                assert!(id < 64 && ids.insert(ie.id()), "{}", ie.name());
            }
        }
    }

    fn upper_first(s: &str) -> String {
        let mut c = s.chars();
        c.next()
            .map(|f| f.to_uppercase().chain(c).collect())
            .unwrap_or_default()
    }
}
