//! Starting a Default Import: everything that must hold together happens in one transaction,
//! so a command never exists without its claimed session and its job, nor a job without its
//! command. The client's request starts one ([`default_import`]); so does a sign-in, inside
//! the transaction that issues its session, when the client has auto import on
//! ([`auto_import`]).

use chrono::{NaiveDate, Utc};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    model::{
        command::{CommandState, StartedBy},
        input::AutoImportMonths,
    },
    signin::signature::SessionSigner,
    store::{
        commands::{self, KeyedCommand, NewCommand},
        queue, sessions,
    },
};

/// A client's request to import with a session.
#[derive(Debug, Clone, Copy)]
pub struct DefaultImportStart<'a> {
    pub client_id: Uuid,
    pub session_id: Uuid,
    pub signature: &'a str,
    pub since: NaiveDate,
    pub idempotency_key: Option<&'a str>,
    /// A digest of the request as the client sent it: a second request under the same
    /// idempotency key must carry the same one.
    pub fingerprint: &'a [u8],
    /// How many deliveries of the job may run before the command ends as `Internal`.
    pub max_attempts: usize,
}

/// The command a start made, or found under the same idempotency key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Started {
    pub command_id: Uuid,
    pub state: CommandState,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("no such session")]
    InvalidSessionId,
    #[error("the session id signature does not match")]
    InvalidSessionIdSignature,
    #[error("this session was already used by a Default Import")]
    DefaultImportAlreadyExecuted,
    #[error("the session has expired")]
    SessionExpired,
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("queue: {0}")]
    Queue(#[from] apalis_postgres::Error),
}

/// Why a command could not be recorded and queued.
#[derive(Debug, thiserror::Error)]
pub enum EnqueueError {
    /// Another import claimed the session first (its command row, or its claim).
    #[error("the session was already used by a Default Import")]
    SessionUsed,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("queue: {0}")]
    Queue(#[from] apalis_postgres::Error),
}

impl From<EnqueueError> for StartError {
    fn from(e: EnqueueError) -> Self {
        match e {
            EnqueueError::SessionUsed => Self::DefaultImportAlreadyExecuted,
            EnqueueError::Database(db) => Self::Database(db),
            EnqueueError::Queue(queue) => Self::Queue(queue),
        }
    }
}

/// Records the command as in progress, claims its session and pushes its job, all on `conn`:
/// the caller's transaction makes the three one.
pub async fn enqueue(
    conn: &mut PgConnection,
    command: &NewCommand<'_>,
    max_attempts: usize,
) -> Result<(), EnqueueError> {
    match commands::insert(conn, command).await {
        Err(e) if is_unique_violation(&e) => return Err(EnqueueError::SessionUsed),
        inserted => inserted?,
    }
    if !sessions::claim(conn, command.client_id, command.session_id).await? {
        return Err(EnqueueError::SessionUsed);
    }
    queue::enqueue(conn, command.id, max_attempts).await?;
    Ok(())
}

/// An import a sign-in starts by itself, in the transaction that issues its session.
#[derive(Debug, Clone, Copy)]
pub struct AutoImport {
    pub client_id: Uuid,
    pub session_id: Uuid,
    pub months: AutoImportMonths,
    pub max_attempts: usize,
}

/// Starts the Default Import of a session being issued on `conn`; returns its command id.
/// `since` is today minus the months; the import then reads no further back than the
/// sign-in's `maxImportDate` and the bank's history, as every import does.
pub async fn auto_import(
    conn: &mut PgConnection,
    start: &AutoImport,
) -> Result<Uuid, EnqueueError> {
    let command_id = Uuid::now_v7();
    let since = start.months.since(Utc::now().date_naive());
    enqueue(
        conn,
        &NewCommand {
            id: command_id,
            client_id: start.client_id,
            session_id: start.session_id,
            idempotency_key: None,
            idempotency_fingerprint: None,
            since,
            started_by: StartedBy::AutoImport,
        },
        start.max_attempts,
    )
    .await?;
    tracing::info!(%command_id, months = start.months.get(), "auto import queued");
    Ok(command_id)
}

/// Starts a Default Import, or answers with the command an earlier request with the same
/// idempotency key started. A session its sign-in's auto import claimed answers with that
/// import's command: a client that also posts Default Import after `onSuccess` gets the
/// import that is already running, whatever `since` it asked for.
pub async fn default_import(
    pool: &PgPool,
    signer: &SessionSigner,
    request: &DefaultImportStart<'_>,
) -> Result<Started, StartError> {
    let mut tx = pool.begin().await?;
    if let Some(key) = request.idempotency_key
        && let Some(existing) =
            commands::find_by_idempotency_key(&mut tx, request.client_id, key).await?
    {
        return replay(&existing, request);
    }
    let session = sessions::find_for_client(&mut tx, request.client_id, request.session_id)
        .await?
        .ok_or(StartError::InvalidSessionId)?;
    let signature_ok = signer.verify(
        request.client_id,
        session.id,
        &session.owner_external_id,
        request.signature,
    );
    if !signature_ok {
        return Err(StartError::InvalidSessionIdSignature);
    }
    if session.claimed_at.is_some() {
        return match commands::for_session(&mut *tx, request.client_id, session.id).await? {
            Some(auto) if auto.started_by == StartedBy::AutoImport => Ok(Started {
                command_id: auto.id,
                state: auto.state,
            }),
            _ => Err(StartError::DefaultImportAlreadyExecuted),
        };
    }
    if session.expires_at <= Utc::now() {
        return Err(StartError::SessionExpired);
    }

    let command_id = Uuid::now_v7();
    let enqueued = enqueue(
        &mut tx,
        &NewCommand {
            id: command_id,
            client_id: request.client_id,
            session_id: request.session_id,
            idempotency_key: request.idempotency_key,
            idempotency_fingerprint: request.idempotency_key.map(|_| request.fingerprint),
            since: request.since,
            started_by: StartedBy::Api,
        },
        request.max_attempts,
    )
    .await;
    if let Err(e) = enqueued {
        if !matches!(e, EnqueueError::SessionUsed) {
            return Err(e.into());
        }
        drop(tx);
        // Two requests with one idempotency key raced; the other one's command stands.
        if let Some(key) = request.idempotency_key
            && let Some(existing) = commands::find_by_idempotency_key(
                &mut *pool.acquire().await?,
                request.client_id,
                key,
            )
            .await?
        {
            return replay(&existing, request);
        }
        return Err(StartError::DefaultImportAlreadyExecuted);
    }
    tx.commit().await?;
    tracing::info!(%command_id, bank = %session.bank_id, "default import queued");
    Ok(Started {
        command_id,
        state: CommandState::InProgress,
    })
}

/// The answer to a repeated request: the command the key made, if it was the same request.
fn replay(
    existing: &KeyedCommand,
    request: &DefaultImportStart<'_>,
) -> Result<Started, StartError> {
    let same_request = match &existing.idempotency_fingerprint {
        Some(fingerprint) => fingerprint.as_slice() == request.fingerprint,
        None => existing.session_id == request.session_id,
    };
    if !same_request {
        return Err(StartError::IdempotencyKeyReused);
    }
    Ok(Started {
        command_id: existing.id,
        state: existing.state,
    })
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation())
}

/// A digest of a Default Import request as sent, kept with its idempotency key. `since` is
/// taken as given, not the default it stands for, so a retry that leaves it out is the same
/// request only if the first one did too.
pub fn request_fingerprint(session_id: &str, signature: &str, since: Option<&str>) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in [Some(session_id), Some(signature), since] {
        // A length prefix per part, and a marker for an absent one, keep parts apart.
        match part {
            Some(text) => {
                digest.update((text.len() as u64).to_be_bytes());
                digest.update(text.as_bytes());
            }
            None => digest.update(u64::MAX.to_be_bytes()),
        }
    }
    digest.finalize().into()
}
