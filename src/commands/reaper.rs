//! The reaper: after any crash, every command reaches a final state.
//!
//! It ends an in-progress command when no live run holds its lease and its job will never
//! run again (gone, exhausted or killed), with `Internal`; and when its current run began
//! longer ago than the import timeout plus a margin, with `Timeout`, whatever the run is
//! doing. Every worker process runs one: each ending goes through [`Finisher::finish`] under a
//! fence, so when two reapers (or a reaper and a run) race for a command, one ends it and the
//! others change nothing.
//!
//! It also ends the bank sessions whose ending is still due: a worker that died between
//! erasing a secret and ending its bank session leaves that to the reaper.

use std::time::Duration;

use super::finish::{Finisher, Target};
use crate::{
    model::command::{CommandErrorCode, Outcome},
    store::{
        commands::{self, Fence, Unfinished},
        queue::{self, JobState},
    },
};

/// How the reaper judges a command.
#[derive(Debug, Clone, Copy)]
pub struct ReaperSettings {
    /// How often it looks.
    pub every: Duration,
    /// A run that began longer ago than this is overdue: the import timeout plus a margin.
    pub overdue_after: Duration,
    /// Commands younger than this are left alone: their job may not have been fetched yet.
    pub grace: Duration,
}

/// Commands looked at per pass.
const BATCH: i64 = 100;

/// Reaps until the task is dropped.
pub async fn run(finisher: Finisher, settings: ReaperSettings) {
    let mut tick = tokio::time::interval(settings.every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match reap_once(&finisher, settings).await {
            Ok(0) => {}
            Ok(reaped) => tracing::warn!(reaped, "ended commands that nothing else would end"),
            Err(e) => tracing::warn!(error = %e, "the reaper could not look at the commands"),
        }
        match finisher.end_due_bank_sessions(BATCH).await {
            Ok(0) => {}
            Ok(tried) => tracing::info!(tried, "ended bank sessions left to the reaper"),
            Err(e) => tracing::warn!(error = %e, "the reaper could not look at the bank sessions"),
        }
    }
}

/// One pass: returns how many commands it ended.
pub async fn reap_once(
    finisher: &Finisher,
    settings: ReaperSettings,
) -> Result<usize, sqlx::Error> {
    let candidates = commands::unfinished(
        &finisher.pool,
        settings.grace,
        settings.overdue_after,
        BATCH,
    )
    .await?;
    let mut reaped = 0;
    for candidate in candidates {
        let Some((fence, outcome)) = verdict(finisher, &candidate, settings).await? else {
            continue;
        };
        let target = Target {
            command_id: candidate.id,
            client_id: candidate.client_id,
            session_id: candidate.session_id,
            bank_id: candidate.bank_id,
        };
        if finisher.finish(&target, fence, &outcome).await? {
            reaped += 1;
        }
    }
    Ok(reaped)
}

/// How to end `candidate`, if it is to be ended now.
async fn verdict(
    finisher: &Finisher,
    candidate: &Unfinished,
    settings: ReaperSettings,
) -> Result<Option<(Fence, Outcome)>, sqlx::Error> {
    if candidate.overdue {
        return Ok(Some((
            Fence::Overdue(settings.overdue_after),
            Outcome::error(
                CommandErrorCode::Timeout,
                "the import took longer than allowed",
            ),
        )));
    }
    if !candidate.unleased {
        return Ok(None);
    }
    let detail = match queue::job_state(&finisher.pool, candidate.id).await? {
        JobState::Live => return Ok(None),
        JobState::Over => "the import's job ended without ending the command",
        JobState::Missing => "the import's job is gone",
    };
    Ok(Some((
        Fence::Unleased,
        Outcome::error(CommandErrorCode::Internal, detail),
    )))
}
