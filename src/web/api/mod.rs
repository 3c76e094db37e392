//! The QA HTTP API's routes (see `openapi.rs` for the description served to clients).
//!
//! Every handler takes its caller through the `Auth<ROLE>` extractor first, so a request
//! without credentials is a 401 and one with too low a role a 403 whatever else is wrong
//! with it. Unknown `/api/...` paths answer a JSON 404.

pub mod admin;
pub mod audio;
pub mod calls;
pub mod error;
pub mod evaluations;
pub mod flags;
pub mod forms;
pub mod grading;
pub mod live;
pub mod openapi;
pub mod openapi_quality;
pub mod openapi_readings;
pub mod params;
pub mod quality_reports;
pub mod readings;
pub mod recording;
pub mod retention;
pub mod scope;
pub mod session;
pub mod stats;
pub mod subscribers;
pub mod timeline;
pub mod worklist;

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
        .route("/api/forms", get(forms::list).post(forms::create))
        .route("/api/forms/{id}", get(forms::one).put(forms::update))
        .route("/api/calls/{id}/evaluations", post(evaluations::create))
        .route("/api/evaluations", get(evaluations::list))
        .route("/api/evaluations/{id}", get(evaluations::one))
        .route("/api/evaluations/{id}/response", post(evaluations::respond))
        .route(
            "/api/evaluations/{id}/resolution",
            post(evaluations::resolve),
        )
        .route(
            "/api/calls/{id}/flags",
            get(flags::list).post(flags::create),
        )
        .route("/api/reports/quality", get(quality_reports::get))
        .route("/api/grading/queue", get(grading::queue))
        .route("/api/grading/sample", post(grading::sample))
        .route(
            "/api/reports/quality/calibration",
            get(quality_reports::calibration_report),
        )
        .route(
            "/api/calls/{id}/legal-hold",
            put(retention::set).delete(retention::clear),
        )
        .route("/api/worklist", get(worklist::list))
        .route(
            "/api/worklist/{id}",
            get(worklist::one).patch(worklist::update),
        )
        .route("/api/worklist/{id}/callback", post(worklist::callback))
        .route("/api/openapi.json", get(openapi::get))
        .route("/api/readings", get(readings::list).post(readings::add))
        .route("/api/subscribers/{account}", get(subscribers::one))
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
