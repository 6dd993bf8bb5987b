//! Settings: read once from the environment (and `.env`), validated, with defaults.
//!
//! Every setting is documented in `.env.example`. Nothing here is global: a `Settings`
//! value is built once and passed down, so tests can run several apps side by side.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use lettre::message::Mailbox;
use url::Url;

/// The admin secret as configured: a plain token or an argon2 PHC hash of one.
#[derive(Clone)]
pub enum AdminToken {
    Plain(String),
    Argon2Hash(String),
}

impl AdminToken {
    /// A digest that changes whenever the configured token does; admin sessions are
    /// bound to it.
    pub fn fingerprint(&self) -> [u8; 32] {
        use sha2::Digest;
        let (kind, value) = match self {
            AdminToken::Plain(secret) => ("plain:", secret),
            AdminToken::Argon2Hash(phc) => ("argon2:", phc),
        };
        sha2::Sha256::new()
            .chain_update(kind)
            .chain_update(value)
            .finalize()
            .into()
    }
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the secret, even in debug output.
        match self {
            AdminToken::Plain(_) => f.write_str("AdminToken::Plain(…)"),
            AdminToken::Argon2Hash(_) => f.write_str("AdminToken::Argon2Hash(…)"),
        }
    }
}

/// A secret setting; its `Debug` output never shows it.
#[derive(Clone)]
pub struct Secret(pub String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain TCP; for a relay on the same host or a test server.
    None,
    /// STARTTLS if the server offers it, plain otherwise.
    Opportunistic,
    /// STARTTLS, and refuse to send if the server does not offer it.
    Required,
    /// TLS from the first byte (`smtps://`, usually port 465).
    Implicit,
}

impl SmtpTls {
    /// The mode in words, for the start-up log and `check-smtp`.
    pub fn describe(self) -> &'static str {
        match self {
            SmtpTls::None => "no encryption",
            SmtpTls::Opportunistic => "STARTTLS when the server offers it",
            SmtpTls::Required => "STARTTLS required",
            SmtpTls::Implicit => "TLS from the first byte",
        }
    }
}

/// Where and how to reach the SMTP server, parsed from `SMTP_URL`.
#[derive(Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(user, _)| user),
            )
            .finish()
    }
}

/// DKIM signing, from `DKIM_DOMAIN`, `DKIM_SELECTOR` and `DKIM_PRIVATE_KEY_FILE`.
#[derive(Debug, Clone)]
pub struct DkimSettings {
    pub domain: String,
    pub selector: String,
    pub private_key_file: PathBuf,
    /// `DKIM_ED25519_KEY_FILE`: a second signature with Ed25519 (RFC 8463).
    pub ed25519: Option<Ed25519Settings>,
}

/// The second, Ed25519 signature: `DKIM_ED25519_KEY_FILE` and `DKIM_ED25519_SELECTOR`
/// (default `DKIM_SELECTOR` with `-ed25519` appended: each key needs its own DNS record).
#[derive(Debug, Clone)]
pub struct Ed25519Settings {
    pub selector: String,
    pub key_file: PathBuf,
}

/// How failed sends are retried. Not an environment setting: the defaults suit every
/// deployment, and tests shorten them to milliseconds.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Wait before the first retry.
    pub first_delay: Duration,
    /// The wait doubles after each failure, up to this.
    pub max_delay: Duration,
    /// A message still failing this long after it was queued is given up.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(5),
            max_delay: Duration::from_secs(10 * 60),
            give_up_after: Duration::from_secs(24 * 60 * 60),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `attempts` (1 for the first retry).
    pub fn delay_after(&self, attempts: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        self.first_delay.saturating_mul(factor).min(self.max_delay)
    }
}

/// How digest deliveries are claimed (`DELIVERY_LEASE_SECONDS`; the batch size is not a
/// setting).
#[derive(Debug, Clone)]
pub struct DeliveryTuning {
    /// How long a worker holds the deliveries it claimed; renewed while it works, so
    /// this is how soon a crashed worker's deliveries are picked up again.
    pub lease: Duration,
    /// Deliveries claimed at once, per SMTP connection.
    pub batch_per_connection: usize,
}

impl Default for DeliveryTuning {
    fn default() -> Self {
        DeliveryTuning {
            lease: Duration::from_secs(30),
            batch_per_connection: 25,
        }
    }
}

/// `BRAND_COLOR`: a hex colour (`#abc` or `#aabbcc`), kept lower case. A value that
/// exists is valid, so templates may put it into CSS as it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandColor(String);

impl BrandColor {
    /// The colour of links and buttons when `BRAND_COLOR` is unset.
    pub const DEFAULT: &str = "#0b5cad";

    pub fn parse(raw: &str) -> anyhow::Result<BrandColor> {
        let hex = raw.strip_prefix('#').unwrap_or("");
        if !matches!(hex.len(), 3 | 6) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
            bail!("BRAND_COLOR must be a hex colour such as `#0b5cad` or `#c03`, not `{raw}`");
        }
        Ok(BrandColor(format!("#{}", hex.to_ascii_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The colour a fifth darker, for a button under the pointer.
    pub fn darker(&self) -> String {
        let hex = &self.0[1..];
        let full: String = if hex.len() == 3 {
            hex.chars().flat_map(|c| [c, c]).collect()
        } else {
            hex.to_owned()
        };
        let channel = |i: usize| {
            let value = u8::from_str_radix(&full[i..i + 2], 16).unwrap_or(0);
            // Four fifths of a u8 fits a u8.
            u8::try_from(u16::from(value) * 4 / 5).unwrap_or(value)
        };
        format!("#{:02x}{:02x}{:02x}", channel(0), channel(2), channel(4))
    }

    /// The colour mixed halfway and more with white, for links on a dark background
    /// (the mail's dark mode), where the colour itself is often too dark to read.
    pub fn lighter(&self) -> String {
        let hex = &self.0[1..];
        let full: String = if hex.len() == 3 {
            hex.chars().flat_map(|c| [c, c]).collect()
        } else {
            hex.to_owned()
        };
        let channel = |i: usize| {
            let value = u16::from(u8::from_str_radix(&full[i..i + 2], 16).unwrap_or(0));
            // value + 3/5 of what it lacks to white: still at most 255.
            u8::try_from(value + (255 - value) * 3 / 5).unwrap_or(255)
        };
        format!("#{:02x}{:02x}{:02x}", channel(0), channel(2), channel(4))
    }
}

/// How log lines are written (`LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One line of text each, for people (the default).
    #[default]
    Text,
    /// One JSON object a line, for log shippers.
    Json,
}

impl LogFormat {
    /// `text` or `json` (any case); unset is `text`; anything else stops the start.
    pub fn parse(raw: Option<&str>) -> anyhow::Result<LogFormat> {
        match raw.map(|raw| raw.trim().to_ascii_lowercase()).as_deref() {
            None | Some("") | Some("text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(_) => bail!(
                "LOG_FORMAT must be `text` or `json`, not `{}`",
                raw.unwrap_or_default().trim()
            ),
        }
    }
}

/// The provider webhooks (issue 13); each is off (404) until its secret is set.
#[derive(Debug, Clone, Default)]
pub struct WebhookSettings {
    /// `SES_WEBHOOK_TOPIC_ARN`: the one SNS topic whose messages `POST /webhooks/ses`
    /// takes.
    pub ses_topic_arn: Option<String>,
    /// `SES_SNS_CERT_HOST_OVERRIDE` (for tests only): an origin such as
    /// `http://127.0.0.1:4000` that SNS certificate and subscription URLs may name
    /// instead of `https://sns.<region>.amazonaws.com`.
    pub ses_cert_host_override: Option<Url>,
    /// `POSTMARK_WEBHOOK_USER` and `POSTMARK_WEBHOOK_PASSWORD`: the basic auth
    /// Postmark's webhook URL carries.
    pub postmark: Option<(String, Secret)>,
    /// `MAILGUN_WEBHOOK_SIGNING_KEY`: the HMAC key of Mailgun's webhook signatures.
    pub mailgun_signing_key: Option<Secret>,
    /// `SENDGRID_WEBHOOK_PUBLIC_KEY`: the uncompressed P-256 point of the public key
    /// SendGrid shows (base64 DER), checked at start.
    pub sendgrid_public_key: Option<Vec<u8>>,
}

impl WebhookSettings {
    fn from_lookup(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<WebhookSettings> {
        let ses_topic_arn = get("SES_WEBHOOK_TOPIC_ARN");
        if let Some(arn) = &ses_topic_arn
            && (!arn.starts_with("arn:aws:sns:") || arn.chars().any(char::is_whitespace))
        {
            bail!(
                "SES_WEBHOOK_TOPIC_ARN must be an SNS topic ARN such as `arn:aws:sns:eu-west-1:123456789012:ses-feedback`, not `{arn}`"
            );
        }
        let ses_cert_host_override = get("SES_SNS_CERT_HOST_OVERRIDE")
            .map(|raw| {
                Url::parse(&raw)
                    .ok()
                    .filter(|url| matches!(url.scheme(), "http" | "https") && url.host().is_some())
                    .with_context(|| {
                        format!(
                            "SES_SNS_CERT_HOST_OVERRIDE must be an origin such as `http://127.0.0.1:4000`, not `{raw}`"
                        )
                    })
            })
            .transpose()?;
        let postmark = match (
            get("POSTMARK_WEBHOOK_USER"),
            get("POSTMARK_WEBHOOK_PASSWORD"),
        ) {
            (None, None) => None,
            (Some(user), Some(password)) => {
                if password.len() < 16 {
                    bail!(
                        "POSTMARK_WEBHOOK_PASSWORD is shorter than 16 characters; use a long random secret (e.g. `openssl rand -hex 32`)"
                    );
                }
                if user.contains(':') {
                    bail!("POSTMARK_WEBHOOK_USER cannot hold a `:` (basic auth splits there)");
                }
                Some((user, Secret(password)))
            }
            _ => bail!(
                "POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD go together: set both to take Postmark's webhook, or neither"
            ),
        };
        let mailgun_signing_key = get("MAILGUN_WEBHOOK_SIGNING_KEY").map(Secret);
        let sendgrid_public_key = get("SENDGRID_WEBHOOK_PUBLIC_KEY")
            .map(|raw| {
                crate::webhooks::sendgrid::parse_public_key(&raw).with_context(|| {
                    "SENDGRID_WEBHOOK_PUBLIC_KEY must be the verification key SendGrid shows (base64 DER of a P-256 public key)"
                })
            })
            .transpose()?;
        Ok(WebhookSettings {
            ses_topic_arn,
            ses_cert_host_override,
            postmark,
            mailgun_signing_key,
            sendgrid_public_key,
        })
    }
}

/// Every setting of the service, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub bind_addr: String,
    pub base_url: Url,
    pub smtp: Option<SmtpSettings>,
    pub outbox_dir: PathBuf,
    pub mail_from: Mailbox,
    pub newsletter_name: String,
    /// Whether `NEWSLETTER_NAME` was set; unset, the feed's title names the newsletter.
    pub newsletter_name_given: bool,
    /// `SITE_URL`: the news site itself, where the masthead and "more news" links point.
    pub site_url: Option<Url>,
    /// `SITE_LOGO_URL`: an https image shown in the masthead of pages and mail.
    pub site_logo_url: Option<Url>,
    /// `BRAND_COLOR`: links, buttons and the masthead rule in pages and mail.
    pub brand_color: BrandColor,
    /// `TEMPLATES_DIR`: templates placed there override the built-in ones by name.
    pub templates_dir: Option<PathBuf>,
    pub admin_token: Option<AdminToken>,
    pub app_secret: Option<Secret>,
    pub digest_cron: Option<String>,
    /// `TIMEZONE`: the zone the cron schedules run in and dates are written in.
    pub timezone: chrono_tz::Tz,
    /// `DEFAULT_LANGUAGE`: the language of pages whose browser names none of ours, and
    /// of the mail of readers who signed up before the reader's language was kept.
    pub default_language: crate::i18n::Language,
    pub feed_url: Option<String>,
    pub feed_cron: Option<String>,
    /// `FEED_ALLOW_PRIVATE`: whether the feed fetcher may connect to loopback, private
    /// and other non-public addresses (off: a feed URL cannot reach the local network).
    pub feed_allow_private: bool,
    pub send_concurrency: usize,
    pub send_rate_per_sec: Option<u32>,
    pub confirmation_ttl: Duration,
    pub signup_rate_per_minute: u32,
    pub confirm_mails_per_address_per_day: u32,
    pub trusted_proxy: Option<IpAddr>,
    pub dkim: Option<DkimSettings>,
    /// `BOUNCE_ADDRESS`: the mailbox bounces come back to; with it each message's
    /// envelope sender is `local+TAG@domain`, naming its delivery (VERP).
    pub bounce_address: Option<BounceAddress>,
    /// `MAIL_POSTAL_ADDRESS`: the sender's postal address, in the footer of every digest
    /// (CAN-SPAM, and most relays' terms, ask for one in bulk mail).
    pub mail_postal_address: Option<String>,
    /// `METRICS_TOKEN`: with it, `GET /metrics` on the public port asks for it as a
    /// Bearer token; without it (and without `METRICS_ADDR`) there are no metrics.
    pub metrics_token: Option<Secret>,
    /// `METRICS_ADDR`: a separate listener that serves only `GET /metrics`, with no
    /// token (for a port only the monitoring system reaches).
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// `LOG_FORMAT`: `text` (the default) or `json`, one object a line.
    pub log_format: LogFormat,
    pub retry: RetryPolicy,
    pub delivery: DeliveryTuning,
    /// `SHUTDOWN_GRACE_SECONDS`: how long a SIGTERM or Ctrl-C gives the requests and
    /// messages in flight to finish before the process exits anyway.
    pub shutdown_grace: Duration,
    /// `DELIVERY_RETENTION_DAYS`: how long the delivery rows of a finished digest (and
    /// finished one-off mail) are kept; the digest's counts are kept for ever.
    pub delivery_retention: Duration,
    /// The provider webhooks' secrets (`SES_WEBHOOK_TOPIC_ARN`, `POSTMARK_WEBHOOK_*`,
    /// `MAILGUN_WEBHOOK_SIGNING_KEY`, `SENDGRID_WEBHOOK_PUBLIC_KEY`).
    pub webhooks: WebhookSettings,
}

/// The settings of a `.env` file, from the working folder or the nearest folder above it
/// that has one (where dotenvy looks). As with `source .env`, the last line of a name
/// wins (a token appended below an empty `ADMIN_TOKEN=` counts); the process
/// environment wins over the file.
#[derive(Debug, Default)]
pub struct EnvFile {
    values: HashMap<String, String>,
    /// The names the process environment had before the file was read.
    environment: std::collections::HashSet<std::ffi::OsString>,
}

impl EnvFile {
    /// Reads `.env`, if there is one; a line it cannot read stops the start with the
    /// file, the line number and the setting.
    pub fn find() -> anyhow::Result<EnvFile> {
        let Ok(here) = std::env::current_dir() else {
            return Ok(EnvFile::default());
        };
        let Some(path) = here
            .ancestors()
            .map(|folder| folder.join(".env"))
            .find(|path| path.is_file())
        else {
            return Ok(EnvFile::default());
        };
        let lines = dotenvy::from_path_iter(&path)
            .with_context(|| format!("could not read `{}`", path.display()))?;
        let mut values = HashMap::new();
        for line in lines {
            match line {
                Ok((name, value)) => {
                    values.insert(name, value);
                }
                Err(dotenvy::Error::LineParse(text, _)) => {
                    let contents = std::fs::read_to_string(&path).unwrap_or_default();
                    bail!("{}", unreadable_env_line(&path, &contents, &text))
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("could not read `{}`", path.display()));
                }
            }
        }
        let environment = std::env::vars_os().map(|(name, _)| name).collect();
        // Into the process environment too, for what reads it rather than our settings
        // (`NO_COLOR`, proxies, certificate files); dotenvy keeps what is set already.
        dotenvy::from_path(&path)
            .with_context(|| format!("could not read `{}`", path.display()))?;
        Ok(EnvFile {
            values,
            environment,
        })
    }

    /// The setting `name`: from the environment, else from the file.
    pub fn get(&self, name: &str) -> Option<String> {
        if self.environment.contains(std::ffi::OsStr::new(name)) {
            return std::env::var(name).ok();
        }
        // (Not the process environment: dotenvy put the *first* line of a name there.)
        self.values
            .get(name)
            .cloned()
            .or_else(|| std::env::var(name).ok())
    }
}

/// Says which line of an env file dotenvy could not read (it names only the text it
/// stopped at), and how to write it.
fn unreadable_env_line(path: &std::path::Path, contents: &str, text: &str) -> String {
    let file = path.display();
    let Some((number, line)) = contents
        .lines()
        .enumerate()
        .find(|(_, line)| !line.trim_start().starts_with('#') && line.contains(text.trim()))
    else {
        return format!("`{file}`: a line cannot be read: {text}");
    };
    let line = line.trim();
    let Some((name, value)) = line.split_once('=') else {
        return format!(
            "`{file}` line {}: `{line}` is not a setting (NAME=value)",
            number + 1
        );
    };
    let name = name.trim_start_matches("export ").trim();
    let value = value.trim();
    let how = if value.contains('"') {
        "check its quotes".to_owned()
    } else {
        format!("a value with spaces, `<` or `#` goes in double quotes: {name}=\"{value}\"")
    };
    format!(
        "`{file}` line {}: the value of {name} cannot be read; {how}",
        number + 1
    )
}

impl Settings {
    /// The settings of the environment and, below it, of `env_file`.
    pub fn from_env(env_file: &EnvFile) -> anyhow::Result<Settings> {
        Settings::from_lookup(|name| env_file.get(name))
    }

    /// Builds settings from a map of names to values, as a test would.
    pub fn from_map(map: &HashMap<String, String>) -> anyhow::Result<Settings> {
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    /// Builds settings from any lookup of setting names; unset names take their defaults.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> anyhow::Result<Settings> {
        let get = |name: &str| lookup(name).map(|v| v.trim().to_owned());
        let get_nonempty = |name: &str| get(name).filter(|v| !v.is_empty());
        let or_default =
            |name: &str, default: &str| get(name).unwrap_or_else(|| default.to_owned());

        let base_url = parse_base_url(&or_default("BASE_URL", "http://127.0.0.1:8080"))?;
        let smtp = get_nonempty("SMTP_URL")
            .map(|raw| parse_smtp_url(&raw))
            .transpose()?;
        let mail_from: Mailbox = or_default("MAIL_FROM", "Newsletter <newsletter@localhost>")
            .parse()
            .map_err(|e| {
                anyhow::anyhow!(
                    "MAIL_FROM is not a valid mailbox such as `News <news@example.com>`: {e}"
                )
            })?;
        let admin_token = get_nonempty("ADMIN_TOKEN").map(|token| {
            if token.starts_with("$argon2") {
                AdminToken::Argon2Hash(token)
            } else {
                AdminToken::Plain(token)
            }
        });
        if let Some(AdminToken::Argon2Hash(hash)) = &admin_token {
            argon2::PasswordHash::new(hash).map_err(|e| {
                anyhow::anyhow!("ADMIN_TOKEN looks like an argon2 hash but does not parse: {e}")
            })?;
        }
        if let Some(AdminToken::Plain(token)) = &admin_token
            && token.len() < 16
        {
            bail!(
                "ADMIN_TOKEN is shorter than 16 characters; use a long random secret (e.g. `openssl rand -hex 32`)"
            );
        }
        let app_secret = get_nonempty("APP_SECRET");
        if let Some(secret) = &app_secret
            && secret.len() < 32
        {
            bail!("APP_SECRET is shorter than 32 characters; leave it unset to have one generated");
        }

        let digest_cron = optional_cron(get("DIGEST_CRON"), "0 0 7 * * *", "DIGEST_CRON")?;
        let feed_cron = optional_cron(get("FEED_CRON"), "0 */15 * * * *", "FEED_CRON")?;
        let timezone = parse_timezone(get_nonempty("TIMEZONE"))?;
        let default_language = parse_language(get_nonempty("DEFAULT_LANGUAGE"))?;
        let feed_url = get_nonempty("FEED_URL");
        if let Some(url) = &feed_url
            && Url::parse(url).is_err()
            && !std::path::Path::new(url).exists()
        {
            match suggest_scheme(url) {
                Some(suggestion) => bail!(
                    "FEED_URL `{url}` has no scheme and is no existing file; did you mean `{suggestion}`?"
                ),
                None => bail!("FEED_URL `{url}` is neither a URL nor an existing file"),
            }
        }

        let feed_allow_private = parse_bool(
            get_nonempty("FEED_ALLOW_PRIVATE"),
            "FEED_ALLOW_PRIVATE",
            false,
        )?;

        let trusted_proxy = get_nonempty("TRUSTED_PROXY")
            .map(|raw| {
                raw.parse::<IpAddr>()
                    .with_context(|| format!("TRUSTED_PROXY `{raw}` is not an IP address"))
            })
            .transpose()?;

        let send_concurrency: usize =
            parse_number(get_nonempty("SEND_CONCURRENCY"), "SEND_CONCURRENCY", 8)?;
        if !(1..=100).contains(&send_concurrency) {
            bail!("SEND_CONCURRENCY must be between 1 and 100, not {send_concurrency}");
        }
        let send_rate_per_sec = match get_nonempty("SEND_RATE_PER_SEC").as_deref() {
            None | Some("unlimited") | Some("0") => None,
            Some(raw) => Some(parse_number(
                Some(raw.to_owned()),
                "SEND_RATE_PER_SEC",
                0u32,
            )?),
        };
        let ttl_hours: u64 = parse_number(
            get_nonempty("CONFIRMATION_TTL_HOURS"),
            "CONFIRMATION_TTL_HOURS",
            48,
        )?;
        if ttl_hours == 0 {
            bail!("CONFIRMATION_TTL_HOURS must be at least 1");
        }

        let confirm_mails_per_address_per_day: u32 = parse_number(
            get_nonempty("CONFIRM_MAILS_PER_ADDRESS_PER_DAY"),
            "CONFIRM_MAILS_PER_ADDRESS_PER_DAY",
            3,
        )?;
        if confirm_mails_per_address_per_day == 0 {
            bail!(
                "CONFIRM_MAILS_PER_ADDRESS_PER_DAY must be at least 1, or nobody could ever confirm"
            );
        }
        let dkim = match (
            get_nonempty("DKIM_DOMAIN"),
            get_nonempty("DKIM_SELECTOR"),
            get_nonempty("DKIM_PRIVATE_KEY_FILE"),
        ) {
            (None, None, None) => None,
            (Some(domain), Some(selector), Some(file)) => Some(DkimSettings {
                ed25519: get_nonempty("DKIM_ED25519_KEY_FILE").map(|key_file| Ed25519Settings {
                    selector: get_nonempty("DKIM_ED25519_SELECTOR")
                        .unwrap_or_else(|| format!("{selector}-ed25519")),
                    key_file: PathBuf::from(key_file),
                }),
                domain,
                selector,
                private_key_file: PathBuf::from(file),
            }),
            _ => bail!(
                "DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE go together: set all three to sign mail, or none"
            ),
        };
        if dkim.is_none() && get_nonempty("DKIM_ED25519_KEY_FILE").is_some() {
            bail!(
                "DKIM_ED25519_KEY_FILE adds a second signature beside the first: set DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY_FILE too"
            );
        }

        let mail_postal_address = get_nonempty("MAIL_POSTAL_ADDRESS")
            .map(|raw| raw.trim().to_owned())
            .filter(|address| !address.is_empty());
        if let Some(address) = &mail_postal_address
            && address.chars().any(char::is_control)
        {
            bail!(
                "MAIL_POSTAL_ADDRESS holds a line break or control character: write it on one line, parts separated by commas"
            );
        }

        let bounce_address = get_nonempty("BOUNCE_ADDRESS")
            .map(|raw| BounceAddress::parse(&raw))
            .transpose()?;

        let metrics_token = get_nonempty("METRICS_TOKEN");
        if let Some(token) = &metrics_token
            && token.len() < 16
        {
            bail!(
                "METRICS_TOKEN is shorter than 16 characters; use a long random secret (e.g. `openssl rand -hex 32`)"
            );
        }
        let metrics_addr = get_nonempty("METRICS_ADDR")
            .map(|raw| {
                raw.parse::<std::net::SocketAddr>().with_context(|| {
                    format!(
                        "METRICS_ADDR `{raw}` is not an address and port such as `127.0.0.1:9464`"
                    )
                })
            })
            .transpose()?;
        let log_format = LogFormat::parse(get_nonempty("LOG_FORMAT").as_deref())?;

        let site_url = get_nonempty("SITE_URL")
            .map(|raw| parse_site_url(&raw))
            .transpose()?;
        let site_logo_url = get_nonempty("SITE_LOGO_URL")
            .map(|raw| parse_logo_url(&raw))
            .transpose()?;
        let brand_color = BrandColor::parse(&or_default("BRAND_COLOR", BrandColor::DEFAULT))?;
        let templates_dir = get_nonempty("TEMPLATES_DIR").map(PathBuf::from);
        if let Some(dir) = &templates_dir
            && !dir.is_dir()
        {
            bail!(
                "TEMPLATES_DIR `{}` is not a folder; create it, or leave TEMPLATES_DIR unset to use the built-in templates",
                dir.display()
            );
        }

        Ok(Settings {
            database_url: or_default("DATABASE_URL", "newsletter.db"),
            bind_addr: or_default("BIND_ADDR", "127.0.0.1:8080"),
            base_url,
            smtp,
            outbox_dir: PathBuf::from(or_default("MAIL_OUTBOX_DIR", "outbox")),
            mail_from,
            // Empty counts as unset, so the feed's title can name the newsletter.
            newsletter_name: get_nonempty("NEWSLETTER_NAME")
                .unwrap_or_else(|| "Newsletter".to_owned()),
            newsletter_name_given: get_nonempty("NEWSLETTER_NAME").is_some(),
            site_url,
            site_logo_url,
            brand_color,
            templates_dir,
            admin_token,
            app_secret: app_secret.map(Secret),
            digest_cron,
            timezone,
            default_language,
            feed_url,
            feed_cron,
            feed_allow_private,
            send_concurrency,
            send_rate_per_sec,
            confirmation_ttl: Duration::from_secs(ttl_hours * 3600),
            signup_rate_per_minute: parse_number(
                get_nonempty("SIGNUP_RATE_PER_MINUTE"),
                "SIGNUP_RATE_PER_MINUTE",
                10,
            )?,
            confirm_mails_per_address_per_day,
            trusted_proxy,
            dkim,
            bounce_address,
            mail_postal_address,
            metrics_token: metrics_token.map(Secret),
            metrics_addr,
            log_format,
            retry: RetryPolicy::default(),
            delivery: DeliveryTuning {
                lease: Duration::from_secs(parse_number(
                    get_nonempty("DELIVERY_LEASE_SECONDS"),
                    "DELIVERY_LEASE_SECONDS",
                    DeliveryTuning::default().lease.as_secs(),
                )?)
                .max(Duration::from_secs(1)),
                ..DeliveryTuning::default()
            },
            shutdown_grace: Duration::from_secs(
                Some(parse_number::<u64>(
                    get_nonempty("SHUTDOWN_GRACE_SECONDS"),
                    "SHUTDOWN_GRACE_SECONDS",
                    20,
                )?)
                .filter(|&secs| secs <= 3600)
                .context("SHUTDOWN_GRACE_SECONDS must be at most 3600 (an hour)")?,
            ),
            delivery_retention: Duration::from_secs(
                parse_number::<u64>(
                    get_nonempty("DELIVERY_RETENTION_DAYS"),
                    "DELIVERY_RETENTION_DAYS",
                    90,
                )?
                .checked_mul(86_400)
                .filter(|&secs| secs <= 100 * 365 * 86_400)
                .context("DELIVERY_RETENTION_DAYS must be at most 36500 (a hundred years)")?,
            ),
            webhooks: WebhookSettings::from_lookup(get_nonempty)?,
        })
    }

    /// A stored time (UTC) as the clock on the wall shows it in `TIMEZONE`.
    pub fn local_time(&self, utc: chrono::NaiveDateTime) -> chrono::DateTime<chrono_tz::Tz> {
        use chrono::TimeZone;
        self.timezone.from_utc_datetime(&utc)
    }

    /// A stored time for people, in `TIMEZONE`: `26 Nov 2026, 18:47 UTC`,
    /// `26 Nov 2026, 23:47 Asia/Almaty`.
    pub fn human_time(&self, utc: chrono::NaiveDateTime) -> String {
        format!(
            "{} {}",
            self.local_time(utc).format("%-d %b %Y, %H:%M"),
            self.timezone.name()
        )
    }

    /// The host part of `BASE_URL`, used for Message-IDs and List-Id.
    pub fn public_host(&self) -> &str {
        self.base_url.host_str().unwrap_or("localhost")
    }

    /// An absolute URL under `BASE_URL` for `path` (which starts with `/`).
    pub fn public_url(&self, path: &str) -> String {
        format!("{}{}", self.base_url.as_str().trim_end_matches('/'), path)
    }
}

fn parse_number<T: std::str::FromStr>(
    raw: Option<String>,
    name: &str,
    default: T,
) -> anyhow::Result<T> {
    match raw {
        None => Ok(default),
        Some(raw) => raw
            .parse()
            .map_err(|_| anyhow::anyhow!("{name} must be a whole number, not `{raw}`")),
    }
}

fn parse_bool(raw: Option<String>, name: &str, default: bool) -> anyhow::Result<bool> {
    match raw.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "yes" | "1" | "on") => Ok(true),
        Some("false" | "no" | "0" | "off") => Ok(false),
        Some(_) => bail!(
            "{name} must be true or false, not `{}`",
            raw.unwrap_or_default()
        ),
    }
}

/// `https://…` for what looks like a web address typed without its scheme
/// (`astanatimes.example/x`, `news.example.com`), so an error can suggest it.
pub fn suggest_scheme(raw: &str) -> Option<String> {
    let raw = raw.trim();
    if raw.contains("://") || raw.starts_with('/') || raw.starts_with('.') {
        return None;
    }
    let host = raw.split(['/', '?', '#']).next().unwrap_or_default();
    let host_only = host.split(':').next().unwrap_or_default();
    // `feed.xml` is a file name (one that does not exist), not a host.
    let last_label = host_only.rsplit('.').next().unwrap_or_default();
    let file_like = ["xml", "rss", "atom", "csv", "txt", "json", "html", "htm"]
        .iter()
        .any(|ext| last_label.eq_ignore_ascii_case(ext));
    let looks_like_host = host_only.contains('.')
        && !file_like
        && !last_label.is_empty()
        && host_only
            .chars()
            .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
    let candidate = format!("https://{raw}");
    (looks_like_host && Url::parse(&candidate).is_ok()).then_some(candidate)
}

/// `DEFAULT_LANGUAGE`: `en`, `ru` or `kk`; unset means `en`.
fn parse_language(raw: Option<String>) -> anyhow::Result<crate::i18n::Language> {
    use crate::i18n::Language;
    let Some(raw) = raw else {
        return Ok(Language::En);
    };
    Language::ALL
        .into_iter()
        .find(|l| l.code() == raw.to_ascii_lowercase())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "DEFAULT_LANGUAGE `{raw}` is not a language this service speaks: use `en` (English), `ru` (Russian) or `kk` (Kazakh)"
            )
        })
}

/// `TIMEZONE`: an IANA name such as `Asia/Almaty`; unset means UTC.
fn parse_timezone(raw: Option<String>) -> anyhow::Result<chrono_tz::Tz> {
    let Some(raw) = raw else {
        return Ok(chrono_tz::UTC);
    };
    raw.parse::<chrono_tz::Tz>().map_err(|_| {
        let hint = chrono_tz::TZ_VARIANTS
            .iter()
            .find(|tz| tz.name().eq_ignore_ascii_case(&raw))
            .map(|tz| format!(" (did you mean `{}`?)", tz.name()))
            .unwrap_or_default();
        anyhow::anyhow!(
            "TIMEZONE `{raw}` is not an IANA time zone name such as `Asia/Almaty`, `Europe/Berlin` or `UTC`{hint}"
        )
    })
}

/// `SITE_URL`: the news site's own address (any path), http or https.
/// `BOUNCE_ADDRESS`, split where the tag goes: `local+TAG@domain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BounceAddress {
    /// The local part, lower-case, without a `+`.
    pub local: String,
    /// The domain, lower-case.
    pub domain: String,
}

impl BounceAddress {
    pub fn parse(raw: &str) -> anyhow::Result<BounceAddress> {
        let address: lettre::Address = raw.parse().map_err(|e| {
            anyhow::anyhow!(
                "BOUNCE_ADDRESS `{raw}` is not an address such as `bounces@news.example.org`: {e}"
            )
        })?;
        let local = address.user().to_ascii_lowercase();
        if local.contains('+') || local.starts_with('"') || !local.is_ascii() {
            bail!(
                "BOUNCE_ADDRESS `{raw}`: the local part must be plain ASCII without a `+` (the tag of each message is added after a `+`), e.g. `bounces@news.example.org`"
            );
        }
        if local.len() > 20 {
            bail!(
                "BOUNCE_ADDRESS `{raw}`: the local part is longer than 20 characters; with the tag it must fit in 64"
            );
        }
        Ok(BounceAddress {
            local,
            domain: address.domain().to_ascii_lowercase(),
        })
    }

    /// `local+tag@domain`.
    pub fn with_tag(&self, tag: &str) -> String {
        format!("{}+{tag}@{}", self.local, self.domain)
    }

    /// The tag of an address of the form `local+tag@domain` (case-insensitive).
    pub fn tag_of<'a>(&self, address: &'a str) -> Option<&'a str> {
        let (local, domain) = address.trim().rsplit_once('@')?;
        let (base, tag) = local.split_once('+')?;
        (base.eq_ignore_ascii_case(&self.local)
            && domain.eq_ignore_ascii_case(&self.domain)
            && !tag.is_empty())
        .then_some(tag)
    }
}

fn parse_site_url(raw: &str) -> anyhow::Result<Url> {
    if let Some(suggestion) = suggest_scheme(raw) {
        bail!(
            "SITE_URL `{raw}` is not a web address: it has no scheme; did you mean `{suggestion}`?"
        );
    }
    match Url::parse(raw) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() => Ok(url),
        _ => bail!("SITE_URL `{raw}` is not a web address such as https://astanatimes.example"),
    }
}

/// `SITE_LOGO_URL`: https only, as mail clients block images over http and pages served
/// over https would warn of mixed content.
fn parse_logo_url(raw: &str) -> anyhow::Result<Url> {
    match Url::parse(raw) {
        Ok(url) if url.scheme() == "https" && url.host_str().is_some() => Ok(url),
        _ => bail!(
            "SITE_LOGO_URL must be an https:// address of an image (mail clients block others), not `{raw}`"
        ),
    }
}

fn parse_base_url(raw: &str) -> anyhow::Result<Url> {
    if let Some(suggestion) = suggest_scheme(raw) {
        bail!("BASE_URL `{raw}` has no scheme; did you mean `{suggestion}`?");
    }
    let url = Url::parse(raw).with_context(|| {
        format!("BASE_URL `{raw}` is not a URL such as https://news.example.com")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        bail!("BASE_URL `{raw}` must be an http:// or https:// URL with a host");
    }
    if url.query().is_some() || url.fragment().is_some() {
        bail!("BASE_URL `{raw}` must not have a query or fragment");
    }
    if url.path() != "/" {
        bail!(
            "BASE_URL `{raw}` has a path; the service answers at the root of its host (use e.g. https://newsletter.example.com)"
        );
    }
    Ok(url)
}

/// Parses `smtp://user:pass@host:587?tls=required`, `smtps://host` or `smtp://127.0.0.1:1025`.
pub fn parse_smtp_url(raw: &str) -> anyhow::Result<SmtpSettings> {
    // Never echo the URL itself in errors: it may carry a password.
    if !raw.contains("://") {
        bail!(
            "SMTP_URL has no scheme; write it as smtp://host:587 (STARTTLS), smtps://host (TLS from the first byte, port 465) or smtp://127.0.0.1:1025 (a local relay)"
        );
    }
    let url = Url::parse(raw).map_err(|e| {
        anyhow::anyhow!(
            "SMTP_URL is not a URL ({e}); expected e.g. smtp://user:pass@host:587?tls=required"
        )
    })?;
    let host = url
        .host_str()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| anyhow::anyhow!("SMTP_URL has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let tls_param = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    let (tls, default_port) = match (url.scheme(), tls_param.as_deref()) {
        ("smtps", None) => (SmtpTls::Implicit, 465),
        ("smtps", Some(other)) => bail!("SMTP_URL: smtps:// always uses TLS; drop `tls={other}`"),
        ("smtp", None) => {
            // A local relay or test server is usually plain; anything else should
            // encrypt, and must when a password goes over it.
            if is_local_host(&host) {
                (SmtpTls::None, 25)
            } else if url.username().is_empty() {
                (SmtpTls::Opportunistic, 587)
            } else {
                (SmtpTls::Required, 587)
            }
        }
        ("smtp", Some("required")) => (SmtpTls::Required, 587),
        ("smtp", Some("opportunistic")) => (SmtpTls::Opportunistic, 587),
        ("smtp", Some("none")) => (SmtpTls::None, 25),
        ("smtp", Some(other)) => {
            bail!("SMTP_URL: tls must be required, opportunistic or none, not `{other}`")
        }
        (scheme, _) => bail!("SMTP_URL must start with smtp:// or smtps://, not {scheme}://"),
    };
    let credentials = if url.username().is_empty() {
        None
    } else {
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        Some((decode(url.username()), decode(url.password().unwrap_or(""))))
    };
    Ok(SmtpSettings {
        host,
        port: url.port().unwrap_or(default_port),
        tls,
        credentials,
    })
}

fn is_local_host(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// An unset cron setting takes its default, an empty one turns the job off, and one that
/// does not parse stops the start.
fn optional_cron(raw: Option<String>, default: &str, name: &str) -> anyhow::Result<Option<String>> {
    let expr = match raw {
        None => default.to_owned(),
        Some(v) if v.is_empty() => return Ok(None),
        Some(v) => v,
    };
    validate_cron(&expr).with_context(|| format!("{name} `{expr}` is not a valid cron schedule (seconds first, e.g. `0 0 7 * * *` for 07:00 daily in TIMEZONE)"))?;
    Ok(Some(expr))
}

/// Whether `expr` is a cron string in the DIGEST_CRON format (six fields, seconds first).
pub(crate) fn validate_cron(expr: &str) -> anyhow::Result<()> {
    if expr.split_whitespace().count() < 6 {
        bail!("it needs six fields: second minute hour day-of-month month day-of-week");
    }
    tokio_cron_scheduler::Job::new_async(expr, |_, _| Box::pin(async {}))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(())
}

/// When the cron string `expr` (the DIGEST_CRON format) runs next after `after`, in
/// `tz`, parsed as the scheduler parses it; `None` when it does not parse or never runs.
pub fn next_cron_run(
    expr: &str,
    tz: chrono_tz::Tz,
    after: chrono::DateTime<chrono::Utc>,
) -> Option<chrono::DateTime<chrono_tz::Tz>> {
    let cron = croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(expr)
        .ok()?;
    cron.find_next_occurrence(&after.with_timezone(&tz), false)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_run_of_a_cron_string_is_in_the_zone_it_is_asked_for() {
        use chrono::TimeZone;
        let almaty: chrono_tz::Tz = "Asia/Almaty".parse().unwrap();
        let after = chrono::Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        let next = next_cron_run("0 0 7 * * *", almaty, after).expect("a next run");
        assert_eq!(
            next.format("%Y-%m-%d %H:%M").to_string(),
            "2026-11-30 07:00"
        );
        assert_eq!(next_cron_run("not cron", almaty, after), None);
    }

    fn settings(pairs: &[(&str, &str)]) -> anyhow::Result<Settings> {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_map(&map)
    }

    #[test]
    fn webhooks_are_off_by_default_and_their_secrets_are_checked_at_start() {
        let off = settings(&[]).unwrap().webhooks;
        assert!(off.ses_topic_arn.is_none() && off.postmark.is_none());
        assert!(off.mailgun_signing_key.is_none() && off.sendgrid_public_key.is_none());

        let message = |pairs: &[(&str, &str)]| format!("{:#}", settings(pairs).unwrap_err());
        assert!(
            message(&[("SES_WEBHOOK_TOPIC_ARN", "ses-feedback")])
                .starts_with("SES_WEBHOOK_TOPIC_ARN must be")
        );
        assert!(
            message(&[("SES_SNS_CERT_HOST_OVERRIDE", "127.0.0.1:4000")])
                .starts_with("SES_SNS_CERT_HOST_OVERRIDE must be")
        );
        assert!(
            message(&[("POSTMARK_WEBHOOK_USER", "pm")])
                .starts_with("POSTMARK_WEBHOOK_USER and POSTMARK_WEBHOOK_PASSWORD go together")
        );
        assert!(
            message(&[
                ("POSTMARK_WEBHOOK_USER", "pm"),
                ("POSTMARK_WEBHOOK_PASSWORD", "short")
            ])
            .starts_with("POSTMARK_WEBHOOK_PASSWORD is shorter")
        );

        let on = settings(&[
            (
                "SES_WEBHOOK_TOPIC_ARN",
                "arn:aws:sns:eu-west-1:123456789012:ses-feedback",
            ),
            ("POSTMARK_WEBHOOK_USER", "pm"),
            ("POSTMARK_WEBHOOK_PASSWORD", "a-long-password-0123"),
            ("MAILGUN_WEBHOOK_SIGNING_KEY", "key-0123"),
        ])
        .unwrap();
        assert!(on.webhooks.ses_topic_arn.is_some() && on.webhooks.postmark.is_some());
        assert!(
            !format!("{on:?}").contains("a-long-password-0123"),
            "secrets stay out of Debug"
        );
        assert!(!format!("{on:?}").contains("key-0123"));
    }

    /// What dotenvy says of `contents`, explained.
    fn explained(contents: &str) -> String {
        match dotenvy::from_read_iter(contents.as_bytes()).find_map(Result::err) {
            Some(dotenvy::Error::LineParse(text, _)) => {
                unreadable_env_line(std::path::Path::new(".env"), contents, &text)
            }
            other => panic!("dotenvy read it: {other:?}"),
        }
    }

    #[test]
    fn an_unquoted_value_with_spaces_is_named_with_its_line_and_the_quoted_form() {
        let contents = "# DIGEST_CRON=0 0 7 * * *\nNEWSLETTER_NAME=\"Astana Times Daily\"\n\
                        DIGEST_CRON=0 0 7 * * *\n";
        assert_eq!(
            explained(contents),
            "`.env` line 3: the value of DIGEST_CRON cannot be read; a value with spaces, `<` \
             or `#` goes in double quotes: DIGEST_CRON=\"0 0 7 * * *\""
        );
        assert!(
            explained("MAIL_FROM=Newsletter <newsletter@localhost>\n")
                .starts_with("`.env` line 1: the value of MAIL_FROM cannot be read")
        );
        assert!(
            explained("export NEWSLETTER_NAME=Astana Times Daily\n").contains(
                "the value of NEWSLETTER_NAME cannot be read; a value with spaces, `<` or `#` goes \
             in double quotes: NEWSLETTER_NAME=\"Astana Times Daily\""
            )
        );
        assert!(explained("A=1\nB=\"unterminated\n").contains("line 2"));
    }

    #[test]
    fn the_example_env_file_reads_with_every_line_uncommented() {
        let uncommented: String = include_str!("../.env.example")
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(rest)
                    if rest.split_once('=').is_some_and(|(name, _)| {
                        !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                    }) =>
                {
                    format!("{rest}\n")
                }
                _ => format!("{line}\n"),
            })
            .collect();
        let pairs: HashMap<String, String> = dotenvy::from_read_iter(uncommented.as_bytes())
            .collect::<Result<_, _>>()
            .expect("every example line reads");
        assert!(pairs.len() > 20, "{pairs:?}");
        assert_eq!(pairs["DIGEST_CRON"], "0 0 7 * * *");
        assert_eq!(pairs["MAIL_FROM"], "Newsletter <newsletter@localhost>");
        Settings::from_map(&pairs).expect("the example values are valid settings");
    }

    #[test]
    fn defaults_need_no_setting() {
        let s = settings(&[]).expect("defaults are valid");
        assert_eq!(s.database_url, "newsletter.db");
        assert_eq!(s.bind_addr, "127.0.0.1:8080");
        assert!(s.smtp.is_none());
        assert_eq!(s.digest_cron.as_deref(), Some("0 0 7 * * *"));
        assert_eq!(s.send_concurrency, 8);
        assert_eq!(s.confirmation_ttl, Duration::from_secs(48 * 3600));
    }

    #[test]
    fn metrics_and_log_settings_are_checked_at_start() {
        let s = settings(&[]).unwrap();
        assert!(s.metrics_token.is_none() && s.metrics_addr.is_none());
        assert_eq!(s.log_format, LogFormat::Text);
        let s = settings(&[
            ("METRICS_TOKEN", "metrics-token-0123456789abcdef"),
            ("METRICS_ADDR", "127.0.0.1:9464"),
            ("LOG_FORMAT", "JSON"),
        ])
        .unwrap();
        assert_eq!(s.metrics_addr, Some("127.0.0.1:9464".parse().unwrap()));
        assert_eq!(s.log_format, LogFormat::Json);
        assert!(!format!("{s:?}").contains("metrics-token-0123456789abcdef"));
        let short = settings(&[("METRICS_TOKEN", "short")]).unwrap_err();
        assert!(format!("{short:#}").starts_with("METRICS_TOKEN is shorter than 16"));
        let addr = settings(&[("METRICS_ADDR", "9464")]).unwrap_err();
        assert!(format!("{addr:#}").contains("METRICS_ADDR `9464` is not an address and port"));
        let format = settings(&[("LOG_FORMAT", "logfmt")]).unwrap_err();
        assert_eq!(
            format!("{format:#}"),
            "LOG_FORMAT must be `text` or `json`, not `logfmt`"
        );
    }

    #[test]
    fn shutdown_grace_and_retention_have_defaults_and_refuse_what_is_not_a_count() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.shutdown_grace, Duration::from_secs(20));
        assert_eq!(s.delivery_retention, Duration::from_secs(90 * 86_400));
        let s = settings(&[
            ("SHUTDOWN_GRACE_SECONDS", "5"),
            ("DELIVERY_RETENTION_DAYS", "0"),
        ])
        .unwrap();
        assert_eq!(s.shutdown_grace, Duration::from_secs(5));
        assert_eq!(s.delivery_retention, Duration::ZERO);
        for (name, value) in [
            ("SHUTDOWN_GRACE_SECONDS", "-1"),
            ("SHUTDOWN_GRACE_SECONDS", "soon"),
            ("SHUTDOWN_GRACE_SECONDS", "18446744073709551615"),
            ("DELIVERY_RETENTION_DAYS", "90d"),
            ("DELIVERY_RETENTION_DAYS", "99999999999999"),
        ] {
            let err = settings(&[(name, value)]).unwrap_err();
            assert!(format!("{err:#}").contains(name), "{name}={value}: {err:#}");
        }
    }

    #[test]
    fn a_bad_cron_string_stops_the_start_naming_the_setting() {
        let err = settings(&[("DIGEST_CRON", "every morning")]).unwrap_err();
        assert!(format!("{err:#}").contains("DIGEST_CRON"), "{err:#}");
    }

    #[test]
    fn an_empty_cron_turns_the_job_off() {
        assert_eq!(settings(&[("FEED_CRON", "")]).unwrap().feed_cron, None);
    }

    #[test]
    fn smtp_urls_parse_with_their_tls_modes() {
        let s = parse_smtp_url("smtp://user%40x:p%3Ass@mail.example.com:587?tls=required").unwrap();
        assert_eq!(
            (s.host.as_str(), s.port, s.tls),
            ("mail.example.com", 587, SmtpTls::Required)
        );
        assert_eq!(s.credentials, Some(("user@x".into(), "p:ss".into())));
        assert_eq!(
            parse_smtp_url("smtps://mail.example.com").unwrap().port,
            465
        );
        assert_eq!(
            parse_smtp_url("smtp://127.0.0.1:1025").unwrap().tls,
            SmtpTls::None
        );
        assert_eq!(
            parse_smtp_url("smtp://mail.example.com").unwrap().tls,
            SmtpTls::Opportunistic
        );
        assert_eq!(
            parse_smtp_url("smtp://user:pw@mail.example.com")
                .unwrap()
                .tls,
            SmtpTls::Required,
            "a password never goes out unencrypted by default"
        );
        assert!(parse_smtp_url("http://mail.example.com").is_err());
        let err = parse_smtp_url("user:hunter2@mail.example.com:587").unwrap_err();
        assert!(format!("{err:#}").starts_with("SMTP_URL has no scheme; write it as smtp://"));
        assert!(!format!("{err:#}").contains("hunter2"));
        assert!(parse_smtp_url("smtp://mail.example.com?tls=maybe").is_err());
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let s = settings(&[
            ("ADMIN_TOKEN", "admin-token-0123456789abcdef"),
            ("APP_SECRET", "app-secret-0123456789abcdef0123456789"),
            ("SMTP_URL", "smtp://user:hunter2@mail.example.com"),
        ])
        .unwrap();
        let shown = format!("{s:?}");
        for secret in [
            "admin-token-0123456789abcdef",
            "app-secret-0123456789",
            "hunter2",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    #[test]
    fn errors_about_the_smtp_url_never_echo_the_password() {
        let err = settings(&[("SMTP_URL", "smtp://u:hunter2@h?tls=sometimes")]).unwrap_err();
        assert!(!format!("{err:#}").contains("hunter2"));
    }

    #[test]
    fn a_base_url_must_be_http_with_a_host() {
        assert!(settings(&[("BASE_URL", "news.example.com")]).is_err());
        assert!(settings(&[("BASE_URL", "ftp://news.example.com")]).is_err());
        assert!(settings(&[("BASE_URL", "https://news.example.com")]).is_ok());
        assert!(settings(&[("BASE_URL", "https://news.example.com/")]).is_ok());
        assert!(
            settings(&[("BASE_URL", "https://news.example.com/letters")]).is_err(),
            "pages link from the root, so a path would break them"
        );
    }

    #[test]
    fn a_url_without_its_scheme_is_refused_with_the_https_form_suggested() {
        let err = settings(&[("BASE_URL", "news.example.com")]).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "BASE_URL `news.example.com` has no scheme; did you mean `https://news.example.com`?"
        );
        let err = settings(&[("FEED_URL", "astanatimes.example/rss")]).unwrap_err();
        assert!(
            format!("{err:#}").contains("did you mean `https://astanatimes.example/rss`?"),
            "{err:#}"
        );
        let err = settings(&[("SITE_URL", "astanatimes.example")]).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "SITE_URL `astanatimes.example` is not a web address: it has no scheme; did you mean \
             `https://astanatimes.example`?"
        );
        assert_eq!(suggest_scheme("feed.xml"), None);
        assert_eq!(suggest_scheme("./feed.xml"), None);
        assert_eq!(suggest_scheme("not a url"), None);
        assert_eq!(suggest_scheme("https://x.example"), None);
    }

    #[test]
    fn default_language_is_one_of_ours_and_defaults_to_english() {
        use crate::i18n::Language;
        assert_eq!(settings(&[]).unwrap().default_language, Language::En);
        assert_eq!(
            settings(&[("DEFAULT_LANGUAGE", "kk")])
                .unwrap()
                .default_language,
            Language::Kk
        );
        let err = settings(&[("DEFAULT_LANGUAGE", "de")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "DEFAULT_LANGUAGE `de` is not a language this service speaks: use `en` (English), `ru` (Russian) or `kk` (Kazakh)"
        );
    }

    #[test]
    fn timezone_is_an_iana_name_and_defaults_to_utc() {
        assert_eq!(settings(&[]).unwrap().timezone, chrono_tz::UTC);
        assert_eq!(
            settings(&[("TIMEZONE", "Asia/Almaty")]).unwrap().timezone,
            chrono_tz::Asia::Almaty
        );
        let err = settings(&[("TIMEZONE", "asia/almaty")]).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "TIMEZONE `asia/almaty` is not an IANA time zone name such as `Asia/Almaty`, \
             `Europe/Berlin` or `UTC` (did you mean `Asia/Almaty`?)"
        );
        assert!(settings(&[("TIMEZONE", "Almaty")]).is_err());
    }

    #[test]
    fn dkim_settings_go_together() {
        assert!(settings(&[("DKIM_DOMAIN", "news.example.com")]).is_err());
        let s = settings(&[
            ("DKIM_DOMAIN", "news.example.com"),
            ("DKIM_SELECTOR", "mail"),
            ("DKIM_PRIVATE_KEY_FILE", "/etc/dkim.pem"),
        ])
        .unwrap();
        assert_eq!(s.dkim.unwrap().selector, "mail");
    }

    #[test]
    fn feed_allow_private_is_off_unless_set_to_a_boolean() {
        assert!(!settings(&[]).unwrap().feed_allow_private);
        assert!(
            settings(&[("FEED_ALLOW_PRIVATE", "true")])
                .unwrap()
                .feed_allow_private
        );
        assert!(
            !settings(&[("FEED_ALLOW_PRIVATE", "false")])
                .unwrap()
                .feed_allow_private
        );
        let err = settings(&[("FEED_ALLOW_PRIVATE", "maybe")]).unwrap_err();
        assert_eq!(
            format!("{err:#}"),
            "FEED_ALLOW_PRIVATE must be true or false, not `maybe`"
        );
    }

    #[test]
    fn brand_colours_are_hex_and_anything_else_is_refused_naming_the_setting() {
        assert_eq!(settings(&[]).unwrap().brand_color.as_str(), "#0b5cad");
        let s = settings(&[("BRAND_COLOR", "#C03")]).unwrap();
        assert_eq!(s.brand_color.as_str(), "#c03");
        assert_eq!(s.brand_color.darker(), "#a30028");
        for bad in ["red", "#12345", "c03", "#ggg", "#0b5cad; x: y"] {
            let err = settings(&[("BRAND_COLOR", bad)]).unwrap_err();
            assert!(
                format!("{err:#}").starts_with("BRAND_COLOR must be a hex colour"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_logo_must_be_https_and_the_site_a_web_address() {
        assert!(settings(&[("SITE_LOGO_URL", "http://astanatimes.example/logo.png")]).is_err());
        assert!(settings(&[("SITE_LOGO_URL", "https://astanatimes.example/logo.png")]).is_ok());
        assert!(settings(&[("SITE_URL", "astanatimes.example")]).is_err());
        assert!(settings(&[("SITE_URL", "https://astanatimes.example/news/")]).is_ok());
    }

    #[test]
    fn retry_delays_double_up_to_the_cap() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_after(1), Duration::from_secs(5));
        assert_eq!(p.delay_after(2), Duration::from_secs(10));
        assert_eq!(p.delay_after(30), Duration::from_secs(600));
    }

    #[test]
    fn bounce_address_takes_a_plain_mailbox_and_finds_its_tags() {
        let bounce = settings(&[("BOUNCE_ADDRESS", "Bounces@News.Example.org")])
            .unwrap()
            .bounce_address
            .expect("set");
        assert_eq!(bounce.with_tag("d1-ab"), "bounces+d1-ab@news.example.org");
        assert_eq!(
            bounce.tag_of("BOUNCES+d1-ab@news.example.ORG"),
            Some("d1-ab")
        );
        for other in [
            "bounces@news.example.org",
            "bounces+@news.example.org",
            "other+d1-ab@news.example.org",
            "bounces+d1-ab@example.org",
        ] {
            assert_eq!(bounce.tag_of(other), None, "{other}");
        }
        for bad in [
            "not an address",
            "bounces+x@news.example.org",
            "a-very-long-local-part-indeed@news.example.org",
        ] {
            let e = settings(&[("BOUNCE_ADDRESS", bad)]).unwrap_err();
            assert!(format!("{e:#}").contains("BOUNCE_ADDRESS"), "{bad}: {e:#}");
        }
        assert!(settings(&[]).unwrap().bounce_address.is_none());
    }
}
