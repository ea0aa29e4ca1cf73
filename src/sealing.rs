//! Bank secrets at rest: sealed with AES-256-GCM under a key from the configuration, bound to
//! the row they belong to, so a copied database alone reveals no consent and no token, and a
//! sealed value moved to another row does not open.

use aes_gcm::{
    Aes256Gcm, Key, KeyInit, Nonce,
    aead::{Aead, Payload},
};
use rand::RngCore;

/// The first byte of every sealed value; a new key scheme gets a new version.
const VERSION: u8 = 1;
const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct SecretSealer {
    cipher: Aes256Gcm,
}

#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error("the secrets key must be 64 hex characters (32 bytes)")]
    BadKey,
    #[error("a sealed secret does not open with this key and row")]
    Open,
}

impl SecretSealer {
    /// A sealer from a 32-byte key written as 64 hex characters.
    pub fn from_hex(key: &str) -> Result<Self, SealingError> {
        let bytes = hex::decode(key.trim()).map_err(|_| SealingError::BadKey)?;
        if bytes.len() != 32 {
            return Err(SealingError::BadKey);
        }
        Ok(Self {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)),
        })
    }

    /// `version ‖ nonce ‖ ciphertext+tag`, with `row` (the owning row's id) as associated data.
    pub fn seal(&self, plaintext: &str, row: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: row,
                },
            )
            .expect("AES-GCM encrypts any message shorter than 64 GiB");
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        sealed
    }

    /// The plaintext of a value [`Self::seal`] made for `row` under this key.
    pub fn open(&self, sealed: &[u8], row: &[u8]) -> Result<String, SealingError> {
        let Some((&VERSION, rest)) = sealed.split_first() else {
            return Err(SealingError::Open);
        };
        if rest.len() < NONCE_LEN {
            return Err(SealingError::Open);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let plaintext = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: row,
                },
            )
            .map_err(|_| SealingError::Open)?;
        String::from_utf8(plaintext).map_err(|_| SealingError::Open)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_its_row() {
        let sealer = SecretSealer::from_hex(KEY).unwrap();
        let sealed = sealer.seal(r#"{"consentId":"c-1"}"#, b"row-1");
        assert!(!sealed.windows(4).any(|w| w == b"c-1\""), "no plaintext");
        assert_eq!(
            sealer.open(&sealed, b"row-1").unwrap(),
            r#"{"consentId":"c-1"}"#
        );
        assert!(sealer.open(&sealed, b"row-2").is_err());
        let other = SecretSealer::from_hex(&KEY.replace("00", "ff")).unwrap();
        assert!(other.open(&sealed, b"row-1").is_err());
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert!(sealer.open(&tampered, b"row-1").is_err());
        assert!(sealer.open(&[], b"row-1").is_err());
    }

    #[test]
    fn the_same_secret_seals_differently_each_time() {
        let sealer = SecretSealer::from_hex(KEY).unwrap();
        assert_ne!(sealer.seal("s", b"r"), sealer.seal("s", b"r"));
    }

    #[test]
    fn a_key_that_is_not_32_hex_bytes_is_refused() {
        assert!(SecretSealer::from_hex("abcd").is_err());
        assert!(SecretSealer::from_hex(&"zz".repeat(32)).is_err());
    }
}
