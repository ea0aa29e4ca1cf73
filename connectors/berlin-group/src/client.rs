//! HTTP to one Berlin Group bank: URLs, the headers every call carries, and turning answers
//! into typed bodies or classified errors.

use aisle_sdk::{ConnectorError, http};
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::de::DeserializeOwned;
use url::Url;

use crate::errors::{self, Request};
use crate::state::SessionSecret;

/// A bank's API root and the shared HTTP client.
#[derive(Debug, Clone)]
pub struct BankClient {
    base: Url,
    http: reqwest::Client,
    max_body_bytes: usize,
}

/// A bank's answer, body read.
pub struct Answer {
    pub status: StatusCode,
    /// The raw `Retry-After` header.
    pub retry_after: Option<String>,
    /// The `ASPSP-SCA-Approach` header: how the bank has fixed the SCA approach, if it has.
    pub sca_approach: Option<String>,
    pub body: String,
}

impl Answer {
    /// This answer as a classified error.
    pub fn error(&self, kind: Request) -> ConnectorError {
        errors::classify(self.status, self.retry_after.as_deref(), &self.body, kind)
    }
}

impl BankClient {
    pub fn new(base: Url, http: reqwest::Client, max_body_bytes: usize) -> Self {
        Self {
            base,
            http,
            max_body_bytes,
        }
    }

    /// The API URL for path `segments` under the bank's base URL; each segment is
    /// percent-encoded, so opaque bank ids cannot change the path.
    pub fn endpoint(&self, segments: &[&str]) -> Result<Url, ConnectorError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                errors::protocol("the bank's base URL cannot hold a path", self.base.as_str())
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }

    /// Resolves a link the bank gave (absolute, or relative to its API root).
    pub fn resolve_link(&self, href: &str) -> Result<Url, ConnectorError> {
        if let Ok(absolute) = Url::parse(href) {
            return Ok(absolute);
        }
        let base_path = self.base.path().trim_end_matches('/');
        // "/v1/accounts/..." is relative to the API root, which may sit under a prefix
        // ("https://bank/xs2a"); a link that already carries the prefix is left alone.
        let path = if let Some(rooted) = href.strip_prefix('/') {
            if base_path.is_empty() || href.starts_with(&format!("{base_path}/")) {
                href.to_owned()
            } else {
                format!("{base_path}/{rooted}")
            }
        } else {
            format!("{base_path}/{href}")
        };
        self.base
            .join(&path)
            .map_err(|e| errors::protocol(format!("the bank sent an unusable link: {e}"), href))
    }

    /// Resolves a link to another API call. The consent travels with such calls, so a link
    /// to another host is refused rather than followed.
    pub fn resolve_api_link(&self, href: &str) -> Result<Url, ConnectorError> {
        let url = self.resolve_link(href)?;
        if url.origin() != self.base.origin() {
            return Err(errors::protocol(
                "the bank linked an API call to another host",
                href,
            ));
        }
        Ok(url)
    }

    /// A request carrying a fresh `X-Request-ID` (the spec wants one per request, so a retry
    /// is a new request to the bank too).
    pub fn request(&self, method: Method, url: Url) -> RequestBuilder {
        http::standard_headers(self.http.request(method, url))
    }

    /// A request under the session's consent: `Consent-ID` on AIS reads (`consent_header`),
    /// and the OAuth2 access token, when the bank issued one, on every call.
    pub fn consented(
        &self,
        method: Method,
        url: Url,
        secret: &SessionSecret,
        consent_header: bool,
    ) -> RequestBuilder {
        let mut builder = self.request(method, url);
        if consent_header {
            builder = builder.header("Consent-ID", &secret.consent_id);
        }
        match &secret.access_token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    /// Sends `builder` and reads the whole answer, whatever its status. A failure to reach
    /// the bank leaves the URL out of the error: it can hold a consent id
    /// (`/v1/consents/{id}`), and the error is logged.
    pub async fn send_raw(&self, builder: RequestBuilder) -> Result<Answer, ConnectorError> {
        let http::Answer {
            status,
            retry_after,
            headers,
            body,
        } = http::send(builder, self.max_body_bytes).await?;
        let sca_approach = headers
            .get("ASPSP-SCA-Approach")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_ascii_uppercase());
        Ok(Answer {
            status,
            retry_after,
            sca_approach,
            body,
        })
    }

    /// Sends `builder`; a non-success answer becomes a classified error.
    pub async fn send(
        &self,
        builder: RequestBuilder,
        kind: Request,
    ) -> Result<Answer, ConnectorError> {
        let answer = self.send_raw(builder).await?;
        if answer.status.is_success() {
            Ok(answer)
        } else {
            tracing::debug!(status = %answer.status, "the bank answered with an error");
            Err(answer.error(kind))
        }
    }

    /// GETs an AIS resource under the session's consent and parses its body.
    pub async fn get<T: DeserializeOwned>(
        &self,
        url: Url,
        secret: &SessionSecret,
        kind: Request,
    ) -> Result<T, ConnectorError> {
        let answer = self
            .send(self.consented(Method::GET, url, secret, true), kind)
            .await?;
        parse(&answer.body)
    }
}

/// Adds the headers that tell the bank who the owner is, when known: `PSU-ID` (their login)
/// and `PSU-IP-Address` (only while they are present, which is also what keeps a read from
/// counting against the consent's `frequencyPerDay`).
pub fn with_psu(
    mut builder: RequestBuilder,
    psu_id: Option<&str>,
    psu_ip_address: Option<&str>,
) -> RequestBuilder {
    if let Some(id) = psu_id {
        builder = builder.header("PSU-ID", id);
    }
    if let Some(ip) = psu_ip_address {
        builder = builder.header("PSU-IP-Address", ip);
    }
    builder
}

/// Parses a success body; anything that does not fit is a protocol error, never a panic.
pub fn parse<T: DeserializeOwned>(body: &str) -> Result<T, ConnectorError> {
    serde_json::from_str(body).map_err(|e| {
        // serde may quote a value of the body in its message, so it is blanked like the body.
        let reason = crate::snippet::redacted(&e.to_string());
        errors::protocol(format!("unexpected response body: {reason}"), body)
    })
}
