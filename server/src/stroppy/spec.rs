//! Suite specifications: the YAML or JSON document a person writes ([`SuiteSpec`]), and
//! its expansion into a list of complete, validated tests ([`Suite`]).
//!
//! Parsing is strict: every struct refuses unknown keys, so a misspelled key is an error
//! that names its path (`tests[1].workload.clientz`) and, for YAML and JSON alike, its
//! line and column. Expansion then merges each test over `defaults`, multiplies the
//! matrix out and checks the result, collecting *every* problem at once (a web editor
//! can underline all of them) as [`SpecErrors`].
//!
//! Entry points: [`load`] (parse + expand + locate, what the API and CLI want),
//! [`parse`], [`SuiteSpec::expand`], [`SpecFormat::from_content_type`].

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::time::Duration;

pub use protocol::actions::Builtin;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// Oldest PostgreSQL major a test may ask for.
pub const MIN_PG_VERSION: u32 = 12;
/// Newest PostgreSQL major a test may ask for.
pub const MAX_PG_VERSION: u32 = 18;
/// Shortest load: anything shorter measures start-up noise.
pub const MIN_DURATION: Duration = Duration::from_secs(1);
/// Longest load: a typo like `10h` for `10m` should not hold machines for days.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
/// Most tests one suite may expand to: a matrix multiplies quickly, and every test
/// costs machines and minutes.
pub const MAX_TESTS: usize = 256;
/// Disk size when a hardware block does not give one.
pub const DEFAULT_DISK_GB: u32 = 20;
/// Longest suite or test name: names end up in host and cloud resource names, which
/// take 63 characters (a DNS label).
pub const MAX_NAME_LEN: usize = 63;

const MAX_CORES: u32 = 256;
const MAX_MEMORY_GB: u32 = 2048;
const MAX_DISK_GB: u32 = 65536;

// ---------------------------------------------------------------------------------------
// The document
// ---------------------------------------------------------------------------------------

/// A suite specification as written: defaults, tests and a matrix, each test still partial.
/// [`SuiteSpec::expand`] turns it into a [`Suite`]. Serializes back to the same shape, so
/// the API can store and return what was submitted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SuiteSpec {
    /// `[a-z0-9-]`, 1..=63 characters, no leading or trailing `-`.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub target: Target,
    /// The test that deltas are computed against; the first test when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<String>,
    /// What every test (and every matrix combination) starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Sections>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Matrix>,
}

/// Where the suite's machines come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Agents spawned on the server's own machine, one per "VM".
    Local,
    /// VMs on Yandex Cloud; every test must say what hardware it needs.
    Yandex,
}

/// The partial sections a layer (defaults, a test, a matrix axis value) may set.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sections {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabasePatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadPatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader: Option<LoaderPatch>,
}

/// One entry of `tests`: a name plus whatever it changes relative to `defaults`.
/// (The sections are spelled out rather than flattened: `flatten` would disable
/// `deny_unknown_fields`.)
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestEntry {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabasePatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<WorkloadPatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loader: Option<LoaderPatch>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabasePatch {
    /// PostgreSQL major version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<u32>,
    /// `postgresql.conf` keys; a layer's keys add to or override the ones below it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<HardwarePatch>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardwarePatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cores: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_gb: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_gb: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoaderPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<HardwarePatch>,
}

/// The workload as written: one flat set of optional fields rather than an enum tagged by
/// `driver`, because a test usually sets only a field or two and inherits the driver from
/// `defaults`. Which fields apply to which driver is checked after merging.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<Driver>,
    /// `20s`, `10m`, `1h 30m` (or a number of seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<HumanDuration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    /// pgbench: concurrent clients (`-c`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clients: Option<u32>,
    /// pgbench: worker threads (`-j`), at most `clients`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threads: Option<u32>,
    /// pgbench: builtin script.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub builtin: Option<Builtin>,
    /// stroppy: release to install, e.g. `6.1.1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// stroppy: the SHA-256 of that release's tarball; needed unless the server pins the
    /// version (`RATCHET_STROPPY_RELEASES`): nothing unverified is installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// stroppy: workload, e.g. `tpcc/tx`, `tpcb/tx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<String>,
    /// stroppy: virtual users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<u32>,
    /// stroppy: extra environment; a layer's keys add to or override the ones below it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Driver {
    Pgbench,
    Stroppy,
}

impl Driver {
    pub fn as_str(self) -> &'static str {
        match self {
            Driver::Pgbench => "pgbench",
            Driver::Stroppy => "stroppy",
        }
    }
}

/// A duration written the way people write it (`15s`, `10m`, `1h 30m`); a bare number
/// means seconds, which is what a JSON client is likely to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct HumanDuration(pub Duration);

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        human_duration::serialize(&self.0, serializer)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        human_duration::deserialize(deserializer).map(HumanDuration)
    }
}

/// `#[serde(with)]` for [`Duration`] in the humantime notation.
mod human_duration {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&humantime::format_duration(*d))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a duration such as \"20s\", \"10m\" or \"1h 30m\"")
        }

        fn visit_str<E: de::Error>(self, v: &str) -> Result<Duration, E> {
            humantime::parse_duration(v.trim()).map_err(|e| {
                E::custom(format!(
                    "invalid duration {v:?}: {e}; write e.g. \"20s\", \"10m\" or \"1h 30m\""
                ))
            })
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Duration, E> {
            Ok(Duration::from_secs(v))
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Duration, E> {
            u64::try_from(v)
                .map(Duration::from_secs)
                .map_err(|_| E::custom(format!("invalid duration {v}: must not be negative")))
        }
    }
}

/// Every combination of the axis values becomes a test.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Matrix {
    /// Name template: each `{axis}` is replaced by that axis's value, lowercased, with
    /// anything outside `[a-z0-9]` turned into `-` (so `256MB` gives `256mb`).
    pub name: String,
    pub axes: Axes,
}

/// The matrix axes in document order, which is the order combinations are generated in
/// (first axis outermost). A map in the document, hence the hand-written serde.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Axes(pub Vec<Axis>);

#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Dotted path of the field the values go to, e.g. `database.version`,
    /// `database.settings.shared_buffers`, `workload.clients`, `loader.hardware.cores`.
    pub path: String,
    pub values: Vec<Value>,
}

impl Serialize for Axes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for axis in &self.0 {
            map.serialize_entry(&axis.path, &axis.values)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Axes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct AxesVisitor;

        impl<'de> Visitor<'de> for AxesVisitor {
            type Value = Axes;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map from field paths to lists of values")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Axes, A::Error> {
                let mut axes: Vec<Axis> = Vec::new();
                while let Some(path) = map.next_key::<String>()? {
                    // serde_json hands duplicate keys to the visitor; YAML refuses them itself.
                    if axes.iter().any(|a| a.path == path) {
                        return Err(de::Error::custom(format!("duplicate axis `{path}`")));
                    }
                    let values = map.next_value::<Vec<Value>>()?;
                    axes.push(Axis { path, values });
                }
                Ok(Axes(axes))
            }
        }

        deserializer.deserialize_map(AxesVisitor)
    }
}

// ---------------------------------------------------------------------------------------
// The expanded suite
// ---------------------------------------------------------------------------------------

/// A suite after expansion: every test complete and checked, in run order (the `tests`
/// entries, then the matrix combinations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub target: Target,
    /// Name of the test deltas are computed against.
    pub baseline: String,
    pub tests: Vec<TestSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    pub name: String,
    pub database: DatabaseSpec,
    pub workload: Workload,
    pub loader: LoaderSpec,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSpec {
    pub version: u32,
    /// `PostgresStartInput::settings`: each value a string, number or boolean.
    #[serde(default)]
    pub settings: BTreeMap<String, Value>,
    /// Always set when the target is `yandex`; the local provider may ignore it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<Hardware>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hardware {
    pub cores: u32,
    pub memory_gb: u32,
    pub disk_gb: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoaderSpec {
    /// Always set when the target is `yandex`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware: Option<Hardware>,
}

/// The load to run, with every default filled in. Durations serialize in the humantime
/// notation (`"15s"`) and are whole seconds (`duration.as_secs()` is exact).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "driver", rename_all = "snake_case", deny_unknown_fields)]
pub enum Workload {
    /// Becomes `PgbenchInput { scale, clients, threads, duration_s, builtin }`.
    Pgbench {
        #[serde(with = "human_duration")]
        duration: Duration,
        scale: u32,
        clients: u32,
        threads: u32,
        builtin: Builtin,
    },
    /// Becomes `StroppyInstallInput { version }` and
    /// `StroppyRunInput { workload, duration_s, vus, scale, env }`.
    Stroppy {
        version: String,
        /// The release tarball's SHA-256 (the suite's, or the server's pin for `version`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        sha256: Option<String>,
        workload: String,
        #[serde(with = "human_duration")]
        duration: Duration,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scale: Option<u32>,
        vus: u32,
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        env: BTreeMap<String, String>,
    },
}

impl Workload {
    pub fn driver(&self) -> Driver {
        match self {
            Workload::Pgbench { .. } => Driver::Pgbench,
            Workload::Stroppy { .. } => Driver::Stroppy,
        }
    }

    /// Whole seconds (validation refuses fractions), as `duration_s` in the actions.
    pub fn duration_s(&self) -> u64 {
        match self {
            Workload::Pgbench { duration, .. } | Workload::Stroppy { duration, .. } => {
                duration.as_secs()
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

/// One problem with a specification, pointing at where it is.
///
/// `path` uses `.` between keys and `[i]` for list items (`tests[1].workload.duration`);
/// a key that itself contains dots (a matrix axis, a `settings` name) appears verbatim
/// (`matrix.axes.database.version[1]`). Empty means the document as a whole. `line` and
/// `column` are 1-based and known when the source text is at hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub struct SpecError {
    pub path: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl SpecError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            path: path.into(),
            message: message.into(),
            line: None,
            column: None,
        }
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let position = match (self.line, self.column) {
            (Some(line), Some(column)) => Some(format!("line {line}, column {column}")),
            (Some(line), None) => Some(format!("line {line}")),
            _ => None,
        };
        match (self.path.is_empty(), position) {
            (false, Some(pos)) => write!(f, "at {} ({pos}): {}", self.path, self.message),
            (false, None) => write!(f, "at {}: {}", self.path, self.message),
            (true, Some(pos)) => write!(f, "{pos}: {}", self.message),
            (true, None) => f.write_str(&self.message),
        }
    }
}

/// Every problem found, in document order as far as it can be told; never empty.
/// Serializes as a JSON array of [`SpecError`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(transparent)]
pub struct SpecErrors(pub Vec<SpecError>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<SpecError> for SpecErrors {
    fn from(e: SpecError) -> Self {
        SpecErrors(vec![e])
    }
}

/// Errors listed at most; the rest are counted (a document with 10,000 bad keys gets a
/// readable answer, quickly).
pub const MAX_ERRORS: usize = 100;

impl SpecErrors {
    /// The first [`MAX_ERRORS`] errors, and one more saying how many were left out.
    #[must_use]
    pub fn capped(mut self) -> Self {
        if self.0.len() > MAX_ERRORS {
            let left_out = self.0.len() - MAX_ERRORS;
            self.0.truncate(MAX_ERRORS);
            self.0.push(SpecError::new(
                "",
                format!("… and {left_out} more problems (the first {MAX_ERRORS} are listed)"),
            ));
        }
        self
    }

    /// An RFC 9457 problem document (status 400) listing every error under `errors`.
    /// The same, for another kind of document.
    pub fn to_problem_titled(&self, title: &str) -> Value {
        let detail = match self.0.as_slice() {
            [one] => one.to_string(),
            many => format!("{} problems; see errors", many.len()),
        };
        serde_json::json!({
            "type": "about:blank",
            "title": title,
            "status": 400,
            "detail": detail,
            "errors": self.0,
        })
    }

    /// Fill in line and column from the text the specification was parsed from, for
    /// errors found after parsing (which know only their path), then order the errors by
    /// position (those without one last). A path that stops short of the document (a
    /// missing key) points at its deepest existing ancestor.
    #[must_use]
    pub fn locate(mut self, text: &str) -> Self {
        // JSON is YAML too, so one locator serves both formats.
        let Some(root) = LocNode::parse(text) else {
            return self;
        };
        for e in &mut self.0 {
            if e.line.is_none()
                && let Some((line, column)) = root.find(&e.path)
            {
                e.line = Some(line);
                e.column = Some(column);
            }
        }
        self.0
            .sort_by_key(|e| (e.line.unwrap_or(usize::MAX), e.column.unwrap_or(usize::MAX)));
        self
    }
}

// ---------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------

/// The notation of a specification. Both describe the same document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpecFormat {
    Yaml,
    Json,
}

impl SpecFormat {
    /// The format of a file from its extension (`.json` → JSON, else YAML), for the CLI.
    pub fn from_path(path: &std::path::Path) -> SpecFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => SpecFormat::Json,
            _ => SpecFormat::Yaml,
        }
    }

    /// The format of a request body from its `Content-Type` (parameters and case ignored).
    ///
    /// JSON types (`application/json`, `*+json`) → `Json`; YAML types
    /// (`application/yaml`, `application/x-yaml`, `text/yaml`, `text/x-yaml`, `*+yaml`) →
    /// `Yaml`. No header, an empty one, `text/plain` or `application/octet-stream` →
    /// `Yaml`, because a YAML parser also reads JSON documents (curl `--data-binary` and
    /// browsers' plain-text uploads stay usable). Anything else (forms, HTML…) → `None`:
    /// answer 415 Unsupported Media Type.
    pub fn from_content_type(content_type: Option<&str>) -> Option<SpecFormat> {
        let Some(ct) = content_type else {
            return Some(SpecFormat::Yaml);
        };
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "" | "text/plain" | "application/octet-stream" => Some(SpecFormat::Yaml),
            "application/json" | "text/json" => Some(SpecFormat::Json),
            "application/yaml" | "application/x-yaml" | "text/yaml" | "text/x-yaml" => {
                Some(SpecFormat::Yaml)
            }
            s if s.ends_with("+json") => Some(SpecFormat::Json),
            s if s.ends_with("+yaml") => Some(SpecFormat::Yaml),
            _ => None,
        }
    }
}

/// A specification that parsed and expanded: what was written and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSuite {
    pub spec: SuiteSpec,
    pub suite: Suite,
}

/// Parse, expand and check a specification; every error carries line and column where
/// the text tells them. A syntax or shape error stops parsing, so it comes alone; the
/// expansion reports all its problems at once.
pub fn load(text: &str, format: SpecFormat) -> Result<LoadedSuite, SpecErrors> {
    let spec = parse(text, format)?;
    match spec.expand() {
        Ok(suite) => Ok(LoadedSuite { spec, suite }),
        Err(errors) => Err(errors.locate(text).capped()),
    }
}

/// Parse a specification without checking its values (see [`SuiteSpec::expand`]). The
/// error names the path of the offending key or value, with its line and column.
pub fn parse(text: &str, format: SpecFormat) -> Result<SuiteSpec, SpecError> {
    parse_document(text, format)
}

/// Parse any strict serde document (a suite, a workflow definition) from YAML or JSON; the
/// error names the path of the offending key or value, with its line and column.
pub fn parse_document<T: DeserializeOwned>(text: &str, format: SpecFormat) -> Result<T, SpecError> {
    match format {
        SpecFormat::Yaml => parse_yaml(text),
        SpecFormat::Json => parse_json(text),
    }
}

/// Parser options shared by the spec parser and the locator.
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        // YAML 1.2 booleans only: `synchronous_commit: off` stays the string "off"
        // instead of turning into `false` (the "Norway problem").
        strict_booleans: true,
        // We report path, line and column ourselves; no rendered source snippets.
        with_snippet: false,
    }
}

fn parse_yaml<T: DeserializeOwned>(text: &str) -> Result<T, SpecError> {
    let mut track = serde_path_to_error::Track::new();
    let result =
        serde_saphyr::with_deserializer_from_str_with_options(text, yaml_options(), |de| {
            T::deserialize(serde_path_to_error::Deserializer::new(de, &mut track))
        });
    result.map_err(|err| {
        use serde_saphyr::MessageFormatter;
        let err = err.without_snippet();
        let location = err.location().filter(|l| l.line() > 0);
        let mut message = serde_saphyr::DefaultMessageFormatter
            .format_message(err)
            .into_owned();
        // saphyr words a few shape errors in parser terms; say them in the user's.
        let plain = match message.as_str() {
            "expected sequence start" => Some("expected a list"),
            "expected mapping start" => Some("expected a map of keys and values"),
            "expected string scalar" => Some("expected a string"),
            _ => None,
        };
        if let Some(plain) = plain {
            message = plain.to_owned();
        }
        // "invalid u32" says little; show the offending text and what was expected.
        if let Some(kind) = message.strip_prefix("invalid ")
            && is_int_type(kind)
        {
            let found = location.and_then(|l| source_text(text, l.span()));
            message = match found {
                Some(found) => format!("invalid value `{found}`: expected a whole number"),
                None => "invalid value: expected a whole number".to_owned(),
            };
        }
        SpecError {
            path: render_track_path(&track.path()),
            message,
            line: location.and_then(|l| usize::try_from(l.line()).ok()),
            column: location.and_then(|l| usize::try_from(l.column()).ok()),
        }
    })
}

fn is_int_type(s: &str) -> bool {
    matches!(
        s,
        "u8" | "u16" | "u32" | "u64" | "u128" | "i8" | "i16" | "i32" | "i64" | "i128"
    )
}

/// The text a span covers, when it is short enough to quote in a message.
fn source_text(text: &str, span: serde_saphyr::Span) -> Option<&str> {
    let start = usize::try_from(span.byte_offset()?).ok()?;
    let len = usize::try_from(span.byte_len()?).ok()?;
    let found = text.get(start..start.checked_add(len)?)?;
    (!found.is_empty() && found.len() <= 80 && !found.contains('\n')).then_some(found)
}

fn parse_json<T: DeserializeOwned>(text: &str) -> Result<T, SpecError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let spec = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = render_track_path(err.path());
        json_error(path, &err.into_inner())
    })?;
    // Trailing garbage after the document is an error, not ignored.
    de.end().map_err(|err| json_error(String::new(), &err))?;
    Ok(spec)
}

fn json_error(path: String, err: &serde_json::Error) -> SpecError {
    let full = err.to_string();
    let (line, column) = (err.line(), err.column());
    let suffix = format!(" at line {line} column {column}");
    let message = full.strip_suffix(&suffix).unwrap_or(&full).to_owned();
    SpecError {
        path,
        message,
        line: (line > 0).then_some(line),
        column: (line > 0).then_some(column),
    }
}

/// `serde_path_to_error`'s path in our notation; an unknown segment (a key it could not
/// capture) ends the path there, and the root is the empty string rather than `.`.
fn render_track_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut p = SpecPath::root();
    for seg in path.iter() {
        p = match seg {
            Segment::Seq { index } => p.index(*index),
            Segment::Map { key } => p.key(key),
            Segment::Enum { variant } => p.key(variant),
            Segment::Unknown => break,
        };
    }
    p.0
}

/// A path under construction, already in its rendered form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct SpecPath(String);

impl SpecPath {
    fn root() -> Self {
        SpecPath(String::new())
    }

    fn key(&self, key: &str) -> Self {
        if self.0.is_empty() {
            SpecPath(key.to_owned())
        } else {
            SpecPath(format!("{}.{key}", self.0))
        }
    }

    fn keys(&self, keys: &[&str]) -> Self {
        keys.iter().fold(self.clone(), |p, k| p.key(k))
    }

    fn index(&self, i: usize) -> Self {
        SpecPath(format!("{}[{i}]", self.0))
    }
}

// ---------------------------------------------------------------------------------------
// Expansion
// ---------------------------------------------------------------------------------------

impl SuiteSpec {
    /// Merge every test over `defaults`, multiply out the matrix, fill in defaults and
    /// check everything. Returns *all* problems found; their paths are set but not their
    /// line and column (this has no text), which [`SpecErrors::locate`] or [`load`] add.
    pub fn expand(&self) -> Result<Suite, SpecErrors> {
        let mut x = Expander {
            target: self.target,
            issues: Issues::default(),
        };
        x.check_name(&SpecPath::root().key("name"), &self.name, "suite");

        let defaults = self.defaults.as_ref();
        let defaults_layer = Layer {
            database: defaults.and_then(|d| d.database.as_ref()),
            workload: defaults.and_then(|d| d.workload.as_ref()),
            loader: defaults.and_then(|d| d.loader.as_ref()),
            origin: Origin::Under(SpecPath::root().key("defaults")),
        };
        x.check_layer(&defaults_layer);

        let mut tests: Vec<TestSpec> = Vec::new();
        let mut names: HashMap<String, String> = HashMap::new();
        for (i, entry) in self.tests.iter().enumerate() {
            let at = SpecPath::root().key("tests").index(i);
            if x.check_name(&at.key("name"), &entry.name, "test") {
                if let Some(first) = names.get(&entry.name) {
                    x.issues.push(
                        at.key("name"),
                        format!(
                            "duplicate test name `{}` (first used at {first})",
                            entry.name
                        ),
                    );
                } else {
                    names.insert(entry.name.clone(), at.key("name").0);
                }
            }
            let layer = Layer {
                database: entry.database.as_ref(),
                workload: entry.workload.as_ref(),
                loader: entry.loader.as_ref(),
                origin: Origin::Under(at.clone()),
            };
            x.check_layer(&layer);
            let missing = Missing {
                at,
                hint: "set it in this test or in defaults",
            };
            if let Some(test) = x.resolve(
                entry.name.clone(),
                &[defaults_layer.clone(), layer],
                &missing,
            ) {
                tests.push(test);
            }
        }

        let mut total = self.tests.len();
        if let Some(matrix) = &self.matrix {
            total = total.saturating_add(x.expand_matrix(
                matrix,
                &defaults_layer,
                self.tests.len(),
                &mut names,
                &mut tests,
            ));
        }

        if total == 0 {
            x.issues.push(
                SpecPath::root().key("tests"),
                "the suite has no tests: add at least one under `tests` or a `matrix`",
            );
        } else if total > MAX_TESTS {
            let at = if self.matrix.is_some() {
                "matrix"
            } else {
                "tests"
            };
            x.issues.push(
                SpecPath::root().key(at),
                format!("the suite expands to {total} tests; at most {MAX_TESTS} are allowed"),
            );
        }

        let baseline = match &self.baseline {
            Some(b) if names.contains_key(b) => b.clone(),
            Some(b) => {
                let mut known: Vec<&str> = names.keys().map(String::as_str).collect();
                known.sort_unstable();
                x.issues.push(
                    SpecPath::root().key("baseline"),
                    format!("no test is named `{b}`; tests: {}", list_names(&known)),
                );
                String::new()
            }
            None => tests.first().map(|t| t.name.clone()).unwrap_or_default(),
        };

        if !x.issues.is_empty() {
            return Err(x.issues.into_errors());
        }
        Ok(Suite {
            name: self.name.clone(),
            description: self.description.clone(),
            target: self.target,
            baseline,
            tests,
        })
    }
}

fn list_names(names: &[&str]) -> String {
    const SHOWN: usize = 10;
    let mut s = names
        .iter()
        .take(SHOWN)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    if s.is_empty() {
        s.push_str("none");
    }
    s
}

/// Problems found so far; the same problem reached from several tests (a bad value in
/// `defaults`) is kept once.
#[derive(Default)]
struct Issues {
    list: Vec<SpecError>,
    seen: HashSet<(String, String)>,
}

impl Issues {
    fn push(&mut self, path: SpecPath, message: impl Into<String>) {
        let message = message.into();
        if self.seen.insert((path.0.clone(), message.clone())) {
            self.list.push(SpecError::new(path.0, message));
        }
    }

    fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    fn into_errors(self) -> SpecErrors {
        SpecErrors(self.list)
    }
}

/// Where a layer's fields are reported.
#[derive(Debug, Clone)]
enum Origin {
    /// At the field's own path under this prefix (`defaults`, `tests[2]`).
    Under(SpecPath),
    /// Always at this path: a matrix axis value (`matrix.axes.workload.clients[1]`).
    At(SpecPath),
}

impl Origin {
    fn at(&self, rel: &[&str]) -> SpecPath {
        match self {
            Origin::Under(base) => base.keys(rel),
            Origin::At(p) => p.clone(),
        }
    }
}

/// One source of values for a test, later layers overriding earlier ones.
#[derive(Debug, Clone)]
struct Layer<'a> {
    database: Option<&'a DatabasePatch>,
    workload: Option<&'a WorkloadPatch>,
    loader: Option<&'a LoaderPatch>,
    origin: Origin,
}

impl Layer<'_> {
    fn hardware(&self, section: HwSection) -> Option<&HardwarePatch> {
        match section {
            HwSection::Database => self.database.and_then(|d| d.hardware.as_ref()),
            HwSection::Loader => self.loader.and_then(|l| l.hardware.as_ref()),
        }
    }

    fn driver(&self) -> Option<Driver> {
        self.workload.and_then(|w| w.driver)
    }
}

#[derive(Debug, Clone, Copy)]
enum HwSection {
    Database,
    Loader,
}

impl HwSection {
    fn key(self) -> &'static str {
        match self {
            HwSection::Database => "database",
            HwSection::Loader => "loader",
        }
    }
}

/// Where a missing required field is reported, and how to fix it.
struct Missing {
    at: SpecPath,
    hint: &'static str,
}

/// A value and the layer it came from.
struct Picked<T> {
    value: T,
    path: SpecPath,
    layer: usize,
}

/// The value of the last layer that sets it.
fn pick<'a, T>(
    layers: &[&Layer<'a>],
    rel: &[&str],
    get: impl Fn(&Layer<'a>) -> Option<T>,
) -> Option<Picked<T>> {
    layers.iter().enumerate().rev().find_map(|(i, l)| {
        get(l).map(|value| Picked {
            value,
            path: l.origin.at(rel),
            layer: i,
        })
    })
}

/// The workload fields only one driver understands.
fn foreign_fields(w: &WorkloadPatch, driver: Driver) -> Vec<&'static str> {
    let mut out = Vec::new();
    match driver {
        Driver::Pgbench => {
            if w.version.is_some() {
                out.push("version");
            }
            if w.sha256.is_some() {
                out.push("sha256");
            }
            if w.workload.is_some() {
                out.push("workload");
            }
            if w.vus.is_some() {
                out.push("vus");
            }
            if !w.env.is_empty() {
                out.push("env");
            }
        }
        Driver::Stroppy => {
            if w.clients.is_some() {
                out.push("clients");
            }
            if w.threads.is_some() {
                out.push("threads");
            }
            if w.builtin.is_some() {
                out.push("builtin");
            }
        }
    }
    out
}

fn other(driver: Driver) -> Driver {
    match driver {
        Driver::Pgbench => Driver::Stroppy,
        Driver::Stroppy => Driver::Pgbench,
    }
}

struct Expander {
    target: Target,
    issues: Issues,
}

impl Expander {
    /// Suite and test names: they become parts of host, container and cloud resource
    /// names, hence DNS-label rules.
    fn check_name(&mut self, path: &SpecPath, name: &str, what: &str) -> bool {
        match name_problem(name) {
            None => true,
            Some(problem) => {
                self.issues.push(
                    path.clone(),
                    format!("invalid {what} name `{name}`: {problem}"),
                );
                false
            }
        }
    }

    /// Check each value a layer sets on its own, whether or not a later layer overrides
    /// it: a wrong value is worth fixing wherever it is.
    fn check_layer(&mut self, layer: &Layer) {
        let o = &layer.origin;
        if let Some(db) = layer.database {
            if let Some(v) = db.version
                && !(MIN_PG_VERSION..=MAX_PG_VERSION).contains(&v)
            {
                self.issues.push(
                    o.at(&["database", "version"]),
                    format!(
                        "PostgreSQL {v} is not supported: use a major version from \
                         {MIN_PG_VERSION} to {MAX_PG_VERSION}"
                    ),
                );
            }
            for (key, value) in &db.settings {
                let at = match o {
                    Origin::Under(base) => base.keys(&["database", "settings"]).key(key),
                    Origin::At(p) => p.clone(),
                };
                if let Some(problem) = setting_name_problem(key) {
                    self.issues.push(
                        at.clone(),
                        format!("invalid setting name `{key}`: {problem}"),
                    );
                } else if let Some(why) = protocol::settings::refused(key) {
                    self.issues.push(
                        at.clone(),
                        format!(
                            "setting `{key}` is not allowed in a suite: {why} (see \"Security model\" in the README)"
                        ),
                    );
                }
                if let Some(problem) = setting_value_problem(value) {
                    self.issues.push(at, format!("setting `{key}` {problem}"));
                }
            }
        }
        for section in [HwSection::Database, HwSection::Loader] {
            if let Some(hw) = layer.hardware(section) {
                self.check_hardware(o, section, hw);
            }
        }
        if let Some(w) = layer.workload {
            self.check_workload(o, w);
        }
    }

    fn check_hardware(&mut self, o: &Origin, section: HwSection, hw: &HardwarePatch) {
        let s = section.key();
        let fields = [
            ("cores", hw.cores, MAX_CORES),
            ("memory_gb", hw.memory_gb, MAX_MEMORY_GB),
            ("disk_gb", hw.disk_gb, MAX_DISK_GB),
        ];
        for (field, value, max) in fields {
            if let Some(v) = value
                && !(1..=max).contains(&v)
            {
                self.issues.push(
                    o.at(&[s, "hardware", field]),
                    format!("{field} must be from 1 to {max}, not {v}"),
                );
            }
        }
    }

    fn check_workload(&mut self, o: &Origin, w: &WorkloadPatch) {
        if let Some(d) = w.duration {
            let d = d.0;
            let at = o.at(&["workload", "duration"]);
            if d < MIN_DURATION || d > MAX_DURATION {
                self.issues.push(
                    at,
                    format!(
                        "duration {} is out of range: use {} to {}",
                        humantime::format_duration(d),
                        humantime::format_duration(MIN_DURATION),
                        humantime::format_duration(MAX_DURATION)
                    ),
                );
            } else if d.subsec_nanos() != 0 {
                self.issues.push(
                    at,
                    format!(
                        "duration {} is not a whole number of seconds (the tools take seconds)",
                        humantime::format_duration(d)
                    ),
                );
            }
        }
        for (field, value) in [
            ("scale", w.scale),
            ("clients", w.clients),
            ("threads", w.threads),
            ("vus", w.vus),
        ] {
            if value == Some(0) {
                self.issues.push(
                    o.at(&["workload", field]),
                    format!("{field} must be at least 1"),
                );
            }
        }
        if let Some(v) = &w.version
            && let Some(problem) = stroppy_version_problem(v)
        {
            self.issues.push(
                o.at(&["workload", "version"]),
                format!("invalid stroppy version `{v}`: {problem}"),
            );
        }
        if let Some(h) = &w.sha256
            && let Some(problem) = sha256_problem(h)
        {
            self.issues.push(
                o.at(&["workload", "sha256"]),
                format!("invalid sha256 `{h}`: {problem}"),
            );
        }
        if let Some(wl) = &w.workload
            && let Some(problem) = stroppy_workload_problem(wl)
        {
            self.issues.push(
                o.at(&["workload", "workload"]),
                format!("invalid stroppy workload `{wl}`: {problem}"),
            );
        }
        for (key, value) in &w.env {
            let at = match o {
                Origin::Under(base) => base.keys(&["workload", "env"]).key(key),
                Origin::At(p) => p.clone(),
            };
            if !is_env_name(key) {
                self.issues.push(
                    at.clone(),
                    format!(
                        "invalid environment variable name `{key}`: use [A-Za-z_][A-Za-z0-9_]*"
                    ),
                );
            }
            if value.contains('\0') {
                self.issues.push(
                    at,
                    format!("environment variable `{key}` contains a NUL character"),
                );
            }
        }
        if let Some(driver) = w.driver {
            for field in foreign_fields(w, driver) {
                self.issues.push(
                    o.at(&["workload", field]),
                    format!(
                        "`{field}` is a {} option, but the driver here is {}",
                        other(driver).as_str(),
                        driver.as_str()
                    ),
                );
            }
        }
    }

    /// Merge `layers` (lowest first) into one complete test, or record why it cannot be.
    fn resolve(&mut self, name: String, layers: &[Layer], missing: &Missing) -> Option<TestSpec> {
        let all: Vec<&Layer> = layers.iter().collect();
        let before = self.issues.list.len();

        let version = pick(&all, &["database", "version"], |l| {
            l.database.and_then(|d| d.version)
        });
        if version.is_none() {
            self.missing(missing, &["database", "version"]);
        }
        let mut settings = BTreeMap::new();
        for l in &all {
            if let Some(db) = l.database {
                settings.extend(db.settings.iter().map(|(k, v)| (k.clone(), v.clone())));
            }
        }
        let db_hardware = self.resolve_hardware(&all, HwSection::Database, missing);
        let workload = self.resolve_workload(&all, missing);
        let loader_hardware = self.resolve_hardware(&all, HwSection::Loader, missing);

        if self.issues.list.len() > before {
            return None;
        }
        Some(TestSpec {
            name,
            database: DatabaseSpec {
                version: version?.value,
                settings,
                hardware: db_hardware,
            },
            workload: workload?,
            loader: LoaderSpec {
                hardware: loader_hardware,
            },
        })
    }

    fn missing(&mut self, missing: &Missing, rel: &[&str]) {
        self.issues.push(
            missing.at.keys(rel),
            format!("`{}` is not set: {}", rel.join("."), missing.hint),
        );
    }

    fn resolve_hardware(
        &mut self,
        layers: &[&Layer],
        section: HwSection,
        missing: &Missing,
    ) -> Option<Hardware> {
        let s = section.key();
        let cores = pick(layers, &[s, "hardware", "cores"], |l| {
            l.hardware(section).and_then(|h| h.cores)
        });
        let memory = pick(layers, &[s, "hardware", "memory_gb"], |l| {
            l.hardware(section).and_then(|h| h.memory_gb)
        });
        let disk = pick(layers, &[s, "hardware", "disk_gb"], |l| {
            l.hardware(section).and_then(|h| h.disk_gb)
        });
        if cores.is_none() && memory.is_none() && disk.is_none() {
            if self.target == Target::Yandex {
                self.issues.push(
                    missing.at.keys(&[s, "hardware"]),
                    format!(
                        "`{s}.hardware` (cores, memory_gb) is required when the target is \
                         yandex: {}",
                        missing.hint
                    ),
                );
            }
            return None;
        }
        if cores.is_none() {
            self.missing(missing, &[s, "hardware", "cores"]);
        }
        if memory.is_none() {
            self.missing(missing, &[s, "hardware", "memory_gb"]);
        }
        Some(Hardware {
            cores: cores?.value,
            memory_gb: memory?.value,
            disk_gb: disk.map_or(DEFAULT_DISK_GB, |d| d.value),
        })
    }

    fn resolve_workload(&mut self, all: &[&Layer], missing: &Missing) -> Option<Workload> {
        let Some(driver) = pick(all, &["workload", "driver"], Layer::driver) else {
            self.missing(missing, &["workload", "driver"]);
            return None;
        };
        let driver = driver.value;
        // A layer that names another driver (defaults for pgbench, a test switching to
        // stroppy) keeps its driver's options to itself; a layer that names none must
        // only use options of the driver the test ends up with.
        let applicable: Vec<&Layer> = all
            .iter()
            .copied()
            .filter(|l| l.driver().is_none_or(|d| d == driver))
            .collect();
        for l in &applicable {
            if let Some(w) = l.workload
                && w.driver.is_none()
            {
                for field in foreign_fields(w, driver) {
                    self.issues.push(
                        l.origin.at(&["workload", field]),
                        format!(
                            "`{field}` is a {} option, but this test's driver is {}",
                            other(driver).as_str(),
                            driver.as_str()
                        ),
                    );
                }
            }
        }

        let duration = pick(all, &["workload", "duration"], |l| {
            l.workload.and_then(|w| w.duration)
        });
        if duration.is_none() {
            self.missing(missing, &["workload", "duration"]);
        }
        let scale = pick(all, &["workload", "scale"], |l| {
            l.workload.and_then(|w| w.scale)
        });

        match driver {
            Driver::Pgbench => {
                let clients = pick(&applicable, &["workload", "clients"], |l| {
                    l.workload.and_then(|w| w.clients)
                });
                let threads = pick(&applicable, &["workload", "threads"], |l| {
                    l.workload.and_then(|w| w.threads)
                });
                let builtin = pick(&applicable, &["workload", "builtin"], |l| {
                    l.workload.and_then(|w| w.builtin)
                });
                let n_clients = clients.as_ref().map_or(1, |c| c.value);
                if let Some(t) = &threads
                    && t.value > n_clients
                {
                    // Point at whichever of the two was set last: changing it fixes this test.
                    let at = match &clients {
                        Some(c) if c.layer > t.layer => c.path.clone(),
                        _ => t.path.clone(),
                    };
                    self.issues.push(
                        at,
                        format!(
                            "threads ({}) must not exceed clients ({n_clients})",
                            t.value
                        ),
                    );
                }
                Some(Workload::Pgbench {
                    duration: duration?.value.0,
                    scale: scale.map_or(1, |s| s.value),
                    clients: n_clients,
                    threads: threads.map_or(1, |t| t.value),
                    builtin: builtin.map_or_else(Builtin::default, |b| b.value),
                })
            }
            Driver::Stroppy => {
                let version = pick(&applicable, &["workload", "version"], |l| {
                    l.workload.and_then(|w| w.version.clone())
                });
                if version.is_none() {
                    self.missing(missing, &["workload", "version"]);
                }
                let workload = pick(&applicable, &["workload", "workload"], |l| {
                    l.workload.and_then(|w| w.workload.clone())
                });
                if workload.is_none() {
                    self.missing(missing, &["workload", "workload"]);
                }
                // A checksum belongs to the version set beside it (or later): one left in
                // `defaults` does not follow a test to another version.
                let sha256 = pick(&applicable, &["workload", "sha256"], |l| {
                    l.workload.and_then(|w| w.sha256.clone())
                })
                .filter(|h| version.as_ref().is_none_or(|v| h.layer >= v.layer))
                .map(|h| h.value.to_ascii_lowercase());
                let vus = pick(&applicable, &["workload", "vus"], |l| {
                    l.workload.and_then(|w| w.vus)
                });
                let mut env = BTreeMap::new();
                for l in &applicable {
                    if let Some(w) = l.workload {
                        env.extend(w.env.iter().map(|(k, v)| (k.clone(), v.clone())));
                    }
                }
                Some(Workload::Stroppy {
                    version: version?.value,
                    sha256,
                    workload: workload?.value,
                    duration: duration?.value.0,
                    scale: scale.map(|s| s.value),
                    vus: vus.map_or(1, |v| v.value),
                    env,
                })
            }
        }
    }

    /// Check the matrix and add its tests; returns how many tests it stands for (even
    /// when they could not be built), for the suite-wide count checks.
    fn expand_matrix(
        &mut self,
        matrix: &Matrix,
        defaults: &Layer,
        first_index: usize,
        names: &mut HashMap<String, String>,
        tests: &mut Vec<TestSpec>,
    ) -> usize {
        let at = SpecPath::root().key("matrix");
        let axes_at = at.key("axes");
        let axes = &matrix.axes.0;
        let before = self.issues.list.len();

        if axes.is_empty() {
            self.issues
                .push(axes_at.clone(), "a matrix needs at least one axis");
        }
        // Each axis value as its own layer, checked once (not once per combination).
        let mut values: Vec<Vec<Sections>> = Vec::with_capacity(axes.len());
        for axis in axes {
            let axis_at = axes_at.key(&axis.path);
            let Some(segments) = axis_segments(&axis.path) else {
                self.issues.push(
                    axis_at,
                    format!("unknown axis `{}`: expected one of {AXIS_HELP}", axis.path),
                );
                values.push(Vec::new());
                continue;
            };
            if axis.values.is_empty() {
                self.issues
                    .push(axis_at.clone(), "an axis needs at least one value");
            }
            let mut sections = Vec::with_capacity(axis.values.len());
            for (i, value) in axis.values.iter().enumerate() {
                let value_at = axis_at.index(i);
                match axis_value_sections(&segments, value) {
                    Ok(s) => {
                        let layer = sections_layer(&s, Origin::At(value_at));
                        self.check_layer(&layer);
                        sections.push(s);
                    }
                    Err(message) => self.issues.push(value_at, message),
                }
            }
            values.push(sections);
        }

        let count = axes
            .iter()
            .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
            .unwrap_or(usize::MAX);
        let template = match parse_template(&matrix.name, axes) {
            Ok(t) => Some(t),
            Err(problem) => {
                self.issues.push(at.key("name"), problem);
                None
            }
        };
        if axes.is_empty() {
            return 0;
        }
        if count == 0 || first_index.saturating_add(count) > MAX_TESTS {
            return count;
        }
        let Some(template) = template else {
            return count;
        };
        // With a bad axis value the tests cannot be built, but their names still count
        // (a `baseline` may name one).
        let build = self.issues.list.len() == before;

        let mut pos = vec![0usize; axes.len()];
        let mut reported_name = false;
        for _ in 0..count {
            let name = render_template(&template, axes, &pos);
            let problem = match (name_problem(&name), names.get(&name)) {
                (Some(problem), _) => Some(format!(
                    "the template gives the invalid test name `{name}`: {problem}"
                )),
                (None, Some(first)) => Some(format!(
                    "the template gives the test name `{name}` more than once (also {first}){}",
                    unused_axes_hint(&template, axes)
                )),
                (None, None) => {
                    names.insert(name.clone(), "an earlier combination".to_owned());
                    None
                }
            };
            // One name problem is enough to fix the template.
            if let Some(problem) = problem
                && !reported_name
            {
                self.issues.push(at.key("name"), problem);
                reported_name = true;
            }
            if build {
                let mut layers = vec![defaults.clone()];
                for (a, &p) in pos.iter().enumerate() {
                    if let Some(s) = values.get(a).and_then(|v| v.get(p)) {
                        layers.push(sections_layer(
                            s,
                            Origin::At(axes_at.key(&axes[a].path).index(p)),
                        ));
                    }
                }
                let missing = Missing {
                    at: SpecPath::root().key("defaults"),
                    hint: "a matrix test takes it from defaults or from an axis",
                };
                if let Some(test) = self.resolve(name, &layers, &missing) {
                    tests.push(test);
                }
            }
            // Odometer, last axis fastest.
            for a in (0..pos.len()).rev() {
                pos[a] += 1;
                if pos[a] < axes[a].values.len() {
                    break;
                }
                pos[a] = 0;
            }
        }
        count
    }
}

/// For a duplicate name: the axes with several values that the template leaves out.
fn unused_axes_hint(template: &[Piece], axes: &[Axis]) -> String {
    let unused: Vec<String> = axes
        .iter()
        .enumerate()
        .filter(|(a, axis)| axis.values.len() > 1 && !template.contains(&Piece::Axis(*a)))
        .map(|(_, axis)| format!("{{{}}}", axis.path))
        .collect();
    if unused.is_empty() {
        String::new()
    } else {
        format!(
            "; mention every axis with several values, e.g. {}",
            unused.join(" ")
        )
    }
}

fn sections_layer(s: &Sections, origin: Origin) -> Layer<'_> {
    Layer {
        database: s.database.as_ref(),
        workload: s.workload.as_ref(),
        loader: s.loader.as_ref(),
        origin,
    }
}

const AXIS_HELP: &str = "database.version, database.settings.<name>, \
    database.hardware.<cores|memory_gb|disk_gb>, workload.<driver|duration|scale|clients|\
    threads|builtin|version|workload|vus>, workload.env.<NAME>, \
    loader.hardware.<cores|memory_gb|disk_gb>";

/// The keys an axis path stands for, if it names a field an axis may vary.
fn axis_segments(path: &str) -> Option<Vec<&str>> {
    const HARDWARE: &[&str] = &["cores", "memory_gb", "disk_gb"];
    const WORKLOAD: &[&str] = &[
        "driver", "duration", "scale", "clients", "threads", "builtin", "version", "workload",
        "vus",
    ];
    // Setting names may contain dots themselves (`pg_stat_statements.max`).
    if let Some(name) = path.strip_prefix("database.settings.") {
        return (!name.is_empty()).then(|| vec!["database", "settings", name]);
    }
    if let Some(name) = path.strip_prefix("workload.env.") {
        return (!name.is_empty()).then(|| vec!["workload", "env", name]);
    }
    let parts: Vec<&str> = path.split('.').collect();
    let known = match parts.as_slice() {
        ["database", "version"] => true,
        ["database" | "loader", "hardware", f] => HARDWARE.contains(f),
        ["workload", f] => WORKLOAD.contains(f),
        _ => false,
    };
    known.then_some(parts)
}

/// One axis value as the sections it sets, through the same serde types as the document
/// so that types and enum names are checked the same way.
fn axis_value_sections(segments: &[&str], value: &Value) -> Result<Sections, String> {
    let nested = segments.iter().rev().fold(value.clone(), |inner, key| {
        let mut map = serde_json::Map::new();
        map.insert((*key).to_owned(), inner);
        Value::Object(map)
    });
    Sections::deserialize(nested).map_err(|e| e.to_string())
}

#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Axis(usize),
}

fn parse_template(template: &str, axes: &[Axis]) -> Result<Vec<Piece>, String> {
    let mut pieces = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        match rest.find(['{', '}']) {
            None => {
                pieces.push(Piece::Text(rest.to_owned()));
                break;
            }
            Some(i) => {
                if i > 0 {
                    pieces.push(Piece::Text(rest[..i].to_owned()));
                }
                if rest[i..].starts_with('}') {
                    return Err(format!("unmatched `}}` in the name template `{template}`"));
                }
                let after = &rest[i + 1..];
                let Some(end) = after.find('}') else {
                    return Err(format!("unclosed `{{` in the name template `{template}`"));
                };
                let key = after[..end].trim();
                let Some(a) = axes.iter().position(|axis| axis.path == key) else {
                    let known: Vec<&str> = axes.iter().map(|a| a.path.as_str()).collect();
                    return Err(format!(
                        "`{{{key}}}` in the name template is not an axis; axes: {}",
                        list_names(&known)
                    ));
                };
                pieces.push(Piece::Axis(a));
                rest = &after[end + 1..];
            }
        }
    }
    Ok(pieces)
}

fn render_template(pieces: &[Piece], axes: &[Axis], pos: &[usize]) -> String {
    let mut name = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => name.push_str(t),
            Piece::Axis(a) => {
                let value = axes
                    .get(*a)
                    .zip(pos.get(*a))
                    .and_then(|(axis, &p)| axis.values.get(p));
                if let Some(v) = value {
                    name.push_str(&name_fragment(v));
                }
            }
        }
    }
    name
}

/// An axis value as part of a test name: lowercase, runs of other characters as one `-`.
fn name_fragment(value: &Value) -> String {
    let raw = match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("it is empty".into());
    }
    if name.len() > MAX_NAME_LEN {
        return Some(format!(
            "it is {} characters long; at most {MAX_NAME_LEN}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Some(format!(
            "`{c}` is not allowed: use lowercase letters, digits and `-`"
        ));
    }
    if name.starts_with('-') || name.ends_with('-') {
        return Some("it must not start or end with `-`".into());
    }
    None
}

/// `postgresql.conf` names: `[a-z_][a-z0-9_.]*` (dots for extension settings such as
/// `pg_stat_statements.max`). Anything else could not be a setting, or could smuggle
/// text into the file.
fn setting_name_problem(name: &str) -> Option<&'static str> {
    let mut chars = name.chars();
    match chars.next() {
        None => Some("it is empty"),
        Some(c) if !(c.is_ascii_lowercase() || c == '_') => {
            Some("it must start with a lowercase letter or `_` ([a-z_][a-z0-9_.]*)")
        }
        _ if chars
            .any(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')) =>
        {
            Some("use lowercase letters, digits, `_` and `.` ([a-z_][a-z0-9_.]*)")
        }
        _ => None,
    }
}

/// Settings take a scalar; a string must stay on one line of `postgresql.conf`.
fn setting_value_problem(value: &Value) -> Option<&'static str> {
    match value {
        Value::Bool(_) | Value::Number(_) => None,
        Value::String(s) if s.chars().any(char::is_control) => {
            Some("must not contain control characters such as newlines")
        }
        Value::String(_) => None,
        Value::Null => Some("has no value: give a string, number or boolean"),
        Value::Array(_) => Some("must be a string, number or boolean, not a list"),
        Value::Object(_) => Some("must be a string, number or boolean, not a map"),
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The version lands in a download URL and a file name.
fn stroppy_version_problem(v: &str) -> Option<&'static str> {
    if v.is_empty() || v.len() > 64 {
        Some("give a release such as 6.1.1")
    } else if !v.starts_with(|c: char| c.is_ascii_alphanumeric())
        || v.chars()
            .any(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | '_')))
    {
        Some("use letters, digits, `.`, `-`, `+` and `_`, as in 6.1.1")
    } else {
        None
    }
}

/// The workload is one command-line argument, never an option.
fn stroppy_workload_problem(w: &str) -> Option<&'static str> {
    if w.is_empty() || w.len() > 256 {
        Some("give one such as tpcc/tx or tpcb/tx")
    } else if w.chars().any(|c| c.is_whitespace() || c.is_control()) {
        Some("it must not contain spaces or control characters")
    } else if w.starts_with('-') {
        Some("it must not start with `-` (it would be read as an option)")
    } else {
        None
    }
}

/// A release's checksum: 64 hex digits.
fn sha256_problem(h: &str) -> Option<&'static str> {
    (h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()))
        .then_some("give the release tarball's SHA-256 as 64 hex digits (`sha256sum stroppy_linux_amd64.tar.gz`)")
}

// ---------------------------------------------------------------------------------------
// Locating paths in the source text
// ---------------------------------------------------------------------------------------

/// The shape of a document with the position of every key and item, to turn a path
/// found after parsing back into a line and column.
#[derive(Debug)]
enum LocNode {
    /// Entries by key (a key that appears twice keeps its first position).
    Map(HashMap<String, ((usize, usize), LocNode)>),
    Seq(Vec<((usize, usize), LocNode)>),
    Scalar,
}

fn position(l: &serde_saphyr::Location) -> (usize, usize) {
    (
        usize::try_from(l.line()).unwrap_or(0),
        usize::try_from(l.column()).unwrap_or(0),
    )
}

impl LocNode {
    fn parse(text: &str) -> Option<LocNode> {
        serde_saphyr::from_str_with_options::<LocNode>(text, yaml_options()).ok()
    }

    /// The position of the deepest node along `path` that exists. Keys may contain dots,
    /// so the longest prefix of the path that is a key of the map wins; each step looks up
    /// at most one key per `.` or `[` left in the path (linear in the path's length).
    fn find(&self, path: &str) -> Option<(usize, usize)> {
        let mut node = self;
        let mut rest = path;
        let mut found = None;
        while !rest.is_empty() {
            let next = match node {
                LocNode::Map(entries) => {
                    let rest_key = rest.strip_prefix('.').unwrap_or(rest);
                    let ends = rest_key
                        .char_indices()
                        .filter(|(_, c)| matches!(c, '.' | '['))
                        .map(|(i, _)| i)
                        .chain([rest_key.len()]);
                    let ends: Vec<usize> = ends.collect();
                    ends.into_iter().rev().find_map(|end| {
                        let key = &rest_key[..end];
                        entries
                            .get(key)
                            .map(|(pos, child)| (&rest_key[end..], *pos, child))
                    })
                }
                LocNode::Seq(items) => rest.strip_prefix('[').and_then(|r| {
                    let (digits, after) = r.split_once(']')?;
                    let i: usize = digits.parse().ok()?;
                    let (pos, child) = items.get(i)?;
                    Some((after, *pos, child))
                }),
                LocNode::Scalar => None,
            };
            let Some((after, pos, child)) = next else {
                break;
            };
            found = Some(pos).filter(|(line, _)| *line > 0);
            node = child;
            rest = after;
        }
        found
    }
}

impl<'de> Deserialize<'de> for LocNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LocVisitor)
    }
}

/// Any scalar as a map key, as text (YAML keys may be numbers or booleans).
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<KeyText, E> {
                Ok(KeyText(String::new()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

struct LocVisitor;

impl<'de> Visitor<'de> for LocVisitor {
    type Value = LocNode;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML node")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<LocNode, A::Error> {
        let mut entries = HashMap::new();
        while let Some(key) = map.next_key::<serde_saphyr::Spanned<KeyText>>()? {
            let value: LocNode = map.next_value()?;
            entries
                .entry(key.value.0)
                .or_insert((position(&key.referenced), value));
        }
        Ok(LocNode::Map(entries))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<LocNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<serde_saphyr::Spanned<LocNode>>()? {
            items.push((position(&item.referenced), item.value));
        }
        Ok(LocNode::Seq(items))
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
    fn visit_unit<E: de::Error>(self) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
    fn visit_none<E: de::Error>(self) -> Result<LocNode, E> {
        Ok(LocNode::Scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LOCAL_EXAMPLE: &str = include_str!("../../../examples/suite-local.yaml");
    const YANDEX_EXAMPLE: &str = include_str!("../../../examples/suite-yandex.yaml");

    fn load_yaml(text: &str) -> Result<LoadedSuite, SpecErrors> {
        load(text, SpecFormat::Yaml)
    }

    fn suite(text: &str) -> Suite {
        match load_yaml(text) {
            Ok(l) => l.suite,
            Err(e) => panic!("expected the suite to load, got:\n{e}"),
        }
    }

    fn errors(text: &str) -> Vec<SpecError> {
        match load_yaml(text) {
            Ok(l) => panic!("expected errors, got {:#?}", l.suite),
            Err(e) => e.0,
        }
    }

    /// The single error at `path`, failing with the whole list otherwise.
    fn error_at<'a>(errs: &'a [SpecError], path: &str) -> &'a SpecError {
        let found: Vec<&SpecError> = errs.iter().filter(|e| e.path == path).collect();
        match found.as_slice() {
            [one] => one,
            _ => panic!("expected one error at `{path}`, got: {errs:#?}"),
        }
    }

    fn parse_error(text: &str, format: SpecFormat) -> SpecError {
        match parse(text, format) {
            Ok(spec) => panic!("expected a parse error, got {spec:#?}"),
            Err(e) => e,
        }
    }

    const PGBENCH: &str = "
name: s
target: local
defaults:
  database:
    version: 15
  workload:
    driver: pgbench
    duration: 20s
";

    fn with_pgbench(rest: &str) -> String {
        format!("{PGBENCH}{rest}")
    }

    // --- the examples --------------------------------------------------------------

    #[test]
    fn local_example_expands_to_three_pgbench_tests() {
        let s = suite(LOCAL_EXAMPLE);
        assert_eq!(s.name, "pg15-local-tuning");
        assert_eq!(s.target, Target::Local);
        assert_eq!(s.baseline, "default");
        let names: Vec<&str> = s.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["default", "tuned", "wal-tuned"]);
        for t in &s.tests {
            assert_eq!(t.database.version, 15);
            assert_eq!(t.database.hardware, None);
            assert_eq!(
                t.workload,
                Workload::Pgbench {
                    duration: Duration::from_secs(15),
                    scale: 1,
                    clients: 4,
                    threads: 2,
                    builtin: Builtin::TpcbLike,
                }
            );
            assert_eq!(t.database.settings["max_connections"], json!(100));
        }
        let tuned = &s.tests[1].database.settings;
        assert_eq!(tuned["shared_buffers"], json!("256MB"));
        assert_eq!(tuned["synchronous_commit"], json!("off"));
        assert_eq!(s.tests[0].database.settings.len(), 1);
        assert_eq!(
            s.tests[2].database.settings["checkpoint_completion_target"],
            json!(0.9)
        );
    }

    #[test]
    fn yandex_example_expands_tests_then_matrix() {
        let s = suite(YANDEX_EXAMPLE);
        assert_eq!(s.target, Target::Yandex);
        assert_eq!(s.baseline, "pg16");
        let names: Vec<&str> = s.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "pg16",
                "pg17",
                "pg16-vus64",
                "pg16-vus128",
                "pg17-vus64",
                "pg17-vus128"
            ]
        );
        let versions: Vec<u32> = s.tests.iter().map(|t| t.database.version).collect();
        assert_eq!(versions, [16, 17, 16, 16, 17, 17]);
        for t in &s.tests {
            assert_eq!(
                t.database.hardware,
                Some(Hardware {
                    cores: 8,
                    memory_gb: 32,
                    disk_gb: 100
                })
            );
            assert_eq!(
                t.loader.hardware,
                Some(Hardware {
                    cores: 4,
                    memory_gb: 8,
                    disk_gb: DEFAULT_DISK_GB
                })
            );
            assert_eq!(t.database.settings["shared_buffers"], json!("8GB"));
            let Workload::Stroppy {
                version,
                workload,
                duration,
                scale,
                ..
            } = &t.workload
            else {
                panic!("expected stroppy, got {:?}", t.workload);
            };
            assert_eq!(version, "6.1.1");
            assert_eq!(workload, "tpcc/tx");
            assert_eq!(*duration, Duration::from_secs(600));
            assert_eq!(*scale, Some(100));
        }
        let vus: Vec<u32> = s
            .tests
            .iter()
            .map(|t| match &t.workload {
                Workload::Stroppy { vus, .. } => *vus,
                Workload::Pgbench { .. } => 0,
            })
            .collect();
        assert_eq!(vus, [32, 32, 64, 128, 64, 128]);
    }

    #[test]
    fn examples_parse_the_same_as_json() {
        for text in [LOCAL_EXAMPLE, YANDEX_EXAMPLE] {
            let loaded = load_yaml(text).unwrap();
            let json = serde_json::to_string_pretty(&loaded.spec).unwrap();
            let again = load(&json, SpecFormat::Json).unwrap();
            assert_eq!(again.spec, loaded.spec);
            assert_eq!(again.suite, loaded.suite);
            // JSON is YAML too.
            assert_eq!(load_yaml(&json).unwrap().suite, loaded.suite);
        }
    }

    // --- merging and defaults -------------------------------------------------------

    #[test]
    fn minimal_suite_fills_in_defaults() {
        let s = suite(&with_pgbench("tests:\n  - name: only\n"));
        assert_eq!(s.baseline, "only");
        assert_eq!(s.description, None);
        assert_eq!(
            s.tests,
            [TestSpec {
                name: "only".into(),
                database: DatabaseSpec {
                    version: 15,
                    settings: BTreeMap::new(),
                    hardware: None
                },
                workload: Workload::Pgbench {
                    duration: Duration::from_secs(20),
                    scale: 1,
                    clients: 1,
                    threads: 1,
                    builtin: Builtin::TpcbLike,
                },
                loader: LoaderSpec { hardware: None },
            }]
        );
    }

    #[test]
    fn tests_merge_over_defaults_key_by_key() {
        let s = suite(
            "
name: s
target: local
defaults:
  database:
    version: 15
    settings: {shared_buffers: 128MB, max_connections: 200, fsync: true}
    hardware: {cores: 2, memory_gb: 4}
  workload: {driver: pgbench, duration: 20s, clients: 8, threads: 2}
tests:
  - name: a
  - name: b
    database:
      version: 16
      settings: {shared_buffers: 256MB, synchronous_commit: off, work_mem: 4096}
      hardware: {memory_gb: 8, disk_gb: 50}
    workload: {threads: 4, builtin: select-only, duration: 1m}
",
        );
        let [a, b] = s.tests.as_slice() else {
            panic!("{s:?}")
        };
        assert_eq!(a.database.version, 15);
        assert_eq!(a.database.settings.len(), 3);
        assert_eq!(b.database.version, 16);
        assert_eq!(
            b.database.settings,
            BTreeMap::from([
                ("fsync".to_owned(), json!(true)),
                ("max_connections".to_owned(), json!(200)),
                ("shared_buffers".to_owned(), json!("256MB")),
                // YAML 1.2 booleans only: a bare `off` stays a string.
                ("synchronous_commit".to_owned(), json!("off")),
                ("work_mem".to_owned(), json!(4096)),
            ])
        );
        assert_eq!(
            a.database.hardware,
            Some(Hardware {
                cores: 2,
                memory_gb: 4,
                disk_gb: 20
            })
        );
        assert_eq!(
            b.database.hardware,
            Some(Hardware {
                cores: 2,
                memory_gb: 8,
                disk_gb: 50
            })
        );
        assert_eq!(
            b.workload,
            Workload::Pgbench {
                duration: Duration::from_secs(60),
                scale: 1,
                clients: 8,
                threads: 4,
                builtin: Builtin::SelectOnly,
            }
        );
    }

    #[test]
    fn stroppy_defaults_and_env_merge() {
        let s = suite(
            "
name: s
target: local
defaults:
  database: {version: 17}
  workload:
    driver: stroppy
    version: 6.1.1
    workload: tpcb/tx
    duration: 30s
    env: {A: '1', B: '2'}
tests:
  - name: a
  - name: b
    workload: {env: {B: three, C_D: '4'}, vus: 10, scale: 5}
",
        );
        assert_eq!(
            s.tests[0].workload,
            Workload::Stroppy {
                version: "6.1.1".into(),
                sha256: None,
                workload: "tpcb/tx".into(),
                duration: Duration::from_secs(30),
                scale: None,
                vus: 1,
                env: BTreeMap::from([("A".into(), "1".into()), ("B".into(), "2".into())]),
            }
        );
        let Workload::Stroppy {
            env, vus, scale, ..
        } = &s.tests[1].workload
        else {
            panic!()
        };
        assert_eq!((*vus, *scale), (10, Some(5)));
        assert_eq!(
            env,
            &BTreeMap::from([
                ("A".into(), "1".into()),
                ("B".into(), "three".into()),
                ("C_D".into(), "4".into())
            ])
        );
    }

    #[test]
    fn a_test_may_switch_driver_and_leaves_the_other_drivers_options_behind() {
        let s = suite(&with_pgbench(
            "    clients: 4
    threads: 2
tests:
  - name: pg
  - name: st
    workload: {driver: stroppy, version: 6.1.1, workload: tpcc/tx, vus: 3}
",
        ));
        assert!(matches!(s.tests[0].workload, Workload::Pgbench { .. }));
        let Workload::Stroppy { vus, duration, .. } = &s.tests[1].workload else {
            panic!()
        };
        assert_eq!(*vus, 3);
        // Common fields still come from the defaults.
        assert_eq!(*duration, Duration::from_secs(20));
    }

    #[test]
    fn durations_accept_humantime_and_seconds() {
        for (written, secs) in [
            ("20s", 20),
            ("10m", 600),
            ("1h 30m", 5400),
            ("45", 45),
            ("24h", 86400),
        ] {
            let text = format!(
                "name: s\ntarget: local\ntests:\n  - name: a\n    database: {{version: 15}}\n    workload: {{driver: pgbench, duration: {written}}}\n"
            );
            let Workload::Pgbench { duration, .. } = suite(&text).tests[0].workload else {
                panic!("{written}")
            };
            assert_eq!(duration, Duration::from_secs(secs), "{written}");
        }
    }

    // --- parse errors ---------------------------------------------------------------

    #[test]
    fn unknown_key_names_its_path_line_and_column() {
        let e = parse_error(
            "name: s
target: local
tests:
  - name: a
  - name: b
    workload:
      clientz: 3
",
            SpecFormat::Yaml,
        );
        assert_eq!(e.path, "tests[1].workload.clientz");
        assert!(
            e.message
                .starts_with("unknown field `clientz`, expected one of"),
            "{e}"
        );
        assert!(e.message.contains("clients"), "{e}");
        assert_eq!((e.line, e.column), (Some(7), Some(7)));
        assert!(
            e.to_string().starts_with(
                "at tests[1].workload.clientz (line 7, column 7): unknown field `clientz`"
            ),
            "{e}"
        );
    }

    #[test]
    fn unknown_top_level_and_nested_keys() {
        let e = parse_error("name: s\ntarget: local\ntestz: []\n", SpecFormat::Yaml);
        assert_eq!(e.path, "testz");
        assert_eq!(e.line, Some(3));
        let e = parse_error(
            "name: s\ntarget: local\ndefaults:\n  database:\n    hardware: {cores: 2, ram: 4}\n",
            SpecFormat::Yaml,
        );
        assert_eq!(e.path, "defaults.database.hardware.ram");
        assert_eq!(e.line, Some(5));
        let e = parse_error(
            "name: s\ntarget: local\nmatrix: {name: x, axes: {}, extra: 1}\n",
            SpecFormat::Yaml,
        );
        assert_eq!(e.path, "matrix.extra");
    }

    #[test]
    fn invalid_duration_is_a_parse_error_at_its_value() {
        let e = parse_error(
            "name: s\ntarget: local\ntests:\n  - name: a\n    workload:\n      duration: 20 sex\n",
            SpecFormat::Yaml,
        );
        assert_eq!(e.path, "tests[0].workload.duration");
        assert!(
            e.message.starts_with("invalid duration \"20 sex\": "),
            "{e}"
        );
        assert_eq!((e.line, e.column), (Some(6), Some(17)));
        assert!(e.to_string().starts_with(
            "at tests[0].workload.duration (line 6, column 17): invalid duration \"20 sex\""
        ));
    }

    #[test]
    fn wrong_types_say_what_was_expected() {
        let e = parse_error(
            "name: s\ntarget: local\ntests:\n  - name: a\n    workload: {clients: many}\n",
            SpecFormat::Yaml,
        );
        assert_eq!(e.path, "tests[0].workload.clients");
        assert_eq!(e.message, "invalid value `many`: expected a whole number");
        assert_eq!(e.line, Some(5));
        let e = parse_error("name: s\ntarget: cloud\n", SpecFormat::Yaml);
        assert_eq!(e.path, "target");
        assert!(e.message.contains("unknown variant `cloud`"), "{e}");
        let e = parse_error(
            "name: s\ntarget: local\ndefaults: {workload: {driver: pgbnech}}\n",
            SpecFormat::Yaml,
        );
        assert_eq!(e.path, "defaults.workload.driver");
        assert!(e.message.contains("pgbench"), "{e}");
        let e = parse_error(
            "name: s\ntarget: local\ndefaults: {workload: {builtin: tpcc}}\n",
            SpecFormat::Yaml,
        );
        assert_eq!(e.path, "defaults.workload.builtin");
        assert!(e.message.contains("tpcb-like"), "{e}");
    }

    #[test]
    fn missing_required_keys_and_empty_documents() {
        let e = parse_error("target: local\n", SpecFormat::Yaml);
        assert!(e.message.contains("missing field `name`"), "{e}");
        let e = parse_error("", SpecFormat::Yaml);
        assert_eq!(e.path, "");
        let e = parse_error(
            "name: s\ntarget: local\ntests:\n  - database: {version: 15}\n",
            SpecFormat::Yaml,
        );
        assert!(e.path.starts_with("tests[0]"), "{e}");
        assert!(e.message.contains("missing field `name`"), "{e}");
    }

    #[test]
    fn yaml_syntax_errors_and_duplicate_keys_have_positions() {
        let e = parse_error(
            "name: s\ntarget: local\ntests:\n\t- name: a\n",
            SpecFormat::Yaml,
        );
        assert_eq!(e.line, Some(4), "{e}");
        let e = parse_error("name: s\nname: t\ntarget: local\n", SpecFormat::Yaml);
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains("duplicate"), "{e}");
        assert!(!e.message.contains('\n'), "no rendered snippet: {e}");
        let e = parse_error("name: [s\n", SpecFormat::Yaml);
        assert!(e.line.is_some(), "{e}");
    }

    #[test]
    fn json_errors_have_paths_and_positions() {
        let e = parse_error(
            "{\"name\": \"s\", \"target\": \"local\",\n \"tests\": [{\"name\": \"a\", \"workload\": {\"vuz\": 1}}]}",
            SpecFormat::Json,
        );
        assert_eq!(e.path, "tests[0].workload.vuz");
        assert!(e.message.starts_with("unknown field `vuz`"), "{e}");
        assert!(!e.message.contains(" at line "), "{e}");
        assert_eq!(e.line, Some(2));
        let e = parse_error(
            "{\"name\": \"s\", \"target\": \"local\"} trailing",
            SpecFormat::Json,
        );
        assert_eq!(e.path, "");
        assert_eq!(e.line, Some(1));
        let e = parse_error("{\"name\": \"s\",", SpecFormat::Json);
        assert!(e.message.contains("EOF"), "{e}");
        let e = parse_error(
            "{\"name\": \"s\", \"target\": \"local\", \"matrix\": {\"name\": \"x\", \"axes\": {\"workload.vus\": [1], \"workload.vus\": [2]}}}",
            SpecFormat::Json,
        );
        assert!(e.message.contains("duplicate axis `workload.vus`"), "{e}");
    }

    // --- validation errors ----------------------------------------------------------

    #[test]
    fn all_validation_errors_are_reported_at_once_with_positions() {
        let errs = errors(
            "name: Bad_Name
target: local
baseline: nope
defaults:
  database:
    version: 11
  workload:
    driver: pgbench
    duration: 25h
tests:
  - name: a
    workload:
      clients: 2
      threads: 3
  - name: a
    database:
      settings:
        Shared-Buffers: 1GB
        work_mem: [1]
",
        );
        let e = error_at(&errs, "name");
        assert!(e.message.contains("invalid suite name `Bad_Name`"), "{e}");
        assert_eq!((e.line, e.column), (Some(1), Some(1)));
        let e = error_at(&errs, "defaults.database.version");
        assert!(e.message.contains("PostgreSQL 11 is not supported"), "{e}");
        assert_eq!(e.line, Some(6));
        let e = error_at(&errs, "defaults.workload.duration");
        assert!(e.message.contains("out of range"), "{e}");
        assert_eq!(e.line, Some(9));
        let e = error_at(&errs, "tests[0].workload.threads");
        assert_eq!(e.message, "threads (3) must not exceed clients (2)");
        assert_eq!((e.line, e.column), (Some(14), Some(7)));
        let e = error_at(&errs, "tests[1].name");
        assert!(e.message.contains("duplicate test name `a`"), "{e}");
        assert_eq!((e.line, e.column), (Some(15), Some(5)));
        let e = error_at(&errs, "tests[1].database.settings.Shared-Buffers");
        assert!(e.message.contains("invalid setting name"), "{e}");
        assert_eq!((e.line, e.column), (Some(18), Some(9)));
        let e = error_at(&errs, "tests[1].database.settings.work_mem");
        assert!(e.message.contains("not a list"), "{e}");
        let e = error_at(&errs, "baseline");
        assert!(e.message.contains("no test is named `nope`"), "{e}");
        assert_eq!(errs.len(), 8, "{errs:#?}");
        let text = SpecErrors(errs).to_string();
        assert_eq!(text.lines().count(), 8);
        assert!(
            text.contains("at tests[1].name (line 15, column 5): duplicate test name `a`"),
            "{text}"
        );
    }

    #[test]
    fn an_error_in_defaults_is_reported_once_not_per_test() {
        let errs = errors(
            "name: s
target: local
defaults:
  database: {version: 99}
  workload: {driver: pgbench, duration: 10s}
tests: [{name: a}, {name: b}, {name: c}]
",
        );
        assert_eq!(errs.len(), 1, "{errs:#?}");
        assert_eq!(errs[0].path, "defaults.database.version");
    }

    #[test]
    fn threads_default_clients_and_the_later_layer_is_blamed() {
        let errs = errors(&with_pgbench("    threads: 2\ntests:\n  - name: a\n"));
        assert_eq!(
            error_at(&errs, "defaults.workload.threads").message,
            "threads (2) must not exceed clients (1)"
        );
        let errs = errors(&with_pgbench(
            "    threads: 4\ntests:\n  - name: a\n    workload: {clients: 2}\n",
        ));
        assert_eq!(errs.len(), 1);
        error_at(&errs, "tests[0].workload.clients");
    }

    #[test]
    fn missing_values_point_at_where_they_belong() {
        let errs =
            errors("name: s\ntarget: local\ntests:\n  - name: a\n    workload: {scale: 2}\n");
        let e = error_at(&errs, "tests[0].database.version");
        assert!(e.message.contains("`database.version` is not set"), "{e}");
        // No `database` key: located at the test itself.
        assert_eq!((e.line, e.column), (Some(4), Some(5)));
        let e = error_at(&errs, "tests[0].workload.driver");
        assert_eq!((e.line, e.column), (Some(5), Some(5)));
        let errs = errors(
            &with_pgbench("    duration: null\ntests: [{name: a}]\n")
                .replace("    duration: 20s\n", ""),
        );
        error_at(&errs, "tests[0].workload.duration");
        let errs = errors(
            "name: s\ntarget: local\ndefaults: {database: {version: 15}, workload: {driver: stroppy, duration: 1m}}\ntests: [{name: a}]\n",
        );
        error_at(&errs, "tests[0].workload.version");
        error_at(&errs, "tests[0].workload.workload");
    }

    #[test]
    fn yandex_needs_hardware_everywhere() {
        let errs = errors(
            &with_pgbench("tests:\n  - name: a\n").replace("target: local", "target: yandex"),
        );
        let e = error_at(&errs, "tests[0].database.hardware");
        assert!(
            e.message.contains("required when the target is yandex"),
            "{e}"
        );
        error_at(&errs, "tests[0].loader.hardware");
        let ok = with_pgbench(
            "tests:
  - name: a
    database: {hardware: {cores: 2, memory_gb: 4}}
    loader: {hardware: {cores: 1, memory_gb: 1}}
",
        )
        .replace("target: local", "target: yandex");
        assert_eq!(
            suite(&ok).tests[0].loader.hardware,
            Some(Hardware {
                cores: 1,
                memory_gb: 1,
                disk_gb: 20
            })
        );
        let errs = errors(&with_pgbench(
            "tests:\n  - name: a\n    database: {hardware: {disk_gb: 0}}\n",
        ));
        error_at(&errs, "tests[0].database.hardware.cores");
        error_at(&errs, "tests[0].database.hardware.memory_gb");
        assert!(
            error_at(&errs, "tests[0].database.hardware.disk_gb")
                .message
                .contains("from 1 to")
        );
    }

    #[test]
    fn options_of_the_other_driver_are_refused() {
        let errs = errors(&with_pgbench("    vus: 10\ntests: [{name: a}]\n"));
        let e = error_at(&errs, "defaults.workload.vus");
        assert_eq!(
            e.message,
            "`vus` is a stroppy option, but the driver here is pgbench"
        );
        let errs = errors(&with_pgbench(
            "tests:\n  - name: a\n    workload: {env: {X: y}}\n",
        ));
        let e = error_at(&errs, "tests[0].workload.env");
        assert_eq!(
            e.message,
            "`env` is a stroppy option, but this test's driver is pgbench"
        );
    }

    #[test]
    fn setting_names_and_values_are_checked() {
        let errs = errors(&with_pgbench(
            "tests:
  - name: a
    database:
      settings:
        pg_stat_statements.max: 1000
        _private: x
        9lives: 1
        nothing: null
        nested: {a: 1}
        multi: \"a\\nb\"
",
        ));
        assert_eq!(errs.len(), 4, "{errs:#?}");
        assert!(
            error_at(&errs, "tests[0].database.settings.9lives")
                .message
                .contains("must start with")
        );
        assert!(
            error_at(&errs, "tests[0].database.settings.nothing")
                .message
                .contains("has no value")
        );
        assert!(
            error_at(&errs, "tests[0].database.settings.nested")
                .message
                .contains("not a map")
        );
        assert!(
            error_at(&errs, "tests[0].database.settings.multi")
                .message
                .contains("control characters")
        );
        assert_eq!(
            error_at(&errs, "tests[0].database.settings.nested").line,
            Some(18)
        );
    }

    #[test]
    fn durations_must_be_whole_seconds_in_range() {
        for (d, needle) in [
            ("0s", "out of range"),
            ("500ms", "out of range"),
            ("1500ms", "whole number"),
            ("25h", "out of range"),
        ] {
            let text = with_pgbench("tests: [{name: a}]\n")
                .replace("duration: 20s", &format!("duration: {d}"));
            let errs = errors(&text);
            assert!(
                error_at(&errs, "defaults.workload.duration")
                    .message
                    .contains(needle),
                "{d}: {errs:?}"
            );
        }
    }

    #[test]
    fn zero_counts_and_bad_stroppy_strings_are_refused() {
        let errs = errors(&with_pgbench(
            "    scale: 0\n    clients: 0\ntests: [{name: a}]\n",
        ));
        error_at(&errs, "defaults.workload.scale");
        error_at(&errs, "defaults.workload.clients");
        let errs = errors(
            "name: s\ntarget: local\ndefaults: {database: {version: 15}, workload: {driver: stroppy, duration: 1m, version: '6.1.1; rm -rf', workload: 'tpcc tx', vus: 0, env: {1BAD: x}}}\ntests: [{name: a}]\n",
        );
        error_at(&errs, "defaults.workload.version");
        error_at(&errs, "defaults.workload.workload");
        error_at(&errs, "defaults.workload.vus");
        error_at(&errs, "defaults.workload.env.1BAD");
    }

    #[test]
    fn names_follow_dns_label_rules() {
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"x".repeat(64)] {
            assert!(name_problem(bad).is_some(), "{bad:?}");
        }
        for good in ["a", "0", "pg-15", &"x".repeat(63)] {
            assert_eq!(name_problem(good), None, "{good:?}");
        }
    }

    #[test]
    fn an_empty_suite_is_an_error() {
        let errs = errors("name: s\ntarget: local\n");
        let e = error_at(&errs, "tests");
        assert!(e.message.contains("no tests"), "{e}");
        assert_eq!(e.line, None);
    }

    #[test]
    fn baseline_may_name_any_test() {
        let s = suite(&with_pgbench(
            "baseline: b\ntests: [{name: a}, {name: b}]\n",
        ));
        assert_eq!(s.baseline, "b");
    }

    // --- the matrix -----------------------------------------------------------------

    #[test]
    fn matrix_combinations_in_axis_order_with_sanitised_names() {
        let s = suite(&with_pgbench(
            "matrix:
  name: \"pg{database.version}-sb{database.settings.shared_buffers}-c{workload.clients}\"
  axes:
    database.version: [15, 16]
    database.settings.shared_buffers: [128MB, 1GB]
    workload.clients: [1, 8]
",
        ));
        let names: Vec<&str> = s.tests.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "pg15-sb128mb-c1",
                "pg15-sb128mb-c8",
                "pg15-sb1gb-c1",
                "pg15-sb1gb-c8",
                "pg16-sb128mb-c1",
                "pg16-sb128mb-c8",
                "pg16-sb1gb-c1",
                "pg16-sb1gb-c8",
            ]
        );
        assert_eq!(s.baseline, "pg15-sb128mb-c1");
        let t = &s.tests[7];
        assert_eq!(t.database.version, 16);
        assert_eq!(t.database.settings["shared_buffers"], json!("1GB"));
        let Workload::Pgbench {
            clients, duration, ..
        } = t.workload
        else {
            panic!()
        };
        assert_eq!((clients, duration), (8, Duration::from_secs(20)));
    }

    #[test]
    fn matrix_axes_reach_dotted_settings_hardware_and_env() {
        let s = suite(
            "name: s
target: yandex
defaults:
  database: {version: 16, hardware: {cores: 2, memory_gb: 4}}
  loader: {hardware: {cores: 1, memory_gb: 2}}
  workload: {driver: stroppy, version: 6.1.1, workload: tpcc/tx, duration: 1m}
matrix:
  name: \"{workload.workload}-m{database.hardware.memory_gb}-{database.settings.pg_stat_statements.max}-{workload.env.MODE}\"
  axes:
    workload.workload: [tpcc/tx]
    database.hardware.memory_gb: [8]
    database.settings.pg_stat_statements.max: [1000]
    workload.env.MODE: [Fast]
    loader.hardware.cores: [4]
    workload.duration: [90s]
",
        );
        let t = &s.tests[0];
        assert_eq!(t.name, "tpcc-tx-m8-1000-fast");
        assert_eq!(
            t.database.hardware,
            Some(Hardware {
                cores: 2,
                memory_gb: 8,
                disk_gb: 20
            })
        );
        assert_eq!(
            t.loader.hardware,
            Some(Hardware {
                cores: 4,
                memory_gb: 2,
                disk_gb: 20
            })
        );
        assert_eq!(t.database.settings["pg_stat_statements.max"], json!(1000));
        let Workload::Stroppy { env, duration, .. } = &t.workload else {
            panic!()
        };
        assert_eq!(env["MODE"], "Fast");
        assert_eq!(*duration, Duration::from_secs(90));
    }

    #[test]
    fn tests_and_matrix_together_and_name_clashes() {
        let errs = errors(&with_pgbench(
            "tests: [{name: c4}]
matrix:
  name: \"c{workload.clients}\"
  axes:
    workload.clients: [2, 4]
",
        ));
        let e = error_at(&errs, "matrix.name");
        assert!(
            e.message
                .contains("`c4` more than once (also tests[0].name)"),
            "{e}"
        );
        let errs = errors(&with_pgbench(
            "matrix:
  name: \"pg{database.version}\"
  axes:
    database.version: [15, 16]
    workload.clients: [2, 4]
",
        ));
        let e = error_at(&errs, "matrix.name");
        assert!(e.message.contains("`pg15` more than once"), "{e}");
        assert!(
            e.message.contains("{workload.clients}"),
            "hint names the missing axis: {e}"
        );
        assert_eq!(e.line, Some(11));
    }

    #[test]
    fn unknown_axis_is_reported_at_its_key() {
        let errs = errors(&with_pgbench(
            "matrix:
  name: \"c{workload.clientz}\"
  axes:
    workload.clientz: [4, 8]
",
        ));
        let e = error_at(&errs, "matrix.axes.workload.clientz");
        assert!(
            e.message
                .starts_with("unknown axis `workload.clientz`: expected one of database.version"),
            "{e}"
        );
        assert_eq!((e.line, e.column), (Some(13), Some(5)));
        for bad in [
            "name",
            "database",
            "database.settings.",
            "workload.env",
            "loader.hardware",
            "database.hardware.ram",
            "workload.clients.x",
        ] {
            assert!(axis_segments(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn bad_axis_values_are_reported_at_the_value() {
        let errs = errors(&with_pgbench(
            "matrix:
  name: \"pg{database.version}-{workload.builtin}\"
  axes:
    database.version: [15, \"16\", 30]
    workload.builtin: [tpcb-like, tpcc]
    workload.duration: [1 fortnight]
",
        ));
        let e = error_at(&errs, "matrix.axes.database.version[1]");
        assert!(e.message.contains("expected u32"), "{e}");
        assert_eq!((e.line, e.column), (Some(13), Some(28)));
        let e = error_at(&errs, "matrix.axes.database.version[2]");
        assert!(e.message.contains("PostgreSQL 30"), "{e}");
        let e = error_at(&errs, "matrix.axes.workload.builtin[1]");
        assert!(e.message.contains("unknown variant `tpcc`"), "{e}");
        let e = error_at(&errs, "matrix.axes.workload.duration[0]");
        assert!(e.message.contains("invalid duration"), "{e}");
        assert_eq!(errs.len(), 4, "{errs:#?}");
    }

    #[test]
    fn axis_values_meet_the_rest_of_the_test() {
        // A stroppy option as an axis on a pgbench suite, and threads above an axis's clients.
        let errs = errors(&with_pgbench(
            "    threads: 2
matrix:
  name: \"c{workload.clients}-v{workload.vus}\"
  axes:
    workload.clients: [1, 2]
    workload.vus: [5]
",
        ));
        let e = error_at(&errs, "matrix.axes.workload.clients[0]");
        assert_eq!(e.message, "threads (2) must not exceed clients (1)");
        let e = error_at(&errs, "matrix.axes.workload.vus[0]");
        assert!(e.message.contains("`vus` is a stroppy option"), "{e}");
        assert_eq!(errs.len(), 2, "{errs:#?}");
        // Missing values for matrix tests are for the defaults to give.
        let errs = errors(
            "name: s\ntarget: local\nmatrix: {name: \"pg{database.version}\", axes: {database.version: [15]}}\n",
        );
        let e = error_at(&errs, "defaults.workload.driver");
        assert!(e.message.contains("from defaults or from an axis"), "{e}");
    }

    #[test]
    fn baseline_may_name_a_matrix_test_even_when_another_value_is_wrong() {
        let good = with_pgbench(
            "baseline: c8\nmatrix: {name: \"c{workload.clients}\", axes: {workload.clients: [4, 8]}}\n",
        );
        assert_eq!(suite(&good).baseline, "c8");
        let bad = good.replace("[4, 8]", "[0, 8]");
        let errs = errors(&bad);
        assert_eq!(errs.len(), 1, "{errs:#?}");
        error_at(&errs, "matrix.axes.workload.clients[0]");
    }

    #[test]
    fn templates_are_checked() {
        for (template, needle) in [
            ("pg{database.version", "unclosed `{`"),
            ("pg}", "unmatched `}`"),
            ("pg{workload.clients}", "not an axis"),
        ] {
            let errs = errors(&with_pgbench(&format!(
                "matrix:\n  name: \"{template}\"\n  axes:\n    database.version: [15]\n"
            )));
            assert!(
                error_at(&errs, "matrix.name").message.contains(needle),
                "{template}: {errs:?}"
            );
        }
        let errs = errors(&with_pgbench(
            "matrix:\n  name: \"PG{database.version}\"\n  axes:\n    database.version: [15]\n",
        ));
        assert!(
            error_at(&errs, "matrix.name")
                .message
                .contains("invalid test name `PG15`")
        );
        assert_eq!(name_fragment(&json!("  Tpcc//TX  ")), "tpcc-tx");
        assert_eq!(name_fragment(&json!(0.9)), "0-9");
        assert_eq!(name_fragment(&json!(true)), "true");
    }

    #[test]
    fn empty_axes_and_oversized_matrices() {
        let errs = errors(&with_pgbench("matrix: {name: x, axes: {}}\n"));
        error_at(&errs, "matrix.axes");
        let errs = errors(&with_pgbench(
            "matrix: {name: \"x{workload.clients}\", axes: {workload.clients: []}}\n",
        ));
        error_at(&errs, "matrix.axes.workload.clients");
        let values: Vec<String> = (1..=17).map(|i| i.to_string()).collect();
        let list = values.join(", ");
        let errs = errors(&with_pgbench(&format!(
            "matrix:\n  name: \"c{{workload.clients}}-s{{workload.scale}}\"\n  axes:\n    workload.clients: [{list}]\n    workload.scale: [{list}]\n"
        )));
        let e = error_at(&errs, "matrix");
        assert!(e.message.contains("expands to 289 tests"), "{e}");
    }

    // --- formats, serialization, helpers --------------------------------------------

    #[test]
    fn content_types_pick_the_format() {
        use SpecFormat::*;
        for (ct, want) in [
            (None, Some(Yaml)),
            (Some(""), Some(Yaml)),
            (Some("application/json"), Some(Json)),
            (Some("Application/JSON; charset=utf-8"), Some(Json)),
            (Some("application/vnd.ratchet.suite+json"), Some(Json)),
            (Some("application/yaml"), Some(Yaml)),
            (Some("application/x-yaml"), Some(Yaml)),
            (Some("text/yaml; charset=utf-8"), Some(Yaml)),
            (Some("text/x-yaml"), Some(Yaml)),
            (Some("text/plain"), Some(Yaml)),
            (Some("application/octet-stream"), Some(Yaml)),
            (Some("multipart/form-data; boundary=x"), None),
            (Some("text/html"), None),
        ] {
            assert_eq!(SpecFormat::from_content_type(ct), want, "{ct:?}");
        }
    }

    #[test]
    fn the_suite_serializes_with_a_driver_tag_and_readable_durations() {
        let s = suite(LOCAL_EXAMPLE);
        let v = serde_json::to_value(&s.tests[0]).unwrap();
        assert_eq!(
            v["workload"],
            json!({"driver": "pgbench", "duration": "15s", "scale": 1, "clients": 4, "threads": 2, "builtin": "tpcb-like"})
        );
        assert!(v["database"].get("hardware").is_none());
        let back: Suite = serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
        let y = suite(YANDEX_EXAMPLE);
        let back: Suite = serde_json::from_str(&serde_json::to_string(&y).unwrap()).unwrap();
        assert_eq!(back, y);
        let w = serde_json::to_value(&y.tests[0].workload).unwrap();
        assert_eq!(w["driver"], "stroppy");
        assert_eq!(w["duration"], "10m");
        assert!(serde_json::from_value::<Workload>(json!({"driver": "pgbench", "duration": "1s", "scale": 1, "clients": 1, "threads": 1, "builtin": "tpcb-like", "vus": 1})).is_err());
    }

    #[test]
    fn the_spec_serializes_back_to_its_own_shape() {
        let spec = parse(YANDEX_EXAMPLE, SpecFormat::Yaml).unwrap();
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(v["defaults"]["workload"]["duration"], "10m");
        assert_eq!(
            v["matrix"]["axes"],
            json!({"database.version": [16, 17], "workload.vus": [64, 128]})
        );
        // Axis order survives (it decides the combination order).
        let text = serde_json::to_string(&v["matrix"]["axes"]).unwrap();
        assert!(text.find("database.version") < text.find("workload.vus"));
        let minimal = parse("name: s\ntarget: local\n", SpecFormat::Yaml).unwrap();
        assert_eq!(
            serde_json::to_value(&minimal).unwrap(),
            json!({"name": "s", "target": "local"})
        );
    }

    #[test]
    fn error_display_forms() {
        let mut e = SpecError::new("tests[1].workload.duration", "bad");
        assert_eq!(e.to_string(), "at tests[1].workload.duration: bad");
        e.line = Some(12);
        e.column = Some(7);
        assert_eq!(
            e.to_string(),
            "at tests[1].workload.duration (line 12, column 7): bad"
        );
        e.path.clear();
        assert_eq!(e.to_string(), "line 12, column 7: bad");
        e.line = None;
        assert_eq!(e.to_string(), "bad");
    }

    #[test]
    fn errors_serialize_for_a_problem_document() {
        let errs =
            load_yaml("name: s\ntarget: local\ntests:\n  - name: a\n    workload: {clientz: 1}\n")
                .unwrap_err();
        let v = serde_json::to_value(&errs).unwrap();
        assert_eq!(v[0]["path"], "tests[0].workload.clientz");
        assert_eq!(
            (v[0]["line"].clone(), v[0]["column"].clone()),
            (json!(5), json!(16))
        );
        assert!(
            v[0]["message"]
                .as_str()
                .unwrap()
                .starts_with("unknown field `clientz`")
        );
        let unlocated = serde_json::to_value(SpecError::new("tests", "x")).unwrap();
        assert_eq!(unlocated, json!({"path": "tests", "message": "x"}));
        let many = errors(&with_pgbench("tests: [{name: A}, {name: B}]\n"));
        assert_eq!(many.len(), 2);
        assert!(many.iter().all(|e| e.line.is_some()));
    }

    #[test]
    fn json_documents_are_located_too() {
        let text = "{\n  \"name\": \"s\",\n  \"target\": \"local\",\n  \"tests\": [\n    {\"name\": \"a\", \"database\": {\"version\": 9}}\n  ]\n}";
        let errs = load(text, SpecFormat::Json).unwrap_err().0;
        let e = error_at(&errs, "tests[0].database.version");
        assert_eq!((e.line, e.column), (Some(5), Some(32)));
    }

    #[test]
    fn locator_matches_keys_with_dots_and_stops_at_the_deepest_known_node() {
        let root =
            LocNode::parse("a:\n  b.c:\n    - x\n    - y: 1\n  b: 2\nm: {k.l.m: [0]}\n").unwrap();
        assert_eq!(root.find("a.b.c[1]"), Some((4, 7)));
        assert_eq!(root.find("a.b.c[1].y"), Some((4, 7)));
        assert_eq!(root.find("a.b.c[1].z.w"), Some((4, 7)));
        assert_eq!(root.find("a.b"), Some((5, 3)));
        assert_eq!(root.find("a.b.c[9]"), Some((2, 3)));
        assert_eq!(root.find("m.k.l.m[0]"), Some((6, 13)));
        assert_eq!(root.find("zzz"), None);
        assert_eq!(root.find(""), None);
        assert!(LocNode::parse("a: [").is_none());
    }
}
