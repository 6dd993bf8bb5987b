//! Clean stops: SIGTERM (what systemd, Docker and Kubernetes send) and SIGINT (Ctrl-C)
//! ask the process to stop; it then takes no new work, lets the work in hand finish or
//! hands it back, and exits within `SHUTDOWN_GRACE_SECONDS`.

use std::time::Duration;

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

/// Of `SHUTDOWN_GRACE_SECONDS`, the time the work in flight gets: the grace less a
/// margin (a quarter of it, at most a second) for handing back leases and leaving, so
/// the process is gone within the grace itself.
pub fn time_for_work(grace: Duration) -> Duration {
    grace - (grace / 4).min(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_work_in_flight_gets_the_grace_less_a_margin_for_leaving() {
        assert_eq!(
            time_for_work(Duration::from_secs(20)),
            Duration::from_secs(19)
        );
        assert_eq!(
            time_for_work(Duration::from_secs(2)),
            Duration::from_millis(1500)
        );
        assert_eq!(time_for_work(Duration::ZERO), Duration::ZERO);
    }
}
