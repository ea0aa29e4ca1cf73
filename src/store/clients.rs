//! Clients: the businesses that call the API, their API key hashes, IP allowlists, and where
//! their owners may sign in from (widget origins) and return to (redirect URIs).

use ipnet::IpNet;
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use uuid::Uuid;

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
    pub fn allows(&self, ip: std::net::IpAddr) -> bool {
        self.allowed_ips.is_empty() || self.allowed_ips.iter().any(|net| net.contains(&ip))
    }
}

/// Makes a client with a fresh API key. The key is returned once; only its hash is stored.
pub async fn create(
    pool: &PgPool,
    name: &str,
    allowed_ips: &[IpNet],
) -> Result<(Client, String), sqlx::Error> {
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let api_key = format!("aisle_sk_{}", hex::encode(secret));
    let client = sqlx::query_as(concat!(
        "insert into clients (id, name, api_key_hash, allowed_ips) values ($1, $2, $3, $4)
         returning ",
        client_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(name)
    .bind(api_key_hash(&api_key).as_slice())
    .bind(allowed_ips)
    .fetch_one(pool)
    .await?;
    Ok((client, api_key))
}

/// The client whose API key this is, if any.
pub async fn find_by_api_key(pool: &PgPool, api_key: &str) -> Result<Option<Client>, sqlx::Error> {
    sqlx::query_as(concat!(
        "select ",
        client_columns!(),
        " from clients where api_key_hash = $1"
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

/// API keys are 256-bit random values, so a plain SHA-256 is enough (no password hashing).
pub fn api_key_hash(api_key: &str) -> [u8; 32] {
    Sha256::digest(api_key.as_bytes()).into()
}
