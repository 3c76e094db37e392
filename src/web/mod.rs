//! The HTTP side: the QA API, the web console, health and metrics (axum). Runs beside the
//! engine; reads the register through the store and the live state through `LiveHandle`.

pub mod console;

use std::path::PathBuf;
use std::sync::Arc;

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
}

/// Serve HTTP on `listener` until `shutdown` (to be written).
pub async fn serve(
    listener: TcpListener,
    ctx: WebContext,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let _ = (listener, ctx);
    shutdown.cancelled().await;
    Ok(())
}
