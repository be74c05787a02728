//! Stroppy releases a server trusts. A machine installs a Stroppy download only when its
//! SHA-256 is known: given by the suite next to the version (`workload.sha256`), or pinned
//! by the operator for that version (`RATCHET_STROPPY_RELEASES=6.1.1=<sha256>,…`). A suite
//! naming an unpinned version without a checksum is refused when it is submitted.

use std::collections::BTreeMap;

use crate::document::{DocumentError, DocumentErrors};
use crate::stroppy::spec::{Suite, Workload};

/// Checksums of release tarballs (`stroppy_linux_amd64.tar.gz`), by version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pins(BTreeMap<String, String>);

impl Pins {
    /// `version=sha256` items, as `--stroppy-release` / `RATCHET_STROPPY_RELEASES` give them.
    pub fn parse(items: &[String]) -> anyhow::Result<Pins> {
        let mut pins = BTreeMap::new();
        for item in items.iter().map(|i| i.trim()).filter(|i| !i.is_empty()) {
            let Some((version, sha256)) = item.split_once('=') else {
                anyhow::bail!(
                    "RATCHET_STROPPY_RELEASES: `{item}` is not version=sha256 (e.g. 6.1.1=<64 hex digits>)"
                );
            };
            let sha256 = sha256.trim();
            if sha256.len() != 64 || !sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                anyhow::bail!(
                    "RATCHET_STROPPY_RELEASES: the checksum of {version} is not 64 hex digits"
                );
            }
            pins.insert(version.trim().to_string(), sha256.to_ascii_lowercase());
        }
        Ok(Pins(pins))
    }

    /// Give every Stroppy test of `suite` the checksum of its release, or name the tests
    /// whose release nobody vouches for.
    pub fn apply(&self, suite: &mut Suite) -> Result<(), DocumentErrors> {
        let mut errors = Vec::new();
        for test in &mut suite.tests {
            if let Workload::Stroppy {
                version, sha256, ..
            } = &mut test.workload
                && sha256.is_none()
            {
                match self.0.get(version.as_str()) {
                    Some(pinned) => *sha256 = Some(pinned.clone()),
                    None => errors.push(DocumentError {
                        path: String::new(),
                        message: format!(
                            "test `{}`: Stroppy {version} is not pinned on this server, and the suite gives no checksum for it: \
                             add `sha256:` (of v{version}'s stroppy_linux_amd64.tar.gz) next to `version`, or have the server pin it \
                             (RATCHET_STROPPY_RELEASES={version}=<sha256>)",
                            test.name
                        ),
                        line: None,
                        column: None,
                    }),
                }
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(DocumentErrors(errors).capped())
        }
    }
}
