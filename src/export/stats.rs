//! Per-sink counters and rate-limited logging of export failures.
//!
//! A collector that is down must never stop the probe, but the operator must learn that
//! records were lost: every sink counts what it sent and what it could not send, and logs
//! failures at most once per interval (with the number of failures suppressed since), so a
//! dead collector cannot flood the log.

use std::time::{Duration, Instant};

/// What a sink has done so far. Read with [`super::RecordSink::stats`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SinkStats {
    /// Messages handed to the network or file in full.
    pub messages: u64,
    /// Flow records in those messages.
    pub records: u64,
    /// Octets of those messages.
    pub bytes: u64,
    /// Failed sends / writes / connection losses.
    pub send_errors: u64,
    /// Flow records in messages that were dropped (send error, buffer full while a TCP
    /// collector was down, a message cut by a connection reset, finish timeout).
    pub records_lost: u64,
    /// Records this sink's protocol cannot carry (IPv6 for NetFlow v5).
    pub not_exportable: u64,
    /// TCP connections established (0 for UDP and files).
    pub connections: u64,
}

impl SinkStats {
    /// Adds another sink's counters (for totals over several collectors).
    pub fn add(&mut self, other: &SinkStats) {
        self.messages += other.messages;
        self.records += other.records;
        self.bytes += other.bytes;
        self.send_errors += other.send_errors;
        self.records_lost += other.records_lost;
        self.not_exportable += other.not_exportable;
        self.connections += other.connections;
    }
}

/// Logs a recurring failure at most once per `interval`, counting what it held back.
#[derive(Debug)]
pub(crate) struct RateLimitedLog {
    interval: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl RateLimitedLog {
    pub(crate) fn new(interval: Duration) -> RateLimitedLog {
        RateLimitedLog {
            interval,
            last: None,
            suppressed: 0,
        }
    }

    /// Logs `msg()` as a warning unless one was logged less than `interval` ago.
    pub(crate) fn warn(&mut self, msg: impl FnOnce() -> String) {
        let now = Instant::now();
        match self.last {
            Some(t) if now.duration_since(t) < self.interval => self.suppressed += 1,
            _ => {
                if self.suppressed > 0 {
                    log::warn!(
                        "{} ({} similar messages suppressed)",
                        msg(),
                        self.suppressed
                    );
                } else {
                    log::warn!("{}", msg());
                }
                self.suppressed = 0;
                self.last = Some(now);
            }
        }
    }
}
