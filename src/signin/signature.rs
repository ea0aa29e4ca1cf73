//! `sessionIdSignature`: HMAC-SHA256 over the client, the session id and the owner, so a
//! client's page cannot forge or swap session ids on their way to its backend.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

#[derive(Clone)]
pub struct SessionSigner {
    key: Vec<u8>,
}

impl SessionSigner {
    pub fn new(key: &[u8]) -> Self {
        Self { key: key.to_vec() }
    }

    /// The signature, as lowercase hex.
    pub fn sign(&self, client_id: Uuid, session_id: Uuid, owner_external_id: &str) -> String {
        hex::encode(
            self.mac(client_id, session_id, owner_external_id)
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
        self.mac(client_id, session_id, owner_external_id)
            .verify_slice(&bytes)
            .is_ok()
    }

    fn mac(&self, client_id: Uuid, session_id: Uuid, owner_external_id: &str) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC accepts any key length");
        // Fixed-width ids first, the free-form owner last: no two inputs share an encoding.
        mac.update(client_id.as_bytes());
        mac.update(session_id.as_bytes());
        mac.update(owner_external_id.as_bytes());
        mac
    }
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
}
