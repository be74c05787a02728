//! The suite after expansion: complete, checked tests, as the workflows run them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::document::{
    Builtin, ConnectTo, Driver, FaultTarget, HumanDuration, Order, PoolMode, PoolerKind, Target,
    TopologyKind, human_duration,
};
use crate::stroppy::stats::Significance;

/// A suite after expansion: every test complete and checked, in run order (the `tests`
/// entries, then the matrix combinations).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Suite {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub target: Target,
    /// Name of the test deltas are computed against: one of `tests`, or
    /// `<baseline name>/<test>` for a named baseline.
    pub baseline: String,
    /// The named baseline, when the suite is compared with another suite's test.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named_baseline: Option<NamedBaseline>,
    /// The most a test's machines may live (see [`SuiteSpec::ttl`](super::SuiteSpec)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<HumanDuration>,
    pub tests: Vec<TestSpec>,
    /// The order of the repetitions (suites stored before repetitions ran sequentially,
    /// which with one repetition each is the same thing).
    #[serde(default)]
    pub order: Order,
    /// Seeds the random order and the bootstrap: the same seed, the same report.
    #[serde(default)]
    pub seed: u64,
    #[serde(default)]
    pub significance: Significance,
}

/// A test of a named baseline's suite, as a suite is compared with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NamedBaseline {
    pub name: String,
    pub test: String,
    /// The suite the name stood for when this suite was submitted (set by the API).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suite_id: Option<uuid::Uuid>,
}

/// A test run of the suite: the `repetition`-th run of a test (from 1), measuring `runs`
/// times (more than once on a reused database).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repetition {
    /// Index into [`Suite::tests`].
    pub test: usize,
    pub repetition: u32,
    pub runs: u32,
}

impl Suite {
    /// Every test run of the suite, in the order they run: one per repetition, or one per
    /// test whose repetitions reuse its database.
    pub fn schedule(&self) -> Vec<Repetition> {
        // A test's test runs: repetition numbers 1, 1+n, 1+2n... measuring n each.
        let test_runs = |t: &TestSpec| t.repeat.max(1).div_ceil(t.runs_per_test_run());
        let rounds = self.tests.iter().map(test_runs).max().unwrap_or(0);
        let of = |test: usize, round: u32| {
            let runs = self.tests[test].runs_per_test_run();
            Repetition {
                test,
                repetition: 1 + (round - 1) * runs,
                runs,
            }
        };
        match self.order {
            Order::Interleaved => (1..=rounds)
                .flat_map(|r| {
                    self.tests
                        .iter()
                        .enumerate()
                        .filter(move |(_, t)| test_runs(t) >= r)
                        .map(move |(i, _)| of(i, r))
                })
                .collect(),
            Order::Sequential | Order::Random => {
                let mut all: Vec<Repetition> = self
                    .tests
                    .iter()
                    .enumerate()
                    .flat_map(|(i, t)| (1..=test_runs(t)).map(move |r| of(i, r)))
                    .collect();
                if self.order == Order::Random {
                    use rand::SeedableRng;
                    use rand::seq::SliceRandom;
                    all.shuffle(&mut rand_chacha::ChaCha8Rng::seed_from_u64(self.seed));
                }
                all
            }
        }
    }
}

/// A seed for a suite that names none: random, and small enough to survive a JSON
/// client's doubles (53 bits).
pub fn fresh_seed() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().0 >> 11
}

/// The key of a repetition's test run among the suite's children: the test's name for
/// the first (as before repetitions existed), `<name>#<n>` for the others.
pub fn repetition_key(test: &str, repetition: u32) -> String {
    if repetition <= 1 {
        test.to_string()
    } else {
        format!("{test}#{repetition}")
    }
}

/// The test and repetition a child key stands for (see [`repetition_key`]).
pub fn parse_repetition_key(key: &str) -> (&str, u32) {
    match key.rsplit_once('#') {
        Some((name, n)) => match n.parse() {
            Ok(n) => (name, n),
            Err(_) => (key, 1),
        },
        None => (key, 1),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestSpec {
    pub name: String,
    pub database: DatabaseSpec,
    pub workload: Workload,
    pub loader: LoaderSpec,
    /// Measured runs of this test.
    #[serde(default = "one")]
    pub repeat: u32,
    /// Load run and discarded before each measured window.
    #[serde(default, with = "human_duration")]
    pub warmup: Duration,
    /// The repetitions run back to back on one database (one test run, initialised once)
    /// rather than each on a fresh one.
    #[serde(default)]
    pub reuse_database: bool,
    /// The servers the load connects to.
    #[serde(default, skip_serializing_if = "is_primary")]
    pub connect_to: ConnectTo,
    /// Faults scheduled during the measured load.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<Fault>,
}

/// A fault: `kind` done to `target`, `at_s` into the measured window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fault {
    pub at_s: u64,
    pub kind: protocol::actions::FaultKind,
    pub target: FaultTarget,
}

fn is_primary(c: &ConnectTo) -> bool {
    *c == ConnectTo::Primary
}

fn one() -> u32 {
    1
}

impl TestSpec {
    /// Warm-up and measured load, in whole seconds.
    pub fn load_s(&self) -> u64 {
        self.workload.duration_s() + self.warmup.as_secs()
    }

    /// Measured runs per test run: all of them on a reused database, else one.
    pub fn runs_per_test_run(&self) -> u32 {
        if self.reuse_database {
            self.repeat.max(1)
        } else {
            1
        }
    }

    /// How long one test run loads its machines: warm-up and load, once per run it makes.
    pub fn machine_load_s(&self) -> u64 {
        self.load_s() * u64::from(self.runs_per_test_run())
    }
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
    /// `pg_stat_statements` loaded, the top statements reported.
    #[serde(default)]
    pub stat_statements: bool,
    #[serde(default, skip_serializing_if = "Topology::is_single")]
    pub topology: Topology,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pooler: Option<Pooler>,
}

/// The database's servers: a primary, and `replicas` streaming from it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    pub kind: TopologyKind,
    #[serde(default)]
    pub replicas: u32,
    #[serde(default)]
    pub synchronous: bool,
}

impl Topology {
    pub fn is_single(&self) -> bool {
        self.kind == TopologyKind::Single
    }
}

/// A pooler in front of the primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pooler {
    pub kind: PoolerKind,
    pub pool_mode: PoolMode,
    pub pool_size: u32,
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
