//! The whole server: the line (SIP, media, register) and its HTTP side (QA console, API,
//! health, metrics), started together and stopped by one token. The only module that knows
//! both: the runtime never depends on the web, the web reaches the line only through the
//! handles the runtime hands out.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::runtime::{Line, RuntimeError, Sockets};
use crate::web::WebContext;

/// Run the hotline until `shutdown` is cancelled and the calls in progress have ended (or
/// the configured grace has passed), with the QA console on `sockets.http` if bound.
pub async fn serve(
    config: Config,
    sockets: Sockets,
    shutdown: CancellationToken,
) -> Result<(), RuntimeError> {
    serve_with_reload(config, sockets, shutdown, None).await
}

/// `serve`, plus a channel whose messages ask to read the configuration file again (SIGHUP).
pub async fn serve_with_reload(
    config: Config,
    sockets: Sockets,
    shutdown: CancellationToken,
    reload: Option<tokio::sync::mpsc::Receiver<()>>,
) -> Result<(), RuntimeError> {
    let mut line = Line::prepare(config, sockets).await?;
    let web = line.take_http().map(|listener| {
        let ctx = WebContext {
            store: line.store().clone(),
            recordings_root: line.config().recordings.dir.clone(),
            live: line.live(),
            config: Arc::new(line.config().clone()),
            metrics: line.metrics(),
        };
        tracing::info!(http = ?listener.local_addr().ok(), "QA console and API serving");
        tokio::spawn(crate::web::serve(listener, ctx, shutdown.clone()))
    });
    // Audio metrics of finished recordings, off the call path (a blocking task per file).
    let analysis = line.config().quality.analyse.then(|| {
        tokio::spawn(crate::archive::analyse::run_worker(
            line.store().clone(),
            line.config().recordings.dir.clone(),
            line.config().quality.clone(),
            shutdown.clone(),
        ))
    });
    // Expired recordings destroyed once a day (when a retention rule is set).
    let purge = tokio::spawn(crate::archive::retention::run_daily(
        line.store().clone(),
        line.config().recordings.dir.clone(),
        line.config().recordings.clone(),
        shutdown.clone(),
    ));
    let companions = async move {
        if let Some(web) = web {
            let _ = web.await;
        }
        if let Some(analysis) = analysis {
            let _ = analysis.await;
        }
        let _ = purge.await;
    };
    line.run(shutdown, reload, companions).await;
    Ok(())
}
