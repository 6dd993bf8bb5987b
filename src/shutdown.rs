//! Clean stops: SIGTERM (what systemd, Docker and Kubernetes send) and SIGINT (Ctrl-C)
//! ask the process to stop; it then takes no new work, lets the work in hand finish or
//! hands it back, and exits within `SHUTDOWN_GRACE_SECONDS`.

use anyhow::Context;
use tokio::signal::unix::{Signal, SignalKind, signal};

/// The stop signals, listened for from the moment this is made: from then on they no
/// longer end the process at once, so make it before work starts.
pub struct StopSignals {
    terminate: Signal,
    interrupt: Signal,
}

/// Which signal asked the process to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Terminate,
    Interrupt,
}

impl StopSignal {
    /// The signal's name, for the log.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Terminate => "SIGTERM",
            StopSignal::Interrupt => "SIGINT",
        }
    }

    /// The exit status of a process a signal ended early: 128 + the signal's number, as
    /// shells report it.
    pub fn exit_code(self) -> u8 {
        match self {
            StopSignal::Terminate => 128 + 15,
            StopSignal::Interrupt => 128 + 2,
        }
    }
}

impl StopSignals {
    /// Starts listening for SIGTERM and SIGINT.
    pub fn listen() -> anyhow::Result<StopSignals> {
        Ok(StopSignals {
            terminate: signal(SignalKind::terminate()).context("could not listen for SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("could not listen for SIGINT")?,
        })
    }

    /// Waits for the next stop signal.
    pub async fn recv(&mut self) -> StopSignal {
        tokio::select! {
            _ = self.terminate.recv() => StopSignal::Terminate,
            _ = self.interrupt.recv() => StopSignal::Interrupt,
        }
    }
}
