//! Live numbers for operators: a registry the workers and the exporter publish into,
//! and a Prometheus text endpoint that serves it.
//!
//! Workers publish a copy of their counters about once a second (never per packet), so
//! the packet path takes no lock; the endpoint reads the copies. The endpoint is a plain
//! HTTP/1.0 responder on its own thread, bound to loopback unless told otherwise: the
//! numbers say what the probe sees, which is not for everyone on the network.

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use super::stats::Counters;
use crate::decode::Undecodable;
use crate::export::SinkStats;
use crate::flow::record::EndReason;
use crate::flow::tunnel::TunnelKind;

/// One worker's published numbers.
#[derive(Clone, Debug, Default)]
pub struct WorkerStatus {
    /// Interface the worker captures on ("" offline).
    pub interface: String,
    /// Packet and flow counters.
    pub counters: Counters,
    /// Packets the kernel counted for this worker's socket (AF_PACKET, libpcap).
    pub kernel_packets: u64,
    /// Packets the kernel dropped for this worker's socket (ring or buffer full).
    pub kernel_drops: u64,
}

/// Where workers and the exporter publish their numbers.
#[derive(Debug, Default)]
pub struct Registry {
    /// Reader threads that decode for several workers (offline, libpcap), by index:
    /// packets received, undecodable, sampled out. Shown as worker "reader-N".
    readers: Mutex<Vec<WorkerStatus>>,
    workers: Vec<Mutex<WorkerStatus>>,
    sinks: Mutex<Vec<(String, SinkStats)>>,
}

impl Registry {
    /// A registry for `workers` workers and the sinks named by `labels`.
    pub fn new(workers: usize, labels: &[String]) -> Registry {
        Registry {
            readers: Mutex::new(Vec::new()),
            workers: (0..workers)
                .map(|_| Mutex::new(WorkerStatus::default()))
                .collect(),
            sinks: Mutex::new(
                labels
                    .iter()
                    .map(|l| (l.clone(), SinkStats::default()))
                    .collect(),
            ),
        }
    }

    /// Replaces worker `index`'s numbers.
    pub fn publish_worker(&self, index: usize, status: WorkerStatus) {
        if let Some(Ok(mut s)) = self.workers.get(index).map(Mutex::lock) {
            *s = status;
        }
    }

    /// Replaces reader `index`'s numbers.
    pub fn publish_reader(&self, index: usize, status: WorkerStatus) {
        if let Ok(mut readers) = self.readers.lock() {
            if readers.len() <= index {
                readers.resize_with(index + 1, WorkerStatus::default);
            }
            readers[index] = status;
        }
    }

    /// A copy of every reader's numbers.
    pub fn readers(&self) -> Vec<WorkerStatus> {
        self.readers.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Replaces the sinks' numbers (in the order of the labels).
    pub fn publish_sinks(&self, stats: impl Iterator<Item = SinkStats>) {
        if let Ok(mut sinks) = self.sinks.lock() {
            for ((_, s), new) in sinks.iter_mut().zip(stats) {
                *s = new;
            }
        }
    }

    /// A copy of every worker's numbers.
    pub fn workers(&self) -> Vec<WorkerStatus> {
        self.workers
            .iter()
            .map(|w| w.lock().map(|w| w.clone()).unwrap_or_default())
            .collect()
    }

    /// The Prometheus text exposition of everything published.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let mut workers: Vec<(String, WorkerStatus)> = self
            .workers()
            .into_iter()
            .enumerate()
            .map(|(i, w)| (i.to_string(), w))
            .collect();
        for (i, reader) in self.readers().into_iter().enumerate() {
            workers.push((format!("reader-{i}"), reader));
        }
        let mut family =
            |name: &str, help: &str, kind: &str, rows: &mut dyn Iterator<Item = (String, u64)>| {
                let _ = writeln!(
                    out,
                    "# HELP flowprobe_{name} {help}\n# TYPE flowprobe_{name} {kind}"
                );
                for (labels, value) in rows {
                    let _ = writeln!(out, "flowprobe_{name}{{{labels}}} {value}");
                }
            };
        let per_worker = |f: &dyn Fn(&WorkerStatus) -> u64| -> Vec<(String, u64)> {
            workers
                .iter()
                .map(|(i, w)| {
                    (
                        format!("worker=\"{i}\",interface=\"{}\"", w.interface),
                        f(w),
                    )
                })
                .collect()
        };
        family(
            "packets_received_total",
            "Packets handed to the worker.",
            "counter",
            &mut per_worker(&|w| w.counters.read).into_iter(),
        );
        family(
            "kernel_packets_total",
            "Packets the kernel counted for the worker's socket.",
            "counter",
            &mut per_worker(&|w| w.kernel_packets).into_iter(),
        );
        family(
            "kernel_drops_total",
            "Packets the kernel dropped for the worker's socket.",
            "counter",
            &mut per_worker(&|w| w.kernel_drops).into_iter(),
        );
        family(
            "packets_metered_total",
            "Packets metered into flow records.",
            "counter",
            &mut per_worker(&|w| w.counters.metered).into_iter(),
        );
        family(
            "octets_metered_total",
            "Octets (IP header and payload) metered.",
            "counter",
            &mut per_worker(&|w| w.counters.metered_octets).into_iter(),
        );
        family(
            "packets_sampled_out_total",
            "Packets left out by sampling.",
            "counter",
            &mut per_worker(&|w| w.counters.sampled_out).into_iter(),
        );
        let mut undecodable = Vec::new();
        for (i, w) in &workers {
            for (reason, n) in Undecodable::ALL.iter().zip(w.counters.undecodable) {
                undecodable.push((format!("worker=\"{i}\",reason=\"{}\"", reason.name()), n));
            }
        }
        family(
            "packets_undecodable_total",
            "Packets that yielded no flow, by reason.",
            "counter",
            &mut undecodable.into_iter(),
        );
        let mut decapsulated = Vec::new();
        for (i, w) in &workers {
            for kind in TunnelKind::ALL {
                decapsulated.push((
                    format!("worker=\"{i}\",tunnel=\"{}\"", kind.name()),
                    w.counters.decapsulated[kind as usize],
                ));
            }
        }
        family(
            "packets_decapsulated_total",
            "Packets metered by the packet inside their tunnel, by tunnel kind (part of \
             packets_metered_total).",
            "counter",
            &mut decapsulated.into_iter(),
        );
        // Payload inspection, by protocol: what was read and what was broken.
        let by_protocol = |f: &dyn Fn(&crate::inspect::InspectStats) -> [u64; 8]| {
            let mut v = Vec::new();
            for (i, w) in &workers {
                let counts = f(&w.counters.inspect);
                for p in crate::inspect::Protocol::APPLICATIONS {
                    v.push((
                        format!("worker=\"{i}\",protocol=\"{}\"", p.name()),
                        counts[p as usize],
                    ));
                }
            }
            v
        };
        family(
            "inspect_found_total",
            "Messages payload inspection read (hellos, queries, heads, banners), by protocol.",
            "counter",
            &mut by_protocol(&|s| s.found).into_iter(),
        );
        family(
            "inspect_errors_total",
            "Payload that was the protocol but broken (inspection errors; the fields stay \
             empty), by protocol.",
            "counter",
            &mut by_protocol(&|s| s.errors).into_iter(),
        );
        family(
            "inspect_connections_total",
            "Connections whose payload inspection began.",
            "counter",
            &mut per_worker(&|w| w.counters.inspect.connections).into_iter(),
        );
        family(
            "inspect_table_full_total",
            "Connections not inspected because the inspection table was full.",
            "counter",
            &mut per_worker(&|w| w.counters.inspect.table_full).into_iter(),
        );
        family(
            "sflow_samples_taken_total",
            "Packets sampled for sFlow collectors (every packet read is also counted above).",
            "counter",
            &mut per_worker(&|w| w.counters.sflow_samples).into_iter(),
        );
        family(
            "flows_active",
            "Flow records held in the cache.",
            "gauge",
            &mut per_worker(&|w| w.counters.active_flows).into_iter(),
        );
        family(
            "flows_created_total",
            "Flow records created.",
            "counter",
            &mut per_worker(&|w| w.counters.flows_created).into_iter(),
        );
        let mut exported = Vec::new();
        for (i, w) in &workers {
            for reason in EndReason::ALL {
                exported.push((
                    format!("worker=\"{i}\",reason=\"{}\"", reason.name()),
                    w.counters.ended(reason),
                ));
            }
        }
        family(
            "flows_exported_total",
            "Flow records ended, by end reason.",
            "counter",
            &mut exported.into_iter(),
        );
        let sinks = self.sinks.lock().map(|s| s.clone()).unwrap_or_default();
        let per_sink = |f: &dyn Fn(&SinkStats) -> u64| -> Vec<(String, u64)> {
            sinks
                .iter()
                .map(|(label, s)| (format!("output=\"{}\"", label.replace('"', "'")), f(s)))
                .collect()
        };
        family(
            "export_messages_total",
            "Export messages sent.",
            "counter",
            &mut per_sink(&|s| s.messages).into_iter(),
        );
        family(
            "export_records_total",
            "Flow records in export messages sent.",
            "counter",
            &mut per_sink(&|s| s.records).into_iter(),
        );
        family(
            "export_bytes_total",
            "Octets of export messages sent.",
            "counter",
            &mut per_sink(&|s| s.bytes).into_iter(),
        );
        family(
            "export_errors_total",
            "Failed sends, writes and connection losses.",
            "counter",
            &mut per_sink(&|s| s.send_errors).into_iter(),
        );
        family(
            "export_records_lost_total",
            "Flow records in messages that were dropped.",
            "counter",
            &mut per_sink(&|s| s.records_lost).into_iter(),
        );
        // The same numbers in sFlow's words, for the sFlow outputs alone.
        let per_sflow_sink = |f: &dyn Fn(&SinkStats) -> u64| -> Vec<(String, u64)> {
            let sflow = |label: &String| label.starts_with("sflow://");
            sinks
                .iter()
                .filter(|(label, _)| sflow(label))
                .map(|(label, s)| (format!("output=\"{}\"", label.replace('"', "'")), f(s)))
                .collect()
        };
        family(
            "sflow_datagrams_total",
            "sFlow datagrams sent, per sFlow collector.",
            "counter",
            &mut per_sflow_sink(&|s| s.messages).into_iter(),
        );
        family(
            "sflow_samples_sent_total",
            "Flow and counter samples in the sFlow datagrams sent, per sFlow collector.",
            "counter",
            &mut per_sflow_sink(&|s| s.records).into_iter(),
        );
        family(
            "sflow_send_errors_total",
            "Failed sFlow datagram sends, per sFlow collector.",
            "counter",
            &mut per_sflow_sink(&|s| s.send_errors).into_iter(),
        );
        out
    }
}

/// A running endpoint; stops when dropped.
pub struct MetricsServer {
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    handle: Option<thread::JoinHandle<()>>,
}

impl MetricsServer {
    /// Serves `registry` at `addr` (any path; `GET /metrics` is what Prometheus asks).
    pub fn start(addr: SocketAddr, registry: Arc<Registry>) -> std::io::Result<MetricsServer> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let handle = thread::Builder::new().name("flowprobe-metrics".into()).spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((mut stream, _)) => {
                        let _ = stream.set_nonblocking(false);
                        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut request = [0u8; 1024];
                        let _ = stream.read(&mut request);
                        let body = registry.render();
                        let _ = write!(
                            stream,
                            "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => thread::sleep(Duration::from_millis(50)),
                    Err(_) => thread::sleep(Duration::from_millis(50)),
                }
            }
        })?;
        log::info!("statistics served at http://{addr}/metrics");
        Ok(MetricsServer {
            stop,
            addr,
            handle: Some(handle),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_what_was_published() {
        let registry = Arc::new(Registry::new(2, &["ipfix://127.0.0.1:4739".into()]));
        let server =
            MetricsServer::start("127.0.0.1:0".parse().unwrap(), Arc::clone(&registry)).unwrap();
        let get = || {
            let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
            s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
            let mut body = String::new();
            s.read_to_string(&mut body).unwrap();
            body
        };
        assert!(get().contains("flowprobe_packets_received_total{worker=\"1\",interface=\"\"} 0"));
        let mut status = WorkerStatus {
            interface: "eth1".into(),
            ..Default::default()
        };
        status.counters.read = 42;
        status.counters.decapsulated[TunnelKind::GtpU as usize] = 5;
        registry.publish_worker(1, status);
        registry.publish_sinks(
            [SinkStats {
                messages: 7,
                ..Default::default()
            }]
            .into_iter(),
        );
        let body = get();
        assert!(body.starts_with("HTTP/1.0 200 OK"));
        assert!(
            body.contains("flowprobe_packets_received_total{worker=\"1\",interface=\"eth1\"} 42"),
            "{body}"
        );
        assert!(
            body.contains("flowprobe_export_messages_total{output=\"ipfix://127.0.0.1:4739\"} 7")
        );
        assert!(
            body.contains("flowprobe_packets_undecodable_total{worker=\"0\",reason=\"not_ip\"} 0")
        );
        assert!(
            body.contains("flowprobe_packets_decapsulated_total{worker=\"1\",tunnel=\"gtp-u\"} 5")
        );
    }
}
