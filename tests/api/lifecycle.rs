//! Issue 10: one owner of the command lifecycle. A panic ends one import, a job delivered too
//! often ends its command, the reaper ends what nothing else would, and a second delivery
//! never runs beside a live one.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use aisle::{
    commands::{
        finish::Finisher,
        reaper::{self, ReaperSettings},
    },
    engine::import::{self, ImportContext},
    model::command::{CommandErrorCode, Outcome},
    registry::{Bank, Registry},
    store::commands::{self, Fence},
};
use aisle_sdk::{
    Account, BankProfile, BankSession, Card, CardTransaction, Connector, ConnectorError,
    DateWindow, Owner, Page, PageCursor, SignInCallback, SignInProgress, SignInRequest, SignInStep,
    Transaction,
};
use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_app_without_workers};

/// The sandbox bank's connector, except that reading the accounts of `panics_for` panics, as
/// a bug in a connector or the engine would. It counts the calls that matter.
struct Faulty {
    inner: Arc<dyn Connector>,
    panics_for: &'static str,
    account_reads: AtomicUsize,
    sessions_ended: AtomicUsize,
}

#[async_trait]
impl Connector for Faulty {
    fn profile(&self) -> &BankProfile {
        self.inner.profile()
    }

    async fn begin_sign_in(&self, request: &SignInRequest) -> Result<SignInStep, ConnectorError> {
        self.inner.begin_sign_in(request).await
    }

    async fn complete_sign_in(
        &self,
        callback: &SignInCallback,
    ) -> Result<SignInProgress, ConnectorError> {
        self.inner.complete_sign_in(callback).await
    }

    async fn owners(&self, session: &BankSession) -> Result<Vec<Owner>, ConnectorError> {
        self.inner.owners(session).await
    }

    async fn accounts(&self, session: &BankSession) -> Result<Vec<Account>, ConnectorError> {
        self.account_reads.fetch_add(1, Ordering::SeqCst);
        let accounts = self.inner.accounts(session).await?;
        let named = |a: &Account| a.owner_names.iter().any(|n| n == self.panics_for);
        assert!(!accounts.iter().any(named), "a bug met {}", self.panics_for);
        Ok(accounts)
    }

    async fn transactions(
        &self,
        session: &BankSession,
        account: &Account,
        window: DateWindow,
        page: Option<&PageCursor>,
    ) -> Result<Page<Transaction>, ConnectorError> {
        self.inner
            .transactions(session, account, window, page)
            .await
    }

    async fn cards(&self, session: &BankSession) -> Result<Vec<Card>, ConnectorError> {
        self.inner.cards(session).await
    }

    async fn card_transactions(
        &self,
        session: &BankSession,
        card: &Card,
        window: DateWindow,
        page: Option<&PageCursor>,
    ) -> Result<Page<CardTransaction>, ConnectorError> {
        self.inner
            .card_transactions(session, card, window, page)
            .await
    }

    async fn end_session(&self, session: &BankSession) -> Result<(), ConnectorError> {
        self.sessions_ended.fetch_add(1, Ordering::SeqCst);
        self.inner.end_session(session).await
    }
}

/// `app`'s import context with the sandbox bank's connector replaced by a [`Faulty`] one.
fn with_faulty_sandbox(app: &TestApp, panics_for: &'static str) -> (ImportContext, Arc<Faulty>) {
    let mut context = app.import_context();
    let mut faulty = None;
    let registry: Registry = context
        .registry
        .banks()
        .cloned()
        .map(|bank| {
            if bank.entry.id != "sandbox" {
                return bank;
            }
            let connector = Arc::new(Faulty {
                inner: bank.connector.clone(),
                panics_for,
                account_reads: AtomicUsize::new(0),
                sessions_ended: AtomicUsize::new(0),
            });
            faulty = Some(connector.clone());
            Bank {
                entry: bank.entry,
                connector,
            }
        })
        .collect();
    context.registry = Arc::new(registry);
    (context, faulty.expect("the registry has the sandbox bank"))
}

async fn error_code(command: &Value) -> &str {
    command["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn a_panic_in_one_import_ends_that_import_alone_as_internal_and_ends_its_bank_session() {
    let app = spawn_app_without_workers().await;
    let poisoned = app.start_import("alice").await;
    let healthy = app.start_import("bob").await;
    let (context, faulty) = with_faulty_sandbox(&app, "Alice Example");
    let _workers = app.start_workers_with(context);

    let poisoned = app
        .wait_for_command(&poisoned, Duration::from_secs(60))
        .await;
    assert_eq!(poisoned["state"], "error", "{poisoned}");
    assert_eq!(error_code(&poisoned).await, "Internal");
    assert_eq!(poisoned["progress"]["stage"], "failed");
    let healthy = app
        .wait_for_command(&healthy, Duration::from_secs(60))
        .await;
    assert_eq!(healthy["state"], "successful", "{healthy}");

    assert_eq!(app.secrets_left().await, 0, "both secrets are erased");
    assert_eq!(faulty.sessions_ended.load(Ordering::SeqCst), 2);
    assert_eq!(
        faulty.account_reads.load(Ordering::SeqCst),
        2,
        "the panicking import ran once, not again and again"
    );
    assert_eq!(
        app.count("select count(*) from commands where attempts <> 1")
            .await,
        0
    );
}

#[tokio::test]
async fn a_job_delivered_past_its_attempt_limit_ends_its_command_instead_of_running_again() {
    let app = spawn_app_without_workers().await;
    let command_id = app.start_import("alice").await;
    // As if the job had killed its worker three times (max_attempts is 3): each orphaned
    // delivery took the lease, and apalis re-queued the job each time.
    sqlx::query("update commands set attempts = 3")
        .execute(&app.pool)
        .await
        .unwrap();
    let (context, faulty) = with_faulty_sandbox(&app, "nobody");
    let _workers = app.start_workers_with(context);

    let command = app
        .wait_for_command(&command_id, Duration::from_secs(60))
        .await;
    assert_eq!(command["state"], "error", "{command}");
    assert_eq!(error_code(&command).await, "Internal");
    assert!(
        command["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("delivered 4 times"),
        "{command}"
    );
    assert_eq!(
        faulty.account_reads.load(Ordering::SeqCst),
        0,
        "the bank is not asked again"
    );
    assert_eq!(faulty.sessions_ended.load(Ordering::SeqCst), 1);
    assert_eq!(app.secrets_left().await, 0);
}

fn reaper_settings() -> ReaperSettings {
    ReaperSettings {
        every: Duration::from_secs(1),
        overdue_after: Duration::from_secs(16 * 60),
        grace: Duration::from_secs(30),
    }
}

fn finisher(app: &TestApp) -> Finisher {
    app.import_context().finisher()
}

#[tokio::test]
async fn the_reaper_ends_a_command_whose_job_is_gone_once_however_many_reapers_run() {
    let app = spawn_app_without_workers().await;
    let command_id = app.start_import("alice").await;
    // The job vanished (purged, or a queue restored from a backup without it), a while ago.
    sqlx::query("delete from apalis.jobs")
        .execute(&app.pool)
        .await
        .unwrap();
    sqlx::query("update commands set created_at = now() - interval '5 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();

    let finisher = finisher(&app);
    let (a, b) = tokio::join!(
        reaper::reap_once(&finisher, reaper_settings()),
        reaper::reap_once(&finisher, reaper_settings()),
    );
    assert_eq!(
        a.unwrap() + b.unwrap(),
        1,
        "one reaper ends it, the other finds it ended"
    );

    let command: Value = app
        .get_command(&app.api_key, &command_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(command["state"], "error", "{command}");
    assert_eq!(error_code(&command).await, "Internal");
    assert_eq!(app.secrets_left().await, 0, "the reaper erased the secret");
}

#[tokio::test]
async fn the_reaper_leaves_a_queued_command_alone_while_its_job_can_still_run() {
    let app = spawn_app_without_workers().await;
    app.start_import("alice").await;
    sqlx::query("update commands set created_at = now() - interval '5 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    let reaped = reaper::reap_once(&finisher(&app), reaper_settings())
        .await
        .unwrap();
    assert_eq!(reaped, 0);
    assert_eq!(
        app.count("select count(*) from commands where state = 'in_progress'")
            .await,
        1
    );
}

#[tokio::test]
async fn the_reaper_times_out_a_run_that_outlived_the_import_timeout_even_with_a_live_lease() {
    let app = spawn_app_without_workers().await;
    let command_id = app.start_import("alice").await;
    // A run that hangs somewhere its own timeout cannot reach, still renewing its lease.
    sqlx::query(
        "update commands set lease_owner = gen_random_uuid(), lease_until = now() + interval '1 hour',
                attempts = 1, attempt_started_at = now() - interval '1 hour'",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let reaped = reaper::reap_once(&finisher(&app), reaper_settings())
        .await
        .unwrap();
    assert_eq!(reaped, 1);
    let command: Value = app
        .get_command(&app.api_key, &command_id)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(error_code(&command).await, "Timeout", "{command}");
}

#[tokio::test]
async fn a_second_delivery_waits_for_the_live_run_and_never_clears_its_rows() {
    let app = spawn_app_without_workers().await;
    let command_id = app.start_import("alice").await;
    let id = Uuid::parse_str(&command_id).unwrap();
    // Run A is alive: it holds the lease and has written a row.
    let run_a = Uuid::new_v4();
    sqlx::query(
        "update commands set lease_owner = $1, lease_until = now() + interval '1 hour',
                attempts = 1, attempt_started_at = now()",
    )
    .bind(run_a)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::query(
        "insert into owners (id, client_id, command_id, position, name, kind)
         values (gen_random_uuid(), $1, $2, 0, 'Alice Example', 'OWNER')",
    )
    .bind(app.client_id)
    .bind(id)
    .execute(&app.pool)
    .await
    .unwrap();

    // Run B: the same job delivered again while A lives.
    let context = app.import_context();
    let run_b = tokio::spawn(async move { import::deliver(&context, id).await });

    // A ends its command; B, which has been waiting on A's lease, then has nothing to do.
    let mut conn = app.pool.acquire().await.unwrap();
    assert!(
        commands::finish(&mut conn, id, Fence::Lease(run_a), &Outcome::Successful)
            .await
            .unwrap()
    );
    tokio::time::timeout(Duration::from_secs(30), run_b)
        .await
        .expect("B returns once A has ended the command")
        .unwrap()
        .unwrap();

    assert_eq!(
        app.count("select count(*) from owners").await,
        1,
        "B never cleared A's rows"
    );
    assert_eq!(
        app.count("select attempts::bigint from commands").await,
        1,
        "B never took the lease, so it never counted as a run"
    );
}

#[tokio::test]
async fn a_run_whose_lease_was_taken_over_cannot_end_the_command() {
    let app = spawn_app_without_workers().await;
    let command_id = app.start_import("alice").await;
    let id = Uuid::parse_str(&command_id).unwrap();
    let lapsed = Uuid::new_v4();
    let current = Uuid::new_v4();
    sqlx::query("update commands set lease_owner = $1, lease_until = now() + interval '1 hour'")
        .bind(current)
        .execute(&app.pool)
        .await
        .unwrap();
    let mut conn = app.pool.acquire().await.unwrap();
    let outcome = Outcome::error(CommandErrorCode::Internal, "late");
    assert!(
        !commands::finish(&mut conn, id, Fence::Lease(lapsed), &outcome)
            .await
            .unwrap(),
        "a fenced finish under a lost lease changes nothing"
    );
    assert!(
        !commands::finish(&mut conn, id, Fence::Unleased, &outcome)
            .await
            .unwrap(),
        "nor does the reaper's while a live run holds the lease"
    );
    assert_eq!(
        app.count("select count(*) from commands where state = 'in_progress'")
            .await,
        1
    );
}

#[tokio::test]
async fn a_bank_session_left_unended_by_a_dead_worker_is_ended_by_the_reaper() {
    let app = spawn_app_without_workers().await;
    let command_id = app.start_import("alice").await;
    let id = Uuid::parse_str(&command_id).unwrap();
    let target = aisle::commands::finish::Target {
        command_id: id,
        client_id: app.client_id,
        session_id: sqlx::query_scalar("select session_id from commands")
            .fetch_one(&app.pool)
            .await
            .unwrap(),
        bank_id: "sandbox".into(),
    };
    // The worker ends the command, then dies before it can end the bank session.
    let mut tx = app.pool.begin().await.unwrap();
    let outcome = Outcome::error(CommandErrorCode::Internal, "died");
    let ended = aisle::commands::finish::finish_in(&mut tx, &target, Fence::Unleased, &outcome)
        .await
        .unwrap();
    assert!(ended.is_some());
    tx.commit().await.unwrap();
    drop(ended);
    assert_eq!(consent_statuses(&app).await, ["valid"]);

    // Past the finisher's grace, a reaper ends it.
    sqlx::query("update bank_session_endings set next_try_at = now()")
        .execute(&app.pool)
        .await
        .unwrap();
    let tried = finisher(&app).end_due_bank_sessions(10).await.unwrap();
    assert_eq!(tried, 1);
    assert_eq!(consent_statuses(&app).await, ["terminatedByTpp"]);
    assert_eq!(
        app.count("select count(*) from bank_session_endings").await,
        0
    );
    assert_eq!(app.secrets_left().await, 0);
}

async fn consent_statuses(app: &TestApp) -> Vec<String> {
    let consents: Vec<Value> = app
        .http
        .get(format!("{}/sandbox/consents", app.bank_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    consents
        .iter()
        .map(|c| c["status"].as_str().unwrap_or_default().to_owned())
        .collect()
}
