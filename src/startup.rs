//! Building and running the application: the web server and its background workers.

use std::net::TcpListener;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::watch;

use crate::config::Settings;
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
    /// worker beside the server; on the way out the worker finishes its current batch.
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
        let worker = tokio::spawn(queue::run_worker(state.clone(), stopped));
        let served = self.server.await;
        let _ = stop_workers.send(true);
        if tokio::time::timeout(Duration::from_secs(30), worker)
            .await
            .is_err()
        {
            tracing::warn!("the mail worker did not finish in 30 s; unsent mail stays queued");
        }
        served.context("the web server stopped with an error")
    }
}

fn listen_display(bind_addr: &str, port: u16) -> String {
    match bind_addr.rsplit_once(':') {
        Some((host, _)) => format!("{host}:{port}"),
        None => bind_addr.to_owned(),
    }
}
