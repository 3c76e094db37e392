//! The web console for QA staff and supervisors: static pages embedded in the binary and
//! served beside the QA API, which they call from the browser (plain ES modules, no build
//! step, nothing loaded from elsewhere).
//!
//! Routes: `/` redirects to `/console/`; `/console/` is the app (`index.html`);
//! `/console/<file>` serves one of the embedded [`ASSETS`] (`app.js`, `app.css` and the
//! app's other modules).
//!
//! Invariants:
//! - Only the names in [`ASSETS`] are ever answered: a request path is looked up, never
//!   joined to a directory, so nothing outside the embedded set can be reached.
//! - Every asset goes out with `Cache-Control: no-cache` (a new release is picked up on the
//!   next load; the browser still revalidates rather than re-downloads, through the ETag)
//!   and a Content-Security-Policy that allows only this origin, so a caller number or a
//!   topic shown on a page can never run as script even if the escaping were wrong.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;

use super::WebContext;

/// One embedded file of the console.
#[derive(Debug, Clone, Copy)]
pub struct Asset {
    /// The name under `/console/`.
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static str,
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

macro_rules! asset {
    ($name:literal, $ty:expr) => {
        Asset {
            name: $name,
            content_type: $ty,
            body: include_str!(concat!("console/", $name)),
        }
    };
}

/// Every file the console is made of. `index.html` is served at `/console/`.
pub const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("app.css", CSS),
    asset!("app.js", JS),
    asset!("api.js", JS),
    asset!("format.js", JS),
    asset!("dom.js", JS),
    asset!("login.js", JS),
    asset!("calls.js", JS),
    asset!("call.js", JS),
    asset!("player.js", JS),
    asset!("live.js", JS),
    asset!("stats.js", JS),
    asset!("charts.js", JS),
    asset!("grading.js", JS),
    asset!("quality.js", JS),
    asset!("audio.js", JS),
    asset!("retention.js", JS),
    asset!("worklist.js", JS),
    asset!("readings.js", JS),
    asset!("reading_form.js", JS),
    asset!("call_readings.js", JS),
];

/// Same-origin only; `blob:` for the decoded recording's player, `data:` for the favicon.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; media-src 'self' blob:; connect-src 'self'; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The console's routes, mounted by the HTTP server.
pub fn routes() -> Router<WebContext> {
    router()
}

/// The routes for any state: the console needs none, and tests serve it without one.
fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/") }))
        .route("/console", get(|| async { Redirect::to("/console/") }))
        .route("/console/", get(index))
        .route("/console/{file}", get(file))
}

async fn index(headers: HeaderMap) -> Response {
    serve("index.html", &headers)
}

async fn file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    serve(&name, &headers)
}

/// The asset called `name`, or 404; 304 when the browser's copy is this build's.
pub fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

fn serve(name: &str, headers: &HeaderMap) -> Response {
    let Some(asset) = find(name) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    let etag = etag(asset.body);
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        asset.body.into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    response
}

/// A strong validator from the content (FNV-1a, 64 bits): stable across restarts of the
/// same build, different as soon as a byte changes.
fn etag(body: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{hash:016x}\"")
}

#[cfg(test)]
#[path = "console/tests.rs"]
mod tests;
