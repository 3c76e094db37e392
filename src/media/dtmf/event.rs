//! RFC 4733 §2.3 telephone-event payloads, turned into one key per press.
//!
//! A press is sent as several packets that share one RTP timestamp (the event's start):
//! updates while the key is held, then the end packet, itself sent three times (§2.5.1.4).
//! The key is reported once, on the first packet of a new timestamp, so a lost end packet
//! still gives the digit and the repeated end packets give nothing.

use super::KEYS;

/// One telephone-event payload (§2.3): event code, end bit, volume, duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// 0–9, 10 `*`, 11 `#`, 12–15 A–D, 16 flash; others are not DTMF.
    pub code: u8,
    /// The E bit: this packet ends the event.
    pub end: bool,
    /// Power level in −dBm0 (0–63).
    pub volume: u8,
    /// Duration so far, in timestamp units (8 kHz).
    pub duration: u16,
}

impl TelephoneEvent {
    /// The payload's first four bytes; `None` if shorter.
    pub fn parse(payload: &[u8]) -> Option<TelephoneEvent> {
        let [code, flags, d0, d1, ..] = *payload else {
            return None;
        };
        Some(TelephoneEvent {
            code,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([d0, d1]),
        })
    }

    /// The key this event stands for, if it is one of the sixteen DTMF keys.
    pub fn key(&self) -> Option<char> {
        KEYS.get(self.code as usize).copied()
    }
}

/// Turns a stream of telephone-event packets into key presses.
#[derive(Debug, Default)]
pub struct EventKeys {
    /// The RTP timestamp of the last press reported.
    last: Option<u32>,
}

impl EventKeys {
    pub fn new() -> EventKeys {
        EventKeys::default()
    }

    /// One telephone-event packet: its RTP timestamp and payload. The key, once per press.
    pub fn handle(&mut self, rtp_timestamp: u32, payload: &[u8]) -> Option<char> {
        let event = TelephoneEvent::parse(payload)?;
        let key = event.key()?;
        if self.last == Some(rtp_timestamp) {
            return None;
        }
        self.last = Some(rtp_timestamp);
        Some(key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(code: u8, end: bool, duration: u16) -> [u8; 4] {
        let d = duration.to_be_bytes();
        [code, if end { 0x80 | 10 } else { 10 }, d[0], d[1]]
    }

    #[test]
    fn parses_the_fields() {
        let e = TelephoneEvent::parse(&packet(11, true, 800)).unwrap();
        assert_eq!(
            e,
            TelephoneEvent {
                code: 11,
                end: true,
                volume: 10,
                duration: 800
            }
        );
        assert_eq!(e.key(), Some('#'));
        assert_eq!(TelephoneEvent::parse(&[1, 2, 3]), None);
        assert_eq!(
            TelephoneEvent::parse(&packet(16, false, 0)).unwrap().key(),
            None
        );
    }

    #[test]
    fn one_press_is_one_key_however_many_packets_carry_it() {
        let mut keys = EventKeys::new();
        let mut got = Vec::new();
        // "1": start, two updates, the end three times; then "1" again, then "2".
        for (ts, p) in [
            (1000, packet(1, false, 160)),
            (1000, packet(1, false, 320)),
            (1000, packet(1, false, 480)),
            (1000, packet(1, true, 640)),
            (1000, packet(1, true, 640)),
            (1000, packet(1, true, 640)),
            (5000, packet(1, false, 160)),
            (5000, packet(1, true, 320)),
            (9000, packet(2, true, 320)),
            (9000, packet(2, true, 320)),
        ] {
            got.extend(keys.handle(ts, &p));
        }
        assert_eq!(got, ['1', '1', '2']);
    }

    #[test]
    fn a_press_seen_only_by_its_end_packets_still_counts() {
        let mut keys = EventKeys::new();
        assert_eq!(keys.handle(42, &packet(10, true, 800)), Some('*'));
        assert_eq!(keys.handle(42, &packet(10, true, 800)), None);
    }
}
