//! SRTP keys: the master key and salt as SDES carries them (RFC 4568 §6.1,
//! `a=crypto:<tag> AES_CM_128_HMAC_SHA1_80 inline:<base64 of key ‖ salt>`), and the
//! session keys derived from them (RFC 3711 §4.3, key derivation rate 0).

use aes::cipher::KeyInit;
use aes::Aes128;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use rand::CryptoRng;
use thiserror::Error;

/// The crypto suite we offer and accept.
pub const SUITE: &str = "AES_CM_128_HMAC_SHA1_80";

/// A master key and salt: 16 + 14 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct SrtpMasterKey {
    pub key: [u8; 16],
    pub salt: [u8; 14],
}

impl std::fmt::Debug for SrtpMasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SrtpMasterKey(..)")
    }
}

/// Why an `a=crypto` attribute was not usable.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CryptoAttrError {
    /// Not `<tag> <suite> <key params>`.
    #[error("malformed crypto attribute")]
    Malformed,
    /// A suite other than `AES_CM_128_HMAC_SHA1_80`.
    #[error("crypto suite {0} not supported")]
    Suite(String),
    /// The key parameter is not `inline:` with 30 bytes of base64, or carries an MKI
    /// (we take one key per stream, without MKI).
    #[error("crypto key parameter not usable")]
    Key,
}

/// One `a=crypto` attribute's value, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttr {
    pub tag: u32,
    pub key: SrtpMasterKey,
}

impl SrtpMasterKey {
    /// A fresh key and salt from a cryptographically secure generator.
    pub fn generate(rng: &mut impl CryptoRng) -> SrtpMasterKey {
        let mut key = [0u8; 16];
        let mut salt = [0u8; 14];
        rng.fill_bytes(&mut key);
        rng.fill_bytes(&mut salt);
        SrtpMasterKey { key, salt }
    }

    /// The base64 text after `inline:`.
    pub fn inline(&self) -> String {
        let mut raw = [0u8; 30];
        raw[..16].copy_from_slice(&self.key);
        raw[16..].copy_from_slice(&self.salt);
        STANDARD.encode(raw)
    }
}

impl CryptoAttr {
    /// The attribute's value, e.g. `1 AES_CM_128_HMAC_SHA1_80 inline:…`.
    pub fn to_value(&self) -> String {
        format!("{} {SUITE} inline:{}", self.tag, self.key.inline())
    }

    /// Parses an attribute's value (after `a=crypto:`). Lifetime parameters are accepted
    /// and ignored (we rekey with every new offer, long before 2^31 packets).
    pub fn parse(value: &str) -> Result<CryptoAttr, CryptoAttrError> {
        let mut parts = value.split_ascii_whitespace();
        let (Some(tag), Some(suite), Some(params)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(CryptoAttrError::Malformed);
        };
        let tag = tag.parse::<u32>().map_err(|_| CryptoAttrError::Malformed)?;
        if suite != SUITE {
            return Err(CryptoAttrError::Suite(suite.chars().take(40).collect()));
        }
        // Several key parameters (`;`-separated) are for MKI rekeying; we take the first.
        let first = params.split(';').next().unwrap_or("");
        let inline = first.strip_prefix("inline:").ok_or(CryptoAttrError::Key)?;
        let mut fields = inline.split('|');
        let b64 = fields.next().unwrap_or("");
        if fields.any(|f| f.contains(':')) {
            return Err(CryptoAttrError::Key);
        }
        let raw = STANDARD.decode(b64).map_err(|_| CryptoAttrError::Key)?;
        if raw.len() != 30 {
            return Err(CryptoAttrError::Key);
        }
        let mut key = SrtpMasterKey {
            key: [0; 16],
            salt: [0; 14],
        };
        key.key.copy_from_slice(&raw[..16]);
        key.salt.copy_from_slice(&raw[16..]);
        Ok(CryptoAttr { tag, key })
    }
}

/// The SRTP session keys of one master key.
pub(super) struct SessionKeys {
    pub cipher_key: [u8; 16],
    pub cipher_salt: [u8; 14],
    pub auth_key: [u8; 20],
}

/// RFC 3711 §4.3.1 labels.
const LABEL_CIPHER: u8 = 0x00;
const LABEL_AUTH: u8 = 0x01;
const LABEL_SALT: u8 = 0x02;

/// Derives the SRTP session keys (RFC 3711 §4.3, key derivation rate 0).
pub(super) fn derive(master: &SrtpMasterKey) -> SessionKeys {
    let cipher = Aes128::new(&master.key.into());
    let mut keys = SessionKeys {
        cipher_key: [0; 16],
        cipher_salt: [0; 14],
        auth_key: [0; 20],
    };
    prf(&cipher, &master.salt, LABEL_CIPHER, &mut keys.cipher_key);
    prf(&cipher, &master.salt, LABEL_AUTH, &mut keys.auth_key);
    prf(&cipher, &master.salt, LABEL_SALT, &mut keys.cipher_salt);
    keys
}

/// The AES-CM PRF: x = key_id ⊕ master salt (key_id = label ‖ 0⁴⁸), keystream from x·2^16.
fn prf(cipher: &Aes128, salt: &[u8; 14], label: u8, out: &mut [u8]) {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(salt);
    iv[7] ^= label;
    out.fill(0);
    super::keystream_xor(cipher, iv, out);
}
