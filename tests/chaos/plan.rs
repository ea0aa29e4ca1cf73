//! How big a chaos run is: the short form for `cargo test` (and so CI), the full form for
//! `just chaos` (`AISLE_CHAOS=full`).

use std::time::Duration;

/// The well-behaved personas the run imports, in turn: the quick ones (one to three accounts,
/// two years, a few dozen bank calls each).
pub const WELL_BEHAVED: &[&str] = &["bob", "twins", "alice", "trio"];

/// The code every hostile persona's import must end with (issue 10).
pub const HOSTILE_CODE: &str = "BankProtocolError";

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub name: &'static str,
    /// Imports of well-behaved personas under chaos (the hostile ones come on top).
    pub imports: usize,
    /// Workers killed with SIGKILL, each restarted at once.
    pub kills: usize,
    /// The pace of the chaos: one event (a kill, the restart, the outage) per interval.
    pub kill_interval: Duration,
    /// How long PostgreSQL stays stopped.
    pub outage: Duration,
    /// Added to every answer of the bank, to keep imports mid-flight.
    pub bank_latency: Duration,
    /// The share of AIS data calls and consent terminations that fail.
    pub fault_rate: f64,
    /// How long every command has, after the last chaos event, to reach a final state.
    pub settle: Duration,
}

const SHORT: Plan = Plan {
    name: "short",
    imports: 24,
    kills: 3,
    kill_interval: Duration::from_secs(3),
    outage: Duration::from_secs(3),
    bank_latency: Duration::from_millis(20),
    fault_rate: 0.25,
    settle: Duration::from_secs(60),
};

const FULL: Plan = Plan {
    name: "full",
    imports: 200,
    kills: 20,
    kill_interval: Duration::from_secs(5),
    outage: Duration::from_secs(10),
    bank_latency: Duration::from_millis(100),
    fault_rate: 0.25,
    settle: Duration::from_secs(15 * 60),
};

impl Plan {
    /// `AISLE_CHAOS=full` picks the full form; anything else, or nothing, the short one.
    pub fn from_env() -> Self {
        match std::env::var("AISLE_CHAOS").as_deref() {
            Ok("full") => FULL,
            _ => SHORT,
        }
    }

    /// The kill before which PostgreSQL is restarted (a third of the way through the kills),
    /// and the one before which it is stopped for [`Self::outage`] (two thirds).
    pub fn restart_before_kill(&self) -> usize {
        self.kills / 3
    }

    pub fn outage_before_kill(&self) -> usize {
        self.kills * 2 / 3
    }

    /// Queue attempts a job may use: one per kill that might strike it, and some to spare.
    pub fn max_attempts(&self) -> usize {
        self.kills + 3
    }
}
