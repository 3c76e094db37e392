//! The HTTP side: the QA API, the web console, health and metrics (axum). Runs beside the engine;
//! reads the register through the store and the live state through `LiveHandle`.
//!
//! `serve` takes an already-bound listener and a shutdown token (tests bind port 0). On
//! shutdown it stops accepting, ends the live event streams, and lets requests in flight
//! finish.

pub mod api;
pub mod auth;
pub mod console;
pub mod credentials;
pub mod health;
pub mod provider_status;
pub mod same_origin;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::http::{header, HeaderValue};
use axum::response::Response;
use axum::routing::get;
use axum::{middleware, Extension, Router};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::runtime::live::LiveHandle;
use crate::store::Store;

/// What the HTTP side works with.
#[derive(Clone)]
pub struct WebContext {
    pub store: Store,
    pub recordings_root: PathBuf,
    pub live: LiveHandle,
    pub config: Arc<Config>,
    /// The engine's metrics, refreshed once a second.
    pub metrics: tokio::sync::watch::Receiver<crate::runtime::metrics::Metrics>,
}

/// The whole HTTP application: API, console, health. Every response says
/// `X-Content-Type-Options: nosniff`, so a browser never reads an API answer (a caller's
/// number, a topic) as a script or a page.
pub fn app(ctx: WebContext, shutdown: CancellationToken) -> Router {
    let guard: auth::SharedGuard = Arc::new(Mutex::new(auth::LoginGuard::new(
        ctx.config.http.login_guard.clone(),
    )));
    let api = api::routes(shutdown).layer(middleware::from_fn_with_state(
        ctx.clone(),
        same_origin::enforce,
    ));
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::prometheus))
        .merge(api)
        .merge(console::routes())
        .layer(Extension(guard))
        .layer(middleware::map_response(nosniff))
        .with_state(ctx)
}

async fn nosniff(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    response
}

/// Serve HTTP on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    ctx: WebContext,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    // The sampling rules' daily run lives as long as the HTTP side that lists its picks.
    tokio::spawn(api::grading::daily(ctx.clone(), shutdown.clone()));
    let app = app(ctx, shutdown.clone());
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}
