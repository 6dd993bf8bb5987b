//! `GET /api/subscribers`: the bearer token check in front of the admin API, and the
//! paged, filtered listing behind it.

use argon2::PasswordHasher;
use argon2::password_hash::SaltString;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use serde_json::Value;

use crate::support::{ADMIN_TOKEN, TestApp, spawn_app, spawn_app_with};

/// `GET path` with exactly the `Authorization` header given (or none).
async fn get_with_authorization(
    app: &TestApp,
    path: &str,
    authorization: Option<&str>,
) -> reqwest::Response {
    get_from(app, path, authorization, None).await
}

/// The same, as client `forwarded_for` behind a `TRUSTED_PROXY` of 127.0.0.1.
async fn get_from(
    app: &TestApp,
    path: &str,
    authorization: Option<&str>,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = app.client.get(app.url(path));
    if let Some(client) = forwarded_for {
        request = request.header("X-Forwarded-For", client);
    }
    if let Some(value) = authorization {
        request = request.header(AUTHORIZATION, value);
    }
    request.send().await.expect("GET")
}

/// Asserts a refusal: 401, a `Bearer` challenge and a JSON `{error}` body.
async fn assert_refused(response: reqwest::Response, case: &str) {
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{case}");
    assert_eq!(
        response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok()),
        Some("Bearer"),
        "{case}"
    );
    let body: Value = response.json().await.expect("a JSON body");
    assert!(body["error"].is_string(), "{case}: {body}");
}

/// `GET /api/subscribers?query` with the admin token; the status and the JSON body.
async fn list(app: &TestApp, query: &str) -> (StatusCode, Value) {
    let response = app.api_get(&format!("/api/subscribers?{query}")).await;
    let status = response.status();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

/// The `email` of each subscriber in a listing, in order.
fn emails(body: &Value) -> Vec<&str> {
    body["subscribers"]
        .as_array()
        .expect("a `subscribers` array")
        .iter()
        .map(|s| s["email"].as_str().expect("an email string"))
        .collect()
}

/// Signs each address up through the form, leaving it pending.
async fn pending_subscribers(app: &TestApp, emails: &[&str]) {
    for email in emails {
        assert_eq!(app.sign_up(email, "").await.status(), 200, "{email}");
    }
}

#[tokio::test]
async fn a_request_without_an_authorization_header_gets_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let response = get_with_authorization(&app, "/api/subscribers", None).await;
    assert_refused(response, "no header").await;
}

#[tokio::test]
async fn wrong_tokens_and_other_schemes_get_401_and_only_the_exact_token_gets_in() {
    // Each case from its own client, so the budget of wrong tokens a client has (tested
    // below) does not turn the later ones into 429s.
    let app = spawn_app_with(&[("TRUSTED_PROXY", "127.0.0.1")]).await;
    let mut off_by_last_char = ADMIN_TOKEN.to_owned();
    let last = off_by_last_char.pop().expect("a non-empty token");
    off_by_last_char.push(if last == 'f' { 'e' } else { 'f' });
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("admin:{ADMIN_TOKEN}")
        )
    );
    let cases = [
        (
            "a wrong token",
            "Bearer not-the-admin-token-at-all".to_owned(),
        ),
        (
            "the last character changed",
            format!("Bearer {off_by_last_char}"),
        ),
        (
            "a prefix of the token",
            format!("Bearer {}", &ADMIN_TOKEN[..10]),
        ),
        (
            "the token with one more character",
            format!("Bearer {ADMIN_TOKEN}x"),
        ),
        ("an empty bearer token", "Bearer ".to_owned()),
        ("the token without a scheme", ADMIN_TOKEN.to_owned()),
        ("the Basic scheme", basic),
        (
            "the Basic scheme with the bare token",
            format!("Basic {ADMIN_TOKEN}"),
        ),
    ];
    for (n, (case, header)) in cases.into_iter().enumerate() {
        let client = format!("203.0.113.{n}");
        let response = get_from(&app, "/api/subscribers", Some(&header), Some(&client)).await;
        assert_refused(response, case).await;
    }

    let response = get_with_authorization(
        &app,
        "/api/subscribers",
        Some(&format!("Bearer {ADMIN_TOKEN}")),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_client_guessing_tokens_is_stopped_with_429_while_others_get_in() {
    let app = spawn_app_with(&[("TRUSTED_PROXY", "127.0.0.1")]).await;
    let guesser = Some("198.51.100.7");
    for n in 0..5 {
        let guess = format!("Bearer guess-number-{n}-0123456789");
        let response = get_from(&app, "/api/subscribers", Some(&guess), guesser).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "guess {n}");
    }
    let right = format!("Bearer {ADMIN_TOKEN}");
    let stopped = get_from(&app, "/api/subscribers", Some(&right), guesser).await;
    assert_eq!(
        stopped.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "even the right token waits a minute"
    );
    let other = get_from(&app, "/api/subscribers", Some(&right), Some("198.51.100.8")).await;
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_bearer_scheme_name_is_case_insensitive() {
    // RFC 9110 §11.1: the authentication scheme is a case-insensitive token.
    let app = spawn_app().await;
    for scheme in ["bearer", "BEARER"] {
        let header = format!("{scheme} {ADMIN_TOKEN}");
        let response = get_with_authorization(&app, "/api/subscribers", Some(&header)).await;
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
    }
}

#[tokio::test]
async fn with_admin_token_unset_the_api_answers_404_even_to_a_token() {
    let app = spawn_app_with(&[("ADMIN_TOKEN", "")]).await;
    let with_token = app.api_get("/api/subscribers").await;
    assert_eq!(with_token.status(), StatusCode::NOT_FOUND);
    assert!(with_token.headers().get(WWW_AUTHENTICATE).is_none());
    let without = get_with_authorization(&app, "/api/subscribers", None).await;
    assert_eq!(without.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_argon2_hash_as_admin_token_lets_in_the_plain_token_it_was_made_from() {
    let plain = "the-newsroom-admin-secret-2024";
    let salt = SaltString::encode_b64(b"0123456789abcdef").expect("a valid salt");
    let phc = argon2::Argon2::default()
        .hash_password(plain.as_bytes(), &salt)
        .expect("hashing works")
        .to_string();
    let app = spawn_app_with(&[("ADMIN_TOKEN", &phc)]).await;

    let response =
        get_with_authorization(&app, "/api/subscribers", Some(&format!("Bearer {plain}"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    for (case, token) in [
        ("the hash itself", phc.as_str()),
        ("another token", "the-newsroom-admin-secret-2025"),
    ] {
        let header = format!("Bearer {token}");
        let response = get_with_authorization(&app, "/api/subscribers", Some(&header)).await;
        assert_refused(response, case).await;
    }
}

#[tokio::test]
async fn the_listing_filters_by_status() {
    let app = spawn_app().await;
    app.confirmed_subscriber("akan@example.kz", "Akan Rakhmetullin")
        .await;
    let leaving = app
        .confirmed_subscriber("michaela@example.se", "Michaela Friberg-Storey")
        .await;
    app.confirmed_subscriber("antonio@example.pt", "António Guterres")
        .await;
    pending_subscribers(
        &app,
        &["pending.one@example.org", "pending.two@example.org"],
    )
    .await;
    let response = app.post_empty(&app.unsubscribe_link(leaving)).await;
    assert_eq!(response.status(), StatusCode::OK);

    let (status, confirmed) = list(&app, "status=confirmed").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        emails(&confirmed),
        ["akan@example.kz", "antonio@example.pt"]
    );
    assert_eq!(confirmed["total"], 2);

    let (_, pending) = list(&app, "status=pending").await;
    assert_eq!(
        emails(&pending),
        ["pending.one@example.org", "pending.two@example.org"]
    );
    assert_eq!(pending["total"], 2);
    for subscriber in pending["subscribers"].as_array().expect("an array") {
        assert_eq!(subscriber["status"], "pending");
    }

    let (_, unsubscribed) = list(&app, "status=unsubscribed").await;
    assert_eq!(emails(&unsubscribed), ["michaela@example.se"]);

    let (_, everyone) = list(&app, "").await;
    assert_eq!(everyone["total"], 5);
    assert_eq!(emails(&everyone).len(), 5);
}

#[tokio::test]
async fn the_listing_pages_oldest_first_with_the_total() {
    let app = spawn_app().await;
    let all = [
        "reader.1@example.org",
        "reader.2@example.org",
        "reader.3@example.org",
        "reader.4@example.org",
        "reader.5@example.org",
    ];
    pending_subscribers(&app, &all).await;

    let (status, first) = list(&app, "page=1&per_page=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(emails(&first), all[..2]);
    assert_eq!(
        (&first["page"], &first["per_page"], &first["total"]),
        (&Value::from(1), &Value::from(2), &Value::from(5))
    );
    let (_, second) = list(&app, "page=2&per_page=2").await;
    assert_eq!(emails(&second), all[2..4]);
    let (_, last) = list(&app, "page=3&per_page=2").await;
    assert_eq!(emails(&last), all[4..]);
    let (status, beyond) = list(&app, "page=4&per_page=2").await;
    assert_eq!(status, StatusCode::OK);
    assert!(emails(&beyond).is_empty());
    assert_eq!(beyond["total"], 5);

    let (_, defaults) = list(&app, "").await;
    assert_eq!(
        (&defaults["page"], &defaults["per_page"]),
        (&Value::from(1), &Value::from(100))
    );
    assert_eq!(emails(&defaults), all);
}

#[tokio::test]
async fn each_subscriber_is_listed_with_id_email_name_status_and_a_utc_created_at() {
    let app = spawn_app().await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(2);
    let id = app
        .confirmed_subscriber("Antonio.Guterres@Example.PT", "António Guterres")
        .await;
    pending_subscribers(&app, &["no.name@example.org"]).await;
    let after = chrono::Utc::now() + chrono::Duration::seconds(2);

    let response = app.api_get("/api/subscribers").await;
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = response.json().await.expect("JSON");
    let subscribers = body["subscribers"].as_array().expect("an array");
    let named = &subscribers[0];
    assert_eq!(named["id"], id);
    assert_eq!(named["email"], "antonio.guterres@example.pt");
    assert_eq!(named["name"], "António Guterres");
    assert_eq!(named["status"], "confirmed");
    let created_at = named["created_at"].as_str().expect("a string");
    assert!(created_at.ends_with('Z'), "{created_at}");
    let parsed = chrono::DateTime::parse_from_rfc3339(created_at).expect("RFC 3339");
    assert!(before <= parsed && parsed <= after, "{created_at}");

    let unnamed = &subscribers[1];
    assert_eq!(unnamed["email"], "no.name@example.org");
    assert!(unnamed["name"].is_null(), "{unnamed}");
    assert!(unnamed["id"].as_i64().expect("an integer id") > id);
}

#[tokio::test]
async fn bad_query_parameters_get_400_with_a_json_error() {
    let app = spawn_app().await;
    for query in [
        "status=nonsense",
        "status=Confirmed",
        "page=0",
        "page=-1",
        "per_page=0",
        "per_page=5000",
        "page=abc",
        "per_page=ten",
        "page=1.5",
    ] {
        let (status, body) = list(&app, query).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(!error.is_empty(), "{query}: {body}");
    }
    let (_, body) = list(&app, "status=nonsense").await;
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("status") && error.contains("nonsense"),
        "{error}"
    );
}
