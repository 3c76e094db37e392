//! Known audio in, figures out: tones with exact speaking intervals on each channel, over
//! low noise, with an overlap, gaps (one shorter than the hangover), a hold and clipping.
//! Each segment boundary must come out within [`TOLERANCE_MS`] of where the tone starts or
//! stops (the detector judges 20 ms frames, so the true error is under one frame).

use std::io::Cursor;

use super::*;

/// Allowed error of one segment boundary.
const TOLERANCE_MS: u64 = 40;
const RATE: u32 = 8000;

/// A tone of `amplitude` at `hz` over `spans` (ms), over noise of about ±`noise` elsewhere.
fn channel(total_ms: u64, spans: &[(u64, u64)], hz: f64, amplitude: f64, noise: i32) -> Vec<i16> {
    let n = (total_ms * u64::from(RATE) / 1000) as usize;
    let mut seed: u32 = 0x2545_F491 ^ hz as u32;
    (0..n)
        .map(|i| {
            let ms = i as u64 * 1000 / u64::from(RATE);
            // A small linear congruential generator: the same noise on every run.
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let hiss = ((seed >> 16) as i32 % (2 * noise + 1)) - noise;
            let speaking = spans.iter().any(|&(a, b)| (a..b).contains(&ms));
            let tone = if speaking {
                amplitude * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(RATE)).sin()
            } else {
                0.0
            };
            (tone as i32 + hiss).clamp(-32768, 32767) as i16
        })
        .collect()
}

fn interleave(left: &[i16], right: &[i16]) -> Vec<i16> {
    left.iter().zip(right).flat_map(|(l, r)| [*l, *r]).collect()
}

/// A canonical 44-byte-header WAV of interleaved stereo samples.
fn wav(interleaved: &[i16]) -> Vec<u8> {
    let data = (interleaved.len() * 2) as u32;
    let mut out = Vec::with_capacity(44 + data as usize);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&RATE.to_le_bytes());
    out.extend_from_slice(&(RATE * 4).to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data.to_le_bytes());
    for s in interleaved {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

fn assert_spans(what: &str, got: &[Span], expected: &[(u64, u64)]) {
    assert_eq!(got.len(), expected.len(), "{what}: {got:?} vs {expected:?}");
    for (g, &(a, b)) in got.iter().zip(expected) {
        assert!(
            g.start_ms.abs_diff(a) <= TOLERANCE_MS && g.end_ms.abs_diff(b) <= TOLERANCE_MS,
            "{what}: {g:?} vs [{a}, {b})"
        );
    }
}

fn assert_near(what: &str, got: u64, expected: u64, boundaries: u64) {
    let tolerance = TOLERANCE_MS * boundaries;
    eprintln!("{what}: expected {expected} ms, measured {got} ms (tolerance ±{tolerance} ms)");
    assert!(
        got.abs_diff(expected) <= tolerance,
        "{what}: {got} vs {expected} ± {tolerance}"
    );
}

/// 18 s: the caller speaks 300–2150 and 2330–4010 (a 180 ms pause, under the hangover: one
/// turn), 7010–8530 and 16500–17000; the operator 3500–6220 (overtalk 3500–4010) and
/// 9050–11430, with five samples at full scale; a hold 12000–16000.
fn scripted_call() -> (Vec<i16>, Vec<Span>) {
    let total = 18_000;
    let caller = channel(
        total,
        &[(300, 2150), (2330, 4010), (7010, 8530), (16500, 17000)],
        440.0,
        8000.0,
        20,
    );
    let mut operator = channel(total, &[(3500, 6220), (9050, 11430)], 1000.0, 6000.0, 20);
    for s in &mut operator[80_000..80_005] {
        *s = 32767;
    }
    (
        interleave(&caller, &operator),
        vec![Span::new(12_000, 16_000)],
    )
}

#[test]
fn known_audio_gives_the_expected_figures() {
    let (samples, holds) = scripted_call();
    let mut file = Cursor::new(wav(&samples));
    let r = analyse_wav(&mut file, VadSettings::default(), &holds).unwrap();
    assert_eq!(r.duration_ms, 18_000);
    assert_spans(
        "caller",
        &r.caller_segments,
        &[(300, 4010), (7010, 8530), (16500, 17000)],
    );
    assert_spans(
        "operator",
        &r.operator_segments,
        &[(3500, 6220), (9050, 11430)],
    );
    assert_spans("overtalk", &r.overtalk_segments, &[(3500, 4010)]);
    assert_spans(
        "dead air",
        &r.dead_air_segments,
        &[
            (0, 300),
            (6220, 7010),
            (8530, 9050),
            (11430, 12000),
            (16000, 16500),
            (17000, 18000),
        ],
    );
    assert_near("caller_speech_ms", r.caller_speech_ms, 5730, 6);
    assert_near("operator_speech_ms", r.operator_speech_ms, 5100, 4);
    assert_near("overtalk_ms", r.overtalk_ms, 510, 2);
    assert_near("silence_ms", r.silence_ms, 3680, 8);
    assert_near("longest_silence_ms", r.longest_silence_ms, 1000, 1);
    assert_eq!(r.hold_ms, 4000);
    let share = r.operator_talk_share.unwrap();
    eprintln!("operator_talk_share: expected 0.471, measured {share:.3}");
    assert!((share - 5100.0 / 10830.0).abs() < 0.02, "{share}");
    // A sine of amplitude 8000 is −15.3 dBFS RMS, −12.3 dBFS peak.
    let caller_rms = r.caller.rms_dbfs.unwrap();
    let caller_peak = r.caller.peak_dbfs.unwrap();
    eprintln!("caller rms {caller_rms:.2} dBFS (expected -15.26), peak {caller_peak:.2} dBFS (expected -12.27)");
    assert!((caller_rms + 15.26).abs() < 0.5, "{caller_rms}");
    assert!((caller_peak + 12.27).abs() < 0.2, "{caller_peak}");
    assert_eq!(r.caller.clipped_samples, 0);
    assert_eq!(r.operator.clipped_samples, 5);
    assert!(r.operator.peak_dbfs.unwrap() > -0.01);
}

#[test]
fn flags_follow_the_thresholds() {
    let (samples, holds) = scripted_call();
    let mut a = Analyser::new(VadSettings::default(), RATE);
    a.push(&samples);
    let r = a.finish(&holds);
    let strict = FlagThresholds {
        dead_air_ms: Some(900),
        overtalk_ms: Some(400),
        operator_silent_below_ms: Some(6000),
    };
    assert_eq!(
        flags(&r, &strict),
        [
            FLAG_LONG_DEAD_AIR,
            FLAG_HEAVY_OVERTALK,
            FLAG_OPERATOR_SILENT
        ]
    );
    let lax = FlagThresholds {
        dead_air_ms: Some(5000),
        overtalk_ms: None,
        operator_silent_below_ms: Some(1),
    };
    assert!(flags(&r, &lax).is_empty());
}

#[test]
fn a_silent_operator_and_blocks_of_any_size() {
    let caller = channel(3000, &[(500, 2500)], 440.0, 8000.0, 20);
    let operator = vec![0i16; caller.len()];
    let samples = interleave(&caller, &operator);
    let mut whole = Analyser::new(VadSettings::default(), RATE);
    whole.push(&samples);
    let whole = whole.finish(&[]);
    let mut pieces = Analyser::new(VadSettings::default(), RATE);
    for block in samples.chunks(2 * 37) {
        pieces.push(block);
    }
    assert_eq!(pieces.finish(&[]), whole);
    assert_eq!(whole.operator_speech_ms, 0);
    assert_eq!(whole.operator_talk_share, Some(0.0));
    assert_eq!(whole.operator.peak_dbfs, None);
    assert_eq!(whole.operator.rms_dbfs, None);
    assert_eq!(whole.overtalk_ms, 0);
    assert_spans("caller", &whole.caller_segments, &[(500, 2500)]);
}

#[test]
fn a_click_is_not_speech_and_empty_audio_has_no_figures() {
    let caller = channel(2000, &[(1000, 1030)], 440.0, 8000.0, 0);
    let samples = interleave(&caller, &vec![0; caller.len()]);
    let mut a = Analyser::new(VadSettings::default(), RATE);
    a.push(&samples);
    let r = a.finish(&[Span::new(1500, 99_000)]);
    assert_eq!(r.caller_speech_ms, 0);
    assert_eq!(r.hold_ms, 500, "holds are cut to the recording");
    assert_eq!(r.silence_ms, 1500);
    let empty = Analyser::new(VadSettings::default(), RATE).finish(&[]);
    assert_eq!(empty.duration_ms, 0);
    assert_eq!(empty.operator_talk_share, None);
    assert!(empty.dead_air_segments.is_empty());
}

#[test]
fn a_mono_file_is_refused() {
    let mut bytes = wav(&[0, 0, 0, 0]);
    bytes[22] = 1; // channels
    bytes[32] = 2; // block align
    let err = analyse_wav(&mut Cursor::new(bytes), VadSettings::default(), &[]).unwrap_err();
    assert!(
        matches!(err, AnalysisError::Format { channels: 1, .. }),
        "{err}"
    );
}
