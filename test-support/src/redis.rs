//! A throw-away Valkey/Redis server on a free port, without persistence.

use std::process::{Command, Stdio};

use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::process::{Guard, wait_until};

const INSTALL_HINT: &str = "install it with `apt-get install redis-server` (or set RATCHET_TEST_VALKEY_URL to an existing Valkey/Redis server)";

pub struct RedisServer {
    process: Option<Guard>,
    binary: &'static str,
    dir: TempDir,
    port: u16,
}

impl RedisServer {
    pub fn start() -> RedisServer {
        let binary = ["valkey-server", "redis-server"]
            .into_iter()
            .find(|b| {
                Command::new(b)
                    .arg("--version")
                    .stdout(Stdio::null())
                    .status()
                    .is_ok()
            })
            .unwrap_or_else(|| {
                panic!("neither valkey-server nor redis-server is on PATH: {INSTALL_HINT}")
            });
        let dir = tempfile::Builder::new()
            .prefix("ratchet-valkey-")
            .tempdir()
            .expect("create a temp dir for Valkey");
        let mut server = RedisServer {
            process: None,
            binary,
            dir,
            port: crate::free_port(),
        };
        server.start_again();
        server
    }

    /// Stop it (SIGTERM), as an operator's restart begins; what it held is gone.
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// Start the stopped server again on its port; waits until it accepts connections.
    pub fn start_again(&mut self) {
        assert!(self.process.is_none(), "the server is running");
        let log = self.dir.path().join("server.log");
        let _ = std::fs::remove_file(&log);
        let mut child = Command::new(self.binary)
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(self.dir.path())
            .arg("--logfile")
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e}): {INSTALL_HINT}", self.binary));
        wait_until(self.binary, &log, &mut child, || {
            std::fs::read_to_string(&log)
                .map(|l| l.contains("Ready to accept connections"))
                .unwrap_or(false)
        });
        self.process = Some(Guard {
            child,
            signal: Signal::SIGTERM,
        });
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}

/// The Valkey/Redis a test talks to: its own, or `RATCHET_TEST_VALKEY_URL`.
pub struct TestValkey {
    url: String,
    _server: Option<RedisServer>,
}

impl TestValkey {
    pub fn url(&self) -> &str {
        &self.url
    }
}

pub fn test_valkey() -> TestValkey {
    match std::env::var("RATCHET_TEST_VALKEY_URL") {
        Ok(url) if !url.trim().is_empty() => TestValkey { url, _server: None },
        _ => {
            let server = RedisServer::start();
            TestValkey {
                url: server.url(),
                _server: Some(server),
            }
        }
    }
}
