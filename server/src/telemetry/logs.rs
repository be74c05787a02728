//! Logging: human-readable by default, JSON lines with `--log-format json`; `RUST_LOG`
//! filters (default `info`). To stderr, or to a file (the demo keeps its terminal for the
//! progress bars and the results).

use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

use crate::config::LogFormat;

/// Logs at `level` (e.g. `info`) unless RUST_LOG says otherwise.
pub fn init(format: LogFormat, file: Option<&Path>, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let opened = file.and_then(|path| {
        let _ = path.parent().map(std::fs::create_dir_all);
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .inspect_err(|e| eprintln!("cannot log to {}: {e}; logging to stderr", path.display()))
            .ok()
    });
    let writer = match opened {
        Some(f) => BoxMakeWriter::new(Mutex::new(f)),
        None => BoxMakeWriter::new(std::io::stderr),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(file.is_none())
        .with_writer(writer);
    match format {
        LogFormat::Human => builder.init(),
        // An in-process task's lines carry its span: run_id, task_id, attempt, trace_id.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}
