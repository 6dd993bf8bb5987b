//! A newsletter's settings as the admin gives them (API or admin page), checked once.

use serde::Deserialize;

use super::article::{FieldErrors, single_line};

/// The longest slug, in characters.
pub const SLUG_CHARS: usize = 64;
/// The longest name, in characters.
pub const NAME_CHARS: usize = 200;
/// The longest description, in characters.
pub const DESCRIPTION_CHARS: usize = 300;
/// The longest section name, in characters.
pub const SECTION_CHARS: usize = 100;

/// A newsletter's fields as given, before checking: every field optional, so that a
/// partial change names only what it changes and each bad field gets its own error.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewsletterInput {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// A cron string in the DIGEST_CRON format; empty: manual sends only.
    pub schedule: Option<String>,
    pub sections: Option<Vec<String>>,
    pub public: Option<bool>,
    pub preselected: Option<bool>,
    /// `en`, `ru` or `kk` to tie its digests to that language; `null` (`Some(None)`) to
    /// follow each reader's; absent (`None`) leaves it as it is.
    #[serde(default, deserialize_with = "present")]
    pub language: Option<Option<String>>,
}

/// A field that is present, `null` included (`Some(None)`), as opposed to absent.
fn present<'de, D>(deserializer: D) -> Result<Option<Option<String>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Checked newsletter fields: `None` leaves a field as it is (or at its default, for a
/// new newsletter).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NewsletterChanges {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    /// A valid cron string, or `""` for manual sends only.
    pub schedule: Option<String>,
    /// Trimmed, lower-cased, without repeats, joined by `,` (the column's form); `""`
    /// takes every article.
    pub sections: Option<String>,
    pub public: Option<bool>,
    pub preselected: Option<bool>,
    /// `Some(Some(code))`: tied to that language; `Some(None)`: each reader's own.
    pub language: Option<Option<String>>,
}

impl NewsletterChanges {
    /// Checks `input`; `creating` requires what a new newsletter needs (slug, name).
    pub fn parse(
        input: &NewsletterInput,
        creating: bool,
    ) -> Result<NewsletterChanges, FieldErrors> {
        let mut errors = FieldErrors::new();
        let slug = match input.slug.as_deref().map(str::trim) {
            None | Some("") if creating => {
                errors.insert("slug", "a slug is required".into());
                None
            }
            None => None,
            Some(s) => parse_slug(s).map_err(|e| errors.insert("slug", e)).ok(),
        };
        let name = match input.name.as_deref().map(str::trim) {
            None if !creating => None,
            None | Some("") => {
                errors.insert("name", "a name is required".into());
                None
            }
            Some(n) => single_line(n, NAME_CHARS)
                .map_err(|e| errors.insert("name", e))
                .ok(),
        };
        let description = input
            .description
            .as_deref()
            .map(|d| single_line(d.trim(), DESCRIPTION_CHARS))
            .transpose()
            .map_err(|e| errors.insert("description", e))
            .ok()
            .flatten();
        let schedule = input
            .schedule
            .as_deref()
            .map(str::trim)
            .map(|s| {
                if s.is_empty() {
                    return Ok(String::new());
                }
                crate::config::validate_cron(s).map(|()| s.to_owned()).map_err(|e| {
                    format!(
                        "not a valid cron schedule ({e}); seconds first, e.g. `0 0 7 * * *` for 07:00 daily, or empty for manual sends only"
                    )
                })
            })
            .transpose()
            .map_err(|e| errors.insert("schedule", e))
            .ok()
            .flatten();
        let sections = input
            .sections
            .as_deref()
            .map(parse_sections)
            .transpose()
            .map_err(|e| errors.insert("sections", e))
            .ok()
            .flatten();
        let language = match &input.language {
            None => None,
            Some(None) => Some(None),
            Some(Some(code)) => match crate::i18n::Language::ALL
                .into_iter()
                .find(|l| l.code() == code.as_str())
            {
                Some(language) => Some(Some(language.code().to_owned())),
                None => {
                    errors.insert(
                        "language",
                        "must be `en`, `ru` or `kk`, or null to follow each reader's language"
                            .into(),
                    );
                    None
                }
            },
        };
        if errors.is_empty() {
            Ok(NewsletterChanges {
                slug,
                name,
                description,
                schedule,
                sections,
                public: input.public,
                preselected: input.preselected,
                language,
            })
        } else {
            Err(errors)
        }
    }
}

/// A slug: lower-case ASCII letters, digits and `-`, at most [`SLUG_CHARS`].
pub fn parse_slug(raw: &str) -> Result<String, String> {
    if raw.is_empty() {
        return Err("a slug is required".into());
    }
    if raw.chars().count() > SLUG_CHARS {
        return Err(format!("must be at most {SLUG_CHARS} characters"));
    }
    if !raw
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        return Err("only lower-case letters a-z, digits and `-` are allowed".into());
    }
    Ok(raw.to_owned())
}

/// Section names, trimmed and lower-cased (sections compare case-insensitively), in the
/// order given without repeats, as the column stores them.
pub fn parse_sections(raw: &[String]) -> Result<String, String> {
    let mut sections: Vec<String> = Vec::new();
    for section in raw {
        let section = section.trim().to_lowercase();
        if section.is_empty() {
            return Err("a section name cannot be empty".into());
        }
        if section.contains(',') {
            return Err(format!("`{section}`: a section name cannot contain `,`"));
        }
        let section =
            single_line(&section, SECTION_CHARS).map_err(|e| format!("`{section}`: {e}"))?;
        if !sections.contains(&section) {
            sections.push(section);
        }
    }
    Ok(sections.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(json: serde_json::Value) -> NewsletterInput {
        serde_json::from_value(json).expect("an input")
    }

    #[test]
    fn a_new_newsletter_needs_a_slug_and_a_name_and_each_bad_field_is_named() {
        let errors = NewsletterChanges::parse(&input(serde_json::json!({})), true).unwrap_err();
        assert_eq!(errors.keys().copied().collect::<Vec<_>>(), ["name", "slug"]);
        let errors = NewsletterChanges::parse(
            &input(serde_json::json!({
                "slug": "Business News",
                "name": "x".repeat(201),
                "description": "one\ntwo",
                "schedule": "every day",
                "sections": [" "],
            })),
            true,
        )
        .unwrap_err();
        assert_eq!(
            errors.keys().copied().collect::<Vec<_>>(),
            ["description", "name", "schedule", "sections", "slug"]
        );
        assert!(parse_slug(&"a".repeat(65)).is_err());
        assert_eq!(parse_slug(&"a".repeat(64)).unwrap().len(), 64);
    }

    #[test]
    fn sections_are_trimmed_lower_cased_and_listed_once() {
        let sections = [
            "  Business ".to_owned(),
            "CULTURE".into(),
            "business".into(),
        ];
        assert_eq!(parse_sections(&sections).unwrap(), "business,culture");
        assert_eq!(parse_sections(&[]).unwrap(), "");
    }

    #[test]
    fn a_change_names_only_what_it_changes_and_an_empty_schedule_means_manual_sends() {
        let changes =
            NewsletterChanges::parse(&input(serde_json::json!({"schedule": ""})), false).unwrap();
        assert_eq!(
            changes,
            NewsletterChanges {
                schedule: Some(String::new()),
                ..NewsletterChanges::default()
            }
        );
        let changes = NewsletterChanges::parse(
            &input(serde_json::json!({"schedule": "0 30 6 * * Mon-Fri"})),
            false,
        )
        .unwrap();
        assert_eq!(changes.schedule.as_deref(), Some("0 30 6 * * Mon-Fri"));
    }

    #[test]
    fn a_language_is_ours_or_null_and_absent_leaves_it() {
        let parse = |json| NewsletterChanges::parse(&input(json), false);
        assert_eq!(parse(serde_json::json!({})).unwrap().language, None);
        assert_eq!(
            parse(serde_json::json!({"language": null}))
                .unwrap()
                .language,
            Some(None)
        );
        assert_eq!(
            parse(serde_json::json!({"language": "kk"}))
                .unwrap()
                .language,
            Some(Some("kk".to_owned()))
        );
        for bad in ["de", "", "RU", "ru-RU"] {
            let errors = parse(serde_json::json!({ "language": bad })).unwrap_err();
            assert_eq!(errors.keys().copied().collect::<Vec<_>>(), ["language"]);
        }
    }
}
