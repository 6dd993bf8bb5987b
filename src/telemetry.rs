//! Structured logs through `tracing`; `RUST_LOG` picks the level (default `info`),
//! `LOG_FORMAT` text for people (the default) or JSON lines for log shippers.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Below the default level: the scheduler's and the HTTP server's own chatter at every
/// start (`Uninited`, `Job creator created`, `Tokio runtime found`, `starting 2
/// workers`, …), shown only when they warn.
const QUIET_CRATES: &str = "tokio_cron_scheduler=warn,actix_server=warn";

/// Installs the log subscriber once; later calls do nothing. `rust_log` (`RUST_LOG`, from
/// the environment or `.env`) picks what is logged, `level` (`info`, `warn`) otherwise.
/// Colours only on a terminal, and never with `NO_COLOR` set (no escape codes in files
/// and journald).
pub fn init(level: &str, rust_log: Option<String>, format: LogFormat) {
    let filter = rust_log
        .filter(|spec| !spec.trim().is_empty())
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("{level},{QUIET_CRATES}")));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // A log line that cannot be written (stderr on a full disk) is dropped. The
        // default reports it with `eprintln!`, which panics on the same broken stderr,
        // taking the request or the mail worker down with it.
        .log_internal_errors(false);
    let _ = match format {
        LogFormat::Text => builder.with_ansi(colour).try_init(),
        // One object a line: the time, level, message and fields, and the spans the
        // line was logged in (`span.request_id` for a request's lines).
        LogFormat::Json => builder
            .json()
            .with_ansi(false)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
}

/// For tests: logs go through the test harness, so each test's lines are shown only when
/// it fails (and with `--nocapture`).
pub fn init_for_tests() {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("info,{QUIET_CRATES}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .with_target(false)
        .try_init();
}
