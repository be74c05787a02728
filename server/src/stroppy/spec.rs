//! PLACEHOLDER suite spec (JSON only, no defaults merging) until the real parser lands.
use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target { Local, Yandex }

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hardware { pub cores: u32, pub memory_gb: u32, #[serde(default)] pub disk_gb: Option<u32> }

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatabaseSpec { pub version: u32, #[serde(default)] pub settings: BTreeMap<String, Value>, #[serde(default)] pub hardware: Option<Hardware> }

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct LoaderSpec { #[serde(default)] pub hardware: Option<Hardware> }

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "driver", rename_all = "snake_case")]
pub enum Workload {
    Pgbench { #[serde(with = "humantime_serde_secs")] duration: Duration, scale: u32, clients: u32, threads: u32, builtin: String },
    Stroppy { version: String, workload: String, #[serde(with = "humantime_serde_secs")] duration: Duration, scale: u32, vus: u32, #[serde(default)] env: BTreeMap<String, String> },
}

mod humantime_serde_secs {
    use std::time::Duration;
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> { s.serialize_str(&humantime::format_duration(*d).to_string()) }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?; humantime::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TestSpec { pub name: String, pub database: DatabaseSpec, pub workload: Workload, #[serde(default)] pub loader: LoaderSpec }

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suite { pub name: String, #[serde(default)] pub description: Option<String>, pub target: Target, pub baseline: String, pub tests: Vec<TestSpec> }

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpecFormat { Yaml, Json }

impl SpecFormat {
    pub fn from_content_type(ct: Option<&str>) -> SpecFormat {
        match ct { Some(ct) if ct.starts_with("application/json") => SpecFormat::Json, _ => SpecFormat::Yaml }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, thiserror::Error)]
#[error("at {path}: {message}")]
pub struct SpecError { pub path: String, pub message: String, pub line: Option<usize>, pub column: Option<usize> }

pub type SuiteSpec = Suite;

pub fn parse(text: &str, _format: SpecFormat) -> Result<SuiteSpec, SpecError> {
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| SpecError { path: e.path().to_string(), message: e.inner().to_string(), line: None, column: None })
}

impl Suite {
    pub fn expand(&self) -> Result<Suite, Vec<SpecError>> { Ok(self.clone()) }
}
