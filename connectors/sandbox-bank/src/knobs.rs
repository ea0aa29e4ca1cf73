//! The dials on which the sandbox's personas differ, the way real banks differ from each
//! other: how much history they keep, how long deep history stays open after SCA, how they
//! slice and page reports, how fast they answer and how they fail.

use std::time::Duration;

/// How long after SCA the bank serves history older than the free 90 days, unless a persona
/// says otherwise (N26's 15 minutes).
pub const DEFAULT_SCA_HISTORY_WINDOW: Duration = Duration::from_secs(15 * 60);

/// Rows per transactions page, booked and pending together, unless a persona says otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// One persona's bank behaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Knobs {
    /// How many days back this persona's accounts go; older dates yield no rows.
    pub history_days: u32,
    /// How long after the consent's SCA history older than the free window may be read.
    pub sca_history_window: Duration,
    /// The longest `dateFrom..=dateTo` one transactions request may span, if the bank caps it.
    pub max_days_per_request: Option<u32>,
    /// Rows per transactions page.
    pub page_size: usize,
    /// Added to every answer about this persona.
    pub extra_latency: Duration,
    pub fault: Fault,
}

impl Knobs {
    /// A well-behaved bank with `history_days` of history.
    pub const fn with_history(history_days: u32) -> Self {
        Self {
            history_days,
            sca_history_window: DEFAULT_SCA_HISTORY_WINDOW,
            max_days_per_request: None,
            page_size: DEFAULT_PAGE_SIZE,
            extra_latency: Duration::ZERO,
            fault: Fault::None,
        }
    }
}

/// How a persona's bank misbehaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    None,
    /// Every fourth AIS data call of a consent fails, alternating 503 and 429 with
    /// `Retry-After: 1`; the call after it succeeds.
    Flaky,
    /// The consent expires after this many successful AIS data calls.
    ExpiresAfter(u32),
    /// The account transactions report is a 200 with a truncated JSON body.
    GarbageTransactions,
    /// The bank refuses to sign this PSU in at all (`SERVICE_BLOCKED`).
    Locked,
}
