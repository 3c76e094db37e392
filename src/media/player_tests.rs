//! Prompt player tests: what a receiver sees on the wire, at simulated times.

use std::io::Cursor;
use std::time::{Duration, Instant};

use super::*;
use crate::media::rtp::RtpView;

const MS: Duration = Duration::from_millis(1);

fn stream() -> RtpStreamState {
    RtpStreamState {
        ssrc: 0x1234_5678,
        seq: 100,
        ts: 1000,
    }
}

/// A ramp, so that every frame's bytes differ.
fn ramp(n: usize) -> Vec<i16> {
    (0..n).map(|i| (i as i16).wrapping_mul(97)).collect()
}

fn player(samples: usize, mode: PlayMode, start: Instant) -> PromptPlayer {
    let prompt = Prompt::from_pcm("test", ramp(samples));
    PromptPlayer::new(prompt, Codec::Pcmu, 0, stream(), mode, start, true)
}

/// Everything due at `now`, as owned packets.
fn drain(p: &mut PromptPlayer, now: Instant) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; MAX_PACKET_LEN];
    while let Some(len) = p.poll_transmit(now, &mut buf) {
        out.push(buf[..len].to_vec());
    }
    out
}

fn wav(spec: hound::WavSpec, samples: &[i32]) -> Vec<u8> {
    let mut cursor = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for &s in samples {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
    cursor.into_inner()
}

const GOOD_SPEC: hound::WavSpec = hound::WavSpec {
    channels: 1,
    sample_rate: 8000,
    bits_per_sample: 16,
    sample_format: hound::SampleFormat::Int,
};

#[test]
fn packet_count_is_duration_in_frames_rounded_up() {
    let t0 = Instant::now();
    for (samples, frames) in [(160, 1), (161, 2), (1000, 7), (1600, 10)] {
        let mut p = player(samples, PlayMode::Once, t0);
        let prompt_frames = p.prompt().duration().as_micros().div_ceil(20_000);
        assert_eq!(prompt_frames, frames as u128);
        let packets = drain(&mut p, t0 + Duration::from_secs(10));
        assert_eq!(packets.len(), frames, "{samples} samples");
        assert!(p.is_finished());
        assert_eq!(p.poll_timeout(), None);
        assert_eq!(p.frames_sent(), frames as u64);
    }
}

#[test]
fn packets_carry_the_encoded_prompt_and_silence_after_it() {
    let t0 = Instant::now();
    let samples = ramp(200);
    let prompt = Prompt::from_pcm("ramp", samples.clone());
    let mut p = PromptPlayer::new(prompt, Codec::Pcma, 8, stream(), PlayMode::Once, t0, false);
    let packets = drain(&mut p, t0 + 40 * MS);
    assert_eq!(packets.len(), 2);
    let mut expected = vec![0u8; 200];
    g711::encode(Codec::Pcma, &samples, &mut expected);
    let first = RtpView::parse(&packets[0]).unwrap();
    let second = RtpView::parse(&packets[1]).unwrap();
    assert_eq!(packets[0].len(), 172);
    assert_eq!(first.payload_type(), 8);
    assert_eq!(first.payload(), &expected[..160]);
    assert_eq!(&second.payload()[..40], &expected[160..]);
    assert!(second.payload()[40..].iter().all(|&b| b == 0xD5));
    // The wire byte decodes back to the sample within one A-law quantisation step.
    let decoded = g711::decode_sample(Codec::Pcma, first.payload()[1]);
    assert!((decoded - 97).abs() <= 8);
}

#[test]
fn pcmu_padding_is_ulaw_silence() {
    let t0 = Instant::now();
    let mut p = player(10, PlayMode::Once, t0);
    let packets = drain(&mut p, t0);
    let view = RtpView::parse(&packets[0]).unwrap();
    assert!(view.payload()[10..].iter().all(|&b| b == 0xFF));
}

#[test]
fn seq_and_timestamp_continue_across_the_wrap() {
    let t0 = Instant::now();
    let start = RtpStreamState {
        ssrc: 7,
        seq: 65534,
        ts: u32::MAX - 159,
    };
    let prompt = Prompt::from_pcm("p", ramp(640));
    let mut p = PromptPlayer::new(prompt, Codec::Pcmu, 0, start, PlayMode::Once, t0, true);
    let packets = drain(&mut p, t0 + Duration::from_secs(1));
    let headers: Vec<_> = packets
        .iter()
        .map(|b| {
            let v = RtpView::parse(b).unwrap();
            (v.seq(), v.timestamp(), v.ssrc())
        })
        .collect();
    assert_eq!(
        headers,
        [
            (65534, u32::MAX - 159, 7),
            (65535, 0, 7),
            (0, 160, 7),
            (1, 320, 7)
        ]
    );
    assert_eq!(
        p.stream_state(),
        RtpStreamState {
            ssrc: 7,
            seq: 2,
            ts: 480
        }
    );
}

#[test]
fn marker_only_on_the_first_packet_and_only_if_asked() {
    let t0 = Instant::now();
    let mut p = player(800, PlayMode::Once, t0);
    let marks: Vec<_> = drain(&mut p, t0 + Duration::from_secs(1))
        .iter()
        .map(|b| RtpView::parse(b).unwrap().marker())
        .collect();
    assert_eq!(marks, [true, false, false, false, false]);

    let prompt = Prompt::from_pcm("p", ramp(800));
    let mut p = PromptPlayer::new(prompt, Codec::Pcmu, 0, stream(), PlayMode::Once, t0, false);
    assert!(drain(&mut p, t0 + Duration::from_secs(1))
        .iter()
        .all(|b| !RtpView::parse(b).unwrap().marker()));
}

#[test]
fn skipped_frames_keep_time_not_sequence_and_the_next_packet_starts_a_talkspurt() {
    let t0 = Instant::now();
    let mut p = player(1600, PlayMode::Once, t0);
    let before = drain(&mut p, t0 + 20 * MS);
    assert_eq!(before.len(), 2);
    // The peer holds us for 60 ms: three frames go by unheard.
    let mut skipped = 0;
    while p.poll_skip(t0 + 80 * MS) {
        skipped += 1;
    }
    assert_eq!(skipped, 3);
    assert_eq!(p.frames_sent(), 2);
    let after = drain(&mut p, t0 + 120 * MS);
    let headers: Vec<_> = after
        .iter()
        .map(|b| RtpView::parse(b).unwrap().header())
        .collect();
    assert_eq!(headers.len(), 2);
    assert!(headers[0].marker && !headers[1].marker);
    assert_eq!(headers[0].seq, stream().seq + 2, "no gap in the sequence");
    assert_eq!(
        headers[0].timestamp,
        stream().ts + 5 * 160,
        "the time it did not hear"
    );
    // The prompt kept its schedule: the frame sent is the sixth of the prompt.
    let payload = RtpView::parse(&after[0]).unwrap().payload().to_vec();
    assert_eq!(payload, p.prompt().encoded(Codec::Pcmu)[5 * 160..6 * 160]);
    assert!(!p.poll_skip(t0 + 120 * MS), "nothing more is due");
}

#[test]
fn a_new_codec_takes_over_from_the_next_frame() {
    let t0 = Instant::now();
    let mut p = player(800, PlayMode::Once, t0);
    drain(&mut p, t0);
    p.set_codec(Codec::Pcma, 8);
    let next = drain(&mut p, t0 + 20 * MS);
    let view = RtpView::parse(&next[0]).unwrap();
    assert_eq!(view.payload_type(), 8);
    assert_eq!(view.payload(), &p.prompt().encoded(Codec::Pcma)[160..320]);
}

#[test]
fn frames_are_paced_from_the_start_time() {
    let t0 = Instant::now();
    let mut p = player(480, PlayMode::Once, t0);
    let mut buf = [0u8; MAX_PACKET_LEN];
    assert_eq!(p.poll_timeout(), Some(t0));
    assert_eq!(p.poll_transmit(t0 - MS, &mut buf), None);
    assert!(p.poll_transmit(t0, &mut buf).is_some());
    assert_eq!(p.poll_transmit(t0, &mut buf), None);
    assert_eq!(p.poll_timeout(), Some(t0 + 20 * MS));
    assert_eq!(p.poll_transmit(t0 + 19 * MS, &mut buf), None);
    // Served 7 ms late: the next deadline still counts from t0, not from the late send.
    assert!(p.poll_transmit(t0 + 27 * MS, &mut buf).is_some());
    assert_eq!(p.poll_timeout(), Some(t0 + 40 * MS));
    assert!(p.poll_transmit(t0 + 40 * MS, &mut buf).is_some());
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn a_stall_is_caught_up_one_packet_per_call() {
    let t0 = Instant::now();
    let mut p = player(8000, PlayMode::Once, t0);
    assert_eq!(drain(&mut p, t0).len(), 1);
    // 100 ms stall: frames 1..=5 are due at 20..100 ms.
    let caught_up = drain(&mut p, t0 + 100 * MS);
    assert_eq!(caught_up.len(), 5);
    let seqs: Vec<_> = caught_up
        .iter()
        .map(|b| RtpView::parse(b).unwrap().seq())
        .collect();
    assert_eq!(seqs, [101, 102, 103, 104, 105]);
    assert_eq!(p.poll_timeout(), Some(t0 + 120 * MS));
}

#[test]
fn loop_runs_on_without_a_gap() {
    let t0 = Instant::now();
    let samples = ramp(200);
    let prompt = Prompt::from_pcm("loop", samples.clone());
    let mut p = PromptPlayer::new(prompt, Codec::Pcmu, 0, stream(), PlayMode::Loop, t0, true);
    let mut expected = vec![0u8; 200];
    g711::encode(Codec::Pcmu, &samples, &mut expected);
    let packets = drain(&mut p, t0 + 60 * MS);
    assert_eq!(packets.len(), 4);
    let wire: Vec<u8> = packets
        .iter()
        .flat_map(|b| RtpView::parse(b).unwrap().payload().to_vec())
        .collect();
    let looped: Vec<u8> = expected.iter().copied().cycle().take(640).collect();
    assert_eq!(wire, looped);
    assert!(!p.is_finished());
    assert_eq!(p.poll_timeout(), Some(t0 + 80 * MS));
    // Still going an hour later (caught up one frame at a time).
    let mut buf = [0u8; MAX_PACKET_LEN];
    assert!(p
        .poll_transmit(t0 + Duration::from_secs(3600), &mut buf)
        .is_some());
}

#[test]
fn empty_prompt_finishes_at_once_in_either_mode() {
    let t0 = Instant::now();
    for mode in [PlayMode::Once, PlayMode::Loop] {
        let mut p = player(0, mode, t0);
        assert!(p.is_finished());
        assert_eq!(p.poll_timeout(), None);
        assert!(drain(&mut p, t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(p.stream_state(), stream());
    }
}

#[test]
fn short_buffer_drops_the_frame_without_panicking() {
    let t0 = Instant::now();
    let mut p = player(480, PlayMode::Once, t0);
    let mut small = [0u8; 100];
    assert_eq!(p.poll_transmit(t0, &mut small), None);
    assert_eq!(p.frames_sent(), 0);
    // The stream keeps time: the next packet has the next frame's timestamp, same seq.
    let packets = drain(&mut p, t0 + 20 * MS);
    let v = RtpView::parse(&packets[0]).unwrap();
    assert_eq!((v.seq(), v.timestamp()), (100, 1160));
}

#[test]
fn wav_prompt_loads_and_names_itself() {
    let samples: Vec<i32> = (0..4000).map(|i| (i % 100) * 50).collect();
    let prompt = Prompt::from_wav("greeting", Cursor::new(wav(GOOD_SPEC, &samples))).unwrap();
    assert_eq!(prompt.name(), "greeting");
    assert_eq!(prompt.duration(), Duration::from_millis(500));
    assert_eq!(prompt.samples()[99], 4950);
    assert_eq!(prompt.encoded(Codec::Pcmu).len(), 4000);
    assert_eq!(
        format!("{prompt:?}"),
        "Prompt { name: \"greeting\", duration: 500ms }"
    );
}

#[test]
fn wav_in_the_wrong_format_is_refused_with_a_clear_reason() {
    let cases = [
        (
            hound::WavSpec {
                sample_rate: 16000,
                ..GOOD_SPEC
            },
            "prompt x: sample rate is 16000 Hz; prompts must be 8000 Hz",
        ),
        (
            hound::WavSpec {
                channels: 2,
                ..GOOD_SPEC
            },
            "prompt x: has 2 channels; prompts must be mono",
        ),
        (
            hound::WavSpec {
                bits_per_sample: 8,
                ..GOOD_SPEC
            },
            "prompt x: 8-bit integer samples; prompts must be 16-bit integer PCM",
        ),
    ];
    for (spec, message) in cases {
        let err = Prompt::from_wav("x", Cursor::new(wav(spec, &[0, 0]))).unwrap_err();
        assert_eq!(err.to_string(), message);
    }
    let float = hound::WavSpec {
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
        ..GOOD_SPEC
    };
    let mut cursor = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut cursor, float).unwrap();
    w.write_sample(0.5f32).unwrap();
    w.finalize().unwrap();
    let err = Prompt::from_wav("x", Cursor::new(cursor.into_inner())).unwrap_err();
    assert!(matches!(
        err,
        PromptError::SampleFormat {
            bits: 32,
            float: true,
            ..
        }
    ));
}

#[test]
fn broken_files_are_errors_not_panics() {
    let good = wav(GOOD_SPEC, &[1, 2, 3, 4]);
    for len in 0..good.len() {
        let result = Prompt::from_wav("cut", Cursor::new(&good[..len]));
        assert!(result.is_err(), "a file cut at {len} bytes was accepted");
    }
    let err = Prompt::from_wav("junk", Cursor::new(b"not a wav file at all".to_vec())).unwrap_err();
    assert!(matches!(err, PromptError::Wav { .. }));
    assert!(err
        .to_string()
        .starts_with("prompt junk: not a readable WAV file"));
    let err = Prompt::from_wav("silent", Cursor::new(wav(GOOD_SPEC, &[]))).unwrap_err();
    assert_eq!(err.to_string(), "prompt silent: contains no audio");
}

#[test]
fn shipped_prompts_are_in_the_player_format() {
    let greeting = Prompt::from_wav(
        "greeting",
        &include_bytes!("../../config/prompts/greeting.wav")[..],
    )
    .unwrap();
    assert!(greeting.duration() > Duration::from_secs(2));
    let music = Prompt::from_wav(
        "hold_music",
        &include_bytes!("../../config/prompts/hold_music.wav")[..],
    )
    .unwrap();
    assert_eq!(music.duration(), Duration::from_secs(20));
    // Loops without a click: both ends fade to (near) silence.
    let s = music.samples();
    assert!(s[..8].iter().chain(&s[s.len() - 8..]).all(|x| x.abs() < 64));
}

#[test]
fn sdp_and_media_cores_touch_no_clock_socket_or_file() {
    let sources = [
        ("sdp.rs", include_str!("../sdp.rs")),
        ("sdp/parse.rs", include_str!("../sdp/parse.rs")),
        ("sdp/write.rs", include_str!("../sdp/write.rs")),
        ("media/g711.rs", include_str!("g711.rs")),
        ("media/rtp.rs", include_str!("rtp.rs")),
        ("media/player.rs", include_str!("player.rs")),
        ("media/latch.rs", include_str!("latch.rs")),
    ];
    let forbidden = [
        "Instant::now",
        "SystemTime",
        "tokio",
        "std::fs",
        "File::",
        "UdpSocket",
        "TcpStream",
        "sqlx",
    ];
    for (file, text) in sources {
        // Tests may read the clock to get a starting `Instant`; the code may not.
        let code = text.split("#[cfg(test)]").next().unwrap_or(text);
        for word in forbidden {
            assert!(!code.contains(word), "{file} uses {word}");
        }
    }
}
