//! The tunnel a decapsulated packet arrived in: kind, id and outer addresses.
//!
//! With decapsulation on (`[decap]`, see `decode::tunnel`), the flow is the inner packet's
//! and the tunnel it came in is kept beside it on the record, so a collector can tell
//! which mirror session, virtual network or bearer the flow was seen in.
//!
//! # What makes flows distinct
//! Two tunnels of the same kind with different *segment ids* (VXLAN and Geneve VNI, GRE
//! key, ERSPAN session) may carry overlapping address spaces (tenants, VRFs, mirror
//! sources), so the kind and the segment id are part of the flow's identity. The outer
//! addresses are not: they are taken from the record's first packet, like its MACs, so a
//! flow whose two directions travel between different tunnel endpoints still pairs into
//! one biflow. A GTP-U TEID is different in each direction of a bearer, so it is kept
//! (first packet's) but is not part of the identity either.
//!
//! When tunnels nest, the one kept is the innermost decapsulated one: the tunnel that
//! directly carried the metered packet, whose segment id scopes its addresses.

use std::net::IpAddr;

use super::key::ip_addr;

/// The kinds of tunnel flowprobe decapsulates. The numbers are flowprobe's own, exported
/// in the `tunnelType` enterprise element and stable across versions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TunnelKind {
    /// Not tunneled (or decapsulation of its tunnel is off).
    #[default]
    None = 0,
    /// VXLAN (RFC 7348), UDP port 4789 by default; id = VNI.
    Vxlan = 1,
    /// Geneve (RFC 8926), UDP port 6081 by default; id = VNI.
    Geneve = 2,
    /// GRE (RFC 2784, 2890) carrying IP, Ethernet (transparent bridging) or MPLS;
    /// id = GRE key (0 when absent).
    Gre = 3,
    /// ERSPAN type I, II or III over GRE; id = session id (0 for type I, which has none).
    Erspan = 4,
    /// IP in IP: 4in4, 6in4, 4in6, 6in6 (protocols 4 and 41); id = 0.
    IpInIp = 5,
    /// GTP-U (3GPP TS 29.281), UDP port 2152; id = TEID.
    GtpU = 6,
    /// MPLS over UDP (RFC 7510), UDP port 6635; id = 0.
    MplsUdp = 7,
}

impl TunnelKind {
    /// Every kind that can be decapsulated, in number order.
    pub const ALL: [TunnelKind; 7] = [
        TunnelKind::Vxlan,
        TunnelKind::Geneve,
        TunnelKind::Gre,
        TunnelKind::Erspan,
        TunnelKind::IpInIp,
        TunnelKind::GtpU,
        TunnelKind::MplsUdp,
    ];

    /// The name used in configuration (`decap = [...]`), CSV and JSON.
    pub fn name(self) -> &'static str {
        match self {
            TunnelKind::None => "none",
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::Gre => "gre",
            TunnelKind::Erspan => "erspan",
            TunnelKind::IpInIp => "ip-in-ip",
            TunnelKind::GtpU => "gtp-u",
            TunnelKind::MplsUdp => "mpls-udp",
        }
    }

    /// The kind with this configuration name.
    pub fn from_name(name: &str) -> Option<TunnelKind> {
        TunnelKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether this kind's id scopes the inner addresses (and so is part of the flow's
    /// identity): VNIs, GRE keys and ERSPAN sessions do; a GTP-U TEID, which differs per
    /// direction, does not.
    pub fn id_is_segment(self) -> bool {
        matches!(
            self,
            TunnelKind::Vxlan | TunnelKind::Geneve | TunnelKind::Gre | TunnelKind::Erspan
        )
    }
}

/// The tunnel a packet or a flow was decapsulated from. `kind == None` means none, and
/// then every other field is zero.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Tunnel {
    /// Which kind of tunnel.
    pub kind: TunnelKind,
    /// VNI, GRE key, ERSPAN session id or GTP-U TEID; 0 when the kind has none.
    pub id: u32,
    /// 4 or 6: the outer IP header's version (0 when not tunneled).
    pub outer_ip_version: u8,
    /// Outer source address (IPv4 in the first 4 bytes).
    pub outer_src: [u8; 16],
    /// Outer destination address (IPv4 in the first 4 bytes).
    pub outer_dst: [u8; 16],
}

impl Tunnel {
    /// Whether a tunnel is recorded.
    pub fn is_some(&self) -> bool {
        self.kind != TunnelKind::None
    }

    /// The part of the tunnel that is part of the flow's identity: the kind, and the id
    /// when it is a segment id (see the module doc).
    pub fn segment(&self) -> (TunnelKind, u32) {
        if self.kind.id_is_segment() {
            (self.kind, self.id)
        } else {
            (self.kind, 0)
        }
    }

    /// The tunnel the other direction of a flow is inferred to travel in, when none of
    /// its packets was seen: the same kind and segment id (VNI, GRE key and ERSPAN session
    /// are shared by both directions), id 0 when the id is per direction (GTP-U TEID), and
    /// the outer addresses swapped, as the two directions of GTP-U, IP in IP, GRE and
    /// VXLAN overlays travel, except for ERSPAN, whose mirror session sends both
    /// directions from the same switch. (Cloud mirroring over VXLAN or Geneve also sends
    /// both from one source; a reverse packet seen corrects the inference.)
    pub fn mirrored(&self) -> Tunnel {
        let mut t = *self;
        if !t.kind.id_is_segment() {
            t.id = 0;
        }
        if t.kind != TunnelKind::Erspan {
            std::mem::swap(&mut t.outer_src, &mut t.outer_dst);
        }
        t
    }

    /// Outer source address in its standard form.
    pub fn outer_src_addr(&self) -> IpAddr {
        ip_addr(self.outer_ip_version, &self.outer_src)
    }

    /// Outer destination address in its standard form.
    pub fn outer_dst_addr(&self) -> IpAddr {
        ip_addr(self.outer_ip_version, &self.outer_dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        for kind in TunnelKind::ALL {
            assert_eq!(TunnelKind::from_name(kind.name()), Some(kind));
        }
        assert_eq!(TunnelKind::from_name("none"), None);
        assert_eq!(TunnelKind::from_name("VXLAN"), None);
    }

    #[test]
    fn gtp_teid_is_not_part_of_the_identity_but_a_vni_is() {
        let gtp = Tunnel {
            kind: TunnelKind::GtpU,
            id: 7,
            ..Default::default()
        };
        assert_eq!(gtp.segment(), (TunnelKind::GtpU, 0));
        let vxlan = Tunnel {
            kind: TunnelKind::Vxlan,
            id: 7,
            ..Default::default()
        };
        assert_eq!(vxlan.segment(), (TunnelKind::Vxlan, 7));
    }
}
