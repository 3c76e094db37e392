use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::media::{g711, Codec};

const RATE: f32 = 8000.0;

/// A key's two tones, `amplitude` each, for `ms` milliseconds.
fn tone(key: char, ms: u32, amplitude: f32) -> Vec<f32> {
    let (r, c) = frequencies(key).expect("a DTMF key");
    (0..ms * 8)
        .map(|n| {
            let t = n as f32 / RATE;
            amplitude
                * ((2.0 * std::f32::consts::PI * r * t).sin()
                    + (2.0 * std::f32::consts::PI * c * t).sin())
        })
        .collect()
}

fn silence(ms: u32) -> Vec<f32> {
    vec![0.0; ms as usize * 8]
}

fn pcm(x: &[f32]) -> Vec<i16> {
    x.iter()
        .map(|v| v.clamp(-32768.0, 32767.0) as i16)
        .collect()
}

/// What a caller's G.711 stream decodes to.
fn through(codec: Codec, x: &[i16]) -> Vec<i16> {
    let mut bytes = vec![0u8; x.len()];
    g711::encode(codec, x, &mut bytes);
    let mut out = vec![0i16; x.len()];
    g711::decode(codec, &bytes, &mut out);
    out
}

/// Keys found in `x`, fed in 20 ms frames as the media path does.
fn detect(x: &[i16]) -> String {
    let mut d = ToneDetector::new();
    let mut keys = String::new();
    for frame in x.chunks(160) {
        d.push(frame, |k| keys.push(k));
    }
    keys
}

#[test]
fn every_key_through_pcmu_and_pcma() {
    let all = "123A456B789C*0#D";
    let mut audio = Vec::new();
    for k in all.chars() {
        audio.extend(tone(k, 80, 6000.0));
        audio.extend(silence(80));
    }
    let audio = pcm(&audio);
    assert_eq!(detect(&through(Codec::Pcmu, &audio)), all);
    assert_eq!(detect(&through(Codec::Pcma, &audio)), all);
}

#[test]
fn a_long_press_is_one_key_and_a_short_blip_is_none() {
    let mut audio = tone('5', 600, 6000.0);
    audio.extend(silence(100));
    audio.extend(tone('7', 30, 6000.0));
    audio.extend(silence(100));
    assert_eq!(detect(&pcm(&audio)), "5");
}

#[test]
fn the_same_key_twice_with_a_gap_is_two_presses() {
    let mut audio = tone('0', 70, 6000.0);
    audio.extend(silence(60));
    audio.extend(tone('0', 70, 6000.0));
    assert_eq!(detect(&pcm(&audio)), "00");
}

#[test]
fn one_tone_alone_or_too_much_twist_is_not_a_key() {
    let single: Vec<f32> = (0..8000)
        .map(|n| 8000.0 * (2.0 * std::f32::consts::PI * 770.0 * n as f32 / RATE).sin())
        .collect();
    assert_eq!(detect(&pcm(&single)), "");
    // Column 12 dB above the row.
    let (r, c) = frequencies('5').unwrap();
    let twisted: Vec<f32> = (0..8000)
        .map(|n| {
            let t = n as f32 / RATE;
            1500.0 * (2.0 * std::f32::consts::PI * r * t).sin()
                + 6000.0 * (2.0 * std::f32::consts::PI * c * t).sin()
        })
        .collect();
    assert_eq!(detect(&pcm(&twisted)), "");
    // Too quiet: about −55 dBm0.
    assert_eq!(detect(&pcm(&tone('5', 200, 40.0))), "");
}

fn gaussian(rng: &mut SmallRng) -> f32 {
    let u1: f32 = rng.random::<f32>().max(1e-9);
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
}

/// Voiced speech, roughly: a glottal pulse train (f0 wandering 90–260 Hz) shaped by two
/// moving formants, in syllables about 4 a second. What a caller says over the keys.
fn speech_like(seconds: u32, rng: &mut SmallRng) -> Vec<f32> {
    let n = (seconds * 8000) as usize;
    let mut out = Vec::with_capacity(n);
    let (mut f0, mut f1, mut f2) = (140.0f32, 600.0f32, 1500.0f32);
    let mut phase = 0.0f32;
    for i in 0..n {
        if i % 400 == 0 {
            f0 = (f0 + rng.random_range(-25.0..25.0)).clamp(90.0, 260.0);
            f1 = (f1 + rng.random_range(-80.0..80.0)).clamp(300.0, 900.0);
            f2 = (f2 + rng.random_range(-150.0..150.0)).clamp(900.0, 2400.0);
        }
        phase += f0 / RATE;
        phase -= phase.floor();
        let syllable = (std::f32::consts::PI * (i as f32 / 2000.0)).sin().abs();
        let mut s = 0.0;
        let harmonics = (3400.0 / f0) as usize;
        for h in 1..=harmonics {
            let f = f0 * h as f32;
            let formant = |fc: f32, bw: f32| 1.0 / (1.0 + ((f - fc) / bw).powi(2));
            let gain = formant(f1, 90.0) + 0.6 * formant(f2, 120.0) + 0.02;
            s += gain * (2.0 * std::f32::consts::PI * phase * h as f32).sin() / h as f32;
        }
        out.push(6000.0 * syllable * s + 100.0 * gaussian(rng));
    }
    out
}

/// Detection rate over presses of random keys (80 ms on, 80 ms off) in white noise at
/// `snr_db` (tone pair power over noise power), and wrong keys reported.
fn noisy_presses(snr_db: f32, presses: usize, codec: Codec, rng: &mut SmallRng) -> (f32, usize) {
    let amplitude = 4000.0;
    let tone_power = amplitude * amplitude; // two tones, A²/2 each
    let sigma = (tone_power / 10f32.powf(snr_db / 10.0)).sqrt();
    let mut audio = Vec::new();
    let mut sent = String::new();
    for _ in 0..presses {
        let k = KEYS[rng.random_range(0..16)];
        sent.push(k);
        audio.extend(tone(k, 80, amplitude));
        audio.extend(silence(80));
    }
    for x in audio.iter_mut() {
        *x += sigma * gaussian(rng);
    }
    let got = detect(&through(codec, &pcm(&audio)));
    // Align by order: count the sent keys found in sequence; the rest are wrong keys.
    let mut found = 0;
    let mut wrong = 0;
    let mut expect = sent.chars().peekable();
    for g in got.chars() {
        loop {
            match expect.next() {
                Some(e) if e == g => {
                    found += 1;
                    break;
                }
                Some(_) => continue,
                None => {
                    wrong += 1;
                    break;
                }
            }
        }
    }
    let wrong = wrong + got.len().saturating_sub(found + wrong);
    (found as f32 / presses as f32, wrong)
}

/// The figures for the release notes: `cargo test --release --lib goertzel -- --nocapture`.
#[test]
fn detection_in_noise_and_false_keys_on_speech() {
    let mut rng = SmallRng::seed_from_u64(4733);
    println!("| SNR, dB | detected (PCMU) | wrong keys | detected (PCMA) | wrong keys |");
    println!("|--------:|----------------:|-----------:|----------------:|-----------:|");
    let mut rates = Vec::new();
    for snr in [30.0, 20.0, 15.0, 10.0, 6.0, 3.0, 0.0] {
        let (u, uw) = noisy_presses(snr, 200, Codec::Pcmu, &mut rng);
        let (a, aw) = noisy_presses(snr, 200, Codec::Pcma, &mut rng);
        println!(
            "| {snr} | {:.1} % | {uw} | {:.1} % | {aw} |",
            u * 100.0,
            a * 100.0
        );
        rates.push((snr, u.min(a), uw + aw));
    }
    let seconds = 120;
    let speech = pcm(&speech_like(seconds, &mut rng));
    let false_u = detect(&through(Codec::Pcmu, &speech));
    let false_a = detect(&through(Codec::Pcma, &speech));
    println!(
        "speech-like noise, {seconds} s: {} false keys (PCMU), {} (PCMA)",
        false_u.len(),
        false_a.len()
    );
    for (snr, rate, wrong) in rates {
        if snr >= 10.0 {
            assert!(rate >= 0.99, "{snr} dB: {rate}");
            assert_eq!(wrong, 0, "{snr} dB");
        }
    }
    assert!(false_u.len() + false_a.len() <= 2, "{false_u} {false_a}");
}
