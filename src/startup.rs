//! Building and running the application: the web server and its background workers.

use std::net::TcpListener;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::config::Settings;
use crate::digest::{delivery, schedule};
use crate::mail::queue;
use crate::shutdown::{StopSignal, StopSignals};
use crate::state::AppState;
use crate::web;

/// The service, bound to its port and ready to run.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    /// `METRICS_ADDR`'s listener, and the port it got.
    metrics: Option<(actix_web::dev::Server, u16)>,
    state: AppState,
}

impl Application {
    /// Binds `BIND_ADDR` and builds the app. While the database is opened and migrated,
    /// a stand-in server answers 503 on the port (`/ready` included), so a load
    /// balancer sees "not ready" rather than a connection that hangs.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&settings.bind_addr)
            .with_context(|| format!("could not listen on BIND_ADDR `{}`", settings.bind_addr))?;
        let stand_in = web::starting_server(
            listener
                .try_clone()
                .context("could not share the listening socket")?,
        )?;
        let stand_in_handle = stand_in.handle();
        let stand_in = tokio::spawn(stand_in);
        let state = tokio::task::spawn_blocking(move || AppState::build(settings))
            .await
            .context("the start-up task panicked");
        stand_in_handle.stop(false).await;
        let _ = stand_in.await;
        Application::with_state(state??, listener)
    }

    /// Builds the app on a listener the caller bound (tests bind port 0 first, so they
    /// can put the port into `BASE_URL`).
    pub fn build_with_listener(
        settings: Settings,
        listener: TcpListener,
    ) -> anyhow::Result<Application> {
        Application::with_state(AppState::build(settings)?, listener)
    }

    fn with_state(state: AppState, listener: TcpListener) -> anyhow::Result<Application> {
        let port = listener.local_addr()?.port();
        let metrics = bind_metrics(&state)?;
        let server = web::server(state.clone(), listener)?;
        Ok(Application {
            port,
            server,
            metrics,
            state,
        })
    }

    /// The port of `METRICS_ADDR`'s listener, when there is one.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(_, port)| *port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until the process is asked to stop (Ctrl-C or SIGTERM), running the mail
    /// and delivery workers and the schedule beside the server; on the way out the
    /// workers finish the messages in flight.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run(true).await
    }

    /// Serves the web app only (`serve --no-workers`): sign-ups queue their mail and
    /// the admin's digests their deliveries, for `newsletter worker` nodes to send.
    pub async fn run_web_only(self) -> anyhow::Result<()> {
        self.run(false).await
    }

    async fn run(self, with_workers: bool) -> anyhow::Result<()> {
        let state = self.state;
        // Before anything starts: from here a SIGTERM is a request to stop cleanly.
        let mut signals = StopSignals::listen()?;
        if state.settings.admin_token.is_none() {
            tracing::warn!("ADMIN_TOKEN is not set: the admin API and pages answer 404");
        }
        tracing::info!(
            "serving {} on http://{}{}",
            state.newsletter_name(),
            listen_display(&state.settings.bind_addr, self.port),
            if with_workers {
                ""
            } else {
                " (web only: no mail is sent from here)"
            }
        );
        tracing::info!("data: {}", describe_database(&state.settings.database_url));
        let renaming = (!state.settings.newsletter_name_given)
            .then(|| tokio::spawn(follow_the_stored_name(state.clone())));
        let workers = match with_workers {
            true => Some(Workers::start(&state).await?),
            false => None,
        };
        let metrics = serve_metrics(&state, self.metrics);
        let handle = self.server.handle();
        let mut server = std::pin::pin!(self.server);
        let served = tokio::select! {
            served = &mut server => served,
            stop = signals.recv() => {
                let deadline = begin_stopping(&state, stop);
                // The listener closes at once; requests in flight get until the
                // deadline (the server's own shutdown timeout), and so do the workers.
                // The server future carries out the stop, so it is polled beside it.
                let web = async {
                    let ((), served) = tokio::join!(handle.stop(true), &mut server);
                    served
                };
                let background = async {
                    if let Some(workers) = workers.as_ref() {
                        workers.stop_by(deadline).await;
                    }
                };
                let (served, ()) = tokio::join!(web, background);
                served
            }
        };
        // (Set when a signal starts the stopping; here at the latest.)
        state.shutting_down.store(true, Ordering::Relaxed);
        metrics.stop().await;
        if let Some(renaming) = renaming {
            renaming.abort();
        }
        if let Some(workers) = workers {
            // Nothing left to wait for after a signal; the server stopping by itself
            // (an error) still gets the full grace.
            let deadline = tokio::time::Instant::now() + state.settings.shutdown_grace;
            workers.stop_by(deadline).await;
        }
        served.context("the web server stopped with an error")
    }
}

/// Notes that the process is stopping and says so in the log; returns when the work
/// in flight must be done by, a little before the grace period ends.
fn begin_stopping(state: &AppState, stop: StopSignal) -> tokio::time::Instant {
    state.shutting_down.store(true, Ordering::SeqCst);
    let grace = state.settings.shutdown_grace;
    tracing::info!(
        "{}: stopping; finishing the requests and messages in flight (for up to {} s), handing back the rest",
        stop.name(),
        grace.as_secs()
    );
    tokio::time::Instant::now() + crate::shutdown::time_for_work(grace)
}

/// The background side of the service: the mail queue and digest delivery workers and
/// the schedule. `serve` runs them beside the web server, `worker` on their own.
pub struct Workers {
    stop: watch::Sender<bool>,
    /// The mail queue and delivery workers, until they are stopped.
    tasks: tokio::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
    scheduler: tokio::sync::Mutex<Option<tokio_cron_scheduler::JobScheduler>>,
    /// What the schedule runs and when next.
    pub jobs: Vec<schedule::PlannedJob>,
}

impl Workers {
    /// Starts the workers and the schedule, and says in the log where mail goes
    /// (whether the SMTP server answers included) and which jobs run when.
    pub async fn start(state: &AppState) -> anyhow::Result<Workers> {
        tracing::info!("mail: {}", state.mailer.describe());
        if state.settings.mail_postal_address.is_none() {
            tracing::warn!(
                "mail: MAIL_POSTAL_ADDRESS is not set: digests carry no postal address, which CAN-SPAM and most relays' terms ask of bulk mail"
            );
        }
        // The probe runs beside the start: a server that is down or slow delays
        // nothing, and mail waits in the queue until it answers.
        let mailer = state.mailer.clone();
        tokio::spawn(async move {
            match mailer.probe(PROBE_LIMIT).await {
                Some(Ok(report)) => tracing::info!("mail: {}", report.summary()),
                Some(Err(failure)) => tracing::warn!(
                    "mail: the SMTP server did not pass a probe: {failure}; mail waits in the queue and is retried until it does (`newsletter check-smtp` tells more)"
                ),
                None => {}
            }
        });
        let schedule = schedule::start(state).await?;
        for (tone, line) in schedule::describe(&state.settings, &schedule.jobs) {
            match tone {
                schedule::Tone::Info => tracing::info!("schedule: {line}"),
                schedule::Tone::Warning => tracing::warn!("schedule: {line}"),
            }
        }
        let (stop, stopped) = watch::channel(false);
        Ok(Workers {
            tasks: tokio::sync::Mutex::new(vec![
                supervise("mail queue", state, &stopped, queue::run_worker),
                supervise("digest delivery", state, &stopped, delivery::run_worker),
            ]),
            scheduler: tokio::sync::Mutex::new(schedule.scheduler),
            jobs: schedule.jobs,
            stop,
        })
    }

    /// Stops the schedule and lets the workers finish the messages in flight, until
    /// `deadline` at the latest. A worker that finishes releases the leases of what it
    /// claimed and did not start, so another process takes those at once. Past the
    /// deadline the workers are dropped and what they hold keeps its lease until it
    /// lapses: a message in flight may have gone out. Calling it again after it
    /// returned does nothing more.
    pub async fn stop_by(&self, deadline: tokio::time::Instant) {
        let _ = self.stop.send(true);
        let scheduler = self.scheduler.lock().await.take();
        if let Some(mut scheduler) = scheduler {
            let _ = tokio::time::timeout_at(deadline, scheduler.shutdown()).await;
        }
        let mut tasks = self.tasks.lock().await;
        let finished = async {
            for task in tasks.iter_mut() {
                let _ = task.await;
            }
        };
        if tokio::time::timeout_at(deadline, finished).await.is_err() {
            tracing::warn!(
                "the workers did not finish within SHUTDOWN_GRACE_SECONDS; what they hold is sent again once its lease lapses"
            );
            for task in tasks.iter() {
                task.abort();
            }
        }
        tasks.clear();
    }
}

/// `newsletter worker`: sends mail and runs the schedule, with no web server, until the
/// process is asked to stop (Ctrl-C or SIGTERM).
pub async fn run_workers_until_stopped(state: AppState) -> anyhow::Result<()> {
    tracing::info!(
        "sending for {} (worker only: no web server)",
        state.newsletter_name()
    );
    tracing::info!("data: {}", describe_database(&state.settings.database_url));
    let mut signals = StopSignals::listen()?;
    // Bound first: a port that cannot be had stops the start before any mail goes.
    let metrics = bind_metrics(&state)?;
    let workers = Workers::start(&state).await?;
    let metrics = serve_metrics(&state, metrics);
    let stop = signals.recv().await;
    let deadline = begin_stopping(&state, stop);
    workers.stop_by(deadline).await;
    metrics.stop().await;
    Ok(())
}

/// Binds `METRICS_ADDR`, when it is set.
fn bind_metrics(state: &AppState) -> anyhow::Result<Option<(actix_web::dev::Server, u16)>> {
    let Some(addr) = state.settings.metrics_addr else {
        return Ok(None);
    };
    let listener = TcpListener::bind(addr)
        .with_context(|| format!("could not listen on METRICS_ADDR `{addr}`"))?;
    let port = listener.local_addr()?.port();
    Ok(Some((web::metrics_server(state.clone(), listener)?, port)))
}

/// `METRICS_ADDR`'s server, running beside the service.
struct MetricsTasks {
    server: Option<(actix_web::dev::ServerHandle, tokio::task::JoinHandle<()>)>,
}

fn serve_metrics(state: &AppState, server: Option<(actix_web::dev::Server, u16)>) -> MetricsTasks {
    if let Some((_, port)) = &server {
        tracing::info!(
            "metrics: http://{}/metrics (no token)",
            listen_display(
                &state
                    .settings
                    .metrics_addr
                    .map(|addr| addr.to_string())
                    .unwrap_or_default(),
                *port
            )
        );
    }
    if state.settings.metrics_token.is_some() {
        tracing::info!("metrics: /metrics on the public port, with METRICS_TOKEN");
    }
    MetricsTasks {
        server: server.map(|(server, _)| {
            let handle = server.handle();
            let task = tokio::spawn(async move {
                if let Err(e) = server.await {
                    tracing::error!(error = %e, "the metrics listener stopped");
                }
            });
            (handle, task)
        }),
    }
}

impl MetricsTasks {
    /// Stops at once: a scrape in flight is not worth waiting past the grace for.
    async fn stop(self) {
        if let Some((handle, task)) = self.server {
            handle.stop(false).await;
            let _ = task.await;
        }
    }
}

/// Runs a worker until shutdown, starting it again if it panics: a bug hit by one
/// message must not stop all mail until the next restart.
fn supervise<F, Fut>(
    name: &'static str,
    state: &AppState,
    stopped: &watch::Receiver<bool>,
    worker: F,
) -> tokio::task::JoinHandle<()>
where
    F: Fn(AppState, watch::Receiver<bool>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (state, stopped) = (state.clone(), stopped.clone());
    tokio::spawn(async move {
        loop {
            let running = tokio::spawn(worker(state.clone(), stopped.clone()));
            // Aborting this task (a stop past its deadline) aborts the worker too.
            let _abort_with_me = AbortOnDrop(running.abort_handle());
            match running.await {
                Err(e) if e.is_panic() && !*stopped.borrow() => {
                    tracing::error!(
                        worker = name,
                        "a worker panicked; starting it again in a second"
                    );
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                _ => return,
            }
        }
    })
}

/// Aborts a task when dropped: a supervisor's worker goes with it.
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How soon pages take up a feed title another process stored (`newsletter
/// import-feed` beside a running server).
const NAME_REFRESH: Duration = Duration::from_secs(5);

/// Without `NEWSLETTER_NAME`, the name is the stored feed title, which other processes
/// may set: looks again every [`NAME_REFRESH`].
async fn follow_the_stored_name(state: AppState) {
    loop {
        tokio::time::sleep(NAME_REFRESH).await;
        if let Err(e) = state.refresh_newsletter_name().await {
            tracing::warn!(
                error = format!("{e:#}"),
                "could not read the stored newsletter name"
            );
        }
    }
}

/// How long the start-up probe of the SMTP server may take.
const PROBE_LIMIT: Duration = Duration::from_secs(10);

/// Where the data is, for the start-up log: the SQLite file's full path, or the
/// PostgreSQL URL without its password.
fn describe_database(database_url: &str) -> String {
    match crate::db::Engine::of(database_url) {
        crate::db::Engine::Postgres => format!("PostgreSQL at {}", crate::db::redact(database_url)),
        crate::db::Engine::Sqlite => {
            let path = database_url.trim_start_matches("sqlite://");
            let full = std::fs::canonicalize(path)
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| path.to_owned());
            format!("SQLite file {full}")
        }
    }
}

fn listen_display(bind_addr: &str, port: u16) -> String {
    match bind_addr.rsplit_once(':') {
        Some((host, _)) => format!("{host}:{port}"),
        None => bind_addr.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::describe_database;

    #[test]
    fn the_database_is_named_without_its_password() {
        assert_eq!(
            describe_database("postgres://news:hunter2@db.example.com/newsletter"),
            "PostgreSQL at postgres://news:***@db.example.com/newsletter"
        );
        assert_eq!(
            describe_database(
                "postgres://news@db.example.com/newsletter?sslmode=require&password=hunter2"
            ),
            "PostgreSQL at postgres://news@db.example.com/newsletter?sslmode=require&password=***"
        );
        let dir = tempfile::tempdir().expect("a folder");
        let file = dir.path().join("newsletter.db");
        std::fs::write(&file, b"").expect("a file");
        assert_eq!(
            describe_database(&file.display().to_string()),
            format!("SQLite file {}", file.canonicalize().unwrap().display())
        );
    }
}
