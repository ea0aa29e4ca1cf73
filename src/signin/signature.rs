//! `sessionIdSignature`: HMAC-SHA256 over the client, the session id and the owner, so a
//! client's page cannot forge or swap session ids on their way to its backend.
//!
//! Keys rotate: signatures are made with the current key and still verify under the previous
//! keys the configuration lists, until the sessions they signed have expired.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct SessionSigner {
    key: Vec<u8>,
    /// Retired keys: they verify what they signed, and sign nothing.
    previous: Vec<Vec<u8>>,
}

impl SessionSigner {
    pub fn new(key: &[u8]) -> Self {
        Self {
            key: key.to_vec(),
            previous: Vec::new(),
        }
    }

    /// This signer, also accepting signatures made with `previous` keys.
    pub fn also_verifying<'k>(mut self, previous: impl IntoIterator<Item = &'k [u8]>) -> Self {
        self.previous
            .extend(previous.into_iter().map(<[u8]>::to_vec));
        self
    }

    /// The signature, as lowercase hex.
    pub fn sign(&self, client_id: Uuid, session_id: Uuid, owner_external_id: &str) -> String {
        hex::encode(
            mac(&self.key, client_id, session_id, owner_external_id)
                .finalize()
                .into_bytes(),
        )
    }

    /// Whether `signature` is ours for these values, compared in constant time.
    pub fn verify(
        &self,
        client_id: Uuid,
        session_id: Uuid,
        owner_external_id: &str,
        signature: &str,
    ) -> bool {
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        std::iter::once(&self.key).chain(&self.previous).any(|key| {
            mac(key, client_id, session_id, owner_external_id)
                .verify_slice(&bytes)
                .is_ok()
        })
    }
}

fn mac(key: &[u8], client_id: Uuid, session_id: Uuid, owner_external_id: &str) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    // Fixed-width ids first, the free-form owner last: no two inputs share an encoding.
    mac.update(client_id.as_bytes());
    mac.update(session_id.as_bytes());
    mac.update(owner_external_id.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_for_the_values_it_was_made_for() {
        let signer = SessionSigner::new(b"0123456789abcdef0123456789abcdef");
        let (client, session) = (Uuid::new_v4(), Uuid::new_v4());
        let signature = signer.sign(client, session, "owner-1");
        assert!(signer.verify(client, session, "owner-1", &signature));
        assert!(!signer.verify(client, session, "owner-2", &signature));
        assert!(!signer.verify(Uuid::new_v4(), session, "owner-1", &signature));
        assert!(!signer.verify(client, Uuid::new_v4(), "owner-1", &signature));
        assert!(!signer.verify(client, session, "owner-1", "not hex"));
        let other = SessionSigner::new(b"another key that is long enough!!");
        assert!(!other.verify(client, session, "owner-1", &signature));
    }

    #[test]
    fn after_a_rotation_old_signatures_still_verify_and_new_ones_use_the_new_key() {
        let (client, session) = (Uuid::now_v7(), Uuid::now_v7());
        let old_key = b"0123456789abcdef0123456789abcdef";
        let old = SessionSigner::new(old_key);
        let signed_before = old.sign(client, session, "owner-1");
        let rotated =
            SessionSigner::new(b"a new key, at least 32 bytes long").also_verifying([&old_key[..]]);
        assert!(rotated.verify(client, session, "owner-1", &signed_before));
        let signed_after = rotated.sign(client, session, "owner-1");
        assert_ne!(signed_after, signed_before);
        assert!(!old.verify(client, session, "owner-1", &signed_after));
        assert!(!rotated.verify(client, session, "owner-2", &signed_before));
    }
}
