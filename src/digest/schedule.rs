//! The schedule: `DIGEST_CRON` composes a digest, `FEED_CRON` polls `FEED_URL`, both in
//! `TIMEZONE`. The jobs are the same plain async functions the API, the CLI and the
//! tests call.

use anyhow::Context;
use chrono::{DateTime, Utc};
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::config::Settings;
use crate::digest::{Composed, compose_digest};
use crate::feed;
use crate::state::AppState;

/// A scheduled job as the start-up summary tells it.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    /// What it does, e.g. `digest`.
    pub what: &'static str,
    pub cron: String,
    /// When the scheduler will run it next, as the scheduler itself computed it.
    pub next_run: Option<DateTime<Utc>>,
}

/// The running scheduler (none when no job is on) and what it runs.
pub struct Schedule {
    pub scheduler: Option<JobScheduler>,
    pub jobs: Vec<PlannedJob>,
}

/// Starts the scheduler with the jobs the settings ask for, each in `TIMEZONE`.
pub async fn start(state: &AppState) -> anyhow::Result<Schedule> {
    let settings = &state.settings;
    let tz = settings.timezone;
    let feed_job = settings.feed_url.clone().zip(settings.feed_cron.clone());
    if settings.digest_cron.is_none() && feed_job.is_none() {
        return Ok(Schedule {
            scheduler: None,
            jobs: Vec::new(),
        });
    }
    let mut scheduler = JobScheduler::new()
        .await
        .context("could not create the job scheduler")?;
    let mut added = Vec::new();
    if let Some(cron) = &settings.digest_cron {
        let state = state.clone();
        let job = Job::new_async_tz(cron.as_str(), tz, move |_, _| {
            let state = state.clone();
            Box::pin(async move { run_digest_job(&state).await })
        })
        .with_context(|| format!("DIGEST_CRON `{cron}` does not parse"))?;
        let id = scheduler
            .add(job)
            .await
            .context("could not schedule the digest job")?;
        added.push(("digest", cron.clone(), id));
    }
    if let Some((url, cron)) = feed_job {
        let state = state.clone();
        let job = Job::new_async_tz(cron.as_str(), tz, move |_, _| {
            let state = state.clone();
            let url = url.clone();
            Box::pin(async move { run_feed_job(&state, &url).await })
        })
        .with_context(|| format!("FEED_CRON `{cron}` does not parse"))?;
        let id = scheduler
            .add(job)
            .await
            .context("could not schedule the feed job")?;
        added.push(("feed polling", cron, id));
    }
    let mut jobs = Vec::new();
    for (what, cron, id) in added {
        let next_run = scheduler
            .next_tick_for_job(id)
            .await
            .with_context(|| format!("could not read when the {what} job runs next"))?;
        jobs.push(PlannedJob {
            what,
            cron,
            next_run,
        });
    }
    scheduler
        .start()
        .await
        .context("could not start the job scheduler")?;
    Ok(Schedule {
        scheduler: Some(scheduler),
        jobs,
    })
}

/// The start-up summary's lines about the schedule: each job with its next run in
/// `TIMEZONE` (and in UTC beside it, for comparing with logs), and the jobs that are
/// off, with why.
pub fn describe(settings: &Settings, jobs: &[PlannedJob]) -> Vec<String> {
    let tz = settings.timezone;
    let mut lines: Vec<String> = jobs
        .iter()
        .map(|job| {
            let next = match job.next_run {
                Some(at) => {
                    let local = at.with_timezone(&tz);
                    if tz == chrono_tz::UTC {
                        format!("next at {}", local.format("%a %-d %b %Y %H:%M UTC"))
                    } else {
                        format!(
                            "next at {} {} ({} UTC)",
                            local.format("%a %-d %b %Y %H:%M"),
                            tz.name(),
                            at.format("%H:%M")
                        )
                    }
                }
                None => "no future run".to_owned(),
            };
            format!("{} job: `{}` in {}; {next}", job.what, job.cron, tz.name())
        })
        .collect();
    if settings.digest_cron.is_none() {
        lines.push(
            "DIGEST_CRON is empty: no digest goes out on its own; send one with `newsletter send-digest` or from the admin pages"
                .to_owned(),
        );
    }
    match (&settings.feed_url, &settings.feed_cron) {
        (None, _) => lines.push("FEED_URL is not set: no feed is polled".to_owned()),
        (Some(_), None) => lines.push(
            "FEED_CRON is empty: FEED_URL is not polled; import it with `newsletter import-feed`"
                .to_owned(),
        ),
        (Some(_), Some(_)) => {}
    }
    lines
}

/// The scheduled digest: compose one if anything is new; the delivery worker sends it.
pub async fn run_digest_job(state: &AppState) {
    match compose_digest(state).await {
        Ok(Composed::Created(digest)) => {
            tracing::info!(
                digest = digest.id,
                recipients = digest.recipients,
                "scheduled digest queued"
            )
        }
        Ok(Composed::NothingNew) => {
            tracing::info!("scheduled digest: no new articles, nothing sent")
        }
        Ok(Composed::NoReaders { articles }) => tracing::warn!(
            articles,
            "scheduled digest: no confirmed reader yet, nothing sent; the articles keep waiting"
        ),
        Err(e) => tracing::error!(error = format!("{e:#}"), "scheduled digest failed"),
    }
}

/// The scheduled feed poll.
pub async fn run_feed_job(state: &AppState, source: &str) {
    match feed::import_feed(state, source).await {
        Ok(report) => tracing::info!(
            new = report.new,
            known = report.known,
            skipped = report.skipped.len(),
            "feed polled"
        ),
        Err(e) => tracing::error!(
            error = format!("{e:#}"),
            "feed poll failed; nothing imported"
        ),
    }
}
