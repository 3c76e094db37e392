//! A recording file read through the [`Analyser`] block by block.

use std::io::{self, Read, Seek, SeekFrom};

use super::{Analyser, AudioReport, Span, VadSettings};
use crate::media::stereo::{inspect, RecordingError};

/// Bytes read at a time: 64 KiB, about two seconds of stereo audio.
const BLOCK_BYTES: usize = 64 * 1024;

/// Why a file could not be analysed.
#[derive(thiserror::Error, Debug)]
pub enum AnalysisError {
    /// The file is not a readable WAV recording.
    #[error("{0}")]
    Wav(#[from] RecordingError),
    /// The file is a WAV, but not 16-bit stereo PCM.
    #[error("expected 16-bit stereo PCM, found {channels} channel(s) of {bits_per_sample}-bit")]
    Format {
        /// Its channels.
        channels: u16,
        /// Its bits per sample.
        bits_per_sample: u16,
    },
    /// Reading the audio failed.
    #[error("reading the recording: {0}")]
    Io(#[from] io::Error),
}

/// Analyses a 16-bit stereo WAV (caller left, operator right) with `holds` excluded from
/// dead air.
pub fn analyse_wav<R: Read + Seek>(
    file: &mut R,
    settings: VadSettings,
    holds: &[Span],
) -> Result<AudioReport, AnalysisError> {
    let info = inspect(file)?;
    if info.channels != 2 || info.bits_per_sample != 16 {
        return Err(AnalysisError::Format {
            channels: info.channels,
            bits_per_sample: info.bits_per_sample,
        });
    }
    file.seek(SeekFrom::Start(info.data_offset))?;
    let mut analyser = Analyser::new(settings, info.sample_rate);
    let mut bytes = vec![0u8; BLOCK_BYTES];
    let mut samples = vec![0i16; BLOCK_BYTES / 2];
    let mut left = info.data_bytes;
    while left > 0 {
        let want = (left.min(BLOCK_BYTES as u64)) as usize;
        file.read_exact(&mut bytes[..want])?;
        left -= want as u64;
        let n = want / 2;
        for (s, b) in samples[..n].iter_mut().zip(bytes[..want].chunks_exact(2)) {
            *s = i16::from_le_bytes([b[0], b[1]]);
        }
        analyser.push(&samples[..n]);
    }
    Ok(analyser.finish(holds))
}
