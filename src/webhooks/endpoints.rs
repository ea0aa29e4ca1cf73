//! Registering a webhook endpoint: where it may point, and its secret.

use sqlx::PgPool;
use url::{Host, Url};
use uuid::Uuid;

use super::{EventType, guard, signing::SigningSecret};
use crate::{
    sealing::SecretSealer,
    store::webhooks::{self, Endpoint, NewEndpoint},
};

/// The most endpoints one client may have: each event is sent to every one of them.
pub const MAX_ENDPOINTS_PER_CLIENT: usize = 20;
const MAX_URL_LEN: usize = 2048;

/// A URL deliveries may be sent to: `https`, or plain `http` to a loopback host where private
/// destinations are allowed (the dev stack). With private destinations refused, a URL naming
/// such an address is refused here already; one whose name resolves to such an address is
/// refused at each delivery, where it is resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    #[error("url: {0}")]
    InvalidUrl(String),
    #[error("events: name at least one of {}", known_events())]
    NoEvents,
    #[error("a client may have at most {MAX_ENDPOINTS_PER_CLIENT} webhook endpoints")]
    TooMany,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

fn known_events() -> String {
    EventType::ALL.map(EventType::as_str).join(", ")
}

impl WebhookUrl {
    pub fn parse(raw: &str, allow_private: bool) -> Result<Self, EndpointError> {
        let invalid = |why: &str| EndpointError::InvalidUrl(why.to_string());
        if raw.len() > MAX_URL_LEN {
            return Err(invalid("longer than 2048 characters"));
        }
        let url = Url::parse(raw.trim()).map_err(|e| EndpointError::InvalidUrl(e.to_string()))?;
        if !url.username().is_empty() || url.password().is_some() {
            return Err(invalid("credentials in the URL are not allowed"));
        }
        if url.fragment().is_some() {
            return Err(invalid("a fragment is never sent; remove it"));
        }
        let host = url.host().ok_or_else(|| invalid("no host"))?;
        let loopback = match &host {
            Host::Domain(domain) => domain.eq_ignore_ascii_case("localhost"),
            Host::Ipv4(ip) => ip.is_loopback(),
            Host::Ipv6(ip) => ip.is_loopback(),
        };
        match url.scheme() {
            "https" => {}
            "http" if allow_private && loopback => {}
            _ => return Err(invalid("must be https")),
        }
        if !allow_private {
            let literal = match host {
                Host::Ipv4(ip) => Some(ip.into()),
                Host::Ipv6(ip) => Some(ip.into()),
                Host::Domain(_) => None,
            };
            if let Some(reason) = literal.and_then(guard::refusal) {
                return Err(EndpointError::InvalidUrl(format!("names {reason}")));
            }
            if loopback {
                return Err(EndpointError::InvalidUrl(format!(
                    "names {}",
                    guard::Refusal::Loopback
                )));
            }
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// An endpoint just registered, with its secret: the only time the secret is shown.
pub struct Registered {
    pub endpoint: Endpoint,
    pub secret: SigningSecret,
}

/// Registers an endpoint for the client, with a fresh secret stored sealed.
pub async fn register(
    pool: &PgPool,
    sealer: &SecretSealer,
    client_id: Uuid,
    url: &WebhookUrl,
    events: &[EventType],
) -> Result<Registered, EndpointError> {
    let mut events = events.to_vec();
    events.sort();
    events.dedup();
    if events.is_empty() {
        return Err(EndpointError::NoEvents);
    }
    // Counted before the insert, not under a lock: two racing registrations may pass one
    // over the limit, which only bounds fan-out and needs no exactness.
    if webhooks::endpoints_for_client(pool, client_id).await?.len() >= MAX_ENDPOINTS_PER_CLIENT {
        return Err(EndpointError::TooMany);
    }
    let id = Uuid::now_v7();
    let secret = SigningSecret::generate();
    let sealed = sealer.seal(&secret.expose(), id.as_bytes());
    let endpoint = webhooks::insert_endpoint(
        pool,
        &NewEndpoint {
            id,
            client_id,
            url: url.as_str(),
            events: &events,
            secret_sealed: &sealed,
        },
    )
    .await?;
    tracing::info!(client_id = %client_id, endpoint_id = %id, "webhook endpoint registered");
    Ok(Registered { endpoint, secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str, allow_private: bool) -> String {
        match WebhookUrl::parse(raw, allow_private) {
            Err(e) => e.to_string(),
            Ok(url) => panic!("{raw} was accepted as {}", url.as_str()),
        }
    }

    #[test]
    fn an_https_url_to_a_public_host_is_accepted() {
        let url = WebhookUrl::parse("https://hooks.shop.example/aisle?x=1", false).unwrap();
        assert_eq!(url.as_str(), "https://hooks.shop.example/aisle?x=1");
    }

    #[test]
    fn plain_http_is_refused_except_to_loopback_where_private_destinations_are_allowed() {
        assert!(refused("http://hooks.shop.example/", false).contains("https"));
        assert!(refused("http://hooks.shop.example/", true).contains("https"));
        assert!(refused("http://127.0.0.1:9000/", false).contains("https"));
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/hook", true).is_ok());
        assert!(WebhookUrl::parse("http://localhost:9000/hook", true).is_ok());
        assert!(WebhookUrl::parse("http://[::1]:9000/hook", true).is_ok());
    }

    #[test]
    fn a_url_naming_a_refused_address_is_refused_at_registration() {
        for (raw, why) in [
            ("https://127.0.0.1/", "loopback"),
            ("https://localhost/", "loopback"),
            ("https://[::1]/", "loopback"),
            ("https://10.0.0.1/", "private"),
            ("https://192.168.0.10/", "private"),
            ("https://[fd00::1]/", "private"),
            ("https://169.254.169.254/", "link-local"),
            ("https://[fe80::1]/", "link-local"),
            ("https://0.0.0.0/", "unspecified"),
            ("https://239.0.0.1/", "multicast"),
            ("https://[::ffff:10.0.0.1]/", "private"),
        ] {
            assert!(refused(raw, false).contains(why), "{raw}");
        }
        assert!(WebhookUrl::parse("https://10.0.0.1/", true).is_ok());
    }

    #[test]
    fn credentials_fragments_and_other_schemes_are_refused() {
        assert!(refused("https://user:pw@hooks.shop.example/", false).contains("credentials"));
        assert!(refused("https://hooks.shop.example/#x", false).contains("fragment"));
        assert!(refused("ftp://hooks.shop.example/", false).contains("https"));
        assert!(refused("not a url", false).starts_with("url:"));
    }
}
