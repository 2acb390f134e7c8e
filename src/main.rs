//! The `flowprobe` command: parse the command line, resolve it, run, map errors to exit
//! codes (0 ok, 1 runtime error, 2 usage or config error).

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use flowprobe::cli::{
    CheckConfigArgs, Cli, Command, ConvertArgs, ExportArgs, FormatArg, GenerateArgs, RunArgs,
};
use flowprobe::config::{flags, load, parse_duration, Config, Quantity, RawConfig, Setting};
use flowprobe::export::columns::InspectColumns;
use flowprobe::export::output::{output_sink, OutputError, OutputFormat, OutputSpec};
use flowprobe::export::text::TextFormat;
use flowprobe::export::RecordSink;
use flowprobe::flow::sampling::{Sampling, SamplingMode};
use flowprobe::pipeline::convert::{convert, ConvertOptions};
use flowprobe::pipeline::metrics::{MetricsServer, Registry};

/// Exit status for a runtime error.
const EXIT_RUNTIME: u8 = 1;
/// Exit status for a usage or configuration error.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let result = match cli.command {
        Command::Convert(args) => convert_flags(&args)
            .and_then(|flags| config(cli.config.as_deref(), cli.verbose, cli.quiet, flags))
            .and_then(|config| run_convert(args, config)),
        Command::Run(args) => run_flags(&args)
            .and_then(|flags| config(cli.config.as_deref(), cli.verbose, cli.quiet, flags))
            .and_then(|config| run_live((args, config))),
        Command::Generate(args) => run_generate(args),
        Command::CheckConfig(args) => run_check_config(args),
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

/// The running configuration: defaults < the `-c` file < `flags` (and `-v`/`-q`).
/// Sets the log level it asks for.
fn config(
    file: Option<&Path>,
    verbose: u8,
    quiet: bool,
    mut flags: RawConfig,
) -> Result<Config, Failure> {
    flags.logging = flags::logging_from_flags(verbose, quiet);
    let config = load(file, flags)
        .map_err(|e| Failure::Usage(e.to_string().replace('\n', "\nflowprobe: ")))?;
    log::set_max_level(config.logging.level.filter());
    if let Some(auto) = &config.max_flows_auto {
        log::info!("{auto}");
    }
    Ok(config)
}

fn run_check_config(args: CheckConfigArgs) -> Result<(), Failure> {
    let config = load(Some(&args.file), RawConfig::default())
        .map_err(|e| Failure::Usage(e.to_string().replace('\n', "\nflowprobe: ")))?;
    if args.print {
        print!("{}", config.to_toml());
    } else {
        println!("{}: ok", args.file.display());
    }
    Ok(())
}

/// `--sample` into the raw shape (the mode's canonical name and the rate).
fn sampling_flag(spec: &Option<String>, raw: &mut RawConfig) -> Result<(), Failure> {
    let Some(spec) = spec else { return Ok(()) };
    let sampling: Sampling = spec
        .parse()
        .map_err(|e| Failure::Usage(format!("--sample: {e}")))?;
    let mode = match sampling.mode {
        SamplingMode::None => "none",
        SamplingMode::Deterministic => "deterministic",
        SamplingMode::Random => "random",
        SamplingMode::FlowHash => "flow-hash",
    };
    raw.sampling.mode = Some(Setting::flag(mode, "--sample"));
    raw.sampling.rate = Some(Setting::flag(i64::from(sampling.interval), "--sample"));
    Ok(())
}

/// The export flags into the raw shape.
fn export_flags(args: &ExportArgs, raw: &mut RawConfig) {
    let e = &mut raw.export;
    if !args.collectors.is_empty() {
        e.collectors = Some(Setting::flag_list(args.collectors.clone(), "--collector"));
    }
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    e.ipfix_file = path(&args.ipfix_file).map(|p| Setting::flag(p, "--ipfix-file"));
    if args.ipfix_file_biflow {
        e.ipfix_file_biflow = Some(Setting::flag(true, "--ipfix-file-biflow"));
    }
    if args.biflow {
        e.text_biflow = Some(Setting::flag(true, "--biflow"));
    }
    e.observation_domain_id = args
        .observation_domain
        .map(|n| Setting::flag(i64::from(n), "--observation-domain"));
    e.template_refresh = args
        .template_refresh
        .clone()
        .map(|v| Setting::flag(Quantity(v), "--template-refresh"));
    e.template_refresh_packets = args
        .template_refresh_packets
        .map(|n| Setting::flag(i64::from(n), "--template-refresh-packets"));
    e.max_message_size = args
        .max_message_size
        .clone()
        .map(|v| Setting::flag(Quantity(v), "--max-message-size"));
    e.udp_send_buffer = args
        .udp_send_buffer
        .clone()
        .map(|v| Setting::flag(Quantity(v), "--udp-send-buffer"));
    e.pace = args.pace.map(|n| Setting::flag(i64::from(n), "--pace"));
    raw.sflow.agent_address = args
        .sflow_agent_address
        .clone()
        .map(|a| Setting::flag(a, "--sflow-agent-address"));
}

fn convert_flags(args: &ConvertArgs) -> Result<RawConfig, Failure> {
    let mut raw = flags::from_cache_args(&args.cache);
    raw.statistics.prometheus_listen = args
        .prometheus_listen
        .clone()
        .map(|a| Setting::flag(a, "--prometheus-listen"));
    sampling_flag(&args.sample, &mut raw)?;
    export_flags(&args.export, &mut raw);
    raw.direction = flags::from_direction_args(&args.direction);
    Ok(raw)
}

fn run_flags(args: &RunArgs) -> Result<RawConfig, Failure> {
    let mut raw = flags::from_cache_args(&args.cache);
    raw.statistics.prometheus_listen = args
        .prometheus_listen
        .clone()
        .map(|a| Setting::flag(a, "--prometheus-listen"));
    sampling_flag(&args.sample, &mut raw)?;
    export_flags(&args.export, &mut raw);
    raw.direction = flags::from_direction_args(&args.direction);
    let c = &mut raw.capture;
    if !args.interfaces.is_empty() {
        c.interfaces = Some(Setting::flag_list(args.interfaces.clone(), "--interface"));
    }
    c.threads = args
        .threads
        .map(|n| Setting::flag(i64::try_from(n).unwrap_or(i64::MAX), "--threads"));
    c.backend = args.backend.map(|b| {
        let name = match b {
            flowprobe::cli::BackendArg::AfPacket => "af-packet",
            flowprobe::cli::BackendArg::Libpcap => "libpcap",
        };
        Setting::flag(name, "--backend")
    });
    c.filter = args.filter.clone().map(|f| Setting::flag(f, "--filter"));
    c.user = args.user.clone().map(|u| Setting::flag(u, "--user"));
    if args.no_promisc {
        c.promiscuous = Some(Setting::flag(false, "--no-promisc"));
    }
    c.ring_block_size = args
        .ring_block_size
        .clone()
        .map(|v| Setting::flag(Quantity(v), "--ring-block-size"));
    c.ring_block_count = args
        .ring_blocks
        .map(|n| Setting::flag(i64::try_from(n).unwrap_or(i64::MAX), "--ring-blocks"));
    c.ring_block_timeout = args
        .ring_block_timeout
        .clone()
        .map(|v| Setting::flag(Quantity(v), "--ring-block-timeout"));
    raw.statistics.interval = args
        .stats_interval
        .clone()
        .map(|v| Setting::flag(Quantity(v), "--stats-interval"));
    Ok(raw)
}

/// The flow cache as the outputs need it: one biflow output puts it in biflow mode, and
/// the uniflow outputs then get each record split in two (`FlowRecord::uniflows`).
fn metering_cache(config: &Config) -> flowprobe::flow::cache::CacheConfig {
    let inspect = &config.inspect;
    flowprobe::flow::cache::CacheConfig {
        biflow: config.wants_biflow(),
        shape: inspect.protocols.shapes_records().then(|| {
            let splt = inspect.protocols.has(flowprobe::inspect::Protocol::Splt);
            flowprobe::inspect::splt::ShapeConfig {
                splt_packets: if splt { inspect.splt_packets } else { 0 },
            }
        }),
        ..config.cache.clone()
    }
}

/// The Prometheus endpoint, when `statistics.prometheus_listen` asks for one.
fn metrics(
    config: &Config,
    workers: usize,
    labels: &[String],
) -> Result<(Option<std::sync::Arc<Registry>>, Option<MetricsServer>), Failure> {
    let Some(addr) = config.statistics.prometheus_listen else {
        return Ok((None, None));
    };
    let registry = std::sync::Arc::new(Registry::new(workers, labels));
    let server = MetricsServer::start(addr, std::sync::Arc::clone(&registry))
        .map_err(|e| Failure::Runtime(format!("statistics endpoint on {addr}: {e}")))?;
    Ok((Some(registry), Some(server)))
}

/// The sampling in force, as the classifier takes it.
fn sampling_of(config: &Config) -> Sampling {
    let mode = config.sampling.mode;
    if mode == SamplingMode::None || config.sampling.rate <= 1 {
        Sampling::default()
    } else {
        Sampling {
            mode,
            interval: config.sampling.rate,
        }
    }
}

fn run_convert(args: ConvertArgs, config: Config) -> Result<(), Failure> {
    let sampling = sampling_of(&config);
    let (sinks, labels) = all_sinks(
        &config,
        args.format,
        &args.output,
        &args.rotate,
        sampling,
        true,
    )?;
    let workers = args.threads.unwrap_or(1).max(1);
    let (registry, _server) = metrics(&config, workers, &labels)?;
    let options = ConvertOptions {
        registry,
        workers,
        files: args.files,
        cache: metering_cache(&config),
        sampling,
        decap: config.tunnels.clone(),
        inspect: config.inspect,
        progress: !args.no_progress && io::stderr().is_terminal(),
        direction: config.direction.clone(),
        sflow: sflow_samplers(&config)?,
    };
    let report =
        convert(&options, sinks).map_err(|e| Failure::Runtime(format!("cannot start: {e}")))?;
    if log::log_enabled!(log::Level::Warn) {
        eprint!("{}", report.counters.summary());
        eprint!("{}", sink_summary(&report.exporter, &labels));
    }
    let file_errors = report.file_errors.iter().map(|e| e.to_string()).collect();
    outcome(&report.counters, &report.exporter, file_errors)
}

/// How a run ends: an internal error if exported packets differ from metered ones (every
/// metered packet must end in a record), else a runtime error listing `problems` and every
/// failed output, else success.
fn outcome(
    counters: &flowprobe::pipeline::stats::Counters,
    exporter: &flowprobe::pipeline::exporter::ExporterReport,
    mut problems: Vec<String>,
) -> Result<(), Failure> {
    if exporter.packets != counters.metered {
        return Err(Failure::Runtime(format!(
            "internal error: {} packets metered but {} exported",
            counters.metered, exporter.packets
        )));
    }
    problems.extend(
        exporter
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

/// Record sinks and, for each, a label for the summary and the statistics.
type Sinks = (Vec<Box<dyn RecordSink>>, Vec<String>);

/// The sinks for the configured collectors and IPFIX file, with a label each.
fn export_sinks(config: &Config, sampling: Sampling, offline: bool) -> Result<Sinks, Failure> {
    use flowprobe::export::{
        collector_sink, ipfix_file_sink, CollectorProtocol, ExportOptions, SamplingAnnouncement,
    };
    use flowprobe::sflow::SflowCounterSource;

    let e = &config.export;
    let usage = |what: &str, err: &dyn std::fmt::Display| Failure::Usage(format!("{what}: {err}"));
    let opts = ExportOptions {
        observation_domain_id: e.observation_domain_id,
        template_refresh: e.template_refresh,
        template_refresh_packets: e.template_refresh_packets,
        max_message_size: usize::try_from(e.max_message_size).unwrap_or(usize::MAX),
        udp_send_buffer: Some(usize::try_from(e.udp_send_buffer).unwrap_or(usize::MAX))
            .filter(|&n| n > 0),
        // Pacing keeps a conversion from overrunning a collector; live traffic paces itself.
        pacing: if offline && e.pace > 0 {
            Some(e.pace)
        } else {
            None
        },
        sampling: match sampling.mode {
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
        },
        inspect: config.inspect,
        ..ExportOptions::default()
    };
    let mut sinks = Vec::new();
    let mut labels = Vec::new();
    let urls = collector_urls(config)?;
    let agent = sflow_agent_address(config, &urls, offline)?;
    let mut sflow_index = 0;
    for url in &urls {
        let opts = if url.protocol == CollectorProtocol::Sflow {
            sflow_index += 1;
            ExportOptions {
                sflow: flowprobe::sflow::SflowSinkOptions {
                    collector: sflow_index - 1,
                    agent,
                    counters: if offline {
                        SflowCounterSource::Capture
                    } else {
                        SflowCounterSource::Kernel {
                            interfaces: config.capture.interfaces.clone(),
                            interval: config.sflow.polling_interval,
                        }
                    },
                },
                ..opts.clone()
            }
        } else {
            opts.clone()
        };
        sinks.push(collector_sink(url, &opts).map_err(|err| usage("export.collectors", &err))?);
        labels.push(url.to_string());
    }
    if let Some(path) = &e.ipfix_file {
        let opts = ExportOptions {
            biflow: e.ipfix_file_biflow,
            ..opts.clone()
        };
        sinks.push(ipfix_file_sink(path, &opts).map_err(|err| Failure::Runtime(err.to_string()))?);
        labels.push(path.display().to_string());
    }
    Ok((sinks, labels))
}

/// The configured collectors, parsed.
fn collector_urls(config: &Config) -> Result<Vec<flowprobe::export::CollectorUrl>, Failure> {
    config
        .export
        .collectors
        .iter()
        .map(|text| {
            text.parse()
                .map_err(|err| Failure::Usage(format!("export.collectors: {err}")))
        })
        .collect()
}

/// The sFlow collectors' sampling, in the order given, for the samplers.
fn sflow_samplers(config: &Config) -> Result<flowprobe::sflow::SamplerConfig, Failure> {
    Ok(flowprobe::sflow::SamplerConfig {
        collectors: collector_urls(config)?
            .iter()
            .filter_map(|u| u.sflow)
            .collect(),
        polling_interval: config.sflow.polling_interval,
    })
}

/// The agent address of sFlow datagrams: as configured; else offline 0.0.0.0, live the
/// source address routing to the first sFlow collector.
fn sflow_agent_address(
    config: &Config,
    urls: &[flowprobe::export::CollectorUrl],
    offline: bool,
) -> Result<std::net::IpAddr, Failure> {
    let unspecified = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
    if let Some(a) = config.sflow.agent_address {
        return Ok(a);
    }
    let first = urls
        .iter()
        .find(|u| u.protocol == flowprobe::export::CollectorProtocol::Sflow);
    let (Some(url), false) = (first, offline) else {
        return Ok(unspecified);
    };
    let peer = url
        .resolve()
        .map_err(|e| Failure::Usage(format!("export.collectors: {e}")))?;
    flowprobe::sflow::source_address_towards(peer).map_err(|e| {
        Failure::Runtime(format!(
            "sFlow collector {url}: no route to find the agent address from ({e}); \
             set --sflow-agent-address"
        ))
    })
}

/// Export and text sinks of a run: text when asked for (`-f`/`-o`) or when nothing else is.
fn all_sinks(
    config: &Config,
    format: Option<FormatArg>,
    output: &Option<std::path::PathBuf>,
    rotate: &Option<String>,
    sampling: Sampling,
    offline: bool,
) -> Result<Sinks, Failure> {
    let (mut sinks, mut labels) = export_sinks(config, sampling, offline)?;
    if sinks.is_empty() || format.is_some() || output.is_some() {
        sinks.push(record_output(
            format,
            output,
            rotate,
            config.export.text_biflow,
            InspectColumns::new(&config.inspect),
        )?);
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
        if label.starts_with("sflow://") {
            s.push_str(&format!(
                "export {label}: {} datagrams, {} samples, {} bytes, {} send errors, {} samples lost\n",
                stats.messages, stats.records, stats.bytes, stats.send_errors, stats.records_lost
            ));
            continue;
        }
        s.push_str(&format!(
            "export {label}: {} messages, {} records, {} bytes, {} send errors, {} records lost, {} not exportable\n",
            stats.messages, stats.records, stats.bytes, stats.send_errors, stats.records_lost, stats.not_exportable
        ));
    }
    s
}

/// The record output of `-f`/`-o`/`--rotate` (`export::output`).
fn record_output(
    format: Option<FormatArg>,
    output: &Option<std::path::PathBuf>,
    rotate: &Option<String>,
    biflow: bool,
    inspect: InspectColumns,
) -> Result<Box<dyn RecordSink>, Failure> {
    let rotate = match rotate {
        Some(text) => {
            Some(parse_duration(text).map_err(|e| Failure::Usage(format!("--rotate: {e}")))?)
        }
        None => None,
    };
    let spec = OutputSpec {
        format: format.map(|f| match f {
            FormatArg::Table => OutputFormat::Text(TextFormat::Table),
            FormatArg::Csv => OutputFormat::Text(TextFormat::Csv),
            FormatArg::Json => OutputFormat::Text(TextFormat::Json),
            FormatArg::Parquet => OutputFormat::Parquet,
        }),
        path: output.as_deref(),
        rotate,
        biflow,
        inspect,
    };
    output_sink(&spec).map_err(|e| match e {
        OutputError::Usage(m) => Failure::Usage(m),
        OutputError::Io(m) => Failure::Runtime(m),
    })
}

#[cfg(target_os = "linux")]
fn run_live(args_and_config: (RunArgs, Config)) -> Result<(), Failure> {
    use flowprobe::capture::af_packet::RingConfig;
    use flowprobe::pipeline::live::{run_live, Backend, LiveOptions, StopFlags};
    use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};

    let (args, config) = args_and_config;
    config.check_for_run().map_err(Failure::Usage)?;
    let c = &config.capture;
    let ring = RingConfig {
        block_size: usize::try_from(c.ring_block_size).unwrap_or(usize::MAX),
        block_count: c.ring_block_count as usize,
        block_timeout: c.ring_block_timeout,
        promiscuous: c.promiscuous,
        ..RingConfig::default()
    };
    let sampling = sampling_of(&config);
    let (sinks, labels) = all_sinks(
        &config,
        args.format,
        &args.output,
        &args.rotate,
        sampling,
        false,
    )?;
    let (registry, _server) = metrics(&config, c.worker_threads() * c.interfaces.len(), &labels)?;
    let options = LiveOptions {
        registry,
        interfaces: c.interfaces.clone(),
        threads: c.worker_threads(),
        backend: match c.backend {
            flowprobe::config::Backend::AfPacket => Backend::AfPacket,
            flowprobe::config::Backend::Libpcap => Backend::Libpcap,
        },
        ring,
        filter: c.filter.clone(),
        snaplen: c.snaplen,
        sampling,
        decap: config.tunnels.clone(),
        inspect: config.inspect,
        cache: metering_cache(&config),
        user: c.user.clone(),
        stats_interval: Some(config.statistics.interval).filter(|d| !d.is_zero()),
        direction: config.direction.clone(),
        sflow: sflow_samplers(&config)?,
    };
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
    outcome(&total, &report.exporter, Vec::new())
}

#[cfg(not(target_os = "linux"))]
fn run_live(_args_and_config: (RunArgs, Config)) -> Result<(), Failure> {
    Err(Failure::Usage(
        "live capture is implemented for Linux only; use `convert` on capture files".into(),
    ))
}

fn run_generate(args: GenerateArgs) -> Result<(), Failure> {
    use flowprobe::generate::{generate, GenConfig};
    if let Some(flows) = args.distinct_flows {
        return run_generate_distinct(&args.output, flows);
    }
    let span_default = if args.scenario.is_some() {
        "4h"
    } else {
        "120s"
    };
    let span = parse_duration(args.span.as_deref().unwrap_or(span_default))
        .map_err(|e| Failure::Usage(format!("--span: {e}")))?;
    if let Some(list) = &args.scenario {
        return run_generate_scenarios(&args, list, span);
    }
    let payload = args
        .payload
        .parse()
        .map_err(|e| Failure::Usage(format!("--payload: {e}")))?;
    let config = GenConfig {
        seed: args.seed,
        conversations: args.conversations,
        mean_packets: args.mean_packets,
        span,
        payload,
        ..GenConfig::default()
    };
    if args.span_port {
        return run_generate_span(&args.output, &config);
    }
    let generated = generate(&config);
    let generated = write_generated_and_truth(&generated, &args)?;
    eprintln!(
        "flowprobe: wrote {}: {} packets in {} conversations",
        args.output.display(),
        generated.packets.len(),
        generated.conversations.len()
    );
    Ok(())
}

/// Writes a generated capture, with `--retransmit` copies and `--reorder` swaps, and its
/// `--packet-truth`.
/// Returns what was written.
fn write_generated_and_truth(
    generated: &flowprobe::generate::Generated,
    args: &GenerateArgs,
) -> Result<flowprobe::generate::Generated, Failure> {
    use flowprobe::generate::{add_anomalies, write_pcap_with, write_truth};
    let (generated, marks) = add_anomalies(generated, args.retransmit, args.reorder, args.seed);
    let path = &args.output;
    let file = File::create(path)
        .map_err(|e| Failure::Runtime(format!("cannot create {}: {e}", path.display())))?;
    write_pcap_with(
        &generated,
        &marks,
        args.nanos,
        &mut BufWriter::with_capacity(1 << 20, file),
    )
    .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", path.display())))?;
    if let Some(path) = &args.packet_truth {
        let written = if path.as_os_str() == "-" {
            write_truth(
                &generated,
                &marks,
                args.nanos,
                &mut std::io::stdout().lock(),
            )
        } else {
            File::create(path).and_then(|f| {
                write_truth(
                    &generated,
                    &marks,
                    args.nanos,
                    &mut BufWriter::with_capacity(1 << 20, f),
                )
            })
        };
        written.map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(generated)
}

/// `flowprobe generate --scenario LIST`: a site's traffic with behaviours planted.
fn run_generate_scenarios(
    args: &GenerateArgs,
    list: &str,
    span: std::time::Duration,
) -> Result<(), Failure> {
    use flowprobe::generate::scenario::{generate_scenarios, Scenario};
    use flowprobe::generate::GenConfig;
    let scenarios =
        Scenario::parse_list(list).map_err(|e| Failure::Usage(format!("--scenario: {e}")))?;
    let (generated, truth) =
        generate_scenarios(args.seed, GenConfig::default().start, span, &scenarios);
    let generated = write_generated_and_truth(&generated, args)?;
    if let Some(path) = &args.truth {
        let json = truth.json();
        if path.as_os_str() == "-" {
            print!("{json}");
        } else {
            std::fs::write(path, json)
                .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", path.display())))?;
        }
    }
    eprintln!(
        "flowprobe: wrote {}: {} packets in {} conversations, planted: {}",
        args.output.display(),
        generated.packets.len(),
        generated.conversations.len(),
        if scenarios.is_empty() {
            "nothing".to_string()
        } else {
            scenarios
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        }
    );
    Ok(())
}

/// `flowprobe generate --span-port`: a SPAN capture, and its site's `[direction]` section
/// on stdout.
fn run_generate_span(
    output: &std::path::Path,
    config: &flowprobe::generate::GenConfig,
) -> Result<(), Failure> {
    use flowprobe::generate::{generate_span, span_direction_toml, write_span_pcap};
    let capture = generate_span(config);
    let file = File::create(output)
        .map_err(|e| Failure::Runtime(format!("cannot create {}: {e}", output.display())))?;
    write_span_pcap(&capture, &mut BufWriter::with_capacity(1 << 20, file))
        .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", output.display())))?;
    print!("{}", span_direction_toml());
    eprintln!(
        "flowprobe: wrote {}: {} packets in {} conversations at a SPAN port; the site's \
         direction rules are on standard output",
        output.display(),
        capture.packets.len(),
        capture.conversations.len()
    );
    Ok(())
}

/// `flowprobe generate --distinct-flows N`: one-packet flows, streamed.
fn run_generate_distinct(output: &std::path::Path, flows: u64) -> Result<(), Failure> {
    let file = File::create(output)
        .map_err(|e| Failure::Runtime(format!("cannot create {}: {e}", output.display())))?;
    flowprobe::generate::write_distinct_flows(
        flows,
        flowprobe::generate::GenConfig::default().start,
        std::time::Duration::from_micros(1),
        &mut BufWriter::with_capacity(1 << 20, file),
    )
    .map_err(|e| Failure::Runtime(format!("cannot write {}: {e}", output.display())))?;
    eprintln!(
        "flowprobe: wrote {}: {flows} one-packet flows",
        output.display()
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
