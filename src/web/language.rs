//! The language a public page is shown in: `?lang=` (the language links, and the forms,
//! which carry the choice on: no cookie), else the browser's `Accept-Language`, else
//! `DEFAULT_LANGUAGE`. Admin pages stay English.

use std::future::{Ready, ready};

use actix_web::http::{Method, header};
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};

use crate::i18n::Language;
use crate::state::AppState;
use crate::templates::LanguageLink;

/// The language of the page being answered, and the links to it in the others.
#[derive(Debug, Clone)]
pub struct PageLanguage {
    pub language: Language,
    links: Vec<LanguageLink>,
}

impl PageLanguage {
    /// The page's language as `req` asks for it.
    pub fn of(req: &HttpRequest) -> PageLanguage {
        let default = req
            .app_data::<web::Data<AppState>>()
            .map_or(Language::En, |state| state.settings.default_language);
        let asked = url::form_urlencoded::parse(req.query_string().as_bytes())
            .find(|(name, _)| name == "lang")
            .and_then(|(_, value)| Language::parse(&value));
        let language = asked
            .or_else(|| {
                req.headers()
                    .get(header::ACCEPT_LANGUAGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(Language::from_accept_language)
            })
            .unwrap_or(default);
        PageLanguage {
            language,
            links: links(req, language),
        }
    }

    /// The same page in `language` (a form's own choice, posted with it).
    pub fn switched(mut self, language: Language) -> PageLanguage {
        self.language = language;
        for link in &mut self.links {
            link.current = link.code == language.code();
        }
        self
    }

    /// The context a public page starts from: the site's, in this language, with the
    /// language links.
    pub fn context(&self, state: &AppState) -> tera::Context {
        let mut context = state.base_context();
        context.insert("lang", self.language.code());
        context.insert("languages", &self.links);
        context
    }

    /// The same language, its links leading to the sign-up page: for a page about a
    /// bad link or form, which would only repeat itself (and the bad input) in another
    /// language.
    pub fn to_front(&self) -> PageLanguage {
        let mut front = self.clone();
        for link in &mut front.links {
            link.url = format!("/?lang={}", link.code);
        }
        front
    }

    /// The message `key` in the page's language.
    pub fn text(&self, key: &str) -> String {
        crate::i18n::text(self.language, key)
    }
}

impl FromRequest for PageLanguage {
    type Error = actix_web::Error;
    type Future = Ready<Result<PageLanguage, actix_web::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(PageLanguage::of(req)))
    }
}

/// The page in each language: this address with `lang` set, for a page one can ask
/// for again (a `GET`, the preferences page); the sign-up page otherwise (what a form
/// answered cannot be asked for by a link).
fn links(req: &HttpRequest, current: Language) -> Vec<LanguageLink> {
    let again =
        req.method() == Method::GET || req.method() == Method::HEAD || req.path() == "/preferences";
    Language::ALL
        .into_iter()
        .map(|language| {
            let url = if again {
                let mut query = url::form_urlencoded::Serializer::new(String::new());
                for (name, value) in url::form_urlencoded::parse(req.query_string().as_bytes()) {
                    if name != "lang" {
                        query.append_pair(&name, &value);
                    }
                }
                query.append_pair("lang", language.code());
                format!("{}?{}", req.path(), query.finish())
            } else {
                format!("/?lang={}", language.code())
            };
            LanguageLink {
                code: language.code(),
                name: language.native_name(),
                url,
                current: language == current,
            }
        })
        .collect()
}
