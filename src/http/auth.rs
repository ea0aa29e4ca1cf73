//! Client authentication: an API key as `Authorization: Bearer` or `X-Api-Key`, from an address
//! in the client's allowlist.

use std::net::{IpAddr, SocketAddr};

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
    let client = clients::find_by_api_key(&state.pool, api_key)
        .await?
        .ok_or(AuthError::Unauthorized)?;
    let ip = client_ip(parts, state).ok_or(AuthError::NoPeerAddress)?;
    if !client.allows(ip) {
        tracing::info!(client_id = %client.id, %ip, "request from an address outside the allowlist");
        return Err(AuthError::IpNotAllowed);
    }
    Ok(client)
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
