//! A throw-away PostgreSQL: `initdb` into a temporary directory, `postgres` on a free port,
//! stopped (fast shutdown) and removed on drop.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::str::FromStr;

use nix::sys::signal::Signal;
use sqlx::ConnectOptions;
use sqlx::postgres::PgConnectOptions;
use tempfile::TempDir;

use crate::process::{Guard, RunAs, wait_until};

const INSTALL_HINT: &str = "install the PostgreSQL server binaries with `apt-get install postgresql` (or set RATCHET_TEST_DATABASE_URL to an existing server)";

/// Where `initdb`, `postgres` and `pg_isready` live: `pg_config --bindir`.
pub fn pg_bindir() -> PathBuf {
    let output = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .unwrap_or_else(|e| panic!("cannot run pg_config ({e}): {INSTALL_HINT}"));
    let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    assert!(
        dir.join("postgres").is_file() && dir.join("initdb").is_file(),
        "no postgres/initdb in {} (from pg_config --bindir): {INSTALL_HINT}",
        dir.display()
    );
    dir
}

/// The major version of the installed server binaries (`postgres --version`).
pub fn pg_major_version() -> u32 {
    let output = Command::new(pg_bindir().join("postgres"))
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run postgres --version ({e}): {INSTALL_HINT}"));
    // "postgres (PostgreSQL) 15.8 (Debian 15.8-0+deb12u1)"
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    text.split_whitespace()
        .nth(2)
        .and_then(|v| v.split('.').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("cannot read the version from `{}`", text.trim()))
}

/// A PostgreSQL server of our own. Fields drop in order: the process stops before its
/// directory is removed.
pub struct PgServer {
    process: Option<Guard>,
    dir: TempDir,
    port: u16,
    settings: Vec<(String, String)>,
}

impl PgServer {
    /// A server tuned for tests: no fsync, no synchronous commit.
    pub fn start() -> PgServer {
        PgServer::start_with(&[])
    }

    /// A server with extra `postgresql.conf` settings, which win over the test defaults
    /// (benchmarks turn durability back on).
    pub fn start_with(settings: &[(&str, &str)]) -> PgServer {
        let run_as = RunAs::unprivileged();
        let dir = tempfile::Builder::new()
            .prefix("ratchet-pg-")
            .tempdir()
            .expect("create a temp dir for PostgreSQL");
        run_as.own(dir.path());
        let mut initdb = Command::new(pg_bindir().join("initdb"));
        initdb
            .args([
                "--no-sync",
                "--auth=trust",
                "--username=postgres",
                "--encoding=UTF8",
            ])
            .arg("--pgdata")
            .arg(dir.path().join("data"))
            .current_dir(dir.path())
            .stdout(Stdio::null());
        run_as.apply(&mut initdb);
        let out = initdb
            .output()
            .unwrap_or_else(|e| panic!("cannot run initdb ({e}): {INSTALL_HINT}"));
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut server = PgServer {
            process: None,
            dir,
            port: crate::free_port(),
            settings: settings
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        server.start_again();
        server
    }

    /// Fast shutdown (SIGINT: sessions are ended), as an operator's restart begins.
    pub fn stop(&mut self) {
        self.process = None;
    }

    /// Start the stopped server again, on its port and data; waits until it answers.
    pub fn start_again(&mut self) {
        assert!(self.process.is_none(), "the server is running");
        let bindir = pg_bindir();
        let run_as = RunAs::unprivileged();
        let log = self.dir.path().join("postgres.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .expect("open the PostgreSQL log file");
        run_as.own(&log);
        let port = self.port.to_string();
        let mut postgres = Command::new(bindir.join("postgres"));
        postgres
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-p", &port, "-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(self.dir.path())
            // Durability is pointless for a throw-away server and costs seconds per test.
            .args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ])
            .args(["-c", "max_connections=200"])
            .args(
                self.settings
                    .iter()
                    .flat_map(|(k, v)| ["-c".to_string(), format!("{k}={v}")]),
            )
            .current_dir(self.dir.path())
            .stdout(log_file.try_clone().expect("dup log file"))
            .stderr(log_file);
        run_as.apply(&mut postgres);
        let mut child = postgres
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start postgres ({e}): {INSTALL_HINT}"));
        let pg_isready = bindir.join("pg_isready");
        wait_until("postgres", &log, &mut child, || {
            Command::new(&pg_isready)
                .args(["-q", "-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        });
        // SIGINT is PostgreSQL's "fast" shutdown: it ends sessions and exits cleanly.
        self.process = Some(Guard {
            child,
            signal: Signal::SIGINT,
        });
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// URL of database `name` on this server (user `postgres`, no password).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

/// A fresh, empty database for one test, on its own server or on the one named by
/// `RATCHET_TEST_DATABASE_URL`. Dropped with the test.
pub struct TestDatabase {
    url: String,
    admin_url: String,
    name: String,
    // Kept last so the database is dropped before its server stops.
    server: Option<PgServer>,
}

impl TestDatabase {
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The server this test started itself, if any (None with RATCHET_TEST_DATABASE_URL).
    pub fn server(&self) -> Option<&PgServer> {
        self.server.as_ref()
    }
}

/// Create a fresh database for this test.
pub async fn test_database() -> TestDatabase {
    test_database_as(None).await
}

/// A fresh database owned by a role of its own with `password`, reached by a URL that
/// carries the password (what a production `DATABASE_URL` looks like). The password must
/// be URL-safe (letters, digits, `-`, `_`).
pub async fn test_database_with_password(password: &str) -> TestDatabase {
    test_database_as(Some(password)).await
}

async fn test_database_as(password: Option<&str>) -> TestDatabase {
    let (admin_url, server) = match std::env::var("RATCHET_TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => (url, None),
        _ => {
            let server = tokio::task::spawn_blocking(PgServer::start)
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
            (server.url("postgres"), Some(server))
        }
    };
    let name = format!("ratchet_test_{}", uuid::Uuid::new_v4().simple());
    let admin = PgConnectOptions::from_str(&admin_url)
        .expect("RATCHET_TEST_DATABASE_URL is a valid postgres URL");
    let mut conn = admin
        .connect()
        .await
        .expect("connect to the test PostgreSQL server");
    // `name` is ours: a fixed prefix and a UUID in hex.
    let mut url = admin.clone().database(&name).to_url_lossy().to_string();
    let owner = match password {
        Some(password) => {
            assert!(
                password
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'),
                "test passwords are URL-safe"
            );
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "CREATE ROLE {name} LOGIN PASSWORD '{password}'"
            )))
            .execute(&mut conn)
            .await
            .expect("create the test role");
            url = admin
                .clone()
                .database(&name)
                .username(&name)
                .password(password)
                .to_url_lossy()
                .to_string();
            format!(" OWNER {name}")
        }
        None => String::new(),
    };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "CREATE DATABASE {name}{owner}"
    )))
    .execute(&mut conn)
    .await
    .expect("create the test database");
    TestDatabase {
        url,
        admin_url,
        name,
        server,
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if self.server.is_some() {
            return; // the whole server goes away with it
        }
        // Drop runs outside async: use a small runtime on a thread of its own.
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            rt.block_on(async move {
                let admin = PgConnectOptions::from_str(&admin_url)?;
                let mut conn = admin.connect().await?;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&mut conn)
                .await?;
                Ok::<_, sqlx::Error>(())
            })
            .map_err(std::io::Error::other)
        })
        .join();
    }
}
