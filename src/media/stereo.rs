//! Stereo recording of a call, sans-IO: the two legs of a conversation become one time-aligned stereo
//! stream ([`Aligner`]), written as a 16-bit 8 kHz WAV file that stays playable if the
//! process dies mid-call ([`WavWriter`], [`repair`]), and read back by `recordings verify`
//! ([`inspect`]).
//!
//! Run loop (the runtime's recording task, one per answered call): create the file and a
//! [`WavWriter`] over it and an [`Aligner`] whose time zero is the operator's answer; for
//! every frame the media task hands over, [`Aligner::push`]; on a short tick (20–100 ms),
//! [`Aligner::drain`] into a reused buffer and [`WavWriter::write`] what came out; at least
//! once a second [`WavWriter::checkpoint`] and sync the file; when the call ends,
//! [`Aligner::finish`], write, [`WavWriter::finish`] and sync. At start-up, [`repair`] the
//! files of calls that were still running when the process stopped.
//!
//! Invariants of a recording (the product's contract for recordings):
//! - caller on the LEFT channel, operator on the RIGHT, PCM 16-bit, 8000 Hz;
//! - sample `n` of both channels is what arrived about `n / 8000` s after the answer: a lost
//!   or late packet is silence in its place, never a shift of what follows;
//! - the file is as long as the conversation; a side that sent nothing is a silent channel;
//! - the header's sizes always describe whole stereo frames, so every checkpointed file is
//!   valid as it stands, and an unfinished one becomes valid by [`repair`].
//!
//! Time and files are inputs: nothing here reads a clock, and the writer works on any
//! `Write + Seek` (a file in production, a `Cursor` in tests).

mod align;
mod stream;
mod wav;
mod wav_read;

use std::io;

pub use align::{AlignStats, Aligner, AlignerConfig, Side, SideStats};
pub use wav::{WavSummary, WavWriter, WriteAt};
pub use wav_read::{inspect, repair, RepairReport, WavInfo};

/// The recording's sample rate: that of G.711.
pub const SAMPLE_RATE: u32 = 8000;
/// Channels of a recording: caller (left) and operator (right).
pub const CHANNELS: u16 = 2;
/// Bits per sample of a recording.
pub const BITS_PER_SAMPLE: u16 = 16;
/// Bytes of one stereo frame (one sample of each channel).
pub const FRAME_BYTES: u16 = CHANNELS * BITS_PER_SAMPLE / 8;
/// Length of the canonical header [`WavWriter`] writes; the audio starts right after it.
pub const HEADER_LEN: u64 = 44;

/// Why a recording file cannot be read back or repaired.
#[derive(thiserror::Error, Debug)]
pub enum RecordingError {
    /// Reading, writing or seeking the file failed.
    #[error("recording file I/O: {0}")]
    Io(#[from] io::Error),
    /// The file ends inside its header: it holds no audio (the process stopped right after
    /// creating it, or the file is not a recording at all).
    #[error("{len} bytes end inside the WAV header")]
    HeaderTruncated {
        /// The file's length.
        len: u64,
    },
    /// The file does not start with a RIFF/WAVE header.
    #[error("not a RIFF WAVE file")]
    NotWave,
    /// The `data` chunk comes before any `fmt ` chunk, so its layout is unknown.
    #[error("no fmt chunk before the data chunk")]
    MissingFormat,
    /// The file's chunks end without a `data` chunk.
    #[error("no data chunk")]
    MissingData,
    /// More chunks precede the audio than any WAV writer produces: not a recording.
    #[error("more than {limit} chunks before the data chunk")]
    TooManyChunks {
        /// How many chunks are looked at before giving up.
        limit: usize,
    },
    /// The `fmt ` chunk is shorter than the 16 bytes of the PCM format.
    #[error("fmt chunk of {size} bytes is shorter than 16")]
    ShortFormat {
        /// The chunk's size.
        size: u64,
    },
    /// The samples are not integer PCM (e.g. floating point or compressed).
    #[error("WAV format tag {format_tag:#06x} is not integer PCM")]
    UnsupportedFormat {
        /// The `fmt ` chunk's format tag (or the extensible sub-format's).
        format_tag: u16,
    },
    /// The `fmt ` chunk contradicts itself: no channels, no sample rate, an odd sample width
    /// or a block alignment that is not channels × bytes per sample.
    #[error("inconsistent WAV format: {channels} channels, {sample_rate} Hz, {bits_per_sample} bits, block align {block_align}")]
    BadFormat {
        /// Channels declared.
        channels: u16,
        /// Sample rate declared.
        sample_rate: u32,
        /// Bits per sample declared.
        bits_per_sample: u16,
        /// Bytes per frame declared.
        block_align: u16,
    },
    /// The `data` chunk's size is not a whole number of frames.
    #[error("data chunk of {data_bytes} bytes is not whole {block_align}-byte frames")]
    PartialFrame {
        /// The declared data size.
        data_bytes: u64,
        /// Bytes per frame.
        block_align: u16,
    },
    /// The header declares more audio than the file holds (an unfinished file: [`repair`]
    /// it).
    #[error("header declares {declared} bytes of audio but the file holds {available}")]
    DataPastEnd {
        /// Audio bytes the header declares.
        declared: u64,
        /// Audio bytes present after the header.
        available: u64,
    },
    /// The RIFF chunk's size does not cover the data chunk, or runs past the end of the
    /// file.
    #[error("RIFF size {declared} disagrees with the file (data ends at {data_end}, file is {len} bytes)")]
    RiffSize {
        /// The RIFF chunk's declared size.
        declared: u64,
        /// Where the data chunk ends.
        data_end: u64,
        /// The file's length.
        len: u64,
    },
}
