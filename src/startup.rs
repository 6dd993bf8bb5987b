//! Building and running the application: the web server and its background workers.

use std::net::TcpListener;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::config::Settings;
use crate::digest::{delivery, schedule};
use crate::mail::queue;
use crate::state::AppState;
use crate::web;

/// The service, bound to its port and ready to run.
pub struct Application {
    port: u16,
    server: actix_web::dev::Server,
    state: AppState,
}

impl Application {
    /// Binds `BIND_ADDR` and builds the app.
    pub async fn build(settings: Settings) -> anyhow::Result<Application> {
        let listener = TcpListener::bind(&settings.bind_addr)
            .with_context(|| format!("could not listen on BIND_ADDR `{}`", settings.bind_addr))?;
        Application::build_with_listener(settings, listener)
    }

    /// Builds the app on a listener the caller bound (tests bind port 0 first, so they
    /// can put the port into `BASE_URL`).
    pub fn build_with_listener(
        settings: Settings,
        listener: TcpListener,
    ) -> anyhow::Result<Application> {
        let state = AppState::build(settings)?;
        let port = listener.local_addr()?.port();
        let server = web::server(state.clone(), listener)?;
        Ok(Application {
            port,
            server,
            state,
        })
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
        let state = self.state;
        if state.settings.admin_token.is_none() {
            tracing::warn!("ADMIN_TOKEN is not set: the admin API and pages answer 404");
        }
        tracing::info!("{}", state.mailer.describe());
        tracing::info!(
            "serving {} on http://{}",
            state.settings.newsletter_name,
            listen_display(&state.settings.bind_addr, self.port)
        );
        let (stop_workers, stopped) = watch::channel(false);
        let mail_worker = supervise("mail queue", &state, &stopped, queue::run_worker);
        let delivery_worker = supervise("digest delivery", &state, &stopped, delivery::run_worker);
        let scheduler = schedule::start(&state).await?;
        let served = self.server.await;
        let _ = stop_workers.send(true);
        if let Some(mut scheduler) = scheduler {
            let _ = scheduler.shutdown().await;
        }
        let workers = async {
            let _ = mail_worker.await;
            let _ = delivery_worker.await;
        };
        if tokio::time::timeout(Duration::from_secs(30), workers)
            .await
            .is_err()
        {
            tracing::warn!("the workers did not finish in 30 s; unsent mail stays queued");
        }
        served.context("the web server stopped with an error")
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
            match tokio::spawn(worker(state.clone(), stopped.clone())).await {
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

fn listen_display(bind_addr: &str, port: u16) -> String {
    match bind_addr.rsplit_once(':') {
        Some((host, _)) => format!("{host}:{port}"),
        None => bind_addr.to_owned(),
    }
}
