//! The only tokio code: sockets, timers, media tasks, the database task, shutdown.
//!
//! `serve(config, sockets, shutdown)` takes already-bound sockets and a shutdown token (the
//! mini-redis shape), so tests bind port 0 and stop the server when they like. One engine
//! task owns the switchboard (`&mut`, no locks); media never passes through it packet by
//! packet: each call's RTP has its own task that reports events back.

pub mod call_media;
pub mod engine;
pub mod prompts;
pub mod recorder;
pub mod register_writer;
pub mod rtp_ports;
pub mod sockets;
pub mod tcp;

pub use sockets::Sockets;

use rand::RngCore;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::clock::Now;
use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::switchboard::{Settings, Switchboard};

use self::engine::Engine;
use self::prompts::{PromptLoadError, Prompts};
use self::register_writer::RegisterWriter;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, Error)]
pub enum RuntimeError {
    /// The call register could not be opened or migrated.
    #[error("call register: {0}")]
    Store(#[from] StoreError),
    /// A prompt file is missing or not 8 kHz mono 16-bit WAV.
    #[error(transparent)]
    Prompt(#[from] PromptLoadError),
    /// Binding the SIP address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// How many register writes may wait for the database before the engine holds them itself.
const REGISTER_QUEUE: usize = 16_384;

/// Run the hotline until `shutdown` is cancelled and the calls in progress have ended
/// (or the configured grace has passed). Everything is ready before the first packet is
/// read: a bad config, prompt or database never starts half a server.
pub async fn serve(
    config: Config,
    sockets: Sockets,
    shutdown: CancellationToken,
) -> Result<(), RuntimeError> {
    let prompts = Prompts::load(&config.prompts)?;
    let store = Store::open(&config.database.url, config.database.max_connections).await?;
    let interrupted = store.mark_interrupted(Now::read().wall).await?;
    if interrupted > 0 {
        tracing::warn!(
            calls = interrupted,
            "calls left in progress by the last run marked interrupted"
        );
    }
    let (writer, writer_task) = RegisterWriter::spawn(store.clone(), REGISTER_QUEUE);
    let settings = Settings::from_config(&config);
    let switchboard = Switchboard::new(settings, rand::rng().next_u64(), Now::read());
    tracing::info!(
        sip = %sockets.local_addr(),
        rtp_ports = %format!("{}-{}", config.media.rtp_ports.first, config.media.rtp_ports.last),
        "hotline serving"
    );
    let engine = Engine::new(&config, switchboard, sockets, prompts, writer.clone());
    engine.run(shutdown, config.shutdown.grace).await;
    if let Err(e) = writer.flush().await {
        tracing::error!(error = %e, "register writes could not be flushed at shutdown");
    }
    drop(writer);
    let _ = writer_task.await;
    store.close().await;
    tracing::info!("hotline stopped");
    Ok(())
}
