//! Reading a recording's header back ([`inspect`], for `recordings verify`) and making an
//! unfinished recording valid ([`repair`], at start-up after the process stopped mid-call).
//!
//! The header is walked as RIFF chunks (Microsoft RIFF specification, 1991: a chunk is a
//! four-byte id, a 32-bit little-endian size, the data, and a pad byte when the size is
//! odd), so files of other writers (hound, sox) are read as well as ours.
//!
//! Invariants: the walk never reads past the length it is given and gives up after
//! [`MAX_CHUNKS`] chunks, so no file makes it loop long or panic; [`repair`] only ever
//! rewrites the two size fields, and only to describe whole frames that are in the file.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::time::Duration;

use super::wav::frames_duration;
use super::RecordingError;

/// Chunks looked at before the data chunk; writers put one to three there.
const MAX_CHUNKS: usize = 64;
/// The `fmt ` fields read: the 16 of PCM plus the extensible part (cbSize, valid bits,
/// channel mask, sub-format GUID).
const FMT_MAX: usize = 40;
/// WAVE_FORMAT_PCM.
const FORMAT_PCM: u16 = 1;
/// WAVE_FORMAT_EXTENSIBLE: the real format is the first two bytes of the sub-format GUID.
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

/// What a WAV file holds, from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WavInfo {
    /// Channels.
    pub channels: u16,
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// Bits per sample.
    pub bits_per_sample: u16,
    /// Frames (samples per channel) the header declares.
    pub frames: u64,
    /// The audio's duration.
    pub duration: Duration,
    /// Where the audio starts in the file.
    pub data_offset: u64,
    /// Audio bytes the header declares.
    pub data_bytes: u64,
    /// Bytes after the RIFF chunk: nothing in a finished recording; an unfinished one's
    /// frames written since its last checkpoint (see [`repair`]).
    pub trailing_bytes: u64,
}

/// What [`repair`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RepairReport {
    /// Whole frames the file now declares.
    pub frames: u64,
    /// Their duration.
    pub duration: Duration,
    /// Bytes of a torn last frame now outside the data chunk.
    pub truncated_bytes: u64,
    /// The file's length without them: truncate the file to it (`File::set_len`), which a
    /// `Read + Write + Seek` cannot do, so that nothing follows the audio.
    pub len: u64,
}

/// The format fields of a `fmt ` chunk.
#[derive(Clone, Copy, Debug)]
struct Format {
    channels: u16,
    sample_rate: u32,
    bits_per_sample: u16,
    block_align: u16,
}

/// Where things are in a WAV file.
#[derive(Clone, Copy, Debug)]
struct Layout {
    riff_size: u64,
    format: Format,
    data_offset: u64,
    data_size: u64,
}

/// Reads a WAV header, validating it against itself and the file's length: integer PCM,
/// a consistent format, whole frames, and the audio within the file. The reader's position
/// afterwards is unspecified.
pub fn inspect<R: Read + Seek>(r: &mut R) -> Result<WavInfo, RecordingError> {
    let len = r.seek(SeekFrom::End(0))?;
    let layout = read_layout(r, len)?;
    let f = layout.format;
    if layout.data_size % u64::from(f.block_align) != 0 {
        return Err(RecordingError::PartialFrame {
            data_bytes: layout.data_size,
            block_align: f.block_align,
        });
    }
    let data_end = layout.data_offset + layout.data_size;
    if data_end > len {
        return Err(RecordingError::DataPastEnd {
            declared: layout.data_size,
            available: len - layout.data_offset,
        });
    }
    let riff_end = layout.riff_size + 8;
    // A pad byte after odd-sized data may be missing in files of careless writers.
    if riff_end < data_end || riff_end > len + (data_end & 1) {
        return Err(RecordingError::RiffSize {
            declared: layout.riff_size,
            data_end,
            len,
        });
    }
    let frames = layout.data_size / u64::from(f.block_align);
    Ok(WavInfo {
        channels: f.channels,
        sample_rate: f.sample_rate,
        bits_per_sample: f.bits_per_sample,
        frames,
        duration: frames_duration(frames, f.sample_rate),
        data_offset: layout.data_offset,
        data_bytes: layout.data_size,
        trailing_bytes: len.saturating_sub(riff_end),
    })
}

/// Repairs a WAV file `len` bytes long whose writer stopped before finishing it: the data
/// size becomes what the file holds after the header, rounded down to whole frames (a torn
/// last frame is left outside the chunk; truncate the file to [`RepairReport::len`]), and
/// the RIFF size accordingly. The data chunk must be the file's last. `Ok(None)` if the
/// sizes were already right and no torn frame follows.
pub fn repair<F: Read + Write + Seek>(
    file: &mut F,
    len: u64,
) -> Result<Option<RepairReport>, RecordingError> {
    let layout = read_layout(file, len)?;
    let block_align = u64::from(layout.format.block_align);
    let available = len - layout.data_offset;
    // The RIFF size counts everything after its own 8 bytes, and must fit in 32 bits.
    let room = u64::from(u32::MAX).saturating_sub(layout.data_offset - 8);
    let frames = available.min(room) / block_align;
    let data_bytes = frames * block_align;
    let riff_size = layout.data_offset - 8 + data_bytes;
    let truncated_bytes = available - data_bytes;
    if layout.data_size == data_bytes && layout.riff_size == riff_size && truncated_bytes == 0 {
        return Ok(None);
    }
    // Both fit in 32 bits by the choice of `frames`.
    file.seek(SeekFrom::Start(4))?;
    file.write_all(&(riff_size as u32).to_le_bytes())?;
    file.seek(SeekFrom::Start(layout.data_offset - 4))?;
    file.write_all(&(data_bytes as u32).to_le_bytes())?;
    file.flush()?;
    Ok(Some(RepairReport {
        frames,
        duration: frames_duration(frames, layout.format.sample_rate),
        truncated_bytes,
        len: layout.data_offset + data_bytes,
    }))
}

/// Walks the chunks up to the start of the audio.
fn read_layout<R: Read + Seek>(r: &mut R, len: u64) -> Result<Layout, RecordingError> {
    let mut riff = [0u8; 12];
    read_at(r, 0, len, &mut riff)?;
    if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WAVE" {
        return Err(RecordingError::NotWave);
    }
    let riff_size = u64::from(le32(&riff[4..8]));
    let mut format = None;
    let mut at = 12u64;
    for _ in 0..MAX_CHUNKS {
        let mut chunk = [0u8; 8];
        read_at(r, at, len, &mut chunk)?;
        let size = u64::from(le32(&chunk[4..8]));
        let body = at + 8;
        match &chunk[0..4] {
            b"fmt " => {
                let mut fmt = [0u8; FMT_MAX];
                let n = size.min(FMT_MAX as u64) as usize;
                read_at(r, body, len, &mut fmt[..n])?;
                format = Some(parse_format(&fmt[..n])?);
            }
            b"data" => {
                let format = format.ok_or(RecordingError::MissingFormat)?;
                return Ok(Layout {
                    riff_size,
                    format,
                    data_offset: body,
                    data_size: size,
                });
            }
            _ => {}
        }
        // Chunks are word-aligned: an odd size is followed by a pad byte.
        at = body + size + (size & 1);
        if at >= len && riff_size + 8 <= len {
            // The file is complete by its own account, and has no audio.
            return Err(RecordingError::MissingData);
        }
    }
    Err(RecordingError::TooManyChunks { limit: MAX_CHUNKS })
}

/// The fields of a `fmt ` chunk's body, checked against each other.
fn parse_format(fmt: &[u8]) -> Result<Format, RecordingError> {
    if fmt.len() < 16 {
        return Err(RecordingError::ShortFormat {
            size: fmt.len() as u64,
        });
    }
    let mut tag = le16(&fmt[0..2]);
    if tag == FORMAT_EXTENSIBLE && fmt.len() >= 26 {
        // The sub-format GUID starts at byte 24; its first two bytes are the format tag.
        tag = le16(&fmt[24..26]);
    }
    if tag != FORMAT_PCM {
        return Err(RecordingError::UnsupportedFormat { format_tag: tag });
    }
    let f = Format {
        channels: le16(&fmt[2..4]),
        sample_rate: le32(&fmt[4..8]),
        block_align: le16(&fmt[12..14]),
        bits_per_sample: le16(&fmt[14..16]),
    };
    let sample_bytes = f.bits_per_sample.div_ceil(8);
    let consistent = f.channels > 0
        && f.sample_rate > 0
        && (8..=32).contains(&f.bits_per_sample)
        && u32::from(f.block_align) == u32::from(f.channels) * u32::from(sample_bytes);
    if !consistent {
        return Err(RecordingError::BadFormat {
            channels: f.channels,
            sample_rate: f.sample_rate,
            bits_per_sample: f.bits_per_sample,
            block_align: f.block_align,
        });
    }
    Ok(f)
}

/// Reads `buf.len()` bytes at `at`, or fails with [`RecordingError::HeaderTruncated`] if
/// they are not all within `len`.
fn read_at<R: Read + Seek>(
    r: &mut R,
    at: u64,
    len: u64,
    buf: &mut [u8],
) -> Result<(), RecordingError> {
    if at.saturating_add(buf.len() as u64) > len {
        return Err(RecordingError::HeaderTruncated { len });
    }
    r.seek(SeekFrom::Start(at))?;
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => RecordingError::HeaderTruncated { len },
        _ => RecordingError::Io(e),
    })
}

fn le16(b: &[u8]) -> u16 {
    u16::from_le_bytes([b[0], b[1]])
}

fn le32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

#[cfg(test)]
#[path = "wav_read_tests.rs"]
mod tests;
