//! The schedule: each newsletter's schedule composes its digest (the default
//! newsletter's is `DIGEST_CRON`), `FEED_CRON` polls `FEED_URL` and the feeds added
//! since, all in `TIMEZONE`. The newsletters' schedules are read again every few
//! seconds, so a change made by anyone (API, admin pages, another node) is followed
//! without a restart. The jobs are the same plain async functions the API, the CLI and
//! the tests call.

use std::sync::Arc;
use tracing::Instrument;

use anyhow::Context;
use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use tokio::sync::Mutex;
use tokio_cron_scheduler::{Job, JobScheduler};
use uuid::Uuid;

use crate::config::Settings;
use crate::db::newsletters::{self, Newsletter};
use crate::digest::{Composed, compose_for};
use crate::feed;
use crate::state::AppState;

/// A scheduled job as the start-up summary tells it.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    /// What it does, e.g. `digest` (the default newsletter's), `digest of weekly`.
    pub what: String,
    pub cron: String,
    /// When the scheduler will run it next, as the scheduler itself computed it.
    pub next_run: Option<DateTime<Utc>>,
}

/// The running scheduler (none when no job is on) and what it runs.
pub struct Schedule {
    pub scheduler: Option<JobScheduler>,
    pub jobs: Vec<PlannedJob>,
}

/// A job the settings ask for, kept so that it can be made again.
#[derive(Clone)]
enum JobSpec {
    /// Newsletter `newsletter_id`'s digest.
    Digest {
        newsletter_id: i64,
        /// For the log only.
        slug: String,
        cron: String,
    },
    /// FEED_URL and every feed added since.
    Feed { url: Option<String>, cron: String },
    /// The daily purge of what `DELIVERY_RETENTION_DAYS` no longer keeps.
    Purge,
}

/// When the retention purge runs: daily at 03:30 in `TIMEZONE`, away from the usual
/// morning digest.
pub const PURGE_CRON: &str = "0 30 3 * * *";

impl JobSpec {
    fn what(&self) -> String {
        match self {
            JobSpec::Digest { newsletter_id, .. }
                if *newsletter_id == newsletters::DEFAULT_NEWSLETTER_ID =>
            {
                "digest".to_owned()
            }
            JobSpec::Digest { slug, .. } => format!("digest of {slug}"),
            JobSpec::Feed { .. } => "feed polling".to_owned(),
            JobSpec::Purge => "retention".to_owned(),
        }
    }

    fn cron(&self) -> &str {
        match self {
            JobSpec::Digest { cron, .. } | JobSpec::Feed { cron, .. } => cron,
            JobSpec::Purge => PURGE_CRON,
        }
    }

    /// The job, its times in `tz`; its first run is computed in the zone itself.
    fn build(&self, state: &AppState, tz: Tz) -> anyhow::Result<Job> {
        let state = state.clone();
        let job = match self.clone() {
            JobSpec::Digest {
                newsletter_id,
                cron,
                ..
            } => Job::new_async_tz(cron.as_str(), tz, move |_, _| {
                let state = state.clone();
                Box::pin(async move { run_digest_job(&state, newsletter_id).await })
            })
            .with_context(|| match newsletter_id {
                newsletters::DEFAULT_NEWSLETTER_ID => {
                    format!("DIGEST_CRON `{cron}` does not parse")
                }
                _ => format!("the schedule `{cron}` of newsletter {newsletter_id} does not parse"),
            })?,
            JobSpec::Feed { url, cron } => Job::new_async_tz(cron.as_str(), tz, move |_, _| {
                let state = state.clone();
                let url = url.clone();
                Box::pin(async move { run_feeds_job(&state, url.as_deref()).await })
            })
            .with_context(|| format!("FEED_CRON `{cron}` does not parse"))?,
            JobSpec::Purge => Job::new_async_tz(PURGE_CRON, tz, move |_, _| {
                let state = state.clone();
                Box::pin(async move { crate::service::retention::run_purge_job(&state).await })
            })
            .context("the retention job's schedule does not parse")?,
        };
        Ok(job)
    }
}

/// The jobs in the scheduler, and the zone's UTC offset when they were made.
struct Plan {
    offset_seconds: i32,
    jobs: Vec<(JobSpec, Uuid)>,
}

/// How often the zone's offset is compared with the one the jobs were made with.
const OFFSET_WATCH_CRON: &str = "30 */15 * * * *";

/// How often the newsletters' schedules are read again.
const SCHEDULES_WATCH_CRON: &str = "*/5 * * * * *";

/// The cron string `newsletter`'s digest runs on, if any: its schedule, or (none given,
/// the default newsletter's) DIGEST_CRON; an empty one sends by hand only.
pub fn cron_of(settings: &Settings, newsletter: &Newsletter) -> Option<String> {
    match &newsletter.schedule {
        None => settings.digest_cron.clone(),
        Some(cron) if cron.trim().is_empty() => None,
        Some(cron) => Some(cron.trim().to_owned()),
    }
}

/// The digest job each newsletter that is not archived asks for, in id order.
async fn digest_specs(state: &AppState) -> anyhow::Result<Vec<JobSpec>> {
    let active = state.db.run(newsletters::active).await?;
    Ok(active
        .iter()
        .filter_map(|n| {
            cron_of(&state.settings, n).map(|cron| JobSpec::Digest {
                newsletter_id: n.id,
                slug: n.slug.clone(),
                cron,
            })
        })
        .collect())
}

/// The zone's offset from UTC now, in seconds.
fn offset_now(tz: Tz) -> i32 {
    tz.offset_from_utc_datetime(&Utc::now().naive_utc())
        .fix()
        .local_minus_utc()
}

/// Starts the scheduler with the jobs the settings ask for, each in `TIMEZONE`.
///
/// tokio-cron-scheduler computes a job's first run in the zone, but every later run
/// with the UTC offset the zone had when the job was made: after a daylight-saving
/// change a 07:00 job would run at 06:00 or 08:00. So in a zone other than UTC a watch
/// runs every 15 minutes and, when the offset has changed, makes the jobs anew.
pub async fn start(state: &AppState) -> anyhow::Result<Schedule> {
    let settings = &state.settings;
    let tz = settings.timezone;
    let mut specs = digest_specs(state).await?;
    if let Some(cron) = settings.feed_cron.clone() {
        specs.push(JobSpec::Feed {
            url: settings.feed_url.clone(),
            cron,
        });
    }
    // Always on: a database left to grow is a problem only noticed once the disk is full.
    specs.push(JobSpec::Purge);
    let mut scheduler = JobScheduler::new()
        .await
        .context("could not create the job scheduler")?;
    let mut plan = Plan {
        offset_seconds: offset_now(tz),
        jobs: Vec::new(),
    };
    for spec in specs {
        let job = match spec.build(state, tz) {
            Ok(job) => job,
            // Another newsletter's schedule, stored by some writer: its own job is
            // off, the rest of the schedule is not.
            Err(e) if !spec.is_default_digest() => {
                tracing::error!("schedule: {e:#}; that newsletter is not sent on its own");
                continue;
            }
            Err(e) => return Err(e),
        };
        let id = scheduler
            .add(job)
            .await
            .with_context(|| format!("could not schedule the {} job", spec.what()))?;
        plan.jobs.push((spec, id));
    }
    let mut jobs = Vec::new();
    for (spec, id) in &plan.jobs {
        jobs.push(PlannedJob {
            what: spec.what(),
            cron: spec.cron().to_owned(),
            next_run: scheduler.next_tick_for_job(*id).await.with_context(|| {
                format!("could not read when the {} job runs next", spec.what())
            })?,
        });
    }
    let plan = Arc::new(Mutex::new(plan));
    {
        let (plan, state) = (plan.clone(), state.clone());
        let watch = Job::new_async(SCHEDULES_WATCH_CRON, move |_, mut scheduler| {
            let (plan, state) = (plan.clone(), state.clone());
            Box::pin(async move {
                let mut plan = plan.lock().await;
                if let Err(e) = follow_schedules(&mut scheduler, &mut plan, &state, tz).await {
                    tracing::error!("schedule: could not follow the newsletters' schedules: {e:#}");
                }
            })
        })
        .context("could not make the newsletters' schedule watch")?;
        scheduler
            .add(watch)
            .await
            .context("could not schedule the newsletters' schedule watch")?;
    }
    if tz != chrono_tz::UTC {
        let state = state.clone();
        let watch = Job::new_async(OFFSET_WATCH_CRON, move |_, mut scheduler| {
            let (plan, state) = (plan.clone(), state.clone());
            Box::pin(async move {
                let mut plan = plan.lock().await;
                follow_offset(&mut scheduler, &mut plan, &state, tz, offset_now(tz)).await;
            })
        })
        .context("could not make the time zone watch")?;
        scheduler
            .add(watch)
            .await
            .context("could not schedule the time zone watch")?;
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

impl JobSpec {
    fn is_default_digest(&self) -> bool {
        matches!(self, JobSpec::Digest { newsletter_id, .. } if *newsletter_id == newsletters::DEFAULT_NEWSLETTER_ID)
    }

    fn same_digest_job(&self, other: &JobSpec) -> bool {
        match (self, other) {
            (
                JobSpec::Digest {
                    newsletter_id: a,
                    cron: a_cron,
                    ..
                },
                JobSpec::Digest {
                    newsletter_id: b,
                    cron: b_cron,
                    ..
                },
            ) => a == b && a_cron == b_cron,
            _ => false,
        }
    }
}

/// Brings the digest jobs of `plan` in line with the newsletters' schedules as stored
/// now: a job whose newsletter is gone, archived or scheduled otherwise is removed, and
/// one is made for each schedule that has none. What did not change is left alone.
async fn follow_schedules(
    scheduler: &mut JobScheduler,
    plan: &mut Plan,
    state: &AppState,
    tz: Tz,
) -> anyhow::Result<()> {
    let wanted = digest_specs(state).await?;
    let mut kept = Vec::with_capacity(plan.jobs.len());
    for (spec, id) in plan.jobs.drain(..) {
        let stays = !matches!(spec, JobSpec::Digest { .. })
            || wanted.iter().any(|w| w.same_digest_job(&spec));
        if stays {
            kept.push((spec, id));
        } else {
            if let Err(e) = scheduler.remove(&id).await {
                tracing::warn!("could not remove the {} job: {e}", spec.what());
            }
            tracing::info!("schedule: the {} job is removed", spec.what());
        }
    }
    plan.jobs = kept;
    for spec in wanted {
        if plan.jobs.iter().any(|(s, _)| s.same_digest_job(&spec)) {
            continue;
        }
        let job = match spec.build(state, tz) {
            Ok(job) => job,
            Err(e) => {
                // Logged once: the plan remembers it as planned with no job (nil id)
                // until the schedule changes again.
                tracing::error!("schedule: {e:#}; that newsletter is not sent on its own");
                plan.jobs.push((spec, Uuid::nil()));
                continue;
            }
        };
        let id = scheduler
            .add(job)
            .await
            .context("could not schedule a digest job")?;
        tracing::info!(
            "schedule: the {} job runs on `{}` from now on",
            spec.what(),
            spec.cron()
        );
        plan.jobs.push((spec, id));
    }
    Ok(())
}

/// Makes the jobs anew when the zone's offset is no longer the one they were made with.
async fn follow_offset(
    scheduler: &mut JobScheduler,
    plan: &mut Plan,
    state: &AppState,
    tz: Tz,
    offset_seconds: i32,
) {
    if plan.offset_seconds == offset_seconds {
        return;
    }
    match replan(scheduler, plan, state, tz).await {
        Ok(()) => plan.offset_seconds = offset_seconds,
        // Tried again at the next watch.
        Err(e) => tracing::error!(
            "schedule: {} changed its UTC offset, and the jobs could not be made anew: {e:#}",
            tz.name()
        ),
    }
}

/// Makes every job of `plan` anew, so its runs follow the zone's offset of now; a job
/// that cannot be made again keeps its old one.
async fn replan(
    scheduler: &mut JobScheduler,
    plan: &mut Plan,
    state: &AppState,
    tz: Tz,
) -> anyhow::Result<()> {
    for (spec, id) in plan.jobs.iter_mut() {
        if id.is_nil() {
            // A schedule that did not parse: no job to make anew.
            continue;
        }
        let job = spec.build(state, tz)?;
        let new_id = scheduler
            .add(job)
            .await
            .with_context(|| format!("could not schedule the {} job again", spec.what()))?;
        if let Err(e) = scheduler.remove(id).await {
            tracing::warn!("could not remove the {} job made before: {e}", spec.what());
        }
        *id = new_id;
        let next = scheduler.next_tick_for_job(new_id).await.ok().flatten();
        tracing::info!(
            "schedule: {} changed its UTC offset; the {} job runs next at {}",
            tz.name(),
            spec.what(),
            next.map(|at| at
                .with_timezone(&tz)
                .format("%a %-d %b %Y %H:%M")
                .to_string())
                .unwrap_or_else(|| "no future time".to_owned())
        );
    }
    Ok(())
}

/// How loud a line of the summary is: a job the settings turned off is worth a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Info,
    Warning,
}

/// The start-up summary's lines about the schedule: each job with its next run in
/// `TIMEZONE` (and in UTC beside it, for comparing with logs), and the jobs that are
/// off, with why.
pub fn describe(settings: &Settings, jobs: &[PlannedJob]) -> Vec<(Tone, String)> {
    let tz = settings.timezone;
    let mut lines: Vec<(Tone, String)> = jobs
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
            (
                Tone::Info,
                format!("{} job: `{}` in {}; {next}", job.what, job.cron, tz.name()),
            )
        })
        .collect();
    if settings.digest_cron.is_none() {
        lines.push((
            Tone::Warning,
            "DIGEST_CRON is empty: no digest goes out on its own; send one with `newsletter send-digest` or from the admin pages"
                .to_owned(),
        ));
    }
    match (&settings.feed_url, &settings.feed_cron) {
        (None, _) => lines.push((
            Tone::Info,
            "FEED_URL is not set: no feed is polled but those added in the admin pages or with POST /api/feeds".to_owned(),
        )),
        (Some(_), None) => lines.push((
            Tone::Warning,
            "FEED_CRON is empty: FEED_URL is not polled; import it with `newsletter import-feed`"
                .to_owned(),
        )),
        (Some(_), Some(_)) => {}
    }
    lines
}

/// The scheduled digest of newsletter `newsletter_id`: compose one if anything is new
/// for it; the delivery worker sends it. Several nodes running the same tick compose it
/// once: taking the articles is one exclusive transaction, and the second finds none.
pub async fn run_digest_job(state: &AppState, newsletter_id: i64) {
    // Every line of the job carries its figures, as they become known.
    let span = tracing::info_span!(
        "digest_composition",
        newsletter = newsletter_id,
        digest = tracing::field::Empty,
        recipients = tracing::field::Empty,
        articles = tracing::field::Empty,
        elapsed_ms = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let composed = compose_for(state, newsletter_id, None)
        .instrument(span.clone())
        .await;
    span.record("elapsed_ms", started.elapsed().as_millis() as u64);
    if let Ok(Composed::Created(digest)) = &composed {
        span.record("digest", digest.id);
        span.record("recipients", digest.recipients);
        span.record("articles", digest.articles);
    }
    let _entered = span.enter();
    match composed {
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

/// The scheduled feed poll: FEED_URL (if set), then every feed added since, each on
/// its own (one that fails does not keep the others from being polled).
pub async fn run_feeds_job(state: &AppState, feed_url: Option<&str>) {
    if let Some(url) = feed_url {
        run_feed_job(state, url, None).await;
    }
    match state.db.run(crate::db::feeds::all).await {
        Ok(feeds) => {
            for added in feeds {
                if Some(added.url.as_str()) != feed_url {
                    run_feed_job(state, &added.url, added.section.as_deref()).await;
                }
            }
        }
        Err(e) => tracing::error!(error = format!("{e:#}"), "could not read the feeds"),
    }
}

/// The scheduled poll of one feed, its articles put in `section` (besides their own).
pub async fn run_feed_job(state: &AppState, source: &str, section: Option<&str>) {
    let span = tracing::info_span!(
        "feed_poll",
        feed = %feed::redacted(source),
        new = tracing::field::Empty,
        known = tracing::field::Empty,
        skipped = tracing::field::Empty,
        elapsed_ms = tracing::field::Empty,
    );
    let started = std::time::Instant::now();
    let polled = feed::import_feed_in(state, source, section)
        .instrument(span.clone())
        .await;
    span.record("elapsed_ms", started.elapsed().as_millis() as u64);
    if let Ok(report) = &polled {
        span.record("new", report.new);
        span.record("known", report.known);
        span.record("skipped", report.skipped.len());
    }
    let _entered = span.enter();
    match polled {
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

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, Timelike};

    #[tokio::test]
    async fn jobs_made_before_a_daylight_saving_change_are_made_anew_at_the_zones_hour() {
        let dir = tempfile::tempdir().expect("a folder");
        let path = |name: &str| dir.path().join(name).display().to_string();
        let settings = Settings::from_lookup(|name| match name {
            "DATABASE_URL" => Some(path("schedule.db")),
            "MAIL_OUTBOX_DIR" => Some(path("outbox")),
            "TIMEZONE" => Some("Europe/Berlin".into()),
            _ => None,
        })
        .expect("settings");
        let state = AppState::build(settings).expect("the state builds");
        let berlin = chrono_tz::Europe::Berlin;
        let mut scheduler = JobScheduler::new().await.expect("a scheduler");
        // A 07:00 job as the scheduler holds it when it was made under the other
        // offset of the year: an hour off from what the wall clock says now.
        let now_offset = offset_now(berlin);
        let other_offset = if now_offset == 3600 { 7200 } else { 3600 };
        let stale = Job::new_async_tz(
            "0 0 7 * * *",
            FixedOffset::east_opt(other_offset).expect("an offset"),
            |_, _| Box::pin(async {}),
        )
        .expect("a job");
        let stale_id = scheduler.add(stale).await.expect("added");
        let stale_next = scheduler
            .next_tick_for_job(stale_id)
            .await
            .expect("a tick")
            .expect("a next run");
        assert_ne!(stale_next.with_timezone(&berlin).hour(), 7);
        let mut plan = Plan {
            offset_seconds: other_offset,
            jobs: vec![(
                JobSpec::Digest {
                    newsletter_id: newsletters::DEFAULT_NEWSLETTER_ID,
                    slug: newsletters::DEFAULT_SLUG.into(),
                    cron: "0 0 7 * * *".into(),
                },
                stale_id,
            )],
        };

        follow_offset(&mut scheduler, &mut plan, &state, berlin, now_offset).await;

        let (_, new_id) = plan.jobs[0];
        assert_ne!(new_id, stale_id, "the job was made anew");
        assert_eq!(plan.offset_seconds, now_offset);
        let next = scheduler
            .next_tick_for_job(new_id)
            .await
            .expect("a tick")
            .expect("a next run");
        assert_eq!(next.with_timezone(&berlin).hour(), 7, "{next}");
        assert_eq!(
            scheduler.next_tick_for_job(stale_id).await.ok().flatten(),
            None,
            "the stale job is gone"
        );

        // The same offset again: nothing changes.
        follow_offset(&mut scheduler, &mut plan, &state, berlin, now_offset).await;
        assert_eq!(plan.jobs[0].1, new_id);
    }
}
