//! Suite specifications: the YAML or JSON document a person writes ([`SuiteSpec`]), and
//! its expansion into a list of complete, validated tests ([`Suite`]).
//!
//! Parsing is strict: every struct refuses unknown keys, so a misspelled key is an error
//! that names its path (`tests[1].workload.clientz`) and, for YAML and JSON alike, its
//! line and column. Expansion then merges each test over `defaults`, multiplies the
//! matrix out and checks the result, collecting *every* problem at once (a web editor
//! can underline all of them) as [`DocumentErrors`].
//!
//! Entry points: [`load`] (parse + expand + locate, what the API and CLI want),
//! [`parse`], [`SuiteSpec::expand`], [`Format::from_content_type`](crate::document::Format::from_content_type).

mod checks;
mod document;
mod expand;
mod matrix;
mod suite;
#[cfg(test)]
mod tests;

use std::time::Duration;

pub(crate) use self::checks::name_problem;
pub use self::document::*;
pub use self::suite::*;
pub use crate::document::{DocumentError, DocumentErrors, Format};

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
/// Most streaming replicas a test may have (each is a machine).
pub const MAX_REPLICAS: u32 = 3;
/// A pooler's server connections when the suite says none, and at most.
pub const DEFAULT_POOL_SIZE: u32 = 20;
pub const MAX_POOL_SIZE: u32 = 10_000;
/// Disk size when a hardware block does not give one.
pub const DEFAULT_DISK_GB: u32 = 20;
/// Longest suite or test name: names end up in host and cloud resource names, which
/// take 63 characters (a DNS label).
pub const MAX_NAME_LEN: usize = 63;

/// A specification that parsed and expanded: what was written and what it means.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSuite {
    pub spec: SuiteSpec,
    pub suite: Suite,
}

/// Parse, expand and check a specification; every error carries line and column where
/// the text tells them. A syntax or shape error stops parsing, so it comes alone; the
/// expansion reports all its problems at once.
pub fn load(text: &str, format: Format) -> Result<LoadedSuite, DocumentErrors> {
    let spec = parse(text, format)?;
    match spec.expand() {
        Ok(suite) => Ok(LoadedSuite { spec, suite }),
        Err(errors) => Err(errors.locate(text).capped()),
    }
}

/// Parse a specification without checking its values (see [`SuiteSpec::expand`]). The
/// error names the path of the offending key or value, with its line and column.
pub fn parse(text: &str, format: Format) -> Result<SuiteSpec, DocumentError> {
    crate::document::parse(text, format)
}
