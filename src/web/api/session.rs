//! `POST /api/login`, `POST /api/logout`, `GET /api/me`: sessions for the console.
//!
//! Invariants:
//! - A login refused by the guard (its name locked, or its address blocked) is answered
//!   429 with `Retry-After` before the password is looked at, and is audited like any
//!   failed login. A name is not locked for the address it last logged in from, unless
//!   the failures came from there.
//! - Unknown names and wrong passwords get the same 401 after the same amount of argon2
//!   work, so the answer does not tell which names exist.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::Deserialize;
use serde_json::json;

use super::error::ApiError;
use super::params::{json_body, Remote};
use crate::model::format_time;
use crate::store::AuditEntry;
use crate::web::auth::{self, level, Auth, SharedGuard};
use crate::web::credentials;
use crate::web::WebContext;

#[derive(Deserialize)]
struct Credentials {
    username: String,
    password: String,
}

fn audit_entry(action: &str, username: &str, remote: &Remote, detail: Option<&str>) -> AuditEntry {
    AuditEntry {
        at: format_time(jiff::Timestamp::now()),
        username: Some(username.to_owned()),
        action: action.into(),
        call_id: None,
        remote: remote.text(),
        detail: detail.map(str::to_owned),
    }
}

pub async fn login(
    State(ctx): State<WebContext>,
    Extension(guard): Extension<SharedGuard>,
    remote: Remote,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let creds: Credentials = json_body(&body)?;
    // Names are short; a megabyte "name" would only bloat the limiter and the audit log.
    let username: String = creds.username.chars().take(64).collect();
    let addr = auth::client_ip(&ctx.config.http, remote.0, &headers)
        .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let checked = guard
        .lock()
        .expect("the guard's lock is never held across a panic")
        .check(addr, &username, Instant::now());
    if let Err(retry_after) = checked {
        ctx.store
            .audit(&audit_entry(
                "login_failed",
                &username,
                &remote,
                Some("rate_limited"),
            ))
            .await?;
        return Err(ApiError::TooManyRequests { retry_after });
    }

    let user = ctx.store.user(&username).await?;
    let phc = user.as_ref().map_or_else(
        || credentials::dummy_hash().to_owned(),
        |u| u.password_hash.clone(),
    );
    let password = creds.password;
    // argon2 is deliberately slow: keep it off the async workers.
    let matches =
        tokio::task::spawn_blocking(move || credentials::verify_password(&phc, &password))
            .await
            .unwrap_or(false);
    let user = match user {
        Some(u) if matches => u,
        _ => {
            let delay = guard
                .lock()
                .expect("the guard's lock is never held across a panic")
                .record_failure(addr, &username, Instant::now());
            ctx.store
                .audit(&audit_entry("login_failed", &username, &remote, None))
                .await?;
            if let Some(delay) = delay {
                // The guesser waits; other logins do not (the lock is not held).
                tokio::time::sleep(delay).await;
            }
            return Err(ApiError::Unauthorized);
        }
    };
    guard
        .lock()
        .expect("the guard's lock is never held across a panic")
        .record_success(addr, &username, Instant::now());

    let token = credentials::new_token();
    let now = jiff::Timestamp::now();
    ctx.store
        .create_session(
            &credentials::token_digest(&token),
            &user.username,
            &format_time(now),
            &auth::idle_cutoff(now),
        )
        .await?;
    ctx.store
        .audit(&audit_entry("login", &user.username, &remote, None))
        .await?;
    let tls = auth::came_over_tls(&ctx.config.http, remote.0, &headers);
    let cookie = auth::session_set_cookie(&token, tls);
    let mut response =
        Json(json!({ "username": user.username, "role": user.role.as_str() })).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("hex token and fixed flags are header-safe"),
    );
    Ok(response)
}

pub async fn logout(
    Auth(who): Auth<{ level::OPERATOR }>,
    State(ctx): State<WebContext>,
    remote: Remote,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = auth::session_cookie(&headers) {
        ctx.store
            .delete_session(&credentials::token_digest(token))
            .await?;
    }
    ctx.store
        .audit(&audit_entry("logout", &who.username, &remote, None))
        .await?;
    let tls = auth::came_over_tls(&ctx.config.http, remote.0, &headers);
    let cookie = auth::session_clear_cookie(tls);
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).expect("fixed cookie text is header-safe"),
    );
    Ok(response)
}

pub async fn me(Auth(who): Auth<{ level::OPERATOR }>) -> Json<serde_json::Value> {
    let mut me = json!({ "username": who.username, "role": who.role.as_str() });
    // Only an operator is someone on the line; other roles keep their two fields.
    if let Some(id) = who.operator_id {
        me["operator_id"] = json!(id);
    }
    Json(me)
}
