//! The audio analysis of a finished recording (criterion): a 5-minute stereo call (both
//! sides taking turns over line noise, with overtalk and pauses) read from an in-memory
//! WAV, every figure computed. What each recording costs the analysis worker.
//! Run with `cargo bench --bench audio_analysis`.

use std::hint::black_box;
use std::io::Cursor;

use criterion::{criterion_group, criterion_main, Criterion};
use hotline::media::analysis::{analyse_wav, Span, VadSettings};

const RATE: usize = 8000;
const MINUTES: usize = 5;

/// Five minutes of turns: each side speaks 4 s in every 7 s, the operator 3 s behind.
fn five_minute_call() -> Vec<u8> {
    let frames = MINUTES * 60 * RATE;
    let mut seed: u32 = 1;
    let mut data = Vec::with_capacity(frames * 4);
    for i in 0..frames {
        let ms = i * 1000 / RATE;
        let mut sample = |hz: f64, on: bool| {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let hiss = ((seed >> 16) % 41) as i32 - 20;
            let tone = if on {
                (6000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / RATE as f64).sin()) as i32
            } else {
                0
            };
            (tone + hiss) as i16
        };
        let left = sample(440.0, ms % 7000 < 4000);
        let right = sample(1000.0, (ms + 4000) % 7000 < 4000);
        data.extend_from_slice(&left.to_le_bytes());
        data.extend_from_slice(&right.to_le_bytes());
    }
    let len = data.len() as u32;
    let mut wav = Vec::with_capacity(44 + data.len());
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&(RATE as u32).to_le_bytes());
    wav.extend_from_slice(&(RATE as u32 * 4).to_le_bytes());
    wav.extend_from_slice(&4u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&len.to_le_bytes());
    wav.extend_from_slice(&data);
    wav
}

fn analyse_five_minutes(c: &mut Criterion) {
    let wav = five_minute_call();
    let holds = [Span::new(60_000, 90_000)];
    c.bench_function("analysis/five_minute_call", |b| {
        b.iter(|| {
            let mut file = Cursor::new(black_box(wav.as_slice()));
            black_box(analyse_wav(&mut file, VadSettings::default(), &holds).expect("valid WAV"))
        })
    });
}

criterion_group!(benches, analyse_five_minutes);
criterion_main!(benches);
