//! Issuing a session: what every sign-in (widget, redirection, headless sandbox) ends with.

use aisle_sdk::BankSession;
use chrono::{NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::signature::SessionSigner;
use crate::sealing::SecretSealer;
use crate::store::sessions::{self, Session};

/// The keys and lifetime sessions are issued with.
pub struct Issuer<'a> {
    pub signer: &'a SessionSigner,
    pub sealer: &'a SecretSealer,
    pub ttl: std::time::Duration,
}

/// Who signed in where, and what they agreed to.
pub struct SignedIn<'a> {
    pub client_id: Uuid,
    pub bank_id: &'a str,
    pub owner_external_id: &'a str,
    pub max_import_date: Option<NaiveDate>,
    pub force_sca: bool,
}

/// A session ready for a Default Import.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub session_id: Uuid,
    pub signature: String,
    pub bank_id: String,
}

impl Issuer<'_> {
    /// Stores the session with its bank secret sealed, and signs its id.
    pub async fn issue(
        &self,
        conn: &mut PgConnection,
        who: &SignedIn<'_>,
        bank_session: &BankSession,
    ) -> Result<IssuedSession, sqlx::Error> {
        // v4: 122 bits from the OS's random source, so a session id cannot be guessed.
        let id = Uuid::new_v4();
        let session = Session {
            id,
            client_id: who.client_id,
            bank_id: who.bank_id.to_string(),
            owner_external_id: who.owner_external_id.to_string(),
            bank_secret: Some(self.sealer.seal(&bank_session.secret, id.as_bytes())),
            sca_at: bank_session.sca_at,
            max_import_date: who.max_import_date,
            force_sca: who.force_sca,
            expires_at: Utc::now()
                + chrono::Duration::from_std(self.ttl).unwrap_or(chrono::Duration::hours(1)),
            claimed_at: None,
        };
        sessions::insert(conn, &session).await?;
        Ok(IssuedSession {
            session_id: id,
            signature: self.signer.sign(who.client_id, id, who.owner_external_id),
            bank_id: session.bank_id,
        })
    }
}
