//! Throw-away services for tests: a PostgreSQL server and a Valkey/Redis server, each on a
//! free port in a temporary directory, stopped and removed when dropped; and the Terraform
//! CLI the yandex target's tests run; and `fuzz`, hostile variations of a valid document for
//! the property tests of every parser.
//!
//! `RATCHET_TEST_DATABASE_URL` / `RATCHET_TEST_VALKEY_URL` point the tests at existing servers
//! instead (each test still gets its own fresh database). A missing binary fails the test
//! with the command that installs it: tests never skip.

pub mod fuzz;
mod postgres;
mod process;
mod redis;
mod terraform;

pub use postgres::{
    PgServer, TestDatabase, pg_bindir, pg_major_version, test_database, test_database_with_password,
};
pub use redis::{RedisServer, TestValkey, test_valkey};
pub use terraform::{TerraformTools, terraform, terraform_module};

use std::net::TcpListener;

/// A TCP port on 127.0.0.1 that nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("the OS hands out a free loopback port")
}
