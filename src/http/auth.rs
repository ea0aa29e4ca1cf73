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
        let api_key = api_key(&parts.headers).ok_or(ApiError::Unauthorized)?;
        let client = clients::find_by_api_key(&state.pool, api_key)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let ip = client_ip(parts, state.config.trust_forwarded_for).ok_or_else(|| {
            ApiError::internal(std::io::Error::other("no peer address on the request"))
        })?;
        if !client.allows(ip) {
            tracing::info!(client_id = %client.id, %ip, "request from an address outside the allowlist");
            return Err(ApiError::IpNotAllowed);
        }
        Ok(Self(client))
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
        Ok(Self(client_ip(parts, state.config.trust_forwarded_for)))
    }
}

fn api_key(headers: &HeaderMap) -> Option<&str> {
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

/// The caller's address: the peer's, or the proxy's `X-Forwarded-For` when trusted.
fn client_ip(parts: &Parts, trust_forwarded_for: bool) -> Option<IpAddr> {
    if trust_forwarded_for
        && let Some(ip) = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return Some(ip);
    }
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())
}
