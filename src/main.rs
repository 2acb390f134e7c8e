//! The `flowprobe` command: parse the command line, resolve it, run, map errors to exit
//! codes (0 ok, 1 runtime error, 2 usage or config error).

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::Parser;

use flowprobe::cli::{CheckConfigArgs, Cli, Command, ConvertArgs, FormatArg, GenerateArgs};
use flowprobe::config::{flags, load, parse_duration, Config, RawConfig};
use flowprobe::export::text::{TextFormat, TextSink};
use flowprobe::export::RecordSink;
use flowprobe::pipeline::convert::{convert, ConvertOptions};

/// Exit status for a runtime error.
const EXIT_RUNTIME: u8 = 1;
/// Exit status for a usage or configuration error.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli);
    let result = match cli.command {
        Command::Convert(args) => {
            let flags = flags::from_cache_args(&args.cache);
            config(cli.config.as_deref(), cli.verbose, cli.quiet, flags)
                .and_then(|config| run_convert(args, config))
        }
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

fn run_convert(args: ConvertArgs, config: Config) -> Result<(), Failure> {
    let cache = config.cache;
    let mut sinks: Vec<Box<dyn RecordSink>> = Vec::new();
    let to_terminal = args.output.is_none() && io::stdout().is_terminal();
    let format = match args.format {
        Some(FormatArg::Table) => TextFormat::Table,
        Some(FormatArg::Csv) => TextFormat::Csv,
        Some(FormatArg::Json) => TextFormat::Json,
        None if to_terminal => TextFormat::Table,
        None => TextFormat::Csv,
    };
    let out: Box<dyn Write + Send> = match &args.output {
        Some(path) => Box::new(BufWriter::with_capacity(
            1 << 16,
            File::create(path)
                .map_err(|e| Failure::Runtime(format!("cannot create {}: {e}", path.display())))?,
        )),
        None => Box::new(BufWriter::with_capacity(1 << 16, io::stdout())),
    };
    sinks.push(Box::new(TextSink::new(format, out)));
    let options = ConvertOptions {
        files: args.files,
        cache,
        progress: !args.no_progress && io::stderr().is_terminal(),
    };
    let report =
        convert(&options, sinks).map_err(|e| Failure::Runtime(format!("cannot start: {e}")))?;
    if log::log_enabled!(log::Level::Warn) {
        eprint!("{}", report.counters.summary());
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
