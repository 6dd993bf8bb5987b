//! Integration tests: the real app on a random port, a fresh SQLite file, and a real
//! SMTP server on port 0 in the same process.

mod admin_api;
mod admin_pages;
mod articles;
mod cli;
mod cli_send_digest;
mod confirmation;
mod crash_recovery;
mod csv_import;
mod delivery;
mod digests;
mod dkim;
mod faults;
mod feeds;
mod hardening;
mod helpers;
mod hostile_input;
mod load;
mod pages_and_headers;
mod signup;
mod smtp_server;
mod unsubscribe;
