//! Runs the real `ratchet` binary as a child process, the way a user starts it.
#![allow(dead_code)] // each test file uses its own part of this module

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// A `ratchet` command with a clean environment: only what the test sets.
pub fn ratchet() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ratchet"));
    for var in [
        "DATABASE_URL",
        "VALKEY_URL",
        "RATCHET_LISTEN",
        "RATCHET_DATA_DIR",
    ] {
        command.env_remove(var);
    }
    command.env("RUST_LOG", "warn");
    command
}

pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// Start `ratchet serve` on a free port with `data_dir` and extra env, and wait for /healthz.
    pub async fn start(data_dir: &Path, env: &[(&str, &str)]) -> Server {
        let port = ratchet_test_support::free_port();
        let mut command = ratchet();
        command
            .arg("serve")
            .env("RATCHET_LISTEN", format!("127.0.0.1:{port}"))
            .env("RATCHET_DATA_DIR", data_dir)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            command.env(k, v);
        }
        let mut server = Server {
            child: command.spawn().expect("spawn ratchet serve"),
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/healthz", server.base)).await
                && r.status().is_success()
            {
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!("ratchet serve exited with {status} before it answered /healthz");
            }
            assert!(
                Instant::now() < deadline,
                "ratchet serve did not answer /healthz within 60s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = reqwest::get(format!("{}{path}", self.base)).await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }

    /// SIGTERM, as a service manager would send; returns the exit status.
    pub fn terminate(mut self) -> ExitStatus {
        kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "ratchet did not stop within 30s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Run a `ratchet` command that is expected to fail, with a timeout.
pub fn run_failing(mut command: Command) -> (ExitStatus, String) {
    let child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ratchet");
    let Output { status, stderr, .. } = child.wait_with_output().unwrap();
    (status, String::from_utf8_lossy(&stderr).into_owned())
}
