//! A call's RTP while a prompt plays: one task, one socket, no allocation per packet.
//!
//! Sends the prompt's 20 ms frames on the player's schedule (deadlines from the start, so
//! no drift), latches to where the caller's RTP comes from (symmetric RTP), and reports
//! `PromptFinished` once the last frame is out. It keeps reading (and discarding) the
//! caller's packets until the call closes the socket, so they never hit a closed port.

use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant as TokioInstant;
use tokio_util::sync::CancellationToken;

use crate::media::latch::Latch;
use crate::media::player::{PlayMode, Prompt, PromptPlayer, RtpStreamState};
use crate::sdp::Codec;
use crate::switchboard::{CallRef, MediaEvent};

/// What a prompt task needs to know about its call.
pub struct PromptJob {
    pub call: CallRef,
    pub prompt: Prompt,
    pub remote: SocketAddr,
    pub codec: Codec,
    pub payload_type: u8,
    pub accepted_pts: Vec<u8>,
    pub stream: RtpStreamState,
}

pub async fn play_prompt(
    socket: UdpSocket,
    job: PromptJob,
    events: mpsc::Sender<(CallRef, MediaEvent)>,
    cancel: CancellationToken,
) {
    let mut player = PromptPlayer::new(
        job.prompt,
        job.codec,
        job.payload_type,
        job.stream,
        PlayMode::Once,
        Instant::now(),
        true,
    );
    let mut latch = Latch::new(job.remote);
    let mut out = [0u8; 1500];
    let mut incoming = [0u8; 2048];
    let mut reported = false;
    loop {
        let due = player.poll_timeout();
        tokio::select! {
            biased;
            _ = cancel.cancelled() => break,
            _ = sleep_until(due), if due.is_some() => {
                let now = Instant::now();
                while let Some(n) = player.poll_transmit(now, &mut out) {
                    if let Err(e) = socket.send_to(&out[..n], latch.target()).await {
                        tracing::debug!(error = %e, "RTP send failed");
                    }
                }
            }
            r = socket.recv_from(&mut incoming) => {
                if let Ok((n, src)) = r {
                    latch.handle_incoming(Instant::now(), src, &incoming[..n], &job.accepted_pts);
                }
            }
        }
        if player.is_finished() && !reported {
            reported = true;
            if events
                .send((job.call, MediaEvent::PromptFinished))
                .await
                .is_err()
            {
                break;
            }
        }
    }
}

async fn sleep_until(due: Option<Instant>) {
    match due {
        Some(t) => tokio::time::sleep_until(TokioInstant::from_std(t)).await,
        None => std::future::pending().await,
    }
}
