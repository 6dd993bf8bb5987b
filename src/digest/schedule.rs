//! The schedule: `DIGEST_CRON` composes a digest, `FEED_CRON` polls `FEED_URL`. The jobs
//! are the same plain async functions the API, the CLI and the tests call.

use anyhow::Context;
use tokio_cron_scheduler::{Job, JobScheduler};

use crate::digest::{Composed, compose_digest};
use crate::feed;
use crate::state::AppState;

/// Starts the scheduler with the jobs the settings ask for; `None` when there are none.
pub async fn start(state: &AppState) -> anyhow::Result<Option<JobScheduler>> {
    let settings = &state.settings;
    let feed_job = settings.feed_url.clone().zip(settings.feed_cron.clone());
    if settings.digest_cron.is_none() && feed_job.is_none() {
        return Ok(None);
    }
    let scheduler = JobScheduler::new()
        .await
        .context("could not create the job scheduler")?;
    if let Some(cron) = &settings.digest_cron {
        let state = state.clone();
        let job = Job::new_async(cron.as_str(), move |_, _| {
            let state = state.clone();
            Box::pin(async move { run_digest_job(&state).await })
        })
        .with_context(|| format!("DIGEST_CRON `{cron}` does not parse"))?;
        scheduler
            .add(job)
            .await
            .context("could not schedule the digest job")?;
        tracing::info!(cron, "digest job scheduled (UTC)");
    }
    if let Some((url, cron)) = feed_job {
        let state = state.clone();
        let job = Job::new_async(cron.as_str(), move |_, _| {
            let state = state.clone();
            let url = url.clone();
            Box::pin(async move { run_feed_job(&state, &url).await })
        })
        .with_context(|| format!("FEED_CRON `{cron}` does not parse"))?;
        scheduler
            .add(job)
            .await
            .context("could not schedule the feed job")?;
        tracing::info!(cron, "feed polling scheduled (UTC)");
    }
    scheduler
        .start()
        .await
        .context("could not start the job scheduler")?;
    Ok(Some(scheduler))
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
