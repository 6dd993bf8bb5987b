//! Digests: composing one from the waiting articles, delivering it to every confirmed
//! reader, and the schedule that runs both.

pub mod compose;
pub mod delivery;
pub mod schedule;

pub use compose::{
    Composed, Rendered, compose_digest, compose_digest_titled, compose_for, no_readers,
    preview_digest, preview_for,
};
