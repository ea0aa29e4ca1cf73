//! HTTP to the Account Service: its endpoints, the client credentials every call carries, and
//! reading answers whatever their status.

use aisle_sdk::ConnectorError;
use aisle_sdk::http::{self, Answer, Secret};
use reqwest::RequestBuilder;
use serde::Serialize;
use url::Url;

/// The service's root and Aisle's client credentials there.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    base: Url,
    http: reqwest::Client,
    client_id: String,
    /// The secret half of Aisle's client credentials at the bank.
    client_secret: Secret,
    max_body_bytes: usize,
}

impl ServiceClient {
    pub fn new(
        base: Url,
        http: reqwest::Client,
        client_id: String,
        client_secret: Secret,
        max_body_bytes: usize,
    ) -> Self {
        Self {
            base,
            http,
            client_id,
            client_secret,
            max_body_bytes,
        }
    }

    /// `{base}/{operation}`.
    fn endpoint(&self, operation: &str) -> Result<Url, ConnectorError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                ConnectorError::protocol(
                    "the bank's base URL cannot hold a path",
                    self.base.as_str(),
                )
            })?
            .pop_if_empty()
            .push(operation);
        Ok(url)
    }

    /// `GET {operation}?{query}`.
    pub async fn get(
        &self,
        operation: &str,
        query: &[(&str, &str)],
    ) -> Result<Answer, ConnectorError> {
        let mut url = self.endpoint(operation)?;
        url.query_pairs_mut().extend_pairs(query);
        self.send(self.http.get(url)).await
    }

    /// `POST {operation}` with a JSON body. Identifiers of people and accounts travel in
    /// bodies, never in URLs, where proxies and access logs would keep them.
    pub async fn post(
        &self,
        operation: &str,
        body: &impl Serialize,
    ) -> Result<Answer, ConnectorError> {
        let url = self.endpoint(operation)?;
        self.send(self.http.post(url).json(body)).await
    }

    async fn send(&self, builder: RequestBuilder) -> Result<Answer, ConnectorError> {
        let builder = builder
            .header("X-Client-Id", &self.client_id)
            .header("X-Client-Secret", self.client_secret.header_value()?);
        // Reading the answer drops the URL from any error: a query may hold the customer's CIF.
        http::send(http::standard_headers(builder), self.max_body_bytes).await
    }
}
