//! Exporter integration tests: our IPFIX / NetFlow v9 / v5 against decoders and
//! collectors we did not write (netflow_parser, nfcapd + nfdump, tshark, pmacct), sFlow against
//! tshark, sfcapd and sfacctd, and the
//! transports against a collector that is down, refuses, or restarts.
//!
//! Tests needing an external tool fail when it is missing and `CI` is set; otherwise
//! they print "skipped: <tool> not installed" and return.

mod collector_down;
#[path = "../common/mod.rs"]
mod common;
mod convert;
mod helpers;
mod inspected;
mod loopback;
mod measure;
mod nfcapd;
mod parser;
mod pmacct;
mod sflow;
mod tshark;
mod tunnels_biflows;
