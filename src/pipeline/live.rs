//! Live capture: workers on interfaces, on the wall clock, until told to stop.
//!
//! AF_PACKET (default): each interface gets one TPACKET_V3 ring per worker, all in one
//! fanout group hashing on the flow, so a worker sees every packet of its flows and owns
//! its cache shard outright. libpcap (`--features libpcap`): one reader thread per
//! interface decodes and hands packets to its workers by flow hash (`dispatch`).
//!
//! Time: packets carry the kernel's receive time; between packets the workers tick with
//! the wall clock, a little behind it (`TICK_LAG`) so a ring block that is still being
//! filled does not hold packets older than the worker's clock. A worker with no traffic
//! still ends its records on time.
//!
//! Shutdown is an input (`StopFlags`): the signal handlers in `main` set it, tests set it
//! directly. On stop every worker flushes its shard (forced end), the exporter drains, and
//! `run_live` returns the counters.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use super::exporter::{EndOnPanic, ExportMessage, Exporter, ExporterReport};
use super::metrics::{Registry, WorkerStatus};
use super::stats::Counters;
use super::worker::{Classifier, Worker};
use crate::capture::af_packet::{AfPacketSource, RingConfig};
use crate::capture::live::LiveError;
use crate::capture::{bpf::BpfProgram, iface};
use crate::decode::{Decap, PacketMeta};
use crate::export::RecordSink;
use crate::flow::cache::{CacheConfig, Decoded};
use crate::flow::direction::{DirectionConfig, DirectionRules};
use crate::flow::sampling::Sampling;
use crate::sflow::SamplerConfig;
use crate::time::Timestamp;

/// Decoded packets an AF_PACKET worker meters together (`Worker::meter_batch`).
const LIVE_BATCH: usize = 256;

/// How far behind the wall clock workers tick.
const TICK_LAG: Duration = Duration::from_millis(250);
/// How long a worker waits for packets before it looks at the clock and the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// Which capture mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Linux AF_PACKET TPACKET_V3 rings with fanout.
    AfPacket,
    /// libpcap (needs the `libpcap` feature).
    Libpcap,
}

/// What to capture and how.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// Interfaces to capture on.
    pub interfaces: Vec<String>,
    /// Workers per interface.
    pub threads: usize,
    /// Capture mechanism.
    pub backend: Backend,
    /// Ring sizes, promiscuous mode, fanout (AF_PACKET).
    pub ring: RingConfig,
    /// tcpdump filter expression (compiled by libpcap).
    pub filter: Option<String>,
    /// Bytes captured of each packet (libpcap; AF_PACKET rings take whole frames).
    pub snaplen: u32,
    /// Sampling.
    pub sampling: Sampling,
    /// Tunnels to open (none by default).
    pub decap: Decap,
    /// Timeouts and cache size (`max_flows` for all workers together).
    pub cache: CacheConfig,
    /// Drop root to this user once the sockets are open.
    pub user: Option<String>,
    /// Log a statistics line this often (None: never).
    pub stats_interval: Option<Duration>,
    /// Publish counters here (for the Prometheus endpoint); one slot per worker, that is
    /// `threads` × interfaces. None: a private one.
    pub registry: Option<Arc<Registry>>,
    /// Direction rules applied to every record.
    pub direction: DirectionConfig,
    /// sFlow collectors' sampling (none by default); each capture thread is a sub-agent,
    /// numbered as the workers are.
    pub sflow: SamplerConfig,
    /// Payload inspection (none by default).
    pub inspect: crate::inspect::InspectConfig,
}

/// Flags the run loop watches: set `stop` to end the run, `report` to log statistics.
#[derive(Clone, Debug, Default)]
pub struct StopFlags {
    /// End the run: flush everything and return.
    pub stop: Arc<AtomicBool>,
    /// Log per-worker statistics once (SIGUSR1).
    pub report: Arc<AtomicBool>,
}

/// What a live run did.
#[derive(Debug)]
pub struct LiveReport {
    /// Per worker, then per reader thread (libpcap).
    pub workers: Vec<WorkerStatus>,
    /// What the exporter did.
    pub exporter: ExporterReport,
}

impl LiveReport {
    /// All workers' counters added up.
    pub fn total(&self) -> Counters {
        let mut total = Counters::default();
        for w in &self.workers {
            total.add(&w.counters);
        }
        total
    }
}

/// Captures until `flags.stop` is set, then flushes and returns.
pub fn run_live(
    options: &LiveOptions,
    sinks: Vec<Box<dyn RecordSink>>,
    flags: &StopFlags,
) -> Result<LiveReport, LiveError> {
    let threads = options.threads.max(1);
    let shard = CacheConfig {
        max_flows: (options.cache.max_flows / (threads * options.interfaces.len().max(1))).max(1),
        ..options.cache.clone()
    };
    for ifname in &options.interfaces {
        warn_about_offloads(ifname);
    }
    let total_workers = threads * options.interfaces.len();
    let registry = options
        .registry
        .clone()
        .unwrap_or_else(|| Arc::new(Registry::new(total_workers, &[])));
    let direction = DirectionRules::new(&options.direction);
    let exporter = Exporter::spawn(
        sinks,
        total_workers,
        256,
        Some(Arc::clone(&registry)),
        direction,
    )
    .map_err(LiveError::Thread)?;
    let handles = match options.backend {
        Backend::AfPacket => spawn_af_packet(options, &shard, &exporter, &registry, flags)?,
        Backend::Libpcap => spawn_libpcap(options, &shard, &exporter, &registry, flags)?,
    };
    if let Some(user) = &options.user {
        let (uid, gid) = iface::drop_privileges(user)?;
        log::info!("running as {user} (uid {uid}, gid {gid}) from now on");
    }
    log::info!(
        "capturing on {} with {} worker(s) each ({:?})",
        options.interfaces.join(", "),
        threads,
        options.backend
    );
    let mut last_stats = Instant::now();
    let mut last_tick = Instant::now();
    let ticks = exporter.sender();
    while !flags.stop.load(Ordering::Relaxed) {
        thread::sleep(Duration::from_millis(50));
        if last_tick.elapsed() >= Duration::from_secs(1) {
            // Sinks refresh templates and flush text output on ticks.
            last_tick = Instant::now();
            let _ = ticks.try_send(ExportMessage::Tick(lagged_now()));
        }
        let periodic = options
            .stats_interval
            .is_some_and(|i| last_stats.elapsed() >= i);
        if periodic || flags.report.swap(false, Ordering::Relaxed) {
            last_stats = Instant::now();
            log_statistics(&registry);
        }
        if handles.iter().all(|h| h.is_finished()) {
            break;
        }
    }
    flags.stop.store(true, Ordering::Relaxed);
    drop(ticks);
    for h in handles {
        if h.join().is_err() {
            log::error!("a capture thread panicked");
        }
    }
    let exporter = exporter.finish();
    let mut workers = registry.workers();
    // Readers (libpcap) count what they received and could not decode; workers what they
    // metered: a run's totals are both.
    workers.extend(registry.readers());
    Ok(LiveReport { workers, exporter })
}

fn warn_about_offloads(ifname: &str) {
    match iface::offloads(ifname) {
        Ok(o) if o.any() => {
            let fix = o.fix_command(ifname).unwrap_or_default();
            log::warn!(
                "{ifname} has {} on: the kernel merges packets before the probe sees them, so \
                 packet counts come out low; turn them off with: {fix}",
                o.enabled().collect::<Vec<_>>().join(", ")
            );
        }
        Ok(_) => {}
        Err(e) => log::debug!("cannot read offload settings of {ifname}: {e}"),
    }
}

fn log_statistics(registry: &Registry) {
    for (i, s) in registry.workers().iter().enumerate() {
        let c = &s.counters;
        log::warn!(
            "worker {i} ({}): packets {} metered {} octets {} kernel drops {} undecodable {} \
             sampled out {} flows active {} exported {}",
            s.interface,
            c.read,
            c.metered,
            c.metered_octets,
            s.kernel_drops,
            c.undecodable_total(),
            c.sampled_out,
            c.active_flows,
            c.flows_ended.iter().sum::<u64>()
        );
    }
}

/// The wall clock, a little behind.
fn lagged_now() -> Timestamp {
    Timestamp(
        Timestamp::now()
            .as_nanos()
            .saturating_sub(TICK_LAG.as_nanos() as u64),
    )
}

fn spawn_af_packet(
    options: &LiveOptions,
    shard: &CacheConfig,
    exporter: &Exporter,
    registry: &Arc<Registry>,
    flags: &StopFlags,
) -> Result<Vec<thread::JoinHandle<()>>, LiveError> {
    let mut ring = options.ring.clone();
    if let Some(expr) = &options.filter {
        ring.filter = Some(BpfProgram::compile(expr, 1)?);
    }
    let mut sources = Vec::new();
    for ifname in &options.interfaces {
        sources.extend(AfPacketSource::open_group(
            ifname,
            &ring,
            options.threads.max(1),
        )?);
    }
    let mut handles = Vec::new();
    for (index, mut source) in sources.into_iter().enumerate() {
        let export = exporter.sender();
        let registry = Arc::clone(registry);
        let stop = Arc::clone(&flags.stop);
        let mut worker = Worker::new(shard.clone()).with_shape_pool(exporter.shape_pool());
        let mut classifier = Classifier::new(options.sampling, index as u64)
            .with_decap(options.decap.clone())
            .with_sflow(options.sflow.sampler(index as u32, false, export.clone()))
            .with_inspect(options.inspect, export.clone());
        let name = format!("flowprobe-{}-{index}", source.ifname());
        let handle = thread::Builder::new()
            .name(name)
            .spawn(move || {
                let _end_on_panic = EndOnPanic::new(export.clone(), index);
                let mut meta = PacketMeta::default();
                // Decoded packets of the ring block at hand, metered together.
                let mut batch = Vec::with_capacity(LIVE_BATCH);
                let mut last_tick = Instant::now();
                let mut kernel = Default::default();
                // Ended records to the exporter, counters to the registry.
                let mut report = |worker: &mut Worker,
                                  source: &mut AfPacketSource,
                                  classifier: &mut Classifier,
                                  watermark: Timestamp| {
                    // The notes of the packets metered so far go before their records.
                    classifier.send_notes();
                    worker.send_pending(&export, index, watermark);
                    if let Ok(k) = source.kernel_stats() {
                        kernel = k;
                    }
                    classifier.send_samples(Some(kernel.drops));
                    publish(
                        &registry,
                        index,
                        source.ifname(),
                        classifier,
                        worker,
                        kernel,
                    );
                };
                let mut logged_error = false;
                while !stop.load(Ordering::Relaxed) {
                    let polled = source.poll_packets(POLL, |p| {
                        if classifier.classify(p, &mut meta) {
                            batch.push(Decoded::new(&meta, p.ts));
                            if batch.len() >= LIVE_BATCH {
                                worker.meter_batch(&batch);
                                batch.clear();
                            }
                        }
                    });
                    worker.meter_batch(&batch);
                    batch.clear();
                    if let Err(e) = polled {
                        if !logged_error {
                            log::warn!(
                                "{}: {e}; capture goes on when the interface is back",
                                source.ifname()
                            );
                            logged_error = true;
                        }
                    }
                    if last_tick.elapsed() >= POLL {
                        last_tick = Instant::now();
                        let now = lagged_now();
                        worker.tick(now);
                        classifier.tick(now);
                        let horizon = worker.horizon();
                        report(&mut worker, &mut source, &mut classifier, horizon);
                    }
                }
                worker.flush();
                report(&mut worker, &mut source, &mut classifier, Timestamp::END);
                classifier.finish_samples();
            })
            .map_err(LiveError::Thread)?;
        handles.push(handle);
    }
    Ok(handles)
}

fn publish(
    registry: &Registry,
    index: usize,
    ifname: &str,
    classifier: &Classifier,
    worker: &Worker,
    kernel: crate::capture::af_packet::KernelStats,
) {
    let mut counters = worker.counters();
    counters.add(&classifier.counters());
    registry.publish_worker(
        index,
        WorkerStatus {
            interface: ifname.to_string(),
            counters,
            kernel_packets: kernel.packets,
            kernel_drops: kernel.drops,
        },
    );
}

#[cfg(all(feature = "libpcap", target_os = "linux"))]
fn spawn_libpcap(
    options: &LiveOptions,
    shard: &CacheConfig,
    exporter: &Exporter,
    registry: &Arc<Registry>,
    flags: &StopFlags,
) -> Result<Vec<thread::JoinHandle<()>>, LiveError> {
    use super::dispatch::{Dispatch, Meter};
    use crate::capture::libpcap::LibpcapSource;

    let threads = options.threads.max(1);
    let mut handles = Vec::new();
    for (n, ifname) in options.interfaces.iter().enumerate() {
        let mut source = LibpcapSource::open(
            ifname,
            options.snaplen,
            options.ring.promiscuous,
            options.filter.as_deref(),
            options.ring.block_size * options.ring.block_count,
        )?;
        let first = n * threads;
        let mut dispatch =
            Dispatch::spawn(threads, first, shard, exporter, Some(Arc::clone(registry)))
                .map_err(LiveError::Thread)?;
        let registry = Arc::clone(registry);
        let stop = Arc::clone(&flags.stop);
        let mut classifier = Classifier::new(options.sampling, n as u64)
            .with_decap(options.decap.clone())
            .with_sflow(
                options
                    .sflow
                    .sampler(first as u32, false, exporter.sender()),
            )
            .with_inspect(options.inspect, exporter.sender());
        let ifname = ifname.clone();
        let handle = thread::Builder::new()
            .name(format!("flowprobe-pcap-{ifname}"))
            .spawn(move || {
                let mut meta = PacketMeta::default();
                let mut last_tick = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    let polled = source.poll_packets(POLL, 4096, |p| {
                        if classifier.classify(p, &mut meta) {
                            if let Some(notes) = classifier.notes() {
                                dispatch.notes(notes);
                            }
                            dispatch.meter(&meta, p.ts);
                        }
                    });
                    if let Err(e) = polled {
                        log::warn!("{ifname}: {e}");
                        thread::sleep(POLL);
                    }
                    if last_tick.elapsed() >= POLL {
                        last_tick = Instant::now();
                        let now = lagged_now();
                        dispatch.tick(now);
                        classifier.tick(now);
                        let drops = source.stats().ok().map(|s| u64::from(s.dropped));
                        classifier.send_samples(drops);
                        publish_reader(&registry, n, &ifname, &classifier, &mut source);
                    }
                }
                classifier.finish_samples();
                // The workers publish their own final counters as they finish.
                Box::new(dispatch).finish();
                publish_reader(&registry, n, &ifname, &classifier, &mut source);
            })
            .map_err(LiveError::Thread)?;
        handles.push(handle);
    }
    Ok(handles)
}

#[cfg(all(feature = "libpcap", target_os = "linux"))]
fn publish_reader(
    registry: &Registry,
    index: usize,
    ifname: &str,
    classifier: &Classifier,
    source: &mut crate::capture::libpcap::LibpcapSource,
) {
    let stats = source.stats().ok();
    registry.publish_reader(
        index,
        WorkerStatus {
            interface: ifname.to_string(),
            counters: classifier.counters(),
            kernel_packets: stats.map_or(0, |s| u64::from(s.received)),
            kernel_drops: stats.map_or(0, |s| u64::from(s.dropped)),
        },
    );
}

#[cfg(not(all(feature = "libpcap", target_os = "linux")))]
fn spawn_libpcap(
    _options: &LiveOptions,
    _shard: &CacheConfig,
    _exporter: &Exporter,
    _registry: &Arc<Registry>,
    _flags: &StopFlags,
) -> Result<Vec<thread::JoinHandle<()>>, LiveError> {
    Err(LiveError::BackendNeedsLibpcap)
}
