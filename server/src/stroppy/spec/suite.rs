//! The suite after expansion: complete, checked tests, as the workflows run them.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::document::{Builtin, Driver, HumanDuration, Target, human_duration};

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
    /// The most a test's machines may live (see [`SuiteSpec::ttl`](super::SuiteSpec)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl: Option<HumanDuration>,
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
