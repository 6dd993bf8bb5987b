//! The admin's newsletters: creating, changing and archiving them (the API and the
//! admin pages both call these). Each runs in one exclusive transaction, so a slug is
//! checked and taken in one step.

use chrono::NaiveDateTime;

use crate::db::newsletters::{self, DEFAULT_NEWSLETTER_ID, NewNewsletter, Newsletter};
use crate::db::{self, Conn};
use crate::domain::newsletter::NewsletterChanges;

/// Why a change to the newsletters was refused; nothing was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No newsletter has this slug.
    Unknown,
    /// The slug belongs to another newsletter (archived ones keep theirs).
    SlugTaken,
    /// The default newsletter's slug is what links mailed before several newsletters
    /// name; it stays.
    DefaultSlugFixed,
    /// The last newsletter still sent cannot be archived: the service would have
    /// nothing to offer on its form.
    LastOne,
    /// Already archived.
    AlreadyArchived,
}

impl Refusal {
    /// The field the refusal is about, if one, and what to say.
    pub fn explain(self) -> (Option<&'static str>, &'static str) {
        match self {
            Refusal::Unknown => (None, "no such newsletter"),
            Refusal::SlugTaken => (Some("slug"), "another newsletter has this slug"),
            Refusal::DefaultSlugFixed => (
                Some("slug"),
                "the default newsletter's slug cannot change (links already mailed name it)",
            ),
            Refusal::LastOne => (
                None,
                "this is the only newsletter still sent; create another before archiving it",
            ),
            Refusal::AlreadyArchived => (None, "this newsletter is archived already"),
        }
    }
}

/// Creates a newsletter from checked fields (slug and name present): public and not
/// preselected unless said otherwise, manual sends only unless a schedule is given.
pub fn create(
    conn: &mut Conn,
    fields: &NewsletterChanges,
    now: NaiveDateTime,
) -> anyhow::Result<Result<Newsletter, Refusal>> {
    let slug = fields
        .slug
        .clone()
        .ok_or_else(|| anyhow::anyhow!("a new newsletter's slug is checked before"))?;
    db::exclusive(conn, |conn| {
        if newsletters::find_by_slug(conn, &slug)?.is_some() {
            return Ok(Err(Refusal::SlugTaken));
        }
        let id = newsletters::insert(
            conn,
            &NewNewsletter {
                slug,
                name: fields.name.clone(),
                description: fields.description.clone().unwrap_or_default(),
                schedule: Some(fields.schedule.clone().unwrap_or_default()),
                sections: fields.sections.clone().unwrap_or_default(),
                public: fields.public.unwrap_or(true),
                preselected: fields.preselected.unwrap_or(false),
                archived: false,
                language: fields.language.clone().flatten(),
                created_at: now,
                updated_at: now,
            },
        )?;
        newsletters::find(conn, id)?
            .map(Ok)
            .ok_or_else(|| anyhow::anyhow!("newsletter {id} vanished after its insert"))
    })
}

/// Changes the fields `changes` names of the newsletter `slug`.
pub fn update(
    conn: &mut Conn,
    slug: &str,
    changes: &NewsletterChanges,
    now: NaiveDateTime,
) -> anyhow::Result<Result<Newsletter, Refusal>> {
    db::exclusive(conn, |conn| {
        let Some(newsletter) = newsletters::find_by_slug(conn, slug)? else {
            return Ok(Err(Refusal::Unknown));
        };
        if let Some(new_slug) = changes.slug.as_deref().filter(|s| *s != newsletter.slug) {
            if newsletter.id == DEFAULT_NEWSLETTER_ID {
                return Ok(Err(Refusal::DefaultSlugFixed));
            }
            if newsletters::find_by_slug(conn, new_slug)?.is_some() {
                return Ok(Err(Refusal::SlugTaken));
            }
        }
        newsletters::update(conn, newsletter.id, changes, now)?;
        newsletters::find(conn, newsletter.id)?
            .map(Ok)
            .ok_or_else(|| anyhow::anyhow!("newsletter {} vanished", newsletter.id))
    })
}

/// Archives the newsletter `slug`: it is no longer offered or sent; its readers'
/// subscriptions and its digests stay, for the archive and the record. The last
/// newsletter not archived cannot be archived (whichever it is; the default too).
pub fn archive(
    conn: &mut Conn,
    slug: &str,
    now: NaiveDateTime,
) -> anyhow::Result<Result<Newsletter, Refusal>> {
    db::exclusive(conn, |conn| {
        let Some(newsletter) = newsletters::find_by_slug(conn, slug)? else {
            return Ok(Err(Refusal::Unknown));
        };
        if newsletter.archived {
            return Ok(Err(Refusal::AlreadyArchived));
        }
        if newsletters::live_count(conn)? <= 1 {
            return Ok(Err(Refusal::LastOne));
        }
        newsletters::archive(conn, newsletter.id, now)?;
        newsletters::find(conn, newsletter.id)?
            .map(Ok)
            .ok_or_else(|| anyhow::anyhow!("newsletter {} vanished", newsletter.id))
    })
}
