//! Reading back and repairing recordings: files of our writer and of hound, cut short at
//! every byte, or damaged in their header.

use std::io::Cursor;

use super::*;
use crate::media::stereo::WavWriter;

/// A finished recording of `frames` frames (left `i`, right `-i`).
fn recording(frames: usize) -> Vec<u8> {
    let mut w = WavWriter::create(Cursor::new(Vec::new())).unwrap();
    let samples: Vec<i16> = (0..frames).flat_map(|i| [i as i16, -(i as i16)]).collect();
    w.write(&samples).unwrap();
    w.finish_into_inner().unwrap().1.into_inner()
}

/// A file written by hound.
fn hound_file(spec: hound::WavSpec, samples: usize) -> Vec<u8> {
    let mut cursor = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut cursor, spec).unwrap();
    for i in 0..samples {
        match spec.sample_format {
            hound::SampleFormat::Int => w.write_sample(i as i16).unwrap(),
            hound::SampleFormat::Float => w.write_sample(i as f32).unwrap(),
        }
    }
    w.finalize().unwrap();
    cursor.into_inner()
}

fn spec(channels: u16, sample_rate: u32, bits: u16) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate,
        bits_per_sample: bits,
        sample_format: hound::SampleFormat::Int,
    }
}

fn set_u32(bytes: &mut [u8], at: usize, value: u32) {
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

#[test]
fn inspect_reads_our_recordings() {
    let info = inspect(&mut Cursor::new(recording(8000))).unwrap();
    assert_eq!(
        info,
        WavInfo {
            channels: 2,
            sample_rate: 8000,
            bits_per_sample: 16,
            frames: 8000,
            duration: Duration::from_secs(1),
            data_offset: 44,
            data_bytes: 32_000,
            trailing_bytes: 0,
        }
    );
}

#[test]
fn inspect_reads_hound_files() {
    let info = inspect(&mut Cursor::new(hound_file(spec(1, 8000, 16), 123))).unwrap();
    assert_eq!(
        (
            info.channels,
            info.sample_rate,
            info.bits_per_sample,
            info.frames
        ),
        (1, 8000, 16, 123)
    );
    let info = inspect(&mut Cursor::new(hound_file(spec(2, 8000, 16), 4000))).unwrap();
    assert_eq!((info.channels, info.frames), (2, 2000));
    assert_eq!(info.duration, Duration::from_millis(250));
    // More than 16 bits: hound writes WAVE_FORMAT_EXTENSIBLE, with a longer fmt chunk.
    let info = inspect(&mut Cursor::new(hound_file(spec(2, 44_100, 24), 20))).unwrap();
    assert_eq!(
        (
            info.channels,
            info.sample_rate,
            info.bits_per_sample,
            info.frames
        ),
        (2, 44_100, 24, 10)
    );
    assert_eq!(info.data_offset, 68);
    let float = hound::WavSpec {
        sample_format: hound::SampleFormat::Float,
        ..spec(1, 8000, 32)
    };
    assert!(matches!(
        inspect(&mut Cursor::new(hound_file(float, 10))),
        Err(RecordingError::UnsupportedFormat { format_tag: 3 })
    ));
}

#[test]
fn inspect_refuses_damaged_headers() {
    let good = recording(100);
    let check = |bytes: Vec<u8>| inspect(&mut Cursor::new(bytes)).unwrap_err();

    assert!(matches!(
        check(b"not a wave file at all".to_vec()),
        RecordingError::NotWave
    ));
    assert!(matches!(
        check(good[..30].to_vec()),
        RecordingError::HeaderTruncated { len: 30 }
    ));

    // An unfinished file: the header claims more than is there.
    let mut cut = good[..44 + 200].to_vec();
    assert!(matches!(
        check(cut.clone()),
        RecordingError::DataPastEnd {
            declared: 400,
            available: 200
        }
    ));
    set_u32(&mut cut, 40, 198);
    set_u32(&mut cut, 4, 36 + 198);
    assert!(matches!(
        check(cut),
        RecordingError::PartialFrame {
            data_bytes: 198,
            block_align: 4
        }
    ));

    let mut riff = good.clone();
    set_u32(&mut riff, 4, 1_000_000);
    assert!(matches!(
        check(riff),
        RecordingError::RiffSize {
            declared: 1_000_000,
            ..
        }
    ));

    let mut align = good.clone();
    align[32] = 3;
    assert!(matches!(
        check(align),
        RecordingError::BadFormat { block_align: 3, .. }
    ));

    let mut no_fmt = good.clone();
    no_fmt[12..16].copy_from_slice(b"junk");
    assert!(matches!(check(no_fmt), RecordingError::MissingFormat));

    let mut no_data = good[..44].to_vec();
    no_data[36..40].copy_from_slice(b"LIST");
    set_u32(&mut no_data, 4, 36);
    assert!(matches!(check(no_data), RecordingError::MissingData));
}

#[test]
fn trailing_bytes_after_the_riff_chunk_are_reported() {
    let mut bytes = recording(10);
    bytes.extend_from_slice(&[0; 6]);
    let info = inspect(&mut Cursor::new(bytes)).unwrap();
    assert_eq!((info.frames, info.trailing_bytes), (10, 6));
}

#[test]
fn a_recording_cut_at_any_byte_is_repaired_to_its_whole_frames() {
    let full = recording(300);
    // The state of the process when it died: the header was last checkpointed at 100
    // frames, and any amount of what followed had reached the disk.
    let mut checkpointed = full.clone();
    set_u32(&mut checkpointed, 4, 36 + 400);
    set_u32(&mut checkpointed, 40, 400);
    for cut in 0..=full.len() {
        let mut file = Cursor::new(checkpointed[..cut].to_vec());
        let result = repair(&mut file, cut as u64);
        if cut < 44 {
            assert!(
                matches!(result, Err(RecordingError::HeaderTruncated { .. })),
                "cut at {cut}: {result:?}"
            );
            continue;
        }
        let frames = (cut as u64 - 44) / 4;
        let torn = (cut as u64 - 44) % 4;
        match result.unwrap() {
            None => assert_eq!((frames, torn), (100, 0), "cut at {cut}: said to be fine"),
            Some(report) => {
                assert_eq!(report.frames, frames, "cut at {cut}");
                assert_eq!(report.truncated_bytes, torn, "cut at {cut}");
                assert_eq!(report.len, 44 + frames * 4, "cut at {cut}");
                assert_eq!(report.duration, Duration::from_micros(125 * frames));
            }
        }
        // Readable as it is (the torn bytes are outside the RIFF chunk) and once truncated.
        let mut bytes = file.into_inner();
        let mut reader = hound::WavReader::new(Cursor::new(&bytes)).unwrap();
        let samples: Vec<i16> = reader.samples().map(Result::unwrap).collect();
        assert_eq!(samples.len() as u64, 2 * frames, "cut at {cut}");
        assert_eq!(
            samples[..],
            full[44..44 + 4 * frames as usize]
                .chunks(2)
                .map(|b| i16::from_le_bytes([b[0], b[1]]))
                .collect::<Vec<_>>()[..]
        );
        bytes.truncate(44 + 4 * frames as usize);
        let info = inspect(&mut Cursor::new(bytes)).unwrap();
        assert_eq!(
            (info.frames, info.trailing_bytes),
            (frames, 0),
            "cut at {cut}"
        );
    }
}

#[test]
fn a_finished_recording_needs_no_repair() {
    let bytes = recording(50);
    let len = bytes.len() as u64;
    let mut file = Cursor::new(bytes.clone());
    assert_eq!(repair(&mut file, len).unwrap(), None);
    assert_eq!(file.into_inner(), bytes);
}

#[test]
fn repair_works_on_other_layouts() {
    // hound's 24-bit stereo: WAVE_FORMAT_EXTENSIBLE, audio from byte 68, 6-byte frames.
    let mut bytes = hound_file(spec(2, 8000, 24), 600);
    assert_eq!(bytes.len(), 68 + 1800);
    // Its sizes as of 100 frames, then 200 more frames and a torn one reached the disk.
    set_u32(&mut bytes, 4, 60 + 600);
    set_u32(&mut bytes, 64, 600);
    bytes.extend_from_slice(&[1, 2, 3, 4]);
    let len = bytes.len() as u64;
    let mut file = Cursor::new(bytes);
    let report = repair(&mut file, len).unwrap().unwrap();
    assert_eq!(
        (report.frames, report.truncated_bytes, report.len),
        (300, 4, 68 + 1800)
    );
    let info = inspect(&mut file).unwrap();
    assert_eq!(
        (info.bits_per_sample, info.frames, info.trailing_bytes),
        (24, 300, 4)
    );
    let mut reader = hound::WavReader::new(Cursor::new(file.into_inner())).unwrap();
    assert_eq!(reader.samples::<i32>().count(), 600);
}

#[test]
fn repair_refuses_what_is_not_a_wav_file() {
    let mut file = Cursor::new(vec![0x55; 100]);
    assert!(matches!(
        repair(&mut file, 100),
        Err(RecordingError::NotWave)
    ));
    let mut empty = Cursor::new(Vec::new());
    assert!(matches!(
        repair(&mut empty, 0),
        Err(RecordingError::HeaderTruncated { len: 0 })
    ));
}
