//! The keys of a caller's RTP stream while the call collects input: RFC 4733 events on the
//! negotiated telephone-event payload type, else tones in the G.711 audio. Once a caller's
//! phone has sent one event, its audio is no longer searched: phones that send events
//! usually also leave a trace of the tone in the audio, which would count the key twice.

use super::event::EventKeys;
use super::goertzel::ToneDetector;
use crate::media::rtp::RtpView;
use crate::media::{g711, Codec};

pub struct KeyInput {
    codec: Codec,
    dtmf_pt: Option<u8>,
    events: EventKeys,
    tones: ToneDetector,
    saw_events: bool,
    /// One 20 ms frame decoded (the G.711 frames we negotiate are 160 samples).
    pcm: [i16; 320],
}

impl KeyInput {
    /// For a stream of `codec` audio with telephone-events on `dtmf_pt` (if negotiated).
    pub fn new(codec: Codec, dtmf_pt: Option<u8>) -> KeyInput {
        KeyInput {
            codec,
            dtmf_pt,
            events: EventKeys::new(),
            tones: ToneDetector::new(),
            saw_events: false,
            pcm: [0; 320],
        }
    }

    /// One RTP packet from the caller; `on_key` for each key it completes.
    pub fn handle_packet(&mut self, packet: &[u8], mut on_key: impl FnMut(char)) {
        let Ok(rtp) = RtpView::parse(packet) else {
            return;
        };
        if Some(rtp.payload_type()) == self.dtmf_pt {
            self.saw_events = true;
            if let Some(k) = self.events.handle(rtp.timestamp(), rtp.payload()) {
                on_key(k);
            }
        } else if rtp.payload_type() == self.codec.payload_type() && !self.saw_events {
            for chunk in rtp.payload().chunks(self.pcm.len()) {
                let n = g711::decode(self.codec, chunk, &mut self.pcm);
                self.tones.push(&self.pcm[..n], &mut on_key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::rtp::{write_packet, RtpHeader};

    fn packet(pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; 12 + payload.len()];
        let header = RtpHeader {
            payload_type: pt,
            marker: false,
            seq,
            timestamp: ts,
            ssrc: 7,
        };
        let n = write_packet(&header, payload, &mut buf).unwrap();
        buf.truncate(n);
        buf
    }

    fn tone_frames(codec: Codec, key: char, ms: u32) -> Vec<Vec<u8>> {
        let (r, c) = super::super::goertzel::frequencies(key).unwrap();
        let pcm: Vec<i16> = (0..ms * 8)
            .map(|n| {
                let t = n as f32 / 8000.0;
                (5000.0
                    * ((2.0 * std::f32::consts::PI * r * t).sin()
                        + (2.0 * std::f32::consts::PI * c * t).sin())) as i16
            })
            .collect();
        pcm.chunks(160)
            .map(|f| {
                let mut out = vec![0u8; f.len()];
                g711::encode(codec, f, &mut out);
                out
            })
            .collect()
    }

    #[test]
    fn in_band_tones_in_pcma_are_keys() {
        let mut input = KeyInput::new(Codec::Pcma, Some(101));
        let mut keys = String::new();
        let mut frames = tone_frames(Codec::Pcma, '7', 100);
        frames.push(vec![g711::silence_byte(Codec::Pcma); 160]);
        frames.extend(tone_frames(Codec::Pcma, '#', 100));
        for (i, f) in frames.iter().enumerate() {
            input.handle_packet(&packet(8, i as u16, i as u32 * 160, f), |k| keys.push(k));
        }
        assert_eq!(keys, "7#");
    }

    #[test]
    fn events_win_over_the_audio() {
        let mut input = KeyInput::new(Codec::Pcmu, Some(101));
        let mut keys = String::new();
        // The event for 5, its end repeated, then audio carrying a tone 5 as well.
        for _ in 0..3 {
            input.handle_packet(&packet(101, 1, 800, &[5, 0x8A, 3, 0x20]), |k| keys.push(k));
        }
        for (i, f) in tone_frames(Codec::Pcmu, '5', 120).iter().enumerate() {
            input.handle_packet(&packet(0, 2 + i as u16, 960 + i as u32 * 160, f), |k| {
                keys.push(k)
            });
        }
        assert_eq!(keys, "5");
    }
}

#[cfg(test)]
mod cost {
    use super::*;
    use crate::media::rtp::{write_packet, RtpHeader};

    #[test]
    fn decoding_keys_allocates_nothing_per_packet() {
        let mut input = KeyInput::new(Codec::Pcmu, Some(101));
        // No events negotiated: every audio packet goes through the tone detector.
        let mut tones_only = KeyInput::new(Codec::Pcmu, None);
        let mut packets = Vec::new();
        for i in 0..500u16 {
            let (pt, payload): (u8, &[u8]) = if i % 50 == 0 {
                (101, &[2, 0x8A, 3, 0x20])
            } else {
                (0, &[0x55; 160])
            };
            let header = RtpHeader {
                payload_type: pt,
                marker: false,
                seq: i,
                timestamp: u32::from(i) * 160,
                ssrc: 7,
            };
            let mut buf = vec![0u8; 12 + payload.len()];
            let n = write_packet(&header, payload, &mut buf).unwrap();
            buf.truncate(n);
            packets.push(buf);
        }
        let mut keys = 0;
        let info = allocation_counter::measure(|| {
            for p in &packets {
                input.handle_packet(p, |_| keys += 1);
                tones_only.handle_packet(p, |_| keys += 100);
            }
        });
        assert_eq!(keys, 10, "one key per event");
        assert_eq!(info.count_total, 0, "allocations while decoding keys");
    }
}
