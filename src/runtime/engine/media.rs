//! The engine's side of each call's media: RTP sockets from the pool, the media task,
//! the orders the switchboard gives it, what it reports back, and the recording.

use crate::media::player::{PlayMode, RtpStreamState};
use crate::media::relay::LegConfig;
use crate::model::RecordingResult;
use crate::switchboard::{CallRef, Leg, MediaEvent, MediaOrder};

use super::super::call_media::{self, CallMediaEvent, MediaCommand};
use super::super::recorder::RecordingStart;
use super::Engine;

impl Engine {
    /// The operator answered: record both legs from now on. A recording that cannot start
    /// never stops the call; its row says why.
    pub(super) fn start_recording(
        &mut self,
        call: CallRef,
        call_id: String,
        received_at: jiff::Timestamp,
    ) {
        let job = RecordingStart {
            call_id: call_id.clone(),
            received_at,
            start: self.clock.mono(),
        };
        match self.recorder.start(job) {
            Ok((frames, handle)) => {
                let Some(slot) = self.media.get_mut(&call) else {
                    return;
                };
                if let Some(task) = &slot.task {
                    if let Err(e) = task.command(MediaCommand::Record {
                        frames: Box::new(frames),
                    }) {
                        tracing::warn!(error = ?e, "recording not attached to the media");
                    }
                }
                slot.recording = Some((call_id, handle));
            }
            Err(e) => {
                let result = RecordingResult::Failed {
                    path: String::new(),
                    reason: e.reason(),
                };
                self.sb.handle_recording_done(&call_id, result);
            }
        }
    }

    /// Finish the call's recording off the engine task; its outcome comes back through
    /// `closing_recordings` into the register.
    pub(super) fn stop_recording(&mut self, call: CallRef) {
        let Some((call_id, handle)) = self.media.get_mut(&call).and_then(|s| s.recording.take())
        else {
            return;
        };
        let end = self.clock.mono();
        self.closing_recordings
            .spawn(async move { (call_id, handle.stop(end).await) });
    }

    /// Starts a call's media task on the next media thread, on the caller's `socket`.
    pub(super) fn spawn_media(
        &self,
        call: CallRef,
        socket: std::net::UdpSocket,
        media: LegConfig,
        stream: RtpStreamState,
    ) -> call_media::CallMediaHandle {
        call_media::spawn_call_media(
            self.media_threads.next(),
            call,
            socket,
            media,
            stream,
            self.rtp_timeout,
            self.clock,
            self.media_tx.clone(),
        )
    }

    /// Bind the caller's RTP socket, start the call's media task on it, and tell the
    /// switchboard at once.
    pub(super) fn open_caller_media(
        &mut self,
        call: CallRef,
        media: LegConfig,
        stream: RtpStreamState,
    ) {
        let port = match self.pool.bind() {
            Ok((socket, port)) => {
                let task = self.spawn_media(call, socket, media, stream);
                let slot = self.media.entry(call).or_default();
                slot.caller_port = Some(port);
                slot.task = Some(task);
                Some(port)
            }
            Err(e) => {
                self.no_rtp_port(&e);
                None
            }
        };
        self.sb
            .handle_media_ready(call, Leg::Caller, port, self.clock.now());
    }

    /// Bind an operator leg's RTP socket (kept until the bridge takes it) and tell the
    /// switchboard at once.
    pub(super) fn open_operator_media(&mut self, call: CallRef) {
        let port = match self.pool.bind() {
            Ok((socket, port)) => {
                let slot = self.media.entry(call).or_default();
                if let Some(old) = slot.operator_port.replace(port) {
                    self.pool.release(old);
                }
                slot.operator_socket = Some(socket);
                Some(port)
            }
            Err(e) => {
                self.no_rtp_port(&e);
                None
            }
        };
        self.sb
            .handle_media_ready(call, Leg::Operator, port, self.clock.now());
    }

    /// The pool is exhausted (or the OS refuses): each call gets its 503 or failed ring,
    /// but the log gets one line per interval, with how many calls it hit.
    pub(super) fn no_rtp_port(&mut self, e: &std::io::Error) {
        self.metrics.rtp_port_failures += 1;
        if let Some(n) = self.quiet.no_rtp_port.hit(self.clock.mono()) {
            tracing::error!(error = %e, in_use = self.pool.in_use(), failures = n, "cannot bind an RTP port");
        }
    }

    pub(super) fn media_order(&mut self, call: CallRef, order: MediaOrder) {
        let Some(slot) = self.media.get_mut(&call) else {
            return;
        };
        let command = match order {
            MediaOrder::Play {
                prompts,
                looped,
                tag,
            } => MediaCommand::Play {
                prompt: self.prompts.sequence(&prompts),
                mode: if looped {
                    PlayMode::Loop
                } else {
                    PlayMode::Once
                },
                tag,
            },
            MediaOrder::Bridge { operator } => {
                let Some(operator_socket) = slot.operator_socket.take() else {
                    tracing::warn!("bridge ordered without an operator socket");
                    return;
                };
                slot.bridged_at = Some(self.clock.mono());
                MediaCommand::Bridge {
                    operator_socket,
                    operator: Box::new(operator),
                }
            }
            MediaOrder::Hold => MediaCommand::Hold {
                music: self
                    .prompts
                    .get(crate::switchboard::PromptKind::HoldMusic)
                    .clone(),
            },
            MediaOrder::Unhold => MediaCommand::Unhold,
            MediaOrder::StopPlayback => MediaCommand::StopPlayback,
            MediaOrder::CollectKeys(on) => MediaCommand::CollectKeys(on),
            MediaOrder::Update {
                leg,
                media,
                send,
                receive,
            } => MediaCommand::Update {
                leg,
                config: Box::new(media),
                send,
                receive,
            },
        };
        if let Some(task) = &slot.task {
            if let Err(e) = task.command(command) {
                tracing::warn!(error = ?e, "media order not delivered");
            }
        }
    }

    pub(super) fn on_media_event(&mut self, call: CallRef, event: CallMediaEvent) {
        let now = self.clock.now();
        match event {
            CallMediaEvent::PromptFinished { tag } => {
                self.sb
                    .handle_media_event(call, MediaEvent::PromptFinished { tag }, now)
            }
            CallMediaEvent::Key { key } => {
                self.sb
                    .handle_media_event(call, MediaEvent::Key { key }, now)
            }
            CallMediaEvent::Inactive { leg, .. } => {
                self.sb
                    .handle_media_event(call, MediaEvent::Inactive { leg }, now)
            }
            CallMediaEvent::FirstPacket { leg: Leg::Operator } => {
                let after = self
                    .media
                    .get(&call)
                    .and_then(|s| s.bridged_at)
                    .map(|t| t.elapsed());
                tracing::info!(?call, after_answer = ?after, "operator's first RTP relayed to the caller");
            }
            CallMediaEvent::FirstPacket { leg } => tracing::debug!(?call, ?leg, "first RTP"),
            CallMediaEvent::Closed { stats } => {
                self.metrics.add_call_media(
                    &stats.caller,
                    &stats.operator,
                    stats.prompt_packets,
                    stats.send_dropped,
                    stats.record_dropped,
                );
                if stats.record_dropped > 0 || stats.send_dropped > 0 {
                    // The media path never waits: when the recorder or the socket falls
                    // behind, packets are dropped. Say so, loudly.
                    tracing::warn!(
                        ?call,
                        record_dropped = stats.record_dropped,
                        send_dropped = stats.send_dropped,
                        "media packets dropped"
                    );
                }
                tracing::debug!(?call, ?stats, "media closed")
            }
        }
    }
}
