//! The engine task: owns the switchboard and carries out its actions.
//!
//! Loop: carry out pending actions → wait for the first of (shutdown, grace over, a UDP
//! datagram, a TCP event, a media event, the switchboard's next timer) → feed it in with
//! the current time → repeat. It never waits on the database or the disk: register writes
//! go to a bounded queue, and if that is full they are held in the engine's `Outbox`, in
//! order, and counted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::sip::{Peer, Spare, Transport};
use crate::switchboard::{Action, CallRef, Switchboard};

use super::call_media::{CallMediaEvent, CallMediaHandle};
use super::clock::Clock;
use super::database::{Outbox, RegisterWriter};
use super::live::LiveCommand;
use super::media_threads::{self, MediaThreads};
use super::memory::{self, Trimmer};
use super::metrics::Metrics;
use super::prompts::Prompts;
use super::recorder::{Recorder, RecordingHandle, RecordingOutcome};
use super::rtp_ports::RtpPortPool;
use super::tcp::{self, Acceptor, TcpEvent, TcpStats};
use super::throttle::LogEvery;
use super::Sockets;
use crate::sip::flows::FlowLimits;

mod callback;
mod media;
mod provider;
mod readings;
mod streams;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// How often `/metrics` is refreshed.
const METRICS_EVERY: Duration = Duration::from_secs(1);

/// How often held register writes are offered to a full writer queue again.
const HELD_RETRY: Duration = Duration::from_millis(20);

/// A call's media: the task (on the caller's socket), and the operator leg's socket from
/// its ring until the bridge takes it.
#[derive(Default)]
struct MediaSlot {
    caller_port: Option<u16>,
    /// A call-back's citizen socket, until its media task starts (`engine/callback.rs`).
    caller_socket: Option<std::net::UdpSocket>,
    task: Option<CallMediaHandle>,
    operator_port: Option<u16>,
    operator_socket: Option<std::net::UdpSocket>,
    /// The conversation's recording, while it runs.
    recording: Option<(String, RecordingHandle)>,
    /// When the operator leg was bridged (the operator's 200 OK): to measure how soon
    /// their voice reaches the caller.
    bridged_at: Option<std::time::Instant>,
}

pub struct Engine {
    clock: Clock,
    sb: Switchboard,
    udp: UdpSocket,
    tcp: Option<tokio::net::TcpListener>,
    tcp_writers: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    /// The TLS listener and its certificate, until the acceptor takes them.
    tls: Option<(tokio::net::TcpListener, super::tls::TlsCertificate)>,
    tls_writers: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    media: HashMap<CallRef, MediaSlot>,
    pool: RtpPortPool,
    prompts: Prompts,
    /// Register writes, in order, held while the database task's queue is full.
    register: Outbox,
    media_tx: mpsc::Sender<(CallRef, CallMediaEvent)>,
    media_rx: mpsc::Receiver<(CallRef, CallMediaEvent)>,
    rtp_timeout: Duration,
    /// `worklist.max_attempts`: failed call-backs after which an item is `unreachable`.
    worklist_max_attempts: u32,
    /// Where calls' media tasks run.
    media_threads: MediaThreads,
    /// When to hand freed memory back to the system.
    trimmer: Trimmer,
    recorder: Arc<Recorder>,
    live_rx: mpsc::Receiver<LiveCommand>,
    reload_rx: mpsc::Receiver<()>,
    /// The configuration file to read again on reload (None: embedded defaults).
    config_file: Option<std::path::PathBuf>,
    /// Counters kept here (media and recordings of finished calls) and the channel the
    /// whole picture is published on once a second.
    metrics: Metrics,
    metrics_tx: watch::Sender<Metrics>,
    /// Recordings being finished (final header, sync, SHA-256) off the engine task.
    closing_recordings: JoinSet<(String, RecordingOutcome)>,
    tcp_limits: FlowLimits,
    tcp_stats: Arc<TcpStats>,
    /// Errors that repeat under load, logged once per interval with a count.
    quiet: QuietLogs,
    trim: super::memory::TrimAfterPeak,
    /// Registration to the provider and its keepalive, when configured.
    provider: Option<super::provider::ProviderLink>,
    /// When shutting down: how long the un-REGISTER may take.
    provider_stop_by: Option<std::time::Instant>,
    /// What the provider link needs to open its own TCP or TLS connection (set by `run`).
    provider_stream: Option<provider::StreamDialer>,
    /// The TLS side's counters (accepted connections and ours to the provider).
    tls_stats: Arc<TcpStats>,
    /// The readings dialogue's lookups and readings being stored.
    readings: readings::ReadingsDb,
}

/// The engine's repeated errors, each logged once per [`LogEvery::INTERVAL`].
#[derive(Default)]
struct QuietLogs {
    no_rtp_port: LogEvery,
    tcp_slow: LogEvery,
    tcp_gone: LogEvery,
}

impl QuietLogs {
    /// The counts held back when a burst stopped, as last lines (called once a second).
    fn flush(&mut self, now: std::time::Instant) {
        if let Some(n) = self.no_rtp_port.flush(now) {
            tracing::error!(
                failures = n,
                "cannot bind an RTP port (since the last line)"
            );
        }
        if let Some(n) = self.tcp_slow.flush(now) {
            tracing::warn!(
                dropped = n,
                "TCP connections not keeping up (since the last line)"
            );
        }
        if let Some(n) = self.tcp_gone.flush(now) {
            tracing::warn!(
                messages = n,
                "no TCP connection to send on (since the last line)"
            );
        }
    }
}

/// The engine's control links: the console's live requests in, metrics out, reload
/// requests (SIGHUP) in, and the clock it reads.
pub struct Control {
    pub live_rx: mpsc::Receiver<LiveCommand>,
    pub metrics_tx: watch::Sender<Metrics>,
    pub reload_rx: mpsc::Receiver<()>,
    pub clock: Clock,
    /// The TLS certificate, when SIP over TLS is served.
    pub tls: Option<super::tls::TlsCertificate>,
    /// The register, for the readings dialogue's lookups and readings.
    pub store: crate::store::Store,
}

impl Engine {
    pub fn new(
        config: &Config,
        sb: Switchboard,
        sockets: Sockets,
        prompts: Prompts,
        register: RegisterWriter,
        recorder: Arc<Recorder>,
        control: Control,
    ) -> Engine {
        let Control {
            live_rx,
            metrics_tx,
            reload_rx,
            clock,
            tls,
            store,
        } = control;
        let (media_tx, media_rx) = mpsc::channel(1024);
        let rtp_ip = sockets.local_addr().ip();
        let provider = super::provider::ProviderLink::new(
            config,
            sockets.local_addr(),
            clock.now(),
            rand::random(),
        );
        Engine {
            clock,
            sb,
            udp: sockets.udp,
            tcp: Some(sockets.tcp),
            tcp_writers: HashMap::new(),
            tls: sockets.tls.zip(tls),
            tls_writers: HashMap::new(),
            media: HashMap::new(),
            pool: RtpPortPool::new(rtp_ip, config.media.rtp_ports),
            prompts,
            register: Outbox::new(register),
            media_tx,
            media_rx,
            rtp_timeout: config.media.rtp_timeout,
            worklist_max_attempts: config.worklist.max_attempts,
            trimmer: Trimmer::new(clock.mono()),
            media_threads: if clock.is_simulated() {
                MediaThreads::current()
            } else {
                MediaThreads::start(media_threads::default_count(), config.media.io)
            },
            recorder,
            live_rx,
            reload_rx,
            config_file: config.source.exists().then(|| config.source.clone()),
            metrics: Metrics::default(),
            metrics_tx,
            closing_recordings: JoinSet::new(),
            tcp_limits: FlowLimits {
                max_per_address: config.sip.tcp.max_per_address,
                first_message_within: config.sip.tcp.idle_timeout,
            },
            tcp_stats: Arc::new(TcpStats::default()),
            quiet: QuietLogs::default(),
            trim: super::memory::TrimAfterPeak::default(),
            provider,
            provider_stop_by: None,
            provider_stream: None,
            tls_stats: Arc::new(TcpStats::default()),
            readings: readings::ReadingsDb::new(store),
        }
    }

    pub async fn run(mut self, shutdown: CancellationToken, grace: Duration) {
        let (tcp_tx, mut tcp_rx) = mpsc::channel::<TcpEvent>(1024);
        let tasks = CancellationToken::new();
        let listener = self.tcp.take().expect("the listener is taken once");
        let acceptor = Acceptor {
            limits: self.tcp_limits,
            clock: self.clock,
            stats: self.tcp_stats.clone(),
        };
        let (tls_tx, mut tls_rx) = mpsc::channel::<TcpEvent>(1024);
        self.provider_stream = Some(provider::StreamDialer {
            tcp_events: tcp_tx.clone(),
            tls_events: tls_tx.clone(),
            cancel: tasks.clone(),
            acceptor: Acceptor {
                limits: acceptor.limits,
                clock: acceptor.clock,
                stats: acceptor.stats.clone(),
            },
            tls_stats: self.tls_stats.clone(),
            pending: Vec::new(),
            connecting: false,
        });
        tokio::spawn(tcp::accept_loop(listener, tcp_tx, tasks.clone(), acceptor));
        if let Some((listener, certificate)) = self.tls.take() {
            let acceptor = Acceptor {
                limits: self.tcp_limits,
                clock: self.clock,
                stats: self.tls_stats.clone(),
            };
            let cancel = tasks.clone();
            tokio::spawn(super::tls::accept_loop(
                listener,
                tls_tx,
                cancel,
                acceptor,
                certificate,
            ));
        }

        let mut buf = vec![0u8; 65_536];
        let mut publish = tokio::time::interval(METRICS_EVERY);
        publish.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.provider_start().await;
        loop {
            self.carry_out().await;
            self.provider_send().await;
            if self.sb.is_stopped(self.clock.now()) && self.provider_done() {
                break;
            }
            let timer = self.sb.poll_timeout();
            let provider_timer = self
                .provider_timer()
                .or(self.provider_stop_by.filter(|_| !self.provider_done()));
            tokio::select! {
                biased;
                _ = shutdown.cancelled(), if !self.sb.is_draining() => {
                    self.sb.begin_shutdown(grace, self.clock.now());
                    self.provider_shutdown(grace);
                }
                r = self.udp.recv_from(&mut buf) => match r {
                    Ok((n, src)) if self.provider_claims(&buf[..n], src) => {}
                    Ok((n, src)) => self.sb.handle_datagram(&buf[..n], Peer { transport: Transport::Udp, addr: src }, self.clock.now()),
                    Err(e) => tracing::debug!(error = %e, "UDP receive error"),
                },
                Some(ev) = tcp_rx.recv() => self.on_tcp(ev),
                Some(ev) = tls_rx.recv() => self.on_stream(ev, Transport::Tls),
                Some((call, ev)) = self.media_rx.recv() => self.on_media_event(call, ev),
                Some(cmd) = self.live_rx.recv() => self.on_live(cmd),
                Some(()) = self.reload_rx.recv() => self.reload(),
                _ = publish.tick() => self.publish_metrics(),
                Some(Ok((call_id, outcome))) = self.closing_recordings.join_next(), if !self.closing_recordings.is_empty() => {
                    self.recording_closed(&call_id, outcome);
                }
                Some(Ok((call, meters))) = self.readings.lookups.join_next(), if !self.readings.lookups.is_empty() => {
                    self.sb.handle_meters(call, meters, self.clock.now());
                }
                Some(_) = self.readings.saves.join_next(), if !self.readings.saves.is_empty() => {}
                _ = sleep_until(timer.map(TokioInstant::from_std)), if timer.is_some() => {
                    self.sb.handle_timeout(self.clock.now());
                }
                _ = sleep_until(provider_timer.map(TokioInstant::from_std)), if provider_timer.is_some() => {
                    self.provider_timeout().await;
                }
                // The writer's queue was full: look again soon (the loop top moves them on).
                _ = tokio::time::sleep(HELD_RETRY), if self.register.is_holding() => {}
            }
        }
        tasks.cancel();
        let calls: Vec<CallRef> = self.media.keys().copied().collect();
        for call in calls {
            self.stop_recording(call);
        }
        for (_, slot) in self.media.drain() {
            if let Some(task) = slot.task {
                task.close();
            }
        }
        // Every recording is finished and registered before the process ends.
        while let Some(done) = self.closing_recordings.join_next().await {
            if let Ok((call_id, outcome)) = done {
                self.sb
                    .handle_recording_done(&call_id, super::recording_result(outcome));
            }
        }
        while let Some(action) = self.sb.poll_action() {
            match action {
                Action::Register(write) => self.register.push(write),
                Action::StoreReading {
                    call_id,
                    at,
                    reading,
                } => self.readings.save(call_id, at, reading),
                _ => {}
            }
        }
        self.readings.finish().await;
        self.register.drain().await;
    }

    /// Read the configuration file again and apply what can change without new sockets.
    /// A file with errors changes nothing: the line goes on with what it has.
    fn reload(&mut self) {
        let Some(file) = &self.config_file else {
            tracing::warn!(
                "reload asked, but the server runs on the embedded defaults: nothing to reload"
            );
            return;
        };
        let env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| k.starts_with("HOTLINE_"))
            .collect();
        let config = match Config::load(file, &env) {
            Ok(c) => c,
            Err(errors) => {
                tracing::error!(%errors, "reload refused: the configuration has errors; nothing changed");
                return;
            }
        };
        let prompts = match Prompts::load(&config.prompts) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "reload refused: a prompt cannot be loaded; nothing changed");
                return;
            }
        };
        self.prompts = prompts;
        self.worklist_max_attempts = config.worklist.max_attempts;
        self.sb.reload(
            crate::switchboard::Settings::from_config(&config),
            self.clock.now(),
        );
    }

    fn recording_closed(&mut self, call_id: &str, outcome: RecordingOutcome) {
        match &outcome {
            RecordingOutcome::Done(s) => {
                self.metrics.recordings_done += 1;
                self.metrics.recording_bytes += s.bytes.max(0) as u64;
            }
            RecordingOutcome::Failed { .. } => self.metrics.recording_failures += 1,
        }
        self.sb
            .handle_recording_done(call_id, super::recording_result(outcome));
    }

    fn publish_metrics(&mut self) {
        self.metrics.provider = self.provider_state();
        let m = &mut self.metrics;
        m.live = self.sb.snapshot(self.clock.now());
        m.counters = self.sb.counters().clone();
        m.switchboard = self.sb.stats();
        m.tx = self.sb.tx_stats();
        m.registrar = self.sb.registrar_stats();
        m.register = self.register.stats();
        m.tcp = super::metrics::TcpCounts::of(&self.tcp_stats);
        m.tls = super::metrics::TlsCounts::of(&self.tls_stats);
        m.rtp_ports_in_use = self.pool.in_use() as u64;
        let rings = self.media_threads.rings();
        m.media_threads_io_uring = rings as u64;
        m.media_threads_epoll = (self.media_threads.len() - rings) as u64;
        m.media_ring = super::call_media::ring_counts();
        self.quiet.flush(self.clock.mono());
        // Transactions count too: a flood's BYEs linger 32 s after its calls (Timer J).
        let load = self.sb.active_calls() + self.sb.transactions() + m.tcp.open as usize;
        if self.trim.observe(load) {
            memory::give_back();
        }
        self.metrics_tx.send_replace(m.clone());
        if self.trimmer.due(self.clock.mono()) {
            memory::give_back();
        }
    }

    /// The console asks: a snapshot of the line, or a supervisor's pause/resume.
    fn on_live(&mut self, cmd: LiveCommand) {
        let now = self.clock.now();
        match cmd {
            LiveCommand::Snapshot { reply } => {
                let mut snapshot = self.sb.snapshot(now);
                snapshot.provider = self.provider_state();
                let _ = reply.send(snapshot);
            }
            LiveCommand::Pause {
                operator,
                reason,
                reply,
            } => {
                let _ = reply.send(self.sb.pause_operator(&operator, &reason, now));
            }
            LiveCommand::Resume { operator, reply } => {
                let _ = reply.send(self.sb.resume_operator(&operator, now));
            }
            LiveCommand::CallBack { request, reply } => {
                let _ = reply.send(self.start_callback(request));
            }
        }
    }

    /// Carry out every action the switchboard has queued (including ones that answering
    /// `OpenCallerMedia` / `OpenOperatorMedia` produces).
    async fn carry_out(&mut self) {
        self.register.offer();
        while let Some(action) = self.sb.poll_action() {
            match action {
                Action::Transmit { peer, data } => self.transmit(peer, &data).await,
                Action::OpenCallerMedia {
                    call,
                    media,
                    stream,
                } => self.open_caller_media(call, media, stream),
                Action::OpenOperatorMedia { call } => self.open_operator_media(call),
                Action::OpenCitizenMedia { call } => self.open_citizen_media(call),
                Action::StartCitizenMedia {
                    call,
                    media,
                    stream,
                } => self.start_citizen_media(call, media, stream),
                Action::CallBackDone(done) => self.callback_done(done),
                Action::Media { call, order } => self.media_order(call, order),
                Action::StartRecording {
                    call,
                    call_id,
                    received_at,
                } => self.start_recording(call, call_id, received_at),
                Action::StopRecording { call } => self.stop_recording(call),
                Action::CloseOperatorMedia { call } => {
                    let Some(slot) = self.media.get_mut(&call) else {
                        continue;
                    };
                    slot.operator_socket = None;
                    if let Some(port) = slot.operator_port.take() {
                        self.pool.release(port);
                    }
                }
                Action::CloseMedia { call } => {
                    self.trimmer.call_ended();
                    let Some(slot) = self.media.remove(&call) else {
                        continue;
                    };
                    self.media.release_spare();
                    if let Some(task) = slot.task {
                        task.close();
                    }
                    for port in [slot.caller_port, slot.operator_port].into_iter().flatten() {
                        self.pool.release(port);
                    }
                }
                Action::Register(write) => self.register.push(write),
                Action::LookUpMeters { call, account } => self.readings.look_up(call, account),
                Action::StoreReading {
                    call_id,
                    at,
                    reading,
                } => self.readings.save(call_id, at, reading),
            }
        }
    }

    async fn transmit(&mut self, peer: Peer, data: &[u8]) {
        match peer.transport {
            Transport::Udp => match self.udp.try_send_to(data, peer.addr) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if let Err(e) = self.udp.send_to(data, peer.addr).await {
                        tracing::debug!(%peer, error = %e, "UDP send failed");
                    }
                }
                Err(e) => tracing::debug!(%peer, error = %e, "UDP send failed"),
            },
            Transport::Tcp | Transport::Tls => match self.writers(peer.transport).get(&peer.addr) {
                Some(w) => {
                    if w.try_send(data.to_vec()).is_err() {
                        if let Some(n) = self.quiet.tcp_slow.hit(self.clock.mono()) {
                            tracing::warn!(%peer, dropped = n, "TCP connection not keeping up: dropped messages");
                        }
                    }
                }
                None => {
                    if let Some(n) = self.quiet.tcp_gone.hit(self.clock.mono()) {
                        tracing::warn!(%peer, messages = n, "no TCP connection to send on");
                    }
                }
            },
        }
    }
}

impl Engine {
    fn writers(&self, transport: Transport) -> &HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> {
        match transport {
            Transport::Tls => &self.tls_writers,
            _ => &self.tcp_writers,
        }
    }
}

async fn sleep_until(at: Option<TokioInstant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}
