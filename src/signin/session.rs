//! Issuing a session: what every sign-in (widget, redirection, headless sandbox) ends with.
//! With auto import, the session's Default Import starts in the same transaction, so no
//! session is ever left unimported.

use aisle_sdk::BankSession;
use chrono::{NaiveDate, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use super::signature::SessionSigner;
use crate::{
    commands::start::{self, AutoImport, EnqueueError},
    model::input::AutoImportMonths,
    sealing::SecretSealer,
    store::sessions::{self, Session},
};

/// The keys and lifetime sessions are issued with.
pub struct Issuer<'a> {
    pub signer: &'a SessionSigner,
    pub sealer: &'a SecretSealer,
    pub ttl: std::time::Duration,
    /// How many deliveries an auto import's job may run (`worker.max_attempts`).
    pub max_import_attempts: usize,
}

/// Who signed in where, and what they agreed to.
pub struct SignedIn<'a> {
    pub client_id: Uuid,
    pub bank_id: &'a str,
    pub owner_external_id: &'a str,
    pub max_import_date: Option<NaiveDate>,
    pub force_sca: bool,
    /// Months of history to import at once; `None` leaves the import to the client.
    pub auto_import_months: Option<AutoImportMonths>,
}

/// A session ready for a Default Import.
#[derive(Debug, Clone)]
pub struct IssuedSession {
    pub session_id: Uuid,
    pub signature: String,
    pub bank_id: String,
    /// The auto import's command, when one started.
    pub command_id: Option<Uuid>,
}

impl Issuer<'_> {
    /// Stores the session with its bank secret sealed, starts its auto import if it has one,
    /// and signs its id. Call it inside a transaction: the session and its import commit
    /// together or not at all.
    pub async fn issue(
        &self,
        conn: &mut PgConnection,
        who: &SignedIn<'_>,
        bank_session: &BankSession,
    ) -> Result<IssuedSession, EnqueueError> {
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
        let command_id = match who.auto_import_months {
            Some(months) => Some(
                start::auto_import(
                    conn,
                    &AutoImport {
                        client_id: who.client_id,
                        session_id: id,
                        months,
                        max_attempts: self.max_import_attempts,
                    },
                )
                .await?,
            ),
            None => None,
        };
        Ok(IssuedSession {
            session_id: id,
            signature: self.signer.sign(who.client_id, id, who.owner_external_id),
            bank_id: session.bank_id,
            command_id,
        })
    }
}
