//! One Default Import: fetch the owner's data from the bank, store it, end the command.
//!
//! Delivery is at least once, so the run is idempotent: it first clears what an earlier
//! attempt stored, and a finished command is never run again.

use std::{sync::Arc, time::Duration};

use std::sync::atomic::{AtomicU32, Ordering};

use aisle_sdk::{BankSession, Connector, ConnectorError};
use chrono::Utc;
use sqlx::PgPool;
use uuid::Uuid;

use super::{
    collect::{collect, not_supported},
    history::{HistoryFetch, Listing},
    outcome,
    pace::Pace,
    planner::{Plan, PlanInput},
    retry::RetryPolicy,
};
use crate::{
    registry::Registry,
    signin::sealing::SecretSealer,
    store::{
        commands::{self, Command, CommandState, Outcome, Progress},
        results::{self, Scope},
        sessions,
    },
};

/// What a worker needs to run imports.
#[derive(Clone)]
pub struct ImportContext {
    pub pool: PgPool,
    pub registry: Arc<Registry>,
    pub sealer: SecretSealer,
    pub retry: RetryPolicy,
    pub import_timeout: Duration,
    pub max_attempts: usize,
}

/// Why a run could not reach an outcome; the queue will run it again.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Why fetching stopped.
enum Stop {
    Bank(ConnectorError),
    Database(sqlx::Error),
}

impl From<sqlx::Error> for Stop {
    fn from(e: sqlx::Error) -> Self {
        Self::Database(e)
    }
}

impl From<ConnectorError> for Stop {
    fn from(e: ConnectorError) -> Self {
        Self::Bank(e)
    }
}

/// Runs the import for `command_id`. On its last attempt a database failure ends the command
/// with `Internal` rather than leaving it in progress forever.
pub async fn run(context: &ImportContext, command_id: Uuid) -> Result<(), ImportError> {
    let pool = &context.pool;
    let Some(command) = commands::find_for_job(pool, command_id).await? else {
        tracing::warn!("a job names a command that does not exist; dropping it");
        return Ok(());
    };
    if command.state != CommandState::InProgress {
        return Ok(());
    }
    tracing::Span::current().record("bank", command.bank_id.as_str());
    // Counted by us: apalis's own attempt counter is not reliable (see APALIS.md).
    let attempt = commands::start_attempt(pool, command.client_id, command_id).await?;
    tracing::debug!(attempt, "import started");
    let last_attempt = usize::try_from(attempt).unwrap_or(usize::MAX) >= context.max_attempts;
    let scope = Scope {
        client_id: command.client_id,
        command_id,
    };
    let session = sessions::find(pool, scope.client_id, command.session_id).await?;
    let Some((sealed, sca_at, max_import_date)) = session.and_then(|s| {
        s.bank_secret
            .map(|sealed| (sealed, s.sca_at, s.max_import_date))
    }) else {
        let outcome = error("SessionExpired", "the session's bank access has ended");
        return finish(pool, &command, &outcome).await;
    };
    let Ok(secret) = context.sealer.open(&sealed, command.session_id.as_bytes()) else {
        tracing::error!("the session's bank secret does not open with the configured key");
        let outcome = error("Internal", "the session's bank secret could not be read");
        return finish(pool, &command, &outcome).await;
    };
    let Some(bank) = context.registry.get(&command.bank_id) else {
        let detail = format!("bank {} is no longer in the registry", command.bank_id);
        return finish(pool, &command, &error("Internal", &detail)).await;
    };
    let bank_session = BankSession { secret, sca_at };
    let connector = bank.connector.as_ref();

    let fetched = tokio::time::timeout(
        context.import_timeout,
        fetch_and_store(context, connector, &bank_session, &command, max_import_date),
    )
    .await;
    let outcome = match fetched {
        Ok(Ok(())) => Outcome::Successful,
        Ok(Err(Stop::Bank(e))) => {
            tracing::warn!(error = %e, "the bank failed the import");
            outcome::for_bank_error(&e)
        }
        Ok(Err(Stop::Database(e))) if !last_attempt => return Err(e.into()),
        Ok(Err(Stop::Database(e))) => {
            tracing::error!(error = %e, "the import's last attempt failed on the database");
            error("Internal", "the import could not be stored")
        }
        Err(_) => error("Timeout", "the import took longer than allowed"),
    };
    finish(pool, &command, &outcome).await?;
    // Single access: end the bank's side too. The consent expires on its own if this fails.
    if let Err(e) = connector.end_session(&bank_session).await {
        tracing::info!(error = %e, "could not end the bank session");
    }
    Ok(())
}

fn error(code: &'static str, detail: &str) -> Outcome {
    Outcome::Error {
        code,
        detail: detail.into(),
    }
}

/// Ends the command and erases the session's bank secret in one transaction.
async fn finish(pool: &PgPool, command: &Command, outcome: &Outcome) -> Result<(), ImportError> {
    let mut tx = pool.begin().await?;
    commands::finish(&mut tx, command.client_id, command.id, outcome).await?;
    sessions::erase_secret(&mut tx, command.client_id, command.session_id).await?;
    tx.commit().await?;
    tracing::info!(?outcome, "import finished");
    Ok(())
}

async fn fetch_and_store(
    context: &ImportContext,
    connector: &dyn Connector,
    session: &BankSession,
    command: &Command,
    max_import_date: Option<chrono::NaiveDate>,
) -> Result<(), Stop> {
    let pool = &context.pool;
    let retry = &context.retry;
    let scope = Scope {
        client_id: command.client_id,
        command_id: command.id,
    };
    let profile = connector.profile();
    let pace = Pace::for_bank(profile);
    let mut progress = Progress::stage("accounts");
    let report = async |progress: &Progress| {
        commands::set_progress(pool, scope.client_id, scope.command_id, progress).await
    };
    report(&progress).await?;

    let mut conn = pool.acquire().await?;
    results::clear(&mut conn, scope).await?;

    // Owners, accounts and cards do not depend on each other: read them at once.
    let (owners, accounts, cards) = tokio::join!(
        async {
            if profile.supports.owners {
                optional(pace.call(retry, || connector.owners(session)).await)
            } else {
                Ok(Vec::new())
            }
        },
        pace.call(retry, || connector.accounts(session)),
        async {
            if profile.supports.cards {
                optional(pace.call(retry, || connector.cards(session)).await)
            } else {
                Ok(Vec::new())
            }
        },
    );
    let (owners, accounts, cards) = (owners?, accounts?, cards?);
    tracing::debug!(
        accounts = accounts.len(),
        cards = cards.len(),
        "accounts read"
    );
    results::insert_owners(&mut conn, scope, &owners).await?;

    let plan = Plan::new(PlanInput {
        today: Utc::now().date_naive(),
        since: command.since,
        max_import_date,
        profile,
    });
    let mut listings = Vec::new();
    if profile.supports.transactions {
        listings.extend(accounts.iter().map(Listing::Account));
    }
    listings.extend(cards.iter().map(Listing::Card));
    progress.stage = "history".into();
    progress.windows_total =
        u32::try_from(listings.len() * plan.windows_per_listing()).unwrap_or(u32::MAX);
    report(&progress).await?;

    tracing::debug!(windows = progress.windows_total, "fetching history");
    let windows_done = AtomicU32::new(0);
    let fetch = HistoryFetch::new(connector, session, retry, &pace, &windows_done);
    let history = fetch.run(&listings, &plan);
    tokio::pin!(history);
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    let (runs, halt) = loop {
        tokio::select! {
            fetched = &mut history => break fetched,
            _ = ticker.tick() => {
                progress.windows_done = windows_done.load(Ordering::Relaxed);
                report(&progress).await?;
            }
        }
    };
    // Only a rate limit keeps what was fetched (its receipts say so); any other bank error
    // fails the import, and half an import is not stored as if it were a result.
    if let Some(error) = halt.as_ref()
        && !matches!(error, ConnectorError::RateLimited { .. })
    {
        return Err(Stop::Bank(error.clone()));
    }

    progress.stage = "storing".into();
    progress.windows_done = windows_done.load(Ordering::Relaxed);
    report(&progress).await?;
    // `collect` answers in the listings' order: the accounts (when the bank offers their
    // transactions), then the cards.
    let mut histories = collect(&plan, runs, listings.len());
    let card_histories = histories.split_off(histories.len().saturating_sub(cards.len()));
    let account_histories = if profile.supports.transactions {
        histories
    } else {
        accounts
            .iter()
            .map(|_| not_supported(&plan, "transactions"))
            .collect()
    };
    // Each account and card is stored on its own connection, all at once: a large history
    // takes a while to insert, and the accounts do not depend on each other.
    let account_stores = accounts.iter().enumerate().zip(account_histories).map(
        |((position, account), history)| async move {
            let (rows, receipt) = history.into_transactions();
            let mut conn = pool.acquire().await?;
            let row =
                results::insert_account(&mut conn, scope, position, account, &receipt).await?;
            results::insert_transactions(&mut conn, scope, row, &rows).await
        },
    );
    let card_stores = cards.iter().enumerate().zip(card_histories).map(
        |((position, card), history)| async move {
            let (rows, receipt) = history.into_card_transactions();
            let mut conn = pool.acquire().await?;
            let row = results::insert_card(&mut conn, scope, position, card, &receipt).await?;
            results::insert_card_transactions(&mut conn, scope, row, &rows).await
        },
    );
    futures_util::future::try_join(
        futures_util::future::try_join_all(account_stores),
        futures_util::future::try_join_all(card_stores),
    )
    .await?;
    tracing::info!(requests = pace.used(), "history fetched and stored");

    progress.stage = "finishing".into();
    report(&progress).await?;
    match halt {
        Some(error) => Err(Stop::Bank(error)),
        None => Ok(()),
    }
}

/// How often a running import writes its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(500);

/// Parts of the scope the bank may not offer: absent rather than a failure.
fn optional<T>(result: Result<Vec<T>, ConnectorError>) -> Result<Vec<T>, ConnectorError> {
    match result {
        Err(ConnectorError::Unsupported(what)) => {
            tracing::info!(what, "the bank does not offer this part of the scope");
            Ok(Vec::new())
        }
        other => other,
    }
}
