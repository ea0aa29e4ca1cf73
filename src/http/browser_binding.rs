//! The cookie that binds a bank attempt to one browser (see `signin::binding`).
//!
//! First-party, set by a top-level page of Aisle's own (the widget's bank window at `/go`, a
//! redirection's page), `HttpOnly` (no script reads it) and `SameSite=Lax` (sent on the
//! bank's top-level redirect back to the callback, never on a cross-site subrequest). Served
//! over https it is `__Host-` prefixed, which the browser accepts only `Secure`, without
//! `Domain` and with `Path=/`: no other host of the domain and no plain-http page can plant
//! or overwrite it. For a developer's `http://localhost` it is scoped to `/signin`.
//!
//! One cookie per attempt, named after its key's hash, so an owner with two sign-ins open at
//! once (two tabs) keeps both.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};
use sha2::{Digest, Sha256};

use crate::signin::binding::BrowserKey;

const NAME: &str = "aisle-signin-";
/// The browser's own guarantee that a cookie was set by this host over https.
const HOST_PREFIX: &str = "__Host-";

/// How the cookie is set, from `public_url`.
#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub https: bool,
}

impl CookiePolicy {
    pub fn for_public_url(public_url: &str) -> Self {
        Self {
            https: super::privacy::hsts_for(public_url),
        }
    }

    fn prefix(self) -> &'static str {
        if self.https { HOST_PREFIX } else { "" }
    }

    /// The `Set-Cookie` value that gives this browser `key` for `lifetime`.
    pub fn set_cookie(self, key: &BrowserKey, lifetime: chrono::Duration) -> Option<HeaderValue> {
        let suffix = hex::encode(&Sha256::digest(key.expose().as_bytes())[..4]);
        let max_age = cookie::time::Duration::seconds(lifetime.num_seconds().max(60));
        let cookie = Cookie::build((format!("{}{NAME}{suffix}", self.prefix()), key.expose()))
            .http_only(true)
            .secure(self.https)
            .same_site(SameSite::Lax)
            .path(if self.https { "/" } else { "/signin" })
            .max_age(max_age)
            .build();
        // The key is hex: nothing in it needs encoding.
        HeaderValue::from_str(&cookie.to_string()).ok()
    }

    /// Whether the request carries the binding cookie whose key hashes to `browser_hash`.
    pub fn presented(self, headers: &HeaderMap, browser_hash: &[u8]) -> bool {
        let name = format!("{}{NAME}", self.prefix());
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|cookie| cookie.name().starts_with(&name))
            .any(|cookie| BrowserKey::from_presented(cookie.value()).hash() == browser_hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_with(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(cookie).unwrap());
        headers
    }

    #[test]
    fn over_https_the_cookie_is_host_prefixed_secure_http_only_and_lax() {
        let key = BrowserKey::generate();
        let set = CookiePolicy { https: true }
            .set_cookie(&key, chrono::Duration::minutes(30))
            .unwrap();
        let set = set.to_str().unwrap();
        assert!(set.starts_with("__Host-aisle-signin-"), "{set}");
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=1800",
        ] {
            assert!(set.contains(attribute), "{attribute} in {set}");
        }
        assert!(!set.contains("Domain"), "{set}");
    }

    #[test]
    fn only_the_cookie_holding_the_bound_key_is_accepted() {
        let policy = CookiePolicy { https: false };
        let key = BrowserKey::generate();
        let set = policy
            .set_cookie(&key, chrono::Duration::minutes(30))
            .unwrap();
        let pair = set.to_str().unwrap().split(';').next().unwrap().to_string();
        assert!(pair.starts_with("aisle-signin-"), "{pair}");
        let other = BrowserKey::generate();
        let presented = request_with(&format!("theme=dark; {pair}"));
        assert!(policy.presented(&presented, &key.hash()));
        assert!(!policy.presented(&presented, &other.hash()));
        assert!(!policy.presented(&HeaderMap::new(), &key.hash()));
        // The same key under a name without the prefix the policy requires does not count.
        let https = CookiePolicy { https: true };
        assert!(!https.presented(&presented, &key.hash()));
    }
}
