//! The command line as clap sees it: raw flags, close to what people type.
//!
//! `main` resolves these into the typed options the library runs on (durations parsed,
//! defaults applied), so validation lives in one place (`config`).

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand, ValueEnum};

/// flowprobe: a software flow probe. Turns packets from capture files or interfaces into
/// flow records and exports them as NetFlow v9, IPFIX or v5, or writes them as text.
#[derive(Debug, Parser)]
#[command(name = "flowprobe", version, about, long_about = None, after_help = EXAMPLES)]
pub struct Cli {
    /// More log output (-v info, -vv debug, -vvv trace).
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Less log output (errors only).
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Config file (TOML, see probe.toml.example); options given as flags win over it.
    #[arg(short = 'c', long = "config", value_name = "FILE", global = true)]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

const EXAMPLES: &str = "\
Examples:
  flowprobe convert capture.pcap                      records as a table (CSV when piped)
  flowprobe convert a.pcapng b.pcapng --format json -o flows.json
  flowprobe convert day1.pcap --idle-timeout 30s --active-timeout 5m
  flowprobe convert day1.pcap --collector ipfix://127.0.0.1:4739 --collector v5://[::1]:2055
  flowprobe convert day1.pcap --ipfix-file day1.ipfix
  flowprobe run -i eth1 -f csv -o flows.csv            capture live until Ctrl-C
  flowprobe run -i eth1 --collector ipfix://10.0.0.5:4739 --sample flow:8
  flowprobe generate -o test.pcap --conversations 100000   a synthetic capture
  flowprobe check-config probe.toml                  validate a config file
  flowprobe check-config --print probe.toml          ... and show every value in force
  flowprobe -c probe.toml convert day1.pcap          options from a file (flags still win)

Exit status: 0 ok, 1 runtime error (e.g. a damaged capture file), 2 usage or config error.";

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Convert capture files (pcap, pcapng) into flow records, on packet time.
    Convert(ConvertArgs),
    /// Capture on interfaces and meter live, until SIGINT or SIGTERM.
    Run(RunArgs),
    /// Write a deterministic synthetic capture (for tests, benchmarks and demos).
    Generate(GenerateArgs),
    /// Validate a config file: exit 0 if it is valid, 2 with every problem (key, value,
    /// line) if not.
    CheckConfig(CheckConfigArgs),
}

/// `flowprobe check-config`.
#[derive(Debug, Args)]
pub struct CheckConfigArgs {
    /// The config file to check.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Print the resolved configuration (every option, defaults included) as TOML.
    #[arg(long)]
    pub print: bool,
}

/// Capture backends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackendArg {
    /// Linux AF_PACKET rings with fanout: one ring per worker (default).
    AfPacket,
    /// libpcap: one handle per interface (build with `--features libpcap`).
    Libpcap,
}

/// `flowprobe run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Interface to capture on; repeat for several (each records its own ifindex).
    /// Required here or as `capture.interfaces` in the config file.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    pub interfaces: Vec<String>,
    /// Worker threads per interface [default: online CPUs].
    #[arg(long, short = 't', value_name = "N")]
    pub threads: Option<usize>,
    /// Capture backend [default: af-packet].
    #[arg(long, value_enum)]
    pub backend: Option<BackendArg>,
    /// Capture filter in tcpdump syntax (needs the libpcap feature to compile it).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
    /// Sampling: none, N (deterministic 1-in-N), random:N, flow:N (whole flows).
    #[arg(long, value_name = "SPEC")]
    pub sample: Option<String>,
    /// Drop root to this user once the capture sockets are open.
    #[arg(long, value_name = "NAME")]
    pub user: Option<String>,
    /// Serve counters in Prometheus text format at this address (e.g. 127.0.0.1:9109).
    #[arg(long, value_name = "ADDR")]
    pub prometheus_listen: Option<String>,
    /// Log a statistics line this often (e.g. 60s); SIGUSR1 logs one at any time.
    #[arg(long, value_name = "DURATION")]
    pub stats_interval: Option<String>,
    /// Ring block size per worker (AF_PACKET) [default: 1MiB].
    #[arg(long, value_name = "SIZE")]
    pub ring_block_size: Option<String>,
    /// Ring blocks per worker (AF_PACKET) [default: 64].
    #[arg(long, value_name = "N")]
    pub ring_blocks: Option<usize>,
    /// Longest a ring block waits before the kernel hands it over (AF_PACKET) [default: 10ms].
    #[arg(long, value_name = "DURATION")]
    pub ring_block_timeout: Option<String>,
    /// Do not put the interfaces in promiscuous mode.
    #[arg(long)]
    pub no_promisc: bool,
    /// Format of the records [default: parquet for -o *.parquet, table on a terminal,
    /// csv otherwise].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<FormatArg>,
    /// Write the records to this file (CSV, JSON or Parquet).
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// One file a window of this long (e.g. 1h, 5m), windows aligned in UTC (1h: on the hour); -o is then
    /// a pattern with %Y %m %d %H %M %S (UTC) or %s, such as 'flows-%Y%m%d-%H%M.parquet'.
    /// The file being written is named *.part until it is complete.
    #[arg(long, value_name = "DURATION")]
    pub rotate: Option<String>,
    /// Timeouts and cache size.
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Export.
    #[command(flatten)]
    pub export: ExportArgs,
    /// Direction rules.
    #[command(flatten)]
    pub direction: DirectionArgs,
}

/// `flowprobe generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The pcap file to write.
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: PathBuf,
    /// Conversations (a conversation is usually two directional flows).
    #[arg(long, default_value_t = 1000)]
    pub conversations: usize,
    /// Mean packets a conversation (heavy-tailed).
    #[arg(long, default_value_t = 10.0)]
    pub mean_packets: f64,
    /// Conversations start within this span of time [default: 120s; 4h with --scenario].
    #[arg(long, value_name = "DURATION")]
    pub span: Option<String>,
    /// Instead of random conversations: a site's ordinary traffic (internal 198.18.0.0/16,
    /// Internet 198.19.0.0/16) with behaviours planted, for the README's hunting recipes:
    /// beacon, exfil, scan, lateral (comma-separated), or all.
    #[arg(long, value_name = "LIST", conflicts_with_all = ["conversations", "mean_packets", "payload", "span_port"])]
    pub scenario: Option<String>,
    /// With --scenario: write what was planted (hosts, addresses, interval, volumes) as
    /// JSON to this file (- for standard output).
    #[arg(long, value_name = "FILE", requires = "scenario")]
    pub truth: Option<PathBuf>,
    /// Seed of the random stream: the same seed writes the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Nanosecond timestamps instead of microseconds.
    #[arg(long)]
    pub nanos: bool,
    /// Packet sizes: mixed (full segments and small ones, the benchmark's), small
    /// (payloads of 1-80 bytes, frames of ~60-160), full (every data packet 1500 bytes
    /// of IP).
    #[arg(long, default_value = "mixed", value_name = "MIX")]
    pub payload: String,
    /// A SPAN-port capture instead: the same traffic at a site with local networks, edge
    /// routers and RSPAN VLANs (inbound, outbound, internal and transit flows). Prints the
    /// site's `[direction]` section, for `-c`, on standard output.
    #[arg(long, conflicts_with = "nanos")]
    pub span_port: bool,
    /// Instead of conversations: N one-packet UDP flows, each with a key of its own,
    /// 1 µs apart, written as they are made (constant memory; `-o /dev/stdout` feeds a
    /// pipe). For testing the flow cache bound.
    #[arg(long, value_name = "N", conflicts_with_all = ["conversations", "mean_packets", "span", "seed", "nanos", "span_port", "scenario"])]
    pub distinct_flows: Option<u64>,
    /// Write the truth of every packet as CSV to this file (- for standard output), from
    /// the generator's model: `ts_ns,src,dst,sport,dport,proto,payload_len,tcp_flags,
    /// conversation,vlan,ip_len,seq,ack,window,retransmission,out_of_order,tcp_options`
    /// (times as the capture holds them). With random conversations or --scenario.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["span_port", "distinct_flows"])]
    pub packet_truth: Option<PathBuf>,
    /// Send about one TCP data segment in N again, a little later (a retransmission,
    /// marked in --packet-truth); 0 for none.
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with_all = ["span_port", "distinct_flows"])]
    pub retransmit: u64,
    /// Send about one pair in N of a conversation's consecutive data segments of one side,
    /// less than the initial RTT apart, in the wrong order (the second out-of-order,
    /// marked in --packet-truth); 0 for none.
    #[arg(long, value_name = "N", default_value_t = 0, conflicts_with_all = ["span_port", "distinct_flows"])]
    pub reorder: u64,
}

/// Text formats for records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Aligned columns for people (default on a terminal).
    Table,
    /// Comma-separated values with a header row (default when not a terminal).
    Csv,
    /// One JSON object per line.
    Json,
    /// Parquet: typed columns, zstd (needs -o; the default for -o *.parquet).
    Parquet,
}

/// Flow cache timeouts and size, shared by `convert` and `run`.
#[derive(Debug, Args, Clone, Default)]
pub struct CacheArgs {
    /// Idle timeout: a record ends after this long without packets [default: 15s].
    #[arg(long, value_name = "DURATION")]
    pub idle_timeout: Option<String>,
    /// Idle timeout for UDP [default: the idle timeout].
    #[arg(long, value_name = "DURATION")]
    pub udp_idle_timeout: Option<String>,
    /// Idle timeout for ICMP and ICMPv6 [default: the idle timeout].
    #[arg(long, value_name = "DURATION")]
    pub icmp_idle_timeout: Option<String>,
    /// Active timeout: a longer flow is exported in records of at most this span [default: 30m].
    #[arg(long, value_name = "DURATION")]
    pub active_timeout: Option<String>,
    /// After a TCP FIN or RST, the record ends once no packet came for this long [default: 5s].
    #[arg(long, value_name = "DURATION")]
    pub tcp_end_grace: Option<String>,
    /// Most records held at once; when full, the least recently seen is exported early
    /// ("lack of resources"); `auto` sizes it from the machine's or cgroup's memory
    /// [default: auto].
    #[arg(long, value_name = "N|auto")]
    pub max_flows: Option<String>,
    /// Open these tunnels and meter the packets inside, comma-separated: vxlan, geneve,
    /// gre, erspan, ip-in-ip, gtp-u, mpls-udp, or all [default: none].
    #[arg(long, value_name = "KINDS", value_delimiter = ',')]
    pub decap: Option<Vec<String>>,
    /// Read what each flow is from its first packets, comma-separated: tls (server name,
    /// ALPN, version, cipher, JA3, JA4), quic (the same from QUIC Initials), dns (query,
    /// type, rcode, answers), http (host, method, target, user agent, status), ssh
    /// (banners, HASSH), community-id, tcp (handshake RTT, retransmissions,
    /// out-of-order and zero-window segments, SYN options, payload octets), splt (the
    /// first packets' lengths and gaps, length and inter-arrival statistics), all, or
    /// none. Adds the inspection columns to CSV/JSON/Parquet and elements to IPFIX
    /// [default: none].
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub inspect: Option<Vec<String>>,
    /// Seed of the community_id column (Community ID v1) [default: 0].
    #[arg(long, value_name = "N")]
    pub community_id_seed: Option<u16>,
}

/// Where records are exported, shared by `convert` and `run`.
#[derive(Debug, Args, Clone, Default)]
pub struct ExportArgs {
    /// Export to a collector; repeat for several: ipfix://HOST:PORT (UDP),
    /// ipfix+tcp://HOST:PORT, v9://HOST:PORT, v5://HOST:PORT; IPv6 as ipfix://[::1]:4739.
    /// Add ?biflow=1 to an IPFIX collector for RFC 5103 biflow records.
    /// sflow://HOST:PORT?rate=N[&header=B] sends sFlow v5 packet samples (1 in N, the
    /// first B bytes of each, default 128, at most 256) and interface counters.
    #[arg(long = "collector", value_name = "URL")]
    pub collectors: Vec<String>,
    /// Write an IPFIX file (RFC 5655).
    #[arg(long, value_name = "PATH")]
    pub ipfix_file: Option<PathBuf>,
    /// Write RFC 5103 biflow records (forward and reverse counters in one record) to the
    /// IPFIX file. Collectors choose with a URL option: ipfix://HOST:PORT?biflow=1.
    #[arg(long)]
    pub ipfix_file_biflow: bool,
    /// CSV/JSON output: one row per biflow (both directions of a conversation), with
    /// reverse_* columns, instead of one row per direction.
    #[arg(long)]
    pub biflow: bool,
    /// IPFIX observation domain / NetFlow v9 source id [default: 0].
    #[arg(long, value_name = "ID")]
    pub observation_domain: Option<u32>,
    /// Resend templates (and options records) this often over UDP [default: 60s].
    #[arg(long, value_name = "DURATION")]
    pub template_refresh: Option<String>,
    /// Resend templates after this many messages over UDP; 0 = never [default: 100].
    #[arg(long, value_name = "N")]
    pub template_refresh_packets: Option<u32>,
    /// Largest export message [default: 1452, fits a 1500-byte MTU over IPv6].
    #[arg(long, value_name = "SIZE")]
    pub max_message_size: Option<String>,
    /// UDP socket send buffer [default: the system's].
    #[arg(long, value_name = "SIZE")]
    pub udp_send_buffer: Option<String>,
    /// UDP messages per second per collector; 0 = unpaced [default: 4000 for convert,
    /// unpaced for run].
    #[arg(long, value_name = "N")]
    pub pace: Option<u32>,
    /// Agent address in sFlow datagrams [default: the source address routing to the
    /// first sFlow collector (run), 0.0.0.0 (convert)].
    #[arg(long, value_name = "IP")]
    pub sflow_agent_address: Option<String>,
}

/// Direction rules for SPAN ports (`[direction]`), shared by `convert` and `run`. Each
/// list flag repeats or takes comma-separated values, and replaces the file's list.
#[derive(Debug, Args, Clone, Default)]
pub struct DirectionArgs {
    /// A local network (CIDR, IPv4 or IPv6): flows from it to elsewhere are egress, from
    /// elsewhere into it ingress.
    #[arg(long = "local-network", value_name = "CIDR", value_delimiter = ',')]
    pub local_networks: Vec<String>,
    /// Frames on this VLAN travelled into the local network (e.g. a SPAN session's rx).
    #[arg(
        long = "ingress-vlan",
        value_name = "VLAN",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub ingress_vlans: Vec<i64>,
    /// Frames on this VLAN travelled out of the local network (e.g. a SPAN session's tx).
    #[arg(
        long = "egress-vlan",
        value_name = "VLAN",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    pub egress_vlans: Vec<i64>,
    /// MAC of a router at the edge of the local network: frames to it are egress, from it
    /// ingress. Checked first.
    #[arg(long = "gateway-mac", value_name = "MAC", value_delimiter = ',')]
    pub gateway_macs: Vec<String>,
    /// Interface number exported for the outside when a rule decides (with
    /// --inside-interface).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub outside_interface: Option<i64>,
    /// Interface number exported for the inside when a rule decides (with
    /// --outside-interface).
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub inside_interface: Option<i64>,
}

/// `flowprobe convert`.
#[derive(Debug, Args)]
pub struct ConvertArgs {
    /// Capture files (pcap or pcapng), read in this order as one capture.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Format of the records [default: parquet for -o *.parquet, table on a terminal,
    /// csv otherwise].
    #[arg(long, short = 'f', value_enum)]
    pub format: Option<FormatArg>,
    /// Write the records to this file instead of standard output (`-` is standard output).
    #[arg(long, short = 'o', value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// One file a window of this long (e.g. 1h, 5m), windows aligned in UTC (1h: on the hour); -o is then
    /// a pattern with %Y %m %d %H %M %S (UTC) or %s, such as 'flows-%Y%m%d-%H%M.parquet'.
    /// The file being written is named *.part until it is complete.
    #[arg(long, value_name = "DURATION")]
    pub rotate: Option<String>,
    /// Timeouts and cache size.
    #[command(flatten)]
    pub cache: CacheArgs,
    /// Export.
    #[command(flatten)]
    pub export: ExportArgs,
    /// Direction rules.
    #[command(flatten)]
    pub direction: DirectionArgs,
    /// Sampling: none, N (deterministic 1-in-N), random:N, flow:N (whole flows).
    #[arg(long, value_name = "SPEC")]
    pub sample: Option<String>,
    /// Worker threads metering in parallel; the output does not depend on it.
    /// [default: 1]
    #[arg(long, short = 't', value_name = "N")]
    pub threads: Option<usize>,
    /// Serve counters in Prometheus text format at this address while converting
    /// (e.g. 127.0.0.1:9109).
    #[arg(long, value_name = "ADDR")]
    pub prometheus_listen: Option<String>,
    /// Never draw a progress bar (it is drawn only when stderr is a terminal).
    #[arg(long)]
    pub no_progress: bool,
}
