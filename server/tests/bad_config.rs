//! Bad configuration ends in one line on stderr that says what to fix, and a non-zero exit.

mod common;

use std::net::TcpListener;

/// Runs `ratchet serve` with `env` and returns its one-line error.
fn serve_error(env: &[(&str, String)]) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut command = common::ratchet();
    command
        .arg("serve")
        .env("RATCHET_DATA_DIR", data.path())
        .env(
            "RATCHET_LISTEN",
            format!("127.0.0.1:{}", ratchet_test_support::free_port()),
        );
    for (k, v) in env {
        command.env(k, v);
    }
    let (status, stderr) = common::run_failing(command);
    assert!(!status.success(), "expected a failure, stderr: {stderr}");
    assert!(
        !stderr.contains("panicked"),
        "a panic instead of an error: {stderr}"
    );
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(
        errors.len(),
        1,
        "exactly one error line expected in: {stderr}"
    );
    errors[0].to_string()
}

#[test]
fn port_in_use() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let error = serve_error(&[("RATCHET_LISTEN", addr.clone())]);
    assert!(
        error.contains(&format!("cannot listen on {addr}")),
        "{error}"
    );
    assert!(error.contains("RATCHET_LISTEN"), "{error}");
    assert!(
        error.to_lowercase().contains("address already in use"),
        "{error}"
    );
}

#[test]
fn malformed_database_url() {
    let error = serve_error(&[("DATABASE_URL", "mysql://root@localhost/db".into())]);
    assert!(
        error.contains("DATABASE_URL is not a valid database URL"),
        "{error}"
    );
    assert!(error.contains("unsupported scheme 'mysql'"), "{error}");
}

#[test]
fn unreachable_database() {
    let port = ratchet_test_support::free_port();
    let url = format!("postgres://ratchet:s3cret@127.0.0.1:{port}/ratchet");
    let error = serve_error(&[("DATABASE_URL", url)]);
    assert!(
        error.contains(&format!(
            "cannot connect to PostgreSQL at 127.0.0.1:{port}/ratchet"
        )),
        "{error}"
    );
    assert!(!error.contains("s3cret"), "the password leaked: {error}");
}

#[test]
fn unreachable_valkey() {
    let port = ratchet_test_support::free_port();
    let error = serve_error(&[("VALKEY_URL", format!("redis://127.0.0.1:{port}"))]);
    assert!(
        error.contains(&format!("cannot connect to Valkey at 127.0.0.1:{port}")),
        "{error}"
    );
}

#[test]
fn unwritable_data_dir() {
    // A path below a regular file can never be created, even by root.
    let file = tempfile::NamedTempFile::new().unwrap();
    let dir = file.path().join("data");
    let error = serve_error(&[("RATCHET_DATA_DIR", dir.display().to_string())]);
    assert!(
        error.contains(&format!("cannot create the data dir {}", dir.display())),
        "{error}"
    );
    assert!(error.contains("RATCHET_DATA_DIR"), "{error}");
}

#[test]
fn malformed_listen_address_is_a_usage_error() {
    let (status, stderr) = common::run_failing({
        let mut c = common::ratchet();
        c.args(["serve", "--listen", "localhost"]);
        c
    });
    assert_eq!(status.code(), Some(2), "clap's usage error code");
    assert!(
        stderr.contains("invalid value 'localhost' for '--listen"),
        "{stderr}"
    );
}

#[test]
fn an_otlp_protocol_it_cannot_speak() {
    let error = serve_error(&[
        (
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "http://127.0.0.1:4318".into(),
        ),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json".into()),
    ]);
    assert!(
        error.contains("OTEL_EXPORTER_OTLP_PROTOCOL is 'http/json'"),
        "{error}"
    );
    assert!(error.contains("'grpc'"), "{error}");
}

#[test]
fn a_short_metrics_token() {
    let error = serve_error(&[("RATCHET_METRICS_TOKEN", "short".into())]);
    assert!(
        error.contains("RATCHET_METRICS_TOKEN must be at least 16 characters"),
        "{error}"
    );
    assert!(
        !error.contains("short"),
        "the token is not repeated: {error}"
    );
}
