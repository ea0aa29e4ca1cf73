//! What the run left behind, read from the database and the bank, printed as a table and
//! judged against issue 10's contract.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

/// One import the harness started.
#[derive(Debug, Clone, Copy)]
pub struct Import {
    pub login: &'static str,
    pub command_id: Uuid,
}

/// An import's rows, each as `account|card`, the bank's account or card id, and the row's
/// identity (the bank's id, else its fingerprint): comparable across imports of one persona.
pub type Rows = BTreeSet<String>;

pub async fn rows_of(pool: &PgPool, command_id: Uuid) -> Rows {
    let rows: Vec<String> = sqlx::query_scalar(
        "select 'account ' || a.bank_account_id || ' ' || t.identity
           from transactions t join accounts a on a.id = t.account_id
          where t.command_id = $1
         union all
         select 'card ' || c.bank_card_id || ' ' || ct.identity
           from card_transactions ct join cards c on c.id = ct.card_id
          where ct.command_id = $1",
    )
    .bind(command_id)
    .fetch_all(pool)
    .await
    .expect("an import's rows");
    rows.into_iter().collect()
}

/// How a command ended, if it did.
#[derive(Debug, Clone)]
pub struct Ending {
    pub state: String,
    pub code: Option<String>,
    /// `finished_at - created_at`.
    pub took: Option<Duration>,
}

pub async fn endings(pool: &PgPool, imports: &[Import]) -> HashMap<Uuid, Ending> {
    let ids: Vec<Uuid> = imports.iter().map(|i| i.command_id).collect();
    let rows: Vec<(Uuid, String, Option<String>, Option<f64>)> = sqlx::query_as(
        "select id, state, error_code,
                extract(epoch from finished_at - created_at)::float8
           from commands where id = any($1)",
    )
    .bind(&ids)
    .fetch_all(pool)
    .await
    .expect("the commands");
    rows.into_iter()
        .map(|(id, state, code, seconds)| {
            let took = seconds.map(|s| Duration::from_secs_f64(s.max(0.0)));
            (id, Ending { state, code, took })
        })
        .collect()
}

pub async fn count(pool: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// The table and the broken promises.
#[derive(Debug, Default)]
pub struct Verdict {
    lines: Vec<(&'static str, String)>,
    failures: Vec<String>,
}

impl Verdict {
    pub fn line(&mut self, name: &'static str, value: impl ToString) {
        self.lines.push((name, value.to_string()));
    }

    /// A line for a count that must be zero, and a failure if it is not.
    pub fn zero<N: std::fmt::Display + Default + PartialEq>(
        &mut self,
        name: &'static str,
        count: N,
    ) {
        let holds = count == N::default();
        self.expect(holds, || format!("{name}: {count}"));
        self.line(name, count);
    }

    /// Records `what` as a failure unless `holds`.
    pub fn expect(&mut self, holds: bool, what: impl FnOnce() -> String) {
        if !holds {
            self.failures.push(what());
        }
    }

    pub fn table(&self, title: &str) -> String {
        let width = self.lines.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
        let mut out = format!("{title}\n");
        for (name, value) in &self.lines {
            let _ = writeln!(out, "  {name:<width$}  {value}");
        }
        out
    }

    pub fn failures(&self) -> &[String] {
        &self.failures
    }
}

/// `{code: count}` of the commands that ended `error`, e.g. `BankProtocolError 6`.
pub fn errors_by_code(endings: &HashMap<Uuid, Ending>) -> String {
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for ending in endings.values().filter(|e| e.state == "error") {
        *codes
            .entry(ending.code.as_deref().unwrap_or("(none)"))
            .or_default() += 1;
    }
    if codes.is_empty() {
        return "none".into();
    }
    codes
        .iter()
        .map(|(code, n)| format!("{code} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The `q` quantile (0..=1) of `durations` by the nearest-rank method, in seconds.
pub fn quantile(durations: &[Duration], q: f64) -> String {
    let mut sorted = durations.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return "-".into();
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    format!("{:.1} s", sorted[rank - 1].as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_take_the_nearest_rank() {
        let d: Vec<Duration> = (1..=100).map(Duration::from_secs).collect();
        assert_eq!(quantile(&d, 0.5), "50.0 s");
        assert_eq!(quantile(&d, 0.99), "99.0 s");
        assert_eq!(quantile(&[], 0.5), "-");
    }
}
