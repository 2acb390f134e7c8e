//! The `flowprobe` command: parse the command line, resolve it, run, map errors to exit
//! codes (0 ok, 1 runtime error, 2 usage or config error).

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;

use flowprobe::cli::{
    CacheArgs, Cli, Command, ConvertArgs, ExportArgs, FormatArg, GenerateArgs, RunArgs,
};
use flowprobe::config::parse_duration;
use flowprobe::export::text::{TextFormat, TextSink};
use flowprobe::export::RecordSink;
use flowprobe::flow::cache::CacheConfig;
use flowprobe::pipeline::convert::{convert, ConvertOptions};

/// Exit status for a runtime error.
const EXIT_RUNTIME: u8 = 1;
/// Exit status for a usage or configuration error.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let result = match cli.command {
        Command::Convert(args) => run_convert(args),
        Command::Run(args) => run_live(args),
        Command::Generate(args) => run_generate(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            eprintln!("flowprobe: {msg}");
            ExitCode::from(EXIT_USAGE)
        }
        Err(Failure::Runtime(msg)) => {
            eprintln!("flowprobe: {msg}");
            ExitCode::from(EXIT_RUNTIME)
        }
    }
}

enum Failure {
    Usage(String),
    Runtime(String),
}

fn cache_config(args: &CacheArgs) -> Result<CacheConfig, Failure> {
    let d = |name: &str, v: &Option<String>| -> Result<Option<std::time::Duration>, Failure> {
        v.as_deref()
            .map(parse_duration)
            .transpose()
            .map_err(|e| Failure::Usage(format!("--{name}: {e}")))
    };
    let mut c = CacheConfig::default();
    if let Some(t) = d("idle-timeout", &args.idle_timeout)? {
        c.idle_timeout = t;
        c.udp_idle_timeout = t;
        c.icmp_idle_timeout = t;
    }
    if let Some(t) = d("udp-idle-timeout", &args.udp_idle_timeout)? {
        c.udp_idle_timeout = t;
    }
    if let Some(t) = d("icmp-idle-timeout", &args.icmp_idle_timeout)? {
        c.icmp_idle_timeout = t;
    }
    if let Some(t) = d("active-timeout", &args.active_timeout)? {
        c.active_timeout = t;
    }
    if let Some(t) = d("tcp-end-grace", &args.tcp_end_grace)? {
        c.tcp_end_grace = t;
    }
    if let Some(n) = args.max_flows {
        if n == 0 {
            return Err(Failure::Usage("--max-flows: must be at least 1".into()));
        }
        c.max_flows = n;
    }
    Ok(c)
}

fn run_convert(args: ConvertArgs) -> Result<(), Failure> {
    let cache = cache_config(&args.cache)?;
    let sampling = sampling(&args.sample)?;
    let (sinks, labels) = all_sinks(&args.export, args.format, &args.output, sampling, true)?;
    let options = ConvertOptions {
        workers: args.threads.unwrap_or(1).max(1),
        files: args.files,
        cache,
        sampling,
        progress: !args.no_progress && io::stderr().is_terminal(),
    };
    let report =
        convert(&options, sinks).map_err(|e| Failure::Runtime(format!("cannot start: {e}")))?;
    if log::log_enabled!(log::Level::Warn) {
        eprint!("{}", report.counters.summary());
        eprint!("{}", sink_summary(&report.exporter, &labels));
    }
    if report.exporter.packets != report.counters.metered {
        return Err(Failure::Runtime(format!(
            "internal error: {} packets metered but {} exported",
            report.counters.metered, report.exporter.packets
        )));
    }
    let mut problems: Vec<String> = report.file_errors.iter().map(|e| e.to_string()).collect();
    problems.extend(
        report
            .exporter
            .failures
            .iter()
            .map(|(_, e)| format!("output failed: {e}")),
    );
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Failure::Runtime(problems.join("\nflowprobe: ")))
    }
}

/// The sinks for `--collector` and `--ipfix-file`, with a label each for the summary.
fn export_sinks(
    args: &ExportArgs,
    sampling: flowprobe::flow::sampling::Sampling,
    offline: bool,
) -> Result<(Vec<Box<dyn RecordSink>>, Vec<String>), Failure> {
    use flowprobe::export::{
        collector_sink, ipfix_file_sink, sink::DEFAULT_PACING, CollectorUrl, ExportOptions,
        SamplingAnnouncement,
    };
    use flowprobe::flow::sampling::SamplingMode;

    let usage = |flag: &str, e: &dyn std::fmt::Display| Failure::Usage(format!("{flag}: {e}"));
    let mut opts = ExportOptions::default();
    if let Some(id) = args.observation_domain {
        opts.observation_domain_id = id;
    }
    if let Some(t) = &args.template_refresh {
        opts.template_refresh = parse_duration(t).map_err(|e| usage("--template-refresh", &e))?;
    }
    if let Some(n) = args.template_refresh_packets {
        opts.template_refresh_packets = n;
    }
    if let Some(size) = &args.max_message_size {
        opts.max_message_size = flowprobe::config::parse_size(size)
            .map_err(|e| usage("--max-message-size", &e))? as usize;
    }
    if let Some(size) = &args.udp_send_buffer {
        opts.udp_send_buffer = Some(
            flowprobe::config::parse_size(size).map_err(|e| usage("--udp-send-buffer", &e))?
                as usize,
        );
    }
    opts.pacing = match args.pace {
        Some(0) => None,
        Some(n) => Some(n),
        None if offline => Some(DEFAULT_PACING),
        None => None,
    };
    opts.sampling = match sampling.mode {
        SamplingMode::None => SamplingAnnouncement::None,
        SamplingMode::Deterministic => SamplingAnnouncement::Deterministic {
            interval: sampling.interval,
        },
        SamplingMode::Random => SamplingAnnouncement::Random {
            interval: sampling.interval,
        },
        SamplingMode::FlowHash => SamplingAnnouncement::FlowHash {
            interval: sampling.interval,
        },
    };
    let mut sinks = Vec::new();
    let mut labels = Vec::new();
    for text in &args.collectors {
        let url: CollectorUrl = text.parse().map_err(|e| usage("--collector", &e))?;
        sinks.push(collector_sink(&url, &opts).map_err(|e| usage("--collector", &e))?);
        labels.push(url.to_string());
    }
    if let Some(path) = &args.ipfix_file {
        sinks.push(ipfix_file_sink(path, &opts).map_err(|e| Failure::Runtime(e.to_string()))?);
        labels.push(path.display().to_string());
    }
    Ok((sinks, labels))
}

/// Export and text sinks of a run: text when asked for (`-f`/`-o`) or when nothing else is.
fn all_sinks(
    export: &ExportArgs,
    format: Option<FormatArg>,
    output: &Option<std::path::PathBuf>,
    sampling: flowprobe::flow::sampling::Sampling,
    offline: bool,
) -> Result<(Vec<Box<dyn RecordSink>>, Vec<String>), Failure> {
    let (mut sinks, mut labels) = export_sinks(export, sampling, offline)?;
    if sinks.is_empty() || format.is_some() || output.is_some() {
        sinks.push(text_sink(format, output)?);
        labels.push(
            output
                .as_ref()
                .map_or("standard output".into(), |p| p.display().to_string()),
        );
    }
    Ok((sinks, labels))
}

/// One line per export sink: what it sent and lost.
fn sink_summary(
    report: &flowprobe::pipeline::exporter::ExporterReport,
    labels: &[String],
) -> String {
    let mut s = String::new();
    for (stats, label) in report.sinks.iter().zip(labels) {
        if stats.messages == 0
            && stats.records == 0
            && stats.send_errors == 0
            && stats.records_lost == 0
        {
            continue;
        }
        s.push_str(&format!(
            "export {label}: {} messages, {} records, {} bytes, {} send errors, {} records lost, {} not exportable\n",
            stats.messages, stats.records, stats.bytes, stats.send_errors, stats.records_lost, stats.not_exportable
        ));
    }
    s
}

fn sampling(spec: &Option<String>) -> Result<flowprobe::flow::sampling::Sampling, Failure> {
    spec.as_deref()
        .map_or(Ok(Default::default()), str::parse)
        .map_err(|e| Failure::Usage(format!("--sample: {e}")))
}

/// The text sink for `-f`/`-o`: table on a terminal, CSV otherwise.
fn text_sink(
    format: Option<FormatArg>,
    output: &Option<std::path::PathBuf>,
) -> Result<Box<dyn RecordSink>, Failure> {
    let to_terminal = output.is_none() && io::stdout().is_terminal();
    let format = match format {
        Some(FormatArg::Table) => TextFormat::Table,
        Some(FormatArg::Csv) => TextFormat::Csv,
        Some(FormatArg::Json) => TextFormat::Json,
        None if to_terminal => TextFormat::Table,
        None => TextFormat::Csv,
    };
    let out: Box<dyn Write + Send> = match output {
        Some(path) => Box::new(BufWriter::with_capacity(
            1 << 16,
            File::create(path)
                .map_err(|e| Failure::Runtime(format!("cannot create {}: {e}", path.display())))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
    };
    Ok(Box::new(TextSink::new(format, out)))
}

#[cfg(target_os = "linux")]
fn run_live(args: RunArgs) -> Result<(), Failure> {
    use flowprobe::capture::af_packet::RingConfig;
    use flowprobe::config::parse_size;
    use flowprobe::pipeline::live::{run_live, Backend, LiveOptions, StopFlags};
    use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};

    let cache = cache_config(&args.cache)?;
    let mut ring = RingConfig::default();
    if let Some(size) = &args.ring_block_size {
        ring.block_size = parse_size(size)
            .map_err(|e| Failure::Usage(format!("--ring-block-size: {e}")))?
            as usize;
    }
    if let Some(n) = args.ring_blocks {
        ring.block_count = n;
    }
    if let Some(t) = &args.ring_block_timeout {
        ring.block_timeout =
            parse_duration(t).map_err(|e| Failure::Usage(format!("--ring-block-timeout: {e}")))?;
    }
    ring.promiscuous = !args.no_promisc;
    let stats_interval = args
        .stats_interval
        .as_deref()
        .map(parse_duration)
        .transpose()
        .map_err(|e| Failure::Usage(format!("--stats-interval: {e}")))?
        .filter(|d| !d.is_zero());
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let options = LiveOptions {
        interfaces: args.interfaces,
        threads,
        backend: match args.backend {
            flowprobe::cli::BackendArg::AfPacket => Backend::AfPacket,
            flowprobe::cli::BackendArg::Libpcap => Backend::Libpcap,
        },
        ring,
        filter: args.filter,
        sampling: sampling(&args.sample)?,
        cache,
        user: args.user,
        stats_interval,
    };
    let (sinks, labels) = all_sinks(
        &args.export,
        args.format,
        &args.output,
        options.sampling,
        false,
    )?;
    let flags = StopFlags::default();
    for signal in [SIGINT, SIGTERM] {
        // A second signal while shutting down ends the process at once.
        signal_hook::flag::register_conditional_shutdown(
            signal,
            EXIT_RUNTIME.into(),
            flags.stop.clone(),
        )
        .and_then(|_| signal_hook::flag::register(signal, flags.stop.clone()))
        .map_err(|e| Failure::Runtime(format!("cannot install signal handlers: {e}")))?;
    }
    signal_hook::flag::register(SIGUSR1, flags.report.clone())
        .map_err(|e| Failure::Runtime(format!("cannot install signal handlers: {e}")))?;
    let report = run_live(&options, sinks, &flags).map_err(|e| Failure::Runtime(e.to_string()))?;
    let total = report.total();
    if log::log_enabled!(log::Level::Warn) {
        eprint!("{}", total.summary());
        let drops: u64 = report.workers.iter().map(|w| w.kernel_drops).sum();
        eprintln!("kernel drops          {drops:>12}");
        eprint!("{}", sink_summary(&report.exporter, &labels));
    }
    if report.exporter.packets != total.metered {
        return Err(Failure::Runtime(format!(
            "internal error: {} packets metered but {} exported",
            total.metered, report.exporter.packets
        )));
    }
    match report.exporter.failures.first() {
        Some((_, e)) => Err(Failure::Runtime(format!("output failed: {e}"))),
        None => Ok(()),
    }
}

#[cfg(not(target_os = "linux"))]
fn run_live(_args: RunArgs) -> Result<(), Failure> {
    Err(Failure::Usage(
        "live capture is implemented for Linux only; use `convert` on capture files".into(),
    ))
}

fn run_generate(args: GenerateArgs) -> Result<(), Failure> {
    use flowprobe::generate::{generate, write_pcap, GenConfig};
    let span = parse_duration(&args.span).map_err(|e| Failure::Usage(format!("--span: {e}")))?;
    let config = GenConfig {
        seed: args.seed,
        conversations: args.conversations,
        mean_packets: args.mean_packets,
        span,
        ..GenConfig::default()
    };
    let generated = generate(&config);
    let file = File::create(&args.output)
        .map_err(|e| Failure::Runtime(format!("cannot create {}: {e}", args.output.display())))?;
    write_pcap(
        &generated,
        args.nanos,
        &mut BufWriter::with_capacity(1 << 20, file),
    )
    .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", args.output.display())))?;
    eprintln!(
        "flowprobe: wrote {}: {} packets in {} conversations",
        args.output.display(),
        generated.packets.len(),
        generated.conversations.len()
    );
    Ok(())
}

/// A logger writing `flowprobe: LEVEL: message` lines to stderr.
struct StderrLogger;

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let _ = writeln!(
                io::stderr(),
                "flowprobe: {}: {}",
                record.level().as_str().to_lowercase(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

fn init_logging(cli: &Cli) {
    static LOGGER: StderrLogger = StderrLogger;
    let level = if cli.quiet {
        log::LevelFilter::Error
    } else {
        match cli.verbose {
            0 => log::LevelFilter::Warn,
            1 => log::LevelFilter::Info,
            2 => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        }
    };
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
