//! A self-hosted newsletter service: double opt-in sign-up, confirmation, unsubscribe,
//! articles from a feed or the API, and scheduled digests delivered over pooled SMTP, on
//! SQLite. The binary in `main.rs` is a thin CLI over this
//! library, so tests start the real app in-process.

pub mod cli;
pub mod config;
pub mod csv_io;
pub mod db;
pub mod digest;
pub mod domain;
pub mod feed;
pub mod i18n;
pub mod limits;
pub mod mail;
pub mod metrics;
pub mod service;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod templates;
pub mod web;
pub mod webhooks;

pub use config::Settings;
pub use startup::Application;
pub use state::AppState;
