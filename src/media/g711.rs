//! G.711 (ITU-T G.711, RFC 3551 §4.5.14): μ-law (PCMU) and A-law (PCMA) for 8 kHz audio.
//!
//! Thin wrappers over `audio-codec-algorithms`, whose tables are bit-exact with the ITU
//! G.191 reference tools. Everything here works on caller buffers: no allocation, no
//! panic. Buffers of different lengths are processed up to the shorter one, and the number
//! of samples handled is returned so a caller can notice a mismatch.

use audio_codec_algorithms::{
    convert_alaw_to_ulaw, convert_ulaw_to_alaw, decode_alaw, decode_ulaw, encode_alaw, encode_ulaw,
};

use crate::media::Codec;

/// Encodes one linear sample.
pub fn encode_sample(codec: Codec, sample: i16) -> u8 {
    match codec {
        Codec::Pcmu => encode_ulaw(sample),
        Codec::Pcma => encode_alaw(sample),
    }
}

/// Decodes one G.711 byte.
pub fn decode_sample(codec: Codec, byte: u8) -> i16 {
    match codec {
        Codec::Pcmu => decode_ulaw(byte),
        Codec::Pcma => decode_alaw(byte),
    }
}

/// The 256 linear values of `codec`'s bytes: decoding a packet is then one lookup per
/// sample (the recorder decodes every sample of every call). Built once, from the same
/// bit-exact decoders as [`decode_sample`].
pub fn decode_table(codec: Codec) -> &'static [i16; 256] {
    static TABLES: std::sync::LazyLock<[[i16; 256]; 2]> = std::sync::LazyLock::new(|| {
        [
            std::array::from_fn(|b| decode_ulaw(b as u8)),
            std::array::from_fn(|b| decode_alaw(b as u8)),
        ]
    });
    match codec {
        Codec::Pcmu => &TABLES[0],
        Codec::Pcma => &TABLES[1],
    }
}

/// Encodes `pcm` into `out`, one byte per sample; returns how many were encoded.
pub fn encode(codec: Codec, pcm: &[i16], out: &mut [u8]) -> usize {
    // One match outside the loop keeps the per-sample path branch-free.
    let f: fn(i16) -> u8 = match codec {
        Codec::Pcmu => encode_ulaw,
        Codec::Pcma => encode_alaw,
    };
    let n = pcm.len().min(out.len());
    for (o, &s) in out.iter_mut().zip(pcm) {
        *o = f(s);
    }
    n
}

/// Decodes `data` into `out`; returns how many samples were decoded.
pub fn decode(codec: Codec, data: &[u8], out: &mut [i16]) -> usize {
    let f: fn(u8) -> i16 = match codec {
        Codec::Pcmu => decode_ulaw,
        Codec::Pcma => decode_alaw,
    };
    let n = data.len().min(out.len());
    for (o, &b) in out.iter_mut().zip(data) {
        *o = f(b);
    }
    n
}

/// Converts G.711 bytes from one law to the other in place, through the G.711 direct
/// conversion tables (not via linear, which would add a second quantisation).
pub fn transcode(from: Codec, to: Codec, data: &mut [u8]) {
    let f: fn(u8) -> u8 = match (from, to) {
        (Codec::Pcmu, Codec::Pcma) => convert_ulaw_to_alaw,
        (Codec::Pcma, Codec::Pcmu) => convert_alaw_to_ulaw,
        _ => return,
    };
    for b in data {
        *b = f(*b);
    }
}

/// The byte for digital silence: 0xFF in μ-law, 0xD5 in A-law (G.711 Tables 1a/2a, the
/// codes for the smallest positive value; A-law has no exact zero).
pub fn silence_byte(codec: Codec) -> u8 {
    match codec {
        Codec::Pcmu => 0xFF,
        Codec::Pcma => 0xD5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decode_tables_agree_with_the_decoders_for_every_byte() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let table = decode_table(codec);
            for b in 0..=255u8 {
                assert_eq!(
                    table[usize::from(b)],
                    decode_sample(codec, b),
                    "{codec:?} {b:#04x}"
                );
            }
        }
    }

    #[test]
    fn known_table_values() {
        // G.711 Table 2a (μ-law) and 1a (A-law): full-scale and near-zero codes.
        let mut out = [0u8; 4];
        encode(Codec::Pcmu, &[0, 32767, -32768, 1000], &mut out);
        assert_eq!(out, [0xFF, 0x80, 0x00, 0xCE]);
        encode(Codec::Pcma, &[0, 32767, -32768, 1000], &mut out);
        assert_eq!(out, [0xD5, 0xAA, 0x2A, 0xFA]);

        let mut pcm = [0i16; 4];
        decode(Codec::Pcmu, &[0xFF, 0x80, 0x00, 0x7F], &mut pcm);
        assert_eq!(pcm, [0, 32124, -32124, 0]);
        decode(Codec::Pcma, &[0xD5, 0xAA, 0x2A, 0x55], &mut pcm);
        assert_eq!(pcm, [8, 32256, -32256, -8]);
    }

    #[test]
    fn every_code_survives_decode_then_encode() {
        for b in 0..=255u8 {
            assert_eq!(encode_sample(Codec::Pcma, decode_sample(Codec::Pcma, b)), b);
            // μ-law has two zeros (0xFF and 0x7F); both decode to 0, which encodes as 0xFF.
            let expected = if b == 0x7F { 0xFF } else { b };
            assert_eq!(
                encode_sample(Codec::Pcmu, decode_sample(Codec::Pcmu, b)),
                expected
            );
        }
    }

    #[test]
    fn silence_decodes_to_near_zero() {
        assert_eq!(decode_sample(Codec::Pcmu, silence_byte(Codec::Pcmu)), 0);
        assert_eq!(decode_sample(Codec::Pcma, silence_byte(Codec::Pcma)), 8);
        assert_eq!(encode_sample(Codec::Pcmu, 0), silence_byte(Codec::Pcmu));
        assert_eq!(encode_sample(Codec::Pcma, 0), silence_byte(Codec::Pcma));
    }

    #[test]
    fn transcode_uses_the_direct_tables() {
        let mut data = [0xFF, 0x80, 0x00];
        transcode(Codec::Pcmu, Codec::Pcma, &mut data);
        assert_eq!(data, [0xD5, 0xAA, 0x2A]);
        transcode(Codec::Pcma, Codec::Pcmu, &mut data);
        // A-law's quietest code is +8, which μ-law holds exactly as 0xFE (G.711 Table 3).
        assert_eq!(data, [0xFE, 0x80, 0x00]);
        assert_eq!(decode_sample(Codec::Pcmu, 0xFE), 8);
        let mut same = [0x12, 0x34];
        transcode(Codec::Pcma, Codec::Pcma, &mut same);
        assert_eq!(same, [0x12, 0x34]);
    }

    #[test]
    fn transcoding_stays_close_to_the_linear_value() {
        for b in 0..=255u8 {
            let mut x = [b];
            transcode(Codec::Pcmu, Codec::Pcma, &mut x);
            let before = i32::from(decode_sample(Codec::Pcmu, b));
            let after = i32::from(decode_sample(Codec::Pcma, x[0]));
            // The two laws' steps differ; the error stays within one A-law step (≤ 1024).
            assert!(
                (before - after).abs() <= 1024,
                "{b:#x}: {before} vs {after}"
            );
        }
    }

    #[test]
    fn mismatched_lengths_stop_at_the_shorter() {
        let mut out = [0x11u8; 3];
        assert_eq!(encode(Codec::Pcmu, &[0, 0], &mut out), 2);
        assert_eq!(out, [0xFF, 0xFF, 0x11]);
        let mut pcm = [7i16; 1];
        assert_eq!(decode(Codec::Pcma, &[0xD5, 0xD5], &mut pcm), 1);
        assert_eq!(pcm, [8]);
    }
}
