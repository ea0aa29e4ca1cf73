//! Client authentication: an API key as `Authorization: Bearer` or `X-Api-Key`, from an address
//! in the client's allowlist.
//!
//! Keys are checked against the database at most once per `api_key_cache_ttl` (default 30 s)
//! per key and process: a client polling every few seconds costs one lookup in that time, not
//! one per poll. A revoked key, a deleted client or a changed allowlist takes effect within
//! the TTL; a TTL of 0 checks every request.

use std::{
    collections::HashMap,
    net::{IpAddr, SocketAddr},
    sync::Mutex,
    time::{Duration, Instant},
};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};

use super::error::ApiError;
use crate::{
    state::AppState,
    store::clients::{self, Client},
};

/// The client making the request, authenticated and allowed from its address.
pub struct Authenticated(pub Client);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let client = authenticate(parts, state, header_api_key(&parts.headers))
            .await
            .map_err(|e| match e {
                AuthError::Unauthorized => ApiError::Unauthorized,
                AuthError::IpNotAllowed => ApiError::IpNotAllowed,
                AuthError::Database(db) => db.into(),
                AuthError::NoPeerAddress => ApiError::internal(e),
            })?;
        Ok(Self(client))
    }
}

/// Why a request is not a client's.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("a valid API key is required")]
    Unauthorized,
    #[error("requests from this address are not allowed for this client")]
    IpNotAllowed,
    #[error("no peer address on the request")]
    NoPeerAddress,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// The client whose key `api_key` is, if the request comes from an address it allows. Other
/// faces of the API (the Kontomatik-compatible one) find the key elsewhere and call this.
pub async fn authenticate(
    parts: &Parts,
    state: &AppState,
    api_key: Option<&str>,
) -> Result<Client, AuthError> {
    let api_key = api_key
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or(AuthError::Unauthorized)?;
    let client = state
        .api_keys
        .client(&state.pool, api_key)
        .await?
        .ok_or(AuthError::Unauthorized)?;
    let ip = client_ip(parts, state).ok_or(AuthError::NoPeerAddress)?;
    if !client.allows(ip) {
        tracing::info!(client_id = %client.id, %ip, "request from an address outside the allowlist");
        return Err(AuthError::IpNotAllowed);
    }
    Ok(client)
}

/// Clients recently found by their API key, keyed by the key's hash so that no key is kept in
/// memory longer than its request. Only keys that were found are kept: random keys cannot
/// fill the cache, and a key just issued works at once.
pub struct ApiKeyCache {
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], (Instant, Client)>>,
}

/// Beyond this many keys the cache is swept of expired entries, then emptied if still full.
const MAX_CACHED_KEYS: usize = 10_000;

impl ApiKeyCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The client whose key this is, from the cache while its entry is younger than the TTL.
    pub async fn client(
        &self,
        pool: &sqlx::PgPool,
        api_key: &str,
    ) -> Result<Option<Client>, sqlx::Error> {
        let hash = clients::api_key_hash(api_key);
        if let Some(client) = self.cached(&hash) {
            return Ok(Some(client));
        }
        let found = clients::find_by_api_key(pool, api_key).await?;
        if let Some(client) = &found
            && !self.ttl.is_zero()
        {
            self.keep(hash, client.clone());
        }
        Ok(found)
    }

    fn cached(&self, hash: &[u8; 32]) -> Option<Client> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(hash)
            .filter(|(at, _)| at.elapsed() < self.ttl)
            .map(|(_, client)| client.clone())
    }

    fn keep(&self, hash: [u8; 32], client: Client) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_CACHED_KEYS {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
            if entries.len() >= MAX_CACHED_KEYS {
                entries.clear();
            }
        }
        entries.insert(hash, (Instant::now(), client));
    }
}

/// The caller's address, where it is known (the owner's browser, on the sign-in pages).
pub struct CallerIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for CallerIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(parts, state)))
    }
}

/// The key in `Authorization: Bearer` or `X-Api-Key`.
pub fn header_api_key(headers: &HeaderMap) -> Option<&str> {
    // Auth scheme names are case-insensitive (RFC 9110, section 11.1).
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim_start().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, key)| key);
    bearer
        .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()))
        .map(str::trim)
        .filter(|key| !key.is_empty())
}

/// The caller's address, behind the configured trusted proxies (see [`crate::client_addr`]).
fn client_ip(parts: &Parts, state: &AppState) -> Option<IpAddr> {
    let ConnectInfo(peer) = parts.extensions.get::<ConnectInfo<SocketAddr>>()?;
    Some(crate::client_addr::client_addr(
        peer.ip(),
        &parts.headers,
        &state.config.trusted_proxies,
    ))
}
