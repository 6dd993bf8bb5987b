//! Structured logs through `tracing`; `RUST_LOG` picks the level (default `info`).

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

/// Below the default level: the scheduler's and the HTTP server's own chatter at every
/// start (`Uninited`, `Job creator created`, `Tokio runtime found`, `starting 2
/// workers`, …), shown only when they warn.
const QUIET_CRATES: &str = "tokio_cron_scheduler=warn,actix_server=warn";

/// Installs the log subscriber once; later calls do nothing. `rust_log` (`RUST_LOG`, from
/// the environment or `.env`) picks what is logged, `level` (`info`, `warn`) otherwise.
/// Colours only on a terminal, and never with `NO_COLOR` set (no escape codes in files
/// and journald).
pub fn init(level: &str, rust_log: Option<String>) {
    let filter = rust_log
        .filter(|spec| !spec.trim().is_empty())
        .and_then(|spec| EnvFilter::try_new(spec).ok())
        .unwrap_or_else(|| EnvFilter::new(format!("{level},{QUIET_CRATES}")));
    let colour = std::io::stderr().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(false)
        // A log line that cannot be written (stderr on a full disk) is dropped. The
        // default reports it with `eprintln!`, which panics on the same broken stderr,
        // taking the request or the mail worker down with it.
        .log_internal_errors(false)
        .try_init();
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
