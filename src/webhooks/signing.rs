//! Standard Webhooks signatures (<https://www.standardwebhooks.com>): HMAC-SHA256 over
//! `{webhook-id}.{webhook-timestamp}.{body}` with the endpoint's key, sent as
//! `webhook-signature: v1,<base64>`, so a client verifies with the spec's own libraries.

use std::fmt;

use base64::{Engine, engine::general_purpose::STANDARD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// How a secret is written to clients: the prefix the spec's libraries strip.
const PREFIX: &str = "whsec_";
/// 256 bits, the HMAC-SHA256 block's worth of key the spec recommends at most.
const KEY_LEN: usize = 32;

/// An endpoint's signing key. Its text form (`whsec_` + base64) is shown to the client once
/// and stored sealed; `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningSecret(Vec<u8>);

#[derive(Debug, thiserror::Error)]
#[error("a webhook secret is `whsec_` followed by base64")]
pub struct BadSecret;

impl SigningSecret {
    /// A fresh key from the OS's random source.
    pub fn generate() -> Self {
        let mut key = vec![0u8; KEY_LEN];
        rand::rng().fill_bytes(&mut key);
        Self(key)
    }

    /// Reads `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<Self, BadSecret> {
        let encoded = text.strip_prefix(PREFIX).ok_or(BadSecret)?;
        let key = STANDARD.decode(encoded).map_err(|_| BadSecret)?;
        if key.is_empty() {
            return Err(BadSecret);
        }
        Ok(Self(key))
    }

    /// `whsec_<base64>`: what the client configures its verifier with.
    pub fn expose(&self) -> String {
        format!("{PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The `webhook-signature` header value for one attempt.
    pub fn sign(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts a key of any length");
        mac.update(webhook_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!(
            "v1,{}",
            STANDARD.encode(
                self.mac(webhook_id, timestamp, body)
                    .finalize()
                    .into_bytes()
            )
        )
    }

    /// Whether one of the space-separated `v1,<base64>` signatures in `header` is this key's
    /// over the message, compared in constant time. What a receiver does (the demo's, here);
    /// the timestamp's freshness is the caller's to judge.
    pub fn verify(&self, webhook_id: &str, timestamp: i64, body: &[u8], header: &str) -> bool {
        header.split_whitespace().any(|signature| {
            signature
                .strip_prefix("v1,")
                .and_then(|encoded| STANDARD.decode(encoded).ok())
                .is_some_and(|tag| {
                    self.mac(webhook_id, timestamp, body)
                        .verify_slice(&tag)
                        .is_ok()
                })
        })
    }

    fn mac(&self, webhook_id: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC accepts a key of any length");
        mac.update(webhook_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector the Standard Webhooks reference libraries test against (svix's `sign` tests
    /// and the spec's documentation): an independent implementation's answer, not our own.
    #[test]
    fn a_signature_matches_the_standard_webhooks_published_test_vector() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            secret.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_generated_secret_reads_back_from_its_text_and_never_prints_in_debug() {
        let secret = SigningSecret::generate();
        let text = secret.expose();
        assert!(text.starts_with("whsec_"));
        assert_eq!(SigningSecret::parse(&text).unwrap(), secret);
        assert!(!format!("{secret:?}").contains(&text[6..]));
    }

    #[test]
    fn a_signature_verifies_among_others_and_fails_for_any_other_message_or_key() {
        let secret = SigningSecret::generate();
        let signature = secret.sign("evt-1", 1_700_000_000, b"{}");
        let header = format!("v1,bm9wZQ== {signature}");
        assert!(secret.verify("evt-1", 1_700_000_000, b"{}", &header));
        assert!(!secret.verify("evt-2", 1_700_000_000, b"{}", &header));
        assert!(!secret.verify("evt-1", 1_700_000_001, b"{}", &header));
        assert!(!secret.verify("evt-1", 1_700_000_000, b"{ }", &header));
        assert!(!SigningSecret::generate().verify("evt-1", 1_700_000_000, b"{}", &header));
    }

    #[test]
    fn a_secret_without_the_prefix_or_with_bad_base64_is_refused() {
        assert!(SigningSecret::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err());
        assert!(SigningSecret::parse("whsec_!!!").is_err());
        assert!(SigningSecret::parse("whsec_").is_err());
    }
}
