//! Fuzz target: the frame decoder, over arbitrary bytes, on every link type it knows
//! (and one arbitrary link type taken from the input).
//!
//! Input: 4 bytes of original length, 4 bytes of an extra link type, then the frame.
//! `decode` must never panic; on success the metered octets and addresses must make
//! sense for the IP version it found.
#![no_main]

use libfuzzer_sys::fuzz_target;

use flowprobe::decode::{decode, PacketMeta};

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
    for lt in LINK_TYPES.into_iter().chain([extra]) {
        if decode(lt, frame, orig_len, &mut meta).is_ok() {
            let v = meta.key.ip_version;
            assert!(v == 4 || v == 6, "ip version {v} after a successful decode");
            if v == 4 {
                assert!(meta.key.src[4..].iter().all(|&b| b == 0));
                assert!(meta.key.dst[4..].iter().all(|&b| b == 0));
            }
        }
    }
});
