//! One delivery of a Default Import's job: take the command's lease, fetch the owner's data
//! from the bank while storing it, window by window, then end the command in one transaction
//! with the receipts, so the import's wall time approaches its chain of bank calls.
//!
//! Delivery is at least once, and a delivery may arrive while an earlier run is still alive,
//! so a run first takes the command's lease ([`commands::take_lease`]): a delivery that finds
//! a live run waits for it instead of running beside it, and every write a run makes is
//! fenced on its lease. Each taken lease counts an attempt; a delivery past `max_attempts`
//! (a job that keeps killing its worker, say) ends the command instead of running again. A
//! panic ends this import alone, as `Internal`.

use std::{
    panic::AssertUnwindSafe,
    sync::{
        Arc,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use aisle_sdk::{Account, BankSession, Card, Connector, ConnectorError, Owner};
use chrono::{NaiveDate, Utc};
use futures_util::{FutureExt, StreamExt};
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::{
    collect::{Collected, collect, not_supported},
    history::{HistoryFetch, Holder, Listing, Row, WindowRun},
    pace::{Endpoint, Pace},
    planner::{Plan, PlanInput},
    retry::RetryPolicy,
};
use crate::{
    commands::finish::{Finisher, Target, finish_in},
    deletion_signing::ReceiptSigner,
    model::command::{CommandErrorCode, Outcome, Progress, Stage},
    registry::Registry,
    sealing::SecretSealer,
    store::{
        self,
        commands::{self, Command, Fence, LeaseTake},
        results::{self, Holding, Scope},
        sessions,
    },
};

/// What a worker needs to run imports.
#[derive(Clone)]
pub struct ImportContext {
    pub pool: PgPool,
    pub registry: Arc<Registry>,
    pub sealer: SecretSealer,
    /// Signs the receipts of the retention job's deletions.
    pub receipts: ReceiptSigner,
    pub retry: RetryPolicy,
    pub import_timeout: Duration,
    /// Deliveries of one job that may run; the next one ends the command as `Internal`.
    pub max_attempts: usize,
    /// How long a run's lease lasts unless renewed. A run renews it three times as often.
    pub lease_ttl: Duration,
    /// How long a run waits for an unavailable database before it gives its work back.
    pub database_patience: Duration,
}

impl ImportContext {
    pub fn finisher(&self) -> Finisher {
        Finisher {
            pool: self.pool.clone(),
            registry: self.registry.clone(),
            sealer: self.sealer.clone(),
        }
    }
}

/// Why a delivery gave its work back to the queue.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Why a run stopped without ending its command.
#[derive(Debug, thiserror::Error)]
enum RunError {
    #[error("another run took the command's lease over")]
    LeaseLost,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Handles one delivery of `command_id`'s job.
pub async fn deliver(context: &ImportContext, command_id: Uuid) -> Result<(), ImportError> {
    let pool = &context.pool;
    let lease = Uuid::new_v4();
    let attempt = loop {
        match commands::take_lease(pool, command_id, lease, context.lease_ttl).await? {
            LeaseTake::Ended => return Ok(()),
            LeaseTake::Taken { attempt } => break attempt,
            // A live run has it: this delivery is a duplicate. Wait until that run ends the
            // command, or dies and lets its lease expire, and take over then.
            LeaseTake::HeldByLiveRun => tokio::time::sleep(lease_poll(context.lease_ttl)).await,
        }
    };
    let Some(command) = commands::find_for_job(pool, command_id).await? else {
        return Ok(());
    };
    tracing::Span::current().record("bank", command.bank_id.as_str());
    tracing::debug!(attempt, "import started");
    if attempt == 1 {
        let waited = (Utc::now() - command.created_at)
            .to_std()
            .unwrap_or_default();
        metrics::histogram!("aisle_import_pickup_seconds").record(waited.as_secs_f64());
    }
    let _active = ActiveImport::start();
    let target = Target {
        command_id,
        client_id: command.client_id,
        session_id: command.session_id,
        bank_id: command.bank_id.clone(),
    };
    let finisher = context.finisher();
    if usize::try_from(attempt).unwrap_or(usize::MAX) > context.max_attempts {
        let outcome = Outcome::error(
            CommandErrorCode::Internal,
            format!("the import was delivered {attempt} times without ending; it is not run again"),
        );
        tracing::error!(attempt, "giving up on an import that never ends");
        finisher
            .finish(&target, Fence::Lease(lease), &outcome)
            .await?;
        return Ok(());
    }

    let run = Run {
        context,
        command: &command,
        lease,
        target: &target,
        started: Instant::now(),
    };
    match AssertUnwindSafe(run.run()).catch_unwind().await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(RunError::LeaseLost)) => {
            tracing::warn!("another run took this import over; this one stops");
            Ok(())
        }
        Ok(Err(RunError::Database(e))) => {
            if let Err(release) = commands::release_lease(pool, command_id, lease).await {
                tracing::debug!(error = %release, "could not give the lease back");
            }
            Err(e.into())
        }
        Err(panic) => {
            tracing::error!(panic = panic_message(&panic), "the import panicked");
            let outcome =
                Outcome::error(CommandErrorCode::Internal, "the import failed unexpectedly");
            finisher
                .finish(&target, Fence::Lease(lease), &outcome)
                .await?;
            Ok(())
        }
    }
}

/// Counts a run in `aisle_imports_active` for as long as it lives, however it ends.
struct ActiveImport;

impl ActiveImport {
    fn start() -> Self {
        metrics::gauge!("aisle_imports_active").increment(1.0);
        Self
    }
}

impl Drop for ActiveImport {
    fn drop(&mut self) {
        metrics::gauge!("aisle_imports_active").decrement(1.0);
    }
}

/// How often a duplicate delivery looks at a live run's lease.
fn lease_poll(ttl: Duration) -> Duration {
    (ttl / 4).clamp(Duration::from_millis(100), Duration::from_secs(2))
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("a panic without a message")
}

/// One run of an import, holding the command's lease.
struct Run<'a> {
    context: &'a ImportContext,
    command: &'a Command,
    lease: Uuid,
    target: &'a Target,
    /// When this run began, for `aisle_import_duration_seconds`.
    started: Instant,
}

/// What an import fetched and stored, as the transaction that ends it still needs it: each
/// account's and card's row, receipt, and the rows to forget.
struct Fetched {
    holdings: Vec<Read>,
}

/// One stored account's or card's history.
struct Read {
    holding: Holding,
    history: Collected,
}

/// Why fetching stopped short of a result.
enum FetchError {
    /// The bank failed the import.
    Bank(ConnectorError),
    /// What was fetched could not be stored: the run cannot go on.
    Run(RunError),
}

impl From<ConnectorError> for FetchError {
    fn from(error: ConnectorError) -> Self {
        Self::Bank(error)
    }
}

impl From<RunError> for FetchError {
    fn from(error: RunError) -> Self {
        Self::Run(error)
    }
}

impl From<sqlx::Error> for FetchError {
    fn from(error: sqlx::Error) -> Self {
        Self::Run(error.into())
    }
}

impl Run<'_> {
    async fn run(&self) -> Result<(), RunError> {
        let context = self.context;
        let command = self.command;
        let session = sessions::find(&context.pool, command.client_id, command.session_id).await?;
        let Some((sealed, sca_at, max_import_date)) = session.and_then(|s| {
            s.bank_secret
                .map(|sealed| (sealed, s.sca_at, s.max_import_date))
        }) else {
            let outcome = Outcome::error(
                CommandErrorCode::SessionExpired,
                "the session's bank access has ended",
            );
            return self.conclude(&outcome, None).await;
        };
        let Ok(secret) = context.sealer.open(&sealed, command.session_id.as_bytes()) else {
            tracing::error!("the session's bank secret does not open with the configured key");
            let outcome = Outcome::error(
                CommandErrorCode::Internal,
                "the session's bank secret could not be read",
            );
            return self.conclude(&outcome, None).await;
        };
        let Some(bank) = context.registry.get(&command.bank_id) else {
            let detail = format!("bank {} is no longer in the registry", command.bank_id);
            return self
                .conclude(&Outcome::error(CommandErrorCode::Internal, detail), None)
                .await;
        };
        let bank_session = BankSession { secret, sca_at };
        let fetch = self.fetch(bank.connector.as_ref(), &bank_session, max_import_date);
        let fetched = tokio::select! {
            fetched = tokio::time::timeout(context.import_timeout, fetch) => fetched,
            lost = self.keep_lease() => return Err(lost),
        };
        match fetched {
            Ok(Ok((fetched, None))) => self.conclude(&Outcome::Successful, Some(&fetched)).await,
            // A long rate limit keeps what was fetched: its receipts say what is missing.
            Ok(Ok((fetched, Some(halt)))) => {
                tracing::warn!(error = %halt, "the bank stopped the import");
                self.conclude(&Outcome::for_bank_error(&halt), Some(&fetched))
                    .await
            }
            Ok(Err(FetchError::Bank(error))) => {
                tracing::warn!(%error, "the bank failed the import");
                self.conclude(&Outcome::for_bank_error(&error), None).await
            }
            Ok(Err(FetchError::Run(error))) => Err(error),
            Err(_) => {
                let outcome = Outcome::error(
                    CommandErrorCode::Timeout,
                    "the import took longer than allowed",
                );
                self.conclude(&outcome, None).await
            }
        }
    }

    /// Renews the lease until it is lost; returns only then. A database that does not answer
    /// is tried again: the lease may lapse meanwhile, and the next renewal or fenced write says
    /// whether another run took over.
    async fn keep_lease(&self) -> RunError {
        let context = self.context;
        let mut tick = tokio::time::interval(context.lease_ttl / 3);
        tick.tick().await;
        loop {
            tick.tick().await;
            match commands::renew_lease(
                &context.pool,
                self.command.id,
                self.lease,
                context.lease_ttl,
            )
            .await
            {
                Ok(true) => {}
                Ok(false) => return RunError::LeaseLost,
                Err(e) => tracing::warn!(error = %e, "could not renew the import's lease"),
            }
        }
    }

    /// Writes progress for clients to see. Progress is advisory: a write that fails is logged
    /// and the import goes on.
    async fn report(&self, progress: &Progress) {
        let written =
            commands::set_progress(&self.context.pool, self.command.id, self.lease, progress).await;
        if let Err(e) = written {
            tracing::debug!(error = %e, "could not write the import's progress");
        }
    }

    /// Reads everything from the bank, storing it as it arrives: the owners, accounts and
    /// cards once listed, then each window's rows while the next windows are fetched. Returns
    /// each account's and card's receipt and, when the bank halted the import with a rate
    /// limit, that error (the rows read before it are kept).
    async fn fetch(
        &self,
        connector: &dyn Connector,
        session: &BankSession,
        max_import_date: Option<NaiveDate>,
    ) -> Result<(Fetched, Option<ConnectorError>), FetchError> {
        let retry = &self.context.retry;
        let profile = connector.profile();
        let pace = Pace::for_bank(&self.command.bank_id, profile);
        let mut progress = Progress::at(Stage::Accounts);
        self.report(&progress).await;

        // Owners, accounts and cards do not depend on each other: read them at once.
        let (owners, accounts, cards) = tokio::join!(
            async {
                if profile.supports.owners {
                    optional(
                        pace.call(retry, Endpoint::Owners, || connector.owners(session))
                            .await,
                    )
                } else {
                    Ok(Vec::new())
                }
            },
            pace.call(retry, Endpoint::Accounts, || connector.accounts(session)),
            async {
                if profile.supports.cards {
                    optional(
                        pace.call(retry, Endpoint::Cards, || connector.cards(session))
                            .await,
                    )
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
        let plan = Plan::new(PlanInput {
            today: Utc::now().date_naive(),
            since: self.command.since,
            max_import_date,
            profile,
        });
        let windows_done = AtomicU32::new(0);
        let mut listings = Vec::new();
        if profile.supports.transactions {
            listings.extend(
                accounts
                    .iter()
                    .enumerate()
                    .map(|(at, a)| Listing::Account(at, a)),
            );
        }
        listings.extend(cards.iter().enumerate().map(|(at, c)| Listing::Card(at, c)));
        progress.stage = Stage::History;
        progress.windows_total =
            u32::try_from(listings.len() * plan.windows_per_listing()).unwrap_or(u32::MAX);
        self.report(&progress).await;

        tracing::debug!(windows = progress.windows_total, "fetching history");
        let fetch = HistoryFetch::new(connector, session, retry, &pace, &windows_done);
        let (holdings, runs) = {
            let (finished, finished_windows) = mpsc::channel::<WindowRun>(STORE_BACKLOG);
            let fetching = async {
                let runs = fetch.runs(&listings, &plan);
                tokio::pin!(runs);
                let mut ticker = tokio::time::interval(PROGRESS_EVERY);
                loop {
                    tokio::select! {
                        run = runs.next() => match run {
                            // The store has stopped (it failed): nothing fetched could be kept.
                            Some(run) => if finished.send(run).await.is_err() { break },
                            None => break,
                        },
                        _ = ticker.tick() => {
                            progress.windows_done = windows_done.load(Ordering::Relaxed);
                            self.report(&progress).await;
                        }
                    }
                }
                // Ends the store's loop once it has caught up.
                drop(finished);
            };
            let storing = async {
                // Moved in, so a store that fails closes the channel and the fetch stops.
                let mut finished_windows = finished_windows;
                // The listings are stored while the first windows are fetched, not before:
                // the fetch needs nothing from the database, and the windows' rows wait in
                // the channel until their accounts' rows exist.
                let holdings = self
                    .patiently(|| self.store_listings(&owners, &accounts, &cards))
                    .await?;
                let mut stored = Vec::new();
                while let Some(run) = finished_windows.recv().await {
                    // Windows that ended while the last store ran go in one transaction:
                    // when many end at once, one commit each would outlast the fetch.
                    let mut batch = vec![run];
                    while let Ok(run) = finished_windows.try_recv() {
                        batch.push(run);
                    }
                    self.patiently(|| self.store_windows(&holdings, &batch))
                        .await?;
                    stored.append(&mut batch);
                }
                Ok::<_, RunError>((holdings, stored))
            };
            tokio::pin!(fetching, storing);
            tokio::select! {
                stored = &mut storing => stored?,
                () = &mut fetching => storing.await?,
            }
        };
        let halt = fetch.halt();
        tracing::info!(requests = pace.used(), "history fetched");
        // Only a rate limit keeps what was fetched; any other bank error fails the import,
        // and half an import is never presented as if it were a result.
        if let Some(error) = &halt
            && !matches!(error, ConnectorError::RateLimited { .. })
        {
            return Err(error.clone().into());
        }
        let holders = listings.iter().map(Listing::holder);
        let mut histories = collect(&plan, runs, holders)?;
        let holdings = holdings
            .into_iter()
            .map(|(holder, holding)| {
                let mut history = histories
                    .remove(&holder)
                    .unwrap_or_else(|| not_supported(&plan, "transactions"));
                let balances_unavailable = match holder {
                    Holder::Account(at) => accounts.get(at).map(|a| &a.balances_unavailable),
                    Holder::Card(at) => cards.get(at).map(|c| &c.balances_unavailable),
                };
                history
                    .receipt
                    .note_balances(balances_unavailable.and_then(Option::as_deref));
                Read { holding, history }
            })
            .collect();
        progress.stage = Stage::Storing;
        progress.windows_done = windows_done.load(Ordering::Relaxed);
        self.report(&progress).await;
        Ok((Fetched { holdings }, halt))
    }

    /// Runs `write` until it succeeds, waiting for an unavailable database up to the
    /// context's patience; any other failure, or the patience running out, ends it.
    async fn patiently<T, Write, Written>(&self, write: Write) -> Result<T, RunError>
    where
        Write: Fn() -> Written,
        Written: Future<Output = Result<T, RunError>>,
    {
        let started = Instant::now();
        let mut wait = Duration::from_millis(250);
        loop {
            match write().await {
                Err(RunError::Database(e))
                    if store::is_unavailable(&e)
                        && started.elapsed() < self.context.database_patience =>
                {
                    tracing::warn!(error = %e, ?wait, "the database is unavailable; waiting to store the import");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                other => return other,
            }
        }
    }

    /// A transaction that holds the command's lease: every write of a run goes through one,
    /// so a run that lost its lease writes nothing more.
    async fn leased(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, RunError> {
        let mut tx = self.context.pool.begin().await?;
        if !commands::hold_lease(&mut tx, self.command.id, self.lease).await? {
            return Err(RunError::LeaseLost);
        }
        Ok(tx)
    }

    fn scope(&self) -> Scope {
        Scope {
            client_id: self.command.client_id,
            command_id: self.command.id,
        }
    }

    /// Replaces whatever an earlier run stored with the owners, accounts and cards the bank
    /// listed; returns each account's and card's row.
    async fn store_listings(
        &self,
        owners: &[Owner],
        accounts: &[Account],
        cards: &[Card],
    ) -> Result<Vec<(Holder, Holding)>, RunError> {
        let scope = self.scope();
        let mut tx = self.leased().await?;
        results::clear(&mut tx, scope).await?;
        results::insert_owners(&mut tx, scope, owners).await?;
        let mut holdings = Vec::with_capacity(accounts.len() + cards.len());
        for (at, account) in accounts.iter().enumerate() {
            let row = results::insert_account(&mut tx, scope, at, account).await?;
            holdings.push((Holder::Account(at), Holding::Account(row)));
        }
        for (at, card) in cards.iter().enumerate() {
            let row = results::insert_card(&mut tx, scope, at, card).await?;
            holdings.push((Holder::Card(at), Holding::Card(row)));
        }
        tx.commit().await?;
        Ok(holdings)
    }

    /// Stores the rows of `runs` under their accounts and cards, in one transaction.
    async fn store_windows(
        &self,
        holdings: &[(Holder, Holding)],
        runs: &[WindowRun],
    ) -> Result<(), RunError> {
        if runs.iter().all(|run| run.rows.is_empty()) {
            return Ok(());
        }
        let started = Instant::now();
        let scope = self.scope();
        let mut tx = self.leased().await?;
        let (mut transactions, mut card_transactions) = (0, 0);
        for run in runs.iter().filter(|run| !run.rows.is_empty()) {
            let Some(&(_, holding)) = holdings.iter().find(|(holder, _)| *holder == run.holder)
            else {
                continue;
            };
            match holding {
                Holding::Account(row) => {
                    let rows: Vec<_> = run
                        .rows
                        .iter()
                        .filter_map(|(identity, row)| match row {
                            Row::Account(t) => Some((identity.as_str(), t)),
                            Row::Card(_) => None,
                        })
                        .collect();
                    transactions +=
                        results::insert_transactions(&mut tx, scope, row, &rows).await?;
                }
                Holding::Card(row) => {
                    let rows: Vec<_> = run
                        .rows
                        .iter()
                        .filter_map(|(identity, row)| match row {
                            Row::Card(t) => Some((identity.as_str(), t)),
                            Row::Account(_) => None,
                        })
                        .collect();
                    card_transactions +=
                        results::insert_card_transactions(&mut tx, scope, row, &rows).await?;
                }
            }
        }
        tx.commit().await?;
        metrics::counter!("aisle_rows_stored_total", "kind" => "transactions")
            .increment(transactions);
        metrics::counter!("aisle_rows_stored_total", "kind" => "card_transactions")
            .increment(card_transactions);
        metrics::histogram!("aisle_rows_store_seconds").record(started.elapsed().as_secs_f64());
        Ok(())
    }

    /// Ends the command with `outcome` in one transaction with the last of its result: the
    /// receipts, and the removal of rows the history does not include, or of every row when
    /// there is no result. A result thus exists exactly when its command says so.
    async fn conclude(&self, outcome: &Outcome, fetched: Option<&Fetched>) -> Result<(), RunError> {
        let ended = self
            .patiently(|| self.store_and_finish(outcome, fetched))
            .await?;
        metrics::histogram!("aisle_import_duration_seconds", "bank" => self.command.bank_id.clone())
            .record(self.started.elapsed().as_secs_f64());
        self.context
            .finisher()
            .end_bank_session(self.target, ended)
            .await;
        Ok(())
    }

    async fn store_and_finish(
        &self,
        outcome: &Outcome,
        fetched: Option<&Fetched>,
    ) -> Result<crate::commands::finish::Ended, RunError> {
        let scope = self.scope();
        let mut tx = self.leased().await?;
        match fetched {
            Some(fetched) => {
                for read in &fetched.holdings {
                    results::set_receipt(&mut tx, scope, read.holding, &read.history.receipt)
                        .await?;
                    if !read.history.dropped.is_empty() {
                        results::forget_rows(&mut tx, scope, read.holding, &read.history.dropped)
                            .await?;
                    }
                }
            }
            // Nothing of this run is a result. `finish_in` clears an outcome that presents
            // none; this clears one that would (a long rate limit before the accounts were
            // listed), so it never presents an earlier, dead run's rows.
            None => results::clear(&mut tx, scope).await?,
        }
        let ended = finish_in(&mut tx, self.target, Fence::Lease(self.lease), outcome)
            .await?
            .ok_or(RunError::LeaseLost)?;
        tx.commit().await?;
        Ok(ended)
    }
}

/// Finished windows waiting to be stored: a store slower than the bank holds the fetch back
/// rather than letting rows pile up in memory.
const STORE_BACKLOG: usize = 16;

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
