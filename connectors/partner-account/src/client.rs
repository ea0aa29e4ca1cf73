//! HTTP to the partner API: the one URL it has, the token every call carries, and reading
//! answers whatever their status.

use aisle_sdk::ConnectorError;
use aisle_sdk::http::{self, Answer, Secret};
use chrono::{FixedOffset, Offset, Utc};
use url::Url;

/// What the partner API needs on every call besides the account.
#[derive(Debug, Clone)]
pub struct PartnerClient {
    base: Url,
    http: reqwest::Client,
    /// The token the bank issued to Aisle as a partner (`X-Auth-Token`); it authenticates
    /// every call.
    token: Secret,
    partner_reference: String,
    program_code: String,
    local_offset: FixedOffset,
    max_body_bytes: usize,
}

impl PartnerClient {
    pub fn new(
        base: Url,
        http: reqwest::Client,
        token: Secret,
        partner_reference: String,
        program_code: String,
        max_body_bytes: usize,
    ) -> Self {
        Self {
            base,
            http,
            token,
            partner_reference,
            program_code,
            local_offset: Utc.fix(),
            max_body_bytes,
        }
    }

    pub fn set_local_offset(&mut self, offset: FixedOffset) {
        self.local_offset = offset;
    }

    /// `{base}/account/{accno}`, the account number percent-encoded as one path segment so
    /// whatever the owner typed cannot change the path.
    fn account_url(&self, accno: &str) -> Result<Url, ConnectorError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| {
                ConnectorError::protocol(
                    "the bank's base URL cannot hold a path",
                    self.base.as_str(),
                )
            })?
            .pop_if_empty()
            .extend(["account", accno]);
        Ok(url)
    }

    /// `GET /account/{accno}`: the one call of the API (Get Account Information v1.5).
    pub async fn get_account(
        &self,
        accno: &str,
        accno_type: &str,
    ) -> Result<Answer, ConnectorError> {
        let mut url = self.account_url(accno)?;
        // The partner's wall clock, as the API wants to log when the partner asked.
        let now = Utc::now().with_timezone(&self.local_offset);
        url.query_pairs_mut()
            .append_pair("partnerReference", &self.partner_reference)
            .append_pair("programCode", &self.program_code)
            .append_pair("accnoType", accno_type)
            .append_pair("localDate", &now.format("%Y%m%d").to_string())
            .append_pair("localTime", &now.format("%H%M%S").to_string());
        let builder = self
            .http
            .get(url)
            .header("X-Auth-Token", self.token.header_value()?);
        // Reading the answer drops the URL from any error: it holds the account number.
        http::send(http::standard_headers(builder), self.max_body_bytes).await
    }
}
