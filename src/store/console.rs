//! What the client console reads and changes beyond the API's own queries: owners across
//! imports, an owner's transactions filtered and paged, recent commands, usage figures, and
//! the client's settings. Every query takes the signed-in staff member's client id and
//! filters by it.

use chrono::{DateTime, NaiveDate, Utc};
use ipnet::IpNet;
use rust_decimal::Decimal;
use sqlx::{PgPool, types::Json};
use uuid::Uuid;

use crate::model::command::{CommandErrorCode, CommandState, Progress};

/// One owner in the list: every import of theirs that matched the search.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OwnerSummary {
    pub owner_external_id: String,
    /// The name the newest import with owners gave, if any did.
    pub name: Option<String>,
    pub imports: i64,
    pub banks: Vec<String>,
    pub last_import_at: DateTime<Utc>,
}

/// What the owner list is filtered by; every part is optional.
#[derive(Debug, Clone, Default)]
pub struct OwnerSearch {
    /// Matched against the owner's external id and name (case-insensitive, anywhere), and
    /// against the end of an account's IBAN.
    pub text: Option<String>,
    /// Imports made on or after this day (UTC)...
    pub from: Option<NaiveDate>,
    /// ...and on or before this one.
    pub to: Option<NaiveDate>,
}

/// The client's owners matching `search`, most recently imported first, at most `limit`.
pub async fn owners(
    pool: &PgPool,
    client_id: Uuid,
    search: &OwnerSearch,
    limit: i64,
) -> Result<Vec<OwnerSummary>, sqlx::Error> {
    let pattern = search.text.as_deref().map(like_pattern);
    let iban_suffix = search
        .text
        .as_deref()
        .map(|text| format!("%{}", like_escape(&text.replace(' ', "").to_uppercase())));
    sqlx::query_as(
        "with hits as (
             select s.owner_external_id, c.id, c.created_at, s.bank_id
             from commands c join sessions s on s.id = c.session_id and s.client_id = c.client_id
             where c.client_id = $1
               and ($3::date is null or c.created_at >= $3::date)
               and ($4::date is null or c.created_at < $4::date + 1)
               and ($2::text is null
                    or s.owner_external_id ilike $2
                    or exists (select 1 from owners o
                               where o.command_id = c.id and o.client_id = $1 and o.name ilike $2)
                    or exists (select 1 from accounts a
                               where a.command_id = c.id and a.client_id = $1
                                 and upper(replace(a.iban, ' ', '')) like $5)))
         select h.owner_external_id, count(*) as imports,
                array_agg(distinct h.bank_id order by h.bank_id) as banks,
                max(h.created_at) as last_import_at,
                (select o.name from owners o
                 join commands c on c.id = o.command_id and c.client_id = o.client_id
                 join sessions s on s.id = c.session_id and s.client_id = c.client_id
                 where o.client_id = $1 and s.owner_external_id = h.owner_external_id
                 order by c.created_at desc, o.position limit 1) as name
         from hits h
         group by h.owner_external_id
         order by last_import_at desc, h.owner_external_id
         limit $6",
    )
    .bind(client_id)
    .bind(pattern)
    .bind(search.from)
    .bind(search.to)
    .bind(iban_suffix)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// One command as the console lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CommandRow {
    pub id: Uuid,
    pub owner_external_id: String,
    pub bank_id: String,
    pub state: CommandState,
    pub progress: Json<Progress>,
    pub since: NaiveDate,
    pub error_code: Option<CommandErrorCode>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

macro_rules! command_rows {
    () => {
        "select c.id, s.owner_external_id, s.bank_id, c.state, c.progress, c.since,
                c.error_code, c.created_at, c.finished_at
         from commands c join sessions s on s.id = c.session_id and s.client_id = c.client_id
         where c.client_id = $1"
    };
}

/// The client's most recent commands, newest first.
pub async fn recent_commands(
    pool: &PgPool,
    client_id: Uuid,
    limit: i64,
) -> Result<Vec<CommandRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        command_rows!(),
        " order by c.created_at desc, c.id desc limit $2"
    ))
    .bind(client_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Every command of one owner, newest first.
pub async fn owner_commands(
    pool: &PgPool,
    client_id: Uuid,
    owner_external_id: &str,
) -> Result<Vec<CommandRow>, sqlx::Error> {
    sqlx::query_as(concat!(
        command_rows!(),
        " and s.owner_external_id = $2 order by c.created_at desc, c.id desc limit 500"
    ))
    .bind(client_id)
    .bind(owner_external_id)
    .fetch_all(pool)
    .await
}

/// What an owner's transactions are filtered by.
#[derive(Debug, Clone, Default)]
pub struct TransactionFilter {
    pub from: Option<NaiveDate>,
    pub to: Option<NaiveDate>,
    pub min_amount: Option<Decimal>,
    pub max_amount: Option<Decimal>,
    /// Anywhere in the description or the counterparty's name, case-insensitive.
    pub text: Option<String>,
    /// `booked` or `pending`.
    pub status: Option<&'static str>,
}

/// Where a page of an owner's transactions ended: the date and row id of its last row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionKey {
    pub date: NaiveDate,
    pub id: Uuid,
}

/// An owner's transaction, with the account it belongs to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OwnerTransaction {
    pub id: Uuid,
    pub account_id: Uuid,
    pub status: String,
    /// The booking date, else the value date; 9999-12-31 when neither is given.
    pub date: NaiveDate,
    pub booking_date: Option<NaiveDate>,
    pub value_date: Option<NaiveDate>,
    pub amount: Decimal,
    pub currency: String,
    pub counterparty_name: Option<String>,
    pub counterparty_account: Option<String>,
    pub description: Option<String>,
    pub bank_transaction_code: Option<String>,
    pub balance_after: Option<Decimal>,
}

/// Up to `limit` transactions of the accounts `account_ids` (rows of the client's) that pass
/// `filter`, newest first, after `after`.
pub async fn owner_transactions(
    pool: &PgPool,
    client_id: Uuid,
    account_ids: &[Uuid],
    filter: &TransactionFilter,
    after: Option<TransactionKey>,
    limit: i64,
) -> Result<Vec<OwnerTransaction>, sqlx::Error> {
    sqlx::query_as(
        "select id, account_id, status, date, booking_date, value_date, amount, currency,
                counterparty_name, counterparty_account, description, bank_transaction_code,
                balance_after
         from (select t.*, coalesce(t.booking_date, t.value_date, '9999-12-31'::date) as date
               from transactions t
               where t.client_id = $1 and t.account_id = any($2)) t
         where ($3::date is null or date >= $3)
           and ($4::date is null or date <= $4)
           and ($5::numeric is null or amount >= $5)
           and ($6::numeric is null or amount <= $6)
           and ($7::text is null or description ilike $7 or counterparty_name ilike $7)
           and ($8::text is null or status = $8)
           and ($9::date is null or (date, id) < ($9, $10))
         order by date desc, id desc
         limit $11",
    )
    .bind(client_id)
    .bind(account_ids)
    .bind(filter.from)
    .bind(filter.to)
    .bind(filter.min_amount)
    .bind(filter.max_amount)
    .bind(filter.text.as_deref().map(like_pattern))
    .bind(filter.status)
    .bind(after.map(|key| key.date))
    .bind(after.map(|key| key.id))
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// The net amount of an account's booked rows per day, newest day first.
pub async fn daily_net(
    pool: &PgPool,
    client_id: Uuid,
    account_id: Uuid,
) -> Result<Vec<(NaiveDate, Decimal)>, sqlx::Error> {
    sqlx::query_as(
        "select coalesce(booking_date, value_date) as day, sum(amount)
         from transactions
         where client_id = $1 and account_id = $2 and status = 'booked'
           and coalesce(booking_date, value_date) is not null
         group by day order by day desc",
    )
    .bind(client_id)
    .bind(account_id)
    .fetch_all(pool)
    .await
}

/// Commands a day, by how they ended.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DailyImports {
    pub day: NaiveDate,
    pub successful: i64,
    pub failed: i64,
    pub in_progress: i64,
}

/// The client's commands per day (UTC) over the last `days` days, oldest first; days without
/// any are left out.
pub async fn imports_per_day(
    pool: &PgPool,
    client_id: Uuid,
    days: i32,
) -> Result<Vec<DailyImports>, sqlx::Error> {
    sqlx::query_as(
        "select (created_at at time zone 'UTC')::date as day,
                count(*) filter (where state = 'successful') as successful,
                count(*) filter (where state = 'error') as failed,
                count(*) filter (where state = 'in_progress') as in_progress
         from commands
         where client_id = $1 and created_at >= (now() at time zone 'UTC')::date - $2
         group by day order by day",
    )
    .bind(client_id)
    .bind(days)
    .fetch_all(pool)
    .await
}

/// The client's commands per bank over the last `days` days, most first.
pub async fn imports_per_bank(
    pool: &PgPool,
    client_id: Uuid,
    days: i32,
) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select s.bank_id, count(*)
         from commands c join sessions s on s.id = c.session_id and s.client_id = c.client_id
         where c.client_id = $1 and c.created_at >= (now() at time zone 'UTC')::date - $2
         group by s.bank_id order by count(*) desc, s.bank_id",
    )
    .bind(client_id)
    .bind(days)
    .fetch_all(pool)
    .await
}

/// The client's failed commands per error code over the last `days` days, most first.
pub async fn errors_per_code(
    pool: &PgPool,
    client_id: Uuid,
    days: i32,
) -> Result<Vec<(CommandErrorCode, i64)>, sqlx::Error> {
    sqlx::query_as(
        "select error_code, count(*) from commands
         where client_id = $1 and state = 'error' and error_code is not null
           and created_at >= (now() at time zone 'UTC')::date - $2
         group by error_code order by count(*) desc, error_code",
    )
    .bind(client_id)
    .bind(days)
    .fetch_all(pool)
    .await
}

/// The client's settings the console shows beside its keys and webhooks.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Settings {
    pub name: String,
    pub allowed_ips: Vec<IpNet>,
    pub widget_origins: Vec<String>,
    pub redirect_uris: Vec<String>,
    pub auto_import_months: Option<i16>,
    pub retention_seconds: i32,
}

pub async fn settings(pool: &PgPool, client_id: Uuid) -> Result<Option<Settings>, sqlx::Error> {
    sqlx::query_as(
        "select name, allowed_ips, widget_origins, redirect_uris, auto_import_months,
                retention_seconds
         from clients where id = $1",
    )
    .bind(client_id)
    .fetch_optional(pool)
    .await
}

pub async fn set_allowed_ips(
    pool: &PgPool,
    client_id: Uuid,
    allowed_ips: &[IpNet],
) -> Result<(), sqlx::Error> {
    sqlx::query("update clients set allowed_ips = $2 where id = $1")
        .bind(client_id)
        .bind(allowed_ips)
        .execute(pool)
        .await?;
    Ok(())
}

/// How long finished commands' rows are kept (60 s ..= 366 days, as the column checks).
pub async fn set_retention(
    pool: &PgPool,
    client_id: Uuid,
    seconds: i32,
) -> Result<(), sqlx::Error> {
    sqlx::query("update clients set retention_seconds = $2 where id = $1")
        .bind(client_id)
        .bind(seconds)
        .execute(pool)
        .await?;
    Ok(())
}

/// One of the client's API keys with its name, as the console lists it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NamedApiKey {
    pub id: Uuid,
    pub name: Option<String>,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// The client's keys, newest first.
pub async fn api_keys(pool: &PgPool, client_id: Uuid) -> Result<Vec<NamedApiKey>, sqlx::Error> {
    sqlx::query_as(
        "select id, name, created_at, revoked_at from api_keys where client_id = $1
         order by created_at desc, id desc",
    )
    .bind(client_id)
    .fetch_all(pool)
    .await
}

/// Names (or renames) one of the client's keys. False when the client has no such key.
pub async fn name_api_key(
    pool: &PgPool,
    client_id: Uuid,
    key_id: Uuid,
    name: &str,
) -> Result<bool, sqlx::Error> {
    let named = sqlx::query("update api_keys set name = $3 where id = $1 and client_id = $2")
        .bind(key_id)
        .bind(client_id)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(named.rows_affected() == 1)
}

/// `%text%` for `ilike`, with the text's own wildcards taken literally.
fn like_pattern(text: &str) -> String {
    format!("%{}%", like_escape(text))
}

/// `text` with `like`'s wildcards and escape character escaped (the default escape, `\`).
fn like_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_takes_wildcards_literally() {
        assert_eq!(like_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
