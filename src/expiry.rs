//! Nothing outlives its use: what a sign-in or a session leaves behind once it can no longer be
//! used is erased, and the rows themselves go after a while.
//!
//! - A session that expired unclaimed (no Default Import came for it) has its bank secret
//!   erased and its bank session ended at the bank (consent deleted, token revoked), as if an
//!   import had ended: single access leaves no standing access behind, even unused.
//! - A sign-in that expired unfinished has its connector's pending state (PKCE verifier,
//!   consent id) erased, even one a dead process left flagged as being answered.
//! - Both rows are deleted [`INERT_ROWS_KEPT`] after they expired, when nothing refers to them:
//!   until then a late owner still sees "expired", not "unknown", and support can follow a
//!   complaint. Sessions a command claimed stay with their command.
//!
//! Every worker process sweeps, each pass touching rows no other pass holds.

use std::time::Duration;

use crate::{
    commands::finish::Finisher,
    store::{sessions, signins},
};

/// How long an expired sign-in or unclaimed session stays before it is deleted.
pub const INERT_ROWS_KEPT: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// An expired session is left alone this long, so a Default Import that found it still valid
/// an instant before it expired has long finished deciding before its secret is taken.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5 * 60);

/// Rows handled per statement, so one pass never holds many rows or runs long.
const BATCH: i64 = 100;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Swept {
    /// Unclaimed sessions whose secret was erased and bank session ended.
    pub sessions_ended: usize,
    /// Sign-ins whose pending secrets were erased.
    pub signins_erased: u64,
    /// Sign-ins and sessions deleted.
    pub rows_purged: u64,
}

/// Sweeps every `every` until the task is dropped.
pub async fn run(finisher: Finisher, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match sweep_once(&finisher, EXPIRY_MARGIN).await {
            Ok(swept) if swept == Swept::default() => {}
            Ok(swept) => tracing::info!(?swept, "erased what expired sign-ins and sessions left"),
            Err(e) => tracing::warn!(error = %e, "could not sweep expired sign-ins and sessions"),
        }
    }
}

/// One sweep. Sessions count as expired once `margin` has passed since their expiry, and so do
/// sign-ins still flagged as being answered.
pub async fn sweep_once(finisher: &Finisher, margin: Duration) -> Result<Swept, sqlx::Error> {
    let mut swept = Swept::default();
    loop {
        let expired = sessions::erase_expired_secrets(&finisher.pool, margin, BATCH).await?;
        let last = (expired.len() as i64) < BATCH;
        swept.sessions_ended += expired.len();
        // The secret is already gone from Aisle: if the bank never agrees to end its side,
        // the consent lapses there on its own.
        for erased in expired {
            finisher.end_erased(erased).await;
        }
        if last {
            break;
        }
    }
    swept.signins_erased = signins::erase_expired_pending(&finisher.pool, margin).await?;
    // Sign-ins first: they refer to the sessions they issued.
    loop {
        let purged = signins::purge_inert(&finisher.pool, INERT_ROWS_KEPT, BATCH).await?
            + sessions::purge_inert(&finisher.pool, INERT_ROWS_KEPT, BATCH).await?;
        swept.rows_purged += purged;
        if purged == 0 {
            break;
        }
    }
    Ok(swept)
}
