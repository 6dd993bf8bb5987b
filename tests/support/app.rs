//! The app in-process for a test: its own database (see [`TestDatabase`]), a real SMTP
//! server on port 0, the web server on port 0, and a client with one method per
//! endpoint.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use newsletter::db::schema::{deliveries, outgoing_emails};
use newsletter::digest::delivery::{DigestCache, deliver_due};
use newsletter::{AppState, Application, Settings};
use tempfile::TempDir;

use super::database::TestDatabase;
use super::smtp_server::{ReceivedMail, SmtpServer};
use super::{ADMIN_TOKEN, link_in, serde_urlencoded_pair};

/// A running app and what a test needs to drive and inspect it.
pub struct TestApp {
    pub address: String,
    pub smtp: SmtpServer,
    pub client: reqwest::Client,
    pub state: AppState,
    pub database: Arc<TestDatabase>,
    pub dir: TempDir,
    /// The port of `METRICS_ADDR`'s listener, when the test set one.
    pub metrics_port: Option<u16>,
}

/// Starts an app with the test defaults.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts an app with some settings overridden (e.g. `("SIGNUP_RATE_PER_MINUTE", "3")`).
pub async fn spawn_app_with(overrides: &[(&str, &str)]) -> TestApp {
    let smtp = SmtpServer::start().await;
    spawn_app_on_smtp(smtp, overrides).await
}

/// Starts an app that sends to `smtp`, which may be a server that is shut down.
pub async fn spawn_app_on_smtp(smtp: SmtpServer, overrides: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let database = Arc::new(TestDatabase::new(dir.path().join("newsletter.db")));
    start(dir, database, smtp, overrides)
}

/// Starts an app that serves and runs no worker (`serve --no-workers`): nothing is sent
/// but what the test sends with [`TestApp::drain_queues`].
pub async fn spawn_web_only_app() -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let database = Arc::new(TestDatabase::new(dir.path().join("newsletter.db")));
    start_as(dir, database, SmtpServer::start().await, &[], false)
}

/// Starts an app on an existing database, e.g. the one another app or a CLI run used,
/// as a restart would.
pub async fn spawn_app_on_database(
    database: Arc<TestDatabase>,
    overrides: &[(&str, &str)],
) -> TestApp {
    let dir = tempfile::tempdir().expect("a temporary folder");
    start(dir, database, SmtpServer::start().await, overrides)
}

fn start(
    dir: TempDir,
    database: Arc<TestDatabase>,
    smtp: SmtpServer,
    overrides: &[(&str, &str)],
) -> TestApp {
    start_as(dir, database, smtp, overrides, true)
}

fn start_as(
    dir: TempDir,
    database: Arc<TestDatabase>,
    smtp: SmtpServer,
    overrides: &[(&str, &str)],
    workers: bool,
) -> TestApp {
    newsletter::telemetry::init_for_tests();
    assert!(
        overrides.iter().all(|(name, _)| *name != "DATABASE_URL"),
        "the database comes from TestDatabase, so that every test can run on either engine"
    );
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    let port = listener.local_addr().expect("a bound address").port();
    let address = format!("http://127.0.0.1:{port}");
    let mut env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), database.url().to_owned()),
        ("BASE_URL".into(), address.clone()),
        ("SMTP_URL".into(), smtp.url()),
        (
            "MAIL_FROM".into(),
            "The Astana Times <newsletter@astanatimes.test>".into(),
        ),
        ("NEWSLETTER_NAME".into(), "The Astana Times".into()),
        ("ADMIN_TOKEN".into(), ADMIN_TOKEN.into()),
        // Tests sign up many addresses from one client; the limit has its own tests.
        ("SIGNUP_RATE_PER_MINUTE".into(), "0".into()),
        ("CONFIRM_MAILS_PER_ADDRESS_PER_DAY".into(), "1000".into()),
    ];
    for (name, value) in overrides {
        env.retain(|(n, _)| n != name);
        env.push((name.to_string(), value.to_string()));
    }
    let mut settings = Settings::from_map(&env.into_iter().collect()).expect("valid test settings");
    // Retries within milliseconds, so fault tests finish quickly.
    settings.retry.first_delay = Duration::from_millis(50);
    settings.retry.max_delay = Duration::from_millis(400);
    let app = Application::build_with_listener(settings, listener).expect("the app builds");
    let state = app.state().clone();
    let metrics_port = app.metrics_port();
    match workers {
        true => tokio::spawn(app.run_until_stopped()),
        false => tokio::spawn(app.run_web_only()),
    };
    TestApp {
        address,
        smtp,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client"),
        state,
        database,
        dir,
        metrics_port,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path_or_url: &str) -> reqwest::Response {
        self.client
            .get(self.absolute(path_or_url))
            .send()
            .await
            .expect("GET")
    }

    pub async fn post_empty(&self, path_or_url: &str) -> reqwest::Response {
        self.client
            .post(self.absolute(path_or_url))
            .send()
            .await
            .expect("POST")
    }

    fn absolute(&self, path_or_url: &str) -> String {
        if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            self.url(path_or_url)
        }
    }

    /// `POST /subscriptions` with a raw form-urlencoded body.
    pub async fn post_subscriptions(&self, body: impl Into<String>) -> reqwest::Response {
        self.post_form("/subscriptions", body, &[]).await
    }

    /// `POST /subscriptions` as a client whose request carries `X-Forwarded-For`.
    pub async fn post_subscriptions_from(
        &self,
        forwarded_for: &str,
        body: impl Into<String>,
    ) -> reqwest::Response {
        self.post_form(
            "/subscriptions",
            body,
            &[("X-Forwarded-For", forwarded_for)],
        )
        .await
    }

    /// POSTs a form-urlencoded `body` to `path` with extra `headers`.
    pub async fn post_form(
        &self,
        path: &str,
        body: impl Into<String>,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(body.into()).send().await.expect("POST a form")
    }

    /// Signs up through the form, with the fields encoded as a browser would.
    pub async fn sign_up(&self, email: &str, name: &str) -> reqwest::Response {
        let body = serde_urlencoded_pair(&[("email", email), ("name", name)]);
        self.post_subscriptions(body).await
    }

    /// Sends everything that is due through the library's own queue functions (the
    /// app's workers may run beside: both take leases), and returns once nothing due is
    /// left unsent, in flight in a worker included. Retries waiting for a later time are
    /// not due.
    pub async fn drain_queues(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let mut cache = DigestCache::default();
        loop {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the queues did not drain in 30 s"
            );
            let sent = newsletter::mail::queue::send_due(&self.state)
                .await
                .expect("the mail queue is processed");
            let delivered = deliver_due(&self.state, &mut cache, None)
                .await
                .expect("the digest deliveries are processed");
            if sent + delivered > 0 {
                continue;
            }
            if self.due_messages().await == 0 {
                return;
            }
            // Held by the app's own worker: its send is under way.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Queued mail and pending deliveries whose time has come, leased or not.
    async fn due_messages(&self) -> i64 {
        self.state
            .db
            .run(|conn| {
                let now = newsletter::db::now();
                let mail: i64 = outgoing_emails::table
                    .filter(outgoing_emails::status.eq("queued"))
                    .filter(outgoing_emails::next_attempt_at.le(now))
                    .count()
                    .get_result(conn)?;
                let digests: i64 = deliveries::table
                    .filter(deliveries::status.eq("pending"))
                    .filter(deliveries::next_attempt_at.le(now))
                    .count()
                    .get_result(conn)?;
                Ok(mail + digests)
            })
            .await
            .expect("the queues can be read")
    }

    /// Waits until `address` has had `count` mails (all it had when that never
    /// happens): drains the queues, then polls while retries come due.
    pub async fn wait_for_mail_to(&self, address: &str, count: usize) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            self.drain_queues().await;
            let mails = self.smtp.messages_to(address);
            if mails.len() >= count || tokio::time::Instant::now() > deadline {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Signs `email` up and returns the confirmation link from the mail it receives.
    pub async fn sign_up_and_get_link(&self, email: &str, name: &str) -> String {
        let before = self.smtp.messages_to(email).len();
        assert_eq!(self.sign_up(email, name).await.status(), 200);
        let mails = self.wait_for_mail_to(email, before + 1).await;
        assert_eq!(mails.len(), before + 1, "one confirmation mail arrives");
        self.confirmation_link(&mails[before])
    }

    /// Signs up and confirms; returns the subscriber's id.
    pub async fn confirmed_subscriber(&self, email: &str, name: &str) -> i64 {
        let link = self.sign_up_and_get_link(email, name).await;
        assert_eq!(self.post_empty(&link).await.status(), 200);
        self.subscriber_id(email).await
    }

    /// The confirmation link in a mail's text part.
    pub fn confirmation_link(&self, mail: &ReceivedMail) -> String {
        link_in(
            &mail.text_body(),
            &self.url("/subscriptions/confirm?token="),
        )
    }

    /// A subscriber's status straight from the database.
    pub async fn subscriber_status(&self, email: &str) -> Option<String> {
        let email = newsletter::domain::EmailAddress::parse(email).expect("a valid address");
        self.state
            .db
            .run(move |conn| newsletter::db::subscribers::find_by_email(conn, &email))
            .await
            .expect("query")
            .map(|s| s.status.as_str().to_owned())
    }

    pub async fn subscriber_id(&self, email: &str) -> i64 {
        let email = newsletter::domain::EmailAddress::parse(email).expect("a valid address");
        self.state
            .db
            .run(move |conn| newsletter::db::subscribers::find_by_email(conn, &email))
            .await
            .expect("query")
            .expect("the subscriber exists")
            .id
    }

    pub async fn subscriber_count(&self) -> i64 {
        self.state
            .db
            .run(|conn| Ok(newsletter::db::subscribers::list(conn, None, 1, 1)?.1))
            .await
            .expect("query")
    }

    /// The unsubscribe link the app would put into mail for subscriber `id`.
    pub fn unsubscribe_link(&self, id: i64) -> String {
        self.state.unsubscribe_url(id)
    }

    /// `POST /api/...` with the admin token and a JSON body.
    pub async fn api_post(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("API POST")
    }

    /// Adds an article through the API; returns its id.
    pub async fn add_article(&self, title: &str, url: &str) -> i64 {
        let response = self
            .api_post("/api/articles", &serde_json::json!({ "title": title, "url": url, "summary": format!("Summary of {title}") }))
            .await;
        assert_eq!(response.status(), 201, "article {url} is added");
        response.json::<serde_json::Value>().await.expect("JSON")["id"]
            .as_i64()
            .expect("an id")
    }

    /// `POST /api/digests`.
    pub async fn send_digest_now(&self) -> reqwest::Response {
        self.client
            .post(self.url("/api/digests"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("POST /api/digests")
    }

    /// Sends a digest of what is waiting now and drives it to the end; returns its last
    /// `GET /api/digests/{id}`.
    pub async fn send_digest_and_wait(&self) -> serde_json::Value {
        let created: serde_json::Value = self.send_digest_now().await.json().await.expect("JSON");
        self.wait_for_digest(created["id"].as_i64().expect("a digest id"))
            .await
    }

    /// Drains the queues and reads `GET /api/digests/{id}` until nothing is pending
    /// (retries come due meanwhile); returns the last answer.
    pub async fn wait_for_digest(&self, id: i64) -> serde_json::Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            self.drain_queues().await;
            let status: serde_json::Value = self
                .api_get(&format!("/api/digests/{id}"))
                .await
                .json()
                .await
                .expect("JSON");
            if status["pending"] == 0 && status["status"] == "sent"
                || tokio::time::Instant::now() > deadline
            {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Adds confirmed readers straight to the database (as an import would).
    pub async fn import_confirmed(&self, emails: &[&str]) -> Vec<i64> {
        let emails: Vec<String> = emails.iter().map(|e| e.to_string()).collect();
        self.state
            .db
            .run(move |conn| {
                let now = newsletter::db::now();
                let mut ids = Vec::new();
                for email in &emails {
                    let email =
                        newsletter::domain::EmailAddress::parse(email).expect("a valid address");
                    newsletter::db::subscribers::import_confirmed(conn, &email, None, now)?;
                    ids.push(
                        newsletter::db::subscribers::find_by_email(conn, &email)?
                            .expect("imported")
                            .id,
                    );
                }
                Ok(ids)
            })
            .await
            .expect("import")
    }

    /// Sets a subscriber's status directly, for setting up a test.
    pub async fn set_status(&self, id: i64, status: &'static str) {
        self.state
            .db
            .run(move |conn| {
                use diesel::prelude::*;
                use newsletter::db::schema::subscribers;
                diesel::update(subscribers::table.find(id))
                    .set(subscribers::status.eq(status))
                    .execute(conn)?;
                Ok(())
            })
            .await
            .expect("update");
    }

    /// Reader `subscriber_id`'s delivery of digest `digest_id`: its status, attempts and
    /// whether no worker holds it; `("unqueued", 0, true)` before the workers have queued
    /// it (they queue a digest's readers as they send it).
    pub async fn delivery_state(&self, digest_id: i64, subscriber_id: i64) -> (String, i32, bool) {
        self.state
            .db
            .run(move |conn| {
                let row = deliveries::table
                    .find((digest_id, subscriber_id))
                    .select((
                        deliveries::status,
                        deliveries::attempts,
                        deliveries::locked_until.is_null(),
                    ))
                    .first::<(String, i32, bool)>(conn)
                    .optional()?;
                Ok(row.unwrap_or(("unqueued".to_owned(), 0, true)))
            })
            .await
            .expect("the delivery")
    }

    /// `PATCH /api/...` with the admin token and a JSON body.
    pub async fn api_patch(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .patch(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .json(body)
            .send()
            .await
            .expect("API PATCH")
    }

    /// `DELETE /api/...` with the admin token.
    pub async fn api_delete(&self, path: &str) -> reqwest::Response {
        self.client
            .delete(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("API DELETE")
    }

    /// Creates a newsletter through `POST /api/newsletters` (`body` as that route takes
    /// it); returns its id, which the API does not show, for tests that look into the
    /// database.
    pub async fn create_newsletter(&self, body: &serde_json::Value) -> i64 {
        let response = self.api_post("/api/newsletters", body).await;
        assert_eq!(response.status(), 201, "newsletter {body} is created");
        let slug = body["slug"].as_str().expect("a slug").to_owned();
        self.state
            .db
            .run(move |conn| newsletter::db::newsletters::find_by_slug(conn, &slug))
            .await
            .expect("query")
            .expect("the newsletter just created")
            .id
    }

    /// `GET /api/...` with the admin token.
    pub async fn api_get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .expect("API GET")
    }
}
