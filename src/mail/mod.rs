//! Mail: building messages (headers, MIME), sending them, and the queue of one-off mail.

pub mod dkim;
pub mod inbound;
pub mod message;
pub mod outbox;
pub mod pipeline;
pub mod queue;
pub mod retry;
pub mod transport;
pub mod verp;
pub mod wrap;

pub use message::Email;
pub use transport::{Mailer, SendError};
