//! Server nonces for Digest authentication (RFC 7616 §3.3 and §5.4, RFC 3261 §22.4).
//!
//! A nonce carries its own state: `hex(issued_ms ‖ random ‖ MAC)` where `issued_ms` is
//! the issue time in milliseconds since the manager's epoch `Instant`, `random` is 64
//! random bits and `MAC` is HMAC-SHA-256 over both under a key drawn from the seed,
//! truncated to 128 bits. So any nonce can be checked without a table of issued nonces:
//! a bad MAC is not ours (forged, or from before a restart), an old issue time is stale.
//!
//! The only table is the last accepted nonce count per nonce (replay protection for
//! `qop=auth`). It holds nonces that were *successfully* used, is purged of expired
//! nonces on every insert and never exceeds [`MAX_TRACKED`] entries: when full, the
//! oldest entry is dropped and every untracked nonce issued at or before it is treated as
//! stale from then on, so eviction can never re-open a replay.
//!
//! Invariants: never panics on a nonce from the network; the MAC is compared in constant
//! time; time only comes in as `Instant`s.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Issue time (8 bytes) and random part (8 bytes): what identifies a nonce.
const ID_LEN: usize = 16;
/// MAC bytes kept in the nonce: 128 bits are far beyond what an online guesser can try.
const TAG_LEN: usize = 16;
/// The most nonces whose nonce count we remember at once.
pub const MAX_TRACKED: usize = 4096;

/// Why a nonce (with its nonce count) was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    /// Not a nonce we issued: wrong length, not hex, bad MAC (forged, or issued before a
    /// restart with another seed), or an issue time in the future.
    #[error("not a nonce issued by this server")]
    Invalid,
    /// Ours, but older than the nonce lifetime (or its count state was evicted).
    #[error("nonce is stale")]
    Stale,
    /// The nonce count is not higher than the last one accepted for this nonce.
    #[error("nonce count {nc} replayed (last accepted {last})")]
    Replay {
        /// The count in the refused response.
        nc: u32,
        /// The highest count accepted before.
        last: u32,
    },
}

/// Issues and checks nonces; see the module comment for the format.
pub struct NonceManager {
    key: [u8; 32],
    epoch: Instant,
    lifetime: Duration,
    rng: StdRng,
    opaque: String,
    /// Last accepted nonce count per nonce id.
    counts: HashMap<[u8; ID_LEN], u32>,
    /// Untracked nonces issued at or before this time (ms) are stale: their state may
    /// have been evicted.
    floor_ms: Option<u64>,
}

impl std::fmt::Debug for NonceManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceManager")
            .field("lifetime", &self.lifetime)
            .field("tracked", &self.counts.len())
            .finish_non_exhaustive()
    }
}

impl NonceManager {
    /// A manager whose key and random parts come from `seed` (pass a random seed in
    /// production: nonces are only as unpredictable as it is) and whose clock starts at
    /// `epoch`.
    pub fn new(seed: u64, epoch: Instant, lifetime: Duration) -> NonceManager {
        let mut rng = StdRng::seed_from_u64(seed);
        let key: [u8; 32] = rng.random();
        let opaque = hex::encode(&mac(&key, b"opaque")[..8]);
        NonceManager {
            key,
            epoch,
            lifetime,
            rng,
            opaque,
            counts: HashMap::new(),
            floor_ms: None,
        }
    }

    /// The `opaque` value of our challenges: constant for this manager, so it carries no
    /// state and is not checked (the nonce carries everything).
    pub fn opaque(&self) -> &str {
        &self.opaque
    }

    /// How long a nonce stays fresh.
    pub fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// How many nonces have nonce-count state (at most [`MAX_TRACKED`]).
    pub fn tracked(&self) -> usize {
        self.counts.len()
    }

    /// A fresh nonce issued at `now`: 64 lowercase hex digits.
    pub fn issue(&mut self, now: Instant) -> String {
        let mut bytes = [0u8; ID_LEN + TAG_LEN];
        bytes[..8].copy_from_slice(&self.millis(now).to_be_bytes());
        bytes[8..ID_LEN].copy_from_slice(&self.rng.random::<[u8; 8]>());
        let tag = mac(&self.key, &bytes[..ID_LEN]);
        bytes[ID_LEN..].copy_from_slice(&tag[..TAG_LEN]);
        hex::encode(bytes)
    }

    /// Checks `nonce` at `now` without remembering anything: call it to choose between
    /// a stale and a plain challenge.
    pub fn check(&self, nonce: &str, nc: Option<u32>, now: Instant) -> Result<(), NonceError> {
        let (id, issued) = self.open(nonce, now)?;
        match nc {
            None => Ok(()),
            Some(nc) => match self.counts.get(&id) {
                Some(&last) if nc <= last => Err(NonceError::Replay { nc, last }),
                Some(_) => Ok(()),
                None if self.floor_ms.is_some_and(|floor| issued <= floor) => {
                    Err(NonceError::Stale)
                }
                None if nc == 0 => Err(NonceError::Replay { nc, last: 0 }),
                None => Ok(()),
            },
        }
    }

    /// Checks `nonce` and, when it passes, records `nc` as the last count used with it.
    /// Call only after the digest response was verified, so a forged request cannot use
    /// up a client's nonce counts.
    pub fn accept(&mut self, nonce: &str, nc: Option<u32>, now: Instant) -> Result<(), NonceError> {
        self.check(nonce, nc, now)?;
        let (Some(nc), Ok((id, _))) = (nc, self.open(nonce, now)) else {
            return Ok(());
        };
        if !self.counts.contains_key(&id) {
            self.purge(now);
            if self.counts.len() >= MAX_TRACKED {
                self.evict_oldest();
            }
        }
        self.counts.insert(id, nc);
        Ok(())
    }

    /// Forgets the counts of nonces that are stale anyway.
    pub fn purge(&mut self, now: Instant) {
        let now_ms = self.millis(now);
        let lifetime_ms = duration_ms(self.lifetime);
        self.counts
            .retain(|id, _| now_ms.saturating_sub(issued_ms(id)) <= lifetime_ms);
    }

    fn evict_oldest(&mut self) {
        let oldest = self.counts.keys().min_by_key(|id| issued_ms(id)).copied();
        if let Some(id) = oldest {
            self.counts.remove(&id);
            let issued = issued_ms(&id);
            self.floor_ms = Some(self.floor_ms.map_or(issued, |f| f.max(issued)));
        }
    }

    /// Decodes and authenticates a nonce; returns its id and issue time (ms).
    fn open(&self, nonce: &str, now: Instant) -> Result<([u8; ID_LEN], u64), NonceError> {
        let mut bytes = [0u8; ID_LEN + TAG_LEN];
        hex::decode_to_slice(nonce, &mut bytes).map_err(|_| NonceError::Invalid)?;
        let (id_bytes, tag) = bytes.split_at(ID_LEN);
        let expected = mac(&self.key, id_bytes);
        if !bool::from(expected[..TAG_LEN].ct_eq(tag)) {
            return Err(NonceError::Invalid);
        }
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(id_bytes);
        let issued = issued_ms(&id);
        let now_ms = self.millis(now);
        if issued > now_ms {
            return Err(NonceError::Invalid);
        }
        if now_ms - issued > duration_ms(self.lifetime) {
            return Err(NonceError::Stale);
        }
        Ok((id, issued))
    }

    fn millis(&self, now: Instant) -> u64 {
        duration_ms(now.saturating_duration_since(self.epoch))
    }
}

fn duration_ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn issued_ms(id: &[u8; ID_LEN]) -> u64 {
    let mut ms = [0u8; 8];
    ms.copy_from_slice(&id[..8]);
    u64::from_be_bytes(ms)
}

fn mac(key: &[u8; 32], data: &[u8]) -> [u8; 32] {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIFE: Duration = Duration::from_secs(300);

    #[test]
    fn fresh_nonce_is_accepted_and_counts_must_grow() {
        let t0 = Instant::now();
        let mut m = NonceManager::new(7, t0, LIFE);
        let n = m.issue(t0 + Duration::from_millis(1500));
        assert_eq!(n.len(), 64);
        assert!(n
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        let t = t0 + Duration::from_secs(2);
        assert_eq!(m.accept(&n, Some(1), t), Ok(()));
        assert_eq!(m.accept(&n, Some(10), t), Ok(()));
        assert_eq!(
            m.accept(&n, Some(10), t),
            Err(NonceError::Replay { nc: 10, last: 10 })
        );
        assert_eq!(
            m.accept(&n, Some(2), t),
            Err(NonceError::Replay { nc: 2, last: 10 })
        );
        assert_eq!(m.accept(&n, Some(11), t), Ok(()));
        // RFC 2069 responses carry no count: accepted while the nonce is fresh.
        assert_eq!(m.accept(&n, None, t), Ok(()));
        assert_eq!(m.tracked(), 1);
    }

    #[test]
    fn nonce_goes_stale_after_its_lifetime() {
        let t0 = Instant::now();
        let mut m = NonceManager::new(7, t0, LIFE);
        let n = m.issue(t0);
        assert_eq!(m.check(&n, Some(1), t0 + LIFE), Ok(()));
        let late = t0 + LIFE + Duration::from_millis(1);
        assert_eq!(m.accept(&n, Some(1), late), Err(NonceError::Stale));
        assert_eq!(m.accept(&n, None, late), Err(NonceError::Stale));
    }

    #[test]
    fn forged_truncated_or_foreign_nonces_are_invalid() {
        let t0 = Instant::now();
        let mut m = NonceManager::new(7, t0, LIFE);
        let n = m.issue(t0);
        let mut other = NonceManager::new(8, t0, LIFE);
        let foreign = other.issue(t0);
        let mut flipped = n.clone().into_bytes();
        flipped[3] = if flipped[3] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        for bad in [
            foreign.as_str(),
            flipped.as_str(),
            &n[..62],
            "",
            "zz",
            "é",
            &format!("g{}", &n[1..]),
        ] {
            assert_eq!(
                m.accept(bad, Some(1), t0),
                Err(NonceError::Invalid),
                "{bad}"
            );
        }
        assert_eq!(m.tracked(), 0);
    }

    #[test]
    fn counts_of_expired_nonces_are_forgotten() {
        let t0 = Instant::now();
        let mut m = NonceManager::new(7, t0, LIFE);
        let old = m.issue(t0);
        m.accept(&old, Some(1), t0).unwrap();
        let later = t0 + LIFE * 2;
        let new = m.issue(later);
        m.accept(&new, Some(1), later).unwrap();
        assert_eq!(m.tracked(), 1, "the expired nonce's count was dropped");
    }

    #[test]
    fn table_is_bounded_and_eviction_never_reopens_a_replay() {
        let t0 = Instant::now();
        let mut m = NonceManager::new(7, t0, LIFE);
        let first = m.issue(t0);
        m.accept(&first, Some(5), t0).unwrap();
        let t = t0 + Duration::from_millis(1);
        for _ in 0..MAX_TRACKED {
            let n = m.issue(t);
            m.accept(&n, Some(1), t).unwrap();
        }
        assert_eq!(m.tracked(), MAX_TRACKED);
        // `first` was evicted: it is now stale rather than open to nc=1..5 again.
        assert_eq!(m.accept(&first, Some(2), t), Err(NonceError::Stale));
        // Nonces issued after the eviction point still work.
        let t = t + Duration::from_millis(1);
        let fresh = m.issue(t);
        assert_eq!(m.accept(&fresh, Some(1), t), Ok(()));
    }
}
