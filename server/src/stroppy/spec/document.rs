//! The suite as written: defaults, tests and a matrix, each test still partial.

use std::collections::BTreeMap;
use std::time::Duration;

pub use protocol::actions::Builtin;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

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
    /// The test that deltas are computed against: one of this suite's (the first when
    /// unset), or `{suite: <name>, test: <test>}` for a test of the suite kept under a name
    /// (`PUT /api/v1/baselines/{name}`), so tonight's suite is compared with last night's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<BaselineRef>,
    /// How long a test's machines may live at most (`6h`); after that the leak guard
    /// destroys them whatever the test is doing. Default: the load's duration plus 3 hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<HumanDuration>,
    /// What every test (and every matrix combination) starts from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub defaults: Option<Sections>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tests: Vec<TestEntry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matrix: Option<Matrix>,
    /// In which order the repetitions run; `interleaved` unless set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// Seeds the `random` order and the bootstrap; chosen (and recorded) when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// What counts as a real difference (default: 2 % at 95 % confidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub significance: Option<SignificancePatch>,
}

/// The order repetitions run in, when tests share a machine (the local target).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Order {
    /// A1 B1 C1 A2 B2 C2 ...: drift (a warming cache, a neighbour) hits every test alike.
    #[default]
    Interleaved,
    /// A1 A2 A3 B1 B2 B3 ...
    Sequential,
    /// Every repetition shuffled by the suite's seed.
    Random,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Interleaved => "interleaved",
            Order::Sequential => "sequential",
            Order::Random => "random",
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignificancePatch {
    /// The smallest effect that matters: `2%` (or a number of percent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_effect: Option<Percent>,
    /// Confidence level of the intervals, from 0.5 to 0.999.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confidence: Option<f64>,
}

/// A percentage written `2%` or `2.5 %`, or a bare number of percent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percent(pub f64);

impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}%", self.0))
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PercentVisitor;

        impl Visitor<'_> for PercentVisitor {
            type Value = Percent;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage such as \"2%\"")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Percent, E> {
                let number = v.trim().strip_suffix('%').unwrap_or(v).trim();
                number
                    .parse::<f64>()
                    .map(Percent)
                    .map_err(|_| E::custom(format!("invalid percentage {v:?}: write e.g. \"2%\"")))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Percent, E> {
                Ok(Percent(v))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Percent, E> {
                Ok(Percent(v as f64))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Percent, E> {
                Ok(Percent(v as f64))
            }
        }

        deserializer.deserialize_any(PercentVisitor)
    }
}

/// What a suite is compared against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BaselineRef {
    /// One of the suite's own tests.
    Test(String),
    /// A test of a named baseline's suite.
    Named(NamedBaselineRef),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedBaselineRef {
    /// The baseline's name (`PUT /api/v1/baselines/{name}`).
    pub suite: String,
    /// A test of the suite it names.
    pub test: String,
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
    /// Load `pg_stat_statements` and report the load's top statements.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stat_statements: Option<bool>,
    /// The servers and how they connect: one on its own (the default), or a primary with
    /// streaming replicas, each on a machine of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub topology: Option<TopologyPatch>,
    /// A connection pooler between the load and the primary, on a machine of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooler: Option<PoolerPatch>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyPatch {
    /// `single` or `replicas`; `replicas` when `replicas` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TopologyKind>,
    /// Streaming replicas of the primary, made with `pg_basebackup` (1 to 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<u32>,
    /// Each commit waits for one replica to confirm it (default: asynchronous).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub synchronous: Option<bool>,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TopologyKind {
    /// One server.
    #[default]
    Single,
    /// A primary and its streaming replicas.
    Replicas,
    /// A Patroni cluster over etcd: a leader and `replicas` more members, HAProxy routing
    /// to whichever leads.
    Patroni,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolerPatch {
    /// `pgbouncer` (the only one so far, and the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<PoolerKind>,
    /// `session`, `transaction` (the default) or `statement`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_mode: Option<PoolMode>,
    /// Server connections it keeps (`default_pool_size`, default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool_size: Option<u32>,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PoolerKind {
    #[default]
    Pgbouncer,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PoolMode {
    Session,
    #[default]
    Transaction,
    Statement,
}

impl PoolMode {
    pub fn as_str(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
            PoolMode::Statement => "statement",
        }
    }
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
    /// Load run and discarded before each measured window (default none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<HumanDuration>,
    /// How many times the test is measured, each on a fresh database (default 1); a
    /// verdict needs 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat: Option<u32>,
    /// Whether the repetitions run back to back on one database, initialised once (the
    /// default where they can: on a cloud target, or with `order: sequential`), or each on
    /// a fresh database (the only way interleaved repetitions run on the local target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_database: Option<bool>,
    /// Which servers the load connects to: the primary (through the pooler, if any; the
    /// default) or the replicas, each new connection to the next of them (pgbench's
    /// `select-only` only: standbys take no writes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_to: Option<ConnectTo>,
    /// Faults scheduled during the measured load (one so far): `{at: 10s, kill: primary}`
    /// or `{at: 10s, restart: primary}`. The load keeps going through them (pgbench only),
    /// and the result reports the outage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<Vec<FaultPatch>>,
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

/// A fault as written: when, and what it does to which server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultPatch {
    /// Into the measured window.
    pub at: HumanDuration,
    /// SIGKILL the server (and its Patroni): it stays down.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kill: Option<FaultTarget>,
    /// SIGKILL the server and start it again (crash recovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restart: Option<FaultTarget>,
}

/// Which server a fault hits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FaultTarget {
    /// The database machine's server: the primary (a Patroni cluster's first leader).
    Primary,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ConnectTo {
    #[default]
    Primary,
    Replicas,
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
pub(super) mod human_duration {
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
