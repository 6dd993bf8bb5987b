//! The reader's language: English, Russian and Kazakh. The service's own words live in
//! Fluent files (`locales/{en,ru,kk}/*.ftl`, compiled in), reached from templates through
//! the `t` and `t_html` functions; dates are written the language's way. English is the
//! fallback for a message missing from another language. Text that readers or the news
//! site wrote (names, titles, summaries) never passes through here.

use std::collections::HashMap;
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use serde::Serialize;

/// A language the service speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    En,
    Ru,
    Kk,
}

/// The Fluent files of each language, in the order of [`Language::ALL`].
const SOURCES: [(&str, &[&str]); 3] = [
    (
        "en",
        &[
            include_str!("../locales/en/pages.ftl"),
            include_str!("../locales/en/mail.ftl"),
        ],
    ),
    (
        "ru",
        &[
            include_str!("../locales/ru/pages.ftl"),
            include_str!("../locales/ru/mail.ftl"),
        ],
    ),
    (
        "kk",
        &[
            include_str!("../locales/kk/pages.ftl"),
            include_str!("../locales/kk/mail.ftl"),
        ],
    ),
];

impl Language {
    pub const ALL: [Language; 3] = [Language::En, Language::Ru, Language::Kk];

    /// The language's code (`en`, `ru`, `kk`): in `?lang=`, the database and `lang=`.
    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Ru => "ru",
            Language::Kk => "kk",
        }
    }

    /// `url` asking for its page in this language (`lang=` appended): the links a mail
    /// carries open their page in the mail's language, whatever the browser asks for.
    pub fn link(self, url: &str) -> String {
        let joiner = if url.contains('?') { '&' } else { '?' };
        format!("{url}{joiner}lang={}", self.code())
    }

    /// The language's name in itself, as the language links show it.
    pub fn native_name(self) -> &'static str {
        match self {
            Language::En => "English",
            Language::Ru => "Русский",
            Language::Kk => "Қазақша",
        }
    }

    /// `en`, `ru` or `kk` (any case, a region such as `ru-KZ` allowed); `None` otherwise.
    pub fn parse(text: &str) -> Option<Language> {
        let primary = text.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        Language::ALL.into_iter().find(|l| l.code() == primary)
    }

    /// The language a browser prefers most among ours, from its `Accept-Language`
    /// (`ru-RU,ru;q=0.9,en;q=0.8`); `None` when it names none of them.
    pub fn from_accept_language(header: &str) -> Option<Language> {
        let mut best: Option<(f32, usize, Language)> = None;
        for (position, item) in header.split(',').enumerate() {
            let mut parts = item.split(';');
            let Some(language) = parts.next().and_then(Language::parse) else {
                continue;
            };
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            if quality <= 0.0 {
                continue;
            }
            // The higher quality wins; between equals, the one named first.
            if best.is_none_or(|(q, _, _)| quality > q) {
                best = Some((quality, position, language));
            }
        }
        best.map(|(_, _, language)| language)
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// One bundle per language, built on first use (the files are checked by a test and at
/// start, see [`check`]).
static BUNDLES: LazyLock<Vec<FluentBundle<FluentResource>>> = LazyLock::new(|| {
    SOURCES
        .iter()
        .map(|(code, files)| {
            let id: unic_langid::LanguageIdentifier = code.parse().expect("a language code");
            let mut bundle = FluentBundle::new_concurrent(vec![id]);
            // No Unicode isolation marks around values: they would show in subjects and
            // plain-text mail.
            bundle.set_use_isolating(false);
            for source in *files {
                let resource = FluentResource::try_new((*source).to_owned())
                    .unwrap_or_else(|(resource, _)| resource);
                bundle.add_resource_overriding(resource);
            }
            bundle
        })
        .collect()
});

/// The Fluent files parse without error and every language has every English message:
/// a broken translation stops the start instead of showing a key.
pub fn check() -> anyhow::Result<()> {
    for (code, files) in SOURCES {
        for source in files {
            if let Err((_, errors)) = FluentResource::try_new((*source).to_string()) {
                anyhow::bail!("the {code} translations do not parse: {errors:?}");
            }
        }
    }
    Ok(())
}

/// The message `key` in `language` with `args`; English when `language` lacks it, and
/// the key itself (never a panic) when no language has it.
pub fn message(language: Language, key: &str, args: Option<&FluentArgs>) -> String {
    for bundle in [&BUNDLES[language.index()], &BUNDLES[Language::En.index()]] {
        let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) else {
            continue;
        };
        let mut errors = Vec::new();
        let text = bundle.format_pattern(pattern, args, &mut errors);
        if !errors.is_empty() {
            tracing::warn!(key, language = %language, ?errors, "a translation could not be formatted");
        }
        return text.into_owned();
    }
    tracing::warn!(key, language = %language, "no translation has this message");
    key.to_owned()
}

/// The message `key` without arguments.
pub fn text(language: Language, key: &str) -> String {
    message(language, key, None)
}

/// The message `key` with one text argument `name` = `value`.
pub fn format_arg(language: Language, key: &str, name: &str, value: &str) -> String {
    let mut args = FluentArgs::new();
    args.set(name, value);
    message(language, key, Some(&args))
}

/// Whether `language` has its own `key` (not English's by fallback).
pub fn has_message(language: Language, key: &str) -> bool {
    BUNDLES[language.index()].has_message(key)
}

/// Months in the genitive, as a date says them ("29 ноября").
const RU_MONTHS: [&str; 12] = [
    "января",
    "февраля",
    "марта",
    "апреля",
    "мая",
    "июня",
    "июля",
    "августа",
    "сентября",
    "октября",
    "ноября",
    "декабря",
];
const KK_MONTHS: [&str; 12] = [
    "қаңтар",
    "ақпан",
    "наурыз",
    "сәуір",
    "мамыр",
    "маусым",
    "шілде",
    "тамыз",
    "қыркүйек",
    "қазан",
    "қараша",
    "желтоқсан",
];
const EN_MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A day written the language's way: "29 November 2026", "29 ноября 2026",
/// "2026 жылғы 29 қараша".
pub fn format_date(language: Language, day: NaiveDate) -> String {
    let month = day.month0() as usize;
    match language {
        Language::En => format!("{} {} {}", day.day(), EN_MONTHS[month], day.year()),
        Language::Ru => format!("{} {} {}", day.day(), RU_MONTHS[month], day.year()),
        Language::Kk => format!("{} жылғы {} {}", day.year(), day.day(), KK_MONTHS[month]),
    }
}

/// Fluent arguments from a Tera call's arguments other than `key` and `lang`: numbers
/// stay numbers (so plurals work), everything else is text (HTML-escaped when `escape`).
fn fluent_args<'a>(args: &'a HashMap<String, tera::Value>, escape: bool) -> FluentArgs<'a> {
    let mut fluent = FluentArgs::new();
    for (name, value) in args {
        if name == "key" || name == "lang" {
            continue;
        }
        let value: FluentValue = match value {
            tera::Value::Number(n) => match n.as_i64() {
                Some(i) => FluentValue::from(i),
                None => FluentValue::from(n.as_f64().unwrap_or_default()),
            },
            tera::Value::String(s) if escape => FluentValue::from(crate::templates::escape_html(s)),
            tera::Value::String(s) => FluentValue::from(s.as_str()),
            tera::Value::Null => FluentValue::from(""),
            other => {
                let text = other.to_string();
                FluentValue::from(if escape {
                    crate::templates::escape_html(&text)
                } else {
                    text
                })
            }
        };
        fluent.set(name.as_str(), value);
    }
    fluent
}

/// The language a template call names (`lang=lang`); English when it names none.
fn call_language(args: &HashMap<String, tera::Value>) -> Language {
    args.get("lang")
        .and_then(|v| v.as_str())
        .and_then(Language::parse)
        .unwrap_or(Language::En)
}

/// A template call's message (`key=`) in its language (`lang=`) with the rest of its
/// arguments, HTML-escaped when `escape`.
fn call(args: &HashMap<String, tera::Value>, escape: bool) -> tera::Result<tera::Value> {
    let key = args
        .get("key")
        .and_then(|v| v.as_str())
        .ok_or_else(|| tera::Error::msg("t() needs key=\"message-id\""))?;
    let fluent = fluent_args(args, escape);
    Ok(tera::Value::String(message(
        call_language(args),
        key,
        Some(&fluent),
    )))
}

/// `{{ t(key="archive-articles", lang=lang, count=3) }}`: a message as text; in an HTML
/// template Tera escapes it like any value.
pub struct Translate;

impl tera::Function for Translate {
    fn call(&self, args: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
        call(args, false)
    }
}

/// `{{ t_html(key="check-inbox-text", lang=lang, email=email) }}`: a message that holds
/// markup of its own (`<strong>`); its arguments are escaped here, so it is shown as is.
pub struct TranslateHtml;

impl tera::Function for TranslateHtml {
    fn call(&self, args: &HashMap<String, tera::Value>) -> tera::Result<tera::Value> {
        call(args, true)
    }

    fn is_safe(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_the_most_wanted_of_ours() {
        assert_eq!(
            Language::from_accept_language("ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7"),
            Some(Language::Ru)
        );
        assert_eq!(
            Language::from_accept_language("de-DE, kk;q=0.5, en;q=0.4"),
            Some(Language::Kk)
        );
        assert_eq!(
            Language::from_accept_language("en;q=0.2, kk-KZ"),
            Some(Language::Kk)
        );
        assert_eq!(Language::from_accept_language("de, fr;q=0.8"), None);
        assert_eq!(Language::from_accept_language("ru;q=0"), None);
        assert_eq!(Language::from_accept_language(""), None);
    }

    #[test]
    fn dates_are_written_the_languages_way() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        assert_eq!(format_date(Language::En, day), "29 November 2026");
        assert_eq!(format_date(Language::Ru, day), "29 ноября 2026");
        assert_eq!(format_date(Language::Kk, day), "2026 жылғы 29 қараша");
        let march = NaiveDate::from_ymd_opt(2026, 3, 8).unwrap();
        assert_eq!(format_date(Language::Ru, march), "8 марта 2026");
        assert_eq!(format_date(Language::Kk, march), "2026 жылғы 8 наурыз");
    }

    #[test]
    fn the_translations_parse() {
        check().expect("every .ftl parses");
    }

    #[test]
    fn plurals_follow_each_languages_rules() {
        let count = |language, n: i64| {
            let mut args = FluentArgs::new();
            args.set("count", n);
            message(language, "archive-articles", Some(&args))
        };
        assert_eq!(count(Language::Ru, 1), "1 статья");
        assert_eq!(count(Language::Ru, 2), "2 статьи");
        assert_eq!(count(Language::Ru, 5), "5 статей");
        assert_eq!(count(Language::Ru, 21), "21 статья");
        assert_eq!(count(Language::Ru, 11), "11 статей");
        assert_eq!(count(Language::Kk, 1), "1 мақала");
        assert_eq!(count(Language::Kk, 21), "21 мақала");
        assert_eq!(count(Language::En, 1), "1 article");
        assert_eq!(count(Language::En, 21), "21 articles");
    }
}
