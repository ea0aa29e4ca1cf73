//! Who calls and with what: the API key from `X-Api-Key` (or `Authorization: Bearer`, as on
//! `/v1`), or, for clients from 2016–2018, from an `apiKey` query or form parameter; and the
//! request's parameters, from its query and its form-encoded body.

use std::collections::BTreeMap;

use axum::{
    body::to_bytes,
    extract::{FromRequest, Request},
    http::{Uri, uri::PathAndQuery},
    middleware::Next,
    response::{IntoResponse, Response},
};
use url::form_urlencoded;

use super::error::CompatError;
use crate::{
    http::auth::{authenticate, header_api_key},
    state::AppState,
    store::clients::Client,
};

/// The legacy parameter that carries the API key.
const API_KEY: &str = "apiKey";
/// A command's form body is a few short fields.
const MAX_BODY: usize = 64 * 1024;

/// An `apiKey` taken off the request's query by [`hide_legacy_api_key`].
#[derive(Clone)]
struct LegacyApiKey(String);

/// Moves an `apiKey` query parameter into the request's extensions before anything (the
/// request's trace span first of all) sees the URI, so the key never reaches a log line.
pub async fn hide_legacy_api_key(mut request: Request, next: Next) -> Response {
    let Some((key, kept)) = request.uri().query().and_then(take_api_key) else {
        return next.run(request).await;
    };
    let path = request.uri().path();
    let path_and_query = if kept.is_empty() {
        PathAndQuery::try_from(path)
    } else {
        PathAndQuery::try_from(format!("{path}?{kept}"))
    };
    let mut parts = request.uri().clone().into_parts();
    parts.path_and_query = path_and_query.ok();
    match Uri::from_parts(parts) {
        Ok(uri) => *request.uri_mut() = uri,
        Err(_) => {
            return CompatError::InvalidParameter("the request's URI is malformed".into())
                .into_response();
        }
    }
    request.extensions_mut().insert(LegacyApiKey(key));
    next.run(request).await
}

/// The first `apiKey` in `query`, and the query without any.
fn take_api_key(query: &str) -> Option<(String, String)> {
    let mut key = None;
    let mut kept = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        if name == API_KEY {
            key.get_or_insert_with(|| value.into_owned());
        } else {
            kept.append_pair(&name, &value);
        }
    }
    Some((key?, kept.finish()))
}

/// The request's parameters: its query's and its form body's, each named once.
#[derive(Debug, Default)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    fn parse(query: Option<&str>, body: &[u8]) -> Result<Self, CompatError> {
        let mut params = BTreeMap::new();
        let pairs = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .chain(form_urlencoded::parse(body));
        for (name, value) in pairs {
            if params
                .insert(name.to_string(), value.into_owned())
                .is_some()
            {
                return Err(CompatError::InvalidParameter(format!(
                    "`{name}` is given more than once"
                )));
            }
        }
        Ok(Self(params))
    }

    /// The parameter's value; a blank one counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(|value| value.trim())
            .filter(|value| !value.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, CompatError> {
        self.get(name)
            .ok_or_else(|| CompatError::InvalidParameter(format!("`{name}` is required")))
    }
}

/// An authenticated client's request with its parameters.
pub struct Caller {
    pub client: Client,
    pub params: Params,
    pub idempotency_key: Option<String>,
}

impl FromRequest<AppState> for Caller {
    type Rejection = CompatError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, CompatError> {
        let (parts, body) = request.into_parts();
        let body = to_bytes(body, MAX_BODY).await.map_err(|_| {
            CompatError::InvalidParameter(format!("the body must be under {MAX_BODY} bytes"))
        })?;
        let mut params = Params::parse(parts.uri.query(), &body)?;
        let form_key = params.0.remove(API_KEY);
        let api_key = header_api_key(&parts.headers)
            .or_else(|| {
                parts
                    .extensions
                    .get::<LegacyApiKey>()
                    .map(|key| key.0.as_str())
            })
            .or(form_key.as_deref());
        let client = authenticate(&parts, state, api_key).await?;
        let idempotency_key = match parts.headers.get("idempotency-key") {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .ok()
                    .filter(|key| (1..=255).contains(&key.len()))
                    .ok_or_else(|| {
                        CompatError::InvalidParameter(
                            "Idempotency-Key must be 1 to 255 visible ASCII characters".into(),
                        )
                    })?
                    .to_string(),
            ),
        };
        Ok(Self {
            client,
            params,
            idempotency_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_and_form_parameters_are_read_together_and_blank_ones_are_absent() {
        let params = Params::parse(Some("a=1&blank=+"), b"sessionId=x%20y&since=").unwrap();
        assert_eq!(params.get("a"), Some("1"));
        assert_eq!(params.get("sessionId"), Some("x y"));
        assert_eq!(params.get("since"), None);
        assert_eq!(params.get("blank"), None);
        assert!(matches!(
            params.required("since"),
            Err(CompatError::InvalidParameter(_))
        ));
    }

    #[test]
    fn an_api_key_is_taken_off_the_query_and_the_rest_kept() {
        assert_eq!(
            take_api_key("sessionId=a%20b&apiKey=secret&x=1"),
            Some(("secret".into(), "sessionId=a+b&x=1".into()))
        );
        assert_eq!(take_api_key("sessionId=a"), None);
    }

    #[test]
    fn a_parameter_given_twice_is_refused() {
        assert!(matches!(
            Params::parse(Some("sessionId=a"), b"sessionId=b"),
            Err(CompatError::InvalidParameter(_))
        ));
    }
}
