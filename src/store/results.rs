//! The rows an import stores, and the result assembled from them.
//!
//! An import writes its rows while it fetches them: accounts and cards first, then each
//! window's transactions, then the receipts in the transaction that ends the command. Readers
//! present rows only with a command that presents a result (`successful`, or ended by a long
//! rate limit), so rows written earlier are never seen as a result of their own.
//!
//! Writes are idempotent: a retried import first [`clear`]s what an earlier attempt left, and
//! transactions are unique per account by identity, so nothing is ever stored twice.

use std::collections::HashMap;

use aisle_sdk::{Account, Balance, Card, CardTransaction, Owner, OwnerKind, Transaction};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool, Postgres, QueryBuilder, types::Json};
use uuid::Uuid;

use crate::model::receipt::Receipt;
use crate::model::result::{
    AccountView, BalanceView, CardTransactionView, CardView, ImportResult, OwnerView,
    TransactionView,
};

/// Rows per insert statement: bounds the memory of one statement's arrays.
const CHUNK: usize = 5_000;

/// The client and command every row belongs to.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub client_id: Uuid,
    pub command_id: Uuid,
}

/// Removes whatever an earlier attempt of this command stored.
pub async fn clear(conn: &mut PgConnection, scope: Scope) -> Result<(), sqlx::Error> {
    // Balances and transactions go with their accounts and cards (on delete cascade).
    for delete in [
        "delete from owners where command_id = $1 and client_id = $2",
        "delete from accounts where command_id = $1 and client_id = $2",
        "delete from cards where command_id = $1 and client_id = $2",
    ] {
        sqlx::query(delete)
            .bind(scope.command_id)
            .bind(scope.client_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

pub async fn insert_owners(
    conn: &mut PgConnection,
    scope: Scope,
    owners: &[Owner],
) -> Result<(), sqlx::Error> {
    if owners.is_empty() {
        return Ok(());
    }
    let mut query = QueryBuilder::<Postgres>::new(
        "insert into owners (id, client_id, command_id, position, name, kind, address, birth_date, email, phone, national_id, title, nationality) ",
    );
    query.push_values(owners.iter().enumerate(), |mut row, (position, owner)| {
        row.push_bind(Uuid::now_v7())
            .push_bind(scope.client_id)
            .push_bind(scope.command_id)
            .push_bind(position as i32)
            .push_bind(&owner.name)
            .push_bind(owner_kind(owner.kind))
            .push_bind(&owner.address)
            .push_bind(owner.birth_date)
            .push_bind(&owner.email)
            .push_bind(&owner.phone)
            .push_bind(&owner.national_id)
            .push_bind(&owner.title)
            .push_bind(&owner.nationality);
    });
    query.build().execute(conn).await?;
    Ok(())
}

fn owner_kind(kind: OwnerKind) -> &'static str {
    match kind {
        OwnerKind::Owner => "OWNER",
        OwnerKind::CoOwner => "CO_OWNER",
        OwnerKind::Attorney => "ATTORNEY",
        OwnerKind::Other => "OTHER",
    }
}

/// Stores an account with its balances; returns the account's row id. Its receipt follows
/// once its history is read ([`set_receipt`]).
pub async fn insert_account(
    conn: &mut PgConnection,
    scope: Scope,
    position: usize,
    account: &Account,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into accounts (id, client_id, command_id, position, bank_account_id, iban, bban,
                               masked_pan, currency, name, product, account_type, status, owner_names,
                               opened_on, valid_until, min_allowed_balance, max_allowed_balance)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(id)
    .bind(scope.client_id)
    .bind(scope.command_id)
    .bind(position as i32)
    .bind(&account.bank_id)
    .bind(&account.iban)
    .bind(&account.bban)
    .bind(&account.masked_pan)
    .bind(&account.currency)
    .bind(&account.name)
    .bind(&account.product)
    .bind(&account.account_type)
    .bind(&account.status)
    .bind(&account.owner_names)
    .bind(account.opened_on)
    .bind(account.valid_until)
    .bind(account.min_allowed_balance)
    .bind(account.max_allowed_balance)
    .execute(&mut *conn)
    .await?;
    insert_balances(conn, scope, Holding::Account(id), &account.balances).await?;
    Ok(id)
}

/// Stores a card with its balances; returns the card's row id. Its receipt follows once its
/// history is read ([`set_receipt`]).
pub async fn insert_card(
    conn: &mut PgConnection,
    scope: Scope,
    position: usize,
    card: &Card,
) -> Result<Uuid, sqlx::Error> {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into cards (id, client_id, command_id, position, bank_card_id, masked_pan, name,
                            currency, credit_limit)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(scope.client_id)
    .bind(scope.command_id)
    .bind(position as i32)
    .bind(&card.bank_id)
    .bind(&card.masked_pan)
    .bind(&card.name)
    .bind(&card.currency)
    .bind(card.credit_limit)
    .execute(&mut *conn)
    .await?;
    insert_balances(conn, scope, Holding::Card(id), &card.balances).await?;
    Ok(id)
}

/// A stored account or card, by its row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holding {
    Account(Uuid),
    Card(Uuid),
}

/// Writes the receipt of an account's or card's history.
pub async fn set_receipt(
    conn: &mut PgConnection,
    scope: Scope,
    holding: Holding,
    receipt: &Receipt,
) -> Result<(), sqlx::Error> {
    let (statement, id) = match holding {
        Holding::Account(id) => (
            "update accounts set receipt = $1 where id = $2 and command_id = $3 and client_id = $4",
            id,
        ),
        Holding::Card(id) => (
            "update cards set receipt = $1 where id = $2 and command_id = $3 and client_id = $4",
            id,
        ),
    };
    sqlx::query(statement)
        .bind(Json(receipt))
        .bind(id)
        .bind(scope.command_id)
        .bind(scope.client_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes an account's or card's rows stored under `identities`: rows fetched while reading
/// its history that the history turned out not to include.
pub async fn forget_rows(
    conn: &mut PgConnection,
    scope: Scope,
    holding: Holding,
    identities: &[String],
) -> Result<(), sqlx::Error> {
    let (statement, id) = match holding {
        Holding::Account(id) => (
            "delete from transactions
             where account_id = $1 and command_id = $2 and client_id = $3
               and identity = any($4)",
            id,
        ),
        Holding::Card(id) => (
            "delete from card_transactions
             where card_id = $1 and command_id = $2 and client_id = $3
               and identity = any($4)",
            id,
        ),
    };
    sqlx::query(statement)
        .bind(id)
        .bind(scope.command_id)
        .bind(scope.client_id)
        .bind(identities)
        .execute(conn)
        .await?;
    Ok(())
}

async fn insert_balances(
    conn: &mut PgConnection,
    scope: Scope,
    of: Holding,
    balances: &[Balance],
) -> Result<(), sqlx::Error> {
    if balances.is_empty() {
        return Ok(());
    }
    let (account_id, card_id) = match of {
        Holding::Account(id) => (Some(id), None),
        Holding::Card(id) => (None, Some(id)),
    };
    let mut query = QueryBuilder::<Postgres>::new(
        "insert into balances (id, client_id, command_id, account_id, card_id, position, balance_type, amount, currency, reference_date) ",
    );
    query.push_values(
        balances.iter().enumerate(),
        |mut row, (position, balance)| {
            row.push_bind(Uuid::now_v7())
                .push_bind(scope.client_id)
                .push_bind(scope.command_id)
                .push_bind(account_id)
                .push_bind(card_id)
                .push_bind(position as i32)
                .push_bind(&balance.balance_type)
                .push_bind(balance.amount)
                .push_bind(&balance.currency)
                .push_bind(balance.reference_date);
        },
    );
    query.build().execute(conn).await?;
    Ok(())
}

/// Stores an account's transactions, each under its identity; a row whose identity is
/// already stored for the account is skipped (the first copy stored stays). One statement per
/// chunk, its columns bound as arrays (`unnest`), so Postgres parses one small statement
/// instead of thousands of values. Returns the rows written.
pub async fn insert_transactions(
    conn: &mut PgConnection,
    scope: Scope,
    account_id: Uuid,
    rows: &[(&str, &Transaction)],
) -> Result<u64, sqlx::Error> {
    let mut written = 0;
    for chunk in rows.chunks(CHUNK) {
        written += sqlx::query(
            "insert into transactions (id, client_id, command_id, account_id, identity,
                bank_transaction_id, status, booking_date, value_date, amount, currency,
                counterparty_name, counterparty_account, description, bank_transaction_code,
                balance_after)
             select r.id, $1, $2, $3, r.identity, r.bank_id, r.status, r.booking_date,
                    r.value_date, r.amount, r.currency, r.counterparty_name,
                    r.counterparty_account, r.description, r.code, r.balance_after
             from unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::date[], $9::date[],
                         $10::numeric[], $11::text[], $12::text[], $13::text[], $14::text[],
                         $15::text[], $16::numeric[])
                  as r(id, identity, bank_id, status, booking_date, value_date, amount, currency,
                       counterparty_name, counterparty_account, description, code, balance_after)
             on conflict (account_id, identity) do nothing",
        )
        .bind(scope.client_id)
        .bind(scope.command_id)
        .bind(account_id)
        .bind(new_ids(chunk))
        .bind(identities(chunk))
        .bind(column(chunk, |t| t.bank_id.as_deref()))
        .bind(column(chunk, |t| t.status.as_str()))
        .bind(column(chunk, |t| t.booking_date))
        .bind(column(chunk, |t| t.value_date))
        .bind(column(chunk, |t| t.amount))
        .bind(column(chunk, |t| t.currency.as_str()))
        .bind(column(chunk, |t| t.counterparty_name.as_deref()))
        .bind(column(chunk, |t| t.counterparty_account.as_deref()))
        .bind(column(chunk, |t| t.description.as_deref()))
        .bind(column(chunk, |t| t.bank_transaction_code.as_deref()))
        .bind(column(chunk, |t| t.balance_after))
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(written)
}

/// Stores a card's transactions, each under its identity, skipping identities already stored
/// (bound as arrays, like [`insert_transactions`]). Returns the rows written.
pub async fn insert_card_transactions(
    conn: &mut PgConnection,
    scope: Scope,
    card_id: Uuid,
    rows: &[(&str, &CardTransaction)],
) -> Result<u64, sqlx::Error> {
    let mut written = 0;
    for chunk in rows.chunks(CHUNK) {
        written += sqlx::query(
            "insert into card_transactions (id, client_id, command_id, card_id, identity,
                bank_transaction_id, status, transaction_date, booking_date, amount, currency,
                original_amount, original_currency, description, merchant_name,
                merchant_category_code)
             select r.id, $1, $2, $3, r.identity, r.bank_id, r.status, r.transaction_date,
                    r.booking_date, r.amount, r.currency, r.original_amount,
                    r.original_currency, r.description, r.merchant_name, r.mcc
             from unnest($4::uuid[], $5::text[], $6::text[], $7::text[], $8::date[], $9::date[],
                         $10::numeric[], $11::text[], $12::numeric[], $13::text[], $14::text[],
                         $15::text[], $16::text[])
                  as r(id, identity, bank_id, status, transaction_date, booking_date, amount,
                       currency, original_amount, original_currency, description,
                       merchant_name, mcc)
             on conflict (card_id, identity) do nothing",
        )
        .bind(scope.client_id)
        .bind(scope.command_id)
        .bind(card_id)
        .bind(new_ids(chunk))
        .bind(identities(chunk))
        .bind(column(chunk, |t| t.bank_id.as_deref()))
        .bind(column(chunk, |t| t.status.as_str()))
        .bind(column(chunk, |t| t.transaction_date))
        .bind(column(chunk, |t| t.booking_date))
        .bind(column(chunk, |t| t.amount))
        .bind(column(chunk, |t| t.currency.as_str()))
        .bind(column(chunk, |t| t.original_amount))
        .bind(column(chunk, |t| t.original_currency.as_deref()))
        .bind(column(chunk, |t| t.description.as_deref()))
        .bind(column(chunk, |t| t.merchant_name.as_deref()))
        .bind(column(chunk, |t| t.merchant_category_code.as_deref()))
        .execute(&mut *conn)
        .await?
        .rows_affected();
    }
    Ok(written)
}

/// One field of every row in `chunk`, as the array `unnest` reads a column from.
fn column<'a, T, V>(chunk: &[(&str, &'a T)], field: impl Fn(&'a T) -> V) -> Vec<V> {
    chunk.iter().map(|(_, row)| field(row)).collect()
}

/// The rows' identities (the key they are stored under).
fn identities<'a, T>(chunk: &[(&'a str, &T)]) -> Vec<&'a str> {
    chunk.iter().map(|(identity, _)| *identity).collect()
}

/// A fresh id for every row.
fn new_ids<T>(chunk: &[(&str, &T)]) -> Vec<Uuid> {
    chunk.iter().map(|_| Uuid::now_v7()).collect()
}

/// Everything in a result but its transactions: owners, and accounts and cards with their
/// balances and receipts. Small whatever the history's length.
#[derive(Debug, Clone, Default)]
pub struct ResultHeads {
    pub owners: Vec<OwnerView>,
    pub accounts: Vec<AccountView>,
    pub cards: Vec<CardView>,
}

/// Reads the owners, accounts, cards and balances of a command's result.
pub async fn load_heads(pool: &PgPool, scope: Scope) -> Result<ResultHeads, sqlx::Error> {
    let Scope {
        client_id,
        command_id,
    } = scope;
    let owners: Vec<OwnerView> = sqlx::query_as(
        "select name, title, kind, address, birth_date, email, phone, national_id, nationality
         from owners
         where command_id = $1 and client_id = $2 order by position",
    )
    .bind(command_id)
    .bind(client_id)
    .fetch_all(pool)
    .await?;

    let mut accounts: Vec<AccountView> = sqlx::query_as(
        "select id, bank_account_id, iban, bban, masked_pan, currency, name, product,
                account_type, status, owner_names, opened_on, valid_until, min_allowed_balance,
                max_allowed_balance, receipt
         from accounts where command_id = $1 and client_id = $2 order by position",
    )
    .bind(command_id)
    .bind(client_id)
    .fetch_all(pool)
    .await?;
    let mut cards: Vec<CardView> = sqlx::query_as(
        "select id, bank_card_id, masked_pan, name, currency, credit_limit, receipt
         from cards where command_id = $1 and client_id = $2 order by position",
    )
    .bind(command_id)
    .bind(client_id)
    .fetch_all(pool)
    .await?;

    let balances: Vec<BalanceView> = sqlx::query_as(
        "select coalesce(account_id, card_id) as owner_row, balance_type, amount, currency,
                reference_date
         from balances where command_id = $1 and client_id = $2 order by position",
    )
    .bind(command_id)
    .bind(client_id)
    .fetch_all(pool)
    .await?;
    let mut balances_of = group(balances, |b| b.owner_row);
    for account in &mut accounts {
        account.balances = balances_of.remove(&account.id).unwrap_or_default();
    }
    for card in &mut cards {
        card.balances = balances_of.remove(&card.id).unwrap_or_default();
    }
    Ok(ResultHeads {
        owners,
        accounts,
        cards,
    })
}

/// Assembles a command's whole import result in memory. The API streams results instead
/// (see `http::result_body`); this is the reference the stream is tested against.
pub async fn load(pool: &PgPool, scope: Scope) -> Result<ImportResult, sqlx::Error> {
    let ResultHeads {
        owners,
        mut accounts,
        mut cards,
    } = load_heads(pool, scope).await?;
    for account in &mut accounts {
        for status in [RowStatus::Booked, RowStatus::Pending] {
            let rows = transactions_batch(pool, scope, account.id, status, None, i64::MAX).await?;
            for row in rows {
                account.transactions.push(status.as_str(), row);
            }
        }
    }
    for card in &mut cards {
        for status in [RowStatus::Booked, RowStatus::Pending] {
            let rows =
                card_transactions_batch(pool, scope, card.id, status, None, i64::MAX).await?;
            for row in rows {
                card.transactions.push(status.as_str(), row);
            }
        }
    }
    Ok(ImportResult {
        owners,
        accounts,
        cards,
    })
}

/// A transaction's status, the first key of the reading order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RowStatus {
    Booked,
    Pending,
}

impl RowStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Booked => "booked",
            Self::Pending => "pending",
        }
    }
}

/// Where a batch of one account's (or card's) rows of one status ends: the next batch starts
/// after it. The reading order is newest first, then by identity; a row with no date at all
/// comes first (`date` is `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RowKey {
    pub date: Option<NaiveDate>,
    pub identity: String,
}

impl RowKey {
    pub fn of_transaction(row: &TransactionView) -> Self {
        Self {
            date: row.booking_date.or(row.value_date),
            identity: row.id.clone(),
        }
    }

    pub fn of_card_transaction(row: &CardTransactionView) -> Self {
        Self {
            date: row.booking_date.or(row.transaction_date),
            identity: row.id.clone(),
        }
    }
}

/// A keyset batch's two statements, from the select list and `where` clause (parent row `$1`,
/// status `$2`, scope `$3`, `$4`) and the sort date: the first batch, and a batch after the key
/// (`$5` date, `$6` identity), both limited by the last parameter.
///
/// The bound `date <= key` lets the reading-order index start its scan at the key, so reading
/// an account batch by batch costs one pass, not one pass per batch.
macro_rules! keyset_batch {
    ($select:literal, $date:literal) => {
        (
            concat!($select, " order by ", $date, " desc, identity limit $5"),
            concat!(
                $select,
                " and ",
                $date,
                " <= coalesce($5::date, 'infinity'::date) and (",
                $date,
                " < coalesce($5::date, 'infinity'::date) or identity > $6) order by ",
                $date,
                " desc, identity limit $7"
            ),
        )
    };
}

/// Up to `limit` of an account's rows with `status`, in reading order, after `after`.
pub async fn transactions_batch(
    pool: &PgPool,
    scope: Scope,
    account_id: Uuid,
    status: RowStatus,
    after: Option<&RowKey>,
    limit: i64,
) -> Result<Vec<TransactionView>, sqlx::Error> {
    let statements = keyset_batch!(
        "select account_id, identity, status, booking_date, value_date, amount, currency,
                counterparty_name, counterparty_account, description, bank_transaction_code,
                balance_after
         from transactions
         where account_id = $1 and status = $2 and command_id = $3 and client_id = $4",
        "coalesce(booking_date, value_date, 'infinity'::date)"
    );
    batch(pool, scope, account_id, status, after, limit, statements).await
}

/// Up to `limit` of a card's rows with `status`, in reading order, after `after`.
pub async fn card_transactions_batch(
    pool: &PgPool,
    scope: Scope,
    card_id: Uuid,
    status: RowStatus,
    after: Option<&RowKey>,
    limit: i64,
) -> Result<Vec<CardTransactionView>, sqlx::Error> {
    let statements = keyset_batch!(
        "select card_id, identity, status, transaction_date, booking_date, amount, currency,
                original_amount, original_currency, description, merchant_name,
                merchant_category_code
         from card_transactions
         where card_id = $1 and status = $2 and command_id = $3 and client_id = $4",
        "coalesce(booking_date, transaction_date, 'infinity'::date)"
    );
    batch(pool, scope, card_id, status, after, limit, statements).await
}

async fn batch<T>(
    pool: &PgPool,
    scope: Scope,
    parent: Uuid,
    status: RowStatus,
    after: Option<&RowKey>,
    limit: i64,
    (first, next): (&'static str, &'static str),
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> + Send + Unpin,
{
    let query = sqlx::query_as(if after.is_some() { next } else { first })
        .bind(parent)
        .bind(status.as_str())
        .bind(scope.command_id)
        .bind(scope.client_id);
    let query = match after {
        Some(key) => query.bind(key.date).bind(key.identity.as_str()),
        None => query,
    };
    query.bind(limit).fetch_all(pool).await
}

fn group<T>(rows: Vec<T>, key: impl Fn(&T) -> Uuid) -> HashMap<Uuid, Vec<T>> {
    let mut groups: HashMap<Uuid, Vec<T>> = HashMap::new();
    for row in rows {
        groups.entry(key(&row)).or_default().push(row);
    }
    groups
}

/// The row id of a command's account with the bank's id `bank_account_id`, if any.
pub async fn find_account(
    pool: &PgPool,
    scope: Scope,
    bank_account_id: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from accounts
         where command_id = $1 and client_id = $2 and bank_account_id = $3",
    )
    .bind(scope.command_id)
    .bind(scope.client_id)
    .bind(bank_account_id)
    .fetch_optional(pool)
    .await
}

/// The row id of a command's card with the bank's id `bank_card_id`, if any.
pub async fn find_card(
    pool: &PgPool,
    scope: Scope,
    bank_card_id: &str,
) -> Result<Option<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "select id from cards where command_id = $1 and client_id = $2 and bank_card_id = $3",
    )
    .bind(scope.command_id)
    .bind(scope.client_id)
    .bind(bank_card_id)
    .fetch_optional(pool)
    .await
}

/// A finished command whose rows an export covers.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExportedCommand {
    pub id: Uuid,
    pub finished_at: chrono::DateTime<chrono::Utc>,
    pub owner_external_id: String,
    pub bank_id: String,
}

/// Up to `limit` of a client's commands that present a result (their data not deleted) and
/// finished between `from` and `until` (UTC, `until` excluded), for `owner` if given, in the
/// order they finished, after the command `after`.
pub async fn exported_commands(
    pool: &PgPool,
    client_id: Uuid,
    from: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
    owner: Option<&str>,
    after: Option<(chrono::DateTime<chrono::Utc>, Uuid)>,
    limit: i64,
) -> Result<Vec<ExportedCommand>, sqlx::Error> {
    let (after_at, after_id) = after.unzip();
    sqlx::query_as(
        "select c.id, c.finished_at, s.owner_external_id, s.bank_id
         from commands c join sessions s on s.id = c.session_id and s.client_id = c.client_id
         where c.client_id = $1 and c.finished_at >= $2 and c.finished_at < $3
           -- The commands that present a result (`CommandErrorCode::keeps_result`).
           and (c.state = 'successful' or c.error_code = 'BankRateLimited')
           and c.data_deleted_at is null
           and ($4::text is null or s.owner_external_id = $4)
           and ($5::timestamptz is null or (c.finished_at, c.id) > ($5, $6))
         order by c.finished_at, c.id
         limit $7",
    )
    .bind(client_id)
    .bind(from)
    .bind(until)
    .bind(owner)
    .bind(after_at)
    .bind(after_id)
    .bind(limit)
    .fetch_all(pool)
    .await
}
