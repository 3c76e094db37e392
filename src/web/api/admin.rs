//! The admin's endpoints: the audit log, users, API tokens.
//!
//! Invariant: a password or token is never echoed back except the new token itself, once,
//! in the answer that creates it; the store keeps only their hashes.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::params::{json_body, Params, Remote};
use crate::model::format_time;
use crate::store::{AuditEntry, Role};
use crate::web::auth::{level, Auth};
use crate::web::credentials;
use crate::web::WebContext;

/// Passwords shorter than this are refused.
pub const MIN_PASSWORD: usize = 8;

pub async fn audit(
    Auth(_): Auth<{ level::ADMIN }>,
    State(ctx): State<WebContext>,
    Query(query): Query<Vec<(String, String)>>,
) -> Result<Json<Value>, ApiError> {
    let (limit, offset) = Params::new(query).page()?;
    let (entries, total) = ctx.store.audit_entries(limit, offset).await?;
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            json!({
                "at": e.at,
                "username": e.username,
                "action": e.action,
                "call_id": e.call_id,
                "remote": e.remote,
                "detail": e.detail,
            })
        })
        .collect();
    Ok(Json(json!({ "entries": entries, "total": total })))
}

pub async fn users(
    Auth(_): Auth<{ level::ADMIN }>,
    State(ctx): State<WebContext>,
) -> Result<Json<Value>, ApiError> {
    let users: Vec<Value> = ctx
        .store
        .users()
        .await?
        .into_iter()
        .map(|u| json!({ "username": u.username, "role": u.role.as_str(), "created_at": u.created_at, "operator_id": u.operator_id }))
        .collect();
    Ok(Json(Value::Array(users)))
}

/// Whether `name` is acceptable as a username: 1 to 64 of `[A-Za-z0-9._-]`.
pub fn valid_username(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Checks a new user's name and password (shared with the `user add` command).
pub fn check_new_user(username: &str, password: &str) -> Result<(), ApiError> {
    if !valid_username(username) {
        return Err(ApiError::bad("username", "1 to 64 of A-Z a-z 0-9 . _ -"));
    }
    let n = password.chars().count();
    if !(MIN_PASSWORD..=1024).contains(&n) {
        return Err(ApiError::bad("password", "8 to 1024 characters"));
    }
    Ok(())
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: String,
    role: String,
    /// For role `operator`: the operator id the user is.
    #[serde(default)]
    operator: Option<String>,
}

pub async fn add_user(
    Auth(who): Auth<{ level::ADMIN }>,
    State(ctx): State<WebContext>,
    remote: Remote,
    body: Bytes,
) -> Result<Response, ApiError> {
    let new: NewUser = json_body(&body)?;
    check_new_user(&new.username, &new.password)?;
    let role = Role::parse(&new.role)
        .ok_or_else(|| ApiError::bad("role", "operator, qa, supervisor or admin"))?;
    let operator = match (role, new.operator.as_deref()) {
        (Role::Operator, Some(id)) if is_operator_id(id) => Some(id.to_owned()),
        (Role::Operator, _) => return Err(ApiError::bad("operator", "an operator id is needed")),
        (_, None) => None,
        (_, Some(_)) => return Err(ApiError::bad("operator", "only for role operator")),
    };
    let password = new.password;
    let phc = tokio::task::spawn_blocking(move || credentials::hash_password(&password))
        .await
        .map_err(|e| ApiError::Io(std::io::Error::other(e)))??;
    let now = format_time(jiff::Timestamp::now());
    let added = match &operator {
        Some(id) => {
            ctx.store
                .add_operator_user(&new.username, &phc, id, &now)
                .await?
        }
        None => ctx.store.add_user(&new.username, &phc, role, &now).await?,
    };
    if !added {
        return Err(ApiError::Refused(format!("user `{}` exists", new.username)));
    }
    ctx.store
        .audit(&AuditEntry {
            at: now,
            username: Some(who.username),
            action: "user_add".into(),
            call_id: None,
            remote: remote.text(),
            detail: Some(format!("user={} role={}", new.username, role.as_str())),
        })
        .await?;
    let body =
        Json(json!({ "username": new.username, "role": role.as_str(), "operator_id": operator }));
    Ok((StatusCode::CREATED, body).into_response())
}

#[derive(Deserialize)]
struct NewToken {
    name: String,
    username: String,
}

pub async fn add_token(
    Auth(who): Auth<{ level::ADMIN }>,
    State(ctx): State<WebContext>,
    remote: Remote,
    body: Bytes,
) -> Result<Response, ApiError> {
    let new: NewToken = json_body(&body)?;
    let name = new.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ApiError::bad("name", "1 to 100 printable characters"));
    }
    let token = credentials::new_token();
    let now = format_time(jiff::Timestamp::now());
    if !ctx
        .store
        .add_token(
            &credentials::token_digest(&token),
            name,
            &new.username,
            &now,
        )
        .await?
    {
        return Err(ApiError::NotFound("user"));
    }
    ctx.store
        .audit(&AuditEntry {
            at: now,
            username: Some(who.username),
            action: "token_add".into(),
            call_id: None,
            remote: remote.text(),
            detail: Some(format!("name={name} user={}", new.username)),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(json!({ "token": token }))).into_response())
}

/// Whether an operator id is plausible (what `[[operators]] id` accepts: a SIP user name).
pub fn is_operator_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_plain() {
        assert!(valid_username("anna.k"));
        assert!(valid_username("qa_2"));
        assert!(!valid_username(""));
        assert!(!valid_username("anna k"));
        assert!(!valid_username("анна"));
        assert!(!valid_username(&"a".repeat(65)));
    }

    #[test]
    fn short_passwords_are_refused_by_name() {
        let e = check_new_user("anna", "short").unwrap_err();
        assert!(e.to_string().contains("`password`"), "{e}");
        assert!(check_new_user("anna", "long enough").is_ok());
    }
}
