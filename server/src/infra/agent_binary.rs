//! The agent binary this server hands to cloud machines (`GET /api/v1/agent/binary`): the
//! one local machines run. Its sha256 goes into each machine's user data, so a machine runs
//! only the binary its server meant, whatever is between them.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct AgentBinary {
    pub path: PathBuf,
    pub sha256: String,
    /// The architecture it is built for, as `uname -m` says it (`x86_64`, `aarch64`).
    pub arch: &'static str,
}

impl AgentBinary {
    pub fn load(path: PathBuf) -> std::io::Result<AgentBinary> {
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = Sha256::new();
        std::io::copy(&mut file, &mut hasher)?;
        Ok(AgentBinary {
            path,
            sha256: format!("{:x}", hasher.finalize()),
            arch: std::env::consts::ARCH,
        })
    }
}
