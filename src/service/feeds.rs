//! Adding and removing the site's feeds (`db::feeds`), for the API and the admin pages.

use crate::db::{self, feeds};
use crate::domain::article::{section_name, web_address};
use crate::state::AppState;

/// Why a feed was not added.
#[derive(Debug, thiserror::Error)]
pub enum AddFeedError {
    /// A field is wrong: its name and what is wrong with it.
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("the feed {0} is already added")]
    Taken(String),
    /// The address is FEED_URL's, which the feed job polls already.
    #[error("that is FEED_URL, which is polled already")]
    IsFeedUrl,
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Adds the feed at `url` (http or https, and a public address unless
/// FEED_ALLOW_PRIVATE), its articles put in `section` when one is given.
pub async fn add(
    state: &AppState,
    url: &str,
    section: Option<&str>,
) -> Result<feeds::Feed, AddFeedError> {
    let address = web_address(url.trim())
        .map_err(|e| AddFeedError::Invalid("url", format!("the feed’s address {e}")))?;
    crate::feed::check_address(&address, state.settings.feed_allow_private)
        .map_err(|e| AddFeedError::Invalid("url", e))?;
    let section = match section {
        Some(raw) => section_name(raw).map_err(|e| AddFeedError::Invalid("section", e))?,
        None => None,
    };
    let url = address.to_string();
    // A second entry for FEED_URL would be skipped by the feed job, and removing it
    // would wipe FEED_URL's conditional-GET state.
    if let Some(feed_url) = &state.settings.feed_url
        && (feed_url.trim() == url || url::Url::parse(feed_url.trim()).is_ok_and(|f| f == address))
    {
        return Err(AddFeedError::IsFeedUrl);
    }
    let shown = crate::feed::redacted(&url);
    let added = state
        .db
        .write(move |conn| {
            db::exclusive(conn, |conn| {
                feeds::insert(conn, &url, section.as_deref(), db::now())
            })
        })
        .await?;
    added.ok_or(AddFeedError::Taken(shown))
}

/// Removes feed `id`; whether there was one.
pub async fn remove(state: &AppState, id: i64) -> anyhow::Result<bool> {
    state
        .db
        .write(move |conn| db::exclusive(conn, |conn| feeds::delete(conn, id)))
        .await
}
