//! Deleting a command's imported data: on the client's request (one command, or every command
//! of an owner) or when the client's retention ends. The command row stays and says when and
//! why its data went; every deletion yields a receipt signed with Ed25519 and, in the same
//! transaction, a `data.deleted` webhook event carrying it.
//!
//! - A command still in progress is refused (`CommandInProgress`), and so is an owner with
//!   one: its rows are about to be written, and deleting around them would leave data the
//!   client believes gone.
//! - Deleting again is harmless: the receipt lists the command with zero counts and the time
//!   its data went, and no event is written.
//! - The retention job runs in every worker process: each command is taken with
//!   `for update skip locked` in a transaction of its own, so N workers share the work and a
//!   request deleting the same command waits for the job's transaction, then finds it done.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::json;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::{
    deletion_signing::ReceiptSigner,
    model::{
        command::CommandState,
        deletion::{
            CommandDeletion, DeletedCounts, DeletionReason, DeletionReceipt, DeletionScope,
            SignedDeletionReceipt,
        },
        input::OwnerExternalId,
    },
    store::deletions::{self, LockedCommand},
    webhooks::{EventType, outbox},
};

#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    #[error("no such command")]
    UnknownCommand,
    #[error("no such owner")]
    UnknownOwner,
    #[error("an import is still in progress; delete its data once it has ended")]
    CommandInProgress,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Deletes the client's command's data now.
pub async fn delete_command_data(
    pool: &PgPool,
    signer: &ReceiptSigner,
    client_id: Uuid,
    command_id: Uuid,
) -> Result<SignedDeletionReceipt, DeletionError> {
    let mut tx = pool.begin().await?;
    let command = deletions::lock_command(&mut tx, client_id, command_id)
        .await?
        .ok_or(DeletionError::UnknownCommand)?;
    let scope = DeletionScope::Command { command_id };
    let signed = delete_locked(&mut tx, signer, client_id, scope, &[command]).await?;
    tx.commit().await?;
    Ok(signed)
}

/// Deletes the data of every command of the client's owner now. An owner with no command is
/// unknown: owners exist only through their commands.
pub async fn delete_owner_data(
    pool: &PgPool,
    signer: &ReceiptSigner,
    client_id: Uuid,
    owner: &OwnerExternalId,
) -> Result<SignedDeletionReceipt, DeletionError> {
    let mut tx = pool.begin().await?;
    let commands = deletions::lock_owner_commands(&mut tx, client_id, owner.as_str()).await?;
    if commands.is_empty() {
        return Err(DeletionError::UnknownOwner);
    }
    let scope = DeletionScope::Owner {
        owner_external_id: owner.as_str().to_string(),
    };
    let signed = delete_locked(&mut tx, signer, client_id, scope, &commands).await?;
    tx.commit().await?;
    Ok(signed)
}

/// Deletes the locked commands' data on request, signs the receipt and records its event.
async fn delete_locked(
    conn: &mut PgConnection,
    signer: &ReceiptSigner,
    client_id: Uuid,
    scope: DeletionScope,
    commands: &[LockedCommand],
) -> Result<SignedDeletionReceipt, DeletionError> {
    if commands
        .iter()
        .any(|command| command.state == CommandState::InProgress)
    {
        return Err(DeletionError::CommandInProgress);
    }
    let now = deletion_instant();
    let mut covered = Vec::with_capacity(commands.len());
    let mut any_deleted = false;
    for command in commands {
        covered.push(match command.data_deleted_at {
            Some(at) => covered_command(command, DeletedCounts::default(), at),
            None => {
                any_deleted = true;
                delete_one(conn, command, now, DeletionReason::Request).await?
            }
        });
    }
    let signed = signer.sign(receipt(
        client_id,
        DeletionReason::Request,
        scope,
        now,
        covered,
    ));
    if any_deleted {
        record_event(conn, &signed).await?;
    }
    tracing::info!(
        receipt_id = %signed.receipt.receipt_id,
        commands = signed.receipt.commands.len(),
        deleted = ?signed.receipt.deleted,
        "imported data deleted on request"
    );
    Ok(signed)
}

async fn delete_one(
    conn: &mut PgConnection,
    command: &LockedCommand,
    at: DateTime<Utc>,
    reason: DeletionReason,
) -> Result<CommandDeletion, sqlx::Error> {
    let deleted = deletions::delete_rows(conn, command.scope()).await?;
    deletions::mark_deleted(conn, command.scope(), at, reason).await?;
    Ok(covered_command(command, deleted, at))
}

fn covered_command(
    command: &LockedCommand,
    deleted: DeletedCounts,
    data_deleted_at: DateTime<Utc>,
) -> CommandDeletion {
    CommandDeletion {
        command_id: command.id,
        bank: command.bank_id.clone(),
        owner_external_id: command.owner_external_id.clone(),
        deleted,
        data_deleted_at,
    }
}

fn receipt(
    client_id: Uuid,
    reason: DeletionReason,
    scope: DeletionScope,
    deleted_at: DateTime<Utc>,
    commands: Vec<CommandDeletion>,
) -> DeletionReceipt {
    let mut deleted = DeletedCounts::default();
    for command in &commands {
        deleted += command.deleted;
    }
    DeletionReceipt {
        receipt_id: Uuid::now_v7(),
        client_id,
        reason,
        scope,
        deleted_at,
        deleted,
        commands,
    }
}

/// Now, to the microsecond PostgreSQL keeps, so the receipt and the command row say the same.
fn deletion_instant() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// `data.deleted`, with the signed receipt, for the client's subscribed endpoints.
async fn record_event(
    conn: &mut PgConnection,
    signed: &SignedDeletionReceipt,
) -> Result<(), sqlx::Error> {
    let receipt = &signed.receipt;
    let mut data = json!({
        "reason": receipt.reason,
        "scope": receipt.scope,
        "commandIds": receipt.commands.iter().map(|c| c.command_id).collect::<Vec<_>>(),
        "deletionReceipt": signed,
    });
    if let [command] = receipt.commands.as_slice() {
        data["links"] = json!({"command": format!("/v1/commands/{}", command.command_id)});
    }
    outbox::record(conn, receipt.client_id, EventType::DataDeleted, data).await
}

/// What one retention pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPass {
    /// Commands whose data was deleted.
    pub commands: usize,
    pub deleted: DeletedCounts,
}

/// Commands one pass deletes at most, so a backlog is worked off in slices and the other
/// periodic jobs of the process keep their turn.
const PASS_LIMIT: usize = 500;

/// Runs the retention job every `every` until the task is dropped.
pub async fn run_retention(pool: PgPool, signer: ReceiptSigner, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match retention_once(&pool, &signer, Utc::now()).await {
            Ok(pass) if pass.commands == 0 => {}
            Ok(pass) => tracing::info!(
                commands = pass.commands,
                deleted = ?pass.deleted,
                "deleted imported data past its retention"
            ),
            Err(e) => tracing::warn!(error = %e, "the retention job could not delete data"),
        }
    }
}

/// One pass: deletes the data of commands whose client's retention ended by `now` (a
/// parameter, so tests need not wait for it), one command per transaction, each with its own
/// signed receipt and `data.deleted` event.
pub async fn retention_once(
    pool: &PgPool,
    signer: &ReceiptSigner,
    now: DateTime<Utc>,
) -> Result<RetentionPass, sqlx::Error> {
    let mut pass = RetentionPass::default();
    while pass.commands < PASS_LIMIT {
        let mut tx = pool.begin().await?;
        let Some(command) = deletions::lock_next_expired(&mut tx, now).await? else {
            break;
        };
        let at = deletion_instant();
        let covered = delete_one(&mut tx, &command, at, DeletionReason::Retention).await?;
        pass.commands += 1;
        pass.deleted += covered.deleted;
        let scope = DeletionScope::Command {
            command_id: command.id,
        };
        let signed = signer.sign(receipt(
            command.client_id,
            DeletionReason::Retention,
            scope,
            at,
            vec![covered],
        ));
        record_event(&mut tx, &signed).await?;
        tx.commit().await?;
        tracing::info!(
            command_id = %command.id,
            receipt_id = %signed.receipt.receipt_id,
            "imported data deleted at the end of its retention"
        );
    }
    Ok(pass)
}
