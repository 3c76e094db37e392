//! The SRTP replay list (RFC 3711 §3.3.2): a sliding window of 64 indices below the
//! highest accepted one, as a bitmap.

#[derive(Debug, Clone, Copy, Default)]
pub(super) struct ReplayWindow {
    /// The highest index accepted; `None` before the first packet.
    highest: Option<u64>,
    /// Bit `n` set: index `highest - n` was accepted.
    seen: u64,
}

impl ReplayWindow {
    const SIZE: u64 = 64;

    /// Whether `index` may be accepted (not seen, not older than the window).
    pub fn check(&self, index: u64) -> bool {
        let Some(highest) = self.highest else {
            return true;
        };
        if index > highest {
            return true;
        }
        let behind = highest - index;
        behind < Self::SIZE && self.seen & (1 << behind) == 0
    }

    /// `index` passed authentication: remember it.
    pub fn accept(&mut self, index: u64) {
        match self.highest {
            None => {
                self.highest = Some(index);
                self.seen = 1;
            }
            Some(highest) if index > highest => {
                let ahead = index - highest;
                self.seen = if ahead >= Self::SIZE {
                    0
                } else {
                    self.seen << ahead
                };
                self.seen |= 1;
                self.highest = Some(index);
            }
            Some(highest) => {
                let behind = highest - index;
                if behind < Self::SIZE {
                    self.seen |= 1 << behind;
                }
            }
        }
    }
}
