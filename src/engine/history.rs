//! Fetching every account's and card's history along the plan.
//!
//! All windows of all accounts and cards form one queue, recent windows first (for every
//! account), then older ones newest first; up to the bank's `max_concurrency` run at once, each
//! following its pages to the end. Older windows start only while the SCA window is open. A
//! window the bank refuses (`PeriodInvalid`) is halved towards its recent edge and retried; the
//! smaller span is remembered for the windows that follow. A refusal of a single day ends that
//! account's history there: beyond the free days it means the bank's SCA window has closed.
//!
//! A bank cannot make the fetch run forever or without bound: a window's `next` links that
//! loop, a window with more pages than the bank's profile allows, and an import with more rows
//! than it allows each halt the fetch with a protocol error.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use aisle_sdk::{
    Account, BankSession, Card, CardTransaction, Connector, ConnectorError, DateWindow, PageCursor,
    Transaction, TransactionStatus,
};
use chrono::{DateTime, Days, NaiveDate, Utc};
use futures_util::{Stream, StreamExt};

use super::identity::{self, Fingerprint};
use super::pace::{Endpoint, Pace};
use super::planner::{Plan, tile};
use super::retry::RetryPolicy;
use crate::model::receipt::ShortfallReason;

/// Whose history a window belongs to: an account or a card, by its place in the list the bank
/// gave. Carried with every window and row, so histories never pair with the wrong listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Holder {
    Account(usize),
    Card(usize),
}

/// An account or a card whose history is fetched.
#[derive(Debug, Clone, Copy)]
pub enum Listing<'a> {
    Account(usize, &'a Account),
    Card(usize, &'a Card),
}

impl Listing<'_> {
    pub fn holder(&self) -> Holder {
        match self {
            Self::Account(at, _) => Holder::Account(*at),
            Self::Card(at, _) => Holder::Card(*at),
        }
    }
}

/// A fetched row of either kind.
#[derive(Debug, Clone)]
pub enum Row {
    Account(Transaction),
    Card(CardTransaction),
}

impl Fingerprint for Row {
    fn bank_id(&self) -> Option<&str> {
        match self {
            Self::Account(t) => t.bank_id(),
            Self::Card(t) => t.bank_id(),
        }
    }

    fn status(&self) -> TransactionStatus {
        match self {
            Self::Account(t) => t.status,
            Self::Card(t) => t.status,
        }
    }

    fn content(&self) -> String {
        match self {
            Self::Account(t) => t.content(),
            Self::Card(t) => t.content(),
        }
    }
}

/// What stopped a window short: the newest day not obtained, and why. `reason` is `None`
/// when the import itself halted on a bank error (the command then ends in that error).
#[derive(Debug, Clone)]
pub struct Missing {
    pub newest_day: NaiveDate,
    pub reason: Option<ShortfallReason>,
    pub detail: String,
}

/// One planned window's run.
#[derive(Debug)]
pub struct WindowRun {
    pub holder: Holder,
    pub planned: DateWindow,
    /// Rows with their identities, numbered within this window (see [`identity`]).
    pub rows: Vec<(String, Row)>,
    pub requests: u32,
    pub pages: u32,
    /// The bank refused a range and the window was split.
    pub shrunk: bool,
    pub missing: Option<Missing>,
}

#[derive(Debug, Clone, Copy)]
struct Task<'a> {
    listing: Listing<'a>,
    window: DateWindow,
    deep: bool,
}

/// One import's history fetch.
pub struct HistoryFetch<'a> {
    connector: &'a dyn Connector,
    session: &'a BankSession,
    retry: &'a RetryPolicy,
    pace: &'a Pace,
    /// When the bank stops serving history older than the free days.
    sca_window_closes: DateTime<Utc>,
    /// Planned windows finished so far, for progress.
    windows_done: &'a AtomicU32,
    learnt_span: AtomicU32,
    deep_closed: AtomicBool,
    /// Rows read so far, against the profile's `max_rows_per_import`.
    rows_read: AtomicU32,
    cutoffs: Mutex<HashMap<Holder, Missing>>,
    halt: Mutex<Option<ConnectorError>>,
}

impl<'a> HistoryFetch<'a> {
    pub fn new(
        connector: &'a dyn Connector,
        session: &'a BankSession,
        retry: &'a RetryPolicy,
        pace: &'a Pace,
        windows_done: &'a AtomicU32,
    ) -> Self {
        let profile = connector.profile();
        let window = chrono::Duration::from_std(profile.sca_history_window)
            .unwrap_or(chrono::Duration::zero());
        let sca_window_closes = session
            .sca_at
            .checked_add_signed(window)
            .unwrap_or(session.sca_at);
        Self {
            connector,
            session,
            retry,
            pace,
            sca_window_closes,
            windows_done,
            learnt_span: AtomicU32::new(profile.max_days_per_request.max(1)),
            deep_closed: AtomicBool::new(false),
            rows_read: AtomicU32::new(0),
            cutoffs: Mutex::new(HashMap::new()),
            halt: Mutex::new(None),
        }
    }

    /// Runs every window of the plan for every listing, yielding each window's run as it ends
    /// (in no particular order), so its rows can be stored while later windows are fetched.
    /// Once the stream has ended, [`HistoryFetch::halt`] says whether a bank error halted it.
    pub fn runs(
        &self,
        listings: &[Listing<'a>],
        plan: &Plan,
    ) -> impl Stream<Item = WindowRun> + Send + '_ {
        let mut tasks = Vec::with_capacity(listings.len() * plan.windows_per_listing());
        for (windows, deep) in [(&plan.recent, false), (&plan.deep, true)] {
            for window in windows {
                for listing in listings {
                    tasks.push(Task {
                        listing: *listing,
                        window: *window,
                        deep,
                    });
                }
            }
        }
        let concurrency = usize::try_from(self.connector.profile().max_concurrency)
            .unwrap_or(1)
            .max(1);
        // Built up front (futures do nothing until polled): a closure in `map` here trips the
        // compiler's Send inference for the worker's future.
        let runs: Vec<_> = tasks
            .into_iter()
            .map(|task| self.run_window(task))
            .collect();
        futures_util::stream::iter(runs).buffer_unordered(concurrency)
    }

    /// The bank error that halted the fetch, if one did.
    pub fn halt(&self) -> Option<ConnectorError> {
        lock(&self.halt).clone()
    }

    async fn run_window(&self, task: Task<'_>) -> WindowRun {
        let mut run = WindowRun {
            holder: task.listing.holder(),
            planned: task.window,
            rows: Vec::new(),
            requests: 0,
            pages: 0,
            shrunk: false,
            missing: self.reason_to_skip(&task),
        };
        if run.missing.is_none() {
            let rows = self.fetch_window(&task, &mut run).await;
            run.rows = identity::identify(rows);
        }
        if let Some(missing) = &run.missing {
            self.cut(task.listing.holder(), missing);
        }
        self.windows_done.fetch_add(1, Ordering::Relaxed);
        run
    }

    fn reason_to_skip(&self, task: &Task<'_>) -> Option<Missing> {
        let missing = |reason, detail: &str| {
            Some(Missing {
                newest_day: task.window.to,
                reason,
                detail: detail.into(),
            })
        };
        if lock(&self.halt).is_some() {
            return missing(None, "the import halted");
        }
        if let Some(cut) = lock(&self.cutoffs).get(&task.listing.holder())
            && task.window.to <= cut.newest_day
        {
            return missing(cut.reason, &cut.detail);
        }
        if task.deep
            && (self.deep_closed.load(Ordering::Relaxed) || Utc::now() >= self.sca_window_closes)
        {
            return missing(
                Some(ShortfallReason::ScaWindowClosed),
                "history older than the free days needs fresh SCA, and the bank's window after SCA had closed",
            );
        }
        None
    }

    /// Fetches `task.window`, splitting it where the bank refuses a range. Returns the rows
    /// obtained; `run` records the requests, pages and anything missing.
    async fn fetch_window(&self, task: &Task<'_>, run: &mut WindowRun) -> Vec<Row> {
        let span = self.learnt_span.load(Ordering::Relaxed);
        let mut queue: VecDeque<(DateWindow, bool)> = tile(task.window.from, task.window.to, span)
            .into_iter()
            .map(|w| (w, false))
            .collect();
        let mut rows = Vec::new();
        while let Some((window, from_split)) = queue.pop_front() {
            let stop = |reason, detail: &str| Missing {
                newest_day: window.to,
                reason,
                detail: detail.into(),
            };
            if lock(&self.halt).is_some() {
                run.missing = Some(stop(None, "the import halted"));
                break;
            }
            if !self.pace.budget_left() {
                run.missing = Some(stop(
                    Some(ShortfallReason::RateLimited),
                    "the bank's daily request budget for this consent is used up",
                ));
                break;
            }
            run.requests += 1;
            match self.all_pages(task.listing, window, &mut run.pages).await {
                Ok(page_rows) => {
                    rows.extend(page_rows);
                    if from_split {
                        let days = u32::try_from(window.days()).unwrap_or(1);
                        self.learnt_span.fetch_min(days, Ordering::Relaxed);
                    }
                }
                Err(ConnectorError::PeriodInvalid) if window.days() > 1 => {
                    run.shrunk = true;
                    let (newer, older) = halve(window);
                    queue.push_front((older, true));
                    queue.push_front((newer, true));
                }
                Err(ConnectorError::PeriodInvalid) if task.deep => {
                    // The bank refuses even one older day: its SCA window is over, whatever
                    // the profile said. No other account will fare better.
                    self.deep_closed.store(true, Ordering::Relaxed);
                    run.missing = Some(stop(
                        Some(ShortfallReason::ScaWindowClosed),
                        "the bank refused history older than the free days: its window after SCA had closed",
                    ));
                    break;
                }
                Err(ConnectorError::PeriodInvalid) => {
                    run.missing = Some(stop(
                        Some(ShortfallReason::BankHistoryLimit),
                        "the bank refused these days even one at a time",
                    ));
                    break;
                }
                // A listing the bank serves only in a form Aisle does not read (a report as a
                // download), or a consent that does not cover it: a shortfall, not a failure.
                Err(ConnectorError::Unsupported(what)) => {
                    run.missing = Some(stop(
                        Some(ShortfallReason::NotSupportedByBank),
                        &format!("the bank does not support {what}"),
                    ));
                    break;
                }
                Err(error) => {
                    let reason = matches!(error, ConnectorError::RateLimited { .. })
                        .then_some(ShortfallReason::RateLimited);
                    run.missing = Some(stop(reason, &error.to_string()));
                    lock(&self.halt).get_or_insert(error);
                    break;
                }
            }
        }
        rows
    }

    /// Follows one window's pages to the end, retrying each page on its own. `pages` counts
    /// the pages of the whole planned window, against the profile's cap.
    async fn all_pages(
        &self,
        listing: Listing<'_>,
        window: DateWindow,
        pages: &mut u32,
    ) -> Result<Vec<Row>, ConnectorError> {
        let profile = self.connector.profile();
        let mut rows = Vec::new();
        let mut cursor: Option<PageCursor> = None;
        let mut seen = HashSet::new();
        loop {
            let endpoint = match listing {
                Listing::Account(..) => Endpoint::Transactions,
                Listing::Card(..) => Endpoint::CardTransactions,
            };
            let (items, next) = self
                .pace
                .call(self.retry, endpoint, || {
                    self.page(listing, window, cursor.as_ref())
                })
                .await?;
            *pages += 1;
            let read = u32::try_from(items.len()).unwrap_or(u32::MAX);
            let total = self
                .rows_read
                .fetch_add(read, Ordering::Relaxed)
                .saturating_add(read);
            if total > profile.max_rows_per_import {
                return Err(ConnectorError::protocol(
                    format!(
                        "the bank sent more than {} rows for one import",
                        profile.max_rows_per_import
                    ),
                    "",
                ));
            }
            rows.extend(items);
            let Some(next) = next else {
                return Ok(rows);
            };
            if *pages >= profile.max_pages_per_window {
                return Err(ConnectorError::protocol(
                    format!(
                        "the bank's pages for one date window go on past {}",
                        profile.max_pages_per_window
                    ),
                    "",
                ));
            }
            if let Some(current) = cursor.take() {
                seen.insert(current);
            }
            if seen.contains(&next) {
                return Err(ConnectorError::protocol(
                    "the bank's next page links go round in a loop",
                    "",
                ));
            }
            cursor = Some(next);
        }
    }

    async fn page(
        &self,
        listing: Listing<'_>,
        window: DateWindow,
        cursor: Option<&PageCursor>,
    ) -> Result<(Vec<Row>, Option<PageCursor>), ConnectorError> {
        let (connector, session) = (self.connector, self.session);
        Ok(match listing {
            Listing::Account(_, account) => {
                let page = connector
                    .transactions(session, account, window, cursor)
                    .await?;
                (
                    page.items.into_iter().map(Row::Account).collect(),
                    page.next,
                )
            }
            Listing::Card(_, card) => {
                let page = connector
                    .card_transactions(session, card, window, cursor)
                    .await?;
                (page.items.into_iter().map(Row::Card).collect(), page.next)
            }
        })
    }

    /// Remembers that `holder` has nothing older than `missing.newest_day`.
    fn cut(&self, holder: Holder, missing: &Missing) {
        let mut cutoffs = lock(&self.cutoffs);
        let newer = cutoffs
            .get(&holder)
            .is_none_or(|cut| cut.newest_day < missing.newest_day);
        if newer {
            cutoffs.insert(holder, missing.clone());
        }
    }
}

/// Splits a window of two days or more into its newer and older halves (the newer half gets
/// the odd day).
fn halve(window: DateWindow) -> (DateWindow, DateWindow) {
    let older_days = u64::try_from(window.days() / 2).unwrap_or(0);
    let older_to = window.from + Days::new(older_days.saturating_sub(1));
    let newer = DateWindow {
        from: older_to + Days::new(1),
        to: window.to,
    };
    let older = DateWindow {
        from: window.from,
        to: older_to,
    };
    (newer, older)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data half-updated.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("test date")
    }

    #[test]
    fn halving_keeps_every_day_and_gives_the_newer_half_the_odd_day() {
        let window = DateWindow {
            from: day("2026-01-01"),
            to: day("2026-01-05"),
        };
        let (newer, older) = halve(window);
        assert_eq!(
            newer,
            DateWindow {
                from: day("2026-01-03"),
                to: day("2026-01-05")
            }
        );
        assert_eq!(
            older,
            DateWindow {
                from: day("2026-01-01"),
                to: day("2026-01-02")
            }
        );
        let (newer, older) = halve(DateWindow {
            from: day("2026-01-01"),
            to: day("2026-01-02"),
        });
        assert_eq!((newer.days(), older.days()), (1, 1));
    }
}
