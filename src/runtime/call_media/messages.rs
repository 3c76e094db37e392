//! What the engine and a call's media task say to each other: the commands the task
//! carries out and the events it reports back.

use std::time::Duration;

use crate::media::player::{PlayMode, Prompt};
use crate::media::relay::{LegConfig, LegStats};
use crate::media::Leg;

use super::FrameSender;

/// What the engine tells a call's media task.
#[derive(Debug)]
pub enum MediaCommand {
    /// Play a prompt to the caller, replacing any playing one (whose `PromptFinished` is
    /// then never reported). `Once` reports `PromptFinished { tag }` after its last frame;
    /// `Loop` plays until replaced or stopped. While it plays the operator is not heard.
    Play {
        prompt: Prompt,
        mode: PlayMode,
        tag: u32,
    },
    /// Stop any playback: the caller hears silence, or the operator if bridged.
    StopPlayback,
    /// Attach the operator leg and bridge both ways; playback stops. A previous operator
    /// leg is dropped.
    Bridge {
        operator_socket: std::net::UdpSocket,
        // Boxed, as in `Update`: a call's command queue holds its slots for the whole
        // call, so the largest command sets every call's memory.
        operator: Box<LegConfig>,
    },
    /// The operator put the caller on hold (re-INVITE sendonly/inactive): the caller hears
    /// `music` looped and nothing goes to the operator.
    Hold { music: Prompt },
    /// Back from hold: the music stops and the bridge resumes.
    Unhold,
    /// The operator leg is gone (e.g. failover to another operator): caller only again.
    /// Playback in progress (hold music) continues.
    Unbridge,
    /// A leg's new offer/answer (re-INVITE, UPDATE): send to `config`'s address (and latch
    /// again), in its codec and payload types. `send`: whether we send to that peer at all
    /// (false while it holds us); when it turns true again our stream resumes with a new
    /// talkspurt. `receive`: whether the peer is expected to send; while it is not, its
    /// silence is not inactivity.
    Update {
        leg: Leg,
        config: Box<LegConfig>,
        send: bool,
        receive: bool,
    },
    /// Copy every accepted inbound audio packet of both legs to `frames`. Boxed, as the
    /// legs' settings above: the queue's end is 32 bytes, and the task unboxes it.
    Record { frames: Box<FrameSender> },
    /// Stop copying to the recorder.
    StopRecording,
    /// Listen for the caller's keys (RFC 4733 events, and DTMF tones in the audio) and
    /// report each as `Key`, or stop listening. Off by default: the tone detector costs
    /// CPU per packet, so it runs only while the call collects input.
    CollectKeys(bool),
    /// End the task (what [`CallMediaHandle::close`] sends).
    Close,
}

/// What a call's media task reports to the engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallMediaEvent {
    /// A `Once` prompt sent its last frame.
    PromptFinished { tag: u32 },
    /// The leg's first accepted RTP packet (the peer's media works).
    FirstPacket { leg: Leg },
    /// No accepted RTP from the leg for `silent_for` (at least the configured inactivity).
    Inactive { leg: Leg, silent_for: Duration },
    /// The caller pressed a key (while keys are collected).
    Key { key: char },
    /// The task ended (closed, or its handle dropped); the last report.
    Closed { stats: CallMediaStats },
}

/// Counters of a call's media, reported in `Closed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallMediaStats {
    /// The caller leg.
    pub caller: LegStats,
    /// All operator legs of the call, summed.
    pub operator: LegStats,
    /// Prompt and music packets sent to the caller.
    pub prompt_packets: u64,
    /// Packets dropped because a socket's send buffer was full, or the send failed.
    pub send_dropped: u64,
    /// Frames dropped because the recorder's queue was full or closed.
    pub record_dropped: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_small_because_every_call_keeps_a_queue_of_them() {
        // tokio's channel allocates its slots 32 at a time and keeps the first block for
        // the channel's life: the size of a command is paid 32 times per live call.
        assert!(std::mem::size_of::<MediaCommand>() <= 32);
    }

    #[test]
    fn a_recorder_frame_is_three_cache_lines_because_a_second_of_them_is_queued_per_call() {
        assert_eq!(std::mem::size_of::<super::super::RecordFrame>(), 192);
    }
}
