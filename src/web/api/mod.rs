//! The QA HTTP API's routes (see `openapi.rs` for the description served to clients).
//!
//! Every handler takes its caller through the `Auth<ROLE>` extractor first, so a request
//! without credentials is a 401 and one with too low a role a 403 whatever else is wrong
//! with it. Unknown `/api/...` paths answer a JSON 404.

pub mod admin;
pub mod calls;
pub mod error;
pub mod live;
pub mod openapi;
pub mod params;
pub mod readings;
pub mod recording;
pub mod session;
pub mod stats;
pub mod timeline;

use axum::routing::{get, post, put};
use axum::{Extension, Router};
use tokio_util::sync::CancellationToken;

use self::error::ApiError;
use super::WebContext;

async fn not_found() -> ApiError {
    ApiError::NotFound("API path")
}

/// The API's routes; `shutdown` ends long-lived responses (the live event stream). The
/// login guard comes as an `Extension` from [`crate::web::app`], which `/metrics` reads
/// too.
pub fn routes(shutdown: CancellationToken) -> Router<WebContext> {
    Router::new()
        .route("/api/login", post(session::login))
        .route("/api/logout", post(session::logout))
        .route("/api/me", get(session::me))
        .route("/api/calls", get(calls::list))
        .route("/api/calls/{id}", get(calls::one))
        .route("/api/calls/{id}/topic", put(calls::set_topic))
        .route("/api/calls/{id}/recording", get(recording::get))
        .route("/api/stats", get(stats::get))
        .route("/api/operators", get(live::operators))
        .route("/api/queue", get(live::queue))
        .route("/api/live", get(live::stream))
        .route("/api/operators/{id}/pause", post(live::pause))
        .route("/api/operators/{id}/resume", post(live::resume))
        .route("/api/audit", get(admin::audit))
        .route("/api/users", get(admin::users).post(admin::add_user))
        .route("/api/tokens", post(admin::add_token))
        .route("/api/openapi.json", get(openapi::get))
        .route("/api/readings", get(readings::list).post(readings::add))
        .route("/api", get(not_found))
        .route(
            "/api/{*rest}",
            get(not_found)
                .post(not_found)
                .put(not_found)
                .delete(not_found),
        )
        .layer(Extension(live::Shutdown(shutdown)))
}
