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
    /// The account transactions report is hostile in one way (see [`Hostility`]).
    Hostile(Hostility),
}

/// A transactions report built to break an importer that trusts its bank. Each one is a
/// persona of its own, so an import shows what that one reply does to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hostility {
    /// Booked rows whose amounts and balances are `Decimal::MAX`, so the previous balance plus
    /// the next amount overflows.
    Overflow,
    /// Every page links to a new, distinct page, forever.
    EndlessPages,
    /// Page 1 links to page 2, which links back to page 1.
    LinkCycle,
    /// A valid report of about 64 MiB, streamed.
    HugeBody,
    /// Remittance information and counterparty names containing NUL (`\u0000`).
    NulBytes,
    /// A `302` to the same bank under another host name, where requests carrying
    /// `Consent-ID` are counted as leaks.
    RedirectAway,
}
