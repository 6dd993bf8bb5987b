//! Integration tests: the app in-process on a random port, on its own database, and a
//! real SMTP server on port 0 in the same process; the CLI as the real binary.

#[path = "../support/mod.rs"]
mod support;

mod admin_api;
mod admin_pages;
mod articles;
mod bounces;
mod bulk_mail_rules;
mod cli_send_digest;
mod confirmation;
mod copy_db;
mod csv_import;
mod delivery;
mod digests;
mod dkim;
mod feeds;
mod hardening;
mod hostile_input;
mod languages;
mod languages_kept;
mod leases;
mod mail_look;
mod mail_samples;
mod newsletter_delivery;
mod newsletter_digests;
mod newsletters;
mod newsletters_admin;
mod observability;
mod operations;
mod pages_and_headers;
mod retention;
mod settings;
mod signup;
mod site_look;
mod templates;
mod unsubscribe;
mod webhooks;
