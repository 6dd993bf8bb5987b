//! The CLI verbs that act on content: they call the same jobs as the API and the
//! schedule, and print for a person at a terminal.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::config::Settings;
use crate::db::{self, articles, deliveries, digests, newsletters};
use crate::digest::delivery::{DigestCache, deliver_due};
use crate::digest::{Composed, compose_for};
use crate::domain::EmailAddress;
use crate::domain::{ArticleInput, NewArticle};
use crate::feed;
use crate::mail::{Email, Mailer};
use crate::shutdown::{StopSignal, StopSignals};
use crate::state::AppState;
use tokio::sync::watch;

/// `newsletter send-digest`: composes a digest of everything new, delivers it while
/// showing progress, and exits non-zero naming the readers it could not reach.
pub async fn send_digest(state: AppState, newsletter: Option<String>) -> anyhow::Result<ExitCode> {
    let slug = newsletter.clone();
    let Some(newsletter) = state
        .db
        .run(move |conn| newsletters::sendable(conn, slug.as_deref()))
        .await?
    else {
        eprintln!(
            "--newsletter: there is no newsletter `{}` to send (or it is archived); `GET /api/newsletters` lists them.",
            newsletter.unwrap_or_default()
        );
        return Ok(ExitCode::from(2));
    };
    // Before any work: a SIGTERM from here on stops the send cleanly.
    let stop = StopWatch::start(&state)?;
    let created = match compose_for(&state, newsletter.id, None).await? {
        Composed::Created(created) => created,
        Composed::NothingNew => {
            eprintln!("No new articles since the last digest: nothing to send.");
            return Ok(ExitCode::SUCCESS);
        }
        Composed::NoReaders { articles } => {
            eprintln!("Not sent: {}.", crate::digest::no_readers(articles));
            return Ok(ExitCode::from(2));
        }
    };
    let id = created.id;
    eprintln!(
        "Digest {id}: {} to {}.",
        counted(created.articles, "article"),
        counted(created.recipients, "reader")
    );
    let mut cache = DigestCache::default();
    let mut progress_line = ProgressLine::new(created.recipients as u64);
    loop {
        let handled = tokio::select! {
            handled = deliver_due(&state, &mut cache, Some(&stop.requested)) => Some(handled?),
            () = stop.grace_over() => None,
        };
        if let Some(signal) = stop.signal() {
            return stopped_sending(&state, id, signal, handled.is_some()).await;
        }
        let handled = handled.unwrap_or(0);
        let progress = state
            .db
            .run(move |conn| digests::progress(conn, id))
            .await?;
        let done = progress.pending == 0;
        progress_line.show(&progress, done);
        if done {
            break;
        }
        if handled == 0 {
            // Only retries remain, each waiting for its time.
            let mut requested = stop.requested.clone();
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                _ = requested.changed() => {}
            }
        }
    }
    let failures = state
        .db
        .run(move |conn| digests::failures(conn, id))
        .await?;
    if failures.is_empty() {
        eprintln!("Every reader got digest {id}.");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{} could not be reached:",
        counted(failures.len(), "reader")
    );
    for failure in &failures {
        eprintln!(
            "  {}: {}",
            failure.email,
            failure.reply.as_deref().unwrap_or("no reply recorded")
        );
    }
    Ok(ExitCode::FAILURE)
}

/// A stop signal turned into a flag the delivery loop checks, and the grace period
/// the signal starts.
struct StopWatch {
    requested: watch::Receiver<bool>,
    signal: std::sync::Arc<std::sync::Mutex<Option<StopSignal>>>,
    grace: Duration,
}

impl StopWatch {
    fn start(state: &AppState) -> anyhow::Result<StopWatch> {
        let mut signals = StopSignals::listen()?;
        let (request, requested) = watch::channel(false);
        let signal = std::sync::Arc::new(std::sync::Mutex::new(None));
        let (seen, shutting_down) = (signal.clone(), state.shutting_down.clone());
        tokio::spawn(async move {
            let stop = signals.recv().await;
            *seen
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(stop);
            shutting_down.store(true, std::sync::atomic::Ordering::SeqCst);
            eprintln!(
                "{}: stopping; the messages in flight finish, the rest are handed back.",
                stop.name()
            );
            let _ = request.send(true);
            // Kept open, so the receivers do not see the sender go.
            std::future::pending::<()>().await;
        });
        Ok(StopWatch {
            requested,
            signal,
            grace: crate::shutdown::time_for_work(state.settings.shutdown_grace),
        })
    }

    /// The signal that asked to stop, once one has.
    fn signal(&self) -> Option<StopSignal> {
        *self
            .signal
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Ends `SHUTDOWN_GRACE_SECONDS` after a stop signal; never without one.
    async fn grace_over(&self) {
        let mut requested = self.requested.clone();
        if requested.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
        tokio::time::sleep(self.grace).await;
    }
}

/// After a stop signal: hands back the deliveries this process still holds, so the
/// next `serve` or `worker` (or one running now) sends them at once, and says where the
/// digest stands. When the messages in flight did not finish within the grace period
/// (`in_flight_settled` false) they may yet reach their readers: everything then keeps
/// its lease until it lapses, so that none of them goes twice.
async fn stopped_sending(
    state: &AppState,
    id: i64,
    signal: StopSignal,
    in_flight_settled: bool,
) -> anyhow::Result<ExitCode> {
    if in_flight_settled {
        let worker = state.worker_id.clone();
        state
            .db
            .write(move |conn| deliveries::release(conn, &worker))
            .await?;
    } else {
        eprintln!(
            "The messages in flight did not finish within SHUTDOWN_GRACE_SECONDS; what this process held is taken up again once its lease lapses."
        );
    }
    let progress = state
        .db
        .run(move |conn| digests::progress(conn, id))
        .await?;
    eprintln!(
        "Stopped by {}: digest {id} went to {} of {}; the {} left go out with the next `newsletter serve` or `newsletter worker`.",
        signal.name(),
        progress.sent,
        counted(progress.recipients, "reader"),
        progress.pending
    );
    Ok(ExitCode::from(signal.exit_code()))
}

/// `newsletter add-article`.
pub async fn add_article(state: AppState, input: ArticleInput) -> anyhow::Result<ExitCode> {
    let article = match NewArticle::parse(&input) {
        Ok(article) => article,
        Err(errors) => {
            for (field, error) in errors {
                // The option is repeated once per section.
                let option = match field {
                    "sections" => "section".to_owned(),
                    other => other.replace('_', "-"),
                };
                eprintln!("--{option}: {error}");
            }
            return Ok(ExitCode::from(2));
        }
    };
    let (id, created) = state
        .db
        .run(move |conn| articles::add(conn, &article, db::now()))
        .await?;
    if created {
        eprintln!("Added article {id}; it goes out in the next digest.");
    } else {
        eprintln!("An article with this url is already known (id {id}); nothing changed.");
    }
    Ok(ExitCode::SUCCESS)
}

/// `newsletter import-feed PATH_OR_URL`.
pub async fn import_feed(state: AppState, source: String) -> anyhow::Result<ExitCode> {
    let report = feed::import_feed(&state, &source).await?;
    if report.not_modified {
        eprintln!("The feed has not changed since the last import.");
        return Ok(ExitCode::SUCCESS);
    }
    for reason in &report.skipped {
        eprintln!("skipped {reason}");
    }
    eprintln!(
        "Imported {}; {} already known; {} skipped.",
        counted(report.new, "new article"),
        report.known,
        report.skipped.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `newsletter check-smtp [ADDRESS]`: opens one session with the SMTP server as sending
/// does (TLS and login included), prints what it offers, and sends a test message to
/// ADDRESS. Exit 0 when all went well, 1 when the server could not be reached or used
/// or refused the message, 2 when there is nothing to check or ADDRESS is no address.
pub async fn check_smtp(settings: Settings, address: Option<String>) -> anyhow::Result<ExitCode> {
    let recipient = match address.as_deref().map(EmailAddress::parse).transpose() {
        Ok(recipient) => recipient,
        Err(why) => {
            eprintln!(
                "`{}` is not an email address: {why}",
                address.unwrap_or_default()
            );
            return Ok(ExitCode::from(2));
        }
    };
    let Some(smtp) = &settings.smtp else {
        eprintln!(
            "SMTP_URL is not set: mail is not sent but written as .eml files to `{}`. Set SMTP_URL (e.g. smtp://user:pass@mail.example.com:587) to send it.",
            settings.outbox_dir.display()
        );
        return Ok(ExitCode::from(2));
    };
    let login = match &smtp.credentials {
        Some((user, _)) => format!(", logging in as `{user}`"),
        None => String::new(),
    };
    eprintln!(
        "SMTP_URL: {}:{}, {}{login}",
        smtp.host,
        smtp.port,
        smtp.tls.describe()
    );
    let mailer = Mailer::from_settings(&settings)?;
    // With SMTP_URL set the mailer speaks SMTP, so there is always a probe.
    let Some(probed) = mailer.probe(Duration::from_secs(30)).await else {
        return Ok(ExitCode::from(2));
    };
    let report = match probed {
        Ok(report) => report,
        Err(failure) => {
            eprintln!("error: {failure}");
            return Ok(ExitCode::FAILURE);
        }
    };
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    eprintln!("Connected to {} ({}).", report.place, report.name);
    eprintln!("  encryption: {}", report.encryption);
    eprintln!("  8BITMIME:   {}", yes_no(report.eight_bit_mime));
    eprintln!("  SMTPUTF8:   {}", yes_no(report.smtp_utf8));
    eprintln!(
        "  SIZE:       {}",
        match report.size_limit {
            None => "not stated".to_owned(),
            Some(0) => "offered, no limit stated".to_owned(),
            Some(n) => crate::limits::human_bytes(n as usize),
        }
    );
    eprintln!(
        "  AUTH:       {}",
        if report.auth.is_empty() {
            "none offered".to_owned()
        } else {
            report.auth.join(" ")
        }
    );
    eprintln!(
        "  login:      {}",
        if report.logged_in {
            "accepted"
        } else {
            "not tried (SMTP_URL has no user)"
        }
    );
    let Some(recipient) = recipient else {
        eprintln!("The SMTP server answers. Give an address to send it a test message.");
        return Ok(ExitCode::SUCCESS);
    };
    let email = check_message(&settings, &recipient)?;
    match mailer.send(&email).await {
        Ok(()) => {
            eprintln!(
                "Sent a test message to {recipient} (Message-ID {}); the SMTP server took it.",
                email.message_id
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("error: the test message to {recipient} was not taken: {e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The test message of `check-smtp`.
fn check_message(settings: &Settings, to: &EmailAddress) -> anyhow::Result<Email> {
    let name = &settings.newsletter_name;
    let text = format!(
        "This is a test message from {name}, sent by `newsletter check-smtp`.\n\
         If you can read it, mail from {} reaches this mailbox.\n",
        settings.mail_from
    );
    let html = format!(
        "<p>This is a test message from {}, sent by <code>newsletter check-smtp</code>.</p>",
        tera::escape_html(name)
    );
    let nonce: u64 = rand::random();
    Ok(Email {
        to: lettre::message::Mailbox::new(None, to.as_str().parse()?),
        subject: format!("{name}: SMTP test message"),
        text,
        html,
        message_id: format!("<check-smtp.{nonce:016x}@{}>", settings.public_host()),
        headers: Vec::new(),
        return_path: None,
    })
}

/// The exit status that tells a mail server to keep a message and try again later
/// (sysexits' EX_TEMPFAIL): a bounce that could not be stored is not lost.
pub const EX_TEMPFAIL: u8 = 75;

/// `newsletter ingest-mail`: reads one message on standard input and applies it. Exit 0
/// for anything understood or ignored (so the mail server does not bounce the bounce),
/// [`EX_TEMPFAIL`] when it could not be stored.
pub async fn ingest_mail(settings: Settings) -> anyhow::Result<ExitCode> {
    let raw = match read_stdin_bounded(crate::mail::inbound::MAX_MESSAGE_BYTES) {
        Ok(Some(raw)) => raw,
        Ok(None) => {
            eprintln!(
                "ignored: larger than {} MB",
                crate::mail::inbound::MAX_MESSAGE_BYTES / (1024 * 1024)
            );
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => {
            eprintln!("error: could not read the message on standard input: {e}");
            return Ok(ExitCode::from(EX_TEMPFAIL));
        }
    };
    let stored = async {
        let state = AppState::build(settings)?;
        crate::mail::inbound::ingest(&state, raw).await
    };
    match stored.await {
        Ok(ingested) => {
            eprintln!("{}", ingested.describe());
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!(
                "error: the message could not be stored (the mail server will try again): {e:#}"
            );
            Ok(ExitCode::from(EX_TEMPFAIL))
        }
    }
}

/// Standard input, or `None` when it holds more than `limit` bytes (the rest is read
/// and dropped, so the writer is not cut off).
fn read_stdin_bounded(limit: usize) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let mut stdin = std::io::stdin().lock();
    let mut raw = Vec::new();
    (&mut stdin).take(limit as u64 + 1).read_to_end(&mut raw)?;
    if raw.len() > limit {
        std::io::copy(&mut stdin, &mut std::io::sink())?;
        return Ok(None);
    }
    Ok(Some(raw))
}

/// `1 subscriber`, `2 subscribers`: a count with its noun, for a person.
pub fn counted(n: impl std::fmt::Display, noun: &str) -> String {
    let n = n.to_string();
    let plural = if n == "1" { "" } else { "s" };
    format!("{n} {noun}{plural}")
}

/// Progress of a send: an indicatif bar (rate, ETA) on a terminal; otherwise (logs,
/// CI, a pipe) a plain line each time another tenth of the readers is done, and one
/// at the end.
struct ProgressLine {
    bar: ProgressBar,
    terminal: bool,
    /// The last tenth a plain line was written for.
    tenth_shown: u64,
    /// Whether the plain line for the end has been written.
    finished: bool,
}

impl ProgressLine {
    fn new(recipients: u64) -> ProgressLine {
        let terminal = std::io::stderr().is_terminal();
        // Off a terminal the bar is hidden and only counts: its rate and ETA go into
        // the plain lines.
        let target = match terminal {
            true => ProgressDrawTarget::stderr(),
            false => ProgressDrawTarget::hidden(),
        };
        let bar = ProgressBar::with_draw_target(Some(recipients), target);
        // Short enough for an 80-column terminal; indicatif's own `per_sec` shows four
        // decimals.
        if let Ok(style) = ProgressStyle::with_template(
            "[{bar:24}] {percent:>3}%  sent {pos}/{len}  {msg}  {rate}  ETA {eta}",
        ) {
            bar.set_style(
                style
                    .with_key(
                        "rate",
                        |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                            let _ = write!(w, "{:.0}/s", state.per_sec());
                        },
                    )
                    .progress_chars("#>."),
            );
        }
        ProgressLine {
            bar,
            terminal,
            tenth_shown: 0,
            finished: false,
        }
    }

    fn show(&mut self, p: &digests::Progress, last: bool) {
        let done = (p.sent + p.failed + p.skipped).max(0) as u64;
        self.bar.set_position(done);
        self.bar.set_message(format!("failed {}", p.failed));
        if self.terminal {
            if last {
                self.bar.finish();
            }
            return;
        }
        let recipients = p.recipients.max(0) as u64;
        // An empty list is all done.
        let percent = (done * 100).checked_div(recipients).unwrap_or(100);
        let tenth = percent / 10;
        // A line for each further tenth, and the last one once.
        let said_the_end = !last || self.finished;
        if tenth <= self.tenth_shown && said_the_end {
            return;
        }
        self.tenth_shown = tenth;
        self.finished = last || tenth >= 10;
        let eta = match last {
            true => String::new(),
            false => format!("  about {} s left", self.bar.eta().as_secs()),
        };
        let line = format!(
            "{percent:>3}%  sent {}/{}  failed {}  pending {}  {:.0}/s{eta}",
            p.sent,
            p.recipients,
            p.failed,
            p.pending,
            self.bar.per_sec()
        );
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    }
}
