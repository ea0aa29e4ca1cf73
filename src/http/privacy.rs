//! What answers and request logs must not give away.
//!
//! - Every `/v1` answer and every sign-in API answer is `Cache-Control: no-store`: they carry
//!   bank data, sessions and their signatures, which no browser, proxy or CDN may keep.
//! - Served over https (`public_url`), every answer carries HSTS, so a browser that has once
//!   reached Aisle never again sends a sign-in capability over plain http.
//! - A request's span names its method and a path with every capability taken out: sign-in
//!   ids, callback tokens, redirection ids and bank account ids travel in paths, OAuth codes,
//!   states and legacy API keys in queries. The query is never logged.

use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::Response,
};
use tracing::Span;

/// Two years, the HSTS preload list's expectation. `includeSubDomains` is left out: Aisle may
/// be deployed under a domain whose other hosts are not ours to commit to https.
const HSTS: &str = "max-age=63072000";

/// Whether answers should carry HSTS: only when Aisle is reached over https, since a browser
/// ignores HSTS on http and a developer's `http://127.0.0.1` must not be pinned.
pub fn hsts_for(public_url: &str) -> bool {
    public_url
        .get(..8)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("https://"))
}

/// Adds `no-store` to answers that hold data or capabilities, and HSTS when `hsts`.
pub async fn protect_answers(State(hsts): State<bool>, request: Request, next: Next) -> Response {
    let holds_secrets = {
        let path = request.uri().path();
        path == "/v1" || path.starts_with("/v1/") || path.starts_with("/signin/api/")
    };
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    if holds_secrets {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if hsts {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

/// The span of one request, for `TraceLayer`: method and [`loggable_path`], never the URI.
pub fn request_span(request: &Request) -> Span {
    tracing::debug_span!(
        "request",
        method = %request.method(),
        path = %loggable_path(request.uri().path()),
    )
}

/// `path` with every segment that could be an identifier or a capability written `{…}`.
///
/// Rather than list the routes whose segments are secret, which a new route would silently
/// escape, only segments that look like route words (short, lowercase, letters, `-` and `.`)
/// or an API version (`v1`) are kept: a random token, a UUID or a bank's account id is never
/// one of them.
pub fn loggable_path(path: &str) -> String {
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| {
            let route_word = segment.len() <= 24
                && segment
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'-' || b == b'.');
            let version = segment
                .strip_prefix('v')
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
            if route_word || version {
                segment
            } else {
                "{…}"
            }
        })
        .collect();
    segments.join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_path_keeps_route_words_and_drops_every_identifier() {
        for (path, logged) in [
            ("/v1/commands/default-import", "/v1/commands/default-import"),
            (
                "/signin/s/0193b8a2-7c4e-7d51-9a0b-3c2f1e0d9c8b/go",
                "/signin/s/{…}/go",
            ),
            (
                "/signin/callback/Zm9vYmFyYmF6cXV1eHF1dXg",
                "/signin/callback/{…}",
            ),
            (
                "/v1/commands/0193b8a2-7c4e-7d51-9a0b-3c2f1e0d9c8b/accounts/DE89370400440532013000/transactions",
                "/v1/commands/{…}/accounts/{…}/transactions",
            ),
            ("/signin/assets/frame.js", "/signin/assets/frame.js"),
            ("/", "/"),
            ("/v1/command/acc1", "/v1/command/{…}"),
        ] {
            assert_eq!(loggable_path(path), logged, "{path}");
        }
    }

    #[test]
    fn hsts_is_sent_only_when_aisle_is_reached_over_https() {
        assert!(hsts_for("https://aisle.example"));
        assert!(hsts_for("HTTPS://aisle.example"));
        assert!(!hsts_for("http://127.0.0.1:8080"));
        assert!(!hsts_for("https"));
    }
}
