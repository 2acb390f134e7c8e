//! Fuzz target: the inspector's table and its ended-direction slots over arbitrary
//! sequences of packets on four connections (TCP and UDP, both directions, the check's
//! TLS, HTTP, SSH and DNS payloads or the input's own bytes, gaps, retransmissions,
//! expiry, steps of seconds and of decades).
//!
//! Besides "no panic": an inspector whose slots answer gives what one that always asks
//! its table gives, packet by packet (what was completed, the table's size, the counts),
//! and expiry at the end of time empties both. The record format is documented at
//! `flowprobe::inspect::inspector::fuzzing::ended_slots_change_nothing`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    flowprobe::inspect::inspector::fuzzing::ended_slots_change_nothing(data);
});
