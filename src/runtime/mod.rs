//! The only tokio code: sockets, timers, media tasks, the database task, shutdown.
//!
//! [`Line::prepare`] takes already-bound sockets and [`Line::run`] a shutdown token (the
//! mini-redis shape), so tests bind port 0 and stop the server when they like; the
//! crate's `server` module puts the line and its HTTP side together. One engine
//! task owns the switchboard (`&mut`, no locks); media never passes through it packet by
//! packet: each call's RTP has its own task that reports events back.

pub mod call_media;
pub mod clock;
pub mod database;
pub mod descriptors;
pub mod engine;
pub mod live;
pub mod media_threads;
pub mod memory;
pub mod metrics;
pub mod prompts;
pub mod provider;
pub mod recorder;
pub mod rtp_ports;
pub mod sockets;
pub mod spool;
pub mod tcp;
pub mod throttle;
pub mod tls;
pub mod tls_client;

pub use clock::Clock;
pub use sockets::Sockets;

use rand::RngCore;
use thiserror::Error;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::{Store, StoreError};
use crate::switchboard::{Settings, Switchboard};

use self::database::RegisterWriter;
use self::engine::Engine;
use self::live::LiveHandle;
use self::prompts::{PromptLoadError, Prompts};
use self::recorder::{Recorder, RecorderConfig, RecordingOutcome};
use crate::model::RegisterWrite;
use crate::switchboard::RecordingResult;

/// Why the server could not start or stopped abnormally.
#[derive(Debug, Error)]
pub enum RuntimeError {
    /// The call register could not be opened or migrated.
    #[error("call register: {0}")]
    Store(#[from] StoreError),
    /// The register's outage spool could not be opened, or what it held from the last
    /// run could not be replayed.
    #[error(transparent)]
    Spool(#[from] self::spool::SpoolError),
    /// A prompt file is missing or not 8 kHz mono 16-bit WAV.
    #[error(transparent)]
    Prompt(#[from] PromptLoadError),
    /// The TLS certificate or key (`sip.tls_cert`, `sip.tls_key`) could not be used.
    #[error("TLS: {0}")]
    Tls(#[from] self::tls::TlsError),
    /// Binding the SIP address failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
}

/// How many register writes may wait for the database before the engine holds them itself.
const REGISTER_QUEUE: usize = 16_384;

/// The line, ready to run: register opened (and repaired after a crash), recordings
/// repaired, switchboard built. What the HTTP side needs is handed out by
/// its getters; the line itself runs with [`Line::run`].
pub struct Line {
    config: Config,
    sockets: Sockets,
    store: Store,
    writer: RegisterWriter,
    writer_task: tokio::task::JoinHandle<()>,
    recorder: std::sync::Arc<Recorder>,
    switchboard: Switchboard,
    prompts: Prompts,
    live: LiveHandle,
    control: engine::Control,
    reload_tx: tokio::sync::mpsc::Sender<()>,
    metrics: tokio::sync::watch::Receiver<metrics::Metrics>,
}

impl Line {
    /// Everything is ready before the first packet is read: a bad config, prompt or
    /// database never starts half a server.
    pub async fn prepare(config: Config, sockets: Sockets) -> Result<Line, RuntimeError> {
        Line::prepare_with_clock(config, sockets, Clock::system()).await
    }

    /// [`Line::prepare`] reading the time from `clock` (a simulated one in tests).
    pub async fn prepare_with_clock(
        config: Config,
        mut sockets: Sockets,
        clock: Clock,
    ) -> Result<Line, RuntimeError> {
        let prompts = Prompts::load(&config.prompts)?;
        let tls = match &config.sip.tls {
            Some(tls) => {
                let certificate = self::tls::TlsCertificate::open(tls)?;
                if sockets.tls.is_none() {
                    sockets = sockets.with_tls(tls.listen).await?;
                }
                Some(certificate)
            }
            None => None,
        };
        let store = Store::open_with_cache(
            &config.database.url,
            config.database.max_connections,
            config.database.sqlite_cache_kib,
        )
        .await?;
        // Writes spooled during an outage of the last run go in before the interrupted calls
        // are closed, or a call opened from the spool would stay `in_progress`.
        let mut spool = self::spool::Spool::open(&config.database.spool).await?;
        if spool.pending() > 0 {
            let replayed = spool.replay_all(&store, database::MAX_BATCH).await?;
            tracing::warn!(
                writes = replayed,
                "register writes spooled by the last run replayed"
            );
        }
        let interrupted = store.mark_interrupted(clock.wall()).await?;
        if interrupted > 0 {
            tracing::warn!(
                calls = interrupted,
                "calls left in progress by the last run marked interrupted"
            );
        }
        let (writer, writer_task) =
            RegisterWriter::spawn_with_spool(store.clone(), REGISTER_QUEUE, spool);
        let recorder = std::sync::Arc::new(Recorder::with_config(
            config.recordings.dir.clone(),
            RecorderConfig {
                time_zone: config.hours.calendar.zone().clone(),
                ..RecorderConfig::default()
            },
        ));
        // A crash leaves recordings unfinished: make them playable and register what they
        // hold before any new call is taken.
        let repair_root = recorder.clone();
        let repaired = tokio::task::spawn_blocking(move || repair_root.repair_unfinished())
            .await
            .unwrap_or_default();
        for r in repaired {
            tracing::warn!(call_id = %r.call_id, truncated_bytes = r.truncated_bytes, "repaired an unfinished recording");
            let _ = writer.send(recording_write(&r.call_id, r.outcome)).await;
        }
        let settings = Settings::from_config(&config);
        let switchboard = Switchboard::new(settings, rand::rng().next_u64(), clock.now());
        let (live, live_rx) = LiveHandle::channel(64);
        let (metrics_tx, metrics) = tokio::sync::watch::channel(metrics::Metrics::default());
        let (reload_tx, reload_rx) = tokio::sync::mpsc::channel(4);
        Ok(Line {
            config,
            sockets,
            store: store.clone(),
            writer,
            writer_task,
            recorder,
            switchboard,
            prompts,
            live,
            control: engine::Control {
                live_rx,
                metrics_tx,
                reload_rx,
                clock,
                tls,
                store: store.clone(),
            },
            reload_tx,
            metrics,
        })
    }

    /// The call register.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The configuration the line started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The way to the live state of the line and the supervisor's commands.
    pub fn live(&self) -> LiveHandle {
        self.live.clone()
    }

    /// The engine's metrics, refreshed once a second.
    pub fn metrics(&self) -> tokio::sync::watch::Receiver<metrics::Metrics> {
        self.metrics.clone()
    }

    /// Take the HTTP listener bound with the SIP sockets, if any.
    pub fn take_http(&mut self) -> Option<tokio::net::TcpListener> {
        self.sockets.http.take()
    }

    /// Run until `shutdown` is cancelled and the calls in progress have ended (or the
    /// configured grace has passed). `reload` asks to read the configuration file again
    /// (SIGHUP). `companions` (the HTTP side) are awaited before the register is closed.
    pub async fn run(
        self,
        shutdown: CancellationToken,
        reload: Option<tokio::sync::mpsc::Receiver<()>>,
        companions: impl std::future::Future<Output = ()>,
    ) {
        let Line {
            config,
            sockets,
            store,
            writer,
            writer_task,
            recorder,
            switchboard,
            prompts,
            live,
            control,
            reload_tx,
            metrics: _,
        } = self;
        tracing::info!(
            sip = %sockets.local_addr(),
            rtp_ports = %format!("{}-{}", config.media.rtp_ports.first, config.media.rtp_ports.last),
            "hotline serving"
        );
        if let Some(mut signal) = reload {
            tokio::spawn(async move {
                while signal.recv().await.is_some() {
                    let _ = reload_tx.send(()).await;
                }
            });
        }
        let engine = Engine::new(
            &config,
            switchboard,
            sockets,
            prompts,
            writer.clone(),
            recorder.clone(),
            control,
        );
        engine.run(shutdown, config.shutdown.grace).await;
        drop(live);
        companions.await;
        // The engine waited for every recording to close; now the writer threads can end.
        if let Ok(recorder) = std::sync::Arc::try_unwrap(recorder) {
            recorder.shutdown().await;
        }
        if let Err(e) = writer.flush().await {
            tracing::error!(error = %e, "register writes could not be flushed at shutdown");
        }
        drop(writer);
        let _ = writer_task.await;
        store.close().await;
        tracing::info!("hotline stopped");
    }
}

/// The register's view of a recording's outcome.
pub(crate) fn recording_result(outcome: RecordingOutcome) -> RecordingResult {
    match outcome {
        RecordingOutcome::Done(s) => RecordingResult::Done {
            path: s.path,
            ms: s.ms,
            bytes: s.bytes,
            sha256: s.sha256,
        },
        RecordingOutcome::Failed { path, reason } => RecordingResult::Failed { path, reason },
    }
}

/// A repaired recording's register update (the call itself was marked `interrupted`).
fn recording_write(call_id: &str, outcome: RecordingOutcome) -> RegisterWrite {
    RegisterWrite::Update {
        id: call_id.to_string(),
        update: recording_result(outcome).into_update(),
    }
}
