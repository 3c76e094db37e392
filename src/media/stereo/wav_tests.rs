//! WAV writer tests: the bytes of the header, and what a standard reader (hound) finds in
//! the file after checkpoints, finishes and simulated crashes.

use std::io::Cursor;

use super::*;
use crate::media::stereo::{inspect, repair};

/// `frames` stereo frames whose samples name their position: left `i`, right `-i`.
fn ramp(from: usize, frames: usize) -> Vec<i16> {
    (from..from + frames)
        .flat_map(|i| [i as i16, -(i as i16)])
        .collect()
}

/// Everything hound reads from a file, or its error.
fn hound_read(bytes: &[u8]) -> Result<(hound::WavSpec, Vec<i16>), hound::Error> {
    let mut reader = hound::WavReader::new(Cursor::new(bytes))?;
    let spec = reader.spec();
    let samples = reader.samples::<i16>().collect::<Result<Vec<_>, _>>()?;
    Ok((spec, samples))
}

#[test]
fn the_header_is_the_canonical_44_bytes() {
    let w = WavWriter::create(Cursor::new(Vec::new())).unwrap();
    let bytes = w.into_inner().into_inner();
    #[rustfmt::skip]
    let expected: [u8; 44] = [
        b'R', b'I', b'F', b'F', 36, 0, 0, 0, b'W', b'A', b'V', b'E',
        b'f', b'm', b't', b' ', 16, 0, 0, 0,
        1, 0, // PCM
        2, 0, // channels
        0x40, 0x1F, 0, 0, // 8000 Hz
        0x00, 0x7D, 0, 0, // 32000 bytes per second
        4, 0, // block align
        16, 0, // bits per sample
        b'd', b'a', b't', b'a', 0, 0, 0, 0,
    ];
    assert_eq!(bytes, expected);
    let (spec, samples) = hound_read(&bytes).unwrap();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (2, 8000, 16)
    );
    assert!(samples.is_empty());
}

#[test]
fn a_checkpoint_makes_what_was_written_readable() {
    let mut w = WavWriter::create(Cursor::new(Vec::new())).unwrap();
    w.write(&ramp(0, 1000)).unwrap();
    assert_eq!(w.frames(), 1000);
    w.checkpoint().unwrap();
    let bytes = w.into_inner().into_inner();
    assert_eq!(bytes.len(), 44 + 4000);
    assert_eq!(&bytes[4..8], &(36u32 + 4000).to_le_bytes());
    assert_eq!(&bytes[40..44], &4000u32.to_le_bytes());
    let (_, samples) = hound_read(&bytes).unwrap();
    assert_eq!(samples, ramp(0, 1000));
}

#[test]
fn writing_goes_on_after_a_checkpoint() {
    let mut w = WavWriter::create(Cursor::new(Vec::new())).unwrap();
    w.write(&ramp(0, 300)).unwrap();
    w.checkpoint().unwrap();
    w.write(&ramp(300, 700)).unwrap();
    w.checkpoint().unwrap();
    w.write(&ramp(1000, 1)).unwrap();
    let summary = w.finish().unwrap();
    assert_eq!(summary.frames, 1001);
    assert_eq!(summary.bytes, 44 + 4004);
    assert_eq!(summary.duration, Duration::from_micros(125_125));
}

#[test]
fn finish_gives_the_file_back_whole() {
    let mut w = WavWriter::create(Cursor::new(Vec::new())).unwrap();
    w.write(&ramp(0, 8000)).unwrap();
    let (summary, cursor) = w.finish_into_inner().unwrap();
    assert_eq!(summary.duration, Duration::from_secs(1));
    let bytes = cursor.into_inner();
    assert_eq!(bytes.len() as u64, summary.bytes);
    let (_, samples) = hound_read(&bytes).unwrap();
    assert_eq!(samples, ramp(0, 8000));
}

#[test]
fn half_a_frame_is_refused_and_never_counted() {
    let mut w = WavWriter::create(Cursor::new(Vec::new())).unwrap();
    w.write(&ramp(0, 3)).unwrap();
    let err = w.write(&[1, 2, 3]).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    assert_eq!(w.frames(), 3);
    w.checkpoint().unwrap();
    w.write(&ramp(3, 5)).unwrap();
    assert_eq!(
        w.write(&[7]).unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
    w.checkpoint().unwrap();
    let bytes = w.into_inner().into_inner();
    assert_eq!(&bytes[40..44], &32u32.to_le_bytes());
    let (_, samples) = hound_read(&bytes).unwrap();
    assert_eq!(samples, ramp(0, 8));
}

#[test]
fn a_crash_between_checkpoints_leaves_the_checkpointed_frames_readable() {
    let mut w = WavWriter::create(Cursor::new(Vec::new())).unwrap();
    w.write(&ramp(0, 1000)).unwrap();
    w.checkpoint().unwrap();
    // Written on, in odd-sized pieces: all of it reaches the file, unannounced.
    for i in 0..61 {
        w.write(&ramp(1000 + i * 101, 101)).unwrap();
    }
    let mut file = w.into_inner();
    let len = file.get_ref().len() as u64;
    assert_eq!(
        len,
        44 + 4000 + 61 * 101 * 4,
        "every write reached the file"
    );
    let (_, samples) = hound_read(file.get_ref()).unwrap();
    assert_eq!(samples, ramp(0, 1000));

    let report = repair(&mut file, len).unwrap().expect("sizes were stale");
    let frames = (len - 44) / 4;
    assert_eq!(report.frames, frames);
    assert_eq!(report.truncated_bytes, 0);
    let (_, samples) = hound_read(file.get_ref()).unwrap();
    assert_eq!(samples, ramp(0, frames as usize));
    assert_eq!(inspect(&mut file).unwrap().frames, frames);
}

#[test]
fn a_writer_may_start_inside_a_larger_stream() {
    let mut cursor = Cursor::new(vec![0xEE; 10]);
    cursor.set_position(10);
    let mut w = WavWriter::create(cursor).unwrap();
    w.write(&ramp(0, 4)).unwrap();
    let (_, cursor) = w.finish_into_inner().unwrap();
    let bytes = cursor.into_inner();
    assert_eq!(&bytes[..10], &[0xEE; 10]);
    let (_, samples) = hound_read(&bytes[10..]).unwrap();
    assert_eq!(samples, ramp(0, 4));
}

/// A `Cursor` that counts the writes handed to it.
struct CountingWrites {
    inner: Cursor<Vec<u8>>,
    writes: usize,
}

impl io::Write for CountingWrites {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.writes += 1;
        self.inner.write(b)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Seek for CountingWrites {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        self.inner.seek(to)
    }
}

impl WriteAt for CountingWrites {}

#[test]
fn each_write_reaches_the_file_at_once_in_one_piece() {
    let sink = CountingWrites {
        inner: Cursor::new(Vec::new()),
        writes: 0,
    };
    let mut w = WavWriter::create(sink).unwrap();
    let header_writes = w.get_ref().writes;
    // A writer tick's worth (0.25 s), then a whole second at once.
    w.write(&ramp(0, 2000)).unwrap();
    assert_eq!(w.get_ref().writes, header_writes + 1);
    assert_eq!(w.get_ref().inner.get_ref().len(), 44 + 8000);
    w.write(&ramp(2000, 8000)).unwrap();
    assert_eq!(w.get_ref().writes, header_writes + 2);
    let (_, sink) = w.finish_into_inner().unwrap();
    let (_, samples) = hound_read(sink.inner.get_ref()).unwrap();
    assert_eq!(samples, ramp(0, 10_000));
}

#[test]
fn a_checkpoint_on_a_file_rewrites_the_sizes_in_place_and_leaves_the_audio_where_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.wav");
    let mut w = WavWriter::create(std::fs::File::create(&path).unwrap()).unwrap();
    w.write(&ramp(0, 1000)).unwrap();
    w.checkpoint().unwrap();
    // Read while still open: the header describes what is there.
    let (_, samples) = hound_read(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(samples, ramp(0, 1000));
    // The next audio follows the last, not the header.
    w.write(&ramp(1000, 500)).unwrap();
    w.finish().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(bytes.len(), 44 + 1500 * 4);
    let (_, samples) = hound_read(&bytes).unwrap();
    assert_eq!(samples, ramp(0, 1500));
}
