//! Clients: the businesses that call the API, their API keys (hashes only; several per client,
//! so a key can rotate), IP allowlists, and where their owners may sign in from (widget
//! origins) and return to (redirect URIs).

use chrono::{DateTime, Utc};
use ipnet::IpNet;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use crate::model::input::AutoImportMonths;

/// A client as the API sees it after authentication.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Client {
    pub id: Uuid,
    pub name: String,
    /// Empty means any address may call.
    pub allowed_ips: Vec<IpNet>,
    /// Origins allowed to embed the widget, exactly as a browser writes them.
    pub widget_origins: Vec<String>,
    /// URIs a redirection may return the owner to, in normal form.
    pub redirect_uris: Vec<String>,
}

/// The client columns (a macro so `concat!` keeps queries literal).
macro_rules! client_columns {
    () => {
        "id, name, allowed_ips, widget_origins, redirect_uris"
    };
}

impl Client {
    /// Whether `ip` may call as this client; IPv4-mapped IPv6 forms match their IPv4 entries.
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        self.allowed_ips.is_empty() || crate::client_addr::is_within(ip, &self.allowed_ips)
    }
}

/// Makes a client with a fresh API key. The key is returned once; only its hash is stored.
pub async fn create(
    pool: &PgPool,
    name: &str,
    allowed_ips: &[IpNet],
) -> Result<(Client, String), sqlx::Error> {
    let mut tx = pool.begin().await?;
    let client: Client = sqlx::query_as(concat!(
        "insert into clients (id, name, allowed_ips) values ($1, $2, $3) returning ",
        client_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(allowed_ips)
    .fetch_one(&mut *tx)
    .await?;
    let (_, api_key) = insert_api_key(&mut tx, client.id).await?;
    tx.commit().await?;
    Ok((client, api_key))
}

/// The client whose API key this is, if the key exists and is not revoked.
pub async fn find_by_api_key(pool: &PgPool, api_key: &str) -> Result<Option<Client>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        client_columns!(),
        " from clients where id = (
             select client_id from api_keys where key_hash = $1 and revoked_at is null)"
    ))
    .bind(api_key_hash(api_key).as_slice())
    .fetch_optional(pool)
    .await
}

/// The client with this id, if any.
pub async fn find(pool: &PgPool, id: Uuid) -> Result<Option<Client>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        client_columns!(),
        " from clients where id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Replaces where the client's owners may sign in from and return to. The values must already
/// be in normal form ([`crate::signin::origins`]). False when there is no such client.
pub async fn register_signin_places(
    pool: &PgPool,
    id: Uuid,
    widget_origins: &[String],
    redirect_uris: &[String],
) -> Result<bool, sqlx::Error> {
    let updated =
        sqlx::query("update clients set widget_origins = $2, redirect_uris = $3 where id = $1")
            .bind(id)
            .bind(widget_origins)
            .bind(redirect_uris)
            .execute(pool)
            .await?;
    Ok(updated.rows_affected() == 1)
}

/// The months of history the client's auto import fetches; `None` when it is off (or there is
/// no such client). Takes a pool or a transaction's connection.
pub async fn auto_import_months(
    db: impl sqlx::PgExecutor<'_>,
    client_id: Uuid,
) -> Result<Option<AutoImportMonths>, sqlx::Error> {
    let months: Option<Option<AutoImportMonths>> =
        sqlx::query_scalar("select auto_import_months from clients where id = $1")
            .bind(client_id)
            .fetch_optional(db)
            .await?;
    Ok(months.flatten())
}

/// Turns the client's auto import on with `months` of history, or off with `None`. Sign-ins
/// opened from then on follow it; those already open keep what they opened with. False when
/// there is no such client.
pub async fn set_auto_import(
    pool: &PgPool,
    client_id: Uuid,
    months: Option<AutoImportMonths>,
) -> Result<bool, sqlx::Error> {
    let updated = sqlx::query("update clients set auto_import_months = $2 where id = $1")
        .bind(client_id)
        .bind(months)
        .execute(pool)
        .await?;
    Ok(updated.rows_affected() == 1)
}

/// One of a client's API keys as an operator sees it: never the key itself.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyInfo {
    pub id: Uuid,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// Gives the client another API key, beside those it holds: callers move to the new key, then
/// the old one is revoked, with no moment when neither works. `None` if there is no such client.
pub async fn issue_api_key(
    pool: &PgPool,
    client_id: Uuid,
) -> Result<Option<(Uuid, String)>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let exists: Option<Uuid> = sqlx::query_scalar("select id from clients where id = $1")
        .bind(client_id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let issued = insert_api_key(&mut tx, client_id).await?;
    tx.commit().await?;
    Ok(Some(issued))
}

/// Revokes the client's key `key_id`: it stops working at once (within the API's key cache
/// lifetime, where there is one). Revoking a client's last key is allowed: a leaked key must
/// be stoppable before its replacement is deployed. Whether this call revoked it; a key of
/// another client is never touched.
pub async fn revoke_api_key(
    pool: &PgPool,
    client_id: Uuid,
    key_id: Uuid,
) -> Result<bool, sqlx::Error> {
    let revoked = sqlx::query(
        "update api_keys set revoked_at = now()
         where id = $1 and client_id = $2 and revoked_at is null",
    )
    .bind(key_id)
    .bind(client_id)
    .execute(pool)
    .await?;
    Ok(revoked.rows_affected() == 1)
}

/// The client's keys, revoked ones included, oldest first.
pub async fn api_keys(pool: &PgPool, client_id: Uuid) -> Result<Vec<ApiKeyInfo>, sqlx::Error> {
    sqlx::query_as(
        "select id, created_at, revoked_at from api_keys where client_id = $1
         order by created_at, id",
    )
    .bind(client_id)
    .fetch_all(pool)
    .await
}

async fn insert_api_key(
    conn: &mut PgConnection,
    client_id: Uuid,
) -> Result<(Uuid, String), sqlx::Error> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let api_key = format!("aisle_sk_{}", hex::encode(secret));
    let id = Uuid::now_v7();
    sqlx::query("insert into api_keys (id, client_id, key_hash) values ($1, $2, $3)")
        .bind(id)
        .bind(client_id)
        .bind(api_key_hash(&api_key).as_slice())
        .execute(conn)
        .await?;
    Ok((id, api_key))
}

/// API keys are 256-bit random values, so a plain SHA-256 is enough (no password hashing).
pub fn api_key_hash(api_key: &str) -> [u8; 32] {
    Sha256::digest(api_key.as_bytes()).into()
}
