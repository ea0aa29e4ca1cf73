use std::time::Duration;

use serde::Deserialize;

/// What one bank can do: the knobs on which real banks differ. A connector supplies defaults,
/// the bank registry overrides them per bank.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BankProfile {
    /// How many days back the bank keeps transactions.
    pub history_days: u32,
    /// How many days of history the bank serves without fresh SCA (90 under the EU RTS).
    pub free_history_days: u32,
    /// How long after SCA the bank serves history older than `free_history_days`.
    pub sca_history_window: Duration,
    /// The longest date range the bank accepts in one transactions request.
    pub max_days_per_request: u32,
    /// How many rows the bank returns per page.
    pub page_size: u32,
    pub supports: Supports,
    /// How many requests may run at the same time for one import.
    pub max_concurrency: u32,
    /// The bank's daily request budget per consent, when it has one.
    pub requests_per_day: Option<u32>,
    /// The most requests per second the bank tolerates from one TPP, when it says.
    pub requests_per_second: Option<u32>,
    /// The largest answer body read from the bank; a larger one is a protocol error.
    pub max_body_bytes: usize,
    /// The most pages one date window may have; more is a protocol error (a bank paging
    /// forever).
    pub max_pages_per_window: u32,
    /// The most transaction rows (account and card) one import may read; more is a protocol
    /// error rather than a silently truncated history.
    pub max_rows_per_import: u32,
}

/// The optional parts of the scope that a bank may or may not offer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Supports {
    pub owners: bool,
    /// Balances next to each account.
    pub balances: bool,
    /// Account transactions (some account-information APIs give only owners and accounts).
    pub transactions: bool,
    pub cards: bool,
    pub pending: bool,
    pub balances_with_transactions: bool,
}

impl Default for BankProfile {
    fn default() -> Self {
        Self {
            history_days: 730,
            free_history_days: 90,
            sca_history_window: Duration::from_secs(15 * 60),
            max_days_per_request: 90,
            page_size: 100,
            supports: Supports {
                owners: true,
                balances: true,
                transactions: true,
                cards: true,
                pending: true,
                balances_with_transactions: false,
            },
            max_concurrency: 4,
            requests_per_day: None,
            requests_per_second: None,
            max_body_bytes: 32 * 1024 * 1024,
            max_pages_per_window: 1_000,
            max_rows_per_import: 2_000_000,
        }
    }
}

/// Per-bank overrides as written in `connectors/banks.toml`; every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BankProfileOverrides {
    pub history_days: Option<u32>,
    pub free_history_days: Option<u32>,
    pub sca_history_window_secs: Option<u64>,
    pub max_days_per_request: Option<u32>,
    pub page_size: Option<u32>,
    pub max_concurrency: Option<u32>,
    pub requests_per_day: Option<u32>,
    pub requests_per_second: Option<u32>,
    pub max_body_bytes: Option<usize>,
    pub max_pages_per_window: Option<u32>,
    pub max_rows_per_import: Option<u32>,
    pub supports_owners: Option<bool>,
    pub supports_balances: Option<bool>,
    pub supports_transactions: Option<bool>,
    pub supports_cards: Option<bool>,
    pub supports_pending: Option<bool>,
}

impl BankProfile {
    /// This profile with the registry's overrides applied.
    pub fn with_overrides(mut self, o: &BankProfileOverrides) -> Self {
        let set = |slot: &mut u32, value: Option<u32>| {
            if let Some(v) = value {
                *slot = v;
            }
        };
        set(&mut self.history_days, o.history_days);
        set(&mut self.free_history_days, o.free_history_days);
        set(&mut self.max_days_per_request, o.max_days_per_request);
        set(&mut self.page_size, o.page_size);
        set(&mut self.max_concurrency, o.max_concurrency);
        set(&mut self.max_pages_per_window, o.max_pages_per_window);
        set(&mut self.max_rows_per_import, o.max_rows_per_import);
        if let Some(bytes) = o.max_body_bytes {
            self.max_body_bytes = bytes;
        }
        if let Some(secs) = o.sca_history_window_secs {
            self.sca_history_window = Duration::from_secs(secs);
        }
        if o.requests_per_day.is_some() {
            self.requests_per_day = o.requests_per_day;
        }
        if o.requests_per_second.is_some() {
            self.requests_per_second = o.requests_per_second;
        }
        self.supports.owners = o.supports_owners.unwrap_or(self.supports.owners);
        self.supports.balances = o.supports_balances.unwrap_or(self.supports.balances);
        self.supports.transactions = o
            .supports_transactions
            .unwrap_or(self.supports.transactions);
        self.supports.cards = o.supports_cards.unwrap_or(self.supports.cards);
        self.supports.pending = o.supports_pending.unwrap_or(self.supports.pending);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_replace_only_the_fields_they_name() {
        let overrides = BankProfileOverrides {
            history_days: Some(365),
            sca_history_window_secs: Some(180),
            supports_cards: Some(false),
            ..Default::default()
        };
        let profile = BankProfile::default().with_overrides(&overrides);
        assert_eq!(profile.history_days, 365);
        assert_eq!(profile.sca_history_window, Duration::from_secs(180));
        assert!(!profile.supports.cards);
        assert_eq!(
            profile.max_days_per_request,
            BankProfile::default().max_days_per_request
        );
        assert!(profile.supports.owners);
    }
}
