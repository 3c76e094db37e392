//! Public call ids: what QA staff read, type and say over the phone.
//!
//! `20261124T152147Z-K7Q3M9XA`: the UTC second the INVITE arrived, then 40 random bits in
//! Crockford base32 (no I, L, O, U: nothing to misread). Sorted as text they are in arrival
//! order to the second; the random part makes collisions at 650 calls a day (or 2,000 a
//! second) vanishingly unlikely. Only `[0-9A-Z-]`, so an id is also a safe file name.

use jiff::Timestamp;
use rand::Rng;

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A new public call id for a call that arrived at `at`.
pub fn new_call_id(at: Timestamp, rng: &mut impl Rng) -> String {
    let mut id = at.strftime("%Y%m%dT%H%M%SZ-").to_string();
    let mut bits: u64 = rng.random::<u64>() & ((1 << 40) - 1);
    for _ in 0..8 {
        id.push(CROCKFORD[(bits & 31) as usize] as char);
        bits >>= 5;
    }
    id
}

/// Is `s` shaped like an id we issue? (Ids arrive from URLs later: never trust them as paths.)
pub fn is_call_id(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 25
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[16] == b'-'
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[9..15].iter().all(u8::is_ascii_digit)
        && b[17..].iter().all(|c| CROCKFORD.contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::SmallRng, SeedableRng};

    #[test]
    fn ids_carry_the_arrival_second_and_are_safe_names() {
        let mut rng = SmallRng::seed_from_u64(7);
        let at: Timestamp = "2026-11-24T15:21:47.900Z".parse().unwrap();
        let id = new_call_id(at, &mut rng);
        assert!(id.starts_with("20261124T152147Z-"), "{id}");
        assert!(is_call_id(&id), "{id}");
        assert_ne!(id, new_call_id(at, &mut rng));
    }

    #[test]
    fn path_like_strings_are_not_ids() {
        assert!(!is_call_id("../../etc/passwd"));
        assert!(!is_call_id("20261124T152147Z-K7Q3M9X/"));
        assert!(!is_call_id("20261124T152147Z-K7Q3M9XI"));
    }
}
