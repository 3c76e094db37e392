//! Writing a recording: a canonical 44-byte RIFF/WAVE header (PCM format tag 1, 2 channels,
//! 8000 Hz, 16 bits; the `fmt ` chunk of the Microsoft RIFF specification, 1991) followed by
//! little-endian interleaved samples.
//!
//! Invariants:
//! - the header's RIFF and data sizes are only ever rewritten by [`WavWriter::checkpoint`]
//!   (and [`WavWriter::finish`]), and always describe a whole number of stereo frames that
//!   are all in the file: a file checkpointed and synced is playable as it stands, whatever
//!   happens next;
//! - the writer holds no audio of its own: each [`WavWriter::write`] hands its samples to
//!   the inner writer at once, in one `write_all` (the recorder writes what a tick settled,
//!   about 8 KB), so a live recording costs no buffer and no extra system call;
//! - [`WavWriter::write`] takes whole frames only, so the frame count never holds half a
//!   frame (a generic WAV writer's flush after an odd number of samples would leave a
//!   header describing half a frame, which readers reject);
//! - the data size never exceeds what the 32-bit RIFF size can describe; writing past that
//!   (about 37 hours of audio) is refused rather than wrapped;
//! - a checkpoint is one positioned write of the header's sizes ([`WriteAt`], `pwrite` on a
//!   file): the writer's position, where the audio goes, is never moved;
//! - nothing allocates after [`WavWriter::create`].

use std::fs::File;
use std::io::{self, Cursor, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::time::Duration;

use super::{BITS_PER_SAMPLE, CHANNELS, FRAME_BYTES, HEADER_LEN, SAMPLE_RATE};

/// The largest data chunk, in whole frames, whose RIFF size (data + 36) fits in 32 bits.
const MAX_DATA_BYTES: u64 =
    (u32::MAX as u64 - (HEADER_LEN - 8)) / FRAME_BYTES as u64 * FRAME_BYTES as u64;
/// Offset of the RIFF chunk's size field: a checkpoint rewrites the header from here on
/// (the data chunk's size, at 40, is its last field).
const RIFF_SIZE_AT: u64 = 4;

/// Writing at an offset without moving the writer's position: `pwrite` on a file, one
/// system call where seeking there, writing and seeking back took three.
pub trait WriteAt: Write + Seek {
    /// Writes all of `buf` at `offset`; the position is left where it was. The default
    /// seeks there and back, for writers that have nothing better.
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        let position = self.stream_position()?;
        self.seek(SeekFrom::Start(offset))?;
        self.write_all(buf)?;
        self.seek(SeekFrom::Start(position))?;
        Ok(())
    }
}

impl WriteAt for File {
    fn write_all_at(&mut self, buf: &[u8], offset: u64) -> io::Result<()> {
        FileExt::write_all_at(self, buf, offset)
    }
}

impl WriteAt for Cursor<Vec<u8>> {}

/// What a finished recording holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WavSummary {
    /// Stereo frames (samples per channel).
    pub frames: u64,
    /// The file's length in bytes, header included.
    pub bytes: u64,
    /// The audio's duration: `frames` at 8 kHz.
    pub duration: Duration,
}

/// Stereo 16-bit 8 kHz WAV writer over any [`WriteAt`] (a file in production, a `Cursor`
/// in tests). The header is written at the inner writer's position at creation.
///
/// Nothing is flushed on drop (errors would go unseen): end with [`WavWriter::finish`].
/// After an error the writer should be dropped; the file is then repairable with
/// [`super::repair`].
pub struct WavWriter<W: WriteAt> {
    inner: W,
    /// Where the header starts in `inner`.
    base: u64,
    /// Audio bytes handed to `inner`.
    written: u64,
}

impl<W: WriteAt> std::fmt::Debug for WavWriter<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavWriter")
            .field("base", &self.base)
            .field("written", &self.written)
            .finish()
    }
}

impl<W: WriteAt> WavWriter<W> {
    /// Writes a header describing no audio yet.
    pub fn create(mut inner: W) -> io::Result<Self> {
        let base = inner.stream_position()?;
        inner.write_all(&header(0))?;
        Ok(WavWriter {
            inner,
            base,
            written: 0,
        })
    }

    /// Appends interleaved samples (caller, operator, caller, …). Refuses an odd number of
    /// samples (half a frame), and audio beyond what a WAV header can describe, writing
    /// nothing in either case.
    pub fn write(&mut self, interleaved: &[i16]) -> io::Result<()> {
        if interleaved.len() % usize::from(CHANNELS) != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "recording write of half a stereo frame",
            ));
        }
        let bytes = interleaved.len() as u64 * 2;
        if self.written.saturating_add(bytes) > MAX_DATA_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::FileTooLarge,
                "recording longer than a WAV header can describe",
            ));
        }
        write_samples(&mut self.inner, interleaved)?;
        self.written += bytes;
        Ok(())
    }

    /// Rewrites the RIFF and data sizes for the frames written so far, in one positioned
    /// write. The caller syncs the file (`File::sync_data`) after this, at least once a
    /// second.
    pub fn checkpoint(&mut self) -> io::Result<()> {
        // `MAX_DATA_BYTES` keeps both sizes within 32 bits.
        let sizes = &header(self.written as u32)[RIFF_SIZE_AT as usize..];
        self.inner.write_all_at(sizes, self.base + RIFF_SIZE_AT)?;
        self.inner.flush()
    }

    /// Writes the final sizes and says what the file holds.
    pub fn finish(self) -> io::Result<WavSummary> {
        self.finish_into_inner().map(|(summary, _)| summary)
    }

    /// [`WavWriter::finish`], giving the inner writer back (to sync and close the file).
    pub fn finish_into_inner(mut self) -> io::Result<(WavSummary, W)> {
        self.checkpoint()?;
        let frames = self.frames();
        let summary = WavSummary {
            frames,
            bytes: HEADER_LEN + self.written,
            duration: frames_duration(frames, SAMPLE_RATE),
        };
        Ok((summary, self.inner))
    }

    /// Stereo frames written so far.
    pub fn frames(&self) -> u64 {
        self.written / u64::from(FRAME_BYTES)
    }

    /// The inner writer (e.g. to sync the file after a checkpoint).
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer, mutably. Writing or seeking through it breaks the file.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The inner writer as it is: frames written since the last checkpoint are in it, but
    /// its header does not announce them.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

/// Hands samples to `inner` as little-endian 16-bit PCM, in one `write_all`: on a
/// little-endian machine the samples' own bytes, without a copy.
#[cfg(target_endian = "little")]
fn write_samples(inner: &mut impl Write, samples: &[i16]) -> io::Result<()> {
    inner.write_all(bytemuck::cast_slice(samples))
}

/// Hands samples to `inner` as little-endian 16-bit PCM, swapped a stack block at a time.
#[cfg(target_endian = "big")]
fn write_samples(inner: &mut impl Write, samples: &[i16]) -> io::Result<()> {
    let mut block = [0u8; 4096];
    for chunk in samples.chunks(block.len() / 2) {
        for (bytes, sample) in block.chunks_exact_mut(2).zip(chunk) {
            bytes.copy_from_slice(&sample.to_le_bytes());
        }
        inner.write_all(&block[..2 * chunk.len()])?;
    }
    Ok(())
}

/// The canonical header for `data` bytes of recording audio.
fn header(data: u32) -> [u8; HEADER_LEN as usize] {
    let block_align = FRAME_BYTES;
    let byte_rate = SAMPLE_RATE * u32::from(block_align);
    let mut h = [0u8; HEADER_LEN as usize];
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data.saturating_add((HEADER_LEN - 8) as u32).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&1u16.to_le_bytes()); // WAVE_FORMAT_PCM
    h[22..24].copy_from_slice(&CHANNELS.to_le_bytes());
    h[24..28].copy_from_slice(&SAMPLE_RATE.to_le_bytes());
    h[28..32].copy_from_slice(&byte_rate.to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&BITS_PER_SAMPLE.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data.to_le_bytes());
    h
}

/// The duration of `frames` at `rate`, to the nanosecond.
pub(super) fn frames_duration(frames: u64, rate: u32) -> Duration {
    if rate == 0 {
        return Duration::ZERO;
    }
    let nanos = u128::from(frames) * 1_000_000_000 / u128::from(rate);
    Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
}

#[cfg(test)]
#[path = "wav_tests.rs"]
mod tests;
