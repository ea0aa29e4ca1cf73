//! What a client may register: the origins its pages embed the widget from, and the URIs a
//! redirection may send the owner back to. Both are matched exactly, never by prefix, and plain
//! `http` is accepted only for this machine (development).

use url::{Host, Url};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OriginError {
    #[error("`{0}` is not an absolute URL")]
    NotAUrl(String),
    #[error("`{0}` must use https (http only for localhost)")]
    Insecure(String),
    #[error("`{0}` must be an origin only: scheme, host and port, no path, query or user")]
    NotAnOrigin(String),
    #[error("`{0}` must not carry a fragment or user information")]
    BadRedirectUri(String),
}

/// `https://shop.example:8443` as the browser writes `event.origin` and `location.origin`.
pub fn widget_origin(raw: &str) -> Result<String, OriginError> {
    let url = secure_url(raw)?;
    if url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || raw.trim_end_matches('/') != url.origin().ascii_serialization()
    {
        return Err(OriginError::NotAnOrigin(raw.into()));
    }
    Ok(url.origin().ascii_serialization())
}

/// A redirect URI in its normal form, which is what registration stores and requests match.
pub fn redirect_uri(raw: &str) -> Result<String, OriginError> {
    let url = secure_url(raw)?;
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err(OriginError::BadRedirectUri(raw.into()));
    }
    Ok(url.to_string())
}

fn secure_url(raw: &str) -> Result<Url, OriginError> {
    let url = Url::parse(raw.trim()).map_err(|_| OriginError::NotAUrl(raw.into()))?;
    let loopback = match url.host() {
        Some(Host::Domain(domain)) => domain == "localhost",
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(OriginError::NotAUrl(raw.into())),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        _ => Err(OriginError::Insecure(raw.into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_origin_is_scheme_host_and_port_only() {
        assert_eq!(
            widget_origin("https://shop.example").unwrap(),
            "https://shop.example"
        );
        assert_eq!(
            widget_origin("https://shop.example:8443/").unwrap(),
            "https://shop.example:8443"
        );
        assert_eq!(
            widget_origin("http://127.0.0.1:8070").unwrap(),
            "http://127.0.0.1:8070"
        );
        for bad in [
            "https://shop.example/page",
            "https://shop.example?x=1",
            "https://user@shop.example",
            "http://shop.example",
            "shop.example",
            "*",
        ] {
            assert!(widget_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_redirect_uri_is_absolute_secure_and_without_a_fragment() {
        assert_eq!(
            redirect_uri("https://shop.example/back?x=1").unwrap(),
            "https://shop.example/back?x=1"
        );
        assert_eq!(
            redirect_uri("https://SHOP.example").unwrap(),
            "https://shop.example/"
        );
        for bad in [
            "https://shop.example/back#frag",
            "http://shop.example/back",
            "javascript:alert(1)",
            "/back",
            "https://a:b@shop.example/",
        ] {
            assert!(redirect_uri(bad).is_err(), "{bad}");
        }
    }
}
