//! The web console: static pages served by the same binary (to be written).

use axum::Router;

use super::WebContext;

/// The console's routes, mounted by the HTTP server.
pub fn routes() -> Router<WebContext> {
    Router::new()
}
