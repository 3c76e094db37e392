//! SRTP for one direction of one leg (RFC 3711), with the one crypto suite we offer and
//! accept: `AES_CM_128_HMAC_SHA1_80` (AES-128 in counter mode, HMAC-SHA1 cut to 80 bits),
//! keyed by SDES (RFC 4568, [`keys`]).
//!
//! Run loop: the media task holds two [`SrtpContext`]s per secured leg, one to
//! [`SrtpContext::protect`] what it sends and one to [`SrtpContext::unprotect`] what it
//! reads. Both work in place in the task's own packet buffer: encryption is a keystream
//! XOR, the tag is written after the payload (the buffer keeps [`TAG_LEN`] bytes spare),
//! and nothing here allocates (the HMAC state is keyed once and copied per packet).
//!
//! Invariants:
//! - the packet index (RFC 3711 §3.3.1) is estimated from the sequence number and the
//!   highest index seen so far, on both sides, so the rollover counter (ROC) follows the
//!   sequence number across its wrap and through reordering;
//! - a received packet is authenticated before anything else is trusted, and only then
//!   moves the ROC and the replay window (§3.3.2: a 64-packet window);
//! - a context follows one SSRC; a new SSRC (the peer restarted its stream) starts a new
//!   index history, as a fresh stream would.
//!
//! RTCP is not relayed by `hotline` (only RTP legs are bridged), so SRTCP is not needed.

pub mod keys;
mod replay;

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use thiserror::Error;

use self::keys::{SessionKeys, SrtpMasterKey};
use self::replay::ReplayWindow;

/// The keys of one secured leg: the one we protect what we send it with (announced in our
/// SDP), and the one it protects what it sends with (announced in its SDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SrtpKeys {
    pub send: SrtpMasterKey,
    pub receive: SrtpMasterKey,
}

/// Bytes of the authentication tag (HMAC-SHA1 cut to 80 bits).
pub const TAG_LEN: usize = 10;

/// Smallest RTP header: version, flags, sequence number, timestamp, SSRC.
const RTP_HEADER: usize = 12;

/// Why a packet was not protected or not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SrtpError {
    /// Shorter than an RTP header (plus the tag, when receiving), or its header's CSRC
    /// list or extension runs past the end.
    #[error("packet too short for SRTP")]
    TooShort,
    /// Not RTP version 2.
    #[error("not an RTP version 2 packet")]
    NotRtp,
    /// The buffer has no room for the tag after the packet.
    #[error("no room for the authentication tag")]
    NoRoom,
    /// The tag does not match: forged, damaged, or keyed differently.
    #[error("SRTP authentication failed")]
    AuthFailed,
    /// This index was already received, or is older than the replay window.
    #[error("SRTP replayed or too old packet")]
    Replayed,
}

/// The index state of one SSRC (RFC 3711 §3.3.1).
#[derive(Debug, Clone, Copy)]
struct StreamIndex {
    ssrc: u32,
    roc: u32,
    /// Highest sequence number seen (`s_l`).
    highest_seq: u16,
}

impl StreamIndex {
    /// The ROC the packet with `seq` most likely belongs to (RFC 3711 Appendix A).
    fn guess_roc(&self, seq: u16) -> u32 {
        let s_l = self.highest_seq;
        if s_l < 0x8000 {
            if seq > s_l && seq - s_l > 0x8000 {
                self.roc.wrapping_sub(1)
            } else {
                self.roc
            }
        } else if s_l - 0x8000 > seq {
            self.roc.wrapping_add(1)
        } else {
            self.roc
        }
    }

    /// A packet of `roc`/`seq` was accepted: move the highest index on.
    fn update(&mut self, roc: u32, seq: u16) {
        if roc == self.roc.wrapping_add(1) {
            self.roc = roc;
            self.highest_seq = seq;
        } else if roc == self.roc && seq > self.highest_seq {
            self.highest_seq = seq;
        }
    }
}

/// One direction's SRTP state.
#[derive(Clone)]
pub struct SrtpContext {
    cipher: Aes128,
    salt: [u8; 14],
    auth: Hmac<Sha1>,
    stream: Option<StreamIndex>,
    replay: ReplayWindow,
}

impl std::fmt::Debug for SrtpContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the keys.
        f.debug_struct("SrtpContext")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl SrtpContext {
    /// A context keyed from a master key and salt (one `a=crypto` line).
    pub fn new(master: &SrtpMasterKey) -> SrtpContext {
        SrtpContext::from_session_keys(&keys::derive(master))
    }

    fn from_session_keys(keys: &SessionKeys) -> SrtpContext {
        SrtpContext {
            cipher: Aes128::new(&keys.cipher_key.into()),
            salt: keys.cipher_salt,
            auth: <Hmac<Sha1> as Mac>::new_from_slice(&keys.auth_key)
                .expect("HMAC takes a key of any length"),
            stream: None,
            replay: ReplayWindow::default(),
        }
    }

    /// Encrypts the RTP packet in `buf[..len]` in place and appends its tag; returns the
    /// SRTP packet's length (`len + TAG_LEN`). `buf` must have the room.
    pub fn protect(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        if len > buf.len() {
            return Err(SrtpError::TooShort);
        }
        let header = header_len(&buf[..len])?;
        if buf.len() < len + TAG_LEN {
            return Err(SrtpError::NoRoom);
        }
        let (ssrc, seq) = ssrc_and_seq(buf);
        let roc = self.roc_for(ssrc, seq);
        let index = (u64::from(roc) << 16) | u64::from(seq);
        apply_keystream(&self.cipher, &self.salt, ssrc, index, &mut buf[header..len]);
        let tag = self.tag(&buf[..len], roc);
        buf[len..len + TAG_LEN].copy_from_slice(&tag[..TAG_LEN]);
        if let Some(stream) = self.stream.as_mut() {
            stream.update(roc, seq);
        }
        Ok(len + TAG_LEN)
    }

    /// Checks and decrypts the SRTP packet `buf` in place; returns the RTP packet's length
    /// (the tag cut off). Nothing moves unless the tag matches.
    pub fn unprotect(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        if buf.len() < RTP_HEADER + TAG_LEN {
            return Err(SrtpError::TooShort);
        }
        let len = buf.len() - TAG_LEN;
        let header = header_len(&buf[..len])?;
        let (ssrc, seq) = ssrc_and_seq(buf);
        let known = self.stream.filter(|s| s.ssrc == ssrc);
        let roc = known.map_or(0, |s| s.guess_roc(seq));
        let index = (u64::from(roc) << 16) | u64::from(seq);
        if known.is_some() && !self.replay.check(index) {
            return Err(SrtpError::Replayed);
        }
        let tag = self.tag(&buf[..len], roc);
        if !bool::from(tag[..TAG_LEN].ct_eq(&buf[len..])) {
            return Err(SrtpError::AuthFailed);
        }
        match self.stream.as_mut() {
            Some(s) if s.ssrc == ssrc => s.update(roc, seq),
            _ => {
                self.stream = Some(StreamIndex {
                    ssrc,
                    roc,
                    highest_seq: seq,
                });
                self.replay = ReplayWindow::default();
            }
        }
        self.replay.accept(index);
        apply_keystream(&self.cipher, &self.salt, ssrc, index, &mut buf[header..len]);
        Ok(len)
    }

    /// The sender's ROC for this packet: the sender tracks its own index the same way a
    /// receiver does, because relayed packets may arrive reordered.
    fn roc_for(&mut self, ssrc: u32, seq: u16) -> u32 {
        match self.stream {
            Some(s) if s.ssrc == ssrc => s.guess_roc(seq),
            _ => {
                self.stream = Some(StreamIndex {
                    ssrc,
                    roc: 0,
                    highest_seq: seq,
                });
                0
            }
        }
    }

    fn tag(&self, authenticated: &[u8], roc: u32) -> [u8; 20] {
        let mut mac = self.auth.clone();
        mac.update(authenticated);
        mac.update(&roc.to_be_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// The length of the RTP header (fixed part, CSRCs, extension): what stays in clear.
fn header_len(packet: &[u8]) -> Result<usize, SrtpError> {
    if packet.len() < RTP_HEADER {
        return Err(SrtpError::TooShort);
    }
    if packet[0] >> 6 != 2 {
        return Err(SrtpError::NotRtp);
    }
    let csrcs = usize::from(packet[0] & 0x0f);
    let mut len = RTP_HEADER + 4 * csrcs;
    if packet[0] & 0x10 != 0 {
        if packet.len() < len + 4 {
            return Err(SrtpError::TooShort);
        }
        let words = usize::from(u16::from_be_bytes([packet[len + 2], packet[len + 3]]));
        len += 4 + 4 * words;
    }
    if len > packet.len() {
        return Err(SrtpError::TooShort);
    }
    Ok(len)
}

fn ssrc_and_seq(packet: &[u8]) -> (u32, u16) {
    let seq = u16::from_be_bytes([packet[2], packet[3]]);
    let ssrc = u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]);
    (ssrc, seq)
}

/// XORs `data` with the AES-CM keystream of packet `index` (RFC 3711 §4.1.1):
/// IV = (salt · 2^16) ⊕ (SSRC · 2^64) ⊕ (index · 2^16), counter in the last 16 bits.
fn apply_keystream(cipher: &Aes128, salt: &[u8; 14], ssrc: u32, index: u64, data: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(salt);
    for (b, s) in iv[4..8].iter_mut().zip(ssrc.to_be_bytes()) {
        *b ^= s;
    }
    for (b, i) in iv[8..14].iter_mut().zip(&index.to_be_bytes()[2..]) {
        *b ^= i;
    }
    keystream_xor(cipher, iv, data);
}

/// AES counter mode from the block `iv`: the last 16 bits count the blocks.
fn keystream_xor(cipher: &Aes128, iv: [u8; 16], data: &mut [u8]) {
    for (counter, chunk) in data.chunks_mut(16).enumerate() {
        let mut block = iv;
        let low = u16::from_be_bytes([iv[14], iv[15]]).wrapping_add(counter as u16);
        block[14..].copy_from_slice(&low.to_be_bytes());
        let mut block = block.into();
        cipher.encrypt_block(&mut block);
        for (d, k) in chunk.iter_mut().zip(block.iter()) {
            *d ^= k;
        }
    }
}

#[cfg(test)]
mod tests;
