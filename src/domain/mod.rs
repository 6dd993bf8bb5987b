//! Parsed types: a value of one of these exists only if it is valid.

pub mod article;
mod email;
mod name;
pub mod newsletter;
mod status;
mod subject;
mod text;
mod tokens;

pub use article::{ArticleInput, NewArticle};
pub use email::EmailAddress;
pub use name::SubscriberName;
pub use status::{DeliveryStatus, MailStatus, SubscriberStatus, SubscriptionStatus};
pub use subject::DigestSubject;
pub use tokens::{ConfirmationToken, Signer, TokenError};
