//! In-band DTMF detection (ITU-T Q.23/Q.24) on 8 kHz linear audio, for callers whose
//! network sends the keys as tones in the G.711 stream rather than as RFC 4733 events.
//!
//! The audio is cut into blocks of [`BLOCK`] samples (25.6 ms); the Goertzel algorithm
//! measures the power at the eight DTMF frequencies in each. A block holds a key when:
//! the signal is not too quiet (energy check); the strongest row and column tones carry
//! most of the block's energy (speech and noise spread theirs); every other row or column
//! tone is well below the strongest of its group; and the twist (column to row level) is
//! within limits. A key is reported after [`MIN_BLOCKS`] blocks in a row hold it (about
//! 51 ms, above Q.24's 40 ms minimum), once per press: it must be released (a block
//! without it) before it counts again.

use super::KEYS;

/// Samples per analysis block: the classic 205 at 8 kHz, which puts every DTMF frequency
/// near a bin centre.
pub const BLOCK: usize = 205;
/// Consecutive blocks that must agree before a key is reported.
pub const MIN_BLOCKS: u8 = 2;

const ROWS: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
const COLS: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
/// Key layout: row × column.
const PAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

/// Below this mean square, a block is too quiet to be a key: a pair of tones at about
/// −36 dBm0 each (0 dBm0 is a sine of amplitude 22 700); Q.24 asks for −25 dBm0 and up.
const MIN_ENERGY: f32 = 50_000.0;
/// Row and column tones together must carry at least this share of the block's energy.
const MIN_TONE_SHARE: f32 = 0.55;
/// Every other tone of a group is at least 8 dB (×6.3) below the strongest.
const GROUP_MARGIN: f32 = 6.3;
/// Column may be up to 4 dB above the row (normal twist), row up to 8 dB above the
/// column (reverse twist).
const MAX_NORMAL_TWIST: f32 = 2.5;
const MAX_REVERSE_TWIST: f32 = 6.3;

/// The streaming detector: feed it decoded audio, it returns the keys.
#[derive(Debug, Clone)]
pub struct ToneDetector {
    coeffs: [f32; 8],
    block: [f32; BLOCK],
    filled: usize,
    /// The key held by the last blocks, and for how many.
    candidate: Option<char>,
    run: u8,
    /// The key already reported for the current press.
    reported: bool,
}

impl Default for ToneDetector {
    fn default() -> Self {
        ToneDetector::new()
    }
}

impl ToneDetector {
    pub fn new() -> ToneDetector {
        let mut coeffs = [0.0; 8];
        for (c, f) in coeffs.iter_mut().zip(ROWS.iter().chain(COLS.iter())) {
            *c = 2.0 * (2.0 * std::f32::consts::PI * f / 8000.0).cos();
        }
        ToneDetector {
            coeffs,
            block: [0.0; BLOCK],
            filled: 0,
            candidate: None,
            run: 0,
            reported: false,
        }
    }

    /// Feeds `samples` (8 kHz, 16-bit); calls `on_key` for each key found. Allocates
    /// nothing: this runs on the media path.
    pub fn push(&mut self, samples: &[i16], mut on_key: impl FnMut(char)) {
        for &s in samples {
            self.block[self.filled] = s as f32;
            self.filled += 1;
            if self.filled == BLOCK {
                self.filled = 0;
                let key = self.analyse();
                if let Some(k) = self.track(key) {
                    on_key(k);
                }
            }
        }
    }

    /// The key a block holds, if any.
    fn analyse(&self) -> Option<char> {
        let energy: f32 = self.block.iter().map(|x| x * x).sum::<f32>();
        if energy / (BLOCK as f32) < MIN_ENERGY {
            return None;
        }
        let mut power = [0.0f32; 8];
        for (p, &coeff) in power.iter_mut().zip(self.coeffs.iter()) {
            let (mut s1, mut s2) = (0.0f32, 0.0f32);
            for &x in &self.block {
                let s0 = x + coeff * s1 - s2;
                s2 = s1;
                s1 = s0;
            }
            // Scaled so that a pure tone's power equals its share of the block's energy.
            *p = (s1 * s1 + s2 * s2 - coeff * s1 * s2) * 2.0 / (BLOCK as f32);
        }
        let (row, row_p) = strongest(&power[..4]);
        let (col, col_p) = strongest(&power[4..]);
        let apart = |group: &[f32], best: usize, best_p: f32| {
            group
                .iter()
                .enumerate()
                .all(|(i, &p)| i == best || p * GROUP_MARGIN <= best_p)
        };
        let ok = row_p + col_p >= MIN_TONE_SHARE * energy
            && apart(&power[..4], row, row_p)
            && apart(&power[4..], col, col_p)
            && col_p <= row_p * MAX_NORMAL_TWIST
            && row_p <= col_p * MAX_REVERSE_TWIST;
        ok.then(|| PAD[row][col])
    }

    /// Debounces block results into presses.
    fn track(&mut self, key: Option<char>) -> Option<char> {
        if key != self.candidate {
            self.candidate = key;
            self.run = 0;
            self.reported = false;
        }
        let k = key?;
        self.run = self.run.saturating_add(1);
        if self.run >= MIN_BLOCKS && !self.reported {
            self.reported = true;
            return Some(k);
        }
        None
    }
}

fn strongest(group: &[f32]) -> (usize, f32) {
    group.iter().copied().enumerate().fold(
        (0, f32::MIN),
        |best, (i, p)| if p > best.1 { (i, p) } else { best },
    )
}

/// The two frequencies of `key` (row, column), for tests and tone generation.
pub fn frequencies(key: char) -> Option<(f32, f32)> {
    let _ = KEYS.iter().position(|&k| k == key)?;
    PAD.iter().enumerate().find_map(|(r, row)| {
        row.iter()
            .position(|&k| k == key)
            .map(|c| (ROWS[r], COLS[c]))
    })
}

#[cfg(test)]
#[path = "goertzel_tests.rs"]
mod tests;
