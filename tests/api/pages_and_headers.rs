//! The sign-up page, the security headers every page carries, health, and 404s.

use crate::support::spawn_app;

#[tokio::test]
async fn the_sign_up_page_has_a_labelled_form_posting_email_and_name() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let page = response.text().await.unwrap();
    assert!(page.contains(r#"<form method="post" action="/subscriptions""#));
    assert!(page.contains(r#"<label for="email">"#) && page.contains(r#"id="email" name="email""#));
    assert!(page.contains(r#"<label for="name">"#) && page.contains(r#"id="name" name="name""#));
    assert!(page.contains("The Astana Times"));
    assert!(page.contains(r#"name="viewport""#), "readable on a phone");
    assert!(!page.contains("<script"), "no JavaScript needed");
}

#[tokio::test]
async fn pages_carry_a_strict_csp_and_the_other_security_headers() {
    let app = spawn_app().await;
    for path in ["/", "/subscriptions/confirm?token=x", "/nope"] {
        let response = app.get(path).await;
        let headers = response.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"),
            "{path}: {csp}"
        );
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["referrer-policy"], "no-referrer");
    }
}

#[tokio::test]
async fn the_stylesheet_is_served() {
    let app = spawn_app().await;
    let response = app.get("/static/style.css").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

#[tokio::test]
async fn health_answers_200_with_json_when_the_database_answers() {
    let app = spawn_app().await;
    let response = app.get("/health").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn an_unknown_page_answers_404_with_a_page() {
    let app = spawn_app().await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}
