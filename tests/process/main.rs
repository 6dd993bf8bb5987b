//! Process-level tests: the real binary started, crashed, starved and loaded, with a
//! real SMTP server on port 0 in this process. Slow; each prints its figures (`.ci/run`
//! shows them).

#[path = "../support/mod.rs"]
mod support;

mod backup;
mod clean_restarts;
mod crash_recovery;
mod faults;
mod hardening;
mod instances;
mod load;
mod roles;
