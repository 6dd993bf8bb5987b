//! The CLI verbs that act on content: they call the same jobs as the API and the
//! schedule, and print for a person at a terminal.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::db::{self, articles, digests};
use crate::digest::delivery::{DigestCache, deliver_due};
use crate::digest::{Composed, compose_digest};
use crate::domain::{ArticleInput, NewArticle};
use crate::feed;
use crate::state::AppState;

/// `newsletter send-digest`: composes a digest of everything new, delivers it while
/// showing progress, and exits non-zero naming the readers it could not reach.
pub async fn send_digest(state: AppState) -> anyhow::Result<ExitCode> {
    let created = match compose_digest(&state).await? {
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
    let mut progress_line = ProgressLine::new();
    loop {
        let handled = deliver_due(&state, &mut cache, None).await?;
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
            tokio::time::sleep(Duration::from_millis(200)).await;
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

/// `newsletter add-article`.
pub async fn add_article(state: AppState, input: ArticleInput) -> anyhow::Result<ExitCode> {
    let article = match NewArticle::parse(&input) {
        Ok(article) => article,
        Err(errors) => {
            for (field, error) in errors {
                eprintln!("--{}: {error}", field.replace('_', "-"));
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

/// `1 subscriber`, `2 subscribers`: a count with its noun, for a person.
pub fn counted(n: impl std::fmt::Display, noun: &str) -> String {
    let n = n.to_string();
    let plural = if n == "1" { "" } else { "s" };
    format!("{n} {noun}{plural}")
}

/// A progress bar on a terminal; a line every few seconds otherwise (logs, CI).
struct ProgressLine {
    terminal: bool,
    last: Option<Instant>,
}

impl ProgressLine {
    fn new() -> ProgressLine {
        ProgressLine {
            terminal: std::io::stderr().is_terminal(),
            last: None,
        }
    }

    fn show(&mut self, p: &digests::Progress, last: bool) {
        let every = if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(5)
        };
        if !last && self.last.is_some_and(|at| at.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let done = p.sent + p.failed + p.skipped;
        let share = if p.recipients == 0 {
            1.0
        } else {
            done as f64 / p.recipients as f64
        };
        let filled = (share * 30.0).round() as usize;
        let line = format!(
            "[{}{}] {:>3}%  sent {}/{}  failed {}  pending {}",
            "#".repeat(filled),
            ".".repeat(30 - filled.min(30)),
            (share * 100.0).round(),
            p.sent,
            p.recipients,
            p.failed,
            p.pending
        );
        let mut err = std::io::stderr().lock();
        if self.terminal {
            let _ = write!(err, "\r{line}");
            if last {
                let _ = writeln!(err);
            }
        } else {
            let _ = writeln!(err, "{line}");
        }
    }
}
