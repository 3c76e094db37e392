//! The API's errors and how each is answered: `{"error": "<text>"}` with the status the
//! contract gives (400 names the parameter, 401, 403, 404, 409, 415, 416, 429 with
//! `Retry-After`), 503 when the
//! line is not running, 500 for our own failures (logged, never detailed to the client).

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::store::StoreError;

/// Why a request was not answered with what it asked for.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query or body parameter is malformed or out of range.
    #[error("bad parameter `{param}`: {reason}")]
    BadParam { param: &'static str, reason: String },
    /// The body is not the JSON the endpoint expects.
    #[error("bad request body: {0}")]
    BadBody(String),
    /// No credentials, or credentials that are unknown or expired.
    #[error("authentication required")]
    Unauthorized,
    /// Authenticated, but the role is too low for this endpoint.
    #[error("your role does not allow this")]
    Forbidden,
    /// No such call, user, operator or API path.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// The thing existed and was destroyed on purpose (a recording past its retention).
    #[error("{0}")]
    Gone(String),
    /// The switchboard refused a supervisor command.
    #[error("{0}")]
    Refused(String),
    /// A `Range` header we cannot answer, for a resource of `len` bytes.
    #[error("range not satisfiable")]
    RangeNotSatisfiable { len: u64 },
    /// Too many failed logins from this address or for this name; the lock lifts after
    /// `retry_after`.
    #[error("too many failed logins; try again in {} s", retry_after.as_secs().max(1))]
    TooManyRequests { retry_after: std::time::Duration },
    /// A changing request from another site (its `Origin` or `Referer` is not ours), or a
    /// cookie-authenticated one that names no origin at all.
    #[error("cross-site request refused")]
    CrossSite,
    /// A changing request whose body is not declared as JSON.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// The line (engine) is stopping or not running, so live requests get no answer.
    #[error("the line is not running")]
    Unavailable,
    /// No provider to place a call through (not configured, or not registered now).
    #[error("{0}")]
    NoProvider(String),
    /// The request is valid but this build cannot carry it out.
    #[error("{0}")]
    NotImplemented(&'static str),
    /// The store failed.
    #[error("internal error")]
    Store(#[from] StoreError),
    /// Reading a recording or another local file failed.
    #[error("internal error")]
    Io(#[from] std::io::Error),
    /// Hashing a password failed.
    #[error("internal error")]
    Auth(#[from] crate::web::credentials::AuthError),
}

impl ApiError {
    pub fn bad(param: &'static str, reason: impl Into<String>) -> ApiError {
        ApiError::BadParam {
            param,
            reason: reason.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadParam { .. } | ApiError::BadBody(_) => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Gone(_) => StatusCode::GONE,
            ApiError::Refused(_) => StatusCode::CONFLICT,
            ApiError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::CrossSite => StatusCode::FORBIDDEN,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable | ApiError::NoProvider(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::NotImplemented(_) => StatusCode::NOT_IMPLEMENTED,
            ApiError::Store(_) | ApiError::Io(_) | ApiError::Auth(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            match &self {
                ApiError::Store(e) => {
                    tracing::error!(error = %e, "API request failed in the store")
                }
                ApiError::Io(e) => tracing::error!(error = %e, "API request failed reading a file"),
                ApiError::Auth(e) => tracing::error!(error = %e, "API request failed hashing"),
                _ => {}
            }
        }
        let body = Json(serde_json::json!({ "error": self.to_string() }));
        let mut response = (status, body).into_response();
        if let ApiError::RangeNotSatisfiable { len } = self {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{len}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, v);
            }
        }
        if let ApiError::TooManyRequests { retry_after } = self {
            // Whole seconds, rounded up: a client that waits that long is let in.
            let secs = retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if status == StatusCode::UNAUTHORIZED {
            // Tells scripts which scheme works; browsers only show a prompt for Basic.
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_the_contract() {
        assert_eq!(
            ApiError::bad("limit", "x").status(),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(ApiError::Unauthorized.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ApiError::Forbidden.status(), StatusCode::FORBIDDEN);
        assert_eq!(ApiError::NotFound("call").status(), StatusCode::NOT_FOUND);
        assert_eq!(
            ApiError::Refused("no".into()).status(),
            StatusCode::CONFLICT
        );
        assert_eq!(
            ApiError::RangeNotSatisfiable { len: 1 }.status(),
            StatusCode::RANGE_NOT_SATISFIABLE
        );
        let limited = ApiError::TooManyRequests {
            retry_after: std::time::Duration::from_millis(90_500),
        };
        assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(limited.into_response().headers()[header::RETRY_AFTER], "91");
        assert_eq!(ApiError::CrossSite.status(), StatusCode::FORBIDDEN);
        assert_eq!(
            ApiError::UnsupportedMediaType.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
    }

    #[test]
    fn a_bad_parameter_is_named() {
        assert_eq!(
            ApiError::bad("limit", "must be 1..=500").to_string(),
            "bad parameter `limit`: must be 1..=500"
        );
    }

    #[test]
    fn unsatisfiable_ranges_state_the_length() {
        let r = ApiError::RangeNotSatisfiable { len: 44 }.into_response();
        assert_eq!(r.headers()[header::CONTENT_RANGE], "bytes */44");
    }
}
