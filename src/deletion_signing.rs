//! Deletion receipts are signed with Ed25519, so a client's auditors can check one with the
//! published public key alone, without asking Aisle.
//!
//! The signed bytes are the receipt's canonical JSON: object keys sorted, no whitespace,
//! strings and integers as `serde_json` writes them. For a receipt (strings without control
//! characters, integers, ASCII keys) this is RFC 8785's canonical form, and what Python's
//! `json.dumps(receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` and
//! `jq -cS` give.
//!
//! Keys rotate like the other keys: receipts are signed with the current key; previous keys
//! sign nothing and stay published, so receipts they signed still verify.

use base64::{
    Engine,
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::model::deletion::{
    DeletionReceipt, ReceiptSignature, SignatureAlgorithm, SignedDeletionReceipt,
};

#[derive(Debug, thiserror::Error)]
pub enum ReceiptKeyError {
    #[error("a deletion receipt key must be 64 hex characters (a 32-byte Ed25519 seed)")]
    BadKey,
}

/// Signs receipts with the current key and publishes every key's public half.
#[derive(Clone)]
pub struct ReceiptSigner {
    current: SigningKey,
    current_id: String,
    /// Retired keys' public halves: still published, never used to sign.
    previous: Vec<(String, VerifyingKey)>,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("current", &self.current_id)
            .finish_non_exhaustive()
    }
}

impl ReceiptSigner {
    /// A signer from a 32-byte seed written as 64 hex characters.
    pub fn from_hex(seed: &str) -> Result<Self, ReceiptKeyError> {
        let current = signing_key_from_hex(seed)?;
        Ok(Self {
            current_id: key_id(&current.verifying_key()),
            current,
            previous: Vec::new(),
        })
    }

    /// This signer, also publishing the public halves of `previous` seeds.
    pub fn also_publishing<'k>(
        mut self,
        previous: impl IntoIterator<Item = &'k str>,
    ) -> Result<Self, ReceiptKeyError> {
        for seed in previous {
            let public = signing_key_from_hex(seed)?.verifying_key();
            self.previous.push((key_id(&public), public));
        }
        Ok(self)
    }

    pub fn sign(&self, receipt: DeletionReceipt) -> SignedDeletionReceipt {
        let signature = self.current.sign(&canonical_bytes(&receipt));
        SignedDeletionReceipt {
            receipt,
            signature: ReceiptSignature {
                algorithm: SignatureAlgorithm::Ed25519,
                key_id: self.current_id.clone(),
                value: STANDARD.encode(signature.to_bytes()),
            },
        }
    }

    /// Whether `signed` verifies under one of the published keys.
    pub fn verifies(&self, signed: &SignedDeletionReceipt) -> bool {
        let Some(key) = self.keys().find(|(id, _)| *id == signed.signature.key_id) else {
            return false;
        };
        let Some(signature) = STANDARD
            .decode(&signed.signature.value)
            .ok()
            .and_then(|bytes| Signature::from_slice(&bytes).ok())
        else {
            return false;
        };
        key.1
            .verify(&canonical_bytes(&signed.receipt), &signature)
            .is_ok()
    }

    /// Every key a receipt may have been signed with, the current one first.
    pub fn published(&self) -> Vec<PublishedKey> {
        self.keys()
            .enumerate()
            .map(|(i, (id, key))| PublishedKey::new(id, key, i == 0))
            .collect()
    }

    fn keys(&self) -> impl Iterator<Item = (&str, VerifyingKey)> {
        std::iter::once((self.current_id.as_str(), self.current.verifying_key()))
            .chain(self.previous.iter().map(|(id, key)| (id.as_str(), *key)))
    }
}

fn signing_key_from_hex(seed: &str) -> Result<SigningKey, ReceiptKeyError> {
    let bytes: [u8; 32] = hex::decode(seed.trim())
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(ReceiptKeyError::BadKey)?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// The key's RFC 7638 JWK thumbprint: SHA-256 of its required JWK members, base64url.
fn key_id(key: &VerifyingKey) -> String {
    let x = URL_SAFE_NO_PAD.encode(key.as_bytes());
    let members = format!(r#"{{"crv":"Ed25519","kty":"OKP","x":"{x}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(members.as_bytes()))
}

/// The bytes a receipt's signature covers.
pub fn canonical_bytes(receipt: &DeletionReceipt) -> Vec<u8> {
    let mut out = Vec::new();
    // A receipt is plain data: it always serialises.
    if let Ok(value) = serde_json::to_value(receipt) {
        write_canonical(&value, &mut out);
    }
    out
}

/// Writes `value` with object keys sorted by their bytes (the same as by UTF-16 code units
/// for ASCII keys) and no whitespace. Sorted here rather than by relying on `serde_json`'s
/// map order, which a feature elsewhere in the build can turn into insertion order.
fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_scalar(&Value::String(key.clone()), out);
                out.push(b':');
                write_canonical(value, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(item, out);
            }
            out.push(b']');
        }
        scalar => write_scalar(scalar, out),
    }
}

fn write_scalar(value: &Value, out: &mut Vec<u8>) {
    // Writing a scalar to a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, value);
}

/// A public key as a JWK (RFC 8037), with its PEM form for OpenSSL.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishedKey {
    /// The key id receipts name (`signature.keyId`): the key's RFC 7638 thumbprint.
    pub kid: String,
    /// `OKP`.
    pub kty: &'static str,
    /// `Ed25519`.
    pub crv: &'static str,
    /// `EdDSA`.
    pub alg: &'static str,
    /// `sig`.
    #[serde(rename = "use")]
    pub key_use: &'static str,
    /// The 32-byte public key, base64url without padding.
    pub x: String,
    /// `current`: new receipts are signed with it; `previous`: it signed older receipts.
    pub status: KeyStatus,
    /// The same key as a PEM SubjectPublicKeyInfo (`openssl pkeyutl -verify -pubin`).
    pub public_key_pem: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum KeyStatus {
    Current,
    Previous,
}

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32 key bytes follow.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

impl PublishedKey {
    fn new(id: &str, key: VerifyingKey, current: bool) -> Self {
        let mut der = ED25519_SPKI_PREFIX.to_vec();
        der.extend_from_slice(key.as_bytes());
        Self {
            kid: id.to_string(),
            kty: "OKP",
            crv: "Ed25519",
            alg: "EdDSA",
            key_use: "sig",
            x: URL_SAFE_NO_PAD.encode(key.as_bytes()),
            status: if current {
                KeyStatus::Current
            } else {
                KeyStatus::Previous
            },
            public_key_pem: format!(
                "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
                STANDARD.encode(der)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use uuid::Uuid;

    use super::*;
    use crate::model::deletion::{DeletedCounts, DeletionReason, DeletionScope};

    const SEED: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";

    fn receipt() -> DeletionReceipt {
        DeletionReceipt {
            receipt_id: Uuid::nil(),
            client_id: Uuid::max(),
            reason: DeletionReason::Request,
            scope: DeletionScope::Owner {
                owner_external_id: "Zoë \"4711\"".into(),
            },
            deleted_at: Utc.with_ymd_and_hms(2026, 11, 30, 10, 0, 0).unwrap(),
            deleted: DeletedCounts {
                transactions: 3,
                ..DeletedCounts::default()
            },
            commands: Vec::new(),
        }
    }

    #[test]
    fn the_canonical_form_sorts_keys_and_has_no_whitespace() {
        let text = String::from_utf8(canonical_bytes(&receipt())).unwrap();
        assert_eq!(
            text,
            r#"{"clientId":"ffffffff-ffff-ffff-ffff-ffffffffffff","commands":[],"deleted":{"accounts":0,"balances":0,"cardTransactions":0,"cards":0,"owners":0,"transactions":3},"deletedAt":"2026-11-30T10:00:00Z","reason":"request","receiptId":"00000000-0000-0000-0000-000000000000","scope":{"kind":"owner","ownerExternalId":"Zoë \"4711\""}}"#
        );
    }

    #[test]
    fn a_signed_receipt_verifies_and_a_changed_one_does_not() {
        let signer = ReceiptSigner::from_hex(SEED).unwrap();
        let signed = signer.sign(receipt());
        assert!(signer.verifies(&signed));
        let mut changed = signed.clone();
        changed.receipt.deleted.transactions = 2;
        assert!(!signer.verifies(&changed));
    }

    #[test]
    fn after_a_rotation_old_receipts_verify_and_new_ones_name_the_new_key() {
        let old = ReceiptSigner::from_hex(SEED).unwrap();
        let before = old.sign(receipt());
        let rotated = ReceiptSigner::from_hex(&"42".repeat(32))
            .unwrap()
            .also_publishing([SEED])
            .unwrap();
        assert!(rotated.verifies(&before));
        let after = rotated.sign(receipt());
        assert_ne!(after.signature.key_id, before.signature.key_id);
        let published = rotated.published();
        assert_eq!(published[0].status, KeyStatus::Current);
        assert_eq!(published[0].kid, after.signature.key_id);
        assert_eq!(published[1].kid, before.signature.key_id);
        assert_eq!(published[1].status, KeyStatus::Previous);
    }

    #[test]
    fn the_published_key_is_the_rfc_8032_test_key() {
        // RFC 8032 §7.1, test 1: this seed's public key.
        let published = &ReceiptSigner::from_hex(SEED).unwrap().published()[0];
        assert_eq!(
            URL_SAFE_NO_PAD.decode(&published.x).unwrap(),
            hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
                .unwrap()
        );
        assert!(
            published
                .public_key_pem
                .starts_with("-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA")
        );
    }

    #[test]
    fn a_seed_that_is_not_32_hex_bytes_is_refused() {
        assert!(ReceiptSigner::from_hex("abcd").is_err());
        assert!(ReceiptSigner::from_hex(&"zz".repeat(32)).is_err());
    }
}
