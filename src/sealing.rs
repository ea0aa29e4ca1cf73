//! Bank secrets at rest: sealed with AES-256-GCM under a key from the configuration, bound to
//! the row they belong to, so a copied database alone reveals no consent and no token, and a
//! sealed value moved to another row does not open.
//!
//! Keys rotate: values are always sealed with the current key, and still open with the
//! previous keys the configuration lists, so a new key can be deployed while sessions and
//! sign-ins sealed under the old one run out. AES-GCM authenticates, so trying each key in turn
//! is safe: a wrong key fails its tag and never yields garbage.

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
    /// Retired keys: they open what they sealed, and seal nothing.
    previous: Vec<Aes256Gcm>,
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
        Ok(Self {
            cipher: cipher_from_hex(key)?,
            previous: Vec::new(),
        })
    }

    /// This sealer, also opening what `previous` keys (64 hex characters each) sealed.
    pub fn also_opening<'k>(
        mut self,
        previous: impl IntoIterator<Item = &'k str>,
    ) -> Result<Self, SealingError> {
        for key in previous {
            self.previous.push(cipher_from_hex(key)?);
        }
        Ok(self)
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
        let plaintext = std::iter::once(&self.cipher)
            .chain(&self.previous)
            .find_map(|cipher| {
                cipher
                    .decrypt(
                        Nonce::from_slice(nonce),
                        Payload {
                            msg: ciphertext,
                            aad: row,
                        },
                    )
                    .ok()
            })
            .ok_or(SealingError::Open)?;
        String::from_utf8(plaintext).map_err(|_| SealingError::Open)
    }
}

fn cipher_from_hex(key: &str) -> Result<Aes256Gcm, SealingError> {
    let bytes = hex::decode(key.trim()).map_err(|_| SealingError::BadKey)?;
    if bytes.len() != 32 {
        return Err(SealingError::BadKey);
    }
    Ok(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)))
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

    #[test]
    fn after_a_rotation_old_values_still_open_and_new_ones_are_sealed_with_the_new_key() {
        let old = SecretSealer::from_hex(KEY).unwrap();
        let sealed_before = old.seal("consent-1", b"row-1");
        let new_key = KEY.replace("00", "aa");
        let rotated = SecretSealer::from_hex(&new_key)
            .unwrap()
            .also_opening([KEY])
            .unwrap();
        assert_eq!(rotated.open(&sealed_before, b"row-1").unwrap(), "consent-1");
        let sealed_after = rotated.seal("consent-2", b"row-2");
        assert!(
            old.open(&sealed_after, b"row-2").is_err(),
            "sealed with the new key"
        );
        let retired = SecretSealer::from_hex(&new_key).unwrap();
        assert!(
            retired.open(&sealed_before, b"row-1").is_err(),
            "once the old key is dropped from the list, its values no longer open"
        );
        assert!(rotated.open(&sealed_before, b"row-2").is_err());
    }
}
