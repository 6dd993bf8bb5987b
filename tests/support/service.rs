//! `newsletter serve` as a separate process on the test's database, logging to a file the
//! test can read; for what only a real process shows (a crash, limits, memory).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::database::TestDatabase;
use super::smtp_server::unused_port;
use super::workspace::SETTINGS;
use super::{ADMIN_TOKEN, serde_urlencoded_pair};

/// The service as a separate process; killed when dropped.
pub struct Service {
    child: Child,
    pub address: String,
    pub client: reqwest::Client,
    log: PathBuf,
}

impl Service {
    /// Starts `newsletter serve` in `dir` on a free port with its database at `database`
    /// and mail going to `smtp_url`; `env` adds or overrides settings. Returns once
    /// `/health` answers 200.
    pub async fn start(
        dir: &Path,
        database: &TestDatabase,
        smtp_url: &str,
        env: &[(&str, &str)],
    ) -> Service {
        Service::start_on(unused_port(), dir, database, smtp_url, env).await
    }

    /// Like [`Service::start`] on `port`, so that a restart is where the first run was.
    pub async fn start_on(
        port: u16,
        dir: &Path,
        database: &TestDatabase,
        smtp_url: &str,
        env: &[(&str, &str)],
    ) -> Service {
        let mut command = Command::new(env!("CARGO_BIN_EXE_newsletter"));
        command.arg("serve");
        Service::start_command(command, port, dir, database, smtp_url, env).await
    }

    /// `newsletter serve --no-workers`: the web app only, sending nothing.
    pub async fn start_web_only(
        dir: &Path,
        database: &TestDatabase,
        smtp_url: &str,
        env: &[(&str, &str)],
    ) -> Service {
        let mut command = Command::new(env!("CARGO_BIN_EXE_newsletter"));
        command.args(["serve", "--no-workers"]);
        Service::start_command(command, unused_port(), dir, database, smtp_url, env).await
    }

    /// Like [`Service::start`], with `SIGXFSZ` ignored (the disposition survives `exec`),
    /// so a write past the file size limit fails with `EFBIG` instead of killing the
    /// process.
    pub async fn start_ignoring_sigxfsz(
        dir: &Path,
        database: &TestDatabase,
        smtp_url: &str,
        env: &[(&str, &str)],
    ) -> Service {
        let mut command = Command::new("sh");
        command
            .args(["-c", r#"trap '' XFSZ; exec "$0" serve"#])
            .arg(env!("CARGO_BIN_EXE_newsletter"));
        Service::start_command(command, unused_port(), dir, database, smtp_url, env).await
    }

    /// Like [`Service::start`] under an open-file limit (soft and hard), as a small
    /// server or container has.
    pub async fn start_with_open_file_limit(
        dir: &Path,
        database: &TestDatabase,
        smtp_url: &str,
        env: &[(&str, &str)],
        limit: u32,
    ) -> Service {
        let mut command = Command::new("sh");
        command
            .args(["-c", &format!(r#"ulimit -n {limit} && exec "$0" serve"#)])
            .arg(env!("CARGO_BIN_EXE_newsletter"));
        Service::start_command(command, unused_port(), dir, database, smtp_url, env).await
    }

    async fn start_command(
        mut command: Command,
        port: u16,
        dir: &Path,
        database: &TestDatabase,
        smtp_url: &str,
        env: &[(&str, &str)],
    ) -> Service {
        let address = format!("http://127.0.0.1:{port}");
        let log = dir.join(format!("service-{port}.log"));
        let log_file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log)
            .expect("a log file");
        for name in SETTINGS {
            command.env_remove(name);
        }
        command
            .current_dir(dir)
            .env("DATABASE_URL", database.url())
            .env("BIND_ADDR", format!("127.0.0.1:{port}"))
            .env("BASE_URL", &address)
            .env("SMTP_URL", smtp_url)
            .env("ADMIN_TOKEN", ADMIN_TOKEN)
            .env("DIGEST_CRON", "")
            .env("FEED_CRON", "")
            .env("SIGNUP_RATE_PER_MINUTE", "0")
            .env("RUST_LOG", "warn")
            .env("NO_COLOR", "1");
        for (name, value) in env {
            command.env(name, value);
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::from(log_file))
            .spawn()
            .expect("the binary starts");
        let mut service = Service {
            child,
            address,
            client: reqwest::Client::builder()
                // A request that hangs is a failure, not a stuck test.
                .timeout(Duration::from_secs(20))
                .build()
                .expect("a client"),
            log,
        };
        for _ in 0..200 {
            if let Ok(response) = service.get("/health").await
                && response.status() == 200
            {
                return service;
            }
            assert!(
                service.is_running(),
                "the service exited at start:\n{}",
                service.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the service did not become healthy:\n{}", service.log());
    }

    /// SIGKILL: no shutdown code runs, exactly like a crash or the OOM killer.
    pub fn kill(mut self) {
        self.child.kill().expect("kill -9");
        self.child.wait().expect("reaped");
    }

    /// SIGTERM, as systemd or Docker stop a service: waits up to `limit` for the process
    /// to exit and returns how it exited and how long it took (`None`: still running at
    /// `limit`, then killed).
    pub async fn terminate(
        mut self,
        limit: Duration,
    ) -> (Option<std::process::ExitStatus>, Duration) {
        terminate_child(&mut self.child, limit).await
    }

    /// Sends SIGTERM and returns at once (see [`Service::terminate`] to wait too).
    pub fn signal_terminate(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "SIGTERM was sent");
    }

    /// Waits up to `limit` for the process to exit by itself.
    pub async fn wait_for_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = std::time::Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(exit)) = self.child.try_wait() {
                return Some(exit);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        None
    }

    /// Everything the service has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The port it serves on.
    pub fn port(&self) -> u16 {
        self.address
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("an address with a port")
    }

    /// The most memory the process has held (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("the process's status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("a VmHWM line")
    }

    /// Whether the process is still alive.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Result<reqwest::Response> {
        self.client.get(self.url(path)).send().await
    }

    /// `POST /subscriptions` as a browser sends it.
    pub async fn sign_up(&self, email: &str) -> reqwest::Result<reqwest::Response> {
        self.client
            .post(self.url("/subscriptions"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded_pair(&[("email", email), ("name", "")]))
            .send()
            .await
    }

    /// `POST /api/...` with the admin token and a JSON body.
    pub async fn api_post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> reqwest::Result<reqwest::Response> {
        self.client
            .post(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
    }

    /// `POST /api/articles` with a title and a URL.
    pub async fn post_article(&self, title: &str, url: &str) -> reqwest::Response {
        self.api_post(
            "/api/articles",
            &serde_json::json!({ "title": title, "url": url }),
        )
        .await
        .expect("POST /api/articles")
    }

    /// `GET /api/...` with the admin token, as JSON.
    pub async fn api_get(&self, path: &str) -> serde_json::Value {
        self.client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("an answer")
            .json()
            .await
            .expect("JSON")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends SIGTERM to `child` and waits up to `limit` for it to exit (killing it past
/// that); returns its exit status, if it exited by itself, and how long it took. It
/// waits asynchronously: the SMTP server the process is sending to runs on the test's
/// own thread, and must go on answering meanwhile.
pub async fn terminate_child(
    child: &mut Child,
    limit: Duration,
) -> (Option<std::process::ExitStatus>, Duration) {
    let started = std::time::Instant::now();
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(sent.success(), "SIGTERM was sent");
    while started.elapsed() < limit {
        if let Ok(Some(exit)) = child.try_wait() {
            return (Some(exit), started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    (None, started.elapsed())
}
