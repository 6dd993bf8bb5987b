//! Structured logs through `tracing`; `RUST_LOG` picks the level (default `info`).

use tracing_subscriber::EnvFilter;

/// Installs the log subscriber once; later calls (e.g. from several tests) do nothing.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        // A log line that cannot be written (stderr on a full disk) is dropped. The
        // default reports it with `eprintln!`, which panics on the same broken stderr,
        // taking the request or the mail worker down with it.
        .log_internal_errors(false)
        .try_init();
}
