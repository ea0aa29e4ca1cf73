//! The OAuth2 SCA approach: the bank's `scaOAuth` link names its authorisation server's
//! metadata (RFC 8414); the owner authorises `AIS:{consentId}` there with the
//! authorisation-code flow and PKCE (RFC 6749 section 4.1, RFC 7636); the token goes with
//! every AIS call and is revoked at the end (RFC 7009).

use aisle_sdk::ConnectorError;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use reqwest::{Method, RequestBuilder, StatusCode};
use sha2::{Digest, Sha256};
use url::Url;

use crate::client::{BankClient, parse};
use crate::errors::{self, Request, classify_oauth};
use crate::state::OAuthPending;
use crate::wire::{ServerMetadata, TokenResponse};

const WELL_KNOWN: &str = "/.well-known/oauth-authorization-server";

/// `n` bytes from the thread's CSPRNG, base64url without padding.
fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The PKCE S256 challenge of `verifier` (RFC 7636 section 4.2).
pub fn code_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Reads the authorisation server's metadata at `metadata_url` (the `scaOAuth` link).
pub async fn metadata(
    client: &BankClient,
    metadata_url: Url,
) -> Result<ServerMetadata, ConnectorError> {
    let answer = client
        .send(
            client.request(Method::GET, metadata_url.clone()),
            Request::Other,
        )
        .await?;
    let metadata: ServerMetadata = parse(&answer.body)?;
    check_issuer(&metadata_url, metadata.issuer.as_deref())?;
    Ok(metadata)
}

/// RFC 8414 section 3.3: the `issuer` must be the one the metadata URL was built from, or a
/// server could pass off another's endpoints. Banks build the URL both ways: the suffix
/// form of the spec's example (`https://bank/oauth/.well-known/...`) and RFC 8414's own
/// insertion form (`https://bank/.well-known/.../oauth`). A link without the well-known
/// segment names no issuer to compare with.
pub fn check_issuer(metadata_url: &Url, issuer: Option<&str>) -> Result<(), ConnectorError> {
    let Some(issuer) = issuer else {
        return Ok(());
    };
    let origin = metadata_url.origin().ascii_serialization();
    let path = metadata_url.path();
    let expected = if let Some(prefix) = path.strip_suffix(WELL_KNOWN) {
        format!("{origin}{prefix}")
    } else if let Some(rest) = path.strip_prefix(WELL_KNOWN) {
        format!("{origin}{rest}")
    } else {
        return Ok(());
    };
    if issuer.trim_end_matches('/') == expected.trim_end_matches('/') {
        Ok(())
    } else {
        Err(errors::protocol(
            "the authorisation server's issuer does not match its metadata URL",
            issuer,
        ))
    }
}

/// The authorisation request to send the owner to, and what completing it needs.
pub struct Authorisation {
    pub url: Url,
    pub pending: OAuthPending,
}

/// Builds the authorisation request for consent `consent_id`.
pub fn authorisation(
    metadata: &ServerMetadata,
    client_id: &str,
    consent_id: &str,
    redirect_uri: &str,
) -> Result<Authorisation, ConnectorError> {
    let mut url = endpoint("authorisation", &metadata.authorization_endpoint)?;
    let token_endpoint = endpoint("token", &metadata.token_endpoint)?;
    let revocation_endpoint = metadata
        .revocation_endpoint
        .as_deref()
        .map(|raw| endpoint("revocation", raw))
        .transpose()?;
    if !metadata.code_challenge_methods_supported.is_empty()
        && !metadata
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
    {
        // Sent anyway: a server ignores parameters it does not know, and S256 is the only
        // method worth sending. Said here so a failing bank is easier to diagnose.
        tracing::info!("the authorisation server does not list PKCE S256");
    }
    // 32 random bytes make the 43-character verifier RFC 7636 recommends.
    let code_verifier = random_token(32);
    let state = random_token(16);
    url.query_pairs_mut()
        .append_pair("response_type", "code")
        .append_pair("client_id", client_id)
        .append_pair("scope", &format!("AIS:{consent_id}"))
        .append_pair("state", &state)
        .append_pair("redirect_uri", redirect_uri)
        .append_pair("code_challenge", &code_challenge(&code_verifier))
        .append_pair("code_challenge_method", "S256");
    Ok(Authorisation {
        url,
        pending: OAuthPending {
            state,
            code_verifier,
            redirect_uri: redirect_uri.to_owned(),
            token_endpoint: token_endpoint.to_string(),
            revocation_endpoint: revocation_endpoint.map(|u| u.to_string()),
        },
    })
}

/// The `kind` endpoint the metadata names, which must be a URL.
fn endpoint(kind: &str, raw: &str) -> Result<Url, ConnectorError> {
    Url::parse(raw)
        .map_err(|e| errors::protocol(format!("the {kind} endpoint is not a URL: {e}"), raw))
}

/// Compares the callback's `state` with ours in constant time.
pub fn state_matches(expected: &str, received: &str) -> bool {
    expected.len() == received.len()
        && expected
            .bytes()
            .zip(received.bytes())
            .fold(0u8, |diff, (a, b)| diff | (a ^ b))
            == 0
}

/// Exchanges the authorisation `code` for an access token.
pub async fn exchange_code(
    client: &BankClient,
    pending: &OAuthPending,
    client_id: Option<&str>,
    code: &str,
) -> Result<String, ConnectorError> {
    let url = Url::parse(&pending.token_endpoint)
        .map_err(|e| errors::protocol(format!("the token endpoint is not a URL: {e}"), ""))?;
    let form = vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", pending.redirect_uri.as_str()),
        ("code_verifier", pending.code_verifier.as_str()),
    ];
    let answer = client
        .send_raw(form_post(client, url, form, client_id))
        .await?;
    if !answer.status.is_success() {
        return Err(classify_oauth(
            answer.status,
            answer.retry_after.as_deref(),
            &answer.body,
        ));
    }
    read_token(&answer.body)
}

/// The access token of a token endpoint's success answer.
pub fn read_token(body: &str) -> Result<String, ConnectorError> {
    // No snippet of this body, ever: it holds the token.
    let token: TokenResponse = serde_json::from_str(body).map_err(|e| {
        ConnectorError::protocol(
            format!(
                "unreadable token response ({:?} at column {})",
                e.classify(),
                e.column()
            ),
            "",
        )
    })?;
    match token.token_type.as_deref() {
        None => {}
        Some(kind) if kind.eq_ignore_ascii_case("bearer") => {}
        Some(kind) => {
            return Err(errors::protocol(
                format!("the token is of type {kind}, not Bearer"),
                "",
            ));
        }
    }
    if token.access_token.trim().is_empty() {
        return Err(ConnectorError::protocol(
            "the token response has no token",
            "",
        ));
    }
    Ok(token.access_token)
}

/// A POST of `form` to an endpoint of the authorisation server, with the TPP's `client_id`
/// when it has one there.
fn form_post<'a>(
    client: &BankClient,
    url: Url,
    mut form: Vec<(&'a str, &'a str)>,
    client_id: Option<&'a str>,
) -> RequestBuilder {
    if let Some(id) = client_id {
        form.push(("client_id", id));
    }
    client.request(Method::POST, url).form(&form)
}

/// Revokes `token` at `endpoint` (RFC 7009). A server that cannot revoke access tokens
/// (`unsupported_token_type`) leaves it to expire: the consent is deleted anyway.
pub async fn revoke(
    client: &BankClient,
    endpoint: &str,
    client_id: Option<&str>,
    token: &str,
) -> Result<(), ConnectorError> {
    let url = Url::parse(endpoint)
        .map_err(|e| errors::protocol(format!("the revocation endpoint is not a URL: {e}"), ""))?;
    let form = vec![("token", token), ("token_type_hint", "access_token")];
    let answer = client
        .send_raw(form_post(client, url, form, client_id))
        .await?;
    if answer.status.is_success() {
        return Ok(());
    }
    if answer.status == StatusCode::BAD_REQUEST && answer.body.contains("unsupported_token_type") {
        return Ok(());
    }
    Err(classify_oauth(
        answer.status,
        answer.retry_after.as_deref(),
        &answer.body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_challenge_matches_rfc_7636_appendix_b() {
        assert_eq!(
            code_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }

    #[test]
    fn verifiers_are_long_enough_and_never_repeat() {
        let (a, b) = (random_token(32), random_token(32));
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }

    fn url(text: &str) -> Url {
        Url::parse(text).expect("url")
    }

    #[test]
    fn the_issuer_must_match_the_metadata_url_in_either_form() {
        let suffix = url("https://bank.example/oauth/.well-known/oauth-authorization-server");
        assert!(check_issuer(&suffix, Some("https://bank.example/oauth")).is_ok());
        assert!(check_issuer(&suffix, Some("https://evil.example/oauth")).is_err());
        let inserted = url("https://bank.example/.well-known/oauth-authorization-server/tenant");
        assert!(check_issuer(&inserted, Some("https://bank.example/tenant")).is_ok());
        let plain = url("https://bank.example/oauth-config");
        assert!(check_issuer(&plain, Some("https://anything.example")).is_ok());
    }

    #[test]
    fn states_are_compared_whole() {
        assert!(state_matches("abc", "abc"));
        assert!(!state_matches("abc", "abd"));
        assert!(!state_matches("abc", "ab"));
    }
}
