//! The line's HTTP side as the provider tests read it: `/metrics` and `/readyz`, polled
//! until they say what a test waits for.

use std::time::{Duration, Instant};

use crate::common::TestServer;

/// The status and body of `GET path`.
pub async fn get(server: &TestServer, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("http://{}{path}", server.http))
        .await
        .expect("HTTP answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// Polls `path` until its status and body satisfy `done` (bounded); the body.
pub async fn wait_http(
    server: &TestServer,
    path: &str,
    done: impl Fn(u16, &str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (status, body) = get(server, path).await;
        if done(status, &body) {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "{path} never matched; last: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
