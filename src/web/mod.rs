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

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::routing::get;
use axum::Router;
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

/// The whole HTTP application: API, console, health.
pub fn app(ctx: WebContext, shutdown: CancellationToken) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(health::prometheus))
        .merge(api::routes(shutdown))
        .merge(console::routes())
        .with_state(ctx)
}

/// Serve HTTP on `listener` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    ctx: WebContext,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = app(ctx, shutdown.clone());
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { shutdown.cancelled().await })
    .await
}
