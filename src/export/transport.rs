//! Where encoded messages go: UDP (paced or not), IPFIX over TCP, RFC 5655 IPFIX files.
//!
//! The encoders build whole messages; a transport only moves bytes and counts. This is
//! the I/O edge of the exporter, so it is the one place that reads the wall clock
//! (`Instant`, for pacing and reconnect backoff), never the encoders.
//!
//! - **UDP** ([`UdpTransport`]): a connected socket2 socket with a configurable send
//!   buffer. Connected, so the kernel reports ICMP port-unreachable as `ECONNREFUSED` on a
//!   later send: counted and logged (rate-limited), never fatal. A send timeout of 100 ms
//!   bounds how long a full socket buffer can hold the caller. Optional pacing (messages
//!   per second, token bucket with a 10 ms burst) keeps an offline conversion, which
//!   produces messages much faster than real time, from overrunning a collector.
//! - **TCP** ([`TcpTransport`], IPFIX only, RFC 7011 section 10.4): non-blocking connect
//!   and writes driven from `send`/`poll`, so a dead or slow collector never blocks the
//!   exporter. While down, messages wait in a bounded queue (oldest kept, newest dropped
//!   and counted when full); reconnects back off exponentially. Every connection starts
//!   with the template "preamble" the sink registered (templates are sent once per
//!   connection, as RFC 7011 section 8 asks for reliable transports), with its sequence
//!   number set to that of the next queued message. A message cut by a reset is counted
//!   lost (its tail is never sent into a new connection). Messages already written to
//!   the kernel when the peer dies cannot be known lost; that is TCP's limit, not ours.
//! - **File** ([`FileTransport`]): RFC 5655 says an IPFIX file is a plain sequence of
//!   IPFIX messages; templates once at the start. Write errors are returned, not hidden.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::stats::{RateLimitedLog, SinkStats};

/// How often at most a transport logs the same kind of failure.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Moves finished messages somewhere and counts what happened to them.
pub trait Transport: Send {
    /// Sends (or queues) one message with `flow_records` flow records and `data_records`
    /// data records (flow + options). Failures of a network peer are counted in `stats`
    /// and return `Ok`; only local failures that must stop the sink (a file write) are
    /// returned as errors.
    fn send(
        &mut self,
        msg: &[u8],
        flow_records: u32,
        data_records: u32,
        stats: &mut SinkStats,
    ) -> io::Result<()>;

    /// Makes progress without new data (TCP: connect, flush the queue). Cheap.
    fn poll(&mut self, _stats: &mut SinkStats) -> io::Result<()> {
        Ok(())
    }

    /// End of the run: deliver what is queued (bounded in time), then close.
    fn finish(&mut self, stats: &mut SinkStats) -> io::Result<()>;

    /// What the sink must do about templates on this transport.
    fn template_policy(&self) -> TemplatePolicy;

    /// Registers the template message sent at the start of every connection (TCP only).
    fn set_preamble(&mut self, _msg: &[u8]) {}

    /// Connections established so far (the sink re-announces options after a new one).
    fn sessions(&self) -> u64 {
        1
    }
}

/// Who sends templates, and how often.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TemplatePolicy {
    /// Unreliable transport (UDP): the sink sends templates first and refreshes them by
    /// time and message count (RFC 7011 section 8.4, RFC 3954 section 9).
    Refresh,
    /// One session (file): the sink sends templates once, first.
    Once,
    /// The transport sends the registered preamble at each connection start (TCP).
    Preamble,
}

/// UDP to one collector.
pub struct UdpTransport {
    socket: Socket,
    peer: SocketAddr,
    pacer: Option<Pacer>,
    log: RateLimitedLog,
}

impl UdpTransport {
    /// A socket connected to `peer`, with `send_buffer` octets of send buffer if given,
    /// pacing at `pacing` messages per second if given.
    pub fn new(
        peer: SocketAddr,
        send_buffer: Option<usize>,
        pacing: Option<u32>,
    ) -> io::Result<UdpTransport> {
        let socket = Socket::new(Domain::for_address(peer), Type::DGRAM, Some(Protocol::UDP))?;
        if let Some(size) = send_buffer {
            socket.set_send_buffer_size(size)?;
        }
        socket.set_write_timeout(Some(Duration::from_millis(100)))?;
        socket.connect(&SockAddr::from(peer))?;
        Ok(UdpTransport {
            socket,
            peer,
            pacer: pacing.filter(|&r| r > 0).map(Pacer::new),
            log: RateLimitedLog::new(LOG_INTERVAL),
        })
    }

    /// The local address the messages come from.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.socket.local_addr().ok().and_then(|a| a.as_socket())
    }
}

impl Transport for UdpTransport {
    fn send(
        &mut self,
        msg: &[u8],
        flow_records: u32,
        _data_records: u32,
        stats: &mut SinkStats,
    ) -> io::Result<()> {
        if let Some(p) = &mut self.pacer {
            p.wait();
        }
        match self.socket.send(msg) {
            Ok(n) if n == msg.len() => {
                stats.messages += 1;
                stats.records += u64::from(flow_records);
                stats.bytes += msg.len() as u64;
            }
            Ok(n) => {
                stats.send_errors += 1;
                stats.records_lost += u64::from(flow_records);
                let peer = self.peer;
                self.log.warn(|| {
                    format!(
                        "UDP collector {peer}: short send ({n} of {} octets)",
                        msg.len()
                    )
                });
            }
            Err(e) => {
                stats.send_errors += 1;
                stats.records_lost += u64::from(flow_records);
                let peer = self.peer;
                self.log
                    .warn(|| format!("UDP collector {peer}: send failed: {e}"));
            }
        }
        Ok(())
    }

    fn finish(&mut self, _stats: &mut SinkStats) -> io::Result<()> {
        Ok(())
    }

    fn template_policy(&self) -> TemplatePolicy {
        TemplatePolicy::Refresh
    }
}

/// Token bucket: one token per message, `rate` tokens a second, 10 ms of burst.
struct Pacer {
    interval: Duration,
    next: Option<Instant>,
}

impl Pacer {
    fn new(rate: u32) -> Pacer {
        Pacer {
            interval: Duration::from_secs(1) / rate,
            next: None,
        }
    }

    fn wait(&mut self) {
        let now = Instant::now();
        let burst = Duration::from_millis(10);
        let mut next = self.next.unwrap_or(now);
        if next > now {
            std::thread::sleep(next - now);
        } else if now.duration_since(next) > burst {
            next = now - burst;
        }
        self.next = Some(next + self.interval);
    }
}

/// Settings of a TCP transport.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpSettings {
    /// Octets of messages kept while the collector is unreachable.
    pub buffer_bytes: usize,
    /// First reconnect delay; doubles per failure up to `backoff_max`.
    pub backoff_initial: Duration,
    /// Longest reconnect delay.
    pub backoff_max: Duration,
    /// A connection attempt not established after this long is abandoned.
    pub connect_timeout: Duration,
    /// How long `finish` keeps trying to deliver the queue.
    pub finish_timeout: Duration,
}

impl Default for TcpSettings {
    fn default() -> TcpSettings {
        TcpSettings {
            buffer_bytes: 8 << 20,
            backoff_initial: Duration::from_millis(250),
            backoff_max: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            finish_timeout: Duration::from_secs(5),
        }
    }
}

struct Queued {
    bytes: Vec<u8>,
    flow_records: u32,
    written: usize,
}

enum TcpState {
    Down { retry_at: Instant },
    Connecting { socket: Socket, since: Instant },
    Up { stream: TcpStream },
}

/// IPFIX over TCP to one collector, reconnecting with backoff.
pub struct TcpTransport {
    peer: SocketAddr,
    settings: TcpSettings,
    state: TcpState,
    backoff: Duration,
    queue: VecDeque<Queued>,
    queued_bytes: usize,
    pool: Vec<Vec<u8>>,
    preamble: Vec<u8>,
    next_sequence: u32,
    last_export_time: u32,
    sessions: u64,
    log: RateLimitedLog,
}

impl TcpTransport {
    /// A transport that connects to `peer` on first use and whenever the connection is lost.
    pub fn new(peer: SocketAddr, settings: TcpSettings) -> TcpTransport {
        TcpTransport {
            peer,
            settings,
            state: TcpState::Down {
                retry_at: Instant::now(),
            },
            backoff: settings.backoff_initial,
            queue: VecDeque::new(),
            queued_bytes: 0,
            pool: Vec::new(),
            preamble: Vec::new(),
            next_sequence: 0,
            last_export_time: 0,
            sessions: 0,
            log: RateLimitedLog::new(LOG_INTERVAL),
        }
    }

    /// Whether a connection is established now.
    pub fn is_connected(&self) -> bool {
        matches!(self.state, TcpState::Up { .. })
    }

    /// Octets waiting to be written.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    fn fail(&mut self, what: &str, e: &io::Error, stats: &mut SinkStats) {
        stats.send_errors += 1;
        // A message partly written into the dead connection is lost: the collector cannot
        // decode half a message, and the rest must not start the next connection.
        if self.queue.front().is_some_and(|q| q.written > 0) {
            if let Some(q) = self.queue.pop_front() {
                if q.flow_records != u32::MAX {
                    stats.records_lost += u64::from(q.flow_records);
                }
                self.queued_bytes -= q.bytes.len();
                self.pool.push(q.bytes);
            }
        }
        // Preambles still queued belong to the dead connection.
        self.drop_preambles();
        let peer = self.peer;
        let backoff = self.backoff;
        self.log
            .warn(|| format!("IPFIX/TCP collector {peer}: {what}: {e}; retrying in {backoff:?}"));
        self.state = TcpState::Down {
            retry_at: Instant::now() + self.backoff,
        };
        self.backoff = (self.backoff * 2).min(self.settings.backoff_max);
    }

    fn drop_preambles(&mut self) {
        while self
            .queue
            .front()
            .is_some_and(|q| q.flow_records == u32::MAX)
        {
            if let Some(q) = self.queue.pop_front() {
                self.queued_bytes -= q.bytes.len();
                self.pool.push(q.bytes);
            }
        }
    }

    fn connected(&mut self, stream: TcpStream, stats: &mut SinkStats) {
        stats.connections += 1;
        self.sessions += 1;
        self.backoff = self.settings.backoff_initial;
        self.state = TcpState::Up { stream };
        if self.preamble.len() >= 16 {
            // The preamble takes the sequence number and export time of the message it
            // precedes (it has no data records, so the sequence does not move).
            let header = self.queue.front().and_then(|q| q.bytes.get(4..12));
            let mut time_and_sequence = [0u8; 8];
            match header {
                Some(h) => time_and_sequence.copy_from_slice(h),
                None => {
                    time_and_sequence[..4].copy_from_slice(&self.last_export_time.to_be_bytes());
                    time_and_sequence[4..].copy_from_slice(&self.next_sequence.to_be_bytes());
                }
            }
            let mut bytes = self.pool.pop().unwrap_or_default();
            bytes.clear();
            bytes.extend_from_slice(&self.preamble);
            bytes[4..12].copy_from_slice(&time_and_sequence);
            self.queued_bytes += bytes.len();
            // flow_records = u32::MAX marks a preamble (no records, not counted).
            self.queue.push_front(Queued {
                bytes,
                flow_records: u32::MAX,
                written: 0,
            });
        }
    }

    /// Drives the state machine as far as it goes without blocking.
    fn pump(&mut self, stats: &mut SinkStats) {
        loop {
            match &mut self.state {
                TcpState::Down { retry_at } => {
                    if Instant::now() < *retry_at {
                        return;
                    }
                    match start_connect(self.peer) {
                        Ok(socket) => {
                            self.state = TcpState::Connecting {
                                socket,
                                since: Instant::now(),
                            }
                        }
                        Err(e) => {
                            self.fail("connect failed", &e, stats);
                            return;
                        }
                    }
                }
                TcpState::Connecting { socket, since } => {
                    match socket.take_error() {
                        Ok(Some(e)) | Err(e) => {
                            self.fail("connect failed", &e, stats);
                            return;
                        }
                        Ok(None) => {}
                    }
                    if socket.peer_addr().is_ok() {
                        let TcpState::Connecting { socket, .. } = std::mem::replace(
                            &mut self.state,
                            TcpState::Down {
                                retry_at: Instant::now(),
                            },
                        ) else {
                            return;
                        };
                        let stream: TcpStream = socket.into();
                        let _ = stream.set_nodelay(true);
                        self.connected(stream, stats);
                        continue;
                    }
                    if since.elapsed() > self.settings.connect_timeout {
                        let e =
                            io::Error::new(io::ErrorKind::TimedOut, "connection attempt timed out");
                        self.fail("connect failed", &e, stats);
                    }
                    return;
                }
                TcpState::Up { stream } => {
                    // The collector sends nothing; a readable EOF or error means it is gone.
                    let mut probe = [0u8; 64];
                    match stream.read(&mut probe) {
                        Ok(0) => {
                            let e = io::Error::new(
                                io::ErrorKind::ConnectionReset,
                                "closed by the collector",
                            );
                            self.fail("connection lost", &e, stats);
                            return;
                        }
                        Ok(_) => {}
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => {
                            self.fail("connection lost", &e, stats);
                            return;
                        }
                    }
                    let Some(front) = self.queue.front_mut() else {
                        return;
                    };
                    match stream.write(front.bytes.get(front.written..).unwrap_or_default()) {
                        Ok(n) => {
                            front.written += n;
                            if front.written >= front.bytes.len() {
                                if let Some(q) = self.queue.pop_front() {
                                    self.queued_bytes -= q.bytes.len();
                                    if q.flow_records != u32::MAX {
                                        stats.messages += 1;
                                        stats.records += u64::from(q.flow_records);
                                        stats.bytes += q.bytes.len() as u64;
                                    }
                                    self.pool.push(q.bytes);
                                }
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => {
                            self.fail("connection lost", &e, stats);
                            return;
                        }
                    }
                }
            }
        }
    }
}

fn start_connect(peer: SocketAddr) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(peer), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&SockAddr::from(peer)) {
        Ok(()) => Ok(socket),
        Err(e)
            if e.raw_os_error() == Some(libc::EINPROGRESS)
                || e.kind() == io::ErrorKind::WouldBlock =>
        {
            Ok(socket)
        }
        Err(e) => Err(e),
    }
}

impl Transport for TcpTransport {
    fn send(
        &mut self,
        msg: &[u8],
        flow_records: u32,
        data_records: u32,
        stats: &mut SinkStats,
    ) -> io::Result<()> {
        if let Some(b) = msg.get(4..12) {
            self.last_export_time = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            let sequence = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
            self.next_sequence = sequence.wrapping_add(data_records);
        }
        if self.queued_bytes + msg.len() > self.settings.buffer_bytes {
            stats.records_lost += u64::from(flow_records);
            let peer = self.peer;
            self.log
                .warn(|| format!("IPFIX/TCP collector {peer}: buffer full, dropping messages"));
        } else {
            let mut bytes = self.pool.pop().unwrap_or_default();
            bytes.clear();
            bytes.extend_from_slice(msg);
            self.queued_bytes += bytes.len();
            self.queue.push_back(Queued {
                bytes,
                flow_records,
                written: 0,
            });
        }
        self.pump(stats);
        Ok(())
    }

    fn poll(&mut self, stats: &mut SinkStats) -> io::Result<()> {
        self.pump(stats);
        Ok(())
    }

    fn finish(&mut self, stats: &mut SinkStats) -> io::Result<()> {
        let deadline = Instant::now() + self.settings.finish_timeout;
        loop {
            self.pump(stats);
            if self.queue.is_empty() || Instant::now() >= deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        self.drop_preambles();
        for q in self.queue.drain(..) {
            if q.flow_records != u32::MAX {
                stats.records_lost += u64::from(q.flow_records);
            }
        }
        self.queued_bytes = 0;
        if let TcpState::Up { stream } = &self.state {
            let _ = stream.shutdown(std::net::Shutdown::Both);
        }
        Ok(())
    }

    fn template_policy(&self) -> TemplatePolicy {
        TemplatePolicy::Preamble
    }

    fn set_preamble(&mut self, msg: &[u8]) {
        self.preamble.clear();
        self.preamble.extend_from_slice(msg);
    }

    fn sessions(&self) -> u64 {
        self.sessions
    }
}

/// An RFC 5655 IPFIX file: the messages, back to back.
///
/// The file is synced to disk before the run ends (`finish`), as nfcapd does with its
/// files: a run that reports success has its records on disk, and a write error that
/// only the disk reports is not lost. A sync of a whole file at the end waits for all of
/// it (15 ms for 16 MB here, seconds on a slow disk), so a thread of the transport's own
/// syncs the file every `SYNC_STEP` bytes while the run goes on, and the end waits only
/// for the last step. A run cut short also leaves a synced prefix behind.
pub struct FileTransport {
    out: BufWriter<File>,
    /// The background syncer (none if its thread could not start).
    syncer: Option<Syncer>,
    /// Bytes handed to `out`, and at the last sync request.
    written: u64,
    requested: u64,
    /// Syncs the background thread made (known once the transport has finished).
    background_syncs: u64,
}

/// Bytes written between two background syncs.
const SYNC_STEP: u64 = 2 << 20;

/// A pipe, a character device (`/dev/null`, `/dev/stdout` on a pipe) cannot be synced
/// (EINVAL): everything was written, which is all there is to do.
fn cannot_sync(e: &io::Error) -> bool {
    e.raw_os_error() == Some(libc::EINVAL)
}

/// A thread that syncs a file each time it is asked, until its requests close.
struct Syncer {
    requests: crossbeam_channel::Sender<()>,
    thread: std::thread::JoinHandle<io::Result<u64>>,
}

impl Syncer {
    fn spawn(file: File) -> io::Result<Syncer> {
        // One request waits at most: a request made while a sync runs is covered by the
        // next one.
        let (requests, received) = crossbeam_channel::bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("flowprobe-sync".into())
            .spawn(move || {
                let mut syncs = 0;
                for () in received {
                    match file.sync_data() {
                        Ok(()) => syncs += 1,
                        Err(e) if cannot_sync(&e) => return Ok(syncs),
                        Err(e) => return Err(e),
                    }
                }
                Ok(syncs)
            })?;
        Ok(Syncer { requests, thread })
    }

    /// Waits for the syncs asked for; how many were made, or the error of the one that
    /// failed.
    fn finish(self) -> io::Result<u64> {
        drop(self.requests);
        self.thread
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("file sync thread panicked")))
    }
}

impl FileTransport {
    /// Creates (truncates) the file at `path`.
    pub fn create(path: &Path) -> io::Result<FileTransport> {
        let file = File::create(path)?;
        let syncer = match file.try_clone().and_then(Syncer::spawn) {
            Ok(s) => Some(s),
            Err(e) => {
                log::warn!("{}: syncing at the end only: {e}", path.display());
                None
            }
        };
        Ok(FileTransport {
            out: BufWriter::with_capacity(1 << 16, file),
            syncer,
            written: 0,
            requested: 0,
            background_syncs: 0,
        })
    }
}

impl Transport for FileTransport {
    fn send(
        &mut self,
        msg: &[u8],
        flow_records: u32,
        _data_records: u32,
        stats: &mut SinkStats,
    ) -> io::Result<()> {
        if let Err(e) = self.out.write_all(msg) {
            stats.send_errors += 1;
            stats.records_lost += u64::from(flow_records);
            return Err(e);
        }
        stats.messages += 1;
        stats.records += u64::from(flow_records);
        stats.bytes += msg.len() as u64;
        self.written += msg.len() as u64;
        if self.written - self.requested >= SYNC_STEP {
            self.requested = self.written;
            match self.syncer.take() {
                // It stopped: the file cannot be synced (fine), or a sync failed, which
                // is reported now rather than when the run ends, maybe days later.
                Some(syncer) if syncer.thread.is_finished() => {
                    self.background_syncs = syncer.finish()?;
                }
                Some(syncer) => {
                    // Busy: the sync under way or the one waiting will cover these bytes
                    // (those still in `out`'s buffer, up to 64 KiB, go with the next).
                    let _ = syncer.requests.try_send(());
                    self.syncer = Some(syncer);
                }
                None => {}
            }
        }
        Ok(())
    }

    fn finish(&mut self, _stats: &mut SinkStats) -> io::Result<()> {
        self.out.flush()?;
        if let Some(syncer) = self.syncer.take() {
            self.background_syncs = syncer.finish()?;
            log::debug!("IPFIX file: {} syncs while writing", self.background_syncs);
        }
        match self.out.get_ref().sync_all() {
            Err(e) if cannot_sync(&e) => Ok(()),
            other => other,
        }
    }

    fn template_policy(&self) -> TemplatePolicy {
        TemplatePolicy::Once
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `steps` times `SYNC_STEP` bytes in 64 KiB messages and finishes.
    fn write_steps(t: &mut FileTransport, steps: u64) -> SinkStats {
        let mut stats = SinkStats::default();
        let msg = vec![0xa5u8; 1 << 16];
        for _ in 0..steps * SYNC_STEP / msg.len() as u64 {
            t.send(&msg, 1, 1, &mut stats).unwrap();
        }
        t.finish(&mut stats).unwrap();
        stats
    }

    #[test]
    fn a_growing_ipfix_file_is_synced_while_written_and_whole_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ipfix");
        let mut t = FileTransport::create(&path).unwrap();
        let stats = write_steps(&mut t, 3);
        assert!(t.background_syncs >= 1, "no sync while writing");
        assert_eq!(stats.bytes, 3 * SYNC_STEP);
        let data = std::fs::read(&path).unwrap();
        assert_eq!(data.len() as u64, 3 * SYNC_STEP);
        assert!(data.iter().all(|&b| b == 0xa5));
    }

    #[test]
    fn a_device_that_cannot_sync_is_written_past_the_sync_step() {
        let mut t = FileTransport::create(Path::new("/dev/null")).unwrap();
        let stats = write_steps(&mut t, 2);
        assert_eq!(stats.bytes, 2 * SYNC_STEP);
        assert_eq!(t.background_syncs, 0);
    }

    /// A syncer that stopped (here: `/dev/null` cannot be synced) is collected on the
    /// next step, where a failed sync would be reported, not only at the end.
    #[test]
    fn a_syncer_that_stopped_is_collected_while_writing() {
        let mut t = FileTransport::create(Path::new("/dev/null")).unwrap();
        let mut stats = SinkStats::default();
        let msg = vec![0u8; 1 << 16];
        for _ in 0..500 {
            if t.syncer.is_none() {
                break;
            }
            for _ in 0..SYNC_STEP / msg.len() as u64 {
                t.send(&msg, 1, 1, &mut stats).unwrap();
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        assert!(t.syncer.is_none(), "the stopped syncer was never collected");
        t.finish(&mut stats).unwrap();
    }

    /// Regression: `--ipfix-file /dev/null` (or a pipe) failed at the end of the run with
    /// "Invalid argument", because such files cannot be fsynced.
    #[test]
    fn ipfix_file_on_a_device_that_cannot_sync_finishes() {
        let mut t = FileTransport::create(Path::new("/dev/null")).unwrap();
        let mut stats = SinkStats::default();
        t.send(&[0u8; 100], 3, 3, &mut stats).unwrap();
        t.finish(&mut stats).unwrap();
        assert_eq!((stats.messages, stats.records, stats.bytes), (1, 3, 100));
    }
}
