//! Payload inspection: what each flow is (`--inspect`).
//!
//! A layer between decoding and metering, off by default. One file a protocol, each a
//! parser of untrusted bytes under the decoder's rule (no panic, no slice indexing: every
//! read goes through [`reader::Reader`]), each fuzzed (`fuzz/`).

pub mod reader;
pub mod tls;

/// What a parser made of the bytes one direction has shown so far.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    /// The message was read.
    Found(T),
    /// A valid beginning: more bytes of the same direction are needed.
    Incomplete,
    /// Not this protocol (no error: another parser may take the bytes).
    NotThis,
    /// This protocol, but broken; counted as an inspection error of the protocol.
    Malformed(&'static str),
}
