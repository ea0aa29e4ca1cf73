//! Ending a command: the only way one ends. The state, the error code and the erasure of the
//! session's bank secret are written in one transaction, under a fence that says who may end
//! it; whoever ended it then ends the bank session with the secret it erased.

use std::{sync::Arc, time::Duration};

use aisle_sdk::{BankSession, ConnectorError};
use backon::{ExponentialBuilder, Retryable};
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;
use uuid::Uuid;

use crate::{
    model::command::Outcome,
    registry::Registry,
    sealing::SecretSealer,
    store::{
        commands::{self, Fence},
        results,
        sessions::{self, DueEnding, ErasedSecret},
    },
    webhooks::outbox::{self, EndedCommand},
};

/// The command to end, with what ending its bank session needs.
#[derive(Debug, Clone)]
pub struct Target {
    pub command_id: Uuid,
    pub client_id: Uuid,
    pub session_id: Uuid,
    pub bank_id: String,
}

/// A command this call ended, holding the bank secret it erased (if the session still had
/// one) until the bank session is ended with it.
#[must_use = "end the bank session with Finisher::end_bank_session"]
pub struct Ended {
    erased: Option<ErasedSecret>,
}

/// Ends the command inside the caller's transaction, erasing the session's bank secret and
/// writing its webhook event (`import.succeeded` / `import.failed`) in the same transaction.
/// `None` when the fence refuses: the command had ended already, or another run holds its
/// lease; then no event is written either.
pub async fn finish_in(
    conn: &mut PgConnection,
    target: &Target,
    fence: Fence,
    outcome: &Outcome,
) -> Result<Option<Ended>, sqlx::Error> {
    if !commands::finish(conn, target.command_id, fence, outcome).await? {
        return Ok(None);
    }
    let erased = sessions::erase_secret(conn, target.client_id, target.session_id).await?;
    // Imports store rows while they fetch: an ending that presents no result (a panic, the
    // reaper, the attempt limit, a bank error) takes whatever its runs stored with it.
    let presents_result = match outcome {
        Outcome::Successful => true,
        Outcome::Error { code, .. } => code.keeps_result(),
    };
    if !presents_result {
        let scope = results::Scope {
            client_id: target.client_id,
            command_id: target.command_id,
        };
        results::clear(conn, scope).await?;
    }
    let ended = EndedCommand {
        client_id: target.client_id,
        command_id: target.command_id,
        session_id: target.session_id,
        bank_id: &target.bank_id,
    };
    outbox::command_ended(conn, ended, outcome).await?;
    tracing::info!(command_id = %target.command_id, bank = %target.bank_id, ?outcome, "command finished");
    // Counted here, where every ending passes (a run, a panic, the attempt limit, the reaper);
    // a transaction that then fails to commit is counted all the same, which is rare enough.
    let outcome_label = match outcome {
        Outcome::Successful => "successful",
        Outcome::Error { code, .. } => code.as_str(),
    };
    metrics::counter!(
        "aisle_imports_total",
        "bank" => target.bank_id.clone(),
        "outcome" => outcome_label
    )
    .increment(1);
    Ok(Some(Ended { erased }))
}

/// What ending a command needs beyond the database.
#[derive(Clone)]
pub struct Finisher {
    pub pool: PgPool,
    pub registry: Arc<Registry>,
    pub sealer: SecretSealer,
}

impl Finisher {
    /// Ends the command in a transaction of its own, then the bank session. Returns whether
    /// this call ended it.
    pub async fn finish(
        &self,
        target: &Target,
        fence: Fence,
        outcome: &Outcome,
    ) -> Result<bool, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        let ended = finish_in(&mut tx, target, fence, outcome).await?;
        tx.commit().await?;
        let finished = ended.is_some();
        if let Some(ended) = ended {
            self.end_bank_session(target, ended).await;
        }
        Ok(finished)
    }

    /// Single access: ends the bank's side too (deletes the consent, revokes the token).
    pub async fn end_bank_session(&self, target: &Target, ended: Ended) {
        let Some(erased) = ended.erased else {
            return;
        };
        self.end_erased(erased)
            .instrument(tracing::info_span!("end_bank_session", command_id = %target.command_id))
            .await;
    }

    /// Ends the bank session of a secret that left its session, retrying passing failures
    /// for a while. Once the bank has ended it (or refused for good) the pending ending is
    /// forgotten; otherwise the reaper tries again later ([`Self::end_due_bank_sessions`]).
    pub async fn end_erased(&self, erased: ErasedSecret) {
        let bank_id = erased.bank_id.clone();
        match self.end_at_bank(&erased).await {
            Ok(()) => tracing::debug!(bank = %bank_id, "bank session ended"),
            Err(error) if passing(&error) => {
                tracing::warn!(bank = %bank_id, %error, "could not end the bank session yet");
                return;
            }
            Err(error) => {
                tracing::warn!(bank = %bank_id, %error, "the bank refused to end the session")
            }
        }
        if let Err(e) = sessions::ending_done(&self.pool, erased.session_id).await {
            tracing::warn!(error = %e, "could not record that a bank session ended");
        }
    }

    /// Ends the bank sessions whose ending is due: those whose first try failed, or whose
    /// process died before trying. Returns how many it tried.
    pub async fn end_due_bank_sessions(&self, limit: i64) -> Result<usize, sqlx::Error> {
        let due = sessions::due_endings(&self.pool, limit, ENDING_HOLD).await?;
        let tried = due.len();
        for DueEnding { erased, tries } in due {
            if tries > ENDING_TRIES {
                tracing::error!(bank = %erased.bank_id, tries, "giving up ending a bank session; it expires at the bank");
                sessions::ending_done(&self.pool, erased.session_id).await?;
                continue;
            }
            self.end_erased(erased).await;
        }
        Ok(tried)
    }

    async fn end_at_bank(&self, erased: &ErasedSecret) -> Result<(), ConnectorError> {
        let Some(bank) = self.registry.get(&erased.bank_id) else {
            return Err(ConnectorError::Unsupported("the bank left the registry"));
        };
        let Ok(secret) = self
            .sealer
            .open(&erased.sealed, erased.session_id.as_bytes())
        else {
            return Err(ConnectorError::Unsupported(
                "the secret does not open with the configured key",
            ));
        };
        let session = BankSession {
            secret,
            sca_at: erased.sca_at,
        };
        let connector = bank.connector.as_ref();
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(5))
            .with_max_times(END_SESSION_RETRIES)
            .with_jitter();
        (|| connector.end_session(&session))
            .retry(backoff)
            .when(passing)
            .await
    }
}

fn passing(error: &ConnectorError) -> bool {
    matches!(
        error,
        ConnectorError::Transient(_) | ConnectorError::RateLimited { .. }
    )
}

/// How long a reaper holds a due ending it is trying, and how many rounds it tries before the
/// consent is left to expire at the bank.
const ENDING_HOLD: Duration = Duration::from_secs(120);
const ENDING_TRIES: i32 = 10;

/// Retries after the first try to end a bank session: a quarter of a flaky bank's calls failing
/// still leaves one consent in about 16,000 standing.
const END_SESSION_RETRIES: usize = 6;
