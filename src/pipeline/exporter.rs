//! The exporter thread: owns the record sinks and feeds them batches from the workers.
//!
//! Workers never wait on a socket or a file: they send finished records over a bounded
//! channel and go on metering. The exporter hands each batch to every sink in order. A
//! sink that fails (a text output whose disk filled or whose pipe closed) is reported
//! and dropped; the other sinks go on. Collectors count and log their own network errors
//! and do not fail here (see `export`).

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::export::RecordSink;
use crate::flow::record::FlowRecord;
use crate::time::Timestamp;

/// What workers send to the exporter.
#[derive(Debug)]
pub enum ExportMessage {
    /// Finished records, and the time they were exported at.
    Records(Vec<FlowRecord>, Timestamp),
    /// Time passed (at least once a second of export time).
    Tick(Timestamp),
}

/// What the exporter thread reports when it ends.
#[derive(Debug, Default)]
pub struct ExporterReport {
    /// Records handed to the sinks.
    pub records: u64,
    /// Packets summed over those records.
    pub packets: u64,
    /// Sinks that failed: (sink index, error text).
    pub failures: Vec<(usize, String)>,
}

/// A running exporter thread.
pub struct Exporter {
    sender: Sender<ExportMessage>,
    handle: JoinHandle<ExporterReport>,
}

impl Exporter {
    /// Starts the thread with `sinks`; `capacity` batches may queue before workers wait.
    pub fn spawn(sinks: Vec<Box<dyn RecordSink>>, capacity: usize) -> std::io::Result<Exporter> {
        let (sender, receiver) = crossbeam_channel::bounded(capacity.max(1));
        let handle = std::thread::Builder::new()
            .name("flowprobe-export".into())
            .spawn(move || run(sinks, receiver))?;
        Ok(Exporter { sender, handle })
    }

    /// A sender for a worker.
    pub fn sender(&self) -> Sender<ExportMessage> {
        self.sender.clone()
    }

    /// Closes this handle's sender, waits for the queue to drain and the sinks to finish.
    /// Every other sender must have been dropped before, or this waits for them.
    pub fn finish(self) -> ExporterReport {
        drop(self.sender);
        self.handle.join().unwrap_or_else(|_| ExporterReport {
            failures: vec![(usize::MAX, "exporter thread panicked".into())],
            ..Default::default()
        })
    }
}

fn run(mut sinks: Vec<Box<dyn RecordSink>>, receiver: Receiver<ExportMessage>) -> ExporterReport {
    let mut report = ExporterReport::default();
    let mut alive: Vec<bool> = vec![true; sinks.len()];
    let mut last = Timestamp::ZERO;
    let fail = |i: usize, alive: &mut Vec<bool>, report: &mut ExporterReport, e: std::io::Error| {
        log::error!("output {i} failed and was stopped: {e}");
        alive[i] = false;
        report.failures.push((i, e.to_string()));
    };
    for message in receiver {
        match message {
            ExportMessage::Records(records, now) => {
                last = last.max(now);
                report.records += records.len() as u64;
                report.packets += records.iter().map(|r| r.packets).sum::<u64>();
                for (i, sink) in sinks.iter_mut().enumerate() {
                    if alive[i] {
                        if let Err(e) = sink.export(&records, last) {
                            fail(i, &mut alive, &mut report, e);
                        }
                    }
                }
            }
            ExportMessage::Tick(now) => {
                last = last.max(now);
                for (i, sink) in sinks.iter_mut().enumerate() {
                    if alive[i] {
                        if let Err(e) = sink.tick(last) {
                            fail(i, &mut alive, &mut report, e);
                        }
                    }
                }
            }
        }
    }
    for (i, sink) in sinks.iter_mut().enumerate() {
        if alive[i] {
            if let Err(e) = sink.finish(last) {
                fail(i, &mut alive, &mut report, e);
            }
        }
    }
    report
}
