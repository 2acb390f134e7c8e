//! Fuzz target: the frame decoder, over arbitrary bytes, on every link type it knows
//! (and one arbitrary link type taken from the input).
//!
//! Input: 4 bytes of original length, 4 bytes of an extra link type, then the frame.
//! `decode` must never panic; on success the metered octets and addresses must make
//! sense for the IP version it found.
#![no_main]

use libfuzzer_sys::fuzz_target;

use flowprobe::decode::{decode, decode_with, Decap, PacketMeta};
use flowprobe::flow::tunnel::TunnelKind;

/// Link types `decode` handles (LINKTYPE_* values), as the tshark oracle lists them.
const LINK_TYPES: [u32; 10] = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276];

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (head, frame) = data.split_at(8);
    let orig_len = u32::from_le_bytes([head[0], head[1], head[2], head[3]]);
    let extra = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    let mut meta = PacketMeta::default();
    let all = Decap::with_kinds(&TunnelKind::ALL);
    let check = |meta: &PacketMeta| {
        let v = meta.key.ip_version;
        assert!(v == 4 || v == 6, "ip version {v} after a successful decode");
        if v == 4 {
            assert!(meta.key.src[4..].iter().all(|&b| b == 0));
            assert!(meta.key.dst[4..].iter().all(|&b| b == 0));
        }
        if meta.tunnel.is_some() {
            let v = meta.tunnel.outer_ip_version;
            assert!(v == 4 || v == 6, "outer ip version {v}");
        }
    };
    for lt in LINK_TYPES.into_iter().chain([extra]) {
        // Without decapsulation, then with every tunnel kind opened.
        if decode(lt, frame, orig_len, &mut meta).is_ok() {
            check(&meta);
        }
        if decode_with(lt, frame, orig_len, &all, &mut meta).is_ok() {
            check(&meta);
        }
    }
});
