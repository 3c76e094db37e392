//! Cross-site request forgery, refused at the API's door: a changing request (POST, PUT,
//! PATCH, DELETE) must declare a JSON body and come from our own origin, unless it
//! carries a bearer token (a script's credential, which a browser never adds on another
//! site's behalf).
//!
//! Why both checks: a page on another site can make a browser send a `text/plain`,
//! form-encoded or multipart request without asking us first (CORS "simple" requests),
//! so demanding `application/json` makes a cross-site request need a CORS preflight,
//! which we never grant. The origin check stands on its own as well: a browser names the
//! page's origin in `Origin` (or `Referer`) on every changing fetch, so one that names
//! another, or `null`, is refused; a request with a session cookie that names no origin
//! at all is refused too, since only a browser sends the cookie. The `SameSite=Strict`
//! cookie is a third line.
//!
//! Order: the origin (403) is judged before the body's type (415); both before the
//! caller's credentials, so nothing is looked up for a forged request.

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_TYPE, HOST, ORIGIN, REFERER};
use axum::http::{HeaderMap, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::error::ApiError;
use super::auth::{bearer, session_cookie};
use super::WebContext;

/// Whether `method` changes something.
fn changes(method: &Method) -> bool {
    matches!(
        *method,
        Method::POST | Method::PUT | Method::PATCH | Method::DELETE
    )
}

/// `scheme://authority` of a URL (a `Referer`), lowercased.
fn origin_of(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    (!scheme.is_empty() && !authority.is_empty())
        .then(|| format!("{scheme}://{authority}").to_ascii_lowercase())
}

/// Whether `claimed` (an origin) is ours: the configured public origin, or else one whose
/// host and port are the request's `Host`.
fn same_origin(claimed: &str, public_origin: Option<&str>, host: Option<&str>) -> bool {
    let claimed = claimed.trim().to_ascii_lowercase();
    if let Some(ours) = public_origin {
        return claimed == ours;
    }
    let Some(authority) = claimed
        .strip_prefix("http://")
        .or_else(|| claimed.strip_prefix("https://"))
    else {
        return false;
    };
    host.is_some_and(|h| h.trim().eq_ignore_ascii_case(authority))
}

/// The decision for one request.
pub fn judge(
    method: &Method,
    headers: &HeaderMap,
    public_origin: Option<&str>,
) -> Result<(), ApiError> {
    if !changes(method) || bearer(headers).is_some() {
        return Ok(());
    }
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    let claimed = match text(ORIGIN) {
        Some(origin) => Some(origin.to_owned()),
        // An unparsable Referer names no origin we could accept.
        None => text(REFERER).map(|r| origin_of(r).unwrap_or_else(|| "null".into())),
    };
    match claimed {
        Some(origin) if !same_origin(&origin, public_origin, text(HOST)) => {
            return Err(ApiError::CrossSite)
        }
        None if session_cookie(headers).is_some() => return Err(ApiError::CrossSite),
        _ => {}
    }
    let json = text(CONTENT_TYPE).is_some_and(|ct| {
        ct.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    });
    if !json {
        return Err(ApiError::UnsupportedMediaType);
    }
    Ok(())
}

/// The middleware around the API's routes.
pub async fn enforce(State(ctx): State<WebContext>, req: Request, next: Next) -> Response {
    let public_origin = ctx.config.http.public_origin.as_deref();
    match judge(req.method(), req.headers(), public_origin) {
        Ok(()) => next.run(req).await,
        Err(refusal) => {
            tracing::debug!(method = %req.method(), path = %req.uri().path(), error = %refusal, "API request refused");
            refusal.into_response()
        }
    }
}

#[cfg(test)]
#[path = "same_origin_tests.rs"]
mod tests;
