//! The raw configuration: every option as written, in the config file or on the command
//! line, before any value is interpreted.
//!
//! Shaped after ripgrep: the file and the flags both fill the same [`RawConfig`], each
//! value tagged with where it came from ([`Origin`]: a file and line, or a flag). Merging
//! is plain ("a value set later wins"), so precedence is defaults < file < command line by
//! construction, and one resolve step (`resolve.rs`) interprets and validates everything,
//! whichever side it came from, with an error that points back at the line or the flag.
//!
//! The file is read with `toml_edit` (the parser under the `toml` crate) instead of serde
//! derive: serde stops at the first problem and forgets where a value was, while an operator
//! fixing a config wants every problem at once, each with its line. Each section is declared
//! once by the `section!` macro, which gives its struct, its list of known keys (for the
//! "did you mean" hint) and its reader, so the three cannot disagree.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;
use toml_edit::{ImDocument, Item, Value};

use super::error::{ConfigError, ConfigErrors};

/// Where a value came from, for error messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// A line (1-based) of a config file.
    File {
        /// The file's name as given.
        file: Arc<str>,
        /// 1-based line number.
        line: usize,
    },
    /// A command-line flag, such as `--idle-timeout`.
    Flag(&'static str),
}

impl Origin {
    /// The line in the config file, if the value came from one.
    pub fn line(&self) -> Option<usize> {
        match self {
            Origin::File { line, .. } => Some(*line),
            Origin::Flag(_) => None,
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { file, line } => write!(f, "{file}:{line}"),
            Origin::Flag(flag) => f.write_str(flag),
        }
    }
}

/// One value as written, with where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting<T> {
    /// The value as written.
    pub value: T,
    /// Where it was written.
    pub origin: Origin,
}

impl<T> Setting<T> {
    /// A value given by a command-line flag.
    pub fn flag(value: impl Into<T>, flag: &'static str) -> Setting<T> {
        Setting {
            value: value.into(),
            origin: Origin::Flag(flag),
        }
    }
}

impl<T: Serialize> Serialize for Setting<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

/// A duration (`15s`) or size (`64MiB`) as written: TOML text, or a bare integer
/// (seconds for a duration, bytes for a size), kept as text for `parse_duration` /
/// `parse_size`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Quantity(pub String);

impl From<&str> for Quantity {
    fn from(s: &str) -> Quantity {
        Quantity(s.to_string())
    }
}

impl From<String> for Quantity {
    fn from(s: String) -> Quantity {
        Quantity(s)
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

/// `max_flows` as written: a whole number, or `auto` (read in `resolve`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct FlowCount(pub String);

impl From<&str> for FlowCount {
    fn from(s: &str) -> FlowCount {
        FlowCount(s.to_string())
    }
}

/// A list of strings, each with its own origin: in a list written over several lines, a
/// bad element's error points at its own line.
pub type List = Vec<Setting<String>>;

impl Setting<List> {
    /// A list given by a repeatable command-line flag (`--collector A --collector B`).
    pub fn flag_list(
        values: impl IntoIterator<Item = String>,
        flag: &'static str,
    ) -> Setting<List> {
        Setting::flag(
            values
                .into_iter()
                .map(|v| Setting::flag(v, flag))
                .collect::<List>(),
            flag,
        )
    }

    /// The strings alone.
    pub fn strings(&self) -> Vec<String> {
        self.value.iter().map(|s| s.value.clone()).collect()
    }
}

/// A list of integers, each with its own origin (ports, VLAN ids).
pub type IntList = Vec<Setting<i64>>;

impl Setting<IntList> {
    /// A list of integers given by a repeatable command-line flag.
    pub fn flag_ints(
        values: impl IntoIterator<Item = i64>,
        flag: &'static str,
    ) -> Setting<IntList> {
        Setting::flag(
            values
                .into_iter()
                .map(|v| Setting::flag(v, flag))
                .collect::<IntList>(),
            flag,
        )
    }
}

/// Maps a byte range of the file to its origin.
type Locate<'a> = &'a dyn Fn(Option<std::ops::Range<usize>>) -> Origin;

/// A value type a raw setting can hold, read from a TOML value.
trait FromToml: Sized {
    /// What the file should have had, for "expected X" messages.
    const EXPECTED: &'static str;
    /// The value, or `None` when it is of another TOML type.
    fn from_toml(value: &Value, locate: Locate<'_>) -> Option<Self>;
}

impl FromToml for String {
    const EXPECTED: &'static str = "a string";
    fn from_toml(value: &Value, _: Locate<'_>) -> Option<String> {
        value.as_str().map(str::to_string)
    }
}

impl FromToml for i64 {
    const EXPECTED: &'static str = "an integer";
    fn from_toml(value: &Value, _: Locate<'_>) -> Option<i64> {
        value.as_integer()
    }
}

impl FromToml for bool {
    const EXPECTED: &'static str = "true or false";
    fn from_toml(value: &Value, _: Locate<'_>) -> Option<bool> {
        value.as_bool()
    }
}

impl FromToml for Quantity {
    const EXPECTED: &'static str = "a string with a unit (or a bare integer)";
    fn from_toml(value: &Value, _: Locate<'_>) -> Option<Quantity> {
        match value {
            Value::String(s) => Some(Quantity(s.value().clone())),
            Value::Integer(i) => Some(Quantity(i.value().to_string())),
            _ => None,
        }
    }
}

impl FromToml for FlowCount {
    const EXPECTED: &'static str = "a whole number or \"auto\"";
    fn from_toml(value: &Value, _: Locate<'_>) -> Option<FlowCount> {
        match value {
            Value::String(s) => Some(FlowCount(s.value().clone())),
            Value::Integer(i) => Some(FlowCount(i.value().to_string())),
            _ => None,
        }
    }
}

impl FromToml for List {
    const EXPECTED: &'static str = "a list of strings";
    fn from_toml(value: &Value, locate: Locate<'_>) -> Option<List> {
        let element = |v: &Value| {
            v.as_str().map(|s| Setting {
                value: s.to_string(),
                origin: locate(v.span()),
            })
        };
        match value {
            // One string where a list is expected is read as a list of one: `interfaces =
            // "eth0"` means what it says.
            Value::String(_) => element(value).map(|s| vec![s]),
            Value::Array(a) => a.iter().map(element).collect(),
            _ => None,
        }
    }
}

impl FromToml for IntList {
    const EXPECTED: &'static str = "a list of integers";
    fn from_toml(value: &Value, locate: Locate<'_>) -> Option<IntList> {
        let element = |v: &Value| {
            v.as_integer().map(|i| Setting {
                value: i,
                origin: locate(v.span()),
            })
        };
        match value {
            // One integer where a list is expected is a list of one.
            Value::Integer(_) => element(value).map(|s| vec![s]),
            Value::Array(a) => a.iter().map(element).collect(),
            _ => None,
        }
    }
}

/// A short description of a TOML item, for "found X" messages.
fn describe(item: &Item) -> String {
    match item {
        Item::None => "nothing".into(),
        Item::Table(_) | Item::Value(Value::InlineTable(_)) => "a table".into(),
        Item::ArrayOfTables(_) => "an array of tables".into(),
        Item::Value(v) => {
            let text = v.to_string();
            let text = text.trim();
            let kind = match v {
                Value::String(_) => "a string",
                Value::Integer(_) => "an integer",
                Value::Float(_) => "a float",
                Value::Boolean(_) => "a boolean",
                Value::Datetime(_) => "a date-time",
                Value::Array(_) => "an array",
                Value::InlineTable(_) => "a table",
            };
            format!("{kind} ({text})")
        }
    }
}

/// Reads a document, collecting every problem instead of stopping at the first.
struct Reader<'a> {
    file: Arc<str>,
    text: &'a str,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    fn origin(&self, span: Option<std::ops::Range<usize>>) -> Origin {
        let offset = span.map_or(0, |s| s.start).min(self.text.len());
        let line = 1 + self
            .text
            .as_bytes()
            .get(..offset)
            .map_or(0, |b| b.iter().filter(|&&c| c == b'\n').count());
        Origin::File {
            file: self.file.clone(),
            line,
        }
    }

    fn value<T: FromToml>(
        &mut self,
        section: &str,
        key: &toml_edit::Key,
        item: &Item,
    ) -> Option<Setting<T>> {
        let origin = self.origin(item.span().or_else(|| key.span()));
        let locate = |span| self.origin(span);
        match item.as_value().and_then(|v| T::from_toml(v, &locate)) {
            Some(value) => Some(Setting { value, origin }),
            None => {
                self.errors.push(ConfigError::WrongType {
                    origin,
                    key: format!("{section}.{}", key.get()),
                    expected: T::EXPECTED,
                    found: describe(item),
                });
                None
            }
        }
    }

    fn unknown(&mut self, section: Option<&str>, key: &toml_edit::Key) {
        let origin = self.origin(key.span());
        let written = match section {
            Some(s) => format!("{s}.{}", key.get()),
            None => key.get().to_string(),
        };
        self.errors.push(ConfigError::UnknownKey {
            origin,
            suggestion: super::suggest::suggest(section, key.get()),
            key: written,
        });
    }
}

/// Declares one section: its struct, its known keys, its reader and its merge.
macro_rules! section {
    (
        $(#[$meta:meta])*
        $name:ident = $section:literal {
            $( $(#[$field_meta:meta])* $field:ident : $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
        pub struct $name {
            $(
                $(#[$field_meta])*
                #[serde(skip_serializing_if = "Option::is_none")]
                pub $field: Option<Setting<$ty>>,
            )*
        }

        impl $name {
            /// The section's name in the file.
            pub const SECTION: &'static str = $section;
            /// The keys this section knows.
            pub const KEYS: &'static [&'static str] = &[$(stringify!($field)),*];

            fn read(table: &dyn toml_edit::TableLike, reader: &mut Reader<'_>) -> $name {
                let mut raw = $name::default();
                for (key, item) in table.entries() {
                    match key.get() {
                        $( stringify!($field) => raw.$field = reader.value($section, key, item), )*
                        _ => reader.unknown(Some($section), key),
                    }
                }
                raw
            }

            /// Overrides each value of `self` that `over` sets.
            pub fn merge(&mut self, over: $name) {
                $( if over.$field.is_some() { self.$field = over.$field; } )*
            }
        }
    };
}

/// Iterating a table's direct entries with their keys (toml_edit's `iter` gives only names).
trait TableEntries {
    fn entries(&self) -> Vec<(&toml_edit::Key, &Item)>;
}

impl<T: toml_edit::TableLike + ?Sized> TableEntries for T {
    fn entries(&self) -> Vec<(&toml_edit::Key, &Item)> {
        self.iter()
            .filter_map(|(name, item)| self.key(name).map(|key| (key, item)))
            .collect()
    }
}

section! {
    /// `[capture]`: where packets come from (live capture with `run`).
    RawCapture = "capture" {
        /// Interfaces to capture on.
        interfaces: List,
        /// `af-packet` or `libpcap`.
        backend: String,
        /// Worker threads; 0 = one per online CPU.
        threads: i64,
        /// A tcpdump filter expression; empty = none.
        filter: String,
        /// Put the interfaces in promiscuous mode.
        promiscuous: bool,
        /// Bytes of each packet captured.
        snaplen: i64,
        /// TPACKET_V3 ring block size.
        ring_block_size: Quantity,
        /// TPACKET_V3 ring blocks per worker.
        ring_block_count: i64,
        /// TPACKET_V3 block retire timeout.
        ring_block_timeout: Quantity,
        /// User to switch to once the sockets are open; empty = stay.
        user: String,
    }
}

section! {
    /// `[cache]`: the flow cache.
    RawCache = "cache" {
        /// Most records held at once, or `auto` (sized from memory).
        max_flows: FlowCount,
    }
}

section! {
    /// `[timeouts]`: when a record ends.
    RawTimeouts = "timeouts" {
        /// Idle timeout (TCP and other protocols).
        idle: Quantity,
        /// Idle timeout for UDP.
        udp_idle: Quantity,
        /// Idle timeout for ICMP.
        icmp_idle: Quantity,
        /// Active timeout.
        active: Quantity,
        /// Wait after a TCP FIN or RST.
        tcp_end_grace: Quantity,
    }
}

section! {
    /// `[sampling]`: packet or flow sampling.
    RawSampling = "sampling" {
        /// `none`, `deterministic`, `random` or `flow-hash`.
        mode: String,
        /// N of 1-in-N.
        rate: i64,
    }
}

section! {
    /// `[export]`: collectors and how to talk to them.
    RawExport = "export" {
        /// Collector URLs.
        collectors: List,
        /// RFC 5655 IPFIX file to write; empty = none.
        ipfix_file: String,
        /// Write RFC 5103 biflow records to the IPFIX file.
        ipfix_file_biflow: bool,
        /// Write biflow rows (with reverse columns) in CSV/JSON output.
        text_biflow: bool,
        /// IPFIX observation domain id / NetFlow v9 source id.
        observation_domain_id: i64,
        /// Resend templates after this long.
        template_refresh: Quantity,
        /// Resend templates after this many messages.
        template_refresh_packets: i64,
        /// Largest export message.
        max_message_size: Quantity,
        /// UDP socket send buffer.
        udp_send_buffer: Quantity,
        /// Messages per second to UDP collectors in offline conversion.
        pace: i64,
    }
}

section! {
    /// `[sflow]`: the sFlow agent, for `sflow://` collectors.
    RawSflow = "sflow" {
        /// Agent address sent in every datagram; empty = the source address routing to
        /// the first sFlow collector (live), 0.0.0.0 (offline).
        agent_address: String,
        /// Interface counters are sent this often; 0 = never.
        polling_interval: Quantity,
    }
}

section! {
    /// `[tunnels]`: which tunnels are opened (decapsulated) and on which UDP ports.
    RawTunnels = "tunnels" {
        /// Tunnel kinds to open: `vxlan`, `geneve`, `gre`, `erspan`, `ip-in-ip`,
        /// `gtp-u`, `mpls-udp`, or `all`.
        decap: List,
        /// VXLAN destination ports.
        vxlan_ports: IntList,
        /// Geneve destination ports.
        geneve_ports: IntList,
        /// GTP-U ports (either end).
        gtp_u_ports: IntList,
        /// MPLS-over-UDP destination ports.
        mpls_udp_ports: IntList,
    }
}

section! {
    /// `[inspect]`: payload inspection, what each flow is (`--inspect`).
    RawInspect = "inspect" {
        /// What to inspect: `tls`, `quic`, `dns`, `http`, `ssh`, `community-id`, `tcp`,
        /// `splt`, `all` or `none`.
        protocols: List,
        /// Payload packets of each direction looked at before its inspection ends.
        max_packets: i64,
        /// Community ID seed.
        community_id_seed: i64,
        /// Packets of each record the `splt` column lists (1 to 32).
        splt_packets: i64,
    }
}

section! {
    /// `[statistics]`: counters for operators.
    RawStatistics = "statistics" {
        /// Period of the statistics log line; 0 = off.
        interval: Quantity,
        /// Address of the Prometheus text endpoint; empty = off.
        prometheus_listen: String,
    }
}

section! {
    /// `[logging]`: log output.
    RawLogging = "logging" {
        /// `error`, `warn`, `info`, `debug` or `trace`.
        level: String,
    }
}

section! {
    /// `[direction]`: which way flows crossed the edge of the local network (SPAN ports).
    RawDirection = "direction" {
        /// Local networks (CIDR), IPv4 and IPv6.
        local_networks: List,
        /// VLAN ids whose frames travelled into the local network.
        ingress_vlans: IntList,
        /// VLAN ids whose frames travelled out of the local network.
        egress_vlans: IntList,
        /// MACs of the routers at the edge of the local network.
        gateway_macs: List,
        /// Interface number exported for the outside; 0 = none.
        outside_interface: i64,
        /// Interface number exported for the inside; 0 = none.
        inside_interface: i64,
    }
}

/// Every option as written, before interpretation. `None` = not set here.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RawConfig {
    /// `[capture]`.
    pub capture: RawCapture,
    /// `[cache]`.
    pub cache: RawCache,
    /// `[timeouts]`.
    pub timeouts: RawTimeouts,
    /// `[sampling]`.
    pub sampling: RawSampling,
    /// `[export]`.
    pub export: RawExport,
    /// `[sflow]`.
    pub sflow: RawSflow,
    /// `[tunnels]`.
    pub tunnels: RawTunnels,
    /// `[inspect]`.
    pub inspect: RawInspect,
    /// `[statistics]`.
    pub statistics: RawStatistics,
    /// `[logging]`.
    pub logging: RawLogging,
    /// `[direction]`.
    pub direction: RawDirection,
}

/// Every `(section, keys)` pair the file may hold.
pub const SECTIONS: &[(&str, &[&str])] = &[
    (RawCapture::SECTION, RawCapture::KEYS),
    (RawCache::SECTION, RawCache::KEYS),
    (RawTimeouts::SECTION, RawTimeouts::KEYS),
    (RawSampling::SECTION, RawSampling::KEYS),
    (RawExport::SECTION, RawExport::KEYS),
    (RawSflow::SECTION, RawSflow::KEYS),
    (RawTunnels::SECTION, RawTunnels::KEYS),
    (RawInspect::SECTION, RawInspect::KEYS),
    (RawStatistics::SECTION, RawStatistics::KEYS),
    (RawLogging::SECTION, RawLogging::KEYS),
    (RawDirection::SECTION, RawDirection::KEYS),
];

impl RawConfig {
    /// Reads a config file. All problems found are returned, each with its line.
    pub fn read_file(path: &Path) -> Result<RawConfig, ConfigErrors> {
        let (raw, errors) = RawConfig::read_file_partial(path);
        ConfigErrors::check(errors).map(|()| raw)
    }

    /// Reads TOML text; `file` names it in messages.
    pub fn parse(text: &str, file: &str) -> Result<RawConfig, ConfigErrors> {
        let (raw, errors) = RawConfig::parse_partial(text, file);
        ConfigErrors::check(errors).map(|()| raw)
    }

    /// Like [`RawConfig::read_file`], but returns what could be read along with the
    /// problems, so a caller can go on and report the values' problems too.
    pub fn read_file_partial(path: &Path) -> (RawConfig, Vec<ConfigError>) {
        match std::fs::read_to_string(path) {
            Ok(text) => RawConfig::parse_partial(&text, &path.display().to_string()),
            Err(source) => (
                RawConfig::default(),
                vec![ConfigError::Read {
                    path: path.to_path_buf(),
                    source: Arc::new(source),
                }],
            ),
        }
    }

    /// Like [`RawConfig::parse`], but returns what could be read along with the problems.
    pub fn parse_partial(text: &str, file: &str) -> (RawConfig, Vec<ConfigError>) {
        let mut reader = Reader {
            file: Arc::from(file),
            text,
            errors: Vec::new(),
        };
        let doc = match ImDocument::parse(text) {
            Ok(doc) => doc,
            Err(e) => {
                let origin = reader.origin(e.span());
                // toml_edit's message repeats the line and a caret drawing; keep its last
                // line, which says what was wrong.
                let message = e
                    .message()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
                return (
                    RawConfig::default(),
                    vec![ConfigError::Syntax { origin, message }],
                );
            }
        };
        let mut raw = RawConfig::default();
        for (key, item) in doc.as_table().entries() {
            let Some(table) = item.as_table_like() else {
                if SECTIONS.iter().any(|(s, _)| *s == key.get()) {
                    let origin = reader.origin(item.span().or_else(|| key.span()));
                    reader.errors.push(ConfigError::WrongType {
                        origin,
                        key: key.get().to_string(),
                        expected: "a table (a [section])",
                        found: describe(item),
                    });
                } else {
                    reader.unknown(None, key);
                }
                continue;
            };
            match key.get() {
                "capture" => raw.capture = RawCapture::read(table, &mut reader),
                "cache" => raw.cache = RawCache::read(table, &mut reader),
                "timeouts" => raw.timeouts = RawTimeouts::read(table, &mut reader),
                "sampling" => raw.sampling = RawSampling::read(table, &mut reader),
                "export" => raw.export = RawExport::read(table, &mut reader),
                "sflow" => raw.sflow = RawSflow::read(table, &mut reader),
                "tunnels" => raw.tunnels = RawTunnels::read(table, &mut reader),
                "inspect" => raw.inspect = RawInspect::read(table, &mut reader),
                "statistics" => raw.statistics = RawStatistics::read(table, &mut reader),
                "logging" => raw.logging = RawLogging::read(table, &mut reader),
                "direction" => raw.direction = RawDirection::read(table, &mut reader),
                _ => reader.unknown(None, key),
            }
        }
        (raw, reader.errors)
    }

    /// Overrides each value of `self` that `over` sets: `file.merge(flags)` gives the
    /// command line precedence. A list (interfaces, collectors) is replaced as a whole.
    pub fn merge(&mut self, over: RawConfig) {
        self.capture.merge(over.capture);
        self.cache.merge(over.cache);
        self.timeouts.merge(over.timeouts);
        self.sampling.merge(over.sampling);
        self.export.merge(over.export);
        self.sflow.merge(over.sflow);
        self.tunnels.merge(over.tunnels);
        self.inspect.merge(over.inspect);
        self.statistics.merge(over.statistics);
        self.logging.merge(over.logging);
        self.direction.merge(over.direction);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_carry_their_line() {
        let text = "# a comment\n[timeouts]\nidle = \"20s\"\n\nactive = 600\n";
        let raw = RawConfig::parse(text, "t.toml").unwrap();
        let idle = raw.timeouts.idle.unwrap();
        assert_eq!(idle.value, Quantity::from("20s"));
        assert_eq!(idle.origin.line(), Some(3));
        let active = raw.timeouts.active.unwrap();
        assert_eq!(active.value, Quantity::from("600"));
        assert_eq!(active.origin.line(), Some(5));
        assert_eq!(active.origin.to_string(), "t.toml:5");
    }

    #[test]
    fn every_problem_is_reported() {
        let text = "[capture]\nthreads = \"four\"\ninterface = [\"eth0\"]\n\n[timeout]\nidle = 1\n\
                    [logging]\nlevel = 3\n";
        let (_, errors) = RawConfig::parse_partial(text, "t.toml");
        let lines: Vec<_> = errors
            .iter()
            .map(|e| e.origin().and_then(|o| o.line()))
            .collect();
        assert_eq!(lines, [Some(2), Some(3), Some(5), Some(8)], "{errors:#?}");
    }

    #[test]
    fn dotted_and_inline_tables_are_sections_too() {
        let text = "timeouts.idle = \"3s\"\nsampling = { mode = \"random\", rate = 10 }\n";
        let raw = RawConfig::parse(text, "t.toml").unwrap();
        assert_eq!(raw.timeouts.idle.unwrap().value, Quantity::from("3s"));
        assert_eq!(raw.sampling.rate.unwrap().value, 10);
        assert_eq!(raw.sampling.mode.unwrap().origin.line(), Some(2));
    }

    #[test]
    fn a_single_string_is_a_list_of_one() {
        let raw = RawConfig::parse("[capture]\ninterfaces = \"eth0\"\n", "t").unwrap();
        assert_eq!(raw.capture.interfaces.unwrap().strings(), ["eth0"]);
        let (_, errors) = RawConfig::parse_partial("[capture]\ninterfaces = [\"a\", 1]\n", "t");
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn list_elements_carry_their_own_line() {
        let text = "[export]\ncollectors = [\n  \"ipfix://a:1\",\n\n  \"v9://b:2\",\n]\n";
        let raw = RawConfig::parse(text, "t").unwrap();
        let list = raw.export.collectors.unwrap();
        assert_eq!(list.origin.line(), Some(2), "the list starts at its `[`");
        let lines: Vec<_> = list.value.iter().map(|s| s.origin.line()).collect();
        assert_eq!(lines, [Some(3), Some(5)]);
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let (_, errors) = RawConfig::parse_partial("[cache]\nmax_flows = = 3\n", "t.toml");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].origin().and_then(|o| o.line()), Some(2));
        assert!(
            errors[0].to_string().starts_with("t.toml:2: "),
            "{}",
            errors[0]
        );
    }

    #[test]
    fn merge_overrides_only_what_is_set() {
        let mut file =
            RawConfig::parse("[timeouts]\nidle = \"20s\"\nactive = \"5m\"\n", "f").unwrap();
        let mut flags = RawConfig::default();
        flags.timeouts.idle = Some(Setting::flag("7s", "--idle-timeout"));
        file.merge(flags);
        assert_eq!(
            file.timeouts.idle.as_ref().unwrap().value,
            Quantity::from("7s")
        );
        assert_eq!(
            file.timeouts.idle.as_ref().unwrap().origin,
            Origin::Flag("--idle-timeout")
        );
        assert_eq!(file.timeouts.active.unwrap().value, Quantity::from("5m"));
    }
}
