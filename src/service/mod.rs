//! The service's rules, above `db/` (which holds queries only): what a sign-up, a
//! confirmation, a departure or a bounce changes, and which transaction it runs in.
//! The web handlers, the CLI and the workers call these; none of them decides a
//! subscriber's status by itself.

pub mod bounces;
pub mod subscriptions;
