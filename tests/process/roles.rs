//! Split nodes: `serve --no-workers` serves and sends nothing, `worker` sends what the
//! web nodes queue. On whichever engine the run uses (SQLite also takes several
//! processes on one file).

use std::process::Stdio;
use std::time::Duration;

use crate::support::service::Service;
use crate::support::smtp_server::SmtpServer;
use crate::support::workspace::Workspace;
use crate::support::{eventually, link_in};

#[tokio::test]
async fn a_web_only_node_queues_mail_and_a_worker_node_sends_it() {
    let workspace = Workspace::new();
    let relay = SmtpServer::start().await;
    let web =
        Service::start_web_only(workspace.dir.path(), &workspace.database, &relay.url(), &[]).await;

    let signed_up = web.sign_up("dana.abenova@example.kz").await.unwrap();
    assert_eq!(signed_up.status(), 200);
    // Longer than the mail queue's poll: a node with workers would have sent it by now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(relay.messages().is_empty(), "the web-only node sent mail");

    let mut worker = workspace
        .command(&workspace.database)
        .arg("worker")
        .env("SMTP_URL", relay.url())
        .env("BASE_URL", &web.address)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("newsletter worker starts");
    let confirmation = relay
        .wait_for_messages(1, Duration::from_secs(30))
        .await
        .pop()
        .expect("the worker sends the queued confirmation");
    let link = link_in(
        &confirmation.text_body(),
        &web.url("/subscriptions/confirm?token="),
    );
    let confirmed = web.client.post(&link).send().await.unwrap();
    assert_eq!(confirmed.status(), 200);

    let article = web
        .post_article(
            "Almaty’s new metro line reaches “Kalkaman”",
            "https://astanatimes.test/2026/11/almaty-metro",
        )
        .await;
    assert_eq!(article.status(), 201);
    let digest = web
        .api_post("/api/digests", &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(digest.status(), 202);
    eventually(
        "the worker to send the digest",
        Duration::from_secs(30),
        async || (relay.messages().len() == 2).then_some(()),
    )
    .await;

    // SIGTERM: the worker finishes what is in flight and exits cleanly.
    let pid = worker.id().to_string();
    let stopped = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(stopped.success());
    let exit = worker.wait().unwrap();
    assert!(exit.success(), "the worker exits 0 on SIGTERM: {exit:?}");
}
