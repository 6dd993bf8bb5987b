//! The service's rules, above `db/` (which holds queries): what a sign-up, a
//! confirmation, a departure, an erasure or a bounce changes, and which transaction it
//! runs in. The web handlers and the outbox workers call these rather than deciding a
//! reader's status themselves. (An import's rows are confirmed by definition:
//! `csv_io` inserts them as such.)

pub mod bounces;
pub mod feedback;
pub mod feeds;
pub mod newsletters;
pub mod retention;
pub mod subscriptions;
